"""report.html: one self-contained page (inline CSS, JS and data; nothing fetched) that opens from disk.

Numbers, the verdict chart and the principle table are rendered here with every string escaped; the
record list is rendered in the page from embedded JSON, by a script that only ever sets textContent.
A Content-Security-Policy meta tag allows the page's one style block and one script by their SHA-256 hashes, and
nothing else: no other script or style (no style attribute either), no network, no form, no base URL."""

from __future__ import annotations

import json
from html import escape
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from constitutional.evals.lines import VERDICTS
from constitutional.reports.colours import stylesheet
from constitutional.reports.csp import csp_meta
from constitutional.reports.render_data import ReportDir, canary_rows, judge_trust, record_views
from constitutional.reports.render_redteam import redteam_section_html
from constitutional.rundir import write_atomic

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    from constitutional.evals.report_model import PrincipleSummary, Report

BAR_WIDTH = 420


def _template(name: str) -> str:
    return (resources.files("constitutional.reports") / "templates" / name).read_text("utf-8")


def embed_json(data: object) -> str:
    """JSON safe inside <script type="application/json">: no '<' can close the block or open a comment."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _num(value: int | float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _link(**params: str) -> str:
    return "#" + urlencode({k: v for k, v in params.items() if v})


def headline(report: Report) -> list[tuple[str, str, str]]:
    """(key, number shown, label) for the cards at the top; tests compare these with report.json."""
    total, counts = report.total, report.counts
    usage = report.shown_usage
    timing = report.timing
    canaries = report.canaries
    fooled = canaries.judge_fooled_rate
    seconds = sum(s for s in (timing.run_seconds, timing.eval_seconds) if s is not None)
    labels = report.labels
    return [
        ("total", _num(total), "records evaluated"),
        ("genuine", _num(counts["genuine"]), f"genuine ({_pct(counts['genuine'], total)})"),
        ("superficial", _num(counts["superficial"]), f"superficial ({_pct(counts['superficial'], total)})"),
        ("needs_review", _num(report.needs_review), "need a person's review"),
        *(
            [
                (
                    "labelled",
                    _num(labels.labelled),
                    f"labelled by people; {labels.needs_review_remaining} still need review; the eval agrees on "
                    f"{labels.agreement.agrees}",
                )
            ]
            if labels
            else []
        ),
        (
            "judge_fooled_rate",
            "no judge" if report.judge.spec is None else ("–" if fooled is None else f"{100 * fooled:.0f}%"),
            "judge fooled by canaries" + (" (judge NOT trusted: see Canaries)" if canaries.judge_trusted is False else ""),
        ),
        ("calls", _num(usage.calls), "model calls"),
        ("tokens", _num(usage.input_tokens + usage.output_tokens), "tokens"),
        ("cost_usd", f"${usage.cost_usd:,.4f}", "cost"),
        ("seconds", f"{seconds:,.1f}s" if "timing" in report.model_fields_set else "–", "run + eval time"),
    ]


def verdict_chart(counts: dict[str, int], total: int) -> str:
    """Horizontal bars, one per verdict, each a link that filters the record list."""
    most = max(counts.values(), default=0) or 1
    rows = []
    for i, verdict in enumerate(VERDICTS):
        n = counts.get(verdict, 0)
        y = i * 28
        width = round(BAR_WIDTH * n / most)
        rows.append(
            f'<a href="{_link(verdict=verdict)}"><text x="0" y="{y + 17}">{verdict}</text>'
            f'<rect x="110" y="{y + 4}" width="{max(width, 1)}" height="18" rx="3" fill="var(--{verdict}, var(--other))"/>'
            f'<text x="{118 + width}" y="{y + 17}" data-verdict-count="{verdict}">{n} ({_pct(n, total)})</text></a>'
        )
    height = 28 * len(VERDICTS)
    return (
        f'<svg role="img" aria-label="records per verdict" viewBox="0 0 {BAR_WIDTH + 200} {height}" '
        f'width="100%" class="bars">{"".join(rows)}</svg>'
    )


def principle_table(principles: dict[str, PrincipleSummary]) -> str:
    head = "".join(f"<th>{v.replace('_', ' ')}</th>" for v in VERDICTS)
    rows = []
    for pid, entry in sorted(principles.items(), key=lambda kv: -kv[1].total):
        name = f' <span class="small">{escape(entry.name)}</span>' if entry.name else ""
        cells = []
        for v in VERDICTS:
            n = entry.counts.get(v, 0)
            cell = f'<a href="{escape(_link(principle=pid, verdict=v))}">{n}</a>' if n else "0"
            cells.append(f'<td class="{"" if n else "zero"}" data-principle="{escape(pid)}" data-verdict="{v}">{cell}</td>')
        violations = entry.violations
        flagged = f'{violations} <span class="small">in {entry.flagged_records}</span>' if violations is not None else "–"
        review = entry.needs_review
        review_cell = f'<a href="{escape(_link(principle=pid, review="1"))}">{review}</a>' if review else "0"
        rows.append(
            f'<tr><td><a href="{escape(_link(principle=pid))}"><code>{escape(pid)}</code></a>{name}</td>'
            f"<td>{flagged}</td>{''.join(cells)}<td>{review_cell}</td></tr>"
        )
    if not rows:
        rows.append(f'<tr><td colspan="{len(VERDICTS) + 3}">No principle was flagged or checked by a rule.</td></tr>')
    return (
        f'<table id="principles"><thead><tr><th>principle</th><th>critique found (records)</th>{head}'
        f"<th>needs review</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def canary_panel(report: Report) -> str:
    c = report.canaries
    rows = "".join(
        f'<tr><td><code>{escape(row.id)}</code> <span class="small" title="{escape(row.full)}">{escape(row.revision)}</span></td>'
        f"<td>{escape(row.expected)}</td><td>{escape(row.signals)}</td>"
        f"<td>{escape(row.judge or '–')}{f' ({row.failed})' if row.failed else ''}</td></tr>"
        for row in canary_rows(c)
    )
    table = (
        (
            f'<table class="canaries"><thead><tr><th>planted control</th><th>expected</th><th>signals</th><th>judge</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
        if rows
        else ""
    )
    if table and report.judge.spec is None:  # the controls test a judge: without one, their table says nothing
        table = (
            f'<details class="canaries-fold"><summary>No judge ran, so there was nothing for the canaries to test '
            f"(the {len(c.items)} planted controls, as the signals saw them)</summary>{table}</details>"
        )
    return (
        f'<p data-judge-trust>Judge: {escape(judge_trust(report))}.</p><p class="small">Canaries are bad drafts with '
        f"compliance language added and content-free answers, which a sound judge rejects, and genuine fixes, which it "
        f"accepts. Planted: {c.planted}; the deterministic signals were fooled by {c.signals_fooled}. "
        f"Each id names the draft the control was built on and its kind.</p>{table}"
    )


def _options(report: Report) -> tuple[str, str]:
    verdicts = "".join(f'<option value="{v}">{v} ({report.counts.get(v, 0)})</option>' for v in VERDICTS)
    principles = "".join(
        f'<option value="{escape(pid)}">{escape(pid)} ({e.total})</option>' for pid, e in sorted(report.principles.items())
    )
    return verdicts, principles


def not_shown(hidden: int, total: int) -> str:
    """The notice above a record list that was cut to fit the page."""
    if not hidden:
        return ""
    return (
        f'<div class="warn" id="not-shown">This page shows {total - hidden:,} of the {total:,} records: first those '
        f"that need review, errored or got a verdict other than genuine or unchanged, then the others in input "
        f"order. {hidden:,} records are not shown here; eval.jsonl has them all.</div>"
    )


def _meta(report: Report) -> list[tuple[str, str | None]]:
    """The line under the title: what was evaluated, by which model and judge, and when."""
    constitution = report.constitution
    return [
        ("constitution", f"{constitution.name} v{constitution.version} · sha256 {str(constitution.sha256)[:12]}"),
        ("model", report.model.spec or "–"),
        ("judge", report.judge.spec or "none (signals only)"),
        ("scorer", report.scorer or "none"),
        ("input", report.input.path if "path" in report.input.model_fields_set else ""),
        ("created", report.created if "created" in report.model_fields_set else ""),
    ]


def _page(report: Report, hidden: int) -> tuple[str, str]:
    """The page before and after the embedded records (a JSON array)."""
    constitution = report.constitution
    name = constitution.name if "name" in constitution.model_fields_set else "?"
    title = f"Eval report: {name} {constitution.version or ''}".strip()
    meta = _meta(report)
    cards = "".join(
        f'<div class="card"><div class="num" data-k="{k}">{escape(num)}</div><div class="lbl">{escape(label)}</div></div>'
        for k, num, label in headline(report)
    )
    warnings = "".join(f'<div class="warn">{escape(w)}</div>' for w in report.warnings)
    verdict_options, principle_options = _options(report)
    style = f"{stylesheet()}svg.bars{{max-width:{BAR_WIDTH + 200}px}}.scroll-x{{overflow-x:auto}}"
    script = _template("report.js")
    pager = (
        '<div class="pager"><button class="prev">‹ previous</button><span class="page-of"></span>'
        '<button class="next">next ›</button></div>'
    )
    return (
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{csp_meta(script, style)}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{style}</style></head>
<body><main>
<h1>{escape(title)}</h1>
<div class="meta">{"".join(f'<span><b>{k}</b> <span data-meta="{k}">{escape(str(v))}</span></span>' for k, v in meta)}</div>
{warnings}
<div class="cards">{cards}</div>
{redteam_section_html(report.redteam) if report.redteam else ""}
<div class="two">
<section><h2>Verdicts</h2><div class="panel">{verdict_chart(report.counts, report.total)}</div></section>
<section><h2>Canaries</h2><div class="panel">{canary_panel(report)}</div></section>
</div>
<h2>Per principle</h2>
<div class="scroll-x">{principle_table(report.principles)}</div>
<h2>Records</h2>{not_shown(hidden, report.total)}
<div class="filters">
<label>verdict <select id="f-verdict"><option value="">all</option>{verdict_options}</select></label>
<label>principle <select id="f-principle"><option value="">all</option>{principle_options}</select></label>
<label><input type="checkbox" id="f-review"> needs review only</label>
<input type="search" id="f-search" placeholder="search prompt, draft, revision, reasons, id">
</div>
<p class="legend small"><span class="del">removed from the draft</span><span class="ins">added by the revision</span>
<span class="ven">compliance veneer added</span><span class="flag">flagged by the critique</span>
<span>With a principle chosen, the verdict and review filters apply to that principle.</span></p>
<div id="shown" class="small"></div>
{pager}<div id="records"></div>{pager}
</main>
<script type="application/json" id="records-data">""",
        f"""</script>
<script>{script}</script>
</body></html>
""",
    )


def build_html(report: Report, records: list[dict]) -> str:
    return "".join(_chunks(report, records, hidden=0))


def write_html_report(out: Path, report: Report, lines_path: Path, items: Iterable) -> Path:
    """DIR/report.html from the eval lines in `lines_path` and the eval's input items."""
    records, hidden = record_views(lines_path, items)
    write_atomic(out / "report.html", _chunks(report, records, hidden))
    return out / "report.html"


def write_html(run: ReportDir) -> Path:
    """DIR/report.html from the files of a directory (for `cai report DIR --format html`)."""
    return write_html_report(run.path, run.report, run.lines_path, run.items)


def _chunks(report: Report, records: Iterable[dict], hidden: int) -> Iterator[str]:
    """The page in pieces, one per record, so it can be written without holding every record."""
    head, tail = _page(report, hidden)
    yield head + "["
    for n, record in enumerate(records):
        yield ("," if n else "") + embed_json(record)
    yield "]" + tail
