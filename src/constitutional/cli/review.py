"""`cai review DIR`: the browser review app (reports/review_app.py) on 127.0.0.1; `cai review DIR --set ID VERDICT`
records one verdict in DIR/labels.jsonl from the terminal."""

from __future__ import annotations

import shlex
import webbrowser
from pathlib import Path

import typer
from rich.markup import escape

from constitutional.cli import options as opt
from constitutional.cli.common import err_console, user_errors, warn
from constitutional.errors import UserError, did_you_mean, nearest, require_exists
from constitutional.evals.labels import LABEL_VERDICTS, LABELS_FILE, Label, agreement, append_label, read_labels
from constitutional.evals.lines import EvalLine, read_eval_lines
from constitutional.reports.refresh import after_labels, html_stale, rewrite_html
from constitutional.reports.review_app import ReviewServer, ReviewState
from constitutional.text import printable


def eval_lines(run_dir: Path) -> list[EvalLine]:
    """DIR/eval.jsonl, or an error saying which command writes it."""
    require_exists(run_dir, "run directory", fix="give the directory `cai run --out` or `cai eval --out` wrote")
    path = run_dir / "eval.jsonl"
    if not path.is_file():
        raise UserError(
            f"no eval.jsonl in {run_dir}: nothing to review",
            fix=f"run `cai eval {shlex.quote(str(run_dir))}` first (or `cai eval FILE.jsonl --out DIR`)",
        )
    return list(read_eval_lines(path))


def _check_id(record_id: str, lines: list[EvalLine], run_dir: Path) -> None:
    ids = {line.id for line in lines}
    if record_id not in ids:
        shown = shlex.quote(str(run_dir))
        raise UserError(
            f"no record '{record_id}' in {run_dir / 'eval.jsonl'}",
            fix=did_you_mean(
                nearest(record_id, ids),
                f"give an id from eval.jsonl: `cai report {shown} --records review` lists the records waiting for "
                f"review, `--records all` every record",
            ),
        )


def _check_verdict(verdict: str) -> None:
    if verdict not in LABEL_VERDICTS:
        raise UserError(
            f"unknown verdict '{verdict}'",
            fix=did_you_mean(
                nearest(verdict, LABEL_VERDICTS),
                f"use one of: {', '.join(LABEL_VERDICTS)} ('undo' takes back your latest verdict on that record)",
            ),
        )


def _check_principle(principle: str, record_id: str, lines: list[EvalLine]) -> None:
    known = {p.id for line in lines if line.id == record_id for p in line.principles}
    if known and principle not in known:
        raise UserError(
            f"record '{record_id}' has no principle '{principle}'",
            fix=did_you_mean(nearest(principle, known), f"use one of: {', '.join(sorted(known))}"),
        )


SET_HELP = f"Your verdict on record ID: {', '.join(LABEL_VERDICTS)}."


@user_errors
def review(
    run_dir: Path = typer.Argument(..., help="A run directory after `cai eval`, or the --out of `cai eval FILE.jsonl`."),
    set_: tuple[str, str] | None = typer.Option(
        None, "--set", metavar="ID VERDICT", help=SET_HELP, rich_help_panel=opt.EVAL_PANEL
    ),
    principle: str = typer.Option(
        None, "--principle", "-p", help="Label one principle of the record, not the whole record.", rich_help_panel=opt.EVAL_PANEL
    ),
    note: str = typer.Option(None, "--note", help="Why, in a few words (kept in labels.jsonl).", rich_help_panel=opt.EVAL_PANEL),
    reviewer: str = typer.Option(
        None, "--reviewer", help="Who decided (default: your user name).", rich_help_panel=opt.EVAL_PANEL
    ),
    port: int = typer.Option(
        0,
        "--port",
        min=0,
        max=65535,
        help="Port of the review app on 127.0.0.1 (0: a free one).",
        rich_help_panel=opt.OUTPUT_PANEL,
    ),
    no_open: bool = typer.Option(
        False, "--no-open", help="Print the review app's URL without opening a browser.", rich_help_panel=opt.OUTPUT_PANEL
    ),
) -> None:
    """Record people's verdicts in DIR/labels.jsonl, in a browser app or one at a time with --set.

    The review app runs on 127.0.0.1 (keys j/k, 1-7, c, u). People's verdicts replace the eval's in `cai export` and
    `cai report`, and report.json and report.html are written again with them. The latest line per record wins;
    VERDICT 'undo' takes the latest back."""
    lines = eval_lines(run_dir)
    if not set_ or set_[0] is None:
        _status(run_dir, lines)
        serve_app(ReviewState(run_dir, lines, reviewer), port, open_browser=not no_open)
        return
    record_id, verdict = set_
    _check_verdict(verdict)
    _check_id(record_id, lines, run_dir)
    if principle is not None:
        _check_principle(principle, record_id, lines)
    fields = {"reviewer": reviewer} if reviewer else {}
    label = Label(id=record_id, verdict=verdict, principle=principle, note=note, **fields)
    problems: list[str] = []
    append_label(run_dir, label, then=lambda: _refresh(run_dir, lines, problems))
    what = f"'{record_id}'" + (f" ({principle})" if principle else "")
    err_console.print(
        f"labelled {escape(printable(what))} {verdict} by {escape(printable(label.reviewer))} "
        f"in {escape(str(run_dir / LABELS_FILE))}"
    )
    for problem in problems:
        warn(problem)


def _refresh(run_dir: Path, lines: list[EvalLine], problems: list[str]) -> None:
    """report.json's `labels` and report.html brought up to date with the label just appended (under its lock); a
    failure is told (the label is written all the same) with the command that writes them again."""
    try:
        after_labels(run_dir, lines)
    except (OSError, UserError) as exc:
        problems.append(
            f"report.json and report.html were not brought up to date ({exc}); "
            f"`cai report {shlex.quote(str(run_dir))} --format html` writes them again"
        )


def _status(run_dir: Path, lines: list[EvalLine]) -> None:
    block = agreement(lines, read_labels(run_dir))
    shown = shlex.quote(str(run_dir))
    typer.echo(
        f"{block.needs_review_remaining} records need review and have no human verdict; "
        f"{block.labelled} are labelled. (From a terminal: `cai review {shown} --set ID VERDICT [--note TEXT]`; "
        f"`cai report {shown} --records review` lists their ids.)"
    )


def serve_app(state: ReviewState, port: int, open_browser: bool = True) -> None:
    """Serve the review app until Ctrl-C, then say how many labels it wrote."""
    try:
        server = ReviewServer(state, port)
    except OSError as exc:
        raise UserError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}",
            fix="choose another --port, or leave it out to take a free one",
        ) from None
    typer.echo(f"review app: {server.url}\n(keys: j/k next/previous, 1-7 verdict, c comment, u undo; Ctrl-C stops)")
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    typer.echo(f"\nwrote {state.written} label{'s' if state.written != 1 else ''} to {state.run_dir / LABELS_FILE}")
    if state.written and (state.run_dir / "report.html").is_file() and html_stale(state.run_dir):
        try:
            rewrite_html(state.run_dir)  # report.json got each label as it came; the page is written once, here
        except (OSError, UserError) as exc:
            warn(f"report.html was not written again ({exc}); `cai report {shlex.quote(str(state.run_dir))} --open` does it")
