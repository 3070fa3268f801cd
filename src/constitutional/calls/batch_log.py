"""DIR/batches.json: every provider batch a run directory's calls went in, so that a restarted process submits nothing
twice.

    {"version": 2, "roles": {"model": [BATCH, ...], "judge": [BATCH, ...]}}
    BATCH: {"id": "batch_…" (null until the provider made it), "status": "submitting" | "submitted" | "ended" |
            "fetched", "provider_status": "completed", "requests": 4, "custom_ids": ["3f2a…", ...],
            and what the provider's `submit` saves to find a batch made by a process that died before saving its id}

A custom id is its request's reply-cache key, so the same request has the same id in every process: resuming goes by
content. A batch is saved with its custom ids before the provider is asked to make it, and is "fetched" once its
results have been read. Each role (the run's model, the eval's judge) has its own section, and a log writes only
its own: at every save the file is read again and written whole, atomically, so two logs of one file never undo
each other's batches. A file of version 1 (batches by numbered wave) is kept under "version_1" and not resumed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from constitutional.rundir import read_json, write_json_atomic

if TYPE_CHECKING:
    from pathlib import Path

VERSION = 2
UNREADABLE_FIX = "delete it to submit again what is unfinished"


class BatchLog:
    """One role's section of DIR/batches.json: its batches, oldest first."""

    def __init__(self, path: Path, role: str):
        self.path = path
        self.role = role
        data = self._read()
        self.older = "version_1" in data  # a file written before resuming went by content
        self.batches: list[dict] = data["roles"].get(role, [])

    def unfetched(self) -> list[dict]:
        """The batches whose results no process has read: a restarted process waits for them and reads them."""
        return [batch for batch in self.batches if batch["status"] != "fetched"]

    def add(self, batch: dict) -> None:
        self.batches.append(batch)
        self.save()

    def drop(self, batch: dict) -> None:
        """Forget a batch that was never made (its submission failed, or the process died before the provider had it)."""
        self.batches.remove(batch)
        self.save()

    def save(self) -> None:
        data = self._read()
        data["roles"][self.role] = self.batches
        write_json_atomic(self.path, data)

    def _read(self) -> dict:
        if not self.path.exists():
            return {"version": VERSION, "roles": {}}
        data = read_json(self.path, fix=UNREADABLE_FIX)
        if data.get("version") == VERSION:
            return data
        return {"version": VERSION, "roles": {}, "version_1": data}
