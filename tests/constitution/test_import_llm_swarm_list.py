"""`cai constitution import --from llm-swarm` of the bare [{"critic", "revision"}, ...] list of llm-swarm's earlier examples."""

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.constitution import load_constitution
from constitutional.constitution.importers import import_constitution
from constitutional.errors import UserError
from tests.helpers import DATA, write

BARE_LIST = DATA / "importers" / "llm_swarm_list.json"


def cai(*args):
    return CliRunner().invoke(app, ["constitution", *[str(a) for a in args]])


def test_cli_imports_the_bare_list_as_one_principle_per_item(tmp_path):
    out = tmp_path / "swarm.yaml"
    result = cai("import", BARE_LIST, "--from", "llm-swarm", "-o", out)
    assert result.exit_code == 0, result.output
    assert "(3 principles)" in result.output
    constitution = load_constitution(str(out)).constitution
    entries = json.loads(BARE_LIST.read_text())
    assert constitution.ids == ["principle-01", "principle-02", "principle-03"]
    assert [(p.critique_request, p.revision_request) for p in constitution.principles] == [
        (e["critic"], e["revision"]) for e in entries
    ]
    assert cai("validate", out).exit_code == 0


def test_the_bare_list_imports_as_the_constitutions_list_does(tmp_path):
    wrapped = write(tmp_path / "wrapped.json", json.dumps({"constitutions": json.loads(BARE_LIST.read_text())}))
    bare = import_constitution(str(BARE_LIST), "llm-swarm").constitution
    assert bare.principles == import_constitution(str(wrapped), "llm-swarm").constitution.principles
    assert len(bare.principles) == 3


@pytest.mark.parametrize(
    "text, message",
    [
        ('[{"critic": "Quote X."}]', "entry 1 needs 'critic' and 'revision'"),
        ('[{"critic": "Quote X.", "revision": "Drop X."}, "loose text"]', "entry 2 needs 'critic' and 'revision'"),
        ("[]", "no principles found"),
        ('"just a string"', "or that list alone"),
    ],
)
def test_bad_bare_lists_are_refused_with_the_file_and_entry(tmp_path, text, message):
    source = write(tmp_path / "in.json", text)
    with pytest.raises(UserError, match=message) as info:
        import_constitution(str(source), "llm-swarm")
    assert str(source) in info.value.render()
    result = cai("import", source, "--from", "llm-swarm", "-o", tmp_path / "out.yaml")
    assert result.exit_code == 2 and not (tmp_path / "out.yaml").exists()
