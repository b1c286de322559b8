"""Each segment label keeps one colour, in every chart of every run: a Python model of the DAG
that writes `segment_colours` (one row per label any run of this warehouse coloured).

The palette is colour-blind safe: Okabe and Ito's seven colours (black left for the
centroids) and three of Paul Tol's. The nine labels read from income and spending bands own a
colour each; any other label (e.g. 'Standard Customers (Older)') takes a colour free in its
run the first time it appears, and keeps it while it does not clash with a label owning it.
"""

from __future__ import annotations

import duckdb
import pandas as pd

PALETTE = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#882255",  # wine (Tol)
    "#999933",  # olive (Tol)
    "#F0E442",  # yellow
    "#332288",  # indigo (Tol)
)
FIXED = {
    "Standard Customers": "#0072B2",
    "Target Customers": "#D55E00",
    "High-Income, Low-Spending": "#009E73",
    "Low-Income, Low-Spending": "#E69F00",
    "Low-Income, High-Spending": "#CC79A7",
    "Moderate-Income, High-Spending": "#56B4E9",
    "High-Income, Moderate-Spending": "#882255",
    "Low-Income, Moderate-Spending": "#999933",
    "Moderate-Income, Low-Spending": "#F0E442",
}

INPUTS = ("segment_summary", "previous_segment_colours", "this_run")
OUTPUTS = ("segment_colours",)


def assign(labels: list[str], remembered: dict[str, str], base: dict[str, str] | None = None) -> dict[str, str]:
    """A distinct colour for each of a run's `labels` (most important first): a label's own
    colour (fixed, or `remembered` from earlier runs) unless a label before it took it; then,
    for the others, a colour nobody owns, their base label's colour (`base`: label -> base
    label) when free, or any colour free in this run."""
    base = base or {}
    owned = {**remembered, **FIXED}
    colours: dict[str, str] = {}
    # the labels owning a fixed colour first, then the others in their order
    for label in sorted(labels, key=lambda label: label not in FIXED):
        own = owned.get(label)
        if own is not None and own not in colours.values():
            colours[label] = own
    for label in labels:
        if label in colours:
            continue
        free = [c for c in PALETTE if c not in colours.values()] or list(PALETTE)
        present = {owned.get(other) for other in labels}
        unowned = [c for c in free if c not in owned.values()]
        kin = FIXED.get(base.get(label, ""))
        absent_owner = [c for c in free if c not in present]
        colours[label] = (unowned or ([kin] if kin in free else []) or absent_owner or free)[0]
    return colours


def run(con: duckdb.DuckDBPyConnection, context: object = None) -> dict[str, pd.DataFrame]:
    segments = con.sql(
        "select segment_label, base_label from segment_summary order by customers desc, cluster_id"
    ).fetchall()
    earlier = con.sql("select segment_label, colour, first_run_id from previous_segment_colours").df()
    run_id = con.sql("select run_id from this_run").fetchall()[0][0]
    colours = assign(
        [label for label, _ in segments], dict(zip(earlier["segment_label"], earlier["colour"])), dict(segments)
    )
    first = dict(zip(earlier["segment_label"], earlier["first_run_id"]))
    rows = {label: (colour, first_run) for label, colour, first_run in earlier.itertuples(index=False)}
    for label, colour in colours.items():
        rows[label] = (colour, first.get(label, run_id))
    frame = pd.DataFrame(
        [(label, colour, int(first_run), label in colours) for label, (colour, first_run) in rows.items()],
        columns=["segment_label", "colour", "first_run_id", "is_in_this_run"],
    )
    return {"segment_colours": frame.astype({"segment_label": "object", "colour": "object", "first_run_id": "int64"})}
