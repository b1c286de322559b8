"""Scaling, choice of K and K-Means: pure functions on frames and arrays, no database."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

# Up to this many rows a single BLAS/OpenMP thread is faster: more threads only add start-up
# stalls to each of the many small fits of the elbow (measured: 50,000 rows, K=1..10, n_init=10
# took 1.1 s on one thread and 2.7 s on two).
SINGLE_THREAD_ROWS = 50_000


class TooFewCustomers(ValueError):
    """K-Means cannot make K clusters of the customers there are."""


@dataclass(frozen=True)
class ClusterParams:
    k: int | None  # None: the K with the best silhouette
    k_range: tuple[int, int]
    seed: int
    n_init: int
    silhouette_rows: int  # silhouette is quadratic in rows: score a seeded subset beyond this


@dataclass(frozen=True)
class Clustering:
    """A fitted model: the tables written back, plus the fitted rows' own labels."""

    centroids: pd.DataFrame  # cluster_id, each feature, each feature scaled
    selection: pd.DataFrame  # k, inertia, silhouette, is_chosen
    scaling: pd.DataFrame  # feature, mean, std
    labels: pd.DataFrame  # customer_id, cluster_id of the rows the model was fitted on


def fit_kmeans(scaled: np.ndarray, k: int, params: ClusterParams) -> KMeans:
    return KMeans(n_clusters=k, n_init=params.n_init, random_state=params.seed).fit(scaled)


def silhouette(scaled: np.ndarray, labels: np.ndarray, params: ClusterParams) -> float | None:
    """Mean silhouette, None where it is undefined (fewer than 2, or as many clusters as rows)."""
    if not 2 <= len(np.unique(labels)) < len(scaled):
        return None
    if len(scaled) <= params.silhouette_rows:
        return float(silhouette_score(scaled, labels))
    return float(silhouette_score(scaled, labels, sample_size=params.silhouette_rows, random_state=params.seed))


def k_selection(scaled: np.ndarray, params: ClusterParams) -> tuple[pd.DataFrame, dict[int, KMeans]]:
    """Inertia and silhouette for every K of the range (identical customers can leave fewer
    clusters than K, and silhouette undefined)."""
    low, high = params.k_range
    rows, fits = [], {}
    for k in range(low, min(high, len(scaled)) + 1):
        fits[k] = model = fit_kmeans(scaled, k, params)
        rows.append({"k": k, "inertia": model.inertia_, "silhouette": silhouette(scaled, model.labels_, params)})
    table = pd.DataFrame(rows).astype({"k": "int32", "inertia": "float64", "silhouette": "Float64"})
    return table, fits


def choose_k(selection: pd.DataFrame, k: int | None) -> int:
    if k is not None:
        return k
    scored = selection.dropna(subset=["silhouette"])
    if scored.empty:
        raise TooFewCustomers("no K in the range has a silhouette to choose by")
    return int(scored.loc[scored["silhouette"].idxmax(), "k"])


def canonical_order(centers: np.ndarray) -> np.ndarray:
    """New cluster number for each K-Means cluster: clusters ordered by centroid, feature by
    feature, so numbering does not depend on K-Means' internal (seed-dependent) order."""
    order = np.lexsort(centers.T[::-1])
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    return renumber


def cluster_customers(features: pd.DataFrame, feature_columns: tuple[str, ...], params: ClusterParams) -> Clustering:
    """Scale, choose K, fit K-Means on the given customers (all of them, or a sample).

    Rows are sorted by customer_id first, so the input's row order cannot change the result.
    """
    if len(features) < 2:
        raise TooFewCustomers(f"K-Means needs at least 2 customers, the input has {len(features)}")
    features = features.sort_values("customer_id", kind="stable", ignore_index=True)
    values = features[list(feature_columns)].to_numpy(dtype="float64")
    threads = 1 if len(values) <= SINGLE_THREAD_ROWS else None
    with threadpool_limits(limits=threads):
        scaler = StandardScaler().fit(values)
        scaled = scaler.transform(values)
        selection, fits = k_selection(scaled, params)
        k = choose_k(selection, params.k)
        if not 1 <= k <= len(values):
            raise TooFewCustomers(f"K={k} needs at least {k} customers, the input has {len(values)}")
        model = fits[k] if k in fits else fit_kmeans(scaled, k, params)

    renumber = canonical_order(model.cluster_centers_)
    centers_scaled = np.empty_like(model.cluster_centers_)
    centers_scaled[renumber] = model.cluster_centers_
    centers = scaler.inverse_transform(centers_scaled)
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
    labels = pd.DataFrame(
        {"customer_id": features["customer_id"], "cluster_id": renumber[model.labels_].astype("int32")}
    )
    return Clustering(centroids, selection, scaling, labels)
