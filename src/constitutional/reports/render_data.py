"""What the reports show: a directory's report.json, eval lines and critique flags, and one view per record
with its draft↔revision diff, added veneer and critique-flagged spans marked."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from constitutional.errors import UserError, require_exists
from constitutional.evals.canaries import judge_record
from constitutional.evals.items import EvalItem, read_input
from constitutional.evals.labels import LABELS_FILE, agreement, read_labels, record_verdicts
from constitutional.evals.lines import Debate, EvalLine, read_eval_lines
from constitutional.evals.report_model import CanarySummary, Report
from constitutional.evals.veneer import added_units, scan
from constitutional.rundir import read_json
from constitutional.text import clip, quote_spans

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

# Marks on a text segment (bit flags, so one segment can be both added and veneer).
REMOVED, ADDED, VENEER, FLAGGED = 1, 2, 4, 8
TOKEN = re.compile(r"\w+|[^\w\s]")
Mark = tuple[int, int, int, "str | None"]  # start, end, flags, note


@dataclass
class ReportDir:
    path: Path
    report: Report
    items: Iterable[EvalItem] = ()  # the eval's input, read as needed: drafts and critique flags
    manifest: dict | None = None  # run.json, when the directory is a run
    labels_stale: bool = False  # report.json's `labels` block on disk is not what labels.jsonl gives now

    @property
    def lines_path(self) -> Path:
        return self.path / "eval.jsonl"

    @property
    def lines(self) -> Iterator[EvalLine]:
        """The eval lines, read from eval.jsonl and validated as they are iterated."""
        return read_eval_lines(self.lines_path) if self.lines_path.is_file() else iter(())


def load_dir(path: Path) -> ReportDir:
    """A directory with report.json and eval.jsonl (a run directory, or the --out of `cai eval`)."""
    require_exists(path, "report directory", fix="give a run directory, or the --out of `cai eval`")
    if not (path / "report.json").is_file():
        raise UserError(f"no report.json in {path}", fix=f"run `cai eval {path}` first (or `cai run` without --no-eval)")
    report = read_report(path / "report.json")
    manifest = read_json(path / "run.json", fix="run `cai eval DIR` to write it again") if (path / "run.json").is_file() else None
    run = ReportDir(path, report, input_items(path, report), manifest)
    if (path / LABELS_FILE).is_file():  # people may label after the eval: counted afresh on every read
        fresh = agreement(run.lines, read_labels(path))
        run.labels_stale = report.labels is None or report.labels.model_dump() != fresh.model_dump()
        report.set_labels(fresh)
    return run


def read_report(path: Path) -> Report:
    """DIR/report.json as a Report; one that does not read, or is not a report, is a UserError naming it."""
    fix = "run `cai eval DIR` to write it again"
    data = read_json(path, fix=fix)
    try:
        return Report.model_validate(data)
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        raise UserError(f"{path} is not an eval report: {problem}", fix=fix) from None


def input_items(path: Path, report: Report) -> Iterable[EvalItem]:
    """The eval's input again, for critique flags: the run directory itself, or the JSONL the report names."""
    source = path if (path / "records.jsonl").is_file() else Path(report.input.path or "")
    if not str(source) or not source.exists():
        return ()
    try:
        return read_input(source).items
    except UserError:
        return ()


MAX_DIFF_WORK = 4_000_000  # words in the draft times words in the revision


def _prefix_suffix_opcodes(wa: list[str], wb: list[str]) -> list[tuple]:
    """A cheap diff: the common start and end are equal, everything between them is replaced."""
    start = 0
    while start < min(len(wa), len(wb)) and wa[start] == wb[start]:
        start += 1
    end = 0
    while end < min(len(wa), len(wb)) - start and wa[-1 - end] == wb[-1 - end]:
        end += 1
    return [
        ("equal", 0, start, 0, start),
        ("replace", start, len(wa) - end, start, len(wb) - end),
        ("equal", len(wa) - end, len(wa), len(wb) - end, len(wb)),
    ]


def _changed_ranges(a: str, b: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Character ranges of `a` removed and of `b` added, from a word-level diff."""
    ta, tb = list(TOKEN.finditer(a)), list(TOKEN.finditer(b))
    wa, wb = [m.group().lower() for m in ta], [m.group().lower() for m in tb]
    if len(wa) * len(wb) > MAX_DIFF_WORK:
        opcodes = _prefix_suffix_opcodes(wa, wb)  # a full diff of huge texts can take hours
    else:
        opcodes = difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes()
    removed, added = [], []
    for op, i1, i2, j1, j2 in opcodes:
        if op in ("delete", "replace") and i2 > i1:
            removed.append((ta[i1].start(), ta[i2 - 1].end()))
        if op in ("insert", "replace") and j2 > j1:
            added.append((tb[j1].start(), tb[j2 - 1].end()))
    return removed, added


def segments(text: str, marks: list[Mark]) -> list[list]:
    """Split `text` at every mark boundary: [[text, flags, note?], ...] with flags OR-ed where marks overlap."""
    cuts = {0, len(text)}
    for start, end, _, _ in marks:
        cuts.update((start, end))
    points = sorted(c for c in cuts if 0 <= c <= len(text))
    result: list[list] = []
    for start, end in zip(points, points[1:]):
        flags, notes = 0, []
        for m_start, m_end, flag, note in marks:
            if m_start <= start and end <= m_end:
                flags |= flag
                if note and note not in notes:
                    notes.append(note)
        segment = [text[start:end], flags] + (["; ".join(notes)] if notes else [])
        if result and result[-1][1:] == segment[1:]:
            result[-1][0] += segment[0]
        else:
            result.append(segment)
    return result


def _veneer_texts(line: EvalLine, draft: str | None, revision: str) -> list[str]:
    if "veneer_added_text" in line.signals.model_fields_set:
        return line.signals.veneer_added_text
    return [u.text for u in added_units(scan(draft) if draft is not None else None, scan(revision))]


def _given(part: BaseModel, name: str, default: object) -> Any:
    """A field the line (or a part of it) carries, even as null, else `default`: a line of an older eval may lack it."""
    return getattr(part, name) if name in part.model_fields_set else default


def record_view(line: EvalLine, item: EvalItem | None) -> dict:
    """One record as the HTML page shows it."""
    draft = _given(line, "draft", item.draft if item else None)
    revision = _given(line, "revision", item.revision if item else None) or ""
    flags = item.flags if item else []
    draft_marks: list[Mark] = []
    revision_marks: list[Mark] = []
    if draft is not None:
        removed, added = _changed_ranges(draft, revision)
        draft_marks += [(s, e, REMOVED, None) for s, e in removed]
        revision_marks += [(s, e, ADDED, None) for s, e in added]
    for text in _veneer_texts(line, draft, revision):
        revision_marks += [(s, e, VENEER, "compliance veneer added by the revision") for s, e in quote_spans(revision, text)[:1]]
    for flag in flags:
        note = f"flagged by the critique ({flag.principle})" + (f": {flag.explanation}" if flag.explanation else "")
        if draft is not None:
            draft_marks += [(s, e, FLAGGED, note) for s, e in quote_spans(draft, flag.quote)]
        revision_marks += [(s, e, FLAGGED, note + " (still in the revision)") for s, e in quote_spans(revision, flag.quote)]
    signals = line.signals
    return {
        "id": line.id,
        "verdict": line.verdict,
        "leaning": line.leaning,
        "confidence": line.confidence,
        "needs_review": line.needs_review,
        "decided_by": _given(line, "decided_by", None),
        "reasons": line.reasons,
        "prompt": _given(line, "prompt", item.prompt if item else ""),
        "draft": segments(draft, draft_marks) if draft is not None else None,
        "revision": segments(revision, revision_marks),
        "flags": [{"principle": f.principle, "quote": f.quote, "explanation": f.explanation} for f in flags],
        "principles": [
            {
                "id": p.id,
                "verdict": p.verdict,
                "confidence": p.confidence,
                "needs_review": p.needs_review,
                "reasons": p.reasons,
                "evidence": [e.model_dump(exclude_unset=True) for e in p.evidence],
                "checks": _quoted_checks(p.checks),
                "debate": debate_view(p.debate),
            }
            for p in line.principles
        ],
        "judge_checks": _quoted_checks(line.judge.checks if line.judge else []),
        "judge_debate": debate_view(line.judge.debate if line.judge else None),
        "signals": {
            "veneer_added": _given(signals, "veneer_added", None),
            "substantive_change": signals.substantive_change,
            "refusal": signals.refusal_kind if signals.refusal else None,
        },
    }


def debate_view(debate: Debate | None) -> dict | None:
    """A debate as the page shows it: each argument in speaking order (struck ones with why), then the judge's picks."""
    if debate is None:
        return None
    return {
        "outcome": debate.outcome,
        "arguments": [
            {
                "who": f"{a.side}, {a.stage}",
                "side": a.side,
                "argument": a.argument,
                "quotes": [{"quote": q.quote, "found": q.quote_found} for q in a.quotes],
                "struck": a.struck_reason if a.struck else None,
                "error": a.error,
            }
            for a in debate.arguments
        ],
        "picks": [
            {"first": p.first, "pick": p.pick, "counted": p.counted, "quote": p.quote, "found": p.quote_found, "error": p.error}
            for p in debate.picks
        ],
    }


def _quoted_checks(checks: list) -> list[dict]:
    """The judge's checks that quote the text, with whether the quote was found (a quote not found counts for nothing)."""
    return [{"question": c.question, "quote": c.quote, "found": c.quote_found} for c in checks if c.kind == "judge" and c.quote]


MAX_RECORDS = 10_000  # records report.html embeds; past this the page gets slow to open, and eval.jsonl has them all


def for_review(line: EvalLine) -> bool:
    """A record a reviewer needs first: sent to review, errored, or with a verdict other than genuine or unchanged."""
    return line.needs_review or line.verdict not in ("genuine", "unchanged")


def _shown_ids(lines_path: Path, cap: int) -> tuple[set[str], int]:
    """The ids of the records the page shows, and how many lines eval.jsonl has."""
    first: list[str] = []
    rest: list[str] = []
    total = 0
    for line in read_eval_lines(lines_path):
        total += 1
        chosen = first if for_review(line) else rest
        if len(chosen) < cap:
            chosen.append(line.id)
    return set(first + rest[: cap - len(first)]), total


def record_views(lines_path: Path, items: Iterable[EvalItem], cap: int | None = None) -> tuple[Iterator[dict], int]:
    """Views of at most `cap` records of eval.jsonl (default MAX_RECORDS) in input order, those `for_review` chosen
    first, then the others; and how many records are not shown. Only the shown records' items are kept."""
    if not lines_path.is_file():
        return iter(()), 0
    shown, total = _shown_ids(lines_path, MAX_RECORDS if cap is None else cap)
    by_id = {item.id: item for item in items if item.id in shown}
    human = record_verdicts(read_labels(lines_path.parent))
    views = (
        {**record_view(line, by_id.get(line.id)), "human_verdict": human.get(line.id)}
        for line in read_eval_lines(lines_path)
        if line.id in shown
    )
    return views, total - len(shown)


def clip_apart(texts: list[str], limit: int = 70) -> list[str]:
    """Each text clipped to `limit` characters, except that texts which differ only past the cut show instead the
    stretch from a few words before where they part ('…' at either end marks a cut)."""
    flat = [" ".join(t.split()) for t in texts]
    shown = []
    for text in flat:
        rivals = [other for other in flat if other != text and clip(other, limit) == clip(text, limit)]
        if not rivals:
            shown.append(clip(text, limit))
            continue
        parting = max(len(os.path.commonprefix([text, other])) for other in rivals)
        start = text.rfind(" ", 0, max(parting - limit // 4, 0)) + 1
        shown.append(("…" if start else "") + clip(text[start:], limit - (1 if start else 0)))
    return shown


@dataclass
class CanaryRow:
    id: str  # unique, and says which draft and kind: canary-2-content_free-6
    revision: str  # clipped apart from the other rows'
    full: str
    expected: str
    signals: str
    judge: str | None
    failed: str | None  # "fooled" (a bad control accepted) or "missed" (a genuine fix rejected)


def canary_rows(canaries: CanarySummary, limit: int = 70) -> list[CanaryRow]:
    """The planted controls as a report's table shows them, every row told apart from the others."""
    items = canaries.items
    texts = clip_apart([item.revision or "" for item in items], limit)
    return [
        CanaryRow(
            item.id,
            text,
            item.revision or "",
            item.expected,
            item.signals_verdict,
            item.judge_verdict,
            "fooled" if item.judge_fooled else "missed" if item.judge_missed_fix else None,
        )
        for item, text in zip(items, texts)
    ]


def judge_trust(report: Report) -> str:
    """Whether the canaries say to trust the judge, and why not (the reason report.json keeps)."""
    judge, canaries = report.judge.spec, report.canaries
    if judge is None:
        return "no judge (deterministic signals only)"
    if report.judge.mode == "debate":
        canaries_part = f", plus {report.judge.canary_calls} for the canaries" if report.judge.canary_calls else ""
        judge += f" in debate mode ({report.judge.calls_per_record} calls per record{canaries_part})"
    if canaries.judge_trusted:
        return f"{judge}: trusted; on the canaries it {judge_record(canaries.model_dump())}"
    reason = canaries.judge_untrusted_reason
    return f"{judge}: NOT trusted" + (f": it {reason}" if reason else "")
