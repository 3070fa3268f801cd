import pytest

from tests.helpers import DATA, ROOT


@pytest.fixture
def scripted_spec() -> str:
    return f"scripted:{DATA / 'scripted_basic.yaml'}"


@pytest.fixture
def short_constitution() -> str:
    return str(ROOT / "examples" / "constitutions" / "short.yaml")


@pytest.fixture(scope="session", autouse=True)
def session_environment(tmp_path_factory):
    """What the whole session runs under, set before any fixture of any scope (a module's shared run too), and
    inherited by the `cai` processes tests start: never the user's reply cache or price file; no scorer unless a
    test asks (scorer tests ask for --scorer local); and a first retry wait and first batch poll of 10 ms
    instead of 1 s and 5 s, so that no test sits in real backoff. A test of the waits themselves sets its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONSTITUTIONAL_CACHE_DIR", str(tmp_path_factory.mktemp("session-cache")))
        patch.setenv("CONSTITUTIONAL_PRICES", str(DATA / "no-prices.yaml"))  # the built-in table alone
        patch.setenv("CONSTITUTIONAL_SCORER", "none")
        patch.setenv("CONSTITUTIONAL_RETRY_WAIT", "0.01")
        patch.setenv("CONSTITUTIONAL_BATCH_POLL_SECONDS", "0.01")
        yield


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own reply cache."""
    monkeypatch.setenv("CONSTITUTIONAL_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
