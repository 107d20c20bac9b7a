"""Result objects: one frozen dataclass per solve, and the penalty specification.

Each result carries the solution, the objective, a status, ``converged``, timings and (for the
dual) an iteration history that figures can plot without recomputing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .exceptions import DualMaxentError

__all__ = ["Penalty", "make_penalty", "PrimalResult", "DualResult", "SeparationCheck",
           "Certificate"]


@dataclass(frozen=True)
class Penalty:
    """A penalty on the non-intercept rows of theta.

    ``kind`` is ``"none"``, ``"l2"`` (dual: ``- (lam / 2) ||theta||^2``) or ``"l1"`` (dual:
    ``- lam ||theta||_1``); the intercept row is never penalised.
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
        return self.kind != "none"

    def describe(self) -> str:
        return "none" if not self.active else f"{self.kind}(lambda={self.lam:g})"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "lambda": self.lam if self.active else None}


def make_penalty(l2: float | None = None, l1: float | None = None,
                 penalty: Penalty | None = None) -> Penalty:
    """Build a :class:`Penalty` from the ``l2=`` / ``l1=`` keyword arguments of the API."""
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


@dataclass(frozen=True, eq=False)
class PrimalResult:
    """The maximum-entropy primal, solved by CVXPY.

    Attributes
    ----------
    mu : ndarray of shape (n, k) or (n,)
        The primal optimum (``P`` for the categorical family).
    entropy : float
        ``H(mu) = -sum_j w_j A*(mu_j)`` evaluated at ``mu`` (nats; the Shannon entropy of ``P``
        for the categorical family). For a penalised problem, the entropy term alone.
    objective : float
        The optimal value CVXPY reports (entropy minus the L2 relaxation term, if any).
    theta : ndarray of shape (m, k) or (m,), or None
        The constraint duals converted to theta (sign as in :mod:`dualmaxent.primal`, gauge as
        in :mod:`dualmaxent.params`).
    status : str
        CVXPY's status (``optimal``, ``optimal_inaccurate``, ...).
    converged : bool
        True when ``status == "optimal"``.
    solve_seconds, compile_seconds : float
        The solver's own time, summed over every attempt (see ``message``), and the rest of the
        wall time: building the problem and CVXPY's canonicalisation.
    iterations : int or None
        The solver's iterations in its last attempt.
    """

    mu: np.ndarray
    entropy: float
    objective: float
    theta: np.ndarray | None
    status: str
    converged: bool
    solver: str
    gauge: str
    family: str
    penalty: Penalty
    solve_seconds: float
    compile_seconds: float
    iterations: int | None = None
    forced: np.ndarray | None = None
    message: str = ""

    @property
    def P(self) -> np.ndarray:
        """Alias of ``mu`` in the categorical notation."""
        return self.mu


@dataclass(frozen=True, eq=False)
class DualResult:
    """The likelihood (dual) problem, solved numerically.

    Attributes
    ----------
    theta : ndarray of shape (m, k) or (m,)
        The maximiser in the reported gauge: for the categorical family the last class's column
        is zero on every unpenalised row.
    loglik : float
        The reported log-likelihood (statsmodels' ``llf`` convention; no penalty).
    canonical_loglik : float
        ``sum_j w_j [<Y_j, eta_j> - A(eta_j)]``, the quantity in the duality.
    objective : float
        ``canonical_loglik`` minus the penalty: the value the solver maximised.
    grad_norm : float
        Relative KKT residual of the dual (``max |gradient| / (1 + max |X^T W Y|)``; for L1 the
        minimal-norm subgradient).
    history : dict of ndarray
        ``iteration``, ``seconds``, ``loglik`` (the objective), ``grad_norm`` per iteration.
    """

    theta: np.ndarray
    loglik: float
    canonical_loglik: float
    objective: float
    grad_norm: float
    converged: bool
    iterations: int
    method: str
    status: str
    message: str
    family: str
    penalty: Penalty
    solve_seconds: float
    history: dict = field(default_factory=dict)
    #: The forced entries when the reduced likelihood of separated data was maximised (then
    #: ``loglik`` is the supremum of the likelihood), else None.
    forced: np.ndarray | None = None
    #: Whether the likelihood's maximiser was proved to exist (None: the question does not
    #: arise, or was not asked; see ``solve_dual(check_attainment=...)``).
    attained: bool | None = None
    #: The separation LP's result when it was run (:class:`dualmaxent.separation.Separation`).
    separation: object = None
    #: The projected primal point that proved attainment (:mod:`dualmaxent.projected`), if built.
    projected: object = None
    #: The objective that was maximised (its caches released), for :attr:`std_err`.
    _objective: object = field(default=None, repr=False, compare=False)

    @cached_property
    def _inference(self):
        from .inference import standard_errors

        return standard_errors(self)

    @property
    def std_err(self) -> np.ndarray | None:
        """Standard errors laid out like theta (:mod:`dualmaxent.inference`), or None with the
        reason in :attr:`std_err_note`. Computed on first use: one Hessian pass over ``X``."""
        return self._inference[0]

    @property
    def std_err_note(self) -> str:
        """Why :attr:`std_err` is None, or which of its entries are NaN ("" otherwise)."""
        return self._inference[1]

    @property
    def neg_loglik(self) -> float:
        return -self.loglik


@dataclass(frozen=True)
class SeparationCheck:
    """The part of the certificate that exists only for separated data (see :mod:`.verify`).

    Attributes
    ----------
    sup_loglik : float
        The supremum of the canonical log-likelihood: the maximum of the reduced likelihood.
    forced_entries : int
        Entries of ``mu`` forced by separation (to 0, or to ``Y``).
    reduced_parameters : int
        Parameters of the reduced likelihood (the dimension of its identifiable basis).
    direction_violation, direction_margin : float
        The LP's recession direction checked on its own
        (:meth:`dualmaxent.separation.Separation.check_direction`): its largest negative slack
        (0 for a true recession direction) and its smallest slack on a forced entry (positive).
    """

    sup_loglik: float
    forced_entries: int
    reduced_parameters: int
    direction_violation: float
    direction_margin: float


@dataclass(frozen=True, eq=False)
class Certificate:
    """The duality certificate: the bracket, KKT residuals, agreement, verdict (:mod:`.verify`).

    ``lower_bound``, ``upper_bound``, ``duality_gap`` (``upper - lower``), ``relative_gap`` and
    ``roundoff`` are the bracket of the projected primal point ``projected``
    (:class:`dualmaxent.projected.ProjectedPrimal`), always computed; ``entropy``,
    ``balance_residual``, ``simplex_residual`` and ``min_entry`` describe CVXPY's point when it
    ran (``primal``; ``primal_solver`` its solver's name, else ``"projected"``, and
    ``primal_reason`` why), else the projected one; ``primal_gap``, ``p_agreement`` and
    ``theta_agreement`` compare CVXPY with theta* (NaN without CVXPY). ``rank`` is the rank of
    the weighted design. ``notes`` are what the certificate says besides its failures (a
    rank-deficient design; a CVXPY cross-check that could not reach the accuracy), also at the
    head of ``messages``. ``separation_check`` is set for separated data only; ``extra`` holds
    ``primal_objective``, ``dual_objective``, ``canonical_loglik``, ``loglik_constant`` and the
    agreement tolerances ``p_tol`` and ``theta_tol``.
    """

    entropy: float
    neg_loglik: float
    duality_gap: float
    relative_gap: float
    lower_bound: float
    upper_bound: float
    roundoff: float
    balance_residual: float
    simplex_residual: float
    min_entry: float
    dual_gradient: float
    primal_gap: float
    p_agreement: float
    theta_agreement: float
    tol: float
    ok: bool
    attained: bool
    separation: object
    messages: tuple
    primal: PrimalResult | None
    dual: DualResult | None
    projected: object
    primal_solver: str
    primal_reason: str
    rank: int
    notes: tuple = ()
    separation_check: SeparationCheck | None = None
    extra: dict = field(default_factory=dict)
    #: The theta certified (the categorical family's in the pivot gauge); every figure is at it.
    theta: np.ndarray | None = None
    #: Where theta came from: "given", or the solver's own account ("solver newton, converged,
    #: 6 iterations").
    source: str = "given"
    #: A guaranteed bound, in nats, on how far theta's objective is from the optimum:
    #: ``max(duality_gap, 0) + roundoff``.
    within: float = float("nan")
    #: The round-off budget of ``dual_gradient`` (relative, like it).
    gradient_roundoff: float = float("nan")
    #: The checker's own time.
    seconds: float = float("nan")
    #: The penalty of the problem certified.
    penalty: Penalty = field(default_factory=Penalty)

    @property
    def std_err(self) -> np.ndarray | None:
        """Standard errors at the certified theta: those of the solver's result when theta is
        its own and certified as the optimum, else None (see :attr:`std_err_note`)."""
        return self.dual.std_err if self._own_optimum else None

    @property
    def std_err_note(self) -> str:
        if self._own_optimum:
            return self.dual.std_err_note
        if not self.attained:
            return ("no standard errors: the likelihood has no maximiser (separated data), so "
                    "theta* is at infinity")
        if self.dual is None:
            return "no standard errors for a given theta (they come with a solve: verify)"
        return "no standard errors: theta is not certified as the optimum"

    @property
    def _own_optimum(self) -> bool:
        return (self.ok and self.dual is not None and self.theta is not None
                and np.array_equal(np.asarray(self.dual.theta).reshape(self.theta.shape),
                                   self.theta))

    @property
    def verdict(self) -> str:
        """A one-line summary."""
        if self.ok and not self.attained:
            return (f"OK: the max-entropy optimum equals the likelihood's supremum (not attained),"
                    f" relative gap {self.relative_gap:.1e} (tolerance {self.tol:g})")
        if self.ok:
            return (f"OK: strong duality verified, relative gap {self.relative_gap:.1e} "
                    f"(tolerance {self.tol:g})")
        return "NOT OK: " + "; ".join(self.messages)
