"""`openai/MODEL`: the OpenAI API, or any OpenAI-compatible server (vLLM, Ollama, llama.cpp server).

Structured steps try, in order, what a server may support: `response_format` json_schema (strict),
then `{"type": "json_object", "schema": ...}` (llama.cpp's server constrains output with it but
rejects json_schema with an HTTP 500), then plain JSON asked for in words. The first that works is
remembered per base URL for the rest of the process.
"""

from __future__ import annotations

import importlib.util

import openai

from constitutional.models.api_access import endpoint_and_key
from constitutional.models.base import ChatModel, Completion, Message, ModelError, Usage
from constitutional.models.http_errors import from_sdk_exception, invalid_body
from constitutional.models.json_reply import ask_for_json, parse_json_object

KEY_ENV, BASE_URL_ENV = "OPENAI_API_KEY", "OPENAI_BASE_URL"
STRUCTURED_MODES = ("json_schema", "json_object", "prompt")
PASSED_PARAMS = ("temperature", "top_p", "seed", "stop")

_working_mode: dict[str, str] = {}  # base URL → the structured mode that last worked there


class FormatRejected(Exception):
    """The server refused the response_format: try the next structured mode."""


class OpenAIModel(ChatModel):
    default_concurrency = 8

    def __init__(self, name: str, client: openai.AsyncOpenAI, api_key: str, official: bool):
        self.name = name
        self.client = client
        self._secrets = (api_key,)
        # The official API wants max_completion_tokens; compatible servers know only max_tokens.
        self._max_tokens_param = "max_completion_tokens" if official else "max_tokens"

    @classmethod
    def from_spec(cls, arg: str | None, base_url: str | None = None, timeout: float | None = None,
                  **_options) -> "OpenAIModel":
        base_url, api_key = endpoint_and_key("openai", arg, "openai/gpt-4o-mini", KEY_ENV, BASE_URL_ENV, base_url)
        client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, http_client=_http_client(),
                                    **({"timeout": timeout} if timeout else {}))
        return cls(arg, client, api_key, official=base_url is None)

    async def generate(self, messages: list[Message], schema: dict | None = None, **params) -> Completion:
        if schema is None:
            return await self._complete(messages, params)
        url = str(self.client.base_url)
        start = STRUCTURED_MODES.index(_working_mode.get(url, STRUCTURED_MODES[0]))
        for mode in STRUCTURED_MODES[start:]:
            request_messages, response_format = _structured_request(mode, messages, schema)
            try:
                completion = await self._complete(request_messages, params, response_format)
            except FormatRejected:
                continue
            _working_mode[url] = mode
            completion.parsed = parse_json_object(completion.text)
            return completion
        raise AssertionError("the last structured mode sends no response_format, so it is never rejected")

    async def _complete(self, messages: list[Message], params: dict, response_format: dict | None = None) -> Completion:
        request = {k: params[k] for k in PASSED_PARAMS if params.get(k) is not None}
        if params.get("max_tokens"):
            request[self._max_tokens_param] = params["max_tokens"]
        if response_format is not None:
            request["response_format"] = response_format
        try:
            # `post` with `cast_to=object` skips the SDK's typed transform of the request and model building of
            # the reply, which together cost more CPU than the rest of a call; the reply is the plain JSON.
            reply = await self.client.post("/chat/completions", cast_to=object, body={
                "model": self.name, "messages": [{"role": m["role"], "content": m["content"]} for m in messages], **request})
        except openai.APIStatusError as exc:
            if response_format is not None and _rejects_format(exc):
                raise FormatRejected from None
            raise from_sdk_exception("openai", exc, self._secrets) from None
        except openai.APIError as exc:
            raise from_sdk_exception("openai", exc, self._secrets) from None
        except ValueError as exc:
            raise invalid_body("openai", exc) from None
        choices = reply.get("choices") if isinstance(reply, dict) else None
        if not choices:
            raise ModelError("openai returned no choices", retryable=False)
        message = choices[0].get("message") or {}
        return Completion(text=message.get("content") or "", usage=_usage(reply.get("usage")))

    async def aclose(self) -> None:
        await self.client.close()


def _http_client():
    """aiohttp when installed (the `openai` extra brings it): it spends far less CPU per call than httpx's pool."""
    if importlib.util.find_spec("aiohttp") is None:
        return None
    return openai.DefaultAioHttpClient()


def _structured_request(mode: str, messages: list[Message], schema: dict) -> tuple[list[Message], dict | None]:
    if mode == "json_schema":
        return messages, {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}
    if mode == "json_object":
        return messages, {"type": "json_object", "schema": schema}
    return ask_for_json(messages, schema), None


def _rejects_format(exc: openai.APIStatusError) -> bool:
    # llama.cpp's server answers an unknown response_format type with a 500 naming the field.
    return exc.status_code in (400, 422) or (exc.status_code == 500 and "response_format" in str(exc))


def _usage(used: dict | None) -> Usage:
    if not used:
        return Usage(calls=1)
    details = used.get("prompt_tokens_details") or {}
    return Usage(calls=1, input_tokens=used.get("prompt_tokens") or 0, output_tokens=used.get("completion_tokens") or 0,
                 cached_tokens=details.get("cached_tokens") or 0)
