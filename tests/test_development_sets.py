"""Development sets never share text with the frozen held-out sets: what the eval is tuned on is not what measures it."""

import json
from pathlib import Path

DATA = Path(__file__).parent / "data"


def rows(pattern: str) -> list[dict]:
    return [json.loads(line) for path in sorted(DATA.glob(pattern)) for line in path.read_text("utf-8").splitlines()]


def texts(found: list[dict]) -> set[str]:
    return {str(r[k]).strip() for r in found for k in ("draft", "revision", "text") if r.get(k)}


def test_no_development_answer_is_in_a_frozen_set_and_the_refusal_set_shares_no_prompt_with_one():
    heldout = rows("heldout*/*.jsonl")
    assert len(heldout) > 800
    for name in ("xstest_dev.jsonl", "xstest_refusals_dev.jsonl"):
        assert not texts(rows(f"calibration/{name}")) & texts(heldout), name
    refusals = rows("calibration/xstest_refusals_dev.jsonl")
    asked = {r["prompt"].strip() for r in heldout if r.get("prompt")}
    ids = {r["source"]["xstest_id"] for r in heldout if isinstance(r.get("source"), dict) and "xstest_id" in r["source"]}
    assert len(refusals) == 590 and not {r["prompt"] for r in refusals} & asked
    assert not {r["source"]["xstest_id"] for r in refusals} & ids
