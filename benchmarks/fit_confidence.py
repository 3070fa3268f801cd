"""Fit the confidence model (src/constitutional/evals/data/confidence.yaml) on the labelled development sets.

    python benchmarks/fit_confidence.py            # with and without the fast scorer (the default)
    python benchmarks/fit_confidence.py --dry-run  # print the fit, write nothing

The data: tests/data/labelled/verdicts*.jsonl (draft → revision cases written for this project, labelled
with the verdict) and tests/data/calibration/xstest_dev.jsonl (real answers without a draft, from XSTest
prompts in neither held-out set; see benchmarks/build_calibration_dev.py). Each record is evaluated
with `--judge none`, once without the scorer and once with it, so both settings are in the data. The
target is whether the verdict is right for the label (benchmarks/calibration.py `right`).
A logistic regression with an L2 penalty (λ below, bias not
penalised) is fitted by Newton's method on the features that vary in that data; the judge terms cannot
vary without judged runs on a capable model, so they keep the priors written here and the file says so.
The frozen held-out sets (tests/data/heldout/) are never read: benchmarks/eval_heldout.py measures the
fitted model's calibration there.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
from pathlib import Path

import numpy as np
import yaml

from calibration import ece, reliability_table, right
from constitutional.constitution import load_constitution
from constitutional.evals.confidence import FEATURES, features
from constitutional.evals.evaluate import evaluate
from constitutional.evals.items import from_line
from constitutional.evals.scorer import load_scorer

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SETS = (
    "labelled/verdicts.jsonl",
    "labelled/verdicts_heldout.jsonl",
    "labelled/verdicts_heldout2.jsonl",
    "calibration/xstest_dev.jsonl",
)
OUT = ROOT / "src" / "constitutional" / "evals" / "data" / "confidence.yaml"
PRIORS = {"judge_agrees": 0.7, "judge_decided": 0.0, "judge_untrusted": -0.5}  # not identifiable without judged data
L2 = 1.0


async def examples(scorer) -> list[tuple[dict[str, float], bool]]:
    constitution = load_constitution("default").constitution
    out = []
    for name in SETS:
        for n, row in enumerate(map(json.loads, (DATA / name).read_text("utf-8").splitlines())):
            line = await evaluate(from_line(row, n), constitution, scorer=scorer)
            if line["verdict"] == "error":
                continue
            has_draft = row.get("draft") is not None
            values = features(line["strength"], line["decided_by"], line["signals"], has_draft, False, line["verdict"])
            out.append((values, right(row["label"], line.get("leaning") or line["verdict"])))
    return out


def fit(data: list[tuple[dict[str, float], bool]], names: list[str]) -> tuple[float, dict[str, float]]:
    x = np.array([[1.0] + [values[f] for f in names] for values, _ in data])
    y = np.array([float(right) for _, right in data])
    w = np.zeros(x.shape[1])
    penalty = np.diag([0.0] + [L2] * len(names))
    for _ in range(50):
        p = 1 / (1 + np.exp(-x @ w))
        gradient = x.T @ (p - y) + penalty @ w
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(w[0]), {f: float(c) for f, c in zip(names, w[1:])}


def predict(bias: float, coefficients: dict[str, float], values: dict[str, float]) -> float:
    return float(1 / (1 + np.exp(-(bias + sum(coefficients[f] * values[f] for f in FEATURES)))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="print the fit without writing confidence.yaml")
    args = parser.parse_args()
    data = asyncio.run(examples(None))
    scorer = load_scorer("fast")  # the default scorer
    data += asyncio.run(examples(scorer))
    varying = [f for f in FEATURES if f not in PRIORS and len({values[f] for values, _ in data}) > 1]
    bias, fitted = fit(data, varying)
    coefficients = {f: round(fitted.get(f, PRIORS.get(f, 0.0)), 3) for f in FEATURES}
    before = [(1 / (1 + np.exp(-v["strength"])), r) for v, r in data]
    after = [(predict(bias, coefficients, v), r) for v, r in data]
    print(reliability_table("strength taken as the confidence (before)", before))
    print(reliability_table("fitted model (in sample)", after))
    model = {
        "fitted": {
            "date": datetime.date.today().isoformat(),
            "records": len(data),
            "right": sum(r for _, r in data),
            "sets": [f"tests/data/{s}" for s in SETS],
            "scorer": "none and fast",
            "l2": L2,
            "features_fitted": varying,
            "in_sample_ece": round(ece(after), 3),
            "priors_not_fitted": {f: coefficients[f] for f in FEATURES if f not in varying},
        },
        "bias": round(bias, 3),
        "coefficients": coefficients,
    }
    print(yaml.safe_dump(model, sort_keys=False))
    if not args.dry_run:
        OUT.write_text(
            "# The confidence model (evals/confidence.py), written by benchmarks/fit_confidence.py; do not edit.\n"
            + yaml.safe_dump(model, sort_keys=False),
            "utf-8",
        )
        print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
