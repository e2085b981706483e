// Live sync UI on top of the htmx SSE extension. The layout opens one EventSource to /events; its `sync-ui` messages
// carry out-of-band fragments (status widgets with their buttons, toasts) that htmx swaps by itself. This file adds:
//  - Last-Event-ID that survives the extension's own reconnects and page navigation (?last_event_id=),
//  - table/dashboard refresh in place when a sync completes (from the JSON `SyncStatusUpdated` frames),
//  - toasts for the Sync and Cancel buttons' own responses, the 10 s clearing of finished widgets, focus keeping.
(function () {
  "use strict";
  var LAST_ID_KEY = "tt-last-event-id";
  var CARRY_MS = 5 * 60 * 1000;
  var lastEventId = null;
  var jobStatus = {};
  var cancelling = {};
  var refreshing = {};
  var hooked = typeof WeakSet === "function" ? new WeakSet() : null;
  var focusedId = null;

  // ---- Last-Event-ID across reconnects and page loads -------------------------------------------------------------
  function storedLastId() {
    try {
      var saved = JSON.parse(sessionStorage.getItem(LAST_ID_KEY) || "null");
      return saved && Date.now() - saved.at < CARRY_MS ? saved.id : null;
    } catch (e) { return null; }
  }

  function rememberLastId(id) {
    if (!id) { return; }
    lastEventId = id;
    try { sessionStorage.setItem(LAST_ID_KEY, JSON.stringify({ id: id, at: Date.now() })); } catch (e) { /* full */ }
  }

  function withLastId(url) {
    var id = lastEventId || storedLastId();
    return id ? url + (url.indexOf("?") < 0 ? "?" : "&") + "last_event_id=" + encodeURIComponent(id) : url;
  }

  // The extension calls this for its first connection and for every reconnect after the stream was CLOSED.
  htmx.createEventSource = function (url) {
    return new EventSource(withLastId(url), { withCredentials: true });
  };

  // ---- refresh in place -------------------------------------------------------------------------------------------
  function withParam(url, name, value) {
    return url + (url.indexOf("?") < 0 ? "?" : "&") + name + "=" + encodeURIComponent(value);
  }

  function refreshUrl(el) {
    var url = el.dataset.refreshUrl + (el.dataset.refreshParams ? (el.dataset.refreshUrl.indexOf("?") < 0 ? "?" : "&") +
      el.dataset.refreshParams : "");
    var size = Number(el.dataset.pageSize || 0);
    var rows = size ? el.querySelectorAll("tbody > tr:not(.more-row)").length : 0;
    return rows > size ? withParam(url, "limit", Math.min(rows, 500)) : url;
  }

  function refresh(el) {
    var id = el.id;
    if (!id || !el.dataset.refreshUrl) { return; }
    if (refreshing[id]) { refreshing[id] = "again"; return; }
    if (el.closest(".htmx-request")) {  // a filter or sort request is replacing it right now: refresh after that
      window.setTimeout(function () { var next = document.getElementById(id); if (next) { refresh(next); } }, 300);
      return;
    }
    refreshing[id] = "busy";
    var y = window.scrollY;
    el.setAttribute("aria-busy", "true");
    htmx.ajax("GET", refreshUrl(el), { target: "#" + id, swap: "outerHTML", select: "#" + id })
      .then(function () { window.scrollTo(window.scrollX, y); }, function () { /* the error state shows */ })
      .then(function () {
        var again = refreshing[id] === "again";
        delete refreshing[id];
        var fresh = document.getElementById(id);
        if (fresh) { fresh.setAttribute("aria-busy", "false"); if (again) { refresh(fresh); } }
      });
  }

  function wants(el, payload, changed) {
    var types = el.dataset.refreshTypes;
    if (types && types.split(/\s+/).indexOf(payload.type) < 0) { return false; }
    if (el.dataset.refreshJob && el.dataset.refreshJob !== payload.jobId) { return false; }
    if ((el.dataset.refreshOn || "completed") === "status") { return changed; }
    return changed && payload.status === window.tt.syncStatus("COMPLETED").code;
  }

  function onStatus(payload) {
    var changed = jobStatus[payload.jobId] !== payload.status;
    jobStatus[payload.jobId] = payload.status;
    document.querySelectorAll("[data-refresh-url]").forEach(function (el) {
      if (wants(el, payload, changed)) { refresh(el); }
    });
    document.dispatchEvent(new CustomEvent("tt:sync-status", { detail: payload }));
  }

  function refreshAll() {
    document.querySelectorAll("[data-refresh-url]").forEach(refresh);
  }

  // ---- the stream -------------------------------------------------------------------------------------------------
  function streamState(up) {
    document.documentElement.setAttribute("data-stream", up ? "up" : "down");
    var note = document.getElementById("stream-note");
    if (note) { note.hidden = up; }
  }

  function hook(source) {
    if (hooked && hooked.has(source)) { return; }
    if (hooked) { hooked.add(source); }
    source.addEventListener("SyncStatusUpdated", function (message) {
      rememberLastId(message.lastEventId);
      try { onStatus(JSON.parse(message.data)); } catch (e) { /* malformed frame: the HTML frame still applies */ }
    });
    source.addEventListener("resync", refreshAll);
  }

  function onOpen(event) {
    var reconnect = document.documentElement.getAttribute("data-stream") === "down";
    streamState(true);
    hook(event.detail.source);
    if (reconnect) { document.dispatchEvent(new CustomEvent("tt:stream-reconnected")); }
  }

  // ---- widgets: 10 s clearing, cancel state, focus ----------------------------------------------------------------
  function clearWidget(widget) {
    var idle = window.tt.syncStatus("IDLE");
    if (!widget.isConnected || widget.dataset.state === idle.slug) { return; }
    widget.dataset.state = idle.slug;
    widget.dataset.status = String(idle.code);
    widget.removeAttribute("data-clear-after");
    widget.querySelectorAll(".sync-result, .sync-pill").forEach(function (n) { n.hidden = true; });
    var summary = widget.querySelector(".sync-summary");
    if (summary) { summary.hidden = false; }
  }

  function adoptWidget(widget) {
    if (widget.dataset.clearAfter && !widget.dataset.clearing) {
      widget.dataset.clearing = "1";
      window.setTimeout(function () { clearWidget(widget); }, Number(widget.dataset.clearAfter));
    }
    var cancel = widget.querySelector(".sync-cancel");
    if (cancel && cancelling[cancel.dataset.jobId]) {
      cancel.disabled = true;
      cancel.textContent = "Cancelling…";
    }
  }

  function onAdopt(event) {
    var root = event.detail.root;
    if (root.matches(".sync-status")) { adoptWidget(root); }
    root.querySelectorAll(".sync-status").forEach(adoptWidget);
  }

  function inWidget(node) {
    return Boolean(node && node.closest && node.closest(".sync-status"));
  }

  function trackFocus(event) {
    focusedId = inWidget(event.target) && event.target.id ? event.target.id : null;
  }

  function restoreFocus() {
    var active = document.activeElement;
    if (!focusedId || (active && active !== document.body && active.isConnected)) { return; }
    var el = document.getElementById(focusedId);
    var widget = el && el.closest(".sync-status");
    var target = el && !el.disabled ? el : widget && widget.querySelector("button:not([disabled]), a[href]");
    if (target) { target.focus(); }
  }

  // ---- the Sync and Cancel buttons' own responses (read from the XHR: the button may be swapped already) --------
  function responseJson(xhr) {
    try { return JSON.parse(xhr.responseText || "{}"); } catch (e) { return {}; }
  }

  function triggerDone(type, xhr) {
    var body = responseJson(xhr);
    if (xhr.status === 0) {
      window.tt.toast("error", type + " sync not started.", "Could not reach the server. Check the connection.");
    } else if (xhr.status >= 400) {
      window.tt.toast("error", type + " sync not started.", body.error || "The server answered " + xhr.status + ".");
    } else if (body.created === false) {
      window.tt.toast("info", type + " sync already in progress.", body.message || "");
    } else {
      window.tt.toast("info", type + " sync started.", "It runs in the background; you can keep working.");
    }
  }

  function cancelDone(xhr) {
    if (xhr.status >= 200 && xhr.status < 300) { return; }
    var body = responseJson(xhr);
    window.tt.toast("error", "Could not cancel the sync.", body.error || "The server answered " + (xhr.status || "nothing") + ".");
  }

  function beforeRequest(event) {
    var elt = event.detail.elt;
    var xhr = event.detail.xhr;
    if (!elt || !xhr || !elt.matches) { return; }
    if (elt.matches(".sync-btn")) {
      var type = elt.dataset.syncType;
      xhr.addEventListener("loadend", function () { triggerDone(type, xhr); });
    } else if (elt.matches(".sync-cancel")) {
      cancelling[elt.dataset.jobId] = true;
      elt.textContent = "Cancelling…";
      xhr.addEventListener("loadend", function () { cancelDone(xhr); });
    }
  }

  // A page restored from the back/forward cache shows a frozen past; load it afresh instead.
  window.addEventListener("pageshow", function (event) { if (event.persisted) { window.location.reload(); } });
  document.addEventListener("htmx:sseOpen", onOpen);
  document.addEventListener("htmx:sseError", function () { streamState(false); });
  // Keyboard focus on a widget's button survives the swap that replaces it (or moves to Cancel when Sync disables).
  document.addEventListener("focusin", trackFocus);
  document.addEventListener("mousedown", function (event) { if (!inWidget(event.target)) { focusedId = null; } });
  document.addEventListener("htmx:sseMessage", function (event) {
    rememberLastId(event.detail && event.detail.lastEventId);
    restoreFocus();
  });
  document.addEventListener("htmx:beforeRequest", beforeRequest);
  document.addEventListener("tt:adopt", onAdopt);
  document.addEventListener("tt:stream-reconnected", refreshAll);
  window.ttSync = { refreshAll: refreshAll, lastEventId: function () { return lastEventId || storedLastId(); } };
})();
