"""Separation and non-attainment: the LP's verdict, the reduced problems, the certificate.

The statements tested (see the docstring of :mod:`dualmaxent.separation`):

* the LP recognises complete, quasi-complete and no separation, for k = 2 (categorical and
  Bernoulli), k = 3 and the Poisson family, and its forced mask is exactly the set of entries that
  are zero in every feasible P;
* on separated data the reduced primal is solved to ``optimal`` and its entropy equals the
  supremum of the likelihood, ``max l_red``; the certificate says ``attained`` False and ok;
* ``l <= l_red`` everywhere, and ``l(theta + t D) -> l_red(theta)`` along the recession direction;
* the reduced dual's gradient and Hessian are those of ``l_red`` (finite differences);
* a dual solved on the full likelihood of separated data is never certified.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import _fd
from _kkt import assert_kkt
from _rounding import gamma
from dualmaxent.cli import main
from dualmaxent.data import Dataset, load_dataset
from dualmaxent.dual import DualObjective, ReducedObjective, make_objective, solve_dual
from dualmaxent.exceptions import SeparationWarning
from dualmaxent.families import get_family
from dualmaxent.primal import solve_primal
from dualmaxent.results import Status
from dualmaxent.separation import detect_separation, identifiable_basis
from dualmaxent.verify import verify

# -- small data with known separation ---------------------------------------------------------

# k = 2 on one feature (plus the intercept)
X_COMPLETE = np.array([-2.0, -1.0, 1.0, 2.0])
Y_COMPLETE = np.array([0, 0, 1, 1])
X_QUASI = np.array([-2.0, -1.0, 0.0, 0.0, 1.0, 2.0])  # the two points at 0 overlap
Y_QUASI = np.array([0, 0, 0, 1, 1, 1])
X_NONE = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])  # interleaved
Y_NONE = np.array([0, 1, 0, 1, 0, 1])

# k = 3: class 0 lies left of classes 1 and 2, which interleave
X3_QUASI = np.array([-3.0, -2.0, 1.0, 2.0, 3.0, 4.0])
Y3_QUASI = np.array([0, 0, 1, 2, 1, 2])
X3_COMPLETE = np.array([-2.0, -1.0, 1.0, 2.0, 5.0, 6.0])
Y3_COMPLETE = np.array([0, 0, 1, 1, 2, 2])
X3_NONE = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
Y3_NONE = np.array([0, 1, 2, 1, 2, 0, 2, 0, 1])


def _poisson(kind):
    """Counts with a group indicator: a zero in group 1 can be forced by ``d = -e_group``."""
    group = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    x = np.array([0.5, -1.0, 0.3, 1.0, 2.0, -0.5, 1.5])
    y = {
        # both zeros of group 1 are forced; the zero of group 0 is not (its x is between
        # positive counts, and every direction must vanish on those)
        "quasi-complete": [0, 0, 0, 3, 1, 2, 4],
        "complete": [0, 0, 2, 3, 1, 2, 4],
        "none": [0, 2, 0, 3, 1, 2, 4],
    }[kind]
    return Dataset.from_arrays(np.column_stack([group, x]), np.array(y, dtype=float),
                               family="poisson")


@pytest.mark.parametrize("family", ["categorical", "bernoulli"])
@pytest.mark.parametrize("x, y, kind", [
    (X_COMPLETE, Y_COMPLETE, "complete"),
    (X_QUASI, Y_QUASI, "quasi-complete"),
    (X_NONE, Y_NONE, "none"),
])
def test_kind_k2(family, x, y, kind):
    sep = detect_separation(Dataset.from_arrays(x[:, None], y, family=family))
    assert sep.kind == kind
    assert sep.separated == (kind != "none")
    if kind != "none":
        # the direction recedes: eta_{y_j} - eta_i grows with t for every pair, strictly on
        # the forced observations
        d = sep.direction
        X = np.column_stack([x, np.ones_like(x)])
        s = X @ (d if d.ndim == 1 else d[:, 1] - d[:, 0]) * np.where(y == 1, 1.0, -1.0)
        assert np.all(s >= -1e-9)
        assert np.all(s[sep.forced_observations] > 1e-9)


@pytest.mark.parametrize("x, y, kind", [
    (X3_COMPLETE, Y3_COMPLETE, "complete"),
    (X3_QUASI, Y3_QUASI, "quasi-complete"),
    (X3_NONE, Y3_NONE, "none"),
])
def test_kind_k3(x, y, kind):
    assert detect_separation(Dataset.from_arrays(x[:, None], y)).kind == kind


@pytest.mark.parametrize("kind", ["complete", "quasi-complete", "none"])
def test_kind_poisson(kind):
    sep = detect_separation(_poisson(kind))
    assert sep.kind == kind
    expected = {"complete": [1, 1, 0, 0, 0, 0, 0], "quasi-complete": [1, 1, 0, 0, 0, 0, 0],
                "none": [0] * 7}[kind]
    np.testing.assert_array_equal(sep.forced, np.array(expected, dtype=bool))


def test_forced_mask_exact():
    """Hand-built k = 3: class 0's rows are pinned to class 0, the others exclude class 0."""
    ds = Dataset.from_arrays(X3_QUASI[:, None], Y3_QUASI)
    sep = detect_separation(ds)
    expected = np.array([[0, 1, 1], [0, 1, 1], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]],
                        dtype=bool)
    np.testing.assert_array_equal(sep.forced, expected)
    np.testing.assert_array_equal(sep.forced_rows_full(ds), [1, 1, 0, 0, 0, 0])
    # forced entries are zero in every feasible P; the free ones are positive in P* (the
    # maximal-support property that gives Slater's condition for the reduced primal)
    p = solve_primal(ds, forced=sep.forced)
    assert p.status == "optimal"
    assert np.all(p.mu[expected] == 0.0)
    assert np.all(p.mu[~expected] > 1e-6)
    assert "2 observations of class 0 are predicted with probability 1" in sep.describe(ds)


# -- the certificate on separated data ---------------------------------------------------------

def test_iris_certifies_supremum():
    ds = load_dataset("iris")
    cert = verify(ds)
    assert cert.separation.kind == "quasi-complete"
    assert cert.attained is False
    # the reduced problem's figures, recomputed (theta_agreement on the identifiable part)
    assert_kkt(ds, cert)
    assert cert.ok, cert.verdict
    assert cert.primal.status == "optimal"
    # the reduced likelihood's maximum is the supremum of l; the full Newton dual stays below
    sup = cert.separation_check.sup_loglik
    assert abs(cert.entropy + sup) <= 1e-8 * abs(sup)
    full = solve_dual(ds)
    assert full.canonical_loglik < sup
    assert cert.separation_check.forced_entries == 200
    check = cert.separation_check
    assert check.direction_violation <= 1e-9 < check.direction_margin


def test_wrong_direction_is_refused(monkeypatch):
    """The certificate checks the LP's direction independently of the LP."""
    from dataclasses import replace

    ds = Dataset.from_arrays(X3_QUASI[:, None], Y3_QUASI)
    sep = detect_separation(ds)
    assert sep.check_direction(ds)[0] <= 1e-9
    bad = replace(sep, direction=-sep.direction)  # recedes the wrong way
    violation, margin = bad.check_direction(ds)
    assert violation > 0.1 and margin < 0
    # solve_dual and the checker run the LP when their points cannot prove attainment
    monkeypatch.setattr("dualmaxent.separation.detect_separation", lambda dataset: bad)
    cert = verify(ds)
    assert not cert.ok
    assert any("direction does not check" in msg for msg in cert.messages)


@pytest.mark.parametrize("gauge", ["pivot", "full"])
@pytest.mark.parametrize("family", ["categorical", "bernoulli"])
def test_quasi_k2_certifies(family, gauge):
    ds = Dataset.from_arrays(X_QUASI[:, None], Y_QUASI, family=family)
    cert = verify(ds, gauge=gauge)
    assert_kkt(ds, cert)
    assert cert.ok and not cert.attained, cert.verdict
    # the free rows are the two overlapping points at x = 0: P* = 1/2 there, H = 2 log 2
    assert cert.entropy == pytest.approx(2 * np.log(2), rel=1e-9)
    assert cert.separation_check.sup_loglik == pytest.approx(-2 * np.log(2), rel=1e-9)


def test_large_problem_formulation(monkeypatch):
    """The auxiliary-variable balance constraint (used for large reduced primals) certifies too."""
    import dualmaxent.primal as primal

    ds = load_dataset("iris")
    forced = detect_separation(ds).forced

    def variables():
        problem, _, _ = primal.build_primal(ds, forced=forced)
        return {v.name(): v.shape for v in problem.variables()}

    assert "balance" not in variables()  # iris is small: the dense balance matrix by default
    monkeypatch.setattr(primal, "_DENSE_BALANCE_MAX", 0)
    built = variables()
    # u = vec(X^T W mu) over the pivot gauge's k - 1 class blocks
    assert built.get("balance") == ((ds.k - 1) * ds.m,), built
    cert = verify(ds)
    assert_kkt(ds, cert)
    assert cert.ok and not cert.attained, cert.verdict


def test_k3_and_poisson_certify():
    for ds in (Dataset.from_arrays(X3_QUASI[:, None], Y3_QUASI), _poisson("quasi-complete")):
        cert = verify(ds)
        assert_kkt(ds, cert)
        assert cert.ok and not cert.attained, cert.verdict


@pytest.mark.parametrize("family", ["categorical", "bernoulli"])
def test_complete_separation_zero_entropy(family):
    """Completely separated: every entry is forced, H(P*) = 0 = sup l, nothing to solve."""
    from sklearn.datasets import load_wine

    wine = load_wine()
    X, y = wine.data, wine.target
    if family == "bernoulli":
        y = (y == 2).astype(int)
    ds = Dataset.from_arrays(X, y, family=family)
    cert = verify(ds)
    assert cert.separation.kind == "complete"
    assert_kkt(ds, cert)
    assert cert.ok and not cert.attained, cert.verdict
    assert cert.entropy == 0.0
    assert cert.separation_check.sup_loglik == 0.0
    assert cert.separation_check.reduced_parameters == 0
    # the full likelihood is negative everywhere and approaches 0 along the direction
    fam = get_family(ds.family)
    d = cert.separation.direction
    l_at = [fam.canonical_loglik(ds.Y, ds.X @ (t * d), ds.weights)
            for t in (0.0, 1.0, 10.0, 1e3)]
    assert l_at == sorted(l_at)
    assert l_at[0] < -1.0 and -1e-8 < l_at[-1] <= 0.0


def test_breast_cancer_complete():
    from sklearn.datasets import load_breast_cancer

    bc = load_breast_cancer()
    ds = Dataset.from_arrays(bc.data, bc.target, family="bernoulli")
    cert = verify(ds)
    assert cert.separation.kind == "complete"
    assert_kkt(ds, cert)
    assert cert.ok and cert.entropy == 0.0 and not cert.attained


def test_sup_is_limit_along_direction():
    """l <= l_red, and l(theta + t D) rises to l_red(theta) as t grows (iris)."""
    ds = load_dataset("iris")
    sep = detect_separation(ds)
    obj = make_objective(ds, forced=sep)
    assert isinstance(obj, ReducedObjective)
    fam = get_family(ds.family)
    rng = np.random.default_rng(0)
    for _ in range(3):
        theta = rng.normal(size=(ds.m, ds.k))
        l_red = obj.value(obj.beta(theta))
        # the definition, at theta itself: beta() projects theta along the recession
        # directions, which l_red ignores
        eta = ds.X @ theta
        own = (ds.Y * eta).sum(axis=1)
        lse = np.log(np.where(sep.forced, 0.0, np.exp(eta)).sum(axis=1))
        assert l_red == pytest.approx(float(np.sum(own - lse)), rel=1e-12)
        ts = (0.0, 10.0, 100.0, 1000.0)
        values = [fam.canonical_loglik(ds.Y, ds.X @ (theta + t * sep.direction), ds.weights)
                  for t in ts]
        assert all(v <= l_red + 1e-9 for v in values)
        # nondecreasing: for an exact recession direction exactly; the computed one holds the
        # pairs it does not force at slack 0 to its rounding, each row's term moving by at
        # most t times its largest such slack, and each value summed with its own rounding
        eta_d = ds.X @ sep.direction
        s = (ds.Y * eta_d).sum(axis=1)[:, None] - eta_d
        drift = float(ds.weights @ np.where(sep.forced | (ds.Y == 1), 0.0, np.abs(s)).max(axis=1))
        for (t0, v0), (t1, v1) in zip(zip(ts, values), zip(ts[1:], values[1:])):
            eta = ds.X @ (theta + t1 * sep.direction)
            size = float(ds.weights @ (np.abs(eta).max(axis=1) + np.log(ds.k)))
            assert v1 >= v0 - (t1 - t0) * drift - 2 * gamma(ds.n + ds.k + 4) * 2 * size
        assert values[-1] == pytest.approx(l_red, abs=1e-6)


def _fd_check(obj, beta, h=1e-5):
    value, grad = obj.smooth_value_grad(beta)
    H = obj.hessian(beta)
    fd_g = _fd.gradient(obj.value, beta, h)
    fd_H = _fd.hessian(lambda b: obj.smooth_value_grad(b)[1], beta, h)
    assert value == pytest.approx(obj.value(beta))
    np.testing.assert_allclose(grad, fd_g, rtol=1e-6, atol=1e-6 * (1 + np.abs(grad).max()))
    np.testing.assert_allclose(H, fd_H, rtol=1e-5, atol=1e-6 * (1 + np.abs(H).max()))
    # strictly concave on the identifiable parameters
    assert np.linalg.eigvalsh(H).max() < 0


@pytest.mark.parametrize("case", ["iris", "k3", "bernoulli", "poisson"])
def test_reduced_gradient_hessian_fd(case):
    ds = {"iris": lambda: load_dataset("iris"),
          "k3": lambda: Dataset.from_arrays(X3_QUASI[:, None], Y3_QUASI),
          "bernoulli": lambda: Dataset.from_arrays(X_QUASI[:, None], Y_QUASI,
                                                   family="bernoulli"),
          "poisson": lambda: _poisson("quasi-complete")}[case]()
    sep = detect_separation(ds)
    obj = make_objective(ds, forced=sep.forced)
    rng = np.random.default_rng(1)
    beta = 0.3 * rng.normal(size=obj.n_params)
    _fd_check(obj, beta)
    # the gradient in theta is X^T W (Y - mu_red) and lies in the span of the basis
    theta = obj.theta(beta)
    G = obj.full_gradient(theta)
    packed = G[:, :-1].T.ravel() if G.shape[1] > 1 and ds.family.name == "categorical" else G.ravel()
    Q = identifiable_basis(ds, sep.forced)
    np.testing.assert_allclose(Q @ (Q.T @ packed), packed, atol=1e-9 * (1 + np.abs(G).max()))


def test_full_dual_on_separated_data_is_judged_by_its_own_bracket():
    """Newton on the full likelihood: theta runs off, and is certified only as far as its own
    objective is proved close to the supremum."""
    ds = Dataset.from_arrays(X_QUASI[:, None], Y_QUASI)
    with pytest.warns(SeparationWarning, match="quasi-completely separated"):
        rough = solve_dual(ds, method="newton", tol=1e-6)
    with pytest.warns(SeparationWarning):
        full = solve_dual(ds, method="newton")
    # the smaller the gradient asked for, the farther theta goes; its gradient does vanish,
    # and l(theta) comes within 1e-9 of the supremum 2 log 2, but solve_dual proves (by the
    # LP, the projected point having touched zero) that no maximiser exists, and says so
    assert np.abs(full.theta).max() > np.abs(rough.theta).max() + 2.0 > 12.0
    assert full.canonical_loglik == pytest.approx(-2 * np.log(2), abs=1e-8)
    assert full.kkt_residual <= 1e-10
    assert not full.converged and full.status == "not_attained" and full.attained is False
    assert full.status is Status.NOT_ATTAINED and "not attained" in full.message
    assert detect_separation(ds).separated
    # the certificate judges each theta by its own objective: the full likelihood at the
    # theta it certifies (walked further along the LP's direction), bracketing the supremum
    for res in (rough, full):
        cert = verify(ds, dual=res)
        assert cert.attained is False
        assert any("solved on the full likelihood" in msg for msg in cert.notes)
        assert cert.lower_bound - cert.roundoff <= 2 * np.log(2) <= cert.upper_bound + cert.roundoff
        assert cert.ok == (cert.relative_gap <= cert.tol)
    # iris: the full Newton dual's gradient vanishes at infinity, and it is not called converged
    iris = load_dataset("iris")
    with pytest.warns(SeparationWarning):
        full_iris = solve_dual(iris)
    assert not full_iris.converged and full_iris.attained is False
    cert = verify(iris, dual=full_iris)
    assert not cert.attained and cert.ok == (cert.relative_gap <= cert.tol)


def test_not_separated_unchanged():
    ds = Dataset.from_arrays(X_NONE[:, None], Y_NONE)
    cert = verify(ds)
    assert_kkt(ds, cert)
    assert cert.attained and cert.ok
    assert "sup_loglik" not in cert.extra
    assert type(make_objective(ds, forced=np.zeros(ds.Y.shape, dtype=bool))) is DualObjective


def test_cli_iris(capsys):
    assert main(["verify", "iris"]) == 0
    out = capsys.readouterr().out
    assert ("the data are quasi-completely separated: 50 observations of class setosa are "
            "predicted with probability 1") in out
    assert "the max-entropy optimum exists and matches the likelihood's supremum to" in out
    assert main(["verify", "iris", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["certificate"]["attained"] is False and doc["certificate"]["ok"] is True
    assert doc["certificate"]["relative_gap"] <= 1e-8
    assert doc["separation"]["kind"] == "quasi-complete"


def _pair_is_forced(X, Y, j, i):
    """From the definition, by one LP over the whole ``D`` (m, k), no gauge: whether some
    recession direction (every slack ``s_ab = x_a^T (d_{y_a} - d_b) >= 0``) has ``s_ji > 0``:
    ``max s_ji`` subject to those and ``s_ji <= 1`` is 1 then, else 0."""
    import scipy.optimize

    n, m = X.shape
    k = Y.shape[1]
    rows = []
    for a in range(n):
        for b in range(k):
            if Y[a, b] == 0:
                row = np.zeros((m, k))
                row[:, Y[a].argmax()] += X[a]
                row[:, b] -= X[a]
                rows.append(row.ravel())
    target = np.zeros((m, k))
    target[:, Y[j].argmax()] += X[j]
    target[:, i] -= X[j]
    A_ub = np.vstack([-np.array(rows), target.ravel()])
    res = scipy.optimize.linprog(-target.ravel(), A_ub=A_ub,
                                 b_ub=np.append(np.zeros(len(rows)), 1.0),
                                 bounds=[(None, None)] * (m * k), method="highs")
    assert res.status == 0
    return -res.fun > 0.5


def _quasi(n, k, m, seed, weights=False):
    """Labels of ``k`` classes from a noisy linear score, then every row with the first feature
    in its top fifth relabelled class 0 and no other row class 0: quasi-completely separated
    (the pairs of those rows are forced), the rest overlapping as a rule."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m))
    y = np.argmax(X @ rng.standard_normal((m, k)) + rng.gumbel(size=(n, k)), axis=1)
    top = X[:, 0] > np.quantile(X[:, 0], 0.8)
    y[top] = 0
    y[~top & (y == 0)] = 1
    w = rng.choice([0.0, 0.5, 2.0], size=n, p=[0.1, 0.45, 0.45]) if weights else None
    return Dataset.from_arrays(X, y, weights=w)


@pytest.mark.parametrize("x, y", [(X_COMPLETE, Y_COMPLETE), (X_QUASI, Y_QUASI),
                                  (X_NONE, Y_NONE), (X3_QUASI, Y3_QUASI),
                                  (X3_COMPLETE, Y3_COMPLETE), (X3_NONE, Y3_NONE),
                                  ("random", None)])
def test_the_forced_pairs_are_those_some_recession_direction_makes_positive(x, y):
    """Each pair's verdict against its own LP from the definition (module docstring): forced
    exactly where a recession direction has a positive slack on it."""
    ds = _quasi(40, 3, 2, seed=3) if isinstance(x, str) else Dataset.from_arrays(x[:, None], y)
    sep = detect_separation(ds)
    Y = ds.family.one_hot(ds.Y)
    for j, i in zip(*np.nonzero(Y == 0)):
        assert sep.forced[j, i] == _pair_is_forced(ds.X, Y, j, i), (j, i)
    assert sep.separated == bool(sep.forced.any())


@pytest.mark.parametrize("seed", [1675, 2313, 2747, 2808, 2859])
def test_a_degenerate_round_is_decided_where_the_interior_point_method_is_not(seed):
    """Five designs of tests/_sweep.py's generator (two classes, 16 to 150 rows, features of
    small integers, tied): the rounds' second LP (value 0: nothing left to force) is degenerate,
    and HiGHS's interior point method without crossover stopped with its model's status
    unknown, so the separation was not decided. Each pair's verdict against its own LP from
    the definition."""
    from _sweep import problem

    X, y, _ = problem(np.random.default_rng(seed))
    ds = Dataset.from_arrays(X, y)
    sep = detect_separation(ds)
    Y = ds.family.one_hot(ds.Y)
    for j, i in zip(*np.nonzero(Y == 0)):
        assert sep.forced[j, i] == _pair_is_forced(ds.X, Y, j, i), (j, i)
    assert sep.separated == bool(sep.forced.any())


@pytest.mark.parametrize("case", [(400, 3, 6, 0, False), (400, 5, 4, 1, True),
                                  (300, 3, 3, 2, False), (500, 4, 8, 4, True), "bernoulli",
                                  "poisson", "overlapping", "complete"])
def test_the_rounds_find_the_support_konis_lp_finds(monkeypatch, case):
    """The rounds of small LPs, each solved by adding rows (``separation._largest_support``),
    force the very pairs Konis's one LP does, with a direction whose slacks, recomputed from the
    definition, are nonnegative and positive on every forced pair. The designs have 4 to 8
    times more pairs than the first LP's sample of rows."""
    import dualmaxent.separation as separation

    if case == "poisson":
        ds = _poisson("quasi-complete")
    elif case == "bernoulli":  # 1 right of x_0 = 0, 0 left of it, both on it
        rng = np.random.default_rng(8)
        X = rng.standard_normal((300, 3))
        y = (X[:, 0] > 0).astype(float)
        on = np.abs(X[:, 0]) < 0.5
        X[on, 0] = 0.0
        y[on] = rng.integers(0, 2, on.sum())
        ds = Dataset.from_arrays(X, y, family="bernoulli")
    elif case == "overlapping":
        rng = np.random.default_rng(5)
        X = rng.standard_normal((400, 4))
        ds = Dataset.from_arrays(X, np.argmax(X @ rng.standard_normal((4, 3))
                                              + 3 * rng.gumbel(size=(400, 3)), axis=1))
    elif case == "complete":
        rng = np.random.default_rng(6)
        X = rng.standard_normal((300, 3))
        ds = Dataset.from_arrays(X, np.argmax(X @ rng.standard_normal((3, 4)), axis=1))
    else:
        ds = _quasi(*case[:4], weights=case[4])
    ours = detect_separation(ds)
    monkeypatch.setattr(separation, "_largest_support", separation._konis)
    konis = detect_separation(ds)
    assert ours.kind == konis.kind == {"overlapping": "none", "complete": "complete"}.get(
        case if isinstance(case, str) else "", ours.kind)
    np.testing.assert_array_equal(ours.forced, konis.forced)
    if ours.separated:
        violation, margin = ours.check_direction(ds)
        assert violation <= separation.LP_FEASIBILITY and margin > 0
    if isinstance(case, tuple) or case == "bernoulli":
        assert ours.kind == "quasi-complete"


def test_a_pair_taken_in_error_leaves_the_decision_to_konis_lp(monkeypatch):
    """Where neither the rounds' answers projected nor the last LP finds a direction positive on
    every pair the rounds took, Konis's LP decides, and its verdict is the one returned."""
    import dualmaxent.separation as separation

    ds = _quasi(200, 3, 3, seed=7)
    expected = detect_separation(ds)
    calls = []
    by_rows, konis = separation._by_rows, separation._konis
    monkeypatch.setattr(separation, "_projected", lambda *args: None)
    monkeypatch.setattr(separation, "_by_rows", lambda S, lower, objective=None, **how: (
        None if objective is None else by_rows(S, lower, objective, **how)))
    monkeypatch.setattr(separation, "_konis", lambda S, pairs: calls.append(1) or konis(S, pairs))
    sep = detect_separation(ds)
    assert calls == [1] and expected.kind == "quasi-complete"
    np.testing.assert_array_equal(sep.forced, expected.forced)


def test_complete_separation_is_proved_by_the_rounds_answers_without_the_last_lp(monkeypatch):
    """Where every pair is forced, the rounds' answers summed are a direction with every slack
    positive: no last LP (on digits it took dozens of dual simplex solves of seconds each). Its
    slacks recomputed from the definition, and each pair's verdict against its own LP."""
    import dualmaxent.separation as separation

    rng = np.random.default_rng(11)
    X = rng.standard_normal((30, 2))
    ds = Dataset.from_arrays(X, np.argmax(X @ rng.standard_normal((2, 3)), axis=1))
    by_rows, last = separation._by_rows, []
    monkeypatch.setattr(separation, "_by_rows", lambda S, lower, objective=None, **how: (
        last.append(1) if objective is None else None) or by_rows(S, lower, objective, **how))
    sep = detect_separation(ds)
    assert sep.kind == "complete" and last == []
    Y = ds.family.one_hot(ds.Y)
    for j, i in zip(*np.nonzero(Y == 0)):
        assert _pair_is_forced(ds.X, Y, j, i), (j, i)
    eta = ds.X @ sep.direction
    s = (Y * eta).sum(axis=1)[:, None] - eta
    assert s[Y == 0].min() > 0


@pytest.mark.parametrize("seed", [7, 8])
def test_quasi_complete_separation_is_proved_by_the_rounds_answers_projected(monkeypatch, seed):
    """Where some pairs are not forced, the rounds' answers summed and projected onto the null
    space of the other pairs' rows are the direction: no last LP (quasi-separated digits: 8 dual
    simplex solves, 18 s). Each pair's verdict against its own LP from the definition, and the
    answer's slacks (from the rounds' sum pushed off 0 on the pairs not forced), from rows
    written from the definition in the LPs' own coordinates: at least 1 (within HiGHS's
    tolerance) on the forced pairs, and on the others 0 within the rounding of the slack's
    product and of the projection (``gamma_(q+2) |S_j|_2 |d|_2``, ``q`` the LP's variables),
    where the sum itself is far off it."""
    import dualmaxent.separation as separation
    from dualmaxent.separation import LP_FEASIBILITY

    ds = _quasi(120, 3, 3, seed=seed)
    by_rows, seen = separation._by_rows, []
    monkeypatch.setattr(separation, "_by_rows", lambda S, lower, objective=None, **how: (
        pytest.fail("the last LP ran") if objective is None else by_rows(S, lower, objective,
                                                                        **how)))
    monkeypatch.setattr(separation, "_konis", lambda S, pairs: pytest.fail("Konis's LP ran"))
    projected = separation._projected
    monkeypatch.setattr(separation, "_projected", lambda S, d, forced, taken: seen.append(
        (S, d.copy(), forced.copy())) or projected(S, d, forced, taken))
    sep = detect_separation(ds)
    assert sep.kind == "quasi-complete" and len(seen) == 1
    Y = ds.family.one_hot(ds.Y)
    for j, i in zip(*np.nonzero(Y == 0)):
        assert sep.forced[j, i] == _pair_is_forced(ds.X, Y, j, i), (j, i)
    # the rounds' interior answers here are accurate already: the sum pushed off the rows of
    # the pairs not forced, as digits' were (their slacks up to 1e-6)
    S, summed, forced = seen[0]
    summed = summed + 1e-6 * np.linalg.norm(summed) * np.random.default_rng(seed).standard_normal(
        summed.size) / np.sqrt(summed.size)
    d = projected(S, summed, forced, np.zeros_like(forced))[0]
    m, k = S.Xs.shape[1], S.k
    rows = np.zeros((forced.size, m * k))  # the pairs' rows: x_j on its own class, -x_j on i
    for r, (j, own, i) in enumerate(zip(S.rows_j, S.own, S.cls_i)):
        rows[r, own * m:(own + 1) * m] += S.Xs[j]
        rows[r, i * m:(i + 1) * m] -= S.Xs[j]
    rows = rows[:, : (k - 1) * m]  # (the last class pinned at 0)
    q = rows.shape[1]
    assert d.shape == (q,)
    s = rows @ d
    norms = np.sqrt((rows ** 2).sum(axis=1))
    allowed = (2 * gamma(m + 2) * (np.abs(rows) @ np.abs(d))
               + gamma(q + 2) * norms * np.linalg.norm(d))
    assert s[forced].min() >= 1 - LP_FEASIBILITY
    assert np.all(np.abs(s[~forced]) <= allowed[~forced])
    raw = rows @ (summed / (rows @ summed)[forced].min())
    assert np.abs(raw[~forced]).max() > 1e3 * allowed[~forced].max()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_lp_solved_by_adding_rows_is_the_whole_lp(seed):
    """``_by_rows`` on 3000 rows and 12 variables, from a sample of 48: the value of the LP on
    every row (HiGHS at once), an answer that meets every row within HiGHS's feasibility
    tolerance, and None exactly where the rows have no common point."""
    import scipy.optimize
    import scipy.sparse as sp

    from dualmaxent.separation import LP_FEASIBILITY, _by_rows, _Rows

    rng = np.random.default_rng(seed)
    S = rng.standard_normal((3000, 12))
    S[:, 0] = np.abs(S[:, 0]) + 0.1  # (a direction, e_0, positive on every row: value 1)
    objective = S.sum(axis=0)
    d, value = _by_rows(_Rows(sp.csr_matrix(S)), np.zeros(3000), objective)
    whole = scipy.optimize.linprog(-objective, A_ub=np.vstack([-S, objective]),
                                   b_ub=np.append(np.zeros(3000), 1.0),
                                   bounds=[(None, None)] * 12, method="highs")
    assert whole.status == 0
    assert value == pytest.approx(-whole.fun, abs=1e-9) and value == pytest.approx(1.0)
    assert np.all(S @ d >= -LP_FEASIBILITY * (1 + np.abs(S).sum(axis=1) * np.abs(d).max()))
    # started from other rows (the last LP's, as the rounds' next LP is): the same value, an
    # answer that meets every row, and the start kept
    start = np.zeros(3000, dtype=bool)
    start[rng.choice(3000, size=30, replace=False)] = True
    taken = start.copy()
    d2, value2 = _by_rows(_Rows(S), np.zeros(3000), objective, taken=taken)
    assert value2 == pytest.approx(-whole.fun, abs=1e-9) and np.all(taken[start])
    assert np.all(S @ d2 >= -LP_FEASIBILITY * (1 + np.abs(S).sum(axis=1) * np.abs(d2).max()))
    lower = np.zeros(3000)
    lower[:1500] = 1.0
    found = _by_rows(_Rows(S), lower)
    assert found is not None and np.all(S[:1500] @ found[0] >= 1 - 1e-6)
    conflict = np.vstack([S, -S[:1]])  # s_0 >= 1 and -s_0 >= 1
    assert _by_rows(_Rows(conflict), np.append(lower, 1.0)) is None


def test_a_failed_separation_lp_is_a_note_of_the_certificate_and_a_one_line_error(monkeypatch):
    """HiGHS can fail on a numerically degenerate LP (nearly collinear columns: 'Status 0: Not
    Set'). The checker then leaves attainment undecided and says why in a note, its bracket
    standing as proved; solve_dual, which must decide it, raises one SeparationLPError line
    instead of a RuntimeError."""
    import scipy.optimize
    from types import SimpleNamespace

    from dualmaxent import certify
    from dualmaxent.exceptions import SeparationLPError

    ds = Dataset.from_arrays(X3_QUASI[:, None], Y3_QUASI)
    failed = SimpleNamespace(status=4, message="(HiGHS Status 4: numerical difficulties)",
                             x=None)
    monkeypatch.setattr(scipy.optimize, "linprog", lambda *a, **k: failed)
    theta = np.zeros((ds.m, ds.k)) if ds.family.multiclass else np.zeros(ds.m)
    cert = certify(ds, theta)
    assert not cert.attained and cert.separation is None
    assert any("separation LP failed (HiGHS Status 4: numerical difficulties)" in note
               for note in cert.notes)
    with pytest.raises(SeparationLPError, match=r"^the separation LP failed \(HiGHS Status 4"):
        solve_dual(ds)


# -- complete separation proved by a direction: no LP -------------------------------------------

def _clouds(k, family="categorical", n_per=12, m=3, seed=0):
    """``k`` tight clouds, class ``c`` around ``4 e_c`` (``m >= k - 1`` features; the last class at
    the origin): completely separated, every row nearer its own centre than any other."""
    rng = np.random.default_rng(seed)
    m = max(m, k - 1)
    centres = np.zeros((k, m))
    centres[np.arange(k - 1), np.arange(k - 1)] = 4.0
    y = np.repeat(np.arange(k), n_per)
    X = centres[y] + 0.3 * rng.standard_normal((y.size, m))
    return Dataset.from_arrays(X, y, family=family)


def _slacks(ds, d):
    """``s_ji = x_j^T (d_{y_j} - d_i)`` over the pairs of rows of positive weight, from the
    definition (Bernoulli: ``d`` is ``d_1 - d_0``)."""
    eta = ds.X @ d
    if eta.ndim == 1:
        eta = np.column_stack([np.zeros_like(eta), eta])
    Y = get_family(ds.family).one_hot(ds.Y)
    S = (Y * eta).sum(axis=1)[:, None] - eta
    return S[(ds.weights > 0)[:, None] & (Y == 0)]


def _centres_direction(ds):
    """A separating theta for :func:`_clouds`: the class centres' linear discriminant,
    ``d_c = (mu_c, -|mu_c|^2 / 2)`` (features, then the intercept)."""
    X = ds.X[:, :-1]
    labels = get_family(ds.family).one_hot(ds.Y).argmax(axis=1)
    mu = np.array([X[labels == c].mean(axis=0) for c in range(labels.max() + 1)])
    D = np.vstack([mu.T, -0.5 * (mu ** 2).sum(axis=1)])
    return D[:, 1] - D[:, 0] if ds.family.name == "bernoulli" else D


@pytest.mark.parametrize("family, k", [("bernoulli", 2), ("categorical", 2),
                                       ("categorical", 3), ("categorical", 5)])
def test_a_separating_theta_proves_the_complete_separation_the_lp_finds(family, k):
    """A theta whose every slack is positive proves complete separation: the forced entries
    are the LP's, and its direction (scaled to a smallest slack of about 1) recedes."""
    from dualmaxent.separation import proved_complete

    ds = _clouds(k, family)
    lp = detect_separation(ds)
    assert lp.kind == "complete"
    proved = proved_complete(ds, _centres_direction(ds))
    assert proved is not None and proved.kind == "complete"
    np.testing.assert_array_equal(proved.forced, lp.forced)
    np.testing.assert_array_equal(proved.forced_observations, lp.forced_observations)
    s = _slacks(ds, proved.direction)
    assert s.min() > 0 and 0.5 < s.min() < 2.0
    violation, margin = proved.check_direction(ds)
    assert violation == 0.0 and margin > 0
    # detect_separation takes it and solves no LP
    assert detect_separation(ds, direction=_centres_direction(ds)).kind == "complete"


def test_a_direction_proves_nothing_where_a_slack_is_not_provably_positive():
    """No proof from theta = 0, from a direction that misorders one row, from a slack within
    its rounding bound, from a misshapen or non-finite theta, nor for the Poisson family; a row
    of weight zero neither blocks the proof nor is forced."""
    from dualmaxent.separation import proved_complete

    ds = _clouds(3)
    D = _centres_direction(ds)
    assert proved_complete(ds, np.zeros_like(D)) is None
    assert proved_complete(ds, D[:, :2]) is None
    bad = D.copy()
    bad[0, 0] = np.nan
    assert proved_complete(ds, bad) is None
    # one row moved into another class's cloud: D misorders it
    X, y = ds.X[:, :-1].copy(), ds.Y.argmax(axis=1)
    X[0] = X[-1]
    moved = Dataset.from_arrays(X, y)
    assert (_slacks(moved, D) < 0).any()
    assert proved_complete(moved, D) is None
    # that row of weight zero: proved, and its entries are not forced
    w = np.ones(y.size)
    w[0] = 0.0
    weighted = Dataset.from_arrays(X, y, weights=w)
    proved = proved_complete(weighted, D)
    assert proved is not None and not proved.forced[0].any() and proved.forced[1:].sum() == 2 * (
        y.size - 1)
    # a slack of 2 from terms of 1e16, within their rounding bound: refused, though exact here
    # (x^T d = (1e16 + 2) - 1e16 for the row of class 1: two terms, one rounding in any order)
    big = 1e16 + 2.0  # (float64's spacing at 1e16 is 2: exact)
    with pytest.warns(UserWarning, match="scales differ"):
        two = Dataset.from_arrays(np.array([[big], [-big]]), np.array([1, 0]),
                                  family="bernoulli")
    d = np.array([1.0, -1e16])
    slacks = _slacks(two, d)
    assert slacks[0] == 2.0 and slacks[1] > 1e16
    assert proved_complete(two, d) is None
    assert proved_complete(two, np.array([1.0, -1e16 + 1e3])) is not None
    assert proved_complete(_poisson("quasi-complete"), np.ones(2)) is None
    # past the first rows read (separation.PROBE_ROWS): every row is checked
    from dualmaxent.separation import PROBE_ROWS

    many = _clouds(3, n_per=PROBE_ROWS)
    assert proved_complete(many, _centres_direction(many)) is not None
    X, y = many.X[:, :-1].copy(), many.Y.argmax(axis=1)
    X[-1] = X[0]
    late = Dataset.from_arrays(X, y)
    assert proved_complete(late, _centres_direction(many)) is None


def test_completely_separated_data_are_certified_without_an_lp(monkeypatch):
    """The solver's theta on completely separated data (every row's own class ahead) proves
    the separation: neither solve_dual nor verify solves an LP, and the certificate holds by
    its own checks."""
    import scipy.optimize

    def no_lp(*args, **kwargs):
        raise AssertionError("an LP was solved")

    monkeypatch.setattr(scipy.optimize, "linprog", no_lp)
    for family, k in (("bernoulli", 2), ("categorical", 4)):
        ds = _clouds(k, family, n_per=30, m=6, seed=1)
        # solve_dual's own check of the maximiser's existence, too
        with pytest.warns(SeparationWarning, match="completely separated"):
            assert solve_dual(ds).status is Status.NOT_ATTAINED
        cert = verify(ds, primal="projected")
        assert cert.separation.kind == "complete" and not cert.attained
        assert cert.ok, cert.verdict
        assert cert.separation_check.sup_loglik == 0.0 and cert.entropy == 0.0
        assert (_slacks(ds, cert.separation.direction) > 0).all()


def _far_from_zero(n, k, m, seed):
    """Features of sizes 1e-3 to 1e4, each centred a few spreads (up to 1e4 of them) off zero,
    labels of ``k`` classes drawn from a logit of the standardised features: not separated as
    a rule at n = 300, five classes, 28 features."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, m))
    X = Z * 10.0 ** rng.uniform(-3, 4, m) + 10.0 ** rng.uniform(-3, 4, m) * rng.uniform(0, 3, m)
    eta = Z @ rng.standard_normal((m, k)) / np.sqrt(m) + rng.gumbel(size=(n, k))
    return X, eta.argmax(axis=1)


@pytest.mark.parametrize("case", ["far", "quasi", "poisson"])
def test_the_lps_answer_does_not_move_with_the_columns_origin(case):
    """Shifting the features by multiples of the intercept's column changes the design, not
    the cone of recession directions: the same kind and forced pairs, and the direction found
    on the shifted data is one of its recession directions, every slack recomputed from the
    definition nonnegative and positive on every forced pair. The LPs read the columns centred
    (``separation._lp_design``); read as given, the far-from-zero design (n = 300, five
    classes, 28 features of sizes 1e-3 to 1e4) had HiGHS's dual simplex stall past 60 s."""
    if case == "far":
        X, y = _far_from_zero(300, 5, 28, seed=9)
        plain = Dataset.from_arrays((X - X.mean(axis=0)) / X.std(axis=0), y)
        shifted = Dataset.from_arrays(X, y)
    elif case == "quasi":
        plain = Dataset.from_arrays(X3_QUASI[:, None], Y3_QUASI)
        shifted = Dataset.from_arrays(X3_QUASI[:, None] * 1e-3 + 1e4, Y3_QUASI)
    else:
        plain = _poisson("quasi-complete")
        shifted = Dataset.from_arrays(plain.X[:, :-1] + np.array([3e3, -7e4]), plain.y,
                                      family="poisson")
    a, b = detect_separation(plain), detect_separation(shifted)
    assert a.kind == b.kind
    np.testing.assert_array_equal(a.forced, b.forced)
    if case == "far":
        assert a.kind == "none"  # (the statement that was stalling)
        return
    eta = shifted.X @ b.direction
    if case == "poisson":  # s_j = -x_j^T d: zero where y > 0, nonnegative where y = 0
        scale = float((np.abs(shifted.X) @ np.abs(b.direction)).max())
        assert np.all(np.abs(eta[shifted.Y > 0]) <= 1e-9 * scale)
        assert np.all(-eta[shifted.Y == 0] >= -1e-9 * scale)
        assert np.all(-eta[b.forced] > 1e-6 * scale)
        return
    Y = shifted.family.one_hot(shifted.Y)
    S = (Y * eta).sum(axis=1)[:, None] - eta  # s_ji = x_j^T (d_{y_j} - d_i)
    top = np.abs(S).max()
    assert np.all(S[Y == 0] >= -1e-9 * top)
    assert np.all(S[b.forced] > 1e-6 * top)


@pytest.mark.parametrize("method", ["newton", "newton-cg"])
def test_a_solve_of_completely_separated_data_stops_where_its_theta_proves_it(monkeypatch,
                                                                              method):
    """Newton's loop (its line-search methods) asks, at iterations 8, 16, 32, ..., whether
    theta's slacks prove the data completely separated, and stops there, not attained: every
    slack recomputed from the definition is positive at the theta it stopped at, and the solve
    that is never asked (the first asking moved past the cap) runs on, more iterations to the
    same verdict."""
    import dualmaxent.solvers as solvers

    ds = _clouds(5, n_per=40, m=6, seed=1)
    with pytest.warns(SeparationWarning):
        early = solve_dual(ds, method=method, max_iter=500)
    assert early.status == Status.NOT_ATTAINED and early.attained is False
    assert early.iterations >= solvers.RUN_OFF_FIRST
    assert early.iterations & (early.iterations - 1) == 0  # (a power of two)
    assert np.all(_slacks(ds, early.theta) > 0)
    monkeypatch.setattr(solvers, "RUN_OFF_FIRST", 1 << 20)
    with pytest.warns(SeparationWarning):
        late = solve_dual(ds, method=method, max_iter=500)
    assert late.status == Status.NOT_ATTAINED and late.iterations > early.iterations


def test_poisson_counts_all_zero_run_off_along_the_intercept_alone():
    """Every count 0: the intercept alone is a recession direction (slack ``-x_j^T d = 1`` on
    every row, from the definition), and the fit walked along it leans on no feature, so its
    predictions are the same small mean everywhere (the LPs' answer leaned on the feature:
    coef 113.6, a prediction of 5.6e69 at x = 3, certified ok)."""
    import warnings

    from dualmaxent import GLMRegressor

    X = np.random.default_rng(0).standard_normal((20, 2))
    ds = Dataset.from_arrays(X, np.zeros(20), family="poisson")
    sep = detect_separation(ds)
    assert sep.kind == "complete" and sep.forced.all()
    assert np.all(-(ds.X @ sep.direction) > 0)
    np.testing.assert_array_equal(sep.direction[:-1], 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparationWarning)
        fit = GLMRegressor("poisson").fit(X, np.zeros(20))
    assert fit.certificate_.ok
    np.testing.assert_array_equal(fit.coef_, 0.0)
    far = fit.predict(10 * X)
    assert np.all(far == fit.predict(X[:1])) and far.max() < 1e-6
