"""A stand-in OpenAI-compatible text-completions server for the server scorer (`--scorer openai/MODEL`).

It answers POST /completions as llama-cpp-python's server does for `echo` and `logprobs` (the replies are the
benchmark stand-in's, `benchmarks.standin_openai.completion_reply`), and fails as `Faults` say:

- `prompt_logprobs=False`: log-probabilities for the generated token only, as llama.cpp's own llama-server gives them
- `down`: every request gets a 503 (set it mid-run: a server that goes away)
- `flaky`: each distinct prompt gets this many 503s before it is answered (retried, then fine)
- `unlucky`: a prompt holding this text gets a 503 every time (its record cannot be scored)

`most_in_flight` is the most requests it was answering at once (each takes `delay` seconds).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from benchmarks.standin_openai import completion_reply

from tests.standins.server import Reply

DOWN = (503, {"error": {"message": "The server is overloaded", "type": "server_error"}}, {})


@dataclass
class Faults:
    prompt_logprobs: bool = True
    down: bool = False
    flaky: int = 0
    unlucky: str | None = None
    delay: float = 0.0
    seen: Counter = field(default_factory=Counter)  # requests per prompt
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, path: str, headers: dict, body: dict) -> Reply:
        prompt = str(body.get("prompt") or "")
        with self.lock:
            self.seen[prompt] += 1
            tries = self.seen[prompt]
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            return self._reply(path, body, prompt, tries)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _reply(self, path: str, body: dict, prompt: str, tries: int) -> Reply:
        if not path.endswith("/completions") or path.endswith("/chat/completions"):
            return 404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}}, {}
        if self.down or tries <= self.flaky or (self.unlucky is not None and self.unlucky in prompt):
            return DOWN
        return 200, completion_reply({**body, "echo": body.get("echo") and self.prompt_logprobs}), {}
