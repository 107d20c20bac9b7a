"""The figures command: every file, valid PNGs, numbers read from results, deterministic bytes."""

import struct
from pathlib import Path

import numpy as np
import pytest

from dualmaxent import load_dataset, verify
from dualmaxent.cli import main
from dualmaxent.figures import FIGURES, fig_balance_equations, fig_glm_families, \
    fig_logit_sigmoid, fig_primal_dual_agreement, FAMILY_DATA

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature."""
    head = Path(path).read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["figures", "--out", str(out)])
    return code, out, buf.getvalue()


def test_figures_command_writes_every_figure(rendered):
    code, out, printed = rendered
    assert code == 0
    assert len(FIGURES) == 9
    for name in FIGURES:
        path = out / f"{name}.png"
        assert path.exists(), f"{name}.png was not written"
        assert str(path) in printed, f"{name}.png was not announced"
        width, height = png_size(path)
        # readable at README width: about 800-1000 px wide, not a sliver, not a poster
        assert 700 <= width <= 1400, (name, width)
        assert 250 <= height <= 1200, (name, height)
        assert path.stat().st_size > 20_000, f"{name}.png looks empty"
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.png" for n in FIGURES)


def test_only_option_and_unknown_name(tmp_path, capsys):
    assert main(["figures", "--out", str(tmp_path), "--only", "logit_sigmoid"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["logit_sigmoid.png"]
    assert main(["figures", "--out", str(tmp_path), "--only", "nonsense"]) == 2
    assert "unknown figure 'nonsense'" in capsys.readouterr().err


def test_agreement_figure_shows_the_certificate(tmp_path):
    """The numbers the figure annotates are verify's, not recomputed ones."""
    out = fig_primal_dual_agreement(tmp_path)
    assert Path(out).exists()
    cert = verify(load_dataset("blobs"))
    for key in ("relative_gap", "duality_gap", "p_agreement", "theta_agreement",
                "balance_residual", "entropy", "neg_loglik"):
        assert out.numbers[key] == pytest.approx(getattr(cert, key), rel=1e-6, abs=0), key
    assert out.numbers["ok"] is cert.ok is True


def test_family_figure_shows_each_certificate(tmp_path):
    out = fig_glm_families(tmp_path)
    assert set(out.numbers) == set(FAMILY_DATA)
    for family, make in FAMILY_DATA.items():
        cert = verify(make())
        shown = out.numbers[family]
        assert shown["duality_gap"] == pytest.approx(cert.duality_gap, rel=1e-6, abs=0), family
        assert shown["relative_gap"] == pytest.approx(cert.relative_gap, rel=1e-6, abs=0), family
        assert shown["ok"] is cert.ok


def test_balance_figure_row_sums_are_the_balance_equations(tmp_path):
    out = fig_balance_equations(tmp_path)
    np.testing.assert_allclose(out.numbers["model_row_sums"], out.numbers["train_row_sums"],
                               atol=1e-8)
    assert out.numbers["relative_gap"] < 1e-6


@pytest.mark.parametrize("figure", [fig_logit_sigmoid, fig_balance_equations])
def test_rendering_is_deterministic(tmp_path, figure):
    first = Path(figure(tmp_path / "a")).read_bytes()
    second = Path(figure(tmp_path / "b")).read_bytes()
    assert first == second
