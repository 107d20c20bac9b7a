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

import numpy as np
from scipy.special import expit, xlogy

__all__ = ["logsumexp", "log_softmax", "softmax", "entropy", "softplus", "sigmoid", "xlogx", "exp"]


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
    eta = np.asarray(eta, dtype=np.float64)
    top = eta.max(axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.log(np.exp(eta - top[:, None]).sum(axis=1)) + top


def log_softmax(eta: np.ndarray) -> np.ndarray:
    """Row-wise ``eta_ji - logsumexp(eta_j)``: log-probabilities, shape (n, k)."""
    eta = np.asarray(eta, dtype=np.float64)
    return eta - logsumexp(eta)[:, None]


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
    return np.exp(log_softmax(eta))


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


def softplus(eta: np.ndarray) -> np.ndarray:
    """Elementwise ``log(1 + exp(eta))``, stable for large ``|eta|``."""
    return np.logaddexp(0.0, np.asarray(eta, dtype=np.float64))


def sigmoid(eta: np.ndarray) -> np.ndarray:
    """Elementwise logistic function ``1 / (1 + exp(-eta))``."""
    return expit(np.asarray(eta, dtype=np.float64))


def exp(eta: np.ndarray) -> np.ndarray:
    """Elementwise ``exp(eta)``: the Poisson mean, kept here with the other exponentials."""
    return np.exp(np.asarray(eta, dtype=np.float64))
