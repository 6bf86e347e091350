// The results read like answers: a short list, "maybe" results when none is a good answer, the
// customer's own words marked, a sentence under the section that holds them.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const kb = require(path.join(__dirname, "..", "..", "..", "kb", "assets", "search", "worker.js"));
const { SETUP, QUERY } = kb.MessageType;

// A small help center from the real Python builder; "money" is a synonym of "refund".
const BUILD = `
import json, sys
from types import SimpleNamespace as A
from kb.search.index import build_index
def art(id, title, body):
    return A(id=id, title=title, url=id + "/", body=body, questions=[], tags=[], headings=[])
docs = [
    art("refund-timing", "When do I get my refund?",
        "Refunds reach your card in 5 days.\\n\\n## Still missing?\\n\\nAsk your bank for the refund first. Then write to us."),
    art("money-back", "Money back for a faulty item", "We send the money back for an item that does not work."),
    art("delivery", "How long does delivery take?", "Delivery takes 2 to 4 days for a parcel."),
] + [art(f"note-{n}", f"Note {n} about parcels", "A parcel note " * (n + 1)) for n in range(12)]
json.dump({"docs": build_index(docs, {"refund": ["money"]})}, sys.stdout)
`;
const built = JSON.parse(execFileSync(process.env.PYTHON || "python3", ["-c", BUILD],
  { cwd: path.join(__dirname, "..", "..", ".."), encoding: "utf8" }));

function ask(query, docs) {
  kb.handler({ type: SETUP, data: { config: {}, docs: docs || built.docs, options: {} } });
  return kb.handler({ type: QUERY, data: query }).data.items;
}

test("the index ships the model the worker decides with", () => {
  assert.deepEqual(Object.keys(built.docs.confidence).sort(), ["cut", "threshold", "weights"]);
  const p = kb.prepare(built.docs);
  const sure = kb.assess(p, "when do i get my refund");
  assert.equal(sure.id, "refund-timing");
  assert.ok(sure.confident && sure.confidence >= built.docs.confidence.threshold);
  const unsure = kb.assess(p, "do you sell bicycles for children with a parcel");
  assert.ok(!unsure.confident && unsure.confidence < built.docs.confidence.threshold);
});

test("no good answer leaves at most three results, as 'maybe'", () => {
  const p = kb.prepare(built.docs);
  const query = "bicycles parcel";  // one word a dozen notes share, one no article has
  assert.ok(kb.rank(p, query, 20, true).results.length > 3);
  assert.equal(kb.assess(p, query).confident, false);
  assert.equal(ask(query).length, 3);
});

test("the list stops where results score under the model's cut of the top score", () => {
  const p = kb.prepare(built.docs);
  const ranked = kb.rank(p, "when do i get my refund", 20, true).results;
  const items = ask("when do i get my refund");
  const kept = ranked.filter((r) => r.score >= ranked[0].score * built.docs.confidence.cut);
  assert.ok(kept.length < ranked.length);
  assert.equal(items.length, kept.length);
});

test("an index without a model shows every result, as before models shipped", () => {
  const old = Object.assign({}, built.docs);
  delete old.confidence;
  const p = kb.prepare(old);
  assert.equal(ask("parcel", old).length, kb.rank(p, "parcel", 20, true).results.length);
});

test("only the customer's own words are marked: not the synonym that matched, not function words", () => {
  const items = ask("how do i get a refund for a faulty item");
  const money = items.find((item) => item[0].location.startsWith("money-back/"));
  assert.ok(money, "the synonym still finds the article");
  assert.equal(money[0].title, "Money back for a <mark>faulty</mark> <mark>item</mark>");
  const timing = items.find((item) => item[0].location.startsWith("refund-timing/"));
  assert.equal(timing[0].title, "When do I get my <mark>refund</mark>?");
  assert.ok(!/\?h=[^&#]*(how|get|for)\b/.test(timing[0].location), timing[0].location);
});

test("the section that holds the customer's words shows the sentence that answers", () => {
  const [first] = ask("refund still missing");
  assert.equal(first.length, 2);
  assert.equal(first[1].location, "refund-timing/#still-missing");
  assert.equal(first[1].title, "<mark>Still</mark> <mark>missing</mark>?");
  assert.equal(first[1].text, "<p>Ask your bank for the <mark>refund</mark> first.</p>");
});
