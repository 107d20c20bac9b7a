"""The sparse Newton-CG path's shortcuts (issue 20's speed target), each against its definition:
the coarse-space preconditioner applied on the packed layout, the pinned class's coarse
products from the pinned columns, the curvature operator's penalty by one axpy, the reordered
curvature-vector product within its error bound, the penalty's value by row runs, the exact
copy keys of the pass cache, and the carried step multiple of Newton-CG."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dualmaxent import Dataset, solve_dual
from dualmaxent import _kernels as K
from dualmaxent.certify import gamma

from test_sparse import float64_step


def _classifier():
    """``MaxEntClassifier``, which needs scikit-learn (the ``[test]`` extra): the test is
    skipped, saying so, in an environment without it."""
    pytest.importorskip("sklearn", reason="MaxEntClassifier needs scikit-learn (pip install '.[test]')")
    from dualmaxent import MaxEntClassifier

    return MaxEntClassifier


def _problem(seed, n, m, k, lam, density=0.15):
    """A random sparse (n, m) design with k classes, L2 at lam, its objective and a point."""
    from dualmaxent.objective import make_objective
    from dualmaxent.params import make_penalty

    rng = np.random.default_rng(seed)
    X = sp.random_array((n, m), density=density, random_state=seed, format="csr")
    ds = Dataset.from_arrays(X, rng.integers(0, k, n))
    obj = make_objective(ds, make_penalty(l2=lam))
    beta = obj.start() + 0.3 * rng.standard_normal(obj.n_params)
    return rng, ds, obj, beta


def _hessian(ds, obj, lam, beta):
    """``-H`` (free parameters) and the probabilities at ``beta`` from the definitions on
    ``X.toarray()``: block ``(a, b)`` is ``X^T diag(w p_a (delta_ab - p_b)) X``, plus ``lam``
    on the penalised rows."""
    Xd, w, k, m = ds.X.toarray(), ds.weights, ds.k, ds.m
    eta = Xd @ obj.theta(beta)
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    H = np.zeros((k * m, k * m))
    for a in range(k):
        for b in range(k):
            d = w * P[:, a] * ((a == b) - P[:, b])
            H[a * m:(a + 1) * m, b * m:(b + 1) * m] = Xd.T @ (d[:, None] * Xd)
    H[np.diag_indices_from(H)] += np.tile(obj.penalized_rows, k) * lam
    idx = obj.params.free_flat
    return H[np.ix_(idx, idx)], P


def _coarse(monkeypatch, row_step=1):
    """A wide, penalty-dominated problem whose CG takes the coarse space (constants scaled
    down to its size), and there its objective, point, ``-H`` and operator."""
    from dualmaxent import objective

    monkeypatch.setattr(objective, "SPARSE_COARSE_ROW_STEP", row_step)
    monkeypatch.setattr(objective, "SPARSE_DENSE_PRECONDITIONER_MAX", 5)
    monkeypatch.setattr(objective, "SPARSE_COARSE_RANK", 3)
    monkeypatch.setattr(objective, "SPARSE_COARSE_MIN_CLASSES", 4)
    lam = 50.0
    rng, ds, obj, beta = _problem(12, 300, 20, 5, lam)
    H, P = _hessian(ds, obj, lam, beta)
    matvec, psolve = obj.curvature_operator(beta)
    assert obj._plain_cg and obj._coarse_basis is not None
    return rng, ds, obj, beta, lam, H, matvec, psolve


def test_the_packed_coarse_preconditioner_equals_its_definition(monkeypatch):
    """``psolve``, applied on the packed vector class by class, is ``I / lam + U (E^-1 -
    G^-1 / lam) U^T`` with ``U`` the free entries' restriction of ``B (x) I``, ``G = U^T U``
    and ``E = U^T (-H) U`` from the definitions (every row in E's sums; its rank-n term is
    summed in float32, hence the tolerance), the pinned class (its intercept row) included."""
    rng, ds, obj, beta, lam, H, matvec, psolve = _coarse(monkeypatch)
    B = obj._coarse_basis.astype(np.float64)
    U = np.kron(np.eye(ds.k), B)[obj.params.free_flat]
    U = U[:, np.abs(U).sum(axis=0) > 0]
    E, G = U.T @ H @ U, U.T @ U
    want = np.eye(obj.n_params) / lam + U @ (np.linalg.inv(E) - np.linalg.inv(G) / lam) @ U.T
    got = np.column_stack([psolve(e) for e in np.eye(obj.n_params)])
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
    # linear in its argument, and a new array that leaves the operator's buffer alone
    u, v = rng.standard_normal((2, obj.n_params))
    before = matvec(u).copy()
    result = matvec(u)
    z = psolve(v)
    assert not np.shares_memory(z, v) and not np.shares_memory(z, result)
    assert np.array_equal(result, before)
    assert np.allclose(psolve(2.0 * u + v), 2.0 * psolve(u) + z, rtol=1e-12,
                       atol=1e-12 * np.abs(z).max())


def test_the_pinned_class_coarse_products_come_from_its_pinned_columns(monkeypatch):
    """The pinned class's ``X B_c`` (``B`` with its pinned rows zeroed) is ``X B - X_J B_J``,
    with ``X_J`` the pinned rows' columns of X kept once: equal to the direct product up to
    the rounding of the subtraction."""
    rng, ds, obj, beta, lam, H, matvec, psolve = _coarse(monkeypatch)
    assert len(obj._pinned_columns) == 1
    (cl, XJ), = obj._pinned_columns.items()
    rows = obj.free[:, cl]
    J = np.flatnonzero(~rows)
    assert np.array_equal(XJ, ds.X.toarray()[:, J])
    B = obj._coarse_basis
    direct = ds.X @ (B * rows[:, None])
    via = ds.X @ B - XJ @ B[J].astype(np.float64)
    mag = np.abs(ds.X) @ np.abs(B.astype(np.float64))
    assert np.all(np.abs(via - direct) <= 4 * gamma(ds.m + 2) * mag)


def test_cg_with_the_packed_coarse_space_solves_the_newton_system(monkeypatch):
    """CG with the coarse space (its Galerkin matrix over every fourth row) still solves
    ``-H s = g`` from the definitions, and a fit with it is stationary by the definition
    ``X^T W (Y - P) - lam theta`` on the penalised rows (``X^T W (Y - P)`` elsewhere)."""
    from dualmaxent.solvers import cg_direction

    rng, ds, obj, beta, lam, H, matvec, psolve = _coarse(monkeypatch, row_step=4)
    g = rng.standard_normal(obj.n_params)
    float64_step(monkeypatch, obj)
    s = cg_direction(obj, beta, g, 1e-20, max_cg=10 * obj.n_params)
    exact = np.linalg.solve(H, g)
    assert np.linalg.norm(s - exact) <= 1e-8 * np.linalg.norm(exact)
    res = solve_dual(ds, tol=1e-9, l2=lam, method="newton-cg")
    assert res.converged
    Xd = ds.X.toarray()
    eta = Xd @ res.theta
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    grad = Xd.T @ (ds.weights[:, None] * (ds.Y - P)) - lam * res.theta * obj.penalized_rows[:, None]
    scale = 1.0 + np.abs(Xd.T @ (ds.weights[:, None] * ds.Y)).max()
    # the pinned entries (the last class's intercept) are not free: their balance is implied
    free = obj.free
    assert np.abs(grad[free]).max() / scale <= 1e-9 * (1 + 1e-6)


def test_the_operators_penalty_is_added_on_the_penalised_entries_only():
    """``matvec`` adds ``lam v`` by one in-place axpy with the unpenalised entries (the
    intercepts) put back: with a large ``lam`` and a direction on the intercepts alone, the
    result is the data's curvature there, ``-H v`` from the definitions."""
    lam = 1e3
    rng, ds, obj, beta = _problem(3, 200, 12, 3, lam)
    H, _ = _hessian(ds, obj, lam, beta)
    matvec, _ = obj.curvature_operator(beta)
    pen = obj.params.penalized
    assert (~pen).any()
    for v in (np.where(pen, 0.0, 1.0) * rng.standard_normal(obj.n_params),
              rng.standard_normal(obj.n_params)):
        got = matvec(v)
        assert np.allclose(got, H @ v, rtol=1e-12, atol=1e-12 * np.abs(H).max() * np.abs(v).max())
    # the intercepts' entries carry no lam: their diagonal is the data's alone
    j = int(np.flatnonzero(~pen)[0])
    e = np.zeros(obj.n_params)
    e[j] = 1.0
    assert abs(matvec(e)[j] - H[j, j]) <= 1e-12 * abs(H[j, j]) and H[j, j] < lam


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [True, False])
def test_the_reordered_curvature_vector_product_is_within_its_bound(dtype, sparse):
    """``categorical_hessp`` now forms ``w p_a (u_a - sum_b p_b u_b)`` (the row sums first, no
    temporary): the same monomials and roundings, so its error from the exact product (here
    in long double) stays within :func:`categorical_hessp_error_bound`."""
    rng = np.random.default_rng(7)
    n, m, k = 500, 30, 4
    Xs = sp.random_array((n, m), density=0.2, random_state=7, format="csr")
    X = Xs if sparse else Xs.toarray()
    w = rng.random(n) + 0.5
    eta = rng.standard_normal((n, k))
    P = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    V = rng.standard_normal((m, k))
    got = K.categorical_hessp(X, w, P, V, dtype=dtype)
    Xl = Xs.toarray().astype(np.longdouble)
    U = Xl @ V.astype(np.longdouble)
    Pl = P.astype(np.longdouble)
    S = w[:, None] * Pl * (U - (Pl * U).sum(axis=1, keepdims=True))
    exact = Xl.T @ S
    bound = K.categorical_hessp_error_bound(Xs.toarray(), w, P, V, dtype=dtype)
    assert np.all(np.abs(got - exact) <= bound)


def test_the_penalty_value_by_row_runs_equals_its_definition():
    """``smooth_penalty_value`` sums the penalised rows' squares by one dot per run of rows:
    ``(lam / 2) sum_r theta_r^2`` over the penalised rows, for any mask and layout."""
    lam = 0.7
    rng, ds, obj, beta = _problem(5, 150, 20, 4, lam)
    theta = rng.standard_normal(obj.free.shape)
    masks = [obj.penalized_rows.copy(), rng.random(obj.free.shape[0]) < 0.5,
             np.ones(obj.free.shape[0], dtype=bool)]
    for mask in masks:
        obj.penalized_rows, obj._runs = mask, None
        want = 0.5 * lam * np.sum(theta[mask].astype(np.longdouble) ** 2)
        for t in (theta, np.asfortranarray(theta)):
            got = obj.smooth_penalty_value(t)
            assert abs(got - float(want)) <= gamma(theta.size + 2) * float(want)
        # the runs cover exactly the mask's rows
        covered = np.zeros_like(mask)
        for lo, hi in obj._penalized_runs():
            covered[lo:hi] = True
        assert np.array_equal(covered, mask)


def test_a_copy_key_is_exact_and_a_small_thetas_cache_is_never_stale():
    """A theta small against X is keyed by its copy, equal only bit for bit (``-0.0`` is not
    ``0.0``; a 1-ulp change is a new point); a pass is reused only at the same bits, and the
    gradient it gives equals a fresh objective's."""
    from dualmaxent.objective import _PointCopy, make_objective, point_key
    from dualmaxent.params import make_penalty

    theta = np.random.default_rng(1).standard_normal((40, 3))
    key = point_key(theta, theta.nbytes)
    assert isinstance(key, _PointCopy)
    assert key == point_key(theta.copy(), theta.nbytes)
    assert key != point_key(np.nextafter(theta, 2), theta.nbytes)
    zero, negzero = np.zeros((2, 2)), -np.zeros((2, 2))
    assert point_key(zero, 64) != point_key(negzero, 64)
    assert key != point_key(theta, 0)  # a digest never equals a copy
    theta[0, 0] = 5.0
    assert key != point_key(theta, theta.nbytes)  # the key is a copy, not a view
    # an objective whose theta is small against X uses copy keys
    rng = np.random.default_rng(2)
    X = sp.random_array((3000, 10), density=0.5, random_state=2, format="csr")
    ds = Dataset.from_arrays(X, rng.integers(0, 3, 3000))
    obj = make_objective(ds, make_penalty(l2=0.2))
    assert obj._key_bytes >= obj.free.size * 8
    beta = obj.start() + 0.1 * rng.standard_normal(obj.n_params)
    _, g1 = obj.smooth_value_grad(beta)
    assert isinstance(obj._cache[0], _PointCopy)
    moved = beta.copy()
    moved[3] = np.nextafter(moved[3], np.inf)
    _, g2 = obj.smooth_value_grad(moved)
    fresh = make_objective(ds, make_penalty(l2=0.2))
    assert np.array_equal(g2, fresh.smooth_value_grad(moved)[1])
    assert np.array_equal(obj.smooth_value_grad(beta)[1], g1)


def test_the_carried_multiple_follows_the_secants_root():
    """:func:`dualmaxent.solvers._carried_scale`: 1 where Newton's own step was right (a full
    step whose slope fell below ``SECANT_SLOPE`` of the start's) or the line's maximum was
    (nearly) reached (a slope at most ``SECANT_CARRY_SLOPE`` of the start's); else the root of
    the slope's secant, ``scale t slope0 / (slope0 - slope)``, between 1 and ``SECANT_MAX``."""
    from dualmaxent.solvers import (SECANT_CARRY_SLOPE, SECANT_MAX, SECANT_SLOPE,
                                    _carried_scale)

    assert SECANT_CARRY_SLOPE < SECANT_SLOPE
    assert _carried_scale(1.0, 1.0, 1.0, 0.5 * (SECANT_SLOPE + SECANT_CARRY_SLOPE)) == 1.0
    assert _carried_scale(2.0, 1.0, 1.0, -0.1) == 1.0
    assert _carried_scale(2.0, 1.0, 1.0, SECANT_CARRY_SLOPE) == 1.0  # the maximum nearly
    assert _carried_scale(1.0, 1.5, 1.0, 0.0) == 1.0
    assert _carried_scale(1.0, 1.34, 1.0, 0.145) == pytest.approx(1.34 / 0.855)
    assert _carried_scale(2.0, 1.0, 1.0, 0.15) == pytest.approx(2.0 / 0.85)
    assert _carried_scale(3.0, 1.0, 1.0, 0.6) == SECANT_MAX
    assert _carried_scale(1.0, 0.5, 1.0, 0.3) == 1.0  # (a root below 1: Newton's step)


@pytest.mark.parametrize("k", [2, 3])
def test_a_text_fit_with_the_carried_multiple_is_stationary(k):
    """A text-like fit whose early Newton steps fall short (the secant step and the carried
    multiple at work) converges, and its stationarity recomputed from the definition
    ``X^T W (Y - P) - lam theta`` (penalised rows; the intercept's without the penalty) is
    within the tolerance."""
    MaxEntClassifier = _classifier()
    from dualmaxent import bench_sparse

    _, X, y = bench_sparse.make_problem("text", {"n": 3000, "m": 3000, "k": k})
    C, tol = 10.0, 1e-8
    est = MaxEntClassifier(C=C, tol=tol).fit(X, y)
    assert est.dual_.converged and est.certificate_.ok
    ds = Dataset.from_arrays(X, y)
    theta = est.dual_.theta
    Xd = ds.X
    eta = np.asarray(Xd @ theta)
    if theta.ndim == 1:  # two classes: the Bernoulli view, P(class 1) = sigmoid(eta)
        Y = ds.Y[:, 1]
        R = ds.weights * (Y - 1.0 / (1.0 + np.exp(-eta)))
        WY = ds.weights * Y
    else:
        P = np.exp(eta - eta.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        R = ds.weights[:, None] * (ds.Y - P)
        WY = ds.weights[:, None] * ds.Y
    grad = np.asarray(Xd.T @ R)
    grad[:-1] -= theta[:-1] / C  # the intercept (the last column of X) is not penalised
    scale = 1.0 + np.abs(np.asarray(Xd.T @ WY)).max()
    # the free entries: every row of every class but the pinned class's intercept
    free = grad if theta.ndim == 1 else np.concatenate([grad[:, :-1].ravel(), grad[:-1, -1]])
    assert np.abs(free).max() / scale <= tol * (1 + 1e-6)


def test_the_value_alone_equals_the_value_with_the_gradient():
    """``smooth_value`` (no gradient packed) is exactly ``smooth_value_grad``'s value, at a
    cached point and at a new one, with and without a penalty."""
    for lam in (0.0, 0.4):
        rng, ds, obj, beta = _problem(9, 120, 15, 3, lam or 1.0)
        if not lam:
            from dualmaxent.objective import make_objective
            obj = make_objective(ds)
        b = obj.start() + 0.2 * rng.standard_normal(obj.n_params)
        first = obj.smooth_value(b)
        assert first == obj.smooth_value_grad(b)[0] == obj.smooth_value(b.copy())
        fresh = type(obj)(ds, obj.penalty)
        assert fresh.smooth_value_grad(b)[0] == first


def test_cg_stops_on_the_trust_radius():
    """:func:`dualmaxent.solvers.cg_direction` with a ``radius`` (Steihaug-Toint): the step is
    never longer than the radius, lies on it when the Newton step is longer (CG's path leaves the
    ball), is the Newton step itself when the ball holds it, and its slope is ``g^T s``; its
    model ascent ``g^T s - s^T N s / 2`` (``N = -H`` from the definitions) is at least that of
    the first CG direction ``z_0 = M^-1 g`` cut to the radius (the model rises along CG's path)."""
    from dualmaxent.solvers import cg_direction

    lam = 0.5
    rng, ds, obj, beta = _problem(21, 150, 12, 4, lam)
    N, _ = _hessian(ds, obj, lam, beta)
    g = rng.standard_normal(obj.n_params)
    exact = np.linalg.solve(N, g)
    full = np.linalg.norm(exact)

    def model(s):
        return g @ s - 0.5 * s @ N @ s

    _, psolve = obj.curvature_operator(beta)
    z0 = psolve(g)
    for frac in (0.05, 0.3, 0.7, 0.98, 1.5):
        radius = frac * full
        s, slope = cg_direction(obj, beta, g.copy(), 1e-20, max_cg=10 * obj.n_params,
                                overwrite=True, radius=radius)
        assert np.linalg.norm(s) <= radius * (1 + 1e-12)
        assert slope == pytest.approx(g @ s, rel=1e-10)
        if frac < 1:
            assert np.linalg.norm(s) == pytest.approx(radius, rel=1e-12)
            tau = min(radius / np.linalg.norm(z0), (g @ z0) / (z0 @ N @ z0))
            assert model(s) >= model(tau * z0) * (1 - 1e-12)
        else:
            assert np.linalg.norm(s - exact) <= 1e-8 * full


def test_the_trust_radius_follows_the_ratio_of_actual_to_predicted_ascent():
    """:class:`dualmaxent.solvers._NewtonCGStep`: no radius at first; a step whose ascent is
    below ``TR_SHRINK_RATIO`` of the model's makes the next radius half of it, and the next
    direction then lies on that radius (capped, its multiple not carried); a capped step whose
    ratio is above ``TR_EXPAND_RATIO`` doubles the radius; a rise within round-off (None)
    changes nothing."""
    from dualmaxent.solvers import TR_EXPAND_RATIO, TR_SHRINK_RATIO, _NewtonCGStep

    lam = 0.5
    rng, ds, obj, beta = _problem(22, 150, 12, 4, lam)
    step = _NewtonCGStep(obj, 1e-10)
    assert step.radius == np.inf
    _, g = obj.smooth_value_grad(beta)
    d, slope0 = step.step(obj, beta, [g], 1e-2)
    assert not step.capped and step.length == pytest.approx(np.linalg.norm(d))
    model = slope0 * (1.0 - 0.5 * step.multiple)  # the model's ascent at t = 1
    step.measured(1.0, slope0, 0.0, None)
    assert step.radius == np.inf
    step.measured(1.0, slope0, 0.0, 0.9 * TR_SHRINK_RATIO * model)
    assert step.radius == pytest.approx(0.5 * np.linalg.norm(d))
    radius = step.radius
    _, g = obj.smooth_value_grad(beta)
    d2, slope2 = step.step(obj, beta, [g], 1e-2)
    assert step.capped and np.linalg.norm(d2) == pytest.approx(radius, rel=1e-12)
    assert slope2 == pytest.approx(g @ d2, rel=1e-10)
    model2 = slope2 * (1.0 - 0.5 * step.multiple)
    step.measured(1.0, slope2, 0.5 * slope2, 1.01 * TR_EXPAND_RATIO * model2)
    assert step.radius == pytest.approx(2 * radius)
    assert step.scale == 1.0  # (the secant's root would have carried 2)


def test_no_secant_trial_after_a_halving():
    """:func:`dualmaxent.solvers._secant_step` tries no longer step when the line search
    halved (``F`` fell at ``2 t``) nor after a step on the trust radius: no pass is made and the
    accepted point is returned as it is; after a full step with the same slopes it tries one."""
    from dualmaxent.solvers import SECANT_SLOPE, _NewtonCGStep, _secant_step

    lam = 0.5
    rng, ds, obj, beta = _problem(23, 150, 12, 4, lam)
    F, g = obj.smooth_value_grad(beta)
    direction = _NewtonCGStep(obj, 1e-10)
    d, slope0 = direction.step(obj, beta, [g.copy()], 1e-2)
    passes = []
    real = obj.smooth_value_grad

    def counted(b, hessian=False):
        passes.append(1)
        return real(b, hessian)

    obj.smooth_value_grad = counted
    for t in (0.5, 0.25):
        cand = beta + t * d
        value, grad = real(cand)
        # a slope still well above SECANT_SLOPE of the start's (a secant would go on)
        grad = grad + (0.9 - SECANT_SLOPE) * slope0 / (d @ d) * d
        found = (t, cand, grad, F + 1.0)
        passes.clear()
        assert _secant_step(obj, F, found, d, slope0, direction) is found
        assert not passes
    direction.capped = True
    found = (1.0, beta + d, grad, F + 1.0)
    assert _secant_step(obj, F, found, d, slope0, direction) is found and not passes
    direction.capped = False
    _secant_step(obj, F, found, d, slope0, direction)
    assert passes


def test_the_line_searchs_gradient_is_the_accepted_points():
    """In memory the line search asks for the value with its gradient in one call (no second
    call at the accepted point): the gradient it returns is exactly a fresh objective's there."""
    from dualmaxent.objective import make_objective
    from dualmaxent.params import make_penalty
    from dualmaxent.solvers import _line_search, _NewtonCGStep

    lam = 0.5
    rng, ds, obj, beta = _problem(24, 150, 12, 4, lam)
    F, g = obj.smooth_value_grad(beta)
    direction = _NewtonCGStep(obj, 1e-10)
    d, slope0 = direction.step(obj, beta, [g.copy()], 1e-2)
    for scale in (1.0, 40.0):  # accepted at once; after halvings
        point = beta.copy()  # (moved in place along the line)
        t, cand, grad, new_F = _line_search(obj, point, F, 1e-2, scale * d, scale * slope0,
                                            direction, False)
        fresh = make_objective(ds, make_penalty(l2=lam))
        value, expect = fresh.smooth_value_grad(cand)
        assert np.array_equal(grad, expect) and new_F == value
        assert cand is point
        # beta + t D after 1 - log2(t) moves of one rounding each (D = scale d; the first move
        # is the plain sum, bit for bit)
        moves = 1 - np.log2(t)
        assert np.all(np.abs(cand - (beta + t * scale * d)) <= 2 * moves * np.finfo(float).eps
                      * (np.abs(beta) + 2 * scale * np.abs(d)))
        if t == 1.0:
            assert np.array_equal(cand, beta + scale * d)
    assert t < 1.0


def test_a_text_fit_on_the_trust_radius_is_stationary():
    """A 20-class text fit whose first Newton step overshoots (its ascent a third of the
    model's: the trust radius cuts the second step, as on ``bench --sparse``'s text k = 20)
    converges, certified, and is stationary by the definition ``X^T W (Y - P) - lam theta``
    (penalised rows; the intercept's without the penalty)."""
    MaxEntClassifier = _classifier()
    from dualmaxent import bench_sparse, solvers

    capped = []
    real = solvers._NewtonCGStep.measured

    def spy(self, *args, **kwargs):
        capped.append(self.capped)
        return real(self, *args, **kwargs)

    _, X, y = bench_sparse.make_problem("text", {"n": 600, "m": 800, "k": 20})
    C, tol = 10.0, 1e-8
    try:
        solvers._NewtonCGStep.measured = spy
        est = MaxEntClassifier(C=C, tol=tol).fit(X, y)
    finally:
        solvers._NewtonCGStep.measured = real
    assert est.dual_.method == "newton-cg" and any(capped)
    assert est.dual_.converged and est.certificate_.ok
    ds = Dataset.from_arrays(X, y)
    theta = est.dual_.theta
    eta = np.asarray(ds.X @ theta)
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    grad = np.asarray(ds.X.T @ (ds.weights[:, None] * (ds.Y - P)))
    grad[:-1] -= theta[:-1] / C
    scale = 1.0 + np.abs(np.asarray(ds.X.T @ (ds.weights[:, None] * ds.Y))).max()
    free = np.concatenate([grad[:, :-1].ravel(), grad[:-1, -1]])
    assert np.abs(free).max() / scale <= tol * (1 + 1e-6)
