"""A stand-in OpenAI-compatible chat server that behaves like llama.cpp's where it matters.

`formats` are the response_format types it accepts; any other type gets llama.cpp's HTTP 500 (the
server's request validation fails inside a handler that turns every exception into a 500).
Words in the last user message make it fail: RATE-LIMIT (429 with retry-after), QUOTA (429,
insufficient_quota), SERVER-DOWN (503), BAD-REQUEST (400).
"""

from __future__ import annotations

import json

from tests.standins.server import Reply, chat_completion, example_for, last_user_text

FAILURES = {
    "RATE-LIMIT": (
        429,
        {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"},
        {"retry-after": "7"},
    ),
    "QUOTA": (
        429,
        {
            "message": "You exceeded your current quota, please check your plan and billing details.",
            "type": "insufficient_quota",
            "code": "insufficient_quota",
        },
        {},
    ),
    "SERVER-DOWN": (503, {"message": "The server is overloaded", "type": "server_error"}, {}),
    "BAD-REQUEST": (400, {"message": "This model's maximum context length is 8 tokens", "type": "invalid_request_error"}, {}),
}


def chat_server(formats: tuple[str, ...] = ("json_object",), key: str | None = None, rejection_status: int = 500):
    def handle(path: str, headers: dict, body: dict) -> Reply:
        if key is not None and headers.get("authorization") != f"Bearer {key}":
            # The real API echoes a masked key; this one echoes it whole, to prove we redact it.
            given = headers.get("authorization", "").removeprefix("Bearer ")
            return (
                401,
                {
                    "error": {
                        "message": f"Incorrect API key provided: {given}",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
                {},
            )
        text = last_user_text(body)
        for word, (status, error, reply_headers) in FAILURES.items():
            if word in text:
                return status, {"error": error}, reply_headers
        response_format = body.get("response_format")
        if response_format is not None and response_format["type"] not in formats:
            return (
                rejection_status,
                {
                    "error": {
                        "message": "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n"
                        "  Input should be 'text' or 'json_object'",
                        "type": "internal_server_error",
                    }
                },
                {},
            )
        if response_format is not None:
            schema = response_format.get("schema") or response_format.get("json_schema", {}).get("schema", {})
            content = json.dumps(example_for(schema))
        elif "matching this JSON Schema:" in text:
            schema = json.loads(text.rsplit("matching this JSON Schema:", 1)[1])
            content = "Sure! " + json.dumps(example_for(schema))
        else:
            content = "A plain answer from the stand-in."
        usage = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25, "prompt_tokens_details": {"cached_tokens": 8}}
        return (
            200,
            chat_completion(body["model"], content, usage),
            {},
        )

    return handle
