"""The floor under a build: DuckDB alone reading the input into a typed table, then writing the
segmented CSV (input order) and the customers as Parquet, nothing else. `bench.py` runs it
beside the pipeline so the ratio to what DuckDB itself needs is visible. With `--orders`, the
floor under a build from an orders file: DuckDB alone reading the orders (its own CSV sniffing
and types) and summing the counted ones per customer (last and first order, orders, spend) into
a table, then writing it as Parquet.

    .venv/bin/python benchmarks/floor.py INPUT.csv|INPUT.parquet OUT_DIR
    .venv/bin/python benchmarks/floor.py --orders ORDERS.csv OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb


def main(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(out / "floor.duckdb"), config={"memory_limit": "600MB"}) as con:
        reader = "read_parquet($path)" if source.suffix == ".parquet" else "read_csv($path, header = true)"
        con.execute(
            f"create or replace table customers as select row_number() over () as line_number, * from {reader}",
            {"path": str(source)},
        )
        con.sql(
            'select * exclude (line_number), 0 as "Cluster", \'Segment\' as "Segment" from customers '
            "order by line_number"
        ).write_csv(str(out / "segmented.csv"), header=True)
        con.table("customers").write_parquet(str(out / "customers.parquet"))


def orders(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(out / "floor.duckdb"), config={"memory_limit": "600MB"}) as con:
        con.execute(
            """
            create or replace table customer_rfm as
            select
                "Customer ID" as customer_id,
                max("Order Date") as last_order_date,
                min("Order Date") as first_order_date,
                count(distinct "Order ID") as order_count,
                sum("Total") as total_spend
            from read_csv($path, header = true)
            where "Status" not in ('cancelled', 'refunded')
            group by all
            """,
            {"path": str(source)},
        )
        con.table("customer_rfm").write_parquet(str(out / "customer_rfm.parquet"))


if __name__ == "__main__":
    if sys.argv[1] == "--orders":
        orders(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main(Path(sys.argv[1]), Path(sys.argv[2]))
