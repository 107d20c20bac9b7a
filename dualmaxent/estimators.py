"""scikit-learn estimators: a certified maximum-entropy classifier and GLM regressor.

:class:`MaxEntClassifier` and :class:`GLMRegressor` wrap :meth:`Dataset.from_arrays`,
:func:`dualmaxent.solve_dual` and :func:`dualmaxent.verify` behind scikit-learn's estimator API,
so that a certified fit sits in a ``Pipeline``, ``GridSearchCV`` or ``cross_val_score``.

Conventions
-----------
* ``C`` and ``l1_ratio`` mean what they mean in scikit-learn's ``LogisticRegression`` (>= 1.8):
  the fit minimises ``C * sum_j w_j loss_j + penalty(coef)`` with ``penalty = a ||coef||_1 +
  (1 - a) / 2 ||coef||^2``, ``a = l1_ratio`` (0: L2, 1: L1, between: the elastic net), the
  intercept unpenalised; ``C = np.inf`` is no penalty. Our dual maximises ``l(theta) - lam (a
  ||theta_R||_1 + (1 - a) / 2 ||theta_R||^2)`` with ``l`` the *sum* of the log-likelihoods
  (:mod:`dualmaxent.dual`, :class:`dualmaxent.params.Penalty`). Dividing scikit-learn's
  objective by ``C`` gives ours, so ``lam = 1 / C`` for every ``a``: the 1/2 of the L2 part is in
  both objectives, and neither has one for the L1 part.
* ``l1_ratio=None`` (the default) is the estimator's historical penalty: L2 for
  :class:`MaxEntClassifier`, none for :class:`GLMRegressor`. ``penalty=`` (``"l2"``, ``"l1"``,
  ``"elasticnet"`` with ``l1_ratio``, or None) is still accepted and gives scikit-learn's
  ``FutureWarning`` (:data:`PENALTY_DEPRECATION`); a ``penalty`` that contradicts ``l1_ratio``
  is a ``ValueError``.
* Binary labels use the Bernoulli family (one theta vector, ``coef_`` of shape (1, p)), so that
  the penalty is on the one vector of log-odds, as in scikit-learn. (The categorical family with
  two classes would penalise two symmetric columns ``+-theta/2`` and halve the penalty.)
* Multiclass (k > 2): the categorical family. Its penalised rows are free in all ``k`` columns,
  so ``coef_`` of shape (k, p) is scikit-learn's symmetric multinomial solution (each column of
  ``coef_`` sums to zero at the optimum). The unpenalised intercept row is pinned: the last
  class's intercept is 0, where scikit-learn's intercepts sum to zero; the two differ by one
  constant added to every class, which leaves every probability unchanged. Unpenalised, every
  row is pinned that way (``coef_[-1] == 0``).
* ``X`` gets the intercept as its last column (:mod:`dualmaxent.data`); ``coef_`` and
  ``intercept_`` are its rows in scikit-learn's layout.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import assert_all_finite, check_is_fitted

from . import _numerics as nx
from . import exceptions
from .data import Dataset, GeneratedNames
from .dual import rank_deficiency_message, solve_dual, warn_unconverged
from .exceptions import DataError, DualMaxentError, DualMaxentWarning, SeparationWarning
from ._kernels import linear_predictor
from .families import get_family
from .params import Penalty, make_penalty
from .verify import verify

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
    _SKIP_CHECK_ARRAY = True  # plain arrays are checked and booked here (_plain_books)
except ImportError:  # pragma: no cover - older scikit-learn
    _SKIP_CHECK_ARRAY = False

    def _validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

__all__ = ["MaxEntClassifier", "GLMRegressor", "CertificateWarning", "PENALTY_DEPRECATION"]

#: The ``FutureWarning`` of a ``penalty=`` given explicitly: scikit-learn's own (its
#: ``LogisticRegression.fit``, version 1.8 on), word for word from "To avoid this warning"; its
#: first sentence names scikit-learn's versions, so ours says "as in scikit-learn >= 1.8".
PENALTY_DEPRECATION = (
    "'penalty' is deprecated (as in scikit-learn >= 1.8) and will be removed in a future version."
    " To avoid this warning, leave 'penalty' set to its default value and use 'l1_ratio' or 'C'"
    " instead. Use l1_ratio=0 instead of penalty='l2', l1_ratio=1 instead of penalty='l1',"
    " l1_ratio set to a float between 0 and 1 instead of penalty='elasticnet', and C=np.inf"
    " instead of penalty=None."
)

#: ``penalty``'s default: not given (scikit-learn's sentinel).
_UNSET = "deprecated"

#: The ray ``theta_red + t D`` of separated data stops once doubling ``t`` moves no training
#: mean by more than this: the fitted means then equal their limit, the certified optimum.
_RAY_TOL = 1e-12


#: scipy.sparse formats taken as they are (any other is converted to the first): the fit keeps
#: X sparse (:mod:`dualmaxent.design`), and the predictions are sparse products.
_SPARSE = ["csr", "csc", "coo"]


def _plain_arrays(X, y):
    """``(X, y)`` when ``X`` is a plain 2-d ndarray of numbers with at least one row and one
    column, and ``y`` a finite 1-d ndarray of numbers with one entry per row: what
    ``validate_data(X, y, dtype=np.float64)`` would return but for ``X``'s dtype, when ``X``
    is finite. None otherwise (subclasses such as ``np.matrix`` or memmaps, other containers,
    other dtypes, a NaN or infinite ``y``), for scikit-learn to check and word the error.
    ``X``'s entries are not read: the data set checks them (free in its copy with the
    intercept, :meth:`dualmaxent.Dataset._from_arrays`), and a non-finite ``X`` gets
    scikit-learn's error then (:meth:`_DualMaxentEstimator._fit_dataset`). Nothing is copied:
    an ``X`` of float32 or integers is converted to float64 by the data set's own copy, as
    scikit-learn's conversion would (exactly: every such number is a float64), in one pass
    instead of two.
    """
    if type(X) is not np.ndarray or type(y) is not np.ndarray:
        return None
    if X.ndim != 2 or y.ndim != 1 or X.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
        return None
    n, p = X.shape
    if n == 0 or p == 0 or y.shape[0] != n:
        return None
    # a NaN or an infinity makes the sum non-finite (an overflow of finite entries too, in
    # y's own precision: then scikit-learn's check decides), as scikit-learn's own first test;
    # bools and integers are finite
    with np.errstate(over="ignore", invalid="ignore"):
        if y.dtype.kind == "f" and not np.isfinite(y.sum()):
            return None
    return X, y


#: A dense ``X`` with at most this share of nonzero entries, and at least
#: :data:`AUTO_SPARSE_MIN_ENTRIES` entries, is fitted as a CSR matrix under an L2 penalty (the
#: same matrix, so the same problem and certificate; the sparse passes read its nonzeros only).
#: Measured (``MaxEntClassifier(C=1).fit``, n = 2e4, 200 features, one BLAS thread; CSR over
#: dense): density 0.01, two classes 0.20, three 0.36; 0.05: 0.35, 0.85; 0.1: 0.65, 0.39; 0.2:
#: 1.38, 1.63; 0.4: 3.3, 1.6. A one-hot design of 200 levels and five features: 241 -> 47 ms.
#: Not unpenalised: a sparse design's rank is decided from its Gram matrix alone (coarser than
#: the dense QR), and a wide one's is not computed.
AUTO_SPARSE_DENSITY = 0.05
AUTO_SPARSE_MIN_ENTRIES = 1_000_000


#: :func:`_fitted_design` counts the nonzeros of about this many rows first, and all of them
#: only where those are sparse enough: a dense design pays for a sample, not a pass (the whole
#: count took 2 to 5 % of an L2 fit at n = 1e5 to 1e6, 50 features).
AUTO_SPARSE_SAMPLE_ROWS = 1024


def _fitted_design(X, penalty: Penalty):
    """``X`` as the fit reads it: a CSR copy of a large, mostly zero dense ``X`` under an L2
    penalty (:data:`AUTO_SPARSE_DENSITY`), else ``X`` itself."""
    if not (type(X) is np.ndarray and penalty.kind == "l2"
            and X.size >= AUTO_SPARSE_MIN_ENTRIES):
        return X
    sample = X[::max(1, X.shape[0] // AUTO_SPARSE_SAMPLE_ROWS)]
    if np.count_nonzero(sample) > 2 * AUTO_SPARSE_DENSITY * sample.size \
            or np.count_nonzero(X) > AUTO_SPARSE_DENSITY * X.size:
        return X
    import scipy.sparse as sp

    return sp.csr_array(X)


def _plain_books(estimator, X) -> None:
    """What ``validate_data(estimator, X, y, reset=True)`` records for a plain ndarray ``X``
    with a ``y`` given (:func:`_plain_arrays`): ``n_features_in_``, and no
    ``feature_names_in_`` (an ndarray has no column names, so a previous fit's are removed).
    Its other steps check nothing for such input (the target is given; the array checks are
    :func:`_plain_arrays`'s)."""
    estimator.n_features_in_ = X.shape[1]
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_


class CertificateWarning(DualMaxentWarning):
    """The fit's duality certificate is not ok (its ``messages`` say why)."""


class _DualMaxentEstimator(BaseEstimator):
    """Shared fit: validation, the penalty, the solve and the certificate."""

    #: the penalty of ``l1_ratio=None`` (module docstring)
    _default_kind = "none"

    def __init__(self, penalty=_UNSET, C=1.0, l1_ratio=None, fit_intercept=True, method="auto",
                 tol=None, max_iter=None, certify=True, certify_tol=None, primal="projected",
                 solver="CLARABEL"):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.certify = certify
        self.certify_tol = certify_tol
        self.primal = primal
        self.solver = solver

    def _penalty(self) -> Penalty:
        """The penalty of ``C``, ``l1_ratio`` and (deprecated) ``penalty``: module docstring."""
        given = self.penalty
        if not (given is None or (isinstance(given, str)
                                  and given in (_UNSET, "l2", "l1", "elasticnet"))):
            raise ValueError(f"penalty must be None, 'l2', 'l1' or 'elasticnet' (deprecated: use "
                             f"l1_ratio and C); got {given!r}")
        a = self.l1_ratio
        if a is not None and (isinstance(a, bool) or not isinstance(a, numbers.Real)
                              or not 0 <= a <= 1):
            raise ValueError(f"l1_ratio must be None or a number in [0, 1]; got {a!r}")
        C = self.C
        if isinstance(C, bool) or not isinstance(C, numbers.Real) or not (0 < C <= np.inf):
            raise ValueError(f"C must be a positive number (np.inf: no penalty); got {C!r}")
        for name in ("fit_intercept", "certify"):  # ("no" is a true string: it was taken as True)
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False; got "
                                 f"{getattr(self, name)!r}")
        if given != _UNSET:
            warnings.warn(PENALTY_DEPRECATION, FutureWarning, stacklevel=4)
            if given is None:
                return Penalty()
            want = {"l2": 0.0, "l1": 1.0}.get(given)
            if given == "elasticnet" and a is None:
                raise ValueError("l1_ratio must be specified when penalty is elasticnet")
            if want is not None and a is not None and a != want:
                raise ValueError(f"penalty={given!r} contradicts l1_ratio={a!r}; use l1_ratio "
                                 "alone")
            a = want if want is not None else a
        if C == np.inf:
            return Penalty()
        if a is None:
            a = {"none": None, "l2": 0.0}[self._default_kind]
            if a is None:
                if C != 1.0:  # (set, and ignored: a grid over C would search nothing)
                    warnings.warn(f"C={C!r} is used only with l1_ratio (0: L2, 1: L1), and this "
                                  "fit is unpenalised; give l1_ratio to penalise it",
                                  UserWarning, stacklevel=4)
                return Penalty()
        # lam = 1 / C whatever the mixing, the module docstring
        return make_penalty(l1=1.0 / float(C), l1_ratio=float(a))

    def _validate(self, X, y, y_numeric=False):
        """``(X, y, finite)``: scikit-learn's validation of ``fit`` (``n_features_in_``,
        ``feature_names_in_``, its errors), made once; ``finite`` says it checked that ``X`` is
        finite (so that :meth:`_fit_dataset` does not scan it again).

        A plain ndarray ``X`` of numbers with a finite 1-d ndarray ``y`` of numbers passes what
        ``validate_data(X, y, dtype=np.float64)`` checks (2 dimensions, at least one sample and
        one feature, real, one target per row) but ``X``'s finiteness, which the data set
        checks (``finite`` False): for those
        :func:`_plain_arrays` checks it directly and :func:`_plain_books` keeps the books that
        ``validate_data`` would (measured at n = 1000, m = 10: 110 us for ``validate_data`` in
        full, 16 us with ``skip_check_array=True``, 0.2 us for the books alone). Anything else, or
        any doubt, goes through ``validate_data`` in full, whose errors are scikit-learn's.
        """
        plain = _plain_arrays(X, y) if _SKIP_CHECK_ARRAY else None
        if plain is not None:
            _plain_books(self, X)
            return plain + (False,)
        X, y = _validate_data(self, X, y, dtype=np.float64, y_numeric=y_numeric,
                              accept_sparse=_SPARSE)
        return X, y, not get_config()["assume_finite"]

    def _fit_dataset(self, X, y, sample_weight, family, finite=False):
        """Build the data set, solve (and certify); return the fitted theta of shape (m, k) or
        (m,). ``X`` and ``y`` come from :meth:`_validate` (``finite``: ``X`` was checked).

        All of it under one BLAS thread limit (:func:`dualmaxent._numerics.one_blas_thread`),
        which the solve, the rank pass and the checker each set anyway: set once here, their
        own are nested and free. Measured (n = 1000, m = 10, this 2-core machine): setting the
        limit costs 12.5 us, two or three times per fit before."""
        with nx.one_blas_thread():  # (no frame of its own: the warnings' stacklevels hold)
            penalty = self._penalty()
            if X.shape[0] < 2:
                raise ValueError(f"{type(self).__name__} needs at least 2 samples; got "
                                 f"n_samples = {X.shape[0]}")
            p = X.shape[1]
            given = getattr(self, "feature_names_in_", None)
            names = [] if given is None else [str(f) for f in given]
            if not names or len(set(names)) != p:
                names = GeneratedNames(range(p))  # x0, ..., x(p-1), made only when read
            # a classifier's target is labels by definition, however many integer levels: the
            # count warning is not computed (it was silenced)
            # y may be handed over in a list (the classifier's label codes, made by fit): then
            # nothing holds it once the data set has its own copy, through the solve and the
            # certificate (an (n,) integer vector, 0.1 times the sparse X's bytes on the
            # categorical problem of bench --sparse, alive at the fit's peak before)
            if isinstance(y, list):
                y = y.pop()
            try:
                dataset = Dataset._from_arrays(_fitted_design(X, penalty), y, names,
                                               self.fit_intercept, sample_weight, family,
                                               type(self).__name__, finite=finite,
                                               count_warning=False, copy=False)
            except DataError:
                if not finite and isinstance(X, np.ndarray) and X.dtype.kind == "f":
                    # a NaN or an infinity in X: scikit-learn's own error, as validate_data's
                    assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)
                raise
            del y
            if not self.certify:
                cert = None
                # (the others said below; a ScaleWarning passes, at the user's line already:
                # exceptions.user_stacklevel)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", exceptions.ConvergenceWarning)
                    warnings.simplefilter("ignore", exceptions.RankDeficiencyWarning)
                    warnings.simplefilter("ignore", SeparationWarning)
                    dual = solve_dual(dataset, method=self.method, tol=self.tol,
                                      max_iter=self.max_iter, penalty=penalty)
                if dual.status == "not_attained":
                    warnings.warn(dual.message, SeparationWarning, stacklevel=3)
            else:  # verify solves the dual itself: on separated data, the reduced likelihood
                cert = verify(dataset, primal=self.primal, tol=self.certify_tol,
                              solver=self.solver, method=self.method, dual_tol=self.tol,
                              dual_max_iter=self.max_iter, penalty=penalty)
                dual = cert.dual
            self.certificate_, self.dual_, self.n_iter_ = cert, dual, dual.iterations
            # the dual's cap or tolerance not met (held back above and inside verify) is a
            # ConvergenceWarning for scikit-learn's filters, at the user's line, beside the
            # certificate's verdict
            warn_unconverged(dual.status, dual.method, dual.message)
            # dependent columns, which the solve found (verify silences its warnings: the
            # certificate notes them), said once either way, at the user's line; as by
            # solve_dual, for an unpenalised fit only, whose theta is the minimum-norm
            # maximiser (a penalty picks its own among the fits the dependencies allow, and
            # L1's certificate computes the rank where L2's does not)
            ident = dataset.__dict__.get("identifiability")  # (computed, or not wanted)
            if ident is not None and not ident.full_rank and not penalty.active:
                warnings.warn(rank_deficiency_message(ident), exceptions.RankDeficiencyWarning,
                              stacklevel=3)
            if cert is None:
                return dual.theta
            theta = dual.theta
            if not cert.attained and cert.separation is not None:  # (separated; a penalised
                # fit's intercept that runs off has no LP's direction: the verdict says why)
                theta = self._ray(dataset, theta, cert.separation)
                warnings.warn(f"{cert.separation.describe(dataset)}; coef_ is a finite point of "
                              "the ray to the certified limit (a finite C gives a finite optimum)",
                              SeparationWarning, stacklevel=3)
            if not cert.ok:
                # (a fit stopped where the user's tol let it: say what would tighten it)
                hint = (f"; the dual met tol={self.tol:g} at a relative gradient of "
                        f"{dual.kkt_residual:.1e}: a smaller tol tightens theta and its bracket"
                        if self.tol is not None and dual.converged else "")
                warnings.warn("the duality certificate is not ok: " + "; ".join(cert.messages)
                              + hint, CertificateWarning, stacklevel=3)
            return theta

    @staticmethod
    def _ray(dataset, theta, separation):
        """A point ``theta + t D`` of the separating ray whose training means equal the limit.

        ``theta`` maximises the reduced likelihood and ``D`` is the recession direction: the
        means along the ray converge, as ``t -> infinity``, to the certified max-entropy
        optimum (:mod:`dualmaxent.separation`). ``t`` doubles until the means of the forced
        observations stop moving (toward 0, or 1 for a Bernoulli row). The other rows' ``x D`` is
        0 but for the LP's tolerance and its rounding (1e-14 to 1e-12), which ``t`` grows:
        while every row's mean had to stop moving, a Poisson row's mean, 1 in the limit, went
        to ``inf`` at ``t = 2^64`` (29 of 30 random separated fits). Stopped by the forced
        rows alone (``t`` about 40 over their margin), those means move by a few 1e-11.
        """
        fam, X, direction = dataset.family, dataset.X, separation.direction
        forced = separation.forced_observations
        t = 1.0
        mu = fam.mean(X @ (theta + t * direction))[forced]
        for _ in range(64):
            mu_next = fam.mean(X @ (theta + 2 * t * direction))[forced]
            if np.abs(mu_next - mu).max(initial=0.0) <= _RAY_TOL:
                break
            t, mu = 2 * t, mu_next
        return theta + t * direction

    def _eta(self, X, transform=None):
        """The linear predictor ``X coef_^T + intercept_`` of new rows, (n, q) or (n,), each
        row block handed to ``transform`` in place
        (:func:`dualmaxent._kernels.linear_predictor`)."""
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False, accept_sparse=_SPARSE)
        return linear_predictor(X, self.coef_.T, self.intercept_, transform)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MaxEntClassifier(ClassifierMixin, _DualMaxentEstimator):
    """Certified (multinomial) logistic regression, the Lagrange dual of maximum entropy.

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet", None}, optional
        Deprecated, as in scikit-learn >= 1.8: setting it gives a ``FutureWarning``; use
        ``l1_ratio`` and ``C`` (``penalty=None`` is ``C=np.inf``). Given, it decides as before
        (``"elasticnet"`` needs ``l1_ratio``).
    C : float, default 1.0
        Inverse penalty strength, scikit-learn's meaning: our ``lambda = 1 / C`` on the
        *summed* log-likelihood (module docstring). ``np.inf``: no penalty, the plain
        maximum-likelihood fit, the exact dual of the max-entropy problem.
    l1_ratio : float in [0, 1], optional
        scikit-learn's mixing ``a``: the penalty ``lambda (a ||coef||_1 + (1 - a)/2
        ||coef||^2)``; 0 is L2, 1 is L1, in between the elastic net (certified like the others:
        its primal is the L1 box softened by a quadratic). None (default): L2, scikit-learn's
        default too.
    fit_intercept : bool, default True
        Add an unpenalised intercept.
    method : str, default "auto"
        The dual solver (:func:`dualmaxent.solve_dual`).
    tol : float, optional
        The dual solver's target relative gradient (its default when omitted). A certified
        two-class fit is solved to at most ``0.5 tol`` where the certificate's tolerance is
        ``tol`` (``certify.ZERO_STEP_SHARE``, :func:`dualmaxent.verify.solve_tol`), an
        unpenalised fit of several classes (dense) to ``0.1 tol`` from 1e4 rows and to ``0.01
        tol`` below where the checker's step would be dear: the checker's cheapest bracket,
        at the point itself with no Newton step, needs that.
    max_iter : int, optional
        The dual solver's iteration cap (its default when omitted), with or without the
        certificate.
    certify : bool, default True
        Compute :attr:`certificate_` on fit with :func:`dualmaxent.verify`. ``certify=False``
        fits the dual only, with no separation check (the dual solver warns on separated data);
        the estimator checks of the test suite use it, because they fit hundreds of times.
    certify_tol : float, optional
        The certificate's tolerance: by default 1e-6, or ``tol`` when that is looser (a fit
        asked for a relative gradient of 1e-4 is certified at 1e-4, not failed for what it was
        not asked: :func:`dualmaxent.verify.certificate_tol`).
    primal : {"projected", "auto", "cvxpy"}, default "projected"
        :func:`verify`'s ``primal``. ``projected`` certifies with the checker alone
        (:func:`dualmaxent.certify`: two passes over the data; its time is
        ``certificate_.seconds``). ``auto`` and ``cvxpy`` also solve the CVXPY primal as a
        cross-check, which costs a conic solve: measured on iris (n = 150, k = 3, L2), a fit
        takes about 6 ms with ``projected`` and 45 ms with ``auto``; on digits (n = 1797,
        k = 10) seconds instead of milliseconds.
    solver : str, default "CLARABEL"
        CVXPY's solver for the primal, when it runs.

    Attributes
    ----------
    classes_ : ndarray of shape (k,)
    coef_ : ndarray of shape (1, p) for two classes, (k, p) otherwise
    intercept_ : ndarray of shape (1,) or (k,)
        Zeros when ``fit_intercept=False``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (p,)
        When ``X`` has string column names.
    n_iter_ : ndarray of shape (1,)
        The dual solver's iterations.
    certificate_ : Certificate or None
        None when ``certify=False``.
    dual_ : DualResult

    Notes
    -----
    On separated data (unpenalised) the likelihood has no maximiser: the fit warns with a
    :class:`~dualmaxent.exceptions.SeparationWarning`, ``certificate_.attained`` is False, and
    ``coef_`` is the reduced likelihood's maximiser moved along the recession direction until
    the training probabilities equal their limit, the certified max-entropy ``P*``.
    """

    _default_kind = "l2"

    def __init__(self, penalty=_UNSET, C=1.0, l1_ratio=None, fit_intercept=True, method="auto",
                 tol=None, max_iter=None, certify=True, certify_tol=None, primal="projected",
                 solver="CLARABEL"):
        super().__init__(penalty=penalty, C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                         method=method, tol=tol, max_iter=max_iter, certify=certify,
                         certify_tol=certify_tol, primal=primal, solver=solver)

    def fit(self, X, y, sample_weight=None):
        """Fit the model; ``sample_weight`` are frequency weights (weight 2 = a repeated row).

        Parameters
        ----------
        X : array_like, sparse matrix or DataFrame of shape (n, p)
            A DataFrame (pandas, polars, a pyarrow Table: scikit-learn's validation reads them)
            sets ``feature_names_in_`` from its column names. Its columns must be numeric:
            :meth:`Dataset.from_frame` encodes text columns.
        y : array_like of shape (n,)
        sample_weight : array_like of shape (n,), optional

        Returns
        -------
        self
        """
        X, y, finite = self._validate(X, y)
        if np.asarray(y).dtype.kind not in "biu":  # 1-d integers are always class labels
            check_classification_targets(y)
        self.classes_, codes = nx.unique_inverse(y)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; got "
                             f"1 class ({self.classes_[0]!r})")
        held = [codes]  # handed over (_fit_dataset)
        del codes
        theta = self._fit_dataset(X, held, sample_weight, "bernoulli" if k == 2 else
                                  "categorical", finite=finite)
        p = X.shape[1]
        theta = theta.reshape(theta.shape[0], -1)  # (m, 1) for Bernoulli, (m, k) otherwise
        self.coef_ = theta[:p].T.copy()
        self.intercept_ = theta[p].copy() if self.fit_intercept else np.zeros(theta.shape[1])
        self.n_iter_ = np.array([self.n_iter_])
        return self

    def decision_function(self, X):
        """The linear predictor: shape (n,) for two classes (log-odds), (n, k) otherwise."""
        eta = self._eta(X)
        return eta[:, 0] if eta.shape[1] == 1 else eta

    def predict_log_proba(self, X):
        """Log-probabilities of shape (n, k), computed stably from the linear predictor."""
        check_is_fitted(self)
        if self.coef_.shape[0] > 1:  # (each row block's log-softmax in place)
            return self._eta(X, lambda E: nx.log_softmax(E, out=E))
        return nx.log_sigmoid_pair(self._eta(X)[:, 0])

    def predict_proba(self, X):
        """Class probabilities of shape (n, k), the columns in the order of ``classes_``."""
        check_is_fitted(self)
        if self.coef_.shape[0] > 1:  # (each row block's softmax in place)
            return self._eta(X, lambda E: nx.softmax_logsumexp(E, out=E))
        p1 = get_family("bernoulli").mean(self._eta(X)[:, 0])
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X):
        """The most probable class of each row."""
        eta = self._eta(X)
        index = (eta[:, 0] > 0).astype(int) if eta.shape[1] == 1 else eta.argmax(axis=1)
        return self.classes_[index]


class GLMRegressor(RegressorMixin, _DualMaxentEstimator):
    """A certified canonical GLM: least squares, Poisson or Bernoulli regression.

    Parameters
    ----------
    family : {"gaussian", "poisson", "bernoulli"}, default "gaussian"
        Gaussian (identity link, the default: what a regressor does unless told otherwise),
        Poisson (log link, counts ``y >= 0``) or Bernoulli (logit link, ``y`` two labels; the
        prediction is the probability of the larger one).
    penalty : {None, "l2", "l1", "elasticnet"}, optional
        Deprecated, as in :class:`MaxEntClassifier` (a ``FutureWarning``; use ``l1_ratio``).
    C : float, default 1.0
        Inverse penalty strength: the fit minimises ``C * sum_j w_j loss_j + penalty``, so our
        ``lambda = 1 / C``; with ``loss_j`` minus the unit-variance log-likelihood this is
        ``Ridge(alpha=1 / C)`` for the gaussian family (``l1_ratio=0``), and
        ``PoissonRegressor(alpha=1 / (C W))`` (whose loss is a weighted mean) for the Poisson
        family, ``W`` the sum of the sample weights (``n`` without them). Used only with
        ``l1_ratio``.
    l1_ratio : float in [0, 1], optional
        The penalty ``lambda (a ||coef||_1 + (1 - a)/2 ||coef||^2)``, ``a = l1_ratio`` (0: L2,
        1: L1, between: the elastic net). None (default): no penalty, as in
        ``LinearRegression`` and statsmodels' GLM.
    fit_intercept, method, tol, max_iter, certify, certify_tol, primal, solver
        As in :class:`MaxEntClassifier`.

    Attributes
    ----------
    coef_ : ndarray of shape (p,)
    intercept_ : float
    n_features_in_, feature_names_in_, certificate_, dual_
        As in :class:`MaxEntClassifier`.
    n_iter_ : int
    labels_ : ndarray of shape (2,) or None
        The bernoulli family's two labels, sorted (the prediction is the second's
        probability); None for the other families.

    Notes
    -----
    ``score`` is scikit-learn's R^2 of the predicted means for every family, for the bernoulli
    family against the indicator of ``labels_[1]``.
    """

    def __init__(self, family="gaussian", penalty=_UNSET, C=1.0, l1_ratio=None,
                 fit_intercept=True, method="auto", tol=None, max_iter=None, certify=True,
                 certify_tol=None, primal="projected", solver="CLARABEL"):
        self.family = family
        super().__init__(penalty=penalty, C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                         method=method, tol=tol, max_iter=max_iter, certify=certify,
                         certify_tol=certify_tol, primal=primal, solver=solver)

    def fit(self, X, y, sample_weight=None):
        """Fit the model: parameters and frequency weights as in :meth:`MaxEntClassifier.fit`,
        ``y`` of shape (n,) the response of the family; returns ``self``."""
        if self.family not in ("gaussian", "poisson", "bernoulli"):
            raise ValueError(f"family must be 'gaussian', 'poisson' or 'bernoulli'; got "
                             f"{self.family!r}")
        # (the bernoulli family's y is two labels of any kind, text too: not converted to
        # numbers by the validation)
        X, y, finite = self._validate(X, y, y_numeric=self.family != "bernoulli")
        # (the bernoulli family's two labels, before the data set holds y: score's coding)
        labels = nx.unique_inverse(y)[0] if self.family == "bernoulli" else None
        theta = self._fit_dataset(X, y, sample_weight, self.family, finite=finite)
        p = X.shape[1]
        self.coef_ = theta[:p].copy()
        self.intercept_ = float(theta[p]) if self.fit_intercept else 0.0
        self.labels_ = labels
        return self

    def predict(self, X):
        """The predicted mean ``A'(X coef_ + intercept_)`` of shape (n,)."""
        return get_family(self.family).mean(self._eta(X))

    def score(self, X, y, sample_weight=None):
        """scikit-learn's R^2 of the predicted means; for the bernoulli family against the
        indicator of the larger label, whose probability :meth:`predict` gives (against labels
        such as 3 and 7 themselves it measured nothing: -4.4 on a good fit)."""
        if self.family == "bernoulli":
            check_is_fitted(self)
            y = (np.asarray(y) == self.labels_[-1]).astype(np.float64)
        return super().score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            family = get_family(self.family)
        except DualMaxentError:  # an invalid family fails in fit, not in the tags
            family = None
        tags.target_tags.positive_only = family is not None and family.nonnegative_response
        return tags
