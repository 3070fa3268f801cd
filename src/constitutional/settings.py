"""Every environment variable cai reads, declared once: `Settings` is the table (name, type, default, meaning).

`read_settings()` reads them all from the environment as it is at that moment (nothing is kept from import time) into a
frozen `Settings`. An empty value counts as unset. A value that cannot be used is a UserError naming the variable, its
value, what is wrong and how to fix it, so the CLI exits 2 (never 3). What a value names (a folder, a file, a scorer)
is checked where it is used, and that message names the variable too.

API keys and base URLs are the providers' (models/api_access.py, models/secrets.py), not settings of ours.
The table of these variables in docs/reference/environment.md is `markdown_table()`, written there by
`python scripts/settings_table.py`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from constitutional.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

CACHE_DIR_ENV = "CONSTITUTIONAL_CACHE_DIR"
RETRY_WAIT_ENV = "CONSTITUTIONAL_RETRY_WAIT"
BATCH_POLL_ENV = "CONSTITUTIONAL_BATCH_POLL_SECONDS"
PRICES_ENV = "CONSTITUTIONAL_PRICES"
SCORER_ENV = "CONSTITUTIONAL_SCORER"
DEBUG_ENV = "CONSTITUTIONAL_DEBUG"
THREADS_ENV = "OMP_NUM_THREADS"
PROGRESS_EVERY_ENV = "CONSTITUTIONAL_PROGRESS_EVERY"

FLAG_ON = ("1", "true", "yes", "on")
FLAG_OFF = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Variable:
    """One row of the table: how the variable's text becomes a value, its default, and what it means."""

    name: str
    parse: Callable[[str], Any]  # the stripped, non-empty text → the value; ValueError("what is wrong") if it cannot
    default: Any
    shown_default: str  # the default as the docs' table says it
    help: str
    fix: str  # how to mend a bad value


def _variable(name: str, parse: Callable[[str], Any], default: Any, help: str, *, fix: str, shown: str | None = None) -> Any:
    """A field of `Settings` read from the environment variable `name`."""
    shown = shown if shown is not None else f"`{default}`"
    return field(default=default, metadata={"variable": Variable(name, parse, default, shown, help, fix)})


def seconds(raw: str, *, zero: bool = True) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("is not a number of seconds") from None
    if not math.isfinite(value):
        raise ValueError("is not a finite number of seconds")
    if value < 0 or (value == 0 and not zero):
        raise ValueError(f"is not a number of seconds {'of 0 or more' if zero else 'above 0'}")
    return value


def positive_seconds(raw: str) -> float:
    return seconds(raw, zero=False)


def flag(raw: str) -> bool:
    """The one reading of an on/off variable: 1/0, true/false, yes/no, on/off, in any case (empty: unset, so off)."""
    word = raw.strip().lower()
    if word in FLAG_ON or word in FLAG_OFF:
        return word in FLAG_ON
    raise ValueError("is neither on nor off")


def thread_count(raw: str) -> int | None:
    """OMP_NUM_THREADS as OpenMP reads it: a count, or a list of counts (one per nesting level) of which the first is
    the outer one, ours; 0 leaves the choice to llama-cpp-python (None)."""
    first = raw.split(",")[0].strip()
    if not re.fullmatch(r"[0-9]+", first):
        raise ValueError("is not a number of threads")
    return int(first) or None


def path(raw: str) -> Path:
    return Path(raw)


def text(raw: str) -> str:
    return raw


@dataclass(frozen=True)
class Settings:
    """Every environment variable cai reads, with its value (the default where unset or empty)."""

    cache_dir: Path | None = _variable(
        CACHE_DIR_ENV,
        path,
        None,
        "Folder of the reply cache (`replies.sqlite`); `--cache-dir` overrides it.",
        shown="the user cache folder (`~/.cache/constitutional` on Linux)",
        fix="set it to a folder (it is made if missing), or unset it",
    )
    prices_file: Path | None = _variable(
        PRICES_ENV,
        path,
        None,
        "Price file (YAML, USD per million tokens) that adds to and overrides the built-in table.",
        shown="`~/.config/constitutional/prices.yaml` (the user config folder), if it exists",
        fix="set it to the path of a price file (`MODEL: {input: USD, output: USD}` per line), or unset it",
    )
    retry_wait: float = _variable(
        RETRY_WAIT_ENV,
        seconds,
        1.0,
        "Seconds before the first retry of a failed model or batch API call; each later wait doubles (to 60 s).",
        shown="`1`",
        fix="set it to a number such as 1, or unset it",
    )
    batch_poll_wait: float = _variable(
        BATCH_POLL_ENV,
        positive_seconds,
        5.0,
        "Seconds between the first polls of a provider batch (`--executor batch`); the wait grows to 60 s.",
        shown="`5`",
        fix="set it to a number above 0 such as 5, or unset it",
    )
    scorer: str | None = _variable(
        SCORER_ENV,
        text,
        None,
        "The scorer when `--scorer` is not given: `fast`, `local`, `local:PATH.gguf`, `fast+local`, `openai/MODEL` (a "
        "completions server, `--scorer-base-url` or `OPENAI_BASE_URL`) or `none`.",
        shown="`fast`",
        fix="set it to fast, local, local:PATH.gguf, fast+local, openai/MODEL or none, or unset it",
    )
    debug: bool = _variable(
        DEBUG_ENV,
        flag,
        False,
        "Show the traceback of an unexpected error, as `--debug` does: on with 1, true, yes or on; off with 0, false, no or off.",
        shown="off",
        fix=f"set it to one of {', '.join(FLAG_ON)} for tracebacks, or one of {', '.join(FLAG_OFF)} (or unset it) for none",
    )
    progress_every: float = _variable(
        PROGRESS_EVERY_ENV,
        positive_seconds,
        30.0,
        "Seconds between the progress lines printed when stderr is not a terminal (a log file, a CI job).",
        shown="`30`",
        fix="set it to a number above 0 such as 30, or unset it",
    )
    threads: int | None = _variable(
        THREADS_ENV,
        thread_count,
        None,
        "Threads llama.cpp uses for the local model and the local scorer (Ray sets it to each worker's CPUs; "
        "`--scorer-workers N` gives each scorer process 1/N of them, or of the cores when it is unset).",
        shown="llama-cpp-python's own choice",
        fix="set it to a whole number of threads such as 4, or unset it",
    )


VARIABLES: tuple[Variable, ...] = tuple(f.metadata["variable"] for f in fields(Settings))
_FIELDS = {f.name: f.metadata["variable"] for f in fields(Settings)}


def read(variable: Variable, environ: Mapping[str, str] | None = None) -> Any:
    """The value of one variable in `environ` (the process's environment when None): its default if unset or empty."""
    raw = (os.environ if environ is None else environ).get(variable.name, "")
    if not raw.strip():
        return variable.default
    try:
        return variable.parse(raw.strip())
    except ValueError as exc:
        problem = str(exc)
    raise bad_value(variable.name, raw, problem)  # raised outside `except`: no failure behind it to show


def bad_value(name: str, value: object, problem: str) -> UserError:
    """The error for the value of the variable `name`: "NAME='VALUE' PROBLEM", with the table's fix. Also for what a
    value names, found wrong where it is used ("names no file")."""
    variable = next(v for v in VARIABLES if v.name == name)
    return UserError(f"{name}={str(value)!r} {problem}", fix=variable.fix)


def read_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Every variable, read now from `environ` (the process's environment when None); the first bad one is a
    UserError, in the order of the table."""
    return Settings(**{name: read(variable, environ) for name, variable in _FIELDS.items()})


def debug_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether CONSTITUTIONAL_DEBUG asks for tracebacks. A value that cannot be read counts as off: the error path asks
    this, and must print its message whatever the variable holds (`read_settings` is what reports a bad value)."""
    try:
        return bool(read(_FIELDS["debug"], environ))
    except UserError:
        return False


def markdown_table() -> str:
    """The table of the variables in the docs: name, default, meaning."""
    rows = [f"| `{v.name}` | {v.shown_default} | {v.help} |" for v in VARIABLES]
    return "\n".join(["| Variable | Default | Meaning |", "|---|---|---|", *rows]) + "\n"


TABLE_BEGIN = "<!-- BEGIN settings table: written by `python scripts/settings_table.py` from src/constitutional/settings.py -->\n"
TABLE_END = "<!-- END settings table -->\n"


def with_table(readme: str) -> str:
    """`readme` with the text between TABLE_BEGIN and TABLE_END replaced by `markdown_table()`."""
    start = readme.index(TABLE_BEGIN) + len(TABLE_BEGIN)
    return readme[:start] + markdown_table() + readme[readme.index(TABLE_END, start) :]
