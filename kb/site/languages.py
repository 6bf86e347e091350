"""Languages: one help center per language from one repository.

With `plugins: - kb: languages: [{code: en, name: English}, {code: pl, name: Polski}]` the
articles of each language live in `articles/<code>/`; the first language is the default and
builds at `site/`, each other at `site/<code>/`. A translation keeps its source article's `id`
and records the source version it was made from (`translated_from:`), so an edit of the source
makes it *outdated*: `kb check` warns, and the page says so.

Everything here is plain data over article records; each language is built on its own (a
renderer of kb.site.renderers runs once per language), and the build's finish step joins their
sitemaps and manifests (kb.site.multisite).
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import yaml

from kb.articles import Article, Problem, Project

#: A BCP 47 tag as sites use them: a language, then an optional script or region (pt-BR, zh-Hant).
CODE_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|\d{3}))?$")
LANGUAGE_KEYS = ("code", "name", "site_name", "site_description", "texts", "contact")

#: The interface texts kb writes itself, per language. English and Polish ship; other languages
#: give theirs under `texts:` in mkdocs.yml (missing keys fall back to English).
TEXTS: dict[str, dict[str, Any]] = {
    "en": {
        "home": "Home",
        "home_heading": "How can we help?",
        "search_prompt": "Search for answers",
        "contact_title": "Still need help?",
        "also_answers": "Also answers",
        "related": "Related articles",
        "updated": "Last updated",
        "all_articles": "All {count} articles",
        "more_answers": "More answers",
        # What customers say when they want a person rather than an article: the search API and
        # `kb mcp` hand such a query over (`answered: false`, the contact channels) instead of
        # answering it with an article. Matched by meaning, so other wordings count too.
        "handover_phrases": ["talk to a person", "speak to a human", "I want to talk to someone",
                     "connect me with an agent", "can I speak to customer service",
                     "contact a real person", "call me back", "live chat with support staff"],
        "breadcrumbs": "Breadcrumb",
        "permalink": "Permanent link",
        "made_with": "Made with {generator}",
        "contact_home": "Rather talk to a person?",
        "contact_jump": "Talk to a person",
        "not_found_title": "Page not found",
        "not_found_text": "There is no page at this address: it may have moved, or the link may have a typo. "
                          "Search for the answer, pick a topic, or talk to a person.",
        "not_found_home": "Go to the home page",
        "topics": "Topics",
        "handover": "When an article does not answer, hand over to a person:",
        "other_languages": "Other languages",
        "new_article_body": "Answer the question in the first paragraph, then give the steps.\n",
        "draft": "Draft: shown in preview only, not published by <code>kb build</code>.",
        "outdated": "This translation is older than the {source} it was made from; "
                    "the original may have changed since.",
        "source_link": "original article",
        "feedback_title": "Was this helpful?",
        "rating_yes": "Yes, this helped",
        "rating_no": "No, this did not help",
        "note_yes": "Thanks for letting us know!",
        "note_no": "Sorry about that.",
        "months": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                   "October", "November", "December"],
        "widget": {
            "reasons_title": "What went wrong?",
            "reasons": {
                "not_answered": "It didn't answer my question",
                "unclear": "It was hard to follow",
                "outdated": "It's out of date or wrong",
                "incomplete": "Something is missing or a link is broken",
            },
            "comment_label": "Anything else we should know? (optional)",
            "comment_counter": "{count} / {max}",
            "comment_limit": "You have reached {max} characters.",
            "send": "Send",
            "skip": "Skip",
            "thanks": "Thank you! This helps us fix the article.",
            "contact_title": "Still need help? Talk to a person:",
            "mail_article": "Article:",
            "mail_search": "Last search:",
        },
        # the search box and its results (kb/assets/kb.js, kb/assets/search/templates)
        "search": {
            "label": "Search the help center",
            "placeholder": "Type your question",
            "none": "No articles found",
            "one": "1 article found",
            "other": "# articles found",
            "no_answer": "We could not find a good answer",
            "contact": "Ask a person: we will help.",
            "maybe": "Maybe one of these helps:",
            "no_results": "Nothing matches your question. Ask a person: we will help.",
        },
    },
    "pl": {
        "home": "Strona główna",
        "home_heading": "W czym możemy pomóc?",
        "search_prompt": "Szukaj odpowiedzi",
        "contact_title": "Nadal potrzebujesz pomocy?",
        "also_answers": "Odpowiada też na pytania",
        "related": "Powiązane artykuły",
        "updated": "Ostatnia aktualizacja",
        "all_articles": "Wszystkie artykuły ({count})",
        "more_answers": "Więcej odpowiedzi",
        "handover_phrases": ["rozmowa z konsultantem", "chcę porozmawiać z człowiekiem", "połącz mnie z konsultantem",
                     "kontakt z obsługą klienta", "chcę rozmawiać z kimś z obsługi", "czat z pracownikiem",
                     "zadzwońcie do mnie", "chcę mówić z żywym człowiekiem"],
        "breadcrumbs": "Ścieżka nawigacji",
        "permalink": "Stały odnośnik",
        "made_with": "Zbudowano za pomocą {generator}",
        "contact_home": "Wolisz porozmawiać z człowiekiem?",
        "contact_jump": "Porozmawiaj z nami",
        "not_found_title": "Nie znaleziono strony",
        "not_found_text": "Pod tym adresem nie ma strony: mogła zostać przeniesiona albo w linku jest literówka. "
                          "Wyszukaj odpowiedź, wybierz temat albo porozmawiaj z nami.",
        "not_found_home": "Przejdź na stronę główną",
        "topics": "Tematy",
        "handover": "Gdy artykuł nie odpowiada na pytanie, przekaż rozmowę konsultantowi:",
        "other_languages": "Inne języki",
        "new_article_body": "Odpowiedz na pytanie w pierwszym akapicie, potem podaj kroki.\n",
        "draft": "Szkic: widoczny tylko w podglądzie, <code>kb build</code> go nie publikuje.",
        "outdated": "To tłumaczenie jest starsze niż {source}, z którego powstało; "
                    "oryginał mógł się od tego czasu zmienić.",
        "source_link": "artykuł źródłowy",
        "feedback_title": "Czy ta odpowiedź była pomocna?",
        "rating_yes": "Tak, pomogła",
        "rating_no": "Nie, nie pomogła",
        "note_yes": "Dziękujemy za informację!",
        "note_no": "Przykro nam.",
        "months": ["stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia",
                   "września", "października", "listopada", "grudnia"],
        "widget": {
            "reasons_title": "Co poszło nie tak?",
            "reasons": {
                "not_answered": "Nie odpowiada na moje pytanie",
                "unclear": "Trudno było to zrozumieć",
                "outdated": "Informacje są nieaktualne lub błędne",
                "incomplete": "Czegoś brakuje albo link nie działa",
            },
            "comment_label": "Chcesz coś dodać? (opcjonalnie)",
            "comment_counter": "{count} / {max}",
            "comment_limit": "Osiągnięto limit {max} znaków.",
            "send": "Wyślij",
            "skip": "Pomiń",
            "thanks": "Dziękujemy! To pomoże nam poprawić artykuł.",
            "contact_title": "Nadal potrzebujesz pomocy? Porozmawiaj z nami:",
            "mail_article": "Artykuł:",
            "mail_search": "Ostatnie wyszukiwanie:",
        },
        "search": {
            "label": "Szukaj w centrum pomocy",
            "placeholder": "Wpisz swoje pytanie",
            "none": "Nie znaleziono artykułów",
            "one": "Znaleziono 1 artykuł",
            "other": "Znalezione artykuły: #",
            "no_answer": "Nie znaleźliśmy dobrej odpowiedzi",
            "contact": "Zapytaj konsultanta: pomożemy.",
            "maybe": "Może pomoże któryś z tych artykułów:",
            "no_results": "Nic nie pasuje do Twojego pytania. Zapytaj konsultanta: pomożemy.",
        },
    },
}


class LanguageError(ValueError):
    """The `languages` option is wrong; the message names mkdocs.yml's line and the fix."""


@dataclass
class Language:
    """One language of the help center."""

    code: str
    name: str
    default: bool = False
    site_name: str | None = None
    site_description: str | None = None  # None: the default language's; another language then has none
    contact: list[dict] | None = None  # None: the plugin's `contact`
    texts: dict[str, Any] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        """Where its site lives inside the default language's site: '' or 'pl/'."""
        return "" if self.default else f"{self.code}/"


# -- reading the option ------------------------------------------------------------------------

def load_languages(config_file: Path | None, raw: Any = None) -> list[Language]:
    """The `languages` of the kb plugin, checked; [] when the site has one language.

    Read from `config_file` (so errors can name its line); `raw` is used when there is no file.
    """
    node = None
    shown = _shown(Path(config_file), Path.cwd()) if config_file else "mkdocs.yml"
    if config_file is not None and Path(config_file).is_file():
        node = _languages_node(Path(config_file))
        if node is None:
            return []
        raw = _Loader.construct_document_of(node)
    if not raw:
        return []
    return parse_languages(raw, shown, node)


def parse_languages(raw: Any, shown: str = "mkdocs.yml", node: yaml.Node | None = None) -> list[Language]:
    """Check the option's value; LanguageError names `shown`:line, what was expected and what was found."""
    def where(item_node: yaml.Node | None) -> str:
        target = item_node or node
        return f"{shown}:{target.start_mark.line + 1}" if target is not None else shown

    if not isinstance(raw, list) or not raw:
        raise LanguageError(f"{where(None)}: 'languages' must be a list of {{code, name}}, got {raw!r}; "
                            "write  languages: [{code: en, name: English}, {code: pl, name: Polski}]")
    items = node.value if isinstance(node, yaml.SequenceNode) else [None] * len(raw)
    languages: list[Language] = []
    for i, (entry, item_node) in enumerate(zip(raw, items)):
        if not isinstance(entry, dict):
            raise LanguageError(f"{where(item_node)}: languages[{i}] must be a mapping like "
                                f"{{code: pl, name: Polski}}, got {entry!r}")
        unknown = [k for k in entry if k not in LANGUAGE_KEYS]
        if unknown:
            raise LanguageError(f"{where(item_node)}: languages[{i}]: unknown key {unknown[0]!r}; "
                                f"known keys: {', '.join(LANGUAGE_KEYS)}")
        code, name = entry.get("code"), entry.get("name")
        if not isinstance(code, str) or not CODE_RE.match(code):
            raise LanguageError(f"{where(item_node)}: languages[{i}]: 'code' must be a BCP 47 language tag "
                                f"such as en, pl or pt-BR, got {code!r}")
        if not isinstance(name, str) or not name.strip():
            raise LanguageError(f"{where(item_node)}: languages[{i}]: 'name' must be the language's own name, "
                                f"e.g. name: Polski, got {name!r}")
        if any(other.code == code for other in languages):
            raise LanguageError(f"{where(item_node)}: languages[{i}]: code {code!r} is listed twice")
        texts = entry.get("texts") or {}
        if not isinstance(texts, dict):
            raise LanguageError(f"{where(item_node)}: languages[{i}]: 'texts' must be a mapping of "
                                f"text names to texts, got {texts!r}")
        contact = entry.get("contact")
        if contact is not None and not (isinstance(contact, list) and all(
                isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("url"), str)
                for c in contact)):
            raise LanguageError(f"{where(item_node)}: languages[{i}]: 'contact' must be a list of "
                                "{name, url, hours, description}")
        site_name, description = entry.get("site_name"), entry.get("site_description")
        languages.append(Language(code=code, name=name.strip(), default=not languages,
                                  site_name=str(site_name) if site_name else None,
                                  site_description=str(description) if description else None,
                                  contact=[{"hours": "", "description": "", **c} for c in contact]
                                  if contact is not None else None,
                                  texts=texts_for(code, texts)))
    return languages


def texts_for(code: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The interface texts of `code`: shipped ones (English for unknown languages), then `overrides`."""
    base = copy.deepcopy(TEXTS.get(code) or TEXTS.get(code.split("-")[0]) or TEXTS["en"])
    for key, value in (overrides or {}).items():
        if key == "widget" and isinstance(value, dict):
            reasons = value.get("reasons")
            base["widget"].update({k: v for k, v in value.items() if k != "reasons"})
            if isinstance(reasons, dict):
                base["widget"]["reasons"].update(reasons)
        else:
            base[key] = value
    return base


class _Loader(yaml.SafeLoader):
    """Reads mkdocs.yml without executing its `!!python/name:` and `!ENV` tags."""

    @classmethod
    def construct_document_of(cls, node: yaml.Node) -> Any:
        loader = cls("")
        try:
            return loader.construct_document(node)
        finally:
            loader.dispose()


_Loader.add_multi_constructor("", lambda loader, suffix, node: None)
_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def _languages_node(config_file: Path) -> yaml.Node | None:
    """The YAML node of `plugins: - kb: languages:`, with its line marks, or None."""
    try:
        root = yaml.compose(config_file.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError:
        return None  # reported by whoever reads the rest of mkdocs.yml
    plugins = _get(root, "plugins")
    if not isinstance(plugins, yaml.SequenceNode):
        return None
    found = None
    for entry in plugins.value:
        kb = _get(entry, "kb")
        if kb is not None:
            found = _get(kb, "languages")
    return found


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


# -- translations --------------------------------------------------------------------------------

@dataclass
class Translation:
    """A translated article beside its source in the default language."""

    language: str
    article: Article
    source: Article | None
    state: str  # "current", "outdated" or "orphan" (no source with its id)


def translations(projects: Mapping[str, Project], languages: list[Language]) -> list[Translation]:
    """Every article of the other languages that has `translated_from`, with its state."""
    default = languages[0].code
    sources = projects[default].by_id() if default in projects else {}
    found: list[Translation] = []
    for language in languages[1:]:
        for article in projects[language.code].articles if language.code in projects else []:
            if not article.translated_from:
                continue
            source = sources.get(article.id)
            state = "orphan" if source is None else (
                "current" if source.version == article.translated_from else "outdated")
            found.append(Translation(language.code, article, source, state))
    return found


def missing_translations(projects: Mapping[str, Project], languages: list[Language]) -> dict[str, list[Article]]:
    """Per other language, the default language's articles it has no article with the same id for."""
    default = languages[0].code
    sources = [a for a in projects[default].articles if not a.draft] if default in projects else []
    missing: dict[str, list[Article]] = {}
    for language in languages[1:]:
        have = set(projects[language.code].by_id()) if language.code in projects else set()
        missing[language.code] = [a for a in sources if a.id not in have]
    return missing


def translation_problems(projects: Mapping[str, Project], languages: list[Language], shown_root: Path) -> list[Problem]:
    """`kb check`'s warnings: outdated translations (both versions named) and translations of nothing."""
    problems: list[Problem] = []
    unreadable = projects[languages[0].code].unreadable if languages[0].code in projects else {}
    for t in translations(projects, languages):
        shown = _shown(t.article.path, shown_root)
        line = t.article.line_of("translated_from")
        if t.state == "outdated":
            assert t.source is not None
            problems.append(Problem(
                shown, line, "warning",
                f"outdated translation: translated from version {t.article.translated_from} of "
                f"{_shown(t.source.path, shown_root)}, which is now at version {t.source.version}",
                f"update the translation, then write  translated_from: {t.source.version}"))
        elif t.state == "orphan" and t.article.id in unreadable:
            problems.append(Problem(
                shown, line, "warning",
                f"translation of {unreadable[t.article.id]}, which cannot be read",
                "fix that file's error first: this one follows from it", consequence=True))
        elif t.state == "orphan":
            problems.append(Problem(
                shown, line, "warning",
                f"translation of nothing: no {languages[0].code} article has id '{t.article.id}'",
                "give it its source article's id, or remove translated_from"))
    return problems


def translation_summary(projects: Mapping[str, Project], languages: list[Language]) -> list[dict[str, Any]]:
    """Per other language: how many articles are translated (current), outdated, missing, own."""
    states = translations(projects, languages)
    missing = missing_translations(projects, languages)
    rows = []
    for language in languages[1:]:
        mine = [t for t in states if t.language == language.code]
        articles = projects[language.code].articles if language.code in projects else []
        rows.append({
            "language": language.code, "name": language.name, "articles": len(articles),
            "translated": sum(t.state == "current" for t in mine),
            "outdated": sum(t.state == "outdated" for t in mine),
            "missing": len(missing[language.code]),
            "own": sum(not a.translated_from for a in articles),
            "outdated_ids": [t.article.id for t in mine if t.state == "outdated"],
            "missing_ids": [a.id for a in missing[language.code]],
        })
    return rows


# -- pages ---------------------------------------------------------------------------------------

def alternates(languages: list[Language], current: Language, urls: Mapping[str, Mapping[str, str]],
               article_id: str | None) -> list[dict[str, str]]:
    """Material's `extra.alternate` for one page: each language's same article, else its home.

    `urls[code][id]` is an article's URL inside its language's site; the links returned are
    relative to the *current* language's site root (MkDocs' `url` filter makes them page-relative).
    """
    found = []
    for language in languages:
        target = urls.get(language.code, {}).get(article_id or "", "") if article_id else ""
        found.append({"name": language.name, "lang": language.code,
                      "link": site_link(current, language, target)})
    return found


def from_page(page_url: str, link: str) -> str:
    """A site-root-relative `link` as seen from the page at `page_url` (both relative to one site root)."""
    up = "../" * page_url.count("/")  # "a/b/" is two folders down, "a/b.html" one
    return up + link if link != "./" else (up or "./")


def format_date(day: dt.date, texts: Mapping[str, Any]) -> str:
    """`day` as people of the language write it: 1 December 2026, 1 grudnia 2026."""
    return f"{day.day} {texts['months'][day.month - 1]} {day.year}"


def article_urls(articles: Iterable[Article], use_directory_urls: bool = True) -> dict[str, str]:
    """Each article's URL inside its language's site, by id."""
    return {a.id: a.url if use_directory_urls or not a.url else a.url.rstrip("/") + ".html" for a in articles}


def site_link(current: Language, target_language: Language, path: str) -> str:
    """`path` of `target_language`'s site, as a link from `current`'s site root."""
    up = "" if current.default else "../"
    link = up + target_language.prefix + path
    return link or "./"


def outdated_notice(texts: Mapping[str, Any], source_url: str, source_language: str) -> str:
    """The notice at the top of an outdated translation, linking its source (`source_url`: site-root relative)."""
    link = (f'<a href="{html.escape(source_url)}" hreflang="{html.escape(source_language)}">'
            f'{html.escape(texts["source_link"])}</a>')
    sentence = html.escape(texts["outdated"]).replace("{source}", link)
    return f'<p class="kb-outdated" role="note" data-pagefind-ignore>{sentence}</p>\n'


def _shown(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


# -- one language's build ------------------------------------------------------------------------

#: The kb plugin's text options and the TEXTS key each stands for.
PLUGIN_TEXTS = {"home_heading": "How can we help?", "search_prompt": "Search for answers",
                "contact_title": "Still need help?"}


def plugin_texts(options: Mapping[str, Any]) -> dict[str, str]:
    """The plugin's text options that are set (not at their defaults), which win over the shipped texts."""
    return {k: options[k] for k, default in PLUGIN_TEXTS.items() if options.get(k, default) != default}


class LanguageSite:
    """What the plugin needs to build one language: its texts, contacts, links to the others."""

    def __init__(self, languages: list[Language], language: Language, docs_root: Path,
                 projects: Mapping[str, Project], use_directory_urls: bool) -> None:
        self.languages = languages
        self.language = language
        self.docs_root = docs_root
        self.urls = {code: article_urls(p.articles, use_directory_urls) for code, p in projects.items()}
        default = languages[0].code
        self.sources = projects[default].by_id() if default in projects else {}
        self.projects: dict[str, Project] = dict(projects)

    @classmethod
    def configure(cls, config_file: Path | None, option: Any, building: str | None, docs_root: Path,
                  use_directory_urls: bool, load: Any) -> LanguageSite | None:
        """One language's view of a site with `languages` (the option as written); None with one language.

        `building` is the language built (None: the default one); `load(folder)` loads another
        language's project (the build's loader, so drafts match the build).
        """
        languages = load_languages(Path(config_file) if config_file else None, option)
        if not languages:
            return None
        by_code = {language.code: language for language in languages}
        language = by_code[building] if building else languages[0]
        docs_root = Path(docs_root)
        projects = {code: load(docs_root / code) for code in by_code if code != language.code}
        return cls(languages, language, docs_root, projects, use_directory_urls)

    def status(self, own: Project) -> list[dict[str, Any]]:
        """Each other language's translation status, with this (the default) language's `own` articles."""
        return translation_summary({self.language.code: own, **self.projects}, self.languages)

    def add_urls(self, url_of: Mapping[str, str]) -> None:
        """Record this language's own article URLs (known once the renderer has its files)."""
        self.urls[self.language.code] = dict(url_of)

    def follow(self, code: str, project: Project, use_directory_urls: bool) -> None:
        """Take another language's edited articles: its URLs, and with the default language the sources."""
        self.projects[code] = project
        self.urls[code] = article_urls(project.articles, use_directory_urls)
        if code == self.languages[0].code:
            self.sources = project.by_id()

    def texts(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """This language's texts; on the default language the plugin's text options, when set, win."""
        texts = dict(self.language.texts)
        if self.language.default:
            texts.update(plugin_texts(options))
        return texts

    def contacts(self, configured: list[dict]) -> list[dict]:
        """The contact channels of this language: its own `contact`, else the plugin's."""
        return [dict(c) for c in self.language.contact] if self.language.contact is not None else configured

    def alternates(self, article_id: str | None) -> list[dict[str, str]]:
        """Material's `extra.alternate` for a page showing `article_id` (None: home, category...)."""
        return alternates(self.languages, self.language, self.urls, article_id)

    def notice(self, article: Article, texts: Mapping[str, Any], page_url: str) -> str:
        """The outdated-translation notice for `article`'s page at `page_url`, or ''."""
        source = self.sources.get(article.id) if article.translated_from else None
        if source is None or self.language.default or source.version == article.translated_from:
            return ""
        target = self.languages[0]
        link = site_link(self.language, target, self.urls.get(target.code, {}).get(article.id, ""))
        return outdated_notice(texts, from_page(page_url, link), target.code)


def localize_markdown(config: Any, language: Language) -> None:
    """The Markdown extensions' visible texts in `language`: the heading anchors' title ("Permanent link").

    On the default language a `permalink_title` set in mkdocs.yml wins; on the others it is the
    default language's, so the language's own text does.
    """
    if "toc" not in config.markdown_extensions:
        return
    toc = config.mdx_configs.setdefault("toc", {})
    if not language.default or "permalink_title" not in toc:
        toc["permalink_title"] = language.texts["permalink"]


def load_projects(docs_root: Path, languages: list[Language], *, strict: bool = False, drafts: bool = True,
                  display_root: Path | None = None, load: Callable[..., Project] | None = None
                  ) -> dict[str, Project]:
    """Each language's articles, loaded and checked on their own (ids repeat across languages);
    `load` as kb.articles.load_project (the default) is called."""
    from kb.articles import load_project

    load = load or load_project
    return {language.code: load(Path(docs_root) / language.code, strict=strict, drafts=drafts,
                                display_root=display_root)
            for language in languages}


def combined(projects: Mapping[str, Project], docs_root: Path) -> Project:
    """Every language's articles and problems as one project, for `kb check` and `kb build`'s counts
    (the problems that follow from others after those others, whatever their language)."""
    articles = [a for p in projects.values() for a in p.articles]
    categories = {f"{code}/{cid}" if cid else "": c for code, p in projects.items() for cid, c in p.categories.items()}
    problems = sorted((problem for p in projects.values() for problem in p.problems), key=lambda p: p.sort_key)
    return Project(Path(docs_root), articles, categories, problems)


def stray_articles(docs_root: Path, languages: list[Language], shown_root: Path) -> list[Problem]:
    """Errors for the Markdown files outside every language's folder: no build publishes them.

    An error, not a warning: a writer who saved an article there meant it to be published, and a
    warning would let the build go out without it (kb check exits 0 on warnings).
    """
    codes = [language.code for language in languages]
    default = codes[0]
    problems = []
    for path in sorted(Path(docs_root).rglob("*.md")):
        parts = path.relative_to(docs_root).parts
        if parts[0] in codes or any(part.startswith((".", "_")) for part in parts):
            continue
        problems.append(Problem(
            _shown(path, shown_root), None, "error",
            f"outside every language's folder ({', '.join(f'{code}/' for code in codes)}), so no build publishes it",
            f"move it to {_shown(Path(docs_root) / default / Path(*parts), shown_root)} (or the folder of its "
            "language); a name starting with _ keeps a file unpublished on purpose"))
    return problems
