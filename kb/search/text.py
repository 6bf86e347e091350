"""Text analysis shared by the index builder and the Python ranker.

Every rule here has a twin in kb/assets/search/worker.js; the agreement test keeps them equal.
"""

from __future__ import annotations

import re
import unicodedata

# Letters that NFKD does not decompose into a base letter plus a mark.
_FOLD_EXTRA = str.maketrans({
    "ł": "l", "đ": "d", "ø": "o", "ħ": "h", "ŧ": "t", "ı": "i",
    "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d",
})
_APOSTROPHES = re.compile(r"['\u2019\u02bc]")
_WORD = re.compile(r"[^\W_]+")
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
    return _WORD.findall(fold(text))


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
