"""``sizeup report``: one self-contained HTML file (machine, ranking, estimates vs measurements,
quantization quality, ``try`` experiments).

    from sizeup.report import collect, render
    html = render(collect())          # collect() probes this machine and reads the history
"""

from __future__ import annotations

from .collect import collect
from .html import render

__all__ = ["collect", "render"]
