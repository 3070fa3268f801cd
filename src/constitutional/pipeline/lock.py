"""One writer per run directory: an exclusive lock on the directory DIR itself, with DIR/run.lock naming its holder
(pid and host).

The lock is an flock on the directory (and on run.lock too), so the kernel releases it when its holder dies, however
it dies. Locking the directory rather than only the file means deleting run.lock mid-run lets no second writer in:
a new run.lock would be a new file, unlocked, but the directory is the same one. run.lock stays; it holds the
holder's pid and host while the lock is held, and is emptied on a clean release. A lock that can be taken while
the file still names someone is stale: that process ended without releasing it (kill -9, a crash, a power cut),
and the lock is taken over with a warning.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from constitutional.errors import UserError
from constitutional.rundir import parse_json

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

LOCK_NAME = "run.lock"


class RunLock:
    """The held lock of one run directory; `release()` (or the holder's death) frees it."""

    def __init__(self, fd: int, path: Path, dir_fd: int = -1):
        self.fd = fd
        self.path = path
        self.dir_fd = dir_fd

    def release(self) -> None:
        if self.fd < 0:
            return
        try:
            os.ftruncate(self.fd, 0)  # emptied before it is unlocked: the next holder finds no stale owner
        except OSError:
            pass
        os.close(self.fd)  # closing the only descriptor releases the flock
        self.fd = -1
        if self.dir_fd >= 0:
            os.close(self.dir_fd)  # and the directory's, last
            self.dir_fd = -1

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_run_dir(out: Path, warn: Callable[[str], None]) -> RunLock:
    """Take the lock of DIR (the directory, and DIR/run.lock), or refuse (a UserError naming the holder) when another
    process holds it."""
    dir_fd = _lock_directory(out)
    try:
        return _lock_file(out, warn, dir_fd)
    except BaseException:
        os.close(dir_fd)
        raise


def _lock_directory(out: Path) -> int:
    """An open descriptor of DIR holding its flock. It survives run.lock being deleted: the directory is the same."""
    try:
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise UserError(f"cannot open the run directory {out}: {exc.strerror or exc}", fix="choose a readable --out") from None
    _take(fd, out, out, lambda: _described(_owner_at(out / LOCK_NAME)))
    return fd


def _described(holder: dict | None) -> str:
    return describe(holder) if holder else f"its {LOCK_NAME} was deleted, so its pid is not known"


def _take(fd: int, out: Path, locked: Path, holder: Callable[[], str]) -> None:
    """flock `fd` (open on `locked`, DIR or DIR/run.lock), else close it and refuse: another run holds it (`holder()`
    names that run), or the file system has no locks."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        named = holder()
        os.close(fd)
        raise refused(out, named) from None
    except OSError as exc:
        os.close(fd)
        raise UserError(
            f"cannot lock {locked}: {exc.strerror or exc}", fix="use an --out on a file system that supports locks (a local disk)"
        ) from None


def refused(out: Path, holder: str) -> UserError:
    return UserError(
        f"{out} is being written by another `cai run` ({holder})",
        fix="wait for that run to finish, then rerun this command to resume from what it wrote; or give this one another --out",
    )


def _owner_at(path: Path) -> dict | None:
    """The owner run.lock names, read without creating it or following a symlink; None when it is not there."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _read_owner(fd)
    finally:
        os.close(fd)


def _lock_file(out: Path, warn: Callable[[str], None], dir_fd: int) -> RunLock:
    path = out / LOCK_NAME
    try:
        # O_NOFOLLOW: a symlink planted at the lock's name is refused, never followed.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise UserError(
            f"cannot open the lock file {path}: {exc.strerror or exc}",
            fix="choose a writable --out (if run.lock there is a symlink, delete it)",
        ) from None
    _take(fd, out, path, lambda: describe(_read_owner(fd)))  # only a run that locks just the file (an older cai) holds it
    stale = _read_owner(fd)
    if stale:
        warn(
            f"took over a stale lock on {out}: its holder ({describe(stale)}) ended without releasing it "
            "(killed, or crashed); its records are kept, and this run resumes from them"
        )
    _write_owner(fd)
    return RunLock(fd, path, dir_fd)


def describe(owner: dict | None) -> str:
    """'pid 1234 on host build-7, since 2025-01-31T09:00:00+00:00', as far as the lock file says."""
    if not owner:
        return "a process that has not written its pid yet"
    alive = ""
    if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int) and not _alive(owner["pid"]):
        alive = ", no longer running"
    since = f", since {owner['since']}" if owner.get("since") else ""
    return f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')}{since}{alive}"


def _read_owner(fd: int) -> dict | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, 4096)
    except OSError:
        return None
    if not data.strip():
        return None
    try:
        owner = parse_json(data.decode("utf-8"))
    except ValueError:  # not JSON, nested too deeply, not UTF-8
        return {"pid": "?", "host": "?"}  # something was there: not a clean release
    return owner if isinstance(owner, dict) else {"pid": "?", "host": "?"}


def _write_owner(fd: int) -> None:
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(UTC).isoformat(timespec="seconds")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(owner) + "\n").encode(), 0)
    os.fsync(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, under another user
    return True
