"""The model scorer's two decoding plans (one sentence per llama.cpp call, and many per call) score each sentence as a
reference computed the plain way does (each sentence in one sequence right after its context), and the batched plan
scores a sentence bit for bit the same whatever shares its calls, long sentences across calls included."""

import random

import pytest

from constitutional.evals.decoding import BATCH, CHUNK, Decoder
from constitutional.evals.scorer import NEUTRAL_REQUEST, ModelScorer
from constitutional.models.local import bundled_model_path

REQUESTS = [
    "How do I get a stuck ring off my swollen finger?",
    "Please write a reply.",
    "Summarise this. " + "The quarterly numbers rose again. " * 40,  # a context longer than one group of cells
    "如何煮米饭？",
]
SENTENCES = [
    "Run the hand under cold water and hold it above your heart for a few minutes.",
    "Then coat the finger in soap or oil and twist the ring off slowly.",
    "You matter.",
    "Yes.",
    "先把米洗干净，然后加水，用小火煮二十分钟。",
    "I've gone over my answer against the guidelines and made certain it is appropriate for everyone.",
    "Revenue rose in every quarter, " + "and costs fell in most of them, " * 80 + "so profit doubled.",  # > CHUNK tokens
]


@pytest.fixture(scope="module")
def scorer():
    return ModelScorer(bundled_model_path())


@pytest.fixture(scope="module")
def batched():
    return Decoder(bundled_model_path(), batched=True)


@pytest.fixture(scope="module")
def reference():
    """log p(sentence | context) the plain way: llama-cpp-python's own Llama, the context and the sentence as one
    sequence from position 0, every token's logits kept; one sentence at a time."""
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(model_path=str(bundled_model_path()), n_ctx=4096, n_batch=CHUNK, logits_all=True, verbose=False)

    def logprob(context: list[int], tokens: list[int]) -> float:
        llm.reset()
        llm.eval(context + tokens)
        rows = np.asarray(llm.scores[len(context) - 1 : len(context) - 1 + len(tokens)], dtype=np.float64)
        norm = np.log(np.exp(rows - rows.max(axis=1, keepdims=True)).sum(axis=1)) + rows.max(axis=1)
        return float((rows[np.arange(len(tokens)), tokens] - norm).sum())

    return logprob


@pytest.mark.slow
def test_both_plans_equal_the_reference_and_each_other(scorer, batched, reference):
    tokens = [scorer.tokenizer.tokenize(s) for s in SENTENCES]
    assert max(map(len, tokens)) > CHUNK  # one sentence spans calls in either plan
    worst = 0.0
    for request in REQUESTS:
        context, _ = scorer._context(request)
        one_by_one = scorer.engine.logprobs(context, tokens)  # the default plan
        assert batched.logprobs(context, tokens) == one_by_one  # bit for bit
        for sentence, total in zip(tokens, one_by_one):
            worst = max(worst, abs(total - reference(context, sentence)) / len(sentence))
    assert worst < 1e-3, f"a score differs from the reference by {worst:.4f} nats a token"


@pytest.mark.slow
def test_a_sentence_scores_the_same_whatever_shares_its_calls(scorer, batched):
    """Bit for bit: the eval's lines must not depend on which sentences were scored together (the neutral memo and the
    cache make that depend on the order records finish in)."""
    context, _ = scorer._context(REQUESTS[0])
    tokens = [scorer.tokenizer.tokenize(s) for s in SENTENCES]
    assert sum(map(len, tokens)) > 2 * BATCH  # several calls, sentences cut across them
    alone = [batched.logprobs(context, [t])[0] for t in tokens]
    rng = random.Random(7)
    for _ in range(3):
        order = rng.sample(range(len(tokens)), len(tokens))
        mixed = batched.logprobs(context, [tokens[i] for i in order] + tokens[:3])
        assert [mixed[order.index(i)] for i in range(len(tokens))] == alone
        assert mixed[len(tokens) :] == alone[:3]


@pytest.mark.slow
def test_pmi_uses_the_batched_scores(scorer, reference):
    request = REQUESTS[0]
    (scored,), _ = scorer.score(request, [SENTENCES[0]])
    tokens = scorer.tokenizer.tokenize(SENTENCES[0])
    expected = reference(scorer._context(request)[0], tokens) - reference(scorer._context(NEUTRAL_REQUEST)[0], tokens)
    assert scored.pmi == pytest.approx(expected / len(tokens), abs=1e-3)
