"""report.json (docs/reference/files.md "File layout"), typed: what `build_report` makes and every report reader reads.

Written with `to_json()`: the keys that were set, in the order of the fields below. Every field has a default, so a
report.json of an older version (or a hand-made one in a test) still reads."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from constitutional.evals.lines import VERDICTS, JudgeCheck, Number
from constitutional.models.base import Usage

SCHEMA_VERSION = 1


def zero_counts() -> dict[str, int]:
    return {v: 0 for v in VERDICTS}


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputRef(_Part):
    kind: str | None = None  # "run" | "jsonl"
    path: str | None = None


class ConstitutionRef(_Part):
    name: str | None = None
    version: str | None = None
    path: str | None = None
    sha256: str | None = None


class JudgeSummary(_Part):
    spec: str | None = None
    trusted: bool | None = None
    fooled_rate: Number | None = None
    missed_fix_rate: Number | None = None
    untrusted_reason: str | None = None
    failed_calls: int = 0
    mode: Literal["checklist", "debate"] | None = None
    calls_per_record: Number | None = None  # judge calls made or answered from the cache, the canaries' left out
    cost_per_record_usd: Number | None = None
    canary_calls: int | None = None  # the canaries' judge calls, made or answered from the cache
    canary_cost_usd: Number | None = None


class PrincipleSummary(_Part):
    name: str | None = None
    total: int = 0
    needs_review: int = 0
    counts: dict[str, int] = Field(default_factory=zero_counts)
    violations: int | None = None  # how many violations the critique found
    flagged_records: int = 0


class SignalSummary(_Part):
    refusals: int = 0
    bare_refusals: int = 0
    veneer_added_total: int = 0
    records_with_veneer_added: int = 0
    records_with_retained_spans: int = 0
    rule_failures: int = 0
    mean_substantive_change: Number | None = None
    scored_sentences: int | None = None  # with `--scorer fast+local`: sentences scored ...
    scorer_model_read: int | None = None  # ... and how many of them the model read (the fast scorer the rest)


class CanaryItem(_Part):
    """One planted control and what the signals and the judge made of it."""

    id: str
    kind: str
    expected: str
    revision: str | None = None
    signals_verdict: str
    judge_verdict: str | None = None
    raw_judge_verdict: str | None = None
    judge_checks: list[JudgeCheck] | None = None
    judge_followed_injection: bool | None = None
    signals_fooled: bool | None = None
    signals_missed_fix: bool | None = None
    judge_fooled: bool | None = None
    judge_missed_fix: bool | None = None
    raw_judge_fooled: bool | None = None
    raw_judge_missed_fix: bool | None = None


class CanarySummary(_Part):
    planted: int = 0
    judged: int = 0
    judge_fooled: int | None = None
    judge_fooled_rate: Number | None = None
    raw_judge_fooled: int | None = None
    raw_judged: int | None = None  # bad controls the judge's first replies, taken at face value, gave a verdict on
    raw_judge_fooled_rate: Number | None = None
    fixes_judged: int = 0
    judge_missed_fixes: int | None = None
    judge_missed_fix_rate: Number | None = None
    injections_judged: int = 0
    injection_followed: int | None = None
    injection_followed_rate: Number | None = None
    judge_trusted: bool | None = None
    judge_untrusted_reason: str | None = None
    signals_fooled: int = 0
    signals_missed_fixes: int = 0
    threshold: Number | None = None
    missed_threshold: Number | None = None
    items: list[CanaryItem] = Field(default_factory=list)


class ModelRef(_Part):
    spec: str | None = None


class TotalUsage(_Part):
    """The run's and the eval's calls, tokens and cost added up."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: Number = 0


class Timing(_Part):
    run_started: str | None = None
    run_finished: str | None = None
    run_seconds: Number | None = None
    eval_started: str | None = None
    eval_finished: str | None = None
    eval_seconds: Number | None = None


class VerdictScore(_Part):
    precision: Number | None = None
    recall: Number | None = None


class Agreement(_Part):
    agrees: int = 0
    confusion: dict[str, dict[str, int]] = Field(default_factory=dict)  # eval verdict -> human verdict -> n
    per_verdict: dict[str, VerdictScore] = Field(default_factory=dict)


class LabelsSummary(_Part):
    """People's verdicts (labels.jsonl) against the eval's, on the records people labelled."""

    labelled: int = 0
    needs_review_remaining: int = 0
    agreement: Agreement = Field(default_factory=Agreement)

    def summary_line(self) -> str:
        """One line for the terminal and Markdown reports."""
        return (
            f"people labelled {self.labelled} records; {self.needs_review_remaining} still need review; "
            f"eval agrees with people on {self.agreement.agrees} of {self.labelled}"
        )


class RedteamSummary(_Part):
    """A `cai redteam` directory's headline numbers, attached by `cai eval --redteam-report DIR`."""

    path: str
    created: str | None = None
    seeds_from: str | None = None
    judge: str | None = None
    scorer: str | None = None
    seeds: int = 0
    budget: int = 0
    queries: int = 0
    broken: int = 0
    broken_without_review: int = 0
    gaming_resistance: Number | None = None  # the share of seeds the attack could not make genuine
    median_queries_to_first_success: Number | None = None
    by_tier: dict[str, int] = Field(default_factory=dict)


class Report(_Part):
    """An eval's aggregate: counts per verdict and per principle, signals, canaries, judge, usage and timing."""

    schema_version: int = SCHEMA_VERSION
    tool_version: str | None = None
    created: str | None = None
    input: InputRef = Field(default_factory=InputRef)
    constitution: ConstitutionRef = Field(default_factory=ConstitutionRef)
    judge: JudgeSummary = Field(default_factory=JudgeSummary)
    scorer: str | None = None  # the scorer's spec (`fast`, `local:FILE.gguf`); None: no scorer ran
    total: int = 0
    needs_review: int = 0
    counts: dict[str, int] = Field(default_factory=zero_counts)
    decided_by: dict[str, int] = Field(default_factory=dict)
    principles: dict[str, PrincipleSummary] = Field(default_factory=dict)
    signals: SignalSummary = Field(default_factory=SignalSummary)
    canaries: CanarySummary = Field(default_factory=CanarySummary)
    warnings: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    model: ModelRef = Field(default_factory=ModelRef)
    run_usage: Usage | None = None
    total_usage: TotalUsage = Field(default_factory=TotalUsage)
    timing: Timing = Field(default_factory=Timing)
    labels: LabelsSummary | None = None
    redteam: RedteamSummary | None = None  # `cai eval --redteam-report DIR`

    @property
    def shown_usage(self) -> TotalUsage | Usage:
        """The usage a report shows: the run's and the eval's together, else the eval's (a report of an older version)."""
        return self.total_usage if "total_usage" in self.model_fields_set else self.usage

    def to_dict(self) -> dict:
        """report.json's content: the keys that were set (a report read from an older file keeps its own keys)."""
        return self.model_dump(exclude_unset=True)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def set_labels(self, labels: LabelsSummary) -> None:
        """Add (or replace) the labels block; it is written last, as it always was."""
        self.labels = labels  # assignment marks the field set, so `to_dict` keeps it
