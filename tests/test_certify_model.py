"""The checker's cost models (:mod:`dualmaxent.certify`): they choose how its Newton step is
computed, never what is proved, so what is tested here is the choice they make and that the
bracket of the step so chosen still holds the optimum.

* ``_krylov_products`` promises no rate where the row sample has no more rows than the
  dimensions it must cover (``units <= 1``), and at least the Marchenko-Pastur rate
  ``2 / log10(units)`` products a decade above it;
* ``_curvature_products`` is the lesser of its two models, each written out here;
* a two-class unpenalised design of 200 to 400 columns and 4 to 5 rows per column, where a
  row sample could have only one or two rows per entry and the full curvature costs few
  products (the first model alone said 30 to 60: the sampled step was taken at 2000 x 400),
  forms the full curvature, and its bracket holds the optimum found here independently, by
  Newton's method on the log-likelihood written out.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy.special import expit

from dualmaxent import Dataset, certify, solve_dual
from dualmaxent.bench_sweep import make_data

checker = importlib.import_module("dualmaxent.certify")


@pytest.mark.parametrize("decades", [0.5, 2.0, 7.0])
def test_the_krylov_rule_promises_no_rate_below_two_rows_per_dimension(decades):
    assert checker._krylov_products(decades, 1) == np.inf
    assert checker._krylov_products(decades, 0.5) == np.inf
    assert checker._krylov_products(0.0, 1) == 1.0  # nothing to gain: no product
    for units in (1.5, 2, 3, 4, 18, 64):
        rate = (checker._krylov_products(decades, units) - 1.0) / decades
        assert rate >= 2.0 / np.log10(units) - 1e-12
        assert rate >= 1.0 + 5.0 / np.sqrt(units) - 1e-12
    assert (checker._krylov_products(decades, 2) > checker._krylov_products(decades, 4)
            > checker._krylov_products(decades, 16) > 1.0)


@pytest.mark.parametrize("size,m,q", [(11, 11, 1), (51, 51, 1), (459, 51, 10), (99, 11, 10),
                                      (301, 301, 1), (601, 601, 1), (602, 301, 3)])
def test_the_curvature_costs_the_lesser_of_its_two_models(size, m, q):
    narrow = size ** 2 / (checker.PRODUCT_COST * (m + checker.PRODUCT_COLUMNS) * q)
    wide = size * (size + checker.SYRK_HALF_WIDTH) / (checker.PRODUCT_FLOP_RATIO * m
                                                      * q ** 0.3)
    got = checker._curvature_products(size, m, q)
    assert got == pytest.approx(min(narrow, wide), rel=1e-12)
    assert got <= narrow


def _newton_optimum(X1, t):
    """The unpenalised two-class log-likelihood's maximiser by Newton's method, written out."""
    beta = np.zeros(X1.shape[1])
    for _ in range(60):
        p = expit(X1 @ beta)
        g = X1.T @ (t - p)
        H = (X1 * (p * (1 - p))[:, None]).T @ X1
        step = np.linalg.solve(H, g)
        beta += step
        if np.max(np.abs(step)) < 1e-13 * max(1.0, np.max(np.abs(beta))):
            break
    eta = X1 @ beta
    return float(np.sum(t * eta - np.logaddexp(0.0, eta)))


@pytest.mark.parametrize("n,m", [(800, 200), (2000, 400)])
def test_a_design_of_few_rows_per_column_forms_the_full_curvature(monkeypatch, n, m):
    X, y = make_data(n, m, 2)
    ds = Dataset.from_arrays(X, y)
    theta = solve_dual(ds).theta
    calls = []
    step = checker._sampled_step
    monkeypatch.setattr(checker, "_sampled_step",
                        lambda *a, **k: calls.append(1) or step(*a, **k))
    cert = certify(ds, theta)
    assert calls == []  # no sampled step: the full curvature at once
    X1 = np.column_stack([X, np.ones(n)])
    t = (y == y.max()).astype(float)
    best = _newton_optimum(X1, t)
    # max entropy = -max loglik: the bracket holds it, to its own round-off
    assert cert.lower_bound - cert.roundoff <= -best <= cert.upper_bound + cert.roundoff
    assert cert.upper_bound - cert.lower_bound <= 1e-6 * max(1.0, abs(best))
