"""Putting a build in place of the live pair: the reports folders exchanged in one step (an
atomic exchange where the system has one, three renames where it has not, repaired after a
stop), the warehouse renamed over the live one (Ctrl-C and SIGTERM held back meanwhile: `stops`)."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from pathlib import Path

from .errors import PipelineError


def aside_path(path: Path) -> Path:
    """Where `exchange_by_renames(path, ...)` parks the other path for a moment."""
    return path.with_name(f"{path.name}.aside")


def fsync_dir(directory: Path) -> None:
    if os.name == "nt":  # folders cannot be opened for fsync; NTFS journals the renames
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(built: Path, live: Path) -> None:
    os.replace(built, live)


def swap_reports(staged: Path, reports_dir: Path) -> None:
    """Exchange the staged and live reports folders in one step: readers see all old or all
    new. Hidden files of the live folder (.gitkeep) are carried over first."""
    if not reports_dir.exists():
        reports_dir.mkdir(parents=True)
    for hidden in reports_dir.glob(".*"):
        if hidden.is_file() and not hidden.is_symlink() and not (staged / hidden.name).exists():
            shutil.copy2(hidden, staged / hidden.name)
    exchange(staged, reports_dir)
    fsync_dir(reports_dir.parent)


# --- exchanging two paths --------------------------------------------------------------------

AT_FDCWD, RENAME_EXCHANGE = -100, 2  # Linux <fcntl.h>, <linux/fs.h>
RENAME_SWAP = 2  # macOS <stdio.h>
# errors meaning "this file system (or kernel) cannot exchange": use the renames then
UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, getattr(errno, "EOPNOTSUPP", errno.ENOTSUP)}


def load_libc():
    if os.name != "posix":
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def exchange_method(libc) -> str:
    """Which exchange this system has: `renameat2` (Linux 3.15+, glibc 2.28+), `renamex_np`
    (macOS 10.12+), else `renames` (Windows, others)."""
    if libc is not None and hasattr(libc, "renameat2"):
        return "renameat2"
    if libc is not None and hasattr(libc, "renamex_np"):
        return "renamex_np"
    return "renames"


LIBC = load_libc()
METHOD = exchange_method(LIBC)


def exchange_renameat2(a: Path, b: Path) -> None:
    if LIBC.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a), None, str(b))


def exchange_renamex_np(a: Path, b: Path) -> None:
    if LIBC.renamex_np(os.fsencode(a), os.fsencode(b), RENAME_SWAP) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a), None, str(b))


def exchange_by_renames(a: Path, b: Path) -> None:
    """Three renames: `b` aside, `a` to `b`, the aside to `a`. For a moment `b` is missing
    (readers opening it then fail once); a build stopped in between is completed or undone by
    `finish_exchange` before the next one starts."""
    aside = aside_path(a)
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


def finish_exchange(a: Path, b: Path) -> None:
    """Repair what a stopped `exchange_by_renames(a, b)` left: `b` is put back if it was only
    moved aside, and the exchange is completed if `a` had already moved into its place."""
    aside = aside_path(a)
    if not aside.exists():
        return
    if not b.exists():
        os.rename(aside, b)
    elif not a.exists():
        os.rename(aside, a)
    else:
        raise PipelineError(f"{aside}: left by a stopped build beside {b}; move it away")


EXCHANGES = {"renameat2": exchange_renameat2, "renamex_np": exchange_renamex_np, "renames": exchange_by_renames}


def exchange(a: Path, b: Path) -> None:
    """Swap two paths: atomically where the system can (see `exchange_method`), else by
    `exchange_by_renames`, also when the file system refuses the atomic exchange."""
    if METHOD != "renames":
        try:
            EXCHANGES[METHOD](a, b)
            return
        except OSError as e:
            if e.errno not in UNSUPPORTED:
                raise
    exchange_by_renames(a, b)
