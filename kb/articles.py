"""Articles: load Markdown files with YAML front matter into records, and find what is wrong with them.

Pure Python over plain data: nothing here imports mkdocs or the command line library, so the
loader and its checks serve the MkDocs plugin, `kb check`, the search builder and the report alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import unquote

import yaml
from rapidfuzz import fuzz, process, utils

#: Front-matter keys the schema knows; others are kept in `Article.extra` and named by `--strict`.
KNOWN_KEYS = ("id", "title", "questions", "tags", "owner", "reviewed", "review_every", "draft", "related",
              "translated_from")
CATEGORY_KEYS = ("title", "description", "icon", "order")
#: Files in the articles folder that configure the site rather than being articles.
RESERVED_FILES = ("_category.yml", "synonyms.yml", "golden-queries.yml")

# libyaml when present: the pure-Python parser spends seconds on a few thousand front matters.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$")
_DURATION_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}
_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# [text](target "title") and ![alt](target); the target stops at whitespace or ')'.
_LINK_RE = re.compile(r"(!?)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*[\"'])?\s*\)")
_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_FRONT_MATTER_ID = re.compile(r"^id:[ \t]*[\"']?([A-Za-z0-9][A-Za-z0-9._/-]*)", re.M)
#: Titles this similar (rapidfuzz ratio after folding) are reported as near duplicates.
NEAR_DUPLICATE_TITLE = 95.0


@dataclass
class Problem:
    """One thing wrong with the content, located by file and line."""

    path: str
    line: int | None
    severity: str  # "error" or "warning"
    message: str
    hint: str | None = None
    consequence: bool = False  # it follows from another (an article that cannot be read): fixing that fixes it

    @property
    def sort_key(self) -> tuple:
        """Problems in the order a writer should read them: causes first, then by file and line."""
        return (self.consequence, self.path, self.line or 0)

    def format(self) -> str:
        """Render as `path:line: severity: message`, with the hint on its own line."""
        where = f"{self.path}:{self.line}" if self.line else self.path
        text = f"{where}: {self.severity}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


@dataclass
class Category:
    """A folder of articles; `_category.yml` may give it a title, description, icon and order."""

    id: str
    title: str
    description: str = ""
    icon: str | None = None
    order: int | None = None


@dataclass
class Article:
    """One help article, as loaded from its Markdown file."""

    id: str
    title: str
    path: Path
    rel_path: str
    category: str
    body: str
    body_line: int
    questions: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    owner: str | None = None
    reviewed: dt.date | None = None
    review_every: int | None = None
    draft: bool = False
    related: list[str] = field(default_factory=list)
    translated_from: str | None = None  # the source version a translation was made from
    extra: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    url: str = ""
    headings: list[str] = field(default_factory=list)
    meta_lines: dict[str, int] = field(default_factory=dict)  # front-matter key -> its line

    def line_of(self, key: str) -> int:
        """The line of front-matter `key`, for problems found after loading (1 when absent)."""
        return self.meta_lines.get(key, 1)


@dataclass
class Project:
    """Everything loaded from an articles folder, with every problem found on the way."""

    root: Path
    articles: list[Article]
    categories: dict[str, Category]
    problems: list[Problem]
    unreadable: dict[str, str] = field(default_factory=dict)  # shown path of each unreadable article, by its ids

    @property
    def errors(self) -> list[Problem]:
        """The problems that fail a check or a build."""
        return [p for p in self.problems if p.severity == "error"]

    def by_id(self) -> dict[str, Article]:
        """Articles keyed by id."""
        return {a.id: a for a in self.articles}


def load_project(
    articles_dir: Path, *, strict: bool = False, drafts: bool = True, display_root: Path | None = None,
    cache: Any = None, quick: bool = False,
) -> Project:
    """Load every article and category under `articles_dir` and check them all.

    `drafts=False` leaves draft articles out (a published build); `strict` turns unknown
    front-matter keys into errors. Paths in problems are shown relative to `display_root`
    (default: the folder above `articles_dir`, the project). `cache` and `quick`: see kb.site.preview.cache.
    """
    articles_dir = Path(articles_dir).resolve()
    shown = (display_root or articles_dir.parent).resolve()
    problems: list[Problem] = []
    if not articles_dir.is_dir():
        problems.append(Problem(_show(articles_dir, shown), None, "error", "no articles folder here",
                                "create it, or run kb from the project's root"))
        return Project(articles_dir, [], {}, problems)

    def scan(found: list[Problem]) -> tuple[list[Path], dict[str, Category]]:
        return sorted(articles_dir.rglob("*.md")), _load_categories(articles_dir, shown, found)

    paths, categories = scan(problems) if cache is None else cache.listing(articles_dir, scan, problems)
    articles: list[Article] = []
    unreadable: dict[str, str] = {}
    fresh: list[Article] = cache.fresh if cache is not None else []
    for path in paths:
        rel = path.as_posix()[len(articles_dir.as_posix()) + 1:]  # as relative_to(), at a tenth of its cost
        if any(part.startswith((".", "_")) for part in rel.split("/")) or _is_index(rel):
            continue
        read = lambda found, path=path, rel=rel: _load_article(path, rel, _show(path, shown), strict, found)  # noqa
        article = read(problems) if cache is None else cache.load(path, (rel, shown, strict), read, problems)
        if article is not None:
            articles.append(article)
            for ancestor in _ancestors(article.category):
                if ancestor not in categories:
                    categories[ancestor] = Category(ancestor, _title_from_slug(ancestor))
        else:
            unreadable.update(dict.fromkeys(_ids_of_unreadable(path, rel), _show(path, shown)))

    _check_ids(articles, shown, problems)
    _check_titles(articles, shown, problems, near=not (quick and cache is not None))
    _check_related(articles, shown, problems, unreadable)
    _check_links(fresh if quick and cache is not None else articles, articles_dir, shown, problems)
    if not articles and not problems:
        problems.append(Problem(_show(articles_dir, shown), None, "error", "no articles found",
                                "write one with: kb new \"How do I ...?\""))
    if not drafts:
        articles = [a for a in articles if not a.draft]
    problems.sort(key=lambda p: p.sort_key)
    return Project(articles_dir, articles, categories, problems, unreadable)


def first_added(paths: Iterable[Path]) -> dict[Path, tuple[int, float, str]]:
    """A sort key per file, oldest first: when git first saw it, else (uncommitted) its file time."""
    paths = [Path(p).resolve() for p in paths]
    seen: dict[Path, int] = {}
    top = git_toplevel(paths[0].parent) if paths else None
    if top is not None:
        log = subprocess.run(
            ["git", "-C", str(top), "log", "--reverse", "--format=%x00%ct", "--name-only", "--no-renames",
             "--diff-filter=A", "--", *(str(p) for p in paths)],
            capture_output=True, text=True, check=False,
        )
        when = 0
        for line in log.stdout.splitlines():
            if line.startswith("\x00"):
                when = int(line[1:])
            elif line:
                seen.setdefault((top / line).resolve(), when)
    return {p: (0, seen[p], p.as_posix()) if p in seen else (1, p.stat().st_mtime, p.as_posix()) for p in paths}


def fold_title(text: str) -> str:
    """Lower-case, punctuation-free form of a title, for near-duplicate comparison."""
    return utils.default_process(text)


# --- loading -----------------------------------------------------------------------------------


def _load_article(path: Path, rel: str, shown: str, strict: bool, problems: list[Problem]) -> Article | None:
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        problems.append(Problem(shown, raw[:exc.start].count(b"\n") + 1, "error", f"not UTF-8 text ({exc.reason} "
                                f"at byte {exc.start}, column {column} of this line)", "save the file as UTF-8"))
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    meta, meta_lines, body, body_line = split_front_matter(text, shown, problems)
    if meta is None:
        return None

    category = rel.rsplit("/", 1)[0] if "/" in rel else ""
    article = Article(
        id=rel[:-3], title="", path=path, rel_path=rel, category=category, body=body, body_line=body_line,
        version=hashlib.sha1(raw).hexdigest()[:8], url=_url_for(rel), meta_lines=meta_lines,
    )
    for key, value in meta.items():
        line = meta_lines.get(key)
        if key not in KNOWN_KEYS:
            article.extra[key] = value
            if strict:
                problems.append(Problem(shown, line, "error", f"unknown front-matter key '{key}'",
                                        f"known keys: {', '.join(KNOWN_KEYS)}"))
            continue
        _set_field(article, key, value, shown, line, problems)

    article.headings = _headings(body)
    if not article.title:
        h1 = first_h1(body)
        if h1:
            article.title = h1
        else:
            problems.append(Problem(shown, 1, "error", "no title",
                                    "add  title: ...  to the front matter, or a first line '# Title'"))
            article.title = article.id
    return article


def split_front_matter(
    text: str, shown: str, problems: list[Problem]
) -> tuple[dict[str, Any] | None, dict[str, int], str, int]:
    """Split YAML front matter from the body: (meta, line of each key, body, body's first line).

    Problems go to `problems`, located as `shown`; meta is None when the front matter is unreadable.
    """
    if not text.startswith("---\n") and text.strip() != "---":
        return {}, {}, text, 1
    lines = text.split("\n")
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        problems.append(Problem(shown, 1, "error", "front matter is never closed",
                                "end it with a line holding only '---'"))
        return None, {}, "", 1
    source = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1:])
    try:
        node = yaml.compose(source, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        at = lines[line - 1] if 0 < line <= end else ""  # PyYAML's words for a tab never say "tab"
        tab = "\t" in at and (mark is None or "\t" in at[: mark.column + 1] or "tab" in problem)
        problems.append(Problem(shown, line, "error", "front matter is not valid YAML: " + (
            f"a tab at column {at.index(chr(9)) + 1}; YAML indents with spaces only" if tab else problem),
            "replace the tab with spaces" if tab else "check indentation and quote values holding ':' or '#'"))
        return None, {}, body, end + 2
    if node is None:
        return {}, {}, body, end + 2
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(shown, 2, "error", "front matter must be a mapping of keys to values",
                                "write  key: value  lines between the '---' lines"))
        return None, {}, body, end + 2
    meta: dict[str, Any] = {}
    where: dict[str, int] = {}
    loader = yaml.SafeLoader("")
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 2
        try:
            key = loader.construct_object(key_node, deep=True)
            value = loader.construct_object(value_node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "value"
            if value_node.tag.endswith(":timestamp"):
                problems.append(Problem(shown, line, "error", f"'{name}' is not a real date: "
                                        f"'{value_node.value}' ({exc})", "write the date as YYYY-MM-DD"))
            else:
                problems.append(Problem(shown, line, "error", f"'{name}' cannot be read: {exc}"))
            continue
        if not isinstance(key, str):
            problems.append(Problem(shown, line, "error", f"front-matter key must be text, got {key!r}"))
            continue
        if key in meta:
            problems.append(Problem(shown, line, "error", f"'{key}' is given twice",
                                    f"keep one; the first is on line {where[key]}"))
            continue
        meta[key] = value
        where[key] = line
    return meta, where, body, end + 2


def _set_field(article: Article, key: str, value: Any, shown: str, line: int | None,
               problems: list[Problem]) -> None:
    def wrong(expected: str, hint: str) -> None:
        problems.append(Problem(shown, line, "error",
                                f"'{key}' must be {expected}, got {_describe(value)}", hint))

    if key in ("id", "title", "owner", "translated_from"):
        if value is None and key == "owner":
            return
        if not isinstance(value, str) or not value.strip():
            example = {"id": "reset-password", "title": "How do I reset my password?", "owner": '"@support"',
                       "translated_from": '"3f2a9c1b"'}[key]
            return wrong("a non-empty string", f"write  {key}: {example}")
        value = value.strip()
        if key == "id" and not _ID_RE.match(value):
            return wrong("letters, digits, '-', '_', '.' or '/' with no spaces",
                         f"write  id: {re.sub(r'[^A-Za-z0-9._/-]+', '-', value).strip('-').lower() or 'my-article'}")
        setattr(article, key, value)
    elif key in ("questions", "tags", "related"):
        if isinstance(value, str) and key == "tags":
            return wrong("a list of strings", f"write  tags: [{value}]")
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                                  for v in value):
            return wrong("a list of strings", f"write  {key}: [first, second]  or one '- item' per line")
        setattr(article, key, [str(v).strip() for v in value if str(v).strip()])
    elif key == "reviewed":
        if isinstance(value, dt.datetime):
            value = value.date()
        if not isinstance(value, dt.date):
            return wrong("a date (YYYY-MM-DD)", "write  reviewed: 2026-09-01")
        article.reviewed = value
    elif key == "review_every":
        days = parse_duration(value)
        if days is None:
            return wrong("a duration like 90d, 12w, 6m or 1y", "write  review_every: 180d")
        article.review_every = days
    elif key == "draft":
        if not isinstance(value, bool):
            return wrong("true or false", "write  draft: true")
        article.draft = value


def parse_duration(value: Any) -> int | None:
    """Days in a duration such as `180d`, `12w`, `6m`, `1y` or a bare number of days; None if invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    match = _DURATION_RE.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) == 0:
        return None
    return int(match.group(1)) * _DURATION_DAYS[match.group(2)]


def _load_categories(articles_dir: Path, shown: Path, problems: list[Problem]) -> dict[str, Category]:
    categories: dict[str, Category] = {}
    for path in sorted(articles_dir.rglob("_category.yml")):
        cid = path.parent.relative_to(articles_dir).as_posix()
        cid = "" if cid == "." else cid
        category = Category(cid, _title_from_slug(cid))
        categories[cid] = category
        where = _show(path, shown)
        try:
            node = yaml.compose(path.read_text(encoding="utf-8"), Loader=_LOADER)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.append(Problem(where, mark.line + 1 if mark else None, "error",
                                    f"not valid YAML: {getattr(exc, 'problem', None) or exc}"))
            continue
        if node is None:
            continue
        if not isinstance(node, yaml.MappingNode):
            problems.append(Problem(where, 1, "error", "must be a mapping (title, description, icon, order)"))
            continue
        loader = yaml.SafeLoader("")
        for key_node, value_node in node.value:
            key = key_node.value
            value = loader.construct_object(value_node, deep=True)
            line = key_node.start_mark.line + 1
            if key not in CATEGORY_KEYS:
                problems.append(Problem(where, line, "warning", f"unknown key '{key}'",
                                        f"known keys: {', '.join(CATEGORY_KEYS)}"))
            elif key == "order":
                if isinstance(value, bool) or not isinstance(value, int):
                    problems.append(Problem(where, line, "error", f"'order' must be a whole number, got "
                                                                  f"{_describe(value)}", "write  order: 1"))
                else:
                    category.order = value
            elif not isinstance(value, str):
                problems.append(Problem(where, line, "error", f"'{key}' must be a string, got {_describe(value)}"))
            else:
                setattr(category, key, value)
    return categories


# --- checks ------------------------------------------------------------------------------------


def _check_ids(articles: list[Article], shown: Path, problems: list[Problem]) -> None:
    """Blame every article that took an id later than the one that had it first.

    The established article keeps its id (changing it would reset its votes); "first" is by git
    history where there is one (an uncommitted file is newer than any committed one), else by
    file modification time.
    """
    by_id: dict[str, list[Article]] = {}
    for article in articles:
        by_id.setdefault(article.id, []).append(article)
    groups = [group for group in by_id.values() if len(group) > 1]
    if not groups:
        return
    added = first_added([a.path for group in groups for a in group])
    for group in groups:
        group.sort(key=lambda a: added[a.path.resolve()])
        first = group[0]
        for article in group[1:]:
            problems.append(Problem(_show(article.path, shown), article.line_of("id"), "error",
                                    f"duplicate id '{article.id}', already used by {_show(first.path, shown)}",
                                    "ids are the key for votes: give this newer article its own id, "
                                    "never reuse one"))


def _check_titles(articles: list[Article], shown: Path, problems: list[Problem], near: bool = True) -> None:
    """Duplicate titles (errors) and near duplicates (warnings), each blamed on the newer article:
    the published one was there first, as with ids (see _check_ids)."""
    folded = [fold_title(a.title) for a in articles]
    by_title: dict[str, list[int]] = {}
    for i, title in enumerate(folded):
        by_title.setdefault(title, []).append(i)
    # Near duplicates: compare each title with those before it; the length filter inside
    # rapidfuzz makes a high cutoff cheap even for thousands of titles.
    matches = [(i, process.extractOne(folded[i], folded[:i], scorer=fuzz.ratio, processor=None,
                                      score_cutoff=NEAR_DUPLICATE_TITLE)) for i in range(1, len(articles) if near else 0)]
    pairs = [(m[2], i) for i, m in matches if m and m[0] != folded[i]]
    groups = [group for group in by_title.values() if len(group) > 1]
    added = first_added([articles[i].path for group in [*groups, *pairs] for i in group]) if groups or pairs else {}
    for group in groups:
        first, *later = sorted((articles[i] for i in group), key=lambda a: added[a.path.resolve()])
        problems.extend(Problem(_show(a.path, shown), a.line_of("title"), "error",
                                f"title '{a.title}' duplicates {_show(first.path, shown)}",
                                "merge the two articles, or say how they differ in the titles") for a in later)
    for pair in pairs:
        older, newer = sorted((articles[i] for i in pair), key=lambda a: added[a.path.resolve()])
        problems.append(Problem(_show(newer.path, shown), newer.line_of("title"), "warning", f"title '{newer.title}' "
                                f"is nearly the same as '{older.title}' ({_show(older.path, shown)})",
                                "customers cannot tell them apart in search results: make the titles distinct"))


def _check_related(articles: list[Article], shown: Path, problems: list[Problem], unreadable: dict[str, str]) -> None:
    ids = {a.id for a in articles}
    for article in articles:
        for rid in article.related:
            if rid in unreadable and rid not in ids:  # it follows from that file's own error, reported first
                problems.append(Problem(_show(article.path, shown), article.line_of("related"), "error",
                                        f"related id '{rid}' is the id of {unreadable[rid]}, which cannot be read",
                                        "fix that file's error first: this one follows from it", consequence=True))
            elif rid not in ids:
                close = process.extractOne(rid, ids, scorer=fuzz.ratio, processor=None, score_cutoff=70)
                problems.append(Problem(_show(article.path, shown), article.line_of("related"), "error",
                                        f"related id '{rid}' does not exist",
                                        f"did you mean '{close[0]}'?" if close else "use the id of an existing article"))


def _check_links(articles: list[Article], articles_dir: Path, shown: Path, problems: list[Problem]) -> None:
    for article in articles:
        for line_no, is_image, target in _links(article.body):
            if _SCHEME_RE.match(target) or target.startswith(("#", "/", "//")):
                continue
            target_path = target.split("#", 1)[0].split("?", 1)[0]
            if not target_path:
                continue
            resolved = (article.path.parent / unquote(target_path)).resolve()
            line = article.body_line + line_no
            where = _show(article.path, shown)
            if is_image:
                if not resolved.is_file():
                    problems.append(Problem(where, line, "error", f"image '{target}' not found",
                                            "put the image beside the article or fix the path"))
            elif target_path.endswith(".md"):
                if not resolved.is_file():
                    problems.append(Problem(where, line, "error", f"link to '{target}' leads nowhere",
                                            "link to another article's .md file, relative to this one"))
                elif resolved.is_relative_to(articles_dir):
                    rel = resolved.relative_to(articles_dir).as_posix()
                    if any(part.startswith((".", "_")) for part in Path(rel).parts):
                        problems.append(Problem(where, line, "error", f"link to '{target}' leads to a hidden file"))
            elif not resolved.exists():
                problems.append(Problem(where, line, "error", f"link to '{target}' leads nowhere",
                                        "fix the path, or link to the article's .md file"))


# --- helpers -----------------------------------------------------------------------------------


def _links(body: str) -> Iterable[tuple[int, bool, str]]:
    """(line offset, is image, target) of each Markdown link outside code."""
    in_fence = False
    for offset, line in enumerate(body.split("\n")):
        if _FENCE_RE.match(line):
            in_fence = not in_fence
            continue
        if in_fence or line.startswith("    "):
            continue
        line = re.sub(r"`[^`]*`", "", line)
        for match in _LINK_RE.finditer(line):
            yield offset, match.group(1) == "!", match.group(2)


def _ids_of_unreadable(path: Path, rel: str) -> list[str]:
    """The ids an article that cannot be read would have had: its path's, and its front matter's
    `id:` line when one can be made out (its YAML may be broken elsewhere)."""
    return [rel[:-3], *_FRONT_MATTER_ID.findall(path.read_bytes().decode("utf-8", "replace").split("\n---", 1)[0])[:1]]


def _headings(body: str) -> list[str]:
    found, in_fence = [], False
    for line in body.split("\n"):
        if _FENCE_RE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            match = _HEADING_RE.match(line)
            if match and len(match.group(1)) >= 2:
                found.append(_strip_inline(match.group(2)))
    return found


def first_h1(body: str) -> str | None:
    in_fence = False
    for line in body.split("\n"):
        if _FENCE_RE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            match = _HEADING_RE.match(line)
            if match and len(match.group(1)) == 1:
                return _strip_inline(match.group(2))
    return None


def _strip_inline(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\s*\{[:#.][^}]*\}\s*$", "", text)  # attr_list
    return re.sub(r"[*_`]", "", text).strip()


def _url_for(rel: str) -> str:
    stem = rel[:-3]
    if stem == "index" or stem.endswith("/index"):
        return stem[: -len("index")]
    return stem + "/"


def _is_index(rel: str) -> bool:
    return rel == "index.md" or rel.endswith("/index.md")


def _ancestors(category: str) -> list[str]:
    parts = category.split("/") if category else []
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _title_from_slug(slug: str) -> str:
    name = slug.rsplit("/", 1)[-1] if slug else "Help Center"
    return re.sub(r"[-_]+", " ", name).strip().capitalize() or slug


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}' (str)"
    if value is None:
        return "nothing"
    return f"{value!r} ({type(value).__name__})"


def _show(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def git_toplevel(folder: Path) -> Path | None:
    """The top folder of the git work tree holding `folder`, or None."""
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, check=False)
    except OSError:
        return None
    return Path(out.stdout.strip()).resolve() if out.returncode == 0 and out.stdout.strip() else None
