"""What analysts and marketers use: the HTML report, the diagnostics, scoring in SQL, the
three-feature run, segments tracked across runs, the Parquet exports, and the flags."""

from __future__ import annotations

import base64
import io
import subprocess
from dataclasses import replace
from html.parser import HTMLParser

import duckdb
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from conftest import fingerprint, query, run_build, run_command, write_csv
from segmentation.building import build
from segmentation.clustering import cluster_customers, match_previous
from segmentation.config import PROJECT_DIR, SAMPLE_INPUT, SQL_DIR, Settings
from segmentation.reports import PARQUET_TABLES
from segmentation.schema import load_schema


class Page(HTMLParser):
    """Every tag with its attributes, and the page's text."""

    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


@pytest.fixture(scope="module")
def three_features(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("age")
    settings = Settings(
        input_path=SAMPLE_INPUT,
        warehouse_path=root / "mall.duckdb",
        reports_dir=root / "reports",
        features=("annual_income_k", "spending_score", "age"),
    )
    run_build(settings)
    return settings


def features_of(path, columns=("annual_income_k", "spending_score")) -> pd.DataFrame:
    frame = pd.read_csv(path).rename(
        columns={
            "CustomerID": "customer_id",
            "Age": "age",
            "Annual Income (k$)": "annual_income_k",
            "Spending Score (1-100)": "spending_score",
        }
    )
    return frame[["customer_id", *columns]].astype({"customer_id": str})


# --- the HTML report ---------------------------------------------------------------------------


def test_report_is_one_self_contained_page(sample_build):
    page = parse(sample_build.reports_dir / "index.html")
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 3
    for attrs in images:
        prefix = "data:image/png;base64,"
        assert attrs["src"].startswith(prefix)
        picture = imread(io.BytesIO(base64.b64decode(attrs["src"][len(prefix) :], validate=True)), format="png")
        assert picture.shape[0] > 300 and picture.std() > 0.05
    # nothing outside the file: no links, scripts, frames, stylesheets or remote URLs
    assert not [tag for tag, _ in page.tags if tag in ("script", "link", "iframe", "object", "embed", "a")]
    text = (sample_build.reports_dir / "index.html").read_text(encoding="utf-8")
    for outside in ("http:", "https:", "url(", "@import", 'src="/', "file:"):
        assert outside not in text


def test_report_shows_every_segment_its_playbook_and_the_run(sample_build):
    page = parse(sample_build.reports_dir / "index.html")
    text = " ".join(page.text)
    segments = query(
        sample_build.warehouse_path, "select segment_label, persona, marketing_actions, customers from segment_summary"
    )
    assert len(segments) == 5
    for label, persona, actions, _customers in segments:
        assert label in text and persona in text and actions in text
    assert str(sample_build.input_path.resolve()) in text
    assert "K=5 as given" in text  # why this K
    assert "first run" in text  # nothing to compare with yet
    for header in ("Calinski-Harabasz", "Davies-Bouldin", "Playbook", "Stability"):
        assert header in text


def test_report_names_the_top_reject_reasons(tmp_path):
    lines = SAMPLE_INPUT.read_text().splitlines()
    # the spending score of two customers is unknown, that of two others a percentage
    for number, score in ((3, "?"), (5, "?"), (7, "54%"), (9, "20%")):
        fields = lines[number].split(",")
        lines[number] = ",".join([*fields[:4], score])
    path = write_csv(tmp_path, "\n".join(lines) + "\n")
    settings = Settings(input_path=path, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r")
    run_build(settings)
    text = " ".join(parse(settings.reports_dir / "index.html").text)
    assert "2 × spending_score is missing" in text
    assert "2 × spending_score is not a whole number" in text  # one kind of reason, whatever the values


# --- diagnostics -------------------------------------------------------------------------------


def test_diagnostics(sample_build):
    path = sample_build.warehouse_path
    rows = query(path, "select k, calinski_harabasz, davies_bouldin from k_selection order by k")
    assert rows[0][1:] == (None, None)
    assert min(rows[1:], key=lambda r: r[2])[0] == 5  # Davies-Bouldin is lowest at the reference K
    stability = query(path, "select seed, adjusted_rand_index from cluster_stability order by seed")
    assert [seed for seed, _ in stability] == [43, 44, 45]
    assert all(ari > 0.95 for _, ari in stability)
    # every customer fitted (200 <= 3,000) has a silhouette, and they average to K=5's
    mean, scored = query(path, "select avg(silhouette), count(silhouette) from customer_silhouettes")[0]
    assert scored == 200
    assert mean == pytest.approx(query(path, "select silhouette from k_selection where k = 5")[0][0])
    nearest = query(path, "select count(*) from customer_segments where distance_to_centroid < 0")[0][0]
    assert nearest == 0


def test_auto_k_says_why(sample_build, tmp_path):
    settings = Settings(
        input_path=sample_build.input_path, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r", k=None
    )
    assert run_build(settings).k == 5
    reason = query(settings.warehouse_path, "select k_reason from pipeline_runs")[0][0]
    assert reason.startswith("K=5 has the highest mean silhouette of K=2..10 (0.614)")
    assert "elbow of the inertia curve is at K=5, which agrees" in reason
    assert reason in " ".join(parse(settings.reports_dir / "index.html").text)


def test_a_small_segment_is_flagged_and_strict_fails_the_build(tmp_path, capsys):
    settings = Settings(
        input_path=SAMPLE_INPUT, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r", min_segment_share=0.1
    )
    run_build(settings)
    flags = query(settings.warehouse_path, "select flags from pipeline_runs")[0][0]
    assert flags == "segment 0 (Low-Income, Low-Spending) holds 9.5% of the customers, less than the 10.0% minimum"
    assert query(settings.warehouse_path, "select count(*) from segment_summary where is_small_segment") == [(1,)]
    assert "holds 9.5% of the customers" in " ".join(parse(settings.reports_dir / "index.html").text)

    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    cli = run_command(
        capsys,
        "--input",
        str(SAMPLE_INPUT),
        "--warehouse",
        str(settings.warehouse_path),
        "--reports",
        str(settings.reports_dir),
        "--min-segment-share",
        "0.1",
        "--strict",
    )
    assert cli.returncode == 1
    assert cli.stderr == (
        f"error: {SAMPLE_INPUT}: segment 0 (Low-Income, Low-Spending) holds 9.5% of the customers, "
        "less than the 10.0% minimum (--strict)\n"
    )
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before


def test_the_flags_are_the_warnings_of_the_run_in_their_order(tmp_path):
    """int_run_flags holds each warning the build flags itself with, one row each in the order
    the build says them (rejects first, then the small segments by number); pipeline_runs.flags
    joins them."""
    lines = SAMPLE_INPUT.read_text().splitlines()
    rows = [row if i % 10 else row.rsplit(",", 1)[0] + ",?" for i, row in enumerate(lines[1:])]
    path = write_csv(tmp_path, "\n".join([lines[0], *rows]) + "\n")
    settings = Settings(
        input_path=path, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r", min_segment_share=0.12
    )
    said: list[str] = []
    build(settings, log=said.append)
    warnings = [line.removeprefix("  warning: ") for line in said if line.startswith("  warning: ")]
    flags = query(settings.warehouse_path, "select flag_number, flag from int_run_flags order by flag_number")
    assert flags == list(enumerate(warnings, start=1)) and len(flags) > 1
    assert flags[0][1] == (
        "20 of 200 data rows rejected (10.0%, more than 5%); top reasons: 20 × spending_score is missing"
    )
    assert all(flag.startswith("segment ") for _, flag in flags[1:])
    assert query(settings.warehouse_path, "select flags from pipeline_runs") == [("; ".join(warnings),)]


def test_repeats_of_kept_customers_are_neither_a_loss_nor_a_stop(tmp_path):
    """30 lines repeated and 12 customers lost: the warning counts the 12, by their reasons; a
    file appended to itself twice builds, every customer kept, without a warning."""
    lines = SAMPLE_INPUT.read_text().splitlines()
    rows = [row.rsplit(",", 1)[0] + ",0" if i < 12 else row for i, row in enumerate(lines[1:])]
    path = write_csv(tmp_path, "\n".join([lines[0], *rows, *lines[101:131]]) + "\n")
    said: list[str] = []
    build(Settings(input_path=path, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r"), log=said.append)
    assert "  warning: 12 of 230 data rows rejected (5.2%, more than 5%); top reasons: 12 × " in "\n".join(said)
    assert not any("duplicate" in line for line in said if line.startswith("  warning: "))
    thrice = write_csv(tmp_path, "\n".join([lines[0], *lines[1:] * 3]) + "\n", name="thrice.csv")
    said.clear()
    result = build(
        Settings(input_path=thrice, warehouse_path=tmp_path / "t.duckdb", reports_dir=tmp_path / "t"), log=said.append
    )
    assert (result.customers, result.rejected_rows) == (200, 400)
    assert not [line for line in said if line.startswith("  warning: ")]


# --- scoring in SQL ----------------------------------------------------------------------------


def test_macros_agree_with_the_python_model_on_every_customer(sample_build):
    columns = ("annual_income_k", "spending_score")  # the default model's
    labels = cluster_customers(features_of(sample_build.input_path), columns, sample_build.cluster_params).labels
    scored = pd.DataFrame(
        query(
            sample_build.warehouse_path,
            "select customer_id, cluster_of(annual_income_k, spending_score), "
            "segment_of(annual_income_k, spending_score) = segment_label from customer_segments",
        ),
        columns=["customer_id", "cluster_id", "same_label"],
    )
    assert len(scored) == 200
    assert dict(zip(scored["customer_id"], scored["cluster_id"])) == dict(
        zip(labels["customer_id"], labels["cluster_id"])
    )
    assert scored["same_label"].all()


def test_macros_score_new_customers_and_refuse_missing_values(sample_build):
    rows = query(
        sample_build.warehouse_path,
        "select segment_of(120, 10), segment_of(20, 95), segment_of(90, 90), cluster_of(null, 50), "
        "segment_of(annual_income_k := 55, spending_score := 50)",
    )
    assert rows == [
        ("High-Income, Low-Spending", "Low-Income, High-Spending", "Target Customers", None, "Standard Customers")
    ]


def test_macros_open_in_duckdb_1(sample_build):
    old = PROJECT_DIR / ".venv-duckdb1" / "bin" / "python"
    if not old.exists():
        pytest.skip("make test creates .venv-duckdb1")
    script = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(con.sql('select segment_of(120, 10), count(*) from segment_changes').fetchall())"
    )
    out = subprocess.run(
        [str(old), "-c", script, str(sample_build.warehouse_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[('High-Income, Low-Spending', 0)]"


# --- three features ----------------------------------------------------------------------------


def test_three_feature_run(three_features):
    path = three_features.warehouse_path
    assert query(path, "select feature from feature_scaling order by position") == [
        ("annual_income_k",),
        ("spending_score",),
        ("age",),
    ]
    assert query(path, "select count(*) from cluster_centroids where age_scaled is null") == [(0,)]
    assert query(path, "select features from pipeline_runs") == [("annual_income_k,spending_score,age",)]
    labels = cluster_customers(
        features_of(three_features.input_path, three_features.features),
        three_features.features,
        three_features.cluster_params,
    ).labels
    in_sql = query(
        path,
        "select customer_id, cluster_id, cluster_of(annual_income_k, spending_score, age := age) "
        "from customer_segments",
    )
    assert {row[0]: row[1] for row in in_sql} == dict(zip(labels["customer_id"], labels["cluster_id"]))
    assert all(row[1] == row[2] for row in in_sql)
    # the segment map shows every pair of features: a square pair grid, the legend in its own cell
    grid = imread(three_features.reports_dir / "clusters.png")
    assert 0.9 < grid.shape[1] / grid.shape[0] < 1.1
    assert "income, spending, age" in " ".join(parse(three_features.reports_dir / "index.html").text)


# --- segments over time ------------------------------------------------------------------------


def test_an_email_written_another_way_in_the_next_export_is_the_same_customer(tmp_path):
    """The CRM writes 'Cust7@Shop.com', the next export lower-cases some emails or repeats a
    customer so: no customer is gone or new, and every customer keeps one id."""
    frame = pd.read_csv(SAMPLE_INPUT)
    frame["CustomerID"] = [f"Cust{n}@Shop.com" for n in frame["CustomerID"]]
    first = write_csv(tmp_path, frame.to_csv(index=False), "first.csv")
    settings = Settings(
        input_path=first, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r", dataset="crm"
    )
    run_build(settings)
    later = frame.copy()
    later.loc[::2, "CustomerID"] = later.loc[::2, "CustomerID"].str.lower()
    later = pd.concat([later, later.head(50).assign(CustomerID=lambda f: f["CustomerID"].str.upper())])
    run_build(settings, input_path=write_csv(tmp_path, later.to_csv(index=False), "later.csv"))
    assert query(settings.warehouse_path, "select count(*) from int_compared_runs") == [(1,)]
    assert query(settings.warehouse_path, "select count(*) from segment_changes") == [(0,)]
    ids = query(
        settings.warehouse_path,
        "select distinct customer_id from customer_segments where customer_id <> lower(customer_id)",
    )
    assert ids == []


def test_a_customer_whose_row_this_export_rejects_is_not_gone(tmp_path):
    """A customer still in the next export, whose row it rejects for a bad value, is a reject
    (customer_rejects), not a customer who left: neither in segment_changes nor in the report's
    count of those gone. One no longer in the file is gone."""
    frame = pd.read_csv(SAMPLE_INPUT)
    settings = Settings(input_path=SAMPLE_INPUT, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r")
    run_build(settings)
    later = frame[frame["CustomerID"] != 7].astype({"Annual Income (k$)": str})
    later.loc[later["CustomerID"].isin([1, 2, 3]), "Annual Income (k$)"] = "n/a"
    run_build(settings, input_path=write_csv(tmp_path, later.to_csv(index=False), "later.csv"))
    changes = "select customer_id, change_type from segment_changes where change_type <> 'moved'"
    assert query(settings.warehouse_path, changes) == [("7", "gone")]
    assert query(settings.warehouse_path, "select count(*) from customer_rejects") == [(3,)]
    assert "0 are new and 1 are gone" in (settings.reports_dir / "index.html").read_text()


def test_segment_changes_after_two_builds_on_slightly_different_inputs(tmp_path):
    frame = pd.read_csv(SAMPLE_INPUT)
    first = write_csv(tmp_path, frame.to_csv(index=False), "first.csv")
    settings = Settings(input_path=first, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r")
    run_build(settings)
    before = dict(query(settings.warehouse_path, "select customer_id, cluster_id from customer_clusters"))
    centroids_before = dict(query(settings.warehouse_path, "select segment_label, cluster_id from segment_summary"))

    changed = frame[frame["CustomerID"] != 7].copy()  # customer 7 leaves
    changed.loc[changed["CustomerID"] == 1, "Spending Score (1-100)"] = 5  # customer 1 spends much less
    changed = pd.concat(
        [
            changed,
            pd.DataFrame(
                [
                    {
                        "CustomerID": 201,
                        "Gender": "Female",
                        "Age": 30,
                        "Annual Income (k$)": 90,
                        "Spending Score (1-100)": 85,
                    }
                ]
            ),
        ]
    )
    second = write_csv(tmp_path, changed.sample(frac=1, random_state=1).to_csv(index=False), "second.csv")
    run_build(settings, input_path=second)

    path = settings.warehouse_path
    # the same segments keep their numbers, matched by centroid
    assert dict(query(path, "select segment_label, cluster_id from segment_summary")) == centroids_before
    changes = {
        row[0]: row[1:]
        for row in query(
            path,
            "select customer_id, previous_segment_label, segment_label, change_type, previous_run_id, run_id "
            "from segment_changes",
        )
    }
    assert changes["7"] == (query_label(path, before["7"], 1), None, "gone", 1, 2)
    assert changes["201"] == (None, "Target Customers", "new", 1, 2)
    assert changes["1"][2] == "moved" and changes["1"][:2] == ("Target Customers", "High-Income, Low-Spending")
    moved = query(path, "select count(*) from int_segment_comparison where previous_cluster_id <> cluster_id")[0][0]
    assert len(changes) == moved + 2
    # the movement matrix counts everyone of either run once
    assert query(path, "select sum(customers) from segment_movements") == [(201,)]
    assert (
        query(path, "select sum(customers) from segment_movements where previous_segment_label = segment_label")[0][0]
        == 199 - moved
    )
    # every pair of clusters, with both runs' labels, as the two snapshots joined customer by
    # customer count them
    assert query(
        path,
        "select previous_cluster_id, previous_segment_label, cluster_id, segment_label, customers "
        "from segment_movements order by all",
    ) == query(
        path,
        """
        with latest as (select * from segment_snapshots where run_id = 2),
        earlier as (select * from segment_snapshots where run_id = 1),
        labels as (select * from segment_history)
        select earlier.cluster_id, before.segment_label, latest.cluster_id, now.segment_label, count(*)
        from latest full outer join earlier using (customer_id)
        left join labels as before on before.run_id = 1 and before.cluster_id = earlier.cluster_id
        left join labels as now on now.run_id = 2 and now.cluster_id = latest.cluster_id
        group by all order by all
        """,
    )
    assert query(path, "select run_id, count(*) from segment_snapshots group by 1 order by 1") == [(1, 200), (2, 200)]
    assert query(path, "select run_id, sum(customers) from segment_history group by 1 order by 1") == [
        (1, 200),
        (2, 200),
    ]
    assert "stayed" in " ".join(parse(settings.reports_dir / "index.html").text)
    # next month's export under a new file name is the same dataset
    assert query(path, "select run_id, dataset, compared_with_run_id from pipeline_runs order by 1") == [
        (1, "first", None),
        (2, "first", 1),
    ]


def query_label(path, cluster_id, run_id):
    return query(
        path, f"select segment_label from segment_history where run_id = {run_id} and cluster_id = {cluster_id}"
    )[0][0]


def test_only_the_last_runs_snapshots_are_kept(published):
    settings = replace(published, keep_snapshots=2)  # run 1: the bundled sample, published
    for _ in range(2):
        run_build(settings)
    assert query(settings.warehouse_path, "select distinct run_id from segment_snapshots order by 1") == [(2,), (3,)]
    assert query(settings.warehouse_path, "select count(*) from segment_changes") == [(0,)]
    assert query(settings.warehouse_path, "select count(*) from pipeline_runs") == [(3,)]


def test_the_movement_matrix_counts_everyone_after_a_run_recorded_without_segment_history(published):
    """A warehouse from before segment_history (its run has snapshots, no segment rows): the
    customers who stayed are still counted, with no earlier label to show."""
    with duckdb.connect(str(published.warehouse_path)) as con:
        con.execute("delete from segment_history")
    run_build(published)
    moves = query(
        published.warehouse_path,
        "select previous_cluster_id = cluster_id, previous_segment_label is null, sum(customers) "
        "from segment_movements group by all order by all",
    )
    assert moves == [(True, True, 200)]  # the same file: every customer stayed


def test_a_run_after_one_recorded_without_newer_columns_keeps_the_declared_columns(published):
    """A warehouse from before some of pipeline_runs' columns: the next build adds its run,
    every declared column in its order, the earlier run's missing values null."""
    with duckdb.connect(str(published.warehouse_path)) as con:
        for column in ("dataset", "k_fitted", "orders_path", "as_of_date", "flags"):
            con.execute(f"alter table pipeline_runs drop column {column}")
    run_build(published, min_segment_share=0.1)
    path = published.warehouse_path
    columns = query(
        path,
        "select column_name, lower(data_type) from duckdb_columns() "
        "where table_name = 'pipeline_runs' order by column_index",
    )
    assert columns == list(load_schema(SQL_DIR)["pipeline_runs"].data_types.items())
    flags = query(path, "select string_agg(flag, '; ' order by flag_number) from int_run_flags")[0][0]
    assert "holds 9.5% of the customers" in flags
    assert query(path, "select run_id, k, k_fitted, as_of_date, flags, customers from pipeline_runs order by 1") == [
        (1, 5, None, None, None, 200),
        (2, 5, 5, None, flags, 200),
    ]


def test_cluster_numbers_follow_the_previous_run_not_the_seed():
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(np.array([[0.0, 0.0], [10.0, 10.0]]))
    centres = scaler.transform(np.array([[1.0, 1.0], [5.0, 5.0], [9.0, 9.0]]))
    previous = pd.DataFrame(
        {"cluster_id": [7, 3, 0], "annual_income_k": [9.2, 1.1, 20.0], "spending_score": [8.9, 0.8, 20.0]}
    )
    numbers = match_previous(centres, ("annual_income_k", "spending_score"), scaler, previous, max_distance=0.5)
    # the two centres that stayed keep 3 and 7; the new one takes the lowest number not in use before
    assert numbers.tolist() == [3, 1, 7]


# --- Parquet for BI tools ----------------------------------------------------------------------


def test_marts_are_exported_as_parquet(sample_build):
    with duckdb.connect() as con:
        for table in PARQUET_TABLES:
            exported = con.sql(f"select count(*) from read_parquet('{sample_build.reports_dir / table}.parquet')")
            assert exported.fetchall() == query(sample_build.warehouse_path, f"select count(*) from {table}")
        columns = con.sql(f"describe select * from read_parquet('{sample_build.reports_dir}/segment_summary.parquet')")
        assert "marketing_actions" in [row[0] for row in columns.fetchall()]


def test_a_number_once_used_is_never_given_to_another_segment():
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(np.array([[0.0, 0.0], [10.0, 10.0]]))
    centres = scaler.transform(np.array([[1.0, 1.0], [5.0, 5.0]]))
    previous = pd.DataFrame({"cluster_id": [0], "annual_income_k": [1.0], "spending_score": [1.0]})
    numbers = match_previous(
        centres, ("annual_income_k", "spending_score"), scaler, previous, 0.5, used=frozenset({0, 1, 2})
    )
    assert numbers.tolist() == [0, 3]


def test_a_run_on_other_features_numbers_its_clusters_afresh(published):
    settings = published  # run 1: the bundled sample
    run_build(settings, features=("annual_income_k", "spending_score", "age"))
    path = settings.warehouse_path
    assert query(path, "select min(cluster_id) from cluster_centroids") == [(5,)]
    assert query(path, "select change_type, count(*) from segment_changes group by 1") == [("moved", 200)]


def test_clusters_left_empty_are_flagged(tmp_path):
    rows = "".join(f"{i},Male,30,{(i % 3) * 40 + 20},{(i % 3) * 30 + 10}\n" for i in range(1, 13))
    path = write_csv(tmp_path, "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)\n" + rows)
    settings = Settings(input_path=path, warehouse_path=tmp_path / "w.duckdb", reports_dir=tmp_path / "r")
    run_build(settings)
    flags = query(settings.warehouse_path, "select flags from pipeline_runs")[0][0]
    assert "K-Means made 5 clusters but only 3 hold customers" in flags


def test_at_least_two_snapshots_are_kept():
    with pytest.raises(ValueError, match="keep_snapshots must be at least 2"):
        Settings(keep_snapshots=1)
