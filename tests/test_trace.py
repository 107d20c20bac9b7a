"""The bracket along a dual solve (``dualmaxent.trace``, ``verify --trace``), checked from the
definitions: every ``upper_t`` is the dual objective at ``theta_t`` recomputed here, and every
``lower_t`` stays below the optimum of a tight solve, each within the certificate's round-off
budget."""

import json

import numpy as np
import pytest
from scipy.special import gammaln, logsumexp

from dualmaxent import Dataset, certify, load_dataset, solve_dual, verify
from dualmaxent.cli import main
from dualmaxent.trace import trace_bracket


def dual_objective(ds, theta, l2=0.0, l1=0.0):
    """``-l(theta) + penalty`` from the definitions (sums over observations, nats)."""
    eta = ds.X @ theta
    if ds.family.name == "categorical":
        loglik = float(np.sum(ds.Y * eta) - np.sum(logsumexp(eta, axis=1)))
    elif ds.family.name == "poisson":
        loglik = float(np.sum(ds.Y * eta - np.exp(eta)))
    else:
        raise NotImplementedError(ds.family.name)
    rows = np.array([f != "intercept" for f in ds.feature_names])
    t = np.asarray(theta)[rows]
    return -loglik + l2 / 2 * float(np.sum(t ** 2)) + l1 * float(np.sum(np.abs(t)))


def poisson_counts(n=300, seed=7):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 2))
    y = rng.poisson(np.exp(Z @ np.array([0.6, -0.4]) + 0.5)).astype(float)
    return Dataset.from_arrays(Z, y, feature_names=["z1", "z2"], family="poisson",
                               name="counts")


def optimum(ds, **penalty):
    """``(OPT_lo, OPT_hi)``: the bracket of a tight Newton solve, widened by its round-off."""
    cert = certify(ds, solve_dual(ds, method="newton", tol=1e-12, **penalty).theta, **penalty)
    assert cert.relative_gap <= 1e-10
    return cert.lower_bound - cert.roundoff, cert.upper_bound + cert.roundoff


@pytest.mark.parametrize("method", ["newton", "newton-cg", "lbfgs", "gradient"])
def test_the_callback_sees_every_recorded_iterate_and_changes_nothing(method):
    ds = load_dataset("blobs")
    seen = []
    with_cb = solve_dual(ds, method=method, callback=seen.append)
    without = solve_dual(ds, method=method)
    np.testing.assert_array_equal(with_cb.theta, without.theta)  # it only observes
    np.testing.assert_array_equal(with_cb.history["objective"], without.history["objective"])
    assert len(seen) == len(with_cb.history["iteration"])
    np.testing.assert_array_equal(seen[-1], with_cb.theta)
    # the history's objective is the dual objective at each iterate the callback received
    for theta, value in zip(seen, with_cb.history["objective"]):
        assert -value == pytest.approx(dual_objective(ds, theta), rel=1e-12)
    assert all(t.shape == with_cb.theta.shape for t in seen)
    assert not any(np.shares_memory(a, b) for a, b in zip(seen, seen[1:]))


@pytest.mark.parametrize("make, penalty", [
    (lambda: load_dataset("blobs"), {}),
    (lambda: load_dataset("blobs"), {"l2": 10.0}),
    (lambda: load_dataset("blobs"), {"l1": 5.0}),
    (poisson_counts, {}),
], ids=["blobs", "blobs-l2", "blobs-l1", "poisson"])
@pytest.mark.parametrize("method", ["newton", "lbfgs"])
def test_every_iterate_is_bracketed_soundly(make, penalty, method):
    ds = make()
    lo, hi = optimum(ds, **penalty)
    tr = trace_bracket(ds, method=method, **penalty)
    assert len(tr.iteration) == len(tr.dual.history["iteration"])  # every iterate
    for t, theta in enumerate(tr.theta):
        # the upper bound is the dual objective at theta_t, from its definition
        assert abs(tr.upper_bound[t] - dual_objective(ds, theta, **penalty)) \
            <= 2 * tr.roundoff[t]
    # lower_t <= OPT <= upper_t at every iterate, each up to its round-off budget
    assert np.all(tr.lower_bound - tr.roundoff <= hi)
    assert np.all(tr.upper_bound + tr.roundoff >= lo)
    # and the bracket closes as the solver converges, from far away
    assert tr.duality_gap[0] > 1.0
    assert tr.duality_gap[-1] <= tr.roundoff[-1] + 1e-6 * abs(tr.upper_bound[-1])


def test_separated_data_bracket_the_supremum_at_every_iterate():
    iris = load_dataset("iris")
    cert = verify(iris, primal="projected")
    assert not cert.attained and cert.ok
    lo, hi = cert.lower_bound - cert.roundoff, cert.upper_bound + cert.roundoff
    tr = trace_bracket(iris, separation=cert.separation)
    for t, theta in enumerate(tr.theta):
        assert abs(tr.upper_bound[t] - dual_objective(iris, theta)) <= 2 * tr.roundoff[t]
    # -l(theta_t) never goes below -sup l, and the reduced problem's point never above it
    assert np.all(tr.upper_bound + tr.roundoff >= lo)
    assert np.all(tr.lower_bound - tr.roundoff <= hi)


def test_max_points_spreads_the_certified_iterates_and_keeps_both_ends():
    ds = load_dataset("blobs")
    full = solve_dual(ds, method="gradient")
    tr = trace_bracket(ds, method="gradient", max_points=12)
    count = len(full.history["iteration"])
    assert tr.iteration[0] == 0 and tr.iteration[-1] == count - 1
    assert len(tr.iteration) <= 12 + 2 and np.all(np.diff(tr.iteration) > 0)
    np.testing.assert_array_equal(tr.theta[-1], full.theta)


def test_cli_trace_prints_the_bracket_at_every_iterate(capsys):
    assert main(["verify", "blobs", "--trace", "--primal", "projected"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("  trace:"))
    ds = load_dataset("blobs")
    seen = []
    solve_dual(ds, callback=seen.append)
    rows = lines[start + 2:start + 2 + len(seen)]
    assert "newton" in lines[start] and f"{len(seen)} iterates" in lines[start]
    for t, (row, theta) in enumerate(zip(rows, seen)):
        fields = row.split()
        assert int(fields[0]) == t
        assert float(fields[2]) == pytest.approx(dual_objective(ds, theta), abs=1e-9)
        assert float(fields[1]) <= float(fields[2]) + float(fields[4])
    assert "every lower_t <= the certificate's upper bound" in lines[start + 2 + len(seen)]
    assert lines[start + 2 + len(seen)].endswith(": yes")
    assert main(["verify", "blobs", "--trace", "--json", "--primal", "projected"]) == 0
    doc = json.loads(capsys.readouterr().out)
    trace = doc["trace"]
    assert trace["method"] == "newton" and trace["iteration"] == list(range(len(seen)))
    np.testing.assert_allclose(trace["upper_bound"], [dual_objective(ds, t) for t in seen],
                               rtol=1e-12)
    assert all(lo <= doc["certificate"]["upper_bound"] + r for lo, r in
               zip(trace["lower_bound"], trace["roundoff"]))


def test_poisson_certificate_says_what_h_is_and_computes_the_constant(capsys):
    """The printout names ``-sum A*(mu)`` and the constant of the reported log-likelihood,
    recomputed here from its definition (``-sum log(y!)``)."""
    from dualmaxent.cli import format_certificate

    ds = poisson_counts()
    cert = verify(ds, primal="projected")
    text = format_certificate(ds, cert)
    constant = -float(np.sum(gammaln(ds.Y + 1.0)))
    assert f"c = -sum_j w_j log(y_j!) = {constant:.10f} nats" in text
    assert "A*(mu) = mu log mu - mu the convex conjugate of the log-partition A(eta) = e^eta" \
        in text
    assert "simplex residual" not in text and "gauge" not in text
    assert "P~" not in text and "mu~" in text
