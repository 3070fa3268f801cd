"""The steps in flight that the progress bar shows before any record has finished."""

import threading

from constitutional import activity
from constitutional.models import local


def test_steps_in_flight_are_counted_in_the_order_first_seen():
    assert activity.now() == ""
    with activity.step("drafting"), activity.step("drafting"), activity.step("critiquing"):
        assert activity.now() == "drafting 2 · critiquing 1"
        with activity.step("loading the local model (m.gguf)"):
            assert activity.now().endswith("· loading the local model (m.gguf)")
    assert activity.now() == ""


def test_loading_the_local_model_is_a_step_while_it_loads(monkeypatch):
    seen, release = [], threading.Event()

    def slow_llama(path, n_ctx):
        seen.append(activity.now())
        release.wait(5)
        return object()

    monkeypatch.setattr(local, "_new_llama", slow_llama)
    monkeypatch.setattr(local, "_loaded", {})
    loader = threading.Thread(target=local._load, args=(local.bundled_model_path(), 512))
    loader.start()
    release.set()
    loader.join()
    assert seen == ["loading the local model (" + local.bundled_model_path().name + ")"] and activity.now() == ""
