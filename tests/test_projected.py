"""The projected primal point: feasible, in the domain, and bracketing the CVXPY optimum.

The point and its bracket are numpy's alone and are tested without CVXPY; the comparisons with
CVXPY's answer, separate tests, need it.

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


def _finite_primal(data, kw):
    """CVXPY's primal by Clarabel, or by SCS when Clarabel returns no finite point.

    The comparison below rests on weak duality alone, so any finite point and multipliers
    serve, however accurate; what a conic solver does on another machine (Clarabel's own linear
    algebra, not OpenBLAS's) must not decide whether our bracket is tested. One of the two must
    give a finite answer, else this fails saying both statuses.
    """
    tried = []
    for solver in ("CLARABEL", "SCS"):
        primal = solve_primal(data, solver=solver, **kw)
        tried.append(f"{solver}: {primal.status} ({primal.message})")
        if primal.mu is not None and primal.theta is not None and np.all(
                np.isfinite(primal.mu)) and np.all(np.isfinite(primal.theta)):
            return primal
    raise AssertionError("no CVXPY solver gave a finite point: " + "; ".join(tried))


CASES = [(f, kind) for f in FAMILIES for kind in ("none", "l2", "l1")]


def _needs_cvxpy():
    """CVXPY, or a skip saying so: only the comparisons with its answer need it (a core
    dependency, but the projected point itself is numpy's alone and is tested without it)."""
    pytest.importorskip("cvxpy", reason="comparing with CVXPY's answer needs cvxpy")


def _case(family, kind):
    """The data, our solve and projected point, and the bracket recomputed from definitions."""
    data = make_dataset(family)
    lam = {"none": None, "l2": L2_LAMBDA[family], "l1": L1_LAMBDA[family]}[kind]
    kw = {} if kind == "none" else {kind: lam}
    dual = solve_dual(data, **kw)
    pp = project_primal(data, dual.theta, make_penalty(**kw))
    # the bounds' sums differ from ours by the rounding of n q + m terms, at most gamma(L) times
    # the sum of their magnitudes
    q = data.Y.reshape(data.n, -1).shape[1]
    L = data.n * q + data.m + 8
    pen_rows = np.arange(data.m) < data.m - 1 if kind != "none" else np.zeros(data.m, bool)
    resid = _balance(data, pp.mu)
    lower = _entropy(data, pp.mu)
    if kind == "l2":
        lower -= float(np.sum(resid[pen_rows] ** 2)) / (2 * lam)
    upper = _neg_loglik(data, dual.theta) + _penalty(data, dual.theta, kind, lam or 0.0)
    eta = data.X @ np.asarray(dual.theta).reshape(data.m, -1)
    magnitude = float(data.weights @ (np.abs(pp.mu).reshape(data.n, -1).sum(axis=1) * 4
                                      + np.abs(data.Y * eta.squeeze()).reshape(data.n, -1).sum(1)
                                      + np.abs(eta).reshape(data.n, -1).sum(axis=1) + 1.0))
    return dict(data=data, lam=lam, kw=kw, dual=dual, pp=pp, q=q, L=L, pen_rows=pen_rows,
                resid=resid, lower=lower, upper=upper, magnitude=magnitude)


@pytest.mark.parametrize("family,kind", CASES)
def test_projected_point_brackets_from_its_definitions(family, kind):
    c = _case(family, kind)
    data, lam, dual, pp, q, L = c["data"], c["lam"], c["dual"], c["pp"], c["q"], c["L"]
    resid, pen_rows, lower, upper, magnitude = (c["resid"], c["pen_rows"], c["lower"],
                                                c["upper"], c["magnitude"])
    assert dual.converged, dual.message
    assert pp.lower_bound == pytest.approx(lower, abs=_gamma(L) * (magnitude + abs(lower)))
    assert pp.upper_bound == pytest.approx(upper, abs=_gamma(L) * (magnitude + abs(upper)))
    # feasibility: the equality rows hold to the rounding of the residual's sums and of the
    # Newton solve behind the point (its backward error times the system's condition)
    scale = 1.0 + np.abs(_balance(data, np.zeros_like(data.Y))).max()
    abs_resid = np.abs(data.X).T @ (data.weights[:, None]
                                    * (np.abs(pp.mu) + np.abs(data.Y)).reshape(data.n, -1))
    feasible = _gamma(L) * max(1.0, pp.condition) * float(abs_resid.max()) / scale
    assert np.abs(resid[~pen_rows]).max(initial=0) / scale <= feasible, (
        np.abs(resid[~pen_rows]).max(initial=0) / scale, feasible, pp.condition)
    if kind == "l1":
        assert np.abs(resid[pen_rows]).max() <= lam + feasible * scale
    assert pp.balance_residual <= feasible
    if family == "categorical":  # k terms per row, each moved by a step of its own size
        rows = np.abs(pp.mu).sum(axis=1)
        assert np.abs(pp.mu.sum(axis=1) - 1.0).max() <= _gamma(4 * q + 4) * (1 + rows.max()), (
            np.abs(pp.mu.sum(axis=1) - 1.0).max(), rows.max())
        assert pp.mu.min() > 0, pp.mu.min()
    if family == "bernoulli":
        assert 0 < pp.mu.min() and pp.mu.max() < 1
    if family == "poisson":
        assert pp.mu.min() > 0
    assert -pp.roundoff <= pp.duality_gap <= 1e-10 * max(1.0, abs(upper)), (
        pp.duality_gap, pp.roundoff, upper)


@pytest.mark.parametrize("family,kind", CASES)
def test_projected_point_brackets_the_cvxpy_optimum(family, kind):
    _needs_cvxpy()
    c = _case(family, kind)
    data, lam, dual, L = c["data"], c["lam"], c["dual"], c["L"]
    pen_rows, lower, upper, magnitude = c["pen_rows"], c["lower"], c["upper"], c["magnitude"]
    primal = _finite_primal(data, c["kw"])
    # CVXPY's answer on either side of the bracket, by weak duality alone, so that nothing rests
    # on CVXPY's accuracy (which differs between machines and versions): its multipliers'
    # dual objective is above our lower bound, and its point, put in the family's domain, is
    # worth at most our upper bound once its residual is paid at our theta (Fenchel-Young)
    theta = np.asarray(dual.theta).reshape(data.m, -1)
    theta_c = np.asarray(primal.theta).reshape(np.shape(dual.theta))
    dual_c = _neg_loglik(data, theta_c) + _penalty(data, theta_c, kind, lam or 0.0)
    eta_c = (data.X @ theta_c.reshape(data.m, -1))
    magnitude_c = float(data.weights @ (np.abs(data.Y.reshape(data.n, -1) * eta_c).sum(axis=1)
                                        + 2 * np.abs(eta_c).sum(axis=1) + 1.0))
    assert lower <= dual_c + _gamma(L) * (magnitude + magnitude_c + abs(lower) + abs(dual_c)), (
        lower, dual_c, _gamma(L) * (magnitude + magnitude_c + abs(lower) + abs(dual_c)),
        primal.status)
    value_c, paid_c, magnitude_p = _worth_at(data, primal.mu, theta, pen_rows, kind, lam)
    assert value_c - paid_c <= upper + _gamma(L) * (magnitude + magnitude_p + abs(upper)), (
        value_c, paid_c, upper, _gamma(L) * (magnitude + magnitude_p + abs(upper)), primal.status)


def _worth_at(dataset, mu, theta, pen_rows, kind, lam):
    """``(value, paid, magnitude)`` of a point from another solver, at our theta.

    The point is moved into the family's domain (clipped; the categorical rows renormalised),
    where ``A*`` is finite. By Fenchel-Young, ``-A*(mu_j) + eta_j mu_j <= A(eta_j)``, so
    ``H(mu) + <theta, r> <= -l(theta)`` for every such ``mu`` and every theta (``r = X^T W
    (mu - Y)``), and on the penalised rows ``<theta_R, s> >= -pen(theta) - pen*(s)``: ``pen* =
    |s|^2 / (2 lam)`` for L2, and for L1 ``sum |theta_R| (|s| - lam)_+`` outside the boxes. So
    ``value = H(mu) - charge`` (the primal objective, L2's charge included) minus ``paid =
    -<theta_eq, r_eq>`` (plus L1's excess) is at most ``-l(theta) + pen(theta)``, our upper
    bound, exactly.
    """
    fam = _name(dataset)
    mu = np.array(mu, dtype=float).reshape(dataset.Y.shape)
    if fam == "categorical":
        mu = np.clip(mu, 0.0, None)
        mu /= mu.sum(axis=1, keepdims=True)
    elif fam == "bernoulli":
        mu = np.clip(mu, 0.0, 1.0)
    elif fam == "poisson":
        mu = np.clip(mu, 0.0, None)
    r = _balance(dataset, mu)
    th = theta.reshape(r.shape)
    value = _entropy(dataset, mu)
    paid = -float(np.sum(th[~pen_rows] * r[~pen_rows]))
    if kind == "l2":
        value -= float(np.sum(r[pen_rows] ** 2)) / (2 * lam)
    elif kind == "l1":
        paid += float(np.sum(np.abs(th[pen_rows]) * np.maximum(np.abs(r[pen_rows]) - lam, 0)))
    absolute = np.abs(dataset.X).T @ (dataset.weights[:, None]
                                      * (np.abs(mu) + np.abs(dataset.Y)).reshape(dataset.n, -1))
    magnitude = (abs(value) + 4 * float(dataset.weights @ np.abs(mu).reshape(dataset.n, -1)
                                        .sum(axis=1)) + float(np.sum(np.abs(th) * absolute)))
    return value, paid, magnitude


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


def _separated_case():
    data = load_dataset("iris")
    forced = detect_separation(data).forced
    dual = solve_dual(data, forced=forced)
    return data, forced, dual, project_primal(data, dual.theta, forced=forced)


def test_separated_data_reduced_point_keeps_forced_entries_at_zero():
    data, forced, dual, pp = _separated_case()
    assert np.all(pp.mu[forced] == 0.0)
    assert pp.mu[~forced].min() > 0
    assert np.abs(_balance(data, pp.mu)).max() <= 1e-11
    assert not pp.proves_attained  # the reduced problem proves nothing about attainment


def test_separated_data_reduced_bracket_holds_cvxpy_answer():
    _needs_cvxpy()
    data, forced, dual, pp = _separated_case()
    primal = solve_primal(data, forced=forced)
    # weak duality on the reduced problem (the forced entries' probabilities fixed at 0): the
    # reduced dual at CVXPY's multipliers is above our lower bound, and CVXPY's point, on the
    # face of the simplex, is worth at most the reduced dual at our theta (Fenchel-Young)
    def reduced_dual(theta):
        eta = np.where(forced, -np.inf, data.X @ np.asarray(theta).reshape(data.m, -1))
        free_eta = np.where(forced, 0.0, eta)
        return float(-data.weights @ ((data.Y * free_eta).sum(axis=1) - logsumexp(eta, axis=1)))

    upper = reduced_dual(dual.theta)
    dual_c = reduced_dual(primal.theta)
    L = data.n * data.k + data.m + 8
    scale = float(data.weights @ np.abs(data.X @ np.asarray(primal.theta)).sum(axis=1)) + 1.0
    assert pp.lower_bound <= dual_c + _gamma(L) * (4 * scale + abs(dual_c) + abs(pp.lower_bound))
    mu_c = np.where(forced, 0.0, np.clip(primal.mu, 0.0, None))
    mu_c /= mu_c.sum(axis=1, keepdims=True)
    value_c, paid_c, magnitude_p = _worth_at(data, mu_c, np.asarray(dual.theta),
                                             np.zeros(data.m, dtype=bool), "none", None)
    assert value_c - paid_c <= upper + _gamma(L) * (magnitude_p + 4 * scale + abs(upper))


def test_attainment_is_proved_on_overlapping_data_and_not_on_separated_data():
    assert project_primal(overlapping(), solve_dual(overlapping()).theta).proves_attained
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for data in (separable(), load_dataset("iris")):
            pp = project_primal(data, solve_dual(data).theta)
            assert not pp.proves_attained
            assert pp.min_entry <= 1e-9  # the would-be feasible point touches the boundary
