"""Which failures stop a job early: the first records all failing alike, in a way every prompt would."""

import pytest

from constitutional.pipeline.runner import EARLY_STOP_AFTER, EarlyStop, JobStopped
from constitutional.record import Record, RecordError, error_kind

REFUSED = (
    "openai: could not get a reply: Cannot connect to host 127.0.0.1:{port} ssl:default "
    "[Connect call failed ('127.0.0.1', {port})]"
)
BAD_KEY = "openai returned HTTP 401: Incorrect API key provided: [redacted] (check the API key)"


def failed(message: str, *, stage: str = "draft", retryable: bool = False, raw: str | None = None) -> Record:
    return Record(id="x", prompt="p", error=RecordError(stage=stage, message=message, retryable=retryable, raw=raw))


def feed(records: list[Record]) -> None:
    watch = EarlyStop(EARLY_STOP_AFTER)
    for record in records:
        watch.check(record)


def test_refused_connections_stop_the_job_though_they_are_retryable():
    with pytest.raises(JobStopped) as stopped:
        feed([failed(REFUSED.format(port=9), retryable=True)] * EARLY_STOP_AFTER)
    assert stopped.value.records == EARLY_STOP_AFTER and "Cannot connect to host 127.0.0.1:9" in str(stopped.value)


def test_a_bad_key_stops_the_job_at_the_last_record_of_the_window_and_not_before():
    records = [failed(BAD_KEY)] * EARLY_STOP_AFTER
    feed(records[:-1])
    with pytest.raises(JobStopped):
        feed(records)


@pytest.mark.parametrize(
    "odd_one",
    [
        Record(id="ok", prompt="p"),  # one success shows the job can work
        failed("openai returned HTTP 404: The model `x` does not exist (check the model name and the base URL)"),
        failed("openai returned HTTP 503: The server is overloaded", retryable=True),  # transient: retried, not fatal
        failed("reply did not match the schema after one re-ask: reply: Invalid JSON", stage="critique", raw="not json"),
    ],
)
def test_one_record_that_fails_otherwise_or_succeeds_lets_the_job_go_on(odd_one):
    feed([failed(BAD_KEY)] * 3 + [odd_one] + [failed(BAD_KEY)] * (EARLY_STOP_AFTER - 4) + [failed(BAD_KEY)] * 20)


def test_replies_that_do_not_parse_never_stop_a_job():
    """A weak model failing every critique still answers: that is data, not a dead server."""
    feed(
        [failed("reply did not match the schema after one re-ask: needs_revision: Field required", stage="critique", raw="{}")]
        * 50
    )


def test_a_window_of_zero_never_stops():
    watch = EarlyStop(0)
    for _ in range(50):
        watch.check(failed(BAD_KEY))


def test_error_kinds_mask_ports_and_ids_but_keep_the_stage_and_http_status():
    def kind(message, stage="draft"):
        return error_kind(RecordError(stage=stage, message=message))

    assert kind(REFUSED.format(port=9)) == kind(REFUSED.format(port=8080))
    assert kind("HTTP 500: failed, request ID req_8f3a1") == kind("HTTP 500: failed, request ID req_77bb0")
    assert kind(BAD_KEY) != kind(BAD_KEY.replace("401", "403"))
    assert kind(BAD_KEY) != kind(BAD_KEY, stage="critique")
