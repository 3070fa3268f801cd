"""constitutional: critique-and-revise over prompt sets, and an eval that sees through veneer."""

__version__ = "0.1.0"
