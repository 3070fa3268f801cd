"""Spec strings → providers. Providers are imported only when used, so a missing SDK never breaks import."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from constitutional.errors import UserError, did_you_mean, install_fix, nearest

if TYPE_CHECKING:
    from constitutional.models.base import ChatModel


@dataclass(frozen=True)
class Provider:
    name: str
    target: str  # "module:Class"
    forms: str  # how a spec for it is written
    summary: str
    requires: str | None = None  # import name of the optional SDK
    options: tuple[str, ...] = ()  # keyword options its from_spec accepts, e.g. base_url
    model_prefixes: tuple[str, ...] = ()  # how its model names start, to suggest `openai/gpt-4o` for `gpt-4o`
    runs_code: bool = False  # its spec names code to import: taken from the command line only, never from a file
    # What a spec of it with an argument (a path, a module) would make this process do; such a spec is taken from the
    # command line only, never from a file someone else may have written (run.json). "": any spec of it may come from one.
    from_command_line: str = ""


PROVIDERS = {
    p.name: p
    for p in [
        Provider(
            "local",
            "constitutional.models.local:LocalModel",
            "local | local:PATH.gguf",
            "bundled SmolLM2-135M-Instruct (offline) or any GGUF file, via llama-cpp-python",
            "llama_cpp",
            from_command_line="would load that model file through llama.cpp",
        ),
        Provider(
            "scripted",
            "constitutional.models.scripted:ScriptedModel",
            "scripted:PATH",
            "canned replies from a YAML/JSON file, for tests and demos",
            from_command_line="would answer with that file's canned replies and append its call log where the file says",
        ),
        Provider(
            "openai",
            "constitutional.models.openai_provider:OpenAIModel",
            "openai/MODEL",
            "OpenAI API, or any OpenAI-compatible server via --model-base-url / OPENAI_BASE_URL (vLLM, Ollama, llama.cpp)",
            "openai",
            ("base_url", "timeout", "max_reply_bytes"),
            ("gpt-", "chatgpt-", "o1", "o3", "o4"),
        ),
        Provider(
            "anthropic",
            "constitutional.models.anthropic_provider:AnthropicModel",
            "anthropic/MODEL",
            "Anthropic Messages API (ANTHROPIC_API_KEY; ANTHROPIC_BASE_URL honoured)",
            "anthropic",
            ("base_url", "timeout", "max_reply_bytes"),
            ("claude",),
        ),
        Provider(
            "langchain",
            "constitutional.models.langchain_provider:LangChainModel",
            "langchain:MODULE:ATTR",
            "any langchain-core chat model (an instance, or a class/function returning one)",
            "langchain_core",
            runs_code=True,
            from_command_line="would import code",
        ),
    ]
}


def parse_spec(spec: str) -> tuple[str, str | None]:
    """`local` → (local, None); `local:x.gguf` → (local, x.gguf); `openai/gpt-4o` → (openai, gpt-4o)."""
    spec = spec.strip()
    cut = min((i for i in (spec.find(":"), spec.find("/")) if i != -1), default=-1)
    if cut == -1:
        return spec, None
    return spec[:cut], spec[cut + 1 :] or None


def runs_code(spec: str) -> bool:
    """Whether making the model of `spec` imports or runs code the spec names (`langchain:MODULE:ATTR`)."""
    provider = PROVIDERS.get(parse_spec(spec)[0])
    return provider is not None and provider.runs_code


def command_line_only(spec: str) -> str | None:
    """What making the model of `spec` would do that only a person at the command line may choose (import code, load
    a model file, reply from a file of canned answers), or None for a spec a file may name (`local`, the bundled
    model; `openai/MODEL`; an unknown spec, refused when it is made)."""
    name, arg = parse_spec(spec)
    provider = PROVIDERS.get(name)
    if provider is None or not provider.from_command_line or (arg is None and not provider.runs_code):
        return None
    return provider.from_command_line


def create_model(spec: str, **options: Any) -> ChatModel:
    provider, arg = find_provider(spec), parse_spec(spec)[1]
    options = {key: value for key, value in options.items() if value is not None}
    unsupported = sorted(set(options) - set(provider.options))
    if unsupported:
        takers = ", ".join(p.name for p in PROVIDERS.values() if set(unsupported) <= set(p.options)) or "none"
        raise UserError(
            f"model '{spec}' does not take {', '.join(unsupported)}", fix=f"drop it, or use a provider that does ({takers})"
        )
    model = provider_class(spec).from_spec(arg, **options)
    model.spec = spec
    return model


def check_spec(spec: str) -> None:
    """Refuse, before any work, a spec that cannot make a model: an unknown provider, a missing SDK, an argument its
    provider can see is unusable (`local:` a file that is not a GGUF model). Nothing is loaded or reached."""
    provider_class(spec).check_spec(parse_spec(spec)[1])


def find_provider(spec: str) -> Provider:
    name = parse_spec(spec)[0]
    provider = PROVIDERS.get(name)
    if provider is None and name.lower() in ("http", "https"):
        raise UserError(
            f"'{spec}' is a server URL, not a model spec",
            fix=f"name the model and give the server apart: --model openai/MODEL --model-base-url {spec.strip()}",
        )
    if provider is None:
        known = "\n".join(f"    {p.forms:<28} {p.summary}" for p in PROVIDERS.values())
        raise UserError(f"unknown model spec '{spec}'", fix=did_you_mean(_meant(spec, name), f"use one of these forms:\n{known}"))
    return provider


def provider_class(spec: str) -> type[ChatModel]:
    """The ChatModel class behind `spec` (its module imported now), e.g. to read its `capabilities`."""
    provider = find_provider(spec)
    module_name, class_name = provider.target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(
            f"model '{spec}' needs a package that is not installed ({exc.name})",
            fix=install_fix(provider.name),
        ) from None
    return getattr(module, class_name)


def _meant(spec: str, name: str) -> str | None:
    """The spec a near miss meant: `antropic/x` → `anthropic/x`, `gpt-4o-mini` → `openai/gpt-4o-mini`."""
    spec = spec.strip()
    close = nearest(name.lower(), PROVIDERS)
    if close:
        return close + spec[len(name) :]
    owner = next((p for p in PROVIDERS.values() if p.model_prefixes and name.lower().startswith(p.model_prefixes)), None)
    return f"{owner.name}/{spec}" if owner else None


def provider_available(provider: Provider) -> bool:
    """Whether the provider's module and every package it needs import (the SDK alone may be there without them)."""
    if provider.requires is not None and importlib.util.find_spec(provider.requires) is None:
        return False
    try:
        importlib.import_module(provider.target.split(":")[0])
    except ImportError:
        return False
    return True
