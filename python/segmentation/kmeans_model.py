"""The Python step of the DAG: fits the scaler and K-Means on (a sample of) the feature view
and writes back the model and its diagnostics as tables; SQL then assigns every customer
(int_clustered_customers). The fitting itself (`clustering.model_tables`) goes through the build's
runner (`workers`): this module reads and writes the database only, and never imports
scikit-learn."""

from __future__ import annotations

import duckdb
import pandas as pd

from .config import Settings
from .db import customer_sample, first_row, model_features, quote_ident
from .errors import InputError, TooFewCustomers
from .features import Feature
from .workers import CLUSTERING, Runner

INPUTS = (
    "customer_features",
    "model_features",
    "dataset_match",
    "previous_centroids",
    "previous_runs",
    "previous_segment_history",
)
OUTPUTS = ("cluster_centroids", "k_selection", "feature_scaling", "customer_silhouettes", "cluster_stability")


def previous_model(
    con: duckdb.DuckDBPyConnection, features: tuple[Feature, ...]
) -> tuple[pd.DataFrame | None, frozenset[int]]:
    """The previous run's centroids, when it clustered on the same features (numbers are
    matched only between like models), and every cluster number an earlier run of this
    dataset used. A build not comparable with the previous one (dataset_match) numbers its
    clusters afresh: numbers never carry across datasets."""
    if not con.execute("select is_comparable from dataset_match").fetchall()[0][0]:
        return None, frozenset()
    used = frozenset(
        row[0]
        for row in con.execute(
            "select distinct cluster_id from previous_segment_history where run_id in "
            "(select run_id from previous_runs where dataset = (select dataset from dataset_match))"
        ).fetchall()
    )
    same_features = con.execute(
        "select features = $features from previous_runs order by run_id desc limit 1",
        {"features": ",".join(f.spec for f in features)},
    ).fetchall()
    if not same_features or not same_features[0][0]:
        return None, used
    previous = con.sql("select * from previous_centroids order by cluster_id").df()
    return previous.dropna(axis="columns", how="all"), used  # without the features it did not use


def check_varies(
    con: duckdb.DuckDBPyConnection, settings: Settings, features: tuple[Feature, ...], sample: pd.DataFrame
) -> None:
    """A feature every customer has the same value of separates nothing: refuse it by name. Only
    a feature the sample holds one value of is looked up in every customer."""
    for feature in features:
        if len(sample) < 2 or sample[feature.feature].nunique() > 1:
            continue
        low, high = first_row(con, f"select min({feature.ident}), max({feature.ident}) from customer_features")
        if low == high:
            raise InputError(
                f"{settings.source_path}: --features {feature.source_column}: every customer has the same value "
                f"({low:g}): a feature that does not vary cannot separate segments"
            )


def run(con: duckdb.DuckDBPyConnection, settings: Settings, runner: Runner) -> dict[str, pd.DataFrame]:
    features = model_features(con)
    # with fewer customers than the sample size it is all of them, and the fit is exact
    columns = ", ".join(["customer_id", *(quote_ident(f.feature) for f in features)])
    sample = customer_sample(con, "customer_features", columns, settings.sample_size, settings.seed)
    check_varies(con, settings, features, sample)
    try:
        return runner.call(CLUSTERING, "model_tables", sample, features, settings, *previous_model(con, features))()
    except TooFewCustomers as e:
        customers = first_row(con, "select count(*) from customer_features")[0]
        if e.had is not None and len(sample) < customers:  # the sample, not the input, is too small
            raise InputError(
                f"{settings.source_path}: {e.need}, the sample has {e.had} of the {customers:,} customers "
                f"(--sample-size {settings.sample_size}); raise --sample-size"
            ) from None
        raise InputError(f"{settings.source_path}: {e}") from None
