"""Data sets: validation, encoding, the intercept convention, nothing modified."""

import numpy as np
import pytest

from dualmaxent import Dataset, load_dataset
from dualmaxent.exceptions import DataError


def test_from_arrays_appends_the_intercept_last_and_sorts_the_classes():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    ds = Dataset.from_arrays(X, ["b", "a", "b"], feature_names=["u", "v"])
    assert ds.feature_names == ("u", "v", "intercept")
    np.testing.assert_array_equal(ds.X[:, -1], 1.0)
    assert ds.classes == ("a", "b")
    np.testing.assert_array_equal(ds.Y, [[0, 1], [1, 0], [0, 1]])
    assert (ds.n, ds.m, ds.k) == (3, 3, 2)


def test_inputs_are_copied_not_modified_and_the_dataset_is_read_only():
    X = np.array([[1.0], [2.0], [3.0]])
    y = np.array([0, 1, 1])
    ds = Dataset.from_arrays(X, y)
    X[0, 0] = 99.0
    assert ds.X[0, 0] == 1.0
    with pytest.raises(ValueError):
        ds.X[0, 0] = 5.0


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.array([[1.0], [np.nan], [np.inf]]), [0, 1, 0], "X must be finite; found 2 NaN or "
         "infinite values, the first in column 'x1' at row 2"),
        (np.array([[1.0], [2.0]]), [0, 0], "single class"),
        (np.array([[1.0]]), [0], "at least two observations"),
        (np.array([[1.0], [2.0]]), [0, 1, 1], "one entry per row"),
    ],
)
def test_bad_arrays_get_one_line_errors(X, y, match):
    with pytest.raises(DataError, match=match) as info:
        Dataset.from_arrays(X, y)
    assert "\n" not in str(info.value)


def test_builtin_data_sets_have_the_documented_shapes():
    blobs = load_dataset("blobs")
    assert (blobs.n, blobs.m, blobs.k) == (300, 3, 3)
    iris = load_dataset("iris")
    assert (iris.n, iris.m, iris.k) == (150, 5, 3)
    assert iris.classes == ("setosa", "versicolor", "virginica")
    with pytest.raises(DataError, match="unknown data set"):
        load_dataset("nope")


def test_csv_integer_labels_and_feature_selection(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,c,t\n1,2,3,0\n2,3,1,1\n3,1,2,2\n0,0,1,1\n")
    ds = Dataset.from_csv(path, target="t", features=["a", "c"])
    assert ds.feature_names == ("a", "c", "intercept")
    assert ds.classes == (0, 1, 2)
    np.testing.assert_array_equal(ds.X[:, 1], [3, 1, 2, 1])


def test_building_a_data_set_allocates_its_design_and_no_other_copy_of_x():
    """from_arrays holds X with the intercept appended (one array of the design's size); its
    checks (finiteness, scale) run in row blocks and allocate nothing of that size again."""
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200_000, 20))
    y = rng.integers(0, 2, len(X))
    tracemalloc.start()
    ds = Dataset.from_arrays(X, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert ds.X.nbytes <= peak < 1.5 * ds.X.nbytes, (peak, ds.X.nbytes)


def test_the_readers_warnings_name_the_users_line():
    """A warning about the data points at the line that read them, however deep inside the
    package it is raised: from_arrays called directly, from a function, through from_frame and
    through a solve (a fixed stacklevel named the caller's caller, ``sys:1`` at a script's top
    level)."""
    import inspect
    import warnings

    import pandas as pd

    from dualmaxent.exceptions import CountTargetWarning

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 2)), rng.integers(0, 12, 60)

    def read():
        return Dataset.from_arrays(X, y)  # its own line

    here = inspect.currentframe().f_lineno
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        Dataset.from_arrays(X, y)
        read()
        Dataset.from_frame(pd.DataFrame({"a": X[:, 0], "y": y}), target="y")
    lines = [(w.filename, w.lineno) for w in said if issubclass(w.category, CountTargetWarning)]
    assert lines == [(__file__, here + 3), (__file__, read.__code__.co_firstlineno + 1),
                     (__file__, here + 5)]
