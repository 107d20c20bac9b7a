"""Separation: when the likelihood has no maximiser, found by linear programming.

For the categorical family a *recession direction* is a ``D`` of shape (m, k) with

    s_ji = x_j^T (d_{y_j} - d_i) >= 0     for every observation j and class i != y_j,

so that ``l(theta + t D)`` is non-decreasing in ``t`` for every theta. The maximum-likelihood
estimate exists if and only if every recession direction has ``s = 0`` (Albert & Anderson 1984);
otherwise the data are *separated*: *completely* when one direction makes every ``s_ji > 0``,
*quasi-completely* otherwise. Each pair ``(j, i)`` with ``s_ji > 0`` for some direction is
*forced*: ``P_ji = 0`` in every feasible ``P`` of the maximum-entropy primal, because the balance
equations give ``sum_ji w_j P_ji s_ji = <D, X^T W (Y - P)> = 0`` with every term non-negative.

The recession directions form a convex cone closed under addition, so the forced pairs are the
*largest* support of ``s``. Following Konis (2007) we find it with one LP:

    maximise  sum_ji t_ji   subject to   0 <= t_ji <= 1,  t_ji <= s_ji,  s_ji >= 0,

whose optimum puts ``t_ji = 1`` exactly on the largest support (scale any direction with that
support until its smallest positive ``s`` reaches one). The last class's ``d_k`` is pinned to zero
(the gauge) and the columns of ``X`` are scaled to unit maximum (a change of variables that the
cone does not notice) for a well-conditioned LP.

For the Poisson family the directions are ``s = X d`` with ``s_j <= 0`` everywhere and
``s_j = 0`` where ``y_j > 0``; a forced observation has ``mu_j = 0``. The Bernoulli family is the
categorical one with two classes. The Gaussian likelihood always has a maximiser.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from .data import Dataset

__all__ = ["Separation", "detect_separation"]


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

    def describe(self, dataset: Dataset) -> str:
        """One sentence on what the separation means for this data set."""
        if not self.separated:
            return "the data are not separated: the likelihood has a finite maximiser"
        nobs = int(self.forced_observations.sum())
        if dataset.family in ("categorical", "bernoulli"):
            Y = dataset.Y if dataset.Y.ndim == 2 else np.column_stack([1 - dataset.Y, dataset.Y])
            full = self.forced_rows_full(dataset)
            parts = []
            for i, c in enumerate(dataset.classes):
                cnt = int((full & (Y[:, i] == 1)).sum())
                if cnt:
                    parts.append(f"{cnt} observations of class {c} are predicted with "
                                 "probability 1")
            partial = nobs - int(full.sum())
            if partial:
                parts.append(f"{partial} more have some class probabilities forced to 0")
            what = "; ".join(parts)
        else:
            what = f"{nobs} observations with count 0 are forced to mean 0"
        return f"the data are {self.kind}ly separated: {what}; the likelihood has no maximiser"

    def forced_rows_full(self, dataset: Dataset) -> np.ndarray:
        """Observations whose own class is forced to probability one."""
        if self.forced.ndim == 2:
            return self.forced.sum(axis=1) == self.forced.shape[1] - 1
        return self.forced.copy()


def detect_separation(dataset: Dataset) -> Separation:
    """Decide by linear programming whether the likelihood of ``dataset`` has a maximiser.

    Parameters
    ----------
    dataset : Dataset

    Returns
    -------
    Separation
        ``kind`` is ``"none"``, ``"quasi-complete"`` or ``"complete"``; see the module docstring.
    """
    fam = dataset.family
    if fam == "gaussian":
        return Separation("none", np.zeros(dataset.n, dtype=bool), None,
                          np.zeros(dataset.n, dtype=bool))
    colscale = np.abs(dataset.X).max(axis=0)
    colscale[colscale == 0] = 1.0
    Xs = dataset.X / colscale
    active = dataset.weights > 0
    if fam == "poisson":
        return _poisson(dataset, Xs, colscale, active)
    Y = dataset.Y if dataset.Y.ndim == 2 else np.column_stack([1 - dataset.Y, dataset.Y])
    forced, D = _categorical(Xs, Y, active)
    D = D / colscale[:, None]
    nforced = forced.sum()
    possible = (active[:, None] & (Y == 0)).sum()
    if nforced == 0:
        kind, D = "none", None
    elif nforced == possible:
        kind = "complete"
    else:
        kind = "quasi-complete"
    obs = forced.any(axis=1)
    if dataset.Y.ndim == 1:  # bernoulli: report per observation, direction as a vector
        return Separation(kind, obs, None if D is None else D[:, 1] - D[:, 0], obs)
    return Separation(kind, forced, D, obs)


def _categorical(Xs, Y, active):
    n, m = Xs.shape
    k = Y.shape[1]
    labels = Y.argmax(axis=1)
    rows_j, cls_i = np.nonzero(active[:, None] & (Y == 0))
    N = rows_j.size
    if N == 0:
        return np.zeros_like(Y, dtype=bool), np.zeros((m, k))
    # S maps vec(D) (class-major, d_a at a*m:(a+1)*m) to s_ji = x_j^T (d_{y_j} - d_i).
    xr = Xs[rows_j]  # (N, m)
    pair = np.repeat(np.arange(N), m)
    feat = np.tile(np.arange(m), N)
    cols_pos = labels[rows_j].repeat(m) * m + feat
    cols_neg = cls_i.repeat(m) * m + feat
    S = sp.csr_matrix(
        (np.concatenate([xr.ravel(), -xr.ravel()]),
         (np.concatenate([pair, pair]), np.concatenate([cols_pos, cols_neg]))),
        shape=(N, k * m),
    )[:, : (k - 1) * m]  # pin d_k = 0
    nd = (k - 1) * m
    Id = sp.identity(N, format="csr")
    Z = sp.csr_matrix((N, N))
    A_ub = sp.vstack([sp.hstack([-S, Z]), sp.hstack([-S, Id])], format="csr")
    b_ub = np.zeros(2 * N)
    c = np.concatenate([np.zeros(nd), -np.ones(N)])
    bounds = [(None, None)] * nd + [(0.0, 1.0)] * N
    res = scipy.optimize.linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:  # the LP is always feasible (D = 0) and bounded; be safe anyway
        raise RuntimeError(f"separation LP failed: {res.message}")
    t = res.x[nd:]
    forced = np.zeros_like(Y, dtype=bool)
    forced[rows_j, cls_i] = t > 0.5
    D = np.zeros((m, k))
    D[:, : k - 1] = res.x[:nd].reshape(k - 1, m).T
    return forced, D


def _poisson(dataset, Xs, colscale, active):
    n, m = Xs.shape
    zero = active & (dataset.Y == 0)
    pos = active & (dataset.Y > 0)
    nz = int(zero.sum())
    if nz == 0:
        none = np.zeros(n, dtype=bool)
        return Separation("none", none, None, none)
    Xz, Xp = Xs[zero], Xs[pos]
    # variables (d, t): t_j <= -x_j^T d, x_j^T d <= 0 for y_j = 0; x_j^T d = 0 for y_j > 0
    A_ub = np.block([[Xz, np.zeros((nz, nz))], [Xz, np.eye(nz)]])
    b_ub = np.zeros(2 * nz)
    A_eq = np.hstack([Xp, np.zeros((Xp.shape[0], nz))]) if Xp.shape[0] else None
    b_eq = np.zeros(Xp.shape[0]) if Xp.shape[0] else None
    c = np.concatenate([np.zeros(m), -np.ones(nz)])
    bounds = [(None, None)] * m + [(0.0, 1.0)] * nz
    res = scipy.optimize.linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds,
                                 method="highs")
    if res.status != 0:
        raise RuntimeError(f"separation LP failed: {res.message}")
    forced = np.zeros(n, dtype=bool)
    forced[np.flatnonzero(zero)] = res.x[m:] > 0.5
    if not forced.any():
        return Separation("none", forced, None, forced)
    kind = "complete" if forced.sum() == nz else "quasi-complete"
    return Separation(kind, forced, res.x[:m] / colscale, forced.copy())
