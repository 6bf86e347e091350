/*
 * kb search: the Snowball Polish stemmer (snowballstem.org, algorithms/polish.sbl, as shipped in
 * Snowball 3.1.1), written out by hand so the browser stems a query word exactly as
 * snowballstemmer.stemmer("polish").stemWord does in Python; tests/search/test_stem_pl.py holds
 * the two equal on every word of the Polish corpora.
 *
 * Input is one lower-cased word with its diacritics. The algorithm in brief:
 *   - R1 starts after the first consonant that follows the first vowel; most noun endings are
 *     removed only inside R1, so short roots keep their last vowel.
 *   - The first two letters are never touched by a suffix rule (words of 1-2 letters therefore
 *     only get the consonant normalisation below).
 *   - One conditional-mood ending ("-by", "-bym", ...) may go first, then exactly one ending
 *     from the big table (the longest that fits), then an apostrophe left before it.
 *   - If no ending matched, a final ć ń ś ź loses its accent instead.
 * Some rules rewrite rather than cut (-liśmy -> ł, -szę -> s, ć -> c), so a stem is not always
 * a prefix of its word.
 */
(function (root) {
  "use strict";

  var VOWELS = "aąeęioóuy";

  // Suffix rules of the big table. Polish endings overlap a lot, so Snowball takes the longest
  // ending that fits; when that one fails its R1 test, the next shorter one is tried.
  var DELETE = 1;        // cut the ending
  var TO_S = 2;          // "sz" stems: keep the s (noszę -> nos)
  var SZA = 3;           // -szą: a noun/adjective ending inside R1, a verb's "sz" outside it
  var TO_L = 4;          // short past forms of być-like verbs: all map to "ł" (byliśmy -> był)
  var ADJECTIVE = 5;     // cut, then also a participle or comparative suffix below it

  var RULES = new Map();
  var LONGEST = 0;

  function rule(action, inR1, suffixes) {
    suffixes.split(" ").forEach(function (suffix) {
      RULES.set(suffix, { action: action, inR1: inR1 });
      LONGEST = Math.max(LONGEST, suffix.length);
    });
  }

  // Verbs: present tense, infinitives, transgressive, past tense and imperative endings.
  rule(DELETE, false,
    "asz esz isz amy emy imy acie ecie icie ają eść aść ać ieć ić ąć ając ąc " +
    "ałem iałem iłem ałam iałam iłam am ałeś iałeś iłeś ałaś iałaś iłaś ał iał ił " +
    "ała iała iła ało iało iło aliśmy ieliśmy iliśmy ałyśmy iałyśmy iłyśmy " +
    "aliście ieliście iliście ałyście iałyście iłyście ali ieli ili ały iały iły " +
    "aj ajcie cie ę");
  rule(TO_S, false, "szę");
  rule(SZA, false, "szą");
  // Only "ł" is left of one-consonant roots (był, żył), so their past forms meet there.
  rule(TO_L, false, "łeś łaś liśmy łyśmy liście łyście");
  // Adjective and participle case endings.
  rule(ADJECTIVE, false, "y ego iego emu iemu ym im ej iej ych ich ymi imi");
  // Feminine and neuter participles and comparatives: here -a, -ą, -e are safe to cut.
  rule(DELETE, false,
    "ająca ąca iejsza sza ającą ącą iejszą ające ące iejsze sze");
  rule(TO_S, false, "sząca szącą szące");
  // Noun case endings: these letters are too common to cut outside R1.
  rule(DELETE, true,
    "a o i u ia owi iowi ą ią em iem e iu ie ów om iom ami iami ach iach");

  // Left under an adjective ending: participle (czytający) or comparative (piękniejszy) suffix.
  var UNDER_ADJECTIVE = new Map([
    ["ając", ""], ["ąc", ""], ["iejsz", ""], ["sz", ""], ["sząc", "s"]
  ]);

  // Conditional mood (czytałbym, czytalibyście); removed only when wholly inside R1.
  var CONDITIONAL = ["byście", "byśmy", "bym", "byś", "by"];

  // Final consonants with kreska, which most oblique cases lack (miłość -> miłośc, słoń -> słon).
  var UNACCENT = { "ć": "c", "ń": "n", "ś": "s", "ź": "z" };

  // Python counts code points, JavaScript UTF-16 units: step over a surrogate pair as one letter.
  function nextLetter(word, i) {
    var code = word.charCodeAt(i);
    return code >= 0xd800 && code <= 0xdbff && i + 1 < word.length ? i + 2 : i + 1;
  }

  // Start of R1: just past the first non-vowel that follows a vowel (the word's end if none).
  function regionStart(word) {
    var i = 0;
    while (i < word.length && VOWELS.indexOf(word[i]) < 0) i++;
    i++;
    while (i < word.length && VOWELS.indexOf(word[i]) >= 0) i++;
    return i < word.length ? nextLetter(word, i) : word.length;
  }

  // The longest ending of word[floor..] found in table whose R1 condition holds, or "".
  function longestEnding(word, floor, table, r1) {
    for (var n = Math.min(LONGEST, word.length - floor); n > 0; n--) {
      var suffix = word.slice(word.length - n);
      var found = table.get(suffix);
      if (found !== undefined && (!found.inR1 || word.length - n >= r1)) return suffix;
    }
    return "";
  }

  function stem(word) {
    var r1 = regionStart(word);
    // Suffix rules never reach into the first two letters.
    var floor = word.length ? nextLetter(word, 0) : 0;
    if (floor < word.length) floor = nextLetter(word, floor);
    else floor = -1;

    if (floor >= 0) {
      // Conditional mood first, wholly inside R1; this cut stands even if nothing else matches.
      for (var c = 0; c < CONDITIONAL.length; c++) {
        var by = CONDITIONAL[c];
        if (word.endsWith(by) && word.length - by.length >= r1) {
          word = word.slice(0, word.length - by.length);
          break;
        }
      }

      var ending = longestEnding(word, floor, RULES, r1);
      if (ending) {
        var rest = word.slice(0, word.length - ending.length);
        var added = "";
        switch (RULES.get(ending).action) {
          case TO_S: added = "s"; break;
          case SZA: added = rest.length >= r1 ? "" : "s"; break;
          case TO_L: added = "ł"; break;
          case ADJECTIVE:
            for (var n = Math.min(5, rest.length - floor); n > 1; n--) {
              var under = rest.slice(rest.length - n);
              if (UNDER_ADJECTIVE.has(under)) {
                rest = rest.slice(0, rest.length - n);
                added = UNDER_ADJECTIVE.get(under);
                break;
              }
            }
            break;
        }
        // An apostrophe joining a foreign word to its ending (iPhone'a) goes with the ending;
        // Snowball looks for it just before the cut, i.e. before any letter put back.
        if (rest.length > floor && rest[rest.length - 1] === "'") rest = rest.slice(0, -1);
        return rest + added;
      }
    }

    // No ending matched: drop the accent of a final consonant, but leave one-letter words alone.
    var last = word[word.length - 1];
    if (word.length > 1 && UNACCENT[last] !== undefined)
      return word.slice(0, -1) + UNACCENT[last];
    return word;
  }

  var api = { stem: stem };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.kbStemPl = api;
})(typeof self !== "undefined" ? self : this);
