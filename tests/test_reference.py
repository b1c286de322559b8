"""The classic study's result on the real file (GUIDE section 3), through the whole build.

Only the published reference figures are checked here; every behaviour is tested on the bundled
sample or generated customers elsewhere, so these are the only tests a fresh clone skips."""

from __future__ import annotations

import pytest

from conftest import query, run_build

REFERENCE = {  # label: customers, mean income k$, mean spending, mean age
    "Standard Customers": (81, 55.30, 49.52, 42.7),
    "Target Customers": (39, 86.54, 82.13, 32.7),
    "High-Income, Low-Spending": (35, 88.20, 17.11, 41.1),
    "Low-Income, Low-Spending": (23, 26.30, 20.91, 45.2),
    "Low-Income, High-Spending": (22, 25.73, 79.36, 25.3),
}


@pytest.fixture(scope="module")
def real_build(tmp_path_factory, request):
    real_csv = request.getfixturevalue("real_csv")
    root = tmp_path_factory.mktemp("real")
    from segmentation.config import Settings

    settings = Settings(input_path=real_csv, warehouse_path=root / "mall.duckdb", reports_dir=root / "reports")
    run_build(settings)
    return settings


def test_segments_match_the_reference(real_build):
    rows = query(
        real_build.warehouse_path,
        "select segment_label, customers, avg_annual_income_k, avg_spending_score, avg_age from segment_summary",
    )
    got = {label: values for label, *values in rows}
    assert got.keys() == REFERENCE.keys()
    for label, (customers, income, spending, age) in REFERENCE.items():
        assert got[label][0] == customers
        assert got[label][1:] == pytest.approx((income, spending, age), abs=0.1)


def test_centroids_match_the_reference(real_build):
    rows = query(
        real_build.warehouse_path,
        "select segment_label, annual_income_k, spending_score "
        "from cluster_centroids inner join segment_summary using (cluster_id)",
    )
    for label, income, spending in rows:
        assert (income, spending) == pytest.approx(REFERENCE[label][1:3], abs=0.1)


def test_elbow_and_silhouette_match_the_reference(real_build):
    rows = query(real_build.warehouse_path, "select inertia, silhouette from k_selection order by k")
    inertia = [400.00, 269.69, 157.70, 108.92, 65.57, 55.06, 44.86, 37.23, 32.39, 29.98]
    silhouette = [0.3213, 0.4666, 0.4939, 0.5547, 0.5399, 0.5281, 0.4552, 0.4571, 0.4432]
    assert [r[0] for r in rows] == pytest.approx(inertia, abs=0.01)
    assert rows[0][1] is None
    assert [r[1] for r in rows[1:]] == pytest.approx(silhouette, abs=0.01)


def test_auto_k_picks_five(real_build, tmp_path):
    result = run_build(real_build, k=None, warehouse_path=tmp_path / "auto.duckdb", reports_dir=tmp_path / "r")
    assert result.k == 5
