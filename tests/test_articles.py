"""kb check: every problem named with its file and line, all reported before one failure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support import run_kb

from kb.articles import load_project, parse_duration
from kb.site.pages import nearest_articles

GOOD = """
    ---
    id: track-order
    title: Where is my parcel?
    questions: [track my order]
    tags: [shipping]
    owner: "@support"
    reviewed: 2026-01-10
    review_every: 90d
    ---
    Use the tracking link.
    """


def test_check_passes_on_good_articles(kb_project):
    root = kb_project({"articles/shipping/track-order.md": GOOD})
    result = run_kb("check", cwd=root)
    assert result.returncode == 0
    assert result.stderr == "kb check: 0 errors, 0 warnings in 1 article\n"


def test_check_reports_every_problem_with_path_and_line(kb_project):
    root = kb_project({
        "articles/shipping/track-order.md": GOOD,
        "articles/billing/refunds.md": """
            ---
            title: Refunds
            tags: billing
            reviewed: 2026-13-01
            review_every: soon
            draft: maybe
            related: [track-ordr]
            ---
            See [the policy](policy.md) and ![a chart](chart.png).

            ```
            [not a link](inside-code.md)
            ```
            """,
        "articles/billing/broken.md": """
            ---
            title: [oops
            ---
            """,
        "articles/billing/untitled.md": "No heading and no title.\n",
        "articles/billing/copy.md": """
            ---
            id: track-order
            title: where is my parcel
            ---
            """,
    })
    os.utime(root / "articles/shipping/track-order.md", (1_700_000_000, 1_700_000_000))  # the established one
    result = run_kb("check", cwd=root)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "articles/billing/broken.md:3: error: front matter is not valid YAML: did not find expected ',' or ']'",
        "    hint: check indentation and quote values holding ':' or '#'",
        "articles/billing/copy.md:2: error: duplicate id 'track-order', already used by articles/shipping/track-order.md",
        "    hint: ids are the key for votes: give this newer article its own id, never reuse one",
        "articles/billing/copy.md:3: error: title 'where is my parcel' duplicates articles/shipping/track-order.md",
        "    hint: merge the two articles, or say how they differ in the titles",
        "articles/billing/refunds.md:3: error: 'tags' must be a list of strings, got 'billing' (str)",
        "    hint: write  tags: [billing]",
        "articles/billing/refunds.md:4: error: 'reviewed' is not a real date: '2026-13-01' (month must be in 1..12)",
        "    hint: write the date as YYYY-MM-DD",
        "articles/billing/refunds.md:5: error: 'review_every' must be a duration like 90d, 12w, 6m or 1y, "
        "got 'soon' (str)",
        "    hint: write  review_every: 180d",
        "articles/billing/refunds.md:6: error: 'draft' must be true or false, got 'maybe' (str)",
        "    hint: write  draft: true",
        "articles/billing/refunds.md:7: error: related id 'track-ordr' does not exist",
        "    hint: did you mean 'track-order'?",
        "articles/billing/refunds.md:9: error: link to 'policy.md' leads nowhere",
        "    hint: link to another article's .md file, relative to this one",
        "articles/billing/refunds.md:9: error: image 'chart.png' not found",
        "    hint: put the image beside the article or fix the path",
        "articles/billing/untitled.md:1: error: no title",
        "    hint: add  title: ...  to the front matter, or a first line '# Title'",
        "kb check: 11 errors, 0 warnings in 4 articles",
    ]


def test_a_duplicate_id_is_blamed_on_the_article_git_saw_later(kb_project):
    root = kb_project({"articles/b/old.md": "---\nid: refunds\ntitle: Refunds\n---\nOld.\n"})
    git = ["git", "-c", "user.name=kb", "-c", "user.email=kb@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=root, check=True)
    # Newer in git, though it sorts first and its file time is older.
    (root / "articles/a").mkdir()
    (root / "articles/a/new.md").write_text("---\ntitle: Refund policy\nid: refunds\n---\nNew.\n", encoding="utf-8")
    os.utime(root / "articles/a/new.md", (1_600_000_000, 1_600_000_000))
    result = run_kb("check", cwd=root)
    assert result.returncode == 1
    assert result.stderr.splitlines()[:2] == [
        "articles/a/new.md:3: error: duplicate id 'refunds', already used by articles/b/old.md",
        "    hint: ids are the key for votes: give this newer article its own id, never reuse one",
    ]


def test_near_duplicate_titles_warn_without_failing(kb_project):
    root = kb_project({
        "articles/a.md": "---\ntitle: How do I reset my password?\n---\n",
        "articles/b.md": "---\ntitle: How do I reset my passwords?\n---\n",
    })
    result = run_kb("check", cwd=root)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "articles/b.md:2: warning: title 'How do I reset my passwords?' is nearly the same as "
        "'How do I reset my password?' (articles/a.md)",
        "    hint: customers cannot tell them apart in search results: make the titles distinct",
        "kb check: 0 errors, 1 warning in 2 articles",
    ]


def test_strict_names_unknown_keys(kb_project):
    root = kb_project({"articles/a.md": "---\ntitle: A\nms.date: 2020-01-01\n---\nText\n"})
    assert run_kb("check", cwd=root).returncode == 0
    result = run_kb("check", "--strict", cwd=root)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "articles/a.md:3: error: unknown front-matter key 'ms.date'"
    assert result.stderr.splitlines()[1].startswith("    hint: known keys: id, title, questions, tags")


def test_unknown_keys_are_kept_and_polish_titles_load(tmp_path: Path):
    (tmp_path / "articles" / "pl").mkdir(parents=True)
    (tmp_path / "articles" / "pl" / "dostawa.md").write_text(
        "---\nms.custom: x\nquestions: [gdzie jest moja paczka]\n---\n# Ile trwa dostawa? Łódź i okolice\n\nTreść.\n",
        encoding="utf-8")
    project = load_project(tmp_path / "articles")
    assert project.problems == []
    [article] = project.articles
    assert (article.id, article.title, article.category, article.url) == (
        "pl/dostawa", "Ile trwa dostawa? Łódź i okolice", "pl", "pl/dostawa/")
    assert article.extra == {"ms.custom": "x"}
    assert article.body_line == 5
    assert len(article.version) == 8


def test_front_matter_never_closed(tmp_path: Path):
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "a.md").write_text("---\ntitle: A\n", encoding="utf-8")
    [problem] = load_project(tmp_path / "articles").problems
    assert problem.format() == ("articles/a.md:1: error: front matter is never closed\n"
                                "    hint: end it with a line holding only '---'")


def test_category_file_problems(tmp_path: Path):
    (tmp_path / "articles" / "pay").mkdir(parents=True)
    (tmp_path / "articles" / "pay" / "a.md").write_text("# A\n", encoding="utf-8")
    (tmp_path / "articles" / "pay" / "_category.yml").write_text(
        "title: Payments\norder: first\ncolour: red\n", encoding="utf-8")
    project = load_project(tmp_path / "articles")
    assert [p.format().splitlines()[0] for p in project.problems] == [
        "articles/pay/_category.yml:2: error: 'order' must be a whole number, got 'first' (str)",
        "articles/pay/_category.yml:3: warning: unknown key 'colour'",
    ]
    assert project.categories["pay"].title == "Payments"


def test_durations():
    assert [parse_duration(v) for v in ("180d", "2w", "6m", "1y", 30, "0d", "soon", True)] == [
        180, 14, 180, 365, 30, None, None, None]


def test_drafts_are_left_out_of_published_loads(tmp_path: Path):
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "a.md").write_text("---\ntitle: A\ndraft: true\n---\n", encoding="utf-8")
    (tmp_path / "articles" / "b.md").write_text("---\ntitle: B\n---\n", encoding="utf-8")
    assert [a.id for a in load_project(tmp_path / "articles").articles] == ["a", "b"]
    assert [a.id for a in load_project(tmp_path / "articles", drafts=False).articles] == ["b"]


def test_nearest_articles_stay_in_category(tmp_path: Path):
    (tmp_path / "articles" / "ship").mkdir(parents=True)
    (tmp_path / "articles" / "pay").mkdir(parents=True)
    for path, title in [("ship/track.md", "Track my parcel"), ("ship/late.md", "My parcel is late"),
                        ("ship/cost.md", "Delivery prices abroad"), ("pay/card.md", "My parcel card was declined")]:
        (tmp_path / "articles" / path).write_text(f"---\ntitle: {title}\n---\n", encoding="utf-8")
    near = nearest_articles(load_project(tmp_path / "articles").articles, limit=1)
    assert near["ship/track"] == ["ship/late"]
    assert near["pay/card"] == []
