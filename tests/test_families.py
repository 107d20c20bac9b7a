"""The four canonical families: conjugates, derivatives, dual gradients, statsmodels, certificates.

Each test states one piece of the mathematics of :mod:`dualmaxent.families` and
:mod:`dualmaxent.dual` numerically (symbols as in their "Conventions" blocks):

* ``A*`` in numpy equals ``A*`` as a CVXPY expression, and Fenchel-Young holds with equality at
  ``mu = A'(eta)``: ``A*(A'(eta)) = <A'(eta), eta> - A(eta)``;
* ``A'`` and ``A''`` are the derivatives of ``A`` and ``A'`` (central differences,
  ``tests/_fd.py``);
* the dual objective's gradient and Hessian are those of its value (central differences), with
  and without the L2 penalty;
* the reported log-likelihood is statsmodels' ``llf`` to 1e-7 relative;
* the certificate's figures, recomputed from their definitions by ``tests/_kkt.py``, close and
  equal the reported ones, and ``H(mu*) = -l(theta*)`` with the constants accounted for.
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import norm

import _fd
from _factories import FAMILIES, L1_LAMBDA, L2_LAMBDA, make_dataset
from _kkt import assert_kkt
from dualmaxent import solve_dual, verify
from dualmaxent.dual import DualObjective
from dualmaxent.families import get_family
from dualmaxent.results import Penalty

ONE_PARAMETER = ("bernoulli", "poisson", "gaussian")


def _random_means(family, rng, n=40):
    """Points in the interior of the domain of A*."""
    if family == "categorical":
        P = rng.random((n, 4)) + 0.01
        return P / P.sum(axis=1, keepdims=True)
    if family == "bernoulli":
        return rng.uniform(0.01, 0.99, size=n)
    if family == "poisson":
        return rng.uniform(0.01, 20.0, size=n)
    return rng.normal(scale=3.0, size=n)


def _random_eta(family, rng, n=40):
    return rng.normal(scale=1.5, size=(n, 4) if family == "categorical" else n)


@pytest.mark.parametrize("family", FAMILIES)
def test_conjugate_numpy_matches_cvxpy(family):
    import cvxpy as cp

    fam = get_family(family)
    mu = _random_means(family, np.random.default_rng(1))
    expr = fam.cvxpy_conjugate(cp.Constant(mu))
    np.testing.assert_allclose(expr.value, fam.conjugate(mu), rtol=1e-12, atol=1e-12)
    # the boundary of the domain: 0 log 0 = 0 on both sides
    if family != "gaussian":
        edge = np.zeros_like(mu)
        if family == "categorical":
            edge[:, 0] = 1.0
        np.testing.assert_allclose(fam.cvxpy_conjugate(cp.Constant(edge)).value,
                                   fam.conjugate(edge), atol=1e-15)


@pytest.mark.parametrize("family", FAMILIES)
def test_fenchel_young_equality_at_the_mean(family):
    fam = get_family(family)
    eta = _random_eta(family, np.random.default_rng(2))
    mu = fam.mean(eta)
    inner = (mu * eta).sum(axis=1) if mu.ndim == 2 else mu * eta
    np.testing.assert_allclose(fam.conjugate(mu), inner - fam.log_partition(eta),
                               rtol=1e-12, atol=1e-12)
    # and A*(mu) >= <mu, eta'> - A(eta') elsewhere (the conjugate is a supremum)
    other = eta + _random_eta(family, np.random.default_rng(3))
    inner_other = (mu * other).sum(axis=1) if mu.ndim == 2 else mu * other
    assert np.all(fam.conjugate(mu) >= inner_other - fam.log_partition(other) - 1e-12)


@pytest.mark.parametrize("family", FAMILIES)
def test_mean_is_the_derivative_of_the_log_partition(family):
    fam = get_family(family)
    eta = _random_eta(family, np.random.default_rng(4))
    fd = _fd.rowwise_derivative(fam.log_partition, eta)
    np.testing.assert_allclose(fam.mean(eta), fd, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("family", ONE_PARAMETER)
def test_variance_is_the_derivative_of_the_mean(family):
    fam = get_family(family)
    eta = _random_eta(family, np.random.default_rng(5))
    fd = _fd.rowwise_derivative(fam.mean, eta)
    np.testing.assert_allclose(fam.variance(eta), fd, rtol=1e-7, atol=1e-8)


def _objective_at_random_point(family, penalty, seed=6):
    ds = make_dataset(family)
    obj = DualObjective(ds, penalty)
    rng = np.random.default_rng(seed)
    beta = obj.start() + 0.3 * rng.normal(size=obj.n_params)
    return obj, beta


def _penalty(kind, family):
    if kind == "l2":
        return Penalty("l2", L2_LAMBDA[family])
    if kind == "l1":
        return Penalty("l1", L1_LAMBDA[family])
    return Penalty()


@pytest.mark.parametrize("kind", ["none", "l2", "l1"])
@pytest.mark.parametrize("family", FAMILIES)
def test_dual_gradient_matches_finite_differences(family, kind):
    obj, beta = _objective_at_random_point(family, _penalty(kind, family))
    value, grad = obj.smooth_value_grad(beta)
    fd = _fd.gradient(lambda b: obj.smooth_value_grad(b)[0], beta)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * obj.scale)
    # the smooth part is l minus the L2 term; value() subtracts the L1 term as well
    theta = obj.theta(beta)
    loglik = obj.family.canonical_loglik(obj.Y, obj.X @ theta, obj.w)
    rows = np.asarray(theta)[obj.penalized_rows]
    if kind == "l2":
        assert value == pytest.approx(loglik - 0.5 * obj.penalty.lam * np.sum(rows**2), rel=1e-13)
    else:
        assert value == pytest.approx(loglik, rel=1e-13)
    expected = loglik - (obj.penalty.lam * np.abs(rows).sum() if kind == "l1" else
                         0.5 * obj.penalty.lam * np.sum(rows**2) if kind == "l2" else 0.0)
    assert obj.value(beta) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("kind", ["none", "l2"])
@pytest.mark.parametrize("family", FAMILIES)
def test_dual_hessian_matches_finite_differences(family, kind):
    obj, beta = _objective_at_random_point(family, _penalty(kind, family))
    H = obj.hessian(beta)
    fd = _fd.hessian(lambda b: obj.smooth_value_grad(b)[1], beta)
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-6 * np.abs(H).max())
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-12 * np.abs(H).max())
    # the objective is concave: -H is positive semidefinite (definite with the L2 penalty)
    assert np.linalg.eigvalsh(-H).min() > (0 if kind == "l2" else -1e-9 * np.abs(H).max())


def _statsmodels_fit(ds):
    # statsmodels takes the same X (intercept last) and the encoded Y; its llf includes the
    # constants (log y! for Poisson, the profiled variance for OLS).
    if ds.family.name == "categorical":
        return sm.MNLogit(ds.Y.argmax(axis=1), ds.X).fit(method="newton", tol=1e-12,
                                                         maxiter=100, disp=0)
    if ds.family.name == "bernoulli":
        return sm.Logit(ds.Y, ds.X).fit(method="newton", tol=1e-12, maxiter=100, disp=0)
    if ds.family.name == "poisson":
        return sm.GLM(ds.Y, ds.X, family=sm.families.Poisson()).fit(tol=1e-13, maxiter=100)
    return sm.OLS(ds.Y, ds.X).fit()


@pytest.mark.parametrize("family", FAMILIES)
def test_loglik_matches_statsmodels(family):
    ds = make_dataset(family)
    dual = solve_dual(ds)
    ref = _statsmodels_fit(ds)
    assert dual.converged
    assert dual.loglik == pytest.approx(ref.llf, rel=1e-7)
    # and the fitted means agree (gauge-invariant)
    mu = get_family(family).mean(ds.X @ dual.theta)
    fitted = ref.predict(ds.X)
    np.testing.assert_allclose(mu, fitted, rtol=1e-6, atol=1e-7)


def test_gaussian_constants():
    """canonical + constant is the unit-variance likelihood; loglik profiles the variance."""
    ds = make_dataset("gaussian")
    fam = get_family("gaussian")
    dual = solve_dual(ds)
    eta = ds.X @ dual.theta
    unit = norm.logpdf(ds.Y, loc=eta, scale=1.0).sum()
    assert dual.canonical_loglik + fam.loglik_constant(ds.Y, ds.weights) == pytest.approx(
        unit, rel=1e-12)
    s2 = np.mean((ds.Y - eta) ** 2)  # the ML variance
    assert dual.loglik == pytest.approx(norm.logpdf(ds.Y, loc=eta, scale=np.sqrt(s2)).sum(),
                                        rel=1e-12)
    # From the primal side: at the optimum RSS = sum y^2 + 2 H(mu*), so the primal entropy alone
    # determines statsmodels' llf = -N/2 (log(2 pi RSS / N) + 1).
    cert = verify(ds)
    fig = assert_kkt(ds, cert)
    assert cert.ok, cert.verdict
    N = ds.weights.sum()
    rss = np.sum(ds.Y**2) + 2 * fig["entropy"]  # the entropy recomputed from the primal's mu
    assert -0.5 * N * (np.log(2 * np.pi * rss / N) + 1) == pytest.approx(dual.loglik, rel=1e-9)
    assert cert.extra["loglik_constant"] == pytest.approx(
        -fig["neg_loglik"] - fig["canonical_loglik"], rel=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
def test_certificate_ok_without_penalty(family):
    ds = make_dataset(family)
    cert = verify(ds)
    assert_kkt(ds, cert, tolerances={"relative_gap": 1e-9})
    assert cert.ok, cert.verdict
    assert cert.attained
    # strong duality with the constants accounted for: H(mu*) = -canonical l(theta*), and the
    # reported log-likelihood differs from the canonical one by the family's constant
    dual = cert.dual
    assert cert.entropy == pytest.approx(-dual.canonical_loglik, rel=1e-9)
    constant = get_family(family).loglik_constant(ds.Y, ds.weights)
    if family != "gaussian":
        assert dual.loglik == pytest.approx(dual.canonical_loglik + constant, rel=1e-13)
        assert cert.neg_loglik == pytest.approx(cert.entropy - constant, rel=1e-9)
    if family in ("categorical", "bernoulli"):
        assert constant == 0.0
    shape = (ds.m, ds.k) if family == "categorical" else (ds.m,)
    assert np.shape(dual.theta) == shape


@pytest.mark.parametrize("family", ["categorical", "bernoulli", "poisson", "gaussian"])
def test_encode_against_known_classes_equals_encode(family):
    """A chunk encoded against the data set's classes equals the whole encoding's rows, also when
    the chunk lacks a class (the Dask engine encodes chunk by chunk)."""
    from dualmaxent.families import get_family

    fam = get_family(family)
    y = {"categorical": np.array(["b", "a", "c", "b"], dtype=object),
         "bernoulli": np.array([2, 5, 5, 2]), "poisson": np.array([0.0, 3.0, 1.0, 2.0]),
         "gaussian": np.array([0.5, -1.0, 2.0, 0.0])}[family]
    Y, classes = fam.encode(y)
    np.testing.assert_array_equal(fam.encode_against(y, classes), Y)
    np.testing.assert_array_equal(fam.encode_against(y[:2], classes), Y[:2])


def test_nonnegative_response_is_a_fact_of_the_domain():
    facts = {name: get_family(name).nonnegative_response for name in FAMILIES}
    assert facts == {name: name == "poisson" for name in FAMILIES}
    from dualmaxent.estimators import GLMRegressor

    for name in ("gaussian", "poisson", "bernoulli", "no-such-family"):
        tags = GLMRegressor(family=name).__sklearn_tags__()
        assert tags.target_tags.positive_only is (name == "poisson")


@pytest.mark.parametrize("y", [
    np.array([3, 1, 2, 3, 1]), np.array([2.5, -1.0, 2.5, 0.0]), np.array([True, False, True]),
    np.array(["b", "a", "c", "a"]), np.array(["b", 1, "a", 1], dtype=object),
])
def test_categorical_encoding_sorts_the_labels_and_puts_one_one_in_each_row(y):
    from dualmaxent.families import _sorted_labels

    Y, classes = get_family("categorical").encode(y)
    assert classes == _sorted_labels(y)  # the dictionary's order, numpy's path or not
    assert Y.shape == (len(y), len(classes)) and np.array_equal(Y.sum(axis=1), np.ones(len(y)))
    for row, label in zip(Y, y.tolist()):
        c = classes[int(np.argmax(row))]
        assert c == label
