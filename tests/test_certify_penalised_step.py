"""The penalised problem's Newton step in the checker (:func:`dualmaxent.certify.
_penalised_step`, issue 19): L2 and the elastic net at a theta stopped short.

Statements tested here, each recomputed from the definitions:

* at a loosely solved L2 theta (a relative gradient near 1e-4, as ``tol=1e-4`` or
  scikit-learn's defaults leave it), the step of the intercept alone brackets the optimum only
  within ``||g_R||^2 / (2 lam)`` (``g_R`` the penalised gradient, written out here), while the
  penalised step's bracket is sound (its lower bound, less its round-off, below the optimum of
  a tight solve; its upper bound ``-l(theta) + lam/2 ||theta_R||^2`` written out here) and
  within twice the true distance ``dual(theta) - OPT`` plus its round-off: second order, as
  ``g^T (C + lam I_R)^-1 g / 2`` is, which is computed here from the definitions too;
* it moves every free entry (L2) or the intercept and the active entries (elastic net);
* it is taken where the cheap bracket does not close, and only there: at the solver's default
  theta the bracket is the intercept's step (or none) as before;
* in memory it forms no second pass 1 (one pass 1, one pass 2), on a dense design and on a
  sparse one alike, whose bracket is sound all the same;
* where its curvature costs more than the caps allow, the bracket is the intercept's step's.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.sparse as sp

from dualmaxent import Dataset, solve_dual
from dualmaxent.params import make_penalty

from _definitions import full_curvature, probabilities
from _factories import drawn_kind
from _rounding import gamma as _gamma

checker = importlib.import_module("dualmaxent.certify")


def _labels(ds):
    Y = ds.Y.reshape(ds.n, -1)
    return Y if ds.family.multiclass else np.column_stack([Y[:, 0], 1.0 - Y[:, 0]])


def _penalised_gradient(ds, theta, lam):
    """``(g, sel)``: ``g = X^T W (Y - P) - lam theta`` on the entries the penalised step
    moves, ``sel`` (class-major ``c m + i``): the intercept's (last row) free classes and every
    class of the penalised rows."""
    P = probabilities(ds, theta)
    q = theta.shape[1]
    G = ds.X.T @ (ds.weights[:, None] * (_labels(ds) - P))[:, :q]
    G[:-1] -= lam * theta[:-1]
    free = q - 1 if ds.family.multiclass else 1
    sel = np.array([c * ds.m + i for c in range(q) for i in range(ds.m)
                    if i < ds.m - 1 or c < free])
    cls, feat = np.divmod(sel, ds.m)
    return G[feat, cls], sel


def _dual(ds, theta, lam):
    """``-l(theta) + lam/2 ||theta_R||^2`` from the definitions (a stable logsumexp)."""
    eta = ds.X @ theta
    if not ds.family.multiclass:
        eta = np.column_stack([eta[:, 0], np.zeros(ds.n)])
    top = eta.max(axis=1)
    lse = top + np.log(np.exp(eta - top[:, None]).sum(axis=1))
    l = float(ds.weights @ ((_labels(ds) * eta).sum(axis=1) - lse))
    return -l + 0.5 * lam * float(np.sum(theta[:-1] ** 2))


def _loose(kind, lam, n=3000, m_feat=6, seed=0, tol=1e-4):
    ds = drawn_kind(kind, n, m_feat, seed)
    pen = make_penalty(l2=lam)
    loose = np.asarray(solve_dual(ds, penalty=pen, tol=tol).theta, dtype=float)
    tight = solve_dual(ds, penalty=pen, tol=1e-13)
    return ds, pen, loose.reshape(ds.m, -1), -tight.objective


@pytest.mark.parametrize("kind", ["bernoulli", 3])
def test_a_loose_l2_fit_gets_a_second_order_bracket(monkeypatch, kind):
    lam = 0.01  # (a weak ridge: the charge of the slack left open at the default tolerance)
    ds, pen, theta, opt = _loose(kind, lam)
    flat = theta if ds.family.multiclass else theta[:, 0]
    g, sel = _penalised_gradient(ds, theta, lam)
    # the intercept's step alone: the slack's charge, ||g_R||^2 / (2 lam), is in its gap
    monkeypatch.setattr(checker, "PENALISED_STEP", False)
    cheap = checker.certify(ds, flat, penalty=pen).projected
    monkeypatch.setattr(checker, "PENALISED_STEP", True)
    cert = checker.certify(ds, flat, penalty=pen)
    br = cert.projected
    # the intercept's free classes, and every class of the penalised rows (a penalty fixes
    # the gauge there)
    free = (ds.k - 1) if ds.family.multiclass else 1
    q = theta.shape[1]
    entries = free + q * (ds.m - 1)
    assert cheap.size == free and br.size == entries, "every free entry moved"
    # the upper bound is the dual at theta, written out: the two sums each within gamma(n k +
    # m) of their magnitudes (the logits', the log-partitions', the penalty's)
    magnitude = (float(ds.weights @ (np.abs(ds.X @ theta).sum(axis=1) * 2 + 1.0)) * ds.k
                 + lam * float(np.sum(theta[:-1] ** 2)))
    assert abs(br.upper_bound - _dual(ds, theta, lam)) <= 2 * _gamma(
        ds.n * ds.k + ds.m + 8) * magnitude
    # sound: the optimum of a tight solve inside the bracket, up to its round-off
    assert br.lower_bound - br.roundoff <= opt <= br.upper_bound + br.roundoff
    # the cheap gap is about ||g_R||^2 / (2 lam) (the penalised rows: all but the last)
    penalised = sel % ds.m < ds.m - 1
    assert cheap.duality_gap >= 0.5 * float(np.sum(g[penalised] ** 2)) / (2 * lam)
    # second order: within twice the true distance, which is about g^T H^-1 g / 2 with the
    # curvature written out here (lam on the penalised entries' diagonal)
    H = full_curvature(ds, theta, sel)
    H[np.diag_indices_from(H)] += lam * penalised
    second = 0.5 * float(g @ np.linalg.solve(H, g))
    truth = br.upper_bound - opt
    assert 0.5 * second <= truth <= 2.0 * second
    assert br.duality_gap <= 2.0 * truth + br.roundoff
    assert br.duality_gap < 1e-2 * cheap.duality_gap
    assert cert.ok


def test_an_elastic_net_moves_the_active_entries(monkeypatch):
    ds = drawn_kind(3, 3000, 6, 1)
    pen = make_penalty(l1=0.01, l1_ratio=0.1)  # (weak: the slack's charge left open)
    theta = np.asarray(solve_dual(ds, penalty=pen, tol=1e-3).theta, dtype=float)
    theta = theta.reshape(ds.m, -1)
    opt = -solve_dual(ds, penalty=pen, tol=1e-13).objective
    active = int(np.count_nonzero(theta[:-1])) + ds.k - 1
    monkeypatch.setattr(checker, "PENALISED_STEP", False)
    cheap = checker.certify(ds, theta, penalty=pen)
    monkeypatch.setattr(checker, "PENALISED_STEP", True)
    cert = checker.certify(ds, theta, penalty=pen)
    br = cert.projected
    assert not cheap.ok and cheap.projected.size == ds.k - 1
    assert br.size == active and cert.ok
    assert br.lower_bound - br.roundoff <= opt <= br.upper_bound + br.roundoff
    assert br.duality_gap <= 2.0 * (br.upper_bound - opt) + br.roundoff


def test_the_default_fit_keeps_the_cheap_bracket(monkeypatch):
    ds = drawn_kind("bernoulli", 3000, 6, 0)
    pen = make_penalty(l2=1.0)
    theta = solve_dual(ds, penalty=pen).theta
    taken = []
    original = checker._penalised_step
    monkeypatch.setattr(checker, "_penalised_step", lambda *a: taken.append(1) or original(*a))
    br = checker.certify(ds, theta, penalty=pen).projected
    assert br.size == 1 and not br.stepped and taken == [], "the given point's bracket closed"


def test_one_pass_one_in_memory_and_the_same_bracket_on_a_sparse_design(monkeypatch):
    lam = 0.01
    ds, pen, theta, opt = _loose("bernoulli", lam, n=4000)
    calls = {"one": 0, "two": 0}
    for name, key in (("_pass_one", "one"), ("_pass_two", "two")):
        original = getattr(checker, name)

        def wrapped(*a, _o=original, _k=key, **kw):
            calls[_k] += 1
            return _o(*a, **kw)

        monkeypatch.setattr(checker, name, wrapped)
    monkeypatch.setattr(checker, "ZERO_MIN_TERMS_BERNOULLI", 0)
    dense = checker.certify(ds, theta[:, 0], penalty=pen)
    assert calls == {"one": 1, "two": 1} and dense.projected.size == ds.m and dense.ok
    # the same problem on a sparse X (its implicit intercept), from one pass 1 too
    sparse = Dataset.from_arrays(sp.csr_matrix(ds.X[:, :-1]), ds.y, family="bernoulli")
    br = checker.certify(sparse, theta[:, 0], penalty=pen).projected
    assert calls == {"one": 2, "two": 2}
    assert br.size == ds.m
    assert br.lower_bound - br.roundoff <= opt <= br.upper_bound + br.roundoff
    assert abs(br.upper_bound - dense.projected.upper_bound) <= 1e-9 * abs(opt)


def test_an_unaffordable_curvature_keeps_the_intercepts_bracket(monkeypatch):
    """Where the penalised step's curvature would cost more than its caps allow (set here so
    that this small problem's does), the bracket is the intercept's step's, as sound and as
    open as without the penalised step."""
    lam = 0.01
    ds, pen, theta, opt = _loose("bernoulli", lam)
    monkeypatch.setattr(checker, "PENALISED_STEP_MIN_TERMS", 0)
    monkeypatch.setattr(checker, "PENALISED_STEP_MAX_RATIO", (ds.m ** 2 - 1) / ds.m)
    assert not checker._penalised_step_affordable(ds.n, ds.m, ds.m, 1)
    capped = checker.certify(ds, theta[:, 0], penalty=pen).projected
    monkeypatch.setattr(checker, "PENALISED_STEP", False)
    cheap = checker.certify(ds, theta[:, 0], penalty=pen).projected
    assert capped.size == cheap.size == 1
    assert capped.duality_gap == cheap.duality_gap
    assert capped.lower_bound - capped.roundoff <= opt <= capped.upper_bound + capped.roundoff


def _three_classes(n, m, k, seed=3):
    from scipy.special import softmax

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m))
    P = softmax(X @ rng.standard_normal((m, k)), axis=1)
    y = (P.cumsum(1) > rng.random(n)[:, None]).argmax(1)
    return Dataset.from_arrays(X, y)


@pytest.mark.parametrize("method", ["newton", "newton-cg"])
def test_a_slack_tolerance_brings_the_ridges_slack_charge_within_it(method):
    """``solve_dual(slack_tol=s)`` with L2: past ``tol`` the solve goes on until the penalised
    rows' gradient ``g_R = X_R^T W (Y - P) - lam theta_R`` (recomputed here from its
    definition) charges ``||g_R||^2 / (2 lam) <= s max(1, |objective|)``, and it has
    converged; the same solve without it stops at ``tol`` with the charge above that (the
    option is what moved it)."""
    from scipy.special import softmax

    ds = _three_classes(20_000, 8, 3)
    lam, share = 0.1, 0.5e-4

    def charge(result):
        th = np.asarray(result.theta, dtype=float)
        G = ds.X.T @ (ds.weights[:, None] * (ds.Y - softmax(ds.X @ th, axis=1)))
        g = G[:-1] - lam * th[:-1]  # (the intercept, the last row, is not penalised)
        return float(np.sum(g * g)) / (2 * lam), share * max(1.0, abs(result.objective))

    plain = solve_dual(ds, method=method, tol=1e-4, l2=lam)
    going = solve_dual(ds, method=method, tol=1e-4, l2=lam, slack_tol=share)
    assert plain.converged and going.converged
    within, allowed = charge(going)
    assert within <= allowed, (within, allowed)
    assert charge(plain)[0] > charge(plain)[1]
    assert going.iterations > plain.iterations


def test_verify_asks_for_the_slack_where_the_checkers_step_would_cost_more():
    """:func:`dualmaxent.verify.slack_tol`: the zero step's share of the tolerance for a
    categorical L2 fit of a dense design whose full curvature has more than
    :data:`~dualmaxent.verify.SLACK_MIN_TERMS` terms ``n (m k)^2``; None for two classes
    (Newton's own iteration forms that curvature), for L1 and the elastic net, without a
    penalty, for a sparse design and below the threshold."""
    from dualmaxent.certify import ZERO_STEP_SHARE
    from dualmaxent.verify import SLACK_MIN_TERMS, slack_tol

    big = _three_classes(20_000, 60, 4)
    assert big.n * (big.m * big.k) ** 2 > SLACK_MIN_TERMS
    assert slack_tol(big, make_penalty(l2=1.0), 1e-4) == ZERO_STEP_SHARE * 1e-4
    for penalty in (make_penalty(), make_penalty(l1=1.0), make_penalty(l1=1.0, l1_ratio=0.5)):
        assert slack_tol(big, penalty, 1e-4) is None
    small = _three_classes(20_000, 30, 4)
    assert small.n * (small.m * small.k) ** 2 <= SLACK_MIN_TERMS
    assert slack_tol(small, make_penalty(l2=1.0), 1e-4) is None
    two = Dataset.from_arrays(big.X[:, :-1], (big.y > 1).astype(int))
    assert slack_tol(two, make_penalty(l2=1.0), 1e-4) is None
    sparse = Dataset.from_arrays(sp.csr_array(big.X[:, :-1]), big.y)
    assert slack_tol(sparse, make_penalty(l2=1.0), 1e-4) is None


def test_the_slack_tolerance_takes_a_few_steps_at_most_where_it_cannot_be_met(monkeypatch):
    """Where the slack's charge cannot be brought within ``slack_tol`` (here: never, by a
    ``slack_met`` that always says no) the solve still converges at its tolerance, after at
    most :data:`~dualmaxent.solvers.SLACK_STEPS` steps past it, not ``max_iter``."""
    import dualmaxent.objective as O
    import dualmaxent.solvers as S

    ds = _three_classes(20_000, 8, 3)
    plain = solve_dual(ds, method="newton-cg", tol=1e-4, l2=0.1)
    monkeypatch.setattr(O.DualObjective, "slack_met", lambda self, grad, value: False)
    going = solve_dual(ds, method="newton-cg", tol=1e-4, l2=0.1, slack_tol=1e-4)
    assert going.converged
    assert plain.iterations < going.iterations <= plain.iterations + S.SLACK_STEPS


@pytest.mark.parametrize("kind", ["l2", "l1", "elasticnet"])
@pytest.mark.parametrize("whole", [True, False])
def test_the_slack_excess_is_the_fenchel_young_gap_of_the_penalised_rows(kind, whole,
                                                                        monkeypatch):
    """``_slack_excess`` is ``pen(theta_R) + pen*(s) + <theta_R, s>`` at ``s = -R_R``, from the
    definitions: ``||R_R - lam theta_R||^2 / (2 lam)`` for L2; ``lam |theta_R|_1 - <theta_R,
    R_R>`` for L1 (its conjugate the box, charged nothing); for the elastic net ``lam (a
    |theta|_1 + (1 - a)/2 |theta|^2) + sum (|R| - lam a)_+^2 / (2 lam (1 - a)) - <theta, R>``
    on the rows; the same whether the table is taken whole or a column at a time."""
    if not whole:
        monkeypatch.setattr(checker, "SLACK_WHOLE_ENTRIES", 0)
    rng = np.random.default_rng(5)
    m, q, lam, a = 7, 4, 1.7, 0.3
    th, R = rng.standard_normal((m, q)), 3.0 * rng.standard_normal((m, q))
    pen_rows = np.arange(m) < m - 1  # the last row (the intercept's) unpenalised
    penalty = make_penalty(**({"l2": lam} if kind == "l2" else {"l1": lam} if kind == "l1"
                              else {"l1": lam, "l1_ratio": a}))
    t, r = th[pen_rows], R[pen_rows]
    if kind == "l2":
        expected = np.sum((r - lam * t) ** 2) / (2 * lam)
    elif kind == "l1":
        expected = lam * np.abs(t).sum() - np.sum(t * r)
    else:
        expected = (lam * (a * np.abs(t).sum() + 0.5 * (1 - a) * np.sum(t * t))
                    + np.sum(np.maximum(np.abs(r) - lam * a, 0.0) ** 2) / (2 * lam * (1 - a))
                    - np.sum(t * r))
    got = checker._slack_excess(R, th, pen_rows, penalty)
    # sums of at most 3 m q terms of these magnitudes, each term within a few roundings
    scale = lam * np.sum(t * t) + np.sum(r * r) / lam + np.abs(t * r).sum() + lam * np.abs(t).sum()
    assert abs(got - expected) <= _gamma(3 * m * q + 8) * 4 * scale
