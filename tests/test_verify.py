"""Strong duality, certified: gap, balance, simplex, dual gradient and agreement."""

import pytest

from dualmaxent import load_dataset, solve_dual, solve_primal, verify
from dualmaxent.exceptions import ConvergenceWarning
from dualmaxent.separation import detect_separation

from _factories import overlapping, separable
from _kkt import assert_kkt, kkt_figures

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


def test_the_full_newton_fit_on_separable_data_is_never_ok():
    ds = separable()
    d = solve_dual(ds, method="newton", max_iter=30)
    cert = verify(ds, dual=d)
    assert not cert.ok
