"""The list of records that ends `cai report DIR` (text and Markdown), `--records`, and what people's labels
change on disk: report.json's `labels` block and report.html, written again when labels.jsonl changes."""

import json
import os
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.evals.labels import Label, append_label
from constitutional.evals.report_model import Report
from constitutional.reports.colours import style, verdict_css
from constitutional.reports.record_list import RecordList, RecordRow, record_list
from constitutional.reports.render_data import load_dir
from constitutional.reports.render_html import build_html
from constitutional.reports.render_text import RecordTable
from tests.evals.test_labels import ROWS
from tests.reports.report_fixtures import eval_dir, labelled_rows

LONG_ID = "a-record-id-much-longer-than-the-id-column-" + "x" * 20


def cai(*args, columns=80):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": str(columns)})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    rows = labelled_rows()
    rows.append(dict(rows[0], id=LONG_ID))
    rows += [row for row in ROWS if row["id"] != "veneer"]  # short answers the eval sends to review
    return eval_dir(tmp_path_factory.mktemp("records"), rows)


@pytest.fixture
def labelled(run, tmp_path):
    """A copy of the run to label, and its eval lines by id."""
    out = tmp_path / "run"
    out.mkdir()
    for name in ("eval.jsonl", "report.json", "report.html"):
        (out / name).write_bytes((run / name).read_bytes())
    return out, {line["id"]: line for line in map(json.loads, (out / "eval.jsonl").read_text().splitlines())}


def listed(output: str) -> list[str]:
    """The ids of the text list's rows, in order (a long id is on a line of its own, its row under it blank there)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Records"))
    ids = []
    for line in lines[start + 2 :]:
        if line.startswith(("review: ", "No record")):
            break
        if not line.startswith(" "):
            ids.append(line.split()[0])
    return ids


def in_order(run) -> tuple[list[dict], list[str]]:
    """The eval lines, and their ids as the list orders them: those needing review first."""
    lines = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    return lines, [line["id"] for line in lines if line["needs_review"]] + [
        line["id"] for line in lines if not line["needs_review"]
    ]


def test_the_text_report_ends_with_every_record_those_needing_review_first_in_80_columns(run):
    result = cai("report", run)
    assert result.exit_code == 0, result.output
    lines, order = in_order(run)
    assert all(len(line) <= 80 for line in result.output.splitlines()), max(result.output.splitlines(), key=len)
    assert f"Records ({len(lines)}; those waiting for a person first)" in result.output
    assert any(line["needs_review"] for line in lines) and listed(result.output) == order
    assert LONG_ID in result.output.splitlines()  # whole, on its own line: ids are never cut
    first = lines[0]
    row = next(line for line in result.output.splitlines() if line.startswith(first["id"] + " "))
    assert row.split()[1:3] == [first["verdict"], f"{first['confidence']:.2f}"]
    assert row.endswith("…") and first["reasons"][0].startswith(row.split(None, 3)[3][:-1])
    wide = cai("report", run, columns=200).output  # a wider terminal shows more of each reason
    assert all(len(line) <= 200 for line in wide.splitlines()) and first["reasons"][0][:100] in wide


def test_records_review_and_a_verdict_choose_the_rows(run):
    lines = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    review = cai("report", run, "--records", "review")
    assert listed(review.output) == [line["id"] for line in lines if line["needs_review"]]
    assert "Records that need review and have no person's verdict" in review.output
    evasive = cai("report", run, "-r", "evasive")
    assert listed(evasive.output) == [line["id"] for line in lines if line["verdict"] == "evasive"]
    assert "No record is error." in cai("report", run, "--records", "error").output


def test_a_bad_records_value_exits_2_with_the_fix(run):
    result = cai("report", run, "--records", "superficail")
    assert result.exit_code == 2
    assert "unknown --records value 'superficail'" in result.output and "did you mean 'superficial'" in result.output
    assert "all, review, genuine" in result.output
    json_too = cai("report", run, "--records", "review", "--format", "json")
    assert json_too.exit_code == 2 and "--open --records review" in json_too.output


def test_the_default_list_is_capped_and_says_how_to_see_every_record(run):
    listing = record_list(load_dir(run), cap=5)
    assert len(listing.rows) == 5 and listing.hidden == listing.matching - 5 > 0
    assert f"{listing.hidden} more not listed: `cai report {run} --records all`" in listing.more
    console = Console(width=80, record=True, color_system=None)
    console.print(RecordTable(listing))
    text = console.export_text()
    assert f"Records (5 of {listing.matching};" in text and "--records all" in text
    assert record_list(load_dir(run), "all", cap=5).hidden == 0  # asked for all: every one


def test_markdown_lists_every_record_with_its_id(run):
    md = cai("report", run, "--format", "md").output
    section = md[md.index("## Records") :]
    assert "| id | verdict | confidence | review | reason |" in section
    assert re.findall(r"^\| `([^`]+)` \|", section, re.M) == in_order(run)[1]


def test_a_persons_label_wins_in_the_list(labelled):
    out, lines = labelled
    genuine = next(i for i, line in lines.items() if line["verdict"] == "genuine" and not line["needs_review"])
    waiting = next(i for i, line in lines.items() if line["needs_review"])
    assert cai("review", out, "--set", genuine, "superficial", "--note", "only a disclaimer").exit_code == 0
    assert cai("review", out, "--set", waiting, "evasive").exit_code == 0
    text = cai("report", out, columns=120).output
    row = next(line for line in text.splitlines() if line.startswith(genuine + " "))
    assert row.split()[1] == "superficial" and " done " in row and 'eval said genuine; "only a disclaimer"' in row
    assert waiting not in listed(cai("report", out, "--records", "review").output)
    assert genuine in listed(cai("report", out, "--records", "superficial").output)
    assert genuine not in listed(cai("report", out, "--records", "genuine").output)
    assert waiting in listed(cai("report", out, "--records", "evasive").output)
    md = cai("report", out, "-f", "md").output
    assert f"| `{genuine}` | superficial | " in md and 'eval said genuine; "only a disclaimer"' in md


def test_an_undecided_record_shows_its_leaning_in_grey_and_an_unknown_verdict_renders_as_it_is():
    rows = [
        RecordRow("r1", "undecided", 0.5, True, "no tier has evidence", leaning="superficial"),
        RecordRow("r2", "hesitant", 0.5, True, "a verdict of a newer eval"),
    ]
    console = Console(width=80, record=True, color_system=None)
    console.print(RecordTable(RecordList(rows, 2, None, "runs/x")))
    text = console.export_text()
    assert "undecided" in text and "leaning superficial: no tier has evidence" in text and "needed" in text
    assert "hesitant" in text
    assert style("undecided") == "grey42" and style("hesitant") == "grey50"
    assert "--undecided:" in verdict_css() and "--other:" in verdict_css() and ".v-genuine" in verdict_css()


def test_review_set_puts_labels_in_report_json_and_report_html(labelled):
    out, lines = labelled
    before = json.loads((out / "report.json").read_text())
    assert "labels" not in before
    some = next(iter(lines))
    result = cai("review", out, "--set", some, "regressed")
    assert result.exit_code == 0, result.output
    after = json.loads((out / "report.json").read_text())
    assert after.pop("labels")["labelled"] == 1 and after == before  # nothing else changed
    assert json.loads(cai("report", out, "-f", "json").output)["labels"]["labelled"] == 1
    page = (out / "report.html").read_text()
    data = json.loads(re.search(r'id="records-data">(.*?)</script>', page, re.S).group(1))
    assert {r["id"]: r["human_verdict"] for r in data}[some] == "regressed"
    assert cai("review", out, "--set", some, "undo").exit_code == 0
    assert json.loads((out / "report.json").read_text())["labels"]["labelled"] == 0


def test_labels_appended_elsewhere_bring_report_json_and_the_page_up_to_date(labelled, monkeypatch):
    out, lines = labelled
    some = next(iter(lines))
    append_label(out, Label(id=some, verdict="evasive"))  # as an older version, or a killed review app, leaves it
    assert "labels" not in json.loads((out / "report.json").read_text())
    os.utime(out / "report.json", (1, 1))
    os.utime(out / "report.html", (1, 1))
    assert cai("report", out).exit_code == 0
    assert json.loads((out / "report.json").read_text())["labels"]["labelled"] == 1
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    result = cai("report", out, "--open", "--records", "review")
    assert result.exit_code == 0, result.output
    assert opened == [(out / "report.html").resolve().as_uri() + "#review=1"]
    assert (
        f'"id":"{some}"' in (out / "report.html").read_text() and '"human_verdict":"evasive"' in (out / "report.html").read_text()
    )


def test_the_review_app_writes_labels_to_report_json_and_the_page_when_it_stops(labelled, monkeypatch):
    from constitutional.reports.review_app import ReviewServer

    out, lines = labelled
    some = next(iter(lines))
    seen = {}

    def review_then_stop(self, *args, **kwargs):
        self.state.add({"id": some, "verdict": "non_compliant"})
        seen["report"] = json.loads((out / "report.json").read_text())  # at once, while the app runs
        raise KeyboardInterrupt

    monkeypatch.setattr("webbrowser.open", lambda url: True)
    monkeypatch.setattr(ReviewServer, "serve_forever", review_then_stop)
    result = cai("review", out, "--no-open")
    assert result.exit_code == 0 and "wrote 1 label" in result.output
    assert seen["report"]["labels"]["labelled"] == 1
    assert '"human_verdict":"non_compliant"' in (out / "report.html").read_text()


def test_without_a_judge_the_canaries_are_folded_away(run):
    page = (run / "report.html").read_text()
    fold = re.search(r"<details class=\"canaries-fold\"([^>]*)><summary>([^<]*)</summary>", page)
    assert fold and "open" not in fold.group(1)
    assert fold.group(2).startswith("No judge ran, so there was nothing for the canaries to test")
    report = load_dir(run).report.to_dict()
    report["judge"]["spec"] = "scripted:judge.yaml"
    assert '<details class="canaries-fold"' not in build_html(Report.model_validate(report), [])


def test_the_review_set_hint_names_a_command_that_lists_the_ids(labelled):
    out, lines = labelled
    result = cai("review", out, "--set", "no-such-record", "genuine")
    assert result.exit_code == 2 and f"`cai report {out} --records review` lists the records waiting" in result.output
    waiting = [i for i, line in lines.items() if line["needs_review"]]
    assert waiting and listed(cai("report", out, "--records", "review").output) == waiting


def _label_each(folder, ids):
    from constitutional.reports.refresh import after_labels

    for record_id in ids:
        append_label(folder, Label(id=record_id, verdict="error", reviewer="x"), then=lambda: after_labels(folder))


def test_reviewers_at_once_leave_every_label_in_report_json_and_the_page(labelled):
    import multiprocessing

    out, lines = labelled
    ids = list(lines)[:12]
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_label_each, args=(out, ids[n::3])) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert json.loads((out / "report.json").read_text())["labels"]["labelled"] == 12
    assert (out / "report.html").read_text().count('"human_verdict":"error"') == 12
