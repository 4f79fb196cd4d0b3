"""Name the probable cause of a llama.cpp failure, and the command that fixes it (pure functions).

Every sizeup child that runs llama.cpp (bench, quality, quantize, context, the memory simulator,
``sizeup doctor``'s smoke test) can die natively. A bare "SIGSEGV" tells a user nothing; the
failures we know have signatures:

* an **AMX build**: llama.cpp compiled with ``GGML_NATIVE=ON`` on a Xeon with AMX enables ggml's
  AMX matmul kernels, which crash (SIGSEGV/SIGABRT) on the first multi-token batch in the VMs
  this happens on. Signature: a crash while the engine's system info says ``AMX_INT8 = 1``.
* an **illegal instruction**: a wheel built on another CPU (pip's cache, a shared venv, a copied
  image) uses an instruction this CPU lacks. Signature: SIGILL, or compiled features the CPU lacks.
* a **missing shared library**: ``libllama.so``/``libggml*.so`` not found or not loadable.
* an **ABI mismatch**: the Python bindings and the shared library come from different llama.cpp
  versions (undefined symbols, a missing ``llama_*`` function).
* **not installed**.

The fix for the first four is the same rebuild: ``sizeup engine install --rebuild``.
"""

from __future__ import annotations

import re
import signal
from dataclasses import asdict, dataclass

FIX_REBUILD = "sizeup engine install --rebuild"
FIX_INSTALL = "sizeup engine install"

# llama_print_system_info() names -> canonical CPU features (sizeup.hardware.cpu).
SYSTEM_INFO_FEATURES: dict[str, str] = {
    "SSE3": "sse3", "SSSE3": "ssse3", "AVX": "avx", "AVX_VNNI": "avx_vnni", "AVX2": "avx2",
    "F16C": "f16c", "FMA": "fma", "BMI2": "bmi2", "AVX512": "avx512f", "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16", "AMX_INT8": "amx_int8",
    "NEON": "neon", "FP16_VA": "fp16", "DOTPROD": "dotprod", "MATMUL_INT8": "i8mm", "SVE": "sve",
    "SME": "sme",
}
# Features whose absence on the CPU we can actually see in /proc/cpuinfo (others we don't judge).
_JUDGEABLE = {"avx", "avx2", "f16c", "fma", "bmi2", "avx512f", "avx512vbmi", "avx512_vnni",
              "avx512_bf16", "avx_vnni", "amx_int8", "ssse3", "sse3", "dotprod", "i8mm", "sve", "sme"}

_SI_ITEM = re.compile(r"([A-Z][A-Z0-9_]*)\s*=\s*(\d+)")


@dataclass(frozen=True)
class Diagnosis:
    code: str      # amx_crash | illegal_instruction | missing_library | abi_mismatch | not_installed | crash | ok
    cause: str     # one line, for people
    fix: str = ""  # the exact command that fixes it, when there is one

    def line(self) -> str:
        return f"{self.cause}; fix: {self.fix}" if self.fix else self.cause

    def to_dict(self) -> dict:
        return asdict(self)


def compiled_features(system_info: str | None) -> dict[str, bool]:
    """Canonical CPU features from the ``CPU : AVX = 1 | ...`` part of llama.cpp's system info."""
    out: dict[str, bool] = {}
    if not system_info:
        return out
    for name, val in _SI_ITEM.findall(system_info[:20000]):
        feat = SYSTEM_INFO_FEATURES.get(name)
        if feat:
            out[feat] = out.get(feat, False) or val != "0"
    return out


def has_amx(system_info: str | None) -> bool:
    return compiled_features(system_info).get("amx_int8", False)


def missing_on_cpu(system_info: str | None, cpu_features: set[str] | frozenset[str] | tuple, machine: str) -> list[str]:
    """Features the build uses that this CPU does not report (each one a SIGILL waiting to happen)."""
    from .buildflags import is_x86

    have = set(cpu_features)
    if not have:
        return []  # no CPU facts: judge nothing
    x86 = is_x86(machine)
    out = []
    for feat, on in compiled_features(system_info).items():
        if not on or feat not in _JUDGEABLE:
            continue
        if x86 != (feat not in {"neon", "fp16", "dotprod", "i8mm", "sve", "sme"}):
            continue
        if feat not in have:
            out.append(feat)
    return sorted(out)


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def explain_import_error(text: str) -> Diagnosis:
    """Classify why ``import llama_cpp`` (or loading its library) failed, from the exception text."""
    low = text.lower()
    if "no module named" in low and "llama_cpp" in low:
        return Diagnosis("not_installed", "llama-cpp-python is not installed", FIX_INSTALL)
    if "illegal instruction" in low:
        return Diagnosis("illegal_instruction", "the llama.cpp library uses instructions this CPU lacks "
                         "(a wheel built on another CPU)", FIX_REBUILD)
    if ("undefined symbol" in low or "symbol not found" in low or "function 'llama_" in low
            or "function 'ggml_" in low or "has no attribute 'llama_" in low):
        return Diagnosis("abi_mismatch", "llama-cpp-python and its llama.cpp library come from different "
                         "versions (ABI mismatch: " + _first_line(text) + ")", FIX_REBUILD)
    if ("cannot open shared object" in low or "failed to load shared library" in low
            or "could not find module" in low or "image not found" in low or "libllama" in low
            or "libggml" in low):
        return Diagnosis("missing_library", "the llama.cpp shared library cannot be loaded ("
                         + _first_line(text) + ")", FIX_REBUILD)
    return Diagnosis("import_error", "llama-cpp-python cannot be imported (" + _first_line(text) + ")", FIX_REBUILD)


def explain_crash(returncode: int | None, log_tail: str = "", system_info: str | None = None,
                  cpu_features: set[str] | frozenset[str] | tuple = (), machine: str = "") -> Diagnosis:
    """Why a llama.cpp child died with ``returncode`` (negative = killed by that signal).

    ``log_tail`` is the end of its stderr/llama.cpp log; ``system_info`` the engine's
    ``llama_print_system_info()`` when known.
    """
    tail = (log_tail or "")[-8000:]
    low = tail.lower()
    sig = -returncode if returncode is not None and returncode < 0 else None
    if sig is None and returncode is not None and returncode > 128:
        sig = returncode - 128  # a shell in between reports 128 + signal
    imp = re.search(r"(ImportError|OSError|ModuleNotFoundError|AttributeError)[^\n]*", tail)
    if imp and ("llama" in imp.group(0).lower() or "ggml" in imp.group(0).lower()) and sig is None:
        return explain_import_error(imp.group(0))
    if sig == signal.SIGKILL:
        return Diagnosis("killed", "killed (SIGKILL: out of memory, or stopped from outside)")
    native = sig in (signal.SIGILL, signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS) or "illegal instruction" in low \
        or "segmentation fault" in low
    if native:
        name = _signal_name(sig) if sig else ("SIGILL" if "illegal instruction" in low else "SIGSEGV")
        missing = missing_on_cpu(system_info, cpu_features, machine) if system_info else []
        if missing:  # built for another CPU: the AMX case too when this CPU has no AMX at all
            return Diagnosis("illegal_instruction", f"llama.cpp crashed ({name}); its build uses "
                             f"{', '.join(missing)}, which this CPU lacks (a wheel built on another CPU)", FIX_REBUILD)
        if has_amx(system_info) or "amx" in low:
            # The CPU reports AMX, yet its kernels die: SIGILL where the hypervisor/kernel does not
            # grant the AMX tile state, SIGSEGV in ggml_backend_amx_mul_mat elsewhere.
            return Diagnosis("amx_crash", f"llama.cpp crashed ({name}) in its AMX kernels: this llama-cpp-python "
                             "was built with AMX (-march=native on an AMX Xeon), which crashes here", FIX_REBUILD)
        if name == "SIGILL":
            return Diagnosis("illegal_instruction", "the llama.cpp library uses an instruction this CPU lacks "
                             "(SIGILL: a wheel built on another CPU, or with flags for another CPU)", FIX_REBUILD)
        return Diagnosis("crash", f"llama.cpp crashed ({name}); run `sizeup doctor` to check the engine")
    if sig is not None:
        return Diagnosis("crash", f"llama.cpp child killed by {_signal_name(sig)}; run `sizeup doctor` to check the engine")
    return Diagnosis("crash", f"llama.cpp child exited with code {returncode}; run `sizeup doctor` to check the engine")


def _first_line(text: str) -> str:
    for ln in text.splitlines():
        if ln.strip():
            return ln.strip()[:200]
    return ""
