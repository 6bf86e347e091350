"""Failed searches grouped by meaning where the site has its vectors: two wordings with no word in
common that mean the same are one gap; what means something else stays apart."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from kb.report.review import group_failed_searches
from kb.search.hybrid import relative_meaning
from kb.search.vectors import load_vectors


def failed(query: str, visitors: int) -> list[dict]:
    at = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    return [{"query": query, "results": 0, "visitor": f"v{query}{n}", "created_at": at} for n in range(visitors)]


def test_wordings_that_mean_the_same_are_one_gap_by_meaning(built_demo_site: Path):
    vectors = load_vectors(built_demo_site)
    searches = failed("do you sell bicycles", 3) + failed("can I buy a bike", 2) + failed("gift cards", 1)
    by_words = group_failed_searches(searches, "en")
    assert [(g["query"], g["count"]) for g in by_words] == [("do you sell bicycles", 3), ("can I buy a bike", 2),
                                                             ("gift cards", 1)]
    by_meaning = group_failed_searches(searches, "en", lambda texts: relative_meaning(vectors, texts))
    assert [(g["query"], g["count"], g["variants"]) for g in by_meaning] == [
        ("do you sell bicycles", 5, ["do you sell bicycles", "can I buy a bike"]), ("gift cards", 1, ["gift cards"])]


def test_polish_wordings_are_grouped_against_the_polish_help_center(built_demo_site: Path):
    vectors = load_vectors(built_demo_site / "pl")
    searches = (failed("czy sprzedajecie rowery", 3) + failed("ile kosztuje wysyłka", 2)
                + failed("czy można u was kupić rower", 1))
    assert len(group_failed_searches(searches, "pl")) == 3  # by words: three gaps
    groups = group_failed_searches(searches, "pl", lambda texts: relative_meaning(vectors, texts))
    assert [(g["query"], g["count"]) for g in groups] == [("czy sprzedajecie rowery", 4), ("ile kosztuje wysyłka", 2)]
