"""The bundled sample is exactly what its generator makes."""

from __future__ import annotations

from segmentation.config import SAMPLE_INPUT
from segmentation.sample_data import generate_customers, group_sizes, write_csv


def test_bundled_sample_is_the_generators_output(tmp_path):
    write_csv(generate_customers(200, seed=7), tmp_path / "sample.csv")
    assert (tmp_path / "sample.csv").read_bytes() == SAMPLE_INPUT.read_bytes()


def test_group_sizes_add_up_and_follow_the_shares():
    assert group_sizes(200).tolist() == [81, 39, 35, 23, 22]
    assert group_sizes(1_000_003).sum() == 1_000_003


def test_generation_is_deterministic():
    assert generate_customers(500, seed=3).equals(generate_customers(500, seed=3))
    assert not generate_customers(500, seed=3).equals(generate_customers(500, seed=4))
