"""The design matrix, dense or sparse: the few operations on it whose form differs.

A :class:`~dualmaxent.Dataset` holds ``X`` of shape (n, m) as a dense float64 ndarray, or with
an intercept a :class:`DenseOnes`: a dense float64 C-ordered array and an implicit last column
of ones, never stored; for a sparse design (bag-of-words counts, TF-IDF, the indicators of a
many-level categorical column) as a ``scipy.sparse.csr_array`` in canonical form (float64,
sorted indices, no duplicates) or, with an intercept, a :class:`OnesColumn`: that CSR and the
implicit ones. Everything the passes do with ``X`` is a product ``X[rows] @ theta`` or
``X[rows].T @ R``, which numpy, scipy, :class:`DenseOnes` and :class:`OnesColumn` spell alike
and which returns a dense array either way; this module holds the rest, each operation once:
absolute values, one column, column maxima and sums of squares, row norms, rows scaled by a
vector, and weighted Gram matrices ``X^T diag(d) X`` (dense, (m, m): only for a small ``m``).

Nothing here densifies ``X``: each function's cost and memory are those of the stored entries
plus its (m,) or (rows,) result (a scaled copy for the scaling functions), except
:func:`weighted_gram`, whose result is dense by intent. An entrywise function of a sparse ``X``
(:func:`absolute`, the squares of :func:`column_sq_sums`) is a new ``data`` array on ``X``'s own
index arrays (:func:`with_data`): two thirds of a copy's bytes with 32-bit indices, where
scipy's ``abs(X)`` copies the indices too and ``X.multiply(X)`` allocates room for twice the
entries (measured: 2.0 times ``X``'s bytes kept by the old squared copy); the squares of
:func:`column_sq_sums` and :func:`row_sq_norms` are formed a row chunk at a time.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import _numerics as nx

__all__ = ["is_sparse", "OnesColumn", "DenseOnes", "ones_implicit", "write_into", "astype",
           "product_into", "as_sparse", "ones_column", "read_only", "csr_xt",
           "ones_xt", "with_intercept", "with_data", "absolute", "has_negative", "column",
           "column_absmax", "column_sq_sums", "row_sq_norms", "scale_rows", "scale_columns",
           "multiply", "weighted_gram", "nbytes"]


def is_sparse(X) -> bool:
    """Whether ``X`` is a scipy.sparse matrix or array, or a :class:`OnesColumn` design (a plain
    ndarray answered first: about a hundred calls a small fit, 0.2 us each through scipy)."""
    return type(X) is not np.ndarray and (sp.issparse(X) or isinstance(X, OnesColumn))


class OnesColumn:
    """``[B, 1]``: a canonical CSR ``B`` of shape (n, p) and an implicit last column of ones,
    shape (n, p + 1); the design of a sparse data set with an intercept.

    The ones are never stored, so the data set's ``X`` is ``B`` itself (a canonical CSR given
    by the caller is read through read-only views of its arrays, not copied): storing them made
    a second copy of every entry, 1.02 times the sparse X's bytes, alive through the whole fit
    (the text problem of ``bench --sparse``, n = 2e4, 1e6 entries, twenty classes). Everything
    the passes do with ``X`` works as for a CSR and returns the same numbers up to the order of
    a sum's last term (the intercept's, added after ``B``'s):

    * ``X @ V`` (V of shape (p + 1,) or (p + 1, k)) is ``B @ V[:-1] + V[-1]``, dense;
    * ``X.T @ R`` (R of shape (n,) or (n, k)) is ``B^T R`` with ``R``'s column sums appended,
      written into one new (p + 1, k) table (:func:`ones_xt`: scipy's ``csc_matvecs`` on
      ``B``'s arrays, as scipy's own product runs it, no (p, k) temporary beside the result);
    * ``X[rows]`` is the same design on those rows of ``B`` (a CSR slice);
    * ``X[rows, cols]`` is a CSR of the selected columns, the ones stored where ``cols`` holds
      the last column (small selections: the intercept's column, a row sample);
    * :mod:`dualmaxent.design`'s functions (absolute values, column maxima and sums of
      squares, row norms, scaling, weighted Gram matrices, one column) treat the last column
      as ones without forming it.

    Anything else a scipy CSR offers is :meth:`tocsr`'s, the stored copy made on request.

    Parameters
    ----------
    base : scipy.sparse.csr_array of shape (n, p)
        Canonical (:func:`is_canonical`) and float64; only read.
    """

    ndim = 2
    dtype = np.dtype(np.float64)
    format = "csr+ones"

    def __init__(self, base):
        self.base = base
        self.shape = (base.shape[0], base.shape[1] + 1)

    @property
    def nnz(self) -> int:
        """The stored entries of ``B`` plus the ``n`` ones."""
        return int(self.base.nnz) + self.shape[0]

    @property
    def T(self) -> "_OnesColumnT":
        """``X^T``, for products ``X.T @ R`` (:class:`_OnesColumnT`)."""
        return _OnesColumnT(self)

    def __matmul__(self, V):
        V = np.asarray(V)
        if V.shape[:1] != (self.shape[1],):
            raise ValueError(f"matmul: X has {self.shape[1]} columns, the operand {V.shape[0]} "
                             "rows")
        out = np.asarray(self.base @ V[:-1], dtype=np.float64)
        out += V[-1]
        return out

    def __getitem__(self, key):
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        every = isinstance(rows, slice) and rows == slice(None)
        B = self.base if every else self.base[rows]  # (scipy's B[:] copies every entry)
        if isinstance(cols, slice) and cols == slice(None):
            return OnesColumn(B)
        return _select_columns(B, self.shape[1], cols)

    def __abs__(self) -> "OnesColumn":
        return absolute(self)

    def max(self) -> float:
        """The largest entry, the ones included (scipy's: the implicit zeros too)."""
        return max(float(self.base.max()), 1.0) if self.base.shape[1] else 1.0

    def min(self) -> float:
        """The smallest entry, the ones included (scipy's: the implicit zeros too)."""
        return min(float(self.base.min()), 1.0) if self.base.shape[1] else 1.0

    def tocsr(self) -> sp.csr_array:
        """The stored CSR of ``[B, 1]`` (:func:`with_intercept`): a new copy of every entry."""
        return with_intercept(self.base)

    def toarray(self) -> np.ndarray:
        """``[B, 1]`` as a dense (n, p + 1) float64 array."""
        out = np.empty(self.shape)
        out[:, :-1] = self.base.toarray()
        out[:, -1] = 1.0
        return out

    def copy(self) -> "OnesColumn":
        return OnesColumn(self.base.copy())

    def __repr__(self) -> str:
        return (f"<OnesColumn design of shape {self.shape}: a CSR of {self.base.nnz} stored "
                "entries and an implicit column of ones>")


class _OnesColumnT:
    """The transpose of a :class:`OnesColumn` design: ``X.T @ R`` only."""

    def __init__(self, X: OnesColumn):
        self.X = X
        self.shape = X.shape[::-1]

    def __matmul__(self, R):
        B = self.X.base
        if sp.issparse(R):
            return sp.vstack([B.T @ R, sp.csr_array(R.sum(axis=0).reshape(1, -1))],
                             format="csr")
        R = np.asarray(R)
        if R.shape[:1] != (B.shape[0],):
            raise ValueError(f"matmul: X^T has {B.shape[0]} columns, the operand {R.shape[0]} "
                             "rows")
        return ones_xt(self.X, R)


class _Stored:
    """What a design with implicit ones does not do itself, done on its stored array
    (``toarray()``, a new copy each time): numpy's functions (``__array__``), entrywise
    arithmetic, any other ndarray attribute or method (``X.sum(axis=0)``; ``X.flags``
    describes that copy). Correct everywhere, and slow: the passes never take these."""

    ndim = 2
    #: numpy's operators defer to this class's: ``L @ X`` is ``__rmatmul__`` (no copy)
    __array_priority__ = 1000

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError(f"a {type(self).__name__} stores no array: it is copied to be read")
        out = self.toarray()
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getattr__(self, name):
        if name.startswith("__") or not hasattr(np.ndarray, name):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.toarray(), name)

    def __mul__(self, other):
        return self.toarray() * other

    def __rmul__(self, other):
        return other * self.toarray()

    def __add__(self, other):
        return self.toarray() + other

    def __radd__(self, other):
        return other + self.toarray()

    def __sub__(self, other):
        return self.toarray() - other

    def __rsub__(self, other):
        return other - self.toarray()

    def __truediv__(self, other):
        return self.toarray() / other

    def __rtruediv__(self, other):
        return other / self.toarray()

    def __pow__(self, other):
        return self.toarray() ** other

    def __neg__(self):
        return -self.toarray()

    def __eq__(self, other):
        return self.toarray() == other

    def __ne__(self, other):
        return self.toarray() != other

    def __lt__(self, other):
        return self.toarray() < other

    def __le__(self, other):
        return self.toarray() <= other

    def __gt__(self, other):
        return self.toarray() > other

    def __ge__(self, other):
        return self.toarray() >= other

    __hash__ = object.__hash__  # (by identity, as before the comparisons were defined)

    def __iter__(self):
        return iter(self.toarray())

    def __setitem__(self, key, value):
        raise ValueError(f"a {type(self).__name__} design is read-only (its ones are implicit)")


class DenseOnes(_Stored):
    """``[B, 1]``: a dense C-contiguous float64 ``B`` of shape (n, p) and an implicit last
    column of ones, shape (n, p + 1); the design of a dense data set with an intercept.

    The ones are never stored, so a data set made from a float64 C-ordered array reads the
    caller's entries where they are (through a read-only view) and makes no copy of them: the
    copy that appended the column cost 11 of a 88 ms certified fit at n = 10^5, m = 50, two
    classes (most of it the kernel providing 40 MB of new pages), and doubled the memory the
    fit holds. The passes' operations cost what they cost on ``[B, 1]``, up to one more
    operation per entry of their (rows, k) results, which are in cache:

    * ``X @ V`` (V of shape (p + 1,) or (p + 1, k)) is ``B V[:-1] + V[-1]``;
    * ``X.T @ R`` (R of shape (n,) or (n, k)) is ``B^T R`` with ``R``'s column sums appended;
    * ``X[rows]`` is the same design on a view of those rows of ``B`` (for a slice);
    * ``X[rows, cols]`` is a dense array of the selected columns, the ones where ``cols`` holds
      the last column;
    * :mod:`dualmaxent.design`'s functions treat the last column as ones without forming it.

    Anything else (numpy's functions, arithmetic, any other ndarray attribute:
    :class:`_Stored`) reads the stored ``[B, 1]`` that :meth:`toarray` makes: a new copy of
    every entry, correct everywhere and slow.
    Rounding: each entry of a product is the same sum of ``p + 1`` terms as from ``[B, 1]``,
    the intercept's term added last, so every error bound in ``gamma(p + 1)`` holds unchanged.

    Parameters
    ----------
    base : ndarray of shape (n, p)
        float64, C-contiguous; only read.
    """

    format = "dense+ones"

    def __init__(self, base: np.ndarray):
        self.base = base
        self.shape = (base.shape[0], base.shape[1] + 1)

    @property
    def dtype(self) -> np.dtype:
        """``B``'s (float64; a float32 block of a single-precision pass is another)."""
        return self.base.dtype

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self) -> int:
        """The bytes of the stored ``B`` (the ones take none)."""
        return int(self.base.nbytes)

    @property
    def T(self) -> "_DenseOnesT":
        """``X^T``, for products ``X.T @ R`` (:class:`_DenseOnesT`)."""
        return _DenseOnesT(self)

    def __len__(self) -> int:
        return self.shape[0]

    def __matmul__(self, V):
        V = np.asarray(V)
        if V.shape[:1] != (self.shape[1],):
            raise ValueError(f"matmul: X has {self.shape[1]} columns, the operand {V.shape[0]} "
                             "rows")
        shape = (self.shape[0],) + V.shape[1:]
        return product_into(self, V, np.empty(shape, dtype=np.result_type(self.base, V)))

    def __rmatmul__(self, L):
        """``L [B, 1]`` for ``L`` of shape (q, n) or (n,): ``[L B, L 1]``."""
        L = np.asarray(L)
        out = np.empty(L.shape[:-1] + (self.shape[1],), dtype=np.result_type(L, self.base))
        out[..., :-1] = L @ self.base
        out[..., -1] = _column_sums(L.T)
        return out

    def __getitem__(self, key):
        if type(key) is slice:  # (a pass's row block: the fast path)
            return DenseOnes(self.base[key])
        if isinstance(key, tuple) and (len(key) != 2 or any(
                k is None or k is Ellipsis for k in key)):
            return self.toarray()[key]  # (new axes, an ellipsis: numpy's, on the stored array)
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(cols, slice) and cols == slice(None):
            if np.ndim(rows) == 0 and not isinstance(rows, slice):  # one row, a vector
                return np.append(self.base[rows], 1.0)
            return DenseOnes(self.base[rows])
        idx = np.arange(self.shape[1])[cols]
        if idx.ndim == 0:  # one column
            if idx != self.shape[1] - 1:
                return self.base[rows, int(idx)]
            shape = self.base[rows, 0].shape if self.base.shape[1] else np.empty(
                self.shape[0])[rows].shape
            return np.ones(shape) if shape else np.float64(1.0)
        B = self.base[rows]
        out = np.empty(B.shape[:-1] + (idx.size,))
        last = idx == self.shape[1] - 1
        out[..., ~last] = B[..., idx[~last]]
        out[..., last] = 1.0
        return out

    def __abs__(self) -> "DenseOnes":
        return DenseOnes(np.abs(self.base))

    def max(self) -> float:
        """The largest entry, the ones included."""
        return max(float(self.base.max()), 1.0) if self.base.size else 1.0

    def min(self) -> float:
        """The smallest entry, the ones included."""
        return min(float(self.base.min()), 1.0) if self.base.size else 1.0

    def toarray(self) -> np.ndarray:
        """``[B, 1]`` as a new dense (n, p + 1) array of ``B``'s dtype."""
        return write_into(self, np.empty(self.shape, dtype=self.dtype))

    def copy(self) -> "DenseOnes":
        return DenseOnes(self.base.copy())

    def __repr__(self) -> str:
        return (f"<DenseOnes design of shape {self.shape}: dense entries and an implicit "
                "column of ones>")


class _DenseOnesT(_Stored):
    """The transpose of a :class:`DenseOnes` design: ``X.T @ R`` and ``L @ X.T``; anything
    else on the stored transpose (:class:`_Stored`)."""

    def __init__(self, X: DenseOnes):
        self.X = X
        self.shape = X.shape[::-1]

    @property
    def T(self) -> DenseOnes:
        return self.X

    def toarray(self) -> np.ndarray:
        return self.X.toarray().T

    def __rmatmul__(self, L):
        """``L X^T`` for ``L`` of shape (q, p + 1) or (p + 1,): ``L[:, :-1] B^T + L[:, -1]``,
        shape (q, n), C-ordered (its transpose the class-major (n, q) ``X L^T``)."""
        L = np.asarray(L)
        out = L[..., :-1] @ self.X.base.T
        out += L[..., -1:] if L.ndim == 2 else L[-1]
        return out

    def __matmul__(self, R):
        B = self.X.base
        R = np.asarray(R)
        if R.shape[:1] != (B.shape[0],):
            raise ValueError(f"matmul: X^T has {B.shape[0]} columns, the operand {R.shape[0]} "
                             "rows")
        out = np.empty((B.shape[1] + 1,) + R.shape[1:], dtype=np.result_type(B, R))
        np.matmul(B.T, R, out=out[:-1])
        out[-1] = _column_sums(R)
        return out


def _column_sums(R: np.ndarray):
    """``1^T R``: the column sums of an (n, c) table as one BLAS product with ones (numpy's
    ``R.sum(axis=0)`` walks a C-ordered table one short row at a time: 27 us against 6 for
    (1236, 3)); a vector's sum."""
    if R.ndim == 1:
        return R.sum()
    if R.shape[1] == 1:
        return R.reshape(-1).sum(keepdims=True) if R.flags.c_contiguous else R.sum(axis=0)
    return np.ones(R.shape[0], dtype=R.dtype) @ R


def product_into(X, V: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = X V`` for a dense ``X`` (an ndarray, or a :class:`DenseOnes`: ``B V[:-1]`` and
    the intercept's term ``V[-1]`` added in place), no temporary; ``out`` C-ordered of shape
    (n,) + V.shape[1:]."""
    if not isinstance(X, DenseOnes):
        return np.matmul(X, V, out=out)
    np.matmul(X.base, V[:-1], out=out)
    # (one column: its intercept added as to a vector, numpy's broadcast over rows of one
    # entry would take a loop per row)
    (out.reshape(-1) if out.ndim == 2 and out.shape[1] == 1 else out).__iadd__(V[-1])
    return out


def write_into(X, out: np.ndarray) -> np.ndarray:
    """The entries of a dense ``X`` (an ndarray or a :class:`DenseOnes`) written into ``out``
    (of ``X``'s shape; converted to its dtype)."""
    if isinstance(X, DenseOnes):
        out[:, :-1] = X.base
        out[:, -1] = 1.0
    else:
        out[...] = X
    return out


def astype(X, dtype):
    """A dense ``X`` in ``dtype``: itself when it is already; else a converted copy (of a
    :class:`DenseOnes`, its ``B``'s, the ones staying implicit)."""
    if isinstance(X, DenseOnes):
        return X if X.dtype == dtype else DenseOnes(np.asarray(X.base, dtype=dtype))
    return np.asarray(X, dtype=dtype)


def ones_implicit(X) -> bool:
    """Whether ``X`` carries an implicit last column of ones (:class:`OnesColumn`,
    :class:`DenseOnes`)."""
    return isinstance(X, (OnesColumn, DenseOnes))


try:  # scipy's kernels of its sparse products (:func:`csr_xt`)
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover - another scipy layout: scipy's own products
    _sparsetools = None

#: Bytes of the rows of a table that :func:`csr_xt` copies to C order at a time.
XT_BLOCK_BYTES = 1 << 20


def csr_xt(X, T, abs_x: bool = False, out=None) -> np.ndarray:
    """``X^T T`` (``|X|^T T`` with ``abs_x``) for a CSR ``X`` of float64 and ``T`` of shape
    (n, c), a block of :data:`XT_BLOCK_BYTES` of ``T``'s rows at a time: no copy of ``T``
    (only the block's rows, in C order) and none of ``|X|`` (only the block's entries).

    scipy multiplies ``X^T`` (CSC) by ``csc_matvecs`` (``csc_matvec`` for one column), which
    runs over ``X``'s rows in order and adds each stored entry's ``x_ji T_j`` to row ``i`` of
    the result; calling it block after block on the same result is the same sequence of
    operations, so the same numbers bit for bit (``tests/test_sparse_memory.py`` checks it
    against scipy's product, for ``|X|`` against the product with the copy).
    Measured on the text problem's X (2e4 rows, 1e6 entries): 9.5 ms for 20 columns, scipy's
    product of the C-ordered table 9.4. ``out``, when given, is a C-contiguous (m, c) table
    to which the product is added (:func:`add_xt`; without scipy's kernels: scipy's product,
    added)."""
    n, m = X.shape
    if callable(T):  # its rows made block by block (``T(lo, hi)``): into a given ``out``
        c = out.shape[1]
    else:
        c = T.shape[1]
        out = np.zeros((m, c)) if out is None else out
    if _sparsetools is None:  # pragma: no cover - another scipy layout
        out += (absolute(X) if abs_x else X).T @ _whole(T, n)
        return out
    flat = out.reshape(-1)
    indptr, indices, data = X.indptr, X.indices, X.data
    # (rows of at most XT_BLOCK_BYTES of T, and as many of X's entries on average)
    rows = max(1, min(XT_BLOCK_BYTES // (8 * max(c, 1)),
                      XT_BLOCK_BYTES * n // (8 * max(int(indptr[-1]), 1))))
    for lo in range(0, n, rows):
        hi = min(lo + rows, n)
        s, e = int(indptr[lo]), int(indptr[hi])
        Ap = np.subtract(indptr[lo:hi + 1], indptr[lo], dtype=indices.dtype)
        Ax = np.abs(data[s:e]) if abs_x else data[s:e]
        Tb = np.ascontiguousarray(T(lo, hi) if callable(T) else T[lo:hi]).reshape(-1)
        if c == 1:  # (scipy's dispatch: a one-column table is a vector)
            _sparsetools.csc_matvec(m, hi - lo, Ap, indices[s:e], Ax, Tb, flat)
        else:
            _sparsetools.csc_matvecs(m, hi - lo, c, Ap, indices[s:e], Ax, Tb, flat)
    return out


def ones_xt(X: "OnesColumn", T, abs_x: bool = False) -> np.ndarray:
    """``X^T T`` (``|X|^T T`` with ``abs_x``) of a :class:`OnesColumn` ``X``, ``T`` of shape
    (n,) or (n, c) float64, as a new table: :func:`add_xt` into zeros (no copy of ``T`` nor of
    ``|B|``, no (p, c) temporary beside the result)."""
    T = np.asarray(T, dtype=np.float64)
    # the width spelled out, not ``-1``: numpy cannot infer it from a table of no rows (the
    # reduced problem of separated data keeps none when every observation is forced)
    T2 = T.reshape(X.shape[0], int(np.prod(T.shape[1:], dtype=np.intp)))
    out = add_xt(X, T2, np.zeros((X.shape[1], T2.shape[1])), abs_x)
    return out.reshape(X.shape[1:] + np.shape(T)[1:])


def add_xt(X, T, out: np.ndarray, abs_x: bool = False) -> np.ndarray:
    """``out += X^T T`` (``|X|^T T`` with ``abs_x``) in place, ``out`` a C-contiguous float64
    (m, c) table and ``T`` (n, c) float64, or a callable ``T(lo, hi)`` giving its rows ``lo ..
    hi - 1`` (formed a block at a time: no (n, c) table of ``T``): for a CSR or
    :class:`OnesColumn` ``X`` by :func:`csr_xt` (no (m, c) table of the product beside
    ``out``; a :class:`OnesColumn`'s last row the blocks' column sums), else ``X^T T`` formed
    and added."""
    if isinstance(X, OnesColumn):
        if callable(T):
            rows = T

            def T(lo, hi):  # (the ones' row: the blocks' column sums)
                Tb = rows(lo, hi)
                out[-1] += Tb.sum(axis=0)
                return Tb
            csr_xt(X.base, T, abs_x, out=out[:-1])
        else:
            csr_xt(X.base, T, abs_x, out=out[:-1])
            out[-1] += T.sum(axis=0)
    elif sp.issparse(X) and X.format == "csr" and X.dtype == np.float64:
        csr_xt(X, T, abs_x, out=out)
    else:
        out += np.asarray((absolute(X) if abs_x else X).T @ _whole(T, X.shape[0]))
    return out


def _whole(T, n: int) -> np.ndarray:
    """``T`` as one C-ordered (n, c) table: a table itself, or a row function's blocks
    (:func:`add_xt`) stacked."""
    if callable(T):
        return np.vstack([T(lo, min(lo + 4096, n)) for lo in range(0, n, 4096)])
    return np.ascontiguousarray(T)


def _select_columns(B, width: int, cols) -> sp.csr_array:
    """Columns ``cols`` (a slice, or integer or boolean indices) of ``[B, 1]`` (``width``
    columns) as a CSR: ``B``'s selected columns, and the ones where ``cols`` holds the last."""
    idx = np.arange(width)[cols]
    scalar = idx.ndim == 0
    idx = np.atleast_1d(idx)
    last = idx == width - 1
    out = B[:, idx[~last]] if (~last).any() else sp.csr_array((B.shape[0], 0))
    if last.any():
        out = sp.hstack([out, sp.csr_array(np.ones((B.shape[0], 1)))], format="csr")
        # the ones' column moved to where cols holds it (at the end already when it is last)
        order = np.empty(idx.size, dtype=np.intp)
        order[np.flatnonzero(~last)] = np.arange(int((~last).sum()))
        order[np.flatnonzero(last)] = int((~last).sum())
        if not np.array_equal(order, np.arange(idx.size)):
            out = out[:, order]
    out = sp.csr_array(out)
    return out[:, 0] if scalar else out


def as_sparse(X) -> sp.csr_array:
    """A canonical float64 CSR copy of a sparse ``X`` (CSR, CSC, COO, ... ; matrix or array).

    Never a view of the caller's data: their matrix is not changed by anything done later.
    """
    out = sp.csr_array(X, dtype=np.float64, copy=True)
    out.sum_duplicates()  # also sorts the indices
    out.eliminate_zeros()
    return out


def is_canonical(X) -> bool:
    """Whether a sparse ``X`` is already what :func:`as_sparse` makes: CSR, float64, sorted
    indices without duplicates, no stored zeros (one read of the entries)."""
    if isinstance(X, OnesColumn):
        return is_canonical(X.base)
    return (X.format == "csr" and X.dtype == np.float64 and bool(X.has_canonical_format)
            and bool(np.all(X.data != 0)))


def read_only(X) -> sp.csr_array:
    """A canonical CSR ``X`` on read-only views of its arrays: nothing copied, and nothing of
    the caller's changed (their arrays stay writeable; this one cannot write into them)."""
    arrays = [a.view() for a in (X.data, X.indices, X.indptr)]
    for a in arrays:
        a.setflags(write=False)
    out = sp.csr_array(tuple(arrays), shape=X.shape, copy=False)
    out.has_canonical_format = True
    return out


def ones_column(X):
    """``[X, 1]`` as a data set holds it: for a canonical CSR ``X`` a :class:`OnesColumn` on
    :func:`read_only` views of its arrays, else :func:`with_intercept`'s copy."""
    return OnesColumn(read_only(X)) if sp.issparse(X) else with_intercept(X)


def with_intercept(X):
    """``[X, 1]``: a last column of ones, shape (n, m + 1), sparse when ``X`` is.

    A sparse ``X`` must be canonical (:func:`is_canonical`); it is only read: the result is one
    new CSR whose rows are ``X``'s with the intercept's entry appended (its column is the
    largest index, so the indices stay sorted), built from the index arrays directly (scipy's
    ``hstack`` goes through COO triplets: 3.2 times ``X``'s bytes at its peak, this 1.1).
    """
    n = X.shape[0]
    if is_sparse(X):
        m, nnz = X.shape[1], X.nnz
        idx = sp.get_index_dtype(maxval=max(nnz + n, m + 1))
        indptr = X.indptr.astype(idx) + np.arange(n + 1, dtype=idx)
        ones = indptr[1:] - 1  # the last entry of every row: the intercept's
        data = np.empty(nnz + n)
        indices = np.empty(nnz + n, dtype=idx)
        mask = np.ones(nnz + n, dtype=bool)
        mask[ones] = False
        data[mask] = X.data
        indices[mask] = X.indices
        data[ones] = 1.0
        indices[ones] = m
        return sp.csr_array((data, indices, indptr), shape=(n, m + 1))
    return write_into(DenseOnes(X), np.empty((n, X.shape[1] + 1)))


def with_data(X, data: np.ndarray) -> sp.csr_array:
    """The CSR array with ``X``'s pattern and the entries ``data`` (shape (nnz,)), sharing
    ``X``'s index arrays (a CSR ``X``; nothing but ``data`` is new)."""
    return sp.csr_array((data, X.indices, X.indptr), shape=X.shape, copy=False)


def absolute(X):
    """``|X|`` entrywise: for a CSR ``X`` its pattern with new entries only (:func:`with_data`)."""
    if ones_implicit(X):
        return type(X)(absolute(X.base))
    if is_sparse(X):
        return with_data(sp.csr_array(X), np.abs(X.data))
    return np.abs(X)


def has_negative(X) -> bool:
    """Whether a sparse ``X`` stores a negative entry (a :class:`OnesColumn`'s ones are not)."""
    if isinstance(X, OnesColumn):
        X = X.base
    return float(X.data.min(initial=0.0)) < 0.0


#: :func:`column_absmax` of a sparse ``X`` scatters its stored entries this many at a time:
#: each chunk's absolute values and its column indices as ``intp`` (numpy's fast path of
#: ``maximum.at``; with 32-bit indices it takes the slower generic one) stay in cache, and no
#: temporary of the size of ``X.data`` is made. Measured on the text problem of ``bench_sparse``
#: (5e6 entries): 20 ms all at once (and a 40 MB ``|data|``), 13 ms in chunks of 2^15.
ABSMAX_CHUNK = 1 << 15


def column_absmax(X) -> np.ndarray:
    """The largest absolute entry of each column, shape (m,) (zero for an empty column): for a
    sparse ``X`` a scatter-maximum over the stored entries, in chunks (:data:`ABSMAX_CHUNK`; no
    copy of ``X``)."""
    if ones_implicit(X):
        return np.append(column_absmax(X.base), 1.0 if X.shape[0] else 0.0)
    if is_sparse(X):
        X = sp.csr_array(X)
        out = np.zeros(X.shape[1])
        data, indices = X.data, X.indices
        for lo in range(0, data.size, ABSMAX_CHUNK):
            chunk = slice(lo, lo + ABSMAX_CHUNK)
            np.maximum.at(out, indices[chunk].astype(np.intp), np.abs(data[chunk]))
        return out
    return nx.column_absmax(X)


#: The squares of a sparse ``X``'s entries (:func:`column_sq_sums`, :func:`row_sq_norms`) are
#: formed a row chunk at a time, each of about ``nnz / SQUARE_CHUNKS`` entries (at least
#: :data:`SQUARE_CHUNK_MIN`): all of them at once were a new ``data`` array, two thirds of
#: ``X``'s bytes with 32-bit indices, the peak of a text k = 2 solve of ``bench --sparse
#: --quick`` (in the Jacobi preconditioner's first step). A chunk's squares, and the copies of
#: its index arrays that scipy makes of a slice (less than half of its array), take about 1.3 /
#: SQUARE_CHUNKS of ``X``'s bytes.
SQUARE_CHUNKS = 16
SQUARE_CHUNK_MIN = 4096


def _row_chunks(X) -> list:
    """Consecutive row slices of a CSR ``X`` of about ``nnz / SQUARE_CHUNKS`` entries each."""
    n, nnz = X.shape[0], X.nnz
    size = max(SQUARE_CHUNK_MIN, -(-nnz // SQUARE_CHUNKS))
    cuts = np.searchsorted(X.indptr, np.arange(size, nnz, size), side="right") - 1
    bounds = np.unique(np.concatenate([[0], np.clip(cuts, 0, n), [n]]))
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _squared_rows(X, rows: slice) -> sp.csr_array:
    """The CSR of the squared entries of the rows ``rows`` of a CSR ``X``."""
    lo, hi = X.indptr[rows.start], X.indptr[rows.stop]
    return sp.csr_array((np.square(X.data[lo:hi]), X.indices[lo:hi],
                         X.indptr[rows.start:rows.stop + 1] - lo),
                        shape=(rows.stop - rows.start, X.shape[1]))


def column_sq_sums(X, w: np.ndarray) -> np.ndarray:
    """``sum_j w_j x_ji^2`` for each column ``i``: shape (m,) for ``w`` of shape (n,), (m, q)
    for ``w`` of shape (n, q) (one sum per column of ``w``).

    A sparse ``X``'s squares are formed a row chunk at a time (:data:`SQUARE_CHUNKS`), the
    chunks' sums added in order (the same sums up to the rounding of that order)."""
    if ones_implicit(X):  # the ones' column: the weights' sums
        w = np.asarray(w, dtype=np.float64)
        return np.concatenate([column_sq_sums(X.base, w), w.sum(axis=0)[None]])
    if is_sparse(X):
        X = sp.csr_array(X)
        out = np.zeros((X.shape[1],) + np.shape(w)[1:])
        for rows in _row_chunks(X):
            out += _squared_rows(X, rows).T @ w[rows]
        return out
    return (X * X).T @ w if np.ndim(w) == 2 else w @ (X * X)


#: :func:`row_sq_norms` of a dense ``X`` narrower than this sums the squares by one product
#: with ones (faster there: 0.10 ms against ``einsum``'s 0.14 on 24k rows, m = 11); from this
#: width ``einsum``, which writes no (n, m) table of squares.
SQUARES_BY_PRODUCT_MAX_COLUMNS = 24


def row_sq_norms(X) -> np.ndarray:
    """``|x_j|^2`` for each row ``j``, shape (n,) (a sparse ``X``'s squares formed a row
    chunk at a time, :data:`SQUARE_CHUNKS`: the same sums as all at once; a narrow dense
    one's by a product, :data:`SQUARES_BY_PRODUCT_MAX_COLUMNS`)."""
    if ones_implicit(X):
        out = row_sq_norms(X.base)
        out += 1.0
        return out
    if is_sparse(X):
        X = sp.csr_array(X)
        out = np.empty(X.shape[0])
        ones = np.ones(X.shape[1])
        for rows in _row_chunks(X):
            out[rows] = _squared_rows(X, rows) @ ones
        return out
    m = X.shape[1]
    if m < SQUARES_BY_PRODUCT_MAX_COLUMNS:
        return np.square(X) @ np.ones(m)
    return np.einsum("ij,ij->i", X, X)


def scale_rows(X, d: np.ndarray, dtype=np.float64, out=None):
    """``diag(d) X``, in ``dtype`` (dense) or float64 (sparse, the same pattern; a CSR with
    the ones stored for a :class:`OnesColumn`: they become ``d``; a dense array for a
    :class:`DenseOnes`, its last column ``d``). ``out``: a dense result's table, of ``X``'s
    shape and ``dtype``."""
    if isinstance(X, DenseOnes):
        out = np.empty(X.shape, dtype=dtype) if out is None else out
        d = np.asarray(d)
        np.multiply(d[:, None], X.base, out=out[:, :-1], casting="same_kind")
        out[:, -1] = d
        return out
    if isinstance(X, OnesColumn):
        X = X.tocsr()
    if is_sparse(X):
        out = X.copy()
        out.data *= np.repeat(np.asarray(d, dtype=np.float64), np.diff(out.indptr))
        return out
    if out is not None:
        return np.multiply(np.asarray(d)[:, None], X, out=out, casting="same_kind")
    return np.multiply(np.asarray(d)[:, None], X, dtype=dtype)


def scale_columns(X, s: np.ndarray, divide: bool = False):
    """``X diag(s)`` (or ``X diag(s)^-1`` when ``divide``, exactly: no reciprocal, which would
    overflow for a subnormal ``s``), sparse when ``X`` is."""
    s = np.asarray(s, dtype=np.float64)
    if ones_implicit(X):  # the ones stay ones where their factor is 1
        if s[-1] == 1.0:
            return type(X)(scale_columns(X.base, s[:-1], divide))
        X = X.tocsr() if isinstance(X, OnesColumn) else X.toarray()
    if is_sparse(X):
        out = sp.csr_array(X, copy=True)
        factor = s[out.indices]
        out.data = out.data / factor if divide else out.data * factor
        return out
    return np.divide(X, s) if divide else np.multiply(X, s)


def multiply(X, M: np.ndarray):
    """``X * M`` entrywise (``M`` of the shape of ``X``, or broadcast to it): CSR when ``X`` is
    sparse (the pattern of ``X``), dense otherwise."""
    if isinstance(X, OnesColumn):
        X = X.tocsr()
    if is_sparse(X):
        return sp.csr_array(X.multiply(M))
    if isinstance(X, DenseOnes):
        X = X.toarray()
    return X * M


def weighted_gram(X, d: np.ndarray) -> np.ndarray:
    """``X^T diag(d) X`` as a dense (m, m) array, ``d`` of any sign: from a sparse ``X``'s
    stored entries; of a dense one the general product ``X^T (d X)`` (:func:`dualmaxent.
    _kernels.gram` has the symmetric kernel for ``d >= 0``); for a :class:`OnesColumn` or a
    :class:`DenseOnes` the border ``B^T d`` and the corner ``sum d`` beside ``B^T diag(d) B``."""
    if ones_implicit(X):
        d = np.asarray(d, dtype=np.float64)
        p = X.base.shape[1]
        out = np.empty((p + 1, p + 1))
        out[:p, :p] = weighted_gram(X.base, d)
        out[:p, p] = out[p, :p] = X.base.T @ d
        out[p, p] = d.sum()
        return out
    if not is_sparse(X):
        return np.asarray(X).T @ scale_rows(X, d)
    return np.asarray((X.T @ scale_rows(X, d)).toarray())


def column(X, j: int) -> np.ndarray:
    """Column ``j`` of ``X`` (n, m) as a dense vector of shape (n,): a strided view of a dense
    ``X``; for a sparse one a new float64 array.

    For a canonical CSR ``X`` (sorted indices, no duplicates) the column is read from its
    arrays a chunk of rows at a time (:func:`dualmaxent._numerics.row_chunks`: its index
    temporaries are (chunk,), not (n,); the certificate's peak on the categorical problem of
    ``bench --sparse`` was reached in the whole-matrix scan, with five (n,) of them): the last
    column (a stored intercept's) is, in each row that holds it, the row's last stored entry
    (one test per row); another column is found by one comparison over the chunk's stored
    indices (a :class:`OnesColumn`'s last column is ones, not read). scipy's column selection ``X[:, [j]]``
    took 20 ms on the text problem of ``bench --sparse`` (n = 1e5, 5e6 entries), this 3 and
    5 ms.
    """
    if isinstance(X, np.ndarray):
        return X[:, j]
    if ones_implicit(X):
        return np.ones(X.shape[0]) if j in (-1, X.shape[1] - 1) else column(X.base, j)
    if not (X.format == "csr" and X.has_canonical_format):
        return np.asarray(X[:, [j]].toarray())[:, 0]  # (duplicates summed by scipy)
    n = X.shape[0]
    out = np.zeros(n)
    indptr, indices, data = X.indptr, X.indices, X.data
    last = j == X.shape[1] - 1
    for c in nx.row_chunks(n):
        lo, hi = c.start, c.stop
        if last:
            end = indptr[lo + 1:hi + 1]
            rows = np.flatnonzero(end > indptr[lo:hi])
            pos = end[rows] - 1
            hit = indices[pos] == j
            out[lo + rows[hit]] = data[pos[hit]]
        else:
            a = indptr[lo]
            pos = a + np.flatnonzero(indices[a:indptr[hi]] == j)
            out[lo + np.searchsorted(indptr[lo:hi + 1], pos, side="right") - 1] = data[pos]
    return out


def nbytes(X) -> int:
    """The memory ``X`` holds: its entries, and for a sparse one its index arrays (of a
    :class:`OnesColumn`, its stored CSR's: the ones take none)."""
    if ones_implicit(X):
        return nbytes(X.base)
    if is_sparse(X):
        return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)
    return int(np.asarray(X).nbytes)
