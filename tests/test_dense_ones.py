"""The dense design with implicit ones (:class:`dualmaxent.design.DenseOnes`) against the stored
``[B, 1]``: every operation the passes take is the same sum, the intercept's term added last,
so within the rounding bound ``gamma(L)`` of a sum of ``L`` terms (in the magnitudes of its
terms), and the exact operations (selections, maxima, the ones) are equal."""

from __future__ import annotations

import numpy as np
import pytest

from dualmaxent import _kernels as K
from dualmaxent import design

from _rounding import gamma


def _pair(n=700, p=5, seed=0):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, p)) * np.array([1.0, 3.0, 0.5, 10.0, 1e-3])[:p]
    return design.DenseOnes(B), design.with_intercept(B), rng


@pytest.mark.parametrize("shape", [(6,), (6, 1), (6, 3)])
def test_products_are_the_stored_designs_within_their_sums_rounding(shape):
    D, X, rng = _pair()
    V = rng.standard_normal(shape)
    n, m = X.shape
    bound = 2 * gamma(m + 1) * (np.abs(X) @ np.abs(V))
    assert np.all(np.abs(D @ V - X @ V) <= bound)
    R = rng.standard_normal((n,) + shape[1:])
    bound = 2 * gamma(n + 1) * (np.abs(X).T @ np.abs(R))
    assert np.all(np.abs(D.T @ R - X.T @ R) <= bound)
    L = R.T
    assert np.all(np.abs(L @ D - L @ X) <= bound.T)
    W = V.T if V.ndim == 2 else V
    assert np.all(np.abs(W @ D.T - W @ X.T) <= 2 * gamma(m + 1) * (np.abs(W) @ np.abs(X).T))


def test_selections_maxima_and_the_ones_are_exact():
    D, X, rng = _pair()
    for key in (slice(10, 90), slice(None, None, 3)):
        assert isinstance(D[key], design.DenseOnes)
        np.testing.assert_array_equal(np.asarray(D[key]), X[key])
        assert np.shares_memory(D[key].base, D.base)
    for key in ((slice(None), -1), (slice(None), 2), (3, -1), (3, 1), (slice(5, 9), [0, 5, 2]),
                (np.arange(7), slice(None)), (slice(None), slice(None, -1)), 4):
        np.testing.assert_array_equal(np.asarray(D[key]), X[key])
    np.testing.assert_array_equal(design.column_absmax(D), np.abs(X).max(axis=0))
    np.testing.assert_array_equal(design.column(D, -1), np.ones(len(X)))
    np.testing.assert_array_equal(design.column(D, 1), X[:, 1])
    assert D.max() == X.max() and D.min() == X.min() and D.shape == X.shape
    assert design.nbytes(D) == D.base.nbytes and not design.is_sparse(D)
    with pytest.raises(ValueError):
        D[0, 0] = 1.0


def test_row_and_column_sums_of_squares_and_scalings():
    D, X, rng = _pair()
    w = rng.uniform(0.2, 3.0, len(X))
    n, m = X.shape
    assert np.all(np.abs(design.row_sq_norms(D) - np.einsum("ij,ij->i", X, X))
                  <= 2 * gamma(m + 1) * np.einsum("ij,ij->i", X, X))
    assert np.all(np.abs(design.column_sq_sums(D, w) - w @ (X * X))
                  <= 2 * gamma(n + 2) * (w @ (X * X)))
    np.testing.assert_array_equal(design.scale_rows(D, w), w[:, None] * X)
    s = np.array([2.0, 0.5, 4.0, 1.0, 8.0, 1.0])
    scaled = design.scale_columns(D, s)
    assert isinstance(scaled, design.DenseOnes)  # (the ones' factor 1: they stay implicit)
    np.testing.assert_array_equal(np.asarray(scaled), X * s)
    np.testing.assert_array_equal(design.scale_columns(D, s * 2), X * (s * 2))


@pytest.mark.parametrize("unit", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_bordered_gram_is_the_stored_designs_within_its_bound(unit, dtype):
    D, X, rng = _pair(n=3000)
    d = np.ones(len(X)) if unit else rng.uniform(0.2, 3.0, len(X))
    blocks = 1 << 13  # (several blocks)
    got = K.gram(D, d, block_bytes=blocks, dtype=dtype)
    exact = K.gram(X, d, block_bytes=blocks)  # float64: its own error within the bound too
    bound = K.gram_error_bound(X, d, dtype=dtype, block_bytes=blocks)
    bound64 = K.gram_error_bound(X, d, dtype=np.float64, block_bytes=blocks)
    assert np.all(np.abs(got - exact) <= bound + bound64)
    np.testing.assert_array_equal(got, got.T)
    # a float32 B read as it is gives the same numbers as the float64 one in float32
    if dtype == np.float32:
        np.testing.assert_array_equal(
            got, K.gram(design.astype(D, np.float32), d, block_bytes=blocks, dtype=dtype))
    # the general product for weights of both signs
    d2 = rng.standard_normal(len(X))
    assert np.all(np.abs(K.gram(D, d2) - (X * d2[:, None]).T @ X)
                  <= 2 * gamma(len(X) + 2) * (np.abs(X).T @ (np.abs(d2)[:, None] * np.abs(X))))


def test_anything_else_reads_the_stored_array():
    D, X, _ = _pair()
    before = D.base.copy()
    np.testing.assert_array_equal(np.asarray(D), X)
    np.testing.assert_array_equal(D * 2.0, X * 2.0)
    np.testing.assert_array_equal(-D.T, -X.T)
    np.testing.assert_array_equal(D.sum(axis=0), X.sum(axis=0))
    np.testing.assert_array_equal(D == 1.0, X == 1.0)
    np.testing.assert_array_equal(np.abs(D), np.abs(X))
    np.testing.assert_array_equal(D.base, before)  # (each on a copy: B only read)
