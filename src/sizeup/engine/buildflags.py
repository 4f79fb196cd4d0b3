"""Which CMake flags to build llama.cpp with on this CPU (pure functions, no I/O).

Why not just ``-march=native`` (llama.cpp's default, ``GGML_NATIVE=ON``)? On Intel Xeons with
AMX (Sapphire Rapids and later) a native build compiles ggml's AMX matmul kernels, and in the
VMs our users and CI run on those crash with SIGSEGV in ``ggml_backend_amx_mul_mat`` on the first
multi-token batch. And why not a plain ``GGML_NATIVE=OFF``? That build assumes AVX2/FMA/F16C
(ggml enables them by default when native is off), so it is *wrong* for an old CPU without AVX2
and needlessly slow on one with AVX-512/VNNI. ``benchmarks/engine_flags.py`` measures the choice.

So on x86 we switch native off and name every ISA extension explicitly from what the CPU reports:
each one the CPU has is ON, each one it lacks is OFF, and AMX is always OFF. On ARM and other
architectures ``-mcpu=native`` has no known crashing kernel, so the native default stays.

A user's own ``CMAKE_ARGS`` win: any ``-DKEY=...`` they give replaces ours for that key.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from typing import Iterable, Mapping

# ggml CMake option -> the canonical CPU feature (sizeup.hardware.cpu) it needs.
# Source: ggml/CMakeLists.txt "instruction set specific" options (llama.cpp, vendored in
# llama-cpp-python 0.3.36); option names are stable since 2024.
X86_OPTIONS: tuple[tuple[str, str], ...] = (
    ("GGML_SSE42", "sse4_2"),
    ("GGML_AVX", "avx"),
    ("GGML_AVX2", "avx2"),
    ("GGML_BMI2", "bmi2"),
    ("GGML_FMA", "fma"),
    ("GGML_F16C", "f16c"),
    ("GGML_AVX_VNNI", "avx_vnni"),
    ("GGML_AVX512", "avx512f"),
    ("GGML_AVX512_VBMI", "avx512vbmi"),
    ("GGML_AVX512_VNNI", "avx512_vnni"),
    ("GGML_AVX512_BF16", "avx512_bf16"),
)
# Always off: the AMX kernels crash on AMX CPUs under common hypervisors (issue 8).
X86_ALWAYS_OFF: tuple[str, ...] = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")

# ggml's AVX-512 code paths need the F, BW, DQ?, VL subsets together; ggml's own cmake adds
# -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw for GGML_AVX512. Only turn it on
# when the CPU reports all of the ones we can see.
_AVX512_BASE = ("avx512f", "avx512bw", "avx512vl")

X86_MACHINES = {"x86_64", "amd64", "x86", "i386", "i686"}


def is_x86(machine: str) -> bool:
    return machine.lower() in X86_MACHINES


def recommended_options(features: Iterable[str], machine: str) -> dict[str, str]:
    """CMake ``-D`` options (name -> ON/OFF) for a CPU with ``features`` on ``machine``.

    Empty for non-x86 machines: there the native build is the right one.
    """
    if not is_x86(machine):
        return {}
    have = set(features)
    opts: dict[str, str] = {"GGML_NATIVE": "OFF"}
    for option, feat in X86_OPTIONS:
        on = feat in have
        if option.startswith("GGML_AVX512"):
            on = on and all(f in have for f in _AVX512_BASE)
        opts[option] = "ON" if on else "OFF"
    for option in X86_ALWAYS_OFF:
        opts[option] = "OFF"
    return opts


def parse_cmake_args(text: str | None) -> dict[str, str]:
    """``-DKEY=VALUE`` (also ``-DKEY:TYPE=VALUE`` and ``-D KEY=VALUE``) pairs of a CMAKE_ARGS string."""
    out: dict[str, str] = {}
    try:
        tokens = shlex.split(text or "")
    except ValueError:
        tokens = (text or "").split()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "-D" and i + 1 < len(tokens):
            tok = "-D" + tokens[i + 1]
            i += 1
        if tok.startswith("-D") and "=" in tok:
            key, value = tok[2:].split("=", 1)
            out[key.split(":", 1)[0]] = value
        i += 1
    return out


def merge_cmake_args(ours: Mapping[str, str], user: str | None) -> str:
    """One CMAKE_ARGS string: ours for every key the user did not set, then the user's text as given.

    If the user turned native on themselves they get native, AMX included: their choice wins.
    """
    user_keys = set(parse_cmake_args(user))
    parts = [f"-D{k}={v}" for k, v in ours.items() if k not in user_keys]
    if user and user.strip():
        parts.append(user.strip())
    return " ".join(parts)


def build_key(*, package_version: str, cmake_args: str, machine: str, features: Iterable[str],
              python_tag: str, platform_tag: str) -> str:
    """Cache key of a built wheel: everything that changes what the compiler emits.

    pip's own wheel cache keys on the sdist alone, so a wheel built with other flags or on another
    CPU comes back silently; this key makes such a wheel a different entry. The CPU's features are
    part of it even when the flags name them all, because a user's ``-DGGML_NATIVE=ON`` makes the
    output depend on the CPU.
    """
    blob = json.dumps({
        "v": package_version, "cmake": cmake_args, "machine": machine.lower(),
        "features": sorted(set(features)), "py": python_tag, "plat": platform_tag,
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
