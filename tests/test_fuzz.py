"""Random paths, options, file names and files thrown at the command line. Whatever comes, the
command exits 0, 1 or 2; a failure is exactly one `error:` line and never a traceback; a failed
run leaves every file it found byte-identical (the previously published pair above all); and no
run touches a user's files at the names builds use for scratch, or leaves scratch behind.

The suite runs a short, fixed series; `make fuzz` runs a long random one
(FUZZ_EXAMPLES=300 FUZZ_RANDOM=1).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import fingerprint, run_build
from segmentation import workers
from segmentation.config import PROJECT_DIR, SAMPLE_INPUT, Settings

sys.path.insert(0, str(PROJECT_DIR))
import pipeline

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
SAMPLE_LINES = SAMPLE_INPUT.read_text().splitlines()


@dataclass
class Place:
    """The fuzz's folder: a published pair, a scratch folder the commands run in, odd files."""

    root: Path
    warehouse: Path
    reports: Path
    scratch: Path


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> Place:
    root = tmp_path_factory.mktemp("fuzz")
    published = Settings(warehouse_path=root / "warehouse" / "mall.duckdb", reports_dir=root / "reports")
    run_build(published)
    scratch = root / "scratch"
    scratch.mkdir()
    (scratch / "a folder").mkdir()
    (scratch / "notes.txt").write_text("mine")
    (scratch / "linked-reports").symlink_to(root / "reports", target_is_directory=True)
    (root / "home").mkdir()
    for path, text in PLANTED.items():  # a user's files at names builds use or once used for scratch
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return Place(root, published.warehouse_path, published.reports_dir, scratch)


PLANTED = {
    "warehouse/mall.duckdb.build": "mine",
    "warehouse/mall.duckdb.build.input/customers.csv": "\n".join(SAMPLE_LINES) + "\n",
    "warehouse/.mall.duckdb.build-000000000000/mine.txt": "mine",
    ".reports.building/draft.txt": "draft",
    ".reports.building-000000000000/draft.txt": "draft",
    ".reports.aside/old.txt": "old",
}
# What the generated input file is called: names that reach SQL comments, the terminal and DuckDB.
INPUT_NAMES = [
    "generated.csv",
    "gen\nDROP TABLE customers_to_score; --.csv",
    os.fsdecode(b"gen\xff\xfe.csv"),
    "gen'quote\".csv",
    "Zoe\u0308.csv",
    ".mall.duckdb.build-1.csv",
]


def paths(kind: str) -> st.SearchStrategy[str]:
    """Paths a user might give (relative ones are read from the scratch folder)."""
    odd_names = st.sampled_from(
        [
            "new.duckdb",
            "with space.duckdb",
            "ünï cødé.duckdb",
            "odd?name.duckdb",
            "star*.duckdb",
            "semi;colon",
            "quote'd.duckdb",
            "x" * 250,
            "x" * 300 + ".duckdb",
            ".hidden",
            "new-folder/deeper/w.duckdb",
            "md:remote",
            ":memory:",
            "-",
            "~/in-home.duckdb",
            "~",
            "a folder",
            "notes.txt",
            "notes.txt/under-a-file",
            "linked-reports",
            "linked-reports/inside.duckdb",
            ".",
            "..",
            "/",
            "",
            "new-reports",
            "new-reports/",
        ]
    )
    published = st.sampled_from(
        [
            "{warehouse}",
            "{reports}",
            "{reports}/index.html",
            "{warehouse}.lock",
            "{reports}/segment_summary.parquet",
            "{root}/warehouse",
            "{root}/warehouse/mall.duckdb.build",
            "{root}/warehouse/mall.duckdb.build.input/customers.csv",
            "{root}/.reports.building",
            os.fsdecode(b"{root}/\xffodd/w.duckdb"),
        ]
    )
    return (
        st.one_of(odd_names, published)
        if kind != "input"
        else st.one_of(odd_names, published, st.just("{sample}"), st.just("{generated}"))
    )


def csv_texts() -> st.SearchStrategy[bytes]:
    """The sample, cut, mutated or replaced by garbage."""
    line = st.one_of(
        st.sampled_from(SAMPLE_LINES[1:]),
        st.text(max_size=40),
        st.sampled_from(
            [
                "",
                ",,,,",
                "1,Male,19,15,39,extra",
                "x,y",
                '"unclosed,1,2,3,4',
                "99999999999999999999,Female,20,2147483648,50",
                "201,Female,20,10000000000000000000,50",
                "202,Female,20," + "9" * 160 + ",50",
                "Zoe\u0308,Female,20,50,50",
                "Zo\u00eb,Female,20,50,50",
                "\uff11\uff12,Male,30,60,60",
                "0,Male,30,60,60",
                "0,Male,31,61,61",
                "203,Male,30,60,60," + "x" * 3000,
                "\x00\x01\x02",
            ]
        ),
    )
    header = st.sampled_from(
        [
            SAMPLE_LINES[0],
            SAMPLE_LINES[0].replace("Gender", "Genre"),
            "",
            "a,b,c",
            "\ufeff" + SAMPLE_LINES[0],
            SAMPLE_LINES[0].replace(",", ";"),
            SAMPLE_LINES[0] + ',"=HYPERLINK(""http://x"")",+cmd,@SUM(A1)',
            SAMPLE_LINES[0] + "".join(f",extra_{i}" for i in range(300)),
        ]
    )
    text = st.builds(
        lambda h, rows, end: end.join([h, *rows]) + end,
        header,
        st.lists(line, max_size=30),
        st.sampled_from(["\n", "\r\n"]),
    )
    whole = st.builds(lambda n: "\n".join(SAMPLE_LINES[: n + 1]) + "\n", st.integers(0, len(SAMPLE_LINES)))
    return st.one_of(
        text.map(lambda t: t.encode("utf-8", "surrogatepass")), whole.map(str.encode), st.binary(max_size=300)
    )


OPTIONS = {
    "--k": ["0", "1", "2", "5", "auto", "-1", "x", "11", "250", ""],
    "--seed": ["0", "42", "-1", "4294967296", "1.5", "seed"],
    "--sample-size": ["0", "1", "3", "20000", "-2", "many"],
    "--lock-timeout": ["0", "0.5", "nan", "inf", "-1", "1e309", "soon"],
    "--storage-version": ["v1.0.0", "latest", "garbage", "v9.9.9", ""],
    "--features": ["income,spending", "income,spending,age", "age", "income,,spending", "", "Age:log", "CustomerID"],
    "--max-reject-share": ["0", "0.5", "1", "1.5", "-0.1", "nan", "half"],
    "--min-segment-share": ["0", "0.02", "0.9", "2"],
}


@st.composite
def commands(draw) -> tuple[list[str], bytes, str]:
    argv: list[str] = []
    # without --warehouse or --reports the project's own would be used: the fuzz's instead
    defaults = {"--input": None, "--warehouse": "{root}/default/mall.duckdb", "--reports": "{root}/default-reports"}
    for option, kind in (("--input", "input"), ("--warehouse", "warehouse"), ("--reports", "reports")):
        if draw(st.booleans()):
            argv += [option, draw(paths(kind))]
        elif defaults[option]:
            argv += [option, defaults[option]]
    for option, values in OPTIONS.items():
        if draw(st.integers(0, 3)) == 0:
            argv += [option, draw(st.sampled_from(values))]
    if draw(st.integers(0, 5)) == 0:
        argv.append(draw(st.sampled_from(["--strict", "--unknown", "--k", "stray", "--help-me"])))
    return argv, draw(csv_texts()), draw(st.sampled_from(INPUT_NAMES))


def run(argv: list[str]) -> tuple[int, str]:
    """pipeline.main in this process (the workers' processes replaced by in-process calls):
    exit status and stderr. An exception escaping main is the traceback a user would see."""
    stderr, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        try:
            status = pipeline.main(argv)
        except SystemExit as e:  # argparse: usage errors
            status = e.code
    return status, stderr.getvalue()


def state(place: Place) -> dict[str, str]:
    """Every file under the fuzz's folder but the lock files (empty, created by any run)."""
    return {name: digest for name, digest in fingerprint(place.root).items() if not name.endswith(".lock")}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(command=commands())
def test_whatever_is_thrown_at_the_command(place, monkeypatch, command):
    argv, content, name = command
    generated = place.scratch / name
    generated.write_bytes(content)
    values = {
        "warehouse": place.warehouse,
        "reports": place.reports,
        "root": place.root,
        "sample": SAMPLE_INPUT,
        "generated": generated,
    }
    argv = [arg.format(**values) if "{" in arg else arg for arg in argv]
    monkeypatch.chdir(place.scratch)
    monkeypatch.setenv("HOME", str(place.root / "home"))
    monkeypatch.setattr(workers, "Workers", workers.InProcess)
    before = state(place)
    status, stderr = run(argv)
    assert status in (0, 1, 2), (argv, status, stderr)
    assert "Traceback" not in stderr, (argv, stderr)
    if status != 0:
        errors = [line for line in stderr.splitlines() if "error:" in line]
        assert len(errors) == 1, (argv, stderr)
        # the build's own line, or argparse's "<program>: error: ..." for a usage error
        assert re.match(r"error: " if status == 1 else r"\S+: error: argument |\S+: error: ", errors[0]), (argv, stderr)
        assert state(place) == before, argv  # nothing it found was changed
    planted = {path: (place.root / path).read_text() for path in PLANTED}
    assert planted == PLANTED, argv  # a user's files are never touched, whatever their names
    left = sorted(
        p.name for p in place.root.rglob("*") if p.is_dir() and (".build-" in p.name or ".building-" in p.name)
    )
    assert left == [".mall.duckdb.build-000000000000", ".reports.building-000000000000"], (argv, left)
