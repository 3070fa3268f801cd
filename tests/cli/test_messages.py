"""Messages a user meets on a mistake: a path that does not exist, a near miss of a name, a JSON typo."""

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import ROOT, write

QUICKSTART = ROOT / "examples" / "prompts" / "quickstart.jsonl"


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def refused(*args) -> str:
    """The one-paragraph error of a command that must exit 2, on one line."""
    result = cai(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    "command",
    [
        ["run", "{missing}", "--judge", "none"],
        ["run", QUICKSTART, "-c", "{missing}", "--judge", "none"],
        ["eval", "{missing}", "--judge", "none"],
        ["constitution", "validate", "{missing}"],
        ["constitution", "show", "{missing}"],
        ["constitution", "lint", "{missing}"],
    ],
)
def test_a_path_that_does_not_exist_says_so(tmp_path, command):
    missing = tmp_path / "no-such-dir" / "thing.yaml"
    output = refused(*(str(a).replace("{missing}", str(missing)) for a in command))
    assert f"{missing} does not exist" in output and "there is no folder" in output and "fix:" in output


@pytest.mark.parametrize(
    "command", [["report", "{missing}"], ["report", "diff", "{missing}", "{missing}"], ["export", "{missing}", "--format", "sft"]]
)
def test_commands_that_read_a_run_directory_say_it_does_not_exist(tmp_path, command):
    missing = tmp_path / "runs" / "tuor"
    output = refused(*(str(a).replace("{missing}", str(missing)) for a in command))
    assert f"{missing} does not exist" in output and "fix:" in output


def test_a_mistyped_path_gets_the_path_meant(tmp_path):
    (tmp_path / "examples").mkdir()
    prompts = write(tmp_path / "examples" / "prompts.jsonl", '{"prompt": "hi"}\n')
    output = refused("run", tmp_path / "exmaples" / "prompts.jsonl", "--judge", "none")
    assert f"prompt file {tmp_path / 'exmaples' / 'prompts.jsonl'} does not exist" in output
    assert f"did you mean '{prompts}'?" in output
    assert f"did you mean '{prompts}'?" in refused("run", tmp_path / "examples" / "promtps.jsonl")


def test_an_unknown_constitution_key_suggests_the_field_meant(tmp_path):
    path = write(
        tmp_path / "c.yaml",
        "name: t\nprinciples:\n  - id: a\n    name: A\n    critque_request: Quote X.\n    revision_request: Fix X.\n",
    )
    output = refused("constitution", "validate", path)
    assert f"{path}:5: principle 'a': principles.0.critque_request: Extra inputs are not permitted" in output
    assert "did you mean 'critique_request'? If not, remove 'critque_request'" in output
    assert "the fields allowed here are id, name, critique_request, revision_request" in output


def test_a_constitution_name_near_a_built_in_one():
    output = refused("constitution", "show", "defualt")
    assert "unknown constitution 'defualt'" in output and "did you mean 'default'?" in output


@pytest.mark.parametrize(
    "spec, meant",
    [
        ("gpt-4o-mini", "openai/gpt-4o-mini"),
        ("antropic/x", "anthropic/x"),
        ("claude-3-5-haiku", "anthropic/claude-3-5-haiku"),
        ("lcoal", "local"),
    ],
)
def test_a_model_spec_near_a_known_form(tmp_path, spec, meant):
    output = refused("run", QUICKSTART, "-m", spec, "--judge", "none", "-o", tmp_path / "out")
    assert f"unknown model spec '{spec}'" in output and f"did you mean '{meant}'?" in output
    assert not (tmp_path / "out").exists()


def test_no_suggestion_for_a_spec_that_is_nothing_like_a_model(tmp_path):
    output = refused("eval", write(tmp_path / "r.jsonl", '{"prompt": "p", "revision": "r"}\n'), "--judge", "zzz")
    assert "unknown model spec 'zzz'" in output and "did you mean" not in output


def test_json_errors_say_at_once_where(tmp_path):
    prompts = write(tmp_path / "p.jsonl", '{"prompt": "fine"}\n{"prompt": "a\tb"}\n{"prompt": "cut off')
    output = refused("run", prompts, "--strict", "--judge", "none")
    assert f"{prompts}:2: not valid JSON (Invalid control character at column 14)" in output
    assert f"{prompts}:3: not valid JSON (Unterminated string starting at column 12)" in output
    assert "at at" not in output
    constitution = write(tmp_path / "c.json", '{"name": "t",\n "principles": [{"id": "a\tb"}]}')
    output = refused("constitution", "validate", constitution)
    assert f"{constitution}:2: invalid JSON: Invalid control character at column 26" in output


def test_a_server_url_given_as_the_model_suggests_openai_and_model_base_url(tmp_path):
    output = refused("run", QUICKSTART, "-m", "http://127.0.0.1:9/v1", "--judge", "none", "-o", tmp_path / "out")
    assert "'http://127.0.0.1:9/v1' is a server URL, not a model spec" in output
    assert "--model openai/MODEL --model-base-url http://127.0.0.1:9/v1" in output


def test_a_json_array_of_prompts_says_arrays_are_not_read_and_how_to_convert_it(tmp_path):
    for text in ('[{"prompt": "a"}, {"prompt": "b"}]\n', '[\n  {"prompt": "a"},\n  {"prompt": "b"}\n]\n'):
        prompts = write(tmp_path / "prompts.json", text)
        output = refused("run", prompts, "--judge", "none", "-o", tmp_path / "out")
        assert f"{prompts}:1: this is a JSON array, and arrays are not read" in output
        assert f"jq -c '.[]' {prompts} > {tmp_path / 'prompts-lines.jsonl'}" in output
        assert ":2:" not in output  # one problem, not one per line of the array


def test_an_install_fix_names_the_install_script_of_this_checkout():
    from constitutional.errors import install_fix

    assert install_fix("openai") == f"bash {ROOT / 'scripts' / 'install'} openai"


def test_cai_models_says_ready_only_when_the_provider_imports(tmp_path):
    """openai's SDK is there, but a package its provider needs (aiohttp) fails to import: not ready, and the fix is
    this checkout's install script."""
    write_package = tmp_path / "aiohttp"
    write_package.mkdir()
    write(write_package / "__init__.py", "raise ImportError('aiohttp is broken here')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "200"}
    shown = subprocess.run(
        [sys.executable, "-m", "constitutional", "models"], capture_output=True, text=True, env=env, check=True
    ).stdout
    openai_row = next(line for line in shown.splitlines() if "openai/MODEL" in line)
    assert f"no: bash {ROOT / 'scripts' / 'install'} openai" in openai_row, shown
    anthropic_row = next(line for line in shown.splitlines() if "anthropic/MODEL" in line)
    assert "yes" in anthropic_row


def test_a_list_on_a_later_line_of_jsonl_is_one_bad_line_not_an_array_file(tmp_path):
    prompts = write(tmp_path / "p.jsonl", '{"prompt": "ok"}\n["list"]\n{"prompt": "also ok"}\n')
    result = cai("run", prompts, "--strict", "--judge", "none", "-o", tmp_path / "out")
    assert result.exit_code == 2 and f"{prompts}:2: each line must be a JSON object" in result.output
    assert "JSON array" not in result.output


def test_an_install_fix_outside_a_checkout_is_pip_s_form(tmp_path):
    from constitutional.errors import install_fix

    assert install_fix("anthropic", checkout=tmp_path) == "pip install 'constitutional[anthropic]'"
