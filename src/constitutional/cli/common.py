"""What every command shares: turning UserError into a clear message and exit code 2."""

from __future__ import annotations

import functools
import sys

import typer
from rich.console import Console

from constitutional.errors import UserError

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_RECORD_ERRORS, EXIT_BAD_INPUT = 0, 1, 2


def user_errors(func):
    """Print a UserError (what is wrong, where, how to fix) and exit 2, with no traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except UserError as exc:
            err_console.print(f"[bold red]error:[/] {exc.render()}", markup=True, soft_wrap=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper


def fail(problem: str, fix: str | None = None) -> None:
    raise UserError(problem, fix=fix)


__all__ = ["EXIT_BAD_INPUT", "EXIT_OK", "EXIT_RECORD_ERRORS", "err_console", "fail", "typer", "user_errors"]
