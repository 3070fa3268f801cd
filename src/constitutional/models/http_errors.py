"""HTTP failures of API providers → ModelError, classified once for every SDK.

Retryable: rate limits (429), timeouts (408), conflicts (409), server errors (5xx, 529 overloaded),
connection problems and empty replies. Not retryable: bad requests, auth, missing models, and 429s that
mean a spend cap or exhausted quota, since waiting will not lift those.
"""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from constitutional.models.base import ModelError
from constitutional.models.secrets import Redactor
from constitutional.text import blank

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

RETRYABLE_STATUSES = {408, 409, 429}  # and every 5xx
# Error types and codes that batch results and error bodies name instead of (or besides) a status: retryable ones.
RETRYABLE_ERRORS = {
    "overloaded_error",
    "api_error",
    "rate_limit_error",
    "timeout_error",  # Anthropic's types (529, 500, 429, 504)
    "batch_expired",
    "server_error",
    "rate_limit_exceeded",  # OpenAI's codes and types
}
DEFAULT_MAX_REPLY_BYTES = 4 * 1024 * 1024  # --max-reply-bytes: a chat reply of max_tokens is a few kB
SPEND_CAP = re.compile(r"quota|spend|billing|credit|budget|payment", re.IGNORECASE)
# Servers sometimes echo a (partly masked) key back in 401 messages.
KEY_LIKE = re.compile(r"\bsk-[\w*.\-]{5,}[\w*]")
MAX_MESSAGE = 500
REFUSED = re.compile(r"Cannot connect to host|Connect call failed|Connection refused|ConnectError", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without the given secrets (and their base64 forms), nor anything shaped like an OpenAI key."""
    return KEY_LIKE.sub("[redacted]", Redactor(secrets).text(text))


def status_error(
    provider: str, status: int, message: str, headers: Mapping[str, str] | None = None, secrets: Iterable[str | None] = ()
) -> ModelError:
    message = redact(message, secrets)[:MAX_MESSAGE]
    spend_cap = is_spend_cap(status, message)
    retryable = is_retryable(status, message=message)
    hint = _HINTS.get(status, "")
    if spend_cap:
        hint = " (a spend cap or quota: raise it or wait for it to reset; not retried)"
    return ModelError(
        f"{provider} returned HTTP {status}: {message}{hint}",
        retryable=retryable,
        status=status,
        retry_after=retry_after_seconds(headers or {}) if retryable else None,
    )


def is_spend_cap(status: int | None, message: str) -> bool:
    return status in (402, 429) and bool(SPEND_CAP.search(message))


def is_retryable(status: int | None, error: str | None = None, message: str = "") -> bool:
    """Whether a failure with this HTTP status, or error type/code, can succeed when tried again: the one table
    for chat calls and batch requests alike. A spend cap or exhausted quota is never retried."""
    if is_spend_cap(status, message) or error in ("insufficient_quota", "billing_error"):
        return False
    if status is not None and (status in RETRYABLE_STATUSES or status >= 500):
        return True
    return error in RETRYABLE_ERRORS


def from_sdk_exception(provider: str, exc: Exception, secrets: Iterable[str | None] = ()) -> ModelError:
    """An openai/anthropic SDK error (both shape them alike): a status error or a connection failure."""
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if isinstance(status, int):
        return status_error(provider, status, str(exc), getattr(response, "headers", None), secrets)
    return connection_error(provider, str(exc) or type(exc).__name__, secrets)


def connection_error(provider: str, message: str, secrets: Iterable[str | None] = (), url: str = "") -> ModelError:
    """A failure to reach the server; with its `url`, a refused connection names it and asks whether a server runs."""
    message = redact(message, secrets)[:MAX_MESSAGE]
    if url and REFUSED.search(message):
        return ModelError(f"{provider}: could not connect to {url}: is a server running there? ({message})", retryable=True)
    return ModelError(f"{provider}: could not get a reply: {message}", retryable=True)


def invalid_body(provider: str, exc: Exception) -> ModelError:
    """A reply body that is not JSON (cut off in transit, or a proxy's error page): worth another try."""
    return ModelError(f"{provider} sent a reply that is not valid JSON (cut off in transit?): {str(exc)[:200]}", retryable=True)


def reply_too_large(provider: str, limit: int) -> ModelError:
    """A reply body over --max-reply-bytes: a server that ignores max_tokens (or is hostile). Not retried: it would
    send as much again; reading it whole cost minutes and gigabytes."""
    return ModelError(
        f"{provider} sent a reply of more than {limit:,} bytes (--max-reply-bytes); the server may ignore max_tokens. "
        "Not retried; raise --max-reply-bytes if such replies are expected",
        retryable=False,
    )


def empty_reply(provider: str) -> ModelError:
    """A reply with no text, or only whitespace and invisible characters: a glitch (a dropped stream, an overloaded
    server), never an answer. Worth another try, and never cached."""
    return ModelError(f"{provider} sent an empty reply", retryable=True)


def is_empty(text: str | None, parsed: object = None) -> bool:
    """Whether a reply says nothing: no parsed data, and no text but whitespace and characters that show nothing
    (a reply of zero-width spaces was cached and stored as an answer, and the eval judged it)."""
    return parsed is None and blank(text)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` given as seconds or as an HTTP date."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lower:
            return max(0.0, float(lower["retry-after-ms"]) / 1000)
        if "retry-after" in lower:
            return max(0.0, float(lower["retry-after"]))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(lower["retry-after"]).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
    return None


_HINTS = {
    401: " (check the API key)",
    403: " (the key is not allowed to use this model or endpoint)",
    404: " (check the model name and the base URL)",
}
