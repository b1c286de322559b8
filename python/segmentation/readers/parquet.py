"""A Parquet file into the raw tables: DuckDB reads it, each value as the text a CSV would hold;
a hive-partitioned folder's `key=value` folders are columns too (`folder`)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ..db import plain_digits, quote_ident
from ..duckdb_errors import raise_if_interrupt
from ..errors import InputError
from . import input_file
from .folder import partition_values
from .raw import CUSTOMER_RAW, RECORDS_TABLE, Header, RawNames, record_part, records_after


def load_parquet(
    con: duckdb.DuckDBPyConnection,
    parts: tuple[input_file.FileFacts, ...],
    work: Path,
    raw: RawNames = CUSTOMER_RAW,
    root: Path | None = None,
) -> Header:
    """Every part's records as text, numbered from 1 on from the previous part's; in a folder
    partitioned hive-style (`root`), each part's `key=value` folders as columns after its own
    (a column the file holds itself keeps the file's value). Built with DuckDB's relational
    API; the file's column names enter it only as quoted identifiers."""
    con.execute(RECORDS_TABLE.format(records=raw.records))
    names: tuple[str, ...] = ()
    offset = 0
    for number, facts in enumerate(parts):
        path, link = facts.path, work / f"part-{number:05d}.parquet"
        input_file.readable_copy(facts, link)
        try:
            records = con.read_parquet(str(link), file_row_number=True)
            own = [name for name in records.columns if name != "file_row_number"]
            partitions = [(k, v) for k, v in partition_values(root, path) if k not in own] if root else []
            found = (*own, *(key for key, _ in partitions))
            if number and found != names:
                raise InputError(f"{path}: its columns differ from those of {parts[0].path.name}")
            names = found
            text = [as_text(name, str(kind)) for name, kind in zip(records.columns, records.types) if name in own]
            text += [duckdb.ConstantExpression(value).cast(duckdb.sqltype("varchar")) for _, value in partitions]
            as_line = [duckdb.CoalesceOperator(field, duckdb.ConstantExpression("")) for field in text]
            records.select(
                (duckdb.ColumnExpression("file_row_number") + 1 + offset).alias("line_number"),
                duckdb.FunctionExpression("concat_ws", duckdb.ConstantExpression(","), *as_line).alias("raw_line"),
                duckdb.FunctionExpression("list_value", *text).alias("fields"),
                duckdb.ConstantExpression(None).cast(duckdb.sqltype("varchar")).alias("line_problem"),
            ).create_view("parquet_records")
            con.execute(f"insert into {raw.records} select * from parquet_records")
        except duckdb.Error as e:
            raise_if_interrupt(e)
            raise InputError(f"{path}: cannot be read as Parquet ({str(e).splitlines()[0]})") from None
        finally:
            con.execute("drop view if exists parquet_records")
        shown = str(path.relative_to(root)) if root else path.name  # a partitioned folder's: with its folders
        offset = record_part(con, facts, offset, *records_after(con, offset, raw), raw, shown)
    return Header(names, "Parquet")


def as_text(name: str, kind: str) -> duckdb.Expression:
    """A Parquet value as the text a CSV would hold: whole numbers stored as floating point
    (as pandas writes integer columns with gaps) lose their '.0', the others are written in
    digits (`plain_digits`); NaN and infinity stay text."""
    column = duckdb.SQLExpression(quote_ident(name))  # a quoted name: even `*` is a column
    text = column.cast(duckdb.sqltype("varchar"))
    if kind.upper().startswith(("FLOAT", "DOUBLE", "DECIMAL")):
        finite = duckdb.FunctionExpression("isfinite", column.cast(duckdb.sqltype("double")))
        small = duckdb.FunctionExpression("abs", column) < duckdb.ConstantExpression(1e15)
        whole = duckdb.FunctionExpression("trunc", column) == column
        as_integer = column.cast(duckdb.sqltype("bigint")).cast(duckdb.sqltype("varchar"))
        digits = duckdb.SQLExpression(plain_digits(f"{quote_ident(name)}::varchar"))
        return duckdb.CaseExpression(finite & small & whole, as_integer).otherwise(digits)
    return text
