"""``dualmaxent bench``: time the dual and primal solvers against the libraries people use.

Every contender's answer is judged by *our* measure, not by its own report: its coefficients
are converted to theta in our gauge and the precision is the relative dual gradient
``max |X^T W (Y - mu(theta))| / (1 + max |X^T W Y|)``
(:meth:`dualmaxent.objective.DualObjective.kkt_residual`). Contenders run in one process, one
after the other on the same data.

Equal precision. A contender's tolerance is its own notion, so each peer runs at several
(scikit-learn's ``lbfgs``, ``newton-cg`` and ``newton-cholesky`` at ``tol`` 1e-4, 1e-8 and
1e-12; statsmodels' Newton and glum's IRLS at their defaults), and so do we (our default, and
``tol`` at each precision level). For each level of :data:`LEVELS` the report names who
reached it first: the fastest run whose measured precision is at or below the level. ``ratio``
is our fastest such run over the fastest peer's, in the same run of the benchmark. Every run of
ours starts from a data set without a cached rank, so it pays for the rank pass it needs.

Columns of the per-run table: ``time`` (wall seconds of the fit, data already in memory),
``iters`` (as the contender reports them), ``precision`` (our relative dual gradient at its
answer).

Translations, stated once: scikit-learn's ``LogisticRegression(C=inf)`` is unpenalised, its
``coef_`` and ``intercept_`` stack into theta (binary: the log-odds of the second sorted class,
moved to our gauge); statsmodels' ``Logit``/``MNLogit`` get our ``X`` (intercept column last);
``MNLogit`` pins the *first* class, so its params fill theta's columns 1..k-1 and the gauge is then
moved to ours (last class pinned); glum's ``GeneralizedLinearRegressor(family="binomial",
alpha=0)`` is unpenalised binary logistic regression (it has no multinomial family).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import _numerics as nx
from . import progress
from .data import Dataset, load_dataset
from .dual import DualObjective, solve_dual
from .exceptions import SeparationWarning
from .params import Parameterization

__all__ = ["main_bench", "run_bench", "synthetic", "SIZES"]

#: Sizes per mode: (binary n list, multiclass n list, primal n list); the last entry of each list
#: is the job of the table, the others are points of the primal's scaling panel. m = 51 for the
#: dual jobs (50 features and the intercept), k = 10 for the multiclass one; the primal is k = 3,
#: m = 11 (the issue's sizes).
SIZES = {
    "full": {"binary": [1_000_000], "multi": [100_000],
             "primal": [2_000, 20_000, 200_000], "m": 51, "k": 10, "primal_m": 11},
    "quick": {"binary": [100_000], "multi": [10_000],
              "primal": [1_000, 2_000, 5_000], "m": 51, "k": 10, "primal_m": 11},
    "tiny": {"binary": [2_000], "multi": [1_000], "primal": [200, 400], "m": 6,
             "k": 4, "primal_m": 4},
}

#: The precision levels of the equal-precision report (relative dual gradient).
LEVELS = (1e-4, 1e-6, 1e-9, 1e-12)

#: The tolerances scikit-learn's solvers are tried at.
PEER_TOLS = (1e-4, 1e-8, 1e-12)

#: Primal formulations: (solver, gauge, largest n to try in full mode). The full gauge and SCS
#: are far slower; measured sizes beyond these take minutes.
PRIMAL_VARIANTS = (("CLARABEL", "pivot", None), ("CLARABEL", "full", 20_000),
                   ("SCS", "pivot", 3_000))


def synthetic(n: int, m: int, k: int, seed: int = 0) -> Dataset:
    """Seeded, non-separable data: Gaussian features, labels drawn from a multinomial logit.

    ``m - 1`` standard-normal features plus the intercept; true coefficients
    ``N(0, (1.5 / sqrt(m))^2)`` so the linear predictor has standard deviation about 1.5 and
    the classes overlap; labels sampled from ``softmax``, so no hyperplane separates them when
    ``n >> m``. The family is the default one (categorical, also for ``k = 2``).
    """
    rng = np.random.default_rng(seed)
    Xf = rng.standard_normal((n, m - 1))
    T = rng.standard_normal((m - 1, k)) * (1.5 / np.sqrt(m))
    P = nx.softmax(Xf @ T)
    labels = (P.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    labels = np.minimum(labels, k - 1)
    # the default family for the label type, as a user gets it (categorical, also for k = 2);
    # the labels are class codes by construction, not counts: no count warning, as the
    # classifiers make theirs
    return Dataset._from_arrays(Xf, labels, None, True, None, "categorical",
                                f"synthetic n={n} m={m} k={k}", count_warning=False)


# -- contenders -------------------------------------------------------------------------------
# Each returns (theta in our gauge, iterations or None). Import errors mean "not installed".

def _ours(tol=None):
    def fit(ds):
        vars(ds).pop("identifiability", None)  # every run pays for its rank pass
        res = solve_dual(ds, tol=tol)
        return res.theta, res.iterations, res
    return fit


def _from_log_odds(ds, b):
    """Theta in ``ds``'s layout from the log-odds ``b`` (m,) of the second class (binary)."""
    if not ds.family.multiclass:
        return b
    return Parameterization.from_dataset(ds).gauge_fix(np.column_stack([np.zeros_like(b), b]))


def _second_class(ds):
    """The 0/1 response of a two-class data set: 1 for the second sorted class."""
    return ds.family.one_hot(ds.Y)[:, 1]


def _sk(solver, tol):
    def fit(ds):
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=np.inf, solver=solver, tol=tol, max_iter=10_000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(ds.X[:, :-1], ds.y)
        coef = np.vstack([model.coef_.T, model.intercept_[None, :]])  # (m, 1) or (m, k)
        theta = _from_log_odds(ds, coef[:, 0]) if ds.k == 2 else coef
        return theta, int(np.max(model.n_iter_)), None
    return fit


def _statsmodels(ds):
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if ds.k == 2:
            res = sm.Logit(_second_class(ds), ds.X).fit(method="newton", disp=0, maxiter=100)
            return (_from_log_odds(ds, np.asarray(res.params)), res.mle_retvals.get("iterations"),
                    None)
        res = sm.MNLogit(ds.Y.argmax(axis=1), ds.X).fit(method="newton", disp=0, maxiter=100)
    theta = np.zeros((ds.m, ds.k))
    theta[:, 1:] = np.asarray(res.params)
    return (Parameterization.from_dataset(ds).gauge_fix(theta), res.mle_retvals.get("iterations"),
            None)


def _glum(ds):
    if ds.k != 2:
        raise _Skip("glum has no multinomial family")
    from glum import GeneralizedLinearRegressor

    model = GeneralizedLinearRegressor(family="binomial", alpha=0, fit_intercept=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(ds.X[:, :-1], _second_class(ds))
    return (_from_log_odds(ds, np.append(model.coef_, model.intercept_)),
            getattr(model, "n_iter_", None), None)


class _Skip(Exception):
    """A contender that does not apply to a job."""


DUAL_CONTENDERS = {
    "dualmaxent default": _ours(),
    **{f"dualmaxent tol={t:.0e}": _ours(t) for t in LEVELS},
    **{f"sklearn {solver} tol={t:.0e}": _sk(solver, t)
       for solver in ("lbfgs", "newton-cg", "newton-cholesky") for t in PEER_TOLS},
    "statsmodels newton": _statsmodels,
    "glum irls": _glum,
}

#: statsmodels' MNLogit forms its Hessian in Python loops: beyond this n p^2 it runs for minutes.
STATSMODELS_MAX_WORK = 3e9

#: ``--quick`` skips scikit-learn's newton-cholesky on the multiclass job beyond this n p^2 (it
#: forms the full Hessian with a general product: 28 s at n = 10^4, m = 51, k = 10 here).
QUICK_MAX_WORK = 1e9

_MODULE = {"sklearn": "sklearn", "statsmodels": "statsmodels", "glum": "glum"}


def _available(name: str) -> str | None:
    """None when the contender's library imports, else a note."""
    lib = name.split()[0]
    if lib not in _MODULE:
        return None
    try:
        __import__(_MODULE[lib])
    except ImportError:
        return f"{name}: skipped ({lib} is not installed; pip install 'dualmaxent[bench]')"
    return None


def _run_dual(job, ds, name, fit, obj, mode="full"):
    if (mode != "full" and name.startswith("sklearn newton-cholesky") and ds.k > 2
            and ds.n * (ds.m * (ds.k - 1)) ** 2 > QUICK_MAX_WORK):
        raise _Skip(f"--quick skips it beyond n p^2 = {QUICK_MAX_WORK:.0e}")
    if name.startswith("statsmodels") and ds.k > 2:
        work = ds.n * (ds.m * (ds.k - 1)) ** 2
        if work > STATSMODELS_MAX_WORK:
            raise _Skip(f"n p^2 = {work:.1e} > {STATSMODELS_MAX_WORK:.0e} (minutes)")
    t0 = time.perf_counter()
    theta, iters, res = fit(ds)
    seconds = time.perf_counter() - t0
    theta = np.asarray(theta, dtype=np.float64).reshape(obj.params.theta_shape)
    precision = obj.kkt_residual(obj.beta(theta))
    row = {"job": job, "n": ds.n, "contender": name, "seconds": seconds, "iterations": iters,
           "precision": precision}
    if res is not None:
        row["method"] = res.method
    return row


def _floor(ds, obj) -> float:
    """Seconds of one pass computing value and gradient (the per-pass floor), best of 3."""
    theta = obj.theta(obj.start())
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        obj.family.one_pass(ds.X, ds.Y, ds.weights, theta, obj.params.free_classes, False,
                            None)
        best = min(best, time.perf_counter() - t0)
    return best


def _run_primal(ds, solver, gauge, dual_res):
    from .primal import solve_primal
    from .verify import verify

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = solve_primal(ds, solver=solver, gauge=gauge)
    seconds = time.perf_counter() - t0
    cert = verify(ds, primal=pr, dual=dual_res)
    return {"job": f"primal k={ds.k} m={ds.m} n={ds.n}", "n": ds.n,
            "contender": f"cvxpy {solver.lower()} {gauge}", "seconds": seconds,
            "iterations": pr.iterations, "precision": cert.primal_gap,
            "compile": pr.compile_seconds, "solve": pr.solve_seconds, "status": pr.status,
            "balance": cert.balance_residual, "certified": bool(cert.ok)}


def cpu_model() -> str:
    """The processor's model name (Linux's ``/proc/cpuinfo``, else :func:`platform.processor`,
    else ``"unknown"``): ratios measured on one CPU are read beside its name, since another
    may run other BLAS kernels and move them."""
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_kernels() -> str | None:
    """The BLAS libraries numpy and scipy load and the kernels each picked for this CPU
    (``threadpoolctl``'s ``architecture``, OpenBLAS's ``SkylakeX`` say), joined by commas; None
    without ``threadpoolctl``."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return None
    found = {f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
             for i in threadpool_info() if i.get("user_api") == "blas"}
    return ", ".join(sorted(found)) or None


def _blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    return ",".join(str(i["num_threads"]) for i in threadpool_info()
                    if i.get("user_api") == "blas") or "unknown"


def _rss() -> tuple[int, int]:
    """``(current, peak)`` resident set size of this process in bytes (Linux ``/proc``).

    ``ru_maxrss`` is no use here: Linux carries it over ``fork`` and ``exec``, so a child of a
    large benchmark process starts with its parent's peak. ``VmHWM`` belongs to the new image
    and is reset by writing ``5`` to ``/proc/self/clear_refs`` (:func:`_memory_child`).
    """
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


def _memory_child(kind: str, n: int, mode: str = "full") -> None:
    """Run one solve and print its memory figures as JSON (the body of :func:`_peak_memory`).

    ``rss_data`` is the resident size once the data set exists, ``rss_peak`` the peak during
    the solve (``VmHWM`` after resetting it, so it also sees the solver's native allocations),
    ``traced_peak`` the peak of Python/numpy allocations during the solve (``tracemalloc``).
    """
    import gc
    import tracemalloc

    sizes = SIZES[mode]
    if kind == "primal":
        from .primal import solve_primal

        ds = synthetic(n, sizes["primal_m"], 3, seed=n)
        solve = lambda: solve_primal(ds)  # noqa: E731
    else:
        ds = synthetic(n, sizes["m"], 2, seed=n)
        solve = lambda: solve_dual(ds)  # noqa: E731
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset VmHWM to the current resident size
    rss_data = _rss()[0]
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solve()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_peak = _rss()[1]
    print(json.dumps({"kind": kind, "n": n, "m": ds.m, "x_bytes": ds.X.nbytes,
                      "rss_data": rss_data, "rss_peak": rss_peak, "traced_peak": traced_peak}))


def _peak_memory(kind: str, n: int, mode: str = "full") -> dict:
    """Memory of one solve, measured in a fresh interpreter so that peaks do not mix."""
    code = f"from dualmaxent.bench import _memory_child; _memory_child({kind!r}, {n}, {mode!r})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0 or not out.stdout.strip():
        return {"kind": kind, "n": n, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def format_memory(mem: dict) -> str:
    """One line: the solve's memory in units of the size of ``X``."""
    if "error" in mem:
        return f"memory of the {mem['kind']} at n={mem['n']}: failed ({mem['error']})"
    x = mem["x_bytes"]
    return (f"memory of the {mem['kind']} at n={mem['n']}, m={mem['m']} (X is {x / 1e6:.0f} MB):"
            f" numpy/Python peak during the solve {mem['traced_peak'] / 1e6:.0f} MB "
            f"({mem['traced_peak'] / x:.2f} x X); process peak RSS {mem['rss_peak'] / 1e6:.0f} MB,"
            f" {(mem['rss_peak'] - mem['rss_data']) / 1e6:.0f} MB above the loaded data "
            f"({(mem['rss_peak'] - mem['rss_data']) / x:.2f} x X)")


def _verify_cold() -> float:
    """Wall seconds of ``dualmaxent verify`` on the default data in a fresh interpreter."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dualmaxent.cli", "verify"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def run_bench(mode: str = "quick", out="figures", verify_subprocess: bool = True,
              as_json: bool = False, blas_threads: int | None = None) -> list[dict]:
    """Run the suite, print the table (or JSON), write ``out/scaling.png``; return the rows.

    ``blas_threads`` limits BLAS for *every* contender alike (threadpoolctl): on a loaded
    machine multi-threaded OpenBLAS slows libraries that make many BLAS calls by 10-100x (see
    :mod:`dualmaxent._kernels`), and our kernels already run on one thread, so a loaded
    machine is only compared fairly with ``blas_threads=1``.
    """
    if blas_threads:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=int(blas_threads), user_api="blas"):
            return run_bench(mode, out, verify_subprocess, as_json, None)
    sizes = SIZES[mode]
    say = (lambda *a, **k: None) if as_json else print
    notes = []
    for name in DUAL_CONTENDERS:
        note = _available(name)
        if note:
            notes.append(note)
    contenders = {k: v for k, v in DUAL_CONTENDERS.items() if _available(k) is None}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    say(f"dualmaxent bench ({mode}): {cpu_model()}, {os.cpu_count()} cores, BLAS "
        f"{blas_kernels()}, load average {load:.2f} at start, BLAS threads {_blas_threads()}")
    rows, scaling = [], []
    jobs = [("binary", 2, sizes["binary"]), ("multi", sizes["k"], sizes["multi"])]
    # progress on a terminal (dualmaxent.progress): one step per job and size, every contender
    with progress.bar("bench", total=sum(len(ns) for _, _, ns in jobs), unit="job") as bar:
        for key, k, ns in jobs:
            for n in ns:
                ds = synthetic(n, sizes["m"], k, seed=n)
                obj = DualObjective(ds)
                job = f"{'binary' if k == 2 else f'{k} classes'} n={n} m={ds.m}"
                floor = _floor(ds, obj)
                scaling.append({"panel": key, "n": n, "contender": "per-pass floor",
                                "seconds": floor})
                for name, fit in contenders.items():
                    try:
                        row = _run_dual(job, ds, name, fit, obj, mode)
                    except _Skip as exc:
                        if n == ns[-1]:
                            notes.append(f"{name} on {job}: skipped ({exc})")
                        continue
                    except Exception as exc:  # a contender's failure is a result, not a crash
                        notes.append(f"{name} on {job}: failed ({type(exc).__name__}: {exc})")
                        continue
                    row["floor"] = floor
                    scaling.append({"panel": key, **row})
                    if n == ns[-1]:
                        rows.append(row)
                bar.update()

    # the small real sets
    for name_ds in ("iris", "blobs"):
        ds = load_dataset(name_ds)
        obj = DualObjective(ds)
        with warnings.catch_warnings(record=True) as caught:
            # (a separated set warns on every fit of ours: said once, in the notes, below)
            warnings.simplefilter("always", SeparationWarning)
            for name, fit in contenders.items():
                try:
                    rows.append(_run_dual(f"{name_ds} (real) n={ds.n} m={ds.m} k={ds.k}", ds,
                                          name, fit, obj))
                except _Skip:
                    pass
                except Exception as exc:
                    notes.append(f"{name} on {name_ds}: failed ({type(exc).__name__}: {exc})")
        for w in caught:
            if not issubclass(w.category, SeparationWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if any(issubclass(w.category, SeparationWarning) for w in caught):
            notes.append(f"{name_ds}: separated without a penalty (no maximiser: every "
                         "contender's gradient shrinks only as its coefficients grow, so its "
                         "precision measures how far each ran, not a distance to an optimum)")
    # the primal
    try:
        import cvxpy as cp

        installed = set(cp.installed_solvers())
    except ImportError:
        installed = set()
        notes.append("primal: skipped (cvxpy is not installed)")
    for n in sizes["primal"]:
        ds = synthetic(n, sizes["primal_m"], 3, seed=n)
        dual_res = solve_dual(ds)
        for solver, gauge, nmax in PRIMAL_VARIANTS:
            if solver not in installed:
                continue
            if nmax is not None and mode == "full" and n > nmax:
                if n == sizes["primal"][-1]:
                    notes.append(f"cvxpy {solver.lower()} {gauge} at n={n}: skipped (beyond "
                                 f"n={nmax} it takes minutes)")
                continue
            if nmax is not None and mode != "full" and n > sizes["primal"][1]:
                continue
            row = _run_primal(ds, solver, gauge, dual_res)
            scaling.append({"panel": "primal", **row})
            if n == sizes["primal"][-1] or (nmax is not None and n == sizes["primal"][1]
                                            and mode != "full"):
                rows.append(row)
    _ratios(rows)
    levels = equal_precision(rows)
    extra = {"levels": levels}
    if verify_subprocess:
        extra["verify_cold_seconds"] = _verify_cold()
        extra["memory"] = [_peak_memory("primal", sizes["primal"][-1], mode),
                           _peak_memory("dual", sizes["binary"][-1], mode)]
    if as_json:
        print(json.dumps({"mode": mode, "rows": [_public(r) for r in rows], "notes": notes,
                          **extra}, indent=1))
    else:
        print(format_table(rows))
        print()
        print(format_levels(levels))
        if "verify_cold_seconds" in extra:
            print(f"dualmaxent verify (blobs, cold start, subprocess): "
                  f"{extra['verify_cold_seconds']:.2f} s")
        for mem in extra.get("memory", []):
            print(format_memory(mem))
        for note in notes:
            print(f"note: {note}")
    path = plot_scaling(scaling, Path(out), mode)
    say(f"wrote {path}")
    return rows


def _ratios(rows):
    """``ratio``: time over the fastest row of the same job at least as precise."""
    by_job = {}
    for r in rows:
        by_job.setdefault(r["job"], []).append(r)
    for group in by_job.values():
        for r in group:
            p = r["precision"]
            peers = [s["seconds"] for s in group if s["precision"] <= p * (1 + 1e-12)]
            r["ratio"] = r["seconds"] / min(peers) if peers else float("nan")


def _is_ours(row) -> bool:
    return row["contender"].startswith("dualmaxent")


def equal_precision(rows, levels=LEVELS) -> list[dict]:
    """For each dual job and level: who reached it first, our time, the fastest peer's, the ratio.

    A run reaches a level when its measured precision is at or below it; its time is the whole
    fit's. ``ratio`` is our fastest run that reaches the level over the fastest peer's (None
    when either never does). ``reached`` lists every run that did, fastest first.
    """
    by_job = {}
    for r in rows:
        if not r["job"].startswith("primal"):
            by_job.setdefault(r["job"], []).append(r)
    out = []
    for job, group in by_job.items():
        for level in levels:
            hits = sorted((r for r in group if r["precision"] <= level),
                          key=lambda r: r["seconds"])
            ours = next((r for r in hits if _is_ours(r)), None)
            peer = next((r for r in hits if not _is_ours(r)), None)
            out.append({
                "job": job, "level": level,
                "first": hits[0]["contender"] if hits else None,
                "ours": None if ours is None else ours["contender"],
                "ours_seconds": None if ours is None else ours["seconds"],
                "peer": None if peer is None else peer["contender"],
                "peer_seconds": None if peer is None else peer["seconds"],
                "ratio": (ours["seconds"] / peer["seconds"] if ours and peer else None),
                "reached": [(r["contender"], r["seconds"]) for r in hits],
            })
    return out


def format_levels(levels) -> str:
    """The equal-precision table: one line per job and level."""
    head = (f"{'job':<26} {'level':>6}  {'first':<32} {'ours s':>7} {'fastest peer':<30} "
            f"{'peer s':>7} {'ratio':>6}")
    lines = ["Equal precision: the fastest run of each side whose precision is at or below "
             "the level", head, "-" * len(head)]
    for e in levels:
        ours, peer = e["ours_seconds"], e["peer_seconds"]
        ratio = "" if e["ratio"] is None else f"{e['ratio']:.2f}"
        lines.append(f"{e['job']:<26} {e['level']:>6.0e}  {e['first'] or 'nobody':<32} "
                     f"{'-' if ours is None else f'{ours:.3f}':>7} "
                     f"{e['peer'] or 'no peer reaches it':<30} "
                     f"{'-' if peer is None else f'{peer:.3f}':>7} {ratio:>6}")
    return "\n".join(lines)


def _public(row):
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()
            if not k.startswith("_")}


def format_table(rows) -> str:
    head = (f"{'job':<34} {'contender':<30} {'time s':>8} {'iters':>6} {'precision':>9} "
            f"{'ratio':>6}  notes")
    lines = [head, "-" * len(head)]
    last = None
    for r in rows:
        if last is not None and r["job"] != last:
            lines.append("")
        last = r["job"]
        it = "" if r.get("iterations") is None else str(r["iterations"])
        note = ""
        if "status" in r:
            note = (f"{r['status']}, compile {r['compile']:.2f} s + solve {r['solve']:.2f} s, "
                    f"precision = relative gap, certified {'yes' if r['certified'] else 'no'}")
        elif "method" in r:
            note = f"method {r['method']}"
        lines.append(f"{r['job']:<34} {r['contender']:<30} {r['seconds']:>8.3f} {it:>6} "
                     f"{r['precision']:>9.1e} {r['ratio']:>6.2f}  {note}")
    return "\n".join(lines)


def _solver_of(contender: str) -> str:
    """The contender without its tolerance: the line its runs share in the figure."""
    return contender.split(" tol=")[0].replace("dualmaxent default", "dualmaxent")


def plot_scaling(scaling, out: Path, mode: str) -> Path:
    """Left two panels: seconds against measured precision per dual job (one line per solver
    through its tolerances, the levels as vertical lines); right: the primal's time against n."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    sz = SIZES[mode]
    panels = [("binary", f"Dual, binary, n = {sz['binary'][-1]:.0e}, m = {sz['m']}"),
              ("multi", f"Dual, {sz['k']} classes, n = {sz['multi'][-1]:.0e}, m = {sz['m']}"),
              ("primal", f"Primal, CVXPY, k = 3, m = {sz['primal_m']}")]
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2))
    for ax, (key, title) in zip(axes, panels):
        pts = [s for s in scaling if s["panel"] == key]
        if key == "primal":
            for name in dict.fromkeys(s["contender"] for s in pts):
                ss = sorted((s for s in pts if s["contender"] == name), key=lambda s: s["n"])
                style = "o-" if name.startswith("cvxpy clarabel pivot") else ".-"
                ax.plot([s["n"] for s in ss], [s["seconds"] for s in ss], style, lw=1.2,
                        label=f"{name} (gap {ss[-1]['precision']:.0e})")
            for s in pts:
                if s.get("status") not in (None, "optimal"):
                    ax.annotate(s["status"], (s["n"], s["seconds"]), fontsize=7)
            ax.set_xlabel("observations n")
        else:
            floor = [s["seconds"] for s in pts if s["contender"] == "per-pass floor"]
            runs = [s for s in pts if s["contender"] != "per-pass floor"]
            for name in dict.fromkeys(_solver_of(s["contender"]) for s in runs):
                ss = sorted((s for s in runs if _solver_of(s["contender"]) == name),
                            key=lambda s: -s["precision"])
                ours = name.startswith("dualmaxent")
                x = [max(s["precision"], 1e-17) for s in ss]
                ax.plot(x, [s["seconds"] for s in ss], "o-" if ours else ".-",
                        lw=2.5 if ours else 1.2, ms=7 if ours else 6, label=name,
                        zorder=3 if ours else 2)
            for level in LEVELS:
                ax.axvline(level, color="grey", lw=0.8, ls=":")
            if floor:
                ax.axhline(floor[0], color="k", ls="--", lw=1,
                           label="one gradient pass (floor)")
            ax.invert_xaxis()  # more precise to the right
            ax.set_xlabel("precision reached: relative dual gradient, our measure")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylabel("wall time (s)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        if pts:
            ax.legend(fontsize=7)
    fig.suptitle(f"dualmaxent bench ({mode}): each solver at several tolerances, "
                 f"{cpu_model()}, {os.cpu_count()} cores, precision measured by our verifier")
    fig.tight_layout()
    path = out / "scaling.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main_bench(args) -> int:
    """Entry point of ``dualmaxent bench``."""
    mode = "quick" if getattr(args, "quick", False) else "full"
    mode = os.environ.get("DUALMAXENT_BENCH_MODE", mode)  # hidden: "tiny" for the tests
    if mode not in SIZES:
        mode = "quick"
    threads = os.environ.get("DUALMAXENT_BENCH_BLAS_THREADS")  # e.g. 1 on a loaded machine
    run_bench(mode=mode, out=getattr(args, "out", "figures"),
              as_json=bool(getattr(args, "json", False)),
              blas_threads=int(threads) if threads else None)
    return 0
