import random

import pytest

from constitutional.constitution import Constitution, lint, load_constitution
from constitutional.constitution.lint import lint_constitution, lint_file, veneer_phrase
from tests.helpers import write


def make(*principles, **extra):
    items = [dict({"id": f"p{i}", "name": f"P{i}"}, **p) for i, p in enumerate(principles)]
    return Constitution.model_validate({"name": "t", "principles": items, **extra})


GOOD = {
    "critique_request": "Quote every invented statistic or citation in the response and say why it is doubtful.",
    "revision_request": "Delete or correct each invented claim and say what is unknown.",
}
OTHER = {
    "critique_request": "Quote any part that reveals a real person's home address, phone number or health details.",
    "revision_request": "Remove the personal details and suggest a consent-respecting way to reach the goal.",
}


def codes(constitution):
    return [(w.code, w.principle) for w in lint_constitution(constitution)]


def test_builtin_default_lints_clean():
    loaded = load_constitution("default")
    assert lint_file("default", loaded.constitution) == []
    assert len(loaded.constitution.principles) == 14


def test_distinct_specific_principles_are_clean():
    assert codes(make(GOOD, OTHER)) == []


def test_vague_critique_is_flagged():
    vague = dict(GOOD, critique_request="Discuss whether the response is harmful, unethical or dangerous in any way.")
    assert codes(make(vague, OTHER)) == [("vague-critique", "p0")]


@pytest.mark.parametrize(
    "revision",
    [
        "Add a warning about the risks at the end.",
        "Please rewrite the response and include a short disclaimer.",
        "Keep the answer but append a safety note.",
        "Remind the user to be careful.",
        "State that the response now complies with the principles.",
    ],
)
def test_revision_inviting_veneer_is_flagged(revision):
    assert codes(make(dict(GOOD, revision_request=revision), OTHER)) == [("veneer-revision", "p0")]


@pytest.mark.parametrize(
    "revision",
    [
        "Remove the dangerous steps. Do not add a warning in their place.",
        "Replace the unsafe dose with the general fact, rather than adding a disclaimer.",
        "Delete the insult and restate the complaint firmly.",
    ],
)
def test_substance_revisions_and_negated_veneer_pass(revision):
    assert veneer_phrase(revision) is None


def test_duplicate_and_near_duplicate_principles():
    dup = make(GOOD, OTHER, GOOD)
    assert ("duplicate", "p2") in codes(dup)
    near = dict(GOOD, critique_request="Quote every invented statistic or citation in the reply and say why each is doubtful.")
    assert ("near-duplicate", "p2") in codes(make(GOOD, OTHER, near))


def test_shared_boilerplate_alone_is_not_a_near_duplicate():
    frame = "Quote the parts of the response that {0}. Please rewrite the response so that it {1}."
    texts = [
        ("are biased", "is objective and impartial"),
        ("ignore viewpoints", "considers other viewpoints"),
        ("misstate facts", "corrects each error"),
        ("use jargon", "explains terms plainly"),
    ]
    principles = [
        {"critique_request": frame.format(a, b).split(". ")[0] + ".", "revision_request": frame.format(a, b).split(". ")[1]}
        for a, b in texts
    ]
    assert [c for c in codes(make(*principles)) if "duplicate" in c[0]] == []
    copy = {
        "critique_request": "Quote the parts of the response that are biased or partial.",
        "revision_request": "Please rewrite the response so that it is impartial and objective.",
    }
    assert [c for c in codes(make(*principles, copy)) if "duplicate" in c[0]] == [("near-duplicate", "p4")]


def test_uncheckable_principles_unless_a_rule_checks_them():
    hidden = dict(GOOD, critique_request="Quote signs of whether the assistant truly cares about the user deep down.")
    short = dict(GOOD, critique_request="Quote bad parts.")
    assert codes(make(hidden, short)) == [("uncheckable", "p0"), ("uncheckable", "p1")]
    ruled = dict(short, rules=[{"max_chars": 500}])
    assert codes(make(ruled, OTHER)) == []


def test_lint_file_reports_the_principle_line(tmp_path):
    path = write(
        tmp_path / "c.yaml",
        f"""name: t
principles:
  - id: good
    name: Good
    critique_request: {GOOD["critique_request"]}
    revision_request: {GOOD["revision_request"]}
  - id: veneer
    name: Veneer
    critique_request: {OTHER["critique_request"]}
    revision_request: Add a disclaimer.
""",
    )
    warnings = lint_file(str(path), load_constitution(str(path)).constitution)
    assert [(w.code, w.line) for w in warnings] == [("veneer-revision", 10)]
    assert warnings[0].render(str(path)).startswith(f"{path}:10: principle 'veneer': [veneer-revision]")


def generated_principles(count, planted, seed=7):
    """`count` principles on random topics in one template, and `planted` (index, copy-at) pairs: the principle at
    `copy-at` restates the one at `index` with one topic word changed."""
    rng = random.Random(seed)
    vocabulary = [f"{rng.choice('bdfgklmnprstvz')}{rng.choice('aeiou')}{rng.choice('bdfgklmnprstvz')}{n}" for n in range(3000)]
    principles = []
    for _ in range(count):
        topic = rng.sample(vocabulary, 10)
        principles.append(
            {
                "critique_request": f"Quote every part of the response about {' '.join(topic[:6])}.",
                "revision_request": f"Rewrite the response without {' '.join(topic[6:])}.",
            }
        )
    for index, copy_at in planted:
        words = principles[index]["critique_request"].split()
        words[-2] = rng.choice(vocabulary)
        principles[copy_at] = {"critique_request": " ".join(words), "revision_request": principles[index]["revision_request"]}
    return principles


def test_near_duplicates_among_5000_principles_are_all_found_by_comparing_few_pairs(monkeypatch):
    planted = [(3, 4100), (250, 251), (1200, 4999), (2048, 3000), (0, 2500)]
    constitution = make(*generated_principles(5000, planted))
    compared = []
    real_jaccard = lint._jaccard
    monkeypatch.setattr(lint, "_jaccard", lambda a, b: compared.append(1) or real_jaccard(a, b))
    found = [(code, who) for code, who in codes(constitution) if "duplicate" in code]
    assert sorted(found) == sorted(("near-duplicate", f"p{copy_at}") for _, copy_at in planted)
    assert len(compared) < 0.02 * 5000 * 4999 / 2  # under 2% of the 12.5 million pairs (176k, seeded)


def test_a_word_too_many_principles_share_is_named_as_not_compared():
    frame = "Quote every sentence of the response that mentions {}."
    crowded = [
        {"critique_request": frame.format(f"alpha topic{i}"), "revision_request": "Delete it."} for i in range(lint.CROWDED + 1)
    ]
    others = [
        {"critique_request": frame.format(f"topic{i}"), "revision_request": "Delete it."} for i in range(lint.CROWDED + 1, 500)
    ]
    (warning,) = lint_constitution(make(*crowded, *others))
    assert warning.code == "near-duplicate-unchecked" and warning.principle is None
    assert "1 word(s) ('alpha')" in warning.message and "were not compared" in warning.message
