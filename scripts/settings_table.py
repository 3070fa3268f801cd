"""Write the README's table of environment variables from their declarations in src/constitutional/settings.py.

    python scripts/settings_table.py           # rewrite the table between the README's markers
    python scripts/settings_table.py --check   # exit 1 if the README's table is out of date

tests/test_settings.py fails while the README and the module differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from constitutional.settings import with_table

README = Path(__file__).resolve().parent.parent / "README.md"


def main(argv: list[str]) -> int:
    current = README.read_text("utf-8")
    wanted = with_table(current)
    if "--check" in argv:
        print("up to date" if wanted == current else f"{README} has an old table: run python {__file__}")
        return 0 if wanted == current else 1
    README.write_text(wanted, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
