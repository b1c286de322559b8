"""How numbers are written: the patterns staging reads a value with (`NUMBER_PATTERNS`, rendered
into the macro number_from_text), and what is decided once for the whole file from its values:
the decimal mark (`decide_decimal_mark`), the unit of the incomes (`decide_income_unit`: the
option, else what the header says, `income_unit`, else the values' median), and whether a
feature's values are numbers at all (`check_numbers`). Staging divides the incomes by the
unit's size (1 / raw_input.income_scale); the segmented CSV multiplies it back, to write the
input's own unit."""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb

from .columns import ColumnMap
from .db import first_row, quote_ident, quote_literal
from .features import Feature
from .readers.raw import SAMPLE_STEP

CURRENCY_SIGNS = "$€£"  # what may stand before a number's digits, after its sign
# The currency codes a sign means wherever it is written, in a currency column too ($ is the
# dollar of many countries: no code)
SIGN_CODES = {"€": "EUR", "£": "GBP"}


def currency_code(value: str) -> str:
    """SQL: a currency as written (the SQL `value`) as its code: upper case, trimmed, a sign of
    SIGN_CODES as its code (as the macro currency_code of sql/orders/stg_order_rows.sql)."""
    signs = " ".join(f"when '{sign}' then '{code}'" for sign, code in SIGN_CODES.items())
    return f"case upper(trim({value})) {signs} else upper(trim({value})) end"


# What splits a number's thousands besides the mark that is not its decimal mark: a space, as
# French writes it (no-break or narrow no-break too: 1 234,50), or an apostrophe, as Swiss does
# (1'234.50).
GROUP_MARKS = " \u00a0\u202f\u2009'\u2019"


def written_number(decimal: str, groups: str) -> str:
    """A number as people write it with `decimal` as its decimal mark: a sign, a currency sign
    before its digits or after them, a space between or not (as German and French shops write
    '45,10 €'), digits split in thousands by any of `groups` or not, decimals ('$1,234.50',
    '-800', '.5', '€ 12', '1.045,10 €')."""
    c, d, g = CURRENCY_SIGNS, re.escape(decimal), "".join(map(re.escape, groups))
    before, after = f"([{c}][ \u00a0]?)?", f"([ \u00a0]?[{c}])?"
    return f"[+-]?{before}([0-9]{{1,3}}([{g}][0-9]{{3}})+|[0-9]+)({d}[0-9]*)?{after}|[+-]?{before}{d}[0-9]+{after}"


def sql_text(pattern: str) -> str:
    """A pattern as it stands between the quotes of an SQL text: its quotes doubled."""
    return pattern.replace("'", "''")


# What staging reads as a number (the macro number_from_text): the patterns, by name, of a
# value written with a point or a comma as decimal mark, and of what to drop from each (the
# currency signs and the thousands' marks); rendered between an SQL text's quotes.
NUMBER_PATTERNS = {
    "whole": "[0-9]{1,15}",
    # an amount in a file of decimal points, as most are written ('46.94')
    "plain_decimals": r"-?[0-9]{1,15}\.[0-9]{1,6}",
    "decimal_comma": sql_text(written_number(",", "." + GROUP_MARKS)),
    "decimal_point": sql_text(written_number(".", "," + GROUP_MARKS)),
    # a decimal comma in a file that otherwise writes points ('89,5')
    "stray_decimal_comma": rf"[+-]?[{CURRENCY_SIGNS}]?([0-9]{{1,3}}(\.[0-9]{{3}})+|[0-9]+),[0-9]{{1,2}}",
    "currency_signs": CURRENCY_SIGNS,
    # within [...]: what a number written with a decimal comma, or point, drops
    "comma_drops": sql_text(re.escape(CURRENCY_SIGNS + "." + GROUP_MARKS)),
    "point_drops": sql_text(re.escape(CURRENCY_SIGNS + "," + GROUP_MARKS)),
}

# Above this median an income without a unit in its header is taken to be in dollars.
DOLLARS_MEDIAN = 1_000
# What stands around a number's digits and says nothing of its decimal mark: a sign, an
# accountant's brackets, a currency sign before or after
NUMBER_MARKS = "+-()" + CURRENCY_SIGNS
# A file's notation (its decimal mark, its dates' order, its currency, what its codes mean)
# holds for the whole file, and is read on a sample of about this many of its records spread
# over it (`create_notation_sample`): never its first lines, which in an export sorted by date
# are one month's.
NOTATION_SAMPLE = 20_000
DECIMAL_MARKS = """
select
    count(*) filter (where regexp_full_match(v, $said_comma)),
    count(*) filter (where regexp_full_match(v, $said_point)),
    count(*) filter (where column_name = $hinting and regexp_full_match(v, $hinted_comma)),
    count(*) filter (where column_name = $hinting and regexp_full_match(v, $hinted_point)),
    min((number, column_name)) filter (where column_name = $hinting and regexp_full_match(v, $hinted_comma))
from (
    select trim(number) as number, column_name, trim(trim(trim(number), $signs)) as v
    from ({values})
)
"""


def create_notation_sample(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """`<table>_sample`: about NOTATION_SAMPLE records of `table` (all of a smaller one), chosen
    by a hash of each record as written: the same records whatever the file's row order (and
    whatever its ids: a placeholder id on many lines would pick all of them or none). The
    records views apply the step themselves (`SAMPLE_STEP`), on the lines before they are split."""
    records = first_row(con, f"select count(*) from {quote_ident(table)}")[0]
    try:
        con.execute(f"set variable {SAMPLE_STEP} = $step", {"step": max(1, records // NOTATION_SAMPLE)})
        con.execute(
            f"create or replace temp table {quote_ident(table + '_sample')} as select * from {quote_ident(table)}"
        )
    finally:
        con.execute(f"reset variable {SAMPLE_STEP}")


def sampled(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Where a notation was read, for a warning: among the file's lines, or a sample of them."""
    records, sample = first_row(
        con,
        f"select (select count(*) from {quote_ident(table)}), (select count(*) from {quote_ident(table + '_sample')})",
    )
    return "among its lines" if sample == records else f"among {sample:,} of its lines sampled over the file"


def decimal_mark_patterns(decimal: str, group: str) -> dict[str, str]:
    """Numbers (sign and dollar sign stripped) that say `decimal` is their decimal mark: it is
    their last mark and followed by other than three digits ('89,5'), or by any after a zero
    or nothing, as no group of thousands starts ('0,750', ',750'), it follows groups split by
    `group` or a space or an apostrophe ('89.000,50', '1 234,50'), or `group` splits groups
    twice ('1.250.000'). Whole thousands split by `group` ('70.000') only hint at it: three
    decimals that are all zeros are rare, unlike '48.561', which says nothing."""
    name = {",": "comma", ".": "point"}[decimal]
    d, g = re.escape(decimal), re.escape(group)
    groups = "".join(map(re.escape, group + GROUP_MARKS))
    said = (
        f"[0-9]{{1,3}}([{groups}][0-9]{{3}})+{d}[0-9]*|[0-9]*{d}([0-9]{{1,2}}|[0-9]{{4,}})|0?{d}[0-9]+"
        f"|[0-9]{{1,3}}({g}[0-9]{{3}}){{2,}}"
    )
    return {f"said_{name}": said, f"hinted_{name}": f"[0-9]{{1,3}}{g}000"}


def decide_decimal_mark(
    con: duckdb.DuckDBPyConnection,
    columns: ColumnMap,
    numbers: Sequence[str] = ("annual_income_k",),
    table: str = "raw_customers",
) -> tuple[bool, tuple[str, ...]]:
    """Whether the file writes its numbers (the incomes and the features of its own, or the
    amounts of orders: the columns `numbers` of `table`) with a decimal comma (True) or point:
    as most of the values that say it do, else as most of those of the first column that hint
    at it; a warning when that reading turns a value such as '70.000' into 70,000. One mark for
    every column: a file writes its numbers one way. Only the incomes' (or amounts') whole
    thousands hint: a feature written with three decimals has its '1.000' too. A sign and a
    currency sign, before the digits or after them ('€1.312,59', '1.312,59 €'), are set aside."""
    values = " union all ".join(
        f"select {quote_ident(column)} as number, {quote_literal(column)} as column_name "
        f"from {quote_ident(table + '_sample')}"
        for column in numbers
    )
    said_comma, said_point, hinted_comma, hinted_point, example = first_row(
        con,
        DECIMAL_MARKS.format(values=values),
        {"signs": NUMBER_MARKS, "hinting": numbers[0]}
        | decimal_mark_patterns(",", ".")
        | decimal_mark_patterns(".", ","),
    )
    comma = said_comma > said_point if said_comma or said_point else hinted_comma > hinted_point
    if comma and hinted_comma:
        text, column = example
        header = columns.source_name(column) if column in columns.positions else column  # a feature of its own
        number = float(text.strip(NUMBER_MARKS + " ").replace(".", ""))
        return True, (f"{header!r} is written with decimal commas: '{text}' is read as {number:,.0f}",)
    return comma, ()


def income_unit(header: str) -> str | None:
    """'k' or 'dollars' when the income header says its unit, else None. Thousands as finance
    and German headers write them ($000, '000, 000s, Tsd., TUSD) are 'k', though they name dollars."""
    text = header.casefold()
    if re.search(r"k\s*\$|\$\s*k|\(k\)|thousand|k\s*usd|usd\s*k|\bk\b|\b000s?\b|\btsd\b|\btusd\b", text):
        return "k"
    if re.search(r"\$|usd|dollar", text):
        return "dollars"
    return None


def decide_income_unit(
    con: duckdb.DuckDBPyConnection, columns: ColumnMap, option: str | None, decimal_comma: bool
) -> tuple[str, tuple[str, ...]]:
    """'k' or 'dollars': from --income-unit, else from the header, else from the values (with
    a warning saying so). A header that says thousands over values of dollars gets a warning,
    and one that says dollars over values of thousands."""
    if "annual_income_k" not in columns.positions:
        return "k", ()
    header = columns.source_name("annual_income_k")
    if option:
        return option, ()
    stated = income_unit(header)
    median = income_median(con, decimal_comma)
    if stated == "dollars":
        if median is not None and median < DOLLARS_MEDIAN:
            return "dollars", (
                f"{header!r} says dollars, but its median is {median:,.0f} ({median:,.0f} dollars a year, "
                f"{median / 1000:g} k$): read as dollars, as it says (--income-unit k if they are thousands)",
            )
        return "dollars", ()
    if stated == "k":
        if median is not None and median > DOLLARS_MEDIAN:
            return "k", (
                f"{header!r} says thousands, but its median is {median:,.0f} (as k$, {median / 1000:,.0f} million "
                "dollars a year): read as thousands, as it says (--income-unit dollars if they are dollars)",
            )
        return "k", ()
    if median is not None and median > DOLLARS_MEDIAN:
        warning = (
            f"{header!r} says neither thousands nor dollars, and its median is {median:,.0f}: read as whole "
            "units and converted to thousands (--income-unit k to keep it)"
        )
        return "dollars", (warning,)
    return "k", ()


def income_median(con: duckdb.DuckDBPyConnection, decimal_comma: bool) -> float | None:
    """The median of the incomes of the notation sample (spread over the file, whatever its
    order), each read roughly with the file's decimal mark: enough to tell thousands from
    dollars."""
    drops, mark = (f"[$.{GROUP_MARKS}]", ",") if decimal_comma else (f"[$,{GROUP_MARKS}]", ".")
    return first_row(
        con,
        "select median(try_cast(replace(regexp_replace(income, $drops, '', 'g'), $mark, '.') as double)) from "
        "(select trim(annual_income_k) as income from raw_customers_sample)",
        {"drops": drops, "mark": mark},
    )[0]


# A rough reading of a value as a number (sign, currency before or after, separators and spaces
# aside), enough to tell a column of numbers from one of text before staging reads each value
# exactly.
CURRENCY_AFTER = rf"(\s*[{CURRENCY_SIGNS}])?"
ROUGH_UNSIGNED = (
    rf"[{CURRENCY_SIGNS}]?\s*[0-9][0-9.,{GROUP_MARKS}]*([eE][+-]?[0-9]+)?{CURRENCY_AFTER}"
    rf"|[{CURRENCY_SIGNS}]?[.,][0-9]+{CURRENCY_AFTER}"
)
ROUGH_NUMBER = rf"[+-]?({ROUGH_UNSIGNED})|\(({ROUGH_UNSIGNED})\)"  # '(97.18)': an accountant's negative


def check_numbers(con: duckdb.DuckDBPyConnection, features: tuple[Feature, ...], missing: list[str]) -> None:
    """Refuse a feature of the input's own whose values are mostly not numbers (a text or a
    yes/no column), naming it and showing a few of its values; read on the notation sample, as
    the decimal mark is."""
    for feature in (f for f in features if f.kind == "number"):
        column = quote_ident(feature.feature)
        values, numbers, examples = first_row(
            con,
            f"select count(*), count(*) filter (where regexp_full_match(v, $number)), "
            f"list(distinct v) filter (where not regexp_full_match(v, $number))[:4] "
            f"from (select trim({column}) as v from raw_customers_sample) "
            f"where not list_contains($missing, lower(v))",
            {"number": ROUGH_NUMBER, "missing": missing},
        )
        if values - numbers > values / 2:
            shown = ", ".join(repr(v) for v in sorted(examples))
            raise ValueError(
                f"--features {feature.source_column}: {values - numbers:,} of {values:,} values read are not "
                f"numbers (e.g. {shown}): a feature is a measure, such as an amount, a count or a score"
            )
