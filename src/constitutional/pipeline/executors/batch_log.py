"""DIR/batches.json: what a restarted batch run needs to submit nothing twice."""

from __future__ import annotations

from pathlib import Path

from constitutional.errors import UserError
from constitutional.pipeline.loop import Call
from constitutional.pipeline.rundir import read_json, write_json_atomic


class BatchLog:
    """DIR/batches.json: the job's prompt ids, and per wave its batches (id, requests, status)."""

    def __init__(self, path: Path, model: str, prompt_ids: list[str]):
        self.path = path
        self.data = {"version": 1, "model": model, "prompt_ids": prompt_ids, "finished": False, "waves": []}

    @classmethod
    def resume(cls, path: Path, model: str) -> "BatchLog | None":
        """The unfinished job saved at `path` for `model`, or None."""
        if not path.exists():
            return None
        data = read_json(path, fix="delete it to resubmit the unfinished batches")
        if data.get("finished") or data.get("model") != model:
            return None
        log = cls(path, model, data["prompt_ids"])
        log.data = data
        return log

    @property
    def prompt_ids(self) -> list[str]:
        return self.data["prompt_ids"]

    def wave(self, number: int, calls: dict[str, Call]) -> dict:
        waves = self.data["waves"]
        if number == len(waves):
            stages = sorted({c.stage for c in calls.values()})
            waves.append({"wave": number, "stages": stages, "requests": len(calls), "batches": []})
        if waves[number]["requests"] != len(calls):
            raise UserError(f"wave {number + 1} was submitted with {waves[number]['requests']} requests, but the job "
                            f"now makes {len(calls)}: the prompts or the constitution changed", where=str(self.path),
                            fix="restore them and rerun, or delete batches.json to submit the unfinished prompts again")
        return waves[number]

    def save(self) -> None:
        write_json_atomic(self.path, self.data)
