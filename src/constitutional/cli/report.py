"""`cai report DIR` and `cai report diff DIR_A DIR_B`: read an eval's report as tables, Markdown, JSON or HTML."""

from __future__ import annotations

import json
import shlex
import socket
import webbrowser
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from constitutional.cli import options as opt
from constitutional.cli.common import user_errors
from constitutional.errors import UserError, os_failure, require_exists
from constitutional.evals.labels import LABELS_FILE
from constitutional.evals.lines import VERDICTS
from constitutional.redteam.results import RedteamDir, is_redteam_dir, load_redteam_dir
from constitutional.reports.record_list import ALL, DEFAULT_SHOWN, REVIEW, parse_which, record_list
from constitutional.reports.refresh import html_stale, rewrite_html, save_labels
from constitutional.reports.render_data import ReportDir, load_dir
from constitutional.reports.render_diff import diff_runs, markdown_diff, terminal_diff
from constitutional.reports.render_html import write_html
from constitutional.reports.render_redteam import markdown_redteam, terminal_redteam, write_redteam_html
from constitutional.reports.render_text import RecordTable, markdown, markdown_records, terminal_summary
from constitutional.text import json_for_terminal

if TYPE_CHECKING:
    from typer._click import Context  # the Context class of the click that typer bundles (TyperGroup.parse_args's)


class Format(str, Enum):
    text = "text"
    md = "md"
    json = "json"
    html = "html"


class DiffFormat(str, Enum):
    """What `cai report diff` can write: no HTML form."""

    text = "text"
    md = "md"
    json = "json"


class DefaultShow(typer.core.TyperGroup):
    """`cai report DIR` means `cai report show DIR`; `cai report diff A B` stays a subcommand."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


report_app = typer.Typer(
    cls=DefaultShow,
    no_args_is_help=True,
    help="Show an eval's report (`cai report DIR`), or compare two runs (`cai report diff A B`).",
)
FORMAT_HELP = "text (tables), md (Markdown), json (raw data), or html (writes DIR/report.html)."
OPEN_HELP = "Open DIR/report.html in a browser (written first if out of date)."
RECORDS_HELP = f"Records listed: all, review (waiting for a person) or a VERDICT (default: {DEFAULT_SHOWN}, review first)."


def _missing_report(path: Path) -> UserError:
    """What a directory without report.json lacks, and the command that makes what it lacks."""
    shown = shlex.quote(str(path))
    if (path / "records.jsonl").is_file():
        return UserError(
            f"{path} is a run that has not been evaluated: it has records.jsonl but no report.json", fix=f"run `cai eval {shown}`"
        )
    if (path / "eval.jsonl").is_file():
        return UserError(
            f"{path} has eval.jsonl but no report.json: the eval did not finish",
            fix=f"run `cai eval FILE.jsonl --out {shown}` again with the file it evaluated",
        )
    return UserError(
        f"{path} is not a run directory: it has no records.jsonl or eval.jsonl",
        fix=f"make one with `cai run PROMPTS --out {shown}` or `cai eval FILE.jsonl --out {shown}`",
    )


def load_run(path: Path) -> ReportDir:
    """The directory's report, or an error that says what the path lacks and which command makes it."""
    require_exists(path, "run directory", fix="give the directory `cai run --out` or `cai eval --out` wrote")
    if not path.is_dir():
        in_a_run = any((path.parent / name).is_file() for name in ("report.json", "records.jsonl"))
        raise UserError(
            f"{path} is a file, not a run directory",
            fix=f"give its folder: `cai report {shlex.quote(str(path.parent))}`"
            if in_a_run
            else f"`cai eval {shlex.quote(str(path))} --out DIR` evaluates the revisions in a JSONL file; then `cai report DIR`",
        )
    if not (path / "report.json").is_file():
        raise _missing_report(path)
    return load_dir(path)


def _write_html(run: ReportDir) -> Path:
    """DIR/report.html, written from eval.jsonl; without it the page would list no records (and replace any
    good report.html there), so that is refused."""
    if not run.lines_path.is_file():
        shown = shlex.quote(str(run.path))
        evaluated_again = (
            f"run `cai eval {shown}` first"
            if (run.path / "records.jsonl").is_file()
            else f"run `cai eval FILE.jsonl --out {shown}` first, with the file it evaluated"
        )
        raise UserError(
            f"{run.path} has report.json but no eval.jsonl, so report.html would list no records",
            fix=f"{evaluated_again}; it writes eval.jsonl",
        )
    try:
        return rewrite_html(run.path) if (run.path / LABELS_FILE).is_file() else write_html(run)
    except OSError as exc:  # a full disk, a read-only folder: a report.html already there is as it was
        raise os_failure(exc, "cannot write", run.path / "report.html", then="rerun the same command") from None


def _current_html(run: ReportDir) -> Path:
    """DIR/report.html, (re)written when it is missing or older than report.json, eval.jsonl or labels.jsonl."""
    if html_stale(run.path):
        _write_html(run)
    return (run.path / "report.html").resolve()


def _save_labels(run: ReportDir) -> None:
    """report.json's `labels` block brought up to date with labels.jsonl, where it is not (labels appended by an older
    version, or a review app that was killed); a folder that cannot be written is left as it is."""
    if run.labels_stale:
        try:
            save_labels(run.path)
        except OSError:
            pass  # read-only: what is shown has the labels all the same


def open_report(run: ReportDir, fragment: str = "") -> None:
    """Open report.html (at `fragment`: the page's filters) in a browser; where none can (no display, e.g. over SSH),
    say where it is and how to copy it."""
    open_page(_current_html(run), fragment)


def open_page(html: Path, fragment: str = "") -> None:
    """Open the page `html` in a browser, or say where it is and how to copy it."""
    url = html.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    try:
        opened = webbrowser.open(url)
    except (webbrowser.Error, OSError):
        opened = False
    if opened:
        typer.echo(f"opened {url}")
        return
    typer.echo(
        f"no browser could open report.html here (no display: a headless machine or SSH?).\n"
        f"It is one self-contained file that needs no network:\n"
        f"  {url}\n"
        f"To read it, copy it to a machine with a browser (run this there) and open it:\n"
        f"  scp {socket.gethostname()}:{shlex.quote(str(html))} ."
    )


def _page_filter(which: str | None) -> str:
    """report.html's filter (its URL fragment) for --records."""
    if which in (None, ALL):
        return ""
    return "review=1" if which == REVIEW else f"verdict={which}"


def _check_records(records: str | None, format: Format, open_: bool) -> None:
    if records is not None and not open_ and format in (Format.json, Format.html):
        raise UserError(
            f"--records chooses the records the text and Markdown reports list; --format {format.value} has no list",
            fix="leave out --records (report.html filters its records itself: `--open --records review` opens it "
            "filtered), or use --format text or md",
        )


@report_app.command("show")
@user_errors
def show(
    dir: Path = typer.Argument(..., help="A run directory, the --out of `cai eval`, or the --out of `cai redteam`."),
    format: Format = typer.Option(Format.text, "--format", "-f", help=FORMAT_HELP, rich_help_panel=opt.OUTPUT_PANEL),
    records: str = typer.Option(None, "--records", "-r", metavar="WHICH", help=RECORDS_HELP, rich_help_panel=opt.OUTPUT_PANEL),
    open_: bool = typer.Option(False, "--open", help=OPEN_HELP, rich_help_panel=opt.OUTPUT_PANEL),
) -> None:
    """Summarise DIR/report.json (verdicts, per principle, canaries, cost, timing), then list the records by id.

    For a `cai redteam` directory: the gaming resistance, the median queries to the first success, the breakdowns by
    operator and by the tier fooled, and every success."""
    if open_ and format not in (Format.text, Format.html):
        raise typer.BadParameter("--open opens report.html; leave out --format", param_hint="--open")
    _check_records(records, format, open_)
    if is_redteam_dir(dir):
        _show_redteam(load_redteam_dir(dir), format, records, open_)
        return
    run = load_run(dir)
    _save_labels(run)
    which = parse_which(records, [*VERDICTS, *run.report.counts])
    if open_:
        open_report(run, _page_filter(which))
    elif format is Format.html:
        typer.echo(_write_html(run))
    elif format is Format.json:
        typer.echo(json_for_terminal(run.report.to_json()))
    elif format is Format.md:
        typer.echo(markdown(run.report) + markdown_records(record_list(run, which)), nl=False)
    else:
        console = Console(highlight=False)
        console.print(terminal_summary(run.report))
        console.print(RecordTable(record_list(run, which)))


def _show_redteam(run: RedteamDir, format: Format, records: str | None, open_: bool) -> None:
    """A red-team directory: its numbers, breakdowns and successes; report.html written for html and --open."""
    if records is not None:
        raise UserError(
            "--records chooses among an eval's records; a red-team directory lists all its successes",
            fix="leave out --records",
        )
    if format is Format.json:
        typer.echo(json_for_terminal(run.report.model_dump_json(indent=2)))
    elif format is Format.md:
        typer.echo(markdown_redteam(run), nl=False)
    elif format is Format.html or open_:
        try:
            html = write_redteam_html(run)
        except OSError as exc:
            raise os_failure(exc, "cannot write", run.html_path, then="rerun the same command") from None
        if open_:
            open_page(html)
        else:
            typer.echo(html)
    else:
        Console(highlight=False).print(terminal_redteam(run))


@report_app.command("diff")
@user_errors
def diff(
    dir_a: Path = typer.Argument(..., help="The 'before' run directory."),
    dir_b: Path = typer.Argument(..., help="The 'after' run directory."),
    format: DiffFormat = typer.Option(
        DiffFormat.text, "--format", "-f", help="text, md or json.", rich_help_panel=opt.OUTPUT_PANEL
    ),
) -> None:
    """What changed from run A to run B: verdicts, per principle, records whose verdict changed, and the constitution."""
    result = diff_runs(load_run(dir_a), load_run(dir_b))
    if format is DiffFormat.json:
        typer.echo(json_for_terminal(json.dumps(result, indent=2, ensure_ascii=False)))
    elif format is DiffFormat.md:
        typer.echo(markdown_diff(result), nl=False)
    else:
        Console(highlight=False).print(terminal_diff(result))
