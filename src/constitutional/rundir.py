"""Files of a run directory: the manifest (run.json) and the append-only records.jsonl.

Nothing here follows a symlink it did not make, or writes over anything but a regular file: a symlink, a named pipe,
a device or a socket standing at a run directory's file (or an `-o` path) is refused, naming it (`refuse_special`)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import stat
import sys
import tempfile
import threading
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, TextIO

from constitutional.errors import UserError, json_problem
from constitutional.manifest import check_manifest

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

SCHEMA_VERSION = 1
# The files cai keeps in a run directory (run.lock and labels.jsonl are also opened with O_NOFOLLOW where they are used).
RUN_FILES = ("run.json", "records.jsonl", "eval.jsonl", "report.json", "report.html", "labels.jsonl", "batches.json")
_KINDS = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}
_STREAMS = ("a named pipe (FIFO)", "a character device")  # what `-o` may name to be written into, not replaced
MAX_JSON_DEPTH = 100  # deeper lines are refused: Python's recursion limit, and every later json.dumps, trip over them
DEPTH_FIX = f"nest lists and objects at most {MAX_JSON_DEPTH} levels deep"
NUMBER_FIX = "write a number that long as a string, in quotes, or shorten it"
FINITE_FIX = "write a finite number (JSON has no infinity or NaN; a number like 1e999 reads as infinity)"


def read_json(path: Path, fix: str) -> dict:
    """A JSON object of the run directory; one that cannot be read is a UserError saying how to fix it, and so is a
    run.json of the wrong shape (a list, a field of the wrong type), whoever reads it."""
    try:
        data = parse_json(path.read_text("utf-8", errors="surrogateescape"))
    except json.JSONDecodeError as exc:  # bad syntax, nesting too deep, a number too long
        raise UserError(f"cannot read {path.name}: {json_problem(exc)}", where=f"{path}:{exc.lineno}", fix=fix) from None
    except (OSError, ValueError) as exc:  # no such file or no permission; bytes that are not UTF-8
        raise UserError(f"cannot read {path}: {exc}", fix=fix) from None
    if path.name == "run.json":
        return check_manifest(data, path)
    if not isinstance(data, dict):
        raise UserError(f"{path} holds JSON that is not an object", fix=fix)
    return data


def special_kind(path: Path) -> str | None:
    """What stands at `path` if it is something cai must not open or replace as a file: "a symbolic link", "a named pipe
    (FIFO)", "a character device", "a block device" or "a socket"; None for a regular file, a folder (refused where
    it is opened) or nothing."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return _KINDS.get(stat.S_IFMT(mode), "a socket")


def special_file(path: Path, kind: str) -> UserError:
    """The error for `kind` (see special_kind) standing at `path`, where cai writes a regular file."""
    if kind == "a symbolic link":
        return UserError(
            f"{path} is a symbolic link: cai never writes through, or over, a link it did not make",
            fix="delete the link (what it points to is left alone) or name the file itself, then rerun",
        )
    return UserError(f"{path} is {kind}, not a regular file", fix="move it away (or choose another path), then rerun")


def refuse_special(path: Path) -> None:
    """Refuse (UserError, exit 2) a symlink, named pipe, device or socket at `path`: cai opens and replaces only
    regular files there. A regular file, a folder and a new path pass."""
    kind = special_kind(path)
    if kind is not None:
        raise special_file(path, kind)


def check_run_files(folder: Path) -> None:
    """Before any work: refuse a run directory where one of cai's files (RUN_FILES) is a symlink, a pipe or a device,
    rather than following it (or failing on it once the work is done)."""
    for name in RUN_FILES:
        refuse_special(folder / name)


def open_regular(path: Path, flags: int) -> int:
    """os.open of a file of a run directory that is a regular file or new: O_NOFOLLOW, so a symlink planted at its
    name is refused rather than followed, and O_NONBLOCK while it is checked, so a named pipe planted there cannot
    hang the open. Anything but a regular file is a UserError naming it."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    except OSError:
        kind = special_kind(path)
        if kind is not None:  # ELOOP (a symlink), ENXIO (a pipe nobody reads)
            raise special_file(path, kind) from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise special_file(path, _KINDS.get(stat.S_IFMT(mode), "a socket"))
    os.set_blocking(fd, True)
    return fd


def write_json_atomic(path: Path, data: dict) -> None:
    write_atomic(path, [json.dumps(data, indent=2, ensure_ascii=False), "\n"])


def write_atomic(path: Path, pieces: Iterable[str]) -> None:
    """Write `pieces` to `path` whole, or leave it as it was (see atomic_file)."""
    with atomic_file(path) as fh:
        fh.writelines(pieces)


def write_output(path: Path, pieces: Iterable[str]) -> None:
    """Write a file named on the command line (`-o`): a named pipe or a character device (/dev/null, a terminal, a pipe
    a reader waits on; also through a symlink such as /dev/stdout, as the user named it) is written into, as a shell's
    `>` would, since renaming over it would break it and its reader would get nothing; anything else as write_atomic
    (a regular file replaced whole; a symlink to anything but a stream, a block device or a socket refused)."""
    fd = _open_stream(path)
    if fd is None:
        write_atomic(path, pieces)
        return
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.writelines(pieces)


def _open_stream(path: Path) -> int | None:
    """`path` opened for writing if it is a named pipe or a character device, or a symlink to one; None for anything
    else. Opening a pipe waits for its reader, as a shell's `>` does."""
    kind, flags = special_kind(path), os.O_WRONLY | os.O_CLOEXEC
    try:
        if kind == "a symbolic link" and not _is_stream(os.stat(path).st_mode):
            return None
    except OSError:  # a dangling link
        return None
    if kind in _STREAMS:
        flags |= os.O_NOFOLLOW
    elif kind != "a symbolic link":
        return None
    fd = os.open(path, flags)
    if _is_stream(os.fstat(fd).st_mode):
        return fd
    os.close(fd)  # replaced meanwhile (a regular file): written as any other
    return None


def _is_stream(mode: int) -> bool:
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


@contextmanager
def atomic_file(path: Path) -> Iterator[TextIO]:
    """A text file to write that replaces `path` only once it is whole: a crash, or an error while it is written,
    leaves `path` as it was. The temporary file is made by mkstemp in the same directory (a new name, opened with
    O_EXCL, so a file or symlink planted there is never followed or overwritten), then renamed over `path`. Only a
    regular file is replaced: a symlink, pipe or device at `path` is refused (`refuse_special`), before and after."""
    refuse_special(path)
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        _naming(exc, path)
        raise
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes it 0600; give it the mode a plain open would
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        refuse_special(path)  # planted while the file was written
        os.replace(name, path)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(name)
        if isinstance(exc, OSError) and exc.filename in (None, name):
            _naming(exc, path)
        raise
    _sync_directory(path.parent)


def _naming(exc: OSError, path: Path) -> OSError:
    """`exc` naming the file being written (a full disk fails a write that names no file; mkstemp names its temporary),
    so the message a user sees says which file could not be written."""
    exc.filename = str(path)
    return exc


def _sync_directory(folder: Path) -> None:
    """Make a rename in `folder` survive a power cut; where a directory cannot be opened, the rename still stands."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _current_umask() -> int:
    mask = os.umask(0o022)  # read once, at import, before any thread could be creating files
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def torn_write(line: str) -> bool:
    """Whether a JSONL line is a record a crash cut off mid-write: the last line, without its newline, not JSON."""
    if line.endswith("\n"):
        return False
    try:
        parse_json(line)
    except JSONLimitError:  # whole, but beyond the limits: a bad line, not a torn one
        return False
    except ValueError:
        return True
    return False


class RecordWriter:
    """Appends one JSON line per record, flushed and fsynced, so each finished record survives a crash."""

    def __init__(self, path: Path):
        self.path = path
        self._fh = os.fdopen(open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "a", encoding="utf-8")
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


def read_jsonl(path: Path, fix: str) -> Iterator[Any]:
    """The values of a JSONL file, one a line (blank lines skipped); a line that cannot be read is a UserError naming it."""
    with path.open(encoding="utf-8", errors="surrogateescape") as fh:  # bytes not UTF-8: parse_json names the line
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield parse_json(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"not a JSON line: {json_problem(exc)}", where=f"{path}:{number}", fix=fix) from None


class JSONLimitError(json.JSONDecodeError):
    """JSON that may be well formed but is not read: nested deeper than the limit, or an integer of more digits than
    Python converts. A JSONDecodeError (so a ValueError), with the line and column of the spot, and how to fix it."""

    def __init__(self, msg: str, doc: str, pos: int, fix: str = "repair the file"):
        super().__init__(msg, doc, pos)
        self.fix = fix


UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, as errors="surrogateescape" reads them
# what the limits look for: a string (skipped whole), an opening or closing bracket, or an integer's digits
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]|[\]}]|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|-?Infinity|NaN')


def _no_constant(name: str) -> float:
    """NaN, Infinity and -Infinity, which json.loads takes although JSON has none: refused."""
    raise ValueError(name)


def parse_json(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """One JSON value, as json.loads, whose every failure is a json.JSONDecodeError with the line and column of the
    problem: bad syntax; bytes that were not UTF-8 (read with errors="surrogateescape"); a value nested deeper than
    `max_depth` (json.loads would run out of recursion on 100,000 brackets, and every later json.dumps trips over deep
    values); an integer longer than Python converts (4,300 digits: json.loads raises a bare ValueError)."""
    undecoded = UNDECODED.search(text)
    if undecoded:
        raise json.JSONDecodeError("bytes that are not UTF-8 (re-save the file as UTF-8)", text, undecoded.start())
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError):
        raise _beyond_limits(text, max_depth) from None
    if text.count("[") + text.count("{") > max_depth:  # with fewer brackets it cannot nest deeper
        stack = [(value, 1)]
        while stack:
            node, depth = stack.pop()
            if isinstance(node, (dict, list)):
                if depth > max_depth:
                    raise _beyond_limits(text, max_depth)
                stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    try:  # a number too large for a float (1e999) was read as infinity: json.dumps finds one at C speed
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise _beyond_limits(text, max_depth) from None
    return value


def _beyond_limits(text: str, max_depth: int) -> json.JSONDecodeError:
    """The first spot of `text` past the limits of parse_json, as a JSONLimitError that says which limit."""
    max_digits = sys.get_int_max_str_digits() or sys.maxsize
    depth = 0
    for token in _JSON_TOKENS.finditer(text):
        first = token.group()[0]
        if first in "[{":
            depth += 1
            if depth > max_depth:
                fix = DEPTH_FIX.replace(str(MAX_JSON_DEPTH), str(max_depth))
                return JSONLimitError(f"JSON nested deeper than {max_depth} levels", text, token.start(), fix)
        elif first in "]}":
            depth -= 1
        elif first != '"' and not any(c in token.group() for c in ".eE") and len(token.group().lstrip("-")) > max_digits:
            return JSONLimitError(f"a number of more than {max_digits:,} digits", text, token.start(), NUMBER_FIX)
        elif first != '"' and (any(c in token.group() for c in ".eEIN")) and not math.isfinite(float(token.group())):
            return JSONLimitError(f"a number that is not finite ({token.group()[:20]})", text, token.start(), FINITE_FIX)
    return JSONLimitError("JSON that cannot be read", text, 0, "repair the file")
