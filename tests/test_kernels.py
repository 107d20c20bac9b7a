"""The blocked kernels equal the straightforward formulas; Newton-CG agrees with Newton.

Every kernel is compared with the textbook expression on small random data (several row blocks,
non-uniform weights), at a relative tolerance of 1e-10 (the sums are reordered by the blocking,
nothing else changes).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dualmaxent import _kernels as K
from dualmaxent import _numerics as nx
from dualmaxent.data import Dataset
from dualmaxent.dual import DualObjective, solve_dual
from dualmaxent.families import get_family

from _rounding import gamma

RTOL = 1e-10
SMALL_BLOCKS = 256 * 8 * 5  # 256 rows per block at m = 5: n = 700 spans three blocks


def _close(a, b, rtol=RTOL):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= rtol * (1.0 + np.abs(b).max())


def _data(n=700, m=5, k=4, seed=0):
    rng = np.random.default_rng(seed)
    X = np.hstack([rng.standard_normal((n, m - 1)), np.ones((n, 1))])
    theta = 0.5 * rng.standard_normal((m, k))
    P = nx.softmax(X @ theta)
    labels = (P.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    Y = np.eye(k)[labels]
    w = rng.uniform(0.2, 3.0, n)
    return X, Y, w, theta, rng


def _naive_categorical(X, Y, w, theta):
    P = nx.softmax(X @ theta)
    value = float(w @ (Y * nx.log_softmax(X @ theta)).sum(axis=1))
    G = X.T @ (w[:, None] * (Y - P))
    m, k = theta.shape
    C = np.empty((m * k, m * k))
    for a in range(k):
        for b in range(k):
            d = w * P[:, a] * ((a == b) - P[:, b])
            C[a * m:(a + 1) * m, b * m:(b + 1) * m] = X.T @ (d[:, None] * X)
    return value, G, C, P


def test_gram_matches_the_weighted_product():
    X, _, w, _, rng = _data()
    _close(K.gram(X, w, block_bytes=SMALL_BLOCKS), X.T @ (w[:, None] * X))
    d = rng.standard_normal(len(w))  # mixed signs: the general product path
    _close(K.gram(X, d), X.T @ (d[:, None] * X))
    # unit weights read X's blocks unscaled (sqrt(1) x is x exactly): X^T X, symmetric, and
    # the weighted path's where the weights are the same but for one row's (4: twice x)
    ones = np.ones(len(w))
    unit = K.gram(X, ones, block_bytes=SMALL_BLOCKS)
    _close(unit, X.T @ X)
    np.testing.assert_array_equal(unit, unit.T)
    four = ones.copy()
    four[0] = 4.0
    _close(K.gram(X, four, block_bytes=SMALL_BLOCKS) - 3.0 * np.outer(X[0], X[0]), unit)


def test_gram_of_a_float32_x_in_float32_is_the_float32_gram_of_its_float64_entries():
    """A float32 X with ``dtype=float32`` is read as it is: its entries are the conversions
    the float32 blocks make of the float64 X, so the Gram is bit for bit the float32 Gram of
    the float64 X (unit weights, which read X's blocks unscaled, and others); negative weights
    take the float64 general product of the float32 entries."""
    X, _, w, _, rng = _data()
    X32 = X.astype(np.float32)
    for d in (np.ones(len(w)), w):
        single = K.gram(X32, d, block_bytes=SMALL_BLOCKS, dtype=np.float32)
        assert single.dtype == np.float64
        np.testing.assert_array_equal(single, K.gram(X, d, block_bytes=SMALL_BLOCKS,
                                                     dtype=np.float32))
        assert not np.array_equal(single, K.gram(X, d, block_bytes=SMALL_BLOCKS))
    d = rng.standard_normal(len(w))
    X64 = X32.astype(np.float64)
    np.testing.assert_array_equal(K.gram(X32, d, dtype=np.float32), (X64 * d[:, None]).T @ X64)


@pytest.mark.parametrize("classes", [None, [0, 1, 2], [1, 3]])
def test_categorical_value_gradient_curvature(classes):
    X, Y, w, theta, _ = _data()
    value, G, C, P = _naive_categorical(X, Y, w, theta)
    P_out = np.empty_like(P)
    v, g, c = K.categorical_vgh(X, Y, w, theta, classes=classes, block_bytes=SMALL_BLOCKS,
                                P_out=P_out)
    cls = list(range(theta.shape[1])) if classes is None else classes
    m = X.shape[1]
    cols = (np.asarray(cls)[:, None] * m + np.arange(m)).ravel()
    _close(v, value)
    _close(g, G)
    _close(c, C[np.ix_(cols, cols)])
    _close(P_out, P)
    v2, g2, c2 = K.categorical_vgh(X, Y, w, theta, hessian=False)
    assert c2 is None
    _close(v2, value)
    _close(g2, G)


def test_categorical_hessian_vector_product():
    X, Y, w, theta, rng = _data()
    _, _, C, P = _naive_categorical(X, Y, w, theta)
    V = rng.standard_normal(theta.shape)
    out = K.categorical_hessp(X, w, P, V, block_bytes=SMALL_BLOCKS)
    _close(out.T.ravel(), C @ V.T.ravel())


@pytest.mark.parametrize("family", ["bernoulli", "poisson", "gaussian"])
@pytest.mark.parametrize("sparse, chunk", [(False, None), (False, 100), (True, None), (True, 100)])
def test_one_parameter_value_gradient_curvature(family, sparse, chunk, monkeypatch):
    # chunk: the elementwise step's rows at a time, 100 splitting each block (and the sparse X's
    # one block of 700 rows) into several chunks and a remainder
    if chunk is not None:
        monkeypatch.setattr(nx, "ELEMENTWISE_ROWS", chunk)
    X, _, w, _, rng = _data()
    fam = get_family(family)
    theta = 0.3 * rng.standard_normal(X.shape[1])
    eta = X @ theta
    Y = {"bernoulli": (rng.random(len(w)) < fam.mean(eta)).astype(float),
         "poisson": rng.poisson(np.clip(fam.mean(eta), 0, 50)).astype(float),
         "gaussian": eta + rng.standard_normal(len(w))}[family]
    eta_out, mean_out = np.empty(len(w)), np.empty(len(w))
    Xd = sp.csr_array(X) if sparse else X
    v, g, c = K.glm_vgh(Xd, Y, w, theta, fam, block_bytes=SMALL_BLOCKS, eta_out=eta_out,
                        mean_out=mean_out)
    d = w * fam.variance(eta)
    _close(v, fam.canonical_loglik(Y, eta, w))
    _close(g, X.T @ (w * (Y - fam.mean(eta))))
    _close(c, X.T @ (d[:, None] * X))
    _close(eta_out, eta)
    _close(mean_out, fam.mean(eta))
    u = rng.standard_normal(X.shape[1])
    _close(K.glm_hessp(X, d, u), X.T @ (d[:, None] * X) @ u)


@pytest.mark.parametrize("hessian", [False, True])
@pytest.mark.parametrize("keep", ["none", "eta", "mean", "both"])
@pytest.mark.parametrize("labels", ["binary", "proportions"])
def test_bernoulli_pass_at_large_scores(hessian, keep, labels):
    """The Bernoulli pass (buffers reused across row blocks, ``eta`` computed into ``eta_out``
    or into the residual's buffer) against the definitions, at scores up to +-60, where
    ``1 - p`` would have lost every digit of the variance: value ``-sum w [y softplus(-eta) +
    (1 - y) softplus(eta)]``, gradient ``X^T w (y - expit(eta))``, curvature ``X^T diag(w
    expit(eta) expit(-eta)) X``, and the kept ``eta`` and mean."""
    from scipy.special import expit

    X, _, w, _, rng = _data()
    theta = 6.0 * rng.standard_normal(X.shape[1])
    eta = X @ theta
    assert np.abs(eta).max() > 40
    Y = (rng.random(len(w)) < expit(eta)).astype(float)
    if labels == "proportions":
        Y = np.clip(Y + rng.uniform(-0.3, 0.3, len(w)), 0.0, 1.0)
    eta_out = np.full(len(w), np.nan) if keep in ("eta", "both") else None
    mean_out = np.full(len(w), np.nan) if keep in ("mean", "both") else None
    fam = get_family("bernoulli")
    v, g, c = K.glm_vgh(X, Y, w, theta, fam, hessian=hessian, block_bytes=SMALL_BLOCKS,
                        eta_out=eta_out, mean_out=mean_out)
    value = -float(w @ (Y * np.logaddexp(0.0, -eta) + (1 - Y) * np.logaddexp(0.0, eta)))
    _close(v, value)
    _close(g, X.T @ (w * (Y - expit(eta))))
    if hessian:
        d = w * expit(eta) * expit(-eta)
        C = X.T @ (d[:, None] * X)
        # entrywise, against the magnitudes |X|^T diag(d) |X| of each entry's own sum (both
        # sides' roundings: a dot product of n terms each, the scaled rows, the block sums)
        M = np.abs(X).T @ (d[:, None] * np.abs(X))
        assert np.all(np.abs(c - C) <= 2 * gamma(len(w) + 16) * M)
    else:
        assert c is None
    if eta_out is not None:
        _close(eta_out, eta)
    if mean_out is not None:
        np.testing.assert_allclose(mean_out, expit(eta), rtol=1e-12, atol=0)


def test_a_bernoulli_pass_allocates_its_buffers_once():
    """The pass's elementwise step writes into buffers of a block's rows made once per pass:
    the tracemalloc peak of a gradient pass at n = 10^5, m = 11 (blocks of 23831 rows) is the
    residual, two scratch rows and the sign bits, 3.5 rows of floats (10.0 when every block
    made its own temporaries); with the curvature, the variance and the scaled (rows, m) block
    besides, 16.5 (26.5 before)."""
    from _memory import peak_above_start

    rng = np.random.default_rng(0)
    n, m = 100_000, 11
    X = rng.standard_normal((n, m))
    Y = (rng.random(n) < 0.5).astype(float)
    w = np.ones(n)
    theta = 0.3 * rng.standard_normal(m)
    fam = get_family("bernoulli")
    for hessian, block_bytes, floats in ((False, K.GRADIENT_BLOCK_BYTES, 4), (True, K.BLOCK_BYTES,
                                                                              m + 6)):
        rows = max(sl.stop - sl.start for sl in K.row_blocks(n, m, block_bytes))
        for eta_out in (None, np.empty(n)):
            _, peak = peak_above_start(lambda: K.glm_vgh(X, Y, w, theta, fam, hessian=hessian,
                                                         eta_out=eta_out))
            assert peak <= floats * 8 * rows, (hessian, peak / (8 * rows))


@pytest.mark.parametrize("penalty", [None, 0.7])
def test_objective_hessian_and_curvature_operator(penalty):
    X, Y, w, theta, rng = _data(n=300)
    ds = Dataset.from_arrays(X[:, :-1], Y.argmax(axis=1), weights=w)
    obj = DualObjective(ds, None if penalty is None else _l2(penalty))
    beta = obj.beta(theta) + 0.05 * rng.standard_normal(obj.n_params)
    H = obj.hessian(beta)
    # the straightforward Hessian of l - (lam/2)||theta_R||^2 in the free entries
    _, _, C, _ = _naive_categorical(ds.X, ds.Y, ds.weights, obj.theta(beta))
    if penalty is not None:
        C = C + penalty * np.diag(np.tile(obj.penalized_rows, obj.q).astype(float))
    idx = obj._free_flat
    _close(H, -C[np.ix_(idx, idx)])
    matvec, psolve = obj.curvature_operator(beta)
    v = rng.standard_normal(obj.n_params)
    _close(matvec(v), -H @ v)
    r = psolve(v)
    assert np.all(np.isfinite(r)) and float(v @ r) > 0  # a positive definite preconditioner


@pytest.mark.parametrize("family", ["categorical", "poisson"])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("penalty", [None, 0.7])
def test_kronecker_preconditioner_inverts_its_definition(family, intercept, penalty):
    """``psolve`` is ``M^-1`` on the free entries, ``M = A (x) X^T W X + I (x) lam
    diag(penalised rows)``, ``A`` the weighted mean of ``diag(p_j) - p_j p_j^T`` (of ``A''`` for
    a one-parameter family): formed here from the definitions and solved densely. The
    eigendecomposition path (with the pinned intercept of an L2 fit bordered) must agree to
    the perturbation bound: relative error <= kappa(M) (1e-12 ridge + p^2 u)."""
    X, Y, w, theta, rng = _data(n=300)
    y = Y.argmax(axis=1)
    if family == "poisson":
        y = rng.poisson(np.exp(0.3 * X[:, 0])).astype(float)
    ds = Dataset.from_arrays(X[:, :-1], y, weights=w, intercept=intercept, family=family)
    obj = DualObjective(ds, None if penalty is None else _l2(penalty))
    beta = obj.beta(obj.theta(obj.start())) + 0.05 * rng.standard_normal(obj.n_params)
    th = obj.theta(beta)
    eta = ds.X @ th
    if family == "categorical":
        P = nx.softmax_logsumexp(eta)[0]
        A = (np.diag(ds.weights @ P) - (P * ds.weights[:, None]).T @ P) / ds.weights.sum()
        A = A[np.ix_(obj._hess_classes, obj._hess_classes)]
    else:
        A = np.array([[ds.weights @ np.exp(eta) / ds.weights.sum()]])
    G = ds.X.T @ (ds.weights[:, None] * ds.X)
    M = np.kron(A, G)
    if penalty is not None:
        M += penalty * np.diag(np.tile(obj.penalized_rows, A.shape[0]).astype(float))
    idx = obj._free_flat
    M = M[np.ix_(idx, idx)]
    _, psolve = obj.curvature_operator(beta)
    assert obj._gram_eig  # the eigendecomposition path ran, not the dense fallback
    r = rng.standard_normal(obj.n_params)
    z = np.linalg.solve(M, r)
    bound = np.linalg.cond(M) * (1e-12 + M.shape[0] ** 2 * np.finfo(float).eps)
    assert np.linalg.norm(psolve(r) - z) <= bound * np.linalg.norm(z)


def test_fused_hessian_is_cached_and_correct():
    X, Y, w, theta, _ = _data(n=300)
    ds = Dataset.from_arrays(X[:, :-1], Y.argmax(axis=1), weights=w)
    obj = DualObjective(ds)
    beta = obj.beta(theta)
    v1, g1 = obj.smooth_value_grad(beta, hessian=True)
    H1 = obj.hessian(beta)
    fresh = DualObjective(ds)
    v2, g2 = fresh.smooth_value_grad(beta)
    _close(v1, v2)
    _close(g1, g2)
    _close(H1, fresh.hessian(beta))


def _l2(lam):
    from dualmaxent.results import Penalty

    return Penalty("l2", lam)


@pytest.mark.parametrize("family,k,l2", [("categorical", 4, None), ("categorical", 3, 2.0),
                                         ("bernoulli", 2, None), ("poisson", 1, 0.5)])
def test_newton_cg_agrees_with_newton(family, k, l2):
    rng = np.random.default_rng(3)
    n, p = 400, 4
    Xf = rng.standard_normal((n, p))
    if family == "poisson":
        y = rng.poisson(np.exp(0.3 * Xf[:, 0]))
    else:
        y = (Xf[:, :1] + 0.8 * rng.standard_normal((n, 1)) > np.linspace(-1, 1, k - 1)).sum(1)
    ds = Dataset.from_arrays(Xf, y, family=family, weights=rng.uniform(0.5, 2.0, n))
    a = solve_dual(ds, method="newton", l2=l2)
    b = solve_dual(ds, method="newton-cg", l2=l2)
    assert a.converged and b.converged
    assert b.kkt_residual <= 1e-10
    assert abs(a.loglik - b.loglik) <= 1e-9 * (1 + abs(a.loglik))
    assert np.abs(a.theta - b.theta).max() <= 1e-7 * (1 + np.abs(a.theta).max())


def test_auto_picks_newton_cg_for_many_classes():
    rng = np.random.default_rng(4)
    n, p, k = 600, 20, 8
    Xf = rng.standard_normal((n, p))
    y = (Xf[:, :1] + rng.standard_normal((n, 1)) > np.linspace(-1.5, 1.5, k - 1)).sum(1)
    res = solve_dual(Dataset.from_arrays(Xf, y), method="auto")
    assert res.method == "newton-cg" and res.converged


def test_bench_tiny_runs_and_writes_the_figure(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from dualmaxent import bench

    # a missing optional contender is skipped with a note, not a crash
    monkeypatch.setitem(bench._MODULE, "glum", "glum_is_not_installed_here")
    rows = bench.run_bench(mode="tiny", out=tmp_path, verify_subprocess=False)
    text = capsys.readouterr().out
    assert "contender" in text and "dualmaxent" in text
    assert "glum irls: skipped (glum is not installed" in text
    assert not any(r["contender"].startswith("glum") for r in rows)
    assert any(r["job"].startswith("primal") for r in rows)
    ours = [r for r in rows if r["contender"] == "dualmaxent default"]
    assert ours and all(r["precision"] <= 1e-9 for r in ours)
    # every run at a tolerance meets it by our measure, and the level table reports it
    for r in rows:
        if r["contender"].startswith("dualmaxent tol="):
            assert r["precision"] <= float(r["contender"].split("=")[1])
    assert "Equal precision" in text
    levels = bench.equal_precision(rows)
    for e in levels:
        hits = [r for r in rows if r["job"] == e["job"] and r["precision"] <= e["level"]]
        assert e["first"] == (min(hits, key=lambda r: r["seconds"])["contender"] if hits else None)
    png = tmp_path / "scaling.png"
    assert png.exists() and png.stat().st_size > 10_000


@pytest.mark.parametrize("k,sparse", [(1, False), (3, False), (3, True), (10, False)])
def test_the_data_sums_are_x_transposed_w_y(k, sparse):
    """``data_sums`` is ``X^T W Y`` summed a row block at a time (no (n, q) table ``W Y``): each
    entry within ``gamma(n + 1)`` of the sum of absolute terms of the product written out
    (any order of ``n`` products, each rounded once), on blocks smaller than ``n``."""
    rng = np.random.default_rng(k)
    n, m = 5000, 7
    X = rng.standard_normal((n, m)) * rng.lognormal(0, 2, m)
    w = rng.random(n) * 3
    Y = (rng.random(n) < 0.4).astype(float) if k == 1 else np.eye(k)[rng.integers(0, k, n)]
    Xs = sp.csr_matrix(np.where(rng.random((n, m)) < 0.3, X, 0.0)) if sparse else X
    Xd = Xs.toarray() if sparse else X
    got = K.data_sums(Xs, Y, w, block_bytes=8 * 600 * (m + k))
    Y2 = Y.reshape(n, -1)
    exact = Xd.T @ (w[:, None] * Y2)
    scale = np.abs(Xd).T @ (w[:, None] * np.abs(Y2))
    assert got.shape == (m, Y2.shape[1])
    assert np.all(np.abs(got - exact) <= 2 * gamma(n + 2) * scale)


@pytest.mark.parametrize("q", [None, 1, 4])
@pytest.mark.parametrize("kind", ["float64", "float32", "int", "csr"])
def test_the_linear_predictor_is_x_w_plus_b_block_by_block(q, kind):
    """``linear_predictor`` is ``X W + b`` (W of shape (m,) or (m, q)), each entry within
    ``gamma(m + 2)`` of ``|X| |W| + |b|`` of the sum written out in exact arithmetic
    (``math.fsum`` of the float64 products, each rounded once), on blocks smaller than ``n``;
    ``transform`` sees each row exactly once, as ``X W + b``, and what it writes over its
    block is the result."""
    import math

    rng = np.random.default_rng(11)
    n, m = 1000, 7
    X = rng.standard_normal((n, m)) * rng.lognormal(0, 2, m)
    if kind == "int":
        X = np.round(X * 10).astype(np.int64)
    elif kind == "float32":
        X = X.astype(np.float32)
    W = rng.standard_normal(m if q is None else (m, q))
    b = rng.standard_normal(() if q is None else q)
    Xd = np.asarray(X, dtype=np.float64)  # (float32 and int entries are exact in float64)
    Xin = sp.csr_array(np.where(rng.random((n, m)) < 0.4, Xd, 0.0)) if kind == "csr" else X
    if kind == "csr":
        Xd = Xin.toarray()
    W2, b2 = W.reshape(m, -1), np.broadcast_to(b, (W.reshape(m, -1).shape[1],))
    exact = np.array([[math.fsum([*(Xd[j] * W2[:, c]), b2[c]]) for c in range(W2.shape[1])]
                      for j in range(n)]).reshape((n,) + W.shape[1:])
    bound = gamma(m + 2) * (np.abs(Xd) @ np.abs(W) + np.abs(b))
    seen = []

    def double(block):
        assert block.dtype == np.float64 and block.shape[1:] == W.shape[1:]
        start = sum(seen)
        assert np.all(np.abs(block - exact[start:start + len(block)])
                      <= bound[start:start + len(block)])
        seen.append(len(block))
        block *= 2.0

    block_bytes = 8 * m * 300  # 300 rows: four blocks of a dense X (a sparse X is one)
    plain = K.linear_predictor(Xin, W, b, block_bytes=block_bytes)
    assert plain.dtype == np.float64 and plain.shape == exact.shape
    assert np.all(np.abs(plain - exact) <= bound)
    doubled = K.linear_predictor(Xin, W, b, double, block_bytes=block_bytes)
    assert sum(seen) == n and len(seen) == (1 if kind == "csr" else 4)
    np.testing.assert_array_equal(doubled, 2.0 * plain)
