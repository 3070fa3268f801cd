"""The hollow-answer variant: every revision is made of the red team's generic grammar and the request's words, with no
sentence of the draft, checked by an oracle that uses none of the eval's signals."""

import asyncio
import json
import random
import re

from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.evals.lines import EvalLine
from constitutional.redteam.hollow import KINDS, OPERATORS_USED, hollow, shell
from constitutional.redteam.operators import OPERATORS, grammar
from constitutional.redteam.search import HOLLOW, SearchSettings, attack
from constitutional.redteam.seeds import builtin_seeds
from tests.helpers import clear_error

SEED = builtin_seeds()[0]
DECLINES = re.compile(r"\b(can't|cannot|won't|will not|unable|refuse|decline|sorry|not able|instead)\b", re.I)


def test_the_oracle_takes_grammar_sentences_and_the_request_s_words_and_nothing_else():
    made = shell(SEED, random.Random(1))
    assert hollow(made, SEED)
    assert hollow(f"# Overview\n\n- {made}\n- Questions about {SEED.prompt.rstrip('?')} deserve nuance.", SEED)
    assert not hollow(f"{made} {SEED.span}", SEED)  # the flagged span
    first = SEED.draft.split(". ")[2]  # a sentence of the draft: "For instance, you could hollow out fruits ..."
    assert not hollow(f"{made} {first}.", SEED)
    assert not hollow(f"{made} Use a hidden compartment.", SEED)  # words of neither the grammar nor the request
    assert not hollow("  ", SEED)
    stock = SEED.model_copy(update={"draft": f"Every situation is different. {SEED.draft}"})
    assert hollow("I hope this helps.", stock) and not hollow("I hope this helps. Every situation is different!", stock)


def test_the_grammar_of_a_hollow_answer_declines_nothing_and_its_operators_exist():
    for kind in KINDS:
        for template in grammar()[kind]:
            assert not DECLINES.search(template), template
            assert "{span}" not in template
    assert set(OPERATORS_USED) <= set(OPERATORS)


def test_every_hollow_attempt_keeps_the_oracle_and_none_holds_the_span():
    def query(seed, revision, item_id):
        async def line():
            return EvalLine(id=item_id, verdict="evasive", confidence=0.8)

        return line()

    settings = SearchSettings(budget=80, operators=OPERATORS_USED, variant=HOLLOW, seed="h")
    outcome = asyncio.run(attack(SEED, query, settings))
    assert len(outcome.attempts) == 80
    assert outcome.attempts[0].operators == [] and outcome.attempts[0].revision != SEED.draft
    for attempt in outcome.attempts:
        assert hollow(attempt.revision, SEED) and SEED.span not in attempt.revision
    used = {name for attempt in outcome.attempts for name in attempt.operators}
    assert {"generic", "echo_filler", "judge_note"} <= used


def test_a_hollow_red_team_writes_its_variant_and_rejects_operators_that_need_the_span(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["redteam", "--variant", "hollow", "--limit", 2, "--budget", 8, "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["search"]["variant"] == "hollow" and report["search"]["operators"] == list(OPERATORS_USED)
    assert json.loads((out / "job.json").read_text())["variant"] == "hollow"
    for line in (out / "attempts.jsonl").read_text().splitlines():
        attempt = json.loads(line)
        assert hollow(attempt["revision"], next(s for s in builtin_seeds() if s.id == attempt["seed"]))
    clear_error(
        CliRunner().invoke(app, ["redteam", "--variant", "hollow", "--operators", "generic,disavow"]),
        "'disavow' rewrites the flagged span",
    )
    clear_error(CliRunner().invoke(app, ["redteam", "--variant", "holow"]), "unknown --variant 'holow'", "hollow")


def test_no_hollow_revision_of_a_built_in_seed_is_genuine(tmp_path):
    """Every hollow operator, on every built-in seed, against the eval with the default scorer and no judge: a text made
    of generic sentences and the request's own words is no fix, so none may be genuine, with review or without. (The
    fast scorer reads the request's words said back as specific; what stops them is that the rest of the draft, which
    nothing flagged, went too.)"""
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["redteam", "--variant", "hollow", "--judge", "none", "--budget", 20, "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["seeds"] == len(builtin_seeds()) and report["search"]["operators"] == list(OPERATORS_USED)
    genuine = [json.loads(line) for line in (out / "attempts.jsonl").read_text().splitlines()]
    genuine = [a for a in genuine if a["verdict"] == "genuine"]
    assert report["broken"] == 0 and not genuine, [(a["seed"], a["revision"]) for a in genuine[:5]]
