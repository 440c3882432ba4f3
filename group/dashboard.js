(function () {
  "use strict";
  // Every second, fetch this page again and put its live part in place of
  // ours: the server renders (and escapes) everything, so does this.
  var live = document.getElementById("live");
  var status = document.getElementById("status");
  var busy = false;
  function tick() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status + " " + r.statusText);
        return r.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("live");
        if (!fresh) throw new Error("no dashboard in the answer");
        live.replaceWith(fresh);
        live = fresh;
        status.textContent = "live, every second";
        status.className = "status ok";
      })
      .catch(function (e) {
        status.textContent = "not updated: " + e.message;
        status.className = "status bad";
      })
      .finally(function () { busy = false; });
  }
  status.textContent = "live, every second";
  status.className = "status ok";
  setInterval(tick, 1000);
})();
