"""Data sets: the design matrix ``X``, the response, its encoding ``Y``, weights and names.

Conventions
-----------
``X`` has shape (n, m) and, unless ``intercept=False``, its *last* column is a column of ones named
``intercept``. ``y`` holds the response as given (class labels of any hashable type, or numbers);
``Y`` is its encoding for the family: one-hot of shape (n, k) with the classes sorted, or a float
vector of shape (n,). ``weights`` are frequency weights of shape (n,): an observation of weight 2
counts as two identical rows. Arrays are copied on the way in and made read-only, so nothing a
user passes is modified.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from .exceptions import DataError
from .families import Family, get_family

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
            Xa = np.array(X, dtype=np.float64, copy=True)
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
        bad = ~np.isfinite(Xa)
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
            Xa = np.hstack([Xa, np.ones((n, 1))])
            feature_names = feature_names + ["intercept"]
        if Xa.shape[1] == 0:
            raise DataError("no features: give at least one column or keep the intercept")
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
        path : str or path-like
        target : str, optional
            The response column; the last column when omitted.
        features : sequence of str, optional
            The feature columns; every column but the target (and weights) when omitted. Each
            must be numeric.
        intercept : bool, default True
        weights : str, optional
            A column of frequency weights.
        family : str or Family, default "categorical"
        name : str, optional
            Defaults to the file's stem.
        """
        path = Path(path)
        if not path.exists():
            raise DataError(f"no such file: {path}")
        if path.is_dir():
            raise DataError(f"{path} is a folder, not a CSV file")
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = [r for r in csv.reader(fh) if any(cell.strip() for cell in r)]
        except UnicodeDecodeError:
            raise DataError(f"{path} is not a text CSV file") from None
        except csv.Error as exc:
            raise DataError(f"{path} is not a valid CSV file: {exc}") from None
        if not rows:
            raise DataError(f"{path} is empty")
        return _from_rows(cls, rows, target, features, intercept, weights, family,
                          name if name is not None else path.stem, str(path))


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
    X = np.empty((len(body), len(features)))
    for j, f in enumerate(features):
        X[:, j] = _parse_numeric(columns[f], f, where)
    w = None if weights is None else _parse_numeric(columns[weights], weights, where)
    raw = columns[target]
    if any(v == "" for v in raw):
        raise DataError(f"{where}: the target column {target!r} has "
                        f"{sum(v == '' for v in raw)} empty values")
    y = _parse_labels(raw)
    return cls.from_arrays(X, y, feature_names=features, intercept=intercept, weights=w,
                           family=family, name=name)


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


def _is_numeric_array(y) -> bool:
    try:
        return np.asarray(y).dtype.kind in "biuf"
    except Exception:  # ragged or exotic input: keep as objects
        return False


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))
