"""Packages import downward only: the leaf modules import nothing of ours but the leaves, models know nothing of
the call layer, the call layer nothing of the pipeline or the eval, the pipeline nothing of the eval, the eval nothing
of the pipeline or its reports, and no command of the CLI imports another."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "constitutional"
LEAVES = {"errors", "text", "rundir", "manifest", "concurrency", "settings", "ray_shards"}
FORBIDDEN = {  # package → packages it must never import
    "models": {"calls", "pipeline", "evals", "reports", "cli", "export", "constitution", "record"},
    "calls": {"pipeline", "evals", "reports", "cli", "export", "constitution", "record"},  # every model call, below both
    "record": {"calls", "pipeline", "evals", "reports", "cli", "export", "constitution"},  # the record file's model, read by all
    "constitution": {"calls", "pipeline", "evals", "reports", "cli", "export", "models"},
    "pipeline": {"evals", "reports", "cli", "export"},
    "evals": {"pipeline", "reports", "cli"},  # deciding: it presents nothing and runs no job
    "reports": {"pipeline", "cli", "export"},  # presenting: above evals
    "export": {"cli", "pipeline", "reports"},
    "redteam": {"pipeline", "reports", "cli", "export"},  # attacks the eval in-process: above evals, below the CLI
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


SHARED_CLI = {"common", "progress", "options", "eval_stage"}  # helpers for the commands: errors, bars, options, the eval


@pytest.mark.parametrize("path", sorted((SRC / "cli").glob("*.py")), ids=lambda p: p.name)
def test_no_command_module_imports_another(path):
    """A command's module imports the shared helpers of cli/, never another command's module (the app assembles them)."""
    if path.name == "app.py":
        return
    siblings = sorted(m for m in imports(path) if m.startswith("constitutional.cli.") and m.split(".")[2] not in SHARED_CLI)
    assert not siblings, f"cli/{path.name} imports {siblings}"


def test_the_eval_imports_nothing_of_the_executors_and_reports_sit_above_it():
    evals = {m for path in (SRC / "evals").rglob("*.py") for m in imports(path)}
    assert not {m for m in evals if m.startswith(("constitutional.pipeline", "constitutional.reports"))}
    reports = {m for path in (SRC / "reports").rglob("*.py") for m in imports(path)}
    assert any(m.startswith("constitutional.evals") for m in reports)
