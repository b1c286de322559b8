"""What a published pair holds, and so what the next build may replace: the reports folder's
manifest (the files the build wrote there, its run, the warehouse's objects as built) and the
live warehouse's tables, views and macros. Anything else in either is a user's, and refused."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .db import first_row
from .errors import PipelineError

MANIFEST = ".manifest.json"  # in the reports folder: what the build that published it wrote


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


# What tools leave in a folder that holds nothing of the user's: git's placeholder for an empty
# folder, and macOS Finder's view settings of a folder once opened.
PLACEHOLDERS = frozenset({".gitkeep", ".DS_Store"})


def foreign_entries(folder: Path, manifest: Manifest | None) -> list[str]:
    """What the reports folder holds that the last build did not record writing (or that
    changed since). Hidden files at the top of a build's folder (a file manager's .DS_Store)
    are carried to the next build's and never count; in a folder no build published (a home
    folder, a project's), they are the user's, as is everything else but PLACEHOLDERS."""
    recorded = manifest.files if manifest else {}
    parents = {parent.as_posix() for name in recorded for parent in Path(name).parents}
    foreign = []
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        carried = manifest is not None or path.name in PLACEHOLDERS
        if carried and path.parent == folder and path.name.startswith(".") and path.is_file() and not path.is_symlink():
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


# --- the warehouse: its objects ---------------------------------------------------------------


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
