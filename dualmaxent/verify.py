"""The verifier: recover the primal from theta* and certify strong duality.

Definitions (``mu_p`` the CVXPY primal optimum, ``theta*`` the dual solver's, ``mu(theta) =
A'(X theta)``, for the categorical family ``P(theta) = softmax(X theta)``; all sums weighted by
``w``; ``scale = 1 + max |X^T W Y|``):

* ``entropy`` ``H(mu_p)`` and, for a penalised problem, the primal objective
  ``H(mu_p) - ||X_R^T W (mu_p - Y)||^2 / (2 lam)`` (L2) or ``H(mu_p)`` (L1).
* ``duality_gap`` = primal objective ``- (-(l(theta*) - penalty(theta*)))``: zero at optimality
  (unpenalised: ``H(P_p) - (-l(theta*))``). ``relative_gap = |gap| / max(1, |l(theta*)|)``.
  Here ``l`` is the *canonical* log-likelihood ``DualResult.canonical_loglik`` (unit variance for
  the gaussian family), the one the duality is about. ``neg_loglik`` is minus the *reported*
  ``DualResult.loglik`` (statsmodels' ``llf``), which differs from it by
  ``extra["loglik_constant"]``: 0 (categorical, Bernoulli), ``-sum_j w_j log(Y_j!)`` (Poisson),
  and for the gaussian family the unit-variance constant plus the profiling of the variance, so
  that ``loglik = -N/2 (log(2 pi RSS / N) + 1)`` with ``N = sum(w)``; unpenalised,
  ``RSS = sum_j w_j Y_j^2 + 2 H(mu*)``, so the entropy alone fixes the reported value.
* ``balance_residual`` = ``max |X^T W (mu_p - Y)| / scale`` over the equality rows (for L1 also
  the excess of ``|X_R^T W (mu_p - Y)|`` over ``lam``).
* ``simplex_residual`` = ``max |P_p 1 - 1|`` (categorical; 0 otherwise) and ``min_entry`` the most
  negative entry of ``mu_p`` (``0`` when none is negative, or for the gaussian family).
* ``dual_gradient`` = ``max |X^T W (Y - mu(theta*))| / scale`` (the balance equations at theta*;
  with a penalty, the relative KKT residual of the penalised dual, see :mod:`.objective`).
* ``p_agreement`` = ``max |mu_p - mu(theta*)|`` for probabilities, divided by
  ``1 + max |mu(theta*)|`` for the Poisson and Gaussian means.
* ``theta_agreement`` = ``max |theta_p - theta*| / (1 + max |theta*|)``, where ``theta_p`` is
  CVXPY's dual of the balance constraint converted by :mod:`.primal` (``theta = -dual_value``,
  same gauge).

``ok`` holds when every figure is within ``tol``, ``min_entry >= -tol`` and both solvers report
success.

Separated data (unpenalised; :func:`dualmaxent.detect_separation` finds forced entries): the
likelihood has no maximiser, ``attained`` is False, and the certificate is about the *reduced*
problems (:mod:`.separation`): the primal without its forced entries and the reduced likelihood
``l_red``, whose maximum is the supremum of ``l``. ``duality_gap`` is then ``H(P_p) - (-max
l_red)``, i.e. the entropy against the supremum (``separation_check.sup_loglik``);
``mu(theta*)`` is the reduced model's mean (zero on the forced entries); ``dual_gradient`` is the
reduced gradient; and ``theta_agreement`` compares the two thetas *on the reduced problem*: each
is replaced by the minimum-norm representative of its class modulo the directions ``l_red``
ignores (the projection ``Q Q^T`` of :class:`dualmaxent.objective.ReducedObjective`), since
theta itself is at infinity. A dual result solved on the full likelihood is never ok on
separated data: its gradient vanishes as theta runs off, so a finite theta certifies nothing.
The LP's direction is checked on its own
(:meth:`.Separation.check_direction`: a recession direction, positive on every forced entry;
``separation_check.direction_violation`` and ``direction_margin``). These figures form the
certificate's :class:`~dualmaxent.results.SeparationCheck`, set for separated data only. The
messages explain the separation.

Each figure is one function below (:func:`duality_gap`, :func:`balance_residual`, ...);
:func:`verify` computes them and assembles the verdict.
"""

from __future__ import annotations

import numpy as np

from .data import Dataset
from .dual import make_objective, solve_dual
from .params import Parameterization
from .primal import solve_primal
from .results import Certificate, DualResult, PrimalResult, SeparationCheck, make_penalty
from .separation import detect_separation

__all__ = ["recover_primal", "verify", "primal_objective", "DEFAULT_TOL", "duality_gap",
           "balance_residual", "simplex_residual", "min_entry", "p_agreement", "theta_agreement",
           "separation_check"]

DEFAULT_TOL = 1e-6


def recover_primal(dataset: Dataset, theta: np.ndarray) -> np.ndarray:
    """The primal point of theta: ``mu = A'(X theta)`` (``softmax(X theta)``, categorical).

    Parameters
    ----------
    dataset : Dataset
    theta : ndarray of shape (m, k) or (m,)

    Returns
    -------
    ndarray of shape (n, k) or (n,)
    """
    theta = np.asarray(theta, dtype=np.float64)
    return dataset.family.mean(dataset.X @ theta)


def primal_objective(dataset: Dataset, mu: np.ndarray, penalty=None) -> float:
    """The primal objective at ``mu``: ``H(mu)`` minus the L2 relaxation term, if any."""
    value = dataset.family.entropy(mu, dataset.weights)
    penalty = make_penalty(penalty=penalty) if penalty is not None else make_penalty()
    if penalty.kind == "l2":
        rows = Parameterization.from_dataset(dataset, penalty).penalized_rows
        S = _balance(dataset, mu)[rows]
        value -= float(np.sum(S**2)) / (2.0 * penalty.lam)
    return value


def verify(
    dataset: Dataset,
    primal: PrimalResult | None = None,
    dual: DualResult | None = None,
    tol: float = DEFAULT_TOL,
    *,
    solver: str = "CLARABEL",
    gauge: str = "pivot",
    method: str = "auto",
    l2: float | None = None,
    l1: float | None = None,
    penalty=None,
    dual_tol: float | None = None,
    solver_options: dict | None = None,
) -> Certificate:
    """Solve both problems (unless given) and certify strong duality.

    Parameters
    ----------
    dataset : Dataset
    primal, dual : PrimalResult, DualResult, optional
        Results to check; solved here when omitted.
    tol : float, default 1e-6
        Tolerance for every figure of the certificate.
    solver, gauge, solver_options
        For :func:`dualmaxent.solve_primal`.
    method, dual_tol
        For :func:`dualmaxent.solve_dual` (``dual_tol`` defaults to the method's own).
    l2, l1, penalty
        The penalty (the same for both problems).

    Returns
    -------
    Certificate
    """
    import warnings

    from .exceptions import DualMaxentError, DualMaxentWarning

    if not (np.isfinite(tol) and tol > 0):
        raise DualMaxentError(f"tol must be a positive number; got {tol}")
    penalty = make_penalty(l2=l2, l1=l1, penalty=penalty)
    separation = detect_separation(dataset) if not penalty.active else None
    separated = separation is not None and separation.separated
    # Separated data: solve the reduced problems (forced entries removed), see .separation
    forced = separation.forced if separated else None
    with warnings.catch_warnings():
        # the certificate reports every doubt itself; don't print it twice
        warnings.simplefilter("ignore", DualMaxentWarning)
        if primal is None:
            primal = solve_primal(dataset, solver=solver, gauge=gauge, penalty=penalty,
                                  forced=forced, **(solver_options or {}))
        if dual is None:
            dual = solve_dual(dataset, method=method, tol=dual_tol, penalty=penalty,
                              forced=forced)
    if primal.penalty != penalty or dual.penalty != penalty:
        raise DualMaxentError("the primal and dual results were solved with other penalties")

    obj = make_objective(dataset, penalty, forced=forced)
    mu_p = primal.mu
    mu_d = obj.mean(dual.theta) if separated else recover_primal(dataset, dual.theta)
    p_obj = primal_objective(dataset, mu_p, penalty)
    gap, relative_gap = duality_gap(p_obj, dual.objective)
    figures = {
        "relative_gap": relative_gap,
        "balance_residual": balance_residual(dataset, mu_p, obj),
        "simplex_residual": simplex_residual(dataset.family, mu_p),
        "dual_gradient": dual.grad_norm,
        "p_agreement": p_agreement(dataset.family, mu_p, mu_d),
        "theta_agreement": theta_agreement(primal.theta, dual.theta, obj if separated else None),
    }
    low = min_entry(dataset.family, mu_p)
    notes, messages, sep_check = [], [], None
    if separated:
        sep_check = separation_check(dataset, separation, obj, dual)
        notes.append(separation.describe(dataset) + "; the max-entropy optimum is compared with "
                     "the likelihood's supremum, the maximum of the reduced likelihood")
        messages += _separation_messages(sep_check, dual, forced, tol)
    messages += _solver_messages(primal, dual)
    messages += _tolerance_messages(figures, low, tol, primal.converged)
    return Certificate(
        entropy=primal.entropy,
        neg_loglik=-dual.loglik,
        duality_gap=gap,
        min_entry=low,
        **figures,
        tol=tol,
        ok=not messages,
        attained=not separated,
        separation=separation,
        messages=tuple(notes + messages),
        primal=primal,
        dual=dual,
        separation_check=sep_check,
        extra={"primal_objective": p_obj, "dual_objective": dual.objective,
               "canonical_loglik": dual.canonical_loglik,
               "loglik_constant": dual.loglik - dual.canonical_loglik},
    )


# -- the figures of the certificate, one function each (definitions in the module docstring) --

def duality_gap(primal_objective: float, dual_objective: float) -> tuple[float, float]:
    """``(gap, relative gap)``: ``primal + dual`` objective (the dual's is ``l - penalty``), and
    ``|gap| / max(1, |dual objective|)``."""
    gap = primal_objective + dual_objective
    return gap, abs(gap) / max(1.0, abs(dual_objective))


def balance_residual(dataset: Dataset, mu: np.ndarray, obj) -> float:
    """``max |X^T W (mu - Y)| / scale`` over the equality rows; for L1 also the excess of the
    penalised rows' ``|X_R^T W (mu - Y)|`` over ``lam``. ``obj`` supplies the penalised rows,
    the penalty and ``scale``."""
    B = _balance(dataset, mu)
    pen_rows = obj.params.penalized_rows
    eq = np.abs(B[~pen_rows]).max() if (~pen_rows).any() else 0.0
    if obj.penalty.kind == "l1" and pen_rows.any():
        eq = max(eq, float(np.maximum(np.abs(B[pen_rows]) - obj.penalty.lam, 0.0).max()))
    return float(eq) / obj.scale


def simplex_residual(family, mu: np.ndarray) -> float:
    """``max |P 1 - 1|`` for the categorical family (rows of P on the simplex), else 0."""
    return float(np.abs(mu.sum(axis=1) - 1.0).max()) if family.multiclass else 0.0


def min_entry(family, mu: np.ndarray) -> float:
    """The most negative entry of ``mu`` (0 when none is, or when the mean is unbounded)."""
    return float(min(np.min(mu), 0.0)) if family.can_separate else 0.0


def p_agreement(family, mu_p: np.ndarray, mu_d: np.ndarray) -> float:
    """``max |mu_p - mu_d|``; divided by ``1 + max |mu_d|`` for means that are not
    probabilities (Poisson, Gaussian)."""
    diff = np.abs(mu_p - mu_d).max()
    if not family.is_probability:
        diff = diff / (1.0 + np.abs(mu_d).max())
    return float(diff)


def theta_agreement(theta_p, theta_d, reduced=None) -> float:
    """``max |theta_p - theta_d| / (1 + max |theta_d|)`` (NaN without a primal theta).

    ``reduced``: the :class:`~dualmaxent.objective.ReducedObjective` of separated data; each
    theta is then replaced by its minimum-norm representative ``Q Q^T theta`` first.
    """
    if theta_p is None:
        return float("nan")
    if reduced is not None:
        theta_p, theta_d = (reduced.theta(reduced.beta(t)) for t in (theta_p, theta_d))
    return float(np.abs(theta_p - theta_d).max() / (1.0 + np.abs(theta_d).max()))


def separation_check(dataset: Dataset, separation, reduced, dual: DualResult) -> SeparationCheck:
    """The separation part of the certificate: the supremum, the sizes and the LP's direction
    checked on its own (:meth:`dualmaxent.separation.Separation.check_direction`)."""
    violation, margin = separation.check_direction(dataset)
    return SeparationCheck(sup_loglik=dual.canonical_loglik,
                           forced_entries=int(separation.forced.sum()),
                           reduced_parameters=reduced.n_params,
                           direction_violation=violation, direction_margin=margin)


# -- the verdict -----------------------------------------------------------------------------

def _separation_messages(check: SeparationCheck, dual: DualResult, forced, tol) -> list[str]:
    messages = []
    # the LP's verdict, checked: a recession direction (violation within tol) that is positive
    # on every forced entry, by more than its own violation and round-off
    if check.direction_violation > tol or not (check.direction_margin
                                               > max(check.direction_violation, 1e-12)):
        messages.append(f"the separation LP's direction does not check: negative slack "
                        f"{check.direction_violation:.1e}, smallest slack on a forced entry "
                        f"{check.direction_margin:.1e} (relative)")
    if dual.forced is None or not np.array_equal(dual.forced, forced):
        messages.append("the dual was not solved on the reduced likelihood: on separated "
                        "data the likelihood has no maximiser (theta* is at infinity), so a "
                        "finite theta certifies nothing; use solve_dual(..., forced="
                        "detect_separation(data).forced)")
    return messages


def _solver_messages(primal: PrimalResult, dual: DualResult) -> list[str]:
    messages = []
    if not primal.converged:
        messages.append(f"the primal solver {primal.solver} reports status '{primal.status}'"
                        + (f" ({primal.message})" if primal.message else ""))
    if not dual.converged:
        messages.append(f"the dual solver ({dual.method}) did not converge: {dual.message}")
    return messages


def _tolerance_messages(figures: dict, low: float, tol: float, primal_converged: bool):
    messages = []
    for name, value in figures.items():
        if np.isnan(value) and not primal_converged:
            continue  # no primal solution to measure; the solver's message says so
        if not (value <= tol):
            messages.append(f"{name} {value:.1e} exceeds the tolerance {tol:g}")
    if low < -tol:
        messages.append(f"the primal has a negative entry {low:.1e}")
    return messages


def _balance(dataset: Dataset, mu: np.ndarray) -> np.ndarray:
    """``X^T W (mu - Y)``, shape (m, k) (categorical) or (m, 1)."""
    R = (mu - dataset.Y).reshape(dataset.n, -1) * dataset.weights[:, None]
    return dataset.X.T @ R

