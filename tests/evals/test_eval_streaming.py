"""The eval stage at scale: lines streamed to eval.jsonl in input order, a capped report.html, bounded memory."""

import asyncio
import json
import re

import pytest
from benchmarks.eval_memory import eval_peak_rss_mb, export_peak_rss_mb, write_run
from benchmarks.peak_rss import cai_peak_rss_mb
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.evals import read_input, stage
from constitutional.evals.lines import EvalLine
from constitutional.reports import render_data
from constitutional.reports.render_data import for_review, record_views
from tests.helpers import DATA, write
from tests.reports.report_fixtures import labelled_rows

SCRIPTED = f"scripted:{DATA / 'scripted_basic.yaml'}"


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def jsonl(path):
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def embedded(page):
    html = page.read_text("utf-8")
    return json.loads(re.search(r'<script type="application/json" id="records-data">(.*?)</script>', html, re.S).group(1))


def test_items_are_read_again_from_the_file_each_time(tmp_path):
    items = read_input(write_run(tmp_path / "run", 7)).items
    assert len(items) == 7
    assert [i.id for i in items] == [i.id for i in items] == [f"r{n}" for n in range(7)]


def test_a_run_over_the_cap_keeps_records_for_review_first(tmp_path, monkeypatch):
    run = write_run(tmp_path / "run", 40)
    assert cai("eval", run, "--judge", "none", "-q").exit_code == 1  # the run has records that errored
    lines = jsonl(run / "eval.jsonl")
    assert [line["id"] for line in lines] == [f"r{n}" for n in range(40)]
    assert not (run / "eval.jsonl.tmp").exists()
    review = [line["id"] for line in lines if for_review(EvalLine.model_validate(line))]
    others = [line["id"] for line in lines if not for_review(EvalLine.model_validate(line))]
    assert {"error", "superficial", "genuine", "unchanged"} <= {line["verdict"] for line in lines} and len(others) > 3
    cap = len(review) + 3
    expected = [line["id"] for line in lines if line["id"] in set(review + others[:3])]

    monkeypatch.setattr(render_data, "MAX_RECORDS", cap)
    assert cai("eval", run, "--judge", "none", "-q").exit_code == 1
    assert [line["id"] for line in jsonl(run / "eval.jsonl")] == [f"r{n}" for n in range(40)]
    assert [r["id"] for r in embedded(run / "report.html")] == expected
    notice = f"This page shows {cap} of the 40 records"
    page = (run / "report.html").read_text("utf-8")
    assert notice in page and f"{40 - cap} records are not shown here; eval.jsonl has them all" in page

    (run / "report.html").unlink()
    assert cai("report", run, "--format", "html").exit_code == 0
    assert [r["id"] for r in embedded(run / "report.html")] == expected and notice in (run / "report.html").read_text("utf-8")

    views, hidden = record_views(run / "eval.jsonl", read_input(run).items, cap=5)
    assert [v["id"] for v in views] == review[:5] and hidden == 35


def test_under_the_cap_every_record_is_shown_without_a_notice(tmp_path):
    run = write_run(tmp_path / "run", 12)
    cai("eval", run, "--judge", "none", "-q")
    assert [r["id"] for r in embedded(run / "report.html")] == [f"r{n}" for n in range(12)]
    assert 'id="not-shown"' not in (run / "report.html").read_text("utf-8")


def test_in_order_bounds_the_work_in_flight_and_keeps_the_order():
    running = {"now": 0, "most": 0}

    async def work(n):
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        await asyncio.sleep((n * 7 % 5) / 1000)  # later items often finish first
        running["now"] -= 1
        return n

    async def collect():
        return [n async for n in stage.in_order(range(50), work, 4)]

    assert asyncio.run(collect()) == list(range(50)) and running["most"] == 4


def test_a_judged_eval_keeps_the_input_order(tmp_path, monkeypatch):
    monkeypatch.setattr(stage, "MAX_IN_FLIGHT", 3)
    rows = labelled_rows()[:12]
    source = write(tmp_path / "in.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    result = cai("eval", source, "--judge", SCRIPTED, "--out", tmp_path / "out", "-q", "--no-cache")
    assert result.exit_code in (0, 1), result.output
    assert [line["id"] for line in jsonl(tmp_path / "out" / "eval.jsonl")] == [row["id"] for row in rows]
    assert json.loads((tmp_path / "out" / "report.json").read_text())["total"] == 12


def test_a_child_peak_leaves_out_what_its_parent_holds():
    held = bytearray(300 * 2**20)
    held[::4096] = b"\1" * len(held[::4096])  # touch every page, so all of it is resident here
    assert cai_peak_rss_mb("--help") < 150  # ru_maxrss would read over 300: Linux carries the parent's peak over exec
    del held


@pytest.mark.slow
def test_eval_and_export_of_20000_records_have_a_small_peak_rss(tmp_path):
    run = write_run(tmp_path / "run", 20_000)
    peak = eval_peak_rss_mb(run)
    assert sum(1 for _ in (run / "eval.jsonl").open(encoding="utf-8")) == 20_000
    assert len(embedded(run / "report.html")) == 10_000
    assert peak < 150, f"peak RSS {peak:.0f} MB (holding every record took 337 MB)"
    peak = export_peak_rss_mb(run)
    assert sum(1 for _ in (run / "sft.jsonl").open(encoding="utf-8")) == 16_000  # all but the 1 in 5 that errored
    assert peak < 150, f"export's peak RSS {peak:.0f} MB (holding every record and row took 1,168 MB at 100k)"
