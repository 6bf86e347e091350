"""Answers for chatbots and other channels: the site's ranking with sections, passages and confidence.

`answer(site_dir, query, ...)` is what the collector's `GET /api/search` and the MCP server return:

    {"query", "language", "answered", "handover",
     "results": [{"id", "title", "url", "version", "section", "passage", "score", "confidence"}],
     "contact": [...]}

A site built with its vectors (kb.search.vectors; the default) is ranked by meaning and words
together (kb.search.hybrid), and `confidence` is the hybrid model's (kb.search.hybrid.confidence,
fitted on in-scope and out-of-scope questions together); a site without them is ranked by words
alone with the model shipped with the site's index (kb.search.confidence, the one the
site's own search box uses). Either way `confidence` is the estimated
probability that the result answers the query. `answered` is true when the top result's confidence
reaches the site's `answer_threshold`; when it is not, `contact` lists the site's contact channels
with the query carried, so the bot can hand the customer over to a person. A query that asks for a
person ("talk to a person", in the site's language or close in meaning to one of its `handover`
phrases) is handed over whatever the articles say: `handover` is then true.

`url` is absolute when the site has a `site_url` (the language's own, `/pl/` included), else the
path from the site's root (`pl/...` for another language). A query without `lang` on a site with
several languages is answered in the language it is written in (kb.search.hybrid.written_in).

Every file read here (index, answers file, an article's Markdown) must resolve inside the site
folder, symlinks followed: a `language` names one of the site's languages (its manifest's), never a
path, and a file that resolves elsewhere is refused with `OutsideSite` (a planted answers file or
symlink must not turn a bot into a reader of the server's files).

The parsed index and answers file are cached per site folder and reused until the files change
(their modification time and size), so a collector answers from memory. A server prepares the site
when it starts (`prepare_site`): in a background thread it decodes the index and analyses every
article's sections, which a query would otherwise do for its articles the first time it meets them.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import numpy as np

from kb.channels.llms import ANSWERS_FORMAT, ANSWERS_PATH, DEFAULT_THRESHOLD
from kb.manifest import NAME as MANIFEST_NAME
from kb.search import hybrid
from kb.search.confidence import confidence
from kb.search.embeddings import PASSAGE, EmbeddingError, model
from kb.search.index import INDEX_PATH, SearchError, load_index
from kb.search.ranker import Hit, search
from kb.search.ranker import prepare as prepare_ranker
from kb.search.sections import ArticleSections, Section, SectionAnalysis
from kb.search.text import analyzer_for, fold
from kb.search.language import written_in
from kb.search.vectors import VECTORS_PATH, ArticleVectors, load_vectors

DEFAULT_LIMIT = 5
MAX_LIMIT = 50

log = logging.getLogger("kb.channels")


class UnknownLanguage(ValueError):
    """The site has no help center in the language asked for."""


class OutsideSite(SearchError):
    """A file the site names resolves outside the site folder (a symlink, an absolute or `..` path)."""


def inside(root: Path, path: Path) -> Path:
    """`path` with every symlink resolved, or OutsideSite when that is not inside the folder `root`."""
    real_root = Path(root).resolve()
    real = Path(path).resolve()
    if real != real_root and real_root not in real.parents:
        try:
            shown = Path(path).relative_to(root).as_posix()
        except ValueError:
            shown = str(path)
        raise OutsideSite(f"{shown}: resolves outside the site folder; not read")
    return real


@dataclass
class AnswerSite:
    """One language's built help center, parsed once: index, articles' sections, contact channels.

    Each article's sections are analysed the first time a query needs them, or all at once by
    `prepare` (which the collector runs in the background from its start: see `prepare_site`).
    """

    index: dict
    name: str
    language: str
    threshold: float
    contact: list[dict]
    articles: dict[str, dict]
    mail_search: str = "Last search:"  # the line a mailto: hand-over starts the query with, in the site's language
    analysis: SectionAnalysis = field(default_factory=lambda: SectionAnalysis(analyzer_for("en")))
    base: str = ""  # what article URLs are joined to: the site_url, else the language's folder ("pl/")
    handover_phrases: tuple[str, ...] = ()  # what customers say to ask for a person
    vectors: ArticleVectors | None = None  # None: ranked by words alone
    _handover_vectors: tuple[np.ndarray, np.ndarray] | None = None
    prepared: dict[str, ArticleSections] = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)  # set once `prepare` has finished
    stopped: threading.Event = field(default_factory=threading.Event)  # set when a newer build replaced it

    def sections_of(self, article_id: str) -> ArticleSections:
        """The article's sections with their terms and words, analysed once."""
        found = self.prepared.get(article_id)
        if found is None:
            rows = self.articles.get(article_id, {}).get("sections", [])
            found = self.prepared[article_id] = self.analysis.article(Section(h, a, 2, t) for h, a, t in rows)
        return found

    def prepare(self) -> dict[str, float]:
        """Do now what queries would otherwise do on first touch: decode every term's postings and
        analyse every article's sections. Yields to other threads between articles, so queries
        answered meanwhile wait little; stops early when the site was replaced. Returns figures."""
        start = time.perf_counter()
        prepare_ranker(self.index)
        if self.vectors is not None:
            self.handover_vectors()  # loads the model too
        for article_id in list(self.articles):
            if self.stopped.is_set():
                break
            self.sections_of(article_id)
            time.sleep(0)
        else:
            self.ready.set()
        return {"articles": len(self.prepared), "seconds": round(time.perf_counter() - start, 3),
                "section_bytes": sum(a.nbytes() for a in self.prepared.values()),
                "vectors": len(self.vectors.article) if self.vectors is not None else 0}

    def handover_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """The handover phrases' vectors embedded as passages (like the articles' units) and as a
        customer's words (like queries), made once."""
        if self._handover_vectors is None:
            phrases = [p for p in self.handover_phrases if p.strip()]
            as_asked = np.stack([model().query(p) for p in phrases]) if phrases else np.zeros((0, 0), np.float32)
            self._handover_vectors = (model().passages(phrases), as_asked)
        return self._handover_vectors


def read_site(site_dir: Path, root: Path | None = None) -> AnswerSite:
    """Parse one language's built site (search index, answers file, vectors), or raise SearchError
    (OutsideSite when one of its files resolves outside `root`, the whole site's folder).

    Article URLs are joined to the site's `site_url`, else to the language's folder from the site's
    root ("pl/"). A vectors file that cannot be read is logged and left out: words still answer."""
    root = Path(site_dir) if root is None else Path(root)
    inside(root, Path(site_dir) / INDEX_PATH)
    base = "" if Path(site_dir) == root else Path(site_dir).relative_to(root).as_posix() + "/"
    index = load_index(site_dir)
    path = Path(site_dir) / ANSWERS_PATH
    try:
        path = inside(root, path)
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {"format": ANSWERS_FORMAT, "site": {}, "articles": {}}  # a site built before answers
    except json.JSONDecodeError as exc:
        raise SearchError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict) or data.get("format") != ANSWERS_FORMAT:
        raise SearchError(f"{path}: not a kb answers file (expected format {ANSWERS_FORMAT})")
    site = data.get("site", {})
    if (Path(site_dir) / VECTORS_PATH).exists():
        inside(root, Path(site_dir) / VECTORS_PATH)
    try:
        vectors = load_vectors(site_dir)
    except EmbeddingError as exc:
        log.warning("%s; answering by words alone", exc)
        vectors = None
    site_url = str(site.get("site_url") or "")
    return AnswerSite(index=index, name=site.get("name", ""), language=site.get("language", "en"),
                      threshold=float(site.get("answer_threshold", DEFAULT_THRESHOLD)),
                      contact=list(site.get("contact", [])), articles=data.get("articles", {}),
                      mail_search=site.get("mail_search", "Last search:"),
                      analysis=SectionAnalysis(analyzer_for(index.get("language"))),
                      base=site_url.rstrip("/") + "/" if site_url else base,
                      handover_phrases=tuple(str(p) for p in site.get("handover") or ()), vectors=vectors)


class SiteCache:
    """Parsed sites by folder, reused until their index or answers file changes (mtime and size).

    A site (re)parsed is prepared in a background thread (`AnswerSite.prepare`) unless `background`
    is False; queries answered before it finishes are the same, only slower.
    """

    def __init__(self, background: bool = True) -> None:
        self._sites: dict[Path, tuple[tuple, AnswerSite]] = {}
        self._languages: dict[Path, tuple[tuple, dict[str, str]]] = {}
        self._lock = threading.Lock()
        self.background = background

    def get(self, site_dir: Path, root: Path | None = None) -> AnswerSite:
        """The parsed site in `site_dir`, parsed again only when its files changed; its files must
        resolve inside `root` (the whole site, for a language's folder; `site_dir` by default)."""
        site_dir = Path(site_dir)
        key = _stamp(site_dir)
        cached = self._sites.get(site_dir)
        if cached is not None and cached[0] == key:
            return cached[1]
        with self._lock:
            cached = self._sites.get(site_dir)
            if cached is None or cached[0] != key:
                if cached is not None:
                    cached[1].stopped.set()
                cached = (key, read_site(site_dir, root))
                self._sites[site_dir] = cached
                if self.background:
                    threading.Thread(target=_prepare_quietly, args=(cached[1], site_dir), daemon=True,
                                     name="kb-answers-prepare").start()
        return cached[1]

    def languages(self, site_dir: Path) -> dict[str, str]:
        """`site_languages(site_dir)`, read again only when the manifest changed."""
        site_dir = Path(site_dir)
        try:
            st = (site_dir / MANIFEST_NAME).stat()
        except OSError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._languages.get(site_dir)
        if cached is None or cached[0] != stamp:
            cached = self._languages[site_dir] = (stamp, site_languages(site_dir))
        return cached[1]

    def current(self, site_dir: Path) -> AnswerSite | None:
        """The parsed site in `site_dir` if its files have not changed since it was parsed."""
        cached = self._sites.get(Path(site_dir))
        return cached[1] if cached is not None and cached[0] == _stamp(Path(site_dir)) else None

    def loaded(self, site_dir: Path) -> AnswerSite | None:
        """The site in `site_dir` if it was parsed already (whether or not its files changed since)."""
        cached = self._sites.get(Path(site_dir))
        return cached[1] if cached is not None else None


def _prepare_quietly(site: AnswerSite, site_dir: Path) -> None:
    try:
        figures = site.prepare()
    except Exception as exc:  # noqa: BLE001 - queries still prepare what they need themselves
        log.warning("%s: preparing the answers failed: %s", site_dir, exc)
    else:
        log.info("%s: answers prepared: %s", site_dir, figures)
        # The site is read-only from now on: keep the cyclic garbage collector from walking its
        # hundreds of thousands of objects (a full pass takes a third of a second at 10,000
        # articles, and would stall whichever query triggered it).
        gc.freeze()


def _stamp(site_dir: Path) -> tuple:
    stamp = []
    for name in (INDEX_PATH, ANSWERS_PATH, VECTORS_PATH):
        try:
            st = (site_dir / name).stat()
            stamp.append((st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            stamp.append(None)
    return tuple(stamp)


_CACHE = SiteCache()


def prepare_site(site_dir: Path, cache: SiteCache = _CACHE) -> threading.Thread:
    """Parse and prepare the site in `site_dir` in a background thread, now rather than at the first
    query (the collector calls it at start). A site not built yet is left to the first query."""

    def load() -> None:
        try:
            cache.get(site_dir)
            for code in cache.languages(site_dir).values():  # a query's language may pick any of them
                if (Path(site_dir) / code / INDEX_PATH).is_file():
                    cache.get(Path(site_dir) / code, f"{code}/")
        except SearchError as exc:
            log.info("%s: not prepared: %s", site_dir, exc)

    thread = threading.Thread(target=load, daemon=True, name="kb-answers-load")
    thread.start()
    return thread


def site_languages(site_dir: Path) -> dict[str, str]:
    """The site's other languages as its root manifest lists them: lower-case code -> folder name."""
    try:
        path = inside(site_dir, Path(site_dir) / MANIFEST_NAME)
        codes = json.loads(path.read_text(encoding="utf-8")).get("languages") or {}
    except (OSError, ValueError, AttributeError):  # no manifest (a site built before languages)
        return {}
    return {code.lower(): code for code in codes if isinstance(code, str)}


def language_folder(site_dir: Path, language: str | None, cache: SiteCache = _CACHE) -> Path:
    """The folder of the help center in `language`: `site_dir` for the default language (None), else
    `site_dir/<code>` for one of the site's languages; UnknownLanguage for anything else (a path
    included), OutsideSite when that folder resolves outside `site_dir`."""
    site = cache.get(site_dir)
    if language is None or language.lower() == site.language.lower():
        return Path(site_dir)
    others = cache.languages(site_dir)
    code = others.get(language.lower())
    if code is None:
        if others:
            known = ", ".join(repr(c) for c in [site.language, *others.values()])
            raise UnknownLanguage(f"no help center in language {language!r} (this site's languages are {known})")
        raise UnknownLanguage(f"no help center in language {language!r} (this site's language is "
                              f"{site.language!r})")
    folder = Path(site_dir) / code
    inside(site_dir, folder)
    if not (folder / INDEX_PATH).is_file():
        raise UnknownLanguage(f"no help center in language {language!r} (the site lists it, but "
                              f"{code}/{INDEX_PATH} is missing)")
    return folder


def query_language(site_dir: Path, query: str, cache: SiteCache = _CACHE) -> str | None:
    """The site's language `query` is written in (kb.search.language), None for the default one."""
    others = cache.languages(site_dir)
    if not others:
        return None
    default = cache.get(site_dir)
    indexes = {default.language: default.index}
    for code in others.values():
        folder = Path(site_dir) / code
        if (folder / INDEX_PATH).is_file():
            try:
                indexes[code] = cache.get(inside(site_dir, folder), site_dir).index
            except OutsideSite as exc:  # not a help center of this site: never read, never chosen
                log.error("%s", exc)
    found = written_in(query, indexes, default.language)
    return None if found == default.language else found


def site_for_language(site_dir: Path, language: str | None, cache: SiteCache = _CACHE) -> AnswerSite:
    """The help center in `language` (the default one when None): `site_dir` or `site_dir/<code>`."""
    return cache.get(language_folder(site_dir, language, cache), site_dir)


def answer(site_dir: Path, query: str, *, lang: str | None = None, limit: int = DEFAULT_LIMIT,
           channel: str = "api", cache: SiteCache = _CACHE) -> dict:
    """The answer JSON for `query` on the built site in `site_dir` (see the module docstring).

    `channel` is not used in the answer; it is accepted so every caller hands the same arguments.
    Without `lang`, the query is answered in the site's language it is written in.
    """
    site = site_for_language(site_dir, lang if lang is not None else query_language(site_dir, query, cache), cache)
    return answer_from(site, query, limit)


def site_ready(site_dir: Path, lang: str | None = None, cache: SiteCache = _CACHE) -> bool:
    """True when answering for `site_dir` (in `lang`) takes a few milliseconds: the site is parsed
    and prepared, its files have not changed since, and it ranks by words alone. A server answers
    such queries at once, and hands the others to a thread: parsing a large site takes seconds, and
    a site with vectors embeds each query (tens of milliseconds, the GIL released meanwhile)."""
    site_dir = Path(site_dir)
    default = cache.current(site_dir)
    if default is None or not default.ready.is_set() or default.vectors is not None:
        return False
    if lang is not None and lang.lower() == default.language.lower():
        return True
    # without lang, the query's language picks the site: every language must be ready
    codes = list(cache.languages(site_dir).values()) if lang is None else [lang]
    for code in codes:
        other = cache.current(site_dir / code)
        if other is None or not other.ready.is_set() or other.vectors is not None:
            return False
    return True


# Whoever serves `answer` (the collector) calls `prepare` at start, so the site is parsed and
# prepared before the first query rather than by it, and asks `ready` before answering at once.
answer.prepare = prepare_site  # type: ignore[attr-defined]
answer.ready = site_ready  # type: ignore[attr-defined]


def answer_from(site: AnswerSite, query: str, limit: int = DEFAULT_LIMIT) -> dict:
    """The answer JSON for `query` on an already parsed site: by meaning and words when the site has
    vectors, by words alone when it has not."""
    wanted = max(2, min(limit, MAX_LIMIT))
    if site.vectors is not None:
        query_vector = model().query(site.vectors.as_written(query))  # Polish letters typed without: given back
        hits = hybrid.hybrid_search(site.index, site.vectors, query, query_vector, limit=wanted)
        asks_person = hybrid.asks_for_person(query_vector, *site.handover_vectors(), hits)
        results = [hybrid_result(site, hits, i) for i in range(min(limit, len(hits)))]
    else:
        lexical = search(site.index, query, limit=wanted)
        asks_person = says_handover_phrase(query, site.handover_phrases)
        results = [result_of(site, lexical, i) for i in range(min(limit, len(lexical)))]
    answered = bool(results) and results[0]["confidence"] >= site.threshold and not asks_person
    return {"query": query, "language": site.language, "answered": answered, "handover": asks_person,
            "results": results, "contact": [] if answered else handover(site.contact, query, site.mail_search)}


def says_handover_phrase(query: str, phrases: tuple[str, ...]) -> bool:
    """Without vectors: whether the query holds one of the handover phrases, word for word (folded)."""
    words = f" {' '.join(fold(query).split())} "
    return any(f" {' '.join(fold(p).split())} " in words for p in phrases if p.strip())


def result_of(site: AnswerSite, hits: list[Hit], number: int) -> dict:
    """One result of the words-only ranking: the article, its best-matching section and a passage
    around the matched words."""
    hit = hits[number]
    section, url, text = _section(site, hit.id, hit.url, hit.terms)
    return _result(site, hit.id, hit.title, url, section, text, hit.score, confidence(hits, number, site.index))


def hybrid_result(site: AnswerSite, hits: list[hybrid.HybridHit], number: int) -> dict:
    """One result of the hybrid ranking: the section is the one whose passage came closest in
    meaning, or, when the title or a question did, the one holding most of the matched words."""
    hit = hits[number]
    terms = hit.hit.terms if hit.hit is not None else ()
    vectors = site.vectors
    assert vectors is not None
    chosen = int(vectors.sections[hit.unit]) if hit.unit >= 0 and vectors.kinds[hit.unit] == PASSAGE else None
    section, url, text = _section(site, hit.id, hit.url, terms, chosen)
    return _result(site, hit.id, hit.title, url, section, text, hit.score,
                   hybrid.confidence(hits, number, site.index.get("language")))


def _section(site: AnswerSite, article_id: str, url: str, terms: tuple[str, ...],
             number: int | None = None) -> tuple[dict | None, str, str]:
    """The article's section (`number`, else the best for `terms`), the URL to it, and its passage."""
    article = site.sections_of(article_id)
    if not article.sections:
        return None, url, ""
    if number is not None and not 0 <= number < len(article.sections):
        number = None
    which, text = site.analysis.best(article, terms, number=number)
    best = article.sections[which]
    if best.anchor:
        return {"heading": best.heading, "anchor": best.anchor}, f"{url}#{best.anchor}", text
    return None, url, text


def _result(site: AnswerSite, article_id: str, title: str, url: str, section: dict | None, passage: str,
            score: float, probability: float) -> dict:
    entry = site.articles.get(article_id, {})
    return {"id": article_id, "title": title, "url": site.base + url, "version": entry.get("version", ""),
            "section": section, "passage": passage, "score": round(score, 4), "confidence": round(probability, 4)}


def handover(channels: list[Mapping[str, Any]], query: str, mail_search: str = "Last search:") -> list[dict]:
    """The site's contact channels, each link carrying the customer's query (as the widget does)."""
    out = []
    for channel in channels:
        url = str(channel.get("url", ""))
        out.append({"name": channel.get("name", ""), "url": carry_query(url, query, mail_search),
                    "hours": channel.get("hours", ""), "description": channel.get("description", "")})
    return out


def carry_query(url: str, query: str, mail_search: str = "Last search:") -> str:
    """`url` with the query carried: a mailto body line, or a `search` parameter on a web link."""
    if url.lower().startswith("mailto:"):
        joiner = "&" if "?" in url else "?"
        return f"{url}{joiner}body={quote(mail_search + ' ' + query + chr(10) + chr(10))}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    extra = urlencode({"search": query})
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def get_article(site_dir: Path, article_id: str, lang: str | None = None, cache: SiteCache = _CACHE) -> dict:
    """An article's Markdown, title, URL and version (the MCP server's get_article), or KeyError
    (OutsideSite when its Markdown file resolves outside the site folder)."""
    folder = language_folder(site_dir, lang, cache)
    site = cache.get(folder, site_dir)
    entry = site.articles.get(article_id)
    if entry is None:
        raise KeyError(article_id)
    markdown_path = inside(site_dir, folder / entry["markdown"])
    return {"id": article_id, "title": entry["title"], "url": entry["url"], "version": entry["version"],
            "language": site.language, "markdown": markdown_path.read_text(encoding="utf-8")}
