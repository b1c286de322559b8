"""Build beside the live files, then swap them in whole.

Readers (BI tools, the DuckDB CLI) may hold the live warehouse open: DuckDB would refuse a
writer on that file, but a new file renamed over it leaves them reading the old data while
new connections see the new. A build that fails or is killed never touches the live files.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .db import first_row, quote_ident
from .errors import PipelineError


def lock_path(live: Path) -> Path:
    return live.with_name(live.name + ".lock") if live.suffix else live.with_name(f".{live.name}.lock")


def build_path(live: Path) -> Path:
    return live.with_name(live.name + ".build")


def wal_path(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


@contextmanager
def writer_lock(live: Path, timeout_s: float) -> Iterator[None]:
    """One build per warehouse (or reports folder) at a time; a second waits up to
    `timeout_s`, then stops."""
    live.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(live), "a") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PipelineError(
                        f"{live}: another build is running (waited {timeout_s:g} s for it)"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_build_files(live: Path) -> None:
    """What a failed or killed build left beside the live file (we hold the lock): the build
    file, its write-ahead log and DuckDB's spill folder."""
    building = build_path(live)
    for path in (building, wal_path(building)):
        path.unlink(missing_ok=True)
    shutil.rmtree(building.with_name(building.name + ".tmp"), ignore_errors=True)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def validate_build(built: Path, required: list[str]) -> None:
    """The closed, checkpointed build opens read-only and every published relation reads."""
    if wal_path(built).exists():
        raise PipelineError(f"{built}: a write-ahead log is left beside the build; not publishing it")
    with duckdb.connect(str(built), read_only=True) as con:
        present = {
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() union all select view_name from duckdb_views()"
            ).fetchall()
        }
        missing = [name for name in required if name not in present]
        if missing:
            raise PipelineError(f"{built}: the build lacks {', '.join(missing)}; not publishing it")
        for name in required:  # every view must still bind and run
            first_row(con, f"select count(*) from {quote_ident(name)}")


def publish(built: Path, live: Path, staged: Path, reports_dir: Path, required: list[str]) -> None:
    """Validate the build, swap the reports in, then the warehouse; if the warehouse cannot be
    replaced, the previous reports are swapped back, so the two never disagree."""
    validate_build(built, required)
    swap_reports(staged, reports_dir)
    try:
        wal_path(live).unlink(missing_ok=True)  # a stale log would be replayed onto the new file
        os.replace(built, live)
    except OSError:
        swap_reports(staged, reports_dir)  # the exchange is its own inverse
        raise
    fsync_dir(live.parent)
    shutil.rmtree(staged, ignore_errors=True)  # now the previous reports


def reports_staging(reports_dir: Path, owned: Iterable[str]) -> Path:
    """A fresh folder beside `reports_dir` to write the new reports into.

    The reports folder is replaced whole, so it must hold nothing but reports (and hidden
    files such as .gitkeep, which are carried over): anything else would be lost.
    """
    if reports_dir.is_dir():
        foreign = sorted(
            p.name for p in reports_dir.iterdir()
            if p.name not in set(owned) and not (p.name.startswith(".") and p.is_file())
        )
        if foreign:
            raise PipelineError(
                f"{reports_dir}: the reports folder also holds {', '.join(foreign[:5])}; "
                "choose a folder for the reports alone"
            )
    staged = reports_dir.with_name(f".{reports_dir.name}.building")
    shutil.rmtree(staged, ignore_errors=True)  # left by a killed build (we hold the lock)
    staged.mkdir(parents=True)
    return staged


def swap_reports(staged: Path, reports_dir: Path) -> None:
    """Exchange the staged and live reports folders in one step: readers see all old or all
    new. Hidden files of the live folder (.gitkeep) are carried over first."""
    if not reports_dir.exists():
        reports_dir.mkdir(parents=True)
    for hidden in reports_dir.glob(".*"):
        if hidden.is_file() and not (staged / hidden.name).exists():
            shutil.copy2(hidden, staged / hidden.name)
    exchange(staged, reports_dir)
    fsync_dir(reports_dir.parent)


_libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2


def exchange(a: Path, b: Path) -> None:
    """Atomically swap two paths (Linux renameat2 with RENAME_EXCHANGE)."""
    if _libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"cannot swap {a} and {b}: {os.strerror(errno)}")
