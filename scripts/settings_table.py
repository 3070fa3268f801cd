"""Write the table of environment variables, wherever README.md or a docs page has its markers, from their
declarations in src/constitutional/settings.py.

    python scripts/settings_table.py           # rewrite the tables between the markers
    python scripts/settings_table.py --check   # exit 1 if a table is out of date

tests/test_settings.py fails while a page and the module differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from constitutional.settings import TABLE_BEGIN, with_table

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    holders = {path: path.read_text("utf-8") for path in pages if TABLE_BEGIN in path.read_text("utf-8")}
    stale = [path for path, text in holders.items() if with_table(text) != text]
    if "--check" in argv:
        print("\n".join(f"{path} has an old table: run python {__file__}" for path in stale) or "up to date")
        return 1 if stale else 0
    for path in stale:
        path.write_text(with_table(holders[path]), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
