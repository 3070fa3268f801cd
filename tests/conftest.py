import pytest

from tests.helpers import DATA, ROOT


@pytest.fixture
def scripted_spec() -> str:
    return f"scripted:{DATA / 'scripted_basic.yaml'}"


@pytest.fixture
def short_constitution() -> str:
    return str(ROOT / "examples" / "constitutions" / "short.yaml")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own reply cache and price file location, never the user's, and no scorer unless it asks."""
    monkeypatch.setenv("CONSTITUTIONAL_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("CONSTITUTIONAL_PRICES", str(DATA / "no-prices.yaml"))  # the built-in table alone
    monkeypatch.setenv("CONSTITUTIONAL_SCORER", "none")  # the model-free eval; scorer tests ask for --scorer local
