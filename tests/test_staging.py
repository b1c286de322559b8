"""Staging in given/expect form: a few input lines -> the staging models -> expected rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from conftest import stage_file, write_csv
from segmentation.config import SQL_DIR

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
    assert customers == [("1", "Male", 19, 15, 39), ("0002", "Female", 21, 15, 81)]
    assert rejects == []


@pytest.mark.parametrize(
    ("line", "reason", "kind"),
    [
        ("1,Male,19,15,?", "spending_score is missing", ("missing", "spending_score")),
        ("1,Male,19,15,", "spending_score is missing", ("missing", "spending_score")),
        ("1,Male,19,15,39.5", "spending_score '39.5' is not a whole number", ("not_whole_number", "spending_score")),
        ("1,Male,19,15,1e2", "spending_score '1e2' is not a whole number", ("not_whole_number", "spending_score")),
        ("1,Male,19,15,0x10", "spending_score '0x10' is not a whole number", ("not_whole_number", "spending_score")),
        ("1,Male,19,15,5+", "spending_score '5+' is not a whole number", ("not_whole_number", "spending_score")),
        ("1,Male,19,15,1_000", "spending_score '1_000' is not a whole number", ("not_whole_number", "spending_score")),
        ("1,Male,19,15,0", "spending_score 0 is outside 1 to 100", ("out_of_range", "spending_score")),
        ("1,Male,19,15,-0", "spending_score -0 is outside 1 to 100", ("out_of_range", "spending_score")),
        ("1,Male,19,15,101", "spending_score 101 is outside 1 to 100", ("out_of_range", "spending_score")),
        (
            "1,Male,19,15,2147483648",
            "spending_score 2147483648 is outside 1 to 100",
            ("out_of_range", "spending_score"),
        ),
        (
            "1,Male,19,15," + "9" * 40,
            f"spending_score {'9' * 40} is outside 1 to 100",
            ("out_of_range", "spending_score"),
        ),
        ("1,Male,19,-1,39", "annual_income_k -1 is outside 0 to infinity", ("out_of_range", "annual_income_k")),
        (
            "1,Male,19,10000000000000000000,39",
            "annual_income_k '10000000000000000000' is too large",
            ("too_large", "annual_income_k"),
        ),
        (
            "1,Male,19,1000000000000000.5,39",
            "annual_income_k '1000000000000000.5' is too large",
            ("too_large", "annual_income_k"),
        ),
        (
            "1,Male,19," + "9" * 160 + ",39",
            f"annual_income_k '{'9' * 40}' is too large",
            ("too_large", "annual_income_k"),
        ),
        ("1,Male,19,NA,39", "annual_income_k is missing", ("missing", "annual_income_k")),
        ("1,Male,19,15k,39", "annual_income_k '15k' is not a number", ("not_a_number", "annual_income_k")),
        ("1,Male,19,1e2,39", "annual_income_k '1e2' is not a number", ("not_a_number", "annual_income_k")),
        ("1,Male,19,0x10,39", "annual_income_k '0x10' is not a number", ("not_a_number", "annual_income_k")),
        (",Male,19,15,39", "customer_id is missing", ("missing", "customer_id")),
        ("?,Male,19,15,39", "customer_id is missing", ("missing", "customer_id")),
        ("1,Male,19,15", "has 4 fields where the header has 5", ("field_count", None)),
        ("1,Male,19,15,39,7", "has 6 fields where the header has 5", ("field_count", None)),
        ("1,Male,19,?,?", "annual_income_k is missing; spending_score is missing", ("missing", "annual_income_k")),
    ],
)
def test_unusable_rows_are_rejected_with_a_reason(con, tmp_path, line, reason, kind):
    """In words with the record's values, and as a kind to count by: a code of the seed
    reject_reasons and the column at fault (the first problem's)."""
    customers, rejects = stage(con, tmp_path, HEADER + "9,Female,30,50,50\n" + line + "\n")
    assert customers == [("9", "Female", 30, 50, 50)]
    assert rejects == [(3, reason)]
    assert con.execute("select reason_code, reason_column from customer_rejects").fetchall() == [kind]
    described = "select count(*) from reject_reasons where reason_code = $code"
    assert con.execute(described, {"code": kind[0]}).fetchall() == [(1,)]


def test_leading_zeros_and_spaces_are_accepted(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER + "000000001 , m ,007, 0 ,100\n")
    assert customers == [("000000001", "Male", 7, 0, 100)]
    assert rejects == []


def test_lines_of_spaces_are_blank_but_a_leading_space_is_data(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER + "   \n 1,Male,19,15,39\n\t\n")
    assert customers == [("1", "Male", 19, 15, 39)]
    assert rejects == [(4, "has 1 fields where the header has 5")]


@pytest.mark.parametrize("quoted_line_end", [False, True], ids=["lines", "records"])
def test_lines_of_delimiters_alone_are_blank(con, tmp_path, quoted_line_end):
    """A spreadsheet saves its empty rows as delimiters alone: blank, whether the file is read
    by lines or (a quoted field holding a line end) by Python's reader."""
    note = '"a\nnote"' if quoted_line_end else "a note"
    header = HEADER.rstrip("\n") + ",Note\n"
    customers, rejects = stage(con, tmp_path, header + f"1,Male,19,15,39,{note}\n,,,,,\n, , ,,,\n2,Male,20,16,40,\n")
    assert [c[0] for c in customers] == ["1", "2"]
    assert rejects == []


def test_exact_duplicate_keeps_its_first_line(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER + "1,Male,19,15,39\n2,Male,20,16,40\n1,Male,19,15,39\n")
    assert [c[0] for c in customers] == ["1", "2"]
    assert rejects == [(4, "duplicate of line 2")]
    assert con.execute("select reason_code, reason_column from customer_rejects").fetchall() == [("duplicate", None)]


def test_conflicting_duplicates_are_all_rejected(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER + "1,Male,19,15,39\n2,Male,20,16,40\n1,Male,19,99,39\n")
    assert [c[0] for c in customers] == ["2"]
    reason = "customer_id '1' has conflicting rows on lines 2, 4"
    assert rejects == [(2, reason), (4, reason)]
    kinds = con.execute("select reason_code, reason_column from customer_rejects").fetchall()
    assert kinds == [("conflicting_rows", None)] * 2


def test_a_broken_row_does_not_make_its_id_a_conflict(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER + "1,Male,19,15,39\n1,Male,19,15,?\n")
    assert [c[0] for c in customers] == ["1"]
    assert rejects == [(3, "spending_score is missing")]


def test_a_duplicate_differing_in_a_carried_column_is_a_conflict(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER.strip() + ",Email\n1,Male,19,15,39,a@x\n1,Male,19,15,39,b@x\n")
    assert customers == []
    assert rejects == [
        (2, "customer_id '1' has conflicting rows on lines 2, 3"),
        (3, "customer_id '1' has conflicting rows on lines 2, 3"),
    ]


def test_file_variants_bom_crlf_semicolon_genre_quotes_reordered(con, tmp_path):
    text = (
        "\ufeffSpending Score (1-100);Genre;Annual Income (k$);Age;CustomerID;Notes\r\n"
        '39;"Male";15;19;0001;"a;b"\r\n'
        "\r\n"
        '81;Female;15;21;2;"said ""hi"""\r\n'
    )
    customers, rejects = stage(con, tmp_path, text)
    assert customers == [("0001", "Male", 19, 15, 39), ("2", "Female", 21, 15, 81)]
    assert rejects == []
    assert con.execute("select line_number from stg_customer_rows order by 1").fetchall() == [(2,), (4,)]
    assert con.execute('select "Notes" from stg_customers order by 1').fetchall() == [("a;b",), ('said "hi"',)]


def test_every_data_line_is_kept_or_rejected(con, tmp_path):
    lines = ["1,Male,19,15,39", "2,Male,19,15,?", "3,Female,30,50,50", "3,Female,30,50,50", "x"]
    stage(con, tmp_path, HEADER + "\n".join(lines) + "\n")
    clean, rejected, raw = con.execute(
        "select (select count(*) from stg_customers), (select count(*) from customer_rejects), "
        "(select count(*) from raw_customers)"
    ).fetchall()[0]
    assert (clean, rejected, raw) == (2, 3, 5)


def test_rejects_keep_the_raw_text(con, tmp_path):
    stage(con, tmp_path, HEADER + "7, Male ,19,15,?\n")
    assert con.execute("select raw_line from customer_rejects").fetchall() == [("7, Male ,19,15,?",)]


def test_a_placeholder_id_on_many_rows_is_reported_with_a_count(con, tmp_path):
    rows = "".join(f"0,Female,{20 + i % 50},{15 + i},{1 + i % 100}\n" for i in range(3_000))
    customers, rejects = stage(con, tmp_path, HEADER + "1,Male,19,15,39\n" + rows + "2,Male,20,16,40\n")
    assert [c[0] for c in customers] == ["1", "2"]
    reason = "customer_id '0' has conflicting rows on lines 3, 4, 5, 6, 7 and 2,995 more"
    assert len(rejects) == 3_000 and {reason for _, reason in rejects} == {reason}
    assert con.execute("select customer_key, records, first_line from int_repeated_customer_ids").fetchall() == [
        ("0", 3_000, 3)
    ]


@pytest.mark.parametrize(
    ("first", "second", "shown"),
    [
        ("Zo\u00eb", "Zoe\u0308", "Zo\u00eb"),  # NFC, then NFD: one customer that looks the same
        ("12", "\uff11\uff12", "12"),  # ASCII, then full-width digits
        ("AB-7", "\uff21\uff22\uff0d\uff17", "AB-7"),
        ("Ann.Lee@Shop.com", "ann.lee@shop.COM", "ann.lee@shop.com"),  # an email address, in any case
        ("Kim.Lee@Shop.com", "Kim.Lee\uff20Shop.com", "kim.lee@shop.com"),  # typed in a CJK input mode
    ],
)
def test_ids_that_look_the_same_are_one_customer(con, tmp_path, first, second, shown):
    text = HEADER + f"{first},Male,19,15,39\n5,Male,20,16,40\n{second},Male,19,15,39\n"
    customers, rejects = stage(con, tmp_path, text)
    assert [c[0] for c in customers] == [shown, "5"]  # one spelling, whichever line comes first
    assert rejects == [(4, "duplicate of line 2")]
    (tmp_path / "swapped").mkdir()
    (tmp_path / "alike").mkdir()
    with duckdb.connect() as swapped:
        text = HEADER + f"{second},Male,19,15,39\n5,Male,20,16,40\n{first},Male,19,15,39\n"
        assert [c[0] for c in stage(swapped, tmp_path / "swapped", text)[0]] == [shown, "5"]
    with duckdb.connect() as alike:  # written alike on every line: in that one form too
        text = HEADER + f"{first},Male,19,15,39\n{first},Male,19,15,39\n"
        assert [c[0] for c in stage(alike, tmp_path / "alike", text)[0]] == [shown]
    with duckdb.connect() as other:  # with another value: a conflict, both rejected
        customers, rejects = stage(other, tmp_path, HEADER + f"{first},Male,19,15,39\n{second},Male,19,99,39\n")
    assert customers == []
    assert [line for line, _ in rejects] == [2, 3]


def test_the_largest_income_read_is_ten_to_the_fifteenth(con, tmp_path):
    customers, rejects = stage(con, tmp_path, HEADER + "1,Male,19,1000000000000000,39\n")
    assert customers == [("1", "Male", 19, 1e15, 39)] and rejects == []


@pytest.mark.parametrize("extended", [False, True], ids=["shipped-seed", "marker-added"])
def test_a_missing_marker_added_to_the_seed_is_read_as_missing(con, tmp_path, extended):
    sql = shutil.copytree(SQL_DIR, tmp_path / "sql")
    if extended:  # longer than any shipped marker, in capitals in the file
        with (sql / "seeds" / "missing_value_markers.csv").open("a", encoding="utf-8") as seed:
            seed.write("unknown,a CRM's placeholder\n")
    text = HEADER + "Unknown,Male,19,15,39\n2,UNKNOWN,21,15,81\n"
    customers, rejects = stage(con, tmp_path, text, sql_dir=sql)
    if extended:
        assert rejects == [(2, "customer_id is missing")]
        assert customers == [("2", None, 21, 15, 81)]
    else:
        assert rejects == []
        assert customers == [("Unknown", "Male", 19, 15, 39), ("2", "UNKNOWN", 21, 15, 81)]
