// Dezky UI: theme switch, collapsible sidebar (remembered), live member status over server-sent
// events, the one-time password panel, and the console's search palette and live regions. Pages
// work without it; this only enhances them.
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
      var remembered = null;
      try { remembered = window.localStorage.getItem("dezky-nav"); } catch (e) { remembered = null; }
      if (remembered === "collapsed") {
        document.body.classList.add("nav-collapsed");
        nav.setAttribute("aria-expanded", "false");
      }
      nav.addEventListener("click", function () {
        var collapsed = document.body.classList.toggle("nav-collapsed");
        nav.setAttribute("aria-expanded", collapsed ? "false" : "true");
        try { window.localStorage.setItem("dezky-nav", collapsed ? "collapsed" : "open"); } catch (e) { /* private mode */ }
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
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body }; }); })
      .then(function (answer) {
        if (answer.status === 409) { otp.revealing = false; setTimeout(maybeReveal, 1500); return; }
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

// ---- console: the Ctrl/⌘-K search palette and the live regions ([data-live]) ----
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }

  onReady(function () {
    setUpPalette();
    setUpConsoleLive();
    // a refused console form: the keyboard starts at the first field named in an error
    var invalid = document.querySelector("body.app .content form [aria-invalid=true]");
    if (invalid && document.getElementById("palette")) { invalid.focus(); }
  });

  function setUpPalette() {
    var dialog = document.getElementById("palette");
    var opener = document.getElementById("palette-open");
    if (!dialog || !opener || typeof dialog.showModal !== "function") { return; }
    var input = document.getElementById("palette-input");
    var list = document.getElementById("palette-list");
    var status = document.getElementById("palette-status");
    var items = [];
    var active = -1;
    var timer = null;
    var seq = 0;

    function open() {
      if (dialog.open) { return; }
      dialog.showModal();
      input.value = "";
      search("");
      input.focus();
    }
    function choose(i) {
      var opts = list.querySelectorAll("[role=option]");
      for (var k = 0; k < opts.length; k++) { opts[k].setAttribute("aria-selected", k === i ? "true" : "false"); }
      active = i;
      if (i >= 0 && opts[i]) {
        input.setAttribute("aria-activedescendant", opts[i].id);
        opts[i].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }
    function go(i) {
      if (items[i]) { window.location.href = items[i].href; }
    }
    function render(found) {
      items = found;
      list.textContent = "";
      found.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = "palette-opt-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("data-href", item.href);
        li.setAttribute("data-kind", item.kind);
        var kind = document.createElement("span");
        kind.className = "palette-kind";
        kind.textContent = item.kind;
        var label = document.createElement("strong");
        label.textContent = item.label;
        var detail = document.createElement("span");
        detail.className = "muted";
        detail.textContent = item.detail ? " " + item.detail : "";
        li.appendChild(kind); li.appendChild(label); li.appendChild(detail);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); go(i); });
        list.appendChild(li);
      });
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
      status.textContent = found.length ? found.length + " results. ↑ ↓ to choose, Enter to open." : "Nothing found.";
      choose(found.length ? 0 : -1);
    }
    function search(q) {
      var mine = ++seq;
      fetch("/ui/console/search?q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok || r.redirected) { throw new Error(String(r.status)); } return r.json(); })
        .then(function (body) { if (mine === seq) { render(body.items || []); } })
        .catch(function () { if (mine === seq) { status.textContent = "Search failed; try again."; } });
    }
    opener.addEventListener("click", open);
    document.addEventListener("keydown", function (e) {
      if ((e.ctrlKey || e.metaKey) && (e.key === "k" || e.key === "K")) {
        e.preventDefault();
        open();
      }
    });
    input.addEventListener("input", function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(function () { search(input.value); }, 120);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown") { e.preventDefault(); if (items.length) { choose((active + 1) % items.length); } }
      else if (e.key === "ArrowUp") { e.preventDefault(); if (items.length) { choose((active - 1 + items.length) % items.length); } }
      else if (e.key === "Enter") { e.preventDefault(); go(active < 0 ? 0 : active); }
    });
    dialog.addEventListener("click", function (e) { if (e.target === dialog) { dialog.close(); } });
    dialog.addEventListener("close", function () { opener.focus(); });
  }

  // Regions marked data-live="<url>" are fetched again (debounced) on every change the console
  // stream reports; a region holding the keyboard focus waits for the next change.
  function setUpConsoleLive() {
    var line = document.getElementById("console-live");
    if (!line || !window.EventSource) { return; }
    var state = document.getElementById("console-live-state");
    var timer = null;
    function refresh() {
      var regions = document.querySelectorAll("[data-live]");
      Array.prototype.forEach.call(regions, function (region) {
        if (region.contains(document.activeElement) && document.activeElement !== document.body) { return; }
        fetch(region.getAttribute("data-live"), { credentials: "same-origin" })
          .then(function (r) { if (!r.ok || r.redirected) { throw new Error(String(r.status)); } return r.text(); })
          .then(function (html) { if (region.innerHTML !== html) { region.innerHTML = html; } })
          .catch(function () { /* the next change tries again */ });
      });
    }
    function later() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(refresh, 250);
    }
    var source = new EventSource(line.getAttribute("data-events"));
    source.addEventListener("ready", function () {
      line.classList.add("on");
      state.textContent = "Live status: connected";
      later();
    });
    source.addEventListener("change", later);
    source.addEventListener("resync", later);
    source.onerror = function () {
      line.classList.remove("on");
      state.textContent = "Live status: reconnecting…";
    };
  }
})();

// ---- portal: live regions ([data-live-src]) and secrets revealed once ([data-reveal-url]) ----
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }

  onReady(function () {
    setUpReveals();
    setUpPortalLive();
  });

  // Fetches a region's HTML again; a region holding the keyboard focus waits for the next time.
  function refreshRegion(region) {
    if (region.contains(document.activeElement) && document.activeElement !== document.body) { return Promise.resolve(); }
    return fetch(region.getAttribute("data-live-src"), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok || r.redirected) { throw new Error(String(r.status)); } return r.text(); })
      .then(function (html) { if (region.innerHTML !== html) { region.innerHTML = html; } checkReveals(); })
      .catch(function () { /* the next change tries again */ });
  }

  function setUpPortalLive() {
    var polled = document.querySelectorAll("[data-live-src][data-poll]");
    Array.prototype.forEach.call(polled, function (region) {
      var every = parseInt(region.getAttribute("data-poll"), 10) || 3000;
      setInterval(function () { refreshRegion(region); }, every);
    });
    var line = document.getElementById("portal-live");
    if (!line || !window.EventSource) { return; }
    var state = document.getElementById("portal-live-state");
    var timer = null;
    function refresh() {
      var regions = document.querySelectorAll("[data-live-src]:not([data-poll])");
      Array.prototype.forEach.call(regions, refreshRegion);
    }
    function later() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(refresh, 200);
    }
    var source = new EventSource(line.getAttribute("data-events"));
    source.addEventListener("ready", function () {
      line.classList.add("on");
      state.textContent = "Live status: connected";
      later();
    });
    source.addEventListener("change", later);
    source.addEventListener("resync", later);
    source.onerror = function () {
      line.classList.remove("on");
      state.textContent = "Live status: reconnecting…";
    };
  }

  var panels = [];

  function setUpReveals() {
    var found = document.querySelectorAll("[data-reveal-url]");
    Array.prototype.forEach.call(found, function (panel) {
      var p = { el: panel, asking: false, done: false };
      panels.push(p);
      var copy = panel.querySelector(".reveal-copy");
      copy.addEventListener("click", function () {
        var value = panel.querySelector(".reveal-value").textContent;
        var note = panel.querySelector(".reveal-copied");
        if (navigator.clipboard) {
          navigator.clipboard.writeText(value).then(function () { note.textContent = "Copied."; },
            function () { note.textContent = "Select it and copy it."; });
        } else {
          note.textContent = "Select it and copy it.";
        }
      });
    });
    checkReveals();
  }

  // Asks once the page says the secret is issued; "not yet" (409) asks again a little later.
  function checkReveals() {
    panels.forEach(function (p) {
      if (p.asking || p.done || !document.querySelector(p.el.getAttribute("data-when"))) { return; }
      p.asking = true;
      fetch(p.el.getAttribute("data-reveal-url"), { method: "POST", credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json().then(function (body) { return { status: r.status, ok: r.ok, body: body }; }); })
        .then(function (answer) {
          if (answer.status === 409) { p.asking = false; setTimeout(checkReveals, 1500); return; }
          p.done = true;
          p.el.querySelector(".reveal-waiting").hidden = true;
          if (answer.ok && answer.body.value) {
            p.el.querySelector(".reveal-value").textContent = answer.body.value;
            p.el.querySelector(".reveal-shown").hidden = false;
          } else {
            var err = p.el.querySelector(".reveal-error");
            err.textContent = answer.body.error || "It could not be shown.";
            err.hidden = false;
          }
        })
        .catch(function () { p.asking = false; setTimeout(checkReveals, 3000); });
    });
  }
})();
