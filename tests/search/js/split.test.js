// A split index (large help centers): the worker fetches only the shards a query needs, over HTTP.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const kb = require(path.join(__dirname, "..", "..", "..", "kb", "assets", "search", "worker.js"));
const { SETUP, READY, QUERY, RESULT } = kb.MessageType;

// 60 articles, written by the real writer with a threshold of 0 so that it always splits
const WRITE = `
import sys
from pathlib import Path
from types import SimpleNamespace as A
import kb.search.index as S
S.SHARD_BYTES, S.DOC_CHUNK = 200, 7
topics = ["parcel", "refund", "password", "invoice", "voucher", "jacket"]
docs = [A(id=f"a{n}", title=f"About the {topics[n % 6]} number {n}", url=f"a{n}/",
          body=f"Text {n} on the {topics[n % 6]}.", questions=[], tags=[], headings=[]) for n in range(60)]
S.write_index(S.build_index(docs), Path(sys.argv[1]), split_at=0)
`;

test("a split index answers from fetched shards, in order, and fetches each shard once", async (t) => {
  const site = fs.mkdtempSync(path.join(os.tmpdir(), "kb-split-"));
  execFileSync(process.env.PYTHON || "python3", ["-c", WRITE, site], { cwd: path.join(__dirname, "..", "..", "..") });
  const folder = path.join(site, "search");
  const requested = [];
  const server = http.createServer((req, res) => {
    requested.push(req.url);
    const file = path.join(folder, path.basename(req.url));
    if (!fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(fs.readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());

  const head = JSON.parse(fs.readFileSync(path.join(folder, "search_index.json"), "utf8"));
  assert.ok(head.docs.split.postings_files.length > 3);
  kb.setBase(`http://127.0.0.1:${server.address().port}/search/`);
  assert.deepEqual(kb.handler({ type: SETUP, data: { config: head.config, docs: head.docs, options: {} } }), { type: READY });

  const answers = await Promise.all(["refund number 13", "jackte 17", "zebra"].map((q) => kb.handler({ type: QUERY, data: q })));
  assert.deepEqual(answers.map((a) => a.type), [RESULT, RESULT, RESULT]);
  assert.equal(answers[0].data.items[0][0].location, "a13/");
  assert.equal(answers[0].data.items[0][0].title, "About the <mark>refund</mark> <mark>number</mark> <mark>13</mark>");
  assert.equal(answers[1].data.items[0][0].location, "a17/");
  assert.deepEqual(answers[2].data, { items: [] });
  const fetched = requested.length;
  assert.ok(fetched < head.docs.split.postings_files.length + head.docs.split.docs_files.length);
  assert.equal(new Set(requested).size, fetched);

  await kb.handler({ type: QUERY, data: "refund number 13" });
  assert.equal(requested.length, fetched);  // cached
});
