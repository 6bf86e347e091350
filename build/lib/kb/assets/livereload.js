// Preview only: reload the page when `kb serve` has rebuilt the site.
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
})();
