"""People's verdicts (`cai review`): DIR/labels.jsonl, append-only; the latest line per (id, principle) wins and an
"undo" line takes back that key's latest decision. Also how far the eval agrees with them."""

from __future__ import annotations

import fcntl
import getpass
import json
import os
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from constitutional.errors import UserError, json_problem
from constitutional.evals.agreement import confusion, per_verdict
from constitutional.evals.lines import UNDECIDED, VERDICTS, EvalLine, read_eval_lines
from constitutional.evals.report_model import LabelsSummary, Report
from constitutional.rundir import parse_json, torn_write, write_json_atomic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

LABELS_FILE = "labels.jsonl"
UNDO = "undo"
LABEL_VERDICTS = (*(v for v in VERDICTS if v != UNDECIDED), UNDO)  # a person's verdict decides

Key = tuple[str, "str | None"]


def default_reviewer() -> str:
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # noqa: BLE001 - no user name in the environment or the password database
        return "unknown"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Label(BaseModel):
    """One line of labels.jsonl: a person's verdict on a record (principle None) or on one principle of it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    verdict: str
    principle: str | None = None
    note: str | None = None
    reviewer: str = Field(default_factory=default_reviewer)
    time: str = Field(default_factory=_now)

    @field_validator("verdict")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in LABEL_VERDICTS:
            raise ValueError(f"unknown verdict {value!r}; a verdict is one of: {', '.join(LABEL_VERDICTS)}")
        return value

    @property
    def key(self) -> Key:
        return self.id, self.principle


@contextmanager
def labels_lock(run_dir: Path, create: bool = True) -> Iterator[int | None]:
    """DIR/labels.jsonl open for appending, under an exclusive `flock`: the one lock for appending labels and for
    writing what is made from them (report.json's `labels`, report.html), so that what those files show never leaves
    out a label appended meanwhile. With `create` False, a labels.jsonl that is absent (or cannot be opened) is not
    made, and nothing is locked (None)."""
    path = Path(run_dir) / LABELS_FILE
    try:
        fd = os.open(path, (os.O_RDWR | os.O_APPEND | os.O_CREAT if create else os.O_RDONLY) | os.O_NOFOLLOW, 0o644)
    except OSError:
        if create:
            raise
        yield None
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def append_label(run_dir: Path, label: Label, then: Callable[[], object] | None = None) -> None:
    """Append one line to DIR/labels.jsonl under its lock (`labels_lock`), flushed to disk; then, still holding the
    lock, call `then` (which brings report.json and report.html up to date). Never rewrites the file."""
    data = (json.dumps(label.model_dump(exclude_none=True), ensure_ascii=False) + "\n").encode("utf-8")
    with labels_lock(run_dir) as fd:
        assert fd is not None  # created when absent
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # a line cut off by a crash stays its own (bad) line; this one stays whole
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        if then is not None:
            then()


def read_labels(run_dir: Path) -> dict[Key, Label]:
    """DIR/labels.jsonl's decisions in force (see read_labels_file); none when there is no such file."""
    return read_labels_file(Path(run_dir) / LABELS_FILE)


def read_labels_file(path: Path) -> dict[Key, Label]:
    """The decision in force per (id, principle): lines replayed in order, "undo" popping the key's latest one
    (restoring the one before it). A torn last line (no newline, not JSON: a crash mid-write) is ignored."""
    if not path.is_file():
        return {}
    stacks: dict[Key, list[Label]] = {}
    for label in _parse(path):
        stack = stacks.setdefault(label.key, [])
        if label.verdict == UNDO:
            if stack:
                stack.pop()
        else:
            stack.append(label)
    return {key: stack[-1] for key, stack in stacks.items() if stack}


def _parse(path: Path) -> Iterable[Label]:
    with path.open(encoding="utf-8", errors="surrogateescape") as handle:  # bytes not UTF-8: parse_json names the line
        lines = handle.readlines()
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = parse_json(text)
        except json.JSONDecodeError as exc:  # bad JSON, nested too deeply, a number too long
            if number == len(lines) and torn_write(text):
                return  # torn last line
            raise UserError(
                f"invalid JSON in labels line: {json_problem(exc)}",
                where=where,
                fix="delete that line (a write cut off by a crash leaves one); the other labels are kept",
            ) from None
        try:
            yield Label.model_validate(data)
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())
            raise UserError(f"bad labels line: {problem}", where=where, fix="repair or delete that line") from None


def record_verdicts(labels: dict[Key, Label]) -> dict[str, str]:
    """id -> the human verdict on the whole record (principle labels left aside)."""
    return {rid: label.verdict for (rid, principle), label in labels.items() if principle is None}


def agreement(eval_lines: Iterable[EvalLine], labels: dict[Key, Label]) -> LabelsSummary:
    """report.json's `labels` block: counts, and the eval's verdicts against people's on the labelled records."""
    human = record_verdicts(labels)
    latest = {line.id: line for line in eval_lines}  # a later eval line for an id replaces the earlier one
    pairs: list[tuple[str, str]] = [(human[rid], line.verdict) for rid, line in latest.items() if rid in human]
    remaining = sum(line.needs_review for rid, line in latest.items() if rid not in human)
    table = confusion(pairs)
    return LabelsSummary.model_validate(
        {
            "labelled": len(pairs),
            "needs_review_remaining": remaining,
            "agreement": {
                "agrees": sum(a == b for a, b in pairs),
                "confusion": table,
                "per_verdict": {v: {"precision": r["precision"], "recall": r["recall"]} for v, r in per_verdict(table).items()},
            },
        }
    )


def relabel(out: Path, lines: Iterable[EvalLine] | None = None) -> bool:
    """Write out/report.json again with the `labels` block labels.jsonl gives now, people having labelled records
    since the eval (`cai review`); `lines`: the eval lines, when the caller has them. Call it holding `labels_lock`,
    so that no label appended meanwhile is left out. False (nothing written) when there is no readable report.json."""
    path = out / "report.json"
    try:
        report = Report.model_validate_json(path.read_bytes())
    except (OSError, ValueError):  # missing, or not a report: `cai report` says so, and how to write it again
        return False
    if lines is None:
        lines = read_eval_lines(out / "eval.jsonl") if (out / "eval.jsonl").is_file() else ()
    report.set_labels(agreement(lines, read_labels(out)))
    write_json_atomic(path, report.to_dict())
    return True


def summary_line(block: LabelsSummary) -> str:
    """One line for the terminal and Markdown reports."""
    return block.summary_line()
