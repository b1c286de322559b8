"""Readers query the warehouse in a loop while the pipeline rebuilds it again and again.

    .venv/bin/python benchmarks/stress_readers.py [--rebuilds 20] [--readers 2] [--writer] [--input CSV]

Some readers reconnect for every query (as a dashboard does), one holds its connection for
the whole run (as an open BI session does). Every answer is checked: a reader must never see
an error, a half-built warehouse, or a run history with holes. With `--writer`, a program
also connects read-write again and again (as BI tools do by default), commits, holds the file a
moment and lets go: while it holds it DuckDB refuses readers (counted apart, as lock
conflicts) and the builds wait for it; after every rebuild the file must open (no write-ahead
log of another file beside it). Prints one summary table.
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
    con = None
    while hold and con is None:  # the writer may hold the file at first: wait it out
        try:
            con = duckdb.connect(warehouse, read_only=True)
        except duckdb.Error as e:
            if not is_lock_conflict(e):
                raise
            time.sleep(0.05)
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
        except Exception as e:
            errors.append(f"{type(e).__name__}: {e}"[:200])
        queries += 1
    results.put(
        {"hold": hold, "queries": queries, "errors": errors, "inconsistent": inconsistent, "runs_seen": len(seen_runs)}
    )


def is_lock_conflict(error: Exception) -> bool:
    return "Could not set lock" in str(error) or "Conflicting lock" in str(error)


def write_loop(warehouse: str, stop, results) -> None:
    """Connect read-write, commit, hold a moment, commit again, let go; again and again."""
    import duckdb

    sessions, refused, errors = 0, 0, []
    while not stop.is_set():
        try:
            with duckdb.connect(warehouse) as con:
                con.execute("update segment_summary set segment_label = segment_label")
                time.sleep(0.2)
                con.execute("update pipeline_runs set flags = flags")
            sessions += 1
        except Exception as e:
            if is_lock_conflict(e):
                refused += 1  # readers or a publishing build hold it: try again
            else:
                errors.append(f"{type(e).__name__}: {e}"[:200])
        time.sleep(0.3)
    results.put({"writer": True, "sessions": sessions, "refused": refused, "errors": errors})


def opens(warehouse: Path) -> str | None:
    """None when the file opens read-only and answers (waiting out a writer's lock), else why not."""
    import duckdb

    deadline = time.monotonic() + 30
    while True:
        try:
            with duckdb.connect(str(warehouse), read_only=True) as con:
                con.execute(CHECK).fetchall()
            return None
        except Exception as e:
            if not is_lock_conflict(e) or time.monotonic() > deadline:
                return f"{type(e).__name__}: {e}"[:200]
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuilds", type=int, default=20)
    parser.add_argument("--readers", type=int, default=2, help="readers that reconnect for every query")
    parser.add_argument("--writer", action="store_true", help="a program also holds the file read-write now and then")
    parser.add_argument("--input", type=Path, default=PROJECT / "data" / "sample_customers.csv")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        warehouse, reports = Path(tmp) / "mall.duckdb", Path(tmp) / "reports"
        command = [
            sys.executable,
            str(PROJECT / "pipeline.py"),
            "--input",
            str(args.input),
            "--warehouse",
            str(warehouse),
            "--reports",
            str(reports),
        ]
        subprocess.run(command, check=True, capture_output=True)  # the first good build

        ctx = mp.get_context("spawn")
        stop, results = ctx.Event(), ctx.Queue()
        readers = [
            ctx.Process(target=read_loop, args=(str(warehouse), hold, stop, results))
            for hold in [True] + [False] * args.readers
        ]
        if args.writer:
            readers.append(ctx.Process(target=write_loop, args=(str(warehouse), stop, results)))
        for reader in readers:
            reader.start()
        time.sleep(1.0)  # readers connected before the first rebuild

        completed, failures, unopenable, started = 0, [], [], time.perf_counter()
        for _ in range(args.rebuilds):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode == 0:
                completed += 1
            else:
                failures.append(done.stderr.strip().splitlines()[-1])
            if (why := opens(warehouse)) is not None:
                unopenable.append(why)
        elapsed = time.perf_counter() - started
        stop.set()
        everything = [results.get(timeout=60) for _ in readers]
        for reader in readers:
            reader.join()
        reports_ = [r for r in everything if not r.get("writer")]
        writer = next((r for r in everything if r.get("writer")), None)

        import duckdb

        with duckdb.connect(str(warehouse), read_only=True) as con:
            runs = [r[0] for r in con.execute("select run_id from pipeline_runs order by run_id").fetchall()]
        history_intact = runs == list(range(1, args.rebuilds + 2))

    queries = sum(r["queries"] for r in reports_)
    # while the writer holds the file DuckDB refuses readers: that is the lock, not the build
    refused = [e for r in reports_ for e in r["errors"] if is_lock_conflict(e)]
    errors = [e for r in reports_ for e in r["errors"] if not is_lock_conflict(e)]
    print(f"rebuilds completed   {completed} of {args.rebuilds} in {elapsed:.1f} s")
    for r in reports_:
        kind = "holding one connection" if r["hold"] else "reconnecting per query"
        print(
            f"reader ({kind:<22}) {r['queries']:>6} queries, {len(r['errors'])} errors, "
            f"{r['inconsistent']} inconsistent answers, {r['runs_seen']} builds seen"
        )
    if writer is not None:
        print(
            f"writer (read-write)    {writer['sessions']:>6} sessions committed, {writer['refused']} refused by "
            f"a lock, {len(writer['errors'])} errors"
        )
    print(f"reader queries       {queries}")
    print(
        f"reader errors        {len(errors)}"
        + (f" (and {len(refused)} refused while the writer held the file)" if args.writer else "")
    )
    print(f"unopenable states    {len(unopenable)} (after each of {args.rebuilds} rebuilds)")
    print(f"data lost            {0 if history_intact else 'run history has holes: ' + str(runs)}")
    writer_errors = writer["errors"] if writer else []
    for message in sorted(set(errors))[:5] + failures[:5] + unopenable[:5] + writer_errors[:5]:
        print(f"  {message}")
    ok = completed == args.rebuilds and not errors and not unopenable and not writer_errors and history_intact
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
