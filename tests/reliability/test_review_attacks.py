"""The review app (`cai review DIR`, a real process, over real HTTP) against a token holder: a request from another
origin is refused (403) even with the token, a body over the limit is 413, and every malformed body (60 KB of `[`,
deep braces, bytes that are not UTF-8, a 5,001-digit number, a lone surrogate, a body shorter than its
Content-Length) is a clean 400 with a JSON error: the app never prints a traceback and keeps serving."""

import http.client
import json
import signal
import subprocess
from urllib.parse import urlsplit

import pytest

from constitutional.evals.labels import read_labels
from constitutional.reports.review_app import MAX_BODY
from tests.reliability.common import cai_command, environment, labelled_run

MALFORMED = {
    "60 KB of [": b"[" * 60_000,
    "deep braces": b'{"a":' * 10_000,
    "not UTF-8": b'{"id": "a", "verdict": "genuine", "note": "\xff\xfe"}',
    "a 5,001-digit number": b"1" * 5001,
    "a lone surrogate": b'{"id": "a", "verdict": "genuine", "note": "\\ud800"}',
    "not an object": b'["a", "genuine"]',
    "an unknown verdict": b'{"id": "a", "verdict": {"x": 1}}',
    "empty": b"",
}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """`cai review RUN --no-open` running; yields (host, port, token) and, after the tests, checks its stderr."""
    tmp_path = tmp_path_factory.mktemp("review")
    run = labelled_run(tmp_path)
    proc = subprocess.Popen(
        cai_command("review", run, "--no-open", "--reviewer", "ann"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(tmp_path),
    )
    url = next(line for line in proc.stdout if line.startswith("review app: ")).removeprefix("review app: ").strip()
    parts = urlsplit(url)
    yield parts.hostname, parts.port, parts.query.removeprefix("token="), run
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err and "failed" not in err, err


def post(app, body: bytes, headers=None, length=None):
    host, port, token, _ = app
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.putrequest("POST", "/api/label")
    sent = {"Content-Type": "application/json", "X-Review-Token": token, "Content-Length": str(length or len(body))}
    for name, value in {**sent, **(headers or {})}.items():
        conn.putheader(name, value)
    conn.endheaders(body)
    if length and length > len(body):
        conn.sock.shutdown(1)  # the client sends no more: the body is cut short
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


@pytest.mark.parametrize("name", MALFORMED)
def test_every_malformed_body_is_a_clean_400(app, name):
    status, data = post(app, MALFORMED[name])
    assert status == 400, (name, status, data)
    assert "error" in json.loads(data)


def test_a_body_shorter_than_its_content_length_is_a_400(app):
    status, data = post(app, b'{"id": "a"', length=200)
    assert status == 400 and "Content-Length" in json.loads(data)["error"]


def test_a_body_over_the_limit_is_413(app):
    status, _ = post(app, b"[" * (MAX_BODY + 1))
    assert status == 413


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1"])
def test_a_post_from_another_origin_is_refused_even_with_the_token(app, origin):
    status, data = post(app, b'{"id": "a", "verdict": "genuine"}', headers={"Origin": origin})
    assert status == 403 and "origin" in json.loads(data)["error"]
    assert read_labels(app[3]) == {}


def test_a_post_from_the_page_own_origin_is_taken(app):
    host, port, _, run = app
    status, data = post(app, b'{"id": "b", "verdict": "genuine"}', headers={"Origin": f"http://{host}:{port}"})
    assert status == 200, data
    assert set(read_labels(run)) == {("b", None)}
