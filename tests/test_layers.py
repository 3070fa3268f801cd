"""Packages import downward only: the leaf modules import nothing of ours but the leaves, models know nothing of
the call layer, the call layer nothing of the pipeline or the eval, the pipeline nothing of the eval, the eval nothing
of the pipeline or its reports, and no command of the CLI imports another."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "constitutional"
LEAVES = {"errors", "text", "rundir", "manifest", "concurrency", "settings"}
FORBIDDEN = {  # package → packages it must never import
    "models": {"calls", "pipeline", "evals", "reports", "cli", "export", "constitution", "record"},
    "calls": {"pipeline", "evals", "reports", "cli", "export", "constitution", "record"},  # every model call, below both
    "record": {"calls", "pipeline", "evals", "reports", "cli", "export", "constitution"},  # the record file's model, read by all
    "constitution": {"calls", "pipeline", "evals", "reports", "cli", "export", "models"},
    "pipeline": {"evals", "reports", "cli", "export"},
    "evals": {"pipeline", "reports", "cli"},  # deciding: it presents nothing and runs no job
    "reports": {"pipeline", "cli", "export"},  # presenting: above evals
    "export": {"cli", "pipeline", "reports"},
    **{
        leaf: {"models", "calls", "pipeline", "evals", "reports", "cli", "export", "constitution", "prompts", "record"}
        for leaf in LEAVES
    },
}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("constitutional."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("constitutional."))
    return found


def package(path: Path) -> str:
    return path.relative_to(SRC).with_suffix("").parts[0]


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_a_module_imports_only_downward(path):
    banned = FORBIDDEN.get(package(path), set())
    wrong = sorted(m for m in imports(path) if m.split(".")[1] in banned)
    assert not wrong, f"{path.relative_to(SRC)} imports {wrong}"


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_another_modules_private_names(path):
    tree = ast.parse(path.read_text("utf-8"))
    private = sorted(
        f"{node.module}.{a.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("constitutional")
        for a in node.names
        if a.name.startswith("_") and not a.name.startswith("__")
    )
    assert not private, f"{path.relative_to(SRC)} imports private names {private}"
