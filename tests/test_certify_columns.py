"""The checker's budgets from the columns' largest entries (:class:`dualmaxent.certify._ColumnBounds`).

For a Bernoulli or categorical fit of a dense data set that holds its columns' largest entries
``big``, the products ``|X|^T T`` of the round-off budgets are replaced by ``big_i sum_j T_jc``
and, for a penalised fit, the rows' norms by ``|big|_2``. Stated here from the definitions: each
replacement is at least what it replaces (exact rational arithmetic), the bracket built with
them still contains the optimum, and a bracket whose looser budget alone fails the verdict, or
(without a penalty) whose attainment proof fails, is taken again with ``|X|`` itself.
"""

from __future__ import annotations

import importlib
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit

from dualmaxent import Dataset, solve_dual
from dualmaxent.results import make_penalty

from _definitions import loglik
from _rounding import gamma

checker = importlib.import_module("dualmaxent.certify")


def _heavy(kind: str, n: int = 1500, m: int = 5, k: int = 2, seed: int = 0) -> Dataset:
    """A data set with columns far from one size: Cauchy, log-normal, or standard normal with a
    few entries of 1e2 to 1e6 among them; labels drawn from a model on the normal part."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, m))
    if kind == "cauchy":
        X = rng.standard_cauchy((n, m))
    elif kind == "lognormal":
        X = np.exp(2.0 * Z)
    else:
        X = Z.copy()
        X[rng.integers(0, n, 3), rng.integers(0, m, 3)] = 10.0 ** rng.uniform(2, 6, 3)
    eta = Z @ rng.standard_normal((m, k))
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return Dataset.from_arrays(X, y, family="bernoulli" if k == 2 else "categorical")


def _objective(ds, theta, lam) -> float:
    """``-l(theta) + (lam / 2) |theta_R|^2`` from the definitions (R: every row but the
    intercept's, the last)."""
    return -loglik(ds, theta) + 0.5 * lam * float(np.sum(theta.reshape(ds.m, -1)[:-1] ** 2))


def _eval_allowance(ds, theta, lam) -> float:
    """The round-off of one float64 evaluation of :func:`_objective`: ``16 (n + m + 8) u``
    times the sum of its terms' magnitudes (``|X| |theta|`` weighed by ``|Y| + 1``, the
    log-sum-exps and the penalty)."""
    T = np.abs(theta.reshape(ds.m, -1))
    size = (np.abs(ds.X) @ T).max(axis=1)
    return 16.0 * (ds.n + ds.m + 8) * 2.0 ** -53 * (
        float(ds.weights @ (2.0 * size + np.log(2.0) + size)) + lam * float(np.sum(T ** 2)))


@pytest.mark.parametrize("kind", ["cauchy", "lognormal", "outlier"])
def test_the_column_bounds_are_at_least_what_they_replace(kind):
    ds = _heavy(kind, n=300, m=4)
    columns = checker._column_bounds(ds, None, make_penalty(l2=1.0))
    assert columns is not None
    X = ds.X
    T = np.abs(np.random.default_rng(1).standard_normal((ds.n, 3))) * 10.0 ** np.arange(3)
    bound = columns.abs_xt(T)
    # |X|^T T in exact rational arithmetic, against the bound with the rounding of its own sum
    # (gamma(n + 2), then its factor 1 + 2 gamma(n + 2): :func:`_resid_bound`'s, one block here)
    g = gamma(ds.n + 2)
    for i in range(ds.m):
        for c in range(T.shape[1]):
            exact = sum(abs(Fraction(X[j, i])) * Fraction(T[j, c]) for j in range(ds.n))
            assert Fraction(bound[i, c]) * (1 + 2 * Fraction(g)) >= exact, (i, c)
    # every row's squared norm, exactly, at most the bound's square
    top = max(sum(Fraction(x) ** 2 for x in row) for row in X)
    assert Fraction(columns.row_norm) ** 2 >= top


def test_the_column_bounds_are_taken_only_where_they_serve():
    ds = _heavy("outlier", n=200, m=3)
    l2 = make_penalty(l2=1.0)
    assert checker._column_bounds(ds, None, l2) is not None
    # without a penalty the products alone: the rows' norms are the rows' own
    unpenalised = checker._column_bounds(ds, None, make_penalty())
    assert unpenalised is not None and unpenalised.row_norm is None
    np.testing.assert_array_equal(unpenalised.big, np.abs(ds.X).max(axis=0))
    X = np.random.default_rng(2).standard_normal((200, 3))
    y = X[:, 0] + np.random.default_rng(3).standard_normal(200)
    gaussian = Dataset.from_arrays(X, y, family="gaussian")
    assert checker._column_bounds(gaussian, None, l2) is None
    sparse = Dataset.from_arrays(sp.csr_array(X), (y > 0).astype(int), family="bernoulli")
    assert checker._column_bounds(sparse, None, l2) is None
    built = Dataset(X=ds.X, y=ds.y, Y=ds.Y, classes=ds.classes, feature_names=ds.feature_names,
                    weights=ds.weights, family=ds.family, name="built", intercept=True)
    assert checker._column_bounds(built, None, l2) is None  # (no maxima held: not computed)


@pytest.mark.parametrize("kind,k", [("cauchy", 2), ("lognormal", 3), ("outlier", 2),
                                    ("outlier", 4)])
@pytest.mark.parametrize("lam", [0.0, 1e-3, 1.0])
def test_a_bracket_with_the_column_bounds_contains_the_optimum(monkeypatch, kind, k, lam):
    ds = _heavy(kind, k=k, seed=k)
    seen = []
    original = checker._pass_one

    def spy(*args, **kw):
        seen.append(kw.get("columns"))
        return original(*args, **kw)

    monkeypatch.setattr(checker, "_pass_one", spy)
    penalty = make_penalty(l2=lam) if lam else make_penalty()
    star = np.asarray(solve_dual(ds, penalty=penalty, tol=1e-13).theta, dtype=float)
    rng = np.random.default_rng(4)
    for eps in (0.0, 1e-6, 1e-3):
        theta = star + eps * rng.standard_normal(star.shape) * (np.abs(star) + 1e-3)
        seen.clear()
        cert = checker.certify(ds, theta, penalty=penalty)
        # the first bracket's passes take the bounds (a second, taken again with X, does not)
        assert seen and isinstance(seen[0], checker._ColumnBounds)
        assert (seen[0].row_norm is None) == (lam == 0)
        if lam:
            assert all(isinstance(c, checker._ColumnBounds) for c in seen)
        # OPT <= f(star); the checker's upper bound is f(theta), its lower bound at most OPT
        slack = _eval_allowance(ds, star, lam) + _eval_allowance(ds, theta, lam)
        assert cert.upper_bound == pytest.approx(_objective(ds, theta, lam), rel=0, abs=slack)
        assert cert.lower_bound - cert.roundoff <= _objective(ds, star, lam) + slack


def _bracket_calls(monkeypatch) -> list:
    """The brackets :func:`dualmaxent.certify.certify` takes from here on, in order: True for
    one taken with the column bounds, False for one with ``X`` itself."""
    calls = []
    original = checker._bracket

    def spy(*args):
        calls.append(args[6] is not None)
        return original(*args)

    monkeypatch.setattr(checker, "_bracket", spy)
    return calls


def test_a_bracket_whose_looser_budget_fails_is_taken_again_with_the_rows(monkeypatch):
    ds = _heavy("outlier", n=4000, m=8, seed=5)
    penalty = make_penalty(l2=1e-2)
    theta = np.asarray(solve_dual(ds, penalty=penalty, tol=1e-13).theta, dtype=float)
    columns = checker._column_bounds(ds, None, penalty)

    def taken(tol, columns):  # (as :func:`dualmaxent.certify.bracket` takes it, once)
        with np.errstate(all="ignore"):
            return checker._bracket(ds, theta, penalty, None, None, tol, columns)

    loose, exact = taken(1e-8, columns), taken(1e-8, None)
    size = max(1.0, abs(exact.upper_bound))
    assert loose.roundoff > exact.roundoff  # (the outliers' columns: far looser)
    # a tolerance between the two budgets: the looser one fails it, the rows' own does not
    tol = float(np.sqrt(loose.roundoff * exact.roundoff)) / size
    loose, exact = taken(tol, columns), taken(tol, None)
    assert exact.relative_gap <= tol and loose.relative_gap <= tol
    assert exact.roundoff <= tol * size < loose.roundoff
    calls = _bracket_calls(monkeypatch)
    cert = checker.certify(ds, theta, penalty=penalty, tol=tol)
    assert calls == [True, False]
    assert cert.ok and cert.roundoff == exact.roundoff
    assert cert.roundoff <= tol * max(1.0, abs(cert.upper_bound))


def test_an_unpenalised_bracket_whose_attainment_proof_fails_is_taken_again(monkeypatch):
    # an outlier of 1e2 to 1e6 in a column: its bound of the residual's rounding, big_i
    # sum_j |W (mu - Y)|_j, is far above the rows' own sum, and the proof's second step with it
    # (the proof in the coordinates that equilibrate C_SS, :func:`checker._second_step`,
    # proves it with the columns' bound too; the plain proof alone is kept here, so that the
    # bracket taken again is what is tested)
    ds = _heavy("outlier", n=4000, m=8, k=2, seed=1)
    penalty = make_penalty()
    theta = np.asarray(solve_dual(ds, tol=1e-13).theta, dtype=float)
    columns = checker._column_bounds(ds, None, penalty)
    with np.errstate(all="ignore"):
        assert checker._bracket(ds, theta, penalty, None, None, 1e-8, columns).proves_attained
    monkeypatch.setattr(checker, "_second_step", lambda data, engine, one, smallest, r_S, *_:
                        checker._step_reach(one, r_S) / smallest)
    with np.errstate(all="ignore"):
        loose = checker._bracket(ds, theta, penalty, None, None, 1e-8, columns)
        exact = checker._bracket(ds, theta, penalty, None, None, 1e-8, None)
    assert not loose.proves_attained and exact.proves_attained
    assert loose.second_step > exact.second_step
    calls = _bracket_calls(monkeypatch)
    cert = checker.certify(ds, theta, tol=1e-8)
    assert calls == [True, False]
    assert cert.ok and cert.attained and cert.roundoff == exact.roundoff


def test_the_bernoulli_objective_here_is_the_checkers():
    # (the definitions above, checked once against the logistic form of the Bernoulli family)
    ds = _heavy("outlier", n=300, m=3)
    theta = np.asarray(solve_dual(ds, l2=1.0).theta, dtype=float)
    eta = ds.X @ theta
    p = expit(eta)
    direct = -float(ds.weights @ (ds.Y * np.log(p) + (1 - ds.Y) * np.log1p(-p)))
    assert _objective(ds, theta, 0.0) == pytest.approx(direct, rel=1e-12)
