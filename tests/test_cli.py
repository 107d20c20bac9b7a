"""The command line: exit codes, the certificate, JSON keys, one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from dualmaxent.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_on_the_default_data_prints_a_certificate_and_exits_0(capsys):
    code, out, err = run(capsys, "verify")
    assert code == 0
    for text in ("entropy H(P*)", "-l(theta*)", "duality gap", "balance residual",
                 "dual gradient", "status optimal", "verdict: OK"):
        assert text in out


def test_json_has_the_documented_keys(capsys):
    code, out, _ = run(capsys, "verify", "blobs", "--json")
    doc = json.loads(out)
    assert code == 0
    assert set(doc["dataset"]) >= {"name", "n", "m", "k", "classes", "feature_names"}
    assert set(doc["primal"]) >= {"solver", "status", "entropy", "solve_seconds"}
    assert set(doc["dual"]) >= {"method", "converged", "iterations", "loglik", "neg_loglik",
                                "grad_norm", "theta", "solve_seconds"}
    assert set(doc["certificate"]) >= {"duality_gap", "relative_gap", "balance_residual",
                                       "simplex_residual", "dual_gradient", "p_agreement",
                                       "theta_agreement", "tol", "ok"}
    theta = np.array(doc["dual"]["theta"])
    assert theta.shape == (doc["dataset"]["m"], doc["dataset"]["k"])
    assert np.all(theta[:, -1] == 0)
    assert doc["dataset"]["feature_names"][-1] == "intercept"
    assert doc["dual"]["neg_loglik"] == pytest.approx(doc["primal"]["entropy"], rel=1e-8)


def test_a_csv_with_options(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = np.where(X[:, 0] + rng.normal(size=80) > 0, "yes", "no")
    lines = ["f1,f2,f3,label"] + [f"{a:.5f},{b:.5f},{c:.5f},{t}" for (a, b, c), t in zip(X, y)]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, "verify", str(path), "--target", "label", "--features", "f1,f3",
                       "--method", "lbfgs", "--json")
    doc = json.loads(out)
    assert code == 0, doc["certificate"]["messages"]
    assert doc["dataset"]["feature_names"] == ["f1", "f3", "intercept"]
    assert doc["dual"]["method"] == "lbfgs"
    code, out, _ = run(capsys, "verify", str(path), "--no-intercept", "--json")
    assert json.loads(out)["dataset"]["feature_names"] == ["f1", "f2", "f3"]


BAD = {
    "missing.csv": (None, [], "no such file"),
    "empty.csv": ("", [], "is empty"),
    "header.csv": ("a,b,label\n", [], "no data rows"),
    "onerow.csv": ("a,label\n1,x\n", [], "at least two observations"),
    "text.csv": ("a,b,label\n1,2,x\n2,oops,y\n", [], "column 'b' must be numeric"),
    "nan.csv": ("a,b,label\n1,2,x\n2,nan,y\n3,4,x\n", [], "column 'b' must be finite"),
    "inf.csv": ("a,b,label\n1,inf,x\n2,3,y\n", [], "column 'b' must be finite"),
    "blank.csv": ("a,b,label\n1,,x\n2,3,y\n", [], "column 'b' must be finite"),
    "single.csv": ("a,label\n1,x\n2,x\n3,x\n", [], "single class"),
    "target.csv": ("a,label\n1,x\n2,y\n", ["--target", "nope"], "unknown target column 'nope'"),
    "feature.csv": ("a,label\n1,x\n2,y\n", ["--features", "a,zz"], "unknown feature column 'zz'"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_gets_one_line_and_exit_code_2(tmp_path, capsys, name):
    content, extra, message = BAD[name]
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, "verify", str(path), *extra)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("dualmaxent: error:")
    if content is not None:
        assert path.read_text() == content  # nothing the user gave is modified


@pytest.mark.parametrize("argv, message", [
    (["verify", "--tol", "-1"], "expected a positive number"),
    (["verify", "--method", "magic"], "invalid choice"),
    (["verify", "--solver", "NOPE"], "solver 'NOPE' is not installed"),
    (["verify", "--l1", "1", "--l2", "1"], "not allowed with argument"),
    (["frobnicate"], "invalid choice"),
    (["verify", "no-such-data"], "neither a built-in data set (blobs, iris) nor an existing file"),
])
def test_bad_usage_gets_exit_code_2(capsys, argv, message):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_the_installed_command_prints_no_traceback(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,label\n1,x\nnot-a-number,y\n")
    proc = subprocess.run([sys.executable, "-m", "dualmaxent.cli", "verify", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"dualmaxent: error: {path}: column 'a' must be numeric; "
                                   "line 3 holds 'not-a-number'")


def test_primal_option_says_which_primal_ran_and_why(capsys):
    code, out, _ = run(capsys, "verify", "iris", "--primal", "projected", "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["primal"] == {"solver": "projected", "reason": "asked for (primal='projected')"}
    assert doc["dataset"]["rank"] == 5
    c = doc["certificate"]
    assert c["upper_bound"] - c["lower_bound"] == pytest.approx(c["duality_gap"], abs=1e-12)
    assert c["p_agreement"] is None and c["theta_agreement"] is None  # no CVXPY: no agreement
    assert doc["projected"]["in_domain"] is True
    code, out, _ = run(capsys, "verify", "blobs", "--json")
    doc = json.loads(out)
    assert doc["primal"]["solver"] == "CLARABEL" and doc["primal"]["reason"].startswith("auto")
    assert doc["primal"]["status"] == "optimal"
    code, out, _ = run(capsys, "verify", "blobs", "--primal", "projected")
    assert code == 0 and "primal  projected" in out and "status optimal" not in out


def test_unknown_primal_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--primal", "mosek"])
    assert exc.value.code == 2
    assert "invalid choice: 'mosek'" in capsys.readouterr().err


def test_rank_deficient_csv_names_the_dependency(tmp_path, capsys):
    rng = np.random.default_rng(1)
    g = rng.integers(0, 3, 120)
    rows = ["a,b,c,y"] + [",".join(str(int(v)) for v in np.eye(3)[gi]) + f",{int(gi > 0)}"
                          for gi in g]
    path = tmp_path / "levels.csv"
    path.write_text("\n".join(rows) + "\n")
    code, out, _ = run(capsys, "verify", str(path), "--family", "bernoulli")
    assert code == 0, out
    assert "rank 3" in out and "note: the columns of X are linearly dependent" in out
    assert "c = intercept - a - b" in out
