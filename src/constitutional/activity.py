"""What the job is doing right now, for a front end to show before any record has finished: the steps in flight
("drafting 2", "loading the local model"). Any layer may report a step; only a front end reads them."""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

_lock = threading.Lock()
_in_flight: Counter[str] = Counter()
_order: dict[str, int] = {}  # steps in the order first seen: the line reads in the job's order


@contextmanager
def step(name: str) -> Iterator[None]:
    """Count `name` as in flight while the block runs (from any thread or task)."""
    with _lock:
        _in_flight[name] += 1
        _order.setdefault(name, len(_order))
    try:
        yield
    finally:
        with _lock:
            _in_flight[name] -= 1
            if _in_flight[name] <= 0:
                del _in_flight[name]


def now() -> str:
    """The steps in flight, e.g. "drafting 2 · critiquing 1", or "" when none is."""
    with _lock:
        shown = sorted(_in_flight.items(), key=lambda item: _order[item[0]])
    return " · ".join(name if count == 1 and not name.endswith("ing") else f"{name} {count}" for name, count in shown)
