"""report.html's record list in a real headless Chromium: one message when nothing matches, pagers only when
there is a page to turn to."""

import pytest

from tests.reports.report_browser import Browser, chromium_path
from tests.reports.report_fixtures import HOSTILE, eval_dir, labelled_rows

pytestmark = [pytest.mark.slow, pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get install chromium)")]

VISIBLE_PAGERS = "[...document.querySelectorAll('.pager')].filter(e => e.getClientRects().length > 0).length"


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    records = labelled_rows() + HOSTILE
    assert len(records) > 25  # more than one page of records
    return eval_dir(tmp_path_factory.mktemp("report"), records) / "report.html"


def test_no_match_shows_one_message_and_no_pager(browser, page):
    browser.open(page, "q=no-record-says-this")
    assert browser.js("document.getElementById('shown').dataset.matching") == "0"
    text = browser.js("document.body.innerText")
    assert text.count("No record matches") == 1
    assert "page 1 of" not in text and browser.js(VISIBLE_PAGERS) == 0
    assert browser.js("document.getElementById('records').children.length") == 0


def test_pagers_show_above_and_below_when_there_are_pages_to_turn(browser, page):
    browser.open(page)
    assert browser.js(VISIBLE_PAGERS) == 2 and "page 1 of 2" in browser.js("document.body.innerText")
    browser.js(
        "(() => { const q = document.getElementById('f-search'); q.value = 'no-record-says-this';"
        " q.dispatchEvent(new Event('input')); })()"
    )
    browser.js("new Promise(done => setTimeout(done, 400))")  # the search waits for typing to pause
    assert browser.js(VISIBLE_PAGERS) == 0 and browser.js("document.body.innerText").count("No record matches") == 1
    browser.js(
        "(() => { const q = document.getElementById('f-search'); q.value = 'xss'; q.dispatchEvent(new Event('input')); })()"
    )
    browser.js("new Promise(done => setTimeout(done, 400))")
    assert browser.js("document.getElementById('shown').dataset.matching") == "2" and browser.js(VISIBLE_PAGERS) == 0
    assert browser.js("document.querySelectorAll('#records details.rec').length") == 2
