"""The collector's OpenAPI 3.1 description, written by hand beside the checks in kb/votes/schema.py."""

from __future__ import annotations

from kb.manifest import NAME as MANIFEST_NAME
from kb.votes.schema import (CHANNEL_PATTERN, LANGUAGE_PATTERN, MAX_BODY, MAX_COMMENT, REASONS, SEARCH_LIMIT,
                             UUID_PATTERN)


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


_ID = {"type": "string", "pattern": UUID_PATTERN, "minLength": 36, "maxLength": 36,
       "description": "A random UUID made by the browser; a repeated id is stored once."}
_ARTICLE = {"type": "string", "minLength": 1, "maxLength": 200,
            "description": f"An article id from the site manifest (SITE/{MANIFEST_NAME})."}
# Like every optional field, the honeypot may also be null (read as empty).
_LANGUAGE = {**_nullable({"type": "string", "maxLength": 35, "pattern": LANGUAGE_PATTERN}),
             "description": "The help center's language (BCP 47), as the page says it."}
_HONEYPOT = {**_nullable({"type": "string", "maxLength": 200}),
             "description": "Honeypot: hidden from people and always empty; when filled the "
                            "request is answered 204 and nothing is stored."}

_ERROR = {"type": "object", "required": ["error", "field"],
          "properties": {"error": {"type": "string"}, "field": {"type": ["string", "null"]}}}


def _err(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _post(summary: str, schema: str) -> dict:
    return {
        "summary": summary,
        "description": (f"The body is JSON, sent as `text/plain` (no CORS preflight) or "
                        f"`application/json`, at most {MAX_BODY} bytes."),
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}},
        "responses": {
            "204": {"description": "Stored (on disk), already stored, or ignored as a bot."},
            "403": _err("The request's Origin is not one of the site origins configured."),
            "408": _err("The body did not arrive in time."),
            "413": _err(f"The body is larger than {MAX_BODY} bytes."),
            "422": _err("Not JSON, a bad field, or an article or version not in the site manifest; "
                        "`field` names it."),
            "429": _err("Too many requests from this visitor or client address; see Retry-After."),
            "500": _err("The store refused this one record (a rule of the database that the checks "
                        "above do not know); nothing else is affected. Retry later."),
            "503": _err("The store or the site manifest is unavailable; retry later."),
        },
    }


def openapi_schema() -> dict:
    """The OpenAPI document served at /openapi.json."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "kb vote collector", "version": "1",
                 "description": "Stores 'Was this helpful?' votes, failed searches and contact "
                                "clicks from a kb help center. No IP address or user agent is stored."},
        "paths": {
            "/api/votes": {"post": _post("Record one vote", "Vote")},
            "/api/searches": {"post": _post("Record a search that found nothing", "Search")},
            "/api/contacts": {"post": _post("Record a click on a contact channel", "Contact")},
            "/api/search": {"get": {
                "summary": "Answers for chatbots and other channels, with the site's own ranking",
                "description": ("Ranked articles (by words and meaning where the site was built with its "
                                "vectors) with their best-matching section, a passage, the article's version "
                                "and a calibrated `confidence`; `answered` when the top result's confidence "
                                "reaches the site's `answer_threshold` and the customer did not ask for a person "
                                "(`handover`), else `contact` lists the site's contact channels with the query "
                                "carried. Without `lang`, a site with several languages answers in the one the "
                                "query is written in. Every query is kept for the review with its channel and "
                                "the visitor's daily hash only, except with channel `test`."),
                "parameters": [{"name": "q", "in": "query", "required": True,
                                "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                                           "pattern": r"\S"}},
                               {"name": "lang", "in": "query", "required": False,
                                "description": "The help center's language (default: the one the query "
                                               "is written in, among the site's; else the site's first).",
                                "schema": {"type": "string", "maxLength": 35, "pattern": LANGUAGE_PATTERN}},
                               {"name": "limit", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1, "maximum": SEARCH_LIMIT, "default": 5}},
                               {"name": "channel", "in": "query", "required": False,
                                "description": "Who asks: api (default), mcp, or a bot's own short name; "
                                               "`test`: answered, but not kept for the review.",
                                "schema": {"type": "string", "maxLength": 32, "pattern": CHANNEL_PATTERN,
                                           "default": "api"}}],
                "responses": {
                    "200": {"description": "The answer.", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Answer"}}}},
                    "422": _err("`q` is missing, blank, too long or holds a NUL, or `lang`, `limit` or `channel` "
                                "is bad (`field` names it; an unknown language too)."),
                    "429": _err("Too many requests from this visitor or client address; see Retry-After."),
                    "501": _err("This install has no search engine."),
                    "503": _err("The site has no search index."),
                },
            }},
            "/api/report": {"get": {
                "summary": "The review report (what `kb report --format json` prints)",
                "security": [{"bearer": []}],
                "parameters": [{"name": "since", "in": "query", "required": False,
                                "description": "ISO 8601 date or time (UTC when no zone is given).",
                                "schema": {"type": "string"}},
                               {"name": "language", "in": "query", "required": False,
                                "description": "On a site with languages: only this language's report "
                                               "(default: the default language's, with every language "
                                               "side by side).",
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The report.", "content": {"application/json": {
                        "schema": {"type": "object"}}}},
                    "401": _err("No bearer token sent."),
                    "403": _err("Wrong token."),
                    "404": _err("No admin token is configured, so admin routes are off."),
                    "422": _err("`since` is not an ISO 8601 date or time, or the site has no such language."),
                    "429": _err("Too many wrong tokens from this address; see Retry-After."),
                    "501": _err("This install has no report."),
                    "503": _err("The site has no manifest."),
                },
            }},
            "/api/export": {"get": {
                "summary": "Every stored row of one table (what `kb votes export` writes)",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "table", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["votes", "searches", "contacts"], "default": "votes"}},
                    {"name": "format", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["jsonl", "csv"], "default": "jsonl"}}],
                "responses": {
                    "200": {"description": "JSON Lines or CSV.", "content": {
                        "application/x-ndjson": {"schema": {"type": "string"}},
                        "text/csv": {"schema": {"type": "string"}}}},
                    "401": _err("No bearer token sent."),
                    "403": _err("Wrong token."),
                    "404": _err("No admin token is configured, so admin routes are off."),
                    "422": _err("Unknown table, format or query parameter."),
                    "429": _err("Too many wrong tokens from this address; see Retry-After."),
                },
            }},
            "/healthz": {"get": {
                "summary": "Liveness and storage check",
                "responses": {
                    "200": {"description": "Store and site manifest are fine.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                    "503": {"description": "The store or the manifest is not.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                },
            }},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "`--admin-token` or KB_ADMIN_TOKEN"}},
            "schemas": {
                "Error": _ERROR,
                "Vote": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["vote_id", "article", "version", "helpful"],
                    "properties": {
                        "vote_id": _ID,
                        "article": _ARTICLE,
                        "version": {"type": "string", "minLength": 1, "maxLength": 64,
                                    "description": "The article's version from the manifest."},
                        "helpful": {"type": "boolean"},
                        "reason": _nullable({"type": "string", "enum": list(REASONS)}),
                        "comment": _nullable({"type": "string", "maxLength": MAX_COMMENT}),
                        "language": _LANGUAGE,
                        "website": _HONEYPOT,
                    },
                    # A reason belongs to a "No" only.
                    "if": {"properties": {"helpful": {"const": True}}, "required": ["helpful"]},
                    "then": {"properties": {"reason": {"type": "null"}}},
                },
                "Search": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["event_id", "query", "results"],
                    "properties": {
                        "event_id": _ID,
                        "query": {"type": "string", "minLength": 1, "maxLength": 200},
                        "results": {"type": "integer", "minimum": 0, "maximum": 1000000},
                        "article": _nullable(_ARTICLE),
                        "language": _LANGUAGE,
                        "channel": {**_nullable({"type": "string", "maxLength": 32, "pattern": CHANNEL_PATTERN}),
                                    "description": "Where the search came from: web (default), api, mcp, or "
                                                   "a bot's own name."},
                        "website": _HONEYPOT,
                    },
                },
                "Contact": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["event_id", "channel"],
                    "properties": {
                        "event_id": _ID,
                        "channel": {"type": "string", "minLength": 1, "maxLength": 100},
                        "article": _nullable(_ARTICLE),
                        "query": _nullable({"type": "string", "minLength": 1, "maxLength": 200}),
                        "language": _LANGUAGE,
                        "website": _HONEYPOT,
                    },
                },
                "Answer": {
                    "type": "object", "required": ["query", "language", "answered", "handover", "results", "contact"],
                    "properties": {
                        "query": {"type": "string"}, "language": {"type": "string"},
                        "answered": {"type": "boolean"},
                        "handover": {"type": "boolean", "description": "The customer asked for a person: hand "
                                                                       "over with `contact`."},
                        "results": {"type": "array", "items": {
                            "type": "object",
                            "required": ["id", "title", "url", "version", "section", "passage", "score",
                                         "confidence"],
                            "properties": {
                                "id": {"type": "string"}, "title": {"type": "string"},
                                "url": {"type": "string", "description": (
                                    "The article's URL with the section's anchor when there is one: absolute "
                                    "(the site's `site_url`, the language's prefix included) when the site has "
                                    "a site_url, else the path from the site's root (`pl/...` for another "
                                    "language).")},
                                "version": {"type": "string", "description": "The article's version, as a vote "
                                                                             "on it names it."},
                                "section": _nullable({"type": "object", "required": ["heading", "anchor"],
                                                      "properties": {"heading": {"type": "string"},
                                                                     "anchor": {"type": "string"}}}),
                                "passage": {"type": "string", "maxLength": 300},
                                "score": {"type": "number"},
                                "confidence": {"type": "number", "minimum": 0, "maximum": 1,
                                               "description": "Estimated probability that it answers."}}}},
                        "contact": {"type": "array", "items": {
                            "type": "object", "required": ["name", "url"],
                            "properties": {"name": {"type": "string"}, "url": {"type": "string"},
                                           "hours": {"type": "string"}, "description": {"type": "string"}}}},
                    },
                },
                "Health": {
                    "type": "object", "required": ["status", "store", "site", "articles"],
                    "properties": {"status": {"type": "string", "enum": ["ok", "failing"]},
                                   "store": {"type": "string", "enum": ["ok", "cannot read", "cannot write"]},
                                   "site": {"type": "string", "enum": ["ok", "no manifest", "cannot read"]},
                                   "articles": {"type": ["integer", "null"]}},
                },
            },
        },
    }
