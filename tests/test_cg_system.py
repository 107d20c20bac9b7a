"""Conjugate gradients' operator on a wide sparse design (:class:`dualmaxent.objective.
CurvatureSystem`): the quadratic form, the update of the residual and the next direction, each
against its definition; the float32 step and its rounding bound; the line search that moves its
point in place; the blocked products they use. Every reference is computed here from the
definitions on ``X.toarray()`` (``-H`` by :func:`test_sparse._newton_system`)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dualmaxent import Dataset, design
from dualmaxent import objective as objective_module
from dualmaxent.certify import gamma
from dualmaxent.objective import make_objective
from dualmaxent.params import make_penalty

from test_sparse import _newton_system, float64_step

U32 = 2.0**-24


def _wide(monkeypatch, k, lam, coarse=False, seed=4, n=300, m=20):
    """A random sparse problem of ``k`` classes with an intercept (so a pinned entry), L2 at
    ``lam``, taken down theta's-table path (and the coarse space's when ``coarse``); its data
    set, objective, a point off the start and there ``(-H, g, M)`` from the definitions."""
    monkeypatch.setattr(objective_module, "SPARSE_DENSE_PRECONDITIONER_MAX", 5)
    if coarse:
        monkeypatch.setattr(objective_module, "SPARSE_COARSE_RANK", 3)
        monkeypatch.setattr(objective_module, "SPARSE_COARSE_MIN_CLASSES", 4)
    rng = np.random.default_rng(seed)
    X = sp.random_array((n, m), density=0.2, random_state=seed, format="csr")
    ds = Dataset.from_arrays(X, rng.integers(0, k, n))
    obj = make_objective(ds, make_penalty(l2=lam))
    assert obj._works_on_tables()
    beta = obj.start() + 0.3 * rng.standard_normal(obj.n_params)
    H, g, M = _newton_system(ds, obj, lam, beta)
    obj.smooth_value_grad(beta)  # the pass whose probabilities the operator reads
    return rng, ds, obj, beta, H, g, M


@pytest.mark.parametrize("k, lam", [(3, 0.5), (5, 50.0), (2, 1.0)])
def test_the_quadratic_form_and_the_residuals_update_are_their_definitions(monkeypatch, k, lam):
    """``curve(d)`` gives ``d^T (-H) d`` and ``update(r, a)`` writes ``r + a (-H) d`` into
    ``r`` itself, pinned entries zero (the fused categorical path from ``k = 3``, the product
    elsewhere), within the products' rounding: chains of ``m + k + n + 3`` roundings, each
    times the magnitude ``M |d|`` (:func:`dualmaxent._kernels.categorical_hessp_error_bound`)."""
    rng, ds, obj, beta, H, g, M = _wide(monkeypatch, k, lam)
    system = obj.curvature_system(beta)
    packed = rng.standard_normal(obj.n_params)
    d = system.enter(packed)
    assert system.step_dtype == np.float32
    quad, update = system.curve(d)
    chain = ds.m + ds.k + ds.n + 3 + obj.n_params
    bound = 2 * gamma(chain) * (np.abs(packed) @ M @ np.abs(packed))
    assert abs(quad - packed @ H @ packed) <= bound
    r0 = system.enter(rng.standard_normal(obj.n_params))
    r = r0.copy()
    a = -0.7
    out = update(r, a)
    assert out is r  # in place
    expect = system.leave(r0) + a * (H @ packed)
    assert np.all(np.abs(system.leave(r) - expect) <= 2 * gamma(chain) * abs(a)
                  * (M @ np.abs(packed)) + 4 * np.finfo(float).eps * np.abs(expect))
    # the pinned entries (theta's table less the packed ones) stay zero
    assert np.count_nonzero(r) <= obj.n_params
    assert np.array_equal(system.enter(system.leave(r)), r)


@pytest.mark.parametrize("kind", ["identity", "jacobi", "coarse"])
def test_the_next_direction_is_z_plus_beta_d_and_the_first_is_z(monkeypatch, kind):
    """``first(r) = (r^T z, z)`` and ``advance(r, d, rz) = (r^T z, z + (r^T z / rz) d)`` with
    ``z = M^-1 r`` the preconditioner's own application: written into ``d`` (no ``z`` beside
    it) for the identity, Jacobi and the coarse space, the same numbers to the rounding of a
    few operations per entry (the coarse space's ``r^T z`` is ``c r^T r + <U^T r, W>``)."""
    k, lam = (5, 50.0) if kind == "coarse" else (3, 1e-3 if kind == "jacobi" else 50.0)
    rng, ds, obj, beta, *_ = _wide(monkeypatch, k, lam, coarse=kind == "coarse")
    pre = obj._wide_psolve(beta)
    expected = {"identity": objective_module._Identity, "jacobi": objective_module._Jacobi,
                "coarse": objective_module._TwoLevel}[kind]
    assert type(pre) is expected
    system = obj.curvature_system(beta)
    r = system.enter(rng.standard_normal(obj.n_params))
    d = system.enter(rng.standard_normal(obj.n_params))
    rz = 2.5
    z = pre(r)
    assert z is not r
    rz_first, z_first = system.first(r)
    assert np.array_equal(z_first, z) and rz_first == pytest.approx(float(r @ z), rel=1e-12)
    rz_def = float(r @ z)
    d_def = z + (rz_def / rz) * d
    buffer = d.copy()
    rz_new, d_new = system.advance(r, buffer, rz)
    assert d_new is buffer  # written into d
    # r^T z summed in another order (Jacobi: by chunks; the coarse space: c r^T r + <U^T r, W>,
    # whose float32 basis is read in float64 chunks by both sides, the solve of E alike: a
    # few hundred roundings of the sums' magnitude, taken as gamma of p + the coarse size)
    p = obj.n_params
    drz = 2 * gamma(p + 100) * float(np.abs(r) @ np.abs(z))
    if kind == "coarse":
        drz += 2 * gamma(p + 100) * (float(r @ r) / lam + float(np.abs(r) @ np.abs(z)))
    assert abs(rz_new - rz_def) <= drz
    scale = np.abs(z) + np.abs(rz_def / rz) * np.abs(d)
    assert np.all(np.abs(d_new - d_def) <= 4 * np.finfo(float).eps * scale
                  + (drz / abs(rz)) * np.abs(d) + (gamma(p + 100) * np.abs(z).max()
                                                    if kind == "coarse" else 0.0))


def test_a_float32_step_is_the_float64_step_rounded_and_its_slope_a_lower_bound(monkeypatch):
    """CG's residuals and directions do not read the step, so the float32 step is the float64
    one's sums rounded once per update: within ``sum_t u ||s_t||_2 <= iterations u
    max ||s_t||`` of it (cg_direction's Notes); the slope returned is at most the stored
    step's true ``g^T s`` and within a share of it."""
    from dualmaxent import solvers

    rng, ds, obj, beta, H, g, M = _wide(monkeypatch, 5, 2.0, coarse=True)
    steps = {}
    for dtype in (np.float32, np.float64):
        with monkeypatch.context() as patch:
            float64_step(patch, obj, dtype)
            steps[dtype] = solvers.cg_direction(obj, beta, g.copy(), 1e-20, max_cg=300,
                                                overwrite=True)
    (s32, slope32), (s64, slope64) = steps[np.float32], steps[np.float64]
    assert s32.dtype == np.float64 and not np.array_equal(s32, s64)  # rounded, packed in float64
    assert np.linalg.norm(s32 - s64) <= 300 * U32 * 1.01 * np.linalg.norm(s64) * 1.01
    true_slope = float(g @ s32)
    assert slope32 <= true_slope + 1e-12 * abs(true_slope)
    assert slope32 >= (1 - 2 * solvers.SINGLE_STEP_SLOPE_SHARE) * true_slope
    assert slope32 < slope64  # the bound's share taken off


def test_a_float32_step_whose_rounding_would_reach_the_slope_goes_on_in_float64(monkeypatch):
    """With no share of the slope allowed to the rounding, the step turns float64 after its
    first update: it is then the float64 step but for that one rounding (at most ``u`` times
    the first update's norm), and the slope returned is the float64 run's less that bound."""
    from dualmaxent import solvers

    rng, ds, obj, beta, H, g, M = _wide(monkeypatch, 5, 2.0, coarse=True)
    with monkeypatch.context() as patch:
        float64_step(patch, obj)
        s64, slope64 = solvers.cg_direction(obj, beta, g.copy(), 1e-20, max_cg=300,
                                            overwrite=True)
    monkeypatch.setattr(solvers, "SINGLE_STEP_SLOPE_SHARE", 0.0)
    s, slope = solvers.cg_direction(obj, beta, g.copy(), 1e-20, max_cg=300, overwrite=True)
    # the first update, alpha_0 z_0, z_0 = M^-1 g, from the system itself
    system = obj.curvature_system(beta)
    rz, z = system.first(system.enter(g))
    first = rz / system.curve(z)[0] * np.linalg.norm(z)
    assert np.linalg.norm(s - s64) <= 1.01 * U32 * first + 1e-12 * np.linalg.norm(s64)
    assert slope < slope64
    assert slope64 - slope <= 1.01 * np.linalg.norm(g) * U32 * first * (1 + 1e-6)


def test_a_failed_line_search_leaves_beta_at_the_start_and_an_accepted_one_at_the_point(
        monkeypatch):
    """The line search moves its point in place: accepted, it is the start plus ``t d`` (to
    the rounding of the moves, a few units in the last place of ``|beta| + t |d|``); failed
    (a direction of descent), back at the start to that rounding."""
    from dualmaxent import solvers

    rng, ds, obj, beta, H, g, M = _wide(monkeypatch, 3, 1.0)
    start = beta.copy()
    direction = solvers._NewtonCGStep(obj, 1e-10)
    F = direction.objective(obj, beta, obj.smooth_value_grad(beta)[0])
    eps = np.finfo(float).eps
    moves = 12
    point = beta.copy()
    found = solvers._line_search(obj, point, F, 1.0, -g, 1.0, direction, False,
                                 max_halvings=moves)
    assert found is None
    assert np.all(np.abs(point - start) <= 4 * moves * eps * (np.abs(start) + np.abs(g)))
    point = beta.copy()
    s = np.linalg.solve(H, g)
    t, cand, grad, F_new = solvers._line_search(obj, point, F, 1.0, s, float(g @ s), direction,
                                                False)
    assert cand is point and F_new > F
    assert np.all(np.abs(cand - (start + t * s)) <= 4 * moves * eps * (np.abs(start)
                                                                       + np.abs(s)))
    assert np.array_equal(grad, obj.smooth_value_grad(cand)[1])


@pytest.mark.parametrize("ones", [False, True])
def test_add_xt_of_rows_made_block_by_block_is_the_product_added(monkeypatch, ones):
    """``design.add_xt`` with ``T`` given a block of rows at a time (blocks of a few rows here)
    adds ``X^T T`` into ``out``, as scipy's product of the whole table, for a CSR and for the
    implicit-ones design (the ones' row the blocks' column sums)."""
    monkeypatch.setattr(design, "XT_BLOCK_BYTES", 64)
    rng = np.random.default_rng(3)
    B = sp.random_array((57, 9), density=0.3, random_state=3, format="csr")
    X = design.ones_column(B) if ones else B
    dense = B.toarray()
    if ones:
        dense = np.column_stack([dense, np.ones(57)])
    T = rng.standard_normal((57, 4))
    calls = []

    def rows(lo, hi):
        calls.append((lo, hi))
        return T[lo:hi].copy()
    start = rng.standard_normal((dense.shape[1], 4))
    out = start.copy()
    assert design.add_xt(X, rows, out) is out
    assert len(calls) > 1 and calls[0][0] == 0 and calls[-1][1] == 57
    exact = start + dense.T @ T
    bound = gamma(57 + 1) * (np.abs(start) + np.abs(dense).T @ np.abs(T))
    assert np.all(np.abs(out - exact) <= bound)


def test_the_result_of_a_solve_reads_the_last_pass(monkeypatch):
    """A solve's result at the point of its last pass (a solver's usual end) makes no pass of
    its own: its residual, log-likelihood and canonical log-likelihood come from that pass, and
    equal their definitions at theta."""
    from dualmaxent import dual, families
    from dualmaxent.results import Status
    from dualmaxent.solvers import History

    rng = np.random.default_rng(8)
    X = rng.standard_normal((400, 6))
    ds = Dataset.from_arrays(X, rng.integers(0, 3, 400))
    obj = make_objective(ds, make_penalty(l2=0.3))
    beta = obj.start() + 0.2 * rng.standard_normal(obj.n_params)
    obj.smooth_value_grad(beta)
    passes = []
    real = families.Family.one_pass

    def counted(self, *args, **kwargs):
        passes.append(1)
        return real(self, *args, **kwargs)
    for cls in {type(ds.family), families.Family}:
        monkeypatch.setattr(cls, "one_pass", counted)
    res = dual._dual_result(ds, obj, beta, Status.CONVERGED, "", "newton", History(0.0), 0.0)
    assert not passes
    theta = res.theta
    eta = ds.X @ theta
    top = eta.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(eta - top).sum(axis=1))
    loglik = float(ds.weights @ (np.einsum("ij,ij->i", ds.Y, eta) - lse))
    assert res.canonical_loglik == pytest.approx(loglik, rel=1e-12)
    P = np.exp(eta - lse[:, None])
    G = ds.X.T @ (ds.weights[:, None] * (ds.Y - P)) - 0.3 * theta * obj.penalized_rows[:, None]
    assert res.kkt_residual == pytest.approx(np.abs(obj._pack(G)).max() / obj.scale, rel=1e-9)
