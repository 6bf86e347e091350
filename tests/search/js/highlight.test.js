// The page's highlighter (kb/assets/highlight.js): whole words only, by the matched terms' start.
// Run: node --test tests/search/js/
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..", "..", "..");
const hl = require(path.join(root, "kb", "assets", "highlight.js"));
const kb = require(path.join(root, "kb", "assets", "search", "worker.js"));

function marked(text, h) {
  return hl.matches(text, hl.termsOf(h)).map(([a, b]) => text.slice(a, b));
}

test("never letters inside a word, never one- or two-letter words", () => {
  // what the worker links a result for "how do i get a refund" with: its matched terms
  const text = "Was this helpful? With a refund, I get my money back; refunds take 5 days. Budget.";
  assert.deepEqual(marked(text, "how do i get a refund"), ["refund", "get", "refunds"]);
  assert.deepEqual(marked(text, "a i"), []);
});

test("Polish words are marked by their stem's start, with or without Polish letters", () => {
  const text = "Zmiana hasła: nowe hasło musi różnić się od starych haseł. Hasłownik nie.";
  assert.deepEqual(marked(text, "hasl"), ["hasła", "hasło", "Hasłownik"]);
  assert.deepEqual(marked(text, "roznic"), ["różnić"]);
});

test("the page folds words with the search worker's own fold", () => {
  // one function, kb/assets/search/fold.js (tests/search/test_fold.py holds it equal to Python's)
  assert.equal(hl.fold, kb.fold);
  assert.equal(hl.fold("Hasła, ŁÓDŹ i Straße"), "hasla, lodz i strasse");
});
