"""The dual: the multinomial log-likelihood, its solvers, references.

The Newton note's gradient and block Hessian and the gauge freedom of footnote 2 are tested, as
claims of the notes, in test_notes.py.
"""

import numpy as np
import pytest

from dualmaxent import Dataset, recover_primal, solve_dual
from dualmaxent.dual import DualObjective
from dualmaxent import _numerics as nx

from _factories import overlapping


def test_loglik_is_a_sum_in_nats_of_log_softmax_at_the_labels():
    ds = overlapping(n=30, k=3, seed=3)
    theta = np.random.default_rng(0).normal(size=(ds.m, ds.k))
    logp = nx.log_softmax(ds.X @ theta)
    expected = sum(logp[j, ds.classes.index(ds.y[j])] for j in range(ds.n))
    obj = DualObjective(ds)
    assert obj.value(obj.beta(theta)) == pytest.approx(expected, rel=1e-13)


def test_newton_lbfgs_and_gradient_ascent_agree():
    ds = overlapping(n=150, p=2, k=3, seed=7)
    results = {m: solve_dual(ds, method=m) for m in ("newton", "lbfgs", "gradient")}
    for m, r in results.items():
        assert r.converged, (m, r.message)
        assert r.history["objective"].size == r.iterations + 1
    ref = results["newton"]
    assert ref.kkt_residual <= 1e-10
    for m in ("lbfgs", "gradient"):
        assert results[m].loglik == pytest.approx(ref.loglik, rel=1e-9)
        np.testing.assert_allclose(recover_primal(ds, results[m].theta),
                                   recover_primal(ds, ref.theta), atol=1e-5)


def test_intercept_only_model_gives_class_frequencies_and_n_times_their_entropy():
    rng = np.random.default_rng(5)
    y = rng.choice(["u", "v", "w"], size=90, p=[0.5, 0.3, 0.2])
    ds = Dataset.from_arrays(np.empty((90, 0)), y)
    r = solve_dual(ds)
    freq = np.array([np.mean(y == c) for c in ds.classes])
    np.testing.assert_allclose(recover_primal(ds, r.theta), np.tile(freq, (90, 1)), atol=1e-12)
    assert -r.loglik == pytest.approx(-90 * np.sum(freq * np.log(freq)), rel=1e-12)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_loglik_matches_scikit_learn_unpenalised(k):
    from sklearn.linear_model import LogisticRegression

    ds = overlapping(n=300, p=3, k=k, seed=11 + k)
    r = solve_dual(ds)
    # sklearn: C = inf means no penalty; fit_intercept=False because X has our intercept column
    clf = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10000)
    clf.fit(ds.X, ds.y)
    ll = float(np.sum(np.log(clf.predict_proba(ds.X)[np.arange(ds.n), ds.Y.argmax(1)])))
    assert r.loglik == pytest.approx(ll, rel=1e-7)
    np.testing.assert_allclose(recover_primal(ds, r.theta), clf.predict_proba(ds.X), atol=1e-5)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_loglik_matches_statsmodels_mnlogit(k):
    import statsmodels.api as sm

    ds = overlapping(n=300, p=2, k=k, seed=21 + k)
    r = solve_dual(ds)
    labels = ds.Y.argmax(axis=1)
    fit = sm.MNLogit(labels, ds.X).fit(method="newton", maxiter=200, disp=False, tol=1e-12)
    assert r.loglik == pytest.approx(fit.llf, rel=1e-7)
    # statsmodels pins the first class; ours pins the last: compare after the gauge change
    theta_sm = np.column_stack([np.zeros(ds.m), np.asarray(fit.params)])
    theta_sm = theta_sm - theta_sm[:, -1:]
    np.testing.assert_allclose(r.theta, theta_sm, atol=1e-5)


def test_relabelling_classes_permutes_theta_columns():
    ds = overlapping(n=120, p=2, k=3, seed=2)
    mapping = {0: "z", 1: "a", 2: "m"}  # sorted order becomes a, m, z = old 1, 2, 0
    ds2 = Dataset.from_arrays(ds.X[:, :-1], [mapping[v] for v in ds.y])
    P1 = recover_primal(ds, solve_dual(ds).theta)
    P2 = recover_primal(ds2, solve_dual(ds2).theta)
    np.testing.assert_allclose(P2, P1[:, [1, 2, 0]], atol=1e-9)


def test_rescaling_a_feature_rescales_its_theta_row():
    ds = overlapping(n=120, p=2, k=3, seed=4)
    X = np.array(ds.X[:, :-1])
    X[:, 0] *= 10.0
    ds2 = Dataset.from_arrays(X, ds.y)
    t1, t2 = solve_dual(ds).theta, solve_dual(ds2).theta
    np.testing.assert_allclose(t2[0], t1[0] / 10.0, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(t2[1:], t1[1:], rtol=1e-7, atol=1e-10)


def test_bad_options_raise_clear_errors():
    ds = overlapping(n=20, k=2)
    with pytest.raises(ValueError, match="unknown method"):
        solve_dual(ds, method="magic")
    with pytest.raises(ValueError, match="tol must be a positive"):
        solve_dual(ds, tol=-1.0)
    with pytest.raises(ValueError, match="theta0 must have shape"):
        solve_dual(ds, theta0=np.zeros(3))


def test_result_status_is_a_str_enum_that_reads_and_prints_as_its_code():
    import json

    from dualmaxent import Status
    from dualmaxent.solvers import Status as SolversStatus

    assert SolversStatus is Status  # defined once, in results.py
    res = solve_dual(overlapping(n=60, k=3, seed=1), method="newton")
    assert res.status is Status.CONVERGED and res.converged
    assert res.status == "converged" and res.status in ("converged", "max_iter")
    assert f"{res.status}" == str(res.status) == "converged"
    assert f"[{res.status:>10}]" == "[ converged]"
    assert json.loads(json.dumps({"status": res.status})) == {"status": "converged"}
    assert Status("not_attained") is Status.NOT_ATTAINED
    assert {s.value for s in Status} == {"converged", "max_iter", "stalled", "not_attained",
                                        "diverged"}
    from dualmaxent.exceptions import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="reached 2 iterations"):
        capped = solve_dual(overlapping(n=60, k=3, seed=1), method="gradient", max_iter=2)
    assert capped.status is Status.MAX_ITER and not capped.converged
    # a result built with the old string is given the enum member
    from dataclasses import replace

    assert replace(res, status="stalled").status is Status.STALLED


def test_result_carries_the_kkt_residual_under_one_name_and_no_proof():
    from dataclasses import fields

    ds = overlapping(n=60, k=3, seed=1)
    res = solve_dual(ds, method="newton")
    assert res.history.keys() == {"iteration", "seconds", "objective", "kkt_residual"}
    assert res.kkt_residual == res.history["kkt_residual"][-1] <= 1e-10
    assert res.history["objective"][-1] == pytest.approx(res.objective, rel=1e-12)
    with pytest.warns(DeprecationWarning, match="kkt_residual"):
        assert res.grad_norm == res.kkt_residual  # the deprecated alias, read-only
    with pytest.raises(AttributeError):
        res.grad_norm = 0.0
    names = {f.name for f in fields(res)}
    assert "grad_norm" not in names and {"projected", "separation"}.isdisjoint(names)
    assert res.attained is True  # the solver's claim stays; its proof is the checker's job


def test_penalty_is_specified_in_params_and_reexported():
    import dualmaxent
    from dualmaxent import params, results

    assert results.Penalty is params.Penalty is dualmaxent.Penalty
    assert results.make_penalty is params.make_penalty
    assert params.make_penalty(l2=2.0) == params.Penalty("l2", 2.0)


@pytest.mark.parametrize("n", [100, 200, 400])
def test_least_squares_with_a_column_of_ones_beside_the_intercept_meet_the_balance_equations(n):
    """A column of ones beside the intercept (the design of rank m - 1): the qr method's theta
    meets the balance equations ``X^T (y - X theta) = 0`` (the gaussian's gradient) to the
    rounding of their products, and its predictions are least squares' (numpy's lstsq, whose
    rank cut-off drops the dependency). Solved for theta, gelsd kept a singular value 3e-16
    times the largest at n = 200 and took its direction 1/3e-16 times: relative gradient 4.7e-2."""
    from _rounding import gamma

    rng = np.random.default_rng(0)
    Z = np.column_stack([np.ones(n), rng.standard_normal((n, 2))])
    y = Z[:, 1] - Z[:, 2] + rng.standard_normal(n)
    ds = Dataset.from_arrays(Z, y, family="gaussian")
    res = solve_dual(ds, method="qr")
    X = np.column_stack([Z, np.ones(n)])
    assert res.status == "converged"
    fitted = X @ res.theta
    residual = X.T @ (y - fitted)
    bound = gamma(n + X.shape[1] + 4) * (np.abs(X).T @ (np.abs(y) + np.abs(X) @ np.abs(res.theta)))
    assert np.all(np.abs(residual) <= 4 * bound)
    reference = X @ np.linalg.lstsq(X, y, rcond=None)[0]
    cond = np.linalg.cond(Z[:, 1:] - Z[:, 1:].mean(axis=0))
    assert np.abs(fitted - reference).max() <= gamma(n * X.shape[1]) * cond ** 2 * np.abs(y).max()
