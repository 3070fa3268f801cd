"""A red-team directory for the report tests, made from the shipped run of the built-in red team (its report.json and
its successes), without running it again."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from tests.helpers import DATA

if TYPE_CHECKING:
    from pathlib import Path

REDTEAM = DATA / "redteam"


def redteam_dir(where: Path) -> Path:
    out = where / "rt"
    out.mkdir(parents=True)
    shutil.copy(REDTEAM / "report-seed0.json", out / "report.json")
    shutil.copy(REDTEAM / "found.jsonl", out / "found.jsonl")
    (out / "attempts.jsonl").write_text("", encoding="utf-8")
    return out
