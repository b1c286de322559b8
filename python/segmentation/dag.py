"""The model runner: find the models, order them by the tables their SQL reads, build them.

A SQL model is `sql/<layer>/<name>.sql`, a select (a Jinja template over the model's features,
`rendering`); its name is the file's stem. A seed
is `sql/seeds/<name>.csv`, loaded as a table. A macro is `sql/macros/<name>.sql`, one
`create macro` statement, created once the tables it reads exist. A Python model declares the
tables it reads and writes. Dependencies are read from the SQL by DuckDB's own parser, never
from a hand-kept list. Data tests run as soon as what they read exists, so a failure stops
everything downstream.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import NamedTuple

import duckdb
import pandas as pd

from . import data_tests
from .db import first_row, model_features, quote_ident
from .errors import PipelineError
from .features import Feature, default_features, order_measure, own_column
from .progress import step
from .rendering import render
from .schema import TableDoc
from .stops import raise_if_asked

PythonRun = Callable[..., dict[str, pd.DataFrame]]


@dataclass(frozen=True)
class Model:
    name: str
    inputs: frozenset[str]
    outputs: tuple[str, ...]
    kind: str  # view, table, seed, macro or python
    sql: str | None = None
    run: PythonRun | None = None
    path: Path | None = None  # a seed's CSV
    names: frozenset[str] = frozenset()  # the names its SQL gives expressions, in any CTE
    # built as late as the models that read it allow: a Python model whose work a worker does
    # meanwhile (`build_order`)
    late: bool = False


@dataclass(frozen=True)
class SingularTest:
    """`sql/tests/<name>.sql`: a select returning offending rows."""

    name: str
    inputs: frozenset[str]
    sql: str


# A macro file: `create [or replace] macro name(arguments) as (body)`
MACRO = re.compile(r"^create\s+(?:or\s+replace\s+)?macro\s+\w+\s*\(.*?\)\s*as\s*(\(.*\))\s*;?\s*\Z", re.S | re.I | re.M)


class TreeFacts(NamedTuple):
    """What a parse tree holds that the DAG needs: the tables it reads, the functions it calls,
    its CTEs' names and the names it gives expressions (`... as name`, in any of its selects)."""

    tables: frozenset[str]
    functions: frozenset[str]
    ctes: frozenset[str]
    names: frozenset[str]

    def reads(self, macros: Iterable[str] = ()) -> frozenset[str]:
        """Tables and views read, CTE names excluded, and the `macros` called (a call counts
        as reading the macro)."""
        return (self.tables - self.ctes) | (self.functions & frozenset(macros))


def parse_tree(sql: str, parser: duckdb.DuckDBPyConnection) -> TreeFacts:
    """TreeFacts of a select, or of a macro's body, from DuckDB's parse tree
    (json_serialize_sql), which binds nothing, so neither the tables nor the macros need
    exist. `parser`: a connection to parse with (opening one costs more than a parse). The
    tree is read as it is decoded, each object once."""
    body = MACRO.search(sql)
    text = f"select {body.group(1)}" if body else sql
    tables: set[str] = set()
    functions: set[str] = set()
    ctes: set[str] = set()
    names: set[str] = set()

    def note(node: dict) -> dict:
        if node.get("type") == "BASE_TABLE":
            tables.add(node["table_name"])
        if isinstance(node.get("function_name"), str):
            functions.add(node["function_name"])
        if node.get("alias") and "class" in node:
            names.add(node["alias"])
        if isinstance(node.get("cte_map"), dict):
            ctes.update(entry["key"] for entry in node["cte_map"].get("map", []))
        return node

    tree = json.loads(first_row(parser, "select json_serialize_sql($sql)", {"sql": text})[0], object_hook=note)
    if tree["error"]:
        raise PipelineError(f"cannot parse: {tree['error_message']}")
    return TreeFacts(frozenset(tables), frozenset(functions), frozenset(ctes), frozenset(names))


def tables_read(
    sql: str, macros: Iterable[str] = (), parser: duckdb.DuckDBPyConnection | None = None
) -> frozenset[str]:
    """Tables and views a select (or a macro's body) reads, and the `macros` it calls."""
    if parser is None:
        with duckdb.connect() as parser:
            return tables_read(sql, macros, parser)
    return parse_tree(sql, parser).reads(macros)


# The models a template is rendered for to find what it reads: the classic model, one of a
# column of the input's own, and the orders' measures of an orders file alone and joined
RFM_STAND_IN = tuple(
    order_measure(column, position, transform)
    for position, (column, transform) in enumerate(
        (("days_since_last_order", "none"), ("order_count", "none"), ("total_spend", "log")), 1
    )
)
STAND_INS = (
    (default_features(), "none"),
    ((own_column("amount", 1, "log", "amount"),), "none"),
    (RFM_STAND_IN, "alone"),
    (RFM_STAND_IN, "joined"),
)


class SqlFacts(NamedTuple):
    reads: frozenset[str]  # the tables, views and macros it reads
    names: frozenset[str]  # the names it gives expressions, in any CTE


def model_facts(path: Path, sql: str, macros: tuple[str, ...]) -> SqlFacts:
    """What a model's file reads and the names it gives: its branches may differ for the
    classic model, others and an orders file's, so each stands in (a file without branches is
    parsed once)."""
    try:
        return sql_facts(sql, macros)
    except PipelineError as e:
        raise PipelineError(f"{path}: {e}") from None


@cache
def sql_facts(sql: str, macros: tuple[str, ...]) -> SqlFacts:
    """`model_facts` of a file's text: remembered, so a process that builds again (a notebook,
    a service, the tests) parses each file once, not on every build."""
    texts = {render(sql, model, orders) for model, orders in STAND_INS}
    with PARSER_LOCK:
        trees = [parse_tree(text, parser()) for text in texts]
    return SqlFacts(
        frozenset().union(*(tree.reads(macros) for tree in trees)),
        frozenset().union(*(tree.names for tree in trees)),
    )


PARSER_LOCK = threading.Lock()  # builds in threads of one process parse one at a time


@cache
def parser() -> duckdb.DuckDBPyConnection:
    """An empty in-memory database to parse with, one per process: opening one costs more than
    parsing every model."""
    return duckdb.connect()


def discover(sql_dir: Path, docs: dict[str, TableDoc]) -> tuple[list[Model], list[SingularTest]]:
    models = [Model(path.stem, frozenset(), (path.stem,), "seed", path=path) for path in sorted(sql_dir.rglob("*.csv"))]
    tests = []
    macros = tuple(path.stem for path in sorted(sql_dir.glob("macros/*.sql")))
    for name in macros:
        if name not in docs:
            raise PipelineError(
                f"{sql_dir / 'macros' / name}.sql: document the macro and its arguments in a YAML `macros:` entry"
            )
    for path in sorted(sql_dir.rglob("*.sql")):
        sql = path.read_text()
        (inputs, names), folder = model_facts(path, sql, macros), path.parent.name
        if folder == "tests":
            tests.append(SingularTest(path.stem, inputs, sql))
        elif folder == "macros":
            models.append(Model(path.stem, inputs - {path.stem}, (path.stem,), "macro", sql=sql))
        else:
            kind = docs[path.stem].materialized if path.stem in docs else "view"
            models.append(Model(path.stem, inputs, (path.stem,), kind, sql=sql, names=names))
    return models, tests


def record_names(models: Sequence[Model], docs: dict[str, TableDoc], source: str = "raw_customers") -> frozenset[str]:
    """The names the warehouse gives columns of its own beside the input's, in the tables with
    a row per input record (those built from `source` that declare a line_number): their
    declared columns and the names their SQL gives in any step, and the source's own columns.
    An input column of one of these names travels renamed."""
    reached = {source}
    while more := {m.name for m in models if m.inputs & reached and not reached.issuperset(m.outputs)}:
        reached |= {table for m in models if m.name in more for table in m.outputs}
    records = [m for m in models if m.name in reached and m.name in docs and "line_number" in docs[m.name].columns]
    return frozenset(docs[source].columns).union(*(m.names | docs[m.name].columns.keys() for m in records))


def python_model(name: str, inputs: Iterable[str], outputs: Iterable[str], run: PythonRun, late: bool = False) -> Model:
    return Model(name, frozenset(inputs), tuple(outputs), "python", run=run, late=late)


def build_order(models: list[Model], sources: Iterable[str]) -> list[Model]:
    producer = {table: model for model in models for table in model.outputs}
    graph = {}
    for model in models:
        unknown = model.inputs - producer.keys() - set(sources)
        if unknown:
            raise PipelineError(f"model {model.name} reads unknown table(s): {', '.join(sorted(unknown))}")
        graph[model.name] = {producer[t].name for t in model.inputs if t in producer}
    by_name = {model.name: model for model in models}
    try:
        ordered = [by_name[name] for name in TopologicalSorter(graph).static_order()]
    except CycleError as e:
        raise PipelineError(f"models read each other in a cycle: {' -> '.join(e.args[1])}") from None
    for model in [m for m in ordered if m.late]:
        # just before the first model that reads it: what it reads is built earlier still
        ordered.remove(model)
        readers = (i for i, later in enumerate(ordered) if later.inputs & set(model.outputs))
        ordered.insert(next(readers, len(ordered)), model)
    return ordered


def materialize(
    con: duckdb.DuckDBPyConnection, model: Model, context: object, features: Sequence[Feature], orders: str = "none"
) -> None:
    if model.kind == "python" and model.run is not None:
        frames = model.run(con, context)
        for table in model.outputs:
            con.from_df(frames[table]).create(table)
    elif model.kind in ("view", "table") and model.sql is not None:
        con.execute(
            f"create or replace {model.kind} {quote_ident(model.name)} as\n{render(model.sql, features, orders)}"
        )
    elif model.kind == "seed":
        con.execute(
            f"create or replace table {quote_ident(model.name)} as "
            # a quoted empty field ("") is an empty text, an unquoted one a null
            "select * from read_csv($path, header = true, all_varchar = true, allow_quoted_nulls = false)",
            {"path": str(model.path)},
        )
    elif model.kind == "macro" and model.sql is not None:
        con.execute(render(model.sql, features, orders))
    else:
        raise PipelineError(f"model {model.name}: unknown materialization {model.kind!r}")


def row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return first_row(con, f"select count(*) from {quote_ident(table)}")[0]


def run_table_tests(con: duckdb.DuckDBPyConnection, docs: dict[str, TableDoc], table: str) -> int:
    """The data tests declared on one table's columns; returns how many passed."""
    tests = docs[table].tests if table in docs else ()
    data_tests.run_column_tests(con, tests)
    return len(tests)


def build_model(con: duckdb.DuckDBPyConnection, model: Model, docs: dict[str, TableDoc], context: object = None) -> int:
    """One model on its own, after `run_models` built what it reads: materialized as there, then
    its data tests; returns how many passed."""
    orders = first_row(con, "select role from raw_order_input")[0]
    materialize(con, model, context, model_features(con), orders)
    return sum(run_table_tests(con, docs, table) for table in model.outputs)


def run_models(
    con: duckdb.DuckDBPyConnection,
    ordered: list[Model],
    singular_tests: list[SingularTest],
    docs: dict[str, TableDoc],
    sources: Iterable[str],
    context: object,
    log: Callable[[str], None] = print,
    after: Iterable[tuple[str, Callable[[duckdb.DuckDBPyConnection], None]]] = (),
) -> int:
    """Build every model in order, each followed by its data tests, then by what `after` asks
    once that table is built and tested: (table, function of the connection) pairs, gates
    that may stop the build or work that can start early.

    Returns the number of data tests that passed; the first failure raises.
    """
    after = list(after)
    unknown = {table for table, _ in after} - {table for model in ordered for table in model.outputs}
    if unknown:
        raise PipelineError(f"no model builds {', '.join(sorted(unknown))}, which a step waits for")
    built, pending = set(sources), list(singular_tests)
    features = model_features(con) if "model_features" in built else default_features()
    orders = first_row(con, "select role from raw_order_input")[0] if "raw_order_input" in built else "none"
    passed = sum(run_table_tests(con, docs, source) for source in built)
    width = max(len(model.name) for model in ordered) + 3
    for number, model in enumerate(ordered, start=1):
        raise_if_asked()
        with step(f"{number:>3}/{len(ordered)} {model.kind:<6} {model.name:.<{width}}", log) as current:
            materialize(con, model, context, features, orders)
            built.update(model.outputs)
            for table in model.outputs:
                passed += run_table_tests(con, docs, table)
                for waited_for, then in after:
                    if waited_for == table:
                        then(con)
            for test in [t for t in pending if t.inputs <= built]:
                data_tests.check(con, test.name, render(test.sql, features, orders))
                pending.remove(test)
                passed += 1
            if model.kind in ("macro", "view"):
                current.summary = "created"  # counting a view's rows would run it
            elif len(model.outputs) == 1:
                current.summary = f"{row_count(con, model.name):,} rows"
            else:
                current.summary = ", ".join(f"{t} {row_count(con, t):,}" for t in model.outputs)
    if pending:
        names = ", ".join(t.name for t in pending)
        raise PipelineError(f"data test(s) {names} read tables no model builds")
    return passed
