"""Any numeric columns are features: `--features` names the input's own measures (spend, order
counts, visits, a balance), each optionally log-transformed, and one declaration
(`model_features`) drives staging, K-Means, the labels, the profiles, the scoring macros and
the exported SQL. Files are generated here; the classic study's columns keep their own rules."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from conftest import UNDESCRIBED_COLUMNS, command_in_process, pipeline_command, query, run_build
from segmentation.config import Settings
from segmentation.db import model_features
from segmentation.errors import InputError
from segmentation.features import MAX_FEATURES
from segmentation.sample_data import generate_customers

# Customer types a shop sees, as (share, spend mean, orders mean, days since last order mean)
TYPES = ((0.3, 2_400, 12, 20), (0.3, 300, 2, 200), (0.2, 900, 5, 60), (0.2, 5_000, 3, 300))


def shop_export(rows: int = 600, seed: int = 5) -> pd.DataFrame:
    """A Shopify-like customers export: money with a dollar sign and thousands separators,
    counts, days, an e-mail and a yes/no column."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(len(TYPES), size=rows, p=[t[0] for t in TYPES])
    spend = np.array([TYPES[k][1] for k in kinds]) * rng.lognormal(0, 0.25, rows)
    orders = np.maximum(1, np.round(np.array([TYPES[k][2] for k in kinds]) * rng.lognormal(0, 0.2, rows)))
    days = np.round(np.array([TYPES[k][3] for k in kinds]) * rng.lognormal(0, 0.2, rows))
    return pd.DataFrame(
        {
            "Customer ID": [f"cus_{i:05d}" for i in range(rows)],
            "Email": [f"person{i}@example.com" for i in range(rows)],
            "Accepts Marketing": rng.choice(["yes", "no"], size=rows),
            "Total Spent": [f"${value:,.2f}" for value in spend],
            "Total Orders": orders.astype(int),
            "Days Since Last Order": days.astype(int),
        }
    )


def write_frame(directory: Path, frame: pd.DataFrame, name: str = "customers.csv") -> Path:
    path = directory / name
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def shop_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("shop")
    settings = Settings(
        input_path=write_frame(root, shop_export()),
        warehouse_path=root / "shop.duckdb",
        reports_dir=root / "reports",
        features=("Total Spent:log", "Total Orders", "Days Since Last Order"),
        k=4,
    )
    run_build(settings)
    return settings


def test_the_declaration_is_stored_as_the_model_reads_it(shop_build):
    rows = query(
        shop_build.warehouse_path,
        "select position, feature, source_column, kind, transform, accepted_min, accepted_max, spec "
        "from model_features order by position",
    )
    assert rows == [
        (1, "Total Spent", "Total Spent", "number", "log", 0.0, None, "Total Spent:log"),
        (2, "Total Orders", "Total Orders", "number", "none", None, None, "Total Orders"),
        (3, "Days Since Last Order", "Days Since Last Order", "number", "none", None, None, "Days Since Last Order"),
    ]
    columns = query(
        shop_build.warehouse_path,
        "select column_name from duckdb_columns() where table_name = 'customer_features' order by column_index",
    )
    assert [c for (c,) in columns] == ["customer_id", "Total Spent", "Total Orders", "Days Since Last Order"]
    runs = query(shop_build.warehouse_path, "select features from pipeline_runs")
    assert runs == [("Total Spent:log,Total Orders,Days Since Last Order",)]


def test_every_column_a_build_adds_is_described(shop_build):
    """The file's own columns, the features and their scaled centres carry a comment, as the
    declared ones do: what a BI tool shows beside each column."""
    path = shop_build.warehouse_path
    assert query(path, UNDESCRIBED_COLUMNS) == []
    comments = dict(
        query(path, "select column_name, comment from duckdb_columns() where table_name = 'customer_segments'")
    )
    assert comments["Total Orders"] == "Total Orders (the input's 'Total Orders'), a feature."
    assert comments["Email"] == "The input's column 'Email', as written."


def test_labels_name_the_features_bands_and_never_the_mall(shop_build):
    labels = query(shop_build.warehouse_path, "select segment_label, persona, income_band from segment_summary")
    assert len(labels) == 4 and len({label for label, _, _ in labels}) == 4
    for label, persona, band in labels:
        parts = label.split(" (")[0].split(" · ")
        assert [part.split(" ", 1)[1] for part in parts] == ["Total Spent", "Total Orders", "Days Since Last Order"]
        assert {part.split(" ", 1)[0] for part in parts} <= {"High", "Moderate", "Low"}
        assert persona is None and band is None
        assert not any(word in label for word in ("Income", "Spending", "Customers"))
    # the big spenders who stopped coming back are told apart from the loyal ones
    spenders = query(
        shop_build.warehouse_path,
        "select segment_label from segment_feature_profiles where feature = 'Total Spent' and band = 'High'",
    )
    assert spenders


def test_profiles_have_a_row_per_segment_and_feature(shop_build):
    profiles = pd.DataFrame(
        query(
            shop_build.warehouse_path,
            "select cluster_id, feature, customers, mean, median, p25, p75, min, max from segment_feature_profiles",
        ),
        columns=["cluster_id", "feature", "customers", "mean", "median", "p25", "p75", "min", "max"],
    )
    assert len(profiles) == 4 * 3
    assert ((profiles["min"] <= profiles["p25"]) & (profiles["p25"] <= profiles["median"])).all()
    assert ((profiles["median"] <= profiles["p75"]) & (profiles["p75"] <= profiles["max"])).all()
    # in the input's unit: dollars as the file wrote them, without the sign and separators
    customers = query(
        shop_build.warehouse_path,
        'select cluster_id, avg("Total Spent"), count(*) from customer_segments group by cluster_id order by 1',
    )
    spend = profiles[profiles["feature"] == "Total Spent"].sort_values("cluster_id")
    assert [(c, pytest.approx(m), n) for c, m, n in customers] == list(
        zip(spend["cluster_id"], spend["mean"], spend["customers"])
    )


def test_the_macros_score_the_files_own_values(shop_build):
    """segment_of takes the features in the file's units, in the declared order, and applies
    the log as the build did: every customer's own values give back their segment."""
    wrong = query(
        shop_build.warehouse_path,
        'select count(*) from customer_segments where segment_of("Total Spent", "Total Orders", '
        '"Days Since Last Order") is distinct from segment_label',
    )
    assert wrong == [(0,)]
    # a value the model refuses (a log takes nothing below 0) has no segment
    assert query(shop_build.warehouse_path, "select segment_of(-5, 3, 10), cluster_of(100, null, 10)") == [(None, None)]


def test_the_exported_sql_scores_the_files_own_values(shop_build):
    sql = (shop_build.reports_dir / "scoring" / "duckdb.sql").read_text(encoding="utf-8")
    assert 'customers_to_score(customer_id, "Total Spent", "Total Orders", "Days Since Last Order")' in sql
    assert "Total Spent (log(1 + x) before scaling, from 0)" in sql
    with duckdb.connect(str(shop_build.warehouse_path), read_only=True) as con:
        con.execute(
            'create temp table customers_to_score as select customer_id, "Total Spent", "Total Orders", '
            '"Days Since Last Order" from customer_segments'
        )
        differ = con.sql(
            f"select count(*) from ({sql}) as scored inner join customer_segments using (customer_id) "
            "where scored.cluster_id <> customer_segments.cluster_id"
        ).fetchall()
    assert differ == [(0,)]


def test_income_in_dollars_is_scored_in_dollars(settings, tmp_path):
    """A file's incomes in dollars are stored in k$; the macros and the exported SQL take the
    file's dollars, as a user has them."""
    frame = generate_customers(400, seed=11).rename(columns={"Annual Income (k$)": "Annual Income ($)"})
    frame["Annual Income ($)"] = frame["Annual Income ($)"] * 1000 + 400
    built = replace(settings, input_path=write_frame(tmp_path, frame))
    run_build(built)
    warehouse = built.warehouse_path
    assert query(warehouse, "select input_scale from model_features where kind = 'income'") == [(0.001,)]
    wrong = query(
        warehouse,
        "select count(*) from customer_segments "
        "where segment_of(annual_income_k * 1000, spending_score) is distinct from segment_label",
    )
    assert wrong == [(0,)]
    first = frame.iloc[0]
    mine = query(
        warehouse,
        f"select segment_of({first['Annual Income ($)']}, {first['Spending Score (1-100)']}) = segment_label "
        f"from customer_segments where customer_id = '{first['CustomerID']}'",
    )
    assert mine == [(True,)]


def test_negative_balances_and_columns_of_any_size(settings, tmp_path):
    rng = np.random.default_rng(2)
    rows = 500
    group = rng.integers(0, 3, rows)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "Balance": np.round(np.array([-800, 50, 900])[group] + rng.normal(0, 60, rows), 2),
            "Revenue": np.round(np.array([1e6, 8e6, 3e6])[group] * rng.lognormal(0, 0.1, rows)),
            "Visits": np.array([2, 5, 9])[group] + rng.integers(0, 2, rows),
        }
    )
    frame.loc[3, "Revenue"] = -10  # a log takes nothing below 0: rejected with its reason
    built = replace(settings, input_path=write_frame(tmp_path, frame), features=("Balance", "Revenue:log", "Visits"))
    result = run_build(built, k=3)
    assert (result.customers, result.rejected_rows) == (rows - 1, 1)
    assert query(built.warehouse_path, "select reject_reason from customer_rejects") == [
        ("Revenue -10.0 is outside 0 to infinity",)
    ]
    sizes = sorted(n for (n,) in query(built.warehouse_path, "select customers from segment_summary"))
    assert sizes == sorted(np.bincount(np.delete(group, 3)).tolist())
    assert query(built.warehouse_path, "select count(*) from segment_feature_profiles where mean < 0") == [(1,)]


def test_a_feature_value_missing_or_not_a_number_rejects_the_row(settings, tmp_path):
    frame = shop_export(300)
    frame["Total Orders"] = frame["Total Orders"].astype(str)
    frame.loc[5, "Total Orders"] = ""
    frame.loc[6, "Total Orders"] = "many"
    built = replace(settings, input_path=write_frame(tmp_path, frame), features=("Total Spent:log", "Total Orders"))
    run_build(built, k=3)
    assert query(built.warehouse_path, "select line_number, reject_reason from customer_rejects order by 1") == [
        (7, "Total Orders is missing"),
        (8, "Total Orders 'many' is not a number"),
    ]


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (("Lifetime Value",), "--features Lifetime Value: the header has no such column (it has: 'Customer ID', "),
        (("Total Spent", "Email"), "--features Email: 600 of 600 values read are not numbers (e.g. "),
        (("Total Spent", "Accepts Marketing"), "--features Accepts Marketing: 600 of 600 values read are not numbers"),
        (("Customer ID", "Total Spent"), "'Customer ID' is the customer id, not a measure to segment on"),
        (("Total Spent", "total spent"), "--features names 'Total Spent' twice ('Total Spent' and 'total spent')"),
        (("Total Spent", "Plan"), "--features Plan: every customer has the same value (3)"),
        (("Total Spent", "Mostly Text"), "--features Mostly Text: 400 of 600 values read are not numbers"),
        (
            ("Total Spent:sqrt",),
            "line 1: --features Total Spent:sqrt: :sqrt is no transform of 'Total Spent' (there is :log)",
        ),
        (("income:sqrt", "Total Spent"), "--features income:sqrt: :sqrt is no transform of 'income' (there is :log)"),
        (("#2:cube",), "--features #2:cube: :cube is no transform of '#2' (there is :log)"),
        (("#99",), "--features #99: the header has no such column"),
    ],
    ids=[
        *("absent", "text", "yes-no", "the-id", "twice", "constant", "half-text", "unknown-transform"),
        *("unknown-transform-of-an-alias", "unknown-transform-of-a-position", "no-such-position"),
    ],
)
def test_bad_feature_choices_stop_with_one_line_and_publish_nothing(settings, tmp_path, features, message):
    frame = shop_export().assign(Plan=3)
    frame["Mostly Text"] = [str(i) if i % 3 == 0 else f"code {i}" for i in range(len(frame))]
    built = replace(settings, input_path=write_frame(tmp_path, frame), features=features)
    with pytest.raises(InputError) as error:
        run_build(built)
    assert message in str(error.value)
    assert not built.warehouse_path.exists() and not built.reports_dir.exists()


def test_a_header_named_twice_gives_its_columns_by_position(con, tmp_path):
    """Two columns of one name: --features names one by its position, as --columns does, and the
    error for the name says how."""
    from conftest import stage_file

    frame = shop_export(60)[["Customer ID", "Total Spent", "Total Orders"]]
    frame.insert(3, "Spent", frame["Total Spent"].str.replace(r"[$,]", "", regex=True).astype(float) / 2)
    path = write_frame(tmp_path, frame.rename(columns={"Spent": "Total Spent"}))
    with pytest.raises(InputError) as refused:
        stage_file(con, path, tmp_path / "w", features=("Total Spent:log", "Total Orders"))
    assert str(refused.value).endswith(
        "--features Total Spent: the header names it at positions 2 and 4; choose one by its position: "
        "--features #2:log"
    )
    with duckdb.connect() as again:
        stage_file(again, path, tmp_path / "w2", features=("#4:log", "Total Orders"))
        assert again.execute("select source_column, transform from model_features order by 1").fetchall() == [
            ("Total Orders", "none"),
            ("Total Spent", "log"),
        ]
        kept = again.execute('select "Total Spent_2" from stg_customers order by line_number limit 1').fetchall()
        assert kept == [(frame["Spent"].iloc[0],)]


def test_more_than_ten_features_is_a_usage_error(settings):
    names = ",".join(f"column {i}" for i in range(MAX_FEATURES + 1))
    result = subprocess.run(pipeline_command(settings, "--features", names), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{MAX_FEATURES + 1} features named; at most {MAX_FEATURES}" in result.stderr


def test_a_file_without_income_or_spending_builds_on_its_own_columns(settings, tmp_path, capsys):
    """No classic column at all: the command line names the file's measures; income and
    spending are not needed."""
    frame = shop_export(300)[["Customer ID", "Total Spent", "Total Orders"]]
    built = replace(settings, input_path=write_frame(tmp_path, frame))
    result = command_in_process(
        capsys, built, "--input", str(built.input_path), "--features", "Total Spent:log,Total Orders", "--k", "3"
    )
    assert result.returncode == 0, result.stderr
    assert query(built.warehouse_path, "select count(*) from segment_summary") == [(3,)]


def test_more_than_four_features_are_mapped_on_a_labelled_projection(settings, tmp_path):
    frame = shop_export(400)
    rng = np.random.default_rng(4)
    frame["Visits"] = rng.integers(1, 40, len(frame))
    frame["Points"] = rng.integers(0, 5_000, len(frame))
    names = ("Total Spent:log", "Total Orders", "Days Since Last Order", "Visits", "Points:log")
    built = replace(settings, input_path=write_frame(tmp_path, frame), features=names)
    run_build(built, k=3)
    from segmentation.charts import segment_map_figure
    from segmentation.reports import axis_labels, segments_with_centroids

    with duckdb.connect(str(built.warehouse_path), read_only=True) as con:
        declared = model_features(con)
        features = [f.feature for f in declared]
        segments = segments_with_centroids(con, features)
        points = con.sql("select * from int_clustered_customers").df()
    logs = tuple(f.feature for f in declared if f.transform == "log")
    fig = segment_map_figure(points, segments, features, len(points), axis_labels(declared), logs)
    assert "a 2-D projection\nof the 5 features (principal components)" in fig._suptitle.get_text()
    x, y = fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    assert x.startswith("projection 1: ") and y.startswith("projection 2: ")
    assert {
        name.lstrip("+−")
        for name in (x + ", " + y).replace("projection 1: ", "").replace("projection 2: ", "").split(", ")
    } <= {
        "Total Spent",
        "Total Orders",
        "Days Since Last Order",
        "Visits",
        "Points",
    }


def test_the_report_names_the_features_and_never_the_mall(shop_build):
    page = (shop_build.reports_dir / "index.html").read_text(encoding="utf-8")
    html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)  # the words, not the pictures
    for word in ("income", "spending score", "k$", "mall"):
        assert word not in html.casefold(), word
    for name in ("Total Spent", "Total Orders", "Days Since Last Order", "log(1 + x)"):
        assert name in html
    assert (shop_build.reports_dir / "segmented_customers.csv").exists()
    assert not (shop_build.reports_dir / "segmented_mall_customers.csv").exists()


def test_features_named_like_the_warehouses_own_columns(settings, tmp_path):
    """Headers that are names the warehouse or its macros use inside (a segment_summary column,
    a column of feature_scaling, a working column of staging) are features like any other."""
    frame = shop_export(300)
    names = {"Total Spent": "customers", "Total Orders": "feature", "Days Since Last Order": "markers"}
    frame = frame.rename(columns=names)
    frame["customers"] = frame["customers"].str.replace(r"[$,]", "", regex=True).astype(float)
    built = replace(settings, input_path=write_frame(tmp_path, frame), features=("customers:log", "feature", "markers"))
    run_build(built, k=3)
    declared = query(built.warehouse_path, "select feature, label, argument from model_features order by position")
    assert declared == [
        ("customers", "customers", "customers"),
        ("feature", "feature", "feature"),
        ("markers_2", "markers", "markers_2"),
    ]
    wrong = query(
        built.warehouse_path,
        "select count(*) from customer_segments "
        "where segment_of(customers, feature, markers_2) is distinct from segment_label",
    )
    assert wrong == [(0,)]
