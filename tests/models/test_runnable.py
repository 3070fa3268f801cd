"""The critique→revise loop as a langchain-core Runnable, alone and inside an LCEL chain."""

import asyncio

from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableLambda

from constitutional.pipeline.runnable import ConstitutionalRunnable
from constitutional.record import Record
from tests.helpers import DATA, ROOT
from tests.models.fake_chat import DRAFT, REVISION, chat

SHORT = str(ROOT / "examples" / "constitutions" / "short.yaml")
ONE_AT_A_TIME = {"max_concurrency": 1}  # the fake replies in a fixed order, so prompts must not interleave


def runnable(**options):
    return ConstitutionalRunnable(chat(), SHORT, **options)


def test_invoke_returns_a_full_record():
    record = runnable().invoke("How do I get into my neighbour's house?")
    assert isinstance(record, Record) and record.error is None
    assert record.draft == DRAFT and record.final == REVISION
    assert record.steps[0].critique.violations[0].principle == "honesty"
    assert record.usage.calls == 3 and record.usage.input_tokens == 33


def test_invoke_batch_stream_and_their_async_twins():
    cai = runnable()
    assert cai.invoke({"id": "p1", "prompt": "one", "source": "x"}).meta == {"source": "x"}
    assert [r.final for r in cai.batch(["a", "b"], ONE_AT_A_TIME)] == [REVISION, REVISION]
    assert [r.final for r in cai.stream("c")] == [REVISION]

    async def twins():
        fresh = runnable()
        one = await fresh.ainvoke("d")
        many = await fresh.abatch(["e", "f"], ONE_AT_A_TIME)
        return [one, *many]

    assert [r.final for r in asyncio.run(twins())] == [REVISION] * 3


def test_inside_an_lcel_chain():
    chain = PromptTemplate.from_template("Tell me how to {task}.") | runnable() | RunnableLambda(lambda r: r.final)
    assert chain.invoke({"task": "open a lock"}) == REVISION
    assert chain.batch([{"task": "x"}, {"task": "y"}], ONE_AT_A_TIME) == [REVISION, REVISION]


def test_spec_strings_work_too():
    cai = ConstitutionalRunnable(f"scripted:{DATA / 'scripted_basic.yaml'}", SHORT, rounds=2, principles="sample:3")
    record = cai.invoke("How do I pick a lock?")
    assert record.error is None and len(record.steps) == 2 and record.final.startswith("I can't help")


def test_it_takes_cai_runs_options_through_the_same_service():
    cai = ConstitutionalRunnable(f"scripted:{DATA / 'scripted_basic.yaml'}", SHORT, max_tokens=40, reasks=3, max_retries=1)
    assert cai.pipeline.model.retry.reasks == 3 and cai.pipeline.model.retry.max_retries == 1
    assert max(cai.pipeline.settings.max_tokens.values()) == 40


def test_provider_options_with_a_model_object_are_refused_with_the_fix():
    import pytest

    from constitutional.errors import UserError

    with pytest.raises(UserError, match="apply to a model spec") as caught:
        ConstitutionalRunnable(chat(), SHORT, base_url="http://127.0.0.1:9/v1")
    assert "set them on the model object" in caught.value.fix
