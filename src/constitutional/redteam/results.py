"""A `cai redteam` directory read back: report.json as a RedteamReport, found.jsonl as typed lines, and the summary an
eval report carries (`cai eval --redteam-report DIR`)."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from constitutional.errors import UserError, json_problem, require_exists
from constitutional.evals.report_model import RedteamSummary
from constitutional.redteam.report import RedteamReport
from constitutional.redteam.service import ATTEMPTS, FOUND, REPORT
from constitutional.rundir import parse_json, read_json

REGRESSIONS = Path(__file__).parent / "data" / "regressions.jsonl"  # the successes of the built-in red team, kept
BUILTIN = "builtin"


class _Read(BaseModel):
    model_config = ConfigDict(extra="allow")  # notes added later (a regression set's `hole`) are kept, not refused


class FoundFlag(_Read):
    principle: str
    quote: str


class FoundNote(_Read):
    """The red team's notes on a success: the seed, the query, the operators applied, what the eval said."""

    seed: str
    query: int
    operators: list[str] = []
    verdict: str
    confidence: float | None = None
    needs_review: bool
    decided_by: str | None = None
    tier: str | None = None


class Found(_Read):
    """A line of found.jsonl: one success, as `cai eval` input with the red team's notes."""

    id: str
    prompt: str
    draft: str
    revision: str
    violations: list[FoundFlag]
    redteam: FoundNote


@dataclass
class RedteamDir:
    path: Path
    report: RedteamReport
    found: list[Found]

    @property
    def html_path(self) -> Path:
        return self.path / "report.html"


def is_redteam_dir(path: Path) -> bool:
    """A directory `cai redteam` wrote (it has attempts.jsonl; an eval directory never does)."""
    return path.is_dir() and (path / ATTEMPTS).is_file()


def _problem(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])


def read_found(path: Path, fix: str) -> list[Found]:
    """found.jsonl's lines; one that does not read is a UserError naming its file and line."""
    found = []
    for number, line in enumerate(path.read_text("utf-8", errors="surrogateescape").splitlines(), 1):
        if not line.strip():
            continue
        try:
            found.append(Found.model_validate(parse_json(line)))
        except json.JSONDecodeError as exc:
            raise UserError(f"not a JSON line: {json_problem(exc)}", where=f"{path}:{number}", fix=fix) from None
        except ValidationError as exc:
            raise UserError(f"not a red-team success: {_problem(exc)}", where=f"{path}:{number}", fix=fix) from None
    return found


def load_redteam_dir(path: Path) -> RedteamDir:
    """The directory's report and successes, or an error that says what is wrong and how to fix it."""
    again = f"run `cai redteam ... --out {shlex.quote(str(path))}` again"
    require_exists(path, "red-team directory", fix="give the directory `cai redteam --out` wrote")
    if not path.is_dir() or not (path / ATTEMPTS).is_file():
        raise UserError(f"{path} is not a red-team directory: it has no {ATTEMPTS}", fix="give the --out of `cai redteam`")
    if not (path / REPORT).is_file():
        raise UserError(f"{path} has {ATTEMPTS} but no {REPORT}: the red team did not finish", fix=again)
    try:
        report = RedteamReport.model_validate(read_json(path / REPORT, fix=again))
    except ValidationError as exc:
        raise UserError(f"{path / REPORT} is not a red-team report: {_problem(exc)}", fix=again) from None
    found = read_found(path / FOUND, fix=again) if (path / FOUND).is_file() else []
    return RedteamDir(path, report, found)


def eval_summary(run: RedteamDir) -> RedteamSummary:
    """What an eval report carries of a red-team directory: its headline numbers (the report's fields of the same
    names) and where it is."""
    carried = set(RedteamSummary.model_fields) - {"path"}
    return RedteamSummary(path=str(run.path), **{name: getattr(run.report, name) for name in carried})
