"""The `cai` command."""

from __future__ import annotations

import typer

from constitutional.cli.constitution import constitution_app
from constitutional.cli.eval import eval_command
from constitutional.cli.export import export
from constitutional.cli.models import models
from constitutional.cli.report import report_app
from constitutional.cli.run import run

app = typer.Typer(
    help="Constitutional-AI critique→revise over prompt sets, with an eval that sees through compliance veneer.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("run")(run)
app.command("eval")(eval_command)
app.command("models")(models)
app.add_typer(constitution_app, name="constitution")
app.command("export")(export)
app.add_typer(report_app, name="report")


def main() -> None:
    app()
