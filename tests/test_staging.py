"""Staging in given/expect form: a few input lines -> the staging models -> expected rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import stage_file, write_csv

HEADER = "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)\n"
def stage(con, tmp_path: Path, text: str | bytes, **settings):
    """Load the text as an input file and build the staging models on it."""
    stage_file(con, write_csv(tmp_path, text), tmp_path / "work", **settings)
    customers = con.execute(
        "select customer_id, gender, age, annual_income_k, spending_score from stg_customers order by line_number"
    ).fetchall()
    rejects = con.execute("select line_number, reject_reason from customer_rejects order by 1").fetchall()
    return customers, rejects


def test_valid_rows_are_typed(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER + "1,Male,19,15,39\n0002, female ,21,15,81\n")
    assert customers == [(1, "Male", 19, 15, 39), (2, "Female", 21, 15, 81)]
    assert rejects == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("1,Male,?,15,39", "age is missing"),
        ("1,Male,,15,39", "age is missing"),
        ("1,Male,19.5,15,39", "age '19.5' is not a whole number"),
        ("1,Male,1e2,15,39", "age '1e2' is not a whole number"),
        ("1,Male,0x10,15,39", "age '0x10' is not a whole number"),
        ("1,Male,-5,15,39", "age -5 is outside 1 to 120"),
        ("1,Male,19,-1,39", "annual_income_k -1 is outside 0 to 100000"),
        ("1,Male,150,15,39", "age 150 is outside 1 to 120"),
        ("1,Male,19,15,0", "spending_score 0 is outside 1 to 100"),
        ("1,Male,19,15,101", "spending_score 101 is outside 1 to 100"),
        ("1,Male,19,NA,39", "annual_income_k is missing"),
        ("1,Male,19,15k,39", "annual_income_k '15k' is not a whole number"),
        ("1,Other,19,15,39", "gender 'Other' is not Male or Female"),
        ("1,=cmd(),19,15,39", "gender '=cmd()' is not Male or Female"),
        ("abc,Male,19,15,39", "customer_id 'abc' is not made of digits"),
        (",Male,19,15,39", "customer_id is missing"),
        ("1,Male,19,15", "has 4 fields where the header has 5"),
        ("1,Male,19,15,39,7", "has 6 fields where the header has 5"),
        ("1,?,?,15,39", "gender is missing; age is missing"),
        ("1,Male,+5,15,39", "age '+5' is not a whole number"),
        ("1,Male,1_000,15,39", "age '1_000' is not a whole number"),
        ("1,Male,0000000019,15,39", "age '0000000019' is not a whole number"),
        ("1,Male,2147483647,15,39", "age '2147483647' is not a whole number"),
        ("1,Male,-0,15,39", "age 0 is outside 1 to 120"),
        ("-1,Male,19,15,39", "customer_id '-1' is not made of digits"),
        ("1234567890123456789,Male,19,15,39", "customer_id '1234567890123456789' is not made of digits"),
    ],
)
def test_unusable_rows_are_rejected_with_a_reason(con, tmp_path, line, reason):
    customers, rejects = stage(con, tmp_path, HEADER + "9,Female,30,50,50\n" + line + "\n")
    assert customers == [(9, "Female", 30, 50, 50)]
    assert rejects == [(3, reason)]


def test_leading_zeros_and_spaces_are_accepted(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER + "000000001 , m ,007, 0 ,100\n")
    assert customers == [(1, "Male", 7, 0, 100)]
    assert rejects == []


def test_lines_of_spaces_are_blank_but_a_leading_space_is_data(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER + "   \n 1,Male,19,15,39\n\t\n")
    assert customers == [(1, "Male", 19, 15, 39)]
    assert rejects == [(4, "has 1 fields where the header has 5")]


def test_exact_duplicate_keeps_its_first_line(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER + "1,Male,19,15,39\n2,Male,20,16,40\n1,Male,19,15,39\n")
    assert [c[0] for c in customers] == [1, 2]
    assert rejects == [(4, "duplicate of line 2")]


def test_conflicting_duplicates_are_all_rejected(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER + "1,Male,19,15,39\n2,Male,20,16,40\n1,Male,19,99,39\n")
    assert [c[0] for c in customers] == [2]
    reason = "customer_id 1 has conflicting rows on lines 2, 4"
    assert rejects == [(2, reason), (4, reason)]


def test_a_broken_row_does_not_make_its_id_a_conflict(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER + "1,Male,19,15,39\n1,Male,?,15,39\n")
    assert [c[0] for c in customers] == [1]
    assert rejects == [(3, "age is missing")]


def test_file_variants_bom_crlf_semicolon_genre_quotes_reordered(con, tmp_path):
    text = (
        "\ufeffSpending Score (1-100);Genre;Annual Income (k$);Age;CustomerID;Notes\r\n"
        '39;"Male";15;19;0001;"a;b"\r\n'
        "\r\n"
        '81;Female;15;21;2;"said ""hi"""\r\n'
    )
    customers, rejects = stage(con, tmp_path, text)
    assert customers == [(1, "Male", 19, 15, 39), (2, "Female", 21, 15, 81)]
    assert rejects == []
    assert con.execute("select line_number from stg_customer_rows order by 1").fetchall() == [(2,), (4,)]


def test_every_data_line_is_kept_or_rejected(con, tmp_path):
    lines = ["1,Male,19,15,39", "2,Male,?,15,39", "3,Female,30,50,50", "3,Female,30,50,50", "x"]
    stage(con, tmp_path, HEADER + "\n".join(lines) + "\n")
    clean, rejected, raw = con.execute(
        "select (select count(*) from stg_customers), (select count(*) from customer_rejects), "
        "(select count(*) from raw_customers)"
    ).fetchall()[0]
    assert (clean, rejected, raw) == (2, 3, 5)


def test_rejects_keep_the_raw_text(con, tmp_path):
    stage(con, tmp_path, HEADER + "7, Male ,?,15,39\n")
    assert con.execute("select raw_line from customer_rejects").fetchall() == [("7, Male ,?,15,39",)]
