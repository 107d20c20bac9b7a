"""The pipeline on Dask equals the numpy pipeline, reads Parquet and CSV, rejects bad input, and
reports divergence on separated data.

Dask runs on the synchronous scheduler (the same graph, one thread) except in the tests that
start a ``LocalCluster`` of threads; several row chunks everywhere, including a ragged last one.
"""

from __future__ import annotations

import warnings

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp

from dualmaxent import Dataset, _kernels, solve_dual
from dualmaxent.distributed import (DIVERGED_MESSAGE, dask_client, from_dask, project_primal_dask,
                                    read_csv, read_parquet, solve_dual_dask)
from dualmaxent.engine import DaskEngine, NumpyEngine
from dualmaxent.exceptions import DataError, DualMaxentError, SeparationWarning
from dualmaxent.projected import project_primal
from dualmaxent.results import Penalty

from _factories import (FAMILIES, L2_LAMBDA, integer_weights, make_arrays, overlapping,
                        separable)

#: Dask and numpy run the same kernels on the same rows; only the order of the chunks' sums
#: differs, so they agree to round-off.
RTOL = 1e-10

#: Rows per chunk: the factories' 60 to 90 rows make 4 chunks with a short last one.
CHUNK = 25


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def _both(family, weights=False, n=None):
    """The factory's data in memory and on Dask (same rows, several chunks)."""
    X, y = make_arrays(family, n=n)
    w = integer_weights(len(y)) if weights else None
    ds = Dataset.from_arrays(X, y, family=family, weights=w)
    dd = from_dask(da.from_array(X, chunks=(CHUNK, X.shape[1])), da.from_array(y, chunks=CHUNK),
                   weights=None if w is None else da.from_array(w, chunks=CHUNK), family=family)
    return ds, dd


def _close(a, b, rtol=RTOL):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if np.array_equal(a, b):  # also the Gaussian family's infinite min_entry
        return
    scale = max(1.0, float(np.abs(b).max(initial=0.0)))
    assert np.abs(a - b).max(initial=0.0) <= rtol * scale, (a, b)


def _record_proofs(monkeypatch, target: str) -> list:
    """Wrap ``target`` (a ``project_primal`` a solver calls) so that the projected points it
    builds to prove attainment are recorded: the result itself keeps only ``attained``."""
    proofs = []

    def recording(*args, **kwargs):
        proofs.append(project_primal(*args, **kwargs))
        return proofs[-1]

    monkeypatch.setattr(target, recording)
    return proofs


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("case", ["plain", "weights", "l2"])
def test_dask_equals_numpy(family, case):
    ds, dd = _both(family, weights=case == "weights")
    assert dd.n_chunks > 1
    penalty = Penalty("l2", L2_LAMBDA[family]) if case == "l2" else Penalty()
    ref = solve_dual(ds, method="newton", penalty=penalty)
    got = solve_dual_dask(dd, penalty=penalty)
    assert got.converged and got.status == "converged"
    assert got.kkt_residual <= 1e-10
    _close(got.theta, ref.theta)
    _close(got.loglik, ref.loglik)
    _close(got.canonical_loglik, ref.canonical_loglik)
    _close(got.objective, ref.objective)
    # the certificate's two passes through the engine
    p_ref = project_primal(ds, ref.theta, penalty)
    p_got = project_primal_dask(dd, got.theta, penalty)
    assert p_got.mu is None
    for field in ("lower_bound", "upper_bound", "duality_gap"):
        _close(getattr(p_got, field), getattr(p_ref, field))
    _close(p_got.balance_residual, p_ref.balance_residual)
    _close(p_got.min_entry, p_ref.min_entry)
    assert p_got.in_domain and p_got.rank == p_ref.rank
    assert abs(p_got.duality_gap) <= 1e-9 * max(1.0, abs(p_got.upper_bound))


def test_one_pass_per_iteration_and_backtracking_as_numpy():
    # 3 passes besides the iterations: the moments, the Hessian at the start and the projected
    # point that proves attainment (its residual and curvature are the last passes'); every
    # full step comes with the next Hessian, and the reported log-likelihood is the last pass's
    ds, dd = _both("categorical")
    engine = dd.engine()
    got = solve_dual_dask(dd, engine=engine)
    assert engine.passes == got.iterations + 3
    assert got.attained is True  # proved by the projected point (the result keeps no proof)
    # no intercept, counts near e^4, start at 0: the full Newton step overshoots e^eta, so
    # the line search backtracks (one extra pass per shorter step) like the numpy Newton
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 1.5, size=(120, 1))
    y = rng.poisson(np.exp(4 * x[:, 0])).astype(float)
    ref = solve_dual(Dataset.from_arrays(x, y, family="poisson", intercept=False),
                     method="newton")
    dd = from_dask(da.from_array(x, chunks=(50, 1)), da.from_array(y, chunks=50),
                   family="poisson", intercept=False)
    engine = dd.engine()
    got = solve_dual_dask(dd, engine=engine)
    assert got.converged and got.iterations == ref.iterations
    assert engine.passes > got.iterations + 3
    _close(got.theta, ref.theta)
    np.testing.assert_allclose(got.history["objective"], ref.history["objective"], rtol=1e-12)


def test_upper_bound_is_the_negative_loglik_from_its_definition():
    ds, dd = _both("categorical")
    got = solve_dual_dask(dd)
    Y, eta = ds.Y, ds.X @ got.theta
    neg_l = -float(((Y * eta).sum(axis=1) - logsumexp(eta, axis=1)).sum())
    assert abs(project_primal_dask(dd, got.theta).upper_bound - neg_l) <= 1e-10 * abs(neg_l)
    # and a perturbed theta opens a positive gap: the check can fail
    bad = project_primal_dask(dd, got.theta + 1e-2 * np.eye(*got.theta.shape))
    assert bad.duality_gap > 1e-6


def test_numpy_engine_chunks_change_nothing():
    ds, _ = _both("categorical", weights=True)
    theta = np.linspace(-1, 1, ds.m * ds.k).reshape(ds.m, ds.k)
    whole = _kernels.categorical_vgh(ds.X, ds.Y, ds.weights, theta)
    chunked = NumpyEngine.from_dataset(ds, chunk_rows=7).map_reduce(_kernels.categorical_vgh,
                                                                     theta)
    for a, b in zip(chunked, whole):
        _close(a, b, 1e-12)
    got = solve_dual_dask(ds, engine=NumpyEngine.from_dataset(ds, chunk_rows=11))
    _close(got.theta, solve_dual(ds, method="newton").theta)


def test_local_cluster_and_client():
    ds, dd = _both("bernoulli", weights=True)
    ref = solve_dual(ds, method="newton")
    with dask_client(workers=2, processes=False) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        dd = dd.persist(client)
        got = solve_dual_dask(dd, client=client)
        proj = project_primal_dask(dd, got.theta, client=client)
    assert client.status == "closed"
    _close(got.theta, ref.theta)
    _close(proj.lower_bound, project_primal(ds, ref.theta).lower_bound)


def test_encoding_uses_the_global_classes_in_every_chunk():
    # sorted labels: each chunk holds one or two of the three classes
    X, y = make_arrays("categorical")
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]
    dd = from_dask(da.from_array(X, chunks=(20, 3)), da.from_array(y, chunks=20))
    ds = Dataset.from_arrays(X, y)
    assert dd.classes == ds.classes == ("a", "b", "c")
    got = dd.to_dataset()
    np.testing.assert_array_equal(got.Y, ds.Y)
    np.testing.assert_array_equal(got.X, ds.X)
    assert got.feature_names == ds.feature_names


def _frame(family="categorical", n=None):
    X, y = make_arrays(family, n=n)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["w"] = integer_weights(len(y))
    df["y"] = y
    return df


# dask 2026.8.0's Parquet reader calls a pandas method with a keyword pandas 3.1 deprecates
@pytest.mark.filterwarnings("ignore:The inplace keyword")
def test_parquet_round_trip(tmp_path):
    df = _frame()
    import dask.dataframe as dd

    dd.from_pandas(df, npartitions=3).to_parquet(tmp_path / "data")
    got = read_parquet(str(tmp_path / "data" / "*.parquet"), target="y", weights="w")
    assert got.n_chunks == 3 and got.feature_names == ("a", "b", "c", "intercept")
    ds = Dataset.from_arrays(df[["a", "b", "c"]].to_numpy(), df["y"].to_numpy(),
                             feature_names=["a", "b", "c"], weights=df["w"].to_numpy())
    assert got.classes == ds.classes
    np.testing.assert_array_equal(got.to_dataset().Y, ds.Y)
    _close(solve_dual_dask(got).theta, solve_dual(ds, method="newton").theta)


def test_csv_glob(tmp_path):
    df = _frame("poisson")
    df.iloc[:40].to_csv(tmp_path / "part1.csv", index=False)
    df.iloc[40:].to_csv(tmp_path / "part2.csv", index=False)
    got = read_csv(str(tmp_path / "part*.csv"), target="y", features=["a", "b"],
                   family="poisson")
    assert got.n == len(df) and got.n_chunks == 2 and got.m == 3
    assert got.name == str(tmp_path / "part*.csv")  # (a glob: its pattern)
    ds = Dataset.from_arrays(df[["a", "b"]].to_numpy(), df["y"].to_numpy(), family="poisson")
    _close(solve_dual_dask(got).theta, solve_dual(ds, method="newton").theta)


def test_a_file_is_named_by_its_stem_as_in_memory(tmp_path):
    df = _frame("poisson")
    df.to_csv(tmp_path / "counts.csv", index=False)
    got = read_csv(str(tmp_path / "counts.csv"), target="y", family="poisson")
    assert got.name == Dataset.from_csv(tmp_path / "counts.csv", target="y",
                                        family="poisson").name == "counts"


# (text columns, and missing values as in memory: tests/test_dask_frames.py)
@pytest.mark.parametrize("change, message", [
    (lambda df: df.assign(b=pd.to_timedelta(df["b"].abs(), unit="s")),
     "column 'b' has the type .*, neither numeric nor categorical"),
    (lambda df: df.assign(c=np.where(np.arange(len(df)) % 30 == 0, np.inf, df["c"])),
     "found 3 NaN or infinite values, 3 in column 'c'"),
    (lambda df: df.assign(c=np.where(np.arange(len(df)) % 30 == 0, np.nan, df["c"])),
     "column 'c' has 3 missing values; drop or fill them"),
    (lambda df: df.assign(w=-df["w"]), "weights must be >= 0"),
    (lambda df: df.assign(y=np.where(np.arange(len(df)) == 70, None, df["y"])),
     "1 missing value;"),
])
def test_bad_parquet_is_one_line_data_error(tmp_path, change, message):
    change(_frame()).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=message) as info:
        read_parquet(str(tmp_path / "bad.parquet"), target="y", weights="w")
    assert "\n" not in str(info.value)


def test_unknown_column_and_family_checks(tmp_path):
    _frame().to_parquet(tmp_path / "d.parquet")
    path = str(tmp_path / "d.parquet")
    with pytest.raises(DataError, match="unknown feature column 'zz'"):
        read_parquet(path, target="y", features=["a", "zz"])
    with pytest.raises(DataError, match="unknown target column 'label'"):
        read_parquet(path, target="label")
    with pytest.raises(DataError, match="no data"):
        read_parquet(str(tmp_path / "none" / "*.parquet"), target="y")
    with pytest.raises(DataError, match="cannot read CSV .*resolved to no files"):
        read_csv(str(tmp_path / "none*.csv"), target="y")
    with pytest.raises(DataError, match="exactly two classes; the target has 3"):
        read_parquet(path, target="y", family="bernoulli")
    X, y = make_arrays("poisson")
    y = y.copy()
    y[65] = -1.0
    with pytest.raises(DataError, match="counts >= 0; found 1 negative .*row chunk 3 of 4"):
        from_dask(da.from_array(X, chunks=(CHUNK, 3)), da.from_array(y, chunks=CHUNK),
                  family="poisson")


def test_unsupported_options_raise():
    ds, dd = _both("bernoulli")
    with pytest.raises(DualMaxentError, match="'newton-cg' does not handle the L1 penalty"):
        solve_dual_dask(dd, penalty=Penalty("l1", 1.0), method="newton-cg")
    forced = np.zeros(ds.n, dtype=bool)
    forced[np.flatnonzero(ds.Y == 0)[0]] = True  # one observation of count 0
    with pytest.raises(DualMaxentError, match="needs the data in memory"):
        project_primal(ds, np.zeros(ds.m), forced=forced,
                       engine=DaskEngine.from_dataset(dd))


@pytest.mark.parametrize("family", ["categorical", "bernoulli"])
def test_separated_data_diverge_and_say_so(family):
    sep = separable()
    dd = from_dask(da.from_array(sep.X[:, :2], chunks=(15, 2)),
                   da.from_array(sep.y, chunks=15), family=family)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = solve_dual_dask(dd)
    assert got.status == "diverged" and not got.converged
    assert got.message.startswith(DIVERGED_MESSAGE)
    assert any(issubclass(c.category, SeparationWarning) for c in caught)
    # theta ran off along the separating feature, and the gradient had not reached tol
    assert np.abs(got.theta).max() > 3.0 and got.kkt_residual > 1e-10


# -- verify on Dask, and the command line --------------------------------------------------

def test_verify_dask_equals_the_in_memory_projected_certificate(tmp_path):
    import dask.array as da

    from dualmaxent import verify
    from dualmaxent.distributed import dask_client, from_dask
    from dualmaxent.verify import verify_dask

    ds = overlapping(n=240, k=3, seed=4)
    with dask_client(workers=2, processes=False) as client:
        dd = from_dask(da.from_array(np.asarray(ds.X[:, :-1]), chunks=(60, -1)),
                       da.from_array(np.asarray(ds.y), chunks=60))
        cert = verify_dask(dd, client=client)
    ref = verify(ds, primal="projected")
    assert cert.ok and cert.attained and cert.primal is None and cert.rank == ref.rank
    for name in ("lower_bound", "upper_bound", "dual_gradient"):
        assert getattr(cert, name) == pytest.approx(getattr(ref, name), rel=1e-10, abs=1e-14)
    assert abs(cert.duality_gap) <= cert.roundoff


def test_cli_engine_dask_on_parquet(tmp_path, capsys):
    import json

    import pandas as pd

    from dualmaxent import load_dataset
    from dualmaxent.cli import main

    for name, target in (("blobs", "label"), ("iris", "species")):
        d = load_dataset(name)
        cols = [f"f{i}" for i in range(d.m - 1)]
        frame = pd.DataFrame(np.asarray(d.X[:, :-1]), columns=cols)
        frame[target] = d.y
        half = d.n // 2
        frame.iloc[:half].to_parquet(tmp_path / f"{name}-0.parquet")
        frame.iloc[half:].to_parquet(tmp_path / f"{name}-1.parquet")
    glob = str(tmp_path / "blobs-*.parquet")
    code = main(["verify", glob, "--target", "label", "--engine", "dask", "--workers", "1",
                 "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["certificate"]["ok"] and doc["primal"]["solver"] == "projected"
    assert doc["dataset"]["n"] == 300 and doc["dataset"]["rank"] == 3
    # separated data: not certified, with the hint, exit 1
    code = main(["verify", str(tmp_path / "iris-*.parquet"), "--target", "species", "--engine",
                 "dask", "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "not certified: the likelihood may have no maximiser (separated data)" in out
    assert "run on a sample without --engine dask" in out
    # what Dask cannot do is a usage error
    assert main(["verify", glob, "--engine", "dask"]) == 2
    assert main(["verify", glob, "--target", "label", "--engine", "dask", "--primal",
                 "cvxpy"]) == 2
    assert main(["verify", "blobs", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "needs --target" in err and "--primal cvxpy" in err and "need --engine dask" in err


@pytest.mark.parametrize("family,l2", [("categorical", None), ("categorical", 2.0),
                                       ("poisson", None)])
def test_dask_newton_cg_equals_numpy(family, l2):
    """Newton-CG on Dask (curvature-vector products, one pass each; no Hessian formed) reaches
    the in-memory optimum."""
    X, y = make_arrays(family, n=240)
    ds = Dataset.from_arrays(X, y, family=family)
    ref = solve_dual(ds, method="newton", l2=l2)
    with dask_client(workers=2, processes=False) as client:
        dd = from_dask(da.from_array(X, chunks=(60, -1)), da.from_array(np.asarray(y), chunks=60),
                       family=family)
        fit = solve_dual_dask(dd, client=client, l2=l2, method="newton-cg")
    assert fit.method == "newton-cg" and fit.converged, fit.message
    np.testing.assert_allclose(fit.theta, ref.theta, atol=1e-8)
    assert fit.loglik == pytest.approx(ref.loglik, rel=1e-12)


@pytest.mark.parametrize("family", ["categorical", "bernoulli"])
def test_an_engine_preconditions_a_wide_sparse_design_with_its_own_diagonal_pass(
        family, monkeypatch):
    """Newton-CG through an engine on a sparse design wide enough for the Jacobi
    preconditioner (the threshold lowered to this design's width): the diagonal of ``-H``
    comes from an engine pass (the in-memory objective reads it off its last pass's point,
    which an engine does not keep: that was a TypeError), equals the in-memory one entry by
    entry, and the fit reaches the in-memory optimum."""
    import scipy.sparse as sp

    from dualmaxent import objective
    from dualmaxent.engine import EngineObjective
    from dualmaxent.objective import make_objective
    from dualmaxent.params import make_penalty

    monkeypatch.setattr(objective, "SPARSE_DENSE_PRECONDITIONER_MAX", 5)
    rng = np.random.default_rng(3)
    n, m = 400, 30
    X = sp.random_array((n, m), density=0.2, random_state=3, format="csr")
    y = rng.integers(0, 2 if family == "bernoulli" else 3, n)
    ds = Dataset.from_arrays(X, y, family=family)
    penalty = make_penalty(l2=0.05)  # small: the data's part of the diagonal decides, Jacobi
    ref = solve_dual(ds, penalty=penalty, method="newton-cg", tol=1e-12)
    fit = solve_dual_dask(ds, penalty=penalty, method="newton-cg", tol=1e-12,
                          engine=NumpyEngine.from_dataset(ds, chunk_rows=150))
    assert fit.converged, fit.message
    np.testing.assert_allclose(fit.theta, ref.theta, rtol=0, atol=1e-8)
    mem = make_objective(ds, penalty)
    eng = EngineObjective(ds, NumpyEngine.from_dataset(ds, chunk_rows=150), penalty)
    theta = np.asarray(ref.theta)  # (m, k) or (m,), as each objective takes it
    expected = mem._curvature_diagonal(theta)
    got = eng._curvature_diagonal(theta)
    assert got.shape == expected.shape == (ds.m, mem.q)
    # the same sums in another order: n products of entries up to max|x|^2 w / 4
    bound = 4 * n * np.finfo(float).eps * float(np.abs(expected).max())
    assert np.abs(got - expected).max() <= bound


# -- the in-memory solvers' shortcuts on an engine -------------------------------------------

@pytest.fixture
def gathered(monkeypatch):
    """The samples an engine gathers into memory (``DaskDataset.every``): a list of
    ``(step, Dataset)``, appended to as they are drawn."""
    from dualmaxent.distributed import DaskDataset

    out = []
    every = DaskDataset.every
    monkeypatch.setattr(DaskDataset, "every", lambda self, step: out.append(
        (step, every(self, step))) or out[-1][1])
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_values_alone_share_one_product_and_equal_the_definition(family):
    """The line search's value-only trials (one product of the chunk with all their thetas)
    equal the family's log-likelihood at each theta, and the full point its own pass."""
    from dualmaxent.engine import vgh_block

    ds, _ = _both(family)
    rng = np.random.default_rng(5)
    thetas = [0.1 * rng.standard_normal(np.shape(solve_dual(ds).theta)) for _ in range(4)]
    got = vgh_block(ds.X, ds.Y, ds.weights, ds.family, [0], thetas, [True, None, None, None])
    full = ds.family.one_pass(ds.X, ds.Y, ds.weights, thetas[0], [0], True, None)
    for a, b in zip(got[0], full):
        _close(a, b, 1e-14)
    for theta, (value, G, C) in zip(thetas[1:], got[1:]):
        assert G is None and C is None
        _close(value, ds.family.canonical_loglik(ds.Y, ds.X @ theta, ds.weights), 1e-14)


def test_every_gathers_the_same_rows_as_the_in_memory_view():
    ds, dd = _both("categorical", weights=True)
    got, ref = dd.every(3), ds.every(3)
    for field in ("X", "Y", "weights", "y"):
        np.testing.assert_array_equal(getattr(got, field), getattr(ref, field))
    assert got.classes == ref.classes and got.family is ref.family


@pytest.mark.parametrize("family", ["categorical", "bernoulli", "poisson"])
def test_newton_on_an_engine_takes_the_warm_start_and_float32_and_reaches_the_same_theta(
        monkeypatch, gathered, family):
    """With the large-data shortcuts made to apply to 6000 rows: the warm start from a sample
    gathered into memory, its Hessian for the first step, float32 curvatures (the sample's
    design is well conditioned), fresh Hessians after; the maximiser is plain Newton's."""
    from dualmaxent import solvers as S
    from dualmaxent.engine import EngineObjective

    X, y = make_arrays(family, n=6000)
    ds = Dataset.from_arrays(X, y, family=family)
    ref = solve_dual(ds, method="newton", tol=1e-12)  # below LARGE_ROWS: no shortcut
    monkeypatch.setattr(S, "LARGE_ROWS", 2000)
    monkeypatch.setattr(S, "SUBSAMPLE_ROWS_PER_PARAM", 50)
    dtypes = []
    seen = EngineObjective._loglik
    monkeypatch.setattr(EngineObjective, "_loglik", lambda self, theta, hessian=False: (
        dtypes.append(self.curvature_dtype) if hessian else None) or seen(self, theta, hessian))
    dd = from_dask(da.from_array(X, chunks=(1000, -1)), da.from_array(y, chunks=1000),
                   family=family)
    engine = dd.engine()
    proofs = _record_proofs(monkeypatch, "dualmaxent.distributed.project_primal")
    got = solve_dual_dask(dd, tol=1e-12, engine=engine, method="newton")
    assert got.converged, got.message
    n_params = np.size(ref.theta) - (ds.m if ds.family.multiclass else 0)
    # one sample, about 50 rows per parameter
    assert [step for step, _ in gathered] == [6000 // (50 * n_params)]
    assert dtypes and set(dtypes) == {np.float32}  # every curvature formed in float32
    # one pass per iteration after the moments and the start, one for the proof of
    # attainment, and no more iterations than the cold start's
    assert engine.passes <= got.iterations + 3 and got.iterations <= ref.iterations
    assert got.attained is True and len(proofs) == 1 and proofs[0].proves_attained
    # that proof's bracket (a curvature of the last iterates) is the two-pass point's
    fresh = project_primal_dask(dd, got.theta)
    assert proofs[0].upper_bound == pytest.approx(fresh.upper_bound, rel=1e-13)
    assert abs(proofs[0].lower_bound - fresh.lower_bound) <= 1e-10 * abs(fresh.upper_bound)
    np.testing.assert_allclose(got.theta, ref.theta, rtol=0, atol=1e-9)
    assert got.loglik == pytest.approx(ref.loglik, rel=1e-13)


@pytest.mark.parametrize("family", FAMILIES)
def test_standard_errors_on_dask_equal_the_in_memory_ones(family):
    ds, dd = _both(family, weights=True)
    ref = solve_dual(ds, method="newton")
    got = solve_dual_dask(dd, method="newton")
    assert ref.std_err is not None and got.std_err is not None, got.std_err_note
    _close(got.std_err, ref.std_err, 1e-8)
    assert got.std_err_note == ref.std_err_note == ""


def test_newton_cg_on_dask_says_why_it_has_no_standard_errors():
    ds, dd = _both("categorical")
    got = solve_dual_dask(dd, method="newton-cg")
    assert got.converged and got.std_err is None
    assert "Newton-CG on the Dask engine never forms the Hessian" in got.std_err_note


def test_the_gathered_sample_is_bounded_in_bytes(monkeypatch, gathered):
    """However many parameters, the warm start gathers at most SUBSAMPLE_GATHER_MAX_BYTES of X."""
    from dualmaxent import solvers as S

    monkeypatch.setattr(S, "LARGE_ROWS", 2000)
    monkeypatch.setattr(S, "SUBSAMPLE_ROWS_PER_PARAM", 50)
    monkeypatch.setattr(S, "SUBSAMPLE_GATHER_MAX_BYTES", 100 * 4 * 8)  # 100 rows of 4 columns
    X, y = make_arrays("categorical", n=6000)
    dd = from_dask(da.from_array(X, chunks=(1000, -1)), da.from_array(y, chunks=1000))
    got = solve_dual_dask(dd, method="newton", tol=1e-12)
    assert got.converged and len(gathered) == 1
    sample = gathered[0][1]
    assert sample.X.nbytes <= 100 * 4 * 8 and sample.m == 4


def test_newton_cg_on_an_engine_takes_float32_products_from_a_sampled_condition(monkeypatch,
                                                                                 gathered):
    """Many rows and a well-conditioned sample: the engine's Newton-CG forms its curvature-vector
    products in float32 (the condition from one gathered sample) and reaches numpy's maximiser."""
    from dualmaxent import engine as E
    from dualmaxent import solvers as S

    X, y = make_arrays("categorical", n=6000)
    ds = Dataset.from_arrays(X, y)
    ref = solve_dual(ds, method="newton", tol=1e-12)
    monkeypatch.setattr(S, "LARGE_ROWS", 2000)
    dtypes = []
    block = E.hessp_block
    monkeypatch.setattr(E, "hessp_block", lambda *a: dtypes.append(a[-1]) or block(*a))
    dd = from_dask(da.from_array(X, chunks=(1000, -1)), da.from_array(y, chunks=1000))
    got = solve_dual_dask(dd, method="newton-cg", tol=1e-12)
    # two samples gathered: one for the condition, one for the proof of attainment's curvature
    assert got.converged and len(gathered) == 2 and set(dtypes) == {np.float32}
    np.testing.assert_allclose(got.theta, ref.theta, rtol=0, atol=1e-9)


@pytest.mark.parametrize("family", ["categorical", "bernoulli", "poisson"])
def test_a_penalised_intercept_that_runs_off_is_said_as_in_memory(family):
    """A class (a Bernoulli outcome, every positive count) without an observation of positive
    weight: the penalty does not reach the intercept, so the penalised likelihood has no
    maximiser. On Dask, as in memory: the solve's status is not_attained with a
    SeparationWarning naming it, and the certificate is not attained (its sums over y and the
    weights computed by dask; the run-off written out here from the weighted counts)."""
    from dualmaxent.dual import Status
    from dualmaxent.verify import verify_dask

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 2))
    y = rng.integers(0, 3, 300) if family != "bernoulli" else rng.integers(0, 2, 300)
    # no weight where the class is 2 (categorical), the outcome 1, the count positive
    w = np.where(y == 2, 0.0, 1.0) if family == "categorical" else np.where(y > 0, 0.0, 1.0)
    assert not (w * (y == (2 if family == "categorical" else 1))).any()
    dd = from_dask(da.from_array(X, chunks=100), da.from_array(y, chunks=100),
                   weights=da.from_array(w, chunks=100), family=family)
    ds = Dataset.from_arrays(X, y, weights=w, family=family)
    with pytest.warns(SeparationWarning) as said:
        got = solve_dual_dask(dd, l2=1.0)
    with pytest.warns(SeparationWarning) as said_here:
        own = solve_dual(ds, l2=1.0)
    assert got.status is own.status is Status.NOT_ATTAINED and got.attained is False
    assert [str(w.message) for w in said] == [str(w.message) for w in said_here]
    absent = {"categorical": "class 2 has", "bernoulli": "every observation of positive weight "
              "is 0", "poisson": "every count of positive weight is 0"}[family]
    assert absent in str(said[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparationWarning)
        cert = verify_dask(dd, l2=1.0)
    assert not cert.attained and not cert.ok
    assert any("penalised optimum is not attained" in m for m in cert.messages)


@pytest.mark.parametrize("kind", ["bernoulli", 3])
def test_a_loose_l2_fit_on_dask_gets_the_penalised_step_as_in_memory(monkeypatch, kind):
    """At a theta stopped at a relative gradient near 1e-4 under a weak ridge, the intercept's
    step alone leaves the penalised rows' slack charged (first order: NOT OK at the
    certificate's default tolerance, 1e-6): on Dask
    the checker takes the penalised problem's step as in memory (its curvature from a pass of
    its own), every free entry moved; the bracket is sound (a tight solve's optimum inside it,
    up to its round-off), ok, and as narrow as the in-memory one (within twice it, plus both
    round-offs: the chunks' sums come in another order)."""
    import importlib

    from _factories import drawn_kind

    from dualmaxent.certify import certify
    from dualmaxent.params import make_penalty

    checker = importlib.import_module("dualmaxent.certify")  # (the module, not the function)
    ds = drawn_kind(kind, 3000, 6, seed=0)
    pen = make_penalty(l2=0.01)
    theta = solve_dual(ds, penalty=pen, tol=1e-4).theta
    opt = -solve_dual(ds, penalty=pen, tol=1e-13).objective
    labels = ds.Y.reshape(ds.n, -1).argmax(axis=1) if ds.family.multiclass else ds.Y
    dd = from_dask(da.from_array(np.asarray(ds.X[:, :-1]), chunks=(700, -1)),
                   da.from_array(np.asarray(labels), chunks=700), family=ds.family.name)
    ref = certify(ds, theta, penalty=pen).projected
    # (as verify_dask certifies: the checker's block functions on the data set's engine)
    monkeypatch.setattr(checker, "PENALISED_STEP", False)
    cheap = certify(dd, theta, penalty=pen, engine=dd.engine())
    monkeypatch.setattr(checker, "PENALISED_STEP", True)
    cert = certify(dd, theta, penalty=pen, engine=dd.engine())
    br = cert.projected
    free = ds.k - 1 if ds.family.multiclass else 1
    q = ds.k if ds.family.multiclass else 1
    assert cheap.projected.size == free and br.size == ref.size == free + q * (ds.m - 1)
    assert br.lower_bound - br.roundoff <= opt <= br.upper_bound + br.roundoff
    assert br.duality_gap <= 2 * max(ref.duality_gap, 0.0) + br.roundoff + ref.roundoff
    assert br.duality_gap < 1e-2 * cheap.projected.duality_gap
    assert cert.ok
