"""The source notes, executable: one test per claim, in the order of the notes.

``pytest tests/test_notes.py -v`` reads as the notes' table of contents. ``docs/notes.md``
restates each claim and erratum in our words (the notes themselves are not in the repository):

* the information-theory note, "Logistic Regression & Information Theory" (Jörke);
* the Newton note, headed "Binary Logistic Regression" but multinomial (Avram);
* the GLM note, "Generalized Linear Models Explained".

Each docstring names the note and its equation or section. A test named ``test_erratum_...``
builds the note's formula exactly as printed, shows that it disagrees with a finite difference or
a reference, and that the corrected form (``docs/notes.md``) agrees.
Symbols are the package's (``X`` (n, m) with the intercept last, ``Y`` (n, k) one-hot, ``theta``
(m, k), ``eta = X @ theta``, sums over observations, nats); the notes' own names are given where
they differ. The examples script ``examples/the_notes.py`` walks the same claims in the same order.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.optimize
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from _factories import make_dataset, overlapping
from _notes_helpers import central_gradient, central_jacobian, cross_entropy, kl_divergence
from dualmaxent import Dataset, load_dataset, solve_dual, solve_primal
from dualmaxent import _numerics as nx
from dualmaxent._kernels import categorical_vgh
from dualmaxent.exceptions import ConvergenceWarning
from dualmaxent.families import get_family

CATEGORICAL = get_family("categorical")


@pytest.fixture(scope="module")
def blobs():
    """The built-in blobs (n = 300, m = 3, k = 3), solved once by the primal and by the dual."""
    ds = load_dataset("blobs")
    return ds, solve_primal(ds, gauge="full"), solve_dual(ds)


def _loglik(ds, theta):
    """``l(theta) = sum_j w_j log softmax(x_j^T theta)_{y_j}`` (the note's eq. (5) times n)."""
    return CATEGORICAL.canonical_loglik(ds.Y, ds.X @ theta, ds.weights)


def _lagrangian(ds, P, theta, mu):
    """The Lagrangian of A.2, ``sum p log p + sum_i theta_i^T (X^T Y - X^T P)_i + mu^T (P 1 - 1)``.

    ``P`` of shape (n, k) (the note's ``p_ij`` transposed), ``theta`` (m, k), ``mu`` (n,).
    """
    balance = ds.X.T @ (ds.Y - P)  # (m, k): one row of constraints per feature, column per class
    return (float(nx.xlogx(P).sum()) + float(np.sum(theta * balance))
            + float(mu @ (P.sum(axis=1) - 1.0)))


# ================================================================================================
# Information-theory note (Jörke, "Logistic Regression & Information Theory")
# ================================================================================================

def test_the_sigmoid_is_the_inverse_of_the_logit():
    """Information-theory note, section 1, eqs. (1)-(3).

    ``logit(p) = ln(p / (1 - p))`` and ``sigma(x) = e^x / (1 + e^x) = 1 / (1 + e^-x)`` are inverse
    functions, so the log-odds of ``f(x; theta) = sigma(theta^T x)`` is ``theta^T x``.
    """
    p = np.linspace(1e-6, 1 - 1e-6, 2001)
    logit = np.log(p / (1 - p))  # eq. (2), as printed
    np.testing.assert_allclose(nx.sigmoid(logit), p, rtol=1e-12)
    x = np.linspace(-30, 30, 2001)
    s = nx.sigmoid(x)
    np.testing.assert_allclose(np.exp(x) / (1 + np.exp(x)), s, rtol=1e-14)  # both forms of (3)
    np.testing.assert_allclose(1 / (1 + np.exp(-x)), s, rtol=1e-14)
    # logit inverts sigma too, where 1 - s keeps enough digits (|x| <= 15: 1 - s >= 3e-7)
    inner = np.abs(x) <= 15
    np.testing.assert_allclose(np.log(s / (1 - s))[inner], x[inner], atol=1e-8)


def test_the_softmax_of_two_classes_is_the_sigmoid_of_the_difference():
    """Information-theory note, section 1, eq. (4) with k = 2 (and the pivot theta_k = 0).

    ``softmax(a, b)_1 = sigma(a - b)``: two-class multinomial regression is binary logistic
    regression (1) with ``theta = theta_1 - theta_2``, as a Bernoulli fit confirms.
    """
    rng = np.random.default_rng(0)
    eta = rng.normal(scale=5.0, size=(200, 2))
    np.testing.assert_allclose(nx.softmax(eta)[:, 0], nx.sigmoid(eta[:, 0] - eta[:, 1]),
                               rtol=1e-12, atol=1e-300)
    # on data: the categorical fit pins class 2 (theta_2 = 0), so theta_1 is the Bernoulli theta
    # for "class 2", the second sorted label, with the opposite sign
    ds = overlapping(n=120, p=2, k=2, seed=5)
    two = solve_dual(ds)
    bern = solve_dual(Dataset.from_arrays(ds.X[:, :-1], ds.y, family="bernoulli"))
    np.testing.assert_allclose(two.theta[:, 0], -bern.theta, atol=1e-8)
    assert two.loglik == pytest.approx(bern.loglik, rel=1e-12)


def test_gauge_invariance_a_common_shift_of_every_theta_leaves_p_unchanged(blobs):
    """Information-theory note, footnote 2 (moved here from test_dual.py).

    ``softmax(x^T (theta_i + eps))`` over ``i`` equals ``softmax(x^T theta_i)`` for any vector
    ``eps``; ``theta'_i = theta_i - theta_k`` converts any theta to the pinned form
    ``theta'_k = 0``.
    """
    ds, _, dual = blobs
    assert np.all(dual.theta[:, -1] == 0.0)  # the solver reports the pinned form
    eps = np.random.default_rng(0).normal(size=(ds.m, 1))
    shifted = dual.theta + eps
    P = nx.softmax(ds.X @ dual.theta)
    np.testing.assert_allclose(nx.softmax(ds.X @ shifted), P, atol=1e-14)
    assert _loglik(ds, shifted) == pytest.approx(_loglik(ds, dual.theta), rel=1e-13)
    np.testing.assert_allclose(shifted - shifted[:, -1:], dual.theta, atol=1e-13)
    # a shift that differs between classes is not a gauge change
    assert np.abs(nx.softmax(ds.X @ (dual.theta + np.eye(ds.m, ds.k))) - P).max() > 1e-2


def test_entropy_cross_entropy_and_kl_definitions_and_h_p_q_is_h_p_plus_kl():
    """Information-theory note, section 2, "Information Theory Primer".

    ``H(p) = sum p log(1/p)``, ``H(p, q) = -sum p log q``, ``D_KL(p||q) = -sum p log(q/p)`` and
    ``H(p, q) = H(p) + D_KL(p||q)``; so ``min_q H(p, q)`` is attained at ``q = p`` (minimum cross
    entropy), and ``D_KL`` is not symmetric.
    """
    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(6), size=50), rng.dirichlet(np.ones(6), size=50)
    H = np.array([nx.entropy(row) for row in p])  # the package's entropy, one row at a time
    np.testing.assert_allclose(H, np.sum(p * np.log(1 / p), axis=1), rtol=1e-13)
    # references: scipy's entropy(p, q) is the KL divergence, rel_entr its summand
    np.testing.assert_allclose(kl_divergence(p, q), scipy.stats.entropy(p, q, axis=1), rtol=1e-12)
    np.testing.assert_allclose(kl_divergence(p, q),
                               scipy.special.rel_entr(p, q).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(cross_entropy(p, q), H + kl_divergence(p, q), rtol=1e-13)
    assert np.all(kl_divergence(p, q) > 0)
    np.testing.assert_allclose(kl_divergence(p, p), 0.0, atol=1e-15)
    np.testing.assert_allclose(cross_entropy(p, p), H, rtol=1e-13)
    assert np.abs(kl_divergence(p, q) - kl_divergence(q, p)).max() > 1e-2


def test_the_empirical_cross_entropy_converges_to_the_cross_entropy():
    """Information-theory note, section 2 and appendix A.1.

    With ``(x_i, y_i)`` drawn from ``Pr(X, Y)``, ``-1/n sum_i log q(y_i | x_i)`` tends to the
    conditional cross-entropy ``sum_x Pr(x) H(Pr(Y | x), q(. | x))``, which decomposes as
    ``D_KL(Y || Y_theta | X) + H(Y | X)``. A fixed seed keeps the test deterministic; the bound is
    four standard errors, ``4 sd / sqrt(n)``, with ``sd`` the exact spread of ``-log q(Y | X)``.
    """
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.normal(size=(5, 2)), np.ones(5)])  # five feature vectors (finite X)
    px = rng.dirichlet(np.ones(5))
    truth = nx.softmax(X @ rng.normal(size=(3, 3)))  # Pr(Y | x), (5, 3)
    logq = nx.log_softmax(X @ rng.normal(size=(3, 3)))  # a model q = Pr_theta(Y | x)
    H = px @ cross_entropy(truth, np.exp(logq))
    assert H == pytest.approx(px @ kl_divergence(truth, np.exp(logq))
                              + px @ np.array([nx.entropy(t) for t in truth]), rel=1e-13)
    joint = (px[:, None] * truth).ravel()  # Pr(X = x, Y = y), x-major
    sd = np.sqrt(joint @ logq.ravel() ** 2 - H**2)
    errors = []
    for n in (10**3, 10**4, 10**5, 10**6):
        cells = rng.choice(joint.size, size=n, p=joint)
        H_hat = -np.mean(logq.ravel()[cells])
        errors.append(abs(H_hat - H))
        assert errors[-1] <= 4 * sd / np.sqrt(n), n
    assert errors[-1] < 1e-2 * H  # and at n = 10^6 it is within 1% of H


def test_maximum_likelihood_minimises_the_empirical_cross_entropy(blobs):
    """Information-theory note, section 2, eq. (5).

    ``H_hat(theta) = -1/n sum_i log Pr_theta(y_i | x_i) = -l(theta) / n``, so the maximum
    likelihood estimate is a minimiser of the empirical cross-entropy: minimising ``H_hat``
    directly (scipy's BFGS, no dualmaxent code) gives the same probabilities as ``solve_dual``.
    """
    ds, _, dual = blobs
    labels = ds.Y.argmax(axis=1)

    def H_hat(flat):
        logp = nx.log_softmax(ds.X @ flat.reshape(ds.m, ds.k))
        return -np.mean(logp[np.arange(ds.n), labels])

    rng = np.random.default_rng(3)
    theta = rng.normal(size=(ds.m, ds.k))
    assert H_hat(theta.ravel()) == pytest.approx(-_loglik(ds, theta) / ds.n, rel=1e-13)
    best = scipy.optimize.minimize(H_hat, np.zeros(ds.m * ds.k), method="BFGS",
                                   options={"gtol": 1e-10})
    assert best.fun == pytest.approx(-dual.loglik / ds.n, rel=1e-9)
    np.testing.assert_allclose(nx.softmax(ds.X @ best.x.reshape(ds.m, ds.k)),
                               nx.softmax(ds.X @ dual.theta), atol=1e-5)
    for _ in range(20):  # and theta* beats every nearby theta
        assert H_hat(dual.theta.ravel()) < H_hat(dual.theta.ravel() + 1e-2 * rng.normal(size=9))


def test_the_balance_equations_6_hold_at_the_optimum(blobs):
    """Information-theory note, section 3, eq. (6) and its simplified form.

    At ``theta*`` the gradient of the log-likelihood vanishes, which reads
    ``sum_i 1[y_i = t] x_i = sum_i Pr_theta*(Y = t | x_i) x_i`` for every class ``t``:
    ``X^T Y = X^T P*``. The intercept row is the simplified form: class counts equal the model's
    class totals.
    """
    ds, _, dual = blobs
    P = nx.softmax(ds.X @ dual.theta)
    scale = np.abs(ds.X.T @ ds.Y).max()
    np.testing.assert_allclose(ds.X.T @ P, ds.X.T @ ds.Y, atol=1e-9 * scale)
    np.testing.assert_allclose(P.sum(axis=0), ds.Y.sum(axis=0), atol=1e-9 * ds.n)
    _, G, _ = categorical_vgh(ds.X, ds.Y, ds.weights, dual.theta, hessian=False)
    np.testing.assert_allclose(G, ds.X.T @ (ds.Y - P), atol=1e-12 * scale)  # gradient = residual
    # away from the optimum the equations fail (a shift that is not a gauge change, see above)
    moved = dual.theta + 0.1 * np.eye(ds.m, ds.k)
    assert np.abs(ds.X.T @ (ds.Y - nx.softmax(ds.X @ moved))).max() > 1e-3 * scale


def test_erratum_eq_6_the_right_hand_side_is_pr_y_equals_t_not_y_t(blobs):
    """Information-theory note, eq. (6), erratum.

    As printed the right-hand side is ``sum_i Pr(Y = y_t | x_i) x_i``, with ``y_t`` the label of
    observation ``t``; it must be ``Pr(Y = t | x_i)``. The two coincide when the first k
    observations happen to be labelled 1, ..., k (as in the blobs file), so the rows are rotated
    by one first, which changes neither theta* nor the balance equations.
    """
    ds, _, dual = blobs
    rows = np.roll(np.arange(ds.n), -1)
    X, Y = ds.X[rows], ds.Y[rows]
    y_t = Y[:ds.k].argmax(axis=1)  # labels of observations t = 1..k
    assert np.any(y_t != np.arange(ds.k))
    P = nx.softmax(X @ dual.theta)
    lhs = X.T @ Y
    printed = X.T @ P[:, y_t]
    corrected = X.T @ P
    scale = np.abs(lhs).max()
    assert np.abs(printed - lhs).max() > 0.1 * scale
    np.testing.assert_allclose(corrected, lhs, atol=1e-9 * scale)


def test_the_dual_of_the_max_entropy_problem_8_is_the_log_likelihood(blobs):
    """Information-theory note, section 4, eq. (8), and appendix A.2.

    For every theta, ``min_p L(p, theta, mu)`` over the simplex is attained at
    ``p = softmax(X theta)`` and equals ``l(theta)``; hence (weak duality) ``l(theta) <= -H(P*)``
    for every theta, with equality at theta* (strong duality, Slater).
    """
    ds, primal, dual = blobs
    rng = np.random.default_rng(4)
    mu = rng.normal(size=ds.n)  # irrelevant on the simplex, where the sum-to-one term vanishes
    for _ in range(5):
        theta = rng.normal(size=(ds.m, ds.k))
        P = nx.softmax(ds.X @ theta)
        value = _lagrangian(ds, P, theta, mu)
        assert value == pytest.approx(_loglik(ds, theta), rel=1e-12)
        # p(theta) minimises L on the simplex: moving along a direction that keeps rows summing
        # to one (and p > 0) can only increase L
        for _ in range(5):
            D = rng.normal(size=P.shape)
            D -= D.mean(axis=1, keepdims=True)
            step = 1e-3 * P.min() / np.abs(D).max()
            assert _lagrangian(ds, P + step * D, theta, mu) > value
        assert _loglik(ds, theta) < -primal.entropy
    assert _loglik(ds, dual.theta) == pytest.approx(-primal.entropy, rel=1e-8)


def test_erratum_a2_the_stationarity_condition_has_minus_theta_x(blobs):
    """Information-theory note, appendix A.2, erratum (ours; docs/notes.md, "A.2, stationarity").

    As printed, ``dL/dp_ij = 1 + log p_ij + theta_i^T x_j + mu_j``; the balance term enters the
    Lagrangian as ``- theta_i^T sum_j p_ij x_j``, so the derivative is
    ``1 + log p_ij - theta_i^T x_j + mu_j`` and ``p_ij = exp(theta_i^T x_j - mu_j - 1)``. (The
    printed ``p_ij = exp(theta_i^T x_j + mu_j + 1)`` does not follow from the printed derivative
    either; after normalisation both give the softmax, so the final result stands.)
    """
    ds, _, _ = blobs
    rng = np.random.default_rng(5)
    theta, mu = rng.normal(size=(ds.m, ds.k)), rng.normal(size=ds.n)
    P = rng.dirichlet(np.ones(ds.k), size=ds.n)
    fd = central_gradient(lambda Q: _lagrangian(ds, Q, theta, mu), P)
    eta = ds.X @ theta
    printed = 1 + np.log(P) + eta + mu[:, None]
    corrected = 1 + np.log(P) - eta + mu[:, None]
    assert np.abs(printed - fd).max() > 1.0
    np.testing.assert_allclose(corrected, fd, atol=1e-6)
    # the corrected stationary point, normalised, is the softmax
    stationary = np.exp(eta - 1)
    np.testing.assert_allclose(stationary / stationary.sum(axis=1, keepdims=True),
                               nx.softmax(eta), rtol=1e-12)


def test_erratum_a2_the_substituted_line_has_minus_log_sum_exp(blobs):
    """Information-theory note, appendix A.2, erratum: the "+ log" line.

    Substituting ``p_ij = softmax`` into the Lagrangian, one line reads
    ``sum_j theta_{y_j}^T x_j + log(sum_i exp(theta_i^T x_j)) sum_i p_ij``; it must be ``-``, as
    the next line (the log-likelihood) and the value of the Lagrangian itself confirm.
    """
    ds, _, _ = blobs
    theta = np.random.default_rng(6).normal(size=(ds.m, ds.k))
    eta = ds.X @ theta
    P = nx.softmax(eta)
    lagrangian = _lagrangian(ds, P, theta, np.zeros(ds.n))
    first = np.sum(ds.Y * eta)  # sum_j theta_{y_j}^T x_j
    lse_term = nx.logsumexp(eta) @ P.sum(axis=1)
    printed, corrected = first + lse_term, first - lse_term
    assert abs(printed - lagrangian) > 0.1 * abs(lagrangian)
    assert corrected == pytest.approx(lagrangian, rel=1e-12)
    assert corrected == pytest.approx(_loglik(ds, theta), rel=1e-12)


def test_erratum_the_dual_variable_is_m_by_k_not_k_by_n(blobs):
    """Information-theory note, section 4 and A.2, erratum: ``Theta`` is in ``R^{m x k}``.

    There is one multiplier per balance equation, ``X^T P = X^T Y`` has shape (m, k), and
    ``theta_i^T x_j`` needs ``theta_i`` in ``R^m``. With the printed ``theta_i`` in ``R^n`` (the
    rows of ``Theta`` in ``R^{k x n}``) the linear predictor cannot even be formed.
    """
    ds, primal, dual = blobs
    assert (ds.X.T @ ds.Y).shape == (ds.m, ds.k) == dual.theta.shape == primal.theta.shape
    printed = np.zeros((ds.k, ds.n))
    with pytest.raises(ValueError):
        printed[0] @ ds.X[0]  # theta_1^T x_1 with theta_1 in R^n and x_1 in R^m
    # the m x k multipliers CVXPY returns (converted once, in primal.py) are the dual's theta
    np.testing.assert_allclose(primal.theta - primal.theta[:, -1:], dual.theta, atol=1e-5)


def test_p_star_is_the_softmax_of_x_theta_star(blobs):
    """Information-theory note, section 4 and A.2: ``p*_ij = softmax(theta*^T x_j)_i``.

    The maximum-entropy optimum (CVXPY) is the softmax of the likelihood maximiser (Newton), and
    of the primal's own multipliers.
    """
    ds, primal, dual = blobs
    np.testing.assert_allclose(primal.P, nx.softmax(ds.X @ dual.theta), atol=1e-6)
    np.testing.assert_allclose(primal.P, nx.softmax(ds.X @ primal.theta), atol=1e-6)


def test_the_maximum_entropy_is_minus_the_maximum_log_likelihood(blobs):
    """Information-theory note, section 4 and A.2: ``H(P*) = -l(theta*)``.

    Both sides from their definitions: the Shannon entropy of the primal optimum, and the
    log-likelihood at the dual optimum.
    """
    ds, primal, dual = blobs
    H = nx.entropy(primal.P, ds.weights)
    assert H == pytest.approx(-_loglik(ds, dual.theta), rel=1e-8)
    assert 0 < H < ds.n * np.log(ds.k)  # the balance equations bind: below the uniform (7)


# ================================================================================================
# Newton note (Avram, "Binary Logistic Regression", in fact the multinomial case)
# ================================================================================================

def _pivot_point(k, seed):
    """Data and a point in the pivot parameterisation: ``B`` (k-1, m) holds theta_1..theta_{k-1}
    (class-major, as the note's flattened theta), theta_K = 0."""
    ds = overlapping(n=60, p=2, k=k, seed=k)
    B = np.random.default_rng(seed).normal(scale=0.5, size=(k - 1, ds.m))
    return ds, B


def _full(B):
    """theta (m, K) from the pivot parameters ``B`` (K-1, m): the last column pinned to zero."""
    return np.column_stack([B.T, np.zeros(B.shape[1])])


def _pivot_gradient(ds, B):
    """The note's gradient ``sum_r x_r (delta_{y_r j} - p_jr)`` for j < K, shape (K-1, m)."""
    return (ds.X.T @ (ds.Y - nx.softmax(ds.X @ _full(B))))[:, :-1].T


def _weights(P, q):
    """The note's ``W_ij = diag(p_ir (delta_ij - p_jr))``, as the diagonals, for i, j < q."""
    return [[P[:, i] * ((i == j) - P[:, j]) for j in range(q)] for i in range(q)]


def _block_hessian(ds, W):
    """The corrected Hessian: blocks ``-X^T W_ij X`` (m, m), class-major."""
    return np.block([[-ds.X.T @ (ds.X * Wij[:, None]) for Wij in row] for row in W])


@pytest.mark.parametrize("k", [2, 3, 5])
def test_newton_gradient_and_block_hessian_match_finite_differences(k):
    """Newton note, "Gradient Calculations", with the corrected Hessian (moved from test_dual.py).

    ``dl/dtheta_j = sum_r x_r (delta_{y_r j} - p_jr)`` and
    ``d^2 l / dtheta_i dtheta_j = -X^T W_ij X``, ``W_ij = diag(p_ir (delta_ij - p_jr))``, for the
    K - 1 free classes; the Hessian is negative definite (l is concave).
    """
    ds, B = _pivot_point(k, seed=k)
    P = nx.softmax(ds.X @ _full(B))
    grad = _pivot_gradient(ds, B).ravel()  # class-major, as the note flattens theta
    np.testing.assert_allclose(grad, central_gradient(lambda b: _loglik(ds, _full(b)), B).ravel(),
                               rtol=1e-6, atol=1e-6)
    H = _block_hessian(ds, _weights(P, k - 1))
    np.testing.assert_allclose(H, central_jacobian(lambda b: _pivot_gradient(ds, b), B),
                               rtol=1e-6, atol=1e-6)
    # the package's blocked kernel returns the same curvature (-H) for the free classes
    _, G, C = categorical_vgh(ds.X, ds.Y, ds.weights, _full(B), classes=range(k - 1))
    np.testing.assert_allclose(G[:, :-1].T.ravel(), grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(-C, H, rtol=1e-10, atol=1e-10)
    assert np.all(np.linalg.eigvalsh(H) < 0)


def test_erratum_newton_hessian_lost_minus_sign_and_block_is_xt_w_x():
    """Newton note, compact Hessian formula, erratum.

    As printed, ``d^2 l / dtheta_i dtheta_j = sum_r x_r x_r^T p_ir (delta_ij - p_jr)`` (positive
    semidefinite, impossible for a concave l) and ``H_ij = W_ij`` (an n x n diagonal, not an m x m
    block). Corrected: ``H_ij = -X^T W_ij X``, which matches the finite differences.
    """
    ds, B = _pivot_point(3, seed=7)
    W = _weights(nx.softmax(ds.X @ _full(B)), 2)
    H_fd = central_jacobian(lambda b: _pivot_gradient(ds, b), B)
    # as printed: a sum of outer products x_r x_r^T, one observation at a time, without the minus
    printed = np.block([[sum(np.outer(x, x) * Wij[r] for r, x in enumerate(ds.X)) for Wij in row]
                        for row in W])
    assert np.abs(printed - H_fd).max() > 0.5 * np.abs(H_fd).max()
    np.testing.assert_allclose(printed, -H_fd, rtol=1e-6, atol=1e-6)  # off by exactly the sign
    assert np.diag(W[0][0]).shape == (ds.n, ds.n) != (ds.m, ds.m)  # "H_ij = W_ij": wrong shape
    np.testing.assert_allclose(_block_hessian(ds, W), H_fd, rtol=1e-6, atol=1e-6)


def test_newton_from_the_pivot_converges_quadratically():
    """Newton note, "Construction" (theta_K = 0) and its Hessian, used for Newton's method.

    With ``e_t = max |theta_t - theta*|`` after t Newton iterations, the ratio of successive
    errors ``e_{t+1} / e_t`` falls towards zero while ``e_{t+1} / e_t^2`` stays bounded:
    quadratic convergence. Gradient ascent on the same data, for contrast, is only linear.
    """
    ds = overlapping(n=200, p=3, k=3, seed=8)
    star = solve_dual(ds, method="newton", tol=1e-14).theta

    def errors(method, iterations):
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # stopped early on purpose
            for t in iterations:
                out.append(np.abs(solve_dual(ds, method=method, max_iter=t).theta - star).max())
        return np.array(out)

    e = errors("newton", range(8))
    tail = (e[:-1] < 0.1) & (e[1:] > 1e-12)  # the quadratic phase, above the round-off floor
    assert tail.sum() >= 2
    linear, quadratic = (e[1:] / e[:-1])[tail], (e[1:] / e[:-1] ** 2)[tail]
    assert np.all(np.diff(linear) < 0) and linear[-1] < 1e-2
    assert np.all(quadratic < 10.0)
    g = errors("gradient", range(20, 26))
    assert np.all(g[1:] / g[:-1] > 0.3)  # linear: the ratio does not fall towards zero


# ================================================================================================
# GLM note ("Generalized Linear Models Explained")
# ================================================================================================

def test_the_gaussian_mle_is_least_squares_and_solves_the_normal_equations():
    """GLM note, "MLE for Linear Regression" and "Deriving the Gradient".

    ``l(theta) = N log(1 / sqrt(2 pi sigma^2)) - RSS(theta) / (2 sigma^2)``, so the maximiser is
    the least-squares fit and solves ``X^T X theta = X^T y``, whatever sigma.
    """
    ds = make_dataset("gaussian")
    theta = solve_dual(ds).theta
    sigma = 1.7
    X, y = ds.X, ds.Y

    def ell(t):
        return scipy.stats.norm.logpdf(y, loc=X @ t, scale=sigma).sum()  # the reference density

    rss = np.sum((y - X @ theta) ** 2)
    assert ell(theta) == pytest.approx(ds.n * np.log(1 / np.sqrt(2 * np.pi * sigma**2))
                                       - rss / (2 * sigma**2), rel=1e-13)
    np.testing.assert_allclose(theta, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10)
    np.testing.assert_allclose(theta, np.linalg.solve(X.T @ X, X.T @ y), rtol=1e-9)
    rng = np.random.default_rng(9)
    assert all(ell(theta) > ell(theta + 1e-2 * rng.normal(size=ds.m)) for _ in range(20))


def test_erratum_the_gaussian_gradient_has_no_minus_sign():
    """GLM note, "Deriving the Gradient of the Log-Likelihood", erratum.

    As printed, ``dl/dtheta = -(1/sigma^2) X^T (y - X theta)``; the finite difference of the
    Gaussian log-density says ``+(1/sigma^2) X^T (y - X theta)``. Both vanish at the same theta,
    so the normal equations that follow are right.
    """
    ds = make_dataset("gaussian")
    X, y, sigma = ds.X, ds.Y, 1.7
    theta = np.random.default_rng(10).normal(size=ds.m)
    fd = central_gradient(lambda t: scipy.stats.norm.logpdf(y, loc=X @ t, scale=sigma).sum(), theta)
    printed = -(1 / sigma**2) * X.T @ (y - X @ theta)
    corrected = (1 / sigma**2) * X.T @ (y - X @ theta)
    assert np.abs(printed - fd).max() > 0.5 * np.abs(fd).max()
    np.testing.assert_allclose(corrected, fd, rtol=1e-6)


@pytest.mark.parametrize("family", ["bernoulli", "poisson"])
def test_the_bernoulli_and_poisson_gradients_are_x_times_y_minus_the_mean(family):
    """GLM note, "Gradient Ascent for Logistic Regression" and "Gradient for Poisson Regression".

    ``dl/dtheta = sum_n (y_n - f(theta^T x_n)) x_n`` with ``f`` the logistic function, and
    ``sum_i x_i (y_i - e^{w^T x_i})``, against central differences of the log-likelihoods as the
    note writes them (Bernoulli ``y log f + (1 - y) log(1 - f)``; Poisson with ``log y!``), which
    are also the package's reported log-likelihoods.
    """
    ds = make_dataset(family)
    fam = get_family(family)
    X, y = ds.X, ds.Y
    theta = np.random.default_rng(11).normal(scale=0.3, size=ds.m)

    def ell(t):
        eta = X @ t
        if family == "bernoulli":
            f = nx.sigmoid(eta)
            return np.sum(y * np.log(f) + (1 - y) * np.log(1 - f))
        return np.sum(y * eta - nx.exp(eta) - scipy.special.gammaln(y + 1))

    assert ell(theta) == pytest.approx(fam.loglik(y, X @ theta, ds.weights), rel=1e-12)
    mean = nx.sigmoid(X @ theta) if family == "bernoulli" else nx.exp(X @ theta)
    np.testing.assert_allclose(mean, fam.mean(X @ theta), rtol=1e-14)
    np.testing.assert_allclose(X.T @ (y - mean), central_gradient(ell, theta), rtol=1e-6, atol=1e-6)


def test_the_gradient_of_log_sum_exp_is_the_softmax():
    """GLM note, "Derivative of Log-Sum-Exp" (and step 4 of the multinomial gradient).

    ``d LSE(s) / ds_j = softmax(s)_j``; by the chain rule, with ``s_j = w_j^T x``,
    ``grad_{w_j} LSE(W^T x) = softmax(W^T x)_j x``.
    """
    rng = np.random.default_rng(12)
    for s in rng.normal(scale=3.0, size=(10, 5)):
        np.testing.assert_allclose(
            central_gradient(lambda v: nx.logsumexp(v[None, :])[0], s), nx.softmax(s[None, :])[0],
            rtol=1e-7, atol=1e-9)
    x, W = rng.normal(size=4), rng.normal(size=(4, 5))
    np.testing.assert_allclose(central_gradient(lambda V: nx.logsumexp((x @ V)[None, :])[0], W),
                               np.outer(x, nx.softmax((x @ W)[None, :])[0]), rtol=1e-7, atol=1e-9)


def test_the_stable_log_sum_exp_equals_the_naive_one_where_that_is_finite():
    """GLM note, "Numerical Stability" (moved here from test_numerics.py, two tests merged).

    ``log sum e^{s_k} = log sum e^{s_k - max s} + max s``: equal to the naive formula where the
    naive one is finite, and finite where it overflows or underflows.
    """
    rng = np.random.default_rng(0)
    eta = rng.normal(size=(50, 4))
    np.testing.assert_allclose(nx.logsumexp(eta), np.log(np.exp(eta).sum(axis=1)), rtol=1e-14)
    huge = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [0.0, -np.inf]])
    with np.errstate(over="ignore", divide="ignore"):
        naive = np.log(np.exp(huge).sum(axis=1))
    assert not np.all(np.isfinite(naive))  # the naive formula fails here
    np.testing.assert_allclose(nx.logsumexp(huge), [1000 + np.log(2), -1000 + np.log(2), 0.0])


_finite = st.floats(min_value=-700.0, max_value=700.0, allow_nan=False)
_eta = arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 5)), elements=_finite)


@settings(max_examples=200, deadline=None)
@given(eta=_eta)
def test_log_sum_exp_lies_between_the_max_and_the_max_plus_log_k(eta):
    """GLM note, "Smooth Maximum Approximation" (moved here from test_numerics.py).

    ``max s <= LSE(s) <= max s + log k`` for any finite scores; the softmax is then a
    distribution whose entropy lies in ``[0, log k]``.
    """
    lse = nx.logsumexp(eta)
    top = eta.max(axis=1)
    assert np.all(np.isfinite(lse))
    assert np.all(lse >= top - 1e-12 * np.abs(top))
    assert np.all(lse <= top + np.log(eta.shape[1]) + 1e-12 * (1 + np.abs(top)))
    P = nx.softmax(eta)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-13)
    H = -np.sum(nx.xlogx(P), axis=1)
    assert np.all(H >= -1e-12) and np.all(H <= np.log(eta.shape[1]) + 1e-12)


# ================================================================================================
# docs/notes.md, the notes in our words
# ================================================================================================

def test_docs_notes_lists_every_line_of_the_notes_script():
    """``docs/notes.md`` states each claim and erratum ``examples/the_notes.py`` checks, under the
    same tag and kind, in the same order; and nothing in the repository points outside it."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "examples" / "the_notes.py")],
                          capture_output=True, text=True, timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = [(tag, "erratum" if kind else "claim") for tag, kind in
               re.findall(r"^\[(.+?)\] (erratum: )?", proc.stdout, flags=re.M)]
    notes = (root / "docs" / "notes.md").read_text(encoding="utf-8")
    listed = re.findall(r"^- `\[(.+?)\]` (claim|erratum):", notes, flags=re.M)
    assert listed == printed
    assert len(printed) >= 25 and sum(kind == "erratum" for _, kind in printed) >= 6
    # each corrected form is given, and the note's title with it
    assert notes.lower().count("**corrected:**") == sum(kind == "erratum" for _, kind in listed)
    for title in ("Logistic Regression & Information Theory", "Binary Logistic Regression",
                  "Generalized Linear Models Explained", "E. T. Jaynes"):
        assert title in notes
    outside = "../" + "shared"  # a folder next to the project, which a clone does not have
    for path in ("examples/the_notes.py", "tests/test_notes.py", "tests/_notes_helpers.py",
                 "README.md", "docs/notes.md"):
        assert outside not in (root / path).read_text(encoding="utf-8"), path

