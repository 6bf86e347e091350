"""What the command line hands the collector when it makes one: the report and the site's answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kb.channels.answers import answer
from kb.report.languages import site_report


def report_for_collector(store: Any, manifest: dict, since: datetime | None, language: str | None = None) -> dict:
    """`GET /api/report`: the review report of the store against the site's manifest, as `kb report
    --format json` gives it: on a site with languages, one language's (the default's unless
    `language` says) with every language side by side."""
    return site_report(store, manifest, language, since=since)


def collector_services() -> dict[str, Any]:
    """The `report` and `search` functions every collector this command line makes is given."""
    return {"report": report_for_collector, "search": answer}
