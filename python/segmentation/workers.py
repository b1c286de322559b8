"""Worker processes for the pure Python work: K-Means (scikit-learn) and the charts
(matplotlib). Importing those libraries and running them is Python work that would otherwise
queue behind the database work; each in a process of its own, they run beside it, and the
build's own process, which only talks to DuckDB, never imports them.

A worker is started before the build's own imports, so it imports its library on another core
meanwhile; it is kept for later builds in the same process. It is a fresh interpreter
(`spawn`), not a fork of a process holding DuckDB's threads; like any spawned process it
imports the caller's main module, so a script that calls `build` needs the usual
`if __name__ == "__main__":` guard. Should a worker fail to start or die, the call runs in
the caller's process instead.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import cached_property
from typing import Any


class Worker:
    """A process of its own that runs the functions of one module, called by name (so the
    caller never imports the module)."""

    def __init__(self, module: str) -> None:
        self.module = module

    @cached_property
    def pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=prepare, initargs=(self.module,)
        )
        pool.submit(int)  # starts the process now, so it imports its module while the caller works on
        return pool

    def start(self) -> None:
        """Start the process if it is not running: called before the heavy imports, it overlaps them."""
        self.pool  # noqa: B018 (the property starts it)

    def call(self, function: str, *args: Any) -> Callable[[], Any]:
        """Start `<module>.<function>(*args)` in the worker; the returned function waits for its
        result (or raises its exception)."""
        try:
            future = self.pool.submit(run, self.module, function, *args)
        except BrokenProcessPool:  # an earlier process died: start another
            del self.pool
            future = self.pool.submit(run, self.module, function, *args)

        def result() -> Any:
            try:
                return future.result()
            except BrokenProcessPool:  # the worker could not start, or died: run it here
                return run(self.module, function, *args)

        return result


def prepare(module: str) -> None:
    """A worker's start: leave Ctrl-C to the build (it stops the workers), watch the process
    that started it, import its module, let it warm up, and keep the collector off what exists
    by then (it lives as long as the worker; exiting is faster too)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=end_with_parent, daemon=True).start()
    warm_up = getattr(importlib.import_module(module), "warm_up", None)
    if warm_up is not None:
        warm_up()
    gc.freeze()


def end_with_parent() -> None:
    """A worker waits for its tasks on a queue it shares with the process that started it, so it
    would wait forever once that process is killed outright: it ends with it instead."""
    multiprocessing.parent_process().join()
    os._exit(1)


def run(module: str, function: str, *args: Any) -> Any:
    return getattr(importlib.import_module(module), function)(*args)


CLUSTERING = Worker("segmentation.clustering")
CHARTS = Worker("segmentation.charts")


def start() -> None:
    CLUSTERING.start()  # first: its result is needed first
    CHARTS.start()
