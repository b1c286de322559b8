"""The fitted model as portable SQL: one `SELECT` per SQL engine that segments the customers
where they live (Spark, PostgreSQL, BigQuery, Snowflake, Trino, DuckDB), without Python.

The query is written once, as DuckDB SQL, from the run's declaration (`model_features`), scaler,
centroids and labels (inlined as literals), and transpiled to each dialect by sqlglot. It reads
a table `customers_to_score` (`customer_id` and a column per feature, named as in
`model_features.feature`, in the units of the input file) and returns `customer_id`,
`cluster_id`, `segment_label`, `distance_to_centroid`: the nearest centroid in scaled units, as
`int_clustered_customers` assigns it (the lowest cluster_id on a tie), after the same unit
conversion and transform as the build; null when a feature is missing or outside its accepted
range (NaN and infinities are outside every range, on every engine), and `run_id`, the
warehouse run whose model scored it. `customer_id` is passed through as it is.

Numbers go in as `cast('<shortest repr>' as double)`: every engine parses the text to the same
double (a bare literal such as 59.7 is a decimal in PostgreSQL, Spark and Trino), and the
distance is spelled out as plain IEEE operations, so every engine computes the same distances
bit for bit. They may differ from `int_clustered_customers`' in the last bit (DuckDB's
`list_distance` fuses each multiply-add), which moves a customer only if two centroids are
within one rounding of each other; the engine tests check every customer agrees.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import sqlglot

from .db import model_features, quote_ident, quote_literal
from .features import MAX_MAGNITUDE, TRANSFORMS, Feature, bound
from .text import one_line

TABLE = "customers_to_score"
SCORING_DIR = "scoring"
# sqlglot's dialect names; each becomes reports/scoring/<dialect>.sql
DIALECTS = ("duckdb", "postgres", "spark", "bigquery", "snowflake", "trino")
FILES = tuple(f"{SCORING_DIR}/{dialect}.sql" for dialect in DIALECTS)


@dataclass(frozen=True)
class ScoringModel:
    run_id: int
    input_name: str
    input_sha256: str
    features: tuple[Feature, ...]  # in the order they are scaled
    scaler: Mapping[str, tuple[float, float]]  # feature -> (mean, population std)
    centroids: Mapping[int, Mapping[str, float]]  # cluster_id -> feature -> centre, scaled units
    labels: Mapping[int, str]  # cluster_id -> segment label (a cluster without customers has none)


def read_model(con: duckdb.DuckDBPyConnection) -> ScoringModel:
    """The latest run's model, from a built warehouse (pipeline_runs, model_features,
    feature_scaling, cluster_centroids, segment_summary)."""
    run_id, input_path, sha = con.execute(
        "select run_id, input_path, input_sha256 from pipeline_runs order by run_id desc limit 1"
    ).fetchall()[0]
    scaler = {
        feature: (mean, std)
        for feature, mean, std in con.execute(
            "select feature, mean, std from feature_scaling order by position"
        ).fetchall()
    }
    features = model_features(con)
    names = [f.feature for f in features]
    centroids = {
        row[0]: dict(zip(names, row[1:]))
        for row in con.execute(
            "select cluster_id, "
            + ", ".join(f.scaled_ident for f in features)
            + " from cluster_centroids order by cluster_id"
        ).fetchall()
    }
    labels = dict(con.execute("select cluster_id, segment_label from segment_summary").fetchall())
    return ScoringModel(run_id, Path(input_path).name, sha, features, scaler, centroids, labels)


def number(value: float) -> str:
    """A double as a literal every engine reads back exactly."""
    if not math.isfinite(value):
        raise ValueError(f"cannot export {value!r} as a SQL number")
    return f"cast('{float(value)!r}' as double)"


def range_condition(feature: Feature, value: str) -> str:
    """`value` (SQL, in warehouse units) within the feature's accepted range and size."""
    low = -MAX_MAGNITUDE if feature.accepted_min is None else feature.accepted_min
    high = MAX_MAGNITUDE if feature.accepted_max is None else feature.accepted_max
    return f"{value} between {number(low)} and {number(high)}"


def described(feature: Feature) -> str:
    """A feature in words, in the input's units: `spending_score (1-100, from 1 to 100)`,
    `annual_income_k (the input's unit x 0.001 = k$, from 0)` for incomes in dollars,
    `Total Spent (log(1 + x) before scaling, from 0)`."""
    low, high = (None if b is None else b / feature.input_scale for b in (feature.accepted_min, feature.accepted_max))
    notes = []
    if feature.input_scale != 1:
        notes.append(f"the input's unit x {feature.input_scale:g} = {feature.unit}")
    elif feature.unit:
        notes.append(feature.unit)
    if feature.transform != "none":
        notes.append(f"{TRANSFORMS[feature.transform].meaning} before scaling")
    if low is not None:
        notes.append(f"from {bound(low)}" + ("" if high is None else f" to {bound(high)}"))
    return feature.feature + (f" ({', '.join(notes)})" if notes else "")


def source_sql(model: ScoringModel) -> str:
    """The scoring query in DuckDB SQL: the one source every dialect is transpiled from."""
    features = model.features
    ids = sorted(model.centroids)
    if not ids:
        raise ValueError("the model has no centroids")
    # each feature in warehouse units, as x<position>; the input's unit converted
    casts = ",\n".join(
        f"        cast({quote_ident(f.feature)} as double)"
        # divided by the unit's size, as staging converts it (one rounding)
        + ("" if f.input_scale == 1 else f" / {number(1 / f.input_scale)}")
        + f" as x{f.position}"
        for f in features
    )
    usable = "\n            and ".join(range_condition(f, f"x{f.position}") for f in features)
    scaled = ",\n".join(
        f"        case when\n            {usable}\n            then ({f.value_sql.format(f'x{f.position}')} - "
        f"{number(model.scaler[f.feature][0])}) / {number(model.scaler[f.feature][1])}\n"
        f"        end as x{f.position}_scaled"
        for f in features
    )
    distances = ",\n".join(
        "        sqrt(\n            "
        + "\n            + ".join(
            f"(x{f.position}_scaled - {c}) * (x{f.position}_scaled - {c})"
            for f in features
            for c in [number(model.centroids[cluster][f.feature])]
        )
        + f"\n        ) as distance_{i}"
        for i, cluster in enumerate(ids)
    )

    def nearest(result: str) -> str:
        # branch i is reached only when every earlier centroid is farther than a later one, so
        # a centroid nearer than or as near as every later one is the nearest, the first on a tie
        branches = [
            "            when "
            + " and ".join(f"distance_{i} <= distance_{j}" for j in range(i + 1, len(ids)))
            + f" then {result.format(i=i, cluster=cluster)}"
            for i, cluster in enumerate(ids[:-1])
        ]
        last = len(ids) - 1
        branches.append(f"            when distance_{last} is not null then {result.format(i=last, cluster=ids[-1])}")
        return "case\n" + "\n".join(branches) + "\n        end"

    labels = "\n".join(
        f"            when {cluster} then {quote_literal(model.labels[cluster])}"
        for cluster in ids
        if cluster in model.labels
    )
    segment_label = f"case cluster_id\n{labels}\n        end" if labels else "cast(null as varchar)"
    return f"""with

customers as (
    select
        customer_id,
{casts}
    from {TABLE}
),

-- in scaled units; null unless every feature has a value in its accepted range (a NaN or an
-- infinity is in none: NaN sorts above every number in DuckDB, PostgreSQL, Spark and
-- Snowflake and compares false in BigQuery and Trino)
scaled as (
    select
        customer_id,
{scaled}
    from customers
),

distances as (
    select
        customer_id,
{distances}
    from scaled
),

-- the nearest centroid, the lowest cluster_id on a tie
nearest as (
    select
        customer_id,
        {nearest("{cluster}")} as cluster_id,
        {nearest("distance_{i}")} as distance_to_centroid
    from distances
),

final as (
    select
        customer_id,
        cluster_id,
        {segment_label} as segment_label,
        distance_to_centroid,
        cast({model.run_id} as bigint) as run_id
    from nearest
)

select * from final
"""


def identifier(name: str) -> str:
    """A column name as SQL writes it: quoted only when it must be."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else quote_ident(name)


def header(model: ScoringModel, dialect: str) -> str:
    columns = ", ".join(("customer_id", *(one_line(identifier(f.feature)) for f in model.features)))
    features = "; ".join(one_line(described(f)) for f in model.features)
    return (
        "\n".join(
            f"-- {line}"
            for line in (
                f"Customer segments for {dialect}: the model of warehouse run {model.run_id}.",
                f"Input: {one_line(model.input_name)}, SHA-256 {model.input_sha256}.",
                f"Features, in the input file's units: {features}; K = {len(model.centroids)}.",
                f"Reads table {TABLE}({columns}); returns customer_id, cluster_id,",
                "segment_label, distance_to_centroid (nearest centroid in scaled units, lowest cluster_id on a",
                "tie; null when a feature is missing, NaN, infinite, outside its range or over 10^15 in size)",
                f"and run_id ({model.run_id}: the run whose model scored the customer).",
                f"Generated from one DuckDB source by sqlglot {sqlglot.__version__}; do not edit.",
            )
        )
        + "\n"
    )


def transpile(sql: str, dialect: str) -> str:
    return sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=True)[0] + "\n"


def scoring_queries(model: ScoringModel, dialects: Iterable[str] = DIALECTS) -> dict[str, str]:
    """dialect -> the scoring query with its header comment."""
    written = in_dialects(source_sql(model), tuple(dialects))
    return {dialect: header(model, dialect) + sql for dialect, sql in written.items()}


@lru_cache(maxsize=8)
def in_dialects(source: str, dialects: tuple[str, ...]) -> dict[str, str]:
    """The DuckDB query `source` written in each dialect: parsed once (parsing is most of
    sqlglot's time), and remembered, as a rebuild of the same customers asks for it again."""
    parsed = sqlglot.parse_one(source, read="duckdb")
    return {dialect: parsed.sql(dialect=dialect, pretty=True) + "\n" for dialect in dialects}


def write_scoring(con: duckdb.DuckDBPyConnection, directory: Path) -> list[Path]:
    """reports/scoring/<dialect>.sql for the latest run of the warehouse behind `con`."""
    folder = directory / SCORING_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for dialect, sql in scoring_queries(read_model(con)).items():
        path = folder / f"{dialect}.sql"
        path.write_text(sql, encoding="utf-8")
        written.append(path)
    return written
