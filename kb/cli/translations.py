"""`kb new --translate ID --language CODE` and `kb check --translations`: the translator's commands."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Callable

import click

from kb.cli.app import fail
from kb.site.build import SiteConfig, SiteError
from kb.site.languages import Language, load_projects, translation_summary
from kb.site.translate import start_translation, translation_folder


def site_languages(site: SiteConfig, command: str) -> list[Language]:
    """The site's languages, or stop: the command needs `languages` in mkdocs.yml."""
    try:
        languages = site.languages
    except SiteError as exc:
        fail(str(exc), 1)
    if not languages:
        fail(f"{command}: {site.config_file.name} has no languages; add  languages: [{{code: en, name: English}}, "
             "{code: pl, name: Polski}]  under the kb plugin", 2)
    return languages


def new_in_language(site: SiteConfig, title: str | None, category: str, article_id: str | None,
                    translate_id: str | None, language: str | None, *,
                    new_article_text: Callable[..., str], slugify: Callable[[str], str]) -> None:
    """Write a translation of `translate_id` (or a new article) into `language`'s articles (a new
    article without `language`: the default language's, the one the site's other articles start in).

    `kb new`'s own text and slug makers are handed in, so a new article reads the same in any language.
    """
    languages = site_languages(site, "kb new")
    codes = [lang.code for lang in languages]
    if language is None and translate_id is not None:
        fail("kb new: --translate needs --language, one of: " + ", ".join(codes[1:] or codes), 2)
    language = language or codes[0]
    if language not in codes:
        fail(f"kb new: --language must be one of {', '.join(codes)} (from {site.config_file.name}), got {language!r}", 2)
    if category and (category.startswith(("/", ".")) or ".." in category.split("/")):
        fail(f"kb new: --category must be a folder inside {_shown(site.docs_dir / language)}, got {category!r}", 2)
    target = next(lang for lang in languages if lang.code == language)
    folder = site.docs_dir / language
    start = None
    if translate_id is None:
        if title is None:
            fail("kb new: give the new article's TITLE", 2)
        slug = article_id or slugify(title)
        if not slug:
            fail(f"kb new: cannot make a file name from {title!r}; pass --id", 2)
        path = folder / category / f"{slug.rsplit('/', 1)[-1]}.md"
        text = new_article_text(slug, title, dt.date.today(), body=target.texts["new_article_body"])
    else:
        if language == codes[0]:
            fail(f"kb new: {language} is the default language, which translations are made from; "
                 f"choose another --language ({', '.join(codes[1:])})", 2)
        projects = load_projects(site.docs_dir, [languages[0], target], display_root=site.project_dir)
        sources, translated = projects[codes[0]], projects[language].by_id()
        source = sources.by_id().get(translate_id)
        if source is None:
            fail(f"kb new: no {codes[0]} article has id {translate_id!r}; see the ids with  kb check", 1)
        if translate_id in translated:
            fail(f"{_shown(translated[translate_id].path)}: already translates {translate_id!r} into {language}", 1)
        name = slugify(title) if title else Path(source.rel_path).stem
        if not name:
            fail(f"kb new: cannot make a file name from {title!r}", 2)
        rel_folder = category or translation_folder(source, sources.articles, translated)
        if rel_folder is None and source.category:
            folders = sorted({a.category for a in translated.values() if a.category})
            fail(f"kb new: no {language} category holds a translation from {source.category}/ yet; choose the "
                 f"folder with --category ({language} has: {', '.join(folders) or 'none yet'})", 2)
        path = folder / (rel_folder or "") / f"{name}.md"
        start = start_translation(source, source.path.read_text(encoding="utf-8"), path.resolve(), language,
                                  {a.path.resolve(): a for a in sources.articles}, translated)
        text = start.text
    if path.exists():
        fail(f"{_shown(path)}: already exists; choose another name or --category", 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    for image, copy in start.images if start else []:
        if image.is_file() and not copy.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(image, copy)
    click.echo(_shown(path))
    if start and start.left_out:
        click.echo(f"kb new: not in {language} yet, so left out (named in its front matter): "
                   + ", ".join(start.left_out), err=True)


def print_translations(site: SiteConfig) -> None:
    """Per other language: translated (current), outdated, missing, and its own articles."""
    languages = site_languages(site, "kb check --translations")
    projects = load_projects(site.docs_dir, languages, drafts=True, display_root=site.project_dir)
    click.echo(f"{'language':<10} {'translated':>10} {'outdated':>9} {'missing':>8} {'own':>5}")
    for row in translation_summary(projects, languages):
        click.echo(f"{row['language']:<10} {row['translated']:>10} {row['outdated']:>9} {row['missing']:>8} {row['own']:>5}")
        if row["outdated_ids"]:
            click.echo(f"  outdated: {', '.join(row['outdated_ids'])}")
        if row["missing_ids"]:
            click.echo(f"  missing: {', '.join(row['missing_ids'])}")


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return str(path)
