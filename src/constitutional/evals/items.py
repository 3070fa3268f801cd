"""What the eval reads: one item per revision, from a run directory or a JSONL of revisions made elsewhere."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from constitutional.errors import UserError, json_problem
from constitutional.models.structured import describe_error
from constitutional.record import Record
from constitutional.rundir import UNDECODED, parse_json, read_json, torn_write
from constitutional.text import blank

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

MAX_PROBLEMS_SHOWN = 10


@dataclass(frozen=True)
class Flag:
    """A span the critique flagged: which principle, and the quoted words."""

    principle: str
    quote: str
    explanation: str = ""


@dataclass
class EvalItem:
    id: str
    prompt: str
    revision: str | None
    draft: str | None = None
    flags: list[Flag] = field(default_factory=list)
    critique_known: bool = False  # False: nobody critiqued the draft, so `flags` being empty means nothing
    error: str | None = None
    meta: dict = field(default_factory=dict)

    @property
    def flagged_principles(self) -> list[str]:
        return list(dict.fromkeys(f.principle for f in self.flags))


def from_record(record: Record) -> EvalItem:
    """A records.jsonl line → an item. Quotes from every round's critique are kept."""
    flags: list[Flag] = []
    critiqued = False
    for step in record.steps:
        if step.critique is not None:
            critiqued = True
            flags.extend(Flag(v.principle, v.quote, v.explanation) for v in step.critique.violations)
    error = record.error
    return EvalItem(
        id=record.id,
        prompt=record.prompt,
        draft=record.draft,
        revision=record.final,
        flags=flags,
        critique_known=critiqued,
        error=f"the run failed at {error.stage}: {error.message}" if error else None,
        meta=record.meta,
    )


# Hugging Face's published CAI datasets (e.g. HuggingFaceH4/cai-conversation-harmless), made by llm-swarm:
# the columns that hold the prompt, the draft and the revision. Their critique (critic_response) is free text, so a
# row gives no structured flags; it and the other columns are kept in meta.
HF_CAI_COLUMNS = ("init_prompt", "init_response", "revision_response")


def from_line(data: dict, line: int) -> EvalItem:
    """A JSONL line of revisions made elsewhere: {id?, prompt, draft?, revision | response, violations?}, or a row
    of Hugging Face's CAI datasets: {init_prompt, init_response?, revision_response, critic_prompt, ...}."""
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    if any(column in data for column in HF_CAI_COLUMNS):
        names = [f"'{column}'" for column in HF_CAI_COLUMNS]
        prompt, draft, revision = (_message_text(data.get(column)) for column in HF_CAI_COLUMNS)
        known = {"id", "violations", *HF_CAI_COLUMNS}
    else:
        names = ["'prompt'", "'draft'", "'revision' (or 'response')"]
        prompt, draft, revision = data.get("prompt"), data.get("draft"), data.get("revision", data.get("response"))
        known = {"id", "prompt", "draft", "revision", "response", "violations"}
    if not isinstance(prompt, str) or blank(prompt):
        raise ValueError(f"{names[0]} must be a non-empty string")
    if not isinstance(revision, str):
        raise ValueError(f"needs {names[2]}: the text to evaluate")
    if draft is not None and not isinstance(draft, str):
        raise ValueError(f"{names[1]} must be a string when given")
    flags, critiqued = [], "violations" in data
    for v in data.get("violations") or []:
        if not isinstance(v, dict) or not isinstance(v.get("principle"), str):
            raise ValueError("each of 'violations' needs a 'principle' (and usually a 'quote')")
        flags.append(Flag(v["principle"], str(v.get("quote") or ""), str(v.get("explanation") or "")))
    item_id = data.get("id")
    if item_id in (None, ""):
        item_id = hashlib.sha256(f"{prompt}\x00{revision}".encode()).hexdigest()[:16]
    return EvalItem(
        id=str(item_id),
        prompt=prompt,
        draft=draft,
        revision=revision,
        flags=flags,
        critique_known=critiqued,
        meta={k: v for k, v in data.items() if k not in known},
    )


def _message_text(value: object) -> object:
    """A column's text: the string itself, or the content of a {"role", "content"} message (as llm-swarm's
    earlier scripts stored each turn); anything else is returned for the caller to refuse."""
    return value.get("content") if isinstance(value, dict) else value


@dataclass(frozen=True)
class ItemFile:
    """The items of a checked input file, read from the file again each time they are iterated, so a
    million of them never sit in memory at once."""

    path: Path
    convert: Callable[[object, int], EvalItem]
    count: int
    last_line: int  # lines past it (appended since the check, or a crash's torn last line) are not read

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[EvalItem]:
        with self.path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if number > self.last_line:
                    return
                if line.strip():
                    yield self.convert(parse_json(line), number)


@dataclass
class EvalInput:
    kind: str  # "run" | "jsonl"
    path: Path
    items: ItemFile
    manifest: dict | None = None  # run.json, for a run directory
    torn_tail: int = 0  # bytes of a torn last record (a crash mid-write) left out; `cai run` resuming removes it


def read_input(path: Path) -> EvalInput:
    if path.is_dir():
        records = path / "records.jsonl"
        if not records.is_file():
            raise UserError(
                f"{path} is a directory without records.jsonl",
                fix="give a run directory written by `cai run`, or a JSONL of {prompt, draft?, revision}",
            )
        manifest = None
        if (path / "run.json").is_file():
            manifest = read_json(path / "run.json", fix="resume the run with the same `cai run` command to rewrite it")
        items, torn = _read_jsonl(records, from_record_line, torn_tail_allowed=True)
        return EvalInput("run", path, items, manifest, torn)
    if not path.is_file():
        raise UserError(f"eval input not found: {path}", fix="give a run directory or a .jsonl file of revisions")
    return EvalInput("jsonl", path, _read_jsonl(path, from_line)[0])


def from_record_line(data: dict, line: int) -> EvalItem:
    if not isinstance(data, dict) or "id" not in data:
        raise ValueError("not a record (no 'id')")
    try:
        return from_record(Record.model_validate(data))
    except ValidationError as exc:
        raise ValueError(f"not a record of `cai run`: {describe_error(exc)}") from None


def _read_jsonl(path: Path, convert: Callable[[Any, int], EvalItem], torn_tail_allowed: bool = False) -> tuple[ItemFile, int]:
    """Check every line before any work starts; keep only the count. With `torn_tail_allowed` (a run's
    records), an unparseable last line without its newline is a crash's torn write: left out, its size returned."""
    problems: list[str] = []
    seen: dict[str, int] = {}  # item id → the line it is first on
    unusable, number, torn = 0, 0, 0
    with path.open(encoding="utf-8", errors="surrogateescape") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            if torn_tail_allowed and torn_write(line):
                torn = len(line.encode("utf-8", errors="surrogateescape"))
                number -= 1
                break
            problem = None
            if UNDECODED.search(line):  # bytes that were not UTF-8, kept by surrogateescape
                problem = "not valid UTF-8 (re-save the file as UTF-8)"
            else:
                try:
                    item = convert(parse_json(line), number)
                except json.JSONDecodeError as exc:  # bad JSON, nested too deeply, a number too long
                    problem = json_problem(exc)
                except ValueError as exc:
                    problem = str(exc)
                else:
                    if item.id in seen:
                        problem = f"duplicate id '{item.id}' (first on line {seen[item.id]})"
                    else:
                        seen[item.id] = number
            if problem is not None:
                unusable += 1
                if len(problems) < MAX_PROBLEMS_SHOWN:
                    problems.append(f"  {path}:{number}: {problem}")
    if unusable:
        shown = "\n".join(problems)
        more = f"\n  … and {unusable - MAX_PROBLEMS_SHOWN} more" if unusable > MAX_PROBLEMS_SHOWN else ""
        raise UserError(
            f"{unusable} unusable line(s) in {path}:\n{shown}{more}",
            fix="each line needs a JSON object with 'prompt' and 'revision' (or 'response'), or Hugging "
            "Face's CAI columns 'init_prompt' and 'revision_response'; ids must be unique",
        )
    if not seen:
        raise UserError(f"nothing to evaluate in {path}", fix='add lines of {"prompt", "draft"?, "revision"}')
    return ItemFile(path, convert, len(seen), number), torn
