import json

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.constitution import load_constitution
from constitutional.constitution.lint import lint_file
from tests.helpers import DATA, ROOT, write

IMPORTERS = DATA / "importers"


def cai(*args):
    return CliRunner().invoke(app, ["constitution", *[str(a) for a in args]])


def test_validate_prints_a_summary_for_good_files():
    result = cai("validate", "default", ROOT / "examples" / "constitutions" / "short.yaml")
    assert result.exit_code == 0, result.output
    assert "ok: builtin:default: 'default' version 1.0, 14 principles" in result.output
    assert "'short'" in result.output and "3 principles" in result.output


def test_validate_exits_2_with_file_and_line(tmp_path):
    bad = write(tmp_path / "bad.yaml", "name: t\nprinciples:\n  - id: a\n    name: A\n    critique_request: Quote X.\n")
    result = cai("validate", bad, "default")
    assert result.exit_code == 2
    assert f"{bad}:3" in result.output and "revision_request" in result.output
    assert "ok: builtin:default" in result.output  # the other files are still checked


def test_lint_default_is_clean_and_veneer_is_flagged(tmp_path):
    assert cai("lint", "default").exit_code == 0
    path = write(
        tmp_path / "c.yaml",
        yaml.safe_dump(
            {
                "name": "t",
                "principles": [
                    {
                        "id": "harm",
                        "name": "Harm",
                        "critique_request": "Discuss whether the response is harmful in any way at all.",
                        "revision_request": "Please rewrite the response and include a disclaimer.",
                    }
                ],
            }
        ),
    )
    result = cai("lint", path)
    assert result.exit_code == 1
    assert "[vague-critique]" in result.output and "[veneer-revision]" in result.output
    assert f"{path}:3: principle 'harm': [vague-critique]" in result.output  # the critique_request line
    assert f"{path}:6: principle 'harm': [veneer-revision]" in result.output


def test_lint_of_a_broken_file_exits_2(tmp_path):
    result = cai("lint", write(tmp_path / "c.yaml", "name: t\n"))
    assert result.exit_code == 2 and "principles" in result.output


def test_show_prints_every_principle_and_rule(tmp_path):
    result = CliRunner().invoke(app, ["constitution", "show", "default"], terminal_width=200)
    assert result.exit_code == 0
    default = load_constitution("default").constitution
    for principle in default.principles:
        assert principle.id in result.output and principle.name in result.output
    path = write(
        tmp_path / "c.yaml",
        yaml.safe_dump(
            {
                "name": "mine",
                "principles": [
                    {
                        "id": "short",
                        "name": "Short [answers]",
                        "critique_request": "Quote the padding.",
                        "revision_request": "Cut it.",
                        "rules": [{"max_chars": 400, "description": "short enough"}],
                    }
                ],
            }
        ),
    )
    result = CliRunner().invoke(app, ["constitution", "show", str(path)], terminal_width=200)
    assert result.exit_code == 0
    assert "Short [answers]" in result.output and "max_chars: 400" in result.output and "short enough" in result.output
    assert cai("show", "no-such-name").exit_code == 2


def test_new_writes_a_starter_that_validates_and_lints_clean(tmp_path):
    path = tmp_path / "team-policy.yaml"
    result = cai("new", path)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert text.count("#") > 10  # commented for a newcomer
    loaded = load_constitution(str(path))
    assert loaded.constitution.name == "team-policy"
    assert any(p.rules for p in loaded.constitution.principles)
    assert lint_file(str(path), loaded.constitution) == []


def test_new_refuses_to_overwrite_or_write_non_yaml(tmp_path):
    path = write(tmp_path / "mine.yaml", "keep me")
    result = cai("new", path)
    assert result.exit_code == 2 and "already exists" in result.output
    assert path.read_text() == "keep me"
    assert cai("new", tmp_path / "mine.toml").exit_code == 2


def test_schema_validates_good_files_and_rejects_typos(tmp_path):
    result = cai("schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    default = yaml.safe_load((ROOT / "src/constitutional/constitution/builtin/default.yaml").read_text())
    jsonschema.validate(default, schema)
    jsonschema.validate(yaml.safe_load((ROOT / "examples/constitutions/short.yaml").read_text()), schema)
    typo = dict(default, principles=[dict(default["principles"][0], severity="high")])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, schema)
    out = tmp_path / "schema.json"
    assert cai("schema", "-o", out).exit_code == 0
    assert json.loads(out.read_text()) == schema


@pytest.mark.parametrize(
    "fmt, source, count",
    [
        ("cai-paper", IMPORTERS / "cai_paper.json", 3),
        ("llm-swarm", IMPORTERS / "llm_swarm.json", 2),
        ("langchain", IMPORTERS / "langchain_principles.json", 2),
        ("langchain", f"{IMPORTERS / 'langchain_principles.py'}:PRINCIPLES", 2),
    ],
)
def test_import_writes_yaml_that_validates(tmp_path, fmt, source, count):
    out = tmp_path / "imported.yaml"
    result = cai("import", source, "--from", fmt, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"({count} principles)" in result.output
    assert out.read_text().startswith("# Imported with")
    assert cai("validate", out).exit_code == 0


def test_import_refuses_to_overwrite_unless_forced(tmp_path):
    out = write(tmp_path / "out.yaml", "keep")
    source = IMPORTERS / "langchain_principles.json"
    assert cai("import", source, "--from", "langchain", "-o", out).exit_code == 2
    assert out.read_text() == "keep"
    assert cai("import", source, "--from", "langchain", "-o", out, "--force").exit_code == 0


def test_import_of_the_wrong_format_exits_2(tmp_path):
    result = cai("import", IMPORTERS / "llm_swarm.json", "--from", "cai-paper", "-o", tmp_path / "o.yaml")
    assert result.exit_code == 2 and "needs 'prompt' and 'edit_request'" in result.output
    assert not (tmp_path / "o.yaml").exists()
    as_json = cai("import", IMPORTERS / "llm_swarm.json", "--from", "llm-swarm", "-o", tmp_path / "o.json")
    assert as_json.exit_code == 2 and "not a .yaml file" in as_json.output


def test_imported_cai_paper_file_lints_with_warnings(tmp_path):
    out = tmp_path / "paper.yaml"
    cai("import", IMPORTERS / "cai_paper.json", "--from", "cai-paper", "-o", out)
    result = cai("lint", out)
    assert result.exit_code == 1
    assert "principle 'vague-one': [vague-critique]" in result.output
    assert "principle 'vague-one': [veneer-revision]" in result.output
