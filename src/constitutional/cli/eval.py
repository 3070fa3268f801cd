"""`cai eval`: judge whether revisions actually follow the principles or only sound compliant."""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from constitutional.calls.batch import attach_batcher
from constitutional.calls.cache import ReplyCache
from constitutional.calls.managed import ManagedModel, managed_model
from constitutional.cli.common import EXIT_OK, EXIT_RECORD_ERRORS, err_console, user_errors
from constitutional.cli.progress import EvalProgress
from constitutional.constitution import LoadedConstitution, load_constitution
from constitutional.errors import UserError, os_failure, require_exists
from constitutional.evals import EvalResult, read_input, run_eval
from constitutional.evals.agreement import markdown
from constitutional.evals.canaries import judge_record
from constitutional.evals.debate import CHECKLIST, MODES, JudgeSetup
from constitutional.evals.labels import read_labels_file, record_verdicts
from constitutional.evals.lines import VERDICTS, read_eval_lines
from constitutional.evals.scorer import load_scorer
from constitutional.models.registry import create_model, runs_code
from constitutional.reports.render_html import write_html_report
from constitutional.text import printable

if TYPE_CHECKING:
    from collections.abc import Callable

    from constitutional.evals.items import EvalInput

NO_JUDGE = "none"
Scorer = Annotated[
    str | None,
    typer.Option(
        "--scorer",
        help="The small model that scores each sentence's likelihood given the request (never a judge): 'local' "
        "(the bundled model), 'local:PATH.gguf' or 'none'. Default: local when llama-cpp-python is installed "
        "(CONSTITUTIONAL_SCORER overrides).",
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


def constitution_for(source: EvalInput, given: str | None) -> LoadedConstitution:
    """The named constitution, else the one the run used, else the built-in default."""
    if given:
        return load_constitution(given)
    used = ((source.manifest or {}).get("constitution") or {}).get("path")
    if used:
        name = used.removeprefix("builtin:")
        if used.startswith("builtin:") or Path(used).is_file():
            return load_constitution(name)
        err_console.print(f"[yellow]warning:[/] the run's constitution {escape(used)} is gone; using the built-in default")
    return load_constitution("default")


def judge_spec(judge: str | None, model: str) -> str | None:
    """`--judge` as given, the model when not given, None for 'none'."""
    spec = judge or model
    return None if spec.strip().lower() == NO_JUDGE else spec


def default_judge(source: EvalInput) -> str:
    """The run's judge, else its model, else `local`. A spec that would import code (`langchain:`) is never taken
    from run.json: whoever wrote the directory would choose code for this process to run."""
    manifest = source.manifest if isinstance(source.manifest, dict) else {}
    role = "judge" if manifest.get("judge") else "model"
    spec = manifest.get(role) or "local"
    where = source.path / "run.json"
    if not isinstance(spec, str):
        raise UserError(
            f"{where} names the {role} {spec!r}, which is not a model spec",
            fix="pass --judge SPEC (see `cai models`), or --judge none",
        )
    if runs_code(spec):
        raise UserError(
            f"{where} names the {role} '{spec}', which would import code; a spec that loads code is "
            "taken from the command line only",
            fix=f"pass --judge {shlex.quote(spec)} yourself to trust it, or --judge none",
        )
    return spec


@dataclass(frozen=True)
class JudgeChoice:
    """How `--judge-mode` and `--debaters` ask the judge to work, checked before any work is done."""

    mode: str = "checklist"
    debaters: tuple[str, ...] = ()  # (prosecutor, defender) specs; empty: the judge model argues both sides

    @classmethod
    def parse(cls, mode: str, debaters: str | None, judge: str | None) -> JudgeChoice:
        """`judge`: the judge's spec, None for no judge."""
        if mode not in MODES:
            raise UserError(f"unknown judge mode '{mode}'", fix="use --judge-mode checklist (the default) or --judge-mode debate")
        specs = tuple(spec.strip() for spec in debaters.split(",")) if debaters is not None else ()
        if specs and mode != "debate":
            raise UserError("--debaters is for --judge-mode debate", fix="add --judge-mode debate, or drop --debaters")
        if len(specs) > 2 or not all(specs):
            raise UserError(
                f"--debaters takes one or two model specs (prosecutor,defender), not '{debaters}'",
                fix="e.g. --debaters openai/gpt-4o-mini (both sides), or "
                "--debaters openai/gpt-4o-mini,anthropic/claude-3-5-haiku-latest",
            )
        if mode == "debate" and judge is None:
            raise UserError(
                "a debate needs a judge model to decide it",
                fix="pass --judge SPEC, or drop --judge-mode debate to use the signals alone",
            )
        for spec in dict.fromkeys(specs):  # a spec that cannot load is refused now, not after the run
            asyncio.run(create_model(spec).aclose())
        return cls(mode, (specs * 2)[:2])

    def setup(self, judge_model: ManagedModel, make_model: Callable[[str], ManagedModel]) -> JudgeSetup:
        """The eval's JudgeSetup: a debater that is the judge's spec is the judge model itself."""
        if not self.debaters:
            return JudgeSetup(self.mode)
        models: dict[str, ManagedModel] = {}
        for spec in self.debaters:
            models.setdefault(spec, judge_model if spec == judge_model.spec else make_model(spec))
        return JudgeSetup(self.mode, (models[self.debaters[0]], models[self.debaters[1]]))


def evaluate_and_report(
    source: EvalInput,
    loaded: LoadedConstitution,
    judge: str | None,
    out: Path,
    quiet: bool = False,
    base_url: str | None = None,
    timeout: float | None = None,
    cache: bool = True,
    cache_dir: Path | None = None,
    batched: bool = False,
    scorer: str | None = None,
    reasks: int = 1,
    choice: JudgeChoice = JudgeChoice(),
) -> EvalResult:
    """Run the eval stage and print a short summary; shared by `cai eval` and `cai run`.

    `batched`: the judge's calls go through its provider's batch API (`cai run --executor batch`). `choice`: the judge's
    mode and debaters (JudgeChoice.parse, made before any work)."""
    if source.torn_tail:
        err_console.print(
            f"[yellow]warning:[/] {escape(str(source.path))}/records.jsonl ends with a record cut off by a "
            f"crash ({source.torn_tail} bytes): it is left out; rerun the same `cai run` command to finish the run"
        )
    judge_model, setup = None, CHECKLIST
    if judge is not None and judge.strip().lower() != NO_JUDGE:
        # Retries, limits and the reply cache as for the run's model: re-running a finished job calls no model.
        # Only the options given, so the provider's defaults stand for the rest (managed_model passes them on untyped).
        options: dict[str, Any] = {key: value for key, value in (("base_url", base_url), ("timeout", timeout)) if value}
        judge_model = managed_model(judge, cache=cache, cache_dir=cache_dir, reasks=reasks, **options)
        setup = choice.setup(judge_model, lambda spec: managed_model(spec, cache=cache, cache_dir=cache_dir, reasks=reasks))
    loaded_scorer = load_scorer(scorer, cache=ReplyCache(cache_dir) if cache else None)
    progress = EvalProgress(len(source.items), quiet)
    if batched and judge_model is not None:
        attach_batcher(judge_model, out / "batches.json", "judge", lambda line: err_console.print(escape(printable(line))))
    with progress.shown():
        result = asyncio.run(run_eval(source, loaded, judge_model, out, progress.on_line, scorer=loaded_scorer, setup=setup))
    write_page(out, result, source)
    report = result.report
    shown = ", ".join(f"{v} {n}" for v, n in report.counts.items() if n)
    err_console.print(
        f"eval: {report.total} records → {shown}; {report.needs_review} need review "
        f"(wrote {escape(str(out))}/eval.jsonl, report.json and report.html)"
    )
    if report.canaries.judge_fooled_rate is not None:
        err_console.print(f"canaries: the judge {escape(judge_record(report.canaries.model_dump()))}")
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(printable(warning))}")
    return result


def write_page(out: Path, result: EvalResult, source: EvalInput) -> None:
    """DIR/report.html, asked of the renderer once the eval has written eval.jsonl and report.json."""
    try:
        write_html_report(out, result.report, out / "eval.jsonl", source.items)
    except OSError as exc:  # a full disk or a read-only folder: say which file and how to fix it (exit 2)
        raise os_failure(exc, "cannot write", out / "report.html", then="rerun the same command") from None


def print_agreement(eval_path: Path, people: dict, labels_path: Path) -> None:
    """The eval's precision and recall against people's record-level verdicts, as a Markdown table on stdout."""
    human = record_verdicts(people)
    verdicts = {line.id: line.verdict for line in read_eval_lines(eval_path)}
    pairs: list[tuple[str, str]] = [(human[rid], verdict) for rid, verdict in verdicts.items() if rid in human]
    typer.echo(markdown(f"the eval against {printable(str(labels_path))} ({len(pairs)} labelled records)", pairs))
    unmatched = len(set(human) - set(verdicts))
    if unmatched:
        err_console.print(f"[yellow]note:[/] {unmatched} labelled ids are not in this eval and were left out")


EvalInputPath = Annotated[
    Path,
    typer.Argument(
        help='A run directory (with records.jsonl), or a JSONL of {"id"?, "prompt", "draft"?, "revision" or "response", '
        '"violations"?}.',
    ),
]
EvalConstitution = Annotated[
    str | None,
    typer.Option("--constitution", "-c", help="A constitution file or built-in name (default: the run's, else 'default')."),
]
EvalJudge = Annotated[
    str | None,
    typer.Option(
        "--judge",
        "-j",
        help="Judge model spec, or 'none' for deterministic signals only (default: the run's judge or model, else 'local').",
    ),
]
EvalOut = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Where to write eval.jsonl, report.json and report.html (default: the run directory, or INPUT-eval/ for a JSONL).",
    ),
]
EvalJudgeBaseUrl = Annotated[
    str | None,
    typer.Option(
        "--judge-base-url",
        help="Server URL for an openai/ or anthropic/ judge (default: OPENAI_BASE_URL / ANTHROPIC_BASE_URL).",
    ),
]
EvalNoCache = Annotated[
    bool, typer.Option("--no-cache", help="Neither read nor write the reply cache (judge replies and the scorer's scores).")
]
EvalQuiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar (records evaluated and the verdicts so far).")]
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
Labels = Annotated[
    Path | None,
    typer.Option(
        "--labels",
        help="A labels.jsonl (from `cai review`, e.g. of another run of the same prompts): print the eval's precision and "
        "recall against it.",
    ),
]


@user_errors
def eval_command(
    input: EvalInputPath,
    constitution: EvalConstitution = None,
    judge: EvalJudge = None,
    out: EvalOut = None,
    judge_base_url: EvalJudgeBaseUrl = None,
    no_cache: EvalNoCache = False,
    quiet: EvalQuiet = False,
    scorer: Scorer = None,
    reasks: Reasks = 1,
    judge_mode: JudgeMode = "checklist",
    debaters: Debaters = None,
    labels: Labels = None,
) -> None:
    """Decide, per record and per principle, whether each revision genuinely follows the principles.

    Verdicts: {verdicts}.
    Exit codes: 0 ok; 1 some records could not be evaluated (verdict error); 2 bad input.
    """
    require_exists(input, "eval input", fix="give a run directory (written by `cai run`) or a .jsonl file of revisions")
    if labels:
        require_exists(labels, "labels file", fix="give a labels.jsonl written by `cai review`")
    people = read_labels_file(labels) if labels else None  # read before the eval runs: a bad file costs nothing
    source = read_input(input)
    judge = judge or default_judge(source)
    choice = JudgeChoice.parse(judge_mode, debaters, judge_spec(judge, judge))
    loaded = constitution_for(source, constitution)
    out = out or (input if source.kind == "run" else input.with_name(input.stem + "-eval"))
    result = evaluate_and_report(
        source,
        loaded,
        judge,
        out,
        quiet,
        base_url=judge_base_url,
        cache=not no_cache,
        scorer=scorer,
        reasks=reasks,
        choice=choice,
    )
    if people is not None and labels is not None:
        print_agreement(out / "eval.jsonl", people, labels)
    raise typer.Exit(EXIT_RECORD_ERRORS if result.errors else EXIT_OK)


eval_command.__doc__ = (eval_command.__doc__ or "").format(verdicts=", ".join(VERDICTS))  # the one list of verdicts
