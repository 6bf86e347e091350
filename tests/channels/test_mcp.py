"""`kb mcp`: the real server over stdio, driven by the official SDK's own client."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import sys
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from support import ROOT

from kb.votes.store import open_store


def _run(fn, *args):
    """anyio.run(fn, *args) on a thread of its own: Playwright's sync API, once a browser test has
    started it, keeps an event loop running on the main thread, where anyio.run would refuse."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, fn, *args).result()


async def _session_calls(site: Path, db: str) -> dict:
    params = StdioServerParameters(command=sys.executable, args=["-m", "kb", "mcp", "--site", str(site), "--db", db],
                                   env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(site.parent))
    out: dict = {}
    with open(os.devnull, "w") as quiet:
        async with stdio_client(params, errlog=quiet) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = (await session.list_tools()).tools
                out["tools"] = sorted(t.name for t in tools)
                out["schemas"] = {t.name: t.input_schema for t in tools}
                found = await session.call_tool("search_help_center", {"query": "how do I reset my password"})
                out["search"] = found.structured_content
                missed = await session.call_tool("search_help_center", {"query": "zebra saxophone lessons",
                                                                         "limit": 3})
                out["missed"] = missed.structured_content
                article = await session.call_tool("get_article", {"id": "reset-password"})
                out["article"] = article.structured_content
                unknown = await session.call_tool("get_article", {"id": "no-such-article"})
                out["unknown"] = (unknown.is_error, unknown.content[0].text)
    return out


def test_mcp_tools_answer_like_the_api_and_searches_are_kept_with_channel_mcp(built_demo_site: Path, tmp_path: Path):
    db = f"sqlite:///{tmp_path}/votes.db"
    out = _run(_session_calls, built_demo_site, db)
    assert out["tools"] == ["get_article", "search_help_center"]
    search = out["search"]
    assert search["answered"] is True and search["contact"] == []
    top = search["results"][0]
    assert (top["id"], top["url"]) == ("reset-password", "account/reset-password/#reset-your-password")
    assert top["section"] == {"heading": "Reset your password", "anchor": "reset-your-password"}
    missed = out["missed"]
    assert missed["answered"] is False
    assert [c["name"] for c in missed["contact"]] == ["Chat with us", "E-mail help@northwind-outfitters.example",
                                                      "Call +31 20 555 0142"]
    assert missed["contact"][0]["url"] == "https://northwind-outfitters.example/chat?search=zebra+saxophone+lessons"
    article = out["article"]
    source = (ROOT / "articles" / "en" / "account" / "reset-password.md").read_text(encoding="utf-8")
    body = source.split("\n---\n", 1)[1].strip("\n").replace("](cant-sign-in.md)", "](../cant-sign-in/)")  # site URLs
    assert article["markdown"] == f"# {article['title']}\n\n{body}\n"
    manifest = json.loads((built_demo_site / "kb-manifest.json").read_text(encoding="utf-8"))
    [entry] = [a for a in manifest["articles"] if a["id"] == "reset-password"]
    assert (article["title"], article["url"], article["version"]) == (entry["title"], entry["url"], entry["version"])
    assert out["unknown"] == (True, "Error executing tool get_article: no article with id 'no-such-article'")
    store = open_store(db)
    try:
        rows = sorted(store.searches(), key=lambda r: r["query"])
    finally:
        store.close()
    assert [(r["query"], r["results"], r["article"], r["channel"], r["language"]) for r in rows] == [
        ("how do I reset my password", 1, "reset-password", "mcp", "en"),
        ("zebra saxophone lessons", 0, None, "mcp", "en")]
    assert all(len(r["visitor"]) == 16 for r in rows)


def test_mcp_tools_describe_every_parameter_with_the_site_languages_and_limits(built_demo_site: Path, tmp_path: Path):
    out = _run(_session_calls, built_demo_site, f"sqlite:///{tmp_path}/votes.db")
    search = out["schemas"]["search_help_center"]["properties"]
    assert all(p.get("description") for p in search.values()), search
    assert (search["query"]["minLength"], search["query"]["maxLength"]) == (1, 200)
    assert (search["limit"]["minimum"], search["limit"]["maximum"], search["limit"]["default"]) == (1, 50, 5)
    languages = [choice for choice in search["language"]["anyOf"] if choice.get("enum")]
    assert languages == [{"enum": ["en", "pl"], "type": "string"}]
    assert "Leave it out to search in the language the query is written in" in search["language"]["description"]
    article = out["schemas"]["get_article"]["properties"]
    assert all(p.get("description") for p in article.values()), article
    assert [c for c in article["language"]["anyOf"] if c.get("enum")] == [{"enum": ["en", "pl"], "type": "string"}]


def test_kb_mcp_without_a_built_site_says_so_and_exits_1(tmp_path: Path):
    from support import run_kb

    result = run_kb("mcp", "--site", "site", cwd=tmp_path)  # as a client starts it, from a folder of its own
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"kb mcp: no built site at {tmp_path.resolve() / 'site'} (--site site, read from the "
                             f"folder {tmp_path}); build it with kb build, and give MCP clients its absolute path\n")
    (tmp_path / "site").mkdir()
    result = run_kb("mcp", "--site", str(tmp_path / "site"), cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, f"kb mcp: {tmp_path / 'site' / 'search' / 'search_index.json'}: "
                                                     "no search index; build the site first (kb build)\n")


async def _client_sees(site: Path) -> str:
    """What an MCP client logs from a server that cannot start: its standard error."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "kb", "mcp", "--site", str(site)],
                                   env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(site.parent))
    log = site.parent / "client.log"
    with open(log, "w") as errlog:
        said = ""
        try:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    with anyio.fail_after(30):
                        await session.initialize()
        except* MCPError as group:
            said = repr(group)
    assert "Connection closed" in said  # all the client itself can say
    return log.read_text()


def test_an_mcp_client_logs_why_the_server_did_not_start(tmp_path: Path):
    assert "kb mcp: no built site at " in _run(_client_sees, tmp_path / "nowhere")


SECRET = "KB_ADMIN_TOKEN=not-for-bots-7f3a"


def _planted(tmp_path: Path, built_demo_site: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the demo site and, outside it, a secret and a planted site whose answers file points
    every article at the secret; inside the copy, files that point outside: an answers entry with a
    `..` path, one with an absolute path, a Markdown twin that is a symlink, and `pl` a symlink to the
    planted site. Returns the copy and the article ids whose files point outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "collector.env"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    site = tmp_path / "srv" / "site"
    shutil.copytree(built_demo_site, site)
    planted = outside / "planted"
    shutil.copytree(built_demo_site / "pl", planted)
    answers_file = planted / "search" / "kb-answers.json"
    answers = json.loads(answers_file.read_text(encoding="utf-8"))
    for entry in answers["articles"].values():
        entry["markdown"] = str(secret)
    answers_file.write_text(json.dumps(answers), encoding="utf-8")
    shutil.rmtree(site / "pl")
    (site / "pl").symlink_to(planted, target_is_directory=True)

    answers_file = site / "search" / "kb-answers.json"
    answers = json.loads(answers_file.read_text(encoding="utf-8"))
    answers["articles"]["change-email"]["markdown"] = "../../outside/collector.env"
    answers["articles"]["delete-account"]["markdown"] = str(secret)
    twin = site / answers["articles"]["two-step-verification"]["markdown"]
    twin.unlink()
    twin.symlink_to(secret)
    answers_file.write_text(json.dumps(answers), encoding="utf-8")
    return site, {"relative": "change-email", "absolute": "delete-account", "symlink": "two-step-verification"}


async def _path_calls(site: Path, planted_ids: dict[str, str]) -> dict:
    params = StdioServerParameters(command=sys.executable, args=["-m", "kb", "mcp", "--site", str(site)],
                                   env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(site.parent))
    planted = site.parent.parent / "outside" / "planted"
    languages = [str(planted), "../../outside/planted", "..%2F..%2Foutside%2Fplanted", "pl/../../../outside/planted",
                 "", "pl"]
    out: dict = {}
    with open(os.devnull, "w") as quiet:
        async with stdio_client(params, errlog=quiet) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()

                async def call(tool: str, arguments: dict) -> tuple[bool, str]:
                    result = await session.call_tool(tool, arguments)
                    return result.is_error, "\n".join(getattr(c, "text", "") for c in result.content)

                for language in languages:
                    out["search", language] = await call("search_help_center", {"query": "refund", "language": language})
                    out["article", language] = await call("get_article", {"id": "blik", "language": language})
                for how, article in planted_ids.items():
                    out["article", how] = await call("get_article", {"id": article})
                for article in ("../../outside/collector.env", str(site.parent.parent / "outside" / "collector.env"),
                                "account/reset-password", "reset-password/../../outside"):
                    out["id", article] = await call("get_article", {"id": article})
                out["still fine"] = await call("get_article", {"id": "reset-password"})
    return out


def test_mcp_reads_only_the_site_whatever_path_its_arguments_or_files_name(built_demo_site: Path, tmp_path: Path):
    site, planted_ids = _planted(tmp_path, built_demo_site)
    manifest = json.loads((site / "kb-manifest.json").read_text(encoding="utf-8"))
    assert "blik" in {a["id"] for a in manifest["languages"]["pl"]["articles"]}
    out = _run(_path_calls, site, planted_ids)
    assert not any(SECRET in text for _, text in out.values())  # nothing from outside, whatever the call
    # a language is one of the site's (the tools' schemas list them): anything else is refused before any file is read
    for language in (str(tmp_path / "outside" / "planted"), "../../outside/planted", "..%2F..%2Foutside%2Fplanted",
                     "pl/../../../outside/planted", ""):
        for call, tool in (("search", "search_help_center"), ("article", "get_article")):
            is_error, text = out[call, language]
            assert is_error and text.startswith(f"Error executing tool {tool}: 1 validation error"), (language, text)
            assert "Input should be 'en' or 'pl'" in text, (language, text)
    # `pl` is one of the site's languages, but its folder is a symlink to the planted site
    assert out["search", "pl"] == (True, "Error executing tool search_help_center: refused: pl: "
                                         "resolves outside the site folder; not read")
    assert out["article", "pl"] == (True, "Error executing tool get_article: refused: pl: "
                                          "resolves outside the site folder; not read")
    for how in ("relative", "absolute", "symlink"):
        is_error, text = out["article", how]
        assert is_error and text.startswith("Error executing tool get_article: refused: "), (how, text)
        assert text.endswith(": resolves outside the site folder; not read"), (how, text)
    for article in ("../../outside/collector.env", str(tmp_path / "outside" / "collector.env"),
                    "account/reset-password", "reset-password/../../outside"):
        assert out["id", article] == (True, f"Error executing tool get_article: no article with id {article!r}")
    is_error, text = out["still fine"]
    assert not is_error and json.loads(text)["id"] == "reset-password"


async def _store_edge_calls(site: Path, db: str, errlog: Path) -> dict:
    params = StdioServerParameters(command=sys.executable, args=["-m", "kb", "mcp", "--site", str(site), "--db", db],
                                   env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(site.parent))
    out: dict = {}
    with open(errlog, "w") as log:
        async with stdio_client(params, errlog=log) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                for query in ("refund\x00", "poison", "refund"):
                    result = await session.call_tool("search_help_center", {"query": query})
                    out[query] = (result.is_error, result.content[0].text if result.is_error
                                  else result.structured_content["query"])
    return out


def test_mcp_refuses_text_no_store_holds_and_answers_when_its_search_is_not_kept(built_demo_site: Path,
                                                                               tmp_path: Path):
    """A NUL in a query is refused as the search API refuses it (no store can hold it); a search the
    store refuses (a rule of the database's own) is logged, and the assistant still gets its answer."""
    import sqlite3

    db = f"sqlite:///{tmp_path}/votes.db"
    store = open_store(db)
    store.migrate()
    store.close()
    conn = sqlite3.connect(tmp_path / "votes.db")
    conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON searches WHEN NEW.query = 'poison' "
                 "BEGIN SELECT RAISE(ABORT, 'refused by a rule of the database'); END")
    conn.commit()
    conn.close()
    errlog = tmp_path / "mcp.log"
    out = _run(_store_edge_calls, built_demo_site, db, errlog)
    assert out == {"refund\x00": (True, "Error executing tool search_help_center: query must not contain NUL characters"),
                   "poison": (False, "poison"), "refund": (False, "refund")}
    logged = " ".join(errlog.read_text(encoding="utf-8").split())  # the SDK's log wraps lines, names the source
    assert "ERROR dropped 1 searches record" in logged and "refused by a rule of the database" in logged
    store = open_store(db)
    try:
        assert [r["query"] for r in store.searches()] == ["refund"]
    finally:
        store.close()
