"""The Python step of the DAG: reads the feature view, writes back the clustering tables."""

from __future__ import annotations

import duckdb
import pandas as pd

from .clustering import ClusterParams, cluster_customers
from .config import FEATURES, Settings
from .errors import InputError

INPUTS = ("customer_features",)
OUTPUTS = ("customer_clusters", "cluster_centroids", "k_selection", "feature_scaling")


def run(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, pd.DataFrame]:
    columns = ", ".join(("customer_id", *FEATURES))
    features = con.sql(f"select {columns} from customer_features").df()
    params = ClusterParams(settings.k, settings.k_range, settings.seed, settings.n_init)
    try:
        return cluster_customers(features, FEATURES, params)
    except ValueError as e:  # too few customers for K
        raise InputError(f"{settings.input_path}: {e}") from None
