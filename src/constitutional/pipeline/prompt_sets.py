"""Read prompt sets (JSONL, CSV, plain text) as a stream of prompts and per-line problems."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from constitutional.errors import UserError, json_problem, require_exists


@dataclass(frozen=True)
class PromptItem:
    id: str
    prompt: str
    meta: dict = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True)
class InputProblem:
    line: int
    message: str


def prompt_id(prompt: str) -> str:
    """A stable id: the same prompt text always gets the same id."""
    return hashlib.sha256(prompt.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def read_prompts(path: str | Path) -> Iterator[PromptItem | InputProblem]:
    """Yield each prompt, or an InputProblem naming the line that could not be used. Streams the file."""
    path = Path(path)
    require_exists(path, "prompt file", fix="give a .jsonl, .csv or .txt file of prompts")
    if not path.is_file():
        raise UserError(f"{path} is a folder, not a prompt file", fix="give a .jsonl, .csv or .txt file of prompts")
    suffix = path.suffix.lower()
    rows = _jsonl(path) if suffix in (".jsonl", ".json", ".ndjson") else _csv(path) if suffix == ".csv" else _text(path)
    seen: dict[str, int] = {}
    for row in rows:
        if isinstance(row, InputProblem):
            yield row
            continue
        if row.id in seen:
            yield InputProblem(row.line, f"duplicate id '{row.id}' (first seen on line {seen[row.id]}); give each prompt a unique id")
            continue
        seen[row.id] = row.line
        yield row


def _item(line: int, prompt: object, given_id: object, meta: dict) -> PromptItem | InputProblem:
    if not isinstance(prompt, str):
        return InputProblem(line, "'prompt' must be a string")
    if not prompt.replace("\x00", "").strip():
        return InputProblem(line, "empty prompt")
    if not _utf8(prompt):
        return InputProblem(line, "the prompt is not valid UTF-8; re-save the file as UTF-8")
    if not _utf8([given_id, meta]):
        return InputProblem(line, "the id or another field is not valid UTF-8; re-save the file as UTF-8")
    if given_id is None or given_id == "":
        pid = prompt_id(prompt)
    elif isinstance(given_id, (str, int)) and not isinstance(given_id, bool):
        pid = str(given_id)
    else:
        return InputProblem(line, "'id' must be a string or a whole number")
    return PromptItem(pid, prompt, meta, line)


def _utf8(value: object) -> bool:
    """False if the value holds bytes that were not UTF-8, or a lone surrogate from a \\ud800-style escape."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _jsonl(path: Path) -> Iterator[PromptItem | InputProblem]:
    with path.open(encoding="utf-8", errors="surrogateescape") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                yield InputProblem(number, f"not valid JSON ({json_problem(exc)})")
                continue
            if not isinstance(data, dict) or "prompt" not in data:
                yield InputProblem(number, 'each line must be a JSON object with a "prompt" field')
                continue
            meta = {k: v for k, v in data.items() if k not in ("id", "prompt")}
            yield _item(number, data["prompt"], data.get("id"), meta)


def _csv(path: Path) -> Iterator[PromptItem | InputProblem]:
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "prompt" not in reader.fieldnames:
            raise UserError(f"no 'prompt' column (columns: {reader.fieldnames})", where=f"{path}:1",
                            fix="name the column that holds the prompts 'prompt' in the header row")
        for row in reader:
            number = reader.line_num
            meta = {k: v for k, v in row.items() if k not in ("id", "prompt") and k is not None}
            yield _item(number, row.get("prompt") or "", row.get("id"), meta)


def _text(path: Path) -> Iterator[PromptItem | InputProblem]:
    with path.open(encoding="utf-8", errors="surrogateescape") as fh:
        for number, line in enumerate(fh, 1):
            text = line.rstrip("\r\n")
            if text.strip():
                yield _item(number, text, None, {})
