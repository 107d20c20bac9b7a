"""The verifier: certify strong duality from theta*, with or without the CVXPY primal.

Symbols: ``theta*`` the dual solver's maximiser, ``mu(theta) = A'(X theta)`` (for the
categorical family ``P(theta) = softmax(X theta)``), ``mu~`` the *projected* primal point built
from theta* (:mod:`dualmaxent.projected`: feasible by construction, checked), ``mu_p`` the CVXPY
primal optimum when CVXPY runs; all sums weighted by ``w``; ``scale = 1 + max |X^T W Y|``.

Which primal (``primal=``)
--------------------------
* ``"projected"``: no CVXPY at all. The certificate is the bracket ``[lower, upper]`` of weak
  duality, two passes over the data.
* ``"cvxpy"``: the CVXPY primal as well, and its figures are binding.
* ``"auto"`` (default): CVXPY only while its problem (distinct rows times the columns of theta)
  has at most ``AUTO_CVXPY_MAX_SIZE`` entries (distinct rows x columns of theta x columns of
  ``X``: the balance constraint's nonzeros), so that it finishes in about 10 s here; then its
  figures are a cross-check (a CVXPY solve that cannot reach the accuracy is reported, not
  binding), and the projected bracket carries the certificate. Above it, ``projected``.

The bracket (always computed; the fields the issue of scale defined)
--------------------------------------------------------------------
* ``lower_bound``: the primal objective at ``mu~``, ``H(mu~)`` (minus
  ``||X_R^T W (mu~ - Y)||^2 / (2 lam)`` for L2); ``upper_bound``: ``-(l(theta*) -
  penalty(theta*))``. Here ``l`` is the *canonical* log-likelihood (unit variance for the
  gaussian family), the one the duality is about.
* ``duality_gap = upper_bound - lower_bound``, ``>= -roundoff`` always (weak duality), and zero at
  the optimum; ``relative_gap = |gap| / max(1, |upper_bound|)``; ``roundoff`` the round-off budget
  of the two sums (:mod:`dualmaxent.projected`).

The point (CVXPY's ``mu_p`` when it ran, else ``mu~``)
-----------------------------------------------------
* ``entropy`` ``H(point)``; ``balance_residual`` = ``max |X^T W (point - Y)| / scale`` over the
  equality rows (for L1 also the excess of ``|X_R^T W (point - Y)|`` over ``lam``);
  ``simplex_residual`` = ``max |P 1 - 1|`` (categorical; 0 otherwise); ``min_entry`` the most
  negative entry (0 when none is, or for the gaussian family).

The cross-check with CVXPY (NaN when it did not run)
----------------------------------------------------
* ``primal_gap`` = ``|upper_bound - primal objective(mu_p)| / max(1, |upper_bound|)``: how close
  CVXPY came.
* ``p_agreement`` = ``max |mu_p - mu(theta*)|`` for probabilities, divided by ``1 + max
  |mu(theta*)|`` for the Poisson and Gaussian means.
* ``theta_agreement`` = ``max |theta_p - theta*| / (1 + max |theta*|)`` between the minimum-norm
  representatives (modulo the null space of ``X`` for a rank-deficient design, modulo the
  directions the reduced likelihood ignores for separated data), ``theta_p`` being CVXPY's
  multipliers converted by :mod:`.primal` (``theta = -dual_value``, same gauge).
* The agreements are judged against the accuracy CVXPY reached, not a fixed number a correct
  solve can miss on ties. The entropy is strongly concave (``-d^2 H / d mu^2 = w / A''``), so a
  feasible point within ``e`` nats of the optimum is within ``sqrt(2 e v / w_min)`` of it
  entrywise (``v`` the largest variance ``A''(eta*)``, 1 for a class table, ``w_min`` the smallest
  positive weight). With ``e`` = CVXPY's distance to the upper bound plus the first-order effect
  of its own residual ``|<theta*, X^T W (mu_p - Y)>|``, the tolerance of ``p_agreement`` is
  ``max(tol, 2 sqrt(2 e v / w_min))``, and that of ``theta_agreement`` the same times
  ``sqrt(condition)`` of the equilibrated Newton system (theta is as well determined as the
  curvature allows). A wrong theta* never hides behind them: the bracket fails first.

``dual_gradient`` = ``max |X^T W (Y - mu(theta*))| / scale`` (with a penalty the relative KKT
residual of the penalised dual, see :mod:`.objective`). ``neg_loglik`` is minus the *reported*
``DualResult.loglik`` (statsmodels' ``llf``), which differs from the canonical one by
``extra["loglik_constant"]``: 0 (categorical, Bernoulli), ``-sum_j w_j log(Y_j!)`` (Poisson), and
for the gaussian family the unit-variance constant plus the profiling of the variance.

The verdict
-----------
``ok`` holds when the dual converged, the bracket closes (``relative_gap <= tol``, ``duality_gap
>= -roundoff``), ``mu~`` lies in the family's domain and satisfies the constraints (balance
residual within ``tol``), the Newton system behind it is not too ill-conditioned to trust
(``condition < 1 / eps``), and, where CVXPY is binding or reported success, its figures agree.

Separated data (unpenalised): the likelihood has no maximiser, ``attained`` is False, and the
certificate is about the *reduced* problems (:mod:`.separation`): the primal without its forced
entries and the reduced likelihood ``l_red``, whose maximum is the supremum of ``l``; ``mu~`` is
built for the reduced problem (zero on the forced entries). A dual result solved on the full
likelihood is never ok on separated data: its gradient vanishes as theta runs off, so a finite
theta certifies nothing. The LP's direction is checked on its own
(:meth:`.Separation.check_direction`); these figures form the certificate's
:class:`~dualmaxent.results.SeparationCheck`. The separation LP runs only when
:func:`dualmaxent.solve_dual` could not prove attainment by the projected point.

Rank-deficient designs: theta is identified modulo the null space of ``X``; the certificate says
so (the dependencies in the columns' names) and compares thetas modulo it.

Each figure is one function below (:func:`duality_gap`, :func:`balance_residual`, ...);
:func:`verify` computes them and assembles the verdict.
"""

from __future__ import annotations

import numpy as np

from . import progress
from .data import Dataset
from .dual import make_objective, solve_dual
from .params import Parameterization
from .primal import solve_primal
from .projected import ProjectedPrimal, project_primal
from .results import Certificate, DualResult, PrimalResult, SeparationCheck, make_penalty
from .separation import detect_separation

__all__ = ["recover_primal", "verify", "verify_dask", "primal_objective", "DEFAULT_TOL", "PRIMAL_MODES",
           "AUTO_CVXPY_MAX_SIZE", "duality_gap", "dual_gradient", "primal_gap", "agreement_tolerances",
           "balance_residual", "simplex_residual", "min_entry", "p_agreement", "theta_agreement",
           "separation_check", "cvxpy_size"]

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


#: The primal modes of :func:`verify` (module docstring).
PRIMAL_MODES = ("auto", "cvxpy", "projected")

#: ``auto`` runs CVXPY while (distinct rows) x (columns of theta) x (columns of X), the nonzeros
#: of its balance constraint, is at most this. Measured on this 2-core machine, otherwise idle,
#: Clarabel with the sized tolerances of :mod:`.primal`: k = 3, m = 11: 6.6e5 entries 11.0 s,
#: 1.1e6 entries 7.7 s (its end game is erratic); k = 10, m = 6: 6e5 entries 11.9 s; binary,
#: m = 51: 2.6e6 entries 15.0 s. Rows x classes alone misjudged the wide binary problem.
AUTO_CVXPY_MAX_SIZE = 1_200_000

#: Above this many observations the projected point solve_dual built (without its table) is
#: reused instead of being built again with the table of ``mu~``.
_REUSE_PROJECTED_ROWS = 100_000


def verify(
    dataset: Dataset,
    primal: PrimalResult | str | None = None,
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
    """Solve the dual (unless given), build the primal from theta*, and certify strong duality.

    Parameters
    ----------
    dataset : Dataset
    primal : {"auto", "cvxpy", "projected"} or PrimalResult, default "auto"
        Which primal to solve (module docstring), or a CVXPY result to check (then ``cvxpy``).
    dual : DualResult, optional
        A dual result to check; solved here when omitted.
    tol : float, default 1e-6
        Tolerance for the figures of the certificate.
    solver, gauge, solver_options
        For :func:`dualmaxent.solve_primal`, when CVXPY runs.
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
    mode, primal = _primal_mode(primal)
    penalty = make_penalty(l2=l2, l1=l1, penalty=penalty)
    solved_here = dual is None
    with warnings.catch_warnings():
        # the certificate reports every doubt itself; don't print it twice
        warnings.simplefilter("ignore", DualMaxentWarning)
        if solved_here:
            dual = solve_dual(dataset, method=method, tol=dual_tol, penalty=penalty)
        separation = _separation(dataset, penalty, dual)
        separated = separation is not None and separation.separated
        # Separated data: the reduced problems (forced entries removed), see .separation
        forced = separation.forced if separated else None
        if separated and solved_here:
            dual = solve_dual(dataset, method=method, tol=dual_tol, forced=forced)
        run_cvxpy, reason = _choose_primal(mode, primal, dataset, dual)
        if run_cvxpy and primal is None:
            # on a terminal, a primal that takes seconds shows the solver's own iterations
            verbose = progress.enabled() and cvxpy_size(dataset) > progress.CVXPY_VERBOSE_SIZE
            primal = solve_primal(dataset, solver=solver, gauge=gauge, penalty=penalty,
                                  forced=forced, verbose=verbose, **(solver_options or {}))
    if dual.penalty != penalty or (primal is not None and primal.penalty != penalty):
        raise DualMaxentError("the primal and dual results were solved with other penalties")
    projected = _projected(dataset, dual, penalty, forced)
    obj = make_objective(dataset, penalty, forced=forced)
    gradient = dual_gradient(obj, dual)
    # the point the figures describe: CVXPY's, unless it returned none (then the projected one)
    point = primal.mu if primal is not None and np.all(np.isfinite(primal.mu)) else None
    cross = _cross_check(dataset, primal, dual, obj, projected, tol) if primal is not None \
        else _NO_CVXPY
    if point is not None:
        point_figures = {"entropy": primal.entropy,
                         "balance_residual": balance_residual(dataset, point, obj),
                         "simplex_residual": simplex_residual(dataset.family, point),
                         "min_entry": min_entry(dataset.family, point)}
    else:
        point_figures = _projected_point(projected)
    notes, messages, sep_check, sep_note = _notes(dataset), [], None, []
    if separated:
        sep_check = separation_check(dataset, separation, obj, dual)
        sep_note = [separation.describe(dataset) + "; the max-entropy optimum is compared with "
                    "the likelihood's supremum, the maximum of the reduced likelihood"]
        messages += _separation_messages(sep_check, dual, forced, tol)
    if not dual.converged:
        messages.append(f"the dual solver ({dual.method}) did not converge: {dual.message}")
    if not gradient <= tol:
        messages.append(f"the dual gradient {gradient:.1e} (relative, recomputed at theta*) "
                        f"exceeds the tolerance {tol:g}")
    messages += _bracket_messages(projected, tol)
    if primal is not None:
        cvxpy_messages = _cvxpy_messages(primal, point_figures, cross, tol, dataset)
        if mode == "cvxpy":
            messages += cvxpy_messages
        else:  # auto: CVXPY is a cross-check; the bracket carries the certificate
            notes += [f"{text}; the certificate rests on the projected bound"
                      for text in cvxpy_messages if not text.startswith("disagreement")]
            messages += [text for text in cvxpy_messages if text.startswith("disagreement")]
    return _certificate(dataset, dual, projected, tol, gradient=gradient, primal=primal,
                        reason=reason, rank=dataset.rank, point=point_figures, cross=cross,
                        notes=notes, failures=messages, sep_note=sep_note, separation=separation,
                        sep_check=sep_check, attained=not separated,
                        primal_objective=projected.lower_bound if point is None
                        else primal_objective(dataset, point, penalty))


_NO_CVXPY = {"primal_gap": np.nan, "p_agreement": np.nan, "theta_agreement": np.nan,
             "p_tol": np.nan, "theta_tol": np.nan}


def _certificate(dataset, dual, projected, tol, *, gradient, primal, reason, rank, point, cross,
                 notes, failures, separation, sep_check, attained, primal_objective,
                 sep_note=()):
    """The :class:`Certificate` from its parts: ``ok`` when nothing failed; the messages are the
    separation's sentence, the notes, then the failures."""
    gap, relative = duality_gap(projected)
    return Certificate(
        entropy=point["entropy"],
        neg_loglik=-dual.loglik,
        duality_gap=gap,
        relative_gap=relative,
        lower_bound=projected.lower_bound,
        upper_bound=projected.upper_bound,
        roundoff=projected.roundoff,
        balance_residual=point["balance_residual"],
        simplex_residual=point["simplex_residual"],
        min_entry=point["min_entry"],
        dual_gradient=gradient,
        primal_gap=cross["primal_gap"],
        p_agreement=cross["p_agreement"],
        theta_agreement=cross["theta_agreement"],
        tol=tol,
        ok=not failures,
        attained=attained,
        separation=separation,
        messages=tuple(sep_note) + tuple(notes) + tuple(failures),
        notes=tuple(notes),
        primal=primal,
        dual=dual,
        projected=projected,
        primal_solver=primal.solver if primal is not None else "projected",
        primal_reason=reason,
        rank=rank,
        separation_check=sep_check,
        extra={"primal_objective": primal_objective, "dual_objective": dual.objective,
               "canonical_loglik": dual.canonical_loglik,
               "loglik_constant": dual.loglik - dual.canonical_loglik,
               "p_tol": cross["p_tol"], "theta_tol": cross["theta_tol"]},
    )


def _projected_point(projected: ProjectedPrimal) -> dict:
    """The point figures of the projected point (module docstring, The point)."""
    return {"entropy": projected.entropy, "balance_residual": projected.balance_residual,
            "simplex_residual": projected.simplex_residual,
            "min_entry": min(projected.min_entry, 0.0)}


def verify_dask(dataset, tol: float = DEFAULT_TOL, *, l2: float | None = None, penalty=None,
                dual_tol: float | None = None, client=None) -> Certificate:
    """Certify a :class:`~dualmaxent.distributed.DaskDataset` from theta*, in passes over chunks.

    The dual is :func:`~dualmaxent.distributed.solve_dual_dask` (Newton, one pass per
    iteration), the certificate the projected point's bracket (the solve's proof of attainment,
    one pass after its last; two passes where it made none), and the rank comes
    from the Gram matrix (one pass). No CVXPY and no separation LP run at this scale: attainment
    is proved by the projected point lying strictly inside the domain, and when the dual
    diverges instead the verdict is "not certified" with a hint to run on a sample in memory.

    Parameters
    ----------
    dataset : DaskDataset
    tol : float, default 1e-6
    l2, penalty
        None or L2 (the L1 penalty needs the data in memory).
    dual_tol : float, optional
    client : distributed.Client, optional

    Returns
    -------
    Certificate
        ``primal`` is None; ``attained`` is True only when proved.
    """
    import warnings

    from .distributed import DIVERGED_MESSAGE, project_primal_dask, solve_dual_dask
    from .exceptions import DualMaxentWarning
    from .identifiability import identify_gram

    penalty = make_penalty(l2=l2, penalty=penalty)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DualMaxentWarning)
        dual = solve_dual_dask(dataset, penalty, tol=dual_tol, client=client)
    engine = dataset.engine(client)
    projected = dual.projected  # the solve's proof of attainment, when it made one
    if projected is None:
        projected = project_primal_dask(dataset, dual.theta, penalty, engine=engine)
    ident = identify_gram(engine.map_reduce(_gram_block), dataset.feature_names)
    hint = ("; run on a sample without --engine dask, where the separation LP decides and the "
            "reduced problem is certified")
    notes, messages = [], []
    if not ident.full_rank:
        notes.append(f"the columns of X are linearly dependent (rank {ident.rank} of {ident.m}):"
                     f" {'; '.join(ident.dependencies)}")
    attained = (penalty.active or not dataset.family.can_separate or projected.proves_attained)
    if dual.status == "diverged":
        messages.append(f"not certified: {DIVERGED_MESSAGE}{hint}")
    elif not dual.converged:
        messages.append(f"the dual solver ({dual.method}) did not converge: {dual.message}")
    elif not attained:
        messages.append("not certified: the projected point is not strictly inside the domain, "
                        f"so the maximiser's existence is not proved{hint}")
    if dual.status != "diverged":  # diverged: theta is at no optimum, the rest would be noise
        if not dual.grad_norm <= tol:
            messages.append(f"the dual gradient {dual.grad_norm:.1e} (relative) exceeds the "
                            f"tolerance {tol:g}")
        messages += _bracket_messages(projected, tol)
    return _certificate(dataset, dual, projected, tol, gradient=dual.grad_norm, primal=None,
                        reason="engine dask: no CVXPY at this scale", rank=ident.rank,
                        point=_projected_point(projected), cross=_NO_CVXPY, notes=notes,
                        failures=messages, separation=None, sep_check=None,
                        attained=bool(attained), primal_objective=projected.lower_bound)


def _gram_block(Xb, Yb, wb):
    """``X_b^T W_b X_b`` of one chunk (engine pass for the rank)."""
    from ._kernels import gram

    return gram(Xb, wb)


def _primal_mode(primal) -> tuple[str, PrimalResult | None]:
    """``(mode, given result)`` from verify's ``primal`` argument."""
    from .exceptions import DualMaxentError

    if primal is None:
        return "auto", None
    if isinstance(primal, PrimalResult):
        return "cvxpy", primal
    if isinstance(primal, str) and primal in PRIMAL_MODES:
        return primal, None
    raise DualMaxentError(f"unknown primal {primal!r}; choose one of {', '.join(PRIMAL_MODES)}"
                          " or pass a PrimalResult")


def _separation(dataset: Dataset, penalty, dual: DualResult):
    """The separation LP's result, run only when attainment is not proved otherwise (or None)."""
    if penalty.active or not dataset.family.can_separate:
        return None
    if dual.separation is not None:
        return dual.separation
    if dual.attained:
        return None
    return detect_separation(dataset)


def cvxpy_size(dataset: Dataset) -> int:
    """(distinct rows of ``X``) x (columns of theta) x ``m``: the size of the CVXPY primal."""
    q = dataset.k if dataset.family.multiclass else 1
    per_row = q * dataset.m
    if dataset.n * per_row <= AUTO_CVXPY_MAX_SIZE or dataset.n * per_row > 20 * AUTO_CVXPY_MAX_SIZE:
        return dataset.n * per_row  # distinct rows cannot change the decision
    X = np.ascontiguousarray(dataset.X)
    rows = X.view(np.dtype((np.void, X.dtype.itemsize * X.shape[1]))).ravel()
    return int(np.unique(rows).size) * per_row


def _choose_primal(mode: str, primal, dataset: Dataset, dual: DualResult):
    """``(run CVXPY?, reason)`` for the mode (module docstring)."""
    if primal is not None:
        return True, "a CVXPY result was given"
    if mode == "cvxpy":
        return True, "asked for (primal='cvxpy')"
    if mode == "projected":
        return False, "asked for (primal='projected')"
    size = cvxpy_size(dataset)
    if size <= AUTO_CVXPY_MAX_SIZE:
        return True, (f"auto: the CVXPY problem has {size} entries <= {AUTO_CVXPY_MAX_SIZE}, "
                      "small enough for about 10 s")
    return False, (f"auto: the CVXPY problem would have {size} entries > {AUTO_CVXPY_MAX_SIZE} "
                   "(too slow); the projected primal certifies instead")


def _projected(dataset: Dataset, dual: DualResult, penalty, forced) -> ProjectedPrimal:
    """The projected point of theta* (reusing solve_dual's for large data, module docstring)."""
    reusable = dual.projected
    if (reusable is not None and forced is None and dataset.n > _REUSE_PROJECTED_ROWS
            and dual.penalty == penalty):
        return reusable
    return project_primal(dataset, dual.theta, penalty, forced=forced)


def _notes(dataset: Dataset) -> list[str]:
    """What the certificate says besides its failures: a rank-deficient design."""
    notes = []
    ident = dataset.identifiability
    if not ident.full_rank:
        notes.append(f"the columns of X are linearly dependent (rank {ident.rank} of {ident.m}):"
                     f" {'; '.join(ident.dependencies)}; theta is identified modulo these, the "
                     "minimum-norm maximiser is reported and thetas are compared modulo them")
    return notes


# -- the figures of the certificate, one function each (definitions in the module docstring) --

def duality_gap(projected: ProjectedPrimal) -> tuple[float, float]:
    """``(gap, relative gap)`` of the bracket: ``upper_bound - lower_bound`` (>= -roundoff by
    weak duality) and ``|gap| / max(1, |upper_bound|)``."""
    return projected.duality_gap, projected.relative_gap


def dual_gradient(obj, dual: DualResult) -> float:
    """The relative KKT residual of the dual, recomputed at ``dual.theta`` (one pass over ``X``),
    not read from the result: a theta that is not the solver's own is judged as it is."""
    return obj.kkt_residual(obj.beta(dual.theta))


def primal_gap(dataset: Dataset, primal: PrimalResult, upper: float, penalty) -> float:
    """How far CVXPY's objective is from the upper bound: ``|upper - primal(mu_p)| / max(1,
    |upper|)``."""
    value = primal_objective(dataset, primal.mu, penalty)
    return abs(upper - value) / max(1.0, abs(upper))


def agreement_tolerances(dataset: Dataset, primal: PrimalResult, dual: DualResult, obj,
                         projected: ProjectedPrimal, tol: float) -> tuple[float, float]:
    """``(p_tol, theta_tol)``: what CVXPY's accuracy allows the agreements (module docstring)."""
    fam, w = dataset.family, dataset.weights
    positive = w > 0
    resid = _balance(dataset, primal.mu)  # X^T W (mu_p - Y)
    eq = ~obj.params.penalized_rows
    theta = np.asarray(dual.theta).reshape(resid.shape)
    distance = (abs(projected.upper_bound - primal_objective(dataset, primal.mu, obj.penalty))
                + float(np.abs(theta[eq] * resid[eq]).sum()))
    if fam.multiclass:
        v = 1.0
    else:
        v = float(fam.variance(dataset.X[positive] @ dual.theta).max(initial=0.0))
    p_tol = max(tol, 2.0 * np.sqrt(2.0 * distance * v / float(w[positive].min())))
    return p_tol, max(tol, p_tol * np.sqrt(max(projected.condition, 1.0)))


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


def theta_agreement(theta_p, theta_d, obj=None) -> float:
    """``max |theta_p - theta_d| / (1 + max |theta_d|)`` (NaN without a primal theta).

    ``obj``: the problem's objective; each theta is first replaced by its minimum-norm
    representative ``obj.theta(obj.beta(theta))`` (modulo the null space of ``X`` for an
    :class:`~dualmaxent.objective.IdentifiedObjective`, modulo the recession directions for a
    :class:`~dualmaxent.objective.ReducedObjective`, the pivot gauge otherwise).
    """
    if theta_p is None:
        return float("nan")
    if obj is not None:
        theta_p, theta_d = (obj.theta(obj.beta(t)) for t in (theta_p, theta_d))
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


def _cross_check(dataset, primal, dual, obj, projected, tol) -> dict:
    """CVXPY's figures and their tolerances (NaN where CVXPY returned no solution)."""
    if primal.theta is None:
        return _NO_CVXPY
    mu_d = obj.mean(dual.theta) if obj.forced is not None else recover_primal(dataset, dual.theta)
    p_tol, theta_tol = agreement_tolerances(dataset, primal, dual, obj, projected, tol)
    return {"primal_gap": primal_gap(dataset, primal, projected.upper_bound, obj.penalty),
            "p_agreement": p_agreement(dataset.family, primal.mu, mu_d),
            "theta_agreement": theta_agreement(primal.theta, dual.theta, obj),
            "p_tol": p_tol, "theta_tol": theta_tol}


def _bracket_messages(projected: ProjectedPrimal, tol: float) -> list[str]:
    """What fails the projected certificate (module docstring, The verdict)."""
    messages = []
    if not projected.relative_gap <= tol:
        messages.append(f"the duality gap {projected.duality_gap:.1e} (relative "
                        f"{projected.relative_gap:.1e}) exceeds the tolerance {tol:g}: theta* is "
                        "not optimal to that precision")
    if projected.duality_gap < -projected.roundoff:
        messages.append(f"the duality gap {projected.duality_gap:.1e} is negative beyond its "
                        f"round-off budget {projected.roundoff:.1e}: weak duality is violated, "
                        "so a computation is wrong")
    if not projected.in_domain:
        messages.append(f"the projected primal point leaves the family's domain (min entry "
                        f"{projected.min_entry:.1e}): theta* is too far from the optimum, or the "
                        "likelihood has no maximiser")
    if not projected.balance_residual <= tol:
        messages.append(f"the projected primal point misses the balance equations by "
                        f"{projected.balance_residual:.1e} (relative)")
    if not projected.condition < 1.0 / np.finfo(float).eps:
        messages.append(f"the Newton system behind the projected point is too ill-conditioned "
                        f"to trust (condition number {projected.condition:.1e})")
    return messages


def _cvxpy_messages(primal: PrimalResult, point: dict, cross: dict, tol: float,
                    dataset: Dataset) -> list[str]:
    """CVXPY's failures, and ``disagreement ...`` for a contradiction with theta*."""
    if not primal.converged or primal.theta is None:
        return [f"the CVXPY primal ({primal.solver}) could not reach the accuracy the problem's "
                f"conditioning demands: status '{primal.status}'"
                + (f" ({primal.message})" if primal.message else "")
                + f", condition number of the weighted design "
                f"{dataset.identifiability.condition:.1e}"]
    messages = []
    for name, value in (("balance_residual", point["balance_residual"]),
                        ("simplex_residual", point["simplex_residual"]),
                        ("primal_gap", cross["primal_gap"])):
        if not value <= tol:
            messages.append(f"the CVXPY primal's {name} {value:.1e} exceeds the tolerance {tol:g}")
    if point["min_entry"] < -tol:
        messages.append(f"the CVXPY primal has a negative entry {point['min_entry']:.1e}")
    if messages:
        return messages  # CVXPY's own accuracy failed: its agreements prove nothing either way
    for name, limit in (("p_agreement", "p_tol"), ("theta_agreement", "theta_tol")):
        if not cross[name] <= cross[limit]:
            messages.append(f"disagreement: {name} {cross[name]:.1e} exceeds what the CVXPY "
                            f"solve's accuracy allows ({cross[limit]:.1e})")
    return messages


def _balance(dataset: Dataset, mu: np.ndarray) -> np.ndarray:
    """``X^T W (mu - Y)``, shape (m, k) (categorical) or (m, 1)."""
    R = (mu - dataset.Y).reshape(dataset.n, -1) * dataset.weights[:, None]
    return dataset.X.T @ R

