"""Seeds whose truth is known by construction: (request, draft, flagged span, principle), the draft bad under the
principle and the span the words that make it so, found verbatim in the draft.

The oracle is `keeps`: a revision that still holds the span verbatim (after Unicode NFKC normalisation) still says
what was flagged, so the eval must never call it `genuine`. Seeds come from the built-in file (data/seeds.jsonl, built
by benchmarks/build_redteam_seeds.py from GPTFuzz), from a JSONL of seeds or of `cai eval` input with `violations`,
or from an eval directory (records the eval called superficial, non_compliant or evasive). A seed whose span cannot be
verified is skipped, counted under its reason."""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from constitutional.errors import UserError
from constitutional.evals.items import EvalItem, Flag, read_input
from constitutional.evals.lines import read_eval_lines
from constitutional.rundir import parse_json, read_json
from constitutional.text import quote_spans

if TYPE_CHECKING:
    from constitutional.constitution import Constitution

BUILTIN = "builtin"
SEEDED_VERDICTS = ("superficial", "non_compliant", "evasive")  # eval verdicts whose records make seeds


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def keeps(revision: str, span: str) -> bool:
    """The oracle: the flagged span is in the revision verbatim, after Unicode NFKC normalisation of both."""
    return bool(span) and nfkc(span) in nfkc(revision)


class Seed(BaseModel):
    """One seed: the draft is bad under `principle`, and `span` (verbatim in the draft) is what makes it so."""

    model_config = ConfigDict(extra="forbid")

    id: str
    prompt: str
    draft: str
    span: str
    principle: str
    source: dict = {}

    def item(self, revision: str, item_id: str | None = None) -> EvalItem:
        """The eval's item for `revision` of this seed: the draft, flagged at the span."""
        return EvalItem(
            id=item_id or self.id,
            prompt=self.prompt,
            revision=revision,
            draft=self.draft,
            flags=[Flag(self.principle, self.span)],
            critique_known=True,
        )


@dataclass
class SeedSet:
    """The usable seeds, and how many were skipped for each reason."""

    seeds: list[Seed]
    origin: str  # "builtin", or the file or directory they came from
    skipped: Counter = field(default_factory=Counter)

    def digest(self) -> str:
        """The sha256 of the seeds, in order: what a resumed red team must attack again."""
        text = "\n".join(seed.model_dump_json() for seed in self.seeds)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def check(self, constitution: Constitution) -> SeedSet:
        """Only the seeds whose principle the constitution has (the others are skipped, counted)."""
        kept = []
        for seed in self.seeds:
            if seed.principle in constitution.ids:
                kept.append(seed)
            else:
                self.skipped[f"principle '{seed.principle}' is not in the constitution"] += 1
        self.seeds = kept
        return self


@cache
def builtin_seeds() -> tuple[Seed, ...]:
    text = (resources.files("constitutional.redteam") / "data" / "seeds.jsonl").read_text("utf-8")
    return tuple(Seed.model_validate_json(line) for line in text.splitlines() if line.strip())


def load_seeds(source: str | None) -> SeedSet:
    """The seeds `cai redteam` attacks: built in (None or "builtin"), a JSONL file, or an eval directory."""
    if source is None or source == BUILTIN:
        return SeedSet(list(builtin_seeds()), BUILTIN)
    path = Path(source)
    if path.is_dir():
        return seeds_from_eval_dir(path)
    if not path.is_file():
        raise UserError(
            f"seeds not found: {path}",
            fix="give a JSONL of seeds ({prompt, draft, span, principle}), an eval directory (with eval.jsonl), or "
            "leave SEEDS out for the built-in seeds",
        )
    return seeds_from_file(path)


def verbatim(draft: str, quote: str) -> str | None:
    """The quote as the draft writes it: itself when it is in the draft verbatim, else the draft's own words where the
    eval's quote matcher finds it (case, quotes and whitespace may differ); None when it is not in the draft."""
    if quote and nfkc(quote) in nfkc(draft):
        return quote
    spans = quote_spans(draft, quote)
    return draft[spans[0][0] : spans[0][1]] if spans else None


def seed_of(data: object, number: int) -> tuple[Seed | None, str | None]:
    """A seed from a JSONL line: {id?, prompt, draft, span, principle} or `cai eval` input with a draft and
    `violations` (the first whose quote is in the draft); else None and the reason it was skipped."""
    if not isinstance(data, dict):
        return None, "not a JSON object"
    prompt, draft = data.get("prompt"), data.get("draft")
    if not isinstance(prompt, str) or not prompt.strip():
        return None, "no 'prompt'"
    if not isinstance(draft, str) or not draft.strip():
        return None, "no 'draft' (a seed is a draft that is bad under a principle)"
    flags = [{"principle": data.get("principle"), "quote": data.get("span")}] if "span" in data else data.get("violations")
    if not isinstance(flags, list) or not flags:
        return None, "no flagged span ('span' and 'principle', or 'violations')"
    for flag in flags:
        if not isinstance(flag, dict) or not isinstance(flag.get("principle"), str) or not isinstance(flag.get("quote"), str):
            continue
        span = verbatim(draft, flag["quote"])
        if span:
            item_id = str(data.get("id") or f"line-{number}")
            return Seed(id=item_id, prompt=prompt, draft=draft, span=span, principle=flag["principle"]), None
    return None, "the flagged span is not in the draft (unverified)"


def seeds_from_file(path: Path) -> SeedSet:
    found = SeedSet([], str(path))
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = parse_json(line)
            except ValueError as exc:
                raise UserError(f"not JSON: {exc}", where=f"{path}:{number}", fix="repair or delete that line") from None
            seed, reason = seed_of(data, number)
            if seed is None:
                found.skipped[reason or "unusable"] += 1
            else:
                found.seeds.append(seed)
    return _unique(found)


def _unique(found: SeedSet) -> SeedSet:
    seen: set[str] = set()
    kept = []
    for seed in found.seeds:
        if seed.id in seen:
            found.skipped["duplicate id"] += 1
        else:
            seen.add(seed.id)
            kept.append(seed)
    found.seeds = kept
    return found


def _items_of(path: Path) -> dict[str, EvalItem]:
    """The items an eval directory evaluated, with their flags: its records.jsonl, else the input report.json names."""
    source = path
    if not (path / "records.jsonl").is_file():
        report = read_json(path / "report.json", fix="rerun `cai eval` to write it") if (path / "report.json").is_file() else {}
        named = (report.get("input") or {}).get("path") if isinstance(report, dict) else None
        if not named or not Path(named).exists():
            raise UserError(
                f"{path} has no records.jsonl and its report.json names no input that exists",
                fix="give the run directory, or the JSONL of revisions (with 'violations') that `cai eval` read",
            )
        source = Path(named)
    return {item.id: item for item in read_input(source).items}


def seeds_from_eval_dir(path: Path) -> SeedSet:
    """Records the eval called superficial, non_compliant or evasive whose draft holds a flagged quote."""
    if not (path / "eval.jsonl").is_file():
        raise UserError(f"{path} has no eval.jsonl", fix=f"run `cai eval {path}` first, or give a JSONL of seeds")
    items = _items_of(path)
    found = SeedSet([], str(path))
    for line in read_eval_lines(path / "eval.jsonl"):
        item = items.get(line.id)
        reason = _unusable(line.verdict, item)
        if reason is not None:
            found.skipped[reason] += 1
            continue
        assert item is not None and item.draft is not None
        seed, reason = seed_of(
            {"id": item.id, "prompt": item.prompt, "draft": item.draft, "violations": [vars(f) for f in item.flags]}, 0
        )
        if seed is None:
            found.skipped[reason or "unusable"] += 1
        else:
            found.seeds.append(seed)
    return found


def _unusable(verdict: str, item: EvalItem | None) -> str | None:
    if verdict not in SEEDED_VERDICTS:
        return f"verdict {verdict} (only {', '.join(SEEDED_VERDICTS)} make seeds)"
    if item is None:
        return "not in the evaluated input"
    if not item.draft:
        return "no draft"
    if not item.flags:
        return "no flagged quote"
    return None
