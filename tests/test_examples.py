"""Every example runs (fast mode) as ``python examples/NAME.py``, exits 0 and prints a verdict."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
REQUIRED = ("binary_logistic", "multinomial_blobs", "separable_iris", "regularization",
            "poisson_counts", "gaussian_least_squares", "gauge_freedom", "the_notes",
            "text_classification")


def test_the_required_examples_exist():
    present = {p.stem for p in EXAMPLES.glob("*.py")}
    assert set(REQUIRED) <= present


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs(script, tmp_path):
    env = dict(os.environ, DUALMAXENT_FAST="1", MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "verdict: OK" in proc.stdout, proc.stdout[-2000:]
    assert "Interpretation:" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_text_example_prints_only_tight_boxes(capsys):
    """Each word the text example prints under a topic has a nonzero coefficient there and a
    tight L1 box, ``|X^T (P - Y)| = lambda`` to the certificate's tolerance, and its printed
    observed and expected masses are ``X^T Y`` and ``X^T P``: all recomputed here from the
    fitted pipeline, with scikit-learn's transform and predict_proba."""
    import re
    import runpy

    pytest.importorskip("sklearn")
    ns = runpy.run_path(str(EXAMPLES / "text_classification.py"))
    out = capsys.readouterr().out
    pipe, texts, topics = ns["pipeline"], ns["texts"], ns["topics"]
    clf = pipe["maxent"]
    classes, vocab = list(clf.classes_), list(pipe["tfidf"].get_feature_names_out())
    X = pipe["tfidf"].transform(texts)
    Y = (np.asarray(topics)[:, None] == clf.classes_[None, :]).astype(float)
    observed, expected = X.T @ Y, X.T @ pipe.predict_proba(texts)
    lam = 1.0 / clf.C
    scale = 1.0 + max(np.abs(observed).max(), Y.sum(axis=0).max())  # the intercept's row too
    tol = clf.certificate_.tol * scale
    row = re.compile(r"\s+(\S+)\s+(-?\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+)\s+([+-]\d+\.\d+)")
    printed = {c: 0 for c in range(len(classes))}
    c = None
    for line in out.splitlines():
        head = re.match(r"topic (\w+): ", line)
        if head and head[1] in classes:
            c = classes.index(head[1])
        hit = row.fullmatch(line)
        if hit and c is not None:
            w = vocab.index(hit[1])
            printed[c] += 1
            assert clf.coef_[c, w] != 0, (classes[c], hit[1])
            assert abs(abs(expected[w, c] - observed[w, c]) - lam) <= tol, (classes[c], hit[1])
            assert float(hit[3]) == pytest.approx(observed[w, c], abs=1e-4)
            assert float(hit[4]) == pytest.approx(expected[w, c], abs=1e-4)
    for c, count in printed.items():
        assert count == min(ns["TOP"], np.count_nonzero(clf.coef_[c])), classes[c]
