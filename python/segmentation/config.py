"""Every setting of a build, in one place.

The command line fills a `Settings`; everything else receives it and reads, never guesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path

from .features import DEFAULT as DEFAULT_FEATURES
from .features import RFM_DEFAULT, Request, parse

PACKAGE_DIR = Path(__file__).resolve().parent
# The checkout the package runs from: python/segmentation is two folders below it.
PROJECT_DIR = PACKAGE_DIR.parents[1]


def shipped(folder: str) -> Path:
    """A top-level folder of the checkout the package needs (sql/, data/): installed, the
    package carries its own copy (pyproject.toml maps them into it); in a checkout, the
    checkout's own, so an edit takes effect at once."""
    inside = PACKAGE_DIR / folder
    return inside if inside.is_dir() else PROJECT_DIR / folder


SQL_DIR = shipped("sql")
SAMPLE_INPUT = shipped("data") / "sample_customers.csv"
SAMPLE_ORDERS = shipped("data") / "sample_orders.csv"
# What a build publishes, relative to the current folder (as dbt finds its project there): run
# from the checkout, its warehouse/ and reports/; installed, the folder the command runs in.
WAREHOUSE = Path("warehouse", "mall.duckdb")
REPORTS = Path("reports")

# Warehouse column -> the input header names it may have, compared after normalising case,
# spaces, punctuation and a bracketed unit (`columns.normalise`); the first is the classic
# file's. `Genre` is the spelling of one widely shared copy of the file. `--columns` maps any
# other name.
INPUT_COLUMNS = {
    "customer_id": (
        "CustomerID",
        "Customer ID",
        "customer_id",
        "id",
        "client id",
        "member id",
        "customer",
        "customer number",
        "customer no",
        "cust id",
        "client number",
        "member number",
        "user id",
        # German, French, Spanish, Portuguese, Italian
        *("Kundennummer", "Kunden-ID", "Kundennr", "numéro client", "id client", "id cliente"),
        *("número de cliente", "código cliente", "codice cliente"),
    ),
    "gender": (
        "Gender",
        "Genre",
        "sex",
        # German, French, Spanish, Portuguese, Italian
        *("Geschlecht", "Sexe", "Sexo", "Género", "Genero", "Gênero", "Sesso", "Genere"),
    ),
    "age": ("Age", "age years", "Alter", "Âge", "Edad", "Idade", "Età"),
    "annual_income_k": (
        "Annual Income (k$)",
        "annual income",
        "income",
        "annual_income_k",
        "income k",
        "yearly income",
        "annual income usd",
        "annual income k",
        "income usd",
        # German, French, Spanish, Portuguese, Italian
        *("Jahreseinkommen", "Einkommen", "revenu annuel", "revenu", "ingresos anuales", "ingresos"),
        *("renda anual", "renda", "rendimento anual", "reddito annuo", "reddito"),
    ),
    "spending_score": (
        "Spending Score (1-100)",
        "spending score",
        "spending",
        "spend score",
        # German, French, Spanish, Portuguese, Italian
        *("Ausgaben-Score", "Ausgabenscore", "score de dépenses", "puntuación de gasto"),
        *("pontuação de gastos", "punteggio di spesa"),
        "spending_score",
    ),
}

# Names a column is taken under only when no column has one of its names above: a salutation
# (Frau/Herr, Mme/M.) says the gender where a CRM export has no gender column.
FALLBACK_INPUT_COLUMNS = {"gender": ("Anrede", "Civilité", "Civilite", "salutation", "Tratamiento")}

# The orders file's columns (`--orders`), found by name as the customer file's are: a shop's
# export (Shopify, WooCommerce), a till's transactions, an invoice list. The id, the date and an
# amount are needed; without an amount, a unit price and a quantity make one (an invoice line).
# An invoice line's or till's own total, after its discount (never unit price times quantity):
# beside an order's total, which a line-item export repeats on each of the order's lines, the
# amount a line adds.
LINE_AMOUNTS = (
    "line total",
    "line amount",
    "lineitem total",
    "item total",
    "extended price",
    "Zeilensumme",
    "regeltotaal",
)
ORDER_COLUMNS = {
    # not a bare `id`: in an orders export (Shopify's `Id`) it is the order's
    "customer_id": tuple(name for name in INPUT_COLUMNS["customer_id"] if name != "id"),
    "order_id": (
        "order id",
        "order_id",
        "order number",
        "order no",
        "order",
        "invoice",
        "invoice no",
        "invoice number",
        "transaction id",
        "receipt",
        "receipt number",
        # German, French, Spanish, Portuguese, Italian
        *("Bestellnummer", "Rechnungsnummer", "numéro de commande", "número de pedido", "numero ordine"),
    ),
    "order_date": (
        "order date",
        "order_date",
        "date",
        "created at",
        "invoice date",
        "purchase date",
        "transaction date",
        "ordered at",
        "order time",
        *("Bestelldatum", "Datum", "date de commande", "fecha", "fecha de pedido", "data do pedido", "data"),
    ),
    "amount": (
        "amount",
        "total",
        "order total",
        "total amount",
        "total price",
        "order amount",
        "order value",
        "revenue",
        "sales",
        *LINE_AMOUNTS,
        *("net amount", "net total", "grand total", "amount paid", "total paid", "sale amount", "sales amount"),
        # German, French, Spanish, Portuguese, Italian, Dutch
        *("Betrag", "Umsatz", "Gesamtbetrag", "Gesamtpreis", "Summe", "Endbetrag", "Rechnungsbetrag"),
        *("montant", "montant total", "montant TTC", "total TTC", "prix total"),
        *("importe", "importe total", "precio total", "valor", "valor total", "preço total"),
        *(
            "importo",
            "importo totale",
            "totale",
            "prezzo totale",
            "bedrag",
            "totaal",
            "totaalbedrag",
            "totaalprijs",
        ),
    ),
    "quantity": (
        "quantity",
        "qty",
        "items",
        "lineitem quantity",
        *("Menge", "Anzahl", "quantité", "cantidad", "quantidade", "quantità"),
    ),
    "unit_price": (
        "unit price",
        "unit_price",
        "price",
        "item price",
        "lineitem price",
        *("Preis", "Einzelpreis", "prix unitaire", "precio unitario", "preço unitário", "prezzo unitario"),
    ),
    "currency": ("currency", "currency code", *("Währung", "devise", "moneda", "moeda", "valuta")),
    "status": (
        "status",
        "order status",
        "financial status",
        "state",
        *("Bestellstatus", "statut", "estado", "stato"),
    ),
}
# A shop's export without a customer id names the customer by email address.
FALLBACK_ORDER_COLUMNS = {"customer_id": ("email", "customer email", "billing email", "e-mail")}
ORDER_ONLY_COLUMNS = tuple(column for column in ORDER_COLUMNS if column != "customer_id")

# Delimiters the loader recognises in the header line; the first is the default.
DELIMITERS = (",", ";", "\t", "|")
DUPLICATES_POLICIES = ("reject", "first", "last")


@dataclass(frozen=True)
class ClusterParams:
    """What K-Means reads of the settings (`Settings.cluster_params`, by field name): the same
    customers with the same parameters are the same fit, whatever the paths."""

    k: int | None  # None: the K with the best silhouette
    k_range: tuple[int, int]
    seed: int
    n_init: int
    silhouette_rows: int  # silhouette is quadratic in rows: score a seeded subset beyond this
    stability_seeds: int  # refits with other seeds, compared with the model
    # a cluster keeps the previous run's number when its centroid moved at most this far
    # (in standard deviations of the current scaling)
    match_distance: float


@dataclass(frozen=True)
class Settings:
    # the customer file; None: the customers are the ids of the orders file (`--orders` alone)
    input_path: Path | None = SAMPLE_INPUT
    # the orders file (`--orders`): recency, frequency and spend per customer (customer_rfm)
    orders_path: Path | None = None
    # the day recency and tenure are counted to (`--as-of`); None: the latest order's date.
    # Orders after it are not counted.
    as_of: date | None = None
    warehouse_path: Path = WAREHOUSE
    reports_dir: Path = REPORTS
    k: int | None = 5  # None: pick K from the silhouette ("--k auto")
    k_range: tuple[int, int] = (1, 10)  # the elbow and silhouette are computed over these K
    # what K-Means reads (`--features`): classic names (income, spending, age), any numeric
    # input columns, or the orders' measures (recency, frequency, monetary, ...), each
    # optionally `:log`; `features.parse` reads them. None: income and spending, or with an
    # orders file recency, frequency and monetary:log.
    features: tuple[str, ...] | None = None
    seed: int = 42
    n_init: int = 10
    # Stability: K-Means is refitted with this many other seeds and compared with the model.
    stability_seeds: int = 3
    # Below this adjusted Rand index against the refits, the segmentation is flagged unstable.
    min_stability: float = 0.8
    # A segment holding a smaller share of the customers than this is flagged as too small.
    min_segment_share: float = 0.02
    # Flags (unstable, too small) fail the build instead of only being reported.
    strict: bool = False
    # A cluster keeps the previous run's number when its centroid moved at most this many
    # standard deviations; segment snapshots of this many runs (this one included) are kept.
    match_distance: float = 0.5
    keep_snapshots: int = 10
    # K is chosen and K-Means fitted on at most this many customers (a seeded sample), then
    # every customer is assigned to its nearest centroid in SQL. Fewer customers: all of them.
    sample_size: int = 20_000
    # Silhouette is quadratic in rows: beyond this many it is scored on a seeded subset.
    silhouette_rows: int = 3_000
    # What to keep of an id's records that differ (`--duplicates`): none ("reject"), the
    # first or the last. Records with the same values are one customer whatever this says.
    duplicates: str = "reject"
    # Stop the build when more than this share of data rows is rejected.
    max_reject_share: float = 0.5
    # DuckDB 1.x (bundled by many BI drivers) cannot open files in a newer storage format.
    storage_compatibility_version: str = "v1.0.0"
    # DuckDB's own memory; beyond it, it spills to a folder beside the build file. Keeps the
    # build's memory flat as the input grows.
    memory_limit: str = "600MB"
    # How long a run waits for another run on the same warehouse to finish.
    lock_timeout_s: float = 60.0
    sql_dir: Path = SQL_DIR
    # Reading the input: warehouse column -> header name (`--columns`), the text encoding
    # (None: detected), the workbook sheet (None: the first) and the income unit (None: from
    # the header, else from the values).
    columns: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    sheet: str | None = None
    income_unit: str | None = None
    # Warn (and flag the report) when more than this share of data rows is rejected.
    warn_reject_share: float = 0.05
    # The dataset this build belongs to ("--dataset"); None: the previous build's when this is
    # plausibly the same customers, else a new one named after the input file.
    dataset: str | None = None

    @property
    def feature_requests(self) -> tuple[Request, ...]:
        chosen = self.features or (RFM_DEFAULT if self.orders_path is not None else DEFAULT_FEATURES)
        return parse(chosen)

    @property
    def source_path(self) -> Path:
        """The file a message about the input names: the customer file, else the orders file."""
        path = self.input_path if self.input_path is not None else self.orders_path
        if path is None:
            raise ValueError("a build needs a customer file, an orders file or both")
        return path

    @property
    def cluster_params(self) -> ClusterParams:
        return ClusterParams(**{f.name: getattr(self, f.name) for f in fields(ClusterParams)})

    def fitted_rows(self, customers: int) -> tuple[int, int]:
        """How many of `customers` K-Means is fitted on, and how many of those silhouette scores."""
        sample = min(customers, self.sample_size)
        return sample, min(sample, self.silhouette_rows)

    def __post_init__(self) -> None:
        for name in ("input_path", "orders_path", "warehouse_path", "reports_dir"):  # build() takes str too
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)))
        self.source_path  # noqa: B018 (raises when there is no input at all)
        if self.keep_snapshots < 2:
            raise ValueError("keep_snapshots must be at least 2: this run's snapshot and the one it is compared with")
