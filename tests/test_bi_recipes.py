"""The recipes of docs/bi-tools.md, taken from the page and run as written, from a project folder,
while the command rebuilds the warehouse three times in another process (as a scheduled build
would): every recipe keeps querying, and each query after a build reads that build."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy

from conftest import query, run_build, write_csv
from segmentation.config import PROJECT_DIR, SAMPLE_INPUT, Settings

PAGE = PROJECT_DIR / "docs" / "bi-tools.md"
PIPELINE = PROJECT_DIR / "pipeline.py"
# `make install` puts the DuckDB CLI beside the Python that runs the tests
DUCKDB_CLI = Path(sys.executable).parent / "duckdb"
LATEST = "select run_id, customers from pipeline_runs order by run_id desc limit 1"


def recipe(marker: str) -> str:
    """The one code block of the page that holds `marker`, as written there."""
    blocks = re.findall(r"^```[a-z]+\n(.*?)^```$", PAGE.read_text(encoding="utf-8"), re.S | re.M)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"{marker!r} is in {len(found)} code blocks of {PAGE.name}"
    return found[0]


@pytest.fixture
def project(tmp_path) -> Path:
    """A folder to build in and query from: the command puts warehouse/ and reports/ here."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def builds(project: Path) -> Iterator[tuple[int, int]]:
    """A build, then three rebuilds by the command in its own process, each on other customers
    (ten fewer each time) with another seed; yields after each the (run_id, customers) the
    warehouse should now show."""
    lines = SAMPLE_INPUT.read_text().splitlines()
    for run in range(1, 5):
        customers = 200 - 10 * (run - 1)
        source = write_csv(project.parent, "\n".join(lines[: customers + 1]) + "\n", name=f"customers_{run}.csv")
        if run == 1:  # nothing reads the warehouse yet: built in this process, to save a start
            run_build(
                Settings(
                    input_path=source,
                    warehouse_path=project / "warehouse" / "mall.duckdb",
                    reports_dir=project / "reports",
                )
            )
        else:
            done = subprocess.run(
                [sys.executable, str(PIPELINE), "--input", str(source), "--seed", str(run)],
                cwd=project,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert done.returncode == 0, done.stderr
        yield run, customers


def test_the_duckdb_cli_recipe_reads_each_build(project):
    commands = [shlex.split(line, comments=True) for line in recipe("duckdb -readonly").splitlines()]
    for expected in builds(project):
        outputs = []
        for command in commands:
            done = subprocess.run(
                [str(DUCKDB_CLI), *command[1:]], cwd=project, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout)
        summary, latest = outputs
        assert "segment_label" in summary and "avg_annual_income_k" in summary
        shown = re.search(r"│\s+(\d+)\s+│\s+(\d+)\s+│", latest)
        assert shown is not None, latest
        assert tuple(map(int, shown.groups())) == expected


def test_the_python_recipe_reads_each_build(project, monkeypatch):
    monkeypatch.chdir(project)
    recipes: dict = {}
    for expected in builds(project):
        if not recipes:
            exec(recipe("def query(sql)"), recipes)
            assert set(recipes["target"]["segment_label"]) == {"Target Customers"}
        assert tuple(recipes["query"](LATEST).iloc[0]) == expected


def test_the_sqlalchemy_recipe_reads_each_build_beside_the_python_one(project, monkeypatch):
    monkeypatch.chdir(project)
    recipes: dict = {}
    for expected in builds(project):
        if not recipes:  # the engine lives through the rebuilds, as a dashboard's does
            exec(recipe("def query(sql)"), recipes)
            exec(recipe("poolclass=NullPool"), recipes)
            assert len(recipes["summary"]) >= 2
        engine = recipes["engine"]
        with engine.connect() as connection:
            assert tuple(connection.execute(sqlalchemy.text(LATEST)).one()) == expected
            # both recipes hold a connection at once: the same settings, the same build
            assert tuple(recipes["query"](LATEST).iloc[0]) == expected
            with recipes["connect"]() as con:
                assert con.execute(LATEST).fetchone() == expected
                assert tuple(connection.execute(sqlalchemy.text(LATEST)).one()) == expected
        assert tuple(pd.read_sql(LATEST, engine).iloc[0]) == expected


def test_the_own_file_recipe_scores_with_the_macros_and_reads_each_build(project, monkeypatch):
    monkeypatch.chdir(project)
    sql = recipe("set search_path")
    scored = "select count(*), count(*) filter (where scored = 'Target Customers') from my_targets"
    held = None  # a session kept open through the rebuilds, attaching again after each
    try:
        for expected in builds(project):
            # as written, in the DuckDB CLI, then which build it read
            done = subprocess.run(
                [str(DUCKDB_CLI), "analysis.duckdb"],
                input=f"{sql}\n.mode csv\n.headers off\n{LATEST};\n",
                cwd=project,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0 and not done.stderr, done.stderr
            assert tuple(map(int, done.stdout.split()[-1].split(","))) == expected
            ((rows, agreeing),) = query(project / "analysis.duckdb", scored)
            assert rows == agreeing > 0  # the macro agrees with the build on every customer
            assert query(project / "analysis.duckdb", "select count(*) from duckdb_tables()") == [(1,)]

            if held is None:
                held = duckdb.connect("notebook.duckdb")
            held.execute(sql)
            assert held.execute(LATEST).fetchone() == expected
            assert held.execute(scored).fetchone() == (rows, rows)
            assert held.execute(
                "select database_name from duckdb_tables() where table_name = 'my_targets'"
            ).fetchall() == [("notebook",)]
    finally:
        if held is not None:
            held.close()
