"""Properties of the loader and staging on random files: never a traceback, never a torn row,
every data record either a customer or a reject with a reason."""

from __future__ import annotations

import csv
import io

import duckdb
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import stage_file
from segmentation.errors import InputError

HEADER = ["CustomerID", "Gender", "Age", "Annual Income (k$)", "Spending Score (1-100)", "Note"]
TEXT = st.text(alphabet=st.sampled_from('ab, "\r\n\t;é€=-?0123456789'), max_size=12)

customer = st.tuples(
    st.from_regex(r"[A-Z]{0,2}-?[0-9]{1,6}", fullmatch=True),
    st.sampled_from(["Male", "Female", "m", "F", "Non-binary", "", "?"]),
    st.one_of(st.integers(-5, 130).map(str), TEXT),
    st.one_of(st.integers(0, 200_000).map(str), st.floats(0, 500, allow_nan=False).map(lambda v: f"{v:.1f}"), TEXT),
    st.one_of(st.integers(-5, 120).map(str), TEXT),
    TEXT,
)
garbage_line = st.text(alphabet=st.sampled_from('x,"\r\n;\x00\x1e'), min_size=1, max_size=8)

common = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def write(rows: list[tuple], garbage: list[str], line_end: str, encoding: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(HEADER)
    for i, row in enumerate(rows):
        writer.writerow(row)
        if i < len(garbage):
            out.write(garbage[i] + line_end)
    return out.getvalue().encode(encoding, errors="replace")


@common
@given(
    rows=st.lists(customer, max_size=25),
    garbage=st.lists(garbage_line, max_size=3),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
    encoding=st.sampled_from(["utf-8", "utf-16", "cp1252"]),
)
@example(rows=[("0", "Male", "0", "0", "01", "")], garbage=[], line_end="\n", encoding="utf-8")  # a leading zero
def test_every_record_is_a_customer_or_a_reject_and_none_is_torn(tmp_path_factory, rows, garbage, line_end, encoding):
    folder = tmp_path_factory.mktemp("random")
    path = folder / "customers.csv"
    path.write_bytes(write(rows, garbage, line_end, encoding))
    with duckdb.connect() as con:
        try:
            stage_file(con, path, folder / "work")
        except InputError:
            return  # a file-level refusal is a message, never a traceback
        records, kept, rejected, reasonless = con.execute(
            "select (select count(*) from raw_records), (select count(*) from stg_customers), "
            "(select count(*) from customer_rejects), "
            "(select count(*) from customer_rejects where reject_reason is null)"
        ).fetchall()[0]
        assert kept + rejected == records and reasonless == 0
        written = {(r[0].strip(), number(r[4])) for r in rows}
        for customer_id, spending in con.execute("select customer_id, spending_score from stg_customers").fetchall():
            assert (customer_id, spending) in written


def number(text: str) -> float | None:
    """The value a score cell holds as a person reads it ('01' and '1.0' are 1), None if it is not one."""
    try:
        return float(text.strip())
    except ValueError:
        return None


@common
@given(data=st.binary(max_size=300))
def test_random_bytes_never_raise_anything_but_an_input_error(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("bytes")
    path = folder / "customers.csv"
    path.write_bytes(b"CustomerID,Income,Spending\n" + data)
    with duckdb.connect() as con:
        try:
            stage_file(con, path, folder / "work")
        except InputError:
            return
        records, kept, rejected = con.execute(
            "select (select count(*) from raw_records), (select count(*) from stg_customers), "
            "(select count(*) from customer_rejects)"
        ).fetchall()[0]
        assert kept + rejected == records
