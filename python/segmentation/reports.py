"""The report files: index.html, elbow chart, segment map, segment profiles, segmented CSV and
the marts as Parquet.

Plot helpers draw on an `ax` they are given and know nothing of files or databases; `write_reports`
is the I/O edge that reads the marts and writes the files.
"""

from __future__ import annotations

import io
from itertools import combinations
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure  # a bare Figure needs no pyplot and no GUI backend

from .db import quote_ident
from .html_report import ReportData, render

INDEX_HTML = "index.html"
ELBOW_PNG = "elbow.png"
CLUSTERS_PNG = "clusters.png"
PROFILES_PNG = "segment_profiles.png"
SEGMENTED_CSV = "segmented_mall_customers.csv"
# For BI tools that cannot hold a DuckDB file: the marts, as Parquet files beside the report.
PARQUET_TABLES = ("segment_summary", "customer_segments", "segment_changes", "segment_movements")
REPORT_FILES = (
    INDEX_HTML, ELBOW_PNG, CLUSTERS_PNG, PROFILES_PNG, SEGMENTED_CSV, *(f"{t}.parquet" for t in PARQUET_TABLES)
)
AXIS_LABELS = {
    "annual_income_k": "annual income (k$)",
    "spending_score": "spending score (1-100)",
    "age": "age (years)",
}
HISTOGRAM_BINS = 12

# A scatter of millions of markers takes minutes and shows nothing more than a few thousand.
SCATTER_POINTS = 5_000


def plot_elbow(ax: Axes, selection: pd.DataFrame, note: str) -> None:
    """Inertia by K with the chosen K marked; silhouette on a second axis; `note` says on
    how many customers it was computed."""
    ax.plot(selection["k"], selection["inertia"], "o-", color="tab:blue", label="inertia")
    chosen = selection[selection["is_chosen"]]
    if not chosen.empty:
        k, inertia = int(chosen["k"].iloc[0]), float(chosen["inertia"].iloc[0])
        ax.axvline(k, color="grey", linestyle="--", linewidth=1)
        ax.plot([k], [inertia], "o", markersize=12, markerfacecolor="none", color="tab:red",
                label=f"chosen K = {k}")
    ax.set_xlabel("number of clusters K")
    ax.set_ylabel("inertia (within-cluster sum of squares, scaled units)")
    ax.set_xticks(selection["k"])
    scored = selection.dropna(subset=["silhouette"])
    right = ax.twinx()
    right.plot(scored["k"], scored["silhouette"].astype(float), "s--", color="tab:orange",
               label="silhouette")
    right.set_ylabel("mean silhouette (higher is better)")
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    # below the axes: the two curves cross wherever the data puts them
    right.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False)
    ax.set_title(f"Choosing K: elbow and silhouette\n{note}", fontsize="medium")


def plot_clusters(ax: Axes, points: pd.DataFrame, segments: pd.DataFrame, x: str, y: str, legend: bool) -> None:
    """One feature against another, one colour per segment, centroids marked. `points` may be
    a sample; `segments` (one row per cluster: centroid, label, customers) is complete."""
    for i, row in enumerate(segments.itertuples()):
        members = points[points["cluster_id"] == row.cluster_id]
        ax.scatter(members[x], members[y], s=22 if len(points) <= 1000 else 6, alpha=0.75,
                   color=f"C{i % 10}", label=f"{row.cluster_id}: {row.segment_label} ({row.customers:,})")
    ax.scatter(segments[x], segments[y], marker="X", s=180, color="black", edgecolor="white",
               label="centroid")
    ax.set_xlabel(AXIS_LABELS[x])
    ax.set_ylabel(AXIS_LABELS[y])
    if legend:
        ax.legend(loc="best", fontsize="small", framealpha=0.9)


def plot_histogram(ax: Axes, counts: np.ndarray, edges: np.ndarray, base: float, colour: str) -> None:
    """One segment's distribution of one feature: a filled step histogram on the feature's
    common bins, standing on `base` and scaled so the tallest bin is 0.85 high (one artist,
    where a bar per bin would be a dozen)."""
    ax.stairs(base + 0.85 * counts / max(counts.max(), 1), edges, baseline=base, fill=True, color=colour)


def write_reports(con: duckdb.DuckDBPyConnection, directory: Path) -> list[Path]:
    run = con.sql("select * from pipeline_runs order by run_id desc limit 1").df().iloc[0].to_dict()
    features = run["features"].split(",")
    selection = con.sql("select * from k_selection order by k").df()
    segments = con.sql(
        "select segment_summary.*, "
        + ", ".join(f"cluster_centroids.{quote_ident(f)} as {quote_ident('centroid_' + f)}" for f in features)
        + " from segment_summary inner join cluster_centroids using (cluster_id) order by cluster_id"
    ).df()
    images = {
        ELBOW_PNG: elbow_chart(selection, fitted_on(run["customers"], run["sample_rows"], run["silhouette_rows"])),
        CLUSTERS_PNG: segment_map(con, segments, features, run["customers"]),
        PROFILES_PNG: profile_chart(con, segments, features),
    }
    for name, data in images.items():
        (directory / name).write_bytes(data)
    write_segmented_csv(con, directory / SEGMENTED_CSV)
    for table in PARQUET_TABLES:
        con.sql(f"select * from {quote_ident(table)}").write_parquet(str(directory / f"{table}.parquet"))
    reasons = con.sql(
        "select reject_reason, count(*) as n from customer_rejects group by all order by n desc, reject_reason limit 5"
    ).fetchall()
    report = ReportData(
        run=run,
        reject_reasons=reasons,
        selection=selection,
        stability=con.sql("select * from cluster_stability order by seed").df(),
        segments=segments.sort_values(["customers", "cluster_id"], ascending=[False, True], ignore_index=True),
        movements=con.sql("select * from segment_movements").df(),
        images=images,
        files=[name for name in REPORT_FILES if name != INDEX_HTML],
    )
    (directory / INDEX_HTML).write_text(render(report), encoding="utf-8")
    return [directory / name for name in REPORT_FILES]


def png(fig: Figure) -> bytes:
    # Fixed margins and light PNG compression: tight_layout and zlib's default level were half
    # the time of a 200-customer build, for the same picture and a slightly larger file.
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def elbow_chart(selection: pd.DataFrame, note: str) -> bytes:
    fig = Figure(figsize=(8, 5.5))
    fig.subplots_adjust(left=0.1, right=0.9, top=0.88, bottom=0.2)
    plot_elbow(fig.add_subplot(), selection, note)
    return png(fig)


def segment_map(con: duckdb.DuckDBPyConnection, segments: pd.DataFrame, features: list[str], customers: int) -> bytes:
    """Income against spending; with age as a feature, every pair of features side by side."""
    # a seeded sample that depends on the customers, not on their row order
    points = con.execute(
        "select * from customer_segments order by hash(customer_id) limit $points", {"points": SCATTER_POINTS}
    ).df()
    centres = segments.rename(columns={f"centroid_{f}": f for f in features})
    pairs = list(combinations(features, 2))
    fig = Figure(figsize=(9 if len(pairs) == 1 else 18, 6.5))
    fig.subplots_adjust(left=0.06, right=0.98, top=0.88, bottom=0.09, wspace=0.2)
    for i, (x, y) in enumerate(pairs):
        plot_clusters(fig.add_subplot(1, len(pairs), i + 1), points, centres, x, y, legend=i == 0)
    shown = "all customers" if len(points) == customers else f"a sample of {len(points):,} of {customers:,} customers"
    fig.suptitle(f"Customer segments\n{shown}; legend counts are whole segments", fontsize="medium")
    return png(fig)


def profile_chart(con: duckdb.DuckDBPyConnection, segments: pd.DataFrame, features: list[str]) -> bytes:
    """Each segment's distribution of income, spending and age: one row of small histograms
    per segment (scaled to its own peak), on bins shared by all segments, counted in SQL over
    every customer. Three panels, one per feature, each stacking the segments: a panel per
    segment and feature took twice as long to draw, for the same picture."""
    bins = histograms(con, HISTOGRAM_BINS)
    rows = len(segments)
    fig = Figure(figsize=(11, 1.3 + 0.8 * rows))
    fig.subplots_adjust(left=0.24, right=0.98, top=1 - 0.65 / fig.get_figheight(),
                        bottom=0.55 / fig.get_figheight(), wspace=0.06)
    axes = fig.subplots(1, len(AXIS_LABELS), sharey=True)
    for ax, feature in zip(axes, AXIS_LABELS):
        of_feature = bins[bins["feature"] == feature]
        edges = of_feature["low"].iloc[0] + of_feature["bin_width"].iloc[0] * np.arange(HISTOGRAM_BINS + 1)
        for i, row in enumerate(segments.itertuples()):
            selected = of_feature[of_feature["cluster_id"] == row.cluster_id]
            counts = np.zeros(HISTOGRAM_BINS)
            counts[selected["bin"].to_numpy()] = selected["customers"].to_numpy()
            plot_histogram(ax, counts, edges, rows - 1 - i, f"C{i % 10}")
        used = "" if feature in features else " (not a feature)"
        ax.set_title(AXIS_LABELS[feature] + used, fontsize="small")
        ax.tick_params(labelsize="x-small")
    axes[0].set_yticks([rows - 1 - i + 0.4 for i in range(rows)],
                       [f"{row.cluster_id}: {row.segment_label} ({row.customers:,})" for row in segments.itertuples()],
                       fontsize="small")
    axes[0].set_ylim(-0.1, rows)
    return png(fig)


def histograms(con: duckdb.DuckDBPyConnection, bins: int) -> pd.DataFrame:
    """cluster_id, feature, bin, low, bin_width, customers: every customer's income, spending
    and age counted per segment on `bins` bins per feature shared by all segments; two scans
    of customer_segments, whatever its size."""
    features = list(AXIS_LABELS)
    bounds = con.sql(
        "select " + ", ".join(f"min({f}), max({f})" for f in features) + " from customer_segments"
    ).fetchall()[0]
    low = dict(zip(features, bounds[0::2]))
    width = {f: max(high - low[f], 1) / bins for f, high in zip(features, bounds[1::2])}
    counts = con.execute(
        "select cluster_id, "
        + ", ".join(f"histogram(least(floor(({f} - ${f}_low) / ${f}_width), {bins - 1})::integer) as {f}"
                    for f in features)
        + " from customer_segments group by cluster_id",
        {**{f"{f}_low": low[f] for f in features}, **{f"{f}_width": width[f] for f in features}},
    ).fetchall()
    return pd.DataFrame(
        [(cluster_id, feature, b, low[feature], width[feature], n)
         for cluster_id, *maps in counts for feature, histogram in zip(features, maps) for b, n in histogram.items()],
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


def write_segmented_csv(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """The input's columns under their original header names, plus Cluster and Segment."""
    names = dict(con.execute("select column_name, source_name from raw_columns order by position").fetchall())
    columns = [duckdb.ColumnExpression(column).alias(name) for column, name in names.items()]
    columns += [duckdb.ColumnExpression("cluster_id").alias("Cluster"),
                duckdb.ColumnExpression("segment_label").alias("Segment")]
    con.table("customer_segments").order("customer_id").select(*columns).write_csv(str(path), header=True)
