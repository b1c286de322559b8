"""Put the input file, untouched, into the raw tables `raw_customers` and `raw_columns`.

Every line is kept as text with its line number, so staging can type and validate each row
and keep the rejected ones with a reason. `raw_customers` is temporary (for a CSV, a view that
splits the lines of the temporary table `raw_lines`): the build reads it, the published
warehouse keeps the typed rows and the rejected lines' text instead of a second copy of the
whole file. Only the header is read in Python (to choose the delimiter and map the columns);
DuckDB reads the rest. The path and every value travel as query parameters, never pasted
into SQL.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .config import DELIMITERS, INPUT_COLUMNS
from .errors import InputError

# One text column per line: a record separator as delimiter and no quoting keep lines whole;
# WITH ORDINALITY numbers them (blank lines stay as NULL rows, so numbers are line numbers).
# Only the data lines are stored; the fields are split where staging reads them (the view
# below), which is cheaper than storing them and reading them back.
LOAD_LINES = """
create temp table raw_lines as
with lines as (
    select ordinality as line_number, raw_line
    from read_csv(
        $path, columns = {'raw_line': 'varchar'}, delim = chr(30), quote = '', escape = '',
        header = false, auto_detect = false
    ) with ordinality
)

select line_number, raw_line
from lines
-- blank lines are dropped; only a line starting with a space needs trimming to tell
where line_number > 1 and if(raw_line ^@ ' ', trim(raw_line) <> '', raw_line <> '')
"""

# A view cannot take query parameters: the dialect travels as session variables instead,
# which DuckDB reads as constants when the view is used.
SPLIT_LINES = """
create temp view raw_customers as
with unquoted as (
    select
        line_number,
        raw_line,
        -- a quoted field may hold the delimiter: split those few lines with a CSV regex
        case
            when contains(raw_line, '"') then list_transform(
                regexp_extract_all(
                    raw_line || getvariable('raw_delimiter'), getvariable('raw_field_pattern'), 1
                ),
                lambda f: if(f ^@ '"' and f[-1:] = '"' and len(f) >= 2, replace(f[2:-2], '""', '"'), f)
            )
            else string_split(raw_line, getvariable('raw_delimiter'))
        end as fields
    from raw_lines
)

select
    line_number,
    raw_line,
    len(fields) as fields_found,
    getvariable('raw_fields_expected')::integer as fields_expected,
    fields[getvariable('raw_customer_id')] as customer_id,
    fields[getvariable('raw_gender')] as gender,
    fields[getvariable('raw_age')] as age,
    fields[getvariable('raw_annual_income_k')] as annual_income_k,
    fields[getvariable('raw_spending_score')] as spending_score
from unquoted
"""


@dataclass(frozen=True)
class Header:
    delimiter: str
    names: tuple[str, ...]  # as written in the file
    positions: dict[str, int]  # warehouse column -> 1-based position in the file


def read_header(path: Path) -> Header:
    """Check the file is usable text with the required columns; say precisely why not."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        with path.open("rb") as f:
            head = f.read(1 << 16)
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None
    if not head.strip():
        raise InputError(f"{path}: the file is empty")
    if b"\0" in head:
        raise InputError(f"{path}: not a text file (it contains NUL bytes)")
    first_line = head.splitlines()[0]
    try:
        text = first_line.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: line 1: the header is not UTF-8 text") from None
    delimiter = max(DELIMITERS, key=text.count)  # ties go to the earlier, ',' first
    names = tuple(next(csv.reader([text], delimiter=delimiter)))
    return Header(delimiter, names, map_columns(path, names))


def map_columns(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    found = {name.strip().lower(): i for i, name in enumerate(names, start=1)}
    positions, missing = {}, []
    for column, aliases in INPUT_COLUMNS.items():
        hits = [found[a.lower()] for a in aliases if a.lower() in found]
        if len(hits) > 1:
            raise InputError(f"{path}: line 1: the header names {column} more than once")
        if hits:
            positions[column] = hits[0]
        else:
            missing.append(aliases[0])
    if missing:
        raise InputError(
            f"{path}: line 1: missing column(s) {', '.join(missing)} "
            f"(the header has: {', '.join(names)})"
        )
    return positions


def field_pattern(delimiter: str) -> str:
    """RFC 4180 fields: a quoted field (with "" for a quote), or anything up to the delimiter."""
    return f'("(?:[^"]|"")*"|[^{delimiter}]*)[{delimiter}]'


def load_raw(con: duckdb.DuckDBPyConnection, path: Path) -> Header:
    """Create `raw_customers` (one row per non-blank data line, or Parquet record) and
    `raw_columns`."""
    header = load_parquet(con, path) if path.suffix.lower() == ".parquet" else load_csv(con, path)
    con.execute(
        "create table raw_columns as "
        "select unnest($positions) as position, unnest($columns) as column_name, "
        "unnest($names) as source_name order by position",
        {
            "positions": list(header.positions.values()),
            "columns": list(header.positions),
            "names": [header.names[i - 1].strip() for i in header.positions.values()],
        },
    )
    return header


def load_csv(con: duckdb.DuckDBPyConnection, path: Path) -> Header:
    header = read_header(path)
    dialect = {
        "delimiter": header.delimiter,
        "field_pattern": field_pattern(header.delimiter),
        "fields_expected": len(header.names),
        **header.positions,
    }
    try:
        con.execute(LOAD_LINES, {"path": str(path)})
        for name, value in dialect.items():
            con.execute(f"set variable raw_{name} = $value", {"value": value})
        con.execute(SPLIT_LINES)
    except duckdb.Error as e:
        if "unicode" in str(e).lower() or "utf-8" in str(e).lower():
            raise InputError(f"{path}: {first_undecodable_line(path)}") from None
        raise InputError(f"{path}: cannot be read as CSV ({str(e).splitlines()[0]})") from None
    return header


def load_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Header:
    """A Parquet file's records as text, numbered from 1, so staging treats them as CSV lines.
    Built with DuckDB's relational API: the file's column names never enter SQL text."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        records = con.read_parquet(str(path), file_row_number=True)
    except duckdb.Error as e:
        raise InputError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0]})") from None
    names = tuple(name for name in records.columns if name != "file_row_number")
    positions = map_columns(path, names)
    text = [as_text(name, str(kind)) for name, kind in zip(records.columns, records.types) if name in names]
    as_line = [duckdb.CoalesceOperator(field, duckdb.ConstantExpression("")) for field in text]
    count = duckdb.ConstantExpression(len(names)).cast(duckdb.sqltype("integer"))
    records.select(
        (duckdb.ColumnExpression("file_row_number") + 1).alias("line_number"),
        duckdb.FunctionExpression("concat_ws", duckdb.ConstantExpression(","), *as_line).alias("raw_line"),
        count.alias("fields_found"),
        count.alias("fields_expected"),
        *[text[i - 1].alias(column) for column, i in positions.items()],
    ).create_view("parquet_records")
    try:
        con.execute("create temp table raw_customers as select * from parquet_records")
    except duckdb.Error as e:
        raise InputError(f"{path}: cannot be read as Parquet ({str(e).splitlines()[0]})") from None
    finally:
        con.execute("drop view if exists parquet_records")
    return Header(",", names, positions)


def as_text(name: str, kind: str) -> duckdb.Expression:
    """A Parquet value as the text a CSV would hold: whole numbers stored as floating point
    (as pandas writes integer columns with gaps, or as decimals) lose their '.0'."""
    column = duckdb.ColumnExpression(name)
    text = column.cast(duckdb.sqltype("varchar"))
    if kind.upper().startswith(("FLOAT", "DOUBLE", "DECIMAL")):
        whole = duckdb.FunctionExpression("trunc", column) == column
        return duckdb.CaseExpression(whole, column.cast(duckdb.sqltype("bigint")).cast(duckdb.sqltype("varchar"))).otherwise(text)
    return text


def first_undecodable_line(path: Path) -> str:
    """Only on the error path: find which line DuckDB could not read as UTF-8."""
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as e:
                return f"line {number}: not UTF-8 text (byte 0x{line[e.start]:02x} at column {e.start + 1})"
    return "the file could not be read as UTF-8 CSV text"
