"""The scikit-learn estimators: the estimator checks, scikit-learn's fits on the same data with
``lambda = 1 / C``, frequency weights, model selection, and separated data."""


import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression, PoissonRegressor, Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from dualmaxent import GLMRegressor, MaxEntClassifier
from dualmaxent.exceptions import SeparationWarning

from _rounding import U, gamma

#: The regressor checks fit a continuous target, which the Bernoulli family (two labels) refuses
#: with a one-line DataError; each of these checks fits on such a target first.
_BERNOULLI_CONTINUOUS_Y = (
    "check_fit_score_takes_y", "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters", "check_estimators_fit_returns_self",
    "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_sample_weights_list",
    "check_sample_weight_equivalence_on_dense_data", "check_dtype_object",
    "check_f_contiguous_array_estimator", "check_regressors_train",
    "check_regressor_data_not_an_array", "check_regressors_no_decision_function",
    "check_supervised_y_2d", "check_regressors_int", "check_non_transformer_estimators_n_iter",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance",
    "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
    "check_n_features_in", "check_fit2d_predict1d",
    "check_sample_weight_equivalence_on_sparse_data", "check_estimator_sparse_tag", "check_estimator_sparse_array", "check_estimator_sparse_matrix",
)


def expected_failures(estimator):
    """Each check expected to fail for ``estimator``, with its reason."""
    if isinstance(estimator, GLMRegressor) and estimator.family == "bernoulli":
        return {name: "the regressor checks fit a continuous y; the bernoulli family needs two "
                "labels" for name in _BERNOULLI_CONTINUOUS_Y}
    # (MaxEntClassifier(C=np.inf) passes check_sample_weight_equivalence_on_dense_data, whose
    # classes are completely separated, since its weighted and repeated fits both stop where
    # theta proves that, at the same iteration: solvers.RUN_OFF_FIRST)
    return {}


# certify=False: the checks fit hundreds of times, and CVXPY's primal would be most of the time
@parametrize_with_checks(
    [MaxEntClassifier(certify=False), MaxEntClassifier(l1_ratio=1.0, certify=False),
     MaxEntClassifier(l1_ratio=0.5, certify=False),
     MaxEntClassifier(C=np.inf, certify=False), GLMRegressor(certify=False),
     GLMRegressor("poisson", certify=False), GLMRegressor("bernoulli", certify=False)],
    expected_failed_checks=expected_failures,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _sk_logistic(C, penalty, X, y):
    # scikit-learn >= 1.8 spells the penalty by l1_ratio; its newton-cholesky solver (L2) and
    # saga (L1) reach the optimum to round-off at these tolerances
    if penalty == "l2":
        return LogisticRegression(C=C, solver="newton-cholesky", tol=1e-14, max_iter=1000).fit(X, y)
    return LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-10,
                              max_iter=100000).fit(X, y)


@pytest.mark.parametrize("penalty", ["l2", "l1"])
@pytest.mark.parametrize("classes", [2, 3])
def test_C_is_scikit_learns_and_lambda_is_its_inverse(iris, penalty, classes):
    X, y = iris
    y = y if classes == 3 else (y == 1).astype(int)
    C = 0.3
    ours = MaxEntClassifier(C=C, l1_ratio={"l2": 0.0, "l1": 1.0}[penalty]).fit(X, y)
    ref = _sk_logistic(C, penalty, X, y)
    assert ours.certificate_.ok, ours.certificate_.messages
    assert ours.certificate_.dual.penalty.lam == pytest.approx(1 / C, rel=1e-15)
    assert ours.coef_.shape == ref.coef_.shape == ((1, 4) if classes == 2 else (3, 4))
    tol = 1e-8 if penalty == "l2" else 1e-7  # saga's accuracy
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=tol)
    # the gauge: our last class's intercept is 0, scikit-learn's intercepts sum to 0
    shift = ours.intercept_ - ours.intercept_.mean() if classes == 3 else ours.intercept_
    np.testing.assert_allclose(shift, ref.intercept_, atol=tol)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=tol)
    if classes == 3:
        assert ours.intercept_[-1] == 0.0
    if classes == 3 and penalty == "l2":
        # the penalised rows are free in every class, so L2 centres them: each column sums to 0
        np.testing.assert_allclose(ours.coef_.sum(axis=0), 0.0, atol=1e-9)


def test_unpenalised_fit_is_the_dual_of_the_max_entropy_problem(iris):
    X, y = iris
    y = (y == 2).astype(int)
    X = X[:, :2]  # two features: the classes overlap, so the maximum likelihood exists
    ours = MaxEntClassifier(C=np.inf).fit(X, y)
    ref = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-14).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-7)
    cert = ours.certificate_
    assert cert.ok and cert.attained
    # -l(theta*) recomputed from the predicted probabilities equals the primal's entropy
    neg_loglik = -ours.predict_log_proba(X)[np.arange(len(y)), y].sum()
    P = cert.projected.mu  # the checker's feasible point (CVXPY runs only on request)
    P = P[:, 1] if P.ndim == 2 else P
    entropy = -np.sum(P * np.log(P)) - np.sum((1 - P) * np.log(1 - P))
    assert neg_loglik == pytest.approx(entropy, rel=1e-7)
    np.testing.assert_allclose(ours.predict_proba(X)[:, 1], P, atol=1e-7)


def test_predictions_are_consistent_with_the_probabilities(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MaxEntClassifier(certify=False).fit(X, labels)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    assert list(clf.predict(X)) == list(clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, labels) > 0.9
    binary = MaxEntClassifier(certify=False).fit(X, labels == "virginica")
    assert binary.decision_function(X).shape == (len(y),)
    np.testing.assert_array_equal(binary.predict(X), binary.decision_function(X) > 0)


@pytest.mark.parametrize("k", [2, 3, 6])
def test_predictions_of_many_rows_are_the_definitions_on_every_row_block(k):
    """On new rows spanning several of the predictor's row blocks (``_kernels.linear_predictor``
    writes each block's softmax or log-softmax in place), the predictions are their
    definitions from the coefficients: the decision function ``X coef^T + intercept``, the
    probabilities its softmax (sigmoid of the log-odds for two classes), their logarithms, the
    class of the largest; and scikit-learn's ``LogisticRegression`` given the same coefficients
    predicts the same."""
    rng = np.random.default_rng(k)
    m = 5
    X = rng.standard_normal((300, m))
    y = rng.integers(0, k, 300)
    clf = MaxEntClassifier(certify=False).fit(X, y)
    new = rng.standard_normal((70_000, m)) * 3  # about three blocks of 1 MB
    eta = new @ clf.coef_.T + clf.intercept_
    bound = gamma(m + 2) * (np.abs(new) @ np.abs(clf.coef_.T) + np.abs(clf.intercept_))
    df = clf.decision_function(new)
    assert np.all(np.abs(df.reshape(eta.shape) - eta) <= 2 * bound)
    if k == 2:
        logit = eta[:, 0]
        P = np.column_stack([1 / (1 + np.exp(logit)), 1 / (1 + np.exp(-logit))])
    else:
        E = np.exp(eta - eta.max(axis=1, keepdims=True))
        P = E / E.sum(axis=1, keepdims=True)
    proba = clf.predict_proba(new)
    # (the softmax's and the sigmoid's own roundings, a few u; the logits' error times 1)
    assert np.all(np.abs(proba - P) <= 4 * bound.max(axis=1, keepdims=True) + 64 * U)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(new)), proba, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(new), clf.classes_[proba.argmax(axis=1)])
    ref = LogisticRegression()
    ref.coef_, ref.intercept_, ref.classes_ = clf.coef_, clf.intercept_, clf.classes_
    np.testing.assert_allclose(ref.predict_proba(new), proba, rtol=1e-12, atol=1e-15)


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 3))
    counts = rng.poisson(np.exp(0.4 * X[:, 0] - 0.3 * X[:, 1] + 0.2))
    values = X @ np.array([1.0, -2.0, 0.5]) + 1.0 + rng.normal(size=150)
    return X, counts, values


def test_regressors_match_scikit_learn_with_lambda_1_over_C(regression_data):
    X, counts, values = regression_data
    n, C = len(counts), 0.05
    ols = GLMRegressor().fit(X, values)
    ref = LinearRegression().fit(X, values)
    np.testing.assert_allclose(ols.coef_, ref.coef_, rtol=1e-10)
    assert ols.intercept_ == pytest.approx(ref.intercept_, rel=1e-10)
    # ours: sum (y - eta)^2 / 2 + ||coef||^2 / (2 C); Ridge: sum (y - eta)^2 + alpha ||coef||^2
    ridge = GLMRegressor(C=C, l1_ratio=0.0).fit(X, values)
    np.testing.assert_allclose(ridge.coef_, Ridge(alpha=1 / C).fit(X, values).coef_, rtol=1e-10)
    # PoissonRegressor's loss is a mean over observations: alpha = 1 / (C n)
    pois = GLMRegressor("poisson", C=C, l1_ratio=0.0).fit(X, counts)
    ref = PoissonRegressor(alpha=1 / (C * n), solver="newton-cholesky", tol=1e-12,
                           max_iter=1000).fit(X, counts)
    np.testing.assert_allclose(pois.coef_, ref.coef_, rtol=1e-8)
    np.testing.assert_allclose(pois.predict(X), ref.predict(X), rtol=1e-8)
    for model in (ols, ridge, pois):
        assert model.certificate_.ok, model.certificate_.messages


def test_the_bernoulli_regressor_predicts_the_classifiers_probability(iris):
    X, y = iris
    y = (y == 1).astype(float)
    reg = GLMRegressor("bernoulli", l1_ratio=0.0, certify=False).fit(X, y)
    clf = MaxEntClassifier(certify=False).fit(X, y)
    np.testing.assert_allclose(reg.predict(X), clf.predict_proba(X)[:, 1], rtol=1e-12)


@pytest.mark.parametrize("make", [lambda: MaxEntClassifier(C=0.5),
                                  lambda: GLMRegressor("poisson")])
def test_sample_weight_is_a_frequency_weight(make, iris, regression_data):
    if isinstance(make(), MaxEntClassifier):
        X, y = iris
    else:
        X, y, _ = regression_data
    w = np.random.default_rng(0).integers(0, 4, size=len(y))
    weighted = make().fit(X, y, sample_weight=w)
    repeated = make().fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-8, atol=1e-10)
    assert weighted.certificate_.ok and repeated.certificate_.ok


def test_pipeline_grid_search_and_cross_validation(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), MaxEntClassifier())
    search = GridSearchCV(pipe, {"maxentclassifier__C": [0.1, 1.0, 10.0]}, cv=3).fit(X, y)
    best = search.best_estimator_[-1]
    assert best.C == search.best_params_["maxentclassifier__C"]
    assert best.certificate_.ok, best.certificate_.messages
    assert best.certificate_.dual.penalty.lam == pytest.approx(1 / best.C)
    scores = cross_val_score(GLMRegressor("poisson", certify=False), X[:, :3],
                             np.round(X[:, 3] - X[:, 3].min()), cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


def test_feature_names_come_from_a_data_frame():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"age": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "dose": [3, 1, 2, 2, 1, 3]})
    clf = MaxEntClassifier(certify=False).fit(df, [0, 1, 0, 1, 1, 0])
    assert list(clf.feature_names_in_) == ["age", "dose"]
    assert clf.n_features_in_ == 2


@pytest.mark.parametrize("y", [np.array([0, 0, 0, 1, 1, 1]), np.array([0, 0, 1, 1, 2, 2])])
def test_separated_data_fit_with_a_warning_and_an_unattained_certificate(y):
    X = np.arange(6.0)[:, None]
    with pytest.warns(SeparationWarning, match="separated"):
        clf = MaxEntClassifier(C=np.inf).fit(X, y)
    cert = clf.certificate_
    assert cert.attained is False and cert.ok, cert.messages
    # coef_ lies far enough along the ray that the training probabilities are the limit, P*
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P, np.eye(P.shape[1])[y], atol=1e-10)
    P_primal = cert.projected.mu  # the checker's feasible point of the reduced primal
    np.testing.assert_allclose(P[:, 1] if P_primal.ndim == 1 else P, P_primal, atol=1e-6)
    assert clf.score(X, y) == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_a_separated_poisson_fit_predicts_the_limit_on_every_training_row(seed):
    """More columns than rows, counts with zeros: the zeros are forced to mean 0, and the other
    rows' ``x D`` is 0 but for the LP's tolerance and its rounding (1e-14 to 1e-12). The ray
    doubled ``t`` until every mean stopped moving, which those rows' drift never did: at ``t =
    2^64`` they predicted ``inf`` where the limit is near their counts (29 of 30 such fits),
    with the certificate OK. The limit is recomputed here: 0 on the forced rows, and on the
    others the means of the Poisson likelihood of those rows alone (scikit-learn's, at a tight
    tolerance: the means are unique though theta is not)."""
    rng = np.random.default_rng(seed)
    n, m = 20, 29
    X = rng.standard_normal((n, m)) @ (0.3 * rng.standard_normal((m, m)) + np.eye(m))
    y = rng.poisson(np.exp(0.5 * rng.standard_normal(n))).astype(float)
    with pytest.warns(SeparationWarning, match="separated"):
        model = GLMRegressor("poisson").fit(X, y)
    forced = model.certificate_.separation.forced_observations
    assert np.array_equal(forced, y == 0)  # (each zero is forced: m > n)
    mu = model.predict(X)
    assert np.all(np.isfinite(mu))
    assert np.abs(mu[forced]).max() <= 1e-10
    free = PoissonRegressor(alpha=0.0, tol=1e-12, max_iter=10000).fit(X[~forced], y[~forced])
    np.testing.assert_allclose(mu[~forced], free.predict(X[~forced]), rtol=1e-5)


def test_a_trial_point_past_the_poisson_means_range_warns_nothing():
    """Heavy-tailed features (Student's t, 1.5 degrees of freedom: entries up to 1e4) under a
    strong L1 penalty: a line search tries a point whose ``exp(eta)`` overflows, which its
    infinite value declines. numpy said so too, with RuntimeWarnings (overflow in exp, NaN in
    the gradient's product) that reached the user from a fit that converged and was
    certified."""
    import warnings

    rng = np.random.default_rng(7)
    n, m = 20000, 12
    X = rng.standard_t(1.5, (n, m))
    Z = (X - X.mean(0)) / X.std(0)
    eta = np.clip(Z @ (rng.standard_normal(m) / np.sqrt(m)) + 1, -20, 8)
    y = rng.poisson(np.exp(eta)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = GLMRegressor("poisson", C=0.01, l1_ratio=1.0).fit(X, y)
    assert model.certificate_.ok, model.certificate_.messages


def test_bad_options_are_one_line_value_errors(iris):
    X, y = iris
    for est, match in [(MaxEntClassifier(penalty="l3"), "penalty must be"),
                       (MaxEntClassifier(C=0.0), "C must be a positive number"),
                       (GLMRegressor(family="gamma"), "family must be"),
                       # a text is true: "no" was taken as True
                       (MaxEntClassifier(fit_intercept="no"), "fit_intercept must be True or"),
                       (GLMRegressor(certify="no"), "certify must be True or False")]:
        with pytest.raises(ValueError, match=match) as info:
            est.fit(X, y)
        assert "\n" not in str(info.value)


def test_the_default_certifies_with_the_checker_and_cvxpy_is_on_request(iris):
    X, y = iris
    auto = MaxEntClassifier(C=0.5, primal="auto").fit(X, y)
    projected = MaxEntClassifier(C=0.5).fit(X, y)
    assert auto.certificate_.primal_solver == "CLARABEL" and auto.certificate_.primal is not None
    cert = projected.certificate_
    assert cert.primal_solver == "projected" and cert.primal is None
    assert cert.ok, cert.messages
    # weak duality brackets the optimum: lower <= upper, the gap within the tolerance
    assert cert.lower_bound <= cert.upper_bound + cert.roundoff
    assert cert.upper_bound - cert.lower_bound <= cert.tol * max(1.0, abs(cert.upper_bound))
    np.testing.assert_array_equal(projected.coef_, auto.coef_)
    # the certificate's cost is reported, and it is the checker's own time
    assert 0 < cert.seconds < 10


@pytest.mark.parametrize("certify", [True, False])
def test_max_iter_caps_the_fit_and_warns_as_scikit_learn_does(certify):
    """``max_iter`` caps the dual solve with the certificate too (verify ran the dual with its
    own cap before), and a fit stopped by it warns with a ConvergenceWarning that scikit-learn's
    filters catch; the certificate then says it is not ok, its dual gradient above the
    tolerance."""
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 3))
    y = (X @ np.array([1.0, -1.0, 0.5]) + rng.standard_normal(500) > 0).astype(int)
    with pytest.warns(ConvergenceWarning, match="did not converge: reached 2 iterations") as got:
        model = MaxEntClassifier(max_iter=2, certify=certify).fit(X, y)
    assert model.n_iter_[0] == 2
    # said once, at the caller's line (not inside the library)
    said = [w for w in got if issubclass(w.category, ConvergenceWarning)]
    assert len(said) == 1 and said[0].filename == __file__
    if certify:
        assert not model.certificate_.ok and model.certificate_.dual_gradient > 1e-6
    full = MaxEntClassifier(certify=certify).fit(X, y)
    assert full.n_iter_[0] > 2 and (not certify or full.certificate_.ok)


def test_a_loose_fit_is_certified_at_its_own_tolerance():
    """``certify_tol`` follows a looser ``tol``: a fit asked for a relative gradient of 1e-4
    stops anywhere below it, and a certificate held to 1e-6 failed such fits with a
    CertificateWarning. The dual gradient is recomputed here from ``coef_`` and
    ``intercept_``: ``max |X~^T (y - p) - lambda (coef, 0)| / (1 + max |X~^T y|)``, with
    ``X~`` the design with its intercept column (the certificate's measure, the solver's)."""
    import warnings

    from dualmaxent import Dataset, verify
    from dualmaxent.estimators import CertificateWarning

    rng = np.random.default_rng(1)
    X = rng.standard_normal((20000, 8))
    y = (0.5 * X @ rng.standard_normal(8) + rng.standard_normal(20000) > 0).astype(int)
    Xa = np.c_[X, np.ones(len(X))]
    stopped = []
    for tol in (1e-3, 1e-4, 1e-5):
        with warnings.catch_warnings():
            warnings.simplefilter("error", CertificateWarning)
            model = MaxEntClassifier(tol=tol).fit(X, y)
        p = 1.0 / (1.0 + np.exp(-(X @ model.coef_[0] + model.intercept_[0])))
        g = Xa.T @ (y - p) - np.r_[model.coef_[0], 0.0]
        rel = np.abs(g).max() / (1.0 + np.abs(Xa.T @ y).max())
        cert = model.certificate_
        assert cert.tol == tol and cert.ok, cert.messages
        assert rel <= tol and cert.dual_gradient == pytest.approx(rel, rel=1e-6)
        stopped.append(rel)
    # the case this is for: a fit stopped above the former fixed 1e-6
    assert max(stopped) > 1e-6
    # a given certify_tol wins, and the default without a tol stays 1e-6
    strict = MaxEntClassifier(tol=1e-4, certify_tol=1e-12)
    with pytest.warns(CertificateWarning, match="exceeds the tolerance 1e-12"):
        strict.fit(X, y)
    assert strict.certificate_.tol == 1e-12 and not strict.certificate_.ok
    assert MaxEntClassifier().fit(X, y).certificate_.tol == 1e-6
    # the verifier clamps the same way (a few hundred rows: it solves the conic primal too)
    data = Dataset.from_arrays(X[:300], y[:300], family="bernoulli")
    assert verify(data, dual_tol=1e-3, l2=1.0).tol == 1e-3
    assert verify(data, dual_tol=1e-12, l2=1.0).tol == 1e-6



def test_a_fit_not_certified_at_its_loose_tol_says_what_tightens_it():
    """Near-separable data under a weak ridge: at ``tol=1e-2`` the dual stops where theta is
    proved only within hundreds of times the objective (relative gap far above 1e-2); the
    CertificateWarning names the tol and the relative gradient the dual met, and says that a
    smaller tol tightens it; at the default the fit is certified without a warning."""
    import warnings

    from dualmaxent.estimators import CertificateWarning

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 15)) * 10
    y = np.argmax(X @ (3 * rng.standard_normal((15, 3))) + rng.gumbel(size=(200, 3)), axis=1)
    with pytest.warns(CertificateWarning) as record:
        loose = MaxEntClassifier(C=100.0, tol=1e-2).fit(X, y)
    # (proved within the objective itself: the unpenalised point, the data's own here, where
    # the ridge's point was hundreds of times off)
    assert not loose.certificate_.ok and loose.certificate_.relative_gap > 10 * 1e-2
    text = " ".join(str(w.message) for w in record if w.category is CertificateWarning)
    assert (f"the dual met tol=0.01 at a relative gradient of {loose.dual_.kkt_residual:.1e}: "
            "a smaller tol tightens theta and its bracket") in text
    with warnings.catch_warnings():
        warnings.simplefilter("error", CertificateWarning)
        assert MaxEntClassifier(C=100.0).fit(X, y).certificate_.ok

@pytest.mark.parametrize("certify", [True, False])
def test_dependent_columns_warn_once_at_the_callers_line(certify):
    """A duplicated column is named in one RankDeficiencyWarning, with or without the
    certificate (verify silences the solve's warnings: the certificate notes them, and the
    README promises the warning), pointing at the caller's line; the fit is the one without
    the duplicate (the minimum-norm maximiser splits the coefficient between the copies)."""
    import warnings

    from dualmaxent.exceptions import RankDeficiencyWarning

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        model = MaxEntClassifier(C=np.inf, certify=certify).fit(np.c_[X, X[:, 0]], y)
    said = [w for w in got if issubclass(w.category, RankDeficiencyWarning)]
    assert len(said) == 1 and said[0].filename == __file__
    assert "rank 4 of 5" in str(said[0].message) and "x3 = x0" in str(said[0].message)
    plain = MaxEntClassifier(C=np.inf, certify=False).fit(X, y)
    np.testing.assert_allclose(model.coef_[0, [0, 3]], plain.coef_[0, 0] / 2, rtol=1e-6)
    np.testing.assert_allclose(model.coef_[0, 1:3], plain.coef_[0, 1:], rtol=1e-6, atol=1e-9)
    # a penalised fit picks its own theta among those the dependency allows (not the
    # minimum-norm one the warning speaks of): no warning, under L1 (whose certificate computes
    # the rank) as under L2, as solve_dual gives none
    for l1_ratio in (0.0, 1.0):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            MaxEntClassifier(C=1.0, l1_ratio=l1_ratio, certify=certify).fit(np.c_[X, X[:, 0]], y)
        assert not [w for w in got if issubclass(w.category, RankDeficiencyWarning)]


def test_a_fitted_estimator_pickles_without_its_training_data():
    """The dual result kept the objective (for standard errors), and with it the data set: a
    pickle 1.5 times the training X. Now it holds the coefficients and the certificate, whose
    evidence is its primal point (one number per row here, binary): at most ``8 n`` bytes and
    a little more, whatever the number of features. Predictions survive the round trip
    exactly, and standard errors computed before pickling are kept."""
    import pickle

    from dualmaxent import Dataset, solve_dual

    rng = np.random.default_rng(0)
    n, m = 20000, 20
    X = rng.normal(size=(n, m))
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    model = MaxEntClassifier().fit(X, y)
    blob = pickle.dumps(model)
    assert len(blob) <= 8 * n + 2**16 < X.nbytes / 4
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.predict_proba(X[:50]), model.predict_proba(X[:50]))
    assert again.certificate_.ok == model.certificate_.ok
    result = solve_dual(Dataset.from_arrays(X[:500], y[:500]))
    se = result.std_err
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(result)).std_err, se)
    fresh = pickle.loads(pickle.dumps(solve_dual(Dataset.from_arrays(X[:500], y[:500]))))
    assert fresh.std_err is None and "pickled" in fresh.std_err_note


def test_the_bernoulli_regressor_scores_against_the_indicator_of_its_larger_label():
    """The bernoulli regressor predicts the larger label's probability, so its R^2 is against
    that label's indicator: labels 3 and 7 score as 0 and 1 do (scikit-learn's r2_score of the
    indicator, recomputed here); against 3 and 7 themselves it was -4.4 on a good fit."""
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    hit = X[:, 0] + rng.normal(size=200) > 0
    coded = GLMRegressor("bernoulli").fit(X, hit.astype(int))
    labelled = GLMRegressor("bernoulli").fit(X, np.where(hit, 7, 3))
    np.testing.assert_array_equal(labelled.labels_, [3, 7])
    np.testing.assert_allclose(labelled.predict(X), coded.predict(X), rtol=1e-12)
    expected = r2_score(hit.astype(float), coded.predict(X))
    assert labelled.score(X, np.where(hit, 7, 3)) == pytest.approx(expected, rel=1e-12)
    assert coded.score(X, hit.astype(int)) == pytest.approx(expected, rel=1e-12)
    assert expected > 0 and GLMRegressor().fit(X, X[:, 1]).labels_ is None


def test_a_scale_warning_points_at_the_callers_line():
    """The features' scale warning of fit names the caller's line (it pointed inside the
    estimator), and says what suffers: float64's digits, not only CVXPY's primal."""
    import warnings

    from dualmaxent.exceptions import ScaleWarning

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)) * [1e8, 1.0, 1e-8]
    y = (X[:, 1] + rng.normal(size=60) > 0).astype(int)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        MaxEntClassifier(C=1.0).fit(X, y)
    said = [w for w in got if issubclass(w.category, ScaleWarning)]
    assert len(said) == 1 and said[0].filename == __file__
    assert "float64 loses digits" in str(said[0].message)


def test_bernoulli_regressor_labels_in_any_container_and_solver_warnings_at_the_users_line():
    """GLMRegressor(family='bernoulli') takes two labels: in a pandas Series or an object array
    they were converted to numbers by the validation ('could not convert string to float');
    and the solver's ScaleWarning of a certify=False fit named estimators.py, not the caller."""
    import inspect
    import warnings

    import pandas as pd

    from dualmaxent.exceptions import ScaleWarning

    rng = np.random.default_rng(13)
    X = rng.normal(size=(200, 2))
    labels = np.where(X[:, 0] + rng.normal(size=200) > 0, "yes", "no")
    ref = GLMRegressor(family="bernoulli").fit(X, labels)
    for y in (pd.Series(labels), labels.astype(object), list(labels)):
        got = GLMRegressor(family="bernoulli").fit(X, y)
        assert list(got.labels_) == ["no", "yes"]
        np.testing.assert_array_equal(got.coef_, ref.coef_)
    wide = X * np.array([1e6, 1e-6])
    y = (wide[:, 0] + rng.normal(size=200) > 0).astype(int)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1  # the fit's line, next
        GLMRegressor(family="poisson", certify=False).fit(wide, y)
    scale = [w for w in seen if issubclass(w.category, ScaleWarning)]
    assert len(scale) >= 2 and all(w.filename == __file__ and w.lineno == line for w in scale)


def test_a_regressors_C_without_l1_ratio_is_said_to_be_ignored():
    """``GLMRegressor`` is unpenalised unless ``l1_ratio`` is given, so ``C=1e-3`` alone fit
    exactly the unpenalised model, silently: a grid over ``C`` searched nothing. It now warns
    where it is set; with ``l1_ratio=0`` it is the ridge of strength ``1 / C``."""
    import warnings

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=80)
    with pytest.warns(UserWarning, match="used only with l1_ratio"):
        ignored = GLMRegressor(C=1e-3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        plain = GLMRegressor().fit(X, y)
        ridge = GLMRegressor(C=1e-3, l1_ratio=0.0).fit(X, y)
    np.testing.assert_array_equal(ignored.coef_, plain.coef_)
    assert np.linalg.norm(ridge.coef_) < 0.5 * np.linalg.norm(plain.coef_)
