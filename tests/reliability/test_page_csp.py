"""report.html and the review app's page carry a Content-Security-Policy meta tag that allows only their own inline
script and style (report.html by SHA-256 hashes, the review page by a per-load nonce) and no network beyond the
review app's own API; in a real headless Chromium both pages still run their script and get their style, and a
script or style attribute planted in report.html is blocked."""

import pytest

from tests.evals.test_labels import ROWS
from tests.reports.report_browser import Browser, chromium_path
from tests.reports.report_fixtures import HOSTILE, eval_dir, labelled_rows
from tests.reports.review_serving import serving
from tests.reports.test_review_browser import label_lines, load, press, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get install chromium)")]

POLICY = "document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]')?.content"
BODY_BACKGROUND = "getComputedStyle(document.body).backgroundColor"  # set by each page's own style block


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def strict(policy: str) -> None:
    assert policy and "default-src 'none'" in policy and "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "*" not in policy and "http" not in policy  # no host is allowed


def test_report_html_runs_its_script_and_style_under_its_csp_and_blocks_planted_ones(browser, tmp_path):
    page = eval_dir(tmp_path, labelled_rows() + HOSTILE) / "report.html"
    browser.open(page)  # waits for the page's script to mark the body ready
    policy = browser.js(POLICY)
    strict(policy)
    assert "script-src 'sha256-" in policy and "style-src 'sha256-" in policy and "connect-src 'none'" in policy
    assert browser.js(BODY_BACKGROUND) == "rgb(246, 247, 249)"
    assert int(browser.js("document.getElementById('shown').dataset.matching")) > 0  # the records were rendered
    assert browser.js("getComputedStyle(document.querySelector('.scroll-x')).overflowX") == "auto"
    planted = tmp_path / "planted.html"
    planted.write_text(
        page.read_text().replace(
            "<main>", '<main><script>window.planted = 1</script><p id="painted" style="color: rgb(1, 2, 3)">x</p>', 1
        )
    )
    browser.open(planted)
    assert browser.js("typeof window.planted") == "undefined"
    assert browser.js("getComputedStyle(document.getElementById('painted')).color") != "rgb(1, 2, 3)"


def test_the_review_page_runs_labels_and_styles_under_its_csp(browser, tmp_path):
    with serving(eval_dir(tmp_path, ROWS), "bo") as server:
        load(browser, server.url)  # waits for the page's script to mark the body ready
        policy = browser.js(POLICY)
        strict(policy)
        nonce = browser.js("document.querySelector('script').nonce")
        assert nonce and f"script-src 'nonce-{nonce}'" in policy and f"style-src 'nonce-{nonce}'" in policy
        assert browser.js(BODY_BACKGROUND) == "rgb(246, 247, 249)"
        press(browser, "1")  # a label posted by the page's script to its own origin
        assert wait_for(lambda: label_lines(server))[0]["verdict"] == "genuine"
