"""The checker's faster paths (:mod:`dualmaxent.certify`), each against its definition.

Statements tested here, each recomputed from the definitions:

* ``C_SS`` of many classes formed by one symmetric product (:func:`_stacked_curvature`), in
  row chunks of any size (a partial last one too), is minus the log-likelihood's Hessian on
  ``S`` written out here from ``diag(p) - p p^T`` per row, entry by entry within the rounding
  bound :func:`factor` charges for it, ``gamma(n + 8)`` times the entry's sum of absolute
  terms (once for each of the two computations), and exactly symmetric;
* in memory the curvature is formed after pass 1 from the means it kept: when the sampled
  Krylov step does not finish, the full curvature is formed without a second pass 1 (pass 1
  runs once), and the bracket is then exactly the one of the full curvature taken at once;
* the segment's grid searched a few points a pass (:func:`_segment_search`) finds the point
  the whole grid in one pass finds, up to the rounding of the two values, and the value it
  reports is that pass's value at its ``t``; the entropy at the checker's point, recomputed
  here from its definition, is the reported one within its summation bound.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy.special import softmax, xlogy

from dualmaxent import solve_dual

from _factories import drawn_classes
from _rounding import U, gamma as _gamma

checker = importlib.import_module("dualmaxent.certify")


def _data(n, k, m_feat, seed=0):
    return drawn_classes(n, k, m_feat, seed=seed, scale=0.7)


@pytest.mark.parametrize("chunk_bytes", [None, 8 * 7 * 37])
def test_the_stacked_curvature_is_the_hessian(monkeypatch, chunk_bytes):
    k, n, m = 8, 1001, 4
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, m))
    w = rng.random(n) * 2.0
    w[::17] = 0.0  # zero weights too
    P = np.asfortranarray(softmax(2.0 * rng.standard_normal((n, k)), axis=1))
    sel = np.arange(m * (k - 1))  # every column in the first k - 1 classes (unpenalised)
    assert k - 1 >= checker.SYRK_MIN_CLASSES
    if chunk_bytes is not None:  # chunks of 37 rows of the 7 classes' 28 columns: 28 chunks
        monkeypatch.setattr(checker, "SYRK_BYTES", chunk_bytes * m)
    calls = []
    stacked = checker._stacked_curvature
    monkeypatch.setattr(checker, "_stacked_curvature",
                        lambda *a: calls.append(1) or stacked(*a))
    C = checker._curvature(X, w, P, sel, m, True)
    assert calls, "the stacked product formed C_SS"
    cls, feat = np.divmod(sel, m)
    expected = np.empty((sel.size, sel.size))
    magnitude = np.empty((sel.size, sel.size))
    for a in range(sel.size):
        for b in range(sel.size):
            c, d = cls[a], cls[b]
            J = P[:, c] * ((c == d) - P[:, d])
            terms = w * J * X[:, feat[a]] * X[:, feat[b]]
            expected[a, b] = terms.sum()
            magnitude[a, b] = np.abs(terms).sum()
    # each side within gamma(n + 8) of the exact entry (module docstring of factor); the
    # magnitude's own sum rounds by gamma(n) more
    bound = 2.0 * _gamma(n + 8) * magnitude * (1.0 + _gamma(n))
    assert np.all(np.abs(C - expected) <= bound)
    assert np.array_equal(C, C.T)


def test_a_sample_that_does_not_finish_costs_no_second_pass_one(monkeypatch):
    ds = _data(3000, 10, 3, seed=1)
    theta = np.asarray(solve_dual(ds).theta, dtype=float).reshape(ds.m, -1)
    theta = theta + 1e-3 * np.random.default_rng(2).standard_normal(theta.shape)
    full = checker.certify(ds, theta).projected  # (the full curvature at once: few entries)
    monkeypatch.setattr(checker, "KRYLOV_MIN_PRODUCTS", 0)  # the sample first ...
    monkeypatch.setattr(checker, "KRYLOV_SHARE", 1e6)
    passes, kept = [], []
    one, curvature, pcg = checker._pass_one, checker._kept_curvature, checker._pcg_step
    monkeypatch.setattr(checker, "_pass_one", lambda *a, **kw: passes.append(1) or one(*a, **kw))
    monkeypatch.setattr(checker, "_kept_curvature",
                        lambda data, k, sel, sample, *single: kept.append(sample)
                        or curvature(data, k, sel, sample, *single))
    done = []
    # ... with no product to finish
    monkeypatch.setattr(checker, "_pcg_step",
                        lambda apply, t_S, pre, within, maxiter:
                        (lambda out: done.append(out[1]) or out)(pcg(apply, t_S, pre, within, 0)))
    br = checker.certify(ds, theta).projected
    assert done == [False] and kept[0] is not None and kept[1] is None
    blocks = -(-ds.n // max(256, -(-ds.n // -(-ds.n * 8 * (ds.m + 2 * ds.k)
                                                 // checker.BLOCK_BYTES))))
    assert len(passes) == blocks  # one pass 1
    assert (br.lower_bound, br.upper_bound, br.roundoff) == (full.lower_bound, full.upper_bound,
                                                             full.roundoff)


def test_the_kept_curvature_is_the_sampled_rows_curvature():
    ds = _data(2000, 4, 3, seed=4)
    theta = np.asarray(solve_dual(ds).theta, dtype=float).reshape(ds.m, -1)
    P = np.asfortranarray(softmax(ds.X @ theta, axis=1))
    kept = {"mean": P, "curv": None}
    sel = np.arange(ds.m * (ds.k - 1))
    for sample, rows in ((None, slice(None)), (300, slice(0, None, ds.n // 300))):
        C, weight = checker._kept_curvature(ds, kept, sel, sample)
        X, w, Pr = ds.X[rows], ds.weights[rows], P[rows]
        cls, feat = np.divmod(sel, ds.m)
        for a in range(sel.size):
            for b in range(sel.size):
                c, d = cls[a], cls[b]
                terms = w * Pr[:, c] * ((c == d) - Pr[:, d]) * X[:, feat[a]] * X[:, feat[b]]
                n = len(terms)
                assert abs(C[a, b] - terms.sum()) <= (2.0 * _gamma(n + 8) * np.abs(terms).sum()
                                                      * (1.0 + _gamma(n)))
        assert weight == pytest.approx(float(w.sum()), rel=2 * _gamma(ds.n))


@pytest.mark.parametrize("scale", [0.01, 0.1])
def test_the_searched_segment_finds_the_grids_best_point(monkeypatch, scale):
    ds = _data(2000, 10, 5, seed=5)
    lam = 1.0
    theta = np.asarray(solve_dual(ds, l2=lam).theta, dtype=float)
    theta = theta + scale * np.random.default_rng(0).standard_normal(theta.shape)
    evaluated = []
    segment = checker._pass_segment

    def spy(*a, **kw):
        out = segment(*a, **kw)
        evaluated.append((np.array(a[7]), out))
        return out

    monkeypatch.setattr(checker, "_pass_segment", spy)
    monkeypatch.setattr(checker, "PENALISED_STEP", False)  # the intercept's step, its segment
    # (the search itself is tested: also where no point of the segment closes the bracket,
    # which :func:`_cannot_close` would otherwise decide without it)
    monkeypatch.setattr(checker, "_cannot_close", lambda *a, **kw: False)
    cert = checker.certify(ds, theta, l2=lam)
    br = cert.projected
    assert 0.0 < br.segment < 1.0, "the lower bound is inside the segment"
    searched = sum(len(t) for t, _ in evaluated)
    grid_size = len(checker.SEGMENT_GRID) + 1
    assert searched < grid_size
    # the value reported is the pass's own at that t (the sums of its one block)
    hits = [(t, out) for t, out in evaluated if br.segment in t]
    t, out = hits[0]
    at = int(np.flatnonzero(t == br.segment)[0])
    assert br.entropy == float(out.entropy[at])
    # the whole grid in one pass: the search's point is its best up to the two values' rounding
    monkeypatch.setattr(checker, "SEGMENT_PROBES", 10 * grid_size)
    whole = checker.certify(ds, theta, l2=lam).projected
    assert br.lower_bound >= whole.lower_bound - (br.roundoff + whole.roundoff)
    # the entropy at the checker's point, from its definition: within its summation bound
    point = br.mu.reshape(ds.n, -1)
    assert np.all(point >= 0.0)
    terms = -ds.weights * xlogy(point, point).sum(axis=1)
    magnitude = float(ds.weights @ (np.abs(xlogy(point, point)).sum(axis=1)
                                    + 2 * np.abs(point).sum(axis=1)))
    assert abs(br.entropy - terms.sum()) <= 2 * (_gamma(ds.n + 8) + 8 * U) * magnitude


def test_the_krylov_decades_are_the_residuals_to_its_stopping_bound():
    ds = _data(3000, 5, 4, seed=6)
    theta = np.asarray(solve_dual(ds, tol=1e-3).theta, dtype=float).reshape(ds.m, -1)
    P = np.asfortranarray(softmax(ds.X @ theta, axis=1))
    sel = np.arange(ds.m * (ds.k - 1))
    cls, feat = np.divmod(sel, ds.m)
    t_S = (ds.X.T @ (ds.weights[:, None] * (ds.Y - P)))[feat, cls]
    sample = 400
    got = checker._krylov_decades(ds, {"mean": P, "curv": None}, sel, t_S, sample)
    rows = slice(0, None, ds.n // sample)
    X, w, gap = ds.X[rows], ds.weights[rows], np.abs(P - ds.Y)[rows]
    bound = _gamma(ds.n + 2) * ds.n / X.shape[0] * (np.abs(X).T @ (w[:, None] * gap))[feat, cls]
    expected = np.log10(max(np.max(np.abs(t_S) / bound), 1.0))
    # a rule of thumb's input: its sums may differ by their rounding, far below a decade
    assert got == pytest.approx(expected, abs=1e-6)
    assert got > 1.0  # a loose fit's gradient is decades above the rounding of its sums
    # and the products it predicts grow with the decades and fall with the sample's rows
    assert checker._krylov_products(got, 2) > checker._krylov_products(got, 8) > 1.0
