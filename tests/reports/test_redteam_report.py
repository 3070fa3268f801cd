"""`cai report REDTEAM_DIR`: a red-team directory as terminal text (80 columns), Markdown, JSON and report.html."""

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.reports.render_redteam import marked
from tests.helpers import clear_error, write
from tests.reports.redteam_fixtures import redteam_dir


def cai(*args, columns=80):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": str(columns)})


@pytest.fixture
def rt(tmp_path):
    return redteam_dir(tmp_path)


def test_the_terminal_report_shows_the_numbers_the_breakdowns_and_every_success_in_80_columns(rt):
    report = json.loads((rt / "report.json").read_text())
    found = [json.loads(line) for line in (rt / "found.jsonl").read_text().splitlines()]
    result = cai("report", rt)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert f"{100 * report['gaming_resistance']:.0f}%" in result.output and "gaming resistance" in result.output
    assert f"{report['broken']} of {report['seeds']}" in result.output
    assert f"{report['median_queries_to_first_success']:g}" in result.output
    disavow = report["by_operator"]["disavow"]
    assert any(
        line.split() == ["disavow", f"{disavow['queries']:,}", *map(str, (disavow["successes"], disavow["seeds_broken"]))]
        for line in lines
    )
    assert any(line.split() == ["signals", str(report["by_tier"]["signals"])] for line in lines)
    for line in found:
        assert line["id"] in result.output


def test_markdown_and_json(rt):
    md = cai("report", rt, "--format", "md")
    assert md.exit_code == 0, md.output
    assert md.output.startswith("# Red-team report") and "| disavow | 857 | 23 | 23 |" in md.output
    assert "`rt-001-q25-seed0`" in md.output
    shown = cai("report", rt, "--format", "json")
    assert json.loads(shown.output) == json.loads((rt / "report.json").read_text())


def test_html_is_written_self_contained_with_each_success_and_its_span_underlined(rt):
    result = cai("report", rt, "--format", "html")
    assert result.exit_code == 0, result.output
    page = (rt / "report.html").read_text()
    assert result.output.strip() == str(rt / "report.html")
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    assert page.count('<details class="rec found') == 56
    # its Content-Security-Policy allows no script and only its own style block, so it carries no style attribute
    assert "script-src 'none'; style-src 'sha256-" in page and " style=" not in page
    assert 'data-k="gaming_resistance">55%<' in page


def test_the_flagged_span_is_underlined_and_every_text_escaped():
    html = marked("<b>a</b> Step one: mix it. Then <i>", ["step one: mix it"])
    assert html == '&lt;b&gt;a&lt;/b&gt; <span class="flag">Step one: mix it</span>. Then &lt;i&gt;'
    assert marked("nothing here", ["absent quote"]) == "nothing here"


def test_a_broken_red_team_directory_exits_2_saying_how_to_fix_it(rt):
    clear_error(cai("report", rt, "--records", "review"), "--records", "leave out --records")
    (rt / "report.json").unlink()
    clear_error(cai("report", rt), "no report.json", "the red team did not finish", "cai redteam")
    write(rt / "report.json", '{"seeds": "many"}')
    clear_error(cai("report", rt), "not a red-team report", "fix:")
    (rt / "report.json").unlink()
    redteam_dir(rt.parent / "again")  # a good one beside it, whose found.jsonl is then broken on line 2
    good = rt.parent / "again" / "rt"
    lines = (good / "found.jsonl").read_text().splitlines()
    write(good / "found.jsonl", "\n".join([lines[0], '{"id": "x"}', *lines[2:]]) + "\n")
    clear_error(cai("report", good), f"{good / 'found.jsonl'}:2", "not a red-team success")


def test_cai_eval_attaches_a_red_team_report_to_report_json_the_terminal_and_report_html(rt, tmp_path):
    source = write(
        tmp_path / "in.jsonl", json.dumps({"id": "a", "prompt": "Hi?", "draft": "Hello.", "revision": "Hello!"}) + "\n"
    )
    out = tmp_path / "eval"
    result = cai("eval", source, "--judge", "none", "--scorer", "fast", "-q", "--out", out, "--redteam-report", rt)
    assert result.exit_code == 0, result.output
    assert "red team: gaming resistance 55%: 23 of 51 seeds broken, 23 without review" in result.output
    attached = json.loads((out / "report.json").read_text())["redteam"]
    redteam = json.loads((rt / "report.json").read_text())
    for key in ("seeds", "broken", "broken_without_review", "gaming_resistance", "median_queries_to_first_success", "by_tier"):
        assert attached[key] == redteam[key], key
    assert attached["path"] == str(rt)
    shown = cai("report", out)
    assert "red team" in shown.output and "gaming resistance 55%" in shown.output
    assert "gaming resistance 55%" in cai("report", out, "--format", "md").output
    page = (out / "report.html").read_text()
    assert '<div class="panel" id="redteam">' in page and 'data-k="gaming_resistance">55%<' in page
    plain = tmp_path / "plain"
    assert cai("eval", source, "--judge", "none", "--scorer", "fast", "-q", "--out", plain).exit_code == 0
    assert "redteam" not in json.loads((plain / "report.json").read_text())
    assert 'id="redteam"' not in (plain / "report.html").read_text()


def test_a_bad_redteam_report_exits_2_before_any_work(rt, tmp_path):
    source = write(tmp_path / "in.jsonl", json.dumps({"prompt": "Hi?", "revision": "Hello!"}) + "\n")
    for bad, words in [
        (tmp_path / "nope", ["does not exist", "cai redteam --out"]),
        (source, ["not a red-team directory", "attempts.jsonl", "--out of `cai redteam`"]),
    ]:
        out = tmp_path / "eval"
        clear_error(cai("eval", source, "--judge", "none", "-q", "--out", out, "--redteam-report", bad), *words)
        assert not out.exists()


def test_a_red_team_that_broke_no_seed_says_so(rt):
    report = json.loads((rt / "report.json").read_text())
    report.update(broken=0, broken_without_review=0, broken_share=0.0, gaming_resistance=1.0, by_tier={})
    report["median_queries_to_first_success"] = None
    write(rt / "report.json", json.dumps(report))
    write(rt / "found.jsonl", "")
    result = cai("report", rt)
    assert result.exit_code == 0, result.output
    assert "No seed was broken" in result.output and "100%" in result.output and "0 of 51" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert cai("report", rt, "--format", "html").exit_code == 0
    assert "<p>No seed was broken.</p>" in (rt / "report.html").read_text()
