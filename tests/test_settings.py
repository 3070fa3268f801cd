"""The environment variables cai reads: one table (constitutional.settings), one reading of each, a bad value a clear
error (exit 2, naming the variable) through the real CLI, one on/off reading for CONSTITUTIONAL_DEBUG, and the README's
table written from the module."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.cli.common import set_debug, user_errors
from constitutional.errors import UserError
from constitutional.settings import (
    TABLE_BEGIN,
    TABLE_END,
    VARIABLES,
    Settings,
    debug_requested,
    markdown_table,
    read_settings,
    with_table,
)
from tests.helpers import DATA, ROOT, clear_error, doc_pages, write

SRC = ROOT / "src" / "constitutional"
REVISIONS = str(ROOT / "examples" / "revisions.jsonl")
SCRIPTED = f"scripted:{DATA / 'scripted_basic.yaml'}"


def cai(*args, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


# -- the module --------------------------------------------------------------------------------------------------------


def test_unset_or_empty_variables_give_the_defaults():
    defaults = Settings(
        cache_dir=None, prices_file=None, retry_wait=1.0, batch_poll_wait=5.0, scorer=None, debug=False, threads=None
    )
    assert read_settings({}) == defaults
    assert read_settings({v.name: " " for v in VARIABLES}) == defaults
    assert read_settings({v.name: "" for v in VARIABLES}) == defaults


def test_good_values_are_read_with_their_types():
    settings = read_settings(
        {
            "CONSTITUTIONAL_CACHE_DIR": "/tmp/cache",
            "CONSTITUTIONAL_PRICES": "/tmp/prices.yaml",
            "CONSTITUTIONAL_RETRY_WAIT": "0.25",
            "CONSTITUTIONAL_BATCH_POLL_SECONDS": " 2 ",
            "CONSTITUTIONAL_SCORER": "local:/models/small.gguf",
            "CONSTITUTIONAL_DEBUG": "Yes",
            "OMP_NUM_THREADS": "4",
        }
    )
    assert settings == Settings(
        cache_dir=Path("/tmp/cache"),
        prices_file=Path("/tmp/prices.yaml"),
        retry_wait=0.25,
        batch_poll_wait=2.0,
        scorer="local:/models/small.gguf",
        debug=True,
        threads=4,
    )


def test_the_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        read_settings({}).retry_wait = 3.0  # type: ignore[misc]


def test_each_field_is_one_row_of_the_table():
    assert [f.metadata["variable"] for f in dataclasses.fields(Settings)] == list(VARIABLES)
    assert len({v.name for v in VARIABLES}) == len(VARIABLES)
    assert all(v.help and v.shown_default and v.fix for v in VARIABLES)


def test_the_environment_is_read_when_asked_not_at_import(monkeypatch):
    monkeypatch.setenv("CONSTITUTIONAL_RETRY_WAIT", "0.5")
    assert read_settings().retry_wait == 0.5
    monkeypatch.setenv("CONSTITUTIONAL_RETRY_WAIT", "2")
    assert read_settings().retry_wait == 2.0
    monkeypatch.delenv("CONSTITUTIONAL_RETRY_WAIT")
    assert read_settings().retry_wait == 1.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("1", 1), ("0.01", 0.01), ("1e-3", 0.001)],
)
def test_a_retry_wait_of_0_or_more_seconds_is_good(value, expected):
    assert read_settings({"CONSTITUTIONAL_RETRY_WAIT": value}).retry_wait == expected


@pytest.mark.parametrize(("value", "expected"), [("4", 4), ("4,2", 4), (" 3 , 1", 3), ("0", None)])
def test_omp_num_threads_as_openmp_reads_it(value, expected):
    assert read_settings({"OMP_NUM_THREADS": value}).threads == expected


BAD = [  # (variable, value, what the message says is wrong)
    ("CONSTITUTIONAL_RETRY_WAIT", "abc", "is not a number of seconds"),
    ("CONSTITUTIONAL_RETRY_WAIT", "-1", "is not a number of seconds of 0 or more"),
    ("CONSTITUTIONAL_RETRY_WAIT", "nan", "is not a finite number of seconds"),
    ("CONSTITUTIONAL_BATCH_POLL_SECONDS", "5s", "is not a number of seconds"),
    ("CONSTITUTIONAL_BATCH_POLL_SECONDS", "0", "is not a number of seconds above 0"),
    ("CONSTITUTIONAL_DEBUG", "maybe", "is neither on nor off"),
    ("CONSTITUTIONAL_DEBUG", "2", "is neither on nor off"),
    ("OMP_NUM_THREADS", "many", "is not a number of threads"),
    ("OMP_NUM_THREADS", "-2", "is not a number of threads"),
    ("OMP_NUM_THREADS", "2.5", "is not a number of threads"),
]


@pytest.mark.parametrize(("name", "value", "problem"), BAD)
def test_a_bad_value_names_the_variable_its_value_what_is_wrong_and_the_fix(name, value, problem):
    with pytest.raises(UserError) as caught:
        read_settings({name: value})
    error = caught.value
    assert error.problem == f"{name}={value!r} {problem}"
    assert error.fix and error.fix.startswith("set it to") and "unset it" in error.fix
    assert error.__context__ is None  # nothing behind it for --debug to show


def test_the_retry_wait_error_reads_as_the_user_needs_it():
    with pytest.raises(UserError) as caught:
        read_settings({"CONSTITUTIONAL_RETRY_WAIT": "abc"})
    assert caught.value.render() == (
        "CONSTITUTIONAL_RETRY_WAIT='abc' is not a number of seconds\n  fix: set it to a number such as 1, or unset it"
    )


ON = ["1", "true", "TRUE", "True", "yes", "YES", "on", "On", " on "]
OFF = ["0", "false", "False", "no", "NO", "off", "OFF", "", "  "]


@pytest.mark.parametrize("value", ON)
def test_debug_on(value):
    assert read_settings({"CONSTITUTIONAL_DEBUG": value}).debug is True
    assert debug_requested({"CONSTITUTIONAL_DEBUG": value}) is True


@pytest.mark.parametrize("value", OFF)
def test_debug_off(value):
    assert read_settings({"CONSTITUTIONAL_DEBUG": value}).debug is False
    assert debug_requested({"CONSTITUTIONAL_DEBUG": value}) is False


@pytest.mark.parametrize("value", ["maybe", "2", "enable", "y", "n"])
def test_debug_neither_on_nor_off_is_an_error_but_counts_as_off_on_the_error_path(value):
    with pytest.raises(UserError, match="CONSTITUTIONAL_DEBUG"):
        read_settings({"CONSTITUTIONAL_DEBUG": value})
    assert debug_requested({"CONSTITUTIONAL_DEBUG": value}) is False


# -- through the CLI ---------------------------------------------------------------------------------------------------

EVAL = ("eval", REVISIONS, "--judge", "none", "--scorer", "none", "-q")


@pytest.mark.parametrize(("name", "value", "problem"), BAD)
def test_a_bad_value_exits_2_naming_the_variable(tmp_path, monkeypatch, name, value, problem):
    monkeypatch.setenv(name, value)
    clear_error(cai(*EVAL, "-o", tmp_path / "out"), name, repr(value), problem, "fix: set it to")
    assert not (tmp_path / "out").exists()  # refused before the command started


@pytest.mark.parametrize("command", [("schema", "labels"), ("report", "no-such-dir")])
def test_a_bad_value_is_refused_before_any_command(monkeypatch, command):
    monkeypatch.setenv("CONSTITUTIONAL_RETRY_WAIT", "abc")
    clear_error(cai(*command), "CONSTITUTIONAL_RETRY_WAIT='abc' is not a number of seconds")


def test_a_bad_value_with_debug_on_is_still_a_message(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    clear_error(cai("--debug", "schema", "labels"), "OMP_NUM_THREADS='many'")


def test_an_unknown_scorer_exits_2_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSTITUTIONAL_SCORER", "bogus")
    clear_error(
        cai("eval", REVISIONS, "--judge", "none", "-o", tmp_path / "out"), "CONSTITUTIONAL_SCORER='bogus' is not a scorer"
    )
    assert cai("eval", REVISIONS, "--judge", "none", "--scorer", "none", "-q", "-o", tmp_path / "out").exit_code == 0


def test_a_missing_scorer_model_named_by_the_variable_says_so(tmp_path, monkeypatch):
    pytest.importorskip("llama_cpp")
    monkeypatch.setenv("CONSTITUTIONAL_SCORER", f"local:{tmp_path / 'no-such.gguf'}")
    clear_error(cai("eval", REVISIONS, "--judge", "none", "-o", tmp_path / "out"), "does not exist", "CONSTITUTIONAL_SCORER=")


def run_args(tmp_path, *more):
    prompts = write(tmp_path / "p.jsonl", '{"id": "a", "prompt": "question"}\n')
    return ("run", prompts, "-m", SCRIPTED, "-o", tmp_path / "run", "--judge", "none", "-q", *more)


@pytest.mark.parametrize(("what", "problem"), [("missing", "names no file"), ("folder", "is a folder, not a price file")])
def test_a_price_file_that_is_not_there_exits_2_naming_the_variable(tmp_path, monkeypatch, what, problem):
    named = tmp_path / "prices.yaml"
    if what == "folder":
        named.mkdir()
    monkeypatch.setenv("CONSTITUTIONAL_PRICES", str(named))
    clear_error(cai(*run_args(tmp_path)), f"CONSTITUTIONAL_PRICES='{named}' {problem}", "fix: set it to the path of a price file")


def test_a_broken_price_file_named_by_the_variable_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSTITUTIONAL_PRICES", str(write(tmp_path / "prices.yaml", "scripted: [1, 2\n")))
    clear_error(cai(*run_args(tmp_path)), "named by CONSTITUTIONAL_PRICES", "invalid price file")


def test_a_cache_dir_that_is_a_file_exits_2_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSTITUTIONAL_CACHE_DIR", str(write(tmp_path / "not-a-folder", "x")))
    clear_error(cai(*run_args(tmp_path)), "cannot use the cache", "CONSTITUTIONAL_CACHE_DIR")
    assert cai(*run_args(tmp_path, "--no-cache")).exit_code == 0  # a value only the cache uses: not refused up front


def test_good_values_work(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSTITUTIONAL_CACHE_DIR", str(tmp_path / "my-cache"))
    monkeypatch.setenv("CONSTITUTIONAL_PRICES", str(write(tmp_path / "prices.yaml", "scripted: {input: 1000000, output: 0}\n")))
    for name, value in {
        "CONSTITUTIONAL_RETRY_WAIT": "0.01",
        "CONSTITUTIONAL_BATCH_POLL_SECONDS": "0.5",
        "CONSTITUTIONAL_DEBUG": "off",
        "OMP_NUM_THREADS": "2,1",
        "CONSTITUTIONAL_SCORER": "NONE",
    }.items():
        monkeypatch.setenv(name, value)
    result = cai(*run_args(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "my-cache" / "replies.sqlite").is_file()
    usage = json.loads((tmp_path / "run" / "run.json").read_text())["usage"]
    assert usage["cost_usd"] == pytest.approx(usage["input_tokens"]) and usage["input_tokens"] > 0  # $1 a token
    assert cai(*EVAL, "-o", tmp_path / "eval").exit_code == 0


def test_retries_wait_as_the_variable_says(monkeypatch, tmp_path):
    from constitutional.calls.factory import Calls, call_settings

    monkeypatch.setenv("CONSTITUTIONAL_RETRY_WAIT", "0.125")
    settings = call_settings(max_retries=2, cache=False)
    assert settings.retry_wait == 0.125
    replies = tmp_path / "x.yaml"
    replies.write_text("rules: []")
    assert Calls(settings).model(f"scripted:{replies}").retry.initial_wait == 0.125


@pytest.fixture
def a_bug(monkeypatch):
    """`cai schema labels` fails as a bug would."""
    monkeypatch.setattr("constitutional.cli.schema.json_schema", lambda name: 1 / 0)


@pytest.mark.parametrize("value", ["off", "OFF", "0", "no", "false", ""])
def test_debug_off_shows_no_traceback(a_bug, value):
    result = cai("schema", "labels", env={"CONSTITUTIONAL_DEBUG": value})
    assert result.exit_code == 3 and isinstance(result.exception, SystemExit)
    assert "internal error: ZeroDivisionError" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("value", ["1", "true", "Yes", "ON"])
def test_debug_on_shows_the_traceback(a_bug, value):
    assert isinstance(cai("schema", "labels", env={"CONSTITUTIONAL_DEBUG": value}).exception, ZeroDivisionError)


def test_debug_neither_on_nor_off_is_refused_and_the_bug_not_reached(a_bug):
    clear_error(
        cai("schema", "labels", env={"CONSTITUTIONAL_DEBUG": "maybe"}), "CONSTITUTIONAL_DEBUG='maybe' is neither on nor off"
    )


def test_the_flag_shows_the_traceback_whatever_the_variable(a_bug):
    assert isinstance(cai("--debug", "schema", "labels", env={"CONSTITUTIONAL_DEBUG": "0"}).exception, ZeroDivisionError)


def test_a_bad_debug_value_cannot_stop_the_error_path_printing(monkeypatch, capsys):
    """Inside a command (past the check at the start), the error path reads CONSTITUTIONAL_DEBUG: a value it cannot
    read counts as off, and the message is printed."""
    monkeypatch.setenv("CONSTITUTIONAL_DEBUG", "maybe")
    set_debug(False)  # as the start of a command without --debug leaves it

    @user_errors
    def bad_input() -> None:
        raise UserError("the input is wrong", fix="mend it")

    @user_errors
    def bug() -> None:
        raise ZeroDivisionError("boom")

    for command, code, said in [(bad_input, 2, "the input is wrong"), (bug, 3, "internal error: ZeroDivisionError")]:
        with pytest.raises(SystemExit) as exited:
            command()
        assert exited.value.code == code
        assert said in capsys.readouterr().err


# -- the table in the README and the docs, and where the environment is read -------------------------------------------------


def test_the_tables_in_the_readme_and_docs_are_the_one_the_module_makes():
    holders = [path for path in doc_pages() if TABLE_BEGIN in path.read_text("utf-8")]
    assert holders, "no page holds the table of environment variables"
    for path in holders:
        text = path.read_text("utf-8")
        assert with_table(text) == text, f"{path.name}'s table of environment variables is old: python scripts/settings_table.py"


def test_the_readme_table_is_rewritten_when_stale():
    stale = f"intro\n{TABLE_BEGIN}| `OLD_VARIABLE` | 1 | gone |\n{TABLE_END}after\n"
    assert with_table(stale) == f"intro\n{TABLE_BEGIN}{markdown_table()}{TABLE_END}after\n"


def test_the_table_names_every_variable_once():
    rows = markdown_table().splitlines()[2:]
    assert [re.match(r"\| `([A-Z_]+)` \|", row).group(1) for row in rows] == [v.name for v in VARIABLES]


# Files that may read the environment: the settings; the providers' API keys and base URLs, which are not settings of
# ours; and calls/batch.py, whose first_poll_wait() is to read `read_settings().batch_poll_wait` once the batch transport
# now being reworked lands.
READS_ENVIRONMENT = {"settings.py", "models/api_access.py", "models/secrets.py"}


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_only_the_settings_read_the_environment(path):
    if str(path.relative_to(SRC)) in READS_ENVIRONMENT:
        return
    code = path.read_text("utf-8")
    reads = re.findall(r"\bos\.environ\b|\bgetenv\b|\benviron\.get\b|[\"'](?:CONSTITUTIONAL_[A-Z_]+|OMP_NUM_THREADS)[\"']", code)
    assert not reads, f"{path.relative_to(SRC)} reads the environment itself ({reads}): add the variable to settings.py"
