"""The README stays a front page: the two set-up commands first, at most 200 lines, and links that lead somewhere."""

import re

from tests.helpers import ROOT

README = (ROOT / "README.md").read_text("utf-8")


def test_the_readme_is_at_most_200_lines():
    assert len(README.splitlines()) <= 200, "the README grew: move the new text into docs/ and link to it"


def test_the_two_set_up_commands_come_first():
    first_block = README.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert README.index("```bash") < README.index("\n## ")
    assert first_block[0].startswith("bash scripts/install && .venv/bin/cai run examples/prompts/quickstart.jsonl")
    assert first_block[1].startswith("bash scripts/install test && .venv/bin/pytest")


def test_the_readme_links_to_pages_that_exist():
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)
    assert targets, "the README links into the docs"
    assert [target for target in targets if not (ROOT / target).exists()] == []
