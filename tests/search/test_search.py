"""The Python ranking: folding, word forms, typos, prefixes, synonyms, off-topic, index files, golden queries."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from kb.articles import load_project
from kb.search.index import SearchError, build_index, load_index, load_synonyms, write_index
from kb.search.ranker import check_golden, search
from kb.search.text import analyzer_for, fold, stem, words

ARTICLES = {
    "account/reset-password.md": """\
        ---
        id: reset-password
        title: How do I reset my password?
        questions:
          - forgot my password
          - can't sign in
        tags: [account]
        ---
        Select Sign in, then Forgot password. We e-mail you a link that works for an hour.
        """,
    "shipping/track-order.md": """\
        ---
        id: track-order
        title: How do I track my parcel?
        questions: [where is my order]
        tags: [shipping]
        ---
        Open the tracking link in your dispatch e-mail to follow the courier.

        ## When tracking shows nothing
        The courier scans it within a day.
        """,
    "shipping/shipping-costs.md": """\
        ---
        id: shipping-costs
        title: How much does shipping cost?
        ---
        Standard delivery is free over 50 euros; express delivery costs 9 euros.
        """,
    "payments/card-declined.md": """\
        ---
        id: card-declined
        title: Why was my card declined?
        ---
        Check the expiry date and the billing address your bank holds.
        """,
    "pl/zwroty.md": """\
        ---
        id: zwroty
        title: Jak zwrócić towar?
        tags: [zwrot]
        ---
        Masz 30 dni na zwrot. Paczkę odeślij kurierem; płatność wraca na kartę w ciągu 5 dni.
        """,
}


@pytest.fixture(scope="module")
def articles(tmp_path_factory: pytest.TempPathFactory) -> list:
    root = tmp_path_factory.mktemp("search") / "articles"
    for name, text in ARTICLES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    project = load_project(root)
    assert [p.format() for p in project.errors] == []
    return project.articles


@pytest.fixture(scope="module")
def index(articles: list) -> dict:
    return build_index(articles)


def first(index: dict, query: str) -> str | None:
    hits = search(index, query)
    return hits[0].id if hits else None


def test_fold_lowercases_strips_diacritics_and_polish_l() -> None:
    assert fold("Łódź, Żółć & Straße") == "lodz, zolc & strasse"
    assert words("Can't SIGN-in, café?") == ["cant", "sign", "in", "cafe"]


@pytest.mark.parametrize("word, expected", [
    ("parcels", "parcel"), ("tracking", "track"), ("tracked", "track"), ("track", "track"),
    ("shipping", "ship"), ("deliveries", "deliver"), ("delivery", "deliver"), ("boxes", "box"),
    ("addresses", "address"), ("address", "address"), ("status", "status"), ("changes", "chang"),
    ("change", "chang"), ("zwroty", "zwrot"), ("bus", "bus"),
])
def test_stem_is_light_and_a_prefix(word: str, expected: str) -> None:
    assert stem(word) == expected
    assert word.startswith(stem(word))


def test_exact_words_rank_the_right_article_first(index: dict) -> None:
    assert first(index, "reset password") == "reset-password"
    assert first(index, "How much is shipping?") == "shipping-costs"
    assert first(index, "card declined") == "card-declined"


def test_word_forms_match(index: dict) -> None:
    assert first(index, "tracking parcels") == "track-order"
    assert first(index, "costs of deliveries") == "shipping-costs"


def test_typos_within_the_budget_are_forgiven(index: dict) -> None:
    assert first(index, "pasword") == "reset-password"         # dropped letter
    assert first(index, "declinde card") == "card-declined"    # swapped pair
    assert first(index, "shiping costs") == "shipping-costs"


def test_a_transposition_is_one_edit(index: dict) -> None:
    # "pracel" is two Levenshtein edits from "parcel", one OSA edit: within a 6-letter word's budget
    assert first(index, "pracel.") == "track-order"


def test_short_words_get_no_typo_tolerance(index: dict) -> None:
    assert search(index, "crd.") == []


def test_the_last_word_matches_as_a_prefix_while_typing(index: dict) -> None:
    assert first(index, "trac") == "track-order"
    assert first(index, "how do I reset my passw") == "reset-password"
    # a finished word (followed by a space or punctuation) is not completed
    assert first(index, "passw") == "reset-password"
    assert search(index, "passw ") == []


def test_polish_without_diacritics_finds_polish_article(index: dict) -> None:
    assert first(index, "zwrot towaru") == "zwroty"
    assert first(index, "jak zwrocic") == "zwroty"
    assert first(index, "płatnosc karta") == "zwroty"


def test_off_topic_queries_find_nothing(index: dict) -> None:
    assert search(index, "chocolate cake recipe") == []
    assert search(index, "") == []
    assert search(index, "?!") == []


def test_all_words_preferred_but_partial_matches_ranked(index: dict) -> None:
    hits = search(index, "courier delivery")
    assert [h.id for h in hits][:2] == ["track-order", "shipping-costs"] or \
        [h.id for h in hits][:2] == ["shipping-costs", "track-order"]
    assert {h.id for h in hits} >= {"track-order", "shipping-costs"}


def test_synonyms_are_two_way(articles: list, tmp_path: Path) -> None:
    path = tmp_path / "synonyms.yml"
    path.write_text("package: [parcel, shipment]\nrefund: [money back]\n", encoding="utf-8")
    synonyms = load_synonyms(path)
    assert synonyms == {"package": ["parcel", "shipment"], "refund": ["money back"]}
    with_synonyms = build_index(articles, synonyms)
    assert search(build_index(articles), "package") == []
    assert first(with_synonyms, "package") == "track-order"
    assert first(with_synonyms, "where is my shipment") == "track-order"


def test_load_synonyms_names_the_file_on_bad_shape(tmp_path: Path) -> None:
    path = tmp_path / "synonyms.yml"
    path.write_text("- parcel\n", encoding="utf-8")
    with pytest.raises(SearchError, match=r"synonyms.yml:1: expected a mapping of word -> list of words, got list"):
        load_synonyms(path)
    assert load_synonyms(tmp_path / "missing.yml") == {}


def test_empty_index_is_an_error() -> None:
    with pytest.raises(SearchError, match="no articles to index"):
        build_index([])


def test_write_and_load_index(index: dict, tmp_path: Path) -> None:
    path = write_index(index, tmp_path)
    assert path == tmp_path / "search" / "search_index.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["config"]["separator"] == r"[\s\-]+"
    assert load_index(tmp_path) == index
    with pytest.raises(SearchError, match=r"search_index.json: no search index; build the site first"):
        load_index(tmp_path / "nowhere")


def test_load_index_refuses_materials_lunr_index(tmp_path: Path) -> None:
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "search_index.json").write_text('{"config": {}, "docs": []}', encoding="utf-8")
    with pytest.raises(SearchError, match="not a kb search index"):
        load_index(tmp_path)


def test_check_golden_reports_each_miss_with_its_line(index: dict, tmp_path: Path) -> None:
    path = tmp_path / "golden-queries.yml"
    path.write_text(textwrap.dedent("""\
        - query: pasword reset
          expect: reset-password
        - query: card declined
          expect: track-order
        - query: chocolate cake
          expect: card-declined
        - query: anything
          expect: no-such-article
        - just a string
        """), encoding="utf-8")
    problems = [p.format() for p in check_golden(index, path)]
    assert problems == [
        f"{path}:3: error: query 'card declined' ranks 'card-declined' first, expected 'track-order'\n"
        "    hint: add the customer's words to the article's questions: or to synonyms.yml",
        f"{path}:5: error: query 'chocolate cake' finds nothing, expected 'card-declined'\n"
        "    hint: add the customer's words to the article's questions: or to synonyms.yml",
        f"{path}:7: error: query 'anything' expects 'no-such-article', which is not an article id",
        f"{path}:9: error: expected {{query: '...', expect: article-id}}\n"
        "    hint: write  - query: where is my parcel\n          expect: track-order",
    ]
    assert check_golden(index, tmp_path / "none.yml") == []


def test_a_phrase_synonym_stands_for_its_rarest_word(articles: list, tmp_path: Path) -> None:
    index = build_index(articles, {"login": ["sign in"], "voucher": ["no such phrase"]})
    assert index["synonyms"] == {"login": ["sign"]}  # "sign" alone does not mean "login"
    assert first(index, "login") == "reset-password"


@pytest.mark.parametrize("language", ["en", "pl"])
def test_the_demo_golden_queries_all_pass(language: str) -> None:
    root = Path(__file__).resolve().parents[2] / "articles" / language  # each language's own index
    project = load_project(root, drafts=False)  # as `kb check` runs them: on what is published
    index = build_index(project.articles, load_synonyms(root / "synonyms.yml"))
    entries = (root / "golden-queries.yml").read_text(encoding="utf-8").count("- query:")
    assert entries >= (30 if language == "en" else 20)
    assert [p.format() for p in check_golden(index, root / "golden-queries.yml")] == []


def test_a_large_index_is_split_into_shards_and_joined_on_load(index: dict, tmp_path: Path) -> None:
    write_index(index, tmp_path, split_at=0)
    folder = tmp_path / "search"
    head = json.loads((folder / "search_index.json").read_text(encoding="utf-8"))["docs"]
    shards = head["split"]["postings_files"] + head["split"]["docs_files"]
    assert sorted(p.name for p in folder.glob("kb-*.json")) == sorted(shards)
    assert "postings" not in head and "docs" not in head
    assert load_index(tmp_path) == index
    write_index(index, tmp_path)  # small again: one file, no stale shards left behind
    assert list(folder.glob("kb-*.json")) == []
    write_index(index, tmp_path, split_at=0)
    (folder / shards[0]).unlink()
    with pytest.raises(SearchError, match="a shard of the split index is missing or broken"):
        load_index(tmp_path)


def _doc(id: str, title: str, body: str = "") -> SimpleNamespace:
    return SimpleNamespace(id=id, title=title, url=f"{id}/", body=body, questions=[], tags=[], headings=[])


def test_polish_word_forms_meet_through_the_stemmer_before_folding() -> None:
    pl = analyzer_for("pl")
    assert pl.terms("hasła hasło hasłem") == ["hasl", "hasl", "hasl"]
    # stemming the folded word would miss the ending: "haslem" is not a Polish ending
    assert analyzer_for("en").terms("hasła hasło hasłem") == ["hasla", "haslo", "haslem"]
    assert analyzer_for("pl-PL") is pl and analyzer_for("de") is analyzer_for("en")


def test_a_polish_word_typed_without_its_letters_finds_the_written_form() -> None:
    index = build_index([_doc("usun", "Jak usunąć konto?"), _doc("karta", "Karta kredytowa")], language="pl")
    assert index["language"] == "pl"
    assert index["forms"] == {"usunac": "usun"}
    assert [h.id for h in search(index, "jak usunac konto")] == ["usun"]
    assert [h.id for h in search(index, "usuwanie konta")] == ["usun"]  # forms of one word share "usu..."


def test_polish_function_words_count_only_in_a_query_of_nothing_else() -> None:
    index = build_index([_doc("a", "Jak to zrobić", "jak jak jak w w w"), _doc("b", "Zmiana hasła")], language="pl")
    assert [h.id for h in search(index, "jak w zmiana hasła")] == ["b"]
    assert [h.id for h in search(index, "jak w ")] == ["a"]


def test_a_section_carries_its_first_sentence_not_a_list_run_on_or_a_table():
    from kb.search.index import first_sentence

    assert first_sentence("After 5 wrong passwords, your account is locked. Wait, then try again.") == (
        "After 5 wrong passwords, your account is locked.")
    # a list flattened into one line: its first item
    assert first_sentence("1. Open the **e-mail** and select Track parcel, or 2. Sign in.") == (
        "Open the e-mail and select Track parcel, or")
    assert first_sentence("- Check for typos, such as gmial.com. - You may have used another address") == (
        "Check for typos, such as gmial.com.")
    # a table's cells run together are no sentence
    assert first_sentence("You paid with Refund shows in --- --- Visa 3–5 working days") == ""
    long = "word " * 60
    assert first_sentence(long).endswith("…") and len(first_sentence(long)) <= 161
