import functools
import json

import pytest

from constitutional.errors import UserError
from constitutional.pipeline.prompt_sets import (
    DEFAULT_MAX_PROMPT_CHARS,
    InputProblem,
    PromptItem,
    prompt_id,
    read_prompts,
)
from tests.helpers import write


def items(path):
    return [r for r in read_prompts(path) if isinstance(r, PromptItem)]


def problems(path):
    return [r for r in read_prompts(path) if isinstance(r, InputProblem)]


def test_jsonl_keeps_ids_and_meta_and_hashes_missing_ids(tmp_path):
    path = write(
        tmp_path / "p.jsonl", '{"id": "x", "prompt": "one", "topic": "t"}\n\n{"prompt": "two"}\n{"id": 7, "prompt": "three"}\n'
    )
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
    assert [(r.id, r.prompt, r.meta) for r in rows] == [
        ("a", "hello, world", {"lang": "en"}),
        ("b", "multi\nline", {"lang": "fr"}),
    ]
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


def test_a_utf8_byte_order_mark_keeps_the_first_prompt(tmp_path):
    for name, text in (
        ("p.jsonl", '{"prompt": "first"}\n{"prompt": "second"}\n'),
        ("p.txt", "first\nsecond\n"),
        ("p.csv", "prompt\nfirst\nsecond\n"),
    ):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        assert [r.prompt for r in items(path)] == ["first", "second"] and problems(path) == []


@pytest.mark.parametrize("encoding, sign", [("utf-16", "byte-order mark"), ("utf-16-le", "NUL bytes")])
def test_a_utf16_file_is_refused_with_how_to_convert_it(tmp_path, encoding, sign):
    path = tmp_path / "p.txt"
    path.write_bytes("first prompt\nsecond prompt\n".encode(encoding))
    with pytest.raises(UserError) as caught:
        list(read_prompts(path))
    message = caught.value.render()
    assert "UTF-16" in message and sign in message and f"iconv -f UTF-16 -t UTF-8 {path} > " in message


def test_a_nul_in_a_text_prompt_is_a_problem_on_its_line(tmp_path):
    path = tmp_path / "p.txt"
    path.write_bytes(b"first\nsecond\x00 with a NUL\nthird\n")
    assert [r.prompt for r in items(path)] == ["first", "third"]
    (problem,) = problems(path)
    assert problem.line == 2 and "NUL" in problem.message


def test_deeply_nested_json_is_a_problem_on_its_line_not_a_recursion_error(tmp_path):
    deep = '{"prompt": "deep", "meta": ' + "[" * 5000 + "]" * 5000 + "}"
    nested_60 = json.dumps({"prompt": "nested", "meta": functools.reduce(lambda v, _: [v], range(60), [])})
    path = write(tmp_path / "p.jsonl", '{"prompt": "first"}\n' + deep + "\n" + nested_60 + '\n{"prompt": "last"}\n')
    assert [r.prompt for r in items(path)] == ["first", "last"]
    assert [(p.line, p.message) for p in problems(path)] == [
        (2, "JSON nested deeper than 50 levels at column 77"),  # the bracket that goes one level too deep
        (3, "JSON nested deeper than 50 levels at column 79"),
    ]


def test_prompts_over_the_size_limit_are_problems_on_their_lines(tmp_path):
    path = write(tmp_path / "p.txt", "short\n" + "x" * (DEFAULT_MAX_PROMPT_CHARS + 1) + "\n" + "y" * 40 + "\n")
    assert [len(r.prompt) for r in items(path)] == [5, 40]
    (problem,) = problems(path)
    assert problem.line == 2 and f"{DEFAULT_MAX_PROMPT_CHARS + 1:,} characters" in problem.message
    rows = list(read_prompts(path, max_chars=20))
    assert [r.prompt for r in rows if isinstance(r, PromptItem)] == ["short"]
    assert [r.line for r in rows if isinstance(r, InputProblem)] == [2, 3]
