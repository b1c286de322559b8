"""Put the input, untouched, into the raw tables: `raw_customers`, `raw_columns`, `raw_input`.

Every record is kept as text with its line number (a Parquet or Excel row number, a JSON
array's record number), so staging can type and validate each row and keep the rejected ones
with a reason. Four readers make one shape, `raw_records` (line_number, raw_line, fields,
line_problem):

- a CSV file: DuckDB reads its lines (`input_file` makes sure it can) and a view splits them;
  a file whose quoted fields hold line ends, or whose lines hold a CR, is read by Python's
  RFC 4180 reader instead;
- a JSON file: JSON Lines are read as a CSV file's lines are, a JSON array (or objects written
  over several lines) by DuckDB's JSON reader, one record per object; a view parses each with
  DuckDB's JSON functions: the keys of all records are the columns, and a record that is not an
  object is rejected alone;
- a Parquet file: DuckDB reads it, each value as the text a CSV would hold;
- an Excel workbook: openpyxl reads its first sheet that holds the columns (or `--sheet`).

A CSV or JSON file may be gzip- or zstd-compressed (`input_file`); DuckDB decompresses it.

`raw_customers` then names the fields: the five the warehouse knows, and every other column
under its own name. The path and values travel as query parameters or files in the build's
folder, never pasted into SQL; column names are quoted identifiers.
"""

from __future__ import annotations

import csv
import hashlib
import json
import posixpath
import re
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from itertools import chain, islice
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote
from xml.etree import ElementTree

import duckdb
import pandas as pd

from . import input_file
from .columns import (
    RESERVED,
    RESERVED_WITH_ORDERS,
    ColumnMap,
    NotTheHeader,
    customer_mapping,
    find_feature,
    income_unit,
    map_columns,
    resolve_features,
)
from .config import DELIMITERS, INPUT_COLUMNS, Settings
from .db import create_model_features, first_row, quote_ident, setting
from .errors import InputError
from .features import CLASSIC, Feature, Request
from .text import utf8_text

MAX_COLUMNS = 2_000
MAX_HEADER_CHARS = 16 << 20  # a header is read whole up to this
# A title, blank lines or a tool's note (PowerShell's `#TYPE ...`) may stand above the header:
# it is the first of this many non-blank lines whose names name the columns a build needs (a CRM
# report's title block, its filters and totals, runs to a dozen lines or more).
HEADER_SEARCH_LINES = 50
# Excel's first line naming the delimiter; a spreadsheet that took it for a row saves it back
# padded with delimiters to the width of the table (`sep=;;;;`)
SEP_LINE = re.compile(r"sep=(.)\1*", re.IGNORECASE)
# A quoted field may hold line ends; one still open after this many lines is a stray quote:
# its line is rejected and reading goes on with the next line.
MAX_RECORD_LINES = 100
# Python's reader refuses a field over 131,072 characters; a field may hold a record's lines.
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_LINES * (input_file.MAX_LINE_BYTES + 2)))
# Records go to DuckDB in batches of at most this many, or of this much text (long lines).
BATCH = 100_000
BATCH_CHARS = 64 << 20
# A workbook is XML in a zip: openpyxl reads some parts whole (the shared strings) and parses
# every sheet to its end, keeping a trace of each row. A part larger than this uncompressed,
# or a sheet of more rows than Excel holds, is refused before any is read.
MAX_WORKBOOK_PART_BYTES = 512_000_000
MAX_SHEET_ROWS = 1_048_576
# Above this median an income without a unit in its header is taken to be in dollars.
DOLLARS_MEDIAN = 1_000
# The decimal mark of a file's incomes (see `decimal_mark_patterns`), from its first lines: a
# notation holds for a whole file, and a range of lines is read without reading the others.
MARK_SAMPLE_LINES = 20_000
DECIMAL_MARKS = """
select
    count(*) filter (where regexp_full_match(v, $said_comma)),
    count(*) filter (where regexp_full_match(v, $said_point)),
    count(*) filter (where regexp_full_match(v, $hinted_comma)),
    count(*) filter (where regexp_full_match(v, $hinted_point)),
    min(income) filter (where regexp_full_match(v, $hinted_comma))
from (
    select trim({column}) as income, ltrim(income, $signs) as v
    from {table}
    where line_number <= $lines
)
"""

# One text column per line: a record separator as delimiter and no quoting keep lines whole.
# Each part's lines go into a table of their own, in file order (DuckDB keeps the order of an
# insert), so a line's row id is its line number less one: counting lines as they are read
# (WITH ORDINALITY) would read the file on one core. Blank lines are kept, so the count holds.
PART_TABLE = """
create temp table {table} as
select raw_line
from read_csv(
    $path, columns = {{'raw_line': 'varchar'}}, delim = chr(30), quote = '', escape = '',
    header = false, auto_detect = false, compression = $compression
)
"""

# A JSON document's records as a part's lines: an array's elements, or the objects written one
# after another over several lines ($format 'array' or 'unstructured'); record N is row N.
JSON_PART_TABLE = """
create temp table {table} as
select json::varchar as raw_line
from read_json_objects($path, format = $format, compression = $compression)
"""

# The keys of the JSON records, each where it first appears (record, then place in it)
JSON_KEYS = """
select key
from (
    select line_number, unnest(keys) as key, unnest(range(len(keys))) as position
    from (
        select line_number, json_keys(raw_line) as keys
        from {lines}
        where case when json_valid(raw_line) then json_type(raw_line) = 'OBJECT' else false end
    )
)
group by key
order by min(line_number), arg_min(position, line_number)
"""

# Each JSON record's value of every key (JSON pointers in a session variable, as the view takes
# no parameters) as the text a CSV would hold: a string unquoted, a whole number without '.0'
# (as Parquet's are), nested objects and arrays as JSON text; null or missing as empty. A line
# that is not JSON, or a value other than an object, is rejected by its line_problem.
JSON_RECORDS = """
create temp view {records} as
select
    line_number,
    raw_line,
    if(
        kind = 'OBJECT',
        list_transform(
            json_extract(raw_line, getvariable('{pointers}')),
            lambda v: coalesce(case json_type(v)
                when 'VARCHAR' then v ->> '$'
                when 'NULL' then ''
                when 'DOUBLE' then if(
                    trunc(v::double) = v::double and abs(v::double) < 1e15, v::double::bigint::varchar, v::varchar
                )
                else v::varchar
            end, '')
        ),
        []
    ) as fields,
    coalesce(problem, case
        when kind is null then format('{unit} {{}} is not valid JSON', line_number)
        when kind <> 'OBJECT' then format(
            '{unit} {{}} is {{}}, not a JSON object',
            line_number,
            case kind
                when 'ARRAY' then 'an array' when 'VARCHAR' then 'a string' when 'BOOLEAN' then 'true or false'
                when 'NULL' then 'null' else 'a number'
            end
        )
    end) as line_problem
from (
    select
        raw_lines.line_number,
        raw_lines.raw_line,
        {problem} as problem,
        case when json_valid(raw_lines.raw_line) then json_type(raw_lines.raw_line) end as kind
    from {lines} as raw_lines
    {join}
)
"""

# A part's data lines (those after its header), numbered on from the previous part's; blank
# lines are dropped (only a line starting with a space needs trimming to tell).
PART_LINES = """
select rowid + 1 + {offset} as line_number, raw_line
from {table}
where rowid >= {header_line} and if(raw_line ^@ ' ', trim(raw_line) <> '', raw_line <> '')
"""

# A part's last record's line number and its number of records (a record per line here), and
# how many of its lines hold quotes that do not pair up: a quoted field holding a line end
# starts on one of them. One scan.
PART_FACTS = """
select
    max(line_number),
    count(*),
    count(*) filter (
        where contains(raw_line, '"') and (length(raw_line) - length(replace(raw_line, '"', ''))) % 2 = 1
    )
from ({lines})
"""

# The fields of a CSV line; a quoted field may hold the delimiter: those few lines are split
# with an RFC 4180 regex. A view cannot take query parameters: the dialect travels as session
# variables, which DuckDB reads as constants when the view is used.
SPLIT_LINES = """
create temp view {records} as
select
    raw_lines.line_number,
    raw_lines.raw_line,
    case
        when contains(raw_lines.raw_line, '"') then list_transform(
            regexp_extract_all(raw_lines.raw_line || getvariable('{delimiter}'), getvariable('{pattern}'), 1),
            lambda f: if(f ^@ '"' and f[-1:] = '"' and len(f) >= 2, replace(f[2:-2], '""', '"'), f)
        )
        else string_split(raw_lines.raw_line, getvariable('{delimiter}'))
    end as fields,
    {problem} as line_problem
from {lines} as raw_lines
{join}
"""

PARTS_TABLE = "create temp table {parts} (file_name varchar, first_line bigint, last_line bigint, records bigint)"
RECORDS_TABLE = (
    "create temp table {records} (line_number bigint, raw_line varchar, fields varchar[], line_problem varchar)"
)

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")


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


def files_sha256(parts: tuple[input_file.FileFacts, ...], path: Path) -> str | None:
    """The SHA-256 of the file at `path`, or of a folder's one part file; for a folder of more,
    or a partitioned one, that of its parts' paths within it (a partitioned folder's `key=value`
    folders are its data too) and their SHA-256s; None for no file."""
    if not parts:
        return None
    if len(parts) == 1 and path in (parts[0].path, parts[0].path.parent):
        return parts[0].sha256
    listing = "".join(f"{facts.path.relative_to(path).as_posix()} {facts.sha256}\n" for facts in parts)
    return hashlib.sha256(listing.encode()).hexdigest()


@dataclass(frozen=True)
class LoadedOrders:
    """The orders file as `order_input` read it."""

    parts: tuple[input_file.FileFacts, ...]
    sha256: str | None  # `files_sha256`
    columns: ColumnMap
    currency: str | None  # the currency of its amounts, when it has a currency column
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class LoadedInput:
    parts: tuple[input_file.FileFacts, ...]  # the file, or a folder's part files in name order; none with orders alone
    sha256: str | None  # the customer file's (`files_sha256`); None with orders alone
    columns: ColumnMap
    income_unit: str  # 'k' or 'dollars'
    warnings: tuple[str, ...]
    features: tuple[Feature, ...]  # the model's declaration (`model_features`)
    orders: LoadedOrders | None = None  # the orders file (`--orders`)


def required_columns(requests: tuple[Request, ...]) -> tuple[str, ...]:
    """The warehouse columns a build cannot do without: the id and the classic features."""
    return ("customer_id", *(CLASSIC[r.classic].column for r in requests if r.classic))


def header_columns(names: tuple[str, ...], settings: Settings) -> ColumnMap:
    """The header's columns, with every feature found (NotTheHeader when one is not there);
    with an orders file, the orders' measures are not the customer file's."""
    requests = settings.feature_requests
    if settings.orders_path is not None:
        requests = tuple(r for r in requests if not r.measure)
    reserved = RESERVED_WITH_ORDERS if settings.orders_path is not None else RESERVED
    columns = map_columns(names, required_columns(requests), customer_mapping(settings.columns), reserved=reserved)
    for request in requests:
        find_feature(names, columns, request)
    return columns


def input_kind(path: Path) -> str:
    """'csv', 'json', 'parquet' or 'excel', by the file's extension (before `.gz` or `.zst`)."""
    suffix = format_suffix(path)
    if suffix in JSON_SUFFIXES:
        return "json"
    return "parquet" if suffix == ".parquet" else "excel" if suffix in (".xlsx", ".xlsm") else "csv"


def format_suffix(path: Path) -> str:
    """The extension naming the file's format: `.csv` of `customers.csv.gz`."""
    name = path.name.lower()
    if (suffix := Path(name).suffix) in input_file.COMPRESSED_SUFFIXES:
        name = name.removesuffix(suffix)
    return Path(name).suffix


def input_parts(path: Path) -> list[Path]:
    """The file itself, or the part files of a folder (as Spark and other engines write a
    table) in name order; hidden and `_`-prefixed files and folders (`_SUCCESS`, `.crc`,
    `_delta_log`) are not data. A folder partitioned hive-style (`region=north/part-0.parquet`)
    holds its parts in `key=value` folders, at any depth: in the order of their paths."""
    if not path.is_dir():
        return [path]
    parts = sorted(data_files(path), key=lambda part: part.relative_to(path).parts)
    if not parts:
        raise InputError(f"{path}: the folder holds no data files")
    kinds = {input_kind(p) for p in parts}
    if len(kinds) > 1 or kinds == {"excel"}:
        raise InputError(
            f"{path}: a folder input holds CSV, JSON or Parquet part files of one kind "
            f"(it has: {', '.join(str(p.relative_to(path)) for p in parts[:5])})"
        )
    if kinds != {"parquet"} and any(p.parent != path for p in parts):
        raise InputError(
            f"{path}: a folder partitioned into key=value folders is read for Parquet parts; its parts are "
            f"{kinds.pop().upper()} (write the table as Parquet, or as one folder of parts)"
        )
    return parts


def data_files(folder: Path) -> Iterator[Path]:
    """The data files of a folder and of its `key=value` folders (a partitioned table's)."""
    for entry in folder.iterdir():
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file():
            yield entry
        elif entry.is_dir() and "=" in entry.name[1:]:
            yield from data_files(entry)


def partition_values(root: Path, part: Path) -> list[tuple[str, str | None]]:
    """The `key=value` folders between a partitioned folder and one of its parts, as (column,
    value) pairs, the value as Hive and Spark escape it (`%2F`), null for their null partition."""
    pairs = []
    for folder in part.relative_to(root).parts[:-1]:
        key, _, value = folder.partition("=")
        pairs.append((unquote(key), None if value == HIVE_NULL else unquote(value)))
    return pairs


HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # how Hive and Spark name the folder of a null key


class ReadInput(NamedTuple):
    """An input read into its raw tables, with its header matched to the warehouse's columns."""

    parts: tuple[input_file.FileFacts, ...]  # the file, or a folder's part files in name order
    header: Header
    columns: ColumnMap
    line: str  # what the file's records are called in a message: 'line', or 'row' in a workbook
    where: str  # the header's place, as a message about it starts: 'line 1: '


def read_input(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    raw: RawNames,
    work: Path,
    match: Callable[[tuple[str, ...]], ColumnMap],
    sheet: str | None = None,
    encoding: str | None = None,
) -> ReadInput:
    """Read a file, or a folder's part files, into the tables `raw` names (`<prefix>_records`,
    `<prefix>_parts`, ...) with the reader its format needs; `match` maps a header's names to
    the warehouse's columns, raising NotTheHeader when they lack a needed one (a title line
    above the header does) or ValueError for a header no build can use. `work` is a folder of
    the build's own for the copies DuckDB reads."""
    paths = input_parts(path)
    kind = input_kind(paths[0])
    if sheet is not None and kind != "excel":
        raise InputError(f"{path}: --sheet names a sheet of an .xlsx workbook; this input is {kind.upper()}")
    text = kind in ("csv", "json")
    parts = tuple(input_file.inspect(p, text=text, encoding=encoding) for p in paths)
    if not text and (packed := next((f for f in parts if f.compression != "none"), None)):
        raise InputError(f"{packed.path}: it is {packed.compression}-compressed; decompress it first")
    work = work / raw.folder
    work.mkdir(parents=True, exist_ok=True)
    con.execute(PARTS_TABLE.format(parts=raw.parts))

    def is_header(names: tuple[str, ...]) -> bool:
        """Names with the columns a build needs (those naming one twice too: the error says so)."""
        try:
            match(names)
        except NotTheHeader:
            return False
        except ValueError:
            pass  # the header, with a problem the error below names
        return True

    if kind == "csv":
        header = load_csv(con, parts, work, is_header, raw)
    elif kind == "json":
        header = load_json(con, parts, work, raw)
    elif kind == "parquet":
        header = load_parquet(con, parts, work, raw, path if path.is_dir() else None)
    else:
        header = load_excel(con, parts[0], sheet, is_header, raw)
    for facts in parts:
        input_file.check_unchanged(facts)
    if path.is_dir() and input_parts(path) != paths:
        raise input_file.changed(path)
    line = "row" if kind == "excel" else "line"
    where = f"{line} {header.line}: " if header.line is not None else "its records' keys: "
    if len(header.names) > MAX_COLUMNS:
        width = len(header.names)
        raise InputError(f"{path}: {where}the header has {width:,} columns; at most {MAX_COLUMNS:,} are read")
    try:
        columns = match(header.names)
    except NotTheHeader as e:
        # no line named the columns and the first stands: the header may be further down
        further = header.searched == HEADER_SEARCH_LINES
        note = f" (no header among the first {HEADER_SEARCH_LINES} non-blank {line}s)" if further else ""
        raise InputError(f"{path}: {where}{e}{note}") from None
    except ValueError as e:
        raise InputError(f"{path}: {where}{e}") from None
    return ReadInput(parts, header, columns, line, where)


def load_raw(con: duckdb.DuckDBPyConnection, settings: Settings, work: Path) -> LoadedInput:
    """Create `raw_records`, `raw_parts`, `raw_customers`, `raw_columns` and `raw_input` from
    the customer file, and the orders file's `raw_order_*` tables (`order_input`; empty without
    one); `work` is a folder of the build's own for the copies DuckDB reads. With only an orders
    file, the customer tables are empty: the customers are the ids of the orders."""
    from .order_input import load_orders  # it reads with this module's readers

    orders = load_orders(con, settings, work)
    path = settings.input_path
    if path is None:
        return orders_alone(con, settings, orders)
    parts, header, columns, line, where = read_input(
        con, path, CUSTOMER_RAW, work, lambda names: header_columns(names, settings), settings.sheet, settings.encoding
    )
    create_raw_customers(con, columns)
    decimal_comma, mark_warnings = decide_decimal_mark(con, columns)
    unit, unit_warnings = decide_income_unit(con, columns, settings.income_unit, decimal_comma)
    scale = 0.001 if unit == "dollars" else 1.0  # input income x scale = k$
    m_is_female, gender_warnings = decide_gender_codes(con, columns)
    try:
        features = resolve_features(
            columns, settings.feature_requests, scale, orders is not None, orders.currency if orders else None
        )
        check_numbers(con, features, missing_markers(settings.sql_dir))
    except ValueError as e:
        raise InputError(f"{path}: {where}{e}") from None
    create_model_features(con, features)
    lines = f"{header.skipped} {line}{'' if header.skipped == 1 else 's'}"
    above = (f"the header is {line} {header.line}: {lines} above it skipped (a title or a note)",)
    warnings = header.warnings + (above if header.skipped else ()) + mark_warnings + unit_warnings + gender_warnings
    sha256 = files_sha256(parts, path)
    loaded = LoadedInput(parts, sha256, columns, unit, warnings + (orders.warnings if orders else ()), features, orders)
    described = header.described if len(parts) == 1 else f"{header.described}, {len(parts)} part files"
    create_raw_input(con, utf8_text(path), sha256, described, unit, scale, decimal_comma, m_is_female)
    return loaded


def create_raw_input(
    con: duckdb.DuckDBPyConnection,
    path: str | None,
    sha256: str | None,
    described: str,
    unit: str = "k",
    scale: float = 1.0,
    decimal_comma: bool = False,
    m_is_female: bool = False,
) -> None:
    con.execute(
        "create temp table raw_input as select $path::varchar as input_path, $sha256::varchar as input_sha256, "
        "$format as input_format, $income_unit as income_unit, $scale::double as income_scale, "
        "$decimal_comma as has_decimal_comma, $m_is_female as is_m_female",
        {
            "path": path,
            "sha256": sha256,
            "format": described,
            "income_unit": unit,
            "scale": scale,
            "decimal_comma": decimal_comma,
            "m_is_female": m_is_female,
        },
    )


def orders_alone(con: duckdb.DuckDBPyConnection, settings: Settings, orders: LoadedOrders | None) -> LoadedInput:
    """The customer tables of a build on an orders file alone: empty, with the orders' id
    column as the one input column; the features are the orders' measures."""
    if orders is None:
        raise InputError("a build needs a customer file (--input), an orders file (--orders) or both")
    id_header = orders.columns.source_name("customer_id")
    columns = ColumnMap((id_header,), {"customer_id": 1}, {})
    con.execute(RECORDS_TABLE.format(records=CUSTOMER_RAW.records))
    con.execute(PARTS_TABLE.format(parts=CUSTOMER_RAW.parts))
    create_raw_customers(con, columns)
    try:
        features = resolve_features(columns, settings.feature_requests, 1.0, True, orders.currency, customers=False)
    except ValueError as e:
        raise InputError(f"{orders.parts[0].path if len(orders.parts) == 1 else settings.orders_path}: {e}") from None
    create_model_features(con, features)
    create_raw_input(con, None, None, "none: the customers are the ids of the orders")
    return LoadedInput((), None, columns, "k", orders.warnings, features, orders)


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


# --- CSV ---------------------------------------------------------------------------------


class CsvHeader(NamedTuple):
    delimiter: str
    names: tuple[str, ...]
    line: int  # 2 after Excel's `sep=;` line, else 1, unless lines stand above it
    skipped: int = 0  # the non-blank lines above it that are not the header (a title)
    searched: int = 0  # when no line named the columns a build needs: the non-blank lines read


def read_header(facts: input_file.FileFacts, is_header: Callable[[tuple[str, ...]], bool]) -> CsvHeader:
    """The delimiter and the header's names, from the file's first lines: after a `sep=X`
    line, which Excel writes to name the delimiter, the first of the first
    HEADER_SEARCH_LINES non-blank lines whose names `is_header` accepts, else the first
    non-blank line (whose names then say what is missing). A header may be longer than a data
    line: up to MAX_HEADER_CHARS characters (of up to 4 bytes each) are read."""
    path = facts.path
    with closing(input_file.read_lines(facts, 4 * MAX_HEADER_CHARS)) as lines:
        numbered = enumerate(lines, start=1)
        line, first = next(numbered, (1, None))
        if first is not None:  # a BOM the encoding named does not strip is no part of a name
            first = first._replace(text=first.text.removeprefix("\ufeff"))
        if hint := first and SEP_LINE.fullmatch(first.text):
            line, first = next(numbered, (2, None))
        if hint and hint[1] not in DELIMITERS:
            raise InputError(
                f"{path}: line 1: {hint[0]!r} names a delimiter other than {', '.join(map(repr, DELIMITERS))}"
            )
        # the first non-blank line read, as a header or why it cannot be one (unreadable, too
        # long), and how many were read
        opening: CsvHeader | InputError | None = None
        searched = 0
        while first is not None and searched < HEADER_SEARCH_LINES:
            if first.text.strip():
                searched += 1
                try:
                    candidate: CsvHeader | InputError = header_line(path, first, line, hint[1] if hint else None)
                except InputError as e:
                    candidate = e
                opening = opening or candidate
                if isinstance(candidate, CsvHeader) and is_header(candidate.names):
                    return candidate._replace(skipped=searched - 1)
            line, first = next(numbered, (line + 1, None))
    if opening is None:
        raise InputError(f"{path}: line 2: no header after {hint[0]!r}" if hint else f"{path}: the file is empty")
    if isinstance(opening, InputError):  # no header anywhere: say what is wrong with the first line
        raise opening
    return opening._replace(searched=searched)


def header_line(path: Path, read: input_file.Line, line: int, delimiter: str | None) -> CsvHeader:
    """A line read as the header: its delimiter (`delimiter`, or the one it uses most outside
    quoted names) and its names."""
    if read.too_long or len(read.text) > MAX_HEADER_CHARS:
        raise InputError(f"{path}: line {line}: the header is longer than {MAX_HEADER_CHARS:,} characters")
    if read.problem:  # the text holds U+FFFD for its bad bytes: say which they were
        raise InputError(f"{path}: line {line}: the header is unreadable: {read.problem}")
    text = read.text
    if "\ufffd" in text or "\x00" in text:
        raise InputError(f"{path}: line {line}: the header is not text (undecodable bytes); is this a CSV file?")
    unquoted = re.sub(r'"(?:[^"]|"")*"', "", text)  # a quoted name may hold any delimiter
    delimiter = delimiter or max(DELIMITERS, key=unquoted.count)  # ties go to the earlier, ',' first
    return CsvHeader(delimiter, tuple(next(csv.reader([text], delimiter=delimiter), [])), line)


def load_csv(
    con: duckdb.DuckDBPyConnection,
    parts: tuple[input_file.FileFacts, ...],
    work: Path,
    is_header: Callable[[tuple[str, ...]], bool],
    raw: RawNames = CUSTOMER_RAW,
) -> Header:
    """`raw_lines`, every part's lines numbered on from the previous part's, then
    `raw_records` splitting them (or, when a quoted field holds a line end or a line holds a
    CR, read by Python's CSV reader). `is_header`: whether a line's names are the header's
    (`read_header`)."""
    headers: list[CsvHeader] = []  # each part's own header: its line
    copies: list[tuple[int, dict[int, str]]] = []  # each part's offset and lines with problems
    part_lines: list[str] = []
    offset, open_quotes = 0, 0
    # DuckDB would end a line at a CR within it: such files are read by Python's reader alone
    by_python = any(facts.breaks_in_lines for facts in parts)
    for number, facts in enumerate(parts):
        path = facts.path
        found = read_header(facts, is_header)
        if number == 0:
            header = found
        elif found[:2] != header[:2]:  # the delimiter and names; a title above it may differ
            raise InputError(f"{path}: line {found.line}: its header differs from that of {parts[0].path.name}")
        headers.append(found)
        if by_python:
            continue
        lines, problems, (last, records, opened) = read_part_lines(
            con, facts, number, offset, found.line, work, "CSV", raw
        )
        part_lines.append(lines)
        copies.append((offset, problems))
        open_quotes += opened
        offset = record_part(con, facts, offset, last, records, raw)
    described = Header(header.names, f"CSV ({parts[0].described})", header.line, header.skipped, header.searched)
    if by_python or open_quotes:
        release_records(con, raw)  # the lines read so far: Python's reader reads the files again
        con.execute(RECORDS_TABLE.format(records=raw.records))
        con.execute(f"delete from {raw.parts}")  # a record may span lines here: count records, not lines
        offset = 0
        for facts, found in zip(parts, headers):
            load_records(con, csv_records(facts, found, offset), raw)
            offset = record_part(con, facts, offset, *records_after(con, offset, raw), raw)
        return described
    problem, join = create_raw_lines(con, part_lines, copies, raw)
    delimiter, pattern = raw.variable("delimiter"), raw.variable("field_pattern")
    con.execute(f"set variable {delimiter} = $value", {"value": header.delimiter})
    con.execute(f"set variable {pattern} = $value", {"value": field_pattern(header.delimiter)})
    con.execute(
        SPLIT_LINES.format(
            problem=problem, join=join, records=raw.records, lines=raw.lines, delimiter=delimiter, pattern=pattern
        )
    )
    return described


def read_part_lines(
    con: duckdb.DuckDBPyConnection,
    facts: input_file.FileFacts,
    number: int,
    offset: int,
    header_line: int,
    work: Path,
    what: str,
    raw: RawNames = CUSTOMER_RAW,
) -> tuple[str, dict[int, str], tuple]:
    """Read a part's lines into the table `raw_part_<number>_lines` with DuckDB (a compressed
    file decompressed by it). Returns the select of its data lines (those after `header_line`,
    numbered on from `offset`), the lines whose bytes are unreadable, and PART_FACTS of them.
    `what`: the format, for a message."""
    copy = work / f"part-{number:05d}.txt"
    problems = dict(input_file.readable_copy(facts, copy))
    table = raw.part(number)
    try:
        with setting(con, "preserve_insertion_order", True):  # the build runs without it
            con.execute(
                PART_TABLE.format(table=table),
                {"path": str(copy), "compression": input_file.copy_compression(facts, copy)},
            )
        lines = PART_LINES.format(offset=int(offset), table=table, header_line=header_line)
        found = first_row(con, PART_FACTS.format(lines=lines))
    except duckdb.Error as e:
        raise InputError(f"{facts.path}: cannot be read as {what} ({str(e).splitlines()[0]})") from None
    return lines, problems, found


def create_raw_lines(
    con: duckdb.DuckDBPyConnection,
    part_lines: list[str],
    copies: list[tuple[int, dict[int, str]]],
    raw: RawNames = CUSTOMER_RAW,
) -> tuple[str, str]:
    """The view `raw_lines` of every part's lines, and the table `raw_line_problems` of the
    unreadable ones (each part's offset and its problems by line); returns the expression of a
    line's problem and the join that gives it, for the view of the records."""
    con.execute(f"create temp view {raw.lines} as " + "\nunion all\n".join(part_lines))
    numbered = [(offset + line, problem) for offset, lines in copies for line, problem in lines.items()]
    if not numbered:
        return "null::varchar", ""
    con.execute(f"create temp table {raw.line_problems} (line_number bigint, problem varchar)")
    con.executemany(f"insert into {raw.line_problems} values (?, ?)", numbered)
    return "raw_line_problems.problem", f"left join {raw.line_problems} as raw_line_problems using (line_number)"


def field_pattern(delimiter: str) -> str:
    """RFC 4180 fields: a quoted field (with "" for a quote), or anything up to the delimiter."""
    return f'("(?:[^"]|"")*"|[^{delimiter}]*)[{delimiter}]'


class StrayQuote(Exception):
    """A quoted field that opened on a record's first line and does not close as a field
    ends: still open after MAX_RECORD_LINES lines, closed with more text after the quote
    (`"VIP` ... `27" monitor`), or closed after lines that look like records of their own."""


def looks_like_records(lines: list[tuple[int, input_file.Line]], header: CsvHeader) -> bool:
    """Whether a record's later lines each hold as many delimiters as a record of the file: the
    customers a stray quote swallowed (`"VIP` ... `monitor 27"`), not the lines of an address."""
    least = last_filled(list(header.names)) - 1
    return any(line.text.count(header.delimiter) >= least for _, line in lines[1:])


def csv_records(
    facts: input_file.FileFacts, header: CsvHeader, offset: int = 0
) -> Iterator[tuple[int, str, list[str], str | None]]:
    """(line number, raw text, fields, problem) of each non-blank record after the header, read
    with Python's RFC 4180 reader: a quoted field may hold line ends, kept as the file writes
    them. A record is numbered by its first line (plus `offset`, for a part after the first)
    and has the problem of the first of its lines that has one. A record spanning lines must
    parse strictly and not hold lines that look like records; else the quote that opened it is
    a stray one: its line is rejected and the lines after it are read again, so free text
    holding quotes (`"VIP`, `monitor 27"`) never swallows the customers between them."""
    with closing(input_file.read_lines(facts)) as read:
        numbered = islice(enumerate(read, start=1), header.line, None)
        backlog: deque[tuple[int, input_file.Line]] = deque()  # a stray quote's lines, read again after it
        lines: list[tuple[int, input_file.Line]] = []  # the record being read

        def feed() -> Iterator[str]:
            while (item := backlog.popleft() if backlog else next(numbered, None)) is not None:
                lines.append(item)
                if len(lines) > MAX_RECORD_LINES:
                    raise StrayQuote
                yield item[1].text + (item[1].end or "\n")  # the reader keeps a quoted line end

        while True:
            reader = csv.reader(feed(), delimiter=header.delimiter, strict=True)
            try:
                for fields in reader:
                    if len(lines) > 1 and looks_like_records(lines, header):
                        raise StrayQuote
                    number = lines[0][0]
                    text = "".join(line.text + line.end for _, line in lines[:-1]) + lines[-1][1].text
                    problem = next((line.problem for _, line in lines if line.problem), None)
                    lines.clear()
                    if fields and any(field.strip() for field in fields):
                        yield offset + number, text, fields, problem
                return
            except (StrayQuote, csv.Error) as e:
                if not lines:  # nothing was read: the error is not a record's
                    return
                (number, first), rest = lines[0], lines[1:]
                lines.clear()
                if rest or isinstance(e, StrayQuote) or first.text.count('"') % 2:  # an odd quote opens a field
                    backlog.extendleft(reversed(rest))
                    yield offset + number, first.text, [], f"a quoted field opened on line {number} is not closed"
                else:  # a quote astray within one line (`"abc"def`), or a CR: split as `raw_records` would
                    yield offset + number, first.text, split_fields(first.text, header.delimiter), first.problem


def split_fields(text: str, delimiter: str) -> list[str]:
    """A line's fields as the view `raw_records` splits them (`field_pattern`): any text."""
    return [
        field[1:-1].replace('""', '"') if len(field) >= 2 and field[0] == field[-1] == '"' else field
        for field in re.findall(field_pattern(delimiter), text + delimiter)
    ]


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


# --- JSON --------------------------------------------------------------------------------


def load_json(
    con: duckdb.DuckDBPyConnection, parts: tuple[input_file.FileFacts, ...], work: Path, raw: RawNames = CUSTOMER_RAW
) -> Header:
    """`raw_lines`, every part's records numbered on from the previous part's (JSON Lines by
    their lines, a document's by their place in it), then `raw_records` of their values, the
    columns being the keys of all records (JSON_KEYS, JSON_RECORDS)."""
    part_lines: list[str] = []
    copies: list[tuple[int, dict[int, str]]] = []
    offset = 0
    formats = [json_format(facts) for facts in parts]
    for number, (facts, layout) in enumerate(zip(parts, formats)):
        problems: dict[int, str] = {}
        if layout != "newline_delimited":
            lines = read_json_document(con, facts, number, offset, work, layout, raw)
            found = first_row(con, PART_FACTS.format(lines=lines))
        elif facts.breaks_in_lines:
            lines, problems, found = python_part_lines(con, facts, number, offset, raw)
        else:
            lines, problems, found = read_part_lines(con, facts, number, offset, 0, work, "JSON Lines", raw)
        part_lines.append(lines)
        copies.append((offset, problems))
        offset = record_part(con, facts, offset, found[0], found[1], raw)
    problem, join = create_raw_lines(con, part_lines, copies, raw)
    unit = "line" if set(formats) == {"newline_delimited"} else "record"
    names = tuple(key for (key,) in con.execute(JSON_KEYS.format(lines=raw.lines)).fetchall())
    if not names:
        path = parts[0].path if len(parts) == 1 else parts[0].path.parent
        records = first_row(con, f"select sum(records) from {raw.parts}")[0]
        if not records:
            raise InputError(f"{path}: the file is empty" if len(parts) == 1 else f"{path}: its files are empty")
        raise InputError(f"{path}: none of its {records:,} {unit}s is a JSON object (a customer's keys and values)")
    pointers = ["/" + key.replace("~", "~0").replace("/", "~1") for key in names]  # JSON Pointer (RFC 6901)
    variable = raw.variable("json_pointers")
    con.execute(f"set variable {variable} = $value", {"value": pointers})
    con.execute(
        JSON_RECORDS.format(
            problem=problem, join=join, unit=unit, records=raw.records, lines=raw.lines, pointers=variable
        )
    )
    kind = {"newline_delimited": "JSON Lines", "array": "JSON array", "unstructured": "JSON"}[formats[0]]
    return Header(names, f"{kind} ({parts[0].described})", line=None)


def json_format(facts: input_file.FileFacts) -> str:
    """How a JSON file holds its records, as DuckDB's `format` names it: 'newline_delimited'
    (JSON Lines: a `.jsonl` or `.ndjson` file, or a `.json` file whose first line is a whole
    JSON value), 'array' (a `.json` file opening with '['), else 'unstructured' (objects
    written over several lines, one after another)."""
    if format_suffix(facts.path) in JSON_LINES_SUFFIXES:
        return "newline_delimited"
    with closing(input_file.read_lines(facts)) as lines:
        first = next((line.text.removeprefix("\ufeff").strip() for line in lines if line.text.strip()), "")
    if first.startswith("["):
        return "array"
    try:
        json.loads(first)  # a line too long to read ends in '…': not a whole value
    except ValueError:
        return "unstructured" if first else "newline_delimited"
    return "newline_delimited"


def read_json_document(
    con: duckdb.DuckDBPyConnection,
    facts: input_file.FileFacts,
    number: int,
    offset: int,
    work: Path,
    layout: str,
    raw: RawNames = CUSTOMER_RAW,
) -> str:
    """Read a JSON document's records ($layout 'array' or 'unstructured') into the table
    `raw_part_<number>_lines` with DuckDB's JSON reader; returns the select of them, numbered on
    from `offset`. A document is one value: a syntax error stops the build, naming where it is.
    DuckDB reads UTF-8: a file in another encoding is read from a UTF-8 copy."""
    link = work / f"part-{number:05d}.json"
    input_file.readable_copy(replace(facts, needs_rewrite=facts.encoding not in ("utf-8", "utf-8-sig")), link)
    table = raw.part(number)
    try:
        with setting(con, "preserve_insertion_order", True):  # record N is row N
            con.execute(
                JSON_PART_TABLE.format(table=table),
                {"path": str(link), "format": layout, "compression": input_file.copy_compression(facts, link)},
            )
    except duckdb.Error as e:
        message = str(e).splitlines()[0].replace(str(link), facts.path.name).strip()
        raise InputError(f"{facts.path}: cannot be read as JSON ({message})") from None
    return PART_LINES.format(offset=int(offset), table=table, header_line=0)


def python_part_lines(
    con: duckdb.DuckDBPyConnection, facts: input_file.FileFacts, number: int, offset: int, raw: RawNames = CUSTOMER_RAW
) -> tuple[str, dict[int, str], tuple]:
    """A part's lines read by Python, as `read_part_lines` reads them with DuckDB, for a file
    with a CR within a line (an LF in a file of CR lines), where DuckDB would end the line."""
    table = raw.part(number)
    con.execute(f"create temp table {table} (raw_line varchar)")
    problems: dict[int, str] = {}
    with closing(input_file.read_lines(facts)) as read, setting(con, "preserve_insertion_order", True):
        numbered = enumerate(read, start=1)
        while batch := list(islice(numbered, BATCH)):
            problems |= {n: line.problem for n, line in batch if line.problem}
            frame = pd.DataFrame({"raw_line": [line.text for _, line in batch]})  # noqa: F841 (read below)
            con.execute(f"insert into {table} select raw_line from frame")
    lines = PART_LINES.format(offset=int(offset), table=table, header_line=0)
    return lines, problems, first_row(con, PART_FACTS.format(lines=lines))


# --- Parquet and Excel -------------------------------------------------------------------


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
            raise InputError(f"{path}: cannot be read as Parquet ({str(e).splitlines()[0]})") from None
        finally:
            con.execute("drop view if exists parquet_records")
        shown = str(path.relative_to(root)) if root else path.name  # a partitioned folder's: with its folders
        offset = record_part(con, facts, offset, *records_after(con, offset, raw), raw, shown)
    return Header(names, "Parquet")


def as_text(name: str, kind: str) -> duckdb.Expression:
    """A Parquet value as the text a CSV would hold: whole numbers stored as floating point
    (as pandas writes integer columns with gaps) lose their '.0'; NaN and infinity stay text."""
    column = duckdb.SQLExpression(quote_ident(name))  # a quoted name: even `*` is a column
    text = column.cast(duckdb.sqltype("varchar"))
    if kind.upper().startswith(("FLOAT", "DOUBLE", "DECIMAL")):
        finite = duckdb.FunctionExpression("isfinite", column.cast(duckdb.sqltype("double")))
        small = duckdb.FunctionExpression("abs", column) < duckdb.ConstantExpression(1e15)
        whole = duckdb.FunctionExpression("trunc", column) == column
        as_integer = column.cast(duckdb.sqltype("bigint")).cast(duckdb.sqltype("varchar"))
        return duckdb.CaseExpression(finite & small & whole, as_integer).otherwise(text)
    return text


def load_excel(
    con: duckdb.DuckDBPyConnection,
    facts: input_file.FileFacts,
    sheet: str | None,
    is_header: Callable[[tuple[str, ...]], bool],
    raw: RawNames = CUSTOMER_RAW,
) -> Header:
    """A workbook's sheet named by `sheet`, else its first sheet whose first non-blank rows
    hold a header naming the columns a build needs (a warning names it when it is not the
    first); rows are numbered as Excel numbers them. As in a CSV file (`read_header`), a title
    may stand above the header. A row is read as wide as the header: a cell far to its right
    (column XFD) costs no row of that width."""
    from openpyxl import load_workbook  # only a workbook needs it

    path = facts.path
    check_workbook(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a file that is not a workbook
        raise InputError(f"{path}: not a readable Excel workbook ({type(e).__name__}: {e})") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(f"{path}: no sheet named {sheet!r} (it has: {', '.join(book.sheetnames)})")
        tables = [table.title for table in book.worksheets]  # a chart sheet holds no rows
        if sheet is not None and sheet not in tables:
            raise InputError(f"{path}: the sheet {sheet!r} is a chart (sheets with rows: {', '.join(tables)})")
        candidates = [book[sheet]] if sheet is not None else book.worksheets
        starts: list[SheetStart] = []
        for rows in candidates:  # a sheet's first rows only, until one holds the header
            starts.append(sheet_start(rows, is_header))
            if starts[-1].at is not None:
                break
        start = starts[-1]
        if start.at is None:
            if len(starts) > 1:
                raise InputError(no_sheet_holds_the_header(path, starts))
            if not start.found:
                raise InputError(f"{path}: the sheet {start.title!r} is empty")
        at = start.at or 0  # no header found: the first row stands, and its names say what is missing
        header_row, names = start.found[at][0], start.names[at]
        width = max(i for i, name in enumerate(names, 1) if name)
        if width > MAX_COLUMNS:
            raise InputError(
                f"{path}: row {header_row}: the header has {width:,} columns; at most {MAX_COLUMNS:,} are read"
            )
        con.execute(RECORDS_TABLE.format(records=raw.records))
        rows_after = chain(start.found[at + 1 :], start.rest)
        load_records(con, (sheet_record(number, row, width) for number, row in rows_after), raw)
    finally:
        book.close()
    record_part(con, facts, 0, *records_after(con, 0, raw), raw)
    first = starts[0].title
    chosen = (f"sheet {start.title!r} holds the customers (the first sheet, {first!r}, does not)",)
    searched = 0 if start.at is not None else len(start.found)
    return Header(names[:width], "Excel workbook", header_row, at, searched, chosen if start.title != first else ())


class SheetStart(NamedTuple):
    title: str
    found: list[tuple[int, tuple]]  # its first HEADER_SEARCH_LINES non-blank rows: (number, cells)
    names: list[tuple[str, ...]]  # their cells as text
    at: int | None  # the header's place among them; None when none names the columns a build needs
    rest: Iterator[tuple[int, tuple]]  # the non-blank rows after them, not yet read


def sheet_start(rows, is_header: Callable[[tuple[str, ...]], bool]) -> SheetStart:
    """A sheet's first non-blank rows, and which of them is the header."""
    rows.reset_dimensions()  # the stored sheet size may be stale: read every row and column, as Excel does
    numbered = enumerate(rows.iter_rows(max_row=MAX_SHEET_ROWS, values_only=True), start=1)
    filled = ((number, row) for number, row in numbered if has_text(row))
    found = list(islice(filled, HEADER_SEARCH_LINES))
    names = [tuple(cell_text(value) for value in row) for _, row in found]
    at = next((i for i, row in enumerate(names) if is_header(row)), None)
    return SheetStart(rows.title, found, names, at, filled)


def no_sheet_holds_the_header(path: Path, starts: list[SheetStart]) -> str:
    """The error for a workbook none of whose sheets holds the header: each sheet's first row."""

    def opening(start: SheetStart) -> str:
        if not start.found:
            return f"{start.title!r} is empty"
        cells = start.names[0][: last_filled(list(start.names[0]))]
        shown = ", ".join(repr(cell.strip()) for cell in cells[:8]) + (", …" if len(cells) > 8 else "")
        return f"{start.title!r} row {start.found[0][0]}: {shown}"

    return (
        f"{path}: no sheet names the columns a build needs in its first {HEADER_SEARCH_LINES} non-blank rows "
        f"(choose one with --sheet to see what it lacks); the sheets' first rows: "
        + "; ".join(opening(start) for start in starts)
    )


def check_workbook(path: Path) -> None:
    """Refuse a workbook with an XML part over MAX_WORKBOOK_PART_BYTES uncompressed (a sheet
    named by its name), or a sheet of more than MAX_SHEET_ROWS rows, from the sizes its zip
    states and one pass of the sheets' bytes. A file that is not a zip is left to openpyxl."""
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {i.filename: i.file_size for i in archive.infolist() if i.filename.endswith((".xml", ".rels"))}
            try:
                sheets = sheet_parts(archive, sizes)
            except (KeyError, ValueError, ElementTree.ParseError):  # named by part: openpyxl says what is wrong
                sheets = {}
            for part, size in sizes.items():
                if size > MAX_WORKBOOK_PART_BYTES:
                    what = f"the sheet {sheets[part]!r}" if part in sheets else f"the workbook's part {part}"
                    raise InputError(
                        f"{path}: {what} is {size / 1e6:,.1f} MB uncompressed; "
                        f"at most {MAX_WORKBOOK_PART_BYTES / 1e6:,.1f} MB are read: save it as CSV"
                    )
            for part, name in sheets.items():
                if (found := sheet_rows(archive, part)) > MAX_SHEET_ROWS:
                    raise InputError(
                        f"{path}: the sheet {name!r} has {found:,} rows; at most {MAX_SHEET_ROWS:,} are read: "
                        "save it as CSV"
                    )
    except (zipfile.BadZipFile, OSError):
        return


def sheet_parts(archive: zipfile.ZipFile, sizes: dict[str, int]) -> dict[str, str]:
    """Each worksheet's part in the zip and its sheet's name, from the workbook's
    relationships (a chart sheet has none)."""

    def read(part: str) -> ElementTree.Element:
        if sizes.get(part, 0) > MAX_WORKBOOK_PART_BYTES:
            raise ValueError(part)
        return ElementTree.fromstring(archive.read(part))

    def relations(part: str) -> dict[str | None, tuple[str, str]]:
        """A part's relationships: id -> (type, the part it names)."""
        folder = posixpath.dirname(part)
        found = {}
        for item in read(posixpath.join(folder, "_rels", posixpath.basename(part) + ".rels")):
            target = item.get("Target", "")
            named = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            found[item.get("Id")] = (item.get("Type", ""), named)
        return found

    book = next((part for kind, part in relations("").values() if kind.endswith("/officeDocument")), "")
    parts = relations(book)
    sheets = {}
    for item in read(book).iter():
        if item.tag.rsplit("}", 1)[-1] == "sheet":
            key = next((value for name, value in item.attrib.items() if name.endswith("}id")), None)
            kind, part = parts.get(key, ("", ""))
            if kind.endswith("/worksheet"):
                sheets[part] = item.get("name", "")
    return sheets


def sheet_rows(archive: zipfile.ZipFile, part: str) -> int:
    """About how many rows a sheet's XML holds: its `<row>` tags (a tag split between two reads
    goes uncounted), or half its `:row` names where a prefix names the namespace."""
    rows = 0
    with archive.open(part) as xml:
        while chunk := xml.read(input_file.CHUNK):
            rows += chunk.count(b"<row") - chunk.count(b"<rowBreaks")
            rows += (chunk.count(b":row") - chunk.count(b":rowBreaks")) // 2
    return rows


def has_text(row: tuple) -> bool:
    """Whether a sheet's row holds a cell that is not blank: its first cells mostly say; past
    them, empty cells (None) are counted at C speed, as a row may be as wide as the sheet."""
    first, rest = row[:64], row[64:]
    return any(cell_text(value).strip() for value in first if value is not None) or (
        rest.count(None) < len(rest) and any(cell_text(value).strip() for value in rest if value is not None)
    )


def sheet_record(number: int, row: tuple, width: int) -> tuple[int, str, list[str], str | None]:
    """A sheet's row as a record of `width` fields (a sheet does not store the empty cells at a
    row's end). A cell that is not blank past the header's last column makes it ragged, said
    here: its fields stop at `width`, and its text shows that cell after '…'."""
    fields = [cell_text(value) for value in row[:width]]
    fields += [""] * (width - len(fields))
    beyond = row[width:]
    last = 0
    if beyond and (beyond[-1] is not None or beyond.count(None) < len(beyond)):  # from the right: a far cell at once
        last = next((i for i in range(len(beyond), 0, -1) if cell_text(beyond[i - 1]).strip()), 0)
    if not last:
        return number, ",".join(fields[: len(row)]), fields, None
    shown = [*fields, *(["…"] if last > 1 else []), cell_text(beyond[last - 1])]
    return number, ",".join(shown), fields, f"has {width + last} fields where the header has {width}"


def last_filled(fields: list[str]) -> int:
    return max((i for i, field in enumerate(fields, 1) if field.strip()), default=0)


def cell_text(value: object) -> str:
    """A cell as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


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


# --- The named columns -------------------------------------------------------------------


def create_raw_customers(con: duckdb.DuckDBPyConnection, columns: ColumnMap) -> None:
    """`raw_customers` (`create_named_records`: the five columns the warehouse knows, then every
    other input column under its own name); `raw_columns`: every input column, its warehouse
    name and its header."""
    create_named_records(con, CUSTOMER_RAW, columns, tuple(INPUT_COLUMNS), extras=True)
    warehouse_names = {position: column for column, position in columns.positions.items()} | columns.extras
    con.execute("create temp table raw_columns (position integer, column_name varchar, source_name varchar)")
    con.executemany(
        "insert into raw_columns values (?, ?, ?)",
        [
            (position, warehouse_names[position], columns.names[position - 1].strip())
            for position in sorted(warehouse_names)
        ],
    )


def create_named_records(
    con: duckdb.DuckDBPyConnection, raw: RawNames, columns: ColumnMap, known: tuple[str, ...], extras: bool
) -> None:
    """The view `raw.named` (`raw_customers`, `raw_orders`): each record's fields by name, the
    `known` warehouse columns first (null where the input has no such column), then with
    `extras` every other column under its own name; and how many fields it has, counted as the
    header's when it differs only at the end by fields a spreadsheet writes or leaves out:
    surplus empty ones, or those under blank names at the header's end (`a,b,c,`); a row short
    of a named column is ragged, as nothing tells which of its fields it lacks."""
    expected = len(columns.names)
    least = last_filled(list(columns.names))
    named = [
        f"fields[{columns.positions[column]}] as {column}"
        if column in columns.positions
        else f"null::varchar as {column}"
        for column in known
    ]
    if extras:
        named += [f"fields[{position}] as {quote_ident(name)}" for position, name in columns.extras.items()]
    con.execute(f"""
        create temp view {raw.named} as
        select
            line_number,
            raw_line,
            case
                when len(fields) between {least} and {expected} then {expected}
                when len(fields) > {expected} and len(list_filter(fields[{expected + 1}:], lambda f: trim(f) <> '')) = 0
                    then {expected}
                else len(fields)
            end as fields_found,
            {expected} as fields_expected,
            line_problem,
            {", ".join(named)}
        from {raw.records}
    """)


def decimal_mark_patterns(decimal: str, group: str) -> dict[str, str]:
    """Numbers (sign and dollar sign stripped) that say `decimal` is their decimal mark: it is
    their last mark and followed by other than three digits ('89,5'), it follows groups split
    by `group` ('89.000,50'), or `group` splits groups twice ('1.250.000'). Whole thousands
    split by `group` ('70.000') only hint at it: three decimals that are all zeros are rare,
    unlike '48.561', which says nothing."""
    name = {",": "comma", ".": "point"}[decimal]
    d, g = re.escape(decimal), re.escape(group)
    said = (
        f"[0-9]{{1,3}}({g}[0-9]{{3}})+{d}[0-9]*|[0-9]*{d}([0-9]{{1,2}}|[0-9]{{4,}})|[0-9]{{1,3}}({g}[0-9]{{3}}){{2,}}"
    )
    return {f"said_{name}": said, f"hinted_{name}": f"[0-9]{{1,3}}{g}000"}


def decide_decimal_mark(
    con: duckdb.DuckDBPyConnection,
    columns: ColumnMap,
    column: str = "annual_income_k",
    table: str = "raw_customers",
    signs: str = "+-$",
) -> tuple[bool, tuple[str, ...]]:
    """Whether the file writes its incomes (or another `column` of `table`, its amounts) with a
    decimal comma (True) or point: as most of the values that say it do, else as most of those
    that hint at it; a warning when that reading turns a value such as '70.000' into 70,000.
    `signs`: what may stand before the digits (a sign, a currency sign)."""
    said_comma, said_point, hinted_comma, hinted_point, example = first_row(
        con,
        DECIMAL_MARKS.format(column=column, table=table),
        {"lines": MARK_SAMPLE_LINES, "signs": signs}
        | decimal_mark_patterns(",", ".")
        | decimal_mark_patterns(".", ","),
    )
    comma = said_comma > said_point if said_comma or said_point else hinted_comma > hinted_point
    if comma and hinted_comma:
        header = columns.source_name(column)
        number = float(example.lstrip(signs).replace(".", ""))
        return True, (f"{header!r} is written with decimal commas: '{example}' is read as {number:,.0f}",)
    return comma, ()


def decide_income_unit(
    con: duckdb.DuckDBPyConnection, columns: ColumnMap, option: str | None, decimal_comma: bool
) -> tuple[str, tuple[str, ...]]:
    """'k' or 'dollars': from --income-unit, else from the header, else from the values (with
    a warning saying so)."""
    if "annual_income_k" not in columns.positions:
        return "k", ()
    header = columns.source_name("annual_income_k")
    stated = option or income_unit(header)
    if stated:
        return stated, ()
    # a rough reading of each value, with the file's decimal mark, is enough for a median
    if decimal_comma:
        number = "replace(regexp_replace(income, '[$.]', '', 'g'), ',', '.')"
    else:
        number = "regexp_replace(income, '[$,]', '', 'g')"
    rows = first_row(con, "select sum(records) from raw_parts")[0]
    median = first_row(  # of about 10,000 incomes spread over the file: it may be sorted
        con,
        f"select median(try_cast({number} as double)) from "
        "(select trim(annual_income_k) as income from raw_customers where line_number % $step = 0)",
        {"step": max(1, rows // 10_000)},
    )[0]
    if median is not None and median > DOLLARS_MEDIAN:
        warning = (
            f"{header!r} has no unit and its median is {median:,.0f}: read as dollars and "
            "converted to k$ (--income-unit k to keep it)"
        )
        return "dollars", (warning,)
    return "k", ()


def decide_gender_codes(con: duckdb.DuckDBPyConnection, columns: ColumnMap) -> tuple[bool, tuple[str, ...]]:
    """Whether the file's gender `M` means mujer: a column of one-letter codes that writes H and
    M and never F is Spanish (hombre, mujer); elsewhere M is male (sql/seeds/gender_labels.csv).
    Read on the first lines, as the decimal mark is; a warning says so."""
    if "gender" not in columns.positions:
        return False, ()
    h, m, f = first_row(
        con,
        "select count(*) filter (where code = 'h'), count(*) filter (where code = 'm'), "
        "count(*) filter (where code = 'f') "
        "from (select rtrim(lower(trim(gender)), '.') as code from raw_customers where line_number <= $lines)",
        {"lines": MARK_SAMPLE_LINES},
    )
    if h and m and not f:
        return True, (f"{columns.source_name('gender')!r} writes H and M: read as hombre and mujer (M is Female)",)
    return False, ()


# A rough reading of a value as a number (sign, currency, separators and spaces aside), enough
# to tell a column of numbers from one of text before staging reads each value exactly.
ROUGH_NUMBER = r"[+-]?[$€£]?\s*[0-9][0-9 .,']*([eE][+-]?[0-9]+)?|[+-]?[$€£]?[.,][0-9]+"


def missing_markers(sql_dir: Path) -> list[str]:
    """What people write for "no value", in lower case: the seed staging compares values with."""
    with (sql_dir / "seeds" / "missing_value_markers.csv").open(encoding="utf-8", newline="") as seed:
        return [row["marker"] for row in csv.DictReader(seed)]


def check_numbers(con: duckdb.DuckDBPyConnection, features: tuple[Feature, ...], missing: list[str]) -> None:
    """Refuse a feature of the input's own whose values are mostly not numbers (a text or a
    yes/no column), naming it and showing a few of its values; read on the first lines, as
    the decimal mark is."""
    for feature in (f for f in features if f.kind == "number"):
        column = quote_ident(feature.feature)
        values, numbers, examples = first_row(
            con,
            f"select count(*), count(*) filter (where regexp_full_match(v, $number)), "
            f"list(distinct v) filter (where not regexp_full_match(v, $number))[:4] "
            f"from (select trim({column}) as v from raw_customers where line_number <= $lines) "
            f"where not list_contains($missing, lower(v))",
            {"number": ROUGH_NUMBER, "lines": MARK_SAMPLE_LINES, "missing": missing},
        )
        if values - numbers > values / 2:
            shown = ", ".join(repr(v) for v in sorted(examples))
            raise ValueError(
                f"--features {feature.source_column}: {values - numbers:,} of {values:,} values read are not "
                f"numbers (e.g. {shown}): a feature is a measure, such as an amount, a count or a score"
            )
