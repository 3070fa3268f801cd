"""`cai eval` of rows in the columns of Hugging Face's CAI datasets (HuggingFaceH4/cai-conversation-harmless)."""

import json

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.evals.items import from_line
from tests.helpers import DATA, write

HF_ROWS = DATA / "audit" / "hf_cai_conversation.jsonl"


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_columns_map_to_prompt_draft_revision_and_the_critique_stays_in_meta():
    row = rows(HF_ROWS)[0]
    item = from_line(row, 1)
    assert (item.prompt, item.draft, item.revision) == (row["init_prompt"], row["init_response"], row["revision_response"])
    assert item.flags == [] and item.critique_known is False  # a free-text critique gives no structured flags
    assert item.meta["critic_prompt"] == row["critic_prompt"] and item.meta["critic_response"] == row["critic_response"]
    assert not {"init_prompt", "init_response", "revision_response"} & set(item.meta)


def test_turns_stored_as_role_content_messages_are_read_as_their_text():
    row = rows(HF_ROWS)[2]
    assert row["init_prompt"]["role"] == "user"
    item = from_line(row, 3)
    assert item.prompt == row["init_prompt"]["content"] and item.revision == row["revision_response"]["content"]


def test_cai_eval_then_export_keeps_the_genuine_pair(tmp_path):
    out = tmp_path / "audit"
    result = cai("eval", HF_ROWS, "--judge", "none", "--out", out)
    assert result.exit_code == 0, result.output
    source = rows(HF_ROWS)
    lines = rows(out / "eval.jsonl")
    assert [line["prompt"] for line in lines] == [
        source[0]["init_prompt"],
        source[1]["init_prompt"],
        source[2]["init_prompt"]["content"],
    ]
    # The dataset's critiques are free text, so no flag says the draft needed the refusal that replaced it: a guess.
    assert [line["verdict"] for line in lines] == ["undecided", "superficial", "unchanged"] and lines[0]["leaning"] == "evasive"
    assert cai("export", out, "--format", "dpo", "--style", "standard", "--include-unreviewed").exit_code == 0
    assert rows(out / "dpo.jsonl") == []  # never exported on a guess
    assert cai("review", out, "--set", lines[0]["id"], "genuine").exit_code == 0  # a person settles it
    assert cai("export", out, "--format", "dpo", "--style", "standard").exit_code == 0
    assert rows(out / "dpo.jsonl") == [
        {"prompt": source[0]["init_prompt"], "chosen": source[0]["revision_response"], "rejected": source[0]["init_response"]}
    ]


@pytest.mark.parametrize(
    "row, message",
    [
        ({"init_prompt": ["a", "list"], "revision_response": "r"}, "'init_prompt' must be a non-empty string"),
        ({"init_prompt": {"role": "user"}, "revision_response": "r"}, "'init_prompt' must be a non-empty string"),
        ({"init_prompt": "p", "init_response": "d", "critic_response": "c"}, "needs 'revision_response'"),
        ({"init_prompt": "p", "init_response": 3, "revision_response": "r"}, "'init_response' must be a string"),
    ],
)
def test_bad_rows_name_the_file_line_and_column(tmp_path, row, message):
    source = write(
        tmp_path / "cai.jsonl", json.dumps({"init_prompt": "ok", "revision_response": "ok"}) + "\n" + json.dumps(row) + "\n"
    )
    result = cai("eval", source, "--judge", "none", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert f"{source}:2: {message}" in result.output and f"{source}:1" not in result.output
    assert "init_prompt" in result.output.split("fix:")[1]  # the fix names the columns this layout needs
