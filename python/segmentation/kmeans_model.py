"""The Python step of the DAG: fits the scaler and K-Means on (a sample of) the feature view
and writes back the model as tables; SQL then assigns every customer (customer_clusters)."""

from __future__ import annotations

import duckdb
import pandas as pd

from .clustering import ClusterParams, TooFewCustomers, cluster_customers
from .config import FEATURES, Settings
from .errors import InputError

INPUTS = ("customer_features",)
OUTPUTS = ("cluster_centroids", "k_selection", "feature_scaling")

# A seeded sample that depends on which customers there are, never on their row order; with
# fewer customers than the sample size it is all of them, and the fit is exact.
SAMPLE = """
select customer_id, {features}
from customer_features
order by hash(customer_id, $seed)
limit $rows
"""


def params(settings: Settings) -> ClusterParams:
    return ClusterParams(settings.k, settings.k_range, settings.seed, settings.n_init, settings.silhouette_rows)


def run(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, pd.DataFrame]:
    sample = con.execute(
        SAMPLE.format(features=", ".join(FEATURES)), {"seed": settings.seed, "rows": settings.sample_size}
    ).df()
    try:
        model = cluster_customers(sample, FEATURES, params(settings))
    except TooFewCustomers as e:
        raise InputError(f"{settings.input_path}: {e}") from None
    return {
        "cluster_centroids": model.centroids,
        "k_selection": model.selection,
        "feature_scaling": model.scaling,
    }
