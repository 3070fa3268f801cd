"""What every command shares: turning UserError into a clear message and exit code 2."""

from __future__ import annotations

import functools
import sys

from rich.console import Console
from rich.markup import escape

from constitutional.errors import UserError

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_RECORD_ERRORS, EXIT_BAD_INPUT = 0, 1, 2


def user_errors(func):
    """Print a UserError (what is wrong, where, how to fix) and exit 2; on Ctrl-C, say how to resume. No traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except UserError as exc:
            err_console.print(f"[bold red]error:[/] {escape(exc.render())}", markup=True, soft_wrap=True)
            sys.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            err_console.print("interrupted: every finished record is saved; rerun the same command to resume")
            sys.exit(130)

    return wrapper


__all__ = ["EXIT_BAD_INPUT", "EXIT_OK", "EXIT_RECORD_ERRORS", "err_console", "user_errors"]
