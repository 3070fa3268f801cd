"""Turn the constitution formats people already have into ours.

- cai-paper: the CAI paper's JSON, {key: {"prompt": ["\\n\\nCritiqueRequest: ...\\n\\nCritique:"],
  "edit_request": "\\n\\nRevisionRequest: ...\\n\\nRevision:"}}
- llm-swarm: Hugging Face's recipe, {"constitutions": [{"critic", "revision"}], "system_chat": [[messages]]},
  or (its earlier examples) the bare list [{"critic", "revision"}, ...]
- langchain: ConstitutionalPrinciple lists, from a JSON list of {name, critique_request, revision_request},
  a Python attribute (MODULE:ATTR or FILE.py:ATTR), or langchain-classic's own principles ("builtin").
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from constitutional.constitution.model import Constitution
from constitutional.errors import UserError, json_problem, require_exists
from constitutional.rundir import JSONLimitError, parse_json

FORMATS = ("cai-paper", "llm-swarm", "langchain")
LANGCHAIN_PRINCIPLES = "langchain_classic.chains.constitutional_ai.principles"
LANGCHAIN_DEFAULT_NAME = "Constitutional Principle"  # what LangChain names an unnamed principle; tells nothing apart


@dataclass
class Imported:
    constitution: Constitution
    notes: list[str] = field(default_factory=list)


def import_constitution(source: str, fmt: str, name: str | None = None) -> Imported:
    """Read `source` in format `fmt` and return a validated Constitution plus notes on what was dropped."""
    if fmt not in FORMATS:
        raise UserError(f"unknown import format '{fmt}'", fix=f"use one of: {', '.join(FORMATS)}")
    notes: list[str] = []
    if fmt == "cai-paper":
        principles = _from_cai_paper(_read_json(source), source, notes)
    elif fmt == "llm-swarm":
        principles = _from_llm_swarm(_read_json(source), source, notes)
    else:
        principles = _from_langchain(source, notes)
    if not principles:
        raise UserError("no principles found", where=source, fix=f"check that the file is in the {fmt} format")
    data = {
        "name": name or _slug(Path(source.split(":")[0]).stem) or "imported",
        "version": "1",
        "description": f"Imported from {source} ({fmt} format). Review with `cai constitution lint`.",
        "principles": _unique_ids(principles),
    }
    try:
        return Imported(Constitution.model_validate(data), notes)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors())
        raise UserError(
            f"the imported principles do not form a valid constitution: {problems}",
            where=source,
            fix="fix those texts in the source file (an empty text; a control character in a name, or in --name)",
        ) from None


def to_yaml(imported: Imported, fmt: str) -> str:
    """YAML text for an imported constitution, with a header saying where it came from."""
    data = imported.constitution.model_dump(mode="json", exclude_defaults=True)
    data = {"name": data.pop("name"), "version": imported.constitution.version, **data}
    header = f"# Imported with `cai constitution import --from {fmt}`. Check it with `cai constitution lint`.\n"
    return header + yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)


class _BlockDumper(yaml.SafeDumper):
    """Writes long or multi-line texts as readable block scalars."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else (">" if len(value) > 80 else None)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_presenter)


def _read_json(source: str) -> object:
    path = Path(source)
    require_exists(path, "file to import", fix="give the path to the JSON file to import")
    if not path.is_file():
        raise UserError(f"{source} is a folder, not a file to import", fix="give the path to the JSON file to import")
    try:
        return parse_json(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:  # bad JSON, nested too deeply, a number too long
        raise UserError(
            f"invalid JSON: {json_problem(exc)}",
            where=f"{source}:{exc.lineno}",
            fix=exc.fix if isinstance(exc, JSONLimitError) else "check commas, quotes and brackets near that spot",
        ) from None
    except UnicodeDecodeError:
        raise UserError("not UTF-8 text", where=source, fix="save the file as UTF-8") from None


def _from_cai_paper(data: object, source: str, notes: list[str]) -> list[dict]:
    if not isinstance(data, dict):
        raise UserError(
            'expected a JSON object of {key: {"prompt": [...], "edit_request": ...}}',
            where=source,
            fix="use --from llm-swarm or --from langchain if the file is in another format",
        )
    principles = []
    for key, entry in data.items():
        if not isinstance(entry, dict) or "prompt" not in entry or "edit_request" not in entry:
            raise UserError(
                f"entry '{key}' needs 'prompt' and 'edit_request'",
                where=source,
                fix='each entry looks like {"prompt": ["...CritiqueRequest: ..."], "edit_request": "...RevisionRequest: ..."}',
            )
        prompts = entry["prompt"] if isinstance(entry["prompt"], list) else [entry["prompt"]]
        if len(prompts) > 1:
            notes.append(f"'{key}': kept the first of {len(prompts)} critique prompts")
        principles.append(
            {
                "id": _slug(key),
                "name": key,
                "critique_request": _strip_markers(str(prompts[0]), "CritiqueRequest", "Critique"),
                "revision_request": _strip_markers(str(entry["edit_request"]), "RevisionRequest", "Revision"),
            }
        )
    return principles


def _strip_markers(text: str, request_label: str, answer_label: str) -> str:
    """'\\n\\nCritiqueRequest: Find X.\\n\\nCritique:' -> 'Find X.'"""
    text = re.sub(rf"^\s*{request_label}:\s*", "", text)
    return re.sub(rf"\s*{answer_label}:\s*$", "", text).strip()


def _from_llm_swarm(data: object, source: str, notes: list[str]) -> list[dict]:
    if isinstance(data, list):  # llm-swarm's earlier examples: the constitutions list alone, no system_chat
        data = {"constitutions": data}
    if not isinstance(data, dict) or not isinstance(data.get("constitutions"), list):
        raise UserError(
            'expected a JSON object with a \'constitutions\' list of {"critic", "revision"}, or that list alone',
            where=source,
            fix="use --from cai-paper or --from langchain if the file is in another format",
        )
    principles = []
    for number, entry in enumerate(data["constitutions"], 1):
        if not isinstance(entry, dict) or not entry.get("critic") or not entry.get("revision"):
            raise UserError(
                f"constitutions entry {number} needs 'critic' and 'revision' texts",
                where=source,
                fix='each entry looks like {"critic": "...", "revision": "..."}',
            )
        principles.append(
            {
                "id": f"principle-{number:02d}",
                "name": _short_name(entry["critic"]),
                "critique_request": entry["critic"].strip(),
                "revision_request": entry["revision"].strip(),
            }
        )
    _attach_swarm_examples(data.get("system_chat") or [], principles, notes)
    return principles


def _attach_swarm_examples(chats: list, principles: list[dict], notes: list[str]) -> None:
    """system_chat holds worked conversations ending in critique request, critique, revision request, revision.
    Each becomes a few-shot example of the principle whose critique request it uses."""
    by_critique = {_normal(p["critique_request"]): p for p in principles}
    for number, chat in enumerate(chats, 1):
        messages = [m for m in chat if isinstance(m, dict)] if isinstance(chat, list) else []
        roles = [m.get("role") for m in messages[-6:]]
        if len(messages) < 6 or roles != ["user", "assistant"] * 3:
            notes.append(f"system_chat {number}: not a prompt/response/critique/revision conversation; left out")
            continue
        prompt, response, critique_request, critique, _, revision = (str(m.get("content", "")) for m in messages[-6:])
        principle = by_critique.get(_normal(critique_request))
        if principle is None:
            notes.append(f"system_chat {number}: its critique request matches no principle; left out")
            continue
        if len(messages) > 6:
            notes.append(f"system_chat {number}: kept only the last prompt of a {len(messages)}-message conversation")
        principle.setdefault("examples", []).append(
            {"prompt": prompt, "response": response, "critique": critique, "revision": revision}
        )


def _from_langchain(source: str, notes: list[str]) -> list[dict]:
    items: object
    if source == "builtin" or source.startswith("builtin:"):
        items = _langchain_builtin(source.removeprefix("builtin").removeprefix(":"))
    elif source.lower().endswith(".json"):
        items = _read_json(source)
    elif ":" in source:
        items = _python_attribute(source)
    else:
        raise UserError(
            f"cannot tell how to read '{source}' as LangChain principles",
            fix="give a .json file, MODULE:ATTR or FILE.py:ATTR, or 'builtin' (needs langchain-classic)",
        )
    if isinstance(items, dict):
        items = [_with_default_name(item, key) for key, item in items.items()]
    if not isinstance(items, (list, tuple)):
        raise UserError(
            "expected a list of principles with name, critique_request and revision_request",
            where=source,
            fix="a JSON list, or a Python list/dict of ConstitutionalPrinciple objects",
        )
    principles = []
    for number, item in enumerate(items, 1):
        fields = {f: _field(item, f) for f in ("name", "critique_request", "revision_request")}
        if not fields["critique_request"] or not fields["revision_request"]:
            raise UserError(
                f"principle {number} needs critique_request and revision_request",
                where=source,
                fix='each principle looks like {"name", "critique_request", "revision_request"}',
            )
        name = fields["name"] if fields["name"] not in (None, "", LANGCHAIN_DEFAULT_NAME) else f"principle-{number:02d}"
        principles.append(
            {
                "id": _slug(name) or f"principle-{number:02d}",
                "name": name,
                "critique_request": fields["critique_request"].strip(),
                "revision_request": fields["revision_request"].strip(),
            }
        )
    return principles


def _langchain_builtin(selection: str) -> dict:
    try:
        module = importlib.import_module(LANGCHAIN_PRINCIPLES)
    except ImportError:
        raise UserError("langchain-classic is not installed", fix="pip install 'constitutional[langchain-classic]'") from None
    principles = dict(module.PRINCIPLES)
    if not selection:
        return principles
    wanted = [s.strip() for s in selection.split(",") if s.strip()]
    unknown = [w for w in wanted if w not in principles]
    if unknown:
        raise UserError(
            f"langchain-classic has no principle {', '.join(unknown)}", fix=f"choose from: {', '.join(sorted(principles))}"
        )
    return {w: principles[w] for w in wanted}


def _python_attribute(source: str) -> object:
    target, _, attribute = source.rpartition(":")
    try:
        if target.endswith(".py"):
            spec = importlib.util.spec_from_file_location(Path(target).stem, target)
            if spec is None or not Path(target).is_file():
                raise UserError(f"file not found: {target}", fix="give FILE.py:ATTR with an existing file")
            module = importlib.util.module_from_spec(spec)
            assert spec.loader is not None  # a spec for a .py path always has a (source file) loader
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except ImportError as exc:
        raise UserError(
            f"cannot import {target}: {exc}",
            fix="install what it needs (ConstitutionalPrinciple comes with `pip install 'constitutional[langchain-classic]'`)",
        ) from None
    if not hasattr(module, attribute):
        raise UserError(f"{target} has no attribute '{attribute}'", fix="give MODULE:ATTR naming a list of principles")
    return getattr(module, attribute)


def _with_default_name(item: object, key: str) -> object:
    if isinstance(item, dict):
        return {"name": key, **item}
    name = _field(item, "name")
    if not name or name == LANGCHAIN_DEFAULT_NAME:
        return {
            "name": key,
            "critique_request": _field(item, "critique_request"),
            "revision_request": _field(item, "revision_request"),
        }
    return item


def _field(item: object, name: str) -> str | None:
    value = item.get(name) if isinstance(item, dict) else getattr(item, name, None)
    return str(value) if value is not None else None


def _unique_ids(principles: list[dict]) -> list[dict]:
    seen: dict[str, int] = {}
    for principle in principles:
        base = principle["id"]
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            principle["id"] = f"{base}-{seen[base]}"
    return principles


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-_")


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _short_name(text: str, words: int = 6) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")
