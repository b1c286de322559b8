"""Build beside the live files, then swap them in whole; own exactly what was written.

Readers (BI tools, the DuckDB CLI) may hold the live warehouse open read-only: a new file
renamed over it leaves them reading the old data while new connections see the new. A program
holding it read-write is different: its write-ahead log is named after the path, so after a
rename it would land beside the new file and break it. The build therefore publishes only while
it holds the live file read-only itself (DuckDB's lock: no writer can be connected then).

The reports folder and the warehouse are published as a pair: the reports are exchanged first,
then the warehouse is renamed over the live one (the commit point). A build stopped between the
two leaves the previous reports in the staging folder; the next build puts them back before it
does anything else. Every published reports folder holds a manifest of what the build wrote
there, the run it belongs to and the warehouse's objects: the next build refuses to replace
anything not in it.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import secrets
import shutil
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from .db import first_row, quote_ident
from .errors import PipelineError
from .text import is_utf8

MANIFEST = ".manifest.json"  # in the reports folder: what the build that published it wrote
WRITER_HELD = "open for writing by another program; connect BI tools read-only"
POLL_S = 0.1


# --- names beside the live files ----------------------------------------------------------


def lock_path(live: Path) -> Path:
    return live.with_name(live.name + ".lock") if live.suffix else live.with_name(f".{live.name}.lock")


def wal_path(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


def aside_path(path: Path) -> Path:
    """Where `exchange_by_renames(path, ...)` parks the other path for a moment."""
    return path.with_name(f"{path.name}.aside")


# --- paths the user gave ---------------------------------------------------------------------


def resolve_paths(warehouse: Path, reports_dir: Path) -> tuple[Path, Path]:
    """Absolute, `~` expanded, symlinks followed (a symlinked reports folder or warehouse is
    published through: the link stays and points at the new content). Refuses what cannot work."""
    live, reports = (Path(os.path.expanduser(p)).resolve() for p in (warehouse, reports_dir))
    for path, option in ((live, "--warehouse"), (reports, "--reports")):
        if not is_utf8(path):
            raise PipelineError(
                f"{path}: DuckDB cannot write to a path that is not UTF-8 text; choose another {option}"
            )
    if "?" in str(live):
        raise PipelineError(f"{live}: DuckDB cannot write a database whose path holds '?'; choose another --warehouse")
    if live.is_dir():
        raise PipelineError(f"{live}: is a folder; --warehouse names a DuckDB file")
    if reports.parent == reports:
        raise PipelineError(f"{reports}: the root folder cannot be the reports folder; choose a folder of its own")
    if reports.exists() and not reports.is_dir():
        raise PipelineError(f"{reports}: is a file, not a folder; choose a folder for --reports")
    if live == reports or reports in live.parents:
        raise PipelineError(f"{live}: the warehouse cannot be inside the reports folder {reports}")
    return live, reports


# --- one build at a time: a lock file -------------------------------------------------------

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
def writer_lock(live: Path, timeout_s: float) -> Iterator[None]:
    """One build per warehouse (or reports folder) at a time; a second waits up to
    `timeout_s`, then stops."""
    live.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path(live), "a+") as handle:
        deadline = time.monotonic() + timeout_s
        while not try_lock(handle):
            if time.monotonic() >= deadline:
                raise PipelineError(f"{live}: another build is running (waited {timeout_s:g} s for it)")
            time.sleep(POLL_S)
        try:
            yield
        finally:
            unlock(handle)


# --- the live warehouse: held read-only, so no writer is connected ---------------------------


def is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error).lower()
    return "could not set lock" in text or "conflicting lock" in text or "used by another process" in text


@contextmanager
def live_warehouse(live: Path, timeout_s: float) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection to the live warehouse (None when there is none yet), held for
    the block: while it is open no program can connect read-write. Waits up to `timeout_s` for
    a program holding it read-write to let go."""
    if not live.exists():
        yield None
        return
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            con = duckdb.connect(str(live), read_only=True)
            break
        except duckdb.Error as e:
            if not is_lock_conflict(e):
                raise PipelineError(
                    f"{live}: not a DuckDB database this pipeline can replace ({str(e).splitlines()[0]}); "
                    "choose another --warehouse"
                ) from None
            if time.monotonic() >= deadline:
                raise PipelineError(f"{live}: {WRITER_HELD}") from None
            time.sleep(POLL_S)
    try:
        yield con
    finally:
        con.close()


def objects(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """Every table, view and macro of the connection's database file -> its comment;
    outside schema main, named schema.name."""
    rows = con.execute(
        """
        with found as (
            select schema_name, table_name as name, comment from duckdb_tables()
            where database_name = current_database() and not temporary and not internal
            union all
            select schema_name, view_name, comment from duckdb_views()
            where database_name = current_database() and not temporary and not internal
            union all
            select schema_name, function_name, comment from duckdb_functions()
            where database_name = current_database() and function_type in ('macro', 'table_macro')
                and not internal
        )
        select if(schema_name = 'main', name, schema_name || '.' || name), any_value(comment)
        from found group by all order by 1
        """
    ).fetchall()
    return dict(rows)


def last_run_id(con: duckdb.DuckDBPyConnection, live: Path) -> int:
    """The live warehouse's last run; refuses a DuckDB file this pipeline did not build."""
    columns = {
        name
        for (name,) in con.execute(
            "select column_name from duckdb_columns() where database_name = current_database() "
            "and schema_name = 'main' and table_name = 'pipeline_runs'"
        ).fetchall()
    }
    if not {"run_id", "input_sha256"} <= columns:
        raise PipelineError(
            f"{live}: a DuckDB database this pipeline did not build (it has no pipeline_runs table); "
            "not replacing it: choose another --warehouse"
        )
    return first_row(con, "select coalesce(max(run_id), 0) from pipeline_runs")[0]


def check_foreign_objects(
    con: duckdb.DuckDBPyConnection, live: Path, recorded: set[str] | None, ours: set[str]
) -> None:
    """Refuse a live warehouse holding tables the builds did not create: judged by what the
    last build recorded (its manifest); without a record, by what this build creates and the
    comments every pipeline object carries."""
    found = objects(con)
    if recorded is not None:
        foreign = [name for name in found if name not in recorded]
    else:
        foreign = [name for name, comment in found.items() if name not in ours and not comment]
    if foreign:
        listed = ", ".join(foreign[:10]) + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
        raise PipelineError(
            f"{live}: holds {listed}, which this pipeline did not create; a build replaces the whole "
            "file, so move them to a DuckDB file of your own (it can ATTACH the warehouse read-only)"
        )


# --- the reports folder: a manifest of what the build wrote ---------------------------------


@dataclass(frozen=True)
class Manifest:
    run_id: int  # the run these reports belong to
    highest_run_id: int  # the highest run id ever handed out for this pair: never reused
    warehouse: str  # the warehouse they were published with
    objects: tuple[str, ...]  # that warehouse's tables, views and macros, as built
    files: dict[str, tuple[int, int]]  # path in the folder -> (size, mtime in ns)


def read_manifest(folder: Path) -> Manifest | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Manifest(
            run_id=int(data["run_id"]),
            highest_run_id=int(data["highest_run_id"]),
            warehouse=str(data["warehouse"]),
            objects=tuple(str(name) for name in data["objects"]),
            files={str(name): (int(size), int(mtime)) for name, (size, mtime) in data["files"].items()},
        )
    except (ValueError, KeyError, TypeError) as e:
        raise PipelineError(f"{path}: unreadable ({e}); remove the reports folder or choose another") from None


def write_manifest(folder: Path, manifest: Manifest) -> None:
    data = {
        "run_id": manifest.run_id,
        "highest_run_id": manifest.highest_run_id,
        "warehouse": manifest.warehouse,
        "objects": list(manifest.objects),
        "files": {name: list(stat) for name, stat in manifest.files.items()},
    }
    temporary = folder / (MANIFEST + ".new")
    temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(temporary, folder / MANIFEST)


def written_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` (but hidden ones at its top) -> (size, mtime in ns)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and not path.is_symlink() and not (path.parent == folder and path.name.startswith(".")):
            stat = path.stat()
            found[name] = (stat.st_size, stat.st_mtime_ns)
    return found


def foreign_entries(folder: Path, manifest: Manifest | None) -> list[str]:
    """What the reports folder holds that the last build did not record writing (or that
    changed since): hidden files at its top (.gitkeep) are kept and never count."""
    recorded = manifest.files if manifest else {}
    parents = {parent.as_posix() for name in recorded for parent in Path(name).parents}
    foreign = []
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.parent == folder and path.name.startswith(".") and path.is_file() and not path.is_symlink():
            continue
        if path.is_symlink():
            foreign.append(name)
        elif path.is_dir():
            if name not in parents:
                foreign.append(name + "/")
        elif name not in recorded:
            foreign.append(name)
        else:
            stat = path.stat()
            if (stat.st_size, stat.st_mtime_ns) != recorded[name]:
                foreign.append(f"{name} (changed since the last build wrote it)")
    # the content of a foreign folder is not listed again
    return [name for name in foreign if not any(name.startswith(f) for f in foreign if f.endswith("/") and f != name)]


def check_reports_folder(reports_dir: Path, manifest: Manifest | None) -> None:
    if not reports_dir.is_dir():
        return
    foreign = foreign_entries(reports_dir, manifest)
    if foreign:
        listed = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise PipelineError(
            f"{reports_dir}: the reports folder holds {listed}, which no build recorded writing; "
            "a build replaces the whole folder: move them, or choose an empty or new folder for --reports"
        )


# --- a build's own scratch: folders it made, a record of them -------------------------------

SCRATCH_RECORD = "build.json"
TOKEN_CHARS = 12  # the random part of a scratch folder's name, in hex digits


@dataclass(frozen=True)
class Scratch:
    """What one build writes before it publishes, in two folders it created itself (a random
    name, made with mkdir: never a folder that was there): beside the warehouse its database,
    DuckDB's log and spill folder, and the input's copy; beside the reports folder the new
    reports (after the exchange, the previous ones). The record in the first names both, and
    only what a record names is ever removed: by the build itself, or by a later one holding
    the lock (so the build that made it is gone)."""

    folder: Path
    staged: Path
    staged_mode: int  # what the reports folder becomes on a first publication: the umask's

    @property
    def database(self) -> Path:
        return self.folder / "build.duckdb"

    @property
    def input(self) -> Path:
        """Where the build keeps the copy (or link) of the input that DuckDB reads."""
        return self.folder / "input"


def scratch_prefixes(live: Path, reports_dir: Path) -> tuple[str, str]:
    return f".{live.name}.build-", f".{reports_dir.name}.building-"


def new_scratch(live: Path, reports_dir: Path) -> Scratch:
    """Create this build's scratch folders (we hold both locks) and record them."""
    folder_prefix, staged_prefix = scratch_prefixes(live, reports_dir)
    while True:
        token = secrets.token_hex(TOKEN_CHARS // 2)
        folder, staged = live.parent / (folder_prefix + token), reports_dir.parent / (staged_prefix + token)
        try:
            folder.mkdir(mode=0o700)  # private while it holds the customers
        except FileExistsError:
            continue
        except OSError as e:
            raise PipelineError(
                f"{live}: cannot build it: cannot create {folder}: {e.strerror} (nothing was published)"
            ) from None
        try:
            staged.mkdir(mode=0o700)
        except BaseException as e:
            folder.rmdir()
            if isinstance(e, FileExistsError):
                continue
            if isinstance(e, OSError):
                raise PipelineError(
                    f"{reports_dir}: cannot write the reports: cannot create {staged}: {e.strerror} "
                    "(nothing was published)"
                ) from None
            raise
        mode = 0o777 & ~current_umask()
        record = {"warehouse": str(live), "staged": str(staged), "staged_mode": mode}
        (folder / SCRATCH_RECORD).write_text(json.dumps(record), encoding="utf-8")
        return Scratch(folder, staged, mode)


def current_umask() -> int:
    """The process's umask (set back at once: only this thread makes files now)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def stale_scratch(live: Path, reports_dir: Path) -> list[Scratch]:
    """The scratch of builds of this warehouse that were stopped (we hold the locks, so none
    is running), oldest first. Folders of the scratch names without a record are left alone
    (`remove_empty` takes them when empty)."""
    found = []
    folder_prefix, _ = scratch_prefixes(live, reports_dir)
    for folder in live.parent.glob(glob_escape(folder_prefix) + "*"):
        try:
            record = json.loads((folder / SCRATCH_RECORD).read_text(encoding="utf-8"))
            if record["warehouse"] == str(live):
                found.append(
                    (folder.stat().st_mtime_ns, Scratch(folder, Path(record["staged"]), int(record["staged_mode"])))
                )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return [scratch for _, scratch in sorted(found, key=lambda pair: pair[0])]


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def remove_scratch(scratch: Scratch) -> None:
    """Remove what the build recorded: the files it names inside its folder (then the folder,
    when nothing else is in it), and its reports folder."""
    database = scratch.database
    for path in (database, wal_path(database)):
        path.unlink(missing_ok=True)
    shutil.rmtree(database.with_name(database.name + ".tmp"), ignore_errors=True)  # DuckDB's spill folder
    shutil.rmtree(scratch.input, ignore_errors=True)
    remove_tree(scratch.staged)
    (scratch.folder / SCRATCH_RECORD).unlink(missing_ok=True)
    with suppress(OSError):
        scratch.folder.rmdir()


def remove_empty(live: Path, reports_dir: Path) -> None:
    """Empty folders of the scratch names: a build stopped before recording its scratch."""
    folder_prefix, staged_prefix = scratch_prefixes(live, reports_dir)
    for parent, prefix in ((live.parent, folder_prefix), (reports_dir.parent, staged_prefix)):
        for folder in parent.glob(glob_escape(prefix) + "[0-9a-f]" * TOKEN_CHARS):
            with suppress(OSError):
                folder.rmdir()  # only an empty folder goes


# --- before a build: the pair as the last build left it --------------------------------------


def prepare(live: Path, reports_dir: Path, timeout_s: float, ours: set[str], log: Callable[[str], None]) -> int:
    """Check what the build will replace and restore the pair if a build was stopped while
    publishing it, then clear what stopped builds left (we hold both build locks). Returns the
    highest run id handed out so far."""
    stale = stale_scratch(live, reports_dir)
    for scratch in stale:
        finish_exchange(scratch.staged, reports_dir)
    current = read_manifest(reports_dir)
    # another warehouse's reports (one that moved, with its folder, is no other's)
    if current is not None and current.warehouse != str(live) and Path(current.warehouse).exists():
        raise PipelineError(
            f"{reports_dir}: holds the reports of the warehouse {current.warehouse}; a reports folder "
            "belongs to one warehouse: choose another --reports"
        )
    if not live.exists() and wal_path(live).exists():  # it would be replayed onto the new warehouse
        raise PipelineError(f"{wal_path(live)}: a DuckDB log beside a warehouse that does not exist; move it away")
    with live_warehouse(live, timeout_s) as con:
        live_run = last_run_id(con, live) if con is not None else 0
        if con is not None:
            check_foreign_objects(con, live, set(current.objects) if current else None, ours)
    # what a user saved in the folder would leave with reports swapped out: refuse first
    check_reports_folder(reports_dir, current)
    if current and live.exists() and current.run_id != live_run:
        previous = [
            (scratch, manifest)
            for scratch in stale
            if scratch.staged.is_dir()
            and (manifest := read_manifest(scratch.staged))
            and manifest.run_id == live_run
            and manifest.warehouse == str(live)
        ]
        if previous:
            scratch, manifest = previous[-1]
            with deferred_interrupts():
                exchange(scratch.staged, reports_dir)
                fsync_dir(reports_dir.parent)
            write_manifest(
                reports_dir, replace(manifest, highest_run_id=max(manifest.highest_run_id, current.highest_run_id))
            )
            log(
                f"  restored the reports of run {live_run} to match the warehouse: the build of run "
                f"{current.run_id} was stopped while publishing them"
            )
            current = read_manifest(reports_dir)
        else:
            log(
                f"  warning: the reports are of run {current.run_id}, the warehouse of run {live_run}; "
                "this build replaces both"
            )
    for scratch in stale:
        remove_scratch(scratch)
    remove_empty(live, reports_dir)
    check_reports_folder(reports_dir, current)
    return max(live_run, current.highest_run_id if current else 0)


# --- publishing ------------------------------------------------------------------------------


def fsync_dir(directory: Path) -> None:
    if os.name == "nt":  # folders cannot be opened for fsync; NTFS journals the renames
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def validate_build(built: Path, required: list[str]) -> list[str]:
    """The closed, checkpointed build opens read-only and every published relation reads;
    returns its tables, views and macros."""
    if wal_path(built).exists():
        raise PipelineError(f"{built}: a write-ahead log is left beside the build; not publishing it")
    with duckdb.connect(str(built), read_only=True) as con:
        present = objects(con)
        missing = [name for name in required if name not in present]
        if missing:
            raise PipelineError(f"{built}: the build lacks {', '.join(missing)}; not publishing it")
        for name in required:  # every view must still bind and run
            first_row(con, f"select count(*) from {quote_ident(name)}")
    return list(present)


def replace_file(built: Path, live: Path) -> None:
    os.replace(built, live)


def remove_tree(path: Path) -> None:
    """Remove a folder the build made, also when it carries the mode of a read-only reports
    folder (`keep_modes`): its folders are made writable first."""
    if not path.is_dir() or path.is_symlink():
        return
    for folder in (path, *(p for p in path.rglob("*") if p.is_dir() and not p.is_symlink())):
        with suppress(OSError):
            folder.chmod(stat.S_IMODE(folder.stat().st_mode) | stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)


def keep_modes(published: Path, new: Path) -> None:
    """Give `new` (a file, or a folder and what is in it) the permissions the user gave what it
    replaces at `published`: a warehouse set to 0600 stays 0600. What is new keeps the umask's."""
    for path in (new, *(new.rglob("*") if new.is_dir() else ())):
        try:
            mode = stat.S_IMODE((published / path.relative_to(new)).stat().st_mode)
        except (OSError, ValueError):
            continue
        if mode != stat.S_IMODE(path.stat().st_mode):
            os.chmod(path, mode)


def publish(
    scratch: Scratch,
    live: Path,
    reports_dir: Path,
    required: list[str],
    run_id: int,
    highest_run_id: int,
    timeout_s: float,
) -> list[int]:
    """Validate the build, record what it wrote, then, holding the live warehouse read-only
    (no writer connected), swap the reports in and rename the warehouse over the live one.
    If the warehouse cannot be replaced, the previous reports are swapped back. Returns the
    signals (Ctrl-C, SIGTERM) that came while publishing: they waited until the pair was
    published, and are the caller's to deliver (`deliver_signals`)."""
    built, staged = scratch.database, scratch.staged
    built_objects = validate_build(built, required)
    write_manifest(
        staged, Manifest(run_id, max(run_id, highest_run_id), str(live), tuple(built_objects), written_files(staged))
    )
    if live.exists():
        keep_modes(live, built)
    if reports_dir.is_dir():
        keep_modes(reports_dir, staged)
    else:  # a first publication: the folder as the umask makes folders
        staged.chmod(scratch.staged_mode)
    with live_warehouse(live, timeout_s) as con:
        manifest = read_manifest(reports_dir) if reports_dir.is_dir() else None
        if con is not None:  # what it holds now: a writer may have been at work during the build
            check_foreign_objects(con, live, set(manifest.objects) if manifest else None, set(built_objects))
        # and the reports folder: a file saved there during the build would go with the old reports
        check_reports_folder(reports_dir, manifest)
        with deferred_interrupts(deliver=False) as received:
            # a log left by a writer that was killed belongs to the old file: beside the new one
            # it would be replayed onto it
            if con is not None:
                wal_path(live).unlink(missing_ok=True)
            swap_reports(staged, reports_dir)
            try:
                if con is not None and os.name == "nt":
                    con.close()  # Windows renames no file that is open
                replace_file(built, live)
            except OSError as e:
                swap_reports(staged, reports_dir)  # the exchange is its own inverse
                raise PipelineError(
                    f"{live}: cannot replace it ({e.strerror}); the previous warehouse and reports stay"
                ) from None
            fsync_dir(live.parent)
    remove_tree(staged)  # now the previous reports
    return received


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


@contextmanager
def deferred_interrupts(deliver: bool = True) -> Iterator[list[int]]:
    """Ctrl-C and SIGTERM wait until the block is done: the pair is never left half swapped by
    them (a SIGKILL is repaired by the next build). Yields the list of the signals received
    meanwhile; they are raised again once the block is done, or, with `deliver` false, when
    the caller is ready to. In the main thread only (elsewhere signals reach no Python code)."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    kinds = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {kind: signal.signal(kind, lambda number, frame: received.append(number)) for kind in kinds}
    try:
        yield received
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)
    if deliver:
        deliver_signals(received)


def deliver_signals(received: list[int]) -> None:
    """Raise the signals a `deferred_interrupts` block held back, as if they came now."""
    for number in dict.fromkeys(received):
        signal.raise_signal(number)


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
