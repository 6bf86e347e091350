"""Putting our search into a built site: the index file, the worker, and Material's search plugin.

Material's header search box shows only while its `search` plugin is enabled, and its page
script fetches `search/search_index.json` and hands it to the worker named in the page's
`__config`. So the plugin stays listed, but its own indexing is switched off
(`quiet_material_search`), our index is written at that path (`write_site_index`), and the
page names our worker (template `kb_search_config.html`). Nothing here imports MkDocs: the
plugin passes its objects in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kb.search.index import DEFAULT_SEPARATOR, build_index, load_synonyms, write_index

ASSETS = Path(__file__).parent.parent / "assets" / "search"
WORKER = ASSETS / "worker.js"
FOLD = ASSETS / "fold.js"  # served in front of the worker, and to pages before highlight.js
STEMMERS = (ASSETS / "stem_pl.js",)  # served in front of the worker, which uses them
WORKER_URL = "assets/kb/search/worker.js"
FOLD_URL = "assets/kb/search/fold.js"
#: The header's search dialog where the theme's own search is off (Zensical), on the same worker.
DIALOG = ASSETS / "dialog.js"
DIALOG_URL = "assets/kb/search/dialog.js"
TEMPLATES = ASSETS / "templates"
SYNONYMS = "synonyms.yml"
GOLDEN = "golden-queries.yml"
MATERIAL_SEARCH = ("material/search", "search")


def quiet_material_search(plugins: Any) -> str:
    """Stop Material's search plugin from indexing pages; return the separator it configures.

    The plugin stays in `plugins` (the header shows the search box only then); only its page
    collection and index writing are unhooked, because our index replaces what they produce.
    """
    for name in MATERIAL_SEARCH:
        plugin = plugins.get(name) if hasattr(plugins, "get") else None
        if plugin is not None and type(plugin).__module__.startswith("material."):
            break
    else:
        return DEFAULT_SEPARATOR
    for event in ("page_context", "post_build", "serve"):
        handlers = plugins.events.get(event, [])
        handlers[:] = [h for h in handlers if getattr(h, "__self__", None) is not plugin]
    return getattr(plugin.config, "separator", None) or DEFAULT_SEPARATOR


def worker_source() -> str:
    """The search worker as the site serves it: the folding and stemmers it needs, then the engine,
    one script."""
    return "\n".join(path.read_text(encoding="utf-8") for path in (FOLD, *STEMMERS, WORKER))


def take_over_highlighting(theme: Any) -> bool:
    """Take Material's `search.highlight` feature over; True when the site asked for it.

    Material marks the query's words anywhere on the page, letters inside other words too ("a" in
    "Was"). With the feature off, our worker links each result with the terms it matched
    (`?h=`), and kb/assets/highlight.js marks only whole words starting with them.
    """
    features = theme.get("features") if hasattr(theme, "get") else None
    if not features or "search.highlight" not in features:
        return False
    features.remove("search.highlight")
    return True


def write_site_index(articles: list, docs_dir: Path, site_dir: Path, separator: str = DEFAULT_SEPARATOR,
                     language: str = "en", highlight: bool = False) -> dict:
    """Build the index from `articles` (synonyms from docs_dir/synonyms.yml) analysed as `language`,
    and write it into the site (`highlight`: results link to the page with the matched terms)."""
    index = build_index(articles, load_synonyms(Path(docs_dir) / SYNONYMS), language=language)
    write_index(index, site_dir, separator, highlight=highlight)
    return index


def page_settings(texts: dict, contact: list[dict], language: str) -> dict:
    """What the page's search script (kb/assets/kb.js) needs, as `extra.kb_search`: the search texts
    in the site's language, the contact channels it offers when there is no good answer, the language."""
    return {"texts": dict(texts.get("search", {})), "contact": [dict(c) for c in contact], "language": language}


def separator_of(plugins: list) -> str:
    """The `separator` of Material's search plugin among mkdocs.yml's `plugins:` entries, if set."""
    for entry in plugins:
        if isinstance(entry, dict):
            for name, options in entry.items():
                if name in MATERIAL_SEARCH and isinstance(options, dict) and options.get("separator"):
                    return str(options["separator"])
    return DEFAULT_SEPARATOR
