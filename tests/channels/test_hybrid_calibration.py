"""The hybrid confidence on real out-of-scope questions, within CI's budget.

Fitting and measuring on the four public sets takes their embeddings (tens of minutes cold): that
is `kb bench hybrid`, whose figures the README gives. Here a seeded sample of clincbank, 100
questions its 30 articles answer and 100 they do not (about 450 texts to embed, cached for the
session), checks the shipped model and the fit on real data: out-of-scope questions are rarely
answered, in-scope ones mostly are and rightly, and a model fitted on the sample alone leans on
meaning the way the shipped one does.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
from support import SHARED

from kb.bench.calibrate import fit_logistic
from kb.bench.datasets import load_dataset
from kb.bench.hybrid import open_cache, rank_set, shipped_answers
from kb.search import hybrid

CLINC = SHARED / "eval" / "clincbank"


@pytest.fixture(scope="module")
def ranked():
    if not CLINC.is_dir():
        pytest.skip(f"no eval data at {CLINC}")
    ds = load_dataset(CLINC)
    rng = random.Random(19)
    inside = rng.sample([q for q in ds.queries if q.relevant], 100)
    outside = rng.sample([q for q in ds.queries if not q.relevant], 100)
    cache = open_cache()
    try:
        return rank_set(dataclasses.replace(ds, queries=inside + outside), "en", cache, lambda message: None)
    finally:
        cache.close()


def test_the_shipped_confidence_rarely_answers_out_of_scope_questions_and_answers_in_scope_ones_rightly(ranked):
    m = shipped_answers(ranked)
    assert m["out_of_scope"] == 100
    assert m["oos_answered"] <= 0.05
    assert m["answered_rate"] >= 0.5
    assert m["answered_hit@1"] >= 0.9
    assert m["answered_precision"] >= 0.9


def test_a_model_fitted_on_the_sample_alone_leans_on_meaning_as_the_shipped_one_does(ranked):
    fitted = fit_logistic(ranked.rows, names=hybrid.FEATURES)
    shipped = hybrid.COEFFICIENTS["en"]
    for name in ("above_mean", "gap"):
        assert fitted[name] > 0 and shipped[name] > 0
    # out-of-scope rows are never right: their features sit below the in-scope right ones
    right = [r.features["above_mean"] for r in ranked.rows if r.right]
    outside = [r.features["above_mean"] for r, inside in zip(ranked.rows, ranked.in_scope) if not inside]
    assert sorted(right)[len(right) // 2] > sorted(outside)[len(outside) // 2]
