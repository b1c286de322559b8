"""Put the input, untouched, into the raw tables: `raw_customers`, `raw_columns`, `raw_input`.

`read_input` reads a file, or a folder's part files (`readers.folder`), with the reader its
format needs (`readers.csv_file`, `readers.json_file`, `readers.parquet`, `readers.excel`) into
`raw_records` (`readers`). `raw_customers` then names the fields: the five the warehouse knows,
and every other column under its own name. What holds for the whole file is decided here from
its values: the decimal mark and the income's unit (`number_formats`), and what its gender
codes mean (`decide_gender_codes`). The path and values travel as query parameters or files in
the build's folder, never pasted into SQL; column names are quoted identifiers.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

import duckdb

from .columns import (
    ColumnMap,
    NoSuchFeature,
    NotTheHeader,
    customer_mapping,
    extra_names,
    find_feature,
    map_columns,
    resolve_features,
)
from .config import INPUT_COLUMNS, Settings
from .db import create_model_features, first_row, quote_ident
from .errors import InputError
from .features import CLASSIC, ORDER_COLUMNS_CARRIED, Feature, Request
from .number_formats import (
    ROUGH_NUMBER,
    check_numbers,
    create_notation_sample,
    decide_decimal_mark,
    decide_income_unit,
    sql_text,
)
from .readers import csv_file, excel, input_file, json_file, parquet
from .readers.folder import input_parts
from .readers.raw import (
    CUSTOMER_RAW,
    HEADER_SEARCH_LINES,
    MAX_COLUMNS,
    PARTS_TABLE,
    RECORDS_TABLE,
    Header,
    RawNames,
    in_sample,
    last_filled,
)
from .text import utf8_text


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


def header_columns(names: tuple[str, ...], settings: Settings, reserved: frozenset[str]) -> ColumnMap:
    """The header's columns, with every feature found (NotTheHeader when one is not there);
    with an orders file, the orders' measures are not the customer file's. An other column
    named as one of `reserved` (or as a measure of the orders file) travels renamed."""
    requests = settings.feature_requests
    if settings.orders_path is not None:
        requests = tuple(r for r in requests if not r.measure)
        reserved |= frozenset(ORDER_COLUMNS_CARRIED)
    columns = map_columns(names, required_columns(requests), customer_mapping(settings.columns), reserved=reserved)
    for request in requests:
        find_feature(names, columns, request)
    return columns


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
    kind = input_file.input_kind(paths[0])
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
        header = csv_file.load_csv(con, parts, work, is_header, raw)
    elif kind == "json":
        header = json_file.load_json(con, parts, work, raw)
    elif kind == "parquet":
        header = parquet.load_parquet(con, parts, work, raw, path if path.is_dir() else None)
    else:
        header = excel.load_excel(con, parts[0], sheet, is_header, raw)
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
        # no line named the columns and the first stands: the header may be further down (not
        # when the first names all the columns a build needs, but a feature: a name mistyped)
        further = header.searched == HEADER_SEARCH_LINES and not isinstance(e, NoSuchFeature)
        note = (
            f" (the first {HEADER_SEARCH_LINES} non-blank {line}s were searched for a header that has them)"
            if further
            else ""
        )
        raise InputError(f"{path}: {where}{e}{note}") from None
    except ValueError as e:
        raise InputError(f"{path}: {where}{e}") from None
    return ReadInput(parts, header, columns, line, where)


def load_raw(con: duckdb.DuckDBPyConnection, settings: Settings, work: Path, reserved: frozenset[str]) -> LoadedInput:
    """Create `raw_records`, `raw_parts`, `raw_customers`, `raw_columns` and `raw_input` from
    the customer file, and the orders file's `raw_order_*` tables (`order_input`; empty without
    one); `work` is a folder of the build's own for the copies DuckDB reads. With only an orders
    file, the customer tables are empty: the customers are the ids of the orders. `reserved`:
    the names the models give columns beside the input's (`dag.record_names`)."""
    from .order_input import load_orders  # it reads with this module's read_input

    orders = load_orders(con, settings, work)
    path = settings.input_path
    if path is None:
        return orders_alone(con, settings, orders)
    header_of = partial(header_columns, settings=settings, reserved=reserved)
    parts, header, columns, line, where = read_input(
        con, path, CUSTOMER_RAW, work, header_of, settings.sheet, settings.encoding
    )
    create_raw_customers(con, columns)
    create_notation_sample(con, "raw_customers")
    columns, foreign_warnings = own_columns_for_foreign_values(
        con,
        columns,
        (*required_columns(settings.feature_requests), *customer_mapping(settings.columns)),  # named: kept
        missing_markers(settings.sql_dir),
        reserved,
    )
    currency = orders.currency if orders else None
    features_at = partial(
        resolve_features, columns, settings.feature_requests, orders=orders is not None, currency=currency
    )
    try:
        # the incomes and the features of the file's own: one decimal mark for all its numbers
        own = [feature.feature for feature in features_at(1.0) if feature.kind == "number"]
        decimal_comma, mark_warnings = decide_decimal_mark(con, columns, ["annual_income_k", *own])
        unit, unit_warnings = decide_income_unit(con, columns, settings.income_unit, decimal_comma)
        scale = 0.001 if unit == "dollars" else 1.0  # input income x scale = k$
        features = features_at(scale)
        check_numbers(con, features, missing_markers(settings.sql_dir))
    except ValueError as e:
        raise InputError(f"{path}: {where}{e}") from None
    m_is_female, gender_warnings = decide_gender_codes(con, columns)
    create_model_features(con, features)
    lines = f"{header.skipped} {line}{'' if header.skipped == 1 else 's'}"
    above = (f"the header is {line} {header.line}: {lines} above it skipped (a title or a note)",)
    warnings = header.warnings + (above if header.skipped else ()) + foreign_warnings + mark_warnings + unit_warnings
    warnings += gender_warnings
    sha256 = files_sha256(parts, path)
    loaded = LoadedInput(parts, sha256, columns, unit, warnings + (orders.warnings if orders else ()), features, orders)
    described = header.described if len(parts) == 1 else f"{header.described}, {len(parts)} part files"
    create_raw_input(con, utf8_text(path), sha256, described, unit, scale, decimal_comma, m_is_female)
    return loaded


# What a value of a classic column the model does not need must look like, most of the time,
# for its header to mean that column: a number ('$72,500' too) at least 0, a whole number in range
# (a decimal point and zeros allowed).
CLASSIC_VALUES = {
    "annual_income_k": ("incomes", f"regexp_full_match(v, '{sql_text(ROUGH_NUMBER)}')"),
    "spending_score": ("spending scores of 1 to 100", "try_cast(v as decimal(18, 6)) between 1 and 100"),
    "age": ("ages of 1 to 120", "try_cast(v as decimal(18, 6)) between 1 and 120"),
}


def own_columns_for_foreign_values(
    con: duckdb.DuckDBPyConnection,
    columns: ColumnMap,
    required: tuple[str, ...],
    missing: list[str],
    reserved: frozenset[str],
) -> tuple[ColumnMap, tuple[str, ...]]:
    """A column named as an income, a spending score or an age (`Spending`, `Age (days)`) whose
    values, on the notation sample, are mostly not such (spend in dollars, days) and which the
    model does not read (`required`): a column of the file's own instead, its text kept as
    written, where staging would set each value to null; a warning says so."""
    foreign, warnings = [], []
    for column, (what, valid) in CLASSIC_VALUES.items():
        if column not in columns.positions or column in required:
            continue
        present, fitting, example = first_row(
            con,
            f"select count(*), count(*) filter (where {valid}), min(v) filter (where not coalesce({valid}, false)) "
            f"from (select trim({column}) as v from raw_customers_sample) "
            "where v <> '' and not list_contains($missing, lower(v))",
            {"missing": missing},
        )
        if fitting * 2 < present:
            foreign.append(column)
            warnings.append(
                f"{columns.source_name(column)!r} holds values such as {example!r}, not {what}: read as a column "
                "of the file's own, its text kept as written"
            )
    if not foreign:
        return columns, ()
    positions = {column: at for column, at in columns.positions.items() if column not in foreign}
    columns = ColumnMap(columns.names, positions, extra_names(columns.names, set(positions.values()), reserved))
    con.execute("drop view raw_customers")
    con.execute("drop table raw_columns")
    create_raw_customers(con, columns)
    create_notation_sample(con, "raw_customers")
    return columns, tuple(warnings)


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
        where {in_sample("raw_line")}
    """)


def decide_gender_codes(con: duckdb.DuckDBPyConnection, columns: ColumnMap) -> tuple[bool, tuple[str, ...]]:
    """Whether the file's gender `M` means mujer: a column of one-letter codes that writes H and
    M and never F is Spanish (hombre, mujer); elsewhere M is male (sql/seeds/gender_labels.csv).
    Read on the notation sample, as the decimal mark is; a warning says so."""
    if "gender" not in columns.positions:
        return False, ()
    h, m, f = first_row(
        con,
        "select count(*) filter (where code = 'h'), count(*) filter (where code = 'm'), "
        "count(*) filter (where code = 'f') "
        "from (select rtrim(lower(trim(gender)), '.') as code from raw_customers_sample)",
    )
    if h and m and not f:
        return True, (f"{columns.source_name('gender')!r} writes H and M: read as hombre and mujer (M is Female)",)
    return False, ()


def missing_markers(sql_dir: Path) -> list[str]:
    """What people write for "no value", in lower case: the seed staging compares values with."""
    with (sql_dir / "seeds" / "missing_value_markers.csv").open(encoding="utf-8", newline="") as seed:
        return [row["marker"] for row in csv.DictReader(seed)]
