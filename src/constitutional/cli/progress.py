"""Live progress for long jobs: a rich bar on a terminal, with the job's counters under it, or with --quiet
one log line per record (`cai run`) or nothing (`cai eval`)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Self

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from constitutional import activity
from constitutional.cli.common import err_console
from constitutional.evals.lines import VERDICTS, EvalLine
from constitutional.record import ErrorKinds
from constitutional.settings import read_settings
from constitutional.text import clip, printable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from rich.console import RenderableType
    from rich.progress import ProgressColumn

    from constitutional.record import Record

KINDS_UNDER_BAR = 3
LINE_WIDTH = 76  # an 80-column terminal, less the indent


class _JobProgress:
    """A job's progress: `shown()` puts up its bar (label, done/total, the `stats()` line) unless quiet."""

    label = ""

    def __init__(self, total: int, quiet: bool):
        self.total = total
        self.quiet = quiet
        self.done = 0
        self._advance: Callable[[], None] | None = None

    def stats(self) -> str:
        raise NotImplementedError

    def _tick(self) -> None:
        if self._advance is not None:
            self._advance()

    def shown_stats(self) -> str:
        """The counters, and under them the steps in flight (loading a model, drafting...), if any."""
        now = activity.now()
        return self.stats() + (f"\nnow: {now}" if now else "")

    @contextmanager
    def shown(self) -> Iterator[Self]:
        """The live bar on a terminal; elsewhere (a log file, a pipe) also a line every CONSTITUTIONAL_PROGRESS_EVERY
        seconds, since the bar is printed only at the end there."""
        if self.quiet:
            yield self
            return
        with live_bar(self.label, self.total, self.shown_stats) as self._advance, self._logged():
            yield self

    @contextmanager
    def _logged(self) -> Iterator[None]:
        if err_console.is_terminal:
            yield
            return
        stop, started = threading.Event(), time.monotonic()
        every = read_settings().progress_every

        def log() -> None:
            while not stop.wait(every):
                line = f"{self.label}: {self.done}/{self.total} after {time.monotonic() - started:.0f}s · {self.shown_stats()}"
                err_console.print(escape(" · ".join(line.splitlines())), soft_wrap=True)

        logger = threading.Thread(target=log, name=f"{self.label}-progress", daemon=True)
        logger.start()
        try:
            yield
        finally:
            stop.set()
            logger.join()


def kind_lines(kinds: ErrorKinds, most: int, width: int = LINE_WIDTH) -> list[str]:
    """The `most` commonest kinds of error, one line each (a count and the first message), cut to `width`."""
    shown = [clip(f"{_short(count)} × {kinds.first[kind]}", width) for kind, count in kinds.counts.most_common(most)]
    hidden = len(kinds.counts) - most
    if hidden > 0:
        shown.append(f"and {hidden} more kind{'s' if hidden > 1 else ''} of error")
    return shown


class RunProgress(_JobProgress):
    label = "run"

    def __init__(self, total: int, quiet: bool):
        super().__init__(total, quiet)
        self.errors = self.calls = self.tokens = self.cache_hits = 0
        self.cost = 0.0
        self.started = time.monotonic()
        self.error_kinds = ErrorKinds()

    def on_record(self, record: Record) -> None:
        usage = record.usage
        self.done += 1
        if record.error is not None:
            self.errors += 1
            self.error_kinds.add(record.error)
        self.calls += usage.calls
        self.cache_hits += usage.cache_hits
        self.tokens += usage.input_tokens + usage.output_tokens
        self.cost += usage.cost_usd
        if self.quiet:
            status = f"error ({record.error.stage}): {record.error.message}" if record.error else "ok"
            err_console.print(f"[{self.done}/{self.total}] {escape(printable(f'{record.id}: {status}'))}", highlight=False)
        else:
            self._tick()

    def stats(self) -> str:
        rate = self.calls / max(time.monotonic() - self.started, 1e-9)
        cost = f"${self.cost:.4f}" if self.cost < 10 else f"${self.cost:,.2f}"
        rate_text = f"{rate:.1f}" if rate < 1000 else _short(int(rate))
        counters = (
            f"errors {_short(self.errors)} · calls {_short(self.calls)} ({rate_text}/s) · cached {_short(self.cache_hits)}"
            f" · tokens {_short(self.tokens)} · {cost}"
        )
        return "\n".join([counters] + kind_lines(self.error_kinds, KINDS_UNDER_BAR))


class EvalProgress(_JobProgress):
    """The eval's bar: records evaluated, and the verdicts so far."""

    label = "eval"

    def __init__(self, total: int, quiet: bool):
        super().__init__(total, quiet)
        self.verdicts: Counter = Counter()
        self.review = 0

    def on_line(self, line: EvalLine) -> None:
        self.done += 1
        self.verdicts[line.verdict] += 1
        self.review += line.needs_review
        self._tick()

    def stats(self) -> str:
        counts = [f"{verdict} {_short(self.verdicts[verdict])}" for verdict in VERDICTS if self.verdicts[verdict]]
        return " · ".join(counts + [f"needs review {_short(self.review)}"])


@contextmanager
def live_bar(label: str, total: int, stats: Callable[[], str]) -> Iterator[Callable[[], None]]:
    """A bar with done/total, elapsed time and time left, the counters `stats` gives under it; yields `advance`."""
    columns = [
        *([SpinnerColumn()] if err_console.is_terminal else []),  # a sign of life while no record has finished
        TextColumn(f"[bold]{label}"),
        BarColumn(bar_width=None),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    ]
    with _BarAndStats(stats, *columns, console=err_console, expand=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.update(task, advance=1)


class _BarAndStats(Progress):
    """The bar on one line and the counters under it (wrapped, never cut), so both fit an 80-column terminal;
    each line of `stats` is a line under the bar."""

    def __init__(self, stats: Callable[[], str], *columns: str | ProgressColumn, **options: Any):
        self._stats = stats  # set first: rich renders once while it sets up
        super().__init__(*columns, **options)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        for line in self._stats().splitlines():
            yield Text("    " + line)


def _short(n: int) -> str:
    """12345 -> 12.3k, 4567890 -> 4.57M: counters stay a few characters wide."""
    if n < 10_000:
        return str(n)
    for size, suffix in ((1e3, "k"), (1e6, "M")):
        if n / size < 999.5:
            return f"{n / size:.3g}{suffix}"
    return f"{n / 1e9:.3g}G"
