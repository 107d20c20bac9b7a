"""Hot kernels of the dual: one pass over ``X`` for value, gradient and Hessian together.

Conventions
-----------
The symbols are those of :mod:`dualmaxent.objective`: ``X`` (n, m), ``w`` (n,) frequency weights,
``eta = X @ theta``; for the categorical family ``Y`` and ``P = softmax(eta)`` are (n, k) and
``theta`` is (m, k); for a one-parameter family ``Y`` is (n,) and ``theta`` (m,). Everything is
a *sum* over observations, in nats, of the *unpenalised* canonical log-likelihood

    l(theta) = sum_j w_j [<Y_j, eta_j> - A(eta_j)].

The kernels return the gradient ``X^T W (Y - mu)`` (the balance equations) and the *curvature*
``C = -Hessian`` (positive semidefinite), so that callers can factor it directly; penalties,
gauges and packing stay in :class:`dualmaxent.objective.DualObjective` and
:mod:`dualmaxent.params`.

Why blocks. ``X`` is read in row blocks of about ``BLOCK_BYTES``: each block is used for
``eta``, for the gradient and for the Hessian while it sits in cache, so a Newton iteration reads
``X`` from memory once instead of three times, and the temporaries are (block, k), not (n, k).

Why symmetric products. ``X^T diag(d) X`` with ``d >= 0`` is ``A^T A`` for ``A = sqrt(d) X``,
which BLAS's ``dsyrk`` computes in half the flops of a general product (one triangle). For the
categorical family the curvature of the classes ``c_1 .. c_q`` is

    C = blockdiag_a( X^T diag(w p_a) X )  -  Z^T Z,     Z = [ sqrt(w) p_a  X ]_a   (n, q m),

one ``dsyrk`` of width ``q m`` plus ``q`` of width ``m``; only the classes the caller asks for
are formed (the pinned class never is).

Why one BLAS thread. A pass makes hundreds of small BLAS calls (one ``dsyrk`` or product per
block); OpenBLAS synchronises its threads at every call, and when the cores are shared with
another busy process each synchronisation waits for a time slice. Measured on this 2-core
machine under a load average of 4 (blocks of 1285 rows): width 51, 8.4e-2 s per call with two
threads against 3.3e-4 s with one; width 459, 6.7e-2 s against 1.4e-2 s; a whole Hessian pass at
n = 3 x 10^5, m = 51 took 5.9 s against 0.05 s; a Hessian-vector product at n = 10^5, m = 51,
k = 10 took 1.7 s against 0.01 s. On an idle machine two threads gain at most 2x on the widest
products. So the blocked loops run under a scoped one-thread limit
(``threadpoolctl``, restored on exit; no environment variable is touched), when it is installed.

Error bounds. The float32 paths (``gram(dtype=float32)``, ``curvature_dtype=float32``,
``categorical_hessp(dtype=float32)``) have entrywise worst-case error bounds, valid for any
summation order, BLAS kernel or fused multiply-add: :func:`gram_error_bound`,
:func:`categorical_curvature_error_bound`, :func:`categorical_hessp_error_bound`, each
``gamma(L, u)`` (:func:`gamma`) times the magnitudes of the sums, with ``L`` every rounding on
the way; and a closed form from the sizes alone, :func:`curvature_relative_error`, by which the
solvers decide when float32 may run.
"""

from __future__ import annotations

import contextlib

import numpy as np
from scipy.linalg.blas import dsyrk, ssyrk

from . import _numerics as nx
from . import design

#: BLAS on one thread for a pass (re-entrant; :func:`dualmaxent._numerics.one_blas_thread`).
_one_blas_thread = nx.one_blas_thread


__all__ = ["BLOCK_BYTES", "row_blocks", "gram", "categorical_vgh", "categorical_hessp",
           "glm_vgh", "glm_hessp", "table_curvature", "unit_roundoff", "gamma",
           "gram_error_bound", "categorical_curvature_error_bound",
           "categorical_hessp_error_bound", "curvature_relative_error"]

#: Target size of one row block of X (half of this machine's per-core L2 of 1 MB is a good
#: compromise between BLAS efficiency, which wants tall blocks, and cache reuse).
BLOCK_BYTES = 1 << 19

#: The row blocks of a one-parameter family's pass without the curvature (:func:`glm_vgh`,
#: ``hessian=False``): two matrix-vector products and a dozen elementwise steps per block,
#: whose per-call costs taller blocks spread thinner (nothing is reused from cache between the
#: products). Measured (Bernoulli, one thread, 512 KB -> 2 MB): n = 10^4, m = 51 0.345 ->
#: 0.258 ms; m = 11 0.172 -> 0.153; n = 10^5, m = 51 4.93 -> 4.26; n = 10^6, m = 11 21.0 ->
#: 19.6. Not for the categorical pass (n = 10^5, m = 11, k = 10: 7.4 -> 8.4 ms) nor the
#: curvature-vector product (n = 10^5, m = 51: 2.81 -> 2.95 ms).
GRADIENT_BLOCK_BYTES = 1 << 21


def row_blocks(n: int, m: int, block_bytes: int = BLOCK_BYTES):
    """Slices of at most ``block_bytes / (8 m)`` rows (at least 256) covering ``range(n)``."""
    return nx.row_chunks(n, m, entries=block_bytes // 8, min_rows=256)


def blocks(X, block_bytes: int = BLOCK_BYTES):
    """The row blocks of a pass over ``X``: :func:`row_blocks` for a dense ``X``; one block, the
    whole matrix, for a sparse one (its products gain nothing from cache blocking, and slicing
    rows would copy them; the temporaries are (n, k), allowed for)."""
    if design.is_sparse(X):
        return [slice(0, X.shape[0])]
    return row_blocks(X.shape[0], X.shape[1], block_bytes)


def block(X, sl: slice):
    """Rows ``sl`` of ``X``: a view of a dense ``X``; a sparse ``X`` itself (its one block)."""
    return X if design.is_sparse(X) else X[sl]


#: Bytes of ``X`` in one row block of :func:`linear_predictor`.
PREDICT_BLOCK_BYTES = 1 << 20


def linear_predictor(X, W, b, transform=None, block_bytes: int = PREDICT_BLOCK_BYTES):
    """``X W + b``: the linear predictor of new rows, shape (n, q), or (n,) for ``W`` of shape
    (m,), in one new float64 table.

    A dense ``X`` is multiplied a row block at a time into that table, ``b`` added in place
    and ``transform`` (if given) applied to the block while it is in cache; it writes its
    result over the block (a softmax, a log-softmax). Why blocks: OpenBLAS's product of a tall
    ``X`` with a few columns is slower whole than by blocks, and ``X W + b`` whole writes a
    second (n, q) table of fresh memory for the sum. Measured (one BLAS thread, this 2-core
    machine, best of 15): n = 10^5, m = 50, three columns 14.1 ms whole, 4.8 by blocks of
    1 MB; ten features, ten columns 5.5 -> 3.3; n = 10^6, ten features, three columns 32 -> 24.
    A sparse ``X`` in one product, ``b`` added in place.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n, m)
    W : ndarray of shape (m, q) or (m,)
    b : ndarray of shape (q,), or float
    transform : callable, optional
        ``transform(block)`` for a (rows, q) float64 block, writing its result in place.
    block_bytes : int, default PREDICT_BLOCK_BYTES

    Returns
    -------
    ndarray of shape (n, q) or (n,)
    """
    # (C order: the blocks' products with a Fortran-ordered W, a view of coef_.T, took 13.4
    # against 8.8 ms at n = 10^5, m = 50, three columns)
    W = np.ascontiguousarray(W, dtype=np.float64)
    n = X.shape[0]
    if design.is_sparse(X):
        out = np.asarray(X @ W, dtype=np.float64)
        out += b
        if transform is not None:
            transform(out)
        return out
    out = np.empty((n,) + W.shape[1:])
    parts = row_blocks(n, X.shape[1], block_bytes)
    # (one block: one product, on BLAS's own threads; the limit costs some 20 us to set)
    with _one_blas_thread() if len(parts) > 1 else contextlib.nullcontext():
        for sl in parts:
            part = out[sl]
            design.product_into(X[sl], W, part)
            part += b
            if transform is not None:
                transform(part)
    return out


def data_sums(X, Y, w, block_bytes: int = BLOCK_BYTES) -> np.ndarray:
    """``X^T W Y``, (m, q) (``Y`` (n,) as one column): the balance equations' right-hand side.

    A dense ``X`` a row block at a time, as ``(W Y_b)^T X_b`` (BLAS's faster layout for it:
    0.007 s against 0.012 s for ``X^T (W Y)`` at n = 10^5, m = 51, k = 10), so that no (n, q)
    table ``W Y`` is formed: on this project's virtual machine such a table of fresh memory
    cost 0.2 s at n = 10^6, ten classes (its pages first touched), against 0.02 s for the
    blocks. A sparse ``X`` in one product.
    """
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    if design.is_sparse(X):
        return X.T @ (w[:, None] * Y2)
    total = np.zeros((Y2.shape[1], X.shape[1]))
    for sl in data_sums_blocks(X.shape[0], X.shape[1], Y2.shape[1], block_bytes):
        add_data_sums(total, X[sl], Y2[sl], w[sl])
    return total.T


def data_sums_blocks(n: int, m: int, q: int, block_bytes: int = BLOCK_BYTES):
    """The row blocks of :func:`data_sums` over a dense (n, m) ``X`` and q columns of ``Y``."""
    return row_blocks(n, m + q, block_bytes)


def add_data_sums(total: np.ndarray, Xb: np.ndarray, Yb: np.ndarray, wb: np.ndarray) -> None:
    """Add one dense block's ``(W Y_b)^T X_b`` to ``total`` (q, m), in place (:func:`data_sums`;
    :func:`dualmaxent.data._with_intercept_max` sums the same blocks while it copies them)."""
    total += (wb[:, None] * Yb).T @ Xb


def _syrk_acc(A: np.ndarray, C: np.ndarray | None, alpha: float = 1.0) -> np.ndarray:
    """``C += alpha A^T A`` on the upper triangle (C Fortran-ordered; created when None).

    ``A`` (rows, width) in C order is ``A^T`` in Fortran order, so ``dsyrk`` with ``trans=0``
    reads it without a copy. A float32 ``A`` goes through ``ssyrk`` (twice the flops per
    second, half the bytes) and its block product is added to a float64 ``C``, so that only
    the rounding inside one block is single precision, never the sum over the blocks.
    """
    At = np.ascontiguousarray(A).T
    if At.dtype == np.float32:
        block = ssyrk(alpha, At, trans=0, lower=0)
        return block.astype(np.float64) if C is None else np.add(C, block, out=C)
    if C is None:
        return dsyrk(alpha, At, trans=0, lower=0)
    return dsyrk(alpha, At, beta=1.0, c=C, trans=0, lower=0, overwrite_c=1)


def _symmetrize(U: np.ndarray) -> np.ndarray:
    """Full symmetric matrix from its upper triangle ``U``, whose strict lower triangle is zero
    (``dsyrk`` writes the upper triangle of a zero-initialised ``C``, :func:`_syrk_acc`):
    ``U + U^T`` with the diagonal halved (exact: ``(d + d) / 2 = d``). Three times faster than
    copying the triangle through index arrays at m = 51 (4 us against 28)."""
    S = U + U.T
    S.flat[::S.shape[0] + 1] *= 0.5
    return S


def gram(X: np.ndarray, d: np.ndarray, block_bytes: int = BLOCK_BYTES,
         dtype=np.float64) -> np.ndarray:
    """``X^T diag(d) X``, shape (m, m), by ``dsyrk`` on ``sqrt(d) X`` when ``d >= 0``.

    Negative entries fall back to the general product ``(X * d)^T X`` (no square root exists).
    ``dtype=numpy.float32`` forms each block's product in single precision (:func:`_syrk_acc`:
    the sum over blocks stays float64); the error is at most :func:`gram_error_bound`.
    """
    d = np.asarray(d, dtype=np.float64)
    if design.is_sparse(X):  # float64 from the stored entries (dtype ignored)
        return design.weighted_gram(X, d)
    if np.any(d < 0):
        if isinstance(X, design.DenseOnes):  # (bordered: design.weighted_gram)
            return design.weighted_gram(X, d)
        X = np.asarray(X, dtype=np.float64)
        return (X * d[:, None]).T @ X
    if isinstance(X, design.DenseOnes):
        return _bordered_gram(X.base, d, block_bytes, dtype)
    X = np.asarray(X)
    if not (dtype == np.float32 and X.dtype == np.float32):
        # (a float32 X with dtype=float32 is read as it is: its entries are the conversions
        # that the float32 blocks would make)
        X = np.asarray(X, dtype=np.float64)
    # unit weights (an unweighted fit's) in X's own precision: its own blocks, no scaled copy
    # of each (the same numbers: sqrt(1) x = x exactly). Measured (one BLAS thread, this
    # 2-core machine, m = 51): n = 10^5 24 -> 17 ms, n = 10^6 238 -> 165 ms
    unit = dtype == X.dtype and _unit(d)
    s = None if unit else np.sqrt(d)
    C = None
    with _one_blas_thread():
        for sl in row_blocks(X.shape[0], X.shape[1], block_bytes):
            C = _syrk_acc(X[sl] if unit else np.multiply(s[sl, None], X[sl], dtype=dtype), C)
    return _symmetrize(C)


def _bordered_gram(B: np.ndarray, d: np.ndarray, block_bytes: int, dtype) -> np.ndarray:
    """:func:`gram` of ``[B, 1]`` (a :class:`~dualmaxent.design.DenseOnes`), ``d >= 0``:
    ``[[B^T D B, B^T d], [d^T B, sum d]]``, the first by :func:`gram`'s blocks (``dsyrk`` on
    ``A_b = sqrt(d) B_b`` in ``dtype``, or ``B_b`` itself for unit weights), the border from
    the same blocks while they are in cache, ``A_b^T sqrt(d_b)`` in ``dtype`` (what the
    intercept's column of ``[A_b, sqrt(d_b)]`` gives a ``syrk``: so a float32 ``B`` and a
    float64 one in float32 give the same numbers), the corner ``d``'s float64 sum; each entry
    a sum over the blocks of sums over their rows, within :func:`gram_error_bound`."""
    n, p = B.shape
    unit = dtype == B.dtype and _unit(d)
    s = None if unit else np.sqrt(d)
    C = None
    border = np.zeros(p)
    corner = 0.0
    with _one_blas_thread():
        for sl in row_blocks(n, p + 1, block_bytes):
            A = B[sl] if unit else np.multiply(s[sl, None], B[sl], dtype=dtype)
            C = _syrk_acc(A, C)
            border += A.T @ (np.ones(A.shape[0], dtype=A.dtype) if unit
                             else s[sl].astype(A.dtype))
            corner += float(d[sl].sum())
    out = np.empty((p + 1, p + 1))
    out[:p, :p] = _symmetrize(C) if C is not None else 0.0
    out[:p, p] = out[p, :p] = border
    out[p, p] = corner
    return out


def _outer_rows(Pc: np.ndarray, Xb, out: np.ndarray) -> np.ndarray:
    """``out[j, a, :] = Pc[j, a] x_j``, (rows, q, m), in ``out``'s precision (the categorical
    curvature's ``Z``; a :class:`~dualmaxent.design.DenseOnes` block's last entries ``Pc``)."""
    if isinstance(Xb, design.DenseOnes):
        np.multiply(Pc[:, :, None], Xb.base[:, None, :], out=out[:, :, :-1], casting="same_kind")
        out[:, :, -1] = Pc
        return out
    return np.multiply(Pc[:, :, None], Xb[:, None, :], out=out, casting="same_kind")


def categorical_vgh(X, Y, w, theta, classes=None, hessian: bool = True,
                    block_bytes: int = BLOCK_BYTES, P_out=None, curvature_dtype=np.float64):
    """Value, gradient and curvature of the multinomial log-likelihood in one pass over ``X``.

    Parameters
    ----------
    X : ndarray of shape (n, m)
    Y : ndarray of shape (n, k)
        One-hot rows (or any rows summing to one).
    w : ndarray of shape (n,)
    theta : ndarray of shape (m, k)
    classes : sequence of int, optional
        The classes ``c_1 .. c_q`` whose curvature blocks are formed (default: all ``k``).
    hessian : bool, default True
    P_out : ndarray of shape (n, k), optional
        Filled with ``P`` (for Hessian-vector products at this point, without another pass).
    curvature_dtype : {numpy.float64, numpy.float32}
        The precision of each block's rank updates (as in :func:`glm_vgh`; error at most
        :func:`categorical_curvature_error_bound`).

    Returns
    -------
    value : float
        ``sum_j w_j sum_i Y_ji log P_ji`` (equal to ``l`` because rows of ``Y`` sum to one).
    G : ndarray of shape (m, k)
        ``X^T W (Y - P)``.
    C : ndarray of shape (q m, q m) or None
        ``-Hessian`` restricted to ``classes``, class-major (block ``(a, b)`` is
        ``X^T diag(w p_a (delta_ab - p_b)) X``).
    """
    n, m = X.shape
    k = theta.shape[1]
    classes = list(range(k)) if classes is None else list(classes)
    q = len(classes)
    value = 0.0
    G = None
    Cz = None  # Z^T Z, upper triangle, (q m, q m)
    Cd = [None] * q  # X^T diag(w p_a) X, upper triangles
    unit = _unit(w)
    with _one_blas_thread():
        for sl in blocks(X, block_bytes):
            Xb, wb = block(X, sl), w[sl]
            eta = np.asarray(Xb @ theta)
            # sum_i Y_ji log P_ji = <Y_j, eta_j> - logsumexp(eta_j): rows of Y sum to one
            inner = nx.row_dot(Y[sl], eta)
            # P written into the caller's table, or over eta; then the residual over eta (one
            # (rows, k) table beside P, where eta, eta - top and its exponential were three)
            P, lse = nx.softmax_logsumexp(eta, out=eta if P_out is None else P_out[sl])
            value += float(wb @ (inner - lse))
            del inner, lse
            if P is not eta and design.is_sparse(Xb):
                # the residual w (Y - P) a block of rows at a time inside the product, eta
                # dropped first: an (n, k) table less at the pass's peak (two were alive, eta
                # and the residual written over it, beside P and Y; each 0.26 times the sparse
                # X's bytes on text k = 20 of ``bench --sparse``)
                del eta
                G = design.add_xt(Xb, _residual_rows(Y, P, None if unit else wb),
                                  np.zeros((m, k)))
            else:
                R = np.subtract(Y[sl], P, out=None if P is eta else eta)
                del eta
                if not unit:
                    R *= wb[:, None]
                G = _accumulate(G, Xb.T @ R)
                del R
            if hessian and q and design.is_sparse(Xb):
                # block (a, b) = X^T diag(w p_a (delta_ab - p_b)) X from the stored entries,
                # kept in the upper triangle of Cz (a <= b) and Cd empty
                Cz = np.zeros((q * m, q * m)) if Cz is None else Cz
                for i, a in enumerate(classes):
                    for j in range(i, q):
                        d = wb * P[:, a] * ((a == classes[j]) - P[:, classes[j]])
                        Cz[i * m:(i + 1) * m, j * m:(j + 1) * m] -= design.weighted_gram(Xb, d)
            elif hessian and q:
                sw = np.sqrt(wb)
                Pc = P[:, classes] * sw[:, None]  # sqrt(w) p_a
                # Z = [sqrt(w) p_a X]_a in one strided write: (rows, q, m) viewed as (rows, q m)
                # (written into a C-ordered array: numpy would lay the product out like Pc, a
                # column selection in Fortran order, and the reshape would then copy it)
                Z = np.empty((Xb.shape[0], q, m), dtype=curvature_dtype)
                _outer_rows(Pc, Xb, Z)
                Cz = _syrk_acc(Z.reshape(Xb.shape[0], q * m), Cz)
                for a in range(q):
                    Cd[a] = _syrk_acc(design.scale_rows(Xb, np.sqrt(Pc[:, a] * sw),
                                                        dtype=curvature_dtype), Cd[a])
    G = np.zeros((m, k)) if G is None else G
    if not (hessian and q):
        return value, G, None
    C = -Cz
    for a in range(q):
        if Cd[a] is not None:
            C[a * m:(a + 1) * m, a * m:(a + 1) * m] += Cd[a]
    if design.is_sparse(X):  # the upper blocks are whole (a diagonal block is symmetric)
        for i in range(q):
            for j in range(i):
                C[i * m:(i + 1) * m, j * m:(j + 1) * m] = C[j * m:(j + 1) * m, i * m:(i + 1) * m].T
        return value, G, C
    return value, G, _symmetrize(C)


def _residual_rows(Y, P, w):
    """``T(lo, hi)``: rows ``lo .. hi - 1`` of ``w (Y - P)`` (``w`` None: unit weights), one
    new (rows, k) table each (:func:`dualmaxent.design.add_xt`)."""
    def rows(lo, hi):
        R = np.subtract(Y[lo:hi], P[lo:hi])
        if w is not None:
            R *= w[lo:hi, None]
        return R
    return rows


def _unit(w) -> bool:
    """Whether every weight is exactly 1 (an unweighted fit's): the kernels then skip their
    products by ``w``, which would leave every number as it is (``1 x = x`` exactly). Measured
    (one BLAS thread, this 2-core machine, n = 10^5, m = 51, three classes): the test 0.05 ms
    a pass, the skipped products about 1 ms of a 11 ms gradient pass."""
    w = np.asarray(w)  # (its extremes: no (n,) table of booleans at a pass's peak)
    return w.size > 0 and float(w.min()) == 1.0 and float(w.max()) == 1.0


def categorical_hessp(X, w, P, V, block_bytes: int = BLOCK_BYTES, dtype=np.float64):
    """Curvature-vector product ``-H V`` of the multinomial log-likelihood.

    ``(-H V)_a = X^T [w p_a (u_a - sum_b p_b u_b)]`` with ``U = X V``: two products with ``X``
    (no Hessian is formed).

    Parameters
    ----------
    X : ndarray of shape (n, m)
    w : ndarray of shape (n,)
    P : ndarray of shape (n, k)
        ``softmax(X theta)`` at the current point.
    V : ndarray of shape (m, k)
        The direction (zero in pinned entries).
    dtype : {numpy.float64, numpy.float32}
        ``float32`` converts each block (of ``X`` and ``P``, in cache) and forms both products
        in single precision, summing the blocks in float64: its error is at most
        :func:`categorical_hessp_error_bound` entrywise, and the solvers take it where the
        closed form :func:`curvature_relative_error` is small enough for conjugate gradients
        (:func:`dualmaxent.solvers._curvature_precision`). Measured at n = 10^5, m = 51,
        k = 10: 8.4 ms against 12.7 ms (the float64 products of a (block, 51) by (51, 10) run
        at a quarter of the float32 speed here). A sparse ``X`` keeps float64: its float32
        products would be faster (text k = 20 of ``bench --sparse``: ``X V`` 3.95 ms and
        ``X^T S`` 3.49 ms against 6.41 and 6.22; text k = 2 4.1 and 4.3 against 4.9 and 5.1,
        with a float32 copy of ``X``'s entries, a third of its bytes), but no bound admits
        them: the chain of ``X^T S`` runs down a whole column (the intercept's, n rows) and
        the bound above, ``gamma(L, 2**-24)`` times ``|X|^T |X|`` (spectral radius 2.4e4 and
        1.3e5 there), exceeds the penalty ``lam = 0.1``, the smallest curvature, 70 and 2000
        times, where a Newton step tolerates ``CG_FORCING_MAX = 0.1`` of it; splitting the
        column into float64-summed blocks of ``b`` rows divides that by ``n / b`` only. Tried
        too: ``X^T S`` from a CSR copy of ``X^T`` (a gather in place of scipy's CSC scatter),
        7.64 ms against 6.22 (k = 20) and 5.52 against 5.13 (k = 2), and a copy of X's bytes.

    Returns
    -------
    ndarray of shape (m, k)
    """
    n, m = X.shape
    out = None
    Vd = np.asarray(V, dtype=dtype)
    wd = None if _unit(w) else np.asarray(w, dtype=dtype)
    with _one_blas_thread():
        for sl in blocks(X, block_bytes):
            Xb = block(X, sl) if design.is_sparse(X) else design.astype(X[sl], dtype)
            Pb = np.asarray(P[sl], dtype=dtype)
            S = Xb @ Vd
            _center_scale(S, Pb, None if wd is None else wd[sl])
            out = _accumulate(out, Xb.T @ S)
    return np.zeros(V.shape) if out is None else out


def _center_scale(S, P, w, quad: bool = False) -> float | None:
    """``U = X V`` (``S``, (rows, k)) made ``w p_a (u_a - sum_b p_b u_b)`` in place, the
    product ``X^T`` of which is ``-H V`` (:func:`categorical_hessp`): the row sums by
    :func:`dualmaxent._numerics.row_dot`, three passes over ``S``. With ``quad``, returns
    ``V^T (-H) V = sum_j w_j sum_a p_ja (u_ja - ubar_j)^2`` (in its centred form, each term
    nonnegative), read before the scaling. ``w`` None (not with ``quad``): unit weights
    (:func:`_unit`; the product by them skipped)."""
    S -= nx.row_dot(S, P)[:, None]
    value = float(w @ np.einsum("ij,ij,ij->i", S, S, P)) if quad else None
    S *= P
    if w is not None:
        S *= w[:, None]
    return value


def categorical_curve(X, w, P, V) -> tuple[float, np.ndarray]:
    """``V^T (-H) V`` and the (n, k) table ``S`` with ``-H V = X^T S``, for a sparse ``X``
    (float64): conjugate gradients need the quadratic form for their step length before they
    need ``-H V``, and then only ``r - alpha (-H V)``, which :func:`dualmaxent.design.add_xt`
    adds into ``r`` from ``-alpha S`` (no (m, k) table of the product; :class:`dualmaxent.
    objective.CurvatureSystem`).

    Parameters
    ----------
    X : sparse matrix or :class:`dualmaxent.design.OnesColumn` of shape (n, m)
    w : ndarray of shape (n,)
    P : ndarray of shape (n, k)
    V : ndarray of shape (m, k)

    Returns
    -------
    quad : float
    S : ndarray of shape (n, k)
    """
    S = np.asarray(X @ V, dtype=np.float64)
    quad = _center_scale(S, P, w, quad=True)
    return quad, S


def _accumulate(total, part):
    """``total + part`` in float64, in place from the second block on; the first block's
    product is the total itself (a sparse ``X`` is one block: no zero table for it to be added
    to, one (m, k) table less at the peak of a product)."""
    if total is None:
        return np.asarray(part, dtype=np.float64)
    total += part
    return total


def _value_residual(family, Y, eta, w, resid, var=None, mean=None, work=None) -> float:
    """The family's elementwise step (:meth:`~dualmaxent.families.Family.block_value_residual`)
    on a block of rows, a chunk of them at a time (:func:`dualmaxent._numerics.row_chunks`: the
    one block of a sparse ``X`` has all ``n`` rows): returns the block's canonical
    log-likelihood and writes ``w (Y - A'(eta))`` into ``resid`` (shape (rows,), which may be
    ``eta``), ``A''(eta)`` (without the weights) into ``var`` and ``A'(eta)`` into ``mean``
    when given. ``work`` is scratch of shape (2, >= chunk rows), reused across calls.
    """
    value = 0.0
    for c in nx.row_chunks(eta.shape[0]):
        value += family.block_value_residual(
            Y[c], eta[c], w[c], resid[c], None if var is None else var[c],
            None if mean is None else mean[c], work)
    return value


def glm_vgh(X, Y, w, theta, family, hessian: bool = True, block_bytes: int = BLOCK_BYTES,
            eta_out=None, mean_out=None, curvature_dtype=np.float64):
    """Value, gradient and curvature for a one-parameter family in one pass over ``X``.

    Parameters
    ----------
    X : ndarray of shape (n, m)
    Y : ndarray of shape (n,)
    w : ndarray of shape (n,)
    theta : ndarray of shape (m,)
    family : Family
        Supplies ``A``, ``A'`` and ``A''`` of each block through
        :meth:`~dualmaxent.families.Family.block_value_residual`.
    hessian : bool, default True
    block_bytes : int, default BLOCK_BYTES
        The row blocks' size; left at its default, a pass without the curvature takes
        :data:`GRADIENT_BLOCK_BYTES`.
    eta_out, mean_out : ndarray of shape (n,), optional
        Filled with ``eta`` and with ``A'(eta)``.
    curvature_dtype : {numpy.float64, numpy.float32}
        The precision of each block's rank update ``sqrt(w A'') X`` (:func:`_syrk_acc`; error
        at most :func:`gram_error_bound` with ``d = w A''``); the value and the gradient are
        always float64.

    Returns
    -------
    value : float
    g : ndarray of shape (m,)
        ``X^T W (Y - A'(eta))``.
    C : ndarray of shape (m, m) or None
        ``X^T diag(w A''(eta)) X`` (``dsyrk`` on ``sqrt(w A'') X``).

    Notes
    -----
    Per block: ``eta = X_b theta`` written where it is kept (``eta_out``'s rows, else the
    residual's buffer, which the family's step then overwrites), the elementwise step into
    buffers allocated once per pass (at most a block's rows each; a sparse ``X``'s one block
    has ``n``), ``X_b^T`` times the residual, and with the curvature ``sqrt(w A'') X_b`` into a
    (block, m) buffer for ``dsyrk``: no copy of ``eta``, no temporary of a block's rows.
    Measured with the Bernoulli step (interleaved against the per-block temporaries and the
    copy into ``eta_out`` before; one BLAS thread, 2-core machine, best of 27): a gradient pass
    at n = 10^4, m = 11 0.147 -> 0.126 ms, m = 51 0.255 -> 0.226 ms; at n = 10^5, m = 11 1.63
    -> 1.13 ms, m = 51 4.41 -> 3.78 ms (the two products with ``X`` alone: 0.60 and 2.6 ms).
    """
    n, m = X.shape
    value = 0.0
    g = None
    C = None
    if not hessian and block_bytes == BLOCK_BYTES:
        block_bytes = GRADIENT_BLOCK_BYTES
    sparse = design.is_sparse(X)
    parts = blocks(X, block_bytes)
    rows = max((sl.stop - sl.start for sl in parts), default=0)
    resid_buf = np.empty(rows)
    var_buf = np.empty(rows) if hessian else None
    work = np.empty((2, min(rows, nx.ELEMENTWISE_ROWS)))
    scaled = None if (sparse or not hessian) else np.empty((rows, m), dtype=curvature_dtype)
    direct = (not sparse and X.dtype == np.float64 and theta.dtype == np.float64
              and theta.ndim == 1)
    # (a trial point past the Poisson mean's range has an infinite value, which is what says
    # so to the line search, and an inf residual, whose product with a zero of X is NaN: no
    # RuntimeWarning for either)
    with _one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        for sl in parts:
            Xb, wb, Yb = block(X, sl), w[sl], Y[sl]
            nb = sl.stop - sl.start
            resid = resid_buf[:nb]
            eta = resid if eta_out is None else eta_out[sl]
            if direct:
                design.product_into(Xb, theta, eta)
            else:
                eta[...] = Xb @ theta
            var = None if var_buf is None else var_buf[:nb]
            value += _value_residual(family, Yb, eta, wb, resid, var,
                                     None if mean_out is None else mean_out[sl], work)
            g = _accumulate(g, Xb.T @ resid)
            if hessian and sparse:
                C = design.weighted_gram(Xb, wb * var)  # whole, float64
            elif hessian:
                # sqrt(w A'') in place, then the scaled block written in curvature_dtype
                # directly (no float64 copy)
                np.multiply(wb, var, out=var)
                np.sqrt(var, out=var)
                A = scaled[:nb]
                if A.dtype == np.float64:
                    design.scale_rows(Xb, var, out=A)
                else:
                    # fl32(fl32(x) fl32(s)), as numpy's float32 product of the float64
                    # operands would round, from a plain conversion of the block and an
                    # in-place product: 27 us against 41 on (1285, 51) (numpy's casting
                    # loop for a broadcast operand costs more than the conversion)
                    design.write_into(Xb, A)
                    A *= var.astype(A.dtype)[:, None]
                C = _syrk_acc(A, C)
    g = np.zeros(m) if g is None else g
    if not hessian:
        return value, g, None
    return value, g, (C if sparse else _symmetrize(C))


def glm_hessp(X, d, v, block_bytes: int = BLOCK_BYTES):
    """``X^T diag(d) X v`` with ``d = w A''(eta)``, shape (m,): two products with ``X``.

    Row blocks as in :func:`categorical_hessp`: each block of ``X`` serves both products while
    it sits in cache, and the temporary is (block,), not (n,).
    """
    n, m = X.shape
    out = None
    with _one_blas_thread():
        for sl in blocks(X, block_bytes):
            Xb = block(X, sl)
            out = _accumulate(out, Xb.T @ (d[sl] * (Xb @ v)))
    return np.zeros(m) if out is None else out


def table_curvature(X, w, P, classes):
    """``-Hessian`` of the multinomial log-likelihood from a probability table ``P`` at hand.

    Block ``(a, b)`` of the classes ``classes`` is ``X^T diag(w p_a (delta_ab - p_b)) X``,
    class-major, shape (q m, q m). Plain products on the whole arrays, for the small reduced
    problems of separated data, whose ``P`` has exact zeros on the forced entries (a block that
    vanishes is skipped).
    """
    m = X.shape[1]
    classes = list(classes)
    C = np.zeros((len(classes) * m, len(classes) * m))
    for i, a in enumerate(classes):
        for j in range(i, len(classes)):
            b = classes[j]
            d = w * P[:, a] * ((a == b) - P[:, b])
            if not d.any():
                continue
            part = design.weighted_gram(X, d)
            C[i * m:(i + 1) * m, j * m:(j + 1) * m] = part
            C[j * m:(j + 1) * m, i * m:(i + 1) * m] = part.T
    return C


# -- worst-case error bounds of the float32 paths ----------------------------------------------
#
# The standard model of floating point (Higham, *Accuracy and Stability of Numerical
# Algorithms*, 2nd ed., sections 2.2 and 3.1): each operation, and each conversion of a float64
# input to the working precision, rounds with a relative error of at most the unit roundoff u
# (2**-24 for float32, 2**-53 for float64), and L such roundings on one path compound to a
# factor 1 + theta_L with |theta_L| <= gamma(L, u). So a dot product of length L satisfies
# |fl(x.y) - x.y| <= gamma(L, u) sum_i |x_i y_i| *whatever the order of its additions* (BLAS
# kernel, blocking, SIMD lanes, threads) and with or without fused multiply-adds. Every entry
# of a kernel's result is a sum of monomials in the inputs, each carrying its own 1 + theta_L
# with L the number of roundings on its path, so its error is at most gamma(L, u) times the sum
# of the monomials' absolute values: the *magnitude*, computed below in float64 from absolute
# values. Roundings in the two precisions combine by :func:`_gamma2`. The model assumes no
# underflow or overflow in the working precision (every nonzero input and intermediate between
# float32's smallest normal number, 1.2e-38, and its largest, 3.4e38).


def unit_roundoff(dtype) -> float:
    """``u = eps / 2``: 2**-24 for float32, 2**-53 for float64."""
    return float(np.finfo(dtype).eps) / 2.0


def gamma(L, u: float) -> float:
    """``gamma_L = L u / (1 - L u)``, the bound on the relative error ``|theta_L|`` that ``L``
    roundings of unit roundoff ``u`` compound to (Higham, Lemma 3.1); inf when ``L u >= 1``."""
    Lu = float(L) * u
    return Lu / (1.0 - Lu) if Lu < 1.0 else np.inf


def _gamma2(L, dtype, L64) -> float:
    """The relative error bound of ``L`` roundings in ``dtype``'s precision and ``L64`` more in
    float64: ``|(1 + theta_L(u)) (1 + theta_L64(u64)) - 1| <= g + g64 + g g64``."""
    g, g64 = gamma(L, unit_roundoff(dtype)), gamma(L64, unit_roundoff(np.float64))
    return g + g64 + g * g64


def _blocks(n: int, m: int, block_bytes: int):
    """``(b, nb)``: the rows of the longest row block (:func:`row_blocks`) and the number of
    blocks, whose results are summed in float64 (``nb - 1`` roundings)."""
    blocks = row_blocks(n, m, block_bytes)
    return max((sl.stop - sl.start for sl in blocks), default=0), len(blocks)


def _rounded_up(rel: float, M: np.ndarray, L: int) -> np.ndarray:
    """``rel * M`` enlarged to cover the float64 evaluation of the magnitude ``M`` itself (sums
    of ``L`` nonnegative terms at most, and the product by ``rel``: ``M_hat >= (1 - gamma) M``)."""
    g = gamma(L + 2, unit_roundoff(np.float64))
    return rel * M / (1.0 - g)


def gram_error_bound(X, d, dtype=np.float32, block_bytes: int = BLOCK_BYTES) -> np.ndarray:
    """Entrywise worst-case error of :func:`gram` and of :func:`glm_vgh`'s curvature.

    Both scale each row block by ``s = sqrt(d)`` (float64) and add its ``syrk`` product in
    ``dtype`` to a float64 sum over the blocks. Along the path of the monomial
    ``d_j X_ji X_ji'``, with ``c = 1`` for float32 (the conversions) and 0 for float64, ``b`` the
    rows of the longest block and ``nb`` the blocks: in ``dtype``, ``1 + 2c`` roundings for
    each of the two factors ``s_j X_j.`` (converting ``s`` and ``X``, the product) and ``b``
    for the dot product; in float64, ``nb - 1`` for the sum over the blocks and 3 for
    ``s^2 = d`` (``w * A''`` and the square root). Hence

        ``|computed - X^T diag(d) X| <= [gamma(b + 2 + 4c, u) (+) gamma(nb + 2, u64)]
        |X|^T diag(d) |X|``

    (``(+)``: :func:`_gamma2`). A ``d`` with negative entries takes :func:`gram`'s float64
    general product of length ``n`` whatever ``dtype``: ``gamma(n + 1, u64) |X|^T |d| |X|``.

    Parameters
    ----------
    X : ndarray of shape (n, m)
    d : ndarray of shape (n,)
        ``w`` for :func:`gram`, ``w * A''(eta)`` for :func:`glm_vgh` (as the family evaluates
        it; a relative change ``delta`` of ``d`` changes the bound by ``delta`` relative).
    dtype : {numpy.float32, numpy.float64}
        The kernel's ``dtype`` / ``curvature_dtype``.
    block_bytes : int
        The kernel's.

    Returns
    -------
    ndarray of shape (m, m)
        ``B`` with ``|computed - exact| <= B`` entrywise, in float64.
    """
    X = np.abs(np.asarray(X, dtype=np.float64))
    d = np.asarray(d, dtype=np.float64)
    n, m = X.shape
    if np.any(d < 0):
        rel = gamma(n + 1, unit_roundoff(np.float64))
    else:
        b, nb = _blocks(n, m, block_bytes)
        c = int(np.dtype(dtype) != np.float64)
        rel = _gamma2(b + 2 + 4 * c, dtype, nb + 2)
    return _rounded_up(rel, X.T @ (np.abs(d)[:, None] * X), n)


def categorical_curvature_error_bound(X, w, P, classes=None, dtype=np.float32,
                                      block_bytes: int = BLOCK_BYTES) -> np.ndarray:
    """Entrywise worst-case error of :func:`categorical_vgh`'s curvature in ``dtype``.

    Block ``(a, b)`` is ``X^T diag(w p_a delta_ab) X - Z_a^T Z_b``: monomials
    ``w_j p_ja (delta_ab + p_jb) |X_ji X_ji'|`` in absolute value. Each factor of a ``syrk``
    (``sqrt(w) p_a X`` of ``Z``, ``sqrt(w p_a) X`` of the diagonal blocks) takes ``1 + 2c``
    roundings in ``dtype`` (``c`` as in :func:`gram_error_bound`) and the dot product ``b``; in
    float64, at most 6 for the squared scale (``sqrt(w)``, the products, the square root),
    ``nb - 1`` for the sum over the blocks and 1 for adding the diagonal blocks:

        ``[gamma(b + 2 + 4c, u) (+) gamma(nb + 6, u64)] |X|^T diag(w p_a (delta_ab + p_b)) |X|``.

    Parameters
    ----------
    X : ndarray of shape (n, m)
    w : ndarray of shape (n,)
    P : ndarray of shape (n, k)
        ``softmax(X theta)`` at the point.
    classes : sequence of int, optional
        As in :func:`categorical_vgh` (default: all ``k``).
    dtype : {numpy.float32, numpy.float64}
        The kernel's ``curvature_dtype``.
    block_bytes : int

    Returns
    -------
    ndarray of shape (q m, q m)
        Class-major, as the curvature.
    """
    X = np.abs(np.asarray(X, dtype=np.float64))
    n, m = X.shape
    classes = list(range(P.shape[1])) if classes is None else list(classes)
    b, nb = _blocks(n, m, block_bytes)
    c = int(np.dtype(dtype) != np.float64)
    M = np.zeros((len(classes) * m, len(classes) * m))
    for i, a in enumerate(classes):
        for j, bb in enumerate(classes):
            dj = w * P[:, a] * ((a == bb) + P[:, bb])
            M[i * m:(i + 1) * m, j * m:(j + 1) * m] = X.T @ (dj[:, None] * X)
    return _rounded_up(_gamma2(b + 2 + 4 * c, dtype, nb + 6), M, n + 1)


def categorical_hessp_error_bound(X, w, P, V, dtype=np.float32,
                                  block_bytes: int = BLOCK_BYTES) -> np.ndarray:
    """Entrywise worst-case error of :func:`categorical_hessp` in ``dtype``.

    Entry ``(i, a)`` is ``sum_j X_ji w_j p_ja (u_ja - sum_b p_jb u_jb)`` with ``U = X V``, whose
    monomials have the absolute values ``|X_ji| w_j p_ja (Ubar_ja + sum_b p_jb Ubar_jb)``,
    ``Ubar = |X| |V|``. With ``c`` as in :func:`gram_error_bound`, the roundings in ``dtype``
    along the longer path (the ``sum_b p_b u_b`` term): ``m + 2c`` for ``U`` (converting ``X``
    and ``V``, the m-long product), ``1 + c`` for ``p_b u_b``, ``k - 1`` for the row sum,
    1 for the difference ``u_a - sum``, ``1 + c`` for its product by ``p_a``, ``1 + c`` for the
    weight and ``b + c`` for the ``b``-long product ``X^T S``; in float64, ``nb - 1`` for the
    sum over the blocks:

        ``[gamma(m + k + b + 3 + 6c, u) (+) gamma(nb - 1, u64)]
        |X|^T (w p_a (Ubar_a + sum_b p_b Ubar_b))``

    (float32: ``L = m + k + b + 9``).

    Parameters
    ----------
    X : ndarray of shape (n, m)
    w : ndarray of shape (n,)
    P : ndarray of shape (n, k)
        ``softmax(X theta)`` at the point.
    V : ndarray of shape (m, k)
    dtype : {numpy.float32, numpy.float64}
        The kernel's ``dtype``.
    block_bytes : int

    Returns
    -------
    ndarray of shape (m, k)
    """
    X = np.abs(np.asarray(X, dtype=np.float64))
    n, m = X.shape
    k = P.shape[1]
    b, nb = _blocks(n, m, block_bytes)
    c = int(np.dtype(dtype) != np.float64)
    Ubar = X @ np.abs(np.asarray(V, dtype=np.float64))
    T = w[:, None] * P * (Ubar + (P * Ubar).sum(axis=1, keepdims=True))
    return _rounded_up(_gamma2(m + k + b + 3 + 6 * c, dtype, max(nb - 1, 0)), X.T @ T,
                       n + m + k + 3)


def curvature_relative_error(n: int, m: int, k: int, n_params: int, dtype=np.float32,
                             block_bytes: int = BLOCK_BYTES) -> float:
    """Closed-form relative error of a curvature or curvature-vector product in ``dtype``, from
    the sizes alone (no pass over ``X``): ``gamma(L, u) p``, ``p = n_params``.

    The entrywise bounds above have the form ``|E| <= gamma(L, u) |A|^T |A|`` for a curvature
    ``C = A^T A``. Scale by ``D = diag(C)^(-1/2)``: ``D |A|^T |A| D`` is nonnegative with the
    unit diagonal of ``D C D`` (a column of ``|A|`` has the norm of that of ``A``), so
    ``||D E D||_2 <= gamma(L, u) ||D |A|^T |A| D||_2 <= gamma(L, u) trace(D |A|^T |A| D) =
    gamma(L, u) p``, while ``||D C D||_2 >= 1``; a product ``-H v`` errs by at most this
    matrix's norm times ``||v||``. ``L = b + m + k + 3 + 6c`` is the longest chain, that of
    :func:`categorical_hessp_error_bound` (the Hessians' ``b + 2 + 4c`` is shorter), ``b`` the
    rows of a block of an ``n``-row pass; the float64 sum over the ``nb`` blocks adds
    ``gamma(nb - 1, u64)``. A bound as stated for the Hessians of one-parameter families and
    of the two-class view; for the categorical curvature and products the magnitudes carry
    ``p_a (delta_ab + p_b)`` where the curvature has ``p_a (delta_ab - p_b)``, a diagonal
    ratio ``(1 + p_a) / (1 - p_a)`` (near 1 for classes of moderate probability) that this
    closed form leaves out, as the caller's condition estimate leaves out the spread of
    ``A''``.

    Parameters
    ----------
    n, m : int
        Rows and columns of ``X``.
    k : int
        Columns of ``P`` (1 for a one-parameter family).
    n_params : int
        The dimension of the curvature.
    dtype : {numpy.float32, numpy.float64}
    block_bytes : int

    Returns
    -------
    float
    """
    b, nb = _blocks(n, m, block_bytes)
    c = int(np.dtype(dtype) != np.float64)
    return _gamma2(b + m + k + 3 + 6 * c, dtype, max(nb - 1, 0)) * max(n_params, 1)
