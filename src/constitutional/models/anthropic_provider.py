"""`anthropic/MODEL`: the Anthropic Messages API (or a server speaking it, through ANTHROPIC_BASE_URL).

System messages go in the `system` field, marked with `cache_control`. The first user message of a
critique starts with the constitution's principles and examples, the same for every prompt: the
provider finds that repeated start by comparing with its previous call and marks it with
`cache_control` too, so repeated critiques read it from Anthropic's prompt cache. Structured steps
force a call to one tool whose `input_schema` is the step's schema; the tool's input is the reply.
`build_request` and `read_reply` are the seams the batch API uses for its requests and results.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import anthropic
import httpx2  # the SDK's HTTP client

from constitutional.models.api_access import endpoint_and_key
from constitutional.models.base import Capabilities, ChatCall, ChatModel, Completion, Message, ModelError, Usage
from constitutional.models.http_errors import DEFAULT_MAX_REPLY_BYTES, from_sdk_exception, invalid_body, reply_too_large

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

KEY_ENV, BASE_URL_ENV = "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"
REPLY_TOOL = "reply"
DEFAULT_MAX_TOKENS = 1024  # the Messages API requires max_tokens on every request
CACHED = {"type": "ephemeral"}
# Anthropic caches nothing shorter than 1024-4096 tokens (by model); at ~4 characters a token, a
# shorter shared start is not worth a cache breakpoint.
MIN_SHARED_PREFIX_CHARS = 4096


class AnthropicModel(ChatModel):
    default_concurrency = 8
    capabilities = Capabilities(
        structured="tool", prompt_cache=True, batch_api="constitutional.calls.batch_anthropic:AnthropicBatches"
    )

    def __init__(self, name: str, client: anthropic.AsyncAnthropic, api_key: str):
        self.name = name
        self.client = client
        self.secrets = (api_key,)
        self._previous_first_user: dict[str, str] = {}  # system prompt → first user message of the last call

    @classmethod
    def from_spec(
        cls,
        arg: str | None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        **_options: Any,
    ) -> AnthropicModel:
        base_url, api_key = endpoint_and_key("anthropic", arg, "anthropic/claude-sonnet-4-0", KEY_ENV, BASE_URL_ENV, base_url)
        assert arg is not None  # endpoint_and_key raised a UserError for a missing model name
        client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=timeout or anthropic.NOT_GIVEN,
            http_client=anthropic.DefaultAsyncHttpxClient(event_hooks={"response": [_reply_cap(max_reply_bytes)]}),
        )
        return cls(arg, client, api_key)

    async def generate(self, messages: list[Message], schema: dict | None = None, **params: Any) -> Completion:
        return self.read_reply(await self._send(self.build_request(ChatCall(messages, schema, params))))

    def build_request(self, call: ChatCall) -> dict:
        """The Messages API parameters of the call (the shared start of its first user message marked for caching)."""
        request: dict[str, Any] = {
            "model": self.name,
            "max_tokens": call.params.get("max_tokens") or DEFAULT_MAX_TOKENS,
            "messages": [{"role": m["role"], "content": m["content"]} for m in call.messages if m["role"] != "system"],
        }
        system = "\n\n".join(m["content"] for m in call.messages if m["role"] == "system")
        first = request["messages"][0] if request["messages"] else None
        if first is not None and first["role"] == "user":
            first["content"] = self._mark_shared_prefix(system, first["content"])
        if system:
            request["system"] = [{"type": "text", "text": system, "cache_control": CACHED}]
        if call.params.get("stop"):
            request["stop_sequences"] = call.params["stop"]
        if call.schema is not None:
            request["tools"] = [
                {"name": REPLY_TOOL, "description": "Give the reply as structured data.", "input_schema": call.schema}
            ]
            request["tool_choice"] = {"type": "tool", "name": REPLY_TOOL}
        return request

    def read_reply(self, reply: dict) -> Completion:
        """The Completion of a Messages API reply (a message as a dict): the reply tool's input as JSON, else the text.
        Without a tool call the text stands; for a structured step the caller's validation re-asks."""
        content = reply.get("content") or []
        tool_input = next((b.get("input") for b in content if b.get("type") == "tool_use"), None)
        usage = _usage(reply.get("usage") or {})
        if isinstance(tool_input, dict):
            return Completion(text=json.dumps(tool_input), usage=usage)
        return Completion(text="".join(b.get("text") or "" for b in content if b.get("type") == "text"), usage=usage)

    async def _send(self, request: dict) -> dict:
        """One Messages API call; the reply message as a dict."""
        try:
            return (await self.client.messages.create(**request)).model_dump()
        except anthropic.APIError as exc:
            if isinstance(exc.__cause__, ModelError):  # the reply cap, raised while the SDK read the body
                raise exc.__cause__ from None
            raise from_sdk_exception("anthropic", exc, self.secrets) from None
        except (ValueError, RecursionError) as exc:  # a body that is not JSON, or nested past Python's recursion
            raise invalid_body("anthropic", exc) from None

    def _mark_shared_prefix(self, system: str, text: str) -> str | list[dict]:
        """`text`, split after the whole lines it shares with the previous call's, that part cached."""
        previous = self._previous_first_user.get(system)
        self._previous_first_user[system] = text
        cut = os.path.commonprefix([previous, text]).rfind("\n") + 1 if previous else 0
        if cut < MIN_SHARED_PREFIX_CHARS:
            return text
        return [{"type": "text", "text": text[:cut], "cache_control": CACHED}, {"type": "text", "text": text[cut:]}]

    async def aclose(self) -> None:
        await self.client.close()


def _reply_cap(limit: int) -> Any:
    """An httpx response hook that makes reading a body (a reply's, or an error's) over `limit` bytes raise
    reply_too_large, from its Content-Length or once that much has come, before the SDK holds it all."""

    async def cap(response: httpx2.Response) -> None:
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise reply_too_large("anthropic", limit)
        response.stream = _CappedStream(response.stream, limit)

    return cap


class _CappedStream(httpx2.AsyncByteStream):
    """A response body stream that raises reply_too_large once more than `limit` bytes have come through."""

    def __init__(self, inner: Any, limit: int):
        self.inner, self.limit = inner, limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self.inner:
            size += len(chunk)
            if size > self.limit:
                raise reply_too_large("anthropic", self.limit)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


def _usage(used: dict) -> Usage:
    """`input_tokens` counts every prompt token, cached or not (Anthropic reports the three apart)."""
    read = used.get("cache_read_input_tokens") or 0
    written = used.get("cache_creation_input_tokens") or 0
    return Usage(
        calls=1,
        input_tokens=(used.get("input_tokens") or 0) + read + written,
        output_tokens=used.get("output_tokens") or 0,
        cached_tokens=read,
        cache_write_tokens=written,
    )
