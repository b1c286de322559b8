"""The report in a real browser: headless Chromium, driven by Playwright, at a phone's width
(400 px) and a laptop's (1280 px): no sideways scrolling of the page, every image loaded, no
console errors; and in print. Skipped, saying why, where no Chromium or Playwright is installed
(`.ci/run` installs Chromium; Debian: `apt-get install chromium`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import run_build
from segmentation.config import SAMPLE_INPUT, Settings

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str | None:
    found = os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    return found if found and Path(found).exists() else None


sync_api = pytest.importorskip("playwright.sync_api", reason="browser test skipped: Playwright is not installed")
pytestmark = pytest.mark.skipif(
    chromium() is None, reason="browser test skipped: no Chromium found (apt-get install chromium, or set CHROMIUM)"
)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A report with long labels and wide tables: three features and eight segments, built
    twice, so the movement matrix is there too."""
    root = tmp_path_factory.mktemp("browser")
    settings = Settings(
        input_path=SAMPLE_INPUT,
        warehouse_path=root / "w.duckdb",
        reports_dir=root / "r",
        features=("annual_income_k", "spending_score", "age"),
        k=8,
    )
    run_build(settings)
    run_build(settings)
    return settings.reports_dir / "index.html"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


PAGE_FACTS = """() => ({
    pageWidth: document.documentElement.scrollWidth,
    viewportWidth: document.documentElement.clientWidth,
    images: [...document.images].map(img => ({complete: img.complete, width: img.naturalWidth,
                                             shown: img.getBoundingClientRect().width})),
    overflowing: [...document.querySelectorAll('body *')].filter(el => {
        const box = el.getBoundingClientRect();
        return box.right > document.documentElement.clientWidth + 1 && !el.closest('.scroll');
    }).map(el => el.tagName + '.' + el.className).slice(0, 5),
    scrollBoxes: [...document.querySelectorAll('.scroll')].map(el => getComputedStyle(el).overflowX),
    viewport: document.querySelector('meta[name=viewport]')?.content,
})"""


@pytest.mark.parametrize("width", [400, 1280])
def test_report_reads_at_this_width(browser, report, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    facts = page.evaluate(PAGE_FACTS)
    page.close()
    assert errors == []
    assert facts["viewport"] == "width=device-width, initial-scale=1"
    assert facts["pageWidth"] <= facts["viewportWidth"], facts["overflowing"]
    assert facts["overflowing"] == []
    assert len(facts["images"]) == 3
    for image in facts["images"]:
        assert image["complete"] and image["width"] > 300
        assert 0 < image["shown"] <= width
    assert set(facts["scrollBoxes"]) == {"auto"}  # tables scroll inside their box


def test_report_prints_without_cutting_tables(browser, report):
    page = browser.new_page(viewport={"width": 800, "height": 1000})
    page.goto(report.as_uri())
    page.emulate_media(media="print")
    boxes = page.evaluate("() => [...document.querySelectorAll('.scroll')].map(el => getComputedStyle(el).overflowX)")
    pdf = page.pdf(format="A4")
    page.close()
    assert set(boxes) == {"visible"}
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
