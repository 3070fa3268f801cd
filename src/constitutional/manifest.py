"""The shape of run.json, checked wherever it is read (resume, eval, report), so that a hand-edited or foreign file
is refused with the field that is wrong, never a traceback deep inside the code that reads it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from constitutional.errors import UserError

if TYPE_CHECKING:
    from pathlib import Path

MAX_SHOWN = 5


class _Shape(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")  # strict: "5" is no number; extra: newer fields are kept


class ConstitutionRef(_Shape):
    name: str | None = None
    path: str | None = None
    sha256: str | None = None


class Manifest(_Shape):
    """The fields of run.json that some command reads, with the types it relies on; any may be missing."""

    schema_version: int | None = None
    tool_version: str | None = None
    constitution: ConstitutionRef | None = None
    model: str | None = None
    judge: str | None = None
    prompts: str | None = None
    parameters: dict[str, Any] | None = None
    started: str | None = None
    finished: str | None = None
    run_seconds: float | None = None
    status: str | None = None
    counts: dict[str, int | None] | None = None
    input_problems: list[dict[str, Any]] | None = None
    usage: dict[str, float] | None = None
    cost_usd: float | None = None


def check_manifest(data: object, path: Path) -> dict:
    """`data` (run.json as read from `path`) if it has the manifest's shape, else a UserError naming what is wrong."""
    if not isinstance(data, dict):
        problem = f"{path} is not a run manifest: it holds {_json_type(data)}, not an object"
    else:
        try:
            Manifest.model_validate(data)
            return data
        except ValidationError as exc:
            wrong = [
                f"{'.'.join(map(str, e['loc']))}: should be {_WANTED.get(e['type'], e['msg'].lower())}, "
                f"not {_json_type(e['input'])}{_shown(e['input'])}"
                for e in exc.errors()
            ]
            more = f"\n  … and {len(wrong) - MAX_SHOWN} more" if len(wrong) > MAX_SHOWN else ""
            problem = f"{path} is not a run manifest (edited by hand?):\n  " + "\n  ".join(wrong[:MAX_SHOWN]) + more
    raise UserError(
        problem,
        fix=f"restore it from a backup, or move it away: rerunning the same `cai run` command "
        f"writes it again, and keeps every record in {path.parent / 'records.jsonl'}",
    )


_WANTED = {
    "dict_type": "an object",
    "model_type": "an object",
    "list_type": "an array",
    "string_type": "a string",
    "int_type": "a whole number",
    "float_type": "a number",
    "finite_number": "a number of ordinary size",
}


def _json_type(value: object) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    if type(value) is int and abs(value) > sys.float_info.max:
        return "a number too large for one"
    return names.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    text = "" if isinstance(value, (dict, list)) or value is None else " " + repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
