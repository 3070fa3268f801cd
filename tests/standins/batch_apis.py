"""Stand-ins of OpenAI's Batch API (files + batches) and Anthropic's Message Batches on 127.0.0.1.

Each request in a batch is answered by the synchronous stand-in of the same provider (or by `answer`,
a stand-in handler given instead), so a batch run and an in-process run of the same job get the same
replies. Results come back in reverse order. A batch stays in progress while `hold` is set (or from
the batch numbered `hold_from` on, counting from 0), and for its first `polls_before_done` polls; its
request counts rise at each poll until then, as the real APIs count requests while a batch runs.
Synchronous calls (POST /v1/chat/completions, /v1/messages) are answered as well, and counted in
`synchronous`. Every batch submitted is kept in `submitted` (its custom ids), so tests can count
resubmissions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler

from tests.standins.anthropic_messages import messages_server
from tests.standins.openai_compatible import chat_server
from tests.standins.server import running


class BatchStandIn:
    def __init__(self, provider: str, polls_before_done: int = 1, answer=None):
        self.provider = provider
        self.url = ""
        self.hold = False
        self.hold_from: int | None = None
        self.synchronous = 0
        self.polls_before_done = polls_before_done
        self.submitted: list[list[str]] = []  # custom ids, per batch created
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.polls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._answer = answer or (chat_server(formats=("json_schema",)) if provider == "openai" else messages_server())

    # -- routes: (method, path, body bytes, headers) → (status, bytes, content type) --
    def handle(self, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes, str]:
        with self._lock:
            if method == "POST" and path in ("/v1/chat/completions", "/v1/messages"):
                self.synchronous += 1
                status, reply, _ = self._answer(path, headers, json.loads(body))
                return _json(reply, status)
            if self.provider == "openai":
                return self._openai(method, path.removeprefix("/v1"), body, headers)
            return self._anthropic(method, path.removeprefix("/v1"), body)

    def _openai(self, method, path, body, headers):
        if method == "POST" and path == "/files":
            content = _multipart_file(body, headers["content-type"])
            file_id = f"file-{len(self.files)}"
            self.files[file_id] = content
            return _json(
                {
                    "id": file_id,
                    "object": "file",
                    "bytes": len(content),
                    "created_at": 0,
                    "filename": "requests.jsonl",
                    "purpose": "batch",
                    "status": "processed",
                }
            )
        if method == "POST" and path == "/batches":
            request = json.loads(body)
            lines = [json.loads(line) for line in self.files[request["input_file_id"]].splitlines() if line.strip()]
            batch_id = f"batch_{len(self.batches)}"
            output, errors = [], []
            for number, line in enumerate(lines):
                status, reply, _ = self._answer(line["url"], {}, line["body"])
                row = {
                    "id": f"req_{number}",
                    "custom_id": line["custom_id"],
                    "response": {"status_code": status, "request_id": f"r{number}", "body": reply},
                    "error": None,
                }
                (output if status == 200 else errors).append(json.dumps(row))
            files = {}
            for kind, rows in (("output", output), ("error", errors)):
                if rows:
                    files[kind] = f"file-{len(self.files)}"
                    self.files[files[kind]] = "\n".join(reversed(rows)).encode() + b"\n"  # out of order
            self.submitted.append([line["custom_id"] for line in lines])
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": request["endpoint"],
                "input_file_id": request["input_file_id"],
                "completion_window": request["completion_window"],
                "created_at": int(time.time()),
                "status": "in_progress",
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "_files": files,
                "_failed": len(errors),
            }
            return _json(self._openai_batch(batch_id, count=False))
        if method == "GET" and path == "/batches":  # newest first, as the real API lists them
            listed = [self._openai_batch(b, count=False) for b in reversed(list(self.batches))]
            return _json({"object": "list", "data": listed, "has_more": False})
        if method == "GET" and path.startswith("/batches/"):
            return _json(self._openai_batch(path.split("/")[2]))
        if method == "GET" and path.startswith("/files/") and path.endswith("/content"):
            return 200, self.files[path.split("/")[2]], "application/octet-stream"
        return _json({"error": {"message": f"no route {method} {path}"}}, 404)

    def _openai_batch(self, batch_id: str, count: bool = True) -> dict:
        batch = self.batches[batch_id]
        if count:
            done = self._done(batch_id)
            total = batch["request_counts"]["total"]
            failed = min(batch["_failed"], finished := self._finished(batch_id, total, done))
            batch["request_counts"].update(completed=finished - failed, failed=failed)
            if done:
                batch.update(
                    status="completed", output_file_id=batch["_files"].get("output"), error_file_id=batch["_files"].get("error")
                )
        return _public(batch)

    def _anthropic(self, method, path, body):
        if method == "POST" and path == "/messages/batches":
            requests = json.loads(body)["requests"]
            batch_id = f"msgbatch_{len(self.batches)}"
            rows, errored = [], 0
            for entry in requests:
                status, reply, _ = self._answer("/v1/messages", {}, entry["params"])
                result = {"type": "succeeded", "message": reply} if status == 200 else {"type": "errored", "error": reply}
                errored += status != 200
                rows.append(json.dumps({"custom_id": entry["custom_id"], "result": result}))
            self.files[batch_id] = "\n".join(reversed(rows)).encode() + b"\n"  # out of order
            self.submitted.append([entry["custom_id"] for entry in requests])
            self.batches[batch_id] = {
                "id": batch_id,
                "type": "message_batch",
                "processing_status": "in_progress",
                "request_counts": {"processing": len(rows), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
                "created_at": "2026-01-01T00:00:00Z",
                "expires_at": "2026-01-02T00:00:00Z",
                "ended_at": None,
                "cancel_initiated_at": None,
                "archived_at": None,
                "results_url": None,
                "_errored": errored,
            }
            return _json(_public(self.batches[batch_id]))
        if method == "GET" and path == "/messages/batches":  # newest first, as the real API lists them
            listed = [_public(batch) for batch in reversed(list(self.batches.values()))]
            return _json(
                {
                    "data": listed,
                    "has_more": False,
                    "first_id": listed[0]["id"] if listed else None,
                    "last_id": listed[-1]["id"] if listed else None,
                }
            )
        parts = path.split("/")  # /messages/batches/ID[/results]
        if method == "GET" and len(parts) == 5 and parts[4] == "results":
            return 200, self.files[parts[3]], "application/binary"
        if method == "GET" and len(parts) == 4:
            batch = self.batches[parts[3]]
            done = self._done(parts[3])
            counts = batch["request_counts"]
            total = sum(counts.values())
            errored = min(batch["_errored"], finished := self._finished(parts[3], total, done))
            counts.update(processing=total - finished, succeeded=finished - errored, errored=errored)
            if done:
                batch.update(
                    processing_status="ended",
                    ended_at="2026-01-01T01:00:00Z",
                    results_url=f"{self.url}/v1/messages/batches/{parts[3]}/results",
                )
            return _json(_public(batch))
        return _json({"type": "error", "error": {"type": "not_found_error", "message": f"no route {path}"}}, 404)

    def _done(self, batch_id: str) -> bool:
        self.polls[batch_id] = self.polls.get(batch_id, 0) + 1
        held = self.hold or (self.hold_from is not None and list(self.batches).index(batch_id) >= self.hold_from)
        return not held and self.polls[batch_id] > self.polls_before_done

    def _finished(self, batch_id: str, total: int, done: bool) -> int:
        """Requests counted as finished: all once the batch is done, before that a share rising with each poll."""
        return total if done else min(total, total * self.polls[batch_id] // (self.polls_before_done + 1))


def _public(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _json(data: dict, status: int = 200) -> tuple[int, bytes, str]:
    return status, json.dumps(data).encode(), "application/json"


def _multipart_file(body: bytes, content_type: str) -> bytes:
    message = BytesParser(policy=HTTP).parsebytes(f"content-type: {content_type}\r\n\r\n".encode() + body)
    for part in message.iter_parts():
        if part.get_filename():
            return part.get_payload(decode=True)
    raise ValueError("no file in the upload")


@contextmanager
def serve_batches(provider: str, **options) -> Iterator[BatchStandIn]:
    stand_in = BatchStandIn(provider, **options)

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, data, content_type = stand_in.handle(method, self.path.split("?")[0], body, headers)
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - name fixed by http.server
            self._reply("GET")

        def do_POST(self):  # noqa: N802
            self._reply("POST")

        def log_message(self, *args):
            pass

    with running(Handler) as url:
        stand_in.url = url
        yield stand_in
