"""Waiting for what another program holds: one build per warehouse (and per reports folder)
at a time through a lock file, and no program connected read-write while the live warehouse
is read or replaced (DuckDB's own lock on the file). Every such wait is `retry`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

from .duckdb_errors import is_lock_conflict, raise_if_interrupt
from .errors import PipelineError

WRITER_HELD = "open for writing by another program; connect BI tools read-only"
POLL_S = 0.1

T = TypeVar("T")


def retry(attempt: Callable[[], T | None], timeout_s: float, busy: str) -> T:
    """`attempt()` until it returns something (None: what it needs is held by another
    program), every POLL_S for up to `timeout_s`; then stops with `busy`."""
    deadline = time.monotonic() + timeout_s
    while (result := attempt()) is None:
        if time.monotonic() >= deadline:
            raise PipelineError(busy)
        time.sleep(POLL_S)
    return result


# --- one build at a time: a lock file -------------------------------------------------------


def lock_path(live: Path) -> Path:
    return live.with_name(live.name + ".lock") if live.suffix else live.with_name(f".{live.name}.lock")


try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:  # Linux, macOS
    msvcrt = None  # type: ignore[assignment]


def try_lock(handle) -> bool:
    """Take the exclusive lock on an open lock file without waiting: flock on Linux and macOS,
    msvcrt.locking of its first byte on Windows."""
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
    handle.seek(0)
    try:
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


def unlock(handle) -> None:
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)
    else:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)


@contextmanager
def writer_lock(live: Path, timeout_s: float, log: Callable[[str], None] = print) -> Iterator[None]:
    """One build per warehouse (or reports folder) at a time; a second says it waits (up to
    `timeout_s`), then stops."""
    live.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(live), "a+") as handle:
        if not try_lock(handle):
            if timeout_s > 0:
                log(f"  waiting for another build of {live} to end (at most {timeout_s:g} s, --lock-timeout)")
            retry(
                lambda: try_lock(handle) or None,
                timeout_s,
                f"{live}: another build is running (waited {timeout_s:g} s for it)",
            )
        try:
            yield
        finally:
            unlock(handle)


# --- the live warehouse: no writer connected ------------------------------------------------


def without_writer(live: Path, timeout_s: float, open_live: Callable[[], T], refused: Callable[[str], str]) -> T:
    """`open_live()` (a DuckDB connection to `live`, or its ATTACH), again while a program
    holds `live` read-write, for up to `timeout_s`. Any other DuckDB error stops the build
    with `refused(the error's first line)`."""

    def attempt() -> T | None:
        try:
            return open_live()
        except duckdb.Error as e:
            raise_if_interrupt(e)
            if is_lock_conflict(e):
                return None
            raise PipelineError(refused(str(e).splitlines()[0])) from None

    return retry(attempt, timeout_s, f"{live}: {WRITER_HELD}")


# A file at the warehouse's path opened as DuckDB's own: another format (a SQLite file) is
# refused, never read through an extension DuckDB would download into the user's home.
AS_OUR_OWN: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


@contextmanager
def live_warehouse(live: Path, timeout_s: float) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection to the live warehouse (None when there is none yet), held for
    the block: while it is open no program can connect read-write."""
    if not live.exists():
        yield None
        return
    con = without_writer(
        live,
        timeout_s,
        lambda: duckdb.connect(str(live), read_only=True, config=AS_OUR_OWN),
        lambda error: f"{live}: not a DuckDB database this pipeline can replace ({error}); choose another --warehouse",
    )
    try:
        yield con
    finally:
        con.close()
