"""Every command's --help reads at 80 columns: no line over 80, no word broken or cut, options grouped under the
panels every command shares, one placeholder style. The commands and options are walked, so new ones are checked."""

import re

import pytest
import typer.main
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.cli.options import PANELS, TidyHelp
from tests.helpers import DATA

IMPORTERS = DATA / "importers"

RUN_HELP_MOST_LINES = 120
BOX = "│╭╮╰╯─┃━"


def commands(command=None, path=()):
    """(path, command) for the app and every command and subcommand under it."""
    command = command or typer.main.get_command(app)
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from commands(sub, (*path, name))


COMMANDS = dict(commands())


def help_at_80(path) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.output


def words(text: str) -> set[str]:
    """The whitespace-separated words of `text`, box lines left out."""
    return set(re.sub(f"[{BOX}]", " ", text).split())


def written_words(command) -> set[str]:
    """The words of a command's own description and of its options' help, as written."""
    shown = [param for param in command.params if not getattr(param, "hidden", False)]
    texts = [command.help or "", *(getattr(param, "help", None) or "" for param in shown)]
    return {word for text in texts for word in text.split()}


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(("cai", *path)))
def test_help_fits_80_columns_without_a_broken_word(path):
    shown = help_at_80(path)
    lines = shown.splitlines()
    assert not [line for line in lines if len(line) > 80], "\n".join(line for line in lines if len(line) > 80)
    assert "…" not in shown, "a word was cut short"
    broken = written_words(COMMANDS[path]) - words(shown)
    assert not broken, f"words broken across lines (or lost): {sorted(broken)}"


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(("cai", *path)))
def test_one_placeholder_style_and_no_bool_on_flags(path):
    shown = help_at_80(path)
    assert not re.search(r"<\w[\w ]*>", shown.replace("<date-time>", "")), shown  # <bool>, <str>, <int range>...
    assert "{" + path[-1] not in shown if path else True
    assert not re.search(r"\[(x|\d)[^\]]*x[^\]]*\]", shown), shown  # no [x>=1] range column


@pytest.mark.parametrize("path", [path for path, command in COMMANDS.items() if command.params], ids=" ".join)
def test_every_option_is_in_a_shared_panel(path):
    loose = [
        param.name
        for param in COMMANDS[path].params
        if param.param_type_name == "option" and not param.hidden and param.rich_help_panel not in PANELS
    ]
    assert not loose, f"options outside the panels {PANELS}: {loose} (give each rich_help_panel=opt.<NAME>_PANEL)"


def test_run_help_is_short_enough_to_read():
    lines = help_at_80(("run",)).splitlines()
    assert len(lines) <= RUN_HELP_MOST_LINES, len(lines)


def test_the_check_sees_a_word_wider_than_the_column():
    """What the broken-word check relies on: help with a word too wide for its column shows it cut or folded."""
    wide = typer.Typer(cls=TidyHelp)

    @wide.command()
    def one(flag: bool = typer.Option(False, "--flag", help="see " + "x" * 70 + " here")) -> None: ...

    @wide.command()
    def two() -> None: ...

    shown = CliRunner().invoke(wide, ["one", "--help"], env={"COLUMNS": "80"}).output
    assert "x" * 70 not in words(shown)


@pytest.mark.parametrize(
    "command, written",
    [
        (["schema", "labels"], "labels.json"),
        (["constitution", "schema"], "constitution.json"),
        (["constitution", "import", str(IMPORTERS / "cai_paper.json"), "--from", "cai-paper"], "c.yaml"),
    ],
)
def test_out_writes_the_file_and_the_old_output_still_does(tmp_path, command, written):
    for flag in ("--out", "-o", "--output"):
        target = tmp_path / flag.strip("-") / written
        target.parent.mkdir()
        result = CliRunner().invoke(app, [*command, flag, str(target)])
        assert result.exit_code == 0 and target.stat().st_size > 0, result.output
    assert "--output" not in help_at_80(command[:-1] if command[0] == "schema" else command[:2])


def test_constitution_import_without_out_says_how_to_give_it():
    args = ["constitution", "import", str(IMPORTERS / "cai_paper.json"), "--from", "cai-paper"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "needs --out FILE.yaml" in result.output and "-o imported.yaml" in result.output


def test_report_diff_lists_only_the_formats_it_writes():
    assert "text|md|json" in help_at_80(("report", "diff")) and "html" not in help_at_80(("report", "diff"))
    result = CliRunner().invoke(app, ["report", "diff", "a", "b", "--format", "html"])
    shown = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and "'html' is not one of 'text', 'md', 'json'" in shown


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(("cai", *path)))
def test_each_command_is_described_in_a_sentence_or_two(path):
    """The first paragraph is what a command list shows: the details go after it (and into the docs)."""
    first = (COMMANDS[path].help or "").split("\n\n")[0]
    assert 0 < len(first) <= 120, first
