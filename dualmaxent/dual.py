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
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np

from . import _kernels, progress
from .data import Dataset
from .exceptions import (ConvergenceWarning, DualMaxentError, RankDeficiencyWarning,
                         SeparationWarning)
from .objective import DualObjective, IdentifiedObjective, ReducedObjective, make_objective
from .results import DualResult, Penalty, make_penalty
from .solvers import SOLVERS, History, Status, subsample_start

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
#: 0.58 s; m = 51, k = 10 (ratio 203) 0.56 s vs 10 s.
AUTO_CG_RATIO = 40

#: With an L2 penalty the CG preconditioner is a dense ``p x p`` Cholesky; above this ``auto``
#: falls back to the other rules.
AUTO_CG_DENSE_MAX_PARAMS = 3000


def choose_method(obj: DualObjective) -> str:
    """The method ``auto`` picks for the objective ``obj`` (rules of :func:`solve_dual`)."""
    family, penalty, p = obj.family, obj.penalty, obj.n_params
    if family.quadratic and penalty.kind != "l1":
        return "qr"
    # the curvature's width: two classes take the binary kernel, one product of width m
    # whatever the penalty (:meth:`dualmaxent.families.Categorical.one_pass`)
    width = obj.dataset.m if family.multiclass and obj.dataset.k == 2 else p
    if (penalty.kind != "l1" and family.multiclass
            and width ** 2 > AUTO_CG_RATIO * obj.dataset.m * obj.dataset.k
            and (penalty.kind == "none" or p <= AUTO_CG_DENSE_MAX_PARAMS)):
        return "newton-cg"
    if p > AUTO_NEWTON_MAX_PARAMS:
        return "lbfgs"
    return "newton"  # proximal Newton for L1


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
) -> DualResult:
    """Maximise the log-likelihood (the Lagrange dual of the maximum-entropy primal).

    Parameters
    ----------
    dataset : Dataset
    method : {"auto", "newton", "newton-cg", "lbfgs", "gradient", "qr"}, default "auto"
        ``auto`` picks ``qr`` for an unpenalised or L2 gaussian model, ``newton-cg`` for a
        categorical model whose Hessian is expensive to form (``p^2 > AUTO_CG_RATIO m k``),
        ``lbfgs`` whenever the Hessian has more than ``AUTO_NEWTON_MAX_PARAMS`` rows, and
        ``newton`` otherwise (:func:`choose_method`). With the L1 penalty ``newton`` is the
        proximal Newton method (exact zeros, quadratic convergence) and ``lbfgs`` runs
        L-BFGS-B on the split ``theta = u - v``.
    tol : float, optional
        Target relative dual gradient (KKT residual; see :mod:`dualmaxent.objective`).
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
    theta0 : ndarray of shape (m, k) or (m,), optional
        Warm start.
    forced : ndarray of bool or Separation, optional
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
        On separated data the status is ``not_attained``, ``converged`` is False and a
        :class:`SeparationWarning` is emitted; solve the reduced problem with ``forced=``.

    Returns
    -------
    DualResult
        ``converged`` is False (and a :class:`ConvergenceWarning` is emitted) when the tolerance
        was not reached, or (with a :class:`SeparationWarning`) when the likelihood has no
        maximiser. ``attained`` says whether the maximiser was proved to exist.

    Warns
    -----
    RankDeficiencyWarning
        When the columns of ``X`` are linearly dependent (unpenalised): theta is then the
        minimum-norm maximiser (:mod:`dualmaxent.identifiability`), and the warning names the
        dependencies.
    """
    penalty = make_penalty(l2=l2, l1=l1, penalty=penalty)
    if method not in METHODS:
        raise DualMaxentError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    obj = make_objective(dataset, penalty, forced=forced)
    if method == "auto":
        method = choose_method(obj)
    solver = SOLVERS[method]
    if tol is None:
        tol = solver.default_tol
    if not (np.isfinite(tol) and tol > 0):
        raise DualMaxentError(f"tol must be a positive number; got {tol}")
    problem = solver.unsupported(obj.family, penalty)
    if problem:
        raise DualMaxentError(problem)
    if theta0 is None:
        beta0 = obj.start()
    else:
        theta0 = np.asarray(theta0, dtype=np.float64)
        expected = obj.params.theta_shape
        if theta0.shape != expected:
            raise DualMaxentError(f"theta0 must have shape {expected}; got {theta0.shape}")
        beta0 = obj.beta(theta0)
    if max_iter is None:
        max_iter = solver.default_max_iter
    if isinstance(obj, IdentifiedObjective):
        ident = dataset.identifiability
        warnings.warn(f"the columns of X are linearly dependent (rank {ident.rank} of "
                      f"{ident.m}): {'; '.join(ident.dependencies)}; theta is identified only "
                      "modulo these, and the minimum-norm maximiser is reported",
                      RankDeficiencyWarning, stacklevel=2)
    t0 = time.perf_counter()
    # One BLAS thread for the whole solve, as inside the kernels (see dualmaxent._kernels):
    # its dense algebra is small, and on this 2-core machine under load the eigendecomposition
    # of the projected point's 459 x 459 system (10 classes, m = 51) took 0.85-1.3 s with two
    # threads against 0.02-0.05 s with one.
    with _kernels._one_blas_thread(), progress.bar(f"dual ({method}, n={dataset.n})") as bar:
        hist = History(t0, progress=bar)
        if theta0 is None and solver.warm_start:
            beta0 = subsample_start(obj, beta0, solver, tol)
        beta, status, message = solver.run(obj, beta0, tol, max_iter, hist)
        attainment = (None, None, None)
        if check_attainment:
            attainment = _attainment(dataset, obj, beta, status is Status.CONVERGED)
        if attainment[0] is False:
            status = Status.NOT_ATTAINED
            message = status.message(obj, obj.kkt_residual(beta), tol, max_iter,
                                     detail=attainment[1].describe(dataset))
            warnings.warn(f"{attainment[1].describe(dataset)}; solve the reduced problem with "
                          "solve_dual(..., forced=detect_separation(data).forced), or use "
                          "verify", SeparationWarning, stacklevel=2)
    seconds = time.perf_counter() - t0
    return _dual_result(dataset, obj, beta, status, message, method, hist, seconds, attainment)


def _attainment(dataset, obj, beta, converged: bool):
    """``(attained, separation, projected)``: whether the likelihood's maximiser exists.

    None for a question that does not arise (a penalty keeps theta finite, a gaussian likelihood
    always has a maximiser, the reduced problem of separated data has one by construction).
    Otherwise the projected primal point at the solution proves it when it lies strictly inside
    the domain (:attr:`dualmaxent.projected.ProjectedPrimal.proves_attained`); the separation LP
    decides when that is inconclusive or the solver did not converge.
    """
    from .projected import project_primal
    from .separation import detect_separation

    if obj.penalty.active or obj.forced is not None or not obj.family.can_separate:
        return None, None, None
    projected = None
    if converged:
        theta = obj.theta(beta)
        first, data = obj.last_pass(theta), dataset
        view = obj.family.binary_view(dataset.Y, theta, obj.params.free_classes)
        if view is not None and first is not None:
            # two classes: the same point in the one-column family (the same decision, and
            # the pass costs 0.10 s instead of 0.29 s at n = 10^6, m = 51); the categorical
            # report's second column would mirror the first
            family, Y0, theta = view
            data = dataclasses.replace(dataset, Y=Y0, family=family)
            first = (first[0][:, :1], first[1], first[2])
        projected = project_primal(data, theta, obj.penalty, keep_mu=False, first_pass=first)
        if projected.proves_attained:
            return True, None, projected
    separation = detect_separation(dataset)
    return not separation.separated, separation, projected


def _dual_result(dataset, obj, beta, status: Status | str, message, method, hist, seconds,
                 attainment=(None, None, None)):
    """The :class:`DualResult` of a finished solve (warns when it did not converge, unless the
    status says why: not attained, diverged). Shared by the Dask engine."""
    theta = obj.theta(beta)
    status = Status(status)
    canonical, loglik = obj.reported_loglik(theta)
    converged = status is Status.CONVERGED
    if not converged and status not in (Status.NOT_ATTAINED, Status.DIVERGED):
        # stacklevel: here, solve_dual, its caller
        warnings.warn(f"the {method} dual solver did not converge: {message}", ConvergenceWarning,
                      stacklevel=3)
    return DualResult(
        theta=theta,
        loglik=loglik,
        canonical_loglik=canonical,
        objective=canonical - obj.penalty_value(theta),
        grad_norm=obj.kkt_residual(beta),
        converged=converged,
        iterations=hist.iterations,
        method=method,
        status=status.value,
        message=message,
        family=dataset.family.name,
        penalty=obj.penalty,
        solve_seconds=seconds,
        history=hist.arrays(),
        forced=obj.forced,
        attained=attainment[0],
        separation=attainment[1],
        projected=attainment[2],
        _objective=obj.release(),
    )
