"""A tiny JSON-over-HTTP server on 127.0.0.1 for stand-ins of provider APIs, and helpers for them.

A stand-in is a function `(path, headers, body) -> (status, reply_body, reply_headers)`. Every request
is kept in `server.requests` so tests can check what the real SDK sent. A reply body given as bytes is
sent as it is (to send broken JSON); a client that hung up before the reply is not an error.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = tuple[int, dict | bytes, dict]
SHUTDOWN_POLL = 0.01  # seconds between the server's looks for a shutdown: its default, 0.5 s, is the wait of every exit
Handler = Callable[[str, dict, dict], Reply]


@dataclass
class Request:
    path: str
    headers: dict
    body: dict


@dataclass
class StandIn:
    url: str
    requests: list[Request] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 refuses connections when many clients call at once
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client killed mid-request is expected
            super().handle_error(request, client_address)


@contextmanager
def serve(handler: Handler) -> Iterator[StandIn]:
    """A running server for `handler`, stopped on exit."""
    stand_in = StandIn(url="")

    class RequestHandler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - name fixed by http.server
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            stand_in.requests.append(Request(self.path, headers, body))
            status, reply, reply_headers = handler(self.path, headers, body)
            data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in reply_headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up

        def log_message(self, *args):
            pass

    with running(RequestHandler) as url:
        stand_in.url = url
        yield stand_in


@contextmanager
def running(handler_class: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler_class` served on a free port of 127.0.0.1 in a thread; yields the URL, stops on exit."""
    httpd = _Server(("127.0.0.1", 0), handler_class)
    threading.Thread(target=httpd.serve_forever, args=(SHUTDOWN_POLL,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def example_for(schema: dict):
    """A value that satisfies `schema` (the subset of JSON Schema our steps use)."""
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        return {name: example_for(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [example_for(schema["items"])] if schema.get("maxItems", 1) > 0 else []
    return {"boolean": True, "integer": 1, "number": 1.0}.get(kind, "a stand-in reply")


def last_user_text(body: dict) -> str:
    content = [m for m in body.get("messages", []) if m["role"] == "user"][-1]["content"]
    return content if isinstance(content, str) else " ".join(part.get("text", "") for part in content)


def chat_completion(model: str, content: str, usage: dict) -> dict:
    """An OpenAI chat-completions reply body with one choice saying `content`."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": usage,
    }
