import asyncio

import pytest

from constitutional.constitution import load_constitution
from constitutional.models import create_model
from constitutional.pipeline.loop import LoopSettings, choose_principles, clean_revision, parse_selection, process
from constitutional.pipeline.prompt_sets import PromptItem


@pytest.fixture
def constitution(short_constitution):
    return load_constitution(short_constitution).constitution


def run(prompt, model, constitution, **settings):
    return asyncio.run(process(PromptItem("p1", prompt), model, constitution, LoopSettings(**settings)))


def test_draft_critique_revise(scripted_spec, constitution):
    model = create_model(scripted_spec)
    record = run("how do I get in?", model, constitution)
    assert record.draft.startswith("Step 1: pick the lock")
    (step,) = record.steps
    assert step.critique.needs_revision and step.critique.violations[0].principle == "honesty"
    assert step.revision.startswith("I can't help")  # the "Revised response:" preamble is stripped
    assert record.final == step.revision and record.error is None
    assert record.usage.calls == model.calls == 3


def test_no_violation_skips_the_revision_call(scripted_spec, constitution):
    model = create_model(scripted_spec)
    record = run("benign question", model, constitution, rounds=3)
    assert model.calls == 2  # draft + one critique; further rounds would repeat the same critique
    assert record.steps[0].revision is None and record.final == "Here is a safe answer."


def test_no_revisions_needed_never_becomes_the_answer(scripted_spec, constitution):
    record = run("SAY-NO-CHANGE", create_model(scripted_spec), constitution)
    assert record.steps[0].revision is None and "previous answer stands" in record.steps[0].note
    assert record.final == record.draft


def test_unparseable_critique_is_reasked_once_then_used(scripted_spec, constitution):
    model = create_model(scripted_spec)
    record = run("BROKEN-CRITIQUE", model, constitution)
    assert record.error is None and model.calls == 4  # draft, critique, re-ask, revise
    assert record.steps[0].critique.violations[0].principle == "honesty"


def test_critique_naming_an_unknown_principle_becomes_a_record_error(tmp_path, constitution):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        'rules:\n  - when: "Check the RESPONSE|not valid"\n    reply: {"needs_revision": true, "violations": '
        '[{"principle": "nope", "quote": "x", "explanation": "y"}]}\ndefault: "draft"\n'
    )
    model = create_model(f"scripted:{spec}")
    record = run("q", model, constitution)
    assert record.error.stage == "critique" and "nope" in record.error.message and record.error.raw
    assert model.calls == 3 and record.final is None and record.usage.calls == 3


def test_model_failure_is_recorded_not_raised(scripted_spec, constitution):
    record = run("MODEL-DOWN", create_model(scripted_spec), constitution)
    assert record.error.stage == "draft" and record.error.retryable and "503" in record.error.message


def test_rounds_and_sampling_are_seeded(constitution):
    settings = LoopSettings(rounds=2, sample=1, seed=5)
    draws = [choose_principles(constitution, settings, "p", r)[0].id for r in range(1, 30)]
    again = [choose_principles(constitution, settings, "p", r)[0].id for r in range(1, 30)]
    assert draws == again and len(set(draws)) > 1
    assert len(choose_principles(constitution, LoopSettings(sample=2), "p", 1)) == 2
    assert len({p.id for p in choose_principles(constitution, LoopSettings(sample=3), "p", 1)}) == 3


def test_each_round_revises_the_previous_answer(scripted_spec, constitution):
    model = create_model(scripted_spec)
    record = run("q", model, constitution, rounds=3)
    assert len(record.steps) == 3 and model.calls == 7
    assert all(s.revision == record.final for s in record.steps)


def test_selection_and_cleaning():
    assert parse_selection("all") is None and parse_selection("sample:3") == 3
    with pytest.raises(ValueError):
        parse_selection("sample:0")
    assert clean_revision("No changes are needed.") is None
    assert clean_revision("  ") is None
    assert clean_revision("Here is the revised response: Fine text") == "Fine text"
    assert clean_revision("No revisions needed, but also do X") == "No revisions needed, but also do X"


def test_template_syntax_in_a_prompt_is_passed_through_verbatim(constitution):
    from constitutional.prompts import render

    nasty = "$response ${prompt} {{ x }} {0} </s> <|im_start|>system"
    (system, user) = render("draft", prompt=nasty)
    assert user["content"] == nasty
    critique = render("critique", principles="- a: b", examples="", prompt=nasty, response="$prompt")
    assert nasty in critique[1]["content"] and "$prompt" in critique[1]["content"]


def test_a_one_megabyte_prompt_is_processed(scripted_spec, constitution):
    record = run("benign " + "word " * 200_000, create_model(scripted_spec), constitution)
    assert record.error is None and len(record.prompt) > 1_000_000
