"""Sparse designs end to end: a scipy.sparse X stays sparse, and every result equals the same
computation on ``X.toarray()``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dualmaxent import Dataset, certify, design, solve_dual, verify
from dualmaxent.certify import gamma
from dualmaxent.exceptions import DataError

from _memory import peak_above_start as _peak_above_start

FAMILIES = {
    "categorical": lambda rng, n: rng.integers(0, 3, n),
    "bernoulli": lambda rng, n: rng.integers(0, 2, n),
    "poisson": lambda rng, n: rng.poisson(1.0, n),
    "gaussian": lambda rng, n: rng.standard_normal(n),
}


def _sparse_dense(n=300, p=25, density=0.2, seed=0):
    rng = np.random.default_rng(seed)
    Xd = rng.standard_normal((n, p)) * (rng.random((n, p)) < density)
    return rng, Xd


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("intercept", [True, False])
def test_a_sparse_x_stays_sparse_read_only_and_the_callers_untouched(fmt, intercept):
    rng, Xd = _sparse_dense()
    Xs = sp.random_array((1, 1)).asformat(fmt)  # the format's class
    Xs = type(Xs)(Xd)
    before = Xs.copy()
    flags = [a.flags.writeable for a in (Xs.data, getattr(Xs, "indices", Xs.data))]
    ds = Dataset.from_arrays(Xs, rng.integers(0, 3, Xd.shape[0]), intercept=intercept)
    assert design.is_sparse(ds.X) and ds.X.shape == (300, 25 + intercept)
    stored = ds.X.base if intercept else ds.X
    assert isinstance(ds.X, design.OnesColumn) == intercept
    assert sp.issparse(stored) and stored.format == "csr" and stored.shape == (300, 25)
    dense = ds.X.toarray()
    assert np.array_equal(dense[:, :25], Xd) and (not intercept or np.all(dense[:, -1] == 1.0))
    # a canonical CSR is read where it is (no copy: the ones are implicit), through views
    # that cannot write; any other format is made one canonical copy
    assert np.shares_memory(stored.data, getattr(Xs, "data", np.empty(0))) == (fmt == "csr")
    assert not any(a.flags.writeable for a in (stored.data, stored.indices, stored.indptr))
    with pytest.raises(ValueError):
        stored.data[0] = 5.0
    assert (abs(Xs - before)).sum() == 0  # the caller's matrix is untouched, flags and all
    assert [a.flags.writeable for a in (Xs.data, getattr(Xs, "indices", Xs.data))] == flags


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("penalty", [{}, {"l2": 2.0}, {"l1": 3.0}])
def test_the_sparse_fit_and_certificate_equal_the_dense_ones(family, penalty):
    rng, Xd = _sparse_dense(seed=sorted(FAMILIES).index(family))
    y = FAMILIES[family](rng, Xd.shape[0])
    dense = Dataset.from_arrays(Xd, y, family=family)
    sparse = Dataset.from_arrays(sp.csr_array(Xd), y, family=family)
    a = solve_dual(dense, tol=1e-12, **penalty)
    b = solve_dual(sparse, tol=1e-12, **penalty)
    scale = 1.0 + np.abs(a.theta).max()
    # two tight solves of one strictly concave problem (L1 fits: also at equal zeros)
    assert np.abs(a.theta - b.theta).max() <= 1e-8 * scale
    c = certify(sparse, b.theta, **penalty)
    d = certify(dense, b.theta, **penalty)
    # the upper bound is the dual objective at theta, recomputed here from its definition
    theta = b.theta.reshape(sparse.m, -1)
    eta = Xd @ theta[:-1] + theta[-1]
    fam = sparse.family
    canonical = fam.canonical_loglik(sparse.Y, eta if fam.multiclass else eta[:, 0],
                                     sparse.weights)
    pen = (penalty.get("l2", 0.0) / 2 * np.sum(theta[:-1] ** 2)
           + penalty.get("l1", 0.0) * np.abs(theta[:-1]).sum())
    n_terms = sparse.n * sparse.m
    assert c.upper_bound == pytest.approx(-(canonical - pen), rel=gamma(n_terms) * 10, abs=1e-9)
    # the same bracket as on the dense copy, up to both round-off budgets; and sound
    assert abs(c.lower_bound - d.lower_bound) <= c.roundoff + d.roundoff + 1e-12 * abs(c.upper_bound)
    assert c.lower_bound <= c.upper_bound + c.roundoff
    assert c.ok


def test_verify_runs_the_cvxpy_primal_on_a_sparse_constant():
    pytest.importorskip("cvxpy", reason="the primal is built in CVXPY (a core dependency)")
    rng, Xd = _sparse_dense(n=120, p=8)
    y = rng.integers(0, 3, 120)
    v = verify(Dataset.from_arrays(sp.csr_array(Xd), y), l2=1.0, primal="cvxpy")
    w = verify(Dataset.from_arrays(Xd, y), l2=1.0, primal="cvxpy")
    assert v.primal is not None and v.ok and w.ok
    assert v.primal.objective == pytest.approx(w.primal.objective, abs=1e-6)


def test_the_estimator_takes_sparse_input_and_predicts_on_it():
    pytest.importorskip("sklearn", reason="MaxEntClassifier needs scikit-learn (pip install '.[test]')")
    from dualmaxent import MaxEntClassifier

    rng = np.random.default_rng(3)
    X = sp.random_array((400, 60), density=0.1, random_state=3, format="csr")
    y = rng.integers(0, 3, 400)
    a = MaxEntClassifier(C=10.0).fit(X, y)
    b = MaxEntClassifier(C=10.0).fit(X.toarray(), y)
    assert np.abs(a.coef_ - b.coef_).max() <= 1e-8 * (1.0 + np.abs(b.coef_).max())
    assert np.abs(a.predict_proba(X) - b.predict_proba(X.toarray())).max() <= 1e-10
    assert a.certificate_.ok


def test_a_wide_sparse_design_takes_newton_cg_and_is_certified_without_a_rank():
    rng = np.random.default_rng(5)
    n, p = 600, 5000
    X = sp.random_array((n, p), density=0.005, random_state=5, format="csr")
    y = rng.integers(0, 3, n)
    ds = Dataset.from_arrays(X, y)
    assert not ds.rank_computable
    res = solve_dual(ds, l2=0.1)
    assert res.method == "newton-cg" and res.status == "converged"
    cert = certify(ds, res.theta, l2=0.1)
    assert cert.ok and cert.rank == -1
    # the gradient it reports is the definition's: X^T (Y - P) - lam theta, relative
    theta = res.theta.reshape(ds.m, -1)
    eta = ds.X @ theta
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    G = ds.X.T @ (ds.Y - P)
    G[:-1] -= 0.1 * theta[:-1]
    G = G - G[:, -1:]  # the pivot gauge: the last class's column is pinned
    scale = 1.0 + np.abs(ds.X.T @ ds.Y).max()
    assert np.abs(G[:, :-1]).max() / scale <= 1e-6


def test_an_unpenalised_wide_sparse_fit_is_a_one_line_error():
    X = sp.random_array((50, 5000), density=0.01, random_state=1, format="csr")
    ds = Dataset.from_arrays(X, np.arange(50) % 2)
    with pytest.raises(DataError, match="penalty"):
        solve_dual(ds)


def test_a_sparse_design_with_many_more_columns_than_rows_is_refused_without_a_penalty():
    # 300 rows, 900 columns: 600 dependencies certain, too many to name (MAX_NULLITY)
    X = sp.random_array((300, 900), density=0.02, random_state=2, format="csr")
    ds = Dataset.from_arrays(X, np.arange(300) % 2)
    assert not ds.rank_computable
    with pytest.raises(DataError, match="fewer rows of positive weight"):
        solve_dual(ds)


def test_a_penalised_sparse_certificate_computes_no_rank():
    rng, Xd = _sparse_dense(seed=3)
    ds = Dataset.from_arrays(sp.csr_array(Xd), rng.integers(0, 3, Xd.shape[0]))
    cert = certify(ds, solve_dual(ds, l2=1.0).theta, l2=1.0)
    assert cert.ok and cert.rank == -1 and "identifiability" not in vars(ds)


def test_bad_sparse_input_is_a_one_line_error_naming_the_entry():
    X = sp.csr_array(np.array([[0.0, 1.0], [np.nan, 0.0], [1.0, 0.0]]))
    with pytest.raises(DataError, match=r"column 'x1' at row 2"):
        Dataset.from_arrays(X, [0, 1, 0])
    Z = sp.csr_array(np.array([[0, 1j], [1, 0], [0, 2]]))
    with pytest.raises(DataError, match="real"):
        Dataset.from_arrays(Z, [0, 1, 0])


def _newton_system(ds, obj, lam, beta):
    """``(-H, g, M)`` in the free parameters of ``obj`` at ``beta``, from the definitions on
    ``X.toarray()``: block ``(a, b)`` of ``-H`` is ``X^T diag(w p_a (delta_ab - p_b)) X``, plus
    ``lam`` on the penalised rows; ``g = X^T W (Y - P) - lam theta`` on them; ``M`` the
    magnitude ``|X|^T diag(w p_a (delta_ab + p_b)) |X| + lam`` of ``-H``'s sums, for round-off
    bounds."""
    Xd, w, k, m = ds.X.toarray(), ds.weights, ds.k, ds.m
    theta = obj.theta(beta)
    eta = Xd @ theta
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    pen = np.tile(obj.penalized_rows, k) * lam
    H = np.zeros((k * m, k * m))
    M = np.zeros((k * m, k * m))
    for a in range(k):
        for b in range(k):
            d = w * P[:, a] * ((a == b) - P[:, b])
            H[a * m:(a + 1) * m, b * m:(b + 1) * m] = Xd.T @ (d[:, None] * Xd)
            M[a * m:(a + 1) * m, b * m:(b + 1) * m] = np.abs(Xd).T @ (np.abs(d)[:, None]
                                                                       * np.abs(Xd))
    H[np.diag_indices_from(H)] += pen
    M[np.diag_indices_from(M)] += pen
    G = Xd.T @ (w[:, None] * (ds.Y - P)) - lam * theta * obj.penalized_rows[:, None]
    idx = obj.params.free_flat
    return H[np.ix_(idx, idx)], G.T.ravel()[idx], M[np.ix_(idx, idx)]


def float64_step(monkeypatch, obj, dtype=np.float64) -> None:
    """CG's step kept in ``dtype`` on ``obj``'s system (float32 on theta's table): the tests of
    the step CG solves for take it in float64; a float32 step is that one rounded
    (tests/test_cg_system.py)."""
    system = obj.curvature_system
    monkeypatch.setattr(obj, "curvature_system", lambda b: system(b)._replace(step_dtype=dtype))


def _wide_system(seed, n, p, k, lam, density=0.15):
    """A random sparse ``(n, p)`` design with ``k`` classes and L2 at ``lam``, a point ``beta``
    off the start, and there ``(ds, obj, beta, -H, g, M, matvec, psolve)``: the system from the
    definitions (:func:`_newton_system`) and the objective's own operator."""
    from dualmaxent.objective import make_objective
    from dualmaxent.params import make_penalty

    rng = np.random.default_rng(seed)
    X = sp.random_array((n, p), density=density, random_state=seed, format="csr")
    ds = Dataset.from_arrays(X, rng.integers(0, k, n))
    obj = make_objective(ds, make_penalty(l2=lam))
    beta = obj.start() + 0.3 * rng.standard_normal(obj.n_params)
    H, g, M = _newton_system(ds, obj, lam, beta)
    matvec, psolve = obj.curvature_operator(beta)
    return ds, obj, beta, H, g, M, matvec, psolve


@pytest.mark.parametrize("k", [2, 3])  # two classes take a product of width one
@pytest.mark.parametrize("lam, jacobi", [(1e-3, True), (50.0, False)])
def test_the_wide_sparse_preconditioner_is_positive_definite_and_cg_solves_the_newton_system(
        monkeypatch, lam, jacobi, k):
    """The preconditioner of a wide sparse design (Jacobi where the data's curvature exceeds
    the penalty on most entries, the identity where the penalty dominates) is symmetric
    positive definite, and CG with it solves ``-H s = g`` as computed from the definitions."""
    from dualmaxent import objective
    from dualmaxent.solvers import cg_direction

    monkeypatch.setattr(objective, "SPARSE_DENSE_PRECONDITIONER_MAX", 5)  # the wide path
    n = 400
    ds, obj, beta, H, g, M, matvec, psolve = _wide_system(11, n, 30, k, lam)
    rng = np.random.default_rng(11)
    size = obj.n_params
    Pinv = np.column_stack([psolve(e) for e in np.eye(size)])
    # division by a positive diagonal, or the identity: exactly symmetric, positive eigenvalues
    assert np.array_equal(Pinv, Pinv.T)
    assert np.array_equal(Pinv, np.diag(np.diag(Pinv))) and np.all(np.diag(Pinv) > 0)
    assert np.array_equal(np.diag(Pinv) == 1.0, np.ones(size, dtype=bool)) != jacobi
    # the curvature operator is -H: the kernel's chain has m + k + n + 3 roundings
    # (:func:`dualmaxent._kernels.categorical_hessp_error_bound`; the two-class product's is
    # shorter), the reference n + size, each times the magnitude M |v| (Higham's gamma bound,
    # for any order of summation)
    v = rng.standard_normal(size)
    chain = max(ds.m + ds.k + n + 3, n + size)
    assert np.all(np.abs(matvec(v) - H @ v) <= 2 * gamma(chain) * (M @ np.abs(v)))
    # CG to a tight forcing term: the true residual of the Newton system is below the target
    # plus the drift of CG's recursive residual from the true one (at most 2 gamma(size + 2)
    # (|H| |s| + |g|) per iteration, summed over at most max_cg iterations); then s is within
    # |r| / lambda_min(-H) of the exact Newton step
    rel = 1e-20  # forcing min(0.1, sqrt(rel)) = 1e-10
    float64_step(monkeypatch, obj)
    s = cg_direction(obj, beta, g, rel, max_cg=10 * size)
    r = H @ s - g
    drift = 10 * size * 2 * gamma(size + 2) * (np.abs(H).max() * size * np.abs(s).max()
                                               + np.abs(g).max()) * np.sqrt(size)
    assert np.linalg.norm(r) <= 1e-10 * np.linalg.norm(g) + drift
    # the reference step's own error: LU's backward error gamma(3 size) |H| |x| (Higham 9.4)
    # through |H^-1| <= 1 / lambda_min
    exact = np.linalg.solve(H, g)
    lam_min = np.linalg.eigvalsh(H)[0]
    assert lam_min > 0
    solve_error = gamma(3 * size) * np.linalg.norm(np.abs(H) @ np.abs(exact)) / lam_min
    assert np.linalg.norm(s - exact) <= (np.linalg.norm(r) + drift) / lam_min + solve_error


@pytest.mark.parametrize("row_step", [1, 4])
def test_the_coarse_space_preconditioner_is_positive_definite_exact_on_its_space_and_cg_solves(
        monkeypatch, row_step):
    """The two-level preconditioner of a wide, penalty-dominated sparse design with many
    classes (:meth:`DualObjective._coarse_preconditioner`) is ``I / lam + U (E^-1 - G^-1 / lam)
    U^T`` with ``E = U^T (-H) U`` and ``G = U^T U`` from the definitions: symmetric positive
    definite, ``M^-1 U = U E^-1 G`` on ``U``'s span (to the float32 rounding of ``E``'s rank-n
    term; with every row in ``E``'s sums) and ``1 / lam`` on its orthogonal complement; CG with
    it solves ``-H s = g``. With ``E`` summed over a row sample (``SPARSE_COARSE_ROW_STEP``) it
    is still symmetric positive definite, ``1 / lam`` off ``U``'s span, and CG still solves."""
    from dualmaxent import objective
    from dualmaxent.solvers import cg_direction

    monkeypatch.setattr(objective, "SPARSE_COARSE_ROW_STEP", row_step)
    monkeypatch.setattr(objective, "SPARSE_DENSE_PRECONDITIONER_MAX", 5)  # the wide path
    monkeypatch.setattr(objective, "SPARSE_COARSE_RANK", 3)
    monkeypatch.setattr(objective, "SPARSE_COARSE_MIN_CLASSES", 4)
    k, lam = 4, 50.0  # the penalty dominates: plain CG, then the coarse space
    ds, obj, beta, H, g, M, matvec, psolve = _wide_system(12, 300, 20, k, lam)
    assert obj._plain_cg and obj._coarse_basis is not None
    size = obj.n_params
    Pinv = np.column_stack([psolve(e).copy() for e in np.eye(size)])
    assert np.allclose(Pinv, Pinv.T, rtol=0, atol=1e-12 * np.abs(Pinv).max())
    assert np.linalg.eigvalsh(0.5 * (Pinv + Pinv.T))[0] > 0
    # U: B (x) I_q restricted to the free entries, class-major like beta
    B = obj._coarse_basis
    full = np.kron(np.eye(ds.k), B)  # (k m, k r): column (a, i) is B[:, i] in class a
    U = full[obj.params.free_flat]
    U = U[:, np.abs(U).sum(axis=0) > 0]
    E, G = U.T @ H @ U, U.T @ U
    want = U @ np.linalg.solve(E, G)
    if row_step == 1:
        assert np.abs(Pinv @ U - want).max() <= 1e-5 * np.abs(want).max()
    # on the orthogonal complement of U's span: 1 / lam
    Q = np.linalg.qr(U, mode="complete")[0][:, U.shape[1]:]
    assert np.allclose(Pinv @ Q, Q / lam, atol=1e-12)
    float64_step(monkeypatch, obj)
    s = cg_direction(obj, beta, g, 1e-20, max_cg=10 * size)
    exact = np.linalg.solve(H, g)
    assert np.linalg.norm(s - exact) <= 1e-8 * np.linalg.norm(exact)


def test_the_squares_of_a_sparse_x_by_row_chunks_equal_those_of_the_whole(monkeypatch):
    """:func:`dualmaxent.design.row_sq_norms` and :func:`~dualmaxent.design.column_sq_sums`
    form the squares a row chunk at a time: the row norms are the same sums exactly, the column
    sums the same up to the order of adding the chunks (gamma(n) times their magnitude)."""
    from dualmaxent import design

    monkeypatch.setattr(design, "SQUARE_CHUNK_MIN", 64)
    rng = np.random.default_rng(4)
    X = sp.random_array((700, 40), density=0.1, random_state=4, format="csr")
    assert len(design._row_chunks(X)) == design.SQUARE_CHUNKS
    whole = design.with_data(X, np.square(X.data))
    assert np.array_equal(design.row_sq_norms(X), whole @ np.ones(40))
    for w in (rng.random(700), rng.random((700, 3))):
        ref = whole.T @ w
        assert design.column_sq_sums(X, w).shape == ref.shape
        assert np.all(np.abs(design.column_sq_sums(X, w) - ref) <= gamma(700) * ref)
    empty = sp.csr_array((5, 4))
    assert np.array_equal(design.row_sq_norms(empty), np.zeros(5))
    assert np.array_equal(design.column_sq_sums(empty, np.ones((5, 2))), np.zeros((4, 2)))


@pytest.mark.parametrize("k, lam", [(3, 0.5), (2, 0.5), (3, 0.0)])
def test_the_curvature_operator_reuses_one_buffer_without_mixing_calls(k, lam):
    """``matvec`` writes its result into its one buffer: a second call (also one handed its own
    last result) equals a fresh operator's, and the pinned entries never leak between calls."""
    from dualmaxent.objective import make_objective
    from dualmaxent.params import make_penalty

    rng = np.random.default_rng(k)
    X = sp.random_array((300, 20), density=0.2, random_state=k, format="csr")
    ds = Dataset.from_arrays(X, rng.integers(0, k, 300))
    obj = make_objective(ds, make_penalty(l2=lam) if lam else None)
    beta = obj.start() + 0.1 * rng.standard_normal(obj.n_params)
    H = obj.hessian(beta)
    matvec, _ = obj.curvature_operator(beta)
    u, v = rng.standard_normal((2, obj.n_params))
    first = matvec(u).copy()
    second = matvec(v).copy()
    again = matvec(matvec(u))  # handed its own buffer
    fresh, _ = obj.curvature_operator(beta)
    assert np.array_equal(first, fresh(u)) and np.array_equal(second, fresh(v))
    assert np.allclose(again, H @ (H @ u), rtol=1e-10, atol=1e-10 * np.abs(H).max() ** 2)
    assert np.allclose(second, -H @ v, rtol=1e-10, atol=1e-12)


def test_a_forgotten_gradient_is_made_again_and_equal():
    """:meth:`DualObjective.forget_gradient` drops the last pass's gradient table only: asked
    again at the same point, the pass is made again and gives the same numbers."""
    from dualmaxent.objective import make_objective, point_key
    from dualmaxent.params import make_penalty

    rng = np.random.default_rng(8)
    X = sp.random_array((200, 15), density=0.3, random_state=8, format="csr")
    ds = Dataset.from_arrays(X, rng.integers(0, 4, 200))
    obj = make_objective(ds, make_penalty(l2=0.3))
    beta = obj.start() + 0.2 * rng.standard_normal(obj.n_params)
    value, grad = obj.smooth_value_grad(beta)
    obj.forget_gradient()
    assert obj._pass_at(obj.theta(beta)) is None
    value2, grad2 = obj.smooth_value_grad(beta)
    assert value2 == value and np.array_equal(grad2, grad)
    theta = obj.theta(beta)
    assert point_key(theta) == point_key(theta.copy()) != point_key(np.nextafter(theta, 1))


def test_a_newton_cg_solve_on_many_classes_keeps_few_coefficient_vectors():
    """Memory of a wide sparse Newton-CG solve (issue 20): its tracemalloc peak above what was
    allocated before it, in vectors of p = m k floats. CG's three (s, r, d), the operator's
    buffer and product, the iterate, its gradient and the starting point, with the (n, k)
    tables of the probabilities and of ``X V``, and the coarse space's float32 basis and
    Galerkin factor (:meth:`DualObjective._coarse_preconditioner`, 1.1 here, where m is small;
    CG's residual is the gradient itself) come to 8.7 here: 10.1 before the seventh session's
    cuts (the starting point, the line's start, theta beside its packed gradient, the digest's
    copy of theta; ``tests/test_sparse_memory.py``) and 17.7 before the fourth's (the cached
    gradient table, the key bytes of theta, X^T W Y, CG's z, Cd and last direction, the
    penalty's diagonal, the transposed copies around every product)."""
    ds, penalty = _many_classes()
    solve_dual(ds, penalty=penalty, method="newton-cg")  # imports and first-call costs
    res, peak = _peak_above_start(lambda: solve_dual(ds, penalty=penalty, method="newton-cg"))
    assert res.converged
    vectors = peak / (8 * ds.m * ds.k)
    assert vectors <= 9.5, vectors


def test_the_certificate_of_many_classes_keeps_few_coefficient_tables():
    """Memory of the checker on a wide sparse design (issue 20): its tracemalloc peak above
    what was allocated before it, in (m, k) tables of floats. Its own copy of theta, pass 2's
    residual, the bound of that residual's sum and the gradient's budget (each freed on its own
    once reduced), a chunk of a product and the (n, k) tables of the passes (0.16 of a table
    each here) come to 5.9; before the cuts it was 19.9 (two parameterisations' int64 index
    arrays, R kept with X^T W Y beside it, the step as a full table, the copies of R, of the
    budget and of theta's penalised rows in the KKT residual and the shift, scipy's C-order
    copies of the class-major tables, |X| copied for a nonnegative X, the curvature's
    gathered sparse columns)."""
    ds, penalty = _many_classes()
    res = solve_dual(ds, penalty=penalty, method="newton-cg")
    certify(ds, res.theta, penalty=penalty)  # imports and first-call costs
    cert, peak = _peak_above_start(lambda: certify(ds, res.theta, penalty=penalty))
    assert cert.ok
    tables = peak / (8 * ds.m * ds.k)
    assert tables <= 7.5, tables


def _many_classes():
    """The memory tests' text-like data: n = 400, m = 2500 words, k = 12 classes, L2 0.1."""
    from dualmaxent import bench_sparse
    from dualmaxent.params import make_penalty

    X, y = bench_sparse.text_data(n=400, m=2500, k=12, tokens=20)
    return Dataset.from_arrays(X, y, family="categorical"), make_penalty(l2=0.1)




def test_the_implicit_ones_column_is_the_stored_one_in_every_operation():
    """A :class:`~dualmaxent.design.OnesColumn` gives, in every operation the passes use, what
    the CSR with its ones stored gives (the stored copy built here by scipy, independently)."""
    rng, Xd = _sparse_dense(n=120, p=9, seed=4)
    B = sp.csr_array(Xd)
    X = design.ones_column(B)
    S = sp.hstack([B, sp.csr_array(np.ones((120, 1)))], format="csr")  # the reference
    full = S.toarray()
    assert X.shape == S.shape and X.nnz == S.nnz and design.nbytes(X) == design.nbytes(B)
    np.testing.assert_array_equal(X.toarray(), full)
    np.testing.assert_array_equal(X.tocsr().toarray(), full)
    V, v = rng.standard_normal((10, 3)), rng.standard_normal(10)
    R, r = rng.standard_normal((120, 3)), rng.standard_normal(120)
    for got, want in ((X @ V, full @ V), (X @ v, full @ v), (X.T @ R, full.T @ R),
                      (X.T @ r, full.T @ r)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    rows = np.array([3, 7, 50, 51, 119])
    np.testing.assert_array_equal(X[rows].toarray(), full[rows])
    np.testing.assert_array_equal(X[10:40].toarray(), full[10:40])
    for cols in ([9], [2, 9], [9, 2, 4], slice(5, 10), np.arange(10) % 2 == 1, 4):
        got = X[:, cols]
        np.testing.assert_array_equal(got.toarray() if sp.issparse(got) else got,
                                      S[:, cols].toarray() if sp.issparse(S[:, cols])
                                      else S[:, cols])
    w, W = rng.random(120), rng.random((120, 2))
    d = rng.standard_normal(120)
    s = np.append(2.0 ** rng.integers(-3, 3, 9), 1.0)
    pairs = [(design.column_absmax(X), np.abs(full).max(axis=0)),
             (design.column_sq_sums(X, w), w @ full ** 2),
             (design.column_sq_sums(X, W), (full ** 2).T @ W),
             (design.row_sq_norms(X), (full ** 2).sum(axis=1)),
             (design.weighted_gram(X, d), full.T @ (d[:, None] * full)),
             (design.column(X, 9), full[:, 9]), (design.column(X, 4), full[:, 4]),
             (design.absolute(X).toarray(), np.abs(full)), (abs(X).toarray(), np.abs(full)),
             (design.scale_rows(X, d).toarray(), d[:, None] * full),
             (design.scale_columns(X, s).toarray(), full * s),
             (design.scale_columns(X, s, divide=True).toarray(), full / s),
             (np.array([X.max(), X.min()]), np.array([full.max(), full.min()]))]
    for got, want in pairs:
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    assert isinstance(design.scale_columns(X, s), design.OnesColumn)  # the ones kept implicit
    assert design.has_negative(X) == bool((Xd < 0).any())
    assert not design.has_negative(design.absolute(X))


def test_a_canonical_sparse_x_costs_the_data_set_no_copy():
    """Building the data set from a canonical CSR allocates nothing of the size of its
    entries: the intercept is implicit and the entries are read where they are (a stored
    ones column made a second copy of every entry, 1.02 times X's bytes, before)."""
    import tracemalloc

    rng = np.random.default_rng(8)
    n, p = 20_000, 2_000
    X = sp.random_array((n, p), density=0.01, format="csr", rng=rng, dtype=np.float64)
    X.sum_duplicates()
    y = rng.integers(0, 3, n)
    Dataset.from_arrays(X[:100], y[:100])  # first-call costs
    tracemalloc.start()
    ds = Dataset.from_arrays(X, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(ds.X, design.OnesColumn) and np.shares_memory(ds.X.base.data, X.data)
    # what the data set needs of its own: y, its one-hot Y (n, 3), the weights and
    # the columns' maxima -- about 6 n floats, against X's 3 n p / 100 entries' bytes
    assert peak < 0.5 * design.nbytes(X), (peak, design.nbytes(X))


def test_a_few_columns_of_the_implicit_ones_design_copy_only_those():
    """``X[:, cols]`` of a :class:`~dualmaxent.design.OnesColumn` over all rows reads the
    columns from the stored CSR itself (scipy's ``B[:]`` copied every entry first: 0.99
    times the sparse X's bytes at the twenty-class solve's peak, in its coarse space)."""
    import tracemalloc

    rng = np.random.default_rng(9)
    B = sp.random_array((20_000, 2_000), density=0.01, format="csr", rng=rng)
    B.sum_duplicates()
    X = design.ones_column(B)
    X[:, [3, 2000]]  # first-call costs
    tracemalloc.start()
    got = X[:, [3, 2000]]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(got.toarray()[:, 0], B[:, [3]].toarray()[:, 0])
    assert np.all(got.toarray()[:, 1] == 1.0)
    # (scipy's column selection keeps integer temporaries of the stored entries: 0.23 here)
    assert peak < 0.5 * design.nbytes(B), (peak, design.nbytes(B))


def _separated(case: str):
    """``(X, y, family)`` of an unpenalised problem whose likelihood has no maximiser, n = 60.

    ``whole``: the classes are the sign of ``x_0`` (complete: every observation is forced and
    the reduced problem keeps no row). ``indicator``: ``x_0`` an indicator of five rows, all of
    class 1 (quasi-complete: those rows are forced, the rest kept). ``three``: class 2 exactly
    the rows of an indicator ``x_0``, classes 0 and 1 the sign of ``x_1`` (complete over three
    classes). ``poisson``: counts, zero on the seven rows of an indicator ``x_0``
    (quasi-complete: their means are forced to 0).
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    if case == "whole":
        return X, (X[:, 0] > 0).astype(int), "bernoulli"
    rows = {"indicator": 5, "three": 6, "poisson": 7}[case]
    X[:, 0] = 0.0
    X[:rows, 0] = 1.0
    if case == "indicator":
        y = (X[:, 1] + rng.standard_normal(60) > 0).astype(int)
        y[:rows] = 1
        return X, y, "bernoulli"
    if case == "three":
        return X, np.where(X[:, 0] == 1.0, 2, (X[:, 1] > 0).astype(int)), "categorical"
    y = rng.poisson(1.5, 60)
    y[:rows] = 0
    return X, y, "poisson"


SEPARATED = ["whole", "indicator", "three", "poisson"]


@pytest.mark.parametrize("case", SEPARATED)
def test_a_separated_sparse_fit_with_an_intercept_equals_the_dense_one(case):
    """The estimators' unpenalised fit of separated data, sparse (the intercept the design's
    implicit ones) against dense: the same predictions (and, but for complete separation, the
    same coefficients), the certificate ok
    and not attained, a :class:`~dualmaxent.exceptions.SeparationWarning` each. (The reduced
    objective's products crashed on the implicit ones: its ``X^T`` of no kept rows, and its
    curvature ``X^T diag(d) X`` formed by scaling ``X``'s rows entrywise.)"""
    pytest.importorskip("sklearn",
                        reason="the estimators need scikit-learn (pip install '.[test]')")
    from dualmaxent import GLMRegressor, MaxEntClassifier
    from dualmaxent.exceptions import SeparationWarning

    X, y, family = _separated(case)

    def fit(Xin):
        est = (GLMRegressor(family="poisson") if family == "poisson"
               else MaxEntClassifier(C=np.inf))
        with pytest.warns(SeparationWarning):
            return est.fit(Xin, y)

    a, b = fit(sp.csr_array(X)), fit(X)
    if b.certificate_.separation.kind != "complete":
        # (complete separation: any theta far enough along a separating direction serves, each
        # fit's from its own solve's theta, which proves the separation; the same predictions)
        scale = 1.0 + np.abs(b.coef_).max()
        assert np.abs(a.coef_ - b.coef_).max() <= 1e-8 * scale
        assert np.abs(np.asarray(a.intercept_) - b.intercept_).max() <= 1e-8 * scale
    if family == "poisson":
        np.testing.assert_allclose(a.predict(sp.csr_array(X)), b.predict(X), rtol=1e-8,
                                   atol=1e-10)
    else:
        assert np.abs(a.predict_proba(sp.csr_array(X)) - b.predict_proba(X)).max() <= 1e-8
    for est in (a, b):
        assert est.certificate_.ok and est.certificate_.attained is False, est.certificate_.verdict


@pytest.mark.parametrize("case", SEPARATED)
def test_the_reduced_dual_and_verify_of_a_separated_sparse_data_set_equal_the_dense_ones(case):
    """The same problems through the functions: :func:`solve_dual` with the forced entries of
    :func:`~dualmaxent.separation.detect_separation`, and :func:`verify`, on a data set built
    from a CSR (a :class:`~dualmaxent.design.OnesColumn` design) and on its dense copy."""
    from dualmaxent.separation import detect_separation

    X, y, family = _separated(case)
    sparse = Dataset.from_arrays(sp.csr_array(X), y, family=family)
    dense = Dataset.from_arrays(X, y, family=family)
    assert isinstance(sparse.X, design.OnesColumn)
    sep = detect_separation(sparse)
    assert sep.separated and np.array_equal(sep.forced, detect_separation(dense).forced)
    a = solve_dual(sparse, forced=sep, tol=1e-12)
    b = solve_dual(dense, forced=sep, tol=1e-12)
    assert a.status == b.status == "converged"
    assert np.abs(a.theta - b.theta).max() <= 1e-8 * (1.0 + np.abs(b.theta).max())
    c, d = verify(sparse, primal="projected"), verify(dense, primal="projected")
    assert c.ok and c.attained is False and d.ok and d.attained is False, c.verdict
    assert c.upper_bound == pytest.approx(d.upper_bound, rel=1e-9, abs=1e-9)


def test_the_implicit_ones_design_of_no_rows_multiplies_like_an_array():
    """``X^T R`` of a :class:`~dualmaxent.design.OnesColumn` with no rows (the reduced problem
    of completely separated data keeps none) is zeros of the dense product's shape."""
    X = design.ones_column(sp.csr_array(np.eye(4, 3)))[np.zeros(4, dtype=bool)]
    assert X.shape == (0, 4)
    for R in (np.zeros(0), np.zeros((0, 2)), np.zeros((0, 1))):
        got = X.T @ R
        assert got.shape == (np.zeros((0, 4)).T @ R).shape and not got.any()


@pytest.mark.parametrize("family", ["gaussian", "poisson", "bernoulli"])
def test_a_sparse_design_of_badly_scaled_columns_is_rescaled_as_a_dense_one(family):
    """Columns whose sizes span 1e8 (the unpenalised solve rescales them by powers of two,
    a copy of the design): a sparse X with its implicit intercept is rescaled as the dense one
    is, and the fit meets the balance equations ``X^T (y - mu) = 0``, each column's within
    1e-8 of its own terms' size ``|X|^T (|y| + |mu|)`` (the solve stops at 1e-10 of the rescaled
    columns'), as the dense fit does. Its read-only copy once failed on the implicit ones
    (``OnesColumn`` has no ``data``)."""
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((40, 2))
    Z[:, 1] *= 1e8
    eta = Z @ np.array([0.5, 3e-9])
    y = {"gaussian": eta + rng.standard_normal(40),
         "poisson": rng.poisson(np.exp(eta)).astype(float),
         "bernoulli": (eta + rng.logistic(size=40) > 0).astype(float)}[family]
    ds = Dataset.from_arrays(sp.csr_array(Z), y, family=family)
    res = solve_dual(ds)
    assert res.status == "converged"
    X = np.column_stack([Z, np.ones(40)])
    eta = X @ res.theta
    mu = {"gaussian": eta, "poisson": np.exp(eta), "bernoulli": 1 / (1 + np.exp(-eta))}[family]
    assert np.all(np.abs(X.T @ (y - mu)) <= 1e-8 * (np.abs(X).T @ (np.abs(y) + np.abs(mu))))
    dense = solve_dual(Dataset.from_arrays(Z, y, family=family))
    np.testing.assert_allclose(eta, X @ dense.theta, rtol=1e-8, atol=1e-8)
