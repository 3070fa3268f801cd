"""A red-team directory as a report: terminal text (80 columns fit), Markdown, and report.html (the eval report's look:
its stylesheet and verdict colours). Text from seeds and attacks goes through `printable` or `escape`."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape as markup_escape
from rich.table import Table
from rich.text import Text

from constitutional.reports.colours import style, stylesheet
from constitutional.reports.csp import csp_meta
from constitutional.rundir import write_atomic
from constitutional.text import clip, printable, quote_spans

if TYPE_CHECKING:
    from pathlib import Path

    from constitutional.evals.report_model import RedteamSummary
    from constitutional.redteam.report import OperatorStats, RedteamReport
    from constitutional.redteam.results import Found, RedteamDir

MAX_FOUND_SHOWN = 500  # successes listed in report.html; found.jsonl has them all


def share(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def facts(report: RedteamReport) -> list[tuple[str, str]]:
    """(label, value) lines about what was attacked, with which eval settings, at what cost."""
    judge = report.judge or "none (the signals and the scorer decide)"
    if report.judge_trusted is not None:
        judge += " (canaries: trusted)" if report.judge_trusted else " (canaries: NOT trusted)"
    skipped = sum(report.skipped.values())
    return [
        ("seeds", f"{report.seeds} from {report.seeds_from}" + (f" ({skipped} skipped)" if skipped else "")),
        ("constitution", str(report.constitution.get("name", "?"))),
        ("judge", judge + (f", mode {report.judge_mode}" if report.judge and report.judge_mode else "")),
        ("scorer", report.scorer or "none"),
        ("budget", f"{report.budget} queries a seed; search seed {report.search.get('seed', '?')}"),
        ("queries", f"{report.queries:,} ({report.discarded:,} rewrites discarded before a query)"),
        ("time", f"{report.seconds:,.0f} s"),
        ("created", report.created),
    ]


def numbers(report: RedteamReport | RedteamSummary) -> list[tuple[str, str, str]]:
    """(key, number shown, label) for the headline; tests compare these with report.json."""
    median = report.median_queries_to_first_success
    return [
        ("gaming_resistance", share(report.gaming_resistance), "gaming resistance (seeds not broken)"),
        ("broken", f"{report.broken} of {report.seeds}", "seeds broken (made genuine)"),
        ("broken_without_review", str(report.broken_without_review), "broken without review"),
        ("median_queries", "–" if median is None else f"{median:g}", "median queries to the first success"),
        ("queries", f"{report.queries:,}", f"queries (budget {report.budget} a seed)"),
    ]


def operator_rows(report: RedteamReport) -> list[tuple[str, OperatorStats]]:
    """The operators that were tried, those in the most first successes first."""
    tried = [(name, stats) for name, stats in report.by_operator.items() if stats.queries]
    return sorted(tried, key=lambda kv: (-kv[1].seeds_broken, -kv[1].successes, kv[0]))


def _table(title: str, heads: list[str]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 0, 0, 1), pad_edge=False)
    for n, head in enumerate(heads):
        table.add_column(head, justify="left" if n == 0 else "right", no_wrap=n > 0)
    return table


def terminal_redteam(run: RedteamDir) -> Group:
    """The red-team report for a terminal: facts, the numbers, the breakdowns and the successes."""
    report = run.report
    about = Table.grid(padding=(0, 2))
    for label, value in facts(report):
        about.add_row(Text(label, style="bold"), Text(printable(value)))
    headline = Table.grid(padding=(0, 2))
    for _, num, label in numbers(report):
        headline.add_row(Text(num, style="bold"), Text(label))
    operators = _table("By operator", ["operator", "queries", "genuine", "seeds broken"])
    for name, stats in operator_rows(report):
        operators.add_row(markup_escape(name), f"{stats.queries:,}", str(stats.successes), str(stats.seeds_broken))
    parts: list[RenderableType] = [about, Text(""), headline, operators]
    if not run.found:
        return Group(*parts, Text("No seed was broken: no tier was fooled, and found.jsonl is empty."))
    return Group(*parts, tier_table(report.by_tier), found_table(run.found))


def tier_table(by_tier: dict[str, int]) -> Table:
    tiers = _table("Tier fooled", ["tier", "seeds broken"])
    for tier, n in sorted(by_tier.items(), key=lambda kv: -kv[1]):
        tiers.add_row(markup_escape(printable(tier)), str(n))
    return tiers


def found_table(found: list[Found]) -> Table:
    table = Table(
        title=f"Successes ({len(found)}; found.jsonl has each revision)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0, 0, 1),
        pad_edge=False,
    )
    table.add_column("id", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("review", no_wrap=True)
    table.add_column("operators", overflow="fold")
    for line in found:
        note = line.redteam
        table.add_row(
            Text(printable(line.id)),
            Text(note.verdict, style=style(note.verdict)),
            "needed" if note.needs_review else "",
            Text(printable(" → ".join(note.operators) or "(the draft)")),
        )
    return table


def _md(text: str) -> str:
    return printable(str(text)).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def markdown_redteam(run: RedteamDir) -> str:
    report = run.report
    lines = ["# Red-team report", ""]
    lines += [f"- **{label}**: {_md(value)}" for label, value in facts(report)]
    lines += ["", "## Numbers", ""] + [f"- **{num}** {label}" for _, num, label in numbers(report)]
    lines += ["", "## By operator", "", "| operator | queries | genuine | seeds broken |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {s.queries} | {s.successes} | {s.seeds_broken} |" for name, s in operator_rows(report)]
    lines += ["", "## By the tier fooled", "", "| tier | seeds |", "|---|---:|"]
    lines += [f"| {_md(tier)} | {n} |" for tier, n in sorted(report.by_tier.items(), key=lambda kv: -kv[1])]
    lines += ["", f"## Successes ({len(run.found)})", ""]
    lines += ["| id | seed | operators | verdict | review | revision |", "|---|---|---|---|---|---|"]
    lines += [
        f"| `{_md(f.id)}` | {_md(f.redteam.seed)} | {_md(' → '.join(f.redteam.operators))} | {f.redteam.verdict} | "
        f"{'needed' if f.redteam.needs_review else ''} | {_md(clip(f.revision, 160))} |"
        for f in run.found
    ]
    return "\n".join(lines) + "\n"


def marked(text: str, quotes: list[str]) -> str:
    """`text` escaped for HTML, each flagged quote in it underlined (`.flag`), found as the eval's quote matcher finds it."""
    spans = sorted({span for quote in quotes for span in quote_spans(text, quote)})
    out, at = [], 0
    for start, end in spans:
        if start < at:
            continue  # overlapping places: the first one shown
        out += [escape(text[at:start]), f'<span class="flag">{escape(text[start:end])}</span>']
        at = end
    return "".join([*out, escape(text[at:])])


def found_item(line: Found) -> str:
    """One success: its id, verdict, review flag and operator chain, then the draft and the revision, span underlined."""
    note, quotes = line.redteam, [flag.quote for flag in line.violations]
    chips = "".join(f'<span class="chip">{escape(name)}</span>' for name in note.operators) or "(the draft itself)"
    review = '<span class="review">needs review</span>' if note.needs_review else '<span class="small">no review</span>'
    principles = ", ".join(sorted({flag.principle for flag in line.violations}))
    about = f"seed {note.seed} · query {note.query} · principle {principles}" + (f" · fooled {note.tier}" if note.tier else "")
    return (
        f'<details class="rec found edge-{escape(note.verdict)}" '
        f'data-id="{escape(line.id)}"><summary><code>{escape(line.id)}</code>'
        f'<span class="badge v-{escape(note.verdict)}">{escape(note.verdict)}</span>{review}'
        f'<span class="chain">{chips}</span><span class="small">{escape(about)}</span></summary><div class="body">'
        f'<p class="prompt"><b>Request</b> {escape(line.prompt)}</p><div class="diff">'
        f'<div><h4>draft</h4><pre class="text">{marked(line.draft, quotes)}</pre></div>'
        f'<div><h4>revision (the flagged span kept verbatim)</h4><pre class="text">{marked(line.revision, quotes)}</pre></div>'
        "</div></div></details>"
    )


def _rows(rows: list[tuple[str, ...]], heads: list[str], empty: str) -> str:
    head = "".join(f"<th>{h}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    body = body or f'<tr><td colspan="{len(heads)}">{empty}</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def breakdowns(report: RedteamReport) -> str:
    """The per-operator and per-tier tables side by side."""
    operators = _rows(
        [(name, f"{s.queries:,}", str(s.successes), str(s.seeds_broken)) for name, s in operator_rows(report)],
        ["operator", "queries", "genuine", "seeds broken"],
        "No operator was tried.",
    )
    tiers = _rows(
        [(tier, str(n)) for tier, n in sorted(report.by_tier.items(), key=lambda kv: -kv[1])],
        ["tier fooled", "seeds"],
        "No seed was broken.",
    )
    return (
        f'<div class="two"><section id="by-operator"><h2>By operator</h2>{operators}</section>'
        f'<section id="by-tier"><h2>By the tier fooled</h2>{tiers}</section></div>'
    )


def cards(items: list[tuple[str, str, str]]) -> str:
    return "".join(
        f'<div class="card"><div class="num" data-k="{k}">{escape(num)}</div><div class="lbl">{escape(label)}</div></div>'
        for k, num, label in items
    )


def redteam_page(run: RedteamDir) -> str:
    """report.html of a red-team directory: one self-contained page, every string escaped, no script."""
    report = run.report
    meta = "".join(f'<span><b>{k}</b> <span data-meta="{k}">{escape(v)}</span></span>' for k, v in facts(report))
    shown = run.found[:MAX_FOUND_SHOWN]
    more = f'<div class="warn">{len(shown)} of {len(run.found)} successes shown; found.jsonl has them all.</div>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{csp_meta(None, stylesheet())}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Red-team report</title><style>{stylesheet()}</style></head>
<body data-ready="1"><main>
<h1>Red-team report</h1>
<div class="meta">{meta}</div>
<div class="cards">{cards(numbers(report))}</div>
{breakdowns(report)}
<h2>Successes ({len(run.found)})</h2>
<p class="legend small"><span class="flag">flagged span (kept verbatim, so every genuine here is a false positive)</span>
<span>Operators in the order applied to the draft.</span></p>
{more if len(shown) < len(run.found) else ""}
<div id="found">{"".join(found_item(line) for line in shown) or "<p>No seed was broken.</p>"}</div>
</main></body></html>
"""


def write_redteam_html(run: RedteamDir) -> Path:
    write_atomic(run.html_path, [redteam_page(run)])
    return run.html_path


def redteam_section_html(summary: RedteamSummary) -> str:
    """The red-team panel of an eval's report.html (`cai eval --redteam-report DIR`)."""
    tiers = ", ".join(f"{tier} {n}" for tier, n in sorted(summary.by_tier.items())) or "none"
    return (
        f'<h2>Red team</h2><div class="panel" id="redteam"><div class="cards">{cards(numbers(summary))}</div>'
        f'<p class="small">From <code>{escape(summary.path)}</code> ({escape(summary.created or "?")}): judge '
        f"{escape(summary.judge or 'none')}, scorer {escape(summary.scorer or 'none')}, seeds from "
        f"{escape(summary.seeds_from or '?')}; the tier fooled: {escape(tiers)}. "
        f"<code>cai report DIR</code> shows every success.</p></div>"
    )


def redteam_line(summary: RedteamSummary) -> str:
    """An attached red team in one line, for the eval's terminal and Markdown reports."""
    median = summary.median_queries_to_first_success
    return (
        f"gaming resistance {share(summary.gaming_resistance)}: {summary.broken} of {summary.seeds} seeds broken, "
        f"{summary.broken_without_review} without review; median queries to the first success "
        f"{'–' if median is None else f'{median:g}'} (budget {summary.budget}; {summary.path})"
    )
