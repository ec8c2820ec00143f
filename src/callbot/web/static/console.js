/* Agents' console: progressive enhancement only. Without this file (or without JavaScript) the
   pages are complete and a <noscript> refresh keeps the waiting list current.
   - live wait times (elements with data-since);
   - live updates: htmx's SSE extension when the vendored htmx is there, else a plain EventSource;
   - after each live swap, transcripts left open and keyboard focus are restored. */
(function () {
  "use strict";

  function duree(secs) {
    secs = Math.max(0, Math.floor(secs));
    var h = Math.floor(secs / 3600), m = Math.floor((secs % 3600) / 60), s = secs % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    if (h) return h + " h " + two(m) + " min";
    if (m) return m + " min " + two(s) + " s";
    return s + " s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      var until = el.hasAttribute("data-until") ? Date.parse(el.getAttribute("data-until")) : now;
      if (!isNaN(since)) el.textContent = duree((until - since) / 1000);
    });
  }
  setInterval(tick, 1000);

  // Live swaps must not close what the agent opened nor steal keyboard focus.
  var saved = null;
  function remember() {
    var open = [];
    document.querySelectorAll("details[data-key][open]").forEach(function (d) { open.push(d.getAttribute("data-key")); });
    var active = document.activeElement;
    saved = { open: open, focus: active && active.id ? active.id : null };
  }
  function restore() {
    if (!saved) return;
    saved.open.forEach(function (key) {
      var d = document.querySelector('details[data-key="' + key + '"]');
      if (d) d.open = true;
    });
    if (saved.focus && !document.getElementById(saved.focus)) {
      // The focused call left the list: keep the keyboard in the list rather than at the top.
      var list = document.getElementById("attente");
      if (list) { list.setAttribute("tabindex", "-1"); list.focus(); }
    } else if (saved.focus && document.activeElement !== document.getElementById(saved.focus)) {
      document.getElementById(saved.focus).focus();
    }
    saved = null;
    tick();
  }

  function setStatus(state, text) {
    var el = document.getElementById("etat-direct");
    if (!el) return;
    el.setAttribute("data-state", state);
    el.textContent = text;
  }
  var LIVE = "En direct : la liste se met à jour toute seule.";
  var RETRY = "Connexion perdue, nouvelle tentative… (ou cliquez sur Actualiser)";

  var live = document.getElementById("live");
  if (!live) return;

  if (window.htmx) {
    document.body.addEventListener("htmx:sseOpen", function () { setStatus("live", LIVE); });
    document.body.addEventListener("htmx:sseError", function () { setStatus("off", RETRY); });
    document.body.addEventListener("htmx:sseBeforeMessage", remember);
    document.body.addEventListener("htmx:sseMessage", function () { setTimeout(restore, 0); });
    return;
  }

  // No vendored htmx: the same live updates with a plain EventSource.
  if (!window.EventSource) return;
  var source = new EventSource(live.getAttribute("data-events"));
  source.onopen = function () { setStatus("live", LIVE); };
  source.onerror = function () { setStatus("off", RETRY); };
  [["waiting", "attente"], ["callbacks", "rappels-a-traiter"]].forEach(function (pair) {
    source.addEventListener(pair[0], function (e) {
      var target = document.getElementById(pair[1]);
      if (!target) return;
      remember();
      target.innerHTML = e.data;
      restore();
    });
  });
})();
