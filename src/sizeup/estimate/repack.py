"""Which weights llama.cpp's CPU backend repacks, and what that does to host memory.

On the CPU, ggml offers an "extra" buffer type, ``CPU_REPACK``, ahead of the plain CPU buffer
(llama.cpp ``src/llama-model.cpp`` ``make_cpu_buft_list``: ACCEL -> GPU host -> CPU extra -> CPU).
A weight lands there when the repack buffer supports the op that consumes it, and then it is
rearranged at load time into row-interleaved blocks that the build's SIMD kernels read faster
(``ggml/src/ggml-cpu/repack.cpp``: ``ggml_repack_get_optimal_repack_type`` and
``extra_buffer_type::supports_op``, llama.cpp as vendored in llama-cpp-python 0.3.36). The rules:

* only weights consumed by ``MUL_MAT`` with a 2-D weight, or ``MUL_MAT_ID`` with a 3-D stack of
  experts; input-layer lookups (``GET_ROWS``: token, position, per-layer token embeddings) never;
* only these storage types, each on the ISA paths of the build (compile-time flags, not the CPU
  the build runs on) and only when ``ne[1]`` (output rows) divides by the interleave rows:
  :data:`RULES`, first matching rule wins;
* the repacked copy has the tensor's own size (the buffer type has no ``get_alloc_size``);
* no repack when the user passes ``--no-repack`` (``use_extra_bufts = false``), or when a GPU
  backend's host buffer type comes first (CUDA/ROCm/Vulkan builds put CPU layers' weights in
  pinned host memory unless ``--no-host``).

Host memory: a repacked weight is copied into anonymous memory. With mmap its original pages
were read through the mapping first and stay mapped (the loader only unmaps the ranges before
the first and after the last tensor), so until the kernel reclaims them the process's resident
size counts them twice. :func:`host_figures` reports both the *peak RSS* (what ``top`` and the
OOM killer see right after loading) and the *working set* (what must stay resident to run
without re-reading the file: the repacked copies, not their originals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..model import TensorInfo

# (ggml type, required build features, ne[1] multiple, layout) in llama.cpp's order of preference.
# Feature names: sizeup's canonical CPU features (sizeup.hardware.cpu), plus "sve256" for SVE with
# a 256-bit vector length (ggml_cpu_get_sve_cnt() == QK8_0 == 32 bytes) and "riscv_v256" for RVV
# with VLEN 256 and zvfh. Source: repack.cpp ggml_repack_get_optimal_repack_type (0.3.36 vendor).
RULES: tuple[tuple[str, tuple[str, ...], int, str], ...] = (
    ("Q4_0", ("avx2",), 8, "q4_0_8x8"),
    ("Q4_0", ("sve256", "i8mm"), 8, "q4_0_8x8"),
    ("Q4_0", ("neon", "i8mm"), 4, "q4_0_4x8"),
    ("Q4_0", ("neon", "dotprod"), 4, "q4_0_4x4"),
    ("Q4_0", ("vxe",), 4, "q4_0_4x4"),
    ("Q4_0", ("riscv_v256",), 16, "q4_0_16x1"),
    ("Q4_K", ("avx2",), 8, "q4_K_8x8"),
    ("Q4_K", ("neon", "i8mm"), 8, "q4_K_8x8"),
    ("Q4_K", ("neon", "dotprod"), 8, "q4_K_8x4"),
    ("Q4_K", ("riscv_v256",), 16, "q4_K_16x1"),
    ("Q2_K", ("avx512f",), 8, "q2_K_8x8"),
    ("Q2_K", ("riscv_v256",), 16, "q2_K_16x1"),
    ("Q5_K", ("neon", "i8mm"), 8, "q5_K_8x8"),
    ("Q5_K", ("neon", "dotprod"), 8, "q5_K_8x4"),
    ("Q6_K", ("neon", "i8mm"), 8, "q6_K_8x8"),
    ("Q6_K", ("neon", "dotprod"), 8, "q6_K_8x4"),
    ("IQ4_NL", ("avx2",), 8, "iq4_nl_8x8"),
    ("IQ4_NL", ("neon", "dotprod"), 4, "iq4_nl_4x4"),
    ("IQ4_NL", ("riscv_v256",), 16, "iq4_nl_16x1"),
    ("MXFP4", ("avx2",), 8, "mxfp4_8x8"),
    ("MXFP4", ("neon", "dotprod"), 4, "mxfp4_4x4"),
    ("Q8_0", ("neon", "i8mm"), 4, "q8_0_4x8"),
    ("Q8_0", ("neon", "dotprod"), 4, "q8_0_4x4"),
    ("Q8_0", ("riscv_v256",), 16, "q8_0_16x1"),
    ("Q1_0", ("neon", "i8mm"), 4, "q1_0_4x8"),
    ("Q1_0", ("neon", "dotprod"), 4, "q1_0_4x4"),
)

# Tensors whose consuming op is GET_ROWS (llama-arch.cpp LLM_TENSOR_INFOS): never repacked.
GET_ROWS_TENSORS = ("token_embd", "position_embd", "token_types", "per_layer_token_embd")

# llama.cpp system-info tokens ("AVX2 = 1 | ...", ggml-cpu.cpp ggml_backend_cpu_get_features)
# -> sizeup's canonical feature names.
SYSTEM_INFO_FEATURES = {
    "AVX2": "avx2", "AVX512": "avx512f", "NEON": "neon", "DOTPROD": "dotprod", "MATMUL_INT8": "i8mm",
    "SVE": "sve", "VXE": "vxe", "RISCV_V": "riscv_v", "AVX": "avx", "FMA": "fma", "F16C": "f16c",
    "AVX_VNNI": "avx_vnni", "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16",
    "AVX512_VBMI": "avx512vbmi", "BMI2": "bmi2", "SSE3": "sse3", "SSSE3": "ssse3", "SME": "sme",
    "AMX_INT8": "amx_int8",
}


@dataclass(frozen=True)
class BuildFeatures:
    """The CPU features a llama.cpp build was compiled for, and whether it has the repack buffer."""

    features: frozenset[str]
    repack_compiled: bool = True
    source: str = "cpu"  # "llama.cpp" (its system info) | "cpu" (assumed: a build tuned for this CPU)

    def has(self, need: Iterable[str]) -> bool:
        return all(f in self.features for f in need)


def features_from_system_info(text: str) -> BuildFeatures:
    """Parse llama.cpp's ``llama_print_system_info()`` line (bounded; unknown tokens ignored)."""
    feats: set[str] = set()
    repack = False
    sve_cnt = 0
    for part in str(text)[:8192].split("|"):
        if "=" not in part:
            continue
        key, _, val = part.rpartition("=")
        key = key.split(":")[-1].strip().upper()
        val = val.strip()
        if key == "SVE_CNT":
            sve_cnt = int(val) if val.isdigit() else 0
            continue
        if val != "1":
            continue
        if key == "REPACK":
            repack = True
        elif key in SYSTEM_INFO_FEATURES:
            feats.add(SYSTEM_INFO_FEATURES[key])
    if "sve" in feats and sve_cnt == 32:
        feats.add("sve256")
    return BuildFeatures(frozenset(feats), repack_compiled=repack, source="llama.cpp")


def features_from_cpu(cpu_features: Iterable[str]) -> BuildFeatures:
    """A build tuned for a CPU with these features (what ``sizeup engine install`` builds)."""
    return BuildFeatures(frozenset(cpu_features), repack_compiled=True, source="cpu")


def repack_layout(t: TensorInfo, build: BuildFeatures) -> str | None:
    """The interleaved layout llama.cpp repacks ``t`` into with ``build``, or None when it stays."""
    if not build.repack_compiled:
        return None
    base = t.name.split(".weight")[0].rsplit(".", 1)[-1] if "." in t.name else t.name
    if base in GET_ROWS_TENSORS or t.name.split(".")[0] in GET_ROWS_TENSORS:
        return None
    shape = tuple(t.shape)
    if len(shape) < 2:
        return None
    dims = len(shape)
    while dims > 1 and shape[dims - 1] == 1:  # ggml_n_dims ignores trailing 1s
        dims -= 1
    is_experts = "_exps" in t.name
    if dims != (3 if is_experts else 2):  # MUL_MAT needs 2-D weights, MUL_MAT_ID 3-D expert stacks
        return None
    ne1 = shape[1]
    dtype = t.dtype.upper()
    for typ, need, rows, layout in RULES:
        if typ == dtype and build.has(need) and ne1 % rows == 0:
            return layout
    return None


@dataclass(frozen=True)
class RepackPlan:
    bytes: int  # weights copied into CPU_REPACK buffers
    n_tensors: int
    by_type: dict[str, int]  # ggml type -> repacked bytes


def plan_repack(tensors: Iterable[TensorInfo], build: BuildFeatures) -> RepackPlan:
    """Repacked bytes among ``tensors`` (pass only the tensors placed on the CPU)."""
    total = n = 0
    by: dict[str, int] = {}
    for t in tensors:
        if repack_layout(t, build):
            total += t.n_bytes
            n += 1
            by[t.dtype.upper()] = by.get(t.dtype.upper(), 0) + t.n_bytes
    return RepackPlan(total, n, by)


@dataclass(frozen=True)
class HostFigures:
    """Two views of resident host memory (bytes); see the module docstring."""

    peak_rss: int
    working_set: int
    repacked: int
    mapped_duplicate: int  # page-cache pages of repacked originals counted in the peak


def host_figures(base_resident: int, repacked: int, use_mmap: bool) -> HostFigures:
    """``base_resident``: everything resident without repack (weights once, KV, compute, output,
    overhead). Repack moves ``repacked`` bytes from the file mapping to anonymous memory: the
    working set is unchanged, the peak adds the originals' mapped pages when mmap is on. Without
    mmap the originals go through a one-tensor staging buffer and the page cache, which is not the
    process's RSS."""
    dup = repacked if use_mmap else 0
    return HostFigures(peak_rss=base_resident + dup, working_set=base_resident, repacked=repacked,
                       mapped_duplicate=dup)
