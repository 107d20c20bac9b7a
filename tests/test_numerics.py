"""The numerics module: stable log-sum-exp, softmax and entropy in nats."""

import numpy as np
import pytest

from dualmaxent import _numerics as nx


def test_logsumexp_is_stable_for_huge_and_tiny_predictors():
    eta = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [0.0, -np.inf]])
    np.testing.assert_allclose(nx.logsumexp(eta), [1000 + np.log(2), -1000 + np.log(2), 0.0])


def test_logsumexp_matches_naive_formula_where_it_is_safe():
    rng = np.random.default_rng(0)
    eta = rng.normal(size=(50, 4))
    np.testing.assert_allclose(nx.logsumexp(eta), np.log(np.exp(eta).sum(axis=1)), rtol=1e-14)


def test_softmax_rows_are_distributions_and_log_softmax_is_its_log():
    rng = np.random.default_rng(1)
    eta = rng.normal(scale=30, size=(40, 5))
    P = nx.softmax(eta)
    assert np.all(P >= 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-14)
    np.testing.assert_allclose(np.exp(nx.log_softmax(eta)), P, atol=1e-15)


def test_entropy_is_in_nats_summed_over_rows_with_zero_log_zero():
    P = np.array([[0.5, 0.5], [1.0, 0.0]])
    assert nx.entropy(P) == pytest.approx(np.log(2.0))
    assert nx.entropy(P, weights=np.array([2.0, 1.0])) == pytest.approx(2 * np.log(2.0))


def test_sigmoid_and_softplus_are_stable():
    x = np.array([-800.0, 0.0, 800.0])
    np.testing.assert_allclose(nx.sigmoid(x), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(nx.softplus(x), [0.0, np.log(2.0), 800.0])
