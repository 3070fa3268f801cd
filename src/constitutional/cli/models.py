"""`cai models`: the providers, how to name them, and whether each is ready to use."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from constitutional.errors import install_fix
from constitutional.models.registry import PROVIDERS, provider_available


def models() -> None:
    """List model providers and the spec strings that select them."""
    table = Table(title="model providers")
    for column in ("provider", "spec", "ready", "what"):
        table.add_column(column)
    for provider in PROVIDERS.values():
        ready = "yes" if provider_available(provider) else f"no: {install_fix(provider.name)}"
        table.add_row(provider.name, provider.forms, ready, provider.summary)
    Console().print(table)
