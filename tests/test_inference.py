"""Standard errors: the inverse observed Fisher information, against statsmodels' ``bse``."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from dualmaxent import Dataset, load_dataset, solve_dual
from dualmaxent.cli import main

from _factories import make_dataset, overlapping

sm = pytest.importorskip("statsmodels.api")


@pytest.mark.parametrize("family", ["bernoulli", "poisson", "gaussian"])
def test_standard_errors_equal_statsmodels_bse(family):
    ds = make_dataset(family)
    ours = solve_dual(ds)
    model = {"bernoulli": lambda: sm.Logit(ds.Y, ds.X).fit(disp=0, tol=1e-12),
             "poisson": lambda: sm.Poisson(ds.Y, ds.X).fit(disp=0, tol=1e-12, maxiter=100),
             "gaussian": lambda: sm.OLS(ds.Y, ds.X).fit()}[family]()
    np.testing.assert_allclose(ours.theta, model.params, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ours.std_err, model.bse, rtol=1e-6)
    assert ours.std_err_note == ""


@pytest.mark.parametrize("k", [3, 4])
def test_multinomial_standard_errors_equal_statsmodels_under_the_same_reference(k):
    ds = overlapping(n=240, k=k, seed=k)
    ours = solve_dual(ds)
    y = ds.Y.argmax(axis=1)
    # statsmodels pins its first class, we pin our last: relabel so that they coincide; its
    # class c is our class k-1-c, and its j-th column of parameters is its class j+1
    ref = sm.MNLogit(k - 1 - y, ds.X).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    bse, params = np.asarray(ref.bse), np.asarray(ref.params)
    for j in range(k - 1):
        np.testing.assert_allclose(ours.std_err[:, k - 2 - j], bse[:, j], rtol=1e-6)
        # the reference class's theta is zero in both gauges, so the estimates agree as they are
        np.testing.assert_allclose(ours.theta[:, k - 2 - j], params[:, j], rtol=1e-6, atol=1e-9)
    assert np.all(ours.std_err[:, -1] == 0.0)  # pinned by the gauge


def test_rank_deficient_design_reports_estimable_entries_only():
    rng = np.random.default_rng(1)
    g = rng.integers(0, 3, 300)
    x = rng.normal(size=300)
    y = (rng.random(300) < 1 / (1 + np.exp(-(0.5 * x + np.array([-1, 0, 1])[g])))).astype(int)
    X = np.column_stack([x, np.eye(3)[g]])
    ds = Dataset.from_arrays(X, y, family="bernoulli", feature_names=["x", "g1", "g2", "g3"])
    with pytest.warns(Warning, match="linearly dependent"):
        fit = solve_dual(ds)
    assert np.isfinite(fit.std_err[0]) and np.all(np.isnan(fit.std_err[1:]))
    assert "g1, g2, g3, intercept" in fit.std_err_note
    # x is estimable: its standard error is the one of the identified model (one level dropped)
    ref = sm.Logit(y, np.column_stack([x, np.eye(3)[g][:, 1:], np.ones(300)])).fit(disp=0,
                                                                                 tol=1e-12)
    assert fit.std_err[0] == pytest.approx(ref.bse[0], rel=1e-6)


def test_no_standard_errors_for_penalised_or_separated_fits():
    pen = solve_dual(make_dataset("bernoulli"), l2=1.0)
    assert pen.std_err is None and "penalised" in pen.std_err_note
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sep = solve_dual(load_dataset("iris"))
    assert sep.std_err is None and "no maximiser" in sep.std_err_note


def test_cli_prints_a_coefficient_table_and_json_std_err(capsys):
    assert main(["verify", "blobs"]) == 0
    out = capsys.readouterr().out
    assert "coef    std err        z   P>|z|" in out and "intercept[b]" in out
    assert "intercept[a]" not in out  # the reference class (the first)
    assert main(["verify", "blobs", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    se = np.array(doc["theta"]["std_err"], dtype=float)
    assert se.shape == (3, 3) and np.all(se[:, :2] > 0) and np.all(se[:, 2] == 0)
    ref = solve_dual(load_dataset("blobs")).std_err
    np.testing.assert_allclose(se, ref, rtol=1e-12)


def test_a_least_squares_fit_with_no_residual_degrees_of_freedom_says_so():
    """n = p + 1 rows (two features and the intercept): the fit interpolates, the residual
    variance ``rss / (n - rank)`` has no degrees of freedom, and statsmodels' OLS gives
    infinite standard errors. Ours were all NaN with an empty note, which the attribute says
    means every entry has one; now none, and the note says why. One row more gives them."""
    X = np.array([[0.1, 1.0], [0.5, -0.3], [1.2, 0.4], [0.7, 0.9]])
    y = np.array([1.0, 2.0, 0.5, 1.4])
    tight = solve_dual(Dataset.from_arrays(X[:3], y[:3], family="gaussian"))
    assert tight.std_err is None and "0 degrees of freedom" in tight.std_err_note
    loose = solve_dual(Dataset.from_arrays(X, y, family="gaussian"))
    assert loose.std_err_note == "" and np.all(np.isfinite(loose.std_err))
