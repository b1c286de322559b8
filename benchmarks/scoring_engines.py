"""The exported scoring queries (reports/scoring/<dialect>.sql) on each engine at hand: customers
scored, how many agree with the warehouse, and how long the scoring takes.

    .venv/bin/python benchmarks/scoring_engines.py [--customers 1000000] [--repeat 3]
        [--engines duckdb,spark,postgres]

It generates the customers once as Parquet (deterministic, cached in benchmarks/data/), builds
the warehouse on them (K-Means fitted on its seeded sample, every customer assigned in SQL),
then for each engine scores every customer with that engine's exported query: Parquet in,
Parquet out, so each engine reads, scores and writes the same data (PostgreSQL: from a table
loaded beforehand, into a new table). Agreement is counted against the warehouse's
`customer_segments` (cluster_id and segment_label). Times: the first run and the best of
`--repeat` (Spark's first includes starting its JVM work and compiling the query).
Measures, never asserts. Spark needs `make engines` and Java; PostgreSQL needs the server
from Debian (started here in a temporary folder, as the tests do).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "python"))
sys.path.insert(0, str(PROJECT / "tests"))

from segmentation.building import build  # noqa: E402
from segmentation.config import Settings  # noqa: E402
from segmentation.sample_data import write_customers  # noqa: E402
from segmentation.scoring import TABLE  # noqa: E402

DATA = PROJECT / "benchmarks" / "data"
COLUMNS = (
    "cast(CustomerID as varchar) as customer_id",
    '"Annual Income (k$)" as annual_income_k',
    '"Spending Score (1-100)" as spending_score',
    '"Age" as age',
)


def timed(action: Callable[[], None], repeat: int) -> tuple[float, float]:
    """Seconds of the first run and the best of `repeat` runs."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times[0], min(times)


def agreement(warehouse: Path, scored: str) -> tuple[int, int]:
    """(customers scored, of those agreeing with the warehouse), `scored` a Parquet glob."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            f"""
            select count(*), count(*) filter (where s.cluster_id = w.cluster_id and s.segment_label = w.segment_label)
            from read_parquet('{scored}') as s
            left join customer_segments as w on s.customer_id = w.customer_id::varchar
            """
        ).fetchall()[0]


def score_duckdb(customers: Path, sql: str, out: Path, repeat: int) -> tuple[float, float]:
    def run() -> None:
        with duckdb.connect() as con:
            con.execute(f"create view {TABLE} as select {', '.join(COLUMNS)} from read_parquet('{customers}')")
            con.execute(f"copy ({sql}) to '{out}' (format parquet)")

    return timed(run, repeat)


def score_spark(customers: Path, sql: str, out: Path, repeat: int) -> tuple[float, float]:
    from engines import spark_customers, spark_session

    with spark_session() as spark:

        def run() -> None:
            spark_customers(spark, customers)
            spark.sql(sql).write.mode("overwrite").parquet(str(out))

        return timed(run, repeat)


def score_postgres(customers: Path, sql: str, out: Path, repeat: int) -> tuple[float, float]:
    import psycopg

    from engines import postgres_server

    with postgres_server() as conninfo, psycopg.connect(conninfo, autocommit=True) as con:
        con.execute(
            f"create table {TABLE} (customer_id text, annual_income_k double precision, "
            "spending_score integer, age integer)"
        )
        with duckdb.connect() as local, con.cursor().copy(f"copy {TABLE} from stdin with (format csv)") as copy:
            csv = (
                local.sql(f"select {', '.join(COLUMNS)} from read_parquet('{customers}')")
                .df()
                .to_csv(index=False, header=False)
            )
            copy.write(csv)
        con.execute(f"analyze {TABLE}")

        def run() -> None:
            con.execute("drop table if exists scored")
            con.execute(f"create table scored as {sql}")

        first, best = timed(run, repeat)
        scored = pd.DataFrame(  # noqa: F841 (DuckDB reads it by name below)
            con.execute("select * from scored").fetchall(),
            columns=["customer_id", "cluster_id", "segment_label", "distance_to_centroid", "run_id"],
        )
    with duckdb.connect() as local:
        local.execute(f"copy (select * from scored) to '{out}' (format parquet)")
    return first, best


ENGINES = {"duckdb": score_duckdb, "spark": score_spark, "postgres": score_postgres}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="duckdb,spark,postgres")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)

    DATA.mkdir(parents=True, exist_ok=True)
    customers = DATA / f"customers_{args.customers}.parquet"
    if not customers.exists():
        write_customers(customers, rows=args.customers)
    with tempfile.TemporaryDirectory(prefix="scoring-bench-") as tmp:
        root = Path(tmp)
        settings = Settings(input_path=customers, warehouse_path=root / "mall.duckdb", reports_dir=root / "reports")
        result = build(settings, log=lambda line: None)
        print(f"warehouse: {result.customers:,} customers, K = {result.k}, built in {result.seconds:.1f} s")
        print(f"{'engine':<10} {'customers':>11} {'agree':>11} {'first s':>8} {'best s':>8}")
        for engine in args.engines.split(","):
            sql = (settings.reports_dir / "scoring" / f"{engine}.sql").read_text(encoding="utf-8")
            out = root / f"scored_{engine}"
            try:
                first, best = ENGINES[engine](customers, sql, out, args.repeat)
            except KeyboardInterrupt:
                raise
            except BaseException as e:  # an engine that is not here (the tests' helpers skip): say so, go on
                print(f"{engine:<10} not run: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
                continue
            scored, agree = agreement(settings.warehouse_path, f"{out}/*.parquet" if out.is_dir() else str(out))
            print(f"{engine:<10} {scored:>11,} {agree:>11,} {first:>8.2f} {best:>8.2f}")


if __name__ == "__main__":
    main()
