"""Live progress for long jobs: a rich bar on a terminal, or one log line per record with --quiet."""

from __future__ import annotations

import time
from contextlib import contextmanager

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from constitutional.cli.common import err_console


class RunProgress:
    def __init__(self, total: int, quiet: bool):
        self.total = total
        self.quiet = quiet
        self.done = self.errors = self.calls = self.tokens = self.cache_hits = 0
        self.cost = 0.0
        self.started = time.monotonic()
        self._bar: Progress | None = None
        self._task = None

    def on_record(self, record) -> None:
        usage = record.usage
        self.done += 1
        self.errors += record.error is not None
        self.calls += usage["calls"]
        self.cache_hits += usage.get("cache_hits", 0)
        self.tokens += usage["input_tokens"] + usage["output_tokens"]
        self.cost += usage["cost_usd"]
        if self.quiet:
            status = f"error ({record.error.stage}): {record.error.message}" if record.error else "ok"
            err_console.print(f"[{self.done}/{self.total}] {escape(record.id)}: {escape(status)}", highlight=False)
        elif self._bar is not None:
            self._bar.update(self._task, advance=1, **self.fields())

    def fields(self) -> dict:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {"errors": self.errors, "calls": self.calls, "hits": self.cache_hits, "tokens": self.tokens,
                "cost": self.cost, "rate": self.calls / elapsed}

    @contextmanager
    def shown(self):
        if self.quiet:
            yield self
            return
        columns = [TextColumn("[bold]run"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("err {task.fields[errors]} · calls {task.fields[calls]} ({task.fields[rate]:.1f}/s) · "
                              "cached {task.fields[hits]} · tok {task.fields[tokens]} · ${task.fields[cost]:.4f}"),
                   TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=err_console) as bar:
            self._bar = bar
            self._task = bar.add_task("run", total=self.total, **self.fields())
            yield self
