"""Charts of a ``sizeup try``: quality against speed and against memory, Pareto front marked.

* :func:`write_chart` - PNG + SVG with matplotlib (Agg backend, as :mod:`sizeup.quality.chart`):
  left panel bits per byte vs generation tok/s, right panel bits per byte vs memory; front
  members in red and joined, the others grey; 95% intervals as error bars.
* :func:`text_chart` - the same left panel as a small character plot for the terminal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import SizeupError
from .verdict import _q, _tg, memory_of, usable


def write_chart(cands: list[dict[str, Any]], out_stem: Path, title: str) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise SizeupError("the try chart needs matplotlib: pip install 'sizeup[plot]'") from e
    pts = usable(cands)
    if not pts:
        return []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), dpi=120, sharey=True)
    for ax, xf, xl in ((axes[0], _tg, "generation speed (tok/s, higher is better)"),
                       (axes[1], lambda c: (memory_of(c) or 0) / 2**20, "memory (MiB, lower is better)")):
        for on, color, lab in ((False, "#999999", "dominated"), (True, "#d62728", "Pareto front")):
            sel = [c for c in pts if bool(c.get("on_front")) == on]
            if not sel:
                continue
            xs = [xf(c) for c in sel]
            ys = [_q(c, "bpb") for c in sel]
            err = [[max(0.0, y - ((c["quality"].get("bpb_ci95") or [y, y])[0])) for c, y in zip(sel, ys)],
                   [max(0.0, ((c["quality"].get("bpb_ci95") or [y, y])[1]) - y) for c, y in zip(sel, ys)]]
            ax.errorbar(xs, ys, yerr=err, fmt="o", color=color, label=lab, zorder=3 if on else 2, capsize=3)
        front = sorted(((xf(c), _q(c, "bpb")) for c in pts if c.get("on_front")), key=lambda p: p[0])
        if len(front) > 1:
            ax.plot([p[0] for p in front], [p[1] for p in front], color="#d62728", linewidth=1.0, zorder=1)
        for c in pts:
            ax.annotate(str(c["label"])[:40], (xf(c), _q(c, "bpb")), textcoords="offset points", xytext=(5, 4),
                        fontsize=7)
        ax.set_xlabel(xl)
        ax.margins(x=0.22)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("bits per byte on your text (lower is better)")
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.text(0.5, 0.01, "error bars: 95% interval across chunks; the verdict compares models chunk by chunk "
             "(paired), which is tighter", ha="center", fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        p = out_stem.parent / f"{out_stem.name}.{ext}"
        fig.savefig(p, format=ext)
        paths.append(p)
    plt.close(fig)
    return paths


def text_chart(cands: list[dict[str, Any]], width: int = 56, height: int = 12) -> list[str]:
    """Bits per byte (rows, lower at the bottom) against tok/s (columns): one letter per candidate,
    upper case on the Pareto front; followed by the legend."""
    pts = usable(cands)
    if len(pts) < 1:
        return []
    xs = [_tg(c) or 0.0 for c in pts]
    ys = [_q(c, "bpb") or 0.0 for c in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 - x0 < 1e-9:
        x0, x1 = x0 * 0.9, x1 * 1.1 + 1e-9
    if y1 - y0 < 1e-9:
        y0, y1 = y0 * 0.95, y1 * 1.05 + 1e-9
    grid = [[" "] * width for _ in range(height)]
    legend = []
    for k, (c, x, y) in enumerate(zip(pts, xs, ys)):
        ch = chr(ord("A") + k % 26)
        if not c.get("on_front"):
            ch = ch.lower()
        col = round((x - x0) / (x1 - x0) * (width - 1))
        row = round((y - y0) / (y1 - y0) * (height - 1))
        grid[row][col] = ch
        legend.append(f"  {ch} = {c['label']}" + (" (Pareto front)" if c.get("on_front") else ""))
    lines = [f"bits/byte  (upper case: Pareto front; lower is better quality)"]
    for r in range(height - 1, -1, -1):
        lab = f"{y0 + (y1 - y0) * r / (height - 1):6.3f}" if r in (0, height - 1) else "      "
        lines.append(f"{lab} |" + "".join(grid[r]))
    lines.append("       +" + "-" * width)
    lines.append(f"        {x0:<10.1f}{'tok/s (generation)':^{width - 20}}{x1:>10.1f}")
    return lines + legend
