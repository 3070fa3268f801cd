"""`cai schema NAME`: the JSON Schema of a file the tool writes, generated from the model that writes and reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from constitutional.cli import options as opt
from constitutional.cli.common import err_console, user_errors
from constitutional.errors import UserError, did_you_mean, nearest
from constitutional.evals.labels import Label
from constitutional.evals.lines import EvalLine
from constitutional.evals.report_model import Report
from constitutional.record import Record
from constitutional.rundir import write_output

if TYPE_CHECKING:
    from pydantic import BaseModel

# name -> (the model, the file whose lines or content it describes)
SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "record": (Record, "a line of DIR/records.jsonl"),
    "eval-line": (EvalLine, "a line of DIR/eval.jsonl"),
    "report": (Report, "DIR/report.json"),
    "labels": (Label, "a line of DIR/labels.jsonl"),
}
NAMES_HELP = "; ".join(f"{name}: {what}" for name, (_, what) in SCHEMAS.items())


def json_schema(name: str) -> dict:
    """The JSON Schema of one of SCHEMAS, or a UserError listing them."""
    if name not in SCHEMAS:
        raise UserError(
            f"no schema named '{name}'", fix=did_you_mean(nearest(name, SCHEMAS), f"use one of: {', '.join(SCHEMAS)}")
        )
    model, what = SCHEMAS[name]
    schema = model.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "description": f"{what} (`cai schema {name}`)",
        **{k: v for k, v in schema.items() if k != "description"},
    }


@user_errors
def schema(
    name: str = typer.Argument(..., metavar="NAME", help=f"Which file: {NAMES_HELP}."),
    out: Path = typer.Option(
        None, "--out", "-o", help="Write the JSON Schema to this file, not stdout.", rich_help_panel=opt.OUTPUT_PANEL
    ),
    output_alias: opt.OutputAlias = None,
) -> None:
    """Print the JSON Schema of a file cai writes: record, eval-line, report or labels.

    Generated from the models cai writes and reads these files with, so they never fall out of date.
    Use them to validate the files in another tool, or to generate types.

    For constitution files see `cai constitution schema`. An unknown NAME exits 2 and lists the names."""
    output = out or (Path(output_alias) if output_alias else None)
    text = json.dumps(json_schema(name), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    write_output(output, [text])
    err_console.print(f"wrote {escape(str(output))}")
