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
from dualmaxent.primal import default_solver_options
from dualmaxent.projected import project_primal
from dualmaxent.results import make_penalty
from dualmaxent.separation import detect_separation

from _factories import FAMILIES, L1_LAMBDA, L2_LAMBDA, make_dataset, overlapping, separable

def _cvxpy_slack(primal, n, n_cones, scale):
    """How far CVXPY's reported objective may sit from the optimum, by Clarabel's own criteria.

    Clarabel stops when its duality gap is below ``tol_gap_abs + tol_gap_rel |objective|`` and
    each conic row holds to ``tol_feas`` times the row's scale; the objective is a sum of one
    epigraph variable per exponential cone, so the rows' violations add up to ``n_cones`` of
    them. An "optimal_inaccurate" solve met only the solver's reduced tolerances, and is
    judged by those.
    """
    options = default_solver_options("CLARABEL", n)
    if primal.status == "optimal":
        gap_abs, gap_rel, feas = (options["tol_gap_abs"], options["tol_gap_rel"],
                                  options["tol_feas"])
    else:
        assert primal.status == "optimal_inaccurate", primal.status
        import clarabel
        reduced = clarabel.DefaultSettings()
        gap_abs, gap_rel, feas = (reduced.reduced_tol_gap_abs, reduced.reduced_tol_gap_rel,
                                  reduced.reduced_tol_feas)
    return gap_abs + gap_rel * scale + feas * n_cones * scale


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


def _gamma(length):
    """``gamma(L) = L u / (1 - L u)``: the worst-case relative error of a sum of ``L`` terms."""
    u = np.finfo(float).eps / 2
    return length * u / (1 - length * u)


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

    # the bounds, recomputed from their definitions; the two computations differ by the
    # rounding of sums of n q + m terms, at most gamma(L) times the sum of their magnitudes
    q = data.Y.reshape(data.n, -1).shape[1]
    L = data.n * q + data.m + 8
    resid = _balance(data, pp.mu)
    scale = 1.0 + np.abs(_balance(data, np.zeros_like(data.Y))).max()
    pen_rows = np.arange(data.m) < data.m - 1 if kind != "none" else np.zeros(data.m, bool)
    lower = _entropy(data, pp.mu)
    if kind == "l2":
        lower -= float(np.sum(resid[pen_rows] ** 2)) / (2 * lam)
    upper = _neg_loglik(data, dual.theta) + _penalty(data, dual.theta, kind, lam or 0.0)
    eta = data.X @ np.asarray(dual.theta).reshape(data.m, -1)
    magnitude = float(data.weights @ (np.abs(pp.mu).reshape(data.n, -1).sum(axis=1) * 4
                                      + np.abs(data.Y * eta.squeeze()).reshape(data.n, -1).sum(1)
                                      + np.abs(eta).reshape(data.n, -1).sum(axis=1) + 1.0))
    assert pp.lower_bound == pytest.approx(lower, abs=_gamma(L) * (magnitude + abs(lower)))
    assert pp.upper_bound == pytest.approx(upper, abs=_gamma(L) * (magnitude + abs(upper)))
    # feasibility: the equality rows hold to the rounding of the residual's sums and of the
    # Newton solve behind the point (its backward error times the system's condition)
    abs_resid = np.abs(data.X).T @ (data.weights[:, None]
                                    * (np.abs(pp.mu) + np.abs(data.Y)).reshape(data.n, -1))
    feasible = _gamma(L) * max(1.0, pp.condition) * float(abs_resid.max()) / scale
    assert np.abs(resid[~pen_rows]).max(initial=0) / scale <= feasible
    if kind == "l1":
        assert np.abs(resid[pen_rows]).max() <= lam + feasible * scale
    assert pp.balance_residual <= feasible
    if family == "categorical":  # k terms per row, each moved by a step of its own size
        rows = np.abs(pp.mu).sum(axis=1)
        assert np.abs(pp.mu.sum(axis=1) - 1.0).max() <= _gamma(4 * q + 4) * (1 + rows.max())
        assert pp.mu.min() > 0
    if family == "bernoulli":
        assert 0 < pp.mu.min() and pp.mu.max() < 1
    if family == "poisson":
        assert pp.mu.min() > 0
    # weak duality: lower <= CVXPY's optimum <= upper, up to CVXPY's accuracy: its reported
    # objective's tolerance, and the first-order effect of its own point's residual
    theta = np.asarray(dual.theta).reshape(data.m, -1)
    cvx_resid = _balance(data, primal.mu)
    slack = (_cvxpy_slack(primal, data.n, data.n * q, max(1.0, abs(upper)))
             + float(np.abs(theta[~pen_rows] * cvx_resid[~pen_rows]).sum()))
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
    slack = _cvxpy_slack(primal, data.n, int((~forced).sum()), max(1.0, abs(pp.upper_bound)))
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
