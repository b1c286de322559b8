"""Data tests, as dbt runs them: a query that returns the offending rows; none means pass.

Values from the YAML travel as query parameters; names are quoted identifiers.
"""

from __future__ import annotations

from typing import Any

import duckdb

from .db import quote_ident
from .errors import DataTestError
from .schema import DataTest

SHOWN_ROWS = 5


def query_for(test: DataTest) -> tuple[str, dict[str, Any]]:
    table, column = quote_ident(test.table), quote_ident(test.column)
    args = test.args
    match test.kind:
        case "not_null":
            return f"select * from {table} where {column} is null", {}
        case "unique":
            return (
                f"select {column}, count(*) as occurrences from {table} "
                f"where {column} is not null group by all having count(*) > 1",
                {},
            )
        case "accepted_values":
            return (
                f"select * from {table} where {column} is not null and not list_contains($values, {column})",
                {"values": list(args["values"])},
            )
        case "accepted_range":
            conditions, params = [], {}
            if "min_value" in args:
                conditions.append(f"{column} < $min_value")
                params["min_value"] = args["min_value"]
            if "max_value" in args:
                conditions.append(f"{column} > $max_value")
                params["max_value"] = args["max_value"]
            return f"select * from {table} where {' or '.join(conditions)}", params
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


def run_column_test(con: duckdb.DuckDBPyConnection, test: DataTest) -> None:
    sql, params = query_for(test)
    check(con, test.name, sql, params)
