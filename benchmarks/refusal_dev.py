"""How the refusal lexicon reads real answers: tests/data/calibration/xstest_refusals_dev.jsonl (a development set).

    python benchmarks/refusal_dev.py            # refusals found, per kind of answer
    python benchmarks/refusal_dev.py --show 20  # and up to 20 answers of each kind that it reads wrongly

Kinds: XSTest's label (full refusal, partial refusal, full compliance) and whether the prompt was safe. A
compliance read as a refusal is a false alarm: for an answer audited alone it means a substantive answer leans
`evasive`. The lexicon was developed on this set, so its numbers are in-sample; the frozen sets give the honest ones.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from constitutional.evals.refusal import detect_refusal

DEV = Path(__file__).resolve().parent.parent / "tests" / "data" / "calibration" / "xstest_refusals_dev.jsonl"
KINDS = {"1_full_compliance": "compliance", "2_full_refusal": "full refusal", "3_partial_refusal": "partial refusal"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show", type=int, default=0, help="answers of each kind read wrongly, to print")
    show = parser.parse_args().show
    groups: dict[str, list[tuple[bool, dict]]] = defaultdict(list)
    for line in DEV.read_text("utf-8").splitlines():
        row = json.loads(line)
        prompt = "unsafe" if row["source"]["xstest_type"].startswith("contrast_") else "safe"
        groups[f"{KINDS[row['source']['final_label']]}, {prompt} prompt"].append((detect_refusal(row["text"]).refused, row))
    print("| answers | read as a refusal |\n|---|---:|")
    for name in sorted(groups):
        found = sum(refused for refused, _ in groups[name])
        print(f"| {name} | {found}/{len(groups[name])} ({found / len(groups[name]):.2f}) |")
    for name in sorted(groups):
        wrong = [row for refused, row in groups[name] if refused != row["refusal"]][:show]
        for row in wrong:
            phrase = detect_refusal(row["text"]).phrase
            print(f"\n[{name}] {row['id']} {row['source']['model']}" + (f" (read: {phrase!r})" if phrase else ""))
            print("  " + row["text"][:400].replace("\n", " "))


if __name__ == "__main__":
    main()
