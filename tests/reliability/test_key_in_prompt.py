"""A prompt holding something shaped like an API key gets one warning line on stderr per run, naming the prompt, its
line and how to take the key out; prompts that only look a little like keys get none. The prompt itself is kept as
typed (it is the user's input, and may be a deliberate test string)."""

import json

from tests.helpers import write
from tests.reliability.common import SCRIPTED, cai, records

KEY = "sk-proj-T4ped1nto0aPrompt9xQ7vB2nM5kL8"


def test_a_key_typed_into_a_prompt_gets_one_warning_line_naming_the_prompt(tmp_path):
    rows = [
        {"id": "plain", "prompt": "how do locks work?"},
        {"id": "leaky", "prompt": f"use my key {KEY} to call the API"},
        {"id": "leaky2", "prompt": "and this Google one AIzaSyD3xampl3K3yF0rG00gl3Maps12345"},
        {"id": "lookalike", "prompt": "is sk-learn-tutorial-2 a good course? and task-1234567890abcdefgh?"},
    ]
    prompts = write(tmp_path / "p.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "run"
    run = cai(tmp_path, "run", prompts, "-m", SCRIPTED, "-o", out, "--no-eval", "-q")
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "looks like an API key" in line]
    assert len(warnings) == 1, run.stderr
    (line,) = warnings
    assert "prompt leaky (" in line and "p.jsonl:2" in line and "(and 1 more prompt)" in line and "sk-proj-" in line
    assert f"delete it from {prompts}" in line and f"delete {out}" in line
    assert KEY not in run.stderr  # the warning does not repeat the key
    assert KEY in next(r["prompt"] for r in records(out) if r["id"] == "leaky")  # kept as typed: the choice documented


def test_prompts_without_key_shapes_get_no_warning(tmp_path):
    prompts = write(tmp_path / "p.jsonl", '{"id": "a", "prompt": "sk-learn and ask-proj-AbC123dEf456GhI789jKl0"}\n')
    run = cai(tmp_path, "run", prompts, "-m", SCRIPTED, "-o", tmp_path / "run", "--no-eval", "-q")
    assert run.returncode == 0 and "API key" not in run.stderr, run.stderr
