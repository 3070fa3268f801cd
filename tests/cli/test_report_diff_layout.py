"""`cai report diff A B` read in an 80-column terminal or a pipe: whole principle ids, and "only A"/"only B" from
what each run's constitution defines."""

import json

from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.constitution import load_constitution
from tests.cli.test_report import two_runs
from tests.reports.report_fixtures import eval_dir, labelled_rows

LONG_NEW_ID = "no-unrequested-moralising"


def cai_80(*args):
    """`cai` with its output going to a pipe (not a terminal), COLUMNS=80."""
    return CliRunner(env={"COLUMNS": "80"}).invoke(app, [str(a) for a in args])


def principle_rows(output: str, ids: set[str]) -> dict[str, str]:
    """The table line of each principle, by the id it starts with."""
    return {line.split()[0]: line for line in output.splitlines() if line.strip() and line.split()[0] in ids}


def edited_default(tmp_path):
    """The built-in constitution without `relevance` and with a principle whose id is long, as a JSON file."""
    data = load_constitution("default").constitution.model_dump(mode="json", exclude_none=True)
    kept = [p for p in data["principles"] if p["id"] != "relevance"]
    added = {
        "id": LONG_NEW_ID,
        "name": "No unrequested moralising",
        "critique_request": "Quote any sentence that lectures the user about morals they did not ask about.",
        "revision_request": "Remove the lecture and answer what was asked.",
    }
    path = tmp_path / "edited.json"
    path.write_text(json.dumps({**data, "name": "edited", "principles": [*kept, added]}))
    return path


def runs_before_and_after_an_edit(tmp_path):
    rows = labelled_rows()
    assert any(v["principle"] == "relevance" for row in rows for v in row["violations"])
    flagged = dict(rows[0], violations=[*rows[0]["violations"], {"principle": LONG_NEW_ID, "quote": rows[0]["draft"][:20]}])
    a = eval_dir(tmp_path, rows, "a")
    b = eval_dir(tmp_path, [flagged, *rows[1:]], "b", str(edited_default(tmp_path)))
    return a, b


def test_diff_at_80_columns_shows_whole_ids_and_which_constitution_defines_them(tmp_path):
    a, b = runs_before_and_after_an_edit(tmp_path)
    result = cai_80("report", "diff", a, b)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.output
    ids = {"honesty", "medical-legal-financial", "dangerous-help", "relevance", LONG_NEW_ID}
    rows = principle_rows(result.output, ids)
    assert set(rows) == ids
    assert "(only A)" in rows["relevance"] and f"{LONG_NEW_ID} (only B)" in rows[LONG_NEW_ID]
    assert all("(only" not in rows[pid] for pid in ("honesty", "medical-legal-financial", "dangerous-help"))
    assert "removed: relevance" in result.output and f"added: {LONG_NEW_ID}" in result.output
    found = json.loads(cai_80("report", "diff", a, b, "--format", "json").output)["principles"]
    assert found["honesty"]["in"] == "both" and found["relevance"]["in"] == "a" and found[LONG_NEW_ID]["in"] == "b"
    md = cai_80("report", "diff", a, b, "--format", "md").output
    assert f"| {LONG_NEW_ID} (only B) |" in md and "| honesty |" in md


def test_only_a_or_b_comes_from_the_constitutions_not_from_counts(tmp_path):
    a, b, a_file, _ = two_runs(tmp_path)  # B's constitution adds `kind`; both define honesty; neither defines illegal-help
    found = json.loads(cai_80("report", "diff", a, b, "--format", "json").output)["principles"]
    assert found["honesty"]["in"] == "both" and found["illegal-help"]["in"] == "neither"
    assert "illegal-help (in neither)" in cai_80("report", "diff", a, b).output
    a_file.unlink()  # A's constitution is gone: which principles it defined is unknown, and the diff does not guess
    result = cai_80("report", "diff", a, b)
    assert all(
        found["in"] is None for found in json.loads(cai_80("report", "diff", a, b, "-f", "json").output)["principles"].values()
    )
    rows = principle_rows(result.output, {"honesty", "illegal-help"})
    assert len(rows) == 2 and all("(only" not in row and "(in neither" not in row for row in rows.values())
    assert max(len(line) for line in result.output.splitlines()) <= 80
