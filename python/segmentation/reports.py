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

ELBOW_PNG = "elbow.png"
CLUSTERS_PNG = "clusters.png"
SEGMENTED_CSV = "segmented_mall_customers.csv"
REPORT_FILES = (ELBOW_PNG, CLUSTERS_PNG, SEGMENTED_CSV)


def plot_elbow(ax: Axes, selection: pd.DataFrame) -> None:
    """Inertia by K with the chosen K marked; silhouette on a second axis."""
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
    ax.set_title("Choosing K: elbow and silhouette")


def plot_clusters(ax: Axes, customers: pd.DataFrame, centroids: pd.DataFrame) -> None:
    """Income against spending, one colour per segment, centroids marked."""
    x, y = FEATURES
    colours = dict(zip(centroids["cluster_id"], [f"C{i % 10}" for i in range(len(centroids))]))
    for row in centroids.itertuples():
        members = customers[customers["cluster_id"] == row.cluster_id]
        ax.scatter(members[x], members[y], s=22, alpha=0.75, color=colours[row.cluster_id],
                   label=f"{row.cluster_id}: {row.segment_label} ({len(members)})")
    ax.scatter(centroids[x], centroids[y], marker="X", s=180, color="black", edgecolor="white",
               label="centroid")
    ax.set_xlabel("annual income (k$)")
    ax.set_ylabel("spending score (1-100)")
    ax.set_title("Customer segments")
    ax.legend(loc="best", fontsize="small", framealpha=0.9)


def save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_reports(con: duckdb.DuckDBPyConnection, directory: Path) -> list[Path]:
    selection = con.sql("select * from k_selection order by k").df()
    fig = Figure(figsize=(8, 5))
    plot_elbow(fig.add_subplot(), selection)
    save(fig, directory / ELBOW_PNG)

    customers = con.sql("select * from customer_segments").df()
    centroids = con.sql(
        "select cluster_centroids.*, segment_summary.segment_label from cluster_centroids "
        "inner join segment_summary on cluster_centroids.cluster_id = segment_summary.cluster_id "
        "order by cluster_id"
    ).df()
    fig = Figure(figsize=(9, 6))
    plot_clusters(fig.add_subplot(), customers, centroids)
    save(fig, directory / CLUSTERS_PNG)

    write_segmented_csv(con, directory / SEGMENTED_CSV)
    return [directory / name for name in REPORT_FILES]


def write_segmented_csv(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """The input's columns under their original header names, plus Cluster and Segment."""
    names = dict(con.execute("select column_name, source_name from raw_columns order by position").fetchall())
    columns = [duckdb.ColumnExpression(column).alias(name) for column, name in names.items()]
    columns += [duckdb.ColumnExpression("cluster_id").alias("Cluster"),
                duckdb.ColumnExpression("segment_label").alias("Segment")]
    con.table("customer_segments").order("customer_id").select(*columns).write_csv(str(path), header=True)
