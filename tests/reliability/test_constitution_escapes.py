"""Terminal escapes in constitution files: names (the constitution's name and version, a principle's name) holding
them are refused by loading and importing, naming the file and the field, and nothing a constitution holds reaches
the terminal as an escape sequence from `cai constitution show` or `validate`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import clear_error, write

ESCAPES = "\x1b]0;pwned\x07\x1b[2J"


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args], terminal_width=160)


def assert_no_control(output: str) -> None:
    assert not any(ch in output for ch in "\x1b\x07\x9b"), repr(output)


def constitution(tmp_path, **fields):
    principle = {"id": "honesty", "name": "Honesty", "critique_request": "Is it true?", "revision_request": "Make it true."}
    data = {"name": "policy", "version": "1", "principles": [{**principle, **fields.pop("principle", {})}], **fields}
    return write(tmp_path / "policy.json", json.dumps(data))


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"name": ESCAPES}, "name"), ({"version": ESCAPES}, "version"), ({"principle": {"name": ESCAPES}}, "principles.0.name")],
)
def test_constitution_names_with_terminal_escapes_are_refused_by_show_and_validate_without_echoing_them(tmp_path, fields, field):
    path = constitution(tmp_path, **fields)
    for command in ("show", "validate"):
        result = cai("constitution", command, path)
        assert result.exit_code == 2, result.output
        assert str(path) in result.output and field in result.output and "control character" in result.output
        assert_no_control(result.output)


def test_constitution_show_prints_no_escapes_from_descriptions_or_rules(tmp_path):
    principle = {"description": ESCAPES, "rules": [{"must_not_match": "x\x1b", "description": ESCAPES}]}
    result = cai("constitution", "show", constitution(tmp_path, description=ESCAPES, principle=principle))
    assert result.exit_code == 0, result.output
    assert_no_control(result.output)


def test_constitution_import_refuses_principle_names_with_terminal_escapes(tmp_path):
    source = write(tmp_path / "paper.json", json.dumps({ESCAPES: {"prompt": ["Is it harmful?"], "edit_request": "Fix it."}}))
    result = cai("constitution", "import", source, "--from", "cai-paper", "-o", tmp_path / "out.yaml")
    clear_error(result, str(source), "name", "control character")
    assert_no_control(result.output)
    assert not (tmp_path / "out.yaml").exists()
    named = cai("constitution", "import", source, "--from", "cai-paper", "-o", tmp_path / "out.yaml", "--name", ESCAPES)
    assert named.exit_code == 2 and not (tmp_path / "out.yaml").exists()
    assert_no_control(named.output)
