"""Property-based fuzzing of every file reader: a generated file (a real one with a value swapped for a generated
one, a poison spliced in, cut short, or bytes) in place of records.jsonl, eval.jsonl, labels.jsonl, run.json,
report.json, a constitution (YAML, JSON, TOML) or a prompt file (JSONL, CSV, text). The commands that read it
(through typer's CliRunner) end with exit 0, 1 or 2 and never an escaped exception (exit 3, "a bug"); the readers
called directly return or raise UserError, never anything else.

The fast suite runs a few dozen examples; `pytest -m slow tests/reliability/test_fuzz_readers.py` runs the same
properties on many more (about two minutes). Both draw the same examples on every run (`derandomize`), so a suite
that passed once passes again and CI never fails on luck; to look for new crashes, run it with derandomize off (and
keep what it finds as a named test, as test_malformed_files.py does)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.constitution import load_constitution
from constitutional.errors import UserError
from constitutional.pipeline.prompt_sets import read_prompts
from tests.helpers import write
from tests.reliability.common import SCRIPTED, labelled_run

FAST = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
SLOW = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
RUN_FILES = ["records.jsonl", "eval.jsonl", "labels.jsonl", "run.json", "report.json"]
POISONS = [
    "[" * 5_000,  # past every recursion limit (the named tests use 100,000; PyYAML takes a second to refuse those)
    '{"a": ' * 2_000,
    "1" * 5_001,
    "-" + "9" * 4_400,
    "1e99999",
    "-1e-99999",
    "NaN",
    "-Infinity",
    '"\\ud800"',
    '"\\u0000"',
    "\x00",
    "\ufeff",
    "\u2028",
    "\r",
    "\n",
    '"',
    "\\",
    "null",
    "[]",
    "{}",
    "2001-13-45",
    "!!python/object:os.system",
    "*a",
    "&a [*a]",
    "{{ x }}",
    "ç\x85日本",
]
SENTINEL = "\x01FUZZ\x01"

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["genuine", "superficial", "error", "a", "b", "", "x" * 200]),
)
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4))


def paths(value, prefix=()):
    """Every place in a JSON value: () for the whole, then each key or index on the way down."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(copy[path[0]], path[1:], new)
    return copy


@st.composite
def mutated_json(draw, text: str, indent: int | None) -> str:
    """JSON `text` with one value (anywhere, the whole included) swapped for a generated value or a raw poison."""
    data = json.loads(text)
    where = draw(st.sampled_from(list(paths(data))))
    poison = draw(st.one_of(st.sampled_from(POISONS), values.map(json.dumps)))
    dumped = json.dumps(replaced(data, where, SENTINEL), indent=indent, ensure_ascii=False)
    return dumped.replace(json.dumps(SENTINEL, ensure_ascii=False), poison)


@st.composite
def mutated_text(draw, text: str, indent: int | None = None, jsonl: bool = False) -> bytes:
    """One mutation of `text`: a line's (or the file's) JSON value swapped, a poison spliced in, a span cut out, the
    file cut short or lines repeated; or bytes."""
    lines = text.splitlines(keepends=True) or [""]
    kind = draw(st.sampled_from(["value", "splice", "cut", "truncate", "repeat", "bytes"]))
    if kind == "value" and jsonl:
        index = draw(st.integers(0, len(lines) - 1))
        lines[index] = draw(mutated_json(lines[index], None)) + "\n"
        out = "".join(lines)
    elif kind == "value" and indent is not None:
        out = draw(mutated_json(text, indent))
    elif kind in ("splice", "value"):
        at = draw(st.integers(0, len(text)))
        out = text[:at] + draw(st.sampled_from(POISONS) | st.text(max_size=20)) + text[at:]
    elif kind == "cut":
        start = draw(st.integers(0, len(text)))
        out = text[:start] + text[start + draw(st.integers(0, 200)) :]
    elif kind == "truncate":
        out = text[: draw(st.integers(0, len(text)))]
    elif kind == "repeat":
        out = "".join(lines + draw(st.lists(st.sampled_from(lines), max_size=3)))
    else:
        return draw(st.binary(max_size=300))
    return out.encode("utf-8", "surrogatepass")


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def no_crash(result) -> None:
    """Exit 0, 1 or 2 through the CLI's own exit: no exception escaped (which the CLI turns into exit 3)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A run directory with every file: records, run.json, eval.jsonl, report.json, labels.jsonl."""
    return labelled_run(tmp_path_factory.mktemp("fuzz-base"), ("a", "genuine"), ("b", "evasive", "--note", "n"))


def run_commands(run: Path, scratch: Path, prompts: Path) -> list[list]:
    """Every command that reads a run directory's files."""
    return [
        ["eval", run, "--judge", "none", "--out", scratch / "eval"],
        ["report", run, "-f", "json"],
        ["report", run, "-f", "html"],
        ["report", run, "--records", "all"],
        ["export", run, "-f", "sft", "-o", scratch / "sft.jsonl"],
        ["export", run, "-f", "dpo", "--include-unreviewed", "-o", scratch / "dpo.jsonl"],
        ["review", run, "--set", "a", "superficial"],
        ["run", prompts, "-m", SCRIPTED, "-o", run, "--judge", "none", "--no-eval", "-q"],
    ]


def run_file_property(base_run: Path, name: str, data: bytes, command: int | None) -> None:
    """`name` of a copy of `base_run` replaced by `data`; the command numbered `command` (None: every command that reads
    a run's files) survives it."""
    with tempfile.TemporaryDirectory(dir=base_run.parent) as folder:
        scratch = Path(folder)
        shutil.copytree(base_run, scratch / "run")
        (scratch / "run" / name).write_bytes(data)
        commands = run_commands(scratch / "run", scratch, base_run.parent / "p.jsonl")
        for args in commands if command is None else [commands[command]]:
            no_crash(cai(*args))


def run_file_cases(base_run: Path):
    """(file name, its fuzzed bytes) for the files of `base_run`."""
    cases = []
    for name in RUN_FILES:
        text = (base_run / name).read_text("utf-8")
        fuzzed = mutated_text(text, None if name.endswith(".jsonl") else 2, jsonl=name.endswith(".jsonl"))
        cases.append(st.tuples(st.just(name), fuzzed))
    return st.one_of(cases)


def test_fuzzed_run_files_never_crash_a_command(base_run):
    """Fast: each example runs one of the commands."""

    @settings(FAST, max_examples=20)
    @given(run_file_cases(base_run), st.integers(0, 7))
    def check(case, command):
        run_file_property(base_run, *case, command)

    check()


@pytest.mark.slow
def test_fuzzed_run_files_never_crash_a_command_long(base_run):
    """Slow: each example runs every command."""

    @settings(SLOW, max_examples=220)
    @given(run_file_cases(base_run))
    def check(case):
        run_file_property(base_run, *case, None)

    check()


CONSTITUTION = {
    "name": "fuzz",
    "version": "1",
    "principles": [
        {
            "id": "harm",
            "name": "No harm",
            "critique_request": "Quote any part that helps hurt people.",
            "revision_request": "Remove it and help safely.",
            "rules": [{"must_not_match": "(?i)step \\d"}, {"max_chars": 4000}, {"require_any": ["safe"]}],
            "examples": [{"prompt": "p", "response": "r", "critique": "c"}],
        }
    ],
    "defaults": {"rounds": 1, "principles": "all"},
}
TOML = """name = "fuzz"
version = "1"

[defaults]
rounds = 1

[[principles]]
id = "harm"
name = "No harm"
critique_request = "Quote any part that helps hurt people."
revision_request = "Remove it and help safely."
rules = [{ must_not_match = "(?i)step \\\\d" }, { max_chars = 4000 }]
"""
CONSTITUTION_CASES = st.one_of(
    st.tuples(st.just(".json"), mutated_text(json.dumps(CONSTITUTION, indent=2), indent=2)),
    st.tuples(st.just(".yaml"), mutated_text(yaml.safe_dump(CONSTITUTION, sort_keys=False))),
    st.tuples(
        st.just(".yaml"), mutated_json(json.dumps(CONSTITUTION), None).map(lambda t: t.encode("utf-8", "surrogatepass"))
    ),  # JSON is YAML: a value swapped anywhere in the structure
    st.tuples(st.just(".toml"), mutated_text(TOML)),
)
PROMPTS = {
    ".jsonl": '{"id": "a", "prompt": "hello", "meta": {"k": [1, 2]}}\n{"prompt": "how to bake bread"}\n',
    ".csv": 'id,prompt,note\na,hello,x\nb,"how to, ""bake"" bread",y\n',
    ".txt": "hello\nhow to bake bread\n",
}
PROMPT_CASES = st.one_of(
    [st.tuples(st.just(suffix), mutated_text(text, jsonl=suffix == ".jsonl")) for suffix, text in PROMPTS.items()]
)


def in_file(folder: str, suffix: str, data: bytes) -> Path:
    path = Path(folder) / f"fuzzed{suffix}"
    path.write_bytes(data)
    return path


def constitution_property(case: tuple[str, bytes], command: int | None) -> None:
    """The fuzzed constitution is loaded or refused with UserError; the command numbered `command` (None: each) that
    reads a constitution survives it."""
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        path = in_file(folder, *case)
        try:
            load_constitution(str(path))
        except UserError as exc:
            assert str(path) in exc.render()
        revisions = write(scratch / "r.jsonl", '{"prompt": "p", "draft": "step 1", "revision": "' + "a" * 30 + '!"}\n')
        commands = [
            ["constitution", "validate", path],
            ["constitution", "lint", path],
            ["eval", revisions, "-c", path, "--judge", "none", "--out", scratch / "eval"],
        ]
        for args in commands if command is None else [commands[command]]:
            no_crash(cai(*args))


def prompts_property(case: tuple[str, bytes], command: int | None) -> None:
    """The fuzzed prompt file is read or refused with UserError, and `cai run` (and, for JSONL, `cai eval` of it as
    revisions) survives it."""
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        path = in_file(folder, *case)
        try:
            list(read_prompts(path))
        except UserError:
            pass
        commands = [["run", path, "-m", SCRIPTED, "-o", scratch / "run", "--judge", "none", "--no-eval", "-q"]]
        if case[0] == ".jsonl":
            commands.append(["eval", path, "--judge", "none", "--out", scratch / "eval"])
        for args in commands if command is None else commands[command % len(commands) :][:1]:
            no_crash(cai(*args))


@settings(FAST, max_examples=15)
@given(CONSTITUTION_CASES, st.integers(0, 2))
def test_fuzzed_constitutions_are_read_or_refused_with_user_error(case, command):
    constitution_property(case, command)


@settings(FAST, max_examples=15)
@given(PROMPT_CASES, st.integers(0, 1))
def test_fuzzed_prompt_files_are_read_or_refused_with_user_error(case, command):
    prompts_property(case, command)


@pytest.mark.slow
@settings(SLOW, max_examples=300)
@given(CONSTITUTION_CASES)
def test_fuzzed_constitutions_are_read_or_refused_with_user_error_long(case):
    constitution_property(case, None)


@pytest.mark.slow
@settings(SLOW, max_examples=300)
@given(PROMPT_CASES)
def test_fuzzed_prompt_files_are_read_or_refused_with_user_error_long(case):
    prompts_property(case, None)
