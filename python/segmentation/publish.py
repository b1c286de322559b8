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

This module says when; the rooms it calls on: `locks` (waiting for other programs),
`manifest` (what a published pair holds), `scratch` (what a build writes before it publishes)
and `swap` (the exchange and the rename, signals held back).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

import duckdb

from .db import is_duckdb_file, quote_ident, wal_path
from .errors import PipelineError
from .locks import live_warehouse
from .manifest import (
    Manifest,
    check_foreign_objects,
    check_reports_folder,
    last_run_id,
    objects,
    read_manifest,
    write_manifest,
    written_files,
)
from .scratch import Scratch, remove_empty, remove_scratch, remove_tree, stale_scratch
from .stops import deferred_interrupts, raise_if_asked
from .swap import aside_path, exchange, finish_exchange, fsync_dir, replace_file, swap_reports
from .text import is_utf8

# --- paths the user gave ---------------------------------------------------------------------


def resolve_paths(warehouse: Path, reports_dir: Path, inputs: Iterable[Path | None] = ()) -> tuple[Path, Path]:
    """Absolute, `~` expanded, symlinks followed (a symlinked reports folder or warehouse is
    published through: the link stays and points at the new content). Refuses what cannot work,
    among it a warehouse inside a folder of `inputs`, whose files it would read as parts."""
    live, reports = (
        resolved(path, option) for path, option in ((warehouse, "--warehouse"), (reports_dir, "--reports"))
    )
    for path, option in ((live, "--warehouse"), (reports, "--reports")):
        if not is_utf8(path):
            raise PipelineError(
                f"{path}: DuckDB cannot write to a path that is not UTF-8 text; choose another {option}"
            )
        if (size := len(os.fsencode(path))) + SCRATCH_DEPTH >= (limit := path_limit(path)):
            raise PipelineError(
                f"{path}: too long for the files a build writes beside it ({size:,} bytes, at most "
                f"{limit - SCRATCH_DEPTH - 1:,} here); choose a shorter {option}"
            )
    for path, option in ((live, "--warehouse"), (reports, "--reports")):
        # the nearest existing folder on the way: a file there stops every folder below it
        if (blocked := next((parent for parent in path.parents if parent.exists()), None)) and not blocked.is_dir():
            raise PipelineError(f"{path}: {blocked} is a file, not a folder; choose another {option}")
    if "?" in str(live):
        raise PipelineError(f"{live}: DuckDB cannot write a database whose path holds '?'; choose another --warehouse")
    if live.is_dir():
        raise PipelineError(f"{live}: is a folder; --warehouse names a DuckDB file")
    # refused before a lock file is made beside it
    if live.exists() and not live.is_file():
        raise PipelineError(f"{live}: is not a file (a device or a pipe); --warehouse names a DuckDB file")
    if live.exists() and not is_duckdb_file(live):
        raise PipelineError(f"{live}: not a DuckDB database (another kind of file); choose another --warehouse")
    if reports.parent == reports:
        raise PipelineError(f"{reports}: the root folder cannot be the reports folder; choose a folder of its own")
    if reports.exists() and not reports.is_dir():
        raise PipelineError(f"{reports}: is a file, not a folder; choose a folder for --reports")
    if reports.is_mount():  # it cannot be exchanged for another folder
        raise PipelineError(
            f"{reports}: is a mount point, which a build cannot replace with the new reports; "
            "choose a folder inside it for --reports"
        )
    if live == reports or reports in live.parents:
        raise PipelineError(f"{live}: the warehouse cannot be inside the reports folder {reports}")
    # another build's published reports are replaced whole by its next build, which refuses a
    # folder holding what it did not write
    for path, option in ((live, "--warehouse"), (reports, "--reports")):
        for folder in path.parents:
            if (manifest := read_manifest(folder)) is not None:
                raise PipelineError(
                    f"{path}: inside {folder}, the published reports of {manifest.warehouse}, which its next "
                    f"build replaces whole; choose another {option}"
                )
    for folder in (resolved(path, "--input") for path in inputs if path is not None):
        if folder.is_dir() and folder in live.parents:
            raise PipelineError(
                f"{live}: the warehouse cannot be inside the input folder {folder} (its files would be read "
                "as the input's parts); choose another --warehouse"
            )
    with suppress(OSError):  # a current folder that is gone holds nothing
        here = Path.cwd()
        if reports == here or reports in here.parents:
            raise PipelineError(
                f"{reports}: holds the current folder, which a build would replace with the reports "
                "(a build replaces the whole folder); choose a folder of its own for --reports"
            )
    return live, reports


# What a build writes below its scratch folders beside the paths (the spill files of its
# database, the input's copy, the reports' deepest files) is at most this many bytes longer
# than the path itself: a longer path would leave scratch that no build can remove.
SCRATCH_DEPTH = 100


def path_limit(path: Path) -> int:
    """The longest path the file system holding `path` takes (its nearest existing folder's)."""
    folder = next((parent for parent in path.parents if parent.is_dir()), Path("/"))
    try:
        return os.pathconf(folder, "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):  # a system without pathconf, or the name
        return 4096


def resolved(path: Path, option: str) -> Path:
    """`path` absolute, `~` expanded, symlinks followed; one that cannot be (a folder on the way
    that cannot be entered, links in a loop) is refused."""
    try:
        return Path(os.path.expanduser(path)).resolve()
    except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop, before Python 3.13
        reason = e.strerror if isinstance(e, OSError) and e.strerror else "its symbolic links lead back to themselves"
        raise PipelineError(f"{path}: cannot be reached ({reason}); choose another {option}") from None


# --- before a build: the pair as the last build left it --------------------------------------


def recover_pair(live: Path, reports_dir: Path, timeout_s: float, ours: set[str], log: Callable[[str], None]) -> int:
    """Check what the build will replace and restore the pair if a build was stopped while
    publishing it, then clear what stopped builds left (we hold both build locks). Returns the
    highest run id handed out so far."""
    stale = stale_scratch(live, reports_dir)
    # A build of this warehouse stopped before it began publishing into another reports folder
    # (its staged reports hold no manifest yet, none is half exchanged) left nothing to repair:
    # its scratch goes now. One stopped while publishing there leaves that pair to the next
    # build into that folder (it holds that folder's lock); here the run that build may have
    # published there counts, so that no id is handed out twice.
    for scratch in [s for s in stale if s.reports_dir != reports_dir and not began_publishing(s)]:
        remove_scratch(scratch)
        stale.remove(scratch)
    elsewhere = list(dict.fromkeys(scratch.reports_dir for scratch in stale if scratch.reports_dir != reports_dir))
    stale = [scratch for scratch in stale if scratch.reports_dir == reports_dir]
    for folder in elsewhere:
        log(
            f"  warning: {folder}: a build of this warehouse was stopped while publishing its reports "
            "there; the next build into that folder repairs them"
        )
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
            # the run the stopped build published stays handed out: said before the folders swap,
            # so that a build stopped right after the swap leaves it said
            write_manifest(
                scratch.staged, replace(manifest, highest_run_id=max(manifest.highest_run_id, current.highest_run_id))
            )
            with deferred_interrupts():
                exchange(scratch.staged, reports_dir)
                fsync_dir(reports_dir.parent)
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
    published_elsewhere = [manifest.highest_run_id for folder in elsewhere if (manifest := read_manifest(folder))]
    return max(live_run, current.highest_run_id if current else 0, *published_elsewhere)


def began_publishing(scratch: Scratch) -> bool:
    """Whether a stopped build had begun to publish: it writes the manifest into its staged
    reports just before it exchanges them (`publish`), and an exchange by renames leaves a
    folder aside while it runs."""
    return read_manifest(scratch.staged) is not None or aside_path(scratch.staged).exists()


# --- publishing ------------------------------------------------------------------------------


def validate_build(built: Path, required: list[str]) -> list[str]:
    """The closed, checkpointed build opens read-only and every published relation binds;
    returns its tables, views and macros."""
    if wal_path(built).exists():
        raise PipelineError(f"{built}: a write-ahead log is left beside the build; not publishing it")
    with duckdb.connect(str(built), read_only=True) as con:
        present = objects(con)
        missing = [name for name in required if name not in present]
        if missing:
            raise PipelineError(f"{built}: the build lacks {', '.join(missing)}; not publishing it")
        # every view binds to what it reads (planned, not run: a view over every customer
        # would be computed whole)
        for name in required:
            con.execute(f"select * from {quote_ident(name)} limit 0").fetchall()
    return list(present)


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
    published: Callable[[], None] = lambda: None,
) -> list[int]:
    """Validate the build, record what it wrote, then, holding the live warehouse read-only
    (no writer connected), swap the reports in and rename the warehouse over the live one.
    If the warehouse cannot be replaced, the previous reports are swapped back. `published` is
    called the moment the pair is in place, before a held-back stop can come. Returns the
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
            raise_if_asked()  # a stop whose KeyboardInterrupt was dropped: never published
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
            published()
    remove_tree(staged)  # now the previous reports
    return received
