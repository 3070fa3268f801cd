"""The review app's server (`cai review DIR`): token, Host and content-type checks, and the label API."""

import http.client
import json
from urllib.parse import urlsplit

import pytest

from constitutional.evals.labels import read_labels
from constitutional.reports.review_app import MAX_BODY, ReviewServer
from tests.evals.test_labels import run  # noqa: F401 - the fixture: an eval directory with ids veneer, peru, egg
from tests.reports.review_serving import serving


@pytest.fixture
def server(run):  # noqa: F811
    with serving(run, "ann") as srv:
        yield srv


def request(srv, method, path, body=None, headers=None, token=True):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    headers = dict(headers or {})
    if token and path.startswith("/api/"):
        headers.setdefault("X-Review-Token", srv.token)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def test_url_is_local_with_a_token(server):
    parts = urlsplit(server.url)
    assert parts.hostname == "127.0.0.1" and parts.port == server.port and parts.query == f"token={server.token}"
    assert server.server_address[0] == "127.0.0.1" and len(server.token) >= 32


@pytest.mark.parametrize("path", ["/", "/?token=wrong", "/api/records", "/favicon.ico", "/api/nothing", "/review.html"])
def test_requests_without_the_token_are_forbidden(server, path):
    response, _ = request(server, "GET", path, token=False)
    assert response.status == 403
    assert response.getheader("Access-Control-Allow-Origin") is None
    response, _ = request(server, "POST", "/api/label", {"id": "peru", "verdict": "genuine"}, token=False)
    assert response.status == 403
    response, _ = request(server, "GET", f"/api/records?token={server.token}", token=False)  # the API wants the header
    assert response.status == 403
    assert read_labels(server.state.run_dir) == {}


def test_wrong_host_header_is_forbidden(server):
    for host in (f"evil.example:{server.port}", "127.0.0.1", f"localhost:{server.port + 1}"):
        response, _ = request(server, "GET", f"/?token={server.token}", headers={"Host": host})
        assert response.status == 403, host
        response, _ = request(server, "GET", "/api/records", headers={"Host": host})
        assert response.status == 403, host
    response, _ = request(server, "GET", f"/?token={server.token}", headers={"Host": f"localhost:{server.port}"})
    assert response.status == 200


def test_page_has_a_strict_policy_and_a_nonce(server):
    response, body = request(server, "GET", f"/?token={server.token}")
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/html")
    policy = response.getheader("Content-Security-Policy")
    assert (
        "default-src 'none'" in policy
        and "connect-src 'self'" in policy
        and "'unsafe-inline'" not in policy.split("style-src")[0]
    )
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in body.decode() and "__NONCE__" not in body.decode()
    assert response.getheader("Referrer-Policy") == "no-referrer" and response.getheader("Access-Control-Allow-Origin") is None


def test_records_list_needing_review_first_with_labels(server):
    response, body = request(server, "GET", "/api/records")
    data = json.loads(body)
    assert response.status == 200 and [r["id"] for r in data["records"]] == ["peru", "egg", "veneer"]
    veneer = data["records"][2]
    assert set(veneer) >= {
        "id",
        "verdict",
        "confidence",
        "needs_review",
        "reasons",
        "principles",
        "prompt",
        "draft",
        "revision",
        "veneer_added_text",
    }
    assert veneer["veneer_added_text"] and all(t in veneer["revision"] for t in veneer["veneer_added_text"])
    assert (data["reviewed"], data["total"], data["labels"]) == (0, 3, [])


def test_post_must_be_json_and_small(server):
    response, _ = request(
        server, "POST", "/api/label", json.dumps({"id": "peru", "verdict": "genuine"}), headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415
    response, _ = request(
        server, "POST", "/api/label", "id=peru&verdict=genuine", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status == 415
    response, _ = request(server, "POST", "/api/label", "x" * (MAX_BODY + 1), headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert read_labels(server.state.run_dir) == {}


def test_post_validates_and_appends_a_label(server):
    for body, word in [
        ({"id": "nope", "verdict": "genuine"}, "no record"),
        ({"id": "peru", "verdict": "genuin"}, "unknown verdict"),
        ({"id": "peru", "verdict": "genuine", "extra": 1}, "unknown fields"),
        ("[1]", "JSON object"),
    ]:
        response, data = request(server, "POST", "/api/label", body, headers={"Content-Type": "application/json"})
        assert response.status == 400 and word in json.loads(data)["error"], body
    response, data = request(
        server,
        "POST",
        "/api/label",
        {"id": "peru", "verdict": "genuine", "note": "Lima is right"},
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status == 200, data
    state = json.loads(data)
    assert state["reviewed"] == 1 and state["labels"][0]["verdict"] == "genuine"
    label = read_labels(server.state.run_dir)[("peru", None)]
    assert (label.verdict, label.note, label.reviewer) == ("genuine", "Lima is right", "ann")
    response, data = request(server, "POST", "/api/label", {"id": "peru", "verdict": "undo"})
    assert response.status == 200 and json.loads(data)["reviewed"] == 0 and server.state.written == 2
    lines = (server.state.run_dir / "labels.jsonl").read_text().splitlines()
    assert [json.loads(line)["verdict"] for line in lines] == ["genuine", "undo"]


def test_cli_prints_the_url_opens_it_and_counts_labels_on_ctrl_c(run, monkeypatch):  # noqa: F811
    from typer.testing import CliRunner

    from constitutional.cli.app import app

    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ReviewServer, "serve_forever", interrupted)
    result = CliRunner().invoke(app, ["review", str(run), "--reviewer", "ann"])
    assert result.exit_code == 0, result.output
    assert len(opened) == 1 and opened[0].startswith("http://127.0.0.1:") and "/?token=" in opened[0]
    assert opened[0] in result.output and "wrote 0 labels" in result.output
    opened.clear()
    assert CliRunner().invoke(app, ["review", str(run), "--no-open"]).exit_code == 0 and not opened
