"""The command line: options, declared once (each option's `dest` is the `Settings` field it
fills), and `main`, which runs a build and turns every way it can end into an exit code and at
most one line on stderr. `pipeline.py` and the `mall-segmentation` script call `main`."""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from . import stops
from .config import DUPLICATES_POLICIES, SAMPLE_INPUT, Settings
from .errors import Interrupted, PipelineError, not_there
from .features import MAX_FEATURES, parse
from .text import one_line

if TYPE_CHECKING:  # the workers module is imported only once the options are parsed: --help stays quick
    from .building import BuildResult
    from .workers import Runner

DEFAULTS = Settings()


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def seed_option(text: str) -> int:
    if not text.isdigit() or int(text) >= 2**32:
        raise argparse.ArgumentTypeError(f"a seed is a whole number from 0 to 2**32 - 1, got {text!r}")
    return int(text)


def seconds_option(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds, 0 or more, got {text!r}")
    return value


def storage_version_option(text: str) -> str:
    if text == DEFAULTS.storage_compatibility_version:
        return text
    from .db import STORAGE_VERSIONS, is_storage_version  # only when another is asked for: --help stays quick

    if not is_storage_version(text):
        raise argparse.ArgumentTypeError(f"not a DuckDB storage version: {text!r} (e.g. {STORAGE_VERSIONS})")
    return text


def path_option(text: str) -> Path:
    """A file or folder path: not empty, no NUL; `~` is the home folder even when quoted."""
    if not text or "\0" in text:
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r}")
    return Path(os.path.expanduser(text))


def warehouse_option(text: str) -> Path:
    """The warehouse file; a folder (written with a final slash, or one that exists) holds it
    under the default name, as `--warehouse out/` means."""
    path = path_option(text)
    if "?" in text:
        raise argparse.ArgumentTypeError(f"DuckDB cannot write a database whose path holds '?': {text!r}")
    if text.endswith(("/", os.sep)) or path.is_dir():
        return path / DEFAULTS.warehouse_path.name
    return path


def k_option(text: str) -> int | None:
    if text.strip().lower() == "auto":
        return None
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, or auto, got {text!r}") from None


def share_option(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, got {text!r}") from None
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError("a share is between 0 and 1")
    return share


def features_option(text: str) -> tuple[str, ...]:
    try:
        requests = parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return tuple(r.name if r.transform == "none" else f"{r.name}:{r.transform}" for r in requests)


def columns_option(text: str) -> dict[str, str]:
    from .columns import parse_mapping

    try:
        return parse_mapping(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def date_option(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def dataset_option(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a dataset needs a name")
    return text.strip()


def encoding_option(text: str) -> str:
    import codecs

    try:
        codec = codecs.lookup(text)
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding {text!r} (e.g. utf-8, utf-16, cp1252, latin-1)") from None
    if not codec._is_text_encoding:  # rot13, hex, base64: codecs of bytes or of text, not files
        raise argparse.ArgumentTypeError(f"{text!r} is not a text encoding (e.g. utf-8, utf-16, cp1252, latin-1)")
    return codec.name


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Ends an option's help with its default, unless the help already says it in words (the
    options whose default is decided at run time) or there is none to show (a flag, an empty
    mapping)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if "default" in (action.help or "") or action.nargs == 0 or action.default in (None, {}):
            return action.help
        return super()._get_help_string(action)


def parse_args(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        description="Segment mall customers: load a CSV into DuckDB, clean it in SQL, cluster "
        "with K-Means, publish the warehouse and the reports. Relative paths are taken from the "
        "current folder.",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument(
        "--input",
        dest="input_path",
        metavar="PATH",
        type=path_option,
        default=None,
        help="customer file: CSV (any delimiter, UTF-8/UTF-16/Windows-1252), JSON Lines or a JSON "
        "array (CSV and JSON gzip- or zstd-compressed too), .xlsx or .parquet, or a folder of CSV, "
        "JSON or Parquet part files, with an id, income and spending score column (age and gender "
        "optional); no wildcards (a leading ~ is the home folder) (default: the bundled sample "
        f"{SAMPLE_INPUT.relative_to(SAMPLE_INPUT.parents[1])}; none with --orders)",
    )
    parser.add_argument(
        "--orders",
        dest="orders_path",
        metavar="PATH",
        type=path_option,
        default=None,
        help="orders file (the same formats as --input) with a customer id, an order date and an amount "
        "(or a unit price and a quantity); an order id, currency and status (cancelled and refunded "
        "orders are not counted) when it has them: segments on each customer's recency, frequency "
        "and spend (customer_rfm); with --input, joined to its customers by id, else the customers "
        "are the ids of the orders",
    )
    parser.add_argument(
        "--as-of",
        dest="as_of",
        metavar="DATE",
        type=date_option,
        default=None,
        help="the day recency and tenure are counted to, YYYY-MM-DD; orders after it are not counted "
        "(default: the latest date of a counted order or refund)",
    )
    parser.add_argument(
        "--columns",
        type=columns_option,
        default={},
        metavar="COL=HEADER,...",
        help="map warehouse columns (customer_id, gender, age, annual_income_k, "
        "spending_score; of an orders file order_id, order_date, amount, quantity, unit_price, "
        "currency, status, and orders.customer_id where its id column differs) to the input's "
        "header names, e.g. customer_id=Kundennummer; "
        'a name holding a comma in double quotes: annual_income_k="Income (k$, gross)"; '
        "#N for the header's Nth column: age=#3",
    )
    parser.add_argument(
        "--encoding",
        type=encoding_option,
        default=DEFAULTS.encoding,
        help="text encoding of a CSV or JSON input (default: detected)",
    )
    parser.add_argument(
        "--sheet", default=DEFAULTS.sheet, help="sheet of an .xlsx input (default: the first holding the columns)"
    )
    parser.add_argument(
        "--income-unit",
        choices=("k", "dollars"),
        default=DEFAULTS.income_unit,
        help="unit of the income column (default: from its header, else from its values)",
    )
    parser.add_argument(
        "--warehouse",
        dest="warehouse_path",
        metavar="PATH",
        type=warehouse_option,
        default=DEFAULTS.warehouse_path,
        help="DuckDB file to publish (a folder: mall.duckdb in it); replaced whole, readers are not disturbed",
    )
    parser.add_argument(
        "--reports",
        dest="reports_dir",
        metavar="DIR",
        type=path_option,
        default=DEFAULTS.reports_dir,
        help="folder for index.html, the charts, the segmented CSV and the marts as Parquet",
    )
    parser.add_argument(
        "--k",
        type=k_option,
        default=DEFAULTS.k,
        metavar="N|auto",
        help="number of segments, or 'auto' for the K with the best silhouette",
    )
    parser.add_argument(
        "--features",
        type=features_option,
        default=None,
        metavar="COLUMN[:log],...",
        help=f"what K-Means reads, 1 to {MAX_FEATURES} numeric columns: income,spending (the default), "
        'income,spending,age, or any of the input\'s own by their headers ("Total Spent:log,Total Orders"); '
        "with --orders, recency,frequency,monetary:log (the default there) or any measure of "
        "customer_rfm; :log takes log(1 + x) before scaling, for amounts and counts",
    )
    parser.add_argument(
        "--dataset",
        type=dataset_option,
        default=None,
        metavar="NAME",
        help="the dataset this build belongs to: a build is compared with the previous "
        "one only on the same dataset (default: the previous build's when this is plausibly "
        "the same customers, else a new one named after the input file)",
    )
    parser.add_argument("--seed", type=seed_option, default=DEFAULTS.seed, help="K-Means random_state")
    parser.add_argument(
        "--sample-size",
        type=positive_int,
        default=DEFAULTS.sample_size,
        help="choose K and fit K-Means on at most this many customers (a seeded "
        "sample); every customer is then assigned to its nearest centroid",
    )
    parser.add_argument(
        "--duplicates",
        choices=DUPLICATES_POLICIES,
        default=DEFAULTS.duplicates,
        help="what to keep of an id's records that differ: none of them (reject), the first "
        "or the last (a later export appended); records with the same values are one customer",
    )
    parser.add_argument(
        "--max-reject-share",
        type=share_option,
        default=DEFAULTS.max_reject_share,
        help="stop when more than this share of data rows is rejected, duplicates and superseded rows aside",
    )
    parser.add_argument(
        "--warn-reject-share",
        type=share_option,
        default=DEFAULTS.warn_reject_share,
        help="warn and flag the report when more than this share of data rows is rejected, "
        "duplicates and superseded rows aside (their customer is kept)",
    )
    parser.add_argument(
        "--min-segment-share",
        type=share_option,
        default=DEFAULTS.min_segment_share,
        help="flag a segment holding a smaller share of the customers",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail the build on a flag (segment too small, segments unstable across seeds) "
        "instead of only reporting it",
    )
    parser.add_argument(
        "--lock-timeout",
        dest="lock_timeout_s",
        metavar="SECONDS",
        type=seconds_option,
        default=DEFAULTS.lock_timeout_s,
        help="seconds to wait for another build of the same warehouse, or for a program holding it open for writing",
    )
    parser.add_argument(
        "--storage-version",
        dest="storage_compatibility_version",
        metavar="VERSION",
        type=storage_version_option,
        default=DEFAULTS.storage_compatibility_version,
        help="DuckDB storage compatibility version of the published file "
        "(v1.0.0 opens in DuckDB 1.x, as bundled by many BI tools)",
    )
    options = vars(parser.parse_args(argv))
    if options["input_path"] is None and options["orders_path"] is None:
        options["input_path"] = DEFAULTS.input_path  # with orders alone, the customers are their ids
    if options["as_of"] is not None and options["orders_path"] is None:
        parser.error("--as-of needs an orders file (--orders)")
    return Settings(**options)


def differing_ids(ids: int, policy: str) -> str:
    """What --duplicates did, for the run line: nothing to say when no id's records differ."""
    if not ids:
        return ""
    kept = {"reject": "none kept", "first": "the first kept", "last": "the last kept"}[policy]
    return f" ({ids:,} id{'' if ids == 1 else 's'} with differing records: {kept}, --duplicates {policy})"


def last_line(line: str, code: int, error: bool = True) -> int:
    """Print the command's last line, how the build ended, and return `code`. A stop that comes
    while it is printed waits until it is noted as said (`stops.said`): from then on a stop only
    sets the exit code, and never adds a line that contradicts this one."""
    with stops.deferred_interrupts():
        print(line, file=sys.stderr if error else sys.stdout, flush=True)
        stops.said()
    return code


def stopped(published_run: int | None) -> int:
    """The line and exit code of a build stopped by Ctrl-C (130) or SIGTERM (143)."""
    word = "terminated" if stops.terminated() else "interrupted"
    if published_run is None:
        line = f"error: {word}; the published warehouse and reports are as they were"
    else:
        line = f"error: {word} after run {published_run} was published: the warehouse and reports are this build's"
    return last_line(line, stops.exit_code())


def main(argv: list[str] | None = None, *, runner: Runner | None = None) -> int:
    """`runner`: where K-Means and the charts run. None (the command) starts worker processes;
    a program calling `main` in its own process (a service, a notebook, a test run) may pass one
    it already has, such as `IN_PROCESS`, instead of paying for two more interpreters; `main`
    leaves it (`with`) when the build ends, as it does its own workers."""
    with stops.answering():  # SIGTERM (a service manager, `kill`) stops the build as Ctrl-C does
        try:
            return run(argv, runner=runner)
        except KeyboardInterrupt:
            if stops.SAID:  # once the command has said how the build ended: the exit code alone
                return stops.exit_code()
            return stopped(None)  # before the build began


def missing_input(path: Path) -> bool:
    """The input is not there: said before DuckDB, pandas and the workers start (the loader
    says the same of a path that goes missing later). A path that cannot be looked at is the
    loader's to explain."""
    try:
        return not path.exists()
    except OSError:
        return False


def absolute(path: Path) -> str:
    """`path` from the root, or as given where the current folder is gone (deleted meanwhile)."""
    try:
        return os.path.abspath(path)
    except OSError:
        return str(path)


def building(settings: Settings) -> str:
    """The command's first line: the input files and the warehouse and reports it builds."""
    inputs = [str(path) for path in (settings.input_path, settings.orders_path) if path is not None]
    return (
        f"Building {absolute(settings.warehouse_path)} and {absolute(settings.reports_dir)}/ "
        f"from {' and '.join(inputs)}"
    )


def run(argv: list[str] | None, *, runner: Runner | None = None) -> int:
    """Parse the options, start the workers (unless given a `runner`), build, and say how it ended."""
    settings = parse_args(argv)
    for path in (settings.input_path, settings.orders_path):
        if path is not None and missing_input(path):
            return last_line(f"error: {one_line(not_there(path))}", 1)
    # at once, before the imports and the workers' start: what is built, from what, and where
    print(one_line(building(settings)), flush=True)
    from .workers import InProcess, Workers

    command = runner is None  # else a caller's process, which lives on after this build
    if runner is None:
        try:  # first: they import scikit-learn and matplotlib while this process imports DuckDB
            runner = Workers()
        except (OSError, NotImplementedError) as e:  # a host without processes or semaphores for them
            print(f"warning: K-Means and the charts run in this process: no worker processes ({e})", file=sys.stderr)
            runner = InProcess()
    result = None
    try:
        with runner:
            # a signal raised inside DuckDB's module initialisation aborts the process: held back
            # until the import is done (a handler that only notes it: blocking it in this thread
            # would not do, as the workers' threads may take it)
            with stops.deferred_interrupts():
                from .building import build  # the imports, after --help has had its turn

            if command:
                gc.freeze()  # the libraries' objects live until exit: spare the collector (and the exit) them
            result = build(settings, log=lambda line: print(one_line(line), flush=True), runner=runner)
        stops.raise_if_asked()  # a stop Python dropped once the build had published
        return say_done(result, settings)
    except PipelineError as e:
        return last_line(f"error: {one_line(e)}", 1)
    except Interrupted as e:  # the build says what it had published
        return stopped(e.published_run)
    except KeyboardInterrupt:  # once the build had published: while the workers stop, dropped, or after
        if result is None or stops.SAID:
            raise
        return stopped(result.run_id)


def say_done(result: BuildResult, settings: Settings) -> int:
    """Print the run line of a published build; its exit code."""
    reports = absolute(settings.reports_dir)  # the default is relative to the current folder
    rows = (
        f"{result.rejected_rows:,} of {result.data_rows:,} rows rejected"
        f"{differing_ids(result.ids_with_differing_rows, settings.duplicates)}, "
        f"{result.value_issues:,} values set to null, "
    )
    if result.orders is not None:
        rows = ("" if result.orders.role == "alone" else rows) + f"{result.orders.summary()}, "
    return last_line(
        one_line(
            f"Done in {result.seconds:.2f} s: {result.customers:,} customers in {result.k} "
            f"segment{'' if result.k == 1 else 's'}"
            f"{f' (K = {result.k_fitted} asked)' if result.k_fitted != result.k else ''}, "
            f"{rows}"
            f"{result.data_tests_passed} data tests passed -> {result.warehouse}, {reports}/"
        ),
        0,
        error=False,
    )
