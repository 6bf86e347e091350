"""Which of a site's languages a query is written in, from the words each language's help center knows.

A site with several languages has an index per language (kb.search.index), each with its own
analyzer. A query is counted against each: how many of its words that language's analyzer turns
into a term of that language's index, or finds among its function words ("jak", "czy", "the",
"how"). The language that knows most of the query's words wins; a tie (a product name, a word both
languages share, nothing known) goes to the default language. So "zwrot pieniędzy" and "kiedy
oddacie kasę" are answered by the Polish help center and "where is my parcel" by the English one,
with no list of languages' words kept anywhere but in the articles themselves.
"""

from __future__ import annotations

from typing import Mapping

from kb.search.text import analyzer_for

_VOCABULARIES: dict[int, tuple[dict, frozenset[str]]] = {}
KEPT = 16  # indexes whose vocabulary is kept (a server answers for a few languages' sites)


def known_words(index: dict, query: str) -> int:
    """How many of the query's words `index`'s language knows: an index term or a function word."""
    analyzer = analyzer_for(index.get("language"))
    vocabulary = _vocabulary(index)
    return sum(1 for word, term in analyzer.pairs(query, index.get("forms", {}))
               if term in vocabulary or word in analyzer.stopwords)


def _vocabulary(index: dict) -> frozenset[str]:
    kept = _VOCABULARIES.get(id(index))
    if kept is None or kept[0] is not index:
        if len(_VOCABULARIES) >= KEPT:
            _VOCABULARIES.pop(next(iter(_VOCABULARIES)))
        kept = _VOCABULARIES[id(index)] = (index, frozenset(index["terms"]))
    return kept[1]


def written_in(query: str, indexes: Mapping[str, dict], default: str) -> str:
    """The language (a key of `indexes`) whose help center knows most of the query's words; `default`
    on a tie."""
    counts = {code: known_words(index, query) for code, index in indexes.items()}
    best = max(counts.values(), default=0)
    if counts.get(default, 0) == best:
        return default
    winners = [code for code, count in counts.items() if count == best]
    return winners[0] if len(winners) == 1 else default
