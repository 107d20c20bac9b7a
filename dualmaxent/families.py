"""Canonical exponential families: the log-partition, its derivatives and its convex conjugate.

A family turns a response ``y`` into the target table ``Y`` and supplies, for a linear predictor
``eta``,

* the log-partition ``A(eta)``, its gradient (the mean ``mu = A'(eta)``) and curvature,
* the convex conjugate ``A*(mu)`` in numpy and as a CVXPY expression (side by side, tested against
  each other), with the constraints that describe its domain,
* the constant that turns the canonical log-likelihood into the one statsmodels reports,
* the link ``eta = g(mu)``, the inverse of the mean (starting values of the dual solvers),
* its domain as class-level facts (``mean_bounds``, ``is_probability``, ``quadratic``) and what
  follows from them (``can_separate``, ``nonnegative_response``), so that code elsewhere asks the
  family instead of comparing its name.

Every family-specific branch lives here: a generic path in :class:`Family` and the fast paths
(the Bernoulli log-likelihood in one softplus per row) in the subclasses that have them.

Conventions
-----------
For every family the *canonical log-likelihood* is the weighted sum over observations (not a mean)

    l(theta) = sum_j w_j [ <Y_j, eta_j> - A(eta_j) ],      eta = X @ theta,

in nats, and the maximum-entropy primal is

    maximise  H(mu) = -sum_j w_j A*(mu_j)   subject to   X^T W (mu - Y) = 0,

so that strong duality reads ``H(mu*) = -l(theta*)``. The reported log-likelihood adds the
family's constant ``loglik_constant(Y, w)`` (zero for the categorical and Bernoulli families).

* ``categorical``: ``Y`` of shape (n, k) one-hot, ``theta`` of shape (m, k), ``A = logsumexp``,
  ``A*(p) = sum_i p_i log p_i`` on the simplex, so ``H`` is the Shannon entropy.
* ``bernoulli``: ``Y`` of shape (n,) in {0, 1} (1 for the second of the two sorted labels),
  ``theta`` of shape (m,), ``A = log(1 + e^eta)``, ``A*(p) = p log p + (1 - p) log(1 - p)``.
* ``poisson``: counts ``Y >= 0`` of shape (n,), ``A = e^eta``, ``A*(mu) = mu log mu - mu``,
  constant ``-sum_j w_j log(Y_j!)``.
* ``gaussian``: ``Y`` real of shape (n,), unit variance in the duality, ``A = eta^2 / 2``,
  ``A*(mu) = mu^2 / 2``. The *reported* log-likelihood profiles the variance at its maximum
  likelihood value ``s2 = RSS / sum(w)`` (statsmodels' OLS ``llf``); see :meth:`Gaussian.loglik`.
"""

from __future__ import annotations

import abc

import numpy as np
from scipy.special import gammaln

from . import _kernels
from . import _numerics as nx
from .exceptions import DataError, DualMaxentError

__all__ = ["Family", "Categorical", "Bernoulli", "Poisson", "Gaussian", "get_family", "FAMILIES"]


class Family(abc.ABC):
    """Interface shared by the canonical families (see the module docstring for the symbols).

    Class attributes
    ----------------
    name : str
        The family's name (the CLI's ``--family``, the JSON's ``family``).
    multiclass : bool
        True when theta has one column per class (categorical), False when it is a vector.
    mean_bounds : tuple of float
        ``(lower, upper)``: the closure of the set of means ``A'(eta)`` (``mu`` of the primal).
    is_probability : bool
        The response is a class label and ``mu`` a probability (a class table, ``one_hot``).
    quadratic : bool
        ``A`` is quadratic, so the dual is a least-squares problem (method ``qr``).
    """

    name: str = ""
    multiclass: bool = False
    mean_bounds: tuple = (-np.inf, np.inf)
    is_probability: bool = False
    quadratic: bool = False
    #: The definitions above as text, for printouts (the CLI's certificate): ``A`` and ``A*``
    #: of one observation, the constant ``c`` of the reported log-likelihood ``l + c`` and
    #: whose convention that log-likelihood follows ("" when ``c = 0``), and the mean
    #: ``A'(X theta)``.
    formulas: dict = {"A": "", "A*": "", "constant": "0", "reported": "", "mean": ""}

    @property
    def can_separate(self) -> bool:
        """Whether the likelihood can lack a maximiser: the mean is bounded (below) by a finite
        value, which separated data reach only as theta runs off to infinity."""
        return bool(np.isfinite(self.mean_bounds[0]))

    @property
    def nonnegative_response(self) -> bool:
        """Whether the response is a non-negative number rather than a label or any real: the
        mean is bounded below by 0 and unbounded above (Poisson counts; scikit-learn's
        ``positive_only`` target tag)."""
        return bool(self.mean_bounds[0] == 0.0 and not np.isfinite(self.mean_bounds[1]))

    # -- the response -----------------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, y: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Validate ``y`` and return ``(Y, classes)``; ``classes`` is ``()`` for real responses."""

    def one_hot(self, Y: np.ndarray) -> np.ndarray:
        """The class-indicator table of shape (n, k) of an encoded class response ``Y``."""
        raise DualMaxentError(f"the {self.name} family has no classes")

    def encode_against(self, y: np.ndarray, classes: tuple) -> np.ndarray:
        """``Y`` for one chunk ``y`` of a response whose classes are already known (all chunks
        share them, whichever occur in this one). A real response ignores ``classes``."""
        return self.encode(y)[0]

    # -- the log-partition and its derivatives -----------------------------------------------
    @abc.abstractmethod
    def log_partition(self, eta: np.ndarray) -> np.ndarray:
        """``A(eta_j)`` for each observation: ndarray of shape (n,)."""

    @abc.abstractmethod
    def mean(self, eta: np.ndarray) -> np.ndarray:
        """``mu = A'(eta)``, of the same shape as ``eta``."""

    def variance(self, eta: np.ndarray) -> np.ndarray:
        """``A''(eta)`` of shape (n,) for a one-parameter family."""
        raise DualMaxentError(f"the {self.name} family has a curvature matrix, not a variance")

    @abc.abstractmethod
    def link(self, mu: np.ndarray) -> np.ndarray:
        """``eta = g(mu)`` with ``A'(g(mu)) = mu`` for ``mu`` inside ``mean_bounds``.

        For the categorical family ``log p``: one representative of the gauge class, which the
        caller pins (:meth:`dualmaxent.params.Parameterization.gauge_fix`).
        """

    def clip_mean(self, mu: np.ndarray, eps: float = 1e-12) -> np.ndarray:
        """``mu`` moved ``eps`` inside the finite ``mean_bounds`` (where ``link`` is finite)."""
        lower, upper = self.mean_bounds
        return np.clip(mu, lower + eps, upper - eps)

    def one_pass(self, X, Y, w, theta, classes, hessian: bool, point_out,
                 curvature_dtype=np.float64):
        """Value, gradient and curvature of ``l`` at ``theta`` in one pass over ``X``.

        The objective's single entry to the kernels of :mod:`dualmaxent._kernels`, so that a
        family can route itself to a faster kernel (see :meth:`Categorical.one_pass`).

        Parameters
        ----------
        X : ndarray of shape (n, m)
        Y : ndarray of shape (n, k) or (n,)
        w : ndarray of shape (n,)
        theta : ndarray of shape (m, k) or (m,)
        classes : sequence of int
            The classes whose curvature blocks are formed (categorical; ignored otherwise).
        hessian : bool
        point_out : ndarray of shape (n, k) or (n,)
            Filled with ``P`` (categorical) or ``eta``, for Hessian-vector products.
        curvature_dtype : {numpy.float64, numpy.float32}
            Precision of the curvature's block products (the value and gradient are float64).

        Returns
        -------
        value : float
        G : ndarray of shape (m, q)
            ``X^T W (Y - mu)``, ``q = k`` or 1.
        C : ndarray of shape (q' m, q' m) or None
            ``-Hessian`` of ``l`` on ``classes`` (``q' = len(classes)``) or of theta.
        """
        value, g, C = _kernels.glm_vgh(X, Y, w, theta, self, hessian=hessian,
                                       eta_out=point_out, curvature_dtype=curvature_dtype)
        return value, g[:, None], C

    def binary_view(self, Y, theta, classes):
        """The same likelihood in a one-column family, or None (:meth:`Categorical.binary_view`)."""
        return None

    def block_value_residual(self, Y: np.ndarray, eta: np.ndarray, w: np.ndarray,
                             resid: np.ndarray, var: np.ndarray | None = None,
                             mean: np.ndarray | None = None, work: np.ndarray | None = None):
        """The one-pass kernels' elementwise step on a block of observations: returns
        ``l = sum_j w_j [Y_j eta_j - A(eta_j)]`` (the canonical log-likelihood of the block) and
        writes ``w (Y - A'(eta))`` into ``resid`` (which may be ``eta`` itself), ``A''(eta)``
        into ``var`` and ``A'(eta)`` into ``mean`` when given.

        Parameters
        ----------
        Y, eta, w, resid : ndarray of shape (rows,)
        var, mean : ndarray of shape (rows,), optional
        work : ndarray of shape (2, >= rows), optional
            Scratch the kernel reuses across blocks (families with a fused evaluation use it).

        Returns
        -------
        float

        Families override it with a faster or more accurate evaluation of the same quantities
        (:meth:`Bernoulli.block_value_residual`).
        """
        mu = self.mean(eta)
        value = self.canonical_loglik(Y, eta, w)
        if var is not None:
            var[...] = self.variance(eta)
        if mean is not None:
            mean[...] = mu
        np.subtract(Y, mu, out=resid)
        resid *= w
        return value

    # -- the conjugate -------------------------------------------------------------------------
    @abc.abstractmethod
    def conjugate(self, mu: np.ndarray) -> np.ndarray:
        """``A*(mu_j)`` for each observation: ndarray of shape (n,)."""

    @abc.abstractmethod
    def cvxpy_conjugate(self, mu):
        """``A*(mu_j)`` as a CVXPY expression of shape (n,) (convex in ``mu``)."""

    def cvxpy_conjugate_entries(self, v):
        """``A*`` as a sum over the entries of ``mu``: the term of each entry of ``v``.

        For a one-parameter family this is :meth:`cvxpy_conjugate`; the categorical family's
        ``sum_i p_i log p_i`` splits into one term per entry, which the reduced primal of
        separated data needs (its variables are the free entries only).
        """
        return self.cvxpy_conjugate(v)

    def cvxpy_domain(self, mu) -> list:
        """CVXPY constraints describing the domain of ``A*`` (beyond what the atoms imply)."""
        return []

    # -- likelihood ----------------------------------------------------------------------------
    def canonical_loglik(self, Y: np.ndarray, eta: np.ndarray, w: np.ndarray) -> float:
        """``sum_j w_j [<Y_j, eta_j> - A(eta_j)]`` (nats)."""
        inner = (Y * eta).sum(axis=1) if Y.ndim == 2 else Y * eta
        return float(np.dot(w, inner - self.log_partition(eta)))

    def loglik_constant(self, Y: np.ndarray, w: np.ndarray) -> float:
        """Constant added to the canonical log-likelihood to match statsmodels' ``llf``."""
        return 0.0

    def loglik(self, Y: np.ndarray, eta: np.ndarray, w: np.ndarray) -> float:
        """The reported log-likelihood, comparable with statsmodels' ``llf``."""
        return self.loglik_from_canonical(self.canonical_loglik(Y, eta, w), Y, w, lambda: eta)

    def loglik_from_canonical(self, canonical: float, Y: np.ndarray, w: np.ndarray,
                              eta) -> float:
        """:meth:`loglik` from the canonical log-likelihood already at hand.

        ``eta`` is a function returning ``X theta``, called only by the families whose
        reported log-likelihood is not the canonical one plus a constant (the gaussian's),
        so that the others need no pass over ``X``.
        """
        return canonical + self.loglik_constant(Y, w)

    def entropy(self, mu: np.ndarray, w: np.ndarray) -> float:
        """The primal objective ``H(mu) = -sum_j w_j A*(mu_j)`` (nats)."""
        return float(-np.dot(w, self.conjugate(mu))) + 0.0  # + 0.0 turns -0.0 into 0.0

    # The families are stateless: two instances of one class are the same family.
    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Categorical(Family):
    """Multinomial logistic regression: ``A(eta) = log sum_i exp(eta_i)``."""

    name = "categorical"
    multiclass = True
    mean_bounds = (0.0, 1.0)
    is_probability = True
    formulas = {"A": "log sum_i e^eta_i", "A*": "sum_i p_i log p_i", "constant": "0",
                "reported": "", "mean": "softmax(X theta)"}

    def encode(self, y):
        classes, index = _labels_and_index(y)
        if len(classes) < 2:
            raise DataError(f"the target has a single class ({classes[0]!r}); need at least two")
        Y = np.zeros((len(y), len(classes)))
        Y[np.arange(len(y)), index] = 1.0
        return Y, classes

    def one_hot(self, Y):
        return Y

    def encode_against(self, y, classes):
        return np.eye(len(classes))[_class_index(y, classes)]

    def binary_view(self, Y, theta, classes):
        """``(family, Y_0, eta_0 - eta_1 coefficients)``: the same likelihood with one column.

        With ``k = 2`` and only class 0 free (the second class pinned on every row, i.e.
        nothing penalised), ``p_0 = sigmoid(eta_0 - eta_1)`` and ``sum_i Y_i log p_i`` is the
        Bernoulli log-likelihood of ``Y_0`` (a strided view) at ``theta_0 - theta_1``; the
        gradient's second column is minus the first (rows of ``Y`` and ``P`` sum to one) and
        the curvature of class 0 is ``X^T diag(w p_0 (1 - p_0)) X``. None otherwise: penalised
        rows are free in both classes.
        """
        if theta.shape[1] != 2 or list(classes) != [0]:
            return None
        return _BINARY, Y[:, 0], theta[:, 0] - theta[:, 1]

    def one_pass(self, X, Y, w, theta, classes, hessian, point_out, curvature_dtype=np.float64):
        """As :meth:`Family.one_pass`; two classes take the binary kernel (:meth:`binary_view`).

        One column of ``eta``, one sigmoid per row and one ``dsyrk`` of width ``m`` per block,
        instead of a two-column softmax and a ``Z^T Z`` correction (measured at n = 10^6,
        m = 51: a Newton solve 1.4 s instead of 4.1 s). Also when both classes are free (a
        penalty): the curvature blocks of two classes are ``X^T diag(w p_0 p_1) X`` times
        ``[[1, -1], [-1, 1]]``, since ``p_0 (1 - p_0) = p_1 (1 - p_1) = p_0 p_1``.
        """
        both = theta.shape[1] == 2 and list(classes) == [0, 1]
        view = self.binary_view(Y, theta, [0] if both else classes)
        if view is None:
            return _kernels.categorical_vgh(X, Y, w, theta, classes=classes, hessian=hessian,
                                            P_out=point_out, curvature_dtype=curvature_dtype)
        family, Y0, theta0 = view
        p0 = None if point_out is None else point_out[:, 0]
        value, g, C = _kernels.glm_vgh(X, Y0, w, theta0, family, hessian=hessian, mean_out=p0,
                                       curvature_dtype=curvature_dtype)
        if point_out is not None:
            np.subtract(1.0, p0, out=point_out[:, 1])
        if both and C is not None:  # [[1, -1], [-1, 1]] (x) C, block by block
            m = C.shape[0]
            K = np.empty((2 * m, 2 * m))
            K[:m, :m] = K[m:, m:] = C
            np.negative(C, out=K[:m, m:])
            K[m:, :m] = K[:m, m:]
            C = K
        return value, np.column_stack([g, -g]), C

    def log_partition(self, eta):
        return nx.logsumexp(eta)

    def mean(self, eta):
        return nx.softmax(eta)

    def link(self, mu):
        return np.log(mu)

    def canonical_loglik(self, Y, eta, w):
        # sum_ij Y_ji log softmax(eta)_ji equals <Y, eta> - A(eta) because each row of Y sums
        # to one, and it stays accurate when softmax underflows.
        return float(np.dot(w, (Y * nx.log_softmax(eta)).sum(axis=1)))

    def conjugate(self, mu):
        return nx.xlogx(np.clip(mu, 0.0, None)).sum(axis=1)

    def cvxpy_conjugate(self, mu):
        import cvxpy as cp

        return cp.sum(self.cvxpy_conjugate_entries(mu), axis=1)

    def cvxpy_conjugate_entries(self, v):
        import cvxpy as cp

        return -cp.entr(v)

    def cvxpy_domain(self, mu):
        import cvxpy as cp

        return [cp.sum(mu, axis=1) == 1]


class Bernoulli(Family):
    """Binary logistic regression with one theta vector: ``A(eta) = log(1 + e^eta)``."""

    name = "bernoulli"
    mean_bounds = (0.0, 1.0)
    is_probability = True
    formulas = {"A": "log(1 + e^eta)", "A*": "p log p + (1 - p) log(1 - p)", "constant": "0",
                "reported": "", "mean": "sigmoid(X theta)"}

    def encode(self, y):
        classes, index = _labels_and_index(y)
        if len(classes) != 2:
            raise DataError(
                f"the bernoulli family needs exactly two classes; the target has {len(classes)}"
            )
        return (index == 1).astype(np.float64), classes

    def one_hot(self, Y):
        return np.column_stack([1 - Y, Y])

    def encode_against(self, y, classes):
        return _class_index(y, classes).astype(np.float64)  # 1 for the second class

    def log_partition(self, eta):
        return nx.softplus(eta)

    def mean(self, eta):
        return nx.sigmoid(eta)

    def variance(self, eta):
        p = nx.sigmoid(eta)
        return p * (1.0 - p)

    def link(self, mu):
        return np.log(mu / (1 - mu))

    def canonical_loglik(self, Y, eta, w):
        # y eta - log(1 + e^eta) = -softplus(-eta) for y = 1 and -softplus(eta) for y = 0.
        return float(-np.dot(w, Y * nx.softplus(-eta) + (1.0 - Y) * nx.softplus(eta)))

    def block_value_residual(self, Y, eta, w, resid, var=None, mean=None, work=None):
        # one exponential per row, out= buffers, no cancellation for y in [0, 1]
        # (:func:`dualmaxent._numerics.bernoulli_value_residual`)
        return nx.bernoulli_value_residual(eta, Y, w, resid, var=var, mean=mean, work=work)

    def conjugate(self, mu):
        mu = np.clip(mu, 0.0, 1.0)
        return nx.xlogx(mu) + nx.xlogx(1.0 - mu)

    def cvxpy_conjugate(self, mu):
        import cvxpy as cp

        return -cp.entr(mu) - cp.entr(1 - mu)


class Poisson(Family):
    """Poisson regression with the log link: ``A(eta) = e^eta``."""

    name = "poisson"
    mean_bounds = (0.0, np.inf)
    formulas = {"A": "e^eta", "A*": "mu log mu - mu", "constant": "-sum_j w_j log(y_j!)",
                "reported": "statsmodels' llf", "mean": "exp(X theta)"}

    def encode(self, y):
        Y = _numeric_response(y, "poisson")
        if np.any(Y < 0):
            raise DataError(f"the poisson family needs counts >= 0; found {int((Y < 0).sum())} "
                            "negative values in the target")
        return Y, ()

    def log_partition(self, eta):
        return nx.exp(eta)

    def mean(self, eta):
        return nx.exp(eta)

    def variance(self, eta):
        return nx.exp(eta)

    def link(self, mu):
        return np.log(mu)

    def conjugate(self, mu):
        mu = np.clip(mu, 0.0, None)
        return nx.xlogx(mu) - mu

    def cvxpy_conjugate(self, mu):
        import cvxpy as cp

        return -cp.entr(mu) - mu

    def loglik_constant(self, Y, w):
        return float(-np.dot(w, gammaln(Y + 1.0)))


class Gaussian(Family):
    """Least squares: unit-variance Gaussian, ``A(eta) = eta^2 / 2``."""

    name = "gaussian"
    quadratic = True
    formulas = {"A": "eta^2 / 2", "A*": "mu^2 / 2",
                "constant": "-N/2 (log(2 pi RSS/N) + 1) - l(theta)",
                "reported": "statsmodels' OLS llf: the variance profiled at RSS/N, N = sum w; "
                "the duality uses unit variance", "mean": "X theta"}

    def encode(self, y):
        return _numeric_response(y, "gaussian"), ()

    def log_partition(self, eta):
        return 0.5 * eta**2

    def mean(self, eta):
        return np.asarray(eta, dtype=np.float64)

    def variance(self, eta):
        return np.ones_like(eta)

    def link(self, mu):
        return np.asarray(mu, dtype=np.float64)

    def conjugate(self, mu):
        return 0.5 * np.asarray(mu) ** 2

    def cvxpy_conjugate(self, mu):
        import cvxpy as cp

        return 0.5 * cp.square(mu)

    def loglik_constant(self, Y, w):
        return float(-0.5 * np.dot(w, Y**2) - 0.5 * w.sum() * np.log(2 * np.pi))

    def loglik_from_canonical(self, canonical, Y, w, eta):
        return self.loglik(Y, eta(), w)

    def loglik(self, Y, eta, w):
        """Gaussian log-likelihood with the variance profiled out (statsmodels OLS ``llf``).

        ``-N/2 (log(2 pi RSS / N) + 1)`` with ``N = sum(w)`` and ``RSS = sum_j w_j (Y_j - eta_j)^2``.
        The duality itself is stated for the unit-variance form (:meth:`canonical_loglik`).
        """
        N = float(w.sum())
        rss = float(np.dot(w, (Y - eta) ** 2))
        return -0.5 * N * (np.log(2 * np.pi * rss / N) + 1.0)


FAMILIES = {f.name: f for f in (Categorical(), Bernoulli(), Poisson(), Gaussian())}

#: The one-column kernel's family, for :meth:`Categorical.one_pass` with two classes.
_BINARY = FAMILIES["bernoulli"]


def get_family(family) -> Family:
    """Return the family object for a name (or pass a :class:`Family` through)."""
    if isinstance(family, Family):
        return family
    try:
        return FAMILIES[str(family)]
    except KeyError:
        raise DualMaxentError(
            f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}"
        ) from None


def _class_index(y: np.ndarray, classes: tuple) -> np.ndarray:
    """The index of each label of ``y`` in ``classes`` (vectorised for numbers and strings)."""
    y = np.asarray(y)
    if y.dtype != object:
        try:
            known = np.asarray(classes, dtype=y.dtype)
            order = np.argsort(known)
            pos = np.clip(np.searchsorted(known[order], y), 0, len(known) - 1)
            if np.all(known[order][pos] == y):
                return order[pos]
        except (TypeError, ValueError):
            pass  # labels of another kind than the classes: the general path says which
    index = {c: i for i, c in enumerate(classes)}
    try:
        return np.array([index[v] for v in y.tolist()], dtype=np.int64)
    except KeyError as exc:
        raise DataError(f"the target has a label {exc.args[0]!r} outside its classes") from None


def _labels_and_index(y: np.ndarray) -> tuple[tuple, np.ndarray]:
    """The sorted distinct labels of ``y`` (Python scalars) and each entry's position among
    them, shape (n,). Arrays of numbers, booleans or fixed-width text by :func:`numpy.unique`;
    anything else (objects, or floats holding NaN, which numpy merges but Python keeps apart)
    through a dictionary, with the order of :func:`_sorted_labels`."""
    y = np.asarray(y).reshape(-1)
    if y.dtype.kind in "biuU" or (y.dtype.kind == "f" and not np.isnan(y).any()):
        labels, index = nx.unique_inverse(y)
        return tuple(labels.tolist()), index.reshape(-1)
    values = y.tolist()  # one list: a NaN is found again as the same object
    classes = _sorted_labels(values)
    position = {c: i for i, c in enumerate(classes)}
    return classes, np.fromiter((position[v] for v in values), dtype=np.intp, count=len(y))


def _sorted_labels(y) -> tuple:
    """The distinct labels of ``y`` (an array or a list), sorted (by their text when their
    types do not compare)."""
    values = list(dict.fromkeys(y.tolist() if isinstance(y, np.ndarray) else y))
    try:
        return tuple(sorted(values))
    except TypeError:  # mixed types: sort by their text
        return tuple(sorted(values, key=str))


def _numeric_response(y: np.ndarray, family: str) -> np.ndarray:
    try:
        Y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"the {family} family needs a numeric target") from None
    if not np.all(np.isfinite(Y)):
        raise DataError(f"the target must be finite; found {int((~np.isfinite(Y)).sum())} "
                        "NaN or infinite values")
    return Y

