"""reports/scoring/postgres.sql on a real PostgreSQL server (Debian's, started here in a temporary
folder on a Unix socket): the bundled sample's customers, the real file's when present and
100,000 synthetic ones, scored in PostgreSQL exactly as the warehouse segments them."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import query, run_build
from engines import NOT_NUMBERS, customers_input, need, postgres_missing, postgres_server
from segmentation.config import Settings
from segmentation.scoring import TABLE

need(postgres_missing())

SYNTHETIC = 100_000
COLUMNS = {
    "CustomerID": "customer_id",
    "Annual Income (k$)": "annual_income_k",
    "Spending Score (1-100)": "spending_score",
    "Age": "age",
}


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as conninfo:
        yield conninfo


def build_on(root, synthetic: int, **settings) -> Settings:
    built = Settings(
        input_path=customers_input(root / "customers.csv", synthetic),
        warehouse_path=root / "mall.duckdb",
        reports_dir=root / "reports",
        **settings,
    )
    run_build(built)
    return built


def score_in_postgres(conninfo: str, settings: Settings) -> pd.DataFrame:
    """The build's input customers loaded into PostgreSQL as customers_to_score (ids as text),
    scored there with the build's postgres.sql."""
    import psycopg

    customers = pd.read_csv(settings.input_path)[list(COLUMNS)].rename(columns=COLUMNS)
    sql = (settings.reports_dir / "scoring" / "postgres.sql").read_text(encoding="utf-8")
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute(f"drop table if exists {TABLE}")
        con.execute(
            f"create table {TABLE} (customer_id text primary key, annual_income_k double precision, "
            "spending_score integer, age integer)"
        )
        with con.cursor().copy(f"copy {TABLE} from stdin with (format csv)") as copy:
            copy.write(customers.to_csv(index=False, header=False))
        assert con.execute(f"select count(*) from {TABLE}").fetchone()[0] == len(customers)
        rows = con.execute(sql).fetchall()
    return pd.DataFrame(rows, columns=["customer_id", "cluster_id", "segment_label", "distance_to_centroid", "run_id"])


def warehouse_segments(settings: Settings) -> pd.DataFrame:
    return pd.DataFrame(
        query(
            settings.warehouse_path,
            "select customer_id::varchar, cluster_id, segment_label, distance_to_centroid from customer_segments",
        ),
        columns=["customer_id", "cluster_id", "segment_label", "distance_to_centroid"],
    )


def assert_same_segments(scored: pd.DataFrame, warehouse: pd.DataFrame) -> None:
    assert len(scored) == len(warehouse) and scored["customer_id"].is_unique
    both = scored.merge(warehouse, on="customer_id", suffixes=("", "_warehouse"), validate="one_to_one")
    assert len(both) == len(warehouse)
    assert (both["cluster_id"] == both["cluster_id_warehouse"]).all()
    assert (both["segment_label"] == both["segment_label_warehouse"]).all()
    assert ((both["distance_to_centroid"] - both["distance_to_centroid_warehouse"]).abs() < 1e-12).all()


def test_postgres_scores_every_customer_like_the_warehouse(postgres, tmp_path):
    settings = build_on(tmp_path, SYNTHETIC)
    warehouse = warehouse_segments(settings)
    assert len(warehouse) >= 200 + SYNTHETIC
    assert_same_segments(score_in_postgres(postgres, settings), warehouse)


def test_postgres_scores_with_age_like_the_warehouse(postgres, tmp_path):
    settings = build_on(tmp_path, 10_000, features=("annual_income_k", "spending_score", "age"))
    assert "age (years, from 1 to 120)" in (settings.reports_dir / "scoring" / "postgres.sql").read_text()
    assert_same_segments(score_in_postgres(postgres, settings), warehouse_segments(settings))


def test_postgres_gives_nan_and_infinities_no_segment(postgres, sample_build):
    """'NaN' and '±Infinity' in a double precision column: no segment, and the run's id."""
    import psycopg

    sql = (sample_build.reports_dir / "scoring" / "postgres.sql").read_text(encoding="utf-8")
    run_id = query(sample_build.warehouse_path, "select max(run_id) from pipeline_runs")[0][0]
    with psycopg.connect(postgres, autocommit=True) as con:
        con.execute(f"drop table if exists {TABLE}")
        columns = "customer_id text, annual_income_k double precision, spending_score double precision"
        con.execute(f"create table {TABLE} ({columns})")
        con.cursor().executemany(f"insert into {TABLE} values (%s, %s, %s)", NOT_NUMBERS)
        rows = con.execute(
            f"select customer_id, cluster_id, segment_label, distance_to_centroid, run_id from ({sql}) as scored "
            'order by customer_id collate "C"'
        ).fetchall()
    ok, *bad = sorted(rows, key=lambda row: row[0] != "ok")
    assert ok[0] == "ok" and None not in ok and ok[4] == run_id
    assert bad == [(row[0], None, None, None, run_id) for row in sorted(NOT_NUMBERS[1:])]
