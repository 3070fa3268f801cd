"""A red-team directory's report.html in a real headless Chromium, opened from a file:// URL with no network."""

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.reports.redteam_fixtures import redteam_dir
from tests.reports.report_browser import Browser, chromium_path

pytestmark = [pytest.mark.slow, pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get install chromium)")]


def test_the_page_shows_report_json_and_every_success_with_its_span(tmp_path):
    rt = redteam_dir(tmp_path)
    assert CliRunner().invoke(app, ["report", str(rt), "--format", "html"]).exit_code == 0
    report = json.loads((rt / "report.json").read_text())
    found = {x["id"]: x for x in map(json.loads, (rt / "found.jsonl").read_text().splitlines())}
    with Browser() as browser:
        browser.open(rt / "report.html")
        cards = browser.js(
            "Object.fromEntries([...document.querySelectorAll('[data-k]')].map(e => [e.dataset.k, e.textContent]))"
        )
        assert cards["gaming_resistance"] == f"{100 * report['gaming_resistance']:.0f}%"
        assert cards["broken"] == f"{report['broken']} of {report['seeds']}"
        assert cards["median_queries"] == f"{report['median_queries_to_first_success']:g}"
        operators = browser.js(
            "[...document.querySelectorAll('#by-operator tbody tr')].map(r => [...r.cells].map(c => c.textContent))"
        )
        assert [row[0] for row in operators][:2] == ["disavow", "trim"]
        assert {row[0]: int(row[3]) for row in operators}["disavow"] == report["by_operator"]["disavow"]["seeds_broken"]
        assert browser.js("[...document.querySelectorAll('#by-tier tbody td')].map(c => c.textContent)") == ["signals", "23"]
        items = browser.js(
            "[...document.querySelectorAll('details.found')].map(d => ({id: d.dataset.id, "
            "chain: [...d.querySelectorAll('.chip')].map(c => c.textContent), "
            "verdict: d.querySelector('.badge').textContent, "
            "flag: [...d.querySelectorAll('.diff > div:last-child .flag')].map(f => f.textContent), "
            "colour: getComputedStyle(d.querySelector('.badge')).backgroundColor}))"
        )
        assert [item["id"] for item in items] == list(found)
        for item in items:
            line = found[item["id"]]
            assert item["chain"] == line["redteam"]["operators"] and item["verdict"] == "genuine"
            assert item["colour"] == "rgb(46, 125, 50)"  # the eval report's genuine green (reports/colours.py)
            assert item["flag"] and all(f.lower() == line["violations"][0]["quote"].lower() for f in item["flag"]), item
        browser.js("document.querySelector('details.found').open = true")
        assert browser.js("document.querySelector('details.found .diff').getBoundingClientRect().height") > 50


def test_an_eval_report_shows_the_red_team_it_carries(tmp_path):
    rt = redteam_dir(tmp_path)
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"prompt": "Hi?", "draft": "Hello.", "revision": "Hello!"}) + "\n", encoding="utf-8")
    out = tmp_path / "eval"
    args = ["eval", str(source), "--judge", "none", "--scorer", "fast", "-q", "--out", str(out), "--redteam-report", str(rt)]
    assert CliRunner().invoke(app, args).exit_code == 0
    with Browser() as browser:
        browser.open(out / "report.html")
        shown = browser.js(
            "Object.fromEntries([...document.querySelectorAll('#redteam [data-k]')].map(e => [e.dataset.k, e.textContent]))"
        )
        assert shown["gaming_resistance"] == "55%" and shown["broken"] == "23 of 51" and shown["median_queries"] == "90"
        assert browser.js("document.querySelector('#redteam').getBoundingClientRect().height") > 50
        assert browser.js("document.querySelectorAll('#records details').length") == 1  # the eval's own records still show
