// Governance cockpit: draws each chart from its data-chart-spec JSON (no inline script), with colours read from CSS
// variables so both themes look right; redraws on theme change and whenever the dashboard body is swapped.
(function () {
  "use strict";
  var charts = [];
  var pending = false;

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function readSpec(figure) {
    var raw = figure.getAttribute("data-chart-spec");
    if (!raw) { return null; }
    try { return JSON.parse(raw); } catch (e) { return null; }
  }

  // A series rebuilt from the items' dates (every point, or some) is drawn dashed with hollow points.
  var DASH = [6, 4];

  function rebuiltStyle(set, rebuilt) {
    if (!rebuilt || rebuilt.indexOf(true) < 0) { return; }
    if (rebuilt.indexOf(false) < 0) {
      set.borderDash = DASH;
    } else {
      set.segment = { borderDash: function (ctx) { return rebuilt[ctx.p1DataIndex] ? DASH : undefined; } };
    }
    set.pointBackgroundColor = rebuilt.map(function (r) { return r ? "transparent" : set.borderColor; });
  }

  function dataset(spec, series) {
    var colour = cssVar(series.color) || cssVar("--chart-1");
    var line = spec.type === "line";
    var set = {
      label: series.name, data: series.values, links: series.links,
      backgroundColor: colour, borderColor: colour, borderWidth: line ? 2 : 0,
      pointRadius: line ? 2 : 0, spanGaps: true, maxBarThickness: 36
    };
    if (series.axis === "right") {  // per-day counts: translucent bars behind the lines, on their own axis
      set.yAxisID = "y1";
      set.type = "bar";
      set.order = 2;
      set.backgroundColor = /^#[0-9a-f]{6}$/i.test(colour) ? colour + "99" : colour;
      set.borderWidth = 0;
      set.pointRadius = 0;
      return set;
    }
    rebuiltStyle(set, series.reconstructed);
    return set;
  }

  function scales(spec) {
    var grid = cssVar("--chart-grid");
    var muted = cssVar("--muted");
    var values = { beginAtZero: true, stacked: spec.stacked, ticks: { color: muted, precision: 0 },
      grid: { color: grid }, border: { color: grid } };
    var labels = { stacked: spec.stacked, ticks: { color: muted, autoSkip: !spec.horizontal },
      grid: { display: false }, border: { color: grid } };
    if (spec.horizontal) { return { x: values, y: labels }; }
    var axes = { x: labels, y: values };
    if (spec.series.some(function (s) { return s.axis === "right"; })) {
      axes.y1 = { beginAtZero: true, position: "right", ticks: { color: muted, precision: 0 },
        grid: { display: false }, border: { color: grid }, title: { display: true, text: "per day", color: muted } };
    }
    return axes;
  }

  function linkAt(chart, elements) {
    if (!elements.length) { return null; }
    var links = chart.data.datasets[elements[0].datasetIndex].links || [];
    return links[elements[0].index] || null;
  }

  function config(spec) {
    return {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.series.map(function (s) { return dataset(spec, s); }) },
      options: {
        indexAxis: spec.horizontal ? "y" : "x", responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "nearest", intersect: spec.type !== "line" },
        scales: scales(spec),
        plugins: { legend: { labels: { color: cssVar("--text"), boxWidth: 14 } } },
        onClick: function (event, elements, chart) {
          var link = linkAt(chart, elements);
          if (link) { window.location.assign(link); }
        },
        onHover: function (event, elements, chart) {
          chart.canvas.style.cursor = linkAt(chart, elements) ? "pointer" : "default";
        }
      }
    };
  }

  function draw(figure) {
    var canvas = figure.querySelector("canvas");
    if (!canvas || !window.Chart || window.Chart.getChart(canvas)) { return; }
    var spec = readSpec(figure);
    if (!spec) { return; }
    window.Chart.defaults.color = cssVar("--text");
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    charts.push(new window.Chart(canvas, config(spec)));
    figure.classList.add("chart-drawn");
    figure.setAttribute("data-drawn-theme", document.documentElement.getAttribute("data-theme") || "light");
  }

  function drawAll() {
    pending = false;
    charts = charts.filter(function (chart) {
      if (chart.canvas && chart.canvas.isConnected) { return true; }
      chart.destroy();
      return false;
    });
    document.querySelectorAll("figure[data-chart]").forEach(draw);
  }

  function redrawAll() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    drawAll();
  }

  function schedule() {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(drawAll);
  }

  // sync.js refreshes [data-refresh-url] when a sync completes; a failed sync changes the trust stamps too.
  function onSyncStatus(event) {
    var body = document.getElementById("dashboard-body");
    var failed = window.tt.syncStatus("FAILED").code;
    if (!body || !window.htmx || !event.detail || event.detail.status !== failed) { return; }
    var y = window.scrollY;
    window.htmx.ajax("GET", body.getAttribute("data-refresh-url"),
      { target: "#dashboard-body", swap: "outerHTML", select: "#dashboard-body" })
      .then(function () { window.scrollTo(window.scrollX, y); }, function () { /* keep the old body */ });
  }

  function start() {
    drawAll();
    new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true });
    new MutationObserver(redrawAll).observe(document.documentElement,
      { attributes: true, attributeFilter: ["data-theme"] });
    document.addEventListener("tt:sync-status", onSyncStatus);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
