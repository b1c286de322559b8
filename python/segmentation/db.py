"""Small helpers for talking to DuckDB safely."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from .features import COLUMNS, TABLE, Feature, declaration, from_rows


def wal_path(database: Path) -> Path:
    """DuckDB's write-ahead log beside a database file."""
    return database.with_name(database.name + ".wal")


# e.g., in the messages that refuse another
STORAGE_VERSIONS = "v1.0.0, v1.1.0, v1.2.0, latest"


def is_storage_version(text: str) -> bool:
    """Whether DuckDB knows `text` as a storage_compatibility_version (it says so on connecting)."""
    try:
        duckdb.connect(":memory:", config={"storage_compatibility_version": text}).close()
    except duckdb.Error:
        return False
    return True


def is_duckdb_file(path: Path) -> bool:
    """Whether `path` starts as a DuckDB database does (its magic bytes after a checksum); a
    file too short to tell, or that cannot be read, is left to DuckDB to judge."""
    try:
        with path.open("rb") as file:
            head = file.read(12)
    except OSError:
        return True
    return len(head) < 12 or head[8:] == b"DUCK"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    # For SQL that takes no parameters: COMMENT ON, a rendered model, a stored macro.
    return "'" + text.replace("'", "''") + "'"


def create_model_features(con: duckdb.DuckDBPyConnection, features: tuple[Feature, ...]) -> None:
    """Store the model's declaration as `model_features`."""
    rows = declaration(features)
    con.execute(f"create or replace table model_features ({TABLE})")
    con.executemany(f"insert into model_features values ({', '.join('?' * len(rows[0]))})", rows)


def model_features(con: duckdb.DuckDBPyConnection) -> tuple[Feature, ...]:
    """The build's declaration of its features (`model_features`), in position order."""
    return from_rows(con.execute(f"select {COLUMNS} from model_features order by position").fetchall())


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
        # closed meanwhile (a stop ended the build): nothing to put back
        with suppress(duckdb.ConnectionException):
            con.execute(f"set {name} = $value", {"value": before})


# A hash bound that lets about this many times the wanted rows through: fewer is all but
# impossible, and then the whole table is sorted instead.
SAMPLE_MARGIN = 3


def customer_sample(
    con: duckdb.DuckDBPyConnection, table: str, columns: str, rows: int, seed: int | None = None
) -> pd.DataFrame:
    """The `rows` customers of `table` with the smallest hash of their id (salted with `seed`):
    a sample that depends on which customers there are, never on their row order. Only the
    customers under a hash bound are sorted, not all of them: the same rows come out."""
    key = "hash(customer_id)" if seed is None else "hash(customer_id, $seed)"
    query = f"select {columns} from {quote_ident(table)} where {key} <= $bound order by {key} limit $rows"
    params: dict[str, Any] = {"rows": rows} | ({} if seed is None else {"seed": seed})
    customers = first_row(con, f"select count(*) from {quote_ident(table)}")[0]
    everyone = (1 << 64) - 1
    bound = everyone if customers <= rows else min(everyone, (everyone // customers) * rows * SAMPLE_MARGIN)
    sample = con.execute(query, params | {"bound": bound}).df()
    if len(sample) < min(rows, customers):
        sample = con.execute(query, params | {"bound": everyone}).df()
    return sample


# DuckDB writes a floating-point number under 10^-4 or from 10^16 in size in scientific
# notation, one digit before its point ('8e-06', '-1.5e+16'), which a number written by people
# never is, and which the rules for reading one refuse.
DIGITS = "replace(ltrim(split_part({text}, 'e', 1), '-'), '.', '')"
POINT = "(split_part({text}, 'e', 2)::integer + 1)"  # how many digits stand before the point
SIGN = "if({text} ^@ '-', '-', '')"
PLAIN_DIGITS = f"""case
    when not contains({{text}}, 'e') then {{text}}
    when {POINT} <= 0 then {SIGN} || '0.' || repeat('0', -{POINT}) || {DIGITS}
    when {POINT} >= length({DIGITS}) then {SIGN} || {DIGITS} || repeat('0', {POINT} - length({DIGITS}))
    else {SIGN} || {DIGITS}[:{POINT}] || '.' || {DIGITS}[{POINT} + 1:]
end"""


def plain_digits(text: str) -> str:
    """SQL: `text`, a number as DuckDB writes it, in digits alone: the same digits, the point
    moved by the exponent ('8e-06' as '0.000008', '-1.5e+16' as '-15000000000000000')."""
    return PLAIN_DIGITS.format(text=text)
