"""The YAML files under sql/ are the one list of tables and columns: a build publishes exactly
the models and seeds they declare, with the declared columns and data types (a build that
differs stops before publishing); the tables carried
from the live warehouse on a first build are created from them; the Python step writes only
declared tables; and the model table in docs/models.md lists the same models."""

from __future__ import annotations

import re
import shutil

import pytest

from conftest import fingerprint, query, run_build
from segmentation import colours, kmeans_model
from segmentation.building import load_project
from segmentation.config import PROJECT_DIR, SQL_DIR, Settings
from segmentation.errors import PipelineError
from segmentation.history import CARRIED
from segmentation.schema import load_schema, published_tables

DOCS = load_schema(SQL_DIR)
PUBLISHED = published_tables(DOCS)
# carried columns cast on purpose when copied (history.py): ids as text, ages as double
CAST_WHEN_CARRIED = {
    ("previous_snapshots", "customer_id"),
    ("previous_customers", "customer_id"),
    ("previous_customers", "age"),
}


def test_every_published_column_declares_its_data_type():
    missing = [
        f"{name}.{column}" for name in PUBLISHED for column in DOCS[name].columns if column not in DOCS[name].data_types
    ]
    assert missing == []


def test_the_warehouse_holds_exactly_the_declared_tables_columns_and_types(sample_build):
    path = sample_build.warehouse_path
    relations = {
        row[0]
        for row in query(
            path,
            "select table_name from duckdb_tables() where schema_name = 'main' "
            "union all select view_name from duckdb_views() where schema_name = 'main' and not internal",
        )
    }
    assert relations == set(PUBLISHED)
    for name in PUBLISHED:
        built = query(
            path,
            f"select column_name, lower(data_type) from duckdb_columns() "
            f"where schema_name = 'main' and table_name = '{name}' order by column_index",
        )
        declared = [(c, t) for c, t in DOCS[name].data_types.items() if c not in DOCS[name].only_with]
        assert built == declared, name


def test_carried_tables_are_declared_as_the_tables_they_copy():
    for table, (live_table, _query) in CARRIED.items():
        carried, live = DOCS[table].data_types, DOCS[live_table].data_types
        assert carried, table
        for column, data_type in carried.items():
            assert column in live, (table, column)
            if (table, column) not in CAST_WHEN_CARRIED:
                assert data_type == live[column], (table, column)


def test_a_first_build_creates_the_carried_tables_as_declared(con, tmp_path):
    from conftest import load
    from segmentation.config import SAMPLE_INPUT

    load(con, SAMPLE_INPUT, tmp_path)
    for table in CARRIED:
        created = con.execute(
            f"select column_name, lower(data_type) from duckdb_columns() "
            f"where table_name = '{table}' order by column_index"
        ).fetchall()
        assert created == list(DOCS[table].data_types.items()), table


def test_the_python_step_writes_declared_tables():
    for name in (*kmeans_model.MODEL_OUTPUTS, *kmeans_model.EVIDENCE_OUTPUTS, *colours.OUTPUTS):
        assert DOCS[name].kind == "models", name


def model_table(path) -> set[str]:
    """Every name in backticks in the `model` column (the second) of the markdown tables in `path`."""
    names: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) > 2 and not set(cells[1]) <= set("-: ") and cells[1] != "model":
            names |= set(re.findall(r"`([a-z_]+)`", cells[1]))
    return names


@pytest.mark.parametrize("kind", ["sources", "seeds", "models", "macros"])
def test_the_model_table_in_the_docs_lists_every_declared_model(kind):
    listed = model_table(PROJECT_DIR / "docs" / "models.md")
    declared = {name for name, doc in DOCS.items() if doc.kind == kind}
    assert declared <= listed, sorted(declared - listed)


def test_the_model_table_in_the_docs_lists_nothing_undeclared():
    assert model_table(PROJECT_DIR / "docs" / "models.md") == set(DOCS)


def test_the_tables_the_readme_names_are_published():
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    named = {
        name
        for line in readme.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([a-z_]+)`", line.split("|")[1])
    }
    assert len(named) >= 10
    assert named <= set(PUBLISHED), sorted(named - set(PUBLISHED))


@pytest.mark.parametrize(
    ("change", "breach"),
    [
        # a model's column changes type, the YAML left as it was
        (
            (
                "marts/segment_summary.sql",
                "select * from final",
                "select * replace (customers::double as customers) from final",
            ),
            "segment_summary.customers is double, declared bigint",
        ),
        # a model gains a column nobody declared
        (
            ("marts/segment_summary.sql", "select * from final", "select *, 1 as note from final"),
            "segment_summary.note is not declared",
        ),
        # the YAML declares a column no model makes
        (
            (
                "marts/_marts.yml",
                "      - name: cluster_id\n",
                "      - name: cluster_note\n        data_type: varchar\n      - name: cluster_id\n",
            ),
            "segment_summary lacks cluster_note",
        ),
    ],
)
@pytest.mark.usefixtures("published")
def test_a_build_that_differs_from_the_yaml_is_not_published(tmp_path, settings, change, breach):
    sql_dir = shutil.copytree(SQL_DIR, tmp_path / "sql")
    relative, old, new = change
    path = sql_dir / relative
    text = path.read_text()
    assert text.count(old) >= 1
    path.write_text(text.replace(old, new, 1))
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    with pytest.raises(PipelineError, match="the build differs from the models' YAML") as error:
        run_build(settings, sql_dir=sql_dir)
    assert breach in str(error.value) and "not publishing it" in str(error.value)
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'models:\n  - name: foo\n    description: "unclosed\n', r"_extra\.yml: not valid YAML: line 4, column 1: "),
        (b"models:\n  - description: no name\n", r"_extra\.yml: models entry 1 is not a dbt-style declaration"),
        (
            b"models:\n  - name: foo\n    columns: [a]\n",
            r"_extra\.yml: models entry foo is not a dbt-style declaration",
        ),
        (b"- a list\n", r"_extra\.yml: not a schema file: its top level is not a mapping"),
        (b"models: \xff\n", r"_extra\.yml: not valid YAML: 'utf-8' codec can't decode byte 0xff"),
        (b"models:\n  - name: customer_rejects\n", r"customer_rejects is documented twice \(also in .*_extra\.yml\)"),
    ],
    ids=["unclosed-quote", "no-name", "column-not-a-mapping", "a-list", "not-utf8", "twice"],
)
def test_a_yaml_file_that_cannot_be_read_is_named_with_its_problem(tmp_path, text, message):
    sql_dir = shutil.copytree(SQL_DIR, tmp_path / "sql")
    (sql_dir / "marts" / "_extra.yml").write_bytes(text)
    with pytest.raises(PipelineError, match=message):
        load_schema(sql_dir)


@pytest.mark.usefixtures("published")
def test_a_build_with_a_yaml_file_it_cannot_read_stops_before_it_changes_anything(tmp_path, settings):
    sql_dir = shutil.copytree(SQL_DIR, tmp_path / "sql")
    (sql_dir / "marts" / "_marts.yml").write_text("models:\n  - name: segment_summary\n    columns: {\n")
    before = fingerprint(settings.warehouse_path, settings.reports_dir)
    with pytest.raises(PipelineError, match=r"_marts\.yml: not valid YAML: line 4, column 1: "):
        run_build(settings, sql_dir=sql_dir)
    assert fingerprint(settings.warehouse_path, settings.reports_dir) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("select 1 as x\n{% for x in %}\n", r"my_model\.sql: line 2: Expected an expression"),
        ("select {{ nothing_here }} as x\n", r"my_model\.sql: 'nothing_here' is undefined"),
        ("select 1 +\n", r"my_model\.sql: cannot parse: syntax error"),
    ],
    ids=["jinja-syntax", "jinja-undefined", "sql-syntax"],
)
def test_a_model_that_cannot_be_read_is_named_with_its_problem(tmp_path, text, message):
    sql_dir = shutil.copytree(SQL_DIR, tmp_path / "sql")
    (sql_dir / "marts" / "my_model.sql").write_text(text)
    with pytest.raises(PipelineError, match=message):
        load_project(Settings(sql_dir=sql_dir))
