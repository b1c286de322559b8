"""The command line, on real files: started as a user starts it where the process is what is
tested (its imports, its workers, Ctrl-C, usage errors), else its main called in the test's
process (`run_command`)."""

from __future__ import annotations

import codecs
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import child_processes, fingerprint, query, run_command, still_running, write_csv
from segmentation.config import PROJECT_DIR, SAMPLE_INPUT

PIPELINE = PROJECT_DIR / "pipeline.py"


def pipeline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PIPELINE), *args], capture_output=True, text=True, timeout=120)


def test_the_options_table_lists_every_option_of_the_command():
    done = pipeline("--help")
    assert done.returncode == 0
    in_help = re.findall(r"(?m)^  (--[a-z-]+)", done.stdout)
    table = (PROJECT_DIR / "docs" / "own-data.md").read_text(encoding="utf-8")
    in_table = re.findall(r"(?m)^\| `(--[a-z-]+)", table)
    assert len(in_help) >= 18
    assert in_table == in_help  # every option, in the order --help gives them


def test_help_gives_each_default_once():
    done = pipeline("--help")
    assert done.returncode == 0
    entries = {
        flat.split()[0]: flat
        for entry in re.split(r"\n(?=  -)", done.stdout.split("options:")[1])
        if (flat := " ".join(entry.split()))
    }
    assert [option for option, text in entries.items() if text.count("(default") > 1] == []
    assert entries["--encoding"].endswith("text encoding of a CSV or JSON input (default: detected)")
    assert entries["--dataset"].endswith("else a new one named after the input file)")
    assert entries["--seed"].endswith("K-Means random_state (default: 42)")
    assert entries["--warehouse"].endswith("(default: warehouse/mall.duckdb)")
    assert entries["--reports"].endswith("(default: reports)")
    for option in ("--columns", "--strict", "--features"):  # nothing to show, or said in words
        assert "(default:" not in entries[option], entries[option]


def test_a_missing_input_is_refused_before_the_heavy_imports_and_the_workers(tmp_path):
    heavy = ("duckdb", "pandas", "numpy", "sklearn", "matplotlib", "segmentation.building", "segmentation.workers")
    script = textwrap.dedent(f"""
        import runpy, sys
        main = runpy.run_path({str(PIPELINE)!r}, run_name="pipeline")["main"]
        code = main(["--input", {str(tmp_path / "nope.csv")!r}])
        print(code, sorted(name for name in {heavy!r} if name in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stderr.strip() == f"error: {tmp_path / 'nope.csv'}: no such file"
    assert done.stdout.split() == ["1", "[]"]


def test_a_build_prints_one_line_per_model_and_a_summary(tmp_path, capsys):
    done = run_command(capsys, "--warehouse", str(tmp_path / "w.duckdb"), "--reports", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("python kmeans_segments" in line for line in lines)
    assert any(" table " in line and "int_customer_rows" in line and "200 rows" in line for line in lines)
    assert lines[-1].startswith("Done in ") and "200 customers in 5 segments" in lines[-1]
    assert query(tmp_path / "w.duckdb", "select count(*) from customer_segments") == [(200,)]


def test_unusable_input_is_one_error_line_and_nothing_changes(tmp_path, published, capsys):
    warehouse, reports = published.warehouse_path, published.reports_dir
    before = fingerprint(warehouse, reports)
    bad = write_csv(tmp_path, "CustomerID,Gender,Age\n1,Male,19\n", name="bad input.csv")
    done = run_command(capsys, "--input", str(bad), "--warehouse", str(warehouse), "--reports", str(reports))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: {bad}: line 1: missing column(s) annual_income_k, spending_score "
        "(the header has: 'CustomerID', 'Gender', 'Age'); "
        "name them with --columns annual_income_k=HEADER,spending_score=HEADER"
    ]
    assert fingerprint(warehouse, reports) == before


def test_missing_input_file(tmp_path):
    done = pipeline(
        "--input",
        str(tmp_path / "nope.csv"),
        "--warehouse",
        str(tmp_path / "w.duckdb"),
        "--reports",
        str(tmp_path / "r"),
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {tmp_path / 'nope.csv'}: no such file"


def test_one_segment_is_said_in_the_singular(tmp_path, capsys):
    reports = tmp_path / "r"
    done = run_command(capsys, "--k", "1", "--warehouse", str(tmp_path / "w.duckdb"), "--reports", str(reports))
    assert done.returncode == 0, done.stderr
    assert ": 200 customers in 1 segment, " in done.stdout.splitlines()[-1]
    assert "1 segment of 200 customers" in (reports / "index.html").read_text()


@pytest.mark.parametrize("kind", ["loop", "dangling"])
def test_a_symbolic_link_to_nothing_is_named_so(tmp_path, capsys, kind):
    path = tmp_path / "customers.csv"
    if kind == "loop":  # customers.csv -> back.csv -> customers.csv
        path.symlink_to(tmp_path / "back.csv")
        (tmp_path / "back.csv").symlink_to(path)
    else:  # to a file moved since
        path.symlink_to(tmp_path / "moved" / "customers.csv")
    done = run_command(capsys, "--input", str(path), "--warehouse", str(tmp_path / "w.duckdb"))
    assert (done.returncode, done.stderr) == (
        1,
        f"error: {path}: a symbolic link to nothing (its target is missing, or the links lead back to it)\n",
    )


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--k", "five", "argument --k: expected a whole number of at least 1, or auto, got 'five'"),
        ("--k", "0", "argument --k: expected a whole number of at least 1, or auto, got '0'"),
        ("--seed", "-1", "argument --seed: a seed is a whole number from 0 to 2**32 - 1, got '-1'"),
        ("--seed", str(2**32), "argument --seed: a seed is a whole number from 0 to 2**32 - 1"),
        ("--max-reject-share", "2", "argument --max-reject-share: a share is between 0 and 1"),
        ("--encoding", "utf-99", "argument --encoding: unknown encoding 'utf-99'"),
        ("--encoding", "rot13", "argument --encoding: 'rot13' is not a text encoding"),
        ("--encoding", "base64", "argument --encoding: 'base64' is not a text encoding"),
        ("--dataset", " ", "argument --dataset: a dataset needs a name"),
    ],
)
def test_bad_options_are_usage_errors(option, value, message):
    done = pipeline(option, value)
    assert done.returncode == 2
    assert message in done.stderr


@pytest.mark.parametrize(
    ("encoding", "data", "problem"),
    [
        ("utf-16", SAMPLE_INPUT.read_bytes(), "UTF-16 stream does not start with BOM"),
        ("utf-16", SAMPLE_INPUT.read_text().encode("utf-16-le"), "UTF-16 stream does not start with BOM"),
        ("utf-32", SAMPLE_INPUT.read_bytes(), "code point not in range(0x110000)"),
        ("idna", SAMPLE_INPUT.read_bytes(), "Unsupported error handling surrogateescape"),
    ],
    ids=["utf-8 file", "utf-16 file without BOM", "utf-32", "idna"],
)
def test_a_file_the_named_encoding_cannot_read_is_one_error_line(tmp_path, encoding, data, problem, capsys):
    path = write_csv(tmp_path, data)
    done = run_command(
        capsys,
        "--input",
        str(path),
        "--encoding",
        encoding,
        "--warehouse",
        str(tmp_path / "w.duckdb"),
        "--reports",
        str(tmp_path / "r"),
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"error: {path}: cannot be read as {encoding} ({problem})"]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-8"])
@pytest.mark.parametrize("written", ["utf-16", "utf-16-le"])
def test_a_utf16_file_named_as_another_encoding_says_it_is_utf16(tmp_path, encoding, written, capsys):
    path = write_csv(tmp_path, SAMPLE_INPUT.read_text().encode(written))
    done = run_command(capsys, "--input", str(path), "--encoding", encoding, "--warehouse", str(tmp_path / "w.duckdb"))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: {path}: read as {codecs.lookup(encoding).name} (--encoding), it is control bytes such as NUL: its "
        "bytes are UTF-16 text; leave --encoding out (or --encoding utf-16)"
    ]


def test_the_command_builds_what_a_build_in_process_builds(tmp_path, first_build):
    """The command fits and draws in worker processes; `build` alone (`first_build`, of the same
    sample with the same defaults), in its own: same tables, same charts."""
    done = pipeline(
        "--input",
        str(SAMPLE_INPUT),
        "--warehouse",
        str(tmp_path / "cli" / "w.duckdb"),
        "--reports",
        str(tmp_path / "cli" / "r"),
    )
    assert done.returncode == 0, done.stderr
    here = first_build
    assert here.input_path == SAMPLE_INPUT
    for table in (
        "customer_segments",
        "segment_summary",
        "k_selection",
        "cluster_centroids",
        "feature_scaling",
        "customer_silhouettes",
        "cluster_stability",
    ):
        sql = f"select * from {table} order by all"
        assert query(tmp_path / "cli" / "w.duckdb", sql) == query(here.warehouse_path, sql), table
    for chart in ("elbow.png", "clusters.png", "segment_profiles.png"):
        assert (tmp_path / "cli" / "r" / chart).read_bytes() == (here.reports_dir / chart).read_bytes(), chart


def test_the_command_process_imports_neither_scikit_learn_nor_matplotlib(tmp_path):
    script = textwrap.dedent(f"""
        import runpy, sys
        main = runpy.run_path({str(PIPELINE)!r}, run_name="pipeline")["main"]
        assert main(["--warehouse", {str(tmp_path / "w.duckdb")!r}, "--reports", {str(tmp_path / "r")!r}]) == 0
        print(sorted(name for name in ("sklearn", "matplotlib") if name in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize("stop_after", ["stg_customer_rows", "int_clustered_customers", "segment_movements"])
def test_ctrl_c_stops_the_build_and_its_workers_at_once_and_changes_nothing(published, stop_after):
    warehouse, reports = published.warehouse_path, published.reports_dir
    before = fingerprint(warehouse, reports)
    run = subprocess.Popen(
        [sys.executable, "-u", str(PIPELINE), "--warehouse", str(warehouse), "--reports", str(reports)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal would have it
    )
    for line in run.stdout:
        if stop_after in line:
            workers = child_processes(run.pid)
            run.send_signal(signal.SIGINT)
            stopped = time.monotonic()
            break
    assert run.wait(timeout=60) == 130
    assert time.monotonic() - stopped < 5
    assert run.stderr.read().strip() == "error: interrupted; the published warehouse and reports are as they were"
    assert fingerprint(warehouse, reports) == before
    assert len(workers) >= 2
    assert still_running(workers) == []
