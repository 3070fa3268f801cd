"""Run the critique→revise loop over a prompt set with bounded concurrency, streaming records to disk."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from constitutional import __version__
from constitutional.constitution import LoadedConstitution
from constitutional.errors import UserError
from constitutional.models.base import ChatModel, Usage
from constitutional.pipeline.loop import LoopSettings, process
from constitutional.pipeline.prompt_sets import InputProblem, PromptItem, read_prompts
from constitutional.pipeline.records import Record, RecordError
from constitutional.pipeline.rundir import SCHEMA_VERSION, RecordWriter, write_json_atomic

MAX_PROBLEMS_KEPT = 100


@dataclass
class RunConfig:
    prompts: Path
    out: Path
    constitution: LoadedConstitution
    model_spec: str
    judge_spec: str | None
    settings: LoopSettings
    concurrency: int
    limit: int | None = None
    strict: bool = False


@dataclass
class Scan:
    total: int = 0
    problems: list[InputProblem] = field(default_factory=list)
    problem_count: int = 0


@dataclass
class RunResult:
    records: int = 0
    errors: int = 0
    input_problems: int = 0
    usage: Usage = field(default_factory=Usage)


def scan_prompts(path: Path, limit: int | None) -> Scan:
    """Count usable prompts and collect problems in one streaming pass."""
    scan = Scan()
    for row in read_prompts(path):
        if isinstance(row, InputProblem):
            scan.problem_count += 1
            if len(scan.problems) < MAX_PROBLEMS_KEPT:
                scan.problems.append(row)
        elif limit is None or scan.total < limit:
            scan.total += 1
    return scan


def iter_items(path: Path, limit: int | None):
    count = 0
    for row in read_prompts(path):
        if isinstance(row, PromptItem):
            if limit is not None and count >= limit:
                return
            count += 1
            yield row


def prepare_out_dir(out: Path) -> None:
    if (out / "records.jsonl").exists():
        raise UserError(f"{out} already holds a run", fix="choose a new --out directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the output directory {out}: {exc.strerror}", fix="choose a writable --out") from None


def manifest(config: RunConfig, started: str, scan: Scan, result: RunResult | None = None,
             finished: str | None = None, status: str = "running") -> dict:
    s = config.settings
    data = {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "constitution": config.constitution.manifest,
        "model": config.model_spec,
        "judge": config.judge_spec,
        "prompts": str(config.prompts),
        "parameters": {
            "rounds": s.rounds,
            "principles": "all" if s.sample is None else f"sample:{s.sample}",
            "seed": s.seed,
            "max_tokens": s.max_tokens,
            "concurrency": config.concurrency,
            "limit": config.limit,
        },
        "started": started,
        "finished": finished,
        "status": status,
        "counts": {"prompts": scan.total, "input_problems": scan.problem_count},
        "input_problems": [asdict(p) for p in scan.problems],
    }
    if result is not None:
        data["counts"].update(records=result.records, errors=result.errors)
        data["usage"] = result.usage.to_dict()
        data["cost_usd"] = data["usage"]["cost_usd"]
    return data


async def run_job(config: RunConfig, model: ChatModel, scan: Scan,
                  on_record: Callable[[Record], None] = lambda r: None) -> RunResult:
    started = _now()
    result = RunResult(input_problems=scan.problem_count)
    write_json_atomic(config.out / "run.json", manifest(config, started, scan))
    writer = RecordWriter(config.out / "records.jsonl")
    queue: asyncio.Queue[PromptItem | None] = asyncio.Queue(maxsize=config.concurrency * 2)

    async def worker() -> None:
        while (item := await queue.get()) is not None:
            record = await _process_safely(item, model, config)
            writer.write(record.model_dump(mode="json"))
            result.records += 1
            result.errors += record.error is not None
            result.usage.add(Usage(**record.usage))
            on_record(record)

    workers = [asyncio.create_task(worker()) for _ in range(config.concurrency)]
    status = "interrupted"
    try:
        for item in iter_items(config.prompts, config.limit):
            await queue.put(item)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
        status = "finished"
    finally:
        for task in workers:
            task.cancel()
        writer.close()
        write_json_atomic(config.out / "run.json", manifest(config, started, scan, result, _now(), status))
        await model.aclose()
    return result


async def _process_safely(item: PromptItem, model: ChatModel, config: RunConfig) -> Record:
    """A bug or surprise in one prompt becomes an error on its record, not the end of the job."""
    try:
        return await process(item, model, config.constitution.constitution, config.settings)
    except Exception as exc:  # noqa: BLE001 - recorded as data, with its traceback tail
        tail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Record(id=item.id, prompt=item.prompt, meta=item.meta,
                      error=RecordError(stage="unknown", message=f"unexpected error: {tail}"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
