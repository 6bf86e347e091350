/* kb: after a click on a search result, mark on the page the words the engine matched.
 *
 * The search worker puts the matched index terms (folded stems) into the result's link as
 * ?h=term+term. Here a word is marked when its folded form starts with one of them: whole words
 * only, never letters inside a word, never words or terms under three letters. Words are folded
 * as the search folds them (kb/assets/search/fold.js, the twin of kb.search.text.fold).
 */
(function (root) {
  "use strict";

  // The search's own folding (kb/assets/search/fold.js): beside it in node, a page script before it.
  var fold = typeof module !== "undefined" && module.exports
    ? require("./search/fold.js").fold
    : root.kbFold.fold;
  var WORD = /[\p{L}\p{N}]+/gu;
  var MIN_LETTERS = 3;
  var SKIP = { SCRIPT: 1, STYLE: 1, TEXTAREA: 1, MARK: 1, BUTTON: 1, INPUT: 1 };

  /* The terms of an ?h= value worth marking by. */
  function termsOf(value) {
    return (value || "").split(/\s+/).map(fold).filter(function (t) { return t.length >= MIN_LETTERS; });
  }

  /* [start, end) of each whole word of `text` that starts with one of `terms`. */
  function matches(text, terms) {
    var out = [], match;
    WORD.lastIndex = 0;
    while ((match = WORD.exec(text)) !== null) {
      var word = match[0];
      if (word.length < MIN_LETTERS) continue;
      var folded = fold(word);
      for (var i = 0; i < terms.length; i++) {
        if (folded.startsWith(terms[i])) { out.push([match.index, match.index + word.length]); break; }
      }
    }
    return out;
  }

  function markPage() {
    var terms = termsOf(new URL(root.location.href).searchParams.get("h"));
    var content = root.document.querySelector("article.md-content__inner");
    if (!terms.length || !content) return;
    var walker = root.document.createTreeWalker(content, NodeFilter.SHOW_TEXT);
    var found = [];
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement && !SKIP[node.parentElement.tagName]) {
        var spans = matches(node.data, terms);
        if (spans.length) found.push([node, spans]);
      }
    }
    found.forEach(function (item) {
      var node = item[0], text = node.data, last = 0;
      var parts = root.document.createDocumentFragment();
      item[1].forEach(function (span) {
        parts.appendChild(root.document.createTextNode(text.slice(last, span[0])));
        var mark = root.document.createElement("mark");
        mark.setAttribute("data-md-highlight", "");
        mark.textContent = text.slice(span[0], span[1]);
        parts.appendChild(mark);
        last = span[1];
      });
      parts.appendChild(root.document.createTextNode(text.slice(last)));
      node.parentNode.replaceChild(parts, node);
    });
  }

  if (typeof module !== "undefined" && module.exports) {
    module.exports = { fold: fold, termsOf: termsOf, matches: matches };
  } else if (root.document$ && typeof root.document$.subscribe === "function") {
    root.document$.subscribe(function () { try { markPage(); } catch (err) { console.warn(err); } });
  } else {
    root.addEventListener("DOMContentLoaded", function () { try { markPage(); } catch (err) { console.warn(err); } });
  }
})(typeof window !== "undefined" ? window : this);
