"""Refusal detection and its kind (lexicon: data/refusal.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from constitutional.evals.lexicon import refusal_lexicon


@dataclass(frozen=True)
class Refusal:
    refused: bool
    kind: str | None = None  # "bare" | "explained"
    explains: bool = False
    offers_alternative: bool = False
    phrase: str | None = None  # the words that refuse

    def to_dict(self) -> dict:
        return {
            "refused": self.refused,
            "kind": self.kind,
            "explains": self.explains,
            "offers_alternative": self.offers_alternative,
            "phrase": self.phrase,
        }


def detect_refusal(text: str) -> Refusal:
    lex = refusal_lexicon()
    if lex.not_refusal is not None:
        text = lex.not_refusal.sub(" ", text)
    match = lex.refusal.search(text)
    if match is None:
        return Refusal(False)
    explains = bool(lex.explains.search(text))
    alternative = bool(lex.offers_alternative.search(text))
    kind = "explained" if explains or alternative else "bare"
    return Refusal(True, kind, explains, alternative, match.group(0).strip())


def justifies_refusal(principle_id: str, tags: list[str] | tuple[str, ...]) -> bool:
    """Whether a principle the draft broke makes refusing a legitimate fix rather than evasion."""
    lex = refusal_lexicon()
    if tags:
        lowered = {t.lower() for t in tags}
        return bool(lowered & lex.justifying_tags) and not lowered & lex.non_justifying_tags
    return any(word in principle_id.lower() for word in lex.justifying_id_words)
