"""The rank of the weighted design, its null space, and the dependencies in the columns' names."""

from __future__ import annotations

import numpy as np
import pytest

from dualmaxent import Dataset
from dualmaxent.identifiability import identify


def _identify(X, names, w=None):
    data = Dataset.from_arrays(X, np.arange(len(X)) % 2, feature_names=names, weights=w)
    return data, identify(data.X, data.weights, data.feature_names)


def test_dummy_variable_trap_is_named_in_the_columns_names():
    g = np.random.default_rng(1).integers(0, 3, 200)
    data, ident = _identify(np.eye(3)[g], ["g1", "g2", "g3"])
    assert ident.rank == 3 and ident.m == 4
    assert ident.dependencies == ("g3 = intercept - g1 - g2",)
    # the null space is what the definition says: X N = 0, orthonormal, orthogonal to the basis
    assert np.abs(data.X @ ident.null_space).max() <= 1e-12
    np.testing.assert_allclose(ident.null_space.T @ ident.null_space, np.eye(1), atol=1e-12)
    assert np.abs(ident.basis.T @ ident.null_space).max() <= 1e-12


def test_two_dependencies_with_coefficients():
    X = np.random.default_rng(2).normal(size=(60, 4))
    X[:, 3] = X[:, 0] - X[:, 1]
    X[:, 2] = 0.5 * X[:, 1]
    _, ident = _identify(X, ["a", "b", "c", "d"])
    assert ident.rank == 3
    assert set(ident.dependencies) == {"d = a - b", "c = 0.5 b"}


def test_projection_gives_the_minimum_norm_representative():
    g = np.random.default_rng(1).integers(0, 3, 100)
    data, ident = _identify(np.eye(3)[g], ["g1", "g2", "g3"])
    theta = np.random.default_rng(0).normal(size=(4, 2))
    shifted = theta + ident.null_space @ np.array([[3.0, -1.0]])
    np.testing.assert_allclose(data.X @ theta, data.X @ shifted, atol=1e-12)  # same eta
    np.testing.assert_allclose(ident.project(theta), ident.project(shifted), atol=1e-12)
    rep = ident.project(theta)
    assert np.linalg.norm(rep) <= np.linalg.norm(theta) + 1e-12


def test_ill_conditioned_polynomial_basis_keeps_full_rank():
    x = np.linspace(0, 1, 50)
    X = np.column_stack([x**p for p in range(1, 11)])
    _, ident = _identify(X, [f"x^{p}" for p in range(1, 11)])
    assert ident.full_rank and ident.dependencies == ()
    assert 1e6 < ident.condition < 1e10  # ill-conditioned, and said so


def test_rows_of_weight_zero_do_not_count():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    w = np.ones(40)
    w[:5] = 0.0
    X[5:, 1] = 2.0 * X[5:, 0]  # dependent on the rows that count only
    _, ident = _identify(X, ["u", "v"], w=w)
    assert ident.dependencies == ("v = 2 u",)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_rank_does_not_depend_on_units(scale):
    X = np.random.default_rng(4).normal(size=(30, 3)) * np.array([1.0, scale, 1.0])
    _, ident = _identify(X, ["a", "b", "c"])
    assert ident.full_rank


def test_fewer_rows_than_columns():
    import warnings

    from dualmaxent import solve_dual, verify

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 8)), rng.normal(size=5)
    data = Dataset.from_arrays(X, y, family="gaussian")
    ident = identify(data.X, data.weights, data.feature_names)
    assert ident.rank == 5 and ident.null_space.shape == (9, 4)
    assert np.abs(data.X @ ident.null_space).max() <= 1e-10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = solve_dual(data)
    assert fit.converged
    # the minimum-norm least-squares solution interpolates the five points
    np.testing.assert_allclose(fit.theta, np.linalg.pinv(data.X) @ y, atol=1e-10)
    assert verify(data).ok


def test_a_row_sample_settles_full_rank_and_a_rank_deficient_sample_does_not(monkeypatch):
    """Full rank of every step-th row proves full rank of X (the Gram matrix only grows with
    rows), so many rows are screened on a sample; a column that is zero on the sampled rows
    makes the sample rank-deficient, and then every row decides, not the sample."""
    from dualmaxent import _kernels
    from dualmaxent import identifiability as ID

    monkeypatch.setattr(ID, "RANK_SCREEN_ROWS_PER_COLUMN", 50)
    rows = []
    gram = _kernels.gram
    monkeypatch.setattr(_kernels, "gram", lambda X, w, **kw: rows.append(len(X)) or gram(X, w, **kw))
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4000, 3))
    data, ident = _identify(X, ["a", "b", "c"])
    assert ident.full_rank and rows == [4000 // 16 + (4000 % 16 > 0)]  # the sample alone
    exact = np.linalg.svd(data.X / np.linalg.norm(data.X, axis=0), compute_uv=False)
    # an estimate from 250 rows (about 1 / sqrt(62) relative sampling noise), not a bound
    assert 1 / 1.5 < ident.condition / (exact[0] / exact[-1]) < 1.5
    # a rare indicator, nonzero only on rows the sample skips: still full rank, from every row
    rare = np.zeros(4000)
    rare[1::16][:20] = 1.0
    rows.clear()
    data, ident = _identify(np.column_stack([X, rare]), ["a", "b", "c", "rare"])
    assert ident.full_rank and rows[0] < 4000 and 4000 in rows
