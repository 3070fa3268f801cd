"""Read prompt sets (JSONL, CSV, plain text) as a stream of prompts and per-line problems."""

from __future__ import annotations

import csv
import hashlib
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from constitutional.errors import UserError, json_problem, require_exists
from constitutional.rundir import JSONLimitError, parse_json
from constitutional.text import blank

if TYPE_CHECKING:
    from collections.abc import Iterator

DEFAULT_MAX_PROMPT_CHARS = 100_000
MAX_PROMPT_JSON_DEPTH = 50  # less: a record nests the prompt line's fields (meta) deeper, and the eval reads records
CSV_FIELD_LIMIT = 2**31 - 1  # the most csv.field_size_limit takes everywhere (a C long)
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
RAW_NUL = "the line holds a NUL character (\\x00); remove it, or re-save the file as UTF-8 text"


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


def read_prompts(path: str | Path, max_chars: int = DEFAULT_MAX_PROMPT_CHARS) -> Iterator[PromptItem | InputProblem]:
    """Yield each prompt, or an InputProblem naming the line that could not be used. Streams the file.
    A prompt longer than `max_chars` characters (`cai run --max-prompt-chars`) is a problem."""
    path = Path(path)
    require_exists(path, "prompt file", fix="give a .jsonl, .csv or .txt file of prompts")
    if not path.is_file():
        raise UserError(f"{path} is a folder, not a prompt file", fix="give a .jsonl, .csv or .txt file of prompts")
    _refuse_utf16(path)
    limit = max_chars
    suffix = path.suffix.lower()
    rows = (
        _jsonl(path, limit)
        if suffix in (".jsonl", ".json", ".ndjson")
        else _csv(path, limit)
        if suffix == ".csv"
        else _text(path, limit)
    )
    seen: dict[str, int] = {}
    for row in rows:
        if isinstance(row, InputProblem):
            yield row
            continue
        if row.id in seen:
            yield InputProblem(
                row.line, f"duplicate id '{row.id}' (first seen on line {seen[row.id]}); give each prompt a unique id"
            )
            continue
        seen[row.id] = row.line
        yield row


def _refuse_utf16(path: Path) -> None:
    """A UTF-16 file (a byte-order mark, or NUL bytes between the characters) would read as garbage or
    NULs: refuse it whole, saying how to convert it."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    bom = head.startswith(UTF16_BOMS)
    nuls = len(head) >= 4 and max(head[0::2].count(0), head[1::2].count(0)) * 4 >= len(head)
    if bom or nuls:
        sign = "it starts with a UTF-16 byte-order mark" if bom else "NUL bytes fall between its characters"
        converted = path.with_name(f"{path.stem}-utf8{path.suffix}")
        raise UserError(
            f"{path} is UTF-16 text ({sign}); prompt files must be UTF-8",
            fix=f"convert it: iconv -f UTF-16 -t UTF-8 {shlex.quote(str(path))} > {shlex.quote(str(converted))}",
        )


def _item(line: int, prompt: object, given_id: object, meta: dict, max_chars: int) -> PromptItem | InputProblem:
    if not isinstance(prompt, str):
        return InputProblem(line, "'prompt' must be a string")
    if blank(prompt):  # nothing, or only whitespace, NULs and characters that show nothing (zero-width spaces)
        return InputProblem(line, "empty prompt")
    if len(prompt) > max_chars:
        return InputProblem(
            line, f"the prompt is {len(prompt):,} characters, over the limit of {max_chars:,} (--max-prompt-chars sets it)"
        )
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


def _jsonl(path: Path, max_chars: int) -> Iterator[PromptItem | InputProblem]:
    with path.open(encoding="utf-8-sig", errors="surrogateescape") as fh:
        started = False
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            if not started and line.lstrip().startswith("["):  # a file that is one JSON array, not JSON Lines
                yield InputProblem(number, _array_problem(path))
                return
            started = True
            try:
                data = parse_json(line, MAX_PROMPT_JSON_DEPTH)
            except JSONLimitError as exc:  # nested too deeply, a number too long
                yield InputProblem(number, json_problem(exc))
                continue
            except json.JSONDecodeError as exc:
                yield InputProblem(number, f"not valid JSON ({json_problem(exc)})")
                continue
            if not isinstance(data, dict) or "prompt" not in data:
                yield InputProblem(number, 'each line must be a JSON object with a "prompt" field')
                continue
            meta = {k: v for k, v in data.items() if k not in ("id", "prompt")}
            yield _item(number, data["prompt"], data.get("id"), meta, max_chars)


def _array_problem(path: Path) -> str:
    lines = path.with_name(path.stem + "-lines.jsonl")
    return (
        'this is a JSON array, and arrays are not read: each line must be one JSON object with a "prompt" field; '
        f"convert it with: jq -c '.[]' {shlex.quote(str(path))} > {shlex.quote(str(lines))}"
    )


def _csv(path: Path, max_chars: int) -> Iterator[PromptItem | InputProblem]:
    # the csv module refuses a field over 131,072 characters, and with it the rest of the file; a long prompt is
    # read, then refused by its row when it is over --max-prompt-chars (the limit is global; it is only ever raised)
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "prompt" not in reader.fieldnames:
            raise UserError(
                f"no 'prompt' column (columns: {reader.fieldnames})",
                where=f"{path}:1",
                fix="name the column that holds the prompts 'prompt' in the header row",
            )
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # what the csv module refuses (none known, with the field limit raised): that row
                yield InputProblem(reader.line_num, f"not a CSV row ({exc}); repair that row")
                continue
            number = reader.line_num
            meta = {k: v for k, v in row.items() if k not in ("id", "prompt") and k is not None}
            prompt = row.get("prompt") or ""
            yield InputProblem(number, RAW_NUL) if "\x00" in prompt else _item(number, prompt, row.get("id"), meta, max_chars)


def _text(path: Path, max_chars: int) -> Iterator[PromptItem | InputProblem]:
    with path.open(encoding="utf-8-sig", errors="surrogateescape") as fh:
        for number, line in enumerate(fh, 1):
            text = line.rstrip("\r\n")
            if "\x00" in text:  # a JSONL prompt may hold an escaped \u0000; a raw NUL byte is a damaged or binary file
                yield InputProblem(number, RAW_NUL)
            elif text.strip():
                yield _item(number, text, None, {}, max_chars)
