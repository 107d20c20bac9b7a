"""The dual problem: maximise the (penalised) log-likelihood numerically with numpy and scipy.

:func:`solve_dual` validates its input, chooses a method (:func:`choose_method` holds the
``auto`` rules), runs it and builds the :class:`~dualmaxent.results.DualResult`. The objective
is :mod:`dualmaxent.objective` (its conventions: sign, scale, packing, stopping rule), the
methods are :mod:`dualmaxent.solvers`, the packing and gauge of theta :mod:`dualmaxent.params`.

Methods: ``newton`` (exact Hessian, Cholesky, backtracking line search; for L1 the proximal
Newton method, whose subproblems are solved by coordinate descent), ``lbfgs`` (scipy's
L-BFGS-B; for L1 on the split ``theta = u - v``, ``u, v >= 0``), ``gradient`` (plain gradient
ascent with backtracking, for teaching), ``qr`` (gaussian only: least squares by an orthogonal
factorisation, never the normal equations), ``newton-cg`` (truncated Newton: the same line
search and stopping rule, the Newton system solved by preconditioned conjugate gradients on
Hessian-vector products; not for L1) and ``auto``.

The result carries what the solver found (theta, the objective, the relative KKT residual
``kkt_residual``, a :class:`~dualmaxent.results.Status`, the history, and whether it proved the
maximiser to exist), not a certificate: :func:`dualmaxent.certify` computes that from (data,
theta, penalty) alone.

Badly scaled designs
--------------------
A design whose columns' largest entries together with 1 span more than a factor 1e8
(``dualmaxent.data._RESCALE_SPAN``: beyond it the stopping rule cannot see the gradient of the
small columns, and the float32 products of the rank pass overflow from sizes of about 1e19) is
solved on ``X D``: ``D`` diagonal, powers of two bringing every feature column's largest entry to
[0.5, 1), the intercept untouched. Its theta is mapped back, ``theta = D theta_D`` (exact), so that
it maximises the likelihood of ``X`` itself; a :class:`~dualmaxent.exceptions.ScaleWarning` and
the result's ``message`` say so, and ``kkt_residual`` is that of the rescaled problem. The
decision reads the column maxima the data set kept from its scale check; the rescaled copy of
``X`` is the one extra pass, made only then. A penalised fit is not invariant under rescaling the
columns separately: its penalised columns share one factor ``c`` (the penalty's lambda times
``c^2`` for L2, ``c`` for L1), and when their sizes differ too much for that it is solved as
given, with a :class:`~dualmaxent.exceptions.ScaleWarning`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
import time
import warnings

import numpy as np

from . import _kernels, design, exceptions, progress
from .data import (Dataset, require_dataset, _badly_scaled, _factor_text, _power_of_two_scaling,
                   _span_log)
from .exceptions import (DataError, DualMaxentError, RankDeficiencyWarning, ScaleWarning,
                         SeparationWarning, user_stacklevel)
from .objective import DualObjective, IdentifiedObjective, ReducedObjective, make_objective
from .params import Penalty, checked_tol, make_penalty
from .results import DualResult, Status
from .solvers import SOLVERS, History, subsample_start

__all__ = ["solve_dual", "choose_method", "METHODS", "DEFAULT_TOLS", "AUTO_NEWTON_MAX_PARAMS",
           "DualObjective", "ReducedObjective", "make_objective"]

#: The ``method`` names :func:`solve_dual` accepts (the registry's, after ``auto``).
METHODS = ("auto", *SOLVERS)

#: Default target relative dual gradient per method (see :data:`dualmaxent.solvers.SOLVERS`).
DEFAULT_TOLS = {name: s.default_tol for name, s in SOLVERS.items()}

#: ``auto`` uses Newton while the number of free parameters is at most this (Hessian <= 2 MB).
AUTO_NEWTON_MAX_PARAMS = 500

#: ``auto`` prefers ``newton-cg`` for the categorical family when ``p^2 > AUTO_CG_RATIO m k``
#: (``p`` free parameters): forming the Hessian costs ``n p^2`` flops, a Hessian-vector product
#: ``4 n m k``, and a step takes about 5 products. Measured at n = 10^5 with one BLAS thread:
#: m = 11, k = 3 (ratio 15) 0.29 s vs Newton 0.37 s, a tie; m = 51, k = 3 (ratio 68) 0.31 s vs
#: 0.58 s; m = 51, k = 10 (ratio 203) 0.56 s vs 10 s. Measured again at n = 10^3 and 10^4 once
#: the Kronecker preconditioner was applied through eigendecompositions
#: (:meth:`DualObjective._kronecker_psolve`), to 1e-10, Newton-CG's time over Newton's:
#: m = 21, k = 3 with L2 (ratio 63) 0.87 and 0.59, without (ratio 28) 1.07 and 0.84; m = 11,
#: k = 3 with L2 (ratio 31) 1.10 and 0.86, without (ratio 13) 1.32 and 1.14; m = 11, k = 10
#: without (ratio 89) 0.82 and 0.63. So the threshold is 32.
AUTO_CG_RATIO = 32

#: ... and only where a Newton step costs something: forming and factoring the Hessian, about
#: ``n p^2 + p^3 / 3`` flops (``p`` its width), above this. Below it a Newton step takes
#: well under a millisecond, while Newton-CG's 5 to 10 products a step each pay a fixed cost of
#: tens of microseconds (packing, the preconditioner, the BLAS calls on small arrays). Measured
#: (``solve_dual``, to 1e-10, one BLAS thread, best of 15 interleaved runs), Newton-CG's time
#: over Newton's: n = 100, k = 3, m = 51 with L2 (2.3e6 flops) 1.38; n = 100, k = 10, m = 11 with
#: L2 (1.2e6) 1.72; n = 1000, k = 10, m = 11 (1.2e7) 0.98 and 1.01 (L2, none); n = 1000, k = 3,
#: m = 51 (2.3e7) 0.67 and 0.90; n = 100, k = 10, m = 51 with L2 (p^3 / 3 = 4.4e7) 0.19.
AUTO_CG_MIN_FLOPS = 1e7

#: With an L2 penalty the CG preconditioner is a dense ``p x p`` Cholesky; above this ``auto``
#: falls back to the other rules.
AUTO_CG_DENSE_MAX_PARAMS = 3000


def choose_method(obj: DualObjective) -> str:
    """The method ``auto`` picks for the objective ``obj``.

    ``qr`` for an unpenalised or L2 gaussian model; ``newton-cg`` for a categorical model whose
    Hessian is expensive to form (``p^2 > AUTO_CG_RATIO m k``, ``p`` the width of its
    curvature, and ``n p^2 + p^3 / 3 > AUTO_CG_MIN_FLOPS``; with L2 only while ``p <=
    AUTO_CG_DENSE_MAX_PARAMS``); ``lbfgs`` whenever the
    Hessian has more than ``AUTO_NEWTON_MAX_PARAMS`` rows (``newton-cg`` for a sparse X without
    L1); ``newton`` otherwise (the proximal
    Newton method for L1 and the elastic net).
    """
    family, penalty, p = obj.family, obj.penalty, obj.n_params
    if family.quadratic and not penalty.has_l1 and not design.is_sparse(obj.dataset.X):
        return "qr"
    width = obj.curvature_width
    if (not penalty.has_l1 and family.multiclass
            and width ** 2 > AUTO_CG_RATIO * obj.dataset.m * obj.dataset.k
            and obj.dataset.n * width ** 2 + width ** 3 / 3 > AUTO_CG_MIN_FLOPS
            and (penalty.kind == "none" or p <= AUTO_CG_DENSE_MAX_PARAMS)):
        return "newton-cg"
    if p > AUTO_NEWTON_MAX_PARAMS:
        # a sparse design: truncated Newton on sparse products, diagonally preconditioned
        # when wide (:meth:`DualObjective.curvature_operator`); a dense one: L-BFGS
        smooth = not penalty.has_l1
        return "newton-cg" if smooth and design.is_sparse(obj.dataset.X) else "lbfgs"
    return "newton"  # proximal Newton for L1 and the elastic net


def solve_dual(
    dataset: Dataset,
    method: str = "auto",
    tol: float | None = None,
    max_iter: int | None = None,
    l2: float | None = None,
    l1: float | None = None,
    penalty: Penalty | None = None,
    theta0: np.ndarray | None = None,
    forced: np.ndarray | None = None,
    check_attainment: bool = True,
    l1_ratio: float | None = None,
    callback=None,
    slack_tol: float | None = None,
) -> DualResult:
    """Maximise the log-likelihood (the Lagrange dual of the maximum-entropy primal).

    Parameters
    ----------
    dataset : Dataset
        ``X`` of shape (n, m), ``Y`` of shape (n, k) (categorical) or (n,), weights (n,).
    method : {"auto", "newton", "newton-cg", "lbfgs", "gradient", "qr"}, default "auto"
        ``auto`` picks by the rules of :func:`choose_method` (``qr`` for a gaussian model,
        ``newton`` or ``newton-cg`` while the Hessian is affordable, ``lbfgs`` beyond). With
        the L1 penalty ``newton`` is the proximal Newton method (exact zeros, quadratic
        convergence) and ``lbfgs`` runs L-BFGS-B on the split ``theta = u - v``.
    tol : float, optional
        Target relative KKT residual (the dual gradient; see :mod:`dualmaxent.objective`).
        Defaults to the method's own (:data:`dualmaxent.solvers.SOLVERS`, also
        ``DEFAULT_TOLS``): 1e-10 for ``newton``, ``newton-cg`` and ``qr``; 1e-8 for ``lbfgs``,
        whose line search compares values of ``l`` and so cannot resolve a relative gradient
        much below the square root of machine epsilon; 1e-6 for the teaching ``gradient``.
    max_iter : int, optional
        Iteration cap; defaults to the method's own: 100 (newton), 20000 (lbfgs) and 50000
        (gradient).
    l2, l1 : float, optional
        Penalty strength ``lambda`` (at most one).
    penalty : Penalty, optional
        Alternative to ``l2``/``l1``.
    l1_ratio : float, optional
        With ``l1=lam``: the elastic net ``lam (a ||theta_R||_1 + (1 - a)/2 ||theta_R||^2)``,
        ``a = l1_ratio`` in [0, 1] (:func:`dualmaxent.params.make_penalty`); solved by
        proximal Newton (``newton``) or L-BFGS-B on the split (``lbfgs``).
    theta0 : ndarray of shape (m, k) or (m,), optional
        Warm start.
    forced : ndarray of bool like ``Y``, or Separation, optional
        Entries forced by separation: maximise the reduced likelihood ``l_red`` of
        :class:`~dualmaxent.objective.ReducedObjective` instead (unpenalised only). Its maximum
        is the supremum of ``l``; ``theta`` is its minimum-norm maximiser in the pivot gauge,
        and ``loglik`` the supremum. None (default): the full likelihood.
    check_attainment : bool, default True
        For an unpenalised likelihood that can lack a maximiser (every family but the
        gaussian), prove that the maximiser exists before calling the solve converged: a
        vanishing gradient alone does not, because on separated data it vanishes as theta runs
        off to infinity. The proof is the projected primal point of :mod:`dualmaxent.projected`
        (one more pass over ``X``: strictly inside the domain means no separation), and only
        when that is inconclusive the separation LP (:func:`dualmaxent.detect_separation`).
        On separated data the status is ``Status.NOT_ATTAINED``, ``converged`` is False and a
        :class:`SeparationWarning` is emitted; solve the reduced problem with ``forced=``.
    callback : callable, optional
        ``callback(theta_t)`` at every iterate the solver records in ``history`` (one call per
        row, the start included), ``theta_t`` a new array shaped like ``theta``, in the given
        units and gauge. It observes only: the iterates are the same with or without it
        (``dualmaxent verify --trace`` certifies each, :mod:`dualmaxent.trace`).
    slack_tol : float, optional
        With an L2 penalty (no L1 part) and a line-search method (``newton``, ``newton-cg``,
        ``gradient``): past ``tol``, go on while iterations remain and the line search finds
        ascent until the penalised rows' gradient ``g_R`` charges at most ``slack_tol max(1,
        |objective|)`` nats, ``||g_R||^2 / (2 lam)``: the gap that the checker's bracket at
        ``mu(theta)`` itself leaves there (:meth:`~dualmaxent.objective.DualObjective.
        slack_met`; :func:`dualmaxent.verify` asks it where the checker's own step would cost
        more). Convergence is still ``tol``'s.

    Returns
    -------
    DualResult
        ``converged`` is False (and a :class:`ConvergenceWarning` is emitted) when the tolerance
        was not reached, or (with a :class:`SeparationWarning`) when the likelihood has no
        maximiser. ``attained`` says whether the maximiser was proved to exist; the proof
        itself is not kept (:func:`dualmaxent.certify` makes its own).

    Raises
    ------
    DataError
        When theta cannot be represented: the coefficient of a column of tiny entries (about
        1e-308) overflows float64 once mapped back.

    Warns
    -----
    RankDeficiencyWarning
        When the columns of ``X`` are linearly dependent (unpenalised): theta is then the
        minimum-norm maximiser (:mod:`dualmaxent.identifiability`; for a rescaled design, of
        the rescaled problem), and the warning names the dependencies.
    ScaleWarning
        When the design was badly scaled (the module docstring's "Badly scaled designs"): it
        was solved on ``X D`` (``D`` diagonal powers of two) and theta mapped back exactly,
        ``theta = D theta_D``, the result's ``message`` saying so (its ``kkt_residual`` and
        ``history`` are the rescaled problem's); or it could not be rescaled.
    """
    dataset = require_dataset(dataset, "solve_dual")
    penalty = make_penalty(l2=l2, l1=l1, penalty=penalty, l1_ratio=l1_ratio)
    setup, beta0 = _set_up(dataset, method, tol, max_iter, penalty, theta0, forced)
    obj, solver, tol, max_iter = setup.obj, setup.solver, setup.tol, setup.max_iter
    if slack_tol is not None:
        obj.slack_tol = checked_tol(slack_tol)
    with _solving(dataset, setup.method) as hist:
        if callback is not None:
            hist.on_iterate = _theta_callback(setup, callback)
        if theta0 is None and solver.warm_start:
            beta0 = subsample_start(obj, beta0, solver)
        # the start is handed over, not kept: this frame holds no reference to it while the
        # solver runs, so it is freed once the solver's iterate moves on (an (n_params,)
        # vector, 0.39 times the sparse X's bytes on the k = 20 text problem of bench --sparse)
        start = [beta0]
        del beta0
        beta, status, message = solver.run(obj, start.pop(), tol, max_iter, hist)
        attained, status, message = _settle_attainment(dataset, setup, beta, status, message,
                                                        check_attainment)
    result = _dual_result(setup.work, obj, beta, status, message, setup.method, hist,
                          time.perf_counter() - hist.t0, attained)
    if setup.caveat:
        result = dataclasses.replace(result, message=f"{result.message}; {setup.caveat}")
    if setup.scaling is None:
        return result
    return _unscaled_result(dataset, setup.scaling, result, penalty, forced)


def _theta_callback(setup: "_Setup", callback):
    """``on_iterate(beta)`` for :class:`~dualmaxent.solvers.History`: ``callback`` with theta
    (a copy, in the user's units when the design was rescaled)."""
    def on_iterate(beta):
        theta = np.array(setup.obj.theta(beta), dtype=np.float64)
        if setup.scaling is not None:
            with np.errstate(over="ignore"):
                theta = setup.scaling.to_user(theta)
        callback(theta)

    return on_iterate


@dataclasses.dataclass(frozen=True, eq=False)
class _Setup:
    """A validated :func:`solve_dual` call, ready to run (:func:`_set_up`).

    Attributes
    ----------
    work : Dataset
        The data set the solver sees: the user's, or its rescaled copy (``scaling``).
    obj : DualObjective
        The objective on ``work`` (full, reduced or identified).
    scaling : _Rescaling or None
    caveat : str
        What the result's message must add when a badly scaled design could not be rescaled.
    method : str
        The method, ``auto`` resolved.
    solver : Solver
    tol : float
    max_iter : int
    """

    work: Dataset
    obj: DualObjective
    scaling: _Rescaling | None
    caveat: str
    method: str
    solver: object
    tol: float
    max_iter: int


def _set_up(dataset, method, tol, max_iter, penalty: Penalty, theta0,
            forced) -> tuple[_Setup, np.ndarray]:
    """Validate :func:`solve_dual`'s arguments and build what it runs: ``(setup, beta0)``, the
    rescaling of a badly scaled design, the objective, the method and its defaults, and the
    starting point ``beta0`` of shape (n_params,) (``theta0`` packed, rescaled, or the
    objective's own start; not kept on the setup, which lives as long as the solve). Warns (as
    from :func:`solve_dual`'s caller) about a rank-deficient design or one that cannot be
    rescaled."""
    if method not in METHODS:
        raise DualMaxentError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    # the numbers first, before the objective's passes over the data
    tol = None if tol is None else checked_tol(tol)
    if max_iter is not None and (isinstance(max_iter, bool)
                                 or not isinstance(max_iter, numbers.Integral) or max_iter < 0):
        raise DualMaxentError(f"max_iter must be a whole number >= 0; got {max_iter!r}")
    # a badly scaled design is solved with its columns rescaled (exactly, by powers of two) and
    # theta mapped back; ``work`` is the data set the solver sees
    scaling, caveat = _rescaling(dataset, penalty)
    work = dataset if scaling is None else scaling.dataset
    obj = make_objective(work, penalty if scaling is None else scaling.penalty, forced=forced)
    if method == "auto":
        method = choose_method(obj)
    solver = SOLVERS[method]
    if tol is None:
        tol = solver.default_tol
    problem = solver.unsupported(obj.family, penalty)
    if problem:
        raise DualMaxentError(problem)
    beta0 = _starting_point(obj, theta0, scaling)
    if isinstance(obj, IdentifiedObjective):
        _warn_rank_deficient(dataset, work, scaling)
    return _Setup(work=work, obj=obj, scaling=scaling, caveat=caveat, method=method,
                  solver=solver, tol=tol,
                  max_iter=solver.default_max_iter if max_iter is None else max_iter), beta0


def _starting_point(obj: DualObjective, theta0, scaling) -> np.ndarray:
    """``beta0`` of shape (n_params,): the objective's own start, or the warm start ``theta0``
    (shape ``obj.params.theta_shape``, in the user's units) packed for ``obj``."""
    if theta0 is None:
        return obj.start()
    theta0 = np.asarray(theta0, dtype=np.float64)
    expected = obj.params.theta_shape
    if theta0.shape != expected:
        raise DualMaxentError(f"theta0 must have shape {expected}; got {theta0.shape}")
    if scaling is not None:
        theta0 = scaling.to_scaled(theta0)
    return obj.beta(theta0)


def _warn_rank_deficient(dataset, work, scaling) -> None:
    """The :class:`RankDeficiencyWarning` of a rank-deficient design, with the user's columns
    named (a rescaled design's null space mapped back, no pass); for :func:`_set_up`."""
    ident = (dataset.identifiability if scaling is None
             else dataset._identifiability_from(work, scaling.scale))
    units = "" if scaling is None else " (in the rescaled columns' units)"
    warnings.warn(rank_deficiency_message(ident, units), RankDeficiencyWarning,
                  stacklevel=user_stacklevel())


def rank_deficiency_message(ident, units: str = "") -> str:
    """The text of the :class:`RankDeficiencyWarning` of a design's identifiability ``ident``
    (:mod:`dualmaxent.identifiability`), its dependencies in the user's column names."""
    return (f"the columns of X are linearly dependent (rank {ident.rank} of {ident.m}): "
            f"{'; '.join(ident.dependencies)}{ident.near_note}; theta is identified only modulo "
            f"these, and the minimum-norm maximiser{units} is reported")


@contextlib.contextmanager
def _solving(dataset, method: str):
    """The context of a solve: one BLAS thread and a progress bar; yields the solve's
    :class:`~dualmaxent.solvers.History`, its clock (``t0``) started on entry."""
    t0 = time.perf_counter()
    # One BLAS thread for the whole solve, as inside the kernels (see dualmaxent._kernels):
    # its dense algebra is small, and on this 2-core machine under load the eigendecomposition
    # of the projected point's 459 x 459 system (10 classes, m = 51) took 0.85-1.3 s with two
    # threads against 0.02-0.05 s with one.
    with _kernels._one_blas_thread(), progress.bar(f"dual ({method}, n={dataset.n})") as bar:
        yield History(t0, progress=bar)


@dataclasses.dataclass(frozen=True)
class _Runoff:
    """A penalised fit whose intercept runs off (:func:`dualmaxent.separation.intercept_runoff`),
    said as a separation is (:meth:`describe`, :attr:`advice`)."""

    reason: str

    def describe(self, dataset) -> str:
        return (f"{self.reason}, and the penalty does not reach the intercept: the penalised "
                "likelihood has no maximiser")

    advice = "drop what never occurs, or give its observations weight"


def _settle_attainment(dataset, setup: _Setup, beta, status: Status, message: str,
                       check_attainment: bool):
    """``(attained, status, message)`` after the solver stopped at ``beta`` (n_params,): the
    maximiser's existence (:func:`_attainment`, when ``check_attainment``), and for a
    likelihood without one the status :attr:`Status.NOT_ATTAINED`, its message, and a
    :class:`SeparationWarning` (as from :func:`solve_dual`'s caller)."""
    if not check_attainment:
        return None, status, message
    obj = setup.obj
    attained, separation = _attainment(setup.work, obj, beta, status is Status.CONVERGED)
    if attained is False:
        status, message = not_attained(dataset, obj, beta, setup.tol, setup.max_iter,
                                       separation)
    return attained, status, message


def not_attained(dataset, obj, beta, tol: float, max_iter: int, separation):
    """``(Status.NOT_ATTAINED, its message)`` for a solve at ``beta`` whose likelihood has no
    maximiser, said by ``separation`` (a :class:`~dualmaxent.separation.Separation` or a
    :class:`_Runoff`), and its :class:`SeparationWarning` (at the user's line)."""
    status = Status.NOT_ATTAINED
    message = status.message(obj, obj.kkt_residual(beta), tol, max_iter,
                             detail=separation.describe(dataset))
    warnings.warn(f"{separation.describe(dataset)}; {separation.advice}",
                  SeparationWarning, stacklevel=user_stacklevel())
    return status, message


@dataclasses.dataclass(frozen=True, eq=False)
class _Rescaling:
    """How :func:`solve_dual` solves a badly scaled design: on ``dataset`` (``X diag(scale)``,
    ``scale`` powers of two) with ``penalty`` (the user's, or for a penalised fit its lambda
    with the one factor of every penalised column); theta for ``X`` is ``diag(scale)`` times
    theta for ``X diag(scale)``."""

    scale: np.ndarray
    dataset: Dataset
    penalty: Penalty
    span: str  # the factor the user's columns' largest entries span, with 1 (as text)
    widest: int  # the column farthest from size 1

    def to_scaled(self, theta: np.ndarray) -> np.ndarray:
        return theta / (self.scale[:, None] if theta.ndim == 2 else self.scale)

    def to_user(self, theta: np.ndarray) -> np.ndarray:
        return theta * (self.scale[:, None] if theta.ndim == 2 else self.scale)


def _rescaling(dataset, penalty: Penalty):
    """``(rescaling, caveat)``: the :class:`_Rescaling` of a badly scaled in-memory design
    (:func:`dualmaxent.data._badly_scaled`: its columns' largest entries, with 1, span more than
    ``_RESCALE_SPAN``) or None, and what the result's message must add when it cannot be
    rescaled ("" otherwise). From the column maxima the data set kept from its scale check: no
    pass over ``X`` unless it is badly scaled (then one, for the rescaled copy).

    Unpenalised, every feature column is brought to size [0.5, 1) by its own power of two: the
    likelihood depends on theta only through ``X theta``, so the problems are the same. A
    penalty is not invariant under rescaling the columns separately, so a penalised fit scales
    all its penalised columns by one factor ``c`` and the penalty's lambda by ``c^2`` (L2) or
    ``c`` (L1; the elastic net's L2 part by ``c^2`` and its L1 part by ``c``, so its
    ``l1_ratio`` changes too), the same problem again; when the penalised columns' sizes differ
    too much for one factor, it is solved as given, with a :class:`ScaleWarning`.
    """
    if not isinstance(dataset, Dataset):
        return None, ""
    big = dataset._column_max
    if not _badly_scaled(big):
        return None, ""
    rows = dataset._feature_rows()
    widest = int(np.argmax(np.abs(np.log(np.where(big > 0, big, 1.0)))))
    span = _factor_text(_span_log(big))
    if not penalty.active:
        scale, scaled_penalty = _power_of_two_scaling(big, rows), penalty
    else:
        scale = _power_of_two_scaling(big, rows, uniform=True)
        c = float(scale[rows][0]) if rows.any() else 1.0
        with np.errstate(over="ignore", under="ignore"):
            l1_lam, l2_lam = penalty.l1_lam * c, penalty.l2_lam * (c * c)
            lam = l1_lam + l2_lam
        if (_badly_scaled(big * scale) or not np.isfinite(lam)
                or lam < np.finfo(np.float64).tiny
                or (penalty.kind == "elasticnet" and not (l1_lam > 0 and l2_lam > 0))):
            caveat = (f"the features' sizes span a factor {span} (column "
                      f"{dataset.feature_names[widest]!r} reaches {big[widest]:.1e}): a "
                      "penalised fit cannot be rescaled column by column (the penalty would "
                      "change), so it was solved as given and theta may be inaccurate; "
                      "standardise the features")
            warnings.warn(caveat, ScaleWarning, stacklevel=user_stacklevel())
            return None, caveat
        scaled_penalty = Penalty.from_parts(l1_lam, l2_lam)
    return _Rescaling(scale=scale, dataset=dataset._rescaled(scale), penalty=scaled_penalty,
                      span=span, widest=widest), ""


def _unscaled_result(dataset, scaling: _Rescaling, result: DualResult, penalty: Penalty,
                     forced) -> DualResult:
    """The result of the rescaled solve for the user's ``X``: theta mapped back, the objective
    of the user's data kept for the standard errors, and the rescaling said in a
    :class:`ScaleWarning` and in the message. The likelihood and the penalty are unchanged by
    the mapping; ``kkt_residual`` and ``history`` are the rescaled solve's (the stopping rule was
    applied there, where every column's gradient counts).

    Where theta is a minimum-norm representative (rank-deficient or separated data), it is the
    rescaled problem's mapped back: a maximiser for ``X`` all the same, of minimum norm with
    each column measured in units of its size. It is not moved to the minimum norm in the
    user's units: the directions it would move along are known to about 1e-17 in the rescaled
    units only, which in the user's units is an error as large as a big column's coefficient
    itself (measured: a coefficient of 1e-29 moved to 4e-9 on a column of size 1e10)."""
    names = dataset.feature_names
    with np.errstate(over="ignore"):
        theta = scaling.to_user(result.theta)
    lost = (~np.isfinite(theta) & np.isfinite(result.theta)).reshape(len(theta), -1).any(axis=1)
    if lost.any():  # a coefficient of a tiny column beyond float64: no answer exists
        bad = int(np.nonzero(lost)[0][0])
        raise DataError(f"the features' scale is the cause: column {names[bad]!r} reaches only "
                        f"{dataset._column_max[bad]:.1e}, and its coefficient overflows float64;"
                        " standardise it (subtract the mean, divide by the standard deviation)"
                        " and theta scales inversely")
    if not penalty.active and result.forced is None:
        dataset._identifiability_from(scaling.dataset, scaling.scale)  # no rank pass of its own
    obj = make_objective(dataset, penalty, forced=forced)
    how = ("each feature column by its own power of two" if not penalty.active
           else f"one power of two, the {penalty.label} penalty's lambda with it")
    note = (f"the features' sizes span a factor {scaling.span} (column "
            f"{names[scaling.widest]!r} reaches {dataset._column_max[scaling.widest]:.1e}): "
            f"solved with X rescaled ({how}) and theta mapped back to the given scale")
    warnings.warn(note, ScaleWarning, stacklevel=user_stacklevel())
    # the user's penalty: the rescaled one is the same function of the mapped-back theta
    return dataclasses.replace(result, theta=theta, message=f"{result.message}; {note}",
                               penalty=penalty, _objective=obj.release())


#: :func:`_ball_after_refining` takes at most this many Newton-CG steps towards this relative
#: gradient before the separation LP runs, the ball tried after each. Measured (``solve_dual``
#: at tol 1e-4, two classes, m = 51, CPU time, best of 5, two interleaved rounds): n = 10^5
#: 113 -> 97-100 ms, n = 3 x 10^4 12.4-13.5 -> 11.0-11.5 ms (one step proved where two ran to
#: REFINE_TOL); three classes unchanged.
REFINE_STEPS = 3
REFINE_TOL = 1e-9


def _ball_after_refining(obj, beta) -> bool:
    """Whether the curvature ball proves the maximiser's existence at a point a few Newton-CG
    steps beyond ``beta`` (:data:`REFINE_STEPS`, towards :data:`REFINE_TOL`).

    Existence is a property of the data, not of the point that proves it: a point nearer the
    optimum, taken privately (the result keeps the solver's theta), serves the proof as well as
    the solver's own. After a loose solve (tol 1e-4) neither the ball nor the projected point
    proves it (the ball's ``kappa`` is far above 1/2 at such a gradient, and a row sample's
    curvature, the lower bound the projected point may divide by, is the sample's fraction of
    the full one), and the separation LP took minutes and 17 GB on the ten-class headline
    problem (n = 1e5, m = 51); these steps cost a few curvature-vector products. The objective's
    curvature precision is restored (the solver chose it; its result's standard errors read
    it), and the solver's warnings of these private steps are not the user's.
    """
    from .solvers import _newton_cg

    dtype = obj.curvature_dtype
    refined = np.array(beta, dtype=np.float64)
    try:
        # a step at a time, the ball tried after each (a few milliseconds): one step usually
        # serves (from 6.6e-5 to 3.5e-7 at n = 10^5, two classes, m = 51), where all the steps
        # to REFINE_TOL were taken before the one test
        for _ in range(REFINE_STEPS):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                refined, _, _ = _newton_cg(obj, refined, REFINE_TOL, 1,
                                           History(time.perf_counter()))
            theta = obj.theta(refined)
            G = obj.last_gradient(theta)
            if G is not None and _ball_proves(obj.dataset, theta, G):
                return True
            if obj.kkt_residual(refined) <= REFINE_TOL:
                return False
        return False
    except (DualMaxentError, np.linalg.LinAlgError, FloatingPointError):
        return False
    finally:
        obj.curvature_dtype = dtype


def _ball_proves(dataset, theta, G, plain=False) -> bool:
    """Whether the curvature ball at theta (gradient ``G``) proves that the likelihood has a
    maximiser, plain or equilibrated (:func:`dualmaxent.certify.curvature_ball`: columns of very
    different sizes defeat the plain ball alone); ``plain``: the plain ball's result when
    already at hand (False: not yet made)."""
    from .projected import curvature_ball

    ball = curvature_ball(dataset, theta, G) if plain is False else plain
    if ball is not None and ball.proves_attained:
        return True
    scaled = curvature_ball(dataset, theta, G, equilibrate=True)
    return scaled is not None and scaled.proves_attained


def _attainment(dataset, obj, beta, converged: bool):
    """``(attained, separation)``: whether the likelihood's maximiser exists, and the separation
    LP's result when it ran (for the message of a likelihood without one), else None.

    ``attained`` is None for a question that does not arise (a penalty keeps theta finite, a
    gaussian likelihood always has a maximiser, the reduced problem of separated data has one by
    construction). Otherwise theta's own slacks settle complete separation where they prove it
    (:func:`dualmaxent.separation.proved_complete`), the curvature ball of the solution proves
    attainment when its gradient is
    small against a row sample's curvature (:func:`dualmaxent.certify.curvature_ball`), else
    that ball a few private Newton-CG steps further (:func:`_ball_after_refining`), else the
    projected primal point at the solution when it lies strictly inside the domain
    (:attr:`dualmaxent.projected.ProjectedPrimal.proves_attained`: its curvature is the
    solver's last one, :meth:`dualmaxent.objective.DualObjective.last_pass`, whose origin --
    at theta or at an earlier iterate, a scaled row sample or all rows -- the proof turns into
    a proved lower bound of the curvature at theta, or declines);
    the separation LP decides when that is inconclusive or the solver did not converge. Neither
    the point nor the LP's result is kept on the :class:`DualResult`: a checker recomputes its
    own (:func:`dualmaxent.certify`).

    Parameters
    ----------
    dataset : Dataset
        The data set the objective is on.
    obj : DualObjective
    beta : ndarray of shape (n_params,)
        The solver's final point.
    converged : bool
        Whether the solver reached its tolerance (else the LP decides at once).

    Returns
    -------
    attained : bool or None
    separation : Separation or None
    """
    from .projected import curvature_ball, project_primal
    from .separation import detect_separation, intercept_runoff, proved_complete

    if obj.penalty.active and obj.forced is None:
        # the penalty keeps theta finite but for the intercept's rows, which run off only
        # where a class (a response) has no observation of positive weight
        runoff = intercept_runoff(dataset)
        return (None, None) if runoff is None else (False, _Runoff(runoff))
    if obj.penalty.active or obj.forced is not None or not obj.family.can_separate:
        return None, None
    # first the solver's theta itself: where it ran off on completely separated data its
    # slacks prove it (:func:`dualmaxent.separation.proved_complete`, a fraction of a
    # millisecond), before the proofs of attainment below, which cannot succeed there (29 of a
    # 51 ms solve at 100 rows, ten classes, 50 features)
    theta = obj.theta(beta)
    complete = proved_complete(dataset, theta)
    if complete is not None:
        return False, complete
    if converged:
        # first the curvature ball: the last pass's gradient and a row sample's curvature, a
        # few milliseconds (at n = 10^5, m = 51, k = 10: 0.002 s against the projected point's
        # 0.115 s); it proves attainment near any solution solved to a small gradient
        G = obj.last_gradient(theta)
        ball = curvature_ball(obj.dataset, theta, G) if G is not None else None
        if G is not None and _ball_proves(obj.dataset, theta, G, plain=ball):
            return True, None
        # (the solver's last pass, taken before refining moves the objective's cached one)
        first, data = obj.last_pass(theta), dataset
        # then the ball again a Newton-CG step or two further (:func:`_ball_after_refining`),
        # before the projected point: it proves wherever the point does on the sweep's
        # problems and costs less but in a few (``solve_dual`` at tol 1e-4, m = 51, CPU time):
        # ten classes, n = 10^4, 11 ms against the point's 88; n = 10^5, where the point
        # failed and the steps ran after it, 144 ms against 78 + 144; two classes, n = 10^5,
        # 34 against 20 + 34; three classes, n = 10^5, 43 against 39
        if _ball_after_refining(obj, beta):
            return True, None
        view = obj.family.binary_view(dataset.Y, theta, obj.params.free_classes)
        if view is not None and first is not None:
            # two classes: the same point in the one-column family (the same decision, and
            # the pass costs 0.10 s instead of 0.29 s at n = 10^6, m = 51); the categorical
            # report's second column would mirror the first
            family, Y0, theta = view
            data = dataclasses.replace(dataset, Y=Y0, family=family)
            # the curvature's point mapped as theta is (the proof measures the distance
            # between them in the view's coordinates; an unknown point stays unknown)
            at = (None if first.point is None else
                  obj.family.binary_view(dataset.Y, first.point.reshape(len(first[0]), -1),
                                         obj.params.free_classes)[2])
            first = first.replace(G=first[0][:, :1], point=at)
        # the ball's curvature bound (a row sample's, proved at theta on the free entries) is
        # one the projected point's proof may divide by: its residual is of second order
        projected = project_primal(data, theta, obj.penalty, keep_mu=False, first_pass=first,
                                   curvature_bound=ball.curvature_bound if ball else 0.0)
        if projected.proves_attained:
            return True, None
    separation = detect_separation(dataset)
    return not separation.separated, separation


def warn_unconverged(status: Status, method: str, message: str) -> None:
    """Warn with a :class:`~dualmaxent.exceptions.ConvergenceWarning` (scikit-learn's too,
    where it is installed) when a dual solve stopped short of its tolerance: not when it
    converged, nor for separated data (``NOT_ATTAINED``, ``DIVERGED``: the certificate and its
    :class:`~dualmaxent.exceptions.SeparationWarning` say so). Also the estimators', whose
    solve runs inside :func:`dualmaxent.verify` with the dual's warnings held back."""
    if status in (Status.CONVERGED, Status.NOT_ATTAINED, Status.DIVERGED):
        return
    # exceptions.ConvergenceWarning is made on first use (it imports scikit-learn)
    warnings.warn(f"the {method} dual solver did not converge: {message}",
                  exceptions.ConvergenceWarning, stacklevel=user_stacklevel())


def _dual_result(dataset, obj, beta, status: Status | str, message, method, hist, seconds,
                 attained: bool | None = None) -> DualResult:
    """The :class:`DualResult` of a finished solve (warns when it did not converge, unless the
    status says why: not attained, diverged). Shared by the Dask engine.

    Parameters
    ----------
    dataset : Dataset or DaskDataset
        The data set solved (its family names the result's).
    obj : DualObjective
    beta : ndarray of shape (n_params,)
    status : Status or str
    message : str
    method : str
    hist : History
    seconds : float
    attained : bool or None, optional
        The solver's proof of attainment (:func:`_attainment`), None when not settled.
    """
    # the residual first, its packed gradient freed before theta is unpacked: on text k = 20
    # of ``bench --sparse`` beta, theta, the pass's gradient table and the packed gradient
    # were alive together here, the fit's peak (each 0.39 times the sparse X's bytes); the
    # table stays cached, so that the likelihood below is read from the last pass
    kkt = obj.kkt_residual(beta)
    theta = obj.theta(beta)
    status = Status(status)
    canonical, loglik = obj.reported_loglik(theta)
    converged = status is Status.CONVERGED
    warn_unconverged(status, method, message)
    return DualResult(
        theta=theta,
        loglik=loglik,
        canonical_loglik=canonical,
        objective=canonical - obj.penalty_value(theta),
        kkt_residual=kkt,
        converged=converged,
        iterations=hist.iterations,
        method=method,
        status=status,
        message=message,
        family=dataset.family.name,
        penalty=obj.penalty,
        solve_seconds=seconds,
        history=hist.arrays(),
        forced=obj.forced,
        attained=attained,
        _objective=obj.release(),
    )
