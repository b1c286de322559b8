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
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator  # a bare Figure needs no pyplot and no GUI backend
from matplotlib.transforms import Bbox
from PIL import Image

FONT = 13  # points: large, so the text still reads when a phone scales the picture down
SMALLEST_FONT = FONT - 1  # no text in a chart is smaller (ticks, legends, axis labels of panels)
DPI = 110
PAD = 0.1  # inches of blank left around what a chart draws
COMPRESSION = {"compress_level": 1}  # zlib's fastest: a slightly larger file, far sooner
# Inches: the elbow and profile charts, and the segment map's phone version (`narrow`), are
# about this wide, margins cropped. A phone 400 CSS px wide shows them 376 px wide (less the
# page's margins), so SMALLEST_FONT reads as 12 * 376 / (72 * 5.2) = 12 CSS px: text scales
# with the picture, whatever the DPI. A laptop shows them at their own size.
CHART_WIDTH = 5.2
# Beyond this many features the map is a 2-D projection: their pairs would number 10 or more.
MAX_PAIRED_FEATURES = 4
PROJECTION = ("projection 1", "projection 2")
LEGEND_WIDTH = 60  # characters of a legend line
NARROW_LEGEND_WIDTH = 42
PROFILE_COLUMNS = 3  # features side by side in the profile chart; more go below


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
    ax.tick_params(labelsize=SMALLEST_FONT)
    scored = selection.dropna(subset=["silhouette"])
    right = ax.twinx()
    right.plot(scored["k"], scored["silhouette"].astype(float), "s--", color="tab:orange", label="silhouette")
    right.set_ylabel("mean silhouette (higher is better)", fontsize=FONT)
    right.tick_params(labelsize=SMALLEST_FONT)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    # below the axes: the two curves cross wherever the data puts them
    right.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False, fontsize=SMALLEST_FONT
    )
    # a fixed title position (y): finding one measures every tick label first
    ax.set_title(f"Choosing K: elbow and silhouette\n{note}", fontsize=SMALLEST_FONT, y=1.0)


def wrapped(text: str, inches: float, size: float) -> str:
    """`text` with each of its lines broken to fit `inches` at `size` points (a character is
    about 0.6 em wide)."""
    width = max(12, int(inches * 72 / (0.6 * size)))
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def legend_text(label: str, customers: int, width: int = LEGEND_WIDTH) -> str:
    """A segment in the legend; a label naming many features' bands takes lines of its own."""
    return textwrap.fill(f"{label} ({customers:,})", width)


def plot_clusters(
    ax: Axes,
    points: pd.DataFrame,
    segments: pd.DataFrame,
    x: str,
    y: str,
    labels: dict[str, str],
    log_axes: tuple[str, ...] = (),
    legend_width: int = LEGEND_WIDTH,
) -> None:
    """One feature against another, each segment in its own colour (`segments.colour`, which
    the label keeps from run to run), centroids marked. `points` may be a sample; `segments`
    (one row per cluster: label, customers, colour, `centroid_<feature>`, in the legend's
    order) is complete; `labels`: each feature's axis label; `log_axes`: the features K-Means
    compares on log(1 + x), drawn on a log scale (linear below 1, where log(1 + x) is too);
    `legend_width`: characters of a legend line."""
    for row in segments.itertuples():
        members = points[points["cluster_id"] == row.cluster_id]
        ax.scatter(
            members[x],
            members[y],
            s=22 if len(points) <= 1000 else 6,
            alpha=0.8,
            color=row.colour,
            edgecolor="none",
            label=legend_text(row.segment_label, row.customers, legend_width),
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
    dpi = ax.figure.dpi  # the axes' sides, in inches
    for axis, feature, inches in (("x", x, ax.bbox.width / dpi), ("y", y, ax.bbox.height / dpi)):
        if feature in log_axes:
            (ax.set_xscale if axis == "x" else ax.set_yscale)("symlog", linthresh=1)
        label = axis_label(labels[feature], feature in log_axes, inches)
        (ax.set_xlabel if axis == "x" else ax.set_ylabel)(label, fontsize=FONT)
    ax.tick_params(labelsize=SMALLEST_FONT)
    ax.grid(alpha=0.25)


def axis_label(label: str, logged: bool, inches: float) -> str:
    """A feature's axis label on the segment map, in lines that fit the side of the axes."""
    return wrapped(label + (" (log scale)" if logged else ""), inches, FONT)


def plot_histogram(ax: Axes, shares: np.ndarray, edges: np.ndarray, colour: str) -> None:
    """One segment's distribution of one feature: a filled step histogram on the feature's
    common bins, its height the share (%) of the segment's customers (one artist, where a bar
    per bin would be a dozen)."""
    ax.stairs(shares, edges, fill=True, color=colour)


def png(fig: Figure) -> bytes:
    """The figure cropped to what is drawn on it, so no label is ever cut off at an edge,
    whatever its length. Drawn once and cropped: `savefig(bbox_inches="tight")` lays the
    figure out twice, a third of the charts' time. Only a drawing that reaches past the
    figure's edges needs that (it grows the canvas). Margins laid out by hand and light PNG
    compression: tight_layout and zlib's default level were half the time of a 200-customer
    build, for the same picture and a slightly larger file."""
    buffer = io.BytesIO()
    fig.set_dpi(DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    drawn = fig.get_tightbbox(canvas.get_renderer())
    whole = fig.bbox_inches
    if not (whole.x0 <= drawn.x0 and drawn.x1 <= whole.x1 and whole.y0 <= drawn.y0 and drawn.y1 <= whole.y1):
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=PAD, pil_kwargs=COMPRESSION)
        return buffer.getvalue()
    box = Bbox.intersection(drawn.padded(PAD), whole)
    assert box is not None  # `drawn` lies within `whole`
    pixels = np.asarray(canvas.buffer_rgba())
    height = pixels.shape[0]
    rows = slice(height - int(np.ceil(box.y1 * DPI)), height - int(np.floor(box.y0 * DPI)))
    columns = slice(int(np.floor(box.x0 * DPI)), int(np.ceil(box.x1 * DPI)))
    Image.fromarray(pixels[rows, columns]).save(buffer, format="png", **COMPRESSION)
    return buffer.getvalue()


def elbow_figure(selection: pd.DataFrame, note: str) -> Figure:
    width = CHART_WIDTH
    fig = Figure(figsize=(width, 5.0))
    fig.subplots_adjust(left=0.95 / width, right=1 - 0.95 / width, top=0.86, bottom=0.22)
    plot_elbow(fig.add_subplot(), selection, wrapped(note, width - 0.4, SMALLEST_FONT))
    return fig


def elbow_chart(selection: pd.DataFrame, note: str) -> bytes:
    return png(elbow_figure(selection, note))


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
    heading = f"{title}\n{shown}; legend counts are whole segments"
    legend_width = NARROW_LEGEND_WIDTH if narrow else LEGEND_WIDTH
    if len(pairs) == 1 or narrow:
        width, panel, left = (CHART_WIDTH, 4.6, 0.16) if narrow else (7, 6, 0.12)
        heading = wrapped(heading.replace("; ", ";\n") if narrow else heading, width - 0.3, FONT)
        # inches: the legend's lines (the segments' and the centre's) and the gaps between its
        # entries, and below the axes, their tick labels and the lines of the lowest x label
        lines = 1 + sum(
            legend_text(row.segment_label, row.customers, legend_width).count("\n") + 1 for row in segments.itertuples()
        )
        legend_in = 0.2 * lines + 0.09 * (len(segments) + 1) + 0.25
        x_lines = axis_label(labels[pairs[-1][0]], pairs[-1][0] in log_axes, width * (0.96 - left)).count("\n") + 1
        below_in = 0.4 + 0.22 * x_lines
        title_in = 0.35 + 0.22 * (heading.count("\n") + 1)
        fig = Figure(figsize=(width, panel * len(pairs) + legend_in + below_in + title_in - 0.1))
        height = fig.get_figheight()
        fig.subplots_adjust(
            left=left,
            right=0.96,
            top=1 - title_in / height,
            bottom=(legend_in + below_in) / height,
            hspace=0.3 * 4.6 / panel,
        )
        axes = fig.subplots(len(pairs), 1, squeeze=False)[:, 0]
        for ax, (x, y) in zip(axes, pairs):
            plot_clusters(ax, points, centres, x, y, labels, log_axes, legend_width)
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(
            handles,
            names,
            loc="lower left",
            fontsize=SMALLEST_FONT,
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
            fontsize=SMALLEST_FONT,
            frameon=False,
            markerscale=1.4,
            title="segment (customers)",
            title_fontsize=FONT,
        )
    fig.suptitle(heading, fontsize=FONT)
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


def profile_figure(
    bins: pd.DataFrame,
    bin_count: int,
    segments: pd.DataFrame,
    features: list[str],
    labels: dict[str, str],
) -> Figure:
    """Each segment's distribution of each feature (and of age beside them): a row of
    histograms per segment (in `segments`' order), in its colour, on bins shared by all
    segments, the height the share of the segment's customers in each bin (one axis for all, so
    segments compare). Up to PROFILE_COLUMNS features side by side; more continue in another
    block of rows below. `bins`: cluster_id, feature, bin (0 to `bin_count` - 1), low,
    bin_width, customers; empty bins may be left out; `labels`: each column's axis label."""
    shown = list(dict.fromkeys(bins["feature"]))  # in the order the columns were counted
    blocks = [shown[i : i + PROFILE_COLUMNS] for i in range(0, len(shown), PROFILE_COLUMNS)]
    columns = len(blocks[0])
    width = CHART_WIDTH
    left, right = 0.8, 0.15  # inches
    gap = 0.25  # between two panels, as a share of a panel's width
    column_in = (width - left - right) / columns
    xlabels = {
        feature: wrapped(
            labels[feature].replace(" (", "\n(") + ("" if feature in features else "\n(not a feature)"),
            column_in,
            SMALLEST_FONT,
        )
        for feature in shown
    }
    titles = [
        wrapped(f"{row.segment_label} ({row.customers:,} customers)", width - left, FONT)
        for row in segments.itertuples()
    ]
    # inches: a panel; above one, its title; below one, its tick labels; below a block, the
    # tick labels and the features' names
    panel_in, tick_in = 1.05, 0.3
    above_in = 0.2 + 0.25 * max(title.count("\n") + 1 for title in titles)
    below_in = [tick_in + 0.15 + 0.22 * max(xlabels[f].count("\n") + 1 for f in block) for block in blocks]
    rows = len(segments)
    panels_in = above_in + rows * panel_in + (rows - 1) * (above_in + tick_in)
    fig = Figure(figsize=(width, sum(panels_in + below for below in below_in) + 0.1))
    height = fig.get_figheight()
    top = 1.0
    first: Axes | None = None
    for block, below in zip(blocks, below_in):
        grid = fig.add_gridspec(
            rows,
            columns,
            left=left / width,
            right=1 - right / width,
            top=top - above_in / height,
            bottom=top - panels_in / height,
            wspace=gap,
            hspace=(above_in + tick_in) / panel_in,
        )
        top -= (panels_in + below) / height
        for column, feature in enumerate(block):
            of_feature = bins[bins["feature"] == feature]
            edges = of_feature["low"].iloc[0] + of_feature["bin_width"].iloc[0] * np.arange(bin_count + 1)
            for i, (row, title) in enumerate(zip(segments.itertuples(), titles)):
                ax = fig.add_subplot(grid[i, column], sharey=first)
                first = first or ax
                selected = of_feature[of_feature["cluster_id"] == row.cluster_id]
                counts = np.zeros(bin_count)
                counts[selected["bin"].to_numpy()] = selected["customers"].to_numpy()
                plot_histogram(ax, 100 * counts / max(row.customers, 1), edges, row.colour)
                ax.tick_params(labelsize=SMALLEST_FONT)
                ax.xaxis.set_major_locator(MaxNLocator(2))
                ax.yaxis.set_major_locator(MaxNLocator(3))
                ax.grid(axis="y", alpha=0.3)
                if column == 0:
                    ax.set_ylabel("% of segment", fontsize=SMALLEST_FONT)
                    ax.set_title(title, loc="left", fontsize=FONT, y=1.0)  # fixed: see plot_elbow
                else:
                    ax.tick_params(labelleft=False)
                if i == rows - 1:
                    ax.set_xlabel(xlabels[feature], fontsize=SMALLEST_FONT)
    return fig


def profile_chart(
    bins: pd.DataFrame,
    bin_count: int,
    segments: pd.DataFrame,
    features: list[str],
    labels: dict[str, str],
) -> bytes:
    return png(profile_figure(bins, bin_count, segments, features, labels))


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
