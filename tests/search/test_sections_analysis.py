"""Sections analysed once for a server (SectionAnalysis): the same section and passage as the plain
functions, over real articles in both languages and the edge cases of the compact arrays."""

from __future__ import annotations

import random
import threading

import pytest
from support import ROOT, SHARED

from kb.articles import load_project
from kb.search.sections import (PASSAGE_CHARS, Section, SectionAnalysis, article_sections, best_section, passage,
                                section_stems, word_spans)
from kb.search.text import analyzer_for


def plain(sections: list[Section], stems: set[str], language: str) -> tuple[int, str]:
    """What the plain functions choose: the best section and its passage."""
    analyzer = analyzer_for(language)
    number = best_section(sections, stems, [section_stems(s, analyzer) for s in sections])
    text = sections[number].text
    return number, passage(text, stems, spans=word_spans(text, analyzer))


def stem_sets(sections: list[Section], language: str, rng: random.Random) -> list[set[str]]:
    """Query-like sets of terms: a heading's, and a few words drawn from the article's text."""
    analyzer = analyzer_for(language)
    words = [t for s in sections for t in analyzer.terms(s.text)]
    sets = [set(analyzer.terms(s.heading)) for s in sections if s.heading]
    for size in (1, 3, 6):
        if words:
            sets.append(set(rng.sample(words, min(size, len(words)))))
    sets.append({"zzzunknownterm"})
    return sets


@pytest.mark.parametrize("folder, language", [(ROOT / "articles" / "en", "en"), (ROOT / "articles" / "pl", "pl"),
                                              (SHARED / "eval" / "stackfaq" / "articles", "en")])
def test_the_analysed_sections_choose_what_the_plain_functions_choose(folder, language):
    if not folder.is_dir():
        pytest.skip(f"no articles at {folder}")
    analysis = SectionAnalysis(analyzer_for(language))
    rng = random.Random(7)
    checked = long = 0
    for article in load_project(folder).articles:
        sections = article_sections(article.body)
        if not sections:
            continue
        analysed = analysis.article(sections)
        for stems in stem_sets(sections, language, rng):
            expected = plain(sections, stems, language)
            assert analysis.best(analysed, stems) == expected, (article.id, stems)
            checked += 1
            long += len(sections[expected[0]].text) > PASSAGE_CHARS
    assert checked > 100 and long > 10  # passages were cut, not only whole short sections


def test_an_article_of_more_than_64_sections_finds_its_last_ones():
    sections = [Section(f"Step {n}", f"step-{n}", 2, f"Filler words for step {n}. " * 20) for n in range(80)]
    sections[77] = Section("Replace the battery", "replace-the-battery", 2,
                           "Open the cover, then replace the battery. " + "More filler. " * 40)
    analysis = SectionAnalysis(analyzer_for("en"))
    analysed = analysis.article(sections)
    number, text = analysis.best(analysed, {"replac", "battery"})
    assert number == 77 and (number, text) == plain(sections, {"replac", "battery"}, "en")
    assert "replace the battery" in text and len(text) <= PASSAGE_CHARS


def test_words_with_apostrophes_and_words_of_several_terms_match_like_the_plain_passage():
    text = ("Filler " * 60 + "You can't undo it: the customer's ½ refund and the ﬁle arrive later. " + "Tail " * 60)
    sections = [Section("", "", 1, "Short opening."), Section("Refunds", "refunds", 2, text)]
    analysis = SectionAnalysis(analyzer_for("en"))
    analysed = analysis.article(sections)
    for stems in ({"cant"}, {"customer", "refund"}, {"1", "2"}, {"file"}, {"refund"}):
        assert analysis.best(analysed, stems) == plain(sections, stems, "en"), stems


def test_an_article_without_sections_or_words_has_an_empty_passage():
    analysis = SectionAnalysis(analyzer_for("en"))
    assert analysis.best(analysis.article([]), {"refund"}) == (0, "")
    only_signs = analysis.article([Section("", "", 1, "— … —")])
    assert analysis.best(only_signs, {"refund"}) == (0, "— … —")


def test_threads_analysing_at_once_choose_what_one_thread_chooses():
    articles = [article_sections(a.body) for a in load_project(ROOT / "articles" / "en").articles]
    alone = SectionAnalysis(analyzer_for("en"))
    expected = [alone.best(alone.article(s), {"refund", "day", "order"}) for s in articles if s]
    shared = SectionAnalysis(analyzer_for("en"))
    found: dict[int, list] = {}

    def work(number: int) -> None:
        found[number] = [shared.best(shared.article(s), {"refund", "day", "order"}) for s in articles if s]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(found[n] == expected for n in range(4))
