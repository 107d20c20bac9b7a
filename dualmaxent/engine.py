"""Engines supply the row blocks of ``X``, ``Y`` and ``w``; the mathematics stays in the kernels.

Every quantity the dual and the projected certificate need is a *sum over observations* (or a
min/max), so it is the combination of the same quantity on row chunks. An engine applies a block
function ``fn(Xb, Yb, wb, *args)`` to each row chunk and combines the results:

* :class:`NumpyEngine`: the arrays in memory; one chunk (the kernels block their own loops for
  the cache), or fixed slices.
* :class:`DaskEngine`: dask arrays chunked along the rows; one ``dask.delayed`` task per chunk and
  a pairwise tree of ``combine`` tasks, so only the chunks' small results (a value, an (m, k)
  gradient, a (p, p) curvature) travel, never ``X``. The small arguments (theta, the correction)
  are one task of the graph, sent to each worker once per pass.

The block functions are the numpy kernels themselves (:func:`dualmaxent._kernels.categorical_vgh`,
:func:`~dualmaxent._kernels.glm_vgh`, :func:`dualmaxent.projected.point_block`): there is no
second copy of the objective. :func:`vgh_block` runs the family's own pass
(:meth:`~dualmaxent.families.Family.one_pass`) and evaluates several values of theta in one pass
(the line search's shorter steps), and :class:`EngineObjective` is the dual objective of
:mod:`dualmaxent.objective` with its passes run by an engine, on which the in-memory solvers of
:mod:`dualmaxent.solvers` run unchanged.

A block ``Xb`` is a dense float64 array or a canonical scipy.sparse CSR array (a sparse design
in memory, or a dask array of CSR chunks: :func:`sparse_rows`); the block functions treat both
alike, through the kernels and :mod:`dualmaxent.design`, and never densify a sparse block.
"""

from __future__ import annotations

from typing import Protocol

from types import SimpleNamespace

import numpy as np

from . import _kernels
from . import _numerics as nx
from . import design
from .params import Penalty

from .objective import DualObjective, curvature_diagonal

__all__ = ["Engine", "NumpyEngine", "DaskEngine", "add", "vgh_block", "EngineObjective",
           "sparse_rows"]


def add(a, b):
    """The sum of two block results: floats and arrays added, tuples and lists entrywise,
    ``None`` kept (an absent Hessian)."""
    if a is None or b is None:
        return None
    if isinstance(a, (tuple, list)):
        return type(a)(add(x, y) for x, y in zip(a, b))
    return a + b


def _tree(items, combine):
    """Combine ``items`` pairwise, level by level (the order a tree reduction uses)."""
    items = list(items)
    while len(items) > 1:
        nxt = [combine(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            nxt.append(items[-1])
        items = nxt
    return items[0]


class Engine(Protocol):
    """Where the rows live: the one operation the solvers and the checker ask of it.

    ``map_reduce(fn, *args, combine=add)`` calls ``fn(Xb, Yb, wb, *args)`` on every row block
    ``(Xb, Yb, wb)`` (shapes (b, m), (b, k) or (b,), (b,)) and combines the results with
    ``combine`` (associative; the order may be a tree), counting one pass in ``passes``.
    :class:`NumpyEngine` and :class:`DaskEngine` implement it; a third engine needs nothing
    more (no copy of :class:`~dualmaxent.Dataset`).
    """

    passes: int

    def map_reduce(self, fn, *args, combine=add): ...


class NumpyEngine:
    """Row chunks of in-memory arrays.

    Parameters
    ----------
    X : ndarray of shape (n, m)
    Y : ndarray of shape (n, k) or (n,)
    w : ndarray of shape (n,)
    chunk_rows : int, optional
        Rows per chunk; one chunk (the whole arrays) by default.
    """

    def __init__(self, X, Y, w, chunk_rows: int | None = None):
        self.X, self.Y, self.w = X, Y, w
        n = X.shape[0]
        step = n if not chunk_rows else int(chunk_rows)
        self.slices = [slice(s, min(s + step, n)) for s in range(0, n, max(step, 1))]
        self.passes = 0  # map_reduce calls: passes over the data

    @classmethod
    def from_dataset(cls, dataset, chunk_rows: int | None = None) -> "NumpyEngine":
        return cls(dataset.X, dataset.Y, dataset.weights, chunk_rows)

    def map_reduce(self, fn, *args, combine=add):
        """``combine`` over the chunks of ``fn(Xb, Yb, wb, *args)``."""
        self.passes += 1
        return _tree((fn(self.X[s], self.Y[s], self.w[s], *args) for s in self.slices), combine)


def _apply(fn, Xb, Yb, wb, args):
    return fn(Xb, Yb, wb, *args)


class DaskEngine:
    """Row chunks of dask arrays, mapped as tasks and combined by a tree reduction.

    Parameters
    ----------
    X : dask array of shape (n, m)
        Chunked along the rows only (one chunk of columns).
    Y : dask array of shape (n, k) or (n,)
        The same row chunks as ``X``.
    w : dask array of shape (n,)
        The same row chunks as ``X``.
    client : distributed.Client, optional
        Where to compute; dask's default scheduler (a client if one is active) otherwise.
    """

    def __init__(self, X, Y, w, client=None):
        import dask  # noqa: F401  (fail here, not in the first pass, without dask)

        if X.numblocks[1] != 1 or (Y.ndim == 2 and Y.numblocks[1] != 1):
            raise ValueError("X and Y must be chunked along the rows only")
        if not (X.chunks[0] == Y.chunks[0] == w.chunks[0]):
            raise ValueError("X, Y and w must have the same row chunks")
        self.client = client
        self.passes = 0  # map_reduce calls: passes over the data
        self.blocks = list(zip(X.to_delayed().ravel(), Y.to_delayed().ravel(),
                               w.to_delayed().ravel()))

    @classmethod
    def from_dataset(cls, dataset, client=None) -> "DaskEngine":
        return cls(dataset.X, dataset.Y, dataset.weights, client)

    @property
    def n_chunks(self) -> int:
        return len(self.blocks)

    def map_reduce(self, fn, *args, combine=add):
        """``combine`` over the chunks of ``fn(Xb, Yb, wb, *args)``, computed in one pass."""
        import dask

        self.passes += 1
        # one task holds the arguments: every chunk's task depends on its key, so theta is
        # sent to each worker once per pass, not once per chunk
        shared = dask.delayed(tuple(args), pure=True)
        task = dask.delayed(_apply, pure=True)
        parts = [task(fn, xb, yb, wb, shared) for xb, yb, wb in self.blocks]
        total = _tree(parts, dask.delayed(combine, pure=True))
        if self.client is not None:
            return self.client.compute(total, sync=True)
        return dask.compute(total)[0]


def sparse_rows(X) -> bool:
    """Whether ``X``'s row blocks are sparse: a scipy.sparse ``X``, or a dask array whose
    chunks are (its ``meta``). The block functions below take either kind of block: every
    product with ``Xb`` is spelt alike for both, and the rest is :mod:`dualmaxent.design`'s."""
    return design.is_sparse(getattr(X, "_meta", X))


def vgh_block(Xb, Yb, wb, family, classes, thetas, hessians, curvature_dtype=np.float64):
    """``(l, G, C)`` of the unpenalised likelihood at each theta of ``thetas``, one block.

    ``hessians[i]`` True forms the curvature (a Newton step's full step), False only the value
    and gradient, None only the value (a shorter trial step: its gradient is needed only if it
    is accepted), by the family's ``canonical_loglik`` on ``eta`` (one product with the block
    instead of two). The value, gradient and curvature come from the family's own pass
    (:meth:`dualmaxent.families.Family.one_pass`, the same kernels as in memory, the two-class
    categorical family through the binary one).

    Parameters
    ----------
    Xb, Yb, wb : ndarray
        One row chunk (shapes of :mod:`dualmaxent._kernels`).
    family : Family
    classes : list of int
        The classes whose curvature blocks are formed (categorical).
    thetas : sequence of ndarray of shape (m, k) or (m,)
    hessians : sequence of bool or None
    curvature_dtype : {numpy.float64, numpy.float32}
        Precision of the curvature's block products.

    Returns
    -------
    tuple of (float, ndarray of shape (m, q), ndarray or None)
        One triple per theta: the value, ``X^T W (Y - mu)`` as an (m, q) table (None for a value
        only), the curvature (or None).
    """
    # the values alone: every such theta's eta from one product with the block (X read once)
    alone = [i for i, h in enumerate(hessians) if h is None]
    values = {}
    if alone:
        q = [np.size(thetas[i]) // Xb.shape[1] for i in alone]
        E = Xb @ np.concatenate([np.reshape(thetas[i], (Xb.shape[1], -1)) for i in alone],
                                axis=1)
        start = 0
        for i, width in zip(alone, q):
            eta = E[:, start:start + width]
            values[i] = family.canonical_loglik(Yb, eta if np.ndim(thetas[i]) == 2
                                                else eta[:, 0], wb)
            start += width
    return tuple((values[i], None, None) if h is None
                 else family.one_pass(Xb, Yb, wb, theta, classes, h, None, curvature_dtype)
                 for i, (theta, h) in enumerate(zip(thetas, hessians)))


def _moments_block(Xb, Yb, wb, family):
    """``(X^T W Y (m, q), sum w Y, sum w, the log-likelihood constant)`` of one block."""
    Y2 = Yb.reshape(Yb.shape[0], -1)
    return (Xb.T @ (wb[:, None] * Y2), wb @ Yb, float(wb.sum()),
            family.loglik_constant(Yb, wb))


def _loglik_block(Xb, Yb, wb, family, theta):
    """The reported log-likelihood's additive parts at theta on one block: the canonical
    log-likelihood (by the family's own ``canonical_loglik``, as the numpy solver reports it),
    ``sum w`` and ``sum w (Y - eta)^2`` (for the Gaussian family's profiled variance)."""
    eta = Xb @ theta
    rss = float(wb @ (Yb - eta) ** 2) if Yb.ndim == 1 else 0.0
    return family.canonical_loglik(Yb, eta, wb), float(wb.sum()), rss


def hessp_block(Xb, Yb, wb, family, theta, V, dtype=np.float64):
    """``-H V`` of one block at ``theta`` (the mean recomputed from ``Xb theta``): an (m, q)
    table, by the kernels' curvature-vector products (``dtype`` as there)."""
    eta = Xb @ theta
    if family.multiclass:
        return _kernels.categorical_hessp(Xb, wb, nx.softmax(eta), V, dtype=dtype)
    return _kernels.glm_hessp(Xb, wb * family.variance(eta), V[:, 0])[:, None]


def _weighted_curvature_block(Xb, Yb, wb, family, theta):
    """``sum_j w_j (diag(p_j) - p_j p_j^T)`` (q, q) of one block (``sum w A''`` for a
    one-parameter family), for the preconditioner's ``A``."""
    eta = Xb @ theta
    if family.multiclass:
        P = nx.softmax(eta)
        return np.diag(wb @ P) - (P * wb[:, None]).T @ P
    return np.array([[float(wb @ family.variance(eta))]])


def _diagonal_block(Xb, Yb, wb, family, theta):
    """``sum_j w_j v_jc x_ji^2`` (m, q) of one block, ``v = p (1 - p)`` or ``A''`` at theta:
    the data's part of the diagonal of ``-H`` (:meth:`DualObjective._curvature_diagonal`)."""
    eta = Xb @ theta
    return curvature_diagonal(Xb, wb, family, nx.softmax(eta) if family.multiclass else eta)


def _gram_block(Xb, Yb, wb):
    return _kernels.gram(Xb, wb)


class EngineObjective(DualObjective):
    """:class:`dualmaxent.objective.DualObjective` with its passes run by an engine.

    Only the pass over the data changes: packing, the gauge, the L2 penalty, the Hessian's
    embedding and the stopping rule are the parent's, and the solvers of
    :mod:`dualmaxent.solvers` run on it unchanged. What an engine does differently:

    * the line search, once the full step fails, evaluates the next :attr:`line_batch` shorter
      step lengths in one pass, by their value alone (:meth:`prefetch_line`), so that
      backtracking costs one extra pass, not one per halving;
    * the warm start's sample (:meth:`subsample`) is gathered into memory, about
      ``SUBSAMPLE_ROWS_PER_PARAM`` rows per parameter whatever n, and its design's condition
      decides float32 curvatures (:meth:`design_condition`);
    * a solve stops when theta runs off to infinity (:attr:`stops_diverging`): the separation LP
      needs the data in memory.

    Parameters
    ----------
    dataset : Dataset or DaskDataset
        Anything with ``family``, ``intercept``, ``m``, ``k``, ``n`` and ``every(step)``.
    engine : NumpyEngine or DaskEngine
    penalty : Penalty, optional
        Any: the smooth part (L2) is the parent's, the L1 part (L1, elastic net) the proximal
        Newton solver's, which needs only the value, gradient and Hessian passes.
    """

    #: shorter steps evaluated per pass once the full step fails (their values share one
    #: product with each chunk)
    line_batch = 5
    stops_diverging = True
    subsample_is_view = False
    #: Newton forms a fresh curvature at every full step instead of reusing the last one's
    #: factorisation: an engine's pass has a fixed cost (the tasks, the reduction) larger than the
    #: curvature's own. Measured on a 2-worker LocalCluster at n = 10^6, m = 51, 8 chunks: a
    #: gradient pass 0.11 s, with the curvature 0.15 s (in memory 0.04 s against 0.18 s), so
    #: quadratic convergence in fewer passes wins.
    reuses_curvature = False

    def __init__(self, dataset, engine, penalty: Penalty | None = None):
        # The parent's set-up (parameterisation, penalty, caches) on an empty stand-in with the
        # same shapes: its one pass over X (X^T W Y) is the engine's to make, below.
        m, q = dataset.m, (dataset.k if dataset.family.multiclass else 1)
        empty = SimpleNamespace(
            family=dataset.family, intercept=dataset.intercept, m=dataset.m, k=dataset.k,
            X=np.zeros((0, m)), Y=np.zeros((0, q) if dataset.family.multiclass else 0),
            weights=np.zeros(0))
        super().__init__(empty, penalty)
        # the parent reads only X's shape from it (dask arrays are lazy: nothing is gathered)
        self.dataset, self.engine = dataset, engine
        self.X, self.Y, self.w = dataset.X, dataset.Y, dataset.weights
        #: whether ``X`` is sparse: in memory, or a dask array of sparse chunks
        self.sparse = sparse_rows(self.X)
        self._points = {}
        self._sample_condition = None
        # one pass for the scale of the stopping rule, the starting point and the constant
        self.XtWY, self._wY, self._wsum, self._constant = engine.map_reduce(
            _moments_block, self.family)
        self.scale = 1.0 + float(np.abs(self.XtWY).max())

    def start(self) -> np.ndarray:
        """The parent's starting point (intercept at the link of the weighted mean response),
        from the sums of the first pass."""
        theta = np.zeros(self.params.theta_shape)
        if self.dataset.intercept:
            theta[-1] = self.family.link(self.family.clip_mean(self._wY / self._wsum))
        return self.beta(theta)

    def subsample(self, step: int):
        """The objective on every ``step``-th row, gathered into memory (one pass), and the
        condition of that sample's design kept for :meth:`design_condition` (a dense design's:
        see there)."""
        sample = self.dataset.every(step)
        if not self.sparse:
            self._sample_condition = sample.identifiability.condition
        return self._on_sample(sample, step)

    def design_condition(self) -> float | None:
        """The equilibrated condition number of a row sample, which estimates the design's (an
        engine makes no rank pass over all the rows): the warm start's, or else every
        ``step``-th row gathered for the purpose (about ``RANK_SAMPLE_ROWS_PER_COLUMN`` rows
        per column, one pass; Newton-CG has no warm start, and at n = 10^7 with ten classes a
        float32 curvature-vector product saves a third of each of its 40-odd passes).

        None for a design of sparse chunks: its products stay float64 whatever the condition
        (the kernels ignore a float32 ``dtype`` for a sparse ``X``), so neither the sample's
        rank pass (a dense (m, m) decomposition; refused beyond
        :data:`~dualmaxent.identifiability.SPARSE_RANK_MAX_COLUMNS` columns) nor its gathering
        is worth making."""
        if self.sparse:
            return None
        if self._sample_condition is None:
            from .identifiability import RANK_SAMPLE_ROWS_PER_COLUMN

            m = self.dataset.m
            step = max(2, self.dataset.n // (RANK_SAMPLE_ROWS_PER_COLUMN * m))
            self._sample_condition = self.dataset.every(step).identifiability.condition
        return self._sample_condition

    def prefetch_line(self, betas) -> None:
        """The values of ``l`` at the line search's step lengths ``betas`` in one pass (one
        product with each chunk for all of them), kept for :meth:`smooth_value`; earlier
        points are dropped."""
        thetas = [np.asarray(self.theta(b), dtype=np.float64) for b in betas]
        results = self.engine.map_reduce(vgh_block, self.family, self._hess_classes,
                                         thetas, [None] * len(thetas), self.curvature_dtype)
        self._points = {t.tobytes(): r for t, r in zip(thetas, results)}

    def smooth_value(self, beta, hessian: bool = False) -> float:
        """The smooth objective ``l - L2 penalty`` at ``beta`` (the parent's: an L1 part is the
        proximal solver's), from :meth:`prefetch_line` (a value alone is enough) or a pass."""
        theta = self.theta(beta)
        got = self._points.get(np.asarray(theta, dtype=np.float64).tobytes())
        if got is None or (hessian and got[2] is None):
            got = self._loglik(theta, hessian)
        return got[0] - self.smooth_penalty_value(theta)

    def _loglik(self, theta, hessian: bool = False):
        """``(l, X^T W (Y - mu), -H or None)`` at ``theta``: kept from an earlier pass at theta,
        or a pass."""
        key = np.asarray(theta, dtype=np.float64).tobytes()
        got = self._points.get(key)
        if got is None or got[1] is None or (hessian and got[2] is None):
            got = self.engine.map_reduce(vgh_block, self.family, self._hess_classes,
                                         [np.asarray(theta, dtype=np.float64)], [hessian],
                                         self.curvature_dtype)[0]
            self._points[key] = got
        if got[2] is not None:
            self._record_curvature(got[2], theta, self.dataset.n, self.curvature_dtype)
        return got

    def _pass_at(self, theta):
        got = self._points.get(np.asarray(theta, dtype=np.float64).tobytes())
        return None if got is None or got[1] is None else got[:2]

    def forget(self) -> None:
        super().forget()
        self._points = {}

    def release(self) -> "EngineObjective":
        self._points = {}
        return super().release()

    def _gram_matrix(self) -> np.ndarray:
        return self.engine.map_reduce(_gram_block)

    def _curvature_pieces(self, theta):
        """The preconditioner's ``A`` in one pass, and ``-H V`` as one pass per product (the
        mean is recomputed in each chunk: nothing of size n is kept on the client)."""
        theta = np.asarray(theta, dtype=np.float64)
        A = self.engine.map_reduce(_weighted_curvature_block, self.family, theta) / self._wsum
        return A, lambda V: self.engine.map_reduce(hessp_block, self.family, theta,
                                                   np.asarray(V, dtype=np.float64),
                                                   self.curvature_dtype)

    def _curvature_diagonal(self, theta) -> np.ndarray:
        """The data's part of the diagonal of ``-H`` at theta in one pass over the chunks (the
        in-memory objective reads it off the point its last pass kept, which an engine does not
        keep): the Jacobi preconditioner of a wide sparse design."""
        return self.engine.map_reduce(_diagonal_block, self.family,
                                      np.asarray(theta, dtype=np.float64))

    def residual_sums(self, theta) -> tuple[float, float]:
        """``(sum w (Y - X theta)^2, sum w)`` in one pass (the gaussian family's RSS)."""
        _, wsum, rss = self.engine.map_reduce(_loglik_block, self.family,
                                              np.asarray(theta, dtype=np.float64))
        return rss, wsum

    def reported_loglik(self, theta) -> tuple[float, float]:
        """``(canonical, reported)`` log-likelihood at theta, in one pass (``DualResult``'s
        ``canonical_loglik`` and ``loglik``).

        The reported value is the canonical one plus the family's constant, except where the
        family overrides :meth:`~dualmaxent.families.Family.loglik` (the Gaussian profiles the
        variance: a function of ``sum w`` and ``RSS`` only, so it is evaluated on one pseudo
        observation of weight ``sum w`` and squared residual ``RSS / sum w``).
        """
        from .families import Family

        got = self._points.get(np.asarray(theta, dtype=np.float64).tobytes())
        if got is not None and type(self.family).loglik is Family.loglik:
            return got[0], got[0] + self._constant  # the solver's last pass was at theta
        canonical, wsum, rss = self.engine.map_reduce(_loglik_block, self.family,
                                                      np.asarray(theta, dtype=np.float64))
        if type(self.family).loglik is Family.loglik:
            return canonical, canonical + self._constant
        reported = self.family.loglik(np.array([np.sqrt(rss / wsum)]), np.zeros(1),
                                      np.array([wsum]))
        return canonical, float(reported)
