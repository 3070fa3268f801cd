"""HTTP status → ModelError classification, shared by the API providers."""

from email.utils import formatdate
import time

import pytest

from constitutional.models.http_errors import redact, retry_after_seconds, status_error


@pytest.mark.parametrize(("status", "message", "retryable"), [
    (429, "Rate limit reached", True),
    (429, "You exceeded your current quota, please check your plan and billing details", False),
    (429, "enforced_spend_limit_reached", False),
    (408, "timeout", True), (409, "conflict", True), (500, "boom", True), (503, "busy", True), (529, "Overloaded", True),
    (400, "bad", False), (401, "no", False), (403, "no", False), (404, "no such model", False), (402, "payment required", False),
])
def test_statuses(status, message, retryable):
    error = status_error("p", status, message)
    assert error.retryable is retryable and error.status == status and message in str(error)


def test_retry_after_forms():
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert 50 < retry_after_seconds({"retry-after": formatdate(time.time() + 60, usegmt=True)}) <= 60
    assert retry_after_seconds({"retry-after": "soon"}) is None and retry_after_seconds({}) is None
    assert status_error("p", 400, "x", {"retry-after": "3"}).retry_after is None  # only for retryable errors


def test_keys_are_redacted():
    assert redact("Incorrect API key provided: sk-proj-abc***wxyz.", ()) == "Incorrect API key provided: [redacted]."
    assert redact("token my-secret-token here", ["my-secret-token"]) == "token [redacted] here"
    assert "sk-live-123456" not in str(status_error("p", 401, "bad key sk-live-123456", secrets=["sk-live-123456"]))
