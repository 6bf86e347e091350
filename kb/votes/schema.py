"""The votes' one vocabulary: reasons, limits, the id pattern, and the checks of each public body.

The collector, its OpenAPI description, the store, the simulator and the report all read these
names from here; the widget gets the reasons from the page's config, written at build time.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable

REASONS = ("not_answered", "unclear", "outdated", "incomplete")
MAX_BODY = 2048             # bytes; a vote with a 500-character comment fits with room to spare
MAX_COMMENT = 500           # characters (code points), as the widget counts them
MAX_QUERY = 200             # characters of a query, in GET /api/search and in a recorded search
SEARCH_LIMIT = 50           # results GET /api/search returns at most
MAX_CONNECTIONS = 1000      # open connections a collector serves (kb votes serve --max-connections)
#: Open connections one client address may hold (--max-connections-per-address): a browser opens
#: at most 6 to a host, so this leaves room for a few dozen people behind one NAT.
MAX_CONNECTIONS_PER_ADDRESS = 50
#: A BCP 47 language tag as the site's `languages` give them (en, pl, pt-BR).
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$"
_LANGUAGE = re.compile(LANGUAGE_PATTERN)
#: Where a search came from: web (the help site), api, mcp, or a bot's own short name.
CHANNEL_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
#: The channel of a bot's own tests: GET /api/search answers it and keeps nothing.
TEST_CHANNEL = "test"
_CHANNEL = re.compile(CHANNEL_PATTERN)
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID_PATTERN)


class Invalid(Exception):
    """A request field the collector refuses; becomes a 422 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -------------------------------------------------------------------------------------------
# Text a store can hold: the one rule both stores share
#
# PostgreSQL's text type refuses NUL (U+0000), and neither store can encode a lone surrogate
# (U+D800-U+DFFF, which JSON's "\ud800" escape can carry) as UTF-8; everything else is stored as
# sent, by both. SQLite alone would keep a NUL, so a store moved from SQLite to PostgreSQL would
# fail on it: both refuse it here instead. (A PostgreSQL database must be UTF8: PostgresStore
# refuses any other encoding at start, so no other character differs between the two.)
#
# Every text field of a request is checked with `check_text` at the edge and REFUSED with a 422
# naming the field (query, comment, article, version, language, channel, event and vote ids; the
# query of GET /api/search too): nothing a customer or a bot sent is stored changed. A record the
# collector writes of its own accord (the search API's record of a query) is CLEANED with
# `clean_text` instead, since nobody is there to hear a refusal. The user agent and the client
# address are never stored (only their keyed hashes), so they need neither. The stores call
# `check_text` on every row they are handed (imports too), so nothing this rule refuses reaches
# either of them whatever its way in.


def text_problem(value: str) -> str | None:
    """What keeps `value` out of a store (NUL, a lone surrogate), or None when both can hold it."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (lone surrogate)"
    return None


def check_text(field: str, value: str) -> str:
    """`value`, or Invalid naming `field` when a store could not hold it (see text_problem)."""
    problem = text_problem(value)
    if problem is not None:
        raise Invalid(field, problem)
    return value


def clean_text(value: str) -> str:
    """`value` made storable: NULs dropped, lone surrogates replaced by U+FFFD."""
    if text_problem(value) is None:
        return value
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value if ch != "\x00")



def _text(body: dict, name: str, *, max_len: int, required: bool = False, min_len: int = 1) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(name, "is required" if name not in body else "must be a string, got null")
        return None
    if not isinstance(value, str):
        raise Invalid(name, f"must be a string, got {kind_of(value)}")
    if len(value) < min_len:
        raise Invalid(name, "must not be empty")
    if len(value) > max_len:
        raise Invalid(name, f"must be at most {max_len} characters, got {len(value)}")
    check_text(name, value)
    return value


def _uuid(body: dict, name: str) -> str:
    value = _text(body, name, max_len=36, required=True)
    assert value is not None
    if not _UUID.match(value):
        raise Invalid(name, f"must be a UUID like 8c1f6f0e-5b7a-4c3e-9a57-2f1d0c9b8e71, got {value!r}")
    return value.lower()


def kind_of(value: Any) -> str:
    """The JSON name of `value`'s type, for error messages."""
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def _only(body: dict, allowed: Iterable[str]) -> None:
    for key in body:
        if key not in allowed:
            raise Invalid(clean_text(key), "unknown field")


def _matching(body: dict, name: str, pattern: re.Pattern, example: str, max_len: int) -> str | None:
    value = _text(body, name, max_len=max_len)
    if value is not None and not pattern.match(value):
        raise Invalid(name, f"must look like {example}, got {json.dumps(value)}")
    return value


def _language(body: dict) -> str | None:
    return _matching(body, "language", _LANGUAGE, "en or pt-BR", 35)


def honeypot_filled(body: dict) -> bool:
    """True when the hidden `website` field was filled: a bot, answered 204 and not stored."""
    value = _text(body, "website", max_len=200, min_len=0)
    return bool(value)


def parse_vote(body: dict) -> dict:
    """The stored fields of a vote body, or Invalid naming the first bad field."""
    _only(body, ("vote_id", "article", "version", "helpful", "reason", "comment", "language", "website"))
    row = {"vote_id": _uuid(body, "vote_id"),
           "article": _text(body, "article", max_len=200, required=True),
           "version": _text(body, "version", max_len=64, required=True)}
    helpful = body.get("helpful")
    if not isinstance(helpful, bool):
        raise Invalid("helpful", "is required" if "helpful" not in body
                      else f"must be true or false, got {kind_of(helpful)}")
    row["helpful"] = helpful
    reason = body.get("reason")
    if reason is not None:
        if reason not in REASONS:
            raise Invalid("reason", f"must be one of {', '.join(REASONS)}, got {json.dumps(reason)}")
        if helpful:
            raise Invalid("reason", "is only given with helpful: false")
    row["reason"] = reason
    comment = _text(body, "comment", max_len=MAX_COMMENT, min_len=0)
    row["comment"] = comment if comment and comment.strip() else None
    row["language"] = _language(body)
    return row


def parse_search(body: dict) -> dict:
    """The stored fields of a failed-search body."""
    _only(body, ("event_id", "query", "results", "article", "language", "channel", "website"))
    row = {"event_id": _uuid(body, "event_id"),
           "query": _text(body, "query", max_len=MAX_QUERY, required=True)}
    results = body.get("results")
    if not isinstance(results, int) or isinstance(results, bool):
        raise Invalid("results", "is required" if "results" not in body
                      else f"must be an integer, got {kind_of(results)}")
    if not 0 <= results <= 1_000_000:
        raise Invalid("results", f"must be between 0 and 1000000, got {results}")
    row["results"] = results
    row["article"] = _text(body, "article", max_len=200)
    row["language"] = _language(body)
    row["channel"] = _matching(body, "channel", _CHANNEL, "web, api or mcp", 32) or "web"
    return row


def parse_contact(body: dict) -> dict:
    """The stored fields of a contact-click body."""
    _only(body, ("event_id", "channel", "article", "query", "language", "website"))
    return {"event_id": _uuid(body, "event_id"),
            "channel": _text(body, "channel", max_len=100, required=True),
            "article": _text(body, "article", max_len=200),
            "query": _text(body, "query", max_len=MAX_QUERY),
            "language": _language(body)}


PARSERS: dict[str, Callable[[dict], dict]] = {
    "votes": parse_vote, "searches": parse_search, "contacts": parse_contact}


_LIMIT = re.compile(r"[0-9]{1,3}")  # ASCII digits only: str.isdigit takes "²", which int() refuses


def search_query(params: Any) -> str:
    """`q` of GET /api/search from its query parameters, or Invalid."""
    query = params.get("q", "")
    if not query.strip() or len(query) > MAX_QUERY:
        raise Invalid("q", f"must be 1 to {MAX_QUERY} characters")
    return check_text("q", query)


def search_options(params: Any) -> dict:
    """`lang`, `limit` and `channel` of GET /api/search from its query parameters, or Invalid."""
    language = _matching({"lang": params["lang"]}, "lang", _LANGUAGE, "en or pt-BR", 35) if "lang" in params else None
    raw = params.get("limit", "5")
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= SEARCH_LIMIT:
        shown = raw if len(raw) <= 20 else raw[:20] + "..."
        raise Invalid("limit", f"must be a whole number from 1 to {SEARCH_LIMIT}, got {json.dumps(shown)}")
    channel = _matching({"channel": params["channel"]}, "channel", _CHANNEL, "web, api or mcp", 32) if "channel" in params else None
    return {"lang": language, "limit": int(raw), "channel": channel or "api"}
