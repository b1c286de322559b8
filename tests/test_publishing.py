"""Rebuilds while people read: real reader processes, real concurrent runs, real SIGKILL,
and a real DuckDB 1.x (the client recipes of docs/bi-tools.md: test_bi_recipes.py)."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from dataclasses import replace

import pytest
from matplotlib.image import imread

from conftest import (
    ForkedCommand,
    child_processes,
    command_in_process,
    fingerprint,
    pipeline_command,
    query,
    run_build,
    still_running,
    write_csv,
)
from segmentation import locks, manifest, swap
from segmentation.building import build
from segmentation.config import PROJECT_DIR, SAMPLE_INPUT
from segmentation.errors import PipelineError

PIPELINE = PROJECT_DIR / "pipeline.py"
OLD_DUCKDB_PYTHON = PROJECT_DIR / ".venv-duckdb1" / "bin" / "python"


def start_pipeline(settings, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        pipeline_command(settings, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def shifted_input(tmp_path):
    """The sample with every spending score moved by one: a rebuild that changes the data."""
    lines = SAMPLE_INPUT.read_text().splitlines()
    body = []
    for line in lines[1:]:
        *fields, spending = line.split(",")
        body.append(",".join([*fields, str(min(int(spending) + 1, 100))]))
    return write_csv(tmp_path, "\n".join([lines[0], *body]) + "\n", name="shifted.csv")


@pytest.mark.usefixtures("published")
def test_a_reader_holding_the_file_neither_blocks_nor_breaks(tmp_path, settings):
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(settings.warehouse_path)!r}, read_only=True)
            sql = "select count(*), sum(spending_score) from customer_segments"
            print(con.execute(sql).fetchall(), flush=True)
            sys.stdin.readline()  # hold the connection while the rebuild runs
            print(con.execute(sql).fetchall(), flush=True)
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    before = reader.stdout.readline()
    run_build(settings, input_path=shifted_input(tmp_path))  # while the reader's connection is open
    after, _ = reader.communicate("go\n", timeout=30)
    assert reader.returncode == 0
    assert after.strip() == before.strip()  # the open connection still reads the old data
    new = query(settings.warehouse_path, "select count(*), sum(spending_score) from customer_segments")
    assert str(new) != before.strip()  # a new connection reads the new data
    assert query(settings.warehouse_path, "select count(*) from pipeline_runs") == [(2,)]


def test_a_second_run_waits_for_the_lock_or_stops_with_a_message(tmp_path, settings, capsys):
    settings.warehouse_path.parent.mkdir(parents=True)
    with open(locks.lock_path(settings.warehouse_path), "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running build would (flock: per open file, not per process)
        impatient = command_in_process(capsys, settings, "--lock-timeout", "0")
        assert impatient.returncode == 1
        assert impatient.stderr.strip() == (
            f"error: {settings.warehouse_path}: another build is running (waited 0 s for it)"
        )
        built: list = []
        said: list[str] = []
        patient = threading.Thread(
            target=lambda: built.append(build(replace(settings, lock_timeout_s=60), log=said.append))
        )
        patient.start()
        patient.join(3)
        assert patient.is_alive()  # still waiting, and saying so
        assert said == [
            f"  waiting for another build of {settings.warehouse_path} to end (at most 60 s, --lock-timeout)"
        ]
    patient.join(120)
    assert not patient.is_alive() and built  # built once the lock was let go
    assert query(settings.warehouse_path, "select count(*) from pipeline_runs") == [(1,)]


def test_runs_started_together_build_one_after_the_other(settings):
    runs = [ForkedCommand(pipeline_command(settings)[2:]) for _ in range(2)]  # two processes at once
    assert [run.wait().returncode for run in runs] == [0, 0]
    assert query(settings.warehouse_path, "select run_id from pipeline_runs order by 1") == [(1,), (2,)]
    assert query(settings.warehouse_path, "select count(*) from customer_segments") == [(200,)]


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize("kill_after", ["stg_customer_rows", "kmeans_segments", "customer_segments"])
def test_sigkill_mid_build_loses_nothing(tmp_path, settings, kill_after):
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    run = start_pipeline(settings, "--input", str(shifted_input(tmp_path)))
    for line in run.stdout:
        if kill_after in line:
            workers = child_processes(run.pid)
            run.send_signal(signal.SIGKILL)
            break
    run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL
    # its worker processes end with it
    assert len(workers) >= 2
    assert still_running(workers) == []
    # the last good build is intact and opens
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before
    assert query(settings.warehouse_path, "select count(*) from customer_segments") == [(200,)]
    # the next run cleans up what the killed one left, and publishes
    run_build(settings)
    leftovers = [p.name for p in settings.warehouse_path.parent.iterdir() if p.name.endswith((".build", ".wal"))]
    assert leftovers == []
    assert not (settings.reports_dir.parent / ".reports.building").exists()
    assert query(settings.warehouse_path, "select count(*) from pipeline_runs") == [(2,)]
    for image in ("elbow.png", "clusters.png"):
        assert imread(settings.reports_dir / image).size > 0


@pytest.mark.skipif(not OLD_DUCKDB_PYTHON.exists(), reason="make test creates .venv-duckdb1")
def test_duckdb_1x_opens_the_published_file(sample_build):
    script = textwrap.dedent(f"""
        import duckdb
        con = duckdb.connect({str(sample_build.warehouse_path)!r}, read_only=True)
        print(duckdb.__version__)
        print(con.execute("select count(*) from customer_segments").fetchall()[0][0])
        print(con.execute("select count(*) from segment_summary").fetchall()[0][0])
        comment = "select comment from duckdb_tables() where table_name = 'segment_summary'"
        print(con.execute(comment).fetchall()[0][0] is not None)
        # what a BI tool lists first: every table and view (a view it cannot read hides them all)
        print(con.execute("select count(*) from information_schema.tables").fetchall()[0][0])
        views = "select table_name from information_schema.tables where table_type = 'VIEW'"
        for (view,) in con.execute(views).fetchall():  # and each view reads
            con.execute(f'select * from "{{view}}" limit 1').fetchall()
        # and each stored macro an analyst may call runs
        con.execute("select customer_key('Ann@Shop.com'), order_status_key('wc-On-Hold.'), "
                    "trim_padding(' 1 ', ' ', [32]), number_from_text('($1,250.00)', false), "
                    "segment_of(72, 80)").fetchall()
    """)
    done = subprocess.run([str(OLD_DUCKDB_PYTHON), "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    version, customers, segments, described, listed = done.stdout.split()
    assert version.startswith("1.") and (customers, segments, described) == ("200", "5", "True")
    tables = "select count(*) from information_schema.tables"
    assert query(sample_build.warehouse_path, tables) == [(int(listed),)]
    assert query(sample_build.warehouse_path, "select storage_compatibility_version from pipeline_runs") == [
        ("v1.0.0",)
    ]


def test_the_reports_folder_keeps_hidden_files_and_refuses_foreign_ones(settings):
    settings.reports_dir.mkdir(parents=True)
    (settings.reports_dir / ".gitkeep").write_text("")
    (settings.reports_dir / ".DS_Store").write_bytes(b"Bud1")  # Finder's, once the folder is opened
    run_build(settings)
    assert (settings.reports_dir / ".gitkeep").exists() and (settings.reports_dir / ".DS_Store").exists()
    (settings.reports_dir / "notes.txt").write_text("mine")
    with pytest.raises(PipelineError, match=r"the reports folder holds notes\.txt, which no build recorded writing"):
        run_build(settings)
    assert (settings.reports_dir / "notes.txt").read_text() == "mine"


def test_clean_removes_what_builds_wrote_and_nothing_of_the_users(published):
    """`make clean`: the warehouse and the reports the manifest names, never a DuckDB file of
    the user's beside the warehouse, a file of theirs in the reports, or a report they edited."""
    from segmentation.clean import clean

    warehouse, reports = published.warehouse_path, published.reports_dir
    (warehouse.parent / "analysis.duckdb").write_bytes(b"mine")
    (reports / "my_notes.csv").write_text("mine")
    (reports / "index.html").write_text("edited by hand")
    (reports / "scoring" / "mine.sql").write_text("select 1")
    (reports / "empty_of_mine").mkdir()
    clean(warehouse, reports)
    assert sorted(p.name for p in warehouse.parent.iterdir()) == ["analysis.duckdb"]
    left = sorted(p.relative_to(reports).as_posix() for p in reports.rglob("*"))
    assert left == ["empty_of_mine", "index.html", "my_notes.csv", "scoring", "scoring/mine.sql"]
    (reports / "scoring" / "mine.sql").unlink()
    clean(warehouse, reports)  # again: nothing more of the builds', nothing of the user's
    assert "index.html" in {p.name for p in reports.iterdir()}


def test_a_folder_no_build_published_is_refused_for_its_hidden_files_too(settings):
    """A home folder, a project's: its dotfiles are the user's. Carried into the new folder,
    they came back as copies (another owner, hard links broken, writes in progress lost)."""
    settings.reports_dir.mkdir(parents=True)
    (settings.reports_dir / ".bashrc").write_text("mine")
    with pytest.raises(PipelineError, match=r"the reports folder holds \.bashrc, which no build recorded writing"):
        run_build(settings)
    assert [path.name for path in settings.reports_dir.iterdir()] == [".bashrc"]
    assert not settings.warehouse_path.exists()


def test_a_build_never_replaces_a_folder_the_current_one_is_in(settings, monkeypatch):
    """(The current folder itself: test_trust.) Swapped out, it left the shell in a deleted folder."""
    inside = settings.reports_dir / "work"
    inside.mkdir(parents=True)
    monkeypatch.chdir(inside)
    with pytest.raises(PipelineError, match="holds the current folder, which a build would replace"):
        run_build(settings)
    assert inside.is_dir()


@pytest.mark.parametrize("option", ["warehouse_path", "reports_dir"])
def test_a_path_through_a_symlink_loop_is_one_error(settings, tmp_path, option):
    (tmp_path / "loop").symlink_to(tmp_path / "back")
    (tmp_path / "back").symlink_to(tmp_path / "loop")
    path = tmp_path / "loop" / "x"
    with pytest.raises(PipelineError, match=re.escape(f"{path}: cannot be reached (")):
        run_build(settings, **{option: path})


# --- the exchange each system has, forced one by one on Linux -----------------------------------


class MacLibc:
    """What macOS's libc offers: renamex_np(from, to, RENAME_SWAP), played by Linux's renameat2."""

    def __init__(self, real):
        self.real, self.calls = real, []

    def renamex_np(self, a, b, flags):
        self.calls.append(flags)
        assert flags == swap.RENAME_SWAP
        return self.real.renameat2(swap.AT_FDCWD, a, swap.AT_FDCWD, b, swap.RENAME_EXCHANGE)


class RefusingLibc:
    """A file system that cannot exchange (as some network file systems): EINVAL."""

    def renameat2(self, *args):
        ctypes.set_errno(errno.EINVAL)
        return -1


def two_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        (folder / "which").write_text(folder.name)
    return a, b


def test_the_exchange_is_chosen_from_what_the_system_has():
    assert swap.exchange_method(swap.load_libc()) == "renameat2"  # this is Linux
    assert swap.exchange_method(MacLibc(None)) == "renamex_np"
    assert swap.exchange_method(None) == "renames"  # Windows: no libc to ask
    assert swap.exchange_method(object()) == "renames"


@pytest.mark.parametrize("method", ["renameat2", "renamex_np", "renames"])
def test_each_exchange_swaps_two_folders_and_publishes_a_build(tmp_path, settings, monkeypatch, method):
    if method == "renamex_np":
        monkeypatch.setattr(swap, "LIBC", MacLibc(swap.LIBC))
    monkeypatch.setattr(swap, "METHOD", method)
    a, b = two_folders(tmp_path)
    swap.exchange(a, b)
    assert ((a / "which").read_text(), (b / "which").read_text()) == ("b", "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    for run in (1, 2):
        run_build(settings)
        assert query(settings.warehouse_path, "select max(run_id) from pipeline_runs") == [(run,)]
        assert manifest.read_manifest(settings.reports_dir).run_id == run
    if method == "renamex_np":
        assert swap.LIBC.calls == [swap.RENAME_SWAP] * 3


def test_a_file_system_that_cannot_exchange_gets_the_renames(tmp_path, monkeypatch):
    monkeypatch.setattr(swap, "LIBC", RefusingLibc())
    monkeypatch.setattr(swap, "METHOD", "renameat2")
    a, b = two_folders(tmp_path)
    swap.exchange(a, b)
    assert ((a / "which").read_text(), (b / "which").read_text()) == ("b", "a")


class FakeMsvcrt:
    """Windows' msvcrt.locking, played by flock (both lock per open file, not per process)."""

    LK_NBLCK, LK_UNLCK = 2, 0

    @staticmethod
    def locking(fd, mode, length):
        assert length == 1 and os.lseek(fd, 0, os.SEEK_CUR) == 0
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB if mode == FakeMsvcrt.LK_NBLCK else fcntl.LOCK_UN)


def test_the_build_lock_without_fcntl_uses_msvcrt(tmp_path, monkeypatch):
    monkeypatch.setattr(locks, "fcntl", None)
    monkeypatch.setattr(locks, "msvcrt", FakeMsvcrt)
    live = tmp_path / "mall.duckdb"
    with (
        locks.writer_lock(live, 5),
        pytest.raises(PipelineError, match=r"another build is running \(waited 0 s"),
        locks.writer_lock(live, 0),
    ):
        pass
    with locks.writer_lock(live, 0):  # released
        pass
