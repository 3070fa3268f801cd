"""A reply made only of zero-width characters (U+200B and friends) was cached and stored as an answer, and the eval
called it non_compliant 0.87 with no review. Such a reply is empty, as a blank one is: retried, never cached, never
recorded as an answer; and a revision of nothing else is no revision (verdict error)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter

from typer.testing import CliRunner

from constitutional.calls.cache import ReplyCache, canonical_json
from constitutional.calls.managed import ManagedModel
from constitutional.calls.retry import RetryPolicy
from constitutional.cli.app import app
from constitutional.models.base import ChatModel, Completion, Usage
from constitutional.pipeline.prompt_sets import InputProblem, read_prompts
from tests.helpers import write
from tests.reliability.common import cai, model_args, prompt_file, records
from tests.standins.faults import _with_content, call_key
from tests.standins.openai_compatible import chat_server
from tests.standins.server import serve

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
INVISIBLE = [ZERO_WIDTH, " \u200b\n\u200b ", "\u200e\u200f\u202a\u202c", "\u3164\u2800\u115f"]


class Replies(ChatModel):
    spec = "replies"

    def __init__(self, texts):
        self.texts, self.calls = list(texts), 0

    async def generate(self, messages, schema=None, **params):
        self.calls += 1
        return Completion(self.texts.pop(0) if self.texts else "answer", usage=Usage(calls=1))


def test_a_reply_of_only_zero_width_characters_is_retried_and_never_cached(tmp_path):
    inner = Replies(INVISIBLE)
    cache = ReplyCache(tmp_path)
    model = ManagedModel(inner=inner, cache=cache, retry=RetryPolicy(max_retries=len(INVISIBLE), initial_wait=0.001))
    assert asyncio.run(model.generate([{"role": "user", "content": "hi"}])).text == "answer"
    assert inner.calls == len(INVISIBLE) + 1
    with sqlite3.connect(tmp_path / "replies.sqlite") as db:
        assert [json.loads(v)["text"] for (v,) in db.execute("SELECT value FROM replies")] == ["answer"]
    cache.put("refused", {"text": ZERO_WIDTH})  # stores nothing
    with sqlite3.connect(tmp_path / "replies.sqlite") as db:  # as an older version stored it
        assert db.execute("SELECT COUNT(*) FROM replies").fetchone()[0] == 1
        db.execute("INSERT INTO replies (key, value) VALUES (?, ?)", ("older", canonical_json({"text": ZERO_WIDTH})))
    assert cache.get("older") is None  # never replayed as an answer


def zero_width_drafts(inner):
    """The stand-in, its free-text replies (drafts) all zero-width characters."""
    seen: Counter = Counter()

    def handle(path, headers, body):
        seen[call_key(body)] += 1
        status, reply, reply_headers = inner(path, headers, body)
        return status, reply if body.get("response_format") else _with_content("openai", reply, ZERO_WIDTH), reply_headers

    handle.seen = seen
    return handle


def test_zero_width_replies_from_a_server_are_empty_replies_on_the_record(tmp_path):
    handler = zero_width_drafts(chat_server(formats=("json_schema",)))
    with serve(handler) as server:
        args = ["run", prompt_file(tmp_path, 2), *model_args("openai", server.url), "--out", tmp_path / "run", "--no-eval"]
        result = cai(tmp_path, *args, "-q", "--max-retries", 2)
    assert result.returncode == 1, result.stderr[-2000:]
    for row in records(tmp_path / "run"):
        assert row["draft"] is None and row["final"] is None
        assert row["error"]["stage"] == "draft" and "empty reply" in row["error"]["message"] and row["error"]["retryable"]
    assert set(handler.seen.values()) == {3}  # each draft: 1 + --max-retries attempts


def test_the_eval_of_a_zero_width_revision_is_an_error_not_a_verdict(tmp_path):
    rows = [
        {"id": f"r{i}", "prompt": "How do I bake bread?", "draft": "Mix, knead, bake.", "revision": text}
        for i, text in enumerate(INVISIBLE)
    ]
    revisions = write(tmp_path / "r.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    result = CliRunner().invoke(app, ["eval", str(revisions), "--judge", "none", "--out", str(tmp_path / "eval"), "-q"])
    assert result.exit_code == 1, result.output
    lines = [json.loads(line) for line in (tmp_path / "eval" / "eval.jsonl").read_text().splitlines()]
    assert [line["verdict"] for line in lines] == ["error"] * len(INVISIBLE)
    assert all("there is no revision text to evaluate" in line["reasons"] for line in lines)


def test_a_prompt_of_only_zero_width_characters_is_an_empty_prompt(tmp_path):
    path = write(tmp_path / "p.jsonl", "".join(json.dumps({"prompt": text}) + "\n" for text in INVISIBLE))
    problems = list(read_prompts(path))
    assert all(isinstance(p, InputProblem) and p.message == "empty prompt" for p in problems) and len(problems) == 4
