"""`kb mcp`: the help center as an MCP server (the official `mcp` SDK, over stdio).

Two tools, for AI assistants that answer customers:

- `search_help_center(query, language?, limit?)` returns what `GET /api/search` returns: results
  with sections, passages and confidence, `answered`, and the contact channels to hand over to.
- `get_article(id, language?)` returns the article's Markdown, title, URL and version.

Searches are handed to `record` (when given) with channel `mcp`, for the review's gaps. A query
no store can hold (a NUL, a lone surrogate: `kb.votes.schema`'s rule) is refused, as the search API
refuses it. The record is committed within a second, or when `kb mcp` ends, and never waited
for: a record the store does not take is dropped and logged, and the assistant has its answer already.

Both read only the site: `language` is one of the site's languages (the API's `lang` rule, in
`kb.channels.answers.language_folder`), never a path, and a file the site names that resolves
outside its folder is refused; either way the tool answers a clear error, never the file.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

from pydantic import Field

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from kb.channels.answers import (DEFAULT_LIMIT, MAX_LIMIT, OutsideSite, SiteCache, UnknownLanguage, answer,
                                 get_article, prepare_site, site_languages)
from kb.search.index import SearchError
from kb.votes.schema import MAX_QUERY, text_problem

CHANNEL = "mcp"
log = logging.getLogger("kb.channels")
Record = Callable[[dict], Any]


def search_row(result: dict, channel: str, visitor: str) -> dict:
    """The searches-table row of an answer: answered (results 1, the top article) or handed over (0)."""
    top = result["results"][0]["id"] if result["answered"] and result["results"] else None
    return {"event_id": str(uuid.uuid4()), "query": result["query"][:MAX_QUERY], "results": 1 if top else 0,
            "article": top, "language": result["language"], "channel": channel, "visitor": visitor,
            "created_at": datetime.now(timezone.utc)}


def make_server(site_dir: Path, record: Record | None = None, name: str = "kb help center") -> MCPServer:
    """The MCP server over the built site in `site_dir`; `record` receives each search's row."""
    site_dir = Path(site_dir)
    cache = SiteCache()
    prepare_site(site_dir, cache)  # parsed and prepared in the background from the start
    server = MCPServer(name=name, instructions=(
        "Answer customers from this help center. Call search_help_center with the customer's words; "
        "when `answered` is true, answer from the top result's passage and link its url; when it is "
        "false, do not guess: offer the `contact` channels. Call get_article for the whole article."))

    codes = site_codes(site_dir, cache)
    # The site's languages as an enum, so an assistant picks one of them (a plain string when the
    # site is not built yet: the call then says which languages there are).
    Language = Literal[tuple(codes)] if codes else str  # type: ignore[valid-type]
    language_help = ("The help center's language to search in"
                     + (f": one of {', '.join(codes)} (default {codes[0]})" if codes else "")
                     + ". Leave it out to search in the language the query is written in.")
    Query = Annotated[str, Field(min_length=1, max_length=MAX_QUERY, description=(
        f"The customer's question in their own words, 1 to {MAX_QUERY} characters."))]
    LanguageArg = Annotated[Language | None, Field(description=language_help)]  # type: ignore[valid-type]
    ArticleLanguage = Annotated[Language | None, Field(description=(  # type: ignore[valid-type]
        "The language of the help center the article is in" + (f": one of {', '.join(codes)} (default {codes[0]})"
                                                                 if codes else "") + ".")
    )]
    Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description=f"How many results, 1 to {MAX_LIMIT}.")]

    def search_help_center(query: str, language: str | None = None, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        """Search the help center: ranked articles with their best section, a passage, an absolute URL,
        the article's version and a confidence (0-1). When `answered` is true, answer from the top
        result's passage and link its url; when it is false, do not guess: offer the `contact`
        channels (`handover` true: the customer asked for a person)."""
        if not query.strip() or len(query) > MAX_QUERY:
            raise ToolError(f"query must be 1 to {MAX_QUERY} characters")
        problem = text_problem(query)
        if problem is not None:
            raise ToolError(f"query {problem}")
        try:
            result = answer(site_dir, query, lang=language, limit=max(1, min(limit, MAX_LIMIT)),
                            channel=CHANNEL, cache=cache)
        except OutsideSite as exc:
            raise _refused(exc) from None
        except (UnknownLanguage, SearchError) as exc:
            raise ToolError(str(exc)) from exc
        if record is not None:
            try:
                record(result)
            except Exception as exc:  # noqa: BLE001 - keeping the search must not cost the customer the answer
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                log.error("search not kept (the answer was sent): %s", first)
        return result

    ArticleId = Annotated[str, Field(min_length=1, max_length=200,
                                     description="The article's id, as search_help_center returns it.")]

    def get_article_tool(id: str, language: str | None = None) -> dict[str, Any]:  # noqa: A002 - the tool's name
        """One article of the help center by its id: its Markdown, title, URL and version."""
        try:
            return get_article(site_dir, id, language, cache)
        except KeyError:
            raise ToolError(f"no article with id {id!r}") from None
        except OutsideSite as exc:
            raise _refused(exc) from None
        except (UnknownLanguage, SearchError) as exc:
            raise ToolError(str(exc)) from exc
        except (OSError, UnicodeDecodeError) as exc:  # its Markdown twin is missing or not text
            log.error("%s: get_article %r: %s", site_dir, id, exc)
            raise ToolError(f"article {id!r} cannot be read; rebuild the site (kb build)") from None

    # The schemas an assistant reads: each parameter described, with its limits (set here, not as
    # string annotations, since they are made from the site at start)
    search_help_center.__annotations__ = {"query": Query, "language": LanguageArg, "limit": Limit,
                                          "return": dict[str, Any]}
    get_article_tool.__annotations__ = {"id": ArticleId, "language": ArticleLanguage, "return": dict[str, Any]}
    server.add_tool(search_help_center, name="search_help_center")
    server.add_tool(get_article_tool, name="get_article")
    return server


def site_codes(site_dir: Path, cache: SiteCache) -> list[str]:
    """The built site's languages, its default first ([] when it is not built yet)."""
    try:
        default = cache.get(site_dir).language
    except SearchError:
        return []
    return [default, *[code for code in site_languages(site_dir).values() if code != default]]


def _refused(exc: OutsideSite) -> ToolError:
    """The tool's error for a file outside the site: the operator's log names it, the client is told no more."""
    log.error("refused to read outside the site: %s", exc)
    return ToolError(f"refused: {exc}")


def serve_stdio(site_dir: Path, record: Record | None = None) -> None:
    """Run the MCP server on stdin/stdout until the client closes it."""
    make_server(site_dir, record).run("stdio")
