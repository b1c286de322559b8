"""The pure clustering functions, without a database."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segmentation.clustering import canonical_order, choose_k, cluster_customers
from segmentation.config import Settings
from segmentation.errors import TooFewCustomers
from segmentation.sample_data import generate_customers

FEATURES = ("annual_income_k", "spending_score")

PARAMS = Settings().cluster_params  # K=5, K range 1..10, seed 42, n_init=10, as the pipeline runs


def features_of(customers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": customers["CustomerID"],
            "annual_income_k": customers["Annual Income (k$)"],
            "spending_score": customers["Spending Score (1-100)"],
        }
    )


@pytest.fixture(scope="module")
def sample():
    customers = generate_customers(200, seed=7)
    return customers, cluster_customers(features_of(customers), FEATURES, PARAMS)


def test_reference_elbow_and_silhouette(real_csv):
    tables = cluster_customers(features_of(pd.read_csv(real_csv)), FEATURES, PARAMS)
    selection = tables.selection
    inertia = [400.00, 269.69, 157.70, 108.92, 65.57, 55.06, 44.86, 37.23, 32.39, 29.98]
    silhouette = [0.3213, 0.4666, 0.4939, 0.5547, 0.5399, 0.5281, 0.4552, 0.4571, 0.4432]
    assert selection["k"].tolist() == list(range(1, 11))
    assert selection["inertia"].to_numpy() == pytest.approx(inertia, abs=0.01)
    assert pd.isna(selection["silhouette"].iloc[0])
    assert selection["silhouette"].iloc[1:].astype(float).to_numpy() == pytest.approx(silhouette, abs=0.01)
    assert sorted(tables.labels["cluster_id"].value_counts()) == [22, 23, 35, 39, 81]


def test_recovers_the_generating_groups(sample):
    customers, tables = sample
    clusters = tables.labels.merge(customers, left_on="customer_id", right_on="CustomerID")
    assert adjusted_rand_score(clusters["group"], clusters["cluster_id"]) > 0.95


def test_row_order_does_not_matter(sample):
    customers, tables = sample
    shuffled = features_of(customers).sample(frac=1, random_state=3)
    again = cluster_customers(shuffled, FEATURES, PARAMS)
    expected = tables.labels.sort_values("customer_id", ignore_index=True)
    got = again.labels.sort_values("customer_id", ignore_index=True)
    pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_frame_equal(again.centroids, tables.centroids)


def test_same_seed_same_tables(sample):
    customers, tables = sample
    again = cluster_customers(features_of(customers), FEATURES, PARAMS)
    for name in ("centroids", "selection", "scaling", "labels"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(tables, name))


def test_cluster_numbers_follow_centroids_whatever_the_seed(sample):
    customers, _ = sample
    for seed in (0, 1, 42):
        centroids = cluster_customers(features_of(customers), FEATURES, replace(PARAMS, seed=seed)).centroids
        keys = list(zip(centroids["annual_income_k"], centroids["spending_score"]))
        assert keys == sorted(keys)
        assert centroids["cluster_id"].tolist() == list(range(5))


def test_centroids_in_original_units_are_the_cluster_means(sample):
    customers, tables = sample
    clusters = tables.labels.merge(features_of(customers), on="customer_id")
    means = clusters.groupby("cluster_id")[list(FEATURES)].mean()
    centroids = tables.centroids.set_index("cluster_id")[list(FEATURES)]
    np.testing.assert_allclose(centroids.to_numpy(), means.to_numpy(), atol=1e-9)


def test_scaler_is_population_standard_deviation(sample):
    customers, tables = sample
    scaling = tables.scaling.set_index("feature")
    income = customers["Annual Income (k$)"]
    assert scaling.loc["annual_income_k", "mean"] == pytest.approx(income.mean())
    assert scaling.loc["annual_income_k", "std"] == pytest.approx(income.std(ddof=0))


def test_canonical_order_sorts_by_first_feature_then_second():
    centers = np.array([[2.0, 0.0], [1.0, 5.0], [1.0, -1.0]])
    assert canonical_order(centers).tolist() == [2, 1, 0]


def test_auto_k_takes_the_best_silhouette():
    selection = pd.DataFrame({"k": [1, 2, 3], "silhouette": pd.array([None, 0.4, 0.6], dtype="Float64")})
    assert choose_k(selection, None) == 3
    assert choose_k(selection, 2) == 2


def test_k_beyond_the_elbow_range_is_fitted_too(sample):
    customers, _ = sample
    tables = cluster_customers(features_of(customers), FEATURES, replace(PARAMS, k=12))
    assert len(tables.centroids) == 12
    # its evidence joins the table, marked chosen, and the reason says where it stands
    assert tables.selection["k"].tolist() == [*range(1, 11), 12]
    assert tables.selection["is_chosen"].tolist() == [False] * 10 + [True]
    assert tables.k_reason.startswith("K=12 as given (--k 12); its silhouette is ")
    assert "(beyond the K compared), the best of K=2..10 is K=5" in tables.k_reason


def test_too_few_customers_for_k():
    few = pd.DataFrame({"customer_id": [1, 2, 3], "annual_income_k": [10, 20, 30], "spending_score": [1, 2, 3]})
    with pytest.raises(TooFewCustomers, match="K=5 needs at least 5 customers, the input has 3"):
        cluster_customers(few, FEATURES, PARAMS)


def test_k_auto_on_two_customers_says_what_it_needs_and_what_to_give():
    two = pd.DataFrame({"customer_id": [1, 2], "annual_income_k": [10, 20], "spending_score": [1, 2]})
    with pytest.raises(TooFewCustomers, match=r"--k auto chooses by silhouette, which needs at least 3 distinct"):
        cluster_customers(two, FEATURES, replace(PARAMS, k=None))


def test_identical_customers_leave_silhouette_undefined_instead_of_failing():
    same = pd.DataFrame({"customer_id": [1, 2, 3], "annual_income_k": [10] * 3, "spending_score": [5] * 3})
    # scikit-learn's warning is not passed on: the build flags the empty cluster instead
    tables = cluster_customers(same, FEATURES, replace(PARAMS, k=2, k_range=(1, 3)))
    assert tables.selection["silhouette"].isna().all()
    assert tables.labels["cluster_id"].nunique() == 1
