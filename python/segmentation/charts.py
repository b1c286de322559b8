"""The three charts, as PNG bytes, from frames already read from the warehouse: pure functions,
no database and no files. The build calls them through its runner (`workers`): from the
command line, in a worker process of their own.

Plot helpers draw on an `ax` they are given; the chart functions lay out a figure around them.
"""

from __future__ import annotations

import io
from itertools import combinations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure  # a bare Figure needs no pyplot and no GUI backend

AXIS_LABELS = {
    "annual_income_k": "annual income (k$)",
    "spending_score": "spending score (1-100)",
    "age": "age (years)",
}


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
    # a fixed title position (y): finding one measures every tick label first
    ax.set_title(f"Choosing K: elbow and silhouette\n{note}", fontsize="medium", y=1.0)


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


def segment_map(points: pd.DataFrame, segments: pd.DataFrame, features: list[str], customers: int) -> bytes:
    """Income against spending; with age as a feature, every pair of features side by side.
    `points`: customers (all, or a sample) with their features and cluster_id; `segments`: one
    row per cluster with its label, customers and centroid (`centroid_<feature>`)."""
    centres = segments.rename(columns={f"centroid_{f}": f for f in features})
    pairs = list(combinations(features, 2))
    fig = Figure(figsize=(9 if len(pairs) == 1 else 18, 6.5))
    fig.subplots_adjust(left=0.06, right=0.98, top=0.88, bottom=0.09, wspace=0.2)
    for i, (x, y) in enumerate(pairs):
        plot_clusters(fig.add_subplot(1, len(pairs), i + 1), points, centres, x, y, legend=i == 0)
    shown = "all customers" if len(points) == customers else f"a sample of {len(points):,} of {customers:,} customers"
    fig.suptitle(f"Customer segments\n{shown}; legend counts are whole segments", fontsize="medium")
    return png(fig)


def profile_chart(bins: pd.DataFrame, bin_count: int, segments: pd.DataFrame, features: list[str]) -> bytes:
    """Each segment's distribution of income, spending and age: one row of small histograms
    per segment (scaled to its own peak), on bins shared by all segments. `bins`: cluster_id,
    feature, bin (0 to `bin_count` - 1), low, bin_width, customers; empty bins may be left out.
    Three panels, one per feature, each stacking the segments: a panel per segment and
    feature took twice as long to draw, for the same picture."""
    rows = len(segments)
    fig = Figure(figsize=(11, 1.3 + 0.8 * rows))
    fig.subplots_adjust(left=0.24, right=0.98, top=1 - 0.65 / fig.get_figheight(),
                        bottom=0.55 / fig.get_figheight(), wspace=0.06)
    shown = [feature for feature in AXIS_LABELS if feature in set(bins["feature"])]  # age may be absent
    axes = np.atleast_1d(fig.subplots(1, len(shown), sharey=True))
    for ax, feature in zip(axes, shown):
        of_feature = bins[bins["feature"] == feature]
        edges = of_feature["low"].iloc[0] + of_feature["bin_width"].iloc[0] * np.arange(bin_count + 1)
        for i, row in enumerate(segments.itertuples()):
            selected = of_feature[of_feature["cluster_id"] == row.cluster_id]
            counts = np.zeros(bin_count)
            counts[selected["bin"].to_numpy()] = selected["customers"].to_numpy()
            plot_histogram(ax, counts, edges, rows - 1 - i, f"C{i % 10}")
        used = "" if feature in features else " (not a feature)"
        ax.set_title(AXIS_LABELS[feature] + used, fontsize="small", y=1.0)  # fixed: see plot_elbow
        ax.tick_params(labelsize="x-small")
    axes[0].set_yticks([rows - 1 - i + 0.4 for i in range(rows)],
                       [f"{row.cluster_id}: {row.segment_label} ({row.customers:,})" for row in segments.itertuples()],
                       fontsize="small")
    axes[0].set_ylim(-0.1, rows)
    return png(fig)


def warm_up() -> None:
    """Draw a throwaway chart, so fonts, caches and lazily imported modules are loaded before
    the first real chart is asked for."""
    fig = Figure(figsize=(2, 2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], "o-", label="line")
    ax.scatter([0.5], [0.5], marker="X", label="point")
    ax.stairs([1.0], [0, 1], fill=True)
    ax.twinx().set_ylabel("right")
    ax.legend(fontsize="small")
    ax.set_title("title", fontsize="medium", y=1.0)
    png(fig)
