"""`index.html`: the one report to open. A pure function of the run's tables and chart images:
everything is embedded (images as data URIs, styles inline), so the file opens from disk, with
no network and no other file."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape

import pandas as pd

from .config import FEATURE_COLUMNS

INCOME_UNITS = {"k": "k$", "dollars": "dollars, converted to k$"}
SHORT_NAMES = {column: name for name, column in FEATURE_COLUMNS.items()}  # as --features takes them

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222;
       padding: 0 1rem; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
img { max-width: 100%; height: auto; }
.flag { background: #fff4e5; border-left: 4px solid #e69500; padding: 0.6rem 1rem; }
.ok { background: #eef7ee; border-left: 4px solid #3a3; padding: 0.6rem 1rem; }
.segment { border: 1px solid #ddd; border-radius: 6px; padding: 0.4rem 1rem; margin: 0.8rem 0; }
.muted { color: #666; }
"""


@dataclass(frozen=True)
class ReportData:
    run: dict  # this run's pipeline_runs row
    reject_reasons: list[tuple[str, int]]  # the most frequent reasons, with counts
    selection: pd.DataFrame  # k_selection
    stability: pd.DataFrame  # cluster_stability
    segments: pd.DataFrame  # segment_summary, largest first
    movements: pd.DataFrame  # segment_movements (empty after a first run)
    images: dict[str, bytes]  # chart file name -> PNG bytes
    files: list[str]  # the other report files, by name


def cell(value: object, digits: int = 2) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "<td></td>"
    if isinstance(value, float):
        return f"<td>{value:,.{digits}f}</td>"
    if isinstance(value, int):
        return f"<td>{value:,}</td>"
    return f'<td class="text">{escape(str(value))}</td>'


def table(frame: pd.DataFrame, headers: dict[str, str], digits: int = 2) -> str:
    head = "".join(f'<th class="text">{escape(label)}</th>' for label in headers.values())
    rows = "".join(
        "<tr>" + "".join(cell(row[column], digits) for column in headers) + "</tr>"
        for row in frame.astype(object).to_dict("records")
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def image(name: str, data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{escape(alt)}" title="{escape(name)}">'


def facts(data: ReportData) -> str:
    run = data.run
    rows = [
        ("Input", f"{run['input_path']} ({run['input_format']}; income in {INCOME_UNITS[run['income_unit']]})"),
        ("Built", f"{run['finished_at']:%Y-%m-%d %H:%M} UTC (run {run['run_id']})"),
        ("Customers segmented", f"{run['customers']:,} of {run['data_rows']:,} data rows"),
        ("Rows rejected", f"{run['rejected_rows']:,} (kept with their reason in customer_rejects)"),
        ("Values set to null", f"{run['value_issues']:,} in kept customers (listed in customer_data_issues)"),
        ("Features", ", ".join(SHORT_NAMES.get(f, f) for f in run["features"].split(","))),
        ("K", f"{run['k']} ({'chosen automatically' if run['k_mode'] == 'auto' else 'as given'})"),
        ("Seed", f"{run['seed']} (n_init {run['n_init']})"),
        ("Fitted on", f"{run['sample_rows']:,} customers; silhouette on {run['silhouette_rows']:,}"),
    ]
    body = "".join(f'<tr><th class="text">{escape(k)}</th>{cell(v)}</tr>' for k, v in rows)
    reasons = ""
    if data.reject_reasons:
        items = "".join(f"<li>{count:,} &times; {escape(reason)}</li>" for reason, count in data.reject_reasons)
        reasons = f"<p>Most frequent reasons for rejecting a row:</p><ul>{items}</ul>"
    return f"<table>{body}</table>{reasons}"


def flags(run: dict) -> str:
    if not run.get("flags"):
        return '<p class="ok">No flags: every segment is above the minimum size and the segments ' \
               "do not depend on the seed.</p>"
    items = "".join(f"<li>{escape(flag)}</li>" for flag in run["flags"].split("; "))
    return f'<div class="flag"><strong>Flags</strong><ul>{items}</ul></div>'


def profiles(segments: pd.DataFrame) -> str:
    frame = segments.assign(
        share=segments["share_of_customers"] * 100,
        income=[f"{lo:,}–{hi:,}" for lo, hi in zip(segments["min_annual_income_k"], segments["max_annual_income_k"])],
        spending=[f"{lo}–{hi}" for lo, hi in zip(segments["min_spending_score"], segments["max_spending_score"])],
        ages=[f"{lo}–{hi}" for lo, hi in zip(segments["min_age"], segments["max_age"])],
        women=segments["share_female"] * 100,
        age_mix=[f"{a:,} / {b:,} / {c:,}" for a, b, c in zip(
            segments["customers_under_30"], segments["customers_30_to_49"], segments["customers_50_and_over"])],
    )
    return table(frame, {
        "cluster_id": "cluster", "segment_label": "segment", "customers": "customers", "share": "share %",
        "avg_annual_income_k": "avg income k$", "income": "income range", "avg_spending_score": "avg spending",
        "spending": "spending range", "avg_age": "avg age", "ages": "age range",
        "age_mix": "age <30 / 30–49 / 50+", "women": "women %", "avg_distance_to_centroid": "avg distance",
    }, digits=1)


def playbook(segments: pd.DataFrame) -> str:
    cards = []
    for row in segments.itertuples():
        flag = " <strong>(flagged: below the minimum size)</strong>" if row.is_small_segment else ""
        persona = f" — {escape(row.persona)}" if isinstance(row.persona, str) else ""
        description = row.description if isinstance(row.description, str) else "No playbook entry for this label."
        actions = row.marketing_actions if isinstance(row.marketing_actions, str) else ""
        cards.append(
            f'<div class="segment"><h3>{escape(row.segment_label)}{persona}</h3>'
            f'<p class="muted">Cluster {row.cluster_id}: {row.customers:,} customers '
            f"({row.share_of_customers:.1%}){flag}</p>"
            f"<p>{escape(description)}</p><p><strong>Actions:</strong> {escape(actions)}</p></div>"
        )
    return "".join(cards)


def movements(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p>This is the first run kept in this warehouse: there is nothing to compare with yet.</p>"
    stayed = int(frame.loc[frame["previous_cluster_id"] == frame["cluster_id"], "customers"].sum())
    labelled = frame.fillna({"previous_segment_label": "(new)", "segment_label": "(gone)"})
    matrix = labelled.pivot_table(index="previous_segment_label", columns="segment_label", values="customers",
                                  aggfunc="sum", fill_value=0)
    last = ("(new)", "(gone)")  # after the segments
    matrix = matrix.reindex(index=sorted(matrix.index, key=lambda label: (label in last, label)),
                            columns=sorted(matrix.columns, key=lambda label: (label in last, label)))
    head = "".join(f'<th class="text">{escape(c)}</th>' for c in matrix.columns)
    body = "".join(
        f'<tr><th class="text">{escape(index)}</th>' + "".join(cell(int(v)) for v in row) + "</tr>"
        for index, row in zip(matrix.index, matrix.to_numpy())
    )
    total = int(labelled["customers"].sum())
    return (f"<p>Customers by segment in the previous run (rows) and now (columns); {stayed:,} of {total:,} "
            f"stayed in their cluster. Each customer's move is in the <code>segment_changes</code> view.</p>"
            f'<table><tr><th class="text">previous \\ now</th>{head}</tr>{body}</table>')


def render(data: ReportData) -> str:
    run = data.run
    reason = escape(run.get("k_reason") or "")
    stability = table(data.stability, {"seed": "refit seed", "adjusted_rand_index": "agreement (ARI)"}, digits=3)
    sections = [
        f"<h1>Customer segments</h1><p class=\"muted\">{run['k']} segments of {run['customers']:,} customers, "
        f"built {run['finished_at']:%Y-%m-%d %H:%M} UTC.</p>",
        flags(run),
        "<h2>This run</h2>" + facts(data),
        "<h2>Choosing K</h2>" + image("elbow.png", data.images["elbow.png"], "elbow and silhouette by K")
        + f"<p>{reason}</p>"
        + table(data.selection, {"k": "K", "inertia": "inertia", "silhouette": "silhouette",
                                 "calinski_harabasz": "Calinski-Harabasz", "davies_bouldin": "Davies-Bouldin"}, 3)
        + "<p class=\"muted\">Silhouette and Calinski-Harabasz: higher is better; Davies-Bouldin and inertia: "
        "lower is better (inertia always falls with K: look for the elbow).</p>",
        "<h2>Segment map</h2>" + image("clusters.png", data.images["clusters.png"], "customers by segment"),
        "<h2>Segment profiles</h2>" + profiles(data.segments)
        + image("segment_profiles.png", data.images["segment_profiles.png"], "distributions per segment"),
        "<h2>Playbook</h2>" + playbook(data.segments),
        "<h2>Since the previous run</h2>" + movements(data.movements),
        "<h2>Stability</h2><p>K-Means refitted with other seeds on the same customers; an adjusted Rand "
        "index of 1 is the same partition.</p>" + stability,
        "<h2>Files</h2><p>Beside this report: " + ", ".join(f"<code>{escape(f)}</code>" for f in data.files)
        + ". The warehouse holds every table, and the <code>segment_of</code> and <code>cluster_of</code> "
        "macros score new customers in SQL.</p>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Customer segments, run {run['run_id']}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )
