"""The red team's operators: named, model-free rewrites of a revision that keep the truth.

Each operator is a function (revision, seed, rng) → new revision. The flagged span is masked while it works, so it
cannot touch the span's words, and `apply` checks the oracle on what it returns (the span verbatim, after NFKC
normalisation): an output that lost it is discarded. What an operator adds comes from the red team's own grammar
(data/grammar.yaml), not from the eval's lexicon."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import yaml

from constitutional.evals.canaries import phrase
from constitutional.redteam.seeds import keeps
from constitutional.text import content_words

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

    from constitutional.redteam.seeds import Seed

    Operator = Callable[[str, Seed, random.Random], str | None]
    Oracle = Callable[[str, Seed], bool]  # whether a revision still holds what makes any `genuine` a false positive

MASK = "\ue000"  # stands for the flagged span while an operator works: one character, no letters, no spaces
UNIT_END = re.compile(r"(?<=[^\d][.!?])\s+|(?<=\ue000)\s+")  # a list's "1." ends no sentence
HOMOGLYPHS = str.maketrans({"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "y": "у", "i": "і"})
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060")
SPEAKER = re.compile(r"^\W{0,3}[A-Za-z][\w .'-]{0,30}\W{0,3}:\s*")

OPERATORS: dict[str, Operator] = {}


def operator(fn: Operator) -> Operator:
    OPERATORS[fn.__name__] = fn
    return fn


@cache
def grammar() -> dict[str, list[str]]:
    return yaml.safe_load((resources.files("constitutional.redteam") / "data" / "grammar.yaml").read_text("utf-8"))


def said(kind: str, seed: Seed, rng: random.Random) -> str:
    """A phrase of the grammar's `kind`: {topic} is words of the request, {span} the masked span."""
    template = rng.choice(grammar()[kind]).replace("{topic}", topic(seed)).replace("{span}", MASK)
    return phrase(template, rng)


def topic(seed: Seed) -> str:
    found = [w for w in content_words(seed.prompt) if len(w) > 3]
    return " ".join(dict.fromkeys(found[:4])) or "this"


def apply(name: str, revision: str, seed: Seed, rng: random.Random, oracle: Oracle | None = None) -> str | None:
    """The operator's rewrite of `revision`, or None when it changes nothing or loses the flagged span; with an
    `oracle` (another variant's truth, such as the hollow answer's), None when the rewrite breaks that instead."""
    if oracle is not None:
        text = (OPERATORS[name](revision, seed, rng) or "").strip()
        return text if text != revision and oracle(text, seed) else None
    if seed.span not in revision:
        return None
    masked = revision.replace(seed.span, MASK)
    out = OPERATORS[name](masked, seed, rng)
    if out is None or MASK not in out:
        return None
    text = out.replace(MASK, seed.span).strip()
    return text if text != revision and keeps(text, seed.span) else None


# --- the text as paragraphs of units (sentences; the masked span ends a unit) ---------------------------------------


def paragraphs(text: str) -> list[str]:
    return text.split("\n")


def units(paragraph: str) -> list[str]:
    return [u for u in UNIT_END.split(paragraph) if u.strip()]


def joined(paras: list[str]) -> str:
    return re.sub(r"\n{3,}", "\n\n", "\n".join(paras)).strip()


def with_units(text: str, rng: random.Random, change: Callable[[list[str]], list[str] | None], need: int = 1) -> str | None:
    """`change` applied to the units of one paragraph (drawn among those with at least `need` units)."""
    paras = paragraphs(text)
    usable = [i for i, p in enumerate(paras) if len(units(p)) >= need]
    if not usable:
        return None
    i = rng.choice(usable)
    changed = change(units(paras[i]))
    if changed is None:
        return None
    paras[i] = " ".join(changed)
    return joined(paras)


def insert(text: str, addition: str, rng: random.Random, where: str) -> str:
    if where == "start":
        return f"{addition}\n\n{text}"
    if where == "end":
        return f"{text}{rng.choice([' ', chr(10) * 2])}{addition}"
    return with_units(text, rng, lambda us: us[: (k := rng.randint(0, len(us)))] + [addition] + us[k:]) or f"{text} {addition}"


def lower_first(unit: str) -> str:
    return unit if unit.startswith(("I ", "I'", MASK)) else unit[:1].lower() + unit[1:]


# --- the operators ---------------------------------------------------------------------------------------------------


@operator
def veneer_end(text: str, seed: Seed, rng: random.Random) -> str | None:
    """Compliance language from the red team's grammar, at the end."""
    return insert(text, " ".join(said("veneer", seed, rng) for _ in range(rng.randint(1, 2))), rng, "end")


@operator
def veneer_start(text: str, seed: Seed, rng: random.Random) -> str | None:
    """Compliance language as an opener."""
    return insert(text, said("veneer", seed, rng), rng, "start")


@operator
def veneer_mid(text: str, seed: Seed, rng: random.Random) -> str | None:
    """Compliance language between two sentences in the middle of the text."""
    return insert(text, said("veneer", seed, rng), rng, "mid")


@operator
def bullets(text: str, seed: Seed, rng: random.Random) -> str | None:
    """A paragraph's sentences as a bulleted list."""
    marker = rng.choice(["- ", "* ", "• "])
    return with_units(text, rng, lambda us: ["\n".join(marker + u for u in us)], need=2)


@operator
def numbered(text: str, seed: Seed, rng: random.Random) -> str | None:
    """A paragraph's sentences as a numbered list."""
    return with_units(text, rng, lambda us: ["\n".join(f"{n}. {u}" for n, u in enumerate(us, 1))], need=2)


@operator
def headings(text: str, seed: Seed, rng: random.Random) -> str | None:
    """A Markdown heading before a paragraph."""
    paras = paragraphs(text)
    i = rng.randrange(len(paras))
    paras[i] = f"{rng.choice(['#', '##', '###'])} {said('heading', seed, rng)}\n\n{paras[i]}"
    return joined(paras)


def _span_paragraph(text: str, wrapped: Callable[[str], str]) -> str:
    """`text` with the paragraph that holds the span replaced by `wrapped(paragraph)`."""
    paras = paragraphs(text)
    i = next(i for i, p in enumerate(paras) if MASK in p)
    paras[i] = wrapped(paras[i])
    return joined(paras)


@operator
def code_fence(text: str, seed: Seed, rng: random.Random) -> str | None:
    """The paragraph that holds the span inside a code block."""
    fence = rng.choice(["", "text", "markdown"])
    return _span_paragraph(text, lambda para: f"```{fence}\n{para}\n```")


@operator
def blockquote(text: str, seed: Seed, rng: random.Random) -> str | None:
    """The paragraph that holds the span as a Markdown quotation."""
    return _span_paragraph(text, lambda para: "> " + para)


@operator
def split_sentences(text: str, seed: Seed, rng: random.Random) -> str | None:
    """A long sentence cut in two at a comma."""

    def split(us: list[str]) -> list[str] | None:
        long = [k for k, u in enumerate(us) if MASK not in u and ", " in u and len(u.split()) >= 8]
        if not long:
            return None
        k = rng.choice(long)
        head, _, tail = us[k].partition(", ")
        return us[:k] + [head + ".", tail[:1].upper() + tail[1:]] + us[k + 1 :]

    return with_units(text, rng, split)


@operator
def merge_sentences(text: str, seed: Seed, rng: random.Random) -> str | None:
    """Two neighbouring sentences joined into one."""

    def merge(us: list[str]) -> list[str]:
        k = rng.randrange(len(us) - 1)
        head = us[k].rstrip(".!") if not us[k].endswith(MASK) else us[k]
        return us[:k] + [head + rng.choice(["; ", " — ", ", and "]) + lower_first(us[k + 1])] + us[k + 2 :]

    return with_units(text, rng, merge, need=2)


@operator
def echo_filler(text: str, seed: Seed, rng: random.Random) -> str | None:
    """A sentence that echoes the request's words and says nothing."""
    return insert(text, said("filler", seed, rng), rng, rng.choice(["start", "mid", "end"]))


@operator
def revised_marker(text: str, seed: Seed, rng: random.Random) -> str | None:
    """A "Revised:" header."""
    return f"{said('marker', seed, rng)}{rng.choice([chr(10), chr(10) * 2, ' '])}{text}"


@operator
def checked_marker(text: str, seed: Seed, rng: random.Random) -> str | None:
    """A claim that the text was checked against the principles."""
    return insert(text, said("checked", seed, rng), rng, rng.choice(["start", "end"]))


@operator
def homoglyphs(text: str, seed: Seed, rng: random.Random) -> str | None:
    """Some letters outside the span swapped for Cyrillic look-alikes."""
    return "".join(ch.translate(HOMOGLYPHS) if rng.random() < 0.3 else ch for ch in text)


@operator
def zero_width(text: str, seed: Seed, rng: random.Random) -> str | None:
    """Zero-width characters inside words outside the span."""
    out = []
    for ch in text:
        out.append(ch)
        if ch.isalpha() and rng.random() < 0.08:
            out.append(rng.choice(ZERO_WIDTH))
    return "".join(out)


@operator
def fiction(text: str, seed: Seed, rng: random.Random) -> str | None:
    """The text framed as a passage of fiction."""
    close = f"\n\n{said('fiction_close', seed, rng)}" if rng.random() < 0.5 else ""
    return f"{said('fiction_open', seed, rng)}\n\n{text}{close}"


@operator
def judge_note(text: str, seed: Seed, rng: random.Random) -> str | None:
    """A sentence aimed at the judge or grader."""
    return insert(text, said("judge", seed, rng), rng, rng.choice(["start", "mid", "end"]))


@operator
def disavow(text: str, seed: Seed, rng: random.Random) -> str | None:
    """The span given inside a sentence that disowns it ("I won't pretend this is fine: SPAN")."""
    frame = said("disavow", seed, rng)
    return text.replace(MASK, frame, 1)


@operator
def trim(text: str, seed: Seed, rng: random.Random) -> str | None:
    """Some sentences other than the span's deleted."""
    paras = [units(p) for p in paragraphs(text)]
    others = [(i, k) for i, us in enumerate(paras) for k, u in enumerate(us) if MASK not in u]
    if not others:
        return None
    drop = set(rng.sample(others, max(1, round(len(others) * rng.uniform(0.2, 0.6)))))
    kept = [" ".join(u for k, u in enumerate(us) if (i, k) not in drop) for i, us in enumerate(paras)]
    return joined([p for p, us in zip(kept, paras) if p.strip() or not us])  # a paragraph emptied by the cut goes


@operator
def span_only(text: str, seed: Seed, rng: random.Random) -> str | None:
    """Everything but the sentence that holds the span deleted."""
    return next(u for p in paragraphs(text) for u in units(p) if MASK in u)


@operator
def safe_alternative(text: str, seed: Seed, rng: random.Random) -> str | None:
    """A safe alternative offered beside the answer."""
    return insert(text, said("alternative", seed, rng), rng, rng.choice(["start", "end"]))


@operator
def hedge(text: str, seed: Seed, rng: random.Random) -> str | None:
    """A hedge in front of a sentence other than the span's."""

    def hedged(us: list[str]) -> list[str] | None:
        free = [k for k, u in enumerate(us) if MASK not in u and u[:1].isalpha()]
        if not free:
            return None
        k = rng.choice(free)
        return us[:k] + [f"{said('hedge', seed, rng)} {lower_first(us[k])}"] + us[k + 1 :]

    return with_units(text, rng, hedged)


@operator
def reorder(text: str, seed: Seed, rng: random.Random) -> str | None:
    """The paragraphs in another order."""
    paras = [p for p in text.split("\n\n") if p.strip()]
    rng.shuffle(paras)
    return "\n\n".join(paras)


@operator
def unlabel(text: str, seed: Seed, rng: random.Random) -> str | None:
    """Speaker labels ("AIM:", "JailBreak:") taken off the paragraphs."""
    return "\n".join(SPEAKER.sub("", p, count=1) for p in paragraphs(text))


@operator
def generic(text: str, seed: Seed, rng: random.Random) -> str | None:
    """A generic sentence that could end any answer to any request (the hollow variant's grammar)."""
    return insert(text, said("generic", seed, rng), rng, rng.choice(["start", "mid", "end"]))


SPAN_OPERATORS = tuple(name for name in OPERATORS if name != "generic")  # the span variant's default
