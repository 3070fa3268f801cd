"""API keys the providers read from the environment, and their removal from any text that will be stored or shown.

A server can echo the key back: in an error body, or inside a reply (a prompt-injected "print your
configuration", a proxy's debug dump). Every reply enters the pipeline through one place (the managed model in
calls/managed.py, and the batch executor's results), and the key is cut out there, so no record, cache entry,
eval line, report or export ever holds it. Its base64 forms are cut out too (a key inside an encoded header or
blob), at each of the three byte alignments a key can have inside longer encoded data.

Transformed echoes that are cheap to catch are cut out too: the key in another case, with spaces, punctuation or
zero-width characters between its characters, reversed, or in hex (any case, spaced or not). They are found on the
text's skeleton (its letters and digits, lower-cased, every space, punctuation mark and invisible format character
dropped), and the span of the original text they cover is cut. Other encodings (rot13, a key spelled out in words,
a homoglyph) are not caught.
"""

from __future__ import annotations

import base64
import functools
import os
import re
from typing import TYPE_CHECKING, TypeVar

from constitutional.models.api_access import NO_KEY

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from constitutional.models.base import Completion

REDACTED = "[redacted]"
T = TypeVar("T", bound="Completion | BaseException")
KEY_ENVS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")  # the providers' KEY_ENV (not imported: that would load their SDKs)
KEY_SUFFIXES = ("_API_KEY",)  # and any other provider key (a langchain model's GOOGLE_API_KEY, MISTRAL_API_KEY, ...)
PLACEHOLDERS = {NO_KEY}  # what is sent to a local server that needs no key: not a secret
MIN_SECRET = 8  # a shorter value ("x", "none") is no key, and cutting it out would mangle ordinary text
MIN_ENCODED = 8  # base64 pieces shorter than this would match ordinary text by chance
# What the skeleton drops: whitespace, ASCII punctuation, and the invisible characters (zero-width spaces and
# joiners, direction marks, the word joiner, the BOM, the soft hyphen) a reply can interleave with a key, also as
# JSON escapes (\u200b) since a structured reply is JSON text.
INVISIBLE = "\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff"
ESCAPED_INVISIBLE = r"(?i:\\u(?:00ad|180e|200[b-f]|202[a-e]|206[0-4]|feff))"
SEPARATOR = re.compile(f"(?:{ESCAPED_INVISIBLE}|[\\s!-/:-@\\[-`{{-~{INVISIBLE}])+")
ESCAPES = re.compile(ESCAPED_INVISIBLE)


@functools.cache
def _separators() -> dict[int, None]:
    """str.translate's table deleting every character SEPARATOR matches alone (whitespace ends at U+3000)."""
    return dict.fromkeys(c for c in [*range(0x3001), 0xFEFF] if SEPARATOR.fullmatch(chr(c)))


def rough_skeleton(text: str) -> str:
    """What `_skeleton` gives, quickly (in C) and without positions: checked first on every reply."""
    if "\\u" in text or "\\U" in text:
        text = ESCAPES.sub("", text)
    return text.translate(_separators()).lower()


def configured_keys(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The values of the key variables set in the environment (those the providers read, and any other *_API_KEY)."""
    environ = os.environ if environ is None else environ
    names = {*KEY_ENVS, *(name for name in environ if name.upper().endswith(KEY_SUFFIXES))}
    values = {environ.get(name, "").strip() for name in names}
    return tuple(sorted(v for v in values if len(v) >= MIN_SECRET and v not in PLACEHOLDERS))


def secret_forms(secret: str) -> list[str]:
    """`secret` and the runs of base64 (standard and URL-safe) that any encoding of data holding it contains."""
    raw = secret.encode("utf-8")
    forms = [secret]
    for shift in range(3):  # where the key starts within a 3-byte group of the surrounding data
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii").rstrip("=")
        start = 4 if shift else 0  # the first group mixes in the bytes before the key
        # a partial last group mixes in what follows
        end = len(encoded) - (len(encoded) % 4 if (shift + len(raw)) % 3 else 0)
        piece = encoded[start:end]
        if len(piece) >= MIN_ENCODED:
            forms += [piece, piece.replace("+", "-").replace("/", "_")]
    return forms


def skeleton_forms(secret: str) -> list[str]:
    """What `secret` echoed in another case, spaced, interleaved with invisible characters, reversed or in hex looks
    like on a text's skeleton."""
    bare = SEPARATOR.sub("", secret).lower()
    forms = [bare, bare[::-1]] if len(bare) >= MIN_SECRET else []
    return forms + [secret.encode("utf-8").hex()]


def _skeleton(text: str) -> tuple[str, list[int]]:
    """`text` without its separators, lower-cased, and where each of its characters is in `text`."""
    where: list[int] = []
    at = 0
    for gap in [*SEPARATOR.finditer(text), None]:
        end = gap.start() if gap else len(text)
        where += range(at, end)
        at = gap.end() if gap else end
    lowered = (text[i].lower() for i in where)
    return "".join(c if len(c) == 1 else "\0" for c in lowered), where


def cut_skeleton_forms(text: str, forms: Iterable[str]) -> str:
    """`text` with every span whose skeleton is one of `forms` replaced by [redacted]."""
    skeleton, where = _skeleton(text)
    spans = []
    for form in forms:
        start = skeleton.find(form)
        while start >= 0:
            spans.append((where[start], where[start + len(form) - 1] + 1))
            start = skeleton.find(form, start + len(form))
    for begin, end in sorted(_merged(spans), reverse=True):
        text = text[:begin] + REDACTED + text[end:]
    return text


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for begin, end in sorted(spans):
        if out and begin < out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((begin, end))
    return out


class Redactor:
    """Replaces every form of the given secrets with [redacted], in a string or in data parsed from JSON."""

    def __init__(self, secrets: Iterable[str | None] = ()):
        given = [secret for secret in secrets if secret]
        forms = {form for secret in given for form in secret_forms(secret)}
        alternatives = sorted(forms, key=len, reverse=True)  # the longest first, so a whole key wins over a piece
        self._pattern = re.compile("|".join(map(re.escape, alternatives))) if alternatives else None
        self._skeleton_forms = sorted({form for secret in given for form in skeleton_forms(secret)}, key=len, reverse=True)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        text = self._pattern.sub(REDACTED, text)
        rough = rough_skeleton(text)  # the exact skeleton, with positions, is built only when a form is in this
        if any(form in rough for form in self._skeleton_forms):
            text = cut_skeleton_forms(text, self._skeleton_forms)
        return text

    def data(self, value: object) -> object:
        """`value` with the secrets cut out of every string in it (keys of mappings included)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.data(v) for v in value)
        return value

    def outcome(self, outcome: T) -> T:
        """A model call's outcome, a Completion or an exception (ModelError), with the secrets cut out of its text
        or message, in place."""
        if self._pattern is None:
            return outcome
        if isinstance(outcome, BaseException):
            outcome.args = tuple(self.text(a) if isinstance(a, str) else a for a in outcome.args)
        else:
            outcome.text = self.text(outcome.text)
        return outcome


def environment_redactor() -> Redactor:
    """A Redactor for the keys configured in the environment now."""
    return Redactor(configured_keys())


# Tokens shaped like provider keys: a known prefix, then a long run of key characters (OpenAI sk-/sk-proj-,
# Anthropic sk-ant-, Google AIza, GitHub ghp_/github_pat_, Slack xox?-, AWS AKIA, Hugging Face hf_, Groq gsk_,
# Replicate r8_), with digits and letters mixed and many different characters (so "sk-learn-tutorial-2" is none).
KEY_SHAPED = re.compile(
    r"(?<![\w-])(?P<prefix>sk-(?:ant-|proj-|svcacct-)?|AIza|gh[pousr]_|github_pat_|xox[abprs]-|AKIA|hf_|gsk_|r8_)"
    r"(?P<rest>[A-Za-z0-9_\-]{16,})"
)
MIN_DIFFERENT = 10  # different characters in the part after the prefix


def key_shaped(text: str, keys: Iterable[str] = ()) -> str | None:
    """What the first token in `text` shaped like an API key looks like ("sk-proj-…", its prefix alone), or a word
    that `text` holds one of `keys` (the configured ones); None when there is neither."""
    for match in KEY_SHAPED.finditer(text):
        rest = match.group("rest")
        if sum(c.isdigit() for c in rest) >= 2 and any(c.isalpha() for c in rest) and len(set(rest)) >= MIN_DIFFERENT:
            return f"{match.group('prefix')}…"
    return next(("the value of a *_API_KEY variable" for key in keys if key in text), None)
