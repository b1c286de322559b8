"""Files that cannot be used at all stop with a message naming the file and the problem."""

from __future__ import annotations

import re

import pytest

from conftest import write_csv
from segmentation.errors import InputError
from segmentation.loader import load_raw, read_header

HEADER = "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("\n\n  \n", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
        ("CustomerID,Gender,Age,Annual Income (k$)\n1,Male,19,15\n", "missing column(s) Spending Score (1-100)"),
        ("a;b;c\n1;2;3\n", "missing column(s) CustomerID, Gender, Age"),
        ("CustomerID,Gender,Genre,Age,Annual Income (k$),Spending Score (1-100)\n", "names gender more than once"),
        (b"Customer\xffID,Gender\n", "line 1: the header is not UTF-8 text"),
    ],
)
def test_unusable_files(tmp_path, content, message):
    path = write_csv(tmp_path, content)
    with pytest.raises(InputError, match=re.escape(message)) as error:
        read_header(path)
    assert str(error.value).startswith(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_header(tmp_path / "nope.csv")


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(InputError, match="not a file"):
        read_header(tmp_path)


def test_bad_bytes_after_the_header_name_their_line(con, tmp_path):
    path = write_csv(tmp_path, HEADER.encode() + b"1,Male,19,15,39\n2,F\xe9male,20,16,40\n")
    with pytest.raises(InputError, match=r"line 3: not UTF-8 text \(byte 0xe9 at column 4\)"):
        load_raw(con, path)


def test_path_with_spaces_and_quotes(con, tmp_path):
    folder = tmp_path / "it's a \"folder\""
    folder.mkdir()
    load_raw(con, write_csv(folder, HEADER + "1,Male,19,15,39\n", name="my customers.csv"))
    assert con.execute("select customer_id, raw_line from raw_customers").fetchall() == [("1", "1,Male,19,15,39")]


def test_header_names_are_kept_for_the_report(con, tmp_path):
    load_raw(con, write_csv(tmp_path, " customerid ;GENRE;Age;Annual Income (k$);Spending Score (1-100)\n"))
    assert con.execute("select column_name, source_name from raw_columns order by position").fetchall() == [
        ("customer_id", "customerid"),
        ("gender", "GENRE"),
        ("age", "Age"),
        ("annual_income_k", "Annual Income (k$)"),
        ("spending_score", "Spending Score (1-100)"),
    ]
