"""Ctrl-C and SIGTERM, as the command answers them: each raises KeyboardInterrupt where the
main thread is, and is remembered. Python drops an exception raised where nothing can catch it
(a callback the garbage collector runs, as during an import) and prints "Exception ignored in
...": the build asks `raise_if_asked` at each model and before it publishes, so a stop is never
lost and never lets a build publish, and such a drop prints nothing (the stop's one line says it)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

KINDS = (signal.SIGINT, *((signal.SIGTERM,) if hasattr(signal, "SIGTERM") else ()))
# The stop signals received since `answering` began, in order.
ASKED: list[int] = []


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
    previous = {kind: signal.signal(kind, stop) for kind in KINDS}
    report, sys.unraisablehook = sys.unraisablehook, partial(unraisable, sys.unraisablehook)
    try:
        yield
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)
        sys.unraisablehook = report
        ASKED.clear()


def unraisable(report: Callable[[Any], object], dropped: Any) -> None:
    """A stop's KeyboardInterrupt that Python dropped is said by `raise_if_asked`; the rest as before."""
    if not (ASKED and isinstance(dropped.exc_value, KeyboardInterrupt)):
        report(dropped)


def terminated() -> bool:
    """SIGTERM was among the stops: a service manager or `kill`, not Ctrl-C."""
    return hasattr(signal, "SIGTERM") and signal.SIGTERM in ASKED


def raise_if_asked() -> None:
    """Stop here if a stop came whose KeyboardInterrupt was dropped."""
    if ASKED:
        raise KeyboardInterrupt
