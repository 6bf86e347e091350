// The header's search dialog where the theme's own search is off (Zensical: kb/assets/zensical/
// partials/search.html). It speaks the worker protocol Material's page script speaks (setup with
// the index, then one query per keystroke; kb/assets/search/worker.js answers) and shows the
// results in Material's markup, so kb.js adds the "no good answer" notice and the keyboard's
// path through the dialog as it does on Material. The header's toggle (#__search) opens it.
(function () {
  var SETUP = 0, READY = 1, QUERY = 2, RESULT = 3;
  var dialog = document.querySelector("[data-kb-search]");
  var toggle = document.querySelector("[data-md-toggle=search]");
  if (!dialog || !toggle) return;
  var input = dialog.querySelector("[data-md-component=search-query]");
  var box = dialog.querySelector("[data-kb-search-result]");
  var meta = box.querySelector(".md-search-result__meta");
  var list = box.querySelector(".md-search-result__list");
  var config = {};
  try { config = JSON.parse(document.getElementById("__config").textContent); } catch (e) { return; }
  var t = config.translations || {};
  var base = new URL(config.base || ".", location.href);
  var worker = null, ready = false, asked = null;

  function start() {
    if (worker) return;
    worker = new Worker(new URL(config.search, location.href));
    worker.addEventListener("message", function (ev) {
      var message = ev.data || {};
      if (message.type === READY) {
        ready = true;
        if (input.value) ask();
      } else if (message.type === RESULT && asked === input.value) {
        show(message.data && message.data.items || []);
      }
    });
    fetch(new URL("search/search_index.json", base.href.replace(/\/?$/, "/")))
      .then(function (response) { return response.json(); })
      .then(function (index) { worker.postMessage({ type: SETUP, data: index }); })
      .catch(function (err) { console.warn("kb search: the index did not load", err); });
  }

  function ask() {
    asked = input.value;
    if (!asked.trim()) { show(null); return; }
    if (ready) worker.postMessage({ type: QUERY, data: asked });
  }

  function count(n) {
    if (n === 0) return t["search.result.none"] || "";
    if (n === 1) return t["search.result.one"] || "";
    return String(t["search.result.other"] || "").replace("#", String(n));
  }

  function link(doc, nested) {
    var url = new URL(doc.location, base.href.replace(/\/?$/, "/"));
    var a = document.createElement("a");
    a.className = "md-search-result__link";
    a.href = url.href;
    a.tabIndex = -1;
    var article = document.createElement("article");
    article.className = "md-search-result__article md-typeset" + (nested ? "" : " md-search-result__article--document");
    var title = document.createElement(nested ? "h2" : "h1");
    title.innerHTML = doc.title;  // the worker's text, its marks included, escaped there
    article.appendChild(title);
    if (doc.text) {
      var text = document.createElement("p");
      text.innerHTML = doc.text;
      article.appendChild(text);
    }
    a.appendChild(article);
    return a;
  }

  function show(items) {
    list.textContent = "";
    if (items === null) { meta.textContent = t["search.result.placeholder"] || ""; return; }
    meta.textContent = count(items.length);
    items.forEach(function (group) {
      var li = document.createElement("li");
      li.className = "md-search-result__item";
      li.appendChild(link(group[0], false));
      group.slice(1).forEach(function (section) { li.appendChild(link(section, true)); });
      list.appendChild(li);
    });
  }

  function open(on) {
    if (toggle.checked !== on) {
      toggle.checked = on;
      toggle.dispatchEvent(new Event("change"));
    }
  }

  toggle.addEventListener("change", function () {
    if (!toggle.checked) return;
    start();
    if (!document.activeElement || !document.activeElement.closest("[data-kb-search-input]")) {
      setTimeout(function () { input.focus(); }, 0);
    }
  });
  input.addEventListener("focus", function () { open(true); });  // a wide screen's box in the header
  input.addEventListener("input", function () { start(); ask(); });
  input.addEventListener("keyup", function () { if (asked !== input.value) { start(); ask(); } });
  dialog.querySelector("form").addEventListener("reset", function () {
    setTimeout(function () { ask(); input.focus(); }, 0);
  });
  dialog.querySelector("form").addEventListener("submit", function (event) {
    event.preventDefault();
    var first = list.querySelector(".md-search-result__link");
    if (first) first.click();
  });
  document.addEventListener("keydown", function (event) {
    if (!toggle.checked) {
      // "/" or "s" opens the search, as in Material, unless the customer is typing somewhere
      var typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
      if (!typing && (event.key === "/" || event.key === "s" || event.key === "S") && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        open(true);
      }
      return;
    }
    if (event.key === "Escape") {
      open(false);
      input.blur();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    var links = Array.prototype.slice.call(list.querySelectorAll(".md-search-result__link"));
    if (!links.length) return;
    var at = links.indexOf(document.activeElement);
    var next = event.key === "ArrowDown" ? Math.min(at + 1, links.length - 1) : at - 1;
    event.preventDefault();
    if (next < 0) input.focus(); else links[next].focus();
  });
})();
