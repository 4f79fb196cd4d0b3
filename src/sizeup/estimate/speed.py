"""How fast a model generates and reads prompts: a roofline model of llama.cpp, pure functions.

Decode (one token at a time) is memory-bound on every machine people run local models on:
each generated token reads every active weight once, plus the KV cache up to the current
depth, and does only ~2 FLOPs per weight byte-ish. So

    time per token = sum over devices of bytes read there / effective bandwidth there
                     + a fixed per-token overhead (kernel launches, thread syncs, sampling)

where a device's effective bandwidth is its spec bandwidth times an efficiency, and "active"
means routed experts count only for the share a token uses (n_expert_used / n_expert). With
partial offload the GPU and CPU parts run one after the other, so their times add.

Prefill (prompt processing) is compute-bound: per token 2 x active params FLOPs for the
matmuls plus 4 x n_embd_attn x context for attention scores and weighted sums, over the
device's FLOP rate times an efficiency - but never faster than reading the weights once per
micro-batch allows (the memory-bound limit, which binds on CPUs with small batches).

Two regimes on a CPU (issue 10): a model whose bytes per token fit in the last-level cache is
read from cache, not DRAM; a large one streams from DRAM each token. ``DeviceSpec.cache_bytes``
(the probed L3) decides which, and the result's ``regime`` says so. On top of the roofline every
token pays a fixed overhead (graph build, thread hand-offs, the logits copy), which is most of a
small model's time on a CPU and nothing of a large one's. :func:`calibrate_regimes` fits the
memory scale and that overhead together (time per token is linear in bytes per token across
model sizes), so small models calibrate the overhead and large ones the bandwidth, and both
transfer. Prefill has its own calibrated scales, one for repacked weights and one for the rest.

Efficiencies are named constants below with where they come from; they are typical, not
exact, and :func:`calibrate` replaces them with a fit to measured runs on the user's machine.
Inputs are plain numbers and the tensor list (:class:`~sizeup.model.TensorInfo`), so the
benchmark module can feed real llama.cpp measurements straight in.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Sequence

from ..errors import SizeupError
from ..layout import is_routed_expert  # noqa: F401 (re-exported: the speed model's notion)
from ..model import LAYER_RECURRENT, Architecture, TensorInfo
from .kv_cache import recurrent_rows
from .placement import is_input_tensor

# --- efficiency factors ------------------------------------------------------------------------
# Fraction of spec memory bandwidth llama.cpp's decode reaches. GPUs: llama.cpp's published
# CUDA results (llama-bench tg128, e.g. 7B Q4_0 = 3.8 GB at ~180 tok/s on an RTX 4090 with
# 1008 GB/s) put it near 0.7; small models reach less because kernels are too short to
# saturate memory, which the per-token overhead below absorbs.
DECODE_BW_EFFICIENCY_GPU = 0.70
# CPUs: STREAM-like reads reach ~70-80% of DDR spec; llama.cpp's dequantize+dot kernels
# reach ~60-65% of spec on desktop DDR4/DDR5 (tg128 of 7B Q4_0 on dual-channel DDR5). For a
# bandwidth given as a spec figure (``--cpu-bandwidth``, a unified-memory GPU's table entry).
DECODE_BW_EFFICIENCY_CPU = 0.60
# The same for a bandwidth *measured* on the machine (sizeup's read probe, already an achieved
# figure, not a spec). Measured with llama-bench (2 threads, zero-weight Llama 3.2 1B/3B and 3.1
# 8B in Q4_K_M and Q8_0, Dec 2026): on a 2-core AMD EPYC VM with an AVX2 build, bytes per token x
# tg = 12.1-14.6 GB/s against a 13.6 GB/s probe (0.85-1.07 of it, two sessions); on a 2-core
# AMD EPYC with AVX-512, 45-53 GB/s for the 8B models against a 42 GB/s probe (1.07-1.26, three
# runs). 1.0 is the middle; calibrate_regimes fits each machine's own figure.
DECODE_BW_EFFICIENCY_CPU_MEASURED = 1.0
# Fraction of peak dense FLOP/s reached in prompt processing (pp512). GPUs: quantized matmul
# kernels (MMQ, int8 tensor cores) against the fp16 tensor peak land around 0.4-0.6.
PREFILL_FLOPS_EFFICIENCY_GPU = 0.45
# CPUs: llama.cpp's SIMD matmuls reach roughly half of peak FMA throughput.
PREFILL_FLOPS_EFFICIENCY_CPU = 0.50
# Decode multiplies matrices by one vector: every weight is dequantized and used once, so CPU
# kernels reach less of peak FMA throughput than in prefill - but not so little that the
# compute ceiling binds for common quants. Zero-weight Llama 3.2 1B / 3.1 8B Q4_K_M ran tg16 at
# 37 and 42 GFLOP/s on 2 AVX2 cores (AMD EPYC, Dec 2026; 0.19-0.22 of the 192 GFLOP/s peak at
# the assumed 3 GHz) while still memory-bound (time per token = bytes / probed bandwidth + the
# token overhead), so the ceiling is above that; 0.25 is the documented guess. (An earlier 0.13
# came from small models whose time is mostly the fixed per-token overhead below.) It binds for
# low-bit quants (IQ2/Q2_K) on few cores, which are compute-heavy per byte. GPUs stay memory-
# bound in decode, so they keep the prefill figure.
DECODE_FLOPS_EFFICIENCY_CPU = 0.25
# Batch size from which CPU matmuls run at the prefill efficiency (llama.cpp's CPU matmul tiles
# reuse each dequantized weight block across the rows of a batch).
CPU_FULL_BATCH = 32
# Fixed time per generated token beyond moving bytes: graph launch (CUDA graphs keep it
# small), the logits copy and sampling. GPU: order of magnitude. CPU: the intercept of time per
# token against bytes per token in llama-bench tg16 runs at 2 threads (AMD EPYC VM, Dec 2026):
# SmolLM2-135M 12.9 ms/token with 7 ms of reads, gemma-3-270m 29 ms with 18 ms, Llama 1B-8B
# Q8_0 0-17 ms above their reads - 4-11 ms. An AMX Xeon ran SmolLM2 at 9.7 ms/token in all
# (Nov 2026), so its overhead is lower. 4 ms is the low end; calibrate_regimes fits it per machine.
TOKEN_OVERHEAD_S_GPU = 3e-4
TOKEN_OVERHEAD_S_CPU = 4e-3
# Extra per token when a model is split between CPU and GPU (sync + activation copy).
SPLIT_OVERHEAD_S = 2e-4
# llama.cpp's default micro-batch (n_ubatch): weights are read once per this many prompt tokens.
DEFAULT_UBATCH = 512
# How much faster a last-level-cache read is than DRAM for one core's decode loop: L3 read
# bandwidth per core on 2020s x86 server and desktop parts is ~3-5x a core's share of DRAM
# bandwidth (Intel and AMD optimization manuals' cache-bandwidth tables); 4 is the middle. Only
# decides that cache-resident models are compute-bound, which is what their measurements show.
CACHE_BW_SPEEDUP = 4.0
# Prefill on a CPU build with repack: weights llama.cpp repacked (sizeup.estimate.repack) run
# through the interleaved GEMM kernels; the others through llamafile's tinyBLAS (Q8_0, Q4_0,
# Q5_0, IQ4_NL, F16) or the generic quantized dot products, which reach a fraction of that rate.
# AVX-512 builds: measured with benchmarks/scale_validation.py (llama-bench, 1 thread, AMX Xeon,
# Nov 2026, quiet machine): measured / uncalibrated pp is ~3.3 for the models with nothing
# repacked (Llama 1B/3B/8B Q8_0) and ~1.6-2.1 for the Q4_K_M ones (~68% of matmul weights
# repacked) when this factor is 0.25, i.e. the true factor is ~0.4. AVX2 builds: the Q4_K_M /
# Q8_0 prefill ratios of the same models at 2 threads (llama-bench, AMD EPYC, Dec 2026, four
# runs: 1B, 3B and 8B at pp64, 1B and 8B at pp32 in two more) solve to 0.42-1.06, median ~0.75:
# the 256-bit repacked kernels gain far less over llamafile's tinyBLAS than the 512-bit ones. Only
# applied when the build is known; calibration fits the two rates per machine
# (calibrate_regimes).
CPU_PREFILL_UNREPACKED_FACTOR = 0.4
CPU_PREFILL_UNREPACKED_FACTOR_AVX2 = 0.75

# llama.cpp's quantized matmuls multiply int8 (the activations are quantized to Q8 blocks), and
# 512-bit VNNI (vpdpbusd: 64 int8 multiply-adds per instruction against 16 fp32 FMAs) runs them
# several times faster than the fp32 FMA peak the CPU's FLOP/s is counted in. Measured with
# benchmarks/scale_validation.py (llama-bench, zero-weight Llama 3.2 1B/3B and 3.1 8B in Q4_K_M
# and Q8_0, Qwen1.5-MoE Q4_K_M): measured / modelled prefill was 3.0-3.7 on a 2-core AMD EPYC
# (AVX-512 + VNNI build, Dec 2026) and ~3.3 for the Q8_0 models on a 1-thread AMX Xeon (Nov
# 2026); decode of the 8B Q4_K_M reached 129 GFLOP/s on the EPYC, above the fp32-based ceiling.
# 3.0 is the low end. Builds without 512-bit VNNI keep 1: the AVX2 EPYC measured 0.8-1.4x the
# model without it (256-bit AVX-VNNI alone is not measured).
CPU_INT8_DOT_SPEEDUP_AVX512_VNNI = 3.0


def int8_dot_speedup(features) -> float:
    """How much faster than the fp32 FMA peak a build with these CPU features runs llama.cpp's
    quantized dot products (see CPU_INT8_DOT_SPEEDUP_AVX512_VNNI)."""
    feats = set(features or ())
    return CPU_INT8_DOT_SPEEDUP_AVX512_VNNI if {"avx512f", "avx512_vnni"} <= feats else 1.0


def unrepacked_factor(build) -> float:
    """Prefill rate of weights the build does not repack, relative to repacked ones (see above)."""
    feats = getattr(build, "features", ()) or ()
    if "avx512f" in feats or "avx2" not in feats:
        return CPU_PREFILL_UNREPACKED_FACTOR
    return CPU_PREFILL_UNREPACKED_FACTOR_AVX2


@dataclass(frozen=True)
class DeviceSpec:
    """One memory + compute pool: a GPU's VRAM and cores, or the CPU with system RAM."""

    kind: str  # "gpu" | "cpu"
    bandwidth: float  # bytes/s, spec (e.g. 1008e9 for an RTX 4090)
    flops: float  # peak dense FLOP/s: fp16 tensor for GPUs; for CPUs fp32 SIMD FMA x int8_dot_speedup
    name: str = ""
    cache_bytes: int = 0  # last-level cache (CPU): a model reading less per token runs from cache
    # True when ``bandwidth`` was measured on this machine (an achieved read rate), False for a
    # spec figure: decode reaches a different share of each (DECODE_BW_EFFICIENCY_CPU[_MEASURED]).
    bandwidth_measured: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("gpu", "cpu"):
            raise SizeupError(f"device kind must be 'gpu' or 'cpu', not '{self.kind}'")
        if not (self.bandwidth > 0 and math.isfinite(self.bandwidth)):
            raise SizeupError(f"device {self.name or self.kind}: bandwidth must be a positive number")
        if not (self.flops > 0 and math.isfinite(self.flops)):
            raise SizeupError(f"device {self.name or self.kind}: FLOP/s must be a positive number")


def bw_efficiency(spec: DeviceSpec) -> float:
    """Share of ``spec.bandwidth`` llama.cpp's decode reads at (see the constants)."""
    if spec.kind == "gpu":
        return DECODE_BW_EFFICIENCY_GPU
    return DECODE_BW_EFFICIENCY_CPU_MEASURED if spec.bandwidth_measured else DECODE_BW_EFFICIENCY_CPU


def cpu_matmul_efficiency(prompt_tokens: int, ubatch: int = DEFAULT_UBATCH) -> float:
    """Share of peak FLOP/s llama.cpp's CPU matmuls reach for a batch of this many tokens.

    One token is a matrix-vector product (decode's efficiency); from ``CPU_FULL_BATCH`` tokens on,
    weights are reused across the batch and the kernels reach the prefill efficiency. In between,
    linear - a simple, documented ramp, not a measurement of each batch size.
    """
    batch = max(1, min(prompt_tokens, ubatch))
    ramp = min(1.0, (batch - 1) / (CPU_FULL_BATCH - 1))
    return DECODE_FLOPS_EFFICIENCY_CPU + (PREFILL_FLOPS_EFFICIENCY_CPU - DECODE_FLOPS_EFFICIENCY_CPU) * ramp


def cpu_peak_flops(cores: int, freq_ghz: float, simd_bits: int = 256, fma_units: int = 2) -> float:
    """Peak fp32 FLOP/s of a CPU: cores x lanes x 2 (multiply+add) x FMA ports x clock.

    AVX2 desktop cores: 256-bit, 2 FMA ports = 32 FLOP/cycle; AVX-512 server cores 64; Apple
    and other ARM cores with 4 x 128-bit NEON pipes: pass simd_bits=128, fma_units=4.
    """
    if cores <= 0 or freq_ghz <= 0 or simd_bits <= 0 or fma_units <= 0:
        raise SizeupError("CPU cores, frequency, SIMD width and FMA units must be positive")
    return cores * (simd_bits / 32) * 2 * fma_units * freq_ghz * 1e9


@dataclass(frozen=True)
class Calibration:
    """Efficiency fitted to measured runs: measured = 1 / (1/(eff * predicted) + overhead)."""

    efficiency: float  # multiplies estimate_speed's uncalibrated decode rate
    overhead_s: float  # fixed seconds per token
    n_points: int
    rel_rms_error: float  # of the fitted model against the measurements
    # Regime-aware calibration (calibrate_regimes): scales of the memory and compute times of the
    # decode roofline, and of the prefill rate. None = not fitted (the constants stand).
    memory_scale: float | None = None
    compute_scale: float | None = None
    prefill_scale: float | None = None
    # Regime-aware calibration: the fitted fixed seconds per token, replacing the default
    # TOKEN_OVERHEAD_S_*; and the prefill scale of repacked weights when fitted apart from the
    # rest (prefill_scale then scales the rest only).
    token_overhead_s: float | None = None
    prefill_repacked_scale: float | None = None


@dataclass(frozen=True)
class SpeedEstimate:
    decode_tps: float
    prefill_tps: float
    bound: str  # what limits decode: "memory" | "compute"
    calibrated: bool
    notes: tuple[str, ...] = ()
    # Bytes read per generated token on each device (weights + KV), for reports.
    bytes_per_token: dict[str, float] = field(default_factory=dict)
    regime: str = "dram"  # CPU decode reads from "cache" or "dram" (GPU-only runs: "vram")
    # The uncalibrated roofline's parts (seconds per token), the axes of calibrate_regimes.
    memory_time_s: float = 0.0
    compute_time_s: float = 0.0
    prefill_model_tps: float = 0.0  # uncalibrated prefill rate
    # The uncalibrated prefill's seconds per token: matmuls of repacked weights, everything else
    # computed (other matmuls, attention), and the weight-read floor - the axes of the prefill fit.
    prefill_repacked_s: float = 0.0
    prefill_other_s: float = 0.0
    prefill_memory_s: float = 0.0


_LAYER_RE = re.compile(r"^blk\.(\d{1,9})\.")  # bounded: names come from untrusted files


def _layer(name: str) -> int:
    m = _LAYER_RE.match(name)
    return int(m.group(1)) if m else -1


def on_gpu(layer: int, n_layer: int, n_gpu_layers: int) -> bool:
    """llama.cpp's placement: the last ``n_gpu_layers`` blocks; the output head (layer == n_layer)
    only when n_gpu_layers exceeds the block count (``-ngl 99``)."""
    ngl = max(0, n_gpu_layers)
    start = max(n_layer - ngl, 0)
    if layer == n_layer:
        return ngl > n_layer
    return layer >= start


def weight_bytes_per_token(tensors: Sequence[TensorInfo], arch: Architecture, n_gpu_layers: int = 0,
                           experts_on_cpu: bool = False) -> dict[str, float]:
    """Weight bytes one decoded token reads on "cpu" and "gpu".

    Routed experts count at n_expert_used / n_expert of their bytes (on average a token touches
    that share; at batch 1 exactly that many experts are read). The token embedding is a row
    lookup (one row per token, on the CPU as in llama.cpp), and so are the other input tables
    (Gemma 3n's per-layer embeddings, learned positions); the output head is a full read - of
    token_embd itself when the embeddings are tied.
    """
    n_layer = arch.n_layer
    share = arch.n_expert_used / arch.n_expert if arch.n_expert and arch.n_expert_used else 1.0
    out = {"cpu": 0.0, "gpu": 0.0}
    has_output = any(t.name == "output.weight" for t in tensors)
    for t in tensors:
        i = _layer(t.name)
        b = float(t.n_bytes)
        if t.name == "token_embd.weight":
            rows = max(arch.n_vocab, 1)
            out["cpu"] += b / rows
            if not has_output:  # tied: the output head reads the whole table
                out["gpu" if on_gpu(n_layer, n_layer, n_gpu_layers) else "cpu"] += b
            continue
        if _is_lookup_table(t):
            out["cpu"] += b / max(t.shape[-1], 1)
            continue
        if i < 0:  # output head, output norm, rope tables
            dev = "gpu" if on_gpu(n_layer, n_layer, n_gpu_layers) else "cpu"
        else:
            dev = "gpu" if on_gpu(i, n_layer, n_gpu_layers) else "cpu"
        if is_routed_expert(t):
            b *= share
            if experts_on_cpu:
                dev = "cpu"
        out[dev] += b
    return out


def _is_lookup_table(t: TensorInfo) -> bool:
    """An input table other than token_embd (``per_layer_token_embd``, ``position_embd``...): a
    token gathers one row (its last dimension counts the rows), as llama.cpp's get_rows does."""
    return len(t.shape) >= 2 and t.name != "token_embd.weight" and is_input_tensor(t.name)


def active_params(tensors: Sequence[TensorInfo], arch: Architecture) -> dict[str, float]:
    """Parameters one token multiplies through ("matmul" FLOPs = 2 x these), by role.

    Returns {"total": ..., "routed": ..., "head": ...}: embeddings count as the output head when
    tied, as a free lookup otherwise; "head" is the output head's share of "total" (prefill
    multiplies it for the prompt's last token only, see :func:`estimate_speed`).
    """
    share = arch.n_expert_used / arch.n_expert if arch.n_expert and arch.n_expert_used else 1.0
    has_output = any(t.name == "output.weight" for t in tensors)
    total = routed = head = 0.0
    for t in tensors:
        n = float(t.n_elements)
        if t.name == "token_embd.weight":
            if not has_output:
                total += n
                head += n
            continue
        if _is_lookup_table(t):  # rows gathered, nothing multiplied
            continue
        if t.name == "output.weight":
            head += n
        if is_routed_expert(t):
            routed += n * share
            n *= share
        total += n
    return {"total": total, "routed": routed, "head": head}


def repacked_share(tensors: Sequence[TensorInfo], arch: Architecture, build) -> float:
    """Share of a token's matmul parameters (active experts weighted) that ``build`` repacks."""
    from .repack import repack_layout

    share = arch.n_expert_used / arch.n_expert if arch.n_expert and arch.n_expert_used else 1.0
    total = rep = 0.0
    for t in tensors:
        if len(t.shape) < 2 or t.name == "token_embd.weight" or _is_lookup_table(t):
            continue
        n = float(t.n_elements) * (share if is_routed_expert(t) else 1.0)
        total += n
        if repack_layout(t, build):
            rep += n
    return rep / total if total else 1.0


def kv_read_bytes(arch: Architecture, depth: int, bytes_k: float = 2.0, bytes_v: float = 2.0) -> list[float]:
    """KV-cache bytes each layer reads to generate one token at context ``depth``.

    ``bytes_k``/``bytes_v``: bytes per cached element (f16 = 2, q8_0 = 34/32, q4_0 = 18/32).
    Sliding-window layers read at most their window. MLA layers cache one compressed latent
    (kv_lora_rank + rope dims) shared by K and V. Recurrent layers read and write their fixed
    state (f32) instead, whatever the depth.
    """
    if depth < 0:
        raise SizeupError("context depth cannot be negative")
    out: list[float] = []
    for i in range(arch.n_layer):
        if arch.layer_kind(i) == LAYER_RECURRENT:
            # the F32 conv/shift and SSM/WKV state rows the memory model holds for the layer
            # (kv_cache.recurrent_rows, llama_hparams::n_embd_r/n_embd_s), read and written back
            n_r, n_s = recurrent_rows(arch)
            out.append(2.0 * 4 * (n_r + n_s))
            continue
        if arch.n_head_kv[i] == 0 and not arch.is_mla:
            out.append(0.0)
            continue
        cells = min(depth, arch.swa_window) if arch.is_swa(i) and arch.swa_window else depth
        if arch.is_mla:
            row = (arch.kv_lora_rank + arch.rope_dim) * bytes_k
        else:
            row = arch.n_head_kv[i] * (arch.head_dim_k * bytes_k + arch.head_dim_v * bytes_v)
        out.append(cells * row)
    return out


def attention_flops_per_token(arch: Architecture, context: float) -> float:
    """Score and weighted-sum FLOPs of one token attending to ``context`` positions, all layers:
    2 x (QK^T) + 2 x (AV) = 4 x n_head x head_dim x context per layer."""
    total = 0.0
    for i in range(arch.n_layer):
        if arch.layer_kind(i) == LAYER_RECURRENT or arch.n_head[i] == 0:
            continue
        ctx = min(context, arch.swa_window) if arch.is_swa(i) and arch.swa_window else context
        d = arch.n_head[i] * (arch.head_dim_k + arch.head_dim_v) / 2
        total += 4 * d * ctx
    return total


def _layer_share_on_gpu(arch: Architecture, n_gpu_layers: int) -> float:
    n = arch.n_layer
    return sum(1 for i in range(n) if on_gpu(i, n, n_gpu_layers)) / n if n else 0.0


def estimate_speed(tensors: Sequence[TensorInfo], arch: Architecture, *, cpu: DeviceSpec,
                   gpu: DeviceSpec | None = None, n_gpu_layers: int = 0, depth: int = 0,
                   prompt_tokens: int = 512, bytes_k: float = 2.0, bytes_v: float = 2.0,
                   experts_on_cpu: bool = False, ubatch: int = DEFAULT_UBATCH,
                   calibration: Calibration | None = None, build=None) -> SpeedEstimate:
    """Decode and prefill tokens/s of a model (its tensor list) on a CPU and optionally a GPU.

    ``n_gpu_layers`` follows llama.cpp's -ngl (negative = all layers and the output head;
    ignored without a GPU); ``depth`` is the
    context already in the KV cache when generating. With ``calibration`` (fitted by
    :func:`calibrate` on pairs of this function's uncalibrated decode rate and measured rates),
    the decode rate becomes ``1 / (1 / (efficiency x uncalibrated) + overhead)``: a correction of
    the whole roofline, so it holds whether decode is memory- or compute-bound on the machine.
    """
    if not tensors:
        raise SizeupError("no tensors to estimate speed from")
    if cpu.kind != "cpu" or (gpu is not None and gpu.kind != "gpu"):
        raise SizeupError("estimate_speed needs a cpu DeviceSpec and, optionally, a gpu DeviceSpec")
    if gpu is None:
        ngl = 0
    else:  # negative = everything, as llama.cpp's "all layers" settings
        ngl = n_gpu_layers if n_gpu_layers >= 0 else arch.n_layer + 1
    notes: list[str] = []

    # --- decode: bytes per device --------------------------------------------------------
    wb = weight_bytes_per_token(tensors, arch, ngl, experts_on_cpu)
    kv = kv_read_bytes(arch, depth, bytes_k, bytes_v)
    read = dict(wb)
    for i, b in enumerate(kv):
        read["gpu" if gpu is not None and on_gpu(i, arch.n_layer, ngl) else "cpu"] += b
    devices = {"cpu": cpu, "gpu": gpu}

    # Split = the GPU holds something and the CPU more than the embedding row lookup.
    embd_row = sum(t.n_bytes for t in tensors if t.name == "token_embd.weight") / max(arch.n_vocab, 1)
    split = read["gpu"] > 0 and read["cpu"] - embd_row > 0
    params = active_params(tensors, arch)
    w_total = wb["cpu"] + wb["gpu"]
    mem_time = comp_time = 0.0
    regime = "vram" if read["cpu"] <= embd_row + 1 and gpu is not None else "dram"
    if regime == "dram" and cpu.cache_bytes and read["cpu"] <= cpu.cache_bytes:
        regime = "cache"
    for dev, b in read.items():
        spec = devices[dev]
        if b <= 0 or spec is None:
            continue
        bw = spec.bandwidth * (CACHE_BW_SPEEDUP if dev == "cpu" and regime == "cache" else 1.0)
        mem_time += b / (bw * bw_efficiency(spec))
        # Matmul work on this device, in proportion to the weight bytes it holds.
        share = wb[dev] / w_total if w_total else 0.0
        eff_fl = PREFILL_FLOPS_EFFICIENCY_GPU if dev == "gpu" else DECODE_FLOPS_EFFICIENCY_CPU
        comp_time += 2 * params["total"] * share / (spec.flops * eff_fl)
    overhead = TOKEN_OVERHEAD_S_GPU if read["gpu"] > 0 else TOKEN_OVERHEAD_S_CPU
    decode_tps, bound = decode_rate(mem_time, comp_time, overhead, SPLIT_OVERHEAD_S if split else 0.0, calibration)
    if split:
        notes.append(f"split: {read['cpu'] / (read['cpu'] + read['gpu']):.0%} of bytes per token read from system RAM")
    if arch.n_expert and arch.n_expert_used:
        notes.append(f"MoE: routed experts counted at {arch.n_expert_used}/{arch.n_expert} of their size")

    # --- prefill: FLOPs per token over compute, capped by one weight read per micro-batch -----
    # llama.cpp computes logits for the prompt's last token only (a batch without a logits array,
    # as llama-bench, llama-server and llama-cpp-python send it), so the output head's FLOPs are
    # paid once per prompt, not per token: a fifth of a 1B's matmuls, two thirds of gemma-3-270m's.
    params = dict(params, total=params["total"] - params["head"] * (1 - 1 / max(prompt_tokens, 1)))
    avg_ctx = depth + prompt_tokens / 2
    attn = attention_flops_per_token(arch, avg_ctx)
    gpu_share_layers = _layer_share_on_gpu(arch, ngl) if gpu is not None else 0.0
    t_rep = t_other = 0.0  # seconds per token: repacked matmuls, everything else computed
    for dev, spec in devices.items():
        if spec is None:
            continue
        wshare = wb[dev] / w_total if w_total else 0.0
        lshare = gpu_share_layers if dev == "gpu" else 1.0 - gpu_share_layers
        mm_raw = 2 * params["total"] * wshare
        if dev == "gpu":
            t_other += (mm_raw + attn * lshare) / (spec.flops * PREFILL_FLOPS_EFFICIENCY_GPU)
            continue
        rep_frac = 0.0  # share of the CPU's matmul time spent on repacked weights
        mm = mm_raw
        if build is not None and mm_raw > 0:
            # repacked weights run the fast GEMM, the rest the generic kernels (see the constants)
            r = repacked_share(tensors, arch, build)
            slow = (1 - r) / unrepacked_factor(build)
            mm = mm_raw * (r + slow)
            rep_frac = r / (r + slow) if r + slow > 0 else 0.0
        eff_fl = cpu_matmul_efficiency(prompt_tokens, ubatch)
        # Routed experts: MUL_MAT_ID multiplies each expert by the tokens routed to it only, so
        # its batch is prompt x n_expert_used / n_expert tokens - matrix-vector speed for small ones.
        routed = 2 * params["routed"] * wshare * (mm / mm_raw if mm_raw else 1.0)
        eff_exp = eff_fl
        if routed and arch.n_expert:
            per_expert = max(1, round(min(prompt_tokens, ubatch) * arch.n_expert_used / arch.n_expert))
            eff_exp = cpu_matmul_efficiency(per_expert, ubatch)
        t_mm = (mm - routed) / (spec.flops * eff_fl) + routed / (spec.flops * eff_exp)
        t_rep += t_mm * rep_frac
        t_other += t_mm * (1 - rep_frac) + attn * lshare / (spec.flops * eff_fl)
    # All weights (every expert, at a full micro-batch) are read once per micro-batch.
    all_experts = dataclasses.replace(arch, n_expert_used=arch.n_expert) if arch.n_expert else arch
    full = weight_bytes_per_token(tensors, all_experts, ngl, experts_on_cpu)
    batch = max(1, min(ubatch, prompt_tokens))
    t_mem = sum(full[d] / (spec.bandwidth * bw_efficiency(spec))
                for d, spec in devices.items() if spec and full[d] > 0) / batch
    prefill_model = prefill_rate(t_rep, t_other, t_mem, None)
    prefill_tps = prefill_rate(t_rep, t_other, t_mem, calibration)
    if t_mem > t_rep + t_other:
        notes.append("prefill limited by weight reads (small batch or slow memory)")
    if regime == "cache":
        notes.append("weights fit in the CPU's last-level cache: read from cache, not DRAM")
    return SpeedEstimate(decode_tps=decode_tps, prefill_tps=prefill_tps, bound=bound,
                         calibrated=calibration is not None, notes=tuple(notes),
                         bytes_per_token={k: v for k, v in read.items() if v > 0}, regime=regime,
                         memory_time_s=mem_time, compute_time_s=comp_time + 0.0, prefill_model_tps=prefill_model,
                         prefill_repacked_s=t_rep, prefill_other_s=t_other, prefill_memory_s=t_mem)


def decode_rate(mem_t: float, comp_t: float, overhead: float, split_s: float,
                calibration: Calibration | None) -> tuple[float, str]:
    """tok/s and the bound ("memory" | "compute") of the decode roofline's parts (seconds per token):
    ``1 / (max(memory, compute) + overhead + split)``, each part scaled by a regime-aware
    calibration (:func:`calibrate_regimes`, whose fitted overhead replaces the default), or the
    whole rate corrected by a plain one (:func:`calibrate`). Shared with the ranking's fast path."""
    ms = getattr(calibration, "memory_scale", None) if calibration is not None else None
    cs = getattr(calibration, "compute_scale", None) if calibration is not None else None
    if ms is not None or cs is not None:
        m_t, c_t = mem_t * (ms or 1.0), comp_t * (cs or 1.0)
        fitted = getattr(calibration, "token_overhead_s", None)
        over = (overhead if fitted is None else fitted) + split_s
        return 1.0 / (max(m_t, c_t) + over), ("memory" if m_t >= c_t else "compute")
    tps = 1.0 / (max(mem_t, comp_t) + overhead + split_s)
    if calibration is not None:
        tps = 1.0 / (1.0 / (calibration.efficiency * tps) + calibration.overhead_s)
    return tps, ("memory" if mem_t >= comp_t else "compute")


def prefill_rate(t_rep: float, t_other: float, t_mem: float, calibration: Calibration | None) -> float:
    """Prefill tok/s from its parts (seconds per token): ``1 / max(compute, weight reads)``, the
    compute of repacked weights and of the rest each divided by its calibrated scale."""
    s_other = getattr(calibration, "prefill_scale", None) if calibration is not None else None
    s_rep = getattr(calibration, "prefill_repacked_scale", None) if calibration is not None else None
    s_rep = s_rep or s_other
    t_c = t_rep / (s_rep or 1.0) + t_other / (s_other or 1.0)
    t = max(t_c, t_mem)
    return 1.0 / t if t > 0 else float("inf")


def bandwidth_bound_tps(bytes_per_token: float, bandwidth: float, efficiency: float = 1.0,
                        overhead_s: float = 0.0) -> float:
    """Tokens/s when each token reads ``bytes_per_token`` at ``efficiency`` x ``bandwidth``."""
    if bytes_per_token <= 0 or bandwidth <= 0 or efficiency <= 0:
        raise SizeupError("bytes per token, bandwidth and efficiency must be positive")
    return 1.0 / (bytes_per_token / (bandwidth * efficiency) + overhead_s)


def calibrate(measurements: Sequence[tuple[float, float]]) -> Calibration:
    """Fit a correction (factor and per-token overhead) to (predicted, measured) decode tokens/s.

    ``predicted`` is :func:`estimate_speed`'s uncalibrated decode rate for the run's
    configuration; ``measured`` what llama.cpp achieved. Time per token is linear in the
    prediction's time: 1/measured = (1/eff) * (1/predicted) + overhead, fitted by least squares
    on the times. With one point, or points too alike to separate the two, the overhead is 0
    and the efficiency is the geometric mean of measured/predicted.
    """
    pts = [(float(p), float(m)) for p, m in measurements]
    if not pts:
        raise SizeupError("calibration needs at least one measurement")
    if any(not (p > 0 and m > 0 and math.isfinite(p) and math.isfinite(m)) for p, m in pts):
        raise SizeupError("calibration measurements must be positive, finite tokens/s")
    xs = [1.0 / p for p, _ in pts]
    ys = [1.0 / m for _, m in pts]
    n = len(pts)
    eff = overhead = None
    if n >= 2:
        mx, my = sum(xs) / n, sum(ys) / n
        sxx = sum((x - mx) ** 2 for x in xs)
        if sxx > (mx * 1e-3) ** 2 * n:
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
            icept = my - slope * mx
            if slope > 0 and icept >= 0:
                eff, overhead = 1.0 / slope, icept
            elif slope > 0:  # negative overhead is unphysical: refit through the origin
                eff, overhead = sum(x * x for x in xs) / sum(x * y for x, y in zip(xs, ys)), 0.0
    if eff is None:
        eff = math.exp(sum(math.log(m / p) for p, m in pts) / n)
        overhead = 0.0
    pred = [1.0 / (x / eff + overhead) for x in xs]
    rms = math.sqrt(sum(((q - m) / m) ** 2 for q, (_, m) in zip(pred, pts)) / n)
    return Calibration(efficiency=eff, overhead_s=overhead, n_points=n, rel_rms_error=rms)


def _nnls2(rows: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Non-negative least squares of ``x * u + y * v = 1`` over rows (u, v): both columns where
    that gives positive coefficients, else the better of either column alone (the other held at
    0). None when nothing positive fits (fewer rows than columns, or both columns too alike to
    separate and neither alone positive). Shared by the decode and prefill fits."""
    suu = sum(u * u for u, _ in rows)
    svv = sum(v * v for _, v in rows)
    suv = sum(u * v for u, v in rows)
    su = sum(u for u, _ in rows)
    sv = sum(v for _, v in rows)
    det = suu * svv - suv * suv
    if len(rows) >= 2 and suu > 0 and svv > 0 and det > 0.02 * suu * svv:  # not near-collinear
        x, y = (su * svv - sv * suv) / det, (sv * suu - su * suv) / det
        if x > 0 and y > 0:
            return x, y
    best: tuple[float, tuple[float, float]] | None = None
    for sol in ((su / suu, 0.0) if suu > 0 else None, (0.0, sv / svv) if svv > 0 else None):
        if sol is None or max(sol) <= 0:
            continue
        res = sum((sol[0] * u + sol[1] * v - 1.0) ** 2 for u, v in rows)
        if best is None or res < best[0]:
            best = (res, sol)
    return best[1] if best else None


# A memory scale and an overhead are fitted together only from DRAM points whose memory times
# span at least this factor (a small and a large model); with less spread the two cannot be
# told apart and the overhead keeps its default.
OVERHEAD_FIT_SPREAD = 2.0


def _fit_memory(pts: Sequence[tuple[float, float]], over: float) -> tuple[float, float | None]:
    """(memory scale, fitted overhead or None) from (memory time, seconds per token) points:
    ``t = a * memory + overhead`` by least squares on relative error, so a 135M model and an 8B
    one weigh alike. Too little spread, or an unphysical fit: the median scale at the default."""
    ms = [m for m, _ in pts]
    if len(pts) >= 2 and max(ms) >= OVERHEAD_FIT_SPREAD * min(ms):
        sol = _nnls2([(m / t, 1.0 / t) for m, t in pts])
        if sol is not None and sol[0] > 0:  # overhead 0: a negative one was refitted through the origin
            return sol
    import statistics

    return statistics.median(max(t - over, 1e-9) / m for m, t in pts), None


def _fit_prefill(points: Sequence[tuple]) -> tuple[float | None, float | None]:
    """(scale of the rest, scale of repacked weights or None) of prefill, from points
    (repacked s/token, other s/token, weight-read s/token, measured tok/s) or legacy
    (uncalibrated tok/s, measured tok/s).

    ``1/measured = repacked / s_rep + other / s_rest`` by non-negative least squares on relative
    error (:func:`_nnls2`), where the points mix repacked and other weights enough to tell them
    apart; otherwise
    one scale for both, the geometric mean ratio. (A per-token overhead as a third term, fitted
    the way decode's is, made held-out predictions worse on four runs of
    benchmarks/scale_validation.py here - rms error 0.25 against 0.22 - so prefill has none.)"""
    full: list[tuple[float, float, float]] = []  # (repacked s, other s, measured tok/s), compute-bound
    ratios: list[float] = []
    for p in points:
        vals = [float(x) for x in p]
        if not all(math.isfinite(x) and x >= 0 for x in vals) or vals[-1] <= 0:
            continue
        if len(vals) == 2:
            if vals[0] > 0:
                ratios.append(vals[1] / vals[0])
            continue
        r, o, mem, m = vals[:4]
        if r + o <= 0:
            continue
        ratios.append(m * max(r + o, mem))
        if r + o >= mem:
            full.append((r, o, m))
    if not ratios:
        return None, None
    if len(full) == len(ratios) and len(full) >= 2:
        x = _nnls2([(r * m, o * m) for r, o, m in full])
        if x is not None and x[0] > 0 and x[1] > 0:
            return 1.0 / x[1], 1.0 / x[0]
    return math.exp(sum(math.log(x) for x in ratios) / len(ratios)), None


def calibrate_regimes(tg_points: Sequence[tuple], pp_points: Sequence[tuple] = (),
                      overhead_s: float = TOKEN_OVERHEAD_S_CPU) -> Calibration:
    """Fit the decode roofline's memory and compute scales and its per-token overhead, and the
    prefill scales, to measurements.

    ``tg_points``: (memory_time_s, compute_time_s, measured tok/s[, regime]) per run, the
    uncalibrated roofline's parts from :class:`SpeedEstimate`. The decode model is ``1/tps =
    max(a * memory, b * compute) + overhead``. Each point is assigned to the term that binds under
    the current scales; the memory points fit ``a`` and the overhead together (time per token is
    linear in bytes per token: small models measure the overhead, large ones the bandwidth, see
    :func:`_fit_memory`), the compute points fit ``b`` as a median; a few rounds settle the
    assignment. A point in the "cache" regime never calibrates DRAM (its memory time is a cache
    read). A term with no point keeps scale 1 (the documented constants); ``overhead_s`` is the
    default overhead (the GPU's for GPU runs).

    ``pp_points``: (repacked s/token, other s/token, weight-read s/token, measured tok/s) from
    :class:`SpeedEstimate`'s prefill parts, or legacy (uncalibrated tok/s, measured tok/s); see
    :func:`_fit_prefill`.
    """
    import statistics

    pts = [(float(p[0]), float(p[1]), float(p[2])) for p in tg_points]
    cached = [len(p) > 3 and p[3] == "cache" for p in tg_points]
    if not pts and not pp_points:
        raise SizeupError("calibration needs at least one measurement")
    if any(not (m >= 0 and c >= 0 and t > 0 and math.isfinite(m + c + t)) for m, c, t in pts):
        raise SizeupError("calibration points must be finite, with positive measured tokens/s")
    a = b = 1.0
    over = overhead_s
    fitted_over: float | None = None
    for _ in range(8):
        mem_p, comp_r = [], []
        for (m, c, t), in_cache in zip(pts, cached):
            if a * m >= b * c and m > 0 and not in_cache:
                mem_p.append((m, 1.0 / t))
            elif c > 0:
                comp_r.append((c, 1.0 / t))
        na, nover = (_fit_memory(mem_p, overhead_s) if mem_p else (a, fitted_over))
        o = nover if nover is not None else overhead_s
        nb = statistics.median(max(y - o, 1e-9) / c for c, y in comp_r) if comp_r else b
        done = abs(na - a) < 1e-9 * a and abs(nb - b) < 1e-9 * b and o == over
        a, b, over, fitted_over = na, nb, o, nover
        if done:
            break
    is_mem = [a * m >= b * c and m > 0 and not k for (m, c, _), k in zip(pts, cached)]
    fitted_mem = any(is_mem)
    fitted_comp = any(not im and c > 0 for im, (_, c, _) in zip(is_mem, pts))
    pp_scale, pp_rep = _fit_prefill(pp_points)
    errs = [((1.0 / ((b * c if k else max(a * m, b * c)) + over)) - t) / t for (m, c, t), k in zip(pts, cached)]
    rms = math.sqrt(sum(e * e for e in errs) / len(errs)) if errs else 0.0
    return Calibration(efficiency=1.0, overhead_s=0.0, n_points=len(pts) + len(pp_points), rel_rms_error=rms,
                       memory_scale=a if fitted_mem else None, compute_scale=b if fitted_comp else None,
                       prefill_scale=pp_scale, token_overhead_s=fitted_over if fitted_mem else None,
                       prefill_repacked_scale=pp_rep)
