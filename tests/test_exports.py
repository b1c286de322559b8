"""What exports from real tools hold besides customers: summary rows, customers exported again,
gender in other languages. Staging runs in this process on generated files; the few checks of
the run line, pipeline_runs and the report run whole builds."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from conftest import query, run_build, run_command, stage_file, write_csv

HEADER = "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)\n"
SUMMARY = "a summary row, not a customer"


def stage(con, tmp_path: Path, text: str, **settings):
    stage_file(con, write_csv(tmp_path, text), tmp_path / "work", **settings)
    customers = con.sql("select customer_id, gender, spending_score from stg_customers order by line_number")
    rejects = con.sql("select line_number, reject_reason from customer_rejects order by 1")
    return customers.fetchall(), rejects.fetchall()


def customers_lines(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{i},{rng.choice(['Male', 'Female'])},{rng.randint(18, 70)},{rng.randint(15, 137)},{rng.randint(1, 99)}"
        for i in range(1, n + 1)
    ]


# -- summary rows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label",
    [
        *("Total", "TOTAL", "Grand Total", "Average:", "Sum", "Mean", "Subtotal", "Count", "Total: 3 customers"),
        *("Summe", "Gesamtergebnis", "Durchschnitt", "Anzahl", "Moyenne", "Sous-total", "Total général"),
        *("Promedio", "Suma", "Recuento", "Média", "Soma", "Contagem", "Totale", "Media"),
    ],
)
def test_a_summary_label_in_the_id_column_rejects_the_row(con, tmp_path, label):
    lines = customers_lines(3)
    text = HEADER + "\n".join([lines[0], f"{label},,40.5,60.25,50.5", *lines[1:], f"{label},Male,19,15,39"]) + "\n"
    customers, rejects = stage(con, tmp_path, text)
    assert [c[0] for c in customers] == ["1", "2", "3"]
    assert rejects == [(3, SUMMARY), (6, SUMMARY)]  # in the middle and at the end alike


def test_a_summary_label_beside_a_blank_id_and_aggregates_rejects_the_row(con, tmp_path):
    text = (
        "Region,CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)\n"
        "North,1,Male,19,15,39\n"
        'Gesamt,,,4.000,"1,234",88 %\n'  # the label leads; the rest blank or numbers
        "Total,,Female,30,50,50\n"  # a gender is neither: a row without an id
        "North,2,Female,21,16,81\n"
    )
    customers, rejects = stage(con, tmp_path, text)
    assert [c[0] for c in customers] == ["1", "2"]
    assert rejects == [(3, SUMMARY), (4, "customer_id is missing")]


def test_customers_whose_fields_hold_such_words_are_kept(con, tmp_path):
    text = (
        "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100),Notes\n"
        "1,Male,19,15,39,Total\n"
        "Sumatra-7,Female,21,16,81,Average\n"
        "2,Female,30,50,50,\n"
    )
    customers, rejects = stage(con, tmp_path, text)
    assert [c[0] for c in customers] == ["1", "Sumatra-7", "2"]
    assert rejects == []


def test_a_workbook_ending_in_total_and_average_rows(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["CustomerID", "Gender", "Age", "Annual Income (k$)", "Spending Score (1-100)"])
    rows = [line.split(",") for line in customers_lines(60)]
    for row in rows:
        sheet.append([int(row[0]), row[1], *map(int, row[2:])])
    sheet.append(["Total", None, "=SUM(C2:C61)", "=SUM(D2:D61)", "=SUM(E2:E61)"])
    sheet.append(["Average", None, 40.5, 71.25, 50.5])
    path = tmp_path / "customers.xlsx"
    book.save(path)
    with duckdb.connect() as con:
        stage_file(con, path, tmp_path / "work")
        assert con.execute("select count(*) from stg_customers").fetchone() == (60,)
        assert con.execute("select line_number, reject_reason from customer_rejects").fetchall() == [
            (62, SUMMARY),
            (63, SUMMARY),
        ]


# -- customers exported again ---------------------------------------------------------------

EXPORTS = (
    HEADER
    + "1,Male,19,15,39\n2,Female,21,16,81\n1,Male,19,15,40\n3,Male,30,50,50\n1,Male,19,15,39\n2,Female,21,16,81\n"
)


@pytest.mark.parametrize(
    ("policy", "kept", "rejects"),
    [
        (
            "reject",
            [("2", 81), ("3", 50)],
            [(line, "customer_id '1' has conflicting rows on lines 2, 4, 6") for line in (2, 4, 6)]
            + [(7, "duplicate of line 3")],
        ),
        (
            "first",
            [("1", 39), ("2", 81), ("3", 50)],
            [(4, "superseded by line 2"), (6, "duplicate of line 2"), (7, "duplicate of line 3")],
        ),
        (
            "last",
            [("2", 81), ("3", 50), ("1", 39)],  # customer 1 as line 6 has it, in line order
            [(2, "duplicate of line 6"), (4, "superseded by line 6"), (7, "duplicate of line 3")],
        ),
    ],
)
def test_duplicates_policy(con, tmp_path, policy, kept, rejects):
    customers, rejected = stage(con, tmp_path, EXPORTS, duplicates=policy)
    assert [(c[0], c[2]) for c in customers] == kept
    assert rejected == rejects


def test_the_last_record_wins_whatever_the_values(con, tmp_path):
    text = HEADER + "7,Male,19,15,39\n7,Male,19,15,45\n7,Male,19,15,52\n"
    customers, rejects = stage(con, tmp_path, text, duplicates="last")
    assert customers == [("7", "Male", 52)]
    assert rejects == [(2, "superseded by line 4"), (3, "superseded by line 4")]


@pytest.mark.slow
def test_a_later_export_appended(tmp_path, capsys):
    """300 of 1,200 customers appended again with updated scores, 100 lines twice: `--duplicates
    last` keeps every customer, as the later export has them; the run line and pipeline_runs
    say which policy ran, and the default warns with the option's name."""
    lines = customers_lines(1_200, seed=3)
    updated = [f"{line.rsplit(',', 1)[0]},{int(line.rsplit(',', 1)[1]) % 99 + 1}" for line in lines[:300]]
    path = write_csv(tmp_path, HEADER + "\n".join(lines + updated + lines[500:600]) + "\n")
    argv = ["--input", str(path), "--warehouse", str(tmp_path / "mall.duckdb"), "--reports", str(tmp_path / "r")]
    first = run_command(capsys, *argv)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "900 customers" in out and "--duplicates first or last keeps one record of each" in out
    last = run_command(capsys, *argv, "--duplicates", "last")
    assert last.returncode == 0, last.stderr
    out = last.stdout
    assert "warning" not in out  # the rows rejected are the older records of customers kept
    done = out.splitlines()[-1]
    assert "1,200 customers" in done and "(300 ids with differing records: the last kept, --duplicates last)" in done
    runs = query(tmp_path / "mall.duckdb", "select duplicates, ids_with_differing_rows from pipeline_runs order by 1")
    assert runs == [("last", 300), ("reject", 300)]
    scores = dict(query(tmp_path / "mall.duckdb", "select customer_id, spending_score from customer_segments"))
    assert all(scores[line.split(",")[0]] == int(line.rsplit(",", 1)[1]) for line in updated)


# -- gender in other languages --------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "read"),
    [
        *[(label, "Female") for label in ("Frau", "weiblich", "W", "Mme", "Mme.", "f", "Femme", "Mujer", "F")],
        *[(label, "Female") for label in ("Feminino", "Femmina", "femenino", " Madame ", "Sra.", "Frau ")],
        *[(label, "Male") for label in ("Herr", "Hr.", "männlich", "M.", "m", "Homme", "Hombre", "Masculino")],
        *[(label, "Male") for label in ("Maschio", "Uomo", "Monsieur", "Homem", "MALE")],
        ("Divers", "Divers"),
        ("X", "X"),
    ],
)
def test_gender_words_and_abbreviations_are_read(con, tmp_path, written, read):
    customers, _ = stage(con, tmp_path, HEADER + f"1,{written},19,15,39\n")
    assert customers == [("1", read, 39)]


def test_h_and_m_without_f_are_hombre_and_mujer(con, tmp_path):
    text = "Cliente,Sexo,Edad,Ingresos,Gasto\n1,H,19,15,39\n2,M,21,16,81\n3,h,30,50,50\n"
    mapping = {"customer_id": "Cliente", "age": "Edad", "annual_income_k": "Ingresos", "spending_score": "Gasto"}
    customers, _ = stage(con, tmp_path, text, columns=mapping)
    assert [c[1] for c in customers] == ["Male", "Female", "Male"]
    with duckdb.connect() as other:  # with an F among them, M is male
        customers, _ = stage(other, tmp_path, text + "4,F,40,60,60\n", columns=mapping)
    assert [c[1] for c in customers] == ["Male", "Male", "Male", "Female"]


@pytest.mark.parametrize("header", ["Geschlecht", "Sexe", "Sexo", "Anrede", "Civilité"])
def test_gender_columns_in_other_languages(con, tmp_path, header):
    text = f"CustomerID,{header},Age,Annual Income (k$),Spending Score (1-100)\n1,Frau,19,15,39\n"
    customers, _ = stage(con, tmp_path, text)
    assert customers == [("1", "Female", 39)]


def test_without_any_known_gender_the_share_of_women_is_unknown(tmp_path, settings):
    lines = [line.split(",") for line in customers_lines(200, seed=5)]
    path = write_csv(tmp_path, "id,age,income,spending\n" + "".join(f"{i},{a},{n},{s}\n" for i, _, a, n, s in lines))
    run_build(settings, input_path=path)
    shares = query(settings.warehouse_path, "select share_female from segment_summary")
    assert shares and all(share is None for (share,) in shares)
    page = (settings.reports_dir / "index.html").read_text()
    assert page.count("<td>unknown</td>") == len(shares)


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("Kundennummer;Anrede;Alter;Jahreseinkommen (Tsd. USD);Ausgaben-Score", "K1;Frau;30;50,0;60"),
        ("Numéro client,Civilité,Âge,Revenu annuel (k$),Score de dépenses", "K1,Mme,30,50,60"),
        ("Número de cliente,Sexo,Edad,Ingresos,Puntuación de gasto", "K1,Mujer,30,50,60"),
        ("Codice cliente,Sesso,Età,Reddito,Punteggio di spesa", "K1,Femmina,30,50,60"),
    ],
)
def test_a_crm_export_in_another_language_needs_no_column_mapping(con, tmp_path, header, row):
    stage_file(con, write_csv(tmp_path, f"{header}\n{row}\n"), tmp_path / "work")
    found = con.sql("select customer_id, gender, age, annual_income_k, spending_score from stg_customers")
    assert found.fetchall() == [("K1", "Female", 30, 50.0, 60)]
