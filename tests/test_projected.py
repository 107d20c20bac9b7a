"""The projected primal point: feasible, in the domain, and bracketing the CVXPY optimum.

Every figure is recomputed here from its definition (the balance equations, the entropy, the
log-likelihood with scipy's logsumexp), not read back from the object under test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp, xlogy

from dualmaxent import Dataset, load_dataset, solve_dual, solve_primal
from dualmaxent.projected import project_primal
from dualmaxent.results import make_penalty
from dualmaxent.separation import detect_separation

from _factories import FAMILIES, L1_LAMBDA, L2_LAMBDA, make_dataset, overlapping, separable

#: CVXPY's optimum is accurate to about 1e-9 relative at Clarabel's tightened tolerances.
CVXPY_RTOL = 1e-8


def _name(dataset):
    return getattr(dataset.family, "name", dataset.family)


def _balance(dataset, mu):
    """``X^T W (mu - Y)`` from the definition, shape (m, q)."""
    n = dataset.n
    return dataset.X.T @ (dataset.weights[:, None] * (mu - dataset.Y).reshape(n, -1))


def _entropy(dataset, mu):
    """``-sum_j w_j A*(mu_j)`` from each family's conjugate, written out."""
    fam, w = _name(dataset), dataset.weights
    if fam == "categorical":
        return float(-w @ xlogy(mu, mu).sum(axis=1))
    if fam == "bernoulli":
        return float(-w @ (xlogy(mu, mu) + xlogy(1 - mu, 1 - mu)))
    if fam == "poisson":
        return float(-w @ (xlogy(mu, mu) - mu))
    return float(-w @ (0.5 * mu**2))


def _neg_loglik(dataset, theta):
    """``-sum_j w_j [<Y_j, eta_j> - A(eta_j)]`` from the definition."""
    fam, w, Y = _name(dataset), dataset.weights, dataset.Y
    eta = dataset.X @ theta
    if fam == "categorical":
        return float(-w @ ((Y * eta).sum(axis=1) - logsumexp(eta, axis=1)))
    A = {"bernoulli": np.logaddexp(0, eta), "poisson": np.exp(eta), "gaussian": eta**2 / 2}[fam]
    return float(-w @ (Y * eta - A))


def _penalty(dataset, theta, kind, lam):
    rows = slice(0, dataset.m - 1) if dataset.intercept else slice(None)
    t = np.asarray(theta)[rows]
    return {"none": 0.0, "l2": 0.5 * lam * float(np.sum(t**2)),
            "l1": lam * float(np.sum(np.abs(t)))}[kind]


CASES = [(f, kind) for f in FAMILIES for kind in ("none", "l2", "l1")]


@pytest.mark.parametrize("family,kind", CASES)
def test_projected_point_brackets_the_cvxpy_optimum(family, kind):
    data = make_dataset(family)
    lam = {"none": None, "l2": L2_LAMBDA[family], "l1": L1_LAMBDA[family]}[kind]
    kw = {} if kind == "none" else {kind: lam}
    dual = solve_dual(data, **kw)
    primal = solve_primal(data, **kw)
    pp = project_primal(data, dual.theta, make_penalty(**kw))

    # the bounds, recomputed from their definitions
    resid = _balance(data, pp.mu)
    scale = 1.0 + np.abs(_balance(data, np.zeros_like(data.Y))).max()
    pen_rows = np.arange(data.m) < data.m - 1 if kind != "none" else np.zeros(data.m, bool)
    lower = _entropy(data, pp.mu)
    if kind == "l2":
        lower -= float(np.sum(resid[pen_rows] ** 2)) / (2 * lam)
    upper = _neg_loglik(data, dual.theta) + _penalty(data, dual.theta, kind, lam or 0.0)
    assert pp.lower_bound == pytest.approx(lower, rel=1e-12, abs=1e-12)
    assert pp.upper_bound == pytest.approx(upper, rel=1e-12, abs=1e-12)
    # feasibility: the equality rows hold, the L1 boxes hold, the domain holds
    assert np.abs(resid[~pen_rows]).max(initial=0) / scale <= 1e-13
    if kind == "l1":
        assert np.abs(resid[pen_rows]).max() <= lam * (1 + 1e-12)
    assert pp.balance_residual <= 1e-13
    if family == "categorical":
        np.testing.assert_allclose(pp.mu.sum(axis=1), 1.0, atol=1e-14)
        assert pp.mu.min() > 0
    if family == "bernoulli":
        assert 0 < pp.mu.min() and pp.mu.max() < 1
    if family == "poisson":
        assert pp.mu.min() > 0
    # weak duality: lower <= CVXPY's optimum <= upper (CVXPY's accuracy), and a closed gap
    slack = CVXPY_RTOL * max(1.0, abs(upper))
    assert lower - slack <= primal.objective <= upper + slack
    assert -pp.roundoff <= pp.duality_gap <= 1e-10 * max(1.0, abs(upper))


def test_perturbed_theta_opens_a_gap_that_grows_like_the_squared_residual():
    data = overlapping()
    theta = solve_dual(data).theta
    direction = np.random.default_rng(3).normal(size=theta.shape)
    direction[:, -1] = 0.0
    gaps, grads = [], []
    for eps in (1e-4, 1e-3):
        pp = project_primal(data, theta + eps * direction)
        P = np.exp(data.X @ (theta + eps * direction))
        P /= P.sum(axis=1, keepdims=True)
        grads.append(np.abs(_balance(data, P)).max())
        gaps.append(pp.duality_gap)
        assert pp.balance_residual <= 1e-12  # still feasible: the bound is a bound
    assert gaps[0] > 0 and gaps[1] > 0
    # ten times the residual, a hundred times the gap (the bound is quadratic)
    ratio = gaps[1] / gaps[0]
    assert 60 < ratio < 160, ratio
    assert grads[1] / grads[0] == pytest.approx(10, rel=0.2)


def test_weights_and_zero_weights_are_respected():
    X, y = make_dataset("categorical").X[:, :-1], make_dataset("categorical").y
    w = np.random.default_rng(2).integers(0, 4, size=len(y)).astype(float)
    data = Dataset.from_arrays(X, y, weights=w)
    pp = project_primal(data, solve_dual(data).theta)
    assert np.abs(_balance(data, pp.mu)).max() <= 1e-12
    assert pp.lower_bound == pytest.approx(_entropy(data, pp.mu), rel=1e-13)
    assert pp.relative_gap <= 1e-12


def test_rank_deficient_design_is_solved_on_the_range():
    base = make_dataset("categorical")
    X = base.X[:, :-1]
    X = np.column_stack([X, 2 * X[:, 0] + 1])  # collinear with the intercept
    data = Dataset.from_arrays(X, base.y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theta = solve_dual(data).theta
    pp = project_primal(data, theta)
    assert pp.rank < pp.size
    assert np.abs(_balance(data, pp.mu)).max() <= 1e-11
    assert abs(pp.duality_gap) <= max(pp.roundoff, 1e-10)


def test_separated_data_reduced_point_keeps_forced_entries_at_zero():
    data = load_dataset("iris")
    forced = detect_separation(data).forced
    dual = solve_dual(data, forced=forced)
    pp = project_primal(data, dual.theta, forced=forced)
    assert np.all(pp.mu[forced] == 0.0)
    assert pp.mu[~forced].min() > 0
    assert np.abs(_balance(data, pp.mu)).max() <= 1e-11
    primal = solve_primal(data, forced=forced)
    slack = CVXPY_RTOL * max(1.0, pp.upper_bound)
    assert pp.lower_bound - slack <= primal.objective <= pp.upper_bound + slack
    assert not pp.proves_attained  # the reduced problem proves nothing about attainment


def test_attainment_is_proved_on_overlapping_data_and_not_on_separated_data():
    assert project_primal(overlapping(), solve_dual(overlapping()).theta).proves_attained
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for data in (separable(), load_dataset("iris")):
            pp = project_primal(data, solve_dual(data).theta)
            assert not pp.proves_attained
            assert pp.min_entry <= 1e-9  # the would-be feasible point touches the boundary
