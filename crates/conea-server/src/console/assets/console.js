// Conea console: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // The browser's time zone goes to the server in a cookie: the next pages show dates in it
  // (without script, UTC).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && /^[A-Za-z0-9_+\/-]{1,64}$/.test(zone) && document.cookie.indexOf("conea_tz=" + zone) < 0) {
      document.cookie = "conea_tz=" + zone + "; path=/console; max-age=31536000; SameSite=Strict" + (location.protocol === "https:" ? "; Secure" : "");
    }
  } catch (err) { /* no Intl: UTC */ }
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
  // An import's status page follows its job without reloading: the <progress>, the job's
  // note (in the page's language) and the state follow /console/data/import/{job}/status; once final, the page reloads once to
  // show the counts.
  var imp = document.querySelector("[data-import-status]");
  if (imp && document.getElementById("import-result") === null) {
    var bar = document.getElementById("import-progress");
    var pct = document.getElementById("import-percent");
    var st = document.getElementById("import-job-state");
    var note = document.getElementById("import-message");
    var poll = function () {
      fetch(imp.getAttribute("data-import-status"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          bar.value = j.progress; pct.textContent = j.progress + "%"; st.textContent = j.label; st.setAttribute("data-state", j.state);
          if (note && j.message) { note.textContent = j.message; }
          if (j["final"]) { window.location.reload(); } else { setTimeout(poll, 500); }
        })
        .catch(function () { setTimeout(poll, 2000); });
    };
    poll();
  }
  // The question form streams its answer: posted to its data-stream path, the tool calls
  // and the text show as they come, then the server's rendering of the whole answer (a
  // thread's follow-up: its page at the new message). Any
  // other answer (a refusal, no streaming in this browser) posts the form as without script.
  var ask = document.querySelector("form[data-stream]");
  if (ask && window.fetch && window.TextDecoder && window.URLSearchParams && "content" in document.createElement("template")) {
    ask.addEventListener("submit", function (e) {
      if (e.defaultPrevented) { return; }
      e.preventDefault();
      var out = document.getElementById("ask-out");
      var button = ask.querySelector("button[type=submit]");
      var plain = function () { ask.removeAttribute("data-stream"); HTMLFormElement.prototype.submit.call(ask); };
      button.disabled = true;
      out.replaceChildren(document.getElementById("ask-live").content.cloneNode(true));
      var text = document.getElementById("live-text");
      var calls = document.getElementById("live-calls");
      var finished = false;
      var handle = function (block) {
        var name = "message", data = [];
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) { name = line.slice(6).trim(); }
          else if (line.indexOf("data:") === 0) { data.push(line.slice(5).replace(/^ /, "")); }
        });
        if (!data.length) { return; }
        var d = JSON.parse(data.join("\n"));
        if (name === "delta") { text.textContent += d.text; }
        else if (name === "tool_call") {
          var li = document.createElement("li"), code = document.createElement("code");
          code.textContent = d.name; li.appendChild(code); calls.appendChild(li);
        } else if (name === "done" && d.href) {
          finished = true; window.location.assign(d.href);
        } else if (name === "done" || name === "error") {
          finished = true; out.innerHTML = d.html; button.disabled = false;
        }
      };
      fetch(ask.getAttribute("data-stream"), {
        method: "POST", credentials: "same-origin", headers: { "Accept": "text/event-stream" },
        body: new URLSearchParams(new FormData(ask))
      }).then(function (r) {
        var type = r.headers.get("content-type") || "";
        if (!r.ok || type.indexOf("text/event-stream") !== 0 || !r.body) { plain(); return; }
        var reader = r.body.getReader(), decoder = new TextDecoder(), buffer = "";
        var pump = function () {
          return reader.read().then(function (chunk) {
            if (chunk.done) { if (!finished) { plain(); } return; }
            buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
            var at;
            while ((at = buffer.indexOf("\n\n")) >= 0) { handle(buffer.slice(0, at)); buffer = buffer.slice(at + 2); }
            return pump();
          });
        };
        return pump();
      }).catch(plain);
    });
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
