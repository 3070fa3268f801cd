"""report.json: the aggregate of an eval (versioned; see README "Eval" for the fields)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from constitutional import __version__
from constitutional.constitution import Constitution
from constitutional.evals.verdicts import VERDICTS

SCHEMA_VERSION = 1


def _zero() -> dict:
    return {v: 0 for v in VERDICTS}


def build_report(lines: list[dict], *, constitution: Constitution, constitution_manifest: dict, input_kind: str,
                 input_path: str, judge_spec: str | None, canaries: dict, usage: dict, judge_failures: int = 0) -> dict:
    counts = _zero()
    decided_by: Counter = Counter()
    principles: dict[str, dict] = {}
    refusals = bare = veneer_total = veneer_records = retained_records = rule_failures = 0
    changes = []
    for line in lines:
        counts[line["verdict"]] += 1
        decided_by[line.get("decided_by", "signals")] += 1
        for p in line["principles"]:
            entry = principles.setdefault(p["id"], {"name": _name(constitution, p["id"]), "total": 0,
                                                    "needs_review": 0, "counts": _zero()})
            entry["total"] += 1
            entry["needs_review"] += bool(p["needs_review"])
            entry["counts"][p["verdict"]] += 1
        s = line["signals"]
        refusals += bool(s["refusal"])
        bare += s["refusal_kind"] == "bare"
        veneer_total += s["veneer_added"]
        veneer_records += s["veneer_added"] > 0
        retained_records += bool(s["retained_spans"])
        rule_failures += sum(not r["passed"] for r in s["rules"])
        if s["substantive_change"] is not None and line["verdict"] != "error":
            changes.append(s["substantive_change"])
    warnings = []
    if judge_spec is not None and canaries.get("judge_trusted") is False:
        rate = canaries.get("judge_fooled_rate")
        shown = "every reply was unusable" if rate is None else f"it accepted {round(100 * rate)}% of the planted controls"
        warnings.append(f"the judge ({judge_spec}) was fooled by canaries: {shown}; model-judged verdicts are marked "
                        "low confidence and sent to review, and deterministic signals decide wherever they are strong")
    if judge_failures:
        warnings.append(f"{judge_failures} judge call(s) failed or did not parse after one re-ask; those checks are recorded as errors")
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": {"kind": input_kind, "path": input_path},
        "constitution": constitution_manifest,
        "judge": {"spec": judge_spec, "trusted": canaries.get("judge_trusted"),
                  "fooled_rate": canaries.get("judge_fooled_rate"), "failed_calls": judge_failures},
        "total": len(lines),
        "needs_review": sum(bool(line["needs_review"]) for line in lines),
        "counts": counts,
        "decided_by": dict(decided_by),
        "principles": principles,
        "signals": {
            "refusals": refusals,
            "bare_refusals": bare,
            "veneer_added_total": veneer_total,
            "records_with_veneer_added": veneer_records,
            "records_with_retained_spans": retained_records,
            "rule_failures": rule_failures,
            "mean_substantive_change": round(sum(changes) / len(changes), 3) if changes else None,
        },
        "canaries": canaries,
        "warnings": warnings,
        "usage": usage,
    }


def _name(constitution: Constitution, principle_id: str) -> str | None:
    try:
        return constitution.principle(principle_id).name
    except KeyError:
        return None
