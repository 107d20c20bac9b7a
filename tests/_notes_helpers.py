"""The notes' own definitions that dualmaxent does not compute (cross-entropy, KL divergence),
and the finite differences of ``tests/_fd.py`` in the flattened layout the notes' tests use.
"""

from __future__ import annotations

import numpy as np

import _fd

central_gradient = _fd.gradient


def central_jacobian(g, x, h: float = _fd.STEP) -> np.ndarray:
    """Jacobian of an array-valued ``g`` as a matrix of shape (g(x).size, x.size).

    ``x`` is flattened in C order, as ``theta.ravel()`` is and the kernels' class-major blocks are
    not: callers that compare with a class-major Hessian pass ``theta.T`` (see test_notes).
    """
    x = np.asarray(x, dtype=np.float64)
    return _fd.jacobian(lambda z: np.ravel(g(z)), x, h).reshape(-1, x.size)


def cross_entropy(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``H(p, q) = -sum_x p(x) log q(x)`` over the last axis (information-theory note, sec. 2)."""
    return -np.sum(p * np.log(q), axis=-1)


def kl_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``D_KL(p || q) = -sum_x p(x) log(q(x) / p(x))`` over the last axis, as the note prints it."""
    return -np.sum(p * np.log(q / p), axis=-1)
