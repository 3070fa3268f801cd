"""Resuming a run directory: repair a torn last line, find finished ids, refuse a changed job."""

from __future__ import annotations

import json
import os
from pathlib import Path

from constitutional.errors import UserError
from constitutional.pipeline.rundir import read_json

# What must match for records from before and after a resume to belong to one job.
JOB_KEYS = ("constitution.sha256", "model", "judge", "parameters.rounds", "parameters.principles",
            "parameters.seed", "parameters.max_tokens")


def job_fingerprint(manifest: dict) -> dict:
    out = {}
    for key in JOB_KEYS:
        value = manifest
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


def repair_and_read_ids(records: Path) -> tuple[set[str], int]:
    """Truncate a torn (unterminated) last line left by a crash; return the ids present and the bytes cut."""
    if not records.exists():
        return set(), 0
    with records.open("rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        cut = 0
        if size:
            fh.seek(max(0, size - 1))
            if fh.read(1) != b"\n":
                data_end = _last_newline(fh, size)
                fh.truncate(data_end)
                fh.flush()
                os.fsync(fh.fileno())
                cut = size - data_end
    ids: set[str] = set()
    with records.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                ids.add(json.loads(line)["id"])
            except (ValueError, KeyError, TypeError):
                raise UserError(f"line {number} of {records} is not a record", where=str(records),
                                fix="remove that line (a backup first), then rerun to resume") from None
    return ids, cut


def _last_newline(fh, size: int) -> int:
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
