"""L2 and L1 penalties and their primal relaxations, for every family; and the CLI.

Statements (``R`` the penalised rows of theta, every row but the intercept; ``S = X_R^T W (mu - Y)``):

* L2: dual ``max l - lam/2 ||theta_R||^2`` <=> primal ``max H - ||S||^2 / (2 lam)`` with
  ``theta_R = -S / lam``; scikit-learn's ``LogisticRegression`` minimises
  ``1/2 ||w||^2 + C sum_j loss_j`` (intercept unpenalised), i.e. our problem divided by ``lam``
  with ``C = 1 / lam``.
* L1: dual ``max l - lam ||theta_R||_1`` <=> primal ``max H`` subject to ``|S| <= lam``; the
  boxes that are active are exactly the non-zero coefficients, and ``theta_R = v - u`` from the
  duals ``u`` of ``S <= lam`` and ``v`` of ``S >= -lam`` (so ``theta < 0`` where ``S = +lam``).
* The intercept is never penalised: its balance equation stays exact.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import _definitions
from _definitions import entropy, loglik
from _factories import FAMILIES, L1_LAMBDA, L2_LAMBDA, make_arrays, make_dataset
from _kkt import assert_kkt
from dualmaxent import Dataset, MaxEntClassifier, load_dataset, solve_dual, solve_primal, verify
from dualmaxent.cli import main as cli_main
from dualmaxent.estimators import CertificateWarning
from dualmaxent.families import get_family
from dualmaxent.params import make_penalty
from dualmaxent.certify import certify
from dualmaxent.primal import build_primal


def _lam(kind, family):
    return (L2_LAMBDA if kind == "l2" else L1_LAMBDA)[family]


def _slack(ds, mu):
    """``X^T W (mu - Y)`` of shape (m, k) or (m, 1)."""
    return ds.X.T @ ((mu - ds.Y).reshape(ds.n, -1) * ds.weights[:, None])


@pytest.mark.parametrize("kind", ["l2", "l1"])
@pytest.mark.parametrize("family", FAMILIES)
def test_penalised_certificate_ok(family, kind):
    ds = make_dataset(family)
    lam = _lam(kind, family)
    cert = verify(ds, **{kind: lam})
    # the figures recomputed from their definitions close (the gap: primal objective + dual
    # objective, with the penalty on each side), and the certificate reports the same numbers
    assert_kkt(ds, cert, tolerances={"relative_gap": 1e-9})
    assert cert.ok, cert.verdict
    assert cert.dual.converged and cert.primal.converged
    # theta from the primal alone: its slack (L2) or its box duals (L1) is theta*
    theta_p, theta_d = np.asarray(cert.primal.theta), np.asarray(cert.dual.theta)
    np.testing.assert_allclose(theta_p, theta_d, rtol=0, atol=1e-6 * (1 + np.abs(theta_d).max()))
    S = _slack(ds, cert.primal.mu)[:-1]
    rows = theta_d.reshape(ds.m, -1)[:-1]
    if kind == "l2":  # theta_R = -S / lam
        np.testing.assert_allclose(-S / lam, rows, rtol=0, atol=1e-6 * (1 + np.abs(rows).max()))
    else:
        assert np.abs(S).max() <= lam * (1 + 1e-9)


@pytest.mark.parametrize("family", ["categorical", "bernoulli"])
def test_l2_matches_scikit_learn(family):
    # sklearn: min 1/2 ||w||^2 + C sum_j loss_j, intercept unpenalised (fit_intercept=True),
    # all k class columns penalised for the multinomial; ours is that divided by C: lam = 1 / C.
    lam = L2_LAMBDA[family]
    X, y = make_arrays(family)
    ds = make_dataset(family)
    dual = solve_dual(ds, l2=lam)
    clf = LogisticRegression(C=1.0 / lam, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    clf.fit(X, y)
    P_ref = clf.predict_proba(X)
    P = get_family(family).mean(ds.X @ dual.theta)
    if family == "bernoulli":
        P = np.column_stack([1 - P, P])
    assert list(clf.classes_) == list(ds.classes)
    np.testing.assert_allclose(P, P_ref, rtol=1e-7, atol=1e-9)
    loglik_ref = np.sum(np.log(P_ref[np.arange(len(y)), np.searchsorted(clf.classes_, y)]))
    assert dual.loglik == pytest.approx(loglik_ref, rel=1e-7)
    # the coefficients agree too: sklearn's full parametrisation is our penalised-row gauge
    coef = dual.theta[:-1].T if family == "categorical" else dual.theta[:-1][None, :]
    np.testing.assert_allclose(coef, clf.coef_, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("family", FAMILIES)
def test_l1_active_boxes_are_the_nonzero_coefficients(family):
    ds = make_dataset(family)
    lam = L1_LAMBDA[family]
    dual = solve_dual(ds, l1=lam)
    assert dual.converged and dual.method == "newton"
    theta = np.asarray(dual.theta).reshape(ds.m, -1)[:-1]  # penalised rows
    mu = get_family(family).mean(ds.X @ dual.theta)
    S = _slack(ds, mu)[:-1]
    nonzero = theta != 0
    # the data and lambda make the statement non-trivial: some zeros, some non-zeros
    assert nonzero.any() and (~nonzero).any()
    # non-zero: the box is active with the opposite sign (S = -lam sign(theta));
    # zero: strictly inside the box
    np.testing.assert_allclose(S[nonzero], -lam * np.sign(theta[nonzero]), rtol=1e-9)
    assert np.all(np.abs(S[~nonzero]) < lam * (1 - 1e-6))
    # the primal sees the same boxes
    primal = solve_primal(ds, l1=lam)
    S_p = _slack(ds, primal.mu)[:-1]
    active = np.abs(np.abs(S_p) - lam) <= 1e-6 * lam
    np.testing.assert_array_equal(active, nonzero)


@pytest.mark.parametrize("family", ["categorical", "poisson"])
def test_l1_dual_sign_convention(family):
    """theta_R = v - u (u: dual of S <= lam, v: of S >= -lam), pinned on the raw CVXPY duals."""
    ds = make_dataset(family)
    lam = L1_LAMBDA[family]
    problem, mu, handles = build_primal(ds, penalty=solve_dual(ds, l1=lam).penalty)
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    u = np.asarray(handles["upper"].dual_value).reshape(ds.m - 1, -1)
    v = np.asarray(handles["lower"].dual_value).reshape(ds.m - 1, -1)
    assert u.min() >= -1e-9 and v.min() >= -1e-9  # inequality duals are non-negative
    theta = np.asarray(solve_dual(ds, l1=lam).theta).reshape(ds.m, -1)[:-1]
    np.testing.assert_allclose(v - u, theta, atol=1e-6)
    # where theta < 0 the upper box S <= lam is the active one, and vice versa
    assert np.all(u[theta < 0] > 1e-3) and np.all(v[theta > 0] > 1e-3)


@pytest.mark.parametrize("kind", ["l2", "l1"])
@pytest.mark.parametrize("family", FAMILIES)
def test_intercept_is_never_penalised(family, kind):
    ds = make_dataset(family)
    huge = 1e6
    cert = verify(ds, **{kind: huge})
    assert_kkt(ds, cert)
    assert cert.ok, cert.verdict
    theta = np.asarray(cert.dual.theta).reshape(ds.m, -1)
    # the intercept's balance equation holds exactly in both problems
    for mu in (cert.primal.mu, get_family(family).mean(ds.X @ cert.dual.theta)):
        intercept_row = _slack(ds, mu)[-1]
        assert np.abs(intercept_row).max() <= 1e-7 * (1 + np.abs(ds.X.T @ ds.Y).max())
    # with a huge penalty the slopes vanish (exactly for L1) and the intercept is the
    # unpenalised marginal fit
    slopes = theta[:-1]
    if kind == "l1":
        assert np.all(slopes == 0)
    else:
        assert np.abs(slopes).max() < 1e-3
    mean = ds.weights @ ds.Y / ds.weights.sum()
    marginal = {"categorical": lambda: np.log(mean) - np.log(mean[-1]),
                "bernoulli": lambda: np.log(mean / (1 - mean)),
                "poisson": lambda: np.log(mean),
                "gaussian": lambda: mean}[family]()
    np.testing.assert_allclose(theta[-1], np.ravel(marginal), atol=1e-3 if kind == "l2" else 1e-9)


@pytest.mark.parametrize("family", FAMILIES)
def test_l1_lbfgs_agrees_with_proximal_newton(family):
    ds = make_dataset(family)
    lam = L1_LAMBDA[family]
    newton = solve_dual(ds, l1=lam, method="newton")
    lbfgs = solve_dual(ds, l1=lam, method="lbfgs", tol=1e-7)
    assert newton.kkt_residual <= 1e-10
    assert lbfgs.objective <= newton.objective + 1e-9 * abs(newton.objective)
    np.testing.assert_allclose(lbfgs.theta, newton.theta, atol=1e-4)


@pytest.mark.parametrize("kind", ["l2", "l1"])
@pytest.mark.parametrize("family", ["categorical", "poisson"])
def test_penalties_without_intercept(family, kind):
    """Without an intercept every row is penalised and the certificate still closes."""
    ds = make_dataset(family, intercept=False)
    cert = verify(ds, **{kind: _lam(kind, family)})
    assert_kkt(ds, cert)
    assert cert.ok, cert.verdict


# -- the command line ---------------------------------------------------------------------------

def _write_csv(path, family, weights=None):
    X, y = make_arrays(family)
    with open(path, "w") as fh:
        cols = [f"x{i + 1}" for i in range(X.shape[1])]
        fh.write(",".join(cols + (["w"] if weights is not None else []) + ["y"]) + "\n")
        for j in range(X.shape[0]):
            row = [repr(float(v)) for v in X[j]]
            if weights is not None:
                row.append(repr(float(weights[j])))
            row.append(str(y[j]))
            fh.write(",".join(row) + "\n")
    return X, y


@pytest.mark.parametrize("kind", ["none", "l2", "l1"])
@pytest.mark.parametrize("family", FAMILIES)
def test_cli_verify_every_family_and_penalty(family, kind, tmp_path, capsys):
    n = make_arrays(family)[0].shape[0]
    weights = 1.0 + (np.arange(n) % 3 == 0)  # every third row counts twice
    path = tmp_path / f"{family}.csv"
    X, y = _write_csv(path, family, weights)
    argv = ["verify", str(path), "--family", family, "--weights", "w", "--target", "y", "--json"]
    if kind != "none":
        argv += [f"--{kind}", str(_lam(kind, family))]
    code = cli_main(argv)
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out["certificate"]["messages"]
    assert out["certificate"]["ok"] is True
    assert out["dataset"]["family"] == family
    assert out["dataset"]["weights"] is True
    assert out["dataset"]["penalty"] == {"kind": kind, "lambda": None if kind == "none" else
                                         _lam(kind, family)}
    theta = out["theta"]["values"]
    m = X.shape[1] + 1
    if family == "categorical":
        assert len(theta) == m and all(len(r) == 3 for r in theta)
    else:  # a one-parameter family: a list of m numbers
        assert len(theta) == m and all(isinstance(t, float) for t in theta)
    # the same numbers as the Python API
    ds = Dataset.from_arrays(X, y, family=family, weights=weights)
    dual = solve_dual(ds, **({} if kind == "none" else {kind: _lam(kind, family)}))
    np.testing.assert_allclose(theta, dual.theta, rtol=1e-12, atol=1e-12)
    assert out["theta"]["loglik"] == pytest.approx(dual.loglik, rel=1e-12)


def test_cli_text_output_and_bad_penalty(tmp_path, capsys):
    path = tmp_path / "pois.csv"
    _write_csv(path, "poisson")
    assert cli_main(["verify", str(path), "--family", "poisson", "--l1", "15"]) == 0
    text = capsys.readouterr().out
    assert "penalty l1(lambda=15)" in text and "verdict: OK" in text
    assert "reported log-likelihood" in text  # poisson: the constant -sum log y! is shown apart
    with pytest.raises(SystemExit) as exc:
        cli_main(["verify", str(path), "--family", "poisson", "--l1", "-1"])
    assert exc.value.code == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli_main(["verify", str(path), "--family", "poisson", "--l1", "1", "--l2", "1"])
    assert exc.value.code == 2  # argparse's usage error, not a crash
    assert "--l2" in capsys.readouterr().err


def test_l1_subproblem_with_a_flat_class_shift_meets_its_optimality_conditions():
    """The proximal Newton subproblem ``min 1/2 z^T N z - c^T z + lam |z|_1`` on a curvature
    that is flat along each row's class shift (N u = 0, as the multinomial likelihood's), with
    the shift groups given as the solver gives them: the answer satisfies the subproblem's KKT
    conditions, recomputed here. (An exact finish that took a least-squares answer on a pattern
    with every class active, inconsistent along the flat direction, returned a point 0.1 off.)"""
    from dualmaxent.solvers import _l1_quadratic

    rng = np.random.default_rng(11)
    m, q = 4, 3
    G = rng.normal(size=(30, m))
    G = G.T @ G  # a Gram matrix, positive definite
    A = np.eye(q) - np.full((q, q), 1.0 / q)  # the softmax curvature's shape: A 1 = 0
    N = np.kron(A, G)  # class-major, flat along every row's class shift
    c = N @ rng.normal(size=m * q)  # in the range of N, so the minimum is finite
    lam = 0.3
    lamv = np.full(m * q, lam)
    groups = [np.arange(q) * m + i for i in range(m)]
    z = _l1_quadratic(N, c, lamv, np.zeros(m * q), shifts=groups)
    # the rounding of N z - c: m q products of entries up to |N| |z|, and c
    eps = np.finfo(float).eps
    tol = 4 * m * q * eps * (float(np.abs(N).max()) * float(np.abs(z).sum()) + np.abs(c).max())
    r = N @ z - c
    on = z != 0
    assert np.all(np.abs(r[on] + lam * np.sign(z[on])) <= tol)
    assert np.all(np.abs(r[~on]) <= lam + tol)
    # odd q: in every row that moves, the L1 term puts one class at zero
    for g in groups:
        assert np.count_nonzero(z[g]) < q


@pytest.mark.parametrize("seed", range(4))
def test_feature_sign_search_leaves_a_face_with_no_minimiser_along_its_flat_direction(seed):
    """:func:`dualmaxent.solvers._feature_sign` on the multinomial curvature's shape (flat along
    every row's class shift) over a Gram matrix with a nearly repeated feature (condition
    1e6), started where every class of some rows is nonzero with signs that do not sum to
    zero: that face's system is inconsistent along the shift (the model falls without bound
    on it), and the search walks the flat direction to the face's edge instead of giving up.
    The answer meets the subproblem's KKT conditions, recomputed here, and its model value is
    below the start's."""
    from dualmaxent.solvers import _feature_sign

    rng = np.random.default_rng(seed)
    m, q = 5, 3
    F = rng.normal(size=(60, m))
    F[:, 1] = F[:, 0] * (1.0 + 1e-3 * rng.normal(size=60))
    A = np.eye(q) - np.full((q, q), 1.0 / q)
    N = np.kron(A, F.T @ F)  # class-major
    c = N @ rng.normal(size=m * q) * 3
    lamv = np.full(m * q, 0.5)
    lamv[np.arange(q) * m + m - 1] = 0.0  # the last row plays the intercept: free
    z0 = rng.normal(size=m * q)
    z0[[0, m, 2 * m]] = [1.0, 2.0, -0.5]  # row 0 active in every class, signs +, +, -

    def model(v):
        return 0.5 * v @ N @ v - c @ v + lamv @ np.abs(v)

    z = _feature_sign(N, c, lamv, z0)
    assert z is not None
    eps = np.finfo(float).eps
    p = m * q
    # the rounding of N z - c, and a Cholesky solve's residual on a face of condition 1e6
    tol = 64 * p * eps * (float(np.abs(N).max()) * float(np.abs(z).sum()) + np.abs(c).max())
    r = N @ z - c
    on = (z != 0) | (lamv == 0)
    assert np.all(np.abs(r[on] + lamv[on] * np.sign(z[on])) <= tol)
    assert np.all(np.abs(r[~on]) <= lamv[~on] + tol)
    assert model(z) < model(z0)


def test_a_weak_elastic_net_on_features_of_very_different_sizes_converges():
    """Five classes, 28 features of sizes 1e-3 to 1e4 each centred up to three times its size
    off zero (n = 300, weights), the elastic net at C = 100 and l1_ratio 0.5: the subproblems'
    curvature spans 1e20, and feature-sign search compared model values of order 1e8 that
    differ by 1e-4, their rounding deciding; every exact finish failed, and coordinate descent
    ran 100 iterations (36 s) to a residual of 2e-6. With the model's change formed from the
    step the solve converges; its KKT conditions are recomputed from the definitions, each
    entry against its own column's size, and the certificate is ok."""
    rng = np.random.default_rng(51)
    n, m, k = 300, 28, 5
    Z = rng.standard_normal((n, m))
    X = Z * 10.0 ** rng.uniform(-3, 4, m) + 10.0 ** rng.uniform(-3, 4, m) * rng.uniform(0, 3, m)
    eta = Z @ rng.standard_normal((m, k)) / np.sqrt(m) + rng.gumbel(size=(n, k))
    ds = Dataset.from_arrays(X, eta.argmax(axis=1), weights=rng.uniform(0.1, 5.0, n))
    lam, a = 0.01, 0.5
    penalty = make_penalty(l1=lam, l1_ratio=a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the features' sizes are warned about)
        fit = solve_dual(ds, penalty=penalty, max_iter=40)
    assert fit.status == "converged", fit.message
    theta = np.asarray(fit.theta).reshape(ds.m, k)
    Y = _definitions.labels(ds)
    G = ds.X.T @ (ds.weights[:, None] * (Y - _definitions.probabilities(ds, theta)))
    pen = np.ones(ds.m, dtype=bool)
    pen[-1] = False
    G[pen] -= lam * (1 - a) * theta[pen]  # the smooth part's gradient: the L2 term's
    # each row's size: X^T W Y and X^T W P of that column (the sums' scale)
    size = np.abs(ds.X).T @ (ds.weights[:, None] * (Y + 1.0))
    tol = 1e-8 * size
    assert np.all(np.abs(G[~pen]) <= tol[~pen])
    on = pen[:, None] & (theta != 0)
    assert np.all(np.abs(G - lam * a * np.sign(theta))[on] <= tol[on])
    off = pen[:, None] & (theta == 0)
    assert np.all(np.abs(G[off]) <= lam * a + tol[off])
    assert certify(ds, theta, penalty=penalty).ok


def test_a_weak_l1_fit_with_a_nearly_repeated_feature_converges_quadratically():
    """Three classes, ten features one of which repeats another to 1e-3, L1 with lam = 0.01
    (C = 100): proximal Newton's subproblems have faces with every class of a row active, and
    each step's exact finish used to fail there, leaving coordinate descent to crawl along the
    near-repeat (100 iterations, relative residual 6e-5, 8 s). Now the solve converges, its
    KKT conditions recomputed from the definitions, and the certificate's bracket holds."""
    rng = np.random.default_rng(3)
    n, m, k = 2000, 10, 3
    X = rng.standard_normal((n, m))
    X[:, 0] = X[:, 1] * (1.0 + 1e-3 * rng.standard_normal(n))
    eta = X @ rng.standard_normal((m, k)) * 0.4 + rng.gumbel(size=(n, k))
    ds = Dataset.from_arrays(X, eta.argmax(axis=1), weights=rng.uniform(0.1, 5.0, n))
    penalty = make_penalty(l1=0.01)
    fit = solve_dual(ds, penalty=penalty, max_iter=30)
    assert fit.status == "converged", fit.message
    theta = np.asarray(fit.theta).reshape(ds.m, k)
    P = _definitions.probabilities(ds, theta)
    G = ds.X.T @ (ds.weights[:, None] * (_definitions.labels(ds) - P))  # X^T W (Y - P)
    pen = np.ones(ds.m, dtype=bool)
    pen[-1] = False
    scale = 1.0 + float(np.abs(ds.X.T @ (ds.weights[:, None] * _definitions.labels(ds))).max())
    assert np.all(np.abs(G[~pen]) <= 1e-8 * scale)
    on = pen[:, None] & (theta != 0)
    assert np.all(np.abs(G[on] - 0.01 * np.sign(theta[on])) <= 1e-8 * scale)
    assert np.all(np.abs(G[pen[:, None] & (theta == 0)]) <= 0.01 + 1e-8 * scale)
    cert = certify(ds, theta, penalty=penalty)
    assert cert.ok, cert.messages
    objective = -loglik(ds, theta) + 0.01 * float(np.abs(theta[pen]).sum())
    assert abs(cert.upper_bound - objective) <= 1e-12 * abs(objective)


@pytest.mark.parametrize("seed", range(6))
def test_feature_sign_search_reaches_the_subproblems_minimiser_from_a_wrong_face(seed):
    """:func:`dualmaxent.solvers._feature_sign` on an ill-conditioned positive definite ``N``
    (eigenvalues over six decades, as the categorical Hessian's with a small L2 part), started
    from a point whose signs are mostly wrong: it returns a point meeting the subproblem's KKT
    conditions, recomputed here, with unpenalised coordinates free, and its model value is no
    higher than the start's."""
    from dualmaxent.solvers import _feature_sign

    rng = np.random.default_rng(seed)
    p = 14
    Q = np.linalg.qr(rng.normal(size=(p, p)))[0]
    N = (Q * np.logspace(-3, 3, p)) @ Q.T
    N = (N + N.T) / 2
    c = rng.normal(size=p) * 3
    lamv = np.full(p, 0.5)
    lamv[[4, 9]] = 0.0  # intercepts
    z0 = rng.normal(size=p)
    z = _feature_sign(N, c, lamv, z0)
    assert z is not None

    def model(v):
        return 0.5 * v @ N @ v - c @ v + lamv @ np.abs(v)

    eps = np.finfo(float).eps
    # the rounding of N z - c: p products of entries up to |N| |z|, and c; a Cholesky solve
    # on a matrix of condition 1e6 leaves a residual of the same order
    tol = 8 * p * eps * (float(np.abs(N).max()) * float(np.abs(z).sum()) + np.abs(c).max())
    r = N @ z - c
    on = (z != 0) | (lamv == 0)
    assert np.all(np.abs(r[on] + lamv[on] * np.sign(z[on])) <= tol)
    assert np.all(np.abs(r[~on]) <= lamv[~on] + tol)
    assert model(z) <= model(z0)


@pytest.mark.parametrize("l2", [0.0, 0.5])
def test_a_class_shift_moves_to_the_models_minimiser_on_its_line(l2):
    """:func:`dualmaxent.solvers._shift_group` on ``z + t u`` (u: ones on a row's classes): the
    model ``1/2 z^T N z - c^T z + lam |z|_1`` does not rise, 0 is in its subgradient along u
    afterwards (recomputed here), and ``r = N z - c`` is kept up to date."""
    from dualmaxent.solvers import _shift_group

    rng = np.random.default_rng(4)
    m, q, lam = 3, 4, 0.7
    G = rng.normal(size=(20, m))
    A = np.eye(q) - np.full((q, q), 1.0 / q)
    N = np.kron(A, G.T @ G) + l2 * np.eye(m * q)  # flat along the shift unless l2 > 0
    c = N @ rng.normal(size=m * q)  # in N's range, as the subproblem's (else no minimiser)
    lamv = np.full(m * q, lam)
    for _ in range(5):
        z = rng.normal(size=m * q)
        r = N @ z - c
        g = np.arange(q) * m + rng.integers(m)

        def model(v):
            return 0.5 * v @ N @ v - c @ v + lam * np.abs(v).sum()

        before = model(z)
        _shift_group(N, z, r, lamv, g)
        assert model(z) <= before + 1e-12 * (1 + abs(before))
        np.testing.assert_allclose(r, N @ z - c, atol=1e-12 * (1 + np.abs(N).sum() * np.abs(z).max()))
        u = np.zeros(m * q)
        u[g] = 1.0
        slope = u @ r  # the smooth part's derivative along u
        on = z[g] != 0
        low = slope + lam * np.sign(z[g][on]).sum() - lam * (~on).sum()
        high = slope + lam * np.sign(z[g][on]).sum() + lam * (~on).sum()
        tol = 1e-9 * (1 + np.abs(r).sum() + lam * q)
        assert low - tol <= 0.0 <= high + tol


def _penalised_objective(ds, theta, lam):
    """``l(theta) - (lam / 2) |theta_R|^2`` from the definitions (the intercept, the last row,
    unpenalised): Poisson ``sum w (y eta - e^eta)``, categorical ``sum w log softmax``."""
    eta = ds.X @ theta
    if ds.family.multiclass:
        top = eta.max(axis=1, keepdims=True)
        lse = (top + np.log(np.exp(eta - top).sum(axis=1, keepdims=True)))[:, 0]
        ll = float(ds.weights @ ((ds.Y * eta).sum(axis=1) - lse))
    else:
        ll = float(ds.weights @ (ds.Y * eta - np.exp(eta)))
    return ll - 0.5 * lam * float(np.sum(theta[:-1] ** 2))


@pytest.mark.parametrize("case", ["poisson, no count", "a class of weight 0"])
def test_a_penalised_fit_whose_intercept_runs_off_is_not_attained(case):
    """The penalty keeps every row of theta finite but the intercept's: with no count of
    positive weight (Poisson), or a class with no observation of positive weight, the intercept
    runs off and the penalised likelihood has no maximiser. The solver says so (not
    'converged'), with a SeparationWarning, and the certificate says not attained, with the
    reason, where it said 'attained' (with an infinite round-off budget). The objective,
    written out here, still rises along the intercept at the solver's theta: no maximiser."""
    from dualmaxent import certify
    from dualmaxent.exceptions import SeparationWarning

    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 3))
    if case == "poisson, no count":
        ds = Dataset.from_arrays(X, np.zeros(60), family="poisson")
        fixed = Dataset.from_arrays(X, np.r_[1.0, np.zeros(59)], family="poisson")
        along = np.r_[np.zeros(3), -1.0]
    else:
        y, w = np.arange(60) % 3, np.where(np.arange(60) % 3 == 2, 0.0, 1.0)
        ds = Dataset.from_arrays(X, y, weights=w)
        fixed = Dataset.from_arrays(X, y, weights=np.where(w > 0, w, 0.5))
        along = np.zeros((4, 3))
        along[3, :2] = 1.0  # the two classes that occur, against the pinned third
    with pytest.warns(SeparationWarning, match="the penalised likelihood has no maximiser"):
        res = solve_dual(ds, l2=1.0)
    assert res.status == "not_attained" and not res.converged
    theta = np.asarray(res.theta, dtype=float)
    f = _penalised_objective(ds, theta, 1.0)
    assert _penalised_objective(ds, theta + 5.0 * along, 1.0) > f
    cert = certify(ds, theta, l2=1.0)
    assert not cert.attained and not cert.ok
    assert any(m.startswith("the penalised optimum is not attained") for m in cert.messages)
    # one count, or weight on the class, and the maximiser exists
    ok = certify(fixed, solve_dual(fixed, l2=1.0).theta, l2=1.0)
    assert ok.attained and ok.ok


@pytest.mark.parametrize("C, l1_ratio", [(1e11, 1.0), (1e15, 1.0), (1e50, 0.0)])
def test_an_estimator_under_a_very_weak_penalty_is_certified(C, l1_ratio):
    """``MaxEntClassifier(C=1e11, l1_ratio=1)`` on blobs fits the unpenalised optimum to 1e-12,
    but its certificate was NOT OK (within 45 nats: the intercept's residual times a
    multiplier bound of order ``C``), as was ``C=1e50`` with L2 (1e22 nats, the slack's
    ``||s||^2 C / 2``). The lower bound now comes from the unpenalised point where that
    proves more (a penalty is never negative): the bracket closes, and its gap is the
    penalised objective at theta, written out, less the point's entropy, written out."""
    data = load_dataset("blobs")
    X, y = np.asarray(data.X)[:, :-1], data.Y.argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CertificateWarning)
        fit = MaxEntClassifier(C=C, l1_ratio=l1_ratio).fit(X, y)
    cert = fit.certificate_
    assert cert.ok, cert.messages
    # (at C = 1e11 the penalised point's own bracket closes on some BLAS kernels; the L1 point
    # is charged nothing either way, so the entropy below is the lower bound of both)
    assert cert.projected.unpenalised or C < 1e15
    theta = np.vstack([fit.coef_.T, fit.intercept_])
    penalty = (np.abs(theta[:-1]).sum() if l1_ratio == 1.0 else 0.5 * (theta[:-1] ** 2).sum()) / C
    upper = -loglik(data, theta) + penalty
    lower = entropy(data, cert.projected.mu)[0]
    # (each side a sum of n terms of a few roundings: 2 (n + 8) u of its magnitude, 200 nats)
    slack = 2 * (data.n + 8) * np.finfo(float).eps * 2 * abs(upper)
    assert abs(cert.upper_bound - upper) <= cert.projected.upper_roundoff + slack
    assert abs(cert.lower_bound - lower) <= cert.roundoff + slack
    assert upper - lower <= cert.tol * abs(upper) + cert.roundoff + 2 * slack
