"""Frames on Dask are encoded as in memory, and L1 and the elastic net run on the engine.

The reference of every test is the in-memory pipeline computed here: :meth:`Dataset.from_frame`
on the same rows, :func:`dualmaxent.solve_dual` and :func:`dualmaxent.certify`. The Dask side
reads a folder of Parquet files (or CSV files) written by pandas, one partition per file, on the
synchronous scheduler.

Tolerances. The design must be *equal*: indicator columns are exact zeros and ones, numeric
columns are copied. theta must agree to 1e-8 relative to its size, the target of issue 22 (both
solves run the same iterations from the same start; only the order of the chunks' sums differs,
so round-off is all that separates them). The objective values are compared through the
checker's bracket: each certified value lies within its own duality gap and round-off budget
of the optimum, so the two differ by at most the sum of both.
"""

from __future__ import annotations

import json

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from dualmaxent import Dataset, certify, design, solve_dual
from dualmaxent.dual import DEFAULT_TOLS
from dualmaxent.distributed import from_frame, read_csv, read_parquet, solve_dual_dask
from dualmaxent.exceptions import DataError, DualMaxentError
from dualmaxent.params import make_penalty
from dualmaxent.verify import verify_dask

#: theta on Dask against theta in memory, relative to 1 + max |theta| (issue 22's target)
THETA_RTOL = 1e-8

#: the penalties of the comparison, as ``make_penalty`` keywords; the L1 strength leaves some
#: penalised entries at exactly zero and others not (asserted below, so the case means something)
PENALTIES = {"none": {}, "l1": {"l1": 2.0}, "elasticnet": {"l1": 2.0, "l1_ratio": 0.5}}

#: the declared categories of ``kind``: not sorted, and "none" never occurs
KIND_CATEGORIES = ["mid", "lo", "none", "hi"]

#: rows per file; the level "d" of ``site`` occurs only in the last file
ROWS_PER_FILE = 120


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def _frame(n: int = 3 * ROWS_PER_FILE, seed: int = 3) -> pd.DataFrame:
    """Two numeric columns, a text column ``site`` (its level "d" only in the last
    ``ROWS_PER_FILE`` rows), a categorical ``kind`` (unsorted categories, one unused), a bool
    ``flag`` and a three-class text target drawn from a softmax model of some of them."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    site = rng.choice(["b", "a", "c"], n)
    site[n - ROWS_PER_FILE + 10:n - ROWS_PER_FILE + 25] = "d"
    kind = pd.Categorical(rng.choice(["lo", "hi", "mid"], n), categories=KIND_CATEGORIES)
    flag = rng.random(n) < 0.4
    eta = np.c_[1.2 * x1 + (site == "c"), -0.8 * x1 + 0.5 * (kind == "hi"), np.zeros(n)]
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = np.array(["no", "yes", "maybe"])[[rng.choice(3, p=p) for p in P]]
    return pd.DataFrame({"x1": x1, "x2": x2, "site": site, "kind": kind, "flag": flag, "y": y})


def _write_parquet(df: pd.DataFrame, folder) -> str:
    """One Parquet file per ``ROWS_PER_FILE`` rows (pandas' writer); the glob of the files."""
    folder.mkdir()
    for i, start in enumerate(range(0, len(df), ROWS_PER_FILE)):
        df.iloc[start:start + ROWS_PER_FILE].to_parquet(folder / f"part-{i}.parquet")
    return str(folder / "part-*.parquet")


def _theta_close(got, ref):
    got, ref = np.asarray(got), np.asarray(ref)
    err = float(np.abs(got - ref).max())
    assert err <= THETA_RTOL * (1.0 + float(np.abs(ref).max())), err


def _values_close(cert_a, cert_b):
    """The certified objective values agree within both brackets (module docstring)."""
    budget = sum(abs(c.duality_gap) + c.roundoff for c in (cert_a, cert_b))
    assert abs(cert_a.upper_bound - cert_b.upper_bound) <= budget
    assert abs(cert_a.lower_bound - cert_b.lower_bound) <= budget


def test_text_categorical_and_bool_columns_get_the_in_memory_names_levels_and_design(tmp_path):
    df = _frame()
    got = read_parquet(_write_parquet(df, tmp_path / "data"), target="y")
    ref = Dataset.from_frame(df, target="y")
    assert got.n_chunks == 3
    assert got.feature_names == ref.feature_names
    assert got.classes == ref.classes
    # the rule itself: text sorted, the categories that occur in their declared order, bool
    # False/True; the first level of each is the reference (there is an intercept)
    assert [f for f in got.feature_names if f.startswith("site[")] == \
        ["site[b]", "site[c]", "site[d]"]
    assert [f for f in got.feature_names if f.startswith("kind[")] == ["kind[lo]", "kind[hi]"]
    assert "flag[True]" in got.feature_names
    mem = got.to_dataset()
    np.testing.assert_array_equal(mem.X, ref.X)
    np.testing.assert_array_equal(mem.Y, ref.Y)
    # "d" occurs in the last partition only: the others still have its (zero) column
    d = got.feature_names.index("site[d]")
    first = got.X.blocks[0].compute()
    assert first.shape[1] == ref.m and not first[:, d].any()
    assert got.X.blocks[2].compute()[:, d].sum() == (df["site"] == "d").sum()


def test_a_dask_frame_with_known_categories_and_without_an_intercept():
    # dd.from_pandas keeps the categories known; without an intercept the first factor keeps
    # its first level (patsy's rule), the later ones drop theirs
    df = _frame()
    got = from_frame(dd.from_pandas(df, npartitions=4), target="y", intercept=False)
    ref = Dataset.from_frame(df, target="y", intercept=False)
    assert got.feature_names == ref.feature_names and "site[a]" in got.feature_names
    np.testing.assert_array_equal(got.to_dataset().X, ref.X)


@pytest.mark.parametrize("case", PENALTIES)
def test_parquet_folder_solves_and_certifies_as_in_memory(tmp_path, case):
    df = _frame()
    penalty = make_penalty(**PENALTIES[case])
    got = read_parquet(_write_parquet(df, tmp_path / "data"), target="y")
    ds = Dataset.from_frame(df, target="y")
    ref = solve_dual(ds, method="newton", penalty=penalty)
    engine = got.engine()
    res = solve_dual_dask(got, penalty=penalty, engine=engine)
    assert res.converged and ref.converged and res.penalty == penalty
    # the proximal Newton step's Hessian comes with the full step's value (these steps are all
    # full): one pass per iteration, besides the first pass's moments and the start's value and
    # Hessian, and one more wherever quadratic convergence predicted the last iteration
    # (rel^2 <= tol, no Hessian formed) and was wrong
    if penalty.has_l1:
        rel = res.history["kkt_residual"]
        wrong = int(np.sum((rel[:-1] ** 2 <= DEFAULT_TOLS["newton"])
                           & (rel[1:] > DEFAULT_TOLS["newton"])))
        assert engine.passes == res.iterations + 2 + wrong
    _theta_close(res.theta, ref.theta)
    if case == "l1":
        penalised = np.asarray(ref.theta)[:-1]  # every row but the intercept's
        assert (penalised == 0).any() and (penalised != 0).any()
        np.testing.assert_array_equal(np.asarray(res.theta) == 0, np.asarray(ref.theta) == 0)
    # the certificate through the engine, against the in-memory checker at its own theta
    cert = verify_dask(got, penalty=penalty)
    mem = certify(ds, ref.theta, penalty=penalty)
    assert cert.ok and mem.ok and cert.penalty == penalty
    _theta_close(cert.theta, ref.theta)
    _values_close(cert, mem)


def test_csv_files_with_a_text_column_solve_as_in_memory(tmp_path):
    df = _frame().drop(columns="kind")  # CSV has no categorical type: text, sorted
    for i, start in enumerate(range(0, len(df), ROWS_PER_FILE)):
        df.iloc[start:start + ROWS_PER_FILE].to_csv(tmp_path / f"part-{i}.csv", index=False)
    got = read_csv(str(tmp_path / "part-*.csv"), target="y")
    # in memory: the same files read by pandas
    ds = Dataset.from_frame(pd.concat([pd.read_csv(tmp_path / f"part-{i}.csv")
                                       for i in range(3)], ignore_index=True), target="y")
    assert got.n_chunks == 3 and got.feature_names == ds.feature_names
    assert "site[d]" in got.feature_names
    np.testing.assert_array_equal(got.to_dataset().X, ds.X)
    penalty = make_penalty(**PENALTIES["elasticnet"])
    _theta_close(solve_dual_dask(got, penalty=penalty).theta,
                 solve_dual(ds, method="newton", penalty=penalty).theta)


@pytest.mark.parametrize("column, rows", [
    ("site", [5, 130, 250]),  # text, in every partition
    ("kind", [200]),  # categorical
    ("x2", [7, 300]),  # numeric: NaN
    ("y", [11]),  # the target
])
def test_missing_values_give_the_in_memory_one_line_error(tmp_path, column, rows):
    df = _frame()
    df.loc[rows, column] = None
    with pytest.raises(DataError) as memory:
        Dataset.from_frame(df, target="y")
    glob = _write_parquet(df, tmp_path / "data")
    with pytest.raises(DataError) as info:
        read_parquet(glob, target="y")
    assert str(info.value) == f"{glob}: {memory.value}"
    noun = "missing value" if len(rows) == 1 else "missing values"
    assert f"{len(rows)} {noun}" in str(info.value) and "\n" not in str(info.value)


def test_a_column_neither_numeric_nor_categorical_gives_the_in_memory_error(tmp_path):
    df = _frame().assign(when=pd.date_range("2020-01-01", periods=3 * ROWS_PER_FILE, freq="h"))
    glob = _write_parquet(df, tmp_path / "data")
    with pytest.raises(DataError) as memory:
        Dataset.from_frame(pd.read_parquet(tmp_path / "data"), target="y")
    with pytest.raises(DataError) as info:
        read_parquet(glob, target="y")
    assert str(info.value) == f"{glob}: {memory.value}"
    assert "neither numeric nor categorical" in str(info.value)


def test_newton_cg_refuses_an_l1_part_on_dask(tmp_path):
    got = read_parquet(_write_parquet(_frame(), tmp_path / "data"), target="y")
    with pytest.raises(DualMaxentError, match="does not handle the L1 penalty; use 'newton'"):
        solve_dual_dask(got, l1=1.0, method="newton-cg")


def test_cli_engine_dask_elastic_net_on_a_folder_with_a_text_column(tmp_path, capsys):
    from dualmaxent.cli import main

    df = _frame()
    glob = _write_parquet(df, tmp_path / "data")
    code = main(["verify", glob, "--target", "y", "--engine", "dask", "--workers", "1",
                 "--l1", "2", "--l1-ratio", "0.5", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["certificate"]["ok"]
    assert doc["dataset"]["penalty"] == make_penalty(l1=2.0, l1_ratio=0.5).as_dict()
    ds = Dataset.from_frame(df, target="y")
    assert doc["dataset"]["feature_names"] == list(ds.feature_names)
    ref = solve_dual(ds, method="newton", l1=2.0, l1_ratio=0.5)
    _theta_close(doc["theta"]["values"], ref.theta)


# -- a many-level column: sparse chunks ---------------------------------------------------------

#: levels of the many-level text column ``shop`` and rows per file of its frame (four files):
#: 2000 rows by 42 columns, 3.3 nonzero entries a row (density 0.08), which the in-memory rule
#: stores sparse once its size threshold is lowered below the design's 84 000 entries; 50 rows
#: a level and mild effects, so that every level has every class (at least 5 rows: no
#: separation)
SHOP_LEVELS, SHOP_ROWS_PER_FILE = 40, 500


def _shop_frame(seed: int = 5) -> pd.DataFrame:
    """A numeric column ``x1`` (a tenth of it exact zeros: they are no entries of a CSR
    design), the many-level text column ``shop``, a bool ``flag`` and a three-class target."""
    n = 4 * SHOP_ROWS_PER_FILE
    rng = np.random.default_rng(seed)
    x1 = np.where(rng.random(n) < 0.1, 0.0, rng.normal(size=n))
    code = rng.integers(0, SHOP_LEVELS, n)
    flag = rng.random(n) < 0.4
    effect = rng.normal(0.0, 0.3, (SHOP_LEVELS, 2))
    eta = np.c_[0.5 * x1 + effect[code, 0], -0.5 * x1 + effect[code, 1] + 0.5 * flag,
                np.zeros(n)]
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = np.array(["no", "yes", "maybe"])[[rng.choice(3, p=p) for p in P]]
    return pd.DataFrame({"x1": x1, "shop": [f"s{c:02d}" for c in code], "flag": flag, "y": y})


def _write_files(df, folder, kind="parquet") -> str:
    """Four files of ``SHOP_ROWS_PER_FILE`` rows; their glob."""
    folder.mkdir()
    for i, start in enumerate(range(0, len(df), SHOP_ROWS_PER_FILE)):
        part = df.iloc[start:start + SHOP_ROWS_PER_FILE]
        if kind == "parquet":
            part.to_parquet(folder / f"part-{i}.parquet")
        else:
            part.to_csv(folder / f"part-{i}.csv", index=False)
    return str(folder / f"part-*.{kind}")


@pytest.fixture
def small_sparse_threshold(monkeypatch):
    """The in-memory rule's size threshold lowered under the shop frame's design (the density
    threshold is the rule's own): the same constant serves memory and Dask."""
    import dualmaxent.data

    monkeypatch.setattr(dualmaxent.data, "SPARSE_MIN_ENTRIES", 1000)


def _chunks(got) -> list:
    return list(dask.compute(*got.X.to_delayed().ravel()))


def _spy_blocks(monkeypatch, m: int) -> list:
    """Record the type of every block of ``X`` the engine hands to a block function, and fail
    on any sparse array of the design's width ``m`` densified with more rows than that: a
    block of ``X`` (the Gram matrices the kernels densify are (m, m); a column, such as the
    intercept's the checker reads, is no block)."""
    import scipy.sparse as sp

    import dualmaxent.engine

    seen, apply = [], dualmaxent.engine._apply

    def spy(fn, Xb, Yb, wb, args):
        seen.append(type(Xb))
        return apply(fn, Xb, Yb, wb, args)

    monkeypatch.setattr(dualmaxent.engine, "_apply", spy)
    for cls in {c for t in (sp.csr_array, sp.csc_array, sp.coo_array) for c in t.__mro__
                if "toarray" in vars(c)}:
        def toarray(self, *args, _dense=vars(cls)["toarray"], **kwargs):
            assert not (self.shape[1] == m < self.shape[0]), f"a dense {self.shape} block of X"
            return _dense(self, *args, **kwargs)
        monkeypatch.setattr(cls, "toarray", toarray)
    return seen


@pytest.mark.parametrize("intercept", [True, False])
def test_the_sparse_rule_decides_as_in_memory_from_the_summary_counts(
        tmp_path, monkeypatch, intercept):
    # the Dask reader counts the design's nonzeros from the summary pass (no pass builds it):
    # the density threshold set exactly at the in-memory design's density gives sparse, half an
    # entry below it dense, in memory and on Dask alike; so the count is exact, with and without
    # the intercept (whose presence decides which levels are dropped)
    import dualmaxent.data

    df = _shop_frame()
    glob = _write_files(df, tmp_path / "data")
    monkeypatch.setattr(dualmaxent.data, "SPARSE_MIN_ENTRIES", 1000)
    ref = Dataset.from_frame(df, target="y", intercept=intercept)
    assert design.is_sparse(ref.X)
    n, m, nnz = ref.n, ref.m, ref.X.nnz
    for density, sparse in ((nnz / (n * m) * (1 + 1e-12), True), ((nnz - 0.5) / (n * m), False)):
        monkeypatch.setattr(dualmaxent.data, "SPARSE_MAX_DENSITY", density)
        mem = Dataset.from_frame(df, target="y", intercept=intercept)
        got = read_parquet(glob, target="y", intercept=intercept)
        assert design.is_sparse(mem.X) is sparse
        assert {design.is_sparse(b) for b in _chunks(got)} == {sparse}
        gathered = got.to_dataset().X
        np.testing.assert_array_equal(gathered.toarray() if sparse else gathered,
                                      mem.X.toarray() if sparse else mem.X)


@pytest.mark.parametrize("case", ["none", "l2", "l1"])
def test_a_many_level_column_stays_sparse_on_dask_and_solves_as_in_memory(
        tmp_path, monkeypatch, small_sparse_threshold, case):
    import scipy.sparse as sp
    from scipy.special import logsumexp

    from dualmaxent.distributed import project_primal_dask

    df = _shop_frame()
    penalty = make_penalty(**{"none": {}, "l2": {"l2": 1.0}, "l1": {"l1": 2.0}}[case])
    got = read_parquet(_write_files(df, tmp_path / "data"), target="y")
    ds = Dataset.from_frame(df, target="y")
    # the rule's decision is the in-memory one, and every chunk (the intercept's ones included)
    # is a canonical CSR array
    assert design.is_sparse(ds.X) and got.n_chunks == 4
    chunks = _chunks(got)
    assert all(isinstance(b, sp.csr_array) and design.is_canonical(b)
               for b in chunks)
    assert sum(b.nnz for b in chunks) == ds.X.nnz
    ref = solve_dual(ds, method="newton", penalty=penalty)
    mem = certify(ds, ref.theta, penalty=penalty)
    # the encoded chunks kept (the passes then skip reading and encoding the files: 0.5 s for
    # the unpenalised solve's 40 passes here, 3 s without)
    got = got.persist()
    seen = _spy_blocks(monkeypatch, ds.m)
    res = solve_dual_dask(got, penalty=penalty)
    cert = verify_dask(got, penalty=penalty)
    proj = project_primal_dask(got, cert.theta, penalty)
    # every pass (the solve's, the checker's, the rank's) read sparse blocks, none densified
    assert seen and set(seen) == {sp.csr_array}
    assert res.converged and ref.converged
    _theta_close(res.theta, ref.theta)
    if case == "l1":
        penalised = np.asarray(ref.theta)[:-1]
        assert (penalised == 0).any() and (penalised != 0).any()
    assert cert.ok and mem.ok and cert.penalty == penalty
    _theta_close(cert.theta, ref.theta)
    _values_close(cert, mem)
    # the upper bound from its definition, -(l(theta) - penalty), at the certified theta
    theta = np.asarray(cert.theta)
    eta = ds.X @ theta
    rows = theta[:-1]  # the penalised rows: every one but the intercept's
    pen = {"none": 0.0, "l2": 0.5 * penalty.lam * float(np.sum(rows ** 2)),
           "l1": penalty.lam * float(np.abs(rows).sum())}[case]
    upper = -(float(((ds.Y * eta).sum(axis=1) - logsumexp(eta, axis=1)).sum()) - pen)
    for bound in (cert.upper_bound, proj.upper_bound):
        assert abs(bound - upper) <= 1e-10 * abs(upper)
    assert abs(proj.lower_bound - cert.lower_bound) <= 1e-10 * abs(upper)


def test_csv_files_with_a_many_level_column_read_sparse(tmp_path, small_sparse_threshold):
    import scipy.sparse as sp

    df = _shop_frame()
    got = read_csv(_write_files(df, tmp_path / "data", kind="csv"), target="y")
    # in memory: the same files read by pandas
    ds = Dataset.from_frame(pd.concat([pd.read_csv(tmp_path / "data" / f"part-{i}.csv")
                                       for i in range(4)], ignore_index=True), target="y")
    assert all(isinstance(b, sp.csr_array) for b in _chunks(got))
    assert got.feature_names == ds.feature_names
    np.testing.assert_array_equal(got.to_dataset().X.toarray(), ds.X.toarray())
    mem = got.every(7)  # the warm start's sample, gathered sparse
    assert isinstance(mem.X, sp.csr_array)
    np.testing.assert_array_equal(mem.X.toarray(), ds.X.toarray()[::7])


def test_a_non_finite_value_in_a_sparse_design_is_a_one_line_error(tmp_path,
                                                                   small_sparse_threshold):
    df = _shop_frame()
    df.loc[[3, 400], "x1"] = np.inf
    with pytest.raises(DataError) as info:
        read_parquet(_write_files(df, tmp_path / "data"), target="y")
    message = str(info.value)
    assert "X must be finite; found 2 NaN or infinite values, 2 in column 'x1'" in message
    assert "\n" not in message


def test_cli_engine_dask_l2_on_a_folder_with_a_many_level_column(tmp_path, capsys,
                                                                 small_sparse_threshold):
    # worker processes build the chunks: the decision travels with each chunk's task (the
    # threshold lowered here exists only in this process)
    from dualmaxent.cli import main

    df = _shop_frame()
    glob = _write_files(df, tmp_path / "data")
    code = main(["verify", glob, "--target", "y", "--engine", "dask", "--workers", "1",
                 "--l2", "1", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["certificate"]["ok"]
    ds = Dataset.from_frame(df, target="y")
    assert design.is_sparse(ds.X) and doc["dataset"]["feature_names"] == list(ds.feature_names)
    _theta_close(doc["theta"]["values"], solve_dual(ds, method="newton", l2=1.0).theta)


def test_a_filtered_dask_array_and_a_frame_of_integer_labels_build_as_in_memory():
    """A boolean filter leaves dask arrays with unknown chunk sizes and empty chunks: they are
    the filtered rows all the same (y's and the weights' sizes computed as X's, the empty
    chunks dropped); a frame's integer column labels are found as in memory; a pandas frame
    given to the dask reader is a one-line error."""
    import dask.array as da

    from dualmaxent.distributed import from_dask

    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(90, 2)), (rng.random(90) < 0.5).astype(int), rng.random(90) + 0.5
    keep_np = np.arange(90) < 60  # the last of three chunks loses every row
    keep = da.from_array(keep_np, chunks=30)
    ds = from_dask(da.from_array(X, chunks=(30, 2))[keep], da.from_array(y, chunks=30)[keep],
                   weights=da.from_array(w, chunks=30)[keep], family="bernoulli")
    assert ds.n == 60 and 0 not in ds.X.chunks[0]
    ref = Dataset.from_arrays(X[keep_np], y[keep_np], weights=w[keep_np], family="bernoulli")
    _theta_close(solve_dual_dask(ds).theta, solve_dual(ref).theta)
    _values_close(verify_dask(ds), certify(ref, solve_dual(ref).theta))
    df = pd.DataFrame({0: X[:, 0], 1: y})
    got = from_frame(dd.from_pandas(df, npartitions=2), 1, family="bernoulli")
    assert got.feature_names == Dataset.from_frame(df, 1, family="bernoulli").feature_names \
        == ("0", "intercept")
    with pytest.raises(DataError, match="from_frame needs a dask DataFrame; got DataFrame"):
        from_frame(df, 1)
