"""The report for a terminal (rich tables) and as Markdown. Text from users and models goes through `printable`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from constitutional.evals.agreement import per_verdict
from constitutional.evals.lines import VERDICTS
from constitutional.reports.colours import style
from constitutional.reports.record_list import LEGEND
from constitutional.reports.render_data import canary_rows, judge_trust
from constitutional.reports.render_redteam import redteam_line
from constitutional.text import clip, printable

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from constitutional.evals.report_model import PrincipleSummary, Report
    from constitutional.reports.record_list import RecordList, RecordRow

# Column heads short enough for the per-principle table to fit 80 columns; the caption spells them out.
SHORT = {
    "genuine": "gen",
    "superficial": "sup",
    "non_compliant": "non",
    "evasive": "eva",
    "regressed": "reg",
    "unchanged": "same",
    "undecided": "und",
    "error": "err",
}


def short(verdict: str) -> str:
    """A verdict's column head ('und' for one this table does not know, such as `undecided`)."""
    return SHORT.get(verdict, verdict[:3])


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def facts(report: Report) -> list[tuple[str, str]]:
    """(label, value) lines about what was evaluated and what it cost."""
    c = report.constitution
    usage = report.shown_usage
    timing = report.timing
    seconds = [
        f"{name} {getattr(timing, key):.1f}s"
        for name, key in (("run", "run_seconds"), ("eval", "eval_seconds"))
        if getattr(timing, key) is not None
    ]
    return [
        ("constitution", f"{c.name} v{c.version} (sha256 {str(c.sha256)[:12]})"),
        ("model", report.model.spec or "–"),
        ("judge", judge_trust(report)),
        ("scorer", report.scorer or "none"),
        ("records", f"{report.total} ({report.needs_review} need review)"),
        *([("people", report.labels.summary_line())] if report.labels else []),
        (
            "calls / tokens / cost",
            f"{usage.calls} calls, {usage.input_tokens + usage.output_tokens} tokens, ${usage.cost_usd:.4f}",
        ),
        ("time", ", ".join(seconds) or "–"),
        ("created", report.created or "–"),
        *([("red team", redteam_line(report.redteam))] if report.redteam else []),
    ]


def canary_table(report: Report) -> Table:
    """The planted controls and what the signals and the judge made of them (verdicts shortened as in the legend
    of the per-principle table above it)."""
    table = Table(
        title="Canaries (planted controls: draft number and kind in the id)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0, 0, 1),
        pad_edge=False,
    )
    table.add_column("control", no_wrap=True)
    table.add_column("revision", overflow="fold")  # folded, never cut: the text tells the rows apart
    for head in ("want", "signals", "judge"):
        table.add_column(head, no_wrap=True)
    for row in canary_rows(report.canaries, limit=26):
        said = row.judge or ""  # no verdict from the judge: shown as "–", uncoloured
        judge = Text(short(said) if said else "–", style=style(said))
        if row.failed:
            judge.append(f" {row.failed}", style="bold red")
        table.add_row(
            escape(printable(row.id)),
            Text(printable(row.revision)),
            short(row.expected),
            Text(short(row.signals), style=style(row.signals)),
            judge,
        )
    return table


def agreement_rows(report: Report) -> list[tuple[str, int, int, str, str]]:
    """(verdict, people said it, eval said it, precision, recall) on the records people labelled."""
    confusion = report.labels.agreement.confusion if report.labels else {}
    show = lambda x: "–" if x is None else f"{x:.2f}"  # noqa: E731
    return [
        (v, r["labelled"], r["predicted"], show(r["precision"]), show(r["recall"])) for v, r in per_verdict(confusion).items()
    ]


def terminal_summary(report: Report) -> Group:
    about = Table.grid(padding=(0, 2))
    for label, value in facts(report):
        about.add_row(Text(label, style="bold"), Text(printable(value)))
    total = report.total
    verdicts = Table(title="Verdicts", title_justify="left")
    verdicts.add_column("verdict")
    verdicts.add_column("records", justify="right")
    verdicts.add_column("share", justify="right")
    verdicts.add_column("")
    most = max(report.counts.values(), default=0) or 1
    for v in VERDICTS:
        n = report.counts.get(v, 0)
        verdicts.add_row(Text(v, style=style(v)), str(n), _pct(n, total), Text("█" * round(30 * n / most), style=style(v)))
    legend = " · ".join(f"{short(v)} {v}" for v in VERDICTS) + " · rev needs review"
    principles = Table(
        title="Per principle (found: violations the critique quoted)",
        title_justify="left",
        caption=legend,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0, 0, 1),
        pad_edge=False,
    )
    # A verdict no principle has is left out, so the ids keep their room at 80 columns.
    shown = [v for v in VERDICTS if any(entry.counts.get(v, 0) for entry in report.principles.values())]
    rows = [
        [escape(printable(pid)), _found(entry), *(str(entry.counts.get(v, 0)) for v in shown), str(entry.needs_review)]
        for pid, entry in _by_total(report)
    ]
    widths = [
        max([len(head), *(len(row[i + 1]) for row in rows)])
        for i, head in enumerate(["found", *(short(v) for v in shown), "rev"])
    ]
    principles.add_column("principle", overflow="fold")  # when space runs out, long ids wrap; numbers never do
    principles.add_column("found", justify="right", min_width=widths[0], no_wrap=True)
    for v, width in zip(shown, widths[1:]):
        principles.add_column(short(v), justify="right", style=style(v), min_width=width, no_wrap=True)
    principles.add_column("rev", justify="right", min_width=widths[-1], no_wrap=True)
    for row in rows:
        principles.add_row(*row)
    parts: list[RenderableType] = [about, Text(""), verdicts, principles]
    if agreement_rows(report):
        people = Table(title="The eval against people's verdicts (labelled records)", title_justify="left")
        for head in ("verdict", "people", "eval", "precision", "recall"):
            people.add_column(head, justify="left" if head == "verdict" else "right")
        for v, said, predicted, precision, recall in agreement_rows(report):
            people.add_row(Text(v, style=style(v)), str(said), str(predicted), precision, recall)
        parts.append(people)
    if _shows_canaries(report):
        parts.append(canary_table(report))
    parts += [Text(printable(f"warning: {w}"), style="yellow") for w in report.warnings]
    return Group(*parts)


def _by_total(report: Report) -> list:
    """The principles, those with the most records first."""
    return sorted(report.principles.items(), key=lambda kv: -kv[1].total)


def _found(entry: PrincipleSummary) -> str:
    """How many violations the critique found ('–' in a report of a version that did not count them)."""
    return "–" if "violations" not in entry.model_fields_set else str(entry.violations)


def markdown(report: Report) -> str:
    c = report.constitution
    lines = [f"# Eval report: {c.name} {c.version or ''}".rstrip(), ""]
    lines += [f"- **{label}**: {_md(value)}" for label, value in facts(report)]
    lines += ["", "## Verdicts", "", "| verdict | records | share |", "|---|---:|---:|"]
    lines += [f"| {v} | {report.counts.get(v, 0)} | {_pct(report.counts.get(v, 0), report.total)} |" for v in VERDICTS]
    lines += [
        "",
        "## Per principle",
        "",
        "| principle | critique found | " + " | ".join(v.replace("_", " ") for v in VERDICTS) + " | needs review |",
        "|---|" + "---:|" * (len(VERDICTS) + 2),
    ]
    for pid, entry in _by_total(report):
        cells = [str(entry.counts.get(v, 0)) for v in VERDICTS]
        lines.append(f"| {_md(pid)} | {_found(entry)} | {' | '.join(cells)} | {entry.needs_review} |")
    if agreement_rows(report):
        lines += [
            "",
            "## The eval against people's verdicts",
            "",
            "| verdict | people | eval | precision | recall |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [f"| {v} | {said} | {pred} | {p} | {r} |" for v, said, pred, p, r in agreement_rows(report)]
    if _shows_canaries(report):
        lines += ["", "## Canaries", "", "| control | revision | expected | signals | judge |", "|---|---|---|---|---|"]
        lines += [
            f"| `{row.id}` | {_md(row.revision)} | {row.expected} | {row.signals} | "
            f"{row.judge or '–'}{f' ({row.failed})' if row.failed else ''} |"
            for row in canary_rows(report.canaries)
        ]
    if report.warnings:
        lines += ["", "## Warnings", ""] + [f"- {_md(w)}" for w in report.warnings]
    return printable("\n".join(lines) + "\n")


def _shows_canaries(report: Report) -> bool:
    """A canary table is shown when a judge ran on the canaries (without one, only the signals' verdicts are there)."""
    return report.judge.spec is not None and bool(report.canaries.items)


def _md(text: str) -> str:
    """Text safe in a Markdown table cell or list item."""
    return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


MAX_ID = 24  # the id column's widest; a longer id goes whole on a line of its own (ids are never cut: people copy them)
GAP = "  "
MIN_REASON = 12


def _confidence(row: RecordRow) -> str:
    return "–" if row.confidence is None else f"{row.confidence:.2f}"


def _cell(text: str, width: int, colour: str = "") -> Text:
    """`text` on one line in exactly `width` cells: padded, or cut with '…'."""
    cell = Text(printable(" ".join(text.split())), style=colour, no_wrap=True)
    cell.truncate(width, overflow="ellipsis", pad=True)
    return cell


class RecordTable:
    """The per-record list for a terminal, laid out to the console's width (80 columns fit): the id whole (a long one
    on a line of its own), verdict, confidence, review flag, and the reason cut with '…' to the width left."""

    def __init__(self, listing: RecordList):
        self.listing = listing

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        listing = self.listing
        yield Text("")
        yield Text(printable(listing.title), style="bold")
        if not listing.rows:
            yield Text(listing.empty)
            return
        ids = min(max(cell_len(printable(row.id)) for row in listing.rows), MAX_ID)
        verdicts = max(len("verdict"), *(cell_len(printable(row.verdict)) for row in listing.rows))
        widths = [max(ids, 2), verdicts, 4, len("needed")]
        reason = max(options.max_width - sum(widths) - len(GAP) * len(widths), MIN_REASON)
        heads = ("id", "verdict", "conf", "review", "reason")
        head = Text(GAP).join(_cell(head, width, "bold") for head, width in zip(heads, [*widths, reason]))
        head.rstrip()
        yield head
        for row in listing.rows:
            shown_id = printable(row.id)
            if cell_len(shown_id) > ids:
                yield Text(shown_id, overflow="fold")
                shown_id = ""
            cells = [
                _cell(shown_id, widths[0]),
                _cell(row.verdict, widths[1], style(row.verdict)),
                _cell(_confidence(row).rjust(4), widths[2]),
                _cell(row.flag, widths[3], "bold" if row.flag == "needed" else ""),
                _cell(row.why, reason),
            ]
            line = Text(GAP).join(cells)
            line.rstrip()
            yield line
        yield Text(LEGEND, style="dim")
        if listing.more:
            yield Text(printable(listing.more))


def markdown_records(listing: RecordList) -> str:
    """The per-record list as a Markdown section, ids in full."""
    lines = ["", f"## {_md(listing.title)}", ""]
    if not listing.rows:
        return printable("\n".join([*lines, listing.empty]) + "\n")
    lines += ["| id | verdict | confidence | review | reason |", "|---|---|---:|---|---|"]
    lines += [
        f"| {_md_code(row.id)} | {_md(row.verdict)} | {_confidence(row)} | {row.flag} | {_md(clip(row.why, 200))} |"
        for row in listing.rows
    ]
    lines += ["", _md(LEGEND) + "."]
    if listing.more:
        lines += ["", _md(listing.more) + "."]
    return printable("\n".join(lines) + "\n")


def _md_code(text: str) -> str:
    """An id as inline code, so it can be copied exactly; one with a backtick is shown as escaped text."""
    if "`" in text or "\n" in text:
        return _md(text)
    return "`" + text.replace("|", "\\|") + "`"
