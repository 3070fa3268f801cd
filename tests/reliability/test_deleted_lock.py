"""Deleting DIR/run.lock while a run holds it lets no second writer in: the lock is held on the directory itself,
so a second `cai run` on the same --out is refused with exit 2 and a clear message, and the first run's records
are all there, each once."""

from constitutional.pipeline.lock import LOCK_NAME
from tests.pipeline.test_resume import ids
from tests.pipeline.test_run_lock import second_run_while_the_first_is_stopped


def test_deleting_run_lock_mid_run_still_refuses_a_second_writer(tmp_path):
    _, second, out = second_run_while_the_first_is_stopped(tmp_path, meddle=lambda out: (out / LOCK_NAME).unlink())
    assert second.returncode == 2, second.stderr
    assert "being written by another `cai run`" in second.stderr and f"{LOCK_NAME} was deleted" in second.stderr
    assert "Traceback" not in second.stderr
    written = ids(out)
    assert len(written) == len(set(written)) == 40  # nothing lost, nothing twice
