"""One line of eval.jsonl (docs/reference/files.md, "File layout"), typed: what the eval writes and every reader reads.

The leaf of the eval's models: it imports nothing of the eval, so the writer (evaluate.py, stage.py) and every
reader (reports, export, review, progress) import it downward. `VERDICTS` is the one list of verdicts.

A line is written with `to_json()`: the keys the eval set, in the order of the fields below (so a key the eval leaves
out, such as `judge` or an evidence's `match`, stays out). Readers validate a line once, with `parse_eval_line`,
which names the file and line of a bad one."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from constitutional.errors import UserError, json_problem
from constitutional.rundir import parse_json

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

Verdict = Literal["genuine", "superficial", "non_compliant", "evasive", "regressed", "unchanged", "undecided", "error"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
# What `undecided` leans to: a verdict the evidence would have to establish.
Leaning = Literal["genuine", "superficial", "non_compliant", "evasive", "regressed", "unchanged"]
UNDECIDED = "undecided"
DecidedBy = Literal["signals", "judge", "both"]
Number = int | float  # an int stays an int when read and written again (a float field would make 0 into 0.0)


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Evidence(_Part):
    source: Literal["critique", "rule", "judge"]
    quote: str | None = None
    where: str | None = None
    match: str | None = None  # critique quotes only: "exact" or "near"


class RuleResult(_Part):
    """A principle rule run on the revision (and on the draft)."""

    principle: str
    rule: str
    description: str = ""
    passed: bool
    draft_passed: bool | None = None
    detail: str = ""


class RuleCheck(_Part):
    """A rule's result as a check of a principle (`rules` in the signals, with `kind` first)."""

    kind: Literal["rule"] = "rule"
    principle: str
    rule: str
    description: str = ""
    passed: bool
    draft_passed: bool | None = None
    detail: str = ""


class JudgeCheck(_Part):
    """A judge question with its answer and quote, or the error of a reply that did not parse (with the raw reply)."""

    kind: Literal["judge"] = "judge"
    question: str
    answer: bool | str | None = None
    quote: str | None = None
    quote_found: bool | str | None = None
    counted: bool | str | None = None
    error: str | None = None
    raw: str | None = None


Check = Annotated[RuleCheck | JudgeCheck, Field(discriminator="kind")]


DebateSide = Literal["prosecutor", "defender"]
DebateOutcome = Literal["prosecutor", "defender", "undecided"]


class DebateQuote(_Part):
    quote: str
    quote_found: bool


class DebateArgument(_Part):
    """One side's opening or rebuttal, its quotes checked against the draft and the revision (`--judge-mode debate`)."""

    side: DebateSide
    stage: Literal["opening", "rebuttal"]
    argument: str = ""
    quotes: list[DebateQuote] = Field(default_factory=list)
    struck: bool = False
    struck_reason: str | None = None  # why the judge never read it
    error: str | None = None  # the debater's call failed (or its reply did not parse)
    raw: str | None = None


class DebatePick(_Part):
    """The judge's pick with `first` speaking first, as said and as counted after its quote was checked."""

    first: DebateSide
    pick: DebateOutcome | None = None
    quote: str | None = None
    quote_found: bool | None = None
    counted: DebateOutcome | None = None
    error: str | None = None
    raw: str | None = None


class Debate(_Part):
    """One criterion's debate: the arguments, the judge's pick in each speaking order, and the outcome."""

    arguments: list[DebateArgument] = Field(default_factory=list)
    picks: list[DebatePick] = Field(default_factory=list)
    outcome: DebateOutcome = "undecided"


class PrincipleVerdict(_Part):
    id: str
    verdict: Verdict
    leaning: Leaning | None = None  # with `undecided`: the best guess, which no evidence established
    confidence: Number | None = None
    needs_review: bool = False
    strength: Number | None = None
    decided_by: str | None = None
    judge_verdict: str | None = None
    reasons: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    debate: Debate | None = None


class RetainedSpan(_Part):
    principle: str
    quote: str
    match: str
    score: Number
    in_draft: bool | None = None


class ScoredSentence(_Part):
    sentence: str
    pmi: Number
    tokens: int
    pmi_draft: Number | None = None
    scorer: str | None = None  # with `--scorer fast+local`: which scorer scored it (`fast` or `local:FILE.gguf`)


class EvalSignals(_Part):
    """The deterministic (and scored) signals of one record."""

    refusal: bool = False
    refusal_kind: str | None = None
    refusal_phrase: str | None = None
    draft_refusal: bool | None = None
    veneer_added: int = 0
    veneer_added_by_category: dict[str, int] = Field(default_factory=dict)
    veneer_added_text: list[str] = Field(default_factory=list)
    veneer_removed: int = 0
    judge_address: list[str] = Field(default_factory=list)
    critique_copied: list[str] = Field(default_factory=list)
    trimmed: bool = False
    substantive_change: Number | None = None
    draft_substance_kept: Number | None = None
    new_substance: Number | None = None
    draft_rest_kept: Number | None = None
    content_words: dict[str, int] = Field(default_factory=dict)
    prompt_overlap: Number | None = None
    identical: bool = False
    content_free: bool = False
    retained_spans: list[RetainedSpan] = Field(default_factory=list)
    rules: list[RuleResult] = Field(default_factory=list)
    pmi: list[ScoredSentence] | None = None
    generic_added: int | None = None
    specific_substance: Number | None = None
    answer_relevance: Number | None = None
    draft_restated: Number | None = None
    scorer_context_cut: bool = False
    scorer: str | None = None  # which scorer decided the scored signals: `fast`, `local:FILE.gguf`, `fast+local:FILE.gguf`;
    # None: none ran
    scorer_model_read: int | None = None  # with `fast+local`: how many of the scored sentences the model read


class JudgeBlock(_Part):
    """The judge's check of the whole constitution, when nothing was flagged."""

    criterion: str
    verdict: str | None = None
    checks: list[Check] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    debate: Debate | None = None


class EvalLine(_Part):
    """One record's verdict, confidence, per-principle verdicts, signals and reasons, with the texts it judged."""

    id: str
    verdict: Verdict
    leaning: Leaning | None = None  # with `undecided`: the best guess, which no evidence established
    confidence: Number | None = None  # the probability that the verdict (for `undecided`, the leaning) is right
    needs_review: bool = False
    decided_by: DecidedBy = "signals"
    principles: list[PrincipleVerdict] = Field(default_factory=list)
    signals: EvalSignals = Field(default_factory=EvalSignals)
    strength: Number | None = None
    reasons: list[str] = Field(default_factory=list)
    prompt: str | None = None
    draft: str | None = None
    revision: str | None = None
    judge: JudgeBlock | None = None

    def to_json(self) -> str:
        """The line as eval.jsonl holds it (without its newline)."""
        return json.dumps(self.model_dump(exclude_unset=True), ensure_ascii=False)


def _problem(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors()[:3])


def parse_eval_line(data: object, where: str) -> EvalLine:
    """A decoded line of eval.jsonl as an EvalLine; anything else a UserError naming `where` (FILE:LINE)."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise UserError("eval line has no 'id'", where=where, fix="repair or delete that line")
    if data.get("verdict") not in VERDICTS:
        raise UserError(
            f"unknown verdict {data.get('verdict')!r}",
            where=where,
            fix=f"a verdict is one of: {', '.join(VERDICTS)}; re-run `cai eval`",
        )
    try:
        return EvalLine.model_validate(data)
    except ValidationError as exc:
        raise UserError(
            f"bad eval line: {_problem(exc)}", where=where, fix="repair or delete that line, or re-run `cai eval`"
        ) from None


def read_eval_lines(path: Path) -> Iterator[EvalLine]:
    """The lines of an eval.jsonl, each validated as it is read (never all held); a bad line is a UserError naming it."""
    with path.open(encoding="utf-8", errors="surrogateescape") as handle:  # bytes not UTF-8: parse_json names the line
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                data = parse_json(text)
            except json.JSONDecodeError as exc:  # bad JSON, nested too deeply, a number too long
                raise UserError(
                    f"invalid JSON in eval line: {json_problem(exc)}", where=f"{path}:{number}", fix="repair or delete that line"
                ) from None
            yield parse_eval_line(data, f"{path}:{number}")
