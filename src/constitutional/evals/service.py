"""The eval stage as a service, one way for every front end: `cai run` (after its job) and `cai eval` both describe
what to evaluate in an EvalRequest, check it before any work (`EvalRequest.check`), and call `run_eval_stage`.

The judge and its debaters are made by the job's call factory (`calls.factory.Calls`) from the judge's CallSettings,
so the retries, rate limits (shared with every role on the same endpoint), cache and concurrency that the user set
apply to them as to the run's model.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from constitutional.calls.batch import attach_batcher
from constitutional.constitution import LoadedConstitution, load_constitution
from constitutional.errors import UserError, install_fix
from constitutional.evals.debate import CHECKLIST, MODES, JudgeSetup
from constitutional.evals.hybrid_scorer import HybridScorer
from constitutional.evals.scorer import ModelScorer, close_scorer, default_spec, load_scorer
from constitutional.evals.scorer_pool import cores
from constitutional.evals.stage import run_eval
from constitutional.models.registry import check_spec, command_line_only, create_model
from constitutional.rundir import check_run_files

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from constitutional.calls.factory import Calls
    from constitutional.calls.managed import ManagedModel
    from constitutional.calls.settings import CallSettings
    from constitutional.evals.items import EvalInput
    from constitutional.evals.lines import EvalLine
    from constitutional.evals.report_model import RedteamSummary
    from constitutional.evals.scorer import Scorer
    from constitutional.evals.stage import EvalResult

NO_JUDGE = "none"
AUTO = "auto"
BUNDLED = "local"  # the bundled 135M model: it drafts and scores, but as a judge it decides nothing and costs minutes
NO_JUDGE_NOTE = (
    "no judge: the bundled model is too small to judge (it decides nothing and costs minutes), so the signals and "
    "the scorer decide; add one with --judge openai/MODEL, --judge anthropic/MODEL or --judge local:PATH.gguf"
)


def is_auto(judge: str | None) -> bool:
    return (judge or AUTO).strip().lower() == AUTO


def judge_left_out(judge: str | None, model: str) -> bool:
    """Whether `--judge auto` leaves the judge out because the model is the bundled one (say NO_JUDGE_NOTE then)."""
    return is_auto(judge) and model.strip() == BUNDLED


def judge_spec(judge: str | None, model: str) -> str | None:
    """The judge `--judge` names: a spec; None for 'none'; for 'auto' (the default, also when nothing is given) the
    model, unless `judge_left_out` says the bundled one, which as a judge decides nothing and costs minutes."""
    if judge is None or is_auto(judge):
        return None if judge_left_out(judge, model) else model
    return None if judge.strip().lower() == NO_JUDGE else judge.strip()


def default_judge(source: EvalInput) -> str:
    """What `--judge auto` stands for in `cai eval`: the run's judge, else its model, else the bundled model (which
    `judge_spec` then leaves out). A spec that would import code (`langchain:`), load a model file (`local:PATH`) or
    answer from a file of canned replies (`scripted:PATH`) is never taken from run.json (`command_line_only`): whoever
    wrote the directory would choose the code, the file, or the verdicts."""
    manifest = source.manifest if isinstance(source.manifest, dict) else {}
    role = "judge" if manifest.get("judge") else "model"
    spec = manifest.get(role) or BUNDLED
    where = source.path / "run.json"
    if not isinstance(spec, str):
        raise UserError(
            f"{where} names the {role} {spec!r}, which is not a model spec",
            fix="pass --judge SPEC (see `cai models`), or --judge none",
        )
    risk = command_line_only(spec)
    if risk is not None:
        raise UserError(
            f"{where} names the {role} '{spec}', which {risk}; a spec that imports code or reads a file of its choosing "
            "is taken from the command line only",
            fix=f"pass --judge {shlex.quote(spec)} yourself to trust it, or --judge none",
        )
    return spec


def constitution_for(source: EvalInput, given: str | None, warn: Callable[[str], None]) -> LoadedConstitution:
    """The named constitution, else the one the run used, else the built-in default."""
    if given:
        return load_constitution(given)
    used = ((source.manifest or {}).get("constitution") or {}).get("path")
    if used:
        name = used.removeprefix("builtin:")
        if used.startswith("builtin:") or Path(used).is_file():
            return load_constitution(name)
        warn(f"the run's constitution {used} is gone; using the built-in default")
    return load_constitution("default")


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
        if judge is not None:  # a judge that cannot be had (`local:` a file that is no model) is refused now too
            check_spec(judge)
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


EXECUTORS = ("in-process", "ray")  # where the items are evaluated (`--executor`); the canaries run in this process


def check_executor(executor: str) -> None:
    """Refuse, before any work, an executor the eval does not have, or Ray when it is not installed."""
    if executor not in EXECUTORS:
        batch = " (a judge's calls go to its provider's batch API with `cai run --executor batch`)" if executor == "batch" else ""
        raise UserError(
            f"the eval has no executor '{executor}'{batch}",
            fix="use --executor in-process (the default) or --executor ray",
        )
    if executor == "ray" and importlib.util.find_spec("ray") is None:
        raise UserError("--executor ray needs Ray, which is not installed", fix=install_fix("ray"))


@dataclass
class EvalRequest:
    """One eval stage: what to evaluate, against which constitution, with which judge and scorer, written where."""

    source: EvalInput
    constitution: LoadedConstitution
    out: Path
    judge: str | None  # the judge's spec; None: no judge (the signals decide)
    calls: CallSettings  # the judge's and its debaters' (the run's, with the judge's own flags over them)
    scorer: str | None = None  # None: the default scorer
    choice: JudgeChoice = JudgeChoice()
    batched: bool = False  # the judge's calls through its provider's batch API
    executor: str = "in-process"  # one of EXECUTORS
    ray_address: str | None = None  # the Ray cluster to join with executor "ray" (None: a local instance)
    scorer_base_url: str | None = None  # the server of an `openai/MODEL` scorer (None: OPENAI_BASE_URL)
    scorer_workers: int = 1  # processes that decode for a model scorer
    redteam: RedteamSummary | None = None  # a red team's numbers for report.json (`cai eval --redteam-report`)

    def check(self) -> str | None:
        """Refuse, before any work, an executor or a scorer that cannot be had, or a symlink or pipe planted at a file
        the eval writes (the judge and debaters are checked by JudgeChoice); a note to show when --scorer-workers asks
        for what cannot be had."""
        check_executor(self.executor)
        check_run_files(self.out)
        return check_scorer(self.scorer, scorer_settings(self.calls, self.scorer_base_url), self.scorer_workers)


def scorer_settings(calls: CallSettings, base_url: str | None) -> CallSettings:
    """The scorer's CallSettings: `calls` (the judge's) on the scorer's server, `base_url` (None: OPENAI_BASE_URL). A
    scorer is never a chat model, so it never takes the judge's or the run's server."""
    return calls.model_copy(update={"base_url": base_url})


def check_scorer(spec: str | None, settings: CallSettings, workers: int = 1) -> str | None:
    """Refuse a scorer that cannot be had, before any work (a server scorer's server is probed, once a process); say
    what --scorer-workers N will do where it is not what it says: ignored by a scorer without a model, or more
    processes than cores."""
    scorer = load_scorer(spec, settings=settings)
    try:
        if workers == 1:
            return None
        if not isinstance(scorer, ModelScorer | HybridScorer):
            return f"--scorer-workers {workers} is ignored: the {scorer.spec if scorer else 'none'} scorer decodes nothing"
        if workers > cores():
            return f"--scorer-workers {workers} on {cores()} cores: the workers get a thread each and share the cores"
        return None
    finally:
        close_scorer(scorer)


@dataclass(frozen=True)
class Judging:
    """How each item is judged and scored: the judge's spec (None: no judge), its CallSettings, its mode and debaters,
    and the scorer's spec, resolved (the driver's environment decides it, not a worker's). Data, so that it travels to
    Ray's workers, each of which makes its own models from it (`models`) as this process does."""

    judge: str | None
    calls: CallSettings
    choice: JudgeChoice
    scorer: str
    scorer_base_url: str | None = None  # the server of an `openai/MODEL` scorer (None: OPENAI_BASE_URL)
    scorer_workers: int = 1  # processes that decode for a model scorer

    @classmethod
    def of(cls, request: EvalRequest) -> Judging:
        scorer = request.scorer or default_spec()
        return cls(request.judge, request.calls, request.choice, scorer, request.scorer_base_url, request.scorer_workers)

    def models(self, calls: Calls, settings: CallSettings | None = None) -> tuple[ManagedModel | None, JudgeSetup, Scorer | None]:
        """The judge model, its setup (debaters) and the scorer, made by `calls` with `settings` (default: the judge's
        own; a Ray worker's share of them). A provider option that the judge's provider does not take (the run's
        --timeout for a `local` judge) is left out; a debater of another spec than the judge's talks to its provider's
        default server (the environment's), as the judge of another spec than the run's model does."""
        settings = settings or self.calls
        judge_model, setup = None, CHECKLIST
        if self.judge is not None:
            judge_model = calls.model(self.judge, settings, strict=False)
            elsewhere = settings.model_copy(update={"base_url": None})
            setup = self.choice.setup(judge_model, lambda spec: calls.model(spec, elsewhere, strict=False))
        scorer_calls = scorer_settings(settings, self.scorer_base_url)
        return judge_model, setup, load_scorer(self.scorer, calls=calls, settings=scorer_calls, workers=self.scorer_workers)


def run_eval_stage(
    request: EvalRequest, calls: Calls, on_line: Callable[[EvalLine], None], say: Callable[[str], None]
) -> EvalResult:
    """Evaluate every item of the request, writing eval.jsonl and report.json to `request.out`. The canaries run in this
    process; the items too, or with executor "ray" on Ray's workers (evals/ray_stage.py), each with its own judge and
    scorer made from the same `Judging` and its share of the rate limits."""
    judging = Judging.of(request)
    judge_model, setup, scorer = judging.models(calls)
    try:
        if request.batched and judge_model is not None:
            attach_batcher(judge_model, request.out / "batches.json", "judge", say)
        elsewhere = None
        if request.executor == "ray":
            from constitutional.evals.ray_stage import RayEval  # imports ray: only when it is chosen

            elsewhere = RayEval(judging, request.constitution, say, request.ray_address)
        job = run_eval(
            request.source,
            request.constitution,
            judge_model,
            request.out,
            on_line,
            scorer=scorer,
            setup=setup,
            elsewhere=elsewhere,
            redteam=request.redteam,
        )
        return asyncio.run(_with_threads(request.scorer_workers, job))
    finally:
        close_scorer(scorer)


async def _with_threads(workers: int, job: Awaitable[EvalResult]) -> EvalResult:
    """The job, with threads enough for `workers` scorer calls at once (the scorer runs in the loop's default thread
    pool, which asyncio otherwise caps at 32)."""
    if workers > 1:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=workers + 4))
    return await job
