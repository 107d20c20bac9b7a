"""Every DataFrame, formulas, and sparse indicator columns.

* polars frames and pyarrow Tables give the data set (``X``, ``Y``, names, classes, weights) of
  their pandas copy, through narwhals, and so the same fit; the estimators take them too.
* ``Dataset.from_formula`` has statsmodels' column names and levels and, fitted, the
  coefficients of ``smf.logit`` and ``smf.poisson`` on the same data.
* A many-level categorical column becomes sparse CSR columns, equal to pandas' dummies, with the
  fit of the dense encoding.

Agreement of two fits of one strictly concave objective ``f`` (the log-likelihood, minus
``l2/2 |theta_R|^2``) is judged by the bound ``|theta_a - theta_b| <= (|g_a| + |g_b|) / mu`` with
``g`` the gradients of ``f`` at the two points (each plus a bound on its float64 summation error)
and ``mu`` a lower bound on the curvature between them: half the smallest eigenvalue of
``-Hess f(theta_a)``, the half covering the Hessian's change along a segment as short as these.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import statsmodels.formula.api as smf

from dualmaxent import Dataset, MaxEntClassifier, design, solve_dual
from dualmaxent.data import SPARSE_MAX_DENSITY, SPARSE_MIN_ENTRIES
from dualmaxent.exceptions import DataError

pl = pytest.importorskip("polars")  # the ``frames`` extra, part of ``test``
pa = pytest.importorskip("pyarrow")

EPS = np.finfo(np.float64).eps


def _fit_gradient(X, y, w, family, l2, theta):
    """``(g, V)``: the gradient of ``f`` at theta (shape (m,)) with its summation-error bound
    added to its norm, and the variances ``A''(eta)`` (n,). The last row is the intercept,
    unpenalised."""
    eta = X @ theta
    mu = 1.0 / (1.0 + np.exp(-eta)) if family == "bernoulli" else np.exp(eta)
    V = mu * (1.0 - mu) if family == "bernoulli" else mu
    g = X.T @ (w * (y - mu))
    g[:-1] -= l2 * theta[:-1]
    # each entry a sum of n terms: error at most n eps times the sum of their sizes
    absX = abs(X)
    err = X.shape[0] * EPS * np.linalg.norm(absX.T @ (w * (np.abs(y) + mu)))
    return np.linalg.norm(g) + err, V


def _agreement_bound(X, y, w, family, theta_a, theta_b, l2=0.0):
    """The bound of the module docstring on ``|theta_a - theta_b|`` (2-norm)."""
    ga, V = _fit_gradient(X, y, w, family, l2, theta_a)
    gb, _ = _fit_gradient(X, y, w, family, l2, theta_b)
    H = X.T @ (X * (w * V)[:, None]) if not sp.issparse(X) else \
        (X.T @ sp.diags_array(w * V) @ X).toarray()
    H[np.arange(len(H) - 1), np.arange(len(H) - 1)] += l2
    mu = 0.5 * np.linalg.eigvalsh(H)[0]
    assert mu > 0
    return (ga + gb) / mu


# -- every DataFrame ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pandas_frame():
    rng = np.random.default_rng(11)
    n = 240
    size = pd.Categorical(rng.choice(["S", "M", "L"], n), categories=["L", "S", "M", "XL"])
    region = rng.choice(["west", "north", "south"], n)
    a = rng.normal(size=n)
    flag = rng.random(n) < 0.4
    score = (0.7 * a + pd.Series(region).map({"west": 0.5, "north": -0.5, "south": 0.0})
             + flag + rng.gumbel(size=n))
    label = pd.Categorical(np.digitize(score, np.quantile(score, [0.33, 0.66])).astype(str))
    label = label.rename_categories({"0": "low", "1": "mid", "2": "high"})
    return pd.DataFrame({"a": a, "region": region, "size": size, "flag": flag,
                         "count": rng.integers(0, 6, n), "w": rng.integers(1, 4, n) * 1.0,
                         "label": label})


def _copies(df):
    """The polars and pyarrow copies of ``df``: its categorical column as a polars Enum (the
    declared order kept) and as a pyarrow dictionary."""
    polars = pl.from_pandas(df).with_columns(
        pl.col("size").cast(pl.Enum(list(df["size"].cat.categories))))
    return {"polars": polars, "pyarrow": pa.Table.from_pandas(df, preserve_index=False)}


@pytest.mark.parametrize("kind", ["polars", "pyarrow"])
def test_polars_and_pyarrow_give_the_data_set_and_the_fit_of_the_pandas_copy(pandas_frame, kind):
    other = _copies(pandas_frame)[kind]
    ref = Dataset.from_frame(pandas_frame, "label", weights="w")
    ds = Dataset.from_frame(other, "label", weights="w")
    # the declared order of size (L, S, M; XL unused), region sorted, flag False/True
    assert ref.feature_names == ("a", "region[south]", "region[west]", "size[S]", "size[M]",
                                 "flag[True]", "count", "intercept")
    assert ds.feature_names == ref.feature_names and ds.classes == ref.classes
    assert ref.classes == ("high", "low", "mid")
    for field in ("X", "Y", "weights"):
        np.testing.assert_array_equal(getattr(ds, field), getattr(ref, field))
    np.testing.assert_array_equal(ds.y.astype(str), ref.y.astype(str))
    # the same arrays: the same deterministic solve
    np.testing.assert_array_equal(solve_dual(ds, l2=1.0).theta, solve_dual(ref, l2=1.0).theta)


def test_a_polars_categorical_declares_no_order_so_its_levels_are_sorted():
    df = pl.DataFrame({"c": pl.Series(["m", "z", "a", "m"], dtype=pl.Categorical),
                       "y": [0, 1, 1, 0]})
    assert Dataset.from_frame(df, "y").feature_names == ("c[m]", "c[z]", "intercept")


CLEAN = {"a": [1.0, 2.0, 3.0, 4.0, 5.0], "region": ["u", "v", "u", "v", "u"],
         "label": ["x", "y", "x", "y", "x"], "w": [1.0, 1.0, 2.0, 1.0, 1.0]}
#: a column with gaps, and how many; in ``a`` one NaN and one null, both missing as pandas counts
GAPS = {"a": ([1.0, float("nan"), None, 4.0, 5.0], 2), "region": (["u", None, "v", "v", "u"], 1),
        "label": (["x", "y", None, "y", "x"], 1), "w": ([1.0, 1.0, 2.0, None, 1.0], 1)}


@pytest.mark.parametrize("kind", ["polars", "pyarrow"])
@pytest.mark.parametrize("column", sorted(GAPS))
def test_missing_values_name_the_column_for_every_frame(kind, column):
    data = {**CLEAN, column: GAPS[column][0]}
    frame = pl.DataFrame(data) if kind == "polars" else pa.table(data)
    count = GAPS[column][1]
    noun = "missing value" if count == 1 else "missing values"
    with pytest.raises(DataError, match=f"column '{column}' has {count} {noun};") as info:
        Dataset.from_frame(frame, "label", weights="w")
    assert "\n" not in str(info.value)


def test_something_else_than_a_frame_is_refused_in_one_line():
    with pytest.raises(DataError, match="df must be a DataFrame .* got ndarray"):
        Dataset.from_frame(np.zeros((3, 2)), "y")
    with pytest.raises(DataError, match="column names must be unique"):
        Dataset.from_frame(pd.DataFrame([[1, 2, 0], [3, 4, 1]], columns=["a", "a", "y"]), "y")


@pytest.mark.parametrize("kind", ["polars", "pyarrow"])
def test_the_estimators_take_any_frame_with_its_column_names(pandas_frame, kind):
    numeric = pandas_frame[["a", "count"]]
    y = pandas_frame["flag"].to_numpy()
    other = _copies(pandas_frame)[kind].select(["a", "count"])
    ref = MaxEntClassifier(certify=False).fit(numeric, y)
    est = MaxEntClassifier(certify=False).fit(other, y)
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "count"])
    np.testing.assert_array_equal(est.feature_names_in_, ref.feature_names_in_)
    np.testing.assert_array_equal(est.coef_, ref.coef_)
    # the same coefficients on the same numbers; only the layout of the converted array (and
    # with it BLAS's order of summation) may differ: eta_j by at most 2 gamma(m + 1) sum_i
    # |x_ji theta_i| between the two, and each probability by at most that (the softmax's
    # derivative is below 1 in the max norm) plus its own few roundings
    X = numeric.to_numpy(dtype=float)
    eps = np.finfo(float).eps
    gamma = (X.shape[1] + 1) * eps / 2 / (1 - (X.shape[1] + 1) * eps / 2)
    spread = np.abs(X) @ np.abs(ref.coef_).T + np.abs(ref.intercept_)
    atol = 2 * gamma * float(spread.max()) + 8 * eps
    np.testing.assert_allclose(est.predict_proba(other), ref.predict_proba(numeric),
                               rtol=0, atol=atol)


# -- formulas -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def formula_frame():
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                       "site": rng.choice(["c", "a", "b"], n)})
    site = df["site"].map({"a": 0.0, "b": 0.6, "c": -0.4}).to_numpy()
    eta = 0.3 + 0.8 * df["x1"] - 0.5 * df["x1"] * df["x2"] + site
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    df["count"] = rng.poisson(np.exp(0.2 + 0.4 * df["x1"] + 0.5 * site))
    return df


def _statsmodels_name(ours: str) -> str:
    """Our intercept is statsmodels' ``Intercept``; every other name is the same."""
    return "Intercept" if ours == "intercept" else ours


@pytest.mark.parametrize("formula, family, fit", [
    ("y ~ x1 + C(site) + x1:x2", "bernoulli", smf.logit),
    ("y ~ C(site) + x1 - 1", "bernoulli", smf.logit),
    ("count ~ x1 + C(site)", "poisson", smf.poisson),
])
def test_a_formula_fits_statsmodels_coefficients_under_its_names(formula_frame, formula, family,
                                                                  fit):
    before = formula_frame.copy()
    ref = fit(formula, formula_frame).fit(method="newton", tol=1e-12, maxiter=100, disp=0)
    ds = Dataset.from_formula(formula, formula_frame, family=family)
    pd.testing.assert_frame_equal(formula_frame, before)  # not modified
    assert ds.intercept == ("Intercept" in ref.params.index)
    assert sorted(map(_statsmodels_name, ds.feature_names)) == sorted(ref.params.index)
    theta = solve_dual(ds).theta
    theirs = ref.params[[_statsmodels_name(f) for f in ds.feature_names]].to_numpy()
    # without an intercept the first factor keeps every level, in both
    assert ("C(site)[a]" in ds.feature_names) == (not ds.intercept)
    bound = _agreement_bound(ds.X, ds.Y, ds.weights, family, theta, theirs)
    assert np.linalg.norm(theta - theirs) <= bound


def test_a_polars_formula_gives_the_data_set_of_the_pandas_one(formula_frame):
    ref = Dataset.from_formula("y ~ x1 + C(site) + x1:x2", formula_frame, family="bernoulli")
    ds = Dataset.from_formula("y ~ x1 + C(site) + x1:x2", pl.from_pandas(formula_frame),
                              family="bernoulli")
    assert ds.feature_names == ref.feature_names
    np.testing.assert_array_equal(ds.X, ref.X)
    np.testing.assert_array_equal(ds.Y, ref.Y)


def test_a_formula_takes_text_labels_and_a_weights_column(formula_frame):
    df = formula_frame.assign(w=2.0)
    ds = Dataset.from_formula("site ~ x1", df, weights="w")
    assert ds.classes == ("a", "b", "c") and ds.feature_names == ("x1", "intercept")
    np.testing.assert_array_equal(ds.weights, 2.0)


@pytest.mark.parametrize("formula, message", [
    ("y ~ x1 +", r"formula 'y ~ x1 \+': Operator"),
    ("y ~ nope", "formula 'y ~ nope': Unable to evaluate factor `nope`"),
    ("x1 + x2", "has no response"),
    ("y ~ x1:x2", "column 'x2' has 1 missing value;"),
])
def test_formula_errors_are_one_line(formula_frame, formula, message):
    df = formula_frame.copy()
    df.loc[3, "x2"] = np.nan
    with pytest.raises(DataError, match=message) as info:
        Dataset.from_formula(formula, df, family="bernoulli")
    assert "\n" not in str(info.value)


def test_without_formulaic_the_error_names_the_extra(formula_frame, monkeypatch):
    monkeypatch.setitem(sys.modules, "formulaic", None)  # import formulaic raises ImportError
    with pytest.raises(DataError, match=r'pip install "dualmaxent\[formula\]"') as info:
        Dataset.from_formula("y ~ x1", formula_frame)
    assert "\n" not in str(info.value)


# -- sparse indicator columns ---------------------------------------------------------------

@pytest.fixture(scope="module")
def many_levels():
    rng = np.random.default_rng(3)
    n, levels = 20_000, 500
    codes = rng.integers(0, levels, n)
    effect = rng.normal(0.0, 0.5, levels)
    x1 = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.8 * x1 + effect[codes])))).astype(int)
    return pd.DataFrame({"x1": x1, "shop": np.array([f"s{c:03d}" for c in codes]), "y": y})


def test_a_many_level_column_is_sparse_and_fits_as_its_dense_encoding(many_levels, tmp_path):
    ds = Dataset.from_frame(many_levels, "y", family="bernoulli")
    n, m = ds.X.shape
    # sparse, the intercept an implicit column of ones beside a CSR of the other columns
    assert isinstance(ds.X, design.OnesColumn) and ds.X.base.format == "csr"
    # the rule's terms: large, and sparse enough (x1, one indicator and the intercept per row)
    assert n * m >= SPARSE_MIN_ENTRIES and ds.X.nnz <= SPARSE_MAX_DENSITY * n * m
    # the columns are pandas' dummies of the sorted levels, the first dropped
    dummies = pd.get_dummies(many_levels["shop"], prefix="shop", prefix_sep="[",
                             drop_first=True, dtype=float)
    assert ds.feature_names == ("x1", *(f"{c}]" for c in dummies.columns), "intercept")
    Xd = np.column_stack([many_levels["x1"], dummies.to_numpy(), np.ones(n)])
    np.testing.assert_array_equal(ds.X.toarray(), Xd)
    dense = Dataset.from_arrays(Xd[:, :-1], many_levels["y"], feature_names=ds.feature_names[:-1],
                                family="bernoulli")
    # one method for both (``auto`` picks L-BFGS for the dense one), so that the
    # representation alone differs
    a = solve_dual(ds, l2=1.0, method="newton-cg").theta
    b = solve_dual(dense, l2=1.0, method="newton-cg").theta
    bound = _agreement_bound(ds.X.tocsr(), ds.Y, ds.weights, "bernoulli", a, b, l2=1.0)
    assert np.linalg.norm(a - b) <= bound
    # the CSV reader encodes it the same way
    many_levels.to_csv(tmp_path / "shops.csv", index=False)
    csv = Dataset.from_csv(tmp_path / "shops.csv", target="y", family="bernoulli")
    assert design.is_sparse(csv.X) and csv.feature_names == ds.feature_names
    assert abs(csv.X.tocsr() - ds.X.tocsr()).max() == 0


def test_a_many_level_formula_term_is_sparse_too(many_levels):
    ds = Dataset.from_formula("y ~ x1 + C(shop)", many_levels, family="bernoulli")
    ref = Dataset.from_frame(many_levels, "y", family="bernoulli")
    assert design.is_sparse(ds.X)
    assert [f.replace("C(shop)[T.", "shop[") for f in ds.feature_names] == list(ref.feature_names)
    assert abs(ds.X.tocsr() - ref.X.tocsr()).max() == 0


def test_a_few_levels_stay_dense(pandas_frame):
    assert isinstance(Dataset.from_frame(pandas_frame, "label").X, np.ndarray)
