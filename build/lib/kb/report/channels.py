"""The review's view by channel: where searches came from, how many were answered, and the funnel.

Searches reach the store from the help site (`web`: only those that found nothing), from the
search API (`api`, or a bot's own name) and from `kb mcp` (`mcp`); the API and MCP keep every
query, `results` 1 with the answering `article` when answered and 0 when handed over. Counting
rules, like votes': one search per visitor per query per channel per UTC day.

The funnel, per channel and per article: searched -> opened (an article was given: the answer of
a bot, or for the web the article a search was made from) -> helpful (the same visitor voted that
article helpful that day) -> contacted (the same visitor clicked a contact channel that day).
The view appears only once a search came from a channel other than the web, so a site without
bots keeps its report as it was.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Callable, Iterable

WEB = "web"
TEXT_ARTICLES = 10  # the text report's per-article funnel shows the most opened; the other formats show all


def _fold(text: str) -> str:
    # the same key as the content gaps' (kb.report.review): casefold, no diacritics, one space
    text = text.replace("ł", "l").replace("Ł", "L")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text.casefold()).strip()


def _day(value: object) -> object:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).date()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(timezone.utc).date()


def _counted(searches: Iterable[dict]) -> list[dict]:
    seen: set[tuple] = set()
    out = []
    for row in searches:
        key = _fold(row.get("query") or "")
        if not key:
            continue
        channel = row.get("channel") or WEB
        visit = (row["visitor"], key, channel, _day(row["created_at"]))
        if visit not in seen:
            seen.add(visit)
            out.append({**row, "channel": channel, "_key": key, "_day": visit[3]})
    return out


def channel_views(searches: list[dict], votes: Iterable[dict], contacts: Iterable[dict]) -> dict | None:
    """{"by_channel": [...], "by_article": [...]}, or None when every search came from the web."""
    rows = _counted(searches)
    if all(r["channel"] == WEB for r in rows):
        return None
    helpful = {(v["visitor"], v["article"], _day(v["created_at"])) for v in votes if v.get("helpful")}
    contacted = {(c["visitor"], _day(c["created_at"])) for c in contacts}
    channels: dict[str, Counter] = defaultdict(Counter)
    articles: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for r in rows:
        funnel = channels[r["channel"]]
        funnel["searched"] += 1
        answered = bool(r.get("results")) and r["channel"] != WEB
        funnel["answered"] += answered
        article = r.get("article")
        if not article:
            continue
        steps = Counter(opened=1, helpful=int((r["visitor"], article, r["_day"]) in helpful),
                        contacted=int((r["visitor"], r["_day"]) in contacted))
        funnel.update(steps)
        articles[(article, r["channel"])].update(steps)
    by_channel = []
    for name, c in sorted(channels.items(), key=lambda kv: (-kv[1]["searched"], kv[0])):
        # the web reports only the searches that found nothing, so its answered rate is unknown
        rate = None if name == WEB else round(c["answered"] / c["searched"], 4)
        by_channel.append({"channel": name, "searched": c["searched"],
                           "answered": None if name == WEB else c["answered"], "answered_rate": rate,
                           "opened": c["opened"], "helpful": c["helpful"], "contacted": c["contacted"]})
    by_article = [{"article": article, "channel": channel, "opened": c["opened"], "helpful": c["helpful"],
                   "contacted": c["contacted"]}
                  for (article, channel), c in sorted(articles.items(), key=lambda kv: (-kv[1]["opened"], kv[0]))]
    return {"by_channel": by_channel, "by_article": by_article}


def gap_channels(gaps: list[dict], searches: list[dict]) -> None:
    """Give each content gap the channels its failed searches came from: {"web": 2, "whatsapp": 1}."""
    by_key: dict[str, Counter] = defaultdict(Counter)
    for r in _counted(searches):
        if not r.get("results"):
            by_key[r["_key"]][r["channel"]] += 1
    for gap in gaps:
        total: Counter = Counter()
        for variant in gap["variants"]:
            total.update(by_key.get(_fold(variant), Counter()))
        gap["channels"] = dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))


def add_channel_views(report: dict, searches: list[dict], votes: Iterable[dict], contacts: Iterable[dict]) -> None:
    """Add `channels` to the report and the channels of each gap, when any search came from a bot."""
    views = channel_views(searches, votes, contacts)
    if views is None:
        return
    report["channels"] = views
    gap_channels(report["gaps"], searches)


def format_channels_text(report: dict, one_line: Callable[[str], str]) -> list[str]:
    """The text report's lines for the channels (none when the report has no channel view).

    `one_line` makes a customer's query safe for a terminal (kb.report.formats hands it in).
    """
    views = report.get("channels")
    if not views:
        return []
    out = ["", "Searches by channel (searched -> opened -> helpful -> contacted)",
           f"{'CHANNEL':<16} {'SEARCHED':>8} {'ANSWERED':>8} {'OPENED':>6} {'HELPFUL':>7} {'CONTACTED':>9}"]
    for c in views["by_channel"]:
        answered = "-" if c["answered_rate"] is None else f"{round(100 * c['answered_rate'])}%"
        out.append(f"{c['channel'][:16]:<16} {c['searched']:>8} {answered:>8} {c['opened']:>6} {c['helpful']:>7} "
                   f"{c['contacted']:>9}")
    if views["by_article"]:
        shown = views["by_article"][:TEXT_ARTICLES]
        more = len(views["by_article"]) - len(shown)
        out += ["", "By article (opened -> helpful -> contacted)" + (f", the {len(shown)} most opened" if more else ""),
                f"{'ARTICLE':<28} {'CHANNEL':<16} {'OPENED':>6} {'HELPFUL':>7} {'CONTACTED':>9}"]
        for a in shown:
            out.append(f"{a['article'][:28]:<28} {a['channel'][:16]:<16} {a['opened']:>6} {a['helpful']:>7} "
                       f"{a['contacted']:>9}")
        if more:
            out.append(f"  ... {more} more in --format json, markdown or html")
    gaps = [g for g in report["gaps"] if g.get("channels")]
    if gaps:
        out += ["", "Content gaps by channel"]
        for gap in gaps[:10]:
            where = ", ".join(f"{name} {n}" for name, n in gap["channels"].items())
            out.append(f"  {one_line(gap['query'])[:40]:<40} {where}")
    return out


def format_channels_markdown(report: dict, escape: Callable[[str], str]) -> list[str]:
    """The Markdown report's lines for the channels (none when the report has no channel view).

    `escape` makes a customer's query inert in Markdown (kb.report.formats hands it in).
    """
    views = report.get("channels")
    if not views:
        return []
    out = ["", "### Searches by channel", "",
           "| Channel | Searched | Answered | Opened | Helpful | Contacted |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for c in views["by_channel"]:
        answered = "-" if c["answered_rate"] is None else f"{c['answered']} ({round(100 * c['answered_rate'])}%)"
        out.append(f"| {c['channel']} | {c['searched']} | {answered} | {c['opened']} | {c['helpful']} | "
                   f"{c['contacted']} |")
    if views["by_article"]:
        out += ["", "| Article | Channel | Opened | Helpful | Contacted |", "| --- | --- | ---: | ---: | ---: |"]
        for a in views["by_article"]:
            out.append(f"| `{a['article']}` | {a['channel']} | {a['opened']} | {a['helpful']} | {a['contacted']} |")
    gaps = [g for g in report["gaps"] if g.get("channels")]
    if gaps:
        out += ["", "| Gap | Channels |", "| --- | --- |"]
        for gap in gaps:
            where = ", ".join(f"{name} {n}" for name, n in gap["channels"].items())
            out.append(f"| {escape(gap['query'])} | {where} |")
    return out
