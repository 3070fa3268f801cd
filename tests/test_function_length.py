"""Functions stay short: no function or method in the package is over 60 lines, from its `def` to its last line."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "constitutional"
MOST_LINES = 60


def functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method with its qualified name (Class.method, outer.<locals>.inner), nested ones too."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + node.name, node
            yield from functions(node, f"{prefix}{node.name}.<locals>.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def lengths(source: str) -> dict[str, int]:
    """Lines of each function in `source`: from its `def` line (not its decorators) to its last line."""
    return {name: node.end_lineno - node.lineno + 1 for name, node in functions(ast.parse(source))}


def where(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=where)
def test_no_function_is_over_60_lines(path):
    too_long = {name: n for name, n in lengths(path.read_text("utf-8")).items() if n > MOST_LINES}
    assert not too_long, "; ".join(
        f"{where(path)}: {name} is {n} lines (at most {MOST_LINES}, from its def to its last line)"
        for name, n in too_long.items()
    )


def test_the_count_runs_from_the_def_line_to_the_last_line_and_reaches_methods_and_nested_functions():
    source = (
        "@decorated\ndef f():\n    def inner():\n        pass\n    return 1\n\n\nclass C:\n    async def m(self):\n        pass\n"
    )
    assert lengths(source) == {"f": 4, "f.<locals>.inner": 2, "C.m": 2}
