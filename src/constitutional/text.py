"""Text helpers shared by the signals (normalisation, words, sentences, overlap measures) and by what is printed."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[^a-z])|\n+")
SPACE = re.compile(r"\s+")
QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
# What a terminal acts on rather than shows: escape sequences (CSI "ESC [ ... final", OSC/DCS/PM/APC strings up to
# BEL or ESC \, any other ESC + one character), then single control characters: C0 but tab and newline, DEL, C1.
TERMINAL_CONTROL = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|.?)"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]",
    re.S,
)

STOPWORDS = frozenset(
    "a an the and or but if then so of to in on at by for with from as is are was were be been being it its "
    "this that these those i you he she we they me him her us them my your his our their not no do does did "
    "have has had can could will would shall should may might must just very also than there here what which "
    "who whom when where why how all any some such into about over up out more most other only own same too "
    "s t don't can't won't i'm it's you're that's".split()
)


# Letters of Cyrillic, Greek and IPA that look like Latin ones (the common part of Unicode's confusables), one for one.
LOOK_ALIKES = dict(
    zip(
        "аеіјорсухѕһԁӏԛԝүɑɡıАВЕКМНОРСТХІЈЅҮԚԜοναιρυκΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
        "aeijopcyxshdlqwyagiABEKMHOPCTXIJSYQWovaipukABEZHIKMNOPTYX",
        strict=True,
    )
)
FOLD_LOOK_ALIKES = str.maketrans(LOOK_ALIKES)
ANY_LOOK_ALIKE = re.compile(f"[{''.join(LOOK_ALIKES)}]")
LETTERS = re.compile(r"[^\W\d_]+")
INVISIBLE = frozenset("\u034f")  # the combining grapheme joiner; format characters (category Cf) are found by category


class _Compatible(dict):
    """str.translate's table for `plain`: a character's NFKC form, or nothing for one that shows nothing (zero-width
    spaces and joiners, word joiner, soft hyphen, BOM, bidi marks: category Cf); filled as characters are met."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        self[code] = "" if unicodedata.category(char) == "Cf" or char in INVISIBLE else unicodedata.normalize("NFKC", char)
        return self[code]


COMPATIBLE = _Compatible()


def _fold_word(match: re.Match) -> str:
    """A word whose every letter is Latin or looks Latin ("pаssword" with a Cyrillic а) as the Latin word it reads as;
    a word with a letter of another script that has no Latin look-alike ("хорошо") is left as it is."""
    word = match.group()
    return word.translate(FOLD_LOOK_ALIKES) if all(c.isascii() or c in LOOK_ALIKES for c in word) else word


def plain(text: str) -> str:
    """`text` as a reader sees it, the form every comparison of texts starts from: each character's NFKC form (full-width
    and styled letters, ligatures), invisible format characters dropped, look-alike letters in a Latin word folded.
    So zero-width characters and homoglyphs cannot make kept text read as rewritten."""
    if text.isascii():
        return text
    return _fold_look_alikes(text.translate(COMPATIBLE))


def _fold_look_alikes(text: str) -> str:
    return LETTERS.sub(_fold_word, text) if ANY_LOOK_ALIKE.search(text) else text


def normalise(text: str) -> str:
    """`plain`, lower case, unified quotes and dashes, whitespace collapsed: the form quotes are matched in."""
    return SPACE.sub(" ", plain(text).translate(QUOTES).lower()).strip()


def words(text: str) -> list[str]:
    return WORD.findall(plain(text).translate(QUOTES).lower())


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s and s.strip()]


NEAR_DUPLICATE = 0.8  # word-pair dice at or over which a sentence says again what an earlier one said
MAX_QUOTE_SPANS = 100  # places of one quote a report underlines (the first ones)
DUPLICATE_WINDOW = 50  # earlier sentences a sentence is compared with (exact repeats are found at any distance)


def said_once(text: str) -> list[str]:
    """The sentences of `text`, each said once: a sentence that repeats an earlier one, exactly or nearly, is left
    out, so saying a thing four times counts as saying it once."""
    kept: list[str] = []
    exact: set[str] = set()
    recent: list[tuple[Counter, int]] = []  # an earlier sentence's word pairs, and how many
    for sentence in sentences(text):
        key, pairs = normalise(sentence), shingles(words(sentence))
        size = sum(pairs.values())
        if key in exact or (len(pairs) > 2 and any(_near(pairs, size, *other) for other in recent)):
            continue
        kept.append(sentence)
        exact.add(key)
        recent = [*recent[-DUPLICATE_WINDOW + 1 :], (pairs, size)]
    return kept


def _near(a: Counter, size_a: int, b: Counter, size_b: int) -> bool:
    """dice(a, b) >= NEAR_DUPLICATE, not counted where the sizes alone rule it out (dice <= 2 min / (sum))."""
    return 2 * min(size_a, size_b) / (size_a + size_b) >= NEAR_DUPLICATE and dice(a, b) >= NEAR_DUPLICATE


def shingles(tokens: list[str]) -> Counter:
    """Word bigrams (single words for one-word texts): order-aware, cheap, robust to small edits."""
    if len(tokens) < 2:
        return Counter(tokens)
    return Counter(zip(tokens, tokens[1:]))


def overlap(a: Counter, b: Counter) -> int:
    """How many items the two have in common (a & b, without building it)."""
    if len(a) > len(b):
        a, b = b, a
    return sum(min(count, b[item]) for item, count in a.items() if item in b)


def dice(a: Counter, b: Counter) -> float:
    total = sum(a.values()) + sum(b.values())
    return 1.0 if total == 0 else 2 * overlap(a, b) / total


def contains(text: str, quote: str) -> bool:
    """Whether `quote` occurs in `text` after normalisation (case, quotes, whitespace)."""
    return within(normalise(text), quote)


def quote_in(text: str, quote: str) -> bool:
    """Whether a non-empty quote occurs in the text: the one test of "that quote is really there"."""
    return bool(quote.strip()) and contains(text, quote)


def within(normalised_text: str, quote: str) -> bool:
    """`contains` for a text already normalised, when many quotes are looked up in one text."""
    key = quote_key(quote)
    return bool(key) and key in normalised_text


def quote_key(quote: str) -> str:
    """What a quote is looked up as: normalised, without the punctuation and quote marks around it."""
    return normalise(quote).strip(" .,;:!?\"'")


def quote_spans(text: str, quote: str, limit: int = MAX_QUOTE_SPANS) -> list[tuple[int, int]]:
    """Where the quote occurs in `text`, as (start, end) offsets into `text`, found exactly when `quote_in` finds it
    (so the report underlines a quote if and only if the eval counted it as found). The quote is underlined as given,
    punctuation and all, where the text has it so; else its words alone. The first `limit` places only: one short
    quote repeated through a long text once matched 900,000 times, and the report underlined every one."""
    key = quote_key(quote)
    if not key:
        return []
    normalised, origin = _normalised_with_origin(text)
    for needle in (normalise(quote), key):
        spans: list[tuple[int, int]] = []
        start = normalised.find(needle)
        while start >= 0 and len(spans) < limit:
            spans.append((origin[start], origin[start + len(needle) - 1] + 1))
            start = normalised.find(needle, start + len(needle))
        if spans:
            return spans
    return []


@lru_cache(maxsize=4)  # a report looks up every flagged quote of a record in the same draft and revision
def _normalised_with_origin(text: str) -> tuple[str, list[int]]:
    """`normalise(text)` and, for each of its characters, the offset in `text` it came from."""
    chars: list[str] = []
    origin: list[int] = []
    shown, where = _plain_with_origin(text)
    for i, char in zip(where, shown.translate(QUOTES), strict=True):
        if SPACE.fullmatch(char):
            if chars and chars[-1] != " ":
                chars.append(" ")
                origin.append(i)
            continue
        for lowered in char.lower():
            chars.append(lowered)
            origin.append(i)
    if chars and chars[-1] == " ":
        chars.pop()
        origin.pop()
    return "".join(chars), origin


def _plain_with_origin(text: str) -> tuple[str, list[int]]:
    """`plain(text)` and, for each of its characters, the offset in `text` it came from."""
    if text.isascii():
        return text, list(range(len(text)))
    pieces, origin = [], []
    for i, char in enumerate(text):
        shown = char.translate(COMPATIBLE)
        pieces.append(shown)
        origin += [i] * len(shown)
    return _fold_look_alikes("".join(pieces)), origin  # folding look-alikes keeps the length


# Characters that show nothing but are not whitespace to str.strip(): zero-width spaces and joiners, the BOM, word
# joiner, bidi marks and the other format characters (category Cf) are found by category; these by name.
BLANK_LOOKING = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")


def blank(text: str | None) -> bool:
    """Whether `text` says nothing: empty once whitespace, control and format characters (zero-width spaces and
    joiners, the BOM, bidi marks) and the few letters that print as nothing (the Hangul fillers) are taken out."""
    return not text or all(char.isspace() or char in BLANK_LOOKING or unicodedata.category(char) in ("Cf", "Cc") for char in text)


def clip(text: str, limit: int = 70) -> str:
    """`text` on one line, cut to `limit` characters ('…' marks the cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# DEL, C1 controls (U+009B is CSI) and lone surrogates (which no stream can encode): json.dumps leaves them raw
UNESCAPED_CONTROL = re.compile("[\x7f-\x9f\ud800-\udfff]")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def json_for_terminal(json_text: str) -> str:
    """JSON text with the control characters json.dumps leaves raw written as \\u escapes: the same JSON, which no
    terminal acts on."""
    return UNESCAPED_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def printable(text: str) -> str:
    """`text` safe to print to a terminal: escape sequences and control characters (all but tab and newline)
    removed, so user or model text cannot retitle the window, clear the screen or move the cursor; a lone surrogate
    (from a JSON escape such as \\ud800) shown as U+FFFD, since no terminal encoding can write it."""
    return LONE_SURROGATE.sub("\ufffd", TERMINAL_CONTROL.sub("", text))
