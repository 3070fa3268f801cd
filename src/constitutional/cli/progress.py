"""Live progress for long jobs: a rich bar on a terminal, or one log line per record with --quiet."""

from __future__ import annotations

import time
from contextlib import contextmanager

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

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
            self._bar.update(self._task, advance=1)

    def stats(self) -> str:
        rate = self.calls / max(time.monotonic() - self.started, 1e-9)
        cost = f"${self.cost:.4f}" if self.cost < 10 else f"${self.cost:,.2f}"
        rate_text = f"{rate:.1f}" if rate < 1000 else _short(int(rate))
        return (f"errors {_short(self.errors)} · calls {_short(self.calls)} ({rate_text}/s) · cached {_short(self.cache_hits)}"
                f" · tokens {_short(self.tokens)} · {cost}")

    @contextmanager
    def shown(self):
        if self.quiet:
            yield self
            return
        columns = [TextColumn("[bold]run"), BarColumn(bar_width=None), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
        with _BarAndStats(self.stats, *columns, console=err_console, expand=True) as bar:
            self._bar = bar
            self._task = bar.add_task("run", total=self.total)
            yield self


class _BarAndStats(Progress):
    """The bar on one line and the counters under it, so both fit an 80-column terminal at any job size."""

    def __init__(self, stats, *columns, **options):
        self._stats = stats  # set first: rich renders once while it sets up
        super().__init__(*columns, **options)

    def get_renderables(self):
        yield self.make_tasks_table(self.tasks)
        yield Text("    " + self._stats(), no_wrap=True, overflow="ellipsis")


def _short(n: int) -> str:
    """12345 -> 12.3k, 4567890 -> 4.57M: counters stay a few characters wide."""
    if n < 10_000:
        return str(n)
    for size, suffix in ((1e3, "k"), (1e6, "M")):
        if n / size < 999.5:
            return f"{n / size:.3g}{suffix}"
    return f"{n / 1e9:.3g}G"
