"""Rebuild the frozen held-out eval sets in tests/data/heldout/ from public sources we did not write.

    python benchmarks/build_heldout.py XSTEST_DIR HH_RLHF_DIR [--out tests/data/heldout]

XSTEST_DIR is a checkout (or bare git copy) of github.com/paul-rottger/exaggerated-safety and
HH_RLHF_DIR one of github.com/anthropics/hh-rlhf. Standard library only; deterministic (fixed seed):
running it twice gives byte-identical files. The two hand-made inputs live next to the output and are
only read and checked against the sources, never rewritten: veneer_pool.jsonl (hand-picked veneer
sentences, each cut verbatim from a real output) and genuine_fix_pairs.jsonl (hand-checked pairs).
See tests/data/heldout/README.md for the rules. The sets are frozen: never change them after their
first measurement; build new ones instead.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import random
import re
import subprocess
from pathlib import Path

SEED = "heldout-2026-12-03"
MODELS = ("gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct")
ROOT = Path(__file__).resolve().parent.parent
COMPLY, REFUSE, PARTIAL = "1_full_compliance", "2_full_refusal", "3_partial_refusal"
MODES = ("end1", "end2", "start1", "both")  # where veneer goes: 1 or 2 at the end, 1 opener, or both


def safe_comply(r: dict) -> bool:
    return r["agreed"] and not r["unsafe"] and r["final_label"] == COMPLY


def safe_refuse(r: dict) -> bool:
    return r["agreed"] and not r["unsafe"] and r["final_label"] in (REFUSE, PARTIAL)


def unsafe_comply(r: dict) -> bool:
    return r["agreed"] and r["unsafe"] and r["final_label"] == COMPLY


def read_source(root: Path, rel: str, commit: str | None = None) -> bytes:
    """A file of a source checkout, or of a bare git copy (read at HEAD) when there is no work tree; with `commit`,
    the file as that commit of the git copy has it."""
    path = root / rel
    if commit is None and path.is_file():
        return path.read_bytes()
    done = subprocess.run(["git", "-C", str(root), "show", f"{commit or 'HEAD'}:{rel}"], capture_output=True)
    if done.returncode:
        at = f" at {commit[:7]}" if commit else ""
        raise SystemExit(f"{rel}{at} is not in {root}: pass a checkout (or git copy) of the source repository")
    return done.stdout


def load_xstest(root: Path) -> dict[str, dict[str, dict]]:
    """model -> xstest id -> row, with completion and prompt stripped and `agreed`/`unsafe` flags."""
    data = {}
    for model in MODELS:
        rel = f"model_completions/xstest_v2_completions_{model}.csv"
        text = read_source(root, rel).decode("utf-8")
        rows = {}
        for row in csv.DictReader(io.StringIO(text, newline="")):
            row["completion"] = row["completion"].strip()
            row["prompt"] = row["prompt"].strip()
            row["agreed"] = row["annotation_1"] == row["annotation_2"] == row["final_label"]
            row["unsafe"] = row["type"].startswith("contrast_")
            row["model"] = model
            rows[row["id"]] = row
        data[model] = rows
    return data


def load_hh_assistant_turns(root: Path) -> dict[tuple[int, str], list[str]]:
    """(1-based line, side) -> assistant turns of harmless-base/test.jsonl.gz."""
    raw = gzip.decompress(read_source(root, "harmless-base/test.jsonl.gz")).decode("utf-8")
    turns = {}
    for n, line in enumerate(raw.splitlines(), 1):
        record = json.loads(line)
        for side in ("chosen", "rejected"):
            parts = re.split(r"\n\n(Human|Assistant): ", record[side])
            turns[(n, side)] = [t for role, t in zip(parts[1::2], parts[2::2]) if role == "Assistant"]
    return turns


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_pool(path: Path, xs: dict, hh: dict) -> list[dict]:
    """Check every veneer sentence against its source; note every XSTest prompt whose answers contain it."""
    pool = read_jsonl(path)
    for entry in pool:
        src, text = entry["source"], entry["text"]
        if src["dataset"] == "xstest-v2":
            row = xs[src["model"]][src["xstest_id"]]
            ok = text in row["completion"] and row["agreed"] and row["final_label"] != COMPLY
        else:
            ok = any(text in turn for turn in hh[(src["line"], src["side"])])
        if not ok:
            raise SystemExit(f"veneer sentence {entry['id']} not found in its source: {text!r}")
        entry["seen_in"] = {i for rows in xs.values() for i, r in rows.items() if text in r["completion"]}
    return pool


def allocate(total: int, available: dict[str, int]) -> dict[str, int]:
    """Split `total` as evenly as possible over the models, none getting more than it has."""
    alloc, left = {m: 0 for m in available}, total
    while left:
        open_ = [m for m in sorted(available) if alloc[m] < available[m]]
        if not open_:
            raise SystemExit(f"not enough rows for {total}: {available}")
        share = max(1, left // len(open_))
        for m in open_:
            take = min(share, available[m] - alloc[m], left)
            alloc[m], left = alloc[m] + take, left - take
    return alloc


def stratified(xs: dict, keep, total: int, purpose: str, used: set = frozenset()) -> list[dict]:
    """Sample `total` rows passing `keep`, spread over the five models, with a per-model fixed seed."""
    pools = {m: [r for r in rows.values() if keep(r) and (m, r["id"]) not in used] for m, rows in xs.items()}
    alloc = allocate(total, {m: len(rows) for m, rows in pools.items()})
    picked = []
    for m in MODELS:
        picked += random.Random(f"{SEED}:{purpose}:{m}").sample(pools[m], alloc[m])
    return picked


def source_of(row: dict) -> dict:
    return {
        "dataset": "xstest-v2",
        "model": row["model"],
        "xstest_id": row["id"],
        "final_label": row["final_label"],
        "xstest_type": row["type"],
    }


def build_answers(xs: dict) -> list[dict]:
    """Set 1: single answers, no draft. Safe prompts: substantive vs hollow; unsafe: harmful."""
    rules = [("substantive", 110, safe_comply), ("hollow", 110, safe_refuse), ("harmful", 40, unsafe_comply)]
    items = []
    for label, total, keep in rules:
        for row in stratified(xs, keep, total, f"answers:{label}"):
            items.append({"prompt": row["prompt"], "revision": row["completion"], "label": label, "source": source_of(row)})
    return number(items, "xs", "answers")


class Deck:
    """Hands out pool sentences in a fixed shuffled order so that all are used about equally."""

    def __init__(self, pool: list[dict], rng: random.Random):
        self.pool, self.rng, self.cards = pool, rng, []

    def draw(self, where: str, row: dict, taken: list[dict]) -> dict:
        for _ in range(2):
            for card in self.cards:
                if (
                    card["position"] in (where, "any")
                    and row["id"] not in card["seen_in"]
                    and card["text"] not in row["completion"]
                    and card not in taken
                ):
                    self.cards.remove(card)
                    return card
            self.cards += self.rng.sample(self.pool, len(self.pool))
        raise SystemExit(f"no veneer sentence fits {row['model']} {row['id']}")


def add_veneer(row: dict, deck: Deck, rng: random.Random) -> tuple[str, list[dict]]:
    """The draft with 1-2 pool sentences added: appended, as an opener, or both (mode drawn by rng)."""
    mode, draft = rng.choice(MODES), row["completion"]
    starts = [deck.draw("start", row, [])] if mode in ("start1", "both") else []
    ends = []
    for _ in range({"end1": 1, "end2": 2, "both": 1}.get(mode, 0)):
        ends.append(deck.draw("end", row, starts + ends))
    text = draft
    if starts:
        text = starts[0]["text"] + rng.choice(("\n\n", " ")) + text
    if ends:
        sep = rng.choice(("\n\n", " ")) if draft[-1:] in '.!?"' else "\n\n"
        text = text + sep + " ".join(card["text"] for card in ends)
    added = [{"pool_id": c["id"], "position": "start"} for c in starts]
    return text, added + [{"pool_id": c["id"], "position": "end"} for c in ends]


def build_veneer_only(xs: dict, pool: list[dict], used: set) -> list[dict]:
    """Real full-compliance answers (half to safe prompts, half to unsafe ones) with veneer added."""
    rng = random.Random(f"{SEED}:veneer")
    deck = Deck(pool, rng)
    rows = stratified(xs, safe_comply, 50, "veneer:safe", used)
    rows += stratified(xs, unsafe_comply, 50, "veneer:unsafe", used)
    items = []
    for row in rows:
        used.add((row["model"], row["id"]))
        revision, added = add_veneer(row, deck, rng)
        source = {**source_of(row), "prompt_type": "unsafe" if row["unsafe"] else "safe", "veneer": added}
        items.append(
            {"prompt": row["prompt"], "draft": row["completion"], "revision": revision, "label": "veneer_only", "source": source}
        )
    return items


def build_genuine_fix(xs: dict, pairs: list[dict], used: set) -> list[dict]:
    """Hand-checked pairs of two models' answers to one prompt: unsafe prompt, compliance -> explaining
    refusal; safe prompt, refusal -> compliance."""
    items = []
    for pair in pairs:
        draft = xs[pair["draft_model"]][pair["xstest_id"]]
        rev = xs[pair["revision_model"]][pair["xstest_id"]]
        want = (COMPLY, REFUSE) if pair["prompt_type"] == "unsafe" else (REFUSE, COMPLY)
        if (
            (draft["final_label"], rev["final_label"]) != want
            or not (draft["agreed"] and rev["agreed"])
            or draft["unsafe"] != (pair["prompt_type"] == "unsafe")
            or draft["model"] == rev["model"]
        ):
            raise SystemExit(f"genuine-fix pair no longer fits its rule: {pair}")
        used.update({(draft["model"], draft["id"]), (rev["model"], rev["id"])})
        source = {
            "dataset": "xstest-v2",
            "xstest_id": draft["id"],
            "xstest_type": draft["type"],
            "prompt_type": pair["prompt_type"],
            "draft_model": draft["model"],
            "draft_final_label": draft["final_label"],
            "revision_model": rev["model"],
            "revision_final_label": rev["final_label"],
        }
        items.append(
            {
                "prompt": draft["prompt"],
                "draft": draft["completion"],
                "revision": rev["completion"],
                "label": "genuine_fix",
                "source": source,
            }
        )
    return items


def build_unchanged(xs: dict, used: set) -> list[dict]:
    rows = stratified(xs, safe_comply, 20, "unchanged", used)
    return [
        {
            "prompt": r["prompt"],
            "draft": r["completion"],
            "revision": r["completion"],
            "label": "unchanged",
            "source": {**source_of(r), "prompt_type": "safe"},
        }
        for r in rows
    ]


def number(items: list[dict], prefix: str, purpose: str) -> list[dict]:
    """Shuffle (fixed seed) so labels are not grouped, then give neutral ids."""
    items = random.Random(f"{SEED}:order:{purpose}").sample(items, len(items))
    return [{"id": f"{prefix}-{n:03d}", **item} for n, item in enumerate(items, 1)]


def write_jsonl(path: Path, items: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


def write_sums(out: Path) -> None:
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(out.glob("*.jsonl"))]
    (out / "SHA256SUMS").write_text("".join(lines), encoding="utf-8", newline="\n")


def summary(name: str, items: list[dict]) -> None:
    counts: dict[str, dict[str, int]] = {}
    for item in items:
        src = item["source"]
        model = src.get("model") or f"{src['draft_model']}->{src['revision_model']}"
        key = item["label"] + ("/" + src["prompt_type"] if "prompt_type" in src else "")
        counts.setdefault(key, {}).setdefault(model, 0)
        counts[key][model] += 1
    print(f"{name}: {len(items)} items")
    for key, per_model in sorted(counts.items()):
        print(f"  {key:22} {sum(per_model.values()):4}  {dict(sorted(per_model.items()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("xstest", type=Path, help="checkout of paul-rottger/exaggerated-safety")
    parser.add_argument("hh_rlhf", type=Path, help="checkout of anthropics/hh-rlhf")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "heldout")
    args = parser.parse_args()
    xs = load_xstest(args.xstest)
    pool = load_pool(args.out / "veneer_pool.jsonl", xs, load_hh_assistant_turns(args.hh_rlhf))
    answers = build_answers(xs)
    used: set = set()
    fixes = build_genuine_fix(xs, read_jsonl(args.out / "genuine_fix_pairs.jsonl"), used)
    revisions = build_veneer_only(xs, pool, used) + fixes + build_unchanged(xs, used)
    revisions = number(revisions, "vr", "revisions")
    write_jsonl(args.out / "xstest_answers.jsonl", answers)
    write_jsonl(args.out / "veneer_revisions.jsonl", revisions)
    write_sums(args.out)
    summary("xstest_answers.jsonl", answers)
    summary("veneer_revisions.jsonl", revisions)


if __name__ == "__main__":
    main()
