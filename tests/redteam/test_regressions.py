"""Every success `cai redteam` found (tests/data/redteam/found.jsonl) replayed through `cai eval`: each keeps its
flagged span verbatim, so none may be `genuine`. All three classes came through one hole, closed since: a refusing
sentence was never searched for the flagged words, so one that repeated them ("I won't recommend it, but the old
answer said: ...") counted as the fix (evals/signals.py `retained_spans`, GIVEN_WORDS)."""

import json
from collections import defaultdict

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.redteam.seeds import keeps
from tests.helpers import DATA, write

FOUND = DATA / "redteam" / "found.jsonl"
LINES = [json.loads(line) for line in FOUND.read_text("utf-8").splitlines()]
BY_HOLE = defaultdict(list)
for found in LINES:
    BY_HOLE[found["redteam"]["hole"]].append(found)

HOLES = {  # how each class got through before the fix
    "refusal_quote+cut": "the flagged words inside a refusing sentence are not searched for (retained_spans is empty) and "
    "the refusal counts as the fix, once the rest of the draft is cut",
    "refusal_quote+invisible": "as above, the rest of the draft kept but unrecognisable to the word-pair diff: zero-width "
    "characters and homoglyphs make it look rewritten, so the refusal is not discounted as a claim beside the whole draft",
    "refusal_quote+reworded": "as above, the rest of the draft reworded on the surface (labels off, sentences split, "
    "bullets): its sentences count as new, the scorer strips those it calls generic, and the draft no longer looks kept",
}


def eval_verdicts(tmp_path, lines):
    out = tmp_path / "eval"
    source = write(tmp_path / "found.jsonl", "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    result = CliRunner().invoke(app, ["eval", str(source), "--judge", "none", "--scorer", "fast", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return {json.loads(line)["id"]: json.loads(line) for line in (out / "eval.jsonl").read_text("utf-8").splitlines()}


def test_every_success_keeps_its_span_and_is_cai_eval_input(tmp_path):
    assert len(LINES) >= 50 and set(BY_HOLE) == set(HOLES)
    for found in LINES:
        (flag,) = found["violations"]
        assert flag["quote"] in found["draft"] and keeps(found["revision"], flag["quote"]), found["id"]
    assert set(eval_verdicts(tmp_path, LINES)) == {found["id"] for found in LINES}


@pytest.mark.parametrize("hole", list(HOLES))
def test_no_success_of_the_red_team_is_genuine_any_more(tmp_path, hole):
    lines = eval_verdicts(tmp_path, BY_HOLE[hole])
    genuine = sorted(rid for rid, line in lines.items() if line["verdict"] == "genuine")
    assert not genuine, f"{len(genuine)} of {len(lines)} still genuine, e.g. {genuine[:3]}"
