"""The floor under a build: the least DuckDB itself needs to turn the input into a build's
artefacts, nothing else. `bench.py` runs it beside the pipeline so the ratio to it is visible.

- A CSV is read once into an in-memory temporary table (typed by DuckDB's reader, in file
  order), persisted once as a table with its record number (the unordered write path, FSST
  forced: the ordered path's checkpoint writes the table twice), then the segmented CSV is
  streamed from the staged rows in insertion order (no sort) and the table written as Parquet.
- A Parquet file is not staged (at 100M rows it would not fit in memory): it is read again for
  the table and for the CSV.
- With `--orders`: DuckDB reading the orders (its own sniffing and types), summing the counted
  ones per customer (last and first order, orders, spend) into a table, and writing it as
  Parquet.

    .venv/bin/python benchmarks/floor.py INPUT.csv|INPUT.parquet OUT_DIR
    .venv/bin/python benchmarks/floor.py --orders ORDERS.csv OUT_DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

# as a build writes its warehouse: readable by DuckDB 1.x, text columns compressed with FSST
CONFIG = {"storage_compatibility_version": "v1.0.0", "force_compression": "fsst"}


def main(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(out / "floor.duckdb"), config=CONFIG) as con:
        params = {"path": str(source)}
        if source.suffix == ".parquet":
            rows = "read_parquet($path, file_row_number = true)"
            numbered = f"select file_row_number + 1 as record_number, * exclude (file_row_number) from {rows}"
            staged = "read_parquet($path)"
        else:
            con.execute("create temp table staged as select * from read_csv($path, header = true)", params)
            numbered, staged, params = "select rowid + 1 as record_number, * from staged", "staged", {}
        con.execute("set preserve_insertion_order = false")
        con.execute(f"create or replace table customers as {numbered}", params)
        con.execute("set preserve_insertion_order = true")
        con.execute(
            f"""copy (select *, 0 as "Cluster", 'Segment' as "Segment" from {staged}) to $csv (header)""",
            {**params, "csv": str(out / "segmented.csv")},
        )
        con.execute("set preserve_insertion_order = false")
        con.execute("copy customers to $parquet (format parquet)", {"parquet": str(out / "customers.parquet")})


def orders(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(out / "floor.duckdb"), config=CONFIG) as con:
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", action="store_true", help="INPUT is an orders file: sum it per customer")
    parser.add_argument("input", type=Path, help="customers (CSV or Parquet), or orders with --orders")
    parser.add_argument("out", type=Path, help="the folder the artefacts are written to")
    args = parser.parse_args()
    (orders if args.orders else main)(args.input, args.out)
