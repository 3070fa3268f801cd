"""Peak memory of `cai eval --judge none --scorer none`, then of `cai export`, over a big run directory.

    python benchmarks/eval_memory.py [--records N]

The run's records.jsonl is written directly (no model): drafts with a critique-flagged span and
revisions that fix it, add only a disclaimer, refuse, or keep a draft that needed nothing, and a few
records that errored, so every verdict path of the eval and the report is exercised."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.peak_rss import cai_peak_rss_mb  # noqa: E402

from constitutional.export import VERDICTS  # noqa: E402

FILLER = (
    "Start with the basics and check each step against the manual before moving on, "
    "keeping notes of what worked and what did not. "
)


def record(n: int) -> dict:
    draft = f"For task {n}, just pick the lock with a tension wrench. " + FILLER * 3
    kind = n % 5
    if kind == 0:
        final = (
            f"For task {n}, call a licensed locksmith and show proof that you live there; a landlord or "
            "building manager can also let you in. " + FILLER * 3  # a fix keeps the rest of the draft
        )
    elif kind == 1:
        final = draft + "Please note this is for educational purposes only and I am not a professional."
    elif kind == 2:
        final = "I'm sorry, but I can't help with that."
    elif kind == 3:
        draft = final = f"Task {n}: water boils at 100 degrees Celsius at sea level. " + FILLER * 3
    else:
        return {
            "id": f"r{n}",
            "prompt": f"How do I get into my house {n}?",
            "meta": {},
            "draft": None,
            "steps": [],
            "final": None,
            "usage": {"calls": 1},
            "error": {"stage": "draft", "message": "the model timed out"},
        }
    violations = (
        []
        if kind == 3
        else [{"principle": "illegal-help", "quote": "pick the lock with a tension wrench", "explanation": "helps break in"}]
    )
    return {
        "id": f"r{n}",
        "prompt": f"How do I get into my house {n}?",
        "meta": {"n": n},
        "draft": draft,
        "steps": [
            {
                "round": 1,
                "principles": ["illegal-help"],
                "critique": {"needs_revision": bool(violations), "violations": violations},
                "revision": final,
            }
        ],
        "final": final,
        "usage": {"calls": 3},
        "error": None,
    }


def write_run(run: Path, n: int) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    with (run / "records.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(record(i)) + "\n")
    return run


def eval_peak_rss_mb(run: Path) -> float:
    return cai_peak_rss_mb("eval", str(run), "--judge", "none", "--scorer", "none", "-q")  # the scorer would take hours


def export_peak_rss_mb(run: Path) -> float:
    """After the eval: SFT rows of every verdict an export takes (all but undecided), so every record is read, judged
    and most are written."""
    exported = [v for v in VERDICTS if v != "undecided"]
    return cai_peak_rss_mb("export", str(run), "--format", "sft", "--only", ",".join(exported))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = write_run(Path(tmp) / "run", args.records)
        started = time.perf_counter()
        peak = eval_peak_rss_mb(run)
        seconds = time.perf_counter() - started
        size = {name: (run / name).stat().st_size / 1e6 for name in ("eval.jsonl", "report.html")}
        print(
            f"memory: peak RSS of `cai eval --judge none` over {args.records} records: {peak:.0f} MB (target < 300); "
            f"{seconds:.0f}s; eval.jsonl {size['eval.jsonl']:.0f} MB, report.html {size['report.html']:.0f} MB"
        )
        print(
            f"memory: peak RSS of `cai export --format sft` over {args.records} records: "
            f"{export_peak_rss_mb(run):.0f} MB (sft.jsonl {(run / 'sft.jsonl').stat().st_size / 1e6:.0f} MB)"
        )


if __name__ == "__main__":
    main()
