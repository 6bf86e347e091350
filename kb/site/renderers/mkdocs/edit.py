"""An edit of articles, applied to one language's MkDocs build without rendering the whole site again.

`apply_edit` brings the build (MkDocs' files and navigation, kb's state) in step with the edited
articles, as a full build would have left it, and renders again the pages that show what
changed: the article, the home and category pages listing it, the articles whose "related"
lists name it, the pages next to a page that came or went. It returns what changed
(kb.site.state.Change) for the other languages and for finish.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from kb.articles import Article, Project
from kb.channels.llms import twin_url
from kb.site.renderers.mkdocs import pagewise
from kb.site.renderers.mkdocs.pagewise import MkDocsBuild
from kb.site.state import BuildState, Change


def apply_edit(build: MkDocsBuild, new: Project) -> Change:
    """Bring one language's build in step with `new` (see the module's docstring)."""
    from mkdocs.structure.files import File, Files, set_exclusions
    from mkdocs.structure.pages import Page

    state, config, files = build.state, build.config, build.files
    before = dict(state.by_src)
    edit = state.edit(new)
    footer = "navigation.footer" in (config.theme.get("features") or [])
    earlier = pagewise.neighbours(build) if edit.added or edit.removed or (footer and edit.listed) else None

    # MkDocs' files, in the order its walk of the folder gives them (the sitemap lists them so).
    site_dir = Path(config.site_dir)
    for src in edit.removed:
        file = files.get_file_from_path(src)
        if file is not None:
            files.remove(file)
            _remove_outputs([Path(file.abs_dest_path), site_dir / twin_url(file.url)], site_dir)
    for src in sorted(edit.added, key=_walk_key):
        file = File(src, config.docs_dir, config.site_dir, config.use_directory_urls)
        set_exclusions(Files([file]), config)
        _insert(files, file, config.docs_dir)
        if file.inclusion.is_included():
            Page(None, file, config)
    if edit.added or edit.removed:
        build.files_changed()
    state.set_urls({a.id: _url(files, a) for a in new.articles if a.rel_path not in before})

    # Generated listing pages (home, every category above a touched one), then the articles.
    targets = [f for f in (files.get_file_from_path(src) for src in edit.generated) if f is not None and f.generated_by]
    targets += [files.get_file_from_path(src) for src in edit.again]
    if edit.added or edit.removed:
        pagewise.navigate_again(build)
    first = _pages(state, targets)
    pagewise.render_pages(build, first)
    rest: list = []
    if earlier is not None:  # pages next to one that came, went or was renamed show it
        done = {id(page) for page in first}
        now = pagewise.neighbours(build)
        rest = _pages(state, [f for f in build.documentation_pages() if f.page is not None
                              and id(f.page) not in done and earlier.get(id(f.page)) != now[id(f.page)]])
        pagewise.render_pages(build, rest)
    return dataclasses.replace(edit.change, rendered=len(first) + len(rest))


def render_articles(build: MkDocsBuild, ids: set[str]) -> int:
    """Render the pages of the articles with `ids` again (another language's change shows on them)."""
    state = build.state
    found = [build.files.get_file_from_path(state.articles[i].rel_path) for i in sorted(ids) if i in state.articles]
    page_list = [f.page for f in found if f is not None and f.page is not None]
    pagewise.render_pages(build, page_list)
    return len(page_list)


def _pages(state: BuildState, targets: list) -> list:
    """The pages of `targets` (files, some None), each once; a generated page gets its Markdown afresh."""
    found, seen = [], set()
    for file in targets:
        if file is None or file.page is None or id(file.page) in seen:
            continue
        seen.add(id(file.page))
        if file.generated_by:
            file.content_string = state.generated_markdown(file.src_uri)
        found.append(file.page)
    return found


def _url(files: Any, article: Article) -> str:
    file = files.get_file_from_path(article.rel_path)
    return file.url if file is not None else article.url


def _walk_key(src_uri: str) -> tuple:
    """Where MkDocs' walk of the docs folder meets a file: a folder's files (index first), then its folders."""
    parts = src_uri.split("/")
    name = parts[-1]
    return (*((1, folder) for folder in parts[:-1]), (0, (os.path.splitext(name)[0] not in ("index", "README"), name)))


def _insert(files: Any, file: Any, docs_dir: str) -> None:
    """Add `file` where MkDocs' walk would have listed it: before the first later walked file,
    else before the theme's and generated files, which come after every walked one."""
    key = _walk_key(file.src_uri)
    later = []
    for other in files:
        walked = other.generated_by is None and other.src_dir == docs_dir
        if later or not walked or _walk_key(other.src_uri) > key:
            later.append(other)
    for other in later:
        files.remove(other)
    files.append(file)
    for other in later:
        files.append(other)


def _remove_outputs(paths: list[Path], site_dir: Path) -> None:
    """Delete a removed page's files and the folders they leave empty."""
    for path in paths:
        path.unlink(missing_ok=True)
    for folder in {path.parent for path in paths}:
        while folder != site_dir and folder.is_relative_to(site_dir) and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
