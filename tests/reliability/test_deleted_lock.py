"""Deleting DIR/run.lock while a run holds it lets no second writer in: the lock is held on the directory itself,
so a second `cai run` on the same --out is refused with exit 2 and a clear message, and the first run's records
are all there, each once."""

import signal
import subprocess

from constitutional.pipeline.lock import LOCK_NAME
from tests.pipeline.test_resume import ids, prompts, scripted
from tests.pipeline.test_run_lock import own_cache, run_command, wait_for_records


def test_deleting_run_lock_mid_run_still_refuses_a_second_writer(tmp_path):
    spec, _ = scripted(tmp_path, delay=0.01)
    path, out = prompts(tmp_path, 40), tmp_path / "run"
    command = run_command(path, spec, out, "--concurrency", "2")
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for_records(out, 1), "the first run wrote no record"
        first.send_signal(signal.SIGSTOP)  # mid-job, holding the lock
        (out / LOCK_NAME).unlink()
        second = subprocess.run(command, capture_output=True, text=True, timeout=300, env=own_cache(tmp_path))
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert second.returncode == 2, second.stderr
    assert "being written by another `cai run`" in second.stderr and f"{LOCK_NAME} was deleted" in second.stderr
    assert "Traceback" not in second.stderr
    written = ids(out)
    assert len(written) == len(set(written)) == 40  # nothing lost, nothing twice
