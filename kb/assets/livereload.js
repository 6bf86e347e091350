// Preview only: reload the page when `kb serve` has rebuilt the site, and show the articles'
// errors at the top of every page until they are fixed (the site is built without what they break).
(function () {
  var seen = null;
  function poll() {
    fetch("/_kb/build", { cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (build) {
        if (build !== null) {
          if (seen !== null && build !== seen) location.reload();
          seen = build;
        }
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, 250); });
  }
  poll();

  var shown = "[]";
  function show(errors) {
    var box = document.getElementById("kb-problems");
    if (!errors.length) { if (box) box.remove(); return; }
    if (!box) {
      box = document.createElement("section");
      box.id = "kb-problems";
      box.className = "kb-problems";
      box.setAttribute("role", "alert");
      document.body.insertBefore(box, document.body.firstChild);
    }
    box.textContent = "";
    var title = document.createElement("p");
    title.className = "kb-problems__title";
    title.textContent = "kb serve: " + errors.length + (errors.length === 1 ? " error" : " errors") +
      " in the articles (this preview shows what it could build; edits show again once they are fixed)";
    var list = document.createElement("pre");
    list.textContent = errors.join("\n");
    box.appendChild(title);
    box.appendChild(list);
  }
  function problems() {
    fetch("/_kb/problems", { cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (text) {
        if (text !== null && (text !== shown || (text !== "[]" && !document.getElementById("kb-problems")))) {
          shown = text;
          show(JSON.parse(text));
        }
      })
      .catch(function () {})
      .then(function () { setTimeout(problems, 1000); });
  }
  problems();
})();
