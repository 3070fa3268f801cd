"""Build the fast scorer (src/constitutional/evals/data/fast_scorer.npz): the local model scorer distilled.

    python benchmarks/build_fast_scorer.py PATH/TO/hh-rlhf [--limit N]

Training text, fixed by SOURCES and the seed:
- anthropics/hh-rlhf (MIT licence), `harmless-base/test.jsonl.gz`: real requests and real assistant answers. Each
  conversation gives the first request with the sentences of its first answer; the last request with the sentences
  of the rejected last answer after the chosen one as a draft (a revision of an answer to the same request); and,
  for a share of conversations, answer sentences after an unrelated request (substance that is not about it).
- the project's development sets, tests/data/labelled/verdicts*.jsonl and tests/data/calibration/xstest_dev.jsonl:
  every revision sentence after its request (and draft), and every draft sentence after its request.

The frozen held-out sets (tests/data/heldout*/) are never training input: the script refuses them as sources, and
reads them only to drop any example whose request or sentence also appears in one of them.

The teacher is the bundled model's PMI (`load_scorer("local")`) with the reply cache, so a rebuild costs no decoding.
The student (constitutional.evals.fast_scorer) is fitted by ridge regression; the weights and a manifest (sources,
licence, counts, and a hash of every training request and sentence) go into the package.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from constitutional.text import normalise, sentences, words

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
FROZEN = tuple(sorted(DATA.glob("heldout*")))
DEV_SETS = (
    DATA / "labelled" / "verdicts.jsonl",
    DATA / "labelled" / "verdicts_heldout.jsonl",
    DATA / "labelled" / "verdicts_heldout2.jsonl",
    DATA / "calibration" / "xstest_dev.jsonl",
)
HH_FILE = "harmless-base/test.jsonl.gz"
SOURCES = [
    {
        "name": "anthropics/hh-rlhf",
        "file": HH_FILE,
        "url": "https://github.com/anthropics/hh-rlhf",
        "licence": "MIT",
    },
    *({"name": str(p.relative_to(ROOT)), "licence": "project development set"} for p in DEV_SETS),
]
SEED = "fast-scorer-2026-12-08"
DRAWN = 520  # hh-rlhf conversations drawn with the seed, in order
CONVERSATIONS = 520  # the first this many of them are used (the teacher's budget)
MISMATCHED = 0.3  # share of them whose answer is also scored after an unrelated request
SENTENCES_PER_ANSWER = 5
MIN_WORDS = 3
WEIGHTS = ROOT / "src" / "constitutional" / "evals" / "data" / "fast_scorer.npz"
MANIFEST = ROOT / "src" / "constitutional" / "evals" / "data" / "fast_scorer_manifest.json"


@dataclass(frozen=True)
class Example:
    request: str
    sentence: str
    draft: str | None
    source: str


def refuse_frozen(path: Path) -> Path:
    """A source path, unless it is (inside) a frozen held-out set."""
    resolved = path.resolve()
    if any(resolved == f.resolve() or f.resolve() in resolved.parents for f in FROZEN):
        raise SystemExit(f"{path} is a frozen held-out set: it is never training data")
    return path


def text_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def frozen_hashes() -> set[str]:
    """Hashes of every request, draft and revision sentence of the frozen sets: examples to drop, never to use."""
    found = set()
    for path in sorted(p for folder in FROZEN for p in folder.glob("*.jsonl")):
        for row in map(json.loads, path.read_text("utf-8").splitlines()):
            for value in row.values():
                if isinstance(value, str) and words(value):
                    found.add(text_hash(value))
                    found.update(text_hash(s) for s in sentences(value))
    return found


def _answer_sentences(answer: str) -> list[str]:
    return [s for s in sentences(answer) if len(words(s)) >= MIN_WORDS][:SENTENCES_PER_ANSWER]


def _turns(conversation: str) -> list[tuple[str, str]]:
    """(request, answer) pairs of an hh-rlhf transcript."""
    pairs = []
    for block in conversation.split("\n\nHuman: ")[1:]:
        request, _, answer = block.partition("\n\nAssistant: ")
        pairs.append((request.strip(), answer.strip()))
    return pairs


def hh_examples(repo: Path, rng: random.Random) -> list[Example]:
    raw = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{HH_FILE}"], check=True, capture_output=True).stdout
    rows = [json.loads(line) for line in gzip.decompress(raw).decode("utf-8").splitlines() if line.strip()]
    chosen = rng.sample(rows, DRAWN)[:CONVERSATIONS]
    out = []
    for row in chosen:
        good, bad = _turns(row["chosen"]), _turns(row["rejected"])
        if not good or not bad:
            continue
        request, answer = good[0]
        out += [Example(request, s, None, "hh-rlhf:first") for s in _answer_sentences(answer)]
        (last_request, kept), (_, other) = good[-1], bad[-1]
        if len(good) > 1 and kept and other and kept != other:
            out += [Example(last_request, s, kept, "hh-rlhf:rejected-after-chosen") for s in _answer_sentences(other)]
        if rng.random() < MISMATCHED:
            unrelated = _turns(rng.choice(rows)["chosen"])[0][0]
            out += [Example(unrelated, s, None, "hh-rlhf:unrelated") for s in _answer_sentences(answer)[:2]]
    return out


def dev_examples() -> list[Example]:
    out = []
    for path in map(refuse_frozen, DEV_SETS):
        for row in map(json.loads, path.read_text("utf-8").splitlines()):
            draft, source = row.get("draft"), path.name
            revision = row.get("revision") or row.get("response") or ""
            out += [Example(row["prompt"], s, draft, source) for s in sentences(revision) if words(s)]
            if draft:
                out += [Example(row["prompt"], s, None, source) for s in sentences(draft) if words(s)]
    return out


def examples(hh_repo: Path) -> list[Example]:
    """Every training example once, in a fixed order, none sharing text with a frozen set."""
    rng = random.Random(SEED)
    drop = frozen_hashes()
    seen, out = set(), []
    for ex in dev_examples() + hh_examples(refuse_frozen(hh_repo), rng):
        key = (ex.request, ex.sentence, ex.draft)
        if key in seen or text_hash(ex.request) in drop or text_hash(ex.sentence) in drop:
            continue
        seen.add(key)
        out.append(ex)
    return out


def label(chosen: list[Example]) -> list[tuple[Example, float, float | None, int]]:
    """(example, pmi, pmi_draft, tokens) from the teacher, one scoring call per (request, draft)."""
    from constitutional.calls.cache import ReplyCache
    from constitutional.evals.scorer import load_scorer

    teacher = load_scorer("local", ReplyCache())
    assert teacher is not None
    groups: dict[tuple[str, str | None], list[Example]] = {}
    for ex in chosen:
        groups.setdefault((ex.request, ex.draft), []).append(ex)
    out, started = [], time.perf_counter()
    for i, ((request, draft), group) in enumerate(groups.items()):
        scores, _ = teacher.score(request, [ex.sentence for ex in group], draft)
        out += [(ex, s.pmi, s.pmi_draft, s.tokens) for ex, s in zip(group, scores)]
        if i % 50 == 0:
            print(f"teacher: {len(out)}/{len(chosen)} sentences, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("hh_rlhf", type=Path, help="a clone (or bare git directory) of github.com/anthropics/hh-rlhf")
    parser.add_argument("--label-only", action="store_true", help="fill the teacher's cache and stop")
    parser.add_argument("--limit", type=int, help="only the first N examples (the teacher's budget; in the manifest)")
    args = parser.parse_args()
    chosen = examples(args.hh_rlhf)[: args.limit]
    print(f"{len(chosen)} examples", file=sys.stderr)
    labelled = label(chosen)
    if args.label_only:
        return
    from fit_fast_scorer import fit_and_write

    fit_and_write(labelled, {"sources": SOURCES, "seed": SEED, "limit": args.limit}, WEIGHTS, MANIFEST, text_hash)


if __name__ == "__main__":
    main()
