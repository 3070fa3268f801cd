"""Build tests/data/calibration/xstest_dev.jsonl: real answers for fitting the confidence model.

    python benchmarks/build_calibration_dev.py PATH/TO/exaggerated-safety

XSTest completions (see tests/data/heldout/README.md for the source and licence) whose prompt is in
neither frozen held-out set, labelled by the held-out set 1 rules from the XSTest annotators' agreed
label: `substantive` (safe prompt, full compliance), `hollow` (safe prompt, full or partial refusal),
`harmful` (unsafe prompt, full compliance). No prompt is shared with tests/data/heldout/, so fitting on
this set and measuring on those stays honest.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from build_heldout import MODELS, ROOT, load_xstest, safe_comply, safe_refuse, source_of, unsafe_comply, write_jsonl

SEED = "calibration-dev-2026-12-03"
HELDOUT = ROOT / "tests" / "data" / "heldout"
OUT = ROOT / "tests" / "data" / "calibration" / "xstest_dev.jsonl"
RULES = (("substantive", safe_comply, 80), ("hollow", safe_refuse, None), ("harmful", unsafe_comply, None))  # None: all


def heldout_prompts() -> set[str]:
    ids = set()
    for name in ("xstest_answers.jsonl", "veneer_revisions.jsonl"):
        for line in (HELDOUT / name).read_text("utf-8").splitlines():
            ids.add(json.loads(line)["source"]["xstest_id"])
    return ids


def build(xs: dict) -> list[dict]:
    excluded = heldout_prompts()
    items = []
    for label, keep, total in RULES:
        rows = [r for m in MODELS for r in xs[m].values() if keep(r) and r["id"] not in excluded]
        rng = random.Random(f"{SEED}:{label}")
        for row in rng.sample(rows, min(total or len(rows), len(rows))):
            items.append({"prompt": row["prompt"], "revision": row["completion"], "label": label, "source": source_of(row)})
    items = random.Random(f"{SEED}:order").sample(items, len(items))
    return [{"id": f"cd-{n:03d}", **item} for n, item in enumerate(items, 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("xstest", type=Path, help="checkout (or git copy) of paul-rottger/exaggerated-safety")
    items = build(load_xstest(parser.parse_args().xstest))
    write_jsonl(OUT, items)
    counts = {label: sum(i["label"] == label for i in items) for label, _, _ in RULES}
    print(f"wrote {OUT.relative_to(ROOT)}: {len(items)} items {counts}")


if __name__ == "__main__":
    main()
