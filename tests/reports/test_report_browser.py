"""report.html in a real headless Chromium, opened from a file:// URL with no network."""

import json

import pytest
from benchmarks.report_10k import big_report, measure

from tests.helpers import ROOT
from tests.reports.report_browser import Browser, chromium_path
from tests.reports.report_fixtures import HOSTILE, eval_dir, labelled_rows

ARTIFACTS = ROOT / "tests" / "artifacts"  # git-ignored; CI can keep it

pytestmark = [pytest.mark.slow, pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get install chromium)")]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = eval_dir(tmp_path_factory.mktemp("report"), labelled_rows() + HOSTILE)
    return out / "report.html", json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def matching(browser) -> int:
    return int(browser.js("document.getElementById('shown').dataset.matching"))


def test_numbers_shown_match_report_json(browser, page):
    path, report = page
    browser.open(path)
    cards = browser.js("Object.fromEntries([...document.querySelectorAll('[data-k]')].map(e => [e.dataset.k, e.textContent]))")
    assert cards["total"] == str(report["total"])
    assert cards["genuine"] == str(report["counts"]["genuine"]) and cards["superficial"] == str(report["counts"]["superficial"])
    assert cards["needs_review"] == str(report["needs_review"]) and cards["judge_fooled_rate"] == "no judge"
    bars = browser.js(
        "Object.fromEntries([...document.querySelectorAll('[data-verdict-count]')]"
        ".map(e => [e.dataset.verdictCount, e.textContent.split(' ')[0]]))"
    )
    assert bars == {v: str(n) for v, n in report["counts"].items()}
    cells = browser.js(
        "[...document.querySelectorAll('#principles td[data-principle]')]"
        ".map(e => [e.dataset.principle, e.dataset.verdict, e.textContent])"
    )
    assert cells and all(report["principles"][p]["counts"][v] == int(n) for p, v, n in cells)
    assert matching(browser) == report["total"]
    path = browser.screenshot(ARTIFACTS / "report.png", full_page=False)
    print(f"screenshot: {path}")


def test_markup_in_responses_is_shown_as_text_and_never_runs(browser, page):
    path, report = page
    browser.open(path, "q=xss")
    assert matching(browser) == 2
    assert browser.js("document.title") == f"Eval report: {report['constitution']['name']} {report['constitution']['version']}"
    assert browser.js("typeof window.pwned") == "undefined"
    assert browser.js("document.querySelectorAll('#records img, #records script, [onerror]').length") == 0
    revisions = browser.js("[...document.querySelectorAll('#records .diff > div:last-child .text')].map(e => e.textContent)")
    assert any("<script>document.title='pwned'" in text for text in revisions)
    assert any("<img src=x onerror=" in text for text in revisions)
    assert "xss-script</script>" in browser.js("document.getElementById('records').textContent")
    browser.js("document.getElementById('shown').scrollIntoView()")
    print(f"screenshot: {browser.screenshot(ARTIFACTS / 'report-escaped.png', full_page=False)}")


def test_filters_from_the_url_and_the_controls(browser, page):
    path, report = page
    browser.open(path, "verdict=superficial")
    assert matching(browser) == report["counts"]["superficial"]
    assert set(browser.js("[...document.querySelectorAll('#records details.rec')].map(e => e.dataset.verdict)")) == {
        "superficial"
    }
    browser.js(
        "(() => { const s = document.getElementById('f-verdict'); s.value = ''; s.dispatchEvent(new Event('change'));"
        " const p = document.getElementById('f-principle'); p.value = 'illegal-help'; p.dispatchEvent(new Event('change')); })()"
    )
    assert matching(browser) == report["principles"]["illegal-help"]["total"]
    assert "principle=illegal-help" in browser.js("location.hash")
    browser.js(
        "(() => { const p = document.getElementById('f-principle'); p.value = ''; p.dispatchEvent(new Event('change'));"
        " const r = document.getElementById('f-review'); r.checked = true; r.dispatchEvent(new Event('change')); })()"
    )
    assert matching(browser) == report["needs_review"]
    cell = browser.js(
        "new Promise(done => { const a = document.querySelector('#principles td[data-verdict=superficial] a');"
        " addEventListener('hashchange', () => setTimeout(() => done([a.closest('td').dataset.principle,"
        " +a.textContent])), {once: true}); a.click(); })"
    )
    assert matching(browser) == cell[1] == report["principles"][cell[0]]["counts"]["superficial"]
    assert browser.js("document.getElementById('f-principle').value") == cell[0]


def test_ten_thousand_records_load_and_filter_quickly(tmp_path):
    path, report, build_seconds = big_report(tmp_path, 10_000)
    numbers = measure(path, report)
    print(
        f"10k records: build {build_seconds:.2f}s, load {numbers['load_s']:.2f}s, filter {numbers['filter_ms']:.0f} ms, "
        f"search {numbers['search_ms']:.0f} ms"
    )
    assert numbers["load_s"] < 10 and numbers["filter_ms"] < 1000 and numbers["search_ms"] < 2000
