"""Executors other than the in-process runner: provider batch APIs and Ray.

Each is imported only when chosen, so neither an SDK nor Ray is needed to import constitutional.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable

from constitutional.constitution import LoadedConstitution
from constitutional.errors import UserError
from constitutional.models.base import ChatModel
from constitutional.pipeline.calls import ManagedModel
from constitutional.pipeline.records import Record
from constitutional.pipeline.runner import RunConfig, RunResult, RunState, Scan

EXECUTORS = ("in-process", "batch", "ray")
BATCH_APIS = {  # provider → its batch API, "module:Class"
    "openai": "constitutional.pipeline.executors.batch_openai:OpenAIBatches",
    "anthropic": "constitutional.pipeline.executors.batch_anthropic:AnthropicBatches",
}


def has_batch_api(spec: str) -> bool:
    return spec.split("/", 1)[0] in BATCH_APIS


def check_executor(executor: str, model_spec: str) -> None:
    """Refuse an unknown executor, or the batch executor for a model without a batch API, before any work."""
    if executor not in EXECUTORS:
        raise UserError(f"unknown executor '{executor}'", fix=f"use one of: {', '.join(EXECUTORS)}")
    if executor == "batch" and not has_batch_api(model_spec):
        raise UserError(f"--executor batch needs a model with a batch API, not '{model_spec}'",
                        fix="use an openai/MODEL or anthropic/MODEL spec, or drop --executor batch")
    if executor == "ray" and importlib.util.find_spec("ray") is None:
        raise UserError("--executor ray needs Ray, which is not installed", fix="pip install ray (the ray extra of constitutional)")


def run_elsewhere(executor: str, config: RunConfig, scan: Scan, state: RunState, on_record: Callable[[Record], None],
                  say: Callable[[str], None], *, base_url: str | None = None, ray_address: str | None = None,
                  cache_dir=None, max_retries: int = 4) -> RunResult:
    """Run the job with the batch or Ray executor; the result carries `stats` like a ManagedModel's."""
    if executor == "ray":
        from constitutional.pipeline.cache import default_cache_dir
        from constitutional.pipeline.executors.ray_executor import run_ray_job

        # Resolved here: workers do not see the driver's environment.
        options = {"base_url": base_url, "cache_dir": cache_dir or default_cache_dir(), "max_retries": max_retries}
        return run_ray_job(config, scan, state, on_record, say, address=ray_address, model_options=options)
    return _run_batch(config, scan, state, on_record, say, base_url, max_retries)


def _run_batch(config: RunConfig, scan: Scan, state: RunState, on_record: Callable[[Record], None],
               say: Callable[[str], None], base_url: str | None, max_retries: int) -> RunResult:
    from constitutional.models.registry import create_model
    from constitutional.pipeline.executors.batch import run_batch_job
    from constitutional.pipeline.pricing import load_prices, price_for

    api = batch_api(create_model(config.model_spec, base_url=base_url))
    price = price_for(config.model_spec, load_prices())
    return asyncio.run(run_batch_job(config, api, price, scan, state, on_record, say, max_retries))


def batch_api(model: ChatModel):
    """The batch API of the model's provider, which builds its requests and reads its replies."""
    module_name, class_name = BATCH_APIS[model.spec.split("/", 1)[0]].split(":")
    return getattr(importlib.import_module(module_name), class_name)(model)
