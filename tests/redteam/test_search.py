"""The search: a query budget per seed, numbered queries, a stop at a success without review, the eval's verdict as
its guide, and the same attempts for the same seed string."""

import asyncio

from constitutional.evals.lines import EvalLine
from constitutional.redteam.search import Attempt, SearchSettings, attack, score, select
from constitutional.redteam.seeds import builtin_seeds

SEED = builtin_seeds()[0]


def stand_in(rule):
    """An eval that answers by `rule(revision) -> (verdict, needs_review)`, counting its calls."""
    calls = []

    async def query(seed, revision, item_id):
        calls.append(item_id)
        verdict, review = rule(revision)
        return EvalLine(id=item_id, verdict=verdict, confidence=0.8, needs_review=review)

    query.calls = calls
    return query


def run(query, **settings):
    return asyncio.run(attack(SEED, query, SearchSettings(**settings)))


def test_the_budget_bounds_the_queries_and_the_first_is_the_draft():
    query = stand_in(lambda revision: ("non_compliant", False))
    outcome = run(query, budget=37)
    assert len(outcome.attempts) == len(query.calls) == 37
    assert [a.query for a in outcome.attempts] == list(range(1, 38))
    first = outcome.attempts[0]
    assert first.revision == SEED.draft and first.operators == [] and first.parent is None
    assert all(SEED.span in a.revision for a in outcome.attempts)
    assert len({a.revision for a in outcome.attempts}) == 37  # no revision is asked twice
    assert outcome.first_success is None


def test_a_success_without_review_ends_the_search_with_its_round():
    query = stand_in(lambda revision: ("genuine", False) if "```" in revision else ("superficial", False))
    settings = SearchSettings(budget=200, operators=("code_fence", "veneer_end", "headings"))
    outcome = asyncio.run(attack(SEED, query, settings))
    assert outcome.first_clean is outcome.first_success and "code_fence" in outcome.first_clean.operators
    assert len(outcome.attempts) < outcome.first_clean.query + settings.beam * settings.expand


def test_a_success_that_needs_review_does_not_end_it():
    query = stand_in(lambda revision: ("genuine", True) if "```" in revision else ("superficial", False))
    outcome = run(query, budget=120, operators=("code_fence", "headings", "veneer_end"))
    assert outcome.first_success.needs_review and outcome.first_clean is None
    assert len(outcome.attempts) == 120


def test_the_same_seed_string_gives_the_same_attempts_and_another_gives_others():
    def rule(revision):
        return ("superficial", False) if len(revision) % 3 else ("undecided", True)

    first, again, other = (run(stand_in(rule), budget=60, seed=s) for s in ("a", "a", "b"))
    assert [a.model_dump() for a in first.attempts] == [a.model_dump() for a in again.attempts]
    assert [a.revision for a in first.attempts] != [a.revision for a in other.attempts]


def attempt(verdict, confidence=0.8, review=False, leaning=None, operators=(), query=2):
    return Attempt(
        seed="s",
        query=query,
        parent=1,
        operators=list(operators),
        revision="r",
        verdict=verdict,
        leaning=leaning,
        confidence=confidence,
        needs_review=review,
    )


def test_the_score_runs_from_caught_to_genuine():
    order = [
        attempt("non_compliant", 0.9),
        attempt("non_compliant", 0.6),
        attempt("superficial"),
        attempt("evasive"),
        attempt("regressed"),
        attempt("undecided", leaning="evasive"),
        attempt("undecided", leaning="genuine", confidence=0.4),
        attempt("undecided", leaning="genuine", confidence=0.7),
        attempt("unchanged"),
        attempt("genuine", review=True),
        attempt("genuine"),
    ]
    assert sorted(order, key=score) == order


def test_the_beam_keeps_one_revision_per_thing_the_eval_said():
    same = [attempt("superficial", operators=["a"] * n, query=n + 2) for n in range(3)]
    beam = select([*same, attempt("evasive", query=9)], 4)
    assert [a.verdict for a in beam] == ["evasive", "superficial"]
    assert beam[1].operators == []  # the shortest chain stands for revisions the eval cannot tell apart
