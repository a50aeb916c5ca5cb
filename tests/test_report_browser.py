"""The report opened in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Asserts what a user sees: one row per library, filters that reduce the rows, sortable columns, a
library page with its stages, a log holding ``<script>`` shown as text and never run, and no request
leaving the page (only file: and data: URLs are ever requested).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright
from scoring_support import GOLDEN_MANIFESTS, copy_golden

from harness.report import render_report

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"),
]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VISIBLE = "#overview tbody tr:not([hidden])"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser-report")
    return render_report(copy_golden(root / "results"), root / "reports", manifests_dir=GOLDEN_MANIFESTS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that records every request and page error, and blocks anything not local."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.requests, pg.errors = [], []  # type: ignore[attr-defined]

    def route(r: Any) -> None:
        pg.requests.append(r.request.url)  # type: ignore[attr-defined]
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            r.abort()

    context.route("**/*", route)
    pg.on("request", lambda req: pg.requests.append(req.url))  # type: ignore[attr-defined]
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))  # type: ignore[attr-defined]
    yield pg
    context.close()


def _visible_libraries(pg: Any) -> list[str]:
    return pg.eval_on_selector_all(VISIBLE, "rows => rows.map(r => r.dataset.library)")


def test_overview_shows_one_row_per_library(report: Path, page: Any) -> None:
    page.goto(report.as_uri())
    assert sorted(_visible_libraries(page)) == ["evasion-kit", "grad-leak", "model-thief", "shadow-mia"]
    assert page.inner_text("#count") == "4 of 4 libraries shown"
    row = page.locator(VISIBLE, has_text="evasion-kit")
    assert row.locator("td.cfg").inner_text().split("\n")[:2] == ["venv · cpu", "default"]  # preferred
    assert "reaches no stage" in page.locator(VISIBLE, has_text="grad-leak").inner_text()
    assert page.locator("svg.chart").count() >= 4
    # history sparkline of evasion-kit venv/cpu: the night before reached fetch..build, then all five
    assert row.locator(".hist svg rect").count() == 2
    assert (row.locator(".hist svg rect title").first.text_content() or "").endswith("reached build (failed)")
    assert page.errors == []


def test_filtering_by_family_reduces_rows(report: Path, page: Any) -> None:
    page.goto(report.as_uri())
    page.select_option("#f-family", "membership-inference")
    assert _visible_libraries(page) == ["shadow-mia"]
    assert page.inner_text("#count") == "1 of 4 libraries shown"
    page.select_option("#f-family", "adversarial")
    assert _visible_libraries(page) == ["evasion-kit"]
    page.select_option("#f-family", "")
    page.select_option("#f-device", "gpu")  # the GPU configuration replaces the CPU one in the row
    assert _visible_libraries(page) == ["evasion-kit"]
    assert page.locator(VISIBLE).get_attribute("data-device") == "gpu"
    assert page.locator(f"{VISIBLE} td.cfg").inner_text().startswith("venv · gpu")
    page.select_option("#f-device", "")
    page.select_option("#f-status", "passed")
    assert _visible_libraries(page) == ["evasion-kit"]


def test_sorting_by_score(report: Path, page: Any) -> None:
    page.goto(report.as_uri())
    header = page.locator("#overview thead th", has_text="Usability")
    header.click()  # ascending
    order = _visible_libraries(page)
    assert set(order[:2]) == {"grad-leak", "shadow-mia"} and order[2:] == ["model-thief", "evasion-kit"]
    header.click()  # descending
    assert _visible_libraries(page)[0] == "evasion-kit"


def test_library_page_shows_stages_and_escaped_log(report: Path, page: Any) -> None:
    page.goto(report.as_uri())
    page.click("a:has-text('Shadow-model membership inference')")
    page.wait_for_load_state()
    assert page.url.endswith("/libraries/shadow-mia.html")
    stages = page.eval_on_selector_all(
        "tr.stage", "rows => rows.map(r => [r.dataset.stage, r.dataset.status])"
    )
    assert stages == [
        ["fetch", "passed"],
        ["build", "failed"],
        ["import", "skipped"],
        ["smoke", "skipped"],
        ["reproduce", "skipped"],
    ]
    assert "dependency-resolution" in page.inner_text("table.stages")
    log = page.inner_text("pre.log")
    assert "<script>window.__pwned = 1; document.title = 'pwned'</script>" in log
    assert "<b>theano==0.9.0</b>" in log
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.title() != "pwned"
    assert page.locator("script").count() == 0  # library pages need no script at all
    assert page.errors == []


def test_no_request_leaves_the_page(report: Path, page: Any) -> None:
    page.goto(report.as_uri())
    for link in page.eval_on_selector_all("#overview a", "as => as.map(a => a.href)"):
        page.goto(link)
        page.wait_for_load_state("load")
        assert page.locator("img[alt$='badge']").count() == 3
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert page.requests, "the listener saw no request at all"
    outside = [u for u in page.requests if not u.startswith(("file:", "data:"))]
    assert outside == []
    assert page.errors == []


def test_screenshot_of_the_overview(report: Path, page: Any, tmp_path: Path) -> None:
    page.goto(report.as_uri())
    shot = tmp_path / "overview.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


@pytest.fixture(scope="module")
def long_names_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden records plus a library with a long slug, name and family list (like ART)."""
    root = tmp_path_factory.mktemp("long-names")
    results = copy_golden(root / "results")
    data = json.loads((results / "evasion-kit--venv--cpu--default.json").read_text())
    data["library"] = "adversarial-robustness-toolbox"
    data["facts"]["manifest"] = {
        "name": "Adversarial Robustness Toolbox (ART)",
        "families": ["adversarial", "poisoning", "model-extraction", "membership-inference"],
        "origin": "third-party",
    }
    (results / "art.json").write_text(json.dumps(data))
    return render_report(results, root / "reports", manifests_dir=GOLDEN_MANIFESTS)


def test_overview_fits_a_1280px_viewport(long_names_report: Path, browser: Any) -> None:
    pg = browser.new_page(viewport={"width": 1280, "height": 900})
    pg.goto(long_names_report.as_uri())
    widths = pg.evaluate(
        "() => { const s = document.querySelector('.scroll'), t = document.querySelector('#overview');"
        " const last = t.querySelector('thead th:last-child').getBoundingClientRect();"
        " return [s.scrollWidth, s.clientWidth, document.documentElement.scrollWidth, last.right]; }"
    )
    assert widths[0] <= widths[1] and widths[2] <= 1280 and widths[3] <= 1280, widths  # "Peak memory" in view
    assert "Adversarial Robustness Toolbox (ART)" in pg.inner_text("#overview")
    # no chart label starts left of its chart: "adversarial-robustness-toolbox" keeps its first letter
    left = pg.eval_on_selector_all("svg.chart text.lbl", "ts => ts.map(t => [t.textContent, t.getBBox().x])")
    assert any(text.startswith("adversarial-robustness-toolbox") for text, _ in left)
    assert [(text, x) for text, x in left if x < 0] == []
    pg.close()
