"""The answers' confidence, computed on the public eval sets: targets met, coefficients reproducible."""

from __future__ import annotations

import random

import pytest
from support import SHARED

from kb.bench.calibrate import calibrate, ece, ece_floor, shipped_metrics
from kb.bench.datasets import load_dataset
from kb.channels.answers import COEFFICIENTS
from kb.report.tally import wilson_interval
from kb.search.index import build_index

EVAL = SHARED / "eval"
ENGLISH = ["stackfaq", "banking77"]


@pytest.fixture(scope="module")
def sets():
    missing = [name for name in [*ENGLISH, "plhelp"] if not (EVAL / name).is_dir()]
    if missing:
        pytest.skip(f"no eval data at {EVAL}: {missing}")
    return {name: load_dataset(EVAL / name) for name in [*ENGLISH, "plhelp"]}


@pytest.mark.parametrize("name", ENGLISH)
def test_the_shipped_confidence_meets_the_targets_on_each_english_public_set(sets, name):
    ds = sets[name]
    m = shipped_metrics(build_index(ds.articles), ds.queries)
    assert m["answered_hit@1"] >= 0.90
    assert m["answered_rate"] >= 0.40
    assert m["ece"] <= 0.05


SPLITS = 3


@pytest.fixture(scope="module")
def calibrated(sets):
    return calibrate(list(sets.values()), log=lambda message: None, languages={"plhelp": "pl"}, splits=SPLITS)


def test_kb_bench_calibrate_reproduces_the_shipped_coefficients(calibrated):
    assert calibrated["coefficients"] == COEFFICIENTS
    for name in ENGLISH:
        assert calibrated["cross_validated"][name]["0.80"]["answered_hit@1"] >= 0.90


def test_each_answered_precision_carries_its_wilson_interval(sets, calibrated):
    for name, by_threshold in calibrated["cross_validated"].items():
        for m in by_threshold.values():
            answered = round(m["answered_rate"] * len(sets[name].queries))
            # the report's own interval (tests/report holds it to the textbook form)
            low, high = wilson_interval(round(m["answered_hit@1"] * answered), answered)
            assert m["answered_hit@1_interval"] == [pytest.approx(low, abs=1e-4), pytest.approx(high, abs=1e-4)]
            assert low <= m["answered_hit@1"] <= high
    # a hundred queries leave the precision of about forty answers wide open
    low, high = calibrated["cross_validated"]["plhelp"]["0.80"]["answered_hit@1_interval"]
    assert high - low > 0.15


def test_the_figures_over_several_splits_hold_the_first_split_and_its_spread(calibrated):
    for name, by_threshold in calibrated["splits"].items():
        for t, spread in by_threshold.items():
            first = calibrated["cross_validated"][name][t]
            assert spread["splits"] == SPLITS
            for key in ("answered_rate", "answered_hit@1", "ece"):
                assert spread[f"{key}_min"] <= first[key] <= spread[f"{key}_max"]
                assert spread[f"{key}_min"] <= spread[key] <= spread[f"{key}_max"]
    # the random splits differ from the first: plhelp's hundred queries move with the split
    plhelp = calibrated["splits"]["plhelp"]["0.80"]
    assert plhelp["ece_min"] < plhelp["ece_max"]


def test_every_language_shares_the_weights_and_has_its_own_intercept():
    english, polish = COEFFICIENTS["en"], COEFFICIENTS["pl"]
    assert {k: v for k, v in english.items() if k != "intercept"} == {k: v for k, v in polish.items() if k != "intercept"}
    assert english["intercept"] != polish["intercept"]
    assert english["margin"] > 0 and english["share"] > 0 and english["title_words"] > 0


def reference_ece(probabilities, right, bins=10):
    """The textbook definition, bin by bin."""
    total = 0.0
    for b in range(bins):
        members = [(p, r) for p, r in zip(probabilities, right)
                   if b / bins <= p < (b + 1) / bins or (b == bins - 1 and p >= 1.0)]
        if members:
            total += len(members) / len(probabilities) * abs(
                sum(p for p, _ in members) / len(members) - sum(1 for _, r in members if r) / len(members))
    return total


def test_ece_is_the_textbook_one_and_its_floor_is_what_a_calibrated_model_shows_on_so_few_queries():
    rng = random.Random(3)
    probabilities = [rng.choice([0.0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0, rng.random()]) for _ in range(500)]
    right = [rng.random() < 0.6 for _ in probabilities]
    assert ece(probabilities, right) == pytest.approx(reference_ece(probabilities, right), abs=1e-12)
    # labels drawn from the confidences themselves: calibrated, yet 100 queries show an ECE far above 0.05
    hundred = [rng.uniform(0.05, 0.95) for _ in range(100)]
    assert 0.06 < ece_floor(hundred) < 0.15
    assert ece_floor(hundred * 100) < 0.02  # 10,000 queries measure calibration to a percent
    assert ece_floor([0.0] * 50 + [1.0] * 50) == 0.0
