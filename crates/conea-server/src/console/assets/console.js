// Conea console: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // A form with data-confirm asks first.
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  });
  // A select with data-autosubmit submits its form on change.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  // Copy buttons copy the text of the element they name.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      if (el && navigator.clipboard) { navigator.clipboard.writeText(el.textContent.trim()); }
    });
  });
  // A page with data-refresh reloads itself every so many seconds while nobody types.
  var main = document.querySelector("main[data-refresh]");
  if (main) {
    var every = parseInt(main.getAttribute("data-refresh"), 10) * 1000;
    setInterval(function () {
      var a = document.activeElement;
      if (!a || (a.tagName !== "INPUT" && a.tagName !== "SELECT")) { window.location.reload(); }
    }, every);
  }
})();
