"""constitutional: critique-and-revise over prompt sets, and an eval that sees through veneer."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("constitutional")  # the one place it is set is pyproject.toml
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
