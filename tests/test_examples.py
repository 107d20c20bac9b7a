"""Every example runs (fast mode) as ``python examples/NAME.py``, exits 0 and prints a verdict."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
REQUIRED = ("binary_logistic", "multinomial_blobs", "separable_iris", "regularization",
            "poisson_counts", "gaussian_least_squares", "gauge_freedom", "the_notes")


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
