"""End to end on the real bundled model (slow: loads the GGUF file and generates)."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def test_cai_run_on_the_bundled_model(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "constitutional",
            "run",
            str(ROOT / "examples/prompts/quickstart.jsonl"),
            "--out",
            str(out),
            "--no-eval",
            "--limit",
            "2",
            "--max-tokens",
            "96",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        assert record["draft"].strip()
        assert record["usage"]["calls"] >= 2 and record["usage"]["output_tokens"] > 0
        if record["error"] is None:
            critique = record["steps"][0]["critique"]
            assert isinstance(critique["needs_revision"], bool)
            assert record["final"].strip()
    # The constrained critique must parse on the real model for at least one prompt.
    assert any(r["error"] is None and r["steps"] for r in records), [r["error"] for r in records]
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["constitution"]["name"] == "default" and len(manifest["constitution"]["sha256"]) == 64


@pytest.mark.parametrize("threads", ["1", "2"])
def test_the_bundled_model_uses_omp_num_threads_when_set(threads):
    code = (
        "from constitutional.models.local import _load, bundled_model_path\n"
        "llm = _load(bundled_model_path(), 512)\n"
        "print(llm.context_params.n_threads, llm.context_params.n_threads_batch)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": threads}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [threads, threads]
