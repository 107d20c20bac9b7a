"""Input a new user would try: a CSV on standard input, non-integer numbers as the target with
the default family, and features too large for float64 arithmetic."""

import io
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from dualmaxent import Dataset, verify
from dualmaxent.cli import main
from dualmaxent.exceptions import DataError, ScaleWarning, TargetWarning


def _csv(X, y, names=("f1", "f2")):
    lines = [",".join([*names, "y"])]
    lines += [",".join(f"{v:.17g}" for v in row) + f",{t}" for row, t in zip(X, y)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def overlapping():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=120) > 0).astype(int)
    return X, y


def test_a_csv_on_standard_input(overlapping, tmp_path):
    X, y = overlapping
    text = _csv(X, y)
    piped = subprocess.run([sys.executable, "-m", "dualmaxent.cli", "verify", "-", "--json"],
                           input=text, capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    path = tmp_path / "same.csv"
    path.write_text(text)
    from_file = subprocess.run([sys.executable, "-m", "dualmaxent.cli", "verify", str(path),
                                "--json"], capture_output=True, text=True)
    doc, ref = json.loads(piped.stdout), json.loads(from_file.stdout)
    assert doc["dataset"]["name"] == "stdin" and doc["dataset"]["n"] == len(y)
    assert doc["dual"]["theta"] == ref["dual"]["theta"]


def test_bad_standard_input_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["verify", "-"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dualmaxent: error:") and "is empty" in err and err.count("\n") == 1


def test_non_integer_targets_warn_with_the_count_and_the_gaussian_suggestion(overlapping):
    X, _ = overlapping
    values = np.round(X[:, 0] * 3, 1) + 0.05  # 0.05, 1.75, ...: measurements, not labels
    distinct = len(np.unique(values))
    with pytest.warns(TargetWarning, match=f"the target has {distinct} distinct non-integer "
                      "values, each taken as a class; they look continuous: for a regression "
                      "use family='gaussian'"):
        Dataset.from_arrays(X, values)
    with pytest.warns(TargetWarning) as record:  # two values: maybe a coding of two classes
        Dataset.from_arrays(X, np.where(values > 0, 0.5, 1.5))
    assert "2 distinct" in str(record[0].message) and "gaussian" not in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # integers, and the gaussian family: no warning
        Dataset.from_arrays(X, (values > 0).astype(float))
        Dataset.from_arrays(X, values, family="gaussian")


def test_the_cli_prints_the_target_warning_on_stderr_as_one_line(overlapping, tmp_path, capsys):
    X, _ = overlapping
    y = np.array([0.5, 1.7, 2.2])[np.arange(len(X)) % 3]
    path = tmp_path / "measured.csv"
    path.write_text(_csv(X, y))
    main(["verify", str(path), "--json"])
    out, err = capsys.readouterr()
    assert err == ("dualmaxent: warning: the target has 3 distinct non-integer values, each taken"
                   " as a class; they look continuous: for a regression use family='gaussian' "
                   "(--family gaussian)\n")
    assert json.loads(out)["dataset"]["k"] == 3
    assert main(["verify", str(path), "--family", "gaussian", "--json"]) == 0
    assert capsys.readouterr().err == ""


def test_features_too_large_for_float64_are_refused_naming_the_scale(overlapping, tmp_path):
    X, y = overlapping
    big = X * np.array([1.0, 1e200])
    with pytest.raises(DataError, match="the features' scale is the cause: column 'x2' reaches "
                       r"\d\.\de\+200 .* standardise it") as info:
        Dataset.from_arrays(big, y)
    assert "\n" not in str(info.value)
    path = tmp_path / "big.csv"
    path.write_text(_csv(big, y))
    proc = subprocess.run([sys.executable, "-m", "dualmaxent.cli", "verify", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "the features' scale is the cause: column 'f2'" in proc.stderr


def test_features_of_very_different_sizes_warn_before_any_solver_runs(overlapping):
    X, y = overlapping
    with pytest.warns(ScaleWarning, match="the features' scales differ by a factor 1e\\+12 "
                      "\\(column 'x2' against 'intercept'\\).*standardising the features helps"):
        Dataset.from_arrays(X * np.array([1.0, 1e-12]), y)
    # a factor 1e6 is no trouble: no warning, a certificate, and rescaling a feature rescales
    # its row of theta inversely
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScaleWarning)
        scaled = verify(Dataset.from_arrays(X * np.array([1.0, 1e6]), y))
    unit = verify(Dataset.from_arrays(X, y))
    assert unit.ok and scaled.ok, scaled.messages
    np.testing.assert_allclose(scaled.dual.theta[1] * 1e6, unit.dual.theta[1], rtol=1e-8)
