"""The three charts, as PNG bytes, from frames already read from the warehouse: pure functions,
no database and no files. The build calls them through its runner (`workers`): from the
command line, in a worker process of their own.

Plot helpers draw on an `ax` they are given; the chart functions lay out a figure around them.
"""

from __future__ import annotations

import io
import textwrap
from itertools import combinations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator  # a bare Figure needs no pyplot and no GUI backend

FONT = 13  # points: large, so the text still reads when a phone scales the picture down
# Beyond this many features the map is a 2-D projection: their pairs would number 10 or more.
MAX_PAIRED_FEATURES = 4
PROJECTION = ("projection 1", "projection 2")
LEGEND_WIDTH = 60  # characters of a legend line


def plot_elbow(ax: Axes, selection: pd.DataFrame, note: str) -> None:
    """Inertia by K with the chosen K marked; silhouette on a second axis; `note` says on
    how many customers it was computed."""
    ax.plot(selection["k"], selection["inertia"], "o-", color="tab:blue", label="inertia")
    chosen = selection[selection["is_chosen"]]
    if not chosen.empty:
        k, inertia = int(chosen["k"].iloc[0]), float(chosen["inertia"].iloc[0])
        ax.axvline(k, color="grey", linestyle="--", linewidth=1)
        ax.plot([k], [inertia], "o", markersize=12, markerfacecolor="none", color="tab:red", label=f"chosen K = {k}")
    ax.set_xlabel("number of clusters K", fontsize=FONT)
    ax.set_ylabel("inertia (scaled units)", fontsize=FONT)
    ax.set_xticks(selection["k"])
    ax.tick_params(labelsize=FONT - 1)
    scored = selection.dropna(subset=["silhouette"])
    right = ax.twinx()
    right.plot(scored["k"], scored["silhouette"].astype(float), "s--", color="tab:orange", label="silhouette")
    right.set_ylabel("mean silhouette (higher is better)", fontsize=FONT)
    right.tick_params(labelsize=FONT - 1)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    # below the axes: the two curves cross wherever the data puts them
    right.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False, fontsize=FONT - 1
    )
    # a fixed title position (y): finding one measures every tick label first
    ax.set_title(f"Choosing K: elbow and silhouette\n{note}", fontsize=FONT - 1, y=1.0)


def legend_text(label: str, customers: int) -> str:
    """A segment in the legend; a label naming many features' bands takes lines of its own."""
    return textwrap.fill(f"{label} ({customers:,})", LEGEND_WIDTH)


def plot_clusters(
    ax: Axes,
    points: pd.DataFrame,
    segments: pd.DataFrame,
    x: str,
    y: str,
    labels: dict[str, str],
    log_axes: tuple[str, ...] = (),
) -> None:
    """One feature against another, each segment in its own colour (`segments.colour`, which
    the label keeps from run to run), centroids marked. `points` may be a sample; `segments`
    (one row per cluster: label, customers, colour, `centroid_<feature>`) is complete;
    `labels`: each feature's axis label; `log_axes`: the features K-Means compares on
    log(1 + x), drawn on a log scale (linear below 1, where log(1 + x) is too)."""
    for row in segments.itertuples():
        members = points[points["cluster_id"] == row.cluster_id]
        ax.scatter(
            members[x],
            members[y],
            s=22 if len(points) <= 1000 else 6,
            alpha=0.8,
            color=row.colour,
            edgecolor="none",
            label=legend_text(row.segment_label, row.customers),
        )
    ax.scatter(
        segments[f"centroid_{x}"],
        segments[f"centroid_{y}"],
        marker="X",
        s=150,
        color="black",
        edgecolor="white",
        label="centre of a segment",
    )
    for axis, feature in (("x", x), ("y", y)):
        logged = feature in log_axes
        if logged:
            (ax.set_xscale if axis == "x" else ax.set_yscale)("symlog", linthresh=1)
        label = labels[feature] + (" (log scale)" if logged else "")
        (ax.set_xlabel if axis == "x" else ax.set_ylabel)(label, fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    ax.grid(alpha=0.25)


def plot_histogram(ax: Axes, shares: np.ndarray, edges: np.ndarray, colour: str) -> None:
    """One segment's distribution of one feature: a filled step histogram on the feature's
    common bins, its height the share (%) of the segment's customers (one artist, where a bar
    per bin would be a dozen)."""
    ax.stairs(shares, edges, fill=True, color=colour)


def png(fig: Figure) -> bytes:
    # Fixed margins and light PNG compression: tight_layout and zlib's default level were half
    # the time of a 200-customer build, for the same picture and a slightly larger file.
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def elbow_chart(selection: pd.DataFrame, note: str) -> bytes:
    fig = Figure(figsize=(7, 5.6))
    fig.subplots_adjust(left=0.13, right=0.87, top=0.86, bottom=0.22)
    plot_elbow(fig.add_subplot(), selection, note)
    return png(fig)


def segment_map_figure(
    points: pd.DataFrame,
    segments: pd.DataFrame,
    features: list[str],
    customers: int,
    labels: dict[str, str],
    log_axes: tuple[str, ...] = (),
    narrow: bool = False,
) -> Figure:
    """Two features against each other, the legend below; with more, a pair grid: every pair
    of features and the legend in the last cell. `narrow`: for a phone, the pairs one above
    the other and the legend below. Square panels and large text, so the picture reads at the
    width it is shown. `points`: customers (all, or a sample) with their features and
    cluster_id; `segments`: one row per cluster with its label, customers, colour and centroid
    (`centroid_<feature>`); `labels`: each feature's axis label; `log_axes`: as
    `plot_clusters`. One feature: against itself."""
    centres, title = segments, "Customer segments"
    if len(features) > MAX_PAIRED_FEATURES:
        title = f"Customer segments: a 2-D projection\nof the {len(features)} features (principal components)"
        points, centres, labels = projected(points, segments, features, log_axes, labels)
        features, log_axes = list(PROJECTION), ()
    pairs = list(combinations(features, 2)) or [(features[0], features[0])]
    shown = "all customers" if len(points) == customers else f"a sample of {len(points):,} of {customers:,} customers"
    if len(pairs) == 1 or narrow:
        lines = sum(legend_text(row.segment_label, row.customers).count("\n") + 1 for row in segments.itertuples())
        legend_in = 0.3 * (lines + 1) + 0.2
        title_in = 0.35 + 0.22 * (title.count("\n") + 2)  # the title's lines and the scope's
        width, panel = (5.2, 4.6) if narrow else (7, 6)
        fig = Figure(figsize=(width, panel * len(pairs) + legend_in + title_in + 0.1))
        height = fig.get_figheight()
        fig.subplots_adjust(
            left=0.16 if narrow else 0.12,
            right=0.96,
            top=1 - title_in / height,
            bottom=(legend_in + 0.6) / height,
            hspace=0.3 * 4.6 / panel,
        )
        axes = fig.subplots(len(pairs), 1, squeeze=False)[:, 0]
        for ax, (x, y) in zip(axes, pairs):
            plot_clusters(ax, points, centres, x, y, labels, log_axes)
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(
            handles,
            names,
            loc="lower left",
            fontsize=FONT - 1,
            frameon=False,
            markerscale=1.4,
            bbox_to_anchor=(0.02, 0.0),
        )
    else:
        side = int(np.ceil(np.sqrt(len(pairs) + 1)))  # the pairs, and a cell for the legend
        fig = Figure(figsize=(5 * side, 5 * side))
        fig.subplots_adjust(left=0.08, right=0.98, top=0.92, bottom=0.07, wspace=0.28, hspace=0.25)
        grid = fig.subplots(side, side, squeeze=False)
        for ax, (x, y) in zip(grid.flat, pairs):
            plot_clusters(ax, points, centres, x, y, labels, log_axes)
        for ax in grid.flat[len(pairs) :]:
            ax.axis("off")
        key = grid.flat[len(pairs)]
        handles, names = grid[0, 0].get_legend_handles_labels()
        key.legend(
            handles,
            names,
            loc="center",
            fontsize=FONT - 1,
            frameon=False,
            markerscale=1.4,
            title="segment (customers)",
            title_fontsize=FONT,
        )
    fig.suptitle(f"{title}\n{shown}; legend counts are whole segments", fontsize=FONT)
    return fig


def projected(
    points: pd.DataFrame,
    segments: pd.DataFrame,
    features: list[str],
    log_axes: tuple[str, ...],
    labels: dict[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Customers and centres on the first two principal components of the features as K-Means
    compares them (log(1 + x) where it does, standardised on these customers), each axis
    labelled by the features it weighs most; the sign of an axis makes its largest weight
    positive, so the picture does not flip between runs."""

    def compared(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
        values = frame[columns].to_numpy(float)
        return np.column_stack(
            [np.log1p(values[:, i]) if f in log_axes else values[:, i] for i, f in enumerate(features)]
        )

    values = compared(points, features)
    mean, std = values.mean(axis=0), values.std(axis=0)
    std[std == 0] = 1
    scaled = (values - mean) / std
    _, _, components = np.linalg.svd(scaled - scaled.mean(axis=0), full_matrices=False)
    axes = components[:2]
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    centres = (compared(segments, [f"centroid_{f}" for f in features]) - mean) / std
    shown = pd.DataFrame(scaled @ axes.T, columns=list(PROJECTION)).assign(cluster_id=points["cluster_id"].to_numpy())
    at = segments.assign(**{f"centroid_{name}": (centres @ axes.T)[:, i] for i, name in enumerate(PROJECTION)})
    named = {}
    for name, weights in zip(PROJECTION, axes):
        heaviest = np.argsort(-np.abs(weights), kind="stable")[:2]
        named[name] = f"{name}: " + ", ".join(
            f"{'+' if weights[i] > 0 else '−'}{labels[features[i]]}" for i in heaviest
        )
    return shown, at, named


def segment_map(
    points: pd.DataFrame,
    segments: pd.DataFrame,
    features: list[str],
    customers: int,
    labels: dict[str, str],
    log_axes: tuple[str, ...] = (),
    narrow: bool = False,
) -> bytes:
    return png(segment_map_figure(points, segments, features, customers, labels, log_axes, narrow))


def profile_chart(
    bins: pd.DataFrame, bin_count: int, segments: pd.DataFrame, features: list[str], labels: dict[str, str]
) -> bytes:
    """Each segment's distribution of each feature (and of age beside them): a row of
    histograms per segment, in its colour, on bins shared by all segments, the height the share
    of the segment's customers in each bin (one axis for all, so segments compare). `bins`:
    cluster_id, feature, bin (0 to `bin_count` - 1), low, bin_width, customers; empty bins
    may be left out; `labels`: each column's axis label."""
    rows = len(segments)
    shown = list(dict.fromkeys(bins["feature"]))  # in the order the columns were counted
    fig = Figure(figsize=(max(6.4, 2.2 * len(shown)), 1.1 + 1.75 * rows))
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.14, right=0.97, top=1 - 0.55 / height, bottom=0.75 / height, wspace=0.1, hspace=0.8)
    axes = fig.subplots(rows, len(shown), sharey=True, squeeze=False)
    for column, feature in enumerate(shown):
        of_feature = bins[bins["feature"] == feature]
        edges = of_feature["low"].iloc[0] + of_feature["bin_width"].iloc[0] * np.arange(bin_count + 1)
        for i, row in enumerate(segments.itertuples()):
            ax = axes[i, column]
            selected = of_feature[of_feature["cluster_id"] == row.cluster_id]
            counts = np.zeros(bin_count)
            counts[selected["bin"].to_numpy()] = selected["customers"].to_numpy()
            plot_histogram(ax, 100 * counts / max(row.customers, 1), edges, row.colour)
            ax.tick_params(labelsize=FONT - 1)
            ax.xaxis.set_major_locator(MaxNLocator(3))
            ax.yaxis.set_major_locator(MaxNLocator(3))
            ax.grid(axis="y", alpha=0.3)
            if column == 0:
                ax.set_ylabel("% of segment", fontsize=FONT - 1)
                ax.set_title(
                    f"{row.segment_label} ({row.customers:,} customers)", loc="left", fontsize=FONT, y=1.0
                )  # fixed: see plot_elbow
            if i == rows - 1:
                used = "" if feature in features else "\n(not a feature)"
                ax.set_xlabel(labels[feature].replace(" (", "\n(") + used, fontsize=FONT - 1)
    return png(fig)


def warm_up() -> None:
    """Draw a throwaway chart, so fonts, caches and lazily imported modules are loaded before
    the first real chart is asked for."""
    fig = Figure(figsize=(2, 2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], "o-", label="line")
    ax.scatter([0.5], [0.5], marker="X", label="point")
    ax.stairs([1.0], [0, 1], fill=True, color="#0072B2")
    ax.twinx().set_ylabel("right")
    ax.legend(fontsize="small")
    ax.set_title("title", fontsize="medium", y=1.0)
    png(fig)
