"""The elastic net ``lam (a ||theta_R||_1 + (1 - a)/2 ||theta_R||^2)``, certified.

Statements (``R`` the penalised rows of theta, every row but the intercept's; ``s = X_R^T W (mu -
Y)`` the slack of their balance equations; ``a`` the ``l1_ratio``, in (0, 1)):

* the primal is ``max H(mu) - sum (|s| - lam a)_+^2 / (2 lam (1 - a))`` subject to the
  intercept's balance equation (the conjugate of the penalty, derived in
  :class:`dualmaxent.params.Penalty`): CVXPY's optimum equals the dual's, theta follows from
  the primal's slack as ``-sign(s) (|s| - lam a)_+ / (lam (1 - a))``, and at the dual optimum the
  charge equals the penalty's L2 part;
* the checker brackets an optimum computed here, independently of dualmaxent, by scipy's
  L-BFGS-B on the objective written out below (``theta_R = u - v``, ``u, v >= 0``): ``ok`` at the
  solver's theta, not ok at perturbed ones, and the bracket holds at every one of them;
* ``a -> 0`` and ``a -> 1`` reach the L2 and L1 fits;
* scikit-learn's ``LogisticRegression(C, l1_ratio=a, solver="saga")`` minimises ``C sum loss +
  a ||w||_1 + (1 - a)/2 ||w||^2``, our problem divided by ``lam = 1 / C``: the same
  coefficients, and its own are certified through ``certify_model``; so are glum's, skglm's
  and celer's (those two when installed).
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, logsumexp, softmax, xlogy
from sklearn.linear_model import LogisticRegression, Ridge

from _factories import L1_LAMBDA, make_arrays, make_dataset
from dualmaxent import (Dataset, GLMRegressor, MaxEntClassifier, Penalty, certify, certify_model,
                        solve_dual, solve_primal)
from dualmaxent.cli import main as cli_main
from dualmaxent.estimators import PENALTY_DEPRECATION
from dualmaxent.exceptions import DualMaxentError
from dualmaxent.params import make_penalty
from dualmaxent.primal import build_primal

A = 0.7  # the l1_ratio of most tests: some coefficients exactly zero on these data
TWO = ("categorical", "bernoulli")


# -- the problem written out, independently of dualmaxent ---------------------------------------

def _pieces(family, X, Y, T, w):
    """``(l, mu)``: the canonical log-likelihood ``sum_j w_j [<Y_j, eta_j> - A(eta_j)]`` at theta
    ``T`` of shape (m, q), and the mean (n, q)."""
    eta = X @ T
    if family == "categorical":
        return float(w @ (np.sum(Y * eta, axis=1) - logsumexp(eta, axis=1))), softmax(eta, axis=1)
    e, Yv = eta[:, 0], Y.reshape(-1)
    A_, mu = {"bernoulli": (np.logaddexp(0.0, e), expit(e)), "poisson": (np.exp(e), np.exp(e)),
              "gaussian": (0.5 * e * e, e)}[family]
    return float(w @ (Yv * e - A_)), mu[:, None]


def penalty_value(T, lam, a):
    TR = T[:-1]
    return lam * (a * float(np.abs(TR).sum()) + 0.5 * (1 - a) * float(np.sum(TR ** 2)))


def dual_objective(ds, theta, lam, a):
    """``-(l(theta) - lam (a |theta_R|_1 + (1-a)/2 |theta_R|^2))``: the checker's upper bound."""
    T = np.asarray(theta, dtype=float).reshape(ds.m, -1)
    return -(_pieces(ds.family.name, ds.X, ds.Y, T, ds.weights)[0] - penalty_value(T, lam, a))


def slack(ds, mu):
    """``X^T W (mu - Y)`` of shape (m, q)."""
    return ds.X.T @ (ds.weights[:, None] * (mu.reshape(ds.n, -1) - ds.Y.reshape(ds.n, -1)))


def charge(s, lam, a):
    """The elastic net's primal charge ``sum (|s| - lam a)_+^2 / (2 lam (1 - a))``."""
    return float(np.sum(np.maximum(np.abs(s) - lam * a, 0.0) ** 2)) / (2 * lam * (1 - a))


def entropy(ds, mu):
    """``H(mu) = -sum_j w_j A*(mu_j)`` for the categorical and bernoulli families."""
    mu = mu.reshape(ds.n, -1)
    if ds.family.name == "categorical":
        return -float(ds.weights @ xlogy(mu, mu).sum(axis=1))
    p = mu[:, 0]
    return -float(ds.weights @ (xlogy(p, p) + xlogy(1 - p, 1 - p)))


def primal_objective(ds, mu, lam, a):
    """``H(mu) - charge(s)`` on the penalised rows (every row but the intercept's, the last)."""
    return entropy(ds, mu) - charge(slack(ds, mu)[:-1], lam, a)


def scipy_optimum(ds, lam, a):
    """``(theta, OPT)`` by L-BFGS-B on ``theta_R = u - v`` (``u, v >= 0``), the intercept free
    (the categorical family's last class pinned there): the smooth part and ``lam a (sum u +
    sum v)``, with their gradients."""
    family, X, Y, w = ds.family.name, ds.X, ds.Y.reshape(ds.n, -1), ds.weights
    m, q = ds.m, Y.shape[1]
    pen = np.zeros((m, q), dtype=bool)
    pen[:-1] = True
    free = ~pen
    if family == "categorical":
        free[-1, -1] = False
    iu, ip = np.flatnonzero(free.ravel()), np.flatnonzero(pen.ravel())
    nu, npen = iu.size, ip.size

    def theta(z):
        T = np.zeros(m * q)
        T[iu] = z[:nu]
        T[ip] = z[nu:nu + npen] - z[nu + npen:]
        return T.reshape(m, q)

    def fun(z):
        T = theta(z)
        l, mu = _pieces(family, X, Y, T, w)
        G = (X.T @ (w[:, None] * (Y - mu))).ravel()  # the gradient of l
        TR = T.ravel()[ip]
        value = -l + 0.5 * lam * (1 - a) * TR @ TR + lam * a * z[nu:].sum()
        g = -G
        g[ip] += lam * (1 - a) * TR
        return value, np.concatenate([g[iu], g[ip] + lam * a, -g[ip] + lam * a])

    res = minimize(fun, np.zeros(nu + 2 * npen), jac=True, method="L-BFGS-B",
                   bounds=[(None, None)] * nu + [(0.0, None)] * (2 * npen),
                   options={"maxiter": 100000, "maxfun": 100000, "ftol": 0.0, "gtol": 1e-13,
                            "maxcor": 50})
    T = theta(res.x)
    return (T if family == "categorical" else T[:, 0]), float(res.fun)


def kkt(ds, theta, lam, a):
    """The relative minimal-norm subgradient of the dual at theta (the checker's definition)."""
    T = np.asarray(theta, dtype=float).reshape(ds.m, -1)
    Y = ds.Y.reshape(ds.n, -1)
    _, mu = _pieces(ds.family.name, ds.X, Y, T, ds.weights)
    G = ds.X.T @ (ds.weights[:, None] * (Y - mu))
    g, t = G[:-1] - lam * (1 - a) * T[:-1], T[:-1]
    G[:-1] = np.where(t != 0, g - lam * a * np.sign(t), np.maximum(np.abs(g) - lam * a, 0.0))
    if ds.family.name == "categorical":
        G[-1, -1] = 0.0  # pinned
    return float(np.abs(G).max()) / (1.0 + float(np.abs(ds.X.T @ (ds.weights[:, None] * Y)).max()))


# -- the penalty ---------------------------------------------------------------------------------

def test_the_penalty_and_its_keywords():
    en = make_penalty(l1=2.0, l1_ratio=0.25)
    assert en == Penalty("elasticnet", 2.0, l1_ratio=0.25)
    assert (en.l1_lam, en.l2_lam) == (0.5, 1.5) and en.has_l1 and en.label == "elastic-net"
    assert en.describe() == "elasticnet(lambda=2, l1_ratio=0.25)"
    assert en.as_dict() == {"kind": "elasticnet", "lambda": 2.0, "l1_ratio": 0.25}
    # the ends of the mixing are the existing kinds, scikit-learn's meaning of l1_ratio
    assert make_penalty(l1=2.0, l1_ratio=1) == Penalty("l1", 2.0)
    assert make_penalty(l1=2.0, l1_ratio=0.0) == Penalty("l2", 2.0)
    assert Penalty.from_parts(0.5, 1.5) == en and Penalty.from_parts(0, 3) == Penalty("l2", 3.0)
    for bad, match in [(lambda: Penalty("elasticnet", 1.0), "0 < l1_ratio < 1"),
                       (lambda: Penalty("elasticnet", 1.0, l1_ratio=1.0), "0 < l1_ratio < 1"),
                       (lambda: Penalty("l1", 1.0, l1_ratio=0.5), "belongs to the elasticnet"),
                       (lambda: make_penalty(l1=1.0, l1_ratio=1.5), r"in \[0, 1\]"),
                       (lambda: make_penalty(l2=1.0, l1_ratio=0.5), "goes with l1="),
                       (lambda: make_penalty(l1_ratio=0.5), "goes with l1="),
                       (lambda: make_penalty(penalty=en, l1_ratio=0.5), "not both")]:
        with pytest.raises(DualMaxentError, match=match):
            bad()


# -- primal = dual -------------------------------------------------------------------------------

@pytest.mark.parametrize("family", TWO)
def test_the_cvxpy_primal_equals_the_dual(family):
    ds, lam = make_dataset(family), L1_LAMBDA[family]
    dual = solve_dual(ds, l1=lam, l1_ratio=A)
    assert dual.converged and dual.penalty == Penalty("elasticnet", lam, l1_ratio=A)
    assert dual.method == "newton"  # proximal Newton: exact zeros
    T = np.asarray(dual.theta).reshape(ds.m, -1)
    assert np.any(T[:-1] == 0) and np.any(T[:-1] != 0)
    assert build_primal(ds, dual.penalty)[0].is_dcp()
    primal = solve_primal(ds, l1=lam, l1_ratio=A)
    assert primal.converged
    upper = dual_objective(ds, dual.theta, lam, A)
    # CVXPY's optimum, and the objective of its point by the formula above, meet the dual's
    assert primal.objective == pytest.approx(upper, rel=1e-8)
    assert primal_objective(ds, primal.mu, lam, A) == pytest.approx(upper, rel=1e-8)
    # theta from the primal's slack: -sign(s) (|s| - lam a)_+ / (lam (1 - a)), exact zeros
    np.testing.assert_allclose(primal.theta, dual.theta, atol=1e-6)
    s = slack(ds, primal.mu)[:-1]
    assert np.all(np.asarray(primal.theta).reshape(ds.m, -1)[:-1][np.abs(s) < lam * A] == 0)
    # at the dual optimum the charge of mu(theta*) is the L2 part of the penalty, and its primal
    # objective is the dual's (no gap): the derivation's identity, to first order in the
    # solver's residual (a relative KKT residual of 1e-10 moves the slack by about 1e-8)
    mu = _pieces(family, ds.X, ds.Y.reshape(ds.n, -1), T, ds.weights)[1]
    assert dual.kkt_residual <= 1e-10
    assert charge(slack(ds, mu)[:-1], lam, A) == pytest.approx(
        0.5 * lam * (1 - A) * np.sum(T[:-1] ** 2), rel=1e-7)
    assert primal_objective(ds, mu, lam, A) == pytest.approx(upper, rel=1e-9)


# -- the checker against scipy -------------------------------------------------------------------

@pytest.mark.parametrize("family", TWO)
def test_the_certificate_brackets_scipys_optimum(family):
    ds, lam = make_dataset(family), L1_LAMBDA[family]
    theta_ref, opt = scipy_optimum(ds, lam, A)
    slack_opt = 1e-10 * max(1.0, abs(opt))  # scipy's own accuracy (measured: 1e-14)
    dual = solve_dual(ds, l1=lam, l1_ratio=A)
    np.testing.assert_allclose(dual.theta, theta_ref, atol=1e-6)
    rng = np.random.default_rng(0)
    thetas = {"solver": dual.theta, "scaled": 1.05 * dual.theta,
              "noise": dual.theta + 0.05 * rng.normal(size=np.shape(dual.theta)),
              "zero": np.zeros(np.shape(dual.theta)), "far": 3.0 * dual.theta}
    for name, theta in thetas.items():
        cert = certify(ds, theta, l1=lam, l1_ratio=A)
        # the upper bound is the objective at theta, the lower one the primal objective of the
        # checker's point (recomputed here), and OPT lies between them
        assert cert.upper_bound == pytest.approx(dual_objective(ds, theta, lam, A), rel=1e-12)
        assert cert.lower_bound == pytest.approx(
            primal_objective(ds, cert.projected.mu, lam, A), rel=1e-10, abs=1e-10), name
        assert cert.lower_bound - cert.roundoff <= opt + slack_opt, name
        assert opt - slack_opt <= cert.upper_bound + cert.roundoff, name
        assert cert.upper_bound - opt <= cert.within + slack_opt, name
        assert cert.dual_gradient == pytest.approx(kkt(ds, theta, lam, A), rel=1e-6, abs=1e-14)
        # the intercept's balance equation holds at the point
        assert np.abs(slack(ds, cert.projected.mu)[-1]).max() <= 1e-9 * cert.projected.scale
        if name == "solver":
            assert cert.ok, cert.messages
            assert cert.upper_bound == pytest.approx(opt, abs=slack_opt)
            assert cert.within <= 1e-9 * max(1.0, abs(opt))
            assert cert.dual_gradient <= 1e-10
        else:
            assert not cert.ok and cert.verdict.startswith("NOT OK"), name
            assert cert.upper_bound - opt > 1e-6 * max(1.0, abs(opt))


# -- the limits of the mixing --------------------------------------------------------------------

@pytest.mark.parametrize("family", TWO)
def test_the_mixing_reaches_l2_and_l1_at_its_ends(family):
    ds, lam = make_dataset(family), L1_LAMBDA[family]
    l2, l1 = solve_dual(ds, l2=lam), solve_dual(ds, l1=lam)
    near_l2 = solve_dual(ds, l1=lam, l1_ratio=1e-9)
    near_l1 = solve_dual(ds, l1=lam, l1_ratio=1 - 1e-9)
    assert near_l2.penalty.kind == near_l1.penalty.kind == "elasticnet"
    np.testing.assert_allclose(near_l2.theta, l2.theta, atol=1e-6)
    np.testing.assert_allclose(near_l1.theta, l1.theta, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(near_l1.theta) == 0, np.asarray(l1.theta) == 0)
    # the charges: L2's ||s||^2 / (2 lam) as a -> 0; inside the box 0, outside it large, a -> 1
    s = np.array([-3.0, -0.5, 0.2, 2.0])
    assert charge(s, lam, 1e-12) == pytest.approx(np.sum(s ** 2) / (2 * lam), rel=1e-9)
    assert charge(s / (2 * lam), lam, 1 - 1e-9) == 0.0
    assert charge(np.array([1.001 * lam]), lam, 1 - 1e-9) > 1e3
    # each end's theta is certified for its neighbour, and the ends are the existing kinds
    assert certify(ds, l2.theta, l1=lam, l1_ratio=1e-9).ok
    assert certify(ds, l1.theta, l1=lam, l1_ratio=1 - 1e-9).ok
    assert solve_dual(ds, l1=lam, l1_ratio=0.0).penalty == Penalty("l2", lam)
    assert solve_dual(ds, l1=lam, l1_ratio=1.0).penalty == Penalty("l1", lam)


def test_solvers_rescaling_and_refusals():
    ds, lam = make_dataset("bernoulli"), L1_LAMBDA["bernoulli"]
    newton = solve_dual(ds, l1=lam, l1_ratio=A)
    lbfgs = solve_dual(ds, l1=lam, l1_ratio=A, method="lbfgs")
    assert lbfgs.converged
    np.testing.assert_allclose(lbfgs.theta, newton.theta, atol=1e-6)
    for method in ("newton-cg", "gradient"):
        with pytest.raises(DualMaxentError, match="does not handle the elastic-net penalty"):
            solve_dual(ds, l1=lam, l1_ratio=A, method=method)
    # a badly scaled design: one power of two c for every penalised column, the L1 part's
    # lambda times c and the L2 part's times c^2 (another l1_ratio), theta mapped back
    X, y = make_arrays("bernoulli")
    K = 1e150
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        big = Dataset.from_arrays(X * K, y, family="bernoulli")
        same = Penalty.from_parts(lam * A * K, lam * (1 - A) * K * K)  # that of theta / K
        scaled = solve_dual(big, penalty=same)
    assert "the elastic-net penalty's lambda with it" in scaled.message
    assert scaled.penalty == same
    np.testing.assert_allclose(scaled.theta[:-1] * K, newton.theta[:-1], atol=1e-8)
    np.testing.assert_allclose(scaled.theta[-1], newton.theta[-1], atol=1e-8)


# -- scikit-learn, glum, skglm, celer ------------------------------------------------------------

@pytest.mark.parametrize("family", TWO)
def test_scikit_learns_saga_and_its_certificate(family):
    X, y = make_arrays(family)
    ds, lam = make_dataset(family), L1_LAMBDA[family]
    # C sum loss + a |w|_1 + (1 - a)/2 |w|^2 = C times ours with lam = 1 / C
    model = LogisticRegression(C=1 / lam, l1_ratio=A, solver="saga", tol=1e-10,
                               max_iter=100000).fit(X, y)
    dual = solve_dual(ds, l1=lam, l1_ratio=A)
    T = np.asarray(dual.theta).reshape(ds.m, -1)
    coef = T[:-1].T if family == "categorical" else T[:-1, 0][None]
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-5, atol=1e-5 * np.abs(coef).max())
    P = softmax(ds.X @ T, axis=1) if family == "categorical" else expit(ds.X @ T[:, 0])
    P_ref = model.predict_proba(X)
    np.testing.assert_allclose(P_ref if family == "categorical" else P_ref[:, 1], P, atol=1e-6)
    cert = certify_model(model, X, y)
    assert cert.ok, cert.messages
    assert cert.penalty == Penalty("elasticnet", lam, l1_ratio=A)
    assert "l1_ratio = 0.7" in cert.source
    assert cert.within <= 1e-8 * max(1.0, abs(cert.upper_bound))
    halved = LogisticRegression(C=1 / lam, l1_ratio=A, solver="saga", tol=1e-10,
                                max_iter=100000).fit(X, y)
    halved.coef_ = halved.coef_ * 0.5
    assert not certify_model(halved, X, y).ok


def test_glums_elastic_net_is_translated_and_certified():
    glum = pytest.importorskip("glum")
    X, y = make_arrays("poisson")
    alpha = 0.1
    # glum: 1/(2 n) deviance + alpha (a |w|_1 + (1 - a)/2 |w|^2), times n: lam = alpha n
    model = glum.GeneralizedLinearRegressor(family="poisson", alpha=alpha, l1_ratio=A,
                                            gradient_tol=1e-12, max_iter=1000).fit(X, y)
    cert = certify_model(model, X, y)
    assert cert.ok, cert.messages
    assert cert.penalty == Penalty("elasticnet", alpha * len(y), l1_ratio=A)


def test_skglms_sparse_logistic_regression_agrees():
    skglm = pytest.importorskip("skglm")
    X, y = make_arrays("bernoulli")
    ds, lam = make_dataset("bernoulli"), L1_LAMBDA["bernoulli"]
    n = len(y)
    # skglm: mean log-loss + alpha (a |w|_1 + (1 - a)/2 |w|^2), times n: lam = alpha n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = skglm.SparseLogisticRegression(alpha=lam / n, l1_ratio=A, tol=1e-12,
                                               max_iter=1000).fit(X, y)
    theta = np.append(model.coef_[0], model.intercept_)
    np.testing.assert_allclose(theta, solve_dual(ds, l1=lam, l1_ratio=A).theta, atol=1e-7)
    assert certify(ds, theta, l1=lam, l1_ratio=A).ok


def test_celers_duality_gap_against_the_certificate():
    """celer's ``ElasticNet`` minimises ``1/(2n) ||y - Xw - b||^2 + alpha (a |w|_1 + (1 - a)/2
    |w|^2)`` and reports its own duality gap ``dual_gap_`` in those units. Ours (the gaussian
    family, unit variance) is ``n`` times that objective minus ``||y||^2 / 2``: ``lam = alpha n``,
    and a gap of ``g`` in celer's units is ``n g`` nats. Both are proved bounds on how far celer's
    fit is from the optimum: here its own is wide and the checker's far tighter."""
    celer = pytest.importorskip("celer")
    rng = np.random.default_rng(0)
    n, p = 200, 40
    Z = rng.normal(size=(n, p))
    X = Z + 0.8 * Z[:, [0]]
    y = X[:, :5] @ np.array([2.0, -1.0, 0.5, 1.0, -1.5]) + 1.0 + rng.normal(size=n)
    ds, lam = Dataset.from_arrays(X, y, family="gaussian"), 20.0
    opt = -solve_dual(ds, l1=lam, l1_ratio=0.5).objective
    for tol in (1e-2, 1e-6):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = celer.ElasticNet(alpha=lam / n, l1_ratio=0.5, tol=tol, max_iter=1000,
                                     p0=5).fit(X, y)
        cert = certify(ds, np.append(model.coef_, model.intercept_), l1=lam, l1_ratio=0.5)
        truth = cert.upper_bound - opt  # how far celer's fit is, by our certified optimum
        assert -cert.roundoff <= truth <= cert.within
        assert truth <= n * model.dual_gap_ + 1e-9 * abs(opt)
        assert cert.within <= n * model.dual_gap_ + cert.roundoff
        # the verdict's gap tests: relative to the objective, and for the gaussian family to
        # the fit's own excess over the data's point (its gap beyond the round-off)
        br = cert.projected
        gap_ok = (cert.relative_gap <= cert.tol and max(br.duality_gap - br.roundoff, 0.0)
                  <= cert.tol * max(1.0, br.excess_reference))
        assert cert.ok == gap_ok, cert.messages


# -- the estimators ------------------------------------------------------------------------------

def test_the_estimators_l1_ratio_and_cs_meaning():
    X, y = make_arrays("categorical")
    lam = L1_LAMBDA["categorical"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the new spelling warns about nothing
        clf = MaxEntClassifier(C=1 / lam, l1_ratio=A).fit(X, y)
        default = MaxEntClassifier(C=1 / lam).fit(X, y)
        ridge = MaxEntClassifier(C=1 / lam, l1_ratio=0).fit(X, y)
        lasso = MaxEntClassifier(C=1 / lam, l1_ratio=1).fit(X, y)
        none = MaxEntClassifier(C=np.inf).fit(X, y)
        glm = GLMRegressor().fit(X, y.astype("U1") == "a")
    assert clf.certificate_.ok, clf.certificate_.messages
    assert clf.certificate_.penalty == Penalty("elasticnet", lam, l1_ratio=A)
    assert default.certificate_.penalty == ridge.certificate_.penalty == Penalty("l2", lam)
    assert lasso.certificate_.penalty == Penalty("l1", lam)
    assert not none.certificate_.penalty.active and not glm.certificate_.penalty.active
    sk = LogisticRegression(C=1 / lam, l1_ratio=A, solver="saga", tol=1e-10,
                            max_iter=100000).fit(X, y)
    np.testing.assert_allclose(clf.coef_, sk.coef_, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X), sk.predict_proba(X), atol=1e-6)
    Xr, _ = make_arrays("gaussian")
    yr = Xr @ np.array([1.0, -2.0, 0.5]) + 1.0
    ridge_glm = GLMRegressor(C=0.05, l1_ratio=0).fit(Xr, yr)
    np.testing.assert_allclose(ridge_glm.coef_, Ridge(alpha=20.0).fit(Xr, yr).coef_, rtol=1e-10)


def test_penalty_gives_scikit_learns_future_warning():
    X, y = make_arrays("bernoulli")
    # scikit-learn's own message, from the installed version, minus its version numbers
    with pytest.warns(FutureWarning) as record:
        LogisticRegression(penalty="l2").fit(X, y)
    theirs = next(str(w.message) for w in record if "'penalty'" in str(w.message))
    tail = theirs[theirs.index("To avoid this warning"):]
    assert PENALTY_DEPRECATION.endswith(tail)
    lam = L1_LAMBDA["bernoulli"]
    for penalty, l1_ratio, same in [("l2", None, 0.0), ("l1", None, 1.0), ("l1", 1.0, 1.0),
                                    ("elasticnet", A, A), (None, None, None)]:
        with pytest.warns(FutureWarning, match=re.escape(tail)):
            old = MaxEntClassifier(penalty=penalty, C=1 / lam, l1_ratio=l1_ratio).fit(X, y)
        new = MaxEntClassifier(C=1 / lam if same is not None else np.inf, l1_ratio=same).fit(X, y)
        assert old.certificate_.penalty == new.certificate_.penalty
        np.testing.assert_array_equal(old.coef_, new.coef_)
    for kwargs, match in [({"penalty": "elasticnet"}, "l1_ratio must be specified"),
                          ({"penalty": "l2", "l1_ratio": 0.5}, "contradicts l1_ratio"),
                          ({"l1_ratio": 1.5}, r"l1_ratio must be None or a number in \[0, 1\]"),
                          ({"l1_ratio": True}, "l1_ratio must be"),
                          ({"penalty": "l3"}, "penalty must be")]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            with pytest.raises(ValueError, match=match) as info:
                MaxEntClassifier(**kwargs).fit(X, y)
        assert "\n" not in str(info.value)


# -- the command line ----------------------------------------------------------------------------

def test_cli_l1_ratio(tmp_path, capsys):
    X, y = make_arrays("bernoulli")
    path = tmp_path / "b.csv"
    with open(path, "w") as fh:
        fh.write("x1,x2,x3,y\n")
        for row, label in zip(X, y):
            fh.write(",".join(f"{v:.17g}" for v in row) + f",{label}\n")
    lam = L1_LAMBDA["bernoulli"]
    argv = ["verify", str(path), "--family", "bernoulli", "--l1", str(lam)]
    assert cli_main(argv + ["--l1-ratio", "0.4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dataset"]["penalty"] == {"kind": "elasticnet", "lambda": lam, "l1_ratio": 0.4}
    assert out["certificate"]["ok"] is True
    ds = Dataset.from_arrays(X, y, family="bernoulli")
    np.testing.assert_allclose(out["theta"]["values"],
                               solve_dual(ds, l1=lam, l1_ratio=0.4).theta, rtol=1e-12)
    assert cli_main(argv + ["--l1-ratio", "0.4", "--primal", "projected"]) == 0
    text = capsys.readouterr().out
    assert "penalty elasticnet(lambda=5, l1_ratio=0.4)" in text and "verdict: OK" in text
    for bad in (["--l1-ratio", "1.5"], ["--l1-ratio", "-0.1"], ["--l1-ratio", "half"]):
        with pytest.raises(SystemExit) as exc:
            cli_main(argv + bad)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "--l1-ratio" in err and "expected a number in [0, 1]" in err
        assert err.count("\n") <= 2  # argparse's usage line and the one-line error
    no_l1 = ["verify", str(path), "--family", "bernoulli", "--l2", "1", "--l1-ratio", "0.5"]
    assert cli_main(no_l1) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--l1-ratio goes with --l1" in err


def test_the_readme_section_runs(capsys):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Elastic net\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        exec(compile(code, "README:elastic net", "exec"), {})
    out = capsys.readouterr().out
    assert re.fullmatch(r"OK: strong duality verified, relative gap \S+ \(tolerance 1e-06\)\n"
                        r"4 of 12 coefficients are exactly 0; saga's fit is within \de-1\d nats "
                        r"of the optimum\n", out), out
