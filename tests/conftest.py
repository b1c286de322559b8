"""Shared fixtures: an in-memory DuckDB, the real data file, and builds into temporary folders."""

from __future__ import annotations

import functools
import hashlib
import importlib
import multiprocessing
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest

from segmentation.building import BuildResult, build
from segmentation.config import PROJECT_DIR, SAMPLE_INPUT, Settings
from segmentation.dag import Model
from segmentation.locks import lock_path
from segmentation.manifest import read_manifest, write_manifest
from segmentation.publish import resolve_paths
from segmentation.workers import CHARTS, CLUSTERING, InProcess, Result, call_by_name

# The classic file, needed only by the tests of the published reference figures (GUIDE
# section 3); every other test runs on the bundled sample or generated customers.
# SEGMENTATION_REAL_CSV points elsewhere (e.g. at a missing file, to run as a fresh clone does).
REAL_CSV = Path(os.environ.get("SEGMENTATION_REAL_CSV", PROJECT_DIR.parent / "shared" / "data" / "Mall_Customers.csv"))


@pytest.fixture
def con():
    with duckdb.connect() as connection:
        yield connection


@pytest.fixture(scope="session")
def real_csv() -> Path:
    if not REAL_CSV.exists():
        pytest.skip(f"reference figures need the real file {REAL_CSV}, which is not here")
    return REAL_CSV


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A build of the bundled sample into a temporary warehouse and reports folder."""
    return Settings(
        input_path=SAMPLE_INPUT,
        warehouse_path=tmp_path / "warehouse" / "mall.duckdb",
        reports_dir=tmp_path / "reports",
        lock_timeout_s=5,
    )


def pipeline_command(settings: Settings, *extra: str) -> list[str]:
    """The command line of a build into `settings`' warehouse and reports folder."""
    return [
        sys.executable,
        str(PROJECT_DIR / "pipeline.py"),
        "--warehouse",
        str(settings.warehouse_path),
        "--reports",
        str(settings.reports_dir),
        *extra,
    ]


def hooked_pipeline(settings, hook: str, *extra: str) -> subprocess.CompletedProcess:
    """The command, with `hook` (Python run after the project is imported, `publish` and
    `swap` in scope) patching the publish step: how a test stops a build at an exact instant."""
    argv = pipeline_command(settings, *extra)[2:]
    script = "\n".join(
        [
            "import os, signal, sys",
            f"sys.path.insert(0, {str(PROJECT_DIR)!r})",
            "import pipeline",
            "from segmentation import publish, swap",
            textwrap.dedent(hook),
            f"sys.exit(pipeline.main({argv!r}))",
        ]
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)


class ForkedCommand:
    """The command (`argv`, run in `cwd`) in a process of its own, with `hook` (Python run
    before it, as for `hooked_pipeline`; `publish`, `swap` and `test_pipe`, a connection to `pipe`, in
    scope). It is forked from a server process that has the project and its libraries imported
    (a fresh interpreter spends more time importing them than building the sample), and K-Means
    and the charts run in it (`IN_PROCESS`), not in worker processes. For the tests of what
    another process does (stopped while publishing, after the workers' part is done; holding
    the locks; rebuilding beside readers), not of the command's workers or its start."""

    def __init__(self, argv: list[str], hook: str = "", cwd: Path | None = None) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["conftest", "pipeline", "segmentation.building", *PRELOADED])
        self.folder = tempfile.TemporaryDirectory()
        self.out, self.err = Path(self.folder.name) / "stdout", Path(self.folder.name) / "stderr"
        self.argv = argv
        self.pipe, theirs = context.Pipe()
        where = str(cwd if cwd is not None else Path.cwd())
        recent = dict(list(REMEMBERED.items())[-HANDED_ON:])
        self.process = context.Process(
            target=command_with_hook, args=(hook, argv, str(self.out), str(self.err), theirs, where, recent)
        )
        self.process.start()
        theirs.close()  # the process's end is its own: a process gone ends `pipe` too

    def wait(self, timeout: float = 180) -> subprocess.CompletedProcess:
        self.process.join(timeout)
        if self.process.exitcode is None:
            self.kill()
            raise AssertionError(f"the command did not end within {timeout} s: {self.err.read_text()}")
        done = subprocess.CompletedProcess(self.argv, self.process.exitcode, self.out.read_text(), self.err.read_text())
        self.folder.cleanup()
        return done

    def kill(self) -> None:
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()


def publishing_hooked(settings: Settings, hook: str, *extra: str) -> ForkedCommand:
    """The build into `settings`' paths, `hook` stopping it while it publishes (or holding it)."""
    return ForkedCommand(pipeline_command(settings, *extra)[2:], hook)


def publishing_stopped(settings: Settings, hook: str, *extra: str) -> subprocess.CompletedProcess:
    """`publishing_hooked`, waited for: how it ended."""
    return publishing_hooked(settings, hook, *extra).wait()


# What the command's process imports anyway (K-Means and the charts run in it with IN_PROCESS).
PRELOADED = ["segmentation.clustering", "segmentation.charts"]


def command_with_hook(
    hook: str, argv: list[str], out: str, err: str, pipe: object, cwd: str, recent: dict[tuple, bytes]
) -> None:
    """`ForkedCommand`'s process: its output to the files `out` and `err`, in `cwd`, the hook
    run, then the command's main; exits with its code, or as the hook ends it. `recent`: the
    results of K-Means and the charts the test process computed last (`REMEMBERED`)."""
    REMEMBERED.update(recent)
    for fd, path in ((1, out), (2, err)):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
    os.chdir(cwd)
    sys.path.insert(0, str(PROJECT_DIR))
    import pipeline
    from segmentation import publish, swap
    from segmentation.workers import IN_PROCESS

    scope = {
        "os": os,
        "signal": signal,
        "sys": sys,
        "publish": publish,
        "swap": swap,
        "pipeline": pipeline,
        "test_pipe": pipe,
    }
    exec(textwrap.dedent(hook), scope)
    sys.exit(pipeline.main(argv, runner=IN_PROCESS))


def run_command(capsys: pytest.CaptureFixture[str], *argv: str) -> subprocess.CompletedProcess:
    """The command's `main` called in this process with `argv`, K-Means and the charts run here
    too (`IN_PROCESS`, not worker processes): its exit code and what it printed, as a
    `CompletedProcess`. For the tests of what the command does and says; those of signals,
    kills and worker processes start the command itself (`pipeline_command`)."""
    from segmentation import cli
    from segmentation.workers import IN_PROCESS

    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    capsys.readouterr()  # what the test printed before is not the command's
    try:
        code = cli.main(list(argv), runner=IN_PROCESS)
    except SystemExit as e:  # a usage error
        code = e.code
    finally:
        for number, handler in handlers.items():  # main takes Ctrl-C and SIGTERM over
            signal.signal(number, handler)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["pipeline.py", *argv], code, out, err)


def command_in_process(
    capsys: pytest.CaptureFixture[str], settings: Settings, *extra: str
) -> subprocess.CompletedProcess:
    """`run_command` of the command line `pipeline_command(settings, *extra)`."""
    return run_command(capsys, *pipeline_command(settings, *extra)[2:])


# The suite builds the same customers with the same parameters many times, in process
# (`IN_PROCESS`), and K-Means and the charts are pure functions of their arguments (`workers`): a
# test process computes each distinct call once and hands out a fresh copy of its result
# (unpickled each time: no test's change to it reaches another). A function a test replaced is
# another key, so it runs; a test that replaces what such a function calls must clear
# REMEMBERED first. Worker processes (`Workers`) are left as they are.
REMEMBERED: dict[tuple[Callable[..., Any], bytes], bytes] = {}
# How many of the latest a forked command (`ForkedCommand`) starts with: those of the build it
# follows, a few megabytes.
HANDED_ON = 16


def remembered(module: str, function: str, *args: Any) -> Any:
    if module not in (CLUSTERING, CHARTS):
        return call_by_name(module, function, *args)
    key = (getattr(importlib.import_module(module), function), pickle.dumps(args, protocol=5))
    # the last used last: `ForkedCommand` hands the most recent on
    result = REMEMBERED.pop(key) if key in REMEMBERED else pickle.dumps(call_by_name(module, function, *args), 5)
    REMEMBERED[key] = result
    return pickle.loads(result)


def in_process_call(self: InProcess, module: str, function: str, *args: Any) -> Result:
    return functools.partial(remembered, module, function, *args)


InProcess.call = in_process_call


# the columns of a warehouse without a description: what a BI tool would show bare
UNDESCRIBED_COLUMNS = "select table_name, column_name from duckdb_columns() where not internal and comment is null"


def run_build(settings: Settings, **changes) -> BuildResult:
    return build(replace(settings, **changes), log=lambda line: None)


@pytest.fixture(scope="session")
def first_build(tmp_path_factory) -> Iterator[Settings]:
    """The bundled sample built once (per test process) with the default settings, for
    `published` to copy and the read-only tests to read (`sample_build`). Nothing may change
    it: its files are checked at the end of the session."""
    root = tmp_path_factory.mktemp("first-build")
    built = Settings(warehouse_path=root / "warehouse" / "mall.duckdb", reports_dir=root / "reports")
    run_build(built)
    before = fingerprint(root)
    yield built
    assert fingerprint(root) == before, "a test changed the shared build of the sample"


@pytest.fixture(scope="session")
def sample_build(first_build: Settings) -> Settings:
    """One build of the bundled sample, shared by the read-only tests (`first_build`)."""
    return first_build


@pytest.fixture
def published(settings: Settings, first_build: Settings) -> Settings:
    """`settings` with a first build of the bundled sample already published at its paths, as
    `run_build(settings)` publishes it: the files are copied with their sizes and times (the
    manifest records them) and the manifest names this warehouse. A test of what a later build
    does to a published one starts here, without paying for the first build."""
    live, reports = resolve_paths(settings.warehouse_path, settings.reports_dir)
    built = resolve_paths(first_build.warehouse_path, first_build.reports_dir)
    live.parent.mkdir(parents=True, exist_ok=True)
    reports.parent.mkdir(parents=True, exist_ok=True)
    for source, target in zip(built, (live, reports)):  # with the lock files builds take turns by
        shutil.copy2(lock_path(source), lock_path(target))
    shutil.copy2(built[0], live)
    shutil.copytree(built[1], reports, copy_function=shutil.copy2)
    manifest = read_manifest(reports)
    assert manifest is not None
    write_manifest(reports, replace(manifest, warehouse=str(live)))
    return settings


def write_csv(directory: Path, text: str | bytes, name: str = "customers.csv") -> Path:
    path = directory / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def fingerprint(*paths: Path) -> dict[str, str]:
    """Content hash of every file under the given files or folders."""
    found = {}
    for root in paths:
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def scratch_left(settings: Settings) -> list[str]:
    """What stands beside the warehouse and the reports folder other than them and their
    lock files: a build leaves nothing there."""
    live, reports = settings.warehouse_path, settings.reports_dir
    ours = {live.name, f"{live.name}.lock", reports.name, f".{reports.name}.lock"}
    return sorted(
        path.name
        for folder in {live.parent, reports.parent}
        if folder.is_dir()
        for path in folder.iterdir()
        if path.name not in ours and path.name.startswith((f".{live.name}.", f".{reports.name}.", f"{live.name}."))
    )


def query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def child_processes(pid: int) -> list[int]:
    """The processes `pid` started that are still running (Linux: /proc)."""
    return [
        int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    ]


def still_running(pids: list[int], within_s: float = 10) -> list[int]:
    """Those of `pids` still running after up to `within_s` seconds of waiting for them to end."""
    deadline = time.monotonic() + within_s
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


STAGING = (
    "gender_labels",
    "missing_value_markers",
    "padding_characters",
    "summary_row_labels",
    "reject_reasons",
    "int_value_conventions",
    "trim_padding",
    "customer_key",
    "number_from_text",
    "int_customer_rows",
    "int_repeated_customer_rows",
    "int_repeated_customer_ids",
    "stg_customer_rows",
    "stg_customers",
    "customer_rejects",
    "customer_data_issues",
)


def load(con, path: Path, work: Path, **changes):
    """Load `path` as a build would (with an empty history), into `con`."""
    from segmentation.history import carry_history
    from segmentation.loader import load_raw

    settings = replace(Settings(input_path=path, warehouse_path=work / "none.duckdb"), **changes)
    loaded = load_raw(con, settings, work / "input", reserved_names(settings.sql_dir))
    carry_history(con, settings)
    return loaded


@functools.cache
def reserved_names(sql_dir: Path) -> frozenset[str]:
    """The names the models give columns beside the input's, as a build hands them to the loader."""
    from segmentation.dag import record_names
    from segmentation.schema import load_schema

    return record_names(list(sql_models(sql_dir).values()), load_schema(sql_dir))


def customers(con) -> list[tuple]:
    """The staged customers' classic columns, in file order."""
    return con.execute(
        "select customer_id, gender, age, annual_income_k, spending_score from stg_customers order by line_number"
    ).fetchall()


def rejects(con) -> list[tuple]:
    """The rejected lines and their reasons, in file order."""
    return con.execute("select line_number, reject_reason from customer_rejects order by 1").fetchall()


@functools.cache
def sql_models(sql_dir: Path) -> dict[str, Model]:
    """The models of `sql_dir` by name, as a build discovers them: discovered once per test
    process (half the time of staging a small file), as the files do not change meanwhile."""
    from segmentation.dag import discover
    from segmentation.schema import load_schema

    models, _ = discover(sql_dir, load_schema(sql_dir))
    return {model.name: model for model in models}


def stage_file(con, path: Path, work: Path, **changes):
    """Load the file and build the staging models on it, as a build would."""
    from segmentation.config import SQL_DIR
    from segmentation.dag import materialize
    from segmentation.db import model_features

    loaded = load(con, path, work, **changes)
    by_name = sql_models(changes.get("sql_dir", SQL_DIR))
    for name in STAGING:
        materialize(con, by_name[name], None, model_features(con))
    return loaded


# `make quick`: the tests that neither build a whole warehouse, start the command, search
# inputs at random nor draw every chart, for a loop of a minute or less while editing; `make
# test` runs them all. A test marked `slow` itself, or using a fixture that builds, is left out.
SLOW_MODULES = {
    "test_bi_recipes",
    "test_cli",
    "test_datasets_and_colours",
    "test_engines_postgres",
    "test_engines_spark",
    "test_fuzz",
    "test_harmless",
    "test_input_properties",
    "test_install",
    "test_orders",
    "test_publishing",
    "test_report_and_history",
    "test_report_browser",
    "test_report_charts",
    "test_trust",
}
BUILD_FIXTURES = {"settings", "published", "first_build", "sample_build", "real_csv"}


def pytest_configure(config):
    # Builds fsync what they publish, which on disk took a sixth of the suite's time, and no test
    # can check durability: temporary files live in memory where Linux offers it (a TMPDIR given
    # is kept). Before xdist starts its workers, so they inherit it.
    if "TMPDIR" not in os.environ and os.access("/dev/shm", os.W_OK):
        os.environ["TMPDIR"] = "/dev/shm"
        tempfile.tempdir = None
    config.addinivalue_line("markers", "slow: builds a whole warehouse or starts the command: not in make quick")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__ in SLOW_MODULES or BUILD_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)
