"""A red-team directory for the report tests, made from the shipped run of the built-in red team (its report.json and
the successes of it and two more runs), without running it again."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from constitutional.redteam.results import REGRESSIONS
from tests.helpers import DATA

if TYPE_CHECKING:
    from pathlib import Path

REDTEAM = DATA / "redteam"


def redteam_dir(where: Path) -> Path:
    out = where / "rt"
    out.mkdir(parents=True)
    shutil.copy(REDTEAM / "report-seed0.json", out / "report.json")
    shutil.copy(REGRESSIONS, out / "found.jsonl")  # the three runs' successes; report.json is the first run's
    (out / "attempts.jsonl").write_text("", encoding="utf-8")
    return out
