"""Trust under real use: writers, odd paths, kills and full disks never break the published
pair (warehouse and reports), and every failure is one `error:` line. One section per failure
found by trying to break it; kill windows are widened by hooks in the test, never by sleeping."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from conftest import (
    command_in_process,
    fingerprint,
    hooked_pipeline,
    pipeline_command,
    publishing_stopped,
    query,
    run_build,
    run_command,
    scratch_left,
)
from segmentation import locks, publish
from segmentation.building import build
from segmentation.config import PROJECT_DIR, SAMPLE_INPUT
from segmentation.db import wal_path
from segmentation.errors import PipelineError
from segmentation.manifest import MANIFEST, read_manifest

PIPELINE = PROJECT_DIR / "pipeline.py"
WRITER = textwrap.dedent("""
    # A program holding the warehouse read-write, as BI tools do by default: commits, then
    # waits for a line on stdin before each next step.
    import duckdb, sys
    con = duckdb.connect(sys.argv[1])
    con.execute("create or replace temp table scratch as select 1 as a")
    con.execute("update pipeline_runs set flags = 'touched by a writer'")
    print("committed", flush=True)
    sys.stdin.readline()
    con.execute("update pipeline_runs set flags = 'touched again'")
    print("committed again", flush=True)
    sys.stdin.readline()
    con.close()
""")


def pipeline(settings, *extra: str) -> subprocess.CompletedProcess:
    """The command started as a user starts it: for what happens before the build (usage errors)."""
    return subprocess.run(pipeline_command(settings, *extra), capture_output=True, text=True, timeout=180)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    """The failure's only line on stderr (no traceback)."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, done.stderr
    return lines[0]


def warehouse_run(settings) -> int:
    return query(settings.warehouse_path, "select max(run_id) from pipeline_runs")[0][0]


def reports_run(settings) -> int:
    manifest = read_manifest(settings.reports_dir)
    html = (settings.reports_dir / "index.html").read_text()
    assert f"run {manifest.run_id})" in html  # the manifest tells the truth about the report
    return manifest.run_id


def no_foreign_wal(settings) -> None:
    assert not wal_path(settings.warehouse_path).exists()


# --- 1. a writer connected read-write never makes the warehouse unopenable ------------------


def start_writer(path: Path) -> subprocess.Popen:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline().strip() == "committed"
    return writer


@pytest.mark.usefixtures("published")
def test_a_writer_holding_the_warehouse_stops_the_build_with_a_message(settings, capsys):
    reports_before = fingerprint(settings.reports_dir)
    writer = start_writer(settings.warehouse_path)
    try:
        done = command_in_process(capsys, settings, "--lock-timeout", "0")
        assert done.returncode == 1
        assert one_error_line(done) == (
            f"error: {settings.warehouse_path}: open for writing by another program; connect BI tools read-only"
        )
        writer.stdin.write("\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "committed again"
    finally:
        writer.communicate("\n", timeout=30)
    assert writer.returncode == 0
    assert fingerprint(settings.reports_dir) == reports_before
    assert query(settings.warehouse_path, "select flags from pipeline_runs") == [("touched again",)]
    assert scratch_left(settings) == []
    no_foreign_wal(settings)


@pytest.mark.usefixtures("published")
def test_a_writer_that_connects_during_the_build_is_waited_for(settings, monkeypatch):
    """The reported sequence: a writer connects and commits while the build runs, the build
    reaches publishing, the writer commits again, then lets go: the build publishes after it,
    and every file opens."""
    writer, seen = {}, threading.Event()
    validate, conflict = publish.validate_build, locks.is_lock_conflict

    def validate_then_writer_connects(*args):
        writer["process"] = start_writer(settings.warehouse_path)
        return validate(*args)

    def conflict_seen(error):
        seen.set()
        return conflict(error)

    monkeypatch.setattr(publish, "validate_build", validate_then_writer_connects)
    monkeypatch.setattr(locks, "is_lock_conflict", conflict_seen)
    result = {}
    builder = threading.Thread(target=lambda: result.setdefault("run", run_build(settings, lock_timeout_s=120)))
    builder.start()
    assert seen.wait(timeout=120)  # the build is waiting for the writer
    process = writer["process"]
    process.stdin.write("\n")
    process.stdin.flush()
    assert process.stdout.readline().strip() == "committed again"
    process.communicate("\n", timeout=30)
    builder.join(timeout=120)
    monkeypatch.undo()
    assert "run" in result
    no_foreign_wal(settings)
    # the new file replaces the whole warehouse (the writer's edits of the old one go with it)
    assert query(settings.warehouse_path, "select run_id, flags from pipeline_runs order by run_id") == [
        (1, None),
        (2, None),
    ]
    done = subprocess.run(
        [
            str(PROJECT_DIR / ".venv" / "bin" / "duckdb"),
            "-readonly",
            str(settings.warehouse_path),
            "-c",
            "select count(*) from customer_segments",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "200" in done.stdout, done.stderr
    run_build(settings)  # and later builds go on
    assert warehouse_run(settings) == reports_run(settings) == 3


@pytest.mark.usefixtures("published")
def test_a_log_left_by_a_killed_writer_is_not_replayed_onto_the_new_file(settings):
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
        import duckdb, os, signal, sys
        con = duckdb.connect(sys.argv[1])
        con.execute("update pipeline_runs set flags = 'in the log only'")
        os.kill(os.getpid(), signal.SIGKILL)
    """),
            str(settings.warehouse_path),
        ]
    )
    writer.wait(timeout=60)
    assert wal_path(settings.warehouse_path).exists()
    run_build(settings)
    no_foreign_wal(settings)
    assert query(settings.warehouse_path, "select count(*) from pipeline_runs") == [(2,)]


# --- 2. --reports naming a file ----------------------------------------------------------------


def test_reports_naming_a_file_is_refused(settings, tmp_path, capsys):
    mine = tmp_path / "notes.txt"
    mine.write_text("mine")
    done = command_in_process(capsys, replace(settings, reports_dir=mine))
    assert done.returncode == 1
    assert one_error_line(done) == f"error: {mine}: is a file, not a folder; choose a folder for --reports"
    assert mine.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


# --- 3. the reports folder holds only what the last build wrote --------------------------------


def test_a_folder_holding_only_the_users_own_index_html_is_refused(settings):
    settings.reports_dir.mkdir(parents=True)
    (settings.reports_dir / "index.html").write_text("my own page")
    with pytest.raises(PipelineError, match=r"reports folder holds index\.html, which no build recorded"):
        run_build(settings)
    assert (settings.reports_dir / "index.html").read_text() == "my own page"
    assert not settings.warehouse_path.exists()


@pytest.mark.usefixtures("published")
def test_a_folder_named_like_a_report_file_is_refused(settings):
    dataset = settings.reports_dir / "segment_summary.parquet"
    dataset.unlink()
    (dataset / "part-0").mkdir(parents=True)
    (dataset / "part-0" / "data.parquet").write_text("someone's dataset")
    with pytest.raises(PipelineError, match=r"holds segment_summary\.parquet/, which no build"):
        run_build(settings)
    assert (dataset / "part-0" / "data.parquet").read_text() == "someone's dataset"


@pytest.mark.usefixtures("published")
def test_a_report_changed_by_hand_is_refused(settings):
    (settings.reports_dir / "index.html").write_text("edited")
    with pytest.raises(PipelineError, match=r"index\.html \(changed since the last build wrote it\)"):
        run_build(settings)


def test_a_symlinked_reports_folder_is_published_through(settings, tmp_path):
    target = tmp_path / "real-reports"
    target.mkdir()
    settings.reports_dir.symlink_to(target, target_is_directory=True)
    for run in (1, 2):
        run_build(settings)
        assert settings.reports_dir.is_symlink() and os.readlink(settings.reports_dir) == str(target)
        assert reports_run(settings) == run == read_manifest(target).run_id
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".real-reports.")] == [".real-reports.lock"]


# --- 4. a warehouse the pipeline did not build, tables it did not create ------------------------


def test_another_duckdb_database_is_not_replaced(settings, capsys):
    settings.warehouse_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create table orders as select range as order_id from range(1000)")
    before = fingerprint(settings.warehouse_path)
    done = command_in_process(capsys, settings)
    assert done.returncode == 1
    assert one_error_line(done) == (
        f"error: {settings.warehouse_path}: a DuckDB database this pipeline did not build (it has no "
        "pipeline_runs table); not replacing it: choose another --warehouse"
    )
    assert fingerprint(settings.warehouse_path) == before
    assert not settings.reports_dir.exists()


@pytest.mark.parametrize("kind", ["csv", "sqlite"])
def test_a_file_that_is_no_database_is_not_replaced(settings, tmp_path, monkeypatch, kind):
    """Nor read: DuckDB would download and load an extension (into the home folder) to open a
    SQLite file."""
    settings.warehouse_path.parent.mkdir(parents=True)
    if kind == "csv":
        settings.warehouse_path.write_text("CustomerID,Gender\n")
    else:
        with closing(sqlite3.connect(settings.warehouse_path)) as con:
            con.execute("create table customers (id)")
            con.commit()
    before = fingerprint(settings.warehouse_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(PipelineError, match=re.escape("not a DuckDB database (another kind of file)")):
        run_build(settings)
    assert fingerprint(settings.warehouse_path) == before
    assert not (tmp_path / "home").exists()
    assert sorted(path.name for path in settings.warehouse_path.parent.iterdir()) == [settings.warehouse_path.name]


def test_a_reports_folder_that_is_a_mount_point_is_refused_before_the_build(settings, tmp_path):
    """It cannot be exchanged: the build ran whole, then failed with "Device or resource busy"."""
    mount = tmp_path / "mounted"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs needs root here")
    try:
        with pytest.raises(PipelineError, match=re.escape(f"{mount}: is a mount point, which a build cannot replace")):
            run_build(replace(settings, reports_dir=mount))
        assert not settings.warehouse_path.exists()
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_path_too_long_for_the_builds_own_files_is_refused_before_any_is_written(settings, tmp_path):
    """Near the system's path limit, the scratch a build wrote could not be removed again, and
    every later build failed on it."""
    deep = tmp_path
    while len(str(deep)) < 4020:
        deep = deep / ("d" * min(200, 4020 - len(str(deep))))
    deep.mkdir(parents=True)
    with pytest.raises(PipelineError, match="too long for the files a build writes beside it"):
        run_build(settings, warehouse_path=deep / "w" / "mall.duckdb", reports_dir=deep / "r")
    assert list(deep.iterdir()) == []


def test_a_warehouse_inside_a_folder_input_is_refused_before_anything_is_written(settings, tmp_path):
    """Its lock file and the warehouse would be read as parts of the input, by every later build."""
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "part-0.csv").write_bytes(SAMPLE_INPUT.read_bytes())
    inside = replace(settings, input_path=parts, warehouse_path=parts / "mall.duckdb")
    with pytest.raises(
        PipelineError,
        match=re.escape(f"{parts / 'mall.duckdb'}: the warehouse cannot be inside the input folder {parts}"),
    ):
        run_build(inside)
    assert [path.name for path in parts.iterdir()] == ["part-0.csv"]


@pytest.mark.usefixtures("published")
def test_tables_an_analyst_added_are_named_and_kept(settings):
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create table my_targets as select 1 as customer_id")
        con.execute("create schema scratch")
        con.execute("create view scratch.big_spenders as select * from customer_segments where spending_score > 80")
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    with pytest.raises(
        PipelineError, match=r"holds my_targets, scratch\.big_spenders, which this pipeline did not create"
    ):
        run_build(settings)
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before


@pytest.mark.usefixtures("published")
def test_a_table_added_while_the_build_runs_is_caught_before_publishing(settings, monkeypatch):
    validate = publish.validate_build

    def analyst_adds_a_table(*args):
        with duckdb.connect(str(settings.warehouse_path)) as con:
            con.execute("create table my_targets as select 1 as customer_id")
        return validate(*args)

    monkeypatch.setattr(publish, "validate_build", analyst_adds_a_table)
    with pytest.raises(PipelineError, match="holds my_targets, which this pipeline did not create"):
        run_build(settings)
    assert query(settings.warehouse_path, "select count(*) from my_targets") == [(1,)]
    assert warehouse_run(settings) == reports_run(settings) == 1


# --- 5. the pair is consistent after a kill at any instant; ids never reused --------------------

KILL_POINTS = [
    ("validate_build", "after"),
    ("live_warehouse", "before"),
    ("swap_reports", "before"),
    ("swap_reports", "after"),
    ("replace_file", "before"),
    ("replace_file", "after"),
    ("remove_tree", "before"),
]


def kill_hook(name: str, when: str, sig: str = "SIGKILL") -> str:
    return f"""
        original = publish.{name}
        def hooked(*args, **kwargs):
            if {when!r} == "before":
                os.kill(os.getpid(), signal.{sig})
            result = original(*args, **kwargs)
            if {when!r} == "after":
                os.kill(os.getpid(), signal.{sig})
            return result
        publish.{name} = hooked
    """


def assert_killed_build_repaired(settings, done: subprocess.CompletedProcess) -> None:
    assert done.returncode == -signal.SIGKILL, done.stderr
    no_foreign_wal(settings)
    warehouse = warehouse_run(settings)
    # missing for a moment only when the folders are exchanged by three renames
    reports = reports_run(settings) if settings.reports_dir.exists() else None
    # both the previous build, both the new one, or (killed between the two) reports ahead
    assert (warehouse, reports) in [(1, 1), (2, 2), (1, 2), (1, None)]
    lines: list[str] = []
    build(settings, log=lines.append)
    restored = [line for line in lines if "restored the reports" in line]
    if (warehouse, reports) == (1, 2):
        assert restored == [
            "  restored the reports of run 1 to match the warehouse: the build of run 2 "
            "was stopped while publishing them"
        ]
    else:
        assert restored == []
    # the next build never reuses an id that a published report carried
    last = max(warehouse, reports or 0)
    assert warehouse_run(settings) == reports_run(settings) == last + 1
    published = [1] if warehouse == 1 else [1, 2]
    assert query(settings.warehouse_path, "select run_id from pipeline_runs order by 1") == [
        (run,) for run in [*published, last + 1]
    ]
    leftovers = sorted(p.name for p in settings.reports_dir.parent.iterdir() if p.name.startswith(".reports."))
    assert leftovers == [".reports.lock"]


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize(("name", "when"), KILL_POINTS)
def test_a_kill_while_publishing_leaves_a_consistent_pair(settings, name, when):
    done = publishing_stopped(settings, kill_hook(name, when))
    assert_killed_build_repaired(settings, done)


@pytest.mark.usefixtures("published")
def test_a_kill_between_the_swaps_is_repaired_by_the_next_build_into_that_folder(settings, tmp_path):
    """A build of the same warehouse into another reports folder meanwhile leaves the stopped
    pair to it, and never hands out the run id the stopped build published there."""
    done = publishing_stopped(settings, kill_hook("replace_file", "before"))
    assert (done.returncode, warehouse_run(settings), reports_run(settings)) == (-signal.SIGKILL, 1, 2)
    elsewhere = replace(settings, reports_dir=tmp_path / "other-reports")
    lines: list[str] = []
    build(elsewhere, log=lines.append)
    assert [line for line in lines if "warning" in line] == [
        f"  warning: {settings.reports_dir}: a build of this warehouse was stopped while publishing its "
        "reports there; the next build into that folder repairs them"
    ]
    assert warehouse_run(settings) == reports_run(elsewhere) == 3
    lines.clear()
    build(settings, log=lines.append)
    assert "  warning: the reports are of run 2, the warehouse of run 3; this build replaces both" in lines
    assert warehouse_run(settings) == reports_run(settings) == 4
    assert query(settings.warehouse_path, "select run_id from pipeline_runs order by 1") == [(1,), (3,), (4,)]
    assert scratch_left(settings) == []


@pytest.mark.usefixtures("published")
def test_a_kill_while_a_stopped_publish_is_repaired_hands_out_no_run_id_twice(settings):
    """Run 2's reports were published, its warehouse not; the build that puts run 1's reports
    back is killed right after the swap: run 2 stays handed out."""
    done = publishing_stopped(settings, kill_hook("replace_file", "before"))
    assert (done.returncode, warehouse_run(settings), reports_run(settings)) == (-signal.SIGKILL, 1, 2)
    done = publishing_stopped(settings, kill_hook("exchange", "after"))
    assert (done.returncode, warehouse_run(settings), reports_run(settings)) == (-signal.SIGKILL, 1, 1)
    build(settings, log=lambda line: None)
    assert query(settings.warehouse_path, "select run_id from pipeline_runs order by 1") == [(1,), (3,)]
    assert warehouse_run(settings) == reports_run(settings) == 3


@pytest.mark.parametrize("option", ["reports_dir", "warehouse_path"])
def test_a_path_through_a_file_is_refused_naming_the_file(settings, tmp_path, option):
    blocking = tmp_path / "notes.txt"
    blocking.write_text("mine\n")
    path = blocking / "sub" / ("w.duckdb" if option == "warehouse_path" else "reports")
    with pytest.raises(
        PipelineError, match=rf"^{re.escape(str(path))}: {re.escape(str(blocking))} is a file, not a folder"
    ):
        build(replace(settings, **{option: path}), log=lambda line: None)
    assert blocking.read_text() == "mine\n"


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize("inside", ["reports_dir", "warehouse_path"])
def test_nothing_of_another_build_goes_inside_its_published_reports(settings, tmp_path, inside):
    other = replace(settings, warehouse_path=tmp_path / "other.duckdb", reports_dir=tmp_path / "other-reports")
    path = settings.reports_dir / "sub" / ("w.duckdb" if inside == "warehouse_path" else "reports")
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    with pytest.raises(
        PipelineError, match=rf"^{re.escape(str(path))}: inside {re.escape(str(settings.reports_dir))}, "
    ):
        build(replace(other, **{inside: path}), log=lambda line: None)
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before
    assert not (settings.reports_dir / "sub").exists()


@pytest.mark.usefixtures("published")
def test_a_build_killed_before_publishing_is_cleared_by_a_build_into_another_folder(settings, tmp_path):
    """Nothing of it was published, so nothing waits for the next build into its folder: a
    build of the same warehouse into another reports folder removes its scratch, silently."""
    done = publishing_stopped(settings, kill_hook("validate_build", "before"))
    assert (done.returncode, warehouse_run(settings), reports_run(settings)) == (-signal.SIGKILL, 1, 1)
    assert scratch_left(settings) != []
    elsewhere = replace(settings, reports_dir=tmp_path / "other-reports")
    lines: list[str] = []
    build(elsewhere, log=lines.append)
    assert [line for line in lines if "warning" in line] == []
    assert scratch_left(settings) == []
    assert warehouse_run(settings) == reports_run(elsewhere) == 2


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize("renames", [1, 2])
def test_a_kill_inside_the_three_renames_exchange_is_repaired(settings, renames):
    hook = f"""
        swap.METHOD = "renames"
        real_rename, calls = os.rename, []
        def rename(a, b):
            real_rename(a, b)
            calls.append(b)
            if len(calls) == {renames}:
                os.kill(os.getpid(), signal.SIGKILL)
        os.rename = rename
    """
    done = publishing_stopped(settings, hook)
    assert_killed_build_repaired(settings, done)


@pytest.mark.usefixtures("published")
def test_ctrl_c_while_publishing_waits_for_the_pair_and_says_so(settings):
    done = publishing_stopped(settings, kill_hook("swap_reports", "after", "SIGINT"))
    assert done.returncode == 130
    assert one_error_line(done) == (
        "error: interrupted after run 2 was published: the warehouse and reports are this build's"
    )
    assert warehouse_run(settings) == reports_run(settings) == 2
    assert scratch_left(settings) == []


@pytest.mark.usefixtures("published")
def test_ctrl_c_before_publishing_leaves_the_pair_and_says_so(settings):
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    done = publishing_stopped(settings, kill_hook("live_warehouse", "before", "SIGINT"))
    assert done.returncode == 130
    assert one_error_line(done) == "error: interrupted; the published warehouse and reports are as they were"
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before
    run_build(settings)
    assert warehouse_run(settings) == reports_run(settings) == 2


@pytest.mark.usefixtures("published")
def test_a_warehouse_that_cannot_be_replaced_swaps_the_reports_back(settings, monkeypatch):
    before = fingerprint(settings.warehouse_path, settings.reports_dir)

    def refused(built, live):
        raise PermissionError(errno.EACCES, "Permission denied", str(live))

    monkeypatch.setattr(publish, "replace_file", refused)
    with pytest.raises(PipelineError, match=r"cannot replace it \(Permission denied\); the previous warehouse"):
        run_build(settings)
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before


# --- 6. failures the user meets are one error line, never a traceback ----------------------------


def file_size_limit_hook(step: str, limit: int) -> str:
    """From `step` of the build on, this process cannot write files past `limit` bytes: a write
    past it fails with EFBIG, as on a full disk (its worker processes are not limited)."""
    return f"""
        import resource
        import segmentation.building
        original = segmentation.building.{step}
        def limited(*args, **kwargs):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
            return original(*args, **kwargs)
        segmentation.building.{step} = limited
    """


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize("step", ["record_phase", "write_reports"])
def test_a_full_disk_is_one_error_line(settings, step):
    """The disk fills while DuckDB records the run, or while the reports are written."""
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    done = hooked_pipeline(settings, file_size_limit_hook(step, 64 << 10))
    assert done.returncode == 1
    line = one_error_line(done)
    if step == "record_phase":
        assert line.startswith(f"error: {settings.warehouse_path}: cannot build it: ") and "File too large" in line
    else:
        assert (
            line == f"error: {settings.reports_dir}: cannot write the reports: File too large (nothing was published)"
        )
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before
    assert scratch_left(settings) == []


@pytest.mark.usefixtures("published")
def test_no_space_left_while_writing_the_reports(settings, monkeypatch):
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    import segmentation.building

    def disk_full(con, directory, charts):
        raise OSError(errno.ENOSPC, "No space left on device", str(directory / "index.html"))

    monkeypatch.setattr(segmentation.building, "write_reports", disk_full)
    with pytest.raises(PipelineError) as failed:
        run_build(settings)
    assert str(failed.value) == (
        f"{settings.reports_dir}: cannot write the reports: No space left on device (nothing was published)"
    )
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before
    assert scratch_left(settings) == []


@contextmanager
def read_only_folder(folder: Path):
    """Nobody may create files in `folder`, not even root (immutable) while the block runs."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
    elif subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("root cannot make a folder read-only here (chattr +i refused)")
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_a_read_only_warehouse_folder_is_one_error_line(settings, capsys):
    folder = settings.warehouse_path.parent
    folder.mkdir(parents=True)
    with read_only_folder(folder):
        done = command_in_process(capsys, settings)
    assert done.returncode == 1
    line = one_error_line(done)
    assert line.startswith(f"error: {folder / 'mall.duckdb.lock'}: ") and line.endswith("(nothing was published)")
    assert list(folder.iterdir()) == [] and not settings.reports_dir.exists()


@pytest.mark.usefixtures("published")
def test_a_read_only_warehouse_folder_keeps_the_last_build(settings, capsys):
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    with read_only_folder(settings.warehouse_path.parent):
        done = command_in_process(capsys, settings)
    assert done.returncode == 1
    line = one_error_line(done)
    assert line.startswith(f"error: {settings.warehouse_path}: cannot build it: ") and "mall.duckdb.build" in line
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--warehouse", "odd?name.duckdb", "DuckDB cannot write a database whose path holds '?'"),
        ("--storage-version", "garbage", "not a DuckDB storage version: 'garbage'"),
        ("--lock-timeout", "nan", "expected a finite number of seconds, 0 or more, got 'nan'"),
        ("--lock-timeout", "inf", "expected a finite number of seconds, 0 or more, got 'inf'"),
        ("--lock-timeout", "-5", "expected a finite number of seconds, 0 or more, got '-5'"),
        ("--max-reject-share", "lots", "expected a share between 0 and 1, got 'lots'"),
        ("--warehouse", "", "expected a path, got ''"),
    ],
)
def test_bad_option_values_are_usage_errors(settings, option, value, message):
    done = pipeline(settings, option, value)
    assert done.returncode == 2
    assert one_error_line(done).startswith(f"pipeline.py: error: argument {option}: {message}")
    assert not settings.warehouse_path.parent.exists()


@pytest.mark.parametrize("reports", ["/", "."])
def test_reports_at_the_root_or_the_current_folder_is_refused(settings, tmp_path, reports, capsys, monkeypatch):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "mine.txt").write_text("mine")
    monkeypatch.chdir(tmp_path / "work")
    done = command_in_process(capsys, replace(settings, reports_dir=Path(reports)))
    assert done.returncode == 1
    line = one_error_line(done)
    if reports == "/":
        assert line == "error: /: the root folder cannot be the reports folder; choose a folder of its own"
    else:
        assert line.startswith(f"error: {tmp_path / 'work'}: holds the current folder, which a build would replace")
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["mine.txt"]


def test_a_quoted_tilde_in_the_warehouse_is_the_home_folder(settings, tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    done = command_in_process(capsys, replace(settings, warehouse_path=Path("~/mall.duckdb")))
    assert done.returncode == 0, done.stderr
    assert query(home / "mall.duckdb", "select count(*) from pipeline_runs") == [(1,)]
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize("written", ["new/", "existing"])
def test_a_warehouse_named_as_a_folder_is_the_warehouse_file_in_it(tmp_path, capsys, monkeypatch, written):
    """`--warehouse out/` or an existing folder: mall.duckdb in it, never a file named as the folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing").mkdir()
    done = run_command(capsys, "--warehouse", written, "--reports", "r")
    assert done.returncode == 0, done.stderr
    folder = tmp_path / written.rstrip("/")
    assert folder.is_dir() and query(folder / "mall.duckdb", "select count(*) from pipeline_runs") == [(1,)]


def test_the_warehouse_inside_the_reports_folder_is_refused(settings):
    with pytest.raises(PipelineError, match="the warehouse cannot be inside the reports folder"):
        run_build(settings, warehouse_path=settings.reports_dir / "mall.duckdb")


# --- 7. words that say what is wrong -------------------------------------------------------------


def test_a_sample_too_small_for_k_says_it_is_the_sample(settings):
    with pytest.raises(PipelineError) as failed:
        run_build(settings, sample_size=1)
    assert str(failed.value) == (
        f"{SAMPLE_INPUT}: K-Means needs at least 2 customers, the sample has 1 of the 200 customers "
        "(--sample-size 1); raise --sample-size"
    )


# --- the manifest ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("published")
def test_the_manifest_records_the_files_the_run_and_the_warehouse(settings):
    data = json.loads((settings.reports_dir / MANIFEST).read_text())
    assert data["run_id"] == data["highest_run_id"] == 1
    assert data["warehouse"] == str(settings.warehouse_path)
    assert "index.html" in data["files"] and MANIFEST not in data["files"]
    assert {"customer_segments", "pipeline_runs", "segment_of"} <= set(data["objects"])


@pytest.mark.usefixtures("published")
def test_the_readme_recipe_for_keeping_your_own_tables(settings, tmp_path):
    own = tmp_path / "analysis.duckdb"
    with duckdb.connect(str(own)) as con:
        con.execute("attach $path as mall (read_only)", {"path": str(settings.warehouse_path)})
        con.execute(
            "create table my_targets as select customer_id from mall.customer_segments "
            "where segment_label = 'Target Customers'"
        )
        run_build(settings)  # published while the attachment is open
        con.execute("detach mall")
        targets = con.execute("select count(*) from my_targets").fetchall()[0][0]
    assert targets > 0
    assert warehouse_run(settings) == reports_run(settings) == 2
