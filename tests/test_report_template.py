"""The HTML report is a template shipped with the package, autoescaped, filled from the run's
tables."""

from __future__ import annotations

from importlib.resources import files

import duckdb

from segmentation.html_report import TEMPLATE, ReportData, render
from segmentation.reports import segments_with_centroids

PNG = bytes.fromhex("89504e470d0a1a0a")  # the bytes only travel into a data URI here


def report_data(settings) -> ReportData:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        run = con.sql("select * from pipeline_runs order by run_id desc limit 1").df().iloc[0].to_dict()
        return ReportData(
            run=run,
            reject_reasons=[("age is missing <b>", 2)],
            selection=con.sql("select * from k_selection order by k").df(),
            stability=con.sql("select * from cluster_stability").df(),
            segments=segments_with_centroids(con, run["features"].split(",")),
            movements=con.sql("select * from segment_movements").df(),
            images={"elbow.png": PNG, "clusters.png": PNG, "clusters_narrow.png": PNG, "segment_profiles.png": PNG},
            files=["elbow.png"],
            dataset=con.sql("select * from dataset_match").df().astype(object).iloc[0].to_dict(),
        )


def test_the_template_ships_in_the_package():
    assert files("segmentation").joinpath("templates", TEMPLATE).is_file()


def test_text_from_the_tables_is_escaped(sample_build):
    data = report_data(sample_build)
    data.segments.loc[0, "segment_label"] = "<script>alert('x')</script>"
    data.segments.loc[0, "persona"] = "Tom & Jerry"
    html = render(data)
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "Tom &amp; Jerry" in html and "age is missing &lt;b&gt;" in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "@media print" in html


def test_every_segment_shows_in_its_colour(sample_build):
    data = report_data(sample_build)
    html = render(data)
    for row in data.segments.itertuples():
        assert f'style="background: {row.colour}"' in html
        assert row.segment_label in html
