// Progressive: pages show UTC without this script. It adds a button that
// switches every <time> between UTC and the browser's zone, remembered in
// localStorage.
(function () {
  "use strict";
  var button = document.getElementById("tz-toggle");
  var label = document.getElementById("tz-name");
  if (!button) { return; }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function local(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function apply(useLocal) {
    var els = document.querySelectorAll("time[datetime]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (!el.dataset.utc) { el.dataset.utc = el.textContent; }
      var d = new Date(el.getAttribute("datetime"));
      el.textContent = useLocal && !isNaN(d) ? local(d) : el.dataset.utc;
      el.title = useLocal ? el.dataset.utc : "";
    }
    button.textContent = useLocal ? "Show UTC" : "Show local time (" + zone + ")";
    if (label) { label.textContent = useLocal ? zone : "UTC"; }
  }
  var useLocal = false;
  try { useLocal = localStorage.getItem("imalert-tz") === "local"; } catch (e) {}
  button.hidden = false;
  button.addEventListener("click", function () {
    useLocal = !useLocal;
    try { localStorage.setItem("imalert-tz", useLocal ? "local" : "utc"); } catch (e) {}
    apply(useLocal);
  });
  apply(useLocal);
})();
