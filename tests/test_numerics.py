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

from _rounding import gamma


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
    """softmax_logsumexp (one exponential per entry) gives what softmax and logsumexp give
    apart, at extreme scores too."""
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


# The Bernoulli step against 50-digit decimal arithmetic, at the bounds its docstring derives:
# unit roundoff U, exp and log1p assumed within F U relatively (F = 8: four units in the last
# place, above the error of glibc's and numpy's float64 exp and log1p), results below the
# smallest normal number within TINY absolutely.
U = 2.0 ** -53
F = 8
TINY = 4 * (F + 1) * 2.0 ** -1074
_EXTREME = [0.0, -0.0, 5e-324, -5e-324, 1e-300, -1e-300, 1e-9, -1e-9, 0.5, -0.5, 2.0, -2.0,
            36.7, -36.7, 40.0, -40.0, 700.0, -700.0, 708.5, -708.5, 709.8, -709.8, 744.0, -744.0,
            745.0, -745.0, 746.0, -746.0, 1e3, -1e3, 1e300, -1e300]


def _bernoulli_reference(x, y):
    """``(mu, y - mu, var, loss, sigmoid(-|x|))`` of one finite row from their definitions, in
    50 digits, rounded to float64 at the end: ``mu = 1 / (1 + e^-x)``, ``loss = y softplus(-x)
    + (1 - y) softplus(x)``, each softplus ``|x| + log(1 + e^-|x|)`` or ``log(1 + e^-|x|)``
    (no overflow of the decimal exponent at |x| = 1e300 either)."""
    import decimal

    with decimal.localcontext() as ctx:
        ctx.prec = 50
        ctx.Emin, ctx.Emax = -10 ** 6, 10 ** 6
        D = decimal.Decimal
        a = abs(D(float(x)))
        e = (-a).exp() if a < 10 ** 7 else D(0)  # e^-a, 0 to 50 digits beyond
        s_small = e / (1 + e)  # sigmoid(-|x|)
        # softplus(-|x|) = log(1 + e): its series where 1 + e would drop e's digits
        sp_small = (1 + e).ln() if e > D("1e-20") else e - e * e / 2
        mu, one_minus = (1 - s_small, s_small) if x >= 0 else (s_small, 1 - s_small)
        sp_pos = a + sp_small if x >= 0 else sp_small  # softplus(x)
        sp_neg = sp_small if x >= 0 else a + sp_small  # softplus(-x)
        loss = D(float(y)) * sp_neg + (1 - D(float(y))) * sp_pos
        # y - mu as (y - 1) + s or y - s: 1 - s itself has only 50 digits
        y_mu = (D(float(y)) - 1) + s_small if x >= 0 else D(float(y)) - s_small
        return float(mu), float(y_mu), float(mu * one_minus), float(loss), float(s_small)


def test_bernoulli_step_is_within_its_rounding_bound_of_the_definitions():
    """``bernoulli_value_residual`` at scores from 0 (both signs) through the subnormals to
    +-1e300, with labels 0 and 1 and proportions, against the decimal reference: the mean, the
    variance and the weighted residual per row, the log-likelihood per row and summed, within
    the docstring's first-order bounds (plus a fifth for their second-order terms)."""
    rng = np.random.default_rng(7)
    eta = np.array(_EXTREME * 5 + list(rng.standard_normal(40) * 8))
    y = np.concatenate([np.zeros(len(_EXTREME)), np.ones(len(_EXTREME)),
                        np.full(len(_EXTREME), 0.3), np.full(len(_EXTREME), 1e-10),
                        np.full(len(_EXTREME), 1.0 - 2.0 ** -30),
                        (rng.random(40) < 0.5).astype(float)])
    w = rng.uniform(0.25, 3.0, eta.size)
    rows = eta.size
    ref = np.array([_bernoulli_reference(x, t) for x, t in zip(eta, y)])
    mu, y_mu, var, loss, s_small = ref.T
    h = ~np.signbit(eta)
    resid, mean, v = np.empty(rows), np.empty(rows), np.empty(rows)
    work = np.full((2, rows + 5), np.nan)  # longer than the rows, and dirty
    value = nx.bernoulli_value_residual(eta, y, w, resid, var=v, mean=mean, work=work)
    slack = 1.2  # second-order terms of the first-order bounds
    assert np.all(np.abs(mean - mu) <= slack * (2 * F + 3) * U * mu + TINY)
    assert np.all(np.abs(v - var) <= slack * (3 * F + 4) * U * var + TINY)
    # (the reference w (y - mu) itself rounds once: one U more)
    err = np.abs(resid - w * y_mu)
    assert np.all(err <= slack * (2 * F + 5) * U * w * (np.abs(y - h) + s_small) + TINY * w)
    # labels: the residual of y = h is s = +-e / (1 + e), relatively accurate however small
    label = (y == 0) | (y == 1)
    assert np.all(err[label] <= slack * (2 * F + 5) * U * w[label] * np.abs(y_mu[label])
                  + TINY * w[label])
    total = float(np.sum(w * loss))
    assert abs(value + total) <= slack * (gamma(rows + 3) + 2 * F * U) * total
    for j in range(rows):  # row by row: a block of one row, its own bound
        r1 = np.empty(1)
        v1 = nx.bernoulli_value_residual(eta[j:j + 1], y[j:j + 1], w[j:j + 1], r1)
        assert abs(v1 + w[j] * loss[j]) <= slack * (gamma(4) + 2 * F * U) * w[j] * loss[j] + TINY
        assert abs(r1[0] - w[j] * y_mu[j]) <= slack * (2 * F + 5) * U * w[j] * (
            abs(y[j] - h[j]) + s_small[j]) + TINY * w[j]


def test_bernoulli_step_at_zero_infinite_scores_and_in_place():
    """``eta = +-0`` is the midpoint whatever its sign bit; an infinite score gives the limits of
    the mean, residual and variance and a log-likelihood that is not finite (an overflowed
    score is rejected, not mistaken for a good fit); the residual may overwrite ``eta``."""
    eta = np.array([0.0, -0.0, np.inf, -np.inf, np.inf, -np.inf])
    y = np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    w = np.array([2.0, 3.0, 1.0, 1.0, 1.0, 1.0])
    resid, mean, var = np.empty(6), np.empty(6), np.empty(6)
    with np.errstate(invalid="ignore"):
        nx.bernoulli_value_residual(eta, y, w, resid, var=var, mean=mean)
        assert np.array_equal(mean, [0.5, 0.5, 1.0, 0.0, 1.0, 0.0])
        assert np.array_equal(var, [0.25, 0.25, 0.0, 0.0, 0.0, 0.0])
        assert np.array_equal(resid, w * (y - mean))
        for j in range(2, 6):
            assert not np.isfinite(nx.bernoulli_value_residual(eta[j:j + 1], y[j:j + 1],
                                                               w[j:j + 1], np.empty(1)))
    rng = np.random.default_rng(3)
    eta = rng.standard_normal(1000) * 20
    y = (rng.random(1000) < 0.4).astype(float)
    w = rng.uniform(0.5, 2.0, 1000)
    resid = np.empty(1000)
    value = nx.bernoulli_value_residual(eta, y, w, resid)
    same = eta.copy()  # resid written over eta: the same numbers (to the dot products' order)
    assert nx.bernoulli_value_residual(same, y, w, same) == pytest.approx(value, rel=gamma(1003))
    np.testing.assert_allclose(same, resid, rtol=4 * U, atol=0)


@pytest.mark.parametrize("k", [1, 3, 15, 16, 40])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_dot_is_each_rows_inner_product_in_the_tables_precision(k, dtype):
    """Either path (few columns: a product with ones; else einsum) gives every row's inner
    product within ``gamma(k)`` of its precision times the sum of the absolute terms, in that
    precision (against a float64 reference, whose own ``gamma(k)`` is added to the bound)."""
    rng = np.random.default_rng(k)
    a = rng.standard_normal((300, k)).astype(dtype)
    b = rng.standard_normal((300, k)).astype(dtype)
    out = nx.row_dot(a, b)
    assert out.dtype == dtype and out.shape == (300,)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    reference = (a64 * b64).sum(axis=1)

    def g(u):
        return k * u / (1 - k * u)
    bound = (g(np.finfo(dtype).eps / 2) + g(U)) * np.abs(a64 * b64).sum(axis=1)
    assert np.all(np.abs(out - reference) <= bound)


@pytest.mark.parametrize("k", [1, 2, 9, 16, 40])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_row_sums_are_new_arrays_in_the_tables_precision(k, dtype, order):
    """The two row sums (the numerics' and the checker's) of a (b, k) table, one column
    included (a copy there, not numpy's product of inner dimension 1): each row's sum within
    ``gamma(k)`` of the table's precision times its absolute terms, in that precision, a new
    array (writing it leaves the table as it was)."""
    from dualmaxent.certify import _rows
    rng = np.random.default_rng(k)
    a = np.asarray(rng.standard_normal((300, k)).astype(dtype), order=order)
    kept = a.copy()
    a64 = a.astype(np.float64)

    def g(u):
        return k * u / (1 - k * u)
    bound = (g(np.finfo(dtype).eps / 2) + g(U)) * np.abs(a64).sum(axis=1)
    for out in (nx._row_sum(a), _rows(a)):
        assert out.dtype == dtype and out.shape == (300,)
        assert np.all(np.abs(out - a64.sum(axis=1)) <= bound)
        out[:] = np.nan
        np.testing.assert_array_equal(a, kept)


@pytest.mark.parametrize("rows", [0, 1, 2, 3, 7, 8, 1000, 1001])
@pytest.mark.parametrize("cols", [5, 51, 800, 1001])
@pytest.mark.parametrize("order", ["C", "F", "strided"])
def test_column_absmax_is_the_largest_absolute_entry_of_each_column(rows, cols, order):
    """Folded (C order: lines of several rows, and the rows left over), down the columns (F
    order) or by halving (any other layout: every other column of a wider array), every
    column's largest absolute entry, a NaN reaching its column, a column of negative zeros
    giving +0."""
    rng = np.random.default_rng(rows)
    width = 2 * cols if order == "strided" else cols
    a = np.asarray(rng.standard_normal((rows, width)) * 10.0 ** rng.integers(-5, 5, size=width),
                   order="F" if order == "F" else "C")
    if order == "strided":
        a = a[:, ::2]
        assert not (a.flags.c_contiguous or a.flags.f_contiguous) or rows < 2
    a[:, 1] = -np.abs(a[:, 1])  # a column of negative entries only
    a[:, 3] = -0.0
    expected = np.abs(a).max(axis=0, initial=0.0)
    out = nx.column_absmax(a)
    assert np.array_equal(out, expected) and not np.signbit(out).any()
    assert not np.shares_memory(out, a)
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


def test_the_binary_log_probabilities_are_within_their_rounding_bound_of_the_definitions():
    """``log_sigmoid_pair(eta)`` is ``[-softplus(eta), -softplus(-eta)]``, the log-probabilities
    of the two classes at log-odds ``eta``: against the decimal reference at scores from 0
    through the subnormals to +-1e300, each within ``(2 F + 2) u`` of its value (``exp`` and
    ``log1p`` within ``F u`` each, one rounding of the sum of two terms of one sign); the two
    columns' probabilities sum to one; infinite scores give 0 and -inf, NaN stays NaN."""
    rng = np.random.default_rng(5)
    eta = np.array(_EXTREME + list(rng.standard_normal(60) * 30))
    got = nx.log_sigmoid_pair(eta)
    ref = -np.array([[_bernoulli_reference(x, 0.0)[3], _bernoulli_reference(x, 1.0)[3]]
                     for x in eta])
    assert got.shape == (eta.size, 2)
    assert np.all(np.abs(got - ref) <= 1.2 * (2 * F + 2) * U * np.abs(ref) + TINY)
    assert np.all(np.abs(np.exp(got).sum(axis=1) - 1.0) <= 8 * U)
    with np.errstate(invalid="ignore"):
        edge = nx.log_sigmoid_pair(np.array([np.inf, -np.inf, np.nan]))
    assert np.array_equal(edge[:2], [[-np.inf, 0.0], [0.0, -np.inf]])
    assert np.isnan(edge[2]).all()
