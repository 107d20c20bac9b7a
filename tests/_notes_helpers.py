"""Numerical pieces shared by ``tests/test_notes.py``: central differences and the notes' own
definitions that dualmaxent does not compute (cross-entropy, KL divergence).

Private to the notes' tests for now: ``tests/_fd.py`` (written on another branch) is the suite's
finite-difference helper, and the two are to be unified when both branches are merged.
"""

from __future__ import annotations

import numpy as np

#: Central-difference step: the error is O(h^2) and the round-off O(eps / h); 1e-6 balances them
#: to about 1e-9 relative for the smooth, O(1)-scaled functions of the notes.
STEP = 1e-6


def central_gradient(f, x, h: float = STEP) -> np.ndarray:
    """Gradient of a scalar function by central differences.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : ndarray of any shape
    h : float

    Returns
    -------
    ndarray of the shape of ``x``
        ``(f(x + h e_i) - f(x - h e_i)) / (2 h)`` for each entry ``i``.
    """
    return central_jacobian(lambda z: np.atleast_1d(f(z)), x, h)[0].reshape(np.shape(x))


def central_jacobian(g, x, h: float = STEP) -> np.ndarray:
    """Jacobian of an array-valued function by central differences.

    Parameters
    ----------
    g : callable
        ``g(x) -> ndarray``; its output is flattened.
    x : ndarray of any shape
        Flattened in C order, as ``theta.ravel()`` and the kernels' class-major blocks are not:
        callers that compare with a class-major Hessian pass ``theta.T`` (see test_notes).
    h : float

    Returns
    -------
    ndarray of shape (g(x).size, x.size)
    """
    x = np.asarray(x, dtype=np.float64)
    flat = x.ravel()
    columns = []
    for i in range(flat.size):
        e = np.zeros_like(flat)
        e[i] = h
        up = np.ravel(g((flat + e).reshape(x.shape)))
        down = np.ravel(g((flat - e).reshape(x.shape)))
        columns.append((up - down) / (2 * h))
    return np.column_stack(columns)


def cross_entropy(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``H(p, q) = -sum_x p(x) log q(x)`` over the last axis (information-theory note, sec. 2)."""
    return -np.sum(p * np.log(q), axis=-1)


def kl_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``D_KL(p || q) = -sum_x p(x) log(q(x) / p(x))`` over the last axis, as the note prints it."""
    return -np.sum(p * np.log(q / p), axis=-1)
