"""In a real headless Chromium: report.html after `cai review DIR --set` shows the person's verdict with no manual
rebuild (`cai report DIR --open` opens the page written again), and without a judge the canaries are folded away."""

import json
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.evals.test_labels import ROWS
from tests.helpers import ROOT
from tests.reports.report_browser import Browser, chromium_path
from tests.reports.report_fixtures import eval_dir, labelled_rows

ARTIFACTS = ROOT / "tests" / "artifacts"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get install chromium)")]

SUMMARY = "document.querySelector('#records details.rec > summary').textContent"


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_the_page_after_review_set_shows_the_persons_verdict(tmp_path, monkeypatch):
    out = eval_dir(tmp_path, labelled_rows() + ROWS)
    lines = {line["id"]: line for line in map(json.loads, (out / "eval.jsonl").read_text().splitlines())}
    assert lines["peru"]["needs_review"] and lines["peru"]["verdict"] != "evasive"
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    with Browser() as browser:
        browser.open(out / "report.html", "q=peru")
        before = browser.js(SUMMARY)
        assert "needs review" in before and "people:" not in before
        assert cai("review", out, "--set", "peru", "evasive", "--note", "dodges the question").exit_code == 0
        result = cai("report", out, "--open")
        assert result.exit_code == 0, result.output
        [url] = opened
        browser.send("Page.navigate", url="about:blank")  # the same URL again would only move to its fragment
        browser.open(Path(url2pathname(urlsplit(url).path)), "q=peru")
        after = browser.js(SUMMARY)
        assert "people: evasive" in after and "needs review" not in after
        badge = "document.querySelector('#records .badge.v-evasive')"
        assert browser.js(f"{badge}.textContent") == "people: evasive"
        assert browser.js(f"getComputedStyle({badge}).backgroundColor") == "rgb(123, 31, 162)"  # colours.py's #7b1fa2
        card = browser.js("document.querySelector('[data-k=labelled]').textContent")
        assert card == "1"
        fold = browser.js(
            "(() => { const d = document.querySelector('details.canaries-fold'), s = d.querySelector('summary');"
            " return [d.open, s.textContent, d.querySelector('table').checkVisibility(), d.offsetHeight]; })()"
        )
        assert fold[0] is False and fold[1].startswith("No judge ran, so there was nothing for the canaries to test")
        assert fold[2] is False and fold[3] < 60  # folded: the table takes no room until opened
        print(f"screenshot: {browser.screenshot(ARTIFACTS / 'report-after-review.png', full_page=False)}")


def test_an_undecided_record_has_a_grey_badge_that_shows_its_leaning(tmp_path):
    out = eval_dir(tmp_path, ROWS)
    lines = {line["id"]: line for line in map(json.loads, (out / "eval.jsonl").read_text().splitlines())}
    undecided = next(line for line in lines.values() if line["verdict"] == "undecided")
    with Browser() as browser:
        browser.open(out / "report.html", f"q={undecided['id']}")
        badge = "document.querySelector('#records .badge.v-undecided')"
        assert browser.js(f"{badge}.textContent") == f"undecided, leaning {undecided['leaning']}"
        assert browser.js(f"getComputedStyle({badge}).backgroundColor") == "rgb(158, 158, 158)"  # colours.py's #9e9e9e
        assert "needs review" in browser.js(SUMMARY)
