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
  // An import's status page follows its job without reloading: the <progress> and the
  // state follow /console/data/import/{job}/status; once final, the page reloads once to
  // show the counts.
  var imp = document.querySelector("[data-import-status]");
  if (imp && document.getElementById("import-result") === null) {
    var bar = document.getElementById("import-progress");
    var pct = document.getElementById("import-percent");
    var st = document.getElementById("import-job-state");
    var poll = function () {
      fetch(imp.getAttribute("data-import-status"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          bar.value = j.progress; pct.textContent = j.progress + "%"; st.textContent = j.label; st.setAttribute("data-state", j.state);
          if (j["final"]) { window.location.reload(); } else { setTimeout(poll, 500); }
        })
        .catch(function () { setTimeout(poll, 2000); });
    };
    poll();
  }
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
