"""Whole builds of the bundled sample: public tables, data tests, comments, reports, reruns."""

from __future__ import annotations

import csv
import subprocess
import sys

import duckdb
import pandas as pd
import pytest
from matplotlib.image import imread

from conftest import UNDESCRIBED_COLUMNS, fingerprint, query, run_build, scratch_left, write_csv
from segmentation.config import SAMPLE_INPUT, SQL_DIR
from segmentation.data_tests import query_for
from segmentation.errors import DataTestError, InputError, PipelineError
from segmentation.schema import load_schema, published_tables

DOCS = load_schema(SQL_DIR)
COLUMN_TESTS = [test for doc in DOCS.values() for test in doc.tests]

PUBLIC_COLUMNS = {
    "stg_customers": ["customer_id", "gender", "age", "annual_income_k", "spending_score", "line_number"],
    "customer_clusters": ["customer_id", "cluster_id"],
    "customer_segments": [
        "customer_id",
        "gender",
        "age",
        "annual_income_k",
        "spending_score",
        "line_number",
        "cluster_id",
        "segment_label",
        "distance_to_centroid",
    ],
    "k_selection": ["k", "inertia", "silhouette", "calinski_harabasz", "davies_bouldin", "is_chosen", "choice_reason"],
    "segment_changes": [
        "customer_id",
        "previous_run_id",
        "run_id",
        "previous_cluster_id",
        "previous_segment_label",
        "cluster_id",
        "segment_label",
        "change_type",
    ],
}


def columns_of(path, table):
    return [
        row[0]
        for row in query(
            path, f"select column_name from duckdb_columns() where table_name = '{table}' order by column_index"
        )
    ]


def test_public_tables_are_published(sample_build):
    names = {
        row[0]
        for row in query(
            sample_build.warehouse_path,
            "select table_name from duckdb_tables() union select view_name from duckdb_views()",
        )
    }
    assert set(published_tables(DOCS)) <= names
    for table, columns in PUBLIC_COLUMNS.items():
        assert columns_of(sample_build.warehouse_path, table) == columns


def test_grains(sample_build):
    path = sample_build.warehouse_path
    assert query(path, "select count(*), count(distinct customer_id) from customer_segments") == [(200, 200)]
    assert query(path, "select count(*), sum(customers) from segment_summary") == [(5, 200)]
    assert query(path, "select count(*) from k_selection") == [(10,)]
    assert query(path, "select count(*) from pipeline_runs") == [(1,)]


def test_sample_shows_the_five_named_segments(sample_build):
    labels = {row[0] for row in query(sample_build.warehouse_path, "select segment_label from segment_summary")}
    assert labels == {
        "Standard Customers",
        "Target Customers",
        "Low-Income, High-Spending",
        "High-Income, Low-Spending",
        "Low-Income, Low-Spending",
    }


@pytest.mark.parametrize("test", COLUMN_TESTS, ids=lambda test: test.name)
def test_declared_data_test_holds_on_the_build(sample_build, test):
    sql, params = query_for(test)
    with duckdb.connect(str(sample_build.warehouse_path), read_only=True) as con:
        assert con.execute(sql, params).fetchall() == []


def test_sql_assignment_matches_the_fitted_labels(sample_build):
    from segmentation.clustering import cluster_customers
    from segmentation.config import Settings

    FEATURES = ("annual_income_k", "spending_score")

    features = query(
        sample_build.warehouse_path, "select customer_id, annual_income_k, spending_score from stg_customers"
    )
    frame = pd.DataFrame(features, columns=["customer_id", *FEATURES])
    labels = cluster_customers(frame, FEATURES, Settings().cluster_params).labels
    in_sql = query(sample_build.warehouse_path, "select customer_id, cluster_id from customer_clusters")
    assert dict(in_sql) == dict(labels.itertuples(index=False, name=None))


def test_every_published_relation_and_column_is_described(sample_build):
    path = sample_build.warehouse_path
    undocumented = query(
        path,
        "select table_name from duckdb_tables() where comment is null "
        "union all select view_name from duckdb_views() where not internal and comment is null",
    )
    assert undocumented == []
    assert query(path, UNDESCRIBED_COLUMNS) == []


def test_reports_are_written(sample_build):
    reports = sample_build.reports_dir
    for name in ("elbow.png", "clusters.png", "segment_profiles.png"):
        image = imread(reports / name)
        assert image.shape[0] >= 400 and image.shape[1] >= 500
        assert image.std() > 0.05  # not a blank canvas
    assert sorted(p.name for p in reports.iterdir() if not p.name.startswith(".")) == [
        "clusters.png",
        "customer_segments.parquet",
        "elbow.png",
        "index.html",
        "scoring",
        "segment_changes.parquet",
        "segment_movements.parquet",
        "segment_profiles.png",
        "segment_summary.parquet",
        "segmented_mall_customers.csv",
    ]


def test_segmented_csv_matches_its_golden_file(sample_build):
    # Regenerate after an intended change: python pipeline.py, then copy
    # reports/segmented_mall_customers.csv to tests/golden/.
    written = (sample_build.reports_dir / "segmented_mall_customers.csv").read_text()
    assert written == (SQL_DIR.parent / "tests" / "golden" / "segmented_sample_customers.csv").read_text()


def test_segmented_csv_keeps_the_input_header(tmp_path, settings):
    text = SAMPLE_INPUT.read_text().replace("Gender", "Genre", 1)
    run_build(settings, input_path=write_csv(tmp_path, text))
    with (settings.reports_dir / "segmented_mall_customers.csv").open() as f:
        header = next(csv.reader(f))
    assert header == [
        "CustomerID",
        "Genre",
        "Age",
        "Annual Income (k$)",
        "Spending Score (1-100)",
        "Cluster",
        "Segment",
    ]


@pytest.mark.usefixtures("published")
def test_rerun_gives_the_same_tables_and_appends_a_run(tmp_path, settings):
    first = query(settings.warehouse_path, "select * from customer_segments order by customer_id")
    run_build(settings)
    assert query(settings.warehouse_path, "select * from customer_segments order by customer_id") == first
    assert query(settings.warehouse_path, "select run_id from pipeline_runs order by run_id") == [(1,), (2,)]
    assert scratch_left(settings) == []


@pytest.mark.usefixtures("published")
def test_pipeline_runs_records_the_build(tmp_path, settings):
    row = query(
        settings.warehouse_path,
        "select data_rows, customers, rejected_rows, k, seed, n_init, "
        "input_path, length(input_sha256) from pipeline_runs",
    )
    assert row == [(200, 200, 0, 5, 42, 10, str(SAMPLE_INPUT), 64)]


@pytest.mark.usefixtures("published")
def test_bad_input_leaves_the_last_good_build_untouched(tmp_path, settings):
    before = fingerprint(settings.warehouse_path.parent, settings.reports_dir)
    bad = write_csv(tmp_path, "CustomerID,Gender,Age\n1,Male,19\n")
    with pytest.raises(InputError, match="missing column"):
        run_build(settings, input_path=bad)
    assert fingerprint(settings.warehouse_path.parent, settings.reports_dir) == before


def test_too_many_rejects_stop_the_build(tmp_path, settings):
    lines = SAMPLE_INPUT.read_text().splitlines()
    broken = [lines[0]] + [line + "x" if i % 2 else line for i, line in enumerate(lines[1:])]  # no spending score
    path = write_csv(tmp_path, "\n".join(broken) + "\n")
    with pytest.raises(InputError, match=r"100 of 200 data rows rejected \(50%"):
        run_build(settings, input_path=path, max_reject_share=0.4)
    result = run_build(settings, input_path=path, max_reject_share=0.5)
    assert (result.customers, result.rejected_rows) == (100, 100)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "the file has a header but no data rows"),
        (",Male,19,15,39\n", "none of the 1 data rows is usable (first: line 2: customer_id is missing"),
        ("1,Male,19,15,39\n2,Male,30,60,70\n", "K=5 needs at least 5 customers, the input has 2"),
    ],
)
def test_inputs_with_nothing_to_segment(tmp_path, settings, body, message):
    path = write_csv(tmp_path, "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)\n" + body)
    with pytest.raises(InputError) as error:
        run_build(settings, input_path=path)
    assert message in str(error.value) and str(path) in str(error.value)
    assert not settings.warehouse_path.exists()


def test_failing_data_test_stops_the_build_and_names_itself(tmp_path, settings):
    """A model that doubles a customer: the first test downstream that sees it stops the build
    before anything is published (that test's SQL ending in a comment)."""
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    for source in SQL_DIR.rglob("*"):
        target = sql_dir / source.relative_to(SQL_DIR)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.write_text(source.read_text())
    clustered = sql_dir / "clustering" / "int_clustered_customers.sql"
    clustered.write_text(clustered.read_text() + "union all\nselect * from (select * from final limit 1)\n")
    singular = sql_dir / "tests" / "assert_every_customer_is_segmented.sql"
    singular.write_text(singular.read_text() + "-- a test may end in a comment")
    with pytest.raises(DataTestError) as error:
        run_build(settings, sql_dir=sql_dir)
    assert str(error.value).startswith(
        f"{SAMPLE_INPUT}: data test assert_every_customer_is_segmented failed: 1 offending row(s), e.g. ("
    )
    assert not settings.warehouse_path.exists()
    assert not settings.reports_dir.exists()
    assert not (settings.reports_dir.parent / ".reports.building").exists()


def test_fitting_on_a_sample_still_assigns_every_customer(tmp_path, settings):
    result = run_build(settings, sample_size=120)
    assert result.customers == 200
    path = settings.warehouse_path
    assert query(path, "select sample_rows, silhouette_rows from pipeline_runs") == [(120, 120)]
    assert query(path, "select count(*), count(distinct cluster_id) from customer_clusters") == [(200, 5)]
    shuffled = write_csv(
        tmp_path,
        "\n".join([SAMPLE_INPUT.read_text().splitlines()[0], *reversed(SAMPLE_INPUT.read_text().splitlines()[1:])])
        + "\n",
    )
    again = settings.warehouse_path.with_name("again.duckdb")
    run_build(settings, sample_size=120, input_path=shuffled, warehouse_path=again, reports_dir=tmp_path / "again")
    sql = "select customer_id, cluster_id from customer_clusters order by customer_id"
    assert query(again, sql) == query(path, sql)


@pytest.mark.usefixtures("published")
def test_shuffled_rows_get_the_same_segments(tmp_path, settings):
    frame = pd.read_csv(SAMPLE_INPUT).sample(frac=1, random_state=11)
    shuffled = write_csv(tmp_path, frame.to_csv(index=False, lineterminator="\r\n"), name="shuffled.csv")
    run_build(settings, input_path=shuffled, warehouse_path=tmp_path / "s.duckdb", reports_dir=tmp_path / "s")
    sql = "select customer_id, cluster_id, segment_label from customer_segments order by customer_id"
    assert query(tmp_path / "s.duckdb", sql) == query(settings.warehouse_path, sql)
    for table in ("segment_summary", "segment_feature_profiles"):  # to the last bit
        sql = f"select * from {table} order by all"
        assert query(tmp_path / "s.duckdb", sql) == query(settings.warehouse_path, sql)


def test_sql_assignment_agrees_with_scikit_learn_on_every_customer(settings):
    from segmentation.clustering import cluster_customers
    from segmentation.config import Settings

    FEATURES = ("annual_income_k", "spending_score")

    run_build(settings)
    frame = pd.read_csv(SAMPLE_INPUT)
    features = pd.DataFrame(
        {
            "customer_id": frame["CustomerID"].astype(str),
            "annual_income_k": frame["Annual Income (k$)"],
            "spending_score": frame["Spending Score (1-100)"],
        }
    )
    labels = cluster_customers(features, FEATURES, Settings().cluster_params).labels
    in_sql = query(settings.warehouse_path, "select customer_id, cluster_id from customer_clusters order by 1")
    assert dict(in_sql) == dict(labels.itertuples(index=False, name=None))


def test_parquet_input_gives_the_same_report_as_csv(tmp_path, settings):
    import duckdb as db

    parquet = tmp_path / "customers.parquet"
    with db.connect() as con:
        con.read_csv(str(SAMPLE_INPUT)).write_parquet(str(parquet))
    run_build(settings, input_path=parquet)
    written = (settings.reports_dir / "segmented_mall_customers.csv").read_text()
    assert written == (SQL_DIR.parent / "tests" / "golden" / "segmented_sample_customers.csv").read_text()


def test_parquet_whole_numbers_stored_as_floats_are_whole(tmp_path, settings):
    import duckdb as db

    parquet = tmp_path / "floats.parquet"
    with db.connect() as con:
        con.read_csv(str(SAMPLE_INPUT)).select(
            'CustomerID, Gender, Age::double as Age, "Annual Income (k$)"::decimal(9, 1) as "Annual Income (k$)", '
            'if(CustomerID = 7, 50.5, "Spending Score (1-100)")::double as "Spending Score (1-100)"'
        ).write_parquet(str(parquet))
    result = run_build(settings, input_path=parquet)
    assert (result.customers, result.rejected_rows) == (199, 1)
    assert query(settings.warehouse_path, "select line_number, reject_reason from customer_rejects") == [
        (7, "spending_score '50.5' is not a whole number")
    ]


def test_parquet_input_problems_are_named(tmp_path, settings):
    import duckdb as db

    broken = write_csv(tmp_path, "not parquet", name="broken.parquet")
    with pytest.raises(InputError, match="cannot be read as Parquet"):
        run_build(settings, input_path=broken)
    partial = tmp_path / "partial.parquet"
    with db.connect() as con:
        con.sql("select 1 as CustomerID, 'Male' as Gender").write_parquet(str(partial))
    with pytest.raises(InputError, match=r"missing column\(s\) annual_income_k, spending_score"):
        run_build(settings, input_path=partial)


LIBRARY_USE = """
import sys
import segmentation
assert "duckdb" not in sys.modules, "importing the package imports DuckDB"
assert sorted(segmentation.__all__) == sorted(segmentation.API), "an export without its module, or unlisted"
from segmentation import InputError, PipelineError, Settings, build
assert issubclass(InputError, PipelineError)
import segmentation.building  # the module beside the function of the same package name
from segmentation import build as again
assert again is build and callable(build)
result = build(Settings(input_path=sys.argv[1], k=4), log=lambda line: None)
missing = [str(path) for path in result.reports if not path.is_file()]
assert not missing and "scoring" in {path.parent.name for path in result.reports}, missing
print(result.customers, result.k, result.warehouse)
try:
    build(Settings(input_path="missing.csv"), log=lambda line: None)
except InputError as e:
    print("refused:", e)
"""


def test_a_storage_version_duckdb_does_not_know_is_a_pipeline_error_in_the_library_too(settings):
    with pytest.raises(PipelineError, match=r"storage_compatibility_version 'v9': not a DuckDB storage version"):
        run_build(settings, storage_compatibility_version="v9")
    assert not settings.warehouse_path.parent.exists()


def test_the_library_api_builds_in_the_current_folder(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", LIBRARY_USE, str(SAMPLE_INPUT)], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    built, refused = done.stdout.splitlines()
    assert built == f"200 4 {tmp_path / 'warehouse' / 'mall.duckdb'}"
    assert refused.startswith("refused: missing.csv: ")
    assert query(tmp_path / "warehouse" / "mall.duckdb", "select k from pipeline_runs") == [(4,)]
