/* kb feedback sender: Material's "Was this helpful?" form -> a local queue -> the kb collector.
 *
 * Every vote gets a random id and is written to localStorage before anything is sent, so it
 * survives leaving the page, a flaky network and a collector that is down. It leaves the queue
 * only when the collector answers 2xx, or 422 (it understood the vote and refused it for good).
 * Everything else a misconfiguration or an outage can cause (403 from a proxy, 404/405 from a
 * static host without a collector, 413, 5xx, network errors) keeps it queued (at most
 * MAX_QUEUE items, MAX_AGE old) and retries with exponential backoff. A comment too long in
 * bytes for the collector's body limit is cut (by whole characters) so the vote still fits. A "No" waits in the queue while the customer picks a reason; it is
 * sent when they send or skip, when the page is hidden, or when they navigate away, so the
 * vote counts from the moment of the click. Nothing here may break reading: every entry point
 * catches its own errors.
 */
(function () {
  "use strict";
  if (window.__kbFeedback) return;
  window.__kbFeedback = true;

  var QUEUE_KEY = "kb:queue";
  var SEARCH_KEY = "kb:last-search";
  var MAX_QUEUE = 100;
  var MAX_AGE = 30 * 24 * 3600 * 1000;
  var RETRY_FIRST = 2000;             // ms before the first retry; doubles each time
  var RETRY_MAX = 10 * 60 * 1000;     // at most this long between retries
  var DEFAULTS = {
    reasons_title: "What went wrong?",
    reasons: {
      not_answered: "It didn't answer my question",
      unclear: "It was hard to follow",
      outdated: "It's out of date or wrong",
      incomplete: "Something is missing or a link is broken"
    },
    comment_label: "Anything else we should know? (optional)",
    comment_counter: "{count} / {max}",
    comment_limit: "You have reached {max} characters.",
    send: "Send",
    skip: "Skip",
    thanks: "Thank you! This helps us fix the article.",
    contact_title: "Still need help? Talk to a person:",
    mail_article: "Article:",
    mail_search: "Last search:"
  };

  var settings = {};
  try {
    settings = JSON.parse(document.getElementById("kb-feedback-config").textContent) || {};
  } catch (e) { settings = {}; }
  var texts = {};
  var configured = settings.texts || {};
  Object.keys(DEFAULTS).forEach(function (key) {
    texts[key] = configured[key] != null ? configured[key] : DEFAULTS[key];
  });
  texts.reasons = Object.assign({}, DEFAULTS.reasons, configured.reasons || {});
  var collector = String(settings.collector || "").replace(/\/+$/, "");
  // The reasons and the comment limit are the collector's own, written into the page at build time.
  var REASONS = Array.isArray(settings.reasons) ? settings.reasons : [];
  var MAX_COMMENT = settings.max_comment;
  // The page's language (its help center's), carried by every vote, search and contact.
  var LANGUAGE = typeof settings.language === "string" && settings.language ? settings.language : null;
  // The collector's body limit (kb.votes.schema.MAX_BODY), written into the page at build time.
  var MAX_BODY = settings.max_body;
  // One token per page view: votes held for a reason on *this* view wait; any other view's
  // held votes (a tab that crashed, a page left without pagehide) are sent as they are.
  var pageToken = uuid();

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : null;
  }

  // --- the queue ------------------------------------------------------------------------
  function load() {
    try {
      var q = JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]");
      return Array.isArray(q) ? q : [];
    } catch (e) { return []; }
  }

  function save(q) {
    var now = Date.now();
    q = q.filter(function (item) { return item && now - (item.at || 0) < MAX_AGE; }).slice(-MAX_QUEUE);
    try { localStorage.setItem(QUEUE_KEY, JSON.stringify(q)); } catch (e) { /* private mode: send only */ }
  }

  function idOf(item) { return item.body.vote_id || item.body.event_id; }

  function enqueue(kind, body, hold) {
    var q = load();
    q.push({ kind: kind, body: body, at: Date.now(), hold: hold ? pageToken : null });
    save(q);
  }

  function update(id, change) {
    var q = load();
    q.forEach(function (item) { if (idOf(item) === id) change(item); });
    save(q);
  }

  function release() {
    var q = load();
    var changed = false;
    q.forEach(function (item) { if (item.hold === pageToken) { item.hold = null; changed = true; } });
    if (changed) save(q);
  }

  var inFlight = {};
  var retryTimer = null;

  function utf8Length(text) {
    var n = 0;
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xD800 && c < 0xDC00) { n += 4; i++; }  // a surrogate pair: one 4-byte character
      else n += 3;
    }
    return n;
  }

  // The body as sent: when it is over MAX_BODY bytes, the comment is cut by whole characters.
  function fit(body) {
    var sent = JSON.stringify(body);
    if (!(MAX_BODY > 0) || utf8Length(sent) <= MAX_BODY || typeof body.comment !== "string") return sent;
    var chars = Array.from(body.comment);
    var lo = 0, hi = chars.length;
    while (lo < hi) {  // the longest prefix that fits
      var mid = Math.ceil((lo + hi) / 2);
      var trial = Object.assign({}, body, { comment: chars.slice(0, mid).join("") });
      if (utf8Length(JSON.stringify(trial)) <= MAX_BODY) lo = mid; else hi = mid - 1;
    }
    return JSON.stringify(Object.assign({}, body, { comment: lo ? chars.slice(0, lo).join("") : null }));
  }

  function scheduleRetry() {
    // The earliest retry of what is neither held by this page nor on its way already.
    var next = Infinity;
    load().forEach(function (item) {
      if ((item.hold && item.hold === pageToken) || inFlight[idOf(item)]) return;
      if (item.retryAt && item.retryAt < next) next = item.retryAt;
    });
    if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
    if (next === Infinity) return;
    // Timers count whole milliseconds and may fire a little early by the wall clock: wait one
    // more, and flush() schedules again whatever is still not due.
    retryTimer = setTimeout(function () { retryTimer = null; flush(); }, Math.max(0, Math.ceil(next - Date.now()) + 1));
  }

  function flush() {
    var now = Date.now();
    load().forEach(function (item) {
      var id = idOf(item);
      if ((item.hold && item.hold === pageToken) || inFlight[id]) return;
      if (item.retryAt && item.retryAt > now) return;
      inFlight[id] = true;
      var stored = JSON.stringify(item.body);
      var sent = fit(item.body);
      var done = function (forget) {
        delete inFlight[id];
        var q = load();
        if (forget) {
          q = q.filter(function (other) {
            // Forget exactly what was sent: a reason added meanwhile goes out as its own retry.
            return !(idOf(other) === id && JSON.stringify(other.body) === stored);
          });
        } else {
          q.forEach(function (other) {
            if (idOf(other) !== id) return;
            other.tries = (other.tries || 0) + 1;
            var wait = Math.min(RETRY_MAX, RETRY_FIRST * Math.pow(2, other.tries - 1));
            other.retryAt = Date.now() + wait * (0.5 + Math.random() / 2);
          });
        }
        save(q);
        if (!forget) scheduleRetry();
      };
      try {
        fetch(collector + "/api/" + item.kind, {
          method: "POST",
          body: sent,
          headers: { "Content-Type": "text/plain;charset=UTF-8" },
          keepalive: true,
          credentials: "omit"
        }).then(function (r) {
          // 422: the collector read it and refused it; no retry can fix that. Anything else may pass.
          done(r.ok || r.status === 422);
        }, function () { done(false); });
      } catch (e) { done(false); }
    });
    scheduleRetry();
  }

  // --- the widget -----------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function count(text) { return Array.from(text).length; }

  // The article as a person reads it in an e-mail: its title and its address, without the
  // search's highlight (?h=) or an anchor.
  function articleLine() {
    var heading = document.querySelector(".md-content h1");
    var title = heading ? heading.textContent.replace(/\s+/g, " ").trim() : document.title;
    return texts.mail_article + " " + title + " (" + location.origin + location.pathname + ")";
  }

  function contactLink(url, article) {
    var search = lastSearch();
    try {
      if (/^mailto:/i.test(url)) {
        var lines = [];
        if (article) lines.push(articleLine());
        if (search) lines.push(texts.mail_search + " " + search);
        if (!lines.length) return url;
        return url + (url.indexOf("?") < 0 ? "?" : "&") + "body=" + encodeURIComponent(lines.join("\n") + "\n\n");
      }
      if (!/^https?:/i.test(url) && !/^\//.test(url)) return url;
      var u = new URL(url, location.href);
      if (article) u.searchParams.set("article", article);
      if (search) u.searchParams.set("search", search);
      return u.href;
    } catch (e) { return url; }
  }

  // After a "No", the contact channels follow the thank-you once: the page's own "Still need
  // help?" block moves there (showing it twice in a row helps no one), else the widget lists them
  // as that block does, one channel to a line.
  function contactBlock(article) {
    var block = document.querySelector(".md-content .kb-contact");
    if (block) {
      block.querySelectorAll("a[data-kb-channel]").forEach(function (a) {
        a.href = contactLink(channelUrl(a), article);
      });
      return block;
    }
    var channels = Array.isArray(settings.contact) ? settings.contact : [];
    if (!channels.length) return null;
    var list = el("ul", {});
    channels.forEach(function (ch) {
      var a = el("a", { href: contactLink(String(ch.url || ""), article), "data-kb-channel": String(ch.name || ""),
                        "data-kb-url": String(ch.url || ""), text: String(ch.name || "") });
      var item = el("li", { class: "kb-contact__channel" }, [a]);
      if (ch.hours) item.appendChild(el("span", { class: "kb-contact__hours", text: ch.hours }));
      if (ch.description) item.appendChild(el("span", { class: "kb-contact__description", text: ch.description }));
      list.appendChild(item);
    });
    return el("div", { class: "kb-feedback__contact kb-contact" }, [el("p", { text: texts.contact_title }), list]);
  }

  // A channel link's own URL, before the article and the last search were added to it.
  function channelUrl(link) {
    if (!link.hasAttribute("data-kb-url")) link.setAttribute("data-kb-url", link.getAttribute("href") || "");
    return link.getAttribute("data-kb-url");
  }

  // Material shows "Back to top" over the page's first lines whenever the page scrolls up. A
  // thank-you shorter than what it replaces makes the browser scroll up by itself near the
  // page's end: not the customer asking to go back up, so the pill stays hidden until they
  // scroll up themselves (Material, which saw the page go up, would not show it again then).
  function keepBackToTopHidden() {
    var top = document.querySelector(".md-top");
    if (!top) return;
    var quietUntil = Date.now() + 500, lastY = window.scrollY, held = false;
    function watch() {
      var y = window.scrollY;
      if (Date.now() < quietUntil) {
        held = true;
        setTimeout(function () { top.hidden = true; top.setAttribute("tabindex", "-1"); }, 0);
      } else if (held && y < lastY) {
        top.hidden = false;
        top.removeAttribute("tabindex");
        window.removeEventListener("scroll", watch);
      } else if (y > lastY) {
        window.removeEventListener("scroll", watch);  // scrolling down: Material's own state holds again
      }
      lastY = y;
    }
    window.addEventListener("scroll", watch, { passive: true });
    setTimeout(function () { if (!held) window.removeEventListener("scroll", watch); }, 500);
  }

  function reasonPanel(vote, article) {
    var voteId = vote.vote_id;
    var n = Math.random().toString(36).slice(2, 8);
    var panel = el("div", { class: "kb-feedback", "data-kb-vote": voteId });
    var form = el("form", { class: "kb-feedback__form", novalidate: "" });
    var fieldset = el("fieldset", {}, [el("legend", { class: "kb-feedback__title", tabindex: "-1", text: texts.reasons_title })]);
    REASONS.forEach(function (code) {
      var input = el("input", { type: "radio", name: "kb-reason", value: code, id: "kb-reason-" + code + "-" + n });
      fieldset.appendChild(el("div", { class: "kb-feedback__reason" }, [
        input, el("label", { for: input.id, text: texts.reasons[code] || code })]));
    });
    var area = el("textarea", { id: "kb-comment-" + n, name: "kb-comment", rows: "3",
                                "aria-describedby": "kb-counter-" + n });
    var counter = el("span", { id: "kb-counter-" + n, class: "kb-feedback__counter",
                               text: texts.comment_counter.replace("{count}", "0").replace("{max}", MAX_COMMENT) });
    var live = el("span", { class: "kb-feedback__sr", role: "status", "aria-live": "polite" });
    area.addEventListener("input", function () {
      var chars = Array.from(area.value);
      if (chars.length > MAX_COMMENT) {
        area.value = chars.slice(0, MAX_COMMENT).join("");
        live.textContent = texts.comment_limit.replace("{max}", MAX_COMMENT);
      }
      var used = count(area.value);
      counter.textContent = texts.comment_counter.replace("{count}", used).replace("{max}", MAX_COMMENT);
      counter.classList.toggle("kb-feedback__counter--full", used >= MAX_COMMENT);
    });
    // A honeypot: invisible to people and to assistive technology; form-filling bots fill it.
    var trap = el("input", { type: "text", name: "website", class: "kb-feedback__hp", tabindex: "-1",
                             autocomplete: "off", "aria-hidden": "true" });
    var send = el("button", { type: "submit", class: "md-button md-button--primary", text: texts.send });
    var skip = el("button", { type: "button", class: "md-button", text: texts.skip });
    form.appendChild(fieldset);
    form.appendChild(el("div", { class: "kb-feedback__comment" }, [
      el("label", { for: area.id, text: texts.comment_label }), area, counter, live]));
    form.appendChild(trap);
    form.appendChild(el("div", { class: "kb-feedback__actions" }, [send, skip]));
    panel.appendChild(form);

    function finish(withReason) {
      var picked = form.querySelector("input[name=kb-reason]:checked");
      var reason = withReason && picked ? picked.value : null;
      var comment = withReason && area.value.trim() ? area.value : null;
      var queued = false;
      update(voteId, function (item) {
        queued = true;
        if (withReason) {
          item.body.reason = reason;
          item.body.comment = comment;
        }
        item.body.website = trap.value;
        item.hold = null;
      });
      if (!queued && (reason || comment)) {
        // The vote already went out without its reason (the page was hidden meanwhile): send
        // the reason as a follow-up under the same vote_id; the collector joins the two.
        enqueue("votes", Object.assign({}, vote, { reason: reason, comment: comment, website: trap.value }), false);
      }
      flush();
      var thanks = el("p", { class: "kb-feedback__thanks", role: "status", tabindex: "-1", text: texts.thanks });
      keepBackToTopHidden();
      panel.replaceChild(thanks, form);
      var contact = contactBlock(article);
      if (contact) panel.appendChild(contact);
      thanks.focus();
    }
    form.addEventListener("submit", function (ev) { ev.preventDefault(); finish(true); });
    skip.addEventListener("click", function () { finish(false); });
    return panel;
  }

  function wire() {
    var form = document.forms.feedback;
    var article = meta("kb:article");
    var version = meta("kb:version");
    if (!form || !article || !version) return;
    if (form.getAttribute("data-kb-wired")) return;
    form.setAttribute("data-kb-wired", "1");
    var buttons = form.querySelectorAll("[type=submit]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.setAttribute("aria-label", button.getAttribute("title") || button.getAttribute("data-md-value"));
      button.addEventListener("click", function (ev) {
        ev.preventDefault();
        var value = button.getAttribute("data-md-value");
        var helpful = value !== "0";
        var vote = { vote_id: uuid(), article: article, version: version, helpful: helpful,
                     reason: null, comment: null, language: LANGUAGE, website: "" };
        enqueue("votes", vote, !helpful);
        button.setAttribute("aria-pressed", "true");  // the chosen rating stays marked
        form.firstElementChild.disabled = true;  // Material shows the rating's note when disabled
        var note = form.querySelector(".md-feedback__note [data-md-value='" + value + "']");
        if (note) { note.setAttribute("role", "status"); note.hidden = false; }
        if (helpful) {
          keepBackToTopHidden();
          flush();
          if (note) { note.setAttribute("tabindex", "-1"); note.focus(); }
        } else {
          var panel = reasonPanel(vote, article);
          form.parentNode.insertBefore(panel, form.nextSibling);
          panel.querySelector("legend").focus();
        }
      });
    });
    form.hidden = false;
  }

  // --- searches and contact clicks ------------------------------------------------------
  function lastSearch() {
    try { return sessionStorage.getItem(SEARCH_KEY) || ""; } catch (e) { return ""; }
  }

  var reported = {};
  // Settles a query the customer is still typing (or has just typed) at once: a click on a
  // contact channel carries it, even within the pause that otherwise settles it.
  var settleSearch = function () {};
  function watchSearch() {
    var searchForm = document.forms.search;
    if (!searchForm || !searchForm.query) return;
    var input = searchForm.query;
    var timer = null;
    function settle() {
      timer = null;
      var query = input.value.trim();
      if (!query) return;
      try { sessionStorage.setItem(SEARCH_KEY, query); } catch (e) { /* ignore */ }
      if (!settings.searches || query.length < 3 || reported[query.toLowerCase()]) return;
      var results = document.querySelectorAll(".md-search-result__item").length;
      // results that hold no good answer (kb/assets/kb.js marks them) are a failed search too,
      // unless the collector answered the query itself, and so recorded it
      var box = document.querySelector(".md-search-result");
      if (box && box.hasAttribute("data-kb-recorded")) return;
      if (results > 0 && !(box && box.getAttribute("data-kb-answer") === "none")) return;
      reported[query.toLowerCase()] = true;
      enqueue("searches", { event_id: uuid(), query: query.slice(0, 200), results: 0,
                            article: meta("kb:article"), language: LANGUAGE, website: "" }, false);
      flush();
    }
    input.addEventListener("input", function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(settle, 1500);
    });
    settleSearch = function () { if (timer) { clearTimeout(timer); settle(); } };
    input.addEventListener("blur", settleSearch);
  }

  document.addEventListener("click", function (ev) {
    try {
      var link = ev.target && ev.target.closest && ev.target.closest("a[data-kb-channel]");
      if (!link) return;
      // the search box may keep focus (the home page's big box types into it unseen)
      settleSearch();
      var article = meta("kb:article");
      link.href = contactLink(channelUrl(link), article);
      if (!settings.contacts) return;
      enqueue("contacts", { event_id: uuid(), channel: link.getAttribute("data-kb-channel").slice(0, 100),
                            article: article, query: lastSearch().slice(0, 200) || null, language: LANGUAGE,
                            website: "" }, false);
      flush();
    } catch (e) { /* never block the link */ }
  }, true);

  // --- lifecycle ------------------------------------------------------------------------
  function leave() { try { release(); flush(); } catch (e) { /* ignore */ } }
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") leave(); });
  window.addEventListener("pagehide", leave);
  window.addEventListener("online", function () {
    try {
      var q = load();
      q.forEach(function (item) { item.retryAt = 0; });  // back online: retry now
      save(q);
      flush();
    } catch (e) { /* ignore */ }
  });

  function onPage() {
    try { release(); flush(); wire(); } catch (e) { if (window.console) console.warn("kb feedback:", e); }
  }
  try { watchSearch(); } catch (e) { /* ignore */ }
  if (window.document$ && typeof window.document$.subscribe === "function") {
    // Material's instant navigation swaps the page without unloading it: each new page
    // releases the previous page's held vote and wires the new form.
    window.document$.subscribe(onPage);
  } else {
    onPage();
  }
})();
