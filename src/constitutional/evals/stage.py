"""The eval stage: read items, plant and run canaries, evaluate every item, write eval.jsonl and report.json."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from constitutional.constitution import LoadedConstitution
from constitutional.evals.canaries import plant, run_canaries
from constitutional.evals.evaluate import Trust, evaluate
from constitutional.evals.items import EvalInput
from constitutional.evals.judge import Judge
from constitutional.evals.render_html import write_html_report
from constitutional.evals.report import build_report
from constitutional.models.base import ChatModel, Usage
from constitutional.pipeline.rundir import write_json_atomic


@dataclass
class EvalResult:
    lines: list[dict]
    report: dict

    @property
    def errors(self) -> int:
        return self.report["counts"]["error"]


async def run_eval(source: EvalInput, loaded: LoadedConstitution, judge_model: ChatModel | None, out: Path,
                   on_line: Callable[[dict], None] = lambda line: None, canary_seeds: int = 2) -> EvalResult:
    started = datetime.now(timezone.utc)
    try:
        result = await assess(source, loaded, judge_model, started, on_line, canary_seeds)
    finally:
        if judge_model is not None:
            await judge_model.aclose()
    write_eval(out, result, source)
    return result


async def assess(source: EvalInput, loaded: LoadedConstitution, judge_model: ChatModel | None, started: datetime,
                 on_line: Callable[[dict], None] = lambda line: None, canary_seeds: int = 2) -> EvalResult:
    """Every item's eval line and the report, written nowhere."""
    constitution = loaded.constitution
    judge = Judge(judge_model) if judge_model is not None else None
    canaries = await run_canaries(plant(source.items, constitution, canary_seeds), constitution, judge)
    trust = Trust(low=judge is not None and canaries["judge_trusted"] is False, fooled_rate=canaries["judge_fooled_rate"])
    if judge is None:
        lines = []
        for item in source.items:
            lines.append(await evaluate(item, constitution, None, trust))
            on_line(lines[-1])
    else:
        async def one(item):
            line = await evaluate(item, constitution, judge, trust)
            on_line(line)
            return line

        lines = await asyncio.gather(*(one(item) for item in source.items))
    usage = judge.usage.to_dict() if judge else Usage().to_dict()
    report = build_report(lines, constitution=constitution, constitution_manifest=loaded.manifest, input_kind=source.kind,
                          input_path=str(source.path), judge_spec=judge.spec if judge else None, canaries=canaries,
                          usage=usage, judge_failures=judge.calls_failed if judge else 0,
                          items=source.items, run_manifest=source.manifest, eval_started=started)
    return EvalResult(lines, report)


def write_eval(out: Path, result: EvalResult, source: EvalInput) -> None:
    """DIR/eval.jsonl, report.json and report.html."""
    out.mkdir(parents=True, exist_ok=True)
    _write_lines(out / "eval.jsonl", result.lines)
    write_json_atomic(out / "report.json", result.report)
    write_html_report(out, result.report, result.lines, source.items)


def _write_lines(path: Path, lines: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
