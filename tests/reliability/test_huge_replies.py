"""A server that ignores max_tokens and sends replies of megabytes: once made an eval take 7 minutes and 2.5 GB,
read whole and retried. A reply body over --max-reply-bytes is now an error on its record, known from the
Content-Length or once that much has come, and not retried. And quote matching keeps a bounded number of spans."""

from __future__ import annotations

import asyncio
import json
from http.server import BaseHTTPRequestHandler

import pytest
from typer.testing import CliRunner

from constitutional.calls.managed import ManagedModel
from constitutional.calls.retry import RetryPolicy
from constitutional.cli.app import app
from constitutional.models.base import ChatModel, Completion, ModelError, Usage
from constitutional.text import MAX_QUOTE_SPANS, quote_spans
from tests.reliability.common import cai, model_args, prompt_file, records
from tests.standins.anthropic_messages import messages_server
from tests.standins.faults import _with_content
from tests.standins.openai_compatible import chat_server
from tests.standins.server import running, serve

HUGE = "x" * 300_000
LIMIT = 100_000


def inflating(api: str):
    """The stand-in of `api`, its free-text replies (drafts, revisions) made HUGE; structured ones as they were."""
    inner = chat_server(formats=("json_schema", "json_object")) if api == "openai" else messages_server()

    def handle(path: str, headers: dict, body: dict):
        status, reply, reply_headers = inner(path, headers, body)
        structured = body.get("response_format") or body.get("tools")
        return status, reply if structured else _with_content(api, reply, HUGE), reply_headers

    return handle


def without_length(handle, seen: list):
    """A server for `handle` whose replies carry no Content-Length: the body runs until the connection closes."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - name fixed by http.server
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
            seen.append(body)
            status, reply, _ = handle(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            data = json.dumps(reply).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("connection", "close")
                self.end_headers()
                for start in range(0, len(data), 16_384):
                    self.wfile.write(data[start : start + 16_384])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading at its limit

        def log_message(self, *args):
            pass

    return running(Handler)


@pytest.mark.parametrize("length", ["content-length", "no-length"])
@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_a_reply_over_max_reply_bytes_is_a_record_error_not_retried(tmp_path, api, length):
    prompts, out = prompt_file(tmp_path, 3), tmp_path / "run"
    seen: list = []
    server = serve(inflating(api)) if length == "content-length" else without_length(inflating(api), seen)
    with server as stand_in:
        url = stand_in if isinstance(stand_in, str) else stand_in.url
        args = ["run", prompts, *model_args(api, url), "--out", out, "--no-eval", "-q", "--max-retries", 3]
        result = cai(tmp_path, *args, "--max-reply-bytes", LIMIT)
        requests = len(seen) if isinstance(stand_in, str) else len(stand_in.requests)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    rows = records(out)
    assert len(rows) == 3 and requests == 3  # one request a draft: not retried
    for row in rows:
        error = row["error"]
        assert error["stage"] == "draft" and not error["retryable"], error
        assert f"more than {LIMIT:,} bytes (--max-reply-bytes)" in error["message"], error


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_replies_under_max_reply_bytes_are_read(tmp_path, api):
    with serve(inflating(api)) as stand_in:
        args = ["run", prompt_file(tmp_path, 1), *model_args(api, stand_in.url), "--out", tmp_path / "run", "--no-eval", "-q"]
        result = cai(tmp_path, *args, "--max-reply-bytes", 2_000_000)
    assert result.returncode == 0, result.stderr[-2000:]
    assert records(tmp_path / "run")[0]["draft"] == HUGE


def test_max_reply_bytes_is_in_the_help_of_run_and_eval(tmp_path):
    for command in ("run", "eval"):
        result = cai(tmp_path, command, "--help", COLUMNS="200")
        assert "--max-reply-bytes" in result.stdout and "4 MiB" in result.stdout


def test_one_repeated_quote_keeps_a_bounded_number_of_spans():
    text = "word " * 50_000
    assert len(quote_spans(text, "word")) == MAX_QUOTE_SPANS  # 50,000 before, each underlined in the report
    assert quote_spans(text, "word")[:2] == [(0, 4), (5, 9)]
    assert len(quote_spans(text, "word", limit=3)) == 3


def test_the_report_of_a_quote_repeated_20000_times_underlines_a_bounded_number(tmp_path):
    """The report's segments are cut at every mark: 20,000 marks of one quote took minutes (and 900,000, forever)."""
    draft, revision = "Step one. " + "word " * 20_000, "I can't help with that, but here is a safe plan."
    violation = {"principle": "honesty", "quote": "word", "explanation": "x", "quote_found": True}
    step = {"round": 1, "principles": ["honesty"], "critique": {"needs_revision": True, "violations": [violation]}}
    record = {"id": "r", "prompt": "q", "draft": draft, "steps": [{**step, "revision": revision}], "final": revision}
    run = tmp_path / "run"
    run.mkdir()
    (run / "records.jsonl").write_text(json.dumps(record) + "\n")
    result = CliRunner().invoke(app, ["eval", str(run), "--judge", "none", "-q"])
    assert result.exit_code == 0, result.output
    html = (run / "report.html").read_text()
    assert 0 < html.count("flagged by the critique") <= 2 * MAX_QUOTE_SPANS


class Huge(ChatModel):
    """A model (a LangChain one, say) whose every reply is HUGE: no HTTP body to stop reading."""

    spec = "huge"
    calls = 0

    async def generate(self, messages, schema=None, **params):
        self.calls += 1
        return Completion(HUGE, usage=Usage(calls=1))


def test_a_reply_over_max_reply_bytes_from_any_model_is_an_error_not_retried(tmp_path):
    inner = Huge()
    model = ManagedModel(inner=inner, retry=RetryPolicy(max_retries=3, initial_wait=0.001), max_reply_bytes=LIMIT)
    with pytest.raises(ModelError, match=r"more than 100,000 bytes \(--max-reply-bytes\)") as failure:
        asyncio.run(model.generate([{"role": "user", "content": "hi"}]))
    assert not failure.value.retryable and inner.calls == 1
    roomy = ManagedModel(inner=Huge(), max_reply_bytes=len(HUGE))
    assert asyncio.run(roomy.generate([{"role": "user", "content": "hi"}])).text == HUGE
