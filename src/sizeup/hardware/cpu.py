"""CPU model, core counts, ISA features and caches.

Why features matter: llama.cpp picks its CPU kernels by ISA. AVX2+FMA roughly doubles
prompt-processing speed over AVX; AVX-512 VNNI / AVX-VNNI and ARM dotprod/i8mm speed up the
int8 dot products behind every K-quant; AMX tiles and SVE change which repacked layouts are
used. The estimator reads ``CPUInfo.features`` (canonical names below) to choose a CPU compute
rate, so the parsers normalise the many spellings (Linux x86 ``flags``, Linux ARM ``Features``,
macOS ``machdep.cpu.*features`` and ``hw.optional.*``) to one vocabulary.

Parsers are pure functions over text; :func:`probe_cpu` is the thin adapter that reads files.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path
from typing import Mapping

from .model import CPUInfo
from .runner import Runner, read_text, under

MAX_CPUINFO_BYTES = 8 * 1024 * 1024  # 1,024 logical CPUs x ~1.5 kB each, with slack
MAX_CPUS = 4096  # cap on sysfs cpuN directories scanned for caches

# Canonical feature names in display order. Source of the spellings: Linux
# arch/x86/include/asm/cpufeatures.h and arch/arm64/kernel/cpuinfo.c (hwcap_str), Apple
# sysctl hw.optional.* (documented in "Determining instruction set characteristics").
FEATURE_ORDER = (
    "sse3", "ssse3", "sse4_2", "avx", "avx2", "fma", "f16c", "bmi2",
    "avx512f", "avx512bw", "avx512vl", "avx512vbmi", "avx512_vnni", "avx512_bf16", "avx512_fp16",
    "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "amx_fp16",
    "neon", "fp16", "dotprod", "i8mm", "bf16", "sve", "sve2", "sme",
)

# Linux x86 /proc/cpuinfo `flags` tokens -> canonical.
_X86_FLAGS = {
    "pni": "sse3", "ssse3": "ssse3", "sse4_2": "sse4_2", "avx": "avx", "avx2": "avx2", "fma": "fma",
    "f16c": "f16c", "bmi2": "bmi2", "avx512vbmi": "avx512vbmi", "avx512f": "avx512f", "avx512bw": "avx512bw", "avx512vl": "avx512vl",
    "avx512_vnni": "avx512_vnni", "avx512_bf16": "avx512_bf16", "avx512_fp16": "avx512_fp16",
    "avx_vnni": "avx_vnni", "amx_tile": "amx_tile", "amx_int8": "amx_int8", "amx_bf16": "amx_bf16",
    "amx_fp16": "amx_fp16",
}
# Linux ARM `Features` tokens -> canonical (arm64 hwcaps; 32-bit kernels say "neon").
_ARM_FEATURES = {
    "asimd": "neon", "neon": "neon", "asimdhp": "fp16", "asimddp": "dotprod", "i8mm": "i8mm",
    "bf16": "bf16", "sve": "sve", "sve2": "sve2", "sme": "sme",
}
# macOS machdep.cpu.features / leaf7_features tokens (upper case there) -> canonical.
_MAC_X86 = {
    "SSE3": "sse3", "SSSE3": "ssse3", "SSE4.2": "sse4_2", "BMI2": "bmi2", "AVX512VBMI": "avx512vbmi",
    "AVX1.0": "avx", "AVX2": "avx2", "FMA": "fma", "F16C": "f16c",
    "AVX512F": "avx512f", "AVX512BW": "avx512bw", "AVX512VL": "avx512vl", "AVX512VNNI": "avx512_vnni",
}
# macOS hw.optional.* keys on Apple Silicon -> canonical.
_MAC_ARM = {
    "hw.optional.neon": "neon", "hw.optional.arm.FEAT_FP16": "fp16", "hw.optional.arm.FEAT_DotProd": "dotprod",
    "hw.optional.arm.FEAT_I8MM": "i8mm", "hw.optional.arm.FEAT_BF16": "bf16", "hw.optional.arm.FEAT_SME": "sme",
    "hw.optional.arm.FEAT_SME2": "sme",
}

# ARM "CPU implementer"/"CPU part" -> core name, for /proc/cpuinfo without a "model name".
# Source: Linux arch/arm64/include/asm/cputype.h (ARM_CPU_PART_*, *_CPU_PART_*).
_ARM_IMPLEMENTERS = {0x41: "ARM", 0x42: "Broadcom", 0x43: "Cavium", 0x48: "HiSilicon", 0x4E: "NVIDIA",
                     0x51: "Qualcomm", 0x61: "Apple", 0xC0: "Ampere"}
_ARM_PARTS = {
    (0x41, 0xD03): "Cortex-A53", (0x41, 0xD04): "Cortex-A35", (0x41, 0xD05): "Cortex-A55",
    (0x41, 0xD07): "Cortex-A57", (0x41, 0xD08): "Cortex-A72", (0x41, 0xD09): "Cortex-A73",
    (0x41, 0xD0A): "Cortex-A75", (0x41, 0xD0B): "Cortex-A76", (0x41, 0xD0C): "Neoverse-N1",
    (0x41, 0xD0D): "Cortex-A77", (0x41, 0xD40): "Neoverse-V1", (0x41, 0xD41): "Cortex-A78",
    (0x41, 0xD44): "Cortex-X1", (0x41, 0xD46): "Cortex-A510", (0x41, 0xD47): "Cortex-A710",
    (0x41, 0xD48): "Cortex-X2", (0x41, 0xD49): "Neoverse-N2", (0x41, 0xD4B): "Cortex-A78C",
    (0x41, 0xD4D): "Cortex-A715", (0x41, 0xD4E): "Cortex-X3", (0x41, 0xD4F): "Neoverse-V2",
    (0x41, 0xD80): "Cortex-A520", (0x41, 0xD81): "Cortex-A720", (0x41, 0xD82): "Cortex-X4",
    (0x41, 0xD84): "Neoverse-V3", (0x41, 0xD85): "Cortex-X925", (0x41, 0xD87): "Cortex-A725",
    (0x41, 0xD8E): "Neoverse-N3",
    (0xC0, 0xAC3): "AmpereOne", (0x61, 0x022): "Apple M1 Icestorm", (0x61, 0x023): "Apple M1 Firestorm",
}


def _norm_vendor(vendor_id: str) -> str:
    v = vendor_id.strip().lower()
    if "intel" in v:
        return "intel"
    if "amd" in v or "hygon" in v:
        return "amd"
    return v


def canonical_features(found: set[str]) -> tuple[str, ...]:
    return tuple(f for f in FEATURE_ORDER if f in found)


def parse_proc_cpuinfo(text: str) -> dict:
    """Facts from Linux /proc/cpuinfo text (x86 ``flags`` or ARM ``Features`` shape).

    Returns a dict with ``model``, ``vendor``, ``arch_hint``, ``logical``, ``physical``
    (None when the file does not say, e.g. ARM), ``features`` (canonical tuple).
    """
    text = text[:MAX_CPUINFO_BYTES]
    blocks = [b for b in re.split(r"\n\s*\n", text) if b.strip()]
    processors: list[dict[str, str]] = []
    extra: dict[str, str] = {}  # trailing non-processor block (ARM "Hardware", "Model")
    for b in blocks:
        kv: dict[str, str] = {}
        for line in b.splitlines():
            if ":" in line:
                k, _, v = line.partition(":")
                kv.setdefault(k.strip().lower(), v.strip())
        if "processor" in kv and kv["processor"].isdigit():
            processors.append(kv)
        else:
            extra.update(kv)
    first = processors[0] if processors else extra
    model = first.get("model name") or first.get("cpu model") or ""
    vendor = _norm_vendor(first.get("vendor_id", ""))
    feats: set[str] = set()
    arch_hint = ""
    if "flags" in first:
        arch_hint = "x86_64" if " lm " in f" {first['flags']} " else "x86"
        feats = {_X86_FLAGS[t] for t in first["flags"].split() if t in _X86_FLAGS}
    elif "features" in first:
        toks = first["features"].split()
        arch_hint = "aarch64" if ("asimd" in toks or first.get("cpu architecture") == "8") else "arm"
        feats = {_ARM_FEATURES[t] for t in toks if t in _ARM_FEATURES}
        try:
            impl = int(first.get("cpu implementer", ""), 16)
            part = int(first.get("cpu part", ""), 16)
        except ValueError:
            impl = part = -1
        if impl >= 0:
            vendor = _ARM_IMPLEMENTERS.get(impl, "arm").lower()
        # big.LITTLE chips list several parts; name them all ("Cortex-X925 + Cortex-A725"), big first.
        names: dict[str, int] = {}
        for p in processors or [first]:
            try:
                key = (int(p.get("cpu implementer", ""), 16), int(p.get("cpu part", ""), 16))
            except ValueError:
                continue
            if key in _ARM_PARTS:
                names.setdefault(_ARM_PARTS[key], len(names))
        core = " + ".join(sorted(names, key=lambda n: (not n.startswith(("Cortex-X", "Neoverse")), names[n]))) or None
        board = extra.get("model")  # Raspberry Pi and other boards: "Raspberry Pi 4 Model B Rev 1.4"
        if not model or model.startswith("ARMv"):
            # 64-bit ARM kernels print no model name; the core name (+ board) is what users recognise.
            parts = [p for p in (board, core) if p]
            model = " / ".join(parts) or model or (f"ARM part 0x{part:03x}" if part >= 0 else "")
    logical = len(processors)
    cores = {(p.get("physical id", "0"), p.get("core id")) for p in processors if p.get("core id") is not None}
    physical = len(cores) if cores else None
    return {"model": model, "vendor": vendor, "arch_hint": arch_hint, "logical": logical or None,
            "physical": physical, "features": canonical_features(feats)}


def parse_sysctl(text: str) -> dict[str, str]:
    """``sysctl hw machdep`` output ("key: value" lines) as a dict (macOS)."""
    out: dict[str, str] = {}
    for line in text[:MAX_CPUINFO_BYTES].splitlines():
        k, sep, v = line.partition(":")
        if sep and k.strip() and " " not in k.strip():
            out[k.strip()] = v.strip()
    return out


def _int(s: str | None) -> int | None:
    try:
        return int(str(s).strip())
    except (TypeError, ValueError):
        return None


def cpu_from_sysctl(s: Mapping[str, str]) -> dict:
    """CPU facts from macOS sysctl values (Apple Silicon and Intel Macs)."""
    feats: set[str] = set()
    for key, feat in _MAC_ARM.items():
        if s.get(key) == "1":
            feats.add(feat)
    for key in ("machdep.cpu.features", "machdep.cpu.leaf7_features"):
        for tok in s.get(key, "").split():
            if tok in _MAC_X86:
                feats.add(_MAC_X86[tok])
    arm = s.get("hw.optional.arm64") == "1" or "Apple" in s.get("machdep.cpu.brand_string", "")
    l2 = _int(s.get("hw.perflevel0.l2cachesize") or s.get("hw.l2cachesize"))
    l3 = _int(s.get("hw.l3cachesize"))
    return {
        "model": s.get("machdep.cpu.brand_string", ""),
        "vendor": "apple" if arm else _norm_vendor(s.get("machdep.cpu.vendor", "")),
        "arch_hint": "arm64" if arm else "x86_64",
        "logical": _int(s.get("hw.logicalcpu")),
        "physical": _int(s.get("hw.physicalcpu")),
        "performance": _int(s.get("hw.perflevel0.physicalcpu")),
        "features": canonical_features(feats),
        "l2_kb": l2 // 1024 if l2 else None,
        "l3_kb": l3 // 1024 if l3 else None,
        "memsize": _int(s.get("hw.memsize")),
    }


def _size_kb(text: str | None) -> int | None:
    """sysfs cache ``size`` ("32K", "1024K", "32M") in KiB."""
    if not text:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)\s*", text)
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "K": 1, "M": 1024, "G": 1024 * 1024}[m.group(2)] // (1024 if m.group(2) == "" else 1)


def parse_cpu_list(text: str, limit: int = MAX_CPUS) -> set[int]:
    """sysfs cpu list ("0-3,8-11") as a set of ints; ranges are clipped to ``limit``."""
    out: set[int] = set()
    for part in text.strip().split(","):
        a, _, b = part.partition("-")
        try:
            lo, hi = int(a), int(b or a)
        except ValueError:
            continue
        out.update(range(max(lo, 0), min(hi, limit - 1) + 1))
    return out


def read_cache_sizes(root: Path | str = "/") -> tuple[int | None, int | None]:
    """(L2 per core of cpu0, total L3 across distinct instances) in KiB from sysfs, or Nones.

    The L3 of one cpu is shared with its CCX/socket (``shared_cpu_list``); summing distinct
    instances gives the machine total that matters when a model's hot set might fit in cache.
    Only cpus not already covered by a known L3 instance are read, so a 192-core EPYC costs a
    few dozen file reads, not thousands.
    """
    base = under(root, "/sys/devices/system/cpu")
    l2 = None
    l3_index = None
    for idx in range(8):
        d = base / "cpu0" / "cache" / f"index{idx}"
        level = read_text(d / "level", 64)
        if level is None:
            break
        ctype = (read_text(d / "type", 64) or "").strip()
        if level.strip() == "2" and ctype in ("Unified", "Data"):
            l2 = _size_kb(read_text(d / "size", 64))
        elif level.strip() == "3":
            l3_index = idx
    if l3_index is None:
        return l2, None
    try:
        cpus = sorted(int(p.name[3:]) for p in base.iterdir() if re.fullmatch(r"cpu\d+", p.name))[:MAX_CPUS]
    except OSError:
        cpus = [0]
    covered: set[int] = set()
    total = 0
    for n in cpus:
        if n in covered:
            continue
        d = base / f"cpu{n}" / "cache" / f"index{l3_index}"
        size = _size_kb(read_text(d / "size", 64))
        shared = parse_cpu_list(read_text(d / "shared_cpu_list", 4096) or str(n))
        covered |= shared | {n}
        total += size or 0
    return l2, (total or None)


def probe_cpu(root: Path | str = "/", runner: Runner | None = None, system: str | None = None,
              machine: str | None = None) -> tuple[CPUInfo, list[str], dict]:
    """The CPU of this machine (or of a recorded ``root`` tree). Returns (info, notes, extras).

    ``extras`` carries facts found on the way that other probes use (macOS ``memsize``).
    """
    from .runner import run_command

    runner = runner or run_command
    system = system or platform.system()
    machine = machine or platform.machine()
    real = str(root) == "/"
    notes: list[str] = []
    facts: dict = {}
    extras: dict = {}
    if system == "Darwin":
        res = runner(["sysctl", "hw", "machdep"])
        if res.ok:
            facts = cpu_from_sysctl(parse_sysctl(res.stdout))
            extras["memsize"] = facts.get("memsize")
        else:
            notes.append(f"sysctl: {res.reason}")
    else:
        text = read_text(under(root, "/proc/cpuinfo"), MAX_CPUINFO_BYTES)
        if text is None:
            notes.append("could not read /proc/cpuinfo")
        else:
            facts = parse_proc_cpuinfo(text)
    l2, l3 = facts.get("l2_kb"), facts.get("l3_kb")
    if system != "Darwin":
        l2, l3 = read_cache_sizes(root)
    logical = facts.get("logical")
    physical = facts.get("physical")
    usable = None
    if real:
        import psutil

        logical = psutil.cpu_count(logical=True) or logical
        physical = psutil.cpu_count(logical=False) or physical
        if hasattr(os, "sched_getaffinity"):
            try:
                usable = len(os.sched_getaffinity(0))
            except OSError:
                usable = None
    logical = logical or physical or 1
    physical = physical or logical
    if usable is not None and usable >= logical:
        usable = None  # only worth reporting when a container or taskset restricts us
    info = CPUInfo(
        model=facts.get("model") or (platform.processor() if real else "") or "unknown CPU",
        vendor=facts.get("vendor") or "",
        arch=machine if real else (facts.get("arch_hint") or machine),
        physical_cores=int(physical),
        logical_cores=int(logical),
        features=tuple(facts.get("features") or ()),
        l2_kb=l2,
        l3_kb=l3,
        usable_cores=usable,
        performance_cores=facts.get("performance"),
    )
    return info, notes, extras
