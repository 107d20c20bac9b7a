"""The curvature ball: the solver's cheap proof that the likelihood's maximiser exists.

:func:`dualmaxent.projected.curvature_ball` proves attainment from the last pass's gradient and
a row sample's curvature (the module docstring of :mod:`dualmaxent.projected`). The tests state
its mathematics: each lemma on its own (the rows' class covariance above ``mu_j``, the curvature
along a segment above ``exp(-c rho |delta|)`` times its start, the shifted Cholesky bound below
the smallest eigenvalue), every reported bound against its definition recomputed from the data,
the maximiser inside the ball's radius, and no proof on separated data, where no maximiser
exists. Tolerances are worst-case round-off bounds (``gamma(L)`` times magnitudes).
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
from _factories import make_dataset, overlapping, separated_sets

from dualmaxent import _kernels as K
from dualmaxent import Dataset
from dualmaxent import _numerics as nx
from dualmaxent import projected as PJ
from dualmaxent.dual import solve_dual

CE = importlib.import_module("dualmaxent.certify")  # (the module: the package's certify is a function)
from dualmaxent.objective import make_objective

U = 2.0 ** -53


def _gamma(L):
    return K.gamma(L, U)


def _free_curvature(ds, theta):
    """The exact-arithmetic curvature's float64 form on the free entries, and its error bound
    in 2-norm (``gamma(n + 8)`` times the magnitudes, whose 2-norm is at most their trace)."""
    if ds.family.multiclass:
        P = nx.softmax(ds.X @ theta)
        q = theta.shape[1] - 1
        C = K.table_curvature(ds.X, ds.weights, P, range(q))
    else:
        eta = ds.X @ np.asarray(theta).reshape(ds.m, -1)[:, 0]
        v = ds.family.variance(eta)
        C = ds.X.T @ ((ds.weights * v)[:, None] * ds.X)
    err = 2 * _gamma(ds.n + 8) * float(np.trace(np.abs(C))) * len(C)
    return C, err


def _solved(ds, tol):
    res = solve_dual(ds, tol=tol)
    obj = make_objective(ds)
    theta = np.asarray(res.theta)
    G = obj._loglik(theta)[1]
    return theta, G


@pytest.mark.parametrize("seed", range(6))
def test_mu_bounds_the_smallest_eigenvalue_of_a_rows_free_class_covariance(seed):
    rng = np.random.default_rng(seed)
    for k in (2, 3, 5, 10):
        for p in rng.dirichlet(np.full(k, 0.3 + seed), size=20):
            q = k - 1
            a, b = p[:q].min(), p[q]
            mu = a * b / (a * q + b)
            H = np.diag(p[:q]) - np.outer(p[:q], p[:q])
            # eigvalsh's backward error: a few q u ||H||, with ||H||_2 <= max p
            assert np.linalg.eigvalsh(H)[0] >= mu - 8 * q * U * p.max()
            if k == 2:  # exact for two classes
                assert abs(np.linalg.eigvalsh(H)[0] - p[0] * p[1]) <= 8 * U


@pytest.mark.parametrize("family", ["categorical", "bernoulli"])
def test_curvature_along_a_segment_stays_above_its_start_times_exp_minus_c_rho_delta(family):
    ds = overlapping(n=120, k=4) if family == "categorical" else make_dataset("bernoulli")
    rng = np.random.default_rng(3)
    c = CE._BALL_CONSTANT[family]
    rho = float(np.sqrt(np.einsum("ij,ij->i", ds.X, ds.X)).max())
    shape = (ds.m, ds.k) if family == "categorical" else (ds.m, 1)
    for scale in (0.1, 0.5, 2.0):
        theta = rng.normal(size=shape)
        delta = rng.normal(size=shape) * scale
        if family == "categorical":
            theta[:, -1] = delta[:, -1] = 0.0
        C0, e0 = _free_curvature(ds, theta)
        C1, e1 = _free_curvature(ds, theta + delta)
        factor = np.exp(-c * rho * np.linalg.norm(delta))
        low = np.linalg.eigvalsh(C1 - factor * C0)[0]
        assert low >= -(e1 + e0 + 8 * len(C0) * U * (np.abs(C1).sum() + np.abs(C0).sum()))


def test_shifted_cholesky_bound_is_below_the_smallest_eigenvalue_and_near_it():
    rng = np.random.default_rng(0)
    for n, m in ((40, 5), (300, 20), (2000, 51)):
        X = rng.normal(size=(n, m)) * rng.uniform(0.1, 10, size=m)
        d = rng.uniform(0, 1, size=n)
        Kmat = X.T @ (d[:, None] * X)
        exact = np.linalg.eigvalsh(Kmat)[0]
        bound = PJ._smallest_eigenvalue_bound(Kmat, terms=n)
        # below the smallest eigenvalue, within the eigensolver's and the sums' round-off
        assert bound <= exact + m * _gamma(n + 8) * np.abs(Kmat).max() * 4
        # and near what the equilibration keeps: lambda_min(D K D) / max(D)^2 (half the
        # estimate, less round-off)
        dd = 1.0 / np.sqrt(np.diag(Kmat))
        kept = np.linalg.eigvalsh(dd[:, None] * Kmat * dd[None, :])[0] / dd.max() ** 2
        assert bound >= 0.4 * kept
    X = rng.normal(size=(30, 4))
    X[:, 3] = X[:, 0] + X[:, 1]  # singular: nothing proved
    assert PJ._smallest_eigenvalue_bound(X.T @ X, terms=30) == 0.0


@pytest.mark.parametrize("family", ["categorical", "bernoulli"])
def test_the_balls_bounds_are_bounds_of_their_definitions_and_prove_attainment(family):
    ds = overlapping(n=400, k=4) if family == "categorical" else make_dataset("bernoulli", n=300)
    theta, G = _solved(ds, 1e-10)
    ball = PJ.curvature_ball(ds, theta, G)
    assert ball is not None and ball.proves_attained and ball.rows == ds.n
    # rho bounds every row's norm
    assert ball.row_norm_bound >= float(np.sqrt(np.einsum("ij,ij->i", ds.X, ds.X)).max())
    # |g| on the free entries: the gradient recomputed in float64, within its sums' round-off
    if family == "categorical":
        P = nx.softmax(ds.X @ theta)
        g = (ds.X.T @ (ds.weights[:, None] * (ds.Y - P)))[:, :-1]
        mag = np.abs(ds.X).T @ (ds.weights[:, None] * (np.abs(ds.Y) + P))
    else:
        mu = ds.family.mean(ds.X @ theta.reshape(-1))
        g = ds.X.T @ (ds.weights * (ds.Y - mu))
        mag = np.abs(ds.X).T @ (ds.weights * (np.abs(ds.Y) + mu))
    assert ball.gradient_bound >= np.linalg.norm(g) - _gamma(ds.n + 8) * np.linalg.norm(mag)
    # lambda is below the full curvature's smallest eigenvalue
    C, err = _free_curvature(ds, theta)
    assert ball.curvature_bound <= np.linalg.eigvalsh(C)[0] + err
    # kappa and the radius from their definitions
    c = CE._BALL_CONSTANT[family]
    kappa = c * ball.row_norm_bound * ball.gradient_bound / ball.curvature_bound
    assert kappa <= ball.kappa <= kappa * (1 + _gamma(8)) and ball.kappa <= 0.5
    assert ball.radius == pytest.approx(4.0 / (c * ball.row_norm_bound), rel=4 * U)


def test_the_maximiser_lies_within_the_radius_of_a_loose_solution():
    ds = overlapping(n=3000, p=4, k=5, seed=2)
    loose, G = _solved(ds, 1e-6)
    ball = PJ.curvature_ball(ds, loose, G)
    assert ball.proves_attained
    tight, _ = _solved(ds, 1e-12)
    assert np.linalg.norm((tight - loose)[:, :-1]) < ball.radius


def test_the_ball_proves_nothing_on_separated_data():
    data = separated_sets()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ds in data:
            obj = make_objective(ds)
            for max_iter in (1, 3, 10, 50, 200):
                for tol in (1e-4, 1e-10):
                    res = solve_dual(ds, tol=tol, max_iter=max_iter, check_attainment=False)
                    theta = np.asarray(res.theta)
                    G = obj._loglik(theta)[1]
                    ball = PJ.curvature_ball(ds, theta, G)
                    assert ball is not None and not ball.proves_attained
                    scaled = PJ.curvature_ball(ds, theta, G, equilibrate=True)
                    assert scaled is None or not scaled.proves_attained


def _sizes_apart(n=3000, seed=0, separated=False):
    """Two classes on features of very different sizes: entries near 1 to 1e5, spreads 1e-2 to
    1e4 (so columns near multiples of the intercept), labels from a logistic model of the
    standardised features, or (``separated``) from the sign of the first."""
    rng = np.random.default_rng(seed)
    spread, centre = np.logspace(-2, 4, 6), np.logspace(0, 5, 6)
    Z = rng.standard_normal((n, 6))
    eta = Z @ rng.standard_normal(6) / 2
    y = (Z[:, 0] > 0) if separated else rng.random(n) < 1.0 / (1.0 + np.exp(-eta))
    return Dataset.from_arrays(Z * spread + centre, y.astype(int), family="bernoulli")


def test_the_equilibrated_ball_proves_what_columns_of_very_different_sizes_hid():
    """On features near 1e5 beside one of spread 1e-2 the plain ball's ``kappa`` is huge (its
    ``rho`` 1e5, its ``lambda`` small), while the same likelihood in the coordinates ``theta_i /
    s_i`` (``s`` powers of two near the columns' largest entries) proves the maximiser. Each
    bound is checked against its definition in those coordinates (the design ``X diag(s)``),
    and the tight solve's maximiser lies within the radius there."""
    ds = _sizes_apart()
    theta, G = _solved(ds, 1e-10)
    plain = PJ.curvature_ball(ds, theta, G)
    ball = PJ.curvature_ball(ds, theta, G, equilibrate=True)
    assert not plain.proves_attained and plain.column_scale is None
    assert ball.proves_attained and ball.kappa < 1e-3 * plain.kappa
    s = ball.column_scale
    assert np.all(np.frexp(s)[0] == 0.5)  # powers of two
    big = np.abs(ds.X).max(axis=0) * s
    assert np.all((big >= 0.5) & (big < 1.0))  # (each column's largest entry brought to [0.5, 1))
    Xs = ds.X * s
    assert ball.row_norm_bound >= float(np.sqrt(np.einsum("ij,ij->i", Xs, Xs)).max())
    eta = ds.X @ theta.reshape(-1)
    mu = ds.family.mean(eta)
    g = Xs.T @ (ds.weights * (ds.Y - mu))
    mag = np.abs(Xs).T @ (ds.weights * (np.abs(ds.Y) + mu))
    assert ball.gradient_bound >= np.linalg.norm(g) - _gamma(ds.n + 8) * np.linalg.norm(mag)
    C = Xs.T @ ((ds.weights * ds.family.variance(eta))[:, None] * Xs)
    err = 2 * _gamma(ds.n + 8) * float(np.trace(np.abs(C))) * len(C)
    assert ball.curvature_bound <= np.linalg.eigvalsh(C)[0] + err
    kappa = ball.row_norm_bound * ball.gradient_bound / ball.curvature_bound  # (c = 1)
    assert kappa <= ball.kappa <= kappa * (1 + _gamma(8))
    tight, _ = _solved(ds, 1e-13)
    assert np.linalg.norm((tight - theta).reshape(-1) / s) < ball.radius


def test_the_equilibrated_ball_proves_nothing_on_separated_data_of_any_sizes():
    ds = _sizes_apart(separated=True)
    obj = make_objective(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for max_iter in (1, 5, 20, 100):
            res = solve_dual(ds, tol=1e-10, max_iter=max_iter, check_attainment=False)
            theta = np.asarray(res.theta)
            ball = PJ.curvature_ball(ds, theta, obj._loglik(theta)[1], equilibrate=True)
            assert ball is None or not ball.proves_attained


def test_certify_proves_attainment_on_columns_of_very_different_sizes_without_the_lp(
        monkeypatch):
    """The certificate of an unpenalised fit on such features ran the separation LP (a
    quarter of a second at n = 2e4, ten times the fit) where the plain ball proved nothing:
    now the equilibrated ball proves the maximiser, and the LP is not run."""
    import dualmaxent.separation as SEP

    ds = _sizes_apart()
    theta = solve_dual(ds).theta

    def refused(*a, **kw):
        raise AssertionError("the separation LP ran")

    monkeypatch.setattr(SEP, "detect_separation", refused)
    cert = CE.certify(ds, theta)
    assert cert.attained and cert.ok, cert.messages


def test_solve_dual_skips_the_projected_point_when_the_ball_proves_and_falls_back_otherwise(
        monkeypatch):
    ds = overlapping(n=2000, k=4)
    built = []
    real = PJ.project_primal
    monkeypatch.setattr(PJ, "project_primal",
                        lambda *a, **kw: built.append(1) or real(*a, **kw))
    assert solve_dual(ds, tol=1e-10).attained is True and not built
    # a ball that proves nothing: the projected point decides, as before
    monkeypatch.setattr(PJ, "curvature_ball", lambda *a, **kw: None)
    assert solve_dual(ds, tol=1e-10).attained is True and built


def test_the_ball_declines_what_it_does_not_cover():
    ds = overlapping(n=100, k=3)
    theta, G = _solved(ds, 1e-10)
    moved = theta + 1.0  # not the pivot gauge
    assert PJ.curvature_ball(ds, moved, G) is None


def test_the_refining_steps_stop_at_the_first_ball_that_proves(monkeypatch):
    """After a loose solve (tol 1e-4), :func:`dualmaxent.dual._ball_after_refining` takes one
    Newton-CG step at a time and tries the ball after each, returning at the first that proves:
    no step is taken after the proof (it took every step to ``REFINE_TOL`` before the one
    test). The proof is the ball's own: checked here at the refined point."""
    import dualmaxent.dual as D
    import dualmaxent.solvers as S

    rng = np.random.default_rng(21)
    n, m = 6000, 8
    Xf = rng.standard_normal((n, m))
    y = (rng.random(n) < 1 / (1 + np.exp(-(Xf @ rng.standard_normal(m))))).astype(int)
    ds = Dataset.from_arrays(Xf, y, family="bernoulli")
    loose = solve_dual(ds, tol=1e-4, check_attainment=False)
    obj = make_objective(ds, loose.penalty)
    beta = obj.beta(loose.theta)
    steps, verdicts = [], []
    real_step, real_ball = S._newton_cg, PJ.curvature_ball

    def step(o, b, tol, max_iter, hist):
        steps.append(max_iter)
        return real_step(o, b, tol, max_iter, hist)

    def ball(*a, **kw):
        out = real_ball(*a, **kw)
        verdicts.append(out is not None and out.proves_attained)
        return out

    monkeypatch.setattr(S, "_newton_cg", step)
    monkeypatch.setattr(PJ, "curvature_ball", ball)
    assert D._ball_after_refining(obj, beta)
    assert steps and all(s == 1 for s in steps) and len(steps) <= D.REFINE_STEPS
    # every step's ball was tried, and the last (only the last) proved
    assert verdicts == [False] * (len(steps) - 1) + [True]


def test_a_loose_solve_refines_before_it_projects(monkeypatch):
    """``solve_dual`` at a loose tolerance, where the ball fails at the solver's point: the
    ball is tried again after refining steps before the projected point, and the projected
    point (two passes and a factorisation, 88 ms against the steps' 11 on this problem's
    n = 10^4, m = 50 version) is not computed once the refined ball proves."""
    import dualmaxent.dual as D
    from dualmaxent.bench_sweep import make_data

    X, y = make_data(4000, 20, 10)
    ds = Dataset.from_arrays(X, y)
    order = []
    real_ball, real_point, real_refine = PJ.curvature_ball, PJ.project_primal, \
        D._ball_after_refining

    def ball(*a, **kw):
        out = real_ball(*a, **kw)
        order.append(("ball", out is not None and out.proves_attained))
        return out

    def point(*a, **kw):
        order.append(("point", None))
        return real_point(*a, **kw)

    def refine(*a, **kw):
        order.append(("refine", None))
        return real_refine(*a, **kw)

    monkeypatch.setattr(PJ, "curvature_ball", ball)
    monkeypatch.setattr(PJ, "project_primal", point)
    monkeypatch.setattr(D, "_ball_after_refining", refine)
    res = solve_dual(ds, tol=1e-4)
    assert res.attained is True
    # the solver's point: too rough for the ball, plain and equilibrated
    first = order.index(("refine", None))
    assert first >= 1 and all(o == ("ball", False) for o in order[:first])
    assert order[-1] == ("ball", True)
    assert ("point", None) not in order


@pytest.mark.parametrize("data", ["overlapping", "separated"])
def test_the_checker_proves_a_large_correction_sets_attainment_by_the_ball(monkeypatch, data):
    """Where the bracket's step cannot prove attainment (a correction set larger than
    DENSE_CORRECTION_MAX: no curvature, no eigenvalue), the checker tries the curvature ball at
    theta before the separation LP, which took 64 s on 1204 free entries that the ball proves
    in milliseconds. The ball proves only what holds: on separated data the separation
    decides (theta's own slacks where they prove it complete, else the LP)."""
    from dualmaxent.certify import certify
    from dualmaxent import separation as SE

    monkeypatch.setattr(CE, "DENSE_CORRECTION_MAX", 2)
    ds = overlapping(n=600, p=4, k=3, seed=1) if data == "overlapping" else separated_sets()[0]
    theta = np.asarray(solve_dual(ds, tol=1e-12).theta)
    calls = []
    real = SE.detect_separation
    monkeypatch.setattr(SE, "detect_separation", lambda d: calls.append(1) or real(d))
    cert = certify(ds, theta)
    assert cert.projected.rank == -1 and not cert.projected.proves_attained, "no step's proof"
    if data == "overlapping":
        assert cert.attained and cert.ok and calls == [], "the ball proved it, no LP"
        # what the ball divides by, recomputed: its bound below the free curvature's smallest
        # eigenvalue from the definitions, less that matrix's own rounding
        T = theta - theta[:, -1:]
        C, err = _free_curvature(ds, T)
        G = ds.X.T @ (ds.weights[:, None] * (ds.Y - nx.softmax(ds.X @ T)))
        ball = CE.curvature_ball(ds, T, G)
        assert ball.proves_attained
        assert ball.curvature_bound <= float(np.linalg.eigvalsh(C)[0]) + err
    else:
        assert not cert.attained and cert.separation.separated
        proved = SE.proved_complete(ds, theta) is not None
        assert calls == ([] if proved else [1]), "the separation decided, not the ball"


@pytest.mark.parametrize("family", ["poisson", "gaussian"])
def test_the_one_parameter_balls_hold_the_maximiser(family):
    """The Poisson ball (``c = 1``: a row's curvature ``exp(eta)`` moves by ``exp(v)``) and the
    gaussian one (constant curvature: the maximiser within ``2 |g| / lambda``) hold the tight
    solve's maximiser, from theta moved off it by a little and by more; ``lambda`` is below the
    exact curvature's smallest eigenvalue at theta, written out here, and the gradient's bound
    above the exact gradient's norm."""
    ds = make_dataset(family, n=400, seed=3)
    star = np.asarray(solve_dual(ds, tol=1e-14).theta, dtype=float)
    rng = np.random.default_rng(0)
    for move in (1e-6, 1e-3, 3e-2):
        theta = star + move * rng.standard_normal(star.shape)
        eta = ds.X @ theta
        mu = np.exp(eta) if family == "poisson" else eta
        G = ds.X.T @ (ds.weights * (ds.Y.ravel() - mu))
        ball = PJ.curvature_ball(ds, theta, G)
        curv = ds.weights * (mu if family == "poisson" else 1.0)
        exact = np.linalg.eigvalsh(ds.X.T @ (curv[:, None] * ds.X))[0]
        assert 0 < ball.curvature_bound <= exact
        assert ball.gradient_bound >= np.linalg.norm(G)
        assert ball.proves_attained
        assert np.linalg.norm(theta - star) <= ball.radius
