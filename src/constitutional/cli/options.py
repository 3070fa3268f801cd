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
    for param in [*command.params, command.get_help_option(typer.Context(command))]:
        _tidy_param(param)
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)


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


NoCache = Annotated[
    bool,
    typer.Option("--no-cache", help="Neither read nor write the reply cache (model and judge replies, the scorer's scores)."),
]
JudgeConcurrency = Annotated[
    int | None,
    typer.Option(
        "--judge-concurrency",
        min=1,
        help="Judge calls (and an 'openai/MODEL' scorer's requests) in flight at once (default: --concurrency where the "
        "command has it, else the provider's, e.g. 8 for openai/).",
    ),
]
Rpm = Annotated[
    float | None,
    typer.Option(
        "--rpm",
        min=0.01,
        help="Most requests per minute to one endpoint (retries included); the model and a judge on the same endpoint share it.",
    ),
]
Tpm = Annotated[
    float | None,
    typer.Option(
        "--tpm",
        min=1,
        help="Most tokens per minute to one endpoint (estimated before each call, corrected after); shared like --rpm.",
    ),
]
MaxRetries = Annotated[
    int,
    typer.Option(
        "--max-retries",
        min=0,
        help="Retries of a retryable failure (429, 5xx, timeouts) per call, with backoff; the judge's too.",
    ),
]
Timeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0.01,
        help="Seconds to wait for one reply from openai/ or anthropic/ models before retrying (default: the SDK's, 10 minutes).",
    ),
]
MaxReplyBytes = Annotated[
    int | None,
    typer.Option(
        "--max-reply-bytes",
        min=1,
        help="Largest reply body accepted from a model, judge or scorer server, in bytes (default: 4194304, 4 MiB). A "
        "larger one (a server that ignores max_tokens) is an error on its record, not retried; reading stops there.",
    ),
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir", help="Where the reply cache lives (default: $CONSTITUTIONAL_CACHE_DIR or the user cache directory)."
    ),
]
Scorer = Annotated[
    str | None,
    typer.Option(
        "--scorer",
        help="What scores each sentence for being specific to the request (never a judge): 'fast' (default: the "
        "bundled model's scores distilled into a small model shipped as data, microseconds a sentence), 'local' (the "
        "bundled model itself, about a record a second on 2 cores), 'local:PATH.gguf', 'openai/MODEL' (a completions "
        "server that returns prompt log-probabilities, e.g. llama-cpp-python's or vLLM's, at --scorer-base-url; its "
        "requests use the judge's retries, limits and concurrency, and a record it cannot score falls back to 'fast' "
        "and needs review) or 'none' (CONSTITUTIONAL_SCORER overrides the default).",
    ),
]
ScorerBaseUrl = Annotated[
    str | None,
    typer.Option(
        "--scorer-base-url",
        help="Server URL of an 'openai/MODEL' scorer, e.g. http://127.0.0.1:8000/v1 (default: OPENAI_BASE_URL). It is "
        "probed once before any work.",
    ),
]
Reasks = Annotated[
    int,
    typer.Option(
        "--reasks",
        min=0,
        help="Times a reply that is not the JSON asked for is asked again, with the parse error, before it counts as an error.",
    ),
]
JudgeMode = Annotated[
    str,
    typer.Option(
        "--judge-mode",
        help="checklist (default): the judge answers yes/no questions with quotes and compares draft and revision; debate: "
        "per criterion a prosecutor and a defender argue with quotes, one rebuttal each, and the judge picks a side, "
        "read in both speaking orders (about 6 calls per criterion instead of 3-5).",
    ),
]
Debaters = Annotated[
    str | None,
    typer.Option(
        "--debaters",
        help="With --judge-mode debate: the model spec(s) that argue, PROSECUTOR[,DEFENDER] (one spec argues both sides; "
        "default: the judge model).",
    ),
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster to join with --executor ray, e.g. ray://head:10001 or auto (default: start a local instance).",
    ),
]
