"""The numerics module: stable log-sum-exp, softmax and entropy in nats.

The GLM note's claims about log-sum-exp (its gradient, the stable form, the bounds max <= LSE <=
max + log k) are tested in test_notes.py.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dualmaxent import _numerics as nx


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


# Property-based statements: for *any* finite predictors, not just the seeded ones above.

_finite = st.floats(min_value=-700.0, max_value=700.0, allow_nan=False)
_eta = arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 5)), elements=_finite)


@settings(max_examples=200, deadline=None)
@given(eta=_eta, shift=_finite)
def test_softmax_is_invariant_to_a_shift_of_every_score(eta, shift):
    # the gauge freedom at the level of one row: adding c to every class score changes nothing
    np.testing.assert_allclose(nx.softmax(eta + shift), nx.softmax(eta), atol=1e-12)


def test_fused_forms_equal_the_separate_stable_ones():
    """softmax_logsumexp (one exponential per entry) and sigmoid_bernoulli_loss (one per element)
    give what softmax, logsumexp, sigmoid and softplus give apart, at extreme scores too."""
    rng = np.random.default_rng(4)
    eta = np.vstack([rng.standard_normal((40, 5)) * 4, [[800.0, 0, 0, 0, -800.0]],
                     [[-np.inf, 0, 1, 2, 3]], [[-1e3] * 5]])
    P, lse = nx.softmax_logsumexp(eta)
    # exp(eta - logsumexp) loses about |eta| eps to the cancellation of a large shift (the row of
    # -1e3s: 4.6e-14); normalising exp(eta - max) does not
    np.testing.assert_allclose(P, np.exp(nx.log_softmax(eta)), rtol=1e-12, atol=0)
    assert np.all(P[-1] == 0.2) and np.all(P[-2] >= 0) and P[-2, 0] == 0.0
    np.testing.assert_allclose(lse, nx.logsumexp(eta), rtol=1e-15)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-15)
    x = np.concatenate([rng.standard_normal(50) * 5, [0.0, 40.0, -40.0, 800.0, -800.0,
                                                       np.inf, -np.inf]])
    finite = np.isfinite(x)
    for y in (np.zeros_like(x), np.ones_like(x)):  # labels: the loss is softplus(-+eta)
        with np.errstate(invalid="ignore"):
            s, loss = nx.sigmoid_bernoulli_loss(x, y)
        np.testing.assert_allclose(s, nx.sigmoid(x), rtol=1e-15, atol=0)
        np.testing.assert_allclose(loss[finite], nx.softplus(np.where(y == 1, -x, x))[finite],
                                   rtol=1e-15, atol=0)
        assert not np.any(np.isfinite(loss[~finite]))  # an overflowed score has no finite loss
    # a proportion: y softplus(-eta) + (1 - y) softplus(eta), each term computed apart
    y = np.linspace(0.0, 1.0, x.size)
    with np.errstate(invalid="ignore"):  # inf * 0 in the reference at eta = +-inf
        expected = y * nx.softplus(-x) + (1 - y) * nx.softplus(x)
    np.testing.assert_allclose(nx.sigmoid_bernoulli_loss(x, y)[1][finite], expected[finite],
                               rtol=4 * np.finfo(float).eps, atol=0)


@pytest.mark.parametrize("rows", [0, 1, 2, 3, 7, 8, 1000, 1001])
def test_column_absmax_is_the_largest_absolute_entry_of_each_column(rows):
    rng = np.random.default_rng(rows)
    a = rng.standard_normal((rows, 5)) * 10.0 ** rng.integers(-5, 5, size=5)
    expected = np.abs(a).max(axis=0, initial=0.0)
    assert np.array_equal(nx.column_absmax(a), expected)
    assert not np.shares_memory(nx.column_absmax(a), a)
    if rows:
        a[rows // 2, 2] = np.nan  # a NaN anywhere reaches its column's answer, as with numpy
        out = nx.column_absmax(a)
        assert np.isnan(out[2]) and not np.isnan(np.delete(out, 2)).any()


@pytest.mark.parametrize("y", [
    np.array([3, 1, 3, 0, 7, 1]), np.array([5], dtype=np.uint8), np.array([], dtype=int),
    np.array([True, False, True]), np.array([-2, 4, -2]), np.array([0, 10**9, 5]),
    np.array([2.0, 0.5, 2.0]), np.array(["b", "a", "b"]),
    np.random.default_rng(0).integers(0, 40, size=1000)])
def test_unique_inverse_is_numpys(y):
    """The counting path (small non-negative integers) and the fallback give numpy.unique's
    labels, dtype and inverse, and the labels taken at the inverse give y back."""
    labels, inverse = nx.unique_inverse(y)
    expected, expected_inverse = np.unique(y, return_inverse=True)
    assert labels.dtype == expected.dtype
    assert np.array_equal(labels, expected)
    assert np.array_equal(inverse.reshape(-1), expected_inverse.reshape(-1))
    assert np.array_equal(labels[inverse], y)
