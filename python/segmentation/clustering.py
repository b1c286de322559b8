"""Scaling, choice of K, K-Means and its diagnostics: pure functions on frames and arrays, no
database. The build calls `model_tables` through its runner (`workers`): from the command line,
in a worker process of its own."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_samples,
)
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .config import ClusterParams
from .errors import TooFewCustomers
from .features import TRANSFORMS, Feature

# Up to this many rows a single BLAS/OpenMP thread is faster: more threads only add start-up
# stalls to each of the many small fits of the elbow (measured: 50,000 rows, K=1..10, n_init=10
# took 1.1 s on one thread and 2.7 s on two).
SINGLE_THREAD_ROWS = 50_000


@dataclass(frozen=True)
class Clustering:
    """A fitted model: the tables written back, plus the fitted rows' own labels."""

    centroids: pd.DataFrame  # cluster_id, each feature, each feature scaled
    selection: pd.DataFrame  # k, inertia, silhouette, calinski_harabasz, davies_bouldin, is_chosen
    scaling: pd.DataFrame  # feature, position, mean, std
    labels: pd.DataFrame  # customer_id, cluster_id of the rows the model was fitted on
    silhouettes: pd.DataFrame  # customer_id, cluster_id, silhouette of the scored rows
    stability: pd.DataFrame  # seed, adjusted_rand_index against the model
    k_reason: str  # why this K, in words


def fit_kmeans(scaled: np.ndarray, k: int, seed: int, n_init: int) -> KMeans:
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(scaled)


def silhouette_subset(rows: int, params: ClusterParams) -> np.ndarray:
    """The rows silhouette is scored on: all, or a seeded subset (it is quadratic in rows)."""
    if rows <= params.silhouette_rows:
        return np.arange(rows)
    return np.sort(np.random.default_rng(params.seed).permutation(rows)[: params.silhouette_rows])


def defined(labels: np.ndarray, rows: int) -> bool:
    """Silhouette and the other scores need 2 or more clusters, and fewer clusters than rows."""
    return 2 <= len(np.unique(labels)) < rows


def scores(scaled: np.ndarray, model: KMeans, subset: np.ndarray, distances: np.ndarray) -> dict:
    """One K's evidence: inertia, mean silhouette (on the subset), Calinski-Harabasz and
    Davies-Bouldin; the last three None where undefined (identical customers can leave fewer
    clusters than K)."""
    labels, scored = model.labels_, model.labels_[subset]
    whole = defined(labels, len(scaled))
    return {
        "k": model.n_clusters,
        "inertia": model.inertia_,
        "silhouette": silhouette_samples(distances, scored, metric="precomputed").mean()
        if defined(scored, len(subset))
        else None,
        "calinski_harabasz": calinski_harabasz_score(scaled, labels) if whole else None,
        "davies_bouldin": davies_bouldin_score(scaled, labels) if whole else None,
    }


def as_selection(rows: list[dict]) -> pd.DataFrame:
    columns = ["k", "inertia", "silhouette", "calinski_harabasz", "davies_bouldin"]
    return pd.DataFrame(rows, columns=columns).astype(
        {
            "k": "int32",
            "inertia": "float64",
            "silhouette": "Float64",
            "calinski_harabasz": "Float64",
            "davies_bouldin": "Float64",
        }
    )


def k_selection(
    scaled: np.ndarray, subset: np.ndarray, distances: np.ndarray, params: ClusterParams
) -> tuple[pd.DataFrame, dict[int, KMeans]]:
    """Every K of the range, fitted and scored; `distances` are the silhouette subset's
    pairwise distances, computed once for all K."""
    low, high = params.k_range
    fits = {k: fit_kmeans(scaled, k, params.seed, params.n_init) for k in range(low, min(high, len(scaled)) + 1)}
    return as_selection([scores(scaled, model, subset, distances) for model in fits.values()]), fits


def elbow_k(selection: pd.DataFrame) -> int | None:
    """The elbow of the inertia curve: the K farthest below the straight line from the first K
    to the last, both axes scaled to 0..1 (the 'kneedle' reading of an elbow plot)."""
    if len(selection) < 3:
        return None
    k, inertia = selection["k"].to_numpy(float), selection["inertia"].to_numpy(float)
    span = inertia[0] - inertia[-1]
    if span <= 0:
        return None
    x = (k - k[0]) / (k[-1] - k[0])
    y = (inertia - inertia[-1]) / span
    return int(k[np.argmax(1 - x - y)])


def choose_k(selection: pd.DataFrame, k: int | None) -> int:
    if k is not None:
        return k
    scored = selection.dropna(subset=["silhouette"])
    if scored.empty:
        # a silhouette needs at least 2 clusters and one customer more: 3 distinct customers
        raise TooFewCustomers(
            "--k auto chooses by silhouette, which needs at least 3 distinct customers; give K (--k 2, or --k 1)"
        )
    return int(scored.loc[scored["silhouette"].idxmax(), "k"])


def k_reason(selection: pd.DataFrame, k: int, given: bool, chosen_silhouette: float | None = None) -> str:
    """Why this K, from the evidence in `selection` (the K range; `chosen_silhouette` is the
    given K's when it lies beyond the range)."""
    scored = selection.dropna(subset=["silhouette"])
    silhouette = dict(zip(scored["k"], scored["silhouette"].astype(float)))
    elbow = elbow_k(selection)
    elbow_text = f"the elbow of the inertia curve is at K={elbow}" if elbow else "the inertia curve has no elbow"
    if not silhouette:
        return f"K={k} as given; no K in the range has a silhouette; {elbow_text}."
    best = max(silhouette, key=lambda k: silhouette[k])
    span = f"K={min(silhouette)}..{max(silhouette)}"
    if given:
        if k in silhouette:
            ranking = f"its silhouette is {silhouette[k]:.3f}"
        elif chosen_silhouette is not None:
            ranking = f"its silhouette is {chosen_silhouette:.3f} (beyond the K compared)"
        else:
            ranking = "it has no silhouette"
        return (
            f"K={k} as given (--k {k}); {ranking}, the best of {span} is K={best} "
            f"({silhouette[best]:.3f}); {elbow_text}."
        )
    agreement = "agrees" if elbow == k else "does not agree"
    return f"K={k} has the highest mean silhouette of {span} ({silhouette[k]:.3f}); {elbow_text}, which {agreement}."


def canonical_order(centers: np.ndarray) -> np.ndarray:
    """New cluster number for each K-Means cluster: clusters ordered by centroid, feature by
    feature, so numbering does not depend on K-Means' internal (seed-dependent) order."""
    order = np.lexsort(centers.T[::-1])
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    return renumber


def match_previous(
    centers: np.ndarray,
    feature_columns: tuple[str, ...],
    scaler: StandardScaler,
    previous: pd.DataFrame | None,
    max_distance: float,
    used: frozenset[int] = frozenset(),
    forward: tuple[np.ufunc, ...] = (),
) -> np.ndarray:
    """Cluster numbers for `centers` (scaled, in canonical order): a cluster whose centroid lies
    within `max_distance` of one of the previous run's (matched one to one, nearest overall)
    keeps its number; the others take numbers no earlier run used (`used`, and the previous
    run's), in canonical order, so a number always means one segment."""
    numbers = np.full(len(centers), -1)
    shared = [i for i, column in enumerate(feature_columns) if previous is not None and column in previous]
    if shared and previous is not None:
        forward = forward or (np.positive,) * len(feature_columns)  # the features' transforms
        before = previous[[feature_columns[i] for i in shared]].to_numpy(float)
        before = np.column_stack([forward[i](before[:, n]) for n, i in enumerate(shared)])
        before = (before - scaler.mean_[shared]) / scaler.scale_[shared]
        distance = pairwise_distances(centers[:, shared], before)
        # pairs too far apart cost so much that no close pair is given up to place them
        cost = np.where(distance <= max_distance, distance, distance.size * (max_distance + 1))
        for new, old in zip(*linear_sum_assignment(cost)):
            if distance[new, old] <= max_distance:
                numbers[new] = previous["cluster_id"].iloc[old]
    taken = set(used) | (set(previous["cluster_id"]) if previous is not None else set())
    free = (n for n in range(len(centers) + len(taken)) if n not in taken)
    for i in np.flatnonzero(numbers < 0):
        numbers[i] = next(free)
    return numbers


def stability(scaled: np.ndarray, model: KMeans, params: ClusterParams) -> pd.DataFrame:
    """How far the partition depends on the seed: the adjusted Rand index between the model
    and refits with other seeds (1 is the same partition)."""
    seeds = [(params.seed + i) % 2**32 for i in range(1, params.stability_seeds + 1)]
    agreement = [
        adjusted_rand_score(model.labels_, fit_kmeans(scaled, model.n_clusters, seed, params.n_init).labels_)
        for seed in seeds
    ]
    return pd.DataFrame({"seed": pd.Series(seeds, dtype="int64"), "adjusted_rand_index": agreement})


def cluster_customers(
    features: pd.DataFrame,
    feature_columns: tuple[str, ...],
    params: ClusterParams,
    previous: pd.DataFrame | None = None,
    used: frozenset[int] = frozenset(),
    transforms: tuple[str, ...] = (),
    evidence: bool = True,
) -> Clustering:
    """Transform, scale, choose K, fit K-Means on the given customers (all of them, or a
    sample) and score it. `previous`: the previous run's centroids (cluster_id and features,
    original units), whose numbers matching clusters keep; `used`: every number earlier runs
    gave; `transforms`: each feature's (`features.TRANSFORMS`), none by default. Centroids are
    given back in original units through the inverse transform. Without `evidence` (K given
    only), the model alone: the same model, no K range, scores or refits (their tables empty).

    Rows are sorted by customer_id first, so the input's row order cannot change the result:
    shorter ids first, so whole-number ids (1, 2, ..., 10) keep their numeric order.
    """
    if len(features) < 2:
        raise TooFewCustomers("K-Means needs at least 2 customers", len(features))
    ids = features["customer_id"].astype(str)
    features = features.iloc[np.lexsort((ids.to_numpy(), ids.str.len().to_numpy()))].reset_index(drop=True)
    functions = [TRANSFORMS[name] for name in transforms or ("none",) * len(feature_columns)]
    forward = tuple(getattr(np, f.forward) for f in functions)
    values = features[list(feature_columns)].to_numpy(dtype="float64")
    values = np.column_stack([forward[i](values[:, i]) for i in range(len(functions))])
    threads = 1 if len(values) <= SINGLE_THREAD_ROWS else None
    subset = silhouette_subset(len(values), params)
    # too few distinct customers for K is reported as a flag of the run, not as a warning
    with threadpool_limits(limits=threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scaler = StandardScaler().fit(values)
        scaled = scaler.transform(values)
        if evidence or params.k is None:
            distances = pairwise_distances(scaled[subset])
            selection, fits = k_selection(scaled, subset, distances, params)
        else:
            selection, fits = as_selection([]), {}
        k = choose_k(selection, params.k)
        if not 1 <= k <= len(values):
            raise TooFewCustomers(f"K={k} needs at least {k} customers", len(values))
        # a fit of the range is the fit with these arguments: the model is the same either way
        model = fits[k] if k in fits else fit_kmeans(scaled, k, params.seed, params.n_init)
        if not evidence:
            agreement, beyond = pd.DataFrame({"seed": [], "adjusted_rand_index": []}), None
        else:
            agreement = stability(scaled, model, params)
            # a given K beyond the range is scored too: its evidence joins the table
            beyond = None if k in fits else scores(scaled, model, subset, distances)
    reason = k_reason(selection, k, params.k is not None, beyond["silhouette"] if beyond else None) if evidence else ""
    if beyond:
        selection = pd.concat([selection, as_selection([beyond])], ignore_index=True)

    order = np.argsort(canonical_order(model.cluster_centers_))  # K-Means cluster by canonical place
    numbers = match_previous(
        model.cluster_centers_[order],
        feature_columns,
        scaler,
        previous,
        params.match_distance,
        used,
        forward,
    )
    renumber = np.empty(k, dtype="int32")
    renumber[order] = numbers  # K-Means cluster -> published number
    centers_scaled = model.cluster_centers_[order]
    centers = scaler.inverse_transform(centers_scaled)
    centers = np.column_stack([getattr(np, f.inverse)(centers[:, i]) for i, f in enumerate(functions)])
    centroids = pd.DataFrame({"cluster_id": numbers.astype("int32")})
    for i, column in enumerate(feature_columns):
        centroids[column] = centers[:, i]
    for i, column in enumerate(feature_columns):
        centroids[f"{column}_scaled"] = centers_scaled[:, i]
    centroids = centroids.sort_values("cluster_id", ignore_index=True)
    selection["is_chosen"] = selection["k"] == k
    scaling = pd.DataFrame(
        {
            "feature": list(feature_columns),
            "position": np.arange(1, len(feature_columns) + 1, dtype="int32"),
            "mean": scaler.mean_,
            "std": scaler.scale_,  # population standard deviation, as StandardScaler uses
        }
    )
    labels = renumber[model.labels_]
    if not evidence:
        subset = subset[:0]
    customer_scores = (
        silhouette_samples(distances, labels[subset], metric="precomputed")
        if evidence and defined(labels[subset], len(subset))
        else np.full(len(subset), np.nan)
    )
    return Clustering(
        centroids=centroids,
        selection=selection,
        scaling=scaling,
        labels=pd.DataFrame({"customer_id": features["customer_id"], "cluster_id": labels}),
        silhouettes=pd.DataFrame(
            {
                "customer_id": features["customer_id"].iloc[subset].to_numpy(),
                "cluster_id": labels[subset],
                "silhouette": customer_scores,
            }
        ),
        stability=agreement,
        k_reason=reason,
    )


MODEL_TABLES = ("cluster_centroids", "feature_scaling")


def model_tables(
    sample: pd.DataFrame,
    features: tuple[Feature, ...],
    cluster_params: ClusterParams,
    previous: pd.DataFrame | None,
    used: frozenset[int],
    tables: tuple[str, ...] | None = None,
) -> dict[str, pd.DataFrame]:
    """The Python step's tables (`tables` of them; all by default) from its sample of
    customer_features (customer_id and the features): the model (MODEL_TABLES:
    cluster_centroids, feature_scaling) and the evidence for it (k_selection,
    customer_silhouettes, cluster_stability). With K given, the model alone costs one fit, and
    the same model comes with its evidence; choosing K needs the evidence. `previous` and
    `used` as `cluster_customers`."""
    columns = tuple(f.feature for f in features)
    transforms = tuple(f.transform for f in features)
    evidence = cluster_params.k is None or tables is None or not set(tables) <= set(MODEL_TABLES)
    model = cluster_customers(sample, columns, cluster_params, previous, used, transforms, evidence)
    centroids = model.centroids
    chosen = model.selection["is_chosen"].to_numpy(bool)
    selection = model.selection.assign(choice_reason=[model.k_reason if is_chosen else None for is_chosen in chosen])
    found = {
        "cluster_centroids": centroids.astype({column: "float64" for column in centroids.columns[1:]}),
        "k_selection": selection,
        "feature_scaling": model.scaling,
        "customer_silhouettes": model.silhouettes,
        "cluster_stability": model.stability,
    }
    return found if tables is None else {table: found[table] for table in tables}
