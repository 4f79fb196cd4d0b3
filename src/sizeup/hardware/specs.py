"""The GPU spec table (``sizeup/data/gpu_specs.json``) and name matching.

Drivers never report memory bandwidth or tensor throughput, yet those two numbers decide decode
and prompt speed. So each probed GPU is matched by name to a row of published specs. Names come
in many spellings ("NVIDIA GeForce RTX 4090", "NVIDIA A100-SXM4-80GB", "Intel(R) Arc(TM) A770
Graphics", rocm-smi's "Navi 31 [Radeon RX 7900 XT/7900 XTX/7900M]"), so matching works on
normalized tokens: a row matches when one of its patterns appears as a whole-token run inside
the name, and the longest pattern wins ("RTX 4070 Ti SUPER" beats "RTX 4070"). Boards that share
a name or PCI id (7900 XT vs XTX, M3 Max 30 vs 40 cores) are told apart by VRAM size or GPU core
count when the probe knows them.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..errors import NotFound

# Words that carry no identity: vendor and marketing names. Source-agnostic, so "RTX 4090",
# "GeForce RTX 4090" and "NVIDIA GeForce RTX 4090" normalise alike.
_STOP = {"nvidia", "geforce", "amd", "ati", "radeon", "intel", "arc", "apple", "tesla", "graphics", "gpu",
         "generation", "edition", "workstation", "instinct", "(tm)", "(r)", "tm", "r", "corporation", "inc"}


@dataclass(frozen=True)
class GPUSpec:
    name: str
    vendor: str
    vram_gib: float
    bandwidth_gbs: float
    fp16_tflops: float
    source: str
    patterns: tuple[tuple[str, ...], ...]
    unified: bool = False
    gpu_cores: int | None = None
    note: str = ""


def normalize(name: str) -> tuple[str, ...]:
    """Lower-case tokens without vendor words or punctuation: "NVIDIA A100-SXM4-80GB" -> (a100, sxm4, 80gb)."""
    s = name.lower()[:200].replace("(tm)", " ").replace("(r)", " ").replace("™", " ").replace("®", " ")
    s = re.sub(r"[^a-z0-9.]+", " ", s)
    return tuple(t for t in s.split() if t not in _STOP)


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[GPUSpec, ...], dict[str, tuple[str, ...]], frozenset[str]]:
    data = json.loads(resources.files("sizeup.data").joinpath("gpu_specs.json").read_text(encoding="utf-8"))
    rows = []
    for r in data["gpus"]:
        pats = tuple(normalize(p) for p in (r.get("match") or [r["name"]]))
        if normalize(r["name"]) not in pats and "(" not in r["name"]:
            pats = (normalize(r["name"]), *pats)
        rows.append(GPUSpec(r["name"], r["vendor"], float(r["vram_gib"]), float(r["bandwidth_gbs"]), float(r["fp16_tflops"]),
                            r["source"], pats, bool(r.get("unified")), r.get("gpu_cores"), r.get("note", "")))
    pci = {k.lower(): tuple(v) for k, v in data.get("pci_ids", {}).items() if not k.startswith("_")}
    apu = frozenset(i.lower() for i in data.get("amd_apu_pci_ids", {}).get("ids", ()))
    return tuple(rows), pci, apu


def all_specs() -> tuple[GPUSpec, ...]:
    return _load()[0]


def spec_by_name(name: str) -> GPUSpec | None:
    """The row with exactly this display name."""
    return next((s for s in all_specs() if s.name == name), None)


def candidates_for_pci(vendor_id: int, device_id: int) -> tuple[GPUSpec, ...]:
    names = _load()[1].get(f"{vendor_id:04x}:{device_id:04x}", ())
    return tuple(s for s in (spec_by_name(n) for n in names) if s is not None)


def is_amd_apu_pci(device_id: int) -> bool:
    return f"1002:{device_id:04x}" in _load()[2]


def _contains(hay: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return n > 0 and any(hay[i:i + n] == needle for i in range(len(hay) - n + 1))


def expand_alternatives(name: str) -> list[str]:
    """Split "Navi 31 [Radeon RX 7900 XT/7900 XTX/7900M]" into full names of each alternative.

    Later alternatives inherit the leading words of the first ("Radeon RX"), so each can be
    matched on its own.
    """
    m = re.search(r"\[([^\]]*)\]", name)
    inner = m.group(1) if m else name
    if "/" not in inner:
        return [inner] if m else [name]
    alts = [a.strip() for a in inner.split("/") if a.strip()]
    words = alts[0].split()
    prefix = []
    for w in words:
        if any(c.isdigit() for c in w):
            break
        prefix.append(w)
    out = [alts[0]]
    for a in alts[1:]:
        out.append(a if not prefix or a.split()[0].lower() == prefix[0].lower() else " ".join(prefix + [a]))
    return out


def _matches(name: str) -> list[GPUSpec]:
    """Rows whose longest matching pattern is the longest among all rows (ties kept)."""
    toks = normalize(name)
    best: list[GPUSpec] = []
    best_len = 0
    for s in all_specs():
        L = max((len(p) for p in s.patterns if _contains(toks, p)), default=0)
        if L > best_len:
            best, best_len = [s], L
        elif L and L == best_len:
            best.append(s)
    return best


def pick(cands: list[GPUSpec] | tuple[GPUSpec, ...], vram_bytes: int | None = None,
         gpu_cores: int | None = None) -> GPUSpec | None:
    """Choose among same-name candidates by GPU core count, then by closest VRAM size."""
    cands = list(dict.fromkeys(cands))
    if not cands:
        return None
    if gpu_cores:
        exact = [c for c in cands if c.gpu_cores == gpu_cores]
        if exact:
            cands = exact
    if vram_bytes and len(cands) > 1 and not all(c.unified for c in cands):
        gib = vram_bytes / 2**30
        cands = sorted(cands, key=lambda c: abs(c.vram_gib - gib))
    return cands[0]


def lookup(name: str, vram_bytes: int | None = None, gpu_cores: int | None = None) -> GPUSpec | None:
    """Spec row for a name reported by a driver, or None. Never raises."""
    if not name or not name.strip():
        return None
    cands: list[GPUSpec] = []
    for alt in expand_alternatives(name):
        cands.extend(_matches(alt))
    return pick(cands, vram_bytes, gpu_cores)


def find(query: str) -> GPUSpec:
    """Spec row for a name a user typed (``--gpu "RTX 4090"``); raises NotFound with close matches.

    Besides driver-style matching, a query may be a shortening of exactly one row ("4090",
    "MI300X"); an ambiguous one ("H100") lists the choices instead of guessing.
    """
    q = normalize(query)
    if not q:
        raise NotFound(f"unknown GPU '{query}'")
    found = lookup(query)
    if found is not None:
        return found
    # Query tokens inside a pattern: "h100" -> H100 PCIe / SXM / NVL.
    inside = [s for s in all_specs() if any(_contains(p, q) for p in (*s.patterns, normalize(s.name)))]
    if len(inside) == 1 or (inside and len({normalize(s.name.split(" (")[0]) for s in inside}) == 1):
        return inside[0]
    if inside:
        names = ", ".join(s.name for s in inside[:8])
        raise NotFound(f"GPU '{query}' is ambiguous: {names}")
    keys = {" ".join(normalize(s.name)): s.name for s in all_specs()}
    close = difflib.get_close_matches(" ".join(q), list(keys), n=4, cutoff=0.5)
    hint = f"; did you mean: {', '.join(keys[c] for c in close)}?" if close else "; see `sizeup hw --list-gpus`"
    raise NotFound(f"unknown GPU '{query}'{hint}")
