"""report.json: the aggregate of an eval, summed line by line (the model, `Report`, is in report_model.py)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from constitutional import __version__
from constitutional.evals.report_model import SCHEMA_VERSION, PrincipleSummary, Report, TotalUsage, zero_counts
from constitutional.models.base import Usage

if TYPE_CHECKING:
    from collections.abc import Iterable

    from constitutional.constitution import Constitution
    from constitutional.evals.lines import EvalLine

__all__ = ["SCHEMA_VERSION", "Report", "Tally", "build_report"]


class Tally:
    """The per-line sums of report.json, fed one eval line at a time."""

    def __init__(self, constitution: Constitution):
        self.constitution = constitution
        self.total = self.needs_review = 0
        self.counts = zero_counts()
        self.decided_by: Counter = Counter()
        self.principles: dict[str, PrincipleSummary] = {}
        self.refusals = self.bare = self.veneer_total = self.veneer_records = self.retained_records = self.rule_failures = 0
        self.change_count = 0
        self.change_sum: int | float = 0  # substantive_change, summed for its mean
        self.scored_by: Counter = Counter()  # lines by the scorer that scored them (`fast` where a server scorer failed)
        self.scored = 0  # sentences scored, counted where scorers shared the work (`fast+local`)
        self.model_read: int | None = None  # of which the model read this many; None: no scorer shared the work

    def add(self, line: EvalLine) -> None:
        self.total += 1
        self.needs_review += line.needs_review
        self.counts[line.verdict] += 1
        self.decided_by[line.decided_by] += 1
        for p in line.principles:
            entry = self.principles.get(p.id)
            if entry is None:
                entry = self.principles[p.id] = _principle(self.constitution, p.id)
            entry.total += 1
            entry.needs_review += p.needs_review
            entry.counts[p.verdict] += 1
        s = line.signals
        self.refusals += s.refusal
        self.bare += s.refusal_kind == "bare"
        self.veneer_total += s.veneer_added
        self.veneer_records += s.veneer_added > 0
        self.retained_records += bool(s.retained_spans)
        self.rule_failures += sum(not r.passed for r in s.rules)
        self.scored_by[s.scorer] += 1
        if s.substantive_change is not None and line.verdict != "error":
            self.change_count += 1
            self.change_sum += s.substantive_change
        if s.scorer_model_read is not None:
            self.scored += len(s.pmi or [])
            self.model_read = (self.model_read or 0) + s.scorer_model_read


def _principle(constitution: Constitution, pid: str) -> PrincipleSummary:
    return PrincipleSummary(
        name=_name(constitution, pid), total=0, needs_review=0, counts=zero_counts(), violations=0, flagged_records=0
    )


def build_report(
    tally: Tally,
    *,
    constitution_manifest: dict,
    input_kind: str,
    input_path: str,
    judge_spec: str | None,
    canaries: dict,
    usage: Usage,
    canary_usage: Usage | None = None,
    judge_mode: str | None = None,
    judge_failures: int = 0,
    items: Iterable = (),
    run_manifest: dict | None = None,
    eval_started: datetime | None = None,
    scorer_spec: str | None = None,
) -> Report:
    principles = tally.principles
    _add_critique_violations(principles, items, tally.constitution)
    warnings = _warnings(judge_spec, canaries, judge_failures) + _scorer_warnings(scorer_spec, tally.scored_by)
    run_usage = (run_manifest or {}).get("usage")
    return Report.model_validate(
        {
            "schema_version": SCHEMA_VERSION,
            "tool_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "input": {"kind": input_kind, "path": input_path},
            "constitution": constitution_manifest,
            "scorer": scorer_spec,
            "judge": {
                "spec": judge_spec,
                "trusted": canaries.get("judge_trusted"),
                "fooled_rate": canaries.get("judge_fooled_rate"),
                "missed_fix_rate": canaries.get("judge_missed_fix_rate"),
                "untrusted_reason": canaries.get("judge_untrusted_reason"),
                "failed_calls": judge_failures,
                **_judge_cost(judge_spec, judge_mode, usage, canary_usage or Usage(), tally.total),
            },
            "total": tally.total,
            "needs_review": tally.needs_review,
            "counts": tally.counts,
            "decided_by": dict(tally.decided_by),
            "principles": principles,
            "signals": _signal_sums(tally),
            "canaries": canaries,
            "warnings": warnings,
            "usage": usage.to_dict(),
            "model": {"spec": (run_manifest or {}).get("model")},
            "run_usage": run_usage,
            "total_usage": _total_usage(Usage.model_validate(run_usage) if run_usage is not None else None, usage),
            "timing": _timing(run_manifest or {}, eval_started),
        }
    )


def _judge_cost(judge_spec: str | None, mode: str | None, usage: Usage, canary_usage: Usage, records: int) -> dict:
    """The judge's mode; its calls (made or answered from the cache) and cost per record evaluated, the canaries'
    left out; and the canaries' calls and cost, which are the same whatever the input's size."""
    if judge_spec is None:
        return {}
    per = max(records, 1)
    return {
        "mode": mode,
        "calls_per_record": round((usage.calls + usage.cache_hits - canary_usage.calls - canary_usage.cache_hits) / per, 2),
        "cost_per_record_usd": round((usage.cost_usd - canary_usage.cost_usd) / per, 8),
        "canary_calls": canary_usage.calls + canary_usage.cache_hits,
        "canary_cost_usd": round(canary_usage.cost_usd, 8),
    }


def _warnings(judge_spec: str | None, canaries: dict, judge_failures: int) -> list[str]:
    warnings = []
    if judge_spec is not None and canaries.get("judge_trusted") is False:
        warnings.append(
            f"the judge ({judge_spec}) is not trusted: it {canaries['judge_untrusted_reason']}; model-judged "
            "verdicts are marked low confidence and sent to review, and deterministic signals decide wherever "
            "they are strong"
        )
    if judge_failures:
        warnings.append(
            f"{judge_failures} judge call(s) failed or did not parse after the re-asks; those checks are recorded as errors"
        )
    return warnings


def _scorer_warnings(scorer_spec: str | None, scored_by: Counter) -> list[str]:
    """A warning when the scorer asked for (a server) could not score some records and another stood in."""
    stood_in = {spec: n for spec, n in scored_by.items() if spec is not None and spec != scorer_spec}
    if not stood_in:
        return []
    by = ", ".join(f"{n} by {spec}" for spec, n in stood_in.items())
    return [
        f"the scorer {scorer_spec} could not score {sum(stood_in.values())} record(s) (its server kept failing after the "
        f"retries), so another scorer did ({by}); each needs review and says why in its reasons"
    ]


def _signal_sums(tally: Tally) -> dict:
    return {
        "refusals": tally.refusals,
        "bare_refusals": tally.bare,
        "veneer_added_total": tally.veneer_total,
        "records_with_veneer_added": tally.veneer_records,
        "records_with_retained_spans": tally.retained_records,
        "rule_failures": tally.rule_failures,
        "mean_substantive_change": round(tally.change_sum / tally.change_count, 3) if tally.change_count else None,
        **({} if tally.model_read is None else {"scored_sentences": tally.scored, "scorer_model_read": tally.model_read}),
    }


def _add_critique_violations(principles: dict[str, PrincipleSummary], items: Iterable, constitution: Constitution) -> None:
    """Per principle: how many violations the critique found, and in how many records."""
    for item in items:
        for pid in item.flagged_principles:
            entry = principles.get(pid)
            if entry is None:
                entry = principles[pid] = _principle(constitution, pid)
            entry.flagged_records += 1
        for flag in item.flags:
            entry = principles[flag.principle]
            assert entry.violations is not None  # every entry here comes from _principle, which starts it at 0
            entry.violations += 1


def _total_usage(run_usage: Usage | None, eval_usage: Usage) -> TotalUsage:
    """The run's and the eval's (judge's) calls, tokens and cost added up."""
    run = run_usage or Usage()
    return TotalUsage(
        calls=run.calls + eval_usage.calls,
        input_tokens=run.input_tokens + eval_usage.input_tokens,
        output_tokens=run.output_tokens + eval_usage.output_tokens,
        cached_tokens=run.cached_tokens + eval_usage.cached_tokens,
        cost_usd=round(run.cost_usd + eval_usage.cost_usd, 6),
    )


def _seconds(start: str | None, end: str | None) -> float | None:
    if start is None or end is None:
        return None
    try:
        return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)
    except (TypeError, ValueError):
        return None


def _timing(run_manifest: dict, eval_started: datetime | None) -> dict:
    finished = datetime.now(UTC)
    started = eval_started.isoformat(timespec="seconds") if eval_started else None
    return {
        "run_started": run_manifest.get("started"),
        "run_finished": run_manifest.get("finished"),
        # run.json's run_seconds, summed over invocations, leaves out idle time between an interruption and its resume
        "run_seconds": run_manifest.get("run_seconds")
        if run_manifest.get("finished") and "run_seconds" in run_manifest
        else _seconds(run_manifest.get("started"), run_manifest.get("finished")),
        "eval_started": started,
        "eval_finished": finished.isoformat(timespec="seconds"),
        "eval_seconds": round((finished - eval_started).total_seconds(), 3) if eval_started else None,
    }


def _name(constitution: Constitution, principle_id: str) -> str | None:
    try:
        return constitution.principle(principle_id).name
    except KeyError:
        return None
