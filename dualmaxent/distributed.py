"""The pipeline on Dask: data sets larger than memory or on a cluster, solved and certified.

A :class:`DaskDataset` holds the same things as a :class:`~dualmaxent.Dataset` (conventions of
:mod:`dualmaxent.data`: ``X`` (n, m) with the intercept column last, ``Y`` the family's encoding,
frequency weights), as dask arrays chunked along the rows. Every computation is a pass of the
numpy kernels over the row chunks through a :class:`~dualmaxent.engine.DaskEngine`; ``X`` is
never gathered on the client, only the chunks' sums are.

* Input: :func:`from_dask` (dask or numpy arrays), :func:`from_frame` (a dask DataFrame),
  :func:`read_parquet` and :func:`read_csv` (globs, through ``dask.dataframe``). A frame's
  text, categorical and bool columns become the indicator columns ``col[level]`` of
  :meth:`Dataset.from_frame`, with the same levels: one pass counts the partitions' rows and
  missing values and gathers the levels, and each partition is encoded by the in-memory rule.
  A design the in-memory rule stores sparse (:data:`dualmaxent.data.SPARSE_MAX_DENSITY`:
  many indicator columns) has scipy.sparse CSR chunks, the intercept's ones included; the rule
  is applied once, to the whole design, from that pass's counts of levels and nonzeros, and
  every pass (the solver's, the checker's, the warm start's sample) then reads CSR chunks: the
  kernels take either kind (:mod:`dualmaxent.design`). No dense block of such a design is
  formed: 2000 levels and two numeric columns at n = 1e5 are 1.5 GiB dense, 5.0 MiB as CSR.
  One validation pass finds the class labels, counts the non-finite values of every column
  and checks the weights; the encoding of the response is then done chunk by chunk
  (``map_blocks``) by the family's own ``encode``, lazily.
* The dual: :func:`solve_dual_dask`, the in-memory solvers with one pass per iteration: the
  full step's value, gradient and (for Newton) Hessian, the next iterate's, come from one pass;
  should the full step fail, the next pass evaluates the five shorter steps ``t = 1/2 .. 1/32``
  by their values. L1 and the elastic net run the in-memory proximal Newton method on the same
  passes. Newton starts from a fit on a sample gathered into memory. A converged solve
  proves attainment by the projected point (one pass); the result keeps only the verdict
  (``attained``), not the point.
* The certificate: :func:`dualmaxent.certify` with the data set's engine
  (:func:`dualmaxent.verify_dask`), or :func:`project_primal_dask`, the projected feasible point
  of :mod:`dualmaxent.projected` with its two passes through the engine.
* :func:`dask_client`: a client for a scheduler address, or a ``LocalCluster`` of one-thread
  workers sized to the machine, closed at the end.

Separation. The separation LP needs the data in memory and does not exist at this scale. When
the likelihood has no maximiser, Newton's iterates run off to infinity along a recession
direction: the full step is accepted again and again, its size does not shrink, its direction
does not turn, and the gradient falls only geometrically. :func:`solve_dual_dask` stops there
with status ``Status.DIVERGED`` (``"diverged"``; see :data:`DIVERGENCE_ITERATIONS`) instead of
reaching the tolerance on a theta at infinity. A script that starts a ``LocalCluster`` of
processes needs an ``if __name__ == "__main__":`` guard (the workers are spawned).
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.sparse

from . import design
from .data import (Dataset, _as_frame, _design, _Factor, _frame_column, _read_column,
                   column_roles, counted, intercept_name, _sparse_pays)
from .engine import DaskEngine, EngineObjective, NumpyEngine, _tree, add
from .exceptions import DataError, DualMaxentError, SeparationWarning, user_stacklevel
from .families import Family, _sorted_labels, get_family
from .params import Penalty, checked_tol, make_penalty
from .projected import ProjectedPrimal, project_primal
from .separation import intercept_runoff
from .results import DualResult, Status

from .dual import DEFAULT_TOLS, _dual_result, _Runoff, choose_method, not_attained
from .solvers import DIVERGED_MESSAGE, DIVERGENCE_ITERATIONS, SOLVERS, History, subsample_start

__all__ = ["DaskDataset", "from_dask", "from_frame", "read_parquet", "read_csv",
           "solve_dual_dask", "project_primal_dask", "dask_client", "DIVERGENCE_ITERATIONS",
           "DIVERGED_MESSAGE"]

# -- data -------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class DaskDataset:
    """A data set as dask arrays chunked along the rows (the fields of :class:`Dataset`).

    Attributes
    ----------
    X : dask array of shape (n, m)
        Features, the intercept column (if any) last; one chunk of columns. Its chunks are
        dense float64 arrays, or canonical ``scipy.sparse.csr_array`` chunks for a sparse design
        (the array's ``meta`` says which: :func:`dualmaxent.engine.sparse_rows`).
    y : dask array of shape (n,)
        The response as given.
    Y : dask array of shape (n, k) or (n,)
        The response encoded for ``family`` (computed chunk by chunk when a pass needs it).
    classes : tuple
    feature_names : tuple of str
    weights : dask array of shape (n,)
    family : Family
    name : str
    intercept : bool
    """

    X: object
    y: object
    Y: object
    classes: tuple
    feature_names: tuple
    weights: object
    family: Family
    name: str = "dask"
    intercept: bool = True

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def m(self) -> int:
        return int(self.X.shape[1])

    @property
    def k(self) -> int:
        return len(self.classes) if self.classes else 1

    @property
    def n_chunks(self) -> int:
        return int(self.X.numblocks[0])

    def check_theta(self, theta) -> np.ndarray:
        """``theta`` checked against this data set's layout (:meth:`Dataset.check_theta`, which
        reads only the attributes the two share)."""
        return Dataset.check_theta(self, theta)

    def engine(self, client=None) -> DaskEngine:
        """The engine that maps the kernels over this data set's row chunks."""
        return DaskEngine(self.X, self.Y, self.weights, client)

    def persist(self, client=None) -> "DaskDataset":
        """The same data set with ``X``, ``Y`` and the weights held in the workers' memory
        (each later pass then skips reading and encoding the chunks)."""
        import dask

        arrays = (self.X, self.Y, self.weights)
        if client is not None:
            from distributed import wait

            X, Y, w = client.persist(arrays)
            wait([X, Y, w])  # persist is asynchronous: the first pass would pay for it
        else:
            X, Y, w = dask.persist(*arrays)
        return DaskDataset(X, self.y, Y, self.classes, self.feature_names, w, self.family,
                           self.name, self.intercept)

    def every(self, step: int) -> Dataset:
        """Every ``step``-th row gathered into an in-memory :class:`Dataset` (one pass; the
        warm start's sample, :func:`dualmaxent.solvers.subsample_start`)."""
        import dask

        rows = slice(None, None, int(step))
        X, Y, w = dask.compute(self.X[rows], self.Y[rows], self.weights[rows])
        X = _gathered(X)
        # the response as given is decoded from its encoding (computing it again might mean
        # reading the source again, when only the encoding was persisted)
        y = Y if Y.ndim == 1 else np.asarray(self.classes)[Y.argmax(axis=1)]
        return Dataset(X=X, y=y, Y=Y, classes=self.classes, feature_names=self.feature_names,
                       weights=w, family=self.family, name=f"{self.name} [::{step}]",
                       intercept=self.intercept)

    def to_dataset(self) -> Dataset:
        """Everything gathered into an in-memory :class:`Dataset` (for small data and tests)."""
        import dask

        X, y, Y, w = dask.compute(self.X, self.y, self.Y, self.weights)
        X = _gathered(X)
        for a in ((X.data, X.indices, X.indptr) if design.is_sparse(X) else (X,)) + (y, Y, w):
            a.setflags(write=False)
        return Dataset(X=X, y=y, Y=Y, classes=self.classes, feature_names=self.feature_names,
                       weights=w, family=self.family, name=self.name, intercept=self.intercept)


def _gathered(X):
    """Rows of ``X`` gathered from the chunks: a sparse design as one canonical CSR array (the
    chunks are stacked by ``scipy.sparse.vstack``), a dense one as it is."""
    if design.is_sparse(X) and not design.is_canonical(X):
        return design.as_sparse(X)
    return X


def from_dask(X, y, weights=None, feature_names=None, intercept: bool = True,
              family: str | Family | None = None, name: str = "dask") -> DaskDataset:
    """Build a :class:`DaskDataset` from dask (or numpy) arrays, validating them in one pass.

    Parameters
    ----------
    X : dask array or array_like of shape (n, p)
        Numeric, finite features (without the intercept). Rechunked to one chunk of columns;
        its row chunks are the chunks of every pass. Chunks may be scipy.sparse (a dask
        array whose ``meta`` is one, as :func:`from_frame` builds for many indicator columns):
        they are kept sparse, in canonical CSR form, the intercept's ones appended sparse.
    y : dask array or array_like of shape (n,)
    weights : dask array or array_like of shape (n,), optional
        Non-negative frequency weights.
    feature_names : sequence of str, optional
    intercept : bool, default True
        Append a column of ones named ``intercept`` (chunk by chunk).
    family : str or Family, optional
        ``categorical`` when omitted, as for :meth:`Dataset.from_arrays`.
    name : str, default "dask"

    Raises
    ------
    DataError
        With a one-line message naming the problem.
    """
    import dask.array as da

    fam = get_family(family if family is not None else "categorical")
    X = _dask_array(X, "X")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise DataError(f"X must be 2-dimensional; got {X.ndim} dimensions")
    if X.dtype.kind not in "biuf":
        raise DataError(f"X must be numeric; got dtype {X.dtype}")
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    X = X.astype(np.float64).rechunk({1: -1})
    if 0 in X.chunks[0] and X.shape[0] > 0:  # (a filter's empty chunks: every pass skips none)
        X = X.rechunk({0: tuple(c for c in X.chunks[0] if c)})
    n, p = X.shape
    rows = X.chunks[0]
    names = [f"x{i + 1}" for i in range(p)] if feature_names is None else \
        [str(f) for f in feature_names]
    if len(names) != p:
        raise DataError(f"got {len(names)} feature names for {p} columns of X")
    if len(set(names)) != len(names):
        raise DataError("feature names must be unique")
    if p == 0 and not intercept:
        raise DataError("no features: give at least one column or keep the intercept")
    y = _known_rows(_dask_array(y, "y"))
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.ndim != 1 or y.shape[0] != n:
        raise DataError(f"y must have one entry per row of X ({n}); got shape {y.shape}")
    if n < 2:
        raise DataError(f"need at least two observations; got {n}")
    y = y.rechunk((rows,))
    if weights is None:
        w = da.ones(n, chunks=(rows,))
    else:
        w = _known_rows(_dask_array(weights, "weights")).reshape(-1)
        if w.dtype.kind not in "biuf":
            raise DataError("weights must be numeric")
        if w.shape != (n,):
            raise DataError(f"weights must have one entry per row of X ({n}); got {w.shape[0]}")
        w = w.astype(np.float64).rechunk((rows,))
    classes = _validate(X, y, w if weights is not None else None, names, fam)
    k = len(classes)
    if fam.multiclass:
        Y = y.map_blocks(_encode_block, fam, classes, dtype=np.float64, new_axis=1,
                         chunks=(rows, (k,)))
    else:
        Y = y.map_blocks(_encode_block, fam, classes, dtype=np.float64)
    sparse = design.is_sparse(X._meta)
    if intercept or sparse:
        X = X.map_blocks(_finish_block, intercept, dtype=np.float64,
                         chunks=(rows, (p + bool(intercept),)), meta=X._meta)
    if intercept:
        names = names + [intercept_name(names)]
    return DaskDataset(X=X, y=y, Y=Y, classes=tuple(classes), feature_names=tuple(names),
                       weights=w, family=fam, name=name, intercept=bool(intercept))


def read_parquet(path, target: str, features=None, weights: str | None = None,
                 family: str | Family | None = None, intercept: bool = True,
                 name: str | None = None) -> DaskDataset:
    """Read Parquet files (a path, folder or glob) through ``dask.dataframe``.

    The columns are encoded as by :func:`from_frame` (text, categorical and bool features as
    the indicator columns of :meth:`Dataset.from_frame`; a Parquet dictionary column read as a
    pandas categorical has its categories' order).

    Parameters
    ----------
    path : str
    target : str
        The response column.
    features : sequence of str, optional
        The feature columns; every column but the target and the weights when omitted.
    weights : str, optional
        A column of frequency weights.
    family, intercept : as for :func:`from_dask`
    name : str, optional
        Defaults to the file's (or folder's) stem, as :meth:`Dataset.from_csv` names an in-memory
        data set; a glob's whole pattern.
    """
    import dask.dataframe as dd

    try:
        frame = dd.read_parquet(path)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise DataError(f"cannot read Parquet {path}: {_first_line(exc)}") from None
    return _from_frame(frame, str(path), target, features, weights, family, intercept, name)


def read_csv(path, target: str, features=None, weights: str | None = None,
             family: str | Family | None = None, intercept: bool = True,
             name: str | None = None, **kwargs) -> DaskDataset:
    """Read CSV files (a path or glob, with a header row) through ``dask.dataframe``.

    The parameters are those of :func:`read_parquet`; ``kwargs`` go to ``dd.read_csv``
    (``blocksize`` sets the chunks). Text columns become indicator columns, their levels
    sorted (:func:`from_frame`); dask infers each column's type from the first block, so a
    column that is numeric there and text later is a one-line error.
    """
    import dask.dataframe as dd

    try:
        frame = dd.read_csv(path, **kwargs)
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise DataError(f"cannot read CSV {path}: {_first_line(exc)}") from None
    return _from_frame(frame, str(path), target, features, weights, family, intercept, name)


def _stem(where: str) -> str:
    """A data set's default name from its path: the file's (or folder's) stem, as the in-memory
    readers name it (``data/train.csv`` -> ``train``); a glob (``part-*.csv``) its pattern."""
    return where if any(c in where for c in "*?[") else Path(where).stem or where


def from_frame(frame, target, features=None, weights=None, family: str | Family | None = None,
               intercept: bool = True, name: str = "dask") -> DaskDataset:
    """A :class:`DaskDataset` from a dask DataFrame, encoded as :meth:`Dataset.from_frame`
    encodes the same frame in memory.

    Numeric columns are used as they are; text, categorical and bool columns become indicator
    columns ``col[level]`` with the levels and the dropped reference level of
    :meth:`Dataset.from_frame` (the rule of :mod:`dualmaxent.data`: text sorted, a categorical
    in the order of its categories that occur, bool ``False, True``; the first level dropped
    when the columns before it span the constant). The levels are found in the pass that counts
    the partitions' rows and missing values (each partition's distinct values, and a
    categorical's category order, gathered for every factor column at once); the indicator
    columns are then built partition by partition, lazily, against those global levels, so a
    level absent from a partition still has its (zero) column there. The same pass counts
    each level's rows and each numeric column's nonzeros, from which the design's density is
    known before any chunk is built: a design the in-memory rule stores sparse
    (:func:`dualmaxent.data._sparse_pays` on the whole design, as for the same rows in memory)
    has CSR chunks.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
    target : column label
        The response column.
    features : sequence of column labels, optional
        Every column but the target and the weights when omitted.
    weights : column label, optional
        A numeric column of frequency weights.
    family, intercept, name : as for :func:`from_dask`

    Raises
    ------
    DataError
        With a one-line message naming the problem: an unknown column, a missing value (the
        message of :meth:`Dataset.from_frame`, with the count), a column neither numeric nor
        categorical, non-finite values.

    Notes
    -----
    A categorical column whose partitions hold different category lists takes the order in
    which the categories first appear over the partitions (pandas-written Parquet and
    ``dd.from_pandas`` give every partition the same list, the in-memory order).
    """
    import dask.dataframe as dd

    if not isinstance(frame, dd.DataFrame):
        raise DataError(f"from_frame needs a dask DataFrame; got {type(frame).__name__} (an "
                        "in-memory frame: Dataset.from_frame, or dask.dataframe.from_pandas)")
    return _from_frame(frame, name, target, features, weights, family, intercept, name)


def _from_frame(frame, where, target, features, weights, family, intercept, name):
    """A :class:`DaskDataset` from the columns of a dask DataFrame (:func:`from_frame`;
    ``where`` prefixes the error messages). The columns are found by their labels as the frame
    has them (integers too, as in memory); the names they give are text."""
    columns = list(frame.columns)
    if not columns:
        raise DataError(f"{where}: no data (no file matches, or the files have no columns)")
    try:
        features = column_roles(columns, target, features, weights)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    if weights is not None and frame[weights].dtype.kind not in "biuf":
        raise DataError(f"{where}: the weights column {weights!r} must be numeric; it holds "
                        f"{frame[weights].dtype} values")
    # which features are factors, decided as in memory on the frame's empty meta (no pass)
    import pandas as pd

    factors, categorical = [], []
    for col in features:
        if frame[col].dtype.kind == "c":  # numeric to pandas: floats would drop the imaginary
            raise DataError(f"{where}: column {col!r} must be numeric; it holds "
                            f"{frame[col].dtype} values")
        try:
            encoded = _encoded(frame._meta, [col])[col]
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None
        if isinstance(encoded, _Factor):
            factors.append(col)
            if isinstance(frame[col].dtype, pd.CategoricalDtype):
                categorical.append(col)
    # The partitions as delayed pandas frames; one pass counts their rows and missing values
    # and gathers the factors' levels, and each column's array is assembled from them with
    # known row chunks. (to_dask_array(lengths=...) is not used: in dask 2026.8.0 the optimiser
    # may merge the partitions of a column it projects, and the array then refers to
    # partitions that no longer exist: "Missing dependency".)
    import dask
    import dask.array as da

    used = [target] + features + ([weights] if weights is not None else [])
    parts = frame[list(dict.fromkeys(used))].to_delayed()
    try:
        summaries = dask.compute(*[dask.delayed(_partition_summary)(part, used, features,
                                                                    categorical)
                                   for part in parts])
    except (ValueError, TypeError) as exc:  # e.g. a CSV column that stops parsing as numbers
        raise DataError(f"{where}: cannot read the data: {_first_line(exc)}") from None
    lengths = [rows for rows, _, _, _ in summaries]
    missing = np.sum([counts for _, counts, _, _ in summaries], axis=0)
    for col, count in zip(used, missing):  # the in-memory order: target, features, weights
        if count:
            raise DataError(f"{where}: column {col!r} has "
                            f"{counted(int(count), 'missing value')}; drop or fill them")
    present = [s[2] for s in summaries]
    levels = _global_levels(factors, categorical, present, [s[3] for s in summaries])
    spec = tuple((col, levels.get(col)) for col in features)
    names = _design_names(spec, intercept)
    # sparse or dense once for every chunk, by the in-memory rule on the whole design (the
    # one Dataset.from_frame applies to the same rows), from the summary pass's counts
    n = int(sum(lengths))
    sparse = _sparse_pays(n, len(names) + bool(intercept),
                          _design_nonzeros(spec, intercept, n, present) + n * bool(intercept))

    def column(name, dtype):
        return da.concatenate([
            da.from_delayed(dask.delayed(_frame_values)(part, name, dtype), (rows,),
                            dtype=dtype) for part, rows in zip(parts, lengths)])

    kind = frame[target].dtype.kind
    # the design, encoded partition by partition in every pass that reads it (as the files are
    # read again; DaskDataset.persist keeps the encoded chunks instead); a sparse design's
    # chunks are CSR arrays, and no dense block of it is ever formed
    meta = {"meta": _SPARSE_META} if sparse else {}
    X = da.concatenate([
        da.from_delayed(dask.delayed(_design_block)(part, spec, intercept, sparse),
                        (rows, len(names)), dtype=np.float64, **meta)
        for part, rows in zip(parts, lengths)])
    y = column(target, {"f": np.float64, "b": np.bool_}.get(kind, np.int64)
               if kind in "biuf" else object)
    w = None if weights is None else column(weights, np.float64)
    try:
        return from_dask(X, y, weights=w, feature_names=names, intercept=intercept,
                         family=family, name=name if name is not None else _stem(where))
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None


def _encoded(part, columns) -> dict:
    """The feature ``columns`` of a pandas frame (a partition, or the frame's empty meta) as
    :meth:`Dataset.from_frame` encodes them: ``{column: float array of shape (rows,), or
    _Factor of its values and its levels in this frame}``. The one call into the in-memory
    encoding (:func:`dualmaxent.data._read_column`, :func:`~dualmaxent.data._frame_column`):
    which columns are factors and how their levels are ordered are its own rules. The frame
    has no missing values (:func:`_partition_summary` counted them first)."""
    frame = _as_frame(part)
    return {col: _frame_column(*_read_column(frame, col, "X")) for col in columns}


def _partition_summary(part, used, features, categorical):
    """One partition's ``(rows, missing values per column of used (ndarray of shape
    (len(used),)), counts, {categorical: its category list})``; ``counts`` maps a factor to
    ``{level: rows at it here}`` (its levels in this partition) and a numeric feature to its
    nonzero entries (the counts from which :func:`_design_nonzeros` sizes the design), and is
    empty when something is missing (the caller then stops with the count)."""
    counts = part[used].isna().sum().to_numpy()
    present = {}
    if not counts.any():
        for col, values in _encoded(part, features).items():
            if isinstance(values, _Factor):
                at = np.bincount(values.codes(), minlength=len(values.levels))
                present[col] = dict(zip(values.levels, at.tolist()))
            else:
                present[col] = int(np.count_nonzero(values))
    order = {col: tuple(part[col].cat.categories) for col in categorical}
    return len(part), counts, present, order


def _global_levels(factors, categorical, present, order) -> dict:
    """``{factor: levels}`` over all partitions, sorted as in memory: a categorical's in the
    order of its categories (first appearance over the partitions' lists), the others by
    :func:`~dualmaxent.families._sorted_labels` (text sorted; bool ``False, True``)."""
    levels = {}
    for col in factors:
        seen = dict.fromkeys(v for p in present for v in p[col])
        if col in categorical:
            cats = dict.fromkeys(c for o in order for c in o[col])
            levels[col] = tuple(c for c in cats if c in seen)
        else:
            levels[col] = _sorted_labels(list(seen))
    return levels


def _design_names(spec, intercept) -> list:
    """The feature names :func:`dualmaxent.data._design` gives the columns of ``spec``
    (``(column, levels or None)`` pairs), from an empty design."""
    empty = [(col, np.empty(0) if levels is None else _Factor(np.empty(0, dtype=object), levels))
             for col, levels in spec]
    return list(_design(empty, intercept, 0)[1])


def _design_nonzeros(spec, intercept, n, present) -> int:
    """The nonzero entries of the design of ``spec`` over all ``n`` rows, its intercept's
    not counted (the count :func:`dualmaxent.data._design` makes from the level codes), from
    the partitions' counts ``present`` (:func:`_partition_summary`).

    A numeric column contributes its nonzeros; a factor every row but those at the levels it
    drops, which are the first ``len(levels) - width`` of its levels, ``width`` being the
    number of columns ``_design`` gives it after the columns before it (read off the names of
    the designs of ``spec``'s prefixes, so which levels are dropped stays ``_design``'s rule).
    """
    total, before = 0, 0
    for i, (col, levels) in enumerate(spec):
        width = len(_design_names(spec[:i + 1], intercept)) - before
        before += width
        if levels is None:
            total += sum(p[col] for p in present)
        else:
            dropped = levels[:len(levels) - width]
            total += n - sum(p[col].get(level, 0) for p in present for level in dropped)
    return total


#: The chunk type of a sparse design (``meta`` of its dask array): what
#: :func:`dualmaxent.data._design` and :func:`dualmaxent.design.as_sparse` build.
_SPARSE_META = scipy.sparse.csr_array((0, 0))


def _design_block(part, spec, intercept, sparse: bool):
    """``X`` (rows, p) of one partition, the factors encoded against the global levels of
    ``spec`` (:func:`dualmaxent.data._design`, the in-memory rule, on each partition): a
    canonical CSR array when ``sparse`` (the decision made once for the whole design), else a
    dense float64 array."""
    encoded = _encoded(part, [col for col, _ in spec])
    columns = [(col, encoded[col] if levels is None else replace(encoded[col], levels=levels))
               for col, levels in spec]
    X = _design(columns, intercept, len(part), sparse=sparse)[0]
    if sparse:
        return X if design.is_canonical(X) else design.as_sparse(X)
    return np.asarray(X, dtype=np.float64)


def _frame_values(part, name, dtype):
    """The column ``name`` of one pandas partition, an ndarray of shape (rows,)."""
    return part[name].to_numpy(dtype=dtype)


def _missing(v) -> bool:
    """None, NaN, NaT or pandas' NA (whose comparisons are neither true nor false)."""
    if v is None:
        return True
    try:
        return bool(v != v)
    except TypeError:
        return True


def _dask_array(a, what):
    import dask.array as da

    try:
        return a if isinstance(a, da.Array) else da.asarray(np.asarray(a))
    except (TypeError, ValueError):
        raise DataError(f"{what} must be an array") from None


def _known_rows(a):
    """``a`` with its row chunks' sizes known (a boolean selection leaves them unknown, NaN:
    computed, as for ``X``, so that its length can be compared with ``X``'s)."""
    if a.ndim and any(np.isnan(c) for c in a.chunks[0]):
        a = a.compute_chunk_sizes()
    return a


def _first_line(exc) -> str:
    """The first line of the innermost cause (dask wraps the reader's own error)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _block_labels(yb) -> list:
    """The distinct values of one chunk of the response, in order of appearance."""
    return list(dict.fromkeys(np.asarray(yb).tolist()))


def _union(a: list, b: list) -> list:
    return list(dict.fromkeys(a + b))


def _encode_error(yb, fam) -> str:
    """The family's own complaint about one chunk of a real response ('' when none)."""
    try:
        fam.encode(np.asarray(yb))
    except DataError as exc:
        return str(exc)
    return ""


def _validate(X, y, w, names, fam) -> tuple:
    """One pass over the data: non-finite features per column, the labels (or the family's
    check of a real response, chunk by chunk), the weights. Returns the sorted classes."""
    import dask
    import dask.array as da

    def one(a):  # a reduction (a single chunk) as a delayed value
        return a.to_delayed().ravel()[0]

    # everything as delayed values: dask 2026.8.0's compute returns a mix of arrays and
    # delayed values in the wrong order (the arrays' results first)
    # X's chunk by chunk, dense or sparse, summed by the engine's tree
    checks = {"x_bad": _tree([dask.delayed(_nonfinite_columns)(b)
                              for b in X.to_delayed().ravel()], dask.delayed(add))}
    chunks = y.to_delayed().ravel()
    if fam.is_probability:
        labels = [dask.delayed(_block_labels)(b) for b in chunks]
        checks["labels"] = _tree(labels, dask.delayed(_union))
    else:
        checks["y_errors"] = [dask.delayed(_encode_error)(b, fam) for b in chunks]
        if y.dtype.kind in "biuf":
            checks["y_bad"] = one((~da.isfinite(y)).sum())
    if w is not None:
        checks.update(w_bad=one((~da.isfinite(w)).sum()), w_neg=one((w < 0).sum()),
                      w_sum=one(w.sum()))
    try:
        got = dask.compute(checks)[0]
    except (ValueError, TypeError) as exc:  # e.g. a CSV column that stops parsing as numbers
        raise DataError(f"cannot read the data: {_first_line(exc)}") from None
    bad = np.asarray(got["x_bad"])
    if bad.any():
        col = int(np.nonzero(bad)[0][0])
        raise DataError(f"X must be finite; found "
                        f"{counted(int(bad.sum()), 'NaN or infinite value')}, "
                        f"{int(bad[col])} in column {names[col]!r}")
    if got.get("y_bad"):
        raise DataError(f"the target must be finite; found {int(got['y_bad'])} NaN or infinite "
                        "values")
    errors = [(i, e) for i, e in enumerate(got.get("y_errors", [])) if e]
    if errors:
        raise DataError(f"{errors[0][1]} (row chunk {errors[0][0] + 1} of {len(chunks)})")
    if w is not None:
        if got["w_bad"]:
            raise DataError(f"weights must be finite; found {int(got['w_bad'])} NaN or infinite")
        if got["w_neg"]:
            raise DataError(f"weights must be >= 0; found {int(got['w_neg'])} negative")
        if not got["w_sum"] > 0:
            raise DataError("weights must not all be zero")
    if not fam.is_probability:
        return ()
    labels = got["labels"]
    if any(_missing(v) for v in labels):
        raise DataError("the target has missing values")
    # the family's own checks and sorting (two classes for Bernoulli, at least two otherwise)
    return tuple(fam.encode(np.array(labels, dtype=object))[1])


def _encode_block(yb, fam, classes):
    """One chunk of ``Y``, encoded against the global classes (so that a chunk lacking a class
    is encoded against all of them), vectorised (:meth:`Family.encode_against`)."""
    return fam.encode_against(yb, classes)


def _finish_block(Xb, intercept: bool):
    """One chunk of ``X`` as the kernels take it: a sparse chunk in canonical CSR form
    (:func:`dualmaxent.design.as_sparse`, only when it is not already), and with the
    intercept's column of ones appended when ``intercept`` (sparse when the chunk is:
    :func:`dualmaxent.design.with_intercept`)."""
    if design.is_sparse(Xb) and not design.is_canonical(Xb):
        Xb = design.as_sparse(Xb)
    return design.with_intercept(Xb) if intercept else Xb


def _nonfinite_columns(Xb) -> np.ndarray:
    """The NaN and infinite entries of each column of one chunk of ``X``, shape (p,): for a
    sparse chunk from its stored entries (``da.isfinite`` has no sparse form)."""
    if design.is_sparse(Xb):
        Xb = Xb.tocsr()
        return np.bincount(Xb.indices[~np.isfinite(Xb.data)], minlength=Xb.shape[1])
    return np.count_nonzero(~np.isfinite(Xb), axis=0)


# -- the dual ---------------------------------------------------------------------------------

def _engine_for(dataset, engine, client):
    if engine is not None:
        return engine
    if isinstance(dataset, Dataset):
        return NumpyEngine.from_dataset(dataset)
    return dataset.engine(client)


def solve_dual_dask(dataset, penalty: Penalty | None = None, tol: float | None = None,
                    max_iter: int = 100, client=None, l2: float | None = None,
                    engine=None, method: str = "auto", l1: float | None = None,
                    l1_ratio: float | None = None) -> DualResult:
    """Maximise the log-likelihood with the in-memory solvers, their passes run on the chunks.

    The iteration is that of :func:`dualmaxent.solve_dual` (the same loop, line search, Newton
    step and stopping rule of :mod:`dualmaxent.solvers`, on an
    :class:`~dualmaxent.engine.EngineObjective`). What differs is the pass: each one maps the
    kernels over the chunks and sums the results; the full step's Hessian (the next iterate's)
    comes with its value, and a failed full step is followed by one pass for the next five step
    lengths (:attr:`~dualmaxent.engine.EngineObjective.line_batch`). Newton starts
    from a fit on a sample gathered into memory (:func:`dualmaxent.solvers.subsample_start`:
    about 1000 rows per parameter, one pass) with that sample's Hessian scaled up, and forms
    its Hessians in float32 when the sample's design is well conditioned; the gradients and the
    stopping test stay float64 on every row.

    Parameters
    ----------
    dataset : DaskDataset or Dataset
        A :class:`Dataset` runs the same iteration in memory (a :class:`NumpyEngine`).
    penalty : Penalty, optional
        None, L2, L1 or the elastic net (``l2=``, ``l1=`` and ``l1_ratio=`` are shortcuts, as
        for :func:`dualmaxent.solve_dual`). With an L1 part Newton is the in-memory proximal
        Newton method (:class:`dualmaxent.solvers._ProxNewtonStep`): its model needs only the
        value, gradient and Hessian passes the engine already makes.
    tol : float, optional
        Target relative dual gradient (for an L1 part the relative KKT residual, the minimal-norm
        subgradient's); ``DEFAULT_TOLS["newton"]`` (1e-10) by default.
    max_iter : int, default 100
    client : distributed.Client, optional
    engine : NumpyEngine or DaskEngine, optional
        Overrides the engine built from ``dataset`` and ``client``.
    method : {"auto", "newton", "newton-cg"}, default "auto"
        ``newton-cg`` solves each Newton system by conjugate gradients on curvature-vector
        products (one pass over the chunks each) and never forms the Hessian; ``auto`` picks it
        by the in-memory rule (:func:`dualmaxent.dual.choose_method`: many classes, no L1
        part), else ``newton``.

    Returns
    -------
    DualResult
        ``method`` is ``"newton"`` or ``"newton-cg"``; ``status`` is ``Status.CONVERGED``,
        ``MAX_ITER``, ``STALLED`` or ``DIVERGED`` (the message starts with
        :data:`DIVERGED_MESSAGE`: the separation LP does not run at this scale, so a maximiser
        is not proved to exist). ``attained`` is True when the projected point proved the
        maximiser to exist, else None (the point itself is not kept).

    Raises
    ------
    DualMaxentError
        For a bad ``tol``, a method that does not run on Dask, or one that does not handle the
        penalty (Newton-CG and an L1 part).
    """
    penalty = make_penalty(l2=l2, l1=l1, penalty=penalty, l1_ratio=l1_ratio)
    tol = checked_tol(DEFAULT_TOLS["newton"] if tol is None else tol)
    if method not in ("auto", "newton", "newton-cg"):
        raise DualMaxentError(f"method {method!r} does not run on Dask; use newton or newton-cg")
    t0 = time.perf_counter()
    obj = EngineObjective(dataset, _engine_for(dataset, engine, client), penalty)
    if method == "auto":
        method = "newton-cg" if choose_method(obj) == "newton-cg" else "newton"
    solver = SOLVERS[method]
    problem = solver.unsupported(obj.family, penalty)
    if problem:
        raise DualMaxentError(problem)
    hist = History(t0)
    beta0 = obj.start()
    if solver.warm_start:
        beta0 = subsample_start(obj, beta0, solver)
    beta, status, message = solver.run(obj, beta0, tol, max_iter, hist)
    if status is Status.DIVERGED:
        warnings.warn(message, SeparationWarning, stacklevel=user_stacklevel())
    attained = None
    runoff = intercept_runoff(dataset) if penalty.active else None
    if runoff is not None:  # the penalty does not reach the intercept (as in memory)
        attained = False
        status, message = not_attained(dataset, obj, beta, tol, max_iter, _Runoff(runoff))
    if status is Status.CONVERGED and not penalty.active and obj.family.can_separate:
        # the projected point proves the maximiser exists when it lies strictly inside the
        # domain (one pass: the residual and a curvature come from the solver's last passes);
        # there is no separation LP at this scale, so an inconclusive point proves nothing
        theta = obj.theta(beta)
        projected = project_primal(dataset, theta, penalty, keep_mu=False, engine=obj.engine,
                                   first_pass=obj.last_pass(theta))
        attained = True if projected.proves_attained else None
    return _dual_result(dataset, obj, beta, status, message, method, hist,
                        time.perf_counter() - t0, attained)


# -- the certificate --------------------------------------------------------------------------

def project_primal_dask(dataset, theta, penalty: Penalty | None = None, client=None,
                        engine=None) -> ProjectedPrimal:
    """The projected feasible point and its bracket of the optimum, in two passes over the
    chunks (:func:`dualmaxent.projected.project_primal` with an engine; ``mu`` is None)."""
    return project_primal(dataset, theta, penalty, keep_mu=False,
                          engine=_engine_for(dataset, engine, client))


# -- the cluster ------------------------------------------------------------------------------

@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None,
                processes: bool = True):
    """A ``distributed.Client``: connected to ``scheduler``, or on a new ``LocalCluster``.

    Parameters
    ----------
    scheduler : str, optional
        The address of a running scheduler (``tcp://host:8786``); the cluster is theirs and is
        left running.
    workers : int, optional
        Workers of the local cluster, one thread each (BLAS runs one thread per kernel call;
        :mod:`dualmaxent._kernels`); ``os.cpu_count()`` by default, each with an equal share
        of the machine's memory.
    processes : bool, default True
        Workers as processes (False: threads of this process, for tests).

    Yields
    ------
    distributed.Client
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    import dask

    n = int(workers) if workers else (os.cpu_count() or 1)
    # distributed starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which also fixes glibc's
    # mmap threshold, so every block temporary of the kernels (about 0.5 MB) is a fresh mmap
    # with its page faults: a Hessian pass of 125 000 x 51 rows took 0.13 to 0.29 s in such a
    # worker against 0.05 to 0.13 s without the variable (this machine, 2 workers, loaded).
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                               dashboard_address=None)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
