"""`cai constitution ...`: check, inspect, start, describe and import constitution files."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from constitutional.cli import options as opt
from constitutional.cli.common import EXIT_BAD_INPUT, err_console, user_errors
from constitutional.constitution import load_constitution
from constitutional.constitution.importers import FORMATS, import_constitution, to_yaml
from constitutional.constitution.lint import lint_file
from constitutional.constitution.schema import constitution_schema
from constitutional.errors import UserError
from constitutional.rundir import write_atomic, write_output
from constitutional.text import printable

constitution_app = typer.Typer(
    help="Check, inspect, start, describe and import constitution files.",
    no_args_is_help=True,
)


@constitution_app.command("validate")
def validate(
    paths: list[str] = typer.Argument(..., help="Constitution files (.yaml/.toml/.json) or built-in names."),
) -> None:
    """Load each file as `cai run` would; print errors with file and line (exit 2), or a short summary."""
    failed = 0
    for path in paths:
        try:
            loaded = load_constitution(path)
        except UserError as exc:
            failed += 1
            err_console.print(f"[bold red]error:[/] {escape(printable(exc.render()))}", soft_wrap=True)
            continue
        c = loaded.constitution
        with_rules = sum(1 for p in c.principles if p.rules)
        with_examples = sum(1 for p in c.principles if p.examples)
        typer.echo(
            f"ok: {printable(loaded.path)}: '{c.name}' version {c.version}, {len(c.principles)} principles "
            f"({with_rules} with rules, {with_examples} with examples), rounds {c.defaults.rounds}, "
            f"principles {c.defaults.principles}, sha256 {loaded.sha256[:12]}"
        )
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


@constitution_app.command("lint")
@user_errors
def lint(
    path: str = typer.Argument(..., help="A constitution file or a built-in name (e.g. default)."),
) -> None:
    """Warn about vague critiques, veneer-inviting revisions, duplicates and uncheckable principles.

    Exit codes: 0 no warnings; 1 warnings; 2 the file does not load.
    """
    loaded = load_constitution(path)
    warnings = lint_file(path, loaded.constitution)
    for warning in warnings:
        typer.echo(printable(warning.render(loaded.path)))
    count = len(loaded.constitution.principles)
    if warnings:
        err_console.print(f"{len(warnings)} warning{'s' if len(warnings) > 1 else ''} in {escape(loaded.path)}")
        raise typer.Exit(1)
    err_console.print(f"clean: {escape(loaded.path)} ({count} principles)")


@constitution_app.command("show")
@user_errors
def show(
    name_or_path: str = typer.Argument("default", help="A built-in name (e.g. default) or a constitution file."),
) -> None:
    """Print a constitution in a readable form: its defaults, then each principle with rules and examples."""
    loaded = load_constitution(name_or_path)
    c = loaded.constitution
    console = Console(highlight=False)
    head = Text.assemble((c.name, "bold"), f"  version {c.version}  ", (f"{len(c.principles)} principles", "cyan"))
    lines = [head]  # names hold no control characters (the model refuses them); every other text goes through printable
    if c.description:
        lines.append(Text(printable(c.description.strip())))
    lines.append(Text(f"defaults: rounds {c.defaults.rounds}, principles {c.defaults.principles}", style="dim"))
    lines.append(Text(printable(f"{loaded.path}  sha256 {loaded.sha256[:12]}"), style="dim"))
    console.print(Panel(Group(*lines), expand=False))
    for p in c.principles:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        # Text(), not str: constitution texts may hold [brackets] that rich would read as markup.
        table.add_row("critique", Text(printable(p.critique_request.strip())))
        table.add_row("revision", Text(printable(p.revision_request.strip())))
        if p.description:
            table.add_row("about", Text(printable(p.description.strip())))
        for rule in p.rules:
            check = getattr(rule, rule.kind)
            described = f"{rule.kind}: {check}" + (f"  ({rule.description})" if rule.description else "")
            table.add_row("rule", Text(printable(described)))
        if p.examples:
            table.add_row("examples", Text(f"{len(p.examples)} few-shot example{'s' if len(p.examples) > 1 else ''}"))
        extras = [f"weight {p.weight:g}"] + ([f"tags {', '.join(p.tags)}"] if p.tags else [])
        title = Text.assemble((p.id, "bold cyan"), f"  {p.name}  ", (" · ".join(extras), "dim"))
        console.print(Panel(table, title=title, title_align="left"))


@constitution_app.command("new")
@user_errors
def new(
    path: Path = typer.Argument(..., help="Where to write the starter file (.yaml); an existing file is never overwritten."),
) -> None:
    """Write a commented starter constitution that validates and lints clean, ready to edit."""
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise UserError(
            f"{path} is not a .yaml file", fix="starter files are YAML (so they can carry comments); use e.g. my-policy.yaml"
        )
    if path.exists():
        raise UserError(f"{path} already exists", fix="choose another path, or delete the file first")
    name = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "my-policy"
    starter = (resources.files("constitutional.constitution") / "starter.yaml").read_text(encoding="utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, [starter.replace("__NAME__", name)])
    err_console.print(f"wrote {escape(str(path))}; edit it, then run `cai constitution lint {escape(str(path))}`")


@constitution_app.command("schema")
@user_errors
def schema(
    out: Path = typer.Option(
        None, "--out", "-o", help="Write the JSON Schema to this file, not stdout.", rich_help_panel=opt.OUTPUT_PANEL
    ),
    output_alias: opt.OutputAlias = None,
) -> None:
    """Print the JSON Schema of constitution files, for editors that validate and autocomplete them."""
    output = out or (Path(output_alias) if output_alias else None)
    text = json.dumps(constitution_schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    write_output(output, [text])
    err_console.print(f"wrote {escape(str(output))}")


@constitution_app.command("import")
@user_errors
def import_(
    source: str = typer.Argument(
        ..., help="File to import; for --from langchain also MODULE:ATTR, FILE.py:ATTR or 'builtin[:NAME,...]'."
    ),
    from_: str = typer.Option(
        ..., "--from", help=f"Source format: {', '.join(FORMATS)}.", metavar="FORMAT", rich_help_panel=opt.INPUT_PANEL
    ),
    out: Path = typer.Option(
        None, "--out", "-o", help="The constitution YAML file to write (required).", rich_help_panel=opt.OUTPUT_PANEL
    ),
    output_alias: opt.OutputAlias = None,
    name: str = typer.Option(
        None, "--name", help="Name of the new constitution (default: the file's).", rich_help_panel=opt.OUTPUT_PANEL
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite the --out file if it exists.", rich_help_panel=opt.OUTPUT_PANEL),
) -> None:
    """Convert a constitution from the CAI paper's JSON, llm-swarm's JSON or LangChain principles into YAML."""
    output = out or (Path(output_alias) if output_alias else None)
    if output is None:
        raise UserError("cai constitution import needs --out FILE.yaml", fix="add e.g. -o imported.yaml")
    if output.suffix.lower() not in (".yaml", ".yml"):
        raise UserError(f"{output} is not a .yaml file", fix="imports are written as YAML; use e.g. -o imported.yaml")
    if output.exists() and not force:
        raise UserError(f"{output} already exists", fix="choose another --out, or add --force to overwrite it")
    imported = import_constitution(source, from_, name)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, [to_yaml(imported, from_)])
    load_constitution(str(output))  # what we write must load; fail loudly here rather than in `cai run`
    for note in imported.notes:
        err_console.print(f"[yellow]note:[/] {escape(printable(note))}")
    count = len(imported.constitution.principles)
    err_console.print(f"wrote {escape(str(output))} ({count} principles); next: cai constitution lint {escape(str(output))}")
