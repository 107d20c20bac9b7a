"""The checker's Kronecker-preconditioned Newton step and its Kronecker eigenvalue bound
(:mod:`dualmaxent.certify`, :func:`~dualmaxent.certify._kronecker_solve` and
:func:`~dualmaxent.certify._kronecker_smallest`).

Statements tested here, each recomputed from the definitions:

* the per-row lemma: for a probability vector ``p`` over ``q`` classes and a set ``F`` of
  them, not all, ``lambda_min(diag(p_F) - p_F p_F^T) >= min(min_F p, sum_(not F) p) / (|F| +
  1)``, checked with ``eigvalsh`` on random and extreme ``p``;
* the bound that the attainment proof reads is positive and below the smallest eigenvalue of
  the *full* curvature ``C_SS`` at theta, formed here densely from its definition, for the
  solver's theta and a theta moved off it, with and without weights;
* the preconditioner is the inverse of the Kronecker product its docstring names, formed here
  with ``np.kron``;
* with the step forced onto this path (fewer rows than the row sample needs), the bracket
  holds an optimum found here independently, the lower bound is the entropy of the checker's
  point and that point's balance residual is what the certificate says (both recomputed here),
  the upper bound is ``-l(theta)`` recomputed here, and attainment is proved;
* S that is not whole classes on one set of columns has no Kronecker layout, and a singular
  Gram matrix (a repeated column) proves nothing (the bound is 0).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from dualmaxent import Dataset, solve_dual

from _factories import drawn_classes
from _rounding import U, gamma as _gamma
from test_certify_sample import (_full_curvature, _objective, _recording_newton_step,
                                 _tight_optimum)

checker = importlib.import_module("dualmaxent.certify")


def _kept(ds, theta):
    """The means as pass 1 keeps them (class-major), from the definition."""
    return {"mean": np.asfortranarray(softmax(ds.X @ theta, axis=1)), "curv": None}


def _eig_slack(C):
    """The test's own eigvalsh of ``C`` (entries within gamma(n + 8) of their diagonal-bounded
    magnitudes, formed here) against the exact one: eigvalsh's backward error, taken as
    ``8 p u`` times ``p max diag(C)``, plus the entries' rounding."""
    p = C.shape[0]
    return (8 * p * U + 1e-12) * p * float(np.abs(np.diag(C)).max())


@pytest.mark.parametrize("seed", range(6))
def test_the_rows_smallest_eigenvalue_is_at_least_the_lemmas(seed):
    rng = np.random.default_rng(seed)
    q = int(rng.integers(2, 12))
    for scale in (0.1, 1.0, 5.0, 30.0):  # from well spread to nearly one-hot
        p = softmax(scale * rng.standard_normal(q))
        F = np.sort(rng.choice(q, size=int(rng.integers(1, q)), replace=False))
        outside = np.setdiff1d(np.arange(q), F)
        pF = p[F]
        J = np.diag(pF) - np.outer(pF, pF)
        low = min(pF.min(), p[outside].sum()) / (F.size + 1)
        lam = float(np.linalg.eigvalsh(J).min())
        assert low <= lam + 8 * F.size * U * max(float(pF.max()), 1e-300), (low, lam)


def _problem(n, k, m_feat, seed, moved, weighted):
    ds = drawn_classes(n, k, m_feat, seed=seed, scale=0.3)
    if weighted:
        w = np.random.default_rng(seed + 7).integers(1, 4, size=n).astype(float)
        ds = Dataset.from_arrays(ds.X[:, :-1], ds.Y.argmax(axis=1), weights=w)
    theta = np.asarray(solve_dual(ds).theta, dtype=float).reshape(ds.m, k)
    if moved:
        theta = theta + 1e-2 * np.random.default_rng(seed + 1).standard_normal(theta.shape)
    return ds, theta


@pytest.mark.parametrize("k", [3, 10])
@pytest.mark.parametrize("moved", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_kronecker_bound_is_below_the_full_curvatures(k, moved, weighted):
    ds, theta = _problem(400, k, 6, k, moved, weighted)
    sel = np.arange((k - 1) * ds.m)  # no penalty: every row in the free classes
    layout = checker._kronecker_layout(sel, ds.m, k)
    assert layout is not None
    low = checker._kronecker_smallest(ds, _kept(ds, theta), layout)
    C = _full_curvature(ds, theta, sel)
    lam_min = float(np.linalg.eigvalsh(C).min())
    assert 0.0 < low <= lam_min + _eig_slack(C), (low, lam_min)


def test_a_singular_gram_matrix_proves_nothing():
    # a repeated column: C_SS and the Gram matrix are singular, so no positive bound may come
    ds, theta = _problem(300, 4, 5, 2, False, False)
    X = np.column_stack([ds.X[:, :-1], ds.X[:, :1]])
    ds2 = Dataset.from_arrays(X, ds.Y.argmax(axis=1))
    theta2 = np.vstack([theta[:-1], np.zeros((1, 4)), theta[-1:]])
    sel = np.arange(3 * ds2.m)
    layout = checker._kronecker_layout(sel, ds2.m, 4)
    assert checker._kronecker_smallest(ds2, _kept(ds2, theta2), layout) == 0.0


def test_the_preconditioner_inverts_its_kronecker_product():
    ds, theta = _problem(300, 4, 5, 3, False, True)
    k, m = 4, ds.m
    sel = np.arange((k - 1) * m)
    layout = checker._kronecker_layout(sel, m, k)
    kept = _kept(ds, theta)
    solve = checker._kronecker_solve(ds, kept, layout)
    w, X, P = ds.weights, ds.X, kept["mean"][:, :k - 1]
    A = X.T @ (w[:, None] * X) / w.sum()
    B = np.diag(w @ P) - P.T @ (w[:, None] * P)
    K = np.kron(B, A)  # class-major entries c m + i: (c, i), (d, j) -> B_cd A_ij
    t = np.random.default_rng(0).standard_normal(sel.size)
    a = solve(t)
    assert np.allclose(K @ a, t, rtol=0, atol=1e-8 * np.abs(t).max())


def test_a_set_that_is_not_whole_classes_on_one_set_of_columns_has_no_layout():
    m, q = 5, 4
    whole = np.arange(2 * m)  # classes 0 and 1, every column
    assert checker._kronecker_layout(whole, m, q) is not None
    assert checker._kronecker_layout(np.delete(whole, 3), m, q) is None  # a column missing
    assert checker._kronecker_layout(np.arange(q * m), m, q) is None  # every class: no gauge
    assert checker._kronecker_layout(np.array([m - 1, 2 * m - 1]), m, q) is not None


@pytest.mark.parametrize("k", [3, 10])
@pytest.mark.parametrize("moved", [False, True])
def test_the_kronecker_step_brackets_an_independent_optimum(monkeypatch, k, moved):
    monkeypatch.setattr(checker, "ZERO_STEP", False)  # the step's path at any theta
    # fewer rows than the row sample needs (n < 4 |S|): the Kronecker path or the full curvature;
    # the iterations uncapped, so the path runs to the end
    monkeypatch.setattr(checker, "KRYLOV_MIN_PRODUCTS", 0)
    monkeypatch.setattr(checker, "KRYLOV_SHARE", 1e6)
    n, m_feat = (100, 12) if k == 3 else (350, 10)
    ds, theta = _problem(n, k, m_feat, 10 + k, moved, False)
    theta = theta * 0.5 if moved else theta  # far from the optimum as well
    assert ds.n < 4 * (k - 1) * ds.m

    seen = _recording_newton_step(monkeypatch)
    smallest = checker._kronecker_smallest

    def record_smallest(*args, **kw):
        seen["kronecker"] = smallest(*args, **kw)
        return seen["kronecker"]

    monkeypatch.setattr(checker, "_kronecker_smallest", record_smallest)
    cert = checker.certify(ds, theta)
    br = cert.projected
    rank, _, low = seen["solve"]
    assert rank == -1, "the Kronecker-preconditioned step was taken"

    # the upper bound: -l(theta), recomputed here
    eta = ds.X @ theta
    loglik = float(ds.weights @ ((ds.Y * eta).sum(axis=1) - logsumexp(eta, axis=1)))
    magnitude = float(ds.weights @ (np.abs(ds.Y * eta).sum(axis=1)
                                   + np.abs(logsumexp(eta, axis=1))))
    slack = _gamma(ds.n * (ds.m + k) + 8) * magnitude
    assert abs(br.upper_bound + loglik) <= slack + br.roundoff

    # the lower bound: the entropy of the checker's point, which lies on the simplex (to its
    # stated residual) and balances X^T W mu = X^T W Y to its stated residual
    mu = np.asarray(br.mu, dtype=float).reshape(ds.n, k)
    assert mu.min() >= 0.0
    H = -float(ds.weights @ np.where(mu > 0, mu * np.log(np.where(mu > 0, mu, 1.0)),
                                     0.0).sum(axis=1))
    h_mag = float(ds.weights @ (np.abs(mu * np.log(np.where(mu > 0, mu, 1.0))).sum(axis=1)
                                + 2 * np.abs(mu).sum(axis=1)))
    assert abs(br.lower_bound - H) <= _gamma(ds.n * k + 8) * h_mag + br.roundoff
    assert np.abs(mu.sum(axis=1) - 1.0).max() <= br.simplex_residual + 8 * k * U
    resid = ds.X.T @ (ds.weights[:, None] * (mu - ds.Y))
    scale = 1.0 + float(np.abs(ds.X.T @ (ds.weights[:, None] * ds.Y)).max())
    r_mag = float((np.abs(ds.X).T @ (ds.weights[:, None] * np.abs(mu - ds.Y))).max())
    r_err = _gamma(ds.n + 8) * r_mag / scale
    assert abs(np.abs(resid[:, :-1]).max() / scale - br.balance_residual) <= 2 * r_err

    # weak duality against an optimum found here
    best = _tight_optimum(ds, 0.0, theta)
    f_best = _objective(ds, best, 0.0)[0]
    eta_b = ds.X @ best
    b_slack = _gamma(ds.n * (ds.m + k) + 8) * float(ds.weights @ (
        np.abs(ds.Y * eta_b).sum(axis=1) + np.abs(logsumexp(eta_b, axis=1))))
    assert br.lower_bound - br.roundoff <= f_best + b_slack
    assert f_best - b_slack <= br.upper_bound + br.roundoff
    if not moved:
        assert cert.ok

    # the attainment proof's eigenvalue: the Kronecker bound, below the full curvature's
    C = _full_curvature(ds, theta, seen["sel"])
    lam_min = float(np.linalg.eigvalsh(C).min())
    if br.proves_attained:
        assert 0.0 < low <= lam_min + _eig_slack(C), (low, lam_min)
        # the second step as the proof states it, from the residual recomputed here
        cls, feat = np.divmod(seen["sel"], ds.m)
        r_S = np.abs(resid[feat, cls]) + _gamma(ds.n + 8) * r_mag
        x_norm = float(np.sqrt((ds.X ** 2).sum(axis=1)).max())
        assert 2.0 * x_norm * float(np.linalg.norm(r_S)) / lam_min < checker.MARGIN_FRACTION
    if not moved:
        assert br.proves_attained and "kronecker" in seen
        assert low == seen["kronecker"]
