"""The tests' memory probe: the tracemalloc peak of a call above what was allocated before it."""

from __future__ import annotations


def peak_above_start(run):
    """``(run(), bytes)``: the tracemalloc peak during ``run`` above what was allocated before."""
    import tracemalloc

    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        out = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, peak - start
