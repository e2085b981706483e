// Page-wide behaviour without inline scripts: theme, toasts (timed, pausable, de-duplicated), times, and the
// loading and error states of htmx-swapped tables. Loaded in <head> (not deferred) so the theme applies before paint.
// Live sync behaviour lives in sync.js.
(function () {
  "use strict";
  var THEME_KEY = "tickettracker-theme";
  var SHOWN_KEY = "tt-toasts-shown";
  var TIMEOUTS = { error: 7000, warning: 7000, success: 5000, info: 5000 };
  var ticking = null;
  var lastTick = 0;

  function applyTheme(theme) {
    document.documentElement.setAttribute("data-theme", theme);
  }

  function initTheme() {
    var saved = null;
    try { saved = localStorage.getItem(THEME_KEY); } catch (e) { saved = null; }
    if (saved === "dark" || saved === "light") {
      applyTheme(saved);
    } else if (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches) {
      applyTheme("dark");
    }
  }

  // Back/Forward may show the copy of this page the browser kept in its HTTP cache without asking the server
  // (`private, no-cache` does not stop that for history navigation): a frozen past, e.g. a table from before a sync.
  // Load it afresh with a GET that takes this history entry's place (revalidated: a 304 when nothing changed); not
  // reload(), which would send a form again when the page was a POST's answer. The fragment is left out, since a
  // navigation to the same URL with a fragment only scrolls. A restore from the back/forward cache is handled in
  // sync.js (pageshow). Without deliveryType, an empty transfer of a non-empty body says the same.
  function reloadIfFromCache() {
    var nav = window.performance && performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    if (!nav || nav.type !== "back_forward") { return; }
    var again = function () { window.location.replace(window.location.pathname + window.location.search); };
    if (nav.deliveryType === "cache") {
      again();
    } else if (nav.deliveryType === undefined) {
      document.addEventListener("DOMContentLoaded", function () {
        if (nav.transferSize === 0 && nav.decodedBodySize > 0) { again(); }
      });
    }
  }

  function toggleTheme() {
    var next = document.documentElement.getAttribute("data-theme") === "dark" ? "light" : "dark";
    applyTheme(next);
    try { localStorage.setItem(THEME_KEY, next); } catch (e) { /* private mode */ }
    document.dispatchEvent(new CustomEvent("tt:themechange", { detail: { theme: next } }));
  }

  // ---- toasts ---------------------------------------------------------------------------------------------------
  function shownKeys() {
    try { return JSON.parse(sessionStorage.getItem(SHOWN_KEY) || "[]"); } catch (e) { return []; }
  }

  function firstShowing(key) {
    var keys = shownKeys();
    if (keys.indexOf(key) >= 0) { return false; }
    keys.push(key);
    try { sessionStorage.setItem(SHOWN_KEY, JSON.stringify(keys.slice(-100))); } catch (e) { /* full */ }
    return true;
  }

  function isPaused() {
    var box = document.getElementById("toasts");
    return document.visibilityState === "hidden" || !box || box.matches(":hover") ||
      box.contains(document.activeElement);
  }

  function dismiss(toast) {
    if (toast.classList.contains("toast-leaving")) { return; }
    toast.classList.add("toast-leaving");
    window.setTimeout(function () { toast.remove(); }, 180);
  }

  function tick() {
    var now = Date.now();
    var elapsed = now - lastTick;
    lastTick = now;
    var items = document.querySelectorAll("#toasts .toast:not(.toast-leaving)");
    if (!items.length) { window.clearInterval(ticking); ticking = null; return; }
    if (isPaused()) { return; }
    items.forEach(function (toast) {
      var left = Number(toast.dataset.remaining) - elapsed;
      if (left <= 0) { dismiss(toast); } else { toast.dataset.remaining = String(left); }
    });
  }

  function adoptToast(toast) {
    if (toast.dataset.adopted) { return; }
    toast.dataset.adopted = "1";
    var key = toast.dataset.toastKey;
    if (key && !firstShowing(key)) { toast.remove(); return; }
    toast.dataset.remaining = toast.dataset.toastTimeout || "5000";
    if (!ticking) { lastTick = Date.now(); ticking = window.setInterval(tick, 100); }
  }

  function toast(level, title, text, link) {
    var box = document.getElementById("toasts");
    if (!box) { return null; }
    var el = document.createElement("div");
    el.className = "toast toast-" + level;
    el.dataset.toastTimeout = String(TIMEOUTS[level] || 5000);
    el.appendChild(Object.assign(document.createElement("span"),
      { className: "toast-icon", textContent: { success: "✓", error: "!", warning: "!" }[level] || "i" }))
      .setAttribute("aria-hidden", "true");
    var body = el.appendChild(Object.assign(document.createElement("div"), { className: "toast-body" }));
    body.appendChild(Object.assign(document.createElement("strong"), { textContent: title }));
    if (text) { body.appendChild(document.createTextNode(" " + text)); }
    if (link) { body.appendChild(document.createTextNode(" ")); body.appendChild(Object.assign(document.createElement("a"), link)); }
    body.appendChild(document.createTextNode(" "));
    body.appendChild(Object.assign(document.createElement("span"), { className: "toast-time" }))
      .appendChild(timeElement(new Date()));
    var close = el.appendChild(Object.assign(document.createElement("button"),
      { type: "button", className: "toast-close", textContent: "×" }));
    close.setAttribute("aria-label", "Dismiss notification");
    close.dataset.toastClose = "";
    box.appendChild(el);
    adoptToast(el);
    return el;
  }

  // ---- moments: one convention for every <time data-time> (server text is UTC, the title the absolute UTC time) --
  // "auto": relative within a day ("just now", "5 min ago", "in 2 h"), else the reader's local date and time;
  // "clock": the local time with seconds (dated when not today); "relative": always relative ("2 d ago").
  // Relative texts are refreshed every 30 s.
  var DAY_MS = 24 * 3600 * 1000;

  function relative(ms) {
    var secs = Math.round(ms / 1000);
    var abs = Math.abs(secs);
    if (abs < 45) { return "just now"; }
    var text = abs < 3600 ? Math.max(1, Math.round(abs / 60)) + " min"
      : abs < 86400 ? Math.round(abs / 3600) + " h" : Math.floor(abs / 86400) + " d";
    return secs < 0 ? text + " ago" : "in " + text;
  }

  function localText(date, style, now) {
    var today = date.toDateString() === now.toDateString();
    var opts = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (style === "clock") { opts.second = "2-digit"; }
    if (!today) {
      opts.month = "short"; opts.day = "numeric";
      if (date.getFullYear() !== now.getFullYear()) { opts.year = "numeric"; }
    }
    return date.toLocaleString([], opts);
  }

  function formatTime(node, now) {
    var date = new Date(node.getAttribute("datetime"));
    if (isNaN(date.getTime())) { return; }
    var style = node.dataset.time || "auto";
    var diff = date.getTime() - now.getTime();
    var near = style === "relative" || (style === "auto" && Math.abs(diff) < DAY_MS);
    node.textContent = near ? relative(diff) : localText(date, style, now);
  }

  function refreshTimes() {
    var now = new Date();
    document.querySelectorAll("time[data-time]").forEach(function (node) { formatTime(node, now); });
  }

  function timeElement(date) {
    var el = document.createElement("time");
    el.setAttribute("datetime", date.toISOString());
    el.title = date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
    el.dataset.time = "auto";
    formatTime(el, new Date());
    return el;
  }

  function busy(event, on) {
    var target = event.detail && event.detail.target;
    if (target && target.matches && target.matches("[aria-busy]")) { target.setAttribute("aria-busy", on ? "true" : "false"); }
    if (on && target && target.closest) {
      var notice = target.closest(".table-region") && target.closest(".table-region").querySelector(".table-notice");
      if (notice) { notice.textContent = ""; notice.className = "table-notice"; }
    }
  }

  function adopt(root) {
    if (root.nodeType !== 1) { return; }
    var now = new Date();
    if (root.matches(".toast")) { adoptToast(root); }
    if (root.matches("time[data-time]")) { formatTime(root, now); }
    root.querySelectorAll("#toasts .toast, .toasts .toast").forEach(adoptToast);
    root.querySelectorAll("time[data-time]").forEach(function (node) { formatTime(node, now); });
    document.dispatchEvent(new CustomEvent("tt:adopt", { detail: { root: root } }));
  }

  function regionNotice(target, message, retryPath) {
    var region = target && target.closest ? target.closest(".table-region") : null;
    var notice = region && region.querySelector(".table-notice");
    if (!notice) {
      toast("error", "Request failed.", message);
      return;
    }
    notice.textContent = "";
    notice.className = "table-notice table-notice-error";
    notice.appendChild(Object.assign(document.createElement("span"), { textContent: message }));
    if (retryPath) {
      var retry = notice.appendChild(Object.assign(document.createElement("a"),
        { className: "button", href: retryPath, textContent: "Try again" }));
      retry.setAttribute("data-retry", "");
    }
  }

  function requestFailed(event, why) {
    var detail = event.detail || {};
    var elt = detail.elt;
    if (elt && elt.matches && elt.matches("[data-own-feedback]")) { return; }
    var config = detail.requestConfig || {};
    var path = config.verb === "get" ? (detail.pathInfo && detail.pathInfo.finalRequestPath) || config.path : null;
    regionNotice(detail.target || elt, why, path);
  }

  function wire() {
    document.addEventListener("htmx:beforeRequest", function (e) { busy(e, true); });
    document.addEventListener("htmx:afterRequest", function (e) { busy(e, false); });
    document.addEventListener("htmx:responseError", function (e) {
      requestFailed(e, "Could not load this (the server answered " + e.detail.xhr.status + ").");
    });
    document.addEventListener("htmx:sendError", function (e) {
      requestFailed(e, "Could not reach the server. Check the connection and try again.");
    });
    document.addEventListener("htmx:oobAfterSwap", function (e) {
      var target = e.detail && e.detail.target;
      if (target && target.tagName === "SELECT") {
        var chosen = target.querySelector("option[selected]");
        target.value = chosen ? chosen.value : "";
      }
    });
    document.body.addEventListener("showToast", function (e) {
      var d = e.detail || {};
      if (e.target && e.target.closest && e.target.closest("[data-own-feedback]")) { return; }
      toast(d.level || "info", d.title || d.message || "", d.title ? d.message : "");
    });
    new MutationObserver(function (records) {
      records.forEach(function (r) { r.addedNodes.forEach(adopt); });
    }).observe(document.body, { childList: true, subtree: true });
    adopt(document.body);
    window.setInterval(refreshTimes, 30000);
  }

  reloadIfFromCache();
  document.documentElement.classList.add("js");
  initTheme();
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-theme-toggle]")) { toggleTheme(); return; }
    var close = event.target.closest("[data-toast-close]");
    if (close) { dismiss(close.closest(".toast")); }
  });
  // Alt+N: focus the newest notification's link (or its dismiss button); its timer pauses while focused.
  document.addEventListener("keydown", function (event) {
    if (!event.altKey || event.ctrlKey || event.metaKey || (event.key || "").toLowerCase() !== "n") { return; }
    var toasts = document.querySelectorAll("#toasts .toast:not(.toast-leaving)");
    var newest = toasts[toasts.length - 1];
    var target = newest && newest.querySelector("a[href], button");
    if (target) { event.preventDefault(); target.focus(); }
  });
  // The sync status vocabulary (code, slug, label by name: syncStatus("COMPLETED").code), from base.html's
  // data-sync-statuses, so no script spells a status code out.
  var syncStatuses = null;
  function syncStatus(name) {
    if (!syncStatuses) {
      try {
        syncStatuses = JSON.parse(document.body.getAttribute("data-sync-statuses"));
      } catch (e) { syncStatuses = null; }
    }
    return (syncStatuses && syncStatuses[name]) || { code: null, slug: "", label: "" };
  }

  document.addEventListener("DOMContentLoaded", wire);
  window.tt = { toast: toast, dismissToast: dismiss, syncStatus: syncStatus };
})();
