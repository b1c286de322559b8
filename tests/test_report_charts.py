"""The report's charts: every text inside the picture (nothing cut off at an edge), no text
smaller than the smallest font, pictures narrow enough to read on a phone, and the segments in
the report's one order (largest first) in legends and rows. On charts drawn from made-up
frames with long labels and many features, and on the PNG files of real builds."""

from __future__ import annotations

import re
from unittest.mock import patch

import duckdb
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.text import Text

from conftest import query, run_build
from segmentation import charts
from segmentation.charts import DPI, SMALLEST_FONT, elbow_figure, profile_figure, segment_map_figure
from segmentation.colours import PALETTE
from segmentation.config import Settings
from segmentation.db import model_features
from segmentation.html_report import png_size
from segmentation.reports import HISTOGRAM_BINS, axis_labels, histograms, segments_with_centroids
from test_features import shop_export, write_frame

PHONE_PX = 376  # CSS px a chart is shown at on a phone 400 px wide: the page's margins are 24
SMALLEST_TEXT_PX = 11
LONG = "Days Since the Last Order in the Online Shop"


def made_up(features: list[str], k: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Customers, segments (long labels, in the report's order) and histogram bins for `features`."""
    rng = np.random.default_rng(1)
    sizes = sorted(rng.integers(5, 60, k), reverse=True)
    cluster_ids = rng.permutation(k)
    points = pd.DataFrame(
        {"cluster_id": np.repeat(cluster_ids, sizes)}
        | {f: rng.gamma(2, 50 * (i + 1), sum(sizes)) for i, f in enumerate(features)}
    )
    segments = pd.DataFrame(
        {
            "cluster_id": cluster_ids,
            "segment_label": [
                " · ".join(f"{band} {f}" for band, f in zip(("High", "Low", "Moderate"), features))
                + f" ({n + 1}th-Lowest {features[0]})"
                for n in range(k)
            ],
            "customers": sizes,
            "colour": [PALETTE[i % len(PALETTE)] for i in range(k)],
        }
        | {f"centroid_{f}": points.groupby("cluster_id")[f].mean().reindex(cluster_ids).to_numpy() for f in features}
    )
    bins = pd.DataFrame(
        [
            (cluster, f, b, 0.0, 40.0, int(n))
            for f in features
            for cluster in cluster_ids
            for b, n in enumerate(rng.integers(0, 9, HISTOGRAM_BINS))
        ],
        columns=["cluster_id", "feature", "bin", "low", "bin_width", "customers"],
    )
    return points, segments, bins


def texts(fig: Figure) -> list[Text]:
    """The texts a drawing of `fig` draws (not, say, the labels of ticks outside the axes)."""
    drawn: list[Text] = []
    draw = Text.draw

    def record(self: Text, renderer: object) -> None:
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        draw(self, renderer)

    with patch.object(Text, "draw", record):
        FigureCanvasAgg(fig).draw()
    return drawn


def drawn(fig: Figure) -> tuple[bytes, list[Text], list[str]]:
    """The picture `charts.png` makes of `fig`, the texts it draws, and those of them not
    wholly inside the picture (the area it keeps, checked against the PNG's size)."""
    data = charts.png(fig)
    fig.set_dpi(DPI)
    shown = texts(fig)  # where a drawing at the PNG's resolution puts them
    renderer = fig.canvas.get_renderer()
    kept = fig.get_tightbbox(renderer).padded(0.1).transformed(fig.dpi_scale_trans)  # pixels
    assert png_size(data) == pytest.approx((kept.width, kept.height), abs=1.5)
    outside = [
        repr(t.get_text())
        for t in shown
        if not (
            kept.x0 <= (box := t.get_window_extent(renderer)).x0
            and box.x1 <= kept.x1
            and kept.y0 <= box.y0
            and box.y1 <= kept.y1
        )
    ]
    return data, shown, outside


def figures(features: list[str], k: int) -> dict[str, Figure]:
    points, segments, bins = made_up(features, k)
    labels = {f: f"{f} (days)" for f in features} | {"age": "age (years)"}
    selection = pd.DataFrame(
        {"k": range(1, 11), "inertia": np.linspace(400, 30, 10), "silhouette": [None, *np.linspace(0.3, 0.5, 9)]}
    ).assign(is_chosen=lambda frame: frame["k"] == k)
    note = "K-Means fitted on a seeded sample of 20,000 of 10,000,000 customers; silhouette on 3,000 of them"
    return {
        "elbow": elbow_figure(selection, note),
        "map": segment_map_figure(points, segments, features, 10_000_000, labels),
        "map for a phone": segment_map_figure(points, segments, features, 10_000_000, labels, narrow=True),
        "profiles": profile_figure(bins, HISTOGRAM_BINS, segments, features[:-1], labels),  # the last beside them
    }


@pytest.mark.parametrize(
    ("features", "k"),
    [(["income", "spending"], 5), (["Total Spent", "Total Orders", LONG], 8), ([f"{LONG} {i}" for i in range(5)], 7)],
)
def test_no_text_is_cut_off_or_small_and_phone_pictures_read(features, k):
    for name, fig in figures(features, k).items():
        data, shown, outside = drawn(fig)
        assert outside == [], name
        assert min(t.get_fontsize() for t in shown) >= SMALLEST_FONT, name
        if name != "map":  # shown as it is on a phone, where the map has its own picture
            width = png_size(data)[0]
            assert SMALLEST_FONT * DPI / 72 * PHONE_PX / width >= SMALLEST_TEXT_PX, (name, width)


def test_legend_and_rows_follow_the_segments_order():
    features = ["Total Spent", "Total Orders", LONG]
    points, segments, bins = made_up(features, 6)
    labels = dict.fromkeys(features, "")
    for narrow in (False, True):
        fig = segment_map_figure(points, segments, features, len(points), labels, narrow=narrow)
        names = fig.legends[0].get_texts() if narrow else fig.axes[-1].get_legend().get_texts()
        shown = [re.sub(r" \([\d,]+\)$", "", t.get_text().replace("\n", " ")) for t in names]
        assert shown == [*segments["segment_label"], "centre of a segment"]
    fig = profile_figure(bins, HISTOGRAM_BINS, segments, features, labels)
    titles = [ax.get_title(loc="left").replace("\n", " ") for ax in fig.axes if ax.get_title(loc="left")]
    assert titles == [f"{row.segment_label} ({row.customers:,} customers)" for row in segments.itertuples()]


# --- real builds ------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sample", "own_features"])
def built(request, tmp_path_factory) -> Settings:
    if request.param == "sample":
        return request.getfixturevalue("sample_build")  # read only
    root = tmp_path_factory.mktemp(request.param)
    own = ("Total Spent:log", "Total Orders", "Days Since Last Order")
    settings = Settings(
        input_path=write_frame(root, shop_export()),
        warehouse_path=root / "w.duckdb",
        reports_dir=root / "r",
        features=own,
        k=4,
    )
    run_build(settings)
    return settings


def test_nothing_drawn_runs_off_a_charts_edge(built):
    """A label cut off at an edge leaves ink on the picture's outermost pixels."""
    for name in ("elbow.png", "clusters.png", "segment_profiles.png"):
        picture = imread(built.reports_dir / name)[:, :, :3]
        edges = np.concatenate(
            [
                picture[:3].reshape(-1, 3),
                picture[-3:].reshape(-1, 3),
                picture[:, :3].reshape(-1, 3),
                picture[:, -3:].reshape(-1, 3),
            ]
        )
        assert (edges > 0.99).all(), name


def test_the_charts_show_the_segments_in_the_reports_order(built):
    order = [
        row[0]
        for row in query(
            built.warehouse_path, "select cluster_id from segment_summary order by customers desc, cluster_id"
        )
    ]
    html = (built.reports_dir / "index.html").read_text(encoding="utf-8")
    table = re.search(r'<section id="segments">.*?</section>', html, re.S).group(0)
    assert [int(c) for c in re.findall(r'<tr data-cluster="(\d+)"', table)] == order
    with duckdb.connect(str(built.warehouse_path), read_only=True) as con:
        declared = model_features(con)
        features = [f.feature for f in declared]
        segments = segments_with_centroids(con, features)
        points = con.sql("select * from int_clustered_customers").df()
        bins = histograms(con, HISTOGRAM_BINS, features)
    assert list(segments["cluster_id"]) == order
    labels = axis_labels(declared)
    fig = segment_map_figure(points, segments, features, len(points), labels)
    names = fig.axes[0].get_legend_handles_labels()[1]
    assert [name.replace("\n", " ").rsplit(" (", 1)[0] for name in names[:-1]] == list(segments["segment_label"])
    titles = [ax.get_title(loc="left") for ax in profile_figure(bins, HISTOGRAM_BINS, segments, features, labels).axes]
    assert [t.replace("\n", " ").rsplit(" (", 1)[0] for t in titles if t] == list(segments["segment_label"])
