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


def doc_pages() -> list[Path]:
    """README.md and every page of the docs site: where the user-facing text lives."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def doc_from(start: str) -> str:
    """The text after `start`, to the end of its page, in the one page of README.md or docs/ that holds `start`.

    Tests of the text (layouts, samples, tables) find it through this, so a passage moved from the README into
    the docs is still found; a passage in two pages fails, so a stale copy cannot hide the one kept up to date."""
    holders = [(path, text) for path in doc_pages() if start in (text := path.read_text("utf-8"))]
    assert len(holders) == 1, f"{start!r} is in {[str(p.relative_to(ROOT)) for p, _ in holders]}: it must be in one page"
    text = holders[0][1]
    return text[text.index(start) + len(start) :]


def doc_between(start: str, end: str) -> str:
    """The text between `start` and the next `end`, in the one page that holds `start` (see doc_from)."""
    after = doc_from(start)
    return after[: after.index(end)]
