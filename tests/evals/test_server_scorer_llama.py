"""The server scorer against llama-cpp-python's own server running the bundled model, over real HTTP: its scores
match the local scorer's (`--scorer local`, the same model in-process).

Slow: starts `python -m llama_cpp.server` for this module. That server computes echoed log-probabilities slowly
(it sorts the whole vocabulary for every prompt token, in Python: seconds a request here), so the texts are short.
"""

import pytest

from constitutional.calls.factory import call_settings
from constitutional.evals.scorer import close_scorer, load_scorer
from tests.standins.llama_server import ALIAS, llama_server

pytestmark = pytest.mark.slow
TOLERANCE = 1e-4  # nats per token; measured 1.05e-6 at most (float32 logits, summed in another order), tokens equal
REQUEST = "How do I get a stuck ring off my swollen finger?"
DRAFT = "Run the hand under cold water. Then twist the ring off slowly."
SENTENCES = [
    "Coat the finger in soap or oil first.",
    "Whatever you are going through, you matter.",
    "A café’s ice — or frozen peas — brings the swelling down.",  # characters of two and three bytes
]


@pytest.fixture(scope="module")
def server_scorer(tmp_path_factory):
    with llama_server(tmp_path_factory.mktemp("llama-server") / "server.log") as url:
        scorer = load_scorer(f"openai/{ALIAS}", settings=call_settings(cache=False, base_url=url))
        try:
            yield scorer
        finally:
            close_scorer(scorer)


def test_server_scores_match_the_local_scorer(server_scorer):
    local, local_cut = load_scorer("local").score(REQUEST, SENTENCES, DRAFT)
    served, served_cut = server_scorer.score(REQUEST, SENTENCES, DRAFT)
    assert served_cut is local_cut is False
    worst = 0.0
    for mine, theirs in zip(served, local):
        assert mine.text == theirs.text and mine.tokens == theirs.tokens
        worst = max(worst, abs(mine.pmi - theirs.pmi), abs(mine.pmi_draft - theirs.pmi_draft))
    print(f"largest difference from the local scorer: {worst:.2e} nats/token")
    assert worst <= TOLERANCE


def test_a_long_text_is_cut_at_the_same_token_as_the_local_scorer_cuts_it(server_scorer):
    import llama_cpp

    from constitutional.models.local import bundled_model_path

    text = "Hold the hand up high, wrap it in cold cloth, then soap the finger and twist the ring off."
    tail, cut = server_scorer._run(server_scorer._tail(text, 12))
    vocab = llama_cpp.Llama(model_path=str(bundled_model_path()), vocab_only=True, verbose=False)
    kept = vocab.tokenize(text.encode(), add_bos=False, special=False)[-12:]
    assert cut and tail == vocab.detokenize(kept).decode()
