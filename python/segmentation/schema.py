"""The YAML files beside the models: descriptions, materialisation and data tests.

Format (as dbt's): lists of `models`, `sources` and `seeds`, each with `name`,
`description`, optional `config: {materialized: table}`, and `columns` with `name`,
`data_type`, `description`, `data_tests` and, for a column only some builds have,
`only_with: {orders: joined}` (there when the orders file is joined to the customers, as the
models' `orders` variable says); and `macros`, each with `name`, `description`
and `arguments`. These files are the one list of what a build creates: every model and seed
is published with the columns and types declared (staging and the tables after it add any
other input columns under their own names, and the model's features stand where the classic
pair's columns are declared); every build is checked against them before it is published
(`breaches`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import yaml

from .db import first_row, model_features, quote_ident, quote_literal
from .errors import PipelineError
from .features import CLASSIC, ORDER_COLUMNS_CARRIED

# libyaml's loader when PyYAML has it: ten times faster than the pure-Python one, same result
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class DataTest:
    kind: str  # unique, not_null, accepted_values, accepted_range, relationships
    table: str
    column: str
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.kind}({self.table}.{self.column})"


@dataclass(frozen=True)
class TableDoc:
    name: str
    description: str
    materialized: str  # view or table; Python outputs and sources are always tables
    columns: dict[str, str]  # column -> description
    tests: tuple[DataTest, ...]
    kind: str = "models"  # the section it is declared in: sources, seeds, models or macros
    data_types: dict[str, str] = field(default_factory=dict)  # column -> declared data_type
    # column -> the orders role (raw_order_input.role) a build has the column with, e.g. joined
    only_with: dict[str, str] = field(default_factory=dict)


def published_tables(docs: dict[str, TableDoc]) -> tuple[str, ...]:
    """Every table and view a build publishes: the declared models and seeds."""
    return tuple(name for name, doc in docs.items() if doc.kind in ("models", "seeds"))


def column_types(doc: TableDoc) -> str:
    """The declared columns as a column list for `create table`, e.g. `run_id bigint, ...`."""
    return ", ".join(f"{quote_ident(column)} {data_type}" for column, data_type in doc.data_types.items())


def load_schema(sql_dir: Path) -> dict[str, TableDoc]:
    """The declarations of the YAML files under `sql_dir`, read once per process while no file
    changes (reading them is a tenth of a build of the bundled sample)."""
    stats = {path: path.stat() for path in sorted(sql_dir.rglob("*.yml"))}
    return dict(declarations(tuple((path, stat.st_mtime_ns, stat.st_size) for path, stat in stats.items())))


@cache
def declarations(files: tuple[tuple[Path, int, int], ...]) -> dict[str, TableDoc]:
    docs: dict[str, TableDoc] = {}
    origins: dict[str, Path] = {}
    for path, _, _ in files:
        try:
            content = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            raise PipelineError(f"{path}: not valid YAML: {where}{e.problem or e.context}") from None
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise PipelineError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(content, dict):
            raise PipelineError(f"{path}: not a schema file: its top level is not a mapping (models:, sources:, ...)")
        for section in ("sources", "seeds", "models", "macros"):
            for number, entry in enumerate(content.get(section) or [], 1):
                try:
                    doc = parse_entry(entry, section)
                except (KeyError, TypeError, AttributeError, StopIteration) as e:
                    name = entry.get("name") if isinstance(entry, dict) else None
                    raise PipelineError(
                        f"{path}: {section} entry {name or number} is not a dbt-style declaration "
                        f"(a name, then columns each with a name; {type(e).__name__}: {e})"
                    ) from None
                if doc.name in docs:
                    raise PipelineError(f"{path}: {doc.name} is documented twice (also in {origins[doc.name]})")
                docs[doc.name], origins[doc.name] = doc, path
    return docs


def parse_entry(entry: dict, section: str = "models") -> TableDoc:
    name = entry["name"]
    columns, tests, data_types, only_with = {}, [], {}, {}
    for column in entry.get("columns", entry.get("arguments", [])):
        columns[column["name"]] = column.get("description", "").strip()
        if "data_type" in column:
            data_types[column["name"]] = column["data_type"]
        if "only_with" in column:
            only_with[column["name"]] = column["only_with"]["orders"]
        for test in column.get("data_tests", []):
            kind, args = (test, {}) if isinstance(test, str) else next(iter(test.items()))
            tests.append(DataTest(kind, name, column["name"], dict(args)))
    return TableDoc(
        name=name,
        description=entry.get("description", "").strip(),
        materialized=entry.get("config", {}).get("materialized", "view"),
        columns=columns,
        tests=tuple(tests),
        kind=section,
        data_types=data_types,
        only_with=only_with,
    )


def apply_comments(con: duckdb.DuckDBPyConnection, docs: dict[str, TableDoc]) -> None:
    """COMMENT ON every documented relation and column the build has (after the build:
    CREATE OR REPLACE drops comments), in one transaction: one commit instead of one per
    comment."""
    kinds = dict(con.execute("select table_name, 'table' from duckdb_tables() where not temporary").fetchall())
    kinds.update(con.execute("select view_name, 'view' from duckdb_views() where not internal").fetchall())
    kinds.update(
        con.execute(
            "select function_name, 'macro' from duckdb_functions() where function_type = 'macro' and not internal"
        ).fetchall()
    )
    # the columns a build has: those of the features vary with the model (model_features)
    columns_of: dict[str, list[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from duckdb_columns() where not internal order by all"
    ).fetchall():
        columns_of.setdefault(table, []).append(column)
    # and those no YAML can name: the input's own, the features, the orders' measures
    undeclared = own_column_descriptions(con, docs)
    con.begin()
    for doc in docs.values():
        kind = kinds.get(doc.name)
        if kind is None:
            continue
        con.execute(f"comment on {kind} {quote_ident(doc.name)} is {quote_literal(doc.description)}")
        if kind == "macro":
            continue  # arguments take no comments
        for column in columns_of.get(doc.name, []):
            description = doc.columns.get(column, undeclared.get(column))
            if description is not None:
                target = f"{quote_ident(doc.name)}.{quote_ident(column)}"
                con.execute(f"comment on column {target} is {quote_literal(description)}")
    con.commit()


# The input columns of a file at most this wide are described in every table holding them; a
# wider file's go without (their names are their headers): each comment rewrites its table's
# catalog entry, and a thousand columns in five tables took seconds.
OWN_COLUMNS_DESCRIBED = 100


def own_column_descriptions(con: duckdb.DuckDBPyConnection, docs: dict[str, TableDoc]) -> dict[str, str]:
    """What the columns a build adds to the declared ones hold, by name: an orders measure as
    customer_rfm documents it, a feature (and its scaled centre) by its label and header, an
    input column of the file's own by its header."""
    measures = docs["customer_rfm"].columns
    descriptions = {column: measures[column] for column in ORDER_COLUMNS_CARRIED if column in measures}
    own = con.execute("select column_name, source_name from raw_columns").fetchall()
    if len(own) <= OWN_COLUMNS_DESCRIBED:  # each comment copies its table's entry: not thousands
        descriptions |= {column: f"The input's column {header!r}, as written." for column, header in own}
    for feature in model_features(con):
        if feature.kind == "number":  # a measure of the orders keeps customer_rfm's words
            descriptions[feature.feature] = f"{feature.label} (the input's {feature.source_column!r}), a feature."
        descriptions[f"{feature.feature}_scaled"] = (
            f"{feature.label} as K-Means reads it: transformed, then standardised."
        )
    return descriptions


def breaches(con: duckdb.DuckDBPyConnection, docs: dict[str, TableDoc]) -> list[str]:
    """How the built tables and views differ from their declaration: a declared column of
    another type, missing, or a column nobody declared. A build may lack only the classic
    features' columns its model does not use and the columns `only_with` another orders role
    than its own; it may add only the model's features (and their scaled centres), the input's own
    columns and, with an orders file, its measures."""
    features = [f.feature for f in model_features(con)]
    orders = first_row(con, "select role from raw_order_input")[0]
    classic = {kind.column for kind in CLASSIC.values()}
    unused = {c for column in classic - set(features) for c in (column, f"{column}_scaled")}
    added = (
        {c for feature in features for c in (feature, f"{feature}_scaled")}
        | {name for (name,) in con.execute("select column_name from raw_columns").fetchall()}
        | (set(ORDER_COLUMNS_CARRIED) if orders != "none" else set())
    )
    built: dict[str, dict[str, str]] = {}
    for table, column, data_type in con.execute(
        "select table_name, column_name, lower(data_type) from duckdb_columns() "
        "where database_name = current_database() and schema_name = 'main' order by table_name, column_index"
    ).fetchall():
        built.setdefault(table, {})[column] = data_type
    found = []
    for name in published_tables(docs):
        doc, columns = docs[name], built.get(name, {})
        absent = unused | {column for column, role in doc.only_with.items() if role != orders}
        for column, declared in doc.data_types.items():
            if column in columns and columns[column] != declared.lower():
                found.append(f"{name}.{column} is {columns[column]}, declared {declared}")
            elif column not in columns and column not in absent:
                found.append(f"{name} lacks {column}")
        found += [
            f"{name}.{column} is not declared"
            for column in columns
            if column not in doc.data_types and column not in added
        ]
    return found
