"""Progress on long work, on a terminal only: the dual's passes, the CVXPY primal, the figures.

Off by default, so that the library prints nothing; the command line turns it on when its
standard error is a terminal and ``--json`` is not given (:func:`enable`). Bars are drawn by tqdm on
standard error, and only once the work has taken ``DELAY`` seconds, so quick runs show nothing.
tqdm, not rich: one small pure-Python dependency whose bars need no terminal markup, with the
delayed start built in.
"""

from __future__ import annotations

import contextlib

__all__ = ["enable", "enabled", "bar", "DELAY", "CVXPY_VERBOSE_SIZE"]

#: Seconds of work before a bar appears ("more than a couple of seconds").
DELAY = 2.0

#: A CVXPY primal larger than this (:func:`dualmaxent.verify.cvxpy_size`) takes seconds: on a
#: terminal the solver's own iteration log is shown (Clarabel prints one line per iteration).
CVXPY_VERBOSE_SIZE = 200_000

_STATE = {"on": False}


def enable(on: bool = True) -> None:
    """Turn progress reporting on (or off) for this process."""
    _STATE["on"] = bool(on)


def enabled() -> bool:
    return _STATE["on"]


class _Quiet:
    """The bar's interface, doing nothing (progress off)."""

    def update(self, n=1):
        pass

    def set_postfix_str(self, s):
        pass


@contextlib.contextmanager
def bar(desc: str, total=None, unit: str = "it"):
    """A progress bar (tqdm, standard error, after ``DELAY`` seconds), or a quiet stand-in."""
    if not _STATE["on"]:
        yield _Quiet()
        return
    from tqdm import tqdm

    with tqdm(desc=desc, total=total, unit=unit, delay=DELAY, leave=False,
              dynamic_ncols=True) as b:
        yield b
