import json
import re

import pytest
import yaml

from constitutional.constitution import builtin_names, load_constitution
from constitutional.errors import UserError
from tests.helpers import write

GOOD = {
    "name": "t",
    "version": 2,
    "principles": [
        {"id": "a", "name": "A", "critique_request": "Quote X.", "revision_request": "Remove X."},
        {"id": "b", "name": "B", "critique_request": "Quote Y.", "revision_request": "Rewrite Y.", "tags": ["t"], "weight": 2},
    ],
}


def test_default_is_builtin_with_the_required_principles():
    assert "default" in builtin_names()
    loaded = load_constitution("default")
    c = loaded.constitution
    assert len(c.principles) >= 12
    for topic in [
        "dangerous-help",
        "honesty",
        "calibration",
        "non-evasive",
        "privacy",
        "fairness",
        "no-manipulation",
        "autonomy",
        "clarify-intent",
    ]:
        assert topic in c.ids
    assert re.fullmatch(r"[0-9a-f]{64}", loaded.sha256)


def test_default_revision_requests_ask_for_substance_not_warnings():
    veneer = re.compile(r"\b(add|include|append|insert)\b[^.]{0,20}\b(warning|disclaimer|caveat|reminder)", re.I)
    for p in load_constitution("default").constitution.principles:
        assert not veneer.search(p.revision_request), p.id


def test_yaml_toml_json_load_the_same(tmp_path):
    y = write(tmp_path / "c.yaml", yaml.safe_dump(GOOD))
    j = write(tmp_path / "c.json", json.dumps(GOOD))
    toml = """name = "t"\nversion = 2\n""" + "".join(
        f'[[principles]]\nid = "{p["id"]}"\nname = "{p["name"]}"\ncritique_request = "{p["critique_request"]}"\n'
        f'revision_request = "{p["revision_request"]}"\n' + ('tags = ["t"]\nweight = 2\n' if p["id"] == "b" else "")
        for p in GOOD["principles"]
    )
    t = write(tmp_path / "c.toml", toml)
    loaded = [load_constitution(str(p)).constitution for p in (y, j, t)]
    assert loaded[0] == loaded[1] == loaded[2]
    assert loaded[0].version == "2"


def test_unknown_key_names_file_line_principle_and_fix(tmp_path):
    path = write(
        tmp_path / "c.yaml",
        """name: t
principles:
  - id: a
    name: A
    critique_request: Quote X.
    revision_request: Remove X.
    severity: high
""",
    )
    with pytest.raises(UserError) as info:
        load_constitution(str(path))
    text = info.value.render()
    assert f"{path}:7" in text
    assert "principle 'a'" in text and "severity" in text and "fix:" in text


def test_missing_critique_request_points_at_the_principle(tmp_path):
    path = write(tmp_path / "c.yaml", "name: t\nprinciples:\n  - id: a\n    name: A\n    revision_request: Remove X.\n")
    with pytest.raises(UserError) as info:
        load_constitution(str(path))
    text = info.value.render()
    assert "critique_request" in text and "principle 'a'" in text and f"{path}:3" in text


def test_invalid_yaml_gives_line_and_column(tmp_path):
    path = write(tmp_path / "c.yaml", "name: t\nprinciples:\n  - id: a\n   name: [unclosed\n")
    with pytest.raises(UserError) as info:
        load_constitution(str(path))
    assert re.search(rf"{re.escape(str(path))}:\d+:\d+: invalid YAML", info.value.render())


def test_invalid_json_gives_line(tmp_path):
    path = write(tmp_path / "c.json", '{"name": "t",\n "principles": [,]}')
    with pytest.raises(UserError) as info:
        load_constitution(str(path))
    assert f"{path}:2:" in info.value.render()


def test_toml_validation_error_finds_the_principle_line(tmp_path):
    path = write(tmp_path / "c.toml", 'name = "t"\n\n[[principles]]\nid = "a"\nname = "A"\ncritique_request = "Quote X."\n')
    with pytest.raises(UserError) as info:
        load_constitution(str(path))
    assert f"{path}:4" in info.value.render() and "revision_request" in info.value.render()


def test_duplicate_ids_and_bad_ids_rejected(tmp_path):
    dup = dict(GOOD, principles=[GOOD["principles"][0], GOOD["principles"][0]])
    with pytest.raises(UserError, match="appears twice"):
        load_constitution(str(write(tmp_path / "d.json", json.dumps(dup))))
    bad = dict(GOOD, principles=[dict(GOOD["principles"][0], id="Has Spaces")])
    with pytest.raises(UserError, match="lower-case"):
        load_constitution(str(write(tmp_path / "b.json", json.dumps(bad))))


def test_bad_defaults_selection(tmp_path):
    data = dict(GOOD, defaults={"principles": "some"})
    with pytest.raises(UserError, match="sample:K"):
        load_constitution(str(write(tmp_path / "c.json", json.dumps(data))))


def test_unknown_name_and_missing_file():
    with pytest.raises(UserError, match="built-in name"):
        load_constitution("no-such-constitution")
    with pytest.raises(UserError, match="does not exist"):
        load_constitution("missing.yaml")
