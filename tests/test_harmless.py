"""A build harms nothing around it: files of any name beside the warehouse and reports, another
build holding the lock, the permissions a user set, the text of the scoring files and the
segmented CSV. Real processes where a process boundary is what is tested; elsewhere the
command's main runs in the test's process (`command_in_process`)."""

from __future__ import annotations

import csv
import os
import signal
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from itertools import takewhile
from pathlib import Path

import pytest

from conftest import (
    ForkedCommand,
    command_in_process,
    fingerprint,
    pipeline_command,
    publishing_hooked,
    publishing_stopped,
    query,
    run_build,
    run_command,
    scratch_left,
    write_csv,
)
from segmentation.config import PROJECT_DIR, SAMPLE_INPUT
from segmentation.errors import PipelineError

PIPELINE = PROJECT_DIR / "pipeline.py"


command = pipeline_command


# --- scratch files belong to the build that made them --------------------------------------


def users_files(settings) -> dict[Path, str]:
    """Files and folders a user may well have, at the names builds once used for scratch."""
    live, reports = settings.warehouse_path, settings.reports_dir
    return {
        live.with_name(live.name + ".build"): "my notes",
        live.with_name(live.name + ".build.wal"): "not a log",
        live.with_name(live.name + ".build.input") / "customers.csv": SAMPLE_INPUT.read_text(),
        live.with_name(live.name + ".build.tmp") / "keep.txt": "keep",
        live.with_name(f".{live.name}.build-0123456789ab") / "mine.txt": "mine",
        reports.with_name(f".{reports.name}.building") / "draft.txt": "draft",
        reports.with_name(f".{reports.name}.building-0123456789ab") / "draft.txt": "draft",
        reports.with_name(f".{reports.name}.aside") / "old.txt": "old",
    }


def test_files_at_scratch_like_names_are_never_touched(settings, capsys):
    files = users_files(settings)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    # the input itself stands in one of them
    source = settings.warehouse_path.with_name(settings.warehouse_path.name + ".build.input") / "customers.csv"
    for run in (1, 2):
        done = command_in_process(capsys, settings, "--input", str(source))
        assert done.returncode == 0, done.stderr
        assert query(settings.warehouse_path, "select max(run_id), count(*) from pipeline_runs") == [(run, run)]
    assert {path: path.read_text() for path in files} == files
    assert sorted(p.name for p in settings.reports_dir.parent.iterdir() if p.name.startswith(".reports.")) == [
        ".reports.aside",
        ".reports.building",
        ".reports.building-0123456789ab",
        ".reports.lock",
    ]


def test_a_failed_build_removes_only_its_own_scratch(settings, tmp_path, capsys):
    files = users_files(settings)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    bad = write_csv(tmp_path, "CustomerID,Annual Income (k$),Spending Score (1-100)\n")
    done = command_in_process(capsys, settings, "--input", str(bad))
    assert done.returncode == 1 and "no data rows" in done.stderr
    assert {path: path.read_text() for path in files} == files
    assert not settings.warehouse_path.exists()


HOLD = """
    # The build stops just before publishing until the test lets it go: it holds both locks
    # and has all its scratch written.
    validate = publish.validate_build
    def waiting(*args, **kwargs):
        test_pipe.send("holding")
        test_pipe.recv()
        return validate(*args, **kwargs)
    publish.validate_build = waiting
"""


def holding_build(settings) -> ForkedCommand:
    """A build in another process, once it holds both locks and its scratch."""
    holder = publishing_hooked(settings, HOLD)
    try:
        assert holder.pipe.poll(180) and holder.pipe.recv() == "holding"
    except EOFError:
        raise AssertionError(f"the holding build ended before holding: {holder.wait().stderr}") from None
    return holder


@pytest.mark.usefixtures("published")
def test_a_build_refused_by_the_lock_leaves_the_holders_work_alone(settings, capsys):
    holder = holding_build(settings)
    try:
        scratch = scratch_left(settings)
        assert len(scratch) == 2  # its folder beside the warehouse, its reports beside the reports
        for timeout in ("0", "0.5"):
            refused = command_in_process(capsys, settings, "--lock-timeout", timeout)
            assert refused.returncode == 1
            assert refused.stderr.strip() == (
                f"error: {settings.warehouse_path}: another build is running (waited {float(timeout):g} s for it)"
            )
            assert scratch_left(settings) == scratch
        holder.pipe.send("go")
        done = holder.wait()
    finally:
        holder.kill()
    assert done.returncode == 0, done.stderr
    assert query(settings.warehouse_path, "select max(run_id) from pipeline_runs") == [(2,)]
    assert scratch_left(settings) == []


@pytest.mark.usefixtures("published")
def test_scratch_a_killed_build_left_is_cleared_by_the_next(settings):
    holder = holding_build(settings)
    holder.kill()  # SIGKILL
    assert len(scratch_left(settings)) == 2
    run_build(settings)
    assert scratch_left(settings) == []
    assert query(settings.warehouse_path, "select max(run_id) from pipeline_runs") == [(2,)]


# --- permissions the user gave stay ----------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("published")
def test_published_files_keep_the_permissions_the_user_gave(settings):
    settings.warehouse_path.chmod(0o600)
    settings.reports_dir.chmod(0o700)
    (settings.reports_dir / "segmented_mall_customers.csv").chmod(0o600)
    run_build(settings)
    assert mode(settings.warehouse_path) == 0o600
    assert mode(settings.reports_dir) == 0o700
    assert mode(settings.reports_dir / "segmented_mall_customers.csv") == 0o600
    assert mode(settings.reports_dir / "index.html") == 0o644 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_new_files_follow_the_umask(settings, tmp_path, capsys):
    user = os.umask(0o077)  # as `umask 077` in the shell the command is started from
    try:
        done = command_in_process(capsys, settings)
    finally:
        os.umask(user)
    assert done.returncode == 0, done.stderr
    assert mode(settings.warehouse_path) == 0o600
    assert mode(settings.reports_dir) == 0o700
    assert mode(settings.reports_dir / "index.html") == 0o600
    other = replace(settings, warehouse_path=tmp_path / "w2" / "mall.duckdb", reports_dir=tmp_path / "r2")
    run_build(other)
    assert mode(other.warehouse_path) == 0o666 & ~current_umask()
    assert mode(other.reports_dir) == 0o777 & ~current_umask()


@pytest.mark.usefixtures("published")
def test_a_reports_folder_belongs_to_one_warehouse(settings, tmp_path, capsys):
    before = fingerprint(settings.reports_dir)
    other = replace(settings, warehouse_path=tmp_path / "other" / "mall.duckdb")
    done = command_in_process(capsys, other)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: {settings.reports_dir}: holds the reports of the warehouse {settings.warehouse_path}; "
        "a reports folder belongs to one warehouse: choose another --reports"
    )
    assert fingerprint(settings.reports_dir) == before
    assert not other.warehouse_path.exists()


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("customers\nDROP TABLE customers_to_score; --.csv", "customers\\nDROP TABLE customers_to_score; --.csv"),
        ("a\rb\u2028c.csv", "a\\rb\\u2028c.csv"),
    ],
)
def test_a_file_name_is_only_ever_a_comment_in_the_scoring_sql(settings, tmp_path, name, shown):
    source = tmp_path / name
    source.write_bytes(SAMPLE_INPUT.read_bytes())
    run_build(settings, input_path=source)
    for path in (settings.reports_dir / "scoring").iterdir():
        lines = path.read_text().splitlines()
        header = list(takewhile(lambda line: line.startswith("--"), lines))
        assert f"-- Input: {shown}, SHA-256" in "\n".join(header)
        code = "\n".join(lines[len(header) :])
        assert code.lstrip().lower().startswith("with") and "drop" not in code.lower(), path.name


def test_formula_headers_are_neutralised_like_cells(settings, tmp_path):
    header = (
        "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100),"
        '"=HYPERLINK(""http://x"",""y"")",+cmd,@SUM(A1),-2,Notes,=X,=X'
    )
    lines = SAMPLE_INPUT.read_text().splitlines()[1:]
    source = write_csv(tmp_path, "\n".join([header, *(f"{line},=1+1,+a,@b,-3,n,1,2" for line in lines)]) + "\n")
    run_build(settings, input_path=source)
    with open(settings.reports_dir / "segmented_mall_customers.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][5:] == [
        '\'=HYPERLINK("http://x","y")',
        "'+cmd",
        "'@SUM(A1)",
        "-2",
        "Notes",
        "'=X",  # repeated names are numbered, and still neutralised
        "'=X_2",
        "Cluster",
        "Segment",
    ]
    assert rows[1][5:10] == ["'=1+1", "'+a", "'@b", "-3", "n"]


# --- what a build says is what it built --------------------------------------------------------


def test_the_segments_stated_are_those_that_exist(settings, tmp_path, capsys):
    rows = "".join(f"{i},Male,30,{20 if i % 2 else 90},{20 if i % 2 else 90}\n" for i in range(1, 41))
    source = write_csv(tmp_path, "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)\n" + rows)
    done = command_in_process(capsys, settings, "--input", str(source), "--k", "5")
    assert done.returncode == 0, done.stderr
    assert "Done in " in done.stdout and ": 40 customers in 2 segments (K = 5 asked), " in done.stdout
    assert query(settings.warehouse_path, "select k, k_fitted from pipeline_runs") == [(2, 5)]
    html = (settings.reports_dir / "index.html").read_text()
    assert "2 segments of 40 customers" in html and "2 of the clusters hold customers" in html


def test_an_empty_input_path_is_a_usage_error(settings, tmp_path):
    done = subprocess.run(command(settings, "--input", ""), capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "pipeline.py: error: argument --input: expected a path, got ''"
    assert not settings.warehouse_path.exists()


# --- signals at any moment: one line, the right exit code, nothing left behind -----------------


def catching(pid: int, sig: int, within_s: float = 30) -> None:
    """Wait until process `pid` has a handler for `sig`: the caught signals' mask in /proc."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
        if caught >> (sig - 1) & 1:
            return
        time.sleep(0.002)
    raise AssertionError(f"process {pid} never caught signal {sig}")


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("delay", [0.05, 0.15, 0.4, 1.0])
def test_a_signal_at_any_moment_is_one_line(settings, sig, delay):
    """As a terminal's Ctrl-C or a service manager's stop: to the whole process group, the
    worker processes too, from the command's first imports on (before them, while the
    interpreter itself starts, nothing of the command runs to answer it)."""
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    started = subprocess.Popen(
        command(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    # pipeline.py's first lines: its SIGTERM handler (the interpreter catches SIGINT from before
    # its own start, where a Ctrl-C is a fatal error, not the command's to answer)
    catching(started.pid, signal.SIGTERM)
    time.sleep(delay)  # a moment, not a window: every moment must end the same way
    os.killpg(started.pid, sig)
    _, err = started.communicate(timeout=180)
    word, code = ("interrupted", 130) if sig == signal.SIGINT else ("terminated", 143)
    assert started.returncode == code, err
    assert err == f"error: {word}; the published warehouse and reports are as they were\n"
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before
    assert scratch_left(settings) == []


def with_sitecustomize(tmp_path: Path, code: str) -> dict[str, str]:
    """The environment of a command that runs `code` at its start, before its own imports (a
    sitecustomize module on its path)."""
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(textwrap.dedent(code))
    paths = [str(tmp_path / "hook"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


# Loaded at the command's start (a sitecustomize on its path): when the command's own process
# imports DuckDB, a thread of it sends SIGTERM and Python code runs for a moment inside that
# import, where a handler would fire. It notes whether one fired there ("inside") or not.
SIGNAL_DURING_DUCKDB_IMPORT = """
import importlib.abc, multiprocessing, os, signal, sys, threading, time

class SignalDuringImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "duckdb" or multiprocessing.current_process().name != "MainProcess":
            return None
        sys.meta_path.remove(self)
        try:
            sender = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGTERM))
            sender.start()
            sender.join()
            deadline = time.monotonic() + 0.3
            while time.monotonic() < deadline:
                pass
        except BaseException:
            open(os.environ["SIGNAL_MARK"], "w").write("inside")
            raise
        open(os.environ["SIGNAL_MARK"], "w").write("after")
        return None

sys.meta_path.insert(0, SignalDuringImport())
"""


@pytest.mark.usefixtures("published")
def test_a_signal_while_duckdb_is_imported_waits_for_the_import(settings, tmp_path):
    """DuckDB's module initialisation aborts the process when a handler raises inside it (a
    Ctrl-C or SIGTERM that a worker pool's thread received): the command answers it once the
    import is done, with its one line."""
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    mark = tmp_path / "mark"
    env = with_sitecustomize(tmp_path, SIGNAL_DURING_DUCKDB_IMPORT) | {"SIGNAL_MARK": str(mark)}
    done = subprocess.run(command(settings), capture_output=True, text=True, env=env, timeout=180)
    assert mark.read_text() == "after"
    assert (done.returncode, done.stderr) == (
        143,
        "error: terminated; the published warehouse and reports are as they were\n",
    )
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before


# Loaded at the command's start: just after a worker process is started, and before it is sent
# what to run, another thread sends `sig` to the command's process alone.
SIGNAL_AS_A_WORKER_STARTS = """
import multiprocessing.util, os, signal, threading, time

spawn = multiprocessing.util.spawnv_passfds

def spawned_then_signalled(path, args, passfds):
    pid = spawn(path, args, passfds)
    if "spawn_main" in str(args):
        multiprocessing.util.spawnv_passfds = spawn
        sender = threading.Thread(target=os.kill, args=(os.getpid(), {sig}))
        sender.start()
        sender.join()
        time.sleep(0.1)
    return pid

multiprocessing.util.spawnv_passfds = spawned_then_signalled
"""


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_as_a_worker_starts_waits_until_it_is_started(settings, tmp_path, sig):
    """Cut off between its start and being told what to run, a worker printed a traceback."""
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    env = with_sitecustomize(tmp_path, SIGNAL_AS_A_WORKER_STARTS.format(sig=int(sig)))
    done = subprocess.run(command(settings), capture_output=True, text=True, env=env, timeout=180)
    assert_stopped_before_publishing(done, sig, settings, before)


# Loaded at the start of every process of the command: when the first worker process starts
# importing what runs it, it sends Ctrl-C to the whole process group, as a terminal does, and runs
# Python code for a moment, where a handler would fire.
CTRL_C_AS_A_WORKER_IMPORTS = """
import importlib.abc, os, signal, sys, time

class CtrlCAsAWorkerImports(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "multiprocessing.spawn" or "spawn_main" not in " ".join(sys.orig_argv):
            return None
        sys.meta_path.remove(self)
        try:
            os.mkdir(os.environ["SIGNAL_MARK"])  # the first worker only
        except FileExistsError:
            return None
        os.killpg(os.getpgid(0), signal.SIGINT)
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            pass
        return None

sys.meta_path.insert(0, CtrlCAsAWorkerImports())
"""


@pytest.mark.usefixtures("published")
def test_a_ctrl_c_as_a_worker_starts_its_interpreter_is_the_commands_one_line(settings, tmp_path):
    """A worker process ignores Ctrl-C from its first instruction: the command answers it, where
    a worker still importing what runs it printed a KeyboardInterrupt traceback."""
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    mark = tmp_path / "signalled"
    env = with_sitecustomize(tmp_path, CTRL_C_AS_A_WORKER_IMPORTS) | {"SIGNAL_MARK": str(mark)}
    done = subprocess.run(
        command(settings), capture_output=True, text=True, env=env, timeout=180, start_new_session=True
    )
    assert mark.is_dir()
    assert_stopped_before_publishing(done, signal.SIGINT, settings, before)


# Loaded at the command's start: as the command's process makes the first semaphore of a worker
# pool's queues (registered with multiprocessing's resource tracker, not yet set to be removed at
# exit), another thread sends `sig` to it.
SIGNAL_AS_A_SEMAPHORE_IS_MADE = """
import multiprocessing, multiprocessing.resource_tracker as tracker, os, signal, threading, time

register = tracker.register

def registered_then_signalled(name, rtype):
    register(name, rtype)
    if rtype == "semaphore" and multiprocessing.current_process().name == "MainProcess":
        tracker.register = register
        sender = threading.Thread(target=os.kill, args=(os.getpid(), {sig}))
        sender.start()
        sender.join()
        time.sleep(0.1)

tracker.register = registered_then_signalled
"""


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_as_a_worker_pool_is_made_leaves_no_semaphore_behind(settings, tmp_path, sig):
    """Cut off while a pool made its queues, the command left a semaphore to the resource
    tracker, which printed a warning of it after the command's one line."""
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    env = with_sitecustomize(tmp_path, SIGNAL_AS_A_SEMAPHORE_IS_MADE.format(sig=int(sig)))
    done = subprocess.run(command(settings), capture_output=True, text=True, env=env, timeout=180)
    assert_stopped_before_publishing(done, sig, settings, before)


# A stop Python drops: the handler's KeyboardInterrupt raised where nothing can catch it (in a
# __del__, as in a callback the garbage collector runs during an import), at `where`'s call.
DROPPED_STOP = """
    import importlib
    module, name = {where!r}
    owner = importlib.import_module(module)
    original = getattr(owner, name)
    class Dropped:
        def __del__(self):
            signal.raise_signal({sig})
    def stopped_then(*args, **kwargs):
        Dropped()
        return original(*args, **kwargs)
    setattr(owner, name, stopped_then)
"""


def assert_stopped_before_publishing(done: subprocess.CompletedProcess, sig: int, settings, before: dict) -> None:
    """The build stopped by `sig` said so in its one line and left the published files
    (`before`: their fingerprint) and no scratch."""
    word, code = ("interrupted", 130) if sig == signal.SIGINT else ("terminated", 143)
    assert (done.returncode, done.stderr) == (
        code,
        f"error: {word}; the published warehouse and reports are as they were\n",
    )
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before
    assert scratch_left(settings) == []


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize(
    ("where", "sig"),
    [
        (("segmentation.building", "load_raw"), signal.SIGINT),
        (("segmentation.publish", "validate_build"), signal.SIGTERM),
    ],
    ids=["ctrl-c-while-loading", "sigterm-before-publishing"],
)
def test_a_stop_whose_interrupt_python_drops_still_stops_the_build(settings, where, sig):
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    done = publishing_stopped(settings, DROPPED_STOP.format(where=where, sig=int(sig)))
    assert_stopped_before_publishing(done, sig, settings, before)


# A query that runs for minutes, at a model the build reaches: DuckDB looks at Python's signals
# only now and then while it runs.
ENDLESS_QUERY = """
    from segmentation import dag
    materialize = dag.materialize
    def endless_first(con, model, *args, **kwargs):
        if model.name == "int_customer_rows":
            test_pipe.send("querying")
            con.execute("select count(*) from range(1000000000000)").fetchall()
        return materialize(con, model, *args, **kwargs)
    dag.materialize = endless_first
"""


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_interrupts_a_long_query_at_once(settings, sig):
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    build = publishing_hooked(settings, ENDLESS_QUERY)
    try:
        assert build.pipe.poll(180) and build.pipe.recv() == "querying"
        time.sleep(0.5)  # well inside the query
        os.kill(build.process.pid, sig)
        sent = time.monotonic()
        done = build.wait(timeout=60)
    finally:
        build.kill()
    assert time.monotonic() - sent < 5
    assert_stopped_before_publishing(done, sig, settings, before)


def test_a_stop_interrupts_the_registered_connections_query_wherever_it_runs():
    """The query runs in a thread of its own, where DuckDB's own look at Python's signals
    never sees a stop: only `stops` interrupting the connection ends it."""
    script = textwrap.dedent("""
        import os, signal, sys, threading, time, duckdb
        from segmentation import stops
        con, ended = duckdb.connect(), []
        con.execute("set enable_progress_bar = false")
        def endless():
            try:
                con.execute("select count(*) from range(1000000000000)").fetchall()
            except duckdb.Error as e:
                ended.append(type(e).__name__)
        with stops.answering(), stops.interrupting(con):
            query = threading.Thread(target=endless, daemon=True)
            query.start()
            time.sleep(0.5)
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(60)
            except KeyboardInterrupt:
                sent = time.monotonic()
            query.join(10)
            print(ended, round(time.monotonic() - sent) < 5, stops.ASKED == [signal.SIGINT])
        print(stops.INTERRUPTED_BY_STOPS, signal.set_wakeup_fd(-1), signal.getsignal(signal.SIGINT).__name__)
        sys.stdout.flush()
        os._exit(0)  # a query still running (were it not interrupted) would hold the exit
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['InterruptException'] True True", "[] -1 default_int_handler"]


# Loaded at the command's start (a sitecustomize on its path): Ctrl-C while `main` sets up its
# answer to stops, before its handlers are in place (pipeline.py's still are).
CTRL_C_AS_MAIN_TAKES_THE_SIGNALS = """
import os, signal, types
import segmentation.stops

def pipe_then_interrupted():
    os.kill(os.getpid(), signal.SIGINT)
    return os.pipe()

segmentation.stops.os = types.SimpleNamespace(**{**vars(os), "pipe": pipe_then_interrupted})
"""


def test_a_stop_as_the_command_gives_the_signals_back_leaves_nothing_behind(tmp_path):
    """Ctrl-C while `main` cleans up its signal handling (as it tells the watcher to end), in a
    process that calls `main` itself: the stop reaches the caller's handler once that is done."""
    script = textwrap.dedent(f"""
        import os, signal, sys, threading, types
        from segmentation import cli, stops, workers
        def state():  # the pipes open (the watcher's is one), the threads, the wakeup fd, the hook
            pipes = [f for f in os.listdir("/proc/self/fd") if os.path.realpath(f"/proc/self/fd/{{f}}").count("pipe:")]
            waking = signal.set_wakeup_fd(-1)
            signal.set_wakeup_fd(waking)
            return pipes, [t.name for t in threading.enumerate()], waking, sys.unraisablehook
        before = state()
        real = os
        def write(fd, data):
            if data == bytes([stops.DONE]):
                real.kill(real.getpid(), signal.SIGINT)
            return real.write(fd, data)
        stops.os = types.SimpleNamespace(**{{**vars(os), "write": write}})
        try:
            cli.main(["--warehouse", {str(tmp_path / "w.duckdb")!r}, "--reports", {str(tmp_path / "r")!r}],
                     runner=workers.IN_PROCESS)
            print("no stop")
        except KeyboardInterrupt:
            print("stopped")
        print(state() == before, stops.ASKED, stops.SAID, stops.INTERRUPTED_BY_STOPS)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["stopped", "True [] [] []"]
    assert done.stdout.splitlines()[-3].startswith("Done in ")


SIGTERM_WHILE_THE_WORKERS_STOP = """
    from segmentation import workers
    leave = workers.InProcess.__exit__
    def leave_then_terminated(self, *exc_info):
        leave(self, *exc_info)
        os.kill(os.getpid(), signal.SIGTERM)
    workers.InProcess.__exit__ = leave_then_terminated
"""


SIGTERM_BEFORE_CLEARING_SCRATCH = """
    clear = publish.remove_tree
    def terminated_then_clear(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return clear(*args, **kwargs)
    publish.remove_tree = terminated_then_clear
"""


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize(
    "hook",
    [
        DROPPED_STOP.format(where=("segmentation.publish", "remove_tree"), sig=int(signal.SIGTERM)),
        SIGTERM_BEFORE_CLEARING_SCRATCH,
        SIGTERM_WHILE_THE_WORKERS_STOP,
    ],
    ids=["dropped-while-clearing-scratch", "before-clearing-scratch", "while-the-workers-stop"],
)
def test_a_stop_after_publishing_says_the_build_was_published(settings, hook):
    done = publishing_stopped(settings, hook)
    assert (done.returncode, done.stderr) == (
        143,
        "error: terminated after run 2 was published: the warehouse and reports are this build's\n",
    )
    assert query(settings.warehouse_path, "select max(run_id) from pipeline_runs") == [(2,)]
    assert scratch_left(settings) == []


# Loaded at the command's start (a sitecustomize on its path): Ctrl-C as the models start, and
# again while the worker processes are being ended.
CTRL_C_TWICE = """
import os, signal
import segmentation.dag, segmentation.workers

run_models = segmentation.dag.run_models
end_workers = segmentation.workers.Workers.end_workers

def interrupted_models(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    return run_models(*args, **kwargs)

def interrupted_again(self):
    os.kill(os.getpid(), signal.SIGINT)
    return end_workers(self)

segmentation.dag.run_models = interrupted_models
segmentation.workers.Workers.end_workers = interrupted_again
"""


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize(
    "hook",
    [CTRL_C_AS_MAIN_TAKES_THE_SIGNALS, CTRL_C_TWICE],
    ids=["as-main-takes-the-signals-over", "again-while-the-workers-stop"],
)
def test_a_ctrl_c_between_the_commands_steps_is_one_line(settings, tmp_path, hook):
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    env = with_sitecustomize(tmp_path, hook)
    done = subprocess.run(command(settings), capture_output=True, text=True, env=env, timeout=120)
    assert_stopped_before_publishing(done, signal.SIGINT, settings, before)


# Loaded at the command's start (a sitecustomize on its path): SIGTERM the moment one of the
# command's functions has returned: `main` (its handlers given back, before the process exits),
# `run` (before `main` gives them back), `say_done` (the run line printed, before `run` returns).
SIGTERM_AFTER = """
import os, signal
import segmentation.cli

built = segmentation.cli.{function}

def then_terminated(*args, **kwargs):
    code = built(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)
    return code

segmentation.cli.{function} = then_terminated
"""


# ... and as the interpreter exits, after `main` (among the exit handlers of the libraries)
SIGTERM_AT_EXIT = """
import atexit, os, signal, sys

if sys.argv[0].endswith("pipeline.py"):
    atexit.register(os.kill, os.getpid(), signal.SIGTERM)
"""


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize(
    "hook",
    [*(SIGTERM_AFTER.format(function=function) for function in ("main", "run", "say_done")), SIGTERM_AT_EXIT],
    ids=[
        "once-main-gave-the-signals-back",
        "before-main-gives-them-back",
        "once-the-run-line-is-printed",
        "as-the-interpreter-exits",
    ],
)
def test_a_signal_after_the_build_has_said_how_it_ended_says_nothing_false(settings, tmp_path, hook):
    env = with_sitecustomize(tmp_path, hook)
    done = subprocess.run(command(settings), capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 143
    assert done.stdout.splitlines()[-1].startswith("Done in ")
    assert done.stderr == ""  # not "the published warehouse and reports are as they were": run 2 is
    assert query(settings.warehouse_path, "select max(run_id) from pipeline_runs") == [(2,)]


SIGTERM_AFTER_SWAP = """
    swap = publish.swap_reports
    def swap_then_terminated(*args, **kwargs):
        swap(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
    publish.swap_reports = swap_then_terminated
"""


@pytest.mark.usefixtures("published")
def test_sigterm_while_publishing_waits_for_the_pair_and_says_so(settings):
    done = publishing_stopped(settings, SIGTERM_AFTER_SWAP)
    assert done.returncode == 143
    assert done.stderr == ("error: terminated after run 2 was published: the warehouse and reports are this build's\n")
    assert query(settings.warehouse_path, "select max(run_id) from pipeline_runs") == [(2,)]
    assert scratch_left(settings) == []


# A program's process (a notebook, a service) builds twice with `build`; a Ctrl-C comes while
# the first build imports matplotlib (its first chart), inside one of matplotlib's own modules.
STOPPED_IN_A_LIBRARY_IMPORT_THEN_BUILT_AGAIN = """
import importlib.abc, os, signal, sys
from pathlib import Path
from segmentation import Interrupted, Settings, build

class CtrlCInside(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib.ticker":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

settings = Settings(warehouse_path=Path(sys.argv[1]), reports_dir=Path(sys.argv[2]))
sys.meta_path.insert(0, CtrlCInside())
try:
    build(settings, log=lambda line: None)
except Interrupted:
    print("stopped")
print(build(settings, log=lambda line: None).customers)
"""


def test_a_stop_while_a_library_is_imported_leaves_the_next_build_in_the_process_working(settings):
    """Cut short, the import left matplotlib half imported: every later build of the process
    failed ("module 'matplotlib' has no attribute 'get_data_path'")."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            STOPPED_IN_A_LIBRARY_IMPORT_THEN_BUILT_AGAIN,
            str(settings.warehouse_path),
            str(settings.reports_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "stopped\n200\n", "")


# --- paths whose bytes are not UTF-8 -----------------------------------------------------------


def test_an_input_path_with_bytes_that_are_not_utf8_builds(settings, tmp_path, capsys):
    source = Path(os.fsdecode(bytes(tmp_path) + b"/\xff\xfecustomers.csv"))
    source.write_bytes(SAMPLE_INPUT.read_bytes())
    done = command_in_process(capsys, settings, "--input", str(source))  # the str the command's argv holds
    assert done.returncode == 0, done.stderr
    assert query(settings.warehouse_path, "select input_path from pipeline_runs") == [
        (f"{tmp_path}/\\xff\\xfecustomers.csv",)
    ]
    scoring = (settings.reports_dir / "scoring" / "duckdb.sql").read_text()
    assert "-- Input: \\xff\\xfecustomers.csv, SHA-256" in scoring
    # the bytes themselves, through a real command line and stderr
    missing = subprocess.run(command(settings, "--input", str(source) + "x"), capture_output=True, timeout=180)
    assert missing.returncode == 1
    assert missing.stderr == f"error: {tmp_path}/\\xff\\xfecustomers.csvx: no such file\n".encode()


@pytest.mark.parametrize("option", ["--warehouse", "--reports"])
def test_a_warehouse_or_reports_path_that_is_not_utf8_is_one_line(settings, tmp_path, option, capsys):
    odd = os.fsdecode(bytes(tmp_path) + b"/\xffodd")  # the str the command's argv holds
    paths = {"--warehouse": str(settings.warehouse_path), "--reports": str(settings.reports_dir)}
    paths[option] = odd + ("/mall.duckdb" if option == "--warehouse" else "")
    done = run_command(capsys, "--warehouse", paths["--warehouse"], "--reports", paths["--reports"])
    assert done.returncode == 1
    shown = f"{tmp_path}/\\xffodd" + ("/mall.duckdb" if option == "--warehouse" else "")
    assert done.stderr == (
        f"error: {shown}: DuckDB cannot write to a path that is not UTF-8 text; choose another {option}\n"
    )


# --- a worker stopped while it sends its result -------------------------------------------------


def half_a_result(sent: str) -> None:
    """Run in a worker: write the start of a large result on the pipe back, say so in the file
    `sent`, then wait to be stopped, as a worker killed by Ctrl-C while sending its charts would
    leave it."""
    frame = sys._getframe()
    while "result_queue" not in frame.f_locals:
        frame = frame.f_back
    frame.f_locals["result_queue"]._writer._send(struct.pack("!i", 1 << 20) + b"x" * 1000)
    Path(sent).touch()
    time.sleep(600)


def test_stopping_a_worker_that_is_sending_its_result_does_not_hang(tmp_path):
    from segmentation.workers import Workers

    pool = Workers(modules=("test_harmless",))
    sent = tmp_path / "sent"
    pool.call("test_harmless", "half_a_result", str(sent))
    deadline = time.monotonic() + 300
    while not sent.exists() and time.monotonic() < deadline:  # it has written half its message
        time.sleep(0.1)
    assert sent.exists()
    stopping = threading.Thread(target=pool.stop, daemon=True)
    stopping.start()
    stopping.join(60)
    assert not stopping.is_alive(), "stopping the workers hangs"


def test_a_signal_while_the_workers_start_is_the_signal(monkeypatch):
    """Ctrl-C or SIGTERM (the command raises KeyboardInterrupt for both) as a worker pool starts
    the thread that watches its process: the command stops with the signal, not with an error
    about a thread that never started (found by the test above, at 0.15 s)."""
    from concurrent.futures import process

    from segmentation.workers import Workers

    spawned = []

    def interrupted(thread):  # the moment the signal came: the process spawned, the thread not
        spawned.extend(thread.executor_reference()._processes.values())
        raise KeyboardInterrupt

    monkeypatch.setattr(process._ExecutorManagerThread, "start", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            Workers(modules=("test_harmless",))
    finally:
        for worker in spawned:  # the command's would end with it (`end_with_parent`)
            worker.terminate()
            worker.join(30)
    assert len(spawned) == 1


# --- found by trying to break the above -----------------------------------------------------------


@pytest.mark.usefixtures("published")
def test_files_saved_in_the_reports_after_a_killed_publish_stop_the_restore(settings):
    hook = """
        def killed(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)
        publish.replace_file = killed
    """
    done = publishing_stopped(settings, hook)
    assert done.returncode == -signal.SIGKILL
    (settings.reports_dir / "notes.txt").write_text("mine")  # into the half-published reports
    with pytest.raises(PipelineError, match=r"the reports folder holds notes\.txt, which no build recorded"):
        run_build(settings)
    assert (settings.reports_dir / "notes.txt").read_text() == "mine"
    (settings.reports_dir / "notes.txt").unlink()
    run_build(settings)  # now it puts the pair back together, then builds
    assert query(settings.warehouse_path, "select max(run_id) from pipeline_runs") == [(3,)]
    assert scratch_left(settings) == []


@pytest.mark.usefixtures("published")
def test_scratch_is_private_while_the_build_runs(settings):
    holder = holding_build(settings)
    try:
        folders = [settings.warehouse_path.parent / name for name in scratch_left(settings)]
        folders = [p if p.exists() else settings.reports_dir.parent / p.name for p in folders]
        assert [mode(p) for p in folders] == [0o700, 0o700]
        holder.pipe.send("go")
        done = holder.wait()
    finally:
        holder.kill()
    assert done.returncode == 0, done.stderr
    assert mode(settings.reports_dir) == 0o777 & ~current_umask()


def test_a_log_named_after_a_warehouse_that_does_not_exist_is_kept_and_refused(settings):
    log = settings.warehouse_path.with_name(settings.warehouse_path.name + ".wal")
    log.parent.mkdir(parents=True)
    log.write_text("my notes")
    with pytest.raises(PipelineError, match=r"mall\.duckdb\.wal: a DuckDB log beside a warehouse that does not exist"):
        run_build(settings)
    assert log.read_text() == "my notes" and not settings.warehouse_path.exists()


def test_empty_folders_of_scratch_like_names_are_kept(settings):
    mine = [
        settings.warehouse_path.with_name(f".{settings.warehouse_path.name}.build-empty"),
        settings.reports_dir.with_name(f".{settings.reports_dir.name}.building-empty"),
    ]
    for folder in mine:
        folder.mkdir(parents=True)
    run_build(settings)
    assert all(folder.is_dir() for folder in mine)


@pytest.mark.usefixtures("published")
def test_a_project_folder_moved_whole_keeps_building(settings, tmp_path):
    moved = tmp_path.with_name(tmp_path.name + "-moved")
    tmp_path.rename(moved)
    try:
        there = replace(
            settings,
            warehouse_path=moved / settings.warehouse_path.relative_to(tmp_path),
            reports_dir=moved / settings.reports_dir.relative_to(tmp_path),
        )
        run_build(there)
        assert query(there.warehouse_path, "select max(run_id) from pipeline_runs") == [(2,)]
    finally:
        moved.rename(tmp_path)


def test_an_error_naming_a_path_with_a_line_end_stays_one_line(settings, tmp_path):
    done = subprocess.run(
        command(settings, "--input", f"{tmp_path}/missing\nerror: x.csv"), capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 1
    assert done.stderr == f"error: {tmp_path}/missing\\nerror: x.csv: no such file\n"


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json", ".parquet"])
def test_a_stop_while_duckdb_reads_the_input_is_a_stop_never_a_fault_of_the_file(tmp_path, suffix):
    """A stop interrupts the query that is reading the input (`stops.interrupting`): each
    reader passes that on as the stop it is, never as 'cannot be read'."""
    import duckdb

    from segmentation.duckdb_errors import is_interrupt
    from segmentation.readers import input_file, json_file, lines, parquet
    from segmentation.sample_data import write_customers

    source = tmp_path / "customers.parquet"
    write_customers(source, rows=300_000)
    path = tmp_path / f"customers{suffix}"
    if suffix != ".parquet":
        form = {".csv": "header", ".jsonl": "format json", ".json": "format json, array true"}[suffix]
        duckdb.sql(f"copy (from read_parquet('{source}')) to '{path}' ({form})")
    facts = input_file.inspect(path, text=suffix != ".parquet")
    read = {
        ".csv": lambda con: lines.read_part_lines(con, facts, 0, 0, 1, tmp_path, "CSV"),
        ".jsonl": lambda con: lines.read_part_lines(con, facts, 0, 0, 0, tmp_path, "JSON Lines"),
        ".json": lambda con: json_file.read_json_document(con, facts, 0, 0, tmp_path, "array"),
        ".parquet": lambda con: parquet.load_parquet(con, (facts,), tmp_path),
    }[suffix]
    done = threading.Event()

    def interrupt(con) -> None:  # from once the reader's first statements (a few ms) have run
        done.wait(0.02)
        while not done.wait(0.002):
            con.interrupt()

    with duckdb.connect() as con:
        stopper = threading.Thread(target=interrupt, args=(con,))
        stopper.start()
        try:
            with pytest.raises(BaseException) as raised:
                read(con)
        finally:
            done.set()
            stopper.join()
    assert is_interrupt(raised.value), raised.value
