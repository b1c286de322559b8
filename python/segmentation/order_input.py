"""Put the orders file (`--orders`), untouched, into its raw tables: `raw_order_records`,
`raw_order_parts`, `raw_orders` (each record's fields by name) and `raw_order_input`.

The orders go through the customer file's readers (`loader.read_input`: CSV, JSON, Parquet,
Excel, compressed, folders of parts), with the same header search, line numbers and rejected
records; only the columns differ (`config.ORDER_COLUMNS`: the customer id, the order date, an
amount or a unit price and a quantity; an order id, a currency and a status when the file has
them). Staging (`sql/orders/stg_order_rows.sql`) types them. What holds for the whole file is
decided here, from its values, as for the customer file: the decimal mark of the amounts, whether
a date such as 03/04/2024 is day first, and the currency of the amounts.

Without an orders file the tables exist, empty, so the models that read them build alike.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from .columns import (
    FALLBACK_ORDER_ALIASES,
    ORDER_ALIASES,
    PREFERRED_ORDER_ALIASES,
    ColumnMap,
    NotTheHeader,
    map_columns,
    order_mapping,
)
from .config import ORDER_COLUMNS, Settings
from .db import first_row, quote_ident
from .loader import LoadedOrders, create_named_records, files_sha256, missing_markers, read_input
from .number_formats import CURRENCY_SIGNS, create_notation_sample, currency_code, decide_decimal_mark, sampled
from .readers.raw import ORDER_RAW, PARTS_TABLE, RECORDS_TABLE
from .text import one_line, utf8_text

# The source tables this module creates
SOURCES = ("raw_order_records", "raw_order_parts", "raw_orders", "raw_order_input")

# Dates written with slashes or dashes and the day or month first: a first number above 12 says
# the day is first (31/01/2024), a second one above 12 that the month is (01/31/2024).
DATE_ORDER = """
select
    count(*) filter (where regexp_full_match(v, $day_first)),
    count(*) filter (where regexp_full_match(v, $month_first)),
    count(*) filter (where regexp_full_match(v, $slashed)),
    min(v) filter (where regexp_full_match(v, $slashed)),
    min(v) filter (where regexp_full_match(v, $day_first)),
    min(v) filter (where regexp_full_match(v, $month_first))
from (select trim(order_date) as v from raw_orders_sample)
"""
# The same, per part file of a folder
DATE_ORDER_BY_PART = """
select
    parts.file_name,
    count(*) filter (where regexp_full_match(sampled.v, $day_first)),
    count(*) filter (where regexp_full_match(sampled.v, $month_first))
from (select line_number, trim(order_date) as v from raw_orders_sample) as sampled
asof inner join raw_order_parts as parts on sampled.line_number >= parts.first_line
group by parts.file_name
order by min(parts.first_line)
"""
PART_PATTERNS = ("day_first", "month_first")
DATE_PATTERNS = {
    "day_first": "(1[3-9]|2[0-9]|3[01])[/-](0?[1-9]|1[0-2])[/-][0-9]{2,4}([ T].*)?",
    "month_first": "(0?[1-9]|1[0-2])[/-](1[3-9]|2[0-9]|3[01])[/-][0-9]{2,4}([ T].*)?",
    "slashed": "[0-9]{1,2}[/-][0-9]{1,2}[/-][0-9]{2,4}([ T].*)?",
}
# Dates of three two-digit numbers (23-11-28): the year may stand first or last. Its numbers
# take few values, a day's many: read year first when the first numbers take at most
# YEAR_VALUES values and the last at least DAY_VALUES among YEAR_ORDER_DATES dates or more, or
# when a first number is above 31.
SHORT_DATES = """
select
    count(*),
    count(distinct first),
    count(distinct last),
    coalesce(max(first::integer) > 31, false),
    min(v)
from (
    select
        v,
        regexp_extract(v, '^([0-9]{2})[/-]', 1) as first,
        regexp_extract(v, '^[0-9]{2}[/-][0-9]{1,2}[/-]([0-9]{2})', 1) as last
    from (select trim(order_date) as v from raw_orders_sample)
    where regexp_full_match(v, '[0-9]{2}[/-][0-9]{1,2}[/-][0-9]{2}([ T].*)?')
)
"""
YEAR_ORDER_DATES, YEAR_VALUES, DAY_VALUES = 20, 3, 8

# The currency most of the sampled lines' amounts are in (as the decimal mark, a notation holds
# for a whole file; orders in another currency, wherever they stand, are rejected by staging)
CURRENCIES = """
select code, count(*) as orders
from (select {code} as code from raw_orders_sample)
where not list_contains($missing, lower(code))
group by code
order by orders desc, code
limit 1
"""

# Without a currency column, the currency sign most of the sampled lines' amounts carry ($, €, £)
CURRENCY_SIGN = """
select sign, count(*) as orders
from (select regexp_extract({amount}, $signs) as sign from raw_orders_sample)
where sign <> ''
group by sign
order by orders desc, sign
limit 1
"""

# The currencies of the orders rejected for theirs, after staging
OTHER_CURRENCIES = """
select
    any_value(file_currency),
    list(currency || ' ' || format('{:,}', orders) order by orders desc, currency),
    sum(orders)::bigint
from (
    select stg_order_rows.currency, raw_order_input.currency as file_currency, count(*) as orders
    from stg_order_rows
    cross join raw_order_input
    where stg_order_rows.currency <> raw_order_input.currency
    group by all
)
"""

# The statuses of counted orders that the seed order_statuses does not know (one per key, by
# its smallest spelling), the five with most orders, with the orders and statuses of all.
UNKNOWN_STATUSES = """
select shown, orders, sum(orders) over () as all_orders, count(*) over () as statuses
from (
    select min(order_status) as shown, sum(orders) as orders
    from (
        select order_status, count(*) as orders
        from stg_order_rows
        where order_status is not null and excluded_reason is null and reject_reason is null
        group by order_status
    )
    where order_status_key(order_status) not in (select status from order_statuses)
    group by order_status_key(order_status)
)
order by orders desc, shown
limit 5
"""

# A staged line repeated from another part file (excluded as `duplicate of line N`)
REPEATED_LINE = "starts_with(coalesce({rows}excluded_reason, ''), 'duplicate of line')"

# The order ids whose usable purchase lines stand in more than one part file of a folder (lines
# alike in every field count once, `duplicate of line N`, and a refund may come in a later
# export): the first of them, its parts' names, and how many there are.
SPLIT_ORDERS = f"""
select
    any_value(rows.order_id order by rows.line_number),
    list_sort(list(distinct parts.file_name)),
    count(*) over ()
from stg_order_rows as rows
asof inner join raw_order_parts as parts on rows.line_number >= parts.first_line
where
    rows.order_id is not null
    and rows.reject_reason is null
    and not {REPEATED_LINE.format(rows="rows.")}
    and not coalesce(rows.amount < 0, false)
group by rows.order_id
having count(distinct parts.first_line) > 1
order by min(rows.line_number)
limit 1
"""

# Without --as-of, recency is counted to the latest counted line's day: that day, the day all
# but about one in a thousand lines are dated by, and --as-of.
LATEST_DAYS = """
select max(order_date), quantile_disc(order_date, 0.999), any_value(this_run.as_of_option)
from stg_orders
cross join this_run
where excluded_reason is null and order_date is not null
"""
# Days the latest line may stand after nearly all the others before a warning says so.
LATEST_GAP_DAYS = 30

RAW_ORDER_INPUT = """
create temp table raw_order_input as
select
    $role::varchar as role,
    $path::varchar as input_path,
    $sha256::varchar as input_sha256,
    $format::varchar as input_format,
    $decimal_comma::boolean as has_decimal_comma,
    $day_first::boolean as is_day_first,
    $year_first::boolean as is_year_first,
    $currency::varchar as currency,
    $has_currency_signs::boolean as has_currency_signs,
    $has_amount::boolean as has_amount
"""


def order_columns(names: tuple[str, ...], settings: Settings) -> ColumnMap:
    """The orders header's columns (NotTheHeader when a needed one is not there): the id, the
    date, and an amount or a unit price with a quantity."""
    explicit = order_mapping(settings.columns, names, shared_id=settings.input_path is not None)
    columns = map_columns(
        names,
        ("customer_id", "order_date"),
        explicit,
        ORDER_ALIASES,
        FALLBACK_ORDER_ALIASES,
        preferred=PREFERRED_ORDER_ALIASES,
    )
    if "amount" not in columns.positions and not {"unit_price", "quantity"} <= columns.positions.keys():
        raise NotTheHeader(
            f"missing column(s) amount (the header has: {', '.join(map(repr, names))}); name it with "
            "--columns amount=HEADER (or a unit price and a quantity: unit_price=HEADER,quantity=HEADER)"
        )
    return columns


def load_orders(con: duckdb.DuckDBPyConnection, settings: Settings, work: Path) -> LoadedOrders | None:
    """Read `--orders` into the `raw_order_*` tables; without it, create them empty and return None."""
    path = settings.orders_path
    if path is None:
        no_orders(con)
        return None
    alone = settings.input_path is None
    parts, header, columns, line, _ = read_input(
        con,
        path,
        ORDER_RAW,
        work,
        lambda names: order_columns(names, settings),
        settings.sheet if alone else None,  # --sheet and --encoding are the customer file's when there is one
        settings.encoding if alone else None,
    )
    create_named_records(con, ORDER_RAW, columns, tuple(ORDER_COLUMNS), extras=False)
    create_notation_sample(con, "raw_orders")
    amount = "amount" if "amount" in columns.positions else "unit_price"
    decimal_comma, mark_warnings = decide_decimal_mark(con, columns, [amount], "raw_orders")
    year_first, year_warnings = decide_year_first(con, columns)
    day_first, date_warnings = (False, year_warnings) if year_first else decide_date_order(con, columns)
    currency, from_signs = decide_currency(con, columns, missing_markers(settings.sql_dir), amount)
    lines = f"{header.skipped} {line}{'' if header.skipped == 1 else 's'}"
    above = (f"the header is {line} {header.line}: {lines} above it skipped (a title or a note)",)
    warnings = header.warnings + (above if header.skipped else ()) + mark_warnings + date_warnings
    warnings = tuple(f"{path.name}: {warning}" for warning in warnings)
    described = header.described if len(parts) == 1 else f"{header.described}, {len(parts)} part files"
    sha256 = files_sha256(parts, path)
    con.execute(
        RAW_ORDER_INPUT,
        {
            "role": "alone" if alone else "joined",
            "path": utf8_text(path),
            "sha256": sha256,
            "format": described,
            "decimal_comma": decimal_comma,
            "day_first": day_first,
            "year_first": year_first,
            "currency": currency,
            "has_currency_signs": from_signs,
            "has_amount": amount == "amount",
        },
    )
    return LoadedOrders(parts, sha256, columns, currency, warnings)


def no_orders(con: duckdb.DuckDBPyConnection) -> None:
    """The `raw_order_*` tables of a build without an orders file: empty."""
    con.execute(RECORDS_TABLE.format(records=ORDER_RAW.records))
    con.execute(PARTS_TABLE.format(parts=ORDER_RAW.parts))
    names = ("customer_id", "order_date", "amount")
    columns = ColumnMap(names, {name: position for position, name in enumerate(names, 1)}, {})
    create_named_records(con, ORDER_RAW, columns, tuple(ORDER_COLUMNS), extras=False)
    con.execute(
        RAW_ORDER_INPUT,
        {
            "role": "none",
            "path": None,
            "sha256": None,
            "format": None,
            "decimal_comma": False,
            "day_first": False,
            "year_first": False,
            "currency": None,
            "has_currency_signs": False,
            "has_amount": True,
        },
    )


def decide_year_first(con: duckdb.DuckDBPyConnection, columns: ColumnMap) -> tuple[bool, tuple[str, ...]]:
    """Whether dates of three two-digit numbers (23-11-28) are year first (SHORT_DATES), with
    the warning that says so."""
    dates, firsts, lasts, above_31, example = first_row(con, SHORT_DATES)
    spread = dates >= YEAR_ORDER_DATES and firsts <= YEAR_VALUES and lasts >= DAY_VALUES
    if not (above_31 or spread):
        return False, ()
    header = columns.source_name("order_date")
    year, month, day = re.match(r"([0-9]{2})[/-]([0-9]{1,2})[/-]([0-9]{2})", example).groups()  # type: ignore[union-attr]
    return True, (
        f"{header!r} writes dates year first: '{example}' is 20{year}-{int(month):02d}-{day} "
        f"({sampled(con, 'raw_orders')}, the first numbers take {firsts:,} values, the last {lasts:,})",
    )


def decide_date_order(con: duckdb.DuckDBPyConnection, columns: ColumnMap) -> tuple[bool, tuple[str, ...]]:
    """Whether a date written with slashes or dashes and two short numbers first (03/04/2024) is
    day first: as most of the dates that say it do (31/01/2024), read on the notation sample as
    the decimal mark is; month first when none says, with a warning."""
    day_first, month_first, slashed, example, a_day_first, a_month_first = first_row(con, DATE_ORDER, DATE_PATTERNS)
    header = columns.source_name("order_date")
    if day_first and month_first:  # both ways in one file: the fewer cannot be read
        chosen, fewer = ("day", a_month_first) if day_first > month_first else ("month", a_day_first)
        why = "as most are" if day_first != month_first else "the reading when none says, as many are either way"
        # parts of a folder written the other way round: their dates of days up to 12 are misread
        opposite = "month" if chosen == "day" else "day"
        by_part = DATE_ORDER_BY_PART if part_files(con) > 1 else None
        other = [
            name
            for name, days, months in (
                con.execute(by_part, {k: DATE_PATTERNS[k] for k in PART_PATTERNS}).fetchall() if by_part else []
            )
            if (days > months if opposite == "day" else months > days)
        ]
        other_parts = (
            f"; {', '.join(other)} {'writes' if len(other) == 1 else 'write'} them {opposite} first: "
            "their other dates are read with day and month swapped (write them as 2024-06-12 first)"
            if other
            else ""
        )
        return day_first > month_first, (
            f"{header!r} writes dates both day first ({day_first:,} such as '{a_day_first}') and month first "
            f"({month_first:,} such as '{a_month_first}') {sampled(con, 'raw_orders')}: read "
            f"{chosen} first, {why}; the others ('{fewer}') are rejected as not dates{other_parts}",
        )
    if day_first or month_first:
        return day_first > month_first, ()
    if slashed:
        return False, (
            f"{header!r} writes dates such as '{example}' with no day above 12 {sampled(con, 'raw_orders')}: "
            "read month first (US); a date such as 31/01/2024 says day first",
        )
    return False, ()


def decide_currency(
    con: duckdb.DuckDBPyConnection, columns: ColumnMap, missing: list[str], amount: str = "amount"
) -> tuple[str | None, bool]:
    """The currency of the amounts, and whether their signs say it: the code most of the sampled
    lines' orders are in; without a currency column (or with one left empty), the currency sign
    most of their amounts (the column `amount`) carry, None when none does. Amounts in
    different currencies cannot be added: orders in any other are rejected by staging, and
    `currency_warning` says how many there are in each."""
    if "currency" in columns.positions:
        found = con.execute(CURRENCIES.format(code=currency_code("currency")), {"missing": missing}).fetchall()
        if found:
            return found[0][0], False
    sign = con.execute(CURRENCY_SIGN.format(amount=quote_ident(amount)), {"signs": f"[{CURRENCY_SIGNS}]"}).fetchall()
    return (sign[0][0] if sign else None), True


def status_warning(con: duckdb.DuckDBPyConnection) -> str | None:
    """The line a build prints when counted orders have a status the seed order_statuses does
    not know (once staged): a shop's word for cancelled it lacks would count them silently."""
    unknown = con.execute(UNKNOWN_STATUSES).fetchall()  # the five with most orders
    if not unknown:
        return None
    shown = ", ".join(f"'{one_line(status)}' ({orders:,})" for status, orders, _, _ in unknown)
    all_orders, statuses = unknown[0][2:]
    return (
        f"{all_orders:,} orders have a status the warehouse does not know "
        f"({shown}{', …' if statuses > len(unknown) else ''}): they are counted; if one means cancelled, refunded "
        "or failed, leave those orders out of the file"
    )


def part_files(con: duckdb.DuckDBPyConnection) -> int:
    """How many files the orders were read from: more than one for a folder of parts."""
    return first_row(con, "select count(*) from raw_order_parts")[0]


def split_orders_warning(con: duckdb.DuckDBPyConnection) -> str | None:
    """The line a build prints when an order's lines differ between the part files of a folder
    whose parts overlap (lines alike in several of them: exports of the same weeks), once staged:
    a later export with an order's status or amount changed, or written another way, counts that
    order's lines in each. Parts that split one export, or months that do not overlap, say
    nothing."""
    overlapping = f"select count(*) from stg_order_rows where {REPEATED_LINE.format(rows='')}"
    if part_files(con) < 2 or not first_row(con, overlapping)[0]:
        return None
    found = con.execute(SPLIT_ORDERS).fetchall()
    if not found:
        return None
    order_id, files, orders = found[0]
    return (
        f"{orders:,} order{' has' if orders == 1 else 's have'} lines in several part files that are not alike, "
        f"in parts that overlap (such as order '{one_line(order_id)}' in {' and '.join(files[:2])}"
        f"{' and more' if len(files) > 2 else ''}): each part's lines of them count; if the parts are exports of "
        "the same orders, keep each order in one of them (the latest)"
    )


def latest_day_warning(con: duckdb.DuckDBPyConnection) -> str | None:
    """The line a build prints when, without --as-of, the latest counted line stands far after
    nearly all the others (a date mistyped a year ahead): recency is counted to its day, so every
    customer's recency grows by the gap."""
    latest, nearly_all, as_of = first_row(con, LATEST_DAYS)
    if as_of is not None or latest is None or (latest - nearly_all).days <= LATEST_GAP_DAYS:
        return None
    later = first_row(
        con,
        "select count(*) from stg_orders where excluded_reason is null and order_date > $day",
        {"day": nearly_all},
    )[0]
    return (
        f"the latest order is dated {latest}, {(latest - nearly_all).days} days after all but {later:,} of the "
        f"orders ({nearly_all}): recency is counted to {latest}; if that date is mistyped, give --as-of"
    )


def currency_warning(con: duckdb.DuckDBPyConnection) -> str | None:
    """The line a build prints when orders were rejected for their currency (once staged)."""
    currency, others, rejected = con.execute(OTHER_CURRENCIES).fetchall()[0]
    if not rejected:
        return None
    shown = ", ".join(others[:5]) + (", …" if len(others) > 5 else "")
    return (
        f"the amounts are in {len(others) + 1} currencies: the {rejected:,} orders in other than {currency} "
        f"({shown}) are rejected, as amounts in different currencies cannot be added (convert them first to "
        "count them)"
    )
