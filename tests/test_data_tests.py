"""The YAML's data tests on real tables: each passes on good rows and names the bad ones."""

from __future__ import annotations

import pytest

from segmentation import data_tests
from segmentation.errors import DataTestError
from segmentation.schema import DataTest


@pytest.fixture
def tables(con):
    con.execute("create table parent as select range::int as cluster_id from range(5)")
    con.execute(
        "create table child as select range::int as customer, (range % 5)::int as cluster_id, "
        "range::varchar as code from range(1000)"
    )
    return con


TESTS = (
    DataTest("not_null", "child", "cluster_id"),
    DataTest("unique", "child", "customer"),
    DataTest("accepted_values", "child", "cluster_id", {"values": [-1, 0, 1, 2, 3, 4]}),
    DataTest("accepted_range", "child", "cluster_id", {"min_value": 0, "max_value": 4}),
    DataTest("relationships", "child", "cluster_id", {"to": "parent", "field": "cluster_id"}),
)


@pytest.mark.parametrize("parent_rows_listed", [10_000, 1], ids=["parent-listed", "parent-joined"])
def test_every_kind_passes_on_good_rows(tables, monkeypatch, parent_rows_listed):
    monkeypatch.setattr(data_tests, "LISTED_PARENT_ROWS", parent_rows_listed)
    data_tests.run_column_tests(tables, TESTS)


@pytest.mark.parametrize("parent_rows_listed", [10_000, 1], ids=["parent-listed", "parent-joined"])
@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ("update child set cluster_id = null where customer = 7", "not_null(child.cluster_id)"),
        ("update child set customer = 3 where customer = 7", "unique(child.customer)"),
        ("update child set cluster_id = 9 where customer = 7", "accepted_values(child.cluster_id)"),
        ("update child set cluster_id = -1 where customer = 7", "accepted_range(child.cluster_id)"),
        ("delete from parent where cluster_id = 2", "relationships(child.cluster_id)"),
    ],
)
def test_a_bad_row_fails_its_test_and_is_shown(tables, monkeypatch, parent_rows_listed, change, failing):
    monkeypatch.setattr(data_tests, "LISTED_PARENT_ROWS", parent_rows_listed)
    tables.execute(change)
    with pytest.raises(DataTestError) as error:
        data_tests.run_column_tests(tables, TESTS)
    assert str(error.value).startswith(f"data test {failing} failed: ")
    shown = str(error.value).split(", e.g. ", 1)[1]
    assert shown.count("(") >= 1  # the offending rows themselves
    if failing.startswith("relationships"):
        assert "200 offending row(s)" in str(error.value)  # every customer of the missing cluster


def test_a_relationship_to_an_empty_parent_fails_for_every_child_row(tables):
    tables.execute("delete from parent")
    with pytest.raises(DataTestError, match=r"relationships\(child.cluster_id\) failed: 1000 offending row"):
        data_tests.run_column_tests(tables, TESTS[-1:])
