"""How report.html copes with 10,000 records: build time, file size, load time in headless Chromium, and the
time a filter and a search take in the page.

    python benchmarks/report_10k.py [--records N] [--keep DIR]

Records are the labelled eval examples (tests/data/labelled/verdicts.jsonl) evaluated once without a judge,
then repeated under new ids until there are N."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.reports.report_browser import Browser  # noqa: E402
from tests.reports.report_fixtures import HOSTILE, eval_dir, labelled_rows  # noqa: E402

from constitutional.evals.report_model import Report  # noqa: E402
from constitutional.evals.verdicts import VERDICTS  # noqa: E402
from constitutional.reports.render_data import load_dir, record_views  # noqa: E402
from constitutional.reports.render_html import build_html  # noqa: E402


def big_report(out: Path, records: int) -> tuple[Path, dict, float]:
    """DIR/report.html with `records` records; returns (path, report, seconds to build the page)."""
    base = load_dir(eval_dir(out, labelled_rows() + HOSTILE, "base"))
    base_lines, base_items = [line.model_dump(exclude_unset=True) for line in base.lines], {item.id: item for item in base.items}
    started = time.perf_counter()
    lines, items = [], []
    for n in range(records):
        line = base_lines[n % len(base_lines)]
        lines.append(dict(line, id=f"{line['id']}-{n}"))
        items.append(replace(base_items[str(line["id"])], id=lines[-1]["id"]))
    lines_path = out / "big-eval.jsonl"
    lines_path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    report = base.report.to_dict()
    report["total"] = records
    report["counts"] = {v: sum(line["verdict"] == v for line in lines) for v in VERDICTS}
    report["needs_review"] = sum(bool(line["needs_review"]) for line in lines)
    for entry in report["principles"].values():
        for key in ("total", "needs_review", "violations", "flagged_records"):
            entry[key] = entry.get(key, 0) * records // len(base_lines)
    views, _ = record_views(lines_path, items, cap=records)
    page = build_html(Report.model_validate(report), list(views))
    seconds = time.perf_counter() - started
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path, report, seconds


def measure(path: Path, report: dict) -> dict:
    with Browser() as browser:
        load = browser.open(path)
        shown = int(browser.js("document.getElementById('shown').dataset.matching"))
        assert shown == report["total"], (shown, report["total"])
        started = time.perf_counter()
        in_page = browser.js(
            "(() => { const s = document.getElementById('f-verdict'); const t = performance.now();"
            " s.value = 'superficial'; s.dispatchEvent(new Event('change')); return performance.now() - t; })()"
        )
        filter_wall = time.perf_counter() - started
        matching = int(browser.js("document.getElementById('shown').dataset.matching"))
        assert matching == report["counts"]["superficial"], (matching, report["counts"]["superficial"])
        # The page waits 150 ms after typing stops; render() then records how long filtering and drawing took.
        search_ms = browser.js(
            "(() => { const q = document.getElementById('f-search'); q.value = 'tension wrench';"
            " q.dispatchEvent(new Event('input'));"
            " return new Promise(r => setTimeout(() => r(+document.body.dataset.renderMs), 400)); })()"
        )
        assert int(browser.js("document.getElementById('shown').dataset.matching")) > 0
        return {
            "load_s": load,
            "filter_ms": in_page,
            "filter_wall_s": filter_wall,
            "search_ms": search_ms,
            "load_ms_in_page": float(browser.js("document.body.dataset.loadMs")),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="write the page here instead of a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        path, report, build = big_report(out, args.records)
        numbers = measure(path, report)
        size = path.stat().st_size / 1e6
        print(
            f"{args.records} records: built in {build:.2f}s, {size:.1f} MB; opened in {numbers['load_s']:.2f}s "
            f"(script {numbers['load_ms_in_page']:.0f} ms); verdict filter {numbers['filter_ms']:.0f} ms; "
            f"search {numbers['search_ms']:.0f} ms (after the 150 ms typing pause; builds the search index)"
        )


if __name__ == "__main__":
    main()
