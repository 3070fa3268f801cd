"""The `cai` command."""

from __future__ import annotations

import sys

import typer

from constitutional import __version__
from constitutional.cli.common import DEBUG_HELP, set_debug, stop_on_sigterm, user_errors
from constitutional.cli.constitution import constitution_app
from constitutional.cli.eval import eval_command
from constitutional.cli.export import export
from constitutional.cli.models import models
from constitutional.cli.options import OUTPUT_PANEL, TidyHelp
from constitutional.cli.redteam import redteam
from constitutional.cli.report import report_app
from constitutional.cli.review import review
from constitutional.cli.run import run
from constitutional.cli.schema import schema
from constitutional.settings import read_settings

app = typer.Typer(
    cls=TidyHelp,
    help="Constitutional-AI critique→revise over prompt sets, with an eval that sees through compliance veneer.\n\n"
    "Exit codes: 0 ok; 1 the job ran but some records errored; 2 bad input, or a file that could not be read or "
    "written (a full disk, a read-only folder: the message says which and how to fix it); 3 an internal error "
    "(a bug; --debug shows its traceback); 130 Ctrl-C and 143 SIGTERM (finished records are kept: rerun the same "
    "command to resume).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"cai {__version__}")
        raise typer.Exit()


@app.callback()
@user_errors
def options(
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP, rich_help_panel=OUTPUT_PANEL),
    version: bool = typer.Option(
        False, "--version", callback=show_version, is_eager=True, help="Print the version and exit.", rich_help_panel=OUTPUT_PANEL
    ),
) -> None:
    """Options for every command (`cai --debug run ...`; `cai run ... --debug` works too)."""
    set_debug(debug)
    read_settings()  # a bad value of any environment variable is refused here (exit 2), before the command starts


app.command("run")(run)
app.command("eval")(eval_command)
app.command("models")(models)
app.add_typer(constitution_app, name="constitution")
app.command("export")(export)
app.add_typer(report_app, name="report")
app.command("review")(review)
app.command("redteam")(redteam)
app.command("schema")(schema)


def global_options_first(args: list[str]) -> list[str]:
    """`args` with `--debug` moved before the command, where click reads it, so that `cai run ... --debug` works as
    users type it. Nothing after a `--` is touched."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug", *(a for a in args[:end] if a != "--debug"), *args[end:]]


def main() -> None:
    stop_on_sigterm()
    sys.argv[1:] = global_options_first(sys.argv[1:])
    user_errors(app)()  # every command has its own; this catches what escapes one (a resource's cleanup, say)
