import pytest

from constitutional.errors import UserError
from constitutional.pipeline.prompt_sets import InputProblem, PromptItem, prompt_id, read_prompts
from tests.helpers import write


def items(path):
    return [r for r in read_prompts(path) if isinstance(r, PromptItem)]


def problems(path):
    return [r for r in read_prompts(path) if isinstance(r, InputProblem)]


def test_jsonl_keeps_ids_and_meta_and_hashes_missing_ids(tmp_path):
    path = write(tmp_path / "p.jsonl", '{"id": "x", "prompt": "one", "topic": "t"}\n\n{"prompt": "two"}\n{"id": 7, "prompt": "three"}\n')
    rows = items(path)
    assert [r.id for r in rows] == ["x", prompt_id("two"), "7"]
    assert rows[0].meta == {"topic": "t"} and rows[1].line == 3


def test_stable_id_is_a_function_of_the_text():
    assert prompt_id("hello") == prompt_id("hello") != prompt_id("hello ")


def test_jsonl_malformed_lines_are_reported_with_line_numbers(tmp_path):
    path = write(tmp_path / "p.jsonl", '{"prompt": "ok"}\n{not json\n["list"]\n{"prompt": ""}\n{"prompt": 3}\n{"prompt": "ok"}\n')
    found = problems(path)
    assert [p.line for p in found] == [2, 3, 4, 5, 6]
    assert "not valid JSON" in found[0].message and "empty" in found[2].message
    assert "duplicate id" in found[4].message and "line 1" in found[4].message
    assert len(items(path)) == 1


def test_csv_and_text(tmp_path):
    csv_path = write(tmp_path / "p.csv", 'id,prompt,lang\na,"hello, world",en\nb,"multi\nline",fr\n')
    rows = items(csv_path)
    assert [(r.id, r.prompt, r.meta) for r in rows] == [("a", "hello, world", {"lang": "en"}), ("b", "multi\nline", {"lang": "fr"})]
    txt = write(tmp_path / "p.txt", "first\n\n  \nsecond {{x}} </s>\n")
    assert [r.prompt for r in items(txt)] == ["first", "second {{x}} </s>"]


def test_csv_without_prompt_column_is_a_user_error(tmp_path):
    path = write(tmp_path / "p.csv", "question\nhi\n")
    with pytest.raises(UserError, match="no 'prompt' column"):
        list(read_prompts(path))


def test_non_utf8_line_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "p.txt"
    path.write_bytes(b"good\nbad \xff\xfe bytes\n")
    assert [r.prompt for r in items(path)] == ["good"]
    assert "UTF-8" in problems(path)[0].message


def test_missing_file():
    with pytest.raises(UserError, match="does not exist"):
        list(read_prompts("nope.jsonl"))
