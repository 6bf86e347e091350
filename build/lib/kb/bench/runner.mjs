// Runs one search engine over a prepared work dir and prints its rankings and timings as JSON.
//
//   node runner.mjs ENGINE WORKDIR
//
// WORKDIR holds docs.json ([{id, title, url, questions, tags, headings, text}]),
// queries.json ({"clean": [..], "typos": [..]}), picks.json ({ENGINE: [query numbers]} for
// engines run on a sample), and for `kb` the index built by kb.search (kb/search/search_index.json)
// and for `pagefind` the site pagefind indexed (pagefind/).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const [engine, work] = process.argv.slice(2);
const docs = JSON.parse(readFileSync(join(work, "docs.json"), "utf8"));
const queries = JSON.parse(readFileSync(join(work, "queries.json"), "utf8"));
const picks = JSON.parse(readFileSync(join(work, "picks.json"), "utf8"))[engine] ?? null;
const LIMIT = 10;
const gz = (text) => gzipSync(Buffer.from(text)).length;
const fullText = (d) => [...d.questions, d.text].join("\n");

async function setup(name) {
  switch (name) {
    case "kb": {
      const kb = require(join(here, "..", "assets", "search", "worker.js"));
      const folder = join(work, "kb", "search");
      const raw = readFileSync(join(folder, "search_index.json"), "utf8");
      const index = JSON.parse(raw).docs;
      let bytes = gz(raw);
      if (index.split) {
        // a split index: a browser fetches shards as queries need them; here all are joined
        // up front (their bytes all counted) so that the timings are of the ranking alone
        const read = (name) => { const text = readFileSync(join(folder, name), "utf8"); bytes += gz(text); return JSON.parse(text); };
        index.postings = index.split.postings_files.flatMap(read);
        index.docs = index.split.docs_files.flatMap(read);
        delete index.split;
      }
      const p = kb.prepare(index);
      return { bytes, search: (q) => kb.search(p, q, LIMIT).map((h) => h.id) };
    }
    case "lunr": {
      // As Material 9.x ships it: fields title (boost 1e3), text, tags (1e6); b(0); only the
      // stop word filter in the pipeline (no stemmer, no trimmer); OR; trailing wildcard.
      const lunr = require("lunr");
      lunr.tokenizer.separator = /[\s\-]+/;
      const index = lunr(function () {
        this.b(0);
        this.pipeline.remove(lunr.stemmer); this.searchPipeline.remove(lunr.stemmer);
        this.pipeline.remove(lunr.trimmer); this.searchPipeline.remove(lunr.trimmer);
        this.ref("id");
        this.field("title", { boost: 1e3 });
        this.field("text", { boost: 1 });
        this.field("tags", { boost: 1e6 });
        for (const d of docs) this.add({ id: d.id, title: d.title, text: fullText(d), tags: d.tags.join(" ") });
      });
      // The browser downloads Material's search_index.json and builds lunr from it on each load.
      const shipped = JSON.stringify({
        config: { lang: ["en"], separator: "[\\s\\-]+", pipeline: ["stopWordFilter"], fields: {} },
        docs: docs.map((d) => ({ location: d.url, title: d.title, text: fullText(d), tags: d.tags })),
      });
      return {
        bytes: gz(shipped),
        search: (q) => {
          const terms = q.toLowerCase().split(/[\s\-]+/)
            .map((t) => t.replace(/[:~^+*\\"]/g, "")).filter(Boolean).map((t) => t + "*");
          if (!terms.length) return [];
          try {
            return index.search(terms.join(" ")).slice(0, LIMIT).map((r) => r.ref);
          } catch { return []; }
        },
      };
    }
    case "minisearch": {
      const MiniSearch = require("minisearch");
      const ms = new MiniSearch({
        fields: ["title", "questions", "text", "tags"], storeFields: [], idField: "id",
        searchOptions: { fuzzy: 0.2, prefix: true, combineWith: "OR", boost: { title: 2 } },
      });
      ms.addAll(docs.map((d) => ({ id: d.id, title: d.title, questions: d.questions.join("\n"),
        text: d.text, tags: d.tags.join(" ") })));
      return { bytes: gz(JSON.stringify(ms)), search: (q) => ms.search(q).slice(0, LIMIT).map((r) => r.id) };
    }
    case "fuse": {
      const Fuse = require("fuse.js");
      const list = docs.map((d) => ({ id: d.id, title: d.title, questions: d.questions, text: d.text }));
      const keys = ["title", "questions", "text"];
      const fuse = new Fuse(list, { keys, threshold: 0.4, ignoreLocation: true });
      const serial = JSON.stringify({ docs: list, index: Fuse.createIndex(keys, list).toJSON() });
      return { bytes: gz(serial), search: (q) => fuse.search(q, { limit: LIMIT }).map((r) => r.item.id) };
    }
    case "flexsearch": {
      const { Document } = require("flexsearch");
      const index = new Document({
        tokenize: "forward", resolution: 9,
        document: { id: "id", index: ["title", "questions", "text"] },
      });
      for (const d of docs) index.add({ id: d.id, title: d.title, questions: d.questions.join("\n"), text: d.text });
      let serial = "";
      await index.export((key, data) => { serial += key + (data ?? ""); });
      return {
        bytes: gz(serial),
        search: (q) => {
          // merge field results: first appearance in title, then questions, then text order
          const seen = new Set(), out = [];
          const fields = index.search(q, { limit: LIMIT, suggest: true });
          for (let rank = 0; rank < LIMIT; rank++)
            for (const f of ["title", "questions", "text"]) {
              const r = fields.find((x) => x.field === f);
              const id = r && r.result[rank];
              if (id !== undefined && !seen.has(id)) { seen.add(id); out.push(id); }
            }
          return out.slice(0, LIMIT);
        },
      };
    }
    case "orama": {
      const { create, insertMultiple, search, save } = await import("@orama/orama");
      const db = await create({ schema: { id: "string", title: "string", questions: "string", text: "string" } });
      await insertMultiple(db, docs.map((d) => ({ id: d.id, title: d.title, questions: d.questions.join("\n"), text: d.text })));
      const serial = JSON.stringify(await save(db));
      return {
        bytes: gz(serial),
        search: (q) => {
          const r = search(db, { term: q, tolerance: 1, limit: LIMIT, properties: ["title", "questions", "text"] });
          return r.hits.map((h) => h.document.id);
        },
      };
    }
    case "pagefind": {
      // The real bundle `pagefind --site` wrote, loaded as a browser would (fetch -> files).
      const dir = join(work, "pagefind", "pagefind");
      const realFetch = globalThis.fetch;
      globalThis.fetch = async (url) => {
        const u = new URL(String(url), pathToFileURL(dir + "/"));
        if (u.protocol !== "file:") return realFetch(url);
        return new Response(readFileSync(fileURLToPath(u)));
      };
      globalThis.window = globalThis; globalThis.location = new URL(pathToFileURL(dir + "/"));
      const pf = await import(pathToFileURL(join(dir, "pagefind.js")).href);
      await pf.options({ basePath: pathToFileURL(dir + "/").href, excerptLength: 0 });
      await pf.init();
      // bytes a browser downloads for search (already compressed on disk): all but fragments
      let bytes = 0;
      const walk = (p) => {
        for (const name of readdirSync(p)) {
          const full = join(p, name);
          if (statSync(full).isDirectory()) { if (name !== "fragment") walk(full); }
          else bytes += name.endsWith(".js") || name.endsWith(".css") || name.endsWith(".json")
            ? gz(readFileSync(full)) : statSync(full).size;
        }
      };
      walk(dir);
      return {
        bytes,
        search: async (q) => {
          const start = performance.now();
          const r = await pf.search(q);
          const ms = performance.now() - start;  // the ranking; loading fragments is not timed
          const out = [];
          for (const hit of r.results.slice(0, LIMIT)) {
            const data = await hit.data();
            const m = /([^/]+)\/(index\.html)?$/.exec(data.url);  // pages are ID/index.html
            out.push(m ? decodeURIComponent(m[1]) : data.url);
          }
          return { ids: out, ms };
        },
      };
    }
    default:
      throw new Error(`unknown engine ${name}`);
  }
}

const t0 = performance.now();
const e = await setup(engine);
const buildMs = performance.now() - t0;
// Warm-up, the same for every engine: the first queries of a page also pay for JIT compilation.
const WARMUP = 20;
for (const q of Object.values(queries)[0].slice(0, WARMUP)) {
  const ids = e.search(q);
  if (ids && typeof ids.then === "function") await ids;
}
const out = { engine, build_ms: buildMs, index_gzip_bytes: e.bytes, runs: {} };
for (const [variant, list] of Object.entries(queries)) {
  const numbers = picks ?? list.map((_, i) => i);
  const ranks = [], times = [];
  for (const i of numbers) {
    const start = performance.now();
    let ids = e.search(list[i]);
    let ms = performance.now() - start;
    if (ids && typeof ids.then === "function") ({ ids, ms } = await ids);
    times.push(ms);
    ranks.push(ids);
  }
  out.runs[variant] = { numbers, ranks, times };
}
process.stdout.write(JSON.stringify(out));
