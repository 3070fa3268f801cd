"""`cai --version` prints the installed distribution's version, the one pyproject.toml sets."""

import tomllib

from typer.testing import CliRunner

from constitutional import __version__
from constitutional.cli.app import app
from tests.helpers import ROOT


def test_version_is_the_one_pyproject_sets():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    assert __version__ == declared


def test_cai_version_prints_it_and_exits_0():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"cai {__version__}\n"
