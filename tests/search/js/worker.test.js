// The search worker speaks Material for MkDocs' protocol: driven here through its message handler.
// Run: node --test tests/js/
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const kb = require(path.join(__dirname, "..", "..", "..", "kb", "assets", "search", "worker.js"));
const { SETUP, READY, QUERY, RESULT } = kb.MessageType;

// The index comes from the real Python builder, as in a built site.
const BUILD = `
import json, sys
from types import SimpleNamespace as A
from kb.search.index import build_index
docs = [
    A(id="reset-password", title="How do I reset my password?", url="account/reset-password/",
      body="Select Sign in, then Forgot password. The link works for an hour.",
      questions=["forgot my password"], tags=["account"], headings=[]),
    A(id="track-order", title="How do I track my parcel?", url="shipping/track-order/",
      body="Open the tracking link in your e-mail.", questions=[], tags=["shipping"], headings=[]),
    A(id="html-title", title="Tags <b> & \\"quotes\\"", url="misc/html-title/",
      body="Writing <b>bold</b> & more in a parcel note.", questions=[], tags=[], headings=[]),
]
json.dump({"config": {"separator": "[\\\\s\\\\-]+"}, "docs": build_index(docs)}, sys.stdout)
`;
const index = JSON.parse(execFileSync(process.env.PYTHON || "python3", ["-c", BUILD],
  { cwd: path.join(__dirname, "..", "..", ".."), encoding: "utf8" }));

function setup() {
  return kb.handler({ type: SETUP, data: { config: index.config, docs: index.docs, options: { suggest: false } } });
}

test("setup answers ready", () => {
  assert.deepEqual(setup(), { type: READY });
});

test("a query answers one result message with Material's item shape", () => {
  setup();
  const answer = kb.handler({ type: QUERY, data: "pasword" });
  assert.equal(answer.type, RESULT);
  const [first] = answer.data.items;
  assert.equal(first.length, 1);
  assert.equal(first[0].location, "account/reset-password/");
  assert.equal(first[0].title, "How do I reset my <mark>password</mark>?");
  assert.deepEqual(first[0].terms, { password: true });
  assert.equal(typeof first[0].score, "number");
});

test("answers come one per query, in order", () => {
  setup();
  const answers = ["trac", "reset password", "", "chocolate cake"].map((q) => kb.handler({ type: QUERY, data: q }));
  assert.deepEqual(answers.map((a) => a.type), [RESULT, RESULT, RESULT, RESULT]);
  assert.equal(answers[0].data.items[0][0].location, "shipping/track-order/");
  assert.equal(answers[1].data.items[0][0].location, "account/reset-password/");
  assert.deepEqual(answers[2].data, { items: [] });
  assert.deepEqual(answers[3].data, { items: [] });
});

test("titles and text are escaped before marks are added", () => {
  setup();
  const [[item]] = kb.handler({ type: QUERY, data: "parcel note" }).data.items.filter((i) => i[0].location === "misc/html-title/");
  assert.equal(item.title, "Tags &lt;b&gt; &amp; &quot;quotes&quot;");
  assert.equal(item.text, "Writing bold &amp; more in a <mark>parcel</mark> <mark>note</mark>.");
});

test("words that match nothing are left out, so Material shows no struck-through 'Missing:' line", () => {
  setup();
  const [[item]] = kb.handler({ type: QUERY, data: "track parcel zebra" }).data.items;
  assert.deepEqual(item.terms, { track: true, parcel: true });
});

test("suggestions are answered when Material asks for them", () => {
  kb.handler({ type: SETUP, data: { config: index.config, docs: index.docs, options: { suggest: true } } });
  assert.deepEqual(kb.handler({ type: QUERY, data: "track" }).data.suggest, []);
});

test("an unknown message type is an error", () => {
  assert.throws(() => kb.handler({ type: 7 }), /invalid message type/);
});

test("an empty index is refused at setup", () => {
  assert.throws(() => kb.handler({ type: SETUP, data: { config: {}, docs: { format: "kb-search/1", docs: [] } } }),
    /index is empty/);
});

test("folding, stems and OSA distance match the Python twins", () => {
  assert.equal(kb.fold("Łódź Żółć Straße"), "lodz zolc strasse");
  assert.equal(kb.stem("deliveries"), "deliver");
  assert.equal(kb.stem("shipping"), "ship");
  assert.equal(kb.osa("parcel", "pracel", 2), 1);
  assert.equal(kb.osa("parcel", "parcle", 2), 1);
  assert.equal(kb.osa("parcel", "pcarel", 1), 2);
});

test("the page is told the words as typed, so it can highlight them with their accents", () => {
  setup();
  const [[item]] = kb.handler({ type: QUERY, data: "Password RESET" }).data.items;
  assert.deepEqual(item.terms, { password: true, reset: true });
});
