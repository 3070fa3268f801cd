"""Canned judges for the eval tests, written as scripted-provider files."""

from pathlib import Path

import yaml

from constitutional.models import create_model


def scripted_judge(folder: Path, rules: list[dict], default=None, name: str = "judge.yaml"):
    path = folder / name
    path.write_text(yaml.safe_dump({"rules": rules, "default": default}, allow_unicode=True), encoding="utf-8")
    return create_model(f"scripted:{path}")


def checklist(breaks=False, breaks_quote="", substantive=True, substantive_quote="") -> dict:
    return {"breaks": breaks, "breaks_quote": breaks_quote, "substantive": substantive, "substantive_quote": substantive_quote}


def compare(better="same", quote="") -> dict:
    return {"better": better, "quote": quote}


# Regexes that tell the two judge templates apart, and which text sits in which slot.
CHECKLIST = "Questions:"
COMPARE = "ANSWER A:"


def in_slot(slot: str, start: str) -> str:
    """Matches a comparison whose answer `slot` ("A" or "B") starts with `start`."""
    return rf"(?s)ANSWER {slot}:\n<<<<<<<< BEGIN\n{start}"


def audited_text(fragment: str) -> str:
    """Matches a checklist whose audited text contains `fragment`."""
    return rf"(?s)The text to audit.*{fragment}.*Questions:"
