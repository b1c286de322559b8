"""A user's own export, as people really save them: other ids, headers, columns, units,
encodings, line ends and formats, through the loader, staging and whole builds."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import tracemalloc
import unicodedata
import zipfile
from dataclasses import replace

import duckdb
import pytest

from conftest import customers, load, query, rejects, reserved_names, run_build, stage_file, write_csv
from segmentation import reports
from segmentation.building import build
from segmentation.config import SAMPLE_INPUT
from segmentation.errors import InputError
from segmentation.number_formats import income_unit
from segmentation.readers import csv_file, excel, input_file

HEADER = "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)"
SAMPLE_ROWS = SAMPLE_INPUT.read_text().splitlines()[1:]


def segmented_csv(settings) -> list[list[str]]:
    text = (settings.reports_dir / "segmented_mall_customers.csv").read_bytes().decode()  # a CR in a value stays
    return list(csv.reader(io.StringIO(text)))


# --- ids and columns ------------------------------------------------------------------------


def test_ids_are_text_kept_as_written(con, tmp_path):
    uuid = "3f2b8c1e-9d4a-4e6b-a1c2-7e5f9b0d4c3a"
    text = f"{HEADER}\nC-0001,Male,19,15,39\n0002,Female,21,15,81\n {uuid} ,F,30,50,50\n{'x' * 101},M,30,50,50\n"
    stage_file(con, write_csv(tmp_path, text), tmp_path / "work")
    assert [row[0] for row in customers(con)] == ["C-0001", "0002", uuid]
    assert rejects(con) == [(5, "customer_id is longer than 100 characters")]


def test_ids_of_any_length_build_and_reach_every_output(tmp_path, settings):
    rows = [f"CRM-{row.split(',', 1)[0].zfill(6)},{row.split(',', 1)[1]}" for row in SAMPLE_ROWS]
    path = write_csv(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    run_build(settings, input_path=path)
    ids = query(settings.warehouse_path, "select customer_id from customer_segments order by line_number limit 2")
    assert ids == [("CRM-000001",), ("CRM-000002",)]
    assert query(settings.warehouse_path, "select count(*) from customer_clusters where customer_id like 'CRM-%'") == [
        (200,)
    ]
    assert segmented_csv(settings)[1][0] == "CRM-000001"


def test_extra_columns_travel_in_input_order(tmp_path, settings):
    header = "Email,CustomerID,Gender,Age,City,Annual Income (k$),Spending Score (1-100),Notes"
    rows = []
    for row in SAMPLE_ROWS:
        cid, gender, age, income, spending = row.split(",")
        rows.append(f'c{cid}@example.com,{cid},{gender},{age},Town {int(cid) % 3},{income},{spending},"a, b"')
    run_build(settings, input_path=write_csv(tmp_path, "\n".join([header, *rows]) + "\n"))
    warehouse = settings.warehouse_path
    assert query(warehouse, 'select "Email", "City", "Notes" from stg_customers where customer_id = \'7\'') == [
        ("c7@example.com", "Town 1", "a, b")
    ]
    assert query(warehouse, "select \"Email\" from customer_segments where customer_id = '7'") == [("c7@example.com",)]
    table = segmented_csv(settings)
    assert table[0] == [*header.split(","), "Cluster", "Segment"]
    assert table[7][:8] == [*rows[6].split(",")[:7], "a, b"]
    assert len(table) == 201


def wide_file(tmp_path, customers: int, extras: int):
    """Customers with `extras` text columns of about 20 characters each."""
    header = ",".join([HEADER, *(f"Note {j}" for j in range(extras))])
    rows = [
        ",".join(
            [str(n), SAMPLE_ROWS[n % 200].split(",", 1)[1], *(f"text {n} {j} {n * j % 997}" for j in range(extras))]
        )
        for n in range(1, customers + 1)
    ]
    return write_csv(tmp_path, "\n".join([header, *rows]) + "\n"), rows


# The same failures as a file of 2,000 customers and 1,000 columns meets under the default
# 600MB: the segment map's sample of every column (150MB), the segmented CSV (200MB).
@pytest.mark.parametrize("memory", ["150MB", "200MB"])
def test_a_wide_file_builds_within_the_memory_limit(tmp_path, settings, memory):
    path, rows = wide_file(tmp_path, 1_000, 300)
    result = run_build(settings, input_path=path, memory_limit=memory)
    assert (result.customers, result.rejected_rows) == (1_000, 0)
    table = segmented_csv(settings)
    assert len(table) == 1_001 and len(table[0]) == 307
    assert [line[:-2] for line in table[1:]] == [row.split(",") for row in rows]  # every customer, in input order
    clusters = query(settings.warehouse_path, "select cluster_id from customer_segments order by line_number")
    assert [int(line[-2]) for line in table[1:]] == [cluster for (cluster,) in clusters]


def test_the_segmented_csv_written_in_slices_is_the_same_file(tmp_path, settings, monkeypatch):
    path, _ = wide_file(tmp_path, 500, 5)
    # runs of rejected and blank lines: slices of line numbers that hold few customers or none
    lines = path.read_text().splitlines()
    lines[100:160] = ["," + line.split(",", 1)[1] for line in lines[100:160]]  # no id
    lines[300:300] = [""] * 80
    path.write_text("\n".join(lines) + "\n")
    assert run_build(settings, input_path=path).rejected_rows == 60
    whole = (settings.reports_dir / "segmented_mall_customers.csv").read_bytes()
    assert whole.count(b"\n") == 1 + 440
    monkeypatch.setattr(reports, "CSV_SLICE_BYTES", 2_000)  # slices of about 25 customers
    run_build(settings, input_path=path)
    assert (settings.reports_dir / "segmented_mall_customers.csv").read_bytes() == whole
    assert not list(settings.reports_dir.glob(".segmented*"))  # no slice left behind


def test_common_headers_are_recognised(con, tmp_path):
    text = "id,sex,AGE,income,spending\n1,m,19,15,39\n"
    loaded = stage_file(con, write_csv(tmp_path, text), tmp_path / "work")
    assert customers(con) == [("1", "Male", 19, 15.0, 39)]
    assert loaded.columns.positions == {
        "customer_id": 1,
        "gender": 2,
        "age": 3,
        "annual_income_k": 4,
        "spending_score": 5,
    }


def test_columns_are_mapped_explicitly(con, tmp_path):
    text = "Kundennummer;Geschlecht;Alter;Einkommen;Ausgaben\nK1;W;30;50;60\nK2;D;40;60;70\n"
    mapping = {
        "customer_id": "Kundennummer",
        "gender": "Geschlecht",
        "age": "Alter",
        "annual_income_k": "Einkommen",
        "spending_score": "Ausgaben",
    }
    stage_file(con, write_csv(tmp_path, text), tmp_path / "work", columns=mapping)
    assert customers(con) == [("K1", "Female", 30, 50.0, 60), ("K2", "D", 40, 60.0, 70)]


@pytest.mark.parametrize("income", ["Nr", "#1", "nr"])
def test_one_column_named_for_two_is_refused(con, tmp_path, income):
    """The id is no income: one column mapped to both would segment the customers on their ids."""
    path = write_csv(tmp_path, "Nr;Einkommen;Ausgaben\n1;50;60\n2;60;70\n")
    with pytest.raises(InputError) as refused:
        load(con, path, tmp_path / "work", columns={"customer_id": "Nr", "annual_income_k": income})
    assert str(refused.value) == (
        f"{path}: line 1: --columns annual_income_k={income}: column 1 ('Nr') is customer_id already; "
        "a column stands for one of them"
    )


def test_a_missing_column_names_the_headers_and_the_fix(con, tmp_path):
    path = write_csv(tmp_path, "Kontonummer,Verdienst,Ausgaben\nK1,50,60\n")
    with pytest.raises(InputError) as error:
        load(con, path, tmp_path / "work")
    message = str(error.value)
    assert message.startswith(f"{path}: line 1: missing column(s) customer_id, annual_income_k, spending_score")
    assert "'Kontonummer', 'Verdienst', 'Ausgaben'" in message
    assert "--columns customer_id=HEADER,annual_income_k=HEADER,spending_score=HEADER" in message


def test_a_header_naming_one_column_twice_is_an_error_naming_both(con, tmp_path):
    path = write_csv(tmp_path, "CustomerID,Gender,Sex,Age,Income,Spending\n1,Male,M,19,15,39\n")
    with pytest.raises(InputError, match=re.escape("columns 2 ('Gender') and 3 ('Sex') both look like gender")):
        load(con, path, tmp_path / "work")


@pytest.mark.parametrize(
    ("text", "skipped"),
    [
        ('Monitors 27" campaign\nCustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100),Note\n', 1),
        ('CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100),Size 27"\n', 0),
        ('Monitors 27" campaign\rCustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100),Note\r', 1),
    ],
    ids=["in a title", "in a header name", "in a title of a CR file"],
)
def test_a_quote_within_a_field_is_text_where_the_header_is_sought(con, tmp_path, text, skipped):
    """Only a quote that opens a field opens a quoted name: one within a title or a name, then
    another within a row's field, once joined the three into one header record."""
    end = text[-1]
    rows = ["1,Male,19,15,39,x", '2,Female,21,16,81,24" screen', '3,Male,20,16,6,"note' + "\n" + 'more"']
    loaded = stage_file(con, write_csv(tmp_path, text + end.join(rows) + end), tmp_path / "work")
    assert [row[0] for row in customers(con)] == ["1", "2", "3"]
    assert rejects(con) == []
    assert bool([w for w in loaded.warnings if "above it skipped" in w]) == bool(skipped)


@pytest.mark.parametrize(
    "rows",
    [["1,Male,19,15,39", "2,Female,21,16,81"], ['1,"Ma\nle",19,15,39', "2,Female,21,16,81"]],
    ids=["lines", "records over lines"],
)
def test_the_end_of_file_byte_of_old_tools_is_no_record(con, tmp_path, rows):
    text = "\r\n".join([HEADER, *rows]) + "\r\n\x1a"
    stage_file(con, write_csv(tmp_path, text), tmp_path / "work")
    assert [row[0] for row in customers(con)] == ["1", "2"]
    assert rejects(con) == []


def test_two_columns_of_one_name_are_told_apart_by_position(con, tmp_path):
    """The advice of the error works: a name both columns share picks neither, a position does."""
    path = write_csv(tmp_path, "CustomerID,Gender,Age,Income,Spending,Age,Notes\n1,Male,19,15,39,99,a\n")
    errors = [
        ({}, "columns 3 ('Age') and 6 ('Age') both look like age; choose one with --columns age=#3"),
        (
            {"age": "Age"},
            "--columns age=Age: the header names it at positions 3 and 6; choose one by its position: --columns age=#3",
        ),
    ]
    for columns, error in errors:
        with duckdb.connect() as fresh, pytest.raises(InputError, match=re.escape(error)):
            load(fresh, path, tmp_path / "work", columns=columns)
    stage_file(con, path, tmp_path / "work", columns={"age": "#6"})
    assert customers(con) == [("1", "Male", 99, 15.0, 39)]


@pytest.mark.parametrize("position", ["#0", "#8", "#999"])
def test_a_position_outside_the_header_says_which_positions_there_are(tmp_path, position):
    path = write_csv(tmp_path, "CustomerID,Gender,Age,Income,Spending,Age,Notes\n1,Male,19,15,39,99,a\n")
    error = f"line 1: --columns age={position}: the header has 7 columns: #1 to #7"
    with duckdb.connect() as fresh, pytest.raises(InputError, match=re.escape(error)):
        load(fresh, path, tmp_path / "work", columns={"age": position})


def test_ids_and_labels_padded_with_tabs_or_unicode_spaces_are_the_same_customer(con, tmp_path):
    rows = [
        "1,Male,19,15,39",
        "2,Female,21,15,81",
        "1\u00a0,Male,19,15,39",
        "\t2,Female,21,15,81",
        "\u200b3,\u00a0F,30,50,50",
    ]
    rows.append("4,\u00a0,30,50,50")
    stage_file(con, write_csv(tmp_path, "\n".join([HEADER, *rows]) + "\n"), tmp_path / "work")
    assert [(row[0], row[1]) for row in customers(con)] == [
        ("1", "Male"),
        ("2", "Female"),
        ("3", "Female"),
        ("4", None),
    ]
    assert rejects(con) == [(4, "duplicate of line 2"), (5, "duplicate of line 3")]
    issues = con.execute("select line_number, column_name, problem from customer_data_issues").fetchall()
    assert issues == [(7, "gender", "gender is missing")]


@pytest.mark.parametrize(
    "above, header_line, skipped",
    [
        ("\n\n", 3, 0),  # blank lines
        ("#TYPE System.Management.Automation.PSCustomObject\n", 2, 1),  # PowerShell's Export-Csv
        ("Customer export 2024\n\nExported by: CRM\n", 4, 2),  # a title and a note
        ("sep=,\nCustomers\n", 3, 1),  # Excel's delimiter line, then a title
    ],
    ids=["blank lines", "powershell type line", "title and note", "sep line and title"],
)
def test_the_header_may_stand_below_a_title(con, tmp_path, above, header_line, skipped):
    rows = ["1,Male,19,15,39", "2,Female,21,x,81"]
    loaded = stage_file(con, write_csv(tmp_path, above + "\n".join([HEADER, *rows]) + "\n"), tmp_path / "work")
    assert [row[0] for row in customers(con)] == ["1"]
    assert rejects(con) == [(header_line + 2, "annual_income_k 'x' is not a number")]  # lines as the file numbers them
    lines = f"{skipped} line{'' if skipped == 1 else 's'}"
    said = f"the header is line {header_line}: {lines} above it skipped (a title or a note)"
    assert [w for w in loaded.warnings if "the header is line" in w] == ([said] if skipped else [])


@pytest.mark.parametrize("title", [b"Kunden\xfcbersicht", b"Export\x00"], ids=["bad byte", "nul"])
def test_an_unreadable_title_stands_above_the_header(con, tmp_path, title):
    rows = "1,Male,19,15,39,M\xc3\xbcller\n2,Female,21,16,81,M\xc3\xbcller\n".encode("latin-1")
    data = title + b"\n" + (HEADER + ",Name\n").encode() + rows
    loaded = stage_file(con, write_csv(tmp_path, data), tmp_path / "work")
    names = con.execute('select customer_id, "Name" from stg_customers order by line_number').fetchall()
    assert names == [("1", "Müller"), ("2", "Müller")]
    assert "the header is line 2: 1 line above it skipped (a title or a note)" in loaded.warnings


def test_below_a_title_a_header_naming_a_column_twice_says_so(con, tmp_path):
    text = "Mall customers\nCustomerID,ID,Gender,Age,Annual Income (k$),Spending Score (1-100)\n1,1,Male,19,15,39\n"
    with pytest.raises(InputError, match=re.escape("line 2: columns 1 ('CustomerID') and 2 ('ID') both look like")):
        load(con, write_csv(tmp_path, text), tmp_path / "work")


def test_a_header_nowhere_near_the_top_is_named_by_the_first_line(con, tmp_path):
    text = "Customer export\n" + "note\n" * 60 + HEADER + "\n1,Male,19,15,39\n"
    with pytest.raises(InputError, match=re.escape("line 1: missing column(s) customer_id")) as error:
        load(con, write_csv(tmp_path, text), tmp_path / "work")
    assert str(error.value).endswith("(the first 50 non-blank lines were searched for a header that has them)")


def test_a_mistyped_feature_in_a_long_file_is_named_without_a_search_for_the_header(con, tmp_path):
    """The header is line 1, with every column but the feature named wrong: no 'searched' note."""
    text = "Customer ID,Total Spent,Total Orders\n" + "".join(f"C{n},{n}.5,{n % 7}\n" for n in range(60))
    with pytest.raises(InputError) as error:
        load(con, write_csv(tmp_path, text), tmp_path / "work", features=("Total Spend", "Total Orders"))
    assert str(error.value).endswith(
        "line 1: --features Total Spend: the header has no such column (it has: 'Customer ID', 'Total Spent', "
        "'Total Orders')"
    )


def test_excel_header_below_a_title_row(con, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Customers, December"])
    sheet.append([])
    sheet.append(["Customer ID", "Gender", "Age", "Annual Income (k$)", "Spending Score (1-100)"])
    sheet.append(["C-1", "Male", 19, 15, 39])
    sheet.append(["C-2", "Female", 21, "x", 81])
    path = tmp_path / "customers.xlsx"
    book.save(path)
    loaded = stage_file(con, path, tmp_path / "work")
    assert [row[0] for row in customers(con)] == ["C-1"]
    assert rejects(con) == [(5, "annual_income_k 'x' is not a number")]
    assert "the header is row 3: 1 row above it skipped (a title or a note)" in loaded.warnings


def test_columns_option_quotes_a_header_holding_a_comma():
    from segmentation.columns import parse_mapping

    mapping = parse_mapping('annual_income_k="Income (k$, gross)", spending_score=Spend,customer_id=Id')
    assert mapping == {"annual_income_k": "Income (k$, gross)", "spending_score": "Spend", "customer_id": "Id"}
    # a quote left open says so, where the mapping was cut short at it
    with pytest.raises(ValueError, match=re.escape("""a quote in 'spending_score="Score, self' is not closed""")):
        parse_mapping('spending_score="Score, self')


def test_unquoted_header_names_may_hold_more_commas_than_the_delimiter_splits(con, tmp_path):
    """Three commas inside the names, two semicolons between them: the semicolon is the one
    that splits the header into the columns a build needs."""
    header = "CustomerID;Annual Income (k$, gross, 2023);Spending Score (1-100, self-reported)"
    stage_file(con, write_csv(tmp_path, f"{header}\n1;15;39\n2;16;81\n"), tmp_path / "work")
    assert [(row[0], row[3], row[4]) for row in customers(con)] == [("1", 15.0, 39), ("2", 16.0, 81)]


def test_quoted_header_names_may_hold_other_delimiters(con, tmp_path):
    text = 'Id;Gender;Age;"Income (k$, gross, yearly)";"Spending, score (1,100)"\n1;Male;19;15;39\n2;Female;21;16;81\n'
    stage_file(
        con,
        write_csv(tmp_path, text),
        tmp_path / "work",
        columns={"annual_income_k": "Income (k$, gross, yearly)", "spending_score": "Spending, score (1,100)"},
    )
    assert [(row[0], row[3], row[4]) for row in customers(con)] == [("1", 15.0, 39), ("2", 16.0, 81)]


@pytest.mark.parametrize(
    ("header", "line_end"),
    [
        ('"Customer\r\nID",Gender,Age,Annual Income (k$),Spending Score (1-100)', "\r\n"),
        ('CustomerID,Gender,Age,"Annual Income\n(k$)","Spending Score\n(1-100)"', "\r\n"),
        ('"Customer\nID",Gender,Age,Annual Income (k$),Spending Score (1-100)', "\n"),
        ('"Customer\rID",Gender,Age,Annual Income (k$),Spending Score (1-100)', "\n"),
    ],
    ids=["crlf in a crlf file", "excel's alt-enter", "lf in an lf file", "lone cr in an lf file"],
)
def test_quoted_header_names_may_hold_line_ends(con, tmp_path, header, line_end):
    """A header cell with a line break, as spreadsheets save it: the name as written, no line
    of it taken for a title, the data after its last line."""
    rows = ["1,Male,19,15,39", "2,Female,21,x,81"]
    loaded = stage_file(con, write_csv(tmp_path, line_end.join([header, *rows]) + line_end), tmp_path / "work")
    names = con.execute("select source_name from raw_columns order by position").fetchall()
    assert [name for (name,) in names] == next(csv.reader([header]))
    assert [row[0] for row in customers(con)] == ["1"]
    header_lines = 1 + header.count("\n")  # a lone CR in an LF file ends no line
    assert rejects(con) == [(header_lines + 2, "annual_income_k 'x' is not a number")]
    assert not [warning for warning in loaded.warnings if "the header is line" in warning]


@pytest.mark.parametrize(
    "header, rows, kept, rejected",
    [
        # a header ending in a delimiter (a blank last column), rows with or without it
        (HEADER + ",", ["1,Male,19,15,39", "2,Female,21,16,81,"], ["1", "2"], []),
        # short of a named column: which field it lacks is unknown, so it is never read shifted
        (
            HEADER + ",Visits",
            ["1,Male,19,15,39,3", "5,Male,15,39,7"],
            ["1"],
            [(3, "has 5 fields where the header has 6")],
        ),
    ],
    ids=["header ends in a delimiter", "short of a named column"],
)
def test_rows_may_leave_out_fields_under_blank_names_only(con, tmp_path, header, rows, kept, rejected):
    stage_file(con, write_csv(tmp_path, "\n".join([header, *rows]) + "\n"), tmp_path / "work")
    assert [row[0] for row in customers(con)] == kept
    assert rejects(con) == rejected


def test_blank_and_repeated_headers_get_names_of_their_own_in_the_csv(tmp_path, settings):
    rows = [row + ",a,b,,c" for row in SAMPLE_ROWS]
    header = HEADER + ",Note,Note,,column_8"  # the blank one's own name is taken by the next
    run_build(settings, input_path=write_csv(tmp_path, "\n".join([header, *rows]) + "\n"))
    assert segmented_csv(settings)[0][5:] == ["Note", "Note_2", "column_8_2", "column_8", "Cluster", "Segment"]
    assert segmented_csv(settings)[1][5:9] == ["a", "b", "", "c"]


def test_input_columns_named_cluster_or_segment_leave_those_names_to_the_model_in_the_csv(tmp_path, settings):
    rows = [row + ",old,VIP,x" for row in SAMPLE_ROWS]
    header = HEADER + ",Cluster, segment ,Cluster_2"
    run_build(settings, input_path=write_csv(tmp_path, "\n".join([header, *rows]) + "\n"))
    written = segmented_csv(settings)
    assert written[0][5:] == ["Cluster_3", "segment_2", "Cluster_2", "Cluster", "Segment"]
    model = query(
        settings.warehouse_path, "select cluster_id, segment_label from customer_segments order by line_number"
    )
    assert [row[5:] for row in written[1:]] == [["old", "VIP", "x", str(cluster), label] for cluster, label in model]


def test_extra_columns_named_like_working_columns_travel_renamed(con, tmp_path):
    """Names staging gives its steps' columns (markers, age_code) and the tables' own
    (cluster_id, in any case) are taken; one only a setting of the file has is not."""
    text = "CustomerID,Income,Spending,markers,age_code,income_scale,Cluster_ID\n1,15,39,a,b,c,d\n"
    stage_file(con, write_csv(tmp_path, text), tmp_path / "work")
    assert con.execute(
        "select markers_2, age_code_2, income_scale, Cluster_ID_2, annual_income_k from stg_customers"
    ).fetchall() == [("a", "b", "c", "d", 15.0)]


def test_extra_columns_named_like_a_features_working_columns_travel_renamed(con, tmp_path):
    """Staging types a feature of the input's own as feature_<position>_number and checks it
    as feature_<position>_code: an input column of either name must not meet them."""
    text = "CustomerID,Spend,Visits,feature_1_number,feature_2_code\n1,120,4,x,y\n2,80,9,z,w\n"
    stage_file(con, write_csv(tmp_path, text), tmp_path / "work", features=("Spend", "Visits"))
    assert con.execute(
        "select Spend, Visits, feature_1_number_2, feature_2_code_2 from stg_customers order by line_number"
    ).fetchall() == [(120.0, 4.0, "x", "y"), (80.0, 9.0, "z", "w")]


def test_an_input_column_named_as_any_of_the_warehouses_own_travels_renamed(settings, tmp_path):
    """Every name a model gives beside the input's columns, in a step or in a table with a row
    per record (`dag.record_names`, read from the SQL): an input with a column of each builds,
    each column renamed in the warehouse and under its own header in the segmented CSV."""
    from segmentation.config import INPUT_COLUMNS, SQL_DIR

    names = sorted(reserved_names(SQL_DIR) - set(INPUT_COLUMNS) - {"line_number"})
    assert {"age_code", "field_problem", "scaled_point", "cluster_id", "reason_code"} <= set(names)
    header = ["CustomerID", "Annual Income (k$)", "Spending Score (1-100)", *names]
    rows = [
        [row.split(",")[0], *row.split(",")[3:5], *(f"{name} of {row.split(',')[0]}" for name in names)]
        for row in SAMPLE_ROWS
    ]
    path = write_csv(tmp_path, "\n".join(",".join(line) for line in [header, *rows]) + "\n")
    run_build(settings, input_path=path)
    columns = ", ".join(f'"{name}_2"' for name in names)
    first = query(settings.warehouse_path, f"select {columns} from customer_segments where customer_id = '1'")
    assert first == [tuple(f"{name} of 1" for name in names)]
    assert segmented_csv(settings)[0][3 : 3 + len(names)] == names


def test_repeated_extra_names_stay_apart(con, tmp_path):
    text = "CustomerID,Note,Income,Spending,Note,line_number\n1,a,15,39,b,x\n"
    stage_file(con, write_csv(tmp_path, text), tmp_path / "work")
    assert con.execute('select "Note", "Note_2", line_number_2 from stg_customers').fetchall() == [("a", "b", "x")]


# --- only what the model needs rejects a row -------------------------------------------------


def test_missing_age_and_other_genders_keep_the_customer(con, tmp_path):
    lines = [HEADER, "1,Male,,15,39", "2,Non-binary,25,16,40", "3,,abc,17,41", "4,f,30,18,42"]
    stage_file(con, write_csv(tmp_path, "\n".join(lines) + "\n"), tmp_path / "work")
    assert customers(con) == [
        ("1", "Male", None, 15, 39),
        ("2", "Non-binary", 25, 16, 40),
        ("3", None, None, 17, 41),
        ("4", "Female", 30, 18, 42),
    ]
    assert rejects(con) == []
    assert con.execute(
        "select line_number, column_name, raw_value, problem from customer_data_issues order by 1, 2"
    ).fetchall() == [
        (2, "age", None, "age is missing"),
        (4, "age", "abc", "age 'abc' is not a whole number"),
        (4, "gender", None, "gender is missing"),
    ]


def test_database_and_spreadsheet_no_value_spellings_are_missing(con, tmp_path):
    # \N as MySQL and psql export a null; #N/A and #NA as spreadsheets show a missing value
    lines = [HEADER, r"1,\N,#N/A,15,39", r"2,#N/A,\N,16,40", "3,#NA,#na,17,41", r"\N,Male,19,15,39"]
    lines += ["#N/A,Male,19,15,39", r"4,Male,19,\N,39", "5,Male,19,#N/A,39"]
    stage_file(con, write_csv(tmp_path, "\n".join(lines) + "\n"), tmp_path / "work")
    assert customers(con) == [("1", None, None, 15, 39), ("2", None, None, 16, 40), ("3", None, None, 17, 41)]
    assert rejects(con) == [
        (5, "customer_id is missing"),
        (6, "customer_id is missing"),
        (7, "annual_income_k is missing"),
        (8, "annual_income_k is missing"),
    ]
    assert con.execute(
        "select line_number, column_name, raw_value, problem from customer_data_issues order by 1, 2"
    ).fetchall() == [
        (2, "age", "#N/A", "age is missing"),
        (2, "gender", r"\N", "gender is missing"),
        (3, "age", r"\N", "age is missing"),
        (3, "gender", "#N/A", "gender is missing"),
        (4, "age", "#na", "age is missing"),
        (4, "gender", "#NA", "gender is missing"),
    ]


def test_age_rejects_only_when_it_is_a_feature(con, tmp_path):
    lines = [HEADER, "1,Male,,15,39", "2,Non-binary,25,16,40", "3,Male,200,17,41"]
    stage_file(
        con,
        write_csv(tmp_path, "\n".join(lines) + "\n"),
        tmp_path / "work",
        features=("annual_income_k", "spending_score", "age"),
    )
    assert customers(con) == [("2", "Non-binary", 25, 16, 40)]
    assert rejects(con) == [(2, "age is missing"), (4, "age 200 is outside 1 to 120")]


def test_a_file_without_age_or_gender_builds(tmp_path, settings):
    rows = [",".join(row.split(",")[i] for i in (0, 3, 4)) for row in SAMPLE_ROWS]
    result = run_build(settings, input_path=write_csv(tmp_path, "\n".join(["id,income,spending", *rows]) + "\n"))
    assert (result.customers, result.rejected_rows, result.value_issues) == (200, 0, 0)  # nothing lacks a value


def test_a_third_without_age_builds_every_customer(tmp_path, settings):
    rows = []
    for i, row in enumerate(SAMPLE_ROWS):
        cid, gender, age, income, spending = row.split(",")
        rows.append(
            ",".join([cid, "Non-binary" if i % 10 == 0 else gender, "" if i % 3 == 0 else age, income, spending])
        )
    result = run_build(settings, input_path=write_csv(tmp_path, "\n".join([HEADER, *rows]) + "\n"))
    assert (result.customers, result.rejected_rows, result.value_issues) == (200, 0, 67)
    assert query(settings.warehouse_path, "select value_issues from pipeline_runs") == [(67,)]
    assert "67 in kept customers" in (settings.reports_dir / "index.html").read_text()


# --- formulas, units ------------------------------------------------------------------------


def test_formulas_are_neutralised_in_the_csv_only(tmp_path, settings):
    rows = [row + ",x" for row in SAMPLE_ROWS]
    rows[0] = SAMPLE_ROWS[0] + ',"=HYPERLINK(""http://x"")"'
    rows[1] = SAMPLE_ROWS[1] + ",@SUM(A1)"
    rows[2] = SAMPLE_ROWS[2] + ",-5"
    rows[3] = SAMPLE_ROWS[3] + ",+cmd"
    run_build(settings, input_path=write_csv(tmp_path, "\n".join([HEADER + ",Note", *rows]) + "\n"))
    assert [row[5] for row in segmented_csv(settings)[1:5]] == ['\'=HYPERLINK("http://x")', "'@SUM(A1)", "-5", "'+cmd"]
    assert query(settings.warehouse_path, 'select "Note" from stg_customers order by line_number limit 1') == [
        ('=HYPERLINK("http://x")',)
    ]


def test_incomes_without_a_unit_written_with_french_thousands_are_dollars(con, tmp_path):
    """A narrow no-break space (French), a no-break space, a space, a thin space (SI) between groups."""
    written = ["78\u202f000", "45\u00a0500", "120 000", "64\u2009250"]
    rows = [f"{n};{income};50" for n, income in enumerate(written, start=1)]
    text = "\n".join(["CustomerID;Revenu annuel;Spending Score", *rows]) + "\n"
    loaded = stage_file(con, write_csv(tmp_path, text), tmp_path / "work")
    assert loaded.income_unit == "dollars" and [row[3] for row in customers(con)] == [78.0, 45.5, 120.0, 64.25]


@pytest.mark.parametrize(
    ("header", "incomes", "unit", "kept", "warning"),
    [
        (
            "Annual Income (USD)",
            (72, 45, 120),
            "dollars",
            [0.072, 0.045, 0.12],
            "'Annual Income (USD)' says dollars, but its median is 72 (72 dollars a year, 0.072 k$): read as "
            "dollars, as it says (--income-unit k if they are thousands)",
        ),
        (
            "Annual Income (k$)",
            (72000, 45000, 120000),
            "k",
            [72000.0, 45000.0, 120000.0],
            "'Annual Income (k$)' says thousands, but its median is 72,000 (as k$, 72 million dollars a year): read "
            "as thousands, as it says (--income-unit dollars if they are dollars)",
        ),
    ],
    ids=["dollars over thousands", "thousands over dollars"],
)
def test_a_header_whose_unit_the_values_belie_is_kept_and_said(con, tmp_path, header, incomes, unit, kept, warning):
    rows = [f"{n},{income},{38 + n}" for n, income in enumerate(incomes, start=1)]
    text = "\n".join([f"CustomerID,{header},Spending Score", *rows]) + "\n"
    loaded = stage_file(con, write_csv(tmp_path, text), tmp_path / "work")
    assert loaded.income_unit == unit and [row[3] for row in customers(con)] == kept
    assert loaded.warnings == (warning,)


@pytest.mark.parametrize(
    ("header", "option", "unit", "warned"),
    [
        ("Annual Income ($)", None, "dollars", False),
        ("Income USD", None, "dollars", False),
        ("Annual Income", None, "dollars", True),
        ("Annual Income", "dollars", "dollars", False),
    ],
)
def test_incomes_in_dollars_are_converted(con, tmp_path, header, option, unit, warned):
    text = f'CustomerID,{header},Spending Score\n1,15000,39\n2,"$137,500",40\n3,1500000,41\n'
    loaded = stage_file(con, write_csv(tmp_path, text), tmp_path / "work", income_unit=option)
    assert loaded.income_unit == unit
    assert bool(loaded.warnings) == warned
    assert [row[3] for row in customers(con)] == [15.0, 137.5, 1500.0]


def test_incomes_in_dollars_are_their_thousands_and_come_back_as_written(tmp_path, settings):
    """A dollar income is its thousands in the warehouse, rounded once (58,800 is 58.8, never
    58.800000000000004), and the segmented CSV writes the dollars the file had."""
    incomes = [10_000 + 100 * n for n in range(1_500)] + [64_300.25, 58_800.5]
    rows = [f"{n},{income},{1 + n % 100}" for n, income in enumerate(incomes, start=1)]
    path = write_csv(tmp_path, "\n".join(["CustomerID,Annual Income ($),Spending Score (1-100)", *rows]) + "\n")
    run_build(settings, input_path=path)
    kept = query(settings.warehouse_path, "select annual_income_k from stg_customers order by line_number")
    assert [income for (income,) in kept] == [income / 1000 for income in incomes]
    written = [row[1] for row in segmented_csv(settings)[1:]]
    assert written == [str(income) for income in incomes]


@pytest.mark.parametrize(
    ("header", "unit"),
    [
        ("Annual Income (k$)", "k"),
        ("Income (k USD)", "k"),
        ("Annual Income ($000)", "k"),
        ("Income ('000 USD)", "k"),
        ("Annual Income ($'000)", "k"),
        ("Annual Income ($000s)", "k"),
        ("Income (000 $)", "k"),
        ("Income (USD 000)", "k"),
        ("Income in 000s", "k"),
        ("Einkommen (Tsd. USD)", "k"),
        ("Einkommen (TUSD)", "k"),
        ("Income (thousands of dollars)", "k"),
        ("Income ($)", "dollars"),
        ("Income USD", "dollars"),
        ("annual income in dollars", "dollars"),
        ("Annual Income", None),
        ("Income (1-100000)", None),
    ],
)
def test_income_unit_from_the_header(header, unit):
    assert income_unit(header) == unit


def test_income_in_thousands_of_dollars_in_finance_notation_is_kept(con, tmp_path):
    text = "CustomerID,Annual Income ($000),Spending Score\n1,15,39\n2,137.5,40\n"
    loaded = stage_file(con, write_csv(tmp_path, text), tmp_path / "work")
    assert (loaded.income_unit, [row[3] for row in customers(con)]) == ("k", [15.0, 137.5])


def test_decimal_commas_as_european_exports_write_them(con, tmp_path):
    text = 'Kunden-ID;Einkommen;Ausgaben\nK1;89,5;75\nK2;1.250,75;6\nK3;15,500;40\nK4;"70,25";50\n'
    loaded = stage_file(
        con,
        write_csv(tmp_path, text),
        tmp_path / "work",
        columns={"customer_id": "Kunden-ID", "annual_income_k": "Einkommen", "spending_score": "Ausgaben"},
    )
    assert loaded.income_unit == "k"
    # a file that writes decimal commas reads every comma as one: '15,500' is 15.5
    assert [row[3] for row in customers(con)] == [89.5, 1250.75, 15.5, 70.25]


@pytest.mark.parametrize(
    "incomes, expected, warned",
    [
        (["89.000,50", "70.000", "15.000"], [89.0005, 70.0, 15.0], True),  # dots split thousands
        (["89,000.50", "70,000", "15,000"], [89.0005, 70.0, 15.0], False),
        (["70.000", "15.000", "120.000"], [70.0, 15.0, 120.0], True),  # one group of three: thousands
        (["70,000", "15,000", "120,000"], [70.0, 15.0, 120.0], False),
        (["$1.250.000", "70000", "15000,5"], [1250.0, 70.0, 15.0005], False),
        (["48.561", "70.250", "15.125"], [0.048561, 0.07025, 0.015125], False),  # three decimals say nothing
        # French thousands: a space, a no-break space, a narrow no-break space; Swiss: an apostrophe
        (["1 234,50", "70\u00a0000", "1\u202f015,5"], [1.2345, 70.0, 1.0155], False),
        (["1'234.50", "70\u2019000", "15.5"], [1.2345, 70.0, 0.0155], False),
        # no group of thousands starts with a zero: '0.750' has decimals, so has '70.000'
        (["70.000", "0.750", "15.000"], [0.07, 0.00075, 0.015], False),
        (["70,000", "0,750", "15,000"], [0.07, 0.00075, 0.015], False),
    ],
    ids=[
        "decimal comma",
        "decimal point",
        "dot groups only",
        "comma groups only",
        "said by two groups",
        "decimals",
        "French spaces",
        "Swiss apostrophes",
        "a leading zero says points",
        "a leading zero says commas",
    ],
)
def test_a_file_reads_its_incomes_with_one_decimal_mark(con, tmp_path, incomes, expected, warned):
    rows = [f"{n};Male;30;{income};50" for n, income in enumerate(incomes, start=1)]
    text = "\n".join([HEADER.replace(",", ";").replace("(k$)", "(USD)"), *rows])
    loaded = stage_file(con, write_csv(tmp_path, text + "\n"), tmp_path / "work")
    assert [row[3] for row in customers(con)] == pytest.approx(expected)
    assert any("decimal commas" in warning for warning in loaded.warnings) == warned


def test_a_feature_of_three_decimals_is_read_with_decimal_points(con, tmp_path):
    """'1.000' beside '2.250' in a feature written to three decimals is one, not a thousand: only
    the incomes' whole thousands hint at a decimal comma."""
    rows = [f"{n},30,{15 + n},50,{items}" for n, items in enumerate(["2.250", "1.000", "3.750", "1.500"], start=1)]
    path = write_csv(tmp_path, "\n".join(["CustomerID,Age,Annual Income (k$),Spending Score,Avg Items", *rows]) + "\n")
    stage_file(con, path, tmp_path / "work", features=("Avg Items", "spending_score"))
    found = con.execute('select "Avg Items" from stg_customers order by line_number').fetchall()
    assert [value for (value,) in found] == [2.25, 1.0, 3.75, 1.5]


def test_a_feature_of_the_files_own_is_read_with_its_one_decimal_mark(con, tmp_path):
    """No income column: the decimal mark is the feature's, so '2.000' is two thousand beside
    '1.234,50', not two."""
    amounts = ["1.234,50", "2.000", "850,00", "12.500", "3.100,25"]
    rows = [f"K{n};{amount};{n}" for n, amount in enumerate(amounts, start=1)]
    path = write_csv(tmp_path, "\n".join(["Kundennummer;Umsatz;Bestellungen", *rows]) + "\n")
    loaded = stage_file(con, path, tmp_path / "work", features=("Umsatz:log", "Bestellungen"))
    found = con.execute('select "Umsatz" from stg_customers order by line_number').fetchall()
    assert [value for (value,) in found] == [1234.5, 2000.0, 850.0, 12500.0, 3100.25]
    assert not loaded.warnings  # '1.234,50' says the comma: '2.000' is no guess


@pytest.mark.parametrize("written", ["€{}", "€ {}", "{} €", "{}€", "£{}"])
def test_amounts_with_a_currency_sign_say_the_files_decimal_mark(con, tmp_path, written):
    """'€1.312,59' or '1.312,59 €' says the comma as '1.312,59' does: the counts beside them,
    '1.500', are thousands."""
    amounts = ["1.312,59", "845,10", "2.100,00", "99,95"]
    rows = [
        f"K{n};{written.format(amount)};{count}"
        for n, (amount, count) in enumerate(zip(amounts, ["1.500", "12", "2.500", "7"]))
    ]
    path = write_csv(tmp_path, "\n".join(["Kundennummer;Umsatz;Bestellungen", *rows]) + "\n")
    stage_file(con, path, tmp_path / "work", features=("Umsatz:log", "Bestellungen:log"))
    found = con.execute('select "Umsatz", "Bestellungen" from stg_customers order by line_number').fetchall()
    assert found == [(1312.59, 1500.0), (845.1, 12.0), (2100.0, 2500.0), (99.95, 7.0)]
    assert rejects(con) == []


def test_a_column_named_as_a_classic_one_that_holds_other_values_keeps_its_text(con, tmp_path):
    """A CRM's 'Spending' in dollars and 'Age (days)' are not a spending score and an age: where
    the model does not read them, they travel as written (staging set each to null), said once."""
    rows = [f'C{n},"${1_000 + 37 * n:,}.50",{n % 9 + 1},{40 * n + 400}' for n in range(40)]
    text = "\n".join(["Customer ID,Spending,Orders,Age (days)", *rows]) + "\n"
    (tmp_path / "a").mkdir()
    loaded = stage_file(con, write_csv(tmp_path / "a", text), tmp_path / "a" / "work", features=("Orders",))
    found = con.execute('select "Spending", "Age (days)" from stg_customers order by line_number').fetchall()
    assert found[:2] == [("$1,000.50", "400"), ("$1,037.50", "440")]
    assert con.execute("select count(*) from customer_data_issues").fetchall() == [(0,)]
    assert [w for w in loaded.warnings if "not spending scores" in w] == [
        "'Spending' holds values such as '$1,000.50', not spending scores of 1 to 100: read as a column of the "
        "file's own, its text kept as written"
    ]
    with duckdb.connect() as named:  # named with --columns: the user's word stands
        (tmp_path / "b").mkdir()
        mapped = {"spending_score": "Spending", "age": "Age (days)"}
        loaded = stage_file(
            named, write_csv(tmp_path / "b", text), tmp_path / "b" / "work", features=("Orders",), columns=mapped
        )
        assert not [w for w in loaded.warnings if "column of the file's own" in w]


def test_an_accountants_negative_in_brackets_is_a_negative_number(con, tmp_path):
    """'($97.18)', as Excel and accounting exports write a loss, is -97.18, not 'not a number'."""
    values = ["$120.50", "($97.18)", "(12.00)", "$1,204.00", "-$5.25"]
    rows = [f'C{n},"{value}",{n + 1}' for n, value in enumerate(values)]
    path = write_csv(tmp_path, "\n".join(["Customer ID,Net Revenue,Orders", *rows]) + "\n")
    stage_file(con, path, tmp_path / "work", features=("Net Revenue", "Orders"))
    found = con.execute('select "Net Revenue" from stg_customers order by line_number').fetchall()
    assert [value for (value,) in found] == [120.5, -97.18, -12.0, 1204.0, -5.25]
    assert rejects(con) == []


def test_a_header_with_its_accents_decomposed_is_named_as_typed(con, tmp_path):
    """macOS tools write 'Umsätze' as 'Umsa' and a combining umlaut: --features names it as
    a keyboard types it."""
    header = unicodedata.normalize("NFD", "Kundennummer;Umsätze;Bestellungen")
    path = write_csv(tmp_path, header + "\nK1;10;1\nK2;20;2\nK3;35;4\n")
    stage_file(con, path, tmp_path / "work", features=("Umsätze:log", "Bestellungen"))
    column = unicodedata.normalize("NFD", "Umsätze")
    assert con.execute(f'select "{column}" from stg_customers order by line_number').fetchall() == [(10,), (20,), (35,)]


def test_a_feature_written_with_french_thousands_keeps_its_largest_values(con, tmp_path):
    amounts = ["996,90", "1\u00a0234,50", "12\u202f500,00", "85,25", "3 100,75"]
    rows = [f"{n};{amount};{n}" for n, amount in enumerate(amounts, start=1)]
    path = write_csv(tmp_path, "\n".join(["CustomerID;Total dépensé;Commandes", *rows]) + "\n")
    stage_file(con, path, tmp_path / "work", features=("Total dépensé:log", "Commandes"))
    found = con.execute('select "Total dépensé" from stg_customers order by line_number').fetchall()
    assert [value for (value,) in found] == [996.9, 1234.5, 12500.0, 85.25, 3100.75]
    assert rejects(con) == []


def test_income_in_k_is_kept_and_can_be_forced(con, tmp_path):
    text = "CustomerID,Annual Income,Spending Score\n1,15,39\n2,72.5,40\n"
    loaded = stage_file(con, write_csv(tmp_path, text), tmp_path / "work")
    assert (loaded.income_unit, [row[3] for row in customers(con)]) == ("k", [15.0, 72.5])


def test_dollar_income_builds_with_a_warning_and_no_customer_lost(tmp_path, settings):
    rows = [
        ",".join([*row.split(",")[:3], str(int(row.split(",")[3]) * 1000), row.split(",")[4]]) for row in SAMPLE_ROWS
    ]
    path = write_csv(tmp_path, "\n".join(["CustomerID,Gender,Age,Annual Income,Spending Score", *rows]) + "\n")
    lines: list[str] = []
    result = build(replace(settings, input_path=path), log=lines.append)
    assert (result.customers, result.rejected_rows) == (200, 0)
    assert any(line.strip().startswith("warning:") and "read as whole units" in line for line in lines)
    assert query(settings.warehouse_path, "select income_unit from pipeline_runs") == [("dollars",)]
    assert query(settings.warehouse_path, "select max(annual_income_k) < 1000 from stg_customers") == [(True,)]


# --- encodings, line ends, quoting ----------------------------------------------------------

ACCENTED = [HEADER + ",City", "1,Male,19,15,39,Zürich", "2,Female,21,15,81,Besançon – €"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252"])
def test_encodings_people_save_in(con, tmp_path, encoding):
    data = ("\r\n".join(ACCENTED) + "\r\n").encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        data = (codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE) + data
    stage_file(con, write_csv(tmp_path, data), tmp_path / "work")
    assert con.execute('select "City" from stg_customers order by line_number').fetchall() == [
        ("Zürich",),
        ("Besançon – €",),
    ]


def test_an_encoding_can_be_named(con, tmp_path):
    data = ("\n".join(ACCENTED) + "\n").encode("latin-1", errors="replace")
    stage_file(con, write_csv(tmp_path, data), tmp_path / "work", encoding="latin-1")
    assert con.execute('select "City" from stg_customers order by line_number').fetchall()[0] == ("Zürich",)


def test_a_bad_byte_rejects_its_row_alone(con, tmp_path):
    data = ("\n".join(ACCENTED) + "\n").encode() + b"3,Male,30,50,50,Caf\xe9\n4,Male,31,51,51,ok\n"
    stage_file(con, write_csv(tmp_path, data), tmp_path / "work")
    assert [row[0] for row in customers(con)] == ["1", "2", "4"]
    assert rejects(con) == [(4, "not utf-8 text (byte 0xe9 at column 20)")]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le"], ids=["utf-8", "utf-16", "utf-16 without BOM"])
def test_a_nul_byte_rejects_its_row_alone_even_at_the_start_of_a_small_file(con, tmp_path, encoding):
    text = f"{HEADER}\n1,Male,19,15,39\n2,Ma\x00le,20,16,40\n3,Male,21,17,41\n"
    stage_file(con, write_csv(tmp_path, text.encode(encoding)), tmp_path / "work")
    assert [row[0] for row in customers(con)] == ["1", "3"]
    assert rejects(con) == [(3, "holds a NUL byte at column 5")]


def test_a_nul_byte_in_the_header_is_named_with_its_line(con, tmp_path):
    path = write_csv(tmp_path, f"Customer\x00ID,{HEADER.split(',', 1)[1]}\n1,Male,19,15,39\n")
    with pytest.raises(InputError, match=re.escape("line 1: the header is unreadable: holds a NUL byte at column 9")):
        load(con, path, tmp_path / "work")


@pytest.mark.parametrize(
    "data",
    [
        b"\r".join(line.encode() for line in [HEADER, "1,Male,19,15,39", "2,Male,20,16,40"]) + b"\r",
        HEADER.encode() + b"\r\n1,Male,19,15,39\n2,Male,20,16,40\r\n",
        HEADER.encode() + b"\n1,Male,19,15,39\n2,Male,20,16,40",
        # a CR file whose quoted fields hold LFs, as Excel for Mac saves a cell's line breaks
        HEADER.encode() + b',Note\r1,Male,19,15,39,"a\nb"\r2,Male,20,16,40,"c\nd\ne"\r',
    ],
    ids=["CR", "one LF in CRLF", "no final line end", "LF in quoted fields of a CR file"],
)
def test_line_ends_of_any_kind(con, tmp_path, data):
    stage_file(con, write_csv(tmp_path, data), tmp_path / "work")
    assert [row[0] for row in customers(con)] == ["1", "2"]
    assert con.execute("select line_number from stg_customers order by 1").fetchall() == [(2,), (3,)]


def test_a_quoted_line_end_is_part_of_the_value(con, tmp_path):
    text = (
        f'{HEADER},Address\r\n1,Male,19,15,39,"1 Main St\r\nFlat 2"\r\n'
        '2,Male,20,16,40,"x, ""y"""\r\n\r\n3,Male,21,17,41,z\r\n'
    )
    stage_file(con, write_csv(tmp_path, text), tmp_path / "work")
    assert con.execute('select customer_id, line_number, "Address" from stg_customers order by 2').fetchall() == [
        ("1", 2, "1 Main St\r\nFlat 2"),
        ("2", 4, 'x, "y"'),
        ("3", 6, "z"),
    ]
    assert rejects(con) == []


# a quoted field's line end as the file writes it: (file's line end, the field's text)
QUOTED_BREAKS = {
    "lone CR in a LF file": ("\n", "Note with a\rcarriage return"),
    "lone CR in a CRLF file": ("\r\n", "Note with a\rcarriage return"),
    "CRLF in a LF file": ("\n", "two\r\nlines"),
    "CRLF in a CRLF file": ("\r\n", "two\r\nlines"),
    "LF in a CRLF file": ("\r\n", "two\nlines"),
    "CR and LF in a LF file": ("\n", "a\rb\nc\r"),
}


@pytest.mark.parametrize("end, note", QUOTED_BREAKS.values(), ids=QUOTED_BREAKS.keys())
def test_a_line_end_in_a_quoted_field_is_kept_as_written(con, tmp_path, end, note):
    rows = ["1,Male,19,15,39,plain", f'2,Male,20,16,40,"{note}"', "3,Male,21,x,41,plain", "4,Male,22,18,42,plain"]
    stage_file(con, write_csv(tmp_path, end.join([HEADER + ",Note", *rows]) + end), tmp_path / "work")
    after = 4 + note.count("\n")  # lines as the file numbers them: a CR in a file with LFs is text
    assert con.execute('select customer_id, line_number, "Note" from stg_customers order by 2').fetchall() == [
        ("1", 2, "plain"),
        ("2", 3, note),
        ("4", after + 1, "plain"),
    ]
    assert rejects(con) == [(after, "annual_income_k 'x' is not a number")]


def test_a_carriage_return_in_a_quoted_field_reaches_the_warehouse_and_the_csv(tmp_path, settings):
    note = '"Note with a\rcarriage return"'
    rows = [row + "," + (note if row.startswith("7,") else "plain") for row in SAMPLE_ROWS]
    path = write_csv(tmp_path, "\n".join([HEADER + ",Note", *rows]) + "\n")
    result = run_build(settings, input_path=path)
    assert (result.customers, result.rejected_rows) == (200, 0)
    warehouse = settings.warehouse_path
    assert query(warehouse, "select line_number, \"Note\" from stg_customers where customer_id = '7'") == [
        (8, "Note with a\rcarriage return")
    ]
    assert query(warehouse, "select \"Note\" from customer_segments where customer_id = '8'") == [("plain",)]
    table = segmented_csv(settings)
    assert len(table) == 201 and table[7][:6] == [*SAMPLE_ROWS[6].split(","), "Note with a\rcarriage return"]
    assert b'"Note with a\rcarriage return"' in (settings.reports_dir / "segmented_mall_customers.csv").read_bytes()


def test_a_lone_cr_in_a_file_with_lf_line_ends_is_text_not_a_line_end(con, tmp_path):
    data = (
        HEADER.encode()
        + b",Note\r\n1,Male,19,15,39,a\rb\r\n2,Male,20,16,40,ok\r3,Male,21,17,41,ok\r\n4,Male,22,18,42,ok\r\n"
    )
    stage_file(con, write_csv(tmp_path, data), tmp_path / "work")
    assert con.execute('select customer_id, line_number, "Note" from stg_customers order by 2').fetchall() == [
        ("1", 2, "a\rb"),
        ("4", 4, "ok"),
    ]
    assert rejects(con) == [(3, "has 11 fields where the header has 6")]


# --- long lines -----------------------------------------------------------------------------

LINE_LIMIT = input_file.MAX_LINE_BYTES


def too_long(size: int) -> str:
    return f"the line is {size:,} bytes long; at most {LINE_LIMIT:,} are read"


def sized_line(customer: int, size: int) -> str:
    """A customer line of exactly `size` bytes (without its line end), its Note filling it."""
    start = f"{customer},Male,30,{customer},50,"
    return start + "x" * (size - len(start))


def test_a_line_longer_than_the_limit_rejects_its_row_alone(con, tmp_path):
    rows = [sized_line(n, 3 << 20) if n == 5 else f"{n},Male,30,{n},50,ok" for n in range(2, 9)]
    stage_file(con, write_csv(tmp_path, "\n".join([HEADER + ",Note", *rows]) + "\n"), tmp_path / "work")
    assert [row[0] for row in customers(con)] == ["2", "3", "4", "6", "7", "8"]
    assert rejects(con) == [(5, too_long(3 << 20))]
    shown = con.execute("select raw_line from customer_rejects").fetchall()[0][0]
    assert shown.startswith("5,Male,30,5,50,xxx") and len(shown) < 200  # its start, not all of it


LIMIT_FILES = {
    "LF": ("\n", "utf-8", ""),
    "CRLF": ("\r\n", "utf-8", ""),
    "CR": ("\r", "utf-8", ""),
    "Windows-1252": ("\r\n", "cp1252", "Zürich"),
    "quoted line end": ("\n", "utf-8", '"two\nlines"'),
}


@pytest.mark.parametrize("end, encoding, note", LIMIT_FILES.values(), ids=LIMIT_FILES.keys())
def test_a_line_at_the_limit_is_read_and_one_byte_longer_is_rejected(con, tmp_path, end, encoding, note):
    rows = [
        sized_line(2, LINE_LIMIT),
        sized_line(3, LINE_LIMIT + 1),
        f"4,Male,30,4,50,{note}",
        sized_line(5, LINE_LIMIT),
    ]
    data = end.join([HEADER + ",Note", *rows, "6,Male,30,6,50,ok"]) + end
    stage_file(con, write_csv(tmp_path, data.encode(encoding)), tmp_path / "work")
    later = 6 + note.count("\n")
    assert con.execute("select customer_id, line_number from stg_customers order by 2").fetchall() == [
        ("2", 2),
        ("4", 4),
        ("5", later - 1),
        ("6", later),
    ]
    assert con.execute('select max(length("Note")) from stg_customers').fetchall() == [(LINE_LIMIT - 15,)]
    assert rejects(con) == [(3, too_long(LINE_LIMIT + 1))]


def test_a_header_longer_than_a_line_is_read_whole_up_to_its_own_limit(con, tmp_path, monkeypatch):
    names = [f"extra column number {i} " + "x" * 1500 for i in range(1990)]  # about 3 MB
    header = ",".join(["CustomerID", "Annual Income (k$)", "Spending Score (1-100)", *names])
    path = write_csv(tmp_path, header + "\n1,15,39" + "," * 1990 + "\n")
    load(con, path, tmp_path / "work")
    assert con.execute("select count(*) from raw_columns").fetchall() == [(1993,)]
    assert con.execute("select fields_found, fields_expected from raw_customers").fetchall() == [(1993, 1993)]
    monkeypatch.setattr(csv_file, "MAX_HEADER_CHARS", 2 << 20)
    with pytest.raises(InputError, match=re.escape("line 1: the header is longer than 2,097,152 characters")):
        load(duckdb.connect(), path, tmp_path / "work2")


def test_a_stray_quote_costs_its_line_only(con, tmp_path):
    lines = [HEADER + ",Note", '1,Male,19,15,39,"unclosed', *[f"{i},Male,20,16,40,ok" for i in range(2, 150)]]
    stage_file(con, write_csv(tmp_path, "\n".join(lines) + "\n"), tmp_path / "work")
    assert con.execute("select count(*) from stg_customers").fetchall() == [(148,)]
    assert rejects(con) == [(2, "a quoted field opened on line 2 is not closed")]


@pytest.mark.parametrize(
    "notes, rejected",
    [
        ({2: '"VIP', 5: 'bought 27" monitor'}, [(2, "a quoted field opened on line 2 is not closed")]),
        ({2: '"Bob, Jr', 17: "6' 2\" tall"}, [(2, "a quoted field opened on line 2 is not closed")]),
        # closed where a field ends, but the record it makes has too many fields
        (
            {2: '"VIP', 4: 'x",y'},
            [(2, "a quoted field opened on line 2 is not closed"), (4, "has 7 fields where the header has 6")],
        ),
        # closed where a line ends, after lines that are customers of their own
        ({5: '"VIP customer', 8: 'monitor 27"'}, [(5, "a quoted field opened on line 5 is not closed")]),
        # within one line: read as it is written, the line is kept
        ({3: '"A"B'}, []),
        # the last line opens a quote it never closes
        ({21: '"unclosed'}, [(21, "a quoted field opened on line 21 is not closed")]),
    ],
    ids=[
        "closed mid-field",
        "closed 15 lines on",
        "closed, fields miscounted",
        "closed at a line end",
        "astray in a line",
        "last line",
    ],
)
def test_a_stray_quote_in_free_text_never_swallows_the_lines_after_it(con, tmp_path, notes, rejected):
    lines = [HEADER + ",Note", *[f"{n},Male,30,{n},50,{notes.get(n, 'ok')}" for n in range(2, 22)]]
    stage_file(con, write_csv(tmp_path, "\n".join(lines) + "\n"), tmp_path / "work")
    assert rejects(con) == rejected
    kept = {row[0] for row in customers(con)}
    assert kept == {str(n) for n in range(2, 22)} - {str(line) for line, _ in rejected}  # every other line a customer


def test_a_quoted_line_end_in_a_ragged_row_is_one_reject(con, tmp_path):
    lines = [HEADER + ",Address,Notes", "1,Male,19,15,39,Main St,ok", '2,Male,30,70,50,"12 High St', 'Springfield"']
    stage_file(con, write_csv(tmp_path, "\n".join(lines) + "\n"), tmp_path / "work")
    assert [row[0] for row in customers(con)] == ["1"]
    assert rejects(con) == [(3, "has 6 fields where the header has 7")]


@pytest.mark.parametrize(
    "hint, address",
    [("sep=;", "Rue 1"), ("sep=;", '"Rue 1\r\nBât. B"'), ("SEP=;;;;;", "Rue 1")],
    ids=["one line a record", "quoted line end", "saved back padded"],
)
def test_excel_sep_line_names_the_delimiter(con, tmp_path, hint, address):
    rows = ["1;Male;19;15;39;Rue 1", "2;Female;21;15;x;Rue 2", f"3;Female;22;16;80;{address}"]
    text = "\r\n".join([hint, HEADER.replace(",", ";") + ";Address", *rows]) + "\r\n"
    stage_file(con, write_csv(tmp_path, text.encode("cp1252")), tmp_path / "work")
    assert [(row[0], row[4]) for row in customers(con)] == [("1", 39), ("3", 80)]
    assert rejects(con) == [(4, "spending_score 'x' is not a whole number")]  # lines as the file numbers them


@pytest.mark.parametrize(
    "text, error",
    [
        ("sep=#\n" + HEADER + "\n1,Male,19,15,39\n", "line 1: 'sep=#' names a delimiter other than"),
        ("sep=;\nid;sex\n1;Male\n", "line 2: missing column(s)"),
        ("sep=;\r\n", "line 2: no header after 'sep=;'"),
    ],
)
def test_excel_sep_line_errors_name_their_line(con, tmp_path, text, error):
    with pytest.raises(InputError, match=re.escape(error)):
        load(con, write_csv(tmp_path, text), tmp_path / "work")


@pytest.mark.parametrize("first", [b"", b"sep=;\n"], ids=["header first", "after sep="])
def test_a_bad_byte_in_the_header_is_named_with_its_line(con, tmp_path, first):
    data = first + b"Customer\xe9ID;Gender;Age\n1;Male;19\n"
    line = 1 + first.count(b"\n")
    expected = f"line {line}: the header is unreadable: not utf-8 text (byte 0xe9 at column 9)"
    with pytest.raises(InputError, match=re.escape(expected)):
        load(con, write_csv(tmp_path, data), tmp_path / "work", encoding="utf-8")


def test_excel_workbook_first_sheet_or_named(con, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Notes"
    sheet.append(["nothing here"])
    data = book.create_sheet("Customers")
    data.append(["Customer ID", "Gender", "Age", "Annual Income (k$)", "Spending Score (1-100)", "Joined"])
    data.append(["C-1", "Male", 19, 15.0, 39, None])
    data.append(["C-2", "Female", 21.0, 72.5, 81, "2024-01-31"])
    data.append([None, None, None, None, None, None])
    data.append(["C-3", "F", "x", 20, 50, None])
    path = tmp_path / "customers.xlsx"
    book.save(path)
    stage_file(con, path, tmp_path / "work", sheet="Customers")
    assert customers(con) == [
        ("C-1", "Male", 19, 15.0, 39),
        ("C-2", "Female", 21, 72.5, 81),
        ("C-3", "Female", None, 20.0, 50),
    ]
    assert con.execute("select line_number from stg_customers order by 1").fetchall() == [(2,), (3,), (5,)]
    with pytest.raises(InputError, match="no sheet named 'Nope'"), duckdb.connect() as other:
        load(other, path, tmp_path / "work2", sheet="Nope")
    from openpyxl.chart import BarChart, Reference

    chart = BarChart()
    chart.add_data(Reference(data, min_col=4, min_row=1, max_row=3))
    book.create_chartsheet("Chart").add_chart(chart)
    book.save(path)
    with pytest.raises(InputError, match="the sheet 'Chart' is a chart"), duckdb.connect() as other:
        load(other, path, tmp_path / "work3", sheet="Chart")


def test_sheet_names_a_sheet_of_a_workbook_only(con, tmp_path):
    with pytest.raises(InputError, match=re.escape("--sheet names a sheet of an .xlsx workbook; this input is CSV")):
        load(con, write_csv(tmp_path, HEADER + "\n1,Male,19,15,39\n"), tmp_path / "work", sheet="Customers")


@pytest.mark.parametrize("sign", ["+", "-"])
def test_a_number_may_carry_its_sign(con, tmp_path, sign):
    text = f"{HEADER}\n1,Male,{sign}19,{sign}15,{sign}39\n2,Female,21,16,81\n"
    stage_file(con, write_csv(tmp_path, text), tmp_path / "work", features=("annual_income_k", "spending_score", "age"))
    if sign == "+":
        assert [row[2:] for row in customers(con)] == [(19, 15.0, 39), (21, 16.0, 81)]
    else:
        assert rejects(con) == [
            (
                2,
                "age -19 is outside 1 to 120; annual_income_k -15 is outside 0 to infinity; "
                "spending_score -39 is outside 1 to 100",
            )
        ]


def test_excel_builds_end_to_end(tmp_path, settings):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(HEADER.split(","))
    for row in SAMPLE_ROWS:
        cid, gender, age, income, spending = row.split(",")
        book.active.append([int(cid), gender, int(age), int(income), int(spending)])
    path = tmp_path / "customers.xlsx"
    book.save(path)
    result = run_build(settings, input_path=path)
    assert (result.customers, result.rejected_rows) == (200, 0)
    assert query(settings.warehouse_path, "select input_format from pipeline_runs") == [("Excel workbook",)]


@pytest.mark.parametrize("stored", ["A1:E50", "A1:C50"])
def test_excel_reads_every_row_and_column_whatever_size_the_sheet_states(con, tmp_path, stored):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append([*HEADER.split(","), "Note"])
    for row in SAMPLE_ROWS:  # no Note cell, as Excel saves an empty one: shorter rows
        cid, gender, age, income, spending = row.split(",")
        book.active.append([int(cid), gender, int(age), int(income), int(spending)])
    book.active["F2"] = "first"
    written = tmp_path / "written.xlsx"
    book.save(written)
    path = tmp_path / "customers.xlsx"  # a stale stored size, as some programs that add rows leave it
    with zipfile.ZipFile(written) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, found = re.subn(rb'<dimension ref="[^"]*"', f'<dimension ref="{stored}"'.encode(), data)
                assert found == 1
            target.writestr(item, data)
    stage_file(con, path, tmp_path / "work")
    assert [row[0] for row in customers(con)] == [str(i) for i in range(1, 201)]
    assert customers(con)[-1] == ("200", "Male", 60, 49.0, 53)
    assert con.execute('select "Note" from stg_customers where line_number = 2').fetchall() == [("first",)]
    assert rejects(con) == []


SHEET_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>',
    b"</sheetData></worksheet>",
)


def sheet_row(*values: object, far: str | None = None) -> bytes:
    """A <row> of inline cells, and with `far` a cell in the last column, XFD (empty for '')."""
    cells = "".join(
        f"<c><v>{value}</v></c>" if isinstance(value, int) else f'<c t="inlineStr"><is><t>{value}</t></is></c>'
        for value in values
    )
    if far is not None:
        cells += '<c r="XFD1"/>' if far == "" else f'<c r="XFD1"><v>{far}</v></c>'
    return f"<row>{cells}</row>".encode()


def workbook_of_rows(tmp_path, rows, strings: int = 0):
    """A workbook saved by openpyxl whose sheet 'Customers' is replaced by `rows`, as written
    (what Excel would never save), with a table of `strings` shared strings."""
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Customers"
    template, path = tmp_path / "template.xlsx", tmp_path / "customers.xlsx"
    book.save(template)
    shared = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "[Content_Types].xml" and strings:
                data = data.replace(
                    b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{shared}"/></Types>'.encode()
                )
            if item.filename != "xl/worksheets/sheet1.xml":
                target.writestr(item, data)
                continue
            with target.open(item.filename, "w") as sheet:
                sheet.write(SHEET_XML[0])
                for row in rows:
                    sheet.write(row)
                sheet.write(SHEET_XML[1])
        if strings:
            items = "".join(f"<si><t>word {n}</t></si>" for n in range(strings))
            target.writestr(
                "xl/sharedStrings.xml",
                '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                f'count="{strings}" uniqueCount="{strings}">{items}</sst>',
            )
    return path


def uncompressed(path, part: str) -> str:
    with zipfile.ZipFile(path) as archive:
        return f"{archive.getinfo(part).file_size / 1e6:.1f}"


def test_a_sheet_larger_than_the_limit_is_refused_before_it_is_read(con, tmp_path, monkeypatch):
    rows = [sheet_row(*HEADER.split(",")), *(sheet_row(n, "Male", 30, n, 50) for n in range(1, 20_000))]
    path = workbook_of_rows(tmp_path, rows)
    monkeypatch.setattr(excel, "MAX_WORKBOOK_PART_BYTES", 1_000_000)
    size = uncompressed(path, "xl/worksheets/sheet1.xml")
    expected = f"{path}: the sheet 'Customers' is {size} MB uncompressed; at most 1.0 MB are read: save it as CSV"
    with pytest.raises(InputError) as error:
        load(con, path, tmp_path / "work")
    assert str(error.value) == expected


def test_shared_strings_larger_than_the_limit_are_refused_before_they_are_read(con, tmp_path, monkeypatch):
    path = workbook_of_rows(tmp_path, [sheet_row(*HEADER.split(",")), sheet_row(1, "Male", 30, 1, 50)], strings=30_000)
    monkeypatch.setattr(excel, "MAX_WORKBOOK_PART_BYTES", 500_000)
    size = uncompressed(path, "xl/sharedStrings.xml")
    expected = (
        f"{path}: the workbook's part xl/sharedStrings.xml is {size} MB uncompressed; at most 0.5 MB are read: "
        "save it as CSV"
    )
    with pytest.raises(InputError) as error:
        load(con, path, tmp_path / "work")
    assert str(error.value) == expected


def test_a_sheet_of_more_rows_than_excel_holds_is_refused_before_it_is_read(con, tmp_path, monkeypatch):
    rows = [sheet_row(*HEADER.split(",")), sheet_row(1, "Male", 30, 1, 50), *(b"<row/>" for _ in range(5_000))]
    path = workbook_of_rows(tmp_path, rows)
    monkeypatch.setattr(excel, "MAX_SHEET_ROWS", 1_000)
    with pytest.raises(InputError) as error:
        load(con, path, tmp_path / "work")
    assert str(error.value) == f"{path}: the sheet 'Customers' has 5,002 rows; at most 1,000 are read: save it as CSV"


def test_a_header_wider_than_the_limit_is_refused_before_the_rows_are_read(con, tmp_path):
    header = [*HEADER.split(","), *(f"extra {n}" for n in range(2_000))]
    path = workbook_of_rows(tmp_path, [sheet_row("A title"), sheet_row(*header), sheet_row(1, "Male", 30, 1, 50)])
    with pytest.raises(InputError) as error:
        load(con, path, tmp_path / "work")
    assert str(error.value) == f"{path}: row 2: the header has 2,005 columns; at most 2,000 are read"


def test_cells_in_a_far_column_cost_no_row_of_that_width(con, tmp_path):
    """A value in column XFD makes its row ragged; an empty cell there is nothing. Neither
    makes a row of 16,384 fields: the rows read take little memory whatever their width."""
    rows = [
        sheet_row(*HEADER.split(",")),
        *(sheet_row(n, "Male", 30, n, 50, far="" if n % 2 else "7") for n in range(1, 3_001)),
    ]
    path = workbook_of_rows(tmp_path, rows)
    tracemalloc.start()
    try:
        stage_file(con, path, tmp_path / "work")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [row[0] for row in customers(con)] == [str(n) for n in range(1, 3_001, 2)]
    assert con.execute("select count(*), min(reject_reason), max(reject_reason) from customer_rejects").fetchall() == [
        (1_500, "has 16384 fields where the header has 5", "has 16384 fields where the header has 5")
    ]
    assert con.execute("select raw_line from customer_rejects where line_number = 3").fetchall() == [
        ("2,Male,30,2,50,…,7",)
    ]
    assert peak < 64 << 20  # 1,500 rows of 16,384 fields would take hundreds of MB


def test_parquet_nan_rejects_its_row(tmp_path, con):
    path = tmp_path / "customers.parquet"
    duckdb.sql(
        "select * from (values (1, 'Male', 19, 15.0, 39), (2, 'Male', 20, 'nan'::double, 40), "
        "(3, 'Male', 20, 16.5, 40)) "
        't(CustomerID, Gender, Age, "Annual Income (k$)", "Spending Score (1-100)")'
    ).write_parquet(str(path))
    stage_file(con, path, tmp_path / "work")
    assert [row[0] for row in customers(con)] == ["1", "3"]
    assert rejects(con) == [(2, "annual_income_k is missing")]


def test_parquet_floating_point_numbers_of_any_size_are_numbers(tmp_path, con):
    """DuckDB writes a double under 10^-4 or from 10^16 in scientific notation ('8e-06'), which
    the rules for what people write refuse: such a stored number is its digits, a feature's
    value as it was (or too large), another column's text in digits."""
    path = tmp_path / "customers.parquet"
    duckdb.sql(
        "select * from (values ('C1', 0.000008::double, 2.5e-05::double), ('C2', 0.25, -1.2345e-07), "
        "('C3', 1e20, 1.5e16), ('C4', 0.5, 0.0001), ('C5', 0.75, 12.5)) t(customer_id, churn, note)"
    ).write_parquet(str(path))
    stage_file(con, path, tmp_path / "work", features=("churn",))
    assert con.execute("select customer_id, churn, note from stg_customers order by 1").fetchall() == [
        ("C1", 0.000008, "0.000025"),
        ("C2", 0.25, "-0.00000012345"),
        ("C4", 0.5, "0.0001"),
        ("C5", 0.75, "12.5"),
    ]
    assert rejects(con) == [(3, "churn '100000000000000000000' is too large")]


def test_a_small_number_is_written_in_digits_in_the_segmented_csv(tmp_path, settings):
    path = tmp_path / "customers.parquet"
    duckdb.sql(
        "select 'C' || range as customer_id, (1 + range % 7) * 0.000001 as churn, 0.00002 as note from range(40)"
    ).write_parquet(str(path))
    run_build(settings, input_path=path, features=("churn",), k=2)
    rows = list(csv.DictReader((settings.reports_dir / "segmented_customers.csv").open()))
    assert [(row["churn"], row["note"]) for row in rows[:3]] == [
        ("0.000001", "0.00002"),
        ("0.000002", "0.00002"),
        ("0.000003", "0.00002"),
    ]


def test_parquet_column_names_are_only_names(tmp_path, settings):
    path = tmp_path / "customers.parquet"
    duckdb.sql(
        'select range::varchar as "CustomerID", 15 + range % 50 as "Income", 1 + range % 99 as "Spending", '
        '\'x\' as "*", \'y\' as "a""b", \'z\' as "1); drop table t; --" from range(50)'
    ).write_parquet(str(path))
    run_build(settings, input_path=path)
    assert query(settings.warehouse_path, 'select "*", "a""b", "1); drop table t; --" from stg_customers limit 1') == [
        ("x", "y", "z")
    ]
    assert segmented_csv(settings)[0][3:6] == ["*", 'a"b', "1); drop table t; --"]


# --- the input is what was asked for ---------------------------------------------------------


@pytest.mark.parametrize("name", ["cust[1].csv", "cust*.csv", "cust?.csv", "~cust.csv"])
def test_a_glob_like_name_is_taken_literally(tmp_path, settings, monkeypatch, name):
    decoy = "\n".join([HEADER, *SAMPLE_ROWS[:50]]) + "\n"
    wanted = "\n".join([HEADER, *SAMPLE_ROWS]) + "\n"
    write_csv(tmp_path, decoy, name="cust1.csv")
    path = write_csv(tmp_path, wanted, name=name)
    monkeypatch.chdir(tmp_path)
    from pathlib import Path

    result = run_build(settings, input_path=Path(name))
    assert result.customers == 200
    assert query(settings.warehouse_path, "select input_sha256 from pipeline_runs") == [
        (hashlib.sha256(path.read_bytes()).hexdigest(),)
    ]


def test_a_file_that_grows_while_read_stops_the_build(tmp_path, published, monkeypatch):
    settings = published  # a build to keep as it is
    path = write_csv(tmp_path, "\n".join([HEADER, *SAMPLE_ROWS]) + "\n")
    before = (settings.warehouse_path.read_bytes(), sorted(p.name for p in settings.reports_dir.iterdir()))
    original = csv_file.load_csv

    def appended_meanwhile(*args, **kwargs):
        header = original(*args, **kwargs)
        with path.open("a") as f:  # another program still writing the export
            f.write("201,Male,30,50,5")
        return header

    monkeypatch.setattr(csv_file, "load_csv", appended_meanwhile)
    with pytest.raises(InputError, match="changed while it was read"):
        run_build(settings, input_path=path)
    assert (settings.warehouse_path.read_bytes(), sorted(p.name for p in settings.reports_dir.iterdir())) == before


def test_build_takes_str_paths(tmp_path):
    from segmentation.building import build
    from segmentation.config import Settings

    result = build(
        Settings(
            input_path=str(SAMPLE_INPUT),
            warehouse_path=str(tmp_path / "w.duckdb"),
            reports_dir=str(tmp_path / "reports"),
        ),
        log=lambda line: None,
    )
    assert result.customers == 200


# --- say when customers are lost ---------------------------------------------------------------


def test_many_rejects_warn_and_flag_the_report(tmp_path, settings):
    rows = [row if i % 10 else row.rsplit(",", 1)[0] + ",?" for i, row in enumerate(SAMPLE_ROWS)]
    lines = []
    from dataclasses import replace

    from segmentation.building import build

    build(replace(settings, input_path=write_csv(tmp_path, "\n".join([HEADER, *rows]) + "\n")), log=lines.append)
    warnings = [line for line in lines if "warning:" in line and "rejected" in line]
    assert (
        warnings and "20 of 200 data rows rejected (10.0%" in warnings[0] and "spending_score is missing" in warnings[0]
    )
    assert "20 of 200 data rows rejected" in query(settings.warehouse_path, "select flags from pipeline_runs")[0][0]
    assert "20 of 200 data rows rejected" in (settings.reports_dir / "index.html").read_text()


# --- a folder of part files ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_folder_of_part_files_is_one_dataset(tmp_path, settings, kind):
    folder = tmp_path / "customers"
    folder.mkdir()
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-00000.crc").write_text("x")
    chunks = [SAMPLE_ROWS[:120], SAMPLE_ROWS[120:], ["999,Male,30,50,?"]]
    for number, rows in enumerate(chunks):
        csv_text = "\n".join([HEADER, *rows]) + "\n"
        if kind == "csv":
            write_csv(folder, csv_text, name=f"part-{number:05d}.csv")
        else:
            staged = write_csv(tmp_path, csv_text, name=f"chunk{number}.csv")
            duckdb.read_csv(str(staged), all_varchar=True).write_parquet(str(folder / f"part-{number:05d}.parquet"))
    result = run_build(settings, input_path=folder)
    assert (result.customers, result.rejected_rows) == (200, 1)
    rejected = query(settings.warehouse_path, "select file_name, file_line_number, reject_reason from customer_rejects")
    assert rejected == [(f"part-00002.{kind}", 2 if kind == "csv" else 1, "spending_score is missing")]
    assert query(settings.warehouse_path, "select input_format from pipeline_runs")[0][0].endswith("3 part files")


@pytest.mark.parametrize("above", ["Export part 1\n", "\n", "sep=,\n"], ids=["title", "blank line", "sep line"])
def test_part_files_may_differ_above_the_header(con, tmp_path, above):
    folder = tmp_path / "customers"
    folder.mkdir()
    write_csv(folder, HEADER + "\n1,Male,19,15,39\n", name="part-0.csv")
    write_csv(folder, above + HEADER + "\n2,Male,19,x,39\n3,Female,20,16,40\n", name="part-1.csv")
    stage_file(con, folder, tmp_path / "work")
    assert [row[0] for row in customers(con)] == ["1", "3"]
    assert con.execute("select file_name, file_line_number, reject_reason from customer_rejects").fetchall() == [
        ("part-1.csv", 3, "annual_income_k 'x' is not a number")  # the part's own line
    ]


NAMES = "'Annual Income (k$)', 'Spending Score (1-100)'"


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (
            HEADER.replace("Age", "Alter") + "\n2,Male,19,15,39\n",
            f"part-1.csv: line 1: its header ('CustomerID', 'Gender', 'Alter', {NAMES}) differs from that of "
            f"part-0.csv ('CustomerID', 'Gender', 'Age', {NAMES}); the parts of a folder are one table's",
        ),
        (
            HEADER.replace(",", ";") + "\n2;Male;19;15;39\n",
            "part-1.csv: line 1: its fields are split by ';', those of part-0.csv by ','; the parts of a folder "
            "are one table's, written alike (save them with one delimiter)",
        ),
    ],
    ids=["names", "delimiters"],
)
def test_part_files_written_otherwise_are_refused_saying_how(con, tmp_path, second, message):
    folder = tmp_path / "customers"
    folder.mkdir()
    write_csv(folder, HEADER + "\n1,Male,19,15,39\n", name="part-0.csv")
    write_csv(folder, second, name="part-1.csv")
    with pytest.raises(InputError) as refused:
        load(con, folder, tmp_path / "work")
    assert str(refused.value).endswith(message)


def test_a_note_beside_the_parts_shows_which_file_is_not_a_part(con, tmp_path):
    folder = tmp_path / "customers"
    folder.mkdir()
    write_csv(folder, "hello\n", name="README.txt")
    write_csv(folder, HEADER + "\n1,Male,19,15,39\n", name="part-0.csv")
    with pytest.raises(InputError, match=re.escape("differs from that of README.txt ('hello')")):
        load(con, folder, tmp_path / "work")
