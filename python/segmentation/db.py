"""Small helpers for talking to DuckDB safely."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    # Only for statements that take no parameters (COMMENT ON), with the project's own text.
    return "'" + text.replace("'", "''") + "'"


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> tuple:
    """The first row of a query, its result fully consumed so the connection is free again."""
    return con.execute(sql, params or {}).fetchall()[0]


@contextmanager
def setting(con: duckdb.DuckDBPyConnection, name: str, value: object) -> Iterator[None]:
    """Change one DuckDB setting for the statements inside, then put back what it was (RESET
    would give DuckDB's default, not the connection's)."""
    before = first_row(con, "select current_setting($name)", {"name": name})[0]
    con.execute(f"set {name} = $value", {"value": value})
    try:
        yield
    finally:
        con.execute(f"set {name} = $value", {"value": before})
