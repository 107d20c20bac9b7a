"""Issue 20: the memory of a sparse fit, in units derived from its arrays' sizes.

Each bound sits between the peak measured after the cuts of this change and the one before, so
that a temporary of the size of a coefficient vector (``p = m k`` floats) coming back fails it:
tracemalloc counts numpy's and scipy's buffers exactly, the problems are seeded, and nothing
here depends on timing.
"""

import warnings

import numpy as np

from dualmaxent import bench_sparse, design, solve_dual
from dualmaxent.data import Dataset
from dualmaxent.estimators import MaxEntClassifier
from dualmaxent.objective import make_objective, point_key
from dualmaxent.params import make_penalty


def _peak_above_start(run):
    """``(run(), bytes)``: the tracemalloc peak during ``run`` above what was allocated before."""
    import tracemalloc

    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        out = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, peak - start


def test_a_sparse_fit_without_the_certificate_keeps_few_coefficient_vectors():
    """``MaxEntClassifier(C=10, certify=False)`` on text-like data (n = 2000, m = 3000 words,
    k = 20): its peak less the data set's copy of ``X`` with the intercept column (at most 1.1
    times the sparse X's bytes) and two (n, k) tables (the one-hot ``Y`` and the probabilities),
    in coefficient vectors of ``p = (m + 1) k`` floats: 9.05 after this change, 10.7 before (the
    starting point held by the solver's frame, the start of the line kept through the secant's
    pass, theta beside its gradient while packed, the cached gradient table, the C-ordered copy
    of theta made for its digest, the operator's buffer during the first step's Jacobi
    diagonal, the copies in the KKT residual)."""
    n, m, k = 2000, 3000, 20
    X, y = bench_sparse.text_data(n=n, m=m, k=k, tokens=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MaxEntClassifier(C=10, certify=False).fit(X, y)  # imports and first-call costs
        est, peak = _peak_above_start(lambda: MaxEntClassifier(C=10, certify=False).fit(X, y))
    assert est.coef_.shape == (k, m)
    vectors = (peak - 1.1 * design.nbytes(X) - 2 * 8 * n * k) / (8 * (m + 1) * k)
    assert vectors <= 9.6, vectors


def test_a_newton_cg_solve_on_many_classes_keeps_fewer_coefficient_vectors():
    """The many-classes solve of ``tests/test_sparse.py`` (n = 400, m = 2500, k = 12; its
    budget 11 vectors of p = m k floats): 8.7 after this change, 10.3 before."""
    X, y = bench_sparse.text_data(n=400, m=2500, k=12, tokens=20)
    ds, penalty = Dataset.from_arrays(X, y, family="categorical"), make_penalty(l2=0.1)
    solve_dual(ds, penalty=penalty, method="newton-cg")  # imports and first-call costs
    res, peak = _peak_above_start(lambda: solve_dual(ds, penalty=penalty, method="newton-cg"))
    assert res.converged
    vectors = peak / (8 * ds.m * ds.k)
    assert vectors <= 9.5, vectors


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
    assert not obj.theta(beta).flags.c_contiguous  # (unpacked: class-major, transposed)
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
