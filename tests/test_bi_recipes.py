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

from conftest import ForkedCommand, query, run_build, write_csv
from segmentation.config import PROJECT_DIR, SAMPLE_INPUT, Settings

PAGE = PROJECT_DIR / "docs" / "bi-tools.md"
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
    """A build, then three rebuilds by the command in its own process (`ForkedCommand`), each on
    other customers (ten fewer each time) with another seed; yields after each the (run_id,
    customers) the warehouse should now show."""
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
            done = ForkedCommand(["--input", str(source), "--seed", str(run)], cwd=project).wait()
            assert done.returncode == 0, done.stderr
        yield run, customers


def cli_recipe(project: Path) -> tuple[str, tuple[int, int]]:
    """The CLI recipe's two commands as written: the summary's text and the build it read."""
    outputs = []
    for line in recipe("duckdb -readonly").splitlines():
        command = shlex.split(line, comments=True)
        done = subprocess.run([str(DUCKDB_CLI), *command[1:]], cwd=project, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    summary, latest = outputs
    shown = re.search(r"│\s+(\d+)\s+│\s+(\d+)\s+│", latest)
    assert shown is not None, latest
    return summary, (int(shown[1]), int(shown[2]))


def own_file_recipe(project: Path, sql: str) -> tuple[int, int]:
    """The own-file recipe as written, in the DuckDB CLI: the build it read."""
    done = subprocess.run(
        [str(DUCKDB_CLI), "analysis.duckdb"],
        input=f"{sql}\n.mode csv\n.headers off\n{LATEST};\n",
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr
    run_id, customers = map(int, done.stdout.split()[-1].split(","))
    return run_id, customers


def test_every_recipe_reads_each_build_while_the_others_hold_their_connections(project, monkeypatch):
    """One process holds the Python recipe, the SQLAlchemy engine (as a dashboard does) and a
    notebook's own file with the warehouse attached, all through the rebuilds; the CLI recipes
    run as written after each build. Every one of them reads each new build."""
    monkeypatch.chdir(project)
    own_file = recipe("set search_path")
    scored = "select count(*), count(*) filter (where scored = 'Target Customers') from my_targets"
    recipes: dict = {}
    notebook = None
    try:
        for expected in builds(project):
            summary, latest = cli_recipe(project)
            assert "segment_label" in summary and "avg_annual_income_k" in summary
            assert latest == expected, "the DuckDB CLI recipe"

            if not recipes:  # these live through the rebuilds
                exec(recipe("def query(sql)"), recipes)
                assert set(recipes["target"]["segment_label"]) == {"Target Customers"}
                exec(recipe("poolclass=NullPool"), recipes)
                assert len(recipes["summary"]) >= 2
                notebook = duckdb.connect("notebook.duckdb")
            assert tuple(recipes["query"](LATEST).iloc[0]) == expected, "the Python recipe"
            engine = recipes["engine"]
            with engine.connect() as connection:
                assert tuple(connection.execute(sqlalchemy.text(LATEST)).one()) == expected, "the SQLAlchemy recipe"
                # both recipes hold a connection at once: the same settings, the same build
                with recipes["connect"]() as con:
                    assert con.execute(LATEST).fetchone() == expected
                    assert tuple(connection.execute(sqlalchemy.text(LATEST)).one()) == expected
            assert tuple(pd.read_sql(LATEST, engine).iloc[0]) == expected

            assert own_file_recipe(project, own_file) == expected, "the own-file recipe in the CLI"
            ((rows, agreeing),) = query(project / "analysis.duckdb", scored)
            assert rows == agreeing > 0  # the macro agrees with the build on every customer
            assert query(project / "analysis.duckdb", "select count(*) from duckdb_tables()") == [(1,)]
            notebook.execute(own_file)  # a session kept open, attaching again after each build
            assert notebook.execute(LATEST).fetchone() == expected, "the own-file recipe in a held session"
            assert notebook.execute(scored).fetchone() == (rows, rows)
            assert notebook.execute(
                "select database_name from duckdb_tables() where table_name = 'my_targets'"
            ).fetchall() == [("notebook",)]
    finally:
        if notebook is not None:
            notebook.close()


def test_the_own_file_recipe_scores_a_build_on_incomes_in_dollars(tmp_path, monkeypatch):
    """The macros take the input's units and the tables hold thousands: the recipe converts."""
    frame = pd.read_csv(SAMPLE_INPUT)
    frame["Annual Income (k$)"] *= 1000
    dollars = write_csv(tmp_path, frame.rename(columns={"Annual Income (k$)": "Annual Income ($)"}).to_csv(index=False))
    run_build(
        Settings(input_path=dollars, warehouse_path=tmp_path / "warehouse" / "mall.duckdb", reports_dir=tmp_path / "r")
    )
    monkeypatch.chdir(tmp_path)
    with duckdb.connect("analysis.duckdb") as con:
        con.execute(recipe("set search_path"))
        rows, agreeing = con.execute(
            "select count(*), count(*) filter (where scored = 'Target Customers') from my_targets"
        ).fetchone()
    assert rows == agreeing > 0
