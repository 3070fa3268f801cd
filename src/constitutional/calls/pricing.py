"""USD prices per million tokens, from the bundled table or a user file that overrides it."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs
import yaml

from constitutional.errors import UserError
from constitutional.settings import PRICES_ENV, bad_value, read_settings

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from constitutional.models.base import Usage


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cached_input: float | None = None
    batch: float = 0.5  # the share of the price paid through a provider's batch API (OpenAI's and Anthropic's: half)

    def cost(self, usage: Usage, batched: bool = False) -> float:
        cached = usage.cached_tokens
        cached_rate = self.input if self.cached_input is None else self.cached_input
        listed = ((usage.input_tokens - cached) * self.input + cached * cached_rate + usage.output_tokens * self.output) / 1e6
        return listed * self.batch if batched else listed


def user_prices_path() -> Path:
    """The file named by CONSTITUTIONAL_PRICES, else prices.yaml in the user config folder (read if it exists)."""
    return read_settings().prices_file or Path(platformdirs.user_config_dir("constitutional")) / "prices.yaml"


def load_prices(path: Path | None = None) -> dict[str, Price]:
    """The built-in table, updated from the price file `path` (CallSettings.prices: the one CONSTITUTIONAL_PRICES
    names, resolved by the driver), else from the user's price file if there is one."""
    table = _read(resources.files("constitutional.calls") / "prices.yaml", "built-in price table")
    named = path or read_settings().prices_file
    if named is not None and not named.is_file():
        raise bad_value(PRICES_ENV, named, "is a folder, not a price file" if named.is_dir() else "names no file")
    user = named or user_prices_path()
    if user.is_file():
        table.update(_read(user, f"{user} (named by {PRICES_ENV})" if named else str(user)))
    return table


def _read(source: Traversable, shown: str) -> dict[str, Price]:
    try:
        data = yaml.safe_load(source.read_text("utf-8")) or {}
        return {name: Price(**value) for name, value in data.items()}
    except FileNotFoundError:
        raise UserError(f"price file not found: {shown}", fix=f"create it or unset {PRICES_ENV}") from None
    except (yaml.YAMLError, TypeError, AttributeError) as exc:
        raise UserError(
            f"invalid price file: {exc}",
            where=shown,
            fix="write one mapping per model: `MODEL: {input: USD_per_Mtok, output: USD_per_Mtok, cached_input: USD_per_Mtok}` "
            "(optional `batch: 0.5`, the share of the price paid through a batch API)",
        ) from None


def price_for(spec: str, table: dict[str, Price]) -> Price | None:
    """Exact spec first (`openai/gpt-4o-mini`), then the model name alone (`gpt-4o-mini`), then the provider."""
    name = spec.split("/", 1)[-1] if "/" in spec else spec
    provider = spec.split("/", 1)[0].split(":", 1)[0]
    return table.get(spec) or table.get(name) or table.get(provider)
