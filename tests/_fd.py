"""Central finite differences, the one helper the derivative tests share.

Central differences ``(f(x + h e) - f(x - h e)) / (2 h)`` have an error ``O(h^2 f''')`` plus the
round-off ``O(eps |f| / h)``; ``h = 1e-6`` balances the two for the O(1)-scaled functions of these
tests, so agreement to about 1e-7 relative is what to expect.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STEP", "gradient", "hessian", "jacobian", "rowwise_derivative"]

#: The default step: near the cube root of machine epsilon times the scale of x.
STEP = 1e-6


def jacobian(f, x, h: float = STEP) -> np.ndarray:
    """``d f(x) / d x`` of an array-valued ``f``: shape ``f(x).shape + x.shape``."""
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        e = e.reshape(x.shape)
        columns.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    out = np.stack(columns, axis=-1)
    return out.reshape(out.shape[:-1] + x.shape)


def gradient(f, x, h: float = STEP) -> np.ndarray:
    """The gradient of a scalar ``f`` at ``x``, of the shape of ``x``."""
    return jacobian(lambda z: np.float64(f(z)), x, h)


def hessian(grad, x, h: float = STEP) -> np.ndarray:
    """The Hessian as the Jacobian of the gradient ``grad`` at a vector ``x``: shape (p, p)."""
    return jacobian(grad, x, h)


def rowwise_derivative(f, x, h: float = STEP) -> np.ndarray:
    """``d f(x)_j / d x_j`` for a function that acts on each row (or entry) of ``x`` alone.

    ``x`` of shape (n,): the derivative of an elementwise ``f``, shape (n,). ``x`` of shape
    (n, k) with ``f(x)`` of shape (n,): ``out[j, i] = d f(x)_j / d x_ji``, shape (n, k). Every row
    is perturbed at once, which is exact because rows do not interact.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return (np.asarray(f(x + h)) - np.asarray(f(x - h))) / (2 * h)
    out = np.empty_like(x)
    for i in range(x.shape[1]):
        e = np.zeros(x.shape[1])
        e[i] = h
        out[:, i] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h)
    return out
