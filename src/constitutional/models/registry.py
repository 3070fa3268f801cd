"""Spec strings → providers. Providers are imported only when used, so a missing SDK never breaks import."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from constitutional.errors import UserError
from constitutional.models.base import ChatModel


@dataclass(frozen=True)
class Provider:
    name: str
    target: str  # "module:Class"
    forms: str  # how a spec for it is written
    summary: str
    requires: str | None = None  # import name of the optional SDK


PROVIDERS = {
    p.name: p
    for p in [
        Provider("local", "constitutional.models.local:LocalModel", "local | local:PATH.gguf",
                 "bundled SmolLM2-135M-Instruct (offline) or any GGUF file, via llama-cpp-python", "llama_cpp"),
        Provider("scripted", "constitutional.models.scripted:ScriptedModel", "scripted:PATH",
                 "canned replies from a YAML/JSON file, for tests and demos"),
    ]
}


def parse_spec(spec: str) -> tuple[str, str | None]:
    """`local` → (local, None); `local:x.gguf` → (local, x.gguf); `openai/gpt-4o` → (openai, gpt-4o)."""
    spec = spec.strip()
    cut = min((i for i in (spec.find(":"), spec.find("/")) if i != -1), default=-1)
    if cut == -1:
        return spec, None
    return spec[:cut], spec[cut + 1 :] or None


def create_model(spec: str, **options) -> ChatModel:
    name, arg = parse_spec(spec)
    provider = PROVIDERS.get(name)
    if provider is None:
        known = "\n".join(f"    {p.forms:<28} {p.summary}" for p in PROVIDERS.values())
        raise UserError(f"unknown model spec '{spec}'", fix=f"use one of these forms:\n{known}")
    module_name, class_name = provider.target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(
            f"model '{spec}' needs a package that is not installed ({exc.name})",
            fix=f"pip install 'constitutional[{name}]'",
        ) from None
    model = getattr(module, class_name).from_spec(arg, **options)
    model.spec = spec
    return model


def provider_available(provider: Provider) -> bool:
    if provider.requires is None:
        return True
    return importlib.util.find_spec(provider.requires) is not None
