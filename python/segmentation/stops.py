"""Ctrl-C and SIGTERM, as the command answers them: each raises KeyboardInterrupt where the
main thread is, and is remembered. Python drops an exception raised where nothing can catch it
(a callback the garbage collector runs, as during an import) and prints "Exception ignored in
...": the build asks `raise_if_asked` at each model and before it publishes, so a stop is never
lost and never lets a build publish, and such a drop prints nothing (the stop's one line says it).

DuckDB looks at Python's signals only now and then while a query runs (a Ctrl-C took 17 s to stop
a build of 10M customers): a thread woken by the signal itself (`signal.set_wakeup_fd`)
interrupts the queries of the connections a build registered (`interrupting`) at once."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any, Protocol

Handler = Callable[[int, Any], Any] | int | signal.Handlers | None  # as signal.signal takes and gives
KINDS = (signal.SIGINT, *((signal.SIGTERM,) if hasattr(signal, "SIGTERM") else ()))
# The stop signals received since `answering` began, in order.
ASKED: list[int] = []
# Not empty once the command has said how the build ended (`said`): a stop after that only sets
# the exit code; before it, the stop's own line says what happened.
SAID: list[bool] = []
# Not empty once `answering` has ended: the command has said how it ended (a handler of the
# caller's, such as pipeline.py's, then has nothing to add).
ANSWERED: list[bool] = []


class Interruptible(Protocol):  # a DuckDB connection (not imported here: the command starts without DuckDB)
    def interrupt(self) -> None: ...


# The connections whose query a stop interrupts (`interrupting`).
INTERRUPTED_BY_STOPS: list[Interruptible] = []
DONE = 0  # written to the watcher's pipe when `answering` ends: no signal has this number


def stop(number: int, frame: object) -> None:
    ASKED.append(number)
    raise KeyboardInterrupt


@contextmanager
def answering() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop what runs in the block (the main thread only: elsewhere no
    signal reaches Python code); the handlers before it are back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    ASKED.clear()
    SAID.clear()
    ANSWERED.clear()
    woken, wake = os.pipe()
    os.set_blocking(wake, False)  # the signal handler's write never blocks
    watcher = threading.Thread(target=interrupt_on_stops, args=(woken,), name="stops", daemon=True)
    with signals_held(*KINDS):  # the thread keeps the block: stops go to the main thread
        watcher.start()
    waking = signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
    report, sys.unraisablehook = sys.unraisablehook, partial(unraisable, sys.unraisablehook)
    # last, just before the block whose `finally` gives them back: a stop during the setup above
    # is still the caller's to answer
    previous = {kind: signal.signal(kind, stop) for kind in KINDS}
    try:
        yield
    finally:
        # a stop while this cleans up waits for it (cut short, it left the watcher, its pipe and
        # the hook behind), then goes to the handlers given back
        with deferred_interrupts(restore=previous):
            signal.set_wakeup_fd(waking)
            os.write(wake, bytes([DONE]))
            watcher.join()
            os.close(wake)
            os.close(woken)
            sys.unraisablehook = report
            ASKED.clear()
            SAID.clear()
            ANSWERED.append(True)


@contextmanager
def deferred_interrupts(deliver: bool = True, restore: Mapping[int, Handler] | None = None) -> Iterator[list[int]]:
    """Ctrl-C and SIGTERM wait until the block is done (the pair is never left half swapped by
    them; a SIGKILL is repaired by the next build). Yields the list of the signals received
    meanwhile; they are raised again once the block is done, or, with `deliver` false, when
    the caller is ready to. The handlers found are put back, or those of `restore`. In the
    main thread only (elsewhere signals reach no Python code)."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    found = {kind: signal.signal(kind, lambda number, frame: received.append(number)) for kind in KINDS}
    try:
        yield received
    finally:
        for kind, handler in (found if restore is None else restore).items():
            signal.signal(kind, handler)
    if deliver:
        deliver_signals(received)


@contextmanager
def signals_held(*signals: int) -> Iterator[None]:
    """Block `signals` in this thread for the block; those received meanwhile are delivered when
    it ends (unless blocked before it). A thread or a process started meanwhile keeps them
    blocked: the mask carries over exec."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(signals))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def deliver_signals(received: list[int]) -> None:
    """Raise the signals a `deferred_interrupts` block held back, as if they came now."""
    for number in dict.fromkeys(received):
        signal.raise_signal(number)


def interrupt_on_stops(woken: int) -> None:
    """The watcher: for each stop signal written to `woken` (the signal numbers, one byte each),
    interrupt the registered connections' queries; returns at DONE."""
    while True:
        numbers = os.read(woken, 64)
        if any(number in KINDS for number in numbers):
            for con in list(INTERRUPTED_BY_STOPS):
                with suppress(Exception):  # closed meanwhile: its build has ended
                    con.interrupt()
        if DONE in numbers:
            return


@contextmanager
def interrupting(con: Interruptible) -> Iterator[None]:
    """In the block, a stop interrupts `con`'s query at once (within `answering`); not around
    work a stop must let finish (publishing holds signals back instead: `deferred_interrupts`)."""
    INTERRUPTED_BY_STOPS.append(con)
    try:
        yield
    finally:
        INTERRUPTED_BY_STOPS.remove(con)


def unraisable(report: Callable[[Any], object], dropped: Any) -> None:
    """A stop's KeyboardInterrupt that Python dropped is said by `raise_if_asked`; the rest as before."""
    if not (ASKED and isinstance(dropped.exc_value, KeyboardInterrupt)):
        report(dropped)


def said() -> None:
    """Note that the command has said how the build ended (its last line)."""
    SAID.append(True)


def exit_code() -> int:
    """The exit code of a stop: 143 for SIGTERM, 130 for Ctrl-C."""
    return 143 if terminated() else 130


def terminated() -> bool:
    """SIGTERM was among the stops: a service manager or `kill`, not Ctrl-C."""
    return hasattr(signal, "SIGTERM") and signal.SIGTERM in ASKED


def raise_if_asked() -> None:
    """Stop here if a stop came whose KeyboardInterrupt was dropped."""
    if ASKED:
        raise KeyboardInterrupt
