"""Precision and recall per verdict on the labelled sets, with no judge and with a judge model.

    python benchmarks/eval_accuracy.py                    # deterministic signals only (--judge none)
    python benchmarks/eval_accuracy.py --judge local      # also with the bundled model as judge (slow)

Labelled sets (tests/data/labelled/, each written before it was first measured): verdicts.jsonl was
used while the lexicon was written ("dev"); verdicts_heldout.jsonl ("held-out 1") was measured once,
then the lexicon was extended with the veneer families it exposed, so it is no longer held out;
verdicts_heldout2.jsonl ("held-out 2") was written after that and never tuned on. refusals.jsonl holds
human refusal labels. Prints Markdown tables: precision and recall per verdict, and the calibration
of `confidence` (expected calibration error and a reliability table). The confidence model is fitted on
these sets (benchmarks/fit_confidence.py), so their calibration is in-sample; the honest calibration
numbers are benchmarks/eval_heldout.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from calibration import reliability_table
from constitutional.constitution import load_constitution
from constitutional.evals.agreement import markdown
from constitutional.evals.canaries import plant, run_canaries
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


async def main_async(judges: list[str], sets: list[str]) -> None:
    from constitutional.models import create_model

    constitution = load_constitution("default").constitution
    print(refusal_agreement())
    for spec in ["none", *judges]:
        judge = None if spec == "none" else Judge(create_model(spec))
        trust = Trust()
        started = time.perf_counter()
        if judge is not None:
            canaries = await run_canaries(plant([], constitution, seeds=2), constitution, judge)
            trust = Trust(low=canaries["judge_trusted"] is False, reason=canaries.get("judge_untrusted_reason"))
            print(
                f"### judge {spec}\n\ncanaries: fooled {canaries['judge_fooled']}/{canaries['judged']} after the defences "
                f"(rate {canaries['judge_fooled_rate']}); taken at face value {canaries['raw_judge_fooled_rate']}; "
                f"trusted: {canaries['judge_trusted']}\n"
            )
        else:
            print("### judge none (deterministic signals only)\n")
        for name in sets:
            file = SETS[name]
            results = await predict(rows(file), constitution, judge, trust)
            print(markdown(f"{name} ({file}), final verdicts", [(a, b) for a, b, _, _ in results]))
            print(reliability_table(f"{name}, calibration of confidence", [(p, a == b) for a, b, _, p in results]))
            if judge is not None:
                alone = [(a, c or "error") for a, _, c, _ in results]
                print(markdown(f"{name}, the judge's own verdicts (no deterministic signals)", alone))
        if judge is not None:
            print(f"judge calls: {judge.usage.calls}, failed: {judge.calls_failed}, {time.perf_counter() - started:.0f} s\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judge", action="append", default=[], help="judge model spec (repeatable), e.g. local")
    parser.add_argument(
        "--set", action="append", choices=list(SETS), dest="sets", help="labelled set(s) to measure, in this order (default: all)"
    )
    args = parser.parse_args()
    asyncio.run(main_async(args.judge, args.sets or list(SETS)))


if __name__ == "__main__":
    main()
