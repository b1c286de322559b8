"""The Python step of the DAG: fits the scaler and K-Means on (a sample of) the feature view
and writes back the model and, as a second model of the DAG, the evidence for it as tables;
SQL assigns every customer (int_clustered_customers) in between. The fitting itself
(`clustering.model_tables`) goes through the build's runner (`workers`): this module reads and
writes the database only, and never imports scikit-learn."""

from __future__ import annotations

import duckdb
import pandas as pd

from .config import Settings
from .db import customer_sample, first_row, model_features, quote_ident
from .errors import InputError, PipelineError, TooFewCustomers
from .features import Feature
from .workers import CLUSTERING, Result, Runner

INPUTS = (
    "customer_features",
    "model_features",
    "dataset_match",
    "previous_centroids",
    "previous_runs",
    "previous_segment_history",
)
MODEL_OUTPUTS = ("cluster_centroids", "feature_scaling")  # what assigning every customer needs
EVIDENCE_OUTPUTS = ("k_selection", "customer_silhouettes", "cluster_stability")
# The evidence is taken once every customer is assigned: with K given it is computed meanwhile
# (in a worker process, from the command), not on the way to the assignment.
EVIDENCE_INPUTS = ("cluster_centroids", "int_clustered_customers")


def previous_model(
    con: duckdb.DuckDBPyConnection, features: tuple[Feature, ...]
) -> tuple[pd.DataFrame | None, frozenset[int]]:
    """The previous run's centroids, when it clustered on the same features (numbers are
    matched only between like models), and every cluster number an earlier run of this
    dataset used. A build not comparable with the previous one (dataset_match) numbers its
    clusters afresh: numbers never carry across datasets."""
    if not con.execute("select is_comparable from dataset_match").fetchall()[0][0]:
        return None, frozenset()
    used = frozenset(
        row[0]
        for row in con.execute(
            "select distinct cluster_id from previous_segment_history where run_id in "
            "(select run_id from previous_runs where dataset = (select dataset from dataset_match))"
        ).fetchall()
    )
    same_features = con.execute(
        "select features = $features from previous_runs order by run_id desc limit 1",
        {"features": ",".join(f.spec for f in features)},
    ).fetchall()
    if not same_features or not same_features[0][0]:
        return None, used
    previous = con.sql("select * from previous_centroids order by cluster_id").df()
    return previous.dropna(axis="columns", how="all"), used  # without the features it did not use


def check_varies(
    con: duckdb.DuckDBPyConnection, settings: Settings, features: tuple[Feature, ...], sample: pd.DataFrame
) -> None:
    """A feature every customer has the same value of separates nothing: refuse it by name. Only
    a feature the sample holds one value of is looked up in every customer."""
    for feature in features:
        if len(sample) < 2 or sample[feature.feature].nunique() > 1:
            continue
        low, high = first_row(con, f"select min({feature.ident}), max({feature.ident}) from customer_features")
        if low == high:
            named = (
                f"--features {feature.source_column}"
                if settings.features is not None
                else f"{feature.source_column} (a feature of the default model; choose others with --features)"
            )
            raise InputError(
                f"{settings.source_path}: {named}: every customer has the same value "
                f"({low:g}): a feature that does not vary cannot separate segments"
            )


class Fitting:
    """The Python step as two models of the DAG: `model` fits and writes the model, `evidence`
    later writes the evidence for it (the K range, silhouettes, refits with other seeds), which
    with K given is asked for at once and computed while the build assigns the customers."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.pending: Result | None = None

    def model(self, con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, pd.DataFrame]:
        features = model_features(con)
        # with fewer customers than the sample size it is all of them, and the fit is exact
        columns = ", ".join(["customer_id", *(quote_ident(f.feature) for f in features)])
        sample = customer_sample(con, "customer_features", columns, settings.sample_size, settings.seed)
        check_varies(con, settings, features, sample)
        # what K-Means needs and nothing else (not the paths): the same customers and parameters
        # are the same call, whatever the build
        arguments = (sample, features, settings.cluster_params, *previous_model(con, features))
        if settings.k is None:  # choosing K takes the evidence: all at once
            tables = self.fitted(con, settings, self.runner.call(CLUSTERING, "model_tables", *arguments))
            self.pending = lambda: {table: tables[table] for table in EVIDENCE_OUTPUTS}
            return {table: tables[table] for table in MODEL_OUTPUTS}
        model = self.runner.call(CLUSTERING, "model_tables", *arguments, MODEL_OUTPUTS)
        self.pending = self.runner.call(CLUSTERING, "model_tables", *arguments, EVIDENCE_OUTPUTS)
        return self.fitted(con, settings, model)

    def evidence(self, con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, pd.DataFrame]:
        if self.pending is None:
            raise PipelineError("the evidence for the model was asked for before the model")
        return self.fitted(con, settings, self.pending)

    @staticmethod
    def fitted(con: duckdb.DuckDBPyConnection, settings: Settings, result: Result) -> dict[str, pd.DataFrame]:
        """The tables a call gives back; a sample too small for K said as the input's fault."""
        try:
            return result()
        except TooFewCustomers as e:
            customers = first_row(con, "select count(*) from customer_features")[0]
            if e.had is not None and settings.sample_size < customers:  # the sample, not the input, is too small
                raise InputError(
                    f"{settings.source_path}: {e.need}, the sample has {e.had} of the {customers:,} customers "
                    f"(--sample-size {settings.sample_size}); raise --sample-size"
                ) from None
            raise InputError(f"{settings.source_path}: {e}") from None
