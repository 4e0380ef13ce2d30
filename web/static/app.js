// deskflow web: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Confirm destructive actions: <form data-confirm="Delete this slot?">
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  });
  // Batch page: follow the RefreshBatch `progress` query through the JSON API.
  var box = document.querySelector("[data-batch-progress]");
  if (!box) { return; }
  var url = box.getAttribute("data-batch-progress");
  function show(p) {
    var set = function (name, value) {
      var el = box.querySelector("[data-field=" + name + "]");
      if (el) { el.textContent = value; }
    };
    set("looked_up", p.looked_up); set("processed", p.processed); set("total", p.total);
    set("started", p.started.length); set("already_running", p.already_running.length);
    set("refused", p.refused.length); set("state", p.done ? "done" : "running");
    var bar = box.querySelector("progress");
    if (bar) { bar.max = p.total || 1; bar.value = p.processed; }
    return p.done;
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        if (show(data.progress)) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  if (box.getAttribute("data-done") !== "true") { window.setTimeout(poll, 500); }
})();
