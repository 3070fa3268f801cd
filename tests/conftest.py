from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


@pytest.fixture
def scripted_spec() -> str:
    return f"scripted:{DATA / 'scripted_basic.yaml'}"


@pytest.fixture
def short_constitution() -> str:
    return str(ROOT / "examples" / "constitutions" / "short.yaml")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
