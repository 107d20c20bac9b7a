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
  loose bound's (the refinement switched off), never above it.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from dualmaxent import solve_dual
from dualmaxent.params import make_penalty

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
        radius = checker._refined_radius(t2, pen_rows, penalty, excess)
        assert radius >= np.linalg.norm(s2[pen_rows])
        # sound: the proved lower bound is below the optimum (below the tight upper bound)
        assert br.lower_bound - br.roundoff <= opt_upper


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
    Bernoulli one, by their own balls."""
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
    loose = checker.certify(ds, theta, penalty=penalty)
    assert loose.roundoff > 100 * cert.roundoff
