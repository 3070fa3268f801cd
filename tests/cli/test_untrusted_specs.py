"""Opening someone else's run directory never runs their code: a spec that imports code (`langchain:MODULE:ATTR`)
is taken from the command line only, never from run.json."""

import json
import subprocess
import sys

from constitutional.models.registry import PROVIDERS, runs_code
from tests.helpers import DATA, ROOT, write

PLANTED = "langchain:planted_judge:chat"


def plant_run(tmp_path, **manifest):
    """A run directory whose run.json names a judge in a module that, once imported, leaves a file behind."""
    out = tmp_path / "run"
    out.mkdir()
    write(tmp_path / "planted_judge.py", "import pathlib\npathlib.Path('IMPORTED').write_text('ran')\nchat = None\n")
    write(out / "records.jsonl", json.dumps({"id": "a", "prompt": "q", "draft": "d", "final": "f"}) + "\n")
    write(out / "run.json", json.dumps({"schema_version": 1, "model": "local", "judge": PLANTED, **manifest}))
    return out


def cai(tmp_path, *args):
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT / "src"),
        "CONSTITUTIONAL_CACHE_DIR": str(tmp_path / "cache"),
        "CONSTITUTIONAL_SCORER": "none",
        "HOME": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "constitutional", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )


def test_eval_refuses_a_judge_from_run_json_that_would_import_code(tmp_path):
    out = plant_run(tmp_path)
    result = cai(tmp_path, "eval", out)
    assert result.returncode == 2, result.stderr
    assert "would import code" in result.stderr and f"--judge {PLANTED}" in result.stderr and "--judge none" in result.stderr
    assert not (tmp_path / "IMPORTED").exists()
    assert cai(tmp_path, "eval", out, "--judge", "none").returncode in (0, 1)
    assert not (tmp_path / "IMPORTED").exists()


def test_eval_refuses_a_model_from_run_json_that_would_import_code(tmp_path):
    out = plant_run(tmp_path, model=PLANTED, judge=None)  # no judge: the model would be the judge
    result = cai(tmp_path, "eval", out)
    assert result.returncode == 2 and "names the model" in result.stderr
    assert not (tmp_path / "IMPORTED").exists()


def test_run_resume_never_takes_a_model_from_run_json(tmp_path):
    out = plant_run(tmp_path, model=PLANTED)
    prompts = write(tmp_path / "p.txt", "q\n")
    spec = f"scripted:{DATA / 'scripted_basic.yaml'}"
    changed = cai(tmp_path, "run", prompts, "-m", spec, "-o", out, "--no-eval", "-q")
    assert changed.returncode == 2 and "different job" in changed.stderr
    forced = cai(tmp_path, "run", prompts, "-m", spec, "-o", out, "--no-eval", "-q", "--force")
    assert forced.returncode == 0, forced.stderr  # resumed with the model given here
    assert not (tmp_path / "IMPORTED").exists()


def test_only_the_code_loading_providers_are_marked():
    assert runs_code("langchain:m:attr") and not runs_code("local") and not runs_code("openai/gpt-4o-mini")
    assert not runs_code("scripted:x.yaml") and not runs_code("nonsense")
    assert [p.name for p in PROVIDERS.values() if p.runs_code] == ["langchain"]
