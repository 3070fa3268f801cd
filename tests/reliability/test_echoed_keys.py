"""An API key a server echoes inside a successful reply (raw, or base64-encoded) reaches no file: not records.jsonl,
the reply cache, eval.jsonl, report.json, report.html nor an export; it is cut out where replies enter the pipeline."""

from __future__ import annotations

import base64
import html
import json

from constitutional.models.secrets import Redactor, configured_keys
from tests.helpers import write
from tests.reliability.common import cai, model_args
from tests.standins.openai_compatible import chat_server
from tests.standins.server import serve

OPENAI_KEY = "sk-proj-ECHOED0openai0key0never0stored0f00d"
ANTHROPIC_KEY = "echoed-anthropic-key-never-stored-9c1e"
OTHER_KEY = "AIzaEchoedGoogleKeyNeverStored12345"  # a key a langchain model would read (GOOGLE_API_KEY)
KEYS = {"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY, "GOOGLE_API_KEY": OTHER_KEY}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


LEAK = (
    f" [debug: key={OPENAI_KEY} auth={b64('Bearer ' + OPENAI_KEY)} b64={b64(OPENAI_KEY)} "
    f"anthropic={ANTHROPIC_KEY} {b64(ANTHROPIC_KEY)} google={OTHER_KEY} "
    f"url={base64.urlsafe_b64encode(OTHER_KEY.encode()).decode()}]"
)


def transformed(key: str) -> list[str]:
    """The key echoed upper- and lower-case, spaced, dotted, interleaved with zero-width characters, reversed, in hex."""
    return [
        key.upper(),
        key.lower(),
        " ".join(key),
        ". ".join(key),
        "\u200b".join(key),
        "\u2060\u200d".join(key.upper()),
        key[::-1],
        key.encode().hex(),
        " ".join(f"{b:02X}" for b in key.encode()),
    ]


TRANSFORMED_LEAK = " [debug: " + " | ".join(transformed(OPENAI_KEY) + transformed(ANTHROPIC_KEY)) + "]"


def leaked(value, leak=LEAK):
    """`value` with the leak appended to every string in it."""
    if isinstance(value, str):
        return value + leak
    if isinstance(value, dict):
        return {k: leaked(v, leak) for k, v in value.items()}
    if isinstance(value, list):
        return [leaked(v, leak) for v in value]
    return value


def echoing(path, headers, body, leak=LEAK):
    """The stand-in, with every reply's text (and every string in a JSON reply) followed by the keys."""
    status, reply, reply_headers = chat_server(formats=("json_schema",), key=OPENAI_KEY)(path, headers, body)
    message = reply["choices"][0]["message"]
    try:
        message["content"] = json.dumps(leaked(json.loads(message["content"]), leak))
    except ValueError:
        message["content"] = leaked(message["content"], leak)
    return status, reply, reply_headers


def forbidden() -> list[str]:
    """Every key, its base64 (standard and URL-safe), and the part of 'Bearer KEY' in base64 that only the key decides."""
    out = []
    for key in KEYS.values():
        out += [
            key,
            b64(key).rstrip("="),
            base64.urlsafe_b64encode(key.encode()).decode().rstrip("="),
            b64("Bearer " + key)[12:-4],
        ]
    return out


def test_keys_echoed_in_replies_reach_no_file(tmp_path):
    run_echoing(tmp_path, echoing, forbidden())


def test_keys_echoed_upper_case_spaced_zero_width_reversed_or_in_hex_reach_no_file(tmp_path):
    forms = [form for key in (OPENAI_KEY, ANTHROPIC_KEY) for form in transformed(key)]
    # as written raw, in JSON with \u escapes, and in HTML
    escaped = {variant for form in forms for variant in (form, json.dumps(form)[1:-1], html.escape(form))}
    run_echoing(tmp_path, lambda *request: echoing(*request, leak=TRANSFORMED_LEAK), sorted(escaped))


def run_echoing(tmp_path, handler, forbidden_texts: list[str]):
    """A run, a rerun from the cache, report.html and an export against `handler`; no file nor output holds any of
    `forbidden_texts`."""
    prompts = write(tmp_path / "p.jsonl", '{"id": "a", "prompt": "hello"}\n{"id": "b", "prompt": "how do locks work?"}\n')
    out = tmp_path / "run"
    with serve(handler) as server:
        run = cai(tmp_path, "run", prompts, *model_args("openai", server.url), "--out", out, "--scorer", "none", **KEYS)
        again = cai(
            tmp_path, "run", prompts, *model_args("openai", server.url), "--out", tmp_path / "again", "--scorer", "none", **KEYS
        )  # every reply from the cache this time
    assert run.returncode in (0, 1), run.stderr
    assert again.returncode == run.returncode and "0 model requests" in again.stderr, again.stderr
    page = cai(tmp_path, "report", out, "--format", "html", **KEYS)
    every = "genuine,superficial,non_compliant,evasive,regressed,unchanged"
    export = cai(tmp_path, "export", out, "-f", "sft", "--only", every, **KEYS)
    assert page.returncode == 0 and export.returncode == 0, page.stderr + export.stderr
    assert "[redacted]" in (out / "records.jsonl").read_text()  # the replies were kept, less the keys
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "p.jsonl"]
    names = {p.name for p in files}
    assert {"records.jsonl", "eval.jsonl", "report.json", "report.html", "sft.jsonl", "replies.sqlite"} <= names
    for path in files:
        data = path.read_bytes()
        for text in forbidden_texts:
            assert text.encode() not in data, (path, text)
    for output in (run.stdout, run.stderr, again.stdout, again.stderr, page.stdout, export.stdout, export.stderr):
        assert not any(text in output for text in forbidden_texts)


def test_the_configured_keys_and_their_base64_at_any_alignment_are_cut_out():
    redactor = Redactor(configured_keys(KEYS))
    for prefix in ("", "x", "xy", "Bearer "):
        for suffix in ("", "!", "!?"):
            cut = redactor.text(b64(prefix + OPENAI_KEY + suffix))
            assert cut.count("[redacted]") == 1  # what is left is the encoding's ends, which the data around the key decides
            assert len(cut) - len("[redacted]") <= len(b64(prefix)) + len(b64(suffix)) + 8
    assert redactor.data({"a": [OPENAI_KEY, 1], OTHER_KEY: None}) == {"a": ["[redacted]", 1], "[redacted]": None}
    assert configured_keys({"OPENAI_API_KEY": "no-key-needed", "X_API_KEY": "short"}) == ()


def test_each_transformed_form_is_cut_to_one_redaction_and_ordinary_text_is_kept():
    redactor = Redactor(configured_keys(KEYS))
    for key in (OPENAI_KEY, ANTHROPIC_KEY):
        for form in transformed(key):
            assert redactor.text(f"key: {form}.") == "key: [redacted].", form
            assert redactor.text(json.dumps({"k": form})) == '{"k": "[redacted]"}', form
    ordinary = "Echoed keys are never stored; sk-proj is a prefix. \u200bA B C d e f 0 1 2 3 \\u200b"
    assert redactor.text(ordinary) == ordinary
