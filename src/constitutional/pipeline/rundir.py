"""Files of a run directory: the manifest (run.json) and the append-only records.jsonl."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from constitutional.errors import UserError

SCHEMA_VERSION = 1


def read_json(path: Path, fix: str) -> dict:
    """A JSON file of the run directory; one that cannot be read is a UserError saying how to fix it."""
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}", fix=fix) from None


def write_json_atomic(path: Path, data: dict) -> None:
    write_atomic(path, [json.dumps(data, indent=2, ensure_ascii=False), "\n"])


def write_atomic(path: Path, pieces: Iterable[str]) -> None:
    """Write via a temporary file and rename, so a crash, or an error while the pieces are made, never leaves a
    half-written file: the file is whole, or as it was before."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.writelines(pieces)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def torn_write(line: str) -> bool:
    """Whether a JSONL line is a record a crash cut off mid-write: the last line, without its newline, not JSON."""
    if line.endswith("\n"):
        return False
    try:
        json.loads(line)
    except ValueError:
        return True
    return False


class RecordWriter:
    """Appends one JSON line per record, flushed and fsynced, so each finished record survives a crash."""

    def __init__(self, path: Path):
        self.path = path
        self._fh = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, data: dict) -> None:
        line = json.dumps(data, ensure_ascii=False) + "\n"
        with self._lock:  # one whole line at a time
            self._fh.write(line)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    async def awrite(self, data: dict) -> None:
        """Write from a worker thread, so a slow disk never stalls the calls in flight."""
        await asyncio.to_thread(self.write, data)

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def read_jsonl(path: Path):
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)
