"""Files that cannot be used at all stop with a message naming the file and the problem."""

from __future__ import annotations

import gzip
import io
import re
import zipfile

import pytest

from conftest import load, write_csv
from segmentation.errors import InputError

HEADER = "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)\n"


def zipped(text: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", text)
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("\n\n  \n", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
        (gzip.compress(HEADER.encode(), mtime=0)[:-8], "cannot be read as gzip-compressed (Compressed file ended"),
        (gzip.compress(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", mtime=0), "not a text file"),
        (zipped(HEADER), "it is a zip archive, such as an Excel workbook; a workbook needs the .xlsx extension"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "an Excel 97-2003 .xls workbook; save it as .xlsx or CSV"),
        (b"PAR1\x15\x04\x15\x10" + bytes(64) + b"PAR1", "it is a Parquet file; it needs the .parquet extension"),
        (
            "\ufeff\n<!DOCTYPE html>\n<html><body><table><tr><td>CustomerID</td></tr></table></body></html>\n",
            "a web page",
        ),
        ("<HTML lang=en><head><title>Export</title></head></html>", "a web page (HTML), not a table of text"),
        ("CustomerID,Gender,Age,Annual Income (k$)\n1,Male,19,15\n", "missing column(s) spending_score"),
        ("a;b;c\n1;2;3\n", "missing column(s) customer_id, annual_income_k, spending_score"),
        (
            "CustomerID,Gender,Genre,Age,Annual Income (k$),Spending Score (1-100)\n",
            "columns 2 ('Gender') and 3 ('Genre') both look like gender",
        ),
        # not UTF-8: read as Windows-1252
        (b"Customer\xffID,Gender\n", "(the header has: 'Customer\u00ffID', 'Gender')"),
        ("CustomerID," + ",".join(f"c{i}" for i in range(3000)) + "\n", "the header has 3,001 columns"),
    ],
)
def test_unusable_files(con, tmp_path, content, message):
    path = write_csv(tmp_path, content)
    with pytest.raises(InputError, match=re.escape(message)) as error:
        load(con, path, tmp_path / "work")
    assert str(error.value).startswith(str(path))


def test_missing_file(con, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load(con, tmp_path / "nope.csv", tmp_path / "work")


def test_an_empty_folder_holds_no_data(con, tmp_path):
    (tmp_path / "in").mkdir()
    with pytest.raises(InputError, match="the folder holds no data files"):
        load(con, tmp_path / "in", tmp_path / "work")


def test_path_with_spaces_and_quotes(con, tmp_path):
    folder = tmp_path / 'it\'s a "folder"'
    folder.mkdir()
    load(con, write_csv(folder, HEADER + "1,Male,19,15,39\n", name="my customers.csv"), tmp_path / "work")
    assert con.execute("select customer_id, raw_line from raw_customers").fetchall() == [("1", "1,Male,19,15,39")]


def test_header_names_are_kept_for_the_report(con, tmp_path):
    load(
        con,
        write_csv(tmp_path, " customerid ;GENRE;Age;Annual Income (k$);Spending Score (1-100);Notes\n"),
        tmp_path / "work",
    )
    assert con.execute("select column_name, source_name from raw_columns order by position").fetchall() == [
        ("customer_id", "customerid"),
        ("gender", "GENRE"),
        ("age", "Age"),
        ("annual_income_k", "Annual Income (k$)"),
        ("spending_score", "Spending Score (1-100)"),
        ("Notes", "Notes"),
    ]


def test_a_long_header_is_read_whole(con, tmp_path):
    names = [f"extra column number {i} " + "x" * 40 for i in range(1500)]  # about 100 KiB
    header = ",".join(["CustomerID", "Annual Income (k$)", "Spending Score (1-100)", *names])
    load(con, write_csv(tmp_path, header + "\n1,15,39" + "," * 1500 + "\n"), tmp_path / "work")
    assert con.execute("select count(*), max(position) from raw_columns").fetchall() == [(1503, 1503)]
    assert con.execute("select fields_found, fields_expected from raw_customers").fetchall() == [(1503, 1503)]
