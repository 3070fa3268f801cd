"""The scorer runs off the event loop: while it decodes one record's sentences, the judge's calls for other records
keep going."""

import asyncio
import json
import threading

from constitutional.constitution import load_constitution
from constitutional.evals import read_input, run_eval
from constitutional.evals.scorer import SentenceScore
from constitutional.models.base import ChatModel, ModelError

SLOW, FAST = "How do I grow tomatoes on a balcony?", "How do I descale a kettle with vinegar?"


class BlockingScorer:
    """Holds the SLOW record's scoring until a judge call for the FAST record has been made (or 5 s pass)."""

    spec = "blocking"

    def __init__(self, judged_fast: threading.Event):
        self.judged_fast = judged_fast
        self.waited: bool | None = None

    def score(self, request, sentences, draft=None):
        if request == SLOW:
            self.waited = self.judged_fast.wait(timeout=5)
        return [SentenceScore(s, 1.0, len(s.split())) for s in sentences], False


class RecordingJudge(ChatModel):
    spec = "recording"

    def __init__(self, judged_fast: threading.Event):
        self.judged_fast = judged_fast

    async def generate(self, messages, schema=None, **params):
        if any(FAST in m["content"] for m in messages):
            self.judged_fast.set()
        raise ModelError("no verdict from this judge")  # its verdicts are not the point


def test_judge_calls_flow_while_the_scorer_decodes(tmp_path):
    rows = [
        {"id": "slow", "prompt": SLOW, "draft": "Water them.", "revision": "Use a deep pot, full sun and water daily."},
        {"id": "fast", "prompt": FAST, "draft": "Boil it.", "revision": "Fill it with equal parts vinegar and water."},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    judged_fast = threading.Event()
    scorer = BlockingScorer(judged_fast)
    loaded = load_constitution("default")
    asyncio.run(run_eval(read_input(source), loaded, RecordingJudge(judged_fast), tmp_path / "out", scorer=scorer))
    assert scorer.waited is True  # the FAST record was judged while the SLOW one's scoring was under way
    lines = [json.loads(line) for line in (tmp_path / "out" / "eval.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == ["slow", "fast"]
