"""The checker's quantities written out from their definitions, in float64, for the tests of
:mod:`dualmaxent.certify` (its own are the code under test): the labels' table, the
log-likelihood, the classes' probabilities at theta, the curvature ``C_SS`` and the entropy of
a point."""

from __future__ import annotations

import numpy as np
from scipy.special import softmax


def labels(ds):
    """(n, k) one-hot table of Y (Bernoulli: ``[y, 1 - y]``)."""
    Y = ds.Y.reshape(ds.n, -1)
    return Y if ds.family.multiclass else np.column_stack([Y[:, 0], 1.0 - Y[:, 0]])


def loglik(ds, theta):
    """``l(theta) = sum_j w_j (<Y_j, eta_j> - logsumexp(eta_j))`` (Bernoulli: eta and 0)."""
    eta = ds.X @ np.asarray(theta).reshape(ds.m, -1)
    if not ds.family.multiclass:
        eta = np.column_stack([eta[:, 0], np.zeros(ds.n)])
    top = eta.max(axis=1)
    lse = top + np.log(np.exp(eta - top[:, None]).sum(axis=1))
    return float(ds.weights @ ((labels(ds) * eta).sum(axis=1) - lse))


def probabilities(ds, theta):
    """The classes' probabilities at theta, (n, k), from the definitions; for the Bernoulli
    family ``[p, 1 - p]`` with ``p`` the mean (its curvature ``p (1 - p)`` is then the first
    class's ``J``)."""
    eta = ds.X @ theta
    if ds.family.multiclass:
        return softmax(eta, axis=1)
    p = 1.0 / (1.0 + np.exp(-eta))
    return np.column_stack([p, 1.0 - p])


def full_curvature(ds, theta, sel, absolute=False):
    """``C_SS = X^T W J X`` on the entries ``sel`` (class-major ``c m + i``) at theta, from its
    definition (``J_j = diag(p_j) - p_j p_j^T``; the Bernoulli family's ``p (1 - p)``);
    ``absolute``: the same sums of the terms' absolute values."""
    m = ds.m
    P = probabilities(ds, theta)
    cls, feat = np.divmod(sel, m)
    C = np.empty((sel.size, sel.size))
    for a in range(sel.size):
        for b in range(sel.size):
            c, d = cls[a], cls[b]
            term = (ds.weights * P[:, c] * ((c == d) - P[:, d])
                    * ds.X[:, feat[a]] * ds.X[:, feat[b]])
            C[a, b] = np.abs(term).sum() if absolute else term.sum()
    return C


def entropy(ds, mu):
    """``H(mu) = -sum_j w_j sum_c mu_jc log mu_jc`` (0 log 0 = 0), written out here."""
    P = np.asarray(mu, dtype=float).reshape(ds.n, -1)
    if not ds.family.multiclass:
        P = np.column_stack([P[:, 0], 1.0 - P[:, 0]])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(P > 0, P * np.log(P), 0.0)
    return -float(ds.weights @ terms.sum(axis=1)), float(ds.weights @ np.abs(terms).sum(axis=1))
