// The home page's big search box opens Material's header search, by mouse or keyboard.
(function () {
  function openSearch(event) {
    var toggle = document.querySelector("[data-md-toggle=search]");
    var input = document.querySelector("[data-md-component=search-query]");
    if (!toggle || !input) return;
    event.preventDefault();
    toggle.checked = true;
    toggle.dispatchEvent(new Event("change"));
    input.focus();
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-kb-search-open]")) openSearch(event);
  });
  document.addEventListener("keydown", function (event) {
    if ((event.key === "Enter" || event.key === " ") &&
        event.target.closest && event.target.closest("[data-kb-search-open]")) openSearch(event);
  });
})();

// The language selector leads to this page's translation: the page's <link rel="alternate"
// hreflang> say where; Material's instant navigation swaps the head but not the header.
(function () {
  function follow() {
    document.querySelectorAll(".md-select__link[hreflang]").forEach(function (link) {
      var alt = document.head.querySelector('link[rel="alternate"][hreflang="' + link.getAttribute("hreflang") + '"]');
      if (alt) link.href = alt.href;
    });
  }
  if (window.document$ && typeof window.document$.subscribe === "function") window.document$.subscribe(follow);
  else document.addEventListener("DOMContentLoaded", follow);
})();
