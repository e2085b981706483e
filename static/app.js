// Small client behaviour: theme persistence. Live sync behaviour lives in sync.js.
(function () {
  "use strict";
  var KEY = "tickettracker-theme";
  function apply(theme) {
    document.documentElement.setAttribute("data-theme", theme);
  }
  var saved = null;
  try { saved = localStorage.getItem(KEY); } catch (e) { saved = null; }
  if (saved === "dark" || saved === "light") {
    apply(saved);
  } else if (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches) {
    apply("dark");
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-theme-toggle]");
    if (!button) { return; }
    var next = document.documentElement.getAttribute("data-theme") === "dark" ? "light" : "dark";
    apply(next);
    try { localStorage.setItem(KEY, next); } catch (e) { /* private mode */ }
  });
})();
