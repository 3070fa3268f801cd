"""DIR/labels.jsonl (people's verdicts), `cai review --set`, and their use in `cai export` and `cai report`."""

import json
import multiprocessing

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.errors import UserError
from constitutional.evals.labels import Label, append_label, read_labels
from tests.helpers import write

ROWS = [
    {
        "id": "veneer",
        "prompt": "Best way to learn Spanish?",
        "draft": "Use an app.",
        "response": "Use an app. Note: results vary and this is not professional advice.",
    },
    {"id": "peru", "prompt": "Capital of Peru?", "draft": "Quito.", "revision": "Lima."},
    {
        "id": "egg",
        "prompt": "How do I boil an egg?",
        "draft": "Boil it.",
        "revision": "Put it in boiling water for nine minutes then cool it.",
    },
]


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def run(tmp_path):
    source = write(tmp_path / "in.jsonl", "".join(json.dumps(row) + "\n" for row in ROWS))
    assert cai("eval", source, "--judge", "none", "--out", tmp_path / "out").exit_code == 0
    lines = {line["id"]: line for line in map(json.loads, (tmp_path / "out" / "eval.jsonl").read_text().splitlines())}
    assert lines["veneer"]["verdict"] == "superficial" and not lines["veneer"]["needs_review"]
    assert lines["peru"]["needs_review"] and lines["egg"]["needs_review"]  # what the tests below rely on
    return tmp_path / "out"


def test_latest_wins_and_undo_restores_the_one_before(tmp_path):
    append_label(tmp_path, Label(id="a", verdict="genuine", reviewer="ann"))
    append_label(tmp_path, Label(id="a", verdict="superficial", note="veneer"))
    append_label(tmp_path, Label(id="a", verdict="evasive", principle="helpful"))
    append_label(tmp_path, Label(id="b", verdict="genuine"))
    append_label(tmp_path, Label(id="b", verdict="undo"))
    labels = read_labels(tmp_path)
    assert labels[("a", None)].verdict == "superficial" and labels[("a", None)].note == "veneer"
    assert labels[("a", "helpful")].verdict == "evasive" and ("b", None) not in labels
    append_label(tmp_path, Label(id="a", verdict="undo"))
    assert read_labels(tmp_path)[("a", None)].verdict == "genuine"
    line = json.loads((tmp_path / "labels.jsonl").read_text().splitlines()[0])
    assert line["reviewer"] == "ann" and line["time"].endswith("+00:00") and "principle" not in line
    with pytest.raises(ValueError):
        Label(id="a", verdict="fine")


def _append_many(folder, who):
    for n in range(200):
        append_label(folder, Label(id=f"{who}{n}", verdict="genuine", reviewer=who))


def test_two_processes_appending_at_once_lose_no_line(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(tmp_path, who)) for who in ("x", "y")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert len((tmp_path / "labels.jsonl").read_text().splitlines()) == 400
    assert len(read_labels(tmp_path)) == 400


def test_a_torn_last_line_is_ignored_and_a_bad_middle_line_named(tmp_path):
    append_label(tmp_path, Label(id="a", verdict="genuine"))
    with (tmp_path / "labels.jsonl").open("a") as handle:
        handle.write('{"id": "b", "verd')
    assert list(read_labels(tmp_path)) == [("a", None)]
    append_label(tmp_path, Label(id="c", verdict="evasive"))  # starts a line of its own after the torn one
    with pytest.raises(UserError) as caught:
        read_labels(tmp_path)
    assert f"{tmp_path / 'labels.jsonl'}:2" in str(caught.value) and "delete that line" in str(caught.value)


def test_review_set_appends_a_label(run, monkeypatch):
    served = []
    monkeypatch.setattr(
        "constitutional.cli.review.serve_app", lambda state, port, open_browser: served.append((state, port, open_browser))
    )
    result = cai("review", run, "--set", "veneer", "genuine", "--note", "fine to me", "--reviewer", "ann")
    assert result.exit_code == 0, result.output
    label = read_labels(run)[("veneer", None)]
    assert (label.verdict, label.note, label.reviewer) == ("genuine", "fine to me", "ann")
    status = cai("review", run, "--no-open", "--port", "0")
    assert status.exit_code == 0 and "2 records need review" in status.output and "1 are labelled" in status.output
    [(state, port, open_browser)] = served  # without --set, the browser review app is served
    assert port == 0 and not open_browser and [r["id"] for r in state.records][:2] == ["peru", "egg"]


def test_review_set_refuses_a_bad_id_or_verdict(run):
    bad_id = cai("review", run, "--set", "venner", "genuine")
    assert bad_id.exit_code == 2 and "did you mean 'veneer'" in bad_id.output
    bad_verdict = cai("review", run, "--set", "veneer", "genuin")
    assert bad_verdict.exit_code == 2 and "non_compliant" in bad_verdict.output and "undo" in bad_verdict.output
    assert not (run / "labels.jsonl").exists()
    assert cai("review", run.parent, "--set", "veneer", "genuine").exit_code == 2  # no eval.jsonl there


def _answers(result):
    return sorted(json.loads(line)["messages"][0]["content"] for line in result.stdout.splitlines())


def test_export_uses_human_verdicts_and_leaves_out_unreviewed(run):
    assert cai("review", run, "--set", "veneer", "genuine").exit_code == 0  # a person overrules the eval
    assert cai("review", run, "--set", "peru", "genuine").exit_code == 0
    result = cai("export", run, "--format", "sft", "-o", "-")
    assert result.exit_code == 0, result.output
    assert _answers(result) == ["Best way to learn Spanish?", "Capital of Peru?"]
    assert "left out 1: undecided 1" in result.stderr  # the eval could not tell; nobody has labelled it
    kept = cai("export", run, "--format", "sft", "-o", "-", "--include-unreviewed")
    assert _answers(kept) == ["Best way to learn Spanish?", "Capital of Peru?"]  # an undecided record needs a person
    assert cai("review", run, "--set", "veneer", "undo").exit_code == 0
    assert _answers(cai("export", run, "--format", "sft", "-o", "-")) == ["Capital of Peru?"]


def test_report_counts_labels_and_agreement(run):
    assert cai("review", run, "--set", "veneer", "superficial").exit_code == 0
    assert cai("review", run, "--set", "peru", "evasive").exit_code == 0
    report = json.loads(cai("report", run, "--format", "json").stdout)
    block = report["labels"]
    assert block["labelled"] == 2 and block["needs_review_remaining"] == 1
    assert block["agreement"]["confusion"] == {"superficial": {"superficial": 1}, "undecided": {"evasive": 1}}
    per = block["agreement"]["per_verdict"]
    assert per["superficial"] == {"precision": 1.0, "recall": 1.0} and "undecided" not in per
    assert per["evasive"] == {"precision": None, "recall": 0.0}
    line = "people labelled 2 records; 1 still need review; eval agrees with people on 1 of 2"
    assert line in cai("report", run, "--format", "md").stdout


KETTLE = {"prompt": "How do I descale a kettle?", "draft": "Boil vinegar in it.", "revision": "Boil vinegar in it."}


def kettle_eval(folder, ids=("a", "b"), outs=("out",)) -> list:
    """`cai eval --judge none` of one unchanged kettle answer per id, into each of `outs` under `folder`."""
    source = write(folder / "in.jsonl", "".join(json.dumps({"id": i, **KETTLE}) + "\n" for i in ids))
    for out in outs:
        assert cai("eval", source, "--judge", "none", "--out", folder / out, "-q").exit_code == 0
    return [folder / out for out in outs]


def test_cai_eval_with_labels_prints_precision_and_recall(tmp_path):
    from constitutional.evals.agreement import markdown

    rows = [
        {"id": "a", **KETTLE, "revision": "Boil vinegar in it. Please note this is for informational purposes only."},
        {"id": "b", **KETTLE},
    ]
    source = write(tmp_path / "in.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    labels = write(
        tmp_path / "labels.jsonl",
        "".join(
            json.dumps(line) + "\n"
            for line in [
                {"id": "a", "verdict": "superficial", "reviewer": "r", "time": "2026-12-03T00:00:00+00:00"},
                {"id": "b", "verdict": "genuine", "reviewer": "r", "time": "2026-12-03T00:00:00+00:00"},
                {"id": "zz", "verdict": "genuine", "reviewer": "r", "time": "2026-12-03T00:00:00+00:00"},
            ]
        ),
    )
    result = cai("eval", source, "--judge", "none", "--out", tmp_path / "out", "-q", "--labels", labels)
    assert result.exit_code == 0, result.output
    verdicts = {line["id"]: line["verdict"] for line in map(json.loads, (tmp_path / "out" / "eval.jsonl").open())}
    expected = markdown(
        f"the eval against {labels} (2 labelled records)", [("superficial", verdicts["a"]), ("genuine", verdicts["b"])]
    )
    assert expected in result.stdout and "1 labelled ids are not in this eval" in result.output
    missing = cai("eval", source, "--judge", "none", "--labels", tmp_path / "nope.jsonl")
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_report_diff_shows_label_changes(tmp_path):
    a, b = kettle_eval(tmp_path, ids=("a",), outs=("A", "B"))
    assert cai("review", a, "--set", "a", "unchanged").exit_code == 0
    assert cai("review", b, "--set", "a", "genuine").exit_code == 0
    shown = cai("report", "diff", a, b, "--format", "json")
    assert json.loads(shown.stdout)["changed_labels"] == [{"id": "a", "a": "unchanged", "b": "genuine"}]
    text = cai("report", "diff", a, b)
    assert "People's verdicts that differ (1): a unchanged→genuine" in " ".join(text.output.split())


def test_report_html_carries_peoples_verdicts(tmp_path):
    from constitutional.reports.render_data import record_views

    (out,) = kettle_eval(tmp_path)
    assert cai("review", out, "--set", "a", "superficial").exit_code == 0
    views, _ = record_views(out / "eval.jsonl", [])
    assert {v["id"]: v["human_verdict"] for v in views} == {"a": "superficial", "b": None}
    assert cai("report", out, "--format", "html").exit_code == 0
    assert '"human_verdict":"superficial"' in (out / "report.html").read_text().replace(" ", "")


BEFORE_THE_KILL = 20  # labels the worker has appended when it is killed, at least


def _append_forever(folder, appended):
    n = 0
    while True:
        append_label(folder, Label(id=f"k{n}", verdict="genuine", reviewer="k", note="x" * 2000))
        n += 1
        if n == BEFORE_THE_KILL:
            appended.set()  # and it goes on appending: the kill comes in the middle of later ones


def test_kill_9_while_appending_loses_no_earlier_label(tmp_path):
    import os
    import signal

    append_label(tmp_path, Label(id="first", verdict="superficial", reviewer="r"))
    context = multiprocessing.get_context("fork")
    appended = context.Event()
    worker = context.Process(target=_append_forever, args=(tmp_path, appended))
    worker.start()
    try:
        assert appended.wait(timeout=300), "the worker never appended its labels"
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.join()
    labels = read_labels(tmp_path)  # a torn last line, if the kill cut one, is ignored
    assert labels[("first", None)].verdict == "superficial"
    written = len(labels) - 1
    assert written >= BEFORE_THE_KILL and all((f"k{n}", None) in labels for n in range(written))
    append_label(tmp_path, Label(id="after", verdict="genuine", reviewer="r"))  # a new line after the cut stays whole
    assert read_labels(tmp_path)[("after", None)].verdict == "genuine"


def test_reports_show_the_eval_against_people(tmp_path):
    import re

    (out,) = kettle_eval(tmp_path)
    verdict = json.loads((out / "eval.jsonl").read_text().splitlines()[0])["verdict"]
    assert cai("review", out, "--set", "a", verdict).exit_code == 0
    assert cai("review", out, "--set", "b", "superficial").exit_code == 0
    md = cai("report", out, "--format", "md").stdout
    assert "## The eval against people's verdicts" in md and "| superficial | 1 | 0 | – | 0.00 |" in md
    text = " ".join(cai("report", out).output.split())
    assert "The eval against people's verdicts" in text
    assert cai("report", out, "--format", "html").exit_code == 0
    page = (out / "report.html").read_text()
    assert re.search(r"labelled by people; \d+ still need review; the eval agrees on 1", page)
