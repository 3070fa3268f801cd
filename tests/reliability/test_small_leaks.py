"""Issue 28's smaller items: the reply cache is private to the user, and JSON printed to a terminal carries no raw
control character a terminal acts on."""

import json
import os
import stat

from typer.testing import CliRunner

from constitutional.calls.cache import ReplyCache
from constitutional.cli.app import app
from tests.helpers import write


def test_the_reply_cache_and_its_journal_are_0600_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        cache = ReplyCache(tmp_path / "cache")
        cache.put("k", {"text": "an answer", "parsed": None})
        cache.close()
    finally:
        os.umask(old)
    for path in (tmp_path / "cache").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_report_format_json_escapes_c1_controls_such_as_csi(tmp_path):
    row = {"id": "a", "prompt": "Capital of Peru?", "revision": "Lima is the capital."}
    source = write(tmp_path / "in\u009b2J.jsonl", json.dumps(row) + "\n")  # report.json names its input
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["eval", str(source), "--judge", "none", "--out", str(out), "-q"]).exit_code == 0
    shown = CliRunner().invoke(app, ["report", str(out), "--format", "json"]).output
    assert "\u009b" not in shown and "\\u009b" in shown
    assert json.loads(shown) == json.loads((out / "report.json").read_text())


def test_a_label_note_holding_a_lone_surrogate_is_shown_not_a_crash(tmp_path):
    row = {"id": "a", "prompt": "Capital of Peru?", "revision": "Lima is the capital."}
    source = write(tmp_path / "in.jsonl", json.dumps(row) + "\n")
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["eval", str(source), "--judge", "none", "--out", str(out), "-q"]).exit_code == 0
    label = '{"id": "a", "verdict": "evasive", "note": "\\ud800 odd", "reviewer": "x", "time": "2026-12-07T19:14:44+00:00"}\n'
    write(out / "labels.jsonl", label)
    for form in ("text", "md", "json"):
        result = CliRunner().invoke(app, ["report", str(out), "--format", form])
        assert result.exit_code == 0, (form, result.output)
    assert "\ufffd odd" in CliRunner().invoke(app, ["report", str(out)]).output
