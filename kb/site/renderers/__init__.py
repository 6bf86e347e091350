"""The renderers: what turns the prepared Markdown pages into HTML (the pipeline's *render* step).

Each implements kb.site.build.Renderer: `build` (every language: prepare, render, finish) and,
for the preview, `errors`, `apply`, `rerender`, `write_sitemap` and `moved`. MkDocs + Material
(`mkdocs`, the default: the kb plugin inside MkDocs' build) and Zensical (`zensical`, which runs
no MkDocs plugins, so kb's work happens before and after it).
"""

from __future__ import annotations

from typing import Any

from kb.site.state import RENDERERS


def renderer_for(name: str) -> Any:
    """The renderer called `name` (one of kb.site.state.RENDERERS)."""
    if name not in RENDERERS:
        raise ValueError(f"unknown renderer {name!r}; choose one of {', '.join(RENDERERS)}")
    if name == "zensical":
        from kb.site.renderers.zensical import ZensicalRenderer

        return ZensicalRenderer()
    from kb.site.renderers.mkdocs import MkDocsRenderer

    return MkDocsRenderer()
