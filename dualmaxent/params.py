"""The parameterisation of theta: which entries are free, how they are packed, the gauge.

Conventions
-----------
* Shapes: ``theta`` is (m, k) for the categorical family, one column per class, and (m,) for the
  one-parameter families; internally both are ``(m, q)`` tables with ``q = k`` or ``q = 1``.
* Penalised rows: a penalty (L2, L1 or the elastic net) acts on every row of theta except the
  intercept's (the last row of ``X`` when the data set has one); without a penalty no row is
  penalised.
* Gauge (categorical): ``softmax(X theta)`` does not change when one vector ``c`` is added to
  every column of theta (information-theory note, footnote 2). The *pivot gauge* pins the last
  class, ``theta[r, k-1] = 0``, on every *unpenalised* row ``r``; penalised rows stay free in all
  ``k`` columns, because the penalty fixes their gauge itself (at the optimum their sum over
  classes is zero). :meth:`Parameterization.gauge_fix` moves any theta there by subtracting the
  last column on the unpenalised rows.
* Reported gauge: the report (the CLI's coefficient table and JSON ``coefficients``, the standard
  errors printed with them) takes the *first* class as the reference instead, as statsmodels'
  ``MNLogit`` and R do, and two classes print the log-odds of the second under plain feature
  names, as ``Logit`` does. The solvers, ``theta`` and ``DualResult.std_err`` stay in the pivot
  gauge; :func:`dualmaxent.report.report_coefficients` is the one place that converts (with the
  covariance of the contrasts, not only their variances).
* Packing: the free entries of theta form the vector ``beta`` of length ``n_params``, class by
  class (``theta.T`` in C order, the pinned entries skipped). ``unpack(pack(theta))`` is theta in
  the pivot gauge.

The dual's objective, the primal's conversion of CVXPY's multipliers, the verifier and the
benchmark all use one :class:`Parameterization`, so these choices are written here only.

The penalty is part of the specification too: :class:`Penalty` (built from the API's ``l2=`` /
``l1=`` / ``l1_ratio=`` keywords by :func:`make_penalty`; its docstring derives the elastic
net's primal) says which rows are penalised and how. It lives here and is re-exported by
:mod:`dualmaxent.results` and :mod:`dualmaxent`.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np

from .exceptions import DualMaxentError

__all__ = ["Parameterization", "Penalty", "make_penalty", "checked_tol"]


@dataclass(frozen=True)
class Penalty:
    """A penalty on the non-intercept rows of theta (a specification, not a result).

    Attributes
    ----------
    kind : {"none", "l2", "l1", "elasticnet"}, default "none"
        What is subtracted from the log-likelihood, ``R`` the penalised rows (every row but the
        intercept's, which is never penalised; module docstring):

        * ``"l2"``: ``(lam / 2) ||theta_R||^2``;
        * ``"l1"``: ``lam ||theta_R||_1``;
        * ``"elasticnet"``: ``lam (a ||theta_R||_1 + (1 - a) / 2 ||theta_R||^2)``, ``a`` the
          ``l1_ratio``, scikit-learn's mixing (``a = 1`` is ``"l1"``, ``a = 0`` is ``"l2"``:
          those two ends are the other kinds, so here ``0 < a < 1``).
    lam : float, default 0.0
        The strength ``lambda``; must be finite and positive for every kind but ``"none"``.
    l1_ratio : float, optional
        ``a`` of ``"elasticnet"``, in the open interval (0, 1); None for the other kinds
        (:attr:`l1_lam` and :attr:`l2_lam` read every kind the same way).

    Notes
    -----
    The elastic net splits into the two parts the solvers already know: a smooth L2 part of
    strength :attr:`l2_lam` ``= lam (1 - a)`` (in the value, gradient and Hessian) and an L1
    part of strength :attr:`l1_lam` ``= lam a`` (the proximal term).

    Its primal (the derivation; :mod:`dualmaxent.certify` and :mod:`dualmaxent.primal` state
    the result). Write ``p(theta_R) = lam a ||theta_R||_1 + (lam (1 - a) / 2) ||theta_R||^2``,
    a sum of the same convex function of each penalised entry, and ``s = X_R^T W (mu - Y)``
    for the slack of the balance equations of the penalised rows. The dual is
    ``min_theta [sum_j w_j A(eta_j) - <theta, X^T W Y> + p(theta_R)]``; write each
    ``A(eta_j) = max_{mu_j} <mu_j, eta_j> - A*(mu_j)``, exchange max and min (the inner function
    is convex in theta and concave in mu), and minimise over theta entry by entry. The
    unpenalised rows give the balance equations ``X^T W (mu - Y) = 0`` as before; a penalised
    entry gives ``min_t [t s + p(t)] = -p*(-s) = -p*(s)``, ``p*`` the convex conjugate (``p``
    is even). For ``p(t) = lam a |t| + (lam (1 - a) / 2) t^2``,

        p*(s) = max_t [s t - lam a |t| - (lam (1 - a) / 2) t^2]
              = (|s| - lam a)_+^2 / (2 lam (1 - a)),

    attained at ``t = sign(s) (|s| - lam a)_+ / (lam (1 - a))`` (soft-thresholding, then the
    ridge's shrinkage). So the primal is

        maximise  H(mu) - sum_{r in R, c} (|s_rc| - lam a)_+^2 / (2 lam (1 - a))

    subject to the balance equations of the unpenalised rows: the box of L1 softened by a
    quadratic charge, which starts only once a slack leaves its box ``|s| <= lam a``. The
    signs are those of L2 (``theta_R = -s / lam``): at the optimum ``theta_R = -sign(s)
    (|s| - lam a)_+ / (lam (1 - a))``, the minimiser of ``t s + p(t)`` at the primal's slack, and
    ``-l(theta*) + p(theta*_R) = H(mu*) - sum p*(s*)`` (no duality gap). The limits: ``a = 0``
    gives ``||s||^2 / (2 lam)``, the L2 charge; as ``a -> 1`` the charge is 0 inside the box
    ``|s| <= lam`` and grows like ``1 / (1 - a)`` outside it, the L1 boxes.
    """

    kind: str = "none"
    lam: float = 0.0
    l1_ratio: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise DualMaxentError(f"unknown penalty {self.kind!r}; use 'l2', 'l1' or "
                                  "'elasticnet'")
        if self.kind != "none" and not (np.isfinite(self.lam) and self.lam > 0):
            raise DualMaxentError(f"the {self.kind} penalty needs lambda > 0; got {self.lam}")
        if self.kind == "elasticnet":
            a = self.l1_ratio
            if not isinstance(a, numbers.Real) or isinstance(a, bool) or not 0 < a < 1:
                raise DualMaxentError("the elasticnet penalty needs 0 < l1_ratio < 1 (0 is "
                                      f"'l2', 1 is 'l1'); got {a!r}")
            object.__setattr__(self, "l1_ratio", float(a))
        elif self.l1_ratio is not None:
            raise DualMaxentError(f"l1_ratio belongs to the elasticnet penalty, not to "
                                  f"{self.kind!r}; use make_penalty(l1=lam, l1_ratio=a)")

    @property
    def active(self) -> bool:
        """Whether any row is penalised (``kind != "none"``)."""
        return self.kind != "none"

    @property
    def l1_lam(self) -> float:
        """The strength of the L1 part: ``lam`` (``"l1"``), ``lam a`` (``"elasticnet"``), else 0."""
        if self.kind == "l1":
            return self.lam
        return self.lam * self.l1_ratio if self.kind == "elasticnet" else 0.0

    @property
    def l2_lam(self) -> float:
        """The strength of the L2 part, ``(l2_lam / 2) ||theta_R||^2``: ``lam`` (``"l2"``),
        ``lam (1 - a)`` (``"elasticnet"``), else 0."""
        if self.kind == "l2":
            return self.lam
        return self.lam * (1.0 - self.l1_ratio) if self.kind == "elasticnet" else 0.0

    @property
    def label(self) -> str:
        """``"L2"``, ``"L1"``, ``"elastic-net"`` or ``"no"``, for sentences ("the L1 penalty")."""
        return {"none": "no", "elasticnet": "elastic-net"}.get(self.kind, self.kind.upper())

    @property
    def has_l1(self) -> bool:
        """Whether the penalty has an L1 part (the proximal solvers; no smooth-only method)."""
        return self.kind in ("l1", "elasticnet")

    @staticmethod
    def from_parts(l1_lam: float, l2_lam: float) -> "Penalty":
        """The penalty ``l1_lam ||theta_R||_1 + (l2_lam / 2) ||theta_R||^2`` (either may be 0):
        ``"l1"``, ``"l2"``, ``"elasticnet"`` with ``lam = l1_lam + l2_lam`` and ``a = l1_lam /
        lam``, or none."""
        l1_lam, l2_lam = float(l1_lam), float(l2_lam)
        if l1_lam > 0 and l2_lam > 0:
            lam = l1_lam + l2_lam
            return Penalty("elasticnet", lam, l1_lam / lam)
        if l1_lam > 0:
            return Penalty("l1", l1_lam)
        if l2_lam > 0:
            return Penalty("l2", l2_lam)
        return Penalty()

    def describe(self) -> str:
        """``"none"``, ``"l2(lambda=0.5)"`` or ``"elasticnet(lambda=0.5, l1_ratio=0.3)"``, for
        printouts."""
        if not self.active:
            return "none"
        if self.kind == "elasticnet":
            return f"elasticnet(lambda={self.lam:g}, l1_ratio={self.l1_ratio:g})"
        return f"{self.kind}(lambda={self.lam:g})"

    def as_dict(self) -> dict:
        """``{"kind": ..., "lambda": ...}`` for the JSON report (``lambda`` None when inactive),
        and ``"l1_ratio"`` for the elastic net."""
        out = {"kind": self.kind, "lambda": self.lam if self.active else None}
        if self.kind == "elasticnet":
            out["l1_ratio"] = self.l1_ratio
        return out


#: The penalty kinds (:class:`Penalty`).
KINDS = ("none", "l2", "l1", "elasticnet")


def checked_tol(tol) -> float:
    """A tolerance of the API (``tol``: a relative gradient or gap) as a float, or a one-line
    ``DualMaxentError``: not a real number (a bool neither), not finite, not positive, or not
    below 1 (a relative gap of 1 is met by any theta: a certificate at ``tol >= 1`` would call
    every fit verified)."""
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) \
            or not (np.isfinite(tol) and tol > 0):
        raise DualMaxentError(f"tol must be a positive number; got {tol!r}")
    if not tol < 1:
        raise DualMaxentError(f"tol is relative and must be below 1; got {tol!r}")
    return float(tol)


def make_penalty(l2: float | None = None, l1: float | None = None,
                 penalty: Penalty | None = None, l1_ratio: float | None = None) -> Penalty:
    """Build a :class:`Penalty` from the ``l2=`` / ``l1=`` / ``l1_ratio=`` keywords of the API.

    Parameters
    ----------
    l2, l1 : float, optional
        The strength of an L2 or an L1 penalty (at most one).
    penalty : Penalty, optional
        A ready penalty, returned as is (then none of the keywords).
    l1_ratio : float, optional
        With ``l1=lam``: the elastic net ``lam (a ||theta_R||_1 + (1 - a)/2 ||theta_R||^2)``,
        ``a = l1_ratio`` in [0, 1] (scikit-learn's mixing): ``a = 1`` is the L1 penalty
        ``Penalty("l1", lam)``, ``a = 0`` the L2 penalty ``Penalty("l2", lam)``, and between
        them ``Penalty("elasticnet", lam, l1_ratio=a)``. ``lam`` is the strength of the whole
        penalty, as in scikit-learn (``lam = 1 / C``).

    Returns
    -------
    Penalty
        ``Penalty()`` (none) when nothing is given.
    """
    if penalty is not None:
        if l2 is not None or l1 is not None or l1_ratio is not None:
            raise DualMaxentError("give either penalty= or l2=/l1=/l1_ratio=, not both")
        if not isinstance(penalty, Penalty):
            raise DualMaxentError(f"penalty must be a Penalty (dualmaxent.Penalty('l2', lam)) or "
                                  f"None; got {type(penalty).__name__} {penalty!r}; or give "
                                  "l2=lam, l1=lam, l1_ratio=a")
        return penalty
    if l2 is not None and l1 is not None:
        raise DualMaxentError("give at most one of l2 and l1")
    for name, lam in (("l2", l2), ("l1", l1)):  # (a text or a bool is no strength: float()
        # read "1" and True as 1)
        if lam is not None and (isinstance(lam, bool) or not isinstance(lam, numbers.Real)):
            raise DualMaxentError(f"{name} must be a number (the penalty's strength lambda > 0);"
                                  f" got {type(lam).__name__} {lam!r}")
    if l1_ratio is not None:
        a = l1_ratio
        if isinstance(a, bool) or not isinstance(a, numbers.Real) or not 0.0 <= a <= 1.0:
            raise DualMaxentError(f"l1_ratio must be a number in [0, 1]; got {a!r}")
        if l1 is None:
            raise DualMaxentError("l1_ratio goes with l1=lam (the elastic net's strength); "
                                  + ("l2=lam is the ridge alone" if l2 is not None
                                     else "no strength was given"))
        a = float(a)
        if a == 1.0:
            return Penalty("l1", float(l1))
        if a == 0.0:
            return Penalty("l2", float(l1))
        return Penalty("elasticnet", float(l1), a)
    if l2 is not None:
        return Penalty("l2", float(l2))
    if l1 is not None:
        return Penalty("l1", float(l1))
    return Penalty()


class Parameterization:
    """Free entries, packing and gauge of theta (see the module docstring).

    Parameters
    ----------
    m : int
        Rows of theta (columns of ``X``, the intercept included).
    q : int
        Columns of theta: ``k`` for the categorical family, 1 otherwise.
    multiclass : bool
        Whether theta is an (m, k) table (categorical) or an (m,) vector.
    intercept : bool
        Whether the last row of theta is the (never penalised) intercept.
    penalty : Penalty, optional

    Attributes
    ----------
    penalized_rows : ndarray of bool of shape (m,)
        The rows the penalty acts on.
    n_params : int
        The number of free entries (the length of ``beta``).
    free : ndarray of bool of shape (m, q)
        The entries of theta that are parameters (all but the pinned ones).
    free_flat : ndarray of int of shape (n_params,)
        The class-major flat index (into ``theta.T.ravel()``) of each free entry; 32-bit while
        ``m q < 2^31``.
    free_prefix : bool
        Whether the free entries are the first ``n_params`` of the class-major order (then
        ``free_flat`` is ``arange(n_params)`` and packing needs no index array).
    penalized : ndarray of bool of shape (n_params,)
        Which entries of ``beta`` are penalised.
    free_classes : list of int
        The classes with at least one free entry (the pinned class has none when no row is
        penalised).

    Notes
    -----
    ``free``, ``free_flat`` and ``penalized`` are formed on first use and then kept: the
    checker, which builds its own parameterisation, needs none of them, and ``free_flat`` alone
    is ``m q`` indices, 0.39 times the bytes of the sparse ``X`` as int64 on the k = 20 text
    problem of ``bench --sparse`` (the objective of a dual result keeps it for as long as the
    result).
    """

    def __init__(self, m: int, q: int, multiclass: bool, intercept: bool,
                 penalty: Penalty | None = None):
        self.m, self.q, self.multiclass = int(m), int(q), bool(multiclass)
        self.penalty = penalty if penalty is not None else Penalty()
        self.penalized_rows = np.zeros(self.m, dtype=bool)
        if self.penalty.active:
            self.penalized_rows[:] = True
            if intercept:
                self.penalized_rows[-1] = False
        # the pinned entries: the last class's unpenalised rows (categorical), none otherwise
        pinned = int(np.count_nonzero(~self.penalized_rows)) if self.multiclass else 0
        self.n_params = self.m * self.q - pinned
        # they come last in the class-major order when the unpenalised rows are the last rows
        # (the intercept's, or all of them): always, for the penalties of this package
        self.free_prefix = not (self.multiclass
                                and np.any(~self.penalized_rows[:self.m - pinned]))
        self.free_classes = [a for a in range(self.q) if self.m > 0 and (
            not self.multiclass or a < self.q - 1 or pinned < self.m)]

    @functools.cached_property
    def free(self) -> np.ndarray:
        free = np.ones((self.m, self.q), dtype=bool)
        if self.multiclass:
            free[~self.penalized_rows, self.q - 1] = False
        return free

    @functools.cached_property
    def free_flat(self) -> np.ndarray:
        dtype = np.int32 if self.m * self.q < 2 ** 31 else np.intp
        if self.free_prefix:
            return np.arange(self.n_params, dtype=dtype)
        return np.flatnonzero(self.free.T.ravel()).astype(dtype)

    @functools.cached_property
    def penalized(self) -> np.ndarray:
        flat = self.penalized_flat
        return flat[:self.n_params] if self.free_prefix else flat[self.free_flat]

    @classmethod
    def from_dataset(cls, dataset, penalty: Penalty | None = None) -> "Parameterization":
        """The parameterisation of ``dataset``'s theta under ``penalty``."""
        multiclass = dataset.family.multiclass
        return cls(dataset.m, dataset.k if multiclass else 1, multiclass, dataset.intercept,
                   penalty)

    @property
    def theta_shape(self) -> tuple:
        """``(m, k)`` (categorical) or ``(m,)``."""
        return (self.m, self.q) if self.multiclass else (self.m,)

    @property
    def penalized_flat(self) -> np.ndarray:
        """Which entries of the full class-major vector ``theta.T.ravel()`` are penalised."""
        return np.tile(self.penalized_rows, self.q)

    def columns(self, theta) -> np.ndarray:
        """Theta as an (m, q) table (a view for the one-parameter families)."""
        return np.asarray(theta).reshape(self.m, self.q)

    def squeeze(self, T: np.ndarray) -> np.ndarray:
        """The (m, q) table ``T`` in theta's own shape (:attr:`theta_shape`)."""
        return T if self.multiclass else T[:, 0]

    def unpack(self, beta: np.ndarray) -> np.ndarray:
        """Theta of :attr:`theta_shape` from the free parameters ``beta`` (pinned entries 0),
        C-ordered: the definition of the layout. The solvers' objective unpacks by its class
        segments in one transposing copy (:meth:`dualmaxent.objective.DualObjective.theta`),
        the same numbers, in C order because scipy's sparse ``X @ theta`` copies any other."""
        flat = np.zeros(self.m * self.q)
        if self.free_prefix:
            flat[:self.n_params] = beta
        else:
            flat[self.free_flat] = beta
        return self.squeeze(np.ascontiguousarray(flat.reshape(self.q, -1).T))

    def pack(self, theta: np.ndarray) -> np.ndarray:
        """The free parameters ``beta`` of ``theta`` after moving it to the pivot gauge.

        With the free entries a prefix (:attr:`free_prefix`) ``beta`` is written class by
        class, the pivot subtracted on the way: no copy of theta in the pivot gauge and no
        class-major copy of it (two (m, q) tables the general path forms), the same numbers.
        """
        T = self.columns(theta)
        if not self.free_prefix:
            return self.gauge_fix(T).T.ravel()[self.free_flat]
        m, q, n = self.m, self.q, self.n_params
        beta = np.empty(n)
        rows = ~self.penalized_rows if self.multiclass else None
        for c in range(q):
            seg = beta[c * m:min((c + 1) * m, n)]
            seg[:] = T[:seg.size, c]
            if rows is not None:  # the pivot gauge: the last column off the unpenalised rows
                at = rows[:seg.size]
                seg[at] -= T[:seg.size, -1][at]
        return beta

    def gauge_fix(self, theta: np.ndarray, copy: bool = True) -> np.ndarray:
        """Theta in the pivot gauge: the last column subtracted on unpenalised rows.

        A copy, unless ``copy`` is False: then ``theta`` (a float64 array) itself is moved and
        returned.
        """
        t = np.array(theta, dtype=np.float64) if copy else theta
        if self.multiclass:
            rows = ~self.penalized_rows
            t[rows] -= t[rows, -1:]
        return t
