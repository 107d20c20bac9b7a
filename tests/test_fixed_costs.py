"""Per-fit fixed costs: generated feature names, validation made once, lean sparse construction.

The speed itself is measured by scripts, not here; these tests pin what the faster code must
keep: generated names read as the tuple they replace in every operation the package uses, the
estimators' checks give scikit-learn's errors and the same fits, nothing the user gave is
modified, and building a sparse data set keeps no names and no temporary of the size of X.
"""

import copy
import json
import math
import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import dualmaxent.estimators as estimators
from dualmaxent import Dataset, GLMRegressor, MaxEntClassifier, design
from dualmaxent import _kernels
from dualmaxent import _numerics as nx
from dualmaxent.data import GeneratedNames, _name_list
from dualmaxent.exceptions import DataError, TargetWarning
from dualmaxent.objective import DualObjective

from _rounding import gamma

CASES = [(range(1, 6), True), (range(1, 6), False), (range(0, 12), True), (range(0), True),
         (range(0), False), (range(3, 40, 3), True), (range(9, 0, -2), False)]


def _tuple(numbers, intercept):
    return tuple(f"x{v}" for v in numbers) + (("intercept",) if intercept else ())


@pytest.mark.parametrize("numbers, intercept", CASES)
def test_generated_names_read_as_the_tuple_they_replace(numbers, intercept):
    names, t = GeneratedNames(numbers, intercept), _tuple(numbers, intercept)
    assert len(names) == len(t) and tuple(names) == t and list(names) == list(t)
    assert list(reversed(names)) == list(reversed(t))
    assert names == t and t == names and not names != t and names != t + ("y",)
    assert names != list(t) and list(t) != names  # as a tuple: never equal to a list
    assert names == GeneratedNames(numbers, intercept) and hash(names) == hash(t)
    assert repr(names) == repr(t) and str(names) == str(t)
    assert names + ("y",) == t + ("y",) and ("y",) + names == ("y",) + t
    assert names * 2 == t * 2 and 2 * names == 2 * t
    assert ", ".join(names) == ", ".join(t)
    assert dict(zip(names, range(99))) == dict(zip(t, range(99)))
    assert json.dumps(list(names)) == json.dumps(list(t))
    a = np.asarray(names)
    assert a.dtype == np.asarray(t).dtype and a.tolist() == list(t)
    for i in range(-len(t), len(t)):
        assert names[i] == t[i] and names[np.int64(i)] == t[i]
    for bad in (len(t), -len(t) - 1):
        with pytest.raises(IndexError):
            names[bad]
    with pytest.raises(TypeError):
        names[[0]]
    for sl in (slice(None), slice(1, None), slice(None, -1), slice(2, 4), slice(None, None, 2),
               slice(None, None, -1), slice(-3, None), slice(5, 1), slice(1, None, 3),
               slice(None, -2, -1), slice(-1, -4, -1), slice(100, 200)):
        part = names[sl]
        assert part == t[sl] and tuple(part) == t[sl] and len(part) == len(t[sl]), sl
        assert isinstance(part, (tuple, GeneratedNames))
    for j, name in enumerate(t):
        assert name in names and names.index(name) == j and names.count(name) == 1
        with pytest.raises(ValueError):
            names.index(name, j + 1)
    for other in ("x01", "x", "x-1", "X1", "x1.0", "x\uff11", "x\u0661", " x1", "y", 1, None,
                  f"x{max(numbers, default=0) + 100}", "intercept" if not intercept else "icpt"):
        assert (other in names) == (other in t) and names.count(other) == t.count(other)
        if other not in t:
            with pytest.raises(ValueError):
                names.index(other)
    for copied in (pickle.loads(pickle.dumps(names)), copy.copy(names), copy.deepcopy(names)):
        assert copied == names and type(copied) is GeneratedNames


def test_generated_names_are_immutable_small_and_checked():
    names = GeneratedNames(range(1, 10 ** 6 + 1), intercept=True)
    assert len(pickle.dumps(names)) < 200  # a range, not 10^6 strings
    assert names[-2] == "x1000000" and names.index("x999999") == 999998
    with pytest.raises(AttributeError):
        names._intercept = False
    with pytest.raises(ValueError, match="already end with 'intercept'"):
        names.with_intercept()
    with pytest.raises(ValueError, match=">= 0"):
        GeneratedNames(range(-1, 3))
    with pytest.raises(TypeError, match="range"):
        GeneratedNames([1, 2])


def test_name_list_reads_only_the_names_it_shows(monkeypatch):
    names = GeneratedNames(range(1, 10 ** 5 + 1), intercept=True)
    real = GeneratedNames.__iter__

    def short_only(self):  # the few names shown may be read, not all 10^5
        assert len(self) <= 8, "all names iterated"
        return real(self)

    monkeypatch.setattr(GeneratedNames, "__iter__", short_only)
    assert _name_list(names) == "x1, x2, x3, x4, x5, ..., x100000, intercept"
    monkeypatch.undo()
    t = tuple(names)
    assert _name_list(t) == _name_list(names) and _name_list(t[:8]) == _name_list(names[:8])
    assert _name_list(iter(t[:3])) == "x1, x2, x3" and _name_list((1, 2)) == "1, 2"


def _pair(X, y, **kwargs):
    """The data set with generated names and the same with the names given as a list."""
    gen = Dataset.from_arrays(X, y, **kwargs)
    given = Dataset.from_arrays(X, y, feature_names=[f"x{i + 1}" for i in range(X.shape[1])],
                                **kwargs)
    return gen, given


def test_from_arrays_generates_its_default_names():
    X = np.random.default_rng(0).standard_normal((30, 3))
    y = np.arange(30) % 2
    gen, given = _pair(X, y)
    assert type(gen.feature_names) is GeneratedNames and type(given.feature_names) is tuple
    assert gen.feature_names == given.feature_names == ("x1", "x2", "x3", "intercept")
    assert Dataset.from_arrays(X, y, intercept=False).feature_names == ("x1", "x2", "x3")
    back = pickle.loads(pickle.dumps(gen))
    assert back.feature_names == gen.feature_names and np.array_equal(back.X, gen.X)
    # generated names given back are taken as they are (slices of them too), and checked
    assert Dataset.from_arrays(X[:, :2], y, feature_names=gen.feature_names[:2]).feature_names \
        == ("x1", "x2", "intercept")
    with pytest.raises(DataError, match="got 4 feature names for 3 columns of X"):
        Dataset.from_arrays(X, y, feature_names=gen.feature_names)
    # a feature named 'intercept' is the user's: the appended constant takes another name
    clash = Dataset.from_arrays(np.column_stack([X, X[:, 0]]), y,
                                feature_names=gen.feature_names)
    assert clash.feature_names == ("x1", "x2", "x3", "intercept", "(intercept)")
    np.testing.assert_array_equal(clash.X[:, 3], X[:, 0])
    np.testing.assert_array_equal(clash.X[:, 4], 1.0)


def test_every_reader_of_generated_names_sees_what_a_tuple_gave():
    from dualmaxent import report_coefficients
    from dualmaxent.separation import detect_separation
    from dualmaxent.display import dataset_html, dataset_repr

    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 9))
    X[:, 8] = X[:, 0] + X[:, 1]  # a dependency, named in the columns' names
    y = np.arange(60) % 3
    gen, given = _pair(X, y, weights=np.ones(60))
    assert repr(gen) == repr(given) and dataset_repr(gen) == dataset_repr(given)
    assert dataset_html(gen) == dataset_html(given)
    assert gen.identifiability.dependencies == given.identifiability.dependencies != ()
    theta = np.zeros((gen.m, gen.k))
    assert report_coefficients(gen, theta).names == report_coefficients(given, theta).names
    for bad in (np.zeros((gen.m + 1, gen.k)), np.full((gen.m, gen.k), np.nan), "a"):
        with pytest.raises(DataError) as a:
            gen.check_theta(bad)
        with pytest.raises(DataError) as b:
            given.check_theta(bad)
        assert str(a.value) == str(b.value) and "x1, x2, x3, x4, x5, ..." in str(a.value)
    Z = np.column_stack([np.arange(20.0), rng.standard_normal(20)])
    a, b = _pair(Z, (np.arange(20) >= 10).astype(int), family="bernoulli")
    sep_a, sep_b = detect_separation(a), detect_separation(b)
    assert sep_a.separated and sep_a.describe(a) == sep_b.describe(b)


def test_the_cli_json_lists_generated_names(tmp_path):
    from dualmaxent import cli

    assert "list(dataset.feature_names)" in open(cli.__file__).read()  # the JSON's one reader
    gen, _ = _pair(np.eye(4) + 1.0, [0, 1, 0, 1])
    assert json.loads(json.dumps(list(gen.feature_names))) == ["x1", "x2", "x3", "x4",
                                                               "intercept"]


def _captured(monkeypatch):
    """Wrap the estimators' verify to keep the data set it is given."""
    seen = {}
    real = estimators.verify

    def spy(dataset, *args, **kwargs):
        seen["dataset"] = dataset
        return real(dataset, *args, **kwargs)

    monkeypatch.setattr(estimators, "verify", spy)
    return seen


def test_the_estimators_name_columns_x0_on_and_read_a_frames_names(monkeypatch):
    seen = _captured(monkeypatch)
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((50, 3)), np.arange(50) % 2
    MaxEntClassifier().fit(X, y)
    names = seen["dataset"].feature_names
    assert type(names) is GeneratedNames and names == ("x0", "x1", "x2", "intercept")
    MaxEntClassifier(fit_intercept=False).fit(X, y)
    assert seen["dataset"].feature_names == ("x0", "x1", "x2")
    pd = pytest.importorskip("pandas")
    MaxEntClassifier().fit(pd.DataFrame(X, columns=["a", "b", "c"]), y)
    assert seen["dataset"].feature_names == ("a", "b", "c", "intercept")
    # a column named 'intercept' is the user's feature; the constant is named apart
    MaxEntClassifier().fit(pd.DataFrame(X, columns=["a", "intercept", "c"]), y)
    assert seen["dataset"].feature_names == ("a", "intercept", "c", "(intercept)")


BAD_INPUTS = [
    ("nan X", lambda X, y: (np.where(X > 1.5, np.nan, X), y), "Input X contains NaN"),
    ("inf X", lambda X, y: (np.where(X > 1.5, np.inf, X), y), "Input X contains infinity"),
    ("1-d X", lambda X, y: (X[:, 0], y), "Expected 2D array"),
    ("3-d X", lambda X, y: (X[:, :, None], y), "Found array with dim 3"),
    ("no rows", lambda X, y: (X[:0], y[:0]), "0 sample"),
    ("no columns", lambda X, y: (X[:, :0], y), "0 feature"),
    ("complex X", lambda X, y: (X + 1j, y), "Complex data not supported"),
    ("text X", lambda X, y: (X.astype(str).astype(object) + "a", y), "could not convert"),
    ("lengths", lambda X, y: (X, y[:-1]), "inconsistent numbers of samples"),
    ("nan y", lambda X, y: (X, np.where(y == 1, np.nan, y)), "Input y contains NaN"),
    ("2-d y", lambda X, y: (X, np.column_stack([y, y])), "y should be a 1d array"),
]


@pytest.mark.parametrize("what, make, match", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
@pytest.mark.parametrize("Est", [MaxEntClassifier, GLMRegressor])
def test_bad_input_gets_scikit_learns_errors(Est, what, make, match):
    rng = np.random.default_rng(3)
    X, y = make(rng.standard_normal((40, 3)), (np.arange(40) % 2).astype(float))
    with pytest.raises(ValueError) as ref:  # the error of scikit-learn's full validation
        estimators._validate_data(Est(), X, y, dtype=np.float64, accept_sparse=["csr"],
                                  y_numeric=Est is GLMRegressor)
    for intercept in (True, False):  # (a non-finite X: found by the copy, or by a scan)
        with pytest.raises(ValueError, match=match) as err:
            Est(fit_intercept=intercept).fit(X, y)
        assert type(err.value) is type(ref.value) and str(err.value) == str(ref.value)


def test_the_plain_path_fits_as_scikit_learns_validation_does(monkeypatch, tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    X = rng.standard_normal((80, 4))
    y = (X[:, 0] + rng.standard_normal(80) > 0).astype(int)
    est = MaxEntClassifier().fit(pd.DataFrame(X, columns=list("abcd")), y)
    assert list(est.feature_names_in_) == list("abcd")
    plain = est.fit(X, y)  # refit on an ndarray: scikit-learn's books kept
    assert plain.n_features_in_ == 4 and not hasattr(plain, "feature_names_in_")
    coef = plain.coef_.copy()
    for other in (X.tolist(), np.asfortranarray(X), X.copy(), X[::-1][::-1]):
        np.testing.assert_allclose(MaxEntClassifier().fit(other, y).coef_, coef, rtol=1e-10)
    calls = []
    monkeypatch.setattr(estimators, "_plain_arrays",
                        lambda X, y: calls.append(1) or None)  # scikit-learn's path alone
    np.testing.assert_allclose(MaxEntClassifier().fit(X, y).coef_, coef, rtol=1e-12)
    reg = GLMRegressor().fit(X, X[:, 0] * 2 + 1)
    assert calls == [1, 1] and abs(reg.intercept_ - 1) < 1e-8
    monkeypatch.undo()
    assert estimators._plain_arrays(X, y) is not None
    assert estimators._plain_arrays(X.view(type("Sub", (np.ndarray,), {})), y) is None
    assert estimators._plain_arrays(np.memmap(tmp_path / "X", shape=X.shape, mode="w+"), y) \
        is None
    assert estimators._plain_arrays(X, y.astype(object)) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow is scikit-learn's to judge, silently
        assert estimators._plain_arrays(np.ones((2, 2)), np.full(2, 1e308)) is None
        # X's entries are not read (the data set checks them: a NaN gets scikit-learn's error,
        # test_bad_input_gets_scikit_learns_errors)
        big = np.full((2, 2), 1e308)
        assert estimators._plain_arrays(big, np.ones(2))[0] is big


@pytest.mark.parametrize("intercept", [True, False])
def test_a_design_of_float32_or_integers_is_converted_by_the_data_sets_own_copy(intercept):
    """float32, integer and bool designs fit exactly as their float64 conversion does (each such
    number is a float64, so the data set's X is the same bits), the estimator's plain path
    handing them over unconverted (the data set's copy is the one conversion)."""
    rng = np.random.default_rng(8)
    base = rng.standard_normal((300, 4))
    y = (base[:, 0] + rng.standard_normal(300) > 0).astype(int)
    for X in (base.astype(np.float32), np.round(3 * base).astype(np.int16),
              np.column_stack([base[:, :3] > 0, base[:, 3] > 1])):
        wide = X.astype(np.float64)
        plain = estimators._plain_arrays(X, y)
        assert plain is not None and plain[0] is X  # (not converted there)
        ds = Dataset.from_arrays(X, y, intercept=intercept)
        ref = Dataset.from_arrays(wide, y, intercept=intercept)
        assert ds.X.dtype == np.float64 and np.array_equal(ds.X, ref.X)
        assert not np.shares_memory(ds.X.base if intercept else ds.X, X)
        est = MaxEntClassifier(fit_intercept=intercept).fit(X, y)
        again = MaxEntClassifier(fit_intercept=intercept).fit(wide, y)
        assert np.array_equal(est.coef_, again.coef_)
        assert np.array_equal(est.intercept_, again.intercept_)
        assert np.array_equal(est.predict_proba(X), again.predict_proba(wide))
    with pytest.raises(ValueError, match="NaN|infinity"):  # (float32's own non-finite entries)
        MaxEntClassifier().fit(np.where(base > 2, np.nan, base).astype(np.float32), y)


def test_a_mostly_zero_dense_design_is_fitted_as_csr_under_l2(monkeypatch):
    """A dense one-hot design (200 levels and three features, 2 % nonzero, 1e6 entries) is
    fitted through the sparse passes under L2 (``estimators.AUTO_SPARSE_DENSITY``): the same
    problem, so both fits are certified and their objectives and penalised coefficients agree
    within what their brackets prove (strong concavity of the ridge: ``||theta_R -
    theta*_R||^2 <= 2 within / lam``). Unpenalised, or denser, or small, X stays dense."""
    seen = _captured(monkeypatch)
    rng = np.random.default_rng(9)
    n, levels = 5000, 200
    X = np.hstack([np.eye(levels)[rng.integers(0, levels, n)], rng.standard_normal((n, 3))])
    assert X.size >= estimators.AUTO_SPARSE_MIN_ENTRIES
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-X[:, -1] - X[:, :levels] @ rng.normal(
        size=levels)))).astype(int)
    sparse = MaxEntClassifier().fit(X, y)
    assert design.is_sparse(seen["dataset"].X)
    monkeypatch.setattr(estimators, "AUTO_SPARSE_DENSITY", 0.0)
    dense = MaxEntClassifier().fit(X, y)
    assert not design.is_sparse(seen["dataset"].X)
    a, b = sparse.certificate_, dense.certificate_
    assert a.ok and b.ok
    assert abs(a.upper_bound - b.upper_bound) <= max(a.within, b.within)
    lam = 1.0  # (C = 1)
    distance = float(np.linalg.norm(sparse.coef_ - dense.coef_))
    assert distance <= np.sqrt(2 * a.within / lam) + np.sqrt(2 * b.within / lam)
    monkeypatch.undo()
    seen = _captured(monkeypatch)
    MaxEntClassifier(C=np.inf).fit(X, y)  # (unpenalised: the dense rank pass)
    assert not design.is_sparse(seen["dataset"].X)
    MaxEntClassifier().fit(X + 0.5, y)  # (dense: every entry nonzero)
    assert not design.is_sparse(seen["dataset"].X)
    MaxEntClassifier().fit(X[:1000], y[:1000])  # (small)
    assert not design.is_sparse(seen["dataset"].X)


def test_an_overflowing_sum_of_finite_x_still_fits_or_fails_as_before():
    X = np.array([[1e308, 1.0], [1e308, -1.0], [-1e308, 2.0], [1e308, 0.5]])
    with pytest.raises(DataError, match="the features' scale is the cause"):
        MaxEntClassifier().fit(X, [0, 1, 0, 1])


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("intercept", [True, False])
def test_nothing_the_user_gave_is_modified(monkeypatch, sparse, intercept):
    seen = _captured(monkeypatch)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 3))
    y = np.arange(40) % 3
    if sparse:
        X = sp.csr_array(np.where(np.abs(X) > 0.5, X, 0.0))
    before = (X.copy(), y.copy())
    MaxEntClassifier(fit_intercept=intercept).fit(X, y)
    ds = seen["dataset"]
    if sparse:
        # a canonical CSR is read through read-only views of its arrays, not copied; the
        # caller's arrays are unchanged and still writeable
        assert (X != before[0]).nnz == 0
        stored = ds.X.base if intercept else ds.X
        for a, b in ((stored.data, X.data), (stored.indices, X.indices),
                     (stored.indptr, X.indptr)):
            assert np.shares_memory(a, b) and not a.flags.writeable and b.flags.writeable
    elif isinstance(ds.X, design.DenseOnes):
        # a float64 C-ordered X is read through a read-only view, its ones implicit (the
        # estimator's data set lives through its fit only); the caller's array is unchanged
        # and still writeable
        assert np.array_equal(X, before[0])
        assert np.shares_memory(ds.X.base, X) and not ds.X.base.flags.writeable
        assert X.flags.writeable
    else:
        assert np.array_equal(X, before[0]) and not np.shares_memory(ds.X, X)
        assert not ds.X.flags.writeable
    assert np.array_equal(y, before[1]) and not np.shares_memory(ds.y, y)


def test_the_estimators_validate_x_once(monkeypatch):
    import dualmaxent.data as data

    calls = []
    real = data._check_finite
    monkeypatch.setattr(data, "_check_finite", lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((40, 3)), np.arange(40) % 2
    MaxEntClassifier().fit(X, y)
    MaxEntClassifier().fit(sp.csr_array(X), y)
    GLMRegressor().fit(X, X[:, 0])
    Dataset.from_arrays(X, y)
    # scikit-learn's check was the one for the sparse X; the dense copies with the intercept
    # checked theirs through the columns' maxima, no scan of their own
    assert calls == []
    MaxEntClassifier(fit_intercept=False).fit(X, y)  # the plain path leaves X to the data set
    Dataset.from_arrays(X, y, intercept=False)
    assert calls == [1, 1]
    bad = np.where(X > 1, np.inf, X)
    with pytest.raises(DataError, match="X must be finite") as err:
        Dataset.from_arrays(bad, y)  # found by the copy: the scan then names the first entry
    assert calls == [1, 1, 1] and "the first in column 'x1'" in str(err.value)
    import sklearn

    with sklearn.config_context(assume_finite=True):  # scikit-learn checks nothing: we do
        with pytest.raises(DataError, match="X must be finite"):
            MaxEntClassifier().fit(sp.csr_array(np.where(X > 1, np.nan, X)), y)


def test_the_count_warning_is_not_computed_for_a_classifier(monkeypatch):
    import dualmaxent.data as data

    monkeypatch.setattr(data, "_warn_if_counts", lambda *a: pytest.fail("computed"))
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((90, 2)), np.arange(90) % 9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MaxEntClassifier(certify=False).fit(X, y)


def test_data_warnings_still_name_the_callers_line():
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((20, 2)), np.linspace(0.1, 0.9, 20) + np.arange(20) % 2

    def make():
        return Dataset.from_arrays(X, y)  # noqa: the caller's caller is named, as before

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make()
    (w,) = [c for c in caught if issubclass(c.category, TargetWarning)]
    assert w.filename == __file__


@pytest.mark.parametrize("chunk", [1, 7, 1 << 15])
@pytest.mark.parametrize("fmt", ["csr", "coo", "csc"])
def test_sparse_column_absmax_in_chunks(monkeypatch, chunk, fmt):
    monkeypatch.setattr(design, "ABSMAX_CHUNK", chunk)
    rng = np.random.default_rng(9)
    A = np.where(rng.random((30, 12)) < 0.3, rng.standard_normal((30, 12)), 0.0)
    A[:, 4] = 0.0
    A[3, 2] = -50.0
    X = sp.coo_array(A).asformat(fmt)
    np.testing.assert_array_equal(design.column_absmax(X), np.abs(A).max(axis=0))
    X = sp.csr_array(A)
    X.indices = X.indices.astype(np.int64)
    np.testing.assert_array_equal(design.column_absmax(X), np.abs(A).max(axis=0))


@pytest.mark.parametrize("chunk", [1, 4, 1 << 15])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_one_column_of_a_sparse_x_in_row_chunks(monkeypatch, chunk, fmt):
    # every column (the last one, the intercept's, by its own path), with empty rows, a row
    # whose only entry is in the last column and one holding none there, is the dense one
    monkeypatch.setattr(nx, "ELEMENTWISE_ROWS", chunk)
    rng = np.random.default_rng(4)
    A = np.where(rng.random((23, 6)) < 0.35, rng.standard_normal((23, 6)), 0.0)
    A[[0, 5, 6, 22]] = 0.0
    A[7] = 0.0
    A[7, -1] = 2.5
    A[8, -1] = 0.0
    X = sp.csr_array(A).asformat(fmt)
    for j in range(A.shape[1]):
        got = design.column(X, j)
        assert got.shape == (23,) and got.dtype == np.float64
        np.testing.assert_array_equal(got, A[:, j])
    np.testing.assert_array_equal(design.column(A, 2), A[:, 2])


def test_a_sparse_data_set_keeps_no_names_and_no_copy_of_x_beyond_its_own():
    from dualmaxent.bench_sparse import text_data

    X, y = text_data(n=8000, m=8000, k=2)
    tracemalloc.start()
    try:
        ds = Dataset.from_arrays(X, y)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    own = design.nbytes(ds.X)
    assert type(ds.feature_names) is GeneratedNames
    assert len(pickle.dumps(ds.feature_names)) < 200
    # measured: before, a |X.data| of the size of X's entries and 8000 names made the peak
    # 1.85 x, and the names stayed (1.15 x kept); now 1.16 x and 1.06 x
    assert peak < 1.35 * own and kept < 1.1 * own


# -- the fixed costs outside the solver: the copy with its maxima, the scale check's shortcut,
# the sampled rank screen, one BLAS thread limit per fit (issue 19) --------------------------

from dualmaxent import data as _data
from dualmaxent import identifiability as _ID
from dualmaxent.exceptions import ScaleWarning, SeparationWarning


@pytest.mark.parametrize("n, p, order", [(1, 3, "C"), (257, 4, "C"), (5000, 7, "F"),
                                         (3001, 50, "C")])
def test_the_copy_with_its_maxima_is_the_design_and_its_column_maxima(n, p, order):
    X = np.asarray(np.random.default_rng(n).standard_normal((n, p)) * np.arange(1, p + 1),
                   order=order)
    X[n // 2, 0] = -1e3  # a negative largest entry
    rng = np.random.default_rng(p)
    w = rng.uniform(0.5, 2.0, n)
    for Y in (np.eye(3)[rng.integers(0, 3, n)], rng.integers(0, 2, n).astype(float)):
        out, big, sums, wsums = _data._with_intercept_max(X, Y, w)
        assert np.array_equal(out, design.with_intercept(X)) and out.flags.c_contiguous
        np.testing.assert_array_equal(big, np.abs(design.with_intercept(X)).max(axis=0))
        # X^T W Y: the solver's own sums (the same blocks and products: the same numbers), and
        # within the rounding of n products summed of the definition's
        np.testing.assert_array_equal(sums, _kernels.data_sums(out, Y, w))
        Y2 = Y.reshape(n, -1)
        exact = np.array([[math.fsum(out[:, i] * w * Y2[:, c]) for c in range(Y2.shape[1])]
                          for i in range(p + 1)])
        allowed = gamma(n + 2) * (np.abs(out).T @ (w[:, None] * np.abs(Y2)))
        assert np.all(np.abs(sums - exact) <= allowed)
        # X^T w, the weighted column sums, within the rounding of n products summed
        exact = np.array([math.fsum(out[:, i] * w) for i in range(p + 1)])
        assert np.all(np.abs(wsums - exact) <= gamma(n + 2) * (np.abs(out).T @ w))


def test_the_solver_reads_the_sums_the_data_set_holds(monkeypatch):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((3000, 6)) * np.array([1, 1, 1, 1, 1, 2.0 ** 40])  # (rescaled)
    y = rng.integers(0, 3, 3000)
    with pytest.warns(ScaleWarning):
        ds = Dataset.from_arrays(X, y)
    held = _data.held_data_sums(ds)
    assert held is not None and held.shape == (ds.m, 3)
    np.testing.assert_array_equal(held, _kernels.data_sums(ds.X, ds.Y, ds.weights))
    calls = []
    original = _kernels.data_sums
    monkeypatch.setattr(_kernels, "data_sums", lambda *a, **k: calls.append(1) or original(*a, **k))
    objective = DualObjective(ds)
    assert not calls  # (the held sums: no pass of its own)
    assert objective.scale == 1.0 + float(np.abs(original(ds.X, ds.Y, ds.weights)).max())
    # the badly scaled column's rescaled data set: the sums times its powers of two, exactly
    scale = ds._column_scaling()
    assert scale is not None
    rescaled = ds._rescaled(scale)
    np.testing.assert_array_equal(_data.held_data_sums(rescaled),
                                  original(rescaled.X, rescaled.Y, rescaled.weights))
    # a data set built otherwise holds none, and the solver sums them itself
    built = Dataset(X=ds.X, y=ds.y, Y=ds.Y, classes=ds.classes, feature_names=ds.feature_names,
                    weights=ds.weights, family=ds.family, name="built", intercept=True)
    assert _data.held_data_sums(built) is None
    assert DualObjective(built).scale == objective.scale and calls


def _scale_outcome(X, w, monkeypatch, shortcut: bool):
    """(returned maxima, warning messages, error message) of _check_scale, with or without the
    shortcut of _scale_decided."""
    if not shortcut:
        monkeypatch.setattr(_data, "_scale_decided", lambda big, w: False)
    names = [f"c{j}" for j in range(X.shape[1])]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            big = _data._check_scale(X, w, names)
            error = None
        except DataError as exc:
            big, error = None, str(exc)
    monkeypatch.undo()
    return big, [str(r.message) for r in rec if issubclass(r.category, ScaleWarning)], error


def _scale_cases():
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((400, 3))
    ones = np.ones(400)
    w = rng.random(400) + 0.01
    w0 = w.copy()
    w0[:200] = 0.0
    # its largest entries on zero-weight rows (a column on those rows alone:
    # test_a_column_seen_on_zero_weight_rows_alone_is_no_scale)
    on_zero_rows = np.column_stack([Z, np.r_[np.full(200, 1e6), np.full(200, 1e-3)], ones])
    return [
        ("well scaled", np.column_stack([Z, ones]), ones),
        ("well scaled, weights", np.column_stack([Z, ones]), w),
        ("span 1e6", np.column_stack([Z * 1e6, ones]), ones),
        ("span 1e9 (bound undecided, no warning)", np.column_stack([Z * 1e9, ones]), ones),
        ("span 1e11 (warns)", np.column_stack([Z * 1e11, ones]), ones),
        ("one large entry among zeros", np.column_stack([np.r_[1e8, np.zeros(399)], ones]), ones),
        ("largest entries on zero-weight rows", on_zero_rows, w0),
        ("overflowing squares", np.column_stack([Z * 1e160, ones]), ones),
        ("tiny, no intercept", Z * 1e-160, ones),
        ("tiny, subnormal squares", Z * 1e-155, ones),
        ("zero column", np.column_stack([Z, np.zeros(400), ones]), ones),
        ("one column", ones[:, None] * 3.0, ones),
    ]


@pytest.mark.parametrize("name, X, w", _scale_cases(), ids=[c[0] for c in _scale_cases()])
def test_the_scale_checks_shortcut_decides_as_the_sums_of_squares(name, X, w, monkeypatch):
    """_scale_decided lets the check skip its sums of squares only where they would neither
    raise nor warn: the outcome (maxima, warnings, errors) is the same with and without it."""
    fast = _scale_outcome(X, w, monkeypatch, shortcut=True)
    full = _scale_outcome(X, w, monkeypatch, shortcut=False)
    assert fast[1:] == full[1:]
    if fast[0] is not None:
        np.testing.assert_array_equal(fast[0], full[0])
    if name.startswith("well scaled"):
        assert _data._scale_decided(fast[0][fast[0] > 0], w)  # and it is taken there
    if "warns" in name:
        assert fast[1]  # the cases are not vacuous
    if "overflowing" in name:
        assert fast[2] is not None


def test_a_bound_that_does_not_hold_is_not_claimed():
    """The bounds of _scale_decided are those of the sums: a column whose largest entry sits on
    a zero-weight row, or a span of maxima beyond the warning's ratio, is left to the sums."""
    w = np.ones(10)
    assert _data._scale_decided(np.array([1.0, 2.0]), w)
    assert not _data._scale_decided(np.array([1.0, 2.0]), np.r_[0.0, w])
    assert not _data._scale_decided(np.array([1.0, 1e10]), w)
    assert not _data._scale_decided(np.array([1.0, 1e153]), w)  # near the overflow limit


def _gram_rows(monkeypatch):
    """Record the number of rows of each Gram matrix the rank pass forms."""
    from dualmaxent import _kernels

    rows, gram = [], _kernels.gram
    monkeypatch.setattr(_kernels, "gram",
                        lambda X, w, **kw: rows.append(X.shape[0]) or gram(X, w, **kw))
    return rows


def test_the_sampled_screen_finds_the_rank_and_dependencies_of_every_row(monkeypatch):
    """A rank-deficient design of many rows: no sample can prove full rank (its rows are rows
    of X), so every row decides, with the result of the screen without a sample."""
    rng = np.random.default_rng(11)
    Z = rng.standard_normal((30000, 4))
    X = np.column_stack([Z, Z[:, 0] - 2 * Z[:, 1]])
    names = ["a", "b", "c", "d", "e"]
    rows = _gram_rows(monkeypatch)
    sampled = Dataset.from_arrays(X, rng.integers(0, 2, 30000), names).identifiability
    assert rows[0] < 30000 and 30000 in rows  # the sample was tried, every row decided
    monkeypatch.setattr(_ID, "RANK_SCREEN_ROWS_PER_COLUMN", 10**9)  # no sample
    monkeypatch.setattr(_ID, "RANK_SCREEN_MIN_ROWS_PER_COLUMN", 10**9)
    rows.clear()
    full = Dataset.from_arrays(X, rng.integers(0, 2, 30000), names).identifiability
    assert min(rows) == 30000
    assert sampled.rank == full.rank == 5 and sampled.dependencies == full.dependencies
    np.testing.assert_allclose(sampled.null_space @ sampled.null_space.T,
                               full.null_space @ full.null_space.T, atol=1e-12)


def test_a_deficiency_of_the_sample_alone_is_not_taken_for_the_designs(monkeypatch):
    """Columns that are dependent on the sampled rows only (they differ on the others): the
    sample is rank-deficient, every row decides, and the design has full rank."""
    rng = np.random.default_rng(12)
    n = 30000
    step = min(_ID.RANK_SAMPLE_MAX_STEP, n // (_ID.RANK_SCREEN_ROWS_PER_COLUMN * 4))
    assert step >= 2
    Z = rng.standard_normal((n, 2))
    twin = Z[:, 0].copy()
    twin[1::step] += 1.0  # equal to column a on every sampled row, not on the others
    rows = _gram_rows(monkeypatch)
    ident = Dataset.from_arrays(np.column_stack([Z, twin]), rng.integers(0, 2, n),
                                ["a", "b", "twin"]).identifiability
    assert ident.full_rank and rows[0] == len(range(0, n, step)) and n in rows


@pytest.mark.parametrize("n,m,k", [(20000, 10, 3), (3000, 51, 2)])
def test_a_fit_is_the_same_with_the_sampled_screen_as_without(monkeypatch, n, m, k):
    X, y = _sweep_data(n, m, k)
    coef = MaxEntClassifier(C=np.inf).fit(X, y).coef_
    monkeypatch.setattr(_ID, "RANK_SCREEN_ROWS_PER_COLUMN", 10**9)
    monkeypatch.setattr(_ID, "RANK_SCREEN_MIN_ROWS_PER_COLUMN", 10**9)
    np.testing.assert_allclose(MaxEntClassifier(C=np.inf).fit(X, y).coef_, coef, rtol=0,
                               atol=1e-12)


def test_a_one_column_curvature_screens_a_smaller_sample_and_keeps_no_gram(monkeypatch):
    """n = 3000, m = 51: under 100 rows a column, so three classes screen every row and keep
    the Gram matrix for Newton-CG's preconditioner; two classes, whose solvers never read it,
    screen every seventh row (8 a column) and keep none. Both have full rank."""
    n, m = 3000, 50
    rows = _gram_rows(monkeypatch)
    X3, y3 = _sweep_data(n, m, 3)
    three = Dataset.from_arrays(X3, y3).identifiability
    assert rows == [n] and three.full_rank and three.gram is not None
    rows.clear()
    X2, y2 = _sweep_data(n, m, 2)
    two = Dataset.from_arrays(X2, y2).identifiability
    step = n // (_ID.RANK_SCREEN_MIN_ROWS_PER_COLUMN * (m + 1))
    assert step >= 2 and rows == [len(range(0, n, step))]
    assert two.full_rank and two.gram is None


def _sweep_data(n, m, k):
    from dualmaxent.bench_sweep import make_data

    return make_data(n, m, k)


def test_the_fits_warnings_still_name_the_callers_line():
    """The fit runs under one BLAS thread limit without a frame of its own: its warnings still
    point at the line that called fit."""
    X = np.arange(8.0)[:, None]
    y = (X[:, 0] > 3).astype(int)
    with pytest.warns(SeparationWarning) as rec:
        MaxEntClassifier(C=np.inf).fit(X, y)
    assert {r.filename for r in rec if issubclass(r.category, SeparationWarning)} == {__file__}


@pytest.mark.parametrize("penalty", [{"l2": 1.0}, {"l1": 1.0, "l1_ratio": 0.5}])
def test_a_strictly_concave_fit_is_certified_without_a_rank_pass(penalty):
    """With an L2 part the maximiser is unique whatever the columns (the dummy-variable trap
    below: every level's indicator plus the intercept), so the certificate skips the rank:
    two solves whose starts differ along the design's null space reach the same theta, and
    the certificate says nothing of the dependency and computes no rank."""
    from dualmaxent import solve_dual
    certify = __import__("sys").modules["dualmaxent.certify"].certify

    rng = np.random.default_rng(4)
    level = rng.integers(0, 3, 300)
    X = np.column_stack([np.eye(3)[level], rng.standard_normal(300)])
    y = (rng.random(300) < 1 / (1 + np.exp(-(level - 1.0 + X[:, 3])))).astype(int)
    ds = Dataset.from_arrays(X, y)
    assert ds.m == 5  # three indicators, a numeric column, the intercept: rank 4
    first = solve_dual(ds, tol=1e-12, **penalty)
    null = np.array([1.0, 1.0, 1.0, 0.0, -1.0])  # X null = 0: the indicators sum to one
    assert np.abs(ds.X @ null).max() == 0.0
    shift = 3.0 * (null[:, None] if first.theta.ndim == 2 else null)
    second = solve_dual(ds, tol=1e-12, theta0=first.theta + shift, **penalty)
    np.testing.assert_allclose(second.theta, first.theta, atol=1e-8)
    fresh = Dataset.from_arrays(X, y)
    cert = certify(fresh, first.theta, tol=1e-6, **penalty)
    assert cert.ok and cert.rank == -1 and "identifiability" not in vars(fresh)
    assert not any("linearly dependent" in note for note in cert.notes)


def test_a_column_seen_on_zero_weight_rows_alone_is_no_scale():
    """A column that is nonzero only on rows of weight zero has no weighted size: the scale
    check leaves it out as it leaves out a zero column (it took the log of 0 and crashed
    writing its warning, OverflowError), the data set builds silently and the fit certifies."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.standard_normal(400), np.r_[np.ones(200), np.zeros(200)]])
    w = np.r_[np.zeros(200), np.ones(200)]
    y = rng.integers(0, 2, 400)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = Dataset.from_arrays(X, y, weights=w)
    assert ds.m == 3
    est = MaxEntClassifier(C=1.0).fit(X, y, sample_weight=w)
    assert est.certificate_.ok
    # the column carries no weight: its coefficient is the penalty's, zero
    assert abs(est.coef_.ravel()[1]) <= 1e-8


# -- the BLAS limit, the estimator's books and the rank pass's Gram matrix, made once a fit --

def test_the_blas_limit_is_set_only_where_blas_runs_more_than_one_thread(monkeypatch):
    """Where every BLAS library already runs one thread, nothing is set (the limit's cost
    saved); otherwise the limit is set, holds inside, and the count is restored on exit."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from dualmaxent import _numerics as nx

    with nx.one_blas_thread():  # (the controller made)
        pass
    ctl = nx._CONTROLLER[0]
    if ctl is None or not [lib for lib in ctl.lib_controllers if lib.user_api == "blas"]:
        pytest.skip("no BLAS library found by threadpoolctl")
    blas = [lib for lib in ctl.lib_controllers if lib.user_api == "blas"]
    calls = []
    real = type(ctl).limit
    monkeypatch.setattr(type(ctl), "limit",
                        lambda self, *a, **k: calls.append(k) or real(self, *a, **k))
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert nx._blas_single(ctl)
        with nx.one_blas_thread():
            assert nx._LIMITED[0] == 1  # nested calls return at the depth test
            with nx.one_blas_thread():
                assert all(lib.num_threads == 1 for lib in blas)
        assert calls == [] and nx._LIMITED[0] == 0
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if not all(lib.num_threads == 2 for lib in blas):
            pytest.skip("this BLAS does not take two threads")
        assert not nx._blas_single(ctl)
        with nx.one_blas_thread():
            assert all(lib.num_threads == 1 for lib in blas)
        assert len(calls) == 1 and all(lib.num_threads == 2 for lib in blas)
        assert nx._LIMITED[0] == 0


def test_the_plain_path_keeps_the_books_validate_data_keeps(monkeypatch):
    """A plain ndarray fit never calls scikit-learn's ``validate_data`` and leaves the
    estimator with the attributes it would have set: ``n_features_in_``, and no
    ``feature_names_in_`` (removed after a fit on a frame); the arrays are checked once."""
    pd = pytest.importorskip("pandas")
    from sklearn.utils.validation import validate_data

    rng = np.random.default_rng(11)
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] + rng.standard_normal(60) > 0).astype(int)
    checked = []
    plain = estimators._plain_arrays
    monkeypatch.setattr(estimators, "_plain_arrays",
                        lambda X, y: checked.append(1) or plain(X, y))
    monkeypatch.setattr(estimators, "_validate_data",
                        lambda *a, **k: pytest.fail("validate_data called on plain arrays"))
    ours = MaxEntClassifier(certify=False).fit(X, y)
    assert checked == [1]
    ref = MaxEntClassifier()
    validate_data(ref, X, y, skip_check_array=True)
    assert vars(ref).keys() <= vars(ours).keys() and ref.n_features_in_ == ours.n_features_in_
    for Est, target in ((MaxEntClassifier, y), (GLMRegressor, X[:, 0])):
        est = Est(certify=False)
        monkeypatch.setattr(estimators, "_validate_data", validate_data)
        est.fit(pd.DataFrame(X, columns=["a", "b", "c"]), target)  # scikit-learn's path
        assert list(est.feature_names_in_) == ["a", "b", "c"]
        monkeypatch.setattr(estimators, "_validate_data", lambda *a, **k: pytest.fail("called"))
        est.fit(X, target)
        assert est.n_features_in_ == 3 and not hasattr(est, "feature_names_in_")


def _stationary(X, y, model):
    """The largest entry of the unpenalised multinomial gradient ``X1^T (Y - P)`` at the fit,
    over ``1 + max |X1^T Y|``: the balance equations, from their definition."""
    X1 = np.column_stack([X, np.ones(len(X))])
    eta = X @ model.coef_.T + model.intercept_
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    Y = np.eye(len(model.classes_))[y]
    return np.abs(X1.T @ (Y - P)).max() / (1.0 + np.abs(X1.T @ Y).max())


def test_the_rank_pass_gram_preconditions_newton_cg_and_the_fit_is_the_same(monkeypatch):
    """An unpenalised Newton-CG fit of few rows per column forms ``X^T W X`` once: the rank
    pass's (its float32 block products summed in float64, within their error bound of the
    exact matrix) preconditions CG as well. The fit is the same as with the preconditioner's
    own float64 Gram matrix: the balance equations hold to the tolerance at both, and the
    coefficients agree."""
    from dualmaxent import _kernels, dual
    from dualmaxent import objective as O

    rng = np.random.default_rng(12)
    n, m, k = 1000, 40, 4
    X = rng.standard_normal((n, m))
    y = (X[:, :k] * 2 + rng.gumbel(size=(n, k))).argmax(axis=1)
    grams = []
    real = _kernels.gram
    monkeypatch.setattr(_kernels, "gram", lambda X, w, **kw: grams.append(kw) or real(X, w, **kw))
    shared = MaxEntClassifier(C=np.inf, certify=False).fit(X, y)
    assert shared.dual_.method == "newton-cg"
    assert grams == [{"dtype": np.float32}]  # the rank pass's alone
    data = Dataset.from_arrays(X, y, family="categorical")
    ident = data.identifiability
    G = ident.gram
    assert G is not None and not G.flags.writeable
    exact = data.X.T @ (data.weights[:, None] * data.X)
    assert np.all(np.abs(G - exact) <= _kernels.gram_error_bound(data.X, data.weights))
    obj = O.make_objective(data)
    assert obj._gram_matrix() is G
    # the reduced objective's weights differ (forced rows zeroed): never the data set's Gram
    reduced = O.DualObjective(data)
    reduced.w = np.where(np.arange(n) < n // 2, data.weights, 0.0)
    np.testing.assert_allclose(reduced._gram_matrix(),
                               data.X.T @ (reduced.w[:, None] * data.X), rtol=1e-12, atol=1e-9)
    # the same fit with the preconditioner's own float64 Gram matrix
    monkeypatch.setattr(O.DualObjective, "_gram_matrix",
                        lambda self: real(self.X, self.w))
    grams.clear()
    own = MaxEntClassifier(C=np.inf, certify=False).fit(X, y)
    assert grams == [{"dtype": np.float32}]  # (the patched method calls the real one)
    tol = dual.DEFAULT_TOLS["newton-cg"]
    for fit in (shared, own):
        assert _stationary(X, y, fit) <= tol
    np.testing.assert_allclose(shared.coef_, own.coef_, atol=1e-7)


def test_a_sampled_sparse_or_large_rank_pass_gram_is_not_kept():
    """The Gram matrix is kept only when the rank pass formed it on every row of a dense
    design: a row sample's (many rows per column) or a sparse design's is not ``X^T W X``;
    and only while it is small against ``X`` (at most GRAM_KEEP_MAX_FRACTION of its bytes)."""
    import scipy.sparse as sp

    from dualmaxent.identifiability import GRAM_KEEP_MAX_FRACTION

    rng = np.random.default_rng(13)
    X = rng.standard_normal((5000, 4))
    y = np.arange(5000) % 3
    assert Dataset.from_arrays(X, y).identifiability.gram is None  # sampled: every 16th row
    assert Dataset.from_arrays(X[:300], y[:300]).identifiability.gram is not None
    assert Dataset.from_arrays(sp.csr_array(X[:300]), y[:300]).identifiability.gram is None
    few = int(5 / GRAM_KEEP_MAX_FRACTION) - 1  # m = 5 columns with the intercept
    ident = Dataset.from_arrays(X[:few], y[:few]).identifiability
    assert ident.full_rank and ident.gram is None
    assert Dataset.from_arrays(X[:few + 1], y[:few + 1]).identifiability.gram is not None


@pytest.mark.parametrize("k, C", [(2, 1.0), (2, np.inf), (3, 1.0), (10, np.inf)])
def test_a_certified_fit_stores_the_ones_only_for_a_table_response(monkeypatch, k, C):
    """A dense two-class fit with the intercept (of an X above
    :data:`~dualmaxent.data.IMPLICIT_ONES_MIN_BYTES`) reads X where it is: the ones stay implicit
    (:class:`~dualmaxent.design.DenseOnes`) through the solve and the certificate, and no
    pass stores ``[X, 1]`` whole or by blocks (each would be a copy of the design's bytes,
    the cost the implicit column removes). A categorical fit of several classes stores
    ``[X, 1]`` (its products with tables would pay more for the implicit column). Either way
    the fit is the one of the other form: the same coefficients, up to the order in which the
    intercept's term enters each sum (far below the solver's tolerance)."""
    from dualmaxent import solve_dual
    import dataclasses

    stored = []
    real = design.DenseOnes.toarray

    def counted(self):
        stored.append(self.shape)
        return real(self)

    rng = np.random.default_rng(k)
    X = rng.standard_normal((3000, 6))
    y = (X[:, :2] @ rng.standard_normal(2) + rng.standard_normal(3000) > 0).astype(int)
    if k > 2:
        y = (y + (X[:, 2] > 0.5) + rng.integers(0, k - 1, 3000)) % k
    from dualmaxent import data as data_module

    assert isinstance(Dataset.from_arrays(X, y).X, np.ndarray)  # (small: stored)
    seen = _captured(monkeypatch)
    monkeypatch.setattr(data_module, "IMPLICIT_ONES_MIN_BYTES", 0)  # (this small X too)
    monkeypatch.setattr(design.DenseOnes, "toarray", counted)
    est = MaxEntClassifier(C=C).fit(X, y)
    ds = seen["dataset"]
    monkeypatch.undo()
    assert stored == [] and est.certificate_.ok
    if k == 2:
        assert isinstance(ds.X, design.DenseOnes) and np.shares_memory(ds.X.base, X)
        other = dataclasses.replace(ds, X=ds.X.toarray())
    else:
        assert isinstance(ds.X, np.ndarray) and not np.shares_memory(ds.X, X)
        other = dataclasses.replace(ds, X=design.DenseOnes(np.ascontiguousarray(ds.X[:, :-1])))
    l2 = None if np.isinf(C) else 1.0 / C
    a = np.asarray(solve_dual(ds, l2=l2, tol=1e-10).theta)
    b = np.asarray(solve_dual(other, l2=l2, tol=1e-10).theta)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# -- the likelihood at the start in closed form (issue 19: the solve's first pass saved) --------

from dualmaxent.objective import make_objective


@pytest.mark.parametrize("family, n, p", [("bernoulli", 3000, 5), ("bernoulli", 6000, 50),
                                          ("categorical", 2000, 4), ("poisson", 2500, 3),
                                          ("gaussian", 1500, 6)])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_start_has_the_value_and_gradient_of_a_pass_without_one(family, n, p, weighted,
                                                                    monkeypatch):
    # at theta = (0, ..., 0, eta_0) every row has eta_0, so l and G = X^T W (Y - mu) follow
    # from X^T W Y and X^T w, the sums the data set formed while it copied X
    rng = np.random.default_rng(n + p)
    X = rng.standard_normal((n, p)) * rng.uniform(0.1, 3.0, p) + rng.uniform(-1, 1, p)
    eta = X @ rng.standard_normal(p) * 0.3
    y = {"bernoulli": lambda: (rng.random(n) < nx.sigmoid(eta)).astype(int),
         "categorical": lambda: rng.integers(0, 3, n),
         "poisson": lambda: rng.poisson(np.exp(eta)),
         "gaussian": lambda: eta + rng.standard_normal(n)}[family]()
    w = rng.uniform(0.0, 3.0, n) if weighted else None
    if weighted:
        w[::7] = 0.0
    ds = Dataset.from_arrays(X, y, family=family, weights=w)
    obj = make_objective(ds)
    theta = obj.theta(obj.start())
    assert np.any(theta) and not np.any(np.asarray(theta)[:-1])
    # the definitions, from every row (the family's own functions on the n rows)
    Xf = np.asarray(ds.X, dtype=np.float64)
    E = np.broadcast_to(np.asarray(theta)[-1], (n,) + np.shape(theta)[1:])
    mu = ds.family.mean(np.array(E))
    Y, wt = ds.Y, ds.weights
    R = (Y - mu).reshape(n, -1)
    exact_G = np.array([[math.fsum(Xf[:, i] * wt * R[:, c]) for c in range(R.shape[1])]
                        for i in range(Xf.shape[1])])
    terms = (Y * E).reshape(n, -1).sum(axis=1) - ds.family.log_partition(np.array(E))
    exact_l = math.fsum(wt * terms)

    def no_pass(*args, **kwargs):
        raise AssertionError("a pass over X at the start")

    monkeypatch.setattr(type(ds.family), "one_pass", no_pass)
    value, G, C = obj._loglik(theta)
    assert C is None and G.shape == exact_G.shape
    # X^T W Y and X^T w each within gamma(n + 2) of their sums of magnitudes, mu's few roundings
    scale = np.abs(Xf).T @ (wt[:, None] * (np.abs(Y).reshape(n, -1) + np.abs(mu).reshape(n, -1)))
    assert np.all(np.abs(G - exact_G) <= gamma(n + 8) * scale)
    assert abs(value - exact_l) <= gamma(n + 8) * float(wt @ (np.abs(
        (Y * E).reshape(n, -1)).sum(axis=1) + np.abs(ds.family.log_partition(np.array(E)))))
    # the kept point, as a pass keeps it: P (categorical) or eta
    kept = obj._point[1]
    np.testing.assert_allclose(kept, mu if ds.family.multiclass else E,
                               rtol=4 * np.finfo(np.float64).eps)
    # a curvature asked for there, or a point off the start, takes its pass
    with pytest.raises(AssertionError, match="a pass over X"):
        obj._loglik(np.asarray(theta) + 0.0, hessian=True)
    moved = np.array(theta, dtype=np.float64)
    moved[0] += 0.1
    with pytest.raises(AssertionError, match="a pass over X"):
        obj._loglik(moved)


def test_a_sparse_data_set_takes_its_pass_at_the_start(monkeypatch):
    rng = np.random.default_rng(5)
    X = sp.random(400, 8, density=0.3, random_state=5, format="csr")
    y = rng.integers(0, 2, 400)
    ds = Dataset.from_arrays(X, y, family="bernoulli")
    obj = make_objective(ds)
    calls = []
    real = type(ds.family).one_pass
    monkeypatch.setattr(type(ds.family), "one_pass",
                        lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    obj._loglik(obj.theta(obj.start()))
    assert calls == [1]  # (no sums held for a sparse X: the pass)
