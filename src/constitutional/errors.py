"""Errors a user can act on. Each carries where the problem is and how to fix it."""

from __future__ import annotations

import difflib
import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import json
    from collections.abc import Iterable


class UserError(Exception):
    """Bad input or usage: the CLI prints it without a traceback and exits 2."""

    def __init__(self, problem: str, *, where: str | None = None, fix: str | None = None):
        self.problem = problem
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.where}: {self.problem}" if self.where else self.problem
        return f"{head}\n  fix: {self.fix}" if self.fix else head


CHECKOUT = Path(__file__).resolve().parents[2]  # the folder above src/ when run from a checkout


def install_fix(extra: str, checkout: Path = CHECKOUT) -> str:
    """How to install an optional part (an extra of pyproject.toml): `bash scripts/install EXTRA` in the `checkout`
    this package runs from (the folder above src/), else pip's form of it (an installed wheel)."""
    if (checkout / "scripts" / "install").is_file() and (checkout / "pyproject.toml").is_file():
        return f"bash {checkout / 'scripts' / 'install'} {extra}"
    return f"pip install 'constitutional[{extra}]'"


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The one of `choices` closest to `word` (a likely typo of it), or None when none is close."""
    found = difflib.get_close_matches(word, list(choices), n=1)
    return found[0] if found else None


def did_you_mean(suggestion: str | None, fix: str) -> str:
    """`fix`, led by "did you mean 'SUGGESTION'?" when there is a suggestion."""
    return f"did you mean '{suggestion}'? If not, {fix}" if suggestion else fix


def require_exists(path: Path, what: str, fix: str) -> None:
    """Refuse a path that does not exist: 'WHAT PATH does not exist', naming the first folder on the way that is
    missing, and suggesting the path meant when one name on the way was mistyped."""
    if path.exists():
        return
    first_missing = next(p for p in [*reversed(path.parents), path] if not p.exists())
    problem = f"{what} {path} does not exist"
    if first_missing != path:
        problem += f" (there is no folder {first_missing})"
    try:
        close = nearest(first_missing.name, os.listdir(first_missing.parent))
    except OSError:
        close = None
    suggestion = first_missing.parent / close / path.relative_to(first_missing) if close else None
    raise UserError(problem, fix=did_you_mean(str(suggestion) if suggestion and suggestion.exists() else None, fix))


def json_problem(exc: json.JSONDecodeError) -> str:
    """JSON's own message and the column, for an error that names the file and line: "Expecting ',' delimiter at
    column 25". Some of its messages end in 'at' ("Unterminated string starting at"), which is not said twice."""
    return f"{exc.msg.removesuffix(' at')} at column {exc.colno}"


_OS_FIXES = {
    errno.ENOSPC: "free disk space on that file system",
    errno.EDQUOT: "free space within your disk quota",
    errno.EROFS: "the file system is read-only: make it writable again",
    errno.EACCES: "give yourself permission on the file and its folder (chmod u+rw)",
    errno.EPERM: "give yourself permission on the file and its folder (chmod u+rw)",
    errno.EISDIR: "a directory stands where that file belongs: move it away",
    errno.ENOTDIR: "a file stands where a folder of that path belongs: move it away",
    errno.ENOENT: "the file or its folder is gone: check the path",
    errno.ELOOP: "a symbolic link stands where that file belongs, and cai does not follow it there: delete the link",
}


def os_failure(exc: OSError, doing: str = "cannot use", path: object = None, then: str = "rerun the same command") -> UserError:
    """An operating-system failure (a full disk, a read-only or unwritable folder, a directory where a file belongs) as a
    UserError saying what failed, on which file, and how to fix it: "cannot write DIR/eval.jsonl: No space left on
    device", fix "free disk space on that file system, then rerun the same command"."""
    where = exc.filename if exc.filename is not None else path
    head = f"{doing} {where}" if where is not None else doing
    fallback = "check the path, its permissions and the free disk space"
    fix = _OS_FIXES.get(exc.errno, fallback) if exc.errno is not None else fallback
    return UserError(f"{head}: {exc.strerror or exc}", fix=f"{fix}, then {then}")
