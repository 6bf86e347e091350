"""The writer's commands on a site with languages, and their messages, as the README shows them:
`kb new` (new articles, translations), `kb check` (what will not be published, unreadable
articles, tabs, encodings, duplicate titles), `kb search --language`, `kb serve` (its store, and
errors in the articles), and the pre-commit hook."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from support import MKDOCS_YML, ROOT, free_port, run_kb, start_kb_serve

LANGUAGES_YML = MKDOCS_YML + """\
      languages:
        - {code: en, name: English}
        - {code: pl, name: Polski}
"""


def demo_copy(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    root.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", root / "mkdocs.yml")
    shutil.copytree(ROOT / "articles", root / "articles")
    return root


def test_the_readmes_kb_new_examples_work_on_the_demo(tmp_path: Path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"### Write an article\n.*?```bash\n(.*?)```", readme, re.S).group(1)
    root = demo_copy(tmp_path)
    for line in block.strip().splitlines():
        command, expected = line.split("#", 1)
        args = shlex.split(command)
        assert args[:2] == ["kb", "new"]
        result = run_kb(*args[1:], cwd=root)
        assert (result.returncode, result.stdout) == (0, expected.strip().removeprefix("-> ") + "\n"), result.stderr
    check = run_kb("check", cwd=root)
    assert check.returncode == 0, check.stderr
    # the two new articles' placeholders, to be filled in (the translation is a draft until translated)
    assert check.stderr.splitlines()[-1].startswith("kb check: 0 errors, 2 warnings")
    assert check.stderr.count("warning: still holds kb new's placeholder text") == 2
    translation = (root / "articles/pl/platnosci/gift-cards.md").read_text(encoding="utf-8")
    assert "draft: true" in translation


def test_an_article_outside_every_language_folder_is_an_error(kb_project):
    root = kb_project({"articles/en/pay/card.md": "---\ntitle: Can I pay by card?\n---\nYes, Visa.\n",
                       "articles/pay/blik.md": "---\ntitle: Can I pay with BLIK?\n---\nYes, in Poland.\n",
                       "articles/_notes/todo.md": "a writer's notes, left out on purpose\n"},
                      mkdocs_yml=LANGUAGES_YML)
    result = run_kb("check", cwd=root)
    assert (result.returncode, result.stderr) == (1, (
        "articles/pay/blik.md: error: outside every language's folder (en/, pl/), so no build publishes it\n"
        "    hint: move it to articles/en/pay/blik.md (or the folder of its language); a name starting with _ "
        "keeps a file unpublished on purpose\n"
        "articles/pl: error: no articles folder here\n"
        "    hint: create it, or run kb from the project's root\n"
        "kb check: 2 errors, 0 warnings in 1 article\n"))
    new = run_kb("new", "Can I pay later?", "--category", "pay", cwd=root)
    assert (new.returncode, new.stdout) == (0, "articles/en/pay/can-i-pay-later.md\n")


def test_an_unreadable_article_comes_first_and_what_follows_from_it_says_so(kb_project):
    root = kb_project({
        "articles/en/shipping/track-order.md": "---\nid: track-order\ntitle: Where is: my parcel\n---\nTrack it.\n",
        "articles/en/orders/cancel.md": "---\ntitle: How do I cancel?\nrelated: [track-order]\n---\nCancel it.\n",
        "articles/en/orders/change.md": "---\ntitle: How do I change an order?\nrelated: [track-order]\n---\nX.\n",
        "articles/pl/dostawa/sledzenie.md": "---\nid: track-order\ntranslated_from: \"12345678\"\n"
                                            "title: Gdzie jest paczka?\n---\nŚledź.\n",
    }, mkdocs_yml=LANGUAGES_YML)
    result = run_kb("check", cwd=root)
    assert result.returncode == 1
    assert result.stderr == (
        "articles/en/shipping/track-order.md:3: error: front matter is not valid YAML: mapping values are not "
        "allowed in this context\n"
        "    hint: check indentation and quote values holding ':' or '#'\n"
        "articles/en/orders/cancel.md:3: error: related id 'track-order' is the id of "
        "articles/en/shipping/track-order.md, which cannot be read\n"
        "    hint: fix that file's error first: this one follows from it\n"
        "articles/en/orders/change.md:3: error: related id 'track-order' is the id of "
        "articles/en/shipping/track-order.md, which cannot be read\n"
        "    hint: fix that file's error first: this one follows from it\n"
        "articles/pl/dostawa/sledzenie.md:3: warning: translation of articles/en/shipping/track-order.md, "
        "which cannot be read\n"
        "    hint: fix that file's error first: this one follows from it\n"
        "kb check: 3 errors, 1 warning in 3 articles\n")


@pytest.fixture
def translating(kb_project) -> Path:
    """English payments with a Polish translation of one of them, in the language's own category."""
    return kb_project({
        "articles/en/payments/_category.yml": "title: Payments\n",
        "articles/en/payments/methods.md": "---\nid: methods\ntitle: Which payment methods do you accept?\n---\n"
                                           "Cards and BLIK.\n",
        "articles/en/payments/invoices.md": "---\nid: invoices\ntitle: How do I get an invoice?\n---\nAsk us.\n",
        "articles/en/payments/gift-cards.md": (
            "---\nid: gift-cards\ntitle: How do gift cards work?\nrelated: [methods, invoices]\n"
            "tags: [payments]\n---\n"
            "Pay with one at checkout: see [methods](methods.md#cards) and [invoices](invoices.md).\n\n"
            "![The card](card.png)\n"),
        "articles/en/payments/card.png": "a picture",
        "articles/en/account/reset.md": "---\nid: reset\ntitle: How do I reset my password?\n---\nUse the link.\n",
        "articles/pl/platnosci/_category.yml": "title: Płatności\n",
        "articles/pl/platnosci/metody.md": "---\nid: methods\ntitle: Jakie są metody płatności?\n---\nKarty i BLIK.\n",
    }, mkdocs_yml=LANGUAGES_YML)


def test_a_translation_goes_to_the_languages_category_and_checks_clean_at_once(translating: Path):
    result = run_kb("new", "--translate", "gift-cards", "--language", "pl", cwd=translating)
    assert (result.returncode, result.stdout) == (0, "articles/pl/platnosci/gift-cards.md\n")
    assert result.stderr == ("kb new: not in pl yet, so left out (named in its front matter): related invoices, "
                             "link invoices\n")
    text = (translating / "articles/pl/platnosci/gift-cards.md").read_text(encoding="utf-8")
    front, body = text.split("\n---\n", 1)
    meta = yaml.safe_load(front.removeprefix("---\n"))
    assert meta["id"] == "gift-cards" and meta["related"] == ["methods"] and meta["draft"] is True
    assert "# not yet in pl: invoices" in front and "# links left as their text, no pl article yet: invoices" in front
    assert body == ("Pay with one at checkout: see [methods](metody.md#cards) and invoices.\n\n"
                    "![The card](card.png)\n")
    assert (translating / "articles/pl/platnosci/card.png").read_text() == "a picture"
    assert not (translating / "articles/pl/payments").exists()  # no English category on the Polish home
    check = run_kb("check", cwd=translating)
    assert (check.returncode, check.stderr) == (0, "kb check: 0 errors, 0 warnings in 6 articles\n")
    # no Polish category holds a translation from account/ yet: asked, not made up
    other = run_kb("new", "--translate", "reset", "--language", "pl", cwd=translating)
    assert (other.returncode, other.stderr) == (2, "kb new: no pl category holds a translation from account/ yet; "
                                                   "choose the folder with --category (pl has: platnosci)\n")


def test_a_new_polish_article_holds_a_polish_placeholder(translating: Path):
    result = run_kb("new", "Czy mogę zapłacić przy odbiorze?", "--language", "pl", "-c", "platnosci", cwd=translating)
    path = translating / result.stdout.strip()
    assert path.read_text(encoding="utf-8").endswith("\n---\n\nOdpowiedz na pytanie w pierwszym akapicie, "
                                                     "potem podaj kroki.\n")
    check = run_kb("check", cwd=translating)
    assert "articles/pl/platnosci/czy-moge-zaplacic-przy-odbiorze.md:12: warning: still holds kb new's " \
           "placeholder text" in check.stderr


def test_a_tab_and_a_file_that_is_not_utf8_are_named_with_their_line(kb_project):
    root = kb_project({"articles/pay/card.md": "---\ntitle: Cards\n---\nYes.\n"})
    (root / "articles/pay/tabbed.md").write_text("---\ntitle: Tabs\ntags:\n\t- cards\n---\nText.\n", encoding="utf-8")
    (root / "articles/pay/latin.md").write_bytes("---\ntitle: Płatności\n---\nZapłać kartą.\n".encode("cp1250"))
    result = run_kb("check", cwd=root)
    assert result.stderr == (
        "articles/pay/latin.md:2: error: not UTF-8 text (invalid start byte at byte 12, column 9 of this line)\n"
        "    hint: save the file as UTF-8\n"
        "articles/pay/tabbed.md:4: error: front matter is not valid YAML: a tab at column 1; YAML indents with "
        "spaces only\n"
        "    hint: replace the tab with spaces\n"
        "kb check: 2 errors, 0 warnings in 1 article\n")


def test_a_duplicate_title_is_blamed_on_the_newer_article(kb_project):
    root = kb_project({"articles/pay/zz-card.md": "---\ntitle: Can I pay by card?\n---\nYes.\n"})
    git = ["git", "-c", "user.name=kb", "-c", "user.email=kb@example.com"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "."], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "published"], cwd=root, check=True)
    (root / "articles/pay/aa-card.md").write_text("---\ntitle: Can I pay by card?\n---\nAlso yes.\n",
                                                  encoding="utf-8")
    result = run_kb("check", cwd=root)
    assert result.stderr.splitlines()[0] == "articles/pay/aa-card.md:2: error: title 'Can I pay by card?' " \
                                            "duplicates articles/pay/zz-card.md"


def test_kb_search_searches_a_languages_own_index_and_names_its_urls(built_demo_site: Path):
    work = built_demo_site.parent
    result = run_kb("search", "jak zwrócić towar", "--language", "pl", "--limit", "1", cwd=work, check=True)
    assert result.stdout == "1. Jak zwrócić towar?  [return-item]  " + result.stdout.split("]  ")[1].split("\n")[0] + \
        "\n   /pl/zwroty/jak-zwrocic/\n"
    found = json.loads(run_kb("search", "zwrot", "--language", "pl", "--json", cwd=work, check=True).stdout)
    assert found["results"] and all(r["url"].startswith("pl/") for r in found["results"])
    missing = run_kb("search", "x", "--language", "de", cwd=work)
    assert (missing.returncode, missing.stderr) == (1, "site: no help center in language 'de' (this site's languages are 'en', 'pl')\n")


def test_serve_checks_the_store_before_building(kb_project):
    root = kb_project({"articles/pay/card.md": "---\ntitle: Cards\n---\nYes.\n"})
    result = run_kb("serve", "--db", "sqlite:////proc/votes.db", cwd=root, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", "kb serve: --db sqlite:////proc/votes.db: cannot open the votes store: unable to open database file\n")
    assert not (root / ".kb" / "preview").exists()


@pytest.mark.browser
def test_serve_starts_with_errors_shows_them_in_the_pages_and_keeps_the_good_articles(kb_project, chromium):
    root = kb_project({"articles/pay/card.md": "---\ntitle: Can I pay by card?\n---\nYes, Visa.\n",
                       "articles/pay/broken.md": "---\ntitle: Broken: yes: no\n---\nText.\n"})
    port = free_port()
    server = start_kb_serve(root, port, timeout=120)
    try:
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/_kb/problems", timeout=5) as response:
            errors = json.loads(response.read())
        assert errors == ["articles/pay/broken.md:2: error: front matter is not valid YAML: mapping values are not "
                          "allowed in this context\n    hint: check indentation and quote values holding ':' or '#'"]
        page = chromium.new_page()
        try:
            page.goto(f"{base}/pay/card/")
            assert page.inner_text(".md-content h1") == "Can I pay by card?"
            banner = page.wait_for_selector("#kb-problems")
            assert "articles/pay/broken.md:2: error: front matter is not valid YAML" in banner.inner_text()
            (root / "articles/pay/broken.md").write_text("---\ntitle: 'Broken: no more'\n---\nText.\n", encoding="utf-8")
            page.wait_for_selector("#kb-problems", state="detached", timeout=30_000)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if urllib.request.urlopen(f"{base}/pay/broken/", timeout=5).status == 200:
                    break
                time.sleep(0.2)
        finally:
            page.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_pre_commit_hook_shows_kb_checks_warnings_and_the_readme_pins_what_exists():
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert (hook["id"], hook["entry"], hook["verbose"]) == ("kb-check", "kb check", True)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    config = yaml.safe_load(re.search(r"#### Before each commit: pre-commit\n.*?```yaml\n(.*?)```", readme, re.S).group(1))
    [repo] = config["repos"]
    assert repo["hooks"] == [{"id": "kb-check", "verbose": True}]
    tags = subprocess.run(["git", "-C", str(ROOT), "tag"], capture_output=True, text=True).stdout.split()
    branches = subprocess.run(["git", "-C", str(ROOT), "branch", "--format=%(refname:short)", "-a"],
                              capture_output=True, text=True).stdout.split()
    assert repo["rev"] in tags or repo["rev"] in branches or repo["rev"] == "main"
