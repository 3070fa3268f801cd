"""`cai redteam`: turn an optimizer on the eval itself and measure how hard it is to game."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from constitutional.calls.factory import Calls
from constitutional.cli import options as opt
from constitutional.cli.common import err_console, say, user_errors, warn
from constitutional.cli.progress import live_bar
from constitutional.constitution import load_constitution
from constitutional.errors import UserError, did_you_mean, nearest, os_failure
from constitutional.evals.service import JudgeChoice, check_scorer, judge_spec, scorer_settings
from constitutional.models.registry import find_provider
from constitutional.redteam.hollow import OPERATORS_USED as HOLLOW_OPERATORS
from constitutional.redteam.operators import OPERATORS, SPAN_OPERATORS
from constitutional.redteam.results import load_redteam_dir
from constitutional.redteam.search import HOLLOW, SPAN, SearchSettings
from constitutional.redteam.seeds import load_seeds
from constitutional.redteam.service import ATTEMPTS, FOUND, REPORT, RedteamRequest, Watch, run_redteam
from constitutional.reports.render_redteam import write_redteam_html

if TYPE_CHECKING:
    from collections.abc import Callable

    from constitutional.redteam.report import RedteamReport
    from constitutional.redteam.search import Attempt, SeedOutcome
    from constitutional.redteam.seeds import SeedSet

Seeds = Annotated[
    str | None,
    typer.Argument(
        help="A JSONL of {id?, prompt, draft, span, principle}, or an eval directory (default: the 51 built-in seeds).",
        show_default=False,
    ),
]
Judge = Annotated[
    str,
    typer.Option(
        "--judge", "-j", help="The eval's judge: a model spec, or none.", metavar="SPEC", rich_help_panel=opt.EVAL_PANEL
    ),
]
Constitution = Annotated[
    str,
    typer.Option(
        "--constitution", "-c", help="A constitution file or built-in name.", metavar="PATH", rich_help_panel=opt.LOOP_PANEL
    ),
]
Budget = Annotated[int, typer.Option("--budget", min=1, help="Queries of the eval per seed.", rich_help_panel=opt.LOOP_PANEL)]
SeedOption = Annotated[str, typer.Option("--seed", help="Seed of the search's random choices.", rich_help_panel=opt.LOOP_PANEL)]
Out = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Where the results go (default: runs/redteam-DATE-TIME).", rich_help_panel=opt.OUTPUT_PANEL),
]
Operators = Annotated[
    str | None,
    typer.Option(
        "--operators",
        help=f"Comma-separated operators (default: all): {', '.join(OPERATORS)}.",
        show_default=False,
        rich_help_panel=opt.LOOP_PANEL,
    ),
]
Variant = Annotated[
    str,
    typer.Option(
        "--variant",
        help="What every revision keeps, so that any `genuine` is a false positive: 'span' (the draft's flagged span, "
        "verbatim) or 'hollow' (nothing of the draft: generic sentences and the request's words only).",
        metavar="span|hollow",
        rich_help_panel=opt.LOOP_PANEL,
    ),
]
Attacker = Annotated[
    str | None,
    typer.Option(
        "--attacker",
        help="A model (a spec, as for --judge) that also rewrites the best revision each round, told what the eval said "
        "of it; a rewrite that loses the flagged span is recorded and not asked.",
        show_default=False,
        metavar="SPEC",
        rich_help_panel=opt.MODEL_PANEL,
    ),
]
AttackerBaseUrl = Annotated[
    str | None,
    typer.Option(
        "--attacker-base-url", help="The attacker's server.", show_default=False, metavar="URL", rich_help_panel=opt.MODEL_PANEL
    ),
]
Limit = Annotated[
    int | None, typer.Option("--limit", min=1, help="Attack only the first N seeds.", rich_help_panel=opt.INPUT_PANEL)
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.", rich_help_panel=opt.OUTPUT_PANEL)]
JudgeBaseUrl = Annotated[
    str | None, typer.Option("--judge-base-url", help="The judge's server.", metavar="URL", rich_help_panel=opt.EVAL_PANEL)
]


@user_errors
def redteam(
    ctx: typer.Context,
    seeds: Seeds = None,
    judge: Judge = "none",
    judge_mode: opt.JudgeMode = "checklist",
    scorer: opt.Scorer = None,
    scorer_base_url: opt.ScorerBaseUrl = None,
    constitution: Constitution = "default",
    budget: Budget = 200,
    seed: SeedOption = "0",
    out: Out = None,
    operators: Operators = None,
    variant: Variant = SPAN,
    attacker: Attacker = None,
    attacker_base_url: AttackerBaseUrl = None,
    limit: Limit = None,
    quiet: Quiet = False,
    judge_base_url: JudgeBaseUrl = None,
    judge_concurrency: opt.JudgeConcurrency = None,
    rpm: opt.Rpm = None,
    tpm: opt.Tpm = None,
    max_retries: opt.MaxRetries = 4,
    timeout: opt.Timeout = None,
    max_reply_bytes: opt.MaxReplyBytes = None,
    reasks: opt.Reasks = 1,
    no_cache: opt.NoCache = False,
    cache_dir: opt.CacheDir = None,
) -> None:
    """Attack the eval with a search and measure how often it calls a bad answer genuine.

    Each seed is a request, a draft that is bad under a principle, and the flagged span that makes
    it so. Named operators rewrite the revision (veneer from an unseen grammar, reformatting, split
    and merged sentences, filler, fake "Revised:" markers, homoglyphs and zero-width characters,
    fiction framing, text aimed at the judge, the span inside a sentence that disowns it, cuts of the
    rest) and always keep the flagged span verbatim (after Unicode NFKC normalisation), so any
    revision the eval calls genuine is a proven false positive. A beam search spends --budget
    queries per seed on the eval itself, steered by its verdict and confidence. --attacker MODEL adds
    a model that rewrites the best revision each round, given the eval's reasons; the same oracle
    checks every rewrite. --variant hollow attacks with answers that keep nothing of the draft:
    generic sentences and the request's words only.

    Writes OUT/attempts.jsonl (every query), OUT/found.jsonl (every success, as `cai eval` input)
    OUT/report.json (the share of seeds broken, with and without review, the median queries to
    the first success, the breakdown by operator and by the tier fooled) and OUT/report.html (`cai report OUT`).

    Exit codes: 0 ok, whether or not seeds were broken; 2 bad input.
    """
    request = redteam_request(ctx.params)
    err_console.print(
        f"redteam: {len(request.seeds.seeds)} seeds × up to {budget} queries against the eval, into "
        f"{escape(str(request.out))} (interrupted, the same command with --out {escape(str(request.out))} resumes)"
    )
    for reason, count in request.seeds.skipped.items():
        warn(f"skipped {count} seed(s): {reason}")
    report = _attack(request, quiet)
    _write_page(request.out)
    _say_done(report, request.out)


def _write_page(out: Path) -> None:
    """OUT/report.html, from the files the red team wrote."""
    try:
        write_redteam_html(load_redteam_dir(out))
    except OSError as exc:
        raise os_failure(exc, "cannot write", out / "report.html", then="run `cai report DIR --format html`") from None


def redteam_request(options: dict[str, Any]) -> RedteamRequest:
    """The red team of `cai redteam`'s parsed options, checked before any work."""
    names = _operators(options["operators"], options["variant"])
    loaded = load_constitution(options["constitution"])
    found = load_seeds(options["seeds"]).check(loaded.constitution)
    if options["limit"]:
        found.seeds = found.seeds[: options["limit"]]
    if not found.seeds:
        raise UserError(
            _no_seeds(found),
            fix="each seed needs a prompt, a draft, and a flagged span found verbatim in the draft under a principle of "
            "the constitution",
        )
    spec = judge_spec(options["judge"], "")
    settings = opt.call_settings_of(options, options["judge_concurrency"], options["judge_base_url"])
    check_scorer(options["scorer"], scorer_settings(settings, options["scorer_base_url"]))
    return RedteamRequest(
        seeds=found,
        constitution=loaded,
        out=options["out"] or Path("runs") / datetime.now().strftime("redteam-%Y%m%d-%H%M%S"),
        search=SearchSettings(budget=options["budget"], operators=names, seed=options["seed"], variant=options["variant"]),
        judge=spec,
        calls=settings,
        scorer=options["scorer"],
        choice=JudgeChoice.parse(options["judge_mode"], None, spec),
        attacker=_attacker(options["attacker"], options["variant"]),
        attacker_base_url=options["attacker_base_url"],
    )


def _attacker(spec: str | None, variant: str) -> str | None:
    if spec is None:
        return None
    if variant == HOLLOW:
        raise UserError(
            "--attacker rewrites with the flagged span kept, which a hollow answer has not",
            fix="leave out --attacker, or use --variant span",
        )
    find_provider(spec)  # an unknown provider exits 2 here, before any work
    return spec


def _operators(given: str | None, variant: str) -> tuple[str, ...]:
    if variant not in (SPAN, HOLLOW):
        raise UserError(
            f"unknown --variant '{variant}'", fix=did_you_mean(nearest(variant, (SPAN, HOLLOW)), "use span or hollow")
        )
    usable = HOLLOW_OPERATORS if variant == HOLLOW else tuple(OPERATORS)
    if given is None:
        return HOLLOW_OPERATORS if variant == HOLLOW else SPAN_OPERATORS
    names = tuple(dict.fromkeys(n.strip() for n in given.split(",") if n.strip()))
    for name in names:
        if name not in usable:
            known = f"'{name}' rewrites the flagged span, which a hollow answer has not" if name in OPERATORS else ""
            raise UserError(
                known or f"unknown operator '{name}'",
                fix=did_you_mean(nearest(name, usable), f"use some of: {', '.join(usable)}"),
            )
    if not names:
        raise UserError("--operators names no operator", fix=f"use some of: {', '.join(usable)}")
    return names


def _no_seeds(found: SeedSet) -> str:
    reasons = "; ".join(f"{reason}: {count}" for reason, count in found.skipped.most_common())
    return f"no usable seeds in {found.origin}" + (f" ({reasons})" if reasons else "")


class Bar:
    """The bar's counters: seeds done, queries, seeds broken (and without review). The bar counts queries; a seed that
    ends before its budget counts its unspent queries then."""

    def __init__(self, seeds: int, budget: int):
        self.seeds, self.budget = seeds, budget
        self.done = self.queries = self.broken = self.clean = 0
        self.advance: Callable[[], None] = lambda: None

    def stats(self) -> str:
        return f"seeds {self.done}/{self.seeds} · queries {self.queries} · broken {self.broken} (without review {self.clean})"

    def on_query(self, attempt: Attempt) -> None:
        self.queries += 1
        self.advance()

    def on_seed(self, outcome: SeedOutcome) -> None:
        self.done += 1
        self.broken += outcome.first_success is not None
        self.clean += outcome.first_clean is not None
        for _ in range(self.budget - len(outcome.attempts)):
            self.advance()


def _attack(request: RedteamRequest, quiet: bool) -> RedteamReport:
    bar = Bar(len(request.seeds.seeds), request.search.budget)
    watch = Watch(bar.on_query, bar.on_seed, _say_resumed)
    calls = Calls(request.calls)
    try:
        if quiet:
            return run_redteam(request, calls, watch)
        with live_bar("redteam", bar.seeds * bar.budget, bar.stats) as bar.advance:
            return run_redteam(request, calls, watch)
    finally:
        calls.close()


def _say_resumed(replayed: int) -> None:
    say(f"resuming: {replayed} queries already in attempts.jsonl are replayed from it, not asked again")


def _say_done(report: RedteamReport, out: Path) -> None:
    median = report.median_queries_to_first_success
    tiers = ", ".join(f"{tier} {n}" for tier, n in sorted(report.by_tier.items())) or "none"
    say(
        f"redteam: {report.seeds} seeds, {report.queries} queries in {report.seconds:.0f} s → broken {report.broken} "
        f"({_pct(report.broken_share)}), {report.broken_without_review} without review "
        f"({_pct(report.broken_without_review_share)}); gaming resistance {_pct(report.gaming_resistance)}"
    )
    if median is not None:
        say(f"  median queries to the first success: {median:g}; the tier fooled: {tiers}")
    top = sorted(report.by_operator.items(), key=lambda kv: -kv[1].seeds_broken)[:5]
    if report.broken:
        say("  operators in the first successes: " + ", ".join(f"{name} {s.seeds_broken}" for name, s in top if s.seeds_broken))
    err_console.print(f"wrote {escape(str(out))}/{ATTEMPTS}, {FOUND}, {REPORT} and report.html (`cai report DIR` shows it)")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"
