"""Resuming a run directory: repair a torn last line, find finished ids, refuse a changed job."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from pydantic import ValidationError

from constitutional.errors import UserError, json_problem, os_failure
from constitutional.models.structured import describe_error
from constitutional.record import Record
from constitutional.rundir import atomic_file, open_regular, parse_json, read_json

if TYPE_CHECKING:
    from pathlib import Path

# What must match for records from before and after a resume to belong to one job.
JOB_KEYS = (
    "constitution.sha256",
    "model",
    "judge",
    "parameters.rounds",
    "parameters.principles",
    "parameters.seed",
    "parameters.max_tokens",
)


def job_fingerprint(manifest: dict) -> dict:
    out = {}
    for key in JOB_KEYS:
        value: object = manifest
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        out[key] = value
    return out


def check_same_job(out: Path, new_manifest: dict, force: bool) -> dict | None:
    """Return the previous manifest, or None for a new run. Raise if the job changed and not --force."""
    path = out / "run.json"
    if not path.exists():
        return None
    old = read_json(path, fix="choose a new --out, or delete that directory")
    before, after = job_fingerprint(old), job_fingerprint(new_manifest)
    changed = [f"{k}: {before[k]!r} → {after[k]!r}" for k in JOB_KEYS if before[k] != after[k]]
    if changed and not force:
        raise UserError(
            f"{out} holds a run of a different job, so it cannot be resumed:\n  " + "\n  ".join(changed),
            fix="rerun with the original options, choose a new --out, or pass --force to resume anyway "
            "(records already written keep their old settings)",
        )
    return old


@dataclass
class Written:
    """What records.jsonl holds when a run starts: every id, the ids of records that ended with an error, the
    bytes of a torn last line cut off, and the lines that repeat an id (two writers at once, before runs locked)."""

    ids: set[str] = field(default_factory=set)
    errored: set[str] = field(default_factory=set)
    bytes_cut: int = 0
    duplicates: int = 0


def repair_and_read_ids(records: Path) -> Written:
    """Truncate a torn (unterminated) last line left by a crash; return what the file holds (see Written). The first
    line of an id is its record; `rewrite_records` drops the lines that repeat it."""
    if not records.exists():
        return Written()
    try:
        return _repair_and_read(records)
    except OSError as exc:  # a directory in its place, no permission to read it or to cut a torn line
        raise os_failure(exc, "cannot read and repair", records, then="rerun the same command to resume") from None


def _repair_and_read(records: Path) -> Written:
    written = Written(bytes_cut=_cut_torn_tail(records))
    with records.open(encoding="utf-8", errors="surrogateescape") as fh:  # bytes not UTF-8: parse_json names the line
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            record = _record(line, f"{records}:{number}")
            if record.id in written.ids:
                written.duplicates += 1
                continue
            written.ids.add(record.id)
            if record.error is not None:
                written.errored.add(record.id)
    return written


def _record(line: str, where: str) -> Record:
    """A line of records.jsonl as a Record (the totals and the eval read it as one); one that is not is a UserError."""
    try:
        return Record.model_validate(parse_json(line))
    except json.JSONDecodeError as exc:  # not JSON, bytes not UTF-8, nested too deeply, a number too long
        why = json_problem(exc)
    except ValidationError as exc:
        why = describe_error(exc)
    raise UserError(
        f"not a record of `cai run`: {why}", where=where, fix="remove that line (a backup first), then rerun to resume"
    )


def rewrite_records(records: Path, drop: set[str]) -> None:
    """Rewrite records.jsonl (whole, or not at all) with the first line of each id, less the records of `drop`, so
    that a resume runs those again and every id has one line."""
    kept: set[str] = set()
    try:
        with records.open(encoding="utf-8", errors="surrogateescape") as old, atomic_file(records) as new:
            for line in old:
                if not line.strip():
                    continue
                record_id = parse_json(line)["id"]  # each line was read as a record before
                if record_id not in drop and record_id not in kept:
                    kept.add(record_id)
                    new.write(line)
    except OSError as exc:
        raise UserError(
            f"cannot rewrite {records}: {exc.strerror or exc}",
            fix="free disk space or fix the directory's permissions, then rerun; records.jsonl is as it was",
        ) from None


def _cut_torn_tail(records: Path) -> int:
    """Cut a torn last line off records.jsonl; the bytes cut. A symlink or pipe planted there is refused, never cut."""
    with os.fdopen(open_regular(records, os.O_RDWR), "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if not size:
            return 0
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        data_end = _last_newline(fh, size)
        fh.truncate(data_end)
        fh.flush()
        os.fsync(fh.fileno())
        return size - data_end


def _last_newline(fh: BinaryIO, size: int) -> int:
    """Offset just past the last b'\\n' in the file (0 if there is none)."""
    block = 1 << 16
    end = size
    while end > 0:
        start = max(0, end - block)
        fh.seek(start)
        chunk = fh.read(end - start)
        index = chunk.rfind(b"\n")
        if index != -1:
            return start + index + 1
        end = start
    return 0
