"""Numerics in one place: log-sum-exp, softmax, log-softmax, entropy.

No other module of dualmaxent exponentiates a linear predictor; they all call these functions.
Everything is float64 and in natural logarithms (nats).

Conventions
-----------
``eta`` is an array of linear predictors of shape (n, k), one row per observation and one column
per class. Reductions run over the class axis (axis 1). The entropy of a table ``P`` of shape
(n, k) is the *sum* over observations, ``H(P) = -sum_ij w_j P_ij log P_ij``, with ``0 log 0 = 0``
(``scipy.special.xlogy``), as CVXPY's ``entr`` atom defines it.
"""

from __future__ import annotations

import contextlib

import numpy as np
from scipy.linalg.blas import daxpy
from scipy.linalg.lapack import dpotrf, dpotrs
from scipy.special import expit, xlogy

__all__ = ["logsumexp", "logsumexp_parts", "log_softmax", "softmax", "softmax_logsumexp",
           "entropy", "softplus", "sigmoid", "bernoulli_value_residual", "unique_inverse", "xlogx",
           "exp", "column_absmax", "ELEMENTWISE_ROWS", "row_chunks", "axpy", "row_dot"]


def logsumexp(eta: np.ndarray) -> np.ndarray:
    """Row-wise ``log(sum_i exp(eta_ji))``, computed stably.

    Parameters
    ----------
    eta : ndarray of shape (n, k)

    Returns
    -------
    ndarray of shape (n,)

    Notes
    -----
    The row maximum is subtracted before exponentiating, so no term exceeds ``exp(0) = 1`` and
    the sum lies in ``[1, k]``: no overflow, and underflow only of terms that cannot matter.
    """
    top, rest = logsumexp_parts(eta)
    return rest + top


def logsumexp_parts(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`logsumexp` as its two parts, ``(top, rest)`` with ``logsumexp = rest + top``.

    Parameters
    ----------
    eta : ndarray of shape (n, k)

    Returns
    -------
    top : ndarray of shape (n,)
        The row maximum (0 for a row of ``-inf``).
    rest : ndarray of shape (n,)
        ``log(sum_i exp(eta_ji - top_j))``, in ``[0, log k]``.

    Notes
    -----
    A log-likelihood term ``<Y_j, eta_j> - logsumexp(eta_j)`` formed as ``<Y_j, eta_j - top_j>
    - rest_j`` (rows of ``Y`` summing to 1) has a rounding error of the size of the term itself
    plus a few ``k u``, where formed from ``logsumexp`` it is ``u |eta_j|``: the difference of
    two large numbers when the row's own class dominates (separated data, whose terms tend to 0).
    """
    eta = np.asarray(eta, dtype=np.float64)
    top = _row_top(eta)
    return top, np.log(_row_sum(np.exp(eta - top[:, None])))


#: Below this many columns the row maximum and sum go column by column (numpy's reductions
#: along a short last axis take several times longer: 0.66 ms against 0.16 ms for the softmax
#: of a (10^4, 3) table, measured on this 2-core machine).
_FEW_COLUMNS = 16


def _row_top(eta: np.ndarray) -> np.ndarray:
    """The row maximum, 0 where it is not finite (a row of ``-inf``: every class excluded)."""
    if eta.shape[1] < _FEW_COLUMNS:
        top = eta[:, 0].copy()
        for c in range(1, eta.shape[1]):
            np.maximum(top, eta[:, c], out=top)
    else:
        top = eta.max(axis=1)
    top[~np.isfinite(top)] = 0.0
    return top


def _row_sum(E: np.ndarray) -> np.ndarray:
    """The row sums, in ``E``'s precision: a matrix-vector product for few columns, a reduction
    otherwise."""
    if E.shape[1] == 1:  # (a copy: numpy's product of inner dimension 1 runs no BLAS kernel)
        return E[:, 0].copy()
    return (E @ np.ones(E.shape[1], dtype=E.dtype) if E.shape[1] < _FEW_COLUMNS
            else E.sum(axis=1))


def row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise ``sum_i a_ji b_ji`` of two (n, k) tables, in their precision: for few columns
    the product of ``a * b`` with ones (:func:`_row_sum`; a (n, k) temporary), else einsum (no
    temporary). Measured on (1285, 3) float32 blocks (this 2-core machine): 9.8 us against
    einsum's 16.4; ten columns 19.4 against 20.8."""
    if a.shape[1] < _FEW_COLUMNS:
        return _row_sum(a * b)
    return np.einsum("ij,ij->i", a, b)


def log_softmax(eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Row-wise ``eta_ji - logsumexp(eta_j)``: log-probabilities, shape (n, k), written into
    ``out`` when given (float64, ``eta`` itself allowed)."""
    eta = np.asarray(eta, dtype=np.float64)
    return np.subtract(eta, logsumexp(eta)[:, None], out=out)


def softmax_logsumexp(eta: np.ndarray, out: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(softmax(eta), logsumexp(eta))`` row-wise from one exponential per entry.

    The same stabilisation as :func:`logsumexp` (the row maximum subtracted); the kernels'
    pass needs both, and ``exp(log_softmax)`` would take a second exponential per entry.

    Parameters
    ----------
    eta : ndarray of shape (n, k)
    out : ndarray of shape (n, k), optional
        Where to write ``softmax(eta)``, float64; ``eta`` itself is allowed (it is then
        overwritten). Without it a new table holds it. Why: the kernels' pass formed
        ``eta - top`` and its exponential as two more (n, k) tables beside ``eta`` and the
        kept probabilities (each 0.26 times the sparse X's bytes on text k = 20 of ``bench
        --sparse``, at the solve's peak); written over the kept table, none.

    Returns
    -------
    P : ndarray of shape (n, k)
        ``out`` when given.
    lse : ndarray of shape (n,)
    """
    eta = np.asarray(eta, dtype=np.float64)
    top = _row_top(eta)
    E = np.subtract(eta, top[:, None], out=out)
    np.exp(E, out=E)
    s = _row_sum(E)
    E /= s[:, None]
    return E, np.log(s) + top


def softmax(eta: np.ndarray) -> np.ndarray:
    """Row-wise softmax ``exp(eta_ji) / sum_t exp(eta_jt)``: probabilities, shape (n, k).

    Two columns take ``p_0 = sigmoid(eta_0 - eta_1)`` and ``p_1 = sigmoid(eta_1 - eta_0)``
    (each accurate to its own relative precision, also when the other is close to 1): the
    same probabilities in a quarter of the time (0.06 s against 0.015 s at n = 10^6 measured in
    the projected point's pass).
    """
    eta = np.asarray(eta, dtype=np.float64)
    if eta.ndim == 2 and eta.shape[1] == 2 and np.isfinite(eta).all():
        d = eta[:, 0] - eta[:, 1]
        return np.column_stack([expit(d), expit(-d)])
    return softmax_logsumexp(eta)[0]


def xlogx(p: np.ndarray) -> np.ndarray:
    """Elementwise ``p log p`` with ``0 log 0 = 0``; ``nan`` for negative ``p``."""
    p = np.asarray(p, dtype=np.float64)
    return xlogy(p, p)


def entropy(P: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Total entropy ``-sum_j w_j sum_i P_ji log P_ji`` in nats.

    Parameters
    ----------
    P : ndarray of shape (n, k) or (n,)
        Probabilities. Entries below zero (solver round-off) count as zero; report them
        separately, as :func:`dualmaxent.verify` does.
    weights : ndarray of shape (n,), optional
        Observation weights; ones when omitted.
    """
    P = np.clip(np.asarray(P, dtype=np.float64), 0.0, None)
    per_row = -xlogx(P)
    if per_row.ndim == 2:
        per_row = per_row.sum(axis=1)
    if weights is None:
        return float(per_row.sum())
    return float(np.dot(weights, per_row))


#: The rows an elementwise step over (n,) vectors takes at a time (:func:`row_chunks`): its
#: temporaries stay in cache, and over a sparse ``X``, one block of all ``n`` rows, they are
#: (32768,) rather than (n,). Measured on the categorical problem of ``bench --sparse``
#: (n = 10^5, Bernoulli; tracemalloc): the solve's peak fell from 18.6 to 15.1 MB (2.44 to
#: 1.98 times the sparse X's bytes), with no change in a pass's time there or on dense X at
#: n = 10^4..10^6 (one BLAS thread, 2-core machine); 8192 rows cost a dense pass at n = 10^4,
#: m = 11 a tenth (its one block split in two).
ELEMENTWISE_ROWS = 1 << 15


def axpy(x: np.ndarray, y: np.ndarray, a: float) -> np.ndarray:
    """``y + a x``, in place in ``y`` when it is a contiguous float64 vector of ``x``'s shape
    (BLAS's daxpy: one pass, one rounding per entry or two without a fused multiply-add); else
    numpy's, into a new array. Use the returned array (BLAS's wrapper may have copied)."""
    if y.dtype == np.float64 and y.flags.c_contiguous and x.shape == y.shape and y.ndim == 1:
        return daxpy(np.asarray(x, dtype=np.float64), y, a=a)
    return y + a * x


def cholesky(N: np.ndarray, clean: bool = False, overwrite: bool = False) -> np.ndarray:
    """The lower Cholesky factor of the symmetric positive definite ``N`` (p, p), by LAPACK's
    ``dpotrf`` directly: the factor scipy's ``cholesky`` computes, the same numbers, without its
    wrapper (9 us at p = 11, 30 at p = 51, against 1 to 2 us for the call itself; a Newton step
    is about 0.2 ms at n = 10^3). The upper triangle is left as ``N``'s unless ``clean`` (zeros,
    for a caller that reads the whole factor); ``overwrite``: ``N`` itself may be written (a
    Fortran-ordered copy the caller made for it). ``numpy.linalg.LinAlgError`` when ``N`` is
    not positive definite (or not finite: LAPACK does not check, so neither is factored)."""
    L, info = dpotrf(N, lower=1, clean=int(clean), overwrite_a=int(overwrite))
    if info != 0:
        raise np.linalg.LinAlgError(f"the matrix is not positive definite (dpotrf info {info})")
    return L


def cho_solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``N^-1 b`` from :func:`cholesky`'s factor ``L`` of ``N`` (``dpotrs``, which reads the lower
    triangle only): scipy's ``cho_solve`` without its wrapper."""
    if b.size == 0:  # (dpotrs refuses empty arrays)
        return np.array(b, dtype=np.float64)
    x, info = dpotrs(L, b, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"dpotrs info {info}")
    return x


def row_chunks(n: int, width: int = 1, entries: int | None = None,
               min_rows: int = 1) -> list[slice]:
    """Consecutive slices covering ``range(n)``, each of at most ``entries`` (default
    :data:`ELEMENTWISE_ROWS`) entries of an (n, width) table, and at least ``min_rows`` rows."""
    entries = ELEMENTWISE_ROWS if entries is None else entries
    step = max(min_rows, entries // max(width, 1), 1)
    return [slice(lo, min(lo + step, n)) for lo in range(0, n, step)]


def softplus(eta: np.ndarray) -> np.ndarray:
    """Elementwise ``log(1 + exp(eta))``, stable for large ``|eta|``."""
    return np.logaddexp(0.0, np.asarray(eta, dtype=np.float64))


def log_sigmoid_pair(eta: np.ndarray) -> np.ndarray:
    """``[log sigmoid(-eta), log sigmoid(eta)]`` of log-odds ``eta`` (n,): the two classes'
    log-probabilities, shape (n, 2), from one exponential and one ``log1p`` per row.

    ``log sigmoid(-eta) = -softplus(eta) = -max(eta, 0) - a`` and ``log sigmoid(eta) =
    min(eta, 0) - a``, with ``a = log1p(exp(-|eta|))`` in ``[0, log 2]``: no overflow, each
    to its own relative precision (two terms of one sign). Measured against
    ``-softplus([eta, -eta])`` (two ``logaddexp`` per row), n = 10^5: 5.3 -> 1.6 ms.
    """
    eta = np.asarray(eta, dtype=np.float64)
    out = np.empty((eta.shape[0], 2))
    a = np.log1p(np.exp(-np.abs(eta)))
    np.maximum(eta, 0.0, out=out[:, 0])
    np.negative(out[:, 0], out=out[:, 0])
    out[:, 0] -= a
    np.minimum(eta, 0.0, out=out[:, 1])
    out[:, 1] -= a
    return out


def bernoulli_value_residual(eta: np.ndarray, y: np.ndarray, w: np.ndarray, resid: np.ndarray,
                             var: np.ndarray | None = None, mean: np.ndarray | None = None,
                             work: np.ndarray | None = None) -> float:
    """The Bernoulli pass's elementwise step, from one exponential per row: returns the
    log-likelihood ``sum_j w_j [y_j eta_j - softplus(eta_j)]`` and writes the weighted residual
    ``w (y - sigmoid(eta))`` into ``resid`` and, when given, ``sigmoid(eta) (1 - sigmoid(eta))``
    into ``var`` and ``sigmoid(eta)`` into ``mean``.

    Parameters
    ----------
    eta, y, w : ndarray of shape (rows,)
        Linear predictors, responses in ``[0, 1]``, weights (nonnegative).
    resid : ndarray of shape (rows,)
        Output; may be ``eta`` itself (read for the last time before it is written).
    var, mean : ndarray of shape (rows,), optional
        Outputs (views of a longer array are fine).
    work : ndarray of shape (2, >= rows), optional
        Scratch, reused across calls by the kernels: no temporary of ``rows`` floats is
        allocated (13 ufunc calls, 15 with ``var`` and ``mean``, and two dot products).

    Returns
    -------
    float

    Notes
    -----
    With ``e = exp(-|eta|)`` (in ``[0, 1]``: no overflow) and ``h = 1 - signbit(eta)`` (1 for
    ``eta >= +0``, 0 for ``eta <= -0``: the sign bit, as ``copysign`` below reads it),

    * ``sigmoid(eta) = h - s``, with ``s = copysign(e / (1 + e), eta)``: ``1 - e / (1 + e)``
      or ``e / (1 + e)``, each accurate to its own relative precision;
    * ``y - sigmoid(eta) = (y - h) + s``: exact for ``y = h`` (the term ``s``), one rounding of
      a sum of terms of one sign otherwise;
    * ``y eta - softplus(eta) = (y - h) eta - log1p(e)``, as ``softplus(eta) = max(eta, 0) +
      log1p(e)``: two terms of one sign (``<= 0`` for ``y`` in ``[0, 1]``), summed over the
      rows as two dot products of terms of one sign each, so no cancellation anywhere;
    * ``sigmoid(eta) (1 - sigmoid(eta)) = (e / (1 + e)) / (1 + e)``, with no ``1 - p`` (which
      loses the relative precision of a probability near 1: ``p (1 - p)`` is 0 beyond
      ``|eta| > 37``).

    Rounding (the standard model, unit roundoff ``u = 2**-53``, and ``exp`` and ``log1p``
    within ``f u`` relatively): ``e`` carries ``f u``, ``log1p(e)`` ``2 f u`` (the condition of
    ``log1p`` at ``e > 0`` is at most 1), ``e / (1 + e)`` ``(2 f + 2) u`` (the sum ``1 + e``
    perturbed by at most ``f u`` relatively and rounded, the quotient rounded); so, to first
    order, per row, ``sigmoid`` within ``(2 f + 3) u`` relatively (``1 - t`` for ``t <= 1/2``
    adds one rounding and no more relative error than ``t``'s), ``y - sigmoid`` within
    ``(2 f + 3) u (|y - h| + e / (1 + e))`` (``(2 f + 3) u |y - sigmoid|`` for ``y`` in
    ``{0, 1}``) and ``w (y - sigmoid)`` one ``u`` more, ``sigmoid (1 - sigmoid)`` within
    ``(3 f + 4) u``, and the sum within ``(gamma(rows + 3) + 2 f u) sum_j w_j loss_j`` (the
    rounding of ``y - h``, of the product by ``w``, of the product by ``eta``, the ``rows - 1``
    additions of a dot product, the final sum), a relative error of the log-likelihood itself,
    ``loss_j = -(y_j - h_j) eta_j + log1p(e_j) >= 0``. Results below the smallest
    normal number (``|eta| > 708``) add an absolute ``2**-1074`` per rounding.
    ``tests/test_numerics.py`` checks these against 50-digit decimal arithmetic at ``f = 8``
    (four units in the last place).

    An infinite ``eta`` gives a log-likelihood that is not finite (``-inf`` or NaN: ``0 inf``
    for ``y = h``), which a line search rejects as it rejects any non-finite value; its mean,
    residual and variance are the limits.

    Measured (one BLAS thread, 2-core machine, ns per row at 5140 and 23831 rows, the blocks
    of a gradient pass at m = 51 and m = 11): 5.9 and 5.2, against 8.2 and 34 for the step it
    replaced (``sigmoid_bernoulli_loss``, ``mu (1 - mu)`` and the residual: about 24 calls and
    eight (rows,) temporaries, 190 kB each at 23831 rows, past glibc's ``mmap`` threshold, so
    that every one was a fresh mapping and its page faults). Not faster: ``log1p(e)`` as
    ``log(1 + e)`` plus its rounding error ``(e - ((1 + e) - 1)) / (1 + e)`` (four calls for
    one, 1.9 against 1.0 ns per row); the mean by ``numpy.where`` (0.9 ns per row, against
    0.6 for ``copysign``); chunks of 4096 or 8192 rows inside a block (the calls' cost).
    """
    rows = eta.shape[0]
    work = np.empty((2, rows)) if work is None else work
    e, t = work[0, :rows], work[1, :rows]
    np.abs(eta, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)                                     # e = exp(-|eta|)
    np.log1p(e, out=t)
    value = -float(w @ t)                                # -sum w log1p(e)
    np.add(e, 1.0, out=t)
    np.divide(e, t, out=e)                               # e / (1 + e) = sigmoid(-|eta|)
    if var is not None:
        np.divide(e, t, out=var)
    h = np.signbit(eta)
    np.logical_not(h, out=h)
    np.subtract(y, h, out=t)                             # y - h
    np.copysign(e, eta, out=e)                           # s
    if mean is not None:
        np.subtract(h, e, out=mean)
    np.add(e, t, out=e)                                  # y - sigmoid(eta)
    np.multiply(t, w, out=t)
    value += float(t @ eta)                              # sum w (y - h) eta
    np.multiply(e, w, out=resid)
    return value


def sigmoid(eta: np.ndarray) -> np.ndarray:
    """Elementwise logistic function ``1 / (1 + exp(-eta))``."""
    return expit(np.asarray(eta, dtype=np.float64))


def exp(eta: np.ndarray) -> np.ndarray:
    """Elementwise ``exp(eta)``: the Poisson mean, kept here with the other exponentials.
    Above ``log(max float)`` (709.78) it is ``inf``, said by the value it gives (a trial
    point's infinite objective, which a line search declines), not by a RuntimeWarning."""
    with np.errstate(over="ignore"):
        return np.exp(np.asarray(eta, dtype=np.float64))


def unique_inverse(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.unique(y, return_inverse=True)`` for a 1-d array, by counting when ``y`` holds
    small non-negative integers (class codes, counts).

    ``numpy.unique`` sorts (an argsort, 1.1 ms at n = 10^5); codes in ``[0, K]`` with ``K`` at
    most twice ``n`` are found by :func:`numpy.bincount` and mapped to their ranks by a lookup
    table, O(n + K) (0.2 ms there). Other arrays go to ``numpy.unique``.
    """
    y = np.asarray(y).reshape(-1)
    if y.dtype.kind == "b":
        y_int = y.view(np.uint8)
    elif y.dtype.kind in "iu":
        y_int = y
    else:
        return np.unique(y, return_inverse=True)
    if y.size == 0 or y_int.min() < 0 or int(y_int.max()) > 2 * y.size + 1024:
        return np.unique(y, return_inverse=True)
    present = np.flatnonzero(np.bincount(y_int))
    rank = np.zeros(present[-1] + 1, dtype=np.intp)
    rank[present] = np.arange(present.size)
    return present.astype(y.dtype), rank[y_int]


#: :func:`column_absmax` folds this many entries of a C-ordered array's consecutive rows into
#: one line of its reductions (16 rows of 51 columns: 816).
_FOLD_ENTRIES = 800


def column_absmax(a: np.ndarray) -> np.ndarray:
    """The largest absolute entry of each column of ``a`` (shape (n, m) -> (m,); zeros for n = 0).

    numpy's column reduction of a tall, narrow C-ordered array walks it one short row at a
    time, several times slower than over long rows. A C-ordered ``a`` is read as lines of ``g``
    consecutive rows (``g m`` about :data:`_FOLD_ENTRIES` entries: the same memory, no copy),
    whose column maxima and minima are taken, then folded over the ``g`` rows of a line: no
    ``|a|`` is formed. A Fortran-ordered ``a`` (class-major tables, pandas' frames) has its
    columns' maxima and minima taken down the contiguous columns. Any other layout by halving:
    the top half of ``|a|`` takes the elementwise maximum with the bottom half until one row is
    left. All are exact (maxima, minima and negation round nothing); a NaN reaches its column's
    answer, as with numpy. Measured (one thread, this 2-core machine): blocks of 1285 rows of
    51 columns in cache, n = 10^5 in all, 6.7 ms by halving, 3.5 ms folded; Fortran order,
    (10^5, 51) 13.8 ms by halving, 3.3 ms down the columns, (4600, 3) 62 against 11 us.
    """
    a = np.asarray(a)
    n, m = a.shape
    if n == 0:
        return np.zeros(m)
    if a.flags.c_contiguous and m:
        g = max(1, _FOLD_ENTRIES // m)
        r = n - n % g
        parts = []
        if r:
            lines = a[:r].reshape(r // g, g * m)
            hi = lines.max(axis=0)
            lo = lines.min(axis=0)
            np.negative(lo, out=lo)
            parts.append(np.maximum(hi, lo, out=hi).reshape(g, m))
        if r < n:
            parts.append(np.abs(a[r:]))
        top = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return np.abs(top.max(axis=0))  # (abs: a column of -0.0 only gives 0.0)
    if a.flags.f_contiguous and m:
        lo = a.min(axis=0)
        return np.abs(np.maximum(a.max(axis=0), np.negative(lo, out=lo), out=lo))
    top = np.abs(a)
    while top.shape[0] > 1:
        h = top.shape[0] // 2
        head = top[:h]
        np.maximum(head, top[h:2 * h], out=head)
        if top.shape[0] % 2:
            np.maximum(head[0], top[2 * h], out=head[0])
        top = head
    return top[0]


_CONTROLLER = []
_NESTED = contextlib.nullcontext()  # (reusable: entering it does nothing)


def one_blas_thread():
    """Context manager limiting BLAS to one thread (a no-op without ``threadpoolctl``).

    The passes work on row blocks in cache and the small (m, m) factorisations on matrices
    where OpenBLAS's threads cost more than they give (and far more on busy cores, where they
    wait for each other); the checker and the kernels run their own two threads instead.

    Re-entrant: inside a limit already set (a whole solve sets one around its passes) it does
    nothing, since setting a limit costs tens of microseconds, as much as a pass at n = 1e3.
    Nor does it set one where every BLAS library already runs one thread (the process's own
    limit, :func:`_blas_single`): reading the libraries' thread counts costs about 2 us, setting
    and restoring the limit about 20 us (measured, two OpenBLAS libraries, this 2-core machine).
    A nested call returns a shared no-op context, not a generator's: 0.2 against 2 us, about
    ten of them a small fit.
    """
    if _LIMITED[0]:
        return _NESTED
    return _limited_blas()


@contextlib.contextmanager
def _limited_blas():
    """:func:`one_blas_thread`'s outermost limit."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER.append(None)
        else:
            _CONTROLLER.append(ThreadpoolController())
    ctl = _CONTROLLER[0]
    if ctl is None or _LIMITED[0]:
        yield
        return
    limit = (contextlib.nullcontext() if _blas_single(ctl)
             else ctl.limit(limits=1, user_api="blas"))
    with limit:
        _LIMITED[0] += 1  # (nested calls return at the depth test above, reading nothing)
        try:
            yield
        finally:
            _LIMITED[0] -= 1


_LIMITED = [0]  # the depth of one_blas_thread (the limit is one per process, as BLAS's is)


def _blas_single(ctl) -> bool:
    """Whether every BLAS library ``ctl`` (a ``threadpoolctl.ThreadpoolController``) found runs
    one thread now (its current count read from the library itself). False when one runs
    more, reports no count, or none was found (then the limit is set as usual)."""
    libs = [lib for lib in ctl.lib_controllers if lib.user_api == "blas"]
    return bool(libs) and all(lib.num_threads == 1 for lib in libs)
