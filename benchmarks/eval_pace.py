"""Does the eval keep pace with generation? One `cai run` against a local OpenAI stand-in, as a user types it.

    python benchmarks/eval_pace.py [--prompts N] [--scorer SPEC]

The stand-in answers every request after 100 ms; the run has --concurrency 64 and otherwise the defaults, with
`--judge none`: a judge's pace is its provider's (three to five calls a record, measured by throughput.py), while
this measures what the eval itself costs (the signals and the default scorer). Prints generation records/s (run.json's
run_seconds) and eval records/s (report.json's eval_seconds), measured in this one run, and their ratio (target ≥ 1.0:
the eval is at least as fast as the generation it follows).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from throughput import ONE_PRINCIPLE, start_standin, write_prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=640, help="prompts in the job (default 640)")
    parser.add_argument("--scorer", default="", help="passed to cai run --scorer (default: its default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        constitution = work / "one.yaml"
        constitution.write_text(ONE_PRINCIPLE)
        prompts = write_prompts(work / "prompts.jsonl", args.prompts)
        server, base_url = start_standin(0.1)
        try:
            command = [sys.executable, "-m", "constitutional", "run", str(prompts), "-m", "openai/bench"]
            command += ["--model-base-url", base_url, "-c", str(constitution), "--concurrency", "64", "--judge", "none"]
            command += ["--no-cache", "-q", "-o", str(work / "run"), *(["--scorer", args.scorer] if args.scorer else [])]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finally:
            server.terminate()
        timing = json.loads((work / "run" / "report.json").read_text())["timing"]
    generation = args.prompts / timing["run_seconds"]
    evaluation = args.prompts / timing["eval_seconds"]
    print(f"eval pace ({args.prompts} prompts, stand-in at 100 ms, C=64, scorer {args.scorer or 'default'}, no judge):")
    print(f"  generation {generation:.1f} records/s, eval {evaluation:.1f} records/s")
    print(f"  eval ÷ generation {evaluation / generation:.2f} (target ≥ 1.0)")


if __name__ == "__main__":
    main()
