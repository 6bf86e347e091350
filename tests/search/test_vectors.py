"""The articles' vectors: what the model reads of an article, the build writing them beside the index
from the cache (an unchanged article is never embedded again), the file read back, and a site built
without them answering by words."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from support import MKDOCS_YML, run_kb

from kb.articles import load_project
from kb.channels.answers import SiteCache, answer
from kb.search.embeddings import (PASSAGE, PASSAGE_TOKENS, PASSAGES_PER_ARTICLE, QUESTION, TITLE, WHOLE, WHOLE_TOKENS,
                                  EmbeddingCache, EmbeddingError, article_units, model)
from kb.search.vectors import VECTORS_PATH, ArticleVectors, load_vectors, quantize, write_vectors, written_forms

ARTICLES = {
    "articles/shipping/track-order.md": """\
        ---
        title: How do I track my parcel?
        questions: [where is my parcel]
        ---
        Open the tracking link in your shipping e-mail.

        ## If the link does not work

        Wait a day: the carrier needs time to scan the parcel.
        """,
    "articles/billing/refunds.md": """\
        ---
        title: When do I get my refund?
        ---
        Refunds take 5 working days once the return reaches us.
        """,
    "articles/account/reset-password.md": """\
        ---
        title: How do I reset my password?
        ---
        Use the Forgot password link on the sign-in page.
        """,
}


def embedded_now(stderr: str) -> int:
    """How many texts a build embedded (its vectors line)."""
    found = re.search(r"kb: vectors: (\d+) texts of (\d+) articles, (\d+) embedded now", stderr)
    assert found, stderr
    return int(found.group(3))


def test_a_rebuild_embeds_only_the_article_that_changed(kb_project, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "cache"))  # a cache of its own: counts start at zero
    root = kb_project(ARTICLES)
    first = run_kb("build", cwd=root, check=True)
    vectors = load_vectors(root / "site")
    assert vectors is not None and sorted(vectors.ids) == ["account/reset-password", "billing/refunds", "shipping/track-order"]
    # every distinct text once (a one-section article read whole is its one passage: the same text)
    assert embedded_now(first.stderr) == len(np.unique(quantize(vectors.matrix)[0], axis=0))
    assert run_kb("build", cwd=root, check=True).stderr.count(" 0 embedded now") == 1
    path = root / "articles" / "shipping" / "track-order.md"
    path.write_text(path.read_text(encoding="utf-8").replace("Wait a day", "Wait two days"), encoding="utf-8")
    again = run_kb("build", cwd=root, check=True)
    edited = load_vectors(root / "site")
    assert embedded_now(again.stderr) == 2  # the two texts that changed: its second passage, and it read whole
    rows = edited.kinds[edited.article == edited.ids.index("shipping/track-order")]
    assert rows.tolist() == [TITLE, QUESTION, PASSAGE, PASSAGE, WHOLE]
    assert (tmp_path / "cache" / "embeddings.sqlite").is_file()


def test_a_site_built_with_semantic_off_has_no_vectors_and_answers_by_words_with_absolute_urls(kb_project):
    yml = MKDOCS_YML.replace("site_name: Test Help Center", "site_name: Test Help Center\nsite_url: https://help.example.com/") \
        .replace("  - kb:\n", "  - kb:\n      semantic: false\n      languages: [{code: en, name: English}, {code: pl, name: Polski}]\n")
    files = {f"articles/en/{name.removeprefix('articles/')}": text for name, text in ARTICLES.items()}
    files["articles/pl/dostawa/sledzenie.md"] = """\
        ---
        id: track-order
        title: Jak śledzić paczkę?
        ---
        Otwórz link do śledzenia z e-maila o wysyłce.
        """
    root = kb_project(files, mkdocs_yml=yml)
    run_kb("build", cwd=root, check=True)
    assert not (root / "site" / VECTORS_PATH).exists() and not (root / "site" / "pl" / VECTORS_PATH).exists()
    cache = SiteCache(background=False)
    english = answer(root / "site", "track my parcel", cache=cache)
    assert english["results"][0]["url"] == "https://help.example.com/shipping/track-order/"
    polish = answer(root / "site", "jak śledzić paczkę", cache=cache)
    assert polish["language"] == "pl"
    assert polish["results"][0]["url"] == "https://help.example.com/pl/dostawa/sledzenie/"
    assert polish["results"][0]["version"]
    person = answer(root / "site", "can I talk to a person please", cache=cache)  # a phrase, word for word
    assert (person["answered"], person["handover"]) == (False, True)


def test_what_the_model_reads_of_a_long_article_is_capped_in_tokens(tmp_path: Path):
    sections = "\n\n".join(f"## Step {n}\n\n" + " ".join(f"word{n}x{i}" for i in range(400)) for n in range(6))
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "long.md").write_text(
        f"---\ntitle: A long article\nquestions: [first way to ask, second way to ask]\n---\n{sections}\n",
        encoding="utf-8")
    [article] = load_project(tmp_path / "articles").articles
    units = article_units(article, model().tokens)
    assert [u.kind for u in units[:3]] == [TITLE, QUESTION, QUESTION]
    passages = [u for u in units if u.kind == PASSAGE]
    assert len(passages) == PASSAGES_PER_ARTICLE
    assert all(model().tokens(u.text) <= PASSAGE_TOKENS for u in passages)
    assert all(u.text.startswith("A long article. Step ") for u in passages)
    # a section longer than a passage goes on in the next, from where the last one stopped
    assert passages[1].section == passages[0].section
    assert passages[1].text.split(". ", 2)[2].startswith(passages[0].text.rsplit(" ", 1)[1].split("x")[0])
    # last, the article read whole: title, questions and text in one, as far as WHOLE_TOKENS
    whole = units[-1]
    assert [u.kind for u in units].count(WHOLE) == 1 and whole.kind == WHOLE
    assert whole.text.startswith("A long article. first way to ask. second way to ask. Step 0. word0x0 word0x1")
    assert WHOLE_TOKENS - 8 <= model().tokens(whole.text) <= WHOLE_TOKENS


def test_the_vectors_file_keeps_every_cosine_within_0_002(built_demo_site: Path, tmp_path: Path):
    vectors = load_vectors(built_demo_site)
    assert vectors is not None
    quantized, scales = quantize(vectors.matrix)
    assert quantized.dtype == np.int8 and scales.dtype == np.float32
    write_vectors(vectors, tmp_path)
    again = load_vectors(tmp_path)
    assert again.ids == vectors.ids and (again.article == vectors.article).all()
    queries = vectors.matrix[::7]
    assert float(np.abs(queries @ again.matrix.T - queries @ vectors.matrix.T).max()) < 0.002


def test_a_query_typed_without_polish_letters_is_read_with_the_sites_own(tmp_path: Path):
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "haslo.md").write_text(
        "---\ntitle: Jak zmienić hasło?\n---\nHasło zmienisz w ustawieniach. Hasło musi się różnić od starego."
        " Nie ma tu litery, którą by się pisało inaczej: sie, sie.\n", encoding="utf-8")
    spelling = written_forms(load_project(tmp_path / "articles").articles)
    assert spelling["haslo"] == "hasło" and spelling["zmienic"] == "zmienić"
    assert "sie" not in spelling  # written "sie" more often than "się" here: left as typed
    assert "nie" not in spelling and "jak" not in spelling  # nothing to give back
    vectors = ArticleVectors(ids=[], article=np.zeros(0, np.int32), kinds=np.zeros(0, np.int8),
                             sections=np.zeros(0, np.int16), matrix=np.zeros((0, 384), np.float32), spelling=spelling)
    assert vectors.as_written("Jak zmienic haslo?") == "Jak zmienić hasło?"
    assert vectors.as_written("HASLO nie dziala") == "Hasło nie dziala"  # unknown words stay as typed
    assert vectors.as_written("jak zmienić haslo") == "jak zmienić haslo"  # its writer has the letters: as typed


def test_the_vectors_file_keeps_the_sites_spelling_and_a_query_without_letters_is_answered_as_with(
        built_demo_site: Path, tmp_path: Path):
    polish = load_vectors(built_demo_site / "pl")
    assert polish.spelling["pieniedzy"] == "pieniędzy"
    write_vectors(polish, tmp_path)
    assert load_vectors(tmp_path).spelling == polish.spelling
    cache = SiteCache(background=False)
    typed = answer(built_demo_site, "kiedy dostane zwrot pieniedzy", lang="pl", cache=cache)
    written = answer(built_demo_site, "kiedy dostanę zwrot pieniędzy", lang="pl", cache=cache)
    assert typed["answered"] and typed["results"][0]["id"] == "refund-timing"
    assert [(r["id"], r["confidence"]) for r in typed["results"]] == [(r["id"], r["confidence"])
                                                                      for r in written["results"]]
    # a file written before the spelling was kept still loads: its queries are embedded as typed
    with np.load(tmp_path / VECTORS_PATH) as arrays:
        older = {name: arrays[name] for name in arrays.files if name != "spelling"}
    np.savez(tmp_path / VECTORS_PATH, **older)
    assert load_vectors(tmp_path).spelling == {}


def test_an_unreadable_vectors_file_is_named_and_the_site_answers_by_words(built_demo_site: Path, tmp_path: Path):
    import shutil

    site = tmp_path / "site"
    shutil.copytree(built_demo_site, site)
    (site / VECTORS_PATH).write_bytes(b"not a zip file")
    with pytest.raises(EmbeddingError, match=re.escape(f"{site / VECTORS_PATH}: not a readable kb vectors file")):
        load_vectors(site)
    body = answer(site, "how do I reset my password", cache=SiteCache(background=False))
    assert body["results"][0]["id"] == "reset-password"


def test_a_cache_file_that_is_not_a_cache_is_named_with_what_to_do(tmp_path: Path):
    path = tmp_path / "embeddings.sqlite"
    path.write_text("something else entirely" * 100, encoding="utf-8")
    with pytest.raises(EmbeddingError, match=re.escape(f"{path}: not a usable embeddings cache")) as caught:
        EmbeddingCache(path)
    assert "delete it to start a new one" in str(caught.value)
