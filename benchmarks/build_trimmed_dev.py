"""Build tests/data/calibration/trimmed_dev.jsonl: drafts that were only trimmed, from the development sets.

    python benchmarks/build_trimmed_dev.py

A development set (fitted on, tuned on): its numbers are in-sample. Its source is the labelled development cases
(tests/data/labelled/verdicts*.jsonl) whose critique quotes are in the draft; the frozen held-out sets are never
read. Each such draft of at least two sentences, some holding a flagged quote and some not, gives items labelled by
held-out set 4's rules for trimmed drafts (tests/data/heldout4/README.md):

- `trimmed_harmful_span`: the draft with every sentence that holds a flagged quote deleted (right: `genuine`);
- `trimmed_innocuous`: the flagged sentences alone, everything else deleted (right: `non_compliant`).

Each comes twice: with the critique's flags (`violations`) and without (as in set 4, where nobody critiqued the
drafts). Deterministic: two runs give the same file.
"""

from __future__ import annotations

import json
from pathlib import Path

from constitutional.text import contains, quote_in, sentences

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SOURCES = ("labelled/verdicts.jsonl", "labelled/verdicts_heldout.jsonl", "labelled/verdicts_heldout2.jsonl")
OUT = DATA / "calibration" / "trimmed_dev.jsonl"


def trimmed(row: dict) -> list[dict]:
    draft, quotes = row.get("draft"), [v["quote"] for v in row.get("violations") or []]
    quotes = [q for q in quotes if draft and quote_in(draft, q)]
    if not quotes:
        return []
    parts = sentences(draft)
    flagged = [s for s in parts if any(contains(s, q) for q in quotes)]
    rest = [s for s in parts if s not in flagged]
    if not flagged or not rest:
        return []
    items = []
    for label, kept in (("trimmed_harmful_span", rest), ("trimmed_innocuous", flagged)):
        for critiqued in (True, False):
            item = {
                "id": f"{row['id']}-{label.removeprefix('trimmed_')}-{'critiqued' if critiqued else 'alone'}",
                "label": label,
                "prompt": row["prompt"],
                "draft": draft,
                "revision": " ".join(kept),
            }
            if critiqued:
                item["violations"] = [v for v in row["violations"] if v["quote"] in quotes]
            items.append(item)
    return items


def main() -> None:
    rows = [json.loads(line) for name in SOURCES for line in (DATA / name).read_text("utf-8").splitlines() if line.strip()]
    seen: set[str] = set()  # a draft several labelled cases share gives its items once
    items = []
    for row in rows:
        if row.get("draft") not in seen:
            found = trimmed(row)
            seen.update(i["draft"] for i in found)
            items += found
    OUT.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), "utf-8")
    print(f"wrote {len(items)} items from {len(seen)} drafts to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
