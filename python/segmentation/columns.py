"""Which input column is which: header names matched to the warehouse's columns.

Pure functions on the header's names. A name matches after normalising case, spaces,
punctuation and a bracketed unit ("Annual Income (k$)" and "annual_income" are one name);
`--columns` maps any name explicitly. Every column the model does not use travels under its
own name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from itertools import chain

from .config import FALLBACK_INPUT_COLUMNS, FALLBACK_ORDER_COLUMNS, INPUT_COLUMNS, LINE_AMOUNTS, ORDER_COLUMNS
from .features import (
    CLASSIC,
    CLASSIC_BY_COLUMN,
    TRANSFORMS,
    Feature,
    Request,
    argument_name,
    classic,
    order_measure,
    own_column,
)

# Names the warehouse gives its own columns: an input column named so travels renamed. A build
# adds every name its models give beside the input's columns (`dag.record_names`).
RESERVED = frozenset(INPUT_COLUMNS)


def normalise(name: str) -> str:
    """'Annual Income (k$)' -> 'annualincome': lower case, no bracketed part, letters and digits
    only, accents composed ('Umsätze' as macOS writes it, its umlaut a mark of its own, is
    'umsätze')."""
    folded = unicodedata.normalize("NFC", name).casefold()
    without_brackets = re.sub(r"[(\[{][^)\]}]*[)\]}]", "", folded)
    return re.sub(r"[\W_]+", "", without_brackets) or re.sub(r"[\W_]+", "", folded)


def aliases_of(names: Mapping[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    return {column: frozenset(map(normalise, aliases)) for column, aliases in names.items()}


ALIASES = aliases_of(INPUT_COLUMNS)
FALLBACK_ALIASES = aliases_of(FALLBACK_INPUT_COLUMNS)
ORDER_ALIASES = aliases_of(ORDER_COLUMNS)
FALLBACK_ORDER_ALIASES = aliases_of(FALLBACK_ORDER_COLUMNS)
# of the orders' columns that look alike, the one to name: a line's own total, not its order's
PREFERRED_ORDER_ALIASES = aliases_of({"amount": LINE_AMOUNTS})
# the prefix of a `--columns` entry naming the orders file's column: orders.customer_id=Client
ORDERS_PREFIX = "orders."


@dataclass(frozen=True)
class ColumnMap:
    """The header's columns: where each warehouse column is, and what the others are called."""

    names: tuple[str, ...]  # the header as written
    positions: dict[str, int]  # warehouse column -> 1-based position in the header
    extras: dict[int, str]  # 1-based position -> warehouse name of a column the model does not use

    def source_name(self, column: str) -> str:
        return self.names[self.positions[column] - 1].strip()


def parse_mapping(text: str) -> dict[str, str]:
    """`customer_id=Kundennummer,gender=Geschlecht` -> {'customer_id': 'Kundennummer', ...}; a
    header holding a comma is quoted: `annual_income_k="Income (k$, gross)"`. The orders file's
    columns are named the same way (`order_date=Datum`); `orders.customer_id=Client` names the
    orders' id column where it differs from the customer file's."""
    if text.count('"') % 2:
        raise ValueError(f'a quote in {text!r} is not closed: quote a header holding a comma whole, "Income, gross"')
    mapping = {}
    for item in filter(None, (part.strip() for part in re.findall(r'(?:[^,"]|"[^"]*")+', text))):
        column, equals, header = item.partition("=")
        column, header = column.strip(), header.strip()
        if len(header) >= 2 and header[0] == header[-1] == '"':
            header = header[1:-1].strip()
        if not equals or not header:
            raise ValueError(f"expected COLUMN=HEADER, got {item!r}")
        known = (*INPUT_COLUMNS, *(c for c in ORDER_COLUMNS if c not in INPUT_COLUMNS), ORDERS_PREFIX + "customer_id")
        if column not in known:
            raise ValueError(f"{column!r} is not a warehouse column (one of {', '.join(known)})")
        if column in mapping:
            raise ValueError(f"{column} is mapped twice")
        mapping[column] = header
    return mapping


# `--columns age=#3`: the header's third column (a name comes first: a header may be named `#3`)
POSITION = re.compile(r"#([0-9]+)")


class NotTheHeader(ValueError):
    """The names lack a column the build needs: they are not the header (a title may be)."""


class NoSuchFeature(NotTheHeader):
    """The names have every column the build needs but one `--features` names."""


def customer_mapping(explicit: Mapping[str, str]) -> dict[str, str]:
    """The entries of `--columns` that name the customer file's columns."""
    return {column: header for column, header in explicit.items() if column in INPUT_COLUMNS}


def order_mapping(explicit: Mapping[str, str], names: tuple[str, ...], shared_id: bool) -> dict[str, str]:
    """The entries of `--columns` that name the orders file's columns: its own, and its id
    column as `orders.customer_id`, else as `customer_id` when that names a column of this
    header or there is no customer file (`shared_id`: there is one, which it may be meant for)."""
    mapping = {column: header for column, header in explicit.items() if column in ORDER_COLUMNS}
    mapping.pop("customer_id", None)
    own, shared = explicit.get(ORDERS_PREFIX + "customer_id"), explicit.get("customer_id")
    if own is None and shared is not None and (not shared_id or any(normalise(n) == normalise(shared) for n in names)):
        own = shared
    if own is not None:
        mapping["customer_id"] = own
    return mapping


def map_columns(
    names: tuple[str, ...],
    required: tuple[str, ...],
    explicit: Mapping[str, str] = {},
    aliases: Mapping[str, frozenset[str]] = ALIASES,
    fallback: Mapping[str, frozenset[str]] = FALLBACK_ALIASES,
    reserved: frozenset[str] = RESERVED,
    preferred: Mapping[str, frozenset[str]] = {},
) -> ColumnMap:
    """Match the header to the warehouse's columns; raise ValueError saying what is wrong and
    how to fix it (NotTheHeader when a needed column is not there). `required`: the columns
    the build cannot do without; `aliases` and `fallback`: the names each column goes by (the
    customer file's, or the orders file's); `reserved`: names the other columns never take;
    `preferred`: of several columns that look like one, those whose name the error suggests."""
    positions: dict[str, int] = {}
    for column, header in explicit.items():
        hits = [i for i, name in enumerate(names, 1) if name.strip() == header]
        hits = hits or [i for i, name in enumerate(names, 1) if normalise(name) == normalise(header)]
        if not hits and (position := POSITION.fullmatch(header)):
            if not 1 <= int(position[1]) <= len(names):
                raise NotTheHeader(
                    f"--columns {column}={header}: the header has {len(names)} column{'s' if len(names) > 1 else ''}: "
                    f"#1 to #{len(names)}"
                )
            hits = [int(position[1])]
        if not hits:
            raise NotTheHeader(
                f"--columns {column}={header}: the header has no such column (it has: {', '.join(map(repr, names))})"
            )
        if len(hits) > 1:
            raise ValueError(
                f"--columns {column}={header}: the header names it at positions {' and '.join(map(str, hits))}; "
                f"choose one by its position: --columns {column}=#{hits[0]}"
            )
        if (other := next((named for named, at in positions.items() if at == hits[0]), None)) is not None:
            raise ValueError(
                f"--columns {column}={header}: column {hits[0]} ({names[hits[0] - 1].strip()!r}) is {other} "
                "already; a column stands for one of them"
            )
        positions[column] = hits[0]
    taken = set(positions.values())
    for column, names_of in chain(aliases.items(), fallback.items()):
        if column in positions:
            continue
        hits = [i for i, name in enumerate(names, 1) if i not in taken and normalise(name) in names_of]
        if len(hits) > 1:
            found = " and ".join(f"{i} ({names[i - 1].strip()!r})" for i in hits)
            hit = next((i for i in hits if normalise(names[i - 1]) in preferred.get(column, ())), hits[0])
            first = names[hit - 1].strip()
            # a name the others share picks no column: its position does
            alike = [i for i in hits if i != hit and normalise(names[i - 1]) == normalise(first)]
            chosen = f"#{hit}" if alike else first
            raise ValueError(f"columns {found} both look like {column}; choose one with --columns {column}={chosen}")
        if hits:
            positions[column] = hits[0]
            taken.add(hits[0])
    missing = [column for column in required if column not in positions]
    if missing:
        fix = ",".join(f"{column}=HEADER" for column in missing)
        raise NotTheHeader(
            f"missing column(s) {', '.join(missing)} (the header has: {', '.join(map(repr, names))}); "
            f"name them with --columns {fix}"
        )
    extras = extra_names(names, taken, reserved)
    return ColumnMap(names, dict(sorted(positions.items(), key=lambda item: item[1])), extras)


def extra_names(names: tuple[str, ...], taken: set[int], reserved: frozenset[str] = RESERVED) -> dict[int, str]:
    """The warehouse names of the columns the model does not use: the header's own, made
    unique (DuckDB compares names without case) and never one of the warehouse's (`reserved`)."""
    used = {name.casefold() for name in reserved}
    # staging's working columns of a feature of the input's own are named by its position
    # (feature_1_number): reserved for the first, they are for every position a feature can have
    parts = {m.group(1) for name in used if (m := re.fullmatch(r"feature_1_(\w+)", name))}
    used |= {f"feature_{i}_{part}" for i in range(1, len(names) + 1) for part in parts}
    extras = {}
    for position, name in enumerate(names, 1):
        if position in taken:
            continue
        extras[position] = unique_name(name.strip() or f"column_{position}", used)
    return extras


def unique_name(base: str, used: set[str]) -> str:
    """`base`, else `base_2`, `base_3`, ...: the first whose case-folded form is not in `used`,
    which it joins."""
    candidate, n = base, 1
    while candidate.casefold() in used:
        n += 1
        candidate = f"{base}_{n}"
    used.add(candidate.casefold())
    return candidate


def find_feature(names: tuple[str, ...], columns: ColumnMap, request: Request) -> int:
    """The header position a `--features` name stands for: the column of that name (or of that
    warehouse name), else the one whose normalised name is the same."""
    if request.classic:
        return columns.positions[CLASSIC[request.classic].column]
    warehouse = {name.casefold(): position for position, name in columns.extras.items()}
    warehouse |= {column: position for column, position in columns.positions.items()}
    hits = [i for i, name in enumerate(names, 1) if name.strip() == request.name]
    hits = hits or [p for name, p in warehouse.items() if name == request.name.casefold()]
    hits = hits or [i for i, name in enumerate(names, 1) if normalise(name) == normalise(request.name)]
    if not hits and (position := POSITION.fullmatch(request.name)) and 1 <= int(position[1]) <= len(names):
        hits = [int(position[1])]  # `#7`: a header's seventh column, as --columns takes it
    column, colon, transform = request.name.rpartition(":")
    named = column.casefold() in CLASSIC or column.casefold() in warehouse or POSITION.fullmatch(column)
    if not hits and colon and (named or any(normalise(name) == normalise(column) for name in names)):
        known = ", ".join(f":{name}" for name in TRANSFORMS if name != "none")
        raise ValueError(f"--features {request.name}: :{transform} is no transform of {column!r} (there is {known})")
    if not hits:
        raise NoSuchFeature(
            f"--features {request.name}: the header has no such column (it has: {', '.join(map(repr, names))})"
        )
    if len(hits) > 1:
        transform = "" if request.transform == "none" else f":{request.transform}"
        raise ValueError(
            f"--features {request.name}: the header names it at positions {' and '.join(map(str, sorted(hits)))}; "
            f"choose one by its position: --features #{min(hits)}{transform}"
        )
    return hits[0]


def resolve_features(
    columns: ColumnMap,
    requests: tuple[Request, ...],
    income_scale: float,
    orders: bool = False,
    currency: str | None = None,
    customers: bool = True,
) -> tuple[Feature, ...]:
    """The declaration of the model from `--features` and the header; ValueError naming what no
    build can use: the id or a text column as a feature, one column twice. With an orders file
    (`orders`), a name of customer_rfm's measures (recency, frequency, monetary, ...) is that
    measure, its amounts in `currency`; without a customer file (`customers` false) only those
    are features."""
    by_position = {position: column for column, position in columns.positions.items()}
    features: list[Feature] = []
    seen: dict[int, str] = {}
    measures: dict[str, str] = {}
    arguments: set[str] = set()
    for number, request in enumerate(requests, 1):
        if orders and (measure := request.measure):
            if measure in measures:
                raise ValueError(f"--features names {measure!r} twice ({measures[measure]!r} and {request.name!r})")
            measures[measure] = request.name
            features.append(order_measure(measure, number, request.transform, currency))
            arguments.add(measure)
            continue
        if not customers:
            raise ValueError(
                f"--features {request.name}: with only an orders file, the features are the orders' measures: "
                "recency, frequency, monetary, or days_since_last_order, order_count, total_spend, average_spend, "
                "tenure_days, recency_score, frequency_score, monetary_score (a customer file, --input, has others)"
            )
        position = find_feature(columns.names, columns, request)
        header = columns.names[position - 1].strip()
        if position in seen:
            raise ValueError(f"--features names {header!r} twice ({seen[position]!r} and {request.name!r})")
        seen[position] = request.name
        column = by_position.get(position)
        kind = CLASSIC_BY_COLUMN.get(column or "")
        if column is not None and kind is None:
            what = "the customer id" if column == "customer_id" else f"the {column} column (text)"
            raise ValueError(f"--features {request.name}: {header!r} is {what}, not a measure to segment on")
        if kind is not None:
            scale = income_scale if kind == "income" else 1.0
            feature = classic(kind, number, request.transform, scale)
            arguments.add(feature.argument)
        else:
            argument = argument_name(columns.extras[position], arguments)
            # under its warehouse name (a header named as a warehouse column travels renamed),
            # labelled as the file names it
            feature = replace(own_column(columns.extras[position], number, request.transform, argument), label=header)
        features.append(replace(feature, source_column=header))
    return tuple(features)
