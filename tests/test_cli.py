"""The command line: exit codes, the certificate, JSON keys, one-line errors."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dualmaxent.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def row_value(out, label):
    """The first number printed after ``label`` at the start of a row of the certificate."""
    for line in out.splitlines():
        text = line.strip()
        if text.startswith(label + " "):
            return float(text[len(label):].split()[0].rstrip(","))
    raise AssertionError(f"no row {label!r} in\n{out}")


def test_verify_on_the_default_data_prints_a_certificate_and_exits_0(capsys):
    code, out, err = run(capsys, "verify")
    assert code == 0
    for text in ("dual objective = -l(theta)", "primal objective = entropy H(P~)",
                 "lower bound = entropy H(P~)", "upper bound = -l(theta)", "theta is within",
                 "duality gap", "balance residual", "simplex residual", "dual gradient",
                 "status optimal", "gauge pivot", "primal objective = entropy H(P*)",
                 "verdict: OK"):
        assert text in out
    assert "mu~" not in out and "mu*" not in out  # P~ and P* for a class table
    # the smallest entry is the smallest entry, beside the domain check: the checker's P~ is
    # P(theta) moved by a Newton step of the size of the dual gradient, so it matches
    # min softmax(X theta) to the certificate's tolerance
    from dualmaxent import load_dataset

    code, js, _ = run(capsys, "verify", "--json")
    doc = json.loads(js)
    ds = load_dataset("blobs")
    eta = ds.X @ np.array(doc["theta"]["values"])
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    smallest = row_value(out, "smallest entry")
    assert 0 < smallest == pytest.approx(P.min(), abs=doc["certificate"]["tol"])
    assert "smallest entry" in out and "(all entries >= 0)" in out
    # the report takes the first class as the reference (statsmodels' MNLogit, R): its rows
    # are not printed, the other classes' are the contrasts against it
    assert "coefficients (against the reference class 'a')" in out
    assert "intercept[a]" not in out and "x1[b]" in out and "intercept[c]" in out


def test_l2_puts_the_quantity_equal_to_the_dual_beside_the_bounds(capsys):
    """Under L2 the bounds are the relaxed objective and the dual objective; the entropy is a
    line of its own, and every number is recomputed from the printed theta or its parts."""
    from dualmaxent import load_dataset

    code, out, _ = run(capsys, "verify", "blobs", "--l2", "10")
    assert code == 0, out
    code, js, _ = run(capsys, "verify", "blobs", "--l2", "10", "--json")
    doc = json.loads(js)
    ds = load_dataset("blobs")
    theta = np.array(doc["theta"]["values"])
    eta = ds.X @ theta
    loglik = float(np.sum(ds.Y * eta) - np.sum(np.logaddexp.reduce(eta, axis=1)))
    penalty = 10 / 2 * float(np.sum(theta[:-1] ** 2))  # every row but the intercept (last)
    roundoff = doc["certificate"]["roundoff"]
    nats = 1e-10 + roundoff  # the 10 decimals printed, and the sums' round-off
    assert row_value(out, "-l(theta)") == pytest.approx(-loglik, abs=nats)
    assert row_value(out, "penalty lam/2 |theta_R|^2") == pytest.approx(penalty, abs=nats)
    dual = row_value(out, "dual objective -l(theta) + penalty")
    assert dual == pytest.approx(-loglik + penalty, abs=nats)
    entropy = row_value(out, "entropy H(P~)")
    charge = row_value(out, "charge |s|^2 / (2 lam)")
    relaxed = row_value(out, "relaxed objective H(P~) - |s|^2 / (2 lam)")
    assert relaxed == pytest.approx(entropy - charge, abs=3e-10)
    lower = row_value(out, "lower bound = relaxed objective at P~")
    upper = row_value(out, "upper bound = -l(theta) + penalty")
    assert lower == relaxed and upper == dual
    assert abs(upper - lower) <= doc["certificate"]["duality_gap"] + roundoff + 2e-10
    # the entropy alone is not the optimum: it exceeds both bounds by the charge
    assert charge > 1.0 and entropy - upper == pytest.approx(charge, abs=3e-10)
    gap = doc["certificate"]["duality_gap"]
    if gap < 0:
        assert f"within round-off {roundoff:.1e}" in out
    else:
        assert f"round-off budget {roundoff:.1e}" in out
    assert "entropy H(P*)" in out and "relaxed objective H(P*) - |s|^2 / (2 lam)" in out
    # the penalised rows are free in every class, printed as they are (the reference class's
    # too); the unpenalised intercept is a contrast against the first class
    assert "x1[a]" in out and "x2[c]" in out and "intercept[a]" not in out
    rows = {ln.split()[0]: float(ln.split()[1]) for ln in out.splitlines()
            if ln.startswith("          ") and ln.split()[0].endswith("]")}
    assert rows["x1[a]"] == pytest.approx(theta[0, 0], abs=5e-5)  # printed to 4 decimals
    assert rows["intercept[c]"] == pytest.approx(theta[-1, 2] - theta[-1, 0], abs=5e-5)
    assert "the penalised rows are free in every class" in out


def test_separated_data_name_the_supremum_not_a_maximiser(capsys):
    code, out, _ = run(capsys, "verify", "iris")
    assert code == 0
    upper = next(ln for ln in out.splitlines() if ln.strip().startswith("upper bound"))
    assert "theta*" not in upper and ">= -sup l" in upper
    assert "OPT = max primal = -sup l, the likelihood's supremum" in out
    assert "optimum attained                           no" in out
    assert "against the reference class 'setosa'" in out


@pytest.mark.parametrize("family", ["poisson", "gaussian"])
def test_one_parameter_families_print_only_their_lines_and_explain_h(tmp_path, capsys, family):
    from scipy.special import gammaln

    rng = np.random.default_rng(5)
    X = np.round(rng.normal(size=(150, 2)), 6)  # exactly as the CSV holds them
    eta = 0.4 * X[:, 0] - 0.3 * X[:, 1] + 0.5
    y = np.round(rng.poisson(np.exp(eta)).astype(float) if family == "poisson"
                 else eta + rng.normal(size=150), 6)
    path = tmp_path / "data.csv"
    path.write_text("a,b,y\n" + "".join(f"{p:.6f},{q:.6f},{v:.6f}\n" for (p, q), v in zip(X, y)))
    code, out, _ = run(capsys, "verify", str(path), "--family", family)
    assert code == 0, out
    for absent in ("simplex residual", "gauge", "P~", "P*", "entropy H", "reference"):
        assert absent not in out, absent
    assert "primal objective = H(mu~)" in out and "mu agreement" in out
    code, js, _ = run(capsys, "verify", str(path), "--family", family, "--json")
    doc = json.loads(js)
    Xi = np.column_stack([X, np.ones(150)])
    fitted = Xi @ np.array(doc["theta"]["values"])
    # the constant between l(theta) and the reported log-likelihood, from its definition
    if family == "poisson":
        loglik = float(np.sum(y * fitted - np.exp(fitted)))
        constant = -float(np.sum(gammaln(y + 1)))
    else:
        loglik = float(np.sum(y * fitted - fitted ** 2 / 2))
        rss = float(np.sum((y - fitted) ** 2))
        constant = -150 / 2 * (np.log(2 * np.pi * rss / 150) + 1) - loglik
    note = next(ln for ln in out.splitlines() if "-sum_j w_j A*(mu_j)" in ln)
    printed = float(note.split(" nats")[-2].split(" = ")[-1])
    assert printed == pytest.approx(constant, abs=1e-8 + 2 * doc["certificate"]["roundoff"])
    assert "the convex conjugate of the log-partition" in note
    assert row_value(out, "reported log-likelihood") == pytest.approx(loglik + constant,
                                                                     abs=1e-8)
    # the verdict's yardstick for these families: the excess over the data's own point, half
    # the RSS or deviance (a sum of 150 terms of order 1: float64 holds it to 1e-13 relative)
    from scipy.special import xlogy

    mu = np.exp(fitted) if family == "poisson" else fitted
    excess = float(np.sum(xlogy(y, y) - xlogy(y, mu) - y + mu) if family == "poisson"
                   else np.sum((y - mu) ** 2) / 2)
    assert doc["projected"]["excess"] == pytest.approx(excess, rel=1e-9)
    assert row_value(out, "the fit's own excess") == pytest.approx(excess, rel=5e-3)


def test_json_has_the_documented_keys(capsys):
    code, out, _ = run(capsys, "verify", "blobs", "--json")
    doc = json.loads(out)
    assert code == 0
    assert set(doc["dataset"]) >= {"name", "n", "m", "k", "classes", "feature_names"}
    assert set(doc["primal"]) >= {"solver", "status", "entropy", "solve_seconds"}
    assert set(doc["dual"]) >= {"method", "converged", "iterations", "solve_seconds"}
    assert set(doc["theta"]) >= {"source", "values", "objective", "loglik", "neg_loglik",
                                 "dual_gradient", "std_err"}
    assert set(doc["certificate"]) >= {"duality_gap", "relative_gap", "balance_residual",
                                       "simplex_residual", "dual_gradient", "p_agreement",
                                       "theta_agreement", "tol", "ok"}
    theta = np.array(doc["theta"]["values"])
    assert theta.shape == (doc["dataset"]["m"], doc["dataset"]["k"])
    assert np.all(theta[:, -1] == 0)
    assert doc["dataset"]["feature_names"][-1] == "intercept"
    assert doc["theta"]["neg_loglik"] == pytest.approx(doc["primal"]["entropy"], rel=1e-8)


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
    "weights.csv": ("a,label\n1,0\n2,1\n", ["--weights", "label"],
                    "column 'label' cannot be both the target and the weights"),
}


def test_an_empty_file_name_is_named_not_taken_for_the_current_folder(capsys):
    for args in (["verify", ""], ["certify", "blobs", "--coef", ""]):
        code, _, err = run(capsys, *args)
        assert code == 2 and "name is empty" in err and err.count("\n") == 1


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
    (["bench", "--sparse", "--explore"], "not allowed with argument"),
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


@pytest.mark.parametrize("workers", ["0", "1", "5"])
def test_workers_without_the_dask_engine_is_refused_whatever_the_count(capsys, workers):
    code, out, err = run(capsys, "verify", "--workers", workers)
    assert code == 2 and out == ""
    assert err == "dualmaxent: error: --scheduler and --workers need --engine dask\n"


@pytest.mark.parametrize("command", ["verify", "certify"])
@pytest.mark.parametrize("tol", ["1", "5", "1e3", "inf"])
def test_tol_is_a_relative_tolerance_below_one(capsys, command, tol):
    """A tolerance of 1 or more would pass any theta: refused by every command that takes it."""
    from dualmaxent.cli import build_parser

    argv = [command] + (["blobs", "--coef", "coef.csv"] if command == "certify" else [])
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--tol", tol])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert "argument --tol:" in err and ("relative tolerance" in err or tol == "inf")
    if tol != "inf":
        assert "below 1" in err
    assert build_parser().parse_args([*argv, "--tol", "0.5"]).tol == 0.5  # (0, 1) is accepted


@pytest.mark.parametrize("penalty", [[], ["--l2", "1"]], ids=["none", "l2"])
@pytest.mark.parametrize("command", ["verify", "certify"])
def test_l1_ratio_without_l1_names_the_options(tmp_path, capsys, command, penalty):
    argv = [command] + (["blobs", "--coef", str(tmp_path / "coef.csv")]
                        if command == "certify" else [])
    code, out, err = run(capsys, *argv, "--l1-ratio", "0.5", *penalty)
    assert code == 2 and out == ""
    assert err.startswith("dualmaxent: error: --l1-ratio goes with --l1 LAM")
    assert err.count("\n") == 1 and "l1_ratio" not in err and "lam" not in err.replace(
        "LAM", "")


def test_figures_counts_one_figure_in_the_singular(tmp_path, capsys):
    code, out, err = run(capsys, "figures", "--only", "balance_equations",
                         "--out", str(tmp_path))
    assert code == 0, err
    assert re.search(r"^1 figure in \d+\.\d s$", out, re.MULTILINE), out


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


# -- certify: the checker alone, at coefficients given in a CSV file ---------------------------

def write_coef(path, names, columns, table):
    """A COEF.csv: a header (names column, then one label per column) and one row per name."""
    rows = ["feature," + ",".join(str(c) for c in columns)]
    rows += [f"{name}," + ",".join(repr(float(v)) for v in np.atleast_1d(row))
             for name, row in zip(names, table)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def blobs_theta():
    from dualmaxent import load_dataset, solve_dual

    ds = load_dataset("blobs")
    return ds, np.asarray(solve_dual(ds).theta)


def test_certify_given_coefficients_exits_0_and_says_how_close(tmp_path, capsys, blobs_theta):
    ds, theta = blobs_theta
    coef = write_coef(tmp_path / "coef.csv", ds.feature_names, ds.classes, theta)
    code, out, err = run(capsys, "certify", "blobs", "--coef", coef)
    assert code == 0, out
    assert "verdict: OK" in out and "within" in out and err == ""
    code, out, _ = run(capsys, "certify", "blobs", "--coef", coef, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["certificate"]["ok"] is True
    assert doc["certificate"]["within"] < 1e-6
    assert doc["theta"]["source"] == f"given ({coef})"
    # the certificate is at the given theta: its upper bound is -l(theta), from the definition
    eta = ds.X @ theta
    loglik = float(np.sum(ds.Y * eta) - np.sum(np.logaddexp.reduce(eta, axis=1)))
    assert doc["certificate"]["upper_bound"] == pytest.approx(-loglik, rel=1e-12)


DOCS_JSON = Path(__file__).resolve().parents[1] / "docs" / "json.md"

#: When a key is present (docs/json.md, the *present* column).
PRESENCE = {"always", "cvxpy", "separated", "elasticnet", "trace"}

#: A JSON value of each documented type; a number is null when not finite (docs/json.md).
JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def documented_json_keys() -> dict:
    """``{object path: {key: (types, present)}}`` read from the tables of docs/json.md: a
    ``### Top level`` or ``### `a.b``` heading, then rows ``| `key` | type | unit | present |``."""
    objects, path = {}, None
    for line in DOCS_JSON.read_text(encoding="utf-8").splitlines():
        head = re.fullmatch(r"### (?:Top level|`([\w.]+)`)", line.strip())
        if head:
            path = tuple(head.group(1).split(".")) if head.group(1) else ()
            assert path not in objects, f"docs/json.md documents {path} twice"
            objects[path] = {}
            continue
        row = re.match(r"\| `(\w+)` \| ([^|]+?) \| [^|]+? \| `(\w+)` \|", line)
        if row and path is not None:
            key, types, present = row.groups()
            types = tuple(re.split(r",\s*|\s+or\s+", types))
            assert set(types) <= set(JSON_TYPES), (path, key, types)
            assert present in PRESENCE, (path, key, present)
            assert key not in objects[path], f"docs/json.md documents {path} {key!r} twice"
            objects[path][key] = (types, present)
    return objects


def _check_documented(doc: dict, tags: set, spec: dict, seen: set, path=()) -> None:
    """``doc``'s keys are exactly the documented ones present under ``tags``, each of its
    documented type; nested documented objects likewise."""
    assert path in spec, f"docs/json.md does not document the object {'.'.join(path)}"
    documented = spec[path]
    expected = {key for key, (_, present) in documented.items()
                if present == "always" or present in tags}
    assert set(doc) == expected, (path, "undocumented:", sorted(set(doc) - expected),
                                  "missing:", sorted(expected - set(doc)))
    for key, value in doc.items():
        types, _ = documented[key]
        assert any(JSON_TYPES[t](value) for t in types), (path, key, value, types)
        seen.add(path + (key,))
        if isinstance(value, dict):
            _check_documented(value, tags, spec, seen, path + (key,))


def test_json_keys_are_exactly_those_of_docs_json_md(tmp_path, capsys, blobs_theta):
    """The keys of ``verify --json`` and ``certify --json``, at every level, are the ones
    docs/json.md lists, in each case of its *present* column, so the doc cannot drift."""
    from dualmaxent.cli import JSON_SCHEMA

    spec = documented_json_keys()
    assert JSON_SCHEMA in DOCS_JSON.read_text(encoding="utf-8").splitlines()[0]
    ds, theta = blobs_theta
    coef = write_coef(tmp_path / "coef.csv", ds.feature_names, ds.classes, theta)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    counts = rng.poisson(np.exp(0.3 + X[:, 0]))
    path = tmp_path / "counts.csv"
    path.write_text("a,b,y\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, counts)))
    runs = [  # (argv, the present column's cases that apply)
        (["verify", "blobs"], {"cvxpy"}),
        (["verify", "iris"], {"cvxpy", "separated"}),
        (["verify", "iris", "--primal", "projected"], {"separated"}),
        (["verify", "blobs", "--l1", "5", "--l1-ratio", "0.5", "--primal", "projected"],
         {"elasticnet"}),
        (["verify", "blobs", "--l2", "1", "--trace", "--primal", "projected"], {"trace"}),
        (["verify", str(path), "--family", "poisson", "--primal", "projected"], set()),
        (["certify", "blobs", "--coef", coef], set()),
    ]
    seen = set()
    for argv, tags in runs:
        code, out, _ = run(capsys, *argv, "--json")
        doc = json.loads(out)
        assert code == 0, (argv, doc["certificate"]["messages"])
        assert doc["schema"] == JSON_SCHEMA == "dualmaxent.certificate/1"
        assert list(doc)[0] == "schema"
        _check_documented(doc, tags, spec, seen)
    # every documented key was seen in some run: the doc lists nothing that is never printed
    documented = {path + (key,) for path, keys in spec.items() for key in keys}
    assert documented == seen, sorted(documented - seen)


def test_certify_reads_rows_and_class_columns_in_any_order(tmp_path, capsys, blobs_theta):
    ds, theta = blobs_theta
    shifted = theta + np.array([1.0, -2.0, 0.5])[:, None]  # another gauge: the same model
    order, classes = [2, 0, 1], [1, 2, 0]
    coef = write_coef(tmp_path / "coef.csv", [ds.feature_names[i] for i in order],
                      [ds.classes[c] for c in classes], shifted[order][:, classes])
    code, out, _ = run(capsys, "certify", "blobs", "--coef", coef, "--json")
    doc = json.loads(out)
    assert code == 0
    np.testing.assert_allclose(doc["theta"]["values"], theta - theta[:, -1:], atol=1e-12)


def test_certify_exits_1_for_coefficients_that_are_not_optimal(tmp_path, capsys, blobs_theta):
    ds, theta = blobs_theta
    coef = write_coef(tmp_path / "coef.csv", ds.feature_names, ds.classes, 0.5 * theta)
    code, out, _ = run(capsys, "certify", "blobs", "--coef", coef)
    assert code == 1
    assert "verdict: NOT OK" in out


def test_certify_a_penalised_one_parameter_fit_from_a_csv(tmp_path, capsys):
    from dualmaxent import Dataset, solve_dual

    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 2))
    y = rng.poisson(np.exp(0.4 * X[:, 0] - 0.3 * X[:, 1] + 0.2))
    w = rng.integers(1, 4, 120)
    data = tmp_path / "counts.csv"
    data.write_text("a,b,w,count\n" + "".join(f"{a:.6f},{b:.6f},{wi},{c}\n"
                                              for (a, b), wi, c in zip(X, w, y)))
    ds = Dataset.from_csv(str(data), target="count", weights="w", family="poisson")
    fit = solve_dual(ds, l2=3.0)
    coef = write_coef(tmp_path / "coef.csv", ds.feature_names, ["count"], fit.theta)
    argv = ["certify", str(data), "--coef", coef, "--target", "count", "--weights", "w",
            "--family", "poisson"]
    code, out, _ = run(capsys, *argv, "--l2", "3")
    assert code == 0, out
    assert "l2" in out
    code, out, _ = run(capsys, *argv)  # the same theta is not the unpenalised optimum
    assert code == 1


def test_certify_bernoulli_coefficients_are_the_second_class_log_odds(tmp_path, capsys):
    from dualmaxent import Dataset, solve_dual

    rng = np.random.default_rng(4)
    X = rng.normal(size=(100, 2))
    y = np.where(X[:, 0] + rng.logistic(size=100) > 0, "yes", "no")
    data = tmp_path / "data.csv"
    data.write_text("x1,x2,label\n" + "".join(f"{a:.6f},{b:.6f},{t}\n"
                                              for (a, b), t in zip(X, y)))
    ds = Dataset.from_csv(str(data), family="bernoulli", intercept=False)
    theta = solve_dual(ds).theta
    good = write_coef(tmp_path / "good.csv", ds.feature_names, ["yes"], theta)
    code, out, _ = run(capsys, "certify", str(data), "--coef", good, "--family", "bernoulli",
                       "--no-intercept")
    assert code == 0, out
    flipped = write_coef(tmp_path / "no.csv", ds.feature_names, ["no"], theta)
    code, _, err = run(capsys, "certify", str(data), "--coef", flipped, "--family",
                       "bernoulli", "--no-intercept")
    assert code == 2 and "log-odds of the second class 'yes'" in err


BAD_COEF = {
    "unknown.csv": ("feature,a,b,c\nx1,1,2,0\nx2,1,2,0\nintercept,0,0,0\nx9,1,1,0\n",
                    "unknown feature names 'x9'"),
    "missing.csv": ("feature,a,b,c\nx1,1,2,0\nx2,1,2,0\n",
                    "no row for 'intercept' (pass --no-intercept"),
    "twice.csv": ("feature,a,b,c\nx1,1,2,0\nx1,1,2,0\nx2,1,2,0\nintercept,0,0,0\n",
                  "feature 'x1' appears twice"),
    "classes.csv": ("feature,a,b\nx1,1,2\nx2,1,2\nintercept,0,0\n",
                    "has 2 class columns but the data have 3 classes (a, b, c)"),
    "labels.csv": ("feature,a,b,z\nx1,1,2,0\nx2,1,2,0\nintercept,0,0,0\n",
                   "no column for the class 'c'"),
    "text.csv": ("feature,a,b,c\nx1,1,oops,0\nx2,1,2,0\nintercept,0,0,0\n",
                 "line 2: 'oops' is not a number"),
    "ragged.csv": ("feature,a,b,c\nx1,1,2\nx2,1,2,0\nintercept,0,0,0\n",
                   "line 2 has 3 fields; the header has 4"),
    "nan.csv": ("feature,a,b,c\nx1,1,nan,0\nx2,1,2,0\nintercept,0,0,0\n",
                "line 2: the coefficients must be finite"),
    "empty.csv": ("", "is empty"),
    "header.csv": ("feature,a,b,c\n", "one row per feature"),
    "absent.csv": (None, "no such file: "),
    "binary.csv": (b"garbage\x00\x01\xff\xfe binary\n", "is not a text CSV file"),
    "field.csv": ("feature,a,b,c\n" + "x" * 200_000 + ",1,2,0\n",  # over csv's field limit
                  "is not a valid CSV file: field larger than field limit"),
}


def _write(path, content):
    """``content`` (text, or bytes for a file that is not text) into ``path``."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


@pytest.mark.parametrize("name", sorted(BAD_COEF))
def test_certify_bad_coefficients_get_one_line_and_exit_code_2(tmp_path, capsys, name):
    content, message = BAD_COEF[name]
    path = tmp_path / name
    if content is not None:
        _write(path, content)
    code, out, err = run(capsys, "certify", "blobs", "--coef", str(path))
    assert code == 2, out
    assert message in err
    assert err.count("\n") == 1 and err.startswith("dualmaxent: error:")
    if content is not None:
        assert (path.read_bytes() if isinstance(content, bytes) else path.read_text()) == content


@pytest.mark.parametrize("content", [None, b"garbage\x00\x01\xff\xfe binary\n"],
                         ids=["missing", "binary"])
def test_a_bad_coef_file_is_named_as_a_bad_data_file_is(tmp_path, capsys, content):
    """``certify --coef FILE`` says what ``verify FILE`` says of the same missing or binary file
    (the one message a user learns for both), from the installed command too: no traceback."""
    path = tmp_path / "coef.csv"
    if content is not None:
        path.write_bytes(content)
    code, _, data_err = run(capsys, "verify", str(path))
    assert code == 2
    code, out, coef_err = run(capsys, "certify", "blobs", "--coef", str(path))
    assert code == 2, out
    assert coef_err == data_err and coef_err.count("\n") == 1
    proc = subprocess.run([sys.executable, "-m", "dualmaxent.cli", "certify", "blobs",
                           "--coef", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr == data_err
    if content is not None:
        assert path.read_bytes() == content


def test_certify_needs_coef_and_no_traceback_from_the_installed_command(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["certify", "blobs"])
    assert exc.value.code == 2
    assert "the following arguments are required: --coef" in capsys.readouterr().err
    path = tmp_path / "coef.csv"
    path.write_text("feature,a,b,c\nx1,1,2,0\n")
    proc = subprocess.run([sys.executable, "-m", "dualmaxent.cli", "certify", "blobs",
                           "--coef", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"dualmaxent: error: {path}: no row for 'x2', 'intercept'")


# -- entry points, help and its examples ---------------------------------------------------------

def test_a_bare_command_and_python_m_print_the_help(capsys):
    code, out, err = run(capsys)
    assert code == 0 and err == ""
    assert out.startswith("usage: dualmaxent") and "verify" in out and "examples:" in out
    proc = subprocess.run([sys.executable, "-m", "dualmaxent"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == out  # the same help, from the package's __main__
    proc = subprocess.run([sys.executable, "-m", "dualmaxent", "verify", "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and json.loads(proc.stdout)["certificate"]["ok"] is True


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def _subcommands() -> list:
    from dualmaxent.cli import build_parser

    (action,) = [a for a in build_parser()._actions if hasattr(a, "choices")
                 and isinstance(a.choices, dict)]
    return sorted(action.choices)


def _examples(text: str) -> list:
    """The example command lines at the end of a help text (comments stripped)."""
    tail = text.rstrip("\n").split("\n\n")[-1].splitlines()
    assert tail[0] == "examples:", tail
    assert all(line.startswith("  dualmaxent") for line in tail[1:]), tail
    return [line.split("#")[0].strip() for line in tail[1:]]


@pytest.mark.parametrize("command", [None] + _subcommands())
def test_every_help_ends_with_two_or_three_examples(capsys, command):
    text = _help(capsys, *([command] if command else []))
    examples = _examples(text)
    assert 2 <= len(examples) <= 3
    if command:
        assert all(e.startswith(f"dualmaxent {command}") for e in examples)


def test_verify_help_gives_the_form_of_the_penalties(capsys):
    text = " ".join(_help(capsys, "verify").split())
    for form in ("--l2 LAMBDA maximise l(theta) - LAMBDA/2 |theta_R|^2",
                 "--l1 LAMBDA maximise l(theta) - LAMBDA |theta_R|_1",
                 "--l1 LAMBDA --l1-ratio A maximise l(theta) - LAMBDA (A |theta_R|_1 + "
                 "(1-A)/2 |theta_R|^2)",
                 "theta_R: every row of theta but the intercept's"):
        assert form in text, form


#: Help examples not run here, and why: each takes minutes or draws every figure.
SLOW_EXAMPLES = {
    "dualmaxent figures": "every figure, about 15 s (tests/test_figures.py draws each)",
    "dualmaxent bench --quick": "a benchmark, under two minutes",
    "dualmaxent bench --sweep --quick --json": "a benchmark sweep, about 1.5 minutes",
    "dualmaxent bench --explore": "a benchmark, about 1.5 minutes (tests/test_explore.py runs "
                                  "its walk cut to one notch)",
    "dualmaxent explore": "serves the app until Ctrl+C (tests/test_explore.py runs it)",
    "dualmaxent explore iris --headless --port 2718": "serves the app until Ctrl+C",
}


@pytest.fixture
def example_files(tmp_path, monkeypatch, blobs_theta):
    """The files the examples name, in a fresh working folder: blobs as data.csv and my.csv,
    its optimal coefficients as coef.csv, and Poisson counts as counts.csv."""
    ds, theta = blobs_theta
    monkeypatch.chdir(tmp_path)
    labels = np.asarray(ds.classes)[ds.Y.argmax(axis=1)]
    table = "x1,x2,y\n" + "".join(f"{a:.17g},{b:.17g},{c}\n" for (a, b), c
                                  in zip(ds.X[:, :2], labels))
    for name in ("data.csv", "my.csv"):
        (tmp_path / name).write_text(table)
    write_coef(tmp_path / "coef.csv", ds.feature_names, ds.classes, theta)
    rng = np.random.default_rng(5)
    z = rng.normal(size=(150, 2))
    y = rng.poisson(np.exp(0.4 + 0.5 * z[:, 0] - 0.3 * z[:, 1]))
    (tmp_path / "counts.csv").write_text("z1,z2,y\n" + "".join(
        f"{a:.17g},{b:.17g},{c}\n" for (a, b), c in zip(z, y)))
    return tmp_path


def test_the_help_examples_run(capsys, example_files):
    import shlex

    examples = {e for command in [None] + _subcommands()
                for e in _examples(_help(capsys, *([command] if command else [])))}
    assert set(SLOW_EXAMPLES) <= examples  # the exemptions are exactly these, all still shown
    for example in sorted(examples - set(SLOW_EXAMPLES)):
        argv = shlex.split(example)[1:]
        code, out, err = run(capsys, *argv)
        # verify and figures succeed; certify may say "not ok" (exit 1) for coefficients that
        # are not the optimum of the problem asked (here: blobs' unpenalised theta under --l2)
        assert code in ((0, 1) if argv[0] == "certify" else (0,)), (example, out, err)
        assert "Traceback" not in err and out, example
        if "--json" in argv:
            json.loads(out)
    assert sorted(p.name for p in (example_files / "my-figures").iterdir()) == [
        "balance_equations.png", "convergence.png", "primal_dual_agreement.png",
        "regularization_path.png"]


def test_many_integer_levels_suggest_the_poisson_family(example_files, capsys):
    counts = np.loadtxt("counts.csv", delimiter=",", skiprows=1)[:, 2].astype(int)
    levels = np.unique(counts)
    assert len(levels) >= 8  # dualmaxent.data.COUNT_LEVELS
    code, out, err = run(capsys, "verify", "counts.csv", "--target", "y")
    assert err.splitlines()[0] == (
        f"dualmaxent: warning: the target has {len(levels)} distinct non-negative integer "
        f"values ({levels[0]} to {levels[-1]}), each taken as a class; if they are counts, use "
        "family='poisson' (--family poisson)")
    code, out, err = run(capsys, "verify", "counts.csv", "--target", "y", "--family", "poisson")
    assert code == 0 and err == ""


def test_what_a_student_reads_stays_readable(tmp_path, capsys):
    """The weights column cannot be the target (it silently weighted every class-0 row 0);
    200 class labels are listed as eight and a count, not thousands of characters; a huge
    coefficient prints in exponent form, a zero without a minus sign, and its gradient's budget
    as a number, on which the verdict does not rest."""
    rng = np.random.default_rng(0)
    rows = ["x1,y"] + [f"{v:.6f},{int(v > 0)}" for v in rng.normal(size=60)]
    (tmp_path / "w.csv").write_text("\n".join(rows) + "\n")
    assert main(["verify", str(tmp_path / "w.csv"), "--weights", "y"]) == 2
    assert "column 'y' cannot be both the target and the weights" in capsys.readouterr().err
    values = np.repeat(rng.normal(size=12), 5)  # twelve labels of nine digits
    rows = ["x1,x2,t"] + [f"{a:.6f},{b:.6f},{t:.9f}" for a, b, t in
                          zip(rng.normal(size=60), rng.normal(size=60), values)]
    (tmp_path / "many.csv").write_text("\n".join(rows) + "\n")
    main(["verify", str(tmp_path / "many.csv"), "--primal", "projected"])
    first = capsys.readouterr().out.splitlines()[0]
    assert "(12 in all)" in first and first.split("k=12: ")[1].count(", ") == 8
    coef = tmp_path / "huge.csv"
    coef.write_text("feature,a,b,c\nx1,-0.63,1.06,0\nx2,1e300,1,2\nintercept,2.13,0.26,0\n")
    assert main(["certify", "blobs", "--coef", str(coef)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"dual objective = -l\(theta\)\s+\d\.\d{10}e\+\d+ nats", out)
    assert "-1.0000e+300" in out and "-0.0000000000" not in out
    # (theta's products with X stay in range: their error bound, through the columns' largest
    # entries, is a number, and the gradient within it says nothing, as the note says)
    assert re.search(r"dual gradient\s+\S+ \(round-off budget \d\.\de\+\d+\)", out)
    assert "the verdict rests on the bracket" in out and "verdict: NOT OK" in out
