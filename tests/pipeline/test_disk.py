"""A full disk, a read-only output directory, an unwritable cache: a clear error, nothing lost."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import DATA, write


def prompts(tmp_path, n):
    return write(
        tmp_path / "p.jsonl", "".join(json.dumps({"id": f"p{i}", "prompt": f"q {i} " + "x" * 400}) + "\n" for i in range(n))
    )


def cai(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "constitutional", *map(str, args), "--no-eval", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


SCRIPTED = f"scripted:{DATA / 'scripted_basic.yaml'}"


def test_out_under_a_file_is_a_clear_error(tmp_path):
    blocker = write(tmp_path / "file", "x")
    result = cai("run", prompts(tmp_path, 1), "-m", SCRIPTED, "-o", blocker / "run")
    assert result.returncode == 2 and "cannot create the output directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_cache_says_how_to_fix_it(tmp_path):
    env = dict(os.environ, CONSTITUTIONAL_CACHE_DIR=str(write(tmp_path / "not-a-dir", "x")))
    result = cai("run", prompts(tmp_path, 1), "-m", SCRIPTED, "-o", tmp_path / "run", env=env)
    assert result.returncode == 2 and "--no-cache" in result.stderr and "Traceback" not in result.stderr
    assert cai("run", prompts(tmp_path, 1), "-m", SCRIPTED, "-o", tmp_path / "run", "--no-cache", env=env).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 48 KiB tmpfs (needs root and mount); unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mount)], capture_output=True).returncode != 0
    ):
        pytest.skip("needs root and mount for a small tmpfs")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_fills_mid_run_then_resume_finishes_with_nothing_lost(tmp_path, small_disk):
    path, out = prompts(tmp_path, 60), small_disk / "run"
    first = cai("run", path, "-m", SCRIPTED, "-o", out)
    assert first.returncode == 2 and "No space left on device" in first.stderr and "Traceback" not in first.stderr
    kept = (out / "records.jsonl").read_bytes().split(b"\n")
    whole = [json.loads(line) for line in kept[:-1]]  # every complete line is a valid record
    assert 0 < len(whole) < 60
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_disk)], check=True)
    assert cai("run", path, "-m", SCRIPTED, "-o", out).returncode == 0
    ids = [json.loads(line)["id"] for line in (out / "records.jsonl").read_text().splitlines()]
    assert sorted(ids) == sorted(f"p{i}" for i in range(60))
    assert [r["id"] for r in whole] == ids[: len(whole)]


def test_read_only_output_directory(tmp_path, small_disk):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = cai("run", prompts(tmp_path, 2), "-m", SCRIPTED, "-o", small_disk / "run")
    assert result.returncode == 2 and "Read-only file system" in result.stderr and "Traceback" not in result.stderr
