"""The penalised checker's bound on the intercept's multiplier, refined by its own bracket
(:func:`dualmaxent.certify._refined_radius`, issue 19).

Statements tested here, each recomputed from the definitions:

* strong concavity of the partial maximum: for a theta moved off a tightly solved optimum,
  ``||theta_R - theta*_R|| <= sqrt(2 excess / lam2)`` with ``excess`` the bracket's proved
  ``max(gap, 0) + roundoff``, and the refined radius is at least ``||theta*_R||``, both
  ``theta*_R`` and the norms from the tight solve (L2 and the elastic net; two classes in the
  Bernoulli family, three classes);
* the certificate stays sound: the proved lower bound, the lower bound less its round-off, is
  below the tight solve's upper bound (the optimum is between them);
* the refinement tightens the round-off: at the solver's theta at least ten times below the
  loose bound's (the refinement switched off), never above it;
* the given logits' form (:func:`dualmaxent.certify._logit_form`): pass 1's ``z_spread`` with
  a distance at least ``||theta_R - theta*_R||`` bounds the optimum's own logits (without the
  intercept; for three classes each class's against the last) on every row, recomputed from
  the tight solve, and is below the Cauchy-Schwarz form ``rho (||theta_R|| + d)``; the
  multiplier's bound built with it holds the optimum's intercepts (pinned gauge);
* the residual's rows summed accurately (:func:`dualmaxent.certify._accurate_sums`) are
  within their bound of the exact sums (rational arithmetic), a bound first order in ``u``
  alone, and they let the bracket of a fit on features of very different sizes close (the
  intercept's multiplier charge; a weak ridge's charge of a large feature), still holding the
  optimum.
"""

from __future__ import annotations

import importlib
from fractions import Fraction

import numpy as np
import pytest

from dualmaxent import Dataset, solve_dual
from dualmaxent.params import make_penalty

import _definitions
from _factories import drawn_kind, make_dataset

checker = importlib.import_module("dualmaxent.certify")

PENALTIES = [("l2", make_penalty(l2=1.0)), ("elasticnet", make_penalty(l1=2.0, l1_ratio=0.5))]


def _tight(kind, penalty):
    ds = drawn_kind(kind, 3000, 5, seed=1)
    theta = np.asarray(solve_dual(ds, penalty=penalty, tol=1e-13).theta, dtype=float)
    return ds, theta


@pytest.mark.parametrize("kind", ["bernoulli", 3])
@pytest.mark.parametrize("name,penalty", PENALTIES)
def test_the_refined_radius_holds_and_the_bracket_stays_sound(kind, name, penalty):
    ds, star = _tight(kind, penalty)
    q = star.size // ds.m
    pen_rows = np.ones(ds.m, dtype=bool)
    pen_rows[-1] = False  # the intercept, the last row (data.py)
    opt_upper = checker.certify(ds, star, penalty=penalty).upper_bound
    lam2 = penalty.lam * (1.0 - (penalty.l1_ratio if name == "elasticnet" else 0.0))
    rng = np.random.default_rng(4)
    for move in (0.0, 1e-4, 1e-2):
        theta = star + move * rng.standard_normal(star.shape)
        cert = checker.certify(ds, theta, penalty=penalty)
        br = cert.projected
        excess = max(br.duality_gap, 0.0) + br.roundoff
        t2, s2 = theta.reshape(ds.m, q), star.reshape(ds.m, q)
        # strong concavity, recomputed: theta_R within sqrt(2 excess / lam2) of theta*_R
        assert np.linalg.norm(t2[pen_rows] - s2[pen_rows]) <= np.sqrt(2 * excess / lam2)
        radius, distance = checker._refined_radius(t2, pen_rows, penalty, excess)
        assert radius >= np.linalg.norm(s2[pen_rows])
        assert distance >= np.linalg.norm(t2[pen_rows] - s2[pen_rows])
        # sound: the proved lower bound is below the optimum (below the tight upper bound)
        assert br.lower_bound - br.roundoff <= opt_upper


@pytest.mark.parametrize("kind", ["bernoulli", 3])
@pytest.mark.parametrize("tol", [1e-4, 1e-8])
def test_each_radius_bounds_the_intercept_once_a_bracket(monkeypatch, kind, tol):
    """The zero step's bracket and the final one refine through the same radii: each radius's
    bound is formed once a bracket, and every bound formed is at least the optimum's intercept
    (pivot gauge: its difference from the last class's), recomputed from a tight solve."""
    penalty = make_penalty(l2=1.0)
    ds, star = _tight(kind, penalty)
    q = star.size // ds.m
    s2 = star.reshape(ds.m, q)
    b_star = np.abs(s2[-1] - s2[-1, -1]) if q > 1 else np.abs(s2[-1])
    theta = np.asarray(solve_dual(ds, penalty=penalty, tol=tol).theta, dtype=float)
    formed = []
    real = checker._multiplier_bound

    def counted(*args, **kwargs):
        bound = real(*args, **kwargs)
        radius = args[6] if len(args) > 6 else kwargs.get("radius")
        formed.append((radius, np.array(bound)))
        return bound

    monkeypatch.setattr(checker, "_multiplier_bound", counted)
    cert = checker.certify(ds, theta, penalty=penalty, tol=tol)
    assert cert.ok, cert.messages
    radii = [radius for radius, _ in formed]
    assert len(formed) >= 2  # the loose bound and at least one refinement
    assert len(set(radii)) == len(radii), radii
    for _, bound in formed:
        assert np.all(bound.ravel() >= b_star)


@pytest.mark.parametrize("kind", ["bernoulli", 3])
def test_the_refinement_tightens_the_roundoff(monkeypatch, kind):
    penalty = make_penalty(l2=1.0)
    ds, _ = _tight(kind, penalty)
    theta = np.asarray(solve_dual(ds, penalty=penalty).theta, dtype=float)
    refined = checker.certify(ds, theta, penalty=penalty).projected
    monkeypatch.setattr(checker, "_refined_radius", lambda *a, **k: None)
    loose = checker.certify(ds, theta, penalty=penalty).projected
    assert refined.lower_bound == loose.lower_bound
    assert refined.upper_bound == loose.upper_bound
    assert refined.roundoff <= loose.roundoff / 10


@pytest.mark.parametrize("kind", ["bernoulli", 3, "poisson", "gaussian"])
@pytest.mark.parametrize("lam", [1e-6, 1e-4])
def test_a_weak_l1_penalty_bounds_the_multiplier_by_the_curvature_ball(monkeypatch, kind, lam):
    """An L1 penalty alone bounds ``||theta*_R||_1`` by its objective over lambda: at lambda =
    1e-6 (``C = 1e6``) the intercept's charge took the round-off budget to 8e-3 nats and the
    certificate of a converged fit was not ok. The curvature ball of the penalised likelihood
    (its gradient's norm raised by ``lam sqrt(|R| q)``; for several classes on the classes'
    differences) bounds each intercept within its radius of theta's instead: the bound is
    checked against the tight solve's intercepts (in the pinned gauge), the bracket to hold its
    optimum, and the certificate is ok where the loose bound alone (the ball off) was not. The
    Poisson and gaussian families (``GLMRegressor(l1_ratio=1, C=1e5)`` was not ok) as the
    Bernoulli one, by their own balls. (The intercept's residual summed accurately,
    :func:`~dualmaxent.certify._accurate_sums`, shrinks the same charge another way: off
    here, so that the ball's own bound is what is tested.)"""
    monkeypatch.setattr(checker, "ACCURATE_SHARE", np.inf)
    penalty = make_penalty(l1=lam)
    ds = (drawn_kind(kind, 3000, 5, seed=1) if kind not in ("poisson", "gaussian")
          else make_dataset(kind, n=3000, seed=1))
    star = np.asarray(solve_dual(ds, penalty=penalty, tol=1e-14).theta,
                      dtype=float).reshape(ds.m, -1)
    theta = np.asarray(solve_dual(ds, penalty=penalty).theta, dtype=float)
    pen_rows = np.arange(ds.m) < ds.m - 1
    bound = checker._ball_multiplier(ds, theta, pen_rows, penalty)
    assert bound is not None and bound.shape == (1, star.shape[1])
    intercepts = star[-1] - star[-1, -1] if ds.family.multiclass else star[-1]
    assert np.all(bound[0] >= np.abs(intercepts))
    cert = checker.certify(ds, theta, penalty=penalty)
    optimum = checker.certify(ds, star if ds.family.multiclass else star[:, 0],
                              penalty=penalty).upper_bound
    assert cert.lower_bound - cert.roundoff <= optimum <= cert.upper_bound + cert.roundoff
    assert cert.ok, cert.messages
    monkeypatch.setattr(checker, "_ball_multiplier", lambda *a: None)
    # (nor the unpenalised point, which closes these weak penalties' brackets another way)
    monkeypatch.setattr(checker, "_unpenalised_lower", lambda data, theta, pen, br, *a: br)
    loose = checker.certify(ds, theta, penalty=penalty)
    assert loose.roundoff > 100 * cert.roundoff


@pytest.mark.parametrize("kind", ["bernoulli", 3])
def test_the_residuals_rows_summed_accurately_are_within_their_bound(kind):
    """``_accurate_sums`` at a point of means: the exact ``sum_j x_ji w_j (mu_j - Y_j)`` of the
    stored numbers (as fractions) is within its bound of the result, for the column of ones
    and for a feature of entries near 1e5, and the bound is a few ``u`` of ``sum_j |x_ji|
    w_j |mu_j - Y_j|``, not ``n u``; with blocks of 37 rows (odd halvings, several levels of
    blocks) as with one. A design without the intercept has no column of ones to read."""
    ds = drawn_kind(kind, 3001, 4, seed=5)
    rng = np.random.default_rng(5)
    Xf = ds.X[:, :-1].copy()
    Xf[:, 1] = 1e5 + 30.0 * Xf[:, 1]
    ds = Dataset.from_arrays(Xf, ds.y, weights=rng.uniform(0.1, 3.0, ds.n), family=ds.family)
    q = ds.Y.reshape(ds.n, -1).shape[1]
    point = rng.dirichlet(np.ones(q), ds.n) if q > 1 else rng.uniform(0, 1, (ds.n, 1))
    Y = ds.Y.reshape(ds.n, q)
    cols = [ds.m - 1, 1]
    for rows in (37, 1 << 16):
        r, b = checker._accurate_sums(ds, np.asfortranarray(point), cols, rows=rows)
        for i, col in enumerate(cols):
            x = ds.X[:, col]
            size = np.abs(x[:, None] * ds.weights[:, None] * (point - Y)).sum(axis=0)
            for c in range(q):
                exact = sum(Fraction(float(xv)) * Fraction(float(w)) * (Fraction(float(mv))
                                                                         - Fraction(float(yv)))
                            for xv, w, mv, yv in zip(x, ds.weights, point[:, c], Y[:, c]))
                assert abs(Fraction(float(r[i, c])) - exact) <= Fraction(float(b[i, c]))
            assert np.all(b[i] <= 16 * checker.U * (size + np.abs(r[i])))
            assert np.all(b[i] < checker.gamma(ds.n + 2) * size / 100)  # (the pass's bound)
    plain = Dataset.from_arrays(ds.X[:, :-1], ds.y, intercept=False, family=ds.family)
    X1 = np.column_stack([plain.X[:, :-1], np.full(plain.n, 2.0)])  # (a constant, not ones)
    two = Dataset.from_arrays(X1, plain.y, intercept=False, family=ds.family)
    assert checker._accurate_sums(two, point, [two.m - 1]) is not None  # (read as a column)
    assert checker._accurate_sums(checker.Dataset.from_arrays(
        __import__("scipy.sparse", fromlist=["csr_array"]).csr_array(Xf), ds.y,
        family=ds.family), point, [0]) is None  # (a sparse column is not read)


def test_features_of_very_different_sizes_are_certified_with_the_intercepts_exact_sum(
        monkeypatch):
    """Features near 1e5 beside one of spread 1e-2 (n = 2e4, L2 with lam = 1): the intercept's
    multiplier bound is millions (the rows' norm is 1e5), and times the pass's summation bound
    of its residual, ``gamma(n) sum w |mu - Y|``, it took the round-off past the tolerance of
    a converged fit. Summed accurately (``ACCURATE_SHARE``), the certificate is ok, and the
    bracket holds the optimum of a tight solve, at the solver's theta and at one whose
    intercept is moved (a real residual there, charged as before)."""
    rng = np.random.default_rng(0)
    n, spread, centre = 20_000, np.logspace(-2, 4, 8), np.logspace(0, 5, 8)
    X = rng.standard_normal((n, 8)) * spread + centre
    eta = ((X - centre) / spread) @ rng.standard_normal(8) / 2
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(int)
    ds = Dataset.from_arrays(X, y, family="bernoulli")
    penalty = make_penalty(l2=1.0)
    theta = np.asarray(solve_dual(ds, penalty=penalty).theta, dtype=float)
    star = np.asarray(solve_dual(ds, penalty=penalty, tol=1e-14).theta, dtype=float)
    optimum = checker.certify(ds, star, penalty=penalty).upper_bound
    cert = checker.certify(ds, theta, penalty=penalty)
    assert cert.ok, cert.messages
    assert cert.lower_bound - cert.roundoff <= optimum <= cert.upper_bound + cert.roundoff
    moved = theta.copy()
    moved[-1] += 1e-6
    off = checker.certify(ds, moved, penalty=penalty)
    assert off.lower_bound - off.roundoff <= optimum <= off.upper_bound + off.roundoff
    monkeypatch.setattr(checker, "ACCURATE_SHARE", np.inf)
    # the given logits' form of the multiplier's bound (:func:`_logit_form`) alone closes it:
    # the rows' logits are moderate though their norms are 1e5
    logits = checker.certify(ds, theta, penalty=penalty)
    assert logits.ok, logits.messages
    assert logits.lower_bound - logits.roundoff <= optimum <= logits.upper_bound + logits.roundoff
    # without either, the Cauchy-Schwarz form's millions times the summation bound
    monkeypatch.setattr(checker, "_logit_form",
                        lambda one, d, multi: np.full(np.shape(one.z_spread), np.inf))
    plain = checker.certify(ds, theta, penalty=penalty)
    assert not plain.ok and plain.roundoff > plain.tol * abs(plain.upper_bound)


def _weak_ridge_on_a_large_feature(seed, k):
    """``(data set, penalty, theta, certificate)``: n = 2e4 rows of five features, one near
    1e6 of spread 2e3 and the others near 1, ``k`` classes from a logistic model of the
    standardised features, L2 with lam = 0.01 (C = 100), theta solved to 1e-13 (a weak
    ridge's gap closes only at a small gradient: the rounding is the subject here). The
    certificate is checked: ok, its bracket holding the optimum of a solve to 1e-15."""
    rng = np.random.default_rng(seed)
    n = 20_000
    spread = 10.0 ** np.array([0.8, 2.6, -0.7, 3.3, 0.7])
    centre = spread * 10.0 ** np.array([-9, -0.8, 0.7, 2.7, -9])
    Z = rng.standard_normal((n, 5))
    eta = Z @ rng.standard_normal((5, k))
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    ds = Dataset.from_arrays(Z * spread + centre, y,
                             family="bernoulli" if k == 2 else "categorical")
    penalty = make_penalty(l2=0.01)
    theta = np.asarray(solve_dual(ds, penalty=penalty, tol=1e-13).theta, dtype=float)
    star = np.asarray(solve_dual(ds, penalty=penalty, tol=1e-15).theta, dtype=float)
    optimum = checker.certify(ds, star, penalty=penalty).upper_bound
    cert = checker.certify(ds, theta, penalty=penalty)
    assert cert.ok, cert.messages
    assert cert.lower_bound - cert.roundoff <= optimum <= cert.upper_bound + cert.roundoff
    return ds, penalty, theta, cert


def test_a_weak_ridges_charge_of_a_large_feature_is_summed_accurately(monkeypatch):
    """Two classes, a feature near 1e6 (spread 2e3) among others near 1, L2 with lam = 0.01
    (C = 100): the L2 charge moves by ``(2 e + b) b / (2 lam)`` when the residual moves by its
    summation bound ``b``, which for that feature's row is ``gamma(n) sum |x| w |mu - Y|``, and
    the bracket of a converged fit did not close (0.58 nats against 7.5e-3). With the rows
    summed accurately it closes, holding the tight solve's optimum."""
    ds, penalty, theta, cert = _weak_ridge_on_a_large_feature(3, 2)
    monkeypatch.setattr(checker, "ACCURATE_SHARE", np.inf)
    plain = checker.certify(ds, theta, penalty=penalty)
    assert not plain.ok and plain.roundoff > plain.tol * abs(plain.upper_bound)


@pytest.mark.parametrize("seed", [4, 5])
def test_the_intercepts_step_that_opens_a_large_features_slack_gives_way_to_the_penalised_step(
        seed):
    """Three classes, a feature near 1e6 of spread 2e3 (nearly a multiple of the intercept),
    C = 100: the intercept's step, correcting a residual of the size a converged solve leaves
    there, moves that feature's slack by a million times as much, and the relaxation charges it
    over ``2 lam``: a converged fit was bracketed within 5.8 to 900 nats, by BLAS kernel. The
    penalised problem's step is then taken from the same pass 1 (``_newton_step``'s reserve):
    the certificate is ok on every kernel, its bracket holds the tight solve's optimum, and
    its stepped point meets the balance equations of the penalised problem (the slack within
    the tolerance of ``-lam theta``, recomputed from its definition at the checker's point)."""
    ds, penalty, theta, cert = _weak_ridge_on_a_large_feature(seed, 3)
    # the slack of the checker's point, from its definition (each sum correctly rounded by
    # math.fsum, its terms within 3 u of theirs), charged by the relaxation: within the
    # tolerance of the penalty, as the balance of the penalised problem has it
    import math

    point = cert.projected.mu.reshape(ds.n, -1)
    terms = ds.X[:, :-1, None] * (ds.weights[:, None] * (point - ds.Y))[:, None, :]
    slack = np.array([[math.fsum(terms[:, i, c]) for c in range(3)] for i in range(5)])
    err = 3.01 * checker.U * np.abs(terms).sum(axis=0) * (1 + checker.gamma(ds.n)) \
        + checker.U * np.abs(slack)
    charge = float(((np.abs(slack) + err) ** 2).sum()) / (2 * 0.01)
    assert charge <= (0.5 * 0.01 * float((theta[:-1] ** 2).sum())
                      + cert.tol * abs(cert.upper_bound))


def test_the_accurate_sums_do_not_run_where_the_round_off_is_a_points_own_residual(monkeypatch):
    """An unpenalised fit to ``tol=1e-4`` (n = 1e5, three classes, 50 features) keeps its
    point's own bracket: the round-off then carries that point's residual times theta, above a
    hundredth of the tolerance, which no sum can remove. The rows were summed again all the
    same (0.35 s of a 0.39 s certificate); now only where the summation bounds' own charges
    carry the round-off."""
    from dualmaxent import MaxEntClassifier
    from dualmaxent.bench_sweep import make_data

    X, y = make_data(100_000, 50, 3)
    calls = []
    real = checker._accurate_sums
    monkeypatch.setattr(checker, "_accurate_sums",
                        lambda *a, **kw: calls.append(1) or real(*a, **kw))
    cert = MaxEntClassifier(C=np.inf, tol=1e-4).fit(X, y).certificate_
    assert cert.ok and not cert.projected.stepped  # (the point's own bracket)
    assert cert.roundoff > checker.ACCURATE_SHARE * cert.tol * abs(cert.upper_bound)
    assert not calls


@pytest.mark.parametrize("kind", ["bernoulli", 3])
@pytest.mark.parametrize("name,penalty", PENALTIES)
def test_the_logit_form_bounds_the_optimums_logits(kind, name, penalty):
    ds, star = _tight(kind, penalty)
    q = star.size // ds.m
    multi = q > 1
    s2 = star.reshape(ds.m, q)
    pen_rows = np.arange(ds.m) < ds.m - 1
    Xr = ds.X[:, :-1]
    # the optimum's logits without the intercept, each within gamma(m) |x_j| |theta*| of the
    # float64 products (the slack charged against the bound below)
    z_star = Xr @ s2[:-1]
    slack = checker.gamma(ds.m + 2) * (np.abs(Xr) @ np.abs(s2[:-1]))
    if multi:
        z_star = z_star - z_star[:, -1:]
        slack = slack + slack[:, -1:]
    truth = (np.abs(z_star) + slack).max(axis=0)
    rng = np.random.default_rng(9)
    run = checker._runner(ds, None, None)
    for move in (0.0, 1e-3, 1e-1):
        theta = s2 + move * rng.standard_normal(s2.shape)
        one = run(checker._pass_one, theta, ds.family, np.zeros(0, dtype=int), False,
                  run.depth, curvature=False, spread=True)
        d = float(np.linalg.norm(theta[pen_rows] - s2[pen_rows])) * (1 + 1e-12)
        form = checker._logit_form(one, d, multi)
        assert form.shape == (q,)
        assert np.all(truth <= form), (truth, form)
        # tighter than Cauchy-Schwarz over the rows' largest norm
        norm = np.sqrt((ds.X ** 2).sum(axis=1).max())
        cs = norm * (np.linalg.norm(theta[pen_rows]) + d) * (np.sqrt(2) if multi else 1)
        assert form[0] < cs
        # the multiplier's bound from it holds the optimum's intercepts (pinned gauge)
        one.XtWY_eq = (ds.X.T @ (ds.weights[:, None] * ds.Y.reshape(ds.n, q)))[-1:]
        radius = (float(np.linalg.norm(theta[pen_rows])) + d, d)
        bound = checker._multiplier_bound(run, ds, one, pen_rows, penalty, np.inf, radius)
        intercepts = s2[-1] - s2[-1, -1] if multi else s2[-1]
        assert np.all(np.abs(intercepts) <= bound[0]), (intercepts, bound)


@pytest.mark.parametrize("k", [2, 3])
def test_an_l1_fit_on_features_near_1e5_closes_inside_its_segment(k):
    """L1 (lam = 1) on features of spreads 1e-2 to 1e5, centred three spreads off zero (n =
    2000): the exact fit's Newton point ``mu~`` lies a rounding past an L1 box, so the lower
    bound is taken inside the segment, at ``Y + t (mu~ - Y)``, t = 1 - 1e-9 or so. The L1
    bound on the intercept's multiplier there is ``x_max D / lam``, 1e8, and times the pass's
    summation bound of the intercept's residual it was 0.03 nats, NOT OK for an exact fit.
    Summed accurately at that point as at ``mu~``: ok, and the bracket, less its round-off,
    holds the optimum, the objective at a tighter solve's theta from the definitions."""
    rng = np.random.default_rng(0)
    n, scales = 2000, np.repeat([1e-2, 1.0, 1e3, 1e5], 3)
    Z = rng.standard_normal((n, scales.size))
    X = Z * scales + rng.standard_normal(scales.size) * scales * 3
    w = rng.standard_normal((scales.size, k)) * (rng.random((scales.size, k)) < 0.4)
    y = np.argmax(Z @ w + rng.gumbel(size=(n, k)), axis=1)
    ds = Dataset.from_arrays(X, y, family="bernoulli" if k == 2 else "categorical")
    penalty = make_penalty(l1=1.0)
    theta = np.asarray(solve_dual(ds, penalty=penalty, tol=1e-12).theta, dtype=float)
    star = np.asarray(solve_dual(ds, penalty=penalty, tol=1e-14).theta, dtype=float)
    cert = checker.certify(ds, theta, penalty=penalty)
    assert 0.0 < cert.projected.segment < 1.0  # (the path under test)
    assert cert.ok, cert.messages
    pen_rows = np.ones(ds.m, dtype=bool)
    pen_rows[-1] = False  # the intercept, the last row (data.py)
    optimum = -_definitions.loglik(ds, star) + penalty.lam * float(
        np.abs(star.reshape(ds.m, -1)[pen_rows]).sum())
    # (the tight solve's objective is within its own rounding, a few u of its terms, of OPT)
    assert cert.lower_bound - cert.roundoff <= optimum * (1 + 1e-12)
    assert optimum <= cert.upper_bound + cert.roundoff + 1e-12 * abs(optimum)
