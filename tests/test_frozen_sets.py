"""The frozen held-out eval sets are byte for byte what was first measured (their SHA256SUMS)."""

import hashlib

import pytest

from tests.helpers import DATA

FROZEN = sorted(DATA.glob("*/SHA256SUMS"))


def test_there_are_frozen_sets():
    assert {p.parent.name for p in FROZEN} >= {"heldout", "heldout3", "heldout4"}


@pytest.mark.parametrize("sums", FROZEN, ids=lambda p: p.parent.name)
def test_a_frozen_set_is_unchanged(sums):
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((sums.parent / name).read_bytes()).hexdigest() == digest, f"{sums.parent.name}/{name} changed"
