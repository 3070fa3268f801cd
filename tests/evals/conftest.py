import json

import pytest

from constitutional.constitution import load_constitution
from tests.helpers import DATA

LABELLED = DATA / "labelled"


def labelled(name: str) -> list[dict]:
    return [json.loads(line) for line in (LABELLED / name).read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def default_constitution():
    return load_constitution("default").constitution
