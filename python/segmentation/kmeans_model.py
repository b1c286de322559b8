"""The Python step of the DAG: fits the scaler and K-Means on (a sample of) the feature view
and writes back the model and its diagnostics as tables; SQL then assigns every customer
(clustered_customers)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from .clustering import ClusterParams, TooFewCustomers, cluster_customers
from .config import FEATURE_COLUMNS, Settings
from .errors import InputError

INPUTS = ("customer_features", "previous_centroids")
OUTPUTS = ("cluster_centroids", "k_selection", "feature_scaling", "customer_silhouettes", "cluster_stability")

# A seeded sample that depends on which customers there are, never on their row order; with
# fewer customers than the sample size it is all of them, and the fit is exact.
SAMPLE = """
select customer_id, {features}
from customer_features
order by hash(customer_id, $seed)
limit $rows
"""


def params(settings: Settings) -> ClusterParams:
    return ClusterParams(
        settings.k, settings.k_range, settings.seed, settings.n_init, settings.silhouette_rows,
        settings.stability_seeds, settings.match_distance,
    )


def run(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, pd.DataFrame]:
    sample = con.execute(
        SAMPLE.format(features=", ".join(settings.features)), {"seed": settings.seed, "rows": settings.sample_size}
    ).df()
    previous = con.sql("select * from previous_centroids").df()
    previous = previous.dropna(axis="columns", how="all") if len(previous) else None  # features it did not use
    try:
        model = cluster_customers(sample, settings.features, params(settings), previous)
    except TooFewCustomers as e:
        raise InputError(f"{settings.input_path}: {e}") from None
    # Every candidate feature has its columns, empty when unused, so SQL reads one shape.
    scaled = [f"{column}_scaled" for column in FEATURE_COLUMNS.values()]
    centroids = model.centroids.reindex(columns=["cluster_id", *FEATURE_COLUMNS.values(), *scaled])
    selection = model.selection.assign(choice_reason=np.where(model.selection["is_chosen"], model.k_reason, None))
    return {
        "cluster_centroids": centroids.astype({column: "float64" for column in centroids.columns[1:]}),
        "k_selection": selection,
        "feature_scaling": model.scaling,
        "customer_silhouettes": model.silhouettes,
        "cluster_stability": model.stability,
    }
