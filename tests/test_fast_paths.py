"""The fast paths of the dual give the general path's answers.

* Two classes with the second pinned run the binary kernel (``Categorical.one_pass``): value,
  gradient, curvature and ``P`` equal the general categorical kernel's to 1e-10, the gradient
  and Hessian of the objective match finite differences, and ``solve_dual`` keeps the
  categorical layout (theta (m, 2), last column 0) with the Bernoulli fit in its first column.
* Newton's shortcuts on large data (float32 Hessians, reused factorisations, the subsample's
  warm start) reach the same maximiser as plain Newton, to 1e-10.
* The float32 rank screen and the two-column softmax equal their float64 / generic forms.

Every float32 result is compared with the float64 one within a worst-case error bound derived
for both (:mod:`dualmaxent._kernels`: ``gamma(L, u)`` times the magnitudes of the sums, valid for
any summation order, BLAS kernel or fused multiply-add), never within a tolerance tuned on one
machine.
"""

from __future__ import annotations

import _fd
import numpy as np
import pytest

from dualmaxent import design
from dualmaxent import _kernels as K
from dualmaxent import dual as D
from dualmaxent import _numerics as nx
from dualmaxent import identifiability as ID
from dualmaxent import solvers as S
from dualmaxent.data import Dataset
from dualmaxent.dual import DualObjective, solve_dual
from dualmaxent.projected import project_primal
from dualmaxent.results import Penalty

RTOL = 1e-10


def _close(a, b, rtol=RTOL):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= rtol * (1.0 + np.abs(b).max())


def _within(single, exact, bound):
    """``0 < |single - exact| <= bound`` entrywise (nonzero: single precision really ran), with
    a bound under 1% of the result's scale, so that an error of the result's own size fails."""
    err = np.abs(np.asarray(single, dtype=float) - exact)
    assert err.shape == bound.shape and np.all(err > 0)
    assert np.all(err <= bound), f"error / bound up to {np.max(err / bound):.3g}"
    assert bound.max() <= 1e-2 * np.abs(exact).max()


def _binary(n=3000, m=6, seed=0, weights=True):
    """Non-separated two-class data (labels 0/1 from a logit), the default family."""
    rng = np.random.default_rng(seed)
    Xf = rng.standard_normal((n, m - 1))
    eta = Xf @ (0.6 * rng.standard_normal(m - 1)) + 0.3
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(int)
    w = rng.uniform(0.2, 3.0, n) if weights else None
    return Dataset.from_arrays(Xf, y, weights=w)


def test_two_classes_take_the_binary_kernel_with_the_general_kernels_numbers():
    ds = _binary(n=700)
    assert ds.family.multiclass and ds.k == 2
    theta = np.random.default_rng(1).standard_normal((ds.m, 2))
    P_fast, P_gen = np.empty((ds.n, 2)), np.empty((ds.n, 2))
    v, G, C = ds.family.one_pass(ds.X, ds.Y, ds.weights, theta, [0], True, P_fast)
    v0, G0, C0 = K.categorical_vgh(ds.X, ds.Y, ds.weights, theta, classes=[0], P_out=P_gen)
    _close(v, v0)
    _close(G, G0)
    _close(C, C0)
    _close(P_fast, P_gen)
    # both classes free (penalised rows): the binary kernel with the blocks [[1, -1], [-1, 1]]
    # (x) X^T diag(w p0 p1) X gives the general kernel's numbers
    P_both = np.empty((ds.n, 2))
    both = ds.family.one_pass(ds.X, ds.Y, ds.weights, theta, [0, 1], True, P_both)
    for a, b in zip(both, K.categorical_vgh(ds.X, ds.Y, ds.weights, theta, classes=[0, 1])):
        _close(a, b)
    _close(P_both, P_gen)


def test_two_classes_with_l2_are_the_bernoulli_fit_with_half_the_penalty():
    """With L2 both columns are free on the penalised rows; the likelihood depends on their
    difference beta only, and the penalty is least at theta_0 = beta / 2 = -theta_1, where it is
    lambda / 4 |beta|^2: the Bernoulli fit of the first class with lambda / 2."""
    ds = _binary(n=3000)
    lam = 6.0
    res = solve_dual(ds, l2=lam, tol=1e-12)
    assert res.method == "newton" and res.converged  # the binary kernel's width m, not 2m - 1
    bern = Dataset.from_arrays(ds.X[:, :-1], 1 - ds.y, weights=ds.weights, family="bernoulli")
    ref = solve_dual(bern, l2=lam / 2, tol=1e-12)
    beta = res.theta[:, 0] - res.theta[:, 1]
    _close(beta, ref.theta)
    _close(res.theta[:-1, 0], -res.theta[:-1, 1])  # the symmetric split on penalised rows
    _close(res.objective, ref.objective)


@pytest.mark.parametrize("penalty", [Penalty(), Penalty("l2", 3.0)])
def test_two_class_objective_gradient_and_hessian_match_finite_differences(penalty):
    ds = _binary(n=400)
    obj = DualObjective(ds, penalty)
    beta = 0.3 * np.random.default_rng(2).standard_normal(obj.n_params)
    value = lambda b: obj.smooth_value_grad(b)[0]  # noqa: E731
    grad = lambda b: obj.smooth_value_grad(b)[1]  # noqa: E731
    _close(grad(beta), _fd.gradient(value, beta), rtol=1e-7)
    _close(obj.hessian(beta), _fd.hessian(grad, beta), rtol=1e-6)


def test_two_class_solve_keeps_the_categorical_layout_and_the_bernoulli_fit():
    ds = _binary()
    res = solve_dual(ds, tol=1e-12)
    assert res.converged and res.attained
    assert res.theta.shape == (ds.m, 2) and np.all(res.theta[:, 1] == 0.0)
    bern = Dataset.from_arrays(ds.X[:, :-1], ds.y, weights=ds.weights, family="bernoulli")
    ref = solve_dual(bern, tol=1e-12)
    # class 0 against the pinned class 1 is minus the log-odds of the second class
    _close(res.theta[:, 0], -ref.theta)
    _close(res.loglik, ref.loglik)
    # the reported log-likelihood is the definition's at the reported theta
    eta = ds.X @ res.theta
    _close(res.loglik, float(ds.weights @ (ds.Y * nx.log_softmax(eta)).sum(axis=1)))


def test_float32_curvature_is_close_and_leaves_value_and_gradient_alone():
    ds = _binary(n=2000)
    theta = 0.4 * np.random.default_rng(3).standard_normal(ds.m)
    fam = Dataset.from_arrays(ds.X[:, :-1], ds.y, family="bernoulli").family
    Y = ds.Y[:, 0]
    v64, g64, C64 = K.glm_vgh(ds.X, Y, ds.weights, theta, fam)
    v32, g32, C32 = K.glm_vgh(ds.X, Y, ds.weights, theta, fam, curvature_dtype=np.float32)
    assert v32 == v64 and np.array_equal(g32, g64)
    assert C32.dtype == np.float64
    d = ds.weights * fam.variance(ds.X @ theta)
    # gamma(b + 6, u32) |X|^T diag(d) |X| for float32 blocks, gamma(b + 2, u64) for float64's
    bound = K.gram_error_bound(ds.X, d, np.float32) + K.gram_error_bound(ds.X, d, np.float64)
    _within(C32, C64, bound)


def test_float32_categorical_curvature_is_within_its_error_bound():
    rng = np.random.default_rng(10)
    X = np.hstack([rng.standard_normal((3000, 4)), np.ones((3000, 1))])
    w = rng.uniform(0.2, 3.0, 3000)
    theta = 0.4 * rng.standard_normal((5, 3))
    Y = np.eye(3)[rng.integers(0, 3, 3000)]
    P = nx.softmax(X @ theta)
    kw = {"classes": [0, 1], "block_bytes": 256 * 8 * 5}  # 12 blocks of 256 rows at m = 5
    C64 = K.categorical_vgh(X, Y, w, theta, **kw)[2]
    C32 = K.categorical_vgh(X, Y, w, theta, curvature_dtype=np.float32, **kw)[2]
    # gamma(b + 6, u32) (+) gamma(nb + 6, u64) |X|^T diag(w p_a (delta_ab + p_b)) |X|, + float64's
    bound = sum(K.categorical_curvature_error_bound(X, w, P, dtype=t, **kw)
                for t in (np.float32, np.float64))
    _within(C32, C64, bound)


@pytest.fixture
def large_from_small(monkeypatch):
    """Make the large-data shortcuts apply to test-sized data (n >= 2000, 50 rows/param)."""
    monkeypatch.setattr(S, "LARGE_ROWS", 2000)
    monkeypatch.setattr(S, "SUBSAMPLE_ROWS_PER_PARAM", 50)


def _plain_newton(ds, **kw):
    """Newton without the shortcuts (the threshold beyond any data set)."""
    saved = S.LARGE_ROWS
    S.LARGE_ROWS = 10 ** 12
    try:
        return solve_dual(ds, method="newton", tol=1e-12, **kw)
    finally:
        S.LARGE_ROWS = saved


@pytest.mark.parametrize("kind", ["binary", "bernoulli", "three classes", "l2"])
def test_newton_shortcuts_reach_plain_newtons_maximiser(large_from_small, monkeypatch, kind):
    ds = _binary(n=6000)
    kw = {}
    if kind == "bernoulli":
        ds = Dataset.from_arrays(ds.X[:, :-1], ds.y, weights=ds.weights, family="bernoulli")
    elif kind == "three classes":
        labels = np.random.default_rng(4).integers(0, 2, ds.n) + ds.y  # 0, 1, 2
        ds = Dataset.from_arrays(ds.X[:, :-1], labels, weights=ds.weights)
    elif kind == "l2":
        kw = {"l2": 5.0}
    taken = []

    def spy(obj, beta0, solver):
        out = S.subsample_start(obj, beta0, solver)
        taken.append(out is not beta0)
        return out

    monkeypatch.setattr(D, "subsample_start", spy)
    fast = solve_dual(ds, method="newton", tol=1e-12, **kw)
    assert taken == [True]  # the warm start was used
    ref = _plain_newton(ds, **kw)
    assert fast.converged and ref.converged and fast.kkt_residual <= 1e-12
    _close(fast.theta, ref.theta)
    _close(fast.loglik, ref.loglik)


def test_a_separated_subsample_is_not_a_warm_start(large_from_small, monkeypatch):
    # even rows separated by x, odd rows overlapping: the full data have a maximiser, every
    # second row alone (the subsample at step 2) does not
    monkeypatch.setattr(S, "SUBSAMPLE_MAX_STEP", 2)
    rng = np.random.default_rng(5)
    n = 4000
    x = rng.standard_normal(n)
    y = (x > 0).astype(int)
    odd = np.arange(n) % 2 == 1
    y[odd] = rng.integers(0, 2, odd.sum())
    ds = Dataset.from_arrays(x[:, None], y)
    obj = DualObjective(ds)
    beta0 = obj.start()
    assert S.subsample_start(obj, beta0, S.SOLVERS["newton"]) is beta0
    res = solve_dual(ds)
    assert res.converged and res.attained


def test_subsample_views_the_rows_without_copying():
    ds = _binary(n=1000)
    sub = DualObjective(ds, Penalty("l2", 4.0)).subsample(4)
    def stored(X):  # (the array under implicit ones)
        return X.base if isinstance(X, design.DenseOnes) else X
    assert sub.dataset.n == 250 and np.shares_memory(stored(sub.X), stored(ds.X))
    assert sub.penalty.lam == 1.0  # a quarter of the rows, a quarter of lambda


def _condition_bound(G, B):
    """Worst-case ``|kappa~ - kappa|`` of the equilibrated condition ``kappa = sqrt(l_max /
    l_min)`` of ``D G D``, ``D = diag(G)^(-1/2)``, when ``G~`` with ``|G~ - G| <= B`` entrywise
    replaces ``G`` (equilibrated by its own diagonal, ``D~ = (I + F) D``).

    ``D~ G~ D~ = (I + F) (D G D + D E D) (I + F)``: Weyl moves each eigenvalue of ``D G D`` by at
    most ``beta = ||D B D||_2 >= ||D E D||_2``, and Ostrowski's theorem scales it by a factor in
    ``[min (1 + F)^2, max (1 + F)^2]``, inside ``[1 / (1 + phi), 1 / (1 - phi)]`` with ``phi =
    max B_ii / G_ii``. eigvalsh's backward error (``p(m) u64 ||D G D||_2``, a few ``m u64``) is
    added as ``gamma(m^2, u64) l_max`` for each of the two eigenvalue solves.
    """
    m = G.shape[0]
    d = 1.0 / np.sqrt(np.diag(G))
    lam = np.linalg.eigvalsh(d[:, None] * G * d[None, :])
    lo_, hi_ = lam[0], lam[-1]
    beta = (np.linalg.norm(d[:, None] * B * d[None, :], 2)
            + 2 * K.gamma(m * m, K.unit_roundoff(np.float64)) * hi_)
    phi = float(np.max(np.diag(B) / np.diag(G)))
    assert beta < lo_ and phi < 1  # else no bound
    up = (1 + beta / hi_) * (1 + phi) / ((1 - beta / lo_) * (1 - phi))
    down = (1 - beta / hi_) * (1 - phi) / ((1 + beta / lo_) * (1 + phi))
    return float(np.sqrt(hi_ / lo_) * max(np.sqrt(up) - 1, 1 - np.sqrt(down)))


def test_float32_rank_screen_gives_the_float64_answer(monkeypatch):
    # every row in the screen: the float32 sums against the float64 ones on the same rows
    monkeypatch.setattr(ID, "RANK_SCREEN_ROWS_PER_COLUMN", 10 ** 9)
    ds = _binary(n=2000)
    fast = ID.identify(ds.X, ds.weights, ds.feature_names)
    monkeypatch.setattr(ID, "GRAM_CLEAR_FLOAT32", np.inf)  # the screen never clears
    exact = ID.identify(ds.X, ds.weights, ds.feature_names)
    assert fast.rank == exact.rank == ds.m
    # the float32 Gram within gamma(b + 6, u32) |X|^T W |X| (+ float64's), carried to the condition
    G = K.gram(ds.X, ds.weights)
    bound = _condition_bound(G, sum(K.gram_error_bound(ds.X, ds.weights, dtype=t)
                                    for t in (np.float32, np.float64)))
    assert 0 < abs(fast.condition - exact.condition) <= bound <= 1e-2 * exact.condition
    # a dependent column still gets the float64 decision and its name
    X = np.column_stack([ds.X[:, :2], ds.X[:, 0] - 2 * ds.X[:, 1], ds.X[:, 2:]])
    dep = ID.identify(X, ds.weights, [f"c{i}" for i in range(X.shape[1])])
    assert dep.rank == X.shape[1] - 1 and dep.dependencies


def test_two_column_softmax_equals_the_generic_one_also_at_extremes():
    rng = np.random.default_rng(6)
    eta = np.vstack([rng.standard_normal((50, 2)) * 3, [[800.0, 0.0], [0.0, 800.0],
                                                         [-40.0, 0.0]]])
    P = nx.softmax(eta)
    ref = np.exp(nx.log_softmax(eta))
    assert np.all(np.abs(P - ref) <= 4 * np.finfo(float).eps * np.maximum(ref, 1e-300))
    assert P[-1, 0] > 0 and abs(P[-1, 0] / np.exp(-40.0) - 1) < 1e-12


def test_newton_cg_attainment_uses_a_subsample_curvature_close_to_the_full_one(monkeypatch):
    from dualmaxent import objective as O

    rng = np.random.default_rng(7)
    n, k = 6000, 4
    Xf = rng.standard_normal((n, 3))
    labels = (nx.softmax(Xf @ rng.standard_normal((3, k))).cumsum(1) > rng.random((n, 1)))
    ds = Dataset.from_arrays(Xf, labels.argmax(1))
    monkeypatch.setattr(O, "CURVATURE_ROWS_PER_PARAM", 100)  # every 5th row here
    obj = DualObjective(ds)
    res = solve_dual(ds, method="newton-cg", tol=1e-11)
    assert res.converged and res.attained  # proved with the subsample's curvature
    theta = obj.gauge_fix(res.theta)
    obj.smooth_value_grad(obj.beta(theta))  # a pass at theta, no curvature formed
    G, C, value = obj.last_pass(theta)
    exact = K.categorical_vgh(ds.X, ds.Y, ds.weights, theta, classes=obj.params.free_classes)[2]
    assert C.shape == exact.shape
    # the sampling error of a fifth of the rows, not a different matrix
    assert np.abs(C - exact).max() <= 0.2 * np.abs(exact).max()
    _close(G, obj._loglik(theta)[1])


def test_two_class_attainment_by_the_binary_view_still_finds_separation(monkeypatch):
    from dualmaxent.exceptions import SeparationWarning

    x = np.linspace(-2, 2, 60)
    ds = Dataset.from_arrays(x[:, None], (x > 0.1).astype(int))  # separated at 0.1
    with pytest.warns(SeparationWarning):
        res = solve_dual(ds)
    assert res.attained is False and res.status == "not_attained"
    ok = _binary(n=500)
    proofs = []  # the projected points solve_dual builds (the result keeps only ``attained``)
    # the curvature ball would prove it first (tests/test_attainment_cost.py): off, so that
    # the binary view's projected point decides
    monkeypatch.setattr("dualmaxent.projected.curvature_ball", lambda *a, **kw: None)
    monkeypatch.setattr("dualmaxent.projected.project_primal", lambda *a, **kw: proofs.append(
        project_primal(*a, **kw)) or proofs[-1])
    res = solve_dual(ok)
    assert res.attained is True and len(proofs) == 1 and proofs[0].proves_attained
    assert not hasattr(res, "projected") and not hasattr(res, "separation")
    # the point is the categorical one's: its entropy is the primal value, -l at theta*
    assert abs(proofs[0].entropy + res.canonical_loglik) <= 1e-8 * abs(res.canonical_loglik)


def test_float32_curvature_products_are_close_and_newton_cg_reaches_the_same_maximiser(
        large_from_small, monkeypatch):
    """Newton-CG's curvature-vector products in float32 (a well-conditioned design, many rows)
    are within the two precisions' error bounds of float64's, the solve reaches plain Newton's
    maximiser to 1e-10, and the standard errors are those of the float64 Hessian."""
    rng = np.random.default_rng(8)
    n, k = 6000, 4
    Xf = rng.standard_normal((n, 3))
    labels = (nx.softmax(Xf @ rng.standard_normal((3, k))).cumsum(1) > rng.random((n, 1)))
    ds = Dataset.from_arrays(Xf, labels.argmax(1))
    theta = 0.3 * rng.standard_normal((ds.m, k))
    P = nx.softmax(ds.X @ theta)
    V = rng.standard_normal((ds.m, k))
    exact = K.categorical_hessp(ds.X, ds.weights, P, V)
    single = K.categorical_hessp(ds.X, ds.weights, P, V, dtype=np.float32)
    # gamma(m + k + b + 9, u32) |X|^T (w p_a (Ubar_a + sum_b p_b Ubar_b)), Ubar = |X||V|; + f64's
    bound = sum(K.categorical_hessp_error_bound(ds.X, ds.weights, P, V, dtype=t)
                for t in (np.float32, np.float64))
    _within(single, exact, bound)
    dtypes = []
    hessp = K.categorical_hessp
    monkeypatch.setattr(K, "categorical_hessp", lambda *a, dtype=np.float64, **kw: (
        dtypes.append(dtype) or hessp(*a, dtype=dtype, **kw)))
    fast = solve_dual(ds, method="newton-cg", tol=1e-12)
    assert dtypes and set(dtypes) == {np.float32}
    ref = _plain_newton(ds)
    _close(fast.theta, ref.theta)
    _close(fast.std_err, ref.std_err, rtol=1e-9)


def test_float32_products_read_one_float32_copy_of_x_with_the_same_entries(large_from_small):
    """Newton-CG's float32 products read a float32 copy of a dense X made once per objective:
    its entries are X's rounded to float32 (so each product keeps the error bound of converting
    block by block), the operator's product lies within that bound of float64's, and the copy
    is dropped with the objective's other caches (the result keeps the objective)."""
    from dualmaxent.objective import make_objective
    rng = np.random.default_rng(12)
    n, k = 5000, 3
    Xf = rng.standard_normal((n, 4))
    labels = (nx.softmax(Xf @ rng.standard_normal((4, k))).cumsum(1) > rng.random((n, 1)))
    ds = Dataset.from_arrays(Xf, labels.argmax(1))
    obj = make_objective(ds)
    beta = obj.start() + 0.1 * rng.standard_normal(obj.params.n_params)
    v = rng.standard_normal(obj.params.n_params)
    exact = np.array(obj.curvature_operator(beta)[0](v))
    obj.curvature_dtype = np.float32
    obj.forget()
    single = np.array(obj.curvature_operator(beta)[0](v))
    copy = obj._curvature_design()
    assert copy.dtype == np.float32 and copy is obj._curvature_design()
    assert np.array_equal(copy, ds.X.astype(np.float32))
    theta = obj.theta(beta)
    P = obj._kept_point(theta)  # the table the products read
    V = np.zeros_like(theta)
    obj._unpack_into(v, V, zero_pinned=True)
    bound = sum(K.categorical_hessp_error_bound(ds.X, ds.weights, P, V, dtype=t)
                for t in (np.float32, np.float64))
    packed_bound = np.zeros(obj.params.n_params)
    obj._pack(bound, out=packed_bound)
    assert np.all(np.abs(single - exact) <= packed_bound)
    obj.release()
    assert obj._x_curvature is None


@pytest.mark.parametrize("weighted", [False, True])
def test_the_preconditioners_gram_comes_from_the_float32_copy_within_its_bound(
        large_from_small, weighted):
    """Where the products run in float32, the preconditioner's ``X^T W X`` is formed in float32
    from their copy of X: the float32 Gram of X itself (the same numbers), within the two
    precisions' error bounds of float64's (and not equal to it: float32 really ran); where
    they run in float64, the float64 Gram."""
    from dualmaxent.objective import make_objective
    rng = np.random.default_rng(13)
    n, k = 5000, 3
    Xf = rng.standard_normal((n, 4)) * np.array([1.0, 3.0, 0.5, 10.0])
    labels = (nx.softmax(Xf @ rng.standard_normal((4, k))).cumsum(1) > rng.random((n, 1)))
    ds = Dataset.from_arrays(Xf, labels.argmax(1),
                             weights=rng.uniform(0.2, 3.0, n) if weighted else None)
    exact = K.gram(ds.X, ds.weights)
    for dtype in (np.float64, np.float32):
        obj = make_objective(ds)
        obj.curvature_dtype = dtype
        beta = obj.start() + 0.1 * rng.standard_normal(obj.params.n_params)
        obj.curvature_operator(beta)
        if dtype == np.float64:
            np.testing.assert_array_equal(obj._gram, exact)
            continue
        assert obj._x_curvature is not None
        np.testing.assert_array_equal(obj._gram, K.gram(ds.X, ds.weights, dtype=np.float32))
        bound = sum(K.gram_error_bound(ds.X, ds.weights, dtype=t)
                    for t in (np.float32, np.float64))
        err = np.abs(obj._gram - exact)
        # (some entries are exact in float32 too: the intercept's count of unit weights)
        assert np.all(err <= bound) and err.max() > 0
        assert bound.max() <= 1e-2 * np.abs(exact).max()


def test_a_penalised_fit_learns_the_condition_and_takes_the_float32_products(
        large_from_small, monkeypatch):
    """A penalised solve skips the rank pass, so the condition is found when Newton-CG asks
    for it; the products are then float32 and the L2 maximiser is plain Newton's."""
    rng = np.random.default_rng(9)
    n, k = 6000, 4
    Xf = rng.standard_normal((n, 3))
    labels = (nx.softmax(Xf @ rng.standard_normal((3, k))).cumsum(1) > rng.random((n, 1)))
    ds = Dataset.from_arrays(Xf, labels.argmax(1))
    dtypes = []
    hessp = K.categorical_hessp
    monkeypatch.setattr(K, "categorical_hessp", lambda *a, dtype=np.float64, **kw: (
        dtypes.append(dtype) or hessp(*a, dtype=dtype, **kw)))
    fast = solve_dual(ds, method="newton-cg", tol=1e-12, l2=3.0)
    assert fast.converged and dtypes and set(dtypes) == {np.float32}
    _close(fast.theta, _plain_newton(ds, l2=3.0).theta)


@pytest.mark.parametrize("tol", [1e-4, 1e-10])
def test_the_subsample_seeds_newtons_curvature_whatever_the_tolerance(large_from_small,
                                                                     monkeypatch, tol):
    """The subsample's solve runs to SUBSAMPLE_TOL whatever the solve's own tolerance: at a
    loose one (1e-4) it stopped at its L-BFGS start, before Newton formed the Hessian that seeds
    the full solve (no seed: the full solve then formed Hessians over every row). The seed is
    handed over as formed: symmetric, its diagonal of one sign, of the curvature's shape."""
    ds = _binary(n=6000)
    ds = Dataset.from_arrays(ds.X[:, :-1], ds.y, family="bernoulli")
    monkeypatch.setattr(S, "LBFGS_START_MIN_ROWS", 100)  # the subsample's solve starts so
    seeds = []
    original = DualObjective.seed_curvature
    monkeypatch.setattr(DualObjective, "seed_curvature",
                        lambda self, C: seeds.append(np.array(C)) or original(self, C))
    # (L2: the penalised subsample's existence needs no curvature of its own, which would
    # otherwise be the seed)
    res = solve_dual(ds, method="newton", tol=tol, l2=1.0)
    assert res.converged and res.kkt_residual <= tol
    assert len(seeds) == 1, "the subsample's Hessian seeded the full solve"
    C = seeds[0]
    assert C.shape == (ds.m, ds.m) and np.array_equal(C, C.T)
    assert np.all(np.diag(C) > 0) or np.all(np.diag(C) < 0)
