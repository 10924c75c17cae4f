// Dezky UI: theme switch, collapsible sidebar, live member status over server-sent events, and
// the one-time password panel. Pages work without it; this only enhances them.
(function () {
  "use strict";
  var root = document.documentElement;
  var stored = null;
  try { stored = window.localStorage.getItem("dezky-theme"); } catch (e) { stored = null; }
  var prefersDark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  root.setAttribute("data-theme", stored || (prefersDark ? "dark" : "light"));

  function onReady(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }

  onReady(function () {
    var theme = document.getElementById("theme-toggle");
    if (theme) {
      theme.addEventListener("click", function () {
        var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try { window.localStorage.setItem("dezky-theme", next); } catch (e) { /* private mode */ }
      });
    }
    var nav = document.getElementById("nav-toggle");
    if (nav) {
      nav.addEventListener("click", function () {
        var collapsed = document.body.classList.toggle("nav-collapsed");
        nav.setAttribute("aria-expanded", collapsed ? "false" : "true");
      });
    }
    setUpOneTimePassword();
    setUpLive();
  });

  var otp = { panel: null, revealing: false, done: false };

  function setUpOneTimePassword() {
    otp.panel = document.getElementById("otp");
    if (!otp.panel) { return; }
    var copy = document.getElementById("otp-copy");
    copy.addEventListener("click", function () {
      var value = document.getElementById("otp-value").textContent;
      var note = document.getElementById("otp-copied");
      if (navigator.clipboard) {
        navigator.clipboard.writeText(value).then(function () { note.textContent = "Copied."; },
          function () { note.textContent = "Select the password and copy it."; });
      } else {
        note.textContent = "Select the password and copy it.";
      }
    });
    maybeReveal();
  }

  // Reveals the one-time password once the member's row says it is issued.
  function maybeReveal() {
    if (!otp.panel || otp.revealing || otp.done) { return; }
    var name = otp.panel.getAttribute("data-member");
    var rows = document.querySelectorAll("#member-rows tr[data-member]");
    var row = null;
    for (var i = 0; i < rows.length; i++) { if (rows[i].getAttribute("data-member") === name) { row = rows[i]; } }
    if (!row || row.getAttribute("data-credentials") !== "true") { return; }
    otp.revealing = true;
    fetch(otp.panel.getAttribute("data-url"), { method: "POST", credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (answer) {
        otp.done = true;
        document.getElementById("otp-waiting").hidden = true;
        if (answer.ok && answer.body.password) {
          document.getElementById("otp-value").textContent = answer.body.password;
          document.getElementById("otp-shown").hidden = false;
        } else {
          var err = document.getElementById("otp-error");
          err.textContent = answer.body.error || "The password could not be shown.";
          err.hidden = false;
        }
      })
      .catch(function () { otp.revealing = false; });
  }

  function setUpLive() {
    var live = document.getElementById("live");
    if (!live || !window.EventSource) { return; }
    var state = document.getElementById("live-state");
    var rowsUrl = live.getAttribute("data-rows");
    var pending = false;
    function refresh() {
      if (pending) { return; }
      pending = true;
      fetch(rowsUrl, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.text(); })
        .then(function (html) {
          document.getElementById("member-rows").innerHTML = html;
          pending = false;
          maybeReveal();
        })
        .catch(function () { pending = false; });
    }
    var source = new EventSource(live.getAttribute("data-events"));
    source.addEventListener("ready", function () {
      live.classList.add("on");
      state.textContent = "Live status: connected";
      refresh();
    });
    source.addEventListener("change", refresh);
    source.addEventListener("resync", refresh);
    source.onerror = function () {
      live.classList.remove("on");
      state.textContent = "Live status: reconnecting…";
    };
  }
})();
