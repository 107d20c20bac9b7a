"""Issue 20: the memory of a sparse fit, in units derived from its arrays' sizes.

Each bound sits between the peak measured after the cuts of this change and the one before, so
that a temporary of the size of a coefficient vector (``p = m k`` floats) coming back fails it:
tracemalloc counts numpy's and scipy's buffers exactly, the problems are seeded, and nothing
here depends on timing.
"""

import warnings

import numpy as np
import pytest

from dualmaxent import bench_sparse, design, solve_dual
from dualmaxent.data import Dataset
from dualmaxent.objective import make_objective, point_key
from dualmaxent.params import make_penalty

from _memory import peak_above_start as _peak_above_start


def _classifier():
    """``MaxEntClassifier``, which needs scikit-learn (the ``[test]`` extra): the test is
    skipped, saying so, in an environment without it."""
    pytest.importorskip("sklearn", reason="MaxEntClassifier needs scikit-learn (pip install '.[test]')")
    from dualmaxent import MaxEntClassifier

    return MaxEntClassifier


def test_a_sparse_fit_without_the_certificate_keeps_few_coefficient_vectors():
    """``MaxEntClassifier(C=10, certify=False)`` on text-like data (n = 2000, m = 3000 words,
    k = 20): its peak less the data set's copy of ``X`` with the intercept column (at most 1.1
    times the sparse X's bytes) and two (n, k) tables (the one-hot ``Y`` and the probabilities),
    in coefficient vectors of ``p = (m + 1) k`` floats: 9.05 after this change, 10.7 before (the
    starting point held by the solver's frame, the start of the line kept through the secant's
    pass, theta beside its gradient while packed, the cached gradient table, the C-ordered copy
    of theta made for its digest, the operator's buffer during the first step's Jacobi
    diagonal, the copies in the KKT residual); 8.24 after the second round of cuts, 9.06
    before it (CG's product now the peak: five vectors, a block of ``X V`` and the coarse
    space's factor, 1.7 vectors here, where the operator's buffer and a whole ``X V`` were);
    5.55 after the third round, 8.24 before it (CG without tables of ``-H d`` and of the
    preconditioned residual, its step in float32, the line search moving its point in place,
    the pass's residual made a block of rows at a time, the result's residual before theta)."""
    MaxEntClassifier = _classifier()
    n, m, k = 2000, 3000, 20
    X, y = bench_sparse.text_data(n=n, m=m, k=k, tokens=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MaxEntClassifier(C=10, certify=False).fit(X, y)  # imports and first-call costs
        est, peak = _peak_above_start(lambda: MaxEntClassifier(C=10, certify=False).fit(X, y))
    assert est.coef_.shape == (k, m)
    vectors = (peak - 1.1 * design.nbytes(X) - 2 * 8 * n * k) / (8 * (m + 1) * k)
    assert vectors <= 6.9, vectors


def test_the_kkt_residual_and_the_point_key_copy_no_coefficient_vector():
    """The KKT residual of an L2 (or unpenalised) objective reads the gradient in place (a copy
    and its absolute values before: two vectors), the same number; the digest of a transposed
    theta (the unpacked layout) reads it a block of rows at a time (a C-ordered copy before),
    the same key as the C-ordered theta's."""
    X, y = bench_sparse.text_data(n=300, m=4000, k=5, tokens=20)
    ds = Dataset.from_arrays(X, y, family="categorical")
    obj = make_objective(ds, make_penalty(l2=0.1))
    rng = np.random.default_rng(0)
    beta = rng.standard_normal(obj.n_params)
    _, grad = obj.smooth_value_grad(beta)
    rel, peak = _peak_above_start(lambda: obj.kkt_residual(beta, grad))
    assert rel == float(np.abs(grad).max() / obj.scale)
    assert peak < grad.nbytes / 4, peak
    assert obj.kkt_residual(beta, np.zeros_like(grad)) == 0.0
    assert np.isnan(obj.kkt_residual(beta, np.where(np.arange(grad.size) == 3, np.nan, grad)))
    assert obj.theta(beta).flags.c_contiguous  # (unpacked C-ordered, as a sparse product
    # reads it; a transposed theta, the layout before, is digested a block at a time)
    theta = np.asfortranarray(rng.standard_normal((40_000, 8)))  # 2.6 MB, ten key blocks
    key, peak = _peak_above_start(lambda: point_key(theta))
    assert key == point_key(np.ascontiguousarray(theta))
    assert point_key(theta) != point_key(np.nextafter(theta, 1))
    assert peak < theta.nbytes / 4, peak


def test_the_gradient_from_beta_is_the_gradient_from_theta():
    """:meth:`DualObjective.smooth_value_grad` reads the penalty's gradient from beta (theta
    dropped before the packing): bit for bit the old sum from theta's columns."""
    X, y = bench_sparse.text_data(n=300, m=500, k=4, tokens=20)
    ds = Dataset.from_arrays(X, y, family="categorical")
    obj = make_objective(ds, make_penalty(l2=0.3))
    beta = np.random.default_rng(1).standard_normal(obj.n_params)
    value, grad = obj.smooth_value_grad(beta)
    theta = obj.theta(beta)
    old = obj._pack(obj._loglik(theta)[1])
    T = theta.reshape(-1, obj.q)
    for c, lo, hi, rows in obj._segments:
        term = 0.3 * T[:, c] * obj.penalized_rows
        old[lo:hi] -= term if rows is None else term[rows]
    assert np.array_equal(grad.view(np.uint64), old.view(np.uint64))
    assert value == obj._loglik(theta)[0] - obj.smooth_penalty_value(theta)


def _certify_module():
    """The module ``dualmaxent.certify`` (the package's attribute of that name is the function)."""
    import importlib

    return importlib.import_module("dualmaxent.certify")


def test_the_certificate_of_a_sparse_fit_keeps_few_coefficient_vectors():
    """``certify`` on text-like data (n = 2000, m = 3000 words, k = 20, L2): its peak above
    what was allocated before, less three (n, k) tables (the kept probabilities, ``mu~`` and
    the class-major copy of ``Y``), in coefficient vectors of ``p = (m + 1) k`` floats: 2.75
    after this change (pass 2's residual and its rounding bound, each an (m, k) table), 6.24
    before (the checker's copy of theta, the gradient budget's (m, k) table beside those two,
    an (n, 2 k) scratch, ``X^T W Y`` and the copies of class-major tables for scipy's
    products). Theta is read, not copied, and the caller's array is left as it was."""
    cf = _certify_module()
    n, m, k = 2000, 3000, 20
    X, y = bench_sparse.text_data(n=n, m=m, k=k, tokens=30)
    ds, penalty = Dataset.from_arrays(X, y, family="categorical"), make_penalty(l2=0.1)
    theta = solve_dual(ds, penalty=penalty).theta
    before = theta.copy()
    cf.certify(ds, theta, penalty=penalty)  # imports and first-call costs
    cert, peak = _peak_above_start(lambda: cf.certify(ds, theta, penalty=penalty))
    assert cert.ok
    vectors = (peak - 3 * 8 * n * k) / (8 * ds.m * ds.k)
    assert vectors <= 3.5, vectors
    assert np.array_equal(theta, before) and theta.flags.writeable
    assert not np.may_share_memory(cert.theta, theta)


def test_the_products_with_x_and_its_absolute_values_copy_neither():
    """:func:`dualmaxent.certify._xt` of a CSR ``X`` with negative entries: ``|X|^T T`` and
    ``X^T T`` of a class-major ``T`` bit for bit scipy's products (with the copy ``|X|``, and of
    ``T`` in C order), by blocks of rows (a few rows a block here too), with no copy of ``X``'s
    entries (``|X|`` took one float per stored entry) nor of ``T``."""
    import scipy.sparse as sp

    cf = _certify_module()
    rng = np.random.default_rng(3)
    X = sp.random_array((3000, 400), density=0.05, format="csr", random_state=4)
    X.data = rng.standard_normal(X.nnz)
    absX = sp.csr_array((np.abs(X.data), X.indices, X.indptr), shape=X.shape)
    for c in (1, 2, 13):
        T = np.asfortranarray(rng.standard_normal((3000, c))
                              * 10.0 ** rng.integers(-6, 6, (3000, 1)))
        for block in (design.XT_BLOCK_BYTES, 8 * c * 7):
            saved, design.XT_BLOCK_BYTES = design.XT_BLOCK_BYTES, block
            try:
                for absolute, ref in ((False, X), (True, absX)):
                    got = cf._xt(X, T, absolute)
                    want = np.asarray(ref.T @ np.ascontiguousarray(T))
                    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))
            finally:
                design.XT_BLOCK_BYTES = saved
    T = np.asfortranarray(rng.standard_normal((3000, 13)))
    saved, design.XT_BLOCK_BYTES = design.XT_BLOCK_BYTES, 1 << 15  # (blocks of a fortieth of T)
    try:
        _, peak = _peak_above_start(lambda: cf._xt(X, T, True))
    finally:
        design.XT_BLOCK_BYTES = saved
    # the result, and a block's rows of T, its entries' absolute values and their offsets
    # (scipy's product with |X|: the result, |X|'s entries and T's copy, 0.83 MB)
    assert peak < 8 * 400 * 13 + 4 * (1 << 15), peak


def _figures(cert):
    """Every number of a certificate and of its bracket, as exact bit patterns."""
    import dataclasses

    out = {}
    for f in dataclasses.fields(cert.projected):
        value = getattr(cert.projected, f.name)
        if f.name != "seconds":
            out[f.name] = (np.asarray(value).tobytes() if isinstance(value, np.ndarray)
                           else repr(value))
    out["theta"] = np.ascontiguousarray(cert.theta).tobytes()
    out["within"], out["messages"] = repr(cert.within), cert.messages
    return out


def test_the_certificate_is_the_same_by_every_path_and_its_definitions():
    """The certificate of a sparse fit of many classes (pass 1 reduces the gradient's budget
    and ``X^T W Y`` by chunks of columns, pass 2 writes over the kept probabilities, the
    products go by blocks of rows, theta is read in place) is bit for bit that of the
    unreduced tables (:data:`XT_CHUNK_COLUMNS` above ``2 k``), of scipy's own products, and
    of a copy of theta in either layout, with signed entries (``|X|`` never formed) and for
    L2, L1 and the elastic net; its scale, upper bound and KKT residual are those of their
    definitions, the last within its round-off budget."""
    cf = _certify_module()
    X, y = bench_sparse.text_data(n=600, m=900, k=12, tokens=20)
    X.data = X.data * np.where(np.random.default_rng(5).random(X.nnz) < 0.3, -1.0, 1.0)
    ds = Dataset.from_arrays(X, y, family="categorical")
    for penalty in (make_penalty(l2=0.1), make_penalty(l1=0.5),
                    make_penalty(l1=0.3, l1_ratio=0.5)):
        theta = solve_dual(ds, penalty=penalty, tol=1e-8).theta
        base = _figures(cf.certify(ds, theta, penalty=penalty))
        # (copied, theta keeps its layout: a big-endian one is copied, a list is C-ordered)
        assert _figures(cf.certify(ds, theta.astype(">f8"), penalty=penalty)) == base
        assert _figures(cf.certify(ds, np.ascontiguousarray(theta), penalty=penalty)) \
            == _figures(cf.certify(ds, theta.tolist(), penalty=penalty))
        # (the unreduced tables' scratch would let the given point's own bracket be tried,
        # :func:`_zero_step`, which the reduced path never tries: off, both take the step)
        saved = cf.XT_CHUNK_COLUMNS, design._sparsetools, cf.ZERO_STEP
        try:
            cf.XT_CHUNK_COLUMNS, cf.ZERO_STEP = 1000, False
            assert _figures(cf.certify(ds, theta, penalty=penalty)) == base
            cf.XT_CHUNK_COLUMNS, design._sparsetools, cf.ZERO_STEP = saved[0], None, saved[2]
            assert _figures(cf.certify(ds, theta, penalty=penalty)) == base
        finally:
            cf.XT_CHUNK_COLUMNS, design._sparsetools, cf.ZERO_STEP = saved
    # the definitions, at the L2 fit's theta (dense arithmetic, another summation order)
    penalty = make_penalty(l2=0.1)
    theta = solve_dual(ds, penalty=penalty, tol=1e-8).theta
    cert = cf.certify(ds, theta, penalty=penalty)
    br = cert.projected
    Xd, Y, w = ds.X.toarray(), ds.Y, ds.weights
    eta = Xd @ theta
    lse = np.logaddexp.reduce(eta, axis=1)
    P = np.exp(eta - lse[:, None])
    assert br.scale == 1.0 + np.abs(Xd.T @ (w[:, None] * Y)).max()
    loglik = float(w @ ((Y * eta).sum(axis=1) - lse))
    upper = -(loglik - 0.05 * float(np.sum(theta[:-1] ** 2)))
    assert abs(br.upper_bound - upper) <= 1e-10 * abs(upper)
    G = Xd.T @ (w[:, None] * (Y - P))
    G[:-1] -= 0.1 * theta[:-1]
    G[-1, -1] = 0.0  # (the pinned entry: the last class on the intercept's row)
    assert abs(np.abs(G).max() / br.scale - br.dual_gradient) <= br.gradient_roundoff
    # a theta with a NaN is still refused by name, whatever its layout
    bad = theta.copy()
    bad[3, 2] = np.nan
    import pytest

    from dualmaxent.exceptions import DualMaxentError
    with pytest.raises(DualMaxentError, match="finite"):
        cf.certify(ds, bad, penalty=penalty)


def test_the_l2_charge_is_its_definition_and_makes_no_table_of_squares():
    """``_relaxation`` for L2 on an (m, q) residual: ``||t r_R||^2 / (2 lam)`` over the
    penalised rows (every row but the intercept's), within the rounding of a sum of ``|R| q``
    squares, with no (|R|, q) temporary (its peak stays under a tenth of r's bytes)."""
    cf = _certify_module()
    rng = np.random.default_rng(3)
    m, q, lam = 20_000, 20, 0.1
    r = rng.standard_normal((m, q))
    pen_rows = np.ones(m, dtype=bool)
    pen_rows[-1] = False  # the intercept's row
    penalty = make_penalty(l2=lam)
    t = np.array([0.0, 0.5, 1.0])
    charge, peak = _peak_above_start(lambda: cf._relaxation(t, r, pen_rows, penalty))
    exact = t ** 2 * np.sum(r[:-1] ** 2) / (2 * lam)  # the definition, by numpy's pairwise sum
    u = np.finfo(float).eps / 2
    n_terms = (m - 1) * q
    assert np.all(np.abs(charge - exact) <= 2 * n_terms * u / (1 - n_terms * u) * exact)
    assert peak < r.nbytes / 10, peak


def test_a_sparse_newton_cg_solve_keeps_four_coefficient_vectors():
    """A Newton-CG solve on text-like data of many classes (n = 6000, m = 3000 words, k = 20,
    L2: CG on theta's table, the coarse space): its peak, less the tables counted below, in
    coefficient vectors of ``p`` floats (the free entries) is under four and a half: the
    iterate and CG's r, d and its float32 step s (or the direction, the point, the pass's
    theta and its gradient table), and half a vector for the (m,) and (n,) temporaries. The tables: the kept probabilities and the product's ``X V`` (or the pass's
    eta, then its residual), two (n, k); the coarse space's Cholesky factor ((q r)^2 floats)
    and its float32 basis (m, r); the free entries' mask (m, k) of bools and the coarse
    space's pinned column of X (n,). By this count 5.09 after issue 20's second round of cuts,
    6.47 before: six vectors at CG's products (the operator's buffer for the unpacked
    direction beside its product) and at the secant's trial, a pass's eta, ``eta - top`` and
    its exponential (n, k) tables, and the coarse space's second (n, r) table. 3.81 after
    the third round, 5.09 before (at CG's products the iterate, r and d, the step in float32:
    3.5 vectors; no table of ``-H d``, nor of ``M^-1 r`` beside d; the line's start dropped)."""
    from dualmaxent.objective import SPARSE_COARSE_RANK

    n, m, k = 6000, 3000, 20
    X, y = bench_sparse.text_data(n=n, m=m, k=k, tokens=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = Dataset.from_arrays(X, y, family="categorical")
    penalty = make_penalty(l2=0.1)
    obj = make_objective(ds, penalty)
    assert obj._works_on_tables()
    solve_dual(ds, penalty=penalty, method="newton-cg")  # imports and first-call costs
    res, peak = _peak_above_start(lambda: solve_dual(ds, penalty=penalty, method="newton-cg"))
    assert res.converged
    r = SPARSE_COARSE_RANK
    tables = 2 * 8 * n * k + 8 * (k * r) ** 2 + 4 * ds.m * r + ds.m * k + 8 * n
    vectors = (peak - tables) / (8 * obj.n_params)
    assert vectors <= 4.45, vectors
