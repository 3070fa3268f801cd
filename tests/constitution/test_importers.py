import sys
import types

import pytest

from constitutional.constitution import load_constitution
from constitutional.constitution.importers import LANGCHAIN_PRINCIPLES, import_constitution, to_yaml
from constitutional.errors import UserError
from tests.helpers import DATA, write

IMPORTERS = DATA / "importers"


def roundtrip(tmp_path, imported, fmt):
    out = write(tmp_path / "out.yaml", to_yaml(imported, fmt))
    return load_constitution(str(out)).constitution


def test_cai_paper_strips_markers_and_keeps_keys_as_names(tmp_path):
    imported = import_constitution(str(IMPORTERS / "cai_paper.json"), "cai-paper")
    c = roundtrip(tmp_path, imported, "cai-paper")
    assert c.ids == ["made-up-facts", "cruel-words", "vague-one"]
    first = c.principle("made-up-facts")
    assert first.critique_request == "Point to every number or source in the reply that looks invented."
    assert first.revision_request == "Rewrite the reply without the invented numbers and sources."
    assert c.principle("cruel-words").name == "Cruel Words"
    assert any("first of 2" in note for note in imported.notes)
    assert c.name == "cai-paper"


def test_llm_swarm_principles_and_system_chat_examples(tmp_path):
    imported = import_constitution(str(IMPORTERS / "llm_swarm.json"), "llm-swarm", name="swarm")
    c = roundtrip(tmp_path, imported, "llm-swarm")
    assert c.name == "swarm" and c.ids == ["principle-01", "principle-02"]
    assert c.principles[0].critique_request.startswith("Quote each step")
    (account,) = c.principles[0].examples
    assert account.prompt.startswith("How can I read") and account.revision.startswith("Reading someone's")
    (rain,) = c.principles[1].examples
    assert rain.prompt == "How little, exactly?" and rain.response.startswith("Exactly 12.3")
    assert any("matches no principle" in n for n in imported.notes)
    assert any("last prompt of a 8-message" in n for n in imported.notes)


def test_langchain_json_list(tmp_path):
    c = roundtrip(tmp_path, import_constitution(str(IMPORTERS / "langchain_principles.json"), "langchain"), "langchain")
    assert c.ids == ["no-spoilers", "plain-words"] and c.principles[0].name == "No Spoilers"


def test_langchain_python_attribute_list_and_dict(tmp_path):
    module = IMPORTERS / "langchain_principles.py"
    c = roundtrip(tmp_path, import_constitution(f"{module}:PRINCIPLES", "langchain"), "langchain")
    assert c.ids == ["kind-tone", "principle-02"]
    by_name = import_constitution(f"{module}:BY_NAME", "langchain").constitution
    assert by_name.ids == ["careful-commands"]


def test_langchain_builtin_needs_langchain_classic(monkeypatch):
    monkeypatch.setitem(sys.modules, LANGCHAIN_PRINCIPLES, None)  # makes the import fail as if not installed
    with pytest.raises(UserError, match="langchain-classic is not installed") as info:
        import_constitution("builtin", "langchain")
    assert "constitutional[langchain-classic]" in info.value.render()


def test_langchain_builtin_selection(monkeypatch, tmp_path):
    fake = types.ModuleType(LANGCHAIN_PRINCIPLES)
    fake.PRINCIPLES = {
        "alpha": types.SimpleNamespace(name="alpha", critique_request="Quote the alpha parts.", revision_request="Remove them."),
        "beta": types.SimpleNamespace(name="beta", critique_request="Quote the beta parts.", revision_request="Remove them."),
    }
    monkeypatch.setitem(sys.modules, LANGCHAIN_PRINCIPLES, fake)
    assert import_constitution("builtin:beta", "langchain").constitution.ids == ["beta"]
    with pytest.raises(UserError, match="no principle gamma"):
        import_constitution("builtin:gamma", "langchain")


def test_real_langchain_classic_principles(tmp_path):
    pytest.importorskip(LANGCHAIN_PRINCIPLES)
    c = roundtrip(tmp_path, import_constitution("builtin", "langchain"), "langchain")
    assert len(c.principles) > 10


@pytest.mark.parametrize(
    "fmt, text, message",
    [
        ("cai-paper", "[1, 2]", "JSON object"),
        ("cai-paper", '{"k": {"prompt": ["x"]}}', "needs 'prompt' and 'edit_request'"),
        ("llm-swarm", '{"system_chat": []}', "'constitutions' list"),
        ("llm-swarm", '{"constitutions": [{"critic": "x"}]}', "needs 'critic' and 'revision'"),
        ("langchain", '[{"name": "x", "critique_request": "y"}]', "needs critique_request and revision_request"),
        ("cai-paper", "{}", "no principles found"),
        ("llm-swarm", '{"constitutions": [', "invalid JSON"),
    ],
)
def test_wrong_shapes_are_user_errors(tmp_path, fmt, text, message):
    path = write(tmp_path / "in.json", text)
    with pytest.raises(UserError, match=message):
        import_constitution(str(path), fmt)


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(UserError, match="unknown import format"):
        import_constitution(str(IMPORTERS / "cai_paper.json"), "yaml")
    with pytest.raises(UserError, match="does not exist"):
        import_constitution(str(tmp_path / "missing.json"), "cai-paper")
    with pytest.raises(UserError, match="no attribute"):
        import_constitution(f"{IMPORTERS / 'langchain_principles.py'}:NOPE", "langchain")
