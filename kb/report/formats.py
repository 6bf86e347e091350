"""The review report written out: terminal text, JSON, CSV, Markdown and a standalone HTML page.

Every function takes the dict `kb.report.review.build_report` returns and gives back a string. Whatever a
customer typed (comments, search queries) is escaped for the target format: formulas defused in
CSV, Markdown and HTML neutralised, and the HTML page carries a content security policy that
allows only its own inline style (by hash), so even a missed escape could not run a script.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import re
import textwrap
import unicodedata
from pathlib import Path

import jinja2
from markupsafe import Markup

from kb.report.channels import format_channels_markdown, format_channels_text
from kb.votes.schema import REASONS

FORMATS = ("text", "json", "csv", "markdown", "html")
REASON_LABELS = {
    **dict(zip(REASONS, ("didn't answer my question", "hard to follow", "out of date or wrong",
                         "something missing or a broken link"))),
    "other": "other",
}
CHARTED_GAPS = 10
"""The HTML page's gap chart shows this many of the biggest content gaps."""
TEXT_GAPS = 20
"""The terminal lists this many content gaps (the JSON, CSV-free formats hold them all)."""


def render(report: dict, fmt: str, *, color: bool = False) -> str:
    """The report in format `fmt` (one of FORMATS)."""
    if fmt == "text":
        return format_text(report, color=color)
    if fmt == "json":
        return format_json(report)
    if fmt == "csv":
        return format_csv(report)
    if fmt == "markdown":
        return format_markdown(report)
    if fmt == "html":
        return format_html(report)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


# --- shared helpers -------------------------------------------------------------------------


def pct(x: float | None) -> str:
    """0.3142 -> '31%'; None -> '-'."""
    return "-" if x is None else f"{x * 100:.0f}%"


def interval(row: dict) -> str:
    """'19-47%' for a row with low/high, '-' without votes."""
    if row.get("low") is None:
        return "-"
    return f"{row['low'] * 100:.0f}-{row['high'] * 100:.0f}%"


def _day(iso: str | None) -> str:
    return (iso or "")[:10]


def _period(report: dict) -> str:
    until = _day(report["period"]["until"])
    if not report["period"]["since"]:
        return f"all time until {until} (UTC)"
    return f"{_day(report['period']['since'])} to {until} (UTC)"


_LINE_BREAK = re.compile("\r\n?|[\x85\u2028\u2029]")


def visible(text: str) -> str:
    """Customer text as every format shows it (the one rule): line breaks of every kind as newlines,
    control and invisible format characters dropped, the bidirectional controls among them (U+202E
    shows "txt.exe" as "exe.txt"); tabs and zero-width joiners (scripts and emoji need them) kept."""
    text = _LINE_BREAK.sub("\n", text)
    return text if text.isprintable() else "".join(
        c for c in text
        if c.isprintable() or c in "\n\t\u200c\u200d" or unicodedata.category(c) not in ("Cc", "Cf", "Cs"))


def _one_line(text: str) -> str:
    """Customer text on one line (line breaks and tabs folded), as `visible` shows it."""
    return re.sub(r"[\n\t]+", " ", visible(text)).strip()


def _reasons(row: dict) -> str:
    parts = [f"{REASON_LABELS.get(k, k)} {n}" for k, n in sorted(row["reasons"].items(), key=lambda kv: -kv[1]) if n]
    return ", ".join(parts)


def _version_trend(row: dict) -> str:
    """'3f2a9c1b 2/12 17% -> 9ac1e2f0 (current) 30/35 86%' in time order."""
    parts = []
    for v in row["versions"]:
        current = " (current)" if v["current"] else ""
        parts.append(f"{v['version']}{current} {v['helpful']}/{v['votes']} {pct(v['rate'])} ({interval(v)})")
    return " -> ".join(parts)


def _summary_counts(report: dict) -> str:
    t = report["totals"]
    return f"{t['weak']} weak, {t['overdue']} overdue, {t['unrated']} unrated, {t['gaps']} content gaps"


def _detailed(report: dict) -> list[dict]:
    """Articles worth a closer look: weak, or edited during the period (before and after)."""
    return [r for r in report["articles"] if "weak" in r["flags"] or len(r["versions"]) > 1]


# --- text -----------------------------------------------------------------------------------

_STYLES = {"bold": "1", "dim": "2", "red": "31", "yellow": "33", "green": "32", "cyan": "36"}


def _paint(text: str, style: str | None, color: bool) -> str:
    if not color or not style:
        return text
    codes = ";".join(_STYLES[s] for s in style.split())
    return f"\x1b[{codes}m{text}\x1b[0m"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_text(report: dict, *, color: bool = False) -> str:
    """A table for the terminal, readable at 80 columns; ANSI colours when `color`."""
    out: list[str] = []
    site = report["site"]
    title = "Help center review" + (f": {report['site_name']}" if report["site_name"] else "")
    out.append(_paint(title, "bold", color))
    out.append(f"Period {_period(report)}, target {pct(report['target'])} helpful")
    out.append(
        f"{site['votes']} votes counted of {site['raw_votes']} received, site average "
        f"{pct(site['rate'])} helpful"
    )
    out.append(_paint("one vote per visitor per article per day; mean shrunk toward the site average",
                      "dim", color))
    out.append(_summary_counts(report))
    out.append("")
    head = f"{'ARTICLE':<28} {'VOTES':>5} {'RATE':>5} {'MEAN':>5} {'95% CI':>9} {'CONT':>4}  FLAGS"
    out.append(_paint(head, "bold", color))
    for row in report["articles"]:
        flags = " ".join(row["flags"])
        style = "red bold" if "weak" in row["flags"] else "yellow" if "overdue" in row["flags"] else None
        if row["flags"] == ["unrated"]:
            style = "dim"
        line = (
            f"{_fit(row['id'], 28):<28} {row['votes']:>5} {pct(row['rate']):>5} {pct(row['mean']):>5} "
            f"{interval(row):>9} {row['contacts']:>4}  "
        )
        out.append(_paint(line + flags, style, color) if style != "red bold" else line + _paint(flags, style, color))

    detailed = _detailed(report)
    if detailed:
        out.append("")
        out.append(_paint("Worth a closer look", "bold", color))
        for row in detailed:
            out.append("")
            out.append(_paint(_fit(f"{row['id']}: {row['title']}", 80), "bold", color))
            if row["owner"]:
                out.append(f"  owner: {row['owner']}")
            if row["versions"]:
                out.append("  versions, oldest first:")
                for v in row["versions"]:
                    mark = " (current)" if v["current"] else ""
                    out.append(_fit(f"    {v['version']}{mark}: {v['helpful']}/{v['votes']} helpful, "
                                    f"{pct(v['rate'])} ({interval(v)}), {_day(v['first'])} to {_day(v['last'])}", 80))
            if _reasons(row):
                out += textwrap.wrap(f"reasons: {_reasons(row)}", 80, initial_indent="  ", subsequent_indent="    ")
            if row["contacts"]:
                out.append(f"  went on to contact us: {row['contacts']}")
            for c in row["comments"]:
                out.append(_fit(f"  {_day(c['created_at'])} \"{_one_line(c['text'])}\"", 80))

    overdue = [r for r in report["articles"] if "overdue" in r["flags"]]
    if overdue:
        out.append("")
        out.append(_paint(f"Overdue for review ({len(overdue)})", "bold", color))
        for row in overdue:
            when = f"due {row['due']}" if row["due"] else "never reviewed"
            out.append(_fit(f"  {row['id']:<36} {when:<16} {row['owner'] or '(no owner)'}", 80))

    if report["gaps"]:
        out.append("")
        out.append(_paint(f"Searches that found nothing ({report['totals']['failed_searches']} "
                          f"in {len(report['gaps'])} groups)", "bold", color))
        out.append(_paint(f"{'COUNT':>5}  {'QUERY':<30} NEAREST ARTICLES", "bold", color))
        out += [_gap_line(gap) for gap in report["gaps"][:TEXT_GAPS]]
        if len(report["gaps"]) > TEXT_GAPS:
            out.append(f"  ... and {len(report['gaps']) - TEXT_GAPS} more (see --format json)")
    out += format_channels_text(report, _one_line)
    out += _languages_text(report, color)
    return "\n".join(line.rstrip() for line in out) + "\n"


def _gap_line(gap: dict) -> str:
    nearest = ", ".join(gap["nearest"]) or "(none)"
    return _fit(f"{gap['count']:>5}  {_fit(_one_line(gap['query']), 30):<30} {nearest}", 80)


def _other_languages(report: dict) -> list[dict]:
    """The side-by-side rows of the languages other than the report's own (its gaps are listed in full)."""
    return [r for r in report.get("languages") or [] if r["language"] != report.get("language")]


def _translation_lines(title: str, status: dict) -> list[str]:
    out = ["", f"{title}: {status['translated']} current, {len(status['outdated'])} outdated, "
               f"{len(status['missing'])} missing"]
    for kind in ("outdated", "missing"):
        if status[kind]:
            out += textwrap.wrap(f"{kind}: " + ", ".join(status[kind]), 80, initial_indent="  ",
                                 subsequent_indent="    ", break_on_hyphens=False, break_long_words=False)
    return out


def _languages_text(report: dict, color: bool) -> list[str]:
    """Each other language's biggest gaps and translations, then every language side by side, last."""
    out: list[str] = []
    for r in _other_languages(report):
        if r["gaps"]:
            out += ["", _paint(f"Searches that found nothing in {r['language']} ({r['failed_searches']} in "
                               f"{r['gap_groups']} groups)", "bold", color),
                    _paint(f"{'COUNT':>5}  {'QUERY':<30} NEAREST ARTICLES", "bold", color)]
            out += [_gap_line(gap) for gap in r["gaps"]]
            if r["gap_groups"] > len(r["gaps"]):
                out.append(f"  ... and {r['gap_groups'] - len(r['gaps'])} more (see --language {r['language']})")
        if r["translated"] is not None and (r["outdated"] or r["missing"]):
            out += _translation_lines(f"Translations into {r['language']}", r)
    rows = report.get("languages") or []
    if rows:
        out += ["", _paint("Languages", "bold", color),
                _paint(f"{'LANG':<6} {'ARTICLES':>8} {'VOTES':>6} {'RATE':>5} {'CONTACTS':>8} "
                       f"{'NOT FOUND':>9} {'OUTDATED':>8} {'MISSING':>7}", "bold", color)]
        for r in rows:
            outdated = len(r["outdated"]) if r["translated"] is not None else "-"
            missing = len(r["missing"]) if r["translated"] is not None else "-"
            out.append(f"{r['language']:<6} {r['articles']:>8} {r['votes']:>6} {pct(r['rate']):>5} {r['contacts']:>8} "
                       f"{r['failed_searches']:>9} {outdated:>8} {missing:>7}")
    if report.get("translations"):
        out += _translation_lines("Translations", report["translations"])
    return out


# --- json -----------------------------------------------------------------------------------


def format_json(report: dict) -> str:
    """The report as JSON, the same document `GET /api/report` returns."""
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


# --- csv ------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id", "title", "category", "owner", "version", "votes", "helpful", "rate", "mean", "low", "high",
    "flags", "contacts", *REASONS, "reviewed", "due",
    "versions", "latest_comment", "url",
)


def safe_cell(value: object) -> object:
    """A spreadsheet-safe cell: text as `visible` shows it (no terminal escape, no bidi control), and
    a leading ' on text a spreadsheet would run as a formula, before or after that."""
    if not isinstance(value, str):
        return "" if value is None else value
    shown = visible(value)
    return "'" + shown if {value[:1], shown[:1]} & {"=", "+", "-", "@", "\t", "\r"} else shown


def format_csv(report: dict) -> str:
    """One row per article, safe to open in a spreadsheet.

    On a site with languages each row also says its language and, per language, the article's
    translation state there (`translation_pl`: current, outdated or missing; in another language's
    report, the article's own state: current, outdated, or own when it has no source).
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    codes = list(dict.fromkeys(code for row in report["articles"] for code in row.get("translations", {})))
    columns = CSV_COLUMNS + (("language", *(f"translation_{c}" for c in codes)) if "language" in report else ())
    writer.writerow(columns)
    for row in report["articles"]:
        versions = ";".join(f"{v['version']}:{v['helpful']}/{v['votes']}" for v in row["versions"])
        latest = row["comments"][0]["text"] if row["comments"] else None
        values = {
            **row,
            "flags": " ".join(row["flags"]),
            **{k: row["reasons"].get(k, 0) for k in REASONS},
            "versions": versions,
            "latest_comment": latest,
            "language": report.get("language"),
            **{f"translation_{c}": state for c, state in row.get("translations", {}).items()},
        }
        writer.writerow([safe_cell(values.get(col)) for col in columns])
    return buf.getvalue()


# --- markdown -------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# What GitHub turns into a live link without any markup: a URL's "://", "www.", "mailto:" and
# "xmpp:" (GFM's autolink extension), and an issue's "#12", "GH-12" or "owner/repo#12" (the last also
# marks that repository's issue "mentioned"). A zero-width joiner inside each breaks it, as after "@".
_AUTOLINK = re.compile(r"://|(?<=www)\.|(?<=mailto):|(?<=xmpp):|(?<=#)(?=\d)|(?<=\bGH-)(?=\d)", re.IGNORECASE)


def md_escape(text: str) -> str:
    """Customer or writer text made inert in Markdown: one line, markup escaped, no raw HTML, no
    live link, no mention, no issue reference."""
    text = _one_line(text)
    text = html.escape(text, quote=False)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _AUTOLINK.sub(lambda m: "\u200d" + m.group(), text)
    # "@name" would notify a stranger on a code host; a zero-width joiner keeps it readable.
    return text.replace("@", "@\u200d")


def format_markdown(report: dict) -> str:
    """The report as Markdown for a pull request or an issue."""
    site = report["site"]
    out = [f"## Help center review{': ' + md_escape(report['site_name']) if report['site_name'] else ''}", ""]
    out.append(
        f"Period {_period(report)}; target {pct(report['target'])} helpful; {site['votes']} votes counted "
        f"(one per visitor per article per day) of {site['raw_votes']} received; site average "
        f"{pct(site['rate'])} helpful."
    )
    out.append("")
    out.append(f"**{_summary_counts(report)}**")
    out.append("")
    out.append("| Article | Votes | Rate | Mean | 95% CI | Contacts | Flags |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in report["articles"]:
        flags = ", ".join(f"**{f}**" if f == "weak" else f for f in row["flags"])
        out.append(
            f"| {md_escape(row['title'])} (`{row['id']}`) | {row['votes']} | {pct(row['rate'])} | "
            f"{pct(row['mean'])} | {interval(row)} | {row['contacts']} | {flags} |"
        )
    detailed = _detailed(report)
    if detailed:
        out += ["", "### Worth a closer look"]
        for row in detailed:
            out += ["", f"#### `{row['id']}`: {md_escape(row['title'])}", ""]
            if row["owner"]:
                out.append(f"- Owner: {md_escape(row['owner'])}")
            if row["versions"]:
                trend = " → ".join(
                    f"`{v['version']}`{' (current)' if v['current'] else ''} {v['helpful']}/{v['votes']} "
                    f"{pct(v['rate'])} ({interval(v)})" for v in row["versions"]
                )
                out.append(f"- Versions, oldest first: {trend}")
            if _reasons(row):
                out.append(f"- Reasons: {_reasons(row)}")
            if row["contacts"]:
                out.append(f"- Went on to contact us: {row['contacts']}")
            if row["comments"]:
                out.append("- Latest comments:")
                for c in row["comments"]:
                    out.append(f"  - {_day(c['created_at'])}: {md_escape(c['text'])}")
    overdue = [r for r in report["articles"] if "overdue" in r["flags"]]
    if overdue:
        out += ["", "### Overdue for review", "", "| Article | Owner | Due |", "| --- | --- | --- |"]
        for row in overdue:
            out.append(f"| `{row['id']}` | {md_escape(row['owner'] or '')} | {row['due'] or 'never reviewed'} |")
    if report["gaps"]:
        out += ["", "### Searches that found nothing", ""] + _gaps_markdown(report["gaps"])
    out += format_channels_markdown(report, md_escape)
    out += _languages_markdown(report)
    return "\n".join(out) + "\n"


def _gaps_markdown(gaps: list[dict]) -> list[str]:
    out = ["| Searches | Query | Also typed | Nearest articles |", "| ---: | --- | --- | --- |"]
    for gap in gaps:
        others = "; ".join(md_escape(v) for v in gap["variants"][1:4])
        nearest = ", ".join(f"`{n}`" for n in gap["nearest"])
        out.append(f"| {gap['count']} | {md_escape(gap['query'])} | {others} | {nearest} |")
    return out


def _translations_markdown(status: dict) -> list[str]:
    out = [f"- Translations: {status['translated']} current, {len(status['outdated'])} outdated, "
           f"{len(status['missing'])} missing"]
    for kind in ("outdated", "missing"):
        if status[kind]:
            out.append(f"- {kind.capitalize()}: " + ", ".join(f"`{aid}`" for aid in status[kind]))
    return out


def _languages_markdown(report: dict) -> list[str]:
    """Every language side by side, then each other language's translations and biggest gaps."""
    out: list[str] = []
    rows = report.get("languages") or []
    if rows:
        out += ["", "### Languages", "",
                "| Language | Articles | Votes | Rate | Contacts | Not found | Translated | Outdated | Missing |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in rows:
            status = ((r["translated"], len(r["outdated"]), len(r["missing"])) if r["translated"] is not None
                      else ("-", "-", "-"))
            out.append(f"| {r['language']} | {r['articles']} | {r['votes']} | {pct(r['rate'])} | {r['contacts']} | "
                       f"{r['failed_searches']} | {status[0]} | {status[1]} | {status[2]} |")
    for r in _other_languages(report):
        out += ["", f"#### {r['language']}", ""]
        if r["translated"] is not None:
            out += _translations_markdown(r)
        out.append(f"- Searches that found nothing: {r['failed_searches']} in {r['gap_groups']} groups"
                   + (f", the {len(r['gaps'])} biggest below (all: `kb report --language {r['language']}`)"
                      if r["gap_groups"] > len(r["gaps"]) else ""))
        if r["gaps"]:
            out += [""] + _gaps_markdown(r["gaps"])
    if report.get("translations"):
        out += ["", "### Translations", ""] + _translations_markdown(report["translations"])
    return out


# --- html -----------------------------------------------------------------------------------

CSS = """
:root{color-scheme:light dark;--fg:#1b1f24;--muted:#5b6470;--bg:#fff;--line:#d6dae0;--bad:#b3261e;--warn:#8a5a00;--ok:#1e7d32;--acc:#2f5fb3}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--muted:#a0a8b3;--bg:#16181c;--line:#343a42;--bad:#ff8a80;--warn:#ffcc66;--ok:#7fd08a;--acc:#8ab4ff}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:70rem;padding:1.5rem;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line)}h3{font-size:1rem;margin:1.25rem 0 .25rem}
.muted{color:var(--muted)}
.cards{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0}
.card{border:1px solid var(--line);border-radius:.5rem;padding:.5rem .9rem;min-width:8rem}
.card b{display:block;font-size:1.4rem}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
td.n,th.n{text-align:right}
.flag{display:inline-block;border-radius:.25rem;padding:0 .35rem;font-size:.8rem;border:1px solid currentColor;margin-right:.25rem}
.weak{color:var(--bad)}.overdue{color:var(--warn)}.unrated{color:var(--muted)}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
svg{max-width:100%;height:auto}
svg text{fill:var(--fg);font-size:11px}
svg .grid{stroke:var(--line)}svg .target{stroke:var(--bad);stroke-dasharray:4 3}
svg .pt{fill:var(--acc)}svg .bar{fill:var(--acc)}svg .err{stroke:var(--acc);stroke-width:2}svg .trend{stroke:var(--acc);fill:none;opacity:.5}
svg .edit{stroke:var(--warn);stroke-dasharray:2 2}
blockquote{margin:.25rem 0 .25rem 0;padding:.1rem .75rem;border-left:3px solid var(--line)}
code{font-size:.9em}
"""


def _e(text: object) -> str:
    """HTML-escape anything (quotes too), so it is safe in text and attributes alike, shown as
    `visible` shows customer text (no controls, no bidirectional overrides)."""
    return html.escape(visible("" if text is None else str(text)), quote=True)


def _csp_hash(css: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")


def _flags_html(flags: list[str]) -> str:
    return "".join(f'<span class="flag {_e(f)}">{_e(f)}</span>' for f in flags)


def _y(rate: float, top: float, height: float) -> float:
    return round(top + (1 - rate) * height, 1)


def _axes(width: int, left: int, top: int, height: int, target: float) -> list[str]:
    parts = []
    for tick in (0, 0.5, 1):
        y = _y(tick, top, height)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - 8}" y1="{y}" y2="{y}"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4}" text-anchor="end">{tick * 100:.0f}%</text>')
    y = _y(target, top, height)
    parts.append(f'<line class="target" x1="{left}" x2="{width - 8}" y1="{y}" y2="{y}"><title>target {pct(target)}</title></line>')
    return parts


def _point(x: float, cell: dict, top: int, height: int, label: str) -> list[str]:
    y, y1, y2 = _y(cell["rate"], top, height), _y(cell["high"], top, height), _y(cell["low"], top, height)
    tip = _e(f"{label}: {cell['helpful']}/{cell['votes']} helpful, {pct(cell['rate'])}, 95% CI {interval(cell)}")
    return [
        f'<line class="err" x1="{x}" x2="{x}" y1="{y1}" y2="{y2}"/>',
        f'<circle class="pt" cx="{x}" cy="{y}" r="4"><title>{tip}</title></circle>',
    ]


def svg_versions(row: dict, target: float) -> str:
    """Helpful rate per article version, oldest first, with 95% intervals."""
    width, height, left, top, plot = 300, 170, 40, 12, 110
    versions = row["versions"]
    step = (width - left - 20) / max(1, len(versions))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{_e("helpful rate by version of " + row["id"])}">']
    parts += _axes(width, left, top, plot, target)
    for i, v in enumerate(versions):
        x = round(left + step * (i + 0.5), 1)
        parts += _point(x, v, top, plot, f"version {v['version']}")
        parts.append(f'<text x="{x}" y="{top + plot + 16}" text-anchor="middle">{_e(v["version"][:10])}{" *" if v["current"] else ""}</text>')
        parts.append(f'<text x="{x}" y="{top + plot + 30}" text-anchor="middle">n={v["votes"]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_weeks(row: dict, target: float) -> str:
    """Helpful rate week by week with 95% intervals; dashed lines mark edits (new versions)."""
    weeks = row["weeks"]
    width, height, left, top, plot = 460, 170, 40, 12, 110
    step = (width - left - 20) / max(1, len(weeks))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{_e("helpful rate by week of " + row["id"])}">']
    parts += _axes(width, left, top, plot, target)
    xs = []
    for i, w in enumerate(weeks):
        x = round(left + step * (i + 0.5), 1)
        xs.append((x, _y(w["rate"], top, plot)))
        parts += _point(x, w, top, plot, f"week of {w['week']}")
    if len(xs) > 1:
        parts.append('<polyline class="trend" points="' + " ".join(f"{x},{y}" for x, y in xs) + '"/>')
    for v in row["versions"][1:]:
        start = _day(v["first"])
        i = sum(1 for w in weeks if w["week"] <= start) - 1
        x = round(left + step * (i + 0.5) - step / 2, 1) if i >= 0 else left
        parts.append(f'<line class="edit" x1="{x}" x2="{x}" y1="{top}" y2="{top + plot}"><title>{_e("edit: version " + v["version"] + " from " + start)}</title></line>')
    if weeks:
        parts.append(f'<text x="{left}" y="{top + plot + 16}">{_e(weeks[0]["week"])}</text>')
        parts.append(f'<text x="{width - 8}" y="{top + plot + 16}" text-anchor="end">{_e(weeks[-1]["week"])}</text>')
    parts.append(f'<text x="{left}" y="{top + plot + 30}">weeks (Monday)</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_gaps(gaps: list[dict]) -> str:
    """Horizontal bars: the biggest content gaps by failed searches."""
    gaps = gaps[:CHARTED_GAPS]
    width, bar, label = 640, 22, 220
    height = bar * len(gaps) + 10
    biggest = max((g["count"] for g in gaps), default=1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="top content gaps">']
    for i, gap in enumerate(gaps):
        y = 5 + i * bar
        w = round((width - label - 50) * gap["count"] / biggest, 1)
        query = _one_line(gap["query"])
        shown = query if len(query) <= 32 else query[:31] + "…"
        parts.append(f'<text x="{label - 6}" y="{y + 15}" text-anchor="end">{_e(shown)}</text>')
        parts.append(f'<rect class="bar" x="{label}" y="{y + 3}" width="{w}" height="{bar - 6}"><title>{_e(query)}: {gap["count"]}</title></rect>')
        parts.append(f'<text x="{label + w + 6}" y="{y + 15}">{gap["count"]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def format_html(report: dict) -> str:
    """One standalone HTML file: summary, charts (inline SVG), tables; no scripts, no outside assets."""
    site, totals = report["site"], report["totals"]
    csp = (f"default-src 'none'; style-src '{_csp_hash(CSS)}'; "
           "base-uri 'none'; form-action 'none'")
    cards = (
        ("weak", totals["weak"], "weak"), ("overdue", totals["overdue"], "overdue"),
        ("unrated", totals["unrated"], "unrated"), ("content gaps", totals["gaps"], ""),
        ("votes counted", totals["votes"], ""), ("contacts after reading", totals["contacts"], ""),
    )
    return _HTML.render(
        csp=csp, css=Markup(CSS), site=site, target=report["target"], period=_period(report), cards=cards,
        title="Help center review" + (f": {report['site_name']}" if report["site_name"] else ""),
        charted=[r for r in report["articles"] if r["weeks"]], articles=report["articles"],
        with_words=[r for r in report["articles"] if r["comments"] or _reasons(r)], gaps=report["gaps"],
        languages=report.get("languages") or [], other_languages=_other_languages(report),
        translations=report.get("translations"), language=report.get("language"),
        channels=report.get("channels"),
        generated_at=report["generated_at"],
        # helpers whose output is already HTML (escaped inside) come back as Markup
        flags=lambda flags: Markup(_flags_html(flags)), svg_gaps=lambda gaps: Markup(svg_gaps(gaps)),
        svg_versions=lambda row, target: Markup(svg_versions(row, target)),
        svg_weeks=lambda row, target: Markup(svg_weeks(row, target)),
        pct=pct, interval=interval, reasons=_reasons, day=_day,
    )


def _escape(value: object) -> object:
    """Every value a template prints, escaped as `_e` escapes it (quotes as &quot; and &#x27;).

    Autoescape stays on beneath it: anything that slipped past this hook would still be escaped.
    """
    if hasattr(value, "__html__"):
        return value
    return Markup(_e(value))


_HTML = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")), autoescape=True,
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    finalize=_escape,
).get_template("report.html")
