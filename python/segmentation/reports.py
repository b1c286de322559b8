"""The report files: elbow chart, segment map, segmented CSV.

Plot helpers draw on an `ax` they are given and know nothing of files or databases; `write_reports`
is the I/O edge that reads the marts and writes the files.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure  # a bare Figure needs no pyplot and no GUI backend

from .config import FEATURES
from .db import first_row

ELBOW_PNG = "elbow.png"
CLUSTERS_PNG = "clusters.png"
SEGMENTED_CSV = "segmented_mall_customers.csv"
REPORT_FILES = (ELBOW_PNG, CLUSTERS_PNG, SEGMENTED_CSV)


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


def plot_clusters(ax: Axes, points: pd.DataFrame, segments: pd.DataFrame, note: str) -> None:
    """Income against spending, one colour per segment, centroids marked. `points` may be a
    sample; `segments` (one row per cluster: centroid, label, customers) is complete."""
    x, y = FEATURES
    for i, row in enumerate(segments.itertuples()):
        members = points[points["cluster_id"] == row.cluster_id]
        ax.scatter(members[x], members[y], s=22 if len(points) <= 1000 else 6, alpha=0.75,
                   color=f"C{i % 10}", label=f"{row.cluster_id}: {row.segment_label} ({row.customers:,})")
    ax.scatter(segments[x], segments[y], marker="X", s=180, color="black", edgecolor="white",
               label="centroid")
    ax.set_xlabel("annual income (k$)")
    ax.set_ylabel("spending score (1-100)")
    ax.set_title(f"Customer segments\n{note}", fontsize="medium")
    ax.legend(loc="best", fontsize="small", framealpha=0.9)


def save(fig: Figure, path: Path) -> None:
    # Fixed margins and light PNG compression: tight_layout and zlib's default level were half
    # the time of a 200-customer build, for the same picture and a slightly larger file.
    fig.savefig(path, dpi=110, pil_kwargs={"compress_level": 1})


def write_reports(con: duckdb.DuckDBPyConnection, directory: Path) -> list[Path]:
    customers, sample_rows, silhouette_rows = first_row(
        con, "select customers, sample_rows, silhouette_rows from pipeline_runs order by run_id desc limit 1"
    )
    selection = con.sql("select * from k_selection order by k").df()
    fig = Figure(figsize=(8, 5.5))
    fig.subplots_adjust(left=0.1, right=0.9, top=0.88, bottom=0.2)
    plot_elbow(fig.add_subplot(), selection, fitted_on(customers, sample_rows, silhouette_rows))
    save(fig, directory / ELBOW_PNG)

    # a seeded sample that depends on the customers, not on their row order
    points = con.execute(
        "select * from customer_segments order by hash(customer_id) limit $points", {"points": SCATTER_POINTS}
    ).df()
    segments = con.sql(
        "select cluster_centroids.*, segment_summary.segment_label, segment_summary.customers "
        "from cluster_centroids inner join segment_summary "
        "on cluster_centroids.cluster_id = segment_summary.cluster_id order by cluster_id"
    ).df()
    shown = "all customers" if len(points) == customers else f"a sample of {len(points):,} of {customers:,} customers"
    fig = Figure(figsize=(9, 6.5))
    fig.subplots_adjust(left=0.08, right=0.97, top=0.9, bottom=0.09)
    plot_clusters(fig.add_subplot(), points, segments, f"{shown}; legend counts are whole segments")
    save(fig, directory / CLUSTERS_PNG)

    write_segmented_csv(con, directory / SEGMENTED_CSV)
    return [directory / name for name in REPORT_FILES]


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
