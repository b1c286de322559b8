"""Where the pure Python work runs: K-Means (scikit-learn, `clustering`) and the charts
(matplotlib, `charts`). A build calls them by module and function name, through a runner:

- `InProcess` (the default of `build`): each call runs in the caller's process when its result
  is asked for. Nothing is started; for tests, notebooks and services that call `build`.
- `Workers` (what `pipeline.py` uses): one process per module, started before the command's
  own imports, so each imports its library on another core while the command imports DuckDB
  and loads and stages the input. Calls are sent as soon as their data exists and run beside
  the database work. The command's process never imports either library.

A worker is a fresh interpreter (`spawn`), not a fork of a process holding DuckDB's threads.
It leaves Ctrl-C to the command, and ends with it, even when it is killed outright.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from functools import partial
from multiprocessing import resource_tracker
from types import ModuleType
from typing import Any

from .errors import PipelineError
from .stops import deferred_interrupts, signals_held

CLUSTERING = "segmentation.clustering"
CHARTS = "segmentation.charts"

# How long a pool's thread may take to see its worker end before it is taken to be stuck.
STOP_WAIT_S = 2.0
Result = Callable[[], Any]  # waits for a call's result, or raises its exception


class InProcess:
    """Each call runs here, when its result is asked for; nothing to start or stop."""

    def call(self, module: str, function: str, *args: Any) -> Result:
        return partial(call_by_name, module, function, *args)

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


class Workers:
    """A worker process per module, for the length of a `with` block: leaving the block (done,
    failed, Ctrl-C) ends them at once."""

    def __init__(self, modules: tuple[str, ...] = (CLUSTERING, CHARTS)) -> None:
        context = multiprocessing.get_context("spawn")
        self.pools: dict[str, ProcessPoolExecutor] = {}
        self.pids: dict[str, Future[int]] = {}
        try:
            # Started now, not by a pool's first semaphore: starting it unblocks Ctrl-C and
            # SIGTERM in this thread, where the block below must hold.
            if os.name == "posix":
                with deferred_interrupts():
                    resource_tracker.ensure_running()
            for module in modules:  # in the order their results are needed
                # A stop waits until the pool is made and its process has its instructions: cut
                # off between a queue's semaphore and its clean-up, the resource tracker printed
                # a warning of a leaked semaphore; between the process's start and its
                # instructions, the process printed a traceback ("Ran out of input"). The process
                # starts with Ctrl-C blocked, until it ignores it (`start_worker`): a terminal
                # sends it to the whole process group, and one still importing printed a
                # KeyboardInterrupt traceback.
                with deferred_interrupts(), signals_held(signal.SIGINT):
                    self.pools[module] = ProcessPoolExecutor(
                        1, mp_context=context, initializer=start_worker, initargs=(module,)
                    )
                    self.pids[module] = self.pools[module].submit(os.getpid)  # starts the process now
        except BaseException:
            self.stop()
            raise

    def call(self, module: str, function: str, *args: Any) -> Result:
        ended = PipelineError(
            f"the {module} worker process ended before finishing {function} (killed, out of memory, "
            "or an error it printed above)"
        )
        try:
            future = self.pools[module].submit(call_by_name, module, function, *args)
        except BrokenProcessPool:
            raise ended from None

        def result() -> Any:
            try:
                return future.result()
            except BrokenProcessPool:
                raise ended from None

        return result

    def stop(self, deliver: bool = True) -> None:
        """End the workers now, whatever they are doing: their results are collected, or no
        longer wanted. (One still importing has no pid yet: it ends on shutdown's signal.) A
        stop that comes meanwhile (a second Ctrl-C) waits until they are ended: cut short, it
        left a worker that the interpreter's exit then waited for forever. Without `deliver`
        it is dropped: what ends the build is being reported already."""
        with deferred_interrupts(deliver=deliver):
            self.end_workers()

    def end_workers(self) -> None:
        for pid in self.pids.values():
            if pid.done() and not pid.cancelled() and pid.exception() is None:
                with suppress(ProcessLookupError):
                    os.kill(pid.result(), signal.SIGTERM)
        for pool in self.pools.values():
            # waits for the pool to see its process end: Python's own clean-up at exit races
            # with a pool still closing (a "Bad file descriptor" traceback)
            internals = vars(pool)  # CPython's own: the pool's thread and its results pipe
            manager: threading.Thread | None = internals.get("_executor_manager_thread")
            results = internals.get("_result_queue")
            pool.shutdown(wait=False, cancel_futures=True)
            if manager is not None:
                with suppress(RuntimeError):  # never started: a signal came as the pool started it
                    manager.join(STOP_WAIT_S)
                if manager.is_alive() and results is not None:
                    # The worker ended while sending a result: the pool's thread waits for the rest
                    # of the message forever, as this process holds the pipe's write end too.
                    # Closing it ends that wait (the pool then sees its worker gone).
                    results._writer.close()
                    manager.join()
            if results is not None:
                results.close()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: object, *exc_info: object) -> None:
        self.stop(deliver=kind is None)


def start_worker(module: str) -> None:
    """A worker's start: leave Ctrl-C to the command (blocked since its first instruction, where
    the platform carries the block over), watch the process that started it, import its module,
    let it warm up, and keep the collector off what exists by then (it lives as long as the
    worker; exiting is faster too)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=end_with_parent, daemon=True).start()
    warm_up = getattr(importlib.import_module(module), "warm_up", None)
    if warm_up is not None:
        warm_up()
    gc.freeze()


def end_with_parent() -> None:
    """A worker waits for its calls on a queue it shares with the process that started it, so it
    would wait forever once that process is killed outright: it ends with it instead."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
    os._exit(1)


def call_by_name(module: str, function: str, *args: Any) -> Any:
    return getattr(imported(module), function)(*args)


def imported(module: str) -> ModuleType:
    """`module`, imported on its first call. A stop meanwhile waits for the import (a second or
    so): cut short, it left a library half imported, and every later build in the process
    failed on it ("module 'matplotlib' has no attribute ..."), as in a notebook's kernel."""
    if module not in sys.modules:
        with deferred_interrupts():
            importlib.import_module(module)
    return sys.modules[module]


Runner = InProcess | Workers
# The default runner: it holds no state, so one serves every build.
IN_PROCESS = InProcess()
