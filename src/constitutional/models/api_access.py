"""Where an API provider sends requests, and with which key: the same rules for every SDK."""

from __future__ import annotations

import os

from constitutional.errors import UserError

NO_KEY = "no-key-needed"  # local servers ignore the key, but the SDKs insist on one


def server(base_url: str | None, base_url_env: str) -> str | None:
    """The server a provider's requests go to: the flag's, else the environment's; None for the SDK's default."""
    return base_url or os.environ.get(base_url_env) or None


def endpoint_and_key(
    provider: str, model: str | None, example: str, key_env: str, base_url_env: str, base_url: str | None
) -> tuple[str | None, str]:
    """The base URL (flag, else environment, else the SDK's default) and the API key (environment only)."""
    if not model:
        raise UserError(f"'{provider}' needs a model name", fix=f"write the spec as {provider}/MODEL, e.g. {example}")
    base_url = server(base_url, base_url_env)
    api_key = os.environ.get(key_env) or (NO_KEY if base_url else None)
    if api_key is None:
        raise UserError(
            f"{key_env} is not set",
            fix=f"export {key_env}=<your key>, or give --model-base-url (or {base_url_env}) for a local server that needs no key",
        )
    return base_url, api_key
