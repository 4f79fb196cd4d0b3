"""Parsing and formatting sizes and counts ("24G", "32k", "1.5 GiB", "7.6B")."""

from __future__ import annotations

import re

from .errors import SizeupError

_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
               "g": 1024**3, "gb": 1000**3, "gib": 1024**3, "t": 1024**4, "tb": 1000**4, "tib": 1024**4}


MAX_SIZE = 2**60  # 1 EiB: far above any memory, small enough that float math stays exact-ish
MAX_COUNT = 2**40  # tokens, layers, anything counted


def _shown(text: object) -> str:
    s = str(text)
    return s if len(s) <= 40 else s[:37] + "..."


def parse_size(text: str) -> int:
    """Bytes from "24G", "24GiB", "24 GB" (GB = 10^9, G and GiB = 2^30), "1024"; at most 1 EiB."""
    m = re.fullmatch(r"\s*([0-9]{1,20}(?:\.[0-9]{1,20})?)\s*([a-zA-Z]{0,3})\s*", str(text)[:100])
    if not m or m.group(2).lower() not in _SIZE_UNITS or len(str(text)) > 100:
        raise SizeupError(f"not a size: '{_shown(text)}' (use e.g. 24G, 16GiB, 64GB)")
    v = float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    if v > MAX_SIZE:
        raise SizeupError(f"size '{_shown(text)}' is over the {MAX_SIZE}-byte limit")
    return int(v)


def parse_count(text: str) -> int:
    """Integers with k/m suffixes as used for context lengths: "32k" = 32768, "128K", "4096"."""
    m = re.fullmatch(r"\s*([0-9]{1,20}(?:\.[0-9]{1,20})?)\s*([kKmM]?)\s*", str(text)[:100])
    if not m or len(str(text)) > 100:
        raise SizeupError(f"not a count: '{_shown(text)}' (use e.g. 4096, 32k)")
    mult = {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]
    v = float(m.group(1)) * mult
    if v > MAX_COUNT:
        raise SizeupError(f"count '{_shown(text)}' is over the limit of {MAX_COUNT}")
    return int(v)


def fmt_bytes(n: float | int | None, digits: int = 2) -> str:
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.{digits}f} {unit}"
        n /= 1024
    return f"{n:.{digits}f} TiB"


def fmt_count(n: int | None) -> str:
    """7_615_616_512 -> "7.62B", 134_515_008 -> "134.5M"."""
    if n is None:
        return "-"
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            v = n / div
            return f"{v:.2f}{suf}" if v < 10 else f"{v:.1f}{suf}" if v < 100 else f"{v:.0f}{suf}"
    return str(n)


def fmt_ctx(n: int) -> str:
    return f"{n // 1024}k" if n >= 1024 and n % 1024 == 0 else str(n)
