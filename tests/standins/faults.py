"""Fault injection in front of a stand-in: a share of requests fail the ways real APIs fail.

`with_faults(handler, api)` wraps an OpenAI-compatible (`api="openai"`) or Anthropic (`api="anthropic"`)
stand-in. Each request, with probability `rate`, gets one of FAULTS instead of the real reply:

- rate_limit: 429 with a short `retry-after`
- server_error: 500
- overloaded: 529 (Anthropic's overloaded_error; 503 for OpenAI-compatible servers)
- timeout: the reply comes `slow_seconds` late, after the client has given up
- truncated_body: HTTP 200 whose JSON body is cut off halfway
- invalid_json: HTTP 200 whose content is not the JSON a structured step asked for
- empty_content: HTTP 200 with an empty answer

A prompt containing ALWAYS-FAILS gets a 500 every time, so its record must end with the error.
`call_key(body)` names the logical call a request belongs to: retries of one call send the same key.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter

from tests.standins.server import Handler, Reply, last_user_text

FAULTS = ("rate_limit", "server_error", "overloaded", "timeout", "truncated_body", "invalid_json", "empty_content")
ALWAYS_FAILS = "ALWAYS-FAILS"
RETRY_AFTER = "0.05"


def with_faults(
    inner: Handler, api: str, rate: float = 0.2, slow_seconds: float = 1.5, seed: int = 0, faults: tuple[str, ...] = FAULTS
) -> Handler:
    rng = random.Random(seed)
    lock = threading.Lock()
    injected: Counter = Counter()

    def handle(path: str, headers: dict, body: dict) -> Reply:
        if ALWAYS_FAILS in last_user_text(body):
            return _error(api, 500, "internal error")
        with lock:
            fault = rng.choice(faults) if rng.random() < rate else None
            injected[fault or "none"] += 1
        if fault == "rate_limit":
            return _error(api, 429, "rate limit reached", {"retry-after": RETRY_AFTER})
        if fault == "server_error":
            return _error(api, 500, "internal error")
        if fault == "overloaded":
            return _error(api, 529 if api == "anthropic" else 503, "overloaded")
        if fault == "timeout":
            time.sleep(slow_seconds)
            return inner(path, headers, body)
        status, reply, reply_headers = inner(path, headers, body)
        if fault == "truncated_body":
            data = json.dumps(reply).encode()
            return status, data[: len(data) // 2], reply_headers
        if fault in ("invalid_json", "empty_content"):
            content = '{"needs_revision": tr' if fault == "invalid_json" else ""
            return status, _with_content(api, reply, content), reply_headers
        return status, reply, reply_headers

    handle.injected = injected  # type: ignore[attr-defined]  # how many of each fault were sent
    return handle


def _error(api: str, status: int, message: str, headers: dict | None = None) -> Reply:
    if api == "anthropic":
        kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
        return status, {"type": "error", "error": {"type": kind, "message": message}}, headers or {}
    return status, {"error": {"message": message, "type": "server_error"}}, headers or {}


def _with_content(api: str, reply: dict, content: str) -> dict:
    reply = json.loads(json.dumps(reply))
    if api == "anthropic":  # a text block where a tool call was forced, or nothing at all
        reply["content"] = [{"type": "text", "text": content}] if content else []
        reply["stop_reason"] = "end_turn"
    else:
        reply["choices"][0]["message"]["content"] = content
    return reply


def call_key(body: dict) -> str:
    """The same for every attempt of one logical call (whatever cache marks a provider adds)."""

    def text(content) -> str:
        return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)

    system = text(body.get("system", ""))
    messages = [(m["role"], text(m["content"])) for m in body.get("messages", [])]
    structured = (body.get("response_format") or {}).get("type") or [t["name"] for t in body.get("tools", [])]
    return json.dumps([body.get("model"), system, messages, structured])
