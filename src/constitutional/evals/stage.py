"""The eval stage: read items, plant and run canaries, evaluate every item, write eval.jsonl and report.json."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Protocol

from constitutional.concurrency import Bounded
from constitutional.errors import os_failure
from constitutional.evals.canaries import plant, run_canaries
from constitutional.evals.debate import CHECKLIST, JudgeSetup
from constitutional.evals.evaluate import Trust, evaluate_line
from constitutional.evals.labels import LABELS_FILE, agreement, read_labels
from constitutional.evals.lines import EvalLine, read_eval_lines
from constitutional.evals.report import Tally, build_report
from constitutional.models.base import ChatModel, Usage
from constitutional.rundir import atomic_file, write_json_atomic

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
    from pathlib import Path

    from constitutional.constitution import Constitution, LoadedConstitution
    from constitutional.evals.items import EvalInput, EvalItem
    from constitutional.evals.judge import Judge
    from constitutional.evals.report_model import RedteamSummary, Report
    from constitutional.evals.scorer import Scorer

MAX_IN_FLIGHT = 256  # items evaluated at once, or the judge model's concurrency if larger (a batched judge's is large,
# so each stage of judging goes in one batch); the judge's own limit bounds its calls


@dataclass
class EvalResult:
    """The report; the eval lines are in eval.jsonl (never all in memory), or until `write_eval` in `lines`."""

    report: Report
    lines: IO[str] | None = field(default=None, repr=False)

    @property
    def errors(self) -> int:
        return self.report.counts["error"]


def lines_tmp(out: Path) -> IO[str]:
    """Where `assess` writes the eval lines for `write_eval` to copy into eval.jsonl: a temporary file in `out` with
    no name (nothing there to plant a symlink at or to leave behind; it is gone when closed, or when the process dies)."""
    return tempfile.TemporaryFile("w+", encoding="utf-8", dir=out)


class Elsewhere(Protocol):
    """Evaluates the items somewhere other than this process (Ray's workers: evals/ray_stage.py), each worker with its
    own judge and scorer made as this process made its own, and with this process's trust in the judge."""

    async def evaluate(self, items: Iterable[EvalItem], trust: Trust, keep: Callable[[EvalLine], None]) -> tuple[Usage, int]:
        """Hand every item's line to `keep` in the items' order; the workers' judge usage and failed judge calls."""


async def run_eval(
    source: EvalInput,
    loaded: LoadedConstitution,
    judge_model: ChatModel | None,
    out: Path,
    on_line: Callable[[EvalLine], None] = lambda line: None,
    canary_seeds: int = 2,
    scorer: Scorer | None = None,
    setup: JudgeSetup = CHECKLIST,
    elsewhere: Elsewhere | None = None,
    redteam: RedteamSummary | None = None,
) -> EvalResult:
    """`elsewhere`: where the items are evaluated, after the canaries here (None: in this process); `redteam`: a red
    team's summary for report.json (`cai eval --redteam-report`)."""
    started = datetime.now(UTC)
    try:
        out.mkdir(parents=True, exist_ok=True)
        try:
            result = await assess(
                source, loaded, judge_model, started, lines_tmp(out), on_line, canary_seeds, scorer, setup, elsewhere
            )
        finally:
            if judge_model is not None:
                await setup.aclose(judge_model)
                await judge_model.aclose()
        if redteam is not None:
            result.report.redteam = redteam
        write_eval(out, result)
    except OSError as exc:  # a full disk or a read-only folder: say which file and how to fix it (exit 2)
        raise os_failure(exc, "cannot write", out / "eval.jsonl", then="rerun the same command") from None
    return result


async def assess(
    source: EvalInput,
    loaded: LoadedConstitution,
    judge_model: ChatModel | None,
    started: datetime,
    lines: IO[str],
    on_line: Callable[[EvalLine], None] = lambda line: None,
    canary_seeds: int = 2,
    scorer: Scorer | None = None,
    setup: JudgeSetup = CHECKLIST,
    elsewhere: Elsewhere | None = None,
) -> EvalResult:
    """Every item's eval line, written to `lines` (from `lines_tmp`) as it is produced, and the report, written nowhere.
    The canaries run here, once, whoever evaluates the items: they decide the trust every item is judged with."""
    constitution = loaded.constitution
    judge = setup.make(judge_model) if judge_model is not None else None
    planted = plant(source.items, constitution, canary_seeds, seed=str(len(source.items)))
    canaries = await run_canaries(planted, constitution, judge, scorer)
    canary_usage = judge.usage.model_copy() if judge else None
    trust = Trust(low=judge is not None and canaries["judge_trusted"] is False, reason=canaries.get("judge_untrusted_reason"))
    tally = Tally(constitution)

    def keep(line: EvalLine) -> None:
        lines.write(line.to_json() + "\n")
        tally.add(line)
        on_line(line)

    try:
        if elsewhere is None:
            async with aclosing(evaluated(source.items, constitution, judge, trust, scorer)) as here:
                async for line in here:
                    keep(line)
        else:
            usage, failed = await elsewhere.evaluate(source.items, trust, keep)
            if judge is not None:
                judge.usage.add(usage)
                judge.calls_failed += failed
    except BaseException:
        lines.close()
        raise
    usage = judge.usage if judge else Usage()
    report = build_report(
        tally,
        constitution_manifest=loaded.manifest,
        input_kind=source.kind,
        input_path=str(source.path),
        judge_spec=judge.spec if judge else None,
        judge_mode=judge.mode if judge else None,
        canaries=canaries,
        usage=usage,
        canary_usage=canary_usage,
        judge_failures=judge.calls_failed if judge else 0,
        items=source.items,
        run_manifest=source.manifest,
        eval_started=started,
        scorer_spec=scorer.spec if scorer is not None else None,
    )
    return EvalResult(report, lines)


def evaluated(
    items: Iterable[EvalItem], constitution: Constitution, judge: Judge | None, trust: Trust, scorer: Scorer | None
) -> AsyncGenerator[EvalLine, None]:
    """Every item's eval line, in the items' order, many items at once (the judge's own limit bounds its calls): the
    work of this process, or of one of Ray's workers on its shard (closed by the caller)."""
    limit = max(MAX_IN_FLIGHT, judge.model.default_concurrency if judge is not None else 0)
    return in_order(items, lambda item: evaluate_line(item, constitution, judge, trust, scorer), limit)


def add_labels(out: Path, result: EvalResult) -> None:
    """report.json's `labels` block, when people have labelled records of this directory (`cai review`)."""
    if (out / LABELS_FILE).is_file():
        result.report.set_labels(agreement(read_eval_lines(out / "eval.jsonl"), read_labels(out)))


def in_order(
    items: Iterable[EvalItem], work: Callable[[EvalItem], Awaitable[EvalLine]], limit: int
) -> AsyncGenerator[EvalLine, None]:
    """`work(item)` for every item, at most `limit` at once, yielded in the items' order."""
    return Bounded(limit).map(items, work, ordered=True)


def write_eval(out: Path, result: EvalResult) -> None:
    """DIR/eval.jsonl (the lines `assess` wrote to `lines_tmp(out)`) and report.json, each written whole. The HTML page
    is the renderer's business: the caller asks for it (see `render_html.write_html_report`)."""
    assert result.lines is not None  # the result of `assess`, which always hands back the lines it wrote
    with result.lines as scratch, atomic_file(out / "eval.jsonl") as fh:
        scratch.seek(0)
        shutil.copyfileobj(scratch, fh)
    add_labels(out, result)
    write_json_atomic(out / "report.json", result.report.to_dict())
