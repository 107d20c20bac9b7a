"""Strong duality, certified: gap, balance, simplex, dual gradient and agreement."""

import pytest

from dualmaxent import load_dataset, solve_dual, solve_primal, verify
from dualmaxent.exceptions import ConvergenceWarning
from dualmaxent.separation import detect_separation

from _factories import overlapping, separable
from _kkt import assert_kkt, bracket_figures, kkt_figures

FIGURES = ("primal_gap", "balance_residual", "simplex_residual", "dual_gradient",
           "p_agreement", "theta_agreement")


@pytest.mark.parametrize(
    "make",
    [lambda: load_dataset("blobs"),
     lambda: overlapping(n=200, p=3, k=2, seed=1),
     lambda: overlapping(n=300, p=3, k=4, seed=2),
     lambda: overlapping(n=420, p=2, k=7, seed=3)],
    ids=["blobs", "k2", "k4", "k7"],
)
def test_strong_duality_on_non_separable_data(make):
    ds = make()
    assert not detect_separation(ds).separated
    cert = verify(ds)
    fig = assert_kkt(ds, cert)  # every figure recomputed, within tolerance, and as reported
    assert cert.ok, cert.messages
    assert cert.attained
    for name in FIGURES:
        assert fig[name] <= 1e-6, name
    assert fig["bracket"]["relative_gap"] <= 1e-12  # the projected bracket closes
    assert fig["entropy"] == pytest.approx(fig["neg_loglik"], rel=1e-8)


def test_relative_gap_on_the_default_data_is_at_most_1e_8():
    cert = verify(load_dataset("blobs"))
    assert cert.relative_gap <= 1e-8
    assert cert.primal.status == "optimal"


def test_the_definitions_of_the_certificate():
    """Given results are certified as they are: every figure is that of their points."""
    ds = overlapping(n=100, p=2, k=3, seed=9)
    p, d = solve_primal(ds), solve_dual(ds)
    cert = verify(ds, primal=p, dual=d)
    assert cert.primal is p and cert.dual is d
    fig = assert_kkt(ds, cert)
    bracket = fig.pop("bracket")
    assert fig == kkt_figures(ds, p.mu, d.theta, theta_p=p.theta)
    # unpenalised, CVXPY's gap is its entropy against the canonical log-likelihood, and the
    # bracket's is the projected point's entropy against it
    assert fig["primal_gap"] == abs(fig["entropy"] + fig["canonical_loglik"]) / max(
        1.0, abs(fig["canonical_loglik"]))
    assert bracket["duality_gap"] == -fig["canonical_loglik"] - bracket["entropy"]


def test_a_wrong_theta_or_a_loose_primal_is_not_certified():
    ds = overlapping(n=100, p=2, k=3, seed=9)
    d = solve_dual(ds)
    with pytest.warns(ConvergenceWarning, match="did not converge"):  # said, not silent
        early = solve_dual(ds, method="gradient", max_iter=3)  # far from the optimum
    cert = verify(ds, dual=early)
    assert not cert.ok
    assert any("did not converge" in m for m in cert.messages)
    # the independent helper sees the same failure from the definitions
    assert kkt_figures(ds, solve_primal(ds).mu, early.theta)["dual_gradient"] > 1e-6
    loose = solve_primal(ds, solver="SCS", eps_abs=1e-2, eps_rel=1e-2, max_iters=50)
    cert = verify(ds, primal=loose, dual=d)
    assert not cert.ok
    assert max(kkt_figures(ds, loose.mu, d.theta)[name] for name in FIGURES[:5]) > 1e-6


def test_the_kkt_helper_refuses_a_certificate_that_misreports():
    """The helper is not a rubber stamp: a number that differs from its definition fails."""
    from dataclasses import replace

    ds = overlapping(n=100, p=2, k=3, seed=9)
    cert = verify(ds)
    assert_kkt(ds, cert)
    for name in ("balance_residual", "dual_gradient", "entropy"):
        tampered = replace(cert, **{name: getattr(cert, name) * 1.01 + 1e-9})
        with pytest.raises(AssertionError, match=name):
            assert_kkt(ds, tampered)


def test_separable_data_are_reported_as_not_attained():
    ds = separable()
    cert = verify(ds)
    assert not cert.attained
    assert cert.separation.kind == "complete"
    # not attained, yet certified: the entropy equals the likelihood's supremum
    assert_kkt(ds, cert)
    assert cert.ok, cert.verdict
    assert cert.verdict.startswith("OK: the max-entropy optimum equals the likelihood's supremum")
    assert any("no maximiser" in m for m in cert.messages)


def test_the_full_newton_fit_on_separable_data_is_judged_by_its_bracket():
    ds = separable()
    d = solve_dual(ds, method="newton", max_iter=30)
    cert = verify(ds, dual=d)
    assert cert.attained is False
    # the theta certified is the solver's, walked along the separating direction: its full
    # likelihood is the upper bound, and ok says exactly whether the bracket closed
    X, Y = ds.X, ds.Y
    eta = X @ cert.theta
    loglik = float((Y * (eta - np.log(np.exp(eta).sum(axis=1, keepdims=True)))).sum())
    assert cert.upper_bound == pytest.approx(-loglik, rel=1e-12, abs=1e-12)
    assert cert.ok == (cert.relative_gap <= cert.tol)


# -- the primal modes, and the false "NOT OK" of correct optima (issue 14) ------------------

import subprocess
import sys
from dataclasses import replace

import numpy as np
import scipy.special

from dualmaxent import Dataset
from dualmaxent.exceptions import DualMaxentError
from _sweep import problem, reference_loglik, reference_separated


def test_projected_mode_never_imports_cvxpy():
    code = ("import sys; from dualmaxent import verify, load_dataset; "
            "c = verify(load_dataset('blobs'), primal='projected'); "
            "assert c.ok and c.primal is None and c.primal_solver == 'projected', c.verdict; "
            "assert 'cvxpy' not in sys.modules, 'cvxpy was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_auto_runs_cvxpy_only_below_the_measured_size(monkeypatch):
    import importlib

    verify_module = importlib.import_module("dualmaxent.verify")
    ds = load_dataset("blobs")
    small = verify(ds)
    assert small.primal_solver == "CLARABEL" and "2700 entries" in small.primal_reason
    monkeypatch.setattr(verify_module, "AUTO_CVXPY_MAX_SIZE", 2699)
    big = verify(ds)
    assert big.primal is None and big.primal_solver == "projected"
    assert "2700 entries > 2699" in big.primal_reason
    # the bracket is the same either way: it never depends on CVXPY
    assert big.lower_bound == small.lower_bound and big.upper_bound == small.upper_bound
    with pytest.raises(DualMaxentError, match="unknown primal"):
        verify(ds, primal="mosek")


def test_duplicated_rows_count_once_towards_the_cvxpy_size():
    from dualmaxent.verify import cvxpy_size

    ds = load_dataset("blobs")
    X = np.repeat(ds.X[:, :-1], 1400, axis=0)  # 420000 rows, 300 distinct
    big = Dataset.from_arrays(X, np.repeat(ds.y, 1400))
    assert cvxpy_size(big) == 300 * 3 * 3


def test_a_wrong_theta_fails_the_bracket_in_every_mode():
    ds = overlapping(n=100, p=2, k=3, seed=9)
    d = solve_dual(ds)
    direction = np.random.default_rng(0).normal(size=d.theta.shape)
    for size in (1e-2, 1e-3):
        # claims convergence (its grad_norm is the optimum's), but is not the optimum
        wrong = replace(d, theta=d.theta + size * direction)
        for mode in ("projected", "auto", "cvxpy"):
            cert = verify(ds, primal=mode, dual=wrong)
            assert cert.duality_gap > 100 * cert.roundoff  # a real gap, not round-off
            assert cert.dual_gradient > 1e-6  # recomputed at theta, not read from the result
            # the verdict is the bracket's: 1e-2 off is far outside the tolerance; 1e-3 off is
            # within it in objective (a relative gap below 1e-6), and then certified as that
            assert cert.ok == (cert.relative_gap <= cert.tol), mode
            if size == 1e-2:
                assert not cert.ok and any("duality gap" in msg for msg in cert.messages)
    # the bracket is a bracket: the CVXPY optimum lies inside it
    p = solve_primal(ds)
    assert cert.lower_bound - 1e-9 <= p.objective <= cert.upper_bound + 1e-9


def test_cvxpy_multipliers_that_disagree_are_refused():
    ds = overlapping(n=100, p=2, k=3, seed=9)
    p = solve_primal(ds)
    # CVXPY "optimal", but its multipliers are off (not by a gauge shift, which is no error)
    bent = replace(p, theta=p.theta + 0.05 * np.random.default_rng(1).normal(size=p.theta.shape))
    cert = verify(ds, primal=bent)
    assert not cert.ok
    assert any(m.startswith("disagreement: theta_agreement") for m in cert.messages)


DUMMY_TRAP_RECIPES = {
    "collinear with the intercept": lambda: _collinear(),
    "all levels plus the intercept": lambda: _dummy_trap(),
}


def _collinear():
    rng = np.random.default_rng(0)
    n, m, k = 100, 3, 3
    X = rng.normal(size=(n, m))
    X[:, -1] = X[:, 0] * 2 + 1
    y = np.argmax(X @ rng.normal(scale=1.5, size=(m, k)) + rng.gumbel(size=(n, k)), axis=1)
    return Dataset.from_arrays(X, y), "x3 = intercept + 2 x1"


def _dummy_trap():
    rng = np.random.default_rng(1)
    g = rng.integers(0, 3, 200)
    y = (rng.random(200) < np.array([0.2, 0.5, 0.7])[g]).astype(int)
    return (Dataset.from_arrays(np.eye(3)[g], y, family="bernoulli",
                                feature_names=["g1", "g2", "g3"]), "g3 = intercept - g1 - g2")


@pytest.mark.parametrize("recipe", list(DUMMY_TRAP_RECIPES))
def test_rank_deficient_designs_certify_and_name_the_dependency(recipe):
    ds, dependency = DUMMY_TRAP_RECIPES[recipe]()
    cert = verify(ds)
    assert_kkt(ds, cert)
    assert cert.ok, cert.verdict
    assert cert.rank == ds.m - 1
    assert any(dependency in note for note in cert.notes)
    # theta* is the minimum-norm maximiser: orthogonal to the null space, class by class
    N = ds.identifiability.null_space
    assert np.abs(N.T @ cert.dual.theta).max() <= 1e-10
    # CVXPY's multipliers are another point of the same affine set: equal modulo N only
    raw = np.abs(cert.primal.theta - cert.dual.theta).max()
    assert cert.theta_agreement <= 1e-6 < raw


def test_tied_integer_feature_certifies():
    x = [1, 1, 2, 1, 1, 2, 0, 0, 1, 2, 0, 2, 2, 1, 2, 0, 2, 0, 2, 1, 0, 0, 2, 1, 1, 2, 0, 2, 1]
    y = [1, 1, 1, 1, 1, 1, 3, 3, 2, 0, 3, 1, 1, 0, 1, 0, 1, 0, 1, 0, 2, 1, 1, 1, 3, 0, 0, 1, 2]
    ds = Dataset.from_arrays(np.array(x, float)[:, None], np.array(y))
    cert = verify(ds)
    assert_kkt(ds, cert, tolerances={"theta_agreement": cert.extra["theta_tol"],
                                     "p_agreement": cert.extra["p_tol"]})
    assert cert.ok, cert.verdict
    assert cert.extra["theta_tol"] >= cert.theta_agreement


@pytest.mark.parametrize("degree", [5, 10])
def test_ill_conditioned_polynomial_least_squares_certifies(degree):
    """A polynomial basis of degree 5 (condition 2.4e3) is certified; degree 10 (1.3e7) is
    solved as accurately, but its certificate proves nothing (:func:`dualmaxent.certify.
    stand_in_condition_max`)."""
    x = np.linspace(0.0, 10.0, 120)
    X = np.column_stack([x**p for p in range(1, degree + 1)])
    coef = 1.0 / np.arange(1, degree + 1) ** 4
    y = X @ coef + 2.0 + np.random.default_rng(degree).normal(scale=0.1, size=x.size)
    ds = Dataset.from_arrays(X, y, family="gaussian")
    cert = verify(ds)
    from dualmaxent.certify import stand_in_condition_max

    assert cert.rank == ds.m and ds.identifiability.condition > 1e3
    if degree == 5:
        assert cert.ok, cert.verdict
    else:
        # condition 1.3e7: the flattest direction's curvature, 6e-15 of the largest, is within
        # round-off of the curvature's rank tolerance; the step's residual along it cannot be
        # charged soundly, so nothing is proved, the same on every BLAS kernel
        assert ds.identifiability.condition > stand_in_condition_max(ds.m)
        assert not cert.ok and not np.isfinite(cert.within) and cert.relative_gap <= cert.tol
        assert any("nearly collinear" in m for m in cert.messages), cert.messages
    # the least-squares coefficients are recovered to many digits
    ref = np.linalg.lstsq(ds.X, y, rcond=None)[0]
    np.testing.assert_allclose(cert.dual.theta, ref, rtol=1e-6, atol=1e-9 * np.abs(ref).max())


def test_random_problems_sample_certifies_correctly():
    """A small sample of the sweep of tests/_sweep.py (500 problems: ``python tests/_sweep.py``)."""
    from _sweep import sweep

    rows = sweep(25, seed=7)
    wrong = [r for r in rows if not r["correct"]]
    assert not wrong, wrong
    assert any("collinear" in r["kind"] for r in rows) and any(r["separated"] for r in rows)


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings, strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=4015282)  # nearly separated: the intercept's shift costs under the tolerance
def test_verify_agrees_with_independent_references(seed):
    """Never NOT OK when a reference fit and an LP say the optimum is right; for a wrong theta,
    a bound ``within`` at least its distance from the optimum, and never OK when that distance
    is beyond the tolerance."""
    X, y, _ = problem(np.random.default_rng(seed))
    ds = Dataset.from_arrays(X, y)
    cert = verify(ds, primal="projected")
    separated = reference_separated(X, y)
    assert cert.attained == (not separated)
    if not separated:
        ref = reference_loglik(X, y)
        assert cert.dual.canonical_loglik == pytest.approx(ref, rel=1e-8, abs=1e-8)
    assert cert.ok, cert.verdict
    if not separated:  # a shift of class 0's intercept: theta no longer the maximiser
        theta = np.array(cert.dual.theta)
        theta[-1, 0] += 0.05
        wrong = verify(ds, primal="projected", dual=replace(cert.dual, theta=theta))
        # its distance from the optimum, from the definitions (the reference to 1e-8): the
        # upper bound is -l(theta) and the lower one at most -l*, so the gap is at least that
        # distance, and ok (relative gap <= tol) is impossible beyond tol max(1, |l(theta)|).
        # On nearly separated data the shift may cost less than that: then ok is right.
        eta = ds.X @ theta
        loglik = float(np.sum(ds.Y * eta) - np.sum(scipy.special.logsumexp(eta, axis=1)))
        distance, slack = ref - loglik, 1e-8 * (1.0 + abs(ref))
        assert wrong.within >= distance - slack
        if distance - slack > wrong.tol * max(1.0, abs(loglik)):
            assert not wrong.ok, wrong.verdict


def test_a_nearly_separated_fit_whose_newton_point_leaves_the_simplex_is_certified():
    """Found by the test above (seed 3909, four classes, n = 143, three features, not
    separated): at the maximiser, logits near 400, the Newton point's linear step took a
    probability of 1e-144 to -1.5e-144, and the segment from Y to it was feasible only at Y (a
    bracket [0, 6.14] nats, NOT OK). The entries that small are set on the simplex's boundary
    and the point is certified; checked here from the definitions: the point of the lower
    bound is in the simplex, meets the balance equations to first order in theta, and its
    entropy closes the gap to the fit's -l(theta)."""
    X, y, _ = problem(np.random.default_rng(3909))
    ds = Dataset.from_arrays(X, y)
    assert not reference_separated(X, y)
    cert = verify(ds, primal="projected")
    loglik = cert.dual.canonical_loglik
    assert loglik == pytest.approx(reference_loglik(X, y), rel=1e-8, abs=1e-8)
    assert cert.ok, cert.verdict
    assert any("set on its boundary" in note for note in cert.notes)
    P, Y = np.asarray(cert.projected.mu), ds.Y
    k = Y.shape[1]
    assert P.min() >= 0.0
    assert np.abs(P.sum(axis=1) - 1.0).max() <= 4 * k * np.finfo(float).eps
    theta = np.asarray(cert.dual.theta)
    # the first-order charge of the point's residual, with theta standing in for theta*
    charge = abs(float(np.sum(theta * (ds.X.T @ (P - Y)))))
    assert charge <= cert.tol * max(1.0, abs(loglik))
    entropy = -float(scipy.special.xlogy(P, P).sum())
    assert -loglik - (entropy - charge) <= cert.tol * max(1.0, abs(loglik))
    assert entropy - charge <= -loglik + 1e-9


def test_a_failed_cvxpy_cross_check_is_reported_not_binding_in_auto(monkeypatch):
    import importlib

    verify_module = importlib.import_module("dualmaxent.verify")
    ds = load_dataset("blobs")
    real = solve_primal(ds)
    failed = replace(real, mu=np.full(real.mu.shape, np.nan), theta=None, status="infeasible",
                     converged=False, message="")
    monkeypatch.setattr(verify_module, "solve_primal", lambda *a, **k: failed)
    cert = verify(ds)  # auto: CVXPY runs on blobs, and here it fails
    assert cert.ok, cert.verdict
    assert any("could not reach the accuracy" in n and "rests on the projected bound" in n
               for n in cert.notes)
    assert np.isfinite(cert.entropy) and cert.entropy == cert.projected.entropy
    assert not verify(ds, primal=failed).ok  # asked for CVXPY's result: binding


@pytest.mark.parametrize("family, penalty", [("categorical", {"l1": 10.0}),
                                             ("categorical", {"l2": 3.0}),
                                             ("bernoulli", {"l1": 5.0})])
def test_balance_sides_are_the_balance_equations_and_their_slack(family, penalty):
    """``balance_sides`` returns ``X^T W mu(theta)`` and ``X^T W Y`` (weights included), shaped
    like theta; at a certified optimum their difference is the penalty's slack: 0 on the
    intercept, ``-lam theta`` (L2) or ``-lam sign(theta)`` where an L1 coefficient is nonzero,
    at most ``lam`` where it is zero, to the tolerance of the certificate."""
    import numpy as np

    from dualmaxent import Dataset
    from dualmaxent.verify import balance_sides

    blobs = load_dataset("blobs", family="categorical")
    y = np.asarray(blobs.classes)[np.asarray(blobs.Y).argmax(axis=1)]
    if family == "bernoulli":
        y = y == y[0]
    w = np.random.default_rng(3).integers(1, 4, blobs.n).astype(float)
    data = Dataset.from_arrays(np.asarray(blobs.X)[:, :-1], y, weights=w, family=family)
    cert = verify(data, primal="projected", **penalty)
    assert cert.ok
    expected, observed = balance_sides(data, cert.theta)
    assert expected.shape == observed.shape == np.shape(cert.theta)
    Y = np.asarray(data.Y, dtype=float).reshape(data.n, -1)
    mu = data.family.mean(data.X @ cert.theta).reshape(data.n, -1)
    np.testing.assert_allclose(observed.reshape(-1, Y.shape[1]), data.X.T @ (w[:, None] * Y))
    np.testing.assert_allclose(expected.reshape(-1, Y.shape[1]), data.X.T @ (w[:, None] * mu))
    slack, theta = (expected - observed)[:-1], np.asarray(cert.theta)[:-1]
    scale = 1.0 + np.abs(observed).max()
    tol = cert.tol * scale
    assert np.abs((expected - observed)[-1]).max() <= tol  # the intercept: an equation
    lam = next(iter(penalty.values()))
    if "l2" in penalty:
        np.testing.assert_allclose(slack, -lam * theta, atol=tol)
    else:
        on = theta != 0
        assert on.any()
        np.testing.assert_allclose(slack[on], -lam * np.sign(theta[on]), atol=tol)
        assert np.abs(slack[~on]).max(initial=0.0) <= lam + tol


def test_a_weak_ridge_is_solved_tighter_until_its_bracket_closes():
    """A weak L2 part leaves a gap of order ``||g||^2 / (2 lam)`` at the dual's default
    gradient ``g`` (the relaxed primal's charge of the slack ``lam theta + g``): on iris at
    ``lam = 1e-12`` 3.5e-5 relative, a CertificateWarning for ``MaxEntClassifier(C=1e12)``.
    verify solves again from its theta, tighter, and the bracket closes; the gap is recomputed
    here from the certificate's two bounds, and the charge's estimate from the final
    gradient."""
    import warnings

    from sklearn.datasets import load_iris

    from dualmaxent import MaxEntClassifier
    from dualmaxent.estimators import CertificateWarning

    ds = load_dataset("iris")
    cert = verify(ds, primal="projected", l2=1e-12)
    gap = cert.upper_bound - cert.lower_bound
    assert cert.ok and gap <= cert.tol * max(1.0, abs(cert.upper_bound)), cert.messages
    assert cert.dual.kkt_residual < 1e-11  # tighter than the default 1e-10
    # reported as one solve: both solves' iterations, one history row each and the start
    first = solve_dual(ds, penalty=cert.penalty)
    h = cert.dual.history
    assert cert.dual.iterations > first.iterations
    assert all(len(v) == cert.dual.iterations + 1 for v in h.values())
    np.testing.assert_array_equal(h["iteration"], np.arange(cert.dual.iterations + 1))
    assert np.all(np.diff(h["seconds"]) >= 0)
    assert h["kkt_residual"][-1] == cert.dual.kkt_residual
    assert f"{first.iterations} iterations" in cert.dual.message
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CertificateWarning)
        assert MaxEntClassifier(C=1e12).fit(X, y).certificate_.ok
    # an explicit dual_tol is the user's: not tightened
    loose = verify(ds, primal="projected", l2=1e-12, dual_tol=1e-10, tol=1e-6)
    assert loose.dual.kkt_residual > 1e-12 and loose.dual.kkt_residual <= 1e-10


@pytest.mark.parametrize("k", [2, 3, 4])
def test_categorical_l1_optima_agree_on_the_classes_differences(k):
    """Under L1 alone the penalty ``sum_c |theta_ic|`` of a categorical row is flat in how the
    row is split between an even number of classes: CVXPY's multipliers and the dual's theta
    may be two optima that differ there (by 0.1 to 0.2 on these data, a NOT OK "disagreement"
    before), while their differences to the last class, which ``P`` fixes, agree. Both are
    optima (the penalised objective, written out here, is the same at either), and the
    certificate's figures hold from their definitions."""
    from scipy.special import logsumexp

    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    y = rng.integers(0, k, 120)
    ds = Dataset.from_arrays(X + 0.8 * np.eye(k, 3)[y], y)
    lam = 0.5
    cert = verify(ds, l1=lam, primal="cvxpy")
    assert cert.ok, cert.messages
    assert_kkt(ds, cert)

    def objective(t):  # -l(t) + lam ||t_R||_1, the intercept (last row) unpenalised
        eta = ds.X @ t
        return (-float(ds.weights @ ((ds.Y * eta).sum(axis=1) - logsumexp(eta, axis=1)))
                + lam * float(np.abs(t[:-1]).sum()))

    theirs, ours = np.asarray(cert.primal.theta), np.asarray(cert.dual.theta)
    assert objective(theirs) == pytest.approx(objective(ours), rel=1e-6)
    assert np.abs((theirs - theirs[:, -1:]) - (ours - ours[:, -1:])).max() <= 1e-4


def test_p_agreement_reads_the_rows_of_positive_weight():
    """A row of weight 0 is in neither problem, so CVXPY leaves its mean anywhere in the domain
    (8.2 from ``mu(theta)`` on a Poisson row of mean 728 made a certified fit NOT OK): the
    agreement is the largest difference over the rows of positive weight, recomputed here."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((80, 2)) * 3
    y = rng.poisson(np.exp(X @ [0.3, -0.2] + 0.5))
    w = rng.integers(0, 4, 80).astype(float)
    ds = Dataset.from_arrays(X, y, family="poisson", weights=w)
    cert = verify(ds, l2=1e-4, primal="cvxpy")
    assert cert.ok, cert.messages
    mu_d = np.exp(ds.X @ np.asarray(cert.dual.theta))
    on = w > 0
    expected = np.abs(cert.primal.mu[on] - mu_d[on]).max() / (1.0 + mu_d[on].max())
    assert cert.p_agreement == pytest.approx(expected, rel=1e-6, abs=1e-15)
    fig = kkt_figures(ds, cert.primal.mu, cert.dual.theta, cert.penalty)
    assert fig["p_agreement"] == pytest.approx(expected, rel=1e-6, abs=1e-15)


@pytest.mark.parametrize("seed", [2, 5, 6])
def test_a_weak_penalty_magnifies_cvxpys_means_into_its_theta_and_no_further(seed):
    """CVXPY's penalised rows are ``X_R^T W (Y - mu_p) / lam2`` (the elastic net's soft-
    thresholded, 1-Lipschitz), so under a weak penalty (lam2 = 5e-5) a mean's 1e-12 becomes a
    theta's 1e-5: a certified least-squares fit was NOT OK for that "disagreement". Written out
    here: the rows differ by at most ``|X_R^T W (mu_p - mu(theta))| / lam2`` plus the dual's own
    gradient over lam2, and the certificate, which allows twice that, is ok."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((110, 4))
    y = X @ rng.standard_normal(4) + rng.standard_normal(110)
    ds = Dataset.from_arrays(X, y, family="gaussian")
    lam, a = 1e-4, 0.5
    cert = verify(ds, l1=lam, l1_ratio=a, primal="cvxpy")
    assert cert.ok, cert.messages
    theta_p, theta_d = np.asarray(cert.primal.theta), np.asarray(cert.dual.theta)
    XR = ds.X[:, :-1]  # the penalised rows (the intercept last)
    moved = np.abs(XR.T @ (ds.weights * (cert.primal.mu - ds.X @ theta_d)))
    G = XR.T @ (ds.weights * (ds.Y - ds.X @ theta_d))  # the dual's gradient, soft-thresholded
    own = np.abs(np.sign(G) * np.maximum(np.abs(G) - lam * a, 0.0) - lam * (1 - a) * theta_d[:-1])
    # the rounding of the sums X_R^T W (mu - Y), both sides: gamma(n + 4) times their magnitudes
    u = np.finfo(float).eps / 2
    g = (ds.n + 4) * u / (1 - (ds.n + 4) * u)
    sums = np.abs(XR).T @ (ds.weights * (np.abs(cert.primal.mu - ds.Y)
                                         + np.abs(ds.X @ theta_d - ds.Y)))
    bound = (moved + own + 4 * g * sums) / (lam * (1 - a))
    assert np.all(np.abs(theta_p[:-1] - theta_d[:-1]) <= bound)


def test_a_poisson_fit_of_huge_counts_is_solved_until_its_own_excess_is_closed():
    """Counts up to 2e13: the objective is some 1e15 nats and the fit's own excess over the
    data's point a few thousand, so the gap the default relative gradient leaves is at the
    objective's rounding level but far above a millionth of that excess, which the gaussian and
    Poisson gaps are judged against: NOT OK before. verify solves the dual again tighter (as for
    a weak ridge) until it closes. The bracket recomputed from the definitions within its
    budgets (the upper bound's own, ``upper_roundoff``; the lower bound is the upper less the
    gap, evaluated centred); the excess from the definitions in 40 digits (no float64 sum
    of the objective, 1e15 nats, resolves it), and the proved distance from the optimum within a
    millionth of it."""
    from decimal import Decimal, localcontext

    rng = np.random.default_rng(5)
    X = rng.standard_normal((200, 4)) * 10
    y = rng.poisson(np.exp(X @ (rng.standard_normal(4) * 0.3) + 0.5))
    ds = Dataset.from_arrays(X, y, family="poisson")
    cert = verify(ds, l2=3.0, primal="projected")
    assert cert.ok, cert.messages
    from dualmaxent.params import make_penalty
    fig = bracket_figures(ds, cert.projected.mu, cert.dual.theta, make_penalty(l2=3.0))
    br = cert.projected
    assert abs(fig["upper_bound"] - cert.upper_bound) <= br.upper_roundoff
    assert abs(fig["lower_bound"] - cert.lower_bound) <= br.upper_roundoff + cert.roundoff
    # the excess over the data's point, sum w (y log(y / mu) - y + mu) plus the penalty
    theta = np.asarray(cert.dual.theta, dtype=np.float64)
    with localcontext() as ctx:
        ctx.prec = 40
        th = [Decimal(float(v)) for v in theta]
        excess = Decimal(0)
        for x_j, y_j, w_j in zip(np.asarray(ds.X), ds.Y, ds.weights):
            mu = sum(Decimal(float(a)) * b for a, b in zip(x_j, th)).exp()
            yd = Decimal(float(y_j))
            term = (yd * (yd / mu).ln() if yd > 0 else Decimal(0)) - yd + mu
            excess += Decimal(float(w_j)) * term
        excess += Decimal(3.0) / 2 * sum(v * v for v in th[:-1])  # (the intercept last)
    excess = float(excess)
    assert br.excess_reference <= excess * (1 + 1e-12)
    assert br.excess_reference >= excess * (1 - 1e-9)
    assert cert.within <= 1e-6 * excess


@pytest.mark.parametrize("family", ["bernoulli", "categorical"])
@pytest.mark.parametrize("bad", ["x", True, -1.0, float("nan"), 2.0])
def test_a_bad_dual_tol_beside_a_given_tol_is_a_one_line_error(family, bad):
    """The two-class solve's tolerance (:func:`dualmaxent.verify.solve_tol`) is compared with
    the certificate's only once the given one is known to be a tolerance."""
    from dualmaxent.exceptions import DualMaxentError

    ds = overlapping(n=60, p=2, k=2, seed=4)
    if family == "bernoulli":
        import numpy as np

        from dualmaxent import Dataset
        ds = Dataset.from_arrays(np.asarray(ds.X)[:, :-1], np.asarray(ds.Y).argmax(axis=1),
                                 family="bernoulli")
    with pytest.raises(DualMaxentError, match="tol"):
        verify(ds, tol=1e-6, dual_tol=bad, primal="projected")
