"""The checker's cost on dense data of many rows (:mod:`dualmaxent.certify`): what it no longer
computes, and that the bracket still holds.

Statements tested here, each recomputed from the definitions:

* the blocks of the categorical ``C_SS`` between two classes on the same columns are formed
  by one symmetric product (:func:`dualmaxent.certify._curvature`): exactly symmetric, in
  float64 within the rounding bound :func:`~dualmaxent.certify.factor` charges
  (``gamma(n + 8)`` of the terms' absolute sums) of ``X^T W J X`` written out here, in
  float32 within its own;
* the dense products ``X^T T`` (:func:`~dualmaxent.certify._xt`, also with ``|X|``) of one to
  eight columns are within ``gamma(n)`` of the products written out here, C-ordered;
* the dense products ``X theta`` (:func:`~dualmaxent.certify._product`) below and above
  :data:`~dualmaxent.certify.WIDE_COLUMNS` columns, of a C- or Fortran-ordered theta (pass
  2's step is the latter), are within ``gamma(m)`` of the products written out here,
  class-major;
* where the row sample of the Krylov step is weighed and rejected (n = 1e4, m = 51, three
  classes, unpenalised), the full curvature is the float32 proposal, the float64 one over
  all rows never formed (counted by recording :func:`~dualmaxent.certify._curvature`'s
  calls);
* on dense data of 2e4 rows (the float32 curvature's proposal: :data:`~dualmaxent.certify.
  SINGLE_MIN_TERMS`), two and three classes, unpenalised and L2, at a loose fit's theta and
  moved off it: the upper bound is ``-(l(theta) - penalty(theta))`` recomputed here, the
  lower bound is ``H(mu) - ||s_R||^2 / (2 lam)`` at the reported point recomputed here, and
  ``lower - roundoff <= dual(theta*) <= upper + roundoff`` for a tightly solved ``theta*``,
  whose dual value is recomputed here too (an independent upper bound of the optimum).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from dualmaxent import Dataset, solve_dual
from dualmaxent.bench_sweep import make_data

from _rounding import gamma as _gamma

checker = importlib.import_module("dualmaxent.certify")

U32 = 2.0 ** -24


def _curvature_written_out(X, w, P, sel, m, absolute=False):
    """``C_SS = X^T W J X`` (``J_j = diag(p_j) - p_j p_j^T``) on the class-major entries
    ``sel``, block by block from its definition; ``absolute``: the sums of the terms' absolute
    values."""
    cls, feat = np.divmod(sel, m)
    C = np.empty((sel.size, sel.size))
    for c in np.unique(cls):
        for d in np.unique(cls):
            weight = w * P[:, c] * ((c == d) - P[:, d])
            if absolute:
                weight = np.abs(weight)
            rows, cols = np.flatnonzero(cls == c), np.flatnonzero(cls == d)
            Xc, Xd = X[:, feat[rows]], X[:, feat[cols]]
            if absolute:
                Xc, Xd = np.abs(Xc), np.abs(Xd)
            C[np.ix_(rows, cols)] = (Xc * weight[:, None]).T @ Xd
    return C


@pytest.mark.parametrize("k", [3, 4])
@pytest.mark.parametrize("single", [False, True])
def test_the_blocks_between_classes_are_symmetric_products(k, single):
    rng = np.random.default_rng(k)
    n, m = 5000, 51  # (from SYMMETRIC_CROSS_COLUMNS columns: the symmetric products)
    X = rng.standard_normal((n, m))
    X[:, -1] = 1.0
    w = rng.uniform(0.5, 2.0, n)
    P = np.asfortranarray(softmax(X @ rng.standard_normal((m, k)), axis=1))
    sel = np.arange((k - 1) * m)  # unpenalised: every row of theta in the free classes
    C = checker._curvature(X, w, P, sel, m, True, single=single)
    exact = _curvature_written_out(X, w, P, sel, m)
    M = _curvature_written_out(X, w, P, sel, m, absolute=True)
    # each block between two classes is a symmetric product: symmetric bit for bit (a general
    # product's (i, j) and (j, i) entries round their terms differently)
    for a in range(k - 1):
        for b in range(a + 1, k - 1):
            block = C[a * m:(a + 1) * m, b * m:(b + 1) * m]
            assert np.array_equal(block, block.T)
            assert np.array_equal(C[b * m:(b + 1) * m, a * m:(a + 1) * m], block.T)
    # float64: within factor's gamma(n + 8) of the terms' magnitudes (and the test's own sums);
    # float32: at most eight float32 roundings a term and float32 sums within a chunk
    bound = ((_gamma(n + 16, U32) if single else _gamma(n + 8)) + _gamma(n + 8)) * M
    assert np.all(np.abs(C - exact) <= bound)


@pytest.mark.parametrize("width", range(1, 9))
@pytest.mark.parametrize("absolute", [False, True])
def test_the_dense_products_with_x_transposed(width, absolute):
    rng = np.random.default_rng(width)
    n, m = 3000, 51
    X = rng.standard_normal((n, m))
    T = np.asfortranarray(rng.standard_normal((n, width)))
    got = checker._xt(X, T, absolute)
    A = np.abs(X) if absolute else X
    exact = A.T @ T
    assert got.shape == (m, width) and got.flags.c_contiguous
    assert np.all(np.abs(got - exact) <= 2.0 * _gamma(n) * (np.abs(X).T @ np.abs(T)))


def _dense(k, n=20000, m=50, seed=0):
    X, y = make_data(n, m, k, seed=seed)
    return Dataset.from_arrays(X, y)


@pytest.mark.parametrize("m", [11, 51])
@pytest.mark.parametrize("order", ["C", "F"])
def test_the_dense_product_with_theta(m, order):
    rng = np.random.default_rng(m)
    n, q = 3000, 3
    X = rng.standard_normal((n, m))
    theta = np.asarray(rng.standard_normal((m, q)), order=order)
    theta[:, -1] = 0.0  # (the pinned class of a step)
    got = checker._product(X, theta)
    assert got.shape == (n, q) and got.flags.f_contiguous  # class-major, as the runner's tables
    assert np.all(np.abs(got - X @ theta) <= 2.0 * _gamma(m) * (np.abs(X) @ np.abs(theta)))


def _recorded_curvatures(monkeypatch):
    """``(rows, single)`` of every :func:`~dualmaxent.certify._curvature` call."""
    seen = []
    curvature = checker._curvature

    def record(Xb, wb, curv, sel, m, multi, single=False):
        seen.append((Xb.shape[0], single))
        return curvature(Xb, wb, curv, sel, m, multi, single=single)

    monkeypatch.setattr(checker, "_curvature", record)
    return seen


@pytest.mark.parametrize("tol", [1e-4, 1e-8])
def test_a_rejected_sample_leaves_the_float32_curvature(monkeypatch, tol):
    # n = 1e4, m = 51, three classes, unpenalised: the row sample is weighed after pass 1
    # (the full curvature costs several products) and rejected (its expected products exceed
    # their budget); the full curvature is then a proposal in float32, as without the sample
    # in view, and the float64 one is never formed over all rows
    ds = _dense(3, n=10000)
    theta = np.asarray(solve_dual(ds, tol=tol).theta, dtype=float).reshape(ds.m, 3)
    monkeypatch.setattr(checker, "ZERO_STEP", False)  # the step's path (1e-8: the point closes)
    steps = []
    sampled = checker._sampled_step
    monkeypatch.setattr(checker, "_sampled_step",
                        lambda *a, **kw: steps.append(1) or sampled(*a, **kw))
    seen = _recorded_curvatures(monkeypatch)
    cert = checker.certify(ds, theta)
    assert not steps, "the row sample was not taken"
    assert (ds.n, True) in seen
    assert (ds.n, False) not in seen
    assert cert.ok and cert.attained


def _dual_value(ds, theta, lam):
    """``-(l(theta) - (lam / 2) ||theta_R||^2)``, ``l = sum_j w_j (<Y_j, eta_j> -
    logsumexp(eta_j))``, the intercept's row (X's column of ones) unpenalised; and the
    magnitude of its sums."""
    eta = ds.X @ theta
    Y = ds.Y.reshape(ds.n, -1)
    lse = logsumexp(eta, axis=1)
    terms = (Y * eta).sum(axis=1) - lse
    pen_rows = ~np.all(ds.X == 1.0, axis=0)
    pen = 0.5 * lam * float(np.sum(theta[pen_rows] ** 2)) if lam else 0.0
    mag = float(ds.weights @ (np.abs(Y * eta).sum(axis=1) + np.abs(lse))) + pen
    return -(float(ds.weights @ terms) - pen), mag


def _primal_value(ds, mu, lam):
    """``H(mu) - ||s_R||^2 / (2 lam)``, ``s = X_R^T W (mu - Y)`` (no charge unpenalised); the
    point's balance residual on the unpenalised rows, the largest of its sums' magnitudes
    ``|X|^T W |mu - Y|`` there, and the magnitude of the value's sums."""
    P = np.asarray(mu, dtype=float).reshape(ds.n, -1)
    Y = ds.Y.reshape(ds.n, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(P > 0, P * np.log(P), 0.0)
    H = -float(ds.weights @ terms.sum(axis=1))
    D = ds.weights[:, None] * (P - Y)
    s = ds.X.T @ D
    pen_rows = ~np.all(ds.X == 1.0, axis=0) if lam else np.zeros(ds.m, dtype=bool)
    charge = float(np.sum(s[pen_rows] ** 2)) / (2.0 * lam) if lam else 0.0
    mag = float(ds.weights @ np.abs(terms).sum(axis=1)) + charge
    size = float((np.abs(ds.X).T @ np.abs(D))[~pen_rows].max())
    return H - charge, np.abs(s[~pen_rows]), size, mag


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("lam", [None, 1.0])
@pytest.mark.parametrize("moved", [False, True])
def test_the_bracket_holds_an_independent_optimum(k, lam, moved):
    ds = _dense(k)
    star = np.asarray(solve_dual(ds, l2=lam, tol=1e-10).theta, dtype=float).reshape(ds.m, k)
    theta = np.asarray(solve_dual(ds, l2=lam, tol=1e-4).theta, dtype=float).reshape(ds.m, k)
    if moved:
        theta = theta + 1e-3 * np.random.default_rng(1).standard_normal(theta.shape)
    br = checker.certify(ds, theta, l2=lam).projected
    g = _gamma(ds.n * k + ds.m + 8)
    # the upper bound: the dual objective at theta, recomputed here
    upper, mag = _dual_value(ds, theta, lam)
    assert abs(br.upper_bound - upper) <= 2.0 * g * mag
    # the lower bound: the primal objective at the reported point, recomputed here; the point
    # balances the unpenalised rows within the reported residual (relative to scale)
    lower, balance, size, pmag = _primal_value(ds, br.mu, lam)
    assert abs(br.lower_bound - lower) <= 2.0 * g * pmag
    # (both residuals' sums within gamma(n + 2) of |X|^T W |mu - Y|, the scales within
    # gamma(n + 2) of theirs)
    scale = 1.0 + float(np.abs(ds.X.T @ (ds.weights[:, None] * ds.Y.reshape(ds.n, -1))).max())
    g2 = _gamma(ds.n + 2)
    assert abs(float(balance.max()) / scale - br.balance_residual) <= (
        2.0 * g2 * size / scale + 4.0 * g2 * br.balance_residual)
    # an independent upper bound of the optimum, the dual value at a tightly solved theta*:
    # the bracket's lower bound is below it (weak duality); and, theta* being optimal to its
    # solver's 1e-10, it is below the bracket's upper bound
    opt_upper, opt_mag = _dual_value(ds, star, lam)
    assert br.lower_bound - br.roundoff <= opt_upper + 2.0 * g * opt_mag
    assert opt_upper <= br.upper_bound + br.roundoff + 2.0 * g * opt_mag
    assert br.duality_gap >= -br.roundoff
