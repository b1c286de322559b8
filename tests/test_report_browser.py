"""The report in a real browser: headless Chromium, driven by Playwright, at a phone's width
(400 px) and a laptop's (1280 px): no sideways scrolling of the page, no table wider than its
box on a laptop, chart text that reads on a phone, every image loaded, the segments before the
diagnostics and in one order, no console errors; and in print. Three reports: the bundled
sample, a file's own features, and long labels with wide tables (three features, eight
segments, built twice so the movement matrix is there too). Skipped, saying why, where no
Chromium or Playwright is installed (`.ci/run` installs Chromium; Debian: `apt-get install
chromium`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import query, run_build
from segmentation.charts import DPI, SMALLEST_FONT
from segmentation.config import SAMPLE_INPUT, Settings
from test_features import shop_export, write_frame

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
SMALLEST_TEXT_PX = 11  # CSS px, in the page and in its charts as shown
# the report's sections, in order: the segments and what to do with them before the diagnostics
SECTIONS = ["segments", "playbook", "map", "profiles", "movements", "run", "choosing-k", "stability", "files"]
REPORTS = ("sample", "own_features", "long_labels")


def chromium() -> str | None:
    found = os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    return found if found and Path(found).exists() else None


sync_api = pytest.importorskip("playwright.sync_api", reason="browser test skipped: Playwright is not installed")
pytestmark = pytest.mark.skipif(
    chromium() is None, reason="browser test skipped: no Chromium found (apt-get install chromium, or set CHROMIUM)"
)


@pytest.fixture(scope="module", params=REPORTS)
def report(request, tmp_path_factory) -> Settings:
    if request.param == "sample":
        return request.getfixturevalue("sample_build")  # read only
    root = tmp_path_factory.mktemp(request.param)
    paths = {"warehouse_path": root / "w.duckdb", "reports_dir": root / "r"}
    if request.param == "own_features":
        settings = Settings(
            input_path=write_frame(root, shop_export()),
            features=("Total Spent:log", "Total Orders", "Days Since Last Order"),
            k=4,
            **paths,
        )
    else:
        settings = Settings(
            input_path=SAMPLE_INPUT, features=("annual_income_k", "spending_score", "age"), k=8, **paths
        )
        run_build(settings)
    run_build(settings)
    return settings


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


PAGE_FACTS = """(SMALLEST) => ({
    pageWidth: document.documentElement.scrollWidth,
    viewportWidth: document.documentElement.clientWidth,
    images: [...document.images].map(img => ({complete: img.complete, width: img.naturalWidth,
                                             shown: img.getBoundingClientRect().width, name: img.title})),
    overflowing: [...document.querySelectorAll('body *')].filter(el => {
        const box = el.getBoundingClientRect();
        return box.right > document.documentElement.clientWidth + 1 && !el.closest('.scroll');
    }).map(el => el.tagName + '.' + el.className).slice(0, 5),
    scrollBoxes: [...document.querySelectorAll('.scroll')].map(el => ({
        overflowX: getComputedStyle(el).overflowX, table: el.querySelector('th')?.textContent,
        scrollWidth: el.scrollWidth, clientWidth: el.clientWidth})),
    smallText: [...document.querySelectorAll('body *')].filter(el =>
        [...el.childNodes].some(node => node.nodeType === Node.TEXT_NODE && node.textContent.trim())
        && parseFloat(getComputedStyle(el).fontSize) < SMALLEST
    ).map(el => el.tagName + ': ' + getComputedStyle(el).fontSize).slice(0, 5),
    sections: [...document.querySelectorAll('main > section')].map(el => el.id),
    rows: Object.fromEntries(['#segments tbody tr', '#profiles tbody tr', '#playbook article'].map(
        selector => [selector, [...document.querySelectorAll(selector)].map(el => Number(el.dataset.cluster))])),
    viewport: document.querySelector('meta[name=viewport]')?.content,
})"""


@pytest.mark.parametrize("width", [400, 1280])
def test_report_reads_at_this_width(browser, report, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((report.reports_dir / "index.html").as_uri())
    page.wait_for_load_state("load")
    facts = page.evaluate(PAGE_FACTS, SMALLEST_TEXT_PX)
    page.close()
    assert errors == []
    assert facts["viewport"] == "width=device-width, initial-scale=1"
    assert facts["pageWidth"] <= facts["viewportWidth"], facts["overflowing"]
    assert facts["overflowing"] == []
    assert {box["overflowX"] for box in facts["scrollBoxes"]} == {"auto"}  # a table scrolls inside its box
    if width == 1280:  # where none needs to
        assert [box for box in facts["scrollBoxes"] if box["scrollWidth"] > box["clientWidth"]] == []
    assert facts["smallText"] == []
    assert len(facts["images"]) == 3
    for image in facts["images"]:
        assert image["complete"] and image["width"] > 300
        assert 0 < image["shown"] <= min(width, image["width"])  # never enlarged
        # a chart's smallest text as shown: its size in the picture, scaled as the picture is
        assert SMALLEST_FONT * DPI / 72 * image["shown"] / image["width"] >= SMALLEST_TEXT_PX, image["name"]
    assert facts["sections"] == SECTIONS
    order = [
        row[0]
        for row in query(
            report.warehouse_path, "select cluster_id from segment_summary order by customers desc, cluster_id"
        )
    ]
    assert facts["rows"] == dict.fromkeys(facts["rows"], order)


def test_report_prints_without_cutting_tables(browser, report):
    page = browser.new_page(viewport={"width": 800, "height": 1000})
    page.goto((report.reports_dir / "index.html").as_uri())
    page.emulate_media(media="print")
    boxes = page.evaluate("() => [...document.querySelectorAll('.scroll')].map(el => getComputedStyle(el).overflowX)")
    pdf = page.pdf(format="A4")
    page.close()
    assert set(boxes) == {"visible"}
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
