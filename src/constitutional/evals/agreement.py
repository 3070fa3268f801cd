"""The eval's verdicts against labels (people's, or a labelled set's): confusion, precision and recall per verdict.

One code path for `cai eval --labels`, the report's `labels` block and benchmarks/eval_accuracy.py.
Pairs are (label, eval verdict).
"""

from __future__ import annotations

from collections import Counter

from constitutional.evals.lines import UNDECIDED, VERDICTS


def confusion(pairs: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """eval verdict -> label -> count."""
    table: dict[str, dict[str, int]] = {}
    for label, verdict in pairs:
        row = table.setdefault(verdict, {})
        row[label] = row.get(label, 0) + 1
    return table


def per_verdict(table: dict[str, dict[str, int]]) -> dict[str, dict]:
    """Precision: of the records the eval called V, the share labelled V; recall: of those labelled V, the share
    the eval called V. None where nothing was there to divide. `undecided` claims nothing, so it has neither (the
    confusion table still shows what people made of those records)."""
    seen = set(table) | {label for row in table.values() for label in row}
    out = {}
    for verdict in [v for v in VERDICTS if v in seen and v != UNDECIDED]:
        hit = table.get(verdict, {}).get(verdict, 0)
        said = sum(table.get(verdict, {}).values())
        truth = sum(row.get(verdict, 0) for row in table.values())
        out[verdict] = {
            "labelled": truth,
            "predicted": said,
            "precision": round(hit / said, 3) if said else None,
            "recall": round(hit / truth, 3) if truth else None,
        }
    return out


def markdown(title: str, pairs: list[tuple[str, str]]) -> str:
    """A Markdown table of precision and recall per verdict, with the accuracy and the confusions."""
    right = sum(a == b for a, b in pairs)
    out = [
        f"**{title}** — accuracy {right}/{len(pairs)} ({100 * right / max(1, len(pairs)):.0f}%)",
        "",
        "| verdict | labelled | predicted | precision | recall |",
        "|---|---:|---:|---:|---:|",
    ]
    for verdict, row in per_verdict(confusion(pairs)).items():
        shown = [f"{row[k]:.2f}" if row[k] is not None else "–" for k in ("precision", "recall")]
        out.append(f"| {verdict} | {row['labelled']} | {row['predicted']} | {shown[0]} | {shown[1]} |")
    misses = [f"{a}→{b} ×{n}" for (a, b), n in sorted(Counter(pairs).items()) if a != b]
    return "\n".join(out + ["", f"confusions: {', '.join(misses) or 'none'}", ""])
