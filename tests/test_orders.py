"""An orders file (--orders): read by the customer file's readers, staged with rejects, summed
into customer_rfm (checked against pandas), its measures as features, RFM names for segments,
joined to a customer file, and compared over two exports."""

from __future__ import annotations

import csv
import gzip
import html
import json
import math
import re
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from conftest import (
    UNDESCRIBED_COLUMNS,
    command_in_process,
    pipeline_command,
    query,
    reserved_names,
    run_build,
    sql_models,
)
from segmentation import reports
from segmentation.building import build
from segmentation.config import SAMPLE_INPUT, SAMPLE_ORDERS, SQL_DIR, Settings
from segmentation.dag import materialize
from segmentation.db import model_features
from segmentation.errors import InputError
from segmentation.history import carry_history
from segmentation.loader import load_raw
from segmentation.order_input import currency_warning, latest_day_warning, split_orders_warning, status_warning
from segmentation.sample_data import generate_customers, write_orders
from segmentation.schema import load_schema

ORDER_MODELS = (
    "order_statuses",
    "guest_customer_ids",
    "missing_value_markers",
    "reject_reasons",
    "padding_characters",
    "int_value_conventions",
    "trim_padding",
    "customer_key",
    "number_from_text",
    "order_status_key",
    "stg_order_rows",
    "stg_orders",
    "order_rejects",
)
RFM_COLUMNS = [
    "customer_id",
    "first_order_date",
    "last_order_date",
    "days_since_last_order",
    "order_count",
    "total_spend",
    "average_spend",
    "refunded_amount",
    "tenure_days",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "as_of_date",
]
HEADER = ["Order ID", "Customer ID", "Order Date", "Total", "Currency", "Status"]
# a date as shops, tills and spreadsheets write it; the slashes day first, as 31/01/2024 says
DATE_FORMATS = ("{:%Y-%m-%d}", "{:%Y-%m-%dT%H:%M:%SZ}", "{:%d.%m.%Y}", "{:%d/%m/%Y}", "{:%b %d, %Y}", "{:%Y%m%d}")


# --- a shop's export, and what it means ------------------------------------------------------


def shop_export(seed: int = 1, customers: int = 120, big_orders: int = 10_000) -> tuple[list[list[str]], pd.DataFrame]:
    """The rows of a messy orders export (as text, in file order) and each row's meaning: one
    customer with `big_orders` orders, orders split over two lines, cancelled and refunded
    statuses (in several spellings), refund lines with negative amounts, dates in six formats,
    empty and lower-case currencies, a few orders in USD, and three unusable rows."""
    rng = np.random.default_rng(seed)
    start = date(2023, 1, 1)
    orders = []  # customer, order id, day, amount, status
    counts = {f"C-{n:04d}": int(rng.integers(1, 25)) for n in range(1, customers + 1)} | {"BIG": big_orders}
    number = 0
    for customer, many in counts.items():
        for _ in range(many):
            number += 1
            day = start + timedelta(days=int(rng.integers(0, 730)))
            amount = round(float(rng.gamma(2.0, 30.0)) + 1, 2)
            status = rng.choice(
                ["completed", "", "cancelled", "Refunded", "wc-cancelled"], p=[0.8, 0.1, 0.05, 0.03, 0.02]
            )
            orders.append((customer, f"A{number:06d}", day, amount, str(status)))
    rows, meaning = [], []

    def add(customer, order_id, day, amount, status, currency="EUR", counts=True, rejected=False, text=None):
        written_date = DATE_FORMATS[len(rows) % len(DATE_FORMATS)].format(day) if text is None else text
        rows.append(
            [
                order_id,
                customer,
                written_date,
                f"{amount:.2f}" if isinstance(amount, float) else amount,
                currency,
                status,
            ]
        )
        meaning.append(
            {
                "customer_id": customer,
                "order_id": order_id,
                "order_date": day,
                "amount": amount,
                "counts": counts and not rejected,
                "rejected": rejected,
            }
        )

    for index, (customer, order_id, day, amount, status) in enumerate(orders):
        counts_ = status.lower() in ("completed", "")
        currency = ("EUR", "", "eur")[index % 3]
        if index % 7 == 3:  # one order on two lines: its items
            first = round(amount / 3, 2)
            add(customer, order_id, day, first, status, currency, counts_)
            add(customer, order_id, day, round(amount - first, 2), status, currency, counts_)
        else:
            add(customer, order_id, day, amount, status, currency, counts_)
        if index % 31 == 5 and counts_:  # part of it paid back later, on a line of its own
            add(customer, f"R{order_id}", day + timedelta(days=3), -round(amount / 2, 2), "completed", currency)
    for n in range(7):  # orders in another currency: rejected, never added to euros
        add(f"C-{n + 1:04d}", f"U{n}", start + timedelta(days=100 + n), 50.0, "completed", "USD", rejected=True)
    add("", "X1", start, 10.0, "completed", rejected=True)
    add("C-0001", "X2", start, 10.0, "completed", rejected=True, text="soon")
    add("C-0002", "X3", start, "abc", "completed", rejected=True)
    return rows, pd.DataFrame(meaning)


def expected_rfm(meaning: pd.DataFrame, as_of: date | None = None) -> pd.DataFrame:
    """customer_rfm as pandas computes it from what each row means."""
    counted = meaning[meaning["counts"]].copy()
    if as_of is not None:
        counted = counted[counted["order_date"] <= as_of]
    counted["amount"] = counted["amount"].astype(float)
    as_of = as_of or counted["order_date"].max()
    purchases = counted[counted["amount"] >= 0]
    refunds = counted[counted["amount"] < 0]
    per = purchases.groupby("customer_id").agg(
        first_order_date=("order_date", "min"),
        last_order_date=("order_date", "max"),
        order_count=("order_id", "nunique"),
        purchases=("amount", "sum"),
    )
    per["refunded_amount"] = -refunds.groupby("customer_id")["amount"].sum().reindex(per.index).fillna(0.0)
    per["total_spend"] = (per["purchases"] - per["refunded_amount"]).clip(lower=0)
    per["average_spend"] = per["total_spend"] / per["order_count"]
    per["days_since_last_order"] = [(as_of - d).days for d in per["last_order_date"]]
    per["tenure_days"] = [(as_of - d).days for d in per["first_order_date"]]
    n = len(per)

    def score(values: pd.Series, ascending: bool) -> pd.Series:
        ranks = values.rank(method="min", ascending=ascending)
        return (1 + np.floor(5 * (ranks - 1) / n)).astype(int)

    per["recency_score"] = score(per["days_since_last_order"], ascending=False)
    per["frequency_score"] = score(per["order_count"], ascending=True)
    per["monetary_score"] = score(per["total_spend"].round(6), ascending=True)
    per["as_of_date"] = as_of
    return per.reset_index()[RFM_COLUMNS].sort_values("customer_id").reset_index(drop=True)


def write_rows(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def stage_orders(con: duckdb.DuckDBPyConnection, work: Path, orders: Path, customers: Path | None = None, **changes):
    """Load the files and build the orders models as a build would (no clustering)."""
    settings = replace(
        Settings(input_path=customers, orders_path=orders, warehouse_path=work / "none.duckdb"), **changes
    )
    loaded = load_raw(con, settings, work / "input", reserved_names(SQL_DIR))
    carry_history(con, settings)
    by_name = sql_models(SQL_DIR)
    role = con.execute("select role from raw_order_input").fetchall()[0][0]
    for name in (*ORDER_MODELS, "customer_rfm"):
        materialize(con, by_name[name], None, model_features(con), role)
    return loaded


def rfm_frame(con_or_path) -> pd.DataFrame:
    sql = f"select {', '.join(RFM_COLUMNS)} from customer_rfm order by customer_id"
    if isinstance(con_or_path, Path):
        with duckdb.connect(str(con_or_path), read_only=True) as con:
            return con.sql(sql).df()
    return con_or_path.sql(sql).df()


def assert_same_rfm(found: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(found["customer_id"]) == list(expected["customer_id"])
    for column in RFM_COLUMNS[1:]:
        left, right = found[column], expected[column]
        if column.endswith("_date"):
            assert [pd.Timestamp(v).date() for v in left] == [pd.Timestamp(v).date() for v in right], column
        else:
            assert np.allclose(left.astype(float), right.astype(float), rtol=0, atol=1e-6), column


def sample_orders_alone(folder: Path, **changes) -> Settings:
    """A build of the bundled orders alone into `folder`."""
    return Settings(
        input_path=None,
        orders_path=SAMPLE_ORDERS,
        warehouse_path=folder / "w.duckdb",
        reports_dir=folder / "reports",
        **changes,
    )


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    rows, meaning = shop_export()
    return write_rows(tmp_path_factory.mktemp("shop") / "orders.csv", rows), meaning


# --- customer_rfm against pandas --------------------------------------------------------------


def test_customer_rfm_matches_pandas_on_a_messy_export(con, tmp_path, export):
    path, meaning = export
    loaded = stage_orders(con, tmp_path, path)
    assert_same_rfm(rfm_frame(con), expected_rfm(meaning))
    warning = currency_warning(con)
    # the big customer is one row, with all its orders
    big = con.execute("select order_count from customer_rfm where customer_id = 'BIG'").fetchall()
    assert big == [(expected_rfm(meaning).set_index("customer_id").loc["BIG", "order_count"],)]
    assert big[0][0] > 9_000
    # the currency is stated, and the other one refused
    assert loaded.orders is not None and loaded.orders.currency == "EUR"
    assert warning is not None and "2 currencies: the 7 orders in other than EUR (USD 7) are rejected" in warning


def test_every_unusable_order_is_rejected_with_its_line_and_reason(con, tmp_path, export):
    path, meaning = export
    stage_orders(con, tmp_path, path)
    rejects = con.execute("select line_number, reject_reason from order_rejects order by 1").fetchall()
    expected_lines = [int(i) + 2 for i in meaning.index[meaning["rejected"]]]
    assert [line for line, _ in rejects] == expected_lines
    reasons = [reason for _, reason in rejects]
    assert (
        reasons[:7] == ["currency USD differs from the file's EUR: amounts in different currencies cannot be added"] * 7
    )
    assert reasons[7:] == ["customer_id is missing", "order_date 'soon' is not a date", "amount 'abc' is not a number"]
    kinds = con.execute("select reason_code, reason_column from order_rejects order by line_number").fetchall()
    assert kinds == [("other_currency", "currency")] * 7 + [
        ("missing", "customer_id"),
        ("not_a_date", "order_date"),
        ("not_a_number", "amount"),
    ]
    described = "select count(*) from order_rejects anti join reject_reasons using (reason_code)"
    assert con.execute(described).fetchall() == [(0,)]
    usable, rows = con.execute(
        "select (select count(*) from stg_orders), (select sum(records) from raw_order_parts)"
    ).fetchall()[0]
    assert usable + len(rejects) == rows == len(meaning)


def test_cancelled_and_refunded_orders_are_kept_with_why_they_do_not_count(con, tmp_path, export):
    path, meaning = export
    stage_orders(con, tmp_path, path)
    found = dict(con.execute("select excluded_reason, count(*) from stg_orders group by all order by all").fetchall())
    uncounted = (~meaning["counts"] & ~meaning["rejected"]).sum()
    assert sum(n for reason, n in found.items() if reason is not None) == uncounted
    assert set(found) == {None, "cancelled", "refunded"}  # 'wc-cancelled' and 'Refunded' too


def test_dates_in_every_format_are_the_same_day(con, tmp_path):
    day = date(2024, 1, 31)
    rows = [[f"O{n}", "A", fmt.format(day), "10", "", ""] for n, fmt in enumerate(DATE_FORMATS)]
    rows += [["O9", "A", "31 Jan 2024", "10", "", ""], ["O10", "A", "31-01-24", "10", "", ""]]
    rows += [["O11", "A", "2024-01-31 23:59:59+05:00", "10", "", ""], ["O12", "A", "31.1.2024 10:00", "10", "", ""]]
    # a dash as the fifth character, as an ISO date has, after a one-digit month
    rows += [["O13", "A", "31-1-2024", "10", "", ""], ["O14", "A", "31-1-24", "10", "", ""]]
    stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    assert con.execute("select distinct order_date from stg_orders").fetchall() == [(day,)]
    assert con.execute("select count(*) from order_rejects").fetchall() == [(0,)]


@pytest.mark.parametrize(
    ("written", "year_first"),
    [("{d:%y-%m-%d}", True), ("{d:%d-%m-%y}", False), ("{d:%y/%m/%d}", True), ("{d:%m/%d/%y}", False)],
)
def test_dates_of_three_two_digit_numbers_are_year_first_when_the_file_says_so(con, tmp_path, written, year_first):
    """The year takes few values, the day many: 23-11-28 in a file of such dates is 2023-11-28."""
    days = [date(2023, 1, 2) + timedelta(days=17 * n) for n in range(40)]
    rows = [[f"O{n}", f"C{n % 7}", written.format(d=day), "10", "", ""] for n, day in enumerate(days)]
    loaded = stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    assert [d for (d,) in con.execute("select order_date from stg_orders order by line_number").fetchall()] == days
    said = [w for w in loaded.warnings if "year first" in w]
    assert bool(said) == year_first
    if year_first:
        example = written.format(d=days[0])
        assert said == [
            f"o.csv: 'Order Date' writes dates year first: '{example}' is 2023-01-02 (among its lines, "
            f"the first numbers take 2 values, the last {len({d.day for d in days})})"
        ]


@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest-first", "newest-first"])
def test_a_long_export_sorted_by_date_is_read_by_the_whole_file(con, tmp_path, newest_first):
    """30,000 orders of 1 to 15 December, day first, and a shop that moved from EUR to USD on the
    6th: whichever way the export is sorted, the days above 12 at one end of it say day first,
    and the currency most orders are in is the file's."""
    rows = []
    for day in range(1, 16):
        currency = "EUR" if day <= 5 else "USD"
        rows += [[f"O{day}-{n}", f"C{n % 500}", f"{day:02d}/12/2024", "10.00", currency, ""] for n in range(2_000)]
    stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows[::-1] if newest_first else rows))
    assert con.execute("select currency, min(order_date), max(order_date) from stg_orders group by 1").fetchall() == [
        ("USD", date(2024, 12, 6), date(2024, 12, 15))
    ]
    assert con.execute("select count(*) from order_rejects").fetchall() == [(10_000,)]  # the EUR ones


def test_slashed_dates_are_month_first_unless_the_file_says_otherwise(con, tmp_path):
    rows = [["1", "A", "03/04/2024", "10", "", ""], ["2", "A", "12/25/2024", "10", "", ""]]
    stage_orders(con, tmp_path, write_rows(tmp_path / "us.csv", rows))
    assert con.execute("select order_date from stg_orders order by 1").fetchall() == [
        (date(2024, 3, 4),),
        (date(2024, 12, 25),),
    ]


def test_a_part_file_writing_dates_the_other_way_round_is_named(con, tmp_path):
    """A folder of a US export (month first) and a smaller German one (day first): read month
    first, as most are; the German part's dates of days above 12 are rejected, and the warning
    names that part, whose other dates are read with day and month swapped."""
    folder = tmp_path / "orders"
    folder.mkdir()
    days = [date(2024, 1, 1) + timedelta(days=n) for n in range(150)]
    us = [[f"U{n}", f"C{n % 9}", f"{d:%m/%d/%Y}", "10", "", ""] for n, d in enumerate(days)]
    de = [[f"D{n}", f"K{n % 9}", f"{d:%d/%m/%Y}", "10", "", ""] for n, d in enumerate(days[:60])]
    write_rows(folder / "de.csv", de)
    write_rows(folder / "us.csv", us)
    loaded = stage_orders(con, tmp_path, folder)
    said = [w for w in loaded.warnings if "writes dates both day first" in w]
    assert len(said) == 1 and said[0].endswith(
        "; de.csv writes them day first: their other dates are read with day and month swapped (write them as "
        "2024-06-12 first)"
    )


def test_an_ambiguous_date_order_is_said(con, tmp_path):
    rows = [["1", "A", "03/04/2024", "10", "", ""]]
    loaded = stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    assert any("read month first" in w for w in loaded.warnings)


def test_dates_written_both_day_and_month_first_are_said(con, tmp_path):
    rows = [["1", "A", "12/25/2024", "10", "", ""], ["2", "A", "11/20/2024", "10", "", ""]]
    rows += [["3", "A", "13/01/2024", "10", "", ""]]
    loaded = stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    assert (
        "o.csv: 'Order Date' writes dates both day first (1 such as '13/01/2024') and month first (2 such as "
        "'11/20/2024') among its lines: read month first, as most are; the others ('13/01/2024') "
        "are rejected as not dates"
    ) in loaded.warnings
    assert con.execute("select line_number from order_rejects").fetchall() == [(4,)]


def test_dates_written_as_often_day_as_month_first_say_which_was_chosen_and_why(con, tmp_path):
    rows = [["1", "A", "12/25/2024", "10", "", ""], ["2", "A", "13/01/2024", "10", "", ""]]
    loaded = stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    assert any(
        "read month first, the reading when none says, as many are either way; the others ('13/01/2024')" in warning
        for warning in loaded.warnings
    )


def test_decimal_commas_and_currency_signs_in_amounts(con, tmp_path):
    rows = [["1", "A", "2024-01-01", "1.250,75", "", ""], ["2", "A", "2024-01-02", "€12,5", "", ""]]
    rows += [["3", "B", "2024-01-03", "-3,25", "", ""]]
    stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    assert con.execute("select amount from stg_orders order by line_number").fetchall() == [
        (1250.75,),
        (12.5,),
        (-3.25,),
    ]


def test_a_currency_sign_after_the_amount_or_apart_from_it_is_read(con, tmp_path):
    """As German and French shops write amounts: the sign after them, a space between or not."""
    amounts = ["45,10 €", "45,10€", "€ 45,10", "1.045,10 €", "-5,00 €", "12,5\u00a0€"]
    rows = [[f"O{n}", "A", "2024-01-01", amount, "", ""] for n, amount in enumerate(amounts)]
    loaded = stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    assert loaded.orders is not None and loaded.orders.currency == "€"
    assert con.execute("select count(*) from order_rejects").fetchall() == [(0,)]
    assert con.execute("select amount from stg_orders order by line_number").fetchall() == [
        (45.1,),
        (45.1,),
        (45.1,),
        (1045.1,),
        (-5.0,),
        (12.5,),
    ]


def test_amounts_in_other_currency_signs_are_not_added_without_a_currency_column(con, tmp_path):
    rows = [
        [f"O{n}", "A", "2024-01-01", amount, "", ""] for n, amount in enumerate(["$10.00", "$12.50", "20", "€11.00"])
    ]
    loaded = stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    assert loaded.orders is not None and loaded.orders.currency == "$"
    assert con.execute("select sum(amount), list(distinct currency) from stg_orders").fetchall() == [(42.5, ["$"])]
    assert con.execute("select line_number, reject_reason from order_rejects").fetchall() == [
        (5, "currency € differs from the file's $: amounts in different currencies cannot be added")
    ]
    assert "the 1 orders in other than $ (€ 1) are rejected" in currency_warning(con)


def test_a_currency_sign_in_the_currency_column_is_its_code(con, tmp_path):
    """€ and EUR are one currency, £ and GBP another, whichever a line's currency column holds."""
    currencies = ["EUR", "€", "eur", " € ", "EUR", "£"]
    rows = [[f"O{n}", "A", "2024-01-01", "10.00", currency, ""] for n, currency in enumerate(currencies)]
    loaded = stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    assert loaded.orders is not None and loaded.orders.currency == "EUR"
    assert con.execute("select sum(amount) from stg_orders").fetchall() == [(50.0,)]
    assert con.execute("select line_number, reject_reason from order_rejects").fetchall() == [
        (7, "currency GBP differs from the file's EUR: amounts in different currencies cannot be added")
    ]


@pytest.mark.parametrize("minus", ["-{}", "({})", "(${})"], ids=["minus", "brackets", "brackets-and-sign"])
def test_negative_amounts_are_refunds_and_spend_never_goes_below_zero(con, tmp_path, minus):
    rows = [["1", "A", "2024-01-01", "100", "", ""], ["2", "A", "2024-01-05", minus.format(30), "", ""]]
    rows += [["3", "B", "2024-01-02", "20", "", ""], ["4", "B", "2024-01-03", minus.format(50), "", ""]]
    stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    found = con.execute(
        "select customer_id, order_count, total_spend, refunded_amount, last_order_date, days_since_last_order "
        "from customer_rfm order by 1"
    ).fetchall()
    # the as-of date is the last counted line's, the refund's; a refund is no order
    assert found == [("A", 1, 70.0, 30.0, date(2024, 1, 1), 4), ("B", 1, 0.0, 50.0, date(2024, 1, 2), 3)]


def test_a_line_of_an_order_repeated_by_overlapping_exports_counts_once(con, tmp_path):
    """Two exports in one folder that share a week: the week's lines once. Within one file, two
    lines alike are two items alike (a till's); lines without an order id are orders each."""
    first = [["O1", "A", "2024-01-01", "100", "", "completed"], ["O1", "A", "2024-01-01", "100", "", "completed"]]
    first += [["O2", "A", "2024-02-01", "50", "", "completed"]]
    second = [["O2", "A", "2024-02-01", "50", "", "completed"], ["O3", "B", "2024-02-03", "20", "", "completed"]]
    second += [["", "B", "2024-03-01", "5", "", ""], ["", "B", "2024-03-01", "5", "", ""]]
    folder = tmp_path / "orders"
    folder.mkdir()
    write_rows(folder / "export_1.csv", first)
    write_rows(folder / "export_2.csv", second)
    # saved again by a spreadsheet: every field quoted, CRLF line ends, the amount with decimals;
    # an order alike but for one field is another
    third = [["O3", "B", "2024-02-03", "20.00", "", "completed"], ["O3", "B", "2024-02-03", "20.50", "", "completed"]]
    with (folder / "export_3.csv").open("w", newline="", encoding="utf-8") as file:
        csv.writer(file, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows([HEADER, *third])
    stage_orders(con, tmp_path, folder)
    found = con.execute("select customer_id, order_count, total_spend from customer_rfm order by 1").fetchall()
    assert found == [("A", 2, 250.0), ("B", 3, 50.5)]
    excluded = "select line_number, excluded_reason from stg_orders where excluded_reason is not null"
    assert con.execute(excluded).fetchall() == [(6, "duplicate of line 4"), (11, "duplicate of line 7")]


def test_a_latest_order_far_after_all_the_others_is_said(con, tmp_path):
    """One order typed a year ahead: recency is counted to its day, every customer's a year
    longer; a warning names it and --as-of. Given --as-of, or on the sample's dates, none."""
    rows = [[f"O{n}", f"C{n % 40}", f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}", "10", "", ""] for n in range(2000)]
    rows.append(["O-typo", "C1", "2025-12-30", "10", "", ""])
    path = write_rows(tmp_path / "o.csv", rows)
    stage_orders(con, tmp_path, path)
    assert latest_day_warning(con) == (
        "the latest order is dated 2025-12-30, 367 days after all but 1 of the orders (2024-12-28): recency is "
        "counted to 2025-12-30; if that date is mistyped, give --as-of"
    )
    with duckdb.connect() as given:
        stage_orders(given, tmp_path, path, as_of=date(2024, 12, 31))
        assert latest_day_warning(given) is None
    with duckdb.connect() as sample:
        stage_orders(sample, tmp_path, SAMPLE_ORDERS)
        assert latest_day_warning(sample) is None


def test_orders_whose_lines_differ_between_overlapping_part_files_are_said(con, tmp_path):
    """Two weekly exports in a folder that overlap (O2's line is in both), where the later has an
    order's status or amount changed: both weeks' lines count, and a warning names such an order
    and its parts. Parts that split one export (an order's items in two), months that do not
    overlap with a refund in the later, or one file: nothing to say."""
    first = [["O1", "A", "2024-06-20", "100.00", "EUR", "completed"], ["O2", "B", "2024-06-21", "80.00", "EUR", "paid"]]
    first += [["O3", "C", "2024-06-22", "60.00", "EUR", "processing"]]
    second = [["O1", "A", "2024-06-20", "100.00", "EUR", "refunded"], ["O2", "B", "2024-06-21", "80.00", "EUR", "paid"]]
    second += [["O3", "C", "2024-06-22", "75.00", "EUR", "completed"]]
    folder = tmp_path / "orders"
    folder.mkdir()
    write_rows(folder / "week_25.csv", first)
    write_rows(folder / "week_26.csv", second)
    stage_orders(con, tmp_path, folder)
    assert split_orders_warning(con) == (
        "2 orders have lines in several part files that are not alike, in parts that overlap (such as order 'O1' "
        "in week_25.csv and week_26.csv): each part's lines of them count; if the parts are exports of the same "
        "orders, keep each order in one of them (the latest)"
    )
    # one export split in two parts (an order's two items, one in each); two months, the later
    # with a refund of an order of the earlier
    items = [["O1", "A", "2024-06-20", "10.00", "EUR", "paid"], ["O2", "B", "2024-06-21", "5.00", "EUR", "paid"]]
    split = ([items[0], items[1]], [["O1", "A", "2024-06-20", "12.00", "EUR", "paid"]])
    months = ([items[0]], [["O1", "A", "2024-07-02", "-10.00", "EUR", "refunded"], items[1]])
    for name, (one, two) in {"split": split, "months": months}.items():
        parts = tmp_path / name
        parts.mkdir()
        write_rows(parts / "part-0.csv", one)
        write_rows(parts / "part-1.csv", two)
        with duckdb.connect() as other:
            stage_orders(other, tmp_path, parts)
            assert split_orders_warning(other) is None, name
    with duckdb.connect() as one_file:
        stage_orders(one_file, tmp_path, write_rows(tmp_path / "o.csv", first + second))
        assert split_orders_warning(one_file) is None


@pytest.mark.parametrize("names", [("a.csv", "b.csv"), ("b.csv", "a.csv")], ids=["in-order", "renamed"])
def test_overlapping_exports_count_a_repeated_line_as_often_as_one_of_them_has_it(con, tmp_path, names):
    """January to May holds two items alike of an April order, April to June one (the other
    returned, or the export dropped it): two count, whichever file's name comes first."""
    folder = tmp_path / "orders"
    folder.mkdir()
    april = ["O7", "A", "2024-04-02", "30.00", "", ""]
    write_rows(folder / names[0], [["O1", "A", "2024-01-05", "10.00", "", ""], april, april])
    write_rows(folder / names[1], [april, ["O9", "A", "2024-06-01", "5.00", "", ""]])
    stage_orders(con, tmp_path, folder)
    assert con.execute("select order_count, total_spend from customer_rfm").fetchall() == [(3, 75.0)]
    excluded = "select count(*) from stg_orders where excluded_reason like 'duplicate of line %'"
    assert con.execute(excluded).fetchall() == [(1,)]


@pytest.mark.parametrize("reverse", [False, True], ids=["as-written", "lines-reversed"])
def test_an_email_address_is_one_customer_in_any_case(con, tmp_path, reverse):
    rows = [["O1", "Ann@Shop.com", "2024-01-01", "10", "", ""], ["O2", "ann@shop.com", "2024-01-02", "20", "", ""]]
    rows += [["O3", "Bob@Shop.com", "2024-01-03", "5", "", ""], ["O4", "Bob@Shop.com", "2024-01-04", "5", "", ""]]
    stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows[::-1] if reverse else rows))
    found = con.execute("select customer_id, order_count, total_spend from customer_rfm order by 1").fetchall()
    # as compared, whatever the lines' order and however many ways it is written
    assert found == [("ann@shop.com", 2, 30.0), ("bob@shop.com", 2, 10.0)]


@pytest.mark.parametrize("dated", [False, True], ids=["blank-date", "date-repeated"])
def test_the_further_lines_of_an_order_in_a_line_item_export_are_its_lines(con, tmp_path, dated):
    """Shopify's export: an order's total and status on its first line, blank on its further
    lines, which hold its items (its date there too, or not). They are no rejects: the order is
    one, its total counted once, its items all, and a cancelled order's further lines are
    cancelled too."""
    first, third = ("2024-03-01 10:00:00 +0100", "2024-03-03 12:00:00 +0100") if dated else ("", "")
    text = "\n".join(
        [
            "Name,Email,Financial Status,Total,Created at,Lineitem quantity,Lineitem name",
            "#1001,ann@example.com,paid,54.90,2024-03-01 10:00:00 +0100,1,Mug",
            f"#1001,ann@example.com,,,{first},2,Tea",
            "#1002,bob@example.com,paid,20.00,2024-03-02 11:00:00 +0100,1,Mug",
            "#1003,ann@example.com,voided,99.00,2024-03-03 12:00:00 +0100,1,Pot",
            f"#1003,,,,{third},3,Tea",
            "#1004,ann@example.com,paid,10.00,2024-03-04 09:00:00 +0100,1,Tea",
        ]
    )
    path = tmp_path / "orders_export.csv"
    path.write_text(text + "\n")
    stage_orders(con, tmp_path, path, columns={"order_id": "Name"})
    assert con.execute("select count(*) from order_rejects").fetchall() == [(0,)]
    found = con.execute("select customer_id, order_count, total_spend, items from customer_rfm order by 1").fetchall()
    assert found == [("ann@example.com", 2, 64.9, 4), ("bob@example.com", 1, 20.0, 1)]
    assert con.execute(
        "select line_number, customer_id, order_date, amount, excluded_reason from stg_orders "
        "where line_number in (3, 6)"
    ).fetchall() == [
        (3, "ann@example.com", date(2024, 3, 1), 0.0, None),
        (6, "ann@example.com", date(2024, 3, 3), 0.0, "cancelled"),
    ]


def test_a_refund_of_an_order_that_does_not_count_is_not_subtracted_again(con, tmp_path):
    """A shop's export with a refunded order and its refund transaction: the order's amount was
    never spent, so its refund line does not lower the spend of the others."""
    rows = [["1", "A", "2024-01-01", "100", "", "completed"], ["2", "A", "2024-02-01", "100", "", "completed"]]
    rows += [["O1-R", "A", "2024-03-01", "50", "", "refunded"], ["O1-R", "A", "2024-03-05", "-50", "", "completed"]]
    rows += [["O2", "B", "2024-03-01", "80", "", "completed"], ["O2", "B", "2024-03-06", "-30", "", "completed"]]
    stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    found = con.execute(
        "select customer_id, order_count, total_spend, refunded_amount from customer_rfm order by 1"
    ).fetchall()
    assert found == [("A", 2, 200.0, 0.0), ("B", 1, 50.0, 30.0)]
    assert con.execute("select excluded_reason from stg_orders where line_number = 5").fetchall() == [
        ("refund of an order that does not count",)
    ]


def test_as_of_counts_recency_to_that_day_and_leaves_later_orders_out(con, tmp_path, export):
    path, meaning = export
    as_of = date(2024, 6, 30)
    stage_orders(con, tmp_path, path, as_of=as_of)
    assert_same_rfm(rfm_frame(con), expected_rfm(meaning, as_of))
    later = con.execute("select count(*) from stg_orders where excluded_reason = 'after the as-of date'").fetchall()
    assert later[0][0] == ((meaning["order_date"] > as_of) & meaning["counts"]).sum()


def test_ties_share_the_score_of_the_lowest_place_they_hold(con, tmp_path):
    # 10 customers: 6 with one order, 2 with two, 2 with three
    orders = {"A": 1, "B": 1, "C": 1, "D": 1, "E": 1, "F": 1, "G": 2, "H": 2, "I": 3, "J": 3}
    rows = [[f"{c}{n}", c, "2024-01-01", "10", "", ""] for c, many in orders.items() for n in range(many)]
    stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    scores = dict(con.execute("select customer_id, frequency_score from customer_rfm").fetchall())
    assert {c: scores[c] for c in "AFGHIJ"} == {"A": 1, "F": 1, "G": 4, "H": 4, "I": 5, "J": 5}


def test_without_an_amount_unit_price_times_quantity_is_one(con, tmp_path):
    # an invoice list as retail datasets hold them: a C-prefixed invoice is a cancellation
    header = ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
    rows = [
        ["536365", "85123A", "6", "12/1/2010 8:26", "2.55", "17850", "United Kingdom"],
        ["536365", "71053", "6", "12/1/2010 8:26", "3.39", "17850", "United Kingdom"],
        ["C536379", "D", "-1", "12/1/2010 9:41", "27.50", "17850", "United Kingdom"],
        ["536367", "84879", "32", "12/1/2010 8:34", "1.69", "13047", "United Kingdom"],
    ]
    stage_orders(con, tmp_path, write_rows(tmp_path / "retail.csv", rows, header))
    assert con.execute("select customer_id, order_count, total_spend from customer_rfm order by 1").fetchall() == [
        ("13047", 1, 54.08),
        ("17850", 1, round(6 * 2.55 + 6 * 3.39 - 27.5, 6)),
    ]


@pytest.mark.parametrize("total", ["Line Total", "Net Amount", "Zeilensumme (EUR)", "Totaalbedrag", "Total TTC"])
def test_a_lines_own_total_is_its_amount_not_price_times_quantity(con, tmp_path, total):
    """An invoice line's total holds its discount: unit price times quantity would overstate it."""
    header = ["Order ID", "Customer ID", "Order Date", "Quantity", "Unit Price", "Discount", total]
    rows = [
        ["1", "A", "2024-01-05", "2", "10.00", "5.00", "15.00"],
        ["2", "A", "2024-02-05", "1", "20.00", "0", "20.00"],
    ]
    stage_orders(con, tmp_path, write_rows(tmp_path / "lines.csv", rows, header))
    assert con.execute("select total_spend from customer_rfm").fetchall() == [(35.0,)]


@pytest.mark.parametrize("total", ["Line Total", "Item Total", "Extended Price"])
def test_an_orders_total_beside_a_lines_own_total_suggests_the_lines(con, tmp_path, total):
    """A line-item export repeats its order's total on each of the order's lines: the amount a
    line adds is its own total, which the error suggests; the order's would count once per line."""
    header = ["Order ID", "Customer ID", "Order Date", "Order Total", total]
    rows = [["1", "A", "2024-01-05", "35.00", "15.00"], ["1", "A", "2024-01-05", "35.00", "20.00"]]
    path = write_rows(tmp_path / "items.csv", rows, header)
    with pytest.raises(InputError) as refused:
        stage_orders(con, tmp_path, path)
    suggested = re.search(r"--columns (amount=.*)$", str(refused.value))
    assert suggested and suggested[1] == f"amount={total}"
    with duckdb.connect() as again:  # as the suggestion says
        stage_orders(again, tmp_path, path, columns={"amount": total})
        assert again.execute("select total_spend from customer_rfm").fetchall() == [(35.0,)]


@pytest.mark.parametrize("kind", ["parquet", "jsonl", "xlsx", "gz", "folder"])
def test_every_format_the_customer_file_takes(con, tmp_path, kind):
    rows = [[f"O{n}", f"C{n % 5}", f"2024-0{n % 9 + 1}-1{n % 9}", f"{10 + n}.5", "EUR", ""] for n in range(40)]
    csv_path = write_rows(tmp_path / "orders.csv", rows)
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    if kind == "parquet":
        path = tmp_path / "orders.parquet"
        duckdb.from_df(frame).write_parquet(str(path))
    elif kind == "jsonl":
        path = tmp_path / "orders.jsonl"
        path.write_text("".join(json.dumps(record) + "\n" for record in frame.to_dict("records")))
    elif kind == "xlsx":
        path = tmp_path / "orders.xlsx"
        frame.to_excel(path, index=False)
    elif kind == "gz":
        path = tmp_path / "orders.csv.gz"
        path.write_bytes(gzip.compress(csv_path.read_bytes()))
    else:
        path = tmp_path / "parts"
        path.mkdir()
        write_rows(path / "part-0.csv", rows[:20])
        write_rows(path / "part-1.csv", rows[20:])
    with duckdb.connect() as reference:
        stage_orders(reference, tmp_path / "ref", csv_path)
        expected = rfm_frame(reference)
    stage_orders(con, tmp_path / "work", path)
    pd.testing.assert_frame_equal(rfm_frame(con), expected)


def test_order_columns_are_found_by_name_or_mapped(con, tmp_path):
    header = ["Kunde", "Bestellnummer", "Datum", "Betrag", "Währung", "Bestellstatus"]
    rows = [["K1", "B1", "31.01.2024", "12,50", "EUR", "storniert"], ["K1", "B2", "01.02.2024", "7,50", "EUR", ""]]
    path = write_rows(tmp_path / "bestellungen.csv", rows, header)
    with pytest.raises(InputError, match=r"missing column.*customer_id.*--columns"):
        stage_orders(con, tmp_path / "a", path)
    with duckdb.connect() as again:
        stage_orders(again, tmp_path / "b", path, columns={"customer_id": "Kunde"})
        assert again.execute("select customer_id, order_count, total_spend from customer_rfm").fetchall() == [
            ("K1", 1, 7.5)
        ]


def test_statuses_as_shops_write_them_that_do_not_count(con, tmp_path):
    """A status in any case, with a shop's prefix or a final dot, its accent written as a
    combining mark too; an order that does not count by its status needs no amount."""
    statuses = ["CANCELLED.", "Payment failed", "chargeback", "wc-refunded", "Completed.", "", "Annule\u0301e"]
    statuses += ["cancelled"]
    rows = [[f"O{i}", "C1", "2024-01-0" + str(i + 1), "10.00", "EUR", status] for i, status in enumerate(statuses)]
    rows[-1][3] = ""  # a cancelled order's amount left blank
    path = write_rows(
        tmp_path / "orders.csv", rows, ["Order ID", "Customer ID", "Order Date", "Amount", "Currency", "Status"]
    )
    stage_orders(con, tmp_path / "work", path)
    assert con.execute("select count(*) from order_rejects").fetchall() == [(0,)]
    found = con.execute("select order_status, excluded_reason from stg_orders order by order_id").fetchall()
    assert found == [
        ("CANCELLED.", "cancelled"),
        ("Payment failed", "failed"),
        ("chargeback", "refunded"),
        ("wc-refunded", "refunded"),
        ("Completed.", None),
        (None, None),
        ("Annule\u0301e", "cancelled"),
        ("cancelled", "cancelled"),
    ]
    assert con.execute("select order_count, total_spend from customer_rfm").fetchall() == [(2, 20.0)]


@pytest.mark.parametrize(
    ("status", "meaning"),
    [("Geannuleerd", "cancelled"), ("terugbetaald", "refunded"), ("Mislukt", "failed"), ("Estornado", "refunded")]
    + [(status, None) for status in ("Voltooid", "Verzonden", "wc-on-hold", "Bezahlt", "Livrée", "Spedito")],
)
def test_statuses_of_seven_languages_count_or_not_without_a_warning(con, tmp_path, status, meaning):
    rows = [["O1", "C1", "2024-01-01", "10.00", "EUR", status], ["O2", "C1", "2024-01-02", "5.00", "EUR", "paid"]]
    path = write_rows(
        tmp_path / "orders.csv", rows, ["Order ID", "Customer ID", "Order Date", "Amount", "Currency", "Status"]
    )
    stage_orders(con, tmp_path / "work", path)
    assert con.execute("select excluded_reason from stg_orders where order_id = 'O1'").fetchall() == [(meaning,)]
    assert status_warning(con) is None


def test_a_status_the_warehouse_does_not_know_counts_and_is_named(con, tmp_path):
    """One that could mean anything (a shop's own word) is counted, as a status-less order is,
    and the build names it: it may be a cancellation in a language the seed lacks."""
    statuses = ["Awaiting Pickup", "awaiting_pickup", "Completed", "Odottaa", "", "cancelled"]
    rows = [[f"O{i}", "C1", f"2024-01-0{i + 1}", "10.00", "EUR", status] for i, status in enumerate(statuses)]
    path = write_rows(
        tmp_path / "orders.csv", rows, ["Order ID", "Customer ID", "Order Date", "Amount", "Currency", "Status"]
    )
    stage_orders(con, tmp_path / "work", path)
    assert con.execute("select order_count, total_spend from customer_rfm").fetchall() == [(5, 50.0)]
    assert status_warning(con) == (
        "3 orders have a status the warehouse does not know ('Awaiting Pickup' (2), 'Odottaa' (1)): they are "
        "counted; if one means cancelled, refunded or failed, leave those orders out of the file"
    )


def test_files_that_name_customers_by_different_ids_say_so(tmp_path):
    customers = tmp_path / "customers.csv"
    customers.write_text("CustomerID,Email,Annual Income (k$),Spending Score (1-100)\n1,ann@shop.com,40,50\n")
    orders = write_rows(tmp_path / "orders.csv", [["O1", "ann@shop.com", "2024-01-01", "10", "", ""]])
    settings = Settings(
        input_path=customers, orders_path=orders, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r"
    )
    with pytest.raises(InputError) as refused:
        run_build(settings)
    assert str(refused.value) == (
        f"{customers}: none of its 1 customers has an order in orders.csv: no id is in both (the file's first is "
        "'1', the orders' first 'ann@shop.com'); join them by ids of one kind (--columns customer_id=HEADER names "
        "another column)"
    )


def test_a_guests_order_counts_for_no_customer(con, tmp_path):
    """A shop's guest checkout or a till's walk-in has no customer: such orders are no one's."""
    ids = ["A", "Guest", "GUEST", "Walk-in", "A", " Gastkunde ", "Invité"]
    rows = [[f"O{n}", customer, f"2024-01-0{n + 1}", "10", "", ""] for n, customer in enumerate(ids)]
    stage_orders(con, tmp_path, write_rows(tmp_path / "o.csv", rows))
    assert con.execute("select customer_id, order_count, total_spend from customer_rfm").fetchall() == [("A", 2, 20.0)]
    assert con.execute("select count(*) from order_rejects").fetchall() == [(0,)]
    excluded = "select count(*) from stg_orders where excluded_reason = 'a guest''s order, without a customer'"
    assert con.execute(excluded).fetchall() == [(5,)]


def test_an_orders_file_without_an_amount_says_what_to_name(con, tmp_path):
    path = write_rows(tmp_path / "o.csv", [["1", "A", "2024-01-01"]], ["Order ID", "Customer ID", "Order Date"])
    with pytest.raises(InputError, match=r"missing column\(s\) amount .*--columns amount=HEADER"):
        stage_orders(con, tmp_path, path)


# --- whole builds ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def orders_alone(tmp_path_factory, export) -> tuple[Settings, list[str]]:
    root = tmp_path_factory.mktemp("alone")
    lines: list[str] = []
    settings = Settings(
        input_path=None, orders_path=export[0], warehouse_path=root / "w.duckdb", reports_dir=root / "reports"
    )
    build(settings, log=lines.append)
    return settings, lines


def test_every_column_of_a_build_on_orders_is_described(orders_alone):
    """The orders' measures on customer_segments as customer_rfm documents them."""
    path = orders_alone[0].warehouse_path
    assert query(path, UNDESCRIBED_COLUMNS) == []
    assert query(
        path,
        "select a.comment = b.comment from duckdb_columns() as a join duckdb_columns() as b using (column_name) "
        "where a.table_name = 'customer_segments' and b.table_name = 'customer_rfm' and column_name = 'total_spend'",
    ) == [(True,)]


def test_orders_alone_segment_the_ids_of_the_orders_on_rfm(orders_alone, export):
    settings, lines = orders_alone
    path = settings.warehouse_path
    expected = expected_rfm(export[1])
    assert_same_rfm(rfm_frame(path), expected)
    assert query(path, "select count(*) from customer_segments") == [(len(expected),)]
    assert query(path, "select spec from model_features order by position") == [
        ("days_since_last_order",),
        ("order_count",),
        ("total_spend:log",),
    ]
    # the measures travel with each customer, to the segmented CSV too
    header = (settings.reports_dir / "segmented_customers.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "Customer ID" and header[-2:] == ["Cluster", "Segment"] and "rfm_score" in header
    run = query(path, "select input_path, orders_path, order_rows, rejected_order_rows, as_of_date from pipeline_runs")
    assert run[0][0] == run[0][1] == str(export[0].resolve()) and run[0][2:4] == (len(export[1]), 10)
    assert any("currencies" in line for line in lines)
    report = (settings.reports_dir / "index.html").read_text()
    as_of = str(expected["as_of_date"].iloc[0])
    assert "As of" in report and as_of in report and "order_rejects" in report


def test_rfm_segments_have_unique_rfm_names(orders_alone):
    path = orders_alone[0].warehouse_path
    names = query(path, "select segment_label, base_label, persona, marketing_actions from segment_summary")
    regions = {name for (name,) in query(path, "select segment_name from rfm_segments")}
    labels = [label for label, *_ in names]
    assert len(set(labels)) == len(labels) == 5
    assert all(base in regions and persona and actions for _, base, persona, actions in names)


def test_the_rfm_map_names_every_pair_of_scores_once():
    seed = pd.read_csv(SQL_DIR / "seeds" / "rfm_segments.csv")
    cells = [
        (r, v)
        for _, row in seed.iterrows()
        for r in range(row.recency_min, row.recency_max + 1)
        for v in range(row.value_min, row.value_max + 1)
    ]
    assert sorted(cells) == [(r, v) for r in range(1, 6) for v in range(1, 6)]


@pytest.mark.parametrize("k", [2, 9])
def test_rfm_names_stay_unique_for_any_k(tmp_path, k):
    settings = sample_orders_alone(tmp_path, k=k)
    run_build(settings)
    labels = [label for (label,) in query(settings.warehouse_path, "select segment_label from segment_summary")]
    assert len(set(labels)) == len(labels) == k


def test_the_sample_names_its_segments_as_marketers_do(tmp_path):
    settings = Settings(
        input_path=None, orders_path=SAMPLE_ORDERS, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r"
    )
    run_build(settings)
    groups = generate_customers(200, 7).set_index("CustomerID")["group"]
    found = query(settings.warehouse_path, "select customer_id, segment_label from customer_segments")
    label_of_group = pd.DataFrame(found, columns=["id", "label"]).assign(
        group=lambda f: groups[f["id"].astype(int)].values
    )
    most = label_of_group.groupby("group")["label"].agg(lambda labels: labels.mode()[0]).to_dict()
    assert most == {
        "target": "Champions",
        "high_income_low_spending": "At Risk",
        "low_income_low_spending": "Hibernating",
        "low_income_high_spending": "Promising",
        "standard": "Need Attention",
    }


def test_both_files_join_by_id_and_count_what_does_not_match(tmp_path):
    customers = tmp_path / "customers.csv"
    lines = SAMPLE_INPUT.read_text().splitlines()
    customers.write_text("\n".join([lines[0], *lines[1:181], "9001,Female,30,50,50"]) + "\n")  # ids 1..180 and 9001
    orders = pd.read_csv(SAMPLE_ORDERS, dtype=str)
    extra = pd.DataFrame([["X-1", "777", "2024-12-01", "30.0", "EUR", "completed"]], columns=orders.columns)
    pd.concat([orders, extra]).to_csv(tmp_path / "orders.csv", index=False)
    settings = Settings(
        input_path=customers,
        orders_path=tmp_path / "orders.csv",
        warehouse_path=tmp_path / "w.duckdb",
        reports_dir=tmp_path / "r",
    )
    result = run_build(settings)
    path = settings.warehouse_path
    with_orders = {i for (i,) in query(path, "select customer_id from customer_rfm")}
    unknown = {i for (i,) in query(path, "select customer_id from orders_without_customer")}
    assert unknown == with_orders - {str(n) for n in range(1, 181)}
    assert "777" in unknown
    no_orders = query(
        path,
        "select customer_id from customer_rejects join stg_customer_rows using (line_number) "
        "where customer_rejects.reject_reason = 'has no orders'",
    )
    assert ("9001",) in no_orders
    assert result.orders is not None
    assert result.orders.unknown_customers == len(unknown) and result.orders.customers_without_orders == len(no_orders)
    assert result.customers == 181 - len(no_orders)
    # the customer's own columns and the orders' measures side by side
    row = query(path, "select gender, age, order_count, rfm_score from customer_segments where customer_id = '1'")
    assert row[0][0] in ("Male", "Female") and row[0][2] > 0 and len(row[0][3]) == 3


def test_a_customer_without_orders_is_kept_when_the_model_reads_only_counts_and_spend(tmp_path):
    customers = tmp_path / "customers.csv"
    lines = SAMPLE_INPUT.read_text().splitlines()
    customers.write_text("\n".join([*lines, "9001,Female,30,50,50"]) + "\n")
    settings = Settings(
        input_path=customers,
        orders_path=SAMPLE_ORDERS,
        warehouse_path=tmp_path / "w.duckdb",
        reports_dir=tmp_path / "r",
        features=("frequency", "monetary:log", "income"),
    )
    run_build(settings)
    assert query(
        settings.warehouse_path, "select order_count, total_spend from stg_customers where customer_id = '9001'"
    ) == [(0, 0.0)]


def test_a_default_feature_that_does_not_vary_is_not_said_to_be_the_users_choice(tmp_path):
    rows = [
        [f"O{i}", f"C{i % 40}", f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", f"{10 + i % 17}", "", ""] for i in range(120)
    ]
    settings = Settings(
        input_path=None, orders_path=write_rows(tmp_path / "o.csv", rows), warehouse_path=tmp_path / "w.duckdb"
    )
    with pytest.raises(InputError) as error:
        run_build(settings, reports_dir=tmp_path / "r")
    assert (
        "o.csv: order_count (a feature of the default model; choose others with --features): every customer has the "
        "same value (3)"
    ) in str(error.value)


@pytest.fixture
def tokyo(monkeypatch):
    """The machine's time zone is Tokyo's (DuckDB takes it from TZ for each new connection)."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_zoned_order_times_are_the_same_days_on_every_machine(tmp_path, tokyo):
    """A Parquet TIMESTAMPTZ late in the evening (UTC) is that day's order wherever the build runs, and
    the report's build time, said in UTC, is the UTC time recorded."""
    path = tmp_path / "orders.parquet"
    duckdb.sql(
        'select \'SO\' || i as "Order ID", (1 + i % 70)::varchar as "Customer ID", '
        'timestamptz \'2024-03-05 23:30:00+00\' + i * interval 1 day as "Order Date", 10.5 + i % 90 as "Total" '
        "from range(300) as t(i)"
    ).write_parquet(str(path))
    settings = Settings(
        input_path=None, orders_path=path, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r"
    )
    run_build(settings)
    found = query(settings.warehouse_path, "select min(order_date), max(order_date) from stg_orders")
    assert found == [(date(2024, 3, 5), date(2024, 3, 5) + timedelta(days=299))]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        (finished,) = con.execute("select finished_at from pipeline_runs").fetchone()
    assert f"built {finished:%Y-%m-%d %H:%M} UTC" in (settings.reports_dir / "index.html").read_text()


@pytest.mark.parametrize(
    ("features", "columns"),
    [
        (("recency", "frequency"), ["days_since_last_order", "order_count"]),
        (
            ("recency_score", "frequency_score", "monetary_score"),
            ["recency_score", "frequency_score", "monetary_score"],
        ),
    ],
)
def test_features_of_whole_numbers_alone_build(tmp_path, features, columns):
    settings = sample_orders_alone(tmp_path, features=features)
    assert run_build(settings).customers == 199
    declared = query(settings.warehouse_path, "select feature from model_features order by position")
    assert [feature for (feature,) in declared] == columns


def test_an_older_export_built_after_a_newer_one_is_said(tmp_path):
    """Last month's export built again after this month's: what moved, moved backwards in time.
    Built once more, it is compared with itself: nothing to say."""
    earlier = tmp_path / "orders_2024_06.csv"
    orders = pd.read_csv(SAMPLE_ORDERS, dtype=str)
    orders[orders["Order Date"] <= "2024-06-30"].to_csv(earlier, index=False)
    settings = Settings(
        input_path=None, orders_path=SAMPLE_ORDERS, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r"
    )
    said: list[list[str]] = []
    for path in (SAMPLE_ORDERS, earlier, earlier):
        said.append([])
        build(replace(settings, orders_path=path), log=said[-1].append)
    assert [[line for line in lines if "backwards" in line] for lines in said] == [
        [],
        [
            "  warning: the orders run to 2024-06-30, before 2024-12-30, the day those of the previous build ran to: "
            "the changes since it run backwards in time, as when an older export is built again"
        ],
        [],
    ]


def test_two_exports_are_one_dataset_and_show_who_moved(tmp_path):
    first = tmp_path / "orders_2024_06.csv"
    orders = pd.read_csv(SAMPLE_ORDERS, dtype=str)
    orders[orders["Order Date"] <= "2024-06-30"].to_csv(first, index=False)
    settings = Settings(
        input_path=None, orders_path=first, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r"
    )
    run_build(settings)
    run_build(settings, orders_path=SAMPLE_ORDERS)
    path = settings.warehouse_path
    assert query(path, "select run_id, compared_with_run_id, as_of_date from pipeline_runs order by 1") == [
        (1, None, date(2024, 6, 30)),
        (2, 1, date(2024, 12, 30)),
    ]
    moves = query(
        path,
        "select previous_segment_label, segment_label, count(*) from segment_changes "
        "where change_type = 'moved' and previous_segment_label <> segment_label group by all",
    )
    assert any(before in ("Champions", "Loyal") and after == "At Risk" for before, after, _ in moves), moves
    assert query(path, "select count(*) from segment_changes where change_type = 'new'")[0][0] > 0
    # A segment is its cluster: the report says which kept their customers under a new name and
    # which names passed to another cluster (whose customers then count as moved)
    movements = "select distinct previous_segment_label, segment_label from segment_movements where "
    renamed = query(path, movements + "previous_cluster_id = cluster_id and previous_segment_label <> segment_label")
    passed = query(path, movements + "previous_cluster_id <> cluster_id and previous_segment_label = segment_label")
    assert renamed and passed
    report = html.unescape((settings.reports_dir / "index.html").read_text())
    for before, now in renamed:
        assert f"{before} is now called {now}: the same segment, whose profile moved." in report
    for _, name in passed:
        assert f"{name} is another segment now: the one called so before moved too far to be matched" in report


# --- the command ----------------------------------------------------------------------------


def test_the_command_on_the_sample_orders(tmp_path, capsys):
    settings = Settings(warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r")
    done = command_in_process(capsys, settings, "--orders", str(SAMPLE_ORDERS), "--as-of", "2024-12-31")
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("Done in ") and "199 customers in 5 segments" in last
    assert "orders (0 rejected, 46 not counted) as of 2024-12-31" in last


def test_an_order_dated_in_the_future_is_flagged_as_the_day_recency_counts_from(tmp_path, capsys):
    """One mistyped year moved every customer's recency by decades, without a word."""
    orders = tmp_path / "orders.csv"
    orders.write_text(SAMPLE_ORDERS.read_text() + "SO-9999999,5,2099-01-01,10.00,EUR,completed\n")
    settings = Settings(warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r")
    done = command_in_process(capsys, settings, "--orders", str(orders))
    assert done.returncode == 0, done.stderr
    flag = (
        "recency counts from 2099-01-01, the latest order's date, which is after this build's day "
        f"({datetime.now(UTC):%Y-%m-%d}): an order dated in the future? --as-of sets the day"
    )
    assert f"  warning: {flag}" in done.stdout.splitlines()
    done = command_in_process(capsys, settings, "--orders", str(orders), "--as-of", "2024-12-31")
    assert done.returncode == 0 and "an order dated in the future" not in done.stdout


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--as-of", "2024-01-01"], "--as-of needs an orders file"),
        (["--orders", str(SAMPLE_ORDERS), "--as-of", "31.12.2024"], "expected a date as YYYY-MM-DD"),
    ],
)
def test_usage_errors(tmp_path, options, message):
    settings = Settings(warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r")
    done = subprocess.run(pipeline_command(settings, *options), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr


def test_a_customer_feature_without_a_customer_file_is_one_error_line(tmp_path, capsys):
    settings = Settings(warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r")
    done = command_in_process(capsys, settings, "--orders", str(SAMPLE_ORDERS), "--features", "income,recency")
    assert done.returncode == 1
    assert (
        done.stderr.startswith("error: ")
        and "with only an orders file, the features are the orders' measures" in done.stderr
    )
    assert done.stderr.count("\n") == 1


def test_the_bundled_orders_are_the_generators_output(tmp_path):
    write_orders(tmp_path / "orders.csv", 200, seed=7)
    assert (tmp_path / "orders.csv").read_bytes() == SAMPLE_ORDERS.read_bytes()


def test_nothing_but_the_id_date_and_amount_is_needed(con, tmp_path):
    rows = [["A", "2024-01-01", "5"], ["B", "2024-01-02", "6"]]
    # a bare `id` is an order's in a shop's export (Shopify's `Id`): it is not taken for the customer's
    with duckdb.connect() as other, pytest.raises(InputError, match=r"missing column\(s\) customer_id"):
        stage_orders(other, tmp_path / "a", write_rows(tmp_path / "a.csv", rows, ["id", "date", "amount"]))
    stage_orders(con, tmp_path / "b", write_rows(tmp_path / "o.csv", rows, ["customer", "date", "amount"]))
    assert con.execute("select customer_id, total_spend from customer_rfm order by 1").fetchall() == [
        ("A", 5.0),
        ("B", 6.0),
    ]
    assert math.isnan(con.execute("select coalesce(items, 'nan'::double) from customer_rfm limit 1").fetchall()[0][0])


def test_the_command_line_lists_orders_options():
    done = subprocess.run([sys.executable, "pipeline.py", "--help"], capture_output=True, text=True, cwd=SQL_DIR.parent)
    assert "--orders PATH" in done.stdout and "--as-of DATE" in done.stdout


def test_an_orders_build_has_the_declared_columns_and_types(orders_alone):
    docs = load_schema(SQL_DIR)
    path = orders_alone[0].warehouse_path
    for name in (
        "stg_order_rows",
        "stg_orders",
        "order_rejects",
        "customer_rfm",
        "orders_without_customer",
        "int_segment_rfm_names",
        "pipeline_runs",
        "model_features",
        "segment_summary",
    ):
        built = query(
            path,
            f"select column_name, lower(data_type) from duckdb_columns() where table_name = '{name}' "
            "order by column_index",
        )
        assert built == list(docs[name].data_types.items()), name


def test_a_customer_column_named_as_a_measure_travels_renamed(tmp_path):
    lines = SAMPLE_INPUT.read_text().splitlines()
    customers = tmp_path / "customers.csv"
    customers.write_text("\n".join([lines[0] + ",Items", *(f"{line},{n}" for n, line in enumerate(lines[1:]))]) + "\n")
    settings = Settings(
        input_path=customers,
        orders_path=SAMPLE_ORDERS,
        warehouse_path=tmp_path / "w.duckdb",
        reports_dir=tmp_path / "r",
    )
    run_build(settings)
    found = query(settings.warehouse_path, "select \"Items_2\", items from stg_customers where customer_id = '1'")
    assert found == [("0", None)]  # the file's column as written; the orders' quantities (none in this file)
    header = (settings.reports_dir / "segmented_customers.csv").read_text().splitlines()[0].split(",")
    assert header[5] == "Items" and "items_2" in header


def test_the_segmented_csv_of_orders_alone_written_in_slices_is_the_same_file(tmp_path, monkeypatch):
    """The customers of an orders file alone stand in the order of their first orders: the
    slices of that order give the same file."""
    settings = Settings(
        input_path=None, orders_path=SAMPLE_ORDERS, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r"
    )
    run_build(settings)
    (whole,) = [path.read_bytes() for path in settings.reports_dir.glob("segmented_*.csv")]
    monkeypatch.setattr(reports, "CSV_SLICE_BYTES", 2_000)  # slices of about 25 customers
    run_build(settings)
    assert [path.read_bytes() for path in settings.reports_dir.glob("segmented_*.csv")] == [whole]
