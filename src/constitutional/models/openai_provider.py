"""`openai/MODEL`: the OpenAI API, or any OpenAI-compatible server (vLLM, Ollama, llama.cpp server).

Structured steps use, in order, what a server may support: `response_format` json_schema (strict),
then `{"type": "json_object", "schema": ...}` (llama.cpp's server constrains output with it but
rejects json_schema with an HTTP 500), then plain JSON asked for in words. The mode is found once per
server (base URL) for the process: until one works, structured calls go one at a time; a refused
mode moves the server on to the next and the call fails with `resend`, so the managed layer
(calls/managed.py) sends it again at once, through the rate limiter and counted like any request.

Chat completions (and the server scorer's text completions, `complete`) are posted with aiohttp, using
the SDK client's own base URL, headers and key, and failures are classified by status as for every
provider. The SDK's request machinery costs about 1.5 ms of CPU per call, several times the HTTP
itself, and at hundreds of calls a second that CPU is what limits a job. The SDK's client still holds
the configuration and serves the batch and files APIs.
`build_request` and `read_reply` are the seams the batch API uses for its requests and results.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import openai

from constitutional.models.api_access import endpoint_and_key
from constitutional.models.base import Capabilities, ChatCall, ChatModel, Completion, Message, ModelError, Usage
from constitutional.models.http_errors import (
    DEFAULT_MAX_REPLY_BYTES,
    connection_error,
    invalid_body,
    reply_too_large,
    status_error,
)
from constitutional.models.json_reply import ask_for_json
from constitutional.rundir import parse_json

KEY_ENV, BASE_URL_ENV = "OPENAI_API_KEY", "OPENAI_BASE_URL"
STRUCTURED_MODES = ("json_schema", "json_object", "prompt")
DEFAULT_TIMEOUT, CONNECT_TIMEOUT = 600.0, 5.0  # seconds, as the SDK's defaults
PASSED_PARAMS = ("temperature", "top_p", "seed", "stop")

# A server's 500 or 400 that names the response_format refuses the mode, not the request.
FORMAT_REFUSAL = re.compile(r"response_format|json_schema|json_object", re.IGNORECASE)


@dataclass
class StructuredMode:
    mode: str = STRUCTURED_MODES[0]
    settled: bool = False  # a structured call succeeded with `mode`


_modes: dict[str, StructuredMode] = {}  # base URL → the structured mode of that server


class OpenAIModel(ChatModel):
    default_concurrency = 8
    capabilities = Capabilities(structured="constrained", batch_api="constitutional.calls.batch_openai:OpenAIBatches")

    def __init__(
        self,
        name: str,
        client: openai.AsyncOpenAI,
        api_key: str,
        official: bool,
        timeout: float | None = None,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ):
        self.name = name
        self.max_reply_bytes = max_reply_bytes
        self.client = client
        self.secrets = (api_key,)
        self._timeout = aiohttp.ClientTimeout(total=timeout or DEFAULT_TIMEOUT, sock_connect=CONNECT_TIMEOUT)
        self._base = str(client.base_url).rstrip("/")
        self._headers = {
            k: v for k, v in {**client.default_headers, **client.auth_headers}.items() if isinstance(v, str)
        }  # the SDK's own headers, its Omit markers left out
        self._proxy = _env_proxy(self._base)  # looked up once: aiohttp's trust_env costs as much as a request, each time
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        # The official API wants max_completion_tokens; compatible servers know only max_tokens.
        self._max_tokens_param = "max_completion_tokens" if official else "max_tokens"
        self._modes = _modes.setdefault(str(client.base_url), StructuredMode())
        self._probe: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    @classmethod
    def from_spec(
        cls,
        arg: str | None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        **_options: Any,
    ) -> OpenAIModel:
        base_url, api_key = endpoint_and_key("openai", arg, "openai/gpt-4o-mini", KEY_ENV, BASE_URL_ENV, base_url)
        assert arg is not None  # endpoint_and_key raised a UserError for a missing model name
        client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout or openai.NOT_GIVEN)
        return cls(arg, client, api_key, official=base_url is None, timeout=timeout, max_reply_bytes=max_reply_bytes)

    async def generate(self, messages: list[Message], schema: dict | None = None, **params: Any) -> Completion:
        call = ChatCall(messages, schema, params)
        if schema is None or self._modes.settled:
            return self.read_reply(await self._send(self.build_request(call)))
        async with self._probe_lock():  # until a mode works, one structured call at a time finds it
            if not self._modes.settled:
                return await self._try_mode(call)
        return self.read_reply(await self._send(self.build_request(call)))  # found while this call waited

    async def _try_mode(self, call: ChatCall) -> Completion:
        state = self._modes
        mode = state.mode
        try:
            reply = await self._send(self.build_request(call, mode))
        except ModelError as exc:
            if state.settled or mode == STRUCTURED_MODES[-1] or not _rejects_format(exc):
                raise
            state.mode = STRUCTURED_MODES[STRUCTURED_MODES.index(mode) + 1]
            raise ModelError(
                f"{exc} (the server refuses response_format {mode}; {state.mode} from now on)", status=exc.status, resend=True
            ) from None
        state.settled = True
        return self.read_reply(reply)

    def build_request(self, call: ChatCall, mode: str | None = None) -> dict:
        """The body POSTed to /chat/completions. A structured call is sent in `mode`, by default the server's."""
        messages, response_format = call.messages, None
        if call.schema is not None:
            messages, response_format = _structured_request(mode or self._modes.mode, call.messages, call.schema)
        params = call.params
        request = {k: params[k] for k in PASSED_PARAMS if params.get(k) is not None}
        if params.get("max_tokens"):
            request[self._max_tokens_param] = params["max_tokens"]
        if response_format is not None:
            request["response_format"] = response_format
        return {"model": self.name, "messages": [{"role": m["role"], "content": m["content"]} for m in messages], **request}

    def read_reply(self, reply: dict) -> Completion:
        """The Completion of a /chat/completions reply body."""
        choices = reply.get("choices") if isinstance(reply, dict) else None
        if not choices:
            raise ModelError("openai returned no choices", retryable=False)
        message = choices[0].get("message") or {}
        return Completion(text=message.get("content") or "", usage=_usage(reply.get("usage")))

    def _probe_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._probe is None or self._probe[0] is not loop:  # a lock belongs to one event loop
            self._probe = (loop, asyncio.Lock())
        return self._probe[1]

    async def complete(self, body: dict) -> dict:
        """POST the body, with this model's name, to /completions (text completions, which the server scorer reads
        prompt log-probabilities from: evals/server_scorer.py); the reply's JSON, failures classified as for chat
        calls. No retries here: the caller goes through the managed layer (`ManagedModel.send`)."""
        return await self._send({"model": self.name, **body}, "/completions")

    async def _send(self, body: dict, path: str = "/chat/completions") -> dict:
        """POST the body to `path` under the base URL; the reply's JSON. A body over `max_reply_bytes` is a ModelError
        that is not retried, raised as soon as it is known (from Content-Length, or once that much has come)."""
        session = self._open_session()
        try:
            async with session.post(
                self._base + path, data=json.dumps(body).encode(), headers=self._headers, proxy=self._proxy
            ) as response:
                data = await _read_capped(response, self.max_reply_bytes)
                text = data.decode("utf-8", errors="replace")  # JSON is UTF-8: no charset sniffing
                status, headers = response.status, response.headers
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise connection_error("openai", str(exc) or type(exc).__name__, self.secrets, self._base) from None
        if status >= 400:
            raise status_error("openai", status, _error_message(text), headers, self.secrets)
        try:
            return parse_json(text)
        except ValueError as exc:
            raise invalid_body("openai", exc) from None

    def _open_session(self) -> aiohttp.ClientSession:
        """This event loop's session (a session cannot outlive its loop)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session_loop is not loop:
            self._session, self._session_loop = (
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=self._timeout),
                loop,
            )  # the runner bounds concurrency
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and self._session_loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None
        await self.client.close()


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body of `response`, or reply_too_large once it is known to be over `limit` bytes."""
    if response.content_length is not None:
        if response.content_length > limit:
            raise reply_too_large("openai", limit)
        return await response.read()
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise reply_too_large("openai", limit)
        chunks.append(chunk)
    return b"".join(chunks)


def structured_mode(base_url: str) -> str:
    """The structured mode used for the server at `base_url` (the client's base URL) from now on."""
    return _modes.get(base_url, StructuredMode()).mode


def _env_proxy(url: str) -> str | None:
    """The HTTP(S)_PROXY that applies to `url` (NO_PROXY honoured), as the SDK's client would use."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _error_message(text: str) -> str:
    """The `error.message` of an error body, else the body as sent."""
    try:
        error = parse_json(text).get("error")
    except (ValueError, AttributeError):
        return text
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(error) if error else text


def _structured_request(mode: str, messages: list[Message], schema: dict) -> tuple[list[Message], dict | None]:
    if mode == "json_schema":
        return messages, {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}
    if mode == "json_object":
        return messages, {"type": "json_object", "schema": schema}
    return ask_for_json(messages, schema), None


def _rejects_format(exc: ModelError) -> bool:
    # llama.cpp's server answers an unknown response_format type with a 500 naming the field; others with a 400/422.
    return exc.status in (400, 422, 500) and bool(FORMAT_REFUSAL.search(str(exc)))


def _usage(used: dict | None) -> Usage:
    if not used:
        return Usage(calls=1)
    details = used.get("prompt_tokens_details") or {}
    return Usage(
        calls=1,
        input_tokens=used.get("prompt_tokens") or 0,
        output_tokens=used.get("completion_tokens") or 0,
        cached_tokens=details.get("cached_tokens") or 0,
    )
