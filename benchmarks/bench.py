"""Wall time and peak memory of whole pipeline runs on synthetic customers of growing size,
beside the floor: what DuckDB itself needs to write the same artefacts.

    .venv/bin/python benchmarks/bench.py [--sizes 200,1000000,10000000] [--classic-sizes 10000000]
        [--repeat 3] [--compare REV] [--parquet-from 100000000] [--baseline-up-to 10000000]
        [--features income,spending,age] [--orders 10000000]

For each input (generated once, deterministic, cached in benchmarks/data/: `--sizes` the classic
columns plus an Email column the build carries through, `--classic-sizes` the classic five
columns alone; Parquet from `--parquet-from` rows) it runs `pipeline.py` as a separate process,
each time a first build into a new folder, interleaved with the floor (floor.py) and, with
`--compare REV`, with that commit's pipeline (from a temporary worktree) in the same run; then
each version once more over its last warehouse (a rebuild: it carries the history and compares
with the previous run). It prints per version: the median wall time and peak memory of the first
builds (worker processes counted), the ratio to the floor, the rebuild and its ratio to the first
build, the seconds to the command's first line of output, the seconds beyond importing the
libraries, and how well the segments recover the groups that generated the data (adjusted Rand
index); then the time of each step (from the pipeline's own lines).
`--baseline-up-to N` also runs the notebook's steps as a plain pandas + scikit-learn script
(notebook_baseline.py) up to N rows.
`--orders 10000000` builds from that many generated orders of a tenth as many customers
(`--orders` alone, recency, frequency and spend; with `--compare`, that commit's too), beside a
floor: DuckDB alone reading the same orders and summing them per customer (floor.py --orders).
`--sizes "" --classic-sizes ""` skips the customer files.
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Timed:
    wall: float  # seconds
    peak: float  # resident MiB, the child's and its workers'
    first_line: float  # seconds to its first line of output
    text: str  # its output


def run(command: list[str], env: dict[str, str] | None = None) -> Timed:
    """Wall seconds, peak resident MiB, time to the first line and the output of one child.

    The peak is the larger of the child's own resident peak (exact, from the kernel) and the
    memory of the child and its descendants (the worker processes) together, sampled every
    0.1 s (each sample walks their page tables: more often would slow what is timed).
    The child's own is its own only while this process stays small: Linux carries a process's
    peak across fork and exec, so data is generated and scored in children too."""
    started, done, tree_peak = time.perf_counter(), threading.Event(), 0.0
    lines: list[str] = []
    first_line = float("nan")
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)

    def sample() -> None:
        nonlocal tree_peak
        while not done.wait(0.1):
            tree_peak = max(tree_peak, tree_resident_mib(child.pid))

    def read() -> None:
        nonlocal first_line
        assert child.stdout is not None
        for line in child.stdout:
            if not lines:
                first_line = time.perf_counter() - started
            lines.append(line)

    threads = [threading.Thread(target=sample), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    for thread in threads:
        thread.join()
    text = "".join(lines)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{text}")
    return Timed(wall, max(usage.ru_maxrss / 1024, tree_peak), first_line, text)


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


def input_file(rows: int, parquet: bool, email: bool) -> Path:
    """Generated customers (cached): the classic columns, with an Email column or without."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"customers_{rows}{'_email' if email else ''}.{'parquet' if parquet else 'csv'}"
    if not path.exists():
        print(f"generating {path.name} ...", flush=True)
        command = [sys.executable, "-m", "segmentation.sample_data", str(path), "--rows", str(rows), "--seed", "7"]
        run(command + (["--email"] if email else []))
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


def bench_orders(orders: int, repeat: int, versions: list[Build]) -> None:
    """A build from an orders file alone by each version, first builds and a rebuild, beside
    the floor, interleaved as `bench_input`'s are."""
    path = orders_file(orders)
    with duckdb.connect() as con:
        rows, customers = con.execute(
            'select count(*), count(distinct "Customer ID") from read_csv($path)', {"path": str(path)}
        ).fetchall()[0]
    label = f"{rows:,} orders of {customers:,} customers"
    timed: dict[str, list[Timed]] = {build.name: [] for build in versions}
    rebuilds: dict[str, Timed] = {}
    floor = []
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(repeat):
            for build in versions:
                warehouse = Path(tmp) / build.name / str(number) / "mall.duckdb"
                timed[build.name].append(run(build.command("--orders", path, warehouse, None), build.env()))
            floor.append(run([sys.executable, str(PROJECT / "benchmarks" / "floor.py"), "--orders", str(path), tmp]))
        for build in versions:  # again over the last warehouse: with history
            warehouse = Path(tmp) / build.name / str(repeat - 1) / "mall.duckdb"
            rebuilds[build.name] = run(build.command("--orders", path, warehouse, None), build.env())
    floor_wall = statistics.median(t.wall for t in floor)
    print(f"{'orders':>34} {'what':<10} {'wall s':>8} {'peak MiB':>9} {'÷ floor':>8} {'rebuild s':>9} {'÷ first':>9}")
    for build in versions:
        runs, rebuild = timed[build.name], rebuilds[build.name]
        wall = statistics.median(t.wall for t in runs)
        print(
            f"{label:>34} {build.name:<10} {wall:>8.2f} {max(t.peak for t in runs):>9.0f} {wall / floor_wall:>8.2f}"
            f" {rebuild.wall:>9.2f} {rebuild.wall / wall:>9.2f}",
            flush=True,
        )
    print(f"{label:>34} {'floor':<10} {floor_wall:>8.2f} {max(t.peak for t in floor):>9.0f} {1:>8.2f}", flush=True)
    print("\nseconds per step (this checkout, the median run):")
    median = sorted(timed["pipeline"], key=lambda t: t.wall)[len(timed["pipeline"]) // 2]
    for _, name, seconds in [m.groups() for m in map(STEP_LINE.match, median.text.splitlines()) if m]:
        print(f"{name:<26}{float(seconds):>10.2f}")


@dataclass(frozen=True)
class Build:
    """A version of the project to time: this checkout, or a previous commit's worktree."""

    name: str
    project: Path

    def command(self, option: str, path: Path, warehouse: Path, features: str | None) -> list[str]:
        """The build of the file `path` given as `option` (--input or --orders)."""
        return [
            sys.executable,
            str(self.project / "pipeline.py"),
            option,
            str(path),
            "--warehouse",
            str(warehouse),
            "--reports",
            str(warehouse.parent / "reports"),
            *(["--features", features] if features else []),
        ]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.project / "python")}


@contextmanager
def builds(compare: str | None) -> Iterator[list[Build]]:
    """This checkout, and with `compare` a detached worktree of that commit beside it."""
    if not compare:
        yield [Build("pipeline", PROJECT)]
        return
    revision = subprocess.run(
        ["git", "-C", str(PROJECT), "rev-parse", "--short", compare], capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / revision
        subprocess.run(
            ["git", "-C", str(PROJECT), "worktree", "add", "--detach", str(tree), revision],
            check=True,
            capture_output=True,
        )
        try:
            yield [Build("pipeline", PROJECT), Build(revision, tree)]
        finally:
            subprocess.run(["git", "-C", str(PROJECT), "worktree", "remove", "--force", str(tree)], check=True)


def bench_input(label: str, path: Path, rows: int, versions: list[Build], args: argparse.Namespace) -> list:
    """First builds of each version and the floor, interleaved (a drift in the machine's speed
    hits all alike), then a rebuild of each; prints a row per version and the floor's. Returns
    the step lines of this checkout's median first build."""
    timed: dict[str, list[Timed]] = {build.name: [] for build in versions}
    rebuilds: dict[str, Timed] = {}
    floor, imports = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeat):  # each a first build, into a folder of its own
            imports.append(run([sys.executable, "-c", IMPORTS]))
            for build in versions:
                warehouse = Path(tmp) / build.name / str(repeat) / "mall.duckdb"
                timed[build.name].append(run(build.command("--input", path, warehouse, args.features), build.env()))
            floor.append(run([sys.executable, str(PROJECT / "benchmarks" / "floor.py"), str(path), f"{tmp}/floor"]))
        for build in versions:  # the same input again over the last warehouse: with history
            warehouse = Path(tmp) / build.name / str(args.repeat - 1) / "mall.duckdb"
            rebuilds[build.name] = run(build.command("--input", path, warehouse, args.features), build.env())
        ari = float(run([sys.executable, __file__, "--agreement", str(warehouse), str(rows)]).text)
    floor_wall = statistics.median(t.wall for t in floor)
    imports_wall = statistics.median(t.wall for t in imports)
    for build in versions:
        runs = timed[build.name]
        wall = statistics.median(t.wall for t in runs)
        first_line = statistics.median(t.first_line for t in runs)
        over = statistics.median(t.wall - i.wall for t, i in zip(runs, imports))
        rebuild = rebuilds[build.name]
        print(
            f"{label:>20} {build.name:<10} {wall:>8.2f} {max(t.peak for t in runs):>9.0f} {wall / floor_wall:>8.2f}"
            f" {rebuild.wall:>9.2f} {rebuild.wall / wall:>9.2f} {first_line:>8.2f} {over:>9.2f}"
            + (f" {ari:>6.3f}" if build.project == PROJECT else ""),
            flush=True,
        )
    print(
        f"{label:>20} {'floor':<10} {floor_wall:>8.2f} {max(t.peak for t in floor):>9.0f} {1:>8.2f}"
        f"{'':>20} {'':>8} {'':>9}  (imports alone {imports_wall:.2f} s)",
        flush=True,
    )
    median = sorted(timed["pipeline"], key=lambda t: t.wall)[len(timed["pipeline"]) // 2]
    return [m.groups() for m in map(STEP_LINE.match, median.text.splitlines()) if m]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="200,1000000,10000000", help="customers with an Email column")
    parser.add_argument("--classic-sizes", default="10000000", help="customers with the classic five columns")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parquet-from", type=int, default=100_000_000)
    parser.add_argument("--baseline-up-to", type=int, default=0)
    parser.add_argument("--features", help="the builds' --features (default: the pipeline's)")
    parser.add_argument("--orders", default="", help="numbers of orders to build from, e.g. 10000000 (an orders row)")
    parser.add_argument("--compare", metavar="REV", help="time that commit too, interleaved with this checkout")
    parser.add_argument("--agreement", nargs=2, metavar=("WAREHOUSE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.agreement:
        print(agreement(Path(args.agreement[0]), int(args.agreement[1]), seed=7))
        return
    inputs = [(rows, True) for rows in sizes(args.sizes)] + [(rows, False) for rows in sizes(args.classic_sizes)]
    with builds(args.compare) as versions:
        for orders in sizes(args.orders):
            bench_orders(orders, args.repeat, versions)
        if inputs:
            bench_customers(inputs, versions, args)


def bench_customers(inputs: list[tuple[int, bool]], versions: list[Build], args: argparse.Namespace) -> None:
    """Each customer file by each version beside the floor, then the seconds per step."""
    header = (
        f"{'input':>20} {'what':<10} {'wall s':>8} {'peak MiB':>9} {'÷ floor':>8} {'rebuild s':>9}"
        f" {'÷ first':>9} {'1st line':>8} {'over imp.':>9} {'ARI':>6}"
    )
    print(header)
    print("-" * len(header))
    steps_by_input = {}
    for rows, email in inputs:
        parquet = rows >= args.parquet_from
        path = input_file(rows, parquet, email)
        label = f"{rows:,} {'email' if email else 'classic'} {path.suffix[1:]}"
        steps_by_input[label] = bench_input(label, path, rows, versions, args)
        if rows <= args.baseline_up_to:
            with tempfile.TemporaryDirectory() as tmp:
                baseline = [
                    run([sys.executable, str(PROJECT / "benchmarks" / "notebook_baseline.py"), str(path), tmp])
                    for _ in range(args.repeat)
                ]
            wall = statistics.median(t.wall for t in baseline)
            print(f"{label:>20} {'notebook':<10} {wall:>8.2f} {max(t.peak for t in baseline):>9.0f}", flush=True)

    print(
        "\n÷ floor: the median first build over the floor's median (DuckDB alone writing the same artefacts, "
        "floor.py); ÷ first: the rebuild over the first build; 1st line: seconds to the command's first "
        "line of output; over imp.: a build's wall time less that of importing its libraries in one "
        "process just before it."
    )
    print("\nseconds per step (this checkout, the median run):")
    # by name: the models' order may differ between inputs (the DAG's, for its features)
    seconds = {label: {name: float(value) for _, name, value in steps} for label, steps in steps_by_input.items()}
    names = list(dict.fromkeys(name for steps in steps_by_input.values() for _, name, _ in steps))
    print(f"{'step':<30}" + "".join(f"{label:>22}" for label in steps_by_input))
    for name in names:
        print(f"{name:<30}" + "".join(f"{seconds[label].get(name, float('nan')):>22.2f}" for label in seconds))


def sizes(text: str) -> list[int]:
    return [int(float(size)) for size in text.split(",") if size.strip()]


if __name__ == "__main__":
    main()
