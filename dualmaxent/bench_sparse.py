"""``dualmaxent bench --sparse``: the estimator against the libraries on sparse designs.

Three problems of issue 20, each with an L2 penalty at ``C = 10`` (:data:`C_SPARSE`) and the
intercept unpenalised:

* two text-like ones (:func:`text_data`): a Zipf vocabulary (word ``r`` drawn with probability
  proportional to ``1 / (r + 2.7)^1.07``), each class multiplying those probabilities by its own
  preferences ``exp(z)``, ``z ~ N(0, 1)`` per class and word; a document of class ``c`` is a
  Poisson number of words drawn from class ``c``'s distribution, its row ``1 + log(count)`` per
  distinct word (log-tf), scaled to unit Euclidean norm. ``n = 2e4`` documents, ``m = 3e4``
  words, ``k = 20`` classes, about 1e6 nonzeros; and ``n = 1e5``, ``m = 1e5``, ``k = 2``, about
  5e6 nonzeros;
* a high-cardinality categorical one (:func:`categorical_data`): a 2000-level column with
  Zipf-like level frequencies, one-hot as CSR columns (no level dropped: the penalty makes the
  fit unique), and 5 standard-normal numeric columns; binary labels from a logit with a
  ``N(0, 1)`` effect per level; ``n = 1e5``.

``--quick`` (:data:`SIZES`) scales every problem down, keeping its shape: the text problems to
``n = 4e3, m = 6e3`` and ``n = 2e4, m = 2e4`` (about 2e5 and 1e6 nonzeros), the categorical to
``n = 2e4``.

Contenders: ours, ``MaxEntClassifier(C=10)`` (the certificate included in its time) at its
defaults and at ``tol`` 1e-4 and 1e-8; scikit-learn's ``LogisticRegression(C=10)`` with the
solvers ``lbfgs``, ``saga`` and ``newton-cg`` at ``tol`` 1e-4, 1e-8 and 1e-12; glum's
``GeneralizedLinearRegressor(family="binomial", alpha=1 / (C n), l1_ratio=0)`` at
``gradient_tol`` 1e-4, 1e-8 and 1e-12 on the binary problems with at most
:data:`GLUM_MAX_COLUMNS` columns (it has no multinomial family, and its IRLS forms the dense
``m x m`` Hessian; the translation of ``C`` is :mod:`dualmaxent.bench_sweep`'s). Every answer
is judged by the one precision measure of the sweep,
:func:`dualmaxent.bench_sweep.relative_gradient` (the relative gradient of the penalised
objective, from ``coef_`` and ``intercept_`` alone), and the report
gives, per problem and level (1e-4, 1e-8), the fastest run of each library at or below the
level and ``ratio`` = ours over the fastest peer's (:func:`dualmaxent.bench_sweep.summarise`),
measured in the same run.

Time caps (per run, :data:`BUDGET`): a solver's tighter tolerances are skipped, with a note, once
one of its runs took longer than the budget or stopped at its time cap (below), and are not
needed once a looser one reached 1e-8.
After a solver's first run, the next one's ``max_iter`` is the budget over its seconds per
iteration (at least :data:`MIN_ITER`), so no peer's run takes much longer than the budget; a run
that stopped at that cap is marked ``capped`` (its precision is measured all the same). Ours
has no cap (``verify`` runs the dual with its own).

Memory: ours' default fit is run once more, untimed, under ``tracemalloc`` (numpy and scipy
report their buffers to it), and its peak is reported against the bytes of the sparse ``X``
(entries and index arrays). Time: ours' default fit splits into the dual solve
(``dual_.solve_seconds``), the certificate (``certificate_.seconds``) and the rest (validation
and the data set's copy of ``X`` with its intercept column).

BLAS runs on one thread for every contender (as in the sweep: ``DUALMAXENT_BENCH_BLAS_THREADS``
sets another limit, ``0`` none); scipy's sparse products run on one thread anyway.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp

from . import design
from .bench_sweep import (_thread_limit, _chain, _machine, _plain, _tol_name, objective,
                          relative_gradient, summarise)

__all__ = ["main_sparse", "run_sparse", "text_data", "categorical_data", "make_problem",
           "format_sparse", "SIZES", "LEVELS", "TOLS", "C_SPARSE"]

#: scikit-learn's C of every problem (L2; ours: lambda = 1 / C).
C_SPARSE = 10.0
#: The precision levels of the report (relative gradient, the sweep's measure).
LEVELS = (1e-4, 1e-8)
#: The tolerances every peer is tried at; ours runs at its default and at :data:`OUR_TOLS`.
TOLS = (1e-4, 1e-8, 1e-12)
OUR_TOLS = (1e-4, 1e-8)
#: Peers' solvers.
SK_SOLVERS = ("lbfgs", "saga", "newton-cg")
#: Words per document (the Poisson mean of its tokens: about 50 distinct words a row).
TOKENS = 64
#: Per-run time budget in seconds, by size (module docstring: the caps).
BUDGET = {"full": 60.0, "quick": 10.0, "tiny": 5.0}
#: The smallest ``max_iter`` a capped run gets.
MIN_ITER = 5
#: The first run of a peer's solver: ``max_iter`` (no time per iteration is known yet).
FIRST_MAX_ITER = 10_000
#: glum runs only up to this many columns: its IRLS forms the dense (m, m) Hessian ``X^T W X``
#: (80 GB at m = 1e5).
GLUM_MAX_COLUMNS = 10_000

#: The problems of each size: (kind, parameters of its generator).
SIZES = {
    "full": [("text", {"n": 20_000, "m": 30_000, "k": 20}),
             ("text", {"n": 100_000, "m": 100_000, "k": 2}),
             ("categorical", {"n": 100_000, "levels": 2000, "numeric": 5})],
    "quick": [("text", {"n": 4_000, "m": 6_000, "k": 20}),
              ("text", {"n": 20_000, "m": 20_000, "k": 2}),
              ("categorical", {"n": 20_000, "levels": 2000, "numeric": 5})],
    "tiny": [("text", {"n": 300, "m": 400, "k": 3, "tokens": 12}),
             ("text", {"n": 400, "m": 500, "k": 2, "tokens": 12}),
             ("categorical", {"n": 600, "levels": 40, "numeric": 2})],
}


# -- data ---------------------------------------------------------------------------------------

def text_data(n: int, m: int, k: int, tokens: int = TOKENS, seed: int = 0):
    """``(X, y)``: ``n`` text-like documents over ``m`` words in ``k`` classes (module docstring).

    Parameters
    ----------
    n, m, k : int
        Documents, vocabulary size, classes.
    tokens : int
        The Poisson mean of a document's word count (plus one, so none is empty).
    seed : int

    Returns
    -------
    X : scipy.sparse.csr_array of shape (n, m)
        Log-tf rows of unit Euclidean norm.
    y : ndarray of shape (n,)
        Labels ``0 .. k-1``.
    """
    rng = np.random.default_rng([seed, n, m, k, tokens])
    y = rng.integers(0, k, n)
    zipf = 1.0 / (np.arange(m) + 2.7) ** 1.07
    lengths = rng.poisson(tokens, n) + 1
    rows, words = [], []
    for c in range(k):
        cdf = np.cumsum(zipf * np.exp(rng.standard_normal(m)))
        docs = np.flatnonzero(y == c)
        r = np.repeat(docs, lengths[docs])
        w = np.searchsorted(cdf, rng.random(r.size) * cdf[-1], side="right")
        rows.append(r)
        words.append(np.minimum(w, m - 1))
    r, w = np.concatenate(rows), np.concatenate(words)
    X = sp.csr_array((np.ones(r.size), (r, w)), shape=(n, m))
    X.sum_duplicates()
    X.data = 1.0 + np.log(X.data)
    X = design.scale_rows(X, 1.0 / np.sqrt(design.row_sq_norms(X)))
    return _int32(X), y


def categorical_data(n: int, levels: int, numeric: int, seed: int = 0):
    """``(X, y)``: a ``levels``-level column one-hot as CSR, then ``numeric`` numeric columns.

    Level ``l`` has frequency proportional to ``1 / (l + 1)^0.8``; the numeric columns are
    standard normal; ``y`` is 1 with probability ``sigmoid(e[level] + z^T b)``, ``e ~ N(0, 1)``
    per level, ``b ~ N(0, 0.5^2)``.

    Returns
    -------
    X : scipy.sparse.csr_array of shape (n, levels + numeric)
    y : ndarray of shape (n,)
    """
    rng = np.random.default_rng([seed, n, levels, numeric])
    freq = 1.0 / (np.arange(levels) + 1.0) ** 0.8
    codes = rng.choice(levels, size=n, p=freq / freq.sum())
    Z = rng.standard_normal((n, numeric))
    eta = rng.standard_normal(levels)[codes] + Z @ (0.5 * rng.standard_normal(numeric))
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)
    onehot = sp.csr_array((np.ones(n), codes, np.arange(n + 1)), shape=(n, levels))
    return _int32(sp.hstack([onehot, sp.csr_array(Z)], format="csr")), y


def _int32(X) -> sp.csr_array:
    """``X`` as CSR with 32-bit indices, as scikit-learn's vectorizers make it (its ``saga``
    refuses 64-bit ones)."""
    X = sp.csr_array(X)
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    return X


def make_problem(kind: str, params: dict):
    """``(label, X, y)`` of one problem of :data:`SIZES` (seeded: the same in every process)."""
    if kind == "text":
        X, y = text_data(**params)
        label = f"text n={_e(params['n'])} m={_e(params['m'])} k={params['k']}"
    elif kind == "categorical":
        X, y = categorical_data(**params)
        label = (f"categorical n={_e(params['n'])} {params['levels']} levels + "
                 f"{params['numeric']} numeric k=2")
    else:
        raise ValueError(f"unknown problem kind {kind!r}; known: text, categorical")
    return label, X, y


def _e(x) -> str:
    """``2e4`` for 20000, the number itself when it is not a round power."""
    text = f"{x:.0e}".replace("e+0", "e")
    return text if float(text) == x else str(x)


# -- contenders: each fit(X, y, C, max_iter) returns (coef, intercept, iterations, extra) ---------

def _ours(tol):
    def fit(X, y, C, max_iter):
        from .estimators import MaxEntClassifier

        model = MaxEntClassifier(C=C, tol=tol).fit(X, y)
        cert = model.certificate_
        return (model.coef_, model.intercept_, int(model.n_iter_[0]),
                {"cert_seconds": cert.seconds, "solve_seconds": model.dual_.solve_seconds,
                 "cert_ok": bool(cert.ok), "method": model.dual_.method})
    return fit


def _sk(solver, tol):
    def fit(X, y, C, max_iter):
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=C, solver=solver, tol=tol, max_iter=max_iter).fit(X, y)
        return model.coef_, model.intercept_, int(np.max(model.n_iter_)), {}
    return fit


def _glum(tol):
    def fit(X, y, C, max_iter):
        from glum import GeneralizedLinearRegressor

        classes = np.unique(y)
        model = GeneralizedLinearRegressor(family="binomial", alpha=1.0 / (C * len(y)),
                                           l1_ratio=0, gradient_tol=tol, max_iter=max_iter)
        model.fit(X, (y == classes[1]).astype(np.float64))
        return (np.asarray(model.coef_)[None, :], np.array([model.intercept_]),
                int(getattr(model, "n_iter_", 0) or 0), {})
    return fit


def contenders(k: int, glum: bool = True) -> dict:
    """``{name: fit}`` in the order they run: ours, then each peer's solver, looser tolerances
    first (names as in the sweep: ``"sklearn saga tol=1e-08"``)."""
    fits = {"dualmaxent default": _ours(None),
            **{f"dualmaxent {_tol_name(t)}": _ours(t) for t in OUR_TOLS}}
    for solver in SK_SOLVERS:
        fits.update({f"sklearn {solver} {_tol_name(t)}": _sk(solver, t) for t in TOLS})
    if glum and k == 2:
        fits.update({f"glum {_tol_name(t)}": _glum(t) for t in TOLS})
    return fits


# -- running ------------------------------------------------------------------------------------

def _run(name, fit, X, y, C, max_iter, keep_coef):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coef, intercept, iters, extra = fit(X, y, C, max_iter)
    seconds = time.perf_counter() - t0
    row = {"contender": name, "library": name.split()[0], "seconds": seconds,
           "iterations": iters, "max_iter": None if name.startswith("dualmaxent") else max_iter,
           "capped": (not name.startswith("dualmaxent")) and iters >= max_iter,
           "precision": relative_gradient(X, y, coef, intercept, C),
           "objective": objective(X, y, coef, intercept, C), **extra}
    if keep_coef:
        row["coef"], row["intercept"] = np.asarray(coef), np.asarray(intercept)
    return row


def run_problem(label, X, y, fits, budget, C=C_SPARSE, keep_coef=False, log=None):
    """Run ``fits`` on one problem; return ``(rows, notes)`` (module docstring: the caps)."""
    log = log or (lambda line: None)
    rows, notes, state = [], [], {}
    for name, fit in fits.items():
        chain, tol = _chain(name)
        done = state.get(chain)
        if done is not None and tol is not None:
            if done[0] == "slow":
                notes.append(f"{name} on {label}: skipped ({done[1]} took {done[2]:.1f} s, "
                             f"over the budget of {budget:g} s or stopped at its time cap)")
                continue
            if done[0] == "reached":
                notes.append(f"{name} on {label}: not needed ({done[1]} already reached "
                             f"{min(LEVELS):.0e})")
                continue
        max_iter = FIRST_MAX_ITER
        if done is not None and done[0] == "ran" and done[3] > 0:
            max_iter = max(MIN_ITER, int(budget / done[3]))
        try:
            row = _run(name, fit, X, y, C, max_iter, keep_coef)
        except Exception as exc:  # a contender's failure is a result, not a crash
            notes.append(f"{name} on {label}: failed ({type(exc).__name__}: "
                         f"{(str(exc).splitlines() or [''])[0]})")
            continue
        rows.append({"label": label, **row})
        log(f"  {name}: {row['seconds']:.2f} s, precision {row['precision']:.1e}"
            + (" (capped)" if row["capped"] else ""))
        if row["capped"]:
            notes.append(f"{name} on {label}: stopped at max_iter={max_iter}"
                         + (" (the time cap)" if max_iter != FIRST_MAX_ITER else ""))
        if tol is not None:
            per_iter = row["seconds"] / max(row["iterations"], 1)
            state[chain] = (("reached", name) if row["precision"] <= min(LEVELS) else
                            ("slow", name, row["seconds"]) if row["seconds"] > budget
                            or row["capped"] else
                            ("ran", name, row["seconds"], per_iter))
    return rows, notes


def peak_memory(fit, X, y, C=C_SPARSE) -> dict:
    """Ours' peak allocation during one fit (``tracemalloc``) against the bytes of ``X``."""
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit(X, y, C, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    x_bytes = design.nbytes(X)
    return {"peak_bytes": int(peak), "x_bytes": x_bytes, "ratio": peak / x_bytes}


def run_sparse(size: str = "full", glum: bool = True, budget: float | None = None,
               blas_threads: int | None = 1, keep_coef: bool = False, log=None) -> dict:
    """Run the sparse benchmark at ``size`` (a key of :data:`SIZES`).

    Returns
    -------
    dict
        ``machine``, ``problems`` (label, n, m, k, nonzeros, X's bytes, ours' memory and time
        split), ``rows`` (one per run), ``summary`` (:func:`dualmaxent.bench_sweep.summarise`
        per problem and level), ``notes``, ``budget``, ``seconds``. With ``keep_coef`` each row
        also holds the run's ``coef`` and ``intercept`` (the tests recompute its precision).
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}; got {size!r}")
    log = log or (lambda line: None)
    budget = BUDGET[size] if budget is None else budget
    limit = _thread_limit(blas_threads)
    t_start = time.perf_counter()
    try:
        machine = _machine(blas_threads)
        _warm_up(glum)
        problems, rows, notes = [], [], []
        if glum:
            notes.append("glum: binary problems only (it has no multinomial family)")
        for kind, params in SIZES[size]:
            label, X, y = make_problem(kind, params)
            k = len(np.unique(y))
            log(f"{label}: {X.nnz} nonzeros")
            use_glum = glum and X.shape[1] <= GLUM_MAX_COLUMNS
            if glum and k == 2 and not use_glum:
                notes.append(f"glum on {label}: not run (its IRLS forms the dense m x m Hessian, "
                             f"{X.shape[1] ** 2 * 8 / 1e9:.0f} GB here; it runs up to m = "
                             f"{GLUM_MAX_COLUMNS})")
            fits = contenders(k, use_glum)
            pr, pn = run_problem(label, X, y, fits, budget, keep_coef=keep_coef, log=log)
            for r in pr:
                r.update(data=kind, n=X.shape[0], k=k, m=X.shape[1], penalty="L2")
            rows += pr
            notes += pn
            info = {"label": label, "kind": kind, "n": X.shape[0], "m": X.shape[1], "k": k,
                    "nonzeros": int(X.nnz), "x_bytes": design.nbytes(X)}
            ours = next((r for r in pr if r["contender"] == "dualmaxent default"), None)
            if ours is not None:
                info["time"] = {"fit": ours["seconds"], "solve": ours["solve_seconds"],
                                "certificate": ours["cert_seconds"],
                                "rest": ours["seconds"] - ours["solve_seconds"]
                                - ours["cert_seconds"], "method": ours["method"]}
                info["memory"] = peak_memory(fits["dualmaxent default"], X, y)
            problems.append(info)
            del X, y
        summary = summarise(rows, LEVELS)
    finally:
        if limit is not None:
            limit.restore_original_limits()
    return {"machine": machine, "problems": problems, "rows": rows, "summary": summary,
            "notes": notes, "budget": budget, "seconds": time.perf_counter() - t_start}


def _warm_up(glum):
    """Every contender once on a tiny problem, untimed: imports and first-call costs."""
    _, X, y = make_problem(*SIZES["tiny"][1])
    for fit in contenders(2, glum).values():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit(X, y, C_SPARSE, 100)
        except Exception:  # noqa: BLE001 - a failure shows in the measured run
            pass


# -- the report ---------------------------------------------------------------------------------

def _sec(entry) -> str:
    return "-" if entry is None else f"{entry['seconds']:.2f}"


def _run_name(entry) -> str:
    if entry is None:
        return ""
    return entry["contender"].split(" ", 1)[1].replace("tol=", "")


def format_sparse(result) -> str:
    """The text report: the equal-precision table, every run, ours' memory and time, notes."""
    m = result["machine"]
    lines = [f"machine: {m['cpu']}, {m['cores']} cores, BLAS {m['blas']}, "
             f"load average {m['load_at_start']:.2f} at start, "
             f"BLAS threads {m['blas_threads'] or 'unlimited'}; numpy {m['numpy']}, "
             f"scikit-learn {m['scikit-learn']}, glum {m['glum']}; commit {m['commit']}; "
             f"C = {C_SPARSE:g} (L2), per-run budget {result['budget']:g} s", "",
             "Equal precision: the fastest run of each library at or below the level (relative "
             "gradient, bench_sweep.relative_gradient); ratio = ours / fastest peer"]
    head = (f"{'problem':<46} {'level':>5}  {'ours s':>7} {'(run)':<9} {'sklearn s':>9} "
            f"{'(run)':<20} {'glum s':>7} {'ratio':>6}  fastest peer")
    lines += [head, "-" * len(head)]
    certified = {(r["label"], r["contender"]): r.get("cert_ok") for r in result["rows"]}
    for e in result["summary"]:
        o, s = e["dualmaxent"], e["sklearn"]
        ratio = "" if e["ratio"] is None else f"{e['ratio']:.2f}"
        run = _run_name(o) + ("*" if o and not certified[(e["label"], o["contender"])] else "")
        lines.append(f"{e['label']:<46} {e['level']:>5.0e}  {_sec(o):>7} {run:<9} "
                     f"{_sec(s):>9} {_run_name(s):<20} {_sec(e['glum']):>7} {ratio:>6}  "
                     f"{e['fastest_peer'] or 'no peer reaches it'}")
    if any(ok is False for ok in certified.values()):
        lines.append("* ours' certificate is not ok for this run (its tolerance: 1e-6, or the "
                     "fit's tol when looser)")
    lines += ["", "Every run (seconds of one fit with X in memory; precision recomputed from its "
              "coefficients):"]
    head = f"{'problem':<46} {'run':<28} {'seconds':>8} {'iters':>6} {'precision':>9}  note"
    lines += [head, "-" * len(head)]
    for r in result["rows"]:
        note = ("capped at max_iter" if r["capped"] else
                f"certificate ok: {r['cert_ok']}" if "cert_ok" in r else "")
        lines.append(f"{r['label']:<46} {r['contender']:<28} {r['seconds']:>8.2f} "
                     f"{r['iterations'] if r['iterations'] is not None else '-':>6} "
                     f"{r['precision']:>9.1e}  {note}")
    lines += ["", "Ours' default fit: memory (tracemalloc peak, a separate untimed run) and where "
              "its time goes:"]
    for p in result["problems"]:
        mem, t = p.get("memory"), p.get("time")
        if mem is None:
            lines.append(f"{p['label']}: ours' default fit failed")
            continue
        lines.append(f"{p['label']}: X {p['nonzeros']} nonzeros, {mem['x_bytes'] / 1e6:.1f} MB; "
                     f"peak {mem['peak_bytes'] / 1e6:.1f} MB = {mem['ratio']:.2f} x X; "
                     f"fit {t['fit']:.2f} s = solve ({t['method']}) {t['solve']:.2f} s + "
                     f"certificate {t['certificate']:.2f} s + validation and setup "
                     f"{t['rest']:.2f} s")
    lines += [""] + [f"note: {n}" for n in result["notes"]]
    lines.append(f"({result['seconds']:.0f} s in all)")
    return "\n".join(lines)


def main_sparse(args) -> int:
    """``dualmaxent bench --sparse [--quick] [--json]``."""
    size = "quick" if getattr(args, "quick", False) else "full"
    threads = os.environ.get("DUALMAXENT_BENCH_BLAS_THREADS")
    threads = int(threads) if threads else 1

    def log(line):
        print(line, file=sys.stderr, flush=True)

    log(f"dualmaxent bench --sparse{' --quick' if size == 'quick' else ''}: {os.cpu_count()} "
        f"cores, BLAS threads {threads or 'unlimited'}")
    result = run_sparse(size, blas_threads=threads, log=log)
    if getattr(args, "json", False):
        rows = [_plain({k: v for k, v in r.items() if k not in ("coef", "intercept")})
                for r in result["rows"]]
        print(json.dumps({**result, "rows": rows}, indent=1, default=float))
        return 0
    print(format_sparse(result))
    return 0
