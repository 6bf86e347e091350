"""The site manifest (SITE/kb-manifest.json): the one writer and the one reader.

The build writes it; the collector accepts votes for the articles and versions it names; the
report lists its articles with their owners and review dates.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

NAME = "kb-manifest.json"


class ManifestError(ValueError):
    """A manifest that is missing or malformed; the message names the file and what is wrong."""


def build_manifest(articles: Iterable[Any], site_name: str = "") -> dict[str, Any]:
    """The site manifest: what the collector accepts votes for and what the report lists."""
    return {
        "version": 1,
        "site_name": site_name,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "articles": [
            {
                "id": a.id,
                "version": a.version,
                "title": a.title,
                "url": a.url,
                "category": a.category,
                "owner": a.owner,
                "reviewed": a.reviewed.isoformat() if a.reviewed else None,
                "review_every": a.review_every,
            }
            for a in articles
        ],
    }


def write_manifest(site_dir: Path, manifest: dict) -> Path:
    """Write `manifest` into `site_dir`; returns its path."""
    path = Path(site_dir) / NAME
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def load_manifest(site_dir: Path) -> dict:
    """SITE_DIR/kb-manifest.json, checked; ManifestError names the file and what is wrong."""
    path = Path(site_dir) / NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such file; build the site first (kb build)") from None
    except OSError as exc:  # a site deployed under umask 077 by another user, say
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}{_READABLE_HINT}") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    try:
        validate_manifest(manifest)
    except ManifestError as exc:
        raise ManifestError(f"{path}: {str(exc).removeprefix(NAME + ': ')}") from None
    return manifest


def validate_manifest(manifest: Any) -> list[dict]:
    """The manifest's articles, or ManifestError naming what is wrong."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("articles"), list):
        raise ManifestError("kb-manifest.json: expected an object with an 'articles' list")
    for i, article in enumerate(manifest["articles"]):
        if not isinstance(article, dict) or not isinstance(article.get("id"), str):
            raise ManifestError(f"kb-manifest.json: articles[{i}]: expected an object with a string 'id'")
    return manifest["articles"]


MAX_HISTORY = 50
"""Versions of one article the manifest remembers (the newest); older pages' votes get 422."""


def carry_history(old_site: Path, new_site: Path) -> None:
    """Add to NEW_SITE's manifest every version OLD_SITE's manifest had published (`history`).

    A page cached before a rebuild (a CDN, an open tab) votes for the version it shows; the
    collector accepts a vote for any version in `history`. A missing or unreadable old manifest
    starts the history afresh.
    """
    new_path = Path(new_site) / NAME
    try:
        new = json.loads(new_path.read_text(encoding="utf-8"))
        current = {a["id"]: a["version"] for a in new["articles"]}
    except (OSError, ValueError, KeyError, TypeError):
        return
    try:
        old = json.loads((Path(old_site) / NAME).read_text(encoding="utf-8"))
        history = _history_of(old)
    except (OSError, ValueError, KeyError, TypeError):
        history = {}
    for article, version in current.items():
        versions = [v for v in history.get(article, []) if v != version] + [version]
        history[article] = versions[-MAX_HISTORY:]
    new["history"] = history
    new_path.write_text(json.dumps(new, ensure_ascii=False, indent=1), encoding="utf-8")


def _history_of(manifest: dict) -> dict[str, list[str]]:
    """Article id -> every version published in any language, oldest first (the current ones last)."""
    history = {k: [str(v) for v in vs] for k, vs in (manifest.get("history") or {}).items()
               if isinstance(vs, list)}
    current = list(manifest["articles"])
    for language in (manifest.get("languages") or {}).values():  # a translation keeps its source's id
        current += language["articles"]
    for a in current:
        versions = history.setdefault(a["id"], [])
        if a["version"] not in versions:
            versions.append(a["version"])
    return history


_READABLE_HINT = " (the site must be readable by the user reading it: chmod -R a+rX SITE)"


class SiteManifest:
    """SITE/kb-manifest.json, reloaded whenever the file changes (a rebuild swaps it).

    A manifest missing or unreadable (a site deployed under umask 077 by another user, its files
    0600) counts as none: `versions()` is None and `problem()` says which, so the collector
    answers 503 and says why in its log, instead of failing on every request.
    """

    def __init__(self, site_dir: Path) -> None:
        self.path = Path(site_dir) / NAME
        self._stamp: tuple[int, int] | None = None
        self._data: dict | None = None
        self._versions: dict[str, str] = {}
        self._published: dict[str, frozenset[str]] = {}
        self._problem: str | None = "no manifest"
        self._lock = threading.Lock()

    def _forget(self, problem: str) -> None:
        self._stamp, self._data, self._versions, self._published = None, None, {}, {}
        self._problem = problem

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._forget("no manifest")
            return
        except OSError as exc:  # a folder on the way that this user may not enter
            self._forget(f"cannot read {self.path}: {exc.strerror or exc}{_READABLE_HINT}")
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                self._forget("no manifest")
                return
            except OSError as exc:
                self._forget(f"cannot read {self.path}: {exc.strerror or exc}{_READABLE_HINT}")
                return
            try:
                data = json.loads(text)
                versions = {a["id"]: a["version"] for a in data["articles"]}
                published = {k: frozenset(vs) for k, vs in _history_of(data).items()}
            except (ValueError, KeyError, TypeError, AttributeError):
                return  # half-written by a rebuild: keep the last good one, retry next request
            self._stamp, self._data, self._versions, self._published = stamp, data, versions, published
            self._problem = None

    def problem(self) -> str | None:
        """None when the manifest is read; else "no manifest" or "cannot read PATH: why (hint)"."""
        self._refresh()
        return self._problem if self._data is None else None

    def versions(self) -> dict[str, str] | None:
        """Article id -> current version, or None when the site has no manifest."""
        self._refresh()
        return self._versions if self._data is not None else None

    def published(self) -> dict[str, frozenset[str]]:
        """Article id -> every version the site has published of it, in any language (current ones included)."""
        self._refresh()
        return self._published

    def data(self) -> dict | None:
        """The whole manifest, or None."""
        self._refresh()
        return self._data
