"""The primal: maximum entropy under the balance equations, in CVXPY."""

import numpy as np
import pytest

from dualmaxent import Dataset, load_dataset, solve_dual, solve_primal, verify
from dualmaxent.primal import build_primal
from dualmaxent.results import make_penalty

from _factories import L1_LAMBDA, L2_LAMBDA, make_arrays, make_dataset, overlapping


@pytest.fixture(scope="module")
def blobs():
    return load_dataset("blobs")


def test_cvxpy_dual_of_the_balance_constraint_is_minus_theta(blobs):
    """CVXPY's sign convention for Maximize(H) s.t. X^T P == X^T Y: theta = -dual_value."""
    problem, mu, handles = build_primal(blobs, gauge="pivot")
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    nu = np.asarray(handles["balance"].dual_value)  # (m, k-1): the pivot drops class k
    theta = solve_dual(blobs).theta
    np.testing.assert_allclose(-nu, theta[:, :-1], atol=1e-6)
    assert np.abs(nu - theta[:, :-1]).max() > 0.1  # the opposite sign is clearly wrong


@pytest.mark.parametrize("gauge", ["pivot", "full"])
def test_both_gauges_give_the_same_optimum_and_theta(blobs, gauge):
    p = solve_primal(blobs, gauge=gauge)
    d = solve_dual(blobs)
    assert p.status == "optimal" and p.converged
    np.testing.assert_allclose(p.theta, d.theta, atol=1e-6)
    assert np.all(p.theta[:, -1] == 0.0)  # reported in the pinned gauge
    assert p.entropy == pytest.approx(-d.loglik, rel=1e-9)


@pytest.mark.parametrize("family, penalty", [
    ("categorical", None), ("categorical", "l2"), ("categorical", "l1"),
    ("bernoulli", None), ("poisson", "l1"), ("gaussian", "l2")])
def test_two_stage_balance_sums_solve_the_same_problem(monkeypatch, family, penalty):
    """Above TREE_MIN_ROWS the balance rows are summed over row blocks: same optimum, same theta."""
    import dualmaxent.primal as primal_module

    ds = make_dataset(family, n=150)
    lam = {"l2": {"l2": L2_LAMBDA[family]}, "l1": {"l1": L1_LAMBDA[family]}}.get(penalty, {})
    direct = solve_primal(ds, **lam)
    monkeypatch.setattr(primal_module, "TREE_MIN_ROWS", 20)
    problem, _, _ = build_primal(ds, direct.penalty)
    assert any(v.name() == "partial_sums" for v in problem.variables())
    tree = solve_primal(ds, **lam)
    assert tree.status == "optimal"
    assert tree.objective == pytest.approx(direct.objective, rel=1e-8)
    np.testing.assert_allclose(tree.mu, direct.mu, atol=2e-6 * (1 + np.abs(direct.mu).max()))
    np.testing.assert_allclose(tree.theta, direct.theta, atol=1e-5)


def test_primal_optimum_satisfies_the_balance_equations_and_the_simplex(blobs):
    p = solve_primal(blobs)
    P = p.mu
    np.testing.assert_allclose(blobs.X.T @ P, blobs.X.T @ blobs.Y, atol=1e-7)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-9)
    assert P.min() > -1e-9


def test_entropy_is_at_most_n_log_k_and_below_the_unconstrained_maximum(blobs):
    p = solve_primal(blobs)
    assert 0 < p.entropy < blobs.n * np.log(blobs.k)


def test_scs_solves_the_same_problem_with_options_passed_through():
    ds = overlapping(n=60, p=2, k=3, seed=1)
    ref = solve_primal(ds)
    p = solve_primal(ds, solver="SCS", eps_abs=1e-9, eps_rel=1e-9)
    assert p.solver == "SCS"
    assert p.entropy == pytest.approx(ref.entropy, rel=1e-5)


def test_unknown_solver_and_gauge_are_rejected_with_a_clear_message(blobs):
    with pytest.raises(ValueError, match="solver 'NOPE' is not installed; installed"):
        solve_primal(blobs, solver="nope")
    with pytest.raises(ValueError, match="unknown gauge"):
        solve_primal(blobs, gauge="sideways")
    with pytest.raises(ValueError, match="rejected the problem or options"):
        solve_primal(blobs, not_an_option=3)


def test_solver_tolerances_loosen_with_n_and_user_options_win(blobs):
    """SIZED_SOLVER_OPTIONS: never tighter for more observations; what the user passes wins."""
    from dualmaxent.primal import default_solver_options

    tols = [default_solver_options("CLARABEL", n)["tol_feas"] for n in (10, 10**4, 10**5, 10**7)]
    assert tols == sorted(tols) and tols[0] == 1e-11 and tols[-1] > tols[0]
    p = solve_primal(blobs, tol_feas=1e-7, tol_gap_abs=1e-7, tol_gap_rel=1e-7)
    ref = solve_primal(blobs)
    assert p.iterations < ref.iterations  # the looser tolerances were used


@pytest.mark.parametrize("family, penalty", [
    ("categorical", None), ("categorical", "l1"), ("bernoulli", "l2"), ("poisson", None),
    ("gaussian", None)])
def test_repeated_rows_are_merged_without_changing_the_optimum(family, penalty):
    """Observations with the same x share one row of the solver's problem: same mu, theta, H."""
    X, y = make_arrays(family, n=120, seed=4)
    # two features on a 3 x 3 grid: many repeated rows, each with different responses
    X = np.round(X[:, :2]).clip(-1, 1)
    weights = np.random.default_rng(2).integers(0, 3, 120).astype(float)  # zeros too
    ds = Dataset.from_arrays(X, y, family=family, weights=weights)
    lam = {"l2": {"l2": L2_LAMBDA[family]}, "l1": {"l1": L1_LAMBDA[family]}}.get(penalty, {})
    _, _, handles = build_primal(ds, make_penalty(**lam))
    assert handles["rows"] == len(np.unique(ds.X, axis=0)) < ds.n
    merged, full = solve_primal(ds, **lam), solve_primal(ds, aggregate=False, **lam)
    assert merged.status == full.status == "optimal"
    assert merged.mu.shape == full.mu.shape == ds.Y.shape
    assert merged.objective == pytest.approx(full.objective, rel=1e-8)
    np.testing.assert_allclose(merged.mu, full.mu, atol=1e-6 * (1 + np.abs(full.mu).max()))
    np.testing.assert_allclose(merged.theta, full.theta, atol=1e-5)
    assert verify(ds, primal=merged, **lam).ok
