"""History belongs to a dataset: a build is compared with the previous one only on plausibly
the same customers (or the same --dataset name). Colours belong to segment labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from matplotlib.colors import to_hex

from conftest import query, run_build, run_command
from segmentation.charts import segment_map_figure
from segmentation.colours import FIXED, PALETTE, assign
from segmentation.config import SAMPLE_INPUT, SQL_DIR, Settings
from segmentation.db import model_features
from segmentation.reports import segments_with_centroids
from segmentation.sample_data import write_customers

MATCH_SQL = (SQL_DIR / "history" / "dataset_match.sql").read_text()


# --- dataset_match on a few rows (given / expect) ----------------------------------------------


def match(con, previous_rows, rows, days_between=0.0, dataset=None, previous_dataset="shop"):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    con.execute(
        "create or replace table previous_runs as select 1::bigint as run_id, $started::timestamptz "
        "as started_at, $dataset::varchar as dataset",
        {"started": now - timedelta(days=days_between), "dataset": previous_dataset},
    )
    con.execute(
        "create or replace table this_run as select 2::bigint as run_id, $now::timestamptz as started_at, "
        "$dataset::varchar as dataset_option, 'export_june'::varchar as input_name",
        {"now": now, "dataset": dataset},
    )
    con.execute("create or replace table previous_customers (customer_id varchar, gender varchar, age double)")
    con.execute("create or replace table stg_customers (customer_id varchar, gender varchar, age integer)")
    con.executemany("insert into previous_customers values (?, ?, ?)", previous_rows)
    con.executemany("insert into stg_customers values (?, ?, ?)", rows)
    return con.sql(MATCH_SQL).df().iloc[0].to_dict()


def test_the_same_customers_a_year_later_are_the_same_dataset(con):
    previous = [("C-1", "Female", 30), ("C-2", "Male", 41), ("C-3", "Female", 25)]
    later = [("C-1", "Female", 31), ("C-2", "Male", 42), ("C-3", "Female", 25), ("C-4", "Male", 60)]
    result = match(con, previous, later, days_between=365)
    assert result["is_comparable"] and result["dataset"] == "shop"
    assert (result["shared_customers"], result["consistent_customers"]) == (3, 3)


def test_other_people_under_the_same_ids_are_another_dataset(con):
    previous = [("1", "Female", 30), ("2", "Male", 41), ("3", "Female", 25)]
    others = [("1", "Male", 52), ("2", "Male", 19), ("3", "Female", 27)]  # ages do not fit a day apart
    result = match(con, previous, others, days_between=1, previous_dataset="export_june")
    assert not result["is_comparable"]
    assert result["dataset"] == "export_june (run 2)"  # never the previous build's name
    assert result["comparison_reason"] == "only 0 of the 3 customer ids both builds have keep their gender and age"


def test_missing_gender_and_age_count_as_consistent(con):
    previous = [("1", None, None), ("2", "Female", None), ("3", None, 40.0)]
    rows = [("1", "Non-binary", 30), ("2", None, 50), ("3", "Male", None)]
    assert match(con, previous, rows)["is_comparable"]


def test_a_named_dataset_decides_by_name(con):
    rows = [("1", "Female", 30)]
    assert match(con, rows, rows, dataset="shop")["is_comparable"]
    other = match(con, rows, rows, dataset="outlet")
    assert not other["is_comparable"] and other["dataset"] == "outlet"


def test_no_shared_ids_is_another_dataset(con):
    result = match(con, [("1", "Female", 30)], [("9", "Female", 30)])
    assert not result["is_comparable"] and result["dataset"] == "export_june"


# --- builds ------------------------------------------------------------------------------------


def test_a_build_on_another_dataset_reports_no_movements_and_says_why(tmp_path, published):
    settings = published  # a build of the bundled sample
    other = tmp_path / "other_customers.csv"  # other people under the same ids 1..200
    write_customers(other, rows=200, seed=13)
    lines: list[str] = []
    from dataclasses import replace

    from segmentation.building import build

    build(replace(settings, input_path=other), log=lines.append)
    path = settings.warehouse_path
    warnings = [line for line in lines if "warning:" in line]
    assert len(warnings) == 1 and "the previous build was on another dataset (sample_customers, " in warnings[0]
    assert query(path, "select count(*) from segment_changes") == [(0,)]
    assert query(path, "select count(*) from segment_movements") == [(0,)]
    assert query(path, "select run_id, dataset, compared_with_run_id from pipeline_runs order by 1") == [
        (1, "sample_customers", None),
        (2, "other_customers", None),
    ]
    # cluster numbers start afresh: ordered by centroid, as on a first build
    assert query(path, "select list(cluster_id order by cluster_id) from segment_summary") == [([0, 1, 2, 3, 4],)]
    started = query(path, "select started_at from pipeline_runs where run_id = 1")[0][0]
    text = (settings.reports_dir / "index.html").read_text(encoding="utf-8")
    assert f"The previous build was on another dataset (sample_customers, {started:%Y-%m-%d %H:%M} UTC)" in text
    assert "no movements are shown" in text


def test_dataset_option_starts_a_new_history_line(tmp_path, capsys):
    command = ["--warehouse", str(tmp_path / "w.duckdb"), "--reports", str(tmp_path / "r")]
    first = run_command(capsys, *command, "--dataset", "north")
    assert first.returncode == 0, first.stderr
    again = run_command(capsys, *command, "--dataset", "south")
    assert again.returncode == 0, again.stderr
    assert "warning: the previous build was on another dataset (north, " in again.stdout
    assert query(tmp_path / "w.duckdb", "select dataset from pipeline_runs order by run_id") == [("north",), ("south",)]


# --- colours -----------------------------------------------------------------------------------


def legend_colours(settings: Settings) -> dict[str, str]:
    """Label -> colour, read from the segment map drawn from the warehouse's tables."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        features = [f.feature for f in model_features(con)]
        segments = segments_with_centroids(con, features)
        points = con.sql("select * from int_clustered_customers").df()
    fig = segment_map_figure(points, segments, features, int(segments["customers"].sum()), dict.fromkeys(features, ""))
    handles, labels = fig.axes[0].get_legend_handles_labels()
    return {
        label.rsplit(" (", 1)[0]: to_hex(handle.get_facecolor()[0])
        for handle, label in zip(handles, labels)
        if label != "centre of a segment"
    }


def test_a_label_keeps_its_colour_across_runs_with_other_cluster_numbers(published):
    settings = published  # a build of the bundled sample
    before = legend_colours(settings)
    numbers_before = dict(query(settings.warehouse_path, "select segment_label, cluster_id from segment_summary"))
    again = Settings(
        input_path=SAMPLE_INPUT,
        warehouse_path=settings.warehouse_path,
        reports_dir=settings.reports_dir,
        features=("annual_income_k", "spending_score", "age"),
        k=6,
    )
    run_build(again)
    after = legend_colours(again)
    numbers_after = dict(query(settings.warehouse_path, "select segment_label, cluster_id from segment_summary"))
    shared = set(before) & set(after)
    assert len(shared) >= 3
    for label in shared:
        assert numbers_before[label] != numbers_after[label]  # other cluster numbers
        assert before[label] == after[label] == FIXED[label].lower()
    assert len(set(after.values())) == len(after)  # one colour per segment
    # the new labels got colours, remembered for the next run
    assert query(settings.warehouse_path, "select count(*) from segment_colours where segment_label like '%(%'") == [
        (2,)
    ]


def test_new_labels_take_free_colours_and_keep_them():
    labels = [f"Standard Customers ({place} Income)" for place in ("Lowest", "Middle", "Highest")] + [
        "Target Customers",
        "Low-Income, Low-Spending",
    ]
    first = assign(labels, {}, {label: label.split(" (")[0] for label in labels})
    assert len(set(first.values())) == len(labels) and set(first.values()) <= set(PALETTE)
    assert first["Target Customers"] == FIXED["Target Customers"]
    # next run: the same labels among others, in another order
    second = assign(["Standard Customers", *reversed(labels)], first)
    for label in labels:
        assert second[label] == first[label] or first[label] == FIXED["Standard Customers"]
    assert second["Standard Customers"] == FIXED["Standard Customers"]
    assert len(set(second.values())) == len(second)


def test_ten_segments_get_ten_colours():
    labels = [f"Segment {word}" for word in "abcdefghij"]
    assert len(set(assign(labels, {}).values())) == 10
    with pytest.raises(KeyError):
        assign(labels, {})["Segment z"]
