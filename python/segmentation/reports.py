"""The report files: index.html, elbow chart, segment map, segment profiles, segmented CSV, the
marts as Parquet and the fitted model as SQL per engine (scoring/<dialect>.sql). The I/O edge
of the reports: it reads the warehouse and writes the files; the charts are drawn from what it
reads by `charts`, through the build's runner (`workers`).
"""

from __future__ import annotations

import math
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb
import pandas as pd

from .columns import unique_name
from .config import Settings
from .db import customer_sample, first_row, model_features, plain_digits, quote_ident, quote_literal
from .features import CLASSIC, ORDER_COLUMNS_CARRIED, Feature, is_classic_pair
from .html_report import ReportData, render
from .scoring import FILES as SCORING_FILES
from .scoring import write_scoring
from .workers import CHARTS, Result, Runner

INDEX_HTML = "index.html"
ELBOW_PNG = "elbow.png"
CLUSTERS_PNG = "clusters.png"
CLUSTERS_NARROW = "clusters_narrow.png"  # the segment map for a phone: embedded in the report only
PROFILES_PNG = "segment_profiles.png"
SEGMENTED_CSV = "segmented_mall_customers.csv"  # the classic study's name, for its model
SEGMENTED_OWN = "segmented_customers.csv"  # with features of the input's own: no mall in it
# the segmented CSV's last two columns, the model's (case-folded: how headers are compared)
MODEL_HEADERS = ("cluster", "segment")
# For BI tools that cannot hold a DuckDB file: the marts, as Parquet files beside the report.
PARQUET_TABLES = ("segment_summary", "customer_segments", "segment_changes", "segment_movements")
CHART_FILES = (ELBOW_PNG, CLUSTERS_PNG, PROFILES_PNG)
# the fitted model as one SQL query per engine, in a folder of its own: scoring/<dialect>.sql
REPORT_FILES = (INDEX_HTML, *CHART_FILES, SEGMENTED_CSV, *(f"{t}.parquet" for t in PARQUET_TABLES), *SCORING_FILES)
HISTOGRAM_BINS = 12
# The one order of segments in every table and chart legend: largest first, then by cluster number
SEGMENT_ORDER = "customers desc, cluster_id"

# A scatter of millions of markers takes minutes and shows nothing more than a few thousand.
SCATTER_POINTS = 5_000

Charts = dict[str, Result]  # chart file name -> waits for its PNG bytes


def segments_with_centroids(con: duckdb.DuckDBPyConnection, features: Iterable[str]) -> pd.DataFrame:
    return con.sql(
        "select segment_summary.*, segment_colours.colour, "
        + ", ".join(f"cluster_centroids.{quote_ident(f)} as {quote_ident('centroid_' + f)}" for f in features)
        + " from segment_summary inner join cluster_centroids using (cluster_id) "
        f"inner join segment_colours using (segment_label) order by {SEGMENT_ORDER}"
    ).df()


def chart_hooks(
    settings: Settings, runner: Runner, charts: Charts
) -> list[tuple[str, Callable[[duckdb.DuckDBPyConnection], None]]]:
    """What to draw as soon as the tables it shows are built (for `run_models`' `after`): the
    elbow once k_selection is, the segment charts once the segments have their colours. Each goes to the
    runner (a worker draws it while the build goes on) and lands in `charts` for
    `write_reports`."""

    def elbow(con: duckdb.DuckDBPyConnection) -> None:
        customers = first_row(con, "select count(*) from customer_features")[0]
        selection = con.sql("select * from k_selection order by k").df()
        charts[ELBOW_PNG] = runner.call(
            CHARTS, "elbow_chart", selection, fitted_on(customers, *settings.fitted_rows(customers))
        )

    def segment_charts(con: duckdb.DuckDBPyConnection) -> None:
        declared = model_features(con)
        features = [f.feature for f in declared]
        segments = segments_with_centroids(con, features)
        customers = int(segments["customers"].sum())
        # the map's columns only: the customers' other columns may number thousands
        columns = ", ".join(["cluster_id", *map(quote_ident, features)])
        points = customer_sample(con, "int_clustered_customers", columns, SCATTER_POINTS)
        labels = axis_labels(declared)
        logs = tuple(f.feature for f in declared if f.transform == "log")
        charts[CLUSTERS_PNG] = runner.call(CHARTS, "segment_map", points, segments, features, customers, labels, logs)
        charts[CLUSTERS_NARROW] = runner.call(
            CHARTS, "segment_map", points, segments, features, customers, labels, logs, True
        )
        bins = histograms(con, HISTOGRAM_BINS, [*features, *shown_beside(con, declared)])
        charts[PROFILES_PNG] = runner.call(CHARTS, "profile_chart", bins, HISTOGRAM_BINS, segments, features, labels)

    return [("k_selection", elbow), ("segment_colours", segment_charts)]


def report_files(features: tuple[Feature, ...]) -> tuple[str, ...]:
    """The report's files; the segmented CSV keeps the study's name for its model alone."""
    csv = SEGMENTED_CSV if is_classic_pair(features) else SEGMENTED_OWN
    return tuple(csv if name == SEGMENTED_CSV else name for name in REPORT_FILES)


def write_reports(con: duckdb.DuckDBPyConnection, directory: Path, charts: Charts) -> list[Path]:
    """Every report file into `directory`; `charts` as `chart_hooks` filled it."""
    run = con.sql("select * from pipeline_runs order by run_id desc limit 1").df().iloc[0].to_dict()
    features = model_features(con)
    files = report_files(features)
    write_segmented_csv(con, directory / files[REPORT_FILES.index(SEGMENTED_CSV)], features)
    write_scoring(con, directory)
    for table in PARQUET_TABLES:
        con.sql(f"select * from {quote_ident(table)}").write_parquet(str(directory / f"{table}.parquet"))
    reasons = top_reject_reasons(con, 5)
    segments = segments_with_centroids(con, [f.feature for f in features])
    images = {name: charts[name]() for name in CHART_FILES}
    for name, data in images.items():
        (directory / name).write_bytes(data)
    images[CLUSTERS_NARROW] = charts[CLUSTERS_NARROW]()
    report = ReportData(
        run=run,
        reject_reasons=reasons,
        selection=con.sql("select * from k_selection order by k").df(),
        stability=con.sql("select * from cluster_stability order by seed").df(),
        segments=segments,
        movements=con.sql("select * from segment_movements").df(),
        images=images,
        files=[name for name in files if name != INDEX_HTML],
        dataset=con.sql("select * from dataset_match").df().astype(object).iloc[0].to_dict(),
        features=features,
        # the classic report shows segment_summary's columns: the quartiles need not be read
        profiles=None if is_classic_pair(features) else con.sql("select * from segment_feature_profiles").df(),
    )
    (directory / INDEX_HTML).write_text(render(report), encoding="utf-8")
    return [directory / name for name in files]


def top_reject_reasons(con: duckdb.DuckDBPyConnection, limit: int) -> list[tuple[str, int]]:
    """The most frequent kinds of reason the customer file's rows were rejected for, in words
    ('age is missing'), with how many rows have each (int_reject_kinds)."""
    return con.execute(
        "select reason, rejected_rows from int_reject_kinds where rejects = 'customers' and place <= $limit "
        "order by place",
        {"limit": limit},
    ).fetchall()


def axis_labels(features: Iterable[Feature]) -> dict[str, str]:
    """Column -> how a chart names it, with its unit: the features, and age beside them."""
    age = CLASSIC["age"]
    return {age.column: f"{age.label} ({age.unit})"} | {
        f.feature: f"{f.label} ({f.unit})" if f.unit else f.label for f in features
    }


def shown_beside(con: duckdb.DuckDBPyConnection, features: Iterable[Feature]) -> list[str]:
    """Age, when the customers have it and it is not a feature: its distribution per segment is
    shown beside the features'."""
    if "age" in {f.feature for f in features} or "age" not in customer_columns(con):
        return []
    return ["age"]


def customer_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The warehouse columns the input has (raw_columns)."""
    return {row[0] for row in con.execute("select column_name from raw_columns").fetchall()}


def histograms(con: duckdb.DuckDBPyConnection, bins: int, columns: list[str]) -> pd.DataFrame:
    """cluster_id, feature, bin, low, bin_width, customers: every customer's value of each of
    `columns` counted per segment on `bins` bins per column shared by all segments; two scans
    of int_clustered_customers, whatever its size."""
    bounds = con.sql(
        "select "
        + ", ".join(f"min({quote_ident(f)}), max({quote_ident(f)})" for f in columns)
        + " from int_clustered_customers"
    ).fetchall()[0]
    # a column without values has no histogram
    features = [f for f, low in zip(columns, bounds[0::2]) if low is not None]
    bounds = tuple(b for low, high in zip(bounds[0::2], bounds[1::2]) if low is not None for b in (low, high))
    low = dict(zip(features, bounds[0::2]))
    width = {f: (high - low[f] or 1) / bins for f, high in zip(features, bounds[1::2])}
    counts = con.execute(
        "select cluster_id, "
        + ", ".join(
            f"histogram(least(floor(({quote_ident(f)} - $f{i}_low) / $f{i}_width), {bins - 1})::integer)"
            for i, f in enumerate(features)
        )
        + " from int_clustered_customers group by cluster_id",
        {f"f{i}_low": low[f] for i, f in enumerate(features)}
        | {f"f{i}_width": width[f] for i, f in enumerate(features)},
    ).fetchall()
    return pd.DataFrame(
        [
            (cluster_id, feature, b, low[feature], width[feature], n)
            for cluster_id, *maps in counts
            for feature, histogram in zip(features, maps)
            for b, n in histogram.items()
        ],
        columns=["cluster_id", "feature", "bin", "low", "bin_width", "customers"],
    )


def fitted_on(customers: int, sample_rows: int, silhouette_rows: int) -> str:
    if sample_rows == customers:
        scope = f"K-Means fitted on all {customers:,} customers"
    else:
        scope = f"K-Means fitted on a seeded sample of {sample_rows:,} of {customers:,} customers"
    if silhouette_rows < sample_rows:
        scope += f"; silhouette on {silhouette_rows:,} of them"
    return scope


# A text cell a spreadsheet would read as a formula gets a leading quote (OWASP's advice for
# CSV injection); numbers, negative ones too, are left as they are.
# The first character is compared, not matched by a regex: this runs on every text cell. Not
# with IN, which is planned as a join for six values: one join per text column, more than a
# file of a thousand columns has memory for. Two nested ifs, not one of an AND: the planner
# takes time quadratic in the columns over the AND of two tests of one column.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# SQL: whether the text `cell` starts as a formula does
STARTS_AS_FORMULA = f"list_position([{', '.join(map(quote_literal, FORMULA_STARTS))}], left({{cell}}, 1)) is not null"
SAFE_CELL = f"if({STARTS_AS_FORMULA}, if(try_cast({{cell}} as double) is null, '''' || {{cell}}, {{cell}}), {{cell}})"
# ORDER BY sorts whole rows, and a sort of every customer outgrows the memory limit at
# millions (10M customers: 6.1 s sorted whole, 5.2 s in slices). The customers are written in
# slices of line numbers of about this much text each, each sorted alone: a slice reads only the
# row groups its line numbers are in, and memory holds a slice. Wide rows (hundreds of columns,
# long texts) make slices of fewer customers.
CSV_SLICE_BYTES = 64 << 20
# The rows, spread over the table, whose text gives the width of an average customer's row
WIDTH_SAMPLE_ROWS = 50_000


def safe_header(name: str) -> str:
    """A header as SAFE_CELL makes a cell: a spreadsheet never reads it as a formula."""
    if not name.startswith(FORMULA_STARTS):
        return name
    try:
        float(name)
        return name
    except ValueError:
        return "'" + name


def write_segmented_csv(con: duckdb.DuckDBPyConnection, path: Path, features: tuple[Feature, ...]) -> None:
    """The input's customers, every column under its header in input order, plus Cluster and
    Segment, one line per customer in input order; always UTF-8. The five columns the
    warehouse knows hold its clean values (income in the input's unit), a feature of the input's own
    its number, the others their text. With an orders file, its measures of each customer
    (customer_rfm's columns) stand before Cluster and Segment; with it alone, the customers are
    in the order of their first orders."""
    names = con.execute("select column_name, source_name from raw_columns order by position").fetchall()
    with_orders = first_row(con, "select role <> 'none' from raw_order_input")[0]
    # A CSV header needs a name of its own, and Cluster and Segment are the model's: a blank or
    # repeated header takes the warehouse's name, one named Cluster or Segment is numbered, each
    # made unique among the headers kept (`column_6`, `Note_2`, `Cluster_2`).
    given = Counter(name.casefold() for _, name in names)
    repeated = {name for name, times in given.items() if times > 1} | {""}
    kept = {name for name in given if name not in repeated and name not in MODEL_HEADERS}
    used = kept | set(MODEL_HEADERS)
    headers = [
        safe_header(
            name if name.casefold() in kept else unique_name(column if name.casefold() in repeated else name, used)
        )
        for column, name in names
    ]
    scale = first_row(con, "select income_scale from raw_input")[0]
    numbers = {"annual_income_k"} | {f.feature for f in features if f.kind == "number"}
    texts = [column for column, _ in names if column not in numbers and column not in ("age", "spending_score")]
    unsafe = formula_columns(con, texts)
    cells = []
    for (column, _), name in zip(names, headers, strict=True):
        cell = f"segments.{quote_ident(column)}"
        if column in numbers:  # in the input's unit, 15.0 as 15 as the input wrote it
            # back in the input's unit, to the millionth: staging divided it by the unit's size
            cell = f"round({cell} * {1 / scale}, 6)" if column == "annual_income_k" and scale != 1 else cell
            cell = f"if({cell} = trunc({cell}), ({cell})::bigint::varchar, {plain_digits(f'({cell})::varchar')})"
        elif column in unsafe:
            cell = SAFE_CELL.format(cell=cell)
        cells.append(f"{cell} as {quote_ident(name)}")
    if with_orders:
        for column in ORDER_COLUMNS_CARRIED:
            cells.append(f"segments.{quote_ident(column)} as {quote_ident(unique_name(column, used))}")
    # a handful of labels as constants: a lookup or join per customer costs seconds at 10M
    labels = con.execute("select cluster_id, segment_label from segment_summary order by cluster_id").fetchall()
    segment = " ".join(f"when {int(cluster_id)} then $label_{cluster_id}" for cluster_id, _ in labels)
    query = (
        f'select {", ".join(cells)}, segments.cluster_id as "Cluster", '
        f'case segments.cluster_id {segment} end as "Segment" '
        "from int_clustered_customers as segments"
    )
    params = {f"label_{cluster_id}": label for cluster_id, label in labels}
    starts = slice_starts(con, [column for column, _ in names] + (list(ORDER_COLUMNS_CARRIED) if with_orders else []))
    if len(starts) == 1:
        con.sql(f"{query} order by segments.line_number", params=params).write_csv(str(path), header=True)
        return
    parts = [path.with_name(f".{path.name}.{number}") for number in range(len(starts))]
    try:
        for number, (start, part) in enumerate(zip(starts, parts)):
            bounds = {"start": start} | ({"end": starts[number + 1]} if number + 1 < len(starts) else {})
            where = " and ".join(
                ["segments.line_number >= $start", *(["segments.line_number < $end"] if "end" in bounds else [])]
            )
            con.sql(f"{query} where {where} order by segments.line_number", params=params | bounds).write_csv(
                str(part), header=number == 0
            )
        with path.open("wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, out, 1 << 20)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)


def formula_columns(con: duckdb.DuckDBPyConnection, columns: list[str]) -> set[str]:
    """The text `columns` with a cell a spreadsheet would read as a formula: only theirs pass
    through SAFE_CELL (a column's cells copied as they are write a third faster). One scan."""
    if not columns:
        return set()
    found = first_row(
        con,
        "select "
        + ", ".join(f"bool_or({STARTS_AS_FORMULA.format(cell=quote_ident(c))})" for c in columns)
        + " from int_clustered_customers",
    )
    return {column for column, unsafe in zip(columns, found, strict=True) if unsafe}


def text_bytes(columns: list[str]) -> str:
    """A row's text in `columns`, in bytes, as SQL (a delimiter each)."""
    lengths = ", ".join(f"coalesce(strlen({quote_ident(column)}::varchar), 0)" for column in columns)
    return f"list_sum([{lengths}]) + {len(columns)}"


def row_bytes(con: duckdb.DuckDBPyConnection, columns: list[str], rows: int) -> float:
    """The average text of a customer's row in `columns`, of the table's `rows`: from about
    WIDTH_SAMPLE_ROWS rows, in vectors spread over the table (a few milliseconds whatever its size)."""
    sample = "" if rows <= WIDTH_SAMPLE_ROWS else f" using sample {100 * WIDTH_SAMPLE_ROWS / rows:.6f}% (system)"
    found, total = first_row(con, f"select count(*), sum({text_bytes(columns)}) from int_clustered_customers{sample}")
    if not found and rows:  # no vector drawn: the first
        found, total = first_row(
            con, f"select count(*), sum({text_bytes(columns)}) from (select * from int_clustered_customers limit 2048)"
        )
    return (total or 0) / max(found, 1)


def slice_starts(con: duckdb.DuckDBPyConnection, columns: list[str]) -> list[int]:
    """The first line number of each slice of customers: equal spans of line numbers (from the
    table's statistics, no pass over it) holding about CSV_SLICE_BYTES of text each."""
    rows, first, last = first_row(
        con, "select count(*), min(line_number), max(line_number) from int_clustered_customers"
    )
    slices = max(1, math.ceil(rows * row_bytes(con, columns, rows) / CSV_SLICE_BYTES))
    span = math.ceil(((last or 0) - (first or 0) + 1) / slices)
    return [(first or 0) + number * span for number in range(slices)]
