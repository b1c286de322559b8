"""Synthetic mall customers: five income/spending groups shaped like the classic study's.

Deterministic for a given size and seed. The bundled sample is its output:

    python -m segmentation.sample_data data/sample_customers.csv [--rows 200] [--seed 7]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

HEADER = ("CustomerID", "Gender", "Age", "Annual Income (k$)", "Spending Score (1-100)")


class Group(NamedTuple):
    share: float
    income: tuple[float, float, int, int]  # mean, sd, min, max (k$)
    spending: tuple[float, float, int, int]  # mean, sd, min, max (1-100)
    age: tuple[float, float]  # mean, sd (clipped to 18..70)


GROUPS = {
    "standard": Group(0.405, (55, 8, 39, 76), (50, 6, 35, 61), (43, 14)),
    "target": Group(0.195, (86, 14, 69, 137), (82, 8, 63, 97), (33, 4)),
    "high_income_low_spending": Group(0.175, (88, 15, 70, 137), (17, 10, 1, 39), (41, 11)),
    "low_income_low_spending": Group(0.115, (26, 7, 15, 39), (21, 11, 3, 40), (45, 12)),
    "low_income_high_spending": Group(0.11, (26, 7, 15, 39), (79, 10, 61, 99), (25, 5)),
}


def group_sizes(rows: int) -> np.ndarray:
    shares = np.array([g.share for g in GROUPS.values()])
    sizes = np.floor(shares * rows).astype(int)
    sizes[np.argsort(-(shares * rows - sizes))[: rows - sizes.sum()]] += 1  # largest remainders
    return sizes


def draw(rng: np.random.Generator, spec: tuple[float, float, int, int], size: int) -> np.ndarray:
    mean, sd, low, high = spec
    return np.clip(np.rint(rng.normal(mean, sd, size)), low, high).astype(np.int64)


def generate_customers(rows: int = 200, seed: int = 7) -> pd.DataFrame:
    """Customers ordered by income as in the classic file, with the group that generated them."""
    rng = np.random.default_rng(seed)
    parts = []
    for (name, group), size in zip(GROUPS.items(), group_sizes(rows)):
        parts.append(
            pd.DataFrame(
                {
                    "group": name,
                    "Gender": np.where(rng.random(size) < 0.56, "Female", "Male"),
                    "Age": draw(rng, (*group.age, 18, 70), size),
                    "Annual Income (k$)": draw(rng, group.income, size),
                    "Spending Score (1-100)": draw(rng, group.spending, size),
                }
            )
        )
    customers = pd.concat(parts, ignore_index=True)
    customers = customers.sort_values("Annual Income (k$)", kind="stable", ignore_index=True)
    customers.insert(0, "CustomerID", np.arange(1, rows + 1))
    return customers


def write_csv(customers: pd.DataFrame, path: Path) -> None:
    customers.to_csv(path, columns=list(HEADER), index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    write_csv(generate_customers(args.rows, args.seed), args.path)


if __name__ == "__main__":
    main()
