"""Model specs that read files of their choosing: from run.json they are never used unless the command line names them
(a `scripted:PATH` judge would answer with canned verdicts and append its call log where its file says; a
`local:PATH` judge would load any file through llama.cpp); and a `local:PATH` that is not a GGUF model file is one
clear error (exit 2) before any work, as judge, model or scorer."""

from __future__ import annotations

import json

import pytest

from tests.helpers import DATA, write
from tests.reliability.common import cai


def planted_run(tmp_path, judge: str, name: str = "run"):
    out = tmp_path / name
    out.mkdir()
    write(out / "records.jsonl", json.dumps({"id": "a", "prompt": "q", "draft": "d", "final": "f"}) + "\n")
    write(out / "run.json", json.dumps({"schema_version": 1, "model": "local", "judge": judge}))
    return out


def test_eval_refuses_a_scripted_judge_named_by_run_json(tmp_path):
    log = tmp_path / "elsewhere" / "appended.log"
    log.parent.mkdir()
    replies = write(tmp_path / "replies.yaml", (DATA / "scripted_basic.yaml").read_text() + f"\ncall_log: {log}\n")
    out = planted_run(tmp_path, f"scripted:{replies}")
    result = cai(tmp_path, "eval", out, "--scorer", "none", "-q", timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"--judge scripted:{replies}" in result.stderr and "command line" in result.stderr and "Traceback" not in result.stderr
    assert not log.exists() and not (out / "eval.jsonl").exists()
    named = cai(tmp_path, "eval", out, "--scorer", "none", "-q", "--judge", f"scripted:{replies}", timeout=120)
    assert named.returncode in (0, 1), named.stderr  # named on the command line: trusted
    assert log.exists()


def test_eval_refuses_a_local_gguf_judge_named_by_run_json_but_takes_the_bundled_one(tmp_path):
    model = write(tmp_path / "model.gguf", "GGUF and then anything")
    out = planted_run(tmp_path, f"local:{model}")
    result = cai(tmp_path, "eval", out, "--scorer", "none", "-q", timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"--judge local:{model}" in result.stderr and "llama.cpp" in result.stderr and "Traceback" not in result.stderr
    assert not (out / "eval.jsonl").exists()
    bundled = planted_run(tmp_path, "local", "bundled")  # the bundled model is ours: allowed (and left out as a judge)
    assert cai(tmp_path, "eval", bundled, "--scorer", "none", "-q", timeout=120).returncode in (0, 1)


def test_specs_a_file_may_not_name():
    from constitutional.models.registry import command_line_only  # noqa: PLC0415 - new in this change

    assert command_line_only("langchain:m:attr") and command_line_only("scripted:x.yaml") and command_line_only("local:x.gguf")
    assert not command_line_only("local") and not command_line_only("openai/gpt-4o-mini") and not command_line_only("nonsense")


@pytest.mark.parametrize(
    "options",
    [("--judge", "local:{bad}", "--scorer", "none"), ("--judge", "none", "--scorer", "local:{bad}")],
    ids=["judge", "scorer"],
)
def test_eval_with_a_local_file_that_is_not_gguf_is_one_clear_error(tmp_path, options):
    bad = write(tmp_path / "passwd", "root:x:0:0:root:/root:/bin/bash\n")
    revisions = write(tmp_path / "r.jsonl", json.dumps({"id": "a", "prompt": "q", "draft": "d", "revision": "r"}) + "\n")
    result = cai(tmp_path, "eval", revisions, "-q", *(o.format(bad=bad) for o in options), timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"{bad} is not a GGUF model file" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr
    assert not (tmp_path / "r-eval").exists() or not any((tmp_path / "r-eval").iterdir())


def test_run_with_a_judge_that_is_not_gguf_is_refused_before_the_run(tmp_path):
    bad = write(tmp_path / "passwd", "root:x:0:0:root:/root:/bin/bash\n")
    prompts = write(tmp_path / "p.txt", "q\n")
    spec = f"scripted:{DATA / 'scripted_basic.yaml'}"
    result = cai(tmp_path, "run", prompts, "-m", spec, "--judge", f"local:{bad}", "--scorer", "none", "-o", "out", "-q")
    assert result.returncode == 2 and f"{bad} is not a GGUF model file" in result.stderr, result.stderr
    assert not (tmp_path / "out" / "records.jsonl").exists()


@pytest.mark.parametrize("role", ["--judge", "--scorer"])
def test_a_gguf_file_llama_cpp_cannot_load_is_a_clear_error_not_a_bug(tmp_path, role):
    cut_short = write(tmp_path / "cut.gguf", "GGUF and then nothing a model needs")
    revisions = write(tmp_path / "r.jsonl", json.dumps({"id": "a", "prompt": "q", "draft": "d", "revision": "r"}) + "\n")
    other = "--scorer" if role == "--judge" else "--judge"
    result = cai(tmp_path, "eval", revisions, "-q", role, f"local:{cut_short}", other, "none", timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"llama.cpp cannot load {cut_short}" in result.stderr and "Traceback" not in result.stderr
