import json

from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import ROOT
from tests.reports.report_fixtures import eval_dir, labelled_rows

SHORT = ROOT / "examples" / "constitutions" / "short.yaml"


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args], terminal_width=160)


def test_report_text_md_json_html(tmp_path):
    out = eval_dir(tmp_path, labelled_rows())
    report = json.loads((out / "report.json").read_text())
    text = cai("report", out)
    assert text.exit_code == 0, text.output
    assert "Verdicts" in text.output and "Per principle" in text.output and "illegal-help" in text.output
    md = cai("report", out, "--format", "md")
    assert md.output.startswith("# Eval report: default") and f"| genuine | {report['counts']['genuine']} |" in md.output
    assert json.loads(cai("report", out, "--format", "json").output) == report
    assert json.loads(cai("report", "-f", "json", out).output) == report
    assert "diff" in cai("report", "--help").output
    (out / "report.html").unlink()
    html = cai("report", out, "--format", "html")
    assert html.exit_code == 0 and html.output.strip() == str(out / "report.html")
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_report_of_a_directory_without_report_is_a_usage_error(tmp_path):
    result = cai("report", tmp_path)
    assert result.exit_code == 2 and "cai eval" in result.output


def constitution_file(tmp_path, name, edit):
    text = SHORT.read_text()
    path = tmp_path / f"{name}.yaml"
    path.write_text(edit(text))
    return path


def two_runs(tmp_path):
    rows = labelled_rows()
    a_file = constitution_file(tmp_path, "before", lambda t: t)
    b_file = constitution_file(
        tmp_path,
        "after",
        lambda t: t.replace("Quote any invented fact", "Quote any made-up fact").replace(
            "  - id: helpful",
            "  - id: kind\n    name: Be kind\n    critique_request: Quote unkind words.\n"
            "    revision_request: Say it kindly.\n  - id: helpful",
        ),
    )
    changed = [dict(row, revision=row["draft"]) if i < 3 else row for i, row in enumerate(rows)]
    return (eval_dir(tmp_path, rows, "a", str(a_file)), eval_dir(tmp_path, changed, "b", str(b_file)), a_file, b_file)


def test_diff_counts_records_and_constitution(tmp_path):
    a, b, _, _ = two_runs(tmp_path)
    result = cai("report", "diff", a, b, "--format", "json")
    assert result.exit_code == 0, result.output
    diff = json.loads(result.output)
    ra, rb = (json.loads((d / "report.json").read_text()) for d in (a, b))
    for verdict, entry in diff["counts"].items():
        assert entry == {
            "a": ra["counts"][verdict],
            "b": rb["counts"][verdict],
            "change": rb["counts"][verdict] - ra["counts"][verdict],
        }
    ids = [row["id"] for row in labelled_rows()[:3]]
    assert {r["id"] for r in diff["changed_records"]} <= set(ids) and diff["changed_records"]
    assert all(r["b"] == "non_compliant" for r in diff["changed_records"])
    assert diff["constitution"]["added"] == ["kind"] and diff["constitution"]["removed"] == []
    assert [e["id"] for e in diff["constitution"]["edited"]] == ["honesty"]
    text = cai("report", "diff", a, b)
    assert "added: kind" in text.output and "edited: honesty (critique_request)" in text.output
    assert "Records whose verdict changed" in text.output
    md = cai("report", "diff", a, b, "--format", "md")
    assert "## Constitution" in md.output and "| superficial |" in md.output


def test_diff_says_when_a_constitution_file_is_gone_or_changed(tmp_path):
    a, b, a_file, b_file = two_runs(tmp_path)
    a_file.unlink()
    b_file.write_text(b_file.read_text() + "\n# edited after the run\n")
    diff = json.loads(cai("report", "diff", a, b, "--format", "json").output)["constitution"]
    assert diff["added"] is None and len(diff["problems"]) == 2
    assert "gone" in diff["problems"][0] and "changed since the run" in diff["problems"][1]
    text = cai("report", "diff", a, b).output
    assert "cannot compare principles" in text


def test_diff_of_a_run_with_itself(tmp_path):
    out = eval_dir(tmp_path, labelled_rows())
    diff = json.loads(cai("report", "diff", out, out, "--format", "json").output)
    assert diff["changed_records"] == [] and diff["constitution"]["same"] is True
    assert all(e["change"] == 0 for e in diff["counts"].values())


def test_the_terminal_report_fits_80_columns_with_long_principle_ids(tmp_path):
    from rich.console import Console

    from constitutional.evals.report_model import Report
    from constitutional.reports.render_text import terminal_summary

    report = json.loads((eval_dir(tmp_path, labelled_rows()) / "report.json").read_text())
    entry = next(iter(report["principles"].values()))
    for other in report["principles"].values():  # no principle undecided: the table then has no column for it
        other["counts"]["undecided"] = 0
    for count, width in ((9999, 80), (99999, 80)):  # the second: too wide, so the long id wraps
        report["principles"]["medical-legal-financial"] = {
            **entry,
            "violations": count,
            "needs_review": count,
            "counts": {v: 0 if v in ("undecided", "error") else count for v in entry["counts"]},
        }
        console = Console(width=width, record=True, color_system=None)
        console.print(terminal_summary(Report.model_validate(report)))
        lines = console.export_text().splitlines()
        assert all(len(line.rstrip()) <= width for line in lines)
        head = next(line for line in lines if line.strip().startswith("principle"))
        assert head.split() == ["principle", "found", "gen", "sup", "non", "eva", "reg", "same", "rev"]
        row = next(line for line in lines if line.strip().startswith("medical-"))
        assert row.split()[1:] == [str(count)] * 8  # every number whole (no principle has undecided or error)
        if count == 9999:
            assert row.split()[0] == "medical-legal-financial"


def test_html_report_without_eval_lines_is_refused_and_the_good_page_kept(tmp_path):
    out = eval_dir(tmp_path, labelled_rows())
    page = (out / "report.html").read_text()
    (out / "eval.jsonl").unlink()
    result = cai("report", out, "--format", "html")
    assert result.exit_code == 2 and "no eval.jsonl" in result.output
    assert f"cai eval FILE.jsonl --out {out}` first" in result.output
    (out / "records.jsonl").write_text("")  # a run directory: evaluating it again writes eval.jsonl
    result = cai("report", out, "--format", "html")
    assert result.exit_code == 2 and f"run `cai eval {out}` first" in result.output
    assert (out / "report.html").read_text() == page
