"""`index.html`: the one report to open, from the Jinja2 template shipped with the package
(`templates/report.html.j2`, autoescaped). This module only turns the run's tables into the
values the template shows; the layout lives in the template. Everything is embedded (images
as data URIs, styles inline), so the file opens from disk, with no network and no other file."""

from __future__ import annotations

import base64
import math
import struct
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

import jinja2
import pandas as pd

from .features import CLASSIC_BY_COLUMN, TRANSFORMS, Feature, is_classic_pair

INCOME_UNITS = {"k": "k$", "dollars": "dollars, converted to k$"}
SHORT_NAMES = CLASSIC_BY_COLUMN  # as --features takes them
TEMPLATE = "report.html.j2"
LAST = ("(new)", "(gone)")  # after the segments in the movement matrix


@dataclass(frozen=True)
class ReportData:
    run: dict  # this run's pipeline_runs row
    reject_reasons: list[tuple[str, int]]  # the most frequent reasons, with counts
    selection: pd.DataFrame  # k_selection
    stability: pd.DataFrame  # cluster_stability
    segments: pd.DataFrame  # segment_summary with each segment's colour, in reports.SEGMENT_ORDER (largest first)
    movements: pd.DataFrame  # segment_movements (empty after a first run)
    images: dict[str, bytes]  # chart file name -> PNG bytes
    files: list[str]  # the other report files, by name
    dataset: dict = field(default_factory=dict)  # dataset_match's row
    features: tuple[Feature, ...] = ()  # model_features; none: the classic model
    profiles: pd.DataFrame | None = None  # segment_feature_profiles


def missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def number(value: object) -> str:
    """A count with thousands separators; a whole float as a whole number."""
    if missing(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, (int, float)) else str(value)


def fixed(value: object, digits: int = 2) -> str:
    return "" if missing(value) else f"{float(value):,.{digits}f}"  # type: ignore[arg-type]


def percent(value: object, digits: int = 1) -> str:
    """A share as a percentage; 'unknown' where there is none (no customer's gender known)."""
    return "unknown" if missing(value) else f"{float(value) * 100:,.{digits}f}"  # type: ignore[arg-type]


def when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if isinstance(value, datetime) else ""


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("segmentation", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=number, fixed=fixed, percent=percent, when=when)
    return env


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values, NaN and NA as None."""
    return [{k: (None if missing(v) else v) for k, v in row.items()} for row in frame.astype(object).to_dict("records")]


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def png_size(data: bytes) -> tuple[int, int] | None:
    """A PNG's width and height in pixels, from its header; None if it has none."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def feature_text(feature: Feature) -> str:
    """How the report names a feature: as --features does for a classic one, with its transform."""
    name = SHORT_NAMES.get(feature.feature, feature.label)
    return name if feature.transform == "none" else f"{name} ({TRANSFORMS[feature.transform].meaning} before scaling)"


def facts(run: dict, dataset: dict, features: tuple[Feature, ...]) -> list[tuple[str, str]]:
    income = not features or any(f.kind == "income" for f in features)
    unit = f"; income in {INCOME_UNITS[run['income_unit']]}" if income else ""
    named = ", ".join(map(feature_text, features)) or ", ".join(
        SHORT_NAMES.get(f, f) for f in run["features"].split(",")
    )
    alone = bool(run.get("orders_path")) and run.get("orders_path") == run["input_path"]
    customer_file = [
        ("Customers segmented", f"{run['customers']:,} of {run['data_rows']:,} data rows"),
        ("Rows rejected", f"{run['rejected_rows']:,} (kept with their reason in customer_rejects)"),
        ("Values set to null", f"{run['value_issues']:,} in kept customers (listed in customer_data_issues)"),
    ]
    if alone:
        customer_file = [("Customers segmented", f"{run['customers']:,}: the ids of the orders (customer_rfm)")]
    return [
        ("Input", f"{run['input_path']} ({run['input_format']}{unit})"),
        ("Dataset", f"{dataset.get('dataset') or run.get('dataset') or ''} ({dataset.get('comparison_reason', '')})"),
        ("Built", f"{when(run['finished_at'])} UTC (run {run['run_id']})"),
        *customer_file,
        *order_facts(run, alone),
        ("Features", named),
        (
            "K",
            f"{run['k_fitted']} ({'chosen automatically' if run['k_mode'] == 'auto' else 'as given'})"
            + (f"; {run['k']} of the clusters hold customers" if run["k"] != run["k_fitted"] else ""),
        ),
        ("Seed", f"{run['seed']} (n_init {run['n_init']})"),
        ("Fitted on", f"{run['sample_rows']:,} customers; silhouette on {run['silhouette_rows']:,}"),
    ]


def order_facts(run: dict, alone: bool) -> list[tuple[str, str]]:
    """The orders file's lines of the facts: what became of its rows, the day it is read as of."""
    if not run.get("orders_path"):
        return []
    lines = [
        (
            "Orders",
            ("" if alone else f"{run['orders_path']}: ")
            + f"{run['order_rows']:,} rows; {run['rejected_order_rows']:,} rejected (in order_rejects), "
            f"{run['uncounted_orders']:,} not counted (repeated, cancelled, refunded, failed or after the as-of date)",
        ),
        (
            "As of",
            f"{str(run['as_of_date'])[:10]}: recency and tenure are counted to this day "
            "(--as-of, else the last order's)",
        ),
    ]
    if not alone:
        lines.append(
            (
                "Orders and customers",
                f"{run['unknown_order_customers']:,} ids of the orders are not in the customer file "
                f"(orders_without_customer); {run['customers_without_orders']:,} customers have no counted order",
            )
        )
    return lines


def movement_matrix(frame: pd.DataFrame, labels: list[str]) -> dict | None:
    """The movement matrix as rows of cells, each cell marked when it holds customers who stayed
    in their cluster; None when there is nothing to compare. Rows and columns in the order of
    this run's segments (`labels`), then labels of the previous run alone, then new and gone."""
    if frame.empty:
        return None
    labelled = frame.assign(
        previous_segment_label=frame["previous_segment_label"].fillna("(new)"),
        segment_label=frame["segment_label"].fillna("(gone)"),
        stay=(frame["previous_cluster_id"] == frame["cluster_id"]).fillna(False).astype(bool),
    )
    place = {label: i for i, label in enumerate(labels)}
    order = lambda found: sorted(  # noqa: E731
        set(found), key=lambda label: (label in LAST, place.get(label, len(place)), label)
    )
    rows, columns = order(labelled["previous_segment_label"]), order(labelled["segment_label"])
    cells = labelled.groupby(["previous_segment_label", "segment_label"]).agg(
        count=("customers", "sum"), stay=("stay", "any")
    )
    grid = [
        {
            "label": row,
            "cells": [
                {
                    "count": int(cells.loc[(row, column), "count"]) if (row, column) in cells.index else 0,
                    "stay": bool(cells.loc[(row, column), "stay"]) if (row, column) in cells.index else False,
                }
                for column in columns
            ],
        }
        for row in rows
    ]
    kinds = (
        labelled.assign(
            kind=[
                "new" if pd.isna(p) else "gone" if pd.isna(c) else "stayed" if p == c else "moved"
                for p, c in zip(frame["previous_cluster_id"], frame["cluster_id"])
            ]
        )
        .groupby("kind")["customers"]
        .sum()
    )
    same_name = labelled["previous_segment_label"] == labelled["segment_label"]
    both_runs = labelled["previous_cluster_id"].notna() & labelled["cluster_id"].notna()
    renamed = labelled[labelled["stay"] & ~same_name]
    return {
        "columns": columns,
        "rows": grid,
        "total": int(labelled["customers"].sum()),
        **{kind: int(kinds.get(kind, 0)) for kind in ("stayed", "moved", "new", "gone")},
        # A segment is its cluster (matched by centroid): one whose profile moved may take a new
        # name, and a name may pass to another cluster when the one that had it moved too far.
        "renamed": sorted(set(zip(renamed["previous_segment_label"], renamed["segment_label"], strict=True))),
        "renumbered": sorted(set(labelled.loc[both_runs & ~labelled["stay"] & same_name, "segment_label"])),
    }


def feature_columns(segments: pd.DataFrame, profiles: pd.DataFrame | None) -> list[list[dict]]:
    """Each segment's features, for the profile table of a model other than the classic one:
    per segment (in `segments`' order), per feature, its mean, median and quartiles."""
    if profiles is None:
        return []
    by_segment = {cluster: rows for cluster, rows in profiles.sort_values("position").groupby("cluster_id")}
    return [records(by_segment[cluster]) for cluster in segments["cluster_id"]]


def render(data: ReportData) -> str:
    run, dataset = data.run, data.dataset
    classic = not data.features or is_classic_pair(data.features)
    names = [f.label for f in data.features] or [SHORT_NAMES.get(f, f) for f in run["features"].split(",")]
    context = {
        "run": run,
        "dataset": {
            "dataset": run.get("dataset"),
            "comparison_reason": "",
            "previous_dataset": None,
            "previous_started_at": None,
            **dataset,
        },
        "other_dataset": dataset.get("previous_run_id") is not None and not dataset.get("is_comparable"),
        "flags": run["flags"].split("; ") if run.get("flags") else [],
        "facts": facts(run, dataset, data.features),
        "reject_reasons": data.reject_reasons,
        "selection": records(data.selection),
        "stability": records(data.stability),
        "segments": records(data.segments),
        "movements": movement_matrix(data.movements, list(data.segments["segment_label"])),
        "images": {name: data_uri(png) for name, png in data.images.items()},
        # an image is shown at most at its own size: never enlarged, so its text stays sharp
        "sizes": {name: png_size(png) for name, png in data.images.items()},
        "feature_names": ", ".join(names),
        # the profile chart shows age beside the classic features when the customers have it
        "profile_names": ", ".join(names) if not classic else "income, spending score and age",
        "classic": classic,
        "features": data.features,
        "feature_profiles": feature_columns(data.segments, data.profiles),
        "files": data.files,
    }
    return environment().get_template(TEMPLATE).render(context)
