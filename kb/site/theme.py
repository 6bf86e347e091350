"""kb's theme layer, as every renderer wires it: template folders, `extra` values, scripts and styles.

Material's templates (MkDocs') and Zensical's bundled copy of them read the same `config.extra`
keys and find kb's templates in the same folders; what one language's pages need is worked out
here once, from its build state (kb.site.state), and each renderer puts it where its generator
looks (kb.site.plugin for MkDocs, kb.site.renderers.zensical for Zensical). Nothing here imports
a generator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from kb.search import site_index as search_site
from kb.site.state import BuildState
from kb.votes.widget import WIDGET_THEME_DIR, widget_extra

ASSETS = Path(__file__).parent.parent / "assets"
#: kb's own theme layer: page templates (meta, search config, language menu, 404) over Material's.
OVERRIDES = ASSETS / "overrides"
#: kb's scripts and styles, served at assets/kb/<name>.
SCRIPTS = ("kb.css", "kb.js", "livereload.js", "highlight.js")
#: What differs on Zensical's theme (its search dialog, colours), served at assets/kb/zensical.css.
ZENSICAL_STYLES = "zensical.css"
#: The keys of `extra` kb's templates read, each set by `theme_extra`.
EXTRA_KEYS = ("kb_contact", "kb_texts", "kb_search", "alternate", "kb_votes", "kb_feedback", "analytics",
              "kb_generator")
#: What the footer's "Made with ..." names, by renderer.
GENERATORS = {"mkdocs": {"name": "Material for MkDocs", "url": "https://squidfunk.github.io/mkdocs-material/"},
              "zensical": {"name": "Zensical", "url": "https://zensical.org/"}}


def template_dirs() -> tuple[list[Path], list[Path]]:
    """kb's template folders: those ahead of the theme's (highest priority first), those behind it.

    Ahead: kb's page templates, then the feedback widget's. Behind: the search configuration
    template, which kb's main.html includes by name. A site's own `custom_dir` stays ahead of all.
    """
    return [OVERRIDES, WIDGET_THEME_DIR], [search_site.TEMPLATES]


def theme_extra(state: BuildState, configured: Mapping[str, Any] | None = None, *,
                renderer: str = "mkdocs") -> dict[str, Any]:
    """The `extra` values of one language's pages: the site's own (`configured`), with what kb's
    templates read (contact channels, interface texts, search settings, language menu, the
    feedback widget's texts and vocabulary) in the language being built."""
    extra = dict(configured or {})
    extra["kb_contact"] = state.contacts
    extra["kb_texts"] = state.texts  # for kb's theme templates (404 page, footer, title)
    extra["kb_search"] = search_site.page_settings(state.texts, state.contacts, state.search_language)
    before, _, after = str(state.texts.get("made_with") or "Made with {generator}").partition("{generator}")
    extra["kb_generator"] = {**GENERATORS[renderer], "before": before, "after": after}
    if state.langs:
        extra["alternate"] = state.alternates(None)  # <link rel=alternate> to each language's home
    widget_extra(extra, texts=state.texts, default_language=not state.building)
    return extra


def page_styles(*, renderer: str = "mkdocs") -> list[str]:
    """kb's style sheets, as site-relative URLs, after the site's own."""
    return ["assets/kb/kb.css"] + ([f"assets/kb/{ZENSICAL_STYLES}"] if renderer == "zensical" else [])


def page_scripts(state: BuildState, *, renderer: str = "mkdocs") -> list[str]:
    """kb's page scripts, as site-relative URLs, after the site's own: the search box's, the
    highlighting of matched words (where the site asks for it), the preview's reload, and on
    Zensical the header's search dialog (Zensical's own search is closed to kb's engine)."""
    return (["assets/kb/kb.js"]
            + ([search_site.FOLD_URL, "assets/kb/highlight.js"] if state.settings.highlight else [])
            + (["assets/kb/livereload.js"] if state.options.livereload else [])
            + ([search_site.DIALOG_URL] if renderer == "zensical" else []))


def site_files(*, renderer: str = "mkdocs") -> dict[str, Path | str]:
    """The files kb adds to every language's site, by site-relative URL: a source file, or the text."""
    files: dict[str, Path | str] = {f"assets/kb/{name}": ASSETS / name for name in SCRIPTS}
    files[search_site.WORKER_URL] = search_site.worker_source()
    files[search_site.FOLD_URL] = search_site.FOLD
    if renderer == "zensical":
        files[search_site.DIALOG_URL] = search_site.DIALOG
        files[f"assets/kb/{ZENSICAL_STYLES}"] = ASSETS / ZENSICAL_STYLES
    return files
