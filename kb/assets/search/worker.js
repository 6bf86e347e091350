/*
 * kb search: the ranking engine and a Web Worker that answers Material for MkDocs' search
 * protocol (SETUP -> READY, QUERY -> RESULT), so Material's header search UI stays as it is.
 *
 * The index is built in Python (kb/search/index.py) and only parsed here. Every rule below has a
 * twin in kb/search/ranker.py and kb/search/text.py; a test keeps both rankings in agreement.
 */
(function (root) {
  "use strict";

  /* ---- text analysis (twin of kb/search/text.py) ---------------------------------------- */

  // Folding: beside this file in node; in the browser the site serves it first in the same script
  // (kb.search.site_index.worker_source), as it does the stemmers.
  var folding = typeof module !== "undefined" && module.exports ? require("./fold.js") : root.kbFold;
  var fold = folding.fold;
  var WORD = /[\p{L}\p{N}]+/gu;
  var ALPHA = /^\p{L}+$/u;
  var ALNUM = /^[\p{L}\p{N}]+$/u;
  var VOWELS = "aeiouy";

  function words(text) {
    return fold(text).match(WORD) || [];
  }

  function endsWith(word, suffixes) {
    for (var i = 0; i < suffixes.length; i++)
      if (word.endsWith(suffixes[i])) return true;
    return false;
  }

  function hasVowel(text) {
    for (var i = 0; i < text.length; i++)
      if (VOWELS.indexOf(text[i]) >= 0) return true;
    return false;
  }

  function undouble(word) {
    var n = word.length;
    if (n > 3 && word[n - 1] === word[n - 2] && "lszaeiou".indexOf(word[n - 1]) < 0)
      return word.slice(0, -1);
    return word;
  }

  function stem(word) {
    var n = word.length;
    if (n <= 3 || !ALPHA.test(word)) return word;
    if (word.endsWith("ies") && n > 4) word = word.slice(0, -3);
    else if (word.endsWith("ied") && n > 4) word = word.slice(0, -3);
    else if (word.endsWith("sses")) word = word.slice(0, -2);
    else if (endsWith(word, ["xes", "zes", "ches", "shes"])) word = word.slice(0, -2);
    else if (word.endsWith("s") && !endsWith(word, ["ss", "us", "is"])) word = word.slice(0, -1);
    else if (word.endsWith("ing") && n > 5 && hasVowel(word.slice(0, -3)))
      word = undouble(word.slice(0, -3));
    else if (word.endsWith("ed") && n > 4 && hasVowel(word.slice(0, -2)))
      word = undouble(word.slice(0, -2));
    var m = word.length;
    if (m > 3 && word.endsWith("e")) word = word.slice(0, -1);
    else if (m > 3 && word.endsWith("y") && VOWELS.indexOf(word[m - 2]) < 0) word = word.slice(0, -1);
    return word;
  }

  /* ---- analyzers per language (twin of kb.search.text.ANALYZERS) ------------------------- */

  // The Polish stemmer: beside this file in node; in the browser the site serves it first in the
  // same script (kb.search.site_index.worker_source).
  var stemPl = typeof module !== "undefined" && module.exports
    ? require("./stem_pl.js").stem
    : root.kbStemPl && root.kbStemPl.stem;
  var LETTERS = /^\p{L}+$/u;

  var STOPWORDS = {
    en: new Set(),
    // function words only: "nie" (not), "mogę" (I can), "gdzie" (where) and "moja" (my) say what
    // the customer needs ("gdzie jest moja paczka"), so they count
    pl: new Set(("a aby ale albo bo by byc czy dla do gdy i ich jak jaki jakie jako jest juz ktora ktore ktory " +
      "lub mi mnie na o od po pod przez przy sa sie ta tak tam te tego to " +
      "tu ty w we wiec z za ze zeby").split(" "))
  };

  function englishPairs(text) {
    return words(text).map(function (w) { return [w, stem(w)]; });
  }

  function polishWords(text) {
    return folding.dropApostrophes(text.toLowerCase()).normalize("NFC").match(WORD) || [];
  }

  function polishTerm(raw) {
    return LETTERS.test(raw) ? fold(stemPl(raw)) : fold(raw);
  }

  /* A word typed without its Polish letters ("usunac") takes the term its written form ("usunąć")
     has in the articles (the index's `forms`): the stemmer needs the letters to find the ending. */
  function polishPairs(text, forms) {
    return polishWords(text).map(function (raw) {
      var word = fold(raw);
      var term = forms && raw === word && Object.prototype.hasOwnProperty.call(forms, word) ? forms[word] : null;
      return [word, term || polishTerm(raw)];
    });
  }

  var ANALYZERS = {
    en: { language: "en", pairs: englishPairs, stopwords: STOPWORDS.en, familyPrefix: 0 },
    pl: { language: "pl", pairs: polishPairs, stopwords: STOPWORDS.pl, familyPrefix: 5 }
  };

  function analyzerFor(language) {
    var primary = String(language || "en").split("-")[0].toLowerCase();
    return ANALYZERS[primary] || ANALYZERS.en;
  }

  function typoBudget(length) {
    return length <= 3 ? 0 : length <= 7 ? 1 : 2;
  }

  /* Optimal string alignment distance (a swapped pair is one edit), or max+1 when above max. */
  function osa(a, b, max) {
    var n = a.length, m = b.length;
    if (Math.abs(n - m) > max) return max + 1;
    var prev2 = new Array(m + 1), prev = new Array(m + 1), cur = new Array(m + 1);
    for (var j = 0; j <= m; j++) prev[j] = j;
    for (var i = 1; i <= n; i++) {
      cur[0] = i;
      var rowMin = i;
      for (j = 1; j <= m; j++) {
        var cost = a[i - 1] === b[j - 1] ? 0 : 1;
        var v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
          v = Math.min(v, prev2[j - 2] + 1);
        cur[j] = v;
        if (v < rowMin) rowMin = v;
      }
      if (rowMin > max) return max + 1;
      var t = prev2; prev2 = prev; prev = cur; cur = t;
    }
    return prev[m] > max ? max + 1 : prev[m];
  }

  /* Letters present in a word, as bits: each edit changes at most two of them. */
  function letterMask(word) {
    var mask = 0;
    for (var i = 0; i < word.length; i++) mask |= 1 << (word.charCodeAt(i) & 31);
    return mask;
  }

  function popcount(x) {
    x -= (x >>> 1) & 0x55555555;
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
  }

  /* ---- ranking (twin of kb/search/ranker.py)-------------------------------------------------- */

  var FORMAT = "kb-search/1";
  var IMPACT_SCALE = 10;
  var FACTOR_EXACT = 8, FACTOR_SYNONYM = 7, FACTOR_PREFIX = 6;
  var FACTOR_FUZZY = [8, 6, 4];
  var PREFIX_LIMIT = 32;
  var PREFIX_MIN = 3;
  var SUFFIX_CUT = 3;
  var MIN_SHARE = 0.12;
  var UNKNOWN_WORD = 2 * IMPACT_SCALE * FACTOR_EXACT;

  /* Lookup structures for an index; `base` is where a split index's shards are fetched from. */
  function prepare(index, base) {
    var split = index && index.split;
    if (!index || index.format !== FORMAT || !(split ? split.n_docs : index.docs && index.docs.length))
      throw new Error("kb search: the index is empty or not a kb search index");
    var ids = new Map();
    var byLength = [];
    var terms = index.terms;
    for (var i = 0; i < terms.length; i++) {
      ids.set(terms[i], i);
      var len = terms[i].length;
      (byLength[len] || (byLength[len] = [])).push(i);
    }
    return {
      index: index, terms: terms, ids: ids, byLength: byLength, masks: null,
      analyzer: analyzerFor(index.language), forms: index.forms || {},
      synonyms: index.synonyms || {}, split: split || null, base: base || null, shards: new Map(),
      postings: split ? new Array(terms.length) : index.postings,
      docs: split ? new Array(split.n_docs) : index.docs,
      nDocs: split ? split.n_docs : index.docs.length
    };
  }

  /* A split index: fetch (once) the shards that hold `numbers`, given each shard's first number. */
  function fetchShards(p, numbers, starts, files, target) {
    var wanted = new Set();
    numbers.forEach(function (n) {
      if (target[n] !== undefined) return;
      var lo = 0, hi = starts.length - 1;
      while (lo < hi) {
        var mid = (lo + hi + 1) >>> 1;
        if (starts[mid] <= n) lo = mid; else hi = mid - 1;
      }
      wanted.add(lo);
    });
    return Promise.all(Array.from(wanted).map(function (shard) {
      var name = files[shard];
      if (!p.shards.has(name)) {
        p.shards.set(name, fetch(new URL(name, p.base)).then(function (response) {
          if (!response.ok) throw new Error("kb search: " + name + ": HTTP " + response.status);
          return response.json();
        }).then(function (rows) {
          for (var i = 0; i < rows.length; i++) target[starts[shard] + i] = rows[i];
        }, function (err) { p.shards.delete(name); throw err; }));
      }
      return p.shards.get(name);
    }));
  }

  function docStarts(p) {
    var starts = [];
    for (var i = 0; i < p.split.docs_files.length; i++) starts.push(i * p.split.doc_chunk);
    return starts;
  }

  /* rank(), after fetching what a split index needs for this query. */
  function rankAsync(p, query, limit, withMatches) {
    var groups = queryTerms(p, query);
    var terms = [];
    groups.forEach(function (g) { g.variants.forEach(function (_, term) { terms.push(term); }); });
    return fetchShards(p, terms, p.split.postings, p.split.postings_files, p.postings).then(function () {
      var ranked = rank(p, query, limit, withMatches, groups);
      var docs = ranked.results.map(function (r) { return r.doc; });
      return fetchShards(p, docs, docStarts(p), p.split.docs_files, p.docs).then(function () { return ranked; });
    });
  }

  function completions(terms, prefix) {
    var lo = 0, hi = terms.length;
    while (lo < hi) {
      var mid = (lo + hi) >>> 1;
      if (terms[mid] < prefix) lo = mid + 1; else hi = mid;
    }
    var out = [];
    for (var i = lo; i < terms.length && i < lo + PREFIX_LIMIT; i++) {
      if (!terms[i].startsWith(prefix)) break;
      out.push(terms[i]);
    }
    return out;
  }

  /* Offers index terms within `budget` OSA edits of `s`, each counted `extra` edits more. */
  function near(p, s, budget, extra, offer) {
    if (!p.masks) {
      p.masks = new Int32Array(p.terms.length);
      for (var t = 0; t < p.terms.length; t++) p.masks[t] = letterMask(p.terms[t]);
    }
    if (extra && p.ids.has(s)) offer(s, FACTOR_FUZZY[extra]);
    var mask = letterMask(s);
    for (var len = Math.max(0, s.length - budget); len <= s.length + budget; len++) {
      var bucket = p.byLength[len];
      if (!bucket) continue;
      for (var k = 0; k < bucket.length; k++) {
        var i = bucket[k];
        if (popcount(p.masks[i] ^ mask) > 2 * budget) continue;
        var d = osa(s, p.terms[i], budget);
        if (d > 0 && d <= budget) offer(p.terms[i], FACTOR_FUZZY[d + extra]);
      }
    }
  }

  /* The query as groups of index terms, each term with its match factor. */
  function queryTerms(p, query) {
    var pairs = p.analyzer.pairs(query, p.forms);
    var chars = Array.from(query);
    var typing = chars.length > 0 && ALNUM.test(fold(chars[chars.length - 1]));
    // Stop words count only in a query of nothing else; a word still being typed may yet become
    // another ("jak" -> "jakość"), so it stays.
    var stop = p.analyzer.stopwords;
    if (pairs.some(function (pair) { return !stop.has(pair[0]); }))
      pairs = pairs.filter(function (pair, i) { return !stop.has(pair[0]) || (typing && i === pairs.length - 1); });
    var groups = [];
    var seen = new Set();
    pairs.forEach(function (pair, pos) {
      var word = pair[0], s = pair[1];
      if (seen.has(s)) return;
      seen.add(s);
      var variants = new Map();
      var typed = new Set();  // terms matching the word as typed (not a typo fix or synonym)
      var offer = function (term, factor, asTyped) {
        var i = p.ids.get(term);
        if (i !== undefined && (variants.get(i) || 0) < factor) {
          variants.set(i, factor);
          if (asTyped) typed.add(i); else typed.delete(i);
        }
      };
      offer(s, FACTOR_EXACT, true);
      var alternatives = p.synonyms[s] || [];
      for (var a = 0; a < alternatives.length; a++) offer(alternatives[a], FACTOR_SYNONYM);
      if (typing && pos === pairs.length - 1 && word.length >= PREFIX_MIN && !p.ids.has(s)) {
        completions(p.terms, word).forEach(function (t) { offer(t, FACTOR_PREFIX, true); });
        // stems shorter than the typed part: "shippi" is on its way to "shipping" -> "ship"
        for (var cut = Math.max(PREFIX_MIN, word.length - 2); cut < word.length; cut++)
          offer(word.slice(0, cut), FACTOR_PREFIX, true);
      }
      var family = p.analyzer.familyPrefix;
      if (family && s.length >= family)
        // other forms of the word: Polish stems of one word can differ in their endings
        completions(p.terms, s.slice(0, family)).forEach(function (t) { offer(t, FACTOR_PREFIX, false); });
      var budget = typoBudget(s.length);
      if (budget && !p.ids.has(s)) {
        near(p, s, budget, 0, offer);
        // a slip in the ending ("trackign") hides the stem: the word less its last letters,
        // counted as one edit more
        for (var c = 1; c <= SUFFIX_CUT; c++)
          if (word.length - c >= PREFIX_MIN + 1) near(p, word.slice(0, -c), budget - 1, 1, offer);
      }
      groups.push({ word: word, stem: s, variants: variants, typed: typed });
    });
    return groups;
  }

  /* Ranked documents: [{doc, score, matched: [term index or -1 per query group]}].
     Scores add up in typed arrays reused across queries: large help centers stay fast. */
  function rank(p, query, limit, withMatches, groups) {
    groups = groups || queryTerms(p, query);
    var n = p.nDocs;
    if (!p.totals) {
      p.totals = new Float64Array(n);
      p.best = new Int32Array(n);
    }
    var totals = p.totals, best = p.best;
    var touched = [];
    var winners = [];  // per group, when asked: Int32Array doc -> winning term + 1
    var bestPossible = 0;
    for (var g = 0; g < groups.length; g++) {
      var inGroup = [];
      var won = withMatches ? new Int32Array(n) : null;
      var groupMax = 0;
      groups[g].variants.forEach(function (factor, term) {
        var row = p.postings[term];
        var doc = 0;
        for (var k = 0; k < row.length; k += 2) {
          doc += row[k];
          var value = row[k + 1] * factor;
          var old = best[doc];
          if (value > old) {
            if (old === 0) inGroup.push(doc);
            best[doc] = value;
            if (won) won[doc] = term + 1;
            if (value > groupMax) groupMax = value;
          }
        }
      });
      for (var i = 0; i < inGroup.length; i++) {
        var d = inGroup[i];
        if (totals[d] === 0) touched.push(d);
        totals[d] += best[d];
        best[d] = 0;
      }
      // a word the index does not know at all still counts: it raises the bar for the others
      bestPossible += groups[g].variants.size ? groupMax : UNKNOWN_WORD;
      winners.push(won);
    }
    var floor = bestPossible * MIN_SHARE;
    // keep the best `limit` (score descending, then document order), without sorting them all
    var top = [];
    for (var t = 0; t < touched.length; t++) {
      var doc = touched[t], score = totals[doc];
      if (score < floor) continue;
      if (top.length === limit) {
        var last = top[limit - 1];
        if (score < totals[last] || (score === totals[last] && doc > last)) continue;
        top.pop();
      }
      var at = top.length;
      while (at > 0 && (totals[top[at - 1]] < score || (totals[top[at - 1]] === score && top[at - 1] > doc))) at--;
      top.splice(at, 0, doc);
    }
    var results = top.map(function (doc) {
      return {
        doc: doc,
        score: totals[doc] / (IMPACT_SCALE * FACTOR_EXACT),
        share: totals[doc] / bestPossible,
        matched: winners.map(function (won) { return won && won[doc] ? won[doc] - 1 : -1; })
      };
    });
    for (var r = 0; r < touched.length; r++) totals[touched[r]] = 0;
    return { groups: groups, results: results };
  }

  /* ---- confidence (twin of kb/search/confidence.py) -------------------------------------- */

  // The model's weights and threshold ship with the index (index.confidence): none are kept here.
  var FEATURES = ["share", "lead", "title_words", "log_matched"];

  /* The index terms of a document's title, analysed once. */
  function titleTerms(p, doc) {
    if (!p.titles) p.titles = new Map();
    var found = p.titles.get(doc);
    if (!found) {
      found = new Set(p.analyzer.pairs(p.docs[doc][1]).map(function (pair) { return pair[1]; }));
      p.titles.set(doc, found);
    }
    return found;
  }

  /* The model's inputs for result `number` of `results` (from rank with matches). */
  function features(p, results, number) {
    var r = results[number];
    var share = Math.min(1, r.share);
    var other = MIN_SHARE;  // a lone result leads only by what it has above the list's floor
    for (var i = 0; i < results.length; i++)
      if (i !== number && Math.min(1, results[i].share) > other) other = Math.min(1, results[i].share);
    var words = Math.max(1, r.matched.length);
    var title = titleTerms(p, r.doc);
    var matched = 0, inTitle = 0;
    r.matched.forEach(function (term) {
      if (term < 0) return;
      matched++;
      if (title.has(p.terms[term])) inTitle++;
    });
    return { share: share, lead: share - other, title_words: inTitle / words,
             log_matched: matched ? Math.log(matched) : 0 };
  }

  /* The estimated probability that result `number` answers the query, or null when the index
     ships no model (an index built before models shipped: the site behaves as it did). */
  function confidence(p, results, number) {
    var model = p.index.confidence;
    if (!model || !results.length) return null;
    var x = features(p, results, number), w = model.weights;
    var z = w.intercept;
    for (var f = 0; f < FEATURES.length; f++) z += w[FEATURES[f]] * x[FEATURES[f]];
    return 1 / (1 + Math.exp(-Math.max(-30, Math.min(30, z))));
  }

  /* The top result's confidence for `query` and whether it is a good answer: {id, confidence,
     confident} (null when nothing is found). kb.search.confidence gives the same. */
  function assess(p, query) {
    var results = rank(p, query, 2, true).results;
    if (!results.length) return null;
    var c = confidence(p, results, 0);
    return { id: p.docs[results[0].doc][0], confidence: c, confident: c === null || c >= p.index.confidence.threshold };
  }

  /* [{id, title, url, score}], best first: the same list kb.search.search returns. */
  function search(p, query, limit) {
    return rank(p, query, limit === undefined ? 10 : limit, false).results.map(function (r) {
      var d = p.docs[r.doc];
      return { id: d[0], title: d[1], url: d[2], score: r.score };
    });
  }

  /* ---- Material's worker protocol --------------------------------------------------------- */

  var SETUP = 0, READY = 1, QUERY = 2, RESULT = 3;
  var RESULT_LIMIT = 20;
  var MAYBE_LIMIT = 3;  // results shown under "no good answer", at most
  var SECTION_LIMIT = 1;  // sections listed under an article, at most
  var PAUSE_MS = 400;  // the customer paused typing: time to ask the collector (never before the instant results)
  var state = { prepared: null, options: {}, base: null, highlight: false, api: null, record: false, language: null, pageLanguage: null,
                latest: null, timer: null, apiDown: false,
                page: false };  // page: a worker serving a page (not a module in node)
  var HIGHLIGHT_MIN = 3;  // terms shorter than this would mark too much (kb/assets/highlight.js)
  // Words never marked, though they may count for ranking: marking "for" or "nie" everywhere hides
  // the customer's words (folded forms; each language's ranking stop words are unmarked too).
  var UNMARKED = {
    en: new Set(("a an and any are as at be been but by can could did do does for from get got had has have how " +
      "i if in into is it its me my no not of on or our so than that the their them then there these they this " +
      "to was we were what when where which who why will with would you your").split(" ")),
    pl: new Set(("co czego czy gdzie jak jaka jakie jaki jest kiedy ktora ktore ktory moge moj moja moje mozna " +
      "moze nie nic sa sie ze").split(" "))
  };

  function unmarked(p, word) {
    var own = UNMARKED[p.analyzer.language] || UNMARKED.en;
    return own.has(word) || p.analyzer.stopwords.has(word);
  }

  /* The result's link, carrying the terms it matched (?h=) for the page to mark. */
  function withHighlight(location, marks) {
    var hash = location.indexOf("#");
    var path = hash < 0 ? location : location.slice(0, hash);
    var shown = marks.filter(function (t) { return t.length >= HIGHLIGHT_MIN; });
    if (!shown.length) return location;
    var query = (path.indexOf("?") < 0 ? "?" : "&") + "h=" + encodeURIComponent(shown.join(" "));
    return path + query + (hash < 0 ? "" : location.slice(hash));
  }

  function escapeHTML(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  /* Escape `text` and mark each word whose term (by `p`'s analyzer) is one of `stems`. */
  function highlight(p, text, stems) {
    var out = "", last = 0, match;
    var re = /[\p{L}\p{N}'\u2019]+/gu;
    while ((match = re.exec(text)) !== null) {
      var hit = p.analyzer.pairs(match[0], p.forms).some(function (pair) { return stems.has(pair[1]); });
      if (!hit) continue;
      out += escapeHTML(text.slice(last, match.index)) + "<mark>" + escapeHTML(match[0]) + "</mark>";
      last = match.index + match[0].length;
    }
    return out + escapeHTML(text.slice(last));
  }

  /* The terms to mark in a result: the customer's own words and their forms (as typed, completed,
     corrected or inflected), never a synonym the engine matched for them, never a function word. */
  function marksOf(p, groups, result) {
    var marks = new Set();
    groups.forEach(function (group, g) {
      if (unmarked(p, group.word)) return;
      if (p.ids.has(group.stem)) marks.add(group.stem);
      var term = result ? result.matched[g] : -1;
      if (term >= 0 && group.variants.get(term) !== FACTOR_SYNONYM) marks.add(p.terms[term]);
    });
    return marks;
  }

  function answer(query) {
    var p = state.prepared;
    state.latest = query;
    if (state.timer) { clearTimeout(state.timer); state.timer = null; }
    if (!p || !query.trim()) return { items: [] };
    if (p.split) return rankAsync(p, query, RESULT_LIMIT, true).then(function (ranked) { return instant(p, ranked, query); });
    return instant(p, rank(p, query, RESULT_LIMIT, true), query);
  }

  /* The instant answer from the browser's own ranking; with a collector, the hybrid one follows. */
  function instant(p, ranked, query) {
    var c = ranked.results.length ? confidence(p, ranked.results, 0) : null;
    var answered = ranked.results.length > 0 && (c === null || c >= p.index.confidence.threshold);
    var result = present(p, ranked, query, ranked.results, answered);
    announce({ query: query, answered: answered, confidence: c, results: result.items.length, source: "browser" });
    if (state.api && !state.apiDown && query === state.latest) {
      if (state.timer) clearTimeout(state.timer);
      var shown = Math.max(result.items.length, MAYBE_LIMIT);
      state.timer = setTimeout(function () { state.timer = null; askCollector(p, ranked, query, shown); }, PAUSE_MS);
    }
    return result;
  }

  /* Material's result shape: one item list per article, text escaped, the customer's words marked.
     The list stops where results stop being relevant (below the model's `cut` of the top score);
     when the top is no good answer, only a few are left, as "maybe". */
  function present(p, ranked, query, results, answered, ordered) {
    var model = p.index.confidence;
    if (!ordered && results.length && model && model.cut) {
      var floor = results[0].score * model.cut;
      results = results.filter(function (r) { return r.score >= floor; });
    }
    if (!answered) results = results.slice(0, MAYBE_LIMIT);
    // the words as typed (case folded only), so the page can highlight "pieniędzy", not "pieniedzy"
    var typed = new Map();
    (query.toLowerCase().match(/[\p{L}\p{N}'\u2019\u02bc]+/gu) || []).forEach(function (raw) {
      var folded = words(raw);
      if (folded.length === 1 && !typed.has(folded[0])) typed.set(folded[0], raw);
    });
    var items = results.map(function (r, n) {
      var d = p.docs[r.doc];
      // Material's Enter opens the result of the highest score: in the collector's order, the first
      var score = ordered ? results.length - n : r.score;
      var marks = marksOf(p, ranked.groups, r);
      var terms = {};
      ranked.groups.forEach(function (group, g) {
        // only the words it matched (Material strikes the others through as "Missing"), each as
        // typed, or as indexed when the match was a correction or another form
        var term = r.matched && r.matched[g] >= 0 ? r.matched[g] : -1;
        if (term >= 0) terms[group.typed.has(term) ? typed.get(group.word) || group.word : p.terms[term]] = true;
      });
      return [{
        location: state.highlight ? withHighlight(d[2], Array.from(marks)) : d[2],
        title: highlight(p, d[1], marks), text: highlight(p, d[3], marks),
        score: score, terms: terms
      }].concat(sectionItems(p, d, marks, score, terms));
    });
    var result = { items: items };
    if (state.options && state.options.suggest) result.suggest = [];
    return result;
  }

  /* The article's section that best holds the customer's words (in its heading or its first
     sentence), as Material lists sections under their article: its heading, and the sentence that
     answers, linking to its anchor. */
  function sectionItems(p, d, marks, score, terms) {
    var sections = d[4] || [];
    var found = [];
    for (var i = 0; i < sections.length; i++) {
      var hits = 0;
      p.analyzer.pairs(sections[i][0] + " " + (sections[i][2] || ""), p.forms)
        .forEach(function (pair) { if (marks.has(pair[1])) hits++; });
      if (hits) found.push({ hits: hits, at: i });
    }
    found.sort(function (a, b) { return b.hits - a.hits || a.at - b.at; });
    return found.slice(0, SECTION_LIMIT).map(function (f) {
      var s = sections[f.at];
      var location = d[2] + "#" + s[1];
      return {
        location: state.highlight ? withHighlight(location, Array.from(marks)) : location,
        title: highlight(p, s[0], marks), text: s[2] ? "<p>" + highlight(p, s[2], marks) + "</p>" : "",
        score: score, terms: terms
      };
    });
  }

  /* ---- the page and the collector ------------------------------------------------------------ */

  // The page (kb/assets/kb.js) learns here whether the results hold a good answer: Material's
  // protocol carries result items only. One channel per language (pages of several languages
  // may share an origin); the page reads only what answers the query in its own search box.
  var channel = null;
  function announce(message) {
    if (!state.page || typeof BroadcastChannel === "undefined" || !state.language) return;
    try {
      channel = channel || new BroadcastChannel("kb-search:" + state.language);
      channel.postMessage(message);
    } catch (err) {
      // no channel (an opaque origin): the results still show, only the "no good answer" notice does not
    }
  }

  /* Ask the collector's hybrid ranking (GET /api/search) for a query the customer paused on, and
     show its order and its answer, if the query is still the one in the box. Any failure leaves the
     instant results as they are; a collector that is not there is not asked again. */
  function askCollector(p, ranked, query, shown) {
    var url;
    try {
      url = new URL(state.api, root.location.href);
    } catch (err) { return; }
    url.searchParams.set("q", query.trim().slice(0, 200));
    url.searchParams.set("limit", String(RESULT_LIMIT));
    url.searchParams.set("channel", state.record ? "web" : "test");  // "test": answered, not stored
    if (state.language) url.searchParams.set("lang", state.language);
    fetch(url.href, { credentials: "omit" }).then(function (response) {
      if (response.status === 404 || response.status === 405 || response.status === 501) state.apiDown = true;
      if (!response.ok) throw new Error("kb search: " + url.pathname + ": HTTP " + response.status);
      return response.json();
    }).then(function (hybrid) {
      if (state.latest !== query || state.prepared !== p || !hybrid || !Array.isArray(hybrid.results)) return;
      var results = rerank(p, ranked, hybrid.results).slice(0, shown);
      var answered = !!hybrid.answered && results.length > 0;
      var result = present(p, ranked, query, results, answered, true);
      root.postMessage({ type: RESULT, data: result });
      announce({ query: query, answered: answered, confidence: results.length && hybrid.results[0].confidence,
                 results: result.items.length, source: "collector" });
    }).catch(function (err) { console.warn(err); });
  }

  /* The results in the collector's order: the browser's own where it found them too, the others
     when their article is at hand (a split index fetches article details per query only). The
     list is no longer than the instant one was: the collector re-ranks, it does not lengthen. */
  function rerank(p, ranked, order) {
    var local = new Map(ranked.results.map(function (r) { return [p.docs[r.doc][0], r]; }));
    if (!p.split && !p.byId) {
      p.byId = new Map();
      for (var i = 0; i < p.docs.length; i++) p.byId.set(p.docs[i][0], i);
    }
    var out = [], seen = new Set();
    order.forEach(function (hit) {
      var r = local.get(hit && hit.id);
      var doc = r ? r.doc : p.byId && p.byId.get(hit && hit.id);
      if (doc === undefined || seen.has(doc)) return;
      seen.add(doc);
      out.push({ doc: doc, score: r ? r.score : 0, matched: r ? r.matched : [] });
    });
    return out;
  }

  /* The answer to one message (a promise for a query on a split index). */
  function handler(message) {
    switch (message && message.type) {
      case SETUP:
        state.prepared = prepare(message.data.docs, state.base);
        state.options = message.data.options || {};
        state.highlight = !!(message.data.config && message.data.config.highlight);
        state.language = state.pageLanguage || message.data.docs.language || null;
        return { type: READY };
      case QUERY:
        var query = String(message.data);
        var failed = function (err) {
          console.warn("kb search: query failed: " + query, err);
          return { type: RESULT, data: { items: [] } };
        };
        try {
          var data = answer(query);
          if (typeof data.then !== "function") return { type: RESULT, data: data };
          return data.then(function (result) { return { type: RESULT, data: result }; }, failed);
        } catch (err) {
          return failed(err);
        }
      default:
        throw new TypeError("kb search: invalid message type");
    }
  }

  /* Shards of a split index live beside search_index.json; tests and other hosts may say where. */
  function setBase(base) {
    state.base = base;
    if (state.prepared) state.prepared.base = base;
  }

  var api = {
    fold: fold, words: words, stem: stem, osa: osa, typoBudget: typoBudget, analyzerFor: analyzerFor,
    prepare: prepare, search: search, rank: rank, rankAsync: rankAsync, handler: handler,
    features: features, confidence: confidence, assess: assess,
    highlight: highlight, setBase: setBase,
    MessageType: { SETUP: SETUP, READY: READY, QUERY: QUERY, RESULT: RESULT }
  };

  if (typeof module !== "undefined" && module.exports) {
    module.exports = api;
  } else {
    root.kbSearch = api;
    state.page = true;
    // this script is SITE/assets/kb/search/worker.js; a split index's shards are in SITE/search/
    try {
      setBase(new URL("../../../search/", root.location.href).href);
      // the page names the collector's search API in the worker's URL (kb_search_config.html)
      var params = new URL(root.location.href).searchParams;
      state.api = params.get("api") || null;
      state.record = params.get("record") === "1";
      state.pageLanguage = params.get("lang") || null;
    } catch (err) {
      // no usable location (an iframe shim): a split index cannot load, a whole one still works
    }
    // in a worker (or Material's iframe shim for file:// sites): answer the page, one answer per
    // message and in order, even when a split index makes an answer wait for its shards
    var pending = Promise.resolve();
    root.addEventListener("message", function (ev) {
      pending = pending.then(function () { return handler(ev.data); })
        .then(function (reply) { root.postMessage(reply); }, function (err) { console.error(err); });
    });
  }
})(typeof self !== "undefined" ? self : this);
