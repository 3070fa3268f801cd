"""What every command shares: turning errors into a clear message and an exit code, never a traceback (unless
--debug or CONSTITUTIONAL_DEBUG=1 asks for one)."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import sys
import textwrap
import traceback
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from constitutional.errors import UserError, os_failure
from constitutional.settings import DEBUG_ENV, debug_requested
from constitutional.text import printable

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

P = ParamSpec("P")
R = TypeVar("R")

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_RECORD_ERRORS, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM, as a shell reports them
DEBUG_HELP = (
    f"Show the traceback of an unexpected error or a failed file operation, instead of a message ({DEBUG_ENV}=1 does too)."
)

_state = {"debug": False, "terminated": False}


def say(line: str) -> None:
    """A line on stderr, its text shown as text (markup escaped, control characters dropped), wrapped at word
    boundaries on a terminal."""
    err_console.print(escape(wrapped(printable(line))))


def wrapped(text: str, indent: str = "", hanging: str = "    ") -> str:
    """`text` wrapped at word boundaries to the width of the terminal, each paragraph's later lines indented by
    `hanging`; a word wider than that (a URL, a path) is never split. Not a terminal (a log, a pipe): `text` as it is,
    its lines whole for grep."""
    if not err_console.is_terminal:
        return indent + text.replace("\n", "\n" + indent)
    width = max(err_console.width, 40)
    return "\n".join(
        textwrap.fill(
            part, width, initial_indent=indent, subsequent_indent=indent + hanging, break_long_words=False, break_on_hyphens=False
        )
        or part
        for part in text.split("\n")
    )


def warn(line: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(printable(line))}")


def set_debug(on: bool) -> None:
    _state["debug"] = on


def debugging() -> bool:
    """--debug, or CONSTITUTIONAL_DEBUG on (a value that is neither on nor off counts as off here, so that the error
    path always prints its message; the command refuses such a value before it starts)."""
    return _state["debug"] or debug_requested()


def stop_on_sigterm() -> None:
    """Handle SIGTERM (`kill`, a scheduler ending the job) as Ctrl-C: the job is cancelled cleanly, run.json says
    `interrupted`, every finished record stays, and the command exits 143."""

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        _state["terminated"] = True
        on_sigint = signal.getsignal(signal.SIGINT)  # asyncio.run's while a job runs: it cancels the job cleanly
        if callable(on_sigint):
            on_sigint(signal.SIGINT, frame)
            return
        # SIGINT is ignored (a background job): stop as Ctrl-C would. Inside a running job the interrupt is raised
        # from a loop callback, never from whatever bytecode the signal landed on (a finaliser, say).
        loop = asyncio.events._get_running_loop()
        if loop is None:
            raise KeyboardInterrupt
        loop.call_soon_threadsafe(_interrupt)

    signal.signal(signal.SIGTERM, on_sigterm)


def _interrupt() -> None:
    raise KeyboardInterrupt


def _say_error(error: UserError) -> None:
    err_console.print(f"[bold red]error:[/] {escape(printable(error.render()))}", markup=True, soft_wrap=True)


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print a UserError (what is wrong, where, how to fix) and exit 2; a failed file operation (a full disk, a
    read-only folder) likewise; on Ctrl-C or SIGTERM, say how to resume. Anything else is a bug: a one-line message
    and exit 3. No traceback, unless debugging (see `debugging`)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except UserError as exc:
            if debugging() and exc.__context__ is not None:  # one made of a failure (an OSError): show that too
                exc.__suppress_context__ = False
                raise
            _say_error(exc)
            sys.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            how = "terminated (SIGTERM)" if _state["terminated"] else "interrupted"
            err_console.print(f"{how}: every finished record is saved; rerun the same command to resume")
            sys.exit(EXIT_TERMINATED if _state["terminated"] else EXIT_INTERRUPTED)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own: an exit code, a usage error
        except OSError as exc:
            if debugging():
                raise
            _say_error(os_failure(exc))
            sys.exit(EXIT_BAD_INPUT)
        except Exception as exc:  # noqa: BLE001 - a bug: said in one line, the traceback only on request
            if debugging():
                raise
            where = traceback.extract_tb(exc.__traceback__)[-1]
            err_console.print(
                f"[bold red]internal error:[/] {escape(printable(f'{type(exc).__name__}: {exc}'))} "
                f"(at {escape(os.path.basename(where.filename))}:{where.lineno})\n"
                f"  this is a bug: rerun with --debug (cai --debug ...) for the traceback, and report it",
                markup=True,
                soft_wrap=True,
            )
            sys.exit(EXIT_INTERNAL)

    return wrapper


__all__ = [
    "DEBUG_HELP",
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_RECORD_ERRORS",
    "debugging",
    "err_console",
    "say",
    "set_debug",
    "stop_on_sigterm",
    "user_errors",
    "warn",
    "wrapped",
]
