"""Scaling, choice of K and K-Means: pure functions on frames and arrays, no database."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

# Below this many rows a single BLAS/OpenMP thread is faster: more threads only add start-up
# stalls to each of the many tiny fits of the elbow.
SINGLE_THREAD_ROWS = 50_000


@dataclass(frozen=True)
class ClusterParams:
    k: int | None  # None: the K with the best silhouette
    k_range: tuple[int, int]
    seed: int
    n_init: int


def fit_kmeans(scaled: np.ndarray, k: int, params: ClusterParams) -> KMeans:
    return KMeans(n_clusters=k, n_init=params.n_init, random_state=params.seed).fit(scaled)


def k_selection(scaled: np.ndarray, params: ClusterParams) -> tuple[pd.DataFrame, dict[int, KMeans]]:
    """Inertia and silhouette for every K of the range (silhouette needs 2 to rows - 1 distinct
    clusters; identical customers can leave fewer clusters than K)."""
    low, high = params.k_range
    rows, fits = [], {}
    for k in range(low, min(high, len(scaled)) + 1):
        fits[k] = model = fit_kmeans(scaled, k, params)
        distinct = len(np.unique(model.labels_))
        silhouette = silhouette_score(scaled, model.labels_) if 2 <= distinct < len(scaled) else None
        rows.append({"k": k, "inertia": model.inertia_, "silhouette": silhouette})
    table = pd.DataFrame(rows).astype({"k": "int32", "inertia": "float64", "silhouette": "Float64"})
    return table, fits


def choose_k(selection: pd.DataFrame, k: int | None) -> int:
    if k is not None:
        return k
    scored = selection.dropna(subset=["silhouette"])
    if scored.empty:
        raise ValueError("no K in the range has a silhouette to choose by")
    return int(scored.loc[scored["silhouette"].idxmax(), "k"])


def canonical_order(centers: np.ndarray) -> np.ndarray:
    """New cluster number for each K-Means cluster: clusters ordered by centroid, feature by
    feature, so numbering does not depend on K-Means' internal (seed-dependent) order."""
    order = np.lexsort(centers.T[::-1])
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    return renumber


def cluster_customers(
    features: pd.DataFrame, feature_columns: tuple[str, ...], params: ClusterParams
) -> dict[str, pd.DataFrame]:
    """Scale, choose K, cluster. Returns the tables written back to the warehouse.

    Rows are sorted by customer_id first, so the input's row order cannot change the result.
    """
    if len(features) < 2:
        raise ValueError(f"K-Means needs at least 2 customers, the input has {len(features)}")
    features = features.sort_values("customer_id", kind="stable", ignore_index=True)
    values = features[list(feature_columns)].to_numpy(dtype="float64")
    threads = 1 if len(values) < SINGLE_THREAD_ROWS else None
    with threadpool_limits(limits=threads):
        scaler = StandardScaler().fit(values)
        scaled = scaler.transform(values)
        selection, fits = k_selection(scaled, params)
        k = choose_k(selection, params.k)
        if not 1 <= k <= len(values):
            raise ValueError(f"K={k} needs at least {k} customers, the input has {len(values)}")
        model = fits[k] if k in fits else fit_kmeans(scaled, k, params)

    renumber = canonical_order(model.cluster_centers_)
    labels = renumber[model.labels_]
    centers_scaled = np.empty_like(model.cluster_centers_)
    centers_scaled[renumber] = model.cluster_centers_
    centers = scaler.inverse_transform(centers_scaled)

    clusters = pd.DataFrame({"customer_id": features["customer_id"], "cluster_id": labels.astype("int32")})
    centroids = pd.DataFrame({"cluster_id": np.arange(k, dtype="int32")})
    for i, column in enumerate(feature_columns):
        centroids[column] = centers[:, i]
    for i, column in enumerate(feature_columns):
        centroids[f"{column}_scaled"] = centers_scaled[:, i]
    selection["is_chosen"] = selection["k"] == k
    scaling = pd.DataFrame(
        {
            "feature": list(feature_columns),
            "mean": scaler.mean_,
            "std": scaler.scale_,  # population standard deviation, as StandardScaler uses
        }
    )
    return {
        "customer_clusters": clusters,
        "cluster_centroids": centroids,
        "k_selection": selection,
        "feature_scaling": scaling,
    }
