"""Real SQL engines for the scoring tests: a throwaway PostgreSQL server and a local Spark session,
and the customers they score.

Outside CI a missing engine skips its tests with one line saying what to install; with
SEGMENTATION_ENGINES=required (set by `.ci/run`) it fails them instead, so CI never passes
without running them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from conftest import REAL_CSV
from segmentation.config import SAMPLE_INPUT
from segmentation.sample_data import HEADER, generate_customers
from segmentation.scoring import TABLE

REQUIRED = os.environ.get("SEGMENTATION_ENGINES") == "required"
# customer ids of each source, kept apart: the bundled sample's as they are
REAL_ID_OFFSET = 10_000
SYNTHETIC_ID_OFFSET = 1_000_000


# customers_to_score(customer_id, annual_income_k, spending_score): a NaN or an infinity in each
# feature in turn, beside a customer that scores ("ok")
NOT_NUMBERS = [("ok", 60.0, 70.0)] + [
    (f"{column} {value}", *((value, 50.0) if column == "income" else (50.0, value)))
    for column in ("income", "spending")
    for value in (float("nan"), float("inf"), float("-inf"))
]


def unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (SEGMENTATION_ENGINES=required)", pytrace=False)
    pytest.skip(reason)


def need(missing: str | None) -> None:
    """At the top of an engine's test module: when the engine is missing, one skip line for the
    whole module (one failure when engines are required)."""
    if missing is None:
        return
    if REQUIRED:
        pytest.fail(f"{missing} (SEGMENTATION_ENGINES=required)", pytrace=False)
    pytest.skip(missing, allow_module_level=True)


def postgres_missing() -> str | None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: make engines"
    if postgres_bin() is None:
        return "no PostgreSQL server in /usr/lib/postgresql: apt-get install postgresql"
    if os.geteuid() == 0 and (
        shutil.which("runuser") is None or not any(_user_exists(name) for name in ("postgres", "nobody"))
    ):
        return "running as root without runuser and a postgres user to start PostgreSQL as"
    return None


def spark_missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed: make engines"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java for Spark: apt-get install openjdk-17-jre-headless"
    return None


def customers_input(path: Path, synthetic: int, seed: int = 11) -> Path:
    """A customer CSV as a user would have it: the bundled sample, the real file when present
    and `synthetic` generated customers, with ids kept apart."""
    parts = [pd.read_csv(SAMPLE_INPUT)]
    if REAL_CSV.exists():
        real = pd.read_csv(REAL_CSV)
        real.columns = HEADER
        parts.append(real.assign(CustomerID=real["CustomerID"] + REAL_ID_OFFSET))
    generated = generate_customers(synthetic, seed)[list(HEADER)]
    parts.append(generated.assign(CustomerID=generated["CustomerID"] + SYNTHETIC_ID_OFFSET))
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)
    return path


# --- PostgreSQL ---------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL server's programs."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of its own in a temporary folder, reachable only on a Unix socket
    there; yields a libpq connection string. As root the server runs as the `postgres` user
    (or `nobody`), since PostgreSQL refuses to run as root."""
    if missing := postgres_missing():
        unavailable(missing)
    bin_dir = postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="segmentation-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = next(name for name in ("postgres", "nobody") if _user_exists(name))
        shutil.chown(folder, user)
        as_user = ["runuser", "-u", user, "--"]
    data, log = folder / "data", folder / "server.log"

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, text=True, cwd=folder)

    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "scoring",
            "--auth=trust",
            "--no-sync",
            "--encoding=UTF8",
            "--no-locale",
        )
        run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-k {folder} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=10 -c shared_buffers=64MB",
            "start",
        )
        yield f"host={folder} dbname=postgres user=scoring"
    except subprocess.CalledProcessError as e:
        details = e.stderr + (log.read_text() if log.exists() else "")
        raise RuntimeError(f"PostgreSQL did not start: {details}") from None
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                cwd=folder,
            )
        shutil.rmtree(folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


# --- Spark --------------------------------------------------------------------------------------


def spark_customers(spark, customers: Path) -> None:
    """The classic columns of a Parquet file of customers as the table the scoring SQL reads
    (`scoring.TABLE`), in Spark."""
    (
        spark.read.parquet(str(customers))
        .selectExpr(
            "cast(CustomerID as string) as customer_id",
            "`Annual Income (k$)` as annual_income_k",
            "`Spending Score (1-100)` as spending_score",
            "Age as age",
        )
        .createOrReplaceTempView(TABLE)
    )


@contextmanager
def spark_session() -> Iterator[object]:
    """A local Spark session (two threads, no UI), stopped afterwards."""
    if missing := spark_missing():
        unavailable(missing)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("segmentation-scoring-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()
