"""Frequency weights: an observation of weight 2 is two identical rows; weight 0 is no row.

Weights enter the entropy ``-sum_j w_j A*(mu_j)``, the balance equations ``X^T W (mu - Y)`` and
the likelihood ``sum_j w_j [<Y_j, eta_j> - A(eta_j)]``, so both problems, and their penalised
versions, must be unchanged when a row of weight ``c`` is replaced by ``c`` copies of weight 1.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from _factories import FAMILIES, L1_LAMBDA, L2_LAMBDA, integer_weights, make_arrays
from _kkt import assert_kkt
from dualmaxent import Dataset, load_dataset, verify
from dualmaxent.families import get_family

KINDS = ["none", "l2", "l1"]


def _penalty(kind, family):
    return {} if kind == "none" else {kind: (L2_LAMBDA if kind == "l2" else L1_LAMBDA)[family]}


def _assert_same_fit(a, b, data_a, data_b):
    """Two certificates of the same problem (on ``data_a``, ``data_b``): each closes by the
    definitions, with the weights, and both give the same theta, log-likelihoods, entropy."""
    assert_kkt(data_a, a)
    assert_kkt(data_b, b)
    assert a.ok, a.verdict
    assert b.ok, b.verdict
    scale = 1 + np.abs(b.dual.theta).max()
    np.testing.assert_allclose(a.dual.theta, b.dual.theta, rtol=0, atol=1e-9 * scale)
    assert a.dual.loglik == pytest.approx(b.dual.loglik, rel=1e-10)
    assert a.dual.canonical_loglik == pytest.approx(b.dual.canonical_loglik, rel=1e-10)
    assert a.dual.objective == pytest.approx(b.dual.objective, rel=1e-10)
    # the primal is solved by an interior-point method to ~1e-11: its entropy agrees to that
    # accuracy relative to the objective's size
    assert a.entropy == pytest.approx(b.entropy, rel=1e-8)
    assert a.extra["primal_objective"] == pytest.approx(b.extra["primal_objective"], rel=1e-9)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", FAMILIES)
def test_duplicated_rows_equal_weight_two(family, kind):
    X, y = make_arrays(family)
    n = len(y)
    double = np.arange(n) % 4 == 1  # every fourth row counts twice
    weights = np.where(double, 2.0, 1.0)
    rows = np.concatenate([np.arange(n), np.flatnonzero(double)])
    weighted = Dataset.from_arrays(X, y, family=family, weights=weights)
    duplicated = Dataset.from_arrays(X[rows], y[rows], family=family)
    pen = _penalty(kind, family)
    a, b = verify(weighted, **pen), verify(duplicated, **pen)
    _assert_same_fit(a, b, weighted, duplicated)
    # the primal means agree row by row too
    np.testing.assert_allclose(a.primal.mu, b.primal.mu[:n], atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", FAMILIES)
def test_zero_weight_equals_dropping_the_row(family, kind):
    X, y = make_arrays(family)
    weights = integer_weights(len(y))  # in {0, 1, 2, 3}
    zero = weights == 0
    assert zero.any()
    with_zeros = Dataset.from_arrays(X, y, family=family, weights=weights)
    dropped = Dataset.from_arrays(X[~zero], y[~zero], family=family, weights=weights[~zero])
    pen = _penalty(kind, family)
    a, b = verify(with_zeros, **pen), verify(dropped, **pen)
    _assert_same_fit(a, b, with_zeros, dropped)
    # a row of weight zero does not enter the primal; its mu is the model's prediction there
    fam = get_family(family)
    np.testing.assert_allclose(a.primal.mu[zero], fam.mean(X[zero] @ a.dual.theta[:-1]
                                                          + a.dual.theta[-1]), atol=1e-6)
    # and the integer weights equal repetition
    rows = np.repeat(np.arange(len(y)), weights.astype(int))
    repeated = Dataset.from_arrays(X[rows], y[rows], family=family)
    _assert_same_fit(a, verify(repeated, **pen), with_zeros, repeated)


@pytest.mark.parametrize("family", FAMILIES)
def test_weights_from_csv_column(family, tmp_path):
    X, y = make_arrays(family)
    weights = integer_weights(len(y))
    path = tmp_path / "data.csv"
    with open(path, "w") as fh:
        fh.write("a,b,c,freq,target\n")
        for j in range(len(y)):
            fh.write(",".join([repr(float(v)) for v in X[j]] + [repr(float(weights[j])), str(y[j])])
                     + "\n")
    ds = Dataset.from_csv(path, target="target", weights="freq", family=family)
    np.testing.assert_array_equal(ds.weights, weights)
    assert ds.feature_names == ("a", "b", "c", "intercept")
    ref = Dataset.from_arrays(X, y, family=family, weights=weights)
    cert = verify(ds)
    assert_kkt(ds, cert)
    assert cert.ok, cert.verdict
    np.testing.assert_allclose(cert.dual.theta, verify(ref).dual.theta, rtol=1e-12, atol=1e-12)


def test_weights_on_separated_data():
    """The reduced problems of separated data carry the weights too: iris with weights in
    {1, ..., 4} certifies the likelihood's supremum, the same as with its rows repeated."""
    iris = load_dataset("iris")
    X, y = iris.X[:, :-1], iris.y
    weights = 1.0 + integer_weights(len(y), seed=2)
    weighted = Dataset.from_arrays(X, y, weights=weights)
    rows = np.repeat(np.arange(len(y)), weights.astype(int))
    repeated = Dataset.from_arrays(X[rows], y[rows])
    a, b = verify(weighted), verify(repeated)
    for ds, cert in ((weighted, a), (repeated, b)):
        assert_kkt(ds, cert)  # the reduced problem's definitions, weighted
        assert cert.ok and not cert.attained, cert.verdict
    assert a.separation.kind == b.separation.kind == "quasi-complete"
    assert a.entropy == pytest.approx(b.entropy, rel=1e-8)
    assert a.separation_check.sup_loglik == pytest.approx(b.separation_check.sup_loglik, rel=1e-9)


def test_weights_that_sum_below_one_warn_that_the_tolerances_become_absolute():
    """The solvers' relative gradient divides by 1 + max |X^T W Y| and the certificate's gap by
    max(1, |objective|): below a total weight of 1 the ones dominate. All weights 1e-12 stopped
    an unpenalised fit after one iteration, 0.29 from its maximiser, 'converged' and ok; the
    data set warns, and the same weights times a constant fit as the unit weights do."""
    import warnings

    from dualmaxent import solve_dual
    from dualmaxent.exceptions import ScaleWarning

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X @ np.array([1.0, -0.9, 0.5]) + rng.logistic(size=200) > 0).astype(int)
    with pytest.warns(ScaleWarning, match=r"the weights sum to 2\.00e-10, less than 1"):
        Dataset.from_arrays(X, y, weights=np.full(200, 1e-12), family="bernoulli")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScaleWarning)
        unit = solve_dual(Dataset.from_arrays(X, y, family="bernoulli"))
        scaled = solve_dual(Dataset.from_arrays(X, y, weights=np.full(200, 0.005),
                                                family="bernoulli"))  # (sum 1: no warning)
    # (each solve's gradient within 1e-10 of its scale: theta within ~1e-9 of theta*, far
    # inside 1e-6 of it, where the one-iteration stop was 0.29 off)
    np.testing.assert_allclose(scaled.theta, unit.theta, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("scale", [1e38, 1e100, 1e300])
def test_huge_weights_fit_the_unit_weights_problem(scale):
    """Every weight multiplied by one constant is the same unpenalised problem: weights of 1e38
    overflowed the float32 rank screen ("Eigenvalues did not converge"). The fit at that scale
    is certified on the unit-weight data set, by the checker alone."""
    from dualmaxent import certify, solve_dual

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 1] + rng.normal(size=200) > 0).astype(int)
    heavy = Dataset.from_arrays(X, y, family="bernoulli", weights=np.full(200, scale))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        theta = solve_dual(heavy).theta
    unit = Dataset.from_arrays(X, y, family="bernoulli")
    cert = certify(unit, theta)
    assert cert.ok, cert.messages


def test_weights_too_large_for_float64_are_named_as_the_cause():
    """Weights whose sums of squares overflow float64 are a one-line error that blames them,
    not a feature of size 4."""
    from dualmaxent.exceptions import DataError

    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(DataError, match="the weights' scale is the cause"):
        Dataset.from_arrays(X, (X[:, 0] > 0).astype(int), family="bernoulli",
                            weights=np.full(50, 1e307))


def test_rows_of_weight_zero_do_not_set_the_features_scale():
    """Rows of weight zero do not enter the problem: with features of 1e150 on them, the solver
    had rescaled those columns by 2^-498 from them and reported convergence at a theta far from
    the optimum (NOT OK). The fit is the one without those rows, certified on both."""
    from dualmaxent import certify, solve_dual

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 1] + rng.normal(size=200) > 0).astype(int)
    X[:10] = 1e150
    w = np.ones(200)
    w[:10] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = Dataset.from_arrays(X, y, family="bernoulli", weights=w)
        theta = solve_dual(ds).theta
        assert certify(ds, theta).ok
    kept = Dataset.from_arrays(X[10:], y[10:], family="bernoulli")
    assert certify(kept, theta).ok
