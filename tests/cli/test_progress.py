"""The run's progress bar: every counter the job has, within an 80-column terminal at any job size."""

import io
import re

from rich.console import Console

from constitutional.cli import progress
from constitutional.cli.progress import EvalProgress, RunProgress, _short
from constitutional.evals.lines import EvalLine
from constitutional.evals.verdicts import VERDICTS
from constitutional.models.base import Usage
from constitutional.record import Record, RecordError


def record(n, error=None):
    return Record(id=f"r{n}", prompt="p", error=error, usage=Usage(calls=3, input_tokens=900, output_tokens=300, cost_usd=0.0004))


def shown_lines(monkeypatch, bar, feed):
    """The lines of the bar's last frame on an 80-column terminal, after `feed(bar)`."""
    screen = io.StringIO()
    monkeypatch.setattr(progress, "err_console", Console(file=screen, width=80, force_terminal=True, color_system=None))
    with bar.shown():
        feed(bar)
    frame = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue()).split("\r")[-1]
    return [line.rstrip() for line in frame.splitlines() if line.strip()]


def last_frame(monkeypatch, total, done, bar=None):
    def feed(bar):
        for n in range(done):
            if isinstance(bar, EvalProgress):
                bar.on_line(EvalLine(id=f"r{n}", verdict=VERDICTS[n % len(VERDICTS)], needs_review=n % 3 == 0))
            else:
                bar.on_record(record(n, error=RecordError(stage="draft", message="x") if n % 1000 == 0 else None))

    return shown_lines(monkeypatch, bar or RunProgress(total, quiet=False), feed)


def test_a_million_prompt_job_shows_every_counter_within_80_columns(monkeypatch):
    lines = last_frame(monkeypatch, 1_000_000, 123_456)
    assert len(lines) == 3 and all(len(line) <= 80 for line in lines), lines
    assert re.match(r"(\S )?run ━", lines[0]) and "123456/1000000" in lines[0] and "eta" in lines[0]
    assert re.fullmatch(r"errors 124 · calls 370k \([0-9.]+[kMG]?/s\) · cached 0 · tokens 148M · \$49\.38", lines[1].strip())
    assert lines[2].strip() == "124 × draft: x"


def test_a_small_job_shows_exact_counts(monkeypatch):
    lines = last_frame(monkeypatch, 4, 4)
    assert "4/4" in lines[0] and re.search(r"calls 12 \(.*/s\) · cached 0 · tokens 4800 · \$0\.0016", lines[1])


def test_the_eval_bar_counts_verdicts_and_reviews_wrapping_within_80_columns(monkeypatch):
    lines = last_frame(monkeypatch, 1_000_000, 70_000, EvalProgress(1_000_000, quiet=False))
    assert re.match(r"(\S )?eval ━", lines[0]) and "70000/1000000" in lines[0] and all(len(line) <= 80 for line in lines)
    counters = " ".join(line.strip() for line in lines[1:])
    assert counters == (
        "genuine 8750 · superficial 8750 · non_compliant 8750 · evasive 8750 · regressed 8750 · "
        "unchanged 8750 · undecided 8750 · error 8750 · needs review 23.3k"
    )


def test_short_numbers():
    assert [_short(n) for n in (0, 9_999, 12_345, 999_999, 4_567_890, 1_234_567_890)] == [
        "0",
        "9999",
        "12.3k",
        "1M",
        "4.57M",
        "1.23G",
    ]


def test_the_commonest_kinds_of_error_show_under_the_bar_with_their_first_message(monkeypatch):
    refused = "openai: could not get a reply: Cannot connect to host 127.0.0.1:{} ssl:default [Connect call failed]"
    errors = (
        [RecordError(stage="draft", message=refused.format(port), retryable=True) for port in range(9, 14)]
        + [RecordError(stage="critique", message="reply did not match the schema:\n  needs_revision: Field required")] * 2
        + [RecordError(stage="revise", message=f"openai returned HTTP {status}: no") for status in (400, 404)]
    )
    lines = shown_lines(
        monkeypatch,
        RunProgress(len(errors), quiet=False),
        lambda bar: [bar.on_record(record(n, error=error)) for n, error in enumerate(errors)],
    )
    assert all(len(line) <= 80 for line in lines), lines
    assert [line.strip() for line in lines[2:]] == [
        "5 × draft: openai: could not get a reply: Cannot connect to host 127.0.0.1:…",
        "2 × critique: reply did not match the schema: needs_revision: Field required",
        "1 × revise: openai returned HTTP 400: no",
        "and 1 more kind of error",
    ]
