"""Certifying other libraries' fits (dualmaxent.adapters): each translation against the
library's own objective.

For every adapter, three statements on seeded data:

(a) the translation: our objective, written out below from its definition
    (``l(theta) = sum_j w_j [<Y_j, eta_j> - A(eta_j)]`` minus the penalty on every row but the
    intercept's), at the translated theta equals the library's own objective value, computed
    from the library's documented formula with its own functions (scikit-learn's ``log_loss``
    and ``mean_*`` metrics, statsmodels' ``loglike`` and ``ssr``, glum's ``deviance``), after
    the affine map stated next to the adapter;
(b) the library, run at a tight tolerance, is certified (``ok``), and the certificate's upper
    bound is minus our objective at that theta;
(c) the same fit with its coefficients halved is not certified.

Tolerance of (a) and (b), from float64 round-off of the sums: each side adds ``n`` terms, each
rounded relative to its own magnitude, after ``eta = X theta`` has been rounded by at most
``m eps |x_j| . |theta|`` (which moves a term by ``(|Y_j| + |mu_j|)`` times that). So both values
lie within ``c (m + log2 n + 4) eps`` of the exact sum times the sum of magnitudes

    S = sum_j w_j [|<Y_j, eta_j>| + |A(eta_j)| + 1 + (|Y_j| + |mu_j|) . (|X_j| |theta|)]
        + |penalty| + (the library side's own sum of magnitudes),

and we allow ``c = 16``: a few eps times the sum of magnitudes.
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from scipy.special import expit, gammaln, logsumexp, softmax, xlogy

from dualmaxent import Dataset
from dualmaxent.adapters import certify_model, translate
from dualmaxent.exceptions import DualMaxentError
from dualmaxent.results import Penalty

from _factories import make_arrays

EPS = np.finfo(np.float64).eps


# -- our objective, from its definition --------------------------------------------------------

def our_objective(dataset: Dataset, theta, penalty: Penalty):
    """``(l(theta) - penalty(theta), S)``: the value and its sum of magnitudes (see the module
    docstring)."""
    X, Y, w = dataset.X, dataset.Y, dataset.weights
    T = np.asarray(theta, dtype=np.float64)
    eta = X @ T
    family = dataset.family.name
    if family == "categorical":
        A, mu, Yeta = logsumexp(eta, axis=1), softmax(eta, axis=1), np.sum(Y * eta, axis=1)
    elif family == "bernoulli":
        A, mu, Yeta = np.logaddexp(0.0, eta), expit(eta), Y * eta
    elif family == "poisson":
        A, mu, Yeta = np.exp(eta), np.exp(eta), Y * eta
    else:  # gaussian, unit variance
        A, mu, Yeta = eta**2 / 2, eta, Y * eta
    rows = np.ones(dataset.m, dtype=bool)
    if dataset.intercept:
        rows[-1] = False  # the intercept is never penalised
    if penalty.kind == "l2":
        pen = penalty.lam / 2 * float(np.sum(T[rows] ** 2))
    elif penalty.kind == "l1":
        pen = penalty.lam * float(np.sum(np.abs(T[rows])))
    elif penalty.kind == "elasticnet":  # lam (a ||.||_1 + (1 - a)/2 ||.||^2)
        a = penalty.l1_ratio
        pen = penalty.lam * (a * float(np.sum(np.abs(T[rows])))
                             + (1 - a) / 2 * float(np.sum(T[rows] ** 2)))
    else:
        pen = 0.0
    value = float(w @ (Yeta - A)) - pen
    reach = (np.abs(X) @ np.abs(T).reshape(dataset.m, -1)).reshape(mu.shape)
    moved = np.abs(Y) * reach + np.abs(mu) * reach
    moved = moved.sum(axis=1) if moved.ndim == 2 else moved
    S = float(w @ (np.abs(Yeta) + np.abs(A) + 1.0 + moved)) + abs(pen)
    return value, S


def budget(dataset: Dataset, magnitude: float) -> float:
    """``16 (m + log2 n + 4) eps`` times a sum of magnitudes (module docstring)."""
    return 16 * (dataset.m + math.log2(dataset.n) + 4) * EPS * magnitude


# -- the cases: a tight fit, and the library's own objective in our units ----------------------

@dataclass(frozen=True)
class Case:
    """``fit()`` returns ``(model, X, y, sample_weight)`` (a tight fit; X and y None for
    statsmodels results, which carry their data); ``library(model, X, y, sw)`` returns the
    library's objective mapped into ours (the adapter's comment) and its sum of magnitudes."""

    fit: Callable
    library: Callable
    halve: Callable


def weights(n, seed=1):
    return np.random.default_rng(seed).uniform(0.5, 2.0, n)


def quiet(fn):
    """Fits without the libraries' deprecation chatter (the cases choose their options)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    return run


def halve_coef(model):
    bad = copy.deepcopy(model)
    bad.coef_ = bad.coef_ * 0.5
    return bad


def halve_params(results):
    bad = copy.deepcopy(results)
    bad._results.params = bad._results.params * 0.5
    return bad


# scikit-learn LogisticRegression: its documented objective (User Guide, "Logistic regression")
#     C sum_i s_i loss_i + r(w),   r = (1/2) ||w||^2 (L2), ||w||_1 (L1), 0 (C = inf),
# loss_i = -log p(y_i), s_i = sample_weight_i * class_weight[y_i]; divided by C it is minus
# ours with l2 (or l1) = 1/C. liblinear's w includes the synthetic intercept column's weight
# intercept_ / intercept_scaling.

def sk_logistic_case(data, kind, fit_intercept=True, sample_weight=True, **options):
    options.setdefault("C", 1.0)
    options.setdefault("tol", 1e-10)
    options.setdefault("max_iter", 10000)

    @quiet
    def fit():
        from sklearn.linear_model import LogisticRegression

        X, y = make_arrays(data, n=200)
        sw = weights(len(y)) if sample_weight else None
        model = LogisticRegression(fit_intercept=fit_intercept, **options)
        return model.fit(X, y, sample_weight=sw), X, y, sw

    def library(model, X, y, sw):
        from sklearn.metrics import log_loss
        from sklearn.utils.class_weight import compute_class_weight

        s = np.ones(len(y)) if sw is None else sw
        if model.class_weight is not None:
            per_class = compute_class_weight(model.class_weight, classes=model.classes_, y=y,
                                             sample_weight=s)
            s = s * per_class[np.searchsorted(model.classes_, y)]
        loss = log_loss(y, model.predict_proba(X), labels=model.classes_, normalize=False,
                        sample_weight=s)
        w = model.coef_.ravel()
        if model.solver == "liblinear" and model.fit_intercept:
            w = np.append(w, model.intercept_ / model.intercept_scaling)
        r = {"l2": 0.5 * np.sum(w**2), "l1": np.sum(np.abs(w)), "none": 0.0}[kind]
        C = model.C
        value = -(loss + (r / C if np.isfinite(C) else 0.0))
        return value, abs(value)

    return Case(fit, library, halve_coef)


# LinearRegression / Ridge: sum_i s_i (y_i - eta_i)^2 + alpha ||w||^2 (alpha = 0 for
# LinearRegression); ours is sum_i s_i y_i^2 / 2 minus half of it, with l2 = alpha.

def sk_least_squares_case(alpha=None, fit_intercept=True):
    @quiet
    def fit():
        from sklearn.linear_model import LinearRegression, Ridge

        X, y = make_arrays("gaussian", n=200)
        sw = weights(len(y))
        model = (LinearRegression(fit_intercept=fit_intercept) if alpha is None
                 else Ridge(alpha=alpha, fit_intercept=fit_intercept, tol=1e-12))
        return model.fit(X, y, sample_weight=sw), X, y, sw

    def library(model, X, y, sw):
        from sklearn.metrics import mean_squared_error

        rss = float(np.sum(sw)) * mean_squared_error(y, model.predict(X), sample_weight=sw)
        objective = rss + (alpha or 0.0) * float(np.sum(model.coef_**2))
        half_y2 = 0.5 * float(sw @ y**2)
        return half_y2 - objective / 2, half_y2 + objective / 2

    return Case(fit, library, halve_coef)


# Lasso / ElasticNet: 1/(2 sum(s)) sum_i s_i (y_i - eta_i)^2 + alpha r ||w||_1
# + alpha (1 - r)/2 ||w||^2 (r = l1_ratio, 1 for Lasso); ours is sum_i s_i y_i^2 / 2 minus sum(s)
# times it, with the elastic net's lam = alpha sum(s) and l1_ratio = r.

def sk_sparse_least_squares_case(alpha, l1_ratio=None):
    @quiet
    def fit():
        from sklearn.linear_model import ElasticNet, Lasso

        X, y = make_arrays("gaussian", n=200)
        sw = weights(len(y))
        model = (Lasso(alpha=alpha, tol=1e-14, max_iter=100_000) if l1_ratio is None else
                 ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=100_000))
        return model.fit(X, y, sample_weight=sw), X, y, sw

    def library(model, X, y, sw):
        from sklearn.metrics import mean_squared_error

        r = 1.0 if l1_ratio is None else l1_ratio
        S = float(np.sum(sw))
        w = np.asarray(model.coef_)
        objective = (mean_squared_error(y, model.predict(X), sample_weight=sw) / 2
                     + alpha * r * float(np.sum(np.abs(w)))
                     + alpha * (1 - r) / 2 * float(np.sum(w**2)))
        half_y2 = 0.5 * float(sw @ y**2)
        return half_y2 - S * objective, half_y2 + S * objective

    return Case(fit, library, halve_coef)


# PoissonRegressor: 1/(2 sum(s)) sum_i s_i deviance_i + (alpha/2) ||w||^2 with
# deviance_i / 2 = y log(y / mu) - y + mu; ours is C0 - sum(s) times it, C0 = sum s (y log y - y),
# with l2 = alpha sum(s).

def sk_poisson_case(alpha):
    @quiet
    def fit():
        from sklearn.linear_model import PoissonRegressor

        X, y = make_arrays("poisson", n=200)
        sw = weights(len(y))
        model = PoissonRegressor(alpha=alpha, tol=1e-12, max_iter=10000)
        return model.fit(X, y, sample_weight=sw), X, y, sw

    def library(model, X, y, sw):
        from sklearn.metrics import mean_poisson_deviance

        S = float(np.sum(sw))
        objective = (mean_poisson_deviance(y, model.predict(X), sample_weight=sw) / 2
                     + alpha / 2 * float(np.sum(model.coef_**2)))
        c0 = sw * (xlogy(y, y) - y)
        return float(np.sum(c0)) - S * objective, float(np.sum(np.abs(c0))) + S * objective

    return Case(fit, library, halve_coef)


# statsmodels: llf = model.loglike(params) is l plus the family's constant (Logit, MNLogit: 0;
# Poisson: -sum log y!); OLS and WLS minimise ssr = sum w (y - eta)^2 = sum w y^2 - 2 l; a GLM's
# loglike at scale 1 is l (w = freq_weights * var_weights) plus the constant.

def sm_case(kind, constant=True, **glm):
    @quiet
    def fit():
        import statsmodels.api as sm

        data = {"Logit": "bernoulli", "MNLogit": "categorical", "Poisson": "poisson",
                "OLS": "gaussian", "WLS": "gaussian"}.get(kind) or glm["data"]
        X, y = make_arrays(data, n=200)
        if data == "bernoulli":
            y = (y == "yes").astype(float)
        exog = sm.add_constant(X) if constant else X
        if kind == "GLM":
            family = getattr(sm.families, glm["family"])()
            n = len(y)
            model = sm.GLM(y, exog, family=family,
                           freq_weights=weights(n) if glm.get("freq") else None,
                           var_weights=weights(n, 2) if glm.get("var") else None)
            return model.fit(tol=1e-12), None, None, None
        if kind == "WLS":
            return sm.WLS(y, exog, weights=weights(len(y))).fit(), None, None, None
        if kind == "OLS":
            return sm.OLS(y, exog).fit(), None, None, None
        model = getattr(sm, kind)(y, exog)
        return model.fit(disp=0, tol=1e-12, maxiter=1000), None, None, None

    def library(results, X, y, sw):
        model = results.model
        endog = np.asarray(model.endog, dtype=np.float64)
        if kind in ("OLS", "WLS"):
            w = np.broadcast_to(np.asarray(model.weights, dtype=np.float64), endog.shape)
            half_y2 = 0.5 * float(w @ endog**2)
            return half_y2 - results.ssr / 2, half_y2 + results.ssr / 2
        if kind == "GLM":
            w = model.freq_weights * model.var_weights
            llf = model.loglike(results.params, scale=1.0)
            const = {"Binomial": 0.0, "Poisson": -float(w @ gammaln(endog + 1)),
                     "Gaussian": -0.5 * float(w @ endog**2)
                     - 0.5 * float(np.sum(model.freq_weights)) * math.log(2 * math.pi)}
            c = const[glm["family"]]
            return llf - c, abs(llf) + abs(c)
        llf = model.loglike(results.params)
        c = -float(np.sum(gammaln(endog + 1))) if kind == "Poisson" else 0.0
        return llf - c, abs(llf) + abs(c)

    return Case(fit, library, halve_params)


# glum: 1/(2 sum(s)) deviance(y, mu; s) + alpha (l1_ratio ||w||_1 + (1 - l1_ratio)/2 ||w||^2);
# ours is C0 - sum(s) times it, C0 = sum s y^2 / 2 (normal), sum s (y log y - y) (poisson),
# 0 (binomial with y in {0, 1}), with l2 (or l1) = alpha sum(s).

def glum_case(family, alpha, l1_ratio=0.0, fit_intercept=True, sample_weight=True):
    data = {"normal": "gaussian", "poisson": "poisson", "binomial": "bernoulli"}[family]

    @quiet
    def fit():
        glum = pytest.importorskip("glum")
        X, y = make_arrays(data, n=200)
        if data == "bernoulli":
            y = (y == "yes").astype(float)
        sw = weights(len(y)) if sample_weight else None
        model = glum.GeneralizedLinearRegressor(
            family=family, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
            gradient_tol=1e-12, max_iter=1000)
        return model.fit(X, y, sample_weight=sw), X, y, sw

    def library(model, X, y, sw):
        import glum

        s = np.ones(len(y)) if sw is None else sw
        S = float(np.sum(s))
        deviance = glum.get_family(family).deviance(y, model.predict(X), sample_weight=s)
        w = model.coef_
        objective = deviance / (2 * S) + alpha * (l1_ratio * np.sum(np.abs(w))
                                                  + (1 - l1_ratio) / 2 * np.sum(w**2))
        c0 = {"normal": 0.5 * s * y**2, "poisson": s * (xlogy(y, y) - y),
              "binomial": np.zeros(len(y))}[family]
        return float(np.sum(c0)) - S * objective, float(np.sum(np.abs(c0))) + S * objective

    return Case(fit, library, halve_coef)


def _penalty_keyword_exists():
    from sklearn.linear_model import LogisticRegression

    return "penalty" in LogisticRegression().get_params()


CASES = {
    "sklearn-logistic-binary-l2": sk_logistic_case("bernoulli", "l2", C=0.5),
    "sklearn-logistic-binary-l2-no-intercept": sk_logistic_case("bernoulli", "l2", C=2.0,
                                                                fit_intercept=False),
    "sklearn-logistic-binary-unpenalised": sk_logistic_case("bernoulli", "none", C=np.inf),
    "sklearn-logistic-multinomial-l2": sk_logistic_case("categorical", "l2", C=1.0),
    "sklearn-logistic-multinomial-l2-no-intercept": sk_logistic_case(
        "categorical", "l2", C=0.3, fit_intercept=False, sample_weight=False),
    "sklearn-logistic-multinomial-unpenalised": sk_logistic_case("categorical", "none",
                                                                 C=np.inf),
    "sklearn-logistic-binary-l1-saga": sk_logistic_case(
        "bernoulli", "l1", C=0.2, l1_ratio=1.0, solver="saga", tol=1e-12, max_iter=100000),
    "sklearn-logistic-multinomial-l1-saga": sk_logistic_case(
        "categorical", "l1", C=0.2, l1_ratio=1.0, solver="saga", tol=1e-12, max_iter=100000),
    "sklearn-logistic-liblinear-l2": sk_logistic_case(
        "bernoulli", "l2", C=0.5, solver="liblinear", intercept_scaling=2.0, tol=1e-12),
    "sklearn-logistic-liblinear-l1": sk_logistic_case(
        "bernoulli", "l1", C=0.5, l1_ratio=1.0, solver="liblinear", tol=1e-12),
    "sklearn-logistic-class-weight": sk_logistic_case("categorical", "l2", C=0.5,
                                                      class_weight="balanced"),
    "sklearn-linear-regression": sk_least_squares_case(),
    "sklearn-ridge": sk_least_squares_case(alpha=3.0),
    "sklearn-ridge-no-intercept": sk_least_squares_case(alpha=3.0, fit_intercept=False),
    "sklearn-lasso": sk_sparse_least_squares_case(alpha=0.05),
    "sklearn-elasticnet": sk_sparse_least_squares_case(alpha=0.05, l1_ratio=0.4),
    "sklearn-poisson-regressor": sk_poisson_case(alpha=0.05),
    "statsmodels-logit": sm_case("Logit"),
    "statsmodels-logit-no-constant": sm_case("Logit", constant=False),
    "statsmodels-mnlogit": sm_case("MNLogit"),
    "statsmodels-poisson": sm_case("Poisson"),
    "statsmodels-ols": sm_case("OLS"),
    "statsmodels-ols-no-constant": sm_case("OLS", constant=False),
    "statsmodels-wls": sm_case("WLS"),
    "statsmodels-glm-binomial": sm_case("GLM", data="bernoulli", family="Binomial", freq=True),
    "statsmodels-glm-poisson": sm_case("GLM", data="poisson", family="Poisson", var=True),
    "statsmodels-glm-gaussian": sm_case("GLM", data="gaussian", family="Gaussian", freq=True),
    "glum-normal-l2": glum_case("normal", alpha=0.05),
    "glum-poisson-l1": glum_case("poisson", alpha=0.02, l1_ratio=1.0),
    "glum-binomial-l2": glum_case("binomial", alpha=0.01),
    "glum-binomial-unpenalised-no-intercept": glum_case("binomial", alpha=0.0,
                                                        fit_intercept=False,
                                                        sample_weight=False),
}
if _penalty_keyword_exists():  # scikit-learn < 1.10: penalty= (deprecated in 1.8) still works
    CASES["sklearn-logistic-penalty-keyword"] = sk_logistic_case(
        "bernoulli", "l1", C=0.5, penalty="l1", solver="liblinear", tol=1e-12)


@functools.cache
def fitted(name):
    return CASES[name].fit()


@pytest.mark.parametrize("name", sorted(CASES))
def test_translation_matches_the_library_objective(name):
    model, X, y, sw = fitted(name)
    problem = translate(model, X, y, sw)
    ours, S = our_objective(problem.dataset, problem.theta, problem.penalty)
    theirs, magnitude = CASES[name].library(model, X, y, sw)
    assert abs(ours - theirs) <= budget(problem.dataset, S + magnitude), (ours, theirs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_tight_fit_is_certified(name):
    model, X, y, sw = fitted(name)
    cert = certify_model(model, X, y, sample_weight=sw)
    assert cert.ok, cert.messages
    problem = translate(model, X, y, sw)
    ours, S = our_objective(problem.dataset, problem.theta, problem.penalty)
    assert abs(cert.upper_bound - (-ours)) <= budget(problem.dataset, S)
    assert cert.lower_bound <= cert.upper_bound + cert.roundoff
    assert 0 <= cert.within <= 1e-6 * max(1.0, abs(cert.upper_bound)) + cert.roundoff


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_halved_fit_is_not_certified(name):
    model, X, y, sw = fitted(name)
    cert = certify_model(CASES[name].halve(model), X, y, sample_weight=sw)
    assert not cert.ok
    assert cert.verdict.startswith("NOT OK")


# -- the translations' details -----------------------------------------------------------------

def test_binary_logistic_regression_is_the_bernoulli_likelihood_of_the_second_class():
    model, X, y, sw = fitted("sklearn-logistic-binary-l2")
    problem = translate(model, X, y, sw)
    assert problem.dataset.family.name == "bernoulli"
    assert problem.dataset.classes == tuple(model.classes_) == ("no", "yes")
    assert problem.penalty == Penalty("l2", 1 / model.C)
    np.testing.assert_array_equal(problem.theta, np.append(model.coef_[0], model.intercept_))
    # the categorical alternative needs lam = 2/C on the split (-w/2, w/2): the same value
    ds = Dataset.from_arrays(X, y, weights=sw, family="categorical")
    split = np.column_stack([-problem.theta / 2, problem.theta / 2])
    split[-1] = [0.0, problem.theta[-1]]  # the unpenalised intercept in any gauge
    ours, S = our_objective(problem.dataset, problem.theta, problem.penalty)
    other, S2 = our_objective(ds, split, Penalty("l2", 2 / model.C))
    assert abs(ours - other) <= budget(ds, S + S2)


def test_multinomial_theta_has_one_column_per_class_in_the_models_order():
    model, X, y, sw = fitted("sklearn-logistic-multinomial-l2")
    problem = translate(model, X, y, sw)
    assert problem.dataset.classes == tuple(model.classes_)
    np.testing.assert_array_equal(problem.theta[:-1], model.coef_.T)
    np.testing.assert_array_equal(problem.theta[-1], model.intercept_)
    assert problem.dataset.feature_names[-1] == "intercept"


def test_mnlogit_pins_its_first_level_at_zero():
    results, *_ = fitted("statsmodels-mnlogit")
    problem = translate(results)
    assert problem.theta.shape == (results.model.exog.shape[1], 3)
    np.testing.assert_array_equal(problem.theta[:, 0], 0.0)
    np.testing.assert_array_equal(problem.theta[:, 1:], results.params)
    assert not problem.dataset.intercept  # the constant is a plain column of exog


def test_liblinear_penalises_its_intercept_column():
    model, X, y, sw = fitted("sklearn-logistic-liblinear-l2")
    problem = translate(model, X, y, sw)
    assert not problem.dataset.intercept
    assert problem.dataset.feature_names[-1] == "intercept_scaling"
    np.testing.assert_array_equal(problem.dataset.X[:, -1], 2.0)
    assert problem.theta[-1] == model.intercept_[0] / 2.0


def test_statsmodels_results_accept_their_own_data_with_or_without_the_constant():
    results, *_ = fitted("statsmodels-logit")
    exog, endog = results.model.exog, results.model.endog
    base = certify_model(results)
    for X in (exog, exog[:, 1:]):
        cert = certify_model(results, X, endog)
        assert cert.ok and cert.upper_bound == base.upper_bound
    with pytest.raises(DualMaxentError, match="X differs from the results' design"):
        certify_model(results, exog[:, 1:] * 2, endog)
    with pytest.raises(DualMaxentError, match="y differs"):
        certify_model(results, None, 1 - endog)
    with pytest.raises(DualMaxentError, match="carry their own weights"):
        certify_model(results, sample_weight=np.ones(len(endog)))
    mn, *_ = fitted("statsmodels-mnlogit")
    labels = np.array(["a", "b", "c"])[np.argmax(mn.model.wendog, axis=1)]
    assert certify_model(mn, None, labels).ok


def test_nothing_the_user_gave_is_modified():
    model, X, y, sw = fitted("sklearn-logistic-multinomial-l2")
    before = (model.coef_.copy(), model.intercept_.copy(), model.get_params(), X.copy(),
              y.copy(), sw.copy())
    certify_model(model, X, y, sample_weight=sw)
    after = (model.coef_, model.intercept_, model.get_params(), X, y, sw)
    for a, b in zip(before, after):
        if isinstance(a, dict):
            assert a.keys() == b.keys() and all(str(a[k]) == str(b[k]) for k in a)
        else:
            np.testing.assert_array_equal(a, b)
    assert X.flags.writeable and sw.flags.writeable
    results, *_ = fitted("statsmodels-glm-binomial")
    params = results.params.copy()
    certify_model(results)
    np.testing.assert_array_equal(results.params, params)


# -- what is refused, in one line --------------------------------------------------------------

def one_line_error(*args, **kwargs) -> str:
    with pytest.raises(DualMaxentError) as exc:
        certify_model(*args, **kwargs)
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_an_unsupported_model_lists_what_is_supported():
    from sklearn.tree import DecisionTreeClassifier

    X, y = make_arrays("bernoulli", n=50)
    for model in (object(), DecisionTreeClassifier().fit(X, y), "a string"):
        message = one_line_error(model, X, y)
        assert "cannot certify" in message
        assert "LogisticRegression" in message and "MNLogit" in message and "glum" in message


@quiet
def test_unfitted_and_unsupported_settings_are_refused():
    import statsmodels.api as sm
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

    X, y = make_arrays("bernoulli", n=60)
    unfitted = one_line_error(LogisticRegression(), X, y)
    assert "not fitted" in unfitted and "supported: scikit-learn LogisticRegression" in unfitted
    assert "needs the X and y" in one_line_error(LogisticRegression().fit(X, y))
    Xg, yg = make_arrays("gaussian", n=60)
    assert "positive=True" in one_line_error(LinearRegression(positive=True).fit(Xg, yg), Xg, yg)
    two = np.column_stack([yg, -yg])
    assert "targets" in one_line_error(Ridge().fit(Xg, two), Xg, two)
    assert "columns" in one_line_error(LogisticRegression().fit(X, y), X[:, :2], y)
    exog, endog = sm.add_constant(X), (y == "yes").astype(float)
    assert "pass its results" in one_line_error(sm.Logit(endog, exog))
    assert "fit_regularized" in one_line_error(
        sm.Logit(endog, exog).fit_regularized(alpha=1.0, disp=0))
    probit = sm.GLM(endog, exog, family=sm.families.Binomial(sm.families.links.Probit())).fit()
    assert "canonical" in one_line_error(probit)
    assert "offset" in one_line_error(sm.GLM(endog, exog, family=sm.families.Binomial(),
                                             offset=np.ones(len(endog))).fit())
    # Logit's offset enters eta too (it was certified without it: NOT OK by 9 to 20 nats)
    assert "offset" in one_line_error(
        sm.Logit(endog, exog, offset=np.ones(len(endog))).fit(disp=0))
    # a constrained fit maximises another problem (it was judged against the unconstrained)
    assert "fit_constrained" in one_line_error(
        sm.GLM(endog, exog, family=sm.families.Binomial()).fit_constrained(
            (np.eye(exog.shape[1])[1:2], [0.0])))


def test_glum_settings_outside_our_problems_are_refused():
    glum = pytest.importorskip("glum")
    X, y = make_arrays("poisson", n=60)
    gamma = glum.GeneralizedLinearRegressor(family="gamma").fit(X, y + 1)
    assert "GammaDistribution" in one_line_error(gamma, X, y + 1)
    identity = glum.GeneralizedLinearRegressor(family="poisson", link="identity")
    assert "canonical link" in one_line_error(identity.fit(X, y + 1), X, y + 1)
    enet = glum.GeneralizedLinearRegressor(family="poisson", alpha=0.1, l1_ratio=0.5,
                                           P1=np.array([1.0, 2.0, 3.0])).fit(X, y)
    assert "custom P1" in one_line_error(enet, X, y)  # the elastic net itself is certified
    custom = glum.GeneralizedLinearRegressor(family="poisson", alpha=0.1,
                                             P2=np.array([1.0, 2.0, 3.0])).fit(X, y)
    assert "custom P2" in one_line_error(custom, X, y)
    assert "not fitted" in one_line_error(glum.GeneralizedLinearRegressor(), X, y)


def test_the_readme_section_runs_and_prints_the_bound(capsys):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Certify another library's fit\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn's defaults converge on these data
        exec(compile(code, "README:certify", "exec"), {})
    out = capsys.readouterr().out
    assert re.fullmatch(r"within \d\.\de-0[4-6] nats of the optimum\n", out), out
    assert out.strip() in section  # the output printed in the README is the real one


def test_glum_alpha_search_certifies_the_last_alpha_of_its_path():
    glum = pytest.importorskip("glum")
    X, y = make_arrays("poisson", n=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = glum.GeneralizedLinearRegressor(family="poisson", alpha_search=True,
                                                alpha=[0.5, 0.1, 0.02], gradient_tol=1e-12,
                                                max_iter=1000).fit(X, y)
    problem = translate(model, X, y)
    assert problem.penalty == Penalty("l2", 0.02 * len(y))  # alpha sum(w), w = 1
    assert certify_model(model, X, y).ok


def test_adapter_inputs_scikit_learn_and_statsmodels_allow_or_refuse_in_one_line():
    """Ridge's alpha as a one-entry array (scikit-learn allows it) is that alpha; statsmodels
    results whose data were dropped (``remove_data``) and a frame with a categorical column
    (glum expands it itself) are refused with a line that says so, not a misleading one."""
    import glum
    import pandas as pd
    import statsmodels.api as sm
    from sklearn.linear_model import Ridge

    from dualmaxent import certify_model
    from dualmaxent.exceptions import DataError

    rng = np.random.default_rng(0)
    X, z = rng.normal(size=(80, 2)), rng.normal(size=80)
    as_array = certify_model(Ridge(alpha=np.array([2.0])).fit(X, z), X, z)
    as_float = certify_model(Ridge(alpha=2.0).fit(X, z), X, z)
    assert as_array.ok and as_array.penalty == as_float.penalty
    assert as_array.upper_bound == as_float.upper_bound
    y = (rng.random(80) < 0.5).astype(float)
    results = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
    results.remove_data()
    with pytest.raises(DataError, match=r"^the statsmodels results hold no data"):
        certify_model(results)
    df = pd.DataFrame({"a": X[:, 0], "g": pd.Categorical(rng.choice(["u", "v", "w"], 80))})
    model = glum.GeneralizedLinearRegressor(family="binomial", alpha=0.01).fit(df, y)
    with pytest.raises(DataError, match=r"^X must be numeric; not numbers: 'g' \(category\)"):
        certify_model(model, df, y)
