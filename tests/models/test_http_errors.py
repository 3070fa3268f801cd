"""HTTP status → ModelError classification, shared by the API providers."""

from email.utils import formatdate

import pytest

from constitutional.models import http_errors
from constitutional.models.http_errors import redact, retry_after_seconds, status_error
from tests.clock import FakeClock


@pytest.mark.parametrize(
    ("status", "message", "retryable"),
    [
        (429, "Rate limit reached", True),
        (429, "You exceeded your current quota, please check your plan and billing details", False),
        (429, "enforced_spend_limit_reached", False),
        (408, "timeout", True),
        (409, "conflict", True),
        (500, "boom", True),
        (503, "busy", True),
        (529, "Overloaded", True),
        (400, "bad", False),
        (401, "no", False),
        (403, "no", False),
        (404, "no such model", False),
        (402, "payment required", False),
    ],
)
def test_statuses(status, message, retryable):
    error = status_error("p", status, message)
    assert error.retryable is retryable and error.status == status and message in str(error)


def test_retry_after_forms(monkeypatch):
    clock = FakeClock().install(monkeypatch, http_errors)
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"retry-after": formatdate(clock.time() + 60, usegmt=True)}) == 60.0
    assert retry_after_seconds({"retry-after": formatdate(clock.time() - 60, usegmt=True)}) == 0.0  # a date gone by
    assert retry_after_seconds({"retry-after": "soon"}) is None and retry_after_seconds({}) is None
    assert status_error("p", 400, "x", {"retry-after": "3"}).retry_after is None  # only for retryable errors


def test_keys_are_redacted():
    assert redact("Incorrect API key provided: sk-proj-abc***wxyz.", ()) == "Incorrect API key provided: [redacted]."
    assert redact("token my-secret-token here", ["my-secret-token"]) == "token [redacted] here"
    assert "sk-live-123456" not in str(status_error("p", 401, "bad key sk-live-123456", secrets=["sk-live-123456"]))


@pytest.mark.parametrize(
    ("status", "error", "message", "retryable"),
    [
        (529, None, "", True),
        (520, None, "", True),
        (502, None, "", True),
        (409, None, "", True),
        (429, "insufficient_quota", "quota", False),
        (400, None, "", False),
        (None, "overloaded_error", "", True),
        (None, "batch_expired", "", True),
        (None, "invalid_request_error", "", False),
    ],
)
def test_one_table_says_what_is_retryable_for_chat_and_batch_alike(status, error, message, retryable):
    from constitutional.models.http_errors import is_retryable

    assert is_retryable(status, error, message) is retryable
    if status is not None and error is None:
        assert status_error("p", status, message or "x").retryable is retryable  # what a chat call decides


@pytest.mark.parametrize("status", [520, 529, 501])
def test_an_openai_batch_request_failing_with_any_5xx_is_retried_as_a_chat_call_is(status, monkeypatch):
    from constitutional.calls.batch_openai import OpenAIBatches
    from constitutional.models import create_model

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    api = OpenAIBatches(create_model("openai/m", base_url="http://127.0.0.1:9/v1"))
    row = {"custom_id": "a", "response": {"status_code": status, "body": {"error": {"message": "down"}}}}
    failed = api._outcome(row)  # before, only 500, 502, 503 and 504 of the 5xx were retried in a batch
    assert failed.retryable and failed.status == status
    assert status_error("openai", status, "down").retryable


def test_a_refused_connection_names_the_url_and_asks_whether_a_server_runs_there():
    refused = "Cannot connect to host 127.0.0.1:9 ssl:default [Connect call failed ('127.0.0.1', 9)]"
    error = http_errors.connection_error("openai", refused, url="http://127.0.0.1:9/v1")
    assert str(error).startswith("openai: could not connect to http://127.0.0.1:9/v1: is a server running there?")
    assert str(error).endswith(f"({refused})") and error.retryable
    timeout = http_errors.connection_error("openai", "TimeoutError", url="http://127.0.0.1:9/v1")
    assert "is a server running" not in str(timeout)
