"""A content-addressed sqlite cache of model replies, shared by every run on the machine.

The key is the sha256 of canonical JSON (sorted keys, no whitespace) of everything that decides a
reply: provider spec, messages, schema, sampling parameters and the sample index. Writers in many
processes are safe: sqlite's WAL journal serialises them and readers never block.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from pathlib import Path

import platformdirs

from constitutional.errors import UserError
from constitutional.models.http_errors import is_empty
from constitutional.rundir import parse_json
from constitutional.settings import CACHE_DIR_ENV, read_settings

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    return read_settings().cache_dir or Path(platformdirs.user_cache_dir("constitutional"))


def canonical_json(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(spec: str, messages: list[dict], schema: dict | None, params: dict) -> str:
    payload = {"spec": spec, "messages": messages, "schema": schema, "params": params}
    return hashlib.sha256(canonical_json(payload).encode("utf-8", "surrogatepass")).hexdigest()


class ReplyCache:
    def __init__(self, directory: Path | None = None):
        directory = directory or default_cache_dir()
        self.path = directory / "replies.sqlite"
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # replies hold prompts: private to the user
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            _set_up(self._db)
            _private(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise UserError(
                f"cannot use the cache at {self.path}: {exc}",
                fix=f"set {CACHE_DIR_ENV} or --cache-dir to a writable directory, or pass --no-cache",
            ) from None

        self.failed: str | None = None

    def get(self, key: str) -> dict | None:
        if self.failed:
            return None
        try:
            row = self._db.execute("SELECT value FROM replies WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)
            return None
        if not row:
            return None
        try:
            value = parse_json(row[0])
        except (ValueError, TypeError):  # a cache file damaged, or written by something else: no answer
            return None
        return (
            None if not isinstance(value, dict) or _empty(value) else value
        )  # an empty reply cached by an older version is no answer

    def put(self, key: str, value: dict) -> None:
        if self.failed or _empty(value):  # an empty reply is a failed call, never an answer to replay
            return
        try:
            self._db.execute("INSERT OR REPLACE INTO replies (key, value) VALUES (?, ?)", (key, canonical_json(value)))
        except sqlite3.Error as exc:
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        # A cache that stops working (full disk, say) costs repeat calls later, never the job.
        self.failed = str(exc)
        log.warning("reply cache at %s disabled for the rest of this run: %s", self.path, exc)

    def close(self) -> None:
        self._db.close()


def _private(path: Path) -> None:
    """The cache and its journal files readable by the user alone (0600), whatever the umask made them: the replies
    hold prompts and answers."""
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        try:
            (path.parent / name).chmod(0o600)
        except FileNotFoundError:
            pass


def _set_up(db: sqlite3.Connection, attempts: int = 100) -> None:
    """WAL mode and the table. Switching to WAL takes a lock the busy timeout does not wait for, so processes that
    open a new cache at the same moment retry it briefly."""
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _empty(value: object) -> bool:
    """A cached value {text, parsed} that holds no reply."""
    return not isinstance(value, dict) or is_empty(str(value.get("text") or ""), value.get("parsed"))
