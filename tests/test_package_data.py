"""Every data file of the package (templates, lexicons, the fast scorer's weights, confidence.yaml, built-in
constitutions, red-team seeds, report assets) is declared as package data, so the wheel holds it.
scripts/check_wheel lists a built wheel to the same end; this catches a new file not declared, in the fast suite."""

import tomllib
from fnmatch import fnmatch
from importlib.resources import files

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "src" / "constitutional"
DECLARED = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["package-data"]["constitutional"]
DATA = sorted(
    p.relative_to(PACKAGE).as_posix()
    for p in PACKAGE.rglob("*")
    if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts
)


def test_the_package_has_the_data_files_it_is_known_to_need():
    for name in [
        "prompts/templates/revise.txt",
        "evals/data/veneer.yaml",
        "evals/data/fast_scorer.npz",
        "evals/data/confidence.yaml",
        "constitution/builtin/default.yaml",
        "redteam/data/seeds.jsonl",
        "reports/templates/report.js",
    ]:
        assert name in DATA


@pytest.mark.parametrize("name", DATA)
def test_each_data_file_is_declared_and_readable_as_a_resource(name):
    assert any(fnmatch(name, pattern) for pattern in DECLARED), f"add {name} to [tool.setuptools.package-data]"
    assert files("constitutional").joinpath(name).read_bytes()
