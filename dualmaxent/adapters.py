"""Certify another library's fit: translate a fitted model into our problem and check it.

:func:`certify_model` hands a fitted model of scikit-learn, statsmodels or glum to the checker
:func:`dualmaxent.certify`: :func:`translate` turns the model into the data set, the theta and
the penalty of *the problem that model solved*, and the checker bounds how far that theta is
from that problem's optimum. Nothing here fits anything, and the user's model and arrays are
only read.

Conventions
-----------
* Our objective (:mod:`dualmaxent.families`, :mod:`dualmaxent.params`) is maximised:
  ``l(theta) - penalty(theta)`` with ``l = sum_j w_j [<Y_j, eta_j> - A(eta_j)]``, sums over
  observations in nats; ``l2=lam`` subtracts ``(lam / 2) ||theta_R||^2``, ``l1=lam``
  subtracts ``lam ||theta_R||_1`` and the elastic net ``lam (a ||theta_R||_1 + (1 - a)/2
  ||theta_R||^2)`` (``a`` its ``l1_ratio``), ``R`` every row but the intercept's (the last).
* Each library minimises its own objective. Every adapter below states, once, in the comment
  next to it, the affine map between that objective and ours (a positive factor and a constant
  that does not depend on theta), so the two have the same minimiser and the certificate's
  bound in nats is a bound on the library's objective after that factor. The tests check each
  map numerically against the library's own loss.
* statsmodels' designs are taken as they are (``model.exog``, the constant column included, as
  a plain column: ``intercept=False``); statsmodels' fits are unpenalised, so no row needs to
  be told apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import Dataset
from .exceptions import CountTargetWarning, DataError, DualMaxentError
from .params import Penalty

__all__ = ["certify_model", "translate", "read_coef_csv", "Problem", "SUPPORTED"]

#: What :func:`certify_model` accepts, for its error message.
SUPPORTED = ("scikit-learn LogisticRegression, LinearRegression, Ridge, Lasso, ElasticNet, "
             "PoissonRegressor; "
             "statsmodels results of Logit, MNLogit, Poisson, OLS, WLS and GLM (Binomial/logit, "
             "Poisson/log, Gaussian/identity); glum GeneralizedLinearRegressor (normal, poisson, "
             "binomial with the canonical link)")


@dataclass(frozen=True, eq=False)
class Problem:
    """A fitted model translated into our terms.

    Attributes
    ----------
    dataset : Dataset
        The model's data, with its family and intercept convention.
    theta : ndarray of shape (m, k) or (m,)
        The model's coefficients laid out like our theta (rows in ``dataset.feature_names``
        order, columns in ``dataset.classes`` order).
    penalty : Penalty
        The model's penalty in our units.
    source : str
        What was translated, e.g. ``"scikit-learn LogisticRegression (l2 = 1/C = 1)"``.
    """

    dataset: Dataset
    theta: np.ndarray
    penalty: Penalty
    source: str


def certify_model(model, X=None, y=None, sample_weight=None, tol: float = 1e-6):
    """Certify a fitted model against the problem it solved.

    Parameters
    ----------
    model : fitted estimator or statsmodels results
        See :data:`SUPPORTED`. For statsmodels give the *results* (``model.fit()``).
    X : array_like of shape (n, p), optional
        The training features. Required for scikit-learn and glum, which do not keep them;
        for statsmodels results optional (the results' own ``model.exog`` is used; a given
        ``X``, with or without the constant column, must equal it).
    y : array_like of shape (n,), optional
        The training response, required and optional as ``X``.
    sample_weight : array_like of shape (n,), optional
        The weights the model was fitted with (scikit-learn, glum). statsmodels results carry
        their own (``freq_weights`` and ``var_weights`` of a GLM, ``weights`` of a WLS).
    tol : float, default 1e-6
        The tolerance of the certificate (:func:`dualmaxent.certify`).

    Returns
    -------
    Certificate
        :func:`dualmaxent.certify` at the model's theta: ``upper_bound`` is minus our objective
        at that theta, ``within`` a guaranteed bound in nats on its distance from the optimum.

    Raises
    ------
    DualMaxentError
        One line: the model is of an unsupported kind or setting (the message lists what is
        supported), unfitted, or its data do not match it.
    """
    from .certify import certify  # the checker; imported here to keep this module light

    problem = translate(model, X, y, sample_weight)
    return certify(problem.dataset, problem.theta, penalty=problem.penalty, tol=tol,
                   source=problem.source)


def translate(model, X=None, y=None, sample_weight=None) -> Problem:
    """The data set, theta and penalty of the problem a fitted model solved.

    The arguments are those of :func:`certify_model`; nothing is certified here.
    """
    root = type(model).__module__.split(".")[0]
    adapter = _LIBRARIES.get(root)
    if adapter is None:
        raise DualMaxentError(f"cannot certify a {type(model).__name__}; supported: {SUPPORTED}")
    return adapter(model, X, y, sample_weight)


# -- helpers ---------------------------------------------------------------------------------

def _unsupported(model, why: str = "") -> DualMaxentError:
    reason = f" ({why})" if why else ""
    name = type(model).__name__
    return DualMaxentError(f"cannot certify {'an' if name[:1] in 'AEIOU' else 'a'} {name}"
                           f"{reason}; supported: {SUPPORTED}")


def _unfitted(model, what: str = "call fit first") -> DualMaxentError:
    return DualMaxentError(f"the {type(model).__name__} is not fitted: {what} (supported: "
                           f"{SUPPORTED})")


def _dense(X, what: str = "X") -> np.ndarray:
    """``X`` as a float64 array (a copy only when needed: :class:`Dataset` copies anyway)."""
    try:
        import scipy.sparse

        if scipy.sparse.issparse(X):
            X = X.toarray()
    except ImportError:  # pragma: no cover - scipy is a dependency
        pass
    try:
        a = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be numeric{_non_numeric_columns(X)}") from None
    return a[:, None] if a.ndim == 1 else a


def _non_numeric_columns(X) -> str:
    """``: column 'g' holds category values; ...`` for a DataFrame's columns that are not
    numbers (a model that expands them itself, as glum does a categorical column, multiplies
    its coefficients into a design of indicator columns, which certify_model needs), else ''."""
    dtypes = getattr(X, "dtypes", None)
    columns = getattr(X, "columns", None)
    if dtypes is None or columns is None:
        return ""
    try:
        bad = [(str(c), str(t)) for c, t in zip(columns, list(dtypes))
               if getattr(t, "kind", "O") not in "biuf"]
    except TypeError:
        return ""
    if not bad:
        return ""
    said = ", ".join(f"{c!r} ({t})" for c, t in bad[:3]) + (" ..." if len(bad) > 3 else "")
    return (f"; not numbers: {said}. Pass the numeric design the model's coefficients multiply "
            "(a categorical column as its indicator columns)")


def _need_data(model, X, y):
    if X is None or y is None:
        raise DualMaxentError(f"certifying a {type(model).__name__} needs the X and y it was "
                              "fitted on (the model does not keep them)")


def _check_width(model, X: np.ndarray, width: int):
    if X.ndim != 2 or X.shape[1] != width:
        raise DataError(f"X has {X.shape[1] if X.ndim == 2 else X.ndim} columns but the "
                        f"{type(model).__name__} has {width} coefficients")


def _feature_names(model, X, p: int) -> list[str]:
    """The model's own feature names when it has them (a DataFrame fit), else x1..xp; a
    DataFrame ``X`` whose columns differ from them is an error."""
    names = getattr(model, "feature_names_in_", None)
    columns = getattr(X, "columns", None)
    if names is not None and columns is not None and [str(c) for c in columns] != \
            [str(c) for c in names]:
        raise DataError(f"X's columns differ from the features the {type(model).__name__} was "
                        "fitted on")
    if names is not None:
        return [str(c) for c in names]
    return [f"x{i + 1}" for i in range(p)]


def _weights_sum(sample_weight, n: int) -> float:
    return float(n) if sample_weight is None else float(np.sum(np.asarray(sample_weight,
                                                                          dtype=np.float64)))


def _penalty(kind: str, lam: float, l1_ratio: float | None = None) -> Penalty:
    """A penalty of strength ``lam`` (none when it is zero or the kind is none); ``l1_ratio``
    for the elastic net."""
    if kind == "none" or lam == 0:
        return Penalty()
    return Penalty(kind, float(lam), float(l1_ratio) if kind == "elasticnet" else None)


def _dataset(model, X, y, family, *, intercept, weights=None, feature_names=None,
             name=None) -> Dataset:
    import warnings

    try:
        with warnings.catch_warnings():
            # the model was fitted as a classifier: its target is labels, however many levels
            warnings.simplefilter("ignore", CountTargetWarning)
            return Dataset.from_arrays(X, y, feature_names=feature_names, intercept=intercept,
                                       weights=weights, family=family,
                                       name=name or type(model).__name__)
    except DataError as exc:
        raise DataError(f"the data of the {type(model).__name__}: {exc}") from None


def _check_classes(model, dataset: Dataset, classes):
    """The classes present in ``y`` must be the model's (same labels, same order)."""
    ours = [c.item() if isinstance(c, np.generic) else c for c in dataset.classes]
    theirs = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if ours != theirs:
        raise DataError(f"y has the classes {ours} but the {type(model).__name__} has {theirs}")


# -- scikit-learn ----------------------------------------------------------------------------

def _sklearn(model, X, y, sample_weight) -> Problem:
    import sklearn.linear_model as lm

    adapters = {lm.LogisticRegression: _sk_logistic, lm.LinearRegression: _sk_least_squares,
                lm.Ridge: _sk_least_squares, lm.Lasso: _sk_least_squares,
                lm.ElasticNet: _sk_least_squares, lm.PoissonRegressor: _sk_poisson}
    adapter = adapters.get(type(model))  # the exact class: a subclass may solve another problem
    if adapter is None:
        raise _unsupported(model)
    if not hasattr(model, "coef_"):
        raise _unfitted(model)
    _need_data(model, X, y)
    return adapter(model, X, y, sample_weight)


def _sk_logistic_penalty(model) -> tuple[str, float]:
    """The (kind, C) of a LogisticRegression, resolved as its fit resolves them: ``penalty=``
    (deprecated in scikit-learn 1.8) wins when given, else ``l1_ratio`` 0 / 1 / between (the
    elastic net), and ``C = inf`` means no penalty."""
    C = float(model.C)
    given = getattr(model, "penalty", "deprecated")
    l1_ratio = getattr(model, "l1_ratio", None)
    if given == "deprecated":
        kind = {0: "l2", 1: "l1"}.get(l1_ratio if l1_ratio is not None else 0, "elasticnet")
    elif given is None or given == "none":
        kind = "none"
    elif given == "elasticnet":
        kind = {0: "l2", 1: "l1"}.get(l1_ratio, "elasticnet")
    else:
        kind = str(given)
    if kind == "elasticnet" and not (l1_ratio is not None and 0 < float(l1_ratio) < 1):
        raise _unsupported(model, f"elastic-net penalty without an l1_ratio in [0, 1]: "
                                  f"l1_ratio={l1_ratio}")
    if not np.isfinite(C):
        kind = "none"
    return kind, C


def _sk_logistic(model, X, y, sample_weight) -> Problem:
    # scikit-learn's LogisticRegression minimises (its _logistic_regression_path; every solver,
    # the loss averaged with weights sum(s) and the penalty scaled by 1 / (C sum(s)) for lbfgs,
    # newton-cg and newton-cholesky, by 1 / n for sag/saga, which is the same objective)
    #     C sum_i s_i loss_i(w, b) + (1/2) ||w||^2       (L2)   or   + ||w||_1   (L1),
    #     or + (1 - a)/2 ||w||^2 + a ||w||_1 (elastic net, a = l1_ratio, saga alone: its sag
    #     solver's alpha = (1 - a)/C and beta = a/C on the loss averaged over n, times n C),
    # loss_i = -log p(y_i) (binary: p = sigmoid of the log-odds of classes_[1], coef_ (1, p);
    # three classes or more: the symmetric multinomial, coef_ (k, p), every column penalised),
    # s_i = sample_weight_i * class_weight[y_i], the intercept b unpenalised. Divided by C this
    # is -(l - (1/(2C)) ||w||^2): l2 = 1/C (l1 = 1/C; the elastic net lam = 1/C with the same
    # l1_ratio, lam (a ||w||_1 + (1 - a)/2 ||w||^2)), the binary model in the bernoulli
    # family (its objective is literally ours; the categorical family would need lam = 2/C on
    # the split theta = (-w/2, w/2)), multinomial in the categorical one.
    # liblinear penalises the intercept too: it appends a constant feature intercept_scaling
    # whose weight is intercept_ / intercept_scaling; so do we, as a plain penalised column.
    # C = inf (or penalty=None) is the unpenalised likelihood.
    kind, C = _sk_logistic_penalty(model)
    Xa = _dense(X)
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64).reshape(-1)
    _check_width(model, Xa, coef.shape[1])
    names = _feature_names(model, X, coef.shape[1])
    classes = list(model.classes_)
    weights = _sk_weights(model, y, sample_weight)
    penalty = _penalty(kind, 1.0 / C, getattr(model, "l1_ratio", None))
    binary = len(classes) == 2
    family = "bernoulli" if binary else "categorical"
    if model.solver == "liblinear" and model.fit_intercept:
        scaling = float(model.intercept_scaling)
        Xa = np.column_stack([Xa, np.full(Xa.shape[0], scaling)])
        names = names + ["intercept_scaling"]
        intercept = intercept / scaling
        use_intercept = False
        note = f"liblinear: the intercept penalised as a column of {scaling:g}"
    else:
        use_intercept = bool(model.fit_intercept)
        note = ""
    dataset = _dataset(model, Xa, y, family, intercept=use_intercept, weights=weights,
                       feature_names=names)
    _check_classes(model, dataset, classes)
    rows = coef.T if not binary else coef[0]
    if model.fit_intercept:
        theta = np.concatenate([rows, intercept[None, :] if not binary else intercept[:1]])
    else:
        theta = rows.copy()
    what = "no penalty" if not penalty.active else f"{kind} = 1/C = {1.0 / C:g}"
    if penalty.kind == "elasticnet":
        what += f", l1_ratio = {penalty.l1_ratio:g}"
    return Problem(dataset, theta, penalty, f"scikit-learn LogisticRegression ({what}"
                   f"{'; ' + note if note else ''})")


def _sk_weights(model, y, sample_weight):
    """``sample_weight`` times the class weights, computed by scikit-learn's own function from
    the same arguments its fit passes (the weights default to ones)."""
    class_weight = getattr(model, "class_weight", None)
    if class_weight is None:
        return sample_weight
    from sklearn.utils.class_weight import compute_class_weight

    ya = np.asarray(y)
    sw = (np.ones(ya.shape[0]) if sample_weight is None
          else np.array(sample_weight, dtype=np.float64, copy=True))
    classes = np.asarray(model.classes_)
    index = np.clip(np.searchsorted(classes, ya), 0, classes.size - 1)
    if not np.array_equal(classes[index], ya):
        raise DataError(f"y has labels outside the {type(model).__name__}'s classes "
                        f"{classes.tolist()}")
    per_class = compute_class_weight(class_weight, classes=classes, y=ya, sample_weight=sw)
    return sw * per_class[index]


def _sk_least_squares(model, X, y, sample_weight) -> Problem:
    # LinearRegression minimises sum_i s_i (y_i - x_i w - b)^2, Ridge the same plus
    # alpha ||w||^2 (the intercept unpenalised; no normalisation by n or sum(s), whatever the
    # solver). The unit-variance gaussian l = sum_i s_i [y_i eta_i - eta_i^2 / 2]
    # = -(1/2) sum_i s_i (y_i - eta_i)^2 + (1/2) sum_i s_i y_i^2, so half the library's
    # objective is -(l - (alpha/2) ||w||^2) + const: l2 = alpha, no penalty for LinearRegression.
    # Lasso and ElasticNet (sklearn/linear_model/_coordinate_descent.py) minimise
    #     1/(2 sum(s)) sum_i s_i (y_i - x_i w - b)^2 + alpha r ||w||_1 + alpha (1 - r)/2 ||w||^2
    # (r = l1_ratio, 1 for Lasso; the weights rescaled to sum to n, the same objective), which
    # times sum(s) is -(l - lam (r ||w||_1 + (1 - r)/2 ||w||^2)) + const: the elastic net with
    # lam = alpha sum(s) (n without weights) and our l1_ratio = r (L1 at r = 1, L2 at r = 0).
    if getattr(model, "positive", False):
        raise _unsupported(model, "positive=True constrains the coefficients")
    coef = np.asarray(model.coef_, dtype=np.float64)
    if coef.ndim == 2 and coef.shape[0] != 1:
        raise _unsupported(model, f"{coef.shape[0]} targets: one target is")
    coef = coef.reshape(-1)
    alpha = np.asarray(getattr(model, "alpha", 0.0), dtype=np.float64)
    if alpha.size != 1:
        raise _unsupported(model, "one alpha per target")
    alpha = float(alpha.item())  # (a one-entry array, as scikit-learn allows, too)
    Xa = _dense(X)
    _check_width(model, Xa, coef.size)
    names = _feature_names(model, X, coef.size)
    dataset = _dataset(model, Xa, _dense(y, "y").reshape(-1) if np.ndim(y) == 2 else y,
                       "gaussian", intercept=bool(model.fit_intercept), weights=sample_weight,
                       feature_names=names)
    theta = coef.copy()
    if model.fit_intercept:
        theta = np.append(theta, float(np.asarray(model.intercept_).reshape(-1)[0]))
    import sklearn.linear_model as lm

    if isinstance(model, (lm.Lasso, lm.ElasticNet)):  # (Lasso is an ElasticNet: r = 1)
        r = float(model.l1_ratio)
        lam = alpha * _weights_sum(sample_weight, Xa.shape[0])
        kind = {0.0: "l2", 1.0: "l1"}.get(r, "elasticnet")
        penalty = _penalty(kind, lam, r)
        what = ("no penalty" if not penalty.active else f"{kind} = alpha sum(w) = {lam:g}"
                + (f", l1_ratio = {r:g}" if kind == "elasticnet" else ""))
    else:
        penalty = _penalty("l2", alpha)
        what = "no penalty" if not penalty.active else f"l2 = alpha = {alpha:g}"
    return Problem(dataset, theta, penalty, f"scikit-learn {type(model).__name__} ({what})")


def _sk_poisson(model, X, y, sample_weight) -> Problem:
    # PoissonRegressor minimises (sklearn/linear_model/_glm/glm.py)
    #     1/(2 sum(s)) sum_i s_i deviance_i + (alpha/2) ||w||^2,
    # deviance_i / 2 = y_i log(y_i / mu_i) - y_i + mu_i = -(y_i eta_i - e^eta_i) + c(y_i), the
    # intercept unpenalised. Times sum(s) (n without weights): -(l - (alpha sum(s) / 2) ||w||^2)
    # + const, so l2 = alpha * sum(s).
    coef = np.asarray(model.coef_, dtype=np.float64).reshape(-1)
    Xa = _dense(X)
    _check_width(model, Xa, coef.size)
    lam = float(model.alpha) * _weights_sum(sample_weight, Xa.shape[0])
    dataset = _dataset(model, Xa, y, "poisson", intercept=bool(model.fit_intercept),
                       weights=sample_weight, feature_names=_feature_names(model, X, coef.size))
    theta = np.append(coef, float(model.intercept_)) if model.fit_intercept else coef.copy()
    penalty = _penalty("l2", lam)
    what = "no penalty" if not penalty.active else f"l2 = alpha sum(w) = {lam:g}"
    return Problem(dataset, theta, penalty, f"scikit-learn PoissonRegressor ({what})")


# -- statsmodels -----------------------------------------------------------------------------

def _statsmodels(results, X, y, sample_weight) -> Problem:
    # statsmodels' unpenalised fits maximise their own log-likelihood llf:
    #   Logit:   sum_i [y_i eta_i - log(1 + e^eta_i)] = l (bernoulli), exactly;
    #   MNLogit: sum_i log softmax(X theta)_{i, y_i} = l (categorical) with theta's column of
    #            the first class (statsmodels' reference) zero and params in the others;
    #   Poisson: l - sum_i log(y_i!) (poisson);
    #   OLS/WLS: the profiled gaussian likelihood, a decreasing function of
    #            RSS = sum_i w_i (y_i - eta_i)^2 = sum_i w_i y_i^2 - 2 l: same maximiser as l
    #            (gaussian, unit variance);
    #   GLM with the canonical link: sum_i f_i v_i / scale [y_i eta_i - A(eta_i)] + c(y): l with
    #            w = freq_weights * var_weights (scale 1 for Binomial and Poisson; the gaussian
    #            scale only divides the objective).
    # The design is model.exog as it is, the constant column a plain column (intercept=False).
    import statsmodels.api as sm
    from statsmodels.discrete import discrete_model as dm

    from statsmodels.base.model import Model

    if isinstance(results, Model):
        raise _unfitted(results, "pass its results, model.fit()")
    model = getattr(results, "model", None)
    if model is None or not hasattr(results, "params"):
        raise _unsupported(results)
    inner = getattr(results, "_results", results)
    if type(inner).__name__.startswith(("L1", "Regularized")):
        raise DualMaxentError(f"cannot certify a penalised statsmodels fit "
                              f"({type(inner).__name__}, from fit_regularized): only unpenalised "
                              "fits (model.fit()) are supported")
    if getattr(inner, "constraints", None) is not None:
        raise DualMaxentError("cannot certify a constrained statsmodels fit (from "
                              "fit_constrained): only unconstrained fits (model.fit()) are "
                              "supported")
    if sample_weight is not None:
        raise DualMaxentError("statsmodels results carry their own weights: call "
                              "certify_model without sample_weight")
    if getattr(model, "exog", None) is None or getattr(model, "endog", None) is None:
        raise DataError("the statsmodels results hold no data (results.remove_data() or "
                        "save(remove_data=True) dropped model.exog and model.endog, and with "
                        "them any weights): certify the results of a fit that keeps its data")
    exog = np.asarray(model.exog, dtype=np.float64)
    endog = np.asarray(model.endog)
    names = [str(c) for c in (getattr(model, "exog_names", None) or [])] or None
    kind = type(model)
    label = f"statsmodels {kind.__name__}"
    weights = None
    if kind in (dm.Logit, dm.MNLogit):  # (their offset enters eta: not a design of ours)
        _no_offset(model)
    if kind is dm.Logit:
        family = "bernoulli"
        if not np.all((endog == 0) | (endog == 1)):
            raise DataError("the Logit's endog must be 0 or 1 (a fractional response is not "
                            "a bernoulli likelihood)")
    elif kind is dm.MNLogit:
        family = "categorical"
    elif kind is dm.Poisson:
        family = "poisson"
        _no_offset(model)
    elif kind is sm.OLS:
        family = "gaussian"
    elif kind is sm.WLS:
        family = "gaussian"
        weights = np.broadcast_to(np.asarray(model.weights, dtype=np.float64), endog.shape)
    elif kind is sm.GLM:
        family = _glm_family(model)
        _no_offset(model)
        weights = (np.asarray(model.freq_weights, dtype=np.float64)
                   * np.asarray(model.var_weights, dtype=np.float64))
        label += f" ({type(model.family).__name__}/{type(model.family.link).__name__})"
    else:
        raise _unsupported(results)
    _check_own_data(model, exog, endog, X, y)
    params = np.asarray(results.params, dtype=np.float64)
    if kind is dm.MNLogit:
        # codes 0..J-1 in wendog's column order, the first level the reference (pinned at 0)
        codes = np.argmax(np.asarray(model.wendog), axis=1)
        dataset = _sm_dataset(model, exog, codes, family, weights, names)
        if list(dataset.classes) != list(range(params.shape[1] + 1)):
            raise DataError(f"the MNLogit's endog has {len(dataset.classes)} levels present but "
                            f"{params.shape[1] + 1} in its params")
        theta = np.column_stack([np.zeros(exog.shape[1]), params])
    else:
        response = endog.astype(np.float64) if family != "categorical" else endog
        dataset = _sm_dataset(model, exog, response, family, weights, names)
        theta = params.reshape(-1).copy()
    return Problem(dataset, theta, Penalty(), f"{label} (no penalty)")


def _sm_dataset(model, exog, endog, family, weights, names):
    if names is not None and len(set(names)) != len(names):
        names = None
    return _dataset(model, exog, endog, family, intercept=False, weights=weights,
                    feature_names=names)


def _glm_family(model) -> str:
    import statsmodels.api as sm

    fam, link = model.family, model.family.link
    canonical = {sm.families.Binomial: ("bernoulli", sm.families.links.Logit),
                 sm.families.Poisson: ("poisson", sm.families.links.Log),
                 sm.families.Gaussian: ("gaussian", sm.families.links.Identity)}
    ours, want = canonical.get(type(fam), (None, None))
    if ours is None or type(link) is not want:
        raise _unsupported(model, f"GLM {type(fam).__name__} with the {type(link).__name__} "
                                  "link is not a canonical family of ours")
    if ours == "bernoulli":
        endog = np.asarray(model.endog)
        if endog.ndim != 1 or not np.all((endog == 0) | (endog == 1)):
            raise DataError("the GLM Binomial's endog must be one column of 0 or 1 (proportions"
                            " and success/failure counts are not supported)")
    return ours


def _no_offset(model):
    for name in ("offset", "exposure"):
        if getattr(model, name, None) is not None:
            raise _unsupported(model, f"the model has an {name}, which our data sets do not")


def _check_own_data(model, exog, endog, X, y):
    """A given X and y must be the results' own data (X with or without its constant)."""
    if X is not None:
        Xa = _dense(X)
        same = Xa.shape == exog.shape and np.array_equal(Xa, exog)
        const = getattr(getattr(model, "data", None), "const_idx", None)
        if not same and const is not None and Xa.shape == (exog.shape[0], exog.shape[1] - 1):
            same = np.array_equal(Xa, np.delete(exog, int(const), axis=1))
        if not same:
            raise DataError("X differs from the results' design model.exog; omit X (and y) to "
                            "certify the results on their own data")
    if y is not None:
        ya = np.asarray(y)
        if np.asarray(model.endog).ndim == 1 and ya.shape == endog.shape and \
                ya.dtype.kind in "biuf" and np.array_equal(ya.astype(np.float64),
                                                           endog.astype(np.float64)):
            return
        codes = (np.argmax(np.asarray(model.wendog), axis=1) if hasattr(model, "wendog")
                 else None)
        if codes is not None and ya.shape == codes.shape and _same_partition(ya, codes):
            return
        raise DataError("y differs from the results' model.endog; omit y (and X) to certify "
                        "the results on their own data")


def _same_partition(labels, codes) -> bool:
    """Whether ``labels`` and ``codes`` name the same classes one to one."""
    pairs = set(zip(labels.tolist(), codes.tolist()))
    return len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


# -- glum ------------------------------------------------------------------------------------

def _glum(model, X, y, sample_weight) -> Problem:
    # glum's GeneralizedLinearRegressor minimises (its docstring, _glm.py)
    #     1/(2 sum(s)) sum_i s_i deviance_i + alpha l1_ratio ||P1 w||_1
    #         + (alpha (1 - l1_ratio) / 2) w' P2 w,
    # deviance_i / 2 = -[y_i eta_i - A(eta_i)] + c(y_i) for normal (unit variance), poisson and
    # binomial with their canonical links, the intercept unpenalised. With P1 = P2 = identity,
    # times sum(s) (n without weights): -(l - penalty) + const with l2 = alpha sum(s)
    # (l1_ratio = 0), l1 = alpha sum(s) (l1_ratio = 1), or between them the elastic net of
    # lam = alpha sum(s) and the same l1_ratio. alpha=None means 0; with
    # alpha_search coef_ is the fit at the path's last alpha.
    import glum

    if type(model) is not glum.GeneralizedLinearRegressor:
        raise _unsupported(model)
    if not hasattr(model, "coef_"):
        raise _unfitted(model)
    _need_data(model, X, y)
    fam = glum.get_family(model.family)
    link = glum.get_link(model.link, fam)
    power = getattr(fam, "power", None)
    if isinstance(fam, glum.NormalDistribution) or (isinstance(fam, glum.TweedieDistribution)
                                                     and power == 0):
        family, want = "gaussian", glum.IdentityLink
    elif isinstance(fam, glum.PoissonDistribution) or (isinstance(fam, glum.TweedieDistribution)
                                                        and power == 1):
        family, want = "poisson", glum.LogLink
    elif isinstance(fam, glum.BinomialDistribution):
        family, want = "bernoulli", glum.LogitLink
    else:
        raise _unsupported(model, f"family {type(fam).__name__}")
    if type(link) is not want:
        raise _unsupported(model, f"the {type(link).__name__} is not the canonical link of "
                                  f"{type(fam).__name__}")
    for name in ("lower_bounds", "upper_bounds", "A_ineq", "monotonic_constraints", "formula"):
        if getattr(model, name, None) is not None:
            raise _unsupported(model, f"{name} is set")
    if getattr(model, "alpha_search", False):
        path = getattr(model, "_alphas", None)  # glum keeps the path's alphas privately
        if path is None:
            raise _unsupported(model, "alpha_search=True without its path of alphas")
        alpha = float(np.asarray(path, dtype=np.float64).reshape(-1)[-1])  # coef_ is the last
    else:
        alpha = float(model.alpha or 0.0)
    l1_ratio = float(model.l1_ratio or 0.0)
    coef = np.asarray(model.coef_, dtype=np.float64).reshape(-1)
    Xa = _dense(X)
    _check_width(model, Xa, coef.size)
    kind = "none"
    if alpha > 0:
        if not 0.0 <= l1_ratio <= 1.0:
            raise _unsupported(model, f"elastic-net penalty, l1_ratio={l1_ratio:g}: l1_ratio in "
                                      "[0, 1] is")
        kind = {0.0: "l2", 1.0: "l1"}.get(l1_ratio, "elasticnet")
        for name in (("P2",) if kind == "l2" else ("P1",) if kind == "l1" else ("P1", "P2")):
            P = getattr(model, name)
            if not (P is None or (isinstance(P, str) and P == "identity")
                    or (np.ndim(P) == 1 and np.all(np.asarray(P) == 1))):
                raise _unsupported(model, f"a custom {name} penalty")
        if model.scale_predictors:
            raise _unsupported(model, "scale_predictors=True penalises the scaled coefficients")
    lam = alpha * _weights_sum(sample_weight, Xa.shape[0])
    if family == "bernoulli":
        ya = np.asarray(y, dtype=np.float64)
        if not np.all((ya == 0) | (ya == 1)):
            raise DataError("the binomial GeneralizedLinearRegressor's y must be 0 or 1 "
                            "(proportions are not a bernoulli likelihood)")
        y = ya
    dataset = _dataset(model, Xa, y, family, intercept=bool(model.fit_intercept),
                       weights=sample_weight, feature_names=_glum_names(model, coef.size))
    if family == "bernoulli":
        _check_classes(model, dataset, [0.0, 1.0])
    theta = np.append(coef, float(model.intercept_)) if model.fit_intercept else coef.copy()
    penalty = _penalty(kind, lam, l1_ratio)
    what = "no penalty" if not penalty.active else f"{kind} = alpha sum(w) = {lam:g}"
    if penalty.kind == "elasticnet":
        what += f", l1_ratio = {l1_ratio:g}"
    return Problem(dataset, theta, penalty, f"glum GeneralizedLinearRegressor ({family}; {what})")


def _glum_names(model, p: int):
    names = [str(c) for c in (getattr(model, "feature_names_", None) or [])]
    if len(names) == p and len(set(names)) == p:
        return names
    return None


# -- a table of coefficients (the CLI's certify --coef) ----------------------------------------

def read_coef_csv(path, dataset: Dataset) -> np.ndarray:
    """Theta from a CSV table of coefficients, checked against ``dataset``.

    One row per feature, the first column its name (every name of ``dataset.feature_names``,
    ``intercept`` included when the data set has one, in any order); one column per class with
    the class labels as header (in any order) for the categorical family, a single column for
    the one-parameter families (for the bernoulli family the log-odds of the second class; a
    column labelled with the first class is refused rather than guessed at).

    Returns
    -------
    ndarray of shape (m, k) or (m,)

    Raises
    ------
    DataError
        One line naming the file and the problem: empty, ragged or non-numeric, unknown,
        missing or repeated feature names, or the wrong classes.
    """
    import csv

    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [(i, r) for i, r in enumerate(csv.reader(fh), start=1)
                if any(cell.strip() for cell in r)]
    if not rows:
        raise DataError(f"{path} is empty")
    header = [cell.strip() for cell in rows[0][1]]
    labels, body = header[1:], rows[1:]
    if not labels or not body:
        raise DataError(f"{path}: needs a header (names, then one column per class) and one row"
                        " per feature")
    names, values = [], []
    for line, row in body:
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} fields; the header has "
                            f"{len(header)}")
        name = row[0].strip()
        try:
            numbers = [float(cell) for cell in row[1:]]
        except ValueError:
            bad = next(c for c in row[1:] if not _is_number(c))
            raise DataError(f"{path}: line {line}: {bad.strip()!r} is not a number") from None
        if not np.all(np.isfinite(numbers)):
            raise DataError(f"{path}: line {line}: the coefficients must be finite")
        if name in names:
            raise DataError(f"{path}: feature {name!r} appears twice")
        names.append(name)
        values.append(numbers)
    wanted = list(dataset.feature_names)
    unknown = [n for n in names if n not in wanted]
    if unknown:
        raise DataError(f"{path}: unknown feature names {', '.join(map(repr, unknown))}; the "
                        f"data's features are {', '.join(wanted)}")
    missing = [n for n in wanted if n not in names]
    if missing:
        hint = (" (pass --no-intercept for a model without one)"
                if dataset.intercept and missing == wanted[-1:] else "")
        raise DataError(f"{path}: no row for {', '.join(map(repr, missing))}{hint}")
    table = np.array(values, dtype=np.float64)[[names.index(n) for n in wanted]]
    family = dataset.family
    if not family.multiclass:
        if len(labels) != 1:
            raise DataError(f"{path}: has {len(labels)} coefficient columns; the {family.name} "
                            "family takes one")
        if family.is_probability and _same_label(labels[0], dataset.classes[0]) \
                and not _same_label(labels[0], dataset.classes[1]):
            raise DataError(f"{path}: the bernoulli coefficients are the log-odds of the second "
                            f"class {dataset.classes[1]!r}; the column is labelled with the "
                            f"first, {labels[0]!r}")
        return table[:, 0].copy()
    classes = list(dataset.classes)
    if len(labels) != len(classes):
        raise DataError(f"{path}: has {len(labels)} class columns but the data have "
                        f"{len(classes)} classes ({', '.join(map(str, classes))})")
    order = []
    for c in classes:
        match = [j for j, lab in enumerate(labels) if _same_label(lab, c)]
        if len(match) != 1:
            raise DataError(f"{path}: the header has {'no' if not match else 'more than one'} "
                            f"column for the class {c!r} (its labels: {', '.join(labels)})")
        order.append(match[0])
    return table[:, order]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _same_label(text: str, label) -> bool:
    """Whether a header cell names ``label`` (as text, or as the same number)."""
    if text == str(label):
        return True
    try:
        return float(text) == float(label)
    except (TypeError, ValueError):
        return False


#: The library of a model's class (the first part of its module) -> its translator.
_LIBRARIES = {"sklearn": _sklearn, "statsmodels": _statsmodels, "glum": _glum}
