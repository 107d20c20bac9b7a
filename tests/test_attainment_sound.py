"""The projected point's attainment proof divides by a proved lower bound of the curvature.

:func:`dualmaxent.projected.project_primal` proves that the likelihood's maximiser exists when
``second_step = 2 rho |r~_S| / lambda`` is small, which needs ``lambda <= lambda_min(C_SS)`` of
the *exact* curvature at theta. The solver's last curvature
(:meth:`dualmaxent.objective.DualObjective.last_pass`) may be a Newton Hessian formed at the
iterate before theta, or a row sample's scaled up by its stride; the proof turns either into a
bound (:func:`dualmaxent.projected.proof_curvature_bound`). These tests recompute
``lambda_min`` from the definitions (the curvature formed densely at theta) and compare, with
slack from worst-case round-off bounds only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _factories import make_dataset, overlapping, separated_sets, three_classes_two_features

from dualmaxent import _kernels as K
from dualmaxent import _numerics as nx
from dualmaxent import projected as PJ
from dualmaxent.certify import factor
from dualmaxent.dual import solve_dual
from dualmaxent.objective import DualObjective, LastPass, make_objective

U = 2.0 ** -53
EPS = 2 * U


def _gamma(L):
    return K.gamma(L, U)


def _exact_smallest(ds, theta):
    """``lambda_min`` of the curvature at theta on the free entries, less its round-off: the
    float64 curvature's smallest eigenvalue minus ``gamma(n + 8)`` times the magnitudes' trace
    (a bound of the sums' error in 2-norm) and the eigensolver's ``8 p u ||C||``."""
    theta = np.asarray(theta, dtype=np.float64).reshape(ds.m, -1)
    if ds.family.multiclass:
        P = nx.softmax(ds.X @ theta)
        q = theta.shape[1] - 1
        C = K.table_curvature(ds.X, ds.weights, P, range(q))
        M = sum(float(((ds.weights * P[:, a] * (1 + P[:, a]))[:, None] * ds.X ** 2).sum())
                for a in range(q))
    else:
        v = ds.family.variance(ds.X @ theta[:, 0])
        C = ds.X.T @ ((ds.weights * v)[:, None] * ds.X)
        M = float(np.trace(C))
    err = 2 * _gamma(ds.n + 8) * M * len(C) + 8 * len(C) * U * np.abs(C).sum()
    return float(np.linalg.eigvalsh(C)[0]) - err


def _sums(ds, theta):
    """Pass 2's reductions at theta (no step): the rows' largest norm and the largest mean."""
    T = np.asarray(theta, dtype=np.float64).reshape(ds.m, -1)
    classes = range(T.shape[1] - 1) if ds.family.multiclass else None
    return PJ.point_block(ds.X, ds.Y, ds.weights, None, T, np.zeros_like(T), ds.family,
                          classes=classes, magnitudes=True)


def _free(C, ds):
    """The curvature on S (every free entry, unpenalised) as the kernels lay it out: all of it."""
    return np.asarray(C)


def test_a_stale_newton_hessian_is_discounted_to_a_bound_of_the_curvature_at_theta():
    ds = overlapping(n=3000, p=4, k=4, seed=1)
    obj = DualObjective(ds)
    res = solve_dual(ds, tol=1e-10)
    rng = np.random.default_rng(0)
    theta_c = np.asarray(res.theta).copy()
    obj._loglik(theta_c, hessian=True)  # a Newton Hessian formed at theta_C
    for scale in (0.01, 0.3, 1.0):
        moved = theta_c + scale * rng.normal(size=theta_c.shape) * (np.arange(ds.k) < ds.k - 1)
        obj._loglik(moved)  # theta moves on; no curvature formed there
        lp = obj.last_pass(moved)
        assert isinstance(lp, LastPass) and lp.full and lp.scale == 1.0
        assert np.array_equal(lp.point, theta_c)  # says where its C was formed
        G, C, value = lp  # still the 3-tuple its users unpack
        exact = _exact_smallest(ds, moved)
        bound = PJ.proof_curvature_bound(C, lp, ds.family, moved, _sums(ds, moved), len(C),
                                         len(C), n=ds.n)
        assert 0 <= bound <= exact and (bound > 0 or scale > 0.01)  # far off: nothing proved
        if scale == 1.0:
            # what the old check divided by: the stale C's own eigenvalue, above the exact one
            assert factor(C, ds.n)[3] > exact
        pp = PJ.project_primal(ds, moved, keep_mu=False, first_pass=lp)
        assert pp.proof_curvature <= exact


def test_a_scaled_row_sample_is_divided_by_its_scale():
    ds = three_classes_two_features()
    n = ds.n
    res = solve_dual(ds, tol=1e-9)
    obj = DualObjective(ds)
    theta = obj.gauge_fix(res.theta)
    obj.smooth_value_grad(obj.beta(theta))  # a pass at theta, no curvature (Newton-CG's)
    lp = obj.last_pass(theta)
    assert isinstance(lp, LastPass) and not lp.full and lp.scale >= 2
    assert lp.rows == len(range(0, n, int(lp.scale))) and lp.dtype == np.float64
    assert np.array_equal(lp.point, theta)
    exact = _exact_smallest(ds, theta)
    bound = PJ.proof_curvature_bound(lp[1], lp, ds.family, theta, _sums(ds, theta),
                                     len(lp[1]), len(lp[1]), n=ds.n)
    assert 0 < bound <= exact
    pp = PJ.project_primal(ds, theta, keep_mu=False, first_pass=lp)
    assert pp.proves_attained and 0 < pp.proof_curvature <= exact
    # the sample's own curvature (unscaled) is below the full one in the PSD order
    low = np.linalg.eigvalsh(_exact_curvature(ds, theta) - lp[1] / lp.scale)[0]
    assert low >= -1e-6 * np.abs(lp[1]).max()


def _exact_curvature(ds, theta):
    P = nx.softmax(ds.X @ theta)
    return K.table_curvature(ds.X, ds.weights, P, range(theta.shape[1] - 1))


@pytest.mark.parametrize("family", ["categorical", "bernoulli", "poisson"])
def test_the_curvature_at_theta_itself_gives_a_bound_and_proves(family):
    ds = overlapping(n=2000, k=3) if family == "categorical" else make_dataset(family, n=800)
    res = solve_dual(ds, tol=1e-10)
    theta = np.asarray(res.theta)
    pp = PJ.project_primal(ds, theta, keep_mu=False)  # its own pass at theta, float64
    T = theta.reshape(ds.m, -1)
    assert pp.proves_attained and 0 < pp.proof_curvature <= _exact_smallest(ds, T)
    obj = make_objective(ds)
    obj._loglik(obj.theta(obj.beta(T)), hessian=True)
    lp = obj.last_pass(obj.theta(obj.beta(T)))
    assert lp.full and np.array_equal(lp.point.reshape(T.shape), T)


def test_poisson_curvature_along_a_segment_stays_above_exp_minus_rho_delta():
    ds = make_dataset("poisson", n=300)
    rng = np.random.default_rng(2)
    rho = float(np.sqrt(np.einsum("ij,ij->i", ds.X, ds.X)).max())
    for scale in (0.05, 0.3, 1.0):
        theta = rng.normal(size=ds.m) * 0.3
        delta = rng.normal(size=ds.m) * scale
        C0 = ds.X.T @ ((ds.weights * np.exp(ds.X @ theta))[:, None] * ds.X)
        C1 = ds.X.T @ ((ds.weights * np.exp(ds.X @ (theta + delta)))[:, None] * ds.X)
        f = np.exp(-PJ._STALE_CONSTANT["poisson"] * rho * np.linalg.norm(delta))
        low = np.linalg.eigvalsh(C1 - f * C0)[0]
        assert low >= -4 * _gamma(ds.n + 8) * (np.trace(C1) + np.trace(C0)) * ds.m


def test_an_unknown_curvature_proves_nothing():
    ds = overlapping(n=2000, k=4)
    res = solve_dual(ds, tol=1e-10)
    obj = DualObjective(ds)
    theta = np.asarray(res.theta)
    obj._loglik(theta, hessian=True)
    C = obj.last_pass(theta)[1]
    obj.forget()
    obj.seed_curvature(C.copy())  # a curvature from elsewhere: its point is not known
    obj._loglik(theta)
    lp = obj.last_pass(theta)
    assert lp.point is None
    pp = PJ.project_primal(ds, theta, keep_mu=False, first_pass=lp)
    assert not pp.proves_attained and pp.proof_curvature == 0.0
    plain = tuple(lp)  # a bare tuple says nothing either
    assert not PJ.project_primal(ds, theta, keep_mu=False, first_pass=plain).proves_attained


@pytest.mark.parametrize("method", ["newton", "newton-cg", "lbfgs"])
def test_separated_data_are_never_declared_attained(method):
    data = separated_sets()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ds in data:
            for max_iter in (1, 3, 10, 50, 200):
                for tol in (1e-4, 1e-10):
                    res = solve_dual(ds, tol=tol, max_iter=max_iter, method=method,
                                     check_attainment=False)
                    obj = make_objective(ds)
                    theta = obj.theta(obj.beta(np.asarray(res.theta)))
                    obj._loglik(theta * 0.9, hessian=True)  # a stale curvature
                    obj._loglik(theta)
                    for first in (obj.last_pass(theta), None):
                        pp = PJ.project_primal(ds, theta, keep_mu=False, first_pass=first)
                        assert not pp.proves_attained
                    assert solve_dual(ds, tol=tol, max_iter=max_iter,
                                      method=method).attained is not True


@pytest.mark.parametrize("method", ["newton", "newton-cg"])
def test_non_separated_data_are_still_proved_by_the_projected_point(monkeypatch, method):
    ds = overlapping(n=4000, p=4, k=4, seed=3)
    built = []
    real = PJ.project_primal
    monkeypatch.setattr(PJ, "curvature_ball", lambda *a, **kw: None)  # the point decides
    monkeypatch.setattr(PJ, "project_primal",
                        lambda *a, **kw: built.append(real(*a, **kw)) or built[-1])
    res = solve_dual(ds, tol=1e-9, method=method)
    assert res.attained is True and len(built) == 1 and built[0].proves_attained
    assert 0 < built[0].proof_curvature <= _exact_smallest(ds, np.asarray(res.theta))


def test_the_balls_bound_serves_the_projected_point():
    ds = three_classes_two_features()
    theta = np.asarray(solve_dual(ds, tol=1e-6).theta)
    obj = DualObjective(ds)
    obj.smooth_value_grad(obj.beta(theta))
    lp = obj.last_pass(theta)
    G = obj.last_gradient(theta)
    ball = PJ.curvature_ball(ds, theta, G)
    exact = _exact_smallest(ds, theta)
    assert 0 < ball.curvature_bound <= exact
    pp = PJ.project_primal(ds, theta, keep_mu=False, first_pass=lp,
                           curvature_bound=ball.curvature_bound)
    assert pp.proves_attained and ball.curvature_bound <= pp.proof_curvature <= exact


def test_a_loose_newton_cg_solve_proves_attainment_without_the_lp(monkeypatch):
    """At tol 1e-4 the curvature ball proves nothing at the solver's point; the projected point
    (from the float64 row sample of ``last_pass``, unscaled, a lower bound) or the ball after a
    few private Newton-CG steps must still prove the maximiser's existence, not the separation LP
    (minutes and gigabytes on large data)."""
    from dualmaxent import separation
    from dualmaxent.bench import synthetic

    def no_lp(*args, **kwargs):
        raise AssertionError("the separation LP ran")

    monkeypatch.setattr(separation, "detect_separation", no_lp)
    for seed in (0, 100_000):  # (seed 100000: the headline bench's data, where the sample's
        # bound alone does not prove and a few private Newton-CG steps bring the ball in reach)
        ds = synthetic(100_000, 51, 10, seed=seed)
        res = solve_dual(ds, tol=1e-4)
        assert res.method == "newton-cg" and res.attained is True
        assert res.kkt_residual > 1e-6  # the result keeps the solver's own, loose theta


def _widely_sized(seed, n=3000, k=5, m=8, separate=False):
    """Features of sizes 1e-2 to 1e3, labels of a strong multinomial model (probabilities
    down to 1e-20 and below), not separated; ``separate``: rows with a large first feature
    all of class 0 (quasi-complete separation by construction)."""
    rng = np.random.default_rng(seed)
    sizes = 10.0 ** rng.uniform(-2, 3, m)
    Z = rng.standard_normal((n, m))
    y = np.argmax(Z @ (6.0 * rng.standard_normal((m, k))) + rng.gumbel(size=(n, k)), axis=1)
    if separate:
        top = Z[:, 0] > np.quantile(Z[:, 0], 0.8)
        y[top] = 0
        y[~top & (y == 0)] = 1
    from dualmaxent import Dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Dataset.from_arrays(Z * sizes, y), top if separate else None


@pytest.mark.parametrize("seed", [0, 4, 7, 13])
def test_features_of_widely_different_sizes_prove_attainment_in_equilibrated_coordinates(
        monkeypatch, seed):
    """The checker's attainment proof bounds the logits' move of the step ``a = C^-1 r`` that
    makes ``mu~`` exactly feasible; in plain coordinates by ``2 max ||x_j|| ||r|| /
    lambda_min(C)``, which features of sizes 1e-2 to 1e3 make large (the units, not the
    geometry), and the separation LP ran (seconds, for a fit of milliseconds). In the
    coordinates that equilibrate C the bound is far smaller, and attainment is proved without
    the LP. Recomputed here from the definitions at theta: the plain bound exceeds 1/2, and
    the corrected point ``P - J X a`` (``J`` the softmax's derivative, ``C a = r``) has its
    balance equations at the round-off level and every entry positive, a strictly interior
    feasible point (so the maximiser exists)."""
    import importlib

    certify_module = importlib.import_module("dualmaxent.certify")
    ds, _ = _widely_sized(seed)
    theta = np.asarray(solve_dual(ds, tol=1e-10).theta, dtype=np.float64)
    T = theta - theta[:, -1:]
    X, w, k = ds.X, ds.weights, ds.k
    P = nx.softmax(X @ T)
    R = X.T @ (w[:, None] * (P - ds.Y))[:, : k - 1]  # class-major entries of S: R.T.ravel()
    C = K.table_curvature(X, w, P, range(k - 1))
    a = np.linalg.solve(C, R.T.ravel()).reshape(k - 1, ds.m)
    move = X @ a.T  # the logits' move of the free classes (the pinned one's is 0)
    move = np.c_[move, np.zeros(ds.n)]
    delta = P * (move - (P * move).sum(axis=1, keepdims=True))
    corrected = P - delta
    # each entry moves by at most 2 max|move| of itself (below 1/2): all stay positive
    assert 2 * np.abs(move).max() < 0.5 and corrected.min() > 0
    # and C a = R to the solve's backward error (LU with partial pivoting, small growth), so
    # the corrected point's balance equations X^T W (P - J X a - Y) = R - C a are met
    p = C.shape[0]
    backward = 8 * p * EPS * (np.linalg.norm(C) * np.linalg.norm(a) + np.linalg.norm(R))
    assert np.linalg.norm(C @ a.ravel() - R.T.ravel()) <= backward
    rows = float(np.sqrt((X ** 2).sum(axis=1)).max())
    plain = 2 * rows * float(np.linalg.norm(R)) / float(np.linalg.eigvalsh(C)[0])
    assert plain > 0.5  # (the plain proof cannot prove it)

    def no_lp(*args, **kwargs):
        raise AssertionError("the separation LP ran")

    monkeypatch.setattr("dualmaxent.separation.detect_separation", no_lp)
    cert = certify_module.certify(ds, theta)
    assert cert.attained and cert.ok, cert.messages
    assert cert.projected.second_step < 0.5


def test_separated_data_with_features_of_widely_different_sizes_are_never_declared_attained():
    """The same designs with the rows of a large first feature all of class 0: the likelihood
    has no maximiser, whatever theta, so no proof may say otherwise: at the solver's theta
    (stopped on the way out) and further along the separating direction (class 0's
    coefficient of the first feature)."""
    import importlib

    certify_module = importlib.import_module("dualmaxent.certify")
    for seed in (0, 4, 7):
        ds, top = _widely_sized(seed, separate=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theta = np.asarray(solve_dual(ds, tol=1e-10, check_attainment=False).theta,
                               dtype=np.float64)
        for t in (0.0, 1.0, 100.0):
            moved = theta.copy()
            moved[0, 0] += t / float(np.abs(ds.X[:, 0]).max())
            br = certify_module.bracket(ds, moved, certify_module.Penalty())
            assert not br.proves_attained
