"""The parameterisation of theta: which entries are free, how they are packed, the gauge.

Conventions
-----------
* Shapes: ``theta`` is (m, k) for the categorical family, one column per class, and (m,) for the
  one-parameter families; internally both are ``(m, q)`` tables with ``q = k`` or ``q = 1``.
* Penalised rows: a penalty (L2 or L1) acts on every row of theta except the intercept's (the
  last row of ``X`` when the data set has one); without a penalty no row is penalised.
* Gauge (categorical): ``softmax(X theta)`` does not change when one vector ``c`` is added to
  every column of theta (information-theory note, footnote 2). The *pivot gauge* pins the last
  class, ``theta[r, k-1] = 0``, on every *unpenalised* row ``r``; penalised rows stay free in all
  ``k`` columns, because the penalty fixes their gauge itself (at the optimum their sum over
  classes is zero). :meth:`Parameterization.gauge_fix` moves any theta there by subtracting the
  last column on the unpenalised rows.
* Packing: the free entries of theta form the vector ``beta`` of length ``n_params``, class by
  class (``theta.T`` in C order, the pinned entries skipped). ``unpack(pack(theta))`` is theta in
  the pivot gauge.

The dual's objective, the primal's conversion of CVXPY's multipliers, the verifier and the
benchmark all use one :class:`Parameterization`, so these choices are written here only.

The penalty is part of the specification too: :class:`Penalty` (built from the API's ``l2=`` /
``l1=`` keywords by :func:`make_penalty`) says which rows are penalised and how. It lives here
and is re-exported by :mod:`dualmaxent.results` and :mod:`dualmaxent`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .exceptions import DualMaxentError

__all__ = ["Parameterization", "Penalty", "make_penalty"]


@dataclass(frozen=True)
class Penalty:
    """A penalty on the non-intercept rows of theta (a specification, not a result).

    Attributes
    ----------
    kind : {"none", "l2", "l1"}, default "none"
        ``"l2"`` subtracts ``(lam / 2) ||theta_R||^2`` from the log-likelihood, ``"l1"``
        subtracts ``lam ||theta_R||_1``, ``R`` the penalised rows: every row but the intercept's,
        which is never penalised (module docstring).
    lam : float, default 0.0
        The strength ``lambda``; must be finite and positive for ``"l2"`` and ``"l1"``.
    """

    kind: str = "none"
    lam: float = 0.0

    def __post_init__(self):
        if self.kind not in ("none", "l2", "l1"):
            raise DualMaxentError(f"unknown penalty {self.kind!r}; use 'l2' or 'l1'")
        if self.kind != "none" and not (np.isfinite(self.lam) and self.lam > 0):
            raise DualMaxentError(f"the {self.kind} penalty needs lambda > 0; got {self.lam}")

    @property
    def active(self) -> bool:
        """Whether any row is penalised (``kind != "none"``)."""
        return self.kind != "none"

    def describe(self) -> str:
        """``"none"`` or ``"l2(lambda=0.5)"``, for printouts."""
        return "none" if not self.active else f"{self.kind}(lambda={self.lam:g})"

    def as_dict(self) -> dict:
        """``{"kind": ..., "lambda": ...}`` for the JSON report (``lambda`` None when inactive)."""
        return {"kind": self.kind, "lambda": self.lam if self.active else None}


def make_penalty(l2: float | None = None, l1: float | None = None,
                 penalty: Penalty | None = None) -> Penalty:
    """Build a :class:`Penalty` from the ``l2=`` / ``l1=`` keyword arguments of the API.

    Parameters
    ----------
    l2, l1 : float, optional
        The strength of an L2 or an L1 penalty (at most one).
    penalty : Penalty, optional
        A ready penalty, returned as is (then neither ``l2`` nor ``l1``).

    Returns
    -------
    Penalty
        ``Penalty()`` (none) when nothing is given.
    """
    if penalty is not None:
        if l2 is not None or l1 is not None:
            raise DualMaxentError("give either penalty= or l2=/l1=, not both")
        return penalty
    if l2 is not None and l1 is not None:
        raise DualMaxentError("give at most one of l2 and l1")
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
    free : ndarray of bool of shape (m, q)
        The entries of theta that are parameters (all but the pinned ones).
    free_flat : ndarray of int of shape (n_params,)
        The class-major flat index (into ``theta.T.ravel()``) of each free entry.
    penalized : ndarray of bool of shape (n_params,)
        Which entries of ``beta`` are penalised.
    free_classes : list of int
        The classes with at least one free entry (the pinned class has none when no row is
        penalised).
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
        self.free = np.ones((self.m, self.q), dtype=bool)
        if self.multiclass:
            self.free[~self.penalized_rows, self.q - 1] = False
        self.free_flat = np.flatnonzero(self.free.T.ravel())
        self.n_params = self.free_flat.size
        self.penalized = self.penalized_flat[self.free_flat]
        self.free_classes = [a for a in range(self.q) if self.free[:, a].any()]

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
        """Theta of :attr:`theta_shape` from the free parameters ``beta`` (pinned entries 0)."""
        flat = np.zeros(self.free.size)
        flat[self.free_flat] = beta
        return self.squeeze(flat.reshape(self.q, -1).T)

    def pack(self, theta: np.ndarray) -> np.ndarray:
        """The free parameters ``beta`` of ``theta`` after moving it to the pivot gauge."""
        T = self.gauge_fix(self.columns(theta))
        return T.T.ravel()[self.free_flat]

    def gauge_fix(self, theta: np.ndarray) -> np.ndarray:
        """A copy of theta in the pivot gauge: the last column subtracted on unpenalised rows."""
        t = np.array(theta, dtype=np.float64)
        if self.multiclass:
            rows = ~self.penalized_rows
            t[rows] -= t[rows, -1:]
        return t
