"""What every executor shares with the in-process runner: the manifest written before and after, and
records appended through the one RecordWriter, so every executor leaves the same run directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from constitutional.errors import UserError
from constitutional.models.base import Usage
from constitutional.pipeline.calls import CallStats
from constitutional.pipeline.records import Record
from constitutional.pipeline.runner import RunConfig, RunResult, RunState, Scan, _now, manifest, run_totals
from constitutional.pipeline.rundir import RecordWriter, write_json_atomic


@dataclass
class ExecutorResult(RunResult):
    stats: CallStats = field(default_factory=CallStats)  # model requests made by this process's executor


class RunOutput:
    """Writes records as the runner does and keeps this process's counts."""

    def __init__(self, writer: RecordWriter, on_record: Callable[[Record], None]):
        self.writer = writer
        self.on_record = on_record
        self.result = ExecutorResult()

    def write(self, record: Record) -> None:
        try:
            self.writer.write(record.model_dump(mode="json"))
        except OSError as exc:
            raise UserError(f"cannot write {self.writer.path}: {exc.strerror or exc}",
                            fix="free disk space or fix the directory's permissions, then rerun the same command: "
                                "it resumes") from None
        self.result.records += 1
        self.result.errors += record.error is not None
        self.result.usage.add(Usage(**record.usage))
        self.on_record(record)


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
