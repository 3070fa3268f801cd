"""Keeping what is made from eval.jsonl and labels.jsonl in step with them: report.json's `labels` block and
report.html are written again when people label records (`cai review`), and when `cai report` finds them older."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constitutional.evals.labels import LABELS_FILE, labels_lock, relabel
from constitutional.reports.render_data import load_dir
from constitutional.reports.render_html import write_html

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from constitutional.evals.lines import EvalLine

SOURCES = ("report.json", "eval.jsonl", LABELS_FILE)  # what report.html is made from


def html_stale(run_dir: Path) -> bool:
    """DIR/report.html is missing, or older than report.json, eval.jsonl or labels.jsonl."""
    html = run_dir / "report.html"
    if not html.is_file():
        return True
    made = [path.stat().st_mtime_ns for path in (run_dir / name for name in SOURCES) if path.is_file()]
    return html.stat().st_mtime_ns < max(made, default=0)


def after_labels(run_dir: Path, lines: Iterable[EvalLine] | None = None, html: bool = True) -> None:
    """Once a label is appended, holding labels.jsonl's lock (`append_label(..., then=...)`): report.json's `labels`
    block written again, and (`html`) report.html too, where there is one, so a page reloaded shows the label."""
    relabel(run_dir, lines)
    if html and (run_dir / "report.html").is_file() and (run_dir / "eval.jsonl").is_file():
        write_html(load_dir(run_dir))


def rewrite_html(run_dir: Path) -> Path:
    """DIR/report.html written from the files as they are now, under labels.jsonl's lock (never call it holding it)."""
    with labels_lock(run_dir, create=False):
        return write_html(load_dir(run_dir))


def save_labels(run_dir: Path) -> None:
    """report.json's `labels` block written again from labels.jsonl, under its lock (`cai report` finding it older)."""
    with labels_lock(run_dir, create=False):
        relabel(run_dir)
