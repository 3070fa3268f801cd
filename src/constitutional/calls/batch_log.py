"""DIR/batches.json: what a restarted batch run needs to submit nothing twice."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from constitutional.errors import UserError
from constitutional.rundir import read_json, write_json_atomic

if TYPE_CHECKING:
    from pathlib import Path

    from constitutional.calls.request import Call

UNREADABLE_FIX = "delete it to resubmit the unfinished batches"


class BatchLog:
    """DIR/batches.json: the run's job (its prompt ids, and per wave its batches: id, requests, status) and,
    under "judge", the eval judge's job (its model and waves). `job` is the part this log runs."""

    def __init__(self, path: Path, data: dict, job: dict, made_from: str = "the prompts or the constitution"):
        self.path = path
        self.data = data
        self.job = job
        self.made_from = made_from  # what a job's waves change with, for the message when they did

    @classmethod
    def start(cls, path: Path, model: str, prompt_ids: list[str]) -> BatchLog:
        """A new run job; it replaces the whole file, the judge's job of earlier records included."""
        data = {"version": 1, "model": model, "prompt_ids": prompt_ids, "finished": False, "waves": []}
        return cls(path, data, data)

    @classmethod
    def resume(cls, path: Path, model: str) -> BatchLog | None:
        """The unfinished run job saved at `path` for `model`, or None."""
        if not path.exists():
            return None
        data = read_json(path, fix=UNREADABLE_FIX)
        if data.get("finished") or data.get("model") != model:
            return None
        return cls(path, data, data)

    @classmethod
    def judge(cls, path: Path, model: str) -> BatchLog:
        """The judge's unfinished job saved for `model`, else a new one; the rest of the file is kept."""
        data: dict = read_json(path, fix=UNREADABLE_FIX) if path.exists() else {"version": 1}
        job = data.get("judge")
        if not job or job["finished"] or job["model"] != model:
            job = data["judge"] = {"model": model, "finished": False, "waves": []}
        return cls(path, data, job, made_from="the records, the constitution or the reply cache (--no-cache)")

    @property
    def prompt_ids(self) -> list[str]:
        return self.job["prompt_ids"]

    def wave(self, number: int, calls: dict[str, Call]) -> dict:
        waves = self.job["waves"]
        ids = _digest(calls)
        if number == len(waves):
            stages = sorted({c.stage for c in calls.values()})
            waves.append({"wave": number, "stages": stages, "requests": len(calls), "ids": ids, "batches": []})
        if waves[number]["requests"] != len(calls) or waves[number].get("ids", ids) != ids:
            raise UserError(
                f"wave {number + 1} differs from the one submitted ({waves[number]['requests']} requests then, "
                f"{len(calls)} now): {self.made_from} changed",
                where=str(self.path),
                fix="restore them and rerun, or delete batches.json to submit what is unfinished again",
            )
        return waves[number]

    def finish(self) -> None:
        self.job["finished"] = True
        self.save()

    def save(self) -> None:
        write_json_atomic(self.path, self.data)


def _digest(calls: dict[str, Call]) -> str:
    """Which custom ids a wave has: the judge's name their call's content, so this tells a changed call."""
    return hashlib.sha256("\n".join(sorted(calls)).encode()).hexdigest()[:16]
