"""The charts are drawn in a worker process. Importing matplotlib and drawing are Python work
that would otherwise queue behind the database work; in a process of their own they run beside
it, on the other core, and the build's own process never imports matplotlib.

The worker is a fresh interpreter (`spawn`), not a fork of a process holding DuckDB's threads;
like any spawned process it imports the caller's main module, so a script that calls `build`
needs the usual `if __name__ == "__main__":` guard. It is started once and kept for later builds
in the same process. Should it fail to start or die, the charts are drawn here instead.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import cache

CHARTS_MODULE = "segmentation.charts"


@cache
def worker() -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=warm_up)
    pool.submit(int)  # starts the process now, so it loads matplotlib while the caller works on
    return pool


def start() -> None:
    """Start the worker if it is not running: called before the heavy imports, it overlaps them."""
    worker()


def draw(chart: str, *args: object) -> Callable[[], bytes]:
    """Start drawing `charts.<chart>(*args)` in the worker; the returned function waits for the
    PNG bytes."""
    try:
        future = worker().submit(render, chart, *args)
    except BrokenProcessPool:  # an earlier worker died: start another
        worker.cache_clear()
        future = worker().submit(render, chart, *args)

    def result() -> bytes:
        try:
            return future.result()
        except BrokenProcessPool:  # the worker could not start, or died: draw here
            return render(chart, *args)

    return result


def render(chart: str, *args: object) -> bytes:
    return getattr(importlib.import_module(CHARTS_MODULE), chart)(*args)


def warm_up() -> None:
    importlib.import_module(CHARTS_MODULE).warm_up()
    gc.freeze()  # matplotlib's objects live as long as the worker: spare the collector (and the exit) them
