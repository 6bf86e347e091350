"""`kb new --translate ID --language CODE` and `kb check --translations`: the translator's commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

import click

from kb.cli.app import fail
from kb.site.build import SiteConfig, SiteError
from kb.site.languages import Language, load_projects, translate_text, translation_summary


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
                    new_article_text: Callable[[str, str, dt.date], str], slugify: Callable[[str], str]) -> None:
    """Write a translation of `translate_id` (or a new article) into `language`'s articles.

    `kb new`'s own text and slug makers are handed in, so a new article reads the same in any language.
    """
    languages = site_languages(site, "kb new")
    codes = [lang.code for lang in languages]
    if language is None:
        fail("kb new: --translate needs --language, one of: " + ", ".join(codes[1:] or codes), 2)
    if language not in codes:
        fail(f"kb new: --language must be one of {', '.join(codes)} (from {site.config_file.name}), got {language!r}", 2)
    if category and (category.startswith(("/", ".")) or ".." in category.split("/")):
        fail(f"kb new: --category must be a folder inside {_shown(site.docs_dir / language)}, got {category!r}", 2)
    folder = site.docs_dir / language
    if translate_id is None:
        if title is None:
            fail("kb new: give the new article's TITLE", 2)
        slug = article_id or slugify(title)
        if not slug:
            fail(f"kb new: cannot make a file name from {title!r}; pass --id", 2)
        path = folder / category / f"{slug.rsplit('/', 1)[-1]}.md"
        text = new_article_text(slug, title, dt.date.today())
    else:
        if language == codes[0]:
            fail(f"kb new: {language} is the default language, which translations are made from; "
                 f"choose another --language ({', '.join(codes[1:])})", 2)
        source = load_projects(site.docs_dir, languages[:1], display_root=site.project_dir)[codes[0]].by_id().get(translate_id)
        if source is None:
            fail(f"kb new: no {codes[0]} article has id {translate_id!r}; see the ids with  kb check", 1)
        existing = load_projects(site.docs_dir, [next(lang for lang in languages if lang.code == language)],
                                 display_root=site.project_dir)[language].by_id().get(translate_id)
        if existing is not None:
            fail(f"{_shown(existing.path)}: already translates {translate_id!r} into {language}", 1)
        name = slugify(title) if title else Path(source.rel_path).stem
        if not name:
            fail(f"kb new: cannot make a file name from {title!r}", 2)
        rel_folder = category if category else str(Path(source.rel_path).parent).replace(".", "")
        path = folder / rel_folder / f"{name}.md"
        text = translate_text(source, source.path.read_text(encoding="utf-8"))
    if path.exists():
        fail(f"{_shown(path)}: already exists; choose another name or --category", 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    click.echo(_shown(path))


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
