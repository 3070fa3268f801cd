"""The review app of `cai review DIR` in a real headless Chromium (Debian's binary, no download), over 127.0.0.1."""

import json
import time

import pytest

from tests.evals.test_labels import ROWS
from tests.reports.report_browser import Browser, chromium_path
from tests.reports.report_fixtures import HOSTILE, eval_dir
from tests.reports.review_serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.skipif(chromium_path() is None, reason="needs chromium (apt-get install chromium)")]


@pytest.fixture
def server(tmp_path):
    with serving(eval_dir(tmp_path, ROWS + HOSTILE), "bo") as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def load(browser, url: str, timeout: float = 20.0) -> None:
    browser.send("Page.navigate", url=url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if browser.js("document.readyState === 'complete' && !!document.body && document.body.dataset.ready === '1'"):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not load: {browser.js('document.body && document.body.textContent')}")


def press(browser, key: str) -> None:
    browser.send("Input.dispatchKeyEvent", type="keyDown", key=key, text=key)
    browser.send("Input.dispatchKeyEvent", type="keyUp", key=key)


def wait_for(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("condition not met")


def label_lines(srv) -> list[dict]:
    path = srv.state.run_dir / "labels.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_keys_label_undo_and_progress(browser, server):
    load(browser, server.url)
    order = [r["id"] for r in server.state.records]
    total = len(order)
    assert browser.js("document.getElementById('progress').textContent") == f"0 of {total} reviewed"
    assert browser.js("document.getElementById('rec-id').textContent") == order[0]
    press(browser, "j")
    assert browser.js("document.getElementById('rec-id').textContent") == order[1]
    press(browser, "2")
    lines = wait_for(lambda: label_lines(server))
    assert lines == [{**lines[0], "id": order[1], "verdict": "superficial", "reviewer": "bo"}]
    wait_for(lambda: browser.js("document.getElementById('progress').textContent") == f"1 of {total} reviewed")
    assert browser.js("document.getElementById('rec-human').textContent") == "superficial"
    press(browser, "u")
    lines = wait_for(lambda: len(label_lines(server)) == 2 and label_lines(server))
    assert (lines[1]["id"], lines[1]["verdict"]) == (order[1], "undo")
    wait_for(lambda: browser.js("document.getElementById('progress').textContent") == f"0 of {total} reviewed")
    press(browser, "k")
    assert browser.js("document.getElementById('rec-id').textContent") == order[0]


def test_markup_in_model_text_is_shown_as_text_and_never_runs(browser, server):
    load(browser, server.url)
    order = [r["id"] for r in server.state.records]
    seen = []
    for position, record_id in enumerate(order):
        if position:
            press(browser, "j")
        assert browser.js("document.getElementById('rec-id').textContent") == record_id
        seen.append(browser.js("document.getElementById('revision').textContent"))
        assert browser.js("document.querySelectorAll('#revision script, #revision img, #revision [onerror]').length") == 0
    assert any("<script>document.title='pwned'" in text for text in seen)
    assert any("<img src=x onerror=" in text for text in seen)
    assert browser.js("typeof window.pwned") == "undefined" and browser.js("document.title") == "cai review"
    assert browser.js("document.querySelectorAll('img, [onerror]').length") == 0
    assert browser.js("document.querySelectorAll('script').length") == 1


def test_veneer_is_highlighted(browser, server):
    load(browser, server.url)
    records = server.state.records
    position = next(i for i, r in enumerate(records) if r["veneer_added_text"])
    for _ in range(position):
        press(browser, "j")
    marks = browser.js("[...document.querySelectorAll('#revision mark.veneer')].map(m => m.textContent)")
    assert marks and set(marks) <= set(records[position]["veneer_added_text"])


def test_p_labels_a_principle(browser, tmp_path):
    rows = [
        {
            "id": "peru",
            "prompt": "Capital of Peru?",
            "draft": "Quito.",
            "revision": "Lima.",
            "violations": [{"principle": "honesty", "quote": "Quito."}],
        }
    ]
    with serving(eval_dir(tmp_path, rows), "bo") as srv:
        load(browser, srv.url)
        assert [p["id"] for p in srv.state.records[0]["principles"]] == ["honesty"]
        # The report page's view: the flagged words outlined in the draft, the diff, the critique's flags.
        assert browser.js("[...document.querySelectorAll('#draft .flag')].map(n => n.textContent).join('')") == "Quito."
        assert "Lima" in browser.js("[...document.querySelectorAll('#revision .ins')].map(n => n.textContent).join('')")
        assert "critique (honesty): “Quito.”" in browser.js("document.getElementById('flags').textContent")
        assert "honesty: " in browser.js("document.getElementById('evidence').textContent")
        press(browser, "p")
        assert browser.js("document.getElementById('target').textContent") == "principle honesty"
        press(browser, "1")
        lines = wait_for(lambda: label_lines(srv))
        assert lines[0]["principle"] == "honesty" and lines[0]["verdict"] == "genuine"
        wait_for(lambda: "(human: genuine)" in browser.js("document.getElementById('rec-principles').textContent"))
        assert browser.js("document.getElementById('progress').textContent") == "0 of 1 reviewed"  # a principle is not the record
        press(browser, "p")
        assert browser.js("document.getElementById('target').textContent") == "the record"


def test_the_filter_shows_one_verdict(browser, server):
    load(browser, server.url)
    verdict = server.state.records[-1]["verdict"]
    expected = [r["id"] for r in server.state.records if r["verdict"] == verdict]
    browser.js(
        f"(() => {{ const f = document.getElementById('filter'); f.value = 'v:{verdict}'; "
        "f.dispatchEvent(new Event('change')); return 1; })()"
    )
    seen = []
    for n in range(len(expected)):
        if n:
            press(browser, "j")
        seen.append(browser.js("document.getElementById('rec-id').textContent"))
    assert seen == expected
    assert browser.js("document.getElementById('position').textContent") == f"record {len(expected)} of {len(expected)}"
