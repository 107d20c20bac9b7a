"""``dualmaxent bench --scale`` (part b): the dual and its certificate on Dask against numpy.

The rows are generated *on the workers* (``dask.array.random`` for ``X``, the labels drawn chunk
by chunk from a true model by the Gumbel-max trick), held in the workers' memory
(:meth:`~dualmaxent.distributed.DaskDataset.persist`), and solved by
:func:`~dualmaxent.distributed.solve_dual_dask`; the same rows are then gathered on the client
and solved in memory by :func:`dualmaxent.solve_dual` (``newton``, and ``auto``, which picks
``newton-cg`` for ten classes). Each theta is then certified by :func:`dualmaxent.certify`
(through the engine on Dask), and that is the certificate. Reported per job: seconds in total and per iteration, passes
over the data, rows per second (``n`` over the seconds to the tolerance: the engines take
different iterations, fresh Hessians on Dask and a reused one in memory, so per-iteration rates
do not compare), the seconds of the proof (inside the solve), the relative gap of the
certificate, the largest difference of theta, and the peak resident memory of each worker during
the solve (``VmHWM``, reset before it) and of the client's numpy solve.

Run it as ``python -m dualmaxent.bench_scale [n] [workers]``: the workers are processes, so a
script that calls :func:`scale_benchmark` needs an ``if __name__ == "__main__":`` guard.

Measured on this 2-core machine, idle otherwise (n = 10^6, m = 51, 8 chunks, 2 workers of 1
thread; two runs, both given; every solve converged to a relative gradient below 1e-11 and every
certificate closed at a relative gap below 3e-13; Dask's theta equals numpy's to 1e-11):

=============  ==============  =====  ======  ===========  ===========  ==================
job            solver          iters  passes  solve s      proof s      peak memory
=============  ==============  =====  ======  ===========  ===========  ==================
binary         dask 2x1        3      6       0.82, 1.33   0.26, 0.32   415-447 MB a worker
binary         numpy newton    7      -       0.56, 0.66   0.13         +15 MB over X (408)
10 classes     dask 2x1 (cg)   6      45      9.9, 12.7    0.63         539-551 MB
10 classes     numpy newton    5      -       21.1, 27.9   0.88         +88 MB over X
10 classes     numpy cg        6      -       5.2, 6.4     0.87         +160 MB over X
=============  ==============  =====  ======  ===========  ===========  ==================

On two cores two workers do not beat one in-memory process (the compute-bound kernels do not
get faster when the cores are split, and each pass pays the tasks and the reduction), so Dask
takes 0.5-0.7x numpy's rows per second at 10^6; at 10^7 the in-memory process is the slower one
(docs/performance.md, "Beyond one machine: Dask").
"""

from __future__ import annotations

import gc
import json
import sys
import time
import warnings

import numpy as np

from . import _numerics as nx
from .bench import _rss, cpu_model
from .data import Dataset
from .certify import certify
from .distributed import dask_client, from_dask, solve_dual_dask
from .dual import solve_dual

__all__ = ["scale_benchmark", "synthetic_dask", "format_scale", "verify_scale",
           "dask_glm_comparison", "main_scale"]


def _labels_block(Xb, theta, seed, block_id=None):
    """Labels of one chunk drawn from ``softmax(X theta)`` (Gumbel-max), seeded by the chunk."""
    rng = np.random.default_rng([seed, block_id[0]])
    eta = Xb @ theta
    return np.argmax(eta + rng.gumbel(size=eta.shape), axis=1)


def synthetic_dask(n: int, p: int, k: int, chunks: int, seed: int = 0):
    """``(X, y)`` as dask arrays built on the workers: ``X`` (n, p) standard normal in
    ``chunks`` row chunks, ``y`` (n,) labels ``0 .. k-1`` of a multinomial model with
    coefficients of size ``1 / sqrt(p)`` (overlapping classes: a maximiser exists)."""
    import dask.array as da

    rows = -(-n // chunks)
    X = da.random.default_rng(seed).standard_normal((n, p), chunks=(rows, p))
    theta = np.random.default_rng(seed + 1).normal(scale=1.0 / np.sqrt(p), size=(p, k))
    y = X.map_blocks(_labels_block, theta, seed, drop_axis=1, dtype=np.int64)
    return X, y


def _reset_peak():
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # VmHWM back to the current resident size


def scale_benchmark(n: int = 1_000_000, m: int = 51, ks=(2, 10), workers: int = 2,
                    chunks: int = 8, seed: int = 0, numpy: bool = True,
                    methods=("newton", "auto"), log=print) -> list:
    """Time the Dask dual and certificate against numpy on the same rows (module docstring).

    Parameters
    ----------
    n, m : int
        Rows and columns of ``X`` (``m - 1`` features and the intercept).
    ks : sequence of int
        Classes per job: 2 runs the Bernoulli family, more the categorical.
    workers, chunks : int
        A ``LocalCluster`` of ``workers`` one-thread processes; ``X`` in ``chunks`` row chunks.
    numpy : bool, default True
        Also gather the rows and solve them in memory.
    methods : sequence of str, default ("newton", "auto")
        The in-memory methods (``newton`` with ten classes takes minutes at n = 10^7).
    log : callable
        Receives one line per finished measurement.

    Returns
    -------
    list of dict
        One row per job and engine.
    """
    rows = []
    with dask_client(workers=workers) as client:
        for k in ks:
            family = "bernoulli" if k == 2 else "categorical"
            t0 = time.perf_counter()
            X, y = synthetic_dask(n, m - 1, k, chunks, seed)
            dd = from_dask(X, y, family=family, name=f"synthetic-k{k}").persist(client)
            client.run(gc.collect)
            client.run(_reset_peak)
            base = client.run(lambda: _rss()[0])
            setup = time.perf_counter() - t0
            engine = dd.engine(client)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = solve_dual_dask(dd, engine=engine)
            dual_passes = engine.passes
            t1 = time.perf_counter()
            proj = certify(dd, res.theta, engine=engine)  # the checker through the engine
            cert_seconds = time.perf_counter() - t1
            peaks = client.run(lambda: _rss()[1])
            row = {"engine": f"dask {workers}x1", "family": family, "n": n, "m": m, "k": k,
                   "chunks": dd.n_chunks, "setup_seconds": setup,
                   "seconds": res.solve_seconds, "iterations": res.iterations,
                   "passes": dual_passes, "status": res.status, "kkt_residual": res.kkt_residual,
                   "cert_seconds": cert_seconds, "cert_passes": engine.passes - dual_passes,
                   "relative_gap": proj.relative_gap, "duality_gap": proj.duality_gap,
                   "worker_peak_mb": [round(v / 1e6) for v in peaks.values()],
                   "worker_above_data_mb": [round((peaks[a] - base[a]) / 1e6) for a in peaks]}
            rows.append(row)
            log(json.dumps(row))
            if not numpy:
                continue
            ds = Dataset.from_arrays(*client.compute([X, y], sync=True), family=family,
                                     name=dd.name)
            for method in methods:
                gc.collect()
                _reset_peak()
                before = _rss()[0]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ref = solve_dual(ds, method=method)
                peak = _rss()[1]
                t1 = time.perf_counter()
                p_ref = certify(ds, ref.theta)
                cert = time.perf_counter() - t1
                row = {"engine": "numpy", "family": family, "n": n, "m": m, "k": k,
                       "method": ref.method, "seconds": ref.solve_seconds,
                       "iterations": ref.iterations, "status": ref.status,
                       "kkt_residual": ref.kkt_residual, "cert_seconds": cert,
                       "relative_gap": p_ref.relative_gap, "duality_gap": p_ref.duality_gap,
                       "client_above_data_mb": round((peak - before) / 1e6),
                       "x_mb": round(ds.X.nbytes / 1e6),
                       "theta_diff": float(np.abs(ref.theta - res.theta).max()),
                       "p_diff": float(np.abs(nx.softmax(ds.X[:10_000] @ _table(ref.theta))
                                              - nx.softmax(ds.X[:10_000] @ _table(res.theta))
                                              ).max())}
                rows.append(row)
                log(json.dumps(row))
            del ds
    return rows


def _table(theta):
    """Theta as the categorical table of its family (Bernoulli's vector as classes (0, theta))."""
    theta = np.asarray(theta)
    return theta if theta.ndim == 2 else np.column_stack([np.zeros_like(theta), theta])


def format_scale(rows) -> str:
    """The table of :func:`scale_benchmark`: one line per job and engine."""
    head = (f"{'engine':<10} {'family':<12} {'n':>9} {'m':>3} {'k':>3} {'iters':>5} "
            f"{'passes':>6} {'solve s':>8} {'s/iter':>7} {'rows/s':>9} {'cert s':>7} "
            f"{'rel gap':>8}  memory")
    lines = [head]
    for r in rows:
        name = r["engine"] if r["engine"] != "numpy" else f"numpy {r['method']}"
        iters = max(r["iterations"], 1)
        mem = (f"worker peaks {r['worker_peak_mb']} MB ({r['worker_above_data_mb']} above data)"
               if "worker_peak_mb" in r else
               f"client +{r['client_above_data_mb']} MB over the data (X {r['x_mb']} MB)")
        lines.append(f"{name:<10} {r['family']:<12} {r['n']:>9} {r['m']:>3} {r['k']:>3} "
                     f"{r['iterations']:>5} {r.get('passes', '-'):>6} {r['seconds']:>8.2f} "
                     f"{r['seconds'] / iters:>7.2f} {r['n'] / r['seconds']:>9.2e} "
                     f"{r['cert_seconds']:>7.2f} {r['relative_gap']:>8.1e}  {mem}")
    return "\n".join(lines)


def dask_glm_comparison(n: int = 1_000_000, m: int = 51, workers: int = 2, chunks: int = 8,
                        tols=(1e-4, 1e-8, 1e-12), seed: int = 0, log=print) -> list:
    """Part (d): dask-glm's ``newton`` and ``lbfgs`` against ours on the same cluster and rows
    (binary), each at several tolerances, every answer judged by our own precision measure.

    Precision is the relative dual gradient ``max |X^T (y - p)| / (1 + max |X^T y|)`` at the
    contender's coefficients, computed by our engine objective (one pass), whatever the
    contender reports. Returns one dict per run: ``solver``, ``tol``, ``seconds``,
    ``precision``; a contender that fails is a row with its ``error``.
    """
    from .engine import EngineObjective

    try:
        import dask_glm.algorithms as glm
    except ImportError:
        log("(d) dask-glm is not installed: pip install dask-glm")
        return []
    rows = []
    with dask_client(workers=workers) as client:
        X, y = synthetic_dask(n, m - 1, 2, chunks, seed)
        dd = from_dask(X, y, family="bernoulli", name="synthetic-binary").persist(client)
        engine = dd.engine(client)
        judge = EngineObjective(dd, engine)

        def precision(beta):
            return float(judge.kkt_residual(judge.beta(np.asarray(beta, dtype=np.float64))))

        for tol in tols:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = solve_dual_dask(dd, tol=tol, engine=engine)
            rows.append({"solver": "dualmaxent newton", "tol": tol, "seconds": res.solve_seconds,
                         "precision": precision(res.theta), "iterations": res.iterations})
            log(f"(d) {json.dumps(rows[-1])}")
        for name, fit, key in (("dask-glm newton", glm.newton, "tol"),
                               ("dask-glm lbfgs", glm.lbfgs, "tol")):
            for tol in tols:
                t0 = time.perf_counter()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        beta = fit(dd.X, dd.Y, max_iter=500, **{key: tol})
                    beta = np.asarray(beta.compute() if hasattr(beta, "compute") else beta)
                    rows.append({"solver": name, "tol": tol,
                                 "seconds": time.perf_counter() - t0,
                                 "precision": precision(beta)})
                except Exception as exc:  # a contender's failure is a result
                    rows.append({"solver": name, "tol": tol, "error": f"{type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''}"})
                log(f"(d) {json.dumps(rows[-1])}")
    return rows


def write_parquet_rows(folder, n: int, m: int, files: int, seed: int = 0) -> int:
    """Write ``n`` rows of ``m - 1`` standard-normal features and a binary label ``y`` (a
    logistic model with coefficients ``1 / sqrt(m)``) as ``files`` Parquet files; returns bytes
    written. One file is in memory at a time."""
    from pathlib import Path

    import pandas as pd

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    beta = rng.normal(scale=1.0 / np.sqrt(m), size=m - 1)
    rows = -(-n // files)
    total = 0
    for i in range(files):
        size = min(rows, n - i * rows)
        X = rng.standard_normal((size, m - 1))
        y = (rng.random(size) < 1.0 / (1.0 + np.exp(-(X @ beta)))).astype(np.int64)
        frame = pd.DataFrame(X, columns=[f"x{j + 1}" for j in range(m - 1)])
        frame["y"] = y
        path = folder / f"part-{i:04d}.parquet"
        frame.to_parquet(path)
        total += path.stat().st_size
    return total


def out_of_core(folder, workers: int = 2, log=print) -> dict:
    """Part (c): certify the Parquet files of ``folder`` without ever holding them in memory:
    ``read_parquet`` without ``persist``, each pass reading the files chunk by chunk.

    Returns the seconds of the whole certificate, the status, the relative gap, the passes, the
    bytes on disk and each worker's peak resident memory (``VmHWM``) during it.
    """
    from pathlib import Path

    from .distributed import read_parquet
    from .verify import verify_dask

    files = sorted(Path(folder).glob("*.parquet"))
    size = sum(f.stat().st_size for f in files)
    with dask_client(workers=workers) as client:
        client.run(_reset_peak)
        t0 = time.perf_counter()
        data = read_parquet(str(Path(folder) / "*.parquet"), target="y", family="bernoulli")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cert = verify_dask(data, client=client)
        seconds = time.perf_counter() - t0
        peaks = client.run(lambda: _rss()[1])
    row = {"n": data.n, "m": data.m, "files": len(files), "disk_gb": size / 1e9,
           "data_gb": data.n * data.m * 8 / 1e9, "seconds": seconds, "ok": cert.ok,
           "status": cert.dual.status, "iterations": cert.dual.iterations,
           "relative_gap": cert.relative_gap,
           "worker_peak_gb": [round(v / 1e9, 2) for v in peaks.values()]}
    log(f"(c) {json.dumps(row)}")
    return row


#: Part (a): ``verify --primal auto`` on every-row-distinct data, ``(n, m, k)``: the issue of
#: scale's two sizes, and the binary job of the benchmark.
VERIFY_SIZES = ((200_000, 11, 3), (1_000_000, 11, 3), (1_000_000, 51, 2))

#: What ``--scale`` does not run here, and why (said in its output, not hidden).
NOT_RUN = (
    "(c) out of core, n = 5e7 x m = 21 from Parquet (about 8 GB on disk): run by "
    "python -m dualmaxent.bench_scale ooc FOLDER (it writes the files first)",
    "(d) dask-glm: run by python -m dualmaxent.bench_scale glm [n] (pip install dask-glm); its "
    "last release is old and binary only",
)


def verify_scale(sizes=VERIFY_SIZES, seed: int = 0, log=print) -> list:
    """Part (a): the checker :func:`dualmaxent.certify` at the dual's theta, and the whole
    ``verify`` (auto: the projected primal at these sizes), against their own dual solve on the
    same rows, every row distinct.

    Returns one dict per size: ``n, m, k``, ``dual_seconds`` (``solve_dual`` alone, without the
    attainment check), ``certify_seconds`` and ``certify_ratio`` (the checker alone, over the
    dual's seconds; the issue's target is 0.5 at n = 10^6, m = 51, binary), ``certify_ok``,
    ``verify_seconds`` (its cached rank cleared first, so the rank is included),
    ``ratio``, ``ok``, ``primal`` (the solver used), ``relative_gap`` and ``lp`` (whether the
    separation LP had to run).
    """
    import warnings

    from .certify import certify
    from .data import Dataset
    from .dual import solve_dual
    from .verify import verify

    rng = np.random.default_rng(seed)
    rows = []
    for n, m, k in sizes:
        X = rng.normal(size=(n, m - 1))
        theta = rng.normal(scale=0.5, size=(m, k))
        eta = np.column_stack([X, np.ones(n)]) @ theta
        y = np.argmax(eta + rng.gumbel(size=eta.shape), axis=1)
        ds = Dataset.from_arrays(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            dual = solve_dual(ds, check_attainment=False)
            dual_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            alone = certify(ds, dual.theta)
            certify_s = time.perf_counter() - t0
            vars(ds).pop("identifiability", None)  # verify pays for its own rank pass
            t0 = time.perf_counter()
            cert = verify(ds)
            verify_s = time.perf_counter() - t0
        row = {"n": n, "m": m, "k": k, "dual_seconds": dual_s, "certify_seconds": certify_s,
               "certify_ratio": certify_s / dual_s, "certify_ok": alone.ok,
               "verify_seconds": verify_s, "ratio": verify_s / dual_s, "ok": cert.ok,
               "primal": cert.primal_solver, "relative_gap": cert.relative_gap,
               "lp": cert.separation is not None}
        log(f"(a) n={n} m={m} k={k}: dual {dual_s:.2f} s; certify {certify_s:.2f} s "
            f"({row['certify_ratio']:.2f}x the dual, ok={alone.ok}); verify {verify_s:.2f} s "
            f"({row['ratio']:.2f}x), ok={cert.ok}, primal {cert.primal_solver}, relative gap "
            f"{cert.relative_gap:.1e}, separation LP {'run' if row['lp'] else 'not needed'}")
        rows.append(row)
    return rows


def main_scale(args) -> int:
    """``dualmaxent bench --scale``: parts (a) and (b), and what is not run."""
    import json
    import os

    quiet = bool(getattr(args, "json", False))
    log = (lambda line: None) if quiet else (lambda line: print(line, flush=True))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    log(f"dualmaxent bench --scale: {cpu_model()}, {os.cpu_count()} cores, load average "
        f"{load:.2f} at start")
    quick = bool(getattr(args, "quick", False))
    sizes = ((20_000, 11, 3), (100_000, 11, 3)) if quick else VERIFY_SIZES
    part_a = verify_scale(sizes, log=log)
    part_b = scale_benchmark(n=100_000 if quick else 1_000_000, log=log)
    if quiet:
        print(json.dumps({"verify": part_a, "dask": part_b, "not_run": list(NOT_RUN)},
                         indent=2, default=float))
    else:
        print(format_scale(part_b))
        for line in NOT_RUN:
            print(f"not run: {line}")
    return 0


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "ooc":
    # python -m dualmaxent.bench_scale ooc FOLDER [n] [m]: write (if empty) and certify
    from pathlib import Path

    if not list(Path(sys.argv[2]).glob("*.parquet")):
        n_rows = int(float(sys.argv[3])) if len(sys.argv) > 3 else 50_000_000
        width = int(sys.argv[4]) if len(sys.argv) > 4 else 21
        t0 = time.perf_counter()
        written = write_parquet_rows(sys.argv[2], n_rows, width, files=max(n_rows // 250_000, 1))
        print(f"(c) wrote {written / 1e9:.2f} GB in {time.perf_counter() - t0:.0f} s", flush=True)
    out_of_core(sys.argv[2])
elif __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "glm":
    dask_glm_comparison(n=int(float(sys.argv[2])) if len(sys.argv) > 2 else 1_000_000)
elif __name__ == "__main__":
    n_rows = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000
    n_workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    print(format_scale(scale_benchmark(n=n_rows, workers=n_workers)))
