"""Readers query the warehouse in a loop while the pipeline rebuilds it again and again.

    .venv/bin/python benchmarks/stress_readers.py [--rebuilds 20] [--readers 2] [--input CSV]

Some readers reconnect for every query (as a dashboard does), one holds its connection for
the whole run (as an open BI session does). Every answer is checked: a reader must never see
an error, a half-built warehouse, or a run history with holes. Prints one summary table.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
CHECK = (
    "select (select count(*) from customer_segments), (select sum(customers) from segment_summary), "
    "(select count(*) from pipeline_runs), (select max(run_id) from pipeline_runs)"
)


def read_loop(warehouse: str, hold: bool, stop, results) -> None:
    import duckdb

    queries, errors, inconsistent, seen_runs = 0, [], 0, set()
    con = duckdb.connect(warehouse, read_only=True) if hold else None
    while not stop.is_set():
        try:
            if hold:
                row = con.execute(CHECK).fetchall()[0]
            else:
                with duckdb.connect(warehouse, read_only=True) as fresh:
                    row = fresh.execute(CHECK).fetchall()[0]
            customers, segmented, runs, last_run = row
            # a whole build: every customer segmented, and a run history without holes
            inconsistent += customers != segmented or runs != last_run
            seen_runs.add(last_run)
        except Exception as e:  # noqa: BLE001 - every failure is what we count
            errors.append(f"{type(e).__name__}: {e}"[:200])
        queries += 1
    results.put({"hold": hold, "queries": queries, "errors": errors, "inconsistent": inconsistent,
                 "runs_seen": len(seen_runs)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuilds", type=int, default=20)
    parser.add_argument("--readers", type=int, default=2, help="readers that reconnect for every query")
    parser.add_argument("--input", type=Path, default=PROJECT / "data" / "sample_customers.csv")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        warehouse, reports = Path(tmp) / "mall.duckdb", Path(tmp) / "reports"
        command = [sys.executable, str(PROJECT / "pipeline.py"), "--input", str(args.input),
                   "--warehouse", str(warehouse), "--reports", str(reports)]
        subprocess.run(command, check=True, capture_output=True)  # the first good build

        ctx = mp.get_context("spawn")
        stop, results = ctx.Event(), ctx.Queue()
        readers = [ctx.Process(target=read_loop, args=(str(warehouse), hold, stop, results))
                   for hold in [True] + [False] * args.readers]
        for reader in readers:
            reader.start()
        time.sleep(1.0)  # readers connected before the first rebuild

        completed, failures, started = 0, [], time.perf_counter()
        for _ in range(args.rebuilds):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode == 0:
                completed += 1
            else:
                failures.append(done.stderr.strip().splitlines()[-1])
        elapsed = time.perf_counter() - started
        stop.set()
        reports_ = [results.get(timeout=60) for _ in readers]
        for reader in readers:
            reader.join()

        import duckdb

        with duckdb.connect(str(warehouse), read_only=True) as con:
            runs = [r[0] for r in con.execute("select run_id from pipeline_runs order by run_id").fetchall()]
        history_intact = runs == list(range(1, args.rebuilds + 2))

    queries = sum(r["queries"] for r in reports_)
    errors = [e for r in reports_ for e in r["errors"]]
    print(f"rebuilds completed   {completed} of {args.rebuilds} in {elapsed:.1f} s")
    for r in reports_:
        kind = "holding one connection" if r["hold"] else "reconnecting per query"
        print(f"reader ({kind:<22}) {r['queries']:>6} queries, {len(r['errors'])} errors, "
              f"{r['inconsistent']} inconsistent answers, {r['runs_seen']} builds seen")
    print(f"reader queries       {queries}")
    print(f"reader errors        {len(errors)}")
    print(f"data lost            {0 if history_intact else 'run history has holes: ' + str(runs)}")
    for message in sorted(set(errors))[:5] + failures[:5]:
        print(f"  {message}")
    sys.exit(0 if completed == args.rebuilds and not errors and history_intact else 1)


if __name__ == "__main__":
    main()
