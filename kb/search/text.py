"""Text analysis shared by the index builder and the Python ranker, one analyzer per language.

Every rule here has a twin in kb/assets/search/worker.js (and the Polish stemmer in
kb/assets/search/stem_pl.js); the agreement tests keep them equal on the real data sets.

An analyzer turns text into (word, term) pairs: the word folded (lower case, no diacritics, no
apostrophes), which prefix and typo matching compare, and the index term. English terms are a
light suffix-stripping stem of the folded word. Polish terms come from Snowball's Polish stemmer
run on the word *before* folding, since Polish endings need their letters ("hasła" and "hasło"
meet as "hasł", then fold to "hasl"); the folded stem is a prefix of the folded word, so prefix
search as you type still finds it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import snowballstemmer

# Letters that NFKD does not decompose into a base letter plus a mark.
_FOLD_EXTRA = str.maketrans({
    "ł": "l", "đ": "d", "ø": "o", "ħ": "h", "ŧ": "t", "ı": "i",
    "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d",
})
_APOSTROPHES = re.compile(r"['\u2019\u02bc]")
WORD = re.compile(r"[^\W_]+")  # a word: letters and digits, no underscore (also as written: kb.search.vectors)
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_MARKDOWN_NOISE = re.compile(
    r"<[^>\n]*>"                 # HTML tags
    r"|https?://\S+"             # bare URLs
    r"|\{[#.][^}\n]*\}"          # attribute lists
)
_VOWELS = set("aeiouy")


def fold(text: str) -> str:
    """Lower-case, strip diacritics (Polish ł too) and drop apostrophes."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("M"))
    return _APOSTROPHES.sub("", text.translate(_FOLD_EXTRA))


def words(text: str) -> list[str]:
    """The folded words of `text`, in order."""
    return WORD.findall(fold(text))


def strip_markdown(text: str) -> str:
    """Markdown source reduced to the words a reader sees."""
    return _MARKDOWN_NOISE.sub(" ", _LINK.sub(r"\1", text))


def stem(word: str) -> str:
    """A light, suffix-stripping stem: plurals, -ing, -ed, final -e and -y.

    Only ever removes a suffix, so a stem is a prefix of every word that maps to it (prefix
    search relies on that). Kept this light so other languages (Polish) are not mangled.
    """
    n = len(word)
    if n <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and n > 4:
        word = word[:-3]
    elif word.endswith("ied") and n > 4:
        word = word[:-3]
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith(("xes", "zes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    elif word.endswith("ing") and n > 5 and _has_vowel(word[:-3]):
        word = _undouble(word[:-3])
    elif word.endswith("ed") and n > 4 and _has_vowel(word[:-2]):
        word = _undouble(word[:-2])
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    elif len(word) > 3 and word.endswith("y") and word[-2] not in _VOWELS:
        word = word[:-1]
    return word


def _has_vowel(text: str) -> bool:
    return any(ch in _VOWELS for ch in text)


def _undouble(word: str) -> str:
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz" + "aeiou":
        return word[:-1]
    return word


def typo_budget(length: int) -> int:
    """Edits tolerated in a query word of `length` letters."""
    if length <= 3:
        return 0
    if length <= 7:
        return 1
    return 2


# Words that say little about what a customer needs: they do not count toward a query's score when
# the query has other words (they are still indexed, so a query of only such words finds something).
STOPWORDS = {
    "en": frozenset(),
    "pl": frozenset(
        # function words only: "nie" (not), "mogę" (I can), "gdzie" (where) and "moja" (my) say what
        # the customer needs ("gdzie jest moja paczka"), so they count
        "a aby ale albo bo by byc czy dla do gdy i ich jak jaki jakie jako jest juz ktora ktore ktory "
        "lub mi mnie na o od po pod przez przy sa sie ta tak tam te tego to "
        "tu ty w we wiec z za ze zeby".split()
    ),
}


@functools.lru_cache(maxsize=None)
def _polish_stemmer() -> Callable[[str], str]:
    return snowballstemmer.stemmer("polish").stemWord


@functools.lru_cache(maxsize=200_000)
def stem_polish(word: str) -> str:
    """Snowball's Polish stem of a lower-case word with its diacritics."""
    return _polish_stemmer()(word)


def _english_pairs(text: str, forms: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    return [(w, stem(w)) for w in words(text)]


def _polish_words(text: str) -> list[str]:
    """Lower-case words with their diacritics (NFC, apostrophes dropped)."""
    return WORD.findall(unicodedata.normalize("NFC", _APOSTROPHES.sub("", text.lower())))


@functools.lru_cache(maxsize=200_000)
def _polish_word(raw: str) -> tuple[str, str]:
    """(folded word, term) of one lower-case word with its diacritics."""
    word = fold(raw)
    return word, (fold(stem_polish(raw)) if raw.isalpha() else word)


def _polish_term(raw: str) -> str:
    return _polish_word(raw)[1]


def _polish_pairs(text: str, forms: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    pairs = []
    for raw in _polish_words(text):
        word = _polish_word(raw)[0]
        # A word typed without its Polish letters ("usunac") takes the term its written form
        # ("usunąć") has in the articles: the stemmer needs the letters to find the ending.
        term = forms.get(word) if forms and raw == word else None
        pairs.append((word, term or _polish_term(raw)))
    return pairs


def _polish_forms(texts: Iterable[str]) -> dict[str, str]:
    """Folded word -> term, for the words whose diacritics change their term (see _polish_pairs)."""
    seen: dict[str, Counter] = defaultdict(Counter)
    for text in texts:
        for raw in _polish_words(text):
            word = _polish_word(raw)[0]
            if raw != word or word in seen:
                seen[word][_polish_term(raw)] += 1
    forms = {}
    for word, terms in seen.items():
        term = min(terms.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if term != _polish_term(word):
            forms[word] = term
    return dict(sorted(forms.items()))


@dataclass(frozen=True)
class Analyzer:
    """How one language's text becomes index terms.

    `pairs(text, forms)` gives (folded word, term) per word; `forms` is the index's table of
    words typed without diacritics (`find_forms` builds it from the articles' text).
    """

    language: str
    pairs: Callable[..., list[tuple[str, str]]]
    stopwords: frozenset[str]
    find_forms: Callable[[Iterable[str]], dict[str, str]] = lambda texts: {}
    k1: float = 5.0           # BM25 saturation: 5 tuned on both English eval sets
    family_prefix: int = 0    # >0: a query term also matches terms sharing its first this many letters

    def terms(self, text: str) -> list[str]:
        """The index terms of `text`, in order."""
        return [term for _, term in self.pairs(text)]


ANALYZERS = {
    "en": Analyzer("en", _english_pairs, STOPWORDS["en"]),
    # Stems conflate many more word forms in Polish, so a term repeats more and saturates sooner
    # (k1); forms of one word whose stems differ meet on their first five letters. Both chosen on
    # ../shared/eval/plhelp over typo seeds 1, 7 and 11 (k1 2, 3, 5; prefix 4, 5, 6): see README.
    "pl": Analyzer("pl", _polish_pairs, STOPWORDS["pl"], _polish_forms, k1=3.0, family_prefix=5),
}
DEFAULT_LANGUAGE = "en"


def analyzer_for(language: str | None) -> Analyzer:
    """The analyzer of a BCP 47 language (its primary subtag); English rules for others."""
    primary = (language or DEFAULT_LANGUAGE).split("-")[0].lower()
    return ANALYZERS.get(primary, ANALYZERS[DEFAULT_LANGUAGE])
