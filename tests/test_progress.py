"""Progress on a terminal only: nothing with --json or when standard error is not a terminal."""

from __future__ import annotations

import io

from dualmaxent import progress, solve_dual
from dualmaxent.cli import main

from _factories import overlapping


def test_bars_are_off_by_default_and_off_for_json(capsys, monkeypatch):
    assert not progress.enabled()
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    main(["verify", "blobs", "--json"])
    assert not progress.enabled()
    assert capsys.readouterr().err == ""


def test_a_long_dual_advances_its_bar_once_per_iteration(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(progress, "DELAY", 0.0)
    import tqdm

    real = tqdm.tqdm
    monkeypatch.setattr(tqdm, "tqdm", lambda *a, **k: real(*a, file=stream, mininterval=0, **k))
    progress.enable(True)
    try:
        fit = solve_dual(overlapping(n=300, k=3), method="gradient", tol=1e-5)
    finally:
        progress.enable(False)
    text = stream.getvalue()
    assert "dual (gradient, n=300)" in text and "relative gradient" in text
    assert f"{fit.iterations + 1}it" in text  # one update per recorded iteration
