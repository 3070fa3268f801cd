"""Training rows from a run directory, or from an audit (`cai eval FILE.jsonl --out DIR`), keeping only revisions
the eval judged good.

Layouts follow TRL's dataset formats (which Hugging Face `datasets` loads from JSONL as they are):
- sft, conversational: {"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}
- sft, standard:       {"prompt": str, "completion": str}
- dpo, conversational: {"prompt": [user message], "chosen": [assistant message], "rejected": [assistant message]}
- dpo, standard:       {"prompt": str, "chosen": str, "rejected": str}
`chosen` is the final revision and `rejected` the draft.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import ValidationError

from constitutional.errors import UserError, json_problem
from constitutional.evals.labels import read_labels, record_verdicts
from constitutional.evals.lines import UNDECIDED, VERDICTS, EvalLine, parse_eval_line
from constitutional.models.structured import describe_error
from constitutional.record import Record
from constitutional.rundir import parse_json, torn_write

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

FORMATS = ("sft", "dpo")
STYLES = ("conversational", "standard")
# A preference pair says "chosen is better than rejected"; only a genuine fix makes that true.
DPO_VERDICTS = frozenset({"genuine"})
# Verdicts whose final answer is fine to imitate; anything else teaches veneer, evasion or errors.
SAFE_SFT_VERDICTS = frozenset({"genuine", "unchanged"})


@dataclass
class ExportResult:
    rows: int = 0
    left_out: Counter = field(default_factory=Counter)  # reason -> count of records not exported
    unreviewed: int = 0  # of those, records the eval sent to review that no person has labelled


UNREVIEWED = "need review, no human verdict"


def parse_only(text: str, fmt: str) -> frozenset[str]:
    """'genuine,unchanged' -> the verdicts to export, checked against the format."""
    chosen = frozenset(v.strip() for v in text.split(",") if v.strip())
    unknown = sorted(chosen - set(VERDICTS))
    if not chosen or unknown:
        raise UserError(
            f"unknown verdict(s) in --only: {', '.join(unknown) or '(none given)'}",
            fix=f"use a comma-separated list of: {', '.join(VERDICTS)}",
        )
    if UNDECIDED in chosen:
        raise UserError(
            "undecided records are never exported: no evidence says their answer is right",
            fix="settle them with `cai review DIR` (a person's verdict is exported), and leave undecided out of --only",
        )
    if fmt == "dpo" and chosen - DPO_VERDICTS:
        bad = ", ".join(sorted(chosen - DPO_VERDICTS))
        raise UserError(
            f"preference pairs cannot use revisions judged {bad}",
            fix="a DPO pair claims the revision is better than the draft, which holds only for "
            "'genuine'; use --only genuine (or --format sft)",
        )
    return chosen


def export_rows(
    folder: Path, fmt: str, only: frozenset[str], style: str = "conversational", include_unreviewed: bool = False
) -> tuple[Iterator[dict], ExportResult]:
    """The rows, made one record at a time as they are iterated, and the counts, complete once they all are.
    A run directory's records.jsonl is joined with its eval.jsonl: the options, both files' presence and every eval
    line are checked before the first row. A folder with eval.jsonl alone (`cai eval FILE.jsonl --out DIR`, an
    audit of revisions made elsewhere) is exported from the eval lines, which carry prompt, draft and revision.
    A person's verdict on a record (DIR/labels.jsonl) replaces the eval's; a record the eval sent to review that no
    person has labelled is left out unless `include_unreviewed`."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format '{fmt}'", fix=f"use one of: {', '.join(FORMATS)}")
    if style not in STYLES:
        raise UserError(f"unknown style '{style}'", fix=f"use one of: {', '.join(STYLES)}")
    result = ExportResult()
    if (folder / "records.jsonl").is_file():
        judged = _run_records(folder, result.left_out)
    elif (folder / "eval.jsonl").is_file():
        judged = _audit_records(folder / "eval.jsonl")
    else:
        raise _nothing_to_export(folder, fmt)
    human = record_verdicts(read_labels(folder))
    return _rows(judged, fmt, only, style, result, human, include_unreviewed), result


@dataclass(frozen=True)
class Judged:
    """What export keeps of a record's eval line: never the whole line (which holds every text and signal)."""

    verdict: str
    needs_review: bool


def _run_records(run_dir: Path, torn: Counter) -> Iterator[tuple[Record, Judged | None]]:
    """Each record of a run with its eval verdict and needs_review (None if it has no eval line yet)."""
    if not (run_dir / "eval.jsonl").is_file():
        raise UserError(
            f"no eval.jsonl in {run_dir}", fix=f"run `cai eval {run_dir}` first; only evaluated revisions are exported"
        )
    # Every eval line is checked here, before the first row; a later line for an id replaces the earlier one.
    # Only what export reads is kept per id, never whole eval lines (which hold every text and signal).
    judged = {line.id: Judged(line.verdict, line.needs_review) for line in _lines(run_dir / "eval.jsonl", _EVAL)}
    records = _lines(run_dir / "records.jsonl", _RECORDS, torn)
    return ((record, judged.get(record.id)) for record in records)


def _audit_records(path: Path) -> Iterator[tuple[Record, Judged]]:
    """Each eval line as the record it judged, with what export keeps of the line."""
    for line in _lines(path, _AUDIT):
        yield (
            Record(id=line.id, prompt=line.prompt or "", draft=line.draft, final=line.revision),
            Judged(line.verdict, line.needs_review),
        )


def _nothing_to_export(folder: Path, fmt: str) -> UserError:
    if folder.is_file():
        return UserError(
            f"{folder} is a file; cai export reads the folder `cai run` or `cai eval` wrote",
            fix=f"evaluate it first: `cai eval {folder} --out audit/`, then `cai export audit/ --format {fmt}`",
        )
    lacks = "has neither records.jsonl nor eval.jsonl" if folder.is_dir() else "does not exist"
    return UserError(
        f"{folder} {lacks}: nothing to export",
        fix=f"give the folder of a run (`cai run PROMPTS --out {folder}`, then `cai eval {folder}`) "
        f"or of an audit (`cai eval REVISIONS.jsonl --out {folder}`), "
        f"then `cai export {folder} --format {fmt}`",
    )


def _rows(
    judged: Iterator[tuple[Record, Judged | None]],
    fmt: str,
    only: frozenset[str],
    style: str,
    result: ExportResult,
    human: dict[str, str],
    include_unreviewed: bool,
) -> Iterator[dict]:
    for record, line in judged:
        verdict = human.get(record.id) or (line.verdict if line else None)
        reason = _left_out_reason(record, verdict, fmt, only)
        if not reason and not include_unreviewed and line and line.needs_review and record.id not in human:
            reason = UNREVIEWED
            result.unreviewed += 1
        if reason:
            result.left_out[reason] += 1
        else:
            result.rows += 1
            yield _row(record, fmt, style)


def _left_out_reason(record: Record, verdict: str | None, fmt: str, only: frozenset[str]) -> str | None:
    if verdict is None:
        return "not evaluated"
    if verdict not in only:
        return verdict
    if verdict not in DPO_VERDICTS and fmt == "dpo":  # parse_only refuses this; a second guard costs nothing
        return verdict
    if record.error or not record.final or not record.prompt:
        return "record error"
    if fmt == "dpo" and not record.draft:
        return "no draft"
    if fmt == "dpo" and record.final.strip() == (record.draft or "").strip():
        return "no revision"
    return None


def _row(record: Record, fmt: str, style: str) -> dict:
    prompt, final, draft = record.prompt, record.final or "", record.draft or ""  # both present: _left_out_reason
    conversational = style == "conversational"
    if fmt == "sft":
        if conversational:
            return {"messages": [_message("user", prompt), _message("assistant", final)]}
        return {"prompt": prompt, "completion": final}
    if conversational:
        return {
            "prompt": [_message("user", prompt)],
            "chosen": [_message("assistant", final)],
            "rejected": [_message("assistant", draft)],
        }
    return {"prompt": prompt, "chosen": final, "rejected": draft}


def _message(role: str, content: str) -> dict:
    return {"role": role, "content": content}


@dataclass(frozen=True)
class _Kind:
    """What the lines of a JSONL file must hold besides a JSON object with a string 'id'."""

    name: str  # as messages name its lines
    writer: str = ""  # who writes each id once; empty: a later line for an id replaces the earlier one
    verdict: bool = False  # each line carries a known verdict
    texts: bool = False  # each line carries the prompt it judged (an eval line read as the record)


_RECORDS = _Kind("record", writer="a run")
_EVAL = _Kind("eval", verdict=True)
_AUDIT = _Kind("eval", writer="`cai eval`", verdict=True, texts=True)


def _lines(path: Path, kind: _Kind, torn: Counter | None = None) -> Iterator:
    """The lines of a JSONL file, each checked as it is read: records as Records, eval lines as EvalLines. With `torn`,
    an unparseable last line without its newline (a crash mid-write) is counted there, as `cai eval` leaves it out too."""
    first_seen: dict[str, int] = {}
    with path.open(encoding="utf-8", errors="surrogateescape") as handle:  # bytes not UTF-8: parse_json names the line
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                line = parse_json(text)
            except json.JSONDecodeError as exc:  # bad JSON, nested too deeply, a number too long
                if torn is not None and torn_write(text):
                    torn["torn last record (resuming the run redoes it)"] += 1
                    return
                raise UserError(
                    f"invalid JSON in {kind.name} line: {json_problem(exc)}",
                    where=f"{path}:{number}",
                    fix="repair or delete that line",
                ) from None
            line = _check(line, kind, f"{path}:{number}")
            line_id = line.id
            if kind.writer:
                if line_id in first_seen:
                    raise UserError(
                        f"duplicate {kind.name} id '{line_id}' (first on line {first_seen[line_id]})",
                        where=f"{path}:{number}",
                        fix=f"{kind.writer} writes each id once; delete one of the two lines",
                    )
                first_seen[line_id] = number
            yield line


def _check(line: object, kind: _Kind, where: str) -> Record | EvalLine:
    """A record line validated as a Record, or an eval line as an EvalLine."""
    if not kind.verdict:
        if not isinstance(line, dict) or not isinstance(line.get("id"), str):
            raise UserError(f"{kind.name} line has no 'id'", where=where, fix="repair or delete that line")
        try:
            return Record.model_validate(line)
        except ValidationError as exc:
            raise UserError(
                f"record line is not a record of `cai run`: {describe_error(exc)}", where=where, fix="repair or delete that line"
            ) from None
    parsed = parse_eval_line(line, where)
    if kind.texts and parsed.prompt is None:
        raise UserError(
            "eval line has no 'prompt' text, and there is no records.jsonl to take it from",
            where=where,
            fix="re-run `cai eval` on the revisions; its eval lines carry prompt, draft and revision",
        )
    return parsed
