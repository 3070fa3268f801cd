"""Run the critique→revise loop over a prompt set: bounded concurrency, streamed input and output,
resumable from records.jsonl."""

from __future__ import annotations

import time
import traceback
from contextlib import aclosing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from constitutional import __version__
from constitutional.calls.managed import CallStats
from constitutional.calls.settings import CallSettings
from constitutional.concurrency import Bounded
from constitutional.errors import UserError, os_failure
from constitutional.models.base import ChatModel, Usage
from constitutional.models.secrets import configured_keys, key_shaped
from constitutional.pipeline.lock import RunLock, lock_run_dir
from constitutional.pipeline.loop import LoopSettings, process
from constitutional.pipeline.prompt_sets import DEFAULT_MAX_PROMPT_CHARS, InputProblem, PromptItem, read_prompts
from constitutional.pipeline.resume import check_same_job, repair_and_read_ids, rewrite_records
from constitutional.record import ErrorKinds, Record, RecordError, error_kind
from constitutional.rundir import SCHEMA_VERSION, RecordWriter, check_run_files, read_jsonl, write_json_atomic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from collections.abc import Set as AbstractSet
    from pathlib import Path

    from constitutional.constitution import LoadedConstitution

MAX_PROBLEMS_KEPT = 100
EARLY_STOP_AFTER = 8  # finished records that, failing alike, stop the job (see EarlyStop)


@dataclass
class RunConfig:
    prompts: Path
    out: Path
    constitution: LoadedConstitution
    model_spec: str
    judge_spec: str | None
    settings: LoopSettings
    concurrency: int
    calls: CallSettings = field(default_factory=lambda: CallSettings())  # how the model is called (run.json records the limits)
    limit: int | None = None
    max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS
    keep_going: bool = False  # never stop early, however the first records fail


@dataclass
class Scan:
    """What the one read of the prompt set before the job found: its usable ids, and the lines it could not use."""

    total: int = 0  # prompts still to run
    already_done: int = 0
    problems: list[InputProblem] = field(default_factory=list)
    problem_count: int = 0
    ids: set[str] = field(default_factory=set, repr=False)  # of the usable prompts (the first `limit`)
    key_prompt: tuple[str, int, str] | None = None  # the first prompt holding something shaped like an API key: id, line, shape
    key_prompts: int = 0  # how many do

    def count(self, done: AbstractSet[str]) -> None:
        """Set `total` and `already_done` for a run whose records hold `done`."""
        self.already_done = len(self.ids & done) if done else 0
        self.total = len(self.ids) - self.already_done


@dataclass
class RunState:
    """What a resumed run starts from."""

    done_ids: set[str] = field(default_factory=set)
    previous: dict | None = None
    bytes_repaired: int = 0
    errored: int = 0  # records kept that ended with an error (--retry-errors redoes them)
    redo: int = 0  # errored records removed from records.jsonl to run again (--retry-errors)
    duplicates: int = 0  # lines removed that repeated an id (written by two runs at once, before runs locked)
    lock: RunLock | None = None  # held by whoever writes the directory, from open_run_dir until released


@dataclass
class RunClock:
    """When the job first started, and its seconds of running summed over every invocation: the idle time
    between an interrupted run and its resume is not the job's."""

    started: str
    earlier_seconds: float = 0.0
    since: float = field(default_factory=time.monotonic)

    @classmethod
    def resuming(cls, previous: dict | None) -> RunClock:
        if not previous or not previous.get("started"):
            return cls(_now())
        earlier = previous.get("run_seconds")
        if earlier is None:  # a run.json written before run_seconds: its start to finish is all it says
            earlier = _seconds_between(previous["started"], previous.get("finished"))
        return cls(previous["started"], earlier)

    def seconds(self) -> float:
        return round(self.earlier_seconds + time.monotonic() - self.since, 3)


class JobStopped(Exception):
    """The job's first records all failed the same way, a way the prompts left would likely repeat."""

    def __init__(self, error: RecordError, records: int):
        super().__init__(f"{error.stage}: {error.message}")
        self.error = error
        self.records = records


class EarlyStop:
    """Watches a job's first `window` records: if every one fails alike, in a way that fails every prompt
    (a refused connection, a bad key, an unknown model), it raises JobStopped rather than let the rest
    fail one by one. A success or a different failure among them settles it: the job goes on."""

    def __init__(self, window: int):
        self.window = window  # 0: never stop
        self.seen = 0
        self.first: RecordError | None = None

    def check(self, record: Record) -> None:
        if self.seen >= self.window:
            return
        self.seen += 1
        error = record.error
        if (
            error is None
            or not error.fails_every_prompt
            or (self.first is not None and error_kind(error) != error_kind(self.first))
        ):
            self.window = 0
            return
        self.first = self.first or error
        if self.seen == self.window:
            raise JobStopped(self.first, self.seen)


def early_stop_for(config: RunConfig, scan: Scan) -> EarlyStop:
    """A job with no more prompts than the window has nothing to save by stopping."""
    stops = not config.keep_going and scan.total > EARLY_STOP_AFTER
    return EarlyStop(EARLY_STOP_AFTER if stops else 0)


@dataclass
class RunResult:
    records: int = 0  # written by this process
    errors: int = 0
    usage: Usage = field(default_factory=Usage)
    stats: CallStats = field(default_factory=CallStats)  # requests made by an executor that owns its clients
    error_kinds: ErrorKinds = field(default_factory=ErrorKinds)  # of the records written by this process


def open_run_dir(
    config: RunConfig,
    scan: Scan,
    force: bool,
    retry_errors: bool = False,
    warn: Callable[[str], None] = lambda message: None,
) -> RunState:
    """Create the run directory and lock it (the caller releases `state.lock`), or check that an existing one holds
    the same job and find what is done. Lines repeating an id are removed; with `retry_errors`, so are errored records
    of prompts still in the set (`scan.ids`), to be run again."""
    try:
        config.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create the output directory {config.out}: {exc.strerror}", fix="choose a writable --out"
        ) from None
    lock = lock_run_dir(config.out, warn)
    try:
        check_run_files(config.out)  # a symlink or pipe planted at one of its files: refused, never followed
        previous = check_same_job(config.out, manifest(config, RunClock(""), Scan()), force)
        written = repair_and_read_ids(config.out / "records.jsonl")
        redo = set()
        if retry_errors and written.errored:
            redo = written.errored & scan.ids
        if redo or written.duplicates:
            rewrite_records(config.out / "records.jsonl", drop=redo)
    except BaseException:
        lock.release()
        raise
    return RunState(
        written.ids - redo, previous, written.bytes_cut, len(written.errored - redo), len(redo), written.duplicates, lock
    )


def scan_prompts(config: RunConfig) -> Scan:
    """The prompt set read once before the job: its usable ids and its problems (`Scan.count` then says what is left);
    the job itself streams it once more (`usable_prompts`)."""
    scan, keys = Scan(), configured_keys()
    for item in usable_prompts(config, scan):
        scan.ids.add(item.id)
        if shape := key_shaped(item.prompt, keys):
            scan.key_prompts += 1
            scan.key_prompt = scan.key_prompt or (item.id, item.line, shape)
    scan.total = len(scan.ids)
    return scan


def usable_prompts(config: RunConfig, scan: Scan | None = None) -> Iterator[PromptItem]:
    """The prompt set's usable prompts, read lazily, the first `limit` of them; its problems go to `scan`."""
    count, limit = 0, config.limit
    for row in read_prompts(config.prompts, config.max_prompt_chars):
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


def manifest(
    config: RunConfig,
    clock: RunClock,
    scan: Scan,
    totals: RunTotals | None = None,
    finished: str | None = None,
    status: str = "running",
) -> dict:
    s = config.settings
    counts = {"prompts": scan.total + scan.already_done, "input_problems": scan.problem_count}
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
            "rpm": config.calls.rpm,
            "tpm": config.calls.tpm,
            "cache": config.calls.cache,
        },
        "started": clock.started,
        "finished": finished,
        "run_seconds": clock.seconds() if finished else clock.earlier_seconds,
        "status": status,
        "counts": counts,
        "input_problems": [asdict(p) for p in scan.problems],
    }
    if totals is not None:
        counts.update(records=totals.records, errors=totals.errors)
        data["usage"] = totals.usage.to_dict()
        data["cost_usd"] = round(totals.usage.cost_usd, 8)
    return data


@dataclass
class RunTotals:
    records: int
    errors: int
    usage: Usage


def run_totals(records_path: Path) -> RunTotals:
    """Counts and usage over every record in the file, so a resumed run reports the whole job."""
    usage, records, errors = Usage(), 0, 0
    if records_path.exists():
        for row in read_jsonl(records_path, fix="remove that line (a backup first), then rerun to resume"):
            records += 1
            errors += row.get("error") is not None
            usage.add(Usage.model_validate(row.get("usage") or {}))
    return RunTotals(records, errors, usage)


class RunOutput:
    """Appends records to records.jsonl and keeps this process's counts; every executor writes through it."""

    def __init__(self, writer: RecordWriter, on_record: Callable[[Record], None], early_stop: EarlyStop):
        self.writer = writer
        self.on_record = on_record
        self.early_stop = early_stop
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
        if record.error is not None:
            self.result.errors += 1
            self.result.error_kinds.add(record.error)
        self.result.usage.add(record.usage)
        self.on_record(record)
        self.early_stop.check(record)


RESUME = "rerun the same command: it resumes, and every record already written is intact"


def _write_error(path: Path, exc: OSError) -> UserError:
    return os_failure(exc, "cannot write", path, then=RESUME)


@contextmanager
def run_output(
    config: RunConfig,
    scan: Scan,
    state: RunState | None,
    on_record: Callable[[Record], None],
    early_stop: EarlyStop | None = None,
) -> Iterator[RunOutput]:
    """run.json marked running, then finished (or interrupted, stopped, failed), around records appended to
    records.jsonl. A run.json that cannot be written at the end of a finished job is an error (exit 2): the job is
    never reported done while run.json says otherwise."""
    clock = RunClock.resuming((state or RunState()).previous)
    records_path = config.out / "records.jsonl"
    try:
        write_json_atomic(config.out / "run.json", manifest(config, clock, scan))
        writer = RecordWriter(records_path)
    except OSError as exc:
        raise os_failure(exc, "cannot write to", config.out, then="rerun the same command, or choose another --out") from None
    status = "interrupted"  # Ctrl-C, SIGTERM, a cancelled job
    try:
        yield RunOutput(writer, on_record, early_stop or EarlyStop(0))
        status = "finished"
    except JobStopped:
        status = "stopped"
        raise
    except Exception:
        status = "failed"  # a record that could not be written (a full disk, a read-only folder), a bug
        raise
    finally:
        failure = _finish(config, clock, scan, writer, status)
        if failure is not None and status == "finished":
            raise failure


def _finish(config: RunConfig, clock: RunClock, scan: Scan, writer: RecordWriter, status: str) -> UserError | None:
    """Close records.jsonl and write the final run.json; a failure to do so, as the error to report."""
    try:
        writer.close()
        totals = run_totals(writer.path)
        write_json_atomic(config.out / "run.json", manifest(config, clock, scan, totals, _now(), status))
    except OSError as exc:  # the records are the source of truth; a resume writes run.json again
        return _write_error(config.out / "run.json", exc)
    return None


async def run_job(
    config: RunConfig,
    model: ChatModel,
    scan: Scan,
    state: RunState | None = None,
    on_record: Callable[[Record], None] = lambda r: None,
) -> RunResult:
    """Every prompt not done yet, at most `config.concurrency` at once, each record appended as it finishes. The first
    failure (a full disk, say, or JobStopped) stops the job at once; so does a cancellation (Ctrl-C, SIGTERM)."""
    state = state or RunState()
    todo = (item for item in usable_prompts(config) if item.id not in state.done_ids)
    with run_output(config, scan, state, on_record, early_stop_for(config, scan)) as output:

        async def run_one(item: PromptItem) -> None:
            await output.awrite(await process_safely(item, model, config))

        try:
            # Bounded.map is an async generator function (it has aclose) though annotated as returning AsyncIterator.
            finished = Bounded(config.concurrency).map(todo, run_one)
            async with aclosing(finished):
                async for _ in finished:
                    pass
        finally:
            await model.aclose()
    return output.result


async def process_safely(item: PromptItem, model: ChatModel, config: RunConfig) -> Record:
    """A bug or surprise in one prompt becomes an error on its record, not the end of the job."""
    try:
        return await process(item, model, config.constitution.constitution, config.settings)
    except UserError:
        raise  # the user's to mend, and every prompt would meet it (a batch API that refuses the job): the job stops
    except Exception as exc:  # noqa: BLE001 - recorded as data
        tail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Record(
            id=item.id,
            prompt=item.prompt,
            meta=item.meta,
            error=RecordError(stage="unknown", message=f"unexpected error: {tail}"),
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _seconds_between(start: str, end: str | None) -> float:
    if end is None:
        return 0.0
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except (TypeError, ValueError):
        return 0.0
