"""Identifiability: the rank of the weighted design, its null space, and the dependencies named.

When the columns of ``X`` are linearly dependent on the observations of positive weight (the
dummy-variable trap: every level of a categorical variable as an indicator, plus the intercept),
``eta = X theta`` does not change along the null space ``N`` of ``X``, so the likelihood and the
mean ``mu(theta)`` do not either: the maximisers form an affine set ``theta* + N``. dualmaxent then

* solves the dual on an orthonormal basis ``B`` (m, r) of the row space of ``X`` (the complement of
  ``N``), per class, so that the likelihood is strictly concave in the coordinates and Newton's
  Hessian is nonsingular;
* reports the *minimum-norm* maximiser, the one in the span of ``B``;
* compares thetas modulo ``N`` (their projections ``B B^T theta``);
* warns, naming each dependency in the user's column names (``g3 = intercept - g1 - g2``).

The rank is that of ``sqrt(W) X D``, with ``D`` scaling each column to unit weighted norm (so
that units do not decide it). The equilibrated Gram matrix ``D X^T W X D`` is formed first, in one
``dsyrk`` pass; when its smallest eigenvalue is clearly positive (above ``GRAM_CLEAR`` relative)
the design has full rank. Otherwise its eigenvalues, the squares of the singular values, cannot
tell an exact dependency (singular value 1e-16 relative) from ill-conditioning (a polynomial basis
of degree 10: 1e-6), and the singular values are computed from the R factor of a blocked QR of
``sqrt(W) X D`` (TSQR: a row block at a time, never a copy of ``X``), where a relative singular
value below ``RANK_RTOL`` counts as zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _kernels, design
from .exceptions import DataError

__all__ = ["Identifiability", "identify", "identify_gram", "screen", "RANK_RTOL"]

#: Relative singular value of ``sqrt(W) X D`` below which a direction is a dependency: exact
#: dependencies sit at round-off (1e-16), a degree-10 polynomial basis on [0, 1] at 1e-6.
RANK_RTOL = 1e-10

#: Relative singular value below which a direction is a dependency when only the Gram matrix is
#: at hand: its eigenvalues carry an error of about ``m eps`` relative, 1e-14, so their square
#: roots cannot resolve singular values much below 1e-7.
GRAM_RANK_RTOL = 1e-6

#: Relative eigenvalue of the equilibrated Gram matrix above which the design has full rank for
#: certain (its error is about ``m eps``, 1e-14), so the QR is skipped.
GRAM_CLEAR = 1e-8

#: The rank is first screened on a Gram matrix whose block products are float32 (0.10 s
#: against 0.15-0.30 s in float64 at n = 10^6, m = 51; its relative error there 1e-8, at most
#: about ``m`` times float32's epsilon, 6e-6). Its smallest equilibrated eigenvalue above this
#: proves full rank; otherwise the float64 Gram decides, as without the screen.
GRAM_CLEAR_FLOAT32 = 1e-3

#: An engine's condition estimate (:meth:`dualmaxent.engine.EngineObjective.design_condition`)
#: gathers about this many rows per column.
RANK_SAMPLE_ROWS_PER_COLUMN = 1000

#: A design of many rows is screened on every ``step``-th row first, ``step = n //
#: (RANK_SCREEN_ROWS_PER_COLUMN m)`` and at most RANK_SAMPLE_MAX_STEP (a strided view, nothing
#: copied): when those rows alone clearly have full rank, so has ``X``, since adding rows
#: only adds a positive semidefinite term to the Gram matrix (``G = G_sample + G_rest``, both
#: PSD, so ``lambda_min(G) >= lambda_min(G_sample) > 0``). Measured at n = 10^6, m = 51:
#: the screen 0.10-0.14 s on every row, 0.01 s on every 16th.
#:
#: The full-rank result's ``condition`` is then that of the sample's equilibrated Gram matrix:
#: an estimate, which :func:`dualmaxent.solvers._curvature_precision` compares with its
#: float32 bound at n >= 10^5 (where float32 pays only when the condition is below about 5).
#: A sample's extreme eigenvalues spread wider than the whole's (for rows drawn at random
#: ``E[G_sample]`` is proportional to ``G``, and the largest eigenvalue is convex, the smallest
#: concave), so the estimate errs high, towards float64, on average. 100 rows per column
#: (:data:`RANK_SAMPLE_ROWS_PER_COLUMN`, 1000, before) puts a sample in the screen from
#: n = 200 m on: measured on ``bench_sweep.make_data`` (standard normal features) at n = 10^5,
#: m = 51, one BLAS thread, this 2-core machine, the float32 screen on every row took 13.9 ms
#: and on every 16th 1.7 ms, its condition 1.17 against the whole's 1.04; with 2 % indicator
#: columns 1.00 times the whole's 2.63; at m = 11 every 16th row gave 1.05 and (correlated
#: features, condition 8.8) 1.02 times it; at n = 10^6, m = 51, 1.04 times (unchanged: the
#: step was 16 there already).
RANK_SCREEN_ROWS_PER_COLUMN = 100
RANK_SAMPLE_MAX_STEP = 16

#: Where the Gram matrix would not be kept for a preconditioner (``keep_gram=False``: a
#: curvature of one column, two classes or a one-parameter family, whose solvers never read
#: it), the screen takes its row sample from this many rows per column on (twice as many rows
#: as that): full rank of the sample proves full rank of ``X`` as above, and the sample costs
#: a fraction of the pass over every row. Measured on ``bench_sweep.make_data``, unpenalised
#: two classes, one BLAS thread, best of 15 interleaved (`MaxEntClassifier` fits): n = 10^4,
#: m = 51 10.98 -> 9.86 ms; n = 3000, m = 51 4.85 -> 4.56; n = 10^4, m = 301 104 -> 94. With
#: three classes the kept Gram preconditions Newton-CG, which would form it again in float64
#: (28.8 against 29.2 ms at n = 10^4, m = 51): there the rule above stands. The condition is
#: then estimated on fewer rows (errs higher); it is read for float32 choices only from
#: 10^5 rows (:func:`dualmaxent.solvers._curvature_precision`), where the step is
#: RANK_SAMPLE_MAX_STEP either way once ``m <= n / 1600``.
RANK_SCREEN_MIN_ROWS_PER_COLUMN = 8

#: The rank pass keeps the Gram matrix it formed on every row (:attr:`Identifiability.gram`,
#: for the Newton-CG preconditioner) while its ``m^2`` floats are at most this fraction of
#: ``X``'s ``n m`` (``m <= n / 8``): alive as long as the data set, it then adds at most an
#: eighth to the memory ``X`` holds.
GRAM_KEEP_MAX_FRACTION = 0.125

#: Coefficients of a named dependency smaller than this (relative to the largest) are omitted.
_COEF_RTOL = 1e-8

#: A named dependency is exact (:attr:`Identifiability.exact`) where every row of positive
#: weight satisfies it to within this many unit roundoffs of the size of its terms, beyond the
#: rounding of the residual's own sum (:func:`dependency_error`). Why a tolerance at all: a
#: column computed from others (``3 x1``, standardised indicators beside the intercept) holds
#: its relation only to the rounding of its entries, a few roundings each (one for ``3 x1``,
#: two for ``(g - mean) / sd``, more where a shift cancels against the terms' scale:
#: standardised indicators times 1e3 plus 5 left 33), while a column the QR calls dependent
#: at a relative singular value of 1e-10 (:data:`RANK_RTOL`) may differ from the combination
#: by a real signal at 1e-10 of its size, millions of roundings, which the likelihood's optimum
#: uses with coefficients of order 1e10: ``x2 = x1 + 1e-10 z`` had its optimum 51.6 nats below
#: the reduced problem's. Such a dependency is named, and the fit is made modulo it, but the
#: checker proves nothing of the problem the data pose (:func:`dualmaxent.certify.
#: _lost_directions`).
DEPENDENCY_ROUNDINGS = 64
_U = _kernels.unit_roundoff(np.float64)

#: :func:`dependency_error`'s least-squares refinements of each dependency's coefficients.
DEPENDENCY_REFINEMENTS = 2

#: :func:`dependency_error` forms the residuals of this many dependencies at a time ((n, d)
#: tables).
DEPENDENCY_CHUNK = 16

#: A sparse design's rank comes from its dense Gram matrix, up to this many columns (32 MiB);
#: wider, it is not computed, and an unpenalised fit is refused (a penalty needs no rank).
#: Measured on this 2-core machine, one BLAS thread: the eigendecomposition alone takes 0.16 s
#: at m = 1000, 1.2 s at 2000, 4.2 s at 3000 and 12.4 s at 4096 (the former limit), so that
#: beyond this the rank would cost more than the fit.
SPARSE_RANK_MAX_COLUMNS = 2048

#: A design, sparse or dense, with more columns than rows of positive weight, by more than
#: this, is refused unpenalised whatever its width (and a penalised fit's certificate does not
#: name its dependencies): at least this many dependencies are certain, and naming them (a
#: reduced echelon form, ``(m - n)^2 m`` flops, and one sentence each) took 32 s for 1001 of
#: them at n = 2000, m = 3000 (sparse); a dense 40 x 2000 design's L1 certificate took 137 s
#: in its rank. A few (scikit-learn's estimator checks: 27 weighted rows, 31 columns) cost
#: nothing and are named.
MAX_NULLITY = 256


@dataclass(frozen=True, eq=False)
class Identifiability:
    """The rank of the weighted design and the bases of its row and null spaces.

    Attributes
    ----------
    rank : int
        The rank of ``X`` on the observations of positive weight.
    m : int
        The number of columns of ``X``.
    basis : ndarray of shape (m, rank)
        Orthonormal basis ``B`` of the row space of ``X`` (what theta is identified on).
    null_space : ndarray of shape (m, m - rank)
        Orthonormal basis ``N`` of the null space (``X N = 0`` on positive-weight rows).
    condition : float
        The condition number of ``sqrt(W) X D`` on its row space (largest over smallest nonzero
        singular value); for a full-rank design of many rows, estimated on the rows of the
        screen (:data:`RANK_SCREEN_ROWS_PER_COLUMN`; it errs high on average).
    dependencies : tuple of str
        Each dependency in the columns' names, e.g. ``"g3 = intercept - g1 - g2"``.
    gram : ndarray of shape (m, m) or None
        The Gram matrix ``X^T W X`` of every row that proved full rank (its block products in
        float32, summed in float64; read-only), kept for the Newton-CG preconditioner
        (:meth:`dualmaxent.objective.DualObjective._gram_matrix`), which would otherwise form it
        again; None when the rank was decided otherwise (a row sample, float64, a sparse
        design) or the matrix is large against ``X`` (:data:`GRAM_KEEP_MAX_FRACTION`).
    dependency_error : float
        How far the rows of positive weight are from satisfying the named dependencies
        exactly: the largest residual of a row, beyond its own rounding, relative to the size
        of its terms (:func:`dependency_error`); 0 for full rank, NaN where no row was read
        (the rank of an engine's Gram matrix).
    worst_dependency : int
        The index in ``dependencies`` of the one with that residual (-1: none).
    """

    rank: int
    m: int
    basis: np.ndarray
    null_space: np.ndarray
    condition: float
    dependencies: tuple
    gram: np.ndarray | None = field(default=None, repr=False, compare=False)
    dependency_error: float = 0.0
    worst_dependency: int = -1

    @property
    def full_rank(self) -> bool:
        return self.rank == self.m

    @property
    def exact(self) -> bool:
        """Whether every named dependency holds to within the rounding of the data's entries
        (:data:`DEPENDENCY_ROUNDINGS`), so that dropping it changes no problem the data pose
        beyond that rounding: always for full rank."""
        return self.full_rank or bool(self.dependency_error <= DEPENDENCY_ROUNDINGS * _U)

    @property
    def near_note(self) -> str:
        """Words for a dependency the rows satisfy only nearly (not :attr:`exact`), to follow
        the dependencies' names; "" where they are exact."""
        if self.exact:
            return ""
        if not np.isfinite(self.dependency_error):
            return " (whether exactly is not known: the rows were not read)"
        name = self.dependencies[self.worst_dependency].split(" = ")[0]
        return (f" (only nearly: the rows satisfy the one for {name} to "
                f"{self.dependency_error:.1e} of its terms' size, not to the rounding of the "
                "entries)")

    def project(self, theta: np.ndarray) -> np.ndarray:
        """The minimum-norm representative ``B B^T theta`` of theta's class modulo ``N``."""
        theta = np.asarray(theta, dtype=np.float64)
        if self.full_rank:
            return theta.copy()
        return self.basis @ (self.basis.T @ theta)


#: Weights above this are divided by a power of two for the rank (:func:`identify`): the
#: float32 screen's Gram matrix overflows from about 1e38 over the squared entries.
WEIGHT_SCALE_MAX = 2.0 ** 32


def identify(X: np.ndarray, w: np.ndarray, names, keep_gram: bool = True) -> Identifiability:
    """Rank, row and null space of the weighted design (module docstring).

    Parameters
    ----------
    X : ndarray of shape (n, m)
    w : ndarray of shape (n,)
        Frequency weights; rows of weight zero do not count.
    names : sequence of str
        The ``m`` column names, for the dependencies.
    keep_gram : bool, default True
        Whether a Gram matrix formed on every row may be kept (:attr:`Identifiability.gram`,
        for Newton-CG's preconditioner); without, the screen's row sample is taken from
        :data:`RANK_SCREEN_MIN_ROWS_PER_COLUMN` rows per column on.

    Returns
    -------
    Identifiability
    """
    # one BLAS thread: the QR and SVDs here are of (m, m) matrices and row blocks in cache,
    # where OpenBLAS's threads cost more than they give (measured on two cores: a (1797, 65)
    # QR takes 2.5 ms on one thread, 20 ms on two, and 0.1 to 0.6 s when the cores are busy)
    with _kernels._one_blas_thread():
        return _identify(X, w, names, keep_gram)


def _identify(X, w, names, keep_gram: bool = True) -> Identifiability:
    n, m = X.shape
    if design.is_sparse(X):
        # the Gram matrix (m, m) from the stored entries, its eigenvalues deciding (the blocked
        # QR would densify X); for a wide design that matrix itself is too large
        if m > SPARSE_RANK_MAX_COLUMNS:
            raise DataError(f"the rank of a sparse design with {m} columns is not computed (its "
                            f"dense Gram matrix, {8 * m * m / 2**20:.0f} MiB, would take longer "
                            f"to decompose than the fit; the limit is {SPARSE_RANK_MAX_COLUMNS} "
                            "columns); fit it with a penalty (l2 or l1), which needs no rank")
    rows = int(np.count_nonzero(w > 0))
    if m - rows > MAX_NULLITY:
        raise DataError(f"the {'sparse' if design.is_sparse(X) else 'dense'} design has fewer "
                        f"rows of positive weight ({rows}) than columns ({m}), so its columns "
                        "are linearly dependent; fit it with a penalty (l2 or l1), which needs "
                        "no rank")
    top = float(w.max(initial=0.0))
    if top > WEIGHT_SCALE_MAX:
        # the rank, the null space and the condition do not change when every weight is
        # divided by one power of two (exactly), and the float32 screen's Gram matrix no longer
        # overflows (weights of 1e38 did: "Eigenvalues did not converge"); such a Gram matrix
        # is not the data set's, so it is not kept
        w = w * 2.0 ** -int(np.frexp(top)[1])
        keep_gram = False
    if design.is_sparse(X):
        return identify_gram(_kernels.gram(X, w), names, rows=(X, w))
    with np.errstate(over="ignore", invalid="ignore"):  # (an overflowed screen is inconclusive)
        screened = _screen(X, w, keep_gram)
    if screened is not None:
        return screened
    return identify_gram(_kernels.gram(X, w), names, X=X, w=w)


def screen(X: np.ndarray, w: np.ndarray, keep_gram: bool = True) -> Identifiability | None:
    """:func:`identify`'s float32 screen alone: its result when the screen proves that a dense
    ``X`` has full rank, else None, without the float64 Gram matrix and the blocked QR that
    tell a dependency from ill-conditioning (a penalised fit, whose maximiser is unique whatever
    the columns, asks only whether float32 curvatures are safe:
    :meth:`dualmaxent.objective.DualObjective.design_condition`)."""
    with _kernels._one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        return _screen(X, w, keep_gram)  # (an overflowed float32 screen is inconclusive)


def _screen(X, w, keep_gram: bool) -> Identifiability | None:
    # a float32 screen first: half the pass, and conclusive for the ordinary full-rank design;
    # on a row sample first when there are many rows (full rank of some rows proves it for all)
    n, m = X.shape
    per_column = RANK_SCREEN_ROWS_PER_COLUMN if keep_gram else RANK_SCREEN_MIN_ROWS_PER_COLUMN
    step = min(RANK_SAMPLE_MAX_STEP, n // max(per_column * m, 1))
    condition = gram = None
    if step >= 2:
        condition = _clearly_full_rank(_kernels.gram(X[::step], w[::step], dtype=np.float32),
                                       GRAM_CLEAR_FLOAT32)
    if condition is None:
        gram = _kernels.gram(X, w, dtype=np.float32)
        condition = _clearly_full_rank(gram, GRAM_CLEAR_FLOAT32)
    if condition is not None:
        if gram is not None and keep_gram and m <= GRAM_KEEP_MAX_FRACTION * n:
            gram.setflags(write=False)
        else:
            gram = None
        return Identifiability(rank=m, m=m, basis=np.eye(m), null_space=np.zeros((m, 0)),
                               condition=condition, dependencies=(), gram=gram)
    return None


def _clearly_full_rank(G: np.ndarray, clear: float):
    """The condition number of the equilibrated ``G``'s square root when its smallest eigenvalue
    is above ``clear`` relative (the design has full rank for certain), else None."""
    norms = np.sqrt(np.diag(G).astype(np.float64))
    if not np.all(norms > 0):
        return None
    d = 1.0 / norms
    vals = np.linalg.eigvalsh(d[:, None] * np.asarray(G, dtype=np.float64) * d[None, :])
    top = float(vals.max(initial=0.0))
    return float(np.sqrt(top / vals.min())) if top > 0 and vals.min() > clear * top else None


def identify_gram(G: np.ndarray, names, X=None, w=None, rows=None) -> Identifiability:
    """:func:`identify` from the Gram matrix ``X^T W X`` (m, m) already at hand (one pass of an
    engine over chunks). Without ``X``, an ambiguous design (module docstring) is decided from
    the Gram matrix's eigenvalues alone: a relative singular value (square root of an
    eigenvalue) below ``GRAM_RANK_RTOL`` counts as zero, coarser than the blocked QR's.
    The dependencies' residuals (:func:`dependency_error`) are measured on the rows of ``X``
    or of ``rows = (X, w)`` (a sparse design's, whose rank the eigenvalues decide); with
    neither (an engine's Gram matrix) they are unknown, NaN."""
    m = G.shape[0]
    norms = np.sqrt(np.diag(G))
    zero = norms == 0.0  # a column that vanishes on every weighted row
    d = np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, norms))
    vals, vecs = np.linalg.eigh(d[:, None] * G * d[None, :])
    top = float(vals.max(initial=0.0))
    if top > 0 and not zero.any() and vals.min() > GRAM_CLEAR * top:
        null = np.zeros((m, 0))
        condition = float(np.sqrt(top / vals.min()))
    elif X is None:  # no data at hand: the eigenvalues are the squared singular values
        s = np.sqrt(np.maximum(vals[::-1], 0.0))
        Vt = vecs[:, ::-1].T
        null, condition = _null_from_singular(s, Vt, d, zero, m, rtol=GRAM_RANK_RTOL)
    else:  # ambiguous: singular values of sqrt(W) X D from a blocked QR
        _, s, Vt = np.linalg.svd(_r_factor(X, w, d))
        null, condition = _null_from_singular(s, Vt, d, zero, m)
    basis = _complement(null, m)
    echelon, error, worst = None, 0.0, -1
    if null.shape[1]:
        echelon = _echelon(null)
        rows = rows if rows is not None else (X, w) if X is not None else None
        error, worst = (dependency_error(*rows, null, G, echelon) if rows is not None
                        else (float("nan"), -1))
    return Identifiability(rank=basis.shape[1], m=m, basis=basis, null_space=null,
                           condition=condition,
                           dependencies=_name_dependencies(null, names, echelon=echelon),
                           dependency_error=error, worst_dependency=worst)


def _null_from_singular(s, Vt, d, zero, m, rtol=None):
    """``(orthonormal null space, condition)`` from the singular values ``s`` and right singular
    vectors ``Vt`` of ``sqrt(W) X D``; a relative singular value below ``rtol`` (``RANK_RTOL``)
    counts as zero."""
    rtol = RANK_RTOL if rtol is None else rtol
    keep = s > rtol * s.max(initial=0.0) if s.size and s.max() > 0 else s > np.inf
    # X D v = 0 for a dropped right singular vector v, so D v spans the null space (with the
    # vanishing columns); the row space is its orthogonal complement
    null = Vt[~keep].T * d[:, None]
    if zero.any():
        null = np.column_stack([null, np.eye(m)[:, zero]])
    null = _orthonormal(null)
    condition = float(s.max() / s[keep].min()) if keep.any() else float("inf")
    return null, condition


def _r_factor(X: np.ndarray, w: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The R factor (m, m) of ``sqrt(W) X D``, one row block at a time (TSQR)."""
    import scipy.linalg

    m = X.shape[1]
    R = np.zeros((0, m))
    sw = np.sqrt(w)
    for sl in _kernels.row_blocks(X.shape[0], m):
        block = (sw[sl, None] * X[sl]) * d[None, :]
        R = scipy.linalg.qr(np.vstack([R, block]), mode="r", check_finite=False)[0][:m]
    square = np.zeros((m, m))  # fewer rows than columns: the missing rows of R are zero
    square[:R.shape[0]] = R
    return square


def _orthonormal(A: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the columns of ``A`` (by SVD, dropping round-off directions)."""
    if A.shape[1] == 0:
        return A.reshape(A.shape[0], 0)
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    return U[:, s > 1e-10 * s.max(initial=0.0)] if s.size and s.max() > 0 else A[:, :0]


def _complement(N: np.ndarray, m: int) -> np.ndarray:
    """An orthonormal basis of the orthogonal complement of the columns of ``N`` in R^m."""
    if N.shape[1] == 0:
        return np.eye(m)
    U, _, _ = np.linalg.svd(N, full_matrices=True)
    return U[:, N.shape[1]:]


def reduced_echelon(R: np.ndarray) -> tuple[np.ndarray, list]:
    """``(R', pivots)``: the reduced row echelon form of the (r, m) matrix ``R`` (a copy), by
    Gauss-Jordan elimination with partial pivoting, and its pivot columns; a column whose best
    pivot is below 1e-10 (the null vectors are orthonormal) is skipped."""
    R = np.array(R, dtype=np.float64)
    r, m = R.shape
    pivots, row = [], 0
    for col in range(m):
        if row == r:
            break
        best = row + int(np.argmax(np.abs(R[row:, col])))
        if abs(R[best, col]) <= 1e-10:
            continue
        R[[row, best]] = R[[best, row]]
        R[row] /= R[row, col]
        # every other row at once (the same products and differences as row by row; a Python
        # loop over the rows took ~50 s for 1000 null vectors of 3000 columns)
        f = R[:, col].copy()
        f[row] = 0.0
        hit = np.flatnonzero(f)
        R[hit] -= f[hit, None] * R[row]
        pivots.append(col)
        row += 1
    return R, pivots


def _echelon(N: np.ndarray):
    """``(V, pivots)``: the null space ``N`` (m, r) as ``r`` dependencies, each a column of
    ``V`` (m, r) with 1 at its dependent column ``pivots[i]``, 0 at the other dependencies'
    and its other coefficients from the reduced row echelon form of ``N^T`` (``X V = 0`` as
    ``X N = 0``), those below :data:`_COEF_RTOL` of the largest set to zero: the dependencies
    as :func:`_name_dependencies` names them.

    The dependent columns are chosen from the last feature backwards, the intercept (the last
    column) last, so that the trap reads ``g3 = intercept - g1 - g2``.
    """
    m, r = N.shape
    order = list(range(m - 2, -1, -1)) + [m - 1]  # last feature first, the intercept last
    R, cols = reduced_echelon(N.T[:, order])  # rows: null vectors, columns in pivot order
    V = np.zeros((m, len(cols)))
    V[order] = R[:len(cols)].T
    for i in range(len(cols)):
        scale = max(float(np.abs(V[:, i]).max(initial=0.0)), 1.0)
        V[np.abs(V[:, i]) <= _COEF_RTOL * scale, i] = 0.0
    return V, [order[c] for c in cols]


def _name_dependencies(N: np.ndarray, names, scale: np.ndarray | None = None,
                       echelon: tuple | None = None) -> tuple:
    """Each null vector as ``column = combination of the others`` (:func:`_echelon`).

    ``scale`` (m,): ``N`` is the null space of ``Z = X diag(scale)`` (a badly scaled design's
    rescaled copy, where the terms' sizes are comparable, so that small ones are told from
    zero), and the dependencies are written in ``X``'s columns: ``z_p = sum c_b z_b`` is ``x_p
    = sum c_b (scale_b / scale_p) x_b``. ``echelon``: :func:`_echelon` of ``N``, formed
    already."""
    if N.shape[1] == 0:
        return ()
    V, pivots = _echelon(N) if echelon is None else echelon
    m = N.shape[0]
    out = []
    for i, pivot in enumerate(pivots):
        terms = []
        for j in [m - 1] + list(range(m - 1)):  # the intercept first, then column order
            c = -V[j, i]
            if j == pivot or c == 0.0:
                continue
            if scale is not None:
                c = c * scale[j] / scale[pivot]
            mag = abs(c)
            text = names[j] if abs(mag - 1.0) < 1e-9 else f"{mag:.6g} {names[j]}"
            terms.append(("- " if c < 0 else "+ ") + text)
        rhs = " ".join(terms) if terms else "0"
        rhs = "-" + rhs[2:] if rhs.startswith("- ") else rhs.removeprefix("+ ")
        out.append(f"{names[pivot]} = {rhs}")
    return tuple(out)


def dependency_error(X, w: np.ndarray, N: np.ndarray, G: np.ndarray | None = None,
                     echelon: tuple | None = None):
    """``(error, worst)``: how far the rows of positive weight are from satisfying exactly the
    dependencies the null space ``N`` (m, r) names (:func:`_echelon`), and which is farthest.

    For a dependency ``v`` (its support ``s`` columns) the row ``j``'s residual ``t_j =
    x_j^T v`` is formed in float64, with ``a_j = |x_j|^T |v|``; the sum's own rounding is at
    most ``gamma_s a_j`` (Higham, Lemma 3.1), and the error is ``max_j (|t_j| - gamma_s a_j
    (1 + gamma_s)) / a_j`` (the last factor for ``a_j``'s rounding; rows with ``a_j = 0`` hold
    exactly). The coefficients of ``v`` off its dependent column come from a null vector of an
    SVD, accurate to about the design's condition times ``u``; they are first refined by
    least squares on the weighted rows (:data:`DEPENDENCY_REFINEMENTS` steps of ``v_F -=
    G_FF^-1 X_F^T W t`` on the support ``F``, ``G = X^T W X`` given or formed), and the
    smallest error over the steps is kept (any ``v`` whose rows all hold proves the
    dependency as well); no step is taken once every one is exact, and the dependencies of
    one support share one solve (a wide design's have all the same). Only the columns some
    dependency reads are read. Measured (one process, one BLAS thread): the rank pass of a
    dummy trap at n = 1e5, 45 columns, 119 ms without these residuals, 147 with them.
    ``echelon``: :func:`_echelon` of ``N``, formed already. ``(0.0, -1)`` for an empty
    ``N``."""
    m, r = N.shape
    if r == 0:
        return 0.0, -1
    V, pivots = _echelon(N) if echelon is None else echelon
    pos = np.asarray(w) > 0
    G = _kernels.gram(X, w) if G is None else G
    weights = np.asarray(w, dtype=np.float64)
    worst, index = -np.inf, -1
    for lo in range(0, V.shape[1], DEPENDENCY_CHUNK):
        Vc = V[:, lo:lo + DEPENDENCY_CHUNK].copy()
        best = np.full(Vc.shape[1], np.inf)
        support = Vc != 0.0
        g = np.array([_kernels.gamma(int(s), _U) for s in support.sum(axis=0)])
        # the columns some dependency of the chunk reads (a trap's few indicators), and their
        # absolute values, once
        cols = np.flatnonzero(support.any(axis=1))
        Xs = X[:, cols]
        absXs = design.absolute(Xs)
        for step in range(DEPENDENCY_REFINEMENTS + 1):
            T = np.asarray(Xs @ Vc[cols], dtype=np.float64)
            A = np.asarray(absXs @ np.abs(Vc[cols]), dtype=np.float64)[pos]
            excess = np.abs(T[pos]) - g * (1.0 + g) * A
            rel = np.where(A > 0, excess / np.where(A > 0, A, 1.0), 0.0)
            best = np.minimum(best, rel.max(axis=0, initial=0.0))
            if step == DEPENDENCY_REFINEMENTS or np.all(best <= DEPENDENCY_ROUNDINGS * _U):
                break  # (exact already: a trap's indicators, a duplicate, need no refinement)
            T *= weights[:, None]
            b = np.zeros((m, Vc.shape[1]))
            b[cols] = np.asarray(Xs.T @ T, dtype=np.float64)
            free = support.copy()
            free[pivots[lo:lo + Vc.shape[1]], np.arange(Vc.shape[1])] = False
            groups = {}
            for i in range(Vc.shape[1]):
                groups.setdefault(free[:, i].tobytes(), []).append(i)
            for members in groups.values():
                F = np.flatnonzero(free[:, members[0]])
                if F.size:
                    Vc[np.ix_(F, members)] -= _solve_equilibrated(G[np.ix_(F, F)],
                                                                  b[np.ix_(F, members)])
        top = int(np.argmax(best))
        if best[top] > worst:
            worst, index = float(best[top]), lo + top
    return max(worst, 0.0), index


def _solve_equilibrated(G: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``G^+ b`` (b of shape (f, c)) for a Gram matrix ``G``, through its equilibrated form
    (least squares: a singular ``G`` where other dependencies share the support)."""
    d = np.sqrt(np.diag(G))
    d = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0)
    b = d[:, None] * b.reshape(d.size, -1)
    return d[:, None] * np.linalg.lstsq(d[:, None] * G * d[None, :], b, rcond=None)[0]
