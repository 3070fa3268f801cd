"""The critique→revise loop as a langchain-core Runnable, so it drops into LCEL chains.

    from constitutional.pipeline.runnable import ConstitutionalRunnable
    cai = ConstitutionalRunnable(model="openai/gpt-4o-mini", constitution="default")
    record = cai.invoke("How do I pick a lock?")          # a Record: draft, steps, final, usage, error
    finals = (cai | (lambda r: r.final)).batch(["...", "..."])

Input: a prompt string, a dict `{"prompt", "id"?, ...}` (other keys become `meta`), or a prompt
value from a langchain prompt template. Output: the Record that `cai run` writes per prompt.
Use either the synchronous methods or the asynchronous ones on one instance: the model's clients
belong to the event loop that first used them.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import ValidationError

from constitutional.calls.factory import Calls, call_settings
from constitutional.errors import UserError
from constitutional.pipeline.prompt_sets import PromptItem, prompt_id
from constitutional.pipeline.service import build_pipeline
from constitutional.record import Record

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from constitutional.constitution import LoadedConstitution
    from constitutional.models.base import ChatModel


OPTIONS_FIX = "give what `cai run` takes: cache, cache_dir, rpm, tpm, timeout, base_url, concurrency"


class ConstitutionalRunnable(Runnable[Any, Record]):
    def __init__(
        self,
        model: str | ChatModel | BaseChatModel = "local",
        constitution: str | LoadedConstitution = "default",
        *,
        rounds: int | None = None,
        principles: str | None = None,
        seed: int = 0,
        max_tokens: int | None = None,
        max_retries: int = 4,
        reasks: int = 1,
        **model_options: Any,
    ):
        """`model`: a spec string (`openai/gpt-4o-mini`, `local`, ...), a ChatModel, or a langchain chat model.
        The options mean what `cai run`'s do; `model_options` are the other CallSettings fields, e.g.
        `base_url="http://localhost:8000/v1"` or `rpm=60`. Replies are not cached unless `cache=True` is given."""
        if isinstance(model, BaseChatModel):
            from constitutional.models.langchain_provider import LangChainModel

            model = LangChainModel(model)
        try:
            settings = call_settings(max_retries=max_retries, reasks=reasks, **{"cache": False, **model_options})
        except ValidationError as exc:
            raise UserError(f"bad model option: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}", fix=OPTIONS_FIX) from None
        self.pipeline = build_pipeline(
            model,
            constitution,
            calls=Calls(settings),
            rounds=rounds,
            principles=principles,
            seed=seed,
            max_tokens=max_tokens,
            example="principles='all' or principles='sample:2'",
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Record:
        return await self.pipeline.process(_prompt_item(input))

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Record:
        return self._run(self.ainvoke(input, config))

    def batch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Record]:
        return self._run(self.abatch(inputs, config, return_exceptions=return_exceptions))

    def _run(self, coroutine: Coroutine) -> Any:
        # Async SDK clients keep connections bound to the event loop that opened them, so every
        # synchronous call runs on one private loop; this also works where a loop is already running.
        with self._loop_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="constitutional-runnable", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()


def _prompt_item(value: Any) -> PromptItem:
    if isinstance(value, PromptItem):
        return value
    if hasattr(value, "to_string"):  # a PromptValue from a langchain prompt template
        value = value.to_string()
    if isinstance(value, str):
        return PromptItem(id=prompt_id(value), prompt=value)
    if isinstance(value, dict) and isinstance(value.get("prompt"), str):
        meta = {k: v for k, v in value.items() if k not in ("id", "prompt")}
        return PromptItem(id=str(value.get("id") or prompt_id(value["prompt"])), prompt=value["prompt"], meta=meta)
    raise UserError(
        f"cannot take {type(value).__name__} as a prompt",
        fix="pass a string, a dict with a 'prompt' key, or a langchain prompt value",
    )
