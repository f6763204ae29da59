// Records over time as an inline SVG bar chart, built here (no chart library, nothing from another host).
// Months whose count is withheld (too few records) are drawn as an outlined stub and named in the table below.
"use strict";

(function () {
  const NS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, text) {
    const el = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // months: [{month: "2025-03", records: 120 | null}]; returns a <figure> with the chart and a data table.
  window.HDS.timeline = function (months, labels) {
    const t = window.HDS.t, h = window.HDS.h;
    const W = 720, H = 220, left = 48, bottom = 36, top = 12, right = 8;
    const max = Math.max(1, ...months.map(function (m) { return m.records || 0; }));
    const step = (W - left - right) / Math.max(1, months.length);
    const bar = Math.max(2, step * 0.7);
    const svg = s("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": "chart-title chart-desc",
      class: "chart", preserveAspectRatio: "xMinYMin meet" });
    svg.appendChild(s("title", { id: "chart-title" }, labels.title));
    svg.appendChild(s("desc", { id: "chart-desc" }, labels.desc));
    const y = function (v) { return top + (H - top - bottom) * (1 - v / max); };
    [0, 0.5, 1].forEach(function (f) {
      const v = Math.round(max * f);
      svg.appendChild(s("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: "grid" }));
      svg.appendChild(s("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, window.HDS.fmtNumber(v)));
    });
    const every = Math.max(1, Math.ceil(months.length / 12));
    months.forEach(function (m, i) {
      const x = left + i * step + (step - bar) / 2;
      if (m.records === null) {
        svg.appendChild(s("rect", { x: x, y: y(0) - 6, width: bar, height: 6, class: "bar-withheld" }));
      } else {
        const r = s("rect", { x: x, y: y(m.records), width: bar, height: Math.max(0, y(0) - y(m.records)), class: "bar" });
        r.appendChild(s("title", {}, m.month + ": " + window.HDS.fmtNumber(m.records)));
        svg.appendChild(r);
      }
      if (i % every === 0) {
        svg.appendChild(s("text", { x: x + bar / 2, y: H - bottom + 16, "text-anchor": "middle", class: "axis" }, m.month));
      }
    });
    const rows = months.map(function (m) {
      return h("tr", null, h("td", null, m.month), h("td", { class: "num" },
        m.records === null ? t("chart.withheld") : window.HDS.fmtNumber(m.records)));
    });
    const details = h("details", null, h("summary", null, t("chart.table")),
      window.HDS.table(labels.title, ["chart.month", "chart.records"], rows));
    return h("figure", { class: "timeline" }, svg, h("figcaption", null, labels.caption), details);
  };
})();
