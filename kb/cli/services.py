"""What the command line hands the collector when it makes one: the report and the site's answers;
and the site's rankings, per language, that the report (`kb report` and `GET /api/report`) reads."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from kb.channels.answers import AnswerSite, SiteCache, answer, language_folder, site_for_language
from kb.report.languages import site_report
from kb.report.gaps import Meaning
from kb.search.index import SearchError
from kb.search.meanings import QueryVectors, SiteMeanings
from kb.search.ranker import search

Rank = Callable[[str, int], list[str]]


class ReportSites:
    """A built site's rankings per language, for the review's content gaps: each language's words'
    ranking where it has its search index, its reading by meaning and the hybrid ranking where it
    has its vectors too (None when it has neither: the report falls back to titles)."""

    def __init__(self, site_dir: Path, embed: QueryVectors, cache: SiteCache | None = None) -> None:
        self.site_dir = Path(site_dir)
        self.cache = cache  # None: the sites the collector's answers keep (parsed once for both)
        self.embed = embed
        self._meanings: dict[Path, tuple[AnswerSite, SiteMeanings]] = {}
        self._lock = threading.Lock()

    def site(self, code: str | None) -> tuple[Path, AnswerSite] | tuple[None, None]:
        """The folder and help center in language `code` (the default one for None); Nones without an index."""
        given = {} if self.cache is None else {"cache": self.cache}
        try:
            return language_folder(self.site_dir, code, **given), site_for_language(self.site_dir, code, **given)
        except (SearchError, ValueError):  # no index yet, or a language the site lists but did not build
            return None, None

    def rank_of(self, code: str | None) -> Rank | None:
        """That language's words' ranking (ids, best first), or None."""
        _, site = self.site(code)
        if site is None:
            return None
        index = site.index
        return lambda query, limit: [hit.id for hit in search(index, query, limit)]

    def meaning_of(self, code: str | None) -> Meaning | None:
        """That language's reading of texts by meaning and the hybrid ranking, or None without vectors.
        Kept while the site's files do not change, so a text is embedded and ranked once."""
        folder, site = self.site(code)
        if site is None or site.vectors is None:
            return None
        with self._lock:
            kept = self._meanings.get(folder)
            if kept is None or kept[0] is not site:
                kept = self._meanings[folder] = (site, SiteMeanings(site.index, site.vectors, site.language, self.embed))
        return kept[1]


_REPORT_SITES: dict[Path, ReportSites] = {}
_REPORT_LOCK = threading.Lock()
_EMBED = QueryVectors()  # a collector's gap names, embedded once for the life of the process


def report_sites(site_dir: Path) -> ReportSites:
    """The collector's ReportSites of `site_dir`: over the sites its answers have parsed already."""
    with _REPORT_LOCK:
        found = _REPORT_SITES.get(Path(site_dir))
        if found is None:
            found = _REPORT_SITES[Path(site_dir)] = ReportSites(site_dir, _EMBED)
        return found


def report_for_collector(store: Any, manifest: dict, since: datetime | None, language: str | None = None,
                         site_dir: Path | None = None) -> dict:
    """`GET /api/report`: the review report of the store against the site's manifest, as `kb report
    --format json` gives it: on a site with languages, one language's (the default's unless
    `language` says) with every language side by side; its gaps grouped and given their nearest
    articles by the site in `site_dir` (by meaning and the hybrid ranking where it has its vectors)."""
    sites = report_sites(site_dir) if site_dir is not None else None
    return site_report(store, manifest, language, since=since, rank_of=sites.rank_of if sites else None,
                       meaning_of=sites.meaning_of if sites else None)


def collector_services() -> dict[str, Any]:
    """The `report` and `search` functions every collector this command line makes is given."""
    return {"report": report_for_collector, "search": answer}
