// The search results say when none is a good answer. The worker (kb/assets/search/worker.js)
// tells this page, over a channel of the page's language, whether the top result for a query is
// a good answer; when it is not, or nothing was found, a notice above the results offers the
// contact channels first (the feedback sender carries the query into them, as it does on
// articles), then the few results the worker left as "maybe". The results' element is marked
// (data-kb-answer="none", data-kb-recorded when the collector answered, and so recorded, the
// query) so the feedback sender records the failed search once.
(function () {
  var settings = {};
  try {
    settings = JSON.parse(document.getElementById("kb-search-config").textContent) || {};
  } catch (e) { return; }
  var texts = settings.texts || {};
  var channels = Array.isArray(settings.contact) ? settings.contact : [];
  var latest = null;
  var pending = null;
  var SETTLE_MS = 300;  // the notice waits for a pause in typing: half-typed words flicker no notice

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function notice(found) {
    var list = el("ul", { class: "kb-no-answer__channels" });
    channels.forEach(function (ch) {
      var item = el("li", {}, [el("a", { href: String(ch.url || ""), "data-kb-channel": String(ch.name || ""),
                                         text: String(ch.name || "") })]);
      if (ch.hours) item.appendChild(el("span", { class: "kb-no-answer__hours", text: " " + ch.hours }));
      list.appendChild(item);
    });
    return el("div", { class: "kb-no-answer", role: "status" }, [
      el("p", { class: "kb-no-answer__title", text: found ? texts.no_answer : texts.no_results }),
      found && channels.length ? el("p", { text: texts.contact }) : null,
      channels.length ? list : null,
      found ? el("p", { class: "kb-no-answer__maybe", text: texts.maybe }) : null
    ]);
  }

  function show() {
    var input = document.querySelector("[data-md-component=search-query]");
    var box = document.querySelector(".md-search-result");
    if (!input || !box) return;
    var query = input.value;
    var current = latest && latest.query === query && query.trim() ? latest : null;
    var old = box.querySelector(".kb-no-answer");
    var none = !!current && !current.answered;
    if (none) box.setAttribute("data-kb-answer", "none"); else box.removeAttribute("data-kb-answer");
    if (current && current.source === "collector") box.setAttribute("data-kb-recorded", "");
    else box.removeAttribute("data-kb-recorded");
    var key = none ? current.query + "\n" + (current.results > 0) : null;
    if (old && old.getAttribute("data-kb-for") === key) return;
    if (old) old.remove();
    if (pending) { clearTimeout(pending); pending = null; }
    if (!none) return;
    pending = setTimeout(function () {
      pending = null;
      if (box.querySelector(".kb-no-answer") || !latest || latest.query !== input.value || latest.answered) return;
      var block = notice(current.results > 0);
      block.setAttribute("data-kb-for", key);
      box.insertBefore(block, box.querySelector(".md-search-result__list"));
    }, SETTLE_MS);
  }

  if (typeof BroadcastChannel === "undefined" || !settings.language) return;
  new BroadcastChannel("kb-search:" + settings.language).addEventListener("message", function (ev) {
    latest = ev.data;
    show();
  });
  document.addEventListener("input", function (ev) {
    if (ev.target && ev.target.matches && ev.target.matches("[data-md-component=search-query]")) show();
  });
})();

// The search dialog for keyboards and screen readers: it has a name (Material's has none), and once
// the customer has typed, Tab moves between its box, its results and the contact channels instead
// of leaving it for the page behind (Material closes it on Tab); Escape still closes it. When they
// typed in the home page's big box (a desktop's results open under the header), that box is the
// dialog's box for Tab (kb.css keeps the closed search's results area out of the Tab order).
(function () {
  var label = "";
  try {
    label = (JSON.parse(document.getElementById("kb-search-config").textContent).texts || {}).label || "";
  } catch (e) { /* no settings: Material's dialog as it is */ }
  function name() {
    var dialog = document.querySelector(".md-search[role=dialog]");
    if (dialog && label && !dialog.hasAttribute("aria-label")) dialog.setAttribute("aria-label", label);
  }
  name();
  if (window.document$ && typeof window.document$.subscribe === "function") window.document$.subscribe(name);
  var heroTyped = false;  // the customer's last typing went to the home page's big box
  document.addEventListener("input", function (event) {
    if (!event.isTrusted || !event.target.closest) return;  // (the big box copies itself into Material's)
    if (event.target.closest("[data-kb-search-input]")) heroTyped = true;
    else if (event.target.matches("[data-md-component=search-query]")) heroTyped = false;
  }, true);
  document.addEventListener("keydown", function (event) {
    var toggle = document.querySelector("[data-md-toggle=search]");
    var dialog = document.querySelector(".md-search__inner");
    var input = document.querySelector("[data-md-component=search-query]");
    var hero = heroTyped && window.matchMedia("(min-width: 60em)").matches
      ? document.querySelector("[data-kb-search-input]") : null;
    var active = document.activeElement;
    if (!toggle || !toggle.checked || !dialog) return;
    if (!dialog.contains(active) && !(hero && active === hero)) return;
    // Material hands any other key to its box, Shift too: Shift+Tab would start from there
    if (/^(Shift|Control|Alt|Meta)$/.test(event.key) && active !== input) {
      event.stopPropagation();
      return;
    }
    if (event.key !== "Tab") return;
    if (!input || !input.value.trim()) return;  // nothing asked yet: Tab walks on through the page
    var stops = Array.prototype.filter.call(dialog.querySelectorAll(
      "input, button, .kb-no-answer a[href], .md-search-result__link, details[open] .md-search-result__link"),
      function (node) { return node.getClientRects().length > 0 && !node.disabled; });
    if (hero && hero.getClientRects().length) {
      // (its box replaces Material's, whose clear button would empty the other box)
      stops = stops.filter(function (node) { return node !== input && node.type !== "reset"; });
      stops.unshift(hero);
    }
    if (!stops.length) return;
    var at = stops.indexOf(document.activeElement);
    var next = stops[(at + (event.shiftKey ? -1 : 1) + stops.length) % stops.length];
    event.preventDefault();
    event.stopPropagation();  // before Material's own Tab handling, which closes the dialog
    next.focus();
  }, true);
})();

// The home page's big search box is where the customer types: what they type goes to Material's
// search (whose results open under the header) and stays in the box they chose.
(function () {
  function searchInput() { return document.querySelector("[data-md-component=search-query]"); }
  function openSearch() {
    var toggle = document.querySelector("[data-md-toggle=search]");
    if (toggle && !toggle.checked) {
      toggle.checked = true;
      toggle.dispatchEvent(new Event("change"));
    }
  }
  document.addEventListener("input", function (event) {
    var hero = event.target.closest && event.target.closest("[data-kb-search-input]");
    var input = searchInput();
    if (!hero || !input) return;
    input.value = hero.value;
    // Material reads the query on keyup
    input.dispatchEvent(new KeyboardEvent("keyup", { bubbles: true }));
    input.dispatchEvent(new Event("input", { bubbles: true }));
    openSearch();
    // a phone's search covers the page: the typing goes on in its box (a keyboard reached this one)
    if (!window.matchMedia("(min-width: 60em)").matches) input.focus();
  });
  // While the search is open, Material hands every key to its own box: keep the typing here
  // (arrows still move into the results, Escape still closes them).
  document.addEventListener("keydown", function (event) {
    if (!event.target.closest || !event.target.closest("[data-kb-search-input]")) return;
    if (["ArrowUp", "ArrowDown", "Escape"].indexOf(event.key) < 0) event.stopPropagation();
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.closest && event.target.closest("[data-kb-search-input]") && event.target.value) openSearch();
  });
  // Enter opens the first result, as in Material's own box
  document.addEventListener("submit", function (event) {
    if (!event.target.matches || !event.target.matches("[data-kb-search-form]")) return;
    event.preventDefault();
    var first = document.querySelector(".md-search-result__list .md-search-result__link");
    if (first) first.click();
  });
  // phones and tablets show Material's search as a full-screen overlay: move there, with the text
  document.addEventListener("click", function (event) {
    var hero = event.target.closest && event.target.closest("[data-kb-search-input]");
    if (!hero || window.matchMedia("(min-width: 60em)").matches) return;
    var input = searchInput();
    if (!input) return;
    input.value = hero.value;
    openSearch();
    input.focus();
  });
})();

// The language menu leads to this page's translation: the page's <meta name="kb:alternate"> say
// where; Material's instant navigation swaps the head's tags but not the header.
(function () {
  function follow() {
    document.querySelectorAll(".md-select__link[hreflang]").forEach(function (link) {
      var alt = document.head.querySelector('meta[name="kb:alternate"][data-hreflang="' +
                                             link.getAttribute("hreflang") + '"]');
      if (alt) link.href = new URL(alt.getAttribute("content"), location.href).href;
    });
  }
  if (window.document$ && typeof window.document$.subscribe === "function") window.document$.subscribe(follow);
  else document.addEventListener("DOMContentLoaded", follow);
})();

// A theme's colour-scheme switch with a single scheme is a radio button hidden from screen readers
// (aria-hidden) that still takes the keyboard's focus: keep it out of the tab order too.
(function () {
  function untab() {
    document.querySelectorAll('input.md-option[aria-hidden="true"]').forEach(function (input) { input.tabIndex = -1; });
  }
  if (window.document$ && typeof window.document$.subscribe === "function") window.document$.subscribe(untab);
  else untab();
})();
