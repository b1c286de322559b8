"""reports/scoring/spark.sql on Apache Spark (pyspark, local mode): 200,000 customers as Parquet
scored in Spark exactly as the warehouse segments them, and the lakehouse recipe (docs/bi-tools.md) end to
end: sample in Spark, build the warehouse on the sample, score everyone in Spark."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from conftest import query, run_build
from engines import NOT_NUMBERS, need, spark_customers, spark_missing, spark_session
from segmentation.config import SQL_DIR, Settings
from segmentation.features import default_features
from segmentation.rendering import render
from segmentation.sample_data import write_customers
from segmentation.scoring import TABLE

need(spark_missing())

pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

CUSTOMERS = 200_000  # a million: make bench-scoring
SAMPLE_SEED = 42
SAMPLE_ONE_IN = 10  # the recipe's sample: about 20,000 of them


@pytest.fixture(scope="module")
def spark():
    with spark_session() as session:
        yield session


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> Path:
    """CUSTOMERS customers as a Parquet file, with the classic file's column names."""
    path = tmp_path_factory.mktemp("lake") / "customers.parquet"
    write_customers(path, rows=CUSTOMERS, seed=5)
    return path


def score_in_spark(spark, customers: Path, scoring_sql: Path, out: Path) -> Path:
    """Every customer of the Parquet file scored by Spark with `scoring_sql`; the result as
    Parquet files in `out`."""
    spark_customers(spark, customers)
    spark.sql(scoring_sql.read_text(encoding="utf-8")).write.mode("overwrite").parquet(str(out))
    return out


def compare(con: duckdb.DuckDBPyConnection, scored: Path, expected: str) -> tuple[int, int, int]:
    """(customers scored, customers in `expected`, customers whose cluster and label agree)."""
    return con.execute(
        f"""
        with spark as (select * from read_parquet('{scored}/*.parquet')),
        expected as ({expected})
        select
            (select count(*) from spark),
            (select count(*) from expected),
            count(*) filter (where spark.cluster_id = expected.cluster_id
                             and spark.segment_label = expected.segment_label
                             and abs(spark.distance_to_centroid - expected.distance_to_centroid) < 1e-12)
        from spark inner join expected on spark.customer_id = expected.customer_id
        """
    ).fetchall()[0]


def test_spark_scores_a_lake_of_customers_like_the_warehouse(spark, lake, tmp_path):
    settings = Settings(input_path=lake, warehouse_path=tmp_path / "mall.duckdb", reports_dir=tmp_path / "reports")
    run_build(settings)
    scored = score_in_spark(spark, lake, settings.reports_dir / "scoring" / "spark.sql", tmp_path / "scored")
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert (
            compare(
                con,
                scored,
                "select customer_id::varchar as customer_id, cluster_id, segment_label, "
                "distance_to_centroid from customer_segments",
            )
            == (CUSTOMERS,) * 3
        )


def test_lakehouse_recipe_sample_in_spark_build_on_the_sample_score_everyone_in_spark(spark, lake, tmp_path):
    from pyspark.sql import functions as F

    # 1. a seeded sample by hash of the id, as one Parquet file (the warehouse reads one file)
    (
        spark.read.parquet(str(lake))
        .where(F.pmod(F.xxhash64(F.lit(SAMPLE_SEED), F.col("CustomerID").cast("string")), F.lit(SAMPLE_ONE_IN)) == 0)
        .coalesce(1)
        .write.mode("overwrite")
        .parquet(str(tmp_path / "sample"))
    )
    [part] = (tmp_path / "sample").glob("part-*.parquet")

    # 2. the warehouse, built on the sample
    settings = Settings(input_path=part, warehouse_path=tmp_path / "mall.duckdb", reports_dir=tmp_path / "reports")
    result = run_build(settings)
    assert CUSTOMERS / SAMPLE_ONE_IN * 0.9 < result.customers < CUSTOMERS / SAMPLE_ONE_IN * 1.1

    # 3. every customer scored in Spark with the exported query
    scored = score_in_spark(spark, lake, settings.reports_dir / "scoring" / "spark.sql", tmp_path / "scored")

    # 4. what the warehouse assigns to all customers with the same fitted model: its own
    # int_clustered_customers model run over every customer, with the sample build's scaler and
    # centroids, and labels from its segment_summary
    with duckdb.connect() as con:
        con.execute(f"attach '{settings.warehouse_path}' as model (read_only)")
        con.execute("create view feature_scaling as select * from model.feature_scaling")
        con.execute("create view cluster_centroids as select * from model.cluster_centroids")
        con.execute(
            "create view stg_customers as select CustomerID::varchar as customer_id, Gender as gender, Age as age, "
            '"Annual Income (k$)" as annual_income_k, "Spending Score (1-100)" as spending_score '
            f"from read_parquet('{lake}')"
        )
        model = render(
            (SQL_DIR / "clustering" / "int_clustered_customers.sql").read_text(encoding="utf-8"), default_features()
        )
        con.execute(f"create table int_clustered_customers as {model}")
        everyone = (
            "select int_clustered_customers.customer_id, int_clustered_customers.cluster_id, "
            "segments.segment_label, int_clustered_customers.distance_to_centroid "
            "from int_clustered_customers inner join model.segment_summary as segments using (cluster_id)"
        )
        assert compare(con, scored, everyone) == (CUSTOMERS,) * 3


def test_spark_gives_nan_and_infinities_no_segment(spark, sample_build):
    """NaN and ±Infinity in a double column: no segment, and the run's id."""
    spark.createDataFrame(
        NOT_NUMBERS, "customer_id string, annual_income_k double, spending_score double"
    ).createOrReplaceTempView(TABLE)
    sql = (sample_build.reports_dir / "scoring" / "spark.sql").read_text(encoding="utf-8")
    run_id = query(sample_build.warehouse_path, "select max(run_id) from pipeline_runs")[0][0]
    rows = [tuple(row) for row in spark.sql(sql).collect()]
    ok, *bad = sorted(rows, key=lambda row: (row[0] != "ok", row[0]))
    assert ok[0] == "ok" and None not in ok and ok[4] == run_id
    assert bad == [(row[0], None, None, None, run_id) for row in sorted(NOT_NUMBERS[1:])]
