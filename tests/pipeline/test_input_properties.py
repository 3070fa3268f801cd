"""Property tests: no input file, however broken, gets past the readers as anything but data or a UserError."""

import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constitutional.constitution import load_constitution
from constitutional.constitution.model import CONTROL
from constitutional.errors import UserError
from constitutional.pipeline.prompt_sets import InputProblem, PromptItem, read_prompts
from constitutional.text import blank

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SUFFIXES = st.sampled_from([".yaml", ".json", ".toml"])
NASTY = st.sampled_from(
    [
        "{",
        "}}",
        "{{ x }}",
        "</s>",
        "<|im_start|>",
        "$prompt",
        "\x00",
        "\ufeff",
        ":",
        "- ",
        '"',
        "'''",
        "\n",
        "#",
        "[[principles]]",
    ]
)


def text_with_nasties():
    return st.lists(st.one_of(st.text(max_size=20), NASTY), max_size=12).map("".join)


def in_file(suffix: str, data: bytes) -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)
    handle.write(data)
    handle.close()
    return Path(handle.name)


@SETTINGS
@given(SUFFIXES, st.one_of(st.binary(max_size=300), text_with_nasties().map(str.encode)))
def test_constitution_loader_never_crashes(suffix, data):
    path = in_file(suffix, data)
    try:
        load_constitution(str(path))
    except UserError as exc:
        assert str(path) in exc.render() or "builtin" in exc.render()
    finally:
        path.unlink()


YAML_LINE_BREAKS = ("\x85", "\u2028", "\u2029")  # PyYAML folds these into plain line breaks when loading
clean_text = text_with_nasties().filter(lambda s: s.strip() and not any(c in s for c in YAML_LINE_BREAKS))

principle = st.fixed_dictionaries(
    {
        "id": st.from_regex(r"[a-z0-9][a-z0-9_-]{0,12}", fullmatch=True),
        "name": clean_text,
        "critique_request": clean_text,
        "revision_request": clean_text,
    }
)


@SETTINGS
@given(st.lists(principle, min_size=1, max_size=4, unique_by=lambda p: p["id"]), st.sampled_from(["yaml", "json"]))
def test_valid_constitutions_round_trip(principles, kind):
    data = {"name": "c", "version": "1", "principles": principles}
    text = yaml.safe_dump(data, allow_unicode=True) if kind == "yaml" else json.dumps(data)
    path = in_file(f".{kind}", text.encode("utf-8", "surrogatepass"))
    try:
        loaded = load_constitution(str(path)).constitution
        assert [p.id for p in loaded.principles] == [p["id"] for p in principles]
        assert [p.critique_request for p in loaded.principles] == [p["critique_request"] for p in principles]
    except UserError as exc:  # only text YAML cannot hold (e.g. lone surrogates, NUL) may be refused, and names that
        # hold control characters (issue 28: terminals act on them)
        controls = any(CONTROL.search(p["name"]) for p in principles) and "control character" in exc.render()
        assert "\x00" in text or "not UTF-8" in exc.render() or "invalid YAML" in exc.render() or controls
    finally:
        path.unlink()


@SETTINGS
@given(
    st.sampled_from([".jsonl", ".csv", ".txt"]),
    st.one_of(st.binary(max_size=400), st.lists(text_with_nasties(), max_size=8).map("\n".join).map(str.encode)),
)
def test_prompt_readers_never_crash(suffix, data):
    path = in_file(suffix, data)
    try:
        rows = list(read_prompts(path))
    except UserError:
        return  # e.g. a CSV without a prompt column
    finally:
        path.unlink()
    items = [r for r in rows if isinstance(r, PromptItem)]
    assert all(isinstance(r, (PromptItem, InputProblem)) for r in rows)
    assert len({i.id for i in items}) == len(items)
    assert all(i.prompt.strip() for i in items)


@SETTINGS
@given(st.lists(text_with_nasties().filter(lambda s: not blank(s)), min_size=1, max_size=6))
def test_jsonl_prompts_survive_exactly(prompts):  # a prompt of only NULs, spaces and zero-width characters is empty
    lines = "".join(json.dumps({"prompt": p}) + "\n" for p in prompts)
    path = in_file(".jsonl", lines.encode("utf-8", "surrogatepass"))
    try:
        items = [r for r in read_prompts(path) if isinstance(r, PromptItem)]
    finally:
        path.unlink()
    unique = list(dict.fromkeys(p for p in prompts))
    clean = [p for p in unique if not any("\ud800" <= ch <= "\udfff" for ch in p)]
    assert [i.prompt for i in items] == clean
