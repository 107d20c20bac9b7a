"""``dualmaxent bench --sweep``: the estimator against the libraries, at the sizes users fit.

Where :mod:`dualmaxent.bench` times the dual solver on two large jobs, the sweep times what a
scikit-learn user runs, ``MaxEntClassifier().fit(X, y)``, *certificate included*, over a grid of
sizes: ``n`` in 1e2 .. 1e6 observations, ``k`` in {2, 3, 10} classes, ``m`` in {10, 50}
features (``m`` counts the features; every fit adds an unpenalised intercept, so a class has
``m + 1`` coefficients), both without a penalty and with L2 at ``C = 1``; and on two real sets,
scikit-learn's ``load_digits`` (``X / 16``) and ``load_breast_cancer`` (standardised).

The common objective. scikit-learn's ``LogisticRegression(C=C)`` minimises
``C * sum_j logloss_j + ||coef||^2 / 2`` (intercept unpenalised; multinomial for k > 2, every
class's coefficients penalised: the symmetric solution); ``MaxEntClassifier(C=C)`` maximises the
summed log-likelihood minus ``||coef||^2 / (2 C)``, the same problem divided by ``-C``; glum's
``GeneralizedLinearRegressor(family="binomial", alpha=a, l1_ratio=0)`` minimises
``(1 / n) sum_j logloss_j + (a / 2) ||coef||^2``, the same problem divided by ``C n`` when
``a = 1 / (C n)``. Unpenalised: ``C = inf`` for scikit-learn, ``alpha = 0`` for glum.
:func:`objective` evaluates the first form at any contender's coefficients, and the sweep reports
how far apart the answers of the runs that reach 1e-8 are in it (``objective_spread``): a wrong
translation of ``C`` or ``alpha`` shows there, and in the precision.

One precision for everyone. :func:`relative_gradient` computes, in float64, from ``coef_`` and
``intercept_`` alone, ``max |grad| / (1 + max |X1^T Y|)`` with ``grad`` the gradient of the
objective divided by ``C`` (``X1^T (Y - P) - coef / C`` on the feature rows), sums over the
observations, ``X1 = [X, 1]`` and ``Y`` the one-hot labels (the 0/1 label of the second class
for two classes, one vector of log-odds). For more than two classes the last class's entry is
left out on the unpenalised rows (the intercept; every row without a penalty), where the
gradients of the k classes sum to zero: this is :func:`dualmaxent.certify`'s ``dual_gradient``
(``certify(Dataset.from_arrays(X, y), theta, l2=1 / C).dual_gradient``), computed in one pass.

Contenders: ours at its defaults and at ``tol`` 1e-4, 1e-8 and 1e-12; scikit-learn's
``lbfgs``, ``newton-cg`` and ``newton-cholesky`` at ``tol`` 1e-4, 1e-8 and 1e-12
(``max_iter=100_000``); the same under scikit-learn-intelex (``sklearnex.patch_sklearn()`` in
one subprocess, :class:`_Peer`; its log says whether oneDAL ran or fell back to scikit-learn);
glum at ``gradient_tol`` 1e-4, 1e-8 and 1e-12 on the binary jobs (no multinomial family). Every
time is a whole ``fit`` with the data in memory, the best of up to :data:`REPEATS` runs (fewer
when one run is long: :data:`REPEAT_BUDGET`), taken round by round over the job's contenders.
Each (job, precision level) reports the fastest run of each library whose precision is at or
below the level, and ``ratio`` = ours over the fastest peer's, measured in the same run of the
sweep.

What is not run, and says so (:func:`run_job`): a run predicted to take more than
:data:`MAX_SECONDS` (its own time at the previous ``n``, scaled linearly; ``skipped: ...``); a
tighter tolerance of a solver whose looser one already reached 1e-8 (it cannot be the fastest to
a level: ``not needed``); from ``n = 1e5`` on, a run that was :data:`DOMINATED` times slower than
its library's fastest run to every level at the previous ``n`` (its own time there, or its last
time scaled; ``dominated``; ours' default always runs); an sklearnex run whose solver fell back
to scikit-learn's own code on the same job at a smaller ``n`` (oneDAL accelerates ``lbfgs`` with
L2 only, here); unpenalised jobs on separated data, where no optimum exists (dualmaxent's
separation LP finds them; the solvers would iterate until ``max_iter``). The sklearnex runs of
a job come right after the others' of the same job (the subprocess waits in between): a shared
machine's slow minutes then slow both sides of a ratio alike.

BLAS runs on one thread for every contender (``threadpoolctl``; ``DUALMAXENT_BENCH_BLAS_THREADS``
sets another limit, ``0`` none): on a shared 2-core machine multi-threaded OpenBLAS measures the
load, not the solver (digits, ``lbfgs``: 23 s with two threads under load, 0.19 s with one).
Ours' certificate sums its passes on two Python threads; oneDAL (sklearnex) uses its own threads.
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
from .bench import blas_kernels, cpu_model

__all__ = ["main_sweep", "run_sweep", "relative_gradient", "objective", "make_data",
           "real_data", "gridsearch_row", "prediction_rows", "format_prediction", "format_sweep",
           "format_markdown", "plot_sweep", "NS", "LEVELS"]

#: Observations of the synthetic jobs (``--quick``: :data:`QUICK_NS`).
NS = (100, 1_000, 10_000, 100_000, 1_000_000)
QUICK_NS = (100, 1_000, 10_000)
#: Classes and features (the intercept comes on top) of the synthetic jobs.
KS = (2, 3, 10)
MS = (10, 50)
#: ``None``: unpenalised; ``"l2"``: L2 with ``C = C_L2``.
PENALTIES = ("l2", None)
C_L2 = 1.0
#: The precision levels of the report (relative gradient, :func:`relative_gradient`).
LEVELS = (1e-4, 1e-8)
#: The tolerances every solver is tried at.
TOLS = (1e-4, 1e-8, 1e-12)
#: A run predicted to take longer than this (seconds) is skipped (``--quick``: QUICK_MAX_SECONDS).
MAX_SECONDS = 60.0
QUICK_MAX_SECONDS = 10.0
#: Best of this many runs, while one contender's runs total at most REPEAT_BUDGET seconds.
REPEATS = 3
REPEAT_BUDGET = 6.0
#: The real sets.
REAL = ("digits", "breast_cancer")
LIBRARIES = ("dualmaxent", "sklearn", "sklearnex", "glum")


# -- data ---------------------------------------------------------------------------------------

def make_data(n: int, m: int, k: int, seed: int = 0):
    """``(X, y)``: ``m`` standardised Gaussian features, labels ``0 .. k-1`` drawn from a true
    multinomial logit (coefficients ``N(0, (1.5 / sqrt(m + 1))^2)`` and intercepts, so the linear
    predictor has a standard deviation about 1.5 and the classes overlap; Gumbel-max sampling).
    Seeded by ``(seed, n, m, k)``: the same arrays in every process."""
    rng = np.random.default_rng([seed, n, m, k])
    X = rng.standard_normal((n, m))
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    theta = rng.standard_normal((m + 1, k)) * (1.5 / np.sqrt(m + 1))
    eta = X @ theta[:m] + theta[m]
    eta += rng.gumbel(size=eta.shape)
    y = eta.argmax(axis=1)
    return X, y


def real_data(name: str):
    """``(X, y)`` of scikit-learn's ``load_digits`` (``X / 16``) or ``load_breast_cancer``
    (each column standardised)."""
    from sklearn import datasets

    if name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        return X / 16.0, y
    if name == "breast_cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
        return (X - X.mean(axis=0)) / X.std(axis=0), y
    raise ValueError(f"unknown real data set {name!r}")


def _separated(X, y) -> bool:
    """Whether no unpenalised optimum exists: the separation LP
    (:func:`dualmaxent.separation.detect_separation`), run where separation is plausible,
    ``n <= 10 k (m + 1)``; beyond, ours' certificate decides after its fit."""
    from .data import Dataset
    from .separation import detect_separation

    k = len(np.unique(y))
    if len(y) > 10 * k * (X.shape[1] + 1):
        return False
    # (the sweep's labels are class codes 0..k-1 by construction, not counts: no count warning)
    data = Dataset._from_arrays(X, y, None, True, None, "categorical", "arrays",
                                count_warning=False)
    return bool(detect_separation(data).separated)


def _fingerprint(X, y) -> list:
    """A few numbers that differ when two processes did not build the same data."""
    return [float(X[:, 0].sum()), float(X[-1].sum()), int(y.sum()), int(len(y))]


# -- the common objective and the one precision ----------------------------------------------

def _theta(coef, intercept):
    """``(m + 1, q)``: the coefficients stacked over the intercepts (q = 1 for two classes)."""
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(intercept, dtype=np.float64))
    return coef, intercept


def _labels(y, q):
    """The one-hot (n, k) labels, or the 0/1 label of the second class (n, 1) when q == 1."""
    classes, codes = np.unique(y, return_inverse=True)
    if q == 1:
        if len(classes) != 2:
            raise ValueError("one vector of coefficients needs two classes")
        return (codes == 1).astype(np.float64)[:, None]
    Y = np.zeros((len(codes), len(classes)))
    Y[np.arange(len(codes)), codes] = 1.0
    return Y


def _float_design(X):
    """``X`` as float64: a sparse one kept sparse (its products are dense either way)."""
    from .design import is_sparse

    return X.astype(np.float64, copy=False) if is_sparse(X) else np.asarray(X, dtype=np.float64)


def _eta_and_mean(X, coef, intercept):
    eta = X @ coef.T + intercept
    if coef.shape[0] == 1:
        return eta, nx.sigmoid(eta)
    return eta, nx.softmax(eta)


def relative_gradient(X, y, coef, intercept, C: float | None = None) -> float:
    """``max |grad| / (1 + max |X1^T Y|)`` at ``(coef, intercept)`` (module docstring), float64.

    Parameters
    ----------
    X : array_like (n, m), without the intercept column
    y : array_like (n,), any labels (sorted as ``np.unique`` sorts them)
    coef : array_like (1, m) for two classes (log-odds of the second), (k, m) otherwise
    intercept : array_like (1,) or (k,)
    C : float or None
        scikit-learn's C; None (or inf) for no penalty.

    ``X`` may be a scipy.sparse matrix or array: it is used as it is, never densified.
    """
    X = _float_design(X)
    coef, intercept = _theta(coef, intercept)
    q = coef.shape[0]
    Y = _labels(y, q)
    _, mu = _eta_and_mean(X, coef, intercept)
    R = Y - mu
    G = np.vstack([X.T @ R, R.sum(axis=0)[None, :]])  # (m + 1, q)
    scale = 1.0 + max(float(np.abs(X.T @ Y).max(initial=0.0)), float(np.abs(Y.sum(axis=0)).max()))
    penalised = C is not None and np.isfinite(C)
    if penalised:
        G[:-1] -= coef.T / C
    if q > 1:  # the last class is pinned on the unpenalised rows (certify's free entries)
        free = np.ones(G.shape, dtype=bool)
        free[-1, -1] = False  # the intercept row
        if not penalised:
            free[:, -1] = False
        G = G[free]
    return float(np.abs(G).max(initial=0.0)) / scale


def objective(X, y, coef, intercept, C: float | None = None) -> float:
    """scikit-learn's objective ``C * sum logloss + ||coef||^2 / 2`` (C None: ``sum logloss``)."""
    X = _float_design(X)
    coef, intercept = _theta(coef, intercept)
    q = coef.shape[0]
    Y = _labels(y, q)
    eta = X @ coef.T + intercept
    if q == 1:
        loss = float(np.sum(nx.softplus(eta) - Y * eta))
    else:
        loss = float(np.sum(nx.logsumexp(eta)) - np.sum(Y * eta))
    if C is None or not np.isfinite(C):
        return loss
    return C * loss + 0.5 * float(np.sum(coef * coef))


# -- contenders ---------------------------------------------------------------------------------
# Each fit returns (coef, intercept, iterations, extra); names are "library solver tol=...".

def _ours(tol):
    def fit(X, y, C):
        from .estimators import MaxEntClassifier

        model = MaxEntClassifier(C=np.inf if C is None else C, tol=tol)  # inf: no penalty
        model.fit(X, y)
        cert = model.certificate_
        return (model.coef_, model.intercept_, int(model.n_iter_[0]),
                {"cert_seconds": cert.seconds, "cert_ok": bool(cert.ok),
                 "attained": bool(cert.attained), "method": model.dual_.method})
    return fit


def _sk(solver, tol):
    def fit(X, y, C):
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=np.inf if C is None else C, solver=solver, tol=tol,
                                   max_iter=100_000)
        model.fit(X, y)
        extra = {"module": type(model).__module__}
        return model.coef_, model.intercept_, int(np.max(model.n_iter_)), extra
    return fit


def _glum(tol):
    def fit(X, y, C):
        from glum import GeneralizedLinearRegressor

        classes = np.unique(y)
        if len(classes) != 2:
            raise _Skip("glum has no multinomial family")
        alpha = 0.0 if C is None else 1.0 / (C * len(y))  # its loss is a mean: 1 / (C n)
        model = GeneralizedLinearRegressor(family="binomial", alpha=alpha, l1_ratio=0,
                                           gradient_tol=tol, max_iter=10_000)
        model.fit(X, (y == classes[1]).astype(np.float64))
        return (np.asarray(model.coef_)[None, :], np.array([model.intercept_]),
                getattr(model, "n_iter_", None), {})
    return fit


class _Skip(Exception):
    """A contender that does not apply to a job."""


def _e(x) -> str:
    """``1e5`` rather than ``1e+05``."""
    return f"{x:.0e}".replace("e+0", "e").replace("e-0", "e-")


def _tol_name(t):
    return f"tol={t:.0e}"


def contenders(library: str) -> dict:
    """``{name: fit}`` of one library, in the order they run (looser tolerances first)."""
    if library == "dualmaxent":
        return {"dualmaxent default": _ours(None),
                **{f"dualmaxent {_tol_name(t)}": _ours(t) for t in TOLS}}
    if library in ("sklearn", "sklearnex"):
        return {f"{library} {s} {_tol_name(t)}": _sk(s, t)
                for s in ("lbfgs", "newton-cg", "newton-cholesky") for t in TOLS}
    if library == "glum":
        return {f"glum {_tol_name(t)}": _glum(t) for t in TOLS}
    raise ValueError(library)


def _chain(name: str) -> tuple[str, float | None]:
    """The solver a run belongs to and its tolerance (None: a default)."""
    if " tol=" not in name:
        return name, None
    head, tol = name.rsplit(" tol=", 1)
    return head, float(tol)


# -- running ------------------------------------------------------------------------------------

class _AccelLog:
    """Collects sklearnex's "running accelerated version" / "fallback" log lines."""

    def __init__(self):
        import logging

        self.lines = []
        handler = logging.Handler(level=logging.INFO)
        handler.emit = lambda record: self.lines.append(record.getMessage())
        logger = logging.getLogger("sklearnex")
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False

    def verdict(self) -> str:
        fell = any("fallback" in s for s in self.lines)
        fast = any("accelerated" in s for s in self.lines)
        self.lines.clear()
        return "fallback" if fell else "oneDAL" if fast else "unknown"


def warm_up(fits) -> None:
    """Run every fit once on small data, untimed: imports, JIT compilation and first-call
    caches are then paid before the first measured run."""
    for k in (2, 3):
        X, y = make_data(200, 3, k, seed=1)
        for fit in fits.values():
            for C in (None, C_L2):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        fit(X, y, C)
                except Exception:  # noqa: BLE001 - a failure shows in the measured run
                    pass


class _Runs:
    """The runs of one contender on one job: each run's wall clock and CPU time, and the
    fastest run's own answer (its precision, and ours' certificate seconds, a part of the time
    reported). The CPU time is above the wall clock when the fit ran on more cores than the
    one each contender is given (:func:`_thread_limit`)."""

    def __init__(self, name, fit):
        self.name, self.fit = name, fit
        self.times, self.cpu, self.backends = [], [], []
        self.out = None
        #: set when a repeat raised (the runs made stand)
        self.stopped = False
        self._judged = None  # (the fastest answer, its precision and objective)

    def once(self, X, y, C, accel=None) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self.fit(X, y, C)
        self.times.append(time.perf_counter() - t0)
        self.cpu.append(time.process_time() - c0)
        if accel is not None:  # (this run's log lines, read before another contender's)
            self.backends.append(accel.verdict())
        if self.out is None or self.times[-1] < min(self.times[:-1]):
            self.out = out

    def more(self, repeats, budget) -> bool:
        """Whether another run is wanted: fewer than ``repeats``, and the next (as long as the
        last) within ``budget`` seconds of them all."""
        return (not self.stopped and len(self.times) < repeats
                and sum(self.times) + self.times[-1] <= budget)

    def row(self, X, y, C) -> dict:
        coef, intercept, iters, extra = self.out
        if self._judged is None or self._judged[0] is not self.out:  # (a pass over X each)
            self._judged = (self.out, relative_gradient(X, y, coef, intercept, C),
                            objective(X, y, coef, intercept, C))
        best = int(np.argmin(self.times))
        row = {"contender": self.name, "library": self.name.split()[0],
               "seconds": self.times[best], "cpu_seconds": self.cpu[best],
               "repeats": len(self.times), "iterations": iters,
               "precision": self._judged[1], "objective": self._judged[2], **extra}
        if self.backends:  # (any run that fell back: the solver falls back)
            row["backend"] = next((b for b in ("fallback", "oneDAL") if b in self.backends),
                                  "unknown")
        return row


def run_job(job: dict, X, y, fits: dict, history: dict, max_seconds: float,
            repeats: int = REPEATS, budget: float = REPEAT_BUDGET, accel=None):
    """Run ``fits`` on one job; return ``(rows, notes)``.

    ``history`` (updated here) remembers, per contender and job without its ``n``, the seconds
    of its last run, and the runs of the last ``n``. A run is skipped, with a note, when

    * its time at a smaller ``n``, scaled linearly, exceeds ``max_seconds`` (or it was skipped
      there), or a looser tolerance of the same solver was skipped so;
    * a looser tolerance of the same solver already reached the smallest level (``not needed``:
      it cannot be the fastest run to any level);
    * from ``n >= PRUNE_FROM_N``: at the previous ``n`` it was (or, not run there, its last
      time scaled linearly was) at least ``DOMINATED`` times slower than its library's fastest
      run to every level (:func:`_dominated`; ours' default always runs);
    * under sklearnex, it fell back to scikit-learn's own code at a smaller ``n`` (its log
      says so): the run is then stock scikit-learn's, measured in the sklearn rows.
    """
    C = job["C"]
    key = _key(job)
    rows, notes, done, ran = [], [], {}, []
    for name, fit in fits.items():
        chain, tol = _chain(name)
        prev = done.get(chain)
        last = history.get((name, key))
        if prev is not None and tol is not None:
            if prev[0] == "skipped" and not isinstance(last, tuple):  # no time of its own
                notes.append(f"{name} on {job['label']}: skipped (a looser tolerance was)")
                continue
            if prev[0] == "reached":
                notes.append(f"{name} on {job['label']}: not needed ({prev[1]} already reached "
                             f"{min(LEVELS):.0e})")
                continue
        predicted = (last[1] * job["n"] / last[0] if isinstance(last, tuple) else None)
        if predicted is None and prev is not None and prev[0] == "ran":
            predicted = prev[2]  # a tighter tolerance takes at least the looser one's time
        if last == "skipped" or (predicted is not None and predicted > max_seconds):
            why = ("it was skipped at a smaller n" if last == "skipped" else
                   f"predicted {predicted:.0f} s > {max_seconds:.0f} s")
            notes.append(f"{name} on {job['label']}: skipped ({why})")
            history[(name, key)] = "skipped"
            done[chain] = ("skipped",)
            continue
        beaten = _dominated(name, job, history.get(("runs", key)), last)
        fell = history.get(("fallback", name, key))
        if fell is not None and fell < job["n"]:
            beaten = (f"it fell back to scikit-learn's own code at n={fell:.0e}: the same run as "
                      "sklearn's").replace("e+0", "e")
        if beaten:
            notes.append(f"{name} on {job['label']}: skipped ({beaten})")
            continue
        runs = _Runs(name, fit)
        try:
            runs.once(X, y, C, accel)
        except _Skip:
            continue
        except Exception as exc:  # a contender's failure is a result, not a crash
            notes.append(f"{name} on {job['label']}: failed ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})")
            continue
        ran.append(runs)
        if tol is not None:
            row = runs.row(X, y, C)
            done[chain] = (("reached", name) if row["precision"] <= min(LEVELS) else
                           ("ran", name, row["seconds"]))
    # the repeats round by round, each contender once a round: a slow spell of this shared
    # machine then costs each contender a run, not one contender all of its own (in a sweep
    # of bd2fa2c, three classes, n = 1e3, L2: our three contenders' runs all at 8 ms, in
    # every other run 3.4 to 4.3, while the stock runs after them were not slowed)
    while True:
        wanted = [r for r in ran if r.more(repeats, budget)]
        if not wanted:
            break
        for runs in wanted:
            try:
                runs.once(X, y, C, accel)
            except Exception:  # (it ran once: the row stands on the runs it made)
                runs.stopped = True
    for runs in ran:
        row = runs.row(X, y, C)
        rows.append({**_public_job(job), **row})
        history[(runs.name, key)] = (job["n"], row["seconds"])
        if row.get("backend") == "fallback":
            history[("fallback", runs.name, key)] = job["n"]
    record = history.get(("runs", key))
    same = record is not None and record["n"] == job["n"]
    history[("runs", key)] = {"n": job["n"], "rows": (record["rows"] if same else []) + [
        (r["contender"], r["seconds"], r["precision"]) for r in rows]}
    return rows, notes


#: Dominance pruning (:func:`run_job`): from this n on, a run that was this many times slower
#: than its library's fastest at every level, at the previous n, is not run again.
PRUNE_FROM_N = 100_000
DOMINATED = 1.5


def _dominated(name, job, record, last=None) -> str | None:
    """Why ``name`` need not run on ``job``, or None.

    ``record`` holds the runs of the previous ``n`` on the same job; ``last`` is ``(n, seconds)``
    of ``name``'s own last run, scaled linearly to that ``n`` when ``name`` did not run there.
    Dominated: at least :data:`DOMINATED` times slower than its library's fastest run to *every*
    level that some run of the library reached (whether ``name`` reached it or not: the times of
    a solver's runs scale alike in ``n``, its precision need not).
    """
    if (job["n"] < PRUNE_FROM_N or record is None or record["n"] >= job["n"]
            or name == "dualmaxent default"):
        return None
    lib = name.split()[0]
    runs = [r for r in record["rows"] if r[0].split()[0] == lib]
    mine = next((r[1] for r in runs if r[0] == name), None)
    how = "it was"
    if mine is None and isinstance(last, tuple) and last[0] < record["n"]:
        mine, how = last[1] * record["n"] / last[0], f"its time at n={last[0]:.0e}, scaled, was"
    if mine is None:
        return None
    bests = [min(r[1] for r in runs if r[2] <= level) for level in LEVELS
             if any(r[2] <= level for r in runs)]
    if not bests or any(mine < DOMINATED * b for b in bests):
        return None
    return (f"dominated: at n={record['n']:.0e} {how} {DOMINATED:g}x or more slower than "
            f"{lib}'s fastest run to each level").replace("e+0", "e")


def _key(job) -> str:
    return f"{job['data']} k={job['k']} m={job['m']} {job['penalty']}"


def _public_job(job) -> dict:
    return {k: job[k] for k in ("label", "data", "n", "k", "m", "penalty")}


def _job(data, n, k, m, penalty) -> dict:
    pen = "L2" if penalty else "none"
    return {"data": data, "n": n, "k": k, "m": m, "penalty": pen,
            "C": C_L2 if penalty else None,
            "label": (f"{data} n={n:.0e}".replace("e+0", "e") if data == "synthetic"
                      else f"{data} n={n}") + f" k={k} m={m} {pen}"}


def _load(job):
    if job["data"] == "synthetic":
        return make_data(job["n"], job["m"], job["k"])
    return real_data(job["data"])


def _child() -> None:
    """A peer library's subprocess (:class:`_Peer`): its settings on stdin's first line, then
    one job a line; for each, one JSON line per row and note, then ``done``. It prints
    ``ready`` once its contenders are warmed up, and reads the next job only when the parent
    has run its own: the two processes never run at once."""
    spec = json.loads(sys.stdin.readline())
    fits = contenders(spec["library"])
    warm_up(fits)
    # (after the warm-up, which loaded every library and its thread pools)
    _thread_limit(spec["blas_threads"], onedal=spec["patch"])
    accel = _AccelLog() if spec["patch"] else None
    history = {}
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        t0 = time.perf_counter()
        X, y = _load(job)
        if _fingerprint(X, y) == job["fingerprint"]:
            rows, notes = run_job(job, X, y, fits, history, spec["max_seconds"],
                                  spec["repeats"], spec["budget"], accel)
        else:
            rows, notes = [], [f"{spec['library']} on {job['label']}: failed (the subprocess "
                               "built different data)"]
        del X, y
        for row in rows:
            print(json.dumps({"row": _plain(row)}), flush=True)
        for note in notes:
            print(json.dumps({"note": note}), flush=True)
        print(json.dumps({"done": f"{job['label']}: {len(rows)} {spec['library']} runs in "
                          f"{time.perf_counter() - t0:.1f} s"}), flush=True)


def _child_code(patch: bool) -> str:
    """The subprocess's program: scikit-learn patched by sklearnex first, when ``patch``."""
    run = "from dualmaxent.bench_sweep import _child; _child()"
    return ("from sklearnex import patch_sklearn; patch_sklearn(); " + run) if patch else run


class _Peer:
    """A peer library's contenders in a subprocess, run job by job right after the main
    process's own runs of the same job, so that both meet the machine in the same state.

    One subprocess for the whole sweep (its imports and warm-up paid once). Run all at the
    end, as before, the sklearnex rows met another state of this shared machine than the
    rows they were divided by: two sweeps of the same solvers 15 minutes apart, the second's
    main process 20 to 100 % slower at n <= 10^4 (stock scikit-learn's runs and ours alike)
    while the subprocess was not, put the two-class ratios against oneDAL at 0.93 to 1.17 in
    the first and 1.35 to 1.66 in the second.

    Parameters
    ----------
    library : str
        The contenders' library (:func:`contenders`): ``"sklearnex"`` (scikit-learn patched in
        the subprocess) or another.
    max_seconds, repeats, budget, blas_threads
        As :func:`run_job` and :func:`_thread_limit` take them.
    """

    def __init__(self, library, max_seconds, repeats, budget, blas_threads):
        import tempfile

        self.library = library
        self.failed = None
        self._err = tempfile.TemporaryFile("w+")
        spec = {"library": library, "patch": library == "sklearnex",
                "max_seconds": max_seconds, "repeats": repeats, "budget": budget,
                "blas_threads": blas_threads}
        self._proc = subprocess.Popen([sys.executable, "-c", _child_code(spec["patch"])],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._err, text=True)
        self._send(spec)
        self._read(until="ready")

    def _send(self, item) -> None:
        try:
            self._proc.stdin.write(json.dumps(item) + "\n")
            self._proc.stdin.flush()
        except OSError:  # (it exited: _read says why)
            pass

    def _read(self, until):
        """The rows and notes up to the line ``until`` (None when the subprocess ended first:
        :attr:`failed` then says why)."""
        rows, notes = [], []
        for line in self._proc.stdout:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if until in item:
                return rows, notes, item[until]
            if "row" in item:
                rows.append(item["row"])
            elif "note" in item:
                notes.append(item["note"])
        self._proc.wait()
        self._err.seek(0)
        last = (self._err.read().strip().splitlines() or ["?"])[-1]
        self.failed = f"{self.library}: the subprocess failed ({last})"
        return rows, notes, None

    def run(self, job) -> tuple[list, list, str | None]:
        """``(rows, notes, done)`` of one job (``job`` with its data's fingerprint); no rows
        once the subprocess has failed (the first failure's note comes with its job)."""
        if self.failed:
            return [], [], None
        self._send(job)
        rows, notes, done = self._read(until="done")
        if done is None:
            notes.append(self.failed)
        return rows, notes, done

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait()
        self._err.close()


def sklearnex_available() -> str | None:
    """None when scikit-learn-intelex imports and patches here, else why not."""
    code = "from sklearnex import patch_sklearn; patch_sklearn()"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=False, timeout=120)
    except subprocess.TimeoutExpired:
        return "importing sklearnex took more than 120 s"
    if out.returncode != 0:
        return ((out.stderr.strip().splitlines() or ["?"])[-1] +
                " (pip install scikit-learn-intelex)")
    return None


def _thread_limit(threads, onedal: bool = False):
    """Limit every thread pool that threadpoolctl sees (BLAS and OpenMP) to ``threads``; with
    ``onedal`` (the sklearnex subprocess) also oneDAL's own (TBB) pool, which threadpoolctl
    does not see, through ``daal4py.daalinit``. Returns threadpoolctl's limiter (None when
    ``threads`` is None or 0: no limit).

    Without the last, oneDAL ran on both cores of this 2-core machine while every other
    contender had one thread: n = 1e5, two classes, 50 features, L2, tol 1e-8 took 52 ms of
    wall clock and 99 ms of CPU, against 90 ms of both with one thread."""
    if not threads:
        return None
    from threadpoolctl import threadpool_limits

    limiter = threadpool_limits(limits=int(threads))
    if onedal:
        try:
            import daal4py  # (scikit-learn-intelex's own module)
        except ImportError:  # (a release without it: the CPU-time check names the runs)
            return limiter
        daal4py.daalinit(int(threads))
    return limiter


def _plain(row):
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}


# -- GridSearchCV -----------------------------------------------------------------------------

def gridsearch_row(X, y, Cs=(0.1, 1.0, 10.0), cv: int = 3, level: float = 1e-8,
                   tols=(1e-4, 1e-6, 1e-8, 1e-10, 1e-12), repeats: int = REPEATS,
                   label: str = "digits") -> dict:
    """``GridSearchCV`` over ``C`` (``cv`` folds, refit) with ours and with scikit-learn's lbfgs,
    each at the loosest tolerance of ``tols`` at which every fit of the search (each ``C`` on
    each training fold and on all the data) reaches ``level`` by :func:`relative_gradient`.

    When one side reaches ``level`` at no tolerance of ``tols``, both run at the tightest of
    1e-8, 1e-6, 1e-4 that both reach (``level`` in the result, ``asked`` the one asked for)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from .estimators import MaxEntClassifier

    makers = {"dualmaxent": lambda C, t: MaxEntClassifier(C=C, tol=t),
              "sklearn lbfgs": lambda C, t: LogisticRegression(C=C, tol=t, max_iter=100_000)}
    splits = [tr for tr, _ in StratifiedKFold(cv).split(X, y)] + [np.arange(len(y))]
    worst = {}  # side -> {tol: the worst precision over the search's fits}
    for side, make in makers.items():
        worst[side] = {}
        for tol in tols:
            w = 0.0
            for C in Cs:
                for tr in splits:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model = make(C, tol).fit(X[tr], y[tr])
                    w = max(w, relative_gradient(X[tr], y[tr], model.coef_, model.intercept_, C))
            worst[side][tol] = w
            if w <= level:
                break

    def loosest(side, lev):
        return next((t for t in tols if t in worst[side] and worst[side][t] <= lev), None)

    used = next((lev for lev in sorted({level, 1e-8, 1e-6, 1e-4})
                 if lev >= level and all(loosest(side, lev) is not None for side in makers)),
                None)
    row = {"job": f"GridSearchCV {label} n={len(y)} k={len(np.unique(y))} m={X.shape[1]}, "
                  f"C in {list(Cs)}, {cv} folds", "asked": level, "level": used,
           "worst": {side: {f"{t:.0e}": v for t, v in w.items()} for side, w in worst.items()}}
    for side, make in makers.items():
        tol = loosest(side, used) if used is not None else tols[-1]
        search = GridSearchCV(make(1.0, tol), {"C": list(Cs)}, cv=cv)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                search.fit(X, y)
            times.append(time.perf_counter() - t0)
            if sum(times) + times[-1] > 4 * REPEAT_BUDGET:
                break
        row[side] = {"tol": tol, "worst_precision": worst[side][tol], "seconds": min(times),
                     "repeats": len(times), "best_C": search.best_params_["C"],
                     "best_score": float(search.best_score_),
                     "reaches_asked": min(worst[side].values()) <= level}
    row["ratio"] = row["dualmaxent"]["seconds"] / row["sklearn lbfgs"]["seconds"]
    return row


# -- the report ---------------------------------------------------------------------------------

def summarise(rows, levels=LEVELS) -> list[dict]:
    """For each job and level: the fastest run of each library at or below the level (ours
    only where its certificate was ok: an uncertified fit is not one of ours)."""
    by_job = {}
    for r in rows:
        by_job.setdefault(r["label"], []).append(r)
    out = []
    for label, group in by_job.items():
        reached8 = [r["objective"] for r in group if r["precision"] <= min(levels)]
        spread = ((max(reached8) - min(reached8)) / max(1.0, abs(min(reached8)))
                  if len(reached8) > 1 else None)
        for level in levels:
            entry = {**{k: group[0][k] for k in ("label", "data", "n", "k", "m", "penalty")},
                     "level": level, "objective_spread": spread}
            for lib in LIBRARIES:
                hits = sorted((r for r in group if r["library"] == lib
                               and r["precision"] <= level and r.get("cert_ok", True)),
                              key=lambda r: r["seconds"])
                entry[lib] = ({"contender": hits[0]["contender"], "seconds": hits[0]["seconds"],
                               "precision": hits[0]["precision"]} if hits else None)
            ours = entry["dualmaxent"]
            peers = [entry[lib] for lib in LIBRARIES[1:] if entry[lib] is not None]
            best = min(peers, key=lambda e: e["seconds"]) if peers else None
            entry["fastest_peer"] = None if best is None else best["contender"]
            entry["ratio"] = (ours["seconds"] / best["seconds"] if ours and best else None)
            entry["ratio_sklearn"] = (ours["seconds"] / entry["sklearn"]["seconds"]
                                      if ours and entry["sklearn"] else None)
            out.append(entry)
    return out


def _short(name):
    return (name.replace("dualmaxent ", "").replace("newton-cholesky", "newton-chol")
            .replace("tol=", "") if name else "-")


#: The sizes of :func:`prediction_rows` (n, k, m): the coefficients are fitted on
#: :data:`PREDICTION_FIT_ROWS` rows, the predictions made on ``n`` new ones.
PREDICTION_SIZES = ((1_000, 3, 50), (100_000, 2, 50), (100_000, 3, 50), (100_000, 10, 10),
                    (1_000_000, 3, 10))
QUICK_PREDICTION_SIZES = ((1_000, 3, 10), (10_000, 2, 10), (10_000, 3, 10))
PREDICTION_FIT_ROWS = 2_000
#: The methods compared, each ours against scikit-learn's on the same coefficients.
PREDICTION_METHODS = ("decision_function", "predict_proba", "predict_log_proba", "predict")


def prediction_rows(sizes=PREDICTION_SIZES, repeats: int = 5) -> list[dict]:
    """Our estimator's predictions against ``LogisticRegression``'s given the same coefficients
    (``coef_``, ``intercept_``, ``classes_``): per size and method, the best of ``repeats``
    interleaved calls on ``n`` rows of :func:`make_data`, the ratio ours / scikit-learn's, and
    the largest difference between the two answers (class disagreements for ``predict``)."""
    from sklearn.linear_model import LogisticRegression

    from .estimators import MaxEntClassifier

    rows = []
    for n, k, m in sizes:
        X, y = make_data(PREDICTION_FIT_ROWS, m, k)
        ours = MaxEntClassifier(certify=False).fit(X, y)
        peer = LogisticRegression()
        peer.coef_, peer.intercept_, peer.classes_ = ours.coef_, ours.intercept_, ours.classes_
        peer.n_features_in_ = m
        X = make_data(n, m, k, seed=1)[0]
        for method in PREDICTION_METHODS:
            times = {"dualmaxent": [], "sklearn": []}
            answers = {}
            for _ in range(repeats):
                for side, model in (("dualmaxent", ours), ("sklearn", peer)):
                    t0 = time.perf_counter()
                    answers[side] = getattr(model, method)(X)
                    times[side].append(time.perf_counter() - t0)
            a, b = answers["dualmaxent"], answers["sklearn"]
            differ = (int(np.count_nonzero(a != b)) if method == "predict"
                      else float(np.max(np.abs(a - b), initial=0.0)))
            best = {side: min(t) for side, t in times.items()}
            rows.append({"job": f"n={_e(n)} k={k} m={m}", "method": method,
                         "dualmaxent": best["dualmaxent"], "sklearn": best["sklearn"],
                         "ratio": best["dualmaxent"] / best["sklearn"], "differ": differ})
    return rows


def format_prediction(rows) -> str:
    """The prediction comparison, one line per size: each method's ratio."""
    if not rows:
        return ""
    lines = ["Predictions on the same coefficients, ours / scikit-learn's (best of the "
             "interleaved calls; the answers' largest difference in brackets):"]
    for job in dict.fromkeys(r["job"] for r in rows):
        parts = [f"{r['method']} {r['ratio']:.2f} ({r['differ']:.0e})" if r["method"] != "predict"
                 else f"predict {r['ratio']:.2f} ({r['differ']} differ)"
                 for r in rows if r["job"] == job]
        lines.append(f"  {job}: " + ", ".join(parts))
    return "\n".join(lines)


def format_sweep(summary, grid=None) -> str:
    """The text table: one line per job and level."""
    head = (f"{'job':<38} {'level':>5}  {'ours s':>7} {'(run)':<7} {'sklearn s':>9} "
            f"{'(run)':<23} {'sklearnex s':>11} {'glum s':>7} {'ratio':>6} {'vs sk':>6}  "
            f"fastest peer")
    lines = ["Equal precision: the fastest run of each library at or below the level (best of up "
             "to 3; ratio = ours / fastest peer; vs sk = ours / fastest stock scikit-learn)",
             head, "-" * len(head)]

    def sec(e):
        return "-" if e is None else f"{e['seconds']:.3f}"

    def num(v):
        return "" if v is None else f"{v:.2f}"
    last = None
    for e in summary:
        if last is not None and e["label"] != last:
            lines.append("")
        last = e["label"]
        o, s = e["dualmaxent"], e["sklearn"]
        lines.append(f"{e['label']:<38} {e['level']:>5.0e}  {sec(o):>7} "
                     f"{_short(o['contender']) if o else '-':<7} {sec(s):>9} "
                     f"{_short(s['contender'].replace('sklearn ', '')) if s else '-':<23} "
                     f"{sec(e['sklearnex']):>11} {sec(e['glum']):>7} {num(e['ratio']):>6} "
                     f"{num(e['ratio_sklearn']):>6}  {e['fastest_peer'] or 'no peer reaches it'}")
    if grid:
        o, s = grid["dualmaxent"], grid["sklearn lbfgs"]
        lines += ["", f"{grid['job']}, every fit at or below {grid['level']:.0e}: ours (tol "
                  f"{o['tol']:.0e}) {o['seconds']:.2f} s, sklearn lbfgs (tol {s['tol']:.0e}) "
                  f"{s['seconds']:.2f} s, ratio {grid['ratio']:.2f} (worst precision "
                  f"{o['worst_precision']:.1e} and {s['worst_precision']:.1e}; best C "
                  f"{o['best_C']:g} and {s['best_C']:g})"]
        for side in ("dualmaxent", "sklearn lbfgs"):
            if not grid[side]["reaches_asked"]:
                best = min(grid["worst"][side].values())
                lines.append(f"  {side} reaches {grid['asked']:.0e} on every fit at no tol "
                             f"(best worst-fit precision {best:.1e}, at tol down to 1e-12): "
                             f"compared at {grid['level']:.0e}")
    return "\n".join(lines)


_PEER = {"sklearn lbfgs": "lbfgs", "sklearn newton-cg": "ncg", "sklearn newton-cholesky": "nchol",
         "sklearnex lbfgs": "ex-lbfgs", "sklearnex newton-cg": "ex-ncg",
         "sklearnex newton-cholesky": "ex-nchol", "glum": "glum"}


def format_markdown(summary) -> str:
    """The sweep's table (docs/performance.md; its summary in the README): a row per ``n`` and ``k`` of the synthetic jobs, a column per
    penalty and level, each cell ``ratio peer`` for m = 10 / m = 50 (ratio = ours / fastest
    peer; the peer abbreviated: ``lbfgs``, ``ncg``, ``nchol`` are scikit-learn's solvers,
    ``ex-`` the same under sklearnex, ``glum``)."""
    cells = {}
    for e in summary:
        if e["data"] == "synthetic":
            peer = _PEER.get(_chain(e["fastest_peer"])[0], "?") if e["fastest_peer"] else "none"
            text = "-" if e["ratio"] is None else f"{e['ratio']:.2f} {peer}"
            if e["ratio"] is not None and e["ratio"] < 1:
                text = f"**{e['ratio']:.2f}** {peer}"
            cells[(e["n"], e["k"], e["penalty"], e["level"], e["m"])] = text
    ms = sorted({key[4] for key in cells})
    cols = [(p, lev) for p in ("L2", "none") for lev in LEVELS]
    head = "| n | k | " + " | ".join(f"{p}, {_e(lev)}" for p, lev in cols) + " |"
    lines = [head, "| ---: | ---: |" + " --- |" * len(cols)]
    for n, k in sorted({(key[0], key[1]) for key in cells}):
        row = [" / ".join(cells.get((n, k, p, lev, m), "sep.") for m in ms) for p, lev in cols]
        lines.append(f"| {_e(n)} | {k} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def plot_sweep(summary, path, title_extra: str = "") -> Path:
    """``path`` (a PNG): ratio ours / fastest stock scikit-learn against ``n`` on the synthetic
    jobs, one panel per level, one line per ``k`` (the geometric mean over ``m`` and the
    penalty; the band spans their smallest and largest ratio), a dashed line at 1."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    synth = [e for e in summary if e["data"] == "synthetic"]
    levels = sorted({e["level"] for e in summary}, reverse=True) or list(LEVELS)
    ks = sorted({e["k"] for e in synth})
    fig, axes = plt.subplots(1, len(levels), figsize=(6.2 * len(levels), 4.9), sharey=True,
                             squeeze=False)
    colours = {2: "tab:blue", 3: "tab:orange", 10: "tab:green"}
    lo, hi = 1.0, 1.0
    for ax, level in zip(axes[0], levels):
        for k in ks:
            ns = sorted({e["n"] for e in synth if e["k"] == k})
            xs, mid, low, high = [], [], [], []
            for n in ns:
                rs = [e["ratio_sklearn"] for e in synth if e["k"] == k and e["n"] == n
                      and e["level"] == level and e["ratio_sklearn"]]
                if rs:
                    xs.append(n)
                    mid.append(float(np.exp(np.mean(np.log(rs)))))
                    low.append(min(rs))
                    high.append(max(rs))
            if not xs:
                continue
            lo, hi = min(lo, *low), max(hi, *high)
            c = colours.get(k, None)
            ax.plot(xs, mid, "o-", color=c, lw=2, label=f"k = {k} classes")
            ax.fill_between(xs, low, high, color=c, alpha=0.15, lw=0)
        ax.axhline(1.0, color="k", ls="--", lw=1, label="ratio 1 (as fast)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("observations n")
        ax.set_title(f"relative gradient at or below {level:.0e}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("time ratio: ours / fastest stock scikit-learn\n(below 1: ours faster)")
    axes[0][0].set_ylim(lo / 1.5, hi * 1.5)
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50) if lo / 1.5 <= t <= hi * 1.5]
    axes[0][0].set_yticks(ticks, [f"{t:g}" for t in ticks])
    axes[0][0].yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False)
    fig.suptitle("MaxEntClassifier.fit (certificate included) against LogisticRegression's "
                 "fastest solver and tolerance reaching the level\nlines: geometric mean over "
                 "m in {10, 50} features and the penalty (none, L2 C=1); bands: their range"
                 f"{title_extra}",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# -- the sweep ----------------------------------------------------------------------------------

def run_sweep(ns=NS, ks=KS, ms=MS, penalties=PENALTIES, real=REAL, sklearnex: bool = True,
              glum: bool = True, gridsearch: bool = True, max_seconds: float = MAX_SECONDS,
              repeats: int = REPEATS, budget: float = REPEAT_BUDGET, out="figures",
              blas_threads: int | None = 1, log=None,
              prediction_sizes=PREDICTION_SIZES) -> dict:
    """Run the sweep; return ``{"rows", "summary", "gridsearch", "prediction", "notes",
    "machine"}`` and write ``out/sweep.png`` (``out=None``: no figure). ``log`` receives a line
    per finished job. ``prediction_sizes``: those of :func:`prediction_rows` (empty: none)."""
    log = log or (lambda line: None)
    limit = _thread_limit(blas_threads)
    try:
        return _sweep(ns, ks, ms, penalties, real, sklearnex, glum, gridsearch, max_seconds,
                      repeats, budget, out, blas_threads, log, prediction_sizes)
    finally:
        if limit is not None:
            limit.restore_original_limits()


def _machine(blas_threads) -> dict:
    import platform

    import sklearn

    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "scikit-learn": sklearn.__version__}
    for mod, name in (("glum", "glum"), ("sklearnex", "scikit-learn-intelex")):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:  # not installed
            versions[name] = None
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    try:  # the code measured, when it runs from a git checkout
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False, timeout=10,
                                cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"cores": os.cpu_count(), "cpu": cpu_model(), "blas": blas_kernels(),
            "load_at_start": load, "blas_threads": blas_threads,
            "date": time.strftime("%Y-%m-%d"), "commit": commit, **versions}


def _sweep_job(job, fits, history, peer, max_seconds, repeats, budget, t_start, log):
    """One job of the sweep: ``(rows, notes)`` of ours, stock scikit-learn's and glum's runs,
    then the peer's (:class:`_Peer`, or None) on the same data, at once."""
    X, y = _load(job)
    if job["data"] != "synthetic":  # the real sets: their own n, k, m
        job.update(n=len(y), k=len(np.unique(y)), m=X.shape[1])
        job["label"] = _job(job["data"], job["n"], job["k"], job["m"],
                            job["C"] is not None)["label"]
    t0 = time.perf_counter()
    if job["C"] is None and _separated(X, y):
        log(f"{job['label']}: separated, skipped")
        return [], [f"{job['label']}: skipped (separated data: no unpenalised optimum; "
                    "dualmaxent's separation LP finds the direction)"]
    rows, notes = run_job(job, X, y, fits, history, max_seconds, repeats, budget)
    ours = next((r for r in rows if r["contender"] == "dualmaxent default"), None)
    if job["C"] is None and ours is not None and not ours["attained"]:
        return [], [f"{job['label']}: skipped (separated data: no unpenalised optimum, as "
                    "ours' certificate proves)"]
    fingerprint = _fingerprint(X, y)
    del X, y
    log(f"{job['label']}: {len(rows)} runs in {time.perf_counter() - t0:.1f} s "
        f"(sweep at {time.perf_counter() - t_start:.0f} s)")
    if peer is not None:
        pr, pn, done = peer.run({**job, "fingerprint": fingerprint})
        rows, notes = rows + pr, notes + pn
        if done:
            log(done)
    return rows, notes


def _sweep(ns, ks, ms, penalties, real, use_sklearnex, use_glum, gridsearch, max_seconds,
           repeats, budget, out, blas_threads, log, prediction_sizes):
    t_start = time.perf_counter()
    machine = _machine(blas_threads)
    notes, rows, history = [], [], {}
    why_not = sklearnex_available() if use_sklearnex else "switched off"
    if why_not:
        notes.append(f"not run: sklearnex ({why_not})")
    if use_glum:
        notes.append("glum: binary jobs only (it has no multinomial family)")
    fits = {**contenders("dualmaxent"), **contenders("sklearn"),
            **(contenders("glum") if use_glum else {})}
    warm_up(fits)
    # again, now that the warm-up has loaded every library's thread pools (glum's OpenMP,
    # which the limit set before it was loaded did not reach: glum ran on both cores)
    relimit = _thread_limit(blas_threads)
    try:
        groups = [[_job("synthetic", n, k, m, p) for k in ks for m in ms for p in penalties]
                  for n in ns]
        groups += [[{**_job(name, 0, 0, 0, p)} for p in penalties] for name in real]
        # the peer in its subprocess runs each job right after ours (:class:`_Peer`)
        peer = (_Peer("sklearnex", max_seconds, repeats, budget, blas_threads)
                if why_not is None else None)
        if peer is not None and peer.failed:
            notes.append(peer.failed)
        try:
            for group in groups:
                for job in group:
                    jr, jn = _sweep_job(job, fits, history, peer, max_seconds, repeats,
                                        budget, t_start, log)
                    rows += jr
                    notes += jn
        finally:
            if peer is not None:
                peer.close()
        notes += _multicore_notes(rows)
        grid = None
        if gridsearch:
            X, y = real_data("digits")
            grid = gridsearch_row(X, y, repeats=repeats)
            log(f"GridSearchCV: ratio {grid['ratio']}")
        prediction = prediction_rows(prediction_sizes, repeats=max(repeats, 5))
        summary = summarise(rows)
        result = {"machine": machine, "rows": [_plain(r) for r in rows], "summary": summary,
                  "gridsearch": grid, "prediction": prediction, "notes": notes,
                  "certificate": certificate_share(rows),
                  "seconds": time.perf_counter() - t_start}
        if out is not None:
            result["figure"] = str(plot_sweep(summary, Path(out) / "sweep.png",
                                              f"; {machine['cpu']}, {machine['cores']} cores, "
                                              f"{machine['date']}"))
        return result
    finally:
        if relimit is not None:
            relimit.restore_original_limits()


#: A run whose CPU time exceeds its wall clock by this factor used more than one core (each
#: contender is given one thread, :func:`_thread_limit`); runs shorter than
#: :data:`MULTICORE_MIN_SECONDS` are not judged (the two clocks' resolution).
MULTICORE_RATIO = 1.3
MULTICORE_MIN_SECONDS = 0.02


def _multicore_notes(rows) -> list[str]:
    """One note per contender with a run that used more than one core, naming its worst."""
    worst = {}
    for r in rows:
        wall, cpu = r["seconds"], r.get("cpu_seconds", 0.0)
        if wall >= MULTICORE_MIN_SECONDS and cpu > MULTICORE_RATIO * wall:
            if cpu / wall > worst.get(r["contender"], (0.0,))[0]:
                worst[r["contender"]] = (cpu / wall, r.get("label", ""))
    return [f"{name}: ran on more than one core (CPU time up to {ratio:.1f}x its wall clock"
            f"{', ' + job if job else ''}): its times are not one thread's"
            for name, (ratio, job) in sorted(worst.items())]


def certificate_share(rows) -> dict | None:
    """The certificate's share of ours' default fit: median and range over the jobs, and the
    largest job's; ``all_ok`` over every run of ours (each tolerance's), and the runs whose
    certificate was not ok (``not_ok``: job and contender)."""
    ours = [r for r in rows if r["contender"] == "dualmaxent default" and "cert_seconds" in r]
    if not ours:
        return None
    share = np.array([r["cert_seconds"] / r["seconds"] for r in ours])
    big = max(ours, key=lambda r: (r["n"], r["k"], r["m"]))
    not_ok = [f"{r['label']}, {r['contender']}" for r in rows
              if r["library"] == "dualmaxent" and "cert_ok" in r and not r["cert_ok"]]
    return {"median": float(np.median(share)), "min": float(share.min()),
            "max": float(share.max()), "largest_job": big["label"],
            "largest_seconds": big["seconds"], "largest_cert_seconds": big["cert_seconds"],
            "all_ok": not not_ok and all("cert_ok" in r for r in ours), "not_ok": not_ok}


def format_notes(notes) -> str:
    """The notes, one a line, with the tighter tolerances that were not needed counted once."""
    counted = {": not needed (": "runs at a tighter tolerance were not needed: a looser "
                                  f"tolerance of the same solver had already reached "
                                  f"{min(LEVELS):.0e}",
               "skipped (dominated": f"runs were skipped from n = {_e(PRUNE_FROM_N)} on as "
                                     f"dominated: {DOMINATED:g}x or more slower, at the previous "
                                     "n, than their library's fastest run to each level",
               "skipped (it fell back": "sklearnex runs were skipped because the same solver "
                                        "and job fell back to scikit-learn's own code at a "
                                        "smaller n (the sklearn rows time that code)"}
    lines = [n if n.startswith("not run") else f"note: {n}" for n in notes
             if not any(c in n for c in counted)]
    for marker, text in counted.items():
        count = sum(marker in n for n in notes)
        if count:
            lines.append(f"note: {count} {text} (--json lists them)")
    return "\n".join(lines)


def main_sweep(args) -> int:
    """``dualmaxent bench --sweep [--quick] [--json] [--out DIR]``."""
    quick = bool(getattr(args, "quick", False))
    as_json = bool(getattr(args, "json", False))
    threads = os.environ.get("DUALMAXENT_BENCH_BLAS_THREADS")
    threads = int(threads) if threads else 1

    def log(line):
        print(line, file=sys.stderr, flush=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    log(f"dualmaxent bench --sweep{' --quick' if quick else ''}: {cpu_model()}, "
        f"{os.cpu_count()} cores, BLAS {blas_kernels()}, load average {load:.2f} at start, "
        f"BLAS threads {threads or 'unlimited'}")
    res = run_sweep(ns=QUICK_NS if quick else NS,
                    max_seconds=QUICK_MAX_SECONDS if quick else MAX_SECONDS,
                    out=getattr(args, "out", "figures"), blas_threads=threads, log=log,
                    prediction_sizes=QUICK_PREDICTION_SIZES if quick else PREDICTION_SIZES)
    if as_json:
        print(json.dumps(res, indent=1, default=float))
        return 0
    print(format_sweep(res["summary"], res["gridsearch"]))
    print()
    cert = res["certificate"]
    if cert:
        print(f"certificate: median {cert['median']:.0%} of ours' default fit (range "
              f"{cert['min']:.0%}-{cert['max']:.0%}); on {cert['largest_job']} "
              f"{cert['largest_cert_seconds']:.2f} s of {cert['largest_seconds']:.2f} s; "
              f"every certificate of ours ok: {cert['all_ok']}")
        for run in cert["not_ok"]:
            print(f"  not ok: {run}")
    spreads = [e["objective_spread"] for e in res["summary"] if e["objective_spread"] is not None]
    if spreads:
        print(f"objective: the runs at or below 1e-8 agree to {max(spreads):.1e} (relative, "
              "worst job)")
    if res.get("prediction"):
        print(format_prediction(res["prediction"]))
    print(format_notes(res["notes"]))
    if "figure" in res:
        print(f"wrote {res['figure']} ({res['seconds']:.0f} s)")
    return 0
