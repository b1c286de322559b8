"""The fitted model as portable SQL (reports/scoring/<dialect>.sql): written by every build,
one SELECT per engine from one DuckDB source, and scoring like the warehouse. Run here on
DuckDB; PostgreSQL and Spark in test_engines_postgres.py and test_engines_spark.py."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from conftest import query, run_build
from engines import NOT_NUMBERS
from segmentation.features import classic
from segmentation.sample_data import generate_customers
from segmentation.scoring import (
    DIALECTS,
    TABLE,
    ScoringModel,
    header,
    read_model,
    scoring_queries,
    source_sql,
    transpile,
)

SYNTHETIC = 100_000
ID_OFFSET = 1_000_000  # synthetic customers' ids, clear of the sample's


def scoring_file(settings, dialect: str) -> str:
    return (settings.reports_dir / "scoring" / f"{dialect}.sql").read_text(encoding="utf-8")


def synthetic_customers(rows: int, seed: int = 3) -> pd.DataFrame:
    frame = generate_customers(rows, seed)
    return pd.DataFrame(
        {
            "customer_id": (frame["CustomerID"] + ID_OFFSET).astype(str),
            "annual_income_k": frame["Annual Income (k$)"],
            "spending_score": frame["Spending Score (1-100)"],
            "age": frame["Age"],
        }
    )


def score(warehouse, sql: str, customers: pd.DataFrame) -> pd.DataFrame:
    """Runs `sql` over `customers` as customers_to_score, in a read-only session on the warehouse,
    beside what the warehouse's own macros say for the same customers."""
    features = [c for c in ("annual_income_k", "spending_score", "age") if c in customers.columns]
    age = ", age := customers.age" if "age" in features and "age" in sql else ""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.register("customers", customers)
        con.execute(f"create temp table {TABLE} as select * from customers")
        return con.sql(
            f"select scored.*, cluster_of(customers.annual_income_k, customers.spending_score{age}) as macro_cluster, "
            f"segment_of(customers.annual_income_k, customers.spending_score{age}) as macro_segment "
            f"from ({sql}) as scored inner join customers using (customer_id) order by customer_id"
        ).df()


def test_every_build_writes_one_query_per_engine(sample_build):
    run_id, sha, features = query(
        sample_build.warehouse_path, "select run_id, input_sha256, features from pipeline_runs"
    )[0]
    for dialect in DIALECTS:
        text = scoring_file(sample_build, dialect)
        head = text.split("\nWITH", 1)[0]
        assert f"run {run_id}." in head and sha in head and ", ".join(features.split(",")) in head, dialect
        statements = sqlglot.parse(text, read=dialect)
        assert len(statements) == 1 and isinstance(statements[0], exp.Select), dialect
        ctes = {cte.alias for cte in statements[0].find_all(exp.CTE)}
        assert {t.name.lower() for t in statements[0].find_all(exp.Table)} - ctes == {TABLE}, dialect
        final = next(cte.this for cte in statements[0].find_all(exp.CTE) if cte.alias == "final")
        assert [name.lower() for name in final.named_selects] == [
            "customer_id",
            "cluster_id",
            "segment_label",
            "distance_to_centroid",
            "run_id",
        ]


def test_the_queries_come_from_one_source(sample_build):
    """Each file is the warehouse's model written once as DuckDB SQL and translated by sqlglot
    (that each translation still computes the same is checked below, by running it)."""
    with duckdb.connect(str(sample_build.warehouse_path), read_only=True) as con:
        scoring = read_model(con)
    source = source_sql(scoring)
    for dialect in DIALECTS:
        assert scoring_file(sample_build, dialect) == header(scoring, dialect) + transpile(source, dialect)
    assert "cast('" in source and all(f"x{f.position}_scaled" in source for f in scoring.features)


def test_duckdb_scores_every_customer_like_the_warehouse(sample_build):
    """The warehouse's own customers against customer_segments, 100,000 others against its
    cluster_of/segment_of macros; and every dialect translated back to DuckDB, the same."""
    warehouse = sample_build.warehouse_path
    own = pd.DataFrame(
        query(
            warehouse,
            "select customer_id::varchar, annual_income_k, spending_score, cluster_id, "
            "segment_label, distance_to_centroid from customer_segments",
        ),
        columns=[
            "customer_id",
            "annual_income_k",
            "spending_score",
            "cluster_id",
            "segment_label",
            "distance_to_centroid",
        ],
    )
    customers = pd.concat(
        [own[["customer_id", "annual_income_k", "spending_score"]], synthetic_customers(SYNTHETIC).drop(columns="age")],
        ignore_index=True,
    )
    for dialect in DIALECTS:
        sql = sqlglot.transpile(scoring_file(sample_build, dialect), read=dialect, write="duckdb")[0]
        scored = score(warehouse, sql, customers)
        assert len(scored) == len(customers) == 200 + SYNTHETIC, dialect
        assert scored["cluster_id"].notna().all()
        assert (scored["cluster_id"] == scored["macro_cluster"]).all(), dialect
        assert (scored["segment_label"] == scored["macro_segment"]).all(), dialect
        mine = scored.merge(own, on="customer_id", suffixes=("", "_warehouse"))
        assert len(mine) == 200
        assert (mine["cluster_id"] == mine["cluster_id_warehouse"]).all(), dialect
        assert (mine["segment_label"] == mine["segment_label_warehouse"]).all(), dialect
        # equal but for the last bit: the warehouse's list_distance fuses multiply-adds
        assert ((mine["distance_to_centroid"] - mine["distance_to_centroid_warehouse"]).abs() < 1e-12).all()


def test_three_features_score_like_the_warehouse(tmp_path, settings):
    age = replace(settings, features=("annual_income_k", "spending_score", "age"))
    run_build(age)
    sql = scoring_file(age, "duckdb")
    assert "AND x3 BETWEEN CAST('1.0' AS DOUBLE) AND CAST('120.0' AS DOUBLE)" in sql
    assert "annual_income_k (k$, from 0); spending_score (1-100, from 1 to 100); age (years, from 1 to 120)" in sql
    own = pd.DataFrame(
        query(
            age.warehouse_path,
            "select customer_id::varchar, annual_income_k, spending_score, age, "
            "cluster_id, segment_label from customer_segments",
        ),
        columns=["customer_id", "annual_income_k", "spending_score", "age", "cluster_id", "segment_label"],
    )
    customers = pd.concat(
        [own.drop(columns=["cluster_id", "segment_label"]), synthetic_customers(10_000)], ignore_index=True
    )
    scored = score(age.warehouse_path, sql, customers)
    assert (scored["cluster_id"] == scored["macro_cluster"]).all()
    assert (scored["segment_label"] == scored["macro_segment"]).all()
    mine = scored.merge(own, on="customer_id", suffixes=("", "_warehouse"))
    assert len(mine) == 200 and (mine["cluster_id"] == mine["cluster_id_warehouse"]).all()


def model(centroids: dict[int, tuple[float, float]], labels: dict[int, str] | None = None) -> ScoringModel:
    return ScoringModel(
        run_id=1,
        input_name="customers.csv",
        input_sha256="0" * 64,
        features=(classic("income", 1), classic("spending", 2)),
        scaler={"annual_income_k": (50.0, 10.0), "spending_score": (50.0, 20.0)},
        centroids={c: {"annual_income_k": x, "spending_score": y} for c, (x, y) in centroids.items()},
        labels=labels if labels is not None else {c: f"segment {c}" for c in centroids},
    )


def run_source(scoring: ScoringModel, rows: list[tuple]) -> list[tuple]:
    with duckdb.connect() as con:
        con.execute(f"create table {TABLE} (customer_id varchar, annual_income_k double, spending_score integer)")
        con.executemany(f"insert into {TABLE} values (?, ?, ?)", rows)
        return con.sql(f"select * from ({source_sql(scoring)}) order by customer_id").fetchall()


def test_a_tie_goes_to_the_lowest_cluster_id():
    # clusters 7 and 3 share a centre, 5 is elsewhere; the ids are not 0..K-1 nor in row order
    tied = model({7: (1.0, 1.0), 3: (1.0, 1.0), 5: (-1.0, -1.0)})
    assert run_source(tied, [("a", 60, 70), ("b", 40, 30)]) == [
        ("a", 3, "segment 3", 0.0, 1),
        ("b", 5, "segment 5", 0.0, 1),
    ]
    # and a customer halfway between two centres
    halfway = model({2: (1.0, 0.0), 1: (-1.0, 0.0)})
    assert run_source(halfway, [("m", 50, 50)]) == [("m", 1, "segment 1", 1.0, 1)]


def test_missing_or_out_of_range_values_get_no_segment():
    rows = [
        ("C-0001", 15.5, 39),
        ("C-0002", None, 50),
        ("C-0003", 50, None),
        ("C-0004", -1, 50),
        ("C-0005", 50, 0),
        ("C-0006", 50, 101),
        ("C-0007", 0, 1),
        ("C-0008", 100_000, 100),
    ]
    scored = run_source(model({0: (-1.0, -1.0), 1: (1.0, 1.0)}), rows)
    # ids pass through as text, decimals are scored, the bounds are accepted
    assert [row[0] for row in scored] == [row[0] for row in rows]
    assert [row[1] for row in scored] == [0, None, None, None, None, None, 0, 1]
    assert all(row[2] is None and row[3] is None for row in scored if row[1] is None)


def test_nan_and_infinities_get_no_segment_in_every_dialect():
    """Outside every accepted range: null, never a cluster, in each dialect's query (read back
    into DuckDB here; on PostgreSQL and Spark themselves in their engine tests)."""
    for dialect, sql in scoring_queries(model({0: (-1.0, -1.0), 1: (1.0, 1.0)})).items():
        with duckdb.connect() as con:
            con.execute(f"create table {TABLE} (customer_id varchar, annual_income_k double, spending_score double)")
            con.executemany(f"insert into {TABLE} values (?, ?, ?)", NOT_NUMBERS)
            scored = con.sql(
                f"select * from ({sqlglot.transpile(sql, read=dialect, write='duckdb')[0]}) order by customer_id"
            ).fetchall()
        expected = [("ok", 1, "segment 1", 0.0, 1)] + [(row[0], None, None, None, 1) for row in NOT_NUMBERS[1:]]
        assert scored == sorted(expected), dialect


def test_a_cluster_without_customers_has_no_label():
    sql = scoring_queries(model({0: (-1.0, -1.0), 1: (1.0, 1.0)}, labels={0: "Only"}), ["duckdb"])["duckdb"]
    with duckdb.connect() as con:
        con.execute(
            f"create table {TABLE} as select * from (values ('x', 60, 70), ('y', 40, 30)) "
            "as t(customer_id, annual_income_k, spending_score)"
        )
        assert con.sql(f"select customer_id, cluster_id, segment_label from ({sql}) order by 1").fetchall() == [
            ("x", 1, None),
            ("y", 0, "Only"),
        ]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_model_that_cannot_be_written_as_sql_is_refused(bad):
    with pytest.raises(ValueError, match="cannot export"):
        source_sql(model({0: (bad, 0.0)}))


@pytest.mark.usefixtures("published")
def test_a_rebuild_replaces_the_queries(settings):
    run_build(settings)
    assert "warehouse run 2." in scoring_file(settings, "spark")
    assert sorted(p.name for p in (settings.reports_dir / "scoring").iterdir()) == sorted(
        f"{dialect}.sql" for dialect in DIALECTS
    )
