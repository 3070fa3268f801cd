"""An empty or whitespace-only reply is a failed call: retried, never cached, never an answer; errored records are
redone by `cai run --retry-errors`."""

import asyncio
import json
import sqlite3
import threading
from collections import Counter

import pytest
from typer.testing import CliRunner

from constitutional.calls.cache import ReplyCache, canonical_json
from constitutional.calls.managed import ManagedModel
from constitutional.calls.retry import RetryPolicy
from constitutional.cli.app import app
from constitutional.models.base import ChatModel, Completion, ModelError, Usage
from tests.helpers import DATA, write
from tests.reliability.common import cai as cai_process
from tests.reliability.common import model_args, prompt_file, records
from tests.standins.faults import call_key
from tests.standins.openai_compatible import chat_server
from tests.standins.server import serve

MESSAGES = [{"role": "user", "content": "hi"}]


class Replies(ChatModel):
    """Answers with the given texts, in order, then 'answer'."""

    spec = "replies"

    def __init__(self, texts):
        self.texts = list(texts)
        self.calls = 0

    async def generate(self, messages, schema=None, **params):
        self.calls += 1
        text = self.texts.pop(0) if self.texts else "answer"
        return Completion(text, usage=Usage(calls=1, input_tokens=3, output_tokens=1))


def managed(inner, cache):
    return ManagedModel(inner=inner, cache=cache, retry=RetryPolicy(max_retries=2, initial_wait=0.001, max_wait=0.01))


def test_an_empty_reply_is_retried_and_only_the_answer_is_cached(tmp_path):
    inner = Replies(["", " \n\t"])
    model = managed(inner, ReplyCache(tmp_path))
    assert asyncio.run(model.generate(MESSAGES)).text == "answer"
    assert inner.calls == 3 and model.stats.retries == 2
    again = Replies([""])
    assert asyncio.run(managed(again, ReplyCache(tmp_path)).generate(MESSAGES)).text == "answer"
    assert again.calls == 0  # the answer came from the cache


def test_a_model_that_only_sends_empty_replies_fails_retryably_and_nothing_is_cached(tmp_path):
    inner = Replies(["   "] * 10)
    model = managed(inner, ReplyCache(tmp_path))
    with pytest.raises(ModelError, match="empty reply") as failure:
        asyncio.run(model.generate(MESSAGES))
    assert failure.value.retryable and inner.calls == 3  # 1 + max_retries
    with sqlite3.connect(tmp_path / "replies.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM replies").fetchone()[0] == 0


def test_an_empty_reply_cached_by_an_older_version_is_not_replayed(tmp_path):
    cache = ReplyCache(tmp_path)
    model = managed(Replies([]), cache)
    key = model.cache_key(MESSAGES, None, {})
    with sqlite3.connect(tmp_path / "replies.sqlite") as db:
        db.execute("INSERT INTO replies (key, value) VALUES (?, ?)", (key, canonical_json({"text": "", "parsed": None})))
    cache.put("other", {"text": "  ", "parsed": None})
    assert cache.get("other") is None
    assert asyncio.run(model.generate(MESSAGES)).text == "answer" and model.inner.calls == 1


def empty_first(inner):
    """A stand-in handler whose first reply to every call is HTTP 200 with blank content."""
    seen, lock = Counter(), threading.Lock()

    def handle(path, headers, body):
        with lock:
            seen[call_key(body)] += 1
            first = seen[call_key(body)] == 1
        status, reply, reply_headers = inner(path, headers, body)
        if first:
            reply = json.loads(json.dumps(reply))
            reply["choices"][0]["message"]["content"] = "  \n"
        return status, reply, reply_headers

    return handle


def test_empty_replies_from_a_server_are_retried_and_never_cached(tmp_path):
    prompts = prompt_file(tmp_path, 6)
    with serve(empty_first(chat_server(formats=("json_schema",)))) as server:
        first = cai_process(
            tmp_path, "run", prompts, *model_args("openai", server.url), "--out", tmp_path / "a", "--no-eval", "-q"
        )
        calls = Counter(call_key(request.body) for request in server.requests)
        rows = records(tmp_path / "a")
        assert first.returncode == 0, first.stderr[-2000:]
        assert all(row["error"] is None and row["draft"].strip() and row["final"].strip() for row in rows)
        assert set(calls.values()) == {2}  # each call: one empty reply, then the answer
        sent = len(server.requests)
        again = cai_process(
            tmp_path, "run", prompts, *model_args("openai", server.url), "--out", tmp_path / "b", "--no-eval", "-q"
        )
        assert again.returncode == 0 and len(server.requests) == sent  # every answer, and only answers, cached
    assert [row["draft"] for row in records(tmp_path / "b")] == [row["draft"] for row in rows]


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args] + ["--no-eval", "-q", "--max-retries", "1"])


def test_retry_errors_redoes_errored_records_and_writes_each_id_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSTITUTIONAL_RETRY_WAIT", "0.001")
    base = (DATA / "scripted_basic.yaml").read_text().replace("rules:\n", "rules:\n  - when: BLANK\n    reply: ' '\n", 1)
    log = tmp_path / "calls.log"
    script = write(tmp_path / "scripted.yaml", base + f"\ncall_log: {log}\n")
    spec, out = f"scripted:{script}", tmp_path / "run"
    prompts = write(
        tmp_path / "p.jsonl",
        "".join(json.dumps({"id": f"p{i}", "prompt": f"question {i}" + (" BLANK" if i < 2 else "")}) + "\n" for i in range(5)),
    )
    assert cai("run", prompts, "-m", spec, "-o", out).exit_code == 1
    rows = records(out)
    errored = {row["id"]: row["error"] for row in rows if row["error"]}
    assert set(errored) == {"p0", "p1"} and all("empty reply" in e["message"] and e["retryable"] for e in errored.values())
    assert all(row["draft"] for row in rows if not row["error"])  # never an empty answer recorded as one

    write(script, base.replace("  - when: BLANK\n    reply: ' '\n", "") + f"\ncall_log: {log}\n")  # the server is well again
    plain = cai("run", prompts, "-m", spec, "-o", out)
    assert "2 records" in plain.output and "--retry-errors" in plain.output
    assert {row["id"] for row in records(out) if row["error"]} == {"p0", "p1"}  # a plain resume leaves them
    before = len(log.read_text().splitlines())

    redone = cai("run", prompts, "-m", spec, "-o", out, "--retry-errors")
    assert redone.exit_code == 0, redone.output
    assert "redoing 2 prompts" in redone.output
    rows = records(out)
    assert sorted(row["id"] for row in rows) == [f"p{i}" for i in range(5)]  # each id once
    assert all(row["error"] is None and row["final"] for row in rows)
    assert len(log.read_text().splitlines()) - before == 2 * 3  # only the two errored prompts ran again
    counts = json.loads((out / "run.json").read_text())["counts"]
    assert counts["records"] == 5 and counts["errors"] == 0


def test_retry_errors_is_in_the_help():
    result = CliRunner().invoke(app, ["run", "--help"], terminal_width=200)
    assert "--retry-errors" in result.output
