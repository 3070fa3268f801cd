"""Errors a user can act on. Each carries where the problem is and how to fix it."""

from __future__ import annotations


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
