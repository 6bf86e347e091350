"""The answers' confidence, computed on the public eval sets: targets met, coefficients reproducible."""

from __future__ import annotations

import pytest
from support import SHARED

from kb.bench.calibrate import calibrate, shipped_metrics
from kb.bench.datasets import load_dataset
from kb.channels.answers import COEFFICIENTS
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


def test_kb_bench_calibrate_reproduces_the_shipped_coefficients(sets):
    result = calibrate(list(sets.values()), log=lambda message: None, languages={"plhelp": "pl"})
    assert result["coefficients"] == COEFFICIENTS
    for name in ENGLISH:
        assert result["cross_validated"][name]["0.80"]["answered_hit@1"] >= 0.90
