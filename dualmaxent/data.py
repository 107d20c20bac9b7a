"""Data sets: the design matrix ``X``, the response, its encoding ``Y``, weights and names.

Conventions
-----------
``X`` has shape (n, m) and, unless ``intercept=False``, its *last* column is a column of ones named
``intercept``. ``y`` holds the response as given (class labels of any hashable type, or numbers);
``Y`` is its encoding for the family: one-hot of shape (n, k) with the classes sorted, or a float
vector of shape (n,). ``weights`` are frequency weights of shape (n,): an observation of weight 2
counts as two identical rows. Dense arrays are copied on the way in and made read-only, so nothing
a user passes is modified; a sparse ``X`` already in canonical CSR form is read in place through
read-only views of its arrays (no copy of what may be the largest thing in memory): the data set
then shares them with the caller, who should not write to them while it is in use.

Categorical features (:meth:`Dataset.from_frame` and CSV files) follow statsmodels' formulas
(patsy's treatment coding, as in ``y ~ a + C(b)``): a string, categorical or bool column ``b``
becomes one indicator column ``b[level]`` per level, and the *first* level is dropped when the
model has an intercept (or when an earlier categorical column already spans the constant), so
that the columns stay linearly independent. Levels are sorted as patsy sorts them: a pandas
categorical in the order of its categories (those that occur), bool as ``False, True``, text
sorted. Any DataFrame narwhals reads (pandas, polars, pyarrow) is encoded alike: a pyarrow
dictionary and a polars ``Enum`` declare their order as a pandas categorical does; a polars
``Categorical`` declares none and is sorted. :meth:`Dataset.from_formula` takes formulaic's
encoding, with statsmodels' names (``C(b)[T.level]``). A design with many indicator columns is
built as a sparse CSR array (:data:`SPARSE_MAX_DENSITY`), never as a dense block.
"""

from __future__ import annotations

import csv
import math
import operator
import sys
import warnings
import dataclasses
from collections.abc import Sequence as _SequenceABC
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from . import _numerics as nx
from . import design
from .exceptions import (CountTargetWarning, DataError, ScaleWarning, TargetWarning,
                         user_stacklevel)
from .families import Family, _sorted_labels, get_family

__all__ = ["Dataset", "GeneratedNames", "load_dataset", "BUILTIN_DATASETS", "require_dataset"]

#: Built-in data sets: name -> (file in dualmaxent/data, target column, description).
BUILTIN_DATASETS = {
    "blobs": ("blobs.csv", "label", "3 overlapping Gaussian classes in 2 features, n = 300"),
    "iris": ("iris.csv", "species", "Fisher's iris flowers: 3 species, 4 features, n = 150"),
}


def intercept_name(names) -> str:
    """The name of the constant column a data set appends: ``intercept``, or ``(intercept)``
    when a feature already has that name (a column of the user's data called ``intercept``
    is a feature like any other; statsmodels' formulas call their constant ``Intercept`` for
    the same reason), with ``_`` appended until it is new."""
    taken = set(map(str, names))
    name = "intercept" if "intercept" not in taken else "(intercept)"
    while name in taken:
        name += "_"
    return name


class GeneratedNames(_SequenceABC):
    """Generated feature names ``x1, ..., xp`` (and ``intercept`` last), made when read.

    The default names of :meth:`Dataset.from_arrays` (``x1, ..., xp``) and of the scikit-learn
    estimators (``x0, ..., x(p-1)``) as a small immutable sequence: a tuple of str in every use
    (``len``, indexing, slices, iteration, ``in``, ``index``, ``count``, ``==`` with a tuple,
    ``+`` with a tuple, ``hash``, ``repr``/``str``, ``list``/``tuple``, :func:`numpy.asarray`,
    pickling and copying), but holding one ``range`` instead of ``p`` Python strings (a text
    design of 10^5 columns: 6.5 MB of names, 13 ms to make them and as long again to check them
    for duplicates, which generated names cannot have).

    Parameters
    ----------
    numbers : range
        The numbers after the ``x``, non-negative: ``range(1, p + 1)`` for ``x1, ..., xp``.
    intercept : bool, default False
        Whether ``intercept`` follows them, as the last name.
    """

    __slots__ = ("_numbers", "_intercept")

    def __init__(self, numbers: range, intercept: bool = False):
        if not isinstance(numbers, range):
            raise TypeError(f"numbers must be a range; got {type(numbers).__name__}")
        if len(numbers) and min(numbers[0], numbers[-1]) < 0:
            raise ValueError(f"the numbers of generated names must be >= 0; got {numbers}")
        object.__setattr__(self, "_numbers", numbers)
        object.__setattr__(self, "_intercept", bool(intercept))

    def __setattr__(self, attr, value):
        raise AttributeError("GeneratedNames is immutable")

    @property
    def intercept(self) -> bool:
        """Whether the last name is ``intercept``."""
        return self._intercept

    def with_intercept(self) -> "GeneratedNames":
        """These names with ``intercept`` appended."""
        if self._intercept:
            raise ValueError("the names already end with 'intercept'")
        return GeneratedNames(self._numbers, intercept=True)

    def __len__(self) -> int:
        return len(self._numbers) + self._intercept

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._slice(index)
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"tuple indices must be integers or slices, not "
                            f"{type(index).__name__}") from None
        size = len(self)
        if i < 0:
            i += size
        if not 0 <= i < size:
            raise IndexError("tuple index out of range")
        return f"x{self._numbers[i]}" if i < len(self._numbers) else "intercept"

    def _slice(self, index: slice):
        """A slice: generated names again when ``intercept``, if taken, stays last; else a
        tuple."""
        positions = range(len(self))[index]
        p = len(self._numbers)
        with_intercept = self._intercept and p in positions
        if with_intercept:
            if positions[-1] != p:  # the intercept not last (a reversed slice): a tuple
                return tuple(self[i] for i in positions)
            positions = positions[:-1]
        start = self._numbers.start
        step = self._numbers.step
        # shifting and stretching a range is a range: position i holds start + i * step
        numbers = range(start + positions.start * step, start + positions.stop * step,
                        positions.step * step)
        return GeneratedNames(numbers, intercept=with_intercept)

    def __iter__(self):
        for v in self._numbers:
            yield f"x{v}"
        if self._intercept:
            yield "intercept"

    def _position(self, name) -> int | None:
        """The index of ``name``, or None; no name is made."""
        if not isinstance(name, str):
            return None
        if name == "intercept":
            return len(self._numbers) if self._intercept else None
        digits = name[1:]
        if name[:1] != "x" or not (digits.isascii() and digits.isdigit()) or (
                len(digits) > 1 and digits[0] == "0"):  # x01 is not x1
            return None
        v = int(digits)
        return self._numbers.index(v) if v in self._numbers else None

    def __contains__(self, name) -> bool:
        return self._position(name) is not None

    def index(self, value, start: int = 0, stop: int = sys.maxsize) -> int:
        """The position of ``value``, as ``tuple.index``."""
        i = self._position(value)
        lo, hi, _ = slice(start, stop).indices(len(self))
        if i is None or not lo <= i < hi:
            raise ValueError("tuple.index(x): x not in tuple")
        return i

    def count(self, value) -> int:
        """1 if ``value`` is one of the names, else 0 (generated names are distinct)."""
        return int(value in self)

    def __eq__(self, other):
        if isinstance(other, GeneratedNames):
            return self._numbers == other._numbers and self._intercept == other._intercept
        if isinstance(other, tuple):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __add__(self, other):
        if isinstance(other, (tuple, GeneratedNames)):
            return tuple(self) + tuple(other)
        return NotImplemented

    def __radd__(self, other):
        if isinstance(other, tuple):
            return other + tuple(self)
        return NotImplemented

    def __mul__(self, times):
        return tuple(self) * times

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __array__(self, dtype=None, copy=None):
        return np.array(tuple(self), dtype=dtype)

    def __reduce__(self):
        return (GeneratedNames, (self._numbers, self._intercept))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


@dataclass(frozen=True, eq=False)
class Dataset:
    """A design matrix with its response, ready for the primal and the dual.

    Attributes
    ----------
    X : ndarray, scipy.sparse.csr_array, dualmaxent.design.DenseOnes or OnesColumn, of shape (n, m)
        Features, the intercept column (if any) last. Dense: a float64 copy; for a family of
        one parameter (a response of one column) the intercept is an implicit column of
        ones (:class:`~dualmaxent.design.DenseOnes`; ``numpy.asarray`` makes the stored
        array), and the estimators' data sets, which do not outlive their fit, read a float64
        C-ordered array through a read-only view; for the categorical family the column is
        stored. Sparse: a canonical CSR read through read-only views (the caller's own
        arrays when they are one already, as scikit-learn's vectorizers make them: change
        them afterwards and build the data set again), the intercept an implicit column of
        ones (:class:`~dualmaxent.design.OnesColumn`).
    y : ndarray of shape (n,)
        The response as given.
    Y : ndarray of shape (n, k) or (n,)
        The response encoded for ``family`` (one-hot for ``categorical``).
    classes : tuple
        Sorted class labels (empty for ``poisson`` and ``gaussian``).
    feature_names : tuple of str
        One name per column of ``X``: a tuple, or for the names generated by default a
        :class:`GeneratedNames`, which reads as the tuple ``("x1", ..., "xp", "intercept")``.
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

    def __repr__(self) -> str:
        from .display import dataset_repr

        return dataset_repr(self)

    def _repr_html_(self) -> str:
        from .display import dataset_html

        return dataset_html(self)

    @cached_property
    def identifiability(self):
        """The rank of the weighted design and its null space (:mod:`dualmaxent.identifiability`),
        computed once, on first use (one pass over ``X``). For a badly scaled design (see
        :meth:`_column_scaling`) on a copy of ``X`` with its columns rescaled by powers of two,
        mapped back: the rank pass forms squares of the entries, which would overflow or
        underflow (its float32 screen already from sizes of about 1e19)."""
        from .identifiability import identify

        scale = self._column_scaling()
        if scale is None:
            # (a curvature of one column, two classes or a one-parameter family: no solver
            # reads a kept Gram matrix, so the rank screen may take a smaller row sample)
            wide = self.family.multiclass and self.k > 2
            return identify(self.X, self.weights, self.feature_names, keep_gram=wide)
        return _scaled_identifiability(self._rescaled(scale).identifiability, scale,
                                       self.feature_names)

    def screened_identifiability(self):
        """:attr:`identifiability` when it costs no more than its float32 screen
        (:func:`dualmaxent.identifiability.screen`): computed already, or proved full-rank by
        the screen (then kept as :attr:`identifiability`, the same object that property would
        have made); else None, with no float64 pass. A sparse or badly scaled design's is
        :attr:`identifiability` itself (its rank comes from its Gram matrix, or from the
        rescaled copy's rank pass)."""
        if "identifiability" in vars(self) or design.is_sparse(self.X) \
                or self._column_scaling() is not None:
            return self.identifiability
        if vars(self).get("_screen_failed"):  # (its two passes made once)
            return None
        from .identifiability import screen

        ident = screen(self.X, self.weights, keep_gram=self.family.multiclass and self.k > 2)
        if ident is not None:
            self.__dict__["identifiability"] = ident
        else:
            self.__dict__["_screen_failed"] = True
        return ident

    @property
    def rank_computable(self) -> bool:
        """Whether :attr:`identifiability` can be computed: not many more columns than rows of
        positive weight (:data:`~dualmaxent.identifiability.MAX_NULLITY`), and a sparse ``X``
        of at most :data:`dualmaxent.identifiability.SPARSE_RANK_MAX_COLUMNS` columns."""
        from .identifiability import MAX_NULLITY, SPARSE_RANK_MAX_COLUMNS

        return ((not design.is_sparse(self.X) or self.m <= SPARSE_RANK_MAX_COLUMNS)
                and self.m - int(np.count_nonzero(self.weights > 0)) <= MAX_NULLITY)

    @cached_property
    def _column_max(self) -> np.ndarray:
        """The largest absolute entry of each column of ``X``, shape (m,): kept from the scale
        check of :meth:`from_arrays`, or one pass in row blocks for a data set built otherwise."""
        from ._kernels import row_blocks

        if design.is_sparse(self.X):  # one scatter over the stored entries
            return design.column_absmax(self.X)
        big = np.zeros(self.m)
        with np.errstate(invalid="ignore"):
            for sl in row_blocks(*self.X.shape):
                np.maximum(big, design.column_absmax(self.X[sl]), out=big)
        return big

    def _column_scaling(self) -> np.ndarray | None:
        """The diagonal ``D`` (m,) of powers of two that brings the largest entry of every
        feature column to [0.5, 1) (the intercept's and the zero columns' 1), or None when the
        design is well scaled (:func:`_badly_scaled`); from :attr:`_column_max`, no pass."""
        big = self._column_max
        if not _badly_scaled(big):
            return None
        return _power_of_two_scaling(big, self._feature_rows())

    def _feature_rows(self) -> np.ndarray:
        """The columns of ``X`` that are not the appended intercept, bool of shape (m,)."""
        rows = np.ones(self.m, dtype=bool)
        if self.intercept:
            rows[-1] = False
        return rows

    def _rescaled(self, scale: np.ndarray) -> "Dataset":
        """The data set of ``X diag(scale)``, a read-only copy made in one pass (the solvers'
        view of a badly scaled design: theta for ``X`` is ``diag(scale)`` times theta for it).
        A rank pass already made is carried over (:func:`_scaled_identifiability`)."""
        X = design.scale_columns(self.X, scale)
        stored = X.base if design.ones_implicit(X) else X  # (a sparse design's own CSR)
        for arr in ((stored.data, stored.indices, stored.indptr) if design.is_sparse(stored)
                    else (stored,)):
            arr.setflags(write=False)
        out = dataclasses.replace(self, X=X)
        out.__dict__["_column_max"] = self._column_max * scale  # exact: powers of two
        sums = held_data_sums(self)
        if sums is not None:  # (each row of X^T W Y times its column's power of two: exact)
            out.__dict__["_data_sums"] = sums * scale[:, None]
        wsums = held_weight_sums(self)
        if wsums is not None:  # (and of X^T w)
            out.__dict__["_weight_sums"] = wsums * scale
        if "identifiability" in self.__dict__:
            out.__dict__["identifiability"] = _scaled_identifiability(
                self.identifiability, 1.0 / scale, self.feature_names)
        return out

    def _identifiability_from(self, rescaled: "Dataset", scale: np.ndarray):
        """:attr:`identifiability`, taken from that of ``rescaled`` (``self._rescaled(scale)``)
        when not yet known, rather than from a rank pass of its own."""
        if "identifiability" not in self.__dict__:
            self.__dict__["identifiability"] = _scaled_identifiability(
                rescaled.identifiability, scale, self.feature_names)
        return self.identifiability

    def check_theta(self, theta) -> np.ndarray:
        """``theta`` checked against this data set's layout, as a new float64 array.

        The layout is (m, k), one column per class, for the categorical family
        (``family.multiclass``) and (m,) for the one-parameter families, which also accept
        (m, 1). Only attributes a Dask data set shares are read (``m``, ``k``,
        ``feature_names``, ``classes``, ``family``), so that it can be called as
        ``Dataset.check_theta(dask_data, theta)``.

        Raises
        ------
        DataError
            With a one-line message naming the problem: not numbers, complex numbers, a wrong
            shape (the message names the expected one, with the rows' and columns' names) or
            NaN or infinite entries.
        """
        multiclass = bool(self.family.multiclass)
        m, k = int(self.m), int(self.k)
        expected = (m, k) if multiclass else (m,)

        def layout() -> str:  # the messages' description, made only for an error
            names = _name_list(self.feature_names)
            return (f"features x classes: {names} x {_name_list(self.classes)}" if multiclass
                    else f"one entry per feature: {names}")

        try:
            raw = np.asarray(theta)
        except (TypeError, ValueError):  # a ragged nesting
            raise DataError(f"theta must be an array of shape {expected} ({layout()}); got a "
                            f"ragged {type(theta).__name__}") from None
        if raw.dtype.kind == "c" or (raw.dtype == object
                                     and any(_is_complex(v) for v in raw.ravel().tolist())):
            raise DataError(f"theta must be real; got complex numbers (shape {raw.shape}; "
                            f"expected {expected})")
        if raw.dtype.kind not in "iuf" and not (raw.dtype == object and raw.size and all(
                isinstance(v, (int, float, np.integer, np.floating))
                and not isinstance(v, (bool, np.bool_)) for v in raw.ravel().tolist())):
            what = (type(theta).__name__ if raw.ndim == 0 and raw.dtype == object
                    else f"an array of {_kind_name(raw)}")
            raise DataError(f"theta must be numeric, an array of shape {expected} ({layout()}); "
                            f"got {what}")
        shape = raw.shape
        if not multiclass and shape == (m, 1):
            raw = raw[:, 0]
        if raw.shape != expected:
            raise DataError(f"theta must have shape {expected} ({layout()}); got {shape}")
        out = np.array(raw, dtype=np.float64, copy=True)
        bad = ~np.isfinite(out)
        if bad.any():
            nan, inf = int(np.isnan(out).sum()), int(np.isinf(out).sum())
            found = " and ".join(part for part in (
                f"{nan} NaN value{'s' if nan != 1 else ''}" if nan else "",
                f"{inf} infinite value{'s' if inf != 1 else ''}" if inf else "") if part)
            first = np.argwhere(bad)[0]
            where = f"row {self.feature_names[first[0]]!r}" + (
                f", class {self.classes[first[1]]!r}" if multiclass else "")
            raise DataError(f"theta must be finite; found {found} among its {expected} entries "
                            f"({layout()}), the first at {where}")
        return out

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
            ``p`` names; when omitted, a data frame's column names (pandas, polars: any ``X``
            with ``columns``, distinct strings), else ``x1, ..., xp`` (:class:`GeneratedNames`, made
            only when read, as are other generated names passed here).
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
        columns = getattr(X, "columns", None) if not design.is_sparse(X) else None
        if feature_names is None and columns is not None:
            # (string names only, as scikit-learn's feature_names_in_: a frame made from an
            # array has the column numbers 0, 1, ..., which x1, x2, ... say better)
            names = list(columns)
            if all(isinstance(c, str) for c in names) and len(set(names)) == len(names) \
                    == np.shape(X)[1]:
                feature_names = names
        return cls._from_arrays(X, y, feature_names, intercept, weights, family, name)

    @classmethod
    def _from_arrays(cls, X, y, feature_names, intercept, weights, family, name,
                     finite: bool = False,
                     count_warning: bool = True, copy: bool = True) -> "Dataset":
        """:meth:`from_arrays`, with the checks that another validation already made skipped.

        ``finite``: ``X``'s entries are known to be finite (that
        validation checked them), not scanned again. ``count_warning=False``: the
        :class:`~dualmaxent.exceptions.CountTargetWarning` that classifiers silence is not
        computed. ``copy=False``: a dense float64 C-ordered ``X`` with the intercept is read
        where it is (a read-only view, no copy; the estimators', whose data set does not
        outlive their fit). Everything else (the names, ``y``, the weights, the scale check)
        as :meth:`from_arrays`. The warnings name the user's line, the
        first frame outside dualmaxent and scikit-learn
        (:func:`~dualmaxent.exceptions.user_stacklevel`).
        """
        fam = get_family(family)
        # read only until the design is built below (dense: one copy, the intercept
        # appended); a complex X is refused (converting it would drop the imaginary parts),
        # once the columns have their names for the message. A sparse X stays sparse
        # (canonical CSR, :mod:`dualmaxent.design`; not copied when it is one already, its
        # intercept implicit): its checks read the stored entries only
        sparse = design.is_sparse(X)
        # (a dense X of another real dtype, float32 or integers, is converted to float64 by
        # the data set's own copy below, not by a copy of its own first: one pass of the
        # copy's bytes less, 9 of a 90 ms fit at n = 10^5, 50 float32 features)
        Xa, complex_X = _sparse_real(X) if sparse else _real_array(X, "X", keep_real=True)
        if Xa.ndim == 1:
            Xa = Xa[:, None]
        if Xa.ndim != 2:
            raise DataError(f"X must be 2-dimensional; got {Xa.ndim} dimensions")
        n, p = Xa.shape
        # (generated names that end with the intercept's are a feature named so: plain text)
        generated = feature_names is None or (isinstance(feature_names, GeneratedNames)
                                              and "intercept" not in feature_names)
        if feature_names is None:
            feature_names = GeneratedNames(range(1, p + 1))
        elif not generated:
            feature_names = [str(f) for f in feature_names]
        if len(feature_names) != p:
            raise DataError(f"got {len(feature_names)} feature names for {p} columns of X")
        # generated names are distinct by construction: no set of p strings
        if not generated and len(set(feature_names)) != len(feature_names):
            raise DataError("feature names must be unique")
        if complex_X:
            raise DataError(_complex_message("X", Xa.toarray() if sparse else Xa, feature_names))
        # a dense X with the intercept is checked by its pass below, for free: the columns'
        # maxima are finite exactly when every entry is (np.maximum keeps a NaN); a pass over
        # X less, 4.4 of a 107 ms fit at n = 10^5, 50 features, two classes
        by_copy = not finite and intercept and not sparse
        if not (finite or by_copy):
            _check_finite(Xa, feature_names)
        if design.is_sparse(y):
            raise DataError(f"y must be a dense array, not a sparse {type(y).__name__} "
                            "(y.toarray().ravel() makes one)")
        ya = np.array(y, dtype=object if not _is_numeric_array(y) else None, copy=True)
        if ya.ndim != 1:
            ya = ya.reshape(-1) if ya.ndim == 2 and 1 in ya.shape else ya
        if ya.ndim != 1 or ya.shape[0] != n:
            raise DataError(f"y must have one entry per row of X ({n}); got shape {ya.shape}")
        if n < 2:
            raise DataError(f"need at least two observations; got {n}")
        if ya.dtype.kind == "c" or (ya.dtype == object
                                    and any(_is_complex(v) for v in ya.tolist())):
            raise DataError(_complex_message("y", ya))
        if ya.dtype == object and any(_is_missing(v) for v in ya.tolist()):
            raise DataError("the target has missing values")
        if ya.dtype.kind == "f" and not np.all(np.isfinite(ya)):
            raise DataError(f"the target must be finite; found "
                            f"{counted(int((~np.isfinite(ya)).sum()), 'NaN or infinite value')}")
        if fam.is_probability:
            _warn_if_continuous(ya)
        if fam.multiclass and count_warning:
            _warn_if_counts(ya)
        Y, classes = fam.encode(ya)
        w = _checked_weights(weights, n)
        if weights is not None:
            _warn_if_light(w)
        column_max = sums = wsums = None
        if intercept:
            if sparse:  # the ones implicit, X's entries read where they are
                Xa = design.ones_column(Xa)
            else:  # the ones implicit, maxima and X^T W Y in one pass (:func:`_with_intercept_max`)
                given = Xa
                Xa, column_max, sums, wsums = _with_intercept_max(given, Y, w, copy)
                if by_copy and not np.all(np.isfinite(column_max)):
                    _check_finite(given, feature_names)  # (the error naming the first entry)
                del given
            feature_names = (feature_names.with_intercept() if generated
                             else feature_names + [intercept_name(feature_names)])
        elif sparse:  # read through read-only views (the caller's arrays keep their flags)
            Xa = design.read_only(Xa)
        elif not sparse:  # the data set's own, never the caller's array
            Xa = np.array(Xa, dtype=np.float64, copy=True)
        if Xa.shape[1] == 0:
            raise DataError("no features: give at least one column or keep the intercept")
        column_max = _check_scale(Xa, w, feature_names, column_max=column_max)
        # (a sparse X's views, and the array under implicit ones, are read-only already)
        implicit = design.is_sparse(Xa) or design.ones_implicit(Xa)
        for arr in (() if implicit else (Xa,)) + (ya, Y, w):
            arr.setflags(write=False)
        out = cls(X=Xa, y=ya, Y=Y, classes=tuple(classes),
                  feature_names=feature_names if generated else tuple(feature_names),
                  weights=w, family=fam, name=name, intercept=bool(intercept))
        out.__dict__["_column_max"] = column_max  # the scale check's pass, not made again
        if sums is not None and np.all(np.isfinite(sums)):  # (the stopping rule's, not again)
            out.__dict__["_data_sums"] = sums
            if np.all(np.isfinite(wsums)):
                out.__dict__["_weight_sums"] = wsums
        return out

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
            if not str(path).strip():  # (Path("") is the current folder)
                raise DataError("the data file's name is empty")
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
        """Build a data set from a DataFrame (pandas, polars or a pyarrow Table), encoding its
        categorical columns.

        Numeric columns are used as they are; string, categorical and bool columns become
        indicator columns named ``col[level]``, the first level dropped when there is an
        intercept (the module docstring states the rule). The columns of ``X`` follow the
        order of ``features``, the intercept last, so ``y ~ a + C(b)`` in statsmodels has the
        coefficients of ``a``, ``b[...]`` and ``intercept`` here, under the names
        ``a``, ``C(b)[T....]`` and ``Intercept`` there. ``X`` is a sparse CSR array when the
        indicator columns are many (:data:`SPARSE_INDICATOR_COLUMNS`), dense otherwise.

        Parameters
        ----------
        df : pandas.DataFrame, polars.DataFrame or pyarrow.Table
            One row per observation, read through narwhals (any eager frame it supports). A
            categorical column's levels are in the order of its declared categories (pandas
            categorical, pyarrow dictionary, polars ``Enum``), those that occur; a polars
            ``Categorical``, which declares no order, has its levels sorted as text is.
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
            A missing column, a missing value (null or NaN: the message names the column and
            the count) or a column of a type that is neither numeric nor categorical.
        """
        frame = _as_frame(df)
        columns = list(frame.columns)
        if len(set(columns)) != len(columns):
            raise DataError("the DataFrame's column names must be unique")
        features = column_roles(columns, target, features, weights)
        roles = {col: "X" for col in features}
        roles[target] = "y"
        if weights is not None:
            roles[weights] = "weights"
        # every column checked for missing and complex values before any is encoded, in the
        # order target, features, weights (the first problem found is the one reported)
        read = {col: _read_column(frame, col, roles[col])
                for col in [target, *features] + ([weights] if weights is not None else [])}
        X, names = _design([(str(f), _frame_column(*read[f])) for f in features], intercept,
                           frame.shape[0])
        y = read[target][1]
        w = None if weights is None else _weights_column(*read[weights])
        return cls.from_arrays(X, y, feature_names=names, intercept=intercept, weights=w,
                               family=family if family is not None else "categorical",
                               name=name)

    @classmethod
    def from_formula(
        cls,
        formula: str,
        data,
        family: str | Family = "categorical",
        weights=None,
        name: str = "formula",
    ) -> "Dataset":
        """Build a data set from a Wilkinson formula, ``"y ~ x1 + C(site) + x1:x2"``, with
        formulaic (``pip install "dualmaxent[formula]"``).

        The right-hand side is formulaic's model matrix, whose column names and levels are
        those of statsmodels' formula API on the same data (``x1``, ``C(site)[T.b]``,
        ``x1:x2``; treatment coding, the first level the reference). Its intercept is ours:
        formulaic's ``Intercept`` column is dropped and :attr:`intercept` set, so that ``X``
        ends with the column ``intercept`` (statsmodels' ``Intercept``), and the other columns
        keep formulaic's order (by degree: ``x1, C(site)[...], x1:x2``; statsmodels groups
        them otherwise, so compare by name). A formula without an intercept (``- 1`` or
        ``+ 0``) gives ``intercept=False``, and its first categorical term keeps every level,
        as in statsmodels. ``X`` is sparse when that pays (:func:`_sparse_pays`).

        Parameters
        ----------
        formula : str
            ``response ~ terms``. A response that is a column of ``data`` is taken as it is
            (class labels of any type); an expression (``np.log(y)``) must give one numeric
            column.
        data : pandas.DataFrame, polars.DataFrame or pyarrow.Table
            One row per observation.
        family : str or Family, default "categorical"
            ``bernoulli`` for ``smf.logit``'s model, ``poisson`` for ``smf.poisson``'s.
        weights : column label or array_like of shape (n,), optional
            Frequency weights: a numeric column of ``data``, or the values.
        name : str, default "formula"

        Raises
        ------
        DataError
            One line: formulaic not installed, a formula that does not parse or evaluate, a
            missing value in a column the formula uses (statsmodels drops such rows; we name
            the column and the count, as :meth:`from_frame` does), or any error of
            :meth:`from_arrays`.
        """
        try:
            import formulaic
        except ImportError:
            raise DataError('Dataset.from_formula needs formulaic: pip install '
                            '"dualmaxent[formula]"') from None
        frame = _as_frame(data)
        try:
            parsed = formulaic.Formula(formula)
        except Exception as exc:  # formulaic's parse errors come in several classes
            raise DataError(f"formula {formula!r}: {_first_line(exc)}") from None
        if not hasattr(parsed, "lhs") or not parsed.lhs.required_variables:
            raise DataError(f"formula {formula!r} has no response; write 'y ~ x1 + x2'")
        columns = list(frame.columns)
        response = str(parsed.lhs).strip()
        read = {var: _read_column(frame, var, "y" if var == response else "X")
                for var in sorted(parsed.required_variables & set(columns), key=columns.index)}
        try:
            rhs = formulaic.model_matrix(parsed.rhs, data, output="sparse", na_action="raise")
            lhs = None if response in columns else formulaic.model_matrix(
                parsed.lhs, data, na_action="raise")
        except Exception as exc:  # formulaic's (and the evaluated expressions') errors
            raise DataError(f"formula {formula!r}: {_first_line(exc)}") from None
        if lhs is None:
            y = read[response][1]
        elif lhs.shape[1] != 1:
            raise DataError(f"formula {formula!r}: the response {response!r} gives "
                            f"{lhs.shape[1]} columns; it must give one")
        else:
            y = np.asarray(lhs, dtype=np.float64)[:, 0]
        names = list(rhs.model_spec.column_names)
        intercept = "Intercept" in names
        keep = [j for j, f in enumerate(names) if f != "Intercept"]
        X = rhs[:, keep] if intercept else rhs
        names = [names[j] for j in keep]
        if not _sparse_pays(X.shape[0], X.shape[1] + intercept, X.nnz + intercept * X.shape[0]):
            X = X.toarray()
        if isinstance(weights, str):
            if weights not in columns:
                raise DataError(f"unknown weights column {weights!r}; columns are "
                                f"{', '.join(map(str, columns))}")
            weights = _weights_column(*_read_column(frame, weights, "weights"))
        return cls.from_arrays(X, y, feature_names=names, intercept=intercept, weights=weights,
                               family=family, name=name)


def column_roles(columns, target, features, weights, default_target: str = "") -> list:
    """The feature columns of a table whose columns are ``columns`` (labels, as the table has
    them), or a one-line ``DataError``: an unknown target, weights or feature column, the
    weights column the target's, a feature that is either of them. ``features`` None means
    every other column; one label (a string) is that column, not a sequence of its letters.
    ``default_target``: said after the weights-as-target error (a CSV's target is its last
    column unless given). The one rule of :meth:`Dataset.from_frame`, the CSV reader and the
    Dask reader (which prefixes its messages with where it read)."""
    shown = ", ".join(map(str, columns))
    for col, what in ((target, "target"), (weights, "weights")):
        if col is not None and col not in columns:
            raise DataError(f"unknown {what} column {col!r}; columns are {shown}")
    if weights is not None and weights == target:
        raise DataError(f"column {target!r} cannot be both the target and the weights"
                        + (f" ({default_target})" if default_target else ""))
    if features is None:
        return [c for c in columns if c not in (target, weights)]
    features = [features] if isinstance(features, str) else list(features)
    for f in features:
        if f not in columns:
            raise DataError(f"unknown feature column {f!r}; columns are {shown}")
        if f in (target, weights):
            raise DataError(f"column {f!r} cannot be both a feature and the target/weights")
    return features


def counted(n: int, noun: str) -> str:
    """``"1 missing value"``, ``"3 missing values"``: a count and its noun, in the plural but
    for one (the messages of bad input, the CLI's reports)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _first_line(exc: BaseException) -> str:
    """The first non-blank line of an exception's message, without terminal colour codes."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def require_dataset(data, caller: str, chunked: bool = False):
    """``data`` itself when ``caller`` can take it: a :class:`Dataset`, or also a Dask data set
    (:class:`dualmaxent.distributed.DaskDataset`) with ``chunked``; otherwise a one-line
    ``DataError`` naming what was given and what to pass instead (an array, a frame or a Dask
    data set handed to an in-memory function failed on a missing attribute deep inside)."""
    if isinstance(data, Dataset):
        return data
    name = type(data).__name__
    if name == "DaskDataset":
        if chunked:
            return data
        raise DataError(f"{caller} takes a Dataset in memory; a Dask data set is solved by "
                        "dualmaxent.distributed.solve_dual_dask and certified by "
                        "dualmaxent.verify.verify_dask")
    raise DataError(f"{caller} takes a Dataset (dualmaxent.Dataset.from_arrays(X, y), "
                    f"from_frame or load_dataset); got {name}")


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
    features = column_roles(header, target, features, weights,
                            "the target is the last column unless given"
                            if target == header[-1] else "")
    columns = {h: [r[i].strip() for r in body] for i, h in enumerate(header)}
    X, names = _design([(f, _csv_column(columns[f], f, where)) for f in features], intercept,
                       len(body))
    w = None if weights is None else _parse_numeric(columns[weights], weights, where)
    raw = columns[target]
    if any(v == "" for v in raw):
        raise DataError(f"{where}: the target column {target!r} has "
                        f"{counted(sum(v == '' for v in raw), 'empty value')}")
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

    def codes(self) -> np.ndarray:
        """The position of each value's level in ``levels``, int array of shape (n,): one
        dictionary look-up per row (an equality test per row and level cost n x levels)."""
        index = {level: i for i, level in enumerate(self.levels)}
        return np.fromiter((index[v] for v in self.values.tolist()), dtype=np.intp,
                           count=len(self.values))


#: A design built from categorical columns (:meth:`Dataset.from_frame`, CSV files, formulas) is
#: stored sparse (CSR) when at most this fraction of its entries, the intercept's included, are
#: nonzero (and it is large: :data:`SPARSE_MIN_ENTRIES`). Measured on this 2-core machine:
#: two normal features and one factor of L equally likely levels (effects N(0, 0.5^2)), a
#: logistic target, ``solve_dual(ds, l2=1.0)`` with ``auto``, one process per run, peak RSS above
#: the imports; dense against CSR:
#:
#: ======  ====  =======  =============  ==============  =================
#: n       L     density  fit s (D, CSR) build s         peak MiB
#: ======  ====  =======  =============  ==============  =================
#: 1e5     10    0.33     0.04   0.04    0.016  0.045    20    29
#: 1e5     50    0.077    0.15   0.09    0.06   0.06     81    30
#: 1e5     200   0.020    0.82   0.11    0.40   0.11     310   34
#: 1e5     1000  0.004    7.8    0.15    3.2    0.12     1532  46
#: 1e5     2000  0.002    28.5   0.23    6.8    0.25     3059  30
#: 1e4     50    0.077    0.06   0.02    0.008  0.007    9     5
#: ======  ====  =======  =============  ==============  =================
#:
#: Break-even near a density of 1/3 (where CSR's 12 bytes per stored entry meet dense's 8 per
#: entry); from 0.077 down CSR fits at least 1.7 times faster (the same Newton method up to
#: L = 200; beyond, ``auto`` also trades dense L-BFGS for sparse Newton-CG) and holds a sixth of
#: the memory or less. 0.1 keeps a margin from the break-even. (Storing the codes alone, as
#: tabmat's ``CategoricalMatrix`` does, was not faster than these CSR columns in the kernels'
#: products at n = 1e5, L = 2000: ``X^T r`` 112 against 120 us, ``X^T R`` with k = 3 458
#: against 280 us.)
SPARSE_MAX_DENSITY = 0.1

#: ... and when the dense design would hold at least this many entries (8 MB). Below, every
#: fit measured takes under 0.06 s either way, and a small design keeps the dense path that
#: every consumer (the CVXPY primal, the exact rank, the figures) takes directly.
SPARSE_MIN_ENTRIES = 1_000_000


def _sparse_pays(n: int, m: int, nnz: int) -> bool:
    """Whether a design of shape (n, m), the intercept included, with ``nnz`` nonzero entries
    is stored sparse: :data:`SPARSE_MAX_DENSITY` and :data:`SPARSE_MIN_ENTRIES`."""
    return n * m >= SPARSE_MIN_ENTRIES and nnz <= SPARSE_MAX_DENSITY * n * m


def _design(columns, intercept, n, sparse: bool | None = None):
    """``X`` of shape (n, p) and its ``p`` names from numeric columns and factors.

    patsy's rule for a full-rank design: a factor drops its first level when the columns
    before it already span the constant (an intercept, or an earlier factor coded in full).
    ``X`` is a CSR array, the numeric columns stored as sparse columns too, when ``sparse`` is
    True, or when it is None and :func:`_sparse_pays` for the design with its intercept (the
    count of nonzeros comes from the level codes, before anything of size (n, p) is built); a
    dense (n, p) array otherwise.
    """
    plan, names = [], []  # per column: (floats, None, 1) or (level codes, levels dropped, width)
    spans_constant = intercept
    for col, values in columns:
        if isinstance(values, _Factor):
            drop = 1 if spans_constant else 0
            spans_constant = True
            plan.append((values.codes(), drop, len(values.levels) - drop))
            names += [f"{col}[{level}]" for level in values.levels[drop:]]
        else:
            plan.append((values, None, 1))
            names.append(col)
    if sparse is None:
        nnz = sum(int(np.count_nonzero(values if drop is None else values >= drop))
                  for values, drop, _ in plan)
        sparse = _sparse_pays(n, len(names) + bool(intercept), nnz + n * bool(intercept))
    X = None if sparse else np.zeros((n, len(names)))
    triplets = []  # a sparse X's (rows, columns, values), block by block
    j = 0  # the block's first column
    for values, drop, width in plan:
        if drop is None and not sparse:
            X[:, j] = values
        else:  # the rows not at the dropped level, or a numeric column's nonzeros
            at = np.flatnonzero(values if drop is None else values >= drop)
            cols = np.full(at.size, j) if drop is None else j + values[at] - drop
            data = values[at] if drop is None else np.ones(at.size)
            if sparse:
                triplets.append((at, cols, data))
            else:
                X[at, cols] = data
        j += width
    if sparse:
        import scipy.sparse

        rows, cols, data = (np.concatenate(part) for part in zip(*triplets)) if triplets else \
            (np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0))
        X = scipy.sparse.csr_array((data, (rows, cols)), shape=(n, len(names)))
    return X, names


def _csv_column(values, column, where):
    """A CSV column as floats when every cell is a number, else as a factor of its texts."""
    numeric = [_is_number(v) for v in values if v != ""]
    if not numeric or any(numeric):  # a number among texts is a typo, not a level: say so
        return _parse_numeric(values, column, where)
    missing = sum(v == "" for v in values)
    if missing:
        raise DataError(f"{where}: column {column!r} has {counted(missing, 'missing value')} "
                        "(empty cells)")
    arr = np.array(values, dtype=object)
    return _Factor(arr, _sorted_labels(arr))


def _as_frame(df):
    """``df`` as a narwhals eager DataFrame (pandas, polars, pyarrow, ... : whatever narwhals
    reads), or a one-line :class:`DataError`."""
    import narwhals.exceptions
    import narwhals.stable.v1 as nw

    # repeated column names: narwhals' DuplicateError (a ValueError before it existed)
    duplicate = getattr(narwhals.exceptions, "DuplicateError", ())
    try:
        return nw.from_native(df, eager_only=True)
    except TypeError:
        raise DataError(f"df must be a DataFrame (pandas, polars or a pyarrow Table); got "
                        f"{type(df).__name__}") from None
    except duplicate:
        raise DataError("the DataFrame's column names must be unique") from None
    except ValueError as exc:
        raise DataError(f"the DataFrame cannot be read: {_first_line(exc)}") from None


def _read_column(frame, col, what: str):
    """``(series, values)``: the narwhals column ``col`` of ``frame`` and its values as a
    numpy array, or a one-line :class:`DataError` when it has missing values (null, or NaN in
    a float column: pandas counts both as missing, polars and pyarrow tell them apart) or
    complex numbers (``what``, "X", "y" or "weights", names the role in the message)."""
    import narwhals.stable.v1 as nw

    s = frame.get_column(col)
    missing = int(s.null_count())
    if s.dtype in (nw.Float32, nw.Float64):  # NaN that are not nulls (pandas has none)
        missing += int(np.isnan(np.asarray(s.drop_nulls().to_numpy(), dtype=np.float64)).sum())
    if missing:
        raise DataError(f"column {col!r} has {counted(missing, 'missing value')}; drop or "
                        "fill them")
    values = s.to_numpy()
    # complex numbers are numeric to pandas: converting them to floats would drop the
    # imaginary parts
    if values.dtype.kind == "c" or (values.dtype == object
                                    and any(_is_complex(v) for v in values.tolist())):
        raise DataError(_complex_message(what, values, str(col)))
    return s, values


def _weights_column(s, values) -> np.ndarray:
    """A narwhals column of frequency weights (with its ``values``) as floats, or a one-line
    :class:`DataError` when it is not numeric (:func:`_checked_weights` checks the values)."""
    if not s.dtype.is_numeric():
        raise DataError(f"the weights column {s.name!r} must be numeric")
    return np.asarray(values, dtype=np.float64)


def _frame_column(s, values):
    """A narwhals column (with its ``values``, shape (n,)) as floats, or as a factor when it
    is categorical, bool or text. A declared order of categories (pandas categorical, pyarrow
    dictionary, polars ``Enum``) gives the levels' order, the unused left out (an unused level
    would be an all-zero column); a polars ``Categorical`` declares none (its categories are in
    the order the process first saw them), so its levels are sorted, as text is."""
    import narwhals.stable.v1 as nw

    dtype = s.dtype
    if dtype == nw.Categorical or dtype == nw.Enum:
        values = np.asarray(values, dtype=object)
        if dtype == nw.Categorical and s.implementation.is_polars():
            return _Factor(values, _sorted_labels(values))
        present = set(values.tolist())
        # an Enum is polars': its categories from polars itself (narwhals' stable API does not
        # give them, and older narwhals ask polars 2 for a method it removed)
        declared = (list(s.to_native().dtype.categories) if dtype == nw.Enum
                    else s.cat.get_categories().to_list())
        return _Factor(values, tuple(c for c in declared if c in present))
    if dtype == nw.Boolean:
        return _Factor(np.asarray(values, dtype=object), (False, True))
    if dtype.is_numeric():
        return np.asarray(values, dtype=np.float64)
    if dtype == nw.String or dtype == nw.Object or (dtype == nw.Unknown
                                                    and values.dtype == object):
        values = np.asarray(values, dtype=object)
        return _Factor(values, _sorted_labels(values))
    native = s.to_native()
    type_name = getattr(native, "dtype", None) or getattr(native, "type", None) or dtype
    raise DataError(f"column {s.name!r} has the type {type_name}, neither numeric nor "
                    "categorical; convert it to numbers or strings")


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


def _warn_if_light(w: np.ndarray) -> None:
    """A :class:`ScaleWarning` when the weights sum to less than 1: the solvers' relative
    gradient divides by ``1 + max |X^T W Y|`` and the certificate's relative gap by ``max(1,
    |objective|)`` (:mod:`dualmaxent.objective`, :mod:`dualmaxent.certify`), both sums over the
    weighted observations, so below a total weight of 1 the ones dominate and the tolerances
    become absolute: all weights 1e-12 stopped an unpenalised fit after one iteration, far from
    its maximiser, converged and certified (within 1e-6 nats of an objective of 1e-9)."""
    total = float(w.sum())
    if total < 1.0 - w.size * 2.0 ** -52:  # (weights summing to 1 but for the sum's rounding)
        warnings.warn(f"the weights sum to {total:.2e}, less than 1: the tolerances, relative to "
                      "sums over the weighted observations that floor at 1, become absolute and "
                      "a fit may stop early; multiply the weights by a constant (an unpenalised "
                      "fit is the same; a penalty's lambda scales with them)", ScaleWarning,
                      stacklevel=user_stacklevel())


def _checked_weights(weights, n: int) -> np.ndarray:
    """The weights as a new float64 array of shape (n,) (ones when None), or a one-line
    ``DataError``: complex, the wrong length, not finite, negative or all zero."""
    if weights is None:
        return np.ones(n)
    if design.is_sparse(weights):
        raise DataError(f"weights must be a dense array, not a sparse {type(weights).__name__} "
                        "(weights.toarray().ravel() makes one)")
    w, complex_w = _real_array(weights, "weights")
    if complex_w:
        raise DataError(_complex_message("weights", w.reshape(-1)))
    w = np.array(w, dtype=np.float64, copy=True).reshape(-1)
    if w.shape != (n,):
        raise DataError(f"weights must have one entry per row of X ({n}); got {w.size}")
    if not np.all(np.isfinite(w)):
        raise DataError("weights must be finite")
    if np.any(w < 0):
        raise DataError(f"weights must be >= 0; found {int((w < 0).sum())} negative")
    if w.sum() <= 0:
        raise DataError("weights must not all be zero")
    return w


#: The bytes of a dense ``X`` from which a one-parameter family's intercept stays implicit
#: (:func:`_with_intercept_max`): below, the copy with the ones costs less than the implicit
#: column's few operations per block over a fit's passes. Measured (certified two-class fits,
#: in-process A/B, one BLAS thread, this 2-core machine): 0.8 MB (n = 10^4, ten features)
#: 4.5 % slower implicit; 4 MB (n = 10^4, 50 features) 11 % faster, 4.8 MB 7 %, 8 MB 5 %.
IMPLICIT_ONES_MIN_BYTES = 1 << 21


def _with_intercept_max(X: np.ndarray, Y: np.ndarray, w: np.ndarray, copy: bool = True):
    """``([X, 1], its columns' largest absolute entries, [X, 1]^T W Y, [X, 1]^T w)`` for a
    dense ``X``, in one pass over ``X`` a row block at a time, each block's maxima and its
    share of the balance equations' right-hand side (:func:`dualmaxent._kernels.data_sums`: the
    same blocks and products, so the same numbers) and of the weighted column sums taken while
    it is in cache (:func:`_check_scale` and the solver's stopping rule need the
    first two; the last two give the likelihood's value and gradient at the start in closed
    form, :meth:`dualmaxent.objective.DualObjective.start`).

    The design: for a response of one column (``Y`` of shape (n,): the one-parameter
    families) and an ``X`` of :data:`IMPLICIT_ONES_MIN_BYTES` or more, a
    :class:`~dualmaxent.design.DenseOnes`, the ones implicit, on ``X`` itself (a
    read-only view) when not ``copy`` and it is float64 and C-ordered, else on its float64
    C-ordered copy; otherwise (the categorical family's tables, a small ``X``), ``[X, 1]``
    stored, a new array. Why the two: the implicit column costs each product with ``X`` one
    more operation per block (the intercept's term added, the residual's column sums), a
    scalar's on the vectors of a one-parameter fit, but on a table of several columns numpy's broadcast over
    short rows, 10 to 25 us per block of 1285 rows against a 30 to 60 us product, more over a
    Newton fit's passes than the copy costs once. Measured at n = 10^5, m = 50 (one BLAS
    thread, this 2-core machine, in-process A/B): the copy with the intercept, its maxima and
    sums took 12 to 14 ms, 6 of them the copy and the kernel providing its new pages; a
    certified two-class fit took 8 % less with the ones implicit, a three-class one 14 to
    20 % more."""
    from ._kernels import add_data_sums, data_sums_blocks

    n, p = X.shape
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    implicit = Y.ndim == 1 and 8 * n * p >= IMPLICIT_ONES_MIN_BYTES
    own = implicit and not copy and X.dtype == np.float64 and X.flags.c_contiguous
    if own:
        base = X.view()
    elif implicit:
        base = np.empty((n, p))
    else:
        out = np.empty((n, p + 1))
        base = out[:, :-1]
    big = np.zeros(p)
    sums = np.zeros((Y2.shape[1], p + 1))
    wsums = np.zeros(p + 1)
    for sl in data_sums_blocks(n, p + 1, Y2.shape[1]):
        B = base[sl]
        if not own:
            B[...] = X[sl]
        np.maximum(big, nx.column_absmax(B), out=big)
        if implicit:
            Xb = design.DenseOnes(B)
        else:
            out[sl, -1] = 1.0
            Xb = out[sl]
        add_data_sums(sums, Xb, Y2[sl], w[sl])
        wsums += w[sl] @ Xb
    if not implicit:
        return out, np.append(big, 1.0), sums.T, wsums
    base.setflags(write=False)  # (a view: the caller's array keeps its flags)
    return design.DenseOnes(base), np.append(big, 1.0), sums.T, wsums


def _held(dataset, key: str) -> np.ndarray | None:
    """The data set's ``key`` where it holds it already (with X's m rows first), else None:
    never a pass of its own."""
    held = vars(dataset).get(key) if isinstance(dataset, Dataset) else None
    return held if held is not None and held.shape[0] == dataset.m else None


def held_column_max(dataset) -> np.ndarray | None:
    """The columns' largest absolute entries (m,) where the data set holds them already (its
    scale check's, :meth:`Dataset.from_arrays`), else None."""
    return _held(dataset, "_column_max")


def held_data_sums(dataset) -> np.ndarray | None:
    """``X^T W Y`` (m, q) where the data set holds it already (summed while
    :meth:`Dataset.from_arrays` copied a dense ``X``, :func:`_with_intercept_max`), else None."""
    return _held(dataset, "_data_sums")


def held_weight_sums(dataset) -> np.ndarray | None:
    """``X^T w`` (m,), the weighted column sums, where the data set holds them already (summed
    with :func:`held_data_sums`), else None."""
    return _held(dataset, "_weight_sums")


#: :func:`_check_scale` skips the sums of squares when the columns' maxima alone decide, with
#: this much room (a factor e) between its bounds and the thresholds, far above the rounding of
#: the sums it does not form.
_SCALE_MARGIN = 1.0


def _scale_decided(big: np.ndarray, w: np.ndarray) -> bool:
    """Whether the columns' largest entries ``big`` (the nonzero ones, (m',)) prove that
    :func:`_check_scale` neither raises nor warns, without its sums of squares.

    With every weight positive, the row of column ``i``'s largest entry has weight at least
    ``min w``, and every row at most ``big_i`` in that column, so the sum ``ss_i = sum_j w_j
    x_ji^2`` lies in ``[min(w) big_i^2, sum(w) big_i^2]``: no sum overflows the limit when
    ``max(big)^2 sum(w)`` stays below it, and the root mean squares ``sqrt(ss_i / sum(w))``
    span at most ``(max(big) / min(big)) sqrt(sum(w) / min(w))``, no warning when that stays
    below :data:`_MAX_SCALE_RATIO` (both by :data:`_SCALE_MARGIN`, in logs). The smallest
    ``min(w) big_i^2`` must also be far above float64's smallest normal number divided by its
    epsilon, so that the sums that the check would form are not made inexact by underflow
    (there its logarithms decide, and this bound is not claimed). A zero weight (a column may
    then live on zero-weight rows only) leaves the check to the sums.
    Measured, n = 10^5, m = 51 (one BLAS thread): the sums of squares' pass took 2.5 ms."""
    w_min = float(w.min())
    if not w_min > 0:
        return False
    log_w_min, log_w_sum = np.log(w_min), np.log(float(w.sum()))
    logs = np.log(big)
    hi, lo = float(logs.max()), float(logs.min())
    if 2 * hi + log_w_sum > np.log(_MAX_SUM_OF_SQUARES) - _SCALE_MARGIN:
        return False
    tiny = np.finfo(np.float64)
    if 2 * lo + log_w_min < np.log(tiny.tiny) - np.log(tiny.eps) + _SCALE_MARGIN:
        return False
    return (hi - lo) + 0.5 * (log_w_sum - log_w_min) < np.log(_MAX_SCALE_RATIO) - _SCALE_MARGIN


def _check_scale(X, w, names, column_max=None) -> np.ndarray:
    """One-line error when a column of ``X`` is too large for the solvers' float64 arithmetic,
    and a warning when the columns' sizes differ so much that the conic primal struggles.
    Returns the largest absolute entry of each column (kept as ``Dataset._column_max``), or
    ``column_max`` when given (those maxima, taken already: :func:`_with_intercept_max`). The
    sums of squares are formed only when the maxima do not decide (:func:`_scale_decided`)."""
    from ._kernels import row_blocks

    # one pass in row blocks, each in cache for its maximum and its squares: no temporary of the
    # size of X (at n = 10^6, m = 51 the whole-array form copied X twice, 0.8 GB, and took
    # 1.5 s; column reductions over the whole array 0.37 s; this 0.1 s)
    # A sparse X is one block: slicing its rows copies them, and its reductions read the
    # stored entries once anyway (a 2000-level column at n = 10^5 took 392 blocks, 0.2 s)
    blocks = [slice(None)] if design.is_sparse(X) else row_blocks(*X.shape)
    # rows of weight zero do not enter the problem, nor its scale: a feature of 1e150 on such
    # rows alone had the solver rescale its column by 2^-498 and stop at a wrong theta
    live = None if w.min(initial=1.0) > 0 else w > 0
    if column_max is None or live is not None:
        big = np.zeros(X.shape[1])
        for sl in blocks:
            part = X if sl == slice(None) else X[sl]
            if live is not None:
                part = part[live[sl]]
            if part.shape[0]:
                np.maximum(big, design.column_absmax(part), out=big)
    else:
        big = column_max
    nonzero = np.nonzero(big > 0)[0]
    if nonzero.size == 0 or _scale_decided(big[nonzero], w):
        return big
    ss = np.zeros(X.shape[1])
    with np.errstate(over="ignore", under="ignore"):  # detected below, then scaled
        for sl in blocks:
            ss += design.column_sq_sums(X if sl == slice(None) else X[sl], w[sl])
    if np.all(np.isfinite(ss)) and np.all(ss[nonzero] > 0):
        log_ss = np.log(ss[nonzero])
    else:  # a square overflowed or underflowed: sum w x^2 = big^2 sum w (x / big)^2, in logs
        scaled = np.zeros(nonzero.size)
        for sl in blocks:
            B = design.scale_columns((X if sl == slice(None) else X[sl])[:, nonzero],
                                     big[nonzero], divide=True)
            scaled += design.column_sq_sums(B, w[sl])
        with np.errstate(divide="ignore"):  # 0: a column seen on zero-weight rows alone
            log_ss = 2 * np.log(big[nonzero]) + np.log(scaled)
    over = np.nonzero(log_ss > np.log(_MAX_SUM_OF_SQUARES))[0]
    if over.size:
        j = int(nonzero[over[0]])
        top = float(w.max(initial=0.0))
        if big[j] ** 2 * 2.0 ** 40 < _MAX_SUM_OF_SQUARES:  # (the weights, not the column)
            raise DataError(f"the weights' scale is the cause: they reach {top:.1e}, and the "
                            f"weighted sum of squares of column {names[j]!r} overflows float64 "
                            "in the solvers; divide the weights by a constant (an unpenalised "
                            "fit is the same; a penalty's lambda scales with them)")
        raise DataError(f"the features' scale is the cause: column {names[j]!r} reaches "
                        f"{big[j]:.1e} and its sum of squares overflows float64 in the solvers;"
                        " standardise it (subtract the mean, divide by the standard deviation)"
                        " and theta scales inversely")
    # a column nonzero only on rows of weight zero has no weighted size (log 0): to the fit it
    # is a zero column, and it is left out of the span as those are
    sized = nonzero[np.isfinite(log_ss)]
    if sized.size < 2:
        return big
    log_rms = 0.5 * (log_ss[np.isfinite(log_ss)] - np.log(w.sum()))
    lo, hi = int(np.argmin(log_rms)), int(np.argmax(log_rms))
    if log_rms[hi] - log_rms[lo] > np.log(_MAX_SCALE_RATIO):
        small, large = names[int(sized[lo])], names[int(sized[hi])]
        warnings.warn(f"the features' scales differ by a factor "
                      f"{_factor_text(log_rms[hi] - log_rms[lo])} (column {small!r} against "
                      f"{large!r}): float64 loses digits to it (the certificate's round-off "
                      "budget grows, CVXPY's primal may fail); standardising the features "
                      "helps", ScaleWarning, stacklevel=user_stacklevel())
    return big


#: The dual solver and the rank pass see the columns of ``X`` rescaled by powers of two (exactly:
#: theta maps back without round-off) when the columns' largest entries, together with 1, span
#: more than this. Both ends matter: the stopping rule ``max |g| / (1 + max |X^T W Y|)`` cannot
#: see the gradient of a column this much smaller than the largest (or than the 1: measured,
#: n = 120, logistic, every feature of size 1e-10: Newton "converged" at its start, theta off by
#: 1.4), and float32 products of the rank pass and of Newton's Hessians overflow from sizes of
#: about 1e19 ("Eigenvalues did not converge"). Measured there, sizes 1e-8 to 1e18 solve right
#: as given; a span of 1e8 keeps every column's gradient at least 100 times the default
#: tolerance 1e-10 of Newton (and leaves well-scaled data, even features of size 1e6, as given).
_RESCALE_SPAN = 1e8


def _factor_text(log_factor: float) -> str:
    """``exp(log_factor)`` written as ``1e+12``, also beyond float64's range (a factor between
    sizes of 1e300 and 1e-300)."""
    if log_factor < 700:
        return f"{np.exp(log_factor):.0e}"
    decimal = log_factor / np.log(10.0)
    exponent = int(np.floor(decimal))
    mantissa = int(round(10.0 ** (decimal - exponent)))
    if mantissa == 10:
        mantissa, exponent = 1, exponent + 1
    return f"{mantissa}e+{exponent}"


def _span_log(column_max: np.ndarray) -> float:
    """The log of the span of the columns' largest entries (zeros ignored) together with 1."""
    sizes = column_max[column_max > 0]
    if sizes.size == 0:
        return 0.0
    logs = np.log(sizes)
    return max(float(logs.max()), 0.0) - min(float(logs.min()), 0.0)


def _badly_scaled(column_max: np.ndarray) -> bool:
    """Whether the columns' largest entries (zeros ignored), together with 1, span more than
    :data:`_RESCALE_SPAN` (False for non-finite maxima: a data set built by hand)."""
    if not np.all(np.isfinite(column_max)):
        return False
    return _span_log(column_max) > np.log(_RESCALE_SPAN)


def _power_of_two_scaling(column_max: np.ndarray, rows: np.ndarray,
                          uniform: bool = False) -> np.ndarray:
    """Powers of two ``D`` (m,) with ``column_max * D`` in [0.5, 1) on ``rows`` (one factor for
    all of them when ``uniform``, the largest's), 1 elsewhere and on zero columns."""
    scale = np.ones(column_max.shape)
    sel = rows & (column_max > 0)
    if not sel.any():
        return scale
    exponents = np.frexp(column_max[sel])[1]  # max = f 2^e, f in [0.5, 1)
    if uniform:
        exponents = np.full_like(exponents, exponents.max())
    # within float64's normal range, so that D and 1 / D are exact
    scale[sel] = np.ldexp(1.0, -np.clip(exponents, -1021, 1021))
    return scale


def _scaled_identifiability(ident, scale: np.ndarray, names):
    """The identifiability of ``X`` from ``ident``, that of ``Z = X diag(scale)``: the same rank
    and (both are equilibrated) condition, the null space ``diag(scale) N``, and the
    dependencies read off in ``Z``'s columns (where the sizes are comparable, so that small
    terms are told from zero) and written in ``X``'s."""
    from .identifiability import Identifiability, _name_dependencies

    if ident.full_rank:
        return ident
    r = ident.null_space.shape[1]
    Q = _graded_orthonormal(scale[:, None] * ident.null_space)
    # (the dependencies' residuals relative to their terms are the same in X's columns: the
    # scale's powers of two move no rounding)
    return Identifiability(rank=ident.rank, m=ident.m, basis=Q[:, r:], null_space=Q[:, :r],
                           condition=ident.condition,
                           dependencies=_name_dependencies(ident.null_space, names, scale),
                           dependency_error=ident.dependency_error,
                           worst_dependency=ident.worst_dependency)


def _graded_orthonormal(A: np.ndarray) -> np.ndarray:
    """An orthogonal Q (m, m) whose first ``r`` columns span those of ``A`` (m, r, full column
    rank) and the others their complement, accurate entry by entry when the rows of ``A``
    differ in size by many orders of magnitude (a rescaled null space): Householder QR with the
    rows sorted by decreasing size and column pivoting, row-wise stable for such matrices
    (plain QR lost an entry of 1e-150 next to 1 to cancellation)."""
    import scipy.linalg

    order = np.argsort(-np.abs(A).max(axis=1), kind="stable")
    Q = scipy.linalg.qr(A[order] / np.abs(A).max(axis=0), pivoting=True)[0]
    out = np.empty_like(Q)
    out[order] = Q
    return out


def _sparse_real(X):
    """``(the sparse X in canonical form, False)``, or ``(X, True)`` when its entries are
    complex numbers; a one-line :class:`DataError` when they are not numbers.

    A canonical CSR (:func:`dualmaxent.design.is_canonical`, as scikit-learn's vectorizers
    make it) is returned itself, to be read only: the data set reads its arrays through
    read-only views (:func:`dualmaxent.design.read_only`; with the intercept a
    :class:`~dualmaxent.design.OnesColumn`), as scikit-learn's estimators read ``X``, so that
    it costs no copy (any other input is made one canonical copy here)."""
    if X.dtype.kind == "c":
        return X, True
    if X.dtype.kind not in "biuf":
        raise DataError(f"X must be numeric; the sparse matrix holds {X.dtype}")
    if design.is_canonical(X):
        return X, False
    return design.as_sparse(X), False


def _check_finite(X, names) -> None:
    """One-line error naming the first NaN or infinite entry of ``X`` (dense or sparse)."""
    if design.is_sparse(X):
        if np.isfinite(X.data).all():
            return
        coo = X.tocoo()
        bad = ~np.isfinite(coo.data)
        rows, cols = coo.row[bad], coo.col[bad]
        col = int(cols.min())
        row = int(rows[cols == col].min())
        count = int(bad.sum())
    else:
        # a NaN or an infinity makes the sum non-finite (so may an overflow of finite values:
        # then the entries decide), without a boolean array of the size of X in the usual case
        if np.isfinite(X.sum()):
            return
        bad = ~np.isfinite(X)
        if not bad.any():
            return
        col = int(np.nonzero(bad.any(axis=0))[0][0])
        row = int(np.nonzero(bad[:, col])[0][0])
        count = int(bad.sum())
    raise DataError(f"X must be finite; found {counted(count, 'NaN or infinite value')}, the "
                    f"first in column {names[col]!r} at row {row + 1}")


def _real_array(values, what: str, keep_real: bool = False):
    """``(values as a float64 array, False)``, or ``(values as an array, True)`` when they are
    complex numbers (converting them would drop the imaginary parts); a one-line
    :class:`DataError` when they are not numbers. The caller's array is only read (copied
    where the conversion to float64 needs it), never modified. ``keep_real``: an array of a
    real dtype (bool, integer, floating) is returned as it is, for a copy to convert."""
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError):  # ragged nesting
        raise DataError(f"{what} must be numeric") from None
    if raw.dtype.kind == "c":
        return raw, True
    if keep_real and raw.dtype.kind in "biuf":
        return raw, False
    try:
        return np.asarray(raw, dtype=np.float64), False
    except (TypeError, ValueError):
        if raw.dtype == object and any(_is_complex(v) for v in raw.ravel().tolist()):
            return raw, True
        if raw.dtype == object and any(_is_missing(v) for v in raw.ravel().tolist()):
            # pandas' missing value in a nullable column (its Float64, Int64): NaN, as numpy
            # makes of None, so that the finite check names the first one's column and row
            try:
                return np.asarray(np.where(_missing(raw), np.nan, raw), dtype=np.float64), False
            except (TypeError, ValueError):
                pass
        raise DataError(f"{what} must be numeric") from None


def _complex_message(what: str, values: np.ndarray, names=None) -> str:
    """One line on complex ``values``: 2-D with the columns' ``names``, or 1-D with the name of
    its column (optional); the column and row of the first entry with a nonzero imaginary part,
    and how many there are."""
    if values.dtype.kind == "c":
        imag = values.imag != 0
    else:  # objects: Python or numpy complex numbers among others
        imag = np.array([_is_complex(v) and complex(v).imag != 0 for v in values.ravel().tolist()],
                        dtype=bool).reshape(values.shape)
    count = int(imag.sum())
    if count == 0:
        dtype = f" (dtype {values.dtype})" if values.dtype.kind == "c" else ""
        return (f"{what} must be real; got complex numbers{dtype}, though their imaginary parts "
                f"are all zero: pass {what}.real")
    if imag.ndim == 2:
        col = int(np.nonzero(imag.any(axis=0))[0][0])
        row = int(np.nonzero(imag[:, col])[0][0])
        where = f" in column {names[col]!r}" if names is not None else f" in column {col + 1}"
    else:
        row, where = int(np.nonzero(imag)[0][0]), "" if names is None else f" in column {names!r}"
    return (f"{what} must be real; found complex values{where} ({count} "
            f"{'entries' if count != 1 else 'entry'} with a nonzero imaginary part, the first at "
            f"row {row + 1})")


def _is_complex(v) -> bool:
    return isinstance(v, (complex, np.complexfloating))


def _name_list(names, limit: int = 8) -> str:
    """``a, b, c``; the first and last few when there are more than ``limit``. Only the names
    shown are read and made text (not all 10^5 of a text design's)."""
    if not (hasattr(names, "__len__") and hasattr(names, "__getitem__")):
        names = list(names)
    if len(names) > limit:
        shown = [*names[:limit - 3], "...", *names[len(names) - 2:]]
    else:
        shown = names
    return ", ".join(str(v) for v in shown)


def _kind_name(a: np.ndarray) -> str:
    return {"b": "booleans", "U": "strings", "S": "bytes", "O": "objects", "M": "dates",
            "m": "time spans", "V": "records"}.get(a.dtype.kind, str(a.dtype))


def _warn_if_continuous(y):
    """Warn when non-integer numbers are about to become class labels."""
    if y.dtype.kind != "f" or np.all(y == np.round(y)):
        return
    distinct = int(np.unique(y).size)
    message = f"the target has {distinct} distinct non-integer values, each taken as a class"
    if distinct > 2:  # two values may be a coding of two classes; more look like measurements
        message += ("; they look continuous: for a regression use family='gaussian' "
                    "(--family gaussian)")
    warnings.warn(message, TargetWarning, stacklevel=user_stacklevel())


#: A categorical target of non-negative integers with at least this many distinct values gets a
#: ``CountTargetWarning`` suggesting the Poisson family. Class labels coded as integers rarely
#: run to eight or more levels (iris 3, covertype 7, wine quality 7); counts of events reach
#: them at a mean of about 2. Ten digit classes (0-9) also warn, in words that allow for it
#: ("if they are counts"); the classifiers silence the warning.
COUNT_LEVELS = 8


def _warn_if_counts(y):
    """Warn when many non-negative integers (counts, most likely) are about to become classes."""
    if y.dtype.kind not in "iuf" or y.size == 0:
        return
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        return  # non-integers: _warn_if_continuous speaks for them
    if y.min() < 0:
        return
    levels = nx.unique_inverse(y)[0]
    if levels.size < COUNT_LEVELS:
        return
    warnings.warn(f"the target has {levels.size} distinct non-negative integer values "
                  f"({levels[0]:g} to {levels[-1]:g}), each taken as a class; if they are "
                  "counts, use family='poisson' (--family poisson)", CountTargetWarning,
                  stacklevel=user_stacklevel())


def _is_numeric_array(y) -> bool:
    try:
        return np.asarray(y).dtype.kind in "biuf"
    except Exception:  # ragged or exotic input: keep as objects
        return False


def _is_missing(v) -> bool:
    """None, a float NaN, or pandas' ``pd.NA`` / ``pd.NaT`` (told by type, pandas not
    imported)."""
    return (v is None or (isinstance(v, float) and math.isnan(v))
            or type(v).__name__ in ("NAType", "NaTType"))


def _missing(a: np.ndarray) -> np.ndarray:
    """:func:`_is_missing` entry by entry of an object array."""
    return np.frompyfunc(_is_missing, 1, 1)(a).astype(bool)
