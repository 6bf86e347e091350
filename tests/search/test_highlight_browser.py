"""After a click on a search result, the page marks the words search matched: whole words, both languages."""

from __future__ import annotations


import pytest
from support import MKDOCS_YML, run_kb, serve_static

from kb.articles import load_project
from kb.search.index import build_index, write_index

ENGLISH = {
    "articles/refunds/get-a-refund.md": """
        ---
        id: get-a-refund
        title: How do I get a refund?
        ---
        We send a refund to the card you paid with. A refund takes 5 days; refunds for gift cards
        take a day. If it is late, this budget calculator will not help: write to us.
        """,
    "articles/shipping/track.md": "---\ntitle: Where is my parcel?\n---\nUse the tracking link.\n",
}
POLISH = {
    "articles/konto/haslo.md": """
        ---
        id: zmiana-hasla
        title: Jak zmienić hasło?
        ---
        Nowe hasło musi się różnić od starych haseł. Zmiana hasła działa w aplikacji i w przeglądarce.
        Słownik haseł nie pomoże: wpisz hasła, których nie używasz gdzie indziej.
        """,
    "articles/konto/paczka.md": "---\ntitle: Gdzie jest moja paczka?\n---\nSprawdź link do śledzenia.\n",
}
MKDOCS_WITH_HIGHLIGHT = MKDOCS_YML.replace("features: [navigation.instant]",
                                           "features: [navigation.instant, search.highlight]")


def _open_first_result(chromium, url: str, query: str, last_term: str) -> tuple[str, list[dict]]:
    """Search for `query`, open the first result, return its URL and the marks on the page.

    Results come as the words are typed: Enter is pressed once the first result is the whole
    query's (its link carries `last_term`), not an answer to the query's first words."""
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(url)
        page.locator("input[data-md-component=search-query]").click()
        page.keyboard.type(query, delay=10)
        page.wait_for_function("""term => {
            const link = document.querySelector('.md-search-result__item a');
            return link !== null && new URL(link.href).searchParams.get('h').split(' ').includes(term);
        }""", arg=last_term)
        page.keyboard.press("Enter")
        page.wait_for_url("**?h=*")
        page.locator("article mark[data-md-highlight]").first.wait_for()
        marks = page.evaluate("""() => [...document.querySelectorAll('article mark[data-md-highlight]')].map(m => ({
            text: m.textContent,
            before: (m.previousSibling && m.previousSibling.textContent || '').slice(-1),
            after: (m.nextSibling && m.nextSibling.textContent || '').slice(0, 1)}))""")
        return page.url, marks
    finally:
        page.close()


def _whole_words(marks: list[dict]) -> bool:
    return all(not (m["before"].isalnum() or m["after"].isalnum()) and len(m["text"]) >= 3 for m in marks)


@pytest.mark.browser
def test_an_english_query_marks_whole_matched_words_only(chromium, kb_project) -> None:
    root = kb_project(ENGLISH, mkdocs_yml=MKDOCS_WITH_HIGHLIGHT)
    run_kb("build", cwd=root, check=True)
    with serve_static(root / "site") as url:
        location, marks = _open_first_result(chromium, url, "how do i get a refund", "refund")
    assert "/refunds/get-a-refund/?h=" in location
    # the customer's word in the breadcrumbs, the title and the body; not "budget", nor the function
    # words "how", "do", "I", "get" or "a" (they rank, but marking them would hide the one that matters)
    assert [m["text"] for m in marks] == ["Refunds", "refund", "refund", "refund", "refunds"]
    assert _whole_words(marks)


@pytest.mark.browser
def test_a_polish_query_marks_every_form_of_the_word_and_nothing_inside_words(chromium, kb_project) -> None:
    root = kb_project(POLISH, mkdocs_yml=MKDOCS_WITH_HIGHLIGHT)
    run_kb("build", cwd=root, check=True)
    site = root / "site"
    # the Polish analyzer's index, as a Polish help center is built with it
    write_index(build_index(load_project(root / "articles", drafts=False).articles, language="pl"), site,
                highlight=True)
    with serve_static(site) as url:
        location, marks = _open_first_result(chromium, url, "nie pamietam hasla", "hasl")
    assert "/konto/haslo/?h=" in location
    # "hasła" typed without its "ł" meets "hasło" and "hasła" (stem "hasł"); "haseł" stems apart;
    # "nie" ranks ("I do not remember") but is never marked
    assert [m["text"] for m in marks] == ["hasło", "hasło", "hasła", "hasła"]
    assert _whole_words(marks)
