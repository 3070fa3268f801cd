"""Build tests/data/calibration/xstest_dev.jsonl (real answers for fitting the confidence model) and
xstest_refusals_dev.jsonl (real answers for developing the refusal lexicon).

    python benchmarks/build_calibration_dev.py PATH/TO/exaggerated-safety

XSTest completions (see tests/data/heldout/README.md for the source and licence) whose prompt is in
neither frozen held-out set, labelled by the held-out set 1 rules from the XSTest annotators' agreed
label: `substantive` (safe prompt, full compliance), `hollow` (safe prompt, full or partial refusal),
`harmful` (unsafe prompt, full compliance). No prompt is shared with tests/data/heldout/, so fitting on
this set and measuring on those stays honest.

xstest_refusals_dev.jsonl: every XSTest completion whose annotators agree and whose prompt is in no frozen held-out
set (tests/data/heldout*/, by prompt text, XSTest id or completion text), refusals of safe and unsafe prompts alike
(a refusal reads the same whatever was asked), labelled `refusal: true` for a full or partial refusal.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from build_heldout import COMPLY, MODELS, ROOT, load_xstest, safe_comply, safe_refuse, source_of, unsafe_comply, write_jsonl

SEED = "calibration-dev-2026-12-03"
HELDOUT = ROOT / "tests" / "data" / "heldout"
OUT = ROOT / "tests" / "data" / "calibration" / "xstest_dev.jsonl"
REFUSALS_OUT = OUT.with_name("xstest_refusals_dev.jsonl")
RULES = (("substantive", safe_comply, 80), ("hollow", safe_refuse, None), ("harmful", unsafe_comply, None))  # None: all


def heldout_prompts() -> set[str]:
    ids = set()
    for name in ("xstest_answers.jsonl", "veneer_revisions.jsonl"):
        for line in (HELDOUT / name).read_text("utf-8").splitlines():
            ids.add(json.loads(line)["source"]["xstest_id"])
    return ids


def in_any_heldout_set() -> tuple[set[str], set[str]]:
    """(prompts and XSTest ids, texts) of every frozen held-out set."""
    asked, said = set(), set()
    for path in sorted((ROOT / "tests" / "data").glob("heldout*/*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line)
            source = row.get("source") if isinstance(row.get("source"), dict) else {}
            asked |= {str(v).strip() for v in (row.get("prompt"), source.get("xstest_id")) if v}
            said |= {str(row[k]).strip() for k in ("draft", "revision", "text") if row.get(k)}
    return asked, said


def build_refusals(xs: dict) -> list[dict]:
    asked, said = in_any_heldout_set()
    items = []
    for model in MODELS:
        for row in xs[model].values():
            if not row["agreed"] or row["id"] in asked or row["prompt"] in asked or row["completion"] in said:
                continue
            refused = row["final_label"] != COMPLY
            items.append({"prompt": row["prompt"], "text": row["completion"], "refusal": refused, "source": source_of(row)})
    items = random.Random(f"{SEED}:refusals").sample(items, len(items))
    return [{"id": f"rd-{n:03d}", **item} for n, item in enumerate(items, 1)]


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
    xs = load_xstest(parser.parse_args().xstest)
    items = build(xs)
    write_jsonl(OUT, items)
    counts = {label: sum(i["label"] == label for i in items) for label, _, _ in RULES}
    print(f"wrote {OUT.relative_to(ROOT)}: {len(items)} items {counts}")
    refusals = build_refusals(xs)
    write_jsonl(REFUSALS_OUT, refusals)
    print(f"wrote {REFUSALS_OUT.relative_to(ROOT)}: {len(refusals)} items, {sum(i['refusal'] for i in refusals)} refusals")


if __name__ == "__main__":
    main()
