import pytest

from tests.helpers import DATA, ROOT


@pytest.fixture
def scripted_spec() -> str:
    return f"scripted:{DATA / 'scripted_basic.yaml'}"


@pytest.fixture
def short_constitution() -> str:
    return str(ROOT / "examples" / "constitutions" / "short.yaml")
