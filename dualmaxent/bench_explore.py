"""``dualmaxent bench --explore``: how long a lambda slider move takes in the explorer.

A move is what the page runs when the slider moves one notch: :func:`dualmaxent.explore.model.
explore` at the new lambda (the dual warm-started from the nearest lambda already solved, the
CVXPY primal re-solved with lambda as a parameter, the certificate), the summary line, and the
open view (:func:`dualmaxent.explore.views.show`), redrawn. The browser's own drawing is not in
it (about 0.15 s in headless chromium, measured by the explorer's browser test).

For every built-in data set (:data:`dualmaxent.explore.model.EXAMPLES`, each under its own
family), every penalty kind with a lambda (L2, L1, elastic net; "none" has no slider) and every
view, the data are loaded afresh (empty caches), the view is drawn at the middle notch of the
slider (:func:`dualmaxent.explore.model.lambda_steps`: 41 notches from ``1e-3 lambda_max`` to
``10^0.5 lambda_max``), and then the slider is walked one notch at a time down to the smallest
lambda and, from the middle again, up to the largest: every move is timed. ``--quick`` walks
five notches each way instead.

The report gives, per data set, penalty and view, the median and the slowest move, and the
number of moves over :data:`TARGET_SECONDS`; then the slowest move of all. A move whose
certificate is not ok, or whose view shows an error, is counted and named: the timing of a
wrong answer is not a result.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

import numpy as np

#: The explorer's target for one slider move (issue 23), in seconds.
TARGET_SECONDS = 0.3
#: The penalties with a lambda slider (labels of the explorer's penalty picker).
PENALTY_LABELS = ("L2", "L1", "elastic net")
#: Notches walked each way from the middle with ``--quick``.
QUICK_NOTCHES = 5


def run_explore(quick: bool = False, log=None) -> list[dict]:
    """Time the slider moves; one row per (data set, penalty, view).

    Returns
    -------
    list of dict
        ``data``, ``penalty``, ``view``, ``moves`` (count), ``median`` and ``max`` (seconds),
        ``over`` (moves slower than :data:`TARGET_SECONDS`), ``failed`` (moves whose
        certificate was not ok or whose view showed an error) and ``slowest_lambda``.
    """
    from .explore import model, views

    rows = []
    for name in model.EXAMPLES:
        for penalty in PENALTY_LABELS:
            for label in views.VIEWS:
                loaded = model.load(model.Source(name))
                if loaded.error:
                    raise RuntimeError(f"{name}: {loaded.error}")
                steps = model.lambda_steps(loaded.dataset)
                mid = len(steps) // 2
                reach = QUICK_NOTCHES if quick else len(steps)
                down = list(range(mid - 1, max(mid - 1 - reach, -1), -1))
                up = list(range(mid + 1, min(mid + 1 + reach, len(steps))))
                times, failed, slowest = [], 0, (0.0, None)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for walk in (down, up):
                        _move(model, views, loaded, label, penalty, steps[mid])  # the view opens
                        for j in walk:
                            seconds, ok = _move(model, views, loaded, label, penalty, steps[j])
                            times.append(seconds)
                            failed += not ok
                            slowest = max(slowest, (seconds, steps[j]), key=lambda t: t[0])
                row = {"data": name, "penalty": penalty, "view": label, "moves": len(times),
                       "median": float(np.median(times)), "max": max(times),
                       "over": sum(t > TARGET_SECONDS for t in times), "failed": failed,
                       "slowest_lambda": slowest[1]}
                rows.append(row)
                if log:
                    log(_line(row))
    return rows


def _move(model, views, loaded, label, penalty, lam):
    """One slider move: ``(seconds, ok)``."""
    t0 = time.perf_counter()
    expl = model.explore(loaded, model.Settings(penalty, lam))
    views.summary(expl)
    view = views.show(label, expl, loaded)
    seconds = time.perf_counter() - t0
    return seconds, bool(expl.ok) and "error" not in view.numbers


def _line(row: dict) -> str:
    failed = f"  FAILED {row['failed']}" if row["failed"] else ""
    return (f"{row['data']:13s} {row['penalty']:11s} {row['view']:20s} {row['moves']:3d} moves"
            f"  median {row['median'] * 1e3:5.0f} ms  slowest {row['max'] * 1e3:5.0f} ms"
            f" (lambda {row['slowest_lambda']:.4g})  over {TARGET_SECONDS} s: {row['over']}"
            f"{failed}")


def format_explore(rows: list[dict]) -> str:
    """The report: a line per row, then the slowest move and the totals."""
    worst = max(rows, key=lambda r: r["max"])
    moves = sum(r["moves"] for r in rows)
    over = sum(r["over"] for r in rows)
    failed = sum(r["failed"] for r in rows)
    return "\n".join([_line(r) for r in rows] + [
        f"slowest move: {worst['max'] * 1e3:.0f} ms ({worst['data']}, {worst['penalty']}, "
        f"{worst['view']}, lambda {worst['slowest_lambda']:.4g}); {over} of {moves} moves over "
        f"{TARGET_SECONDS} s; {failed} with a certificate not ok or an error"])


def main_explore(args) -> int:
    """``dualmaxent bench --explore [--quick] [--json]``."""
    quick = bool(getattr(args, "quick", False))

    def log(line):
        print(line, file=sys.stderr, flush=True)

    log(f"dualmaxent bench --explore{' --quick' if quick else ''}: {os.cpu_count()} cores; "
        "one slider move = solve + certificate + the open view, in process")
    rows = run_explore(quick, log=None if getattr(args, "json", False) else log)
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=1))
    else:
        print(format_explore(rows).splitlines()[-1])
    return 0
