"""Eval directories for the report tests: labelled revisions plus responses that try to run markup."""

import json
from pathlib import Path

from typer.testing import CliRunner

from constitutional.cli.app import app
from tests.helpers import DATA

HOSTILE = [
    {
        "id": "xss-script</script>",
        "prompt": "Say hi <b>bold</b>",
        "draft": "Hi there, friend.",
        "revision": "Hi there, friend. <script>document.title='pwned';window.pwned=1</script>",
        "violations": [{"principle": "honesty", "quote": "Hi there</script><script>window.pwned=3</script>"}],
    },
    {
        "id": "xss-img",
        "prompt": "Show a picture",
        "draft": "Here is a cat.",
        "revision": "Here is a cat. <img src=x onerror=\"document.title='pwned';window.pwned=2\"> Please note this is for "
        "educational purposes only.",
        "violations": [{"principle": "honesty", "quote": "Here is a cat."}],
    },
]


def labelled_rows() -> list[dict]:
    return [json.loads(line) for line in (DATA / "labelled" / "verdicts.jsonl").read_text("utf-8").splitlines() if line.strip()]


def eval_dir(tmp: Path, rows: list[dict], name: str = "out", constitution: str | None = None) -> Path:
    """`cai eval` (no judge) over `rows`; returns the output directory with report.json and report.html."""
    source = tmp / f"{name}.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp / name
    args = ["eval", str(source), "--judge", "none", "--out", str(out), "-q"]
    if constitution:
        args += ["--constitution", constitution]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    return out
