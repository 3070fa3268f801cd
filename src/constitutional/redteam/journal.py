"""Resuming an interrupted red team: job.json says which job a directory holds, and the attempts already in
attempts.jsonl are replayed from the file (the search makes the same choices, so it asks for the same revisions in the
same order), never asked of the eval again."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING

from pydantic import ValidationError

from constitutional.errors import UserError, json_problem
from constitutional.redteam.search import Attempt
from constitutional.rundir import parse_json, read_json, write_atomic, write_json_atomic

if TYPE_CHECKING:
    from pathlib import Path

JOB, ATTEMPTS = "job.json", "attempts.jsonl"
NEW_OUT = "choose a new --out"


def recorded(out: Path, job: dict) -> dict[str, list[Attempt]]:
    """The attempts a run of the same `job` already wrote to `out`, by seed ({} for a new directory, whose job.json
    this writes). A torn last line (a kill mid-write) is cut off; a directory of another job is refused."""
    path, attempts = out / JOB, out / ATTEMPTS
    if not path.exists():
        if attempts.exists() and attempts.stat().st_size:
            raise UserError(f"{out} holds {ATTEMPTS} but no {JOB}, so it cannot be resumed", fix=NEW_OUT)
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, job)
        return {}
    old = read_json(path, fix=f"{NEW_OUT}, or delete that directory")
    changed = [f"{key}: {old.get(key)!r} → {value!r}" for key, value in job.items() if old.get(key) != value]
    if changed:
        raise UserError(
            f"{out} holds a red team of a different job, so it cannot be resumed:\n  " + "\n  ".join(changed),
            fix=f"rerun with the original options, or {NEW_OUT}",
        )
    return _read(attempts) if attempts.exists() else {}


def _read(path: Path) -> dict[str, list[Attempt]]:
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    lines = text.split("\n")
    torn = lines.pop()  # after the last newline: empty, or a line a kill cut off mid-write
    by_seed: dict[str, list[Attempt]] = defaultdict(list)
    for number, line in enumerate(lines, 1):
        if line.strip():
            attempt = _attempt(line, f"{path}:{number}")
            by_seed[attempt.seed].append(attempt)
    if torn:
        write_atomic(path, [line + "\n" for line in lines if line.strip()])
    return dict(by_seed)


def _attempt(line: str, where: str) -> Attempt:
    try:
        return Attempt.model_validate(parse_json(line))
    except json.JSONDecodeError as exc:
        why = json_problem(exc)
    except ValidationError as exc:
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
    raise UserError(f"not an attempt of `cai redteam`: {why}", where=where, fix=f"{NEW_OUT}, or delete that line")
