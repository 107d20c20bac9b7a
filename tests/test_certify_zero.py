"""The checker's point itself, no Newton step (:func:`dualmaxent.certify._zero_step`, issue 19).

Statements tested here, each recomputed from the definitions:

* at the solver's theta (unpenalised: the Bernoulli family, two, three and ten classes; L2:
  three classes) the zero step is taken, with one pass 1 and one pass that forms no product
  with ``X``: the point of the lower bound is ``mu(theta)`` written out here, the upper bound
  is ``-l(theta)`` (plus the penalty) written out here, and the certificate is ok;
* without a penalty, for a theta moved off the optimum (a relative gradient near 1e-5, the
  certificate asked at a loose tolerance so that the zero step is still taken): the proved
  lower bound (the bound less its budget, ``roundoff``) is below the entropy of the exactly balanced point the docstring's argument builds,
  ``mu' = mu + J a`` with ``C_SS a = -r_S``, built here in float64 from the definitions and
  checked to meet the balance equations and to stay in the domain; and it is below ``H(mu) -
  |<theta, r>| - 2 r_S^T C_SS^-1 r_S``: the second-order term is charged, and covers twice the
  exact one;
* with an L2 penalty the lower bound is ``H(mu)`` less the charge of the penalised rows'
  slack, both written out here;
* at a theta whose bracket the zero step cannot close (moved by 1e-4, the default tolerance)
  the certificate is the Newton step's bit for bit (the zero step turned off), from a single
  pass 1;
* a point whose first-order charge lies between :data:`~dualmaxent.certify.CG_RESIDUAL` and
  :data:`~dualmaxent.certify.ZERO_STEP_SHARE` of the tolerance (a tight optimum moved along a
  fixed direction, the move scaled to the window's middle) keeps the zero step's bracket,
  which holds the optimum ``-l`` at the tight theta written out here and charges that
  first-order term (recomputed from its definition) in its budget; with the step's own share
  the same point takes the step;
* a two-class fit certified at a loose tolerance (:func:`dualmaxent.verify`, 1e-4) is solved
  to :data:`~dualmaxent.certify.ZERO_STEP_SHARE` of it (its relative gradient recomputed here
  from the definition), and its certificate is its point's own bracket, which holds ``-l`` at
  a tight solve; several classes, and a certificate asked tighter than the solve, are solved
  to the tolerance asked;
* below :data:`~dualmaxent.certify.ZERO_MIN_TERMS` the step is taken without the attempt;
* with an L2 penalty, at a theta whose intercept's residual the loose multiplier bound (through
  the whole objective) cannot afford, the zero step reads the smaller bound the point's own
  bracket proves and is taken (declined with that refinement off), and the bracket stays
  sound: the proved lower bound below a tight solve's optimum, at most the point's entropy less
  the slack's charge written out here;
* the point's sums come from pass 1 itself, no pass 2 (Fenchel's equality,
  :func:`~dualmaxent.certify._point_of_pass_one`; the Bernoulli family, three and ten
  classes): its entropy is the entropy of ``mu(theta)`` written out here with logarithms,
  within the budget, and with an L2 penalty the bracket is the one pass 2's sums give (the
  same products with ``|X|`` bit for bit, the lower bound within the rounding);
* that pass keeps no (n, q) table beyond the means it hands to the bracket (its (n, 2 q) table
  of the gradient's budget and a whole copy of ``Y`` are a block's own): the memory it
  allocates peaks below those means (and a Bernoulli fit's variances) plus three blocks.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from dualmaxent import solve_dual
from dualmaxent.params import make_penalty

from _definitions import entropy, full_curvature, labels, loglik, probabilities
from _factories import drawn_kind
from _rounding import gamma as _gamma

checker = importlib.import_module("dualmaxent.certify")


def _problem(kind, n=2000, m_feat=5, seed=0):
    """A data set (``kind``: "bernoulli", or the number of classes) and its solver's theta,
    shape (m, k), or (m, 1) for the Bernoulli family."""
    ds = drawn_kind(kind, n, m_feat, seed)
    theta = np.asarray(solve_dual(ds).theta, dtype=float)
    return ds, theta.reshape(ds.m, -1)


def _spy(monkeypatch):
    """Counts of pass 1's blocks, of the products ``X theta`` and ``X A``, and the zero step's
    outcomes; the zero step tried at any size (these problems are below
    :data:`~dualmaxent.certify.ZERO_MIN_TERMS` and its Bernoulli counterpart)."""
    monkeypatch.setattr(checker, "ZERO_MIN_TERMS", 0)
    monkeypatch.setattr(checker, "ZERO_MIN_TERMS_BERNOULLI", 0)
    seen = {"one": 0, "product": 0, "newton_point": 0, "zero": []}
    for name in ("_pass_one", "_product", "_newton_point", "_zero_step"):
        original = getattr(checker, name)

        def wrapped(*args, _original=original, _name=name, **kw):
            out = _original(*args, **kw)
            if _name == "_zero_step":
                seen["zero"].append(out is not None)
            else:
                seen["one" if _name == "_pass_one" else _name.strip("_")] += 1
            return out

        monkeypatch.setattr(checker, name, wrapped)
    return seen


def _balanced_point(ds, theta):
    """``(mu', P, r, C_SS, a)``: the docstring's ``mu' = P + J a`` with ``C_SS a = -r_S`` on
    the free entries (every row of theta, the classes but the last), all from the
    definitions in float64."""
    P = probabilities(ds, theta)
    k = P.shape[1]
    q = k - 1
    W = ds.weights
    r = ds.X.T @ (W[:, None] * (P - labels(ds)))  # (m, k)
    r_S = r[:, :q].T.ravel()  # class-major
    C = full_curvature(ds, theta, np.arange(q * ds.m))
    a = np.linalg.solve(C, -r_S)
    A = np.zeros((ds.m, k))
    A[:, :q] = a.reshape(q, ds.m).T
    U = ds.X @ A
    mu = P + P * (U - (P * U).sum(axis=1)[:, None])
    return mu, P, r, C, a


@pytest.mark.parametrize("kind", ["bernoulli", 2, 3, 10])
def test_the_zero_step_at_the_solvers_theta(monkeypatch, kind):
    ds, theta = _problem(kind)
    seen = _spy(monkeypatch)
    cert = checker.certify(ds, theta if ds.family.multiclass else theta[:, 0])
    assert seen["zero"] == [True], "the zero step was taken"
    assert seen["newton_point"] == 0 and seen["product"] == seen["one"], (
        "one pass 1, and no product with X after it")
    br = cert.projected
    assert not br.stepped
    P = probabilities(ds, theta)
    mu = np.asarray(br.mu, dtype=float).reshape(ds.n, -1)
    # the point is mu(theta): within a few roundings of the softmax written out here
    assert np.abs(mu - P[:, :mu.shape[1]]).max() <= 64 * 2.0 ** -53 * (
        1.0 + np.abs(ds.X).sum(axis=1).max() * np.abs(theta).max())
    # the upper bound is -l(theta): the two sums each within gamma(n k + m) of the magnitudes
    l = loglik(ds, theta)
    magnitude = float(ds.weights @ (np.abs(ds.X @ theta).sum(axis=1) * 2 + 1.0)) * ds.k
    assert abs(br.upper_bound + l) <= 2 * _gamma(ds.n * ds.k + ds.m + 8) * magnitude
    assert cert.ok and cert.attained and br.proves_attained
    # the lower bound is at most the point's entropy (charges are nonnegative), recomputed
    H, mag = entropy(ds, P)
    assert br.lower_bound <= H + 2 * _gamma(ds.n * ds.k + 8) * mag


@pytest.mark.parametrize("kind", ["bernoulli", 2, 3])
def test_the_zero_steps_lower_bound_is_below_a_balanced_points_entropy(monkeypatch, kind):
    ds, theta = _problem(kind)
    # moved off the optimum along a direction of the free classes, to a relative gradient
    # near 1e-5, where the second-order term is far above the rounding
    rng = np.random.default_rng(3)
    step = rng.standard_normal(theta.shape)
    if ds.family.multiclass:
        step[:, -1] = 0.0
    moved = theta + 1e-4 * step / np.abs(step).max()
    # lambda of the full curvature (as where no row sample can be taken): a sample's, a small
    # part of it, is too small for a residual this large
    monkeypatch.setattr(checker, "SINGLE_PROOF_ROWS", ds.n)
    seen = _spy(monkeypatch)
    cert = checker.certify(ds, moved if ds.family.multiclass else moved[:, 0], tol=1e-1)
    assert seen["zero"] == [True], "the zero step was taken at the loose tolerance"
    br = cert.projected
    mu_b, P, r, C, a = _balanced_point(ds, moved)
    q = P.shape[1] - 1
    # mu' meets the balance equations (to the rounding of its own float64 sums) and stays
    # well inside the domain, as the attainment proof says it does
    D = ds.weights[:, None] * (mu_b - labels(ds))
    size = np.abs(ds.X).T @ np.abs(D) + np.abs(ds.X).T @ (ds.weights[:, None] * P)
    assert np.all(np.abs(ds.X.T @ D) <= 64 * _gamma(ds.n + 8) * size)
    assert np.all(mu_b >= 0.5 * P)
    assert np.abs(r).max() / br.scale > 1e-7  # the residual is far above the rounding
    H_b, mag_b = entropy(ds, mu_b)
    H, mag = entropy(ds, P)
    rounding = 4 * _gamma(ds.n * ds.k + 8) * (mag + mag_b)
    # the proved lower bound, the bound less its budget (module docstring: OPT is within
    # max(gap, 0) + roundoff of the upper bound), is below the balanced point's entropy ...
    proved = br.lower_bound - br.roundoff
    assert proved <= H_b + rounding
    # ... and below H(mu) - |<theta, r>| - 2 r^T C^-1 r: twice the second-order term charged
    first = abs(float(np.sum(moved[:, :q] * r[:, :q])))
    second = float(a @ C @ a)
    assert second > 1e3 * rounding
    assert proved <= H - first - 2.0 * second + rounding
    # the point's charges are in the budget: the gap may be negative, by less than it
    assert br.duality_gap >= -br.roundoff and cert.ok


def test_the_zero_step_with_an_l2_penalty(monkeypatch):
    ds, _ = _problem(3)
    lam = 2.0
    pen = make_penalty(l1=lam, l1_ratio=0.0)
    theta = np.asarray(solve_dual(ds, penalty=pen).theta, dtype=float).reshape(ds.m, ds.k)
    seen = _spy(monkeypatch)
    cert = checker.certify(ds, theta, penalty=pen)
    assert seen["zero"] == [True] and seen["newton_point"] == 0
    br = cert.projected
    P = probabilities(ds, theta)
    H, mag = entropy(ds, P)
    # the penalised rows' slack s = X_R^T W (P - Y) (every row but the intercept's, the last)
    # and its charge ||s||^2 / (2 lam): the lower bound is at most H - charge
    s = (ds.X.T @ (ds.weights[:, None] * (P - labels(ds))))[:-1]
    charge = float(np.sum(s * s)) / (2.0 * lam)
    assert br.lower_bound <= H - charge + 4 * _gamma(ds.n * ds.k + 8) * (mag + charge)
    # the upper bound: -l(theta) plus the penalty lam / 2 ||theta_R||^2
    upper = -loglik(ds, theta) + 0.5 * lam * float(np.sum(theta[:-1] ** 2))
    assert br.upper_bound == pytest.approx(upper, rel=1e-12)
    assert cert.ok


@pytest.mark.parametrize("kind", ["bernoulli", 3])
def test_a_theta_the_zero_step_cannot_close_gets_the_newton_steps_bracket(monkeypatch, kind):
    ds, theta = _problem(kind)
    moved = theta + 1e-4 * np.random.default_rng(1).standard_normal(theta.shape)
    moved = moved if ds.family.multiclass else moved[:, 0]
    monkeypatch.setattr(checker, "ZERO_STEP", False)
    step = checker.certify(ds, moved)
    monkeypatch.setattr(checker, "ZERO_STEP", True)
    seen = _spy(monkeypatch)
    tried = checker.certify(ds, moved)
    assert seen["zero"] == [False], "tried, and declined"
    assert seen["newton_point"] == seen["one"], "one pass 1 and one pass 2"
    a, b = tried.projected, step.projected
    for name in ("lower_bound", "upper_bound", "duality_gap", "balance_residual", "rank",
                 "condition", "segment", "proves_attained", "dual_gradient",
                 "gradient_roundoff"):
        assert getattr(a, name) == getattr(b, name), name
    # the step's residual is bounded through its product with |X|, which the attempt's pass 2
    # forms alone and the step's beside the gradient's budget (no scratch is kept for it): the
    # same nonnegative sums of m terms, in another order, so within 2 gamma(m) of each other
    # (and the few roundings that carry them into the round-off and the step's reach)
    for name in ("roundoff", "second_step"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=4 * _gamma(ds.m + 8),
                                                 abs=0.0), name
    assert np.array_equal(np.asarray(a.mu), np.asarray(b.mu))


@pytest.mark.parametrize("kind", ["bernoulli", 3])
def test_a_point_charged_within_the_zero_steps_share_keeps_its_own_bracket(monkeypatch, kind):
    ds, _ = _problem(kind)
    tight = np.asarray(solve_dual(ds, tol=1e-13).theta, dtype=float).reshape(ds.m, -1)
    rng = np.random.default_rng(5)
    step = rng.standard_normal(tight.shape)
    if ds.family.multiclass:
        step[:, -1] = 0.0
    step /= np.abs(step).max()
    tol = checker.DEFAULT_TOL
    calls = []
    original = checker._small_residual

    def spy(one, r, b, multiplier, tol_hint, *share):
        calls.append((np.abs(r), multiplier, abs(one.loglik_full)))
        return original(one, r, b, multiplier, tol_hint, *share)

    monkeypatch.setattr(checker, "_small_residual", spy)
    seen = _spy(monkeypatch)

    def charge(delta):
        """The zero step's first-order charge at ``tight + delta step`` (its definition,
        sum of multiplier |r| over the equality rows) and ``|l|``, from its first test."""
        calls.clear()
        moved = tight + delta * step
        cert = checker.certify(ds, moved if ds.family.multiclass else moved[:, 0])
        r, multiplier, size = calls[0]
        return float(np.sum(multiplier * r)), size, cert, moved

    # the residual grows linearly with the move: scaled to the window's geometric middle,
    # sqrt(CG_RESIDUAL ZERO_STEP_SHARE) of the tolerance (a factor 3.2 from either edge)
    c0, size, _, _ = charge(1e-7)
    middle = np.sqrt(checker.CG_RESIDUAL * checker.ZERO_STEP_SHARE) * tol * size
    seen["zero"].clear()
    c, size, cert, moved = charge(1e-7 * middle / c0)
    assert checker.CG_RESIDUAL * tol * size < c <= checker.ZERO_STEP_SHARE * tol * size
    assert seen["zero"] == [True], "the zero step was taken"
    br = cert.projected
    assert not br.stepped and cert.ok
    # the bracket holds the optimum, -l at the tight solve's theta (its own rounding aside):
    # the upper bound is -l(theta) and the proved lower bound (less its budget) below
    l_star, l_moved = loglik(ds, tight), loglik(ds, moved)
    magnitude = float(ds.weights @ (np.abs(ds.X @ moved).sum(axis=1) * 2 + 1.0)) * ds.k
    rounding = 2 * _gamma(ds.n * ds.k + ds.m + 8) * magnitude
    assert abs(br.upper_bound + l_moved) <= rounding
    assert br.lower_bound - br.roundoff <= -l_star + rounding <= br.upper_bound + 2 * rounding
    # the first-order charge is in the budget, and the budget within the share (plus the
    # second-order and rounding terms, far smaller here)
    assert c <= br.roundoff <= 2 * checker.ZERO_STEP_SHARE * tol * size
    # with the step's own share the same point takes the step
    monkeypatch.setattr(checker, "ZERO_STEP_SHARE", checker.CG_RESIDUAL)
    seen["zero"].clear()
    stepped = checker.certify(ds, moved if ds.family.multiclass else moved[:, 0])
    assert seen["zero"] == [False] and stepped.projected.stepped and stepped.ok


def _asked_tolerances(monkeypatch, verifying):
    """The tolerances :func:`dualmaxent.verify.verify` asks of ``solve_dual``, call by call (a
    list, filled as it is called)."""
    asked, solve = [], verifying.solve_dual

    def spy(*args, **kw):
        asked.append(kw["tol"])
        return solve(*args, **kw)

    monkeypatch.setattr(verifying, "solve_dual", spy)
    return asked


@pytest.mark.parametrize("kind", ["bernoulli", 3])
def test_a_loosely_asked_two_class_fit_is_solved_to_the_zero_steps_share(monkeypatch, kind):
    verifying = importlib.import_module("dualmaxent.verify")
    ds, _ = _problem(kind)
    tight = np.asarray(solve_dual(ds, tol=1e-13).theta, dtype=float).reshape(ds.m, -1)
    tol = 1e-4
    asked = _asked_tolerances(monkeypatch, verifying)
    seen = _spy(monkeypatch)
    cert = verifying.verify(ds, primal="projected", dual_tol=tol)
    if ds.family.multiclass:  # Newton-CG's last iteration costs the step: as asked
        assert asked == [tol] and "tightened" not in cert.dual.message
        return
    assert asked == [checker.ZERO_STEP_SHARE * tol]
    assert f"the {tol:g} asked, tightened to" in cert.dual.message  # (said where it shows)
    # the relative gradient max |X^T W (Y - mu)| / (1 + max |X^T W Y|), from its definition
    theta = np.asarray(cert.dual.theta, dtype=float).reshape(ds.m, 1)
    Y = labels(ds)[:, :1]
    mu = probabilities(ds, theta)[:, :1]
    gradient = ds.X.T @ (ds.weights[:, None] * (Y - mu))
    scale = 1.0 + float(np.abs(ds.X.T @ (ds.weights[:, None] * Y)).max())
    # (the solver's sums and these differ by their rounding: n terms, each within a few u)
    sums = 2 * _gamma(ds.n + ds.m + 8) * float(
        (np.abs(ds.X).T @ (ds.weights[:, None] * (np.abs(Y) + np.abs(mu)))).max())
    assert float(np.abs(gradient).max()) <= checker.ZERO_STEP_SHARE * tol * scale + sums
    # so the point's own bracket is the certificate, and it holds -l at the tight solve
    assert seen["zero"] == [True] and not cert.projected.stepped and cert.ok
    br = cert.projected
    rounding = 2 * _gamma(ds.n + ds.m + 8) * float(ds.weights @ (2 * np.abs(ds.X @ tight[:, 0])
                                                                  + 1.0))
    assert br.lower_bound - br.roundoff <= -loglik(ds, tight) + rounding
    assert -loglik(ds, tight) <= br.upper_bound + rounding
    # a certificate asked tighter than the solve is the user's own test of it: as asked
    asked.clear()
    strict = verifying.verify(ds, primal="projected", dual_tol=tol, tol=1e-12)
    assert asked == [tol] and "tightened" not in strict.dual.message


def _assert_solved_within(ds, theta, rel):
    """The relative gradient ``max |X^T W (Y - P)| / (1 + max |X^T W Y|)`` of a categorical
    ``theta``, from its definition, is at most ``rel``, up to the summation bound between the
    solver's sums and these (n terms, and the probabilities' relative error of a few ``k u``)."""
    theta = np.asarray(theta, dtype=float).reshape(ds.m, ds.k)
    W = ds.weights[:, None]
    Y, P = labels(ds), probabilities(ds, theta)
    gradient = ds.X.T @ (W * (Y - P))
    scale = 1.0 + float(np.abs(ds.X.T @ (W * Y)).max())
    sums = 2 * _gamma(ds.n + ds.m + 4 * ds.k + 8) * float(
        (np.abs(ds.X).T @ (W * (np.abs(Y) + np.abs(P)))).max())
    assert float(np.abs(gradient).max()) <= rel * scale + sums


def test_a_loosely_asked_unpenalised_fit_of_several_classes_is_solved_to_a_tenth(monkeypatch):
    """:func:`dualmaxent.verify.solve_tol`: an unpenalised categorical fit of a dense design
    from ``CATEGORICAL_SOLVE_MIN_ROWS`` rows is solved to ``CATEGORICAL_SOLVE_SHARE`` of the
    certificate's tolerance, where the checker keeps the point's own bracket; with L2, on
    fewer rows, sparse, or without the penalty named, the solve is as asked."""
    import scipy.sparse as sp

    from dualmaxent import Dataset

    verifying = importlib.import_module("dualmaxent.verify")
    share, rows = verifying.CATEGORICAL_SOLVE_SHARE, verifying.CATEGORICAL_SOLVE_MIN_ROWS
    tol = 1e-4
    ds = drawn_kind(3, rows, 5, seed=3)
    none, l2 = make_penalty(), make_penalty(l2=1.0)
    assert ds.n * (ds.m * ds.k + (ds.m * (ds.k - 1)) ** 2) >= checker.ZERO_MIN_TERMS
    assert checker.zero_step_worth(ds.n, ds.m, ds.k, ds.m * (ds.k - 1), False, False)
    assert not checker.zero_step_worth(10, ds.m, ds.k, ds.m * (ds.k - 1), False, False)
    assert verifying.solve_tol(ds, tol, tol, none) == share * tol
    assert verifying.solve_tol(ds, 1e-6, tol, none) == 1e-6  # (already tighter: as asked)
    assert verifying.solve_tol(ds, tol, 1e-8, none) == tol  # (the certificate the tighter)
    assert verifying.solve_tol(ds, tol, tol, l2) == tol
    assert verifying.solve_tol(ds, tol, tol) == tol
    small = drawn_kind(3, rows // 2, 5, seed=3)  # (the checker's step there: a few products)
    assert checker._curvature_products(small.m * 2, small.m, 3) < \
        verifying.CATEGORICAL_SOLVE_MIN_PRODUCTS
    assert verifying.solve_tol(small, tol, tol, none) == tol
    X = np.asarray(ds.X)[:, :-1]
    y = np.asarray(ds.Y).argmax(axis=1)
    sparse = Dataset.from_arrays(sp.csr_array(X), y)
    assert verifying.solve_tol(sparse, tol, tol, none) == tol

    asked = _asked_tolerances(monkeypatch, verifying)
    seen = _spy(monkeypatch)
    cert = verifying.verify(ds, primal="projected", dual_tol=tol)
    assert asked == [share * tol] and f"the {tol:g} asked, tightened to" in cert.dual.message
    _assert_solved_within(ds, cert.dual.theta, share * tol)
    # so the point's own bracket is the certificate, and it holds -l at a tight solve
    assert seen["zero"] == [True] and not cert.projected.stepped and cert.ok
    tight = np.asarray(solve_dual(ds, tol=1e-13).theta, dtype=float).reshape(ds.m, ds.k)
    br = cert.projected
    rounding = 2 * _gamma(ds.n + ds.m + 4 * ds.k + 8) * float(
        ds.weights @ (2 * np.abs(ds.X @ tight).sum(axis=1) + 1.0))
    assert br.lower_bound - br.roundoff <= -loglik(ds, tight) + rounding
    assert -loglik(ds, tight) <= br.upper_bound + rounding


def test_a_small_unpenalised_fit_whose_step_is_dear_is_solved_to_a_hundredth(monkeypatch):
    """Below ``CATEGORICAL_SOLVE_MIN_ROWS`` rows, where the checker's full curvature would cost
    ``CATEGORICAL_SOLVE_MIN_PRODUCTS`` products or more (ten classes, 50 features, 1000 rows),
    the solve is asked ``CATEGORICAL_SOLVE_SMALL_SHARE`` of the tolerance, and the checker
    keeps the point's own bracket."""
    import warnings

    verifying = importlib.import_module("dualmaxent.verify")
    tol = 1e-4
    with warnings.catch_warnings():  # (ten integer labels: the count-target hint)
        warnings.simplefilter("ignore")
        ds = drawn_kind(10, 1000, 50, seed=0)
    assert ds.n < verifying.CATEGORICAL_SOLVE_MIN_ROWS
    assert checker._curvature_products(ds.m * (ds.k - 1), ds.m, ds.k) >= \
        verifying.CATEGORICAL_SOLVE_MIN_PRODUCTS
    share = verifying.CATEGORICAL_SOLVE_SMALL_SHARE
    assert verifying.solve_tol(ds, tol, tol, make_penalty()) == share * tol
    asked = _asked_tolerances(monkeypatch, verifying)
    cert = verifying.verify(ds, primal="projected", dual_tol=tol)
    assert asked == [share * tol] and cert.ok and not cert.projected.stepped
    _assert_solved_within(ds, cert.dual.theta, share * tol)


def test_a_small_problem_takes_the_step_without_trying(monkeypatch):
    ds, theta = _problem(3, n=500)
    seen = _spy(monkeypatch)
    monkeypatch.setattr(checker, "ZERO_MIN_TERMS", ds.n * (ds.m * ds.k + (ds.m * 2) ** 2) + 1)
    cert = checker.certify(ds, theta)
    assert seen["zero"] == [] and seen["newton_point"] == seen["one"] and cert.ok
    assert cert.projected.stepped


@pytest.mark.parametrize("kind,l2", [("bernoulli", None), ("bernoulli", 0.5), (3, None),
                                     (3, 0.5), (10, None)])
def test_a_points_sums_come_from_pass_one(monkeypatch, kind, l2):
    ds, theta = _problem(kind)
    pen = {} if l2 is None else {"penalty": make_penalty(l2=l2)}
    theta = np.asarray(solve_dual(ds, **pen).theta, dtype=float).reshape(ds.m, -1)
    seen = _spy(monkeypatch)
    passes = []
    original = checker._pass_two
    monkeypatch.setattr(checker, "_pass_two", lambda *a, **k: passes.append(1) or original(
        *a, **k))
    cert = checker.certify(ds, theta if ds.family.multiclass else theta[:, 0], l2=l2)
    assert seen["zero"] == [True] and passes == [], "the zero step, with no pass 2"
    br = cert.projected
    # the entropy of the point mu(theta), with logarithms, from the definitions: the checker's
    # (Fenchel's A - <mu, eta>, summed) within the sums' rounding and the Fenchel term it
    # charges (categorical: the sums over k classes and the logits' size, gamma(3 k + 16))
    P = probabilities(ds, theta)
    H, mag = entropy(ds, P)
    size = float(ds.weights @ (1.0 + np.abs(ds.X @ theta).max(axis=1)))
    room = 8 * _gamma(ds.n + 8) * (mag + ds.weights.sum()) + 8 * _gamma(3 * ds.k + 16) * size
    assert abs(br.entropy - H) <= room
    assert br.lower_bound <= H + room
    # the rows' distance from the simplex, written out: the computed point's
    mu = np.asarray(br.mu, dtype=float).reshape(ds.n, -1)
    if ds.family.multiclass:
        assert abs(br.simplex_residual - np.abs(mu.sum(axis=1) - 1.0).max()) <= 4 * _gamma(
            ds.k)
    assert cert.ok and br.min_entry >= checker.ZERO_MIN_ENTRY
    if l2 is None:
        return
    # the same zero step with pass 2's sums (the means' margin asked beyond any mean)
    monkeypatch.setattr(checker, "ZERO_MIN_ENTRY", 1.0)
    two = checker.certify(ds, theta, l2=l2).projected
    assert passes == [1] and not two.stepped
    for name in ("upper_bound", "balance_residual", "dual_gradient", "gradient_roundoff",
                 "min_entry"):
        assert getattr(br, name) == getattr(two, name), name
    assert np.isnan(br.relative_margin) and np.isnan(two.relative_margin)  # (penalised)
    assert abs(br.lower_bound - two.lower_bound) <= br.roundoff + two.roundoff
    assert 0.5 * two.roundoff <= br.roundoff <= 2.0 * two.roundoff  # (of one size)


@pytest.mark.parametrize("kind", ["bernoulli", 3])
def test_a_penalised_zero_step_reads_the_multiplier_its_own_bracket_proves(monkeypatch, kind):
    penalty = make_penalty(l2=1.0)
    ds = drawn_kind(kind, 3000, 5, seed=1)
    star = np.asarray(solve_dual(ds, penalty=penalty, tol=1e-13).theta,
                      dtype=float).reshape(ds.m, -1)
    optimum_upper = checker.certify(ds, star, penalty=penalty).upper_bound
    # the first class's intercept (the last row) moved until its residual is a fiftieth of
    # what the zero step allows (ZERO_STEP_SHARE of the tolerance, relative to the data's
    # scale): small enough for a multiplier of a few units, not for the loose bound through
    # the whole objective (hundreds: the point's slack times it misses the room by far; both
    # assertions below hold from about a 250th to a 12th)
    P = probabilities(ds, star)
    curvature = float(ds.weights @ (P[:, 0] * (1.0 - P[:, 0])))
    scale = 1.0 + float(np.abs(ds.X.T @ (ds.weights[:, None] * labels(ds))).max())
    theta = star.copy()
    theta[-1, 0] += 0.02 * checker.ZERO_STEP_SHARE * checker.DEFAULT_TOL * scale / curvature
    theta = theta if ds.family.multiclass else theta[:, 0]
    seen = _spy(monkeypatch)
    cert = checker.certify(ds, theta, penalty=penalty)
    assert seen["zero"] == [True] and seen["newton_point"] == 0, "the zero step was taken"
    monkeypatch.setattr(checker, "_refined_radius", lambda *a, **k: None)
    stepped = checker.certify(ds, theta, penalty=penalty)
    assert seen["zero"] == [True, False], "declined with the loose bound alone"
    br = cert.projected
    # sound: the proved lower bound below the optimum (the tight solve's upper bound), the
    # upper bound above it; and the lower bound at most the point's own entropy less the
    # penalised rows' slack charge, both written out here from mu(theta)
    assert br.lower_bound - br.roundoff <= optimum_upper <= br.upper_bound + br.roundoff
    Pt = probabilities(ds, theta.reshape(ds.m, -1))
    H, mag = entropy(ds, Pt)
    s = (ds.X.T @ (ds.weights[:, None] * (Pt - labels(ds))))[:-1, :ds.k if ds.family.multiclass
                                                               else 1]
    charge = float(np.sum(s * s)) / (2.0 * penalty.lam)
    assert br.lower_bound <= H - charge + 4 * _gamma(ds.n * ds.k + 8) * (mag + charge)
    assert cert.ok and stepped.ok and not br.stepped and stepped.projected.stepped


@pytest.mark.parametrize("kind", ["bernoulli", 3, 10])
def test_the_point_keeps_no_table_but_its_means(kind):
    from _memory import peak_above_start

    ds, theta = _problem(kind, n=100_000, m_feat=9)
    theta = theta if ds.family.multiclass else theta[:, 0]
    cert, peak = peak_above_start(lambda: checker.certify(ds, theta))
    assert not cert.projected.stepped, "the given point's bracket"
    q = ds.k if ds.family.multiclass else 1
    kept = 8 * ds.n * (q if ds.family.multiclass else 2)  # the means (and the variances)
    assert peak <= kept + 3 * checker.BLOCK_BYTES, (peak, kept)
