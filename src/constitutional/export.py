"""Training rows from a run directory, keeping only revisions the eval judged good.

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from constitutional.errors import UserError
from constitutional.pipeline.rundir import torn_write

VERDICTS = ("genuine", "superficial", "non_compliant", "evasive", "regressed", "unchanged", "error")
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


def parse_only(text: str, fmt: str) -> frozenset[str]:
    """'genuine,unchanged' -> the verdicts to export, checked against the format."""
    chosen = frozenset(v.strip() for v in text.split(",") if v.strip())
    unknown = sorted(chosen - set(VERDICTS))
    if not chosen or unknown:
        raise UserError(f"unknown verdict(s) in --only: {', '.join(unknown) or '(none given)'}",
                        fix=f"use a comma-separated list of: {', '.join(VERDICTS)}")
    if fmt == "dpo" and chosen - DPO_VERDICTS:
        bad = ", ".join(sorted(chosen - DPO_VERDICTS))
        raise UserError(f"preference pairs cannot use revisions judged {bad}",
                        fix="a DPO pair claims the revision is better than the draft, which holds only for "
                            "'genuine'; use --only genuine (or --format sft)")
    return chosen


def export_rows(run_dir: Path, fmt: str, only: frozenset[str], style: str = "conversational"
                ) -> tuple[Iterator[dict], ExportResult]:
    """The rows, made one record at a time as they are iterated, and the counts, complete once they all are.
    The options, both files' presence and every eval line are checked before the first row."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format '{fmt}'", fix=f"use one of: {', '.join(FORMATS)}")
    if style not in STYLES:
        raise UserError(f"unknown style '{style}'", fix=f"use one of: {', '.join(STYLES)}")
    result = ExportResult()
    records = _checked(run_dir / "records.jsonl", "records",
                       f"{run_dir} is not a run directory; create one with `cai run PROMPTS --out {run_dir}`", result.left_out)
    evals = _checked(run_dir / "eval.jsonl", "eval", f"run `cai eval {run_dir}` first; only evaluated revisions are exported")
    verdicts = {line["id"]: line["verdict"] for line in evals}  # a later line for an id replaces the earlier one
    return _rows(records, verdicts, fmt, only, style, result), result


def _rows(records: Iterator[dict], verdicts: dict[str, str], fmt: str, only: frozenset[str], style: str,
          result: ExportResult) -> Iterator[dict]:
    for record in records:
        reason = _left_out_reason(record, verdicts.get(record["id"]), fmt, only)
        if reason:
            result.left_out[reason] += 1
        else:
            result.rows += 1
            yield _row(record, fmt, style)


def _left_out_reason(record: dict, verdict: str | None, fmt: str, only: frozenset[str]) -> str | None:
    if verdict is None:
        return "not evaluated"
    if verdict not in only:
        return verdict
    if verdict not in DPO_VERDICTS and fmt == "dpo":  # parse_only refuses this; a second guard costs nothing
        return verdict
    if record.get("error") or not record.get("final") or not record.get("prompt"):
        return "record error"
    if fmt == "dpo" and (not record.get("draft") or record["final"].strip() == record["draft"].strip()):
        return "no revision"
    return None


def _row(record: dict, fmt: str, style: str) -> dict:
    prompt, final = record["prompt"], record["final"]
    conversational = style == "conversational"
    if fmt == "sft":
        if conversational:
            return {"messages": [_message("user", prompt), _message("assistant", final)]}
        return {"prompt": prompt, "completion": final}
    if conversational:
        return {"prompt": [_message("user", prompt)], "chosen": [_message("assistant", final)],
                "rejected": [_message("assistant", record["draft"])]}
    return {"prompt": prompt, "chosen": final, "rejected": record["draft"]}


def _message(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def _checked(path: Path, what: str, fix: str, torn: Counter | None = None) -> Iterator[dict]:
    """The lines of a JSONL file, each checked as it is read; a missing file is refused before any is read.
    With `torn`, an unparseable last line without its newline (a crash mid-write) is counted there, as `cai eval`
    leaves it out too."""
    if not path.is_file():
        raise UserError(f"no {path.name} in {path.parent}", fix=fix)
    return _lines(path, what, torn)


def _lines(path: Path, what: str, torn: Counter | None) -> Iterator[dict]:
    first_seen: dict[str, int] = {}  # records only: a run writes each id once
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError as exc:
                if torn is not None and torn_write(text):
                    torn["torn last record (resuming the run redoes it)"] += 1
                    return
                raise UserError(f"invalid JSON in {what} line: {exc.msg}", where=f"{path}:{number}",
                                fix="repair or delete that line") from None
            if not isinstance(line, dict) or not isinstance(line.get("id"), str):
                raise UserError(f"{what} line has no 'id'", where=f"{path}:{number}", fix="repair or delete that line")
            if what == "eval" and line.get("verdict") not in VERDICTS:
                raise UserError(f"unknown verdict {line.get('verdict')!r}", where=f"{path}:{number}",
                                fix=f"a verdict is one of: {', '.join(VERDICTS)}; re-run `cai eval`")
            if what == "records":
                if line["id"] in first_seen:
                    raise UserError(f"duplicate record id '{line['id']}' (first on line {first_seen[line['id']]})",
                                    where=f"{path}:{number}", fix="a run writes each id once; delete one of the two lines")
                first_seen[line["id"]] = number
            yield line
