"""The solvers' projected primal point: their own, untrusted proof of attainment.

The certificate is not built here: :mod:`dualmaxent.certify` recomputes its own point and bracket
from (data, theta, penalty). This module is the solvers' fast version of the same construction,
reusing their last pass (and the Dask engine's), to decide inside a solve whether the maximiser
exists; nothing it returns reaches a certificate.

Weak duality
------------
For every ``mu`` feasible for the maximum-entropy primal (rows in the family's domain, the balance
equations ``X^T W (mu - Y) = 0`` on the equality rows, and for L1 the boxes
``|X_R^T W (mu - Y)| <= lam`` on the penalised rows) and for every ``theta``,

    primal(mu)  <=  primal(mu*)  =  dual(theta*)  <=  dual(theta),

with ``dual(theta) = -(l(theta) - penalty(theta))`` (Fenchel-Young: ``-A*(mu) <= A(eta) - mu eta``
for each observation). So ``[primal(mu~), dual(theta*)]`` brackets the optimum for any feasible
``mu~``, and its width bounds how far *both* solutions are from it. No conic solver is needed, and
the whole construction is two passes over the data.

Why ``mu(theta*)`` is not enough. ``mu = A'(X theta*)`` misses the balance equations by the dual's
gradient ``R = X^T W (Y - mu)``, however small.

The feasible point: one Newton step in mean space
-------------------------------------------------
Let ``J`` be the derivative of the mean map ``theta -> A'(X theta)`` at theta*, so that
``X^T W J = C``, the curvature ``-Hessian`` of ``l``. For a correction ``a`` of theta (shape of
theta, zero off a chosen set ``S`` of entries), ``mu~ = mu + J a`` moves the balance equations by
``C a``. Choosing ``a`` to solve ``C_SS a_S = t_S`` puts them exactly where they belong:

* categorical: ``d_j = A^T x_j`` and ``D_j = diag(p_j) d_j - p_j (p_j^T d_j)``; each row of ``D``
  sums to zero, so the rows of ``P~ = P + D`` stay on the simplex, and an entry with ``p_ji = 0``
  stays zero (which is why the same step works on the reduced problem of separated data);
* one-parameter families: ``mu~_j = mu_j + A''(eta_j) x_j^T a``.

The set ``S`` and the targets ``t``:

* unpenalised: every entry of the pivot gauge (classes ``0 .. k-2``; the last class's balance
  follows because the rows of ``Y - P~`` sum to zero), ``t = R``;
* L2: the relaxed primal keeps only the unpenalised (intercept) rows as equalities and charges
  ``||X_R^T W (mu - Y)||^2 / (2 lam)`` for the others, so ``S`` is the intercept row alone and
  ``t = R`` there; the penalty term is evaluated at ``mu~``;
* L1: the intercept row as for L2, plus every *active* penalised entry (``theta*_ri != 0``), whose
  box constraint is made tight with the sign KKT demands, ``t_ri = R_ri - lam sign(theta*_ri)``.
  The inactive entries are left free; their boxes ``|.| <= lam`` hold with the slack KKT leaves
  them, and are checked, like everything else;
* elastic net: as for L2 (the intercept row alone); its primal charges
  ``sum (|X_R^T W (mu - Y)| - lam a)_+^2 / (2 lam (1 - a))`` for the penalised rows (no box;
  :class:`dualmaxent.params.Penalty` derives it), evaluated at ``mu~``.

``C_SS`` is equilibrated to unit diagonal and factored by a symmetric eigendecomposition, and
directions whose eigenvalue is below ``RANK_RTOL * max eigenvalue`` are dropped (a pseudo-inverse): rank-deficient designs and the
recession directions of separated data leave ``C`` singular, but ``t`` is orthogonal to those
directions (``R`` lies in the range of ``X^T``), so the solve is exact on the rest. The largest
over smallest kept eigenvalue (of the equilibrated matrix) is reported as ``condition``.

What is checked, never assumed
------------------------------
The point is not trusted: its balance residual (and L1 box excess) is recomputed from ``mu~`` in
the second pass, and it must lie in the family's domain: ``P~ >= 0`` (categorical), ``0 <= mu~ <=
1`` (Bernoulli), ``mu~ >= 0`` (Poisson), nothing (Gaussian). Nothing is ever clipped: a point that
leaves the domain fails the certificate (it happens far from the optimum, or on separated data
solved without its forced entries).

Round-off. The bracket is exact arithmetic's; in floating point the two sums over ``n``
observations carry an error of a few ``eps`` times the sum of the magnitudes of their terms, and
the residual ``r~`` of the constraints left by the solve shifts the primal value by at most
``|<theta*, r~>|`` to first order (over the equality rows; for L1 also ``|theta*_R|`` times the
boxes' excess). ``roundoff`` is ``ROUNDOFF_FACTOR * eps * (sum_j w_j |A*(mu~_j)| + |l(theta*)| +
sum_j w_j |<Y_j, eta_j>|)`` plus that shift: a gap below ``-roundoff`` means a wrong computation,
not a tight bound.

A proof of attainment. The maximum-likelihood estimate exists exactly when some mean strictly
inside the domain satisfies the balance equations (the separation module's docstring). ``P~`` is
such a point up to its residual ``r~``, and a second Newton step ``E = J C^{-1} r~`` would remove
the residual. Each entry of ``J a`` is ``p_ji`` times ``(d_ji - p_j^T d_j)``, at most
``2 |A^T x_j|`` in relative terms, so that step changes every entry by less than the fraction
``second_step = 2 max_j ||x_j|| ||r~_S|| / lambda_min(C_SS)`` of ``p_ji`` (and, for the
one-parameter families, of the distance ``A''`` measures). So when every entry of ``mu(theta*)`` is
positive (no underflow) and ``P~ >= MARGIN_FRACTION P`` entry by entry (the same for ``1 - mu`` of
the Bernoulli family), and ``second_step < MARGIN_FRACTION``, a strictly positive exactly feasible
point exists: the data are not separated, and the LP can be skipped. The test is relative to
``P``, so it holds for tiny probabilities on large data sets; on separated data solved without
their forced entries ``C`` is nearly singular along the recession direction and ``P~`` has
entries at or below zero, and it fails.

The proof's eigenvalue. ``lambda_min(C_SS)`` above must be a *lower bound* of the smallest
eigenvalue of the exact curvature at theta*: the map from a correction to the balance residual
is exactly ``X^T W J X`` there. The ``C`` the step used need not be that curvature (the step
may use anything: its point is measured, not trusted); the solver's
(:meth:`dualmaxent.objective.DualObjective.last_pass`) may have been formed at an earlier
iterate ``theta_C``, or be a row sample's at theta* scaled up by its stride. What it is comes
with it (:class:`dualmaxent.objective.LastPass`: ``point``, ``scale``, ``rows``, ``dtype``),
and :func:`proof_curvature_bound` turns it into a bound, or into 0 (nothing claimed; the LP
decides):

* a sample. ``C / scale`` is a sum of positive semidefinite row terms over a subset of the
  rows, so ``C / scale <= C_full`` in the PSD order and ``lambda_min(C / scale)`` is a lower
  bound (not ``C``'s own: the scaled sample can exceed the full curvature). A sample whose
  factorisation dropped a direction proves nothing (its null space may be larger);
* another point. By the self-concordance of the curvature ball's section, ``C(theta*) >=
  exp(-c rho |theta* - theta_C|) C(theta_C)``, ``|.|`` the Frobenius norm of the difference
  over *every* column of theta (the pinned class's entries included, zero in the pivot gauge;
  a row's logits then move within ``2 |x_j| |delta|``, whatever the gauge), ``rho >= max_j
  |x_j|`` (pass 2's rows of positive weight, rounded up), ``c = 2`` (categorical) or 1
  (Bernoulli). Poisson is covered with ``c = 1``: its row curvature ``w_j exp(eta_j) x_j
  x_j^T`` is multiplied by exactly ``exp(t x_j^T delta) >= exp(-|x_j| |delta|)`` along the
  segment. Other families (none can separate) prove nothing from a stale curvature;
* round-off. The bound is on the exact curvature, ``C`` a floating-point sum: its entries err
  by at most ``g M`` entrywise, ``M`` the sum of the monomials' magnitudes, ``w_j |x_ji x_ji'|
  p_a (delta_ab + p_b)`` (the kernels form ``p`` and ``p^2`` apart; a one-parameter
  variance's ``1 - p`` is charged the same way), and ``g`` the kernels' ``gamma`` of the
  formation (:func:`dualmaxent._kernels.categorical_curvature_error_bound`: its precision
  and blocks, ``rows + 8`` float64 roundings for the sums over blocks, chunks and the scale)
  compounded with the probabilities' relative error ``delta`` (the ball's) to the third power,
  plus ``2 delta``. ``M`` is positive semidefinite and nonnegative, so with ``D =
  diag(C)^(-1/2)``, ``||D E D||_2 <= g trace(D M D)``; pass 2 sums the diagonal of ``M`` at
  theta* (``sum_j w_j x_ji^2 p_ja (1 + p_ja)``), which bounds the one at ``theta_C`` times
  ``exp(2 s)`` (each probability moves by at most ``exp(s)``, ``s = c rho |delta|``), times
  ``(1 + delta)^2`` and its sums' ``1 + gamma(n + 8)``. The smallest eigenvalue is then bounded
  below by :func:`_smallest_eigenvalue_bound` (the shifted Cholesky of
  :func:`dualmaxent.certify.factor`; ``factor`` itself on the kept range of a rank-deficient
  design), with ``terms`` chosen so that its charge ``size gamma(terms + 8) (1 + gamma(terms
  + 8))`` covers ``2 g trace(D M D)``. The bound is divided by ``scale`` and multiplied by
  ``exp(-s)``, rounded down.

A float32 sample's worst-case charge is too large to prove much; then the proof also takes the
curvature ball's ``lambda`` (``project_primal(curvature_bound=...)``, a proved bound on every
free entry, which is ``S`` when the proof arises), and divides by the larger of the two.

A cheaper proof, the curvature ball (:func:`dualmaxent.certify.curvature_ball`, the
checker's: the gradient alone proves attainment near a solution), comes first in the solver's
attainment test; a loose solve (a large gradient) fails it and falls back on the projected
point, whose residual is of second order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import _kernels, design
from . import _numerics as nx
from .certify import (MARGIN_FRACTION, RANK_RTOL, _correction_set, _penalty_value, _relaxation,
                      relative_gap)
from .certify import factor as _factor
# (the curvature ball is the checker's proof: re-exported here, where the solvers found it)
from .certify import (ATTAINMENT_ROWS_PER_COLUMN, CurvatureBall, _smallest_eigenvalue_bound,
                      curvature_ball)
from .certify import pseudo_solve as _pseudo_solve
from .engine import vgh_block
from .exceptions import DualMaxentError
from .params import Parameterization, Penalty

__all__ = ["ProjectedPrimal", "project_primal", "CurvatureBall", "curvature_ball",
           "MARGIN_FRACTION", "RANK_RTOL", "ATTAINMENT_ROWS_PER_COLUMN"]

#: Multiple of ``eps`` in the round-off budget of the two sums (pairwise summation keeps their
#: error near ``log2(n) eps``; 64 covers ``n`` up to ``2^64`` with room for the weights).
ROUNDOFF_FACTOR = 64.0

#: The constant ``c`` of the curvature's self-concordance bound ``C(theta) >= exp(-c rho
#: |theta - theta'|) C(theta')`` (module docstring, "The proof's eigenvalue"): the categorical
#: and Bernoulli families as for the ball, and Poisson, whose row curvature ``exp(eta)`` moves
#: by exactly ``exp(x^T delta)`` along a segment. A family not listed proves nothing from a
#: curvature formed elsewhere.
_STALE_CONSTANT = {"categorical": 2.0, "bernoulli": 1.0, "poisson": 1.0}


@dataclass(frozen=True, eq=False)
class ProjectedPrimal:
    """The feasible primal point built from theta*, and the bracket of the optimum it gives.

    Attributes
    ----------
    mu : ndarray of shape (n, k) or (n,), or None
        ``mu~`` (``P~`` for the categorical family); None when ``keep_mu=False``.
    entropy : float
        ``H(mu~) = -sum_j w_j A*(mu~_j)``.
    lower_bound : float
        The primal objective at ``mu~``: ``H(mu~)``, minus ``||X_R^T W (mu~ - Y)||^2 / (2 lam)``
        for L2.
    upper_bound : float
        ``-(l(theta*) - penalty(theta*))``, the dual objective at theta* (canonical ``l``).
    duality_gap : float
        ``upper_bound - lower_bound``: >= ``-roundoff`` always, and small when theta* is optimal.
    relative_gap : float
        ``|duality_gap| / max(1, |upper_bound|)``.
    roundoff : float
        The round-off budget of the gap (module docstring).
    balance_residual : float
        ``max |X^T W (mu~ - Y)| / (1 + max |X^T W Y|)`` over the equality rows, and for L1 the
        relative excess of the boxes.
    simplex_residual : float
        ``max |P~ 1 - 1|`` (categorical; 0 otherwise).
    min_entry : float
        The distance of ``mu~`` from the boundary of the family's domain over the observations of
        positive weight: ``min P~`` (categorical), ``min(mu~, 1 - mu~)`` (Bernoulli), ``min mu~``
        (Poisson), ``+inf`` (Gaussian). Negative means ``mu~`` left the domain.
    in_domain : bool
        ``min_entry >= 0`` (no entry of ``mu~`` outside the domain).
    proves_attained : bool
        On an unpenalised full problem: ``mu~`` lies strictly inside the domain by the relative
        margin of the module docstring, so the likelihood has a maximiser (no separation).
    relative_margin : float
        ``min mu~ / mu`` over the entries (and ``(1 - mu~) / (1 - mu)`` for Bernoulli; ``+inf``
        for the Gaussian family).
    second_step : float
        The bound on the relative size of the step that would remove ``mu~``'s residual, from
        :attr:`proof_curvature` (``inf`` when that is 0 or the proof does not arise).
    rank, size : int
        The rank of ``C_SS`` (after dropping its singular directions) and the size of ``S``.
    condition : float
        Largest over smallest kept eigenvalue of ``C_SS``.
    proof_curvature : float
        The proved lower bound of the smallest eigenvalue of the exact curvature ``C_SS`` at
        theta that :attr:`second_step` divides by (:func:`proof_curvature_bound`); 0 when
        nothing is proved or the proof does not arise (a penalty, forced entries, margins that
        fail).
    seconds : float
    """

    mu: np.ndarray | None
    entropy: float
    lower_bound: float
    upper_bound: float
    duality_gap: float
    relative_gap: float
    roundoff: float
    balance_residual: float
    simplex_residual: float
    min_entry: float
    in_domain: bool
    proves_attained: bool
    relative_margin: float
    second_step: float
    rank: int
    size: int
    condition: float
    proof_curvature: float
    seconds: float


def project_primal(dataset, theta, penalty: Penalty | None = None, forced=None,
                   keep_mu: bool = True, first_pass=None, engine=None,
                   curvature_bound: float = 0.0) -> ProjectedPrimal:
    """Build the feasible primal point ``mu~`` from ``theta`` and bracket the optimum.

    Parameters
    ----------
    dataset : Dataset
    theta : ndarray of shape (m, k) or (m,)
        The dual solution (any gauge).
    penalty : Penalty, optional
    forced : ndarray of bool, optional
        Forced entries of separated data (:func:`dualmaxent.detect_separation`): the point is
        built for the reduced problem, with ``mu~ = 0`` (categorical entries) or ``mu~ = y``
        (forced observations) there.
    keep_mu : bool, default True
        Return ``mu~`` (an array like ``Y``); False keeps only the reductions.
    first_pass : tuple or LastPass, optional
        ``(R, C, l)`` already at hand (:meth:`dualmaxent.objective.DualObjective.last_pass`):
        ``R = X^T W (Y - mu)`` (m, q) at theta, a curvature of the classes the step moves (an
        iterate's near theta, or a scaled row sample's, will do for the step) and
        ``l(theta)``. Saves the first pass. The attainment proof uses ``C`` only as far as a
        :class:`dualmaxent.objective.LastPass` says what it is (where formed, scaled by what,
        over how many rows, in what precision); a plain tuple proves nothing.
    engine : NumpyEngine or DaskEngine, optional
        Run the two passes through an engine (:mod:`dualmaxent.engine`) instead of over the
        in-memory arrays; then ``mu~`` is not returned (``mu`` is None) and ``forced`` is not
        supported.
    curvature_bound : float, default 0
        A proved lower bound of the smallest eigenvalue of the exact curvature at ``theta`` on
        every free entry of the pivot gauge (:attr:`CurvatureBall.curvature_bound`), which
        is ``C_SS`` when the proof arises (unpenalised): the proof divides by the larger of it
        and :func:`proof_curvature_bound`'s. 0: none at hand.

    Returns
    -------
    ProjectedPrimal
    """
    t0 = time.perf_counter()
    penalty = penalty if penalty is not None else Penalty()
    m, multi = dataset.X.shape[1], dataset.Y.ndim == 2
    q = dataset.Y.shape[1] if multi else 1
    theta = np.asarray(theta, dtype=np.float64).reshape(m, q)
    pen_rows = Parameterization.from_dataset(dataset, penalty).penalized_rows
    mask = _forced_mask(dataset, forced)
    if engine is not None and mask is not None:
        raise DualMaxentError("the projected point of separated data (forced entries) needs the "
                              "data in memory; it cannot run through an engine")
    # pass 1: the mean, the residual R = X^T W (Y - mu), the curvature C; the Newton system on S
    S = _correction_set(theta, pen_rows, penalty, multi)
    classes = sorted({a for a in range(q) if S[:, a].any()})
    R, C, value, origin = _pass_one(dataset, theta, mask, classes, first_pass, engine)
    step = _newton_step(C, _targets(R, theta, pen_rows, penalty), S, classes)
    # pass 2: mu~ = mu + J A, its entropy, balance residual and domain
    out = np.empty(dataset.Y.shape) if keep_mu and engine is None else None
    # the curvature's diagonal magnitudes, for the proof's round-off (families with 1 - p)
    wanted = (not penalty.active and mask is None and origin is not None
              and dataset.family.name in _MAGNITUDE_FAMILIES)
    sums = _pass_two(dataset, theta, step.A, mask, engine, out, classes, wanted)
    balance, lower, upper, roundoff = _bracket(sums, theta, value, pen_rows, penalty)
    gap = upper - lower
    r_S = step.on_S(sums.resid) if step.in_S.any() else np.zeros(0)
    # the proof's eigenvalue: a proved lower bound of lambda_min of the exact curvature at theta
    # on S (module docstring), wanted only where the margins already hold
    provable = (not penalty.active and mask is None and sums.relative_margin >= MARGIN_FRACTION
                and step.in_S.any())
    proof_curvature = (proof_curvature_bound(C[np.ix_(step.in_S, step.in_S)], origin,
                                             dataset.family, theta, sums, step.rank,
                                             int(step.in_S.sum()), step.in_S, dataset.n)
                       if provable else 0.0)
    if provable and np.isfinite(curvature_bound):
        proof_curvature = max(proof_curvature, float(curvature_bound))
    u = _kernels.unit_roundoff(np.float64)
    rho = sums.x_norm * (1.0 + _kernels.gamma(dataset.X.shape[1] + 4, u))
    second_step = (2.0 * rho * float(np.linalg.norm(r_S)) / proof_curvature * (1.0 + 8 * u)
                   if proof_curvature > 0 else float("inf"))
    attained = provable and second_step < MARGIN_FRACTION
    min_entry = sums.min_entry
    return ProjectedPrimal(
        mu=out,
        entropy=float(sums.entropy),
        lower_bound=float(lower),
        upper_bound=float(upper),
        duality_gap=float(gap),
        relative_gap=relative_gap(gap, upper),
        roundoff=float(roundoff),
        balance_residual=balance,
        simplex_residual=sums.simplex,
        min_entry=min_entry,
        in_domain=bool(min_entry >= 0.0),
        proves_attained=bool(attained),
        relative_margin=float(sums.relative_margin),
        second_step=float(second_step),
        rank=int(step.rank),
        size=int(step.in_S.sum()),
        condition=float(step.condition),
        proof_curvature=float(proof_curvature),
        seconds=time.perf_counter() - t0,
    )


def _pass_one(dataset, theta, mask, classes, first_pass, engine):
    """Pass 1 of :func:`project_primal`: ``(R, C, l)`` at theta (:func:`_first_pass`), or the
    ``first_pass`` given (unless entries are forced), or mapped over ``engine``'s blocks.

    Returns
    -------
    R : ndarray of shape (m, q)
        ``X^T W (Y - mu)``.
    C : ndarray of shape (p, p)
        The curvature of the classes ``classes`` (class-major), ``p = len(classes) m``.
    l : float
        The canonical log-likelihood at theta.
    origin : LastPass or None
        What ``C`` is (:class:`dualmaxent.objective.LastPass`'s attributes): the first pass's
        own at theta, float64, every row; the ``first_pass`` given; None when unknown.
    """
    from .objective import LastPass

    if first_pass is not None and mask is None:
        R, C, value = first_pass
        origin = first_pass if isinstance(first_pass, LastPass) else None
        if origin is not None and origin.point is None:
            origin = None
        return np.asarray(R).reshape(theta.shape), C, value, origin
    if engine is not None:
        R, C, value = engine.map_reduce(_first_pass_block, theta, dataset.family, classes)
    else:
        R, C, value = _first_pass(dataset.X, dataset.Y, dataset.weights, theta,
                                  dataset.family, mask, classes)
    return R, C, value, LastPass(R, C, value, theta, 1.0, dataset.n, np.float64)


def _targets(R, theta, pen_rows, penalty) -> np.ndarray:
    """The targets ``t`` of shape (m, q) of the Newton system (module docstring): ``R``, and on
    the L1 rows ``R - lam sign(theta)`` (zero off the active entries, which ``S`` skips)."""
    target = R.copy()
    if penalty.kind == "l1":
        target[pen_rows] -= penalty.lam * np.sign(theta[pen_rows])
    return target


@dataclass(frozen=True)
class _Step:
    """The correction of theta on ``S`` that puts the balance equations in place (pass 1).

    Attributes
    ----------
    A : ndarray of shape (m, q)
        The correction ``a``, zero off ``S``.
    flat : ndarray of int of shape (len(classes) m,)
        The class-major index (into ``theta.T.ravel()``) of each row and column of ``C``.
    in_S : ndarray of bool of shape (len(classes) m,)
        Which of them are in ``S``.
    rank : int
        The rank of ``C_SS`` kept by :func:`_pseudo_solve`.
    condition, smallest : float
        The condition of the equilibrated ``C_SS`` and the smallest kept eigenvalue of ``C_SS``.
    """

    A: np.ndarray
    flat: np.ndarray
    in_S: np.ndarray
    rank: int
    condition: float
    smallest: float

    def on_S(self, T: np.ndarray) -> np.ndarray:
        """The entries of an (m, q) table ``T`` on ``S``, in ``C_SS``'s order."""
        return T.T.ravel()[self.flat][self.in_S]


def _newton_step(C, target, S, classes) -> _Step:
    """Solve ``C_SS a_S = t_S`` (module docstring) on the well-conditioned range of ``C_SS``.

    Parameters
    ----------
    C : ndarray of shape (p, p)
        The curvature of the classes ``classes``, class-major (``p = len(classes) m``).
    target : ndarray of shape (m, q)
        ``t`` (:func:`_targets`).
    S : ndarray of bool of shape (m, q)
        The entries the step moves (:func:`_correction_set`).
    classes : list of int
        The classes with an entry in ``S``.

    Returns
    -------
    _Step
    """
    m, q = S.shape
    flat = (np.asarray(classes, dtype=int)[:, None] * m + np.arange(m)).ravel()
    in_S = S.T.ravel()[flat]
    a_full = np.zeros(m * q)
    rank, condition, smallest = 0, 1.0, 0.0
    if in_S.any():
        C_SS = C[np.ix_(in_S, in_S)]
        a_S, rank, condition, smallest = _pseudo_solve(C_SS, target.T.ravel()[flat][in_S])
        a_full[flat[in_S]] = a_S
    return _Step(a_full.reshape(q, m).T, flat, in_S, rank, condition, smallest)


def _pass_two(dataset, theta, A, mask, engine, out, classes=None,
              magnitudes=False) -> "_PointSums":
    """Pass 2 of :func:`project_primal`: :func:`point_block` over the row blocks of the
    in-memory arrays (filling ``out``, an array like ``Y``, with ``mu~`` when given), or mapped
    over ``engine``'s; ``theta`` and ``A`` of shape (m, q); ``classes`` those of ``C``."""
    fam = dataset.family
    if engine is not None:
        return engine.map_reduce(point_block, None, theta, A, fam, None, classes, magnitudes,
                                 combine=_PointSums.merge)
    X, Y, w = dataset.X, dataset.Y, dataset.weights
    n, m = X.shape
    sums = _PointSums.empty(m, theta.shape[1])
    for sl in _kernels.row_blocks(n, m):
        sums = sums.merge(point_block(X[sl], Y[sl], w[sl], None if mask is None else mask[sl],
                                      theta, A, fam, None if out is None else out[sl], classes,
                                      magnitudes))
    return sums


def _bracket(sums: "_PointSums", theta, value, pen_rows, penalty):
    """The bracket of the optimum from pass 2's sums (module docstring).

    Parameters
    ----------
    sums : _PointSums
    theta : ndarray of shape (m, q)
    value : float
        The canonical log-likelihood ``l(theta)``.
    pen_rows : ndarray of bool of shape (m,)
    penalty : Penalty

    Returns
    -------
    balance : float
        The relative balance residual (and L1 box excess) of ``mu~``.
    lower, upper : float
        The primal objective at ``mu~`` and the dual objective at theta.
    roundoff : float
        The round-off budget of ``upper - lower``.
    """
    resid = sums.resid  # X^T W (mu~ - Y)
    scale = 1.0 + float(np.abs(sums.XtWY).max())
    eq_rows = ~pen_rows
    # every class of the equality rows, the pinned one included (it follows only up to round-off)
    balance = float(np.abs(resid[eq_rows]).max()) if eq_rows.any() else 0.0
    if penalty.kind == "l1" and pen_rows.any():
        balance = max(balance, float(np.maximum(np.abs(resid[pen_rows]) - penalty.lam, 0).max()))
    # the relaxation's charge of the penalised rows (L2, elastic net; 0 for L1 and none)
    lower = sums.entropy - float(_relaxation([1.0], resid, pen_rows, penalty)[0])
    upper = -(value - _penalty_value(theta, pen_rows, penalty))
    # first-order effect of the constraints' residual: |<theta, r~>| on the equality rows, and
    # |theta| times the boxes' excess on the L1 rows (the L2 and elastic-net rows carry no
    # constraint)
    infeasible = float(np.abs(theta[eq_rows] * resid[eq_rows]).sum())
    if penalty.kind == "l1":
        excess = np.maximum(np.abs(resid[pen_rows]) - penalty.lam, 0.0)
        infeasible += float(np.sum(np.abs(theta[pen_rows]) * excess))
    roundoff = (ROUNDOFF_FACTOR * np.finfo(float).eps * (sums.magnitude + abs(value))
                + infeasible)
    return balance / scale, lower, upper, roundoff


def _first_pass(X, Y, w, theta, fam, mask, classes):
    """``(R, C, l)`` at theta: ``X^T W (Y - mu)`` of shape (m, q), the curvature of the classes
    ``classes`` (class-major), and the canonical log-likelihood; all of the reduced problem when
    ``mask`` is given (separated data, small: plain numpy on the whole arrays)."""
    if mask is None:
        return _first_pass_block(X, Y, w, theta, fam, classes)
    mu, curv = _mean_and_curvature(X @ theta, Y, fam, mask)
    R = X.T @ (w[:, None] * (Y - mu).reshape(len(w), -1))
    if Y.ndim == 2:
        value = float(w @ (Y * np.where(mask, 0.0, nx.log_softmax(
            np.where(mask, -np.inf, X @ theta)))).sum(axis=1))
        return R, _kernels.table_curvature(X, w, mu, classes), value
    keep = ~mask  # forced observations: mu = y, no curvature, no contribution to l
    value = fam.canonical_loglik(Y[keep], (X @ theta[:, 0])[keep], w[keep])
    return R, X.T @ ((w * curv)[:, None] * X), value


def _first_pass_block(Xb, Yb, wb, theta, fam, classes):
    """``(R, C, l)`` of the full problem on one row block, by the dual's own kernels
    (:func:`dualmaxent.engine.vgh_block`); an engine sums the blocks."""
    th = theta if Yb.ndim == 2 else theta[:, 0]
    (value, R, C), = vgh_block(Xb, Yb, wb, fam, classes, [th], [True])
    return R, (C if C is not None else np.zeros((0, 0))), value


def _mean_and_curvature(eta, Y, fam, mask):
    """The mean at ``eta`` and what the mean step needs: ``P`` (categorical) or ``A''(eta)``.

    With ``mask`` (forced entries), the reduced model's: ``P`` is the softmax over the free
    classes (exactly zero on the forced ones); a forced observation of a one-parameter family has
    ``mu = y`` and no curvature.
    """
    if Y.ndim == 2:
        P = nx.softmax(eta if mask is None else np.where(mask, -np.inf, eta))
        return P, P
    eta = eta[:, 0] if eta.ndim == 2 else eta
    mu, var = fam.mean(eta), fam.variance(eta)
    if mask is not None:
        mu, var = np.where(mask, Y, mu), np.where(mask, 0.0, var)
    return mu, var


@dataclass(frozen=True)
class _PointSums:
    """What pass 2 gathers over row blocks; ``merge`` combines two blocks' (a sum, or a min/max)."""

    entropy: float
    resid: np.ndarray
    XtWY: np.ndarray
    magnitude: float
    min_entry: float
    relative_margin: float
    simplex: float
    x_norm: float
    # sum_j w_j x_ji^2 p_ja (1 + p_ja) (m, len(classes)) of C's classes (categorical,
    # Bernoulli; None when not asked for)
    diag_magnitude: np.ndarray | None = None

    @classmethod
    def empty(cls, m, q):
        return cls(0.0, np.zeros((m, q)), np.zeros((m, q)), 0.0, np.inf, np.inf, 0.0, 0.0)

    def merge(self, o: "_PointSums") -> "_PointSums":
        return _PointSums(self.entropy + o.entropy, self.resid + o.resid, self.XtWY + o.XtWY,
                          self.magnitude + o.magnitude, min(self.min_entry, o.min_entry),
                          min(self.relative_margin, o.relative_margin),
                          max(self.simplex, o.simplex), max(self.x_norm, o.x_norm),
                          o.diag_magnitude if self.diag_magnitude is None
                          else self.diag_magnitude + o.diag_magnitude)


def point_block(Xb, Yb, wb, mask_b, theta, A, fam, out=None, classes=None,
                magnitudes=False) -> _PointSums:
    """Pass 2 on one row block: ``mu~ = mu + J A`` and its sums (module docstring).

    Parameters
    ----------
    Xb : ndarray of shape (b, m)
    Yb : ndarray of shape (b, k) or (b,)
    wb : ndarray of shape (b,)
    mask_b : ndarray of bool like ``Yb``, or None
        Forced entries (reduced problem).
    theta : ndarray of shape (m, q)
    A : ndarray of shape (m, q)
        The correction, zero off ``S``.
    fam : Family
    out : ndarray like ``Yb``, optional
        Filled with ``mu~``.
    classes : sequence of int, optional
        The classes of the step's curvature (all when None).
    magnitudes : bool, default False
        Also sum ``diag_magnitude``, ``sum_j w_j x_ji^2 p_ja (1 + p_ja)`` over those classes
        (categorical and Bernoulli; :func:`proof_curvature_bound`).

    Returns
    -------
    _PointSums
    """
    b = Xb.shape[0]
    multi = Yb.ndim == 2
    eta = Xb @ theta
    mu, curv = _mean_and_curvature(eta, Yb, fam, mask_b)
    if multi:
        PU = curv * (Xb @ A)
        mu_t = mu + (PU - curv * PU.sum(axis=1, keepdims=True))  # rows keep summing to one
    else:
        mu_t = mu + curv * (Xb @ A[:, 0])
    if out is not None:
        out[...] = mu_t
    q = theta.shape[1]
    Y2 = Yb.reshape(b, q)
    positive = wb > 0
    mk = None if mask_b is None else mask_b[positive]
    return _PointSums(
        entropy=fam.entropy(mu_t, wb),
        resid=Xb.T @ (wb[:, None] * (mu_t.reshape(b, q) - Y2)),
        XtWY=Xb.T @ (wb[:, None] * Y2),
        magnitude=(float(np.dot(wb, np.abs(fam.conjugate(mu_t))))
                   + float(np.abs(wb[:, None] * Y2 * eta.reshape(b, q)).sum())),
        min_entry=_domain_margin(fam, mu_t[positive], mk),
        relative_margin=_domain_margin(fam, mu_t[positive], mk, mu[positive]),
        simplex=float(np.abs(mu_t.sum(axis=1) - 1.0).max(initial=0.0)) if multi else 0.0,
        # the squared row norms without a squared copy of the block (4x faster at m = 51)
        x_norm=float(np.sqrt(design.row_sq_norms(Xb)[positive].max(initial=0.0))),
        diag_magnitude=(_diag_magnitude(Xb, wb, mu.reshape(b, q), classes)
                        if magnitudes and fam.name in _MAGNITUDE_FAMILIES else None),
    )


#: The families whose curvature's sums are formed from ``p`` and ``p^2`` (or a variance ``p (1
#: - p)``): :func:`proof_curvature_bound` charges their round-off on ``p (1 + p)``.
_MAGNITUDE_FAMILIES = ("categorical", "bernoulli")


def _diag_magnitude(Xb, wb, P, classes) -> np.ndarray:
    """``sum_j w_j x_ji^2 p_ja (1 + p_ja)`` of shape (m, len(classes)) on one row block (all
    columns of ``P`` when ``classes`` is None)."""
    Pc = P if classes is None else P[:, list(classes)]
    return design.column_sq_sums(Xb, wb[:, None] * Pc * (1.0 + Pc))


def _forced_mask(dataset, forced):
    """The forced entries as a bool array like ``Y`` (None when nothing is forced)."""
    if forced is None:
        return None
    from .separation import as_forced

    return as_forced(dataset, forced)


def _domain_margin(fam, mu, mask, reference=None) -> float:
    """How far ``mu`` lies inside the family's ``mean_bounds`` (negative: outside).

    With ``reference`` (the mean at theta*), the distance relative to the reference's own:
    ``min (mu - lower) / (reference - lower)`` and the same for the upper bound; ``-inf`` when the
    reference itself sits on a bound (an underflowed probability). A class table's upper bound is
    implied by its simplex rows and not measured. Forced entries and observations (``mask``) are
    exactly on their bound by construction and are skipped.
    """
    if mask is not None:
        keep = ~mask
        mu = mu[keep]
        reference = None if reference is None else reference[keep]
    lower, upper = fam.mean_bounds
    sides = []
    if np.isfinite(lower):
        sides.append((mu - lower, None if reference is None else reference - lower))
    if np.isfinite(upper) and not fam.multiclass:
        sides.append((upper - mu, None if reference is None else upper - reference))
    out = float("inf")
    for value, ref in sides:
        if ref is None:
            out = min(out, float(value.min(initial=np.inf)))
        elif np.any(ref <= np.finfo(float).tiny):
            return float("-inf")
        else:
            out = min(out, float((value / ref).min(initial=np.inf)))
    return out


def proof_curvature_bound(C_SS, origin, fam, theta, sums: "_PointSums", rank: int,
                          size: int, in_S=None, n: int = 0) -> float:
    """A proved lower bound of ``lambda_min`` of the exact curvature ``C_SS`` at ``theta``.

    The attainment proof of :func:`project_primal` divides by it (module docstring, "The
    proof's eigenvalue", where the argument is written out). ``C_SS`` is the step's curvature
    on ``S``, whatever it is; ``origin`` says what it is.

    Parameters
    ----------
    C_SS : ndarray of shape (s, s)
        The curvature the step used, on ``S``.
    origin : LastPass or None
        Where ``C`` was formed (``point``), by what it was scaled (``scale``), over how many
        rows (``rows``, ``full``) and in what precision (``dtype``). None: nothing is proved.
    fam : Family
        The family of the data set the point is built for.
    theta : ndarray of shape (m, q)
        The point, in that data set's layout.
    sums : _PointSums
        Pass 2's: ``x_norm`` (the rows' largest norm, positive weight) and, for the categorical
        and Bernoulli families, ``diag_magnitude``.
    rank, size : int
        The rank the step's factorisation kept of ``C_SS``, and its size.
    in_S : ndarray of bool, optional
        Which rows of the class-major curvature ``C_SS`` keeps (all when None).
    n : int
        The rows pass 2 summed over.

    Returns
    -------
    float
        0 when nothing is proved (an unknown origin, a family without :data:`_STALE_CONSTANT`,
        a sample that lost a direction, a singular or tiny ``C_SS``, a point too far).
    """
    c = _STALE_CONSTANT.get(fam.name)
    if origin is None or origin.point is None or c is None or C_SS.size == 0:
        return 0.0
    if not origin.full and rank < size:  # a sample's null space may be larger than C's
        return 0.0
    u = _kernels.unit_roundoff(np.float64)
    gam = _kernels.gamma
    T = np.asarray(theta, dtype=np.float64)
    m, q = T.shape
    point = np.asarray(origin.point, dtype=np.float64).reshape(m, -1)
    C_SS = np.asarray(C_SS, dtype=np.float64)
    diag = np.diag(C_SS)
    if (point.shape != T.shape or not (np.all(np.isfinite(point)) and np.all(np.isfinite(T)))
            or not np.all(diag > 0)):
        return 0.0
    # rho >= max_j |x_j| (the computed row norms' m + 2 roundings and the square root)
    rho = sums.x_norm * (1.0 + gam(m + 4, u))
    # s >= c rho |theta - theta_C|_F, the Frobenius norm over every column of theta (the
    # pinned class's too: zero in the pivot gauge)
    dist = float(np.linalg.norm(T - point)) * (1.0 + gam(m * q + 4, u))
    s = c * rho * dist * (1.0 + gam(4, u))
    if not np.isfinite(s):
        return 0.0
    # the computed probabilities' relative error delta at either point (the ball's)
    norm = max(float(np.sqrt((T * T).sum(axis=0)).max(initial=0.0)),
               float(np.sqrt((point * point).sum(axis=0)).max(initial=0.0)))
    e = gam(m + 4, u) * rho * norm * (1.0 + gam(m + 2, u))
    classes = q if fam.multiclass else 2
    delta = float(np.expm1(4.0 * e + gam(2 * classes + 16, u)))
    # trace(D M D) of the magnitudes M at theta_C, D = diag(C_SS)^(-1/2)
    if fam.name in _MAGNITUDE_FAMILIES:
        if sums.diag_magnitude is None:
            return 0.0
        mag = np.asarray(sums.diag_magnitude, dtype=np.float64).T.ravel()
        mag = mag if in_S is None else mag[in_S]
        if mag.shape != diag.shape:
            return 0.0
        with np.errstate(over="ignore"):  # (a far theta's overflow: not finite, no proof)
            mag = mag * ((1.0 + delta) ** 2 * float(np.exp(2.0 * s)) * (1.0 + gam(n + 8, u)))
        ratio = float(np.sum(mag / diag)) * (1.0 + gam(size + 4, u))
    else:  # Poisson: M = C, each ratio within the sums' relative error of 1
        ratio = 2.0 * size
    if not np.isfinite(ratio):
        return 0.0
    # the relative error of each monomial of the formed C against the exact curvature at
    # theta_C: the kernels' sums (dtype, blocks; float64 sums over the blocks or chunks and the
    # scaling), the probabilities (a product of two; a variance's subtraction 1 - p)
    b, _ = _kernels._blocks(max(origin.rows, 1), m, _kernels.BLOCK_BYTES)
    wide = int(origin.dtype != np.float64)
    g_form = _kernels._gamma2(b + 2 + 4 * wide, origin.dtype, origin.rows + 8)
    g = ((1.0 + g_form) * (1.0 + delta) ** 3 - 1.0 + 2.0 * delta) * (1.0 + 16 * u)
    # factor's rounding, size gamma(terms + 8) (1 + gamma(terms + 8)), must cover
    # ||D E D||_2 <= g trace(D M D) (with room for the (1 + g) of the diagonal)
    target = 2.0 * g * ratio / size
    if not (np.isfinite(target) and target < 0.5):
        return 0.0
    terms = max(int(np.ceil(target / (1.0 + target) / u)) - 7, 1)
    if rank == size:  # the shifted Cholesky's proof, at any size
        lam = _smallest_eigenvalue_bound(C_SS, terms)
    else:  # a rank-deficient design: factor's bound on the kept range
        lam = _factor(C_SS, terms)[3]
    if not lam > 0:
        return 0.0
    return lam / origin.scale * float(np.exp(-s)) * (1.0 - 16 * u)
