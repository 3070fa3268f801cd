"""The per-record list that ends `cai report DIR` (text and Markdown): one row per record of eval.jsonl with its id,
verdict, confidence, review flag and first reason; a person's verdict (labels.jsonl) shown in place of the eval's.
`--records all|review|VERDICT` chooses the rows; without it every record is listed up to DEFAULT_SHOWN, with a line
saying how many more there are. Records waiting for a person come first, then the rest, each in eval.jsonl order."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from constitutional.errors import UserError, did_you_mean, nearest
from constitutional.evals.labels import Label, read_labels

if TYPE_CHECKING:
    from collections.abc import Iterable

    from constitutional.evals.lines import EvalLine
    from constitutional.reports.render_data import ReportDir

ALL, REVIEW = "all", "review"
DEFAULT_SHOWN = 50  # rows listed without --records; `--records all` lists every one


@dataclass(frozen=True)
class RecordRow:
    id: str
    eval_verdict: str
    confidence: float | None
    needs_review: bool  # the eval sent it to a person
    reason: str  # the eval's first reason
    person: str | None = None  # a person's verdict on the whole record (labels.jsonl, the latest line wins)
    note: str | None = None  # the person's note
    leaning: str | None = None  # an undecided verdict's best guess, where the eval line has one

    @property
    def verdict(self) -> str:
        """What the record is now: a person's verdict wins over the eval's, as everywhere in the reports."""
        return self.person or self.eval_verdict

    @property
    def awaiting_review(self) -> bool:
        return self.needs_review and self.person is None

    @property
    def flag(self) -> str:
        """'needed': the eval sent it to review and no person has decided; 'done': a person's verdict is shown."""
        return "done" if self.person else "needed" if self.needs_review else ""

    @property
    def why(self) -> str:
        """The reason column: the first reason (what an undecided verdict leans to first); under a person's verdict,
        what the eval said, and the person's note where there is one."""
        if self.person:
            said = "" if self.person == self.eval_verdict else f"eval said {self.eval_verdict}"
            if self.note:
                return f'{said}; "{self.note}"' if said else f'"{self.note}"'
            return f"{said}: {self.reason}" if said else self.reason
        return f"leaning {self.leaning}: {self.reason}" if self.leaning else self.reason


@dataclass
class RecordList:
    rows: list[RecordRow]
    matching: int  # records that match `which`; more than len(rows) when the default cap cut the list
    which: str | None  # None: every record, capped at DEFAULT_SHOWN; else all, review or a verdict
    dir: str  # the directory, as a shell word for the commands the list suggests

    @property
    def hidden(self) -> int:
        return self.matching - len(self.rows)

    @property
    def title(self) -> str:
        n = self.matching
        if self.which == REVIEW:
            return f"Records that need review and have no person's verdict ({n})"
        if self.which != ALL and self.which is not None:
            return f"Records whose verdict is {self.which} ({n})"
        listed = f"{len(self.rows)} of {n}" if self.hidden else str(n)
        return f"Records ({listed}; those waiting for a person first)"

    @property
    def empty(self) -> str:
        """The line shown instead of rows when nothing matches."""
        if self.which == REVIEW:
            return "No record is waiting for a person's review."
        return f"No record is {self.which}." if self.which not in (None, ALL) else "No records."

    @property
    def more(self) -> str:
        """The line under a list the default cap cut, saying how to see the rest."""
        if not self.hidden:
            return ""
        return (
            f"{self.hidden} more not listed: `cai report {self.dir} --records all` lists every record "
            f"(`--records review`: those waiting for a person; `--records VERDICT`: one verdict)"
        )


LEGEND = (
    "review: needed = waiting for a person (`cai review`); done = a person's verdict (labels.jsonl), shown in place of the eval's"
)


def choices(verdicts: Iterable[str]) -> list[str]:
    return [ALL, REVIEW, *dict.fromkeys(verdicts)]


def parse_which(value: str | None, verdicts: Iterable[str]) -> str | None:
    """--records as given (None when it was not), or a UserError naming the choices."""
    known = choices(verdicts)
    if value is None or value in known:
        return value
    raise UserError(
        f"unknown --records value '{value}'",
        fix=did_you_mean(nearest(value, known), f"use one of: {', '.join(known)}"),
    )


def row_of(line: EvalLine, label: Label | None) -> RecordRow:
    return RecordRow(
        id=line.id,
        eval_verdict=line.verdict,
        confidence=line.confidence,
        needs_review=line.needs_review,
        reason=" ".join(line.reasons[0].split()) if line.reasons else "",
        person=label.verdict if label else None,
        note=" ".join(label.note.split()) if label and label.note else None,
        leaning=line.leaning,
    )


def _wanted(row: RecordRow, which: str | None) -> bool:
    if which in (None, ALL):
        return True
    return row.awaiting_review if which == REVIEW else row.verdict == which


def record_list(run: ReportDir, which: str | None = None, cap: int = DEFAULT_SHOWN) -> RecordList:
    """The rows `which` chooses (see parse_which), those waiting for a person first; at most `cap` when `which` is None.
    A later eval line for an id replaces the earlier one."""
    labels = read_labels(run.path)
    rows: dict[str, RecordRow] = {}
    for line in run.lines:
        rows[line.id] = row_of(line, labels.get((line.id, None)))
    chosen = [row for row in rows.values() if _wanted(row, which)]
    ordered = [row for row in chosen if row.awaiting_review] + [row for row in chosen if not row.awaiting_review]
    shown = ordered[:cap] if which is None else ordered
    return RecordList(shown, len(ordered), which, shlex.quote(str(run.path)))
