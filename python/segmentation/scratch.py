"""A build's own scratch: the two folders it writes in before it publishes, and a record of
them, so that only what a build made is ever removed, by itself or by the next build."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from .db import wal_path
from .errors import PipelineError

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
    reports_dir: Path  # the reports folder it publishes into (`staged` stands beside it)

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
        record = {"warehouse": str(live), "staged": str(staged), "staged_mode": mode, "reports": str(reports_dir)}
        (folder / SCRATCH_RECORD).write_text(json.dumps(record), encoding="utf-8")
        return Scratch(folder, staged, mode, reports_dir)


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
                staged = Path(record["staged"])
                reports = Path(record.get("reports") or staged.with_name(staged.name[1:].rpartition(".building-")[0]))
                found.append((folder.stat().st_mtime_ns, Scratch(folder, staged, int(record["staged_mode"]), reports)))
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


def remove_tree(path: Path) -> None:
    """Remove a folder the build made, also when it carries the mode of a read-only reports
    folder (`keep_modes`): its folders are made writable first."""
    if not path.is_dir() or path.is_symlink():
        return
    for folder in (path, *(p for p in path.rglob("*") if p.is_dir() and not p.is_symlink())):
        with suppress(OSError):
            folder.chmod(stat.S_IMODE(folder.stat().st_mode) | stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)
