"""Separation: when the likelihood has no maximiser, found by linear programming.

For the categorical family a *recession direction* is a ``D`` of shape (m, k) with

    s_ji = x_j^T (d_{y_j} - d_i) >= 0     for every observation j and class i != y_j,

so that ``l(theta + t D)`` is non-decreasing in ``t`` for every theta. The maximum-likelihood
estimate exists if and only if every recession direction has ``s = 0`` (Albert & Anderson 1984);
otherwise the data are *separated*: *completely* when one direction makes every ``s_ji > 0``,
*quasi-completely* otherwise. Each pair ``(j, i)`` with ``s_ji > 0`` for some direction is
*forced*: ``P_ji = 0`` in every feasible ``P`` of the maximum-entropy primal, because the balance
equations give ``sum_ji w_j P_ji s_ji = <D, X^T W (Y - P)> = 0`` with every term non-negative.

A candidate direction settles complete separation without an LP: the theta at which a solve
of separated data stopped, its logits running off, has as a rule every slack positive, and
where each computed slack exceeds its rounding bound the data are completely separated, every
pair forced (:func:`proved_complete`). Otherwise the LPs below decide.

Most data are not separated, and that is decided first by a small LP over ``D`` alone:

    maximise  sum_ji s_ji   subject to   s_ji >= 0,  sum_ji s_ji <= 1,

whose value is 0 exactly when every recession direction has ``s = 0`` (no separation), and 1
otherwise (scale any direction with ``s != 0``). It has ``(k - 1) m`` variables instead of the
``(k - 1) m + n (k - 1)`` of Konis's LP below.

The recession directions form a convex cone closed under addition, so the forced pairs are the
*largest* support of ``s``. Konis (2007) finds it with one LP:

    maximise  sum_ji t_ji   subject to   0 <= t_ji <= 1,  t_ji <= s_ji

(``t >= 0`` and ``t <= s`` already make ``s >= 0``: one row per pair), whose optimum puts
``t_ji = 1`` exactly on the largest support (scale any direction with that support until its
smallest positive ``s`` reaches one). We find it in rounds of the small LP instead
(:func:`_largest_support`): each round's mean runs over the pairs not yet forced, ``O``. Where
its value is 1 the pairs of ``O`` on which its answer is positive are forced (that answer is a
recession direction positive on them); where it is 0 no recession direction is positive on
``O``, and the pairs taken are the largest support. One more LP then finds a direction with
``s >= 1`` on all of them, which proves them forced together (each round's answer met its rows
within HiGHS's tolerance; where no such direction exists, Konis's LP decides). The rounds'
answers, summed and projected onto the null space of the rows not forced (on which every
recession direction has slack 0), are that direction as a rule, without that LP
(:func:`_projected`; where every pair is forced, the sum itself). The
rounds' LPs are solved by HiGHS's interior point method without its crossover to a vertex: its
answer lies inside the set of optimal answers, positive on every pair that any of them is
positive on, i.e. on the whole support within ``O`` (a vertex, the simplex method's answer, is
positive on a few pairs as a rule: 14 rounds on 900 pairs of ten completely separated
classes). So the first round finds every forced pair as a rule, and the second proves it.
Where the interior point method stops undecided (its model's status unknown: a degenerate LP,
5 of 3000 small designs of tied integer features), the dual simplex solves the same LP.
Each LP is solved on a few of its rows, the rows its answer misses added until it misses none
(:func:`_by_rows`): the LPs have few variables and ``n (k - 1)`` rows, almost all of them slack
at the optimum. Measured (``detect_separation``, one thread, this 2-core machine, eight
features, quasi-complete separation): five classes, n = 2 x 10^4, 53 s by Konis's LP against
0.34 s; ten classes, n = 5 x 10^3, 25 s against 0.31 s, and at n = 2 x 10^4 206 s against
0.50 s. Not separated, ten classes, n = 10^5, 50 features: the small LP on every row 22 s and
6 GB, by adding rows 0.9 s.

The last class's ``d_k`` is pinned to zero (the gauge), and for a well-conditioned LP the
columns of ``X`` are centred (with an intercept) and scaled to unit maximum: changes of
variables that the cone follows (:func:`_lp_design`).

For the Poisson family the directions are ``s = X d`` with ``s_j <= 0`` everywhere and
``s_j = 0`` where ``y_j > 0``; a forced observation has ``mu_j = 0``. The Bernoulli family is the
categorical one with two classes. The Gaussian likelihood always has a maximiser.

The reduced problems
--------------------
Let ``F`` be the forced entries. The *reduced primal* has variables only on the free entries
(:func:`dualmaxent.solve_primal` with ``forced=``): ``P_ji = 0`` on ``F``, and a row whose other
classes are all forced is ``P_j = Y_j`` and leaves the problem; the balance equations lose
nothing, because those rows and entries have ``P = Y``. Its feasible set and objective are those
of the full primal, so ``P*`` is the same.

*Slater holds for it.* If an entry ``(j, i)`` is zero in every feasible ``P``, then the LP
``max P_ji`` over the feasible set has value 0, and its dual supplies a recession direction with
``s_ji > 0`` (Farkas' lemma; this is Konis's equivalence), so ``(j, i)`` is in the LP's largest
support, i.e. in ``F``. Hence every free entry is positive in *some* feasible ``P``, and the
average of those finitely many points (the feasible set is convex) is a feasible ``P`` positive
on every free entry at once: a point of the relative interior of the entropy's domain that
satisfies the (affine) constraints. Slater's condition gives strong duality and a finite dual
maximiser for the reduced problem. Its Lagrange dual, after the simplex multipliers are
eliminated, is the *reduced likelihood*

    l_red(theta) = sum_j w_j [ eta_{j y_j} - log sum_{i: (j, i) not in F} exp(eta_ji) ],

with ``eta_ji = -inf`` on ``F``, and forced rows contributing ``log 1 = 0``
(:class:`dualmaxent.objective.ReducedObjective`). Each term of ``l`` is at most that of ``l_red``
(the softmax runs over more classes), and along the LP's direction ``D``, which is zero on the
free pairs and positive on ``F``, ``l(theta + t D) -> l_red(theta)`` as ``t -> infinity``. So

    max l_red = sup l = -H(P*),

the supremum is approached, not attained, and the certificate (:func:`dualmaxent.verify`)
compares ``H(P*)`` with ``max l_red``. For the Poisson and Bernoulli families the forced
observations contribute ``-e^eta -> 0`` and ``log sigmoid -> 0`` in the same way.

``l_red`` is constant along every recession direction, so its maximiser is an affine subspace;
:func:`identifiable_basis` spans the complement on which it is strictly concave, and both
reduced problems use it (the dual's coordinates; the primal's balance equations without their
redundant combinations).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from . import design
from ._kernels import gamma, unit_roundoff
from .data import Dataset, counted
from .exceptions import DataError, DualMaxentError, SeparationLPError
from .report import LABELS_SHOWN, label_text, labels_text

__all__ = ["Separation", "detect_separation", "as_forced", "kept_observations",
           "identifiable_basis"]


@dataclass(frozen=True, eq=False)
class Separation:
    """The outcome of :func:`detect_separation`.

    Attributes
    ----------
    kind : {"none", "quasi-complete", "complete"}
    forced : ndarray of bool, same shape as ``dataset.Y``
        ``forced[j, i]`` (categorical): ``P_ji = 0`` in every feasible ``P``. Bernoulli: the
        observation's probability is forced to its own label. Poisson: ``mu_j = 0``.
    direction : ndarray of shape (m, k) or (m,), or None
        A recession direction in the original feature scale: ``l(theta + t d)`` is
        non-decreasing in ``t``.
    forced_observations : ndarray of bool of shape (n,)
        Observations with at least one forced entry.
    """

    kind: str
    forced: np.ndarray
    direction: np.ndarray | None
    forced_observations: np.ndarray

    @property
    def separated(self) -> bool:
        return self.kind != "none"

    #: What to do about it (the solver's SeparationWarning says it after :meth:`describe`).
    advice = ("solve the reduced problem with solve_dual(..., forced=detect_separation(data)"
              ".forced), or use verify")

    def describe(self, dataset: Dataset) -> str:
        """One sentence on what the separation means for this data set."""
        if not self.separated:
            return "the data are not separated: the likelihood has a finite maximiser"
        nobs = int(self.forced_observations.sum())
        if dataset.family.is_probability:
            Y = dataset.family.one_hot(dataset.Y)
            full = self.forced_rows_full(dataset)
            counts = [(cnt, c) for cnt, c in ((int((full & (Y[:, i] == 1)).sum()), c)
                                              for i, c in enumerate(dataset.classes)) if cnt]
            parts = [f"{cnt} of class {label_text(c)}" for cnt, c in counts]
            if len(counts) > LABELS_SHOWN:  # (the first ones, and how many more)
                rest = counts[LABELS_SHOWN - 1:]
                parts = parts[:LABELS_SHOWN - 1] + [
                    f"{sum(cnt for cnt, _ in rest)} of {len(rest)} other classes"]
            if parts:
                parts[0] = (f"{counted(counts[0][0], 'observation')} of class "
                            f"{label_text(counts[0][1])}")
                listed = parts[0] if len(parts) == 1 else (", ".join(parts[:-1])
                                                           + " and " + parts[-1])
                what = f"{listed} {'is' if full.sum() == 1 else 'are'} predicted with probability 1"
            else:
                what = "no observation is predicted with probability 1"
            partial = nobs - int(full.sum())
            if partial:
                what += (f", and {partial} other{'s' if partial > 1 else ''} "
                         "have a class predicted with probability 0")
        else:
            what = f"{nobs} observations with count 0 are forced to mean 0"
        return f"the data are {self.kind}ly separated: {what}; the likelihood has no maximiser"

    def forced_rows_full(self, dataset: Dataset) -> np.ndarray:
        """Observations whose own class is forced to probability one."""
        if self.forced.ndim == 2:
            return self.forced.sum(axis=1) == self.forced.shape[1] - 1
        return self.forced.copy()

    def check_direction(self, dataset: Dataset) -> tuple[float, float]:
        """Check the LP's answer independently: ``(violation, margin)`` of the direction.

        With ``s`` the slacks of the module docstring at ``direction`` (categorical and
        Bernoulli: ``s_ji = x_j^T (d_{y_j} - d_i)`` over the pairs with ``Y_ji = 0``; Poisson:
        ``-x_j^T d`` on the zero counts and ``-|x_j^T d|`` on the others), relative to
        ``max |s|``: ``violation`` is the largest negative part (0 for a true recession
        direction) and ``margin`` the smallest ``s`` on a forced entry (positive: each forced
        entry is zero in every feasible point, by the argument of the module docstring).
        Both are 0 when the data are not separated.
        """
        if not self.separated:
            return 0.0, 0.0
        active = dataset.weights > 0
        eta = dataset.X @ self.direction
        if not dataset.family.is_probability:  # poisson: the zero counts
            s = np.where(dataset.Y > 0, -np.abs(eta), -eta)[active]
            on_forced = -eta[self.forced & active]
        else:
            if eta.ndim == 1:  # bernoulli: d is theta's direction for class 1 against class 0
                eta = np.column_stack([np.zeros_like(eta), eta])
            Y = dataset.family.one_hot(dataset.Y)
            S = (Y * eta).sum(axis=1)[:, None] - eta  # s_ji, zero on the own class
            pairs = active[:, None] & (Y == 0)
            s = S[pairs]
            forced = self.forced if self.forced.ndim == 2 else self.forced[:, None] & (Y == 0)
            on_forced = S[forced & pairs]
        top = float(np.abs(s).max()) if s.size else 0.0
        if top == 0.0:
            return 0.0, 0.0
        worst = float(-s.min())
        return (worst if worst > 0 else 0.0) / top, float(on_forced.min()) / top



def _slack_rounding(w: int) -> float:
    """``2 gamma_(w+2)``: times ``|S_j| |d|``, a bound on the rounding of a slack formed from
    products of ``w`` terms (:func:`proved_complete`, :meth:`_Rows.rounding`)."""
    return 2.0 * gamma(w + 2, unit_roundoff(np.float64))


#: The separation LP takes a sparse design as a dense copy up to this many entries (80 MB).
SPARSE_LP_MAX_ENTRIES = 10_000_000


def intercept_runoff(dataset) -> str | None:
    """Why a penalised fit's optimum is not attained, or None when it is.

    A penalty reaches every row of theta but the intercept's (:mod:`dualmaxent.params`), so the
    penalised likelihood has a maximiser unless the intercept alone can run off: along any
    direction that moves a penalised row the penalty grows without bound while the likelihood
    stays below 0, and along the intercept's own rows the likelihood of the intercept-only
    model, whatever the other rows add to each observation's linear predictor, is maximised at
    a finite intercept exactly when every class (the categorical family) has observations of
    positive weight, when the Bernoulli responses of positive weight are neither all 0 nor all
    1, and when the Poisson counts of positive weight are not all 0. Which of these fails, in
    words; None for a data set without an intercept, a family that cannot separate, or data
    where it holds. A Dask data set's sums are computed by dask (one pass over ``y`` and the
    weights, none over ``X``)."""
    if not getattr(dataset, "intercept", False) or not dataset.family.can_separate:
        return None
    fam = dataset.family
    Y, w = dataset.Y, dataset.weights
    # (a sum of nonnegative terms is 0 exactly when every term is, in any order: the rows of
    # weight 0 add nothing, and no term of positive weight is lost)
    sums = (w > 0).any(), w @ Y, (None if fam.multiclass or not fam.is_probability
                                 else w @ (1.0 - Y))
    if not isinstance(Y, np.ndarray) or not isinstance(w, np.ndarray):
        import dask

        sums = dask.compute(*sums)
    weighted, counts, others = sums
    if not weighted:
        return None
    if fam.multiclass:
        absent = [c for c, count in zip(dataset.classes, np.asarray(counts))
                  if not count > 0]
        if absent:
            listed = labels_text(absent)
            return (f"class{'es' if len(absent) > 1 else ''} {listed} "
                    f"{'have' if len(absent) > 1 else 'has'} no observation of positive weight, "
                    "so the intercept drives its probability to 0")
        return None
    if fam.is_probability:
        if not float(counts) > 0:
            return ("every observation of positive weight is 0, so the intercept drives the "
                    "probability of 1 to 0")
        if not float(others) > 0:
            return ("every observation of positive weight is 1, so the intercept drives the "
                    "probability of 1 to 1")
        return None
    if not float(counts) > 0:
        return "every count of positive weight is 0, so the intercept drives the mean to 0"
    return None


def dense_for_lp(X) -> np.ndarray:
    """``X`` as the dense array the LPs read: itself, or a dense copy of a sparse ``X`` when it
    is small enough (a one-line :class:`DataError` otherwise: unpenalised fits of large sparse
    designs, which are separated as a rule, are not checked; a penalty needs no check)."""
    if not design.is_sparse(X):
        return X
    if X.shape[0] * X.shape[1] > SPARSE_LP_MAX_ENTRIES:
        raise DataError(f"the separation check of an unpenalised fit needs a dense copy of the "
                        f"sparse X ({X.shape[0]} x {X.shape[1]}), more than "
                        f"{SPARSE_LP_MAX_ENTRIES:.0e} entries; fit it with a penalty (l2 or l1)")
    return X.toarray()


def detect_separation(dataset: Dataset, direction=None) -> Separation:
    """Decide whether the likelihood of ``dataset`` has a maximiser: from ``direction`` where
    it proves complete separation, else by linear programming.

    Parameters
    ----------
    dataset : Dataset
    direction : ndarray of shape (m, k), or (m,) for the Bernoulli family, optional
        A candidate recession direction, in theta's layout: as a rule the theta at which a
        solve of separated data stopped, its logits running off. Where its slacks prove
        complete separation (:func:`proved_complete`), no LP is solved; otherwise it is
        ignored and the LPs decide.

    Returns
    -------
    Separation
        ``kind`` is ``"none"``, ``"quasi-complete"`` or ``"complete"``; see the module docstring.
    """
    fam = dataset.family
    if not fam.can_separate:  # an unbounded mean (gaussian): a maximiser always exists
        return Separation("none", np.zeros(dataset.n, dtype=bool), None,
                          np.zeros(dataset.n, dtype=bool))
    if direction is not None:
        proved = proved_complete(dataset, direction)
        if proved is not None:
            return proved
    active = dataset.weights > 0
    Xs, back = _lp_design(dense_for_lp(dataset.X), dataset.intercept, active)
    if not fam.is_probability:
        return _poisson(dataset, Xs, back, active)
    Y = fam.one_hot(dataset.Y)
    forced, D = _categorical(Xs, Y, active)
    D = back(D)
    nforced = forced.sum()
    possible = (active[:, None] & (Y == 0)).sum()
    if nforced == 0:
        kind, D = "none", None
    elif nforced == possible:
        kind = "complete"
    else:
        kind = "quasi-complete"
    obs = forced.any(axis=1)
    if not fam.multiclass:  # bernoulli: report per observation, direction as a vector
        return Separation(kind, obs, None if D is None else D[:, 1] - D[:, 0], obs)
    return Separation(kind, forced, D, obs)


#: :func:`proved_complete` reads this many rows of a dense ``X`` first: on data that are not
#: separated a slack that is not positive is found there as a rule, for a small product.
PROBE_ROWS = 256


def proved_complete(dataset: Dataset, direction) -> Separation | None:
    """The complete separation that ``direction`` proves, or None where it proves none.

    Every pair ``(j, i)`` of an observation of positive weight and a class other than its own
    has the slack ``s_ji = x_j^T (d_{y_j} - d_i)`` (Bernoulli: ``d_1 - d_0`` is ``direction``,
    ``s_j = +-x_j^T d``). Each is formed in float64, a row block at a time, beside
    ``a_j = |x_j|^T |d|`` per class: a product's rounding is at most ``gamma_m`` times its
    ``a`` (Higham, Lemma 3.1, any order of summation), the difference's at most ``u |s|``. Where
    every computed ``s`` exceeds ``2 gamma_(m+2) (a_(j y_j) + a_ji)``, which covers both and the
    rounding of ``a`` itself, every exact slack is positive: the data are completely
    separated (module docstring), every such pair forced, and ``direction``, scaled so that its
    smallest computed slack is 1, is a recession direction, as the LP's is. None where a slack
    falls short, ``direction`` is not finite or not theta's shape, or a row of ``Y`` of positive
    weight is not one class's indicator (proportions: the LPs decide), or the family is not
    the categorical or Bernoulli one.

    A Newton solve of completely separated data ends at such a theta as a rule (every row's own
    class ahead of the others); measured (one thread, this 2-core machine, ``detect_separation``
    of 100 rows of ``bench --sweep``'s data, 50 features): ten classes 0.99 s by the two LPs,
    three classes 47 ms, two 25 ms, against under a millisecond from the direction.
    """
    from ._kernels import block, blocks

    fam = dataset.family
    if not (fam.can_separate and fam.is_probability):
        return None
    X = dataset.X
    n, m = X.shape
    D = np.asarray(direction, dtype=np.float64)
    binary = not fam.multiclass
    if D.shape != ((m,) if binary else (m, dataset.k)) or not np.all(np.isfinite(D)):
        return None
    Y = dataset.Y  # (n, k) indicators, or the Bernoulli family's (n,) labels
    active = dataset.weights > 0
    if not binary:
        D = D - D[:, -1:]  # (the LP's gauge, the last class zero: the slacks are the same)
    bound = _slack_rounding(m)
    absD = np.abs(D)
    smallest = np.inf
    # a block at a time, each given up on at its first slack that is not positive (data that
    # are not separated: as a rule in the first block, before its product with |X|), the first
    # block of a dense X only PROBE_ROWS rows (0.12 -> 0.03 ms at n = 1e3, three classes, 51
    # columns, not separated); no (n, k) table beside Y
    parts = list(blocks(X))
    if not design.is_sparse(X) and n > PROBE_ROWS:
        parts = [slice(0, PROBE_ROWS)] + [slice(max(sl.start, PROBE_ROWS), sl.stop)
                                          for sl in parts if sl.stop > PROBE_ROWS]
    for sl in parts:
        Xb, keep, Yb = block(X, sl), active[sl], Y[sl]
        own = Yb[keep]
        if not np.all((own == 0) | (own == 1)) or not (binary or np.all(own.sum(axis=1) == 1)):
            return None
        labels = Yb if binary else Yb.argmax(axis=1)
        eta = np.asarray(Xb @ D, dtype=np.float64)
        if binary:  # s_j = x_j^T d for y_j = 1, -x_j^T d for y_j = 0
            s = np.where(labels == 1, eta, -eta)[keep]
        else:
            rows = np.arange(eta.shape[0])
            pairs = keep[:, None] & (Yb == 0)
            s = (eta[rows, labels][:, None] - eta)[pairs]
        if not np.all(s > 0):
            return None
        size = np.asarray(design.absolute(Xb) @ absD, dtype=np.float64)
        if binary:
            need = bound * size[keep]
        else:
            need = bound * (size[rows, labels][:, None] + size)[pairs]
        if not np.all(s > need):
            return None
        smallest = min(smallest, float(s.min(initial=np.inf)))
    if not np.isfinite(smallest):  # (no pair: nothing to force)
        return None
    D = D / smallest
    if binary:
        forced = active.copy()
        return Separation("complete", forced, D, forced.copy())
    forced = active[:, None] & (Y == 0)
    return Separation("complete", forced, D, forced.any(axis=1))


def as_forced(dataset: Dataset, forced) -> np.ndarray | None:
    """The forced mask as a bool array of the shape :class:`Separation` uses, or None.

    ``forced`` may be a :class:`Separation`, a bool array of shape ``dataset.Y.shape`` (for the
    Bernoulli family also ``(n,)``), or None. An all-False mask is returned as None: nothing to
    reduce.
    """
    if forced is None:
        return None
    if isinstance(forced, Separation):
        forced = forced.forced
    forced = np.asarray(forced, dtype=bool)
    shape = dataset.Y.shape
    if forced.shape != shape:
        raise DualMaxentError(f"forced must have shape {shape} (that of Y); got {forced.shape}")
    if not dataset.family.can_separate and forced.any():
        raise DualMaxentError("the gaussian likelihood always has a maximiser; nothing is forced")
    if forced.ndim == 2 and np.any(forced & (dataset.Y > 0)):
        raise DualMaxentError("an observation's own class cannot be forced to probability 0")
    if not dataset.family.is_probability and np.any(forced & (dataset.Y > 0)):
        raise DualMaxentError("only observations with count 0 can be forced to mean 0")
    return forced if forced.any() else None


def kept_observations(dataset: Dataset, forced: np.ndarray) -> np.ndarray:
    """Observations of positive weight that keep a free entry in the reduced problem, shape (n,).

    Categorical: rows with at least two free classes (a row whose other classes are all forced
    has ``P_j = Y_j``). Bernoulli and Poisson: the observations that are not forced. On every
    other observation ``mu_j = Y_j`` in every feasible point.
    """
    active = dataset.weights > 0
    if forced.ndim == 2:
        return active & ((~forced).sum(axis=1) >= 2)
    return active & ~forced


def identifiable_basis(dataset: Dataset, forced: np.ndarray, gauge: str = "pivot") -> np.ndarray:
    """An orthonormal basis of the parameters the reduced likelihood can see.

    The reduced log-likelihood depends on theta only through ``s_ji = x_j^T (theta_{y_j} -
    theta_i)`` over the free pairs of the kept rows (categorical) or through ``x_j^T theta`` over
    the kept observations; every recession direction (with the gauge and any collinearity of
    ``X``) lies in the null space ``N`` of that map. The columns span the complement ``N^perp``
    (the row space of the map), so that the reduced dual is strictly concave on it.

    Parameters
    ----------
    dataset : Dataset
    forced : ndarray of bool
        As returned by :func:`as_forced` (not None).
    gauge : {"pivot", "full"}
        Coordinates of theta: ``pivot`` the first ``k-1`` class columns, ``full`` all ``k``
        (categorical only), packed class by class (``theta.T`` in C order), as in
        :class:`dualmaxent.objective.DualObjective`.

    Returns
    -------
    ndarray of shape (p, r)
        ``p`` is ``(k-1) m`` (pivot) or ``k m`` (full) for the categorical family, ``m``
        otherwise; ``r`` is the rank of the map (0 when every observation is forced).
    """
    X = dense_for_lp(dataset.X)
    n, m = X.shape
    kept = kept_observations(dataset, forced)
    colscale = np.abs(X).max(axis=0)
    colscale[colscale == 0] = 1.0
    Xs = X / colscale  # rank decisions on a well-scaled matrix; mapped back below
    if forced.ndim == 2:
        k = dataset.Y.shape[1]
        q = k - 1 if gauge == "pivot" else k
        rows_j, cls_i = np.nonzero(kept[:, None] & ~forced & (dataset.Y == 0))
        scale = np.tile(colscale, q)
        pairs = _PairSlacks(Xs, dataset.Y.argmax(axis=1), rows_j, cls_i, k, classes=q)

        def rows_of_S(sl):  # s_ji = x_j^T (theta_{y_j} - theta_i), scaled, in block sl
            return pairs.dense_rows(sl)
    else:
        rows_j = np.flatnonzero(kept)
        scale = colscale

        def rows_of_S(sl):
            return Xs[rows_j[sl]]
    p = scale.size
    N = rows_j.size
    if N == 0:
        return np.zeros((p, 0))
    # The singular values of S are those of its R factor, accumulated over row blocks (TSQR),
    # so S, of n (k - 1) rows, is never held in memory at once.
    step = max(4 * p, 4096)
    R = np.zeros((0, p))
    for start in range(0, N, step):
        block = np.vstack([R, rows_of_S(slice(start, start + step))])
        R = np.linalg.qr(block, mode="r")
    _, sv, Vt = np.linalg.svd(R, full_matrices=False)
    rank = int(np.sum(sv > max(N, p) * np.finfo(float).eps * sv[0])) if sv.size else 0
    # Row space of S = diag(scale) row space of the scaled map; orthonormalise it.
    Q, _ = np.linalg.qr(Vt[:rank].T * scale[:, None])
    return Q


def _lp_design(X, intercept: bool, active):
    """``(Xs, back)``: the design the LPs read, and the map of their directions (shape (m,) or
    (m, q)) back to theta's coordinates.

    With the intercept's column of ones (the last), every other column is first centred at its
    mean over the rows of positive weight, ``x_i - c_i 1``: an invertible change of the columns
    (``X T``, ``T`` unit triangular), which the cone of recession directions follows (``d = T
    d'``) and the slacks do not notice (``s(T d') = s'(d')``), so the forced pairs are the
    same. Then every column is scaled to unit maximum. Without the centring a feature far from
    zero against its spread (near 1e3 with a spread of 1) is nearly a multiple of the ones
    after the scaling, and HiGHS's dual simplex stalled on the small LP: past 60 s on 1200
    rows and 112 columns (n = 300, five classes, 28 features of sizes 1e-3 to 1e4), 0.09 s
    centred; on standardised features the time is unchanged. One copy of ``X``, as the
    scaling alone made."""
    centre = np.zeros(X.shape[1])
    if intercept and active.any():
        centre[:-1] = X[active, :-1].mean(axis=0)
    Xs = X - centre
    colscale = np.abs(Xs).max(axis=0)
    colscale[colscale == 0] = 1.0
    Xs /= colscale

    def back(D):
        D = np.divide(D.T, colscale).T  # (a copy: rows scaled, for (m,) and (m, q) alike)
        if intercept:
            D[-1] -= centre[:-1] @ D[:-1]
        return D

    return Xs, back


def _categorical(Xs, Y, active):
    n, m = Xs.shape
    k = Y.shape[1]
    rows_j, cls_i = np.nonzero(active[:, None] & (Y == 0))
    if rows_j.size == 0:
        return np.zeros_like(Y, dtype=bool), np.zeros((m, k))
    S = _PairSlacks(Xs, Y.argmax(axis=1), rows_j, cls_i, k)
    on, d = _largest_support(S, np.ones(rows_j.size, dtype=bool))
    forced = np.zeros_like(Y, dtype=bool)
    forced[rows_j, cls_i] = on
    return forced, S.direction(d)


class _Rows:
    """An LP's rows ``S`` (shape (N, q), dense or sparse) as :func:`_by_rows`,
    :func:`_largest_support` and :func:`_konis` read them: ``S @ d`` (N,), ``rows(mask)``
    (a sparse matrix of the rows in the boolean ``mask``, shape (N,)) and ``total(mask)``,
    their sum (q,)."""

    def __init__(self, S):
        self.S = S
        self.shape = S.shape

    def __matmul__(self, d):
        return np.asarray(self.S @ d).ravel()

    def rows(self, mask):
        return sp.csr_matrix(self.S[mask])

    def total(self, mask):
        return np.asarray(self.S[mask].sum(axis=0)).ravel()

    def dense_rows(self, which):
        """The rows of a boolean mask, an index array or a slice, dense (b, q)."""
        rows = self.S[which]
        return rows.toarray() if sp.issparse(rows) else np.asarray(rows, dtype=np.float64)

    def abs_product(self, v):
        """``|S| |v|``, shape (N,)."""
        return np.asarray(abs(self.S) @ np.abs(v)).ravel()

    def row_norms(self):
        """The rows' 2-norms, shape (N,)."""
        S = self.S
        sq = S.multiply(S).sum(axis=1) if sp.issparse(S) else np.einsum("ij,ij->i", S, S)
        return np.sqrt(np.asarray(sq, dtype=np.float64).ravel())

    def rounding(self, d):
        """A bound on the rounding of each computed slack ``S d`` (shape (N,)): ``2 gamma_(w+2)
        |S| |d|``, ``w`` the terms of a slack's product (Higham, Lemma 3.1, any order of
        summation, and the bound's own rounding, as :func:`proved_complete` takes it)."""
        return _slack_rounding(self.width) * self.abs_product(d)

    @property
    def width(self) -> int:
        """The terms of one slack's product: ``q``."""
        return self.shape[1]


class _PairSlacks(_Rows):
    """The categorical LPs' rows without forming them: ``s_ji = x_j^T (d_{y_j} - d_i)`` over
    the pairs ``(rows_j, cls_i)``, of ``d = vec(D)`` with ``D`` of shape (m, classes)
    class-major (``d_a`` at ``a*m:(a+1)*m``): ``classes`` is ``k - 1`` with ``d_k = 0`` (the
    gauge, the LPs'), or ``k`` (:func:`identifiable_basis`' full gauge). Each product is one of
    ``Xs`` with ``D``, and only the rows an LP takes are formed: the whole matrix has ``2 m``
    entries a pair (9.2e7 at n = 1e5, ten classes, 51 columns: 13 of a 15 s check, and 6 GB).
    """

    def __init__(self, Xs, labels, rows_j, cls_i, k, classes=None):
        self.Xs, self.k = Xs, k
        self.classes = k - 1 if classes is None else classes
        self.own, self.rows_j, self.cls_i = labels[rows_j], rows_j, cls_i
        self.shape = (rows_j.size, self.classes * Xs.shape[1])

    def direction(self, d):
        """``D`` of shape (m, k), the last column zero."""
        D = np.zeros((self.Xs.shape[1], self.k))
        D[:, : self.classes] = d.reshape(self.classes, -1).T
        return D

    def __matmul__(self, d):
        eta = self.Xs @ self.direction(d)
        return eta[self.rows_j, self.own] - eta[self.rows_j, self.cls_i]

    def rows(self, which):
        return sp.csr_matrix(self.dense_rows(which))

    def dense_rows(self, which):
        """The rows of a boolean mask or a slice, dense (b, classes * m)."""
        m = self.Xs.shape[1]
        rows = np.arange(self.shape[0])[which]
        j = self.rows_j[rows]
        S = np.zeros((rows.size, self.k * m))
        at = np.arange(rows.size)[:, None]
        S[at, self.own[rows][:, None] * m + np.arange(m)] += self.Xs[j]
        S[at, self.cls_i[rows][:, None] * m + np.arange(m)] -= self.Xs[j]
        return S[:, : self.classes * m]  # (the pivot gauge: d_k = 0)

    @property
    def width(self) -> int:
        """A pair's slack is the difference of two products of ``m`` terms (:meth:`_Rows.
        rounding`: ``2 gamma_(m+2) (a_(j y_j) + a_ji)``, ``a = |Xs| |D|``, as
        :func:`proved_complete` bounds it)."""
        return self.Xs.shape[1]

    def abs_product(self, v):
        size = np.abs(self.Xs) @ np.abs(self.direction(v))
        return size[self.rows_j, self.own] + size[self.rows_j, self.cls_i]

    def row_norms(self):
        """``|x_j|_2`` times ``sqrt(2)`` where both classes of the pair have a block of ``d``
        (once where one is the pinned class)."""
        x = np.sqrt(np.einsum("ij,ij->i", self.Xs, self.Xs))[self.rows_j]
        both = (self.own < self.classes) & (self.cls_i < self.classes)
        return np.where(both, np.sqrt(2.0) * x, x)

    def total(self, mask):
        n, k = self.Xs.shape[0], self.k
        at = self.rows_j[mask] * k
        counts = (np.bincount(at + self.own[mask], minlength=n * k)
                  - np.bincount(at + self.cls_i[mask], minlength=n * k))
        return (self.Xs.T @ counts.reshape(n, k).astype(np.float64))[:, : self.classes].T.ravel()


def _lp_failed(res) -> SeparationLPError:
    """The one-line error of a separation LP that HiGHS did not solve (the LPs are feasible and
    bounded by construction: a failure is numerical)."""
    why = str(res.message).strip("()")
    return SeparationLPError(f"the separation LP failed ({why}): whether the likelihood has a "
                             "maximiser is not decided; nearly collinear columns are the usual "
                             "cause (drop or combine them)")


#: :func:`_by_rows` solves an LP on a seeded sample of this many of its rows per variable
#: first, and adds at most this many per variable (the worst) of those its answer misses, each
#: time.
ROWS_PER_VARIABLE = 4

#: HiGHS's primal feasibility tolerance (its default): how far its answer may fall short of a
#: row of the LPs, whose columns are scaled to unit maximum. :func:`_by_rows` adds a row left
#: out of its LP where the answer falls short of it by more.
LP_FEASIBILITY = 1e-7

#: :func:`_largest_support` counts a row as forced in a round where its slack exceeds this many
#: times the round's noise: its answer's largest shortfall, at least ``LP_FEASIBILITY``.
NOISE_FACTOR = 100.0


def _by_rows(S, lower, objective=None, interior=False, taken=None):
    """``(d, value)``: ``d`` of shape (q,) maximising ``value = objective^T d`` subject to
    ``S d >= lower`` and ``objective^T d <= 1`` (0 and no such row without ``objective``), or
    None where no ``d`` meets the rows. By HiGHS's dual simplex method, or with ``interior`` its
    interior point method without crossover (an answer inside the optimal set, not a vertex).
    ``taken`` (bool, shape (N,)): rows to start from, where some are set (the sample is then
    not drawn), and updated in place with every row added, for the next LP on the same rows
    (:func:`_largest_support`).

    By adding rows (constraint generation): HiGHS solves the LP on a seeded sample of
    ``ROWS_PER_VARIABLE`` rows of ``S`` a variable, then again with the rows its answer misses
    by more than ``LP_FEASIBILITY`` added, the worst ones, until it misses none. Each LP is a
    relaxation of the whole one: where one has no feasible point neither has the whole one,
    and an answer that meets every row solves the whole LP, its value at least the whole one's.
    The LPs have a few times as many rows as variables, where the whole one has ``n (k - 1)``:
    HiGHS's dual simplex, whose every iteration reads every row, took 6 s on 1.8e5 rows and 81
    variables (ten classes, n = 2e4), the rows added in 0.1 to 0.3 s (five LPs of at most 1600
    rows). At worst every row is added, and the last LP is the whole one. Where HiGHS fails on
    a sample (it said unbounded on one row a variable), another sample of rows is added.

    Parameters
    ----------
    S : _Rows of shape (N, q)
    lower : ndarray of shape (N,)
    objective : ndarray of shape (q,), optional
    interior : bool, optional
    taken : ndarray of shape (N,), bool, optional
        The rows to start from (above), updated in place.
    """
    N, q = S.shape
    batch = ROWS_PER_VARIABLE * q
    rng = np.random.default_rng(0)
    if taken is None:
        taken = np.zeros(N, dtype=bool)
    if not taken.any():
        taken[rng.choice(N, size=min(N, batch), replace=False)] = True
    cost = np.zeros(q) if objective is None else -objective
    method = (dict(method="highs-ipm", options={"run_crossover": "off"}) if interior
              else dict(method="highs"))
    while True:
        A_ub, b_ub = -S.rows(taken), -lower[taken]
        if objective is not None:
            A_ub = sp.vstack([A_ub, sp.csr_matrix(objective[None, :])], format="csr")
            b_ub = np.append(b_ub, 1.0)
        with warnings.catch_warnings():  # (HiGHS's own option, passed on as it is)
            warnings.simplefilter("ignore", scipy.optimize.OptimizeWarning)
            res = scipy.optimize.linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=[(None, None)] * q,
                                         **method)
        if res.status not in (0, 2) and interior:
            # (without crossover the interior point method can stop with the model's status
            # unknown, on a degenerate LP: the second round's, of value 0, on 16 rows of two
            # classes with tied features) the dual simplex on the same rows; its vertex is an
            # answer too, only positive on fewer pairs (a round more)
            res = scipy.optimize.linprog(cost, A_ub=A_ub, b_ub=b_ub,
                                         bounds=[(None, None)] * q, method="highs")
        if res.status == 2:
            return None
        if res.status == 0:
            short = lower - S @ res.x
            missed = np.flatnonzero(~taken & (short > LP_FEASIBILITY))
            if missed.size == 0:
                return res.x, -res.fun
            if missed.size > batch:
                missed = missed[np.argpartition(-short[missed], batch)[:batch]]
        elif taken.all():  # (bounded by the objective's row, or no objective: numerical)
            raise _lp_failed(res)
        else:  # (HiGHS said unbounded, or failed, on too few rows: measured with one row a
            # variable, ten classes, n = 1e5, 51 columns) another sample of rows
            missed = np.flatnonzero(~taken)
            missed = rng.choice(missed, size=min(missed.size, batch), replace=False)
        taken[missed] = True


def _largest_support(S, pairs):
    """``(forced, d)``: the rows of ``S`` among ``pairs`` (bool, shape (N,)) on which some
    ``d`` with ``S d >= 0`` is positive (the largest support, module docstring), and a ``d``
    with ``S d >= 0``, at least 1 on them (zeros where there are none).

    In rounds of the small LP over the pairs not yet forced ``O``: ``max mean_O s`` subject to
    ``s = S d >= 0``, ``mean_O s <= 1``, whose value is 0 exactly when no recession direction is
    positive on ``O`` (then ``forced`` is the whole support) and 1 otherwise; then the pairs of
    ``O`` on which its answer is positive, above its noise, are forced. At the end one LP finds
    ``d`` with ``s >= 1`` on every pair taken (as a rule without the LP: the rounds' answers
    summed, projected onto the null space of the other rows, :func:`_projected`; the LP only
    where that falls short, from the rows the rounds took): where none exists a pair was
    taken in error, and
    Konis's LP (:func:`_konis`) decides, as it does where a round's positive slacks are all
    within its noise. Each LP by :func:`_by_rows`, the rounds' by the interior point method
    (module docstring). The first round decides whether the data are separated at all, and on
    separated data finds the whole support as a rule; the second proves that nothing is left.
    """
    N = S.shape[0]
    forced = np.zeros(N, dtype=bool)
    combined = np.zeros(S.shape[1])  # the rounds' answers, each scaled to 1 on its new pairs
    # the rows the LPs took so far, each LP's start: the rows that bound one LP's answer bind
    # the next one's as a rule (ten classes, n = 1797, 64 features, quasi-complete: 17 LPs of
    # 1.4 to 2.7 s on 2300 to 3200 rows, each started from the same sample)
    taken = np.zeros(N, dtype=bool)
    while True:
        open_ = pairs & ~forced
        if not open_.any():  # (complete separation)
            break
        # (the mean over O, not the sum: the answer's slacks of order 1, not 1/|O|, against
        # HiGHS's absolute tolerance)
        d, value = _by_rows(S, np.zeros(N), S.total(open_) / open_.sum(), interior=True,
                            taken=taken)
        if not value > 0.5:
            break
        s = S @ d
        noise = max(LP_FEASIBILITY, float(-s.min()))
        new = open_ & (s > NOISE_FACTOR * noise)
        if not new.any():  # (the answer's positive slacks all within its noise)
            return _konis(S, pairs)
        forced |= new
        combined += d / float(s[new].min())
    if not forced.any():
        return forced, np.zeros(S.shape[1])
    found = (_projected(S, combined, forced, taken)
             or _by_rows(S, forced.astype(float), taken=taken))
    if found is None:
        return _konis(S, pairs)
    return forced, found[0]


def _projected(S, d, forced, taken):
    """``(d', 0)``, as :func:`_by_rows` answers the last LP (no objective): ``S d' >= 1`` on
    the ``forced`` rows and ``S d' = 0`` on the others to the rounding of the slack's product
    and of the factorisations (below), from the rounds' answers summed, ``d``; or None where it
    does not get there. That is the last LP's answer without the LP.

    Every recession direction has slack 0 on a row that is not forced (the forced rows are
    the largest support), so the last LP asks for ``S_U d' = 0`` on the other rows ``U`` and
    ``S_F d' >= 1``. The sum ``d`` is positive on every forced row (each round's answer on the
    rows it forced), but the rounds' interior answers leave the rows of ``U`` within HiGHS's
    tolerance of 0, either sign, and a walk along the direction
    (:func:`dualmaxent.verify.toward_supremum`) would move their probabilities by that much
    times its length. Its projection onto the null space of ``S_U`` holds them at 0: ``d' =
    d - V^T V d``, ``V`` the right singular vectors of the triangle ``R`` of a QR
    factorisation of the rows of ``U`` taken, above numpy's rank tolerance (``matrix_rank``'s:
    the largest singular value times the larger dimension times the machine epsilon). Its
    slacks are formed from the definition, on every row. A row of ``U`` may be off 0 by its
    product's rounding (:meth:`_Rows.rounding`) and by ``gamma_(q+2) |S_j|_2 |d'|_2``: the
    factorisations are backward stable to a few units of rounding of each entry, and an
    error of ``u`` relative in the subspace moves every entry of ``d'``, so a slack by about
    ``u |S_j|_2 |d'|_2`` (not bounded by the singular values' gap: a check, as HiGHS's
    tolerance is, not a proof). A row off by more is added (the worst
    :data:`ROWS_PER_VARIABLE` per variable at a time) and the projection taken again, from the
    rows of ``U`` the LPs took (``taken``) or, where they took none, a seeded sample. None
    where a forced row's slack is not positive (the rounds forced a row in error, or the
    projection lost it: the LP decides) or a row taken already stays off 0.

    Where every row is forced (complete separation) there is nothing to project: the sum,
    scaled so that its smallest slack is 1, is the answer (digits, ten completely separated
    classes, n = 1797, 64 features: that LP added a few rows at a time, dozens of dual simplex
    solves of 5 s on 6000 rows and 585 variables). On the same digits with classes 2 to 9
    relabelled among themselves in 30 % of their rows (quasi-complete), the last LP took 8
    dual simplex solves, 17.7 s; the projection 0.13 s (one BLAS thread) from the 1605 rows of
    ``U`` the LPs had taken, the 9740 rows of ``U`` within 1.1 units of ``u |S_j|_2 |d'|_2``
    (the sum unprojected: 9.5e5 units), as close to 0 as the LP's vertex (in units of ``u
    |S_j|_1 |d'|_inf``: the projection 0.3, the vertex 1.4).
    """
    U = ~forced
    q = S.shape[1]
    batch = ROWS_PER_VARIABLE * q
    rows = taken & U
    if U.any() and not rows.any():
        pool = np.flatnonzero(U)
        rows[np.random.default_rng(0).choice(pool, size=min(pool.size, batch),
                                             replace=False)] = True
    # each row's room for the factorisations' error, but for |d'|_2 (docstring)
    room = gamma(q + 2, unit_roundoff(np.float64)) * S.row_norms()
    R = _triangle(S, np.flatnonzero(rows)) if rows.any() else None
    while True:
        d_ = d
        if R is not None:
            _, sv, Vt = np.linalg.svd(R, full_matrices=False)
            V = Vt[sv > sv[0] * max(int(rows.sum()), q) * np.finfo(np.float64).eps]
            d_ = d - V.T @ (V @ d)
        smallest = float((S @ d_)[forced].min())
        if not smallest > 0:
            return None
        d_ = d_ / smallest
        s = S @ d_
        # off 0 by more than its product's rounding and the factorisations' (docstring)
        off = U & (np.abs(s) > S.rounding(d_) + room * float(np.linalg.norm(d_)))
        if not off.any():
            return (d_, 0.0) if float(s[forced].min()) >= 1.0 - LP_FEASIBILITY else None
        new = np.flatnonzero(off & ~rows)
        if new.size == 0:
            return None
        if new.size > batch:
            new = new[np.argpartition(-np.abs(s[new]), batch)[:batch]]
        rows[new] = True
        R = _triangle(S, new, R)


def _triangle(S, which, R=None):
    """The triangle of a QR factorisation of the rows ``which`` of ``S`` (an index array)
    stacked under ``R``, taken :data:`ROWS_PER_VARIABLE` rows per variable at a time (no
    dense copy of more rows than that)."""
    step = ROWS_PER_VARIABLE * S.shape[1]
    for lo in range(0, which.size, step):
        part = S.dense_rows(which[lo:lo + step])
        R = np.linalg.qr(part if R is None else np.vstack([R, part]), mode="r")
    return R


def _konis(S, pairs):
    """:func:`_largest_support` by Konis's LP (module docstring): ``max sum t`` over ``d`` and
    ``t`` of the pairs, ``0 <= t <= 1``, ``t <= s`` on the pairs and ``s >= 0`` on the other
    rows; ``t = 1`` exactly on the largest support at its optimum. One LP of ``q + |pairs|``
    variables, whose every row HiGHS reads each iteration."""
    N, q = S.shape
    rows = np.flatnonzero(pairs)
    p = rows.size
    # (t >= 0 and t <= s already make s >= 0 on a pair: one row each)
    T = sp.csr_matrix((np.ones(p), (rows, np.arange(p))), shape=(N, p))
    A_ub = sp.hstack([-S.rows(np.ones(N, dtype=bool)), T], format="csr")
    res = scipy.optimize.linprog(np.concatenate([np.zeros(q), -np.ones(p)]), A_ub=A_ub,
                                 b_ub=np.zeros(N),
                                 bounds=[(None, None)] * q + [(0.0, 1.0)] * p, method="highs")
    if res.status != 0:  # the LP is always feasible (d = 0) and bounded; be safe anyway
        raise _lp_failed(res)
    forced = np.zeros(N, dtype=bool)
    forced[rows] = res.x[q:] > 0.5
    return forced, res.x[:q]


def _poisson(dataset, Xs, back, active):
    n, m = Xs.shape
    zero = active & (dataset.Y == 0)
    pos = active & (dataset.Y > 0)
    nz = int(zero.sum())
    if nz == 0:
        none = np.zeros(n, dtype=bool)
        return Separation("none", none, None, none)
    if not pos.any() and dataset.intercept:
        # every count 0: the intercept alone (-1 on it) is a recession direction with slack 1
        # on every row; the LPs' answer may lean on the features too (an IPM's centre), and a
        # fit walked along it predicts 1e69 counts a little outside the data
        d = np.zeros(m)
        d[-1] = -1.0
        return Separation("complete", zero.copy(), back(d), zero.copy())
    # s_j = -x_j^T d >= 0 where y_j = 0 (the pairs), x_j^T d = 0 where y_j > 0 (two rows each)
    Xp = Xs[pos]
    S = np.vstack([-Xs[zero], Xp, -Xp])
    on, d = _largest_support(_Rows(S), np.arange(S.shape[0]) < nz)
    forced = np.zeros(n, dtype=bool)
    forced[np.flatnonzero(zero)] = on[:nz]
    if not forced.any():
        return Separation("none", forced, None, forced)
    kind = "complete" if forced.sum() == nz else "quasi-complete"
    return Separation(kind, forced, back(d), forced.copy())
