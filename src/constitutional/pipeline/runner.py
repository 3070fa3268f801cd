"""Run the critique→revise loop over a prompt set: bounded concurrency, streamed input and output,
resumable from records.jsonl."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from constitutional import __version__
from constitutional.constitution import LoadedConstitution
from constitutional.errors import UserError
from constitutional.models.base import ChatModel, Usage
from constitutional.pipeline.calls import CallStats
from constitutional.pipeline.loop import LoopSettings, process
from constitutional.pipeline.prompt_sets import InputProblem, PromptItem, read_prompts
from constitutional.pipeline.records import Record, RecordError
from constitutional.pipeline.resume import check_same_job, repair_and_read_ids
from constitutional.pipeline.rundir import SCHEMA_VERSION, RecordWriter, read_jsonl, write_json_atomic

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
    rpm: float | None = None
    tpm: float | None = None
    cache: bool = True


@dataclass
class Scan:
    total: int = 0  # prompts still to run
    already_done: int = 0
    problems: list[InputProblem] = field(default_factory=list)
    problem_count: int = 0


@dataclass
class RunState:
    """What a resumed run starts from."""

    done_ids: set[str] = field(default_factory=set)
    previous: dict | None = None
    bytes_repaired: int = 0


@dataclass
class RunResult:
    records: int = 0  # written by this process
    errors: int = 0
    usage: Usage = field(default_factory=Usage)
    stats: CallStats = field(default_factory=CallStats)  # requests made by an executor that owns its clients


def open_run_dir(config: RunConfig, force: bool) -> RunState:
    """Create the run directory, or check that an existing one holds the same job and find what is done."""
    try:
        config.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the output directory {config.out}: {exc.strerror}",
                        fix="choose a writable --out") from None
    previous = check_same_job(config.out, manifest(config, "", Scan()), force)
    done, repaired = repair_and_read_ids(config.out / "records.jsonl")
    return RunState(done, previous, repaired)


def scan_prompts(path: Path, limit: int | None, done: set[str] = frozenset()) -> Scan:
    """Count prompts still to run and collect problems in one streaming pass."""
    scan = Scan()
    for item in _usable(path, limit, scan):
        if item.id in done:
            scan.already_done += 1
        else:
            scan.total += 1
    return scan


def _usable(path: Path, limit: int | None, scan: Scan | None = None) -> Iterator[PromptItem]:
    count = 0
    for row in read_prompts(path):
        if isinstance(row, InputProblem):
            if scan is not None:
                scan.problem_count += 1
                if len(scan.problems) < MAX_PROBLEMS_KEPT:
                    scan.problems.append(row)
            continue
        if limit is not None and count >= limit:
            continue  # keep reading: problems further down are still reported
        count += 1
        yield row


def manifest(config: RunConfig, started: str, scan: Scan, totals: dict | None = None,
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
            "rpm": config.rpm,
            "tpm": config.tpm,
            "cache": config.cache,
        },
        "started": started,
        "finished": finished,
        "status": status,
        "counts": {"prompts": scan.total + scan.already_done, "input_problems": scan.problem_count},
        "input_problems": [asdict(p) for p in scan.problems],
    }
    if totals is not None:
        data["counts"].update(records=totals["records"], errors=totals["errors"])
        data["usage"] = totals["usage"]
        data["cost_usd"] = totals["usage"]["cost_usd"]
    return data


def run_totals(records_path: Path) -> dict:
    """Counts and usage over every record in the file, so a resumed run reports the whole job."""
    usage, records, errors = Usage(), 0, 0
    if records_path.exists():
        for row in read_jsonl(records_path):
            records += 1
            errors += row.get("error") is not None
            usage.add(Usage(**row.get("usage", {})))
    return {"records": records, "errors": errors, "usage": usage.to_dict()}


class RunOutput:
    """Appends records to records.jsonl and keeps this process's counts; every executor writes through it."""

    def __init__(self, writer: RecordWriter, on_record: Callable[[Record], None]):
        self.writer = writer
        self.on_record = on_record
        self.result = RunResult()

    def write(self, record: Record) -> None:
        try:
            self.writer.write(record.model_dump(mode="json"))
        except OSError as exc:
            raise _write_error(self.writer.path, exc) from None
        self._count(record)

    async def awrite(self, record: Record) -> None:
        """Write from a worker thread, so a slow disk never stalls the calls in flight."""
        try:
            await self.writer.awrite(record.model_dump(mode="json"))
        except OSError as exc:
            raise _write_error(self.writer.path, exc) from None
        self._count(record)

    def _count(self, record: Record) -> None:
        self.result.records += 1
        self.result.errors += record.error is not None
        self.result.usage.add(Usage(**record.usage))
        self.on_record(record)


def _write_error(path: Path, exc: OSError) -> UserError:
    return UserError(f"cannot write {path}: {exc.strerror or exc}",
                     fix="free disk space or fix the directory's permissions, then rerun the same command: it resumes, "
                         "and every record already written is intact")


@contextmanager
def run_output(config: RunConfig, scan: Scan, state: RunState | None,
               on_record: Callable[[Record], None]) -> Iterator[RunOutput]:
    """run.json marked running, then finished (or interrupted), around records appended to records.jsonl."""
    started = ((state or RunState()).previous or {}).get("started") or _now()
    records_path = config.out / "records.jsonl"
    try:
        write_json_atomic(config.out / "run.json", manifest(config, started, scan))
        writer = RecordWriter(records_path)
    except OSError as exc:
        raise UserError(f"cannot write to {config.out}: {exc.strerror or exc}",
                        fix="choose a writable --out with free space") from None
    status = "interrupted"
    try:
        yield RunOutput(writer, on_record)
        status = "finished"
    finally:
        try:
            writer.close()
            totals = run_totals(records_path)
            write_json_atomic(config.out / "run.json", manifest(config, started, scan, totals, _now(), status))
        except OSError:
            pass  # the records are the source of truth; run.json is rewritten on resume


async def run_job(config: RunConfig, model: ChatModel, scan: Scan, state: RunState | None = None,
                  on_record: Callable[[Record], None] = lambda r: None) -> RunResult:
    state = state or RunState()
    queue: asyncio.Queue[PromptItem | None] = asyncio.Queue(maxsize=config.concurrency * 2)
    with run_output(config, scan, state, on_record) as output:

        async def worker() -> None:
            while (item := await queue.get()) is not None:
                await output.awrite(await _process_safely(item, model, config))

        async def produce() -> None:
            for item in _usable(config.prompts, config.limit):
                if item.id not in state.done_ids:
                    await queue.put(item)
            for _ in range(config.concurrency):
                await queue.put(None)

        tasks = [asyncio.create_task(produce())] + [asyncio.create_task(worker()) for _ in range(config.concurrency)]
        try:
            await asyncio.gather(*tasks)  # the first failure (a full disk, say) stops the job at once
        finally:
            for task in tasks:
                task.cancel()
            await model.aclose()
    return output.result


async def _process_safely(item: PromptItem, model: ChatModel, config: RunConfig) -> Record:
    """A bug or surprise in one prompt becomes an error on its record, not the end of the job."""
    try:
        return await process(item, model, config.constitution.constitution, config.settings)
    except Exception as exc:  # noqa: BLE001 - recorded as data
        tail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Record(id=item.id, prompt=item.prompt, meta=item.meta,
                      error=RecordError(stage="unknown", message=f"unexpected error: {tail}"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
