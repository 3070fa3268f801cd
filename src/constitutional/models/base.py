"""One chat-model interface for every provider."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, field_serializer

Message = dict  # {"role": "system"|"user"|"assistant", "content": str}


class Usage(BaseModel):
    """Calls, tokens and cost: of one reply, a record, a run, or the eval's judge calls. Records, run.json and
    report.json hold it as written by `to_dict()`."""

    model_config = ConfigDict(extra="ignore")  # a counter added later is no reason to refuse a file

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # input tokens read from the provider's prompt cache (part of input_tokens)
    cache_write_tokens: int = 0  # input tokens written to the provider's prompt cache (part of input_tokens)
    cache_hits: int = 0  # replies served from our cache: no call made, nothing spent
    cost_usd: float = 0.0

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cached_tokens += other.cached_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.cache_hits += other.cache_hits
        self.cost_usd += other.cost_usd

    @field_serializer("cost_usd")
    def _rounded(self, cost: float) -> float:
        return round(cost, 8)

    def to_dict(self) -> dict:
        return self.model_dump()


@dataclass
class Completion:
    """A reply: its text (for a structured call, the JSON; models/structured.py reads it) and what it used."""

    text: str
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class ChatCall:
    """One request to a chat model, as providers build it: the conversation, the reply's schema, the parameters."""

    messages: list[Message]
    schema: dict | None = None
    params: dict = field(default_factory=dict)  # max_tokens, temperature, top_p, seed, stop


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do, declared on its class."""

    structured: str = "prompt"  # how a schema is enforced: "constrained" (by the server), "tool", or "prompt" (asked in words)
    batch_api: str | None = None  # "module:Class" of its batch API (imported only when used), or None
    prompt_cache: bool = False  # whether it marks shared prompt starts for the provider's prompt cache


class ModelError(Exception):
    """A failed model call. `retryable` tells the runner whether trying again can help; `resend` that the
    provider changed what it will send (a structured-output mode the server refused): send again at once."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
        resend: bool = False,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.resend = resend


class ChatModel(ABC):
    """A provider behind a spec string such as `local` or `scripted:replies.yaml`."""

    spec: str
    default_concurrency: int = 8
    capabilities: Capabilities = Capabilities()
    structured_reasks: int = 1  # re-asks after a structured reply that does not validate (models/structured.py)

    @abstractmethod
    async def generate(self, messages: list[Message], schema: dict | None = None, **params: Any) -> Completion:
        """Return the model's reply. With `schema` (a JSON Schema), the reply's text is JSON."""

    @classmethod
    def from_spec(cls, arg: str | None, **options: Any) -> ChatModel:
        """The model a spec names: `arg` is the spec after its provider's name (None if it has none), `options` the
        keyword options the provider takes (registry.Provider.options). Every provider the registry knows defines it."""
        raise NotImplementedError(f"{cls.__name__} is not made from a spec")

    @classmethod  # noqa: B027 - optional hook
    def check_spec(cls, arg: str | None) -> None:
        """Refuse (UserError), before any work, a spec's argument that can be seen to be unusable without making the
        model or reaching a server (a model file that is not one). The default sees nothing wrong."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has nothing to release."""
