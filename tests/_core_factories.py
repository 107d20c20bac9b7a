"""Small seeded data sets with known properties, for the core tests."""

import numpy as np

from dualmaxent import Dataset


def overlapping(n=200, p=3, k=3, seed=0, scale=1.0):
    """k Gaussian classes with heavy overlap: the likelihood has a finite maximiser."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    centers = rng.normal(scale=0.7, size=(k, p))
    X = centers[labels] + rng.normal(scale=scale, size=(n, p))
    return Dataset.from_arrays(X, labels, name=f"overlap-k{k}")


def separable(n=40, seed=0):
    """Two classes split by the sign of the first feature (complete separation)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    X[:, 0] += np.where(np.arange(n) % 2 == 0, 3.0, -3.0)
    y = np.where(X[:, 0] > 0, "pos", "neg")
    return Dataset.from_arrays(X, y, name="separable")
