"""Newton's mid-size shortcuts (issue 19) keep the fits' results.

* The L-BFGS start of unpenalised fits and the factor reuse below ``LARGE_ROWS``
  (:data:`dualmaxent.solvers.REUSE_MIN_ROWS`, :data:`~dualmaxent.solvers.STALE_CONTRACTION`)
  reach the maximiser plain Newton reaches: the stationarity residual, recomputed from its
  definition ``X^T W (Y - P) - lam theta_R``, is within the tolerance (plus the rounding bound
  of recomputing it), and the two thetas are within ``2 (|g_1| + |g_2|) / mu`` of each other,
  ``mu`` the smallest eigenvalue of ``-H`` at the solution (strong concavity: ``|beta -
  beta*| <= |g(beta)| / mu`` wherever ``-H >= mu I`` on the segment; the factor 2 allows the
  curvature to change over a segment of length about 1e-9).
* On separated data the L-BFGS start changes nothing of the verdict: the maximiser is still
  reported as not attained.
"""

from __future__ import annotations

import numpy as np
import pytest

from dualmaxent import _kernels as K
from dualmaxent import _numerics as nx
from dualmaxent import solvers as S
from dualmaxent.data import Dataset
from dualmaxent.dual import make_objective, solve_dual
from dualmaxent.results import Penalty

from _rounding import gamma

TOL = 1e-10


def _two_class(n=10_000, features=30, seed=0):
    rng = np.random.default_rng(seed)
    Xf = rng.standard_normal((n, features))
    eta = Xf @ (0.5 * rng.standard_normal(features)) + 0.2
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(int)
    return Dataset.from_arrays(Xf, y, weights=rng.uniform(0.5, 2.0, n))


def _plain(monkeypatch):
    """Newton without the mid-size shortcuts."""
    monkeypatch.setattr(S, "LBFGS_START_MIN_ROWS", 10**12)
    monkeypatch.setattr(S, "LBFGS_START_WIDE_MIN_ROWS", 10**12)
    monkeypatch.setattr(S, "REUSE_MIN_ROWS", 10**12)


def _stationarity(ds, theta, lam, penalized_rows):
    """``(max |X^T W (Y - P) - lam theta_R| / scale, bound)``: the relative residual from its
    definition, and the worst-case rounding of computing it (``gamma(n + 2, u)`` times the
    magnitudes of the sums)."""
    X, Y, w = ds.X, ds.Y, ds.weights
    eta = X @ theta
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    R = w[:, None] * (Y - P)
    G = X.T @ R - lam * theta * penalized_rows[:, None]
    scale = 1.0 + float(np.abs(X.T @ (w[:, None] * Y)).max())
    u = K.unit_roundoff(np.float64)
    # |X| |R| bounds the magnitudes; P's own rounding (a few u per entry) is within w |Y - P|'s
    # relative error of gamma(8), folded into gamma(n + 8)
    magnitude = np.abs(X).T @ (w[:, None] * (np.abs(Y) + np.abs(P))) \
        + lam * np.abs(theta) * penalized_rows[:, None]
    bound = K.gamma(ds.n + 8, u) * float(magnitude.max()) / scale
    return float(np.abs(G).max()) / scale, bound


def _assert_same_maximiser(obj, theta_a, theta_b):
    """The two thetas within ``2 (|g_a| + |g_b|) / mu`` of each other, ``mu`` the smallest
    eigenvalue of ``-H`` at the first (strong concavity, the module docstring)."""
    b_a, b_b = obj.beta(theta_a), obj.beta(theta_b)
    g_a = obj.smooth_value_grad(b_a)[1]
    g_b = obj.smooth_value_grad(b_b)[1]
    mu = float(np.linalg.eigvalsh(-obj.hessian(b_a))[0])
    assert mu > 0
    distance = float(np.linalg.norm(b_a - b_b))
    assert distance <= 2.0 * (np.linalg.norm(g_a) + np.linalg.norm(g_b)) / mu


@pytest.mark.parametrize("l2", [None, 1.0])
def test_mid_size_shortcuts_reach_plain_newtons_maximiser(monkeypatch, l2):
    ds = _two_class()
    assert S.LBFGS_START_MIN_ROWS <= ds.n < S.LARGE_ROWS
    assert ds.n >= S.REUSE_MIN_ROWS and ds.m >= S.REUSE_MIN_WIDTH
    penalty = Penalty("l2", l2) if l2 else Penalty()
    obj = make_objective(ds, penalty)
    lam = penalty.l2_lam or 0.0

    calls = {"lbfgs": 0, "curvature": 0}
    lbfgs, curvature = S._lbfgs_ascent, S._newton_curvature

    def counted_lbfgs(*a, **kw):
        calls["lbfgs"] += 1
        return lbfgs(*a, **kw)

    def counted_curvature(*a, **kw):
        calls["curvature"] += 1
        return curvature(*a, **kw)

    monkeypatch.setattr(S, "_lbfgs_ascent", counted_lbfgs)
    monkeypatch.setattr(S, "_newton_curvature", counted_curvature)
    fast = solve_dual(ds, method="newton", tol=TOL, l2=l2)
    assert fast.converged and calls["lbfgs"] == 1  # the L-BFGS start ran
    with monkeypatch.context() as mp:
        _plain(mp)
        plain = solve_dual(ds, method="newton", tol=TOL, l2=l2)
    assert plain.converged

    for res in (fast, plain):
        rel, bound = _stationarity(ds, res.theta, lam, obj.penalized_rows)
        assert rel <= TOL + bound

    _assert_same_maximiser(obj, fast.theta, plain.theta)


@pytest.mark.parametrize("features, runs", [(30, True), (10, False)])
def test_large_data_without_a_subsample_start_from_lbfgs_when_wide(monkeypatch, features, runs):
    """From ``LARGE_ROWS`` on, the L-BFGS start runs only where the subsample's solve does not
    (:func:`~dualmaxent.solvers.subsample_step` below 2) and the design is wide
    (``REUSE_MIN_WIDTH`` columns); either way the fit reaches the stationarity its tolerance
    asks, recomputed from the definition."""
    ds = _two_class(n=4000, features=features, seed=5)
    monkeypatch.setattr(S, "LARGE_ROWS", 2000)
    monkeypatch.setattr(S, "LBFGS_START_MIN_ROWS", 1000)
    obj = make_objective(ds, Penalty("l2", 1.0))
    assert ds.n >= S.LARGE_ROWS and S.subsample_step(obj) < 2
    assert (ds.m >= S.REUSE_MIN_WIDTH) == runs
    calls = []
    lbfgs = S._lbfgs_ascent
    monkeypatch.setattr(S, "_lbfgs_ascent",
                        lambda *a, **kw: calls.append(1) or lbfgs(*a, **kw))
    res = solve_dual(ds, method="newton", tol=TOL, l2=1.0)
    assert res.converged and len(calls) == int(runs)
    rel, bound = _stationarity(ds, res.theta, 1.0, obj.penalized_rows)
    assert rel <= TOL + bound
    # where the subsample's solve is the warm start, L-BFGS does not run on top of it
    calls.clear()
    monkeypatch.setattr(S, "SUBSAMPLE_ROWS_PER_PARAM", 10)
    assert S.subsample_step(obj) >= 2
    res = solve_dual(ds, method="newton", tol=TOL, l2=1.0)
    assert res.converged and calls == []
    rel, bound = _stationarity(ds, res.theta, 1.0, obj.penalized_rows)
    assert rel <= TOL + bound


def test_reused_factor_never_replaces_a_prefetched_hessian(monkeypatch):
    """A step whose Hessian was formed with the line search's value uses it (the stale factor
    would cost the same and be less exact): every Hessian formed at an accepted point is
    factored there, so the number of factorisations is at least the number of prefetches
    that the line search accepted (and at least one was)."""
    ds = _two_class(n=3000, features=25, seed=3)
    prefetched, used = [], []
    step, accepted = S._NewtonStep.step, S._NewtonStep.accepted

    def spy_accepted(self, t):
        accepted(self, t)
        prefetched.append(self.prefetched)

    def spy_step(self, obj, beta, grad, rel):
        was = self.prefetched
        old = self.factor
        out = step(self, obj, beta, grad, rel)
        if was:
            used.append(self.factor is not old)
        return out

    monkeypatch.setattr(S._NewtonStep, "accepted", spy_accepted)
    monkeypatch.setattr(S._NewtonStep, "step", spy_step)
    res = solve_dual(ds, method="newton", tol=TOL)
    assert res.converged
    assert used and all(used)


def test_lbfgs_start_keeps_the_verdict_on_separated_data(monkeypatch):
    rng = np.random.default_rng(5)
    n, features = 10_000, 4
    Xf = rng.standard_normal((n, features))
    y = (Xf @ rng.standard_normal(features) > 0).astype(int)
    ds = Dataset.from_arrays(Xf, y)
    with pytest.warns(Warning):
        fast = solve_dual(ds, method="newton")
    with monkeypatch.context() as mp:
        _plain(mp)
        with pytest.warns(Warning):
            plain = solve_dual(ds, method="newton")
    assert fast.attained is False and plain.attained is False
    assert not fast.converged and not plain.converged


def _classes(n, k, features, seed=3):
    rng = np.random.default_rng(seed)
    Xf = rng.standard_normal((n, features))
    eta = Xf @ (0.3 * rng.standard_normal((features, k)))
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return Dataset.from_arrays(Xf, y)


@pytest.mark.parametrize("n, expected", [(100, "newton"), (2000, "newton-cg")])
def test_auto_forms_the_hessian_where_it_costs_under_the_flop_threshold(n, expected):
    """Ten classes, eleven columns with the intercept (``p^2 > AUTO_CG_RATIO m k``): ``auto``
    takes Newton where forming and factoring the Hessian, ``n p^2 + p^3 / 3`` flops, is below
    ``AUTO_CG_MIN_FLOPS``, and Newton-CG above it; either way the fit is stationary, the
    residual recomputed from its definition."""
    from dualmaxent.dual import AUTO_CG_MIN_FLOPS, AUTO_CG_RATIO, choose_method
    ds = _classes(n, 10, 10)
    obj = make_objective(ds, Penalty("l2", 1.0))
    width = obj.n_params
    assert width ** 2 > AUTO_CG_RATIO * ds.m * ds.k
    assert (n * width ** 2 + width ** 3 / 3 > AUTO_CG_MIN_FLOPS) == (expected == "newton-cg")
    assert choose_method(obj) == expected
    res = solve_dual(ds, l2=1.0, tol=TOL)
    assert res.method == expected and res.converged
    rel, bound = _stationarity(ds, res.theta, 1.0, obj.penalized_rows)
    assert rel <= TOL + bound


def test_a_start_that_meets_a_loose_tolerance_forms_no_hessian(monkeypatch):
    """Where L-BFGS's start already meets the tolerance (1e-4 here), Newton forms no Hessian to
    stop on: no pass with the curvature runs, and the answer is stationary to the tolerance,
    recomputed from the definition."""
    ds = _two_class()
    passes = []
    vgh = K.glm_vgh
    monkeypatch.setattr(K, "glm_vgh", lambda *a, hessian=True, **kw: (
        passes.append(hessian) or vgh(*a, hessian=hessian, **kw)))
    res = solve_dual(ds, l2=1.0, method="newton", tol=1e-4)
    assert res.converged and passes and not any(passes)
    rel, bound = _stationarity(ds, res.theta, 1.0,
                               make_objective(ds, Penalty("l2", 1.0)).penalized_rows)
    assert rel <= 1e-4 + bound
    passes.clear()
    res = solve_dual(ds, l2=1.0, method="newton", tol=1e-10)  # the tight fit still forms one
    assert res.converged and any(passes)


def _dataset(n, features, k, seed=7):
    return _two_class(n, features, seed) if k == 2 else _classes(n, k, features, seed)


@pytest.mark.parametrize("n, features, k, l2, runs", [
    (10_000, 10, 2, 1.0, True),     # from LBFGS_START_MIN_ROWS on, any width
    (10_000, 10, 3, None, True),
    (1_000, 35, 2, 1.0, True),      # a wide one-column curvature from 1000 rows on
    (1_000, 35, 2, None, True),
    (1_000, 10, 2, 1.0, False),     # narrow below 10^4 rows
    (1_000, 35, 3, None, False),    # three classes below 10^4 rows
    (900, 35, 2, 1.0, False),       # below LBFGS_START_WIDE_MIN_ROWS
])
def test_the_lbfgs_start_runs_where_its_rule_says(monkeypatch, n, features, k, l2, runs):
    """The choice rule of :func:`~dualmaxent.solvers._lbfgs_start`: from
    ``LBFGS_START_MIN_ROWS`` rows on, or from ``LBFGS_START_WIDE_MIN_ROWS`` where the design has
    ``LBFGS_START_WIDE_MIN_COLUMNS`` columns and the curvature is one column's (two classes);
    preconditioned from three classes on. The fit is stationary either way, the residual
    recomputed from its definition."""
    ds = _dataset(n, features, k)
    penalty = Penalty("l2", l2) if l2 else Penalty()
    obj = make_objective(ds, penalty)
    assert (obj.curvature_width == ds.m) == (k == 2)
    calls = []
    ascent = S._lbfgs_ascent

    def spy(*a, precondition=False, **kw):
        calls.append(precondition)
        return ascent(*a, precondition=precondition, **kw)

    monkeypatch.setattr(S, "_lbfgs_ascent", spy)
    res = solve_dual(ds, method="newton", tol=TOL, l2=l2)
    assert res.converged
    assert calls == ([k > 2] if runs else [])
    rel, bound = _stationarity(ds, res.theta, l2 or 0.0, obj.penalized_rows)
    assert rel <= TOL + bound


@pytest.mark.parametrize("k, l2", [(2, None), (2, 1.0), (3, None), (3, 1.0)])
def test_lbfgs_ascent_makes_one_pass_per_trial_point(monkeypatch, k, l2):
    """:func:`~dualmaxent.solvers._lbfgs_ascent` passes over ``X`` once per trial point of its
    line search, and at its start only where the data set holds no sums for the closed form
    there (:meth:`~dualmaxent.objective.DualObjective._at_constant`), nothing more (the
    history's rows read the trial's own pass): passes = trials (+ 1), at least one trial per
    iteration, one history row per iterate; and it reaches the tolerance asked, the gradient
    recomputed from its definition."""
    ds = _dataset(4000, 10, k)
    penalty = Penalty("l2", l2) if l2 else Penalty()
    obj = make_objective(ds, penalty)
    passes, trials = [], []
    one_pass = type(ds.family).one_pass
    monkeypatch.setattr(type(ds.family), "one_pass",
                        lambda self, *a, **kw: passes.append(1) or one_pass(self, *a, **kw))
    search = S._wolfe_search
    smooth = type(obj).smooth_value_grad

    def counted_search(o, *a, **kw):
        before = len(points)
        out = search(o, *a, **kw)
        trials.append(len(points) - before)
        return out

    points = []
    monkeypatch.setattr(type(obj), "smooth_value_grad",
                        lambda self, b, *a, **kw: points.append(1) or smooth(self, b, *a, **kw))
    monkeypatch.setattr(S, "_wolfe_search", counted_search)
    hist = S.History(0.0)
    tol = 1e-6
    beta = S._lbfgs_ascent(obj, obj.start(), tol, 200, hist, precondition=k > 2)
    from dualmaxent.data import held_data_sums, held_weight_sums
    assert held_data_sums(ds) is not None and held_weight_sums(ds) is not None  # (dense X)
    assert len(passes) == sum(trials)
    assert all(t >= 1 for t in trials) and len(hist.rows) == len(trials) + 1
    rel, bound = _stationarity(ds, obj.theta(beta), l2 or 0.0, obj.penalized_rows)
    assert rel <= tol + bound


@pytest.mark.parametrize("k, l2", [(2, None), (2, 1.0), (3, None), (3, 1.0)])
def test_the_preconditioner_is_the_curvature_at_the_class_frequency_start(k, l2):
    """At :meth:`~dualmaxent.objective.DualObjective.start` every row has the same
    probabilities, so the curvature operator's Kronecker preconditioner ``A (x) X^T W X`` (plus
    the L2 penalty) is the curvature there: the preconditioned L-BFGS start's first direction
    is Newton's step, checked against a solve with the Hessian formed by its pass."""
    ds = _dataset(3000, 10, k)
    obj = make_objective(ds, Penalty("l2", l2) if l2 else Penalty())
    beta = obj.start()
    grad = obj.smooth_value_grad(beta)[1]
    step = obj.curvature_operator(beta)[1](grad)
    newton = np.linalg.solve(-obj.hessian(beta), grad)
    assert np.allclose(step, newton, rtol=1e-7, atol=1e-9 * float(np.abs(newton).max()))


@pytest.mark.parametrize("k, l2", [(3, None), (3, 1.0), (4, 1.0)])
def test_cg_takes_the_exact_preconditioner_as_the_newton_step_at_the_start(k, l2):
    """Where every row has the same probabilities (the start) the curvature system says its
    preconditioner is ``-H`` itself (``exact``), and :func:`~dualmaxent.solvers.cg_direction`
    returns ``M^-1 g`` with no curvature-vector product: Newton's step, checked against the
    Hessian formed by a pass, and its slope ``g^T s``. One step away, the system is not exact
    and CG forms its products."""
    ds = _dataset(3000, 10, k)
    obj = make_objective(ds, Penalty("l2", l2) if l2 else Penalty())
    beta = obj.start()
    grad = obj.smooth_value_grad(beta)[1]
    newton = np.linalg.solve(-obj.hessian(beta), grad)
    products = []
    real = obj._curvature_pieces

    def counted(theta):
        A, hessp = real(theta)
        return A, lambda V: products.append(1) or hessp(V)

    obj._curvature_pieces = counted
    assert obj.curvature_system(beta).exact
    s, slope = S.cg_direction(obj, beta, grad.copy(), obj.kkt_residual(beta, grad),
                              overwrite=True)
    assert products == []
    # each solves -H perturbed by delta ||H||_2 at most: the Kronecker form's shift 1e-12 max|M|,
    # and the sums' rounding, gamma(n + p) times |X|^T D |X|, whose 2-norm is at most its trace,
    # that of -H, at most p ||H||_2; so each step is within kappa delta / (1 - kappa delta) of
    # the exact one in 2-norm (Higham, Accuracy and Stability, Theorem 7.2)
    H = -obj.hessian(beta)
    kappa, p = float(np.linalg.cond(H)), H.shape[0]
    delta = 1e-12 + gamma(ds.n + p) * p
    assert kappa * delta < 0.5
    bound = 2 * kappa * delta / (1 - kappa * delta) * float(np.linalg.norm(newton))
    assert float(np.linalg.norm(s - newton)) <= bound
    # its slope g^T s: CG's r^T z, the same sum but for its p roundings
    assert abs(slope - float(grad @ s)) <= 2 * gamma(p) * float(np.abs(grad) @ np.abs(s))
    moved = beta + 0.05 * newton
    grad = obj.smooth_value_grad(moved)[1]
    assert not obj.curvature_system(moved).exact
    S.cg_direction(obj, moved, grad, obj.kkt_residual(moved, grad))
    assert len(products) >= 1


def test_three_classes_of_ten_features_reuse_a_factorisation_below_large_rows():
    """Newton's factor reuse reads the curvature's width (:attr:`~dualmaxent.objective.
    DualObjective.curvature_width`), not the design's: three classes of ten features (22 free
    parameters unpenalised, a Hessian pass of width 22) reuse from ``REUSE_MIN_ROWS`` rows on,
    two classes of ten features (width 11) do not."""
    for k, reuse in ((3, True), (2, False)):
        obj = make_objective(_dataset(S.REUSE_MIN_ROWS, 10, k), Penalty())
        assert obj.dataset.m < S.REUSE_MIN_WIDTH
        assert (obj.curvature_width >= S.REUSE_MIN_WIDTH) == reuse
        assert S._NewtonStep(obj).reuse_allowed == reuse


@pytest.mark.parametrize("l2", [None, 1.0])
def test_a_costly_hessian_below_large_rows_is_float32_and_keeps_the_maximiser(
        monkeypatch, l2):
    """Below ``LARGE_ROWS`` the curvature is float32 where a Hessian costs at least
    ``SINGLE_CURVATURE_MIN_FLOPS`` (``n w^2``; its error bound met), float64 where it is cheap;
    the float32 Hessians reach the maximiser the float64 ones reach (stationarity from its
    definition, and the distance bound of strong concavity, as above)."""
    ds = _two_class(n=4000, features=160, seed=3)
    penalty = Penalty("l2", l2) if l2 else Penalty()
    obj = make_objective(ds, penalty)
    assert ds.n < S.LARGE_ROWS and ds.n * obj.curvature_width ** 2 >= S.SINGLE_CURVATURE_MIN_FLOPS
    assert S._curvature_precision(obj) == np.float32
    narrow = make_objective(_two_class(n=4000, features=20, seed=3), penalty)
    assert S._curvature_precision(narrow) == np.float64
    dtypes = []
    curvature = S._newton_curvature

    def recorded(o, beta):
        dtypes.append(o.curvature_dtype)
        return curvature(o, beta)

    monkeypatch.setattr(S, "_newton_curvature", recorded)
    # (Newton's own finish, not the L-BFGS start's continuation: the curvature is the subject)
    monkeypatch.setattr(S, "_goes_on", lambda rels, finish, floor=0.0: False)
    single = solve_dual(ds, method="newton", tol=TOL, l2=l2)
    assert dtypes and set(dtypes) == {np.float32}
    monkeypatch.setattr(S, "SINGLE_CURVATURE_MIN_FLOPS", np.inf)
    dtypes.clear()
    double = solve_dual(ds, method="newton", tol=TOL, l2=l2)
    assert dtypes and set(dtypes) == {np.float64}
    lam = penalty.l2_lam or 0.0
    for res in (single, double):
        assert res.converged
        rel, bound = _stationarity(ds, res.theta, lam, obj.penalized_rows)
        assert rel <= TOL + bound
    b1, b2 = obj.beta(single.theta), obj.beta(double.theta)
    g1, g2 = obj.smooth_value_grad(b1)[1], obj.smooth_value_grad(b2)[1]
    mu = float(np.linalg.eigvalsh(-obj.hessian(b1))[0])
    assert mu > 0
    assert np.linalg.norm(b1 - b2) <= 2.0 * (np.linalg.norm(g1) + np.linalg.norm(g2)) / mu


def test_a_penalised_fit_reads_the_rank_screen_alone(monkeypatch):
    """A penalised objective asks only whether float32 curvatures are safe
    (:meth:`~dualmaxent.objective.DualObjective.design_condition`): on a design with every level
    of a categorical beside the intercept (a dependency the float32 screen cannot prove
    absent) it gets float64 without the float64 rank pass, and the data set holds no
    identifiability; on a full-rank design the screen's result is the identifiability itself,
    whose condition a rank pass made afresh repeats."""
    from dualmaxent.identifiability import identify

    rng = np.random.default_rng(11)
    n, features, levels = 4000, 160, 8
    Xf = rng.standard_normal((n, features))
    dummies = np.eye(levels)[rng.integers(0, levels, n)]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-Xf[:, 0]))).astype(int)
    trap = Dataset.from_arrays(np.hstack([Xf, dummies]), y)
    obj = make_objective(trap, Penalty("l2", 1.0))
    assert n * obj.curvature_width ** 2 >= S.SINGLE_CURVATURE_MIN_FLOPS  # (the condition read)
    assert S._curvature_precision(obj) == np.float64
    assert obj.design_condition() is None
    assert "identifiability" not in vars(trap)
    import dualmaxent.identifiability as ID

    calls = []
    real = ID.screen
    monkeypatch.setattr(ID, "screen", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    assert obj.design_condition() is None and not calls  # (its passes made once)
    monkeypatch.undo()
    assert trap.identifiability.rank == trap.m - 1  # (the dependency is real)
    full = Dataset.from_arrays(Xf, y)
    pen = make_objective(full, Penalty("l2", 1.0))
    assert n * pen.curvature_width ** 2 >= S.SINGLE_CURVATURE_MIN_FLOPS
    condition = pen.design_condition()
    assert vars(full)["identifiability"].condition == condition
    assert identify(full.X, full.weights, full.feature_names, keep_gram=False).condition \
        == condition
    rho = K.curvature_relative_error(n, full.m, pen.q, pen.n_params)
    assert S._curvature_precision(pen) == (np.float32 if rho * condition ** 2
                                           <= S.CG_FORCING_MAX else np.float64)


def test_newton_cg_products_are_float32_below_large_rows_only_where_they_cost():
    """Newton-CG's products: float32 from ``n m q >= SINGLE_PRODUCT_MIN_FLOPS`` on (below
    ``LARGE_ROWS``), float64 below it however wide the curvature."""
    rng = np.random.default_rng(4)
    for n, expected in ((1500, np.float64), (12_000, np.float32)):
        Xf = rng.standard_normal((n, 200))
        y = rng.integers(0, 3, n)
        obj = make_objective(Dataset.from_arrays(Xf, y), Penalty("l2", 1.0))
        cost = n * obj.dataset.m * obj.q
        assert (cost >= S.SINGLE_PRODUCT_MIN_FLOPS) == (expected == np.float32)
        assert n * obj.curvature_width ** 2 >= S.SINGLE_CURVATURE_MIN_FLOPS
        assert S._curvature_precision(obj, products=True) == expected


def test_lbfgs_goes_on_only_while_its_rate_beats_newtons_finish():
    """``_goes_on``: the rate of the last ``LBFGS_RATE_SPAN`` iterations, extrapolated, must
    reach the tolerance within Newton's finish (in passes)."""
    span = S.LBFGS_RATE_SPAN
    decade = [10.0 ** -(4 + i) for i in range(span + 1)]  # a decade an iteration, now at 1e-7
    assert S._goes_on(decade, (1e-10, 3.0))       # three more decades: three iterations
    assert not S._goes_on(decade, (1e-10, 2.5))   # Newton's finish is cheaper
    assert not S._goes_on(decade, (1e-7, 100.0))  # there already
    assert not S._goes_on(decade, None)           # no finish asked (the subsample's solve)
    assert not S._goes_on(decade[:span], (1e-10, 100.0))  # too few iterations to judge
    stalled = [1e-5, 2e-5, 1e-5, 1e-5]
    assert not S._goes_on(stalled[-span - 1:], (1e-10, 1e6))  # no progress: Newton
    # a tolerance below where the line search meets the value's rounding: Newton
    assert S._goes_on(decade, (1e-10, 3.0), floor=1e-11)
    assert not S._goes_on(decade, (1e-10, 3.0), floor=1e-9)


@pytest.mark.parametrize("l2", [1.0, 4.0])
def test_the_lbfgs_start_finishes_where_newtons_hessian_costs_more(monkeypatch, l2):
    """A well-conditioned wide design (two classes, 160 features: a Hessian pass costs some
    sixteen gradient passes by :func:`_newton_passes`): L-BFGS goes on to the tolerance 1e-8
    (above the level where its line search meets the value's rounding, about 1e-9 here) and
    Newton forms no Hessian; the fit reaches the maximiser the plain Newton reaches
    (stationarity from its definition, and the distance bound of strong concavity)."""
    ds = _two_class(n=4000, features=160, seed=3)
    penalty = Penalty("l2", l2)
    obj = make_objective(ds, penalty)
    obj.curvature_dtype = S._curvature_precision(obj)
    assert S._newton_passes(obj) > 5
    hessians = []
    curvature = S._newton_curvature
    monkeypatch.setattr(S, "_newton_curvature",
                        lambda o, beta: hessians.append(1) or curvature(o, beta))
    res = solve_dual(ds, method="newton", tol=1e-8, l2=l2)
    assert res.converged and hessians == [], "no Hessian formed"
    lam = penalty.l2_lam
    rel, bound = _stationarity(ds, res.theta, lam, obj.penalized_rows)
    assert rel <= 1e-8 + bound
    _plain(monkeypatch)
    plain = solve_dual(ds, method="newton", tol=1e-8, l2=l2)
    assert plain.converged and hessians, "plain Newton forms its Hessians"
    b1, b2 = obj.beta(res.theta), obj.beta(plain.theta)
    g1, g2 = obj.smooth_value_grad(b1)[1], obj.smooth_value_grad(b2)[1]
    mu = float(np.linalg.eigvalsh(-obj.hessian(b1))[0])
    assert mu > 0
    assert np.linalg.norm(b1 - b2) <= 2.0 * (np.linalg.norm(g1) + np.linalg.norm(g2)) / mu


def test_newton_finishes_where_an_iterations_fixed_cost_outweighs_its_hessian(monkeypatch):
    """Two classes, 50 features, n = 1000 (the sweep's data): a gradient pass's arithmetic is
    about half of an iteration's fixed cost (:data:`S.ITERATION_MADDS`), so Newton's finish,
    its Hessian included, counts fewer iterations than L-BFGS at its rate would take from its
    start's 1e-4 to 1e-8 (about seven): Newton forms its Hessian and stops at the tolerance
    (stationarity from its definition). Counted in gradient passes alone (the model before),
    the finish cost seven, and L-BFGS went on for seven iterations instead of Newton's one."""
    from dualmaxent.bench_sweep import make_data

    X, y = make_data(1000, 50, 2, seed=0)
    ds = Dataset.from_arrays(X, y, family="bernoulli")  # (the classifier's: one column)
    obj = make_objective(ds, Penalty())
    obj.curvature_dtype = S._curvature_precision(obj)
    n, w = ds.n, obj.n_params
    share = S.HESSIAN_PASS_SHARE[np.dtype(obj.curvature_dtype)]
    hessian = share * n * w**2 / 2.0
    madds = 2.0 * n * ds.m * max(obj.q, 1)  # a gradient pass's: X theta and X^T R
    assert S._newton_passes(obj) == pytest.approx(
        2.0 + hessian / (madds + S.ITERATION_MADDS), rel=1e-12)
    assert S._newton_passes(obj) < 4.0 < 2.0 + hessian / madds
    hessians = []
    curvature = S._newton_curvature
    monkeypatch.setattr(S, "_newton_curvature",
                        lambda o, beta: hessians.append(1) or curvature(o, beta))
    res = solve_dual(ds, method="newton", tol=1e-8, check_attainment=False)
    assert res.converged and hessians, "Newton finished"
    # the same probabilities as two classes' softmax of (0, eta)
    theta = np.column_stack([np.zeros_like(res.theta), res.theta])
    rel, bound = _stationarity(Dataset.from_arrays(X, y), theta, 0.0, obj.penalized_rows)
    assert rel <= 1e-8 + bound


def test_the_lbfgs_start_hands_over_to_newton_where_its_rate_is_slow(monkeypatch):
    """Ill-conditioned columns (scales from 1e-2 to 1e2) slow L-BFGS: Newton takes over and
    forms its Hessian, as before the continuation."""
    rng = np.random.default_rng(5)
    n, m = 4000, 40
    Xf = rng.standard_normal((n, m)) * np.logspace(-2, 2, m)
    eta = Xf @ (rng.standard_normal(m) / np.logspace(-2, 2, m))
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(int)
    ds = Dataset.from_arrays(Xf, y)
    hessians = []
    curvature = S._newton_curvature
    monkeypatch.setattr(S, "_newton_curvature",
                        lambda o, beta: hessians.append(1) or curvature(o, beta))
    res = solve_dual(ds, method="newton", tol=TOL, l2=1.0)
    assert res.converged and hessians, "Newton formed its Hessian"


def test_a_tolerance_below_the_line_searchs_floor_is_left_to_newton(monkeypatch):
    """The default 1e-10 on the wide design above: L-BFGS's value test would meet the value's
    rounding near 1e-9 (where it spent eight passes before the floor was estimated), so it
    hands over once past its own tolerance, and Newton's quadratic steps finish: a handful of
    iterations below ``LBFGS_START_TOL``, with one Hessian."""
    ds = _two_class(n=4000, features=160, seed=3)
    hessians = []
    curvature = S._newton_curvature
    monkeypatch.setattr(S, "_newton_curvature",
                        lambda o, beta: hessians.append(1) or curvature(o, beta))
    res = solve_dual(ds, method="newton", tol=TOL, l2=1.0)
    below = np.asarray(res.history["kkt_residual"]) <= S.LBFGS_START_TOL
    assert res.converged and len(hessians) == 1
    assert int(below.sum()) <= 4


def test_the_secant_update_meets_the_secant_equation_and_stays_positive_definite():
    """:func:`~dualmaxent.solvers._secant_update`: ``N_new s = y`` (the BFGS update's defining
    equation), ``N_new`` symmetric and factored (positive definite) for ``y^T s > 0``, the
    factor returned unchanged where ``y^T s <= 0``. The residual of the secant equation is
    bounded by the rounding of the update's sums: ``gamma(2 p + 8)`` times the magnitudes
    ``|N| |s| + |y| (|y|^T |s|) / |y^T s| + |N s| (|N s|^T |s|) / (s^T N s)``."""
    rng = np.random.default_rng(11)
    p = 12
    A = rng.standard_normal((p, p))
    N = A @ A.T + p * np.eye(p)
    factor = (N, nx.cholesky(N))
    Htrue = rng.standard_normal((p, p))
    Htrue = Htrue @ Htrue.T + np.eye(p)
    s = rng.standard_normal(p)
    y = Htrue @ s  # y^T s > 0
    Nn, L = S._secant_update(factor, s, y)
    u = K.unit_roundoff(np.float64)
    Ns = N @ s
    magnitude = (np.abs(N) @ np.abs(s) + np.abs(y) * (np.abs(y) @ np.abs(s)) / abs(y @ s)
                 + np.abs(Ns) * (np.abs(Ns) @ np.abs(s)) / (s @ Ns))
    assert np.all(np.abs(Nn @ s - y)
                  <= K.gamma(2 * p + 8, u) * (magnitude + np.abs(Nn) @ np.abs(s)))
    assert np.array_equal(Nn, Nn.T) or np.abs(Nn - Nn.T).max() <= K.gamma(4, u) * np.abs(Nn).max()
    assert np.allclose(np.tril(L) @ np.tril(L).T, Nn, rtol=0, atol=K.gamma(p + 1, u) * p
                       * np.abs(Nn).max())
    assert np.linalg.eigvalsh(Nn)[0] > 0
    # the curvature condition fails: nothing changes
    assert S._secant_update(factor, s, -y) is factor


def test_a_reused_factor_is_corrected_by_each_steps_secant_pair(monkeypatch):
    """From ``LARGE_ROWS`` on, Newton reuses the subsample's factor; each reused step first
    takes the last step's BFGS correction, and the fit reaches the stationarity its tolerance
    asks (recomputed from its definition), and plain Newton's maximiser (strong concavity, as
    above)."""
    ds = _two_class(n=8000, features=6, seed=8)
    monkeypatch.setattr(S, "LARGE_ROWS", 4000)
    monkeypatch.setattr(S, "SUBSAMPLE_ROWS_PER_PARAM", 200)
    penalty = Penalty("l2", 1.0)
    obj = make_objective(ds, penalty)
    assert S.subsample_step(obj) >= 2
    updates = []
    original = S._secant_update

    def spy(factor, s, y):
        out = original(factor, s, y)
        updates.append(out is not factor)
        return out

    monkeypatch.setattr(S, "_secant_update", spy)
    fast = solve_dual(ds, method="newton", tol=TOL, l2=1.0)
    assert fast.converged and updates and all(updates), "the reused factor was corrected"
    rel, bound = _stationarity(ds, fast.theta, 1.0, obj.penalized_rows)
    assert rel <= TOL + bound
    monkeypatch.setattr(S, "LARGE_ROWS", 10**12)
    _plain(monkeypatch)
    plain = solve_dual(ds, method="newton", tol=TOL, l2=1.0)
    _assert_same_maximiser(obj, fast.theta, plain.theta)
