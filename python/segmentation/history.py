"""What a build carries over from the live warehouse it will replace: the run history, the
kept segment snapshots, every run's segments and the last run's centroids, as temporary source
tables. With no live warehouse (or an older one without these tables) they are empty, and this
is run 1."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from .config import Settings
from .errors import PipelineError
from .publish import POLL_S, WRITER_HELD, is_lock_conflict

# source table -> (the live table it copies, the rows copied, its columns when there is none)
CARRIED = {
    "previous_runs": ("pipeline_runs", "select * from live.pipeline_runs", "run_id bigint, features varchar"),
    "previous_snapshots": (
        "segment_snapshots",
        # this run's snapshot makes keep_snapshots with these
        "select run_id, customer_id, cluster_id from live.segment_snapshots where run_id in "
        "(select distinct run_id from live.segment_snapshots order by run_id desc limit $keep)",
        "run_id bigint, customer_id bigint, cluster_id integer",
    ),
    "previous_segment_history": (
        "segment_history",
        "select * from live.segment_history",
        "run_id bigint, cluster_id integer, segment_label varchar, customers bigint, "
        "share_of_customers double, avg_annual_income_k double, avg_spending_score double, avg_age double",
    ),
    "previous_centroids": (
        "cluster_centroids",
        "select * from live.cluster_centroids",
        "cluster_id integer, annual_income_k double, spending_score double, age double",
    ),
}
# Every source table `carry_history` creates.
TABLES = (*CARRIED, "this_run")


def carry_history(con: duckdb.DuckDBPyConnection, settings: Settings, highest_run_id: int = 0) -> int:
    """Create the `previous_*` tables and `this_run`; returns this run's id: one more than any
    run of the live warehouse and than `highest_run_id` (ids handed out to builds stopped
    before their warehouse was published are never reused)."""
    live = settings.warehouse_path
    found = set()
    if live.exists():
        deadline = time.monotonic() + settings.lock_timeout_s
        while True:  # a program holding it read-write is waited for, as when publishing
            try:
                con.execute("attach $path as live (read_only)", {"path": str(live)})
                break
            except duckdb.Error as e:
                if not is_lock_conflict(e):
                    raise PipelineError(
                        f"{live}: cannot read it to carry its history over ({str(e).splitlines()[0]})") from None
                if time.monotonic() >= deadline:
                    raise PipelineError(f"{live}: {WRITER_HELD}") from None
                time.sleep(POLL_S)
        found = {row[0] for row in con.execute(
            "select table_name from duckdb_tables() where database_name = 'live'").fetchall()}
    try:
        for table, (live_table, query, empty) in CARRIED.items():
            if live_table in found:
                params = {"keep": settings.keep_snapshots - 1} if "$keep" in query else {}
                con.execute(f"create temp table {table} as {query}", params)
            else:
                con.execute(f"create temp table {table} ({empty})")
    finally:
        con.execute("detach database if exists live")
    con.execute(
        "create temp table this_run as select greatest(coalesce(max(run_id), 0), $highest) + 1 as run_id, "
        "$min_segment_share::double as min_segment_share from previous_runs",
        {"min_segment_share": settings.min_segment_share, "highest": highest_run_id},
    )
    return con.execute("select run_id from this_run").fetchall()[0][0]
