"""Data tests, as dbt runs them: a query that returns the offending rows; none means pass.

Values from the YAML travel as query parameters; names are quoted identifiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from .db import quote_ident
from .errors import DataTestError
from .schema import DataTest

SHOWN_ROWS = 5
# A relationships test whose parent has at most this many rows is checked in the table's shared
# scan against the parent's values (a list), not by an anti join per test: at 10M rows the
# join costs about half a second, the list a few hundredths.
LISTED_PARENT_ROWS = 10_000


def offending_rows(test: DataTest, suffix: str = "") -> tuple[str, dict[str, Any]] | None:
    """A row-level test as the condition an offending row meets, with its parameters (named
    with `suffix`, so several tests can share a query); None for a test that compares rows."""
    column, args = quote_ident(test.column), test.args
    match test.kind:
        case "not_null":
            return f"{column} is null", {}
        case "accepted_values":
            return f"{column} is not null and not list_contains($values{suffix}, {column})", {
                f"values{suffix}": list(args["values"])
            }
        case "accepted_range":
            conditions, params = [], {}
            for bound, compare in (("min_value", "<"), ("max_value", ">")):
                if bound in args:
                    conditions.append(f"{column} {compare} ${bound}{suffix}")
                    params[f"{bound}{suffix}"] = args[bound]
            return " or ".join(conditions), params
    return None


def query_for(test: DataTest) -> tuple[str, dict[str, Any]]:
    table, column = quote_ident(test.table), quote_ident(test.column)
    args = test.args
    if (row_level := offending_rows(test)) is not None:
        condition, params = row_level
        return f"select * from {table} where {condition}", params
    match test.kind:
        case "unique":
            return (
                f"select {column}, count(*) as occurrences from {table} "
                f"where {column} is not null group by all having count(*) > 1",
                {},
            )
        case "relationships":
            parent, field = quote_ident(args["to"]), quote_ident(args["field"])
            return (
                f"select child.* from {table} as child anti join {parent} as parent "
                f"on child.{column} = parent.{field} where child.{column} is not null",
                {},
            )
    raise ValueError(f"unknown data test {test.kind!r} on {test.table}.{test.column}")


def check(con: duckdb.DuckDBPyConnection, name: str, sql: str, params: dict[str, Any] | None = None) -> None:
    """Run one test query; raise with the test's name and a few offending rows if any."""
    # a relation, not SQL text around the test's: that may end in a comment
    relation = con.sql(sql, params=params or None)
    failures = relation.limit(SHOWN_ROWS).fetchall()
    if failures:
        total = relation.aggregate("count(*)").fetchall()[0][0]
        shown = "; ".join(str(row) for row in failures)
        raise DataTestError(f"data test {name} failed: {total} offending row(s), e.g. {shown}")


def parent_values(con: duckdb.DuckDBPyConnection, test: DataTest, suffix: str) -> tuple[str, dict[str, Any]] | None:
    """A relationships test as a row-level condition, its parent's values a list parameter,
    when the parent is small (LISTED_PARENT_ROWS); None otherwise."""
    parent, field = quote_ident(test.args["to"]), quote_ident(test.args["field"])
    if con.execute(f"select count(*) from {parent}").fetchall()[0][0] > LISTED_PARENT_ROWS:
        return None
    found = con.execute(f"select distinct {field} from {parent} where {field} is not null").fetchall()
    values = [value for (value,) in found]
    column = quote_ident(test.column)
    return f"{column} is not null and not list_contains($parent{suffix}, {column})", {f"parent{suffix}": values}


def run_column_tests(con: duckdb.DuckDBPyConnection, tests: Sequence[DataTest]) -> None:
    """The tests declared on one table. Its row-level tests (not_null, accepted_values,
    accepted_range, relationships to a small parent) share one scan counting each one's
    offending rows; a test that finds any is run on its own, for the rows to show. Tests that
    compare rows run one by one."""
    row_level = [
        (
            test,
            offending_rows(test, f"_{i}")
            or (parent_values(con, test, f"_{i}") if test.kind == "relationships" else None),
        )
        for i, test in enumerate(tests)
    ]
    counted = [(test, found) for test, found in row_level if found is not None]
    if counted:
        table = quote_ident(counted[0][0].table)
        counts = ", ".join(f"count(*) filter (where {condition})" for _, (condition, _) in counted)
        params = {name: value for _, (_, found) in counted for name, value in found.items()}
        offending = con.execute(f"select {counts} from {table}", params).fetchall()[0]
        for (test, _), rows in zip(counted, offending):
            if rows:
                check(con, test.name, *query_for(test))
    for test, found in row_level:
        if found is None:
            check(con, test.name, *query_for(test))
