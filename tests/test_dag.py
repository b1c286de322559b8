"""The runner's graph: models found in sql/, dependencies read from their SQL."""

from __future__ import annotations

import pytest

from segmentation.building import SOURCES, load_project
from segmentation.config import Settings
from segmentation.dag import Model, build_order, python_model, tables_read
from segmentation.errors import PipelineError


def sql_model(name: str, sql: str) -> Model:
    return Model(name, tables_read(sql), (name,), "view", sql=sql)


def test_dependencies_come_from_the_sql_not_from_cte_names():
    sql = "with customers as (select * from stg_customers) select * from customers join customer_clusters on true"
    assert tables_read(sql) == {"stg_customers", "customer_clusters"}


def test_project_order_puts_every_model_after_what_it_reads():
    ordered, tests, _ = load_project(Settings())
    position = {table: i for i, model in enumerate(ordered) for table in model.outputs}
    for model in ordered:
        for table in model.inputs - set(SOURCES):
            assert position[table] < position[model.outputs[0]], (model.name, table)
    names = [model.name for model in ordered]
    assert names.index("customer_features") < names.index("kmeans_segments") < names.index("segment_summary")
    assert {test.name for test in tests} >= {"assert_every_data_row_is_kept_or_rejected"}


def test_a_python_model_is_a_node_like_any_other():
    models = [
        sql_model("report", "select * from scored"),
        python_model("scorer", ["features"], ["scored"], run=lambda con, context: {}),
        sql_model("features", "select * from raw"),
    ]
    assert [model.name for model in build_order(models, ["raw"])] == ["features", "scorer", "report"]


def test_a_late_model_is_built_just_before_the_first_model_that_reads_it():
    def run(con, context):
        return {}

    models = [
        python_model("fit", ["features"], ["model"], run),
        python_model("evidence", ["model"], ["diagnostics"], run, late=True),
        python_model("unread", ["model"], ["notes"], run, late=True),
        sql_model("features", "select * from raw"),
        sql_model("scored", "select * from model"),
        sql_model("labels", "select * from scored"),
        sql_model("flags", "select * from diagnostics join labels on true"),
        sql_model("summary", "select * from flags"),
    ]
    names = [model.name for model in build_order(models, ["raw"])]
    assert names == ["features", "fit", "scored", "labels", "evidence", "flags", "summary", "unread"]
    ordered, _, _ = load_project(Settings())
    names = [model.name for model in ordered]
    assert names.index("int_segment_profiles") < names.index("kmeans_evidence") == names.index("int_run_flags") - 1


def test_unknown_table_is_named():
    with pytest.raises(PipelineError, match="model a reads unknown table"):
        build_order([sql_model("a", "select * from nowhere")], [])


def test_cycles_are_refused():
    with pytest.raises(PipelineError, match="cycle"):
        build_order([sql_model("a", "select * from b"), sql_model("b", "select * from a")], [])
