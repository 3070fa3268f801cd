"""Compare two evaluated runs (e.g. before and after a constitution edit): verdict counts, per principle,
records whose verdict changed, and what changed in the constitution."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from constitutional.constitution import load_constitution
from constitutional.constitution.diff import diff_constitutions
from constitutional.errors import UserError
from constitutional.evals.render_data import ReportDir
from constitutional.evals.render_text import COLOURS
from constitutional.evals.verdicts import VERDICTS

CHANGED_SHOWN = 50


def _constitution_manifest(run: ReportDir) -> dict:
    """What the run's critiques used (run.json), else what the eval used (report.json)."""
    return (run.manifest or {}).get("constitution") or run.report.get("constitution") or {}


def _load_as_recorded(manifest: dict):
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
        return None, (f"{path} changed since the run (sha256 now {loaded.sha256[:12]}, the run used "
                      f"{manifest['sha256'][:12]}), so what the run used cannot be shown")
    return loaded.constitution, None


def constitution_change(a: ReportDir, b: ReportDir) -> dict:
    ma, mb = _constitution_manifest(a), _constitution_manifest(b)
    result = {"a": {k: ma.get(k) for k in ("name", "version", "path", "sha256")},
              "b": {k: mb.get(k) for k in ("name", "version", "path", "sha256")}}
    if ma.get("sha256") and ma.get("sha256") == mb.get("sha256"):
        return {**result, "same": True, "added": [], "removed": [], "edited": [], "problems": []}
    ca, why_a = _load_as_recorded(ma)
    cb, why_b = _load_as_recorded(mb)
    problems = [f"A: {why_a}"] * bool(why_a) + [f"B: {why_b}"] * bool(why_b)
    if problems:
        return {**result, "same": False, "added": None, "removed": None, "edited": None, "problems": problems}
    return {**result, "same": False, **diff_constitutions(ca, cb), "problems": []}


def diff_runs(a: ReportDir, b: ReportDir) -> dict:
    ra, rb = a.report, b.report
    counts = {v: {"a": ra["counts"].get(v, 0), "b": rb["counts"].get(v, 0)} for v in VERDICTS}
    for entry in counts.values():
        entry["change"] = entry["b"] - entry["a"]
    principles = {}
    for pid in dict.fromkeys([*ra.get("principles", {}), *rb.get("principles", {})]):
        pa, pb = ra["principles"].get(pid), rb["principles"].get(pid)
        principles[pid] = {
            "in": "both" if pa and pb else ("a" if pa else "b"),
            "violations": {"a": (pa or {}).get("violations"), "b": (pb or {}).get("violations")},
            "change": {v: (pb or {}).get("counts", {}).get(v, 0) - (pa or {}).get("counts", {}).get(v, 0) for v in VERDICTS},
        }
    verdicts_a = {str(line["id"]): line["verdict"] for line in a.lines}
    verdicts_b = {str(line["id"]): line["verdict"] for line in b.lines}
    changed = [{"id": rid, "a": verdicts_a[rid], "b": verdicts_b[rid]}
               for rid in verdicts_a if rid in verdicts_b and verdicts_a[rid] != verdicts_b[rid]]
    return {
        "a": str(a.path), "b": str(b.path),
        "total": {"a": ra["total"], "b": rb["total"]},
        "counts": counts,
        "principles": principles,
        "changed_records": changed,
        "only_in_a": [rid for rid in verdicts_a if rid not in verdicts_b],
        "only_in_b": [rid for rid in verdicts_b if rid not in verdicts_a],
        "constitution": constitution_change(a, b),
    }


def _signed(n: int) -> str:
    return f"+{n}" if n > 0 else str(n)


def constitution_lines(change: dict) -> list[str]:
    a, b = change["a"], change["b"]
    head = f"A: {a['name']} v{a['version']} ({a['path']}, sha256 {str(a['sha256'])[:12]})  →  " \
           f"B: {b['name']} v{b['version']} ({b['path']}, sha256 {str(b['sha256'])[:12]})"
    if change["same"]:
        return [head, "the same constitution file (identical sha256)"]
    if change["problems"]:
        return [head] + [f"cannot compare principles: {p}" for p in change["problems"]]
    lines = [head]
    lines += [f"added: {pid}" for pid in change["added"]]
    lines += [f"removed: {pid}" for pid in change["removed"]]
    lines += [f"edited: {e['id']} ({', '.join(e['changes'])})" for e in change["edited"]]
    if len(lines) == 1:
        lines.append("the files differ but no principle did (only names, versions or defaults changed)")
    return lines


def terminal_diff(diff: dict) -> Group:
    verdicts = Table(title=f"Verdicts: A {diff['a']} → B {diff['b']}", title_justify="left")
    for col, justify in (("verdict", "left"), ("A", "right"), ("B", "right"), ("change", "right")):
        verdicts.add_column(col, justify=justify)
    for v, entry in diff["counts"].items():
        verdicts.add_row(Text(v, style=COLOURS[v]), str(entry["a"]), str(entry["b"]), _signed(entry["change"]))
    principles = Table(title="Per principle (B − A)", title_justify="left")
    principles.add_column("principle")
    principles.add_column("critique found A→B", justify="right")
    for v in VERDICTS:
        principles.add_column(v.replace("_", " "), justify="right", style=COLOURS[v])
    for pid, entry in diff["principles"].items():
        found = entry["violations"]
        principles.add_row(escape(pid) + ("" if entry["in"] == "both" else f" (only {entry['in'].upper()})"),
                           f"{found['a'] if found['a'] is not None else '–'}→{found['b'] if found['b'] is not None else '–'}",
                           *(_signed(entry["change"][v]) if entry["change"][v] else "·" for v in VERDICTS))
    records = Table(title=f"Records whose verdict changed ({len(diff['changed_records'])})", title_justify="left")
    records.add_column("id")
    records.add_column("A")
    records.add_column("B")
    for row in diff["changed_records"][:CHANGED_SHOWN]:
        records.add_row(escape(row["id"]), Text(row["a"], style=COLOURS[row["a"]]), Text(row["b"], style=COLOURS[row["b"]]))
    parts = [verdicts, principles, records]
    if len(diff["changed_records"]) > CHANGED_SHOWN:
        parts.append(Text(f"… and {len(diff['changed_records']) - CHANGED_SHOWN} more (--format json lists all)"))
    if diff["only_in_a"] or diff["only_in_b"]:
        parts.append(Text(f"records only in A: {len(diff['only_in_a'])}; only in B: {len(diff['only_in_b'])}"))
    parts.append(Text("Constitution", style="bold"))
    parts += [Text(line) for line in constitution_lines(diff["constitution"])]
    return Group(*parts)


def markdown_diff(diff: dict) -> str:
    lines = [f"# Run diff: A {diff['a']} → B {diff['b']}", "", "## Verdicts", "", "| verdict | A | B | change |", "|---|---:|---:|---:|"]
    lines += [f"| {v} | {e['a']} | {e['b']} | {_signed(e['change'])} |" for v, e in diff["counts"].items()]
    lines += ["", "## Per principle (B − A)", "", "| principle | " + " | ".join(VERDICTS) + " |", "|---|" + "---:|" * len(VERDICTS)]
    lines += [f"| {pid} | " + " | ".join(_signed(e["change"][v]) for v in VERDICTS) + " |" for pid, e in diff["principles"].items()]
    lines += ["", f"## Records whose verdict changed ({len(diff['changed_records'])})", "", "| id | A | B |", "|---|---|---|"]
    lines += [f"| {r['id']} | {r['a']} | {r['b']} |" for r in diff["changed_records"]]
    lines += ["", "## Constitution", ""] + [f"- {line}" for line in constitution_lines(diff["constitution"])]
    return "\n".join(lines).replace("<", "&lt;") + "\n"
