"""The dual objective: the (penalised) log-likelihood, its gradient, Hessian and curvature.

Conventions
-----------
* Sign: we *maximise* ``l(theta) - penalty(theta)``; every gradient and Hessian below is of that
  objective (the Hessian is negative semidefinite).
* Scale: sums over observations, weighted by the frequency weights ``w``, never means; nats.
* Shapes, gauge, packing and penalised rows: those of :mod:`dualmaxent.params` (theta (m, k) or
  (m,), the last class pinned on unpenalised rows, the free entries packed class by class).
* Penalties never touch the intercept row: L2 subtracts ``(lam / 2) sum theta_r^2`` and L1
  subtracts ``lam sum |theta_r|`` over the penalised rows ``r``; the elastic net subtracts both,
  ``(l2_lam / 2) sum theta_r^2 + l1_lam sum |theta_r|`` with ``l2_lam = lam (1 - a)`` and
  ``l1_lam = lam a`` (:class:`dualmaxent.params.Penalty`). The smooth part (value, gradient,
  Hessian) carries the L2 term, of L2 and of the elastic net; the L1 term is the solver's
  proximal part.
* Convergence is judged by the relative dual gradient ``max |g| / (1 + max |X^T W Y|)``, the
  balance residual at theta (for L1 and the elastic net the minimal-norm subgradient), never by
  the change in theta: :meth:`DualObjective.kkt_residual`.

One object per problem, built by :func:`make_objective`: :class:`DualObjective` for the full
likelihood, :class:`ReducedObjective` for separated data (the likelihood without its forced
entries). Every solver of :mod:`dualmaxent.solvers` consumes the same object. Value, gradient
and Hessian come from the blocked one-pass kernels of :mod:`dualmaxent._kernels`.
"""

from __future__ import annotations

import hashlib
import weakref
from typing import Callable, NamedTuple

import numpy as np
import scipy.linalg
from scipy.linalg.blas import daxpy

from . import _kernels, design
from . import _numerics as nx
from .data import Dataset, held_data_sums, held_weight_sums
from .exceptions import DualMaxentError
from .params import Parameterization, Penalty

__all__ = ["DualObjective", "IdentifiedObjective", "ReducedObjective", "LastPass",
           "make_objective"]


def make_objective(dataset: Dataset, penalty: Penalty | None = None, forced=None):
    """The objective of ``dataset``: the full likelihood, or the reduced one of separated data.

    Parameters
    ----------
    dataset : Dataset
    penalty : Penalty, optional
    forced : ndarray of bool or Separation, optional
        Entries forced by separation (:func:`dualmaxent.detect_separation`). When one is True
        the result is a :class:`ReducedObjective`: the likelihood without them, whose maximum
        is the supremum of ``l``. None or all False: the full likelihood, a
        :class:`DualObjective`, or an :class:`IdentifiedObjective` when the design is rank
        deficient and nothing is penalised (a penalty identifies theta itself).

    Returns
    -------
    DualObjective, IdentifiedObjective or ReducedObjective
    """
    from .separation import as_forced

    mask = as_forced(dataset, forced)
    if mask is not None:
        return ReducedObjective(dataset, penalty, mask)
    if (penalty is None or not penalty.active) and not dataset.identifiability.full_rank:
        return IdentifiedObjective(dataset, penalty)
    return DualObjective(dataset, penalty)


#: :meth:`DualObjective.last_pass` forms a missing curvature on every ``step``-th row, with
#: this many rows per free parameter (at least): at n = 10^5, m = 51, k = 10 (459 parameters)
#: every 10th row, 0.045 s instead of the full Hessian's 2-3 s; its sampling error, about
#: ``sqrt(p / rows) = 22%``, leaves a residual of about a fifth of the gradient after the
#: projected point's correction, which the second pass measures. Measured there (tol 1e-9):
#: 50 rows per parameter, the solve 0.58 s and a balance residual of 5.4e-13; 20 rows, 0.52 s
#: and 7.4e-13; 10 rows, 0.50 s and 1.7e-12.
CURVATURE_ROWS_PER_PARAM = 20

#: The Kronecker preconditioner's mean class covariance ``A`` (:meth:`DualObjective.
#: _curvature_pieces`) averages every ``step``-th row, about this many rows (all of a smaller
#: data set): a weighted mean of ``q x q`` matrices, which a sample of 16384 rows gives to about
#: 1%. The whole mean cost 2.4 ms per Newton step at n = 10^5, k = 10 (six steps per solve).
PRECONDITIONER_ROWS = 16384

#: Float32 curvature-vector products (:func:`dualmaxent._kernels.categorical_hessp`) of a dense
#: ``X`` read a float32 copy of it, made once per objective (:meth:`DualObjective.
#: _curvature_design`), when that copy, half of X's bytes, is at most this; a larger ``X`` is
#: converted block by block in every product, as before. The copy holds the same float32
#: entries the blocks did, so the products and their error bound are unchanged. Measured (one
#: BLAS thread, one product): n = 10^5, m = 51, k = 3 4.3 ms against 6.2 ms; k = 10 6.4
#: against 7.7; n = 10^6, m = 51, k = 2 31 against 47.
CURVATURE_COPY_MAX_BYTES = 2**29

#: A sparse design with more columns than this gets a diagonal preconditioner (its dense
#: ``X^T W X``, m^2 floats, is not formed; :meth:`DualObjective._diagonal_preconditioner`);
#: fewer keep the Kronecker one.
SPARSE_DENSE_PRECONDITIONER_MAX = 2000

#: A wide sparse design's CG is preconditioned by the diagonal of the curvature (Jacobi) when
#: the data's curvature ``sum_j w_j v_jc x_ji^2`` exceeds the L2 penalty's ``lam`` on at least
#: half the free entries (its median over ``lam`` above this ratio), and runs unpreconditioned
#: otherwise (no penalty: always Jacobi). Why: where the penalty dominates most entries (text:
#: most words are rare) the spectrum of ``-H`` is a tight cluster at ``lam`` plus a few large
#: outliers (the intercept, the frequent words), which plain CG removes one per iteration;
#: Jacobi spreads that cluster out over ``[lam / (lam + d), 1]``. Where the data dominate (the
#: indicators of a many-level column: disjoint columns with curvatures from 1 to 1e3) the
#: spectrum spans decades and Jacobi is nearly exact. Measured (``bench --sparse --quick``
#: problems, Hessian-vector products to a relative gradient of 1e-8; text k = 20 / text k = 2 /
#: categorical): none 121 / 46 / 282; Jacobi 277 / 105 / 27; median ratios 0.06 / 0.35 / 12
#: (at full size 0.05 / 0.23 / 55). Tried and dropped: Jacobi floored at its 99th percentile
#: 272 / 86 / 212; Jacobi with the intercept unscaled 185 / 72 / 33; ``d^(1/2)`` 139 / 51 / 136;
#: l1-Jacobi (absolute row sums of ``-H``, Gershgorin) 594 / 332 / 32; the Kronecker form
#: ``A (x) diag(X^T W X) + lam I`` (``A`` the mean of ``diag(p) - p p^T``, inverted by its
#: eigendecomposition, O(m k^2)) 187 / 113 / 45; the mixed ``lam + alpha d`` of Hsia, Chiang
#: & Lin (2018) on the penalty-dominated text (products to 1e-10, text k = 20 / k = 2, plain
#: 148 / 35): alpha = 0.003 140 / 36, 0.01 130 / 36, 0.03 151 / 41, 0.1 194 / 44, and at the
#: optimum of text k = 20 CG to 1e-6 took 51 to 53 iterations against plain CG's 54, each
#: step paying for the diagonal's pass.
SPARSE_JACOBI_MEDIAN_RATIO = 1.0

#: Where the penalty dominates (plain CG above) and there are at least
#: :data:`SPARSE_COARSE_MIN_CLASSES` free classes, CG is preconditioned by a coarse space
#: instead (:meth:`DualObjective._coarse_preconditioner`): the identity over ``lam`` plus the
#: exact inverse of ``-H`` on ``B (x) I_q``, ``B`` the top :data:`SPARSE_COARSE_RANK`
#: eigenvectors of ``X^T D X`` (``D`` the rows' curvature at the first step). Why: the spectrum
#: of ``-H`` on text is the penalty's cluster at ``lam`` plus outliers, the intercept and the
#: frequent words' common directions, about 16 of them in ``X^T D X`` above ``lam`` (eigenvalues
#: up to 420 ``lam`` at full size), each repeated for every class; plain CG spends an iteration
#: on each. Measured at the optimum of the full text k = 20 problem (CG iterations to a relative
#: residual of 1e-1 .. 1e-6): plain [25, 32, 40, 55, 62, 68]; rank 8 [11, 20, 26, 33, 40, 47];
#: rank 16 [7, 13, 18, 21, 26, 32]; rank 32 [6, 10, 14, 18, 22, 24]; the intercept alone, or with
#: the mean document, worse than plain (the pinned class's and the words' cross terms).
#: Again with the packed coarse solve and the carried step (``MaxEntClassifier(C = 10, tol =
#: 1e-8)`` on that problem, curvature-vector products; fits of 2.0 to 2.4 s, within this
#: machine's spread): rank 16 55 to 57; 12, 70; 20, 51; 24, 47; 24 with every 8th row in E,
#: 51; 32 with every 8th row, 48 (2.3 s: each rank's Galerkin matrix and applications cost
#: what its saved products gain); :data:`SPARSE_COARSE_POWER` 1, 58.
SPARSE_COARSE_RANK = 16
#: The extra columns and the power iterations of the randomized eigensolver of the coarse basis
#: (Halko, Martinsson & Tropp 2011, Algorithm 4.4); its cost is ``(power + 1.5) (rank +
#: oversample) / q`` curvature-vector products, once per solve.
SPARSE_COARSE_OVERSAMPLE = 8
SPARSE_COARSE_POWER = 2
#: The coarse space is built from this many free classes on: its eigensolver costs about
#: ``84 / q`` curvature-vector products once, and its Galerkin matrix ``(q r)^2 n`` flops per
#: Newton step, against CG's iterations saved, about one per outlier per class.
SPARSE_COARSE_MIN_CLASSES = 8
#: The coarse preconditioner reads its float32 basis in this many row chunks, each in float64
#: (a sixteenth of the float64 basis at a time, as :data:`dualmaxent.design.SQUARE_CHUNKS`).
COARSE_CHUNKS = 16

#: The coarse space's Galerkin matrix ``E`` sums its rank-one terms over every this-many-th
#: row, each weighted by this factor (:meth:`DualObjective._coarse_preconditioner`): any
#: symmetric positive definite ``E`` gives a valid preconditioner, and each sampled term
#: ``step w_j (diag(p_j) - p_j p_j^T) (x) z_j z_j^T`` is positive semidefinite, so ``E`` stays
#: positive definite (the penalty's block is whole). Measured on the text k = 20 problem of
#: ``bench --sparse`` to 1e-8 (products; seconds, two runs, a shared machine): every row 52,
#: 2.38 and 2.34 s; every 2nd 56, 2.38 and 2.24; every 4th 57, 2.29 and 2.16; every 8th 59,
#: 2.19 and 2.26 (the quick size: 42, 43, 45, 51 products, times within noise). The rank-n
#: part was 74 ms of each step's preconditioner. Again later (the packed coarse solve): every
#: 8th row 60 products against 55, every 2nd 55, the fits within the machine's spread.
SPARSE_COARSE_ROW_STEP = 4


def _same(v):
    """The identity map (:meth:`DualObjective.curvature_system`'s ``enter`` and ``leave`` on
    the packed layout)."""
    return v


def _copy(r) -> np.ndarray:
    """The identity preconditioner: a new float64 copy of ``r``."""
    return np.array(r, dtype=np.float64)


class CurvatureSystem(NamedTuple):
    """Conjugate gradients' operator ``C`` (``-H`` plus the L2 penalty) and preconditioner
    ``M`` on the layout they work in (:meth:`DualObjective.curvature_system`), as CG uses them:
    the quadratic form first, the product only to update the residual, and the preconditioned
    residual only to make the next direction. So a wide sparse design's CG holds no table of
    ``C d`` nor of ``M^-1 r`` beside its own vectors (each (m, k): 0.39 times the sparse X's
    bytes on the text k = 20 problem of ``bench --sparse``, whose fit peaked with both).

    Attributes
    ----------
    curve : callable
        ``curve(d) -> (d^T C d, update)``; ``update(r, a)`` returns ``r + a C d``, in place for
        a contiguous float64 ``r``. ``update`` may hold an (n, k) table: drop it after use.
    first : callable
        ``first(r) -> (r^T z, z)``, ``z = M^-1 r`` a new vector.
    advance : callable
        ``advance(r, d, rz) -> (r^T z, z + (r^T z / rz) d)``, ``z = M^-1 r``: the next
        direction, written into ``d`` where the preconditioner can (else into ``z``).
    enter, leave : callable
        The packed vector in this layout, and the packed vector of one in it.
    step_dtype : numpy dtype
        The precision CG keeps its step in: float32 on theta's table (a wide sparse design,
        whose vectors are the memory of the solve; its rounding bounded by CG,
        :func:`dualmaxent.solvers.cg_direction`), float64 elsewhere.
    exact : bool
        Whether ``M`` is ``C`` itself (up to its ``1e-12`` shift): the Kronecker
        preconditioner where every row has the same mean (:meth:`DualObjective.
        curvature_system`), whose ``M^-1 g`` is then the Newton step with no product formed.
    """

    curve: Callable
    first: Callable
    advance: Callable
    enter: Callable
    leave: Callable
    step_dtype: type = np.float64
    exact: bool = False

    @classmethod
    def of(cls, matvec, psolve, enter=None, leave=None) -> "CurvatureSystem":
        """The system of a ``matvec`` (``d -> C d``) and a ``psolve`` (``r -> M^-1 r``, a new
        array; or a :class:`_Preconditioner`)."""
        pre = psolve if isinstance(psolve, _Preconditioner) else _Preconditioner(psolve)
        return cls(_curve_of(matvec), pre.first, pre.advance, enter or _same, leave or _same)


def _curve_of(matvec):
    """:class:`CurvatureSystem`'s ``curve`` of a ``matvec``: ``C d`` formed, its form
    ``d^T C d`` and the update ``r + a C d`` read from it."""
    def curve(d):
        Cd = matvec(d)
        return float(d @ Cd), lambda r, a: nx.axpy(Cd, r, a)
    return curve


class _Preconditioner:
    """``M^-1`` (``__call__``: a new array) and CG's two uses of it; ``advance`` by the
    definition, ``z = M^-1 r`` then ``z + beta d`` written into ``z``."""

    def __init__(self, psolve=None):
        self._psolve = psolve

    def __call__(self, r) -> np.ndarray:
        return self._psolve(r)

    def first(self, r):
        z = self(r)
        return float(r @ z), z

    def advance(self, r, d, rz):
        z = self(r)
        rz_new = float(r @ z)
        return rz_new, nx.axpy(d, z, rz_new / rz)


class _Identity(_Preconditioner):
    """``M = I`` (plain CG): the next direction ``r + beta d`` written into ``d``."""

    def __call__(self, r) -> np.ndarray:
        return _copy(r)

    def advance(self, r, d, rz):
        rz_new = float(r @ r)
        d *= rz_new / rz
        return rz_new, nx.axpy(r, d, 1.0)


class _TwoLevel(_Preconditioner):
    """``M^-1 r = c r + U W``, ``W`` from ``U^T r`` (``coarse(r) -> (U^T r, W)``; ``add(T, W)``
    adds ``U W`` to the (m, width) table ``T``, leaving pinned entries zero), of
    :meth:`DualObjective._coarse_preconditioner`. ``r^T M^-1 r = c r^T r + <U^T r, W>`` needs no
    ``z``: the next direction ``c r + U W + beta d`` is written into ``d``."""

    def __init__(self, c: float, width: int, coarse, add):
        super().__init__()
        self.c, self.width, self._coarse, self._add = c, width, coarse, add

    def __call__(self, r) -> np.ndarray:
        _, W = self._coarse(r)
        out = np.multiply(r, self.c)
        self._add(out.reshape(-1, self.width), W)
        return out

    def advance(self, r, d, rz):
        C, W = self._coarse(r)
        rz_new = self.c * float(r @ r) + float(np.vdot(C, W))
        d *= rz_new / rz
        d = nx.axpy(r, d, self.c)
        self._add(d.reshape(-1, self.width), W)
        return rz_new, d


class _Jacobi(_Preconditioner):
    """``M = diag(diagonal)`` (entries positive): the next direction written into ``d``, the
    divisions a chunk at a time (no (p,) temporary)."""

    def __init__(self, diagonal: np.ndarray):
        super().__init__()
        self.diagonal = diagonal

    def __call__(self, r) -> np.ndarray:
        return r / self.diagonal

    def advance(self, r, d, rz):
        chunks = nx.row_chunks(r.size)
        rz_new = sum(float(r[sl] @ (r[sl] / self.diagonal[sl])) for sl in chunks)
        beta = rz_new / rz
        for sl in chunks:
            d[sl] *= beta
            d[sl] += r[sl] / self.diagonal[sl]
        return rz_new, d


def _rows_of(Z, sl: slice) -> np.ndarray:
    """Rows ``sl`` of the coarse space's ``X B_c`` (:meth:`DualObjective.
    _coarse_preconditioner`): ``Z`` itself, or ``(Z, X_J, B_J)`` for ``Z - X_J B_J``."""
    if isinstance(Z, tuple):
        Z, XJ, BJ = Z
        return Z[sl] - XJ[sl] @ BJ
    return Z[sl]


def _orthonormalise(Q: np.ndarray) -> None:
    """Make the columns of ``Q`` (m, l), C-ordered, orthonormal in place (Cholesky QR: ``Q <-
    Q R^-1``, ``R^T R = Q^T Q``; a tiny ridge keeps ``R`` invertible for dependent columns)."""
    S = Q.T @ Q
    S[np.diag_indices_from(S)] += 1e-14 * float(np.trace(S)) + 1e-300
    R = scipy.linalg.cholesky(S, lower=False, check_finite=False)
    # Q^T <- R^-T Q^T: Q.T is F-ordered, so the triangular solve overwrites Q itself
    scipy.linalg.solve_triangular(R, Q.T, trans="T", lower=False, overwrite_b=True,
                                  check_finite=False)


def _class_segments(free: np.ndarray) -> list:
    """The free entries of theta (``free``, (m, q) bool) class by class, as packed in beta
    (class-major, :mod:`dualmaxent.params`): ``(c, start, stop, rows)`` with ``beta[start:stop]``
    the free entries of column ``c``, ``rows`` their mask, or None when the whole column is
    free. Moving between beta and an (m, q) table column by column needs (m,) temporaries only,
    where ``T.T.ravel()[free_flat]`` copies the table twice."""
    out, lo = [], 0
    for c in range(free.shape[1]):
        rows = free[:, c]
        count = int(rows.sum())
        out.append((c, lo, lo + count, None if count == rows.size else rows))
        lo += count
    return out


def _row_selectors(rows: np.ndarray, m: int) -> tuple:
    """``(take, rest)``: the rows of a segment marked in ``rows`` (bool, (m,)) and the others,
    as slices where the marked rows are one run from the first row or to the last (the pinned
    intercept, the last row, leaves the run ``0 .. m - 2``), else as ``rows`` and its
    complement. The same entries either way; a slice reads them in 0.3 us against 1.6 us for
    the mask at m = 51 (a curvature-vector product packs and unpacks once each)."""
    idx = np.flatnonzero(rows)
    if idx.size == 0:
        return slice(0, 0), slice(0, m)
    lo, hi = int(idx[0]), int(idx[-1]) + 1
    if hi - lo == idx.size and (lo == 0 or hi == m):
        return (slice(0, hi), slice(hi, m)) if lo == 0 else (slice(lo, m), slice(0, lo))
    return rows, ~rows


#: A pass's cache key is a copy of theta, compared bit for bit (:class:`_PointCopy`), where
#: theta's bytes are at most this fraction of X's; else the SHA-256 digest of :func:`point_key`.
#: Why: a copy and its comparison cost 0.1 and 0.13 ms at m k = 6e5 against the digest's 2.6
#: ms (this machine), but the copy stays alive with the cache: on the text k = 2 problem of
#: ``bench --sparse`` theta is 0.027 times the sparse X's bytes (the digest cost 38 calls,
#: 21 ms of a 0.7 s fit), on text k = 20 0.39 times (kept as a digest there). Tried and
#: dropped there: a copy of theta kept beside the digest while the pass's gradient table
#: lives (until :meth:`DualObjective.forget_gradient`), so that a point's second and third
#: look-ups compare bits (33 digests a fit down to 13, about 50 ms): the solve's peak rose
#: from 4.26 to 4.66 times X's bytes (the fit's from 5.61 to 6.00), the copy being alive
#: at the line search's peak.
POINT_COPY_FRACTION = 0.05


class _PointCopy:
    """An exact cache key: theta's float64 entries, copied, equal to another key when every
    bit is (so ``-0.0`` differs from ``0.0``, and a NaN key equals nothing but its bits)."""

    __slots__ = ("shape", "bits")

    def __init__(self, theta):
        # the C-ordered bytes, a copy: compared as bytes, 0.06 us against 1.9 for
        # ``np.array_equal`` of uint64 views (about 25 keys and comparisons a small fit)
        self.shape = np.shape(theta)
        self.bits = np.ascontiguousarray(theta, dtype=np.float64).tobytes()

    def __eq__(self, other):
        return (isinstance(other, _PointCopy) and self.shape == other.shape
                and self.bits == other.bits)

    def __ne__(self, other):
        return not self == other

    __hash__ = None


def point_key(theta, copy_bytes: int = 0):
    """The key under which a pass at ``theta`` is cached: a copy of theta (:class:`_PointCopy`)
    when it holds at most ``copy_bytes`` bytes (:data:`POINT_COPY_FRACTION`), else the SHA-256
    digest of its float64 entries and its shape, 32 bytes.

    Why not ``theta.tobytes()`` (the key before): that is a copy of theta, (m, k) floats kept
    for as long as the cache, 0.39 times the bytes of the sparse ``X`` on the text problem of
    ``bench --sparse`` (k = 20). The digest costs 2.6 ms per call at m k = 6e5 (this machine,
    SHA-NI; blake2b 5.1 ms, md5 6.3 ms, sha1 2.5 ms, zlib's crc32 1.1 ms but 32 bits), about
    three calls per Newton-CG iteration against passes of tens of milliseconds; a collision
    (2^-128 for two distinct points) would be the only way for it to differ from comparing the
    bytes.
    """
    t = np.asarray(theta)
    if t.dtype != np.float64 or t.nbytes <= copy_bytes or t.ndim == 0:
        t = np.ascontiguousarray(t, dtype=np.float64)
        if t.nbytes <= copy_bytes:
            return _PointCopy(t)
    if t.flags.c_contiguous:
        return hashlib.sha256(t).digest() + repr(t.shape).encode()
    # theta in another layout (unpacked theta is a transposed view): its C-ordered bytes
    # digested a block of rows at a time, the same digest as of the whole C-ordered copy,
    # which was an (m, q) table made for the digest alone, alive at the solve's peak (the
    # secant trial's pass on text k = 20 of bench --sparse, 0.39 times the sparse X's bytes)
    h = hashlib.sha256()
    rows = max(1, KEY_BLOCK_BYTES // max(t[:1].nbytes, 1))
    for lo in range(0, t.shape[0], rows):
        h.update(np.ascontiguousarray(t[lo:lo + rows]))
    return h.digest() + repr(t.shape).encode()


#: :func:`point_key` digests a theta that is not C-contiguous this many bytes at a time.
KEY_BLOCK_BYTES = 1 << 18


def curvature_diagonal(X, w, family, point) -> np.ndarray:
    """``sum_j w_j v_jc x_ji^2``, shape (m, q): the data's part of the diagonal of ``-H`` at the
    point of a pass, ``point`` the probabilities ``P`` (n, k) of the categorical family (``v =
    p (1 - p)``) or ``eta`` (n,) of a one-parameter family (``v = A''(eta)``); one product with
    the squared entries of ``X`` (in memory, or one block of an engine's)."""
    V = point * (1.0 - point) if family.multiclass else family.variance(point).reshape(-1, 1)
    if V.base is None and V.dtype == np.float64 and V.flags.writeable:  # (a new array: scaled
        # in place, the same products; an (n, q) table less at the first Newton-CG step)
        V *= w[:, None]
    else:
        V = w[:, None] * V
    return design.column_sq_sums(X, V)


class LastPass(tuple):
    """``(G, C, value)`` of :meth:`DualObjective.last_pass`, and what ``C`` is.

    Unpacks and indexes as the 3-tuple ``(G, C, value)``. ``C`` may serve a Newton step at
    theta whatever it is (the step's point is measured, not trusted); a *proof* that uses its
    eigenvalues (:func:`dualmaxent.projected.project_primal`'s attainment) must know where it
    was formed and how it was scaled, which the attributes say:

    Attributes
    ----------
    point : ndarray or None
        The theta (the objective's full layout, (m, k) or (m,)) at which ``C``'s sums were
        formed, a copy; ``theta`` itself when ``C`` is the curvature at ``theta``. None when
        unknown (a curvature handed over by :meth:`DualObjective.seed_curvature` or set by a
        subclass that does not say): then nothing about ``C`` may be claimed.
    scale : float
        ``C`` is ``scale`` times the curvature of a row sample at ``point`` (1 for all rows);
        ``C / scale`` is a sum of positive semidefinite terms over a subset of the rows, hence
        below the full curvature at ``point`` in the PSD order.
    rows : int
        The rows ``C / scale`` sums over (the terms of its sums' rounding).
    dtype : numpy dtype
        The precision of the curvature's block products (:mod:`dualmaxent._kernels`).
    full : bool
        ``C / scale`` sums over every row of the data set (not a sample).
    """

    def __new__(cls, G, C, value, point=None, scale: float = 1.0, rows: int = 0,
                dtype=np.float64, full: bool = True):
        self = super().__new__(cls, (G, C, value))
        self.point = None if point is None else np.array(point, dtype=np.float64)
        self.scale = float(scale)
        self.rows = int(rows)
        self.dtype = np.dtype(dtype)
        self.full = bool(full)
        return self

    def replace(self, G=None, point=None) -> "LastPass":
        """The same pass with ``G`` and the curvature's ``point`` replaced (a view of the same
        likelihood in other coordinates: :meth:`dualmaxent.families.Categorical.binary_view`)."""
        return LastPass(self[0] if G is None else G, self[1], self[2],
                        self.point if point is None else point, self.scale, self.rows,
                        self.dtype, self.full)


# Memory of a sparse fit (issue 20: the peak at most about 2.5 times the sparse X's bytes).
# Measured with tracemalloc (``dualmaxent bench --sparse``'s ``peak_memory``: the peak of
# ``MaxEntClassifier(C=10).fit(X, y)`` over the bytes of X's entries and index arrays), on the
# full problems: text k = 20 (n = 2e4, m = 3e4, X 12.4 MB, a coefficient vector of p = m k
# floats 4.8 MB = 0.39 x) 5.61 x before the cuts below, 4.53 x after (the solve's own peak,
# the fit's once the checker was trimmed too, :func:`dualmaxent.certify.bracket`); text k = 2
# (n = m = 1e5) 1.35 x, 1.32 x; every fit's coefficients bit for bit the same. The solve's peak
# was the secant trial's pass (:func:`dualmaxent.solvers._secant_step`), with the starting
# point (held by ``_newton_cg``'s frame), the start of the line, theta beside its gradient
# table and the packed gradient, and the C-ordered copy of theta made for its digest alive, and
# then the first step's Jacobi diagonal (the cached gradient table and the product's buffer
# alive); it is now CG's curvature-vector product: the iterate, CG's s, r and d, the operator's
# buffer and the product's (m, k) result, with the (n, k) tables of P and X V. Cut: the
# start handed over (``_newton_cg``, ``_newton``, ``_gradient``), the line's start dropped once
# the secant's trial is formed, theta dropped before the gradient is packed (the penalty's
# gradient read from beta), the gradient table forgotten before the curvature operator is
# made, the operator's buffer made after its preconditioner, theta's digest read a block at a
# time (:func:`point_key`), the KKT residual without copies, the Jacobi diagonal's weights
# applied in place, the free entries' index vector (0.19 x) and the penalised entries' mask
# (0.05 x) no longer formed on this path, the classifier's label codes (0.1 x on the
# categorical problem) handed to the data set.
# Then 4.53 x -> 4.07 x on text k = 20 (the solve's peak, the fit's; ``python -c "from
# dualmaxent import bench_sparse as b, MaxEntClassifier as M; _, X, y = b.make_problem(
# *b.SIZES['full'][0]); print(b.peak_memory(lambda X, y, C, _: M(C=C).fit(X, y), X, y))"``):
# of (m, q) tables, six at the line search's secant trial (the accepted point, its gradient,
# the direction, the trial and the temporary ``star d`` of its sum, theta) and at CG's
# products (the iterate, s, r, d, the operator's buffer and the product), now five at every
# stage (the iterate or the line's points, CG's three vectors or the pass's theta, and the
# product or the gradient table); of (n, q) tables, five in a pass (Y, the kept P, eta,
# ``eta - top`` and its exponential), now three (Y, P, eta then the residual over it), as in a
# product (Y, P, ``X V``). Cut: the softmax written over the kept table
# (:func:`dualmaxent._numerics.softmax_logsumexp`'s ``out``), theta unpacked C-ordered
# (:meth:`dualmaxent.params.Parameterization.unpack`: scipy copied the transposed view inside
# every product), CG on theta's table (:meth:`DualObjective.curvature_system`), the secant's
# trial with no temporary and the accepted point's gradient formed again only if the trial
# fails (:func:`dualmaxent.solvers._secant_step`), the Jacobi diagonal's median partitioned
# in place, the coarse space's pinned class's ``X B_c`` formed by rows. The floor of this
# design: the iterate and CG's four vectors (x, r, d, and A d sharing with z), or the line's
# start, direction and point with the pass's theta and gradient table, besides Y, P and the
# product's (n, q) table: 5 x 0.39 + 3 x 0.26 = 2.7 x, over the data set's X (1.02 x) and the
# coarse basis (0.15 x). Tried and dropped: the categorical kernels' sparse products by blocks
# of rows (scipy's ``csr_matvecs`` and ``csc_matvecs`` on views of X's arrays, the same sums,
# an (n, q) table less: 3.87 x), 20 % more time in those loops (``X V`` and ``X^T S`` of a
# block in turn evict each other's (m, q) tables from the cache; the fit's process time 2.38
# to 2.55 s against 2.06 to 2.11 s, alternating in one process). Not done: an implicit
# intercept column for a sparse X (the data set's copy, 1.02 x): every consumer of a sparse
# ``Dataset.X`` reads it as a CSR with the column (the kernels, this objective's passes and coarse
# space, the certificate, :mod:`dualmaxent.projected`, :mod:`dualmaxent.identifiability`,
# :mod:`dualmaxent.separation`'s LP, :mod:`dualmaxent.primal`, prediction); a theta sharing its
# iterate's memory (the free entries are a prefix of the class-major theta): the unpacked theta
# would alias beta for every caller that writes into it.


class DualObjective:
    """The penalised log-likelihood of a data set as a function of the free entries of theta.

    Parameters
    ----------
    dataset : Dataset
    penalty : Penalty, optional

    Notes
    -----
    For the categorical family the gradient of ``l`` is ``X^T W (Y - P)`` (the balance
    equations) and the Hessian block of classes ``a, b`` is
    ``-X^T diag(w p_a (delta_ab - p_b)) X`` (the Newton note, with its lost minus sign and its
    ``X^T W_ab X`` restored). For a one-parameter family the Hessian is ``-X^T diag(w A''(eta)) X``.
    """

    #: step lengths the line search evaluates per :meth:`prefetch_line` (1: one at a time, the
    #: value and gradient of a point coming from one pass over ``X`` anyway)
    line_batch = 1
    #: whether a solve stops when theta runs off to infinity (:func:`dualmaxent.solvers.
    #: diverging`): only where the separation LP cannot run afterwards (an engine's data)
    stops_diverging = False
    #: whether :meth:`subsample` is a view of ``X`` (free, so it may keep many rows) rather than
    #: a copy gathered from an engine
    subsample_is_view = True
    #: whether Newton may keep a Hessian factorisation for the next step while the steps
    #: contract fast (:data:`dualmaxent.solvers.REUSE_RATIO`): a gradient pass in memory costs
    #: a fraction of a curvature pass
    reuses_curvature = True
    #: whether :meth:`smooth_value_grad` returns a new gradient array each call (the caller may
    #: overwrite it: Newton-CG makes it CG's residual), rather than one it keeps
    fresh_gradient = True
    #: whether this is a warm start's sample (:meth:`subsample`), whose solve's last Hessian
    #: seeds the full problem's Newton (:func:`dualmaxent.solvers.subsample_start`): its
    #: L-BFGS start then does not go on to the solve's tolerance in place of Newton
    #: (:func:`dualmaxent.solvers._lbfgs_start`)
    seeds_curvature = False
    #: :func:`dualmaxent.solve_dual`'s ``slack_tol``: the line-search methods go on past their
    #: tolerance until :meth:`slack_met` (None: they stop on the relative gradient alone)
    slack_tol = None

    def __init__(self, dataset: Dataset, penalty: Penalty | None = None):
        self.dataset = dataset
        self.family = dataset.family
        self.penalty = penalty if penalty is not None else Penalty()
        self.X = dataset.X
        self.Y = dataset.Y
        self.w = dataset.weights
        #: free entries, packing and gauge (:mod:`dualmaxent.params`)
        self.params = Parameterization.from_dataset(dataset, self.penalty)
        self.penalized_rows = self.params.penalized_rows
        self.q = self.params.q
        self.free = self.params.free
        self.n_params = self.params.n_params
        # classes with at least one free entry: the only curvature blocks ever needed
        self._hess_classes = self.params.free_classes
        # the free entries class by class: (class, start, stop in beta, rows or None for all)
        self._segments = _class_segments(self.free)
        self._whole = None  # leading classes with every row free (_whole_classes)
        self._seg_pen = None  # each segment's penalised entries (_segment_penalized)
        self._unpen = None  # the packed unpenalised entries (_unpenalised_entries)
        self._selectors = None  # each segment's rows as slices or masks (_segment_selectors)
        self._runs = None  # the penalised rows' runs (_penalized_runs)
        # the stopping rule's scale 1 + max |X^T W Y| (held by a dense data set that summed it
        # as it copied X, :func:`dualmaxent.data.held_data_sums`); the (m, q) table itself is
        # not kept (0.39 x the sparse X's bytes on the k = 20 text problem; nothing reads it)
        sums = held_data_sums(dataset)
        if sums is None:
            sums = _kernels.data_sums(self.X, self.Y, self.w)
        self.scale = 1.0 + float(np.abs(sums).max())
        #: the full likelihood has no forced entries (see ReducedObjective)
        self.forced = None
        # (X^T W Y, X^T w) for the likelihood at the start without a pass (_at_constant): where
        # the data set holds both (a dense X copied with them) and has an intercept
        wsums = held_weight_sums(dataset)
        self._start_sums = (sums, wsums) if (
            dataset.intercept and wsums is not None and wsums[-1] > 0
            and held_data_sums(dataset) is not None) else None
        # caches: (point_key, value, G, C or None) of the last pass over X; (point_key, P or
        # eta) at that point, for curvature_operator; X^T W X and its Cholesky factor
        self._cache = None
        # a copy of theta as the cache's key where it is small against X (POINT_COPY_FRACTION)
        self._key_bytes = int(POINT_COPY_FRACTION * design.nbytes(self.X))
        self._last_curvature = None
        # where _loglik formed _last_curvature: (weakref to it, theta copy, rows, dtype), for
        # last_pass to say what its C is (another setter of _last_curvature leaves it stale,
        # which the weak reference detects)
        self._curvature_origin = None
        self._point = None
        self._gram = None
        self._gram_eig = None  # (V, mu, V^T) of G and the penalty, or False: _gram_penalty_eig
        self._plain_cg = None  # a wide sparse design's CG unpreconditioned (decided once)
        self._coarse_basis = None  # its coarse space's basis B (m, r), built once
        self._pinned_columns = {}  # the coarse space's X[:, J] of a class's pinned rows J
        #: precision of the curvature's block products (:meth:`dualmaxent.families.Family.
        #: one_pass`) and of the categorical curvature-vector products; Newton and Newton-CG
        #: lower it to float32 on well-conditioned designs
        self.curvature_dtype = np.float64
        self._seed = None  # a nearby curvature handed over by seed_curvature, used once
        self._psolve_exact = False  # whether the last psolve made is M's Cholesky or eigen form
        self._x_curvature = None  # X in float32 for the products (_curvature_design)

    @property
    def _free_flat(self) -> np.ndarray:
        """The free entries' positions in the class-major theta (:attr:`dualmaxent.params.
        Parameterization.free_flat`), formed when first read: only the dense Hessian and its
        Kronecker preconditioner read them. Formed in the constructor before, an (n_params,)
        index vector held by the objective through the fit, 0.19 times the sparse X's bytes on
        text k = 20 of bench --sparse (alive at the certificate's peak, the fit's)."""
        return self.params.free_flat

    @property
    def curvature_width(self) -> int:
        """The width of the curvature a pass over ``X`` forms (its cost is about ``n`` times
        its square): ``m`` for two classes, whose pass takes the binary kernel whatever the
        penalty (:meth:`dualmaxent.families.Categorical.one_pass`), else the free parameters."""
        if self.family.multiclass and self.dataset.k == 2:
            return self.dataset.m
        return self.n_params

    def subsample(self, step: int):
        """The same objective on every ``step``-th row, or None where no such shortcut exists.

        The rows are strided views of ``X``, ``Y`` and ``w`` (nothing is copied); the penalty's
        ``lambda`` is divided by ``step``, so that it keeps its weight against a likelihood
        that sums ``1 / step`` as many observations. Its maximiser is a warm start for the full
        problem (:func:`dualmaxent.solvers.subsample_start`).
        """
        return self._on_sample(self.dataset.every(step), step)

    def _on_sample(self, sample: Dataset, step: int) -> "DualObjective":
        """The objective on ``sample``, every ``step``-th row (the penalty divided by step)."""
        pen = self.penalty
        out = DualObjective(sample, Penalty(pen.kind, pen.lam / step, pen.l1_ratio)
                            if pen.active else pen)
        out.curvature_dtype = self.curvature_dtype
        out.seeds_curvature = True
        return out

    def design_condition(self) -> float | None:
        """The condition number of the equilibrated design
        (:attr:`dualmaxent.identifiability.Identifiability.condition`): from the rank pass of
        :func:`make_objective`, or that pass made now (on many rows it reads a row sample, 0.01
        s at n = 10^6, m = 51). A penalised fit, which needs no rank, reads the pass's float32
        screen alone (:meth:`dualmaxent.Dataset.screened_identifiability`): None (so float64
        curvatures) when the screen does not prove full rank. The rank pass's row-space
        condition says nothing of a penalised curvature along the null space, which only the
        penalty bends; and the float64 Gram matrix and blocked QR that it would run then took
        80 of a 164 ms fit (n = 10^5, two classes, 20 features and ten indicators of one
        categorical beside the intercept, L2 at C = 1, ``tol=1e-4``)."""
        if self.penalty.active:
            ident = self.dataset.screened_identifiability()
            return None if ident is None else ident.condition
        return self.dataset.identifiability.condition

    @property
    def may_run_off(self) -> bool:
        """Whether theta may run off to infinity and :meth:`completely_separated` is asked as
        it does: an unpenalised likelihood of a family that can separate, no entry forced, the
        data in memory (an engine's solve stops by :attr:`stops_diverging` instead)."""
        return (not self.stops_diverging and not self.penalty.active and self.forced is None
                and self.family.can_separate)

    def completely_separated(self, beta):
        """The complete separation that theta at ``beta`` proves by its slacks
        (:func:`dualmaxent.separation.proved_complete`, one pass over ``X`` at most, a probe of
        256 rows on data that are not separated), or None."""
        from .separation import proved_complete

        return proved_complete(self.dataset, self.theta(beta))

    # -- packing -----------------------------------------------------------------------------
    def theta(self, beta: np.ndarray) -> np.ndarray:
        """Full theta of shape (m, k) or (m,) from the free parameters ``beta``, C-ordered
        (:meth:`Parameterization.unpack`'s numbers, by this objective's class segments: the
        whole classes in one transposing copy, :meth:`_unpack_into`). Why C order: a pass over
        a sparse ``X`` reads theta in that layout (scipy's ``X @ theta`` copies any other, a
        second (m, q) table inside every product: 0.39 times the sparse X's bytes on text
        k = 20 of ``bench --sparse``, alive at the solve's peak)."""
        T = np.zeros((self.X.shape[1], self.q))
        self._unpack_into(np.asarray(beta, dtype=np.float64), T)
        return self.params.squeeze(T)

    def beta(self, theta: np.ndarray) -> np.ndarray:
        """Free parameters of ``theta`` after moving it to the pinned gauge."""
        return self.params.pack(theta)

    def gauge_fix(self, theta: np.ndarray) -> np.ndarray:
        """Move theta to the reported gauge (last class zero on unpenalised rows)."""
        return self.params.gauge_fix(theta)

    # -- values --------------------------------------------------------------------------------
    def eta(self, beta):
        return self.X @ self.theta(beta)

    def penalty_value(self, theta) -> float:
        """The whole penalty at theta: :meth:`smooth_penalty_value` plus ``l1_lam
        ||theta_R||_1``."""
        value = self.smooth_penalty_value(theta)
        if self.penalty.l1_lam:
            value += self.penalty.l1_lam * float(np.sum(np.abs(
                np.asarray(theta)[self.penalized_rows])))
        return value

    def smooth_penalty_value(self, theta) -> float:
        """The penalty's smooth part ``(l2_lam / 2) ||theta_R||^2`` (of L2 and of the elastic
        net), the one :meth:`smooth_value_grad` subtracts; the L1 part is the solver's."""
        if not self.penalty.l2_lam:
            return 0.0
        t = np.asarray(theta)
        runs = self._penalized_runs()
        if t.dtype == np.float64 and len(runs) <= 8 and (
                t.flags.c_contiguous or t.ndim == 2 and t.flags.f_contiguous):
            # the penalised rows' runs as contiguous views, one BLAS dot each (per class in
            # theta's usual class-major layout, F-ordered): the boolean selection copied them
            # and squared the copy (0.9 ms a call at m k = 6e5)
            parts = ([t[lo:hi].reshape(-1) for lo, hi in runs] if t.flags.c_contiguous else
                     [col[lo:hi] for col in t.T for lo, hi in runs])
            total = 0.0
            for part in parts:
                total += float(np.dot(part, part))
            return 0.5 * self.penalty.l2_lam * total
        return 0.5 * self.penalty.l2_lam * float(np.sum(t[self.penalized_rows] ** 2))

    def _penalized_runs(self) -> list:
        """The penalised rows as ``(lo, hi)`` runs of consecutive rows (computed once)."""
        if self._runs is None:
            edges = np.flatnonzero(np.diff(np.concatenate(
                ([0], self.penalized_rows.astype(np.int8), [0]))))
            self._runs = [(int(lo), int(hi)) for lo, hi in zip(edges[::2], edges[1::2])]
        return self._runs

    def value(self, beta) -> float:
        """The objective ``l(theta) - penalty(theta)``."""
        theta = self.theta(beta)
        return self.loglik_value(beta) - self.penalty_value(theta)

    def loglik_value(self, beta) -> float:
        """The unpenalised canonical log-likelihood ``l`` (cached with the gradient)."""
        return self._loglik(self.theta(beta))[0]

    def _loglik(self, theta, hessian: bool = False):
        """``(l, X^T W (Y - mu), -H or None)`` of the unpenalised likelihood at full ``theta``.

        One blocked pass over ``X`` (:mod:`dualmaxent._kernels`). The last call is cached, so
        a Newton line search that asked for the curvature at its accepted point does not pay
        for a second pass when :meth:`hessian` is called there. The curvature covers only the
        classes with a free entry (the pinned class's blocks are never formed).
        """
        key = self._key(theta)
        cache = self._cache
        if cache is not None and cache[0] == key and cache[2] is not None and (
                cache[3] is not None or not hessian):
            return cache[1], cache[2], cache[3]
        # the last pass's G and P are dropped before this one makes its own (an (m, q) and an
        # (n, q) table less at the pass's peak)
        cache = self._cache = self._point = None
        # keep P (categorical) or eta at this point for curvature_operator: (n, k) floats,
        # not a copy of X
        self._point = (key, np.empty((self.X.shape[0], self.q) if self.family.multiclass
                                     else self.X.shape[0]))
        constant = None if hessian else self._at_constant(theta, self._point[1])
        if constant is not None:
            value, G = constant
            C = None
        else:
            value, G, C = self.family.one_pass(self.X, self.Y, self.w, theta,
                                               self._hess_classes, hessian, self._point[1],
                                               self.curvature_dtype)
        self._cache = (key, value, G, C)
        if C is not None:
            self._record_curvature(C, theta, self.X.shape[0], self.curvature_dtype)
        return value, G, C

    def _at_constant(self, theta, point_out):
        """``(l, G)`` at a ``theta`` whose only nonzero row is the intercept's (:meth:`start`),
        in closed form, with no pass over ``X``; None elsewhere, or where the data set does not
        hold its sums (:func:`dualmaxent.data.held_data_sums`, ``held_weight_sums``).

        There ``eta_j = eta_0`` on every row, so ``mu_j = mu_0 = A'(eta_0)`` and

            ``l = sum_j w_j [<Y_j, eta_0> - A(eta_0)]``,  ``G = X^T W Y - (X^T w) mu_0^T``,

        ``l`` the family's own :meth:`~dualmaxent.families.Family.canonical_loglik` of one row
        of weight ``sum w`` whose response is the weighted mean ``(sum_j w_j Y_j) / sum w``
        (it is linear in ``w Y`` and ``w``), the intercept's entries of the sums. ``point_out``
        is filled as a pass fills it (``P`` or ``eta``). The two sums were formed while the data
        set copied ``X``; each entry of ``G`` then carries the rounding of those sums, the
        same order as a pass's ``X^T W (Y - mu)`` (``gamma(n)`` times the sums of magnitudes).
        Saves the solve's first pass from the start (n = 10^5, two classes, 50 features: one
        of eight, 5 to 6 ms); a curvature asked for there still takes its pass.
        """
        held = self._start_sums
        if held is None or not self._intercept_only(theta):
            return None
        sums, wsums = held
        total = wsums[-1]  # sum w (the intercept's column sum)
        eta = np.asarray(theta).reshape(self.dataset.m, -1)[-1:]  # (1, q)
        mean_response = sums[-1:] / total  # (1, q)
        if self.family.multiclass:
            value = self.family.canonical_loglik(mean_response, eta, np.array([total]))
            mu = self.family.mean(eta)[0]
            point_out[...] = mu
        else:
            value = self.family.canonical_loglik(mean_response[0], eta[0], np.array([total]))
            mu = self.family.mean(eta[0])
            point_out[...] = eta[0, 0]
        return value, sums - wsums[:, None] * mu[None, :]

    def _record_curvature(self, C, theta, rows: int, dtype, scale: float = 1.0) -> None:
        """Keep ``C`` as the most recent curvature and where it was formed: at ``theta``, from
        ``rows`` rows in ``dtype``, multiplied by ``scale`` (a row sample's stride), for
        :meth:`last_pass` to say what it is (a weak reference ties the record to ``C``: a
        curvature set any other way has no record, and proves nothing)."""
        self._last_curvature = C
        self._curvature_origin = (weakref.ref(C), np.array(theta, dtype=np.float64), rows,
                                  np.dtype(dtype), float(scale))

    def reported_loglik(self, theta) -> tuple[float, float]:
        """``(canonical, reported)`` log-likelihood at theta: ``DualResult``'s
        ``canonical_loglik`` and ``loglik`` (statsmodels' ``llf``, the family's constant added),
        from the solver's last pass when it was at theta (not one more pass over X), theta
        read as it is (no packed copy and second unpacking)."""
        canonical = self._loglik(np.asarray(theta, dtype=np.float64))[0]
        return canonical, self.family.loglik_from_canonical(
            canonical, self.dataset.Y, self.dataset.weights, lambda: self.X @ theta)

    def residual_sums(self, theta) -> tuple[float, float]:
        """``(sum w (Y - X theta)^2, sum w)``: the gaussian family's residual sum of squares and
        the number of observations, for its residual variance (:mod:`dualmaxent.inference`)."""
        resid = self.Y - self.X @ theta
        return float(np.dot(self.w, resid**2)), float(self.w.sum())

    def release(self) -> "DualObjective":
        """Drop the caches of the last pass (the mean table among them) and return self, for a
        result to keep (:attr:`dualmaxent.results.DualResult.std_err` needs the objective)."""
        self._cache = self._point = self._last_curvature = self._coarse_basis = None
        self._curvature_origin = self._x_curvature = None
        self._pinned_columns = {}
        return self

    def last_curvature(self):
        """The most recent curvature formed (kernels' layout, at some recent iterate), or None."""
        return self._last_curvature

    def forget(self) -> None:
        """Drop the cached pass (after a change of ``curvature_dtype``)."""
        self._cache = None
        self._last_curvature = None
        self._curvature_origin = None
        self._x_curvature = None

    def last_pass(self, theta):
        """``(G, C, value)`` at ``theta`` without another full Hessian pass, or None.

        ``G = X^T W (Y - mu)`` and ``l`` come from the cache of the last pass when it was at
        ``theta``. ``C`` is the curvature at ``theta`` when that pass formed one; else the most
        recent curvature formed, perhaps at the iterate before theta. Near an optimum that is as
        good as the exact one for the projected point's *step* (:mod:`dualmaxent.projected`),
        whose correction is of the size of ``G`` (the error is of the order ``|G| |theta -
        theta_prev|``) and whose residual is measured anyway. When no curvature was formed
        (Newton-CG), ``C`` is that of a row subsample at theta, scaled up by the stride
        (:data:`CURVATURE_ROWS_PER_PARAM`): its sampling error plays the part of the stale
        iterate's. It is formed in float64: unscaled, its smallest eigenvalue is then a lower
        bound the proof of attainment can use (in float32 the rounding bound swamped it, and at
        tol 1e-4 the ten-class headline problem, n = 1e5, fell to the separation LP: minutes and
        17 GB, against 0.44 s for the whole solve with the float64 sample).

        Such a ``C`` is no bound of the curvature at theta (a scaled sample can exceed it, a
        stale one was formed elsewhere), so the result, a :class:`LastPass`, says what it is:
        the point it was formed at, the sample's scale, its rows and precision. A proof that
        needs a lower bound of the curvature at theta derives it from those
        (:func:`dualmaxent.projected.project_primal`).

        Returns
        -------
        LastPass or None
        """
        got = self._pass_at(theta)
        if got is None:
            return None
        n = self.dataset.n
        at_theta = self._loglik(theta)[2]  # the cached pass at theta (no new pass): its C
        if at_theta is not None:
            return LastPass(got[1], at_theta, got[0], theta, 1.0, n, self.curvature_dtype)
        if self._last_curvature is None:
            step = n // (CURVATURE_ROWS_PER_PARAM * max(self.n_params, 1))
            sub = self.subsample(step) if step >= 2 else None
            if sub is None:
                return None
            sub.curvature_dtype = dtype = np.float64  # (the proof's precision: docstring)
            self._record_curvature(step * sub._loglik(theta, hessian=True)[2], theta,
                                   sub.dataset.n, dtype, step)
        C, origin = self._last_curvature, self._curvature_origin
        if origin is None or origin[0]() is not C:  # set elsewhere: nothing known about it
            return LastPass(got[1], C, got[0])
        scale = origin[4]
        return LastPass(got[1], C, got[0], origin[1], scale, origin[2], origin[3],
                        full=origin[2] == n and scale == 1.0)

    def last_gradient(self, theta):
        """``G = X^T W (Y - mu)`` (m, q) of the last pass over ``X`` when it was at ``theta``
        (no pass made), else None: the gradient :func:`dualmaxent.certify.curvature_ball`
        bounds."""
        got = self._pass_at(theta)
        return None if got is None else got[1]

    def _pass_at(self, theta):
        """``(l, G)`` of the last pass over ``X`` when it was at ``theta``, else None."""
        key = self._key(theta)
        if self._cache is None or self._cache[0] != key or self._cache[2] is None:
            return None
        return self._cache[1], self._cache[2]

    def forget_gradient(self) -> None:
        """Drop the gradient table ``G`` (m, q) of the last pass, keeping the rest of it.

        For a solver that holds the gradient packed and will not ask for it at this point
        again: a Newton-CG step, whose line search moves on to other points (on the k = 20 text
        problem of ``bench --sparse`` the table is 0.39 times the sparse X's bytes, held
        through every curvature-vector product otherwise). Asked for all the same (a line
        search that fails, the result's residual), the pass is made again.
        """
        if self._cache is not None:
            self._cache = (self._cache[0], self._cache[1], None, self._cache[3])

    def smooth_value(self, beta, hessian: bool = False) -> float:
        """The value of ``l - L2 penalty`` alone (:meth:`smooth_value_grad`'s, whose pass also
        gives the gradient in memory; an engine may evaluate values alone). The same number
        as :meth:`smooth_value_grad`'s, without packing the gradient (its pass keeps the table
        for the line search's next call, which asks for it at an accepted point)."""
        if type(self).smooth_value_grad is not DualObjective.smooth_value_grad:
            return self.smooth_value_grad(beta, hessian)[0]  # (a subclass's own likelihood)
        theta = self.theta(beta)
        value = self._loglik(theta, hessian)[0]
        if self.penalty.l2_lam:
            value -= self.smooth_penalty_value(theta)
        return value

    def prefetch_line(self, betas) -> None:
        """Evaluate the values at the line search's next :attr:`line_batch` points in one pass
        (an engine's; nothing to do in memory, where a value comes with its gradient)."""

    def smooth_value_grad(self, beta, hessian: bool = False):
        """Value and gradient of ``l - L2 penalty`` (the L1 term, of L1 and of the elastic net,
        is left to the solver).

        ``hessian=True`` also forms the curvature in the same pass and caches it for
        :meth:`hessian` at the same ``beta`` (used by Newton's line search at the full step).
        """
        theta = self.theta(beta)
        lam2 = self.penalty.l2_lam
        pen_value = self.smooth_penalty_value(theta) if lam2 else 0.0
        value, G, _ = self._loglik(theta, hessian)  # G (m, q): the balance equations
        if lam2:
            value -= pen_value
        # theta's free entries are beta's own (the unpacking copies them): the penalty's
        # gradient is read from beta, and theta (m, q) is dropped before the gradient is
        # packed. Measured on text k = 20 of bench --sparse: theta, G and the packed gradient
        # were alive together after the pass of the line search's secant trial, the fit's peak
        # (each 0.39 times the sparse X's bytes). (Not for a subclass with its own coordinates,
        # whose beta is no packing of theta.)
        in_beta = type(self).theta is DualObjective.theta
        if in_beta or not lam2:
            del theta
        grad = self._pack(G)
        del G
        if lam2:  # segment by segment: (m,) temporaries, not another (m, q) table
            b = np.asarray(beta, dtype=np.float64) if in_beta else None
            T = None if in_beta else np.asarray(theta).reshape(-1, self.q)
            for (c, lo, hi, rows), pen in zip(self._segments, self._segment_penalized()):
                t = b[lo:hi] if in_beta else T[:, c] if rows is None else T[rows, c]
                grad[lo:hi] -= lam2 * t * pen
        return value, grad

    def _segment_penalized(self) -> list:
        """Per segment of :func:`_class_segments`, which of its entries are penalised (the
        penalised rows, restricted to the segment's rows; computed once)."""
        if self._seg_pen is None:
            self._seg_pen = [self.penalized_rows if rows is None else self.penalized_rows[rows]
                             for _, _, _, rows in self._segments]
        return self._seg_pen

    def _unpenalised_entries(self) -> np.ndarray:
        """The packed indices of the unpenalised entries, segment by segment (computed once;
        not through the (n_params,) mask of the penalised entries, kept by the
        parameterisation once formed: 0.05 times the sparse X's bytes on text k = 20, alive at
        the fit's peak). Once per objective, not per Newton-CG step: 15 us a step with ten
        classes."""
        if self._unpen is None:
            self._unpen = np.concatenate([lo + np.flatnonzero(~pen) for (_, lo, _, _), pen in
                                          zip(self._segments, self._segment_penalized())])
        return self._unpen

    def _whole_classes(self) -> int:
        """How many leading classes have every row free (segment ``c`` of
        :func:`_class_segments` starting at ``c m``): their columns pack as one transposing
        copy. At m = 3e4, q = 20 that copy takes 0.58 ms, the 20 strided column copies 0.98 ms,
        and the unpacking 0.32 ms against 0.78 (a curvature-vector product packs and unpacks
        once each)."""
        if self._whole is None:
            m, count = self.X.shape[1], 0
            for c, lo, hi, rows in self._segments:
                if rows is not None or c != count or lo != c * m or hi != lo + m:
                    break
                count += 1
            self._whole = count
        return self._whole

    def _pack(self, T, out=None) -> np.ndarray:
        """The free entries of the (m, q) table ``T`` (theta's layout) packed like beta, column
        by column (:func:`_class_segments`), into ``out`` (p,) or a new vector."""
        out = np.empty(self.params.n_params) if out is None else out
        whole = self._whole_classes()
        if whole:
            m = T.shape[0]
            np.copyto(out[:whole * m].reshape(whole, m), T[:, :whole].T)
        for c, lo, hi, take, _ in self._segment_selectors()[whole:]:
            out[lo:hi] = T[take, c]
        return out

    def _segment_selectors(self) -> list:
        """Per segment of :func:`_class_segments`, ``(c, lo, hi, take, rest)``: its free rows
        and its pinned ones as :func:`_row_selectors` gives them (computed once)."""
        if self._selectors is None:
            m = self.free.shape[0]
            self._selectors = [(c, lo, hi) + (_row_selectors(rows, m) if rows is not None
                                              else (slice(None), slice(0, 0)))
                               for c, lo, hi, rows in self._segments]
        return self._selectors

    def _unpack_into(self, v, T, zero_pinned: bool = False) -> None:
        """Write the packed ``v`` into the free entries of the (m, q) table ``T``, and zeros
        into its pinned entries when ``zero_pinned`` (else they are left as they are)."""
        whole = self._whole_classes()
        if whole:
            m = T.shape[0]
            np.copyto(T[:, :whole].T, v[:whole * m].reshape(whole, m))
        for c, lo, hi, take, rest in self._segment_selectors()[whole:]:
            T[take, c] = v[lo:hi]
            if zero_pinned:
                T[rest, c] = 0.0

    def full_gradient(self, theta) -> np.ndarray:
        """Gradient of ``l`` alone with respect to every entry of theta, shape like ``self.free``."""
        eta = self.X @ theta
        R = self.w[:, None] * ((self.Y - self.family.mean(eta)).reshape(len(eta), -1))
        return self.X.T @ R

    def hessian(self, beta) -> np.ndarray:
        """Hessian of the smooth objective in the free parameters, shape (p, p)."""
        return self._free_hessian(self._loglik(self.theta(beta), hessian=True)[2])

    def seed_curvature(self, C) -> None:
        """Adopt ``C``, the curvature of ``l`` at a nearby point, as the most recent one.

        ``C`` has the layout of the kernels' curvature (the classes with a free entry,
        class-major). :meth:`seeded_hessian` returns it once, as a Hessian, and
        :meth:`last_pass` offers it until a pass forms a curvature of its own.
        """
        self._seed = C
        self._last_curvature = C

    def seeded_hessian(self):
        """The Hessian of the curvature given to :meth:`seed_curvature` (once), or None."""
        C, self._seed = self._seed, None
        return None if C is None else self._free_hessian(C)

    def _free_hessian(self, C) -> np.ndarray:
        """The Hessian (p, p) in the free parameters from the curvature ``C`` of ``l``."""
        m, q = self.X.shape[1], self.q
        p = self.params.n_params  # the free entries (an _InBasis objective's n_params differ)
        fc = self._hess_classes
        if self.params.free_prefix and (not self.family.multiclass or fc == list(range(len(fc)))):
            # the free entries are the first p of the class-major order and C covers the
            # first classes: -H is C's leading p x p block (one copy, no index arrays)
            H = np.negative(C[:p, :p])
            if self.penalty.l2_lam:
                H.flat[::p + 1] -= self.penalty.l2_lam * self.params.penalized
            return H
        if self.family.multiclass:
            # embed the curvature of the free classes; the pinned class's rows and columns
            # are dropped by the free-index selection below
            cols = (np.asarray(self._hess_classes)[:, None] * m + np.arange(m)).ravel()
            H = np.zeros((q * m, q * m))
            H[np.ix_(cols, cols)] = -C
        else:
            H = -C
        if self.penalty.l2_lam:
            diag = self.params.penalized_flat.astype(float) * self.penalty.l2_lam
            H[np.diag_indices_from(H)] -= diag
        idx = self._free_flat
        return H[np.ix_(idx, idx)]

    def curvature_operator(self, beta):
        """``(matvec, psolve)``: ``v -> -H v`` and an approximate ``v -> (-H)^{-1} v``.

        ``matvec`` uses two products with ``X`` per call (no Hessian is formed); its result is a
        view of the operator's one buffer, which the next call overwrites (copy it to keep
        it). ``psolve`` returns a new array; it
        is the Cholesky solve of the Kronecker approximation ``A (x) X^T W X`` restricted to the
        free entries (see :func:`dualmaxent.solvers.cg_direction`), plus the L2 penalty's
        diagonal; for a wide sparse design Jacobi, the identity, or with many classes the
        coarse space (:meth:`_coarse_preconditioner`).
        The pass-dependent pieces come from :meth:`_curvature_pieces` (an engine supplies its own).
        CG itself works on :meth:`curvature_system`'s layout.
        """
        A, hessp = self._curvature_pieces(self.theta(beta))
        psolve = self._curvature_psolve(A, beta)
        # (the product's buffer made once the preconditioner is: not alive while the first
        # step's Jacobi diagonal is formed, at the solve's peak on text k = 20 of bench
        # --sparse before, 0.39 times the sparse X's bytes)
        return self._curvature_matvec(hessp), psolve

    def curvature_system(self, beta):
        """The :class:`CurvatureSystem` at ``beta``: :meth:`curvature_operator`'s ``-H v`` and
        preconditioner on the layout conjugate gradients work in, ``enter(g)`` the packed
        ``g`` in that layout and ``leave(s)`` the packed vector of ``s``.

        Where every row has the same mean (:meth:`_uniform_mean`: the start) and the
        preconditioner is the Kronecker one (or its dense Cholesky), ``A`` is every row's
        curvature and ``M = A (x) X^T W X`` plus the penalty is ``-H`` itself: the system says
        so (``exact``), and CG takes ``M^-1 g`` as the step without a product to confirm it.
        Measured (``MaxEntClassifier(tol=1e-4).fit``, in-process A/B, one BLAS thread): three
        classes, 50 features, n = 10^5: one curvature-vector product (a pass) of the fit's
        sixteen saved.

        A wide sparse design (:data:`SPARSE_DENSE_PRECONDITIONER_MAX`) works on theta's
        table: ``v`` of shape (m q,), the C-ordered (m, q) table flattened, its pinned entries
        zero; the product is :meth:`_table_curve`'s (a categorical family's adds into the
        residual, no table of it), the preconditioner's next direction is written into the
        last, the step is float32, and ``enter`` returns a new vector (the caller drops
        ``g``). Why: on the
        packed layout a product held the direction unpacked into the operator's (m, q) buffer
        beside its (m, q) result, one (n_params,) vector more than CG's own at its peak (the
        solve's, on text k = 20 of ``bench --sparse``: 0.39 times the sparse X's bytes; the
        unpacking and packing of every product, 0.9 ms there by :meth:`_whole_classes`'s
        measurements, are gone too). Elsewhere (a dense or
        narrow design, whose vectors are small, and the objectives in a basis) the packed
        layout: :meth:`curvature_operator`'s pair (:meth:`CurvatureSystem.of`), ``enter`` and
        ``leave`` returning their argument, the step float64.
        """
        if not self._works_on_tables():
            system = CurvatureSystem.of(*self.curvature_operator(beta))
            return system._replace(exact=self._psolve_exact and self._uniform_mean(beta))
        theta = self.theta(beta)
        curve = self._table_curve(theta, self._curvature_pieces(theta)[1])
        del theta  # (not alive while the preconditioner is made: the coarse space's peak)
        pre = self._wide_psolve(beta)
        return CurvatureSystem(curve, pre.first, pre.advance, self._table_of, self._packed_of,
                               np.float32)

    def _intercept_only(self, theta) -> bool:
        """Whether ``theta``'s only nonzero row is the intercept's (:meth:`start`'s form):
        every row's ``eta`` is then the intercept's, and so is its mean."""
        return self.dataset.intercept and not np.any(
            np.asarray(theta).reshape(self.dataset.m, -1)[:-1])

    def _uniform_mean(self, beta) -> bool:
        """Whether every row has the same mean at ``beta`` (:meth:`_intercept_only`, nothing
        forced) and the curvature's pieces are this class's own (:meth:`_curvature_pieces`:
        ``A`` the mean of the rows' curvatures)."""
        if (self.forced is not None
                or type(self)._curvature_pieces is not DualObjective._curvature_pieces
                or type(self).curvature_operator is not DualObjective.curvature_operator):
            return False
        return self._intercept_only(self.theta(beta))

    def _works_on_tables(self) -> bool:
        """Whether :meth:`curvature_system` works on theta's table (a wide sparse design, this
        class's operator)."""
        return (design.is_sparse(self.X) and self.X.shape[1] > SPARSE_DENSE_PRECONDITIONER_MAX
                and type(self).curvature_operator is DualObjective.curvature_operator)

    def _table_of(self, v) -> np.ndarray:
        """The packed ``v`` as theta's C-ordered table flattened, (m q,), pinned entries 0."""
        T = np.zeros((self.X.shape[1], self.q))
        self._unpack_into(v, T)
        return T.reshape(-1)

    def _packed_of(self, v) -> np.ndarray:
        """The free entries of the flattened table ``v`` (m q,), packed like beta."""
        return self._pack(v.reshape(self.X.shape[1], self.q))

    def _zero_pinned(self, T) -> None:
        """Zero the pinned entries of the (m, q) table ``T`` in place."""
        for c, _, _, _, rest in self._segment_selectors():
            T[rest, c] = 0.0

    def _table_curve(self, theta, hessp):
        """:class:`CurvatureSystem`'s ``curve`` on theta's flattened table. A categorical
        family of three or more classes (this class's pass, float64) reads the quadratic form
        off ``U = X d`` and adds ``a C d`` into ``r`` from the (n, k) table ``a S``
        (:func:`dualmaxent._kernels.categorical_curve`, :func:`dualmaxent.design.add_xt`): the
        same two products with ``X``, no (m, k) table of ``C d``. Otherwise
        :meth:`_table_matvec`'s product."""
        X, w = self.X, self.w
        m, q = X.shape[1], self.q
        if not (self.family.multiclass and q > 2 and self.curvature_dtype == np.float64
                and type(self)._curvature_pieces is DualObjective._curvature_pieces):
            return _curve_of(self._table_matvec(hessp))
        lam = self.penalty.l2_lam
        runs = self._penalized_runs() if lam else []
        P = self._kept_point(theta)

        def curve(d):
            V = d.reshape(m, q)
            quad, S = _kernels.categorical_curve(X, w, P, V)
            for lo, hi in runs:  # d^T L d, L = lam on the penalised rows
                seg = V[lo:hi].reshape(-1)
                quad += lam * float(seg @ seg)

            def update(r, a):
                np.multiply(S, a, out=S)
                R = r.reshape(m, q)
                design.add_xt(X, S, R)
                for lo, hi in runs:  # + a lam d on the penalised rows
                    seg = R[lo:hi].reshape(-1)
                    done = daxpy(V[lo:hi].reshape(-1), seg, a=a * lam)
                    if done is not seg:  # (BLAS's wrapper copied: not expected for this view)
                        seg[:] = done
                self._zero_pinned(R)
                return r
            return quad, update
        return curve

    def _table_matvec(self, hessp):
        """:meth:`curvature_system`'s ``matvec`` on theta's flattened table: ``hessp`` of the
        table (the likelihood's part) plus ``lam v`` on the penalised rows (one BLAS axpy per
        run of rows, in place), the pinned entries zeroed; a new vector per call."""
        m, q = self.X.shape[1], self.q
        lam = self.penalty.l2_lam
        runs = self._penalized_runs() if lam else []

        def matvec(v):
            V = v.reshape(m, q)
            T = np.require(hessp(V), np.float64, ["C", "W"])
            for lo, hi in runs:  # (rows lo .. hi - 1: contiguous in C order)
                seg = T[lo:hi].reshape(-1)
                done = daxpy(V[lo:hi].reshape(-1), seg, a=lam)
                if done is not seg:  # (BLAS's wrapper copied: not expected for this view)
                    seg[:] = done
            self._zero_pinned(T)
            return T.reshape(-1)

        return matvec

    def _curvature_matvec(self, hessp):
        """:meth:`curvature_operator`'s ``matvec`` of ``hessp`` (the likelihood's part) plus
        the L2 penalty, into its one buffer."""
        m = self.X.shape[1]
        lam = self.penalty.l2_lam
        # One buffer serves every call, for the direction and for the result: the direction
        # is written into it as an (m, q) table in C order (scipy's sparse product reads that as
        # it is; the former theta-layout view, the transpose of the packed vector, was copied to
        # C order inside every product), and once the product ``T`` is formed the buffer is
        # free and takes ``T`` packed. At the peak of a call: the buffer, the (n, q) table
        # ``X V`` and ``T``; before, also the packed result and two (q m,) copies, each 0.39
        # times the sparse X's bytes on the k = 20 text problem.
        V = np.zeros((m, self.q))
        packed = V.reshape(-1)[:self.params.n_params]
        unpen = self._unpenalised_entries() if lam else None

        def matvec(v):
            if np.may_share_memory(v, V):  # the last result handed back
                v = np.array(v)
            self._unpack_into(v, V, zero_pinned=True)
            T = hessp(V)
            self._pack(T, out=packed)
            del T
            if lam:  # + lam v on the penalised entries: one BLAS axpy in place, the few
                # unpenalised entries (the intercept's) put back as they were; the loop over the
                # classes before made two (m,) temporaries per class (0.9 ms of each product on
                # the text k = 20 problem, against 0.3 ms)
                keep = packed[unpen]
                done = daxpy(v, packed, a=lam)
                if done is not packed:  # (BLAS's wrapper copied: not expected for this view)
                    packed[:] = done
                packed[unpen] = keep
            return packed

        return matvec

    def _curvature_psolve(self, A, beta):
        """:meth:`curvature_operator`'s ``psolve`` at ``beta`` (``A`` from
        :meth:`_curvature_pieces` there)."""
        m = self.X.shape[1]
        lam = self.penalty.l2_lam
        self._psolve_exact = False  # (True below where M is the Kronecker form itself)
        if design.is_sparse(self.X) and m > SPARSE_DENSE_PRECONDITIONER_MAX:
            table = self._wide_psolve(beta)  # (on theta's table: packed on the way)
            return lambda r: self._packed_of(table(self._table_of(r)))
        pen = self.params.penalized
        pdiag = pen * lam
        idx = self._free_flat
        if self._gram is None:
            self._gram = self._gram_matrix()  # X^T W X, once per objective

        psolve = self._kronecker_psolve(A)
        if psolve is not None:
            self._psolve_exact = True
            return psolve
        M = np.kron(A, self._gram)[np.ix_(idx, idx)]
        M[np.diag_indices_from(M)] += pdiag + 1e-12 * max(float(np.abs(M).max()), 1.0)
        try:
            cf = scipy.linalg.cho_factor(M, lower=True, check_finite=False)
            self._psolve_exact = True

            def psolve(r):
                return scipy.linalg.cho_solve(cf, r, check_finite=False)
        except np.linalg.LinAlgError:  # rank-deficient X: fall back to Jacobi
            dg = np.maximum(np.diag(M), 1e-300)

            def psolve(r):
                return r / dg
        return psolve

    def _wide_psolve(self, beta):
        """A wide sparse design's ``psolve`` at ``beta`` on theta's flattened table (pinned
        entries zero in and out; a new vector): Jacobi, the identity, or with many classes the
        coarse space (:meth:`_diagonal_preconditioner`, :meth:`_coarse_preconditioner`)."""
        psolve = self._diagonal_preconditioner(beta)
        # (the in-memory passes only: the coarse space reads X and the last pass's P)
        if (self._plain_cg and self.family.multiclass
                and len(self._hess_classes) >= SPARSE_COARSE_MIN_CLASSES
                and type(self)._curvature_pieces is DualObjective._curvature_pieces):
            psolve = self._coarse_preconditioner()
        return psolve

    def _kronecker_psolve(self, A):
        """``psolve`` of the Kronecker preconditioner ``M = A (x) G + I (x) L`` on the free
        entries, through two small eigendecompositions; None where they do not apply.

        ``G = X^T W X`` and ``L = lam diag(penalised rows)`` (m, m); ``A`` (q, q) the weighted
        mean class covariance on the free classes (:meth:`_curvature_pieces`). With
        ``L V = G V diag(mu)``, ``V^T G V = I`` (:meth:`_gram_penalty_eig`, once per objective)
        and ``A = U diag(a) U^T`` (this step),

            ``M = (U (x) V^-T) (diag(a) (x) I + I (x) diag(mu)) (U (x) V^-T)^T``,

        so in matrix form, ``R`` of shape (m, q), ``M^+ R = V [(V^T R U) / (mu_i + a_c)] U^T``:
        O(m^2 q + m q^2) per application and O(q^3) per step, where the dense Cholesky of ``M``
        cost O(m^3 q^3) per step (n = 100, k = 10, m = 50 with L2: 4.2 ms of each Newton step,
        most of the fit).

        Pinned entries (the last class's unpenalised rows ``J`` when some row is penalised,
        :class:`~dualmaxent.params.Parameterization`): ``M`` on all of ``q m`` entries is then
        singular, with null space ``{1 (x) v : v supported on J}`` (``A 1 = 0``, ``L v = 0``),
        and ``M_free^-1 r`` is found by bordering: ``r`` extended by ``c_j = -sum_a r_ja`` on the
        pinned entries lies in the range of ``M``; ``y`` solves ``M y = (r, c)`` (the null pairs'
        denominators, zero but for rounding, are floored: ``(r, c)`` has no component there but
        rounding, so ``y`` gains a bounded null component); and ``z = y - 1 (x) y_J,last`` is
        zero on the pinned entries with ``M z = M y`` (the null component removed with it), so
        its free part solves ``M_free z = r``.
        """
        m, q = self.X.shape[1], len(self._hess_classes)
        pinned = self.params.n_params < q * m
        J = np.flatnonzero(~self.penalized_rows) if pinned else None
        if pinned and not (self.family.multiclass and self.params.free_prefix
                           and self.params.n_params == q * m - J.size):
            return None
        eig = self._gram_penalty_eig()
        if eig is None:
            return None
        V, mu, VT = eig
        fc = self._hess_classes
        a, U = np.linalg.eigh(A[np.ix_(fc, fc)])
        # a singular A (a class of vanishing probability) meets an unpenalised row (mu = 0):
        # floored as the dense path regularised (any symmetric positive definite M serves)
        a = np.maximum(a, 0.0)
        floor = 1e-12 * max(float(a.max()) + float(mu.max()), 1e-300)
        # in the class-major layout of the packing, (q, m): the transposes of the formula's
        # factors, made once per step, and the pinned rows as a slice when they are one run
        # (the intercept's): measured at m = 51, q = 10, 12 us an application against 17 us
        # for the (m, q) layout with index arrays (one BLAS thread, this 2-core machine)
        inv_T = 1.0 / np.maximum(a[:, None] + mu[None, :], floor)
        U_T = np.ascontiguousarray(U.T)
        if pinned and J[-1] - J[0] + 1 == J.size:
            J = slice(int(J[0]), int(J[-1]) + 1)
        n_params = self.params.n_params

        def psolve(r):
            Rq = np.zeros((q, m))  # R^T: the packing is class-major
            Rq.reshape(-1)[:n_params] = r
            if pinned:
                Rq[-1, J] = -Rq[:, J].sum(axis=0)
            Y = (U @ (((U_T @ Rq) @ V) * inv_T)) @ VT  # Y^T = U [(U^T R^T V) / (a + mu)] V^T
            if pinned:
                Y[:, J] -= Y[-1, J]
            return Y.reshape(-1)[:n_params]  # (a view of Y, which nothing else holds)
        return psolve

    def _gram_penalty_eig(self):
        """``(V, mu, V^T)``: ``L V = G V diag(mu)`` with ``V^T G V = I``, ``mu`` ascending (``G =
        X^T W X`` plus ``1e-12 max |G|`` on its diagonal, ``L = lam diag(penalised rows)``),
        and ``V``'s transpose in C order; once per objective; None when ``G`` is numerically
        singular (the dense path then)."""
        if self._gram_eig is None:
            if self._gram is None:
                self._gram = self._gram_matrix()  # X^T W X, once per objective
            G = np.array(self._gram, dtype=np.float64)
            G[np.diag_indices_from(G)] += 1e-12 * max(float(np.abs(G).max()), 1.0)
            lam = self.penalty.l2_lam * self.penalized_rows.astype(np.float64)
            try:
                if lam.any():
                    mu, V = scipy.linalg.eigh(np.diag(lam), G, check_finite=False)
                else:  # L = 0: mu = 0, and V = C^-T of G = C C^T (the generalised problem's
                    # own first step): 59 us against 133 at m = 51
                    C = scipy.linalg.cholesky(G, lower=True, check_finite=False)
                    V = scipy.linalg.solve_triangular(C, np.eye(G.shape[0]), lower=True,
                                                      check_finite=False).T
                    mu = np.zeros(G.shape[0])
                self._gram_eig = ((V, mu, np.ascontiguousarray(V.T))
                                  if np.all(np.isfinite(V)) else False)
            except np.linalg.LinAlgError:
                self._gram_eig = False
        return self._gram_eig or None

    def _key(self, theta):
        """The cache key of a pass at ``theta`` (:func:`point_key`: a copy of a small theta)."""
        return point_key(theta, self._key_bytes)

    def _kept_point(self, theta) -> np.ndarray:
        """``P`` (categorical) or ``eta`` at ``theta``, as the last pass over ``X`` kept it (that
        pass made now when the last one was elsewhere)."""
        if self._point is None or self._point[0] != self._key(theta):
            self._loglik(theta)
        return self._point[1]

    def _curvature_diagonal(self, theta) -> np.ndarray:
        """``sum_j w_j v_jc x_ji^2`` of shape (m, q), theta's layout: the data's part of the
        diagonal of ``-H`` at ``theta`` (``v = p (1 - p)`` or ``A''``), from the point the last
        pass kept (:meth:`_curvature_pieces` made it at theta); one product with the squared
        entries of ``X``. An engine computes it in a pass of its own."""
        point = self._kept_point(theta)
        del theta  # (not alive through the product: an (m, q) table)
        return curvature_diagonal(self.X, self.w, self.family, point)

    def _diagonal_preconditioner(self, beta):
        """``psolve`` at ``beta`` for a wide sparse design, whose ``X^T W X`` is too large to
        form, on theta's flattened table (:meth:`curvature_system`).

        Jacobi, division by the exact diagonal of ``-H`` plus the L2 penalty's,
        ``sum_j w_j v_jc x_ji^2 + lam`` (``v = p (1 - p)`` or ``A''``, at the point of the last
        pass: one product with the squared entries of ``X``, made per call and not kept), when
        the data's part exceeds ``lam`` on at least half the free entries
        (:data:`SPARSE_JACOBI_MEDIAN_RATIO`, where the measurements are); otherwise the identity
        (plain CG). Either is symmetric positive definite. The choice is made once per
        objective, at the first Newton step (then the identity costs nothing: measured at text
        n = m = 10^5, k = 2, the diagonal's product took 0.17 s of a 1.4 s solve).
        """
        if self._plain_cg:
            return _Identity()
        # (m, q), theta's layout, C-ordered: the psolve works on that table (curvature_system)
        d = np.require(self._curvature_diagonal(self.theta(beta)), np.float64, ["C", "W"])
        lam = self.penalty.l2_lam
        if self._plain_cg is None:
            data = self._pack(d)  # the free entries' median (partitioned in place: no copy)
            self._plain_cg = bool(lam and data.size and np.median(
                data, overwrite_input=True) <= SPARSE_JACOBI_MEDIAN_RATIO * lam)
            del data
            if self._plain_cg:
                return _Identity()
        # d + lam on the penalised rows, in place (no (p,) temporaries)
        for lo, hi in (self._penalized_runs() if lam else []):
            d[lo:hi] += lam
        d[~(d > 0)] = 1.0  # an empty column, or a pinned entry: no scaling
        return _Jacobi(d.reshape(-1))

    def _coarse_basis_at_point(self) -> np.ndarray:
        """``B`` (m, r), float32: orthonormal (to float32's rounding), the top
        :data:`SPARSE_COARSE_RANK` eigenvectors of ``X^T D X``, ``D = diag(w_j sum_a p_ja (1 -
        p_ja))`` at the point of the last pass, by randomized subspace iteration (seeded: the
        same basis in every run).

        Memory: the iteration holds one (m, r + oversample) block at a time besides the (n, r +
        oversample) product (each block orthonormalised in place by Cholesky QR, twice: its
        condition, ``lambda_1 / lambda_(r + oversample)``, about 1e3 here, squares to 1e6, far
        from float64's limit), where ``numpy.linalg.qr`` held three; kept in float32 the basis
        is 0.4 coefficient vectors at q = 20 (measured on the memory test of
        ``tests/test_sparse.py``, k = 12: the solve's peak 10.7 vectors, 13.3 with
        ``numpy.linalg.qr`` and a float64 basis, 10.0 without the coarse space; 10.1 once
        Newton-CG's gradient became CG's residual, :class:`dualmaxent.solvers._NewtonCGStep`).
        """
        X = self.X
        m = X.shape[1]
        P = self._point[1]
        d = self.w * np.einsum("ij,ij->i", P, 1.0 - P)
        rank = min(SPARSE_COARSE_RANK, m)
        width = min(rank + SPARSE_COARSE_OVERSAMPLE, m)
        Q = np.random.default_rng(0).standard_normal((m, width))
        for _ in range(SPARSE_COARSE_POWER + 1):
            Z = X @ Q
            del Q
            Z *= d[:, None]
            Q = np.asarray(X.T @ Z)
            del Z
            for _ in range(2):
                _orthonormalise(Q)
        # Rayleigh-Ritz on the subspace: the top eigenvectors of Q^T X^T D X Q
        Z = X @ Q
        Z *= np.sqrt(d)[:, None]  # (d >= 0; in place: no second (n, r) table for D Z)
        S = Z.T @ Z
        del Z
        vecs = np.linalg.eigh(S)[1][:, ::-1][:, :rank]
        return (Q @ vecs).astype(np.float32)

    def _coarse_preconditioner(self):
        """``psolve`` of the two-level preconditioner of a wide sparse, penalty-dominated design
        with many classes (:data:`SPARSE_COARSE_RANK`, where the measurements are).

        With ``U`` the free entries' restriction of ``B (x) I_q`` (class by class, ``B`` from
        :meth:`_coarse_basis_at_point`, built at the first step and kept), ``E = U^T (-H) U``
        its Galerkin matrix at this point and ``Pi`` the orthogonal projector on ``U``'s span,

            ``M^-1 = (I - Pi) / lam + U E^-1 U^T = I / lam + U (E^-1 - G^-1 / lam) U^T``,

        ``G = U^T U`` (block diagonal: ``I`` for a class with every row free, ``B^T B`` over its
        free rows for the pinned class): symmetric positive definite, the penalty's scale off
        the coarse space and the exact inverse on it. ``E`` costs one product of ``X`` with
        ``B`` (two when a class has pinned rows) and ``n (q r)^2 / step`` flops per step (its
        rank-one terms summed over a row sample, :data:`SPARSE_COARSE_ROW_STEP`); an
        application two products of theta's flattened table (:meth:`curvature_system`'s
        layout) with ``B`` (returning a new vector).

        Measured (products and passes over ``X`` to 1e-10 / 1e-8, with the CG floor and the
        secant step of :mod:`dualmaxent.solvers`): full text k = 20, 62 and 12 / 52 and 12
        against plain CG's 179 and 10 / 153 and 9; quick, 48 and 13 / 42 and 12 against 150 and
        11 / 121 and 10. Tried and dropped: ``E`` from the first step kept throughout (quick:
        172 products; the probabilities move too much), rebuilt every second step (53 against
        48, no faster); rank 8 (101 products at full size) and 12 (74, with the cap 0.3).
        """
        if self._coarse_basis is None:
            self._coarse_basis = self._coarse_basis_at_point()
        B = self._coarse_basis  # float32
        X, w, P = self.X, self.w, self._point[1]
        m, r = B.shape
        classes = self._hess_classes
        q = len(classes)
        lam = self.penalty.l2_lam
        c = 1.0 / lam
        # the classes' masks: every row free (None) or the free rows (the pinned class)
        rows_of = {cl: rows for cl, _, _, rows in self._segments}
        Z = X @ B  # (n, r)
        Zs = {}
        ginv = {}
        for cl in classes:
            rows = rows_of[cl]
            if rows is None:
                Zs[cl] = Z
                continue
            Bc = B * rows[:, None]
            # X Bc = X B - X_J B_J, ``J`` the class's pinned rows: ``X_J`` (n, |J|) taken from
            # X once per objective (the intercept's column, typically), where X Bc took a
            # second product of X with r columns per step (5 ms of the text k = 20 step's 40);
            # formed for the rows read (:func:`_rows_of`), not as a second (n, r) table (1.6
            # coefficient vectors on the memory test of tests/test_sparse_memory.py, n = 6000,
            # the solve's peak there)
            J = np.flatnonzero(~rows)
            if J.size <= r:
                XJ = self._pinned_columns.get(cl)
                if XJ is None:
                    XJ = self._pinned_columns[cl] = X[:, J].toarray()
                Zs[cl] = (Z, XJ, B[J].astype(np.float64))
            else:
                Zs[cl] = X @ Bc
            Gc = (B.T @ Bc).astype(np.float64)
            Gc[np.diag_indices_from(Gc)] += 1e-6  # float32's rounding of B^T B
            Gi = np.linalg.inv(Gc)
            ginv[cl] = 0.5 * (Gi + Gi.T)  # exactly symmetric: so is the preconditioner
            del Bc
        # E = sum_j w_j (diag(p_j) - p_j p_j^T) (x) z_j z_j^T on the free classes, plus lam
        # B^T diag(penalised free rows) B on the diagonal blocks
        # the rank-(n) part in float32: a preconditioner needs no more (any symmetric positive
        # definite E gives a valid one), and at full size it halves the step's largest cost
        # (n = 2e4, q r = 320: 24 ms against 48 ms, a curvature-vector product taking 20 ms)
        n = X.shape[0]
        E = np.zeros((q * r, q * r))
        # rows sqrt(w_j) p_ja z_j for every class in one broadcast (written as float32), the
        # pinned classes' blocks then overwritten with their own z; a row chunk at a time
        # (COARSE_CHUNKS): the whole (n, q r) table was 2.1 times the sparse X's bytes on the
        # text k = 20 problem, the peak of the fit (7.2 x X against 6.0 without the coarse space)
        step = SPARSE_COARSE_ROW_STEP  # every step-th row, its weight times step
        sw = np.sqrt(w * step)
        size = -(-n // COARSE_CHUNKS)
        size += (-size) % step  # (chunks start on the sample's rows)
        for lo in range(0, n, size):
            sl = slice(lo, min(lo + size, n), step)
            Gm = np.empty((len(range(*sl.indices(n))), q, r), dtype=np.float32)
            np.multiply((sw[sl, None] * P[sl][:, classes])[:, :, None], Z[sl, None, :],
                        out=Gm, casting="same_kind")
            for i, cl in enumerate(classes):
                if rows_of[cl] is not None:
                    np.multiply(_rows_of(Zs[cl], sl), (sw[sl] * P[sl, cl])[:, None],
                                out=Gm[:, i, :], casting="same_kind")
            Gm = Gm.reshape(-1, q * r)
            # (tried: ssyrk's upper triangle, half the flops; OpenBLAS's ssyrk was no faster
            # than this sgemm at (2e4, 320), 26.5 ms against 24.1, one thread)
            E -= Gm.T @ Gm
            del Gm
        pen_rows = self.penalized_rows
        full_pen = None  # B^T diag(penalised rows) B, the same for every class with all rows free
        for i, cl in enumerate(classes):
            rows = rows_of[cl]
            Zt = _rows_of(Zs[cl], slice(None, None, step))
            # sum_j w_j p_ja z_j z_j^T over the sample
            blk = Zt.T @ ((step * w[::step] * P[::step, cl])[:, None] * Zt)
            del Zt
            if rows is None:
                if full_pen is None:
                    full_pen = lam * (B.T @ (B * pen_rows[:, None])).astype(np.float64)
                blk += full_pen
            else:
                blk += lam * (B.T @ (B * (pen_rows & rows)[:, None])).astype(np.float64)
            E[i * r:(i + 1) * r, i * r:(i + 1) * r] += blk
        del Zs, Z
        # E = (E + E^T) / 2 in place, a strip of r rows at a time (the same sums; the whole
        # expression made two more (q r)^2 tables, 1.7 coefficient vectors each on the
        # memory test of tests/test_sparse_memory.py, where m is small)
        for lo in range(0, q * r, r):
            hi = lo + r
            D = E[lo:hi, lo:hi]
            D[...] = 0.5 * (D + D.T)
            S = 0.5 * (E[lo:hi, hi:] + E[hi:, lo:hi].T)
            E[lo:hi, hi:] = S
            E[hi:, lo:hi] = S.T
            del D, S
        E[np.diag_indices_from(E)] += 1e-12 * max(float(E.max()), -float(E.min()), 1.0)
        # factored in place: (q r)^2 floats, kept once (1.2 coefficient vectors on the memory
        # test of tests/test_sparse.py, where m is small; 0.17 on the text k = 20 problem)
        try:
            cf = scipy.linalg.cho_factor(E, lower=True, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:  # not positive definite in its rounding: plain CG
            return _Identity()
        del E
        # psolve works on theta's flattened table (:meth:`curvature_system`): ``U^T res`` is
        # ``B^T`` times the table's free classes (the pinned entries are zero), ``U W`` is ``B
        # W`` with the pinned entries zeroed. Before, on the packed layout, the leading whole
        # classes were a (whole, m) view of the vector and the pinned class went through an
        # (m, few) table (2.5 ms per application on text k = 20 of ``bench --sparse``, one
        # BLAS thread); what is left is the two products with B (2 x 19 MFlop).
        # the float32 basis a row chunk at a time in float64 (no (m, r) float64 copy of it;
        # tried: the whole basis in float64, one product each way, 2.41 ms an application
        # against 2.5, and the solve's peak on the many-classes memory test of
        # tests/test_sparse.py 12.3 coefficient vectors against its budget of 11)
        width = self.q
        size = -(-m // COARSE_CHUNKS)
        chunks = [slice(i, min(i + size, m)) for i in range(0, m, size)]
        cols = slice(0, q) if classes == list(range(q)) else classes
        # the free classes' pinned rows (a class with none free stays zero: c res is)
        pinned = [(cl, rest) for (cl, _, _, _, rest), (_, _, _, rows) in zip(
            self._segment_selectors(), self._segments) if rows is not None and cl in classes]

        def coarse(res):  # (U^T res, W): the correction is U W
            R = res.reshape(m, width)
            C = np.zeros((r, q))
            for sl in chunks:
                C += B[sl].astype(np.float64).T @ R[sl, cols]
            W = scipy.linalg.cho_solve(cf, C.T.ravel(), check_finite=False).reshape(q, r).T
            for i, cl in enumerate(classes):
                W[:, i] -= c * (ginv[cl] @ C[:, i] if cl in ginv else C[:, i])
            return C, W

        def add(T, W):  # T += U W: B W on the free classes, their pinned rows left alone
            for sl in chunks:
                T[sl, cols] += B[sl].astype(np.float64) @ W
            for cl, rest in pinned:
                T[rest, cl] = 0.0
        return _TwoLevel(c, width, coarse, add)

    def _curvature_design(self):
        """``X`` as the curvature-vector products read it: a float32 copy of a dense ``X``
        (made once, :data:`CURVATURE_COPY_MAX_BYTES`) when they run in float32, else ``X``."""
        if self.curvature_dtype == np.float64 or design.is_sparse(self.X):
            return self.X
        if self._x_curvature is None:
            if self.X.nbytes // 2 > CURVATURE_COPY_MAX_BYTES:
                return self.X
            self._x_curvature = design.astype(self.X, self.curvature_dtype)
        return self._x_curvature

    def _gram_matrix(self) -> np.ndarray:
        """``X^T W X`` (m, m), for the preconditioner: the rank pass's, when it formed it on
        every row of this data set and kept it (:attr:`dualmaxent.identifiability.
        Identifiability.gram`: an unpenalised fit with no row sample in the rank screen, and
        not many columns for its rows), else formed here. Any symmetric positive definite
        matrix makes a valid preconditioner (it changes CG's iterations, not the step's
        accuracy), and that one was proved positive definite with room to spare (its smallest
        equilibrated eigenvalue above ``GRAM_CLEAR_FLOAT32`` of the largest, far above its
        float32 rounding). Measured (one BLAS thread, this 2-core machine): the float64 Gram
        at n = 1000, m = 51 took 0.17 ms."""
        # computed already, never here (an engine's data set may have no __dict__)
        ident = getattr(self.dataset, "__dict__", {}).get("identifiability")
        # (the same rows and weights: a reduced objective zeroes the forced rows' weights)
        if (ident is not None and ident.gram is not None and self.X is self.dataset.X
                and self.w is self.dataset.weights):
            return ident.gram
        if self._x_curvature is not None:
            # the products' float32 copy of X (:meth:`_curvature_design`), made already: the
            # Gram in float32 from it, ``ssyrk`` on half the bytes. Its error, at most the
            # products' own relative error times |X|^T W |X| (:func:`dualmaxent._kernels.
            # gram_error_bound`), is what the float32 curvature was allowed for: within a
            # tenth of the equilibrated Gram's smallest eigenvalue
            # (:func:`dualmaxent.solvers._curvature_precision`), so it stays positive
            # definite; where it does not factor, the preconditioner falls back as for a
            # singular X. Measured (one BLAS thread, this 2-core machine): the Gram at
            # n = 10^5, 51 columns 11.1 -> 8.7 ms; ``MaxEntClassifier(tol=1e-4).fit`` (best of
            # 6 interleaved) three classes, 50 features, C = 1 184.6 -> 180.7 ms, unpenalised
            # 188.3 -> 182.9, ten classes 323 -> 315, the same iterations and products
            return _kernels.gram(self._x_curvature, self.w, dtype=np.float32)
        return _kernels.gram(self.X, self.w)

    def _curvature_pieces(self, theta):
        """``(A, hessp)`` at theta: ``A`` (q, q) the weighted mean of ``diag(p_j) - p_j p_j^T``
        (of ``A''(eta_j)`` for a one-parameter family), and ``hessp(V)`` the curvature-vector
        product ``-H V`` of the unpenalised likelihood, ``V`` and the result (m, q) tables.
        From the mean kept by the last pass at theta (two products with X per call)."""
        saved = self._kept_point(theta)  # P (categorical) or eta at theta
        wsum = float(self.w.sum())
        if self.family.multiclass:
            P = saved
            # the preconditioner's A from every step-th row (PRECONDITIONER_ROWS): any
            # symmetric positive definite A makes a valid preconditioner
            step = max(1, len(self.w) // PRECONDITIONER_ROWS)
            Ps, ws = P[::step], self.w[::step]
            if not ws.sum() > 0:  # every sampled row of weight zero: the whole mean
                Ps, ws = P, self.w
            A = (np.diag(ws @ Ps) - (Ps * ws[:, None]).T @ Ps) / float(ws.sum())
            if P.shape[1] == 2 and design.is_sparse(self.X):
                # two classes: u_1 - (p_1 u_1 + p_2 u_2) = p_2 (u_1 - u_2) as 1 - p_1 = p_2, so
                # (-H V)_1 = X^T [w p_1 p_2 (u_1 - u_2)] = -(-H V)_2 with u_1 - u_2 = X (v_1 -
                # v_2): one product of width one each way instead of two of width two
                d = self.w * P[:, 0] * P[:, 1]

                def hessp(V):
                    t = _kernels.glm_hessp(self.X, d, V[:, 0] - V[:, 1])
                    return np.column_stack([t, -t])
                return A, hessp
            dtype = self.curvature_dtype
            X = self._curvature_design()
            if dtype != np.float64:  # converted once per point, not in every product
                P = P.astype(dtype)
            return A, lambda V: _kernels.categorical_hessp(X, self.w, P, V, dtype=dtype)
        d = self.w * self.family.variance(saved)
        return (np.array([[float(d.sum()) / wsum]]),
                lambda V: _kernels.glm_hessp(self.X, d, V[:, 0])[:, None])

    def slack_met(self, grad, value: float) -> bool:
        """Whether an L2 fit's penalised gradient ``g_R`` (``grad``'s penalised entries: ``X_R^T
        W (Y - mu) - lam2 theta_R``, the relaxed primal's slack mismatch at ``mu(theta)``)
        charges at most ``slack_tol max(1, |value|)``: ``||g_R||^2 / (2 lam2)``, the gap the
        checker's cheapest bracket leaves on those rows (:func:`dualmaxent.certify.
        _slack_excess`). True without a ``slack_tol``, or for a penalty with an L1 part."""
        if self.slack_tol is None or not self.penalty.l2_lam > 0 or self.penalty.l1_lam:
            return True
        g = np.asarray(grad)[self.params.penalized]
        charge = float(np.dot(g, g)) / (2.0 * self.penalty.l2_lam)
        return charge <= self.slack_tol * max(1.0, abs(float(value)))

    def kkt_residual(self, beta, grad=None) -> float:
        """Relative KKT residual of the dual at ``beta`` (see the module docstring)."""
        if grad is None:
            _, grad = self.smooth_value_grad(beta)
        if not self.penalty.has_l1:
            # max |g| as max(max g, -min g): the same number (NaN too), where the copy of the
            # gradient and its absolute values were two (n_params,) temporaries (each 0.39 times
            # the sparse X's bytes on text k = 20 of bench --sparse), made in the line search
            # with the start, the direction, the trial point and its gradient alive
            g = np.asarray(grad)
            # (abs: a gradient of zeros only, some -0.0, gives 0.0 as before)
            return abs(float(np.maximum(g.max(), -g.min()))) / self.scale if g.size else 0.0
        g = np.array(grad)  # the minimal-norm subgradient of the L1 part
        pen = self.params.penalized
        lam = self.penalty.l1_lam
        b = np.asarray(beta)
        gp = g[pen]
        bp = b[pen]
        g[pen] = np.where(bp != 0, gp - lam * np.sign(bp), np.maximum(np.abs(gp) - lam, 0.0))
        return float(np.abs(g).max() / self.scale) if g.size else 0.0

    def start(self) -> np.ndarray:
        """A starting point: zeros, with the intercept at the marginal (weighted) fit.

        The intercept is the link of the weighted mean response, ``g(sum_j w_j Y_j / sum w)``,
        moved inside the mean's domain (a class or count that never occurs would give
        ``-inf``); :meth:`beta` pins the categorical gauge.
        """
        theta = np.zeros(self.free.shape) if self.family.multiclass else np.zeros(self.free.shape[0])
        if self.dataset.intercept:
            mean_response = (self.w @ self.Y) / self.w.sum()
            theta[-1] = self.family.link(self.family.clip_mean(mean_response))
        return self.beta(theta)


class _InBasis:
    """Coordinates ``beta`` in an orthonormal basis ``self.basis`` of the free entries' space.

    ``theta = unpack(basis beta)`` and ``beta = basis^T pack(theta)`` (an orthogonal projection,
    so :meth:`theta` is the minimum-norm representative), for the objectives whose likelihood
    ignores some directions of theta. Their gradient lies in the span of the basis, so
    ``basis g`` recovers it exactly for the stopping rule; their Hessian is small and dense.
    """

    basis: np.ndarray

    def subsample(self, step):
        return None  # the basis belongs to the full data; a subsample may lose directions

    def theta(self, beta):
        return super().theta(self.basis @ np.asarray(beta, dtype=np.float64))

    def beta(self, theta):
        return self.basis.T @ super().beta(theta)

    def curvature_operator(self, beta):
        C = -self.hessian(beta)  # dense in the coordinates (these problems are small)
        cf = scipy.linalg.cho_factor(
            C + 1e-14 * np.eye(len(C)) * max(np.abs(C).max(initial=0), 1.0), lower=True)
        return (lambda v: C @ v), (lambda r: scipy.linalg.cho_solve(cf, r))

    def kkt_residual(self, beta, grad=None) -> float:
        if grad is None:
            grad = self.smooth_value_grad(beta)[1]
        g = self.basis @ np.asarray(grad)
        return float(np.abs(g).max() / self.scale) if g.size else 0.0


class IdentifiedObjective(_InBasis, DualObjective):
    """The likelihood of a rank-deficient design, in coordinates on the row space of ``X``.

    When the columns of ``X`` are dependent (:mod:`dualmaxent.identifiability`), ``l`` is
    constant along the null space ``N`` of ``X`` in every class column, its Hessian is singular,
    and the maximisers form the affine set ``theta* + N``. The free parameters are then
    coordinates in ``K = I (x) B``, one copy of the orthonormal row-space basis ``B`` (m, r) per
    free class: ``theta = unpack(K beta)`` and ``beta = K^T pack(theta)``, an orthogonal
    projection, so :meth:`theta` is the minimum-norm maximiser and ``l`` is strictly concave in
    ``beta``. The gradient in theta lies in the range of ``K`` (it is ``X^T`` of something), so
    ``K g`` recovers it exactly for the stopping rule. Unpenalised only: a penalty identifies
    theta by itself.
    """

    def __init__(self, dataset: Dataset, penalty: Penalty | None = None):
        super().__init__(dataset, penalty)
        B = dataset.identifiability.basis
        n_classes = len(self.params.free_classes)
        #: (p_full, r * n_classes): the free entries in terms of the row-space coordinates
        self.basis = np.kron(np.eye(n_classes), B)
        self.n_params = self.basis.shape[1]

    def smooth_value_grad(self, beta, hessian: bool = False):
        value, grad = super().smooth_value_grad(beta, hessian)
        return value, self.basis.T @ grad

    def hessian(self, beta) -> np.ndarray:
        return self.basis.T @ super().hessian(beta) @ self.basis


class ReducedObjective(_InBasis, DualObjective):
    """The log-likelihood of separated data with its forced entries excluded: ``l_red``.

    :func:`make_objective` returns this class when the forced mask has a True entry.
    With ``F`` the forced entries (:mod:`dualmaxent.separation`),

        l_red(theta) = sum_j w_j [ eta_{j y_j} - log sum_{i: (j, i) not in F} exp(eta_ji) ]

    for the categorical family: ``eta_ji = -inf`` on ``F`` (the softmax runs over the free
    classes only, and ``0 * log 0`` is taken as 0, not as ``0 * (-inf) = nan``), and a row whose
    other classes are all forced contributes ``log 1 = 0``, so it is dropped. For the Bernoulli
    and Poisson families the forced observations contribute 0 (``mu_j = y_j``) and are dropped.
    ``l <= l_red`` everywhere and ``l(theta + t D) -> l_red(theta)`` along the LP's recession
    direction ``D``, so ``max l_red = sup l`` (the separation module's docstring).

    ``l_red`` is constant along the recession directions, so it has no unique maximiser in
    theta. The free parameters ``beta`` are therefore coordinates in an orthonormal basis ``Q``
    (:func:`dualmaxent.separation.identifiable_basis`) of the parameters ``l_red`` depends on,
    in the pivot gauge: ``theta = unpack(Q beta)`` and ``beta = Q^T pack(theta)``, an orthogonal
    projection, so that :meth:`theta` returns the minimum-norm maximiser and ``l_red`` is
    strictly concave in ``beta`` (Newton's Cholesky factorisation succeeds). The Hessian and
    gradient are formed with plain products on the kept rows (the data that are left are
    small), a sparse design's curvature by :func:`dualmaxent.design.weighted_gram` (its
    intercept may be the implicit ones of a :class:`~dualmaxent.design.OnesColumn`, which
    takes products but no entrywise scaling); the kept rows may be none (complete separation).
    """

    #: the gradient comes from the cache of :meth:`_reduced`, which keeps it
    fresh_gradient = False

    def __init__(self, dataset: Dataset, penalty: Penalty | None, forced):
        from .separation import as_forced, identifiable_basis, kept_observations

        super().__init__(dataset, penalty)
        if self.penalty.active:
            raise DualMaxentError("forced entries belong to the unpenalised problem; a penalty "
                                  "keeps theta* finite, so nothing is forced")
        forced = as_forced(dataset, forced)
        if forced is None:
            raise DualMaxentError("ReducedObjective needs at least one forced entry")
        self.forced = forced
        self._start_sums = None  # (its likelihood drops the forced rows: no closed form)
        self.kept = kept_observations(dataset, forced)
        self.w = np.where(self.kept, dataset.weights, 0.0)
        self._XK = dataset.X[self.kept]
        self._YK = dataset.Y[self.kept]
        self._wK = dataset.weights[self.kept]
        self._maskK = forced[self.kept] if forced.ndim == 2 else None
        self.basis = identifiable_basis(dataset, forced, "pivot")
        self.n_params = self.basis.shape[1]
        self.XtWY = _kernels.data_sums(self._XK, self._YK, self._wK)
        self.scale = 1.0 + (float(np.abs(self.XtWY).max()) if self.XtWY.size else 0.0)

    def start(self):
        return super().start() if self.n_params else np.zeros(0)

    # -- the reduced likelihood -----------------------------------------------------------------
    def linear_predictor(self, theta) -> np.ndarray:
        """``X theta`` on every row, ``-inf`` on the forced entries (categorical)."""
        eta = self.X @ np.asarray(theta, dtype=np.float64)
        if self.forced.ndim == 2:
            eta = np.where(self.forced, -np.inf, eta)
        return eta

    def mean(self, theta) -> np.ndarray:
        """``mu(theta)`` of the reduced model on every row: ``Y`` wherever ``mu`` is forced."""
        if self.forced.ndim == 2:
            return nx.softmax(self.linear_predictor(theta))
        mu = self.family.mean(self.X @ np.asarray(theta, dtype=np.float64))
        return np.where(self.forced, self.Y, mu)

    def _reduced(self, beta, hessian=False):
        """``(l_red, gradient of l_red in beta, Hessian in beta or None)``, cached."""
        beta = np.asarray(beta, dtype=np.float64)
        key = beta.tobytes()
        if self._cache is not None and self._cache[0] == key and (
                self._cache[3] is not None or not hessian):
            return self._cache[1:]
        theta = self.theta(beta)
        X, Y, w = self._XK, self._YK, self._wK
        eta = X @ theta
        if self._maskK is not None:
            logP = nx.log_softmax(np.where(self._maskK, -np.inf, eta))
            P = nx.exp(logP)  # exactly 0 on the forced entries
            value = float(w @ (Y * np.where(self._maskK, 0.0, logP)).sum(axis=1))
            G = X.T @ (w[:, None] * (Y - P))
            g = G[:, :-1].T.ravel()  # pivot coordinates, class-major
        else:
            value = self.family.canonical_loglik(Y, eta, w)
            g = X.T @ (w * (Y - self.family.mean(eta)))
        H = None
        if hessian:
            if self._maskK is not None:
                C = _kernels.table_curvature(X, w, P, range(P.shape[1] - 1))
            else:
                # (a sparse design's own Gram: a OnesColumn's implicit ones cannot be scaled
                # entrywise, and a CSR's product would come back sparse; as table_curvature)
                d = w * self.family.variance(eta)
                C = design.weighted_gram(X, d) if design.is_sparse(X) else X.T @ (d[:, None] * X)
            H = -(self.basis.T @ C @ self.basis)
        out = (value, self.basis.T @ g, H)
        self._cache = (key, *out)
        return out

    def forget_gradient(self) -> None:
        """Nothing to drop: the cache holds the gradient in beta's few coordinates."""

    def reported_loglik(self, theta) -> tuple[float, float]:
        """``l_red``, the supremum of ``l``, and it plus the family's constant."""
        canonical = self.value(self.beta(theta))
        return canonical, canonical + self.family.loglik_constant(self.dataset.Y,
                                                                  self.dataset.weights)

    def eta(self, beta):
        return self.linear_predictor(self.theta(beta))

    def value(self, beta) -> float:
        return self._reduced(beta)[0]

    def smooth_value_grad(self, beta, hessian: bool = False):
        value, grad, _ = self._reduced(beta, hessian)
        return value, grad

    def full_gradient(self, theta) -> np.ndarray:
        """Gradient of ``l_red`` in every entry of theta: ``X^T W (Y - mu_red(theta))``."""
        R = (self.Y - self.mean(theta)).reshape(self.X.shape[0], -1) * self.w[:, None]
        return self.X.T @ R

    def hessian(self, beta) -> np.ndarray:
        return self._reduced(beta, hessian=True)[2]



