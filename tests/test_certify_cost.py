"""The checker's float32 proposal of the Newton step (:mod:`dualmaxent.certify`, issue 19).

Statements tested here, each recomputed from the definitions:

* the float32 curvature (:func:`dualmaxent.certify._curvature` with ``single``) is within its
  worst-case rounding bound of the curvature written out here in float64;
* with the float32 proposal forced (``SINGLE_MIN_TERMS = 0``, no Krylov step), no penalty,
  the Bernoulli family and k = 2 and 3 classes, at the solver's theta and at a theta moved
  off it: the upper bound is the float64 step's, the lower bound is the entropy of its point
  recomputed here, the point's balance residual recomputed here is the one reported, and
  the lower bound is the float64 step's within both brackets' round-off budgets (same
  verdict, same attainment proof);
* when the proposal is rejected (:func:`~dualmaxent.certify._proposal_closes` False) the
  bracket is the float64 step's bit for bit;
* the attainment proof's eigenvalue bound (:func:`~dualmaxent.certify._proved_smallest`),
  from a row sample or from all rows, is below the smallest eigenvalue of the full curvature
  formed here from its definition; for the zero step, where the first sample's bound falls
  short, a larger sample's proves more, and is still below it;
* the float32 operator of the Krylov step (:func:`dualmaxent.certify._operator` with
  ``single``) is within its worst-case rounding bound of ``C_SS v`` written out here;
* with the float32 operator forced (:data:`~dualmaxent.certify.SINGLE_KRYLOV_DECADES`), no
  penalty, two, three and five classes, at the solver's theta and moved off it: the lower
  bound is the entropy of its point recomputed here, and the bracket is the float64
  operator's within both round-off budgets (same verdict, same attainment proof); rejected,
  it is the float64 operator's bit for bit;
* :func:`~dualmaxent.certify.shifted_cholesky_bound` leaves the matrix it is given as it
  was and bounds its smallest eigenvalue from below;
* :func:`~dualmaxent.certify.factor`'s Cholesky path from :data:`~dualmaxent.certify.
  CHOLESKY_MIN` entries: its bound is below the exact smallest eigenvalue of a matrix formed
  exactly, and a matrix singular at ``rtol`` whose Cholesky factorisation completes gives
  the eigendecomposition's pseudo-inverse bit for bit;
* a bracket that no point of the segment from ``Y`` to ``mu~`` can close is not searched
  (:func:`~dualmaxent.certify._cannot_close`): the segment's values, recomputed here from the
  entropy and the L2 charge on a fine grid, all miss what closing needs, and the search,
  forced, finds no closing point either.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from dualmaxent import solve_dual

from _definitions import entropy, full_curvature, probabilities
from _factories import drawn_classes, drawn_kind
from _rounding import gamma as _gamma

checker = importlib.import_module("dualmaxent.certify")

U32 = 2.0 ** -24


def _solved(kind, n=3000, m_feat=9, seed=0, moved=False):
    """A data set (``kind``: "bernoulli", or the number of classes) and the solver's theta
    (moved off it by 1e-4 when ``moved``)."""
    ds = drawn_kind(kind, n, m_feat, seed)
    theta = np.asarray(solve_dual(ds).theta, dtype=float)
    theta = theta.reshape(ds.m, -1) if ds.family.multiclass else theta.reshape(ds.m)
    if moved:
        theta = theta + 1e-4 * np.random.default_rng(1).standard_normal(theta.shape)
    return ds, theta


def _selected(ds):
    """The entries of S without a penalty: every row of theta in the free classes."""
    return np.arange((ds.k - 1 if ds.family.multiclass else 1) * ds.m)


def _kept(ds, theta):
    """The means (and a one-parameter family's curvature) as pass 1 keeps them."""
    P = probabilities(ds, theta)
    if ds.family.multiclass:
        return {"mean": np.asfortranarray(P), "curv": None}
    return {"mean": np.asfortranarray(P[:, :1]), "curv": np.asfortranarray(P[:, :1] * P[:, 1:])}


@pytest.mark.parametrize("kind", ["bernoulli", 2, 3])
def test_the_float32_curvature_is_within_its_rounding_bound(kind):
    ds, theta = _solved(kind)
    sel = _selected(ds)
    multi = ds.family.multiclass
    kept = _kept(ds, theta)
    curv = kept["mean"] if multi else kept["curv"]
    single = checker._curvature(ds.X, ds.weights, curv, sel, ds.m, multi, single=True)
    exact = full_curvature(ds, theta, sel)
    M = full_curvature(ds, theta, sel, absolute=True)
    # each term: at most eight float32 roundings (the factors rounded to float32, their
    # products) and sums of at most n terms, in float32 within a chunk and float64 across;
    # the test's own float64 sums, gamma(n + 8) in double
    bound = (_gamma(ds.n + 16, U32) + _gamma(ds.n + 8)) * M
    assert np.all(np.abs(single - exact) <= bound)
    assert np.abs(single - exact).max() > 0  # (it is a float32 computation)


@pytest.mark.parametrize("kind", ["bernoulli", 2, 3])
@pytest.mark.parametrize("moved", [False, True])
def test_the_float32_proposal_keeps_the_bracket(monkeypatch, kind, moved):
    ds, theta = _solved(kind, moved=moved)
    monkeypatch.setattr(checker, "ZERO_STEP", False)  # the step's path at any theta
    monkeypatch.setattr(checker, "KRYLOV_MIN_PRODUCTS", 1e9)  # the dense step
    monkeypatch.setattr(checker, "SINGLE_MIN_TERMS", np.inf)
    double = checker.certify(ds, theta)
    seen = []
    closes = checker._proposal_closes

    def record(*args, **kw):
        seen.append(closes(*args, **kw))
        return seen[-1]

    monkeypatch.setattr(checker, "SINGLE_MIN_TERMS", 0)
    monkeypatch.setattr(checker, "_proposal_closes", record)
    single = checker.certify(ds, theta)
    assert seen == [True], "the float32 proposal ran and was kept"
    a, b = single.projected, double.projected

    # the same theta: the same upper bound, the float64 sums of pass 1 alike
    assert a.upper_bound == b.upper_bound
    # the lower bound is the entropy of the point, recomputed here (within its sum's rounding)
    H, mag = entropy(ds, a.mu)
    assert a.segment == 1.0
    # (both sums of the same n k terms, each within gamma(n k + 8) of their magnitude)
    assert abs(a.lower_bound - H) <= 2.0 * _gamma(ds.n * ds.k + 8) * mag
    # the point's balance residual, recomputed here, is the one reported (relative to scale):
    # both sums within gamma(n + 2) of |X|^T W |mu - Y|, the scales within gamma(n + 2) of
    # theirs
    Y = ds.Y.reshape(ds.n, -1)
    D = ds.weights[:, None] * (np.asarray(a.mu).reshape(ds.n, -1) - Y)
    r = ds.X.T @ D
    size = float((np.abs(ds.X).T @ np.abs(D)).max())
    scale = 1.0 + float(np.abs(ds.X.T @ (ds.weights[:, None] * Y)).max())
    g = _gamma(ds.n + 2)
    assert abs(float(np.abs(r).max()) / scale - a.balance_residual) <= (
        2.0 * g * size / scale + 4.0 * g * a.balance_residual)
    # the same bracket as the float64 step's, within both round-off budgets
    assert abs(a.lower_bound - b.lower_bound) <= a.roundoff + b.roundoff
    assert single.ok == double.ok and single.attained == double.attained
    assert a.proves_attained == b.proves_attained
    if not moved:
        assert single.ok and a.proves_attained


@pytest.mark.parametrize("kind", ["bernoulli", 2, 3])
def test_a_rejected_proposal_is_the_float64_step(monkeypatch, kind):
    ds, theta = _solved(kind, moved=True)
    monkeypatch.setattr(checker, "KRYLOV_MIN_PRODUCTS", 1e9)
    monkeypatch.setattr(checker, "SINGLE_MIN_TERMS", np.inf)
    double = checker.certify(ds, theta).projected
    monkeypatch.setattr(checker, "SINGLE_MIN_TERMS", 0)
    monkeypatch.setattr(checker, "_proposal_closes", lambda *a, **kw: False)
    single = checker.certify(ds, theta).projected
    for name in ("lower_bound", "upper_bound", "roundoff", "duality_gap", "balance_residual",
                 "second_step", "rank", "condition", "segment", "proves_attained"):
        assert getattr(single, name) == getattr(double, name), name
    assert np.array_equal(np.asarray(single.mu), np.asarray(double.mu))


@pytest.mark.parametrize("kind", ["bernoulli", 2, 3])
@pytest.mark.parametrize("enough", [0.0, np.inf])
def test_the_proved_eigenvalue_is_below_the_full_curvatures(kind, enough):
    ds, theta = _solved(kind, n=4000)
    sel = _selected(ds)
    kept = _kept(ds, theta)
    low = checker._proved_smallest(ds, kept, sel, enough)[0]
    C = full_curvature(ds, theta, sel)
    lam_min = float(np.linalg.eigvalsh(C).min())
    # the test's own C and eigvalsh: within gamma(n + 8) p max diag(C) plus eigvalsh's error
    slack = (_gamma(ds.n + 8) * sel.size + 64 * sel.size * 2.0 ** -53) * float(np.diag(C).max())
    assert 0.0 < low <= lam_min + slack
    if enough == 0.0:  # the sample's bound: below the full one's, and a fraction of it
        full = checker._proved_smallest(ds, kept, sel, np.inf)[0]
        assert low <= full + slack and low < 0.9 * full


@pytest.mark.parametrize("kind", ["bernoulli", 3])
def test_the_zero_steps_larger_sample_proves_what_the_first_could_not(monkeypatch, kind):
    ds, theta = _solved(kind, n=4000)
    sel = _selected(ds)
    kept = _kept(ds, theta)
    first = checker._proved_smallest(ds, kept, sel, 0.0, full=False)[0]
    enough = 1.5 * first  # beyond the first sample, within the larger one's reach
    grow, samples, curvature = ds.n // 4, [], checker._kept_curvature
    monkeypatch.setattr(checker, "_kept_curvature", lambda data, kept, sel, sample, *a, **kw: (
        samples.append(sample) or curvature(data, kept, sel, sample, *a, **kw)))
    grown = checker._proved_smallest(ds, kept, sel, enough, full=False, grow=grow)[0]
    assert len(samples) == 2 and samples[0] < samples[1] <= grow  # one larger, within grow
    C = full_curvature(ds, theta, sel)
    slack = (_gamma(ds.n + 8) * sel.size + 64 * sel.size * 2.0 ** -53) * float(np.diag(C).max())
    # proved for the full curvature (written out here), and enough: the larger sample's
    assert enough < grown <= float(np.linalg.eigvalsh(C).min()) + slack
    # without the larger sample the first one's bound is all the zero step gets
    assert checker._proved_smallest(ds, kept, sel, enough, full=False)[0] == first < enough


def _segment_values(ds, mu, lam, ts):
    """``f(t) = H(Y + t (mu - Y)) - ||t r_R||^2 / (2 lam)`` at each ``t``, from the definitions:
    ``r = X^T W (mu - Y)`` on every row of theta but the intercept's (the last)."""
    Y = ds.Y.reshape(ds.n, -1)
    d = np.asarray(mu, dtype=float).reshape(ds.n, -1) - Y
    r = ds.X.T @ (ds.weights[:, None] * d)
    charge = float(np.sum(r[:-1] ** 2)) / (2.0 * lam)
    return np.array([entropy(ds, Y + t * d)[0] - t * t * charge for t in ts])


@pytest.mark.parametrize("chunk", [None, 64])
def test_a_segment_that_cannot_close_is_not_searched(monkeypatch, chunk):
    # chunk: the decision's sums taken 64 entries (21 rows of three classes) at a time, as well
    # as in one chunk
    from dualmaxent import _numerics as nx
    from dualmaxent.params import make_penalty

    if chunk is not None:
        monkeypatch.setattr(nx, "ELEMENTWISE_ROWS", chunk)
    monkeypatch.setattr(checker, "PENALISED_STEP", False)  # the intercept's step, its segment

    ds = drawn_classes(1000, 3, 20, seed=5)
    assert np.all(ds.X[:, -1] == 1.0)  # (the intercept: the last row of theta)
    lam = 1.0
    pen = make_penalty(l2=lam)
    theta = np.asarray(solve_dual(ds, penalty=pen).theta, dtype=float).reshape(ds.m, -1)
    theta = theta + 2e-4 * np.random.default_rng(4).standard_normal(theta.shape)
    seen = []
    decide = checker._cannot_close

    def record(*args, **kw):
        seen.append(decide(*args, **kw))
        return seen[-1]

    monkeypatch.setattr(checker, "_cannot_close", record)
    cert = checker.certify(ds, theta, penalty=pen)
    br = cert.projected
    assert seen == [True] and br.segment == 1.0 and not cert.ok
    # no point of the segment closes the bracket: f(t) below what closing needs, on a fine
    # grid and on the search's own grid (the test's own sums: a millionth of a nat of slack)
    needed = br.upper_bound - checker.DEFAULT_TOL * max(1.0, abs(br.loglik))
    ts = np.unique(np.concatenate([np.linspace(0.0, 1.0, 401),
                                   np.asarray(checker.SEGMENT_GRID), [1.0]]))
    values = _segment_values(ds, br.mu, lam, ts)
    assert values.max() < needed - 1e-6
    # the lower bound printed is f(1), recomputed here
    assert abs(values[-1] - br.lower_bound) <= 1e-9 * abs(br.lower_bound)
    # the search, forced, finds no closing point either, and gains less than the bound allows
    monkeypatch.setattr(checker, "_cannot_close", lambda *a, **kw: False)
    searched = checker.certify(ds, theta, penalty=pen)
    assert not searched.ok
    assert br.lower_bound - br.roundoff <= searched.projected.lower_bound < needed


def _operator_magnitude(ds, theta, sel, v):
    """The sums of the absolute values of every term of ``C_SS v`` as :func:`_operator`
    forms it (``X V``, then ``J`` row by row as ``p (s - p^T s)``, then ``X^T W``), from the
    definitions: ``|X|^T W T`` with ``T_c = p_c (|X| |V|)_c + p_c sum_d p_d (|X| |V|)_d``."""
    P = probabilities(ds, theta)
    k = P.shape[1]
    V = np.zeros((k, ds.m))
    cls, feat = np.divmod(sel, ds.m)
    V[cls, feat] = np.abs(v)
    S = np.abs(ds.X) @ V.T
    T = P * S + P * (P * S).sum(axis=1, keepdims=True)
    return (np.abs(ds.X).T @ (ds.weights[:, None] * T)).T[cls, feat]


@pytest.mark.parametrize("k", [2, 3, 5])
def test_the_float32_operator_is_within_its_rounding_bound(k):
    ds, theta = _solved(k, n=2000)
    sel = _selected(ds)
    curv = _kept(ds, theta)["mean"]
    apply, _, _ = checker._operator(ds, theta, sel, np.zeros(sel.size), None, curv, True)
    v = np.random.default_rng(k).standard_normal(sel.size)
    exact = full_curvature(ds, theta, sel) @ v
    mag = _operator_magnitude(ds, theta, sel, v)
    # X, v, the curvature and the weights rounded to float32 once each, sums of m, k and n
    # terms, a dozen products: gamma(m + k + n + 16) in float32; the test's own float64 sums
    # (C_SS, its product with v) within gamma(n + m + 8) of the same magnitudes
    bound = (_gamma(ds.m + k + ds.n + 16, U32) + _gamma(ds.n + ds.m + 8)) * mag
    got = apply(v)
    assert got.dtype == np.float64
    assert np.all(np.abs(got - exact) <= bound)
    assert np.abs(got - exact).max() > 1e3 * _gamma(ds.n) * mag.max()  # (a float32 product)


def _krylov(monkeypatch, decades):
    """The row sample's Krylov step forced in memory, its operator's products in float32 up to
    ``decades`` (-inf: never)."""
    monkeypatch.setattr(checker, "KRYLOV_MIN_PRODUCTS", 0)
    monkeypatch.setattr(checker, "KRYLOV_SHARE", 1e6)
    monkeypatch.setattr(checker, "PRODUCT_CACHE_BYTES", 0)
    monkeypatch.setattr(checker, "SINGLE_KRYLOV_DECADES", decades)


def _recorded(monkeypatch, closes=None):
    """Records the ``single`` flag of each sampled step and each verdict of
    :func:`_proposal_closes` (replaced by ``closes`` when given)."""
    seen = {"single": [], "closes": []}
    step, decide = checker._sampled_step, checker._proposal_closes

    def record_step(*args, **kw):
        seen["single"].append(bool(args[8] if len(args) > 8 else kw.get("single", False)))
        return step(*args, **kw)

    def record_closes(*args, **kw):
        seen["closes"].append(decide(*args, **kw) if closes is None else closes)
        return seen["closes"][-1]

    monkeypatch.setattr(checker, "_sampled_step", record_step)
    monkeypatch.setattr(checker, "_proposal_closes", record_closes)
    return seen


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("moved", [False, True])
def test_the_float32_krylov_proposal_keeps_the_bracket(monkeypatch, k, moved):
    ds, theta = _solved(k, n=3000, moved=moved)
    monkeypatch.setattr(checker, "ZERO_STEP", False)  # the step's path at any theta
    _krylov(monkeypatch, -np.inf)
    seen = _recorded(monkeypatch)
    double = checker.certify(ds, theta)
    assert seen == {"single": [False], "closes": []}, "the float64 Krylov step"
    _krylov(monkeypatch, np.inf)
    seen = _recorded(monkeypatch)
    single = checker.certify(ds, theta)
    assert seen == {"single": [True], "closes": [True]}, "the float32 proposal, kept"
    a, b = single.projected, double.projected
    assert a.upper_bound == b.upper_bound
    # the lower bound is the entropy of the point, recomputed here (within its sum's rounding)
    H, mag = entropy(ds, a.mu)
    assert a.segment == 1.0
    assert abs(a.lower_bound - H) <= 2.0 * _gamma(ds.n * ds.k + 8) * mag
    # moved, the iterations run (at the solver's theta the residual may be within its bound
    # at once, no product taken): the float32 operator's point is not the float64 one's, yet
    # the bracket is the same within both round-off budgets
    if moved:
        assert not np.array_equal(np.asarray(a.mu), np.asarray(b.mu))
    assert abs(a.lower_bound - b.lower_bound) <= a.roundoff + b.roundoff
    assert single.ok == double.ok and single.attained == double.attained
    assert a.proves_attained == b.proves_attained
    if not moved:
        assert single.ok and a.proves_attained


@pytest.mark.parametrize("k", [2, 3, 5])
def test_a_rejected_float32_krylov_proposal_is_the_float64_step(monkeypatch, k):
    ds, theta = _solved(k, n=3000, moved=True)
    _krylov(monkeypatch, -np.inf)
    double = checker.certify(ds, theta).projected
    _krylov(monkeypatch, np.inf)
    seen = _recorded(monkeypatch, closes=False)
    single = checker.certify(ds, theta).projected
    assert seen["single"][0] and seen["closes"] == [False] and not any(seen["single"][1:])
    for name in ("lower_bound", "upper_bound", "roundoff", "duality_gap", "balance_residual",
                 "second_step", "rank", "condition", "segment", "proves_attained"):
        assert getattr(single, name) == getattr(double, name), name
    assert np.array_equal(np.asarray(single.mu), np.asarray(double.mu))


def _exact_spd(p, seed, v=None):
    """``C = Q diag(v) Q^T`` with ``Q`` the p x p Hadamard matrix over ``sqrt(p)`` (``p`` a
    power of 4: entries ``+-2^-j``), its rows' signs drawn (so that no eigenvector is the
    vector of ones, where :func:`factor`'s iterations start), and integer ``v``: formed
    exactly in float64, its eigenvalues exactly ``v``."""
    from scipy.linalg import hadamard

    rng = np.random.default_rng(seed)
    Q = rng.choice([-1.0, 1.0], p)[:, None] * hadamard(p) / np.sqrt(p)
    if v is None:
        v = rng.permutation(np.arange(1, p + 1) * 64.0 + rng.integers(0, 64, p))
    C = (Q * v) @ Q.T
    assert np.array_equal(C, C.T)
    return C, v


@pytest.mark.parametrize("seed", range(4))
def test_the_cholesky_bound_from_cholesky_min_is_below_the_exact_eigenvalue(seed):
    p = 64
    assert checker.CHOLESKY_MIN <= p < checker.CHOLESKY_CHECKED_MAX
    C, v = _exact_spd(p, seed)
    solve, rank, condition, smallest = checker.factor(C, 100)
    eig = checker.factor(C, 100, cholesky_min=10 ** 6)
    assert rank == p and 0.0 < smallest <= v.min()
    # the Cholesky path (its condition an estimate, the eigendecomposition's exact)
    assert condition != eig[2]
    t = np.random.default_rng(seed).standard_normal(p)
    assert np.allclose(solve(t), np.linalg.solve(C, t), rtol=1e-10, atol=0.0)


@pytest.mark.parametrize("seed", range(4))
def test_the_shifted_factorisation_bounds_and_leaves_its_matrix(seed):
    """:func:`shifted_cholesky_bound` factors its own copy in place: the matrix given is
    unchanged, and the bound is below the exact smallest eigenvalue (a shift above it does
    not factor, the next one does)."""
    C, v = _exact_spd(64, seed)
    H = C.copy()
    low = float(v.min())
    bound = checker.shifted_cholesky_bound(H, (2.0 * low, 0.5 * low))
    assert np.array_equal(H, C)
    assert bound is not None and 0.0 < bound <= low
    assert checker.shifted_cholesky_bound(H, (2.0 * low,)) is None


@pytest.mark.parametrize("seed", range(4))
def test_a_singular_matrix_on_the_cholesky_path_is_the_pseudo_inverse(seed):
    """A matrix formed exactly with one eigenvalue ``2^-20`` against others of 64 to 4160:
    its Cholesky factorisation completes on every BLAS (condition about 2e10), yet it is
    singular at ``rtol = 1e-6``; the factor is set aside for the eigendecomposition's
    pseudo-inverse, bit for bit."""
    import scipy.linalg as sl

    p = 64
    rng = np.random.default_rng(seed)
    v = rng.permutation(np.arange(1, p + 1) * 64.0 + rng.integers(0, 64, p))
    v[rng.integers(p)] = 2.0 ** -20
    C, _ = _exact_spd(p, seed, v)
    d = 1.0 / np.sqrt(np.diag(C))
    sl.cholesky(d[:, None] * C * d[None, :], lower=True)  # (completes: the estimate decides)
    got = checker.factor(C, 100, rtol=1e-6)
    eig = checker.factor(C, 100, rtol=1e-6, cholesky_min=10 ** 6)
    assert got[1] == eig[1] == p - 1
    assert got[2:] == eig[2:]
    t = rng.standard_normal(p)
    assert np.array_equal(got[0](t), eig[0](t))
    assert np.array_equal(got[0](t, whole=True), eig[0](t, whole=True))
    # with the default rtol the same matrix keeps every direction, by Cholesky
    assert checker.factor(C, 100)[1] == p
