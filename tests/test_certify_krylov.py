"""The checker's Krylov Newton step and its proved multiplier bound (certify.py).

For a large correction set ``S`` (an L1 active set of thousands of words) the checker solves for
its Newton step by MINRES instead of forming ``C_SS``; the step is then inexact, and the bracket
stays sound only because the point's residual on the equality rows (the intercept's) is charged
with a *proved* bound on ``|theta*|`` there. These tests force the Krylov path on small data
(``DENSE_CORRECTION_MAX = 0``), and check:

* the bound of :func:`dualmaxent.certify._multiplier_bound`, recomputed here from its derivation,
  holds at a tightly solved ``theta*`` for every family and penalty;
* the certificate's round-off budget charges at least that bound times the measured residual of
  its own point (recomputed from the point), so an inexact step cannot make the bound unsound;
* at the optimum the Krylov step certifies as the dense one does, and with the step cut short
  (two iterations) the bracket still contains an independent optimum.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy.special import xlogy

from dualmaxent import Dataset, certify, solve_dual
from dualmaxent.bench_sparse import text_data

from _factories import FAMILIES, L1_LAMBDA, L2_LAMBDA, make_arrays

certify_module = sys.modules["dualmaxent.certify"]

U = np.finfo(float).eps / 2
PENALTIES = ("l2", "l1", "elasticnet")


def _kw(family, kind):
    if kind == "l2":
        return {"l2": L2_LAMBDA[family]}
    if kind == "l1":
        return {"l1": L1_LAMBDA[family]}
    return {"l1": L1_LAMBDA[family], "l1_ratio": 0.5}


def _data(family):
    X, y = make_arrays(family)
    return Dataset.from_arrays(X, y, family=family)


def _entropy_of_data(data):
    """``H(Y) = -sum_j w_j A*(Y_j)`` from each family's conjugate, written out."""
    fam, w, Y = data.family.name, data.weights, data.Y
    if fam == "categorical":
        return float(-w @ xlogy(Y, Y).sum(axis=1))
    if fam == "bernoulli":
        return float(-w @ (xlogy(Y, Y) + xlogy(1 - Y, 1 - Y)))
    if fam == "poisson":
        return float(-w @ (xlogy(Y, Y) - Y))
    return float(-w @ (0.5 * Y ** 2))


def _bound(data, cert, kw):
    """The docstring's bound on ``|theta*|`` on the intercept row, from its three steps."""
    lam, a = kw.get("l2", kw.get("l1")), 0.0 if "l2" in kw else kw.get("l1_ratio", 1.0)
    # the dual objective at theta bounds the penalty at theta* (its own round-off, which the
    # checker adds, only makes the checker's bound larger)
    D = cert.upper_bound - _entropy_of_data(data)
    X = data.X[data.weights > 0]
    multi = data.family.name == "categorical"
    forms = []
    if a > 0:
        forms.append(np.abs(X).max() * D / (lam * a))
    if a < 1:
        forms.append(np.sqrt((X ** 2).sum(axis=1).max()) * np.sqrt(2 * D / (lam * (1 - a)))
                     * (np.sqrt(2) if multi else 1.0))
    B = min(forms)
    N = data.weights @ data.Y.reshape(data.n, -1)
    if multi:
        out = np.abs(np.log(N / N[-1])) + B
        out[-1] = 0.0
        return out
    mean = N[0] / data.weights.sum()
    link = {"bernoulli": lambda: np.log(mean / (1 - mean)), "poisson": lambda: np.log(mean),
            "gaussian": lambda: mean}[data.family.name]()
    return np.array([abs(link) + B])


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", PENALTIES)
def test_multiplier_bound_holds_at_the_optimum(family, kind):
    data, kw = _data(family), _kw(family, kind)
    theta = np.asarray(solve_dual(data, tol=1e-12, **kw).theta).reshape(data.m, -1)
    if family == "categorical":  # the pivot gauge: the last class's intercept at zero
        theta = theta - theta[:, -1:] * np.r_[np.zeros(data.m - 1), 1.0][:, None]
    # a theta far from the optimum gives a larger D: the bound must hold for any theta
    far = certify(data, 2.0 * theta + 0.5, **kw)
    bound = _bound(data, far, kw)
    assert np.all(np.abs(theta[-1]) <= bound), (theta[-1], bound)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", PENALTIES)
def test_krylov_step_certifies_at_the_optimum(family, kind, monkeypatch):
    data, kw = _data(family), _kw(family, kind)
    theta = solve_dual(data, tol=1e-12, **kw).theta
    dense = certify(data, theta, **kw)
    monkeypatch.setattr(certify_module, "DENSE_CORRECTION_MAX", 0)
    krylov = certify(data, theta, **kw)
    assert krylov.projected.rank == -1  # the Krylov path ran: no eigenvalues
    assert dense.ok and krylov.ok
    # both are brackets of one optimum
    assert krylov.lower_bound - krylov.roundoff <= dense.upper_bound + dense.roundoff
    assert dense.lower_bound - dense.roundoff <= krylov.upper_bound + krylov.roundoff


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", PENALTIES)
def test_an_inexact_step_is_charged_and_the_bracket_stays_sound(family, kind, monkeypatch):
    data, kw = _data(family), _kw(family, kind)
    opt = certify(data, solve_dual(data, tol=1e-12, **kw).theta, **kw)
    rng = np.random.default_rng(7)
    theta = np.asarray(solve_dual(data, tol=1e-12, **kw).theta)
    theta = theta + 0.05 * rng.normal(size=theta.shape) * (theta != 0)
    monkeypatch.setattr(certify_module, "DENSE_CORRECTION_MAX", 0)
    monkeypatch.setattr(certify_module, "CG_MAX_ITER", 2)
    cert = certify(data, theta, **kw)
    # weak duality against the tight optimum's bracket
    assert cert.lower_bound - cert.roundoff <= opt.upper_bound + opt.roundoff
    assert opt.lower_bound - opt.roundoff <= cert.upper_bound + cert.roundoff
    # the budget charges the proved bound times the point's own residual on the intercept row
    mu = np.asarray(cert.projected.mu).reshape(data.n, -1)
    resid = data.X[:, -1] @ (data.weights[:, None] * (mu - data.Y.reshape(data.n, -1)))
    charged = float(_bound(data, cert, kw) @ np.abs(resid))
    assert cert.roundoff >= charged * (1 - 1e-6)


def test_krylov_step_certifies_a_sparse_l1_fit_with_many_active_words(monkeypatch):
    X, y = text_data(n=600, m=300, k=5, tokens=30, seed=3)
    data = Dataset.from_arrays(X, y)
    lam = 0.01
    theta = solve_dual(data, l1=lam).theta
    assert int(np.count_nonzero(np.asarray(theta)[:-1])) > 30  # many boxes are tight
    dense = certify(data, theta, l1=lam)
    monkeypatch.setattr(certify_module, "DENSE_CORRECTION_MAX", 0)
    krylov = certify(data, theta, l1=lam)
    assert krylov.projected.rank == -1
    assert krylov.ok, krylov.messages
    assert krylov.lower_bound - krylov.roundoff <= dense.upper_bound + dense.roundoff
    # the Krylov point is as good a bound as the dense one, to the verdict's tolerance
    assert krylov.lower_bound >= dense.lower_bound - krylov.tol * max(1.0, abs(dense.upper_bound))
