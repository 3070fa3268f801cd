"""Small helpers shared by tests."""

from pathlib import Path

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def clear_error(result, *words):
    """Exit 2 through the CLI's own exit (no exception escaped, so no traceback), saying `words`."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, (word, result.output)
