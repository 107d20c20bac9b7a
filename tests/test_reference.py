"""The reported coefficients: the first class as the reference, ``--reference``, against
statsmodels' ``Logit`` and ``MNLogit`` on the same data (names, signs, estimates, standard errors).

The tolerances come from error bounds, not from one run:

* Estimates. Near the maximiser ``theta* - theta = -H^{-1} g(theta)`` to first order, ``g`` the
  score and ``-H^{-1}`` the covariance, so ``|theta_i - theta*_i| <= sum_j |Cov_ij| |g_j|``; the
  factor 2 pays for the change of ``H`` between the two points (``test_*`` assert that change is
  small: ``max |X dtheta|`` well below 1). statsmodels computes both the score and the covariance,
  at both fits, so the bound covers the error of each library.
* Standard errors. If two points differ by ``dtheta`` with ``eps = max |X dtheta|`` (every row,
  every class), each row's class probabilities change by a factor in ``[e^-2eps, e^2eps]``, and so
  does every variance ``Var_p(v . Y) = min_c E_p (v . Y - c)^2`` (Loewner order, row by row): the
  information at one point lies between ``e^-2eps`` and ``e^2eps`` times the other's, and each
  standard error (of any contrast) within a factor ``e^eps``. Plus the round-off of inverting the
  information: its condition number times the machine epsilon and the number of parameters.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import statsmodels.api as sm

from dualmaxent import Dataset, report_coefficients, solve_dual
from dualmaxent.cli import main
from dualmaxent.exceptions import DataError
from dualmaxent.report import label_text

EPS = np.finfo(np.float64).eps
SPECTOR = ["GPA", "TUCE", "PSI"]
ANES = ["logpopul", "selfLR", "age", "educ", "income"]


def _csv(tmp_path, df, name):
    path = tmp_path / f"{name}.csv"
    df.to_csv(path, index=False)  # float targets are written as 0.0, 1.0: as a user's CSV
    return str(path)


def _json(capsys, *argv):
    assert main(list(argv) + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _table(out):
    """The title and rows of a text certificate's coefficient table: ``{name: (coef, std err)}``
    in order (std err None when the table has none)."""
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("  coefficients")) + 2
    rows = {}
    for ln in lines[start:]:
        if not ln.startswith("          "):
            break
        parts = ln.split()
        rows[parts[0]] = (float(parts[1]), float(parts[2]) if len(parts) > 2 else None)
    return lines[start - 2].strip(), rows


def _tolerances(model, ref, ours_flat, X, k_free):
    """``(theta_tol, se_rtol)`` for our estimates against statsmodels' fit ``ref`` of ``model``
    (module docstring). ``ours_flat`` in statsmodels' order of parameters."""
    cov = np.asarray(ref.cov_params())
    ref_flat = np.asarray(ref.params).ravel(order="F")
    score = np.abs(model.score(ours_flat)) + np.abs(model.score(ref_flat))
    theta_tol = 2 * np.abs(cov) @ score
    dtheta = (ours_flat - ref_flat).reshape(k_free, -1).T  # (m, classes besides the reference)
    eps_eta = float(np.abs(X @ dtheta).max())
    assert eps_eta < 0.1  # the first-order bound holds: the curvature barely changes
    info = np.linalg.inv(cov)
    roundoff = np.linalg.cond(info) * EPS * len(cov)
    return theta_tol, np.expm1(eps_eta) + roundoff


def _within(got, want, atol=0.0, rtol=0.0):
    """``|got - want| <= atol + rtol |want|`` entry by entry (``atol``, ``rtol`` arrays)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    excess = np.abs(got - want) - (atol + rtol * np.abs(want))
    assert np.all(excess <= 0), f"off by {np.abs(got - want)}, allowed {atol + rtol * abs(want)}"


@pytest.fixture(scope="module")
def spector():
    df = sm.datasets.spector.load_pandas().data
    X = np.column_stack([df[SPECTOR].to_numpy(), np.ones(len(df))])  # our intercept is last
    model = sm.Logit(df["GRADE"].to_numpy(), X)
    return df, X, model, model.fit(disp=0, method="newton", tol=1e-12, maxiter=100)


@pytest.fixture(scope="module")
def anes():
    df = sm.datasets.anes96.load_pandas().data
    X = np.column_stack([df[ANES].to_numpy(), np.ones(len(df))])
    model = sm.MNLogit(df["PID"].to_numpy(), X)
    return df, X, model, model.fit(disp=0, method="newton", tol=1e-12, maxiter=100)


@pytest.mark.parametrize("family", ["categorical", "bernoulli"])
def test_spector_with_defaults_prints_statsmodels_logit(tmp_path, capsys, spector, family):
    df, X, model, ref = spector
    path = _csv(tmp_path, df, "spector")
    argv = ["verify", path, "--target", "GRADE", "--features", ",".join(SPECTOR),
            "--family", family]
    doc = _json(capsys, *argv)["coefficients"]
    # statsmodels names its columns as we do, with its intercept "const" for our "intercept"
    assert doc["names"] == SPECTOR + ["intercept"]
    assert doc["reference"] == 0  # the first class; the log-odds of the second
    coef, se = np.array(doc["coef"]), np.array(doc["std_err"])
    theta_tol, se_rtol = _tolerances(model, ref, coef, X, 1)
    assert np.all(theta_tol < 1e-6)  # the target, met by the bound itself
    _within(coef, ref.params, rtol=0, atol=theta_tol)
    _within(se, ref.bse, rtol=se_rtol, atol=0)

    assert main(argv) == 0
    title, rows = _table(capsys.readouterr().out)
    # integer-valued labels print as integers; plain names, Logit's signs
    assert title == "coefficients (log-odds of '1' against '0')"
    assert list(rows) == doc["names"]
    for (printed, printed_se), b, s in zip(rows.values(), ref.params, ref.bse):
        assert np.sign(printed) == np.sign(b)
        assert printed == pytest.approx(b, abs=5e-5) and printed_se == pytest.approx(s, abs=5e-5)


def test_spector_reference_1_is_the_log_odds_of_0(tmp_path, capsys, spector):
    df, X, model, ref = spector
    path = _csv(tmp_path, df, "spector")
    base = ["verify", path, "--target", "GRADE", "--features", ",".join(SPECTOR)]
    default = _json(capsys, *base)["coefficients"]
    for level in ("1", "1.0"):  # the printed label, or the CSV's text
        doc = _json(capsys, *base, "--reference", level)["coefficients"]
        assert doc["reference"] == 1 and doc["names"] == default["names"]
        # the reverse log-odds: the same numbers with the opposite sign, the same variances
        np.testing.assert_array_equal(doc["coef"], -np.array(default["coef"]))
        np.testing.assert_array_equal(doc["std_err"], default["std_err"])
    assert main(base + ["--reference", "1"]) == 0
    assert "coefficients (log-odds of '0' against '1')" in capsys.readouterr().out


def test_anes96_with_defaults_prints_mnlogit_without_moving_its_reference(tmp_path, capsys,
                                                                         anes):
    df, X, model, ref = anes
    path = _csv(tmp_path, df, "anes96")
    argv = ["verify", path, "--target", "PID", "--features", ",".join(ANES),
            "--primal", "projected"]
    doc = _json(capsys, *argv)["coefficients"]
    levels = np.unique(df["PID"])
    k, m = len(levels), X.shape[1]
    assert k == 7 and doc["reference"] == levels[0]  # MNLogit's reference: the first level
    # MNLogit's column j is the level j + 1 against the first, one row per feature
    names = [f"{f}[{int(level)}]" for level in levels[1:] for f in ANES + ["intercept"]]
    assert doc["names"] == names
    coef, se = np.array(doc["coef"]), np.array(doc["std_err"])  # class-major: MNLogit's order
    theta_tol, se_rtol = _tolerances(model, ref, coef, X, k - 1)
    assert np.all(theta_tol < 1e-6)
    params = np.asarray(ref.params).ravel(order="F")
    _within(coef, params, rtol=0, atol=theta_tol)
    _within(se, np.asarray(ref.bse).ravel(order="F"), rtol=se_rtol, atol=0)
    assert np.array_equal(np.sign(coef), np.sign(params))

    assert main(argv) == 0
    title, rows = _table(capsys.readouterr().out)
    assert title == "coefficients (against the reference class '0')"
    assert list(rows) == names
    assert m * (k - 1) == len(rows)


def test_anes96_reference_matches_mnlogit_on_relabelled_levels(tmp_path, capsys, anes):
    df, X, model, ref = anes
    path = _csv(tmp_path, df, "anes96")
    levels = np.unique(df["PID"])
    r = 3
    doc = _json(capsys, "verify", path, "--target", "PID", "--features", ",".join(ANES),
                "--primal", "projected", "--reference", str(r))["coefficients"]
    assert doc["reference"] == levels[r]
    others = [c for c in levels if c != levels[r]]
    assert doc["names"] == [f"{f}[{int(c)}]" for c in others for f in ANES + ["intercept"]]
    # statsmodels with level 3 moved first (its reference stays its first level); the other
    # levels keep their order, as ours do
    y = df["PID"].to_numpy()
    moved = sm.MNLogit(np.where(y == levels[r], -1.0, y), X)
    fit = moved.fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    coef, se = np.array(doc["coef"]), np.array(doc["std_err"])
    theta_tol, se_rtol = _tolerances(moved, fit, coef, X, len(others))
    _within(coef, np.asarray(fit.params).ravel(order="F"), rtol=0,
                               atol=theta_tol)
    _within(se, np.asarray(fit.bse).ravel(order="F"), rtol=se_rtol, atol=0)
    # and the differences of the columns of the fit against the first level: a gauge change
    P = np.column_stack([np.zeros(X.shape[1]), np.asarray(ref.params)])  # level 0 pinned
    diff = np.concatenate([P[:, c] - P[:, r] for c in range(len(levels)) if c != r])
    base_tol, _ = _tolerances(model, ref, np.asarray(ref.params).ravel(order="F"), X,
                              len(levels) - 1)
    bound = theta_tol + 2 * base_tol.max()  # each difference carries two entries' errors
    _within(coef, diff, rtol=0, atol=bound)


def test_an_unknown_reference_is_one_line_and_exit_2(tmp_path, capsys, spector):
    path = _csv(tmp_path, spector[0], "spector")
    coef = tmp_path / "coef.csv"
    coef.write_text("feature,0,1\n" + "".join(f"{f},0,0\n" for f in SPECTOR + ["intercept"]))
    for command in (["verify", path, "--primal", "projected"], ["certify", path, "--coef",
                                                                str(coef)]):
        code = main(command + ["--target", "GRADE", "--features", ",".join(SPECTOR),
                               "--reference", "2"])
        out, err = capsys.readouterr()
        assert code == 2 and out == ""
        assert err == "dualmaxent: error: unknown reference level '2'; the levels are 0, 1\n"


def test_certify_takes_reference_too(tmp_path, capsys, spector):
    df = spector[0]
    path = _csv(tmp_path, df, "spector")
    ds = Dataset.from_csv(path, target="GRADE", features=SPECTOR)
    theta = solve_dual(ds).theta
    coef = tmp_path / "coef.csv"
    coef.write_text("feature,0.0,1.0\n" + "".join(
        f"{name},{float(a)!r},{float(b)!r}\n" for name, (a, b) in zip(ds.feature_names, theta)))
    argv = ["certify", path, "--target", "GRADE", "--features", ",".join(SPECTOR),
            "--coef", str(coef), "--reference", "1"]
    assert main(argv) == 0
    title, rows = _table(capsys.readouterr().out)
    assert title == "coefficients (log-odds of '0' against '1')"
    doc = _json(capsys, *argv)["coefficients"]
    # no standard errors for a given theta; the class 0 column against the class 1 column
    np.testing.assert_array_equal(doc["coef"], theta[:, 0] - theta[:, 1])
    assert doc["std_err"] is None and all(se is None for _, se in rows.values())
    assert [round(c, 4) for c, _ in rows.values()] == [round(c, 4) for c in doc["coef"]]


def test_report_in_python_is_gauge_invariant_and_checks_its_input(spector):
    df = spector[0]
    ds = Dataset.from_frame(df, target="GRADE", features=SPECTOR)
    fit = solve_dual(ds)
    rep = report_coefficients(ds, fit.theta, fit.covariance, penalty=fit.penalty)
    # a gauge change of theta (one vector added to every column) changes nothing reported
    shifted = fit.theta + np.arange(1.0, 5.0)[:, None]
    again = report_coefficients(ds, shifted, fit.covariance, penalty=fit.penalty)
    # (two roundings, each at most eps times the size of the numbers subtracted)
    _within(again.coef, rep.coef, atol=2 * EPS * np.abs(shifted).sum(axis=1))
    # in the pivot gauge the second class is pinned at zero: the log-odds of class 1 are minus
    # the first column, and D Cov D^T = Var(t1) - 2 Cov(t1, t0) + Var(t0) is Var(t0) exactly
    np.testing.assert_array_equal(rep.coef, -fit.theta[:, 0])
    np.testing.assert_array_equal(rep.std_err, fit.std_err[:, 0])
    with pytest.raises(DataError, match=r"unknown reference level 'x'; the levels are 0, 1"):
        report_coefficients(ds, fit.theta, reference="x")
    pois = Dataset.from_frame(df, target="TUCE", features=["GPA"], family="poisson")
    with pytest.raises(DataError, match="poisson family has no classes"):
        report_coefficients(pois, np.zeros(2), reference=0)
    # every row penalised (no intercept): no reference class, every class listed
    free = Dataset.from_frame(df, target="GRADE", features=SPECTOR, intercept=False)
    pen = solve_dual(free, l2=1.0)
    rep = report_coefficients(free, pen.theta, penalty=pen.penalty)
    assert rep.reference is None and "every class is free" in rep.title
    assert rep.names == tuple(f"{f}[{c}]" for c in (0, 1) for f in SPECTOR)
    np.testing.assert_array_equal(rep.coef, pen.theta.T.ravel())
    with pytest.raises(DataError, match="no reference class when every row is penalised"):
        report_coefficients(free, pen.theta, reference=0, penalty=pen.penalty)


def test_labels_print_as_their_type_and_keep_it():
    assert [label_text(v) for v in (1.0, np.float64(0.0), 2.5, 3, "a", True)] == \
        ["1", "0", "2.5", "3", "a", "True"]
    # the labels themselves are unchanged: the classifier's classes_ are scikit-learn's
    from sklearn.linear_model import LogisticRegression

    from dualmaxent import MaxEntClassifier

    df = sm.datasets.spector.load_pandas().data
    X, y = df[SPECTOR].to_numpy(), df["GRADE"].to_numpy()
    ours = MaxEntClassifier().fit(X, y).classes_
    theirs = LogisticRegression().fit(X, y).classes_
    assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_inference_columns_are_statsmodels_summary(spector):
    """z, P>|z| and the 95 % interval of :meth:`Coefficients.inference`, recomputed from
    statsmodels' own ``tvalues``, ``pvalues`` and ``conf_int`` on the same data: each is a
    smooth function of (coef, std err), which agree within the bounds of ``_tolerances``."""
    df, X, model, ref = spector
    data = Dataset.from_arrays(df[SPECTOR].to_numpy(), df["GRADE"].to_numpy(),
                               feature_names=SPECTOR)
    res = solve_dual(data)
    rep = report_coefficients(data, res.theta, cov=res.covariance)
    stats = rep.inference()
    theta_tol, se_rtol = _tolerances(model, ref, rep.coef, X, 1)
    z_ref = np.asarray(ref.tvalues)
    # z = coef / se moves by theta_tol / se and by its relative se error
    _within(stats["z"], z_ref, atol=theta_tol / np.asarray(ref.bse) + 2 * se_rtol * np.abs(z_ref))
    lo, hi = np.asarray(ref.conf_int(0.05)).T
    _within(stats["lower"], lo, atol=theta_tol + 2 * 1.96 * se_rtol * np.asarray(ref.bse))
    _within(stats["upper"], hi, atol=theta_tol + 2 * 1.96 * se_rtol * np.asarray(ref.bse))
    # |dp/dz| = 2 phi(z) <= 0.8
    _within(stats["p"], ref.pvalues, atol=0.8 * np.abs(stats["z"] - z_ref) + 1e-15)
    assert rep.inference(0.9)["upper"][0] < stats["upper"][0]  # a narrower interval
    no_se = report_coefficients(data, res.theta)
    assert no_se.inference() is None
