"""Compare two evaluated runs (e.g. before and after a constitution edit): verdict counts, per principle,
records whose verdict changed, and what changed in the constitution."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, JustifyMethod, RenderableType
from rich.table import Table
from rich.text import Text

from constitutional.constitution import Constitution, load_constitution
from constitutional.constitution.diff import diff_constitutions
from constitutional.errors import UserError
from constitutional.evals.labels import read_labels, record_verdicts
from constitutional.evals.lines import VERDICTS
from constitutional.reports.colours import style
from constitutional.reports.render_text import short
from constitutional.text import printable

if TYPE_CHECKING:
    from constitutional.reports.render_data import ReportDir

CHANGED_SHOWN = 50


@dataclass
class Recorded:
    """A run's constitution as the run recorded it: its manifest, and the constitution itself when the
    file still loads unchanged (else why not)."""

    manifest: dict
    constitution: Constitution | None
    why_not: str | None

    @classmethod
    def of(cls, run: ReportDir) -> Recorded:
        """What the run's critiques used (run.json), else what the eval used (report.json)."""
        manifest = (run.manifest or {}).get("constitution") or run.report.constitution.model_dump(exclude_unset=True)
        return cls(manifest, *_load_as_recorded(manifest))

    def defines(self, pid: str) -> bool | None:
        """Whether the constitution has this principle; None when it cannot be loaded to tell."""
        return None if self.constitution is None else pid in self.constitution.ids


def _load_as_recorded(manifest: dict) -> tuple[Constitution | None, str | None]:
    """(constitution, None) when the file is still there and unchanged, else (None, why not)."""
    path = manifest.get("path")
    if not path:
        return None, "the run does not record its constitution's path"
    name = path.removeprefix("builtin:")
    if not path.startswith("builtin:") and not Path(path).is_file():
        return None, f"{path} is gone"
    try:
        loaded = load_constitution(name)
    except UserError as exc:
        return None, f"{path} no longer loads ({exc.problem})"
    if manifest.get("sha256") and loaded.sha256 != manifest["sha256"]:
        return None, (
            f"{path} changed since the run (sha256 now {loaded.sha256[:12]}, the run used "
            f"{manifest['sha256'][:12]}), so what the run used cannot be shown"
        )
    return loaded.constitution, None


def constitution_change(a: Recorded, b: Recorded) -> dict:
    ma, mb = a.manifest, b.manifest
    result = {
        "a": {k: ma.get(k) for k in ("name", "version", "path", "sha256")},
        "b": {k: mb.get(k) for k in ("name", "version", "path", "sha256")},
    }
    if ma.get("sha256") and ma.get("sha256") == mb.get("sha256"):
        return {**result, "same": True, "added": [], "removed": [], "edited": [], "problems": []}
    problems = [f"A: {a.why_not}"] * bool(a.why_not) + [f"B: {b.why_not}"] * bool(b.why_not)
    if problems:
        return {**result, "same": False, "added": None, "removed": None, "edited": None, "problems": problems}
    assert a.constitution is not None and b.constitution is not None  # without one, its why_not made a problem above
    return {**result, "same": False, **diff_constitutions(a.constitution, b.constitution), "problems": []}


WHERE: dict[tuple[bool | None, bool | None], str] = {
    (True, True): "both",
    (True, False): "a",
    (False, True): "b",
    (False, False): "neither",
}


def defined_in(pid: str, a: Recorded, b: Recorded) -> str | None:
    """Which runs' constitutions define the principle: "both", "a", "b" or "neither" (a critique named a principle
    no constitution has); None when a constitution cannot be loaded to tell (the diff does not guess)."""
    return WHERE.get((a.defines(pid), b.defines(pid)))


def diff_runs(a: ReportDir, b: ReportDir) -> dict:
    ra, rb = a.report, b.report
    recorded_a, recorded_b = Recorded.of(a), Recorded.of(b)
    counts = {v: {"a": ra.counts.get(v, 0), "b": rb.counts.get(v, 0)} for v in VERDICTS}
    for entry in counts.values():
        entry["change"] = entry["b"] - entry["a"]
    principles = {}
    for pid in dict.fromkeys([*ra.principles, *rb.principles]):
        pa, pb = ra.principles.get(pid), rb.principles.get(pid)
        principles[pid] = {
            "in": defined_in(pid, recorded_a, recorded_b),
            "violations": {"a": pa.violations if pa else None, "b": pb.violations if pb else None},
            "change": {v: (pb.counts.get(v, 0) if pb else 0) - (pa.counts.get(v, 0) if pa else 0) for v in VERDICTS},
        }
    verdicts_a = {line.id: line.verdict for line in a.lines}
    verdicts_b = {line.id: line.verdict for line in b.lines}
    changed = [
        {"id": rid, "a": verdicts_a[rid], "b": verdicts_b[rid]}
        for rid in verdicts_a
        if rid in verdicts_b and verdicts_a[rid] != verdicts_b[rid]
    ]
    return {
        "a": str(a.path),
        "b": str(b.path),
        "total": {"a": ra.total, "b": rb.total},
        "counts": counts,
        "principles": principles,
        "changed_records": changed,
        "only_in_a": [rid for rid in verdicts_a if rid not in verdicts_b],
        "only_in_b": [rid for rid in verdicts_b if rid not in verdicts_a],
        "changed_labels": label_changes(a.path, b.path),
        "constitution": constitution_change(recorded_a, recorded_b),
    }


def label_changes(a: Path, b: Path) -> list[dict]:
    """Records whose human verdict (DIR/labels.jsonl, record level) differs between the runs; None where unlabelled."""
    human_a, human_b = record_verdicts(read_labels(a)), record_verdicts(read_labels(b))
    return [
        {"id": rid, "a": human_a.get(rid), "b": human_b.get(rid)}
        for rid in dict.fromkeys([*human_a, *human_b])
        if human_a.get(rid) != human_b.get(rid)
    ]


def _signed(n: int) -> str:
    return f"+{n}" if n > 0 else str(n)


def constitution_lines(change: dict) -> list[str]:
    lines = [
        f"{side.upper()}: {c['name']} v{c['version']} ({c['path']}, sha256 {str(c['sha256'])[:12]})"
        for side, c in (("a", change["a"]), ("b", change["b"]))
    ]
    if change["same"]:
        return lines + ["the same constitution file (identical sha256)"]
    if change["problems"]:
        return lines + [f"cannot compare principles: {p}" for p in change["problems"]]
    head = len(lines)
    lines += [f"added: {pid}" for pid in change["added"]]
    lines += [f"removed: {pid}" for pid in change["removed"]]
    lines += [f"edited: {e['id']} ({', '.join(e['changes'])})" for e in change["edited"]]
    if len(lines) == head:
        lines.append("the files differ but no principle did (only names, versions or defaults changed)")
    return lines


MARKS = {"a": " (only A)", "b": " (only B)", "neither": " (in neither)"}
LEGEND = (
    "found: violations the critique quoted, A→B · "
    + " · ".join(f"{short(v)} {v}" for v in VERDICTS)
    + " · (only A), (only B): only that run's constitution defines the principle · (in neither): no run's does"
)


def _principle_label(pid: str, entry: dict) -> str:
    return pid + MARKS.get(entry["in"], "")


def _found(violations: dict) -> str:
    return "→".join("–" if violations[side] is None else str(violations[side]) for side in ("a", "b"))


def _principle_table(principles: dict) -> Table:
    """Short column heads (spelled out in the caption) and numbers that never wrap, so the table fits 80 columns;
    when space runs out a long principle id wraps onto a second line instead of being cut."""
    table = Table(
        title="Per principle (B − A)",
        title_justify="left",
        caption=LEGEND,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0, 0, 1),
        pad_edge=False,
    )
    # A verdict no principle's count changed for is left out, so the ids keep their room at 80 columns.
    shown = [v for v in VERDICTS if any(entry["change"][v] for entry in principles.values())]
    rows = [
        [_found(entry["violations"]), *(_signed(entry["change"][v]) if entry["change"][v] else "·" for v in shown)]
        for entry in principles.values()
    ]
    table.add_column("principle", overflow="fold")
    for i, (head, colour) in enumerate([("found", None), *((short(v), style(v)) for v in shown)]):
        width = max([len(head), *(len(row[i]) for row in rows)])
        table.add_column(head, justify="right", style=colour, min_width=width, no_wrap=True)
    for (pid, entry), row in zip(principles.items(), rows):
        table.add_row(Text(printable(_principle_label(pid, entry))), *row)
    return table


def _verdict_table(counts: dict) -> Table:
    table = Table(title="Verdicts (A → B)", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (("verdict", "left"), ("A", "right"), ("B", "right"), ("change", "right"))
    for col, justify in columns:
        table.add_column(col, justify=justify)
    for v, entry in counts.items():
        table.add_row(Text(v, style=style(v)), str(entry["a"]), str(entry["b"]), _signed(entry["change"]))
    return table


def _records_table(changed: list[dict]) -> Table:
    table = Table()
    table.add_column("id", overflow="fold")
    table.add_column("A", no_wrap=True)
    table.add_column("B", no_wrap=True)
    for row in changed[:CHANGED_SHOWN]:
        table.add_row(Text(printable(row["id"])), Text(row["a"], style=style(row["a"])), Text(row["b"], style=style(row["b"])))
    return table


def terminal_diff(diff: dict) -> Group:
    changed = diff["changed_records"]
    parts: list[RenderableType] = [
        Text(printable(f"A: {diff['a']}")),
        Text(printable(f"B: {diff['b']}")),
        _verdict_table(diff["counts"]),
        _principle_table(diff["principles"]),
        Text(f"Records whose verdict changed ({len(changed)})", style="italic"),
    ]
    parts += [_records_table(changed)] if changed else []
    if len(changed) > CHANGED_SHOWN:
        parts.append(Text(f"… and {len(changed) - CHANGED_SHOWN} more (--format json lists all)"))
    if diff["only_in_a"] or diff["only_in_b"]:
        parts.append(Text(f"records only in A: {len(diff['only_in_a'])}; only in B: {len(diff['only_in_b'])}"))
    labels = diff.get("changed_labels") or []
    if labels:
        parts.append(
            Text(
                f"People's verdicts that differ ({len(labels)}): "
                + printable(", ".join(f"{r['id']} {r['a'] or '–'}→{r['b'] or '–'}" for r in labels[:CHANGED_SHOWN]))
            )
        )
    parts.append(Text("Constitution", style="bold"))
    parts += [Text(printable(line)) for line in constitution_lines(diff["constitution"])]
    return Group(*parts)


def markdown_diff(diff: dict) -> str:
    lines = [
        f"# Run diff: A {diff['a']} → B {diff['b']}",
        "",
        "## Verdicts",
        "",
        "| verdict | A | B | change |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {v} | {e['a']} | {e['b']} | {_signed(e['change'])} |" for v, e in diff["counts"].items()]
    lines += [
        "",
        "## Per principle (B − A)",
        "",
        "| principle | critique found A→B | " + " | ".join(VERDICTS) + " |",
        "|---|---:|" + "---:|" * len(VERDICTS),
    ]
    lines += [
        f"| {_principle_label(pid, e)} | {_found(e['violations'])} | "
        + " | ".join(_signed(e["change"][v]) for v in VERDICTS)
        + " |"
        for pid, e in diff["principles"].items()
    ]
    lines += ["", f"## Records whose verdict changed ({len(diff['changed_records'])})", "", "| id | A | B |", "|---|---|---|"]
    lines += [f"| {r['id']} | {r['a']} | {r['b']} |" for r in diff["changed_records"]]
    labels = diff.get("changed_labels") or []
    lines += ["", f"## People's verdicts that differ ({len(labels)})", "", "| id | A | B |", "|---|---|---|"]
    lines += [f"| {r['id']} | {r['a'] or '–'} | {r['b'] or '–'} |" for r in labels]
    lines += ["", "## Constitution", ""] + [f"- {line}" for line in constitution_lines(diff["constitution"])]
    return printable("\n".join(lines).replace("<", "&lt;") + "\n")
