/*
 * kb: folding a word for matching, the twin of kb.search.text.fold: lower case, no diacritics
 * (Polish ł too), no apostrophes. The search worker and the page's highlighting both use it: in
 * node it is required beside them; in the browser the site serves it in front of the worker
 * (kb.search.site_index.worker_source) and as a page script before highlight.js.
 */
(function (root) {
  "use strict";

  // Letters that NFKD does not decompose into a base letter plus a mark.
  var FOLD_EXTRA = {
    "ł": "l", "đ": "d", "ø": "o", "ħ": "h", "ŧ": "t", "ı": "i",
    "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d"
  };
  var FOLD_EXTRA_RE = /[łđøħŧıßæœþð]/g;
  var MARKS = /\p{M}/gu;
  var APOSTROPHES = /['\u2019\u02bc]/g;

  function fold(text) {
    return text.toLowerCase().normalize("NFKD").replace(MARKS, "")
      .replace(FOLD_EXTRA_RE, function (ch) { return FOLD_EXTRA[ch]; })
      .replace(APOSTROPHES, "");
  }

  /* `text` without apostrophes (the analyzers drop them before splitting words). */
  function dropApostrophes(text) {
    return text.replace(APOSTROPHES, "");
  }

  var api = { fold: fold, dropApostrophes: dropApostrophes };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.kbFold = api;
})(typeof self !== "undefined" ? self : this);
