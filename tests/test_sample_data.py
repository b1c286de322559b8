"""The bundled sample is exactly what its generator makes, and the generator is deterministic."""

from __future__ import annotations

import duckdb

from segmentation.config import SAMPLE_INPUT
from segmentation.sample_data import GENERATE, generate_customers, write_customers


def test_bundled_sample_is_the_generators_output(tmp_path):
    write_customers(tmp_path / "sample.csv", 200, seed=7)
    assert (tmp_path / "sample.csv").read_bytes() == SAMPLE_INPUT.read_bytes()


def test_generation_is_deterministic_and_seeded():
    assert generate_customers(500, seed=3).equals(generate_customers(500, seed=3))
    assert not generate_customers(500, seed=3).equals(generate_customers(500, seed=4))


def test_thread_count_does_not_change_the_data():
    results = []
    for threads in (1, 2):
        with duckdb.connect(config={"threads": threads}) as con:
            results.append(con.execute(GENERATE, {"rows": 50_000, "seed": 7}).fetchall())
    assert results[0] == results[1]


def test_groups_have_their_shares_and_shapes():
    customers = generate_customers(100_000, seed=7)
    shares = customers["group"].value_counts(normalize=True)
    assert abs(shares["standard"] - 0.405) < 0.01 and abs(shares["low_income_high_spending"] - 0.11) < 0.01
    target = customers[customers["group"] == "target"]
    assert abs(target["Spending Score (1-100)"].mean() - 82) < 1
    assert customers["Age"].between(18, 70).all()
    assert customers["Spending Score (1-100)"].between(1, 100).all()


def test_parquet_output(tmp_path):
    write_customers(tmp_path / "c.parquet", 1000, seed=7)
    with duckdb.connect() as con:
        rows = con.execute(
            'select count(*), count(distinct "CustomerID") from read_parquet($p)', {"p": str(tmp_path / "c.parquet")}
        ).fetchall()
    assert rows == [(1000, 1000)]
