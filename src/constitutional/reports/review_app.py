"""The browser review app of `cai review DIR`: a stdlib HTTP server on 127.0.0.1 that serves one self-contained page
(templates/review.html) and a small JSON API over eval.jsonl and DIR/labels.jsonl.

Every request needs the session token (the page: `?token=`; the API: the `X-Review-Token` header) and a Host header
naming 127.0.0.1 or localhost on the server's port (against DNS rebinding); a request carrying an Origin header
must come from the page's own origin (http://HOST, HOST as the Host header says), else it is refused (403), so
another site's page cannot post even with a stolen token; no CORS header is ever sent; writes are JSON POSTs of at
most MAX_BODY bytes (413 above). A malformed request gets a 4xx and a JSON error, never a traceback: an unexpected
failure is a 500 and one line on stderr. Labels are appended with `append_label`, so the CLI and the app share one
file."""

from __future__ import annotations

import json
import secrets
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from constitutional.errors import UserError
from constitutional.evals.labels import LABEL_VERDICTS, Label, append_label, read_labels, relabel
from constitutional.evals.lines import VERDICTS, EvalLine
from constitutional.evals.report_model import Report
from constitutional.reports.colours import verdict_css
from constitutional.reports.render_data import input_items, read_report, record_view
from constitutional.rundir import parse_json

if TYPE_CHECKING:
    from collections.abc import Callable
    from urllib.parse import SplitResult

    from constitutional.evals.items import EvalItem

MAX_BODY = 64 * 1024
MAX_NOTE = 2000
BODY_TIMEOUT = 30  # seconds a client may take to send what its Content-Length promised
TOKEN_HEADER = "X-Review-Token"


class RequestError(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def _view(line: EvalLine, item: EvalItem | None) -> dict:
    """What the page shows of a record: the report page's view (the draft and the revision as marked segments:
    removed, added, veneer, flagged; flags; per-principle evidence, judge checks and debates), plus the raw texts."""
    shown = record_view(line, item)
    return {
        "id": line.id,
        "verdict": line.verdict,
        "confidence": line.confidence,
        "needs_review": line.needs_review,
        "reasons": list(line.reasons),
        "principles": [
            {"id": p["id"], "verdict": p["verdict"], "evidence": p["evidence"], "checks": p["checks"], "debate": p["debate"]}
            for p in shown["principles"]
        ],
        "flags": shown["flags"],
        "judge_checks": shown["judge_checks"],
        "judge_debate": shown["judge_debate"],
        "draft_segments": shown["draft"],
        "revision_segments": shown["revision"],
        "prompt": line.prompt or "",
        "draft": line.draft or "",
        "revision": line.revision or "",
        "veneer_added_text": [t for t in line.signals.veneer_added_text if t],
    }


def _input_items(run_dir: Path) -> dict[str, EvalItem]:
    """The eval's input items by id (for the critique's flags), as the report finds them; none when it cannot."""
    try:
        report = read_report(run_dir / "report.json") if (run_dir / "report.json").is_file() else Report()
        return {item.id: item for item in input_items(run_dir, report)}
    except UserError:
        return {}


class ReviewState:
    """The records under review (those needing review first, then the rest, each in eval.jsonl order) and labels."""

    def __init__(self, run_dir: Path, lines: list[EvalLine], reviewer: str | None = None):
        self.run_dir = Path(run_dir)
        self.reviewer = reviewer
        latest = {line.id: line for line in lines}  # a later line for an id replaces the earlier one
        self.lines = list(latest.values())
        items = _input_items(self.run_dir)
        views = [_view(line, items.get(line.id)) for line in latest.values()]
        self.records = [v for v in views if v["needs_review"]] + [v for v in views if not v["needs_review"]]
        self.principles = {v["id"]: {p["id"] for p in v["principles"]} for v in self.records}
        self.written = 0
        self._lock = threading.Lock()

    def payload(self) -> dict:
        return {"verdicts": list(VERDICTS), "records": self.records, **self.label_state()}

    def label_state(self) -> dict:
        labels = [label.model_dump(exclude_none=True) for label in read_labels(self.run_dir).values()]
        reviewed = {label["id"] for label in labels if "principle" not in label} & self.principles.keys()
        return {"labels": labels, "reviewed": len(reviewed), "total": len(self.records)}

    def add(self, body: object) -> dict:
        """Validate a POSTed label, append it to labels.jsonl, and return the label state after it."""
        if not isinstance(body, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object {id, verdict, principle?, note?}")
        unknown = set(body) - {"id", "verdict", "principle", "note"}
        if unknown:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"unknown fields: {', '.join(sorted(map(str, unknown)))}")
        record_id, verdict = body.get("id"), body.get("verdict")
        principle, note = body.get("principle"), body.get("note")
        if not isinstance(record_id, str) or record_id not in self.principles:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"no record {record_id!r} in eval.jsonl")
        if verdict not in LABEL_VERDICTS:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"unknown verdict {verdict!r}; use one of: {', '.join(LABEL_VERDICTS)}")
        known = self.principles[record_id]
        if principle is not None and (not isinstance(principle, str) or (known and principle not in known)):
            raise RequestError(HTTPStatus.BAD_REQUEST, f"record {record_id!r} has no principle {principle!r}")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
            raise RequestError(HTTPStatus.BAD_REQUEST, f"a note is a string of at most {MAX_NOTE} characters")
        fields = {"reviewer": self.reviewer} if self.reviewer else {}
        label = Label(id=record_id, verdict=verdict, principle=principle, note=note or None, **fields)
        with self._lock:
            append_label(self.run_dir, label, then=self._relabel)
            self.written += 1
            return self.label_state()

    def _relabel(self) -> None:
        """report.json's `labels` block after each label (report.html is written again when the app stops)."""
        try:
            relabel(self.run_dir, self.lines)
        except OSError:
            pass  # the label is written; `cai report DIR` brings report.json up to date when it can


def page_html(nonce: str) -> str:
    template = (resources.files("constitutional.reports") / "templates" / "review.html").read_text("utf-8")
    page = template.replace("__VERDICT_CSS__", verdict_css()).replace("__CSP__", csp(nonce, meta=True))
    return page.replace("__NONCE__", nonce)


def csp(nonce: str | None = None, meta: bool = False) -> str:
    """The page's policy: its own inline script and style block (by nonce) and requests to this server, nothing
    else. Sent as a header and, for the page, in a meta tag too (`meta`: without frame-ancestors, which a meta tag
    cannot carry)."""
    own = f"'nonce-{nonce}'" if nonce else "'none'"
    policy = (
        f"default-src 'none'; script-src {own}; style-src {own}; connect-src 'self'; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return policy if meta else policy + "; frame-ancestors 'none'"


class ReviewServer(ThreadingHTTPServer):
    """Bound to 127.0.0.1 only; port 0 picks a free port. `url` carries the token."""

    daemon_threads = True

    def __init__(self, state: ReviewState, port: int = 0):
        super().__init__(("127.0.0.1", port), ReviewHandler)
        self.state = state
        self.token = secrets.token_urlsafe(24)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def allowed_hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}


class ReviewHandler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "cai-review"
    sys_version = ""
    timeout = BODY_TIMEOUT  # on the socket: a client that stops mid-request ends its own request, not a thread

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name; keep the terminal quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._handle(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._handle(self._post)

    def _handle(self, action: Callable[[SplitResult], None]) -> None:
        try:
            action(urlsplit(self.path))
        except RequestError as exc:
            self.close_connection = True  # an unread body must not be taken for the next request
            self._send(exc.status, {"error": str(exc)})
        except OSError:  # the client went away or stalled (the socket's timeout): nothing to answer
            self.close_connection = True
        except Exception as exc:  # a bug: one line, and a 500, rather than a traceback in the reviewer's terminal
            print(f"review app: {self.command} {urlsplit(self.path).path} failed: {type(exc).__name__}", file=sys.stderr)
            self.close_connection = True
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "the review app failed on this request"})

    def _authorise(self, parts: SplitResult, api: bool) -> None:
        host = self.headers.get("Host", "").lower()
        if host not in self.server.allowed_hosts():
            raise RequestError(HTTPStatus.FORBIDDEN, "wrong Host header")
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{host}":
            raise RequestError(HTTPStatus.FORBIDDEN, "cross-origin requests are refused: use the page `cai review` served")
        given = self.headers.get(TOKEN_HEADER, "") if api else (parse_qs(parts.query).get("token") or [""])[0]
        if not secrets.compare_digest(given.encode(), self.server.token.encode()):
            raise RequestError(HTTPStatus.FORBIDDEN, "missing or wrong token: open the URL `cai review` printed")

    def _get(self, parts: SplitResult) -> None:
        api = parts.path.startswith("/api/")
        self._authorise(parts, api)
        if parts.path == "/":
            nonce = secrets.token_urlsafe(16)
            self._send(HTTPStatus.OK, page_html(nonce).encode("utf-8"), "text/html; charset=utf-8", csp(nonce))
        elif parts.path == "/api/records":
            self._send(HTTPStatus.OK, self.server.state.payload())
        else:
            raise RequestError(HTTPStatus.NOT_FOUND, "not found")

    def _post(self, parts: SplitResult) -> None:
        self._authorise(parts, api=True)
        if parts.path != "/api/label":
            raise RequestError(HTTPStatus.NOT_FOUND, "not found")
        if self.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
            raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send Content-Type: application/json")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required") from None
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body may be at most {MAX_BODY} bytes")
        data = self.rfile.read(length)
        if len(data) < length:
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body is shorter than its Content-Length")
        try:
            body = parse_json(data.decode("utf-8"))
            json.dumps(body, ensure_ascii=False).encode("utf-8")  # a lone surrogate (\ud800) could not be written
        except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deeply, a number too long, a surrogate
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body is not JSON text that can be stored as UTF-8") from None
        self._send(HTTPStatus.OK, self.server.state.add(body))

    def _send(
        self, status: HTTPStatus, body: bytes | dict, content_type: str = "application/json", policy: str | None = None
    ) -> None:
        if not isinstance(body, bytes):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", policy or csp())
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Frame-Options", "DENY")
        self.end_headers()
        self.wfile.write(body)
