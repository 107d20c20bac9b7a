"""The dual solvers: one iteration loop and line search, one direction per method, a registry.

Every solver maximises a :class:`~dualmaxent.objective.DualObjective` (conventions in
:mod:`dualmaxent.objective`: the sign, the scale, the packing of ``beta``, and the stopping rule,
the relative dual gradient or for L1 the relative KKT residual, never the change in theta).

Protocol. A solver is a function ``run(obj, beta0, tol, max_iter, hist) -> (beta, status,
message)``: ``status`` a :class:`~dualmaxent.results.Status` (defined with the results, imported
here), ``message`` its sentence with the numbers, and
``hist`` a :class:`History` it appends one row to per iteration. :data:`SOLVERS` holds one
:class:`Solver` per method: the function, what it supports and its defaults.

Newton, Newton-CG, gradient ascent and proximal Newton share :func:`_ascend`, one iteration loop
around one backtracking line search (:func:`_line_search`); each supplies only its direction and
the ascent it predicts (a :class:`_Direction`). L-BFGS (scipy's L-BFGS-B) and QR (least squares)
are their own short functions.
"""

from __future__ import annotations

import abc
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.linalg
import scipy.optimize

from . import _kernels, design
from . import _numerics as nx
from .exceptions import DualMaxentError, SingularHessianWarning, user_stacklevel
from .objective import DualObjective
from .results import Status

__all__ = ["Status", "Solver", "SOLVERS", "History", "cg_direction", "subsample_start",
           "diverging", "DIVERGED_MESSAGE", "DIVERGENCE_ITERATIONS"]


class History:
    """Per-iteration record: iteration, seconds since the start, objective, relative KKT
    residual."""

    def __init__(self, t0, progress=None):
        self.t0 = t0
        self.rows = []
        #: a progress bar (:mod:`dualmaxent.progress`) advanced once per iteration
        self.progress = progress
        #: ``on_iterate(beta)``, called with each recorded iterate (``solve_dual(callback=)``);
        #: it only reads ``beta``, so the solve's numerics do not change
        self.on_iterate = None

    def add(self, value, kkt_residual, beta=None):
        """Record one iteration: the objective ``value`` and the relative ``kkt_residual`` at
        the iterate ``beta`` (handed to :attr:`on_iterate`, when set)."""
        self.rows.append((len(self.rows), time.perf_counter() - self.t0, value, kkt_residual))
        if self.on_iterate is not None and beta is not None:
            self.on_iterate(beta)
        if self.progress is not None:
            self.progress.update()
            self.progress.set_postfix_str(f"relative gradient {kkt_residual:.1e}")

    @property
    def iterations(self) -> int:
        return max(len(self.rows) - 1, 0)

    def arrays(self) -> dict:
        """``DualResult.history``: ``iteration``, ``seconds``, ``objective`` (the penalised
        objective) and ``kkt_residual``, each an ndarray of shape (rows,)."""
        a = np.array(self.rows, dtype=np.float64).reshape(-1, 4)
        return {"iteration": a[:, 0].astype(int), "seconds": a[:, 1], "objective": a[:, 2],
                "kkt_residual": a[:, 3]}



class _Direction(abc.ABC):
    """One method's step for :func:`_ascend`: its direction and the ascent it predicts.

    The line search accepts ``beta + t d`` (``t = 1, 1/2, ...``) once the objective rises by
    ``armijo t predicted`` (Armijo's rule, Boyd & Vandenberghe 9.2); ``roundoff_rule`` adds the
    round-off acceptance of :func:`_line_search`.
    """

    armijo = 1e-4
    roundoff_rule = True
    #: whether the accepted step is refined along its line (:func:`_secant_step`)
    secant_step = False
    #: whether :meth:`step` takes the gradient in a one-element list, to pop and overwrite
    consumes_gradient = False

    def objective(self, obj: DualObjective, beta, smooth: float) -> float:
        """The value the method ascends, from the smooth part ``obj.smooth_value_grad`` gives."""
        return smooth

    @abc.abstractmethod
    def step(self, obj: DualObjective, beta, grad, rel) -> tuple[np.ndarray, float]:
        """``(d, predicted)``: the direction and the ascent predicted for the full step."""

    def accepted(self, t: float) -> None:
        """Called with the accepted step fraction ``t``."""

    def prefetch_hessian(self, rel: float, tol: float) -> bool:
        """Whether to form the Hessian with the value at the full step (one pass over X)."""
        return False

    def initial_hessian(self) -> bool:
        """Whether to form the Hessian with the value at the starting point."""
        return False


def _ascent_or_gradient(step, grad) -> tuple[np.ndarray, float]:
    """``(step, g^T step)``, or the gradient itself when ``step`` is not an ascent direction."""
    slope = float(grad @ step)
    if not slope > 0:
        return grad, float(grad @ grad)
    return step, slope


def _newton_curvature(obj: DualObjective, beta):
    """``-H`` at beta and its Cholesky factor (None when singular).

    A float32 curvature (:func:`_curvature_precision`) that fails to factor is formed again in
    float64 before the step gives up on Cholesky.
    """
    while True:
        N = -obj.hessian(beta)
        try:
            return N, nx.cholesky(N)
        except np.linalg.LinAlgError:
            if obj.curvature_dtype == np.float64:
                return N, None
            obj.curvature_dtype = np.float64
            obj.forget()


#: Newton keeps its last Hessian factorisation for the next step when the last step shrank
#: the relative gradient by at least this factor: the step with a stale Hessian then still
#: gains about as many digits, for one gradient pass (0.04 s at n = 10^6, m = 51) instead of
#: a Hessian pass (0.18 s in float32). A step that contracts less forms a fresh Hessian.
#: Measured at n = 10^6, m = 51 from the subsample's start (relative gradient 7e-3): fresh
#: float32 Hessians every step, 7e-3 -> 9e-5 -> 7e-8 -> 5e-14 in 0.55 s; the subsample's
#: Hessian kept throughout, 7e-3 -> 3e-4 -> 1e-5 -> 7e-7 -> 5e-8 -> 3e-9 -> 2e-10 -> 1e-11
#: (about 0.05 per step) in 0.41 s, seven gradient passes and no Hessian pass.
REUSE_RATIO = 0.1
#: Below :data:`LARGE_ROWS`, Newton reuses a factorisation (:data:`REUSE_RATIO`) from this
#: many rows and this wide a curvature on (:attr:`DualObjective.curvature_width`: ``m`` for
#: two classes, the free parameters otherwise), where a Hessian pass costs several gradient
#: passes (n = 10^4, m = 51, two classes: 1.7 ms against 0.34 ms; ten features, three classes,
#: width 22 unpenalised, 32 with L2: 2.3 ms against 0.48 ms)... The width was the design's
#: before, and three classes of ten features formed a fresh Hessian every step; measured
#: (``MaxEntClassifier`` at its defaults, best of 15 interleaved, one BLAS thread), before ->
#: after: n = 10^3 L2 3.67 -> 3.40 ms, unpenalised 3.23 -> 3.06; n = 3 x 10^3 unpenalised
#: 5.55 -> 5.10; five classes, n = 3 x 10^3 L2 9.43 -> 7.58; at n = 10^4 after the L-BFGS
#: start, two Hessian passes -> one (the solve 12.5 -> 11.0 ms with L2, 12.9 -> 11.4
#: unpenalised).
REUSE_MIN_ROWS = 1_000
REUSE_MIN_WIDTH = 20
#: ... and does not form the next Hessian with the full step's value when the stale factor's
#: predicted contraction (the last contraction squared, :meth:`_NewtonStep.prefetch_hessian`)
#: is at most this; before any step has been seen (after the L-BFGS start) the quadratic
#: constant is taken as :data:`STALE_FIRST` (measured about 50, relative gradients, two classes,
#: m = 50, n = 10^4). Measured (``MaxEntClassifier().fit``, certificate included, two classes,
#: 50 features, the best of seven to nine, interleaved), without -> with: n = 10^3 L2
#: 3.79 -> 3.65 ms, unpenalised 4.20 -> 4.01; n = 10^4 unpenalised (no L-BFGS start)
#: 24.6 -> 21.3; with the L-BFGS start n = 10^4 L2 16.1 -> 14.6, unpenalised 18.4 -> 16.7;
#: n = 3 x 10^4 L2 50.4 -> 47.9, unpenalised 54.5 -> 48.1; m = 20, n = 10^4 unpenalised
#: 9.6 -> 9.1. Tried: STALE_CONTRACTION 0.1 (n = 10^3 L2 4.00 ms, n = 10^4 unpenalised
#: 22.1 ms) and 0.001 (3.80, 22.7); STALE_FIRST 1000 (the first step always prefetching: no
#: gain) and 0 (never: the same times within noise, but a cold start's second Hessian then
#: costs a pass of its own).
STALE_CONTRACTION = 0.01
STALE_FIRST = 100.0
#: A reused factorisation is first corrected by the BFGS update of the last step
#: (:func:`_secant_update`) where refactoring costs at most this share of a gradient pass's
#: multiply-adds (``p^3 / 3`` against ``2 n m q``). The stale factor's steps contract at a fixed
#: rate (its distance from the Hessian at the maximiser, about 0.05 for the subsample's); each
#: secant pair removes that error along the step taken (Dennis and More's condition), so the
#: contraction improves from step to step. Measured (``MaxEntClassifier(certify=False).fit``,
#: one BLAS thread, best of five interleaved, from the subsample's start; before -> after): two
#: classes, ten features, n = 10^5 L2 20.2 -> 18.8 ms, 3 x 10^5 unpenalised 58.1 -> 52.2 ms,
#: 10^6 L2 217 -> 190 ms (seven gradient passes -> six, 2e-4 -> 8e-12 in four instead of
#: five); three classes, ten features, 10^6 unpenalised 488 -> 426 ms; where the factor is not
#: reused the same iterations as before.
SECANT_UPDATE_SHARE = 0.1


class _NewtonStep(_Direction):
    """Damped Newton: ``-H s = g`` by Cholesky (Boyd & Vandenberghe 9.5).

    A factorisation is reused while the steps contract fast (:data:`REUSE_RATIO`), and the
    first one may be the scaled-up Hessian of a subsample (:func:`subsample_start`,
    :meth:`~dualmaxent.objective.DualObjective.seeded_hessian`). Below :data:`LARGE_ROWS` the
    reuse runs from :data:`REUSE_MIN_ROWS` rows and :data:`REUSE_MIN_WIDTH` columns on; wherever
    it runs, the next Hessian is not formed at the full step when the stale one is predicted to
    serve (:meth:`prefetch_hessian`).

    Tried at mid size and dropped (``MaxEntClassifier().fit``, two classes, 50 features,
    certificate included, the best of nine): the secant step of Newton-CG
    (:func:`_secant_step`), seven iterations instead of eight or nine but slower, n = 10^3 L2
    3.94 ms against 3.63, n = 10^4 unpenalised 25.9 against 23.5; float32 Hessians from
    n = 10^3 on (:func:`_curvature_precision`, its bound met there), 3.51 against 3.63 and
    22.3 against 23.5, within the noise of a shared machine (a Hessian pass at n = 10^4,
    m = 51: 1.48 ms against 1.66; ``ssyrk`` gains little on blocks of 1285 rows).
    """

    def __init__(self, obj: DualObjective):
        seed = obj.seeded_hessian()
        self.factor = None  # (-H, its Cholesky factor) of the last fresh Hessian
        if seed is not None:
            try:
                self.factor = (-seed, nx.cholesky(-seed))
            except np.linalg.LinAlgError:
                pass
        self.last_rel = None
        self.last_point = None  # (beta, grad) of the last step, for the secant update
        self.contraction = None  # rel / last_rel of the last step
        self.seeded = self.factor is not None
        self.prefetch = self.factor is None
        self.prefetched = False  # whether the accepted point's Hessian was formed with it
        self.asked = False
        n = obj.dataset.n
        self.secant = obj.n_params ** 3 / 3.0 <= SECANT_UPDATE_SHARE * _pass_madds(obj)
        # (where reuse is allowed, the prefetch is also skipped when the stale factor is
        # predicted to serve, :meth:`prefetch_hessian`, at every n: at n = 10^5, two classes,
        # 50 features, after the L-BFGS start, the Hessian formed at 1e-5 took the step to
        # 1e-10, and a prefetched second one was never used; 81 -> 68 ms to 1e-10; with the
        # subsample's start at n = 10^6, no change)
        self.reuse_allowed = obj.reuses_curvature and (n >= LARGE_ROWS or (
            n >= REUSE_MIN_ROWS and obj.curvature_width >= REUSE_MIN_WIDTH))
        #: False where the start is known to meet the tolerance already (:func:`_newton`):
        #: the first pass then forms no Hessian that no step would use
        self.start_hessian = True

    def initial_hessian(self) -> bool:
        return self.factor is None and self.start_hessian

    def prefetch_hessian(self, rel, tol):
        # The full step is almost always accepted, so form the next Hessian in the same pass
        # over X when this step's was fresh (the last contraction was slow, and so will be the
        # next), unless quadratic convergence predicts this is the last iteration
        # (rel^2 <= tol) and the Hessian would be wasted. Where reuse is allowed: with
        # Newton's quadratic constant c = rel / last_rel^2, the next residual is about
        # c rel^2 and a step from there with this Hessian contracts by about c rel =
        # contraction^2 (the curvature's change over a step of the size of the error):
        # skipped when that is at most STALE_CONTRACTION.
        stale = self.contraction ** 2 if self.contraction is not None else STALE_FIRST * rel
        self.asked = self.prefetch and rel * rel > tol and not (
            self.reuse_allowed and stale <= STALE_CONTRACTION)
        return self.asked

    def accepted(self, t):
        self.prefetched = self.asked and t == 1.0

    def step(self, obj, beta, grad, rel):
        # the subsample's Hessian serves the first step wherever it was given (its pass was
        # saved); later ones are reused only where a gradient pass is much cheaper, and never
        # when the Hessian at beta was already formed with the line search's value
        seeded, self.seeded = self.seeded, False
        prefetched, self.prefetched = self.prefetched, False
        if self.last_rel is not None:
            self.contraction = rel / self.last_rel if self.last_rel > 0 else 0.0
        reuse = self.factor is not None and not prefetched and (
            seeded or self.reuse_allowed and (
                self.last_rel is None or rel <= REUSE_RATIO * self.last_rel))
        self.last_rel = rel
        last, self.last_point = self.last_point, (np.array(beta), np.array(grad))
        # the next step's Hessian with this one's full step, unless it may be reused
        self.prefetch = not (reuse and self.reuse_allowed)
        if reuse and self.secant and last is not None:
            self.factor = _secant_update(self.factor, beta - last[0], last[1] - grad)
        if reuse:
            N, c = self.factor
        else:
            N, c = _newton_curvature(obj, beta)
            self.factor = None if c is None else (N, c)
        H = -N
        try:
            if c is None:
                raise np.linalg.LinAlgError
            s = nx.cho_solve(c, grad)
        except np.linalg.LinAlgError:
            # Singular Hessian (collinear features, or probabilities saturated at 0/1 on
            # separated data): take the minimum-norm least-squares step instead, and say so.
            warnings.warn("singular Hessian in Newton's method; using a least-squares step",
                          SingularHessianWarning, stacklevel=user_stacklevel())
            s = np.linalg.lstsq(-H, grad, rcond=None)[0]
        return _ascent_or_gradient(s, grad)


def _secant_update(factor, s, y):
    """``(N, its Cholesky factor)`` corrected by the BFGS update of the step ``s`` and the
    change ``y = -(g_new - g_old)`` of the gradient over it: ``N + y y^T / (y^T s) - N s s^T N /
    (s^T N s)``, which meets the secant equation ``N_new s = y`` (Nocedal and Wright, *Numerical
    Optimization*, 2nd ed., eq. 6.19) and stays positive definite when ``y^T s > 0``, as it is
    for a strictly concave objective. ``factor`` is returned unchanged where that curvature
    condition fails (to a millionth of ``|y| |s|``, rounding) or the update does not factor."""
    N = factor[0]
    Ns = N @ s
    ys, sNs = float(y @ s), float(s @ Ns)
    if not (ys > 1e-6 * float(np.linalg.norm(y) * np.linalg.norm(s)) and sNs > 0):
        return factor
    updated = N + np.outer(y, y / ys) - np.outer(Ns, Ns / sNs)
    try:
        return updated, nx.cholesky(updated)
    except np.linalg.LinAlgError:
        return factor


class _NewtonCGStep(_Direction):
    """Truncated Newton: ``-H s = g`` by preconditioned CG (:func:`cg_direction`), within a trust
    radius once a step's ascent has fallen well short of the model's (:data:`TR_SHRINK_RATIO`)."""

    secant_step = True
    consumes_gradient = True

    def __init__(self, obj: DualObjective, tol: float):
        # CG need not make the step's residual smaller than the solve's target
        # (:func:`cg_direction`'s ``floor``)
        self.floor = CG_FLOOR * tol * obj.scale
        self.tol = tol
        #: the multiple of CG's step the line search tries first (:func:`_secant_step` sets it
        #: from the last step's slopes, :data:`SECANT_CARRY`)
        self.scale = 1.0
        #: the longest step (2-norm) the next direction may take (:data:`TR_SHRINK_RATIO`):
        #: none until a step's ascent falls short of the model's
        self.radius = np.inf
        #: this iteration's direction: its multiple of CG's step, its length, and whether the
        #: radius stopped CG (the step then on the radius)
        self.multiple, self.length, self.capped = 1.0, 0.0, False

    def step(self, obj, beta, held, rel):
        # CG's residual is the gradient itself, overwritten (one (p,) vector less during the
        # products: 0.39 times the sparse X's bytes on the text k = 20 problem); its slope
        # g^T s comes from CG's own sums
        if not obj.fresh_gradient:  # the objective keeps this array: CG works on a copy
            held.append(np.array(held.pop(), dtype=np.float64))
        c = self.scale  # (the step tried first is c s: CG's radius is the trust radius / c)
        # (handed on: CG drops it once its residual is formed, on theta's table for a wide
        # sparse design, :meth:`DualObjective.curvature_system`)
        # (past the tolerance, going on for an L2 fit's slack, DualObjective.slack_met: the
        # forcing term alone, whose residual the floor would already have met)
        s, slope = cg_direction(obj, beta, held, rel,
                                floor=self.floor if rel > self.tol else 0.0, overwrite=True,
                                radius=self.radius / c)
        if c != 1.0:  # (g^T (c s) = c g^T s: the slope scales with the step)
            s *= c
            slope *= c
        self.multiple = c
        self.length = float(np.linalg.norm(s))
        self.capped = self.length >= self.radius * (1.0 - 1e-9)
        return s, slope

    def measured(self, t: float, slope0: float, slope: float, rise: float | None = None) -> None:
        """The step accepted at ``t`` along this iteration's direction, whose slope fell from
        ``slope0`` to ``slope`` there and ``F`` rose by ``rise`` (None: within its round-off):
        the next direction's first trial (:data:`SECANT_CARRY`) and trust radius
        (:data:`TR_SHRINK_RATIO`)."""
        if rise is not None and slope0 > 0:
            # the model's ascent at t d, d = c s: t g^T d - t^2 d^T N d / 2, with s^T N s = g^T s
            # (CG's iterates; at most that on the radius, where the ratio then errs high)
            model = slope0 * (t - 0.5 * self.multiple * t * t)
            if model > 0:  # (not beyond the model's maximum, a carried multiple of 2 or more)
                ratio = rise / model
                if ratio < TR_SHRINK_RATIO:
                    self.radius = 0.5 * t * self.length
                elif ratio > TR_EXPAND_RATIO and self.capped:
                    self.radius *= 2.0
        # a step the radius cut is no measure of how far Newton's steps fall short
        self.scale = 1.0 if self.capped else _carried_scale(self.scale, t, slope0, slope)


class _GradientStep(_Direction):
    """Plain gradient ascent (the GLM note's update, made safe by the line search).

    The step size carries over between iterations and doubles after each accepted step, so
    that backtracking trims it only when needed.
    """

    armijo = 0.5
    roundoff_rule = False

    def __init__(self, obj: DualObjective):
        self.size = 1.0 / obj.scale

    def step(self, obj, beta, grad, rel):
        return self.size * grad, self.size * float(grad @ grad)

    def accepted(self, t):
        self.size *= 2.0 * t


class _ProxNewtonStep(_Direction):
    """L1: proximal Newton ascent (Lee, Sun & Saunders 2014; newGLMNET, Yuan, Ho & Lin 2012).

    Each step maximises the second-order model of ``l`` at ``beta`` minus the exact L1 term
    (for the elastic net ``l`` is the smooth part, the likelihood minus the L2 term, and
    ``lam`` its L1 strength ``lam a``: :attr:`dualmaxent.params.Penalty.l1_lam`),

        z = argmin_z  1/2 z^T N z - c^T z + lam ||z_R||_1,   N = -H,  c = g + N beta,

    with :func:`_l1_quadratic`; the direction is ``z - beta`` and the objective ``F = l -
    lam ||theta_R||_1`` must rise by a fraction of the model's prediction (Lee et al., eq. 2.9).
    Why not only L-BFGS-B on ``theta = u - v``: its stopping test compares values of ``l``, so it
    stalls near a relative KKT residual of 1e-8 (measured on the categorical factory of the
    tests: 2.2e-8), and it never sets a coefficient exactly to zero, so the active boxes of the
    primal cannot be read off its theta. The model is exact in the zero pattern, and near the
    optimum the step is Newton's on the active set, so the convergence is quadratic and the
    zeros are exact zeros.
    """

    def __init__(self, obj: DualObjective):
        self.lam = obj.penalty.l1_lam
        self.pen = obj.params.penalized
        self.lamv = np.where(self.pen, self.lam, 0.0)
        self.shifts = _class_shift_groups(obj)

    def objective(self, obj, beta, smooth):
        return smooth - self.lam * float(np.abs(beta[self.pen]).sum())

    def initial_hessian(self) -> bool:
        return True  # every step's model needs the Hessian at its iterate

    def prefetch_hessian(self, rel, tol):
        # the next model's Hessian with the full step's value, in the same pass over X (on an
        # engine one pass per iteration instead of two), unless quadratic convergence predicts
        # the last iteration (rel^2 <= tol), as for Newton's step
        return rel * rel > tol

    def step(self, obj, beta, grad, rel):
        N = -obj.hessian(beta)
        # the subproblem to a forcing fraction of the current residual, as CG's in Newton-CG
        # (min(CG_FORCING_MAX, sqrt(rel)) rel, in the units of the gradient)
        z = _l1_quadratic(N, grad + N @ beta, self.lamv, beta,
                          tol=min(CG_FORCING_MAX, np.sqrt(rel)) * rel * obj.scale,
                          shifts=self.shifts)
        d = z - beta
        # the model's predicted rise of F for the full step (>= 0; Lee et al. eq. 2.9)
        predicted = float(grad @ d) - self.lam * (float(np.abs(z[self.pen]).sum())
                                                  - float(np.abs(beta[self.pen]).sum()))
        return d, predicted


def _line_search(obj: DualObjective, beta, F, rel, d, predicted, direction: _Direction,
                 hessian: bool, max_halvings: int = 60):
    """Backtracking on ``beta + t d``: ``(t, beta, grad, F)`` at the accepted point, or None.

    Armijo's test ``F(beta + t d) >= F + armijo t predicted``. Near the optimum the predicted
    ascent (for Newton ``g^T s / 2``, the squared Newton decrement over 2) falls below the
    round-off in ``F`` itself, and the test on values becomes noise; there (``roundoff_rule``)
    the full step is accepted when it shrinks the relative residual, the quantity we stop on.
    ``hessian``: form the curvature with the value at the full step (cached by ``obj``).

    An objective whose passes are expensive (an engine's, :attr:`DualObjective.line_batch` > 1)
    judges a step by its value alone (:meth:`DualObjective.smooth_value`), asks for its
    gradient only once it is accepted, and evaluates the shorter step lengths that many at a
    time in one pass (:meth:`DualObjective.prefetch_line`), once the full step has failed: the
    full step alone first, since Newton's is almost always accepted and a value costs about as
    much as a gradient (a product with ``X`` and a transcendental per entry). In memory a value
    and its gradient come from the same pass anyway, and both are asked for at once
    (:func:`_value_at`).

    Memory: ``beta`` (a contiguous float64 vector) is moved along the line in place, ``beta +=
    (t - t_before) d`` (BLAS's axpy), so that no second point is alive through a trial's pass:
    on return it is the accepted point (the tuple's), or, when None, back at the start to the
    rounding of the moves (a few units in the last place). Measured on text k = 20 of ``bench
    --sparse``: the fit's peak was this pass, with the start and the trial point alive, each
    0.39 times the sparse X's bytes.
    """
    noise = 1e-12 * (1.0 + abs(F))
    batch = obj.line_batch
    t, at = 1.0, 0.0  # the trial step, and where beta stands (the start plus at d)
    cand = beta
    for i in range(max_halvings):
        if batch > 1 and i >= 1 and (i - 1) % batch == 0:
            obj.prefetch_line([cand + (t * 0.5**j - at) * d for j in range(batch)])
        cand = nx.axpy(d, cand, t - at)
        at = t
        value, new_grad = _value_at(obj, cand, hessian and t == 1.0)
        new_F = direction.objective(obj, cand, value)
        if np.isfinite(new_F) and new_F >= F + direction.armijo * t * predicted:
            if new_grad is None:
                new_grad = obj.smooth_value_grad(cand, hessian=hessian and t == 1.0)[1]
            return t, cand, new_grad, new_F
        if direction.roundoff_rule and t == 1.0 and predicted < noise and np.isfinite(new_F) \
                and new_F >= F - noise:
            if new_grad is None:
                new_grad = obj.smooth_value_grad(cand, hessian=hessian)[1]
            if obj.kkt_residual(cand, new_grad) < rel:
                return t, cand, new_grad, new_F
        t *= 0.5
        new_grad = None  # (not held through the next trial's pass)
    nx.axpy(d, cand, -at)  # back at the start
    return None


def _value_at(obj: DualObjective, beta, hessian: bool = False):
    """``(value, grad)`` of the smooth part at a trial point, ``grad`` None where the value is
    cheaper alone (an engine's, :attr:`DualObjective.line_batch` > 1).

    In memory the pass that gives the value gives the gradient table too, and asking for the
    value (:meth:`DualObjective.smooth_value`) and then, at an accepted point, for the gradient
    (:meth:`DualObjective.smooth_value_grad`) cost theta's unpacking and the pass's cache key (a
    SHA-256 digest of theta, :func:`dualmaxent.objective.point_key`) twice: 3.5 ms at m k =
    6e5 (text k = 20 of ``bench --sparse``), against 0.9 ms for packing the gradient of a
    point that is then rejected (one or two a solve). (Measured with the secant skip of
    :func:`_secant_step`: the fit's process time 1.95 to 2.00 s against 2.01 to 2.04 s, the
    same products and passes; the spread of the machine is about as large.)
    """
    if obj.line_batch > 1:
        return obj.smooth_value(beta, hessian=hessian), None
    return obj.smooth_value_grad(beta, hessian=hessian)


#: :func:`_secant_step` tries a longer step when the slope along the direction at the accepted
#: step is still above this fraction of the slope at the start (a quadratic ``F`` has the
#: relative slope ``1 - t`` there, zero at the full Newton step).
SECANT_SLOPE = 0.2
#: The longest step :func:`_secant_step` tries, in units of the direction.
SECANT_MAX = 4.0


def _secant_step(obj: DualObjective, F, found, d, slope0: float, direction: _Direction):
    """The line search's accepted point, or a farther one on the same line.

    With ``phi(t) = F(beta + t d)``, the accepted ``t`` and the gradient there give
    ``phi'(t) = g_t^T d`` at no cost (a value comes with its gradient in memory); while the
    ascent goes on (``phi'(t) > SECANT_SLOPE phi'(0)``) the secant of ``phi'`` between 0 and
    ``t`` puts the maximum at ``t* = t phi'(0) / (phi'(0) - phi'(t)) > t`` (at most
    :data:`SECANT_MAX`), which is tried with one more pass and kept when ``F`` is higher there.
    Why: far from the optimum Newton's quadratic model is poor where the curvature falls along
    the step (the margins grow): from the start of the text k = 2 problem of ``bench --sparse
    --quick`` ``F`` rose 1.07e4 at the full step and 1.36e4 at three times it (relative
    gradient 2.3e-2 against 3.5e-3), and each of the first five full steps gained less than a
    longer one. Measured (curvature-vector products and passes over ``X`` to 1e-10): text
    k = 2 full size 42 and 15 against 53 and 13 without (the CG floor :data:`CG_FLOOR` in
    both), quick 39 and 13 against 44 and 11 (no floor); text k = 20 quick 148 and 11 against
    150 and 11 (floor in both). Tried and dropped: the secant also within ``t`` after an
    overshoot (``phi'(t) < -SECANT_SLOPE phi'(0)``), quick text k = 20 173 products against
    148 (no floor); the threshold 0.1 (44 and 14 on quick k = 2) and 0.3 (164 and 11 on quick
    k = 20).

    No trial after a halving (``t < 1``: ``F`` fell at ``2 t``, which the secant of the slopes
    on ``[0, t]`` ignores) nor beyond a step on Newton-CG's trust radius (the model is not
    trusted past it, :data:`TR_SHRINK_RATIO`). Measured on text k = 20 of ``bench --sparse``
    (``MaxEntClassifier(C = 10, tol = 1e-8)``), whose second step is halved: the trial at
    ``t = 0.76`` fell (``F`` peaks near 0.58 on that line) and cost two passes, its own and the
    accepted point's again (the curvature operator needs the pass there, and the cache holds the
    last one): 57 products and 11 passes against 57 and 13; no other problem of ``bench
    --sparse`` (full or quick, C = 10 or 100) nor the dense Newton-CG fits halve a step.

    A direction with a ``measured`` method (Newton-CG's) is told the step accepted, the slope
    and the rise of ``F`` there (no extra pass), from which it picks the multiple of its next
    direction to try first (:data:`SECANT_CARRY`) and its trust radius.

    Memory: the accepted point (``found``'s, ``beta + t d``, which :func:`_line_search` moved
    there in place) is moved on to the trial in place, and back when the trial fails (to the
    rounding of the moves): the start of the line, the accepted point and the trial were three
    (n_params,) vectors, the fit's peak on text k = 20 of ``bench --sparse`` (each 0.39 times
    the sparse X's bytes). ``found`` may be handed over in a list (:func:`_ascend` does): the
    accepted point's gradient is then dropped once its slope is read, and formed again only
    when the trial fails (rare: see above), by the pass at the accepted point that the next
    step's curvature operator would make anyway (the objective's cache holds the trial's pass),
    so it costs no pass; it was alive at the trial's pass, another (n_params,) vector. Not
    handed over, the gradient is kept and returned with the point moved back, which it then
    matches to the rounding of the moves.
    """
    handed = isinstance(found, list)
    if handed:
        found = found.pop()
    t, cand, new_grad, new_F = found
    slope = float(new_grad @ d)
    measured = getattr(direction, "measured", None)
    # (not where the rise is within the round-off of F: the slopes are noise there)
    risen = new_F - F > 1e-8 * (1.0 + abs(F))
    # (not after a halving, t < 1, nor beyond a trust radius: F fell at 2 t, the model is not
    # trusted past the radius)
    if not (slope0 > 0 and slope > SECANT_SLOPE * slope0 and risen and t >= 1.0
            and not getattr(direction, "capped", False)):
        if measured is not None:
            measured(t, slope0, slope if risen else 0.0, new_F - F if risen else None)
        return found
    star = min(t * slope0 / (slope0 - slope), SECANT_MAX)
    if handed:  # (the accepted point's gradient, and the pass's table of it: formed again if
        # the trial fails)
        found = new_grad = None
        obj.forget_gradient()
    trial = nx.axpy(d, cand, star - t)  # (in place: cand is the trial until moved back)
    value, grad_star = _value_at(obj, trial)
    F_star = direction.objective(obj, trial, value)
    if not (np.isfinite(F_star) and F_star > new_F):
        if measured is not None:
            measured(t, slope0, slope, new_F - F)
        grad_star = None
        cand = nx.axpy(d, trial, t - star)  # back at the accepted point
        if found is None:
            new_grad = obj.smooth_value_grad(cand)[1]
        return t, cand, new_grad, new_F
    if grad_star is None:
        grad_star = obj.smooth_value_grad(trial)[1]
    if measured is not None:
        measured(star, slope0, float(grad_star @ d), F_star - F)
    return star, trial, grad_star, F_star


#: Where the secant step went beyond the full step (or the last step was itself a multiple of
#: CG's), the next Newton-CG direction is first tried at a multiple of itself, not at 1
#: (:meth:`_NewtonCGStep.measured`): the secant's root at the accepted point, ``scale t slope0 /
#: (slope0 - slope)`` (where the slope along the last line would vanish), at least 1 and at
#: most :data:`SECANT_MAX`; back to 1 once the slope there is at most
#: :data:`SECANT_CARRY_SLOPE` of the start's (the step reached, or nearly, the line's maximum:
#: Newton's model has caught up). Why: on text k = 2 each of the first five Newton steps fell
#: short by the same factor (the slope at the full step 0.25 to 0.38 of the start's, the
#: secant's root 1.34 to 1.61, and still 0.15 to 0.22 of it there), so the full step was a
#: pass spent on a point known to be short. Measured (``MaxEntClassifier(C = 10, tol = 1e-8)``,
#: curvature-vector products and passes over X): full text k = 2 of ``bench --sparse`` 31 and
#: 10 against 35 and 14 without (0.68 s against 0.81 s, interleaved runs), quick 30 and 10
#: against 28 and 12 (to 1e-10: 36 and 10 against 36 and 13); the full categorical 22 and 7
#: against 24 and 8; text k = 20 unchanged (57 and 13); a dense n = 10^5, m = 50, k = 10
#: Newton-CG solve to 1e-10 unchanged (6 iterations). Tried and dropped: the multiple accepted
#: last instead of the root, 39 products and 12 passes (full k = 2, solve_dual); the root kept
#: through an overshoot, 39 and 12; the geometric mean of 1 and the root, 35 and 12 (quick 29
#: and 11); the root capped at 2, 39 and 11; back to 1 only at a slope not positive (no
#: SECANT_CARRY_SLOPE): quick k = 2 33 and 10 (its fourth step overshot at 2.4 times CG's
#: step) and the dense k = 10 solve 7 iterations (a secant that had nearly reached the
#: maximum, slope 0.064, carried 1.37 and overshot).
SECANT_CARRY = True
SECANT_CARRY_SLOPE = 0.1

#: Newton-CG's trust radius (:class:`_NewtonCGStep`): where a step's ascent is below this
#: fraction of the model's, ``t g^T d - t^2 d^T N d / 2`` at the accepted ``t d``, the next
#: direction may be at most half as long as that step (2-norm): CG stops on the radius
#: (Steihaug-Toint, :func:`cg_direction`'s ``radius``), and the step on it is taken as it is,
#: with no secant step beyond it and no carried multiple after it. Why: on text k = 20 of
#: ``bench --sparse`` the first step (relative gradient 10^-0.6 to 10^-2.6) gains a third of
#: the model's ascent (ratio 0.33): the curvature along it falls tenfold (``d^T N d`` 2.8e5 at
#: its start, 2.8e4 at its end), and the second Newton direction is nearly minus the first
#: (cosine -0.998, as long), so its full step fails and half of it is taken (four passes, with
#: the secant's trial and the accepted point's again). Half the first step is about that half
#: at once, one pass. Measured
#: (``MaxEntClassifier(C = 10, tol = 1e-8)``, curvature-vector products / passes over X /
#: iterations, one BLAS thread): text k = 20 56 / 9 / 7 against 57 / 11 / 8 with the secant
#: skip alone (:func:`_secant_step`) and 57 / 13 / 8 before, the fit 1.82 to 1.92 s against
#: 1.99 to 2.08 s before (the best of three, interleaved runs; scikit-learn's newton-cg at tol
#: 1e-8 4.05 and 4.31 s); text k = 2 (0.61 s) and the categorical problem (0.075 s) unchanged;
#: ``solve_dual`` to 1e-8 at C = 10 / 100: quick text k = 20 44 and 9 / 140 and 15 against 45
#: and 10 / 133 and 17, text k = 20 of seed 1 55 and 10 / 148 and 13 against 54 and 10 / 148
#: and 14. The radius is never set on text k = 2, k = 5 and k = 10, the categorical problems
#: (full and quick, C = 10 and 100: the lowest ratio there 0.91) nor the dense Newton-CG fits
#: (n = 10^5 and 10^4, m = 50, k = 10, L2 and unpenalised): their products and passes are
#: unchanged. Tried and dropped: the threshold 1/4 (Nocedal & Wright's): never met there (the
#: ratio 0.33); the radius as a cap on CG's finished step (CG unchanged, the step scaled to the
#: radius): 56 / 10 / 8 (quick C = 100 131 and 15); the multiple carried after a step on the
#: radius: 66 / 10 / 10 (the third step's gradient rose to 10^-1.16); the crossing iterate
#: scaled back to the radius instead of the point on CG's last segment: the same on text
#: k = 20, quick C = 100 142 and 15. Tried before the radius, on the second step itself:
#: shorter steps only postpone the rise of its gradient (to 10^-1.3 at the half step; forced
#: step lengths 0.1 / 0.2 / 0.3 / 0.4 of the direction: 56 / 86 / 81 / 64 products against 57
#: at 0.5); a first step forced shorter or longer, 0.3 / 0.5 / 0.85 / 1.2 of CG's: 80 / 62 /
#: 55 / 58 products, no rule in that; ...
TR_SHRINK_RATIO = 0.5
#: ... a step on the radius whose ratio is above this doubles it (Nocedal & Wright, Algorithm
#: 4.1; the radius is infinite until a step falls short).
TR_EXPAND_RATIO = 0.75


def _carried_scale(scale: float, t: float, slope0: float, slope: float) -> float:
    """The multiple of the next direction to try first (:data:`SECANT_CARRY`), from the last
    step: ``t`` accepted along the last direction (itself ``scale`` times CG's step), with the
    slope ``slope0`` at 0 and ``slope`` at ``t``."""
    if not SECANT_CARRY or not slope0 > 0 or slope <= SECANT_CARRY_SLOPE * slope0 or (
            scale == 1.0 and t <= 1.0 and slope <= SECANT_SLOPE * slope0):
        return 1.0  # Newton's own step was right, or the line's maximum (nearly) reached
    root = t * slope0 / (slope0 - slope) if slope < slope0 else SECANT_MAX
    return float(min(max(scale * root, 1.0), SECANT_MAX))


#: :func:`_ascend` takes at most this many steps past its tolerance for an L2 fit's slack
#: (:meth:`~dualmaxent.objective.DualObjective.slack_met`): Newton converging quadratically,
#: one or two reach it where float64 can; more would only chase its rounding.
SLACK_STEPS = 3


def _ascend(obj: DualObjective, beta, tol, max_iter, hist: History, direction: _Direction):
    """The iteration loop shared by the line-search methods: stop on the relative residual.

    An objective that cannot run the separation LP (``obj.stops_diverging``: data on a cluster)
    stops with :attr:`Status.DIVERGED` when the iterates run off to infinity
    (:func:`diverging`) instead of chasing a maximiser at infinity to the tolerance. One whose
    theta may run off in memory (``obj.may_run_off``) stops with :attr:`Status.NOT_ATTAINED`
    where theta's slacks prove the data completely separated (``obj.completely_separated``, the
    proof :func:`dualmaxent.dual.solve_dual` makes after the solver anyway), asked at the
    iterations that are powers of two from ``RUN_OFF_FIRST`` on: Newton-CG on ten completely
    separated classes, n = 2e4, seven features, ran 59 iterations and 8368 curvature products,
    5.5 s, before the tolerance stopped it (the full step, the divergence test's, was seldom
    taken).

    ``beta`` is copied once: the line search moves its own iterate in place.
    """
    beta = np.array(beta, dtype=np.float64)
    value, grad = obj.smooth_value_grad(beta, hessian=direction.initial_hessian())
    F = direction.objective(obj, beta, value)
    full_steps = []  # the last accepted full steps, for the divergence test
    runs_off = obj.may_run_off
    past = 0  # consecutive iterates within the tolerance (the slack's steps, SLACK_STEPS)
    for it in range(max_iter + 1):
        rel = obj.kkt_residual(beta, grad)
        hist.add(F, rel, beta)
        # (past the tolerance an L2 fit may go on until the checker's cheapest bracket closes,
        # :meth:`~dualmaxent.objective.DualObjective.slack_met`: while iterations remain and
        # the line search finds ascent; the tolerance met is convergence either way)
        past = past + 1 if rel <= tol else 0
        if rel <= tol and (it == max_iter or past > SLACK_STEPS or obj.slack_met(grad, F)):
            return beta, Status.CONVERGED, Status.CONVERGED.message(obj, rel, tol, max_iter)
        if it == max_iter:
            break
        if direction.consumes_gradient:
            # handed over, not kept: the direction may overwrite it (CG's residual starts as
            # the gradient), so this frame holds no second (p,) vector while it runs
            held = [grad]
            del grad
            d, predicted = direction.step(obj, beta, held, rel)
            del held
        else:
            d, predicted = direction.step(obj, beta, grad, rel)
        found = _line_search(obj, beta, F, rel, d, predicted, direction,
                             direction.prefetch_hessian(rel, tol))
        if found is None:
            if rel <= tol:
                return beta, Status.CONVERGED, Status.CONVERGED.message(obj, rel, tol, max_iter)
            return beta, Status.STALLED, Status.STALLED.message(obj, rel, tol, max_iter)
        if direction.secant_step:
            # predicted = g^T d, the slope at the start (_ascent_or_gradient); the line search
            # moved beta itself to the accepted point, and the secant moves it on in place
            line = [found]
            del found
            found = _secant_step(obj, F, line, d, predicted, direction)
        t, beta, grad, F = found
        direction.accepted(t)
        if obj.stops_diverging:
            full_steps = full_steps[-DIVERGENCE_ITERATIONS:] + [d] if t == 1.0 else []
            if diverging(full_steps):
                theta = float(np.abs(obj.theta(beta)).max())
                return beta, Status.DIVERGED, Status.DIVERGED.message(
                    obj, obj.kkt_residual(beta, grad), tol, max_iter,
                    detail=f"{DIVERGED_MESSAGE}: {DIVERGENCE_ITERATIONS} full Newton steps in "
                    f"a row neither shrank nor turned, max |theta| = {theta:.3g}, relative dual "
                    f"gradient {obj.kkt_residual(beta, grad):.1e}")
        if runs_off and it >= RUN_OFF_FIRST and it & (it - 1) == 0:
            separated = obj.completely_separated(beta)
            if separated is not None:
                return beta, Status.NOT_ATTAINED, Status.NOT_ATTAINED.message(
                    obj, obj.kkt_residual(beta, grad), tol, max_iter,
                    detail=separated.describe(obj.dataset))
        # not kept through the next direction's computation (a (p,) vector at its peak)
        found = d = None
    return beta, Status.MAX_ITER, Status.MAX_ITER.message(obj, rel, tol, max_iter)


#: The first iteration at which :func:`_ascend` asks whether theta proves the data completely
#: separated (a power of two); then at every power of two after it. Each asking is a probe of
#: 256 rows on data that are not separated (0.09 to 0.12 ms at n = 1e3 to 1e5, a few percent of
#: a small fit), at most one pass over ``X``; fits of data that are not separated converge in
#: fewer iterations as a rule, and never ask.
RUN_OFF_FIRST = 8

#: The beginning of the message of a diverged solve (the CLI prints "not certified: " before it).
DIVERGED_MESSAGE = "the likelihood may have no maximiser (separated data)"

#: A solve that cannot run the separation LP is declared diverging after this many consecutive
#: full steps that neither shrink (each at least :data:`DIVERGENCE_RATIO` of the previous one, in
#: the max norm) nor turn (cosine with the previous step above :data:`DIVERGENCE_COSINE`). When
#: the likelihood has no maximiser, Newton's iterates run off along a recession direction: the
#: full step is accepted again and again, its size does not shrink, its direction does not turn.
#: Near a finite maximiser the steps shrink quadratically, so a full step at least half the
#: previous one happens at most once or twice.
DIVERGENCE_ITERATIONS = 4
DIVERGENCE_RATIO = 0.5
DIVERGENCE_COSINE = 0.99


def diverging(steps) -> bool:
    """Whether the last :data:`DIVERGENCE_ITERATIONS` + 1 full steps neither shrank nor turned."""
    if len(steps) < DIVERGENCE_ITERATIONS + 1:
        return False
    last = steps[-(DIVERGENCE_ITERATIONS + 1):]
    for a, b in zip(last[:-1], last[1:]):
        na, nb = np.abs(a).max(), np.abs(b).max()
        cosine = float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0)
        if nb < DIVERGENCE_RATIO * na or cosine < DIVERGENCE_COSINE:
            return False
    return True


#: The shortcuts of Newton's method (float32 Hessians, reused factorisations, the subsample's
#: warm start) apply from this many rows on. Below it a solve takes a fraction of a second
#: and Newton is the textbook method, exact Hessians and quadratic convergence (which the
#: notes' example demonstrates), but for float32 curvature where a Hessian or a product
#: costs milliseconds (:data:`SINGLE_CURVATURE_MIN_FLOPS`).
LARGE_ROWS = 100_000

#: The loosest relative residual CG is asked for: the cap of the forcing term
#: ``min(CG_FORCING_MAX, sqrt(rel))`` of :func:`cg_direction`. Also the most that the error of a
#: float32 curvature may cost a Newton step (:func:`_curvature_precision`).
CG_FORCING_MAX = 0.1


#: Below :data:`LARGE_ROWS`, :func:`_curvature_precision` takes float32 only where a Hessian
#: costs at least this many multiply-adds, ``n w^2`` (``w`` its width), or for Newton-CG a
#: curvature-vector product ``n m q`` at least :data:`SINGLE_PRODUCT_MIN_FLOPS`: there the
#: float32 pass saves milliseconds, elsewhere the textbook method keeps exact Hessians (and
#: the blocks' conversion to float32 costs more than it saves). Measured (``solve_dual`` to
#: 1e-10, two classes, one BLAS thread, CPU time, best of three interleaved): n = 10^4, m = 100
#: (1e8) 9.5 -> 8.4 ms; m = 300 (9e8) 50.5 -> 45.6 ms unpenalised, 53.5 -> 46.1 with L2;
#: n = 3e4, m = 300 143 -> 121 ms. ``MaxEntClassifier().fit`` (certificate included, two
#: interleaved rounds): n = 10^4, m = 300, three classes (products 9e6) 141-143 -> 125-128 ms
#: with L2, 178-192 -> 162-164 unpenalised; ten classes, m = 100 (1e7) 80 -> 76-77; but
#: n = 3000, m = 300, three classes with L2 (2.7e6) 49 -> 51-52. The same iterations to the
#: same gradient everywhere.
SINGLE_CURVATURE_MIN_FLOPS = 1e8
SINGLE_PRODUCT_MIN_FLOPS = 5e6


def _curvature_precision(obj: DualObjective, products: bool = False):
    """float32 where the error bound of a float32 curvature allows it, else float64.

    Newton forms its Hessians, and Newton-CG its curvature-vector products, in float32 (the
    value, the gradient and the stopping test stay float64) when

        ``rho kappa <= CG_FORCING_MAX``,   ``rho = gamma(L, 2**-24) p``,   ``kappa = condition^2``,

    with ``rho`` the worst-case relative error of a float32 curvature or product in the
    equilibrated 2-norm (:func:`dualmaxent._kernels.curvature_relative_error`: ``L = b + m + k
    + 9`` roundings, ``b`` the rows of a block, ``p`` the parameters) and ``kappa`` the
    equilibrated Gram matrix's condition, ``Identifiability.condition`` squared (the
    curvature's when the variances ``A''`` are of one size). ``rho kappa`` bounds the relative
    error of the Newton step that the float32 error alone causes, and so the contraction of the
    gradient it costs: at most ``CG_FORCING_MAX``, CG's loosest residual target, each step still
    gains a digit, as with a reused factorisation (:data:`REUSE_RATIO`). Measured at
    n = 10^6, m = 51 (``rho = 4e-3``, ``kappa = 1.2``) from the cold start, no other shortcut:
    the same six iterations to 3e-17 as float64 (2e-17), 0.21 s per iteration against 0.24 s;
    the Hessian pass alone 0.18 s against 0.31 s (one BLAS thread; the gradient alone 0.04 s).
    With ten classes (459 parameters) ``rho = 0.037``: float32 up to a condition of 1.6.

    Below :data:`LARGE_ROWS` only where the float32 pass saves milliseconds: a Hessian of
    ``n w^2`` multiply-adds at least :data:`SINGLE_CURVATURE_MIN_FLOPS`, or with ``products``
    (Newton-CG's curvature-vector products) ``n m q`` at least
    :data:`SINGLE_PRODUCT_MIN_FLOPS`.

    The condition is read only where it is known without an extra pass over every row
    (:meth:`DualObjective.design_condition`: the rank pass of unpenalised in-memory solves; on an
    engine, the warm start's sample or one gathered for the purpose); ``rho`` is closed-form.
    """
    n = obj.dataset.n
    if design.is_sparse(obj.dataset.X):  # sparse products stay float64
        return np.float64
    if n < LARGE_ROWS and (n * obj.dataset.m * obj.q < SINGLE_PRODUCT_MIN_FLOPS if products
                           else n * obj.curvature_width ** 2 < SINGLE_CURVATURE_MIN_FLOPS):
        return np.float64
    condition = obj.design_condition()
    if condition is None:
        return np.float64
    rho = _kernels.curvature_relative_error(n, obj.dataset.m, obj.q, obj.n_params)
    return np.float32 if rho * condition ** 2 <= CG_FORCING_MAX else np.float64


#: :func:`_lbfgs_start` runs for an unpenalised or L2 fit with this many rows or more; from
#: :data:`LARGE_ROWS` on only where no subsample's solve is the warm start
#: (:func:`subsample_step` below 2) and the design has :data:`REUSE_MIN_WIDTH` columns or more;
#: from :data:`LBFGS_START_WIDE_MIN_ROWS` rows on where the curvature is one column's (two
#: classes, or a one-parameter family) and the design has :data:`LBFGS_START_WIDE_MIN_COLUMNS`
#: columns or more...
LBFGS_START_MIN_ROWS = 10_000
LBFGS_START_WIDE_MIN_ROWS = 1_000
LBFGS_START_WIDE_MIN_COLUMNS = 30
#: ... to this relative gradient, in at most :data:`LBFGS_START_MAX_ITER` iterations.
LBFGS_START_TOL = 1e-4
LBFGS_START_MAX_ITER = 50


def _lbfgs_start(obj: DualObjective, beta, hist, finish: float | None = None):
    """Newton's starting point: L-BFGS's iterate at :data:`LBFGS_START_TOL`, or ``beta``.

    ``finish``: the solve's own tolerance. Past :data:`LBFGS_START_TOL` L-BFGS goes on toward
    it while its recent rate (:data:`LBFGS_RATE_SPAN`) predicts fewer iterations than Newton's
    finish costs in L-BFGS iterations (:func:`_newton_passes`), and stops there when it gets
    there (Newton then forms no Hessian).

    Far from the optimum a Newton step gains little more than an L-BFGS step, but its Hessian
    pass costs several gradient passes (n m^2 flops against n m: at n = 10^4, m = 51, one
    BLAS thread, 1.7 ms against 0.34 ms). L-BFGS takes the first digits at a gradient pass each
    and Newton the last ones quadratically. Measured (to 1e-10, L2 with lambda 1, n = 10^4,
    standard normal features, the best of nine): two classes, 50 features, 19.4 ms -> 13.5 ms;
    ten features 8.3 -> 6.7; three classes, ten features 21.8 -> 17.2. Unpenalised, two
    classes, 50 features (``MaxEntClassifier(C=inf).fit``, certificate included, with the
    factor reuse of :class:`_NewtonStep`): 21.3 ms -> 18.4 ms (eight Newton steps before,
    now about ten L-BFGS steps and two Newton steps).

    From :data:`LARGE_ROWS` on, the subsample's solve (:func:`subsample_start`) does this job
    where it runs (measured with L-BFGS on top of it: n = 10^6, two classes, 50 features,
    0.54 -> 0.65 s; n = 3 x 10^5, 0.31 s either way). Where it does not (fewer than two
    samples' worth of rows, ``SUBSAMPLE_ROWS_PER_PARAM p``), L-BFGS starts a wide design: n =
    10^5, two classes, 50 features, L2 or none, 104 -> 68 ms (with the prefetch skipped,
    :meth:`_NewtonStep.prefetch_hessian`); not a narrow one, whose Hessian pass costs little
    more than a gradient pass: ten features 23 -> 25 ms, three classes and ten features
    66 -> 87 ms.

    Not below :data:`LBFGS_START_MIN_ROWS` but for a wide design with one column's curvature
    (:data:`LBFGS_START_WIDE_MIN_COLUMNS`), and for that not below
    :data:`LBFGS_START_WIDE_MIN_ROWS`. With
    scipy's L-BFGS-B it ran from 10^4 rows only: at n = 10^3 it cost 10 to 30 % with L2, the
    fixed costs of a scipy minimize call being the size of the whole solve (two classes and 50
    features: 3.6 -> 4.1 ms with L2, 3.9 -> 4.2 ms unpenalised). With
    :func:`_lbfgs_ascent` (``MaxEntClassifier`` at its defaults, best of 40 alternating in one
    process, one BLAS thread; without -> with the start): two classes, 50 features, n = 10^3 L2
    2.54 -> 2.29 ms, unpenalised 3.44 -> 3.20; n = 3 x 10^3 unpenalised 7.48 -> 5.76; but ten
    features still lose below 10^4 rows: n = 10^3 L2 1.74 -> 2.02, n = 3 x 10^3 2.43 -> 2.60,
    n = 5 x 10^3 3.03 -> 3.11, three classes unpenalised n = 3 x 10^3 5.21 -> 5.45 (a Hessian
    pass costs few gradient passes there); at n = 10^3: 20 features L2 1.72 -> 1.77, 30
    features unpenalised 2.59 -> 2.56, 40 features L2 2.34 -> 2.20, three classes and 20
    features unpenalised 3.78 -> 4.19; 30 features L2 at n = 1.5 x 10^3 2.30 -> 2.23 and at
    n = 5 x 10^3 6.43 -> 4.90. Not for
    Newton-CG: with three classes and 50 features, unpenalised, 41.7 -> 45.3 ms at n = 10^4
    (CG's products are as cheap as L-BFGS's gradients, and its steps gain more).

    Unpenalised, the likelihood may have no maximiser (separated data), and L-BFGS then chases
    it to infinity: the start costs at most :data:`LBFGS_START_MAX_ITER` gradient passes, after
    which Newton runs as it would have from any point, and the attainment test decides
    (:func:`dualmaxent.dual.solve_dual`). Measured on separable data (``y = [X w > 0]``,
    standard normal X, the best of five fits): n = 10^4, m = 50, 1307 -> 1282 ms; the same
    with 0.1 % of labels flipped 461 -> 450 ms; n = 2 x 10^4, m = 10, 391 -> 389 ms (the
    separation LP dominates every such fit).
    """
    n = obj.dataset.n
    m = obj.dataset.m
    wide = m >= LBFGS_START_WIDE_MIN_COLUMNS and obj.curvature_width == m
    if not (obj.penalty.kind in ("l2", "none") and (
            n >= LBFGS_START_MIN_ROWS or wide and n >= LBFGS_START_WIDE_MIN_ROWS)):
        return beta
    if n >= LARGE_ROWS and (subsample_step(obj) >= 2 or m < REUSE_MIN_WIDTH):
        return beta  # the subsample's solve is the warm start, or Newton's passes are cheap
    with warnings.catch_warnings():  # (separated data: theta runs off, as it did in scipy's)
        warnings.simplefilter("ignore")
        return _lbfgs_ascent(obj, beta, LBFGS_START_TOL, LBFGS_START_MAX_ITER, hist,
                             precondition=obj.curvature_width > obj.dataset.m,
                             finish=None if finish is None else (finish, _newton_passes(obj)))


#: :func:`_lbfgs_ascent` goes on past :data:`LBFGS_START_TOL` toward the solve's own tolerance
#: while its rate over the last this many iterations predicts fewer iterations to it than
#: Newton's finish costs in L-BFGS iterations (:func:`_newton_passes`).
LBFGS_RATE_SPAN = 3
#: ... and while the next step's predicted ascent exceeds this many unit roundings of the value;
#: nor toward a tolerance below the relative gradient where that ascent, extrapolated as
#: quadratic in it from the last step, would be :data:`LBFGS_FLOOR_ROUNDING` roundings (an
#: estimate: on the sweep's two classes, 50 features, n = 1e4 and 3e4, its extrapolation
#: with 64 said 1.3e-8 where L-BFGS went on to 2e-9, the full step accepted each time).
LBFGS_VALUE_ROUNDING = 64
LBFGS_FLOOR_ROUNDING = 8
#: The Hessian pass's cost in Newton's finish (:func:`_newton_passes`): this share of the
#: ratio of its multiply-adds to a gradient pass's, ``n w^2 / 2`` against ``2 n m q``, by the
#: curvature's precision. Measured (one BLAS thread, the Hessian pass over the gradient
#: pass, at the class-frequency start, L2): float64 0.40 to 0.57 (two classes, 50 features,
#: n = 3e3 to 3e4), 0.47 (three classes, ten features, 1e4), 0.99 (two classes, ten
#: features, 1e4, where the pass's own row work weighs more); float32 0.20 to 0.30 (50
#: features, two, three and ten classes, n = 1e4 to 1e5), 0.45 to 1.17 (ten features).
#: The smaller of each, so that the estimate errs toward Newton, as before.
HESSIAN_PASS_SHARE = {np.dtype(np.float32): 0.20, np.dtype(np.float64): 0.40}


def _pass_madds(obj: DualObjective) -> float:
    """A gradient pass's multiply-adds, ``2 n m q`` (the products with ``X`` and ``X^T``): the
    unit the shortcuts' costs are measured in."""
    return 2.0 * obj.dataset.n * obj.dataset.m * max(obj.q, 1)


#: An iteration's cost that does not grow with the data (the line search's and the two-loop
#: recursion's Python and numpy calls), in a gradient pass's multiply-adds: about 70 us of an
#: L-BFGS iteration at n = 100 (82 us, of which its pass's arithmetic is a few), at the
#: 3000 multiply-adds per us of a pass at n = 10^4, 51 columns (this 2-core machine, one BLAS
#: thread). Below some 10^4 rows it is most of an iteration, and Newton's finish, whose
#: Hessian is then cheap beside it, ends sooner than L-BFGS's continuation. Measured (two
#: classes, 50 features, ``solve_dual(tol=1e-8)``, the best of 20 interleaved): n = 10^3
#: unpenalised 1.66 -> 1.21 ms (16 -> 10 iterations), L2 2.10 -> 1.32; n = 3 x 10^3 and 10^4
#: unchanged (L-BFGS still goes on there: 1.97 ms and 3.6 to 3.8 ms; without the
#: continuation 1.97 and 4.9).
ITERATION_MADDS = 2e5


def _newton_passes(obj: DualObjective) -> float:
    """Newton's finish from the L-BFGS start, in L-BFGS iterations: two iterations and the
    Hessian's ``n w^2 / 2`` multiply-adds at :data:`HESSIAN_PASS_SHARE`, over an iteration's
    multiply-adds (a gradient pass's and :data:`ITERATION_MADDS`)."""
    share = HESSIAN_PASS_SHARE[np.dtype(obj.curvature_dtype)]
    return 2.0 + (share * obj.dataset.n * obj.n_params ** 2 / 2.0
                  / (_pass_madds(obj) + ITERATION_MADDS))


#: :func:`_lbfgs_ascent` keeps this many (s, y) pairs (scipy's L-BFGS-B ran with ``maxcor``
#: 30 before; the start takes 5 to 20 iterations, so the pairs are seldom dropped).
LBFGS_ASCENT_MEMORY = 30
#: Its line search: Armijo's constant and the weak Wolfe curvature constant (Nocedal & Wright,
#: eq. 3.6, with their recommended 1e-4 and 0.9 for quasi-Newton methods), and the most trial
#: points a line takes before the best Armijo point found is kept (or the ascent stops).
LBFGS_ASCENT_ARMIJO = 1e-4
LBFGS_ASCENT_WOLFE = 0.9
LBFGS_ASCENT_MAX_TRIALS = 20


def _lbfgs_ascent(obj: DualObjective, beta, tol, max_iter, hist, precondition: bool = False,
                  finish=None):
    """Newton's L-BFGS start: L-BFGS ascent of a smooth objective to the relative gradient
    ``tol`` or ``max_iter`` iterations; the last iterate (``beta`` itself when none was taken).
    With ``finish = (tol, passes)`` it goes on past ``tol`` while :func:`_goes_on` says so, the
    last step was the full one, and the next one's predicted ascent is above
    :data:`LBFGS_VALUE_ROUNDING` roundings of the value (below, the line search's test of the
    value sees rounding: on n = 4000 rows, 160 features, it spent eight passes between 3e-10
    and 1e-10 before Newton took over); nor where the solve's tolerance lies below the
    relative gradient at which that happens (the ascent taken as quadratic in it, from the
    last step's: the default 1e-10 usually does, and Newton's quadratic steps finish there).

    The two-loop recursion (Nocedal & Wright, Algorithm 7.4) with ``H_0 = gamma I``,
    ``gamma = s^T y / y^T y`` of the newest pair (the first direction is the gradient scaled
    to unit 2-norm, as scipy's L-BFGS-B takes it), and a weak Wolfe line search by
    bisection and doubling (:data:`LBFGS_ASCENT_WOLFE`). Each trial point costs one pass
    over ``X``, its value and gradient together; the iterate's row of ``hist`` reads them,
    with no other pass and no second look-up of the pass's cache.

    ``precondition``: ``H_0 = gamma M^-1`` instead, ``M`` the curvature operator's
    preconditioner at ``beta`` (:meth:`DualObjective.curvature_operator`: the Kronecker
    ``A (x) X^T W X`` plus the L2 penalty), ``gamma = s^T y / y^T M^-1 y`` (1 before the first
    pair). At the class-frequency start (:meth:`DualObjective.start`) the probabilities are
    the same on every row, and ``M`` is then the curvature itself: the first step is Newton's,
    from the Gram matrix (kept by the rank pass, or one pass of width ``m``) instead of a
    Hessian pass of width ``n_params``. Measured (``MaxEntClassifier`` at its defaults,
    n = 10^4, ten features, one BLAS thread, the solve's own time in its history), without ->
    with: three classes unpenalised 14 L-BFGS iterations and 11.9 ms -> 7 and 8.3 ms, with L2
    9 and 10.6 -> 7 and 10.2; two classes one iteration fewer, but the start then ends further
    from the optimum (2e-5 against 7e-6: a second Newton step) and the set-up (a Gram pass and
    a generalised eigendecomposition, :meth:`DualObjective._gram_penalty_eig`) costs 0.8 ms,
    2.6 ms at 50 features: the solve 2.7 -> 3.6 ms with L2, 2.6 -> 3.3 unpenalised, 5.6 -> 7.8
    at 50 features with L2; so only from three classes on (:func:`_lbfgs_start`).

    Why not scipy's L-BFGS-B (:func:`_lbfgs`, which ran here before): its cost outside the
    passes (the minimize wrapper, the Fortran driver's reverse communication, the callback's
    value and residual read back from the cache by theta's digest) was about 0.07 ms an
    iteration, against a gradient pass of 0.19 ms (n = 10^4, ten features, two classes, L2:
    the same seven iterates, 1.96 ms -> 1.46 ms in the solve's history).
    """
    value, grad = obj.smooth_value_grad(beta)
    # (after the start's pass: the preconditioner reads the probabilities it kept)
    psolve = obj.curvature_operator(beta)[1] if precondition else None
    S_, Y_, rho = [], [], []
    rels, t, floor = [], 1.0, 0.0
    u = _kernels.unit_roundoff(np.float64)
    for it in range(max_iter + 1):
        rel = obj.kkt_residual(beta, grad)
        hist.add(value, rel, beta)
        rels.append(rel)
        past = rel <= tol  # (going on toward finish's tolerance: _goes_on)
        if past and not (t == 1.0 and _goes_on(rels, finish, floor)) or it == max_iter \
                or not np.isfinite(value):
            break
        # the two-loop recursion: d = H g, H the inverse of -Hessian's approximation
        q = np.array(grad, dtype=np.float64)
        alphas = []
        for s, y, r in zip(reversed(S_), reversed(Y_), reversed(rho)):
            a = r * float(s @ q)
            alphas.append(a)
            q = nx.axpy(y, q, -a)
        if psolve is not None:
            q = psolve(q)
            if S_:
                q *= float(S_[-1] @ Y_[-1]) / float(Y_[-1] @ psolve(Y_[-1]))
        elif S_:
            q *= float(S_[-1] @ Y_[-1]) / float(Y_[-1] @ Y_[-1])
        else:
            q = _unit(q)
        for s, y, r, a in zip(S_, Y_, rho, reversed(alphas)):
            q = nx.axpy(s, q, a - r * float(y @ q))
        slope0 = float(grad @ q)
        if past and not slope0 > LBFGS_VALUE_ROUNDING * u * abs(value):
            break  # (the ascent is below what the value's rounding lets Armijo's test see)
        if slope0 > 0:  # the relative gradient where the ascent, about quadratic in it, would
            # be a few roundings of the value (LBFGS_FLOOR_ROUNDING)
            floor = rel * float(np.sqrt(LBFGS_FLOOR_ROUNDING * u * abs(value) / slope0))
        if not slope0 > 0:  # not an ascent direction (rounding): restart from the gradient
            S_, Y_, rho, psolve = [], [], [], None
            q = _unit(grad)
            slope0 = float(grad @ q)
            if not slope0 > 0:
                break
        found = _wolfe_search(obj, beta, value, q, slope0)
        if found is None:
            break
        t, new_beta, new_value, new_grad = found
        s = t * q
        y = grad - new_grad  # (the ascent gradient falls along an ascent step)
        sy = float(s @ y)
        if sy > 1e-12 * float(np.linalg.norm(s)) * float(np.linalg.norm(y)):
            S_.append(s)
            Y_.append(y)
            rho.append(1.0 / sy)
            if len(S_) > LBFGS_ASCENT_MEMORY:
                del S_[0], Y_[0], rho[0]
        beta, value, grad = new_beta, new_value, new_grad
    return beta


def _goes_on(rels, finish, floor: float = 0.0) -> bool:
    """Whether L-BFGS goes on past its own tolerance (``finish = (tol, passes)``: the solve's
    tolerance and Newton's cost to reach it, :func:`_lbfgs_start`): while the relative
    gradients ``rels`` of its iterations shrank over the last :data:`LBFGS_RATE_SPAN` at a rate
    that reaches ``tol`` in at most ``passes`` more, and ``tol`` is above ``floor``, the relative
    gradient where its line search would meet the value's rounding (:func:`_lbfgs_ascent`)."""
    if finish is None or len(rels) <= LBFGS_RATE_SPAN:
        return False
    tol, passes = finish
    rel = rels[-1]
    if not rel > tol > floor:
        return False
    rate = (rel / rels[-1 - LBFGS_RATE_SPAN]) ** (1.0 / LBFGS_RATE_SPAN)
    return 0.0 < rate < 1.0 and np.log(tol / rel) / np.log(rate) <= passes


def _unit(g) -> np.ndarray:
    """``g`` scaled to unit 2-norm (a new array): L-BFGS's first direction, as scipy's
    L-BFGS-B takes it, and its restart."""
    return g / max(float(np.linalg.norm(g)), 1e-300)


def _wolfe_search(obj: DualObjective, beta, value, d, slope0):
    """``(t, beta + t d, value, gradient)`` at a step meeting Armijo's and the weak Wolfe
    conditions along the ascent direction ``d`` (slope ``slope0 > 0`` at ``t = 0``), by
    bisection of a bracket and doubling before one is found; else the longest Armijo step
    found, or None.

    The full step is tried first (L-BFGS's steps are scaled to be accepted at 1)."""
    lo, hi, t = 0.0, np.inf, 1.0
    best = None
    for _ in range(LBFGS_ASCENT_MAX_TRIALS):
        cand = beta + t * d
        new_value, new_grad = obj.smooth_value_grad(cand)
        if not (np.isfinite(new_value) and new_value >= value + LBFGS_ASCENT_ARMIJO * t * slope0):
            hi = t
        elif float(new_grad @ d) > LBFGS_ASCENT_WOLFE * slope0:
            lo = t  # still rising steeply: a longer step
            best = (t, cand, new_value, new_grad)
        else:
            return t, cand, new_value, new_grad
        t = 0.5 * (lo + hi) if hi < np.inf else 2.0 * lo
    return best


def _newton(obj: DualObjective, beta, tol, max_iter, hist):
    """Newton's method; with an L1 part (L1, elastic net) proximal Newton
    (:class:`_ProxNewtonStep`). An unpenalised or L2 fit of mid size starts from L-BFGS's
    iterate (:func:`_lbfgs_start`)."""
    if obj.penalty.has_l1:
        held = [beta]
        del beta  # (not kept by this frame: _newton_cg)
        return _ascend(obj, held.pop(), tol, max_iter, hist, _ProxNewtonStep(obj))
    obj.curvature_dtype = _curvature_precision(obj)
    start = _lbfgs_start(obj, beta, hist, finish=None if obj.seeds_curvature else tol)
    direction = _NewtonStep(obj)
    # L-BFGS's last step may already meet a loose tolerance (its gradient there is the pass
    # the objective keeps): then no Hessian pass is formed to stop on. Measured at n = 10^5,
    # two classes, 50 features, L2, tol 1e-4 (``MaxEntClassifier``, one BLAS thread): L-BFGS
    # stops at 1.1e-5 and the Hessian pass, 10 ms of a 70 ms solve, was spent for nothing.
    if start is not beta and obj.kkt_residual(start) <= tol:
        direction.start_hessian = False
    held = [start]
    del beta, start
    return _ascend(obj, held.pop(), tol, max_iter, hist, direction)



#: The subsample keeps about this many rows per free parameter (at least), every ``step``-th
#: row, ``step = n // (SUBSAMPLE_ROWS_PER_PARAM p)``; and at most every SUBSAMPLE_MAX_STEP-th
#: when it is a view of ``X`` in memory (an engine's sample is gathered, so it keeps
#: ``SUBSAMPLE_ROWS_PER_PARAM p`` rows whatever n: 51,000 rows of 51 columns, 21 MB).
SUBSAMPLE_ROWS_PER_PARAM = 1000
SUBSAMPLE_MAX_STEP = 16

#: A sample gathered from an engine holds at most this many bytes of ``X`` (ten classes and
#: m = 51 would otherwise gather 1000 rows for each of 459 parameters, 187 MB).
SUBSAMPLE_GATHER_MAX_BYTES = 1 << 27

#: Relative dual gradient at which the subsample's solve stops: its maximiser differs from the
#: full data's by sampling noise of order ``1 / sqrt(n / step)`` anyway. Whatever the solve's own
#: tolerance: a looser one (``tol = 1e-4``) stopped the subsample at its L-BFGS start, before
#: Newton formed the Hessian that seeds the full solve (:meth:`DualObjective.seed_curvature`),
#: and the full solve then formed two Hessians of its own, each several gradient passes.
#: Measured (``MaxEntClassifier(tol=1e-4).fit``, certificate included, one BLAS thread, best of
#: 3 to 8 interleaved; before -> after): n = 1e5, three classes, ten features, L2 102 -> 79 ms,
#: unpenalised 87 -> 79; two classes, ten features, L2 23.4 -> 20.8; n = 1e6, two classes, L2
#: 218 -> 198, three classes unpenalised 641 -> 499; 50 features or ten classes unchanged.
SUBSAMPLE_TOL = 1e-6


def _attained(obj: DualObjective, beta) -> bool:
    """Whether ``beta`` is proved near a maximiser that exists (the projected primal point,
    one more pass over the subsample), or a penalty or the family makes it certain.

    A vanishing gradient alone is no proof: on separated data it vanishes as theta runs off
    to infinity, and such a start would cost the full problem many iterations.
    """
    from .projected import project_primal

    if obj.penalty.active or not obj.family.can_separate:
        return True
    theta = obj.theta(beta)
    return project_primal(obj.dataset, theta, obj.penalty, keep_mu=False,
                          first_pass=obj.last_pass(theta)).proves_attained


def subsample_step(obj: DualObjective) -> int:
    """The row step of :func:`subsample_start`'s sample; below 2 (small data) it runs none."""
    n = obj.dataset.n
    if n < LARGE_ROWS:
        return 1
    step = n // max(SUBSAMPLE_ROWS_PER_PARAM * obj.n_params, 1)
    if obj.subsample_is_view:  # a strided view costs nothing: keep more rows
        return min(SUBSAMPLE_MAX_STEP, step)
    # gathered into memory: at most SUBSAMPLE_GATHER_MAX_BYTES of X
    return max(step, -(-n * obj.dataset.m * 8 // SUBSAMPLE_GATHER_MAX_BYTES))


def subsample_start(obj: DualObjective, beta0, solver: "Solver"):
    """A warm start: the solver's maximiser on every ``step``-th row, or ``beta0``.

    The subsample objective (:meth:`DualObjective.subsample`) views the rows of ``X`` without
    copying them. ``beta0`` is returned unchanged for small data, for objectives without a
    subsample (rank-deficient or separated designs), and when the subsample's solve does not
    converge to a maximiser proved to exist (a subsample can be separated when the full data
    are not).
    """
    step = subsample_step(obj)
    if step < 2:
        return beta0
    sub = obj.subsample(step)
    if sub is None:
        return beta0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        beta, status, _ = solver.run(sub, beta0, SUBSAMPLE_TOL, 50,
                                     History(time.perf_counter()))
    if status is not Status.CONVERGED or not _attained(sub, beta):
        return beta0
    C = sub.last_curvature()
    if C is not None:
        # sums over step times fewer rows: the full curvature is about step times as large
        obj.seed_curvature(step * C)
    return beta


def _newton_cg(obj: DualObjective, beta, tol, max_iter, hist):
    """Truncated Newton: the Newton system solved by CG on Hessian-vector products (in float32
    where their error bound allows it and they cost enough, :func:`_curvature_precision`)."""
    obj.curvature_dtype = _curvature_precision(obj, products=True)
    direction = _NewtonCGStep(obj, tol)
    # the start is handed over, not kept (as solve_dual hands it to this function): this
    # frame's argument would otherwise hold it while _ascend runs, an (n_params,) vector alive
    # at the fit's peak (0.39 times the sparse X's bytes on text k = 20 of bench --sparse)
    held = [beta]
    del beta
    return _ascend(obj, held.pop(), tol, max_iter, hist, direction)


def _gradient(obj: DualObjective, beta, tol, max_iter, hist):
    """Plain gradient ascent with a backtracking step (for teaching)."""
    held = [beta]
    del beta  # (not kept by this frame: _newton_cg)
    return _ascend(obj, held.pop(), tol, max_iter, hist, _GradientStep(obj))


#: :func:`cg_direction` stops once the largest entry of its residual is this fraction of the
#: solve's target (in the gradient's units, ``tol`` times the objective's scale): the
#: gradient at the full step is about that residual (plus the step's squared size), so the
#: last step need not be solved to the forcing term's accuracy, ``sqrt(rel)``, which there asks
#: for far more digits than are missing. Tried: 0.7 and 0.85 (``MaxEntClassifier(C = 10, tol =
#: 1e-8)``, full text k = 20 / k = 2 of ``bench --sparse``): 57 / 30 and 56 / 30 products
#: against 57 / 31, the fits within the machine's spread.
CG_FLOOR = 0.5


#: :func:`cg_direction` keeps a float32 step only while the bound on its rounding's share of
#: the slope ``g^T s`` stays below this (then in float64): the line search's Armijo test and the
#: secant read that slope.
SINGLE_STEP_SLOPE_SHARE = 1e-3
_U32 = 2.0**-24


def _rounding(s) -> float:
    """The bound ``u ||s||_2`` (slightly over) on the error of one float32 update of the step
    ``s`` (:func:`cg_direction`'s Notes); 0 for a float64 ``s``."""
    return 0.0 if s.dtype == np.float64 else _U32 * 1.001 * np.sqrt(_dot(s, s))


def _add_scaled(s, d, a: float) -> np.ndarray:
    """``s + a d`` into ``s``: BLAS's axpy for a float64 ``s``; for a float32 ``s`` a chunk at
    a time, each entry summed in float64 and rounded once (no (p,) temporary)."""
    if s.dtype == np.float64:
        return nx.axpy(d, s, a)
    for sl in nx.row_chunks(s.size):
        s[sl] += a * d[sl]
    return s


def _dot(x, y) -> float:
    """``x^T y`` in float64, a chunk at a time where either is float32."""
    if x.dtype == y.dtype == np.float64:
        return float(x @ y)
    return sum(float(np.dot(x[sl].astype(np.float64), y[sl].astype(np.float64, copy=False)))
               for sl in nx.row_chunks(x.size))


def cg_direction(obj: DualObjective, beta, grad, rel, max_cg: int = 200, floor: float = 0.0,
                 overwrite: bool = False, radius: float = np.inf):
    """Truncated Newton step: solve ``-H s = g`` by preconditioned conjugate gradients.

    ``-H v`` costs two products with ``X`` (:meth:`DualObjective.curvature_operator`) instead of
    the ``n p^2`` flops of forming ``H``, which dominate Newton when ``p = m (k - 1)`` is large
    (measured at n = 10^5, m = 51, k = 10: 2 s per Hessian against 0.01 s per product). The
    preconditioner is the Kronecker approximation ``A (x) X^T W X`` of ``-H``, with ``A`` the
    weighted mean of ``diag(p_j) - p_j p_j^T`` (exact when ``P`` is constant across rows, as at
    the starting point), factored once per step; for a wide sparse design, whose ``X^T W X``
    is not formed, Jacobi or none (:data:`dualmaxent.objective.SPARSE_JACOBI_MEDIAN_RATIO`),
    and with many classes a coarse space instead of none
    (:data:`dualmaxent.objective.SPARSE_COARSE_RANK`). The inner tolerance follows Eisenstat &
    Walker's forcing term ``||r|| <= min(0.1, sqrt(rel)) ||g||`` (superlinear convergence,
    :data:`CG_FORCING_MAX`), or CG stops once ``max |r| <= floor`` (:data:`CG_FLOOR`: the
    solve's target reached by the step); Nocedal & Wright, Algorithm 7.1.

    Measured on the ``bench --sparse --quick`` problems (Hessian-vector products to a relative
    gradient of 1e-8, text k = 20 / text k = 2 / categorical, each with its preconditioner):
    this rule 121 / 46 / 27. Tried and dropped: a cap of 0.5 (scikit-learn's ``_newton_cg``)
    134 / 46 / 25; the forcing ``rel^(1/4)`` 142 / 30 / 27 and ``rel`` 174 / 110 / 43;
    the test on ``||r||_inf`` 149 / 47 / 33. Exact Newton steps (CG to 1e-4 relative) take as
    many outer iterations on text k = 2 (10, each shrinking the gradient about threefold while
    theta grows), so the inexact steps cost no iterations there; 548 products.

    With the floor, the secant step (:func:`_secant_step`) and the coarse space (products and
    passes to 1e-10 / to 1e-8 on the full text k = 20 problem): 62 and 12 / 52 and 12,
    against 179 and 10 / 153 and 9 with the floor alone (208 products to 1e-10 before). Tried
    there and
    dropped: the cap 0.3 on the forcing term, 67 and 14 / 58 and 13 with the coarse space
    (147 and 10 / 126 and 10 without it, where the cap 0.1 took 179 / 153); 0.5, 175 and 12
    without it. The second Newton step there raises the relative gradient from 10^-2.6 to
    10^-1.3 (its full step fails Armijo's test, half of it is taken) however well CG solves
    it: forcing terms of ``sqrt(rel / 4)`` and ``sqrt(rel / 25)`` took 59 and 74 products
    against 55, the same jump each time (the model, not CG, is off there: the trust radius,
    :data:`TR_SHRINK_RATIO`, now takes that half step at once). Also tried there: CG to the
    floor alone (no forcing term) where the step could be the last, ``rel^2 <= tol``: 60
    products against 57 (from 10^-4.4 the full Newton step reached 10^-7.1, not 10^-8: the
    quadratic term's constant is about 50).

    Parameters
    ----------
    obj : DualObjective
    beta, grad : ndarray of shape (n_params,)
        The point and the gradient there.
    rel : float
        The relative gradient at ``beta`` (the forcing term's argument).
    max_cg : int
    floor : float
        CG stops once the largest entry of its residual is at most this (0: never).
    radius : float
        The trust radius: CG stops where its step would leave the ball ``||s||_2 <= radius``,
        on the sphere along its last direction (Steihaug-Toint; Nocedal & Wright, Algorithm
        7.2 without a preconditioner's norm).
    overwrite : bool
        Use ``grad`` itself as CG's residual (it is overwritten; on theta's table, a wide
        sparse design's, the residual is a new vector entered from it), and return the slope
        too. ``grad`` may be handed over in a one-element list, popped once the residual is
        formed (:class:`_NewtonCGStep` does: no second (p,) vector through the products).

    Returns
    -------
    s : ndarray of shape (n_params,)
    slope : float
        Only when ``overwrite``: ``g^T s``, as CG's sum ``sum_i alpha_i r_i^T z_i`` (equal in
        exact arithmetic, ``r_i`` orthogonal to the earlier directions and ``g^T d_i = r_i^T
        d_i = r_i^T z_i``), positive; when CG made no step, ``s`` is the preconditioned
        gradient and the slope ``g^T M^-1 g``. Where the system keeps the step in float32
        (:attr:`dualmaxent.objective.CurvatureSystem.step_dtype`), less the bound on its
        rounding's share, ``||g||_2 e`` (below), so that the stored step's true slope is at
        least the one returned.

    Notes
    -----
    A float32 step ``s^`` (a wide sparse design's: half of one (p,) vector less at every
    product, 0.2 times the sparse X's bytes on the text k = 20 problem of ``bench --sparse``)
    is rounded once per update, ``s^ <- fl32(s^ + alpha d)`` (the sum in float64), an error of
    at most ``u ||s^||_2`` in 2-norm, ``u = 2^-24``; so ``||s^ - s||_2 <= e``, the sum of
    ``u ||s^||_2`` over the updates (computed as CG goes), and ``|g^T s^ - g^T s| <= ||g||_2
    e``. Should that exceed :data:`SINGLE_STEP_SLOPE_SHARE` of CG's slope, the step goes on in
    float64. The step's rounding changes only the direction the line search tries (measured
    in float64 there); the residual and the direction stay float64.
    """
    # the caller holds grad packed; the line search moves on (forgotten before the operator
    # is made: its first step's Jacobi diagonal, the solve's peak on text k = 20 of bench
    # --sparse, ran with the table alive, 0.39 times the sparse X's bytes; the operator reads
    # the point's probabilities, which the pass keeps apart from the table)
    obj.forget_gradient()
    system = obj.curvature_system(beta)
    if isinstance(grad, list):  # handed over: dropped once CG's residual is formed from it
        grad = grad.pop()
    gnorm = float(np.linalg.norm(grad))
    target = min(CG_FORCING_MAX, np.sqrt(rel)) * gnorm
    # Memory: four (p,) vectors live across the iterations, the iterate's and CG's s, r and
    # d; no other: the system gives the quadratic form d^T C d before C d is needed, and
    # adds -alpha C d into r where it can (a categorical family on a wide sparse design: from
    # an (n, k) table, no (p,) one), and writes the next direction z + beta d into d where
    # its preconditioner can (no z beside it). Each update is in place (BLAS's axpy, one
    # rounding per entry, or two without a fused multiply-add). Measured on the text k = 20
    # problem of ``bench --sparse`` (tracemalloc, the fit's peak): 3.04 times the sparse X's
    # bytes with C d and z as new vectors, each 0.39 of it. The vectors live in the system's
    # layout (:meth:`DualObjective.curvature_system`: theta's flattened table for a wide
    # sparse design, else the packed one); r is entered from the gradient (the gradient
    # itself on the packed layout when ``overwrite``).
    r = system.enter(grad)
    if r is grad and not overwrite:
        r = np.array(grad, dtype=np.float64)
    grad = None  # (r, or the caller's: not held here through the products)
    rz, d = system.first(r)  # z_0 (a new array, never r itself)
    if system.exact and radius == np.inf:
        # M is C itself (the start: CurvatureSystem.exact): z_0 = C^-1 g is where CG's first
        # iteration would arrive, alpha = r^T z / z^T C z = 1, without its product
        return (system.leave(d), rz) if overwrite else system.leave(d)
    s = np.zeros(r.shape, dtype=system.step_dtype)
    rounding = 0.0  # e: the bound on ||s^ - s||_2 of a float32 step (Notes)
    rz0, slope = rz, 0.0
    for _ in range(max_cg):
        if radius < np.inf:  # (before the product: its (n, k) table not alive beside them)
            ss, sd, dd = _dot(s, s), _dot(s, d), float(d @ d)
        dCd, update = system.curve(d)
        if not dCd > 0:  # a flat direction of the curvature (singular Hessian): stop here
            break
        alpha = rz / dCd
        if radius < np.inf:  # Steihaug-Toint: stop where the step leaves the trust radius
            if ss + alpha * (2.0 * sd + alpha * dd) > radius * radius:
                update = None  # (not needed: no product of this step is taken)
                # s + tau d on the radius (0 <= tau < alpha: ||s|| <= radius before); the slope
                # g^T (s + tau d) = g^T s + tau r^T z
                tau = (-sd + np.sqrt(max(sd * sd + dd * (radius * radius - ss), 0.0))) / dd
                s = _add_scaled(s, d, tau)
                slope += tau * rz
                rounding += _rounding(s)
                break
        slope += alpha * rz
        r = update(r, -alpha)
        update = None  # (an (n, k) table: not alive beyond the product)
        s = _add_scaled(s, d, alpha)
        rounding += _rounding(s)
        if gnorm * rounding > SINGLE_STEP_SLOPE_SHARE * slope:
            s = s.astype(np.float64)  # (on in float64: the rounding so far stays counted)
        if float(np.linalg.norm(r)) <= target or floor and max(
                float(r.max()), -float(r.min())) <= floor:
            break
        rz, d = system.advance(r, d, rz)
    if not s.any():  # no step: the preconditioned gradient (d is still z_0, r the gradient)
        s = d
        slope = rz0
    r = d = update = None  # (not alive while s is packed)
    s = system.leave(s)
    slope -= gnorm * rounding
    return (s, slope) if overwrite else s


def _lbfgs(obj: DualObjective, beta0, tol, max_iter, hist):
    """scipy's L-BFGS-B on the negated objective; L1 via the split ``theta = u - v`` (for the
    elastic net its L1 part, the L2 part in the smooth objective)."""
    scale = obj.scale
    if obj.penalty.has_l1:
        pen = obj.params.penalized
        lam = obj.penalty.l1_lam
        p = obj.n_params
        npen = int(pen.sum())

        def unpack(z):
            beta = z[:p].copy()
            beta[pen] = z[p:p + npen] - z[p + npen:]
            return beta

        def fun(z):
            beta = unpack(z)
            v, g = obj.smooth_value_grad(beta)
            u, vv = z[p:p + npen], z[p + npen:]
            f = -v + lam * (u.sum() + vv.sum())
            gz = np.zeros_like(z)
            gz[:p] = -g
            gz[:p][pen] = 0.0
            gz[p:p + npen] = -g[pen] + lam
            gz[p + npen:] = g[pen] + lam
            return f, gz

        b0 = np.array(beta0, dtype=float)
        z0 = np.concatenate([np.where(pen, 0.0, b0), np.maximum(b0[pen], 0), np.maximum(-b0[pen], 0)])
        bounds = [(None, None) if not pen[i] else (0.0, 0.0) for i in range(p)]
        bounds += [(0.0, None)] * (2 * npen)
    else:
        def unpack(z):
            return z

        def fun(z):
            v, g = obj.smooth_value_grad(z)
            return -v, -g

        z0 = np.array(beta0, dtype=float)
        bounds = None

    def callback(intermediate_result):
        z = intermediate_result.x
        beta = unpack(z)
        hist.add(obj.value(beta), obj.kkt_residual(beta), beta)

    beta_start = unpack(z0)
    hist.add(obj.value(beta_start), obj.kkt_residual(beta_start), beta_start)
    res = scipy.optimize.minimize(
        fun, z0, jac=True, method="L-BFGS-B", bounds=bounds, callback=callback,
        options={"maxiter": max_iter, "gtol": tol * scale, "ftol": 0.0, "maxcor": 30,
                 "maxls": 50},
    )
    beta = unpack(res.x)
    rel = obj.kkt_residual(beta)
    if rel <= tol:
        status = Status.CONVERGED
    else:
        status = Status.MAX_ITER if res.nit >= max_iter else Status.STALLED
    msg = res.message if isinstance(res.message, str) else str(res.message)
    return beta, status, status.message(obj, rel, tol, max_iter,
                                        detail=f"L-BFGS-B stopped ({msg})")


def _qr(obj: DualObjective, beta0, tol, max_iter, hist):
    """Gaussian: weighted (ridge) least squares by an orthogonal factorisation.

    ``max_theta sum_j w_j (y_j eta_j - eta_j^2 / 2) - (lam/2)||theta_pen||^2`` is the least
    squares problem ``min ||sqrt(W) (y - X theta)||^2 + lam ||theta_pen||^2``; stacking
    ``sqrt(lam) I`` rows under ``sqrt(W) X`` keeps it a least-squares problem, solved by
    LAPACK's ``gelsd`` (SVD), so the condition number is never squared.

    A rank-deficient design's objective has coordinates ``beta`` on the row space of ``X``
    (``theta = basis beta``, :class:`dualmaxent.objective.IdentifiedObjective`, whose rank the
    identifiability's QR decided): the least squares are solved in them, ``sqrt(W) X basis``
    of full column rank. Solved for theta instead, ``gelsd`` decides the rank itself, keeping
    singular values above ``eps`` times the largest: a column of ones beside the intercept
    (n = 200, two features) left one at 3e-16 times it, whose direction the minimum-norm
    answer then took 1/3e-16 of (the relative gradient 4.7e-2, the fit wrong).
    """
    if design.is_sparse(obj.X):
        raise DualMaxentError("the qr method factors a dense X; for a sparse X use newton, "
                              "newton-cg or lbfgs (auto chooses among them)")
    X, Y, w = obj.X, obj.Y, obj.w
    sw = np.sqrt(w)
    A = sw[:, None] * X
    b = sw * Y
    if obj.penalty.kind == "l2":
        rows = np.flatnonzero(obj.penalized_rows)
        R = np.zeros((rows.size, X.shape[1]))
        R[np.arange(rows.size), rows] = np.sqrt(obj.penalty.lam)
        A = np.vstack([A, R])
        b = np.concatenate([b, np.zeros(rows.size)])
    hist.add(obj.value(beta0), obj.kkt_residual(beta0), beta0)
    # in the objective's coordinates, theta = basis beta (one column of theta: its entries are
    # the packed ones)
    in_basis = getattr(obj, "basis", None) is not None
    if in_basis:
        A = A @ obj.basis
    solution = scipy.linalg.lstsq(A, b, lapack_driver="gelsd", check_finite=False)[0]
    beta = solution if in_basis else obj.beta(solution)
    value, grad = obj.smooth_value_grad(beta)
    rel = obj.kkt_residual(beta, grad)
    hist.add(value, rel, beta)
    status = Status.CONVERGED if rel <= tol else Status.STALLED
    return beta, status, status.message(obj, rel, tol, max_iter,
                                        detail="least squares stopped (ill-conditioned X)")


@dataclass(frozen=True)
class Solver:
    """One dual method: its function, what it supports, and its defaults.

    Attributes
    ----------
    name : str
    run : callable
        ``run(obj, beta0, tol, max_iter, hist) -> (beta, Status, message)``.
    penalties : tuple of str
        The penalty kinds it handles (``none``, ``l2``, ``l1``, ``elasticnet``).
    quadratic_only : bool
        Whether it needs a family with a quadratic log-partition (least squares).
    default_tol : float
        Target relative residual when the caller gives none.
    default_max_iter : int
    description : str
    warm_start : bool
        Whether :func:`dualmaxent.solve_dual` starts it from :func:`subsample_start` when the
        caller gives no ``theta0``.
    """

    name: str
    run: Callable
    penalties: tuple
    default_tol: float
    default_max_iter: int
    description: str
    quadratic_only: bool = False
    warm_start: bool = False

    def unsupported(self, family, penalty) -> str | None:
        """Why this method cannot solve ``family`` with ``penalty``, or None if it can."""
        if self.quadratic_only and not family.quadratic:
            return (f"method {self.name!r} solves a quadratic log-partition (the gaussian "
                    f"family) only; the {family.name} family is not")
        if penalty.kind not in self.penalties:
            able = [repr(s.name) for s in SOLVERS.values() if penalty.kind in s.penalties]
            return (f"method {self.name!r} does not handle the {penalty.label} penalty; "
                    f"use {' or '.join(able)}")
        return None


#: The dual methods, in the order the CLI lists them. Default tolerances: 1e-10 for Newton,
#: Newton-CG and QR; 1e-8 for L-BFGS, whose line search compares values of ``l`` and so cannot
#: resolve a relative gradient much below the square root of machine epsilon; 1e-6 for the
#: teaching gradient method.
SOLVERS = {s.name: s for s in (
    Solver("newton", _newton, ("none", "l2", "l1", "elasticnet"), 1e-10, 100,
           "exact Hessian, Cholesky, backtracking; for L1 and the elastic net proximal Newton "
           "(exact zeros)",
           warm_start=True),
    Solver("newton-cg", _newton_cg, ("none", "l2"), 1e-10, 100,
           "truncated Newton: CG on Hessian-vector products, the Hessian never formed"),
    Solver("lbfgs", _lbfgs, ("none", "l2", "l1", "elasticnet"), 1e-8, 20000,
           "scipy's L-BFGS-B; for L1 on the split theta = u - v, u, v >= 0"),
    Solver("gradient", _gradient, ("none", "l2"), 1e-6, 50000,
           "plain gradient ascent with backtracking, for teaching"),
    Solver("qr", _qr, ("none", "l2"), 1e-10, 1,
           "gaussian only: least squares by an orthogonal factorisation", quadratic_only=True),
)}


def _class_shift_groups(obj) -> list:
    """The positions in beta of each penalised row's k classes, for a categorical model: the
    directions along which the likelihood's curvature vanishes (the same change in every class
    moves no probability), which only the penalty curves. Empty for the other families."""
    params = obj.params
    if not obj.family.multiclass or obj.n_params != params.free_flat.size:
        return []
    m, q = params.m, params.q
    groups = []
    for i in np.flatnonzero(params.penalized_rows):
        where = np.searchsorted(params.free_flat, np.arange(q) * m + i)
        if np.all(params.free_flat[np.minimum(where, params.free_flat.size - 1)]
                  == np.arange(q) * m + i):
            groups.append(where)
    return groups


def _l1_quadratic(N, c, lamv, z0, max_sweeps=500, tol=0.0, shifts=()):
    """Minimise ``1/2 z^T N z - c^T z + sum_i lamv_i |z_i|`` (``N`` positive semidefinite).

    ``tol``: the sweeps also stop once the subproblem's own KKT residual (the minimal-norm
    subgradient of the model, in the max norm) is at most ``tol``: an inexact proximal Newton
    step (Lee, Sun & Saunders 2014, section 3.3) whose caller asks for a forcing fraction of its
    own residual, as Newton-CG does of CG.

    ``shifts``: groups of coordinates along whose common direction ``u`` the likelihood's
    curvature vanishes (a class shift of a penalised row of the categorical model: ``N u`` is
    the L2 part's alone). Coordinate descent crawls along such a direction, where only the
    penalty pulls; after a failed exact finish each group is moved along it to the minimiser of the
    model on that line (:func:`_shift_group`), for pure L1 a median (for an odd number of
    classes one coordinate lands on 0).

    Cyclic coordinate descent with soft-thresholding (Friedman, Hastie & Tibshirani 2010) finds
    the zero pattern; once it stops changing, feature-sign search (:func:`_feature_sign`) finishes
    from there: linear systems on the non-zero coordinates, moving between faces until the
    signs hold and ``|c_i - (N z)_i| <= lamv_i`` on the zeros (the optimality conditions of the
    subproblem). Where it stalls the sweeps go on. Coordinate descent alone converges only
    linearly, slowly on the singular directions of the categorical Hessian (a class shift of a
    penalised row) and on any ill-conditioned ``N``, hence the exact finish: iris with the
    elastic net at lam = 0.115 took hundreds of sweeps per step with a finish that only accepted
    coordinate descent's own face, and takes one finish of one or two faces with this one.
    """
    p = c.size
    z = np.array(z0, dtype=np.float64)
    diag = np.diag(N).copy()
    # a zero curvature (a feature that is zero on every weighted row) would divide by zero
    diag = np.maximum(diag, 1e-12 * max(float(diag.max(initial=0.0)), 1.0))
    r = N @ z - c  # gradient of the smooth part
    pattern = None
    stable = 0
    wait = 1  # sweeps of a stable pattern before the exact finish is tried; doubled on failure
    for sweep in range(max_sweeps):
        biggest = 0.0
        for i in range(p):
            a = diag[i]
            u = z[i] - r[i] / a
            new = np.sign(u) * max(abs(u) - lamv[i] / a, 0.0)
            delta = new - z[i]
            if delta != 0.0:
                r += delta * N[:, i]
                z[i] = new
                biggest = max(biggest, abs(delta) * np.sqrt(a))
        nz = z != 0
        if pattern is not None and np.array_equal(nz, pattern):
            stable += 1
        else:
            stable, wait = 0, 1
        pattern = nz
        if stable >= wait:
            exact = _feature_sign(N, c, lamv, z)
            if exact is not None:
                return exact
            # a pattern that holds while coordinate descent still drifts (a sign about to
            # flip) fails the exact finish sweep after sweep: try again after twice as many,
            # and move each flat group to the model's minimiser on its line
            stable, wait = 0, 2 * wait
            for g in shifts:
                _shift_group(N, z, r, lamv, g)
        if biggest <= 1e-15 * (1.0 + float(np.abs(z).max(initial=0.0))):
            break
        if tol > 0 and _l1_kkt(r, z, lamv) <= tol:
            return z
    exact = _feature_sign(N, c, lamv, z)
    return exact if exact is not None else z


def _shift_group(N, z, r, lamv, g) -> None:
    """Move ``z`` along ``u`` (ones on the group ``g``) to the minimiser of the model on that
    line, in place, updating ``r = N z - c``.

    On the line ``z + t u`` the model is ``f(t) = f(0) + b t + a t^2 / 2 + sum_i lamv_i |z_i +
    t|`` with ``b = u^T r`` and ``a = u^T N u >= 0``: convex and piecewise quadratic, with kinks
    at ``t = -z_i``. Its minimiser is where ``0`` is in ``b + a t + sum lamv_i sign(z_i + t)``:
    between two kinks (``t = -(b + L s) / a`` for the constant sign sum there), or on a kink.
    """
    Ng = N[:, g].sum(axis=1)
    a = float(Ng[g].sum())
    b = float(r[g].sum())
    lam = lamv[g]
    if not np.all(lam == lam[0]):  # a mixed group (not a penalised row): left alone
        return
    L = float(lam[0])
    kinks = np.sort(-z[g])
    # the subgradient's range at each kink and its slope between them
    best = None
    for j, k in enumerate(kinks):
        above = int(np.sum(z[g] + k > 0))
        below = int(np.sum(z[g] + k < 0))
        at = g.size - above - below
        base = b + a * k + L * (above - below)
        if base - L * at <= 0.0 <= base + L * at:
            best = k
            break
    if best is None:  # between kinks: f' = b + a t + L s with s the sign sum on the interval
        edges = np.concatenate([[-np.inf], kinks, [np.inf]])
        for lo, hi in zip(edges[:-1], edges[1:]):
            mid = (lo + hi) / 2 if np.isfinite(lo) and np.isfinite(hi) else (
                hi - 1.0 if np.isfinite(hi) else lo + 1.0)
            s = float(np.sum(np.sign(z[g] + mid)))
            if a > 0:
                t = -(b + L * s) / a
                if lo <= t <= hi:
                    best = t
                    break
    if best is None or best == 0.0 or not np.isfinite(best):
        return
    z[g] += best
    r += best * Ng


def _feature_sign(N, c, lamv, z, max_steps=None):
    """The subproblem's minimiser, found from ``z`` by feature-sign search (Lee, Battle, Raina &
    Ng 2007), or None where it stalls.

    Each step solves for the minimiser ``z_s`` of the model with the current signs ``s`` held
    (a linear system on the non-zero coordinates, :func:`_solve_face`). If ``z_s`` keeps the signs it is the
    minimiser on that orthant face; otherwise the step goes to the point of least model value
    among ``z_s`` and the points where a coordinate of the segment from ``z`` to ``z_s`` crosses
    zero, which drops that coordinate. On a face whose minimiser holds, a zero coordinate whose
    optimality condition ``|c_i - (N z)_i| <= lamv_i`` fails joins with the sign that descends.
    The model value falls at every step (to its rounding, which is allowed: the change is
    formed from the step, never as a difference of two values), so no face is visited twice:
    for a positive definite ``N`` the search ends at the minimiser. Coordinate descent's
    pattern is the start, so the search usually ends in one or two steps; the steps are capped
    at ``2 p + 10``. A face whose system has no solution (a flat direction of a singular ``N``,
    along which its model falls without bound) is left along that direction, at the first
    coordinate that reaches zero (:func:`_flat_descent`, :func:`_to_edge`); where that fails
    the search gives None.
    """
    p = c.size
    z = np.array(z, dtype=np.float64)
    s = np.sign(z)
    free = lamv <= 0.0  # unpenalised coordinates: no sign, always in the system
    scale = 1.0 + float(np.abs(c).max(initial=0.0))
    gamma = 4 * (p + 4) * np.finfo(float).eps
    aN = np.abs(N)  # (for the rounding bounds below; N does not change)

    def rise(v, line=None):
        # the model's change from z to v, formed from the step e = v - z: g^T e + e^T N e / 2
        # plus the L1 terms' change. The model's own value cancels terms of order |N| |z|^2
        # (features of sizes 1e-2 to 1e4: 1e11 against changes of 1e-4, whose rounding then
        # decided the comparisons). ``line``: (t, g^T d, d^T N d) for v = z + t d
        if line is not None:
            t, gd, dNd = line
            return t * gd + 0.5 * t * t * dNd + float(lamv @ (np.abs(v) - np.abs(z)))
        e = v - z
        return float((N @ z - c) @ e + 0.5 * e @ (N @ e) + lamv @ (np.abs(v) - np.abs(z)))

    def noise(v):
        # a bound on the rounding of rise(v): the gradient's entries (p products and c's
        # entry), then the three sums of p terms each; a step that leaves the face with a rise
        # within it is taken (a rounding of 3.6e-9 against steps of 1e-2 ended the search)
        e = np.abs(v - z)
        return gamma * float((aN @ np.abs(z) + np.abs(c)) @ e + e @ (aN @ e)
                             + lamv @ (np.abs(v) + np.abs(z)))

    for _ in range(max_steps if max_steps is not None else 2 * p + 10):
        A = np.flatnonzero((s != 0) | free)
        target = np.zeros(p)
        if A.size:
            NA = N[np.ix_(A, A)]
            rhs = c[A] - lamv[A] * s[A]
            left = rhs - NA @ z[A]
            atol = 1e-9 * (1.0 + float(np.abs(rhs).max()))
            dA = _solve_face(NA, left, atol)
            if dA is None:
                # no minimiser on this face: the model falls without bound along a flat
                # direction of it, to the face's edge, where a coordinate reaches zero
                d = np.zeros(p)
                d[A] = _flat_descent(NA, left, atol)
                nxt = _to_edge(z, d, s, free, N, c, lamv)
                if nxt is None or not rise(nxt) < 0.0:
                    return None
                z, s = nxt, np.sign(nxt)
                continue
            target[A] = z[A] + dA
        if not np.all(np.isfinite(target)):
            return None
        if np.any(~free & (s != 0) & (np.sign(target) != s)):
            # the segment leaves the face: stop at the best of its zero crossings and the end
            d = target - z
            with np.errstate(divide="ignore", invalid="ignore"):
                cross = -z / d
            inside = ~free & (z != 0) & (cross > 0) & (cross < 1)
            ts = np.unique(np.concatenate([cross[inside], [1.0]]))
            gd, dNd = float((N @ z - c) @ d), float(d @ (N @ d))
            values = [rise(z + t * d, (t, gd, dNd)) for t in ts]
            t = ts[int(np.argmin(values))]
            nxt = z + t * d
            if t < 1.0:
                nxt[inside & np.isclose(cross, t, rtol=1e-12, atol=0.0)] = 0.0
            if not rise(nxt) <= noise(nxt):
                return None
            z, s = nxt, np.sign(nxt)
            continue
        z = target
        r = N @ z - c
        # (each zero's optimality test allows its own entry's rounding, p products and c's)
        slack = gamma * (aN @ np.abs(z) + np.abs(c)) + 1e-12 * (lamv + scale)
        excess = np.where((z == 0) & ~free, np.abs(r) - lamv - slack, -np.inf)
        i = int(np.argmax(excess)) if p else 0
        if p == 0 or excess[i] <= 0.0:
            return z
        s = np.sign(z)
        s[i] = -np.sign(r[i])
    return None


def _flat_descent(NA, left, atol):
    """The part of ``left`` (the face model's negative gradient) along the flat directions of
    ``NA``, or zeros where the model's slope along it is at most ``atol`` per unit of its l1
    norm: a direction along which the face's model
    falls at a constant rate with no curvature to stop it (a class shift of a row penalised in
    every class, whose L1 signs do not sum to zero). Flat: eigenvalues of ``NA`` scaled to a
    unit diagonal at most :data:`FLAT_RTOL` of the largest, so that a feature of small size
    (its curvature 1e-13 of a large one's) is not taken for one; the direction is mapped back
    to ``NA``'s coordinates, where ``left^T d > 0``."""
    if not (np.all(np.isfinite(NA)) and np.all(np.isfinite(left))):
        return np.zeros_like(left)
    root = np.sqrt(np.maximum(np.diag(NA), np.finfo(float).tiny))
    w, V = np.linalg.eigh(NA / root[:, None] / root[None, :])
    flat = V[:, w <= FLAT_RTOL * max(float(w[-1]), 0.0)]
    d = flat @ (flat.T @ (left / root)) / root
    return d if float(left @ d) > atol * float(np.abs(d).sum()) else np.zeros_like(left)


def _to_edge(z, d, s, free, N, c, lamv):
    """``z + t d`` at the first zero crossing of a signed coordinate (which is set to zero);
    None where ``d`` is zero, no coordinate crosses (the model unbounded below: not for a
    subproblem of a penalised likelihood, whose flat directions all meet a penalised
    coordinate), or the model's minimiser on the line comes first (``d`` was not flat after
    all: the face has a minimiser, which the solve missed)."""
    heading = ~free & (s != 0) & (d * s < 0)
    if not heading.any():
        return None
    cross = np.full(z.size, np.inf)
    cross[heading] = -z[heading] / d[heading]
    t = float(cross.min())
    slope = float(d @ (N @ z - c + lamv * s))
    curvature = float(d @ (N @ d))
    if not slope < 0 or (curvature > 0 and -slope / curvature < t):
        return None
    nxt = z + t * d
    nxt[heading & (cross <= t)] = 0.0
    return nxt


#: :func:`_flat_descent`: eigenvalues of a face's curvature (scaled to a unit diagonal) at most
#: this fraction of the largest are flat (a class shift's are zero to the rounding, 1e-16 of the
#: largest; a feature that nearly repeats another at 1e-3 has 1e-6).
FLAT_RTOL = 1e-10


def _solve_face(NA, left, atol):
    """``d`` with ``NA d = left`` (``NA`` positive semidefinite): Cholesky, else the
    minimum-norm least-squares solution; None when no ``d`` solves it within ``atol``."""
    try:
        d = nx.cho_solve(nx.cholesky(NA), left)
        if np.abs(NA @ d - left).max() <= atol:
            return d
    except np.linalg.LinAlgError:
        pass
    if not np.all(np.isfinite(NA)):
        return None
    try:
        d = scipy.linalg.lstsq(NA, left, check_finite=False)[0]
    except np.linalg.LinAlgError:  # LAPACK's SVD (gelsd) can fail to converge on a nearly
        # singular matrix; a pivoted QR (gelsy) solves it on its numerical rank
        d = scipy.linalg.lstsq(NA, left, check_finite=False, lapack_driver="gelsy")[0]
    # a least-squares answer solves nothing when the system is inconsistent: the targets' part
    # along a flat direction (the L1 signs of a row active in every class need not sum to
    # zero) means no minimiser has this face
    return d if np.abs(NA @ d - left).max() <= atol else None


def _l1_kkt(r, z, lamv) -> float:
    """The largest entry of the minimal-norm subgradient of ``1/2 z^T N z - c^T z + sum lamv
    |z|`` at ``z``, given ``r = N z - c``."""
    g = np.where(z != 0, r + lamv * np.sign(z), np.maximum(np.abs(r) - lamv, 0.0))
    return float(np.abs(g).max(initial=0.0))
