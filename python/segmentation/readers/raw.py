"""The tables an input is read into, whatever its format: their names (`RawNames`), the
records table every reader fills (`RECORDS_TABLE`: line_number, raw_line, fields, line_problem)
and the parts table noting which line numbers each part file holds (`record_part`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import duckdb
import pandas as pd

from ..db import first_row, quote_ident
from ..text import utf8_text
from . import input_file

MAX_COLUMNS = 2_000  # a header of more columns is refused
# A title, blank lines or a tool's note (PowerShell's `#TYPE ...`) may stand above the header:
# it is the first of this many non-blank lines whose names name the columns a build needs (a CRM
# report's title block, its filters and totals, runs to a dozen lines or more).
HEADER_SEARCH_LINES = 50
# Records go to DuckDB in batches of at most this many, or of this much text (long lines).
BATCH = 100_000
BATCH_CHARS = 64 << 20

PARTS_TABLE = "create temp table {parts} (file_name varchar, first_line bigint, last_line bigint, records bigint)"
RECORDS_TABLE = (
    "create temp table {records} (line_number bigint, raw_line varchar, fields varchar[], line_problem varchar)"
)
# While this session variable holds a step, the records views pass only the lines whose hash
# is a multiple of it: how the notation sample is read (`number_formats.create_notation_sample`,
# for one input at a time, so the customers' and the orders' views share it). The test stands
# in the view of the stored lines (`lines.create_raw_lines`), below the views that split them
# (CSV, JSON): written around those, DuckDB keeps it above their projections, which then split
# every line of the file; and in the view naming the fields, for records a reader stored as a
# table. Unset, it folds away.
SAMPLE_STEP = "notation_sample_step"


def in_sample(line: str) -> str:
    """The condition that the line `line` (a column) is among the sampled ones (`SAMPLE_STEP`)."""
    return f"(getvariable('{SAMPLE_STEP}') is null or hash({line}) % getvariable('{SAMPLE_STEP}') = 0)"


@dataclass(frozen=True)
class RawNames:
    """The temporary tables, views and session variables one input is read into, named by a
    prefix: the customer file's `raw_records`, `raw_parts`, `raw_lines`, ...; the orders file's
    `raw_order_records`, `raw_order_parts`, `raw_order_lines`, ... The readers take them, so
    both files go through the same readers, checks and line numbering."""

    prefix: str
    named: str  # the view naming the records' fields: raw_customers, raw_orders
    folder: str  # the subfolder of the build's work folder for the copies DuckDB reads

    @property
    def records(self) -> str:
        return f"{self.prefix}_records"

    @property
    def parts(self) -> str:
        return f"{self.prefix}_parts"

    @property
    def lines(self) -> str:
        return f"{self.prefix}_lines"

    @property
    def line_problems(self) -> str:
        return f"{self.prefix}_line_problems"

    def part(self, number: int) -> str:
        """The table of a part file's lines."""
        return f"{self.prefix}_part_{number}_lines"

    def variable(self, name: str) -> str:
        """A session variable holding part of the dialect (a view takes no parameters)."""
        return f"{self.prefix}_{name}"


CUSTOMER_RAW = RawNames("raw", "raw_customers", "customers")
ORDER_RAW = RawNames("raw_order", "raw_orders", "orders")


class Header(NamedTuple):
    """An input's column names and where they are, as a reader found them."""

    names: tuple[str, ...]
    described: str  # the format, for `raw_input.input_format`: 'CSV (utf-8, LF line ends)'
    line: int | None = 1  # a workbook's row; None for a JSON file's keys
    skipped: int = 0  # non-blank lines above the header: a title
    searched: int = 0  # non-blank lines read when none named the columns a build needs: the first stands
    warnings: tuple[str, ...] = ()


def record_part(
    con: duckdb.DuckDBPyConnection,
    facts: input_file.FileFacts,
    offset: int,
    last: int | None,
    records: int,
    raw: RawNames = CUSTOMER_RAW,
    name: str | None = None,
) -> int:
    """Note which lines came from this part (`last`: its last record's line number, None
    when it has none; `name`: the part's, its file's name by default) and how many records;
    returns the next part's offset."""
    last = offset + 1 if last is None else last
    con.execute(
        f"insert into {raw.parts} values ($name, $first, $last, $records)",
        {"name": utf8_text(name or facts.path.name), "first": offset + 1, "last": last, "records": records},
    )
    return last


def records_after(con: duckdb.DuckDBPyConnection, offset: int, raw: RawNames = CUSTOMER_RAW) -> tuple[int | None, int]:
    """The last line number and the number of the records in `<prefix>_records` after `offset`."""
    return first_row(
        con, f"select max(line_number), count(*) from {raw.records} where line_number > $offset", {"offset": offset}
    )


def load_records(con: duckdb.DuckDBPyConnection, records: Iterable[tuple], raw: RawNames = CUSTOMER_RAW) -> None:
    """Python rows (line_number, raw_line, fields, line_problem) into `<prefix>_records`."""
    columns = ["line_number", "raw_line", "fields", "line_problem"]
    rows = iter(records)
    while batch := list(batched(rows)):
        frame = pd.DataFrame(batch, columns=columns)  # noqa: F841 (read by the query below)
        con.execute(
            f"insert into {raw.records} "
            "select line_number, raw_line, fields::varchar[], line_problem::varchar from frame"
        )


def batched(rows: Iterator[tuple]) -> Iterator[tuple]:
    """The next BATCH records of `rows`, fewer when their text reaches BATCH_CHARS."""
    chars = 0
    for count, row in enumerate(rows, start=1):
        yield row
        chars += len(row[1])
        if count == BATCH or chars >= BATCH_CHARS:
            return


def last_filled(fields: list[str]) -> int:
    """How many fields there are up to the last that is not blank."""
    return max((i for i, field in enumerate(fields, 1) if field.strip()), default=0)


def release_records(con: duckdb.DuckDBPyConnection, raw: RawNames = CUSTOMER_RAW) -> None:
    """Drop an input's text once staging has typed it and kept its rejected lines: it is the
    build's largest temporary data, and every later step has the memory it held."""
    temporary = con.execute(
        "select 'view', view_name from duckdb_views() "
        "where temporary and view_name in ($named, $records, $lines) "
        "union all select 'table', table_name from duckdb_tables() where temporary and "
        "(table_name in ($records, $problems) or regexp_full_match(table_name, $parts))",
        {
            "named": raw.named,
            "records": raw.records,
            "lines": raw.lines,
            "problems": raw.line_problems,
            "parts": f"{raw.prefix}_part_[0-9]+_lines",
        },
    ).fetchall()
    for kind, name in temporary:
        con.execute(f"drop {kind} if exists {quote_ident(name)}")
