"""Data sets: the design matrix ``X``, the response, its encoding ``Y``, weights and names.

Conventions
-----------
``X`` has shape (n, m) and, unless ``intercept=False``, its *last* column is a column of ones named
``intercept``. ``y`` holds the response as given (class labels of any hashable type, or numbers);
``Y`` is its encoding for the family: one-hot of shape (n, k) with the classes sorted, or a float
vector of shape (n,). ``weights`` are frequency weights of shape (n,): an observation of weight 2
counts as two identical rows. Arrays are copied on the way in and made read-only, so nothing a
user passes is modified.

Categorical features (:meth:`Dataset.from_frame` and CSV files) follow statsmodels' formulas
(patsy's treatment coding, as in ``y ~ a + C(b)``): a string, categorical or bool column ``b``
becomes one indicator column ``b[level]`` per level, and the *first* level is dropped when the
model has an intercept (or when an earlier categorical column already spans the constant), so
that the columns stay linearly independent. Levels are sorted as patsy sorts them: a pandas
categorical in the order of its categories (those that occur), bool as ``False, True``, text
sorted.
"""

from __future__ import annotations

import csv
import math
import warnings
import dataclasses
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from .exceptions import DataError, ScaleWarning, TargetWarning
from .families import Family, _sorted_labels, get_family

__all__ = ["Dataset", "load_dataset", "BUILTIN_DATASETS"]

#: Built-in data sets: name -> (file in dualmaxent/data, target column, description).
BUILTIN_DATASETS = {
    "blobs": ("blobs.csv", "label", "3 overlapping Gaussian classes in 2 features, n = 300"),
    "iris": ("iris.csv", "species", "Fisher's iris flowers: 3 species, 4 features, n = 150"),
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A design matrix with its response, ready for the primal and the dual.

    Attributes
    ----------
    X : ndarray of shape (n, m)
        Features, the intercept column (if any) last.
    y : ndarray of shape (n,)
        The response as given.
    Y : ndarray of shape (n, k) or (n,)
        The response encoded for ``family`` (one-hot for ``categorical``).
    classes : tuple
        Sorted class labels (empty for ``poisson`` and ``gaussian``).
    feature_names : tuple of str
        One name per column of ``X``.
    weights : ndarray of shape (n,)
        Frequency weights (ones by default).
    family : Family
        The canonical family (:mod:`dualmaxent.families`); a name (``categorical``,
        ``bernoulli``, ``poisson`` or ``gaussian``) is converted on construction.
    name : str
        A label for reports.
    intercept : bool
        Whether the last column of ``X`` is the appended intercept.
    """

    X: np.ndarray
    y: np.ndarray
    Y: np.ndarray
    classes: tuple
    feature_names: tuple
    weights: np.ndarray
    family: Family = "categorical"
    name: str = "data"
    intercept: bool = True

    def __post_init__(self):
        # a family given by its name becomes the family object (the field is frozen)
        object.__setattr__(self, "family", get_family(self.family))

    @property
    def n(self) -> int:
        """Number of observations (rows of ``X``)."""
        return self.X.shape[0]

    @property
    def m(self) -> int:
        """Number of features, the intercept included."""
        return self.X.shape[1]

    @cached_property
    def identifiability(self):
        """The rank of the weighted design and its null space (:mod:`dualmaxent.identifiability`),
        computed once, on first use (one pass over ``X``)."""
        from .identifiability import identify

        return identify(self.X, self.weights, self.feature_names)

    @property
    def rank(self) -> int:
        """The rank of ``X`` on the observations of positive weight."""
        return self.identifiability.rank

    def every(self, step: int) -> "Dataset":
        """Every ``step``-th row as a data set: views of the arrays, nothing copied (the warm
        start of :func:`dualmaxent.solvers.subsample_start`)."""
        rows = slice(None, None, step)
        return dataclasses.replace(self, X=self.X[rows], y=self.y[rows], Y=self.Y[rows],
                                   weights=self.weights[rows], name=f"{self.name} [::{step}]")

    @property
    def k(self) -> int:
        """Number of classes (1 for a real response)."""
        return len(self.classes) if self.classes else 1

    @classmethod
    def from_arrays(
        cls,
        X,
        y,
        feature_names: Sequence[str] | None = None,
        intercept: bool = True,
        weights=None,
        family: str | Family = "categorical",
        name: str = "arrays",
    ) -> "Dataset":
        """Build a data set from arrays, validating them.

        Parameters
        ----------
        X : array_like of shape (n, p)
            Numeric, finite features (without the intercept).
        y : array_like of shape (n,)
            Class labels (categorical, bernoulli) or numbers (poisson, gaussian).
        feature_names : sequence of str, optional
            ``p`` names; ``x1, ..., xp`` when omitted.
        intercept : bool, default True
            Append a column of ones named ``intercept`` as the last column.
        weights : array_like of shape (n,), optional
            Non-negative frequency weights.
        family : str or Family, default "categorical"
        name : str, default "arrays"

        Raises
        ------
        DataError
            With a one-line message naming the problem.
        """
        fam = get_family(family)
        try:
            # read only until the design is built below (one copy, the intercept appended)
            Xa = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError("X must be numeric") from None
        if Xa.ndim == 1:
            Xa = Xa[:, None]
        if Xa.ndim != 2:
            raise DataError(f"X must be 2-dimensional; got {Xa.ndim} dimensions")
        n, p = Xa.shape
        if feature_names is None:
            feature_names = [f"x{i + 1}" for i in range(p)]
        feature_names = [str(f) for f in feature_names]
        if len(feature_names) != p:
            raise DataError(f"got {len(feature_names)} feature names for {p} columns of X")
        if len(set(feature_names)) != len(feature_names):
            raise DataError("feature names must be unique")
        # a NaN or an infinity makes the sum non-finite (so may an overflow of finite values:
        # then the entries decide), without a boolean array of the size of X in the usual case
        bad = np.zeros(1, dtype=bool) if np.isfinite(Xa.sum()) else ~np.isfinite(Xa)
        if bad.any():
            col = int(np.nonzero(bad.any(axis=0))[0][0])
            row = int(np.nonzero(bad[:, col])[0][0])
            raise DataError(
                f"X must be finite; found {int(bad.sum())} NaN or infinite values, the first in "
                f"column {feature_names[col]!r} at row {row + 1}"
            )
        ya = np.array(y, dtype=object if not _is_numeric_array(y) else None, copy=True)
        if ya.ndim != 1:
            ya = ya.reshape(-1) if ya.ndim == 2 and 1 in ya.shape else ya
        if ya.ndim != 1 or ya.shape[0] != n:
            raise DataError(f"y must have one entry per row of X ({n}); got shape {ya.shape}")
        if n < 2:
            raise DataError(f"need at least two observations; got {n}")
        if ya.dtype == object and any(_is_missing(v) for v in ya.tolist()):
            raise DataError("the target has missing values")
        if ya.dtype.kind == "f" and not np.all(np.isfinite(ya)):
            raise DataError(f"the target must be finite; found {int((~np.isfinite(ya)).sum())} "
                            "NaN or infinite values")
        if fam.is_probability:
            _warn_if_continuous(ya)
        Y, classes = fam.encode(ya)
        if weights is None:
            w = np.ones(n)
        else:
            try:
                w = np.array(weights, dtype=np.float64, copy=True).reshape(-1)
            except (TypeError, ValueError):
                raise DataError("weights must be numeric") from None
            if w.shape != (n,):
                raise DataError(f"weights must have one entry per row of X ({n}); got {w.size}")
            if not np.all(np.isfinite(w)):
                raise DataError("weights must be finite")
            if np.any(w < 0):
                raise DataError(f"weights must be >= 0; found {int((w < 0).sum())} negative")
            if w.sum() <= 0:
                raise DataError("weights must not all be zero")
        if intercept:
            if "intercept" in feature_names:
                raise DataError("a feature is already named 'intercept'; pass intercept=False")
            design = np.empty((n, p + 1))
            design[:, :p] = Xa
            design[:, p] = 1.0
            Xa = design
            feature_names = feature_names + ["intercept"]
        else:
            Xa = np.array(Xa, copy=True)  # the data set's own, never the caller's array
        if Xa.shape[1] == 0:
            raise DataError("no features: give at least one column or keep the intercept")
        _check_scale(Xa, w, feature_names)
        for arr in (Xa, ya, Y, w):
            arr.setflags(write=False)
        return cls(X=Xa, y=ya, Y=Y, classes=tuple(classes), feature_names=tuple(feature_names),
                   weights=w, family=fam, name=name, intercept=bool(intercept))

    @classmethod
    def from_csv(
        cls,
        path,
        target: str | None = None,
        features: Sequence[str] | None = None,
        intercept: bool = True,
        weights: str | None = None,
        family: str | Family = "categorical",
        name: str | None = None,
    ) -> "Dataset":
        """Read a CSV file with a header row.

        Parameters
        ----------
        path : str, path-like or text stream
            A file, or an open text stream such as ``sys.stdin`` (the CLI's ``-``).
        target : str, optional
            The response column; the last column when omitted.
        features : sequence of str, optional
            The feature columns; every column but the target (and weights) when omitted. A
            column of numbers is used as it is; a column of text becomes indicator columns
            ``col[level]`` as in :meth:`from_frame` (levels sorted). A column that mixes
            numbers and text is an error (a number among texts is more likely a typo than a
            level).
        intercept : bool, default True
        weights : str, optional
            A column of frequency weights.
        family : str or Family, default "categorical"
        name : str, optional
            Defaults to the file's stem.
        """
        if hasattr(path, "read"):  # an open text stream, e.g. sys.stdin for `verify -`
            where = getattr(path, "name", None) or "<stream>"
            rows = _read_rows(path, where)
            stem = "stdin" if where == "<stdin>" else "stream"
        else:
            path = Path(path)
            if not path.exists():
                raise DataError(f"no such file: {path}")
            if path.is_dir():
                raise DataError(f"{path} is a folder, not a CSV file")
            try:
                with open(path, newline="", encoding="utf-8-sig") as fh:
                    rows = _read_rows(fh, str(path))
            except UnicodeDecodeError:
                raise DataError(f"{path} is not a text CSV file") from None
            where, stem = str(path), path.stem
        return _from_rows(cls, rows, target, features, intercept, weights, family,
                          name if name is not None else stem, where)

    @classmethod
    def from_frame(
        cls,
        df,
        target,
        features: Sequence | None = None,
        weights=None,
        family: str | Family | None = None,
        intercept: bool = True,
        name: str = "frame",
    ) -> "Dataset":
        """Build a data set from a pandas DataFrame, encoding its categorical columns.

        Numeric columns are used as they are; string, categorical and bool columns become
        indicator columns named ``col[level]``, the first level dropped when there is an
        intercept (the module docstring states the rule). The columns of ``X`` follow the
        order of ``features``, the intercept last, so ``y ~ a + C(b)`` in statsmodels has the
        coefficients of ``a``, ``b[...]`` and ``intercept`` here, under the names
        ``a``, ``C(b)[T....]`` and ``Intercept`` there.

        Parameters
        ----------
        df : pandas.DataFrame
            One row per observation. pandas is imported only here: it is not a dependency of
            the rest of the package.
        target : column label
            The response column.
        features : sequence of column labels, optional
            Every column but the target and the weights when omitted.
        weights : column label, optional
            A numeric column of frequency weights.
        family : str or Family, optional
            ``categorical`` when omitted.
        intercept : bool, default True
        name : str, default "frame"

        Raises
        ------
        DataError
            A missing column, a missing value (the message names the column and the count) or
            a column of a type that is neither numeric nor categorical.
        """
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            raise DataError(f"df must be a pandas DataFrame; got {type(df).__name__}")
        if df.columns.duplicated().any():
            raise DataError("the DataFrame's column names must be unique")
        columns = list(df.columns)
        for col, what in ((target, "target"), (weights, "weights")):
            if col is not None and col not in columns:
                raise DataError(f"unknown {what} column {col!r}; columns are "
                                f"{', '.join(map(str, columns))}")
        if features is None:
            features = [c for c in columns if c not in (target, weights)]
        for f in features:
            if f not in columns:
                raise DataError(f"unknown feature column {f!r}; columns are "
                                f"{', '.join(map(str, columns))}")
            if f in (target, weights):
                raise DataError(f"column {f!r} cannot be both a feature and the target/weights")
        for col in [target, *features] + ([weights] if weights is not None else []):
            missing = int(df[col].isna().sum())
            if missing:
                raise DataError(f"column {col!r} has {missing} missing values; drop or fill them")
        X, names = _design([(str(f), _frame_column(df[f], pd)) for f in features], intercept,
                           len(df))
        y = df[target].to_numpy(dtype=object if isinstance(df[target].dtype, pd.CategoricalDtype)
                                else None)
        w = None
        if weights is not None:
            if not pd.api.types.is_numeric_dtype(df[weights]):
                raise DataError(f"the weights column {weights!r} must be numeric")
            w = df[weights].to_numpy(dtype=np.float64)
        return cls.from_arrays(X, y, feature_names=names, intercept=intercept, weights=w,
                               family=family if family is not None else "categorical",
                               name=name)


def load_dataset(name: str, family: str | Family = "categorical", intercept: bool = True,
                 features: Sequence[str] | None = None) -> Dataset:
    """Load a built-in data set by name (see ``BUILTIN_DATASETS``)."""
    if name not in BUILTIN_DATASETS:
        raise DataError(f"unknown data set {name!r}; built-in: {', '.join(BUILTIN_DATASETS)} "
                        "(or give a CSV path)")
    fname, target, _ = BUILTIN_DATASETS[name]
    text = resources.files("dualmaxent").joinpath("data").joinpath(fname).read_text(encoding="utf-8")
    rows = [r for r in csv.reader(text.splitlines()) if r]
    return _from_rows(Dataset, rows, target, features, intercept, None, family, name, name)


def _from_rows(cls, rows, target, features, intercept, weights, family, name, where):
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if len(set(header)) != len(header):
        raise DataError(f"{where}: column names must be unique")
    if not body:
        raise DataError(f"{where} has a header but no data rows")
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise DataError(f"{where}: line {i + 2} has {len(r)} fields; the header has "
                            f"{len(header)}")
    if target is None:
        target = header[-1]
    for col, what in ((target, "target"), (weights, "weights")):
        if col is not None and col not in header:
            raise DataError(f"unknown {what} column {col!r}; columns are {', '.join(header)}")
    if features is None:
        features = [h for h in header if h not in (target, weights)]
    else:
        features = list(features)
        for f in features:
            if f not in header:
                raise DataError(f"unknown feature column {f!r}; columns are {', '.join(header)}")
            if f in (target, weights):
                raise DataError(f"column {f!r} cannot be both a feature and the target/weights")
    columns = {h: [r[i].strip() for r in body] for i, h in enumerate(header)}
    X, names = _design([(f, _csv_column(columns[f], f, where)) for f in features], intercept,
                       len(body))
    w = None if weights is None else _parse_numeric(columns[weights], weights, where)
    raw = columns[target]
    if any(v == "" for v in raw):
        raise DataError(f"{where}: the target column {target!r} has "
                        f"{sum(v == '' for v in raw)} empty values")
    y = _parse_labels(raw)
    return cls.from_arrays(X, y, feature_names=names, intercept=intercept, weights=w,
                           family=family, name=name)


def _read_rows(fh, where):
    """The non-blank rows of a CSV text stream."""
    try:
        rows = [r for r in csv.reader(fh) if any(cell.strip() for cell in r)]
    except csv.Error as exc:
        raise DataError(f"{where} is not a valid CSV file: {exc}") from None
    if rows and rows[0] and rows[0][0].startswith("\ufeff"):  # a byte-order mark on a stream
        rows[0][0] = rows[0][0][1:]
    if not rows:
        raise DataError(f"{where} is empty")
    return rows


@dataclass(frozen=True)
class _Factor:
    """A categorical column: its values (object array of shape (n,)) and its sorted levels."""

    values: np.ndarray
    levels: tuple


def _design(columns, intercept, n):
    """``X`` of shape (n, p) and its ``p`` names from numeric columns and factors.

    patsy's rule for a full-rank design: a factor drops its first level when the columns
    before it already span the constant (an intercept, or an earlier factor coded in full).
    """
    blocks, names = [], []
    spans_constant = intercept
    for col, values in columns:
        if isinstance(values, _Factor):
            kept = values.levels[1:] if spans_constant else values.levels
            spans_constant = True
            for level in kept:
                blocks.append((values.values == level).astype(np.float64))
                names.append(f"{col}[{level}]")
        else:
            blocks.append(values)
            names.append(col)
    X = np.column_stack(blocks) if blocks else np.empty((n, 0))
    return X, names


def _csv_column(values, column, where):
    """A CSV column as floats when every cell is a number, else as a factor of its texts."""
    numeric = [_is_number(v) for v in values if v != ""]
    if not numeric or any(numeric):  # a number among texts is a typo, not a level: say so
        return _parse_numeric(values, column, where)
    missing = sum(v == "" for v in values)
    if missing:
        raise DataError(f"{where}: column {column!r} has {missing} missing values (empty cells)")
    arr = np.array(values, dtype=object)
    return _Factor(arr, _sorted_labels(arr))


def _frame_column(s, pd):
    """A pandas column as floats, or as a factor when it is categorical, bool or text."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.cat.remove_unused_categories()  # an unused level would be an all-zero column
        return _Factor(s.to_numpy(dtype=object), tuple(s.cat.categories))
    if pd.api.types.is_bool_dtype(s):
        return _Factor(s.to_numpy(dtype=object), (False, True))
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=np.float64)
    if pd.api.types.is_string_dtype(s) or s.dtype == object:
        arr = s.to_numpy(dtype=object)
        return _Factor(arr, _sorted_labels(arr))
    raise DataError(f"column {s.name!r} has the type {s.dtype}, neither numeric nor categorical;"
                    " convert it to numbers or strings")


def _is_number(text) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_numeric(values, column, where):
    out = np.empty(len(values))
    for i, v in enumerate(values):
        try:
            out[i] = float(v) if v != "" else math.nan
        except ValueError:
            raise DataError(f"{where}: column {column!r} must be numeric; line {i + 2} holds "
                            f"{v!r}") from None
    bad = ~np.isfinite(out)
    if bad.any():
        raise DataError(f"{where}: column {column!r} must be finite; found {int(bad.sum())} "
                        f"missing, NaN or infinite values, the first on line "
                        f"{int(np.nonzero(bad)[0][0]) + 2}")
    return out


def _parse_labels(values):
    try:
        return np.array([int(v) for v in values])
    except ValueError:
        pass
    try:
        return np.array([float(v) for v in values])
    except ValueError:
        return np.array(values, dtype=object)


#: Refuse a column whose weighted sum of squares comes within this of float64's maximum: the
#: solvers form those sums (the Hessian ``X^T W V X``, the conic solver's scaling), and they
#: overflow. Measured (n = 200, logistic): features of size 1e152 certify, 1e155 end NOT OK with
#: Clarabel's ``solver_error`` and "line search found no ascent".
_MAX_SUM_OF_SQUARES = np.finfo(np.float64).max / 100

#: Warn when the root-mean-square sizes of two columns differ by more than this. Measured
#: (n = 120, logistic, one feature rescaled against the intercept): the dual converges at every
#: ratio, Clarabel's primal fails the certificate from a ratio of 1e12 (a feature of size 1e-12:
#: P agreement 2e-5) or 1e20 (size 1e20: relative gap 0.17), and certifies at 1e-8 and 1e15.
_MAX_SCALE_RATIO = 1e10


def _check_scale(X, w, names):
    """One-line error when a column of ``X`` is too large for the solvers' float64 arithmetic,
    and a warning when the columns' sizes differ so much that the conic primal struggles."""
    from ._kernels import row_blocks

    # one pass in row blocks, each in cache for its maximum and its squares: no temporary of the
    # size of X (at n = 10^6, m = 51 the whole-array form copied X twice, 0.8 GB, and took
    # 1.5 s; column reductions over the whole array 0.37 s; this 0.1 s)
    big = np.zeros(X.shape[1])
    ss = np.zeros(X.shape[1])
    with np.errstate(over="ignore", under="ignore"):  # detected below, then scaled
        for sl in row_blocks(*X.shape):
            B = X[sl]
            np.maximum(big, np.abs(B).max(axis=0, initial=0.0), out=big)
            ss += w[sl] @ (B * B)
    nonzero = np.nonzero(big > 0)[0]
    if np.all(np.isfinite(ss)) and np.all(ss[nonzero] > 0):
        log_ss = np.log(ss[nonzero])
    else:  # a square overflowed or underflowed: sum w x^2 = big^2 sum w (x / big)^2, in logs
        scaled = np.zeros(nonzero.size)
        for sl in row_blocks(*X.shape):
            B = X[sl][:, nonzero] / big[nonzero]
            scaled += w[sl] @ (B * B)
        log_ss = 2 * np.log(big[nonzero]) + np.log(scaled)
    over = np.nonzero(log_ss > np.log(_MAX_SUM_OF_SQUARES))[0]
    if over.size:
        j = int(nonzero[over[0]])
        raise DataError(f"the features' scale is the cause: column {names[j]!r} reaches "
                        f"{big[j]:.1e} and its sum of squares overflows float64 in the solvers;"
                        " standardise it (subtract the mean, divide by the standard deviation)"
                        " and theta scales inversely")
    if nonzero.size < 2:
        return
    log_rms = 0.5 * (log_ss - np.log(w.sum()))
    lo, hi = int(np.argmin(log_rms)), int(np.argmax(log_rms))
    if log_rms[hi] - log_rms[lo] > np.log(_MAX_SCALE_RATIO):
        small, large = names[int(nonzero[lo])], names[int(nonzero[hi])]
        warnings.warn(f"the features' scales differ by a factor "
                      f"{np.exp(log_rms[hi] - log_rms[lo]):.0e} (column {small!r} against "
                      f"{large!r}): the conic primal solver may fail or be inaccurate; "
                      "standardising the features helps", ScaleWarning, stacklevel=4)


def _warn_if_continuous(y):
    """Warn when non-integer numbers are about to become class labels."""
    if y.dtype.kind != "f" or np.all(y == np.round(y)):
        return
    distinct = int(np.unique(y).size)
    message = f"the target has {distinct} distinct non-integer values, each taken as a class"
    if distinct > 2:  # two values may be a coding of two classes; more look like measurements
        message += ("; they look continuous: for a regression use family='gaussian' "
                    "(--family gaussian)")
    warnings.warn(message, TargetWarning, stacklevel=4)


def _is_numeric_array(y) -> bool:
    try:
        return np.asarray(y).dtype.kind in "biuf"
    except Exception:  # ragged or exotic input: keep as objects
        return False


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))
