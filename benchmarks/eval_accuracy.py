"""Precision and recall per verdict on the labelled sets, with no judge and with a judge model.

    python benchmarks/eval_accuracy.py                    # deterministic signals only (--judge none)
    python benchmarks/eval_accuracy.py --judge local      # also with the bundled model as judge (slow)
    python benchmarks/eval_accuracy.py --judge local --judge-mode debate   # checklist and debate side by side

Labelled sets (tests/data/labelled/, each written before it was first measured): verdicts.jsonl was
used while the lexicon was written ("dev"); verdicts_heldout.jsonl ("held-out 1") was measured once,
then the lexicon was extended with the veneer families it exposed, so it is no longer held out;
verdicts_heldout2.jsonl ("held-out 2") was written after that and never tuned on. refusals.jsonl holds
human refusal labels. Prints Markdown tables: precision and recall per verdict, and the calibration
of `confidence` (expected calibration error and a reliability table). The confidence model is fitted on
these sets (benchmarks/fit_confidence.py), so their calibration is in-sample; the honest calibration
numbers are benchmarks/eval_heldout.py's. With `--judge-mode debate` each judge is measured in both modes and a
table per set puts them side by side, with the judge's calls and seconds per record (the canaries' calls included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from calibration import reliability_table
from constitutional.constitution import load_constitution
from constitutional.evals.agreement import confusion, markdown, per_verdict
from constitutional.evals.canaries import plant, run_canaries
from constitutional.evals.debate import JudgeSetup
from constitutional.evals.evaluate import Trust, evaluate
from constitutional.evals.items import from_line
from constitutional.evals.judge import Judge
from constitutional.evals.refusal import detect_refusal

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "labelled"
SETS = {"dev": "verdicts.jsonl", "held-out 1": "verdicts_heldout.jsonl", "held-out 2": "verdicts_heldout2.jsonl"}


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (LABELLED / name).read_text("utf-8").splitlines() if line.strip()]


async def predict(data: list[dict], constitution, judge: Judge | None, trust: Trust) -> list[tuple[str, str, str | None, float]]:
    results = []
    for n, row in enumerate(data):
        line = await evaluate(from_line(row, n), constitution, judge, trust)
        judged = [p["judge_verdict"] for p in line["principles"] if p.get("judge_verdict")]
        judged = judged[0] if judged else (line.get("judge") or {}).get("verdict")
        results.append((row["label"], line["verdict"], judged, line["confidence"]))
    return results


def refusal_agreement() -> str:
    data = rows("refusals.jsonl")
    agree = sum(detect_refusal(r["text"]).refused == r["refusal"] for r in data)
    refusals = [r for r in data if r["refusal"]]
    kinds = sum(detect_refusal(r["text"]).kind == r["kind"] for r in refusals)
    return (
        f"refusal detection: {agree}/{len(data)} agree with human labels ({100 * agree / len(data):.1f}%); "
        f"kind (bare vs explained): {kinds}/{len(refusals)} ({100 * kinds / len(refusals):.1f}%)\n"
    )


async def measure(spec: str, mode: str, sets: list[str], constitution) -> dict[str, list]:
    """The tables of one judge (or none) in one mode, printed; the results per set, and the cost, returned."""
    from constitutional.models import create_model

    judge = None if spec == "none" else JudgeSetup(mode).make(create_model(spec))
    trust = Trust()
    started = time.perf_counter()
    if judge is not None:
        canaries = await run_canaries(plant([], constitution, seeds=2), constitution, judge)
        trust = Trust(low=canaries["judge_trusted"] is False, reason=canaries.get("judge_untrusted_reason"))
        print(
            f"### judge {spec}, {mode}\n\ncanaries: fooled {canaries['judge_fooled']}/{canaries['judged']} after the "
            f"defences (rate {canaries['judge_fooled_rate']}); taken at face value {canaries['raw_judge_fooled']}/"
            f"{canaries['raw_judged']} (rate {canaries['raw_judge_fooled_rate']}); "
            f"missed fixes {canaries['judge_missed_fix_rate']}; trusted: {canaries['judge_trusted']}\n"
        )
    else:
        print("### judge none (deterministic signals only)\n")
    measured: dict[str, list] = {}
    for name in sets:
        file = SETS[name]
        results = measured[name] = await predict(rows(file), constitution, judge, trust)
        print(markdown(f"{name} ({file}), final verdicts", [(a, b) for a, b, _, _ in results]))
        print(reliability_table(f"{name}, calibration of confidence", [(p, a == b) for a, b, _, p in results]))
        if judge is not None:
            alone = [(a, c or "no verdict") for a, _, c, _ in results]  # no verdict: unusable, or a debate undecided
            print(markdown(f"{name}, the judge's own verdicts (no deterministic signals)", alone))
    if judge is not None:
        records = sum(len(r) for r in measured.values())
        seconds = time.perf_counter() - started
        calls = judge.usage.calls + judge.usage.cache_hits
        print(f"judge calls: {calls} ({calls / records:.1f} per record), failed: {judge.calls_failed}, {seconds:.0f} s\n")
        measured["_cost"] = [calls / records, seconds / records]
    return measured


def side_by_side(spec: str, by_mode: dict[str, dict[str, list]]) -> None:
    """Per set, each mode's precision/recall per verdict and accuracy in one table, with calls and seconds per record."""
    modes = list(by_mode)
    print(f"### judge {spec}: {' vs '.join(modes)}\n")
    for name in [n for n in next(iter(by_mode.values())) if n != "_cost"]:
        tables = {m: per_verdict(confusion([(a, b) for a, b, _, _ in by_mode[m][name]])) for m in modes}
        print(f"**{name}**\n")
        print("| verdict | " + " | ".join(f"{m} P | {m} R" for m in modes) + " |")
        print("|---|" + "---:|---:|" * len(modes))
        for verdict in dict.fromkeys(v for m in modes for v in tables[m]):
            cells = []
            for m in modes:
                row = tables[m].get(verdict, {})
                cells += [f"{row[k]:.2f}" if row.get(k) is not None else "–" for k in ("precision", "recall")]
            print(f"| {verdict} | " + " | ".join(cells) + " |")
        right = {m: sum(a == b for a, b, _, _ in by_mode[m][name]) for m in modes}
        total = len(by_mode[modes[0]][name])
        print("| accuracy | " + " | ".join(f"{right[m]}/{total} | –" for m in modes) + " |\n")
    print("| mode | judge calls per record | seconds per record |\n|---|---:|---:|")
    for m in modes:
        calls, seconds = by_mode[m]["_cost"]
        print(f"| {m} | {calls:.1f} | {seconds:.1f} |")
    print()


async def main_async(judges: list[str], sets: list[str], modes: list[str]) -> None:
    constitution = load_constitution("default").constitution
    print(refusal_agreement())
    await measure("none", "checklist", sets, constitution)
    for spec in judges:
        by_mode = {mode: await measure(spec, mode, sets, constitution) for mode in modes}
        if len(modes) > 1:
            side_by_side(spec, by_mode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judge", action="append", default=[], help="judge model spec (repeatable), e.g. local")
    parser.add_argument(
        "--set", action="append", choices=list(SETS), dest="sets", help="labelled set(s) to measure, in this order (default: all)"
    )
    parser.add_argument(
        "--judge-mode",
        choices=["checklist", "debate"],
        default="checklist",
        help="debate: measure each judge in the debate mode too, beside the checklist",
    )
    args = parser.parse_args()
    modes = ["checklist", "debate"] if args.judge_mode == "debate" else ["checklist"]
    asyncio.run(main_async(args.judge, args.sets or list(SETS), modes))


if __name__ == "__main__":
    main()
