"""One line per finished step (kind, name, what it made, seconds), as dbt prints them.

On a terminal, a step still running after two seconds shows a ticking clock on its line until
it ends; when output goes to a file or a pipe only the finished lines are written, so logs
are not flooded.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

TICK_AFTER_S = 2.0


@dataclass
class Step:
    summary: str = ""  # what the step made, set by the caller before the step ends
    started: float = field(default_factory=time.perf_counter)


@contextmanager
def step(label: str, log: Callable[[str], None], stream: TextIO | None = None) -> Iterator[Step]:
    """Time the block; then log `label  summary  seconds`. `label` is the line's start."""
    stream = stream or sys.stdout
    current, done = Step(), threading.Event()
    ticker = None
    if stream.isatty():
        ticker = threading.Thread(target=tick, args=(label, current, done, stream), daemon=True)
        ticker.start()
    try:
        yield current
    finally:
        done.set()
        if ticker is not None:
            ticker.join()
    log(f"{label} {current.summary}  {time.perf_counter() - current.started:.2f} s")


def tick(label: str, current: Step, done: threading.Event, stream: TextIO) -> None:
    if done.wait(TICK_AFTER_S):
        return
    while not done.wait(1.0):
        stream.write(f"\r{label} running {time.perf_counter() - current.started:.0f} s")
        stream.flush()
    stream.write("\r\033[K")  # clear the ticking line; the finished line replaces it
    stream.flush()
