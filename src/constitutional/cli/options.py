"""Options that more than one command takes, declared once: how model calls are made (CallSettings) and how the eval
stage judges and scores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from constitutional.calls.factory import call_settings

if TYPE_CHECKING:
    from constitutional.calls.settings import CallSettings

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
        "bundled model itself, about a record a second on 2 cores), 'local:PATH.gguf', 'fast+local[:PATH.gguf]' (fast "
        "first; the model reads only the sentences the fast scorer puts near a threshold), 'openai/MODEL' (a completions "
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
        help="Processes that decode for the model scorer (local, local:PATH.gguf, fast+local), each with its own "
        "llama.cpp context and its share of the cores (OMP_NUM_THREADS, else all of them, divided by N); records are "
        "scored N at a time, with the same scores as with 1. Ignored by the fast scorer and by none.",
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
