"""Material's sidebar navigation, rendered once for every page that shows the same one.

Material renders its navigation (`partials/nav.html`) into every page, and it was the largest
single share of a build (profiled, `kb build` at 3,000 articles: 7.0 s of 35.5, and 0.8 s with
what follows). Yet an article is not in the sidebar (kb.site.plugin lists home and the
categories), and then Material's navigation depends on the page only through the links it
writes, relative to the page: every article of a category shows the same HTML.
`remember_navigation` makes the template keep what it rendered for such a page, under everything
in it that could differ from page to page (where its links are measured from, each entry's
active state), and give it again to the next page with the same. A page the navigation lists
(home, a category), or one with no navigation, is rendered as Material renders it; so is every
page of a site whose own templates (`custom_dir`) replace one of the navigation's, which may read
anything of the page. What is kept lasts one pass over the pages (`forget_navigation`: a build,
or the preview's pages rendered again), so an edited category title is never shown stale.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any, Iterator

NAVIGATION = "partials/nav.html"
PARTS = ("partials/nav-item.html", "partials/logo.html", "partials/source.html")  # what it includes
_KEPT = "_kb_navigation"  # the Environment attribute holding what was rendered, by key


def remember_navigation(env: Any) -> None:
    """Make `env`'s navigation template keep its HTML for pages that show the same (see above)."""
    from jinja2 import TemplateNotFound

    try:
        template = env.get_template(NAVIGATION)
        parts = [template] + [env.get_template(name) for name in PARTS]
    except TemplateNotFound:  # a theme without Material's navigation
        return
    if not all(_materials(part.filename) for part in parts):
        return  # a site's own navigation: rendered as it is written, page by page
    if getattr(env, _KEPT, None) is not None:
        return  # already remembering (the template is the environment's one cached copy)
    kept: dict[tuple, str] = {}
    setattr(env, _KEPT, kept)
    render = template.root_render_func

    def remembered(context: Any) -> Iterator[str]:
        key = _key(context)
        if key is None:
            yield from render(context)
            return
        html = kept.get(key)
        if html is None:
            html = kept[key] = "".join(render(context))
        yield html

    template.root_render_func = remembered  # what `{% include %}` calls (jinja2's compiled templates)


def forget_navigation(env: Any) -> None:
    """Drop what `env`'s navigation template kept: the next page renders it afresh."""
    kept = getattr(env, _KEPT, None)
    if kept is not None:
        kept.clear()


def _key(context: Any) -> tuple | None:
    """What the navigation's HTML can depend on for this page, or None when it is rendered as always
    (no page, no navigation, a page the navigation lists, or one with a link of it inside its folder).

    Its links are relative to where MkDocs measures them from: a page written as a file
    (`a/b.html`) from its folder (`a`), one with a folder of its own (`a/b/`) from that folder,
    which leads to any other place as its siblings' folders do (`../`, `../../c/`) as long as no
    link leads inside it. So that place, and each entry's active state, are the key.
    """
    page, nav = context.get("page"), context.get("nav")
    url = getattr(page, "url", None)
    if url is None or nav is None:
        return None
    items = list(_walk(nav.items))
    if any(item is page for item in items):
        return None
    folder, name = posixpath.split(url)
    if "." in name:
        place: tuple = ("folder", folder)
    else:
        own = url.rstrip("/")
        config = context.get("config") or {}
        targets = [getattr(item, "url", None) for item in items]
        targets += [(config.get("extra") or {}).get("homepage"), (config.get("theme") or {}).get("logo")]
        if any(str(t) == own or str(t).startswith(own + "/") for t in targets if t is not None):
            return None
        place = ("beside", posixpath.dirname(own))
    return (id(nav), context.get("base_url"), place, tuple(bool(getattr(item, "active", False)) for item in items))


def _materials(filename: str | None) -> bool:
    """Whether a template file is one of Material's own."""
    import material

    return filename is not None and Path(filename).resolve().is_relative_to(Path(material.__file__).parent.resolve())


def _walk(items: list) -> Iterator[Any]:
    for item in items:
        yield item
        yield from _walk(getattr(item, "children", None) or [])
