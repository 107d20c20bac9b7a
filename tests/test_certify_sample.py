"""The sampled Newton step of the checker and its Cholesky factor (:mod:`dualmaxent.certify`).

Statements tested here, each recomputed from the definitions:

* with the row sample and conjugate gradients forced (``KRYLOV_MIN_PRODUCTS = 0``, no cap on
  the iterations) and every
  factor by Cholesky (``CHOLESKY_MIN = 0``), for no penalty and L2, k = 2, 3 and 10, at the
  solver's theta and at a theta moved off it, the bracket holds an optimum found here
  independently (a tight L-BFGS solve of the objective written out here): ``lower - roundoff
  <= f(theta_here)``, and ``f(theta_here) >= lower`` is all weak duality allows checking;
* the attainment proof's eigenvalue, a lower bound from the sample's shifted Cholesky
  factorisation, is below the smallest eigenvalue of the *full* curvature ``C_SS`` at theta,
  formed here densely from its definition;
* :func:`dualmaxent.certify.factor`'s Cholesky bound is below the smallest eigenvalue of the
  matrix, and a singular matrix falls back to the pseudo-inverse.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax

from dualmaxent import design, solve_dual
from dualmaxent.params import make_penalty

from _factories import drawn_classes
from _rounding import U, gamma as _gamma

checker = importlib.import_module("dualmaxent.certify")


def _data(n, k, m_feat, seed=0):
    return drawn_classes(n, k, m_feat, seed=seed, scale=0.5)


def _objective(ds, theta, lam):
    """``-l(theta) + (lam / 2) ||theta_R||^2`` (all rows but the intercept's, the last) and
    its gradient, written out here; theta of shape (m, k)."""
    eta = ds.X @ theta
    value = -float(ds.weights @ ((ds.Y * eta).sum(axis=1) - logsumexp(eta, axis=1)))
    grad = -ds.X.T @ (ds.weights[:, None] * (ds.Y - softmax(eta, axis=1)))
    pen = theta[:-1]
    value += 0.5 * lam * float(np.sum(pen ** 2))
    grad[:-1] += lam * pen
    return value, grad


def _tight_optimum(ds, lam, start):
    """An optimum found here: L-BFGS on :func:`_objective` with the last class pinned
    unpenalised (free otherwise: the penalty fixes the gauge)."""
    m, k = start.shape

    def f(v):
        th = v.reshape(m, k)
        value, grad = _objective(ds, th, lam)
        if lam == 0.0:
            grad = grad.copy()
            grad[:, -1] = 0.0
        return value, grad.ravel()

    x0 = np.array(start, dtype=float)
    if lam == 0.0:
        x0 = x0 - x0[:, -1:]
    res = minimize(f, x0.ravel(), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-12, "ftol": 1e-16, "maxiter": 5000})
    return res.x.reshape(m, k)


def _recording_newton_step(monkeypatch) -> dict:
    """Wrap the checker's ``_newton_step``: the dict returned receives the entries ``sel`` of
    its last call and its ``(rank, condition, smallest)``, as ``seen["sel"]`` and
    ``seen["solve"]``."""
    seen = {}
    newton = checker._newton_step

    def record_newton(run, data, th, sel, *args, **kw):
        out = newton(run, data, th, sel, *args, **kw)
        seen["sel"], seen["solve"] = sel, out[4]
        return out

    monkeypatch.setattr(checker, "_newton_step", record_newton)
    return seen


def _full_curvature(ds, theta, sel):
    """``C_SS = X^T W J X`` on the entries ``sel`` (class-major ``c m + i``) at theta, dense,
    from its definition: ``J_j = diag(p_j) - p_j p_j^T`` per row."""
    m = ds.m
    P = softmax(ds.X @ theta, axis=1)
    cls, feat = np.divmod(sel, m)
    C = np.empty((sel.size, sel.size))
    for a in range(sel.size):
        for b in range(sel.size):
            c, d = cls[a], cls[b]
            J = P[:, c] * ((c == d) - P[:, d])
            C[a, b] = ds.X[:, feat[a]] @ (ds.weights * J * ds.X[:, feat[b]])
    return C


@pytest.mark.parametrize("kind", ["none", "l2"])
@pytest.mark.parametrize("k", [2, 3, 10])
@pytest.mark.parametrize("moved", [False, True])
def test_the_sampled_step_brackets_an_independent_optimum(monkeypatch, kind, k, moved):
    monkeypatch.setattr(checker, "ZERO_STEP", False)  # the step's path at any theta
    monkeypatch.setattr(checker, "PENALISED_STEP", False)  # (the intercept's, under L2)
    monkeypatch.setattr(checker, "KRYLOV_MIN_PRODUCTS", 0)
    monkeypatch.setattr(checker, "KRYLOV_SHARE", 1e6)  # no cap: the path runs to the end
    monkeypatch.setattr(checker, "CHOLESKY_MIN", 0)
    # the row sample's factor as the preconditioner, not the Kronecker product's
    # (tests/test_certify_kronecker.py)
    monkeypatch.setattr(checker, "_kronecker_layout", lambda *args: None)
    ds = _data(1500, k, 5, seed=k)
    lam = 0.0 if kind == "none" else 1.0
    pen = None if kind == "none" else make_penalty(l1=lam, l1_ratio=0.0)
    theta = np.asarray(solve_dual(ds, penalty=pen).theta, dtype=float).reshape(ds.m, k)
    if moved:
        theta = theta + 1e-3 * np.random.default_rng(1).standard_normal(theta.shape)

    seen = _recording_newton_step(monkeypatch)
    pcg = checker._pcg_step

    def record_pcg(*args, **kw):
        out = pcg(*args, **kw)
        seen["done"] = out[1]
        return out

    monkeypatch.setattr(checker, "_pcg_step", record_pcg)
    cert = checker.certify(ds, theta, penalty=pen)
    br = cert.projected
    assert seen.get("done"), "the sampled step ran and converged"

    best = _tight_optimum(ds, lam, theta)
    f_best = _objective(ds, best, lam)[0]
    eta = ds.X @ best
    # f at theta_here, recomputed: within gamma(n m + n k) of its terms' magnitudes
    magnitude = float(ds.weights @ (np.abs(ds.Y * eta).sum(axis=1)
                                   + np.abs(logsumexp(eta, axis=1)))) + 0.5 * lam * float(
        np.sum(best[:-1] ** 2))
    slack = _gamma(ds.n * (ds.m + k) + 8) * magnitude
    # weak duality: lower <= OPT <= f(theta_here), and OPT <= upper
    assert br.lower_bound - br.roundoff <= f_best + slack
    assert f_best - slack <= br.upper_bound + br.roundoff
    if not moved:
        assert cert.ok

    # the eigenvalue of the attainment proof is below the full curvature's smallest
    rank, _, smallest = seen["solve"]
    if kind == "none":
        C = _full_curvature(ds, theta, seen["sel"])
        lam_min = float(np.linalg.eigvalsh(C).min())
        # the test's own C and eigvalsh: C's entries within gamma(n + 8) max diag(C) (their
        # terms' magnitudes bounded by the diagonal, Cauchy-Schwarz), p of them in a row, and
        # eigvalsh's backward error, taken as 8 p u ||C||_2 <= 8 p u p max diag(C)
        p = C.shape[0]
        err = (_gamma(ds.n + 8) + 8 * p * U) * p * float(np.abs(np.diag(C)).max())
        assert 0.0 < smallest <= lam_min + err, (smallest, lam_min, err)
        assert rank == p
        assert br.proves_attained


@pytest.mark.parametrize("p", [5, 60, 200])
def test_the_cholesky_bound_is_below_the_smallest_eigenvalue(monkeypatch, p):
    monkeypatch.setattr(checker, "CHOLESKY_MIN", 0)
    rng = np.random.default_rng(p)
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    vals = np.logspace(-6, 2, p)
    C = (Q * vals) @ Q.T
    C = 0.5 * (C + C.T)
    scale = np.exp(rng.standard_normal(p))
    C = scale[:, None] * C * scale[None, :]
    solve, rank, condition, smallest = checker.factor(C)
    exact = float(np.linalg.eigvalsh(C).min())
    # the matrix as formed differs from Q diag(vals) Q^T by rounding: eigvalsh's own backward
    # error, 8 p u ||C||_2, is the slack
    err = 8 * p * U * float(np.linalg.norm(C, 2))
    assert 0.0 < smallest <= exact + err
    assert rank == p


def test_a_singular_matrix_falls_back_to_the_pseudo_inverse(monkeypatch):
    monkeypatch.setattr(checker, "CHOLESKY_MIN", 0)
    rng = np.random.default_rng(0)
    B = rng.standard_normal((8, 4))
    C = B @ B.T  # rank 4 of 8
    t = C @ rng.standard_normal(8)
    a, rank, condition, smallest = checker.pseudo_solve(C, t)
    assert rank == 4
    assert np.linalg.norm(C @ a - t) <= 1e-10 * np.linalg.norm(t)


@pytest.mark.parametrize("density", [0.0, 0.2, 1.0])
def test_sparse_column_equals_the_dense_column(density):
    """The column of a sparse X the checker reads (:func:`dualmaxent.design.column`: the
    intercept's, last, from each row's last stored entry; any other by comparing indices) is
    exactly the dense column, for canonical CSR, a CSR with duplicates and unsorted indices,
    and other formats."""
    import scipy.sparse as sp

    A = sp.csr_array(sp.random_array((60, 7), density=density, random_state=3))
    messy = sp.csr_array((np.array([1.0, 2.0, 4.0, 8.0]), np.array([6, 6, 1, 2]),
                          np.array([0, 2, 2, 4])), shape=(3, 7))
    for X in (A, sp.csc_array(A), messy):
        dense = X.toarray()
        for j in range(X.shape[1]):
            assert np.array_equal(design.column(X, j), dense[:, j])


@pytest.mark.parametrize("seed", range(6))
def test_the_eigendecomposition_path_bound_is_below_the_exact_eigenvalue(monkeypatch, seed):
    """On the eigendecomposition's path (fewer than ``CHOLESKY_MIN`` entries) the bound is
    proved, not the eigensolver's computed eigenvalue: ``C = Q diag(v) Q^T`` with ``Q`` the
    16 x 16 Hadamard matrix over 4 (entries +-1/4) and integer ``v`` is formed exactly in
    float64, so its smallest eigenvalue is exactly ``min(v)``, and the bound must not exceed
    it (an eigenvalue computed by ``eigh`` lies within its backward error on either side)."""
    monkeypatch.setattr(checker, "CHOLESKY_MIN", 10 ** 6)
    from scipy.linalg import hadamard

    rng = np.random.default_rng(seed)
    Q = hadamard(16) / 4.0
    v = rng.permutation(np.arange(1, 17) * 64.0 + rng.integers(0, 64, 16))
    C = (Q * v) @ Q.T
    assert np.array_equal(C, C.T)
    solve, rank, condition, smallest = checker.factor(C)
    assert rank == 16
    assert 0.0 < smallest <= v.min()


@pytest.mark.parametrize("seed", range(4))
def test_a_one_entry_curvature_bound_is_below_its_exact_sum(seed):
    """One entry (an L2 fit's intercept): ``C`` is a floating-point sum of ``n`` nonnegative
    terms, and the bound must not exceed the exact sum (computed in rationals)."""
    from fractions import Fraction

    rng = np.random.default_rng(seed)
    terms = rng.uniform(0, 1, 5000) ** 3 * 10.0 ** rng.integers(-3, 4, 5000)
    C = np.array([[float(np.sum(terms))]])
    exact = sum(Fraction(float(t)) for t in terms)
    solve, rank, condition, smallest = checker.factor(C, terms.size)
    assert rank == 1 and 0.0 < smallest and Fraction(smallest) <= exact
    assert solve(np.array([2.0]))[0] == 2.0 / C[0, 0]
