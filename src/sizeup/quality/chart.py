"""The quality-vs-size chart of a quantization matrix (matplotlib, Agg backend: no display needed).

x: file size (GiB), y: mean KL divergence against the reference (log scale: quantization error
spans orders of magnitude, from ~1e-4 for Q8_0 to ~1 for 2-bit types). The Pareto front - the
types no other type beats on both size and KLD - is drawn as a line; the others are the ones
never worth choosing on these two criteria.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import SizeupError


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated (smaller-or-equal size and KLD, one strictly smaller)."""
    front = []
    for i, (s, k) in enumerate(points):
        dominated = any((s2 <= s and k2 <= k) and (s2 < s or k2 < k) for j, (s2, k2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def write_chart(rows: list[dict[str, Any]], out_stem: Path, title: str) -> list[Path]:
    """Write ``out_stem``.png and .svg; rows need ftype, gib, kld_mean and on_front."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise SizeupError("the quality chart needs matplotlib: pip install 'sizeup[plot]'") from e
    pts = [r for r in rows if r.get("kld_mean") is not None]
    if not pts:
        return []
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    floor = 1e-6  # log axis: a KLD of exactly 0 (reference copied) is drawn at the floor
    xs = [r["gib"] for r in pts]
    ys = [max(r["kld_mean"], floor) for r in pts]
    on = [r.get("on_front", False) for r in pts]
    ax.scatter([x for x, o in zip(xs, on) if not o], [y for y, o in zip(ys, on) if not o], color="#999999",
               label="dominated", zorder=3)
    ax.scatter([x for x, o in zip(xs, on) if o], [y for y, o in zip(ys, on) if o], color="#d62728",
               label="Pareto front", zorder=4)
    front = sorted((x, y) for x, y, o in zip(xs, ys, on) if o)
    if len(front) > 1:
        ax.plot([p[0] for p in front], [p[1] for p in front], color="#d62728", linewidth=1.2, zorder=2)
    for r, x, y in zip(pts, xs, ys):
        ax.annotate(r["ftype"], (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("file size (GiB)")
    ax.set_ylabel("mean KL divergence vs reference (log)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        p = out_stem.parent / f"{out_stem.name}.{ext}"  # not with_suffix: stems contain dots
        fig.savefig(p, format=ext)
        paths.append(p)
    plt.close(fig)
    return paths
