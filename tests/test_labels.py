"""Segment labels: read in SQL from each segment's averages, unique within a run for every K
from 2 to 10 with either feature set, each with a playbook; the scoring macros return them and
refuse values outside the accepted ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

from conftest import query
from segmentation.config import SAMPLE_INPUT, SQL_DIR
from segmentation.db import create_model_features
from segmentation.features import CLASSIC, CLASSIC_BY_COLUMN, classic
from segmentation.rendering import render
from segmentation.sample_data import HEADER, generate_customers

TWO = ("annual_income_k", "spending_score")
THREE = (*TWO, "age")
REFERENCE = {  # the reference run on the real file: label -> customers
    "Standard Customers": 81,
    "Target Customers": 39,
    "High-Income, Low-Spending": 35,
    "Low-Income, Low-Spending": 23,
    "Low-Income, High-Spending": 22,
}
HEADERS = {
    "CustomerID": "customer_id",
    "Gender": "gender",
    "Genre": "gender",
    "Age": "age",
    "Annual Income (k$)": "annual_income_k",
    "Spending Score (1-100)": "spending_score",
}


def customers(path) -> pd.DataFrame:
    return pd.read_csv(path).rename(columns=HEADERS).sort_values("customer_id", ignore_index=True)


def summarise(con, frame: pd.DataFrame, features: tuple[str, ...], k: int) -> pd.DataFrame:
    """segment_summary, run by itself on a K-Means partition like the build's."""
    scaled = StandardScaler().fit_transform(frame[list(features)].to_numpy(float))
    model = KMeans(n_clusters=k, n_init=10, random_state=42).fit(scaled)
    clustered = frame.assign(  # noqa: F841 (read by the query below)
        cluster_id=model.labels_.astype("int32"), distance_to_centroid=0.0
    )
    con.execute("create or replace table int_clustered_customers as select * from clustered")
    con.execute(
        "create or replace table feature_scaling as select unnest($features) as feature", {"features": list(features)}
    )
    con.execute("create or replace table this_run as select 1 as run_id, 0.02 as min_segment_share")
    for seed in ("segment_playbook", "segment_band_playbook", "place_words"):
        con.execute(
            f"create or replace table {seed} as select * from read_csv($path, all_varchar = true)",
            {"path": str(SQL_DIR / "seeds" / f"{seed}.csv")},
        )
    declared = tuple(classic(CLASSIC_BY_COLUMN[column], position) for position, column in enumerate(features, 1))
    create_model_features(con, declared)
    for folder, model, kind in (
        ("profiles", "int_customer_feature_values", "view"),
        ("profiles", "int_segment_feature_profiles", "table"),
        ("profiles", "int_segment_profiles", "table"),
        ("labels", "int_segment_classic_labels", "table"),
    ):
        sql = render((SQL_DIR / folder / f"{model}.sql").read_text(), declared)
        con.execute(f"create or replace {kind} {model} as {sql}")
    return con.sql(render((SQL_DIR / "marts" / "segment_summary.sql").read_text(), declared)).df()


@pytest.mark.parametrize("features", [TWO, THREE], ids=["income,spending", "income,spending,age"])
@pytest.mark.parametrize("source", ["sample", "generated"])
def test_labels_are_unique_for_every_k(con, features, source):
    if source == "sample":
        frame = customers(SAMPLE_INPUT)
    else:  # 400 other customers, drawn with another seed
        frame = (
            generate_customers(400, seed=3)[list(HEADER)]
            .rename(columns=HEADERS)
            .sort_values("customer_id", ignore_index=True)
        )
    for k in range(2, 11):
        summary = summarise(con, frame, features, k)
        labels = summary["segment_label"].tolist()
        assert len(summary) == k and len(set(labels)) == k, (k, labels)
        for label in labels:
            assert not any(ch.isdigit() for ch in label.replace("2nd", "").replace("3rd", "")), label
        # every label has its playbook: persona, description and actions
        assert summary[["persona", "description", "marketing_actions"]].notna().all().all(), k
        assert (summary["marketing_actions"].str.len() > 20).all()


def test_the_reference_labels_stay_as_they_are(con, real_csv):
    summary = summarise(con, customers(real_csv), TWO, 5)
    assert dict(zip(summary["segment_label"], summary["customers"])) == REFERENCE
    playbook = pd.read_csv(SQL_DIR / "seeds" / "segment_playbook.csv").set_index("segment_label")
    for row in summary.itertuples():  # the seed's own entry, unchanged
        assert row.persona == playbook.loc[row.segment_label, "persona"]
        assert row.marketing_actions == playbook.loc[row.segment_label, "marketing_actions"]


def test_age_tells_apart_segments_of_the_same_spending_and_income(con):
    summary = summarise(con, customers(SAMPLE_INPUT), THREE, 6).set_index("segment_label")
    older, younger = summary.loc["Standard Customers (Older)"], summary.loc["Standard Customers (Younger)"]
    assert older["avg_age"] > 50 > 32 > younger["avg_age"]
    assert older["persona"] == "The core, older"
    # composed from the base label's entry and the age band's advice
    assert older["marketing_actions"].startswith("Keep them coming with seasonal promotions")
    assert "in store" in older["marketing_actions"] and "mobile" in younger["marketing_actions"]
    assert "Average age" in older["description"]


def test_segments_apart_on_one_feature_are_named_by_their_place_on_it(con):
    summary = summarise(con, customers(SAMPLE_INPUT), TWO, 8).set_index("segment_label")
    higher, lower = summary.loc["Standard Customers (Higher Income)"], summary.loc["Standard Customers (Lower Income)"]
    assert higher["avg_annual_income_k"] > lower["avg_annual_income_k"]
    assert (
        summary.loc[["Target Customers (Higher Income)", "Target Customers (Lower Income)"], "base_label"]
        == "Target Customers"
    ).all()


def test_many_segments_of_one_kind_get_ordered_places(con):
    # tight groups along income, all of moderate spending, and two far groups that stretch the
    # population: six or seven Standard Customers, told apart by their place on income
    rng = np.random.default_rng(0)
    centres = [(40 + 4 * i, 50) for i in range(7)] + [(5, 5), (120, 99)]
    rows = [(c, *centre) for c, centre in enumerate(centres) for _ in range(20)]
    frame = pd.DataFrame(rows, columns=["group", "annual_income_k", "spending_score"])
    frame["annual_income_k"] += rng.normal(0, 0.3, len(frame))
    frame = frame.assign(customer_id=range(1, len(frame) + 1), gender="Female", age=40)
    summary = summarise(con, frame, TWO, 9).sort_values("avg_annual_income_k")
    standard = summary[summary["base_label"] == "Standard Customers"]["segment_label"].tolist()
    places = {
        6: ["Lowest", "2nd-Lowest", "3rd-Lowest", "3rd-Highest", "2nd-Highest", "Highest"],
        7: ["Lowest", "2nd-Lowest", "3rd-Lowest", "Middle", "3rd-Highest", "2nd-Highest", "Highest"],
    }
    assert standard == [f"Standard Customers ({place} Income)" for place in places[len(standard)]]


# --- scoring -----------------------------------------------------------------------------------


def test_the_accepted_ranges_are_one_constant():
    ranges = {kind.column: (kind.lowest, kind.highest) for kind in CLASSIC.values()}
    assert ranges == {"annual_income_k": (0, None), "spending_score": (1, 100), "age": (1, 120)}


def test_scoring_refuses_values_outside_the_accepted_ranges(sample_build):
    path = sample_build.warehouse_path
    spending, age = CLASSIC["spending"], CLASSIC["age"]
    (low_spend, high_spend), (low_age, high_age) = (spending.lowest, spending.highest), (age.lowest, age.highest)
    refused = [(20, 500), (20, low_spend - 1), (20, high_spend + 1), (-1, 50), (20, -3)]
    for income, spending in refused:
        assert query(path, f"select segment_of({income}, {spending}), cluster_of({income}, {spending})") == [
            (None, None)
        ], (income, spending)
    for age in (low_age - 1, high_age + 1):
        assert query(path, f"select cluster_of(50, 50, age := {age})") == [(None,)]
    # the edges are accepted, and a large income is never refused
    accepted = query(
        path,
        f"select segment_of(0, {low_spend}), segment_of(50, {high_spend}), "
        f"segment_of(100000, 50), cluster_of(50, 50, age := {high_age})",
    )[0]
    assert None not in accepted


def test_segment_of_returns_each_segments_own_label(sample_build):
    labels = query(
        sample_build.warehouse_path,
        "select segment_label, segment_of(avg_annual_income_k, avg_spending_score) from segment_summary",
    )
    assert all(label == scored for label, scored in labels)
    assert len({label for label, _ in labels}) == len(labels)
