"""The browser engine's confidence, computed on the public eval sets: reproducible, calibrated, and
never fooled by one shared word."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from support import SHARED

from kb.bench.calibrate import answer_metrics, calibrate, ece, ece_floor, shipped_metrics
from kb.bench.datasets import load_dataset
from kb.channels.answers import DEFAULT_THRESHOLD
from kb.report.tally import wilson_interval
from kb.search.confidence import COEFFICIENTS, CUT, THRESHOLD, confidence, model_of
from kb.search.index import build_index
from kb.search.ranker import search

EVAL = SHARED / "eval"
LANGUAGES = {"stackfaq": "en", "banking77": "en", "clincbank": "en", "plhelp": "pl"}


@pytest.fixture(scope="module")
def sets():
    missing = [name for name in LANGUAGES if not (EVAL / name).is_dir()]
    if missing:
        pytest.skip(f"no eval data at {EVAL}: {missing}")
    return {name: load_dataset(EVAL / name) for name in LANGUAGES}


SPLITS = 3


@pytest.fixture(scope="module")
def calibrated(sets):
    return calibrate(list(sets.values()), log=lambda message: None, languages={"plhelp": "pl"}, splits=SPLITS)


def test_kb_bench_calibrate_reproduces_the_shipped_model_and_threshold(calibrated):
    assert calibrated["coefficients"] == COEFFICIENTS
    assert calibrated["threshold"] == THRESHOLD
    # the threshold is the one whose decisions are right most often
    assert calibrated["decisions"][f"{THRESHOLD:.2f}"] == max(calibrated["decisions"].values())


def test_the_list_stops_where_results_stop_being_relevant(calibrated):
    for name, by_cut in calibrated["cut"].items():
        shipped, whole = by_cut[f"{CUT:.1f}"], by_cut["0.0"]
        assert shipped["kept"] >= 0.97, name  # of the relevant articles the first 20 results hold
        assert shipped["length"] <= whole["length"] * 0.7, name  # and far shorter lists


def test_cross_validated_the_browser_answers_rightly_and_rarely_answers_what_it_cannot(calibrated):
    shipped = f"{THRESHOLD:.2f}"
    for name, by_threshold in calibrated["cross_validated"].items():
        m = by_threshold[shipped]
        assert m["answered_hit@1"] >= 0.80, name
        assert m["answered_rate"] >= 0.65, name
        assert m["ece"] <= 0.06, name
    clinc = calibrated["cross_validated"]["clincbank"]
    assert clinc[shipped]["oos_answered"] <= 0.10
    assert clinc[f"{DEFAULT_THRESHOLD:.2f}"]["oos_answered"] <= 0.03  # the search API's default threshold answers far fewer
    # the out-of-scope queries count only where they belong: in-scope sets have no such figure
    assert "oos_answered" not in calibrated["cross_validated"]["stackfaq"][shipped]


@pytest.mark.parametrize("name", ["stackfaq", "clincbank"])
def test_the_model_the_index_ships_gives_the_figures_kb_bench_search_prints(sets, name):
    ds = sets[name]
    index = build_index(ds.articles, language=LANGUAGES[name])
    assert index["confidence"] == {"weights": COEFFICIENTS["en"], "threshold": THRESHOLD, "cut": CUT}
    m = shipped_metrics(index, ds.queries)
    assert m["answered_hit@1"] >= 0.80 and m["answered_rate"] >= 0.65
    assert ("oos_answered" in m) == (name == "clincbank")


def test_each_answered_precision_carries_its_wilson_interval(sets, calibrated):
    for name, by_threshold in calibrated["cross_validated"].items():
        in_scope = sum(1 for q in sets[name].queries if q.relevant)
        for m in by_threshold.values():
            answered = round(m["answered_rate"] * in_scope)
            # the report's own interval (tests/report holds it to the textbook form)
            low, high = wilson_interval(round(m["answered_hit@1"] * answered), answered)
            assert m["answered_hit@1_interval"] == [pytest.approx(low, abs=1e-4), pytest.approx(high, abs=1e-4)]
            assert low <= m["answered_hit@1"] <= high
    # a few hundred Polish queries leave the precision of their answers wide open
    low, high = calibrated["cross_validated"]["plhelp"]["0.80"]["answered_hit@1_interval"]
    assert high - low > 0.07


def test_the_figures_over_several_splits_hold_the_first_split_and_its_spread(calibrated):
    for name, by_threshold in calibrated["splits"].items():
        for t, spread in by_threshold.items():
            first = calibrated["cross_validated"][name][t]
            assert spread["splits"] == SPLITS
            for key in ("answered_rate", "answered_hit@1", "ece"):
                assert spread[f"{key}_min"] <= first[key] <= spread[f"{key}_max"]
                assert spread[f"{key}_min"] <= spread[key] <= spread[f"{key}_max"]
    # the random splits differ from the first: plhelp's queries move with the split
    plhelp = calibrated["splits"]["plhelp"]["0.80"]
    assert plhelp["ece_min"] < plhelp["ece_max"]


def test_every_language_shares_the_weights_and_has_its_own_intercept():
    english, polish = COEFFICIENTS["en"], COEFFICIENTS["pl"]
    assert {k: v for k, v in english.items() if k != "intercept"} == {k: v for k, v in polish.items() if k != "intercept"}
    assert english["intercept"] != polish["intercept"]
    # more of each kind of evidence never lowers the confidence
    assert all(english[name] > 0 for name in ("share", "lead", "title_words", "log_matched"))


class Article(SimpleNamespace):
    questions: list = []
    tags: list = []
    headings: list = []


def _help_center():
    return [Article(id="bike-rack", title="Mounting a bike on the roof rack", url="/bike-rack/", version="1",
                    body="Fit the rack to the roof of your car before a trip. " * 3),
            Article(id="returns", title="How do I return an item?", url="/returns/", version="1",
                    body="Send the parcel back within 30 days for a refund."),
            Article(id="delivery", title="When will my parcel arrive?", url="/delivery/", version="1",
                    body="Parcels arrive within 3 working days.")]


def test_a_question_that_shares_one_word_with_one_article_is_no_good_answer_however_long():
    index = build_index(_help_center())
    seen = []
    for query in ["cheap kids bikes", "cheap kids bikes with helmets",
                  "cheap kids bikes with helmets and lights"]:
        hits = search(index, query, limit=2)
        assert [h.id for h in hits] == ["bike-rack"]  # a lone result, one word shared ("bike")
        seen.append(confidence(hits, 0, index))
    # a lone result leads only by what it has above the list's floor: one shared word is no good
    # answer, and each word more that matches nothing makes it less of one
    assert max(seen) < model_of(index)["threshold"] and max(seen[1:]) < model_of(index)["threshold"] / 4
    assert seen == sorted(seen, reverse=True)  # words that match nothing never add confidence
    hits = search(index, "how do I return an item", limit=2)
    assert hits[0].id == "returns" and confidence(hits, 0, index) >= model_of(index)["threshold"]


def test_out_of_scope_queries_count_apart_from_the_in_scope_ones():
    m = answer_metrics([0.9, 0.9, 0.2, 0.9, 0.1], [True, False, False, False, False], 0.5,
                       [False, False, False, True, True])
    assert m["answered_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["answered_hit@1"] == 0.5
    assert m["oos_answered"] == 0.5
    assert m["answered_precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert "oos_answered" not in answer_metrics([0.9], [True], 0.5)


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
