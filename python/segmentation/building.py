"""One build, in phases: load the input, carry the history over, run the DAG with its data
tests (the models), check the result, record the run, write the reports, then publish warehouse
and reports. Until the last phase nothing live is touched, except that a pair a stopped build
left mismatched is first put back together (`publish.recover_pair`)."""

from __future__ import annotations

import contextlib
import importlib.metadata
import platform
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import duckdb
import pandas as pd

from . import colours, kmeans_model, stops
from .config import Settings
from .dag import Model, SingularTest, build_model, build_order, discover, python_model, record_names, run_models
from .db import STORAGE_VERSIONS, first_row, is_storage_version
from .duckdb_errors import is_interrupt, is_out_of_memory, is_write_failure
from .errors import DataTestError, InputError, Interrupted, PipelineError
from .history import TABLES as HISTORY_TABLES
from .history import as_of_warning, carry_history, dataset_warning, release_live
from .loader import load_raw
from .locks import writer_lock
from .order_input import SOURCES as ORDER_SOURCES
from .order_input import currency_warning, latest_day_warning, split_orders_warning, status_warning
from .progress import step
from .publish import publish, recover_pair, resolve_paths
from .readers.raw import ORDER_RAW, release_records
from .reports import Charts, chart_hooks, write_reports
from .schema import TableDoc, apply_comments, breaches, load_schema, published_tables
from .scratch import Scratch, new_scratch, remove_scratch
from .text import utf8_text
from .workers import IN_PROCESS, Runner

SOURCES = (
    "raw_records",
    "raw_parts",
    "raw_customers",
    "raw_columns",
    "raw_input",
    "model_features",
    *ORDER_SOURCES,
    *HISTORY_TABLES,
    "run_facts",
)
# Built in the record phase, once the other models are built and checked: it records the
# finished build, with what only the build knows then (run_facts).
RECORDED = "pipeline_runs"
STAGE_WIDTH = 20  # the steps around the models line up with the model lines

Log = Callable[[str], None]
Project = tuple[list[Model], list[SingularTest], dict[str, TableDoc]]


@dataclass(frozen=True)
class BuildResult:
    warehouse: Path
    reports: list[Path]
    data_rows: int
    customers: int
    rejected_rows: int
    value_issues: int
    k: int  # segments that hold customers
    k_fitted: int  # clusters K-Means made (K as given or chosen)
    ids_with_differing_rows: int  # ids whose records differ: --duplicates decided which is kept
    data_tests_passed: int
    seconds: float
    run_id: int  # this build's row of pipeline_runs
    orders: OrderCounts | None = None  # the orders file's, with one


@dataclass(frozen=True)
class OrderCounts:
    """What became of an orders file's records, for the run line and pipeline_runs."""

    role: str  # alone or joined (raw_order_input.role)
    rows: int  # data records
    rejected: int  # in order_rejects
    uncounted: int  # usable, but repeated, cancelled, refunded, failed or after the as-of date
    customers: int  # customer ids with a counted order (customer_rfm)
    unknown_customers: int  # ids of those no usable customer record has
    customers_without_orders: int  # usable customer records without a counted order
    as_of: date | None

    def summary(self) -> str:
        """'10,000 orders (12 rejected, 340 not counted) as of 2024-06-30'"""
        notes = f"{self.rejected:,} rejected, {self.uncounted:,} not counted"
        if self.role == "joined":
            notes += (
                f"; ids not in the customer file: {self.unknown_customers:,}, "
                f"customers without orders: {self.customers_without_orders:,}"
            )
        return f"{self.rows:,} orders ({notes}) as of {self.as_of or 'no date'}"


def order_counts(con: duckdb.DuckDBPyConnection, run: dict) -> OrderCounts | None:
    """The orders file's counts, as `run` (this run's pipeline_runs row) records them."""
    role, customers = first_row(con, "select role, (select count(*) from customer_rfm) from raw_order_input")
    if role == "none":
        return None
    return OrderCounts(
        role,
        run["order_rows"],
        run["rejected_order_rows"],
        run["uncounted_orders"],
        customers,
        run["unknown_order_customers"],
        run["customers_without_orders"],
        run["as_of_date"],
    )


def load_project(settings: Settings, runner: Runner = IN_PROCESS) -> Project:
    docs = load_schema(settings.sql_dir)
    models, tests = discover(settings.sql_dir, docs)
    fitting = kmeans_model.Fitting(runner)
    models.append(python_model("kmeans_segments", kmeans_model.INPUTS, kmeans_model.MODEL_OUTPUTS, fitting.model))
    evidence = kmeans_model.EVIDENCE_OUTPUTS
    # late: the worker that fits the model goes on to the evidence while the models before it are built
    models.append(python_model("kmeans_evidence", kmeans_model.EVIDENCE_INPUTS, evidence, fitting.evidence, late=True))
    models.append(python_model("segment_colours", colours.INPUTS, colours.OUTPUTS, colours.run))
    return build_order(models, SOURCES), tests, docs


def order_gate(settings: Settings) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """Stop early when the orders file leaves nothing, or too little, to measure."""
    path = settings.orders_path

    def check(con: duckdb.DuckDBPyConnection) -> None:
        if path is None:
            return
        rows, rejected = order_row_counts(con)
        counted = first_row(
            con, "select count(*) from stg_order_rows where reject_reason is null and excluded_reason is null"
        )[0]
        first = first_reject(con, "order_rejects")
        if rows == 0:
            raise InputError(f"{path}: the orders file has a header but no data rows")
        if rejected == rows:
            raise InputError(f"{path}: none of the {rows} orders is usable (first: {first})")
        if rejected / rows > settings.max_reject_share:
            raise InputError(
                f"{path}: {rejected:,} of {rows:,} orders rejected ({rejected / rows:.0%}, "
                f"more than the {settings.max_reject_share:.0%} allowed; first: {first})"
            )
        if counted == 0:
            raise InputError(
                f"{path}: none of the {rows - rejected:,} usable orders counts (cancelled, refunded, failed"
                f"{' or after --as-of' if settings.as_of else ''}): see stg_orders.excluded_reason"
            )

    return check


def input_gate(settings: Settings) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """Stop early when the input leaves nothing, or too little, to segment. Customers without
    orders (joined to an orders file) are rejected, but are no fault of the file: they count
    against the share allowed only when no customer is left; repeats of a customer kept
    (duplicates, superseded records) never do."""
    path = settings.input_path

    def check(con: duckdb.DuckDBPyConnection) -> None:
        if path is None:  # the customers are the ids of the orders, which order_gate checked
            return
        data_rows, _, rejected = row_counts(con)
        first = first_reject(con, "customer_rejects")
        if data_rows == 0:
            raise InputError(f"{path}: the file has a header but no data rows")
        no_orders, repeated = first_row(
            con,
            "select count(*) filter (where reason_code = 'no_orders'), "
            "count(*) filter (where reason_code in ('duplicate', 'superseded')) from customer_rejects",
        )
        if rejected == data_rows and no_orders and settings.orders_path is not None:
            # every customer whose row is fine lacks orders: the two files name customers otherwise
            ours, theirs = first_row(
                con,
                "select (select customer_id from stg_customer_rows where reason_code = 'no_orders' "
                "order by line_number limit 1), "
                "(select customer_id from customer_rfm order by first_order_line limit 1)",
            )
            raise InputError(
                f"{path}: none of its {no_orders:,} customers has an order in {settings.orders_path.name}: no id is "
                f"in both (the file's first is {ours!r}, the orders' first {theirs!r}); join them by ids of one kind "
                "(--columns customer_id=HEADER names another column)"
            )
        if rejected == data_rows:
            raise InputError(f"{path}: none of the {data_rows} data rows is usable (first: {first})")
        rejected -= no_orders + repeated  # a repeat of a customer kept loses none
        if rejected / data_rows > settings.max_reject_share:
            raise InputError(
                f"{path}: {rejected} of {data_rows} data rows rejected ({rejected / data_rows:.0%}, "
                f"more than the {settings.max_reject_share:.0%} allowed; first: {first})"
            )

    return check


def row_counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    """Data rows, customers and rejected rows, from the tables that hold them: a table's count
    is kept, not scanned (every data row is a customer or a reject: a data test of the build).
    With an orders file alone, there are no data rows: the customers are its ids (customer_rfm)."""
    data_rows, rejected, role = first_row(
        con,
        "select (select count(*) from int_customer_rows), (select count(*) from customer_rejects), "
        "(select role from raw_order_input)",
    )
    if role == "alone":
        return 0, first_row(con, "select count(*) from customer_rfm")[0], 0
    return data_rows, data_rows - rejected, rejected


def order_row_counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """The orders file's data rows and rejected rows (none without one)."""
    return first_row(
        con, "select (select coalesce(sum(records), 0) from raw_order_parts), (select count(*) from order_rejects)"
    )


def first_reject(con: duckdb.DuckDBPyConnection, rejects: str) -> str | None:
    """The first rejected line of a rejects table and its reason: 'line 7: ...'."""
    first = "arg_min(format('line {}: {}', line_number, reject_reason), line_number)"
    return first_row(con, f"select {first} from {rejects}")[0]


def write_run_facts(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """`run_facts`: what pipeline_runs records that only this process knows."""
    customers = first_row(con, "select count(*) from int_clustered_customers")[0]
    sample_rows, silhouette_rows = settings.fitted_rows(customers)
    con.execute(
        "create or replace temp table run_facts as select $finished_at::timestamp with time zone as finished_at, "
        "$input_path::varchar as input_path, $orders_path::varchar as orders_path, $k_mode::varchar as k_mode, "
        "$seed::bigint as seed, $n_init::bigint as n_init, $sample_rows::bigint as sample_rows, "
        "$silhouette_rows::bigint as silhouette_rows, "
        "$storage_compatibility_version::varchar as storage_compatibility_version, "
        "$python_version::varchar as python_version, $duckdb_version::varchar as duckdb_version, "
        "$sklearn_version::varchar as sklearn_version, $pandas_version::varchar as pandas_version",
        {
            "finished_at": datetime.now(UTC),
            # with an orders file alone, it is the input
            "input_path": utf8_text(settings.source_path.resolve()),
            "orders_path": utf8_text(settings.orders_path.resolve()) if settings.orders_path else None,
            "k_mode": "fixed" if settings.k is not None else "auto",
            "seed": settings.seed,
            "n_init": settings.n_init,
            "sample_rows": sample_rows,
            "silhouette_rows": silhouette_rows,
            "storage_compatibility_version": settings.storage_compatibility_version,
            "python_version": platform.python_version(),
            "duckdb_version": duckdb.__version__,
            "sklearn_version": importlib.metadata.version("scikit-learn"),  # imported by the K-Means worker
            "pandas_version": pd.__version__,
        },
    )


def this_run_row(con: duckdb.DuckDBPyConnection) -> dict:
    """This run's row of pipeline_runs, by column."""
    cursor = con.execute("select * from pipeline_runs where run_id = (select run_id from this_run)")
    row = cursor.fetchone()
    assert row is not None  # pipeline_runs holds this run
    return dict(zip([column[0] for column in cursor.description], row, strict=True))


def stage_label(verb: str, name: str) -> str:
    """The start of a step line around the models, aligned with the model lines."""
    return f"{verb:>9} {name:.<{STAGE_WIDTH}}"


def cleanup(scratch: Scratch | None) -> None:
    """Remove what a stopped build wrote beside the live files, if it got as far as writing
    anything (when it can: the error being reported may be that it cannot)."""
    if scratch is not None:
        # a second stop waits for it, and adds nothing to what is reported
        with stops.deferred_interrupts(deliver=False), contextlib.suppress(OSError):
            remove_scratch(scratch)


def failure(error: BaseException, live: Path) -> PipelineError | None:
    """The one-line error for a failure the user can meet (disk full, permissions, memory), or
    None for one that is a bug."""
    if isinstance(error, OSError):
        where = error.filename or live
        return PipelineError(f"{where}: {error.strerror or error} (nothing was published)")
    if is_write_failure(error):
        return PipelineError(f"{live}: cannot build it: {str(error).splitlines()[0]} (nothing was published)")
    if is_out_of_memory(error):
        return PipelineError(
            f"{live}: out of memory while building it: {str(error).splitlines()[0] or 'MemoryError'} "
            "(nothing was published)"
        )
    return None


def scratch_config(settings: Settings) -> dict[str, str | bool | int | float | list[str]]:
    """The build database's DuckDB settings."""
    return {
        "storage_compatibility_version": settings.storage_compatibility_version,
        "memory_limit": settings.memory_limit,
        # No table's row order means anything here (the loader keeps the input's lines in
        # order for itself); kept, a checkpoint after a large table costs as much again as
        # writing it did.
        "preserve_insertion_order": False,
        # Text columns: FSST without weighing other codecs, which costs as much as the write.
        "force_compression": "fsst",
    }


@dataclass
class Attempt:
    """How far a build got, for what its failure leaves and says."""

    scratch: Scratch | None = None
    run_id: int | None = None
    published: bool = False


@contextlib.contextmanager
def stopped_cleanly(settings: Settings) -> Iterator[Attempt]:
    """Whatever stops the build: its scratch removed, and one error that says what happened
    (`Interrupted` for Ctrl-C, a `PipelineError` for what a user can meet, the error itself
    for a bug)."""
    attempt = Attempt()
    try:
        yield attempt
    except BaseException as e:
        cleanup(attempt.scratch)
        if isinstance(e, DataTestError):
            raise DataTestError(f"{settings.source_path}: {e}") from None
        if isinstance(e, PipelineError):
            raise
        if is_interrupt(e):
            raise Interrupted(attempt.run_id if attempt.published else None) from None
        error = failure(e, settings.warehouse_path)
        if error is None:
            raise
        raise error from None


# --- the phases of a build, in order: load, model, check, record, report, publish -----------


def load_phase(
    con: duckdb.DuckDBPyConnection, settings: Settings, scratch: Scratch, project_: Project, log: Log
) -> None:
    """The input (and orders) file into the raw tables; an input column named as one the models
    give travels renamed."""
    alone = settings.input_path is None  # the customers are the ids of the orders
    models, _, docs = project_
    with step(stage_label("load", "raw_orders" if alone else "raw_customers"), log) as current:
        loaded = load_raw(con, settings, scratch.input, record_names(models, docs))
        records, described = first_row(
            con, "select (select coalesce(sum(records), 0) from raw_parts), input_format from raw_input"
        )
        summaries = [] if alone else [f"{records:,} records, {described}"]
        if loaded.orders is not None:
            records, described = first_row(
                con,
                "select (select coalesce(sum(records), 0) from raw_order_parts), input_format from raw_order_input",
            )
            summaries.append(f"{'' if alone else 'orders: '}{records:,} records, {described}")
        current.summary = "; ".join(summaries)
    for warning in loaded.warnings:
        log(f"  warning: {warning}")


def model_phase(
    con: duckdb.DuckDBPyConnection, project_: Project, settings: Settings, runner: Runner, log: Log
) -> tuple[int, Charts]:
    """Every model of the DAG but RECORDED with its data tests, the input's gates after the
    rejects, the charts asked for as soon as what they draw is built; returns the tests passed
    and the charts."""
    ordered, tests, docs = project_
    charts: Charts = {}
    passed = run_models(
        con,
        [model for model in ordered if model.name != RECORDED],
        tests,
        docs,
        SOURCES,
        settings,
        log,
        after=[
            ("order_rejects", order_gate(settings)),
            ("order_rejects", partial(release_records, raw=ORDER_RAW)),
            ("customer_rejects", input_gate(settings)),
            ("customer_rejects", release_records),
            *chart_hooks(settings, runner, charts),
        ],
    )
    return passed, charts


def check_phase(con: duckdb.DuckDBPyConnection, settings: Settings, log: Log) -> None:
    """Warnings, and the flags `pipeline_runs` records (int_run_flags; with --strict, the first
    stops the build)."""
    notes = [currency_warning(con), status_warning(con), split_orders_warning(con), latest_day_warning(con)]
    notes += [dataset_warning(con), as_of_warning(con)]
    for note in notes:  # not flags: the segments are sound
        if note:
            log(f"  warning: {note}")
    flags = [flag for (flag,) in con.execute("select flag from int_run_flags order by flag_number").fetchall()]
    for flag in flags:
        log(f"  warning: {flag}")
    if flags and settings.strict:
        raise PipelineError(f"{settings.source_path}: {flags[0]} (--strict)")


def record_phase(
    con: duckdb.DuckDBPyConnection, project_: Project, settings: Settings, log: Log
) -> tuple[dict, OrderCounts | None, int]:
    """`pipeline_runs` and its tests, the comments, a checkpoint: the warehouse is complete.
    Returns this run's row, the orders' counts and the data tests passed."""
    ordered, _, docs = project_
    with step(stage_label("record", RECORDED), log) as current:
        write_run_facts(con, settings)
        passed = build_model(con, next(model for model in ordered if model.name == RECORDED), docs, settings)
        run = this_run_row(con)
        orders = order_counts(con, run)
        undeclared = breaches(con, docs)
        if undeclared:  # a model changed without its YAML, or the YAML without its model
            raise PipelineError(
                f"{settings.sql_dir}: the build differs from the models' YAML ({'; '.join(undeclared[:5])}"
                f"{f' and {len(undeclared) - 5} more' if len(undeclared) > 5 else ''}); not publishing it"
            )
        apply_comments(con, docs)
        con.execute("checkpoint")
        current.summary = "comments, checkpoint"
    return run, orders, passed


def report_phase(
    con: duckdb.DuckDBPyConnection, scratch: Scratch, charts: Charts, reports_dir: Path, log: Log
) -> list[Path]:
    """Every report file into the staged reports folder; their paths within it."""
    with step(stage_label("write", "reports"), log) as current:
        try:
            reports = [path.relative_to(scratch.staged) for path in write_reports(con, scratch.staged, charts)]
        except OSError as e:  # a failed write names no file: say which folder
            raise PipelineError(
                f"{reports_dir}: cannot write the reports: {e.strerror or e} (nothing was published)"
            ) from None
        current.summary = ", ".join(path.as_posix() for path in reports)
    return reports


def publish_phase(
    attempt: Attempt, settings: Settings, docs: dict[str, TableDoc], highest_run_id: int, log: Log
) -> list[int]:
    """The warehouse and reports swapped in as a pair (`attempt.published` from then on);
    returns the signals held back meanwhile."""
    scratch, run_id = attempt.scratch, attempt.run_id
    assert scratch is not None and run_id is not None  # the build got this far
    with step(stage_label("publish", "warehouse"), log) as current:
        shutil.rmtree(scratch.input, ignore_errors=True)  # the input is read: its copy goes first
        # every model and seed the YAML declares: a build lacking any of them is not published
        interrupted = publish(
            scratch,
            settings.warehouse_path,
            settings.reports_dir,
            list(published_tables(docs)),
            run_id,
            highest_run_id,
            settings.lock_timeout_s,
            published=partial(setattr, attempt, "published", True),
        )
        remove_scratch(scratch)
        current.summary = "validated, swapped in with the reports"
    return interrupted


def build(settings: Settings, log: Log = print, runner: Runner = IN_PROCESS) -> BuildResult:
    """`runner`: where K-Means and the charts run (`workers`): here by default."""
    started_clock, started = time.perf_counter(), datetime.now(UTC)
    version = settings.storage_compatibility_version  # the default's known good: asking DuckDB takes 20 ms
    if version != Settings.storage_compatibility_version and not is_storage_version(version):
        raise PipelineError(
            f"storage_compatibility_version {version!r}: not a DuckDB storage version (e.g. {STORAGE_VERSIONS})"
        )
    live, reports_dir = resolve_paths(
        settings.warehouse_path, settings.reports_dir, (settings.input_path, settings.orders_path)
    )
    settings = replace(settings, warehouse_path=live, reports_dir=reports_dir)
    with stopped_cleanly(settings) as attempt:
        # inside: reading the models parses them with DuckDB, which a Ctrl-C interrupts too
        models = load_project(settings, runner)
        ordered, _, docs = models
        ours = {name for model in ordered for name in model.outputs} | set(SOURCES)
        with writer_lock(live, settings.lock_timeout_s, log), writer_lock(reports_dir, settings.lock_timeout_s, log):
            highest_run_id = recover_pair(live, reports_dir, settings.lock_timeout_s, ours, log)
            scratch = attempt.scratch = new_scratch(live, reports_dir)
            with (
                duckdb.connect(str(scratch.database), config=scratch_config(settings)) as con,
                stops.interrupting(con),
            ):
                # a zoned time (a Parquet TIMESTAMPTZ, the run's times) read as the same day and
                # hour on every machine, whatever its time zone (DuckDB takes the system's)
                con.execute("set TimeZone = 'UTC'")
                load_phase(con, settings, scratch, models, log)
                with step(stage_label("carry", "history"), log) as current:
                    run_id = attempt.run_id = carry_history(con, settings, highest_run_id, started)
                    current.summary = f"this is run {run_id}"
                passed, charts = model_phase(con, models, settings, runner, log)
                release_live(con)
                check_phase(con, settings, log)
                run, orders, recorded = record_phase(con, models, settings, log)
                reports = report_phase(con, scratch, charts, reports_dir, log)
            stops.deliver_signals(publish_phase(attempt, settings, docs, highest_run_id, log))
    return BuildResult(
        warehouse=live,
        reports=[reports_dir / path for path in reports],
        data_rows=run["data_rows"],
        customers=run["customers"],
        rejected_rows=run["rejected_rows"],
        value_issues=run["value_issues"],
        k=run["k"],
        k_fitted=run["k_fitted"],
        ids_with_differing_rows=run["ids_with_differing_rows"],
        data_tests_passed=passed + recorded,
        seconds=time.perf_counter() - started_clock,
        run_id=run_id,
        orders=orders,
    )
