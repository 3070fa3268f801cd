"""A resumed job's run time: seconds spent running, summed over invocations, never the idle time between them."""

from constitutional.pipeline.runner import RunClock


def test_a_new_job_starts_its_clock_at_zero():
    clock = RunClock.resuming(None)
    assert clock.started and clock.earlier_seconds == 0 and clock.seconds() < 5


def test_a_resumed_job_adds_to_the_seconds_already_run_and_keeps_its_first_start():
    clock = RunClock.resuming(
        {"started": "2024-01-01T10:00:00+00:00", "finished": "2024-01-03T10:00:00+00:00", "run_seconds": 42.5}
    )
    assert clock.started == "2024-01-01T10:00:00+00:00" and clock.earlier_seconds == 42.5
    assert 42.5 <= clock.seconds() < 47.5


def test_a_run_json_from_before_run_seconds_counts_its_start_to_finish():
    clock = RunClock.resuming({"started": "2024-01-01T10:00:00+00:00", "finished": "2024-01-01T10:00:30+00:00"})
    assert clock.earlier_seconds == 30
    crashed = RunClock.resuming({"started": "2024-01-01T10:00:00+00:00", "finished": None})
    assert crashed.earlier_seconds == 0  # killed before it wrote its finish: its time is unknown
