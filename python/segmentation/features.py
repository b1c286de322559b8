"""The model's features, declared once: which input columns K-Means reads, in which unit, through
which transform, within which range.

`--features` names them (`income,spending`, or any numeric columns of the input:
`"Total Spent:log,Total Orders"`); the loader resolves the names against the header into a
`Feature` each, and the build stores them as the table `model_features`. Staging, the feature
view, K-Means, the assignment, the labels, the profiles, the macros, the charts and the exported
scoring SQL all read that declaration: a column the code has never named is a feature like any
other.

The classic study's three columns keep their own rules (a 1-100 score, whole years, an income
that may be written in dollars); any other column is a number, finite and at most 10^15 in size.
With an orders file, the measures `customer_rfm` computes per customer are features too
(`recency,frequency,monetary:log`, or any of its measures by name): kinds `recency`,
`frequency`, `monetary` and `order`, read from `customer_rfm` rather than from the input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

MAX_FEATURES = 10
# Larger numbers are refused: any engine and spreadsheet holds them exactly, and their squares
# sum without overflow when they are scaled (1e19 breaks a bigint, 1e155 squared is infinite).
MAX_MAGNITUDE = 1e15


@dataclass(frozen=True)
class Transform:
    """A change of scale applied before standardising, the same in NumPy and in SQL (NumPy's
    functions by name: the command line reads this module before it imports NumPy)."""

    name: str
    meaning: str  # in words, for the docs and the report
    forward: str  # a NumPy function
    inverse: str
    sql: str  # `{}` is the value
    lowest: float | None  # the smallest value it takes


TRANSFORMS = {
    "none": Transform("none", "as it is", "positive", "positive", "{}", None),
    # log(1 + x): for money and counts, which are skewed; defined from 0 on
    "log": Transform("log", "log(1 + x)", "log1p", "expm1", "ln(1 + {})", 0.0),
}


@dataclass(frozen=True)
class Kind:
    """A column with rules of its own: the classic study's income, spending score and age."""

    column: str  # its warehouse name
    label: str
    unit: str
    lowest: float | None
    highest: float | None


CLASSIC = {
    "income": Kind("annual_income_k", "annual income", "k$", 0, None),
    "spending": Kind("spending_score", "spending score", "1-100", 1, 100),
    "age": Kind("age", "age", "years", 1, 120),
}
CLASSIC_BY_COLUMN = {kind.column: name for name, kind in CLASSIC.items()}
DEFAULT = ("income", "spending")


@dataclass(frozen=True)
class Measure:
    """A measure of `customer_rfm` a model may read: what the orders say of a customer."""

    kind: str  # recency, frequency, monetary (the RFM names read them), or order
    label: str
    unit: str | None  # None: the orders' currency (monetary amounts)
    lowest: float | None
    highest: float | None = None


# customer_rfm's measures, by column; a customer without orders has 0 orders and spend, and no
# recency, tenure or scores (a model reading those cannot place them: staging says so)
ORDER_MEASURES = {
    "days_since_last_order": Measure("recency", "days since last order", "days", 0),
    "order_count": Measure("frequency", "orders", "orders", 0),
    "total_spend": Measure("monetary", "total spend", None, 0),
    "average_spend": Measure("order", "average order", None, 0),
    "tenure_days": Measure("order", "days since first order", "days", 0),
    "recency_score": Measure("order", "recency score", "1-5", 1, 5),
    "frequency_score": Measure("order", "frequency score", "1-5", 1, 5),
    "monetary_score": Measure("order", "monetary score", "1-5", 1, 5),
}
# the names marketers use for them
ORDER_ALIASES = {
    "recency": "days_since_last_order",
    "frequency": "order_count",
    "monetary": "total_spend",
    "tenure": "tenure_days",
    "average order": "average_spend",
}
ORDER_KINDS = ("recency", "frequency", "monetary", "order")
# customer_rfm's columns each customer carries (stg_customers, customer_segments, the segmented
# CSV) when there is an orders file
ORDER_COLUMNS_CARRIED = (
    "first_order_date",
    "last_order_date",
    "days_since_last_order",
    "order_count",
    "total_spend",
    "average_spend",
    "refunded_amount",
    "items",
    "tenure_days",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "rfm_score",
)
RFM_DEFAULT = ("recency", "frequency", "monetary:log")


@dataclass(frozen=True)
class Feature:
    """One feature as the build uses it: a row of `model_features`."""

    position: int  # 1-based, the order K-Means scales them in
    feature: str  # the warehouse column: a classic one, or the input's own name
    source_column: str  # the input header it is read from
    kind: str  # income, spending, age, number, or an orders measure (recency, frequency, monetary, order)
    label: str  # how charts and the report name it
    unit: str | None  # None: the input's own
    transform: str
    accepted_min: float | None  # in the warehouse's unit; None: no bound
    accepted_max: float | None
    input_scale: float  # input value x this = warehouse value (an income in dollars: 0.001)
    argument: str  # its name as an argument of the scoring macros

    @property
    def spec(self) -> str:
        """How `--features` writes it: `annual_income_k`, `Total Spent:log`."""
        return self.feature if self.transform == "none" else f"{self.feature}:{self.transform}"

    @property
    def ident(self) -> str:
        """Its column as a quoted SQL identifier."""
        return '"' + self.feature.replace('"', '""') + '"'

    @property
    def scaled_ident(self) -> str:
        """Its standardised centre's column in cluster_centroids, as a quoted identifier."""
        return '"' + f"{self.feature}_scaled".replace('"', '""') + '"'

    @property
    def literal(self) -> str:
        """Its column's name as a quoted SQL string."""
        return "'" + self.feature.replace("'", "''") + "'"

    @property
    def value_sql(self) -> str:
        """SQL for the value K-Means sees (before standardising) of `{}`, in warehouse units."""
        return TRANSFORMS[self.transform].sql


@dataclass(frozen=True)
class Request:
    """A feature as `--features` names it, before the header is known."""

    name: str
    transform: str = "none"

    @property
    def classic(self) -> str | None:
        """income, spending or age when it names one by its short or warehouse name."""
        return self.name if self.name in CLASSIC else CLASSIC_BY_COLUMN.get(self.name)

    @property
    def measure(self) -> str | None:
        """The customer_rfm column it names (recency, frequency, monetary, or a column's name)."""
        name = " ".join(self.name.casefold().replace("_", " ").split())
        column = ORDER_ALIASES.get(name, name.replace(" ", "_"))
        return column if column in ORDER_MEASURES else None


def parse(text: str | Iterable[str]) -> tuple[Request, ...]:
    """`income,spending` or `"Total Spent:log",Total Orders` -> requests; a name holding a
    comma is quoted. A name ends in `:log` to be log-transformed; raise ValueError on a list
    no build could use."""
    items = re.findall(r'(?:[^,"]|"[^"]*")+', text) if isinstance(text, str) else list(text)
    requests = [request(item) for item in items if item.strip()]
    if not requests:
        raise ValueError("name at least one feature")
    if len(requests) > MAX_FEATURES:
        raise ValueError(f"{len(requests)} features named; at most {MAX_FEATURES}")
    return tuple(requests)


def request(item: str) -> Request:
    name, colon, transform = item.strip().rpartition(":")
    if not colon or transform.strip().lower() not in TRANSFORMS:
        name, transform = item.strip(), "none"
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1].strip()
    if not name:
        raise ValueError(f"{item.strip()!r} names no column")
    return Request(name, transform.strip().lower())


def classic(kind: str, position: int, transform: str = "none", scale: float = 1.0) -> Feature:
    """A classic column, with its own rules (its accepted range, from 0 with a log)."""
    rules = CLASSIC[kind]
    lowest = rules.lowest
    if TRANSFORMS[transform].lowest is not None:
        lowest = max(lowest or 0.0, TRANSFORMS[transform].lowest or 0.0)
    return Feature(
        position,
        rules.column,
        rules.column,
        kind,
        rules.label,
        rules.unit,
        transform,
        lowest,
        rules.highest,
        scale,
        rules.column,
    )


def own_column(column: str, position: int, transform: str, argument: str) -> Feature:
    """A column of the input's own: any finite number (from 0 with a log)."""
    return Feature(
        position, column, column, "number", column, None, transform, TRANSFORMS[transform].lowest, None, 1.0, argument
    )


def order_measure(column: str, position: int, transform: str = "none", currency: str | None = None) -> Feature:
    """A measure of customer_rfm (from 0 with a log); amounts in the orders' currency."""
    rules = ORDER_MEASURES[column]
    lowest = rules.lowest
    if TRANSFORMS[transform].lowest is not None:
        lowest = max(lowest or 0.0, TRANSFORMS[transform].lowest or 0.0)
    unit = rules.unit or currency
    return Feature(
        position, column, column, rules.kind, rules.label, unit, transform, lowest, rules.highest, 1.0, column
    )


def default_features() -> tuple[Feature, ...]:
    """The classic model's declaration, before any file is read (the DAG is parsed with it)."""
    return tuple(classic(kind, position) for position, kind in enumerate(DEFAULT, 1))


def argument_name(name: str, used: set[str]) -> str:
    """'Total Spent' -> total_spent: an identifier for a macro argument, unique among `used`."""
    base = re.sub(r"\W+", "_", name.casefold()).strip("_") or "feature"
    base = base if not base[0].isdigit() else f"f_{base}"
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}_{n}"
    used.add(candidate)
    return candidate


def is_rfm(features: Iterable[Feature]) -> bool:
    """A model on the orders' recency and frequency (spend beside them, or not): its segments
    take the names marketers give RFM segments (Champions, At Risk, ...)."""
    kinds = {f.kind for f in features}
    return {"recency", "frequency"} <= kinds


def is_classic_pair(features: Iterable[Feature]) -> bool:
    """The study's model: income and spending (age beside them), untransformed. Its labels,
    personas, playbook and mall wording apply to it alone."""
    kinds = [(f.kind, f.transform) for f in features]
    return kinds[:2] == [("income", "none"), ("spending", "none")] and kinds[2:] in ([], [("age", "none")])


# `model_features`, as `create table` declares it
TABLE = (
    "position integer, feature varchar, source_column varchar, kind varchar, label varchar, unit varchar, "
    "transform varchar, accepted_min double, accepted_max double, input_scale double, argument varchar, "
    "spec varchar, transform_meaning varchar"
)


def declaration(features: Iterable[Feature]) -> list[tuple]:
    """`model_features`' rows, in position order (the columns of `TABLE`)."""
    return [(*asdict(f).values(), f.spec, TRANSFORMS[f.transform].meaning) for f in features]


def bound(value: float | None) -> str:
    """An accepted bound for messages: 0, 1, 100, 0.5."""
    return "infinity" if value is None or math.isinf(value) else f"{value:g}"


# `model_features`' columns that make a Feature, in its fields' order
COLUMNS = ", ".join(Feature.__dataclass_fields__)


def from_rows(rows: Iterable[tuple]) -> tuple[Feature, ...]:
    """Features from `select {COLUMNS} from model_features order by position`."""
    return tuple(Feature(*row) for row in rows)
