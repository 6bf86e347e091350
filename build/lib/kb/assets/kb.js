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
