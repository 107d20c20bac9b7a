"""Result objects: one frozen dataclass per solve, and the :class:`Status` of a dual solve.

A result carries what a solver *found*, never a proof a checker should trust:

* :class:`PrimalResult`: CVXPY's primal optimum, its objective, CVXPY's own status string,
  timings;
* :class:`DualResult`: theta, the log-likelihood and the penalised objective, the relative KKT
  residual ``kkt_residual`` at theta, a :class:`Status`, ``converged``, timings and the
  iteration history (``iteration``, ``seconds``, ``objective``, ``kkt_residual`` per iteration)
  that figures plot without recomputing anything. Whether the likelihood's maximiser exists is
  the solver's own claim (``attained``); the projected point and the separation LP that backed
  it are not kept, because :func:`dualmaxent.certify` recomputes every figure from
  (data, theta, penalty);
* :class:`Certificate` and :class:`SeparationCheck`: the checker's figures and verdict
  (:mod:`dualmaxent.certify`, :mod:`dualmaxent.verify`).

The penalty is a specification, not a result: :class:`~dualmaxent.params.Penalty` and
:func:`~dualmaxent.params.make_penalty` live in :mod:`dualmaxent.params` and are re-exported here
for compatibility.
"""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .params import Penalty, make_penalty

__all__ = ["Status", "Penalty", "make_penalty", "PrimalResult", "DualResult",
           "SeparationCheck", "Certificate"]


class Status(str, enum.Enum):
    """How a dual solve ended (``DualResult.status``).

    The value is a short human-readable code, as in optimistix's ``RESULTS`` or scipy's
    ``OptimizeResult.status`` messages: a member equals its code as a string (``Status.CONVERGED
    == "converged"``), prints as it (``f"{status}"``) and is written as it to JSON. The sentence
    with the numbers is :meth:`message`.
    """

    #: the relative KKT residual reached the tolerance
    CONVERGED = ("converged", "relative {measure} {rel:.1e} <= {tol:.3g}")
    #: the iteration cap was reached first
    MAX_ITER = ("max_iter", "reached {max_iter} iterations at relative {measure} {rel:.1e}")
    #: the method could make no more progress (line search at its round-off floor)
    STALLED = ("stalled", "{detail} at relative {measure} {rel:.1e}")
    #: set by :func:`dualmaxent.solve_dual` after the solver: the likelihood has no maximiser
    NOT_ATTAINED = ("not_attained", "the optimum is not attained: {detail}; the solver stopped "
                    "at relative {measure} {rel:.1e} because theta runs off to infinity")
    #: set by the solvers' loop for an objective that cannot run the separation LP (an
    #: engine's, :mod:`dualmaxent.distributed`): theta runs off, by a heuristic, so the
    #: likelihood *may* have no maximiser
    DIVERGED = ("diverged", "{detail}")

    def __new__(cls, code: str, template: str = ""):
        member = str.__new__(cls, code)
        member._value_ = code
        member.template = template
        return member

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def message(self, obj, rel: float, tol: float, max_iter: int,
                detail: str = "the line search found no ascent (round-off floor)") -> str:
        """The status as a sentence.

        Parameters
        ----------
        obj : DualObjective
            The objective solved (its penalty names the measure: the KKT residual for L1, the
            dual gradient otherwise).
        rel : float
            The final relative KKT residual.
        tol, max_iter
            The solve's tolerance and iteration cap.
        detail : str, optional
            What the template's ``{detail}`` says (stalled, not attained, diverged).

        Returns
        -------
        str
        """
        measure = "KKT residual" if obj.penalty.has_l1 else "dual gradient"
        return self.template.format(measure=measure, rel=rel, tol=tol, max_iter=max_iter,
                                    detail=detail)


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

    def __repr__(self) -> str:
        from .display import primal_repr

        return primal_repr(self)

    def _repr_html_(self) -> str:
        from .display import primal_html

        return primal_html(self)


@dataclass(frozen=True, eq=False)
class DualResult:
    """The likelihood (dual) problem, solved numerically: what the solver found.

    Nothing here is a certificate: :func:`dualmaxent.certify` recomputes every figure it
    needs from (data, ``theta``, ``penalty``).

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
    kkt_residual : float
        Relative KKT residual of the dual at theta, the stopping rule's measure
        (``max |gradient| / (1 + max |X^T W Y|)``; for L1 the minimal-norm subgradient; see
        :mod:`dualmaxent.objective`). :attr:`grad_norm` is its deprecated alias.
    converged : bool
        ``status is Status.CONVERGED``.
    iterations : int
    method : str
        The method that ran (``auto`` resolved).
    status : Status
        How the solve ended (``"converged"``, ``"max_iter"``, ``"stalled"``,
        ``"not_attained"``, ``"diverged"``); compares equal to those strings.
    message : str
        The status as a sentence, with the numbers.
    family : str
    penalty : Penalty
    solve_seconds : float
    history : dict of ndarray, each of shape (iterations + 1,)
        ``iteration``, ``seconds`` (since the start), ``objective`` (the penalised objective)
        and ``kkt_residual`` per iteration, the start included.
    forced : ndarray of bool like ``Y``, or None
        The forced entries when the reduced likelihood of separated data was maximised (then
        ``loglik`` is the supremum of the likelihood), else None.
    attained : bool or None
        Whether the solver proved that the likelihood's maximiser exists (None: the question
        does not arise, or was not asked or not settled; see
        ``solve_dual(check_attainment=...)``). The proof itself is not kept.
    """

    theta: np.ndarray
    loglik: float
    canonical_loglik: float
    objective: float
    kkt_residual: float
    converged: bool
    iterations: int
    method: str
    status: Status
    message: str
    family: str
    penalty: Penalty
    solve_seconds: float
    history: dict = field(default_factory=dict)
    forced: np.ndarray | None = None
    attained: bool | None = None
    #: The objective that was maximised (its caches released), for :attr:`std_err`.
    _objective: object = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "status", Status(self.status))

    def __getstate__(self) -> dict:
        """Pickled without the objective, which holds the data set (a fitted estimator's
        pickle was 1.5 times its X: 12 MB at n = 1e5, ten features): :attr:`std_err` is kept
        when computed before, else None after unpickling, with its note."""
        state = dict(self.__dict__)
        state["_objective"] = None
        return state

    @property
    def grad_norm(self) -> float:
        """Deprecated alias of :attr:`kkt_residual`."""
        warnings.warn("DualResult.grad_norm is deprecated; use DualResult.kkt_residual",
                      DeprecationWarning, stacklevel=2)
        return self.kkt_residual

    @cached_property
    def _inference(self):
        from .inference import covariance

        return covariance(self)

    @property
    def covariance(self) -> np.ndarray | None:
        """The covariance of theta's entries, shape (theta.size, theta.size) in theta's C order
        (:func:`dualmaxent.inference.covariance`), or None with the reason in
        :attr:`std_err_note`. Computed on first use: one Hessian pass over ``X``."""
        return self._inference[0]

    @property
    def std_err(self) -> np.ndarray | None:
        """Standard errors laid out like theta (:mod:`dualmaxent.inference`), or None with the
        reason in :attr:`std_err_note`. Computed on first use: one Hessian pass over ``X``."""
        from .inference import std_err_of

        return std_err_of(self._inference[0], np.shape(self.theta))

    @property
    def std_err_note(self) -> str:
        """Why :attr:`std_err` is None, or which of its entries are NaN ("" otherwise)."""
        return self._inference[1]

    @property
    def neg_loglik(self) -> float:
        return -self.loglik

    def __repr__(self) -> str:
        from .display import dual_repr

        return dual_repr(self)

    def _repr_html_(self) -> str:
        from .display import dual_html

        return dual_html(self)


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
    """The duality certificate: the bracket, KKT residuals, agreement, verdict
    (:mod:`dualmaxent.certify`, :mod:`dualmaxent.verify`).

    ``lower_bound``, ``upper_bound``, ``duality_gap`` (``upper - lower``), ``relative_gap`` and
    ``roundoff`` are the bracket of the checker's feasible primal point ``projected``
    (:class:`dualmaxent.certify.Bracket`), always computed; ``dual`` is the solver's result
    when :func:`dualmaxent.verify` solved (provenance, and the standard errors when theta is
    its own; no figure of the bracket is read from it);
    ``entropy``,
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
    def covariance(self) -> np.ndarray | None:
        """The covariance of theta's entries (:attr:`DualResult.covariance`) when
        :attr:`std_err` exists, else None."""
        return self.dual.covariance if self._own_optimum else None

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

    def __repr__(self) -> str:
        from .display import certificate_repr

        return certificate_repr(self)

    def _repr_html_(self) -> str:
        from .display import certificate_html

        return certificate_html(self)

    @property
    def verdict(self) -> str:
        """A one-line summary."""
        if self.ok and not self.attained:
            return (f"OK: the max-entropy optimum equals the likelihood's supremum (not attained),"
                    f" relative gap {self.relative_gap:.1e} (tolerance {self.tol:g})")
        if self.ok:
            return (f"OK: strong duality verified, relative gap {self.relative_gap:.1e} "
                    f"(tolerance {self.tol:g})")
        failures = [text for text in self.messages if text not in self.notes]
        return "NOT OK: " + "; ".join(failures or self.messages)
