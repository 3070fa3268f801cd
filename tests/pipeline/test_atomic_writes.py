"""Every file is written through one helper (rundir.atomic_file): a fresh mkstemp file in the same directory, then
renamed over the target. A file or symlink planted at a predictable temporary name is never followed."""

import os
import stat

import pytest
from typer.testing import CliRunner

from constitutional.cli.app import app
from constitutional.rundir import atomic_file, write_atomic
from tests.helpers import write
from tests.pipeline.test_resume import scripted

OLD_TEMP_NAMES = ["run.json.tmp", "records.jsonl.tmp", "eval.jsonl.tmp", "report.json.tmp", "report.html.tmp", "sft.jsonl.tmp"]


def cai(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_symlinks_planted_at_the_old_temporary_names_are_not_followed(tmp_path):
    spec, _ = scripted(tmp_path)
    path, out = write(tmp_path / "p.txt", "question 1\nquestion 2\nMODEL-DOWN question\n"), tmp_path / "run"
    out.mkdir()
    victims = tmp_path / "victims"
    victims.mkdir()
    for name in OLD_TEMP_NAMES:
        (victims / name).write_text("keep me")
        (out / name).symlink_to(victims / name)
        (out / f"dangling-{name}").symlink_to(victims / f"missing-{name}")
    run = ("run", path, "-m", spec, "-o", out, "--judge", "none", "--max-retries", "0", "-q")
    assert cai(*run).exit_code == 1  # one record failed (MODEL-DOWN)
    redone = cai(*run, "--retry-errors", "--no-eval")  # records.jsonl is rewritten without it, then it runs again
    assert "redoing 1 prompts" in redone.output
    assert cai("export", out, "--format", "sft", "--only", "genuine,non_compliant,superficial,unchanged").exit_code == 0
    assert cai("report", out, "--format", "html").exit_code == 0
    for name in OLD_TEMP_NAMES:
        assert (victims / name).read_text() == "keep me"
        assert not (victims / f"missing-{name}").exists()
    for name in ("run.json", "records.jsonl", "eval.jsonl", "report.json", "report.html", "sft.jsonl"):
        assert (out / name).is_file() and not (out / name).is_symlink()
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]  # nothing left behind


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")

    def pieces():
        yield "half of the new"
        raise RuntimeError("the writer failed")

    with pytest.raises(RuntimeError):
        write_atomic(target, pieces())
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["report.json"]


def test_the_file_gets_the_mode_a_plain_open_would_give(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    with atomic_file(tmp_path / "run.json") as fh:
        fh.write("{}\n")
    assert stat.S_IMODE((tmp_path / "run.json").stat().st_mode) == 0o666 & ~mask


def test_constitution_new_refuses_a_dangling_symlink_instead_of_writing_through_it(tmp_path):
    victim = tmp_path / "elsewhere.yaml"
    (tmp_path / "policy.yaml").symlink_to(victim)
    result = cai("constitution", "new", tmp_path / "policy.yaml")
    assert result.exit_code == 2 and "symbolic link" in result.output, result.output  # never replaced (issue 28)
    assert not victim.exists() and (tmp_path / "policy.yaml").is_symlink()
