"""Wiring the feedback widget into a site's config: theme dir, analytics provider, texts.

Plain data in, plain data out (no mkdocs import): kb.site.theme puts `WIDGET_THEME_DIR` among the
theme's template dirs and calls `widget_extra` for every renderer's `extra` values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, MutableMapping

from kb.votes.schema import MAX_BODY, MAX_COMMENT, REASONS

__all__ = ["WIDGET_THEME_DIR", "DEFAULT_ANALYTICS", "widget_extra"]

#: Templates and static files of the widget: partials/integrations/analytics/kb.html and
#: assets/kb-feedback/feedback.{js,css}.
WIDGET_THEME_DIR = Path(__file__).parent.parent / "assets" / "feedback" / "overrides"

#: Material's feedback form as kb configures it when mkdocs.yml sets no `extra.analytics`, in English:
#: `feedback_form` keeps its ratings' icons and values and puts in the words of the language built.
DEFAULT_ANALYTICS = {
    "provider": "kb",
    "feedback": {
        "title": "Was this helpful?",
        "ratings": [
            {"icon": "material/thumb-up-outline", "name": "Yes, this helped", "data": 1,
             "note": "Thanks for letting us know!"},
            {"icon": "material/thumb-down-outline", "name": "No, this did not help", "data": 0,
             "note": "Sorry about that."},
        ],
    },
}


def widget_extra(extra: MutableMapping[str, Any], texts: Mapping[str, Any], default_language: bool = True) -> None:
    """Give the widget the vote vocabulary and its texts in `extra`; default `extra.analytics` to kb.

    `texts` are one language's interface texts (kb.site.languages): the form's title and ratings,
    and the sender's (`widget`: reason labels, buttons...). On the default language what mkdocs.yml
    sets wins; on the others the language's own texts do, since mkdocs.yml's are the default's.
    """
    # The widget's vocabulary comes from the collector's (kb.votes.schema), written into the page.
    extra["kb_votes"] = {"reasons": list(REASONS), "max_comment": MAX_COMMENT, "max_body": MAX_BODY}
    configured = dict(extra.get("kb_feedback") or {})
    widget_texts = dict(texts["widget"])
    extra["kb_feedback"] = {**widget_texts, **configured} if default_language else {**configured, **widget_texts}
    if not extra.get("analytics") or not default_language:
        extra["analytics"] = {"provider": (extra.get("analytics") or {}).get("provider", "kb"),
                              "feedback": feedback_form(texts)}


def feedback_form(texts: Mapping[str, Any]) -> dict[str, Any]:
    """Material's feedback form (`extra.analytics.feedback`) in the language of `texts`."""
    yes, no = DEFAULT_ANALYTICS["feedback"]["ratings"]
    return {"title": texts["feedback_title"], "ratings": [
        {**yes, "name": texts["rating_yes"], "note": texts["note_yes"]},
        {**no, "name": texts["rating_no"], "note": texts["note_no"]},
    ]}
