(function () {
  "use strict";
  // Fetch this page again and put its live part in place of ours: the
  // server renders (and escapes) everything. Every second, or four times
  // as long as a fetch took, for a page of many backends.
  var live = document.getElementById("live");
  var status = document.getElementById("status");
  function tick() {
    var start = Date.now(), ok = false;
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
        ok = true;
      })
      .catch(function (e) {
        status.textContent = "not updated: " + e.message;
        status.className = "status bad";
      })
      .finally(function () {
        var wait = Math.max(1000, 4 * (Date.now() - start));
        if (ok) {
          status.textContent = wait === 1000 ? "live, every second" : "live, every " + Math.round(wait / 1000) + " s";
          status.className = "status ok";
        }
        setTimeout(tick, wait);
      });
  }
  status.textContent = "live, every second";
  status.className = "status ok";
  setTimeout(tick, 1000);
})();
