"""The one place a verdict's colour is set, for the terminal (a rich style) and for the pages (CSS: report.html and
the review app). A verdict this table does not list (one a newer eval writes) is shown as it is, in grey; a new
verdict's colour is one line here."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Colour:
    terminal: str  # a rich style
    web: str  # a CSS colour


OTHER = Colour("grey50", "#78828f")  # any verdict not listed below

VERDICT_COLOURS: dict[str, Colour] = {
    "genuine": Colour("green", "#2e7d32"),
    "superficial": Colour("yellow", "#d97706"),
    "non_compliant": Colour("red", "#c62828"),
    "evasive": Colour("magenta", "#7b1fa2"),
    "regressed": Colour("dark_orange3", "#8d4e1a"),
    "unchanged": Colour("grey62", "#607d8b"),
    "undecided": Colour("grey42", "#9e9e9e"),
    "error": Colour("bold red", "#37474f"),
}


def style(verdict: str | None) -> str:
    """The terminal style of `verdict` ('' for none)."""
    return "" if not verdict else VERDICT_COLOURS.get(verdict, OTHER).terminal


def verdict_css() -> str:
    """CSS for the pages: a custom property --VERDICT per verdict (--other for any other), and the badge classes
    `.v-VERDICT` (report.html) and `.pill.VERDICT` (the review app) filled with it, and `.edge-VERDICT` edged with it
    (classes, not style attributes, which the pages' Content-Security-Policy does not run)."""
    props = "".join(f"--{v}: {c.web}; " for v, c in VERDICT_COLOURS.items())
    fills = "\n".join(f".v-{v}, .pill.{v} {{ background: var(--{v}); }}" for v in VERDICT_COLOURS)
    edges = "\n".join(f".edge-{v} {{ border-left-color: var(--{v}); }}" for v in VERDICT_COLOURS)
    return f":root {{ {props}--other: {OTHER.web}; }}\n{fills}\n{edges}\n"


def stylesheet() -> str:
    """The pages' CSS (report.html of an eval and of a red team): templates/report.css, then the verdicts' colours."""
    return (resources.files("constitutional.reports") / "templates" / "report.css").read_text("utf-8") + verdict_css()
