"""Enumerating GPUs under /sys/class/drm (shared by the AMD and Intel probes).

Each ``cardN`` directory is one GPU; ``cardN-DP-1`` and friends are its connectors and
``renderD128`` the render node, both skipped. The PCI identity comes from ``device/uevent``
(``PCI_ID=1002:744C``, ``DRIVER=amdgpu``), with ``device/vendor``/``device/device`` as the
fallback, so recorded test trees only need plain files, no symlinks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .runner import read_int, read_text, under

MAX_CARDS = 64


@dataclass(frozen=True)
class DrmCard:
    card: str  # "card0"
    path: Path  # .../card0/device
    vendor_id: int
    device_id: int
    driver: str


def list_cards(root: Path | str = "/") -> list[DrmCard]:
    base = under(root, "/sys/class/drm")
    try:
        names = sorted((p.name for p in base.iterdir() if re.fullmatch(r"card\d+", p.name)), key=lambda n: int(n[4:]))
    except OSError:
        return []
    cards = []
    for name in names[:MAX_CARDS]:
        dev = base / name / "device"
        uevent = read_text(dev / "uevent", 8192) or ""
        kv = dict(line.split("=", 1) for line in uevent.splitlines() if "=" in line)
        vendor = device = None
        m = re.fullmatch(r"([0-9A-Fa-f]{4}):([0-9A-Fa-f]{4})", kv.get("PCI_ID", "").strip())
        if m:
            vendor, device = int(m.group(1), 16), int(m.group(2), 16)
        vendor = vendor if vendor is not None else read_int(dev / "vendor")
        device = device if device is not None else read_int(dev / "device")
        if vendor is None:
            continue
        cards.append(DrmCard(name, dev, vendor, device or 0, kv.get("DRIVER", "").strip()))
    return cards
