"""The report's inline stylesheet and script (no fonts, images or scripts from anywhere else).

The script does two things and touches the page only through ``textContent`` and attributes:
tables sort when a header is clicked, and chart points show their ``data-tip`` in a tooltip on
hover, keyboard focus or tap.
"""

CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 color:#1f2937;background:#f6f7f9}
header.top{background:#111827;color:#f9fafb;padding:14px 16px}
header.top h1{margin:0;font-size:1.35rem}
header.top p{margin:4px 0 0;color:#cbd5e1;font-size:.9rem;overflow-wrap:anywhere}
nav.toc{display:flex;flex-wrap:wrap;gap:6px 14px;padding:8px 16px;background:#e5e7eb;font-size:.92rem;
 position:sticky;top:0;z-index:5}
nav.toc a{color:#1d4ed8;text-decoration:none}
main{max-width:1240px;margin:0 auto;padding:8px 16px 40px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;margin:16px 0}
h2{margin:.2rem 0 .6rem;font-size:1.2rem}
h3{margin:1rem 0 .4rem;font-size:1.02rem;overflow-wrap:anywhere}
p{overflow-wrap:anywhere}
.muted{color:#6b7280}
.empty{color:#6b7280;font-style:italic}
code{font:13px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;padding:1px 4px;
 border-radius:3px;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,220px),1fr));gap:10px;margin:8px 0}
.card{border:1px solid #e5e7eb;border-radius:6px;padding:8px 10px;background:#fafafa;min-width:0}
.card .k{font-size:.8rem;color:#6b7280}
.card .v{font-size:1.05rem;font-weight:600;overflow-wrap:anywhere}
.tags{display:flex;flex-wrap:wrap;gap:4px;margin:6px 0}
.tag{font-size:.78rem;background:#eef2ff;color:#3730a3;border-radius:10px;padding:1px 8px}
.tablewrap{overflow-x:auto;max-width:100%;margin:8px 0;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.88rem;font-variant-numeric:tabular-nums}
th,td{padding:5px 8px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap}
td.wrap{min-width:16rem}
td.nw{white-space:nowrap}
thead th{background:#f3f4f6;white-space:nowrap;position:relative}
th button{all:unset;cursor:pointer;display:block;width:100%}
th button:focus-visible{outline:2px solid #2563eb}
th[aria-sort=ascending] button::after{content:" \\25B2";font-size:.7em}
th[aria-sort=descending] button::after{content:" \\25BC";font-size:.7em}
tbody tr:hover{background:#f9fafb}
.fit-good{color:#047857;font-weight:600}.fit-tight,.fit-partial{color:#b45309;font-weight:600}.fit-no{color:#b91c1c}
.bad{color:#b91c1c}.ok{color:#047857}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,460px),1fr));gap:14px;margin:10px 0}
figure.chartbox{margin:0;border:1px solid #e5e7eb;border-radius:6px;padding:6px;background:#fff;min-width:0}
figure.chartbox figcaption{font-size:.86rem;padding:4px 6px}
svg.chart{width:100%;height:auto;display:block}
svg.chart .plot{fill:#fcfcfd;stroke:#d1d5db}
svg.chart .grid{stroke:#eceef1}
svg.chart .tick{font-size:12px;fill:#4b5563}
svg.chart .axis{font-size:13px;fill:#111827}
svg.chart .diag{stroke:#6b7280;stroke-dasharray:6 5;stroke-width:1.5}
svg.chart .front{fill:none;stroke:#111827;stroke-width:1.5;stroke-dasharray:2 3}
svg.chart .pt{cursor:pointer;outline:none}
svg.chart .pt circle{stroke:#fff;stroke-width:1.5;fill-opacity:.9}
svg.chart .front-pt circle{stroke:#111827;stroke-width:2.5}
svg.chart .pt:hover circle,svg.chart .pt:focus circle{stroke:#111827;stroke-width:3}
svg.chart .plabel{font-size:11px;fill:#374151;pointer-events:none}
ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 14px;margin:4px 6px;padding:0;font-size:.82rem}
.swatch{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:5px}
.verdict{background:#f0fdf4;border-left:4px solid #10b981;padding:6px 10px;margin:8px 0}
.verdict li{overflow-wrap:anywhere}
#tip{position:fixed;z-index:20;max-width:min(360px,90vw);background:#111827;color:#f9fafb;font-size:.82rem;
 padding:6px 8px;border-radius:5px;pointer-events:none;white-space:pre-line;overflow-wrap:anywhere}
footer{max-width:1240px;margin:0 auto;padding:0 16px 30px;font-size:.82rem;color:#6b7280;overflow-wrap:anywhere}
@media (max-width:640px){
 body{font-size:14px} main{padding:4px 8px 30px} section{padding:10px 10px;margin:10px 0}
 header.top{padding:10px}
 .cards{grid-template-columns:repeat(auto-fill,minmax(min(100%,150px),1fr))}
 svg.chart .tick{font-size:19px} svg.chart .axis{font-size:20px} svg.chart .plabel{font-size:17px}
}
@media print{nav.toc{position:static} #tip{display:none}}
"""

JS = """
(function () {
  "use strict";
  function num(td) {
    var v = td ? td.getAttribute("data-v") : null;
    if (v === null || v === "") return null;
    var n = Number(v);
    return isNaN(n) ? null : n;
  }
  function sortBy(th) {
    var table = th.closest("table");
    var body = table.tBodies[0];
    if (!body) return;
    var heads = Array.prototype.slice.call(th.parentNode.children);
    var idx = heads.indexOf(th);
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var numeric = th.getAttribute("data-type") === "num";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ca = a.cells[idx], cb = b.cells[idx];
      if (numeric) {
        var va = num(ca), vb = num(cb);
        if (va === null && vb === null) return 0;
        if (va === null) return 1;   /* blanks last either way */
        if (vb === null) return -1;
        return (va - vb) * sign;
      }
      var ta = ca ? ca.textContent : "", tb = cb ? cb.textContent : "";
      return ta.localeCompare(tb, undefined, {numeric: true, sensitivity: "base"}) * sign;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable thead th").forEach(function (th) {
    var b = th.querySelector("button");
    if (b) b.addEventListener("click", function () { sortBy(th); });
  });

  var tip = document.getElementById("tip");
  function show(g) {
    tip.textContent = g.getAttribute("data-tip") || "";
    tip.hidden = false;
    var r = g.getBoundingClientRect();
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var x = Math.min(Math.max(4, r.left + r.width / 2 - w / 2), window.innerWidth - w - 4);
    var y = r.top - h - 8;
    if (y < 4) y = r.bottom + 8;
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  function hide() { tip.hidden = true; }
  function pointOf(e) { return e.target && e.target.closest ? e.target.closest("svg .pt") : null; }
  document.addEventListener("pointerover", function (e) { var g = pointOf(e); if (g) show(g); });
  document.addEventListener("pointerout", function (e) { if (pointOf(e)) hide(); });
  document.addEventListener("focusin", function (e) { var g = pointOf(e); if (g) show(g); else hide(); });
  document.addEventListener("focusout", function (e) { if (pointOf(e)) hide(); });
  window.addEventListener("scroll", hide, {passive: true});
})();
"""
