"""The checker, :func:`dualmaxent.certify`: every figure at the theta it is given.

Statements tested here (the soundness over random problems is ``test_certify_soundness.py``):

* a theta that is not the solver's, at n > 1e5 (where the old verifier reused the solver's
  point), is certified as itself: its upper bound is its own objective, recomputed here from the
  definition, and its gap is that objective minus the lower bound, positive;
* ``verify`` with such a dual result prints that theta, not the solver's;
* the lower bound is the primal objective of a feasible point, recomputed here from the point;
* the same block functions through an engine give the same figures as in memory;
* the row-sampled curvature of the Newton step still proves attainment and closes the bracket.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.special import logsumexp, xlogy

from dualmaxent import Dataset, certify, solve_dual, verify
from dualmaxent.engine import NumpyEngine

EPS = np.finfo(float).eps


def _blobs(n, m_feat=10, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m_feat))
    theta = 0.5 * rng.standard_normal((m_feat + 1, k))
    eta = np.column_stack([X, np.ones(n)]) @ theta
    y = np.argmax(eta + rng.gumbel(size=eta.shape), axis=1)
    return Dataset.from_arrays(X, y)


def _neg_loglik(ds, theta):
    """``-l(theta) = -sum_j w_j [<Y_j, eta_j> - logsumexp(eta_j)]``, written out here."""
    eta = ds.X @ theta
    return -float(ds.weights @ ((ds.Y * eta).sum(axis=1) - logsumexp(eta, axis=1)))


def _magnitude(ds, theta):
    """The sum of the magnitudes of the terms of ``-l``: its round-off is a few eps of it
    per term (a sum of n terms in any order: n eps)."""
    eta = ds.X @ theta
    return float(ds.weights @ (np.abs(ds.Y * eta).sum(axis=1) + np.abs(logsumexp(eta, axis=1))))


def test_a_theta_that_is_not_the_solvers_is_certified_as_itself_at_scale():
    ds = _blobs(120_000)
    dual = solve_dual(ds)
    noise = np.random.default_rng(1).standard_normal(dual.theta.shape)
    theta = dual.theta + 1e-3 * noise
    cert = certify(ds, theta)
    budget = (ds.n + ds.m) * EPS * _magnitude(ds, theta)
    # the upper bound is theta's own objective, not the solver's optimum's
    assert cert.upper_bound == pytest.approx(_neg_loglik(ds, theta), abs=budget)
    assert cert.upper_bound - _neg_loglik(ds, dual.theta) > 1e-3
    # the gap is that objective minus the lower bound, and it is real: theta is not optimal
    assert cert.duality_gap == cert.upper_bound - cert.lower_bound
    assert cert.duality_gap > 100 * cert.roundoff and not cert.ok
    assert cert.within >= cert.duality_gap
    # every figure is at theta: the printout's theta and objective are the given ones
    np.testing.assert_array_equal(cert.theta[:, :-1], (theta - theta[:, -1:])[:, :-1])
    assert cert.source == "given" and cert.dual is None and cert.std_err is None
    # and the lower bound is a bound: the optimum lies in the bracket
    best = _neg_loglik(ds, dual.theta)
    assert cert.lower_bound - cert.roundoff <= best <= cert.upper_bound


def test_verify_with_another_theta_prints_that_theta():
    ds = _blobs(3000, m_feat=3)
    dual = solve_dual(ds)
    theta = dual.theta + 1e-2 * np.random.default_rng(2).standard_normal(dual.theta.shape)
    cert = verify(ds, dual=replace(dual, theta=theta), primal="projected")
    assert cert.upper_bound == pytest.approx(_neg_loglik(ds, theta), rel=1e-12)
    assert not cert.ok and cert.std_err is None  # no standard errors for a theta not certified
    assert cert.dual_gradient > 1e-4  # recomputed at theta, not the solver's grad
    own = verify(ds, dual=dual, primal="projected")
    assert own.ok and own.std_err is not None


def test_the_lower_bound_is_the_primal_objective_of_a_feasible_point():
    ds = _blobs(2000, m_feat=3)
    dual = solve_dual(ds)
    for theta in (dual.theta, 0.9 * dual.theta, np.zeros_like(dual.theta)):
        cert = certify(ds, theta)
        P = cert.projected.mu
        w = ds.weights
        # feasible: rows on the simplex, no negative entry, the balance equations
        assert np.all(P >= 0)
        assert np.abs(P.sum(axis=1) - 1).max() <= 1e3 * EPS
        scale = 1 + np.abs(ds.X.T @ (w[:, None] * ds.Y)).max()
        balance = np.abs(ds.X.T @ (w[:, None] * (P - ds.Y))).max() / scale
        assert balance <= 1e3 * ds.n * EPS
        # its entropy is the lower bound
        entropy = -float(w @ xlogy(P, P).sum(axis=1))
        assert cert.lower_bound == pytest.approx(entropy, abs=1e3 * ds.n * EPS)
        assert cert.lower_bound <= _neg_loglik(ds, dual.theta) + cert.roundoff


def test_an_engine_gives_the_in_memory_figures():
    ds = _blobs(5000, m_feat=4, k=4)
    dual = solve_dual(ds, l2=2.0)
    mem = certify(ds, dual.theta, l2=2.0)
    eng = certify(ds, dual.theta, l2=2.0, engine=NumpyEngine.from_dataset(ds, chunk_rows=700))
    for key in ("upper_bound", "lower_bound"):
        assert getattr(eng, key) == pytest.approx(getattr(mem, key), abs=mem.roundoff)
    assert eng.ok and mem.ok


def test_the_sampled_curvature_proves_attainment_and_closes_the_bracket(monkeypatch):
    import importlib

    checker = importlib.import_module("dualmaxent.certify")
    monkeypatch.setattr(checker, "ZERO_STEP", False)  # the step's path, not the point's own
    ds = _blobs(60_000, m_feat=3, k=2)
    dual = solve_dual(ds)
    theta = np.asarray(dual.theta)
    # the sample is a small part of the rows here: 400 rows per parameter, 4 parameters
    assert checker.CURVATURE_ROWS_PER_PARAM * 4 * 2 < ds.n
    cert = certify(ds, theta)
    assert cert.attained and cert.projected.proves_attained and cert.ok
    assert cert.relative_gap <= 1e-12


class _ListEngine:
    """A third engine, written here: a list of row blocks, nothing of Dataset."""

    def __init__(self, X, Y, w, parts):
        cuts = np.linspace(0, len(w), parts + 1).astype(int)
        self.blocks = [(X[a:b], Y[a:b], w[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
        self.passes = 0

    def map_reduce(self, fn, *args, combine=None):
        self.passes += 1
        out = None
        for Xb, Yb, wb in self.blocks:
            part = fn(Xb, Yb, wb, *args)
            out = part if out is None else combine(out, part)
        return out


@pytest.mark.parametrize("family", ["bernoulli", "poisson", "gaussian"])
def test_a_third_engine_needs_only_map_reduce(family):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((900, 2))
    eta = X @ [0.4, -0.3] + 0.2
    y = {"bernoulli": (rng.random(900) < 1 / (1 + np.exp(-eta))).astype(int),
         "poisson": rng.poisson(np.exp(eta)), "gaussian": eta + rng.standard_normal(900)}[family]
    ds = Dataset.from_arrays(X, y, family=family, weights=rng.random(900) + 0.5)
    dual = solve_dual(ds)
    engine = _ListEngine(ds.X, ds.Y, ds.weights, parts=7)
    mem, eng = certify(ds, dual.theta), certify(ds, dual.theta, engine=engine)
    assert engine.passes >= 2 and eng.ok and mem.ok
    for key in ("upper_bound", "lower_bound", "neg_loglik"):
        assert getattr(eng, key) == pytest.approx(getattr(mem, key), abs=mem.roundoff)


def _checker():
    import importlib

    return importlib.import_module("dualmaxent.certify")


@pytest.mark.parametrize("chunk", [None, 7])
def test_the_checkers_bernoulli_evaluation_is_the_familys(chunk, monkeypatch):
    """``A'``, ``A''`` and ``A`` from one exponential (``_bernoulli``) agree with the family's
    ``mean``, ``p (1 - p)`` and ``log_partition`` to a few ulps, at extreme ``eta`` too; in
    chunks of 7 rows (several, and a remainder) as well as in one."""
    from dualmaxent import _numerics as nx
    from dualmaxent.families import Bernoulli

    if chunk is not None:
        monkeypatch.setattr(nx, "ELEMENTWISE_ROWS", chunk)

    fam, checker = Bernoulli(), _checker()
    rng = np.random.default_rng(5)
    eta = np.concatenate([rng.standard_normal(200) * 5, [0.0, -0.0, 30.0, -30.0, 700.0,
                                                         -700.0, 745.0, -745.0]])
    mu, var, A = checker._bernoulli(eta)
    # (at eta = -745 the family's sigmoid has underflowed to 0, this one holds 5e-324)
    np.testing.assert_allclose(mu, fam.mean(eta), rtol=8 * EPS, atol=np.finfo(float).tiny)
    np.testing.assert_allclose(A, fam.log_partition(eta), rtol=8 * EPS, atol=0)
    # the curvature is p (1 - p) without its cancellation: against e^-|eta| / (1 + e^-|eta|)^2
    z = np.exp(-np.abs(eta))
    np.testing.assert_allclose(var, z / (1 + z) ** 2, rtol=8 * EPS, atol=0)
    # written in place when asked, the same numbers
    out_mu, out_var = np.empty_like(eta), np.empty_like(eta)
    checker._bernoulli(eta, out_mu, out_var)
    assert np.array_equal(out_mu, mu) and np.array_equal(out_var, var)
    with np.errstate(over="ignore"):
        mu, var, A = checker._bernoulli(np.array([np.inf, -np.inf, np.nan]))
    assert list(mu[:2]) == [1.0, 0.0] and list(var[:2]) == [0.0, 0.0] and A[0] == np.inf
    assert A[1] == 0.0 and np.isnan([mu[2], var[2], A[2]]).all()


@pytest.mark.parametrize("chunk", [None, 16])
@pytest.mark.parametrize("family", ["bernoulli", "categorical"])
def test_the_checkers_conjugate_is_the_familys(family, chunk, monkeypatch):
    """``_conjugate`` (one logarithm per entry, ``0 log 0`` redone only where it arises) gives
    the family's ``conjugate``, on rows inside the domain, on its boundary and beyond it (the
    families clip); in chunks of 16 rows as well as in one."""
    from dualmaxent import _numerics as nx
    from dualmaxent.families import Bernoulli, Categorical

    if chunk is not None:
        monkeypatch.setattr(nx, "ELEMENTWISE_ROWS", chunk)

    rng = np.random.default_rng(6)
    if family == "bernoulli":
        fam = Bernoulli()
        p = np.concatenate([rng.random(300), [0.0, 1.0, 1e-300, 1 - 1e-16, -1e-12, 1 + 1e-12]])
        tables = [p[:300, None], p[:, None]]
    else:
        fam = Categorical()
        P = rng.dirichlet(np.ones(4), size=300)
        edge = P.copy()
        edge[:10, 0] = 0.0
        edge[10:20, 1] = -1e-13
        tables = [P, edge]
    for table in tables:
        with np.errstate(divide="ignore", invalid="ignore"):  # as in the checker's passes
            mine = _checker()._conjugate(fam, np.asfortranarray(table))
        theirs = fam.conjugate(table if fam.multiclass else table[:, 0])
        np.testing.assert_allclose(mine, theirs, rtol=1e3 * EPS, atol=1e3 * EPS)


@pytest.mark.parametrize("l2", [None, 1.0])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_the_curvature_blocks_are_the_hessian(k, l2):
    """``C_SS`` formed class pair by class pair, in row chunks (``_curvature``), is minus the
    log-likelihood's Hessian on ``S``, written out here from ``diag(p) - p p^T`` per row."""
    checker = _checker()
    ds = _blobs(3000, m_feat=3, k=k, seed=k)
    theta = np.asarray(solve_dual(ds, l2=l2).theta).reshape(ds.m, -1)
    from dualmaxent.params import Parameterization, make_penalty

    penalty = make_penalty(l2=l2)
    pen_rows = Parameterization.from_dataset(ds, penalty).penalized_rows
    sel = np.flatnonzero(checker._correction_set(theta, pen_rows, penalty, True).T.ravel())
    eta = ds.X @ theta
    P = np.exp(eta - logsumexp(eta, axis=1, keepdims=True))
    w, X = ds.weights, ds.X
    H = np.zeros((ds.m * k, ds.m * k))
    for c in range(k):
        for d in range(k):
            v = w * P[:, c] * ((c == d) - P[:, d])
            H[c * ds.m:(c + 1) * ds.m, d * ds.m:(d + 1) * ds.m] = X.T @ (v[:, None] * X)
    expected = H[np.ix_(sel, sel)]
    C = checker._curvature(X, w, P, sel, ds.m, True)
    np.testing.assert_allclose(C, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    # and in chunks of a few rows, as a block of many rows is formed
    small = checker.CURVATURE_CHUNK_BYTES
    try:
        checker.CURVATURE_CHUNK_BYTES = 8 * 256 * ds.m  # chunks of 256 rows
        C_chunks = checker._curvature(X, w, P, sel, ds.m, True)
    finally:
        checker.CURVATURE_CHUNK_BYTES = small
    np.testing.assert_allclose(C_chunks, expected, rtol=1e-12,
                               atol=1e-12 * np.abs(expected).max())


def test_an_overflowed_theta_proves_nothing_and_says_so_in_numbers():
    """At a theta whose likelihood overflows (``-l = inf``) the gap is ``inf`` and ``within``
    too, never NaN (the gap was ``inf - inf``: a verdict reading "within nan nats")."""
    ds = Dataset.from_arrays([[1.0], [2.0], [3.0]], [0, 1, 0], family="bernoulli")
    cert = certify(ds, np.array([1e308, 0.0]))
    assert cert.upper_bound == np.inf and cert.duality_gap == np.inf
    assert cert.within == np.inf and not cert.ok and "nan" not in cert.verdict


@pytest.mark.parametrize("seed", [48, 123])
def test_a_stepped_point_outside_the_domain_gives_way_to_the_given_point(seed, monkeypatch):
    """A penalised theta whose Newton point leaves the simplex (or, for L1, a box) where ``Y``
    is 0: the segment from ``Y`` to it has no room (the lower bound was ``H(Y) = 0``), and the
    given point ``mu(theta)``, inside the domain, or the damped step between it and the Newton
    point, is taken where its bracket proves more. The point of the lower bound is checked from
    the definitions: in the simplex, within the L1 boxes, its entropy the bound's; and the
    bracket, round-off included, holds the optimum of a tight solve, written out here. The
    damped step proves at least what the given point alone does."""
    from dualmaxent.params import make_penalty
    from _definitions import entropy
    rng = np.random.default_rng(seed)
    n, k, m = rng.integers(40, 200), rng.integers(2, 5), rng.integers(2, 8)
    X = rng.standard_normal((n, m)) * rng.choice([1, 3, 10])
    W = rng.standard_normal((m, k)) * 2
    y = np.argmax(X @ W + rng.gumbel(size=(n, k)), axis=1)
    rng.choice(3), rng.choice(3)  # (the draws of the search that found these cases)
    lam = 1.0
    ds = Dataset.from_arrays(X, y, family="categorical")
    penalty = make_penalty(l1=lam)
    star = solve_dual(ds, penalty=penalty, tol=1e-12).theta
    theta = star + 0.01 * rng.standard_normal(star.shape)
    cert = certify(ds, theta, penalty=penalty)
    br = cert.projected

    def objective(t):  # -l(t) + lam ||t_R||_1 (the intercept, the last row, unpenalised)
        eta = ds.X @ t
        return -float(ds.weights @ ((ds.Y * eta).sum(axis=1) - logsumexp(eta, axis=1))) + (
            lam * float(np.abs(t[:-1]).sum()))

    f_star = objective(star)
    assert cert.lower_bound - cert.roundoff <= f_star <= cert.upper_bound + cert.roundoff
    assert cert.upper_bound == pytest.approx(objective(theta), rel=1e-12)
    # the point of the lower bound, from the definitions
    P = np.asarray(br.mu).reshape(ds.n, ds.k)
    assert P.min() >= 0.0 and np.abs(P.sum(axis=1) - 1.0).max() <= 1e-12
    B = ds.X.T @ (ds.weights[:, None] * (P - ds.Y))
    assert np.abs(B[:-1]).max() <= lam * (1.0 + 1e-9)
    h, size = entropy(ds, P)
    assert br.entropy == pytest.approx(h, abs=1e-12 * size)
    assert cert.lower_bound == br.entropy  # (L1: no relaxation charge)
    # more than the segment from Y could prove, H(Y) = 0
    assert 0.0 < br.segment
    assert cert.lower_bound - cert.roundoff > 0.0
    import importlib

    checker = importlib.import_module("dualmaxent.certify")
    monkeypatch.setattr(checker, "_damping", lambda *a: 0.0)  # the given point alone
    given = certify(ds, theta, penalty=penalty)
    assert not given.projected.stepped
    assert given.lower_bound - given.roundoff <= cert.lower_bound - cert.roundoff
    assert given.lower_bound - given.roundoff <= f_star


def test_a_huge_finite_theta_is_not_ok_and_raises_no_numpy_warning():
    """A finite entry of 1e308 overflows the logits: the certificate says so (not ok, within
    infinite), and numpy's overflow warnings from inside the checker do not reach the user."""
    import warnings

    from dualmaxent import load_dataset

    ds = load_dataset("blobs")
    theta = np.zeros((ds.m, ds.k))
    theta[0, 0] = 1e308
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        cert = certify(ds, theta)
    assert not cert.ok and cert.within == np.inf


@pytest.mark.parametrize("c", [1e8, 1e17])
def test_a_theta_offset_by_a_large_constant_is_read_in_the_pivot_gauge(c):
    """``theta + c`` has the probabilities of ``theta``, unpenalised the same objective: its
    logits are of order ``c``, whose rounding swamped their differences, and the upper bound
    came out 0 against an optimum of 199. The checker subtracts the last column where every
    difference is exact: the upper bound is ``-l`` of the given theta by the definition (its
    columns' exact differences, written-out numpy), and ``within`` covers its distance from the
    optimum."""
    from dualmaxent import load_dataset

    ds = load_dataset("blobs")
    theta = solve_dual(ds).theta
    best = certify(ds, theta)
    t = theta + c
    exact = t - t[:, -1:]  # (Sterbenz: exact)
    eta = np.asarray(ds.X) @ exact
    neg_l = float(np.sum(logsumexp(eta, axis=1) - (ds.Y * eta).sum(axis=1)))
    cert = certify(ds, t)
    assert abs(cert.upper_bound - neg_l) <= 1e-12 * abs(neg_l) + cert.roundoff
    assert cert.upper_bound - cert.within <= best.upper_bound + best.within
    assert cert.within >= neg_l - best.upper_bound - best.within
    if c == 1e8:  # differences kept to 1e-8: still within the tolerance
        assert cert.ok


@pytest.mark.parametrize("size", [1e-300, 1e-310, 1e-320])
def test_the_eigenvalue_bound_of_a_tiny_curvature_is_finite_and_below_it(size):
    """A curvature of subnormal size (weights of 1e-310): ``1 / max(D)^2`` overflowed a Python
    float (OverflowError). The bound is a number, at most the smallest eigenvalue, ``size``
    here (``size * [[2, 1], [1, 2]]``), and not negative."""
    from dualmaxent.certify import _smallest_eigenvalue_bound

    K = size * np.array([[2.0, 1.0], [1.0, 2.0]])
    bound = _smallest_eigenvalue_bound(K, terms=4)
    assert 0.0 <= bound <= size
