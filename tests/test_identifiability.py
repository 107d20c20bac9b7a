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


def _row_residual(X, w, v):
    """Definition: ``max_j |x_j^T v| / (|x_j|^T |v|)`` over the rows of positive weight, with
    the dependency ``v`` given exactly (its coefficients written out, not refined)."""
    X = np.asarray(X, dtype=np.float64)
    t, a = np.abs(X @ v)[w > 0], (np.abs(X) @ np.abs(v))[w > 0]
    return float(np.max(np.where(a > 0, t / np.where(a > 0, a, 1.0), 0.0)))


def test_exact_dependencies_are_exact_and_near_ones_are_not():
    """A dependency the rows satisfy to the rounding of their entries (a duplicate, ``3 x1``,
    indicators beside the intercept, standardised indicators, a weighted row of zero weight
    that breaks it) is exact; one they satisfy only to 1e-10 or 1e-13 of the terms' size,
    which the QR still names (relative singular value below RANK_RTOL), is not, and its
    measured error is the definition's residual with the written-out coefficients, up to the
    refinement (which can only lower it) and the residual's own rounding."""
    from sklearn.preprocessing import StandardScaler

    from dualmaxent.identifiability import DEPENDENCY_ROUNDINGS

    u = 2.0 ** -53
    rng = np.random.default_rng(3)
    n = 400
    x1, x2, z = rng.normal(size=(3, n))
    G = np.eye(4)[rng.integers(0, 4, n)]
    w = np.ones(n)
    w[7] = 0.0
    broken = np.c_[x1, x1.copy()]
    broken[7, 1] += 1.0  # breaks x2 = x1 on a row of weight 0 only
    exact = {"duplicate": np.c_[x1, x1], "three": np.c_[x1, 3.0 * x1],
             "sum": np.c_[x1, x2, 0.1 * x1 + 0.7 * x2], "trap": np.c_[G, x1],
             "standardised": StandardScaler().fit_transform(np.c_[G, x1]),
             "zero weight": broken}
    for name, X in exact.items():
        data, ident = _identify(X, [f"c{i}" for i in range(X.shape[1])],
                                w if name == "zero weight" else None)
        assert not ident.full_rank, name
        assert ident.exact and ident.dependency_error <= DEPENDENCY_ROUNDINGS * u, (
            name, ident.dependency_error / u)
    for eps in (1e-10, 1e-13):
        X = np.c_[x1, x1 + eps * z]
        data, ident = _identify(X, ["a", "b"])
        assert ident.rank == 2 and ident.dependencies == ("b = a",)  # named, as before
        written = _row_residual(data.X, data.weights, np.array([-1.0, 1.0, 0.0]))
        assert written > 1e3 * DEPENDENCY_ROUNDINGS * u  # (eps |z| against |x1| + |x2|)
        assert not ident.exact
        assert 0.5 * written <= ident.dependency_error <= written * (1 + 1e-6)
        assert ident.dependencies[ident.worst_dependency] == "b = a"
    # an offset feature, 1000 + 1e-7 z: named a multiple of the intercept, not exact
    data, ident = _identify((1000.0 + 1e-7 * z)[:, None], ["reading"])
    assert ident.dependencies == ("reading = 1000 intercept",) and not ident.exact


def test_a_rescaled_designs_dependency_keeps_its_error():
    """A badly scaled design's rank comes from its rescaled copy (powers of two: no rounding
    moves), so the dependencies' residuals relative to their terms are the same numbers."""
    rng = np.random.default_rng(4)
    x1, z = rng.normal(size=(2, 300))
    for second, exact in ((1e9 * x1, True), (1e9 * (x1 + 1e-11 * z), False)):
        X = np.c_[1e-9 * x1, second]
        with pytest.warns(Warning):
            data = Dataset.from_arrays(X, np.arange(300) % 2, family="bernoulli")
            ident = data.identifiability
        assert not ident.full_rank and ident.exact == exact


def test_a_dense_design_far_wider_than_its_rows_is_treated_as_a_sparse_one():
    """More columns than rows of positive weight by more than MAX_NULLITY: that many
    dependencies are certain, and their rank and names cost minutes on a dense design (an L1
    certificate of 40 rows and 2000 columns took 137 s). As for a sparse one, the unpenalised
    fit is refused with the reason, and the L1 certificate (which needs no rank) names none:
    the same bracket as the sparse copy's."""
    import scipy.sparse as sp

    from dualmaxent import certify, solve_dual
    from dualmaxent.exceptions import DataError
    from dualmaxent.identifiability import MAX_NULLITY

    n, p = 40, 40 + MAX_NULLITY + 10
    X = sp.random(n, p, density=0.05, random_state=6, format="csr")
    y = np.arange(n) % 2
    dense = Dataset.from_arrays(X.toarray(), y, family="bernoulli")
    assert not dense.rank_computable
    with pytest.raises(DataError, match="fewer rows of positive weight .* fit it with a penalty"):
        solve_dual(dense)
    theta = solve_dual(dense, l1=1.0).theta
    a = certify(dense, theta, l1=1.0)
    b = certify(Dataset.from_arrays(X, y, family="bernoulli"), theta, l1=1.0)
    assert "identifiability" not in vars(dense) and a.rank == -1
    assert a.ok and b.ok
    assert abs(a.upper_bound - b.upper_bound) <= a.roundoff + b.roundoff
