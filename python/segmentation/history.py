"""What a build carries over from the live warehouse it will replace: the run history, the
kept segment snapshots, every run's segments, the last run's centroids and colours, and a
sample of the last run's customers (to tell whether this build is on the same customers, in
`dataset_match`), as temporary source tables. With no live warehouse (or an older one without
these tables) they are empty, and this is run 1."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from .config import Settings
from .locks import without_writer
from .readers.input_file import plain_stem
from .schema import column_types, load_schema
from .text import utf8_text

# The last run's customers compared with this run's, at most this many (a sample chosen by a
# hash of the id, so the same customers are drawn on both sides).
COMPARED_CUSTOMERS = 20_000

# source table -> (the live table it copies, the rows copied, its columns when there is none).
# Ids are carried as text, whatever type the run that wrote them used.
CARRIED = {
    "previous_runs": (
        "pipeline_runs",
        "select * from live.pipeline_runs",
    ),
    "previous_snapshots": (
        "segment_snapshots",
        # this run's snapshot makes keep_snapshots with these (a view: see READ_IN_PLACE)
        "select run_id, customer_id::varchar as customer_id, cluster_id from live.segment_snapshots "
        "where run_id in (select distinct run_id from live.segment_snapshots order by run_id desc limit {keep})",
    ),
    "previous_segment_history": (
        "segment_history",
        "select * from live.segment_history",
    ),
    "previous_centroids": (
        "cluster_centroids",
        "select * from live.cluster_centroids",
    ),
    "previous_segment_colours": (
        "segment_colours",
        "select * from live.segment_colours",
    ),
    # the customers of stg_customers (every one is clustered), read from a table: the view
    # would stage the whole file again, three times the cost
    "previous_customers": (
        "int_clustered_customers",
        "select customer_id::varchar as customer_id, {gender}::varchar as gender, {age}::double as age "
        "from live.int_clustered_customers order by hash(customer_id::varchar) limit $compared",
    ),
}
# Carried as a view of the live file, read where segment_snapshots is built: copied first, every
# customer of the last runs would be held in memory (about a second of a rebuild at 10M
# customers). The live file stays attached, read-only, until the models are built (`release_live`).
READ_IN_PLACE = {"previous_snapshots"}
# Every source table `carry_history` creates.
TABLES = (*CARRIED, "this_run")


def carry_history(
    con: duckdb.DuckDBPyConnection, settings: Settings, highest_run_id: int = 0, started: datetime | None = None
) -> int:
    """Create the `previous_*` tables and `this_run`; returns this run's id: one more than any
    run of the live warehouse and than `highest_run_id` (ids handed out to builds stopped
    before their warehouse was published are never reused). `started`: when the build began,
    as pipeline_runs records it (now, by default)."""
    live = settings.warehouse_path
    declared = load_schema(settings.sql_dir)
    found: set[str] = set()
    columns: set[tuple[str, str]] = set()
    if live.exists():
        without_writer(  # a program holding it read-write is waited for, as when publishing
            live,
            settings.lock_timeout_s,
            lambda: con.execute("attach $path as live (read_only)", {"path": str(live)}),
            lambda error: f"{live}: cannot read it to carry its history over ({error})",
        )
        found = {
            row[0]
            for row in con.execute(
                "select table_name from duckdb_tables() where database_name = 'live' union all "
                "select view_name from duckdb_views() where database_name = 'live'"
            ).fetchall()
        }
        columns = {
            tuple(row)
            for row in con.execute(
                "select table_name, column_name from duckdb_columns() where database_name = 'live'"
            ).fetchall()
        }
    try:
        for table, (live_table, query) in CARRIED.items():
            if live_table in found:
                # gender and age may be missing from an input: carried as null
                query = query.format(
                    keep=int(settings.keep_snapshots - 1),
                    **{c: c if (live_table, c) in columns else "null" for c in ("gender", "age")},
                )
                if table in READ_IN_PLACE:
                    con.execute(f"create temp view {table} as {query}")
                else:
                    con.execute(
                        f"create temp table {table} as {query}",
                        {"compared": COMPARED_CUSTOMERS} if "$compared" in query else {},
                    )
            else:
                con.execute(f"create temp table {table} ({column_types(declared[table])})")
    except BaseException:
        release_live(con)
        raise
    # runs recorded before datasets (or as-of days) were: no dataset, never compared by name
    con.execute("alter table previous_runs add column if not exists dataset varchar")
    con.execute("alter table previous_runs add column if not exists as_of_date date")
    con.execute(
        "create temp table this_run as select greatest(coalesce(max(run_id), 0), $highest) + 1 as run_id, "
        "$started_at::timestamp with time zone as started_at, $min_segment_share::double as min_segment_share, "
        "$warn_reject_share::double as warn_reject_share, $min_stability::double as min_stability, "
        "$dataset::varchar as dataset_option, $input_name::varchar as input_name, "
        "$duplicates::varchar as duplicates, $as_of::date as as_of_option "
        "from previous_runs",
        {
            "started_at": started or datetime.now(UTC),
            "min_segment_share": settings.min_segment_share,
            "warn_reject_share": settings.warn_reject_share,
            "min_stability": settings.min_stability,
            "dataset": settings.dataset,
            "input_name": utf8_text(plain_stem(settings.source_path)),
            "duplicates": settings.duplicates,
            "as_of": settings.as_of,
            "highest": highest_run_id,
        },
    )
    return con.execute("select run_id from this_run").fetchall()[0][0]


def release_live(con: duckdb.DuckDBPyConnection) -> None:
    """Let go of the live warehouse once the models have read what they carry over of it."""
    views = {name for (name,) in con.execute("select view_name from duckdb_views() where temporary").fetchall()}
    for table in READ_IN_PLACE & views:
        con.execute(f"drop view {table}")
    con.execute("detach database if exists live")


# The day this run's orders run to, and that of the run it is compared with.
AS_OF_DAYS = """
select (select max(as_of_date) from customer_rfm), previous.as_of_date
from int_compared_runs as compared
inner join previous_runs as previous on compared.previous_run_id = previous.run_id
"""


def as_of_warning(con: duckdb.DuckDBPyConnection) -> str | None:
    """The line a build prints when its orders run to an earlier day than those of the run it
    is compared with (an older export built again): its changes run backwards in time."""
    found = con.execute(AS_OF_DAYS).fetchall()
    now, previous = found[0] if found else (None, None)
    if now is None or previous is None or now >= previous:
        return None
    return (
        f"the orders run to {now}, before {previous}, the day those of the previous build ran to: the changes "
        "since it run backwards in time, as when an older export is built again"
    )


def dataset_warning(con: duckdb.DuckDBPyConnection) -> str | None:
    """The line a build prints when the previous build was on another dataset, else None."""
    rows = con.execute(
        "select previous_dataset, previous_started_at, dataset from dataset_match "
        "where previous_run_id is not null and not is_comparable"
    ).fetchall()
    if not rows:
        return None
    previous, when, dataset = rows[0]
    return (
        f"the previous build was on another dataset ({previous or 'unnamed'}, {when:%Y-%m-%d %H:%M} UTC): "
        f"this build starts the history of dataset {dataset}; no customer changes are reported"
    )
