"""A stand-in of the Anthropic Messages API: text and tool_use replies, usage with cache tokens.

The first request with a given system prompt writes it to the "cache"; later ones read it.
Words in the last user message make it fail: RATE-LIMIT (429 with retry-after), OVERLOADED (529),
SPEND-CAP (429 spend limit), BAD-REQUEST (400). A wrong key gets a 401 that echoes it.
"""

from __future__ import annotations

from tests.standins.server import Reply, example_for, last_user_text

SYSTEM_TOKENS = 1200


def _error(status: int, kind: str, message: str, headers: dict | None = None, details: dict | None = None) -> Reply:
    error = {"type": kind, "message": message, **({"details": details} if details else {})}
    return status, {"type": "error", "error": error}, headers or {}


FAILURES = {
    "RATE-LIMIT": _error(
        429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", {"retry-after": "7"}
    ),
    "OVERLOADED": _error(529, "overloaded_error", "Overloaded"),
    "SPEND-CAP": _error(
        429,
        "rate_limit_error",
        "You have reached your specified API usage limits.",
        details={"error_code": "enforced_spend_limit_reached"},
    ),
    "BAD-REQUEST": _error(400, "invalid_request_error", "messages: roles must alternate"),
}


def messages_server(key: str | None = None):
    cached_systems: set[str] = set()

    def handle(path: str, headers: dict, body: dict) -> Reply:
        given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")  # SDKs send either
        if key is not None and given != key:
            return _error(401, "authentication_error", f"invalid API key {given}")
        text = last_user_text(body)
        for word, failure in FAILURES.items():
            if word in text:
                return failure
        system = "".join(block["text"] for block in body.get("system", []))
        read = SYSTEM_TOKENS if system in cached_systems else 0
        cached_systems.add(system)
        tools = {tool["name"]: tool for tool in body.get("tools", [])}
        forced = (body.get("tool_choice") or {}).get("name")
        if forced in tools:
            content = [{"type": "tool_use", "id": "toolu_1", "name": forced, "input": example_for(tools[forced]["input_schema"])}]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": "A plain answer from the stand-in."}]
            stop = "end_turn"
        return (
            200,
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 30,
                    "output_tokens": 6,
                    "cache_read_input_tokens": read,
                    "cache_creation_input_tokens": SYSTEM_TOKENS - read,
                },
            },
            {},
        )

    return handle
