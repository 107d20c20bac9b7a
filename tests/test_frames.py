"""pandas DataFrames and text columns: statsmodels' treatment coding, names, missing values."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from dualmaxent import Dataset, solve_dual
from dualmaxent.exceptions import DataError


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(7)
    n = 400
    b = rng.choice(["north", "east", "south", "west"], size=n)
    a = rng.normal(size=n)
    effect = pd.Series(b).map({"north": 0.0, "east": 0.6, "south": -0.4, "west": 1.1}).to_numpy()
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.8 * a + effect - 0.3)))).astype(int)
    return pd.DataFrame({"a": a, "b": b, "y": y})


def _our_name(statsmodels_name):
    """statsmodels' ``C(b)[T.east]`` is our ``b[east]``; ``Intercept`` our ``intercept``."""
    if statsmodels_name == "Intercept":
        return "intercept"
    if statsmodels_name.startswith("C("):
        col, level = statsmodels_name[2:].split(")[T.")
        return f"{col}[{level[:-1]}]"
    return statsmodels_name


def test_from_frame_matches_statsmodels_logit_with_a_categorical_column(frame):
    ref = smf.logit("y ~ a + C(b)", frame).fit(method="newton", tol=1e-12, disp=0)
    ds = Dataset.from_frame(frame, "y", family="bernoulli")
    theta = solve_dual(ds).theta
    ours = dict(zip(ds.feature_names, theta))
    assert set(ours) == {_our_name(name) for name in ref.params.index}
    for name, value in ref.params.items():
        assert ours[_our_name(name)] == pytest.approx(value, rel=1e-7)
    # the first level in sorted order ("east") is the reference: dropped
    assert [f for f in ds.feature_names if f.startswith("b[")] == ["b[north]", "b[south]",
                                                                  "b[west]"]


def test_levels_follow_the_categories_bool_and_the_intercept_rule():
    df = pd.DataFrame({
        "size": pd.Categorical(["M", "S", "L", "M", "S", "L"], categories=["S", "M", "L", "XL"]),
        "flag": [True, False, True, True, False, False],
        "t": [0, 1, 0, 1, 1, 0],
    })
    ds = Dataset.from_frame(df, "t")
    # categories in their declared order, the unused "XL" left out; bool as False, True
    assert ds.feature_names == ("size[M]", "size[L]", "flag[True]", "intercept")
    np.testing.assert_array_equal(ds.X[:, 0], [1, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(ds.X[:, 2], [1, 0, 1, 1, 0, 0])
    # no intercept: the first factor keeps every level and spans the constant, later ones drop
    ds = Dataset.from_frame(df, "t", intercept=False)
    assert ds.feature_names == ("size[S]", "size[M]", "size[L]", "flag[True]")
    np.testing.assert_array_equal(ds.X[:, :3].sum(axis=1), 1.0)


@pytest.mark.parametrize("column, message", [
    ("b", "column 'b' has 2 missing values"),
    ("y", "column 'y' has 1 missing value;"),
    ("w", "column 'w' has 1 missing value;"),
])
def test_missing_values_name_the_column_and_the_count(column, message):
    df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": ["u", "v", "u", "v"], "y": [0, 1, 1, 0],
                       "w": [1.0, 2, 1, 1]})
    df[column] = df[column].astype(object)
    df.loc[:1 if column == "b" else 0, column] = None
    with pytest.raises(DataError, match=message) as info:
        Dataset.from_frame(df, "y", weights="w")
    assert "\n" not in str(info.value)


def test_a_column_neither_numeric_nor_categorical_is_named():
    df = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=4), "y": [0, 1, 0, 1]})
    with pytest.raises(DataError, match="column 'when' has the type datetime64"):
        Dataset.from_frame(df, "y")
    with pytest.raises(DataError, match="unknown target column 'nope'"):
        Dataset.from_frame(df, "nope")


def test_a_csv_with_a_text_column_is_encoded_as_the_frame_is(frame, tmp_path):
    path = tmp_path / "regions.csv"
    frame.to_csv(path, index=False)
    from_csv = Dataset.from_csv(path, target="y", family="bernoulli")
    from_frame = Dataset.from_frame(pd.read_csv(path), "y", family="bernoulli")
    assert from_csv.feature_names == from_frame.feature_names
    np.testing.assert_array_equal(from_csv.X, from_frame.X)
    np.testing.assert_array_equal(from_csv.Y, from_frame.Y)


@pytest.mark.parametrize("text, message", [
    ("a,b,y\n1,u,0\n2,,1\n3,v,0\n", r"column 'b' has 1 missing value \(empty cells\)"),
    ("a,b,y\n1,u,0\n2,3,1\n3,v,0\n", "column 'b' must be numeric; line 2 holds 'u'"),
])
def test_csv_text_columns_with_gaps_or_numbers_are_errors(text, message, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        Dataset.from_csv(path)


def test_a_column_named_intercept_is_a_feature_and_the_constant_is_named_apart(frame):
    """A column of the user's data called ``intercept`` is a feature like any other: every
    reader keeps its name and appends the constant as ``(intercept)`` (statsmodels' formulas
    call theirs ``Intercept``), and the fit is the fit of the same column under another name."""
    from sklearn.linear_model import LogisticRegression

    from dualmaxent import certify_model
    from dualmaxent.estimators import MaxEntClassifier

    df = frame[["a", "y"]].assign(intercept=np.cos(np.arange(len(frame))))
    other = df.rename(columns={"intercept": "c"})
    ds = Dataset.from_frame(df, "y", family="bernoulli")
    assert ds.feature_names == ("a", "intercept", "(intercept)")
    np.testing.assert_array_equal(ds.X[:, 2], 1.0)
    base = solve_dual(Dataset.from_frame(other, "y", family="bernoulli")).theta
    np.testing.assert_array_equal(solve_dual(ds).theta, base)
    formula = Dataset.from_formula("y ~ a + intercept", df, family="bernoulli")
    assert formula.feature_names == ds.feature_names
    X, y = df[["a", "intercept"]], df["y"].to_numpy()
    est = MaxEntClassifier(C=np.inf).fit(X, y)
    assert list(est.feature_names_in_) == ["a", "intercept"]
    assert est.dual_.theta.shape == (3,)
    np.testing.assert_allclose(np.append(est.coef_[0], est.intercept_), base, rtol=1e-8)
    cert = certify_model(LogisticRegression(C=1e4, tol=1e-10, max_iter=1000).fit(X, y), X, y)
    assert cert.ok, cert.messages
    with pytest.raises(DataError, match="unknown feature column 'intercept a'"):
        Dataset.from_frame(df, "y", features="intercept a")  # one label, not its letters
    assert Dataset.from_frame(df, "y", features="a").feature_names == ("a", "intercept")


def test_from_arrays_names_a_frames_columns_and_its_missing_values():
    """A data frame given to ``from_arrays`` keeps its column names (pandas and polars), and a
    missing value of a nullable column (pandas' ``pd.NA`` in ``Float64``, a polars null) is
    reported as the finite check reports a NaN, by column and row, not as "not numeric"."""
    import pandas as pd
    import polars as pl

    frame = pd.DataFrame({"dose": [1.0, 2.0, 3.0, 4.0], "age": [0.5, 1.5, 0.1, 2.0]})
    assert Dataset.from_arrays(frame, [0, 1, 0, 1]).feature_names == ("dose", "age",
                                                                      "intercept")
    numbered = pd.DataFrame(frame.to_numpy())  # (columns 0, 1: generated names)
    assert Dataset.from_arrays(numbered, [0, 1, 0, 1]).feature_names == ("x1", "x2",
                                                                         "intercept")
    nullable = frame.astype("Float64")
    nullable.loc[2, "age"] = pd.NA
    for X in (nullable, pl.from_pandas(frame.assign(age=[0.5, 1.5, None, 2.0]))):
        with pytest.raises(DataError, match=r"must be finite.*column 'age' at row 3"):
            Dataset.from_arrays(X, [0, 1, 0, 1])
    with pytest.raises(DataError, match="target must be finite; found 1 NaN or infinite value$"):
        Dataset.from_arrays(frame, pd.array([0, 1, pd.NA, 1], dtype="Int64"))
