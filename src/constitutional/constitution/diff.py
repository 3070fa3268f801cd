"""What changed between two constitutions, principle by principle (for `cai report diff`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from constitutional.constitution.model import Constitution


def diff_constitutions(a: Constitution, b: Constitution) -> dict:
    """Principles added in `b`, removed from `a`, and edited (field by field, before and after).

    Returns {"added": [ids], "removed": [ids], "edited": [{"id", "changes": {field: {"before", "after"}}}]},
    ids in the order of the constitution they come from.
    """
    before = {p.id: p.model_dump(mode="json") for p in a.principles}
    after = {p.id: p.model_dump(mode="json") for p in b.principles}
    edited = []
    for pid, new in after.items():
        old = before.get(pid)
        if old is None or old == new:
            continue
        changes = {f: {"before": old[f], "after": new[f]} for f in new if old[f] != new[f]}
        edited.append({"id": pid, "changes": changes})
    return {
        "added": [pid for pid in after if pid not in before],
        "removed": [pid for pid in before if pid not in after],
        "edited": edited,
    }
