"""Options that more than one command takes, declared once: how model calls are made (CallSettings) and how the eval
stage judges and scores."""

from __future__ import annotations

import inspect
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperArgument, TyperOption

from constitutional.calls.factory import call_settings

if TYPE_CHECKING:
    from constitutional.calls.settings import CallSettings

# The panels that group every command's options in its --help, the same names in every command.
MODEL_PANEL = "Model"
LOOP_PANEL = "Loop"
EVAL_PANEL = "Eval"
INPUT_PANEL = "Input"
OUTPUT_PANEL = "Output"
CALLS_PANEL = "Calls and limits"
PANELS = (MODEL_PANEL, LOOP_PANEL, EVAL_PANEL, INPUT_PANEL, OUTPUT_PANEL, CALLS_PANEL)
# The one placeholder style: a value's kind in capitals (an option may name its own, e.g. SPEC or URL).
METAVARS = {Path: "PATH", int: "N", float: "N", str: "TEXT"}


class TidyHelp(typer.core.TyperGroup):
    """The root command group: on creation it gives every command below it help that reads at 80 columns (see
    `tidy_help`), so that an option added anywhere is shown the same way."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        tidy_help(self)


def tidy_help(command: Any) -> None:
    """Every command's help in one style: paragraphs joined into lines that wrap at word boundaries, a placeholder
    in capitals (PATH, N, SPEC; none on a flag), no range column, and the default at the end of the description."""
    command.help = _paragraphs(command.help)
    command.params.sort(key=_panel_order)  # stable: arguments first, as given; then options panel by panel
    for param in [*command.params, command.get_help_option(typer.Context(command))]:
        _tidy_param(param)
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)


def _panel_order(param: Any) -> int:
    panel = getattr(param, "rich_help_panel", None)
    return -1 if isinstance(param, TyperArgument) else PANELS.index(panel) if panel in PANELS else len(PANELS)


def _paragraphs(text: str | None) -> str | None:
    """`text` with each paragraph on one line (the terminal wraps it), paragraphs still apart."""
    if text is None:
        return None
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


def _tidy_param(param: Any) -> None:
    if not isinstance(param, TyperOption | TyperArgument):
        return
    if getattr(param, "is_flag", False):
        param.metavar = ""  # a flag takes no value: no <bool>
    elif param.metavar is None:
        param.metavar = _placeholder(param)
    # the range ([x>=1]) widens the placeholder column of every option; a value out of range is still refused
    param._get_number_range_help_str = lambda: None  # type: ignore[method-assign]
    if isinstance(param, TyperArgument):  # PROMPTS, [SEEDS], PATHS...: no {braces}, and no <path> beside the name
        usage = param.metavar if param.required else f"[{param.metavar}]"
        param._usage_display_name = lambda: usage + ("..." if param.nargs != 1 else "")  # type: ignore[method-assign]
        param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
    if param.show_default is True:
        param.show_default = False
        shown = _default_shown(param.default)
        if shown and "default" not in (param.help or "").lower():
            param.help = f"{param.help or ''} (default: {shown})".strip()


def _placeholder(param: TyperOption | TyperArgument) -> str:
    """CHOICE|CHOICE for a choice, an argument's name, else the kind of value: PATH, N, TEXT."""
    descriptor = param.type_descriptor
    if descriptor.is_choice:
        return "|".join(str(getattr(choice, "value", choice)) for choice in descriptor.choices or ())
    if isinstance(param, TyperArgument) and param.name:
        return param.name.upper()
    return METAVARS.get(descriptor.annotation, "TEXT")


def _default_shown(default: object) -> str:
    """A default as the help shows it; "" for none worth showing (unset, off, empty)."""
    if isinstance(default, Enum):
        default = default.value
    if default is None or default is False or default == "" or callable(default):
        return ""
    return str(default)


# The call options `cai run` and `cai eval` both take, named as CallSettings' fields.
CALL_OPTIONS = ("max_retries", "reasks", "timeout", "max_reply_bytes", "rpm", "tpm", "cache_dir")


def call_settings_of(options: dict[str, Any], concurrency: int | None, base_url: str | None) -> CallSettings:
    """The CallSettings of a command's parsed options (`ctx.params`), with the concurrency and server it gives."""
    given = {name: options[name] for name in CALL_OPTIONS}
    return call_settings(**given, concurrency=concurrency, cache=not options["no_cache"], base_url=base_url)


# `--output`, the old name of `--out` in export, schema and constitution import/schema: hidden, kept for one release.
OutputAlias = Annotated[str | None, typer.Option("--output", hidden=True, help="The old name of --out.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the reply cache.", rich_help_panel=CALLS_PANEL)]
JudgeConcurrency = Annotated[
    int | None,
    typer.Option(
        "--judge-concurrency", min=1, help="Judge calls in flight (default: --concurrency).", rich_help_panel=CALLS_PANEL
    ),
]
Rpm = Annotated[
    float | None,
    typer.Option("--rpm", min=0.01, help="Most requests a minute to one endpoint.", rich_help_panel=CALLS_PANEL),
]
Tpm = Annotated[
    float | None,
    typer.Option("--tpm", min=1, help="Most tokens a minute to one endpoint.", rich_help_panel=CALLS_PANEL),
]
MaxRetries = Annotated[
    int,
    typer.Option("--max-retries", min=0, help="Retries of a call that failed (429, 5xx, timeout).", rich_help_panel=CALLS_PANEL),
]
Timeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0.01,
        help="Seconds to wait for an API reply (default: 600).",
        metavar="SECONDS",
        rich_help_panel=CALLS_PANEL,
    ),
]
MaxReplyBytes = Annotated[
    int | None,
    typer.Option(
        "--max-reply-bytes", min=1, help="Largest reply accepted, in bytes (default: 4 MiB).", rich_help_panel=CALLS_PANEL
    ),
]
CacheDir = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="The reply cache (default: $CONSTITUTIONAL_CACHE_DIR).", rich_help_panel=CALLS_PANEL),
]
Scorer = Annotated[
    str | None,
    typer.Option(
        "--scorer",
        help="fast (default), local, local:PATH.gguf, fast+local, openai/MODEL or none.",
        metavar="SPEC",
        rich_help_panel=EVAL_PANEL,
    ),
]
ScorerBaseUrl = Annotated[
    str | None,
    typer.Option(
        "--scorer-base-url",
        help="Server of an openai/MODEL scorer (default: $OPENAI_BASE_URL).",
        metavar="URL",
        rich_help_panel=EVAL_PANEL,
    ),
]


def _workers(value: int) -> int:
    if value < 1:
        raise typer.BadParameter(
            f"{value} is not a number of processes: give 1 (the default: the model scorer decodes in this process) or "
            "more (that many scorer processes, for a machine with the cores)"
        )
    return value


ScorerWorkers = Annotated[
    int,
    typer.Option(
        "--scorer-workers",
        callback=_workers,
        help="Scorer processes for a model scorer (local, fast+local), each with 1/N of the cores.",
        metavar="N",
        rich_help_panel=EVAL_PANEL,
    ),
]
Reasks = Annotated[
    int,
    typer.Option("--reasks", min=0, help="Times a reply that is not valid JSON is asked again.", rich_help_panel=CALLS_PANEL),
]
JudgeMode = Annotated[
    str,
    typer.Option(
        "--judge-mode",
        help="checklist, or debate (a prosecutor and a defender argue first).",
        metavar="MODE",
        rich_help_panel=EVAL_PANEL,
    ),
]
Debaters = Annotated[
    str | None,
    typer.Option(
        "--debaters",
        help="For debate: PROSECUTOR[,DEFENDER] specs (default: the judge).",
        metavar="SPEC",
        rich_help_panel=EVAL_PANEL,
    ),
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address", help="Ray cluster for --executor ray (default: a local one).", metavar="URL", rich_help_panel=CALLS_PANEL
    ),
]
