"""Small seeded data factories shared by the tests (one per family, plus helpers).

Every factory draws from the family's own model with modest coefficients, so the data are not
separated and the likelihood has a finite maximiser; the sizes keep each CVXPY solve well under a
second. ``make_arrays(family)`` returns the raw ``(X, y)`` (features without the intercept), and
``make_dataset(family, weights=...)`` wraps them in a :class:`dualmaxent.Dataset`.
``overlapping`` (k overlapping Gaussian classes) and ``separable`` (complete separation) are the
core tests' categorical sets.
"""

from __future__ import annotations

import numpy as np

from dualmaxent import Dataset

FAMILIES = ("categorical", "bernoulli", "poisson", "gaussian")

#: Penalty strengths that leave some, but not all, L1 coefficients at zero on these data (checked
#: by tests/test_penalties.py) and shrink the L2 fit visibly.
L2_LAMBDA = {"categorical": 5.0, "bernoulli": 4.0, "poisson": 20.0, "gaussian": 30.0}
L1_LAMBDA = {"categorical": 6.0, "bernoulli": 5.0, "poisson": 15.0, "gaussian": 25.0}


def make_arrays(family: str, n: int | None = None, seed: int = 0):
    """Features ``X`` of shape (n, p) (no intercept) and a response ``y`` of shape (n,)."""
    rng = np.random.default_rng(seed)
    if family == "categorical":
        n = n or 90
        X = rng.normal(size=(n, 3))
        theta = np.array([[1.0, -0.5, 0.0], [0.3, 0.8, 0.0], [0.05, -0.05, 0.0]])
        eta = X @ theta + np.array([0.2, -0.1, 0.0])
        P = np.exp(eta - eta.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        labels = np.array(["a", "b", "c"])
        y = labels[[rng.choice(3, p=p) for p in P]]
    elif family == "bernoulli":
        n = n or 80
        X = rng.normal(size=(n, 3))
        eta = X @ np.array([1.0, -0.7, 0.05]) + 0.3
        y = np.where(rng.random(n) < 1.0 / (1.0 + np.exp(-eta)), "yes", "no")
    elif family == "poisson":
        n = n or 80
        X = rng.normal(size=(n, 3)) * 0.5
        eta = X @ np.array([0.6, -0.4, 0.02]) + 1.0
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "gaussian":
        n = n or 60
        Z = rng.normal(size=(n, 3))
        X = Z @ np.array([[1.0, 0.6, 0.0], [0.0, 0.8, 0.3], [0.0, 0.0, 1.0]])
        y = X @ np.array([1.5, -1.0, 0.1]) + 0.5 + rng.normal(scale=1.0, size=n)
    else:
        raise ValueError(family)
    return X, y


def make_dataset(family: str, weights=None, n: int | None = None, seed: int = 0,
                 intercept: bool = True) -> Dataset:
    """The factory's data as a Dataset of the family."""
    X, y = make_arrays(family, n=n, seed=seed)
    return Dataset.from_arrays(X, y, family=family, weights=weights, intercept=intercept,
                               name=f"{family}-synthetic")


def integer_weights(n: int, seed: int = 1) -> np.ndarray:
    """Frequency weights in {0, 1, 2, 3} (some zero), seeded."""
    return np.random.default_rng(seed).integers(0, 4, size=n).astype(float)


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


def separated_sets():
    """Three separated data sets: a separable one, iris (setosa apart), and a one-feature
    Bernoulli line split at 0.1."""
    from dualmaxent.data import load_dataset

    line = np.linspace(-2, 2, 60)
    return [separable(), load_dataset("iris"),
            Dataset.from_arrays(line[:, None], (line > 0.1).astype(int), family="bernoulli")]


def three_classes_two_features(n=100_000, seed=5):
    """``n`` rows of two standard normal features, three classes drawn from a multinomial
    logit (seeded): large enough for a row sample of the curvature, cheap to solve."""
    from dualmaxent import _numerics as nx

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    labels = (nx.softmax(X @ rng.standard_normal((2, 3))).cumsum(1)
              > rng.random((n, 1))).argmax(1)
    return Dataset.from_arrays(X, labels)


def drawn_classes(n: int, k: int, m_feat: int, seed: int = 0, scale: float = 0.5) -> Dataset:
    """``n`` rows of ``m_feat`` standard normal features and labels drawn from the multinomial
    model with coefficients ``scale`` times standard normal (``k`` classes), as a Dataset."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m_feat))
    eta = X @ (scale * rng.standard_normal((m_feat, k)))
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return Dataset.from_arrays(X, y)


def drawn_kind(kind, n: int, m_feat: int, seed: int = 0) -> Dataset:
    """:func:`drawn_classes` by ``kind``: the number of classes (seeded ``seed + k``), or
    "bernoulli", the two-class data in the one-parameter family (the labels, the features
    without the intercept's column)."""
    k = 2 if kind == "bernoulli" else kind
    ds = drawn_classes(n, k, m_feat, seed=seed + k)
    if kind == "bernoulli":
        ds = Dataset.from_arrays(ds.X[:, :-1], ds.Y.reshape(n, -1).argmax(axis=1),
                                 family="bernoulli")
    return ds
