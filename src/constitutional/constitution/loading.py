"""Load a constitution from YAML, TOML or JSON, with errors that point at the line to fix."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from constitutional.constitution.model import Constitution, fields_at
from constitutional.errors import UserError, did_you_mean, json_problem, nearest, require_exists
from constitutional.rundir import DEPTH_FIX, MAX_JSON_DEPTH, NUMBER_FIX, JSONLimitError, parse_json

SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}

FIXES = {
    "missing": "add the field '{field}'",
    "string_too_short": "give '{field}' a non-empty text",
    "string_pattern_mismatch": "use lower-case letters, digits, '-' or '_' for '{field}', e.g. 'privacy'",
    "too_short": "'{field}' needs at least one entry",
    "control_character": "remove the control characters (escape sequences, tabs, line breaks) from '{field}'",
    "lone_surrogate": "remove the lone surrogate (an escape such as \\ud800 without its pair) from '{field}'",
}


@dataclass(frozen=True)
class LoadedConstitution:
    constitution: Constitution
    path: str
    sha256: str

    @property
    def manifest(self) -> dict:
        c = self.constitution
        return {"name": c.name, "version": c.version, "path": self.path, "sha256": self.sha256}


def builtin_names() -> list[str]:
    folder = resources.files("constitutional.constitution") / "builtin"
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.endswith(".yaml"))


def resolve(name_or_path: str) -> Path:
    """A constitution file, else a built-in name; a path that does not exist, or a name that is neither, is refused."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    names = builtin_names()
    if name_or_path in names:
        return Path(str(resources.files("constitutional.constitution") / "builtin" / f"{name_or_path}.yaml"))
    choose = f"give a .yaml/.toml/.json file, or a built-in name ({', '.join(names)})"
    if path.exists():
        raise UserError(f"{path} is a folder, not a constitution file", fix=choose)
    if path.suffix.lower() in SUFFIXES or len(path.parts) > 1:
        require_exists(path, "constitution file", fix=choose)
    raise UserError(
        f"unknown constitution '{name_or_path}': not a built-in name, and the file {path} does not exist",
        fix=did_you_mean(nearest(name_or_path, names), choose),
    )


def load_constitution(name_or_path: str) -> LoadedConstitution:
    path = resolve(name_or_path)
    raw = path.read_bytes()
    shown = str(path) if not _is_builtin(path) else f"builtin:{path.stem}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"not UTF-8 text (byte {exc.start})", where=shown, fix="save the file as UTF-8") from None
    kind = SUFFIXES.get(path.suffix.lower(), "yaml")
    data = _parse(text, kind, shown)
    if not isinstance(data, dict):
        raise UserError(
            "the top level must be a mapping with 'name' and 'principles'",
            where=shown,
            fix="start from `cai constitution new FILE` or the built-in default (`cai constitution show default`)",
        )
    try:
        constitution = Constitution.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, data, text, kind, shown) from None
    return LoadedConstitution(constitution, shown, hashlib.sha256(raw).hexdigest())


def _is_builtin(path: Path) -> bool:
    return path.parent.name == "builtin" and path.parent.parent.name == "constitution"


def _parse(text: str, kind: str, shown: str) -> object:
    try:
        if kind == "json":
            return parse_json(text)
        if kind == "toml":
            return tomllib.loads(text)
        return yaml.load(text, Loader=_Loader)
    except JSONLimitError as exc:  # nested too deeply, a number too long
        raise UserError(json_problem(exc), where=f"{shown}:{exc.lineno}", fix=exc.fix) from None
    except json.JSONDecodeError as exc:
        raise UserError(
            f"invalid JSON: {json_problem(exc)}",
            where=f"{shown}:{exc.lineno}",
            fix="check commas, quotes and brackets near that spot",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))
        raise UserError(
            f"invalid TOML: {exc}",
            where=f"{shown}:{at.group(1)}" if at else shown,
            fix="check quotes and [[principles]] tables near that spot",
        ) from None
    except _TooDeep as exc:
        where = f"{shown}:{exc.mark.line + 1}:{exc.mark.column + 1}"
        raise UserError(f"nested more than {MAX_JSON_DEPTH} levels deep", where=where, fix=DEPTH_FIX) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(
            f"invalid YAML: {problem}", where=where, fix="check indentation and quote texts that contain ':' or '#'"
        ) from None
    except (RecursionError, ValueError) as exc:  # nested too deeply; a TOML integer too long for Python to convert
        raise _beyond_limits(exc, text, shown) from None


class _TooDeep(yaml.MarkedYAMLError):
    """YAML nested deeper than MAX_JSON_DEPTH, at `mark`."""

    def __init__(self, mark: yaml.Mark):
        super().__init__(problem=f"nested more than {MAX_JSON_DEPTH} levels deep", problem_mark=mark)
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """yaml.safe_load's loader, except that a value its constructors cannot make (a date of month 13, an integer of
    5,000 digits, `!!int abc`) is a YAMLError with the value's line, not a bare ValueError or AttributeError; and
    that nesting deeper than MAX_JSON_DEPTH stops there (_TooDeep): PyYAML would take seconds on 5,000 brackets
    before it ran out of recursion."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.depth >= MAX_JSON_DEPTH:
            raise _TooDeep(self.peek_event().start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            problem = str(exc).split("; use sys.set_int_max_str_digits")[0]
            raise yaml.constructor.ConstructorError(None, None, f"cannot read this value ({problem})", node.start_mark) from None


def _beyond_limits(exc: Exception, text: str, shown: str) -> UserError:
    """A YAML or TOML file the parsers give up on: nesting that runs out of recursion (said at the line where brackets
    or indentation first go that deep), or an integer longer than Python converts (at its line)."""
    lines = text.splitlines() or [""]
    if isinstance(exc, RecursionError):
        depth, found = 0, None
        for number, line in enumerate(lines, 1):
            depth += sum(line.count(c) for c in "[{") - sum(line.count(c) for c in "]}")
            if depth > MAX_JSON_DEPTH or len(line) - len(line.lstrip()) > 2 * MAX_JSON_DEPTH:
                found = number
                break
        return UserError(
            f"nested more than {MAX_JSON_DEPTH} levels deep: too deep to read", where=f"{shown}:{found or 1}", fix=DEPTH_FIX
        )
    limit = sys.get_int_max_str_digits()
    digits = re.compile(rf"\d{{{limit + 1}}}") if limit else None
    number = next((n for n, line in enumerate(lines, 1) if digits and digits.search(line.replace("_", ""))), 1)
    problem = str(exc).split("; use sys.set_int_max_str_digits")[0]
    return UserError(f"cannot read a value ({problem})", where=f"{shown}:{number}", fix=NUMBER_FIX)


def _validation_error(exc: ValidationError, data: dict, text: str, kind: str, shown: str) -> UserError:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        principle = _principle_label(data, loc)
        line = line_of(text, kind, loc, data)
        where = f"{shown}:{line}" if line else shown
        field = str(loc[-1]) if loc else "file"
        msg = err["msg"].removeprefix("Value error, ")
        fix = getattr((err.get("ctx") or {}).get("error"), "fix", None) or _fix(err["type"], loc, field)
        path = ".".join(str(p) for p in loc) or "(top level)"
        lines.append(f"{where}: {principle}{path}: {msg}\n  fix: {fix}")
    count = len(lines)
    return UserError(f"{count} problem{'s' if count > 1 else ''} in constitution {shown}:\n" + "\n".join(lines))


def _fix(kind: str, loc: tuple, field: str) -> str:
    if kind == "extra_forbidden":
        allowed = fields_at(loc[:-1])
        return did_you_mean(nearest(field, allowed), f"remove '{field}'; the fields allowed here are {', '.join(allowed)}")
    return FIXES.get(kind, "see `cai constitution schema` for the expected form").format(field=field)


def _principle_label(data: dict, loc: tuple) -> str:
    if len(loc) >= 2 and loc[0] == "principles" and isinstance(loc[1], int):
        principles = data.get("principles")
        if isinstance(principles, list) and loc[1] < len(principles) and isinstance(principles[loc[1]], dict):
            pid = principles[loc[1]].get("id")
            if pid:
                return f"principle '{pid}': "
        return f"principle #{loc[1] + 1}: "
    return ""


def line_of(text: str, kind: str, loc: tuple, data: dict) -> int | None:
    """Best-effort 1-based line of the value at `loc` (or its parent when the key is missing)."""
    if kind in ("yaml", "json"):
        try:
            node = yaml.compose(text)
        except yaml.YAMLError:
            return None
        best = node.start_mark.line + 1 if node else None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                match = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
                if match is None:
                    break
                key_node = next(k for k, v in node.value if v is match)
                node, best = match, key_node.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                best = node.start_mark.line + 1
            else:
                break
        return best
    # TOML: find the principle's id line, or the key itself.
    principle = None
    if len(loc) >= 2 and loc[0] == "principles" and isinstance(loc[1], int):
        items = data.get("principles") or []
        if loc[1] < len(items) and isinstance(items[loc[1]], dict):
            principle = items[loc[1]].get("id")
    pattern = rf'^\s*id\s*=\s*["\']{re.escape(principle)}["\']' if principle else rf"^\s*{re.escape(str(loc[-1]))}\s*="
    for number, line in enumerate(text.splitlines(), 1):
        if re.search(pattern, line):
            return number
    return None
