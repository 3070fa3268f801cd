"""Confidence is one fitted logistic model over the evidence (evals/data/confidence.yaml)."""

import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # the scripts import each other by name
from calibration import ece, right  # noqa: E402
from constitutional.evals.confidence import FEATURES, features, model, probability


def values(strength, decided_by="signals", draft=True, **signals):
    return features(strength, decided_by, signals, draft, judge_untrusted=False)


def test_the_model_file_has_every_feature_and_says_how_it_was_fitted():
    fitted = model()
    assert set(fitted["coefficients"]) == set(FEATURES)
    assert fitted["fitted"]["records"] > 0 and fitted["fitted"]["features_fitted"]
    assert not any(
        s.startswith(("tests/data/heldout/", "tests/data/heldout3/", "tests/data/heldout4/")) for s in fitted["fitted"]["sets"]
    )  # the frozen held-out sets are for measuring only


def test_stronger_evidence_never_lowers_confidence():
    ranked = [probability(values(s)) for s in (0.2, 0.35, 0.55, 0.75, 0.9)]
    assert ranked == sorted(ranked) and ranked[0] < ranked[-1]


def test_a_cap_bounds_it_and_an_agreeing_judge_raises_it():
    assert probability(values(0.9), cap=0.45) == 0.45
    assert probability(values(0.6, decided_by="both")) > probability(values(0.6))


def test_expected_calibration_error():
    assert ece([(0.8, True)] * 8 + [(0.8, False)] * 2) < 1e-9  # 80% sure, right 80% of the time
    assert math.isclose(ece([(0.9, True), (0.9, False)]), 0.4)
    rng = random.Random(1)
    sampled = [(p, rng.random() < p) for p in (rng.random() for _ in range(5000))]
    assert ece(sampled) < 0.05


def test_which_verdicts_are_right_for_a_label():
    assert right("hollow", "evasive") and not right("hollow", "genuine")
    assert right("superficial", "superficial") and not right("superficial", "non_compliant")


def test_the_fit_recovers_a_known_model():
    from fit_confidence import fit

    rng = random.Random(7)
    data = []
    for _ in range(4000):
        x = {"strength": rng.uniform(-3, 3), "veneer": float(rng.random() < 0.5)}
        p = 1 / (1 + math.exp(-(0.5 + 1.2 * x["strength"] - 0.8 * x["veneer"])))
        data.append((x, rng.random() < p))
    bias, coefficients = fit(data, ["strength", "veneer"])
    assert abs(bias - 0.5) < 0.2 and abs(coefficients["strength"] - 1.2) < 0.15 and abs(coefficients["veneer"] + 0.8) < 0.2
