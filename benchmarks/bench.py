"""Wall time and peak memory of whole pipeline runs on synthetic customers of growing size.

    .venv/bin/python benchmarks/bench.py [--sizes 200,1000000,10000000] [--repeat 3]
        [--parquet-from 100000000] [--baseline-up-to 10000000] [--features income,spending,age]

For each size it generates the data once (deterministic, cached in benchmarks/data/; the
classic columns plus an Email column the build carries through), runs
`pipeline.py` as a separate process, each time a first build into a new folder, then once more
over the last warehouse (a rebuild: it carries the history and compares with the previous
run), and prints: median wall time and peak memory of the first builds, the rebuild's, the time
of each step (from the pipeline's own lines), and how well the segments recover the groups
that generated the data (adjusted Rand index). Peak memory counts the worker processes too.
A floor row times DuckDB alone reading the same file into a typed table and writing the
segmented CSV and Parquet (floor.py), and the ratio of the pipeline to it.
`--baseline-up-to N` also runs the notebook's steps as a plain pandas + scikit-learn script
(notebook_baseline.py) up to N rows.
`--orders 10000000` builds from that many generated orders of a tenth as many customers
(`--orders` alone, recency, frequency and spend), beside a floor: DuckDB alone reading the same
orders and summing them per customer (floor.py --orders). `--sizes ""` skips the customer files.
Measures, never asserts: the numbers go in notes, not in the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from math import comb
from pathlib import Path

import duckdb

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "python"))

from segmentation.sample_data import GENERATE  # noqa: E402

DATA = PROJECT / "benchmarks" / "data"
# The libraries a build uses, imported in one process: the floor under a small build's time.
IMPORTS = "import duckdb, pandas, sklearn.cluster, sklearn.metrics, sklearn.preprocessing, matplotlib.figure"
STEP_LINE = re.compile(r"^\s*(?:\d+/\d+\s+)?(\w+)\s+(\w+)\.*\s.*\s(\d+\.\d+) s$")


def run(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak resident MiB and stdout of one child process.

    The peak is the larger of the child's own resident peak (exact, from the kernel) and the
    memory of the child and its descendants (the worker processes) together, sampled every
    0.1 s (each sample walks their page tables: more often would slow what is timed).
    The child's own is its own only while this process stays small: Linux carries a process's
    peak across fork and exec, so data is generated and scored in children too."""
    started, done, tree_peak = time.perf_counter(), threading.Event(), 0.0
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

        def sample() -> None:
            nonlocal tree_peak
            while not done.wait(0.1):
                tree_peak = max(tree_peak, tree_resident_mib(child.pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{text}")
    return wall, max(usage.ru_maxrss / 1024, tree_peak), text


def tree_resident_mib(pid: int) -> float:
    """Memory of a process and its descendants at this moment, from /proc: the proportional
    set size, so pages they share (libraries) are counted once, not once per process."""
    total, pending = 0, [pid]
    while pending:
        process = pending.pop()
        try:
            rollup = Path(f"/proc/{process}/smaps_rollup").read_text()
            for task in Path(f"/proc/{process}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # it ended meanwhile
            continue
        proportional = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
        total += int(proportional.group(1)) if proportional else 0
    return total / 1024


def adjusted_rand_index(pairs: list[tuple[int, int, int]]) -> float:
    """ARI from a contingency table given as (true group, cluster, count) rows."""
    n = sum(c for *_, c in pairs)
    rows, cols = {}, {}
    for group, cluster, count in pairs:
        rows[group] = rows.get(group, 0) + count
        cols[cluster] = cols.get(cluster, 0) + count
    index = sum(comb(c, 2) for *_, c in pairs)
    row_sum, col_sum = sum(comb(c, 2) for c in rows.values()), sum(comb(c, 2) for c in cols.values())
    expected = row_sum * col_sum / comb(n, 2)
    return (index - expected) / ((row_sum + col_sum) / 2 - expected)


def agreement(warehouse: Path, rows: int, seed: int) -> float:
    with duckdb.connect() as con:
        con.execute("attach $path as built (read_only)", {"path": str(warehouse)})
        pairs = con.execute(
            f"with generated as ({GENERATE}) select generated.group, clusters.cluster_id, count(*) "
            "from generated inner join built.customer_clusters as clusters "
            'on generated."CustomerID"::varchar = clusters.customer_id group by all',
            {"rows": rows, "seed": seed},
        ).fetchall()
    return adjusted_rand_index(pairs)


def input_file(rows: int, parquet: bool) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"customers_{rows}_email.{'parquet' if parquet else 'csv'}"
    if not path.exists():
        print(f"generating {path.name} ...", flush=True)
        run(
            [sys.executable, "-m", "segmentation.sample_data", str(path), "--rows", str(rows), "--seed", "7", "--email"]
        )
    return path


# Orders per customer, on average, of the generated orders files (sample_data's habits make
# about 1.1 times the number asked for each customer, as its groups' means are set)
ORDERS_PER_CUSTOMER = 10
ASKED_PER_CUSTOMER = 9.0


def orders_file(orders: int) -> Path:
    """About `orders` generated orders of `orders // ORDERS_PER_CUSTOMER` customers (cached)."""
    DATA.mkdir(parents=True, exist_ok=True)
    customers = orders // ORDERS_PER_CUSTOMER
    path = DATA / f"orders_{customers}_customers.csv"
    if not path.exists():
        print(f"generating {path.name} ...", flush=True)
        run(
            [
                sys.executable,
                "-m",
                "segmentation.sample_data",
                str(path),
                "--orders",
                "--rows",
                str(customers),
                "--seed",
                "7",
                "--orders-per-customer",
                str(ASKED_PER_CUSTOMER),
            ]
        )
    return path


def bench_orders(orders: int, repeat: int) -> None:
    """A build from an orders file alone, first builds and a rebuild, beside the floor."""
    path = orders_file(orders)
    with duckdb.connect() as con:
        rows, customers = con.execute(
            'select count(*), count(distinct "Customer ID") from read_csv($path)', {"path": str(path)}
        ).fetchall()[0]
    label = f"{rows:,} orders of {customers:,} customers"
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(repeat):
            warehouse = Path(tmp) / str(number) / "mall.duckdb"
            command = [
                sys.executable,
                str(PROJECT / "pipeline.py"),
                "--orders",
                str(path),
                "--warehouse",
                str(warehouse),
                "--reports",
                str(warehouse.parent / "reports"),
            ]
            runs.append(run(command))
        rebuild = run(command)
    wall, peak = statistics.median(r[0] for r in runs), max(r[1] for r in runs)
    print(f"{label:>34} {'pipeline':<10} {wall:>8.2f} {peak:>9.0f}", flush=True)
    print(f"{label:>34} {'rebuild':<10} {rebuild[0]:>8.2f} {rebuild[1]:>9.0f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        floor = [
            run([sys.executable, str(PROJECT / "benchmarks" / "floor.py"), "--orders", str(path), tmp])
            for _ in range(repeat)
        ]
    floor_wall = statistics.median(r[0] for r in floor)
    print(
        f"{label:>34} {'floor':<10} {floor_wall:>8.2f} {max(r[1] for r in floor):>9.0f}"
        f"  pipeline/floor {wall / floor_wall:.2f}",
        flush=True,
    )
    print("\nseconds per step (the median run):")
    for _, name, seconds in [m.groups() for m in map(STEP_LINE.match, runs[len(runs) // 2][2].splitlines()) if m]:
        print(f"{name:<26}{float(seconds):>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="200,1000000,10000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parquet-from", type=int, default=100_000_000)
    parser.add_argument("--baseline-up-to", type=int, default=0)
    parser.add_argument("--features", help="the builds' --features (default: the pipeline's)")
    parser.add_argument("--orders", default="", help="numbers of orders to build from, e.g. 10000000 (an orders row)")
    parser.add_argument("--agreement", nargs=2, metavar=("WAREHOUSE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.agreement:
        print(agreement(Path(args.agreement[0]), int(args.agreement[1]), seed=7))
        return
    sizes = [int(float(size)) for size in args.sizes.split(",") if size.strip()]
    for orders in [int(float(size)) for size in args.orders.split(",") if size.strip()]:
        bench_orders(orders, args.repeat)
    if not sizes:
        return

    header = (
        f"{'rows':>12} {'input':>8} {'what':<10} {'wall s':>8} {'peak MiB':>9} {'ARI':>6}"
        f" {'over imports':>13} {'over frozen':>12}"
    )
    print(header)
    print("-" * len(header))
    steps_by_size, imports, frozen = {}, [], []
    for rows in sizes:
        path = input_file(rows, rows >= args.parquet_from)
        runs, over, over_frozen = [], [], []
        with tempfile.TemporaryDirectory() as tmp:
            for repeat in range(args.repeat):  # each a first build, into a folder of its own
                warehouse = Path(tmp) / str(repeat) / "mall.duckdb"
                command = [
                    sys.executable,
                    str(PROJECT / "pipeline.py"),
                    "--input",
                    str(path),
                    "--warehouse",
                    str(warehouse),
                    "--reports",
                    str(warehouse.parent / "reports"),
                    *(["--features", args.features] if args.features else []),
                ]
                # the imports alone beside each build, so a drift in the machine's speed hits both
                imports.append(run([sys.executable, "-c", IMPORTS])[0])
                frozen.append(run([sys.executable, "-c", IMPORTS + "; import gc; gc.freeze()"])[0])
                runs.append(run(command))
                over.append(runs[-1][0] - imports[-1])
                over_frozen.append(runs[-1][0] - frozen[-1])
            rebuild = run(command)  # the same input again over the last warehouse: with history
            ari = float(run([sys.executable, __file__, "--agreement", str(warehouse), str(rows)])[2])
        wall = statistics.median(r[0] for r in runs)
        peak = max(r[1] for r in runs)
        print(
            f"{rows:>12,} {path.suffix[1:]:>8} {'pipeline':<10} {wall:>8.2f} {peak:>9.0f} {ari:>6.3f}"
            f" {statistics.median(over):>13.2f} {statistics.median(over_frozen):>12.2f}",
            flush=True,
        )
        print(f"{rows:>12,} {path.suffix[1:]:>8} {'rebuild':<10} {rebuild[0]:>8.2f} {rebuild[1]:>9.0f}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            floor = [
                run([sys.executable, str(PROJECT / "benchmarks" / "floor.py"), str(path), tmp])
                for _ in range(args.repeat)
            ]
        floor_wall = statistics.median(r[0] for r in floor)
        print(
            f"{rows:>12,} {path.suffix[1:]:>8} {'floor':<10} {floor_wall:>8.2f} {max(r[1] for r in floor):>9.0f}"
            f" {'':>6} {'pipeline/floor':>13} {wall / floor_wall:>12.2f}",
            flush=True,
        )
        steps_by_size[rows] = [m.groups() for m in map(STEP_LINE.match, runs[len(runs) // 2][2].splitlines()) if m]
        if rows <= args.baseline_up_to:
            with tempfile.TemporaryDirectory() as tmp:
                baseline = [
                    run([sys.executable, str(PROJECT / "benchmarks" / "notebook_baseline.py"), str(path), tmp])
                    for _ in range(args.repeat)
                ]
            wall = statistics.median(r[0] for r in baseline)
            peak = max(r[1] for r in baseline)
            print(f"{rows:>12,} {path.suffix[1:]:>8} {'notebook':<10} {wall:>8.2f} {peak:>9.0f} {'':>6}", flush=True)

    print(
        f"\nimporting the libraries alone: {statistics.median(imports):.2f} s; "
        f"{statistics.median(frozen):.2f} s with the collector kept off them at exit, as pipeline.py does "
        f"(medians of {len(imports)}). 'over imports' and 'over frozen': the median of each build's wall "
        "time less that of the imports run just before it: what a build costs beyond importing its "
        "libraries in one process (the build imports them in three, at once)."
    )
    print("\nseconds per step (the median run):")
    names = [name for _, name, _ in next(iter(steps_by_size.values()))]
    print(f"{'step':<22}" + "".join(f"{rows:>14,}" for rows in steps_by_size))
    for i, name in enumerate(names):
        print(f"{name:<22}" + "".join(f"{float(steps[i][2]):>14.2f}" for steps in steps_by_size.values()))


if __name__ == "__main__":
    main()
