"""Inline SVG scatter charts for the HTML report (no library, no script needed to draw them).

Every point is a focusable ``<g class="pt">`` with a ``<title>`` (the browser's own hover text) and a
``data-tip`` attribute the report's small script shows as a tooltip on hover, focus or tap. Every
string that reaches the SVG goes through :func:`html.escape` (text and attributes alike).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Callable

W, H = 640, 420
ML, MR, MT, MB = 70, 20, 16, 56  # margins: left (y tick labels), right, top, bottom (x tick labels + axis title)
MAX_POINTS = 2000
LABEL_POINTS = 14  # points are labelled in the chart only when there are at most this many
PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d")


def esc(v: object) -> str:
    return escape(str(v), quote=True)


@dataclass
class Point:
    x: float
    y: float
    label: str = ""
    tip: str = ""
    series: str = ""
    front: bool = False


@dataclass
class Axis:
    title: str
    log: bool = False
    fmt: Callable[[float], str] = field(default=lambda v: f"{v:g}")


def _nice_step(span: float, n: int = 5) -> float:
    raw = span / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def domain(values: list[float], log: bool) -> tuple[float, float]:
    """Padded [lo, hi] for ``values`` (positive only on a log axis)."""
    vals = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not vals:
        return (1.0, 10.0) if log else (0.0, 1.0)
    lo, hi = min(vals), max(vals)
    if log:
        a, b = math.log10(lo), math.log10(hi)
        pad = max((b - a) * 0.08, 0.05)
        return 10 ** (a - pad), 10 ** (b + pad)
    if hi == lo:
        d = abs(hi) * 0.1 or 1.0
        return lo - d, hi + d
    pad = (hi - lo) * 0.08
    lo2 = lo - pad
    if lo >= 0 and lo2 < 0:
        lo2 = 0.0
    return lo2, hi + pad


def ticks(lo: float, hi: float, log: bool, n: int = 5) -> list[float]:
    if log:
        out = []
        a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        mults = (1, 2, 5) if b - a <= 3 else (1,)
        for e in range(a, b + 1):
            for m in mults:
                v = m * 10 ** e
                if lo <= v <= hi:
                    out.append(v)
        if len(out) < 4:  # a narrow range (about a decade or less): evenly stepped ticks read better
            return [v for v in ticks(lo, hi, False, 7) if v > 0]
        return out
    step = _nice_step(hi - lo, n)
    start = math.ceil(lo / step) * step
    out = []
    v = start
    while v <= hi + step * 1e-9 and len(out) < 20:
        out.append(round(v, 12))
        v += step
    return out


class _Scale:
    def __init__(self, lo: float, hi: float, log: bool, a: float, b: float) -> None:
        self.log = log
        self.lo, self.hi = (math.log10(lo), math.log10(hi)) if log else (lo, hi)
        self.a, self.b = a, b

    def __call__(self, v: float) -> float:
        t = math.log10(v) if self.log else v
        span = self.hi - self.lo or 1.0
        return self.a + (t - self.lo) / span * (self.b - self.a)


def scatter(points: list[Point], x: Axis, y: Axis, *, title: str, chart_id: str, diagonal: bool = False,
            front_line: bool = False, note: str = "") -> str:
    """An SVG scatter chart as a string (inside a ``<figure>`` with a caption and an HTML legend).

    ``diagonal``: both axes share one domain and the line y = x is drawn (prediction = measurement).
    ``front_line``: connect the points marked ``front`` (a Pareto front) in x order.
    Points with a non-finite coordinate, or a non-positive one on a log axis, are left out (and counted).
    """
    pts = []
    dropped = 0
    for p in points[:MAX_POINTS]:
        ok = all(math.isfinite(v) and (v > 0 or not log) for v, log in ((p.x, x.log), (p.y, y.log)))
        if ok:
            pts.append(p)
        else:
            dropped += 1
    if diagonal:
        dx = dy = domain([p.x for p in pts] + [p.y for p in pts], x.log and y.log)
    else:
        dx, dy = domain([p.x for p in pts], x.log), domain([p.y for p in pts], y.log)
    sx = _Scale(*dx, x.log, ML, W - MR)
    sy = _Scale(*dy, y.log, H - MB, MT)
    series = list(dict.fromkeys(p.series for p in pts))
    colour = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(series)}
    o: list[str] = [f'<svg class="chart" id="{esc(chart_id)}" viewBox="0 0 {W} {H}" role="img" '
                    f'aria-label="{esc(title)}" xmlns="http://www.w3.org/2000/svg">']
    o.append(f'<rect class="plot" x="{ML}" y="{MT}" width="{W - ML - MR}" height="{H - MT - MB}"/>')
    for v in ticks(*dx, x.log):
        px = sx(v)
        o.append(f'<line class="grid" x1="{px:.1f}" y1="{MT}" x2="{px:.1f}" y2="{H - MB}"/>'
                 f'<text class="tick" x="{px:.1f}" y="{H - MB + 16}" text-anchor="middle">{esc(x.fmt(v))}</text>')
    for v in ticks(*dy, y.log):
        py = sy(v)
        o.append(f'<line class="grid" x1="{ML}" y1="{py:.1f}" x2="{W - MR}" y2="{py:.1f}"/>'
                 f'<text class="tick" x="{ML - 6}" y="{py + 4:.1f}" text-anchor="end">{esc(y.fmt(v))}</text>')
    o.append(f'<text class="axis" x="{(ML + W - MR) / 2:.0f}" y="{H - 12}" text-anchor="middle">{esc(x.title)}</text>')
    o.append(f'<text class="axis" transform="translate(16 {(MT + H - MB) / 2:.0f}) rotate(-90)" '
             f'text-anchor="middle">{esc(y.title)}</text>')
    if diagonal:
        lo, hi = dx
        o.append(f'<line class="diag" x1="{sx(lo):.1f}" y1="{sy(lo):.1f}" x2="{sx(hi):.1f}" y2="{sy(hi):.1f}">'
                 '<title>y = x: prediction equals measurement</title></line>')
    if front_line:
        fr = sorted((p for p in pts if p.front), key=lambda p: p.x)
        if len(fr) >= 2:
            path = " ".join(f"{sx(p.x):.1f},{sy(p.y):.1f}" for p in fr)
            o.append(f'<polyline class="front" points="{path}"><title>Pareto front</title></polyline>')
    show_labels = len(pts) <= LABEL_POINTS
    for p in pts:
        px, py = sx(p.x), sy(p.y)
        tip = p.tip or f"{p.label}: {x.title} {x.fmt(p.x)}, {y.title} {y.fmt(p.y)}"
        cls = "pt front-pt" if p.front else "pt"
        o.append(f'<g class="{cls}" tabindex="0" data-tip="{esc(tip)}" data-x="{p.x:.6g}" data-y="{p.y:.6g}">'
                 f'<title>{esc(tip)}</title>'
                 f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{7 if p.front else 5.5}" fill="{colour[p.series]}"/>')
        if show_labels and p.label:
            anchor = "end" if px > W - MR - 120 else "start"
            dxl = -9 if anchor == "end" else 9
            o.append(f'<text class="plabel" x="{px + dxl:.1f}" y="{py - 7:.1f}" text-anchor="{anchor}">'
                     f'{esc(p.label[:40])}</text>')
        o.append("</g>")
    o.append("</svg>")
    legend = ""
    if len(series) > 1 or (series and series[0]):
        legend = '<ul class="legend">' + "".join(
            f'<li><span class="swatch" style="background:{colour[s]}"></span>{esc(s or "other")}</li>' for s in series) + "</ul>"
    extra = []
    if diagonal:
        extra.append("dashed line: prediction = measurement")
    if front_line:
        extra.append("ringed points and line: Pareto front")
    if dropped:
        extra.append(f"{dropped} point{'s' if dropped != 1 else ''} without a plottable value left out")
    if note:
        extra.append(note)
    cap = esc(title) + (f' <span class="muted">({esc("; ".join(extra))})</span>' if extra else "")
    return f'<figure class="chartbox">{"".join(o)}{legend}<figcaption>{cap}</figcaption></figure>'
