"""The roofline speed model: arithmetic, monotonicity, MoE, offload splits and calibration."""

from __future__ import annotations

import dataclasses
import math

import pytest

from sizeup.errors import SizeupError
from sizeup.estimate.speed import (
    Calibration,
    DECODE_BW_EFFICIENCY_CPU,
    DECODE_BW_EFFICIENCY_GPU,
    TOKEN_OVERHEAD_S_CPU,
    TOKEN_OVERHEAD_S_GPU,
    DeviceSpec,
    attention_flops_per_token,
    bandwidth_bound_tps,
    calibrate,
    calibrate_regimes,
    cpu_peak_flops,
    estimate_speed,
    kv_read_bytes,
    weight_bytes_per_token,
)
from sizeup.estimate.weights_predict import predict_tensors
from sizeup.testing.architectures import dense

LLAMA2_7B = dense("llama", 32, 4096, 32, 32, 128, 11008, 32000, False)
QWEN3_30B_A3B = dense("qwen3moe", 48, 2048, 32, 4, 128, 0, 151936, False, n_expert=128, n_expert_used=8, n_ff_exp=768)
GEMMA3_270M = dense("gemma3", 18, 640, 4, 1, 256, 2048, 262144, True, swa_window=512,
                    swa_layers=tuple(i % 6 != 5 for i in range(18)))

RTX4090 = DeviceSpec("gpu", bandwidth=1008e9, flops=165e12, name="RTX 4090")
DDR5 = DeviceSpec("cpu", bandwidth=89.6e9, flops=cpu_peak_flops(8, 4.5), name="8-core DDR5-5600")


@pytest.fixture(scope="module")
def q4km_7b():
    return predict_tensors(LLAMA2_7B, "Q4_K_M")


def test_known_arithmetic_7b_on_4090(q4km_7b):
    total = sum(t.n_bytes for t in q4km_7b)
    assert 4.0e9 < total < 4.2e9  # the well-known ~4.1 GB Q4_K_M 7B
    # Bandwidth bound: 1008 GB/s / 4.1 GB = 245.9 tok/s at full efficiency.
    assert bandwidth_bound_tps(4.1e9, 1008e9) == pytest.approx(245.85, rel=1e-3)
    assert bandwidth_bound_tps(4.1e9, 1008e9, 0.7) == pytest.approx(0.7 * 245.85, rel=1e-3)
    # The full model: all weights read once from VRAM, except the embedding, of which one row is
    # looked up in system RAM (llama.cpp keeps the input layer on the CPU); no KV at depth 0.
    embd = next(t for t in q4km_7b if t.name == "token_embd.weight")
    row = embd.n_bytes / LLAMA2_7B.n_vocab
    est = estimate_speed(q4km_7b, LLAMA2_7B, cpu=DDR5, gpu=RTX4090, n_gpu_layers=99, depth=0)
    expect = 1 / ((total - embd.n_bytes) / (1008e9 * DECODE_BW_EFFICIENCY_GPU)
                  + row / (DDR5.bandwidth * DECODE_BW_EFFICIENCY_CPU) + TOKEN_OVERHEAD_S_GPU)
    assert est.decode_tps == pytest.approx(expect, rel=1e-9)
    assert 0.6 * 245 < est.decode_tps < 0.75 * 250
    assert est.bound == "memory" and not est.calibrated
    assert est.prefill_tps > 20 * est.decode_tps  # prompt processing is compute-bound and far faster


def test_monotonic(q4km_7b):
    base = estimate_speed(q4km_7b, LLAMA2_7B, cpu=DDR5, gpu=RTX4090, n_gpu_layers=99, depth=0)
    deep = estimate_speed(q4km_7b, LLAMA2_7B, cpu=DDR5, gpu=RTX4090, n_gpu_layers=99, depth=16384)
    assert deep.decode_tps < base.decode_tps and deep.prefill_tps < base.prefill_tps
    faster = estimate_speed(q4km_7b, LLAMA2_7B, cpu=DDR5, gpu=dataclasses.replace(RTX4090, bandwidth=2000e9),
                            n_gpu_layers=99)
    assert faster.decode_tps > base.decode_tps
    q8 = estimate_speed(predict_tensors(LLAMA2_7B, "Q8_0"), LLAMA2_7B, cpu=DDR5, gpu=RTX4090, n_gpu_layers=99)
    assert q8.decode_tps < base.decode_tps
    # KV reads grow linearly with depth; sliding-window layers stop at their window.
    assert sum(kv_read_bytes(LLAMA2_7B, 2000)) == pytest.approx(2 * sum(kv_read_bytes(LLAMA2_7B, 1000)))
    assert sum(kv_read_bytes(LLAMA2_7B, 0)) == 0
    g = kv_read_bytes(GEMMA3_270M, 4096)
    assert g[0] == g[1] == 512 * 1 * (256 + 256) * 2 and g[5] == 4096 * 1 * (256 + 256) * 2
    assert attention_flops_per_token(LLAMA2_7B, 2048) == pytest.approx(2 * attention_flops_per_token(LLAMA2_7B, 1024))


def test_partial_offload_lies_between(q4km_7b):
    cpu_only = estimate_speed(q4km_7b, LLAMA2_7B, cpu=DDR5, gpu=None, depth=1024)
    gpu_only = estimate_speed(q4km_7b, LLAMA2_7B, cpu=DDR5, gpu=RTX4090, n_gpu_layers=99, depth=1024)
    speeds = [estimate_speed(q4km_7b, LLAMA2_7B, cpu=DDR5, gpu=RTX4090, n_gpu_layers=n, depth=1024).decode_tps
              for n in (0, 8, 16, 24, 32)]
    assert cpu_only.decode_tps == pytest.approx(speeds[0], rel=1e-9)  # -ngl 0 = CPU only
    all_layers = estimate_speed(q4km_7b, LLAMA2_7B, cpu=DDR5, gpu=RTX4090, n_gpu_layers=-1, depth=1024)
    assert all_layers.decode_tps == gpu_only.decode_tps
    assert all(a < b for a, b in zip(speeds, speeds[1:]))
    half = estimate_speed(q4km_7b, LLAMA2_7B, cpu=DDR5, gpu=RTX4090, n_gpu_layers=16, depth=1024)
    assert cpu_only.decode_tps < half.decode_tps < gpu_only.decode_tps
    assert any("split" in n for n in half.notes)
    # Times add: with half the layers on the CPU, decode is much closer to CPU-only than GPU-only.
    assert half.decode_tps < 2.5 * cpu_only.decode_tps
    b = weight_bytes_per_token(q4km_7b, LLAMA2_7B, 16)
    layer_bytes = [sum(t.n_bytes for t in q4km_7b if t.name.startswith(f"blk.{i}.")) for i in range(32)]
    assert b["gpu"] == pytest.approx(sum(layer_bytes[16:]))  # output head stays on CPU below n_layer + 1


def test_moe_decode_reads_active_experts_only():
    tensors = predict_tensors(QWEN3_30B_A3B, "Q4_K_M")
    total = sum(t.n_bytes for t in tensors)
    experts = sum(t.n_bytes for t in tensors if "_exps" in t.name)
    embd = next(t for t in tensors if t.name == "token_embd.weight").n_bytes
    b = weight_bytes_per_token(tensors, QWEN3_30B_A3B, 99)
    assert b["cpu"] + b["gpu"] == pytest.approx(total - experts + experts * 8 / 128 - embd + embd / 151936)
    moe = estimate_speed(tensors, QWEN3_30B_A3B, cpu=DDR5, gpu=None)
    dense_equiv = dense("qwen3", 48, 2048, 32, 4, 128, 768 * 128 * 2 // 3, 151936, False)
    dense_speed = estimate_speed(predict_tensors(dense_equiv, "Q4_K_M"), dense_equiv, cpu=DDR5)
    assert moe.decode_tps > 5 * dense_speed.decode_tps
    # Experts kept in system RAM (--cpu-moe): the GPU holds the rest, decode sits in between.
    on_cpu = estimate_speed(tensors, QWEN3_30B_A3B, cpu=DDR5, gpu=RTX4090, n_gpu_layers=99, experts_on_cpu=True)
    all_gpu = estimate_speed(tensors, QWEN3_30B_A3B, cpu=DDR5, gpu=RTX4090, n_gpu_layers=99)
    assert moe.decode_tps < on_cpu.decode_tps < all_gpu.decode_tps


def test_cpu_prefill_and_peak_flops(q4km_7b):
    assert cpu_peak_flops(8, 4.5) == 8 * 8 * 2 * 2 * 4.5e9  # AVX2: 8 fp32 lanes, FMA, 2 ports
    cpu = estimate_speed(q4km_7b, LLAMA2_7B, cpu=DDR5, prompt_tokens=512)
    assert cpu.decode_tps < cpu.prefill_tps
    one = estimate_speed(q4km_7b, LLAMA2_7B, cpu=DDR5, prompt_tokens=1)
    assert one.prefill_tps == pytest.approx(cpu.decode_tps, rel=0.3)  # a 1-token prompt is a decode step


def test_calibration_recovers_known_efficiency():
    eff, overhead = 0.62, 4e-4
    predicted = [40.0, 90.0, 150.0, 250.0, 400.0]
    measured = [1 / (1 / (eff * p) + overhead) for p in predicted]
    c = calibrate(list(zip(predicted, measured)))
    assert c.efficiency == pytest.approx(eff, rel=1e-6) and c.overhead_s == pytest.approx(overhead, rel=1e-4)
    assert c.rel_rms_error < 1e-9 and c.n_points == 5
    single = calibrate([(200.0, 130.0)])
    assert single.efficiency == pytest.approx(0.65) and single.overhead_s == 0
    noisy = calibrate([(p, m * (1 + 0.03 * (-1) ** i)) for i, (p, m) in enumerate(zip(predicted, measured))])
    assert abs(noisy.efficiency - eff) / eff < 0.15 and noisy.overhead_s >= 0


def test_calibration_applies(q4km_7b):
    c = calibrate([(100.0, 50.0)])  # this machine runs at half of what the model predicts
    kw = dict(cpu=DDR5, gpu=RTX4090, n_gpu_layers=99)
    raw = estimate_speed(q4km_7b, LLAMA2_7B, **kw)
    est = estimate_speed(q4km_7b, LLAMA2_7B, calibration=c, **kw)
    assert est.calibrated and not raw.calibrated
    assert est.decode_tps == pytest.approx(0.5 * raw.decode_tps, rel=1e-9)
    b = est.bytes_per_token
    assert b["cpu"] == sum(t.n_bytes for t in q4km_7b if t.name == "token_embd.weight") / LLAMA2_7B.n_vocab
    with_overhead = estimate_speed(q4km_7b, LLAMA2_7B, calibration=Calibration(0.5, 1e-3, 2, 0.0), **kw)
    assert with_overhead.decode_tps == pytest.approx(1 / (1 / (0.5 * raw.decode_tps) + 1e-3), rel=1e-9)


def test_bad_inputs():
    with pytest.raises(SizeupError):
        calibrate([])
    with pytest.raises(SizeupError):
        calibrate([(100.0, -1.0)])
    with pytest.raises(SizeupError):
        calibrate([(math.inf, 10.0)])
    with pytest.raises(SizeupError):
        DeviceSpec("tpu", 1e9, 1e9)
    with pytest.raises(SizeupError):
        DeviceSpec("gpu", 0, 1e12)
    with pytest.raises(SizeupError):
        estimate_speed([], LLAMA2_7B, cpu=DDR5)
    with pytest.raises(SizeupError):
        kv_read_bytes(LLAMA2_7B, -1)


def test_cache_regime_and_regime_calibration_transfers(q4km_7b):
    """A small model that fits in the L3 reads from cache; a calibration fitted on such models
    scales the compute term only, so a DRAM-streaming 7B keeps its memory-bound prediction."""
    small_arch = dense("llama", 4, 256, 4, 2, 64, 768, 4096, False)
    small = predict_tensors(small_arch, "Q4_K_M")
    cpu = DeviceSpec("cpu", bandwidth=20e9, flops=cpu_peak_flops(2, 3.0, simd_bits=512), cache_bytes=64 << 20)
    s = estimate_speed(small, small_arch, cpu=cpu)
    big = estimate_speed(q4km_7b, LLAMA2_7B, cpu=cpu)
    assert s.regime == "cache" and s.bound == "compute"
    assert big.regime == "dram" and big.bound == "memory"
    assert s.memory_time_s > 0 and s.compute_time_s > s.memory_time_s
    # measurements of the small model: 3x slower compute than the constants say
    measured = 1 / (3 * s.compute_time_s + TOKEN_OVERHEAD_S_CPU)
    cal = calibrate_regimes([(s.memory_time_s, s.compute_time_s, measured, "cache")],
                            [(s.prefill_model_tps, 0.5 * s.prefill_tps)])
    assert cal.compute_scale == pytest.approx(3, rel=1e-6) and cal.memory_scale is None
    assert cal.token_overhead_s is None  # nothing to fit it from: the default stands
    assert cal.prefill_scale == pytest.approx(0.5)
    s_cal = estimate_speed(small, small_arch, cpu=cpu, calibration=cal)
    assert s_cal.decode_tps == pytest.approx(measured, rel=1e-6)
    assert s_cal.prefill_tps == pytest.approx(0.5 * s.prefill_model_tps)
    b_cal = estimate_speed(q4km_7b, LLAMA2_7B, cpu=cpu, calibration=cal)
    # the 7B: max(memory, 3 x compute), each term with its own scale
    expect = 1 / (max(big.memory_time_s, 3 * big.compute_time_s) + TOKEN_OVERHEAD_S_CPU)
    assert b_cal.decode_tps == pytest.approx(expect, rel=1e-6)
    # one memory-bound point fits the memory scale at the default overhead
    m_pts = [(big.memory_time_s, big.compute_time_s, 1 / (1.5 * big.memory_time_s + TOKEN_OVERHEAD_S_CPU))]
    assert calibrate_regimes(m_pts).memory_scale == pytest.approx(1.5, rel=1e-6)
    # a cache-resident point never calibrates DRAM, even where its cache read time dominates
    cached = calibrate_regimes([(2.0, 1.0, 1 / (3.0 + TOKEN_OVERHEAD_S_CPU), "cache")])
    assert cached.compute_scale == pytest.approx(3, rel=1e-6) and cached.memory_scale is None
    with pytest.raises(SizeupError):
        calibrate_regimes([])
    with pytest.raises(SizeupError):
        calibrate_regimes([(1.0, 1.0, -1.0)])


def test_calibration_fits_bandwidth_and_overhead_from_small_and_large_models():
    """Time per token is linear in bytes per token: a 135M model's time is mostly the per-token
    overhead, an 8B's mostly reads. Fitted on a small and a mid model, the calibration predicts a
    large one it never saw - the transfer issue 10 asks for - where a single efficiency factor
    would be off by the overhead's share."""
    cpu = DeviceSpec("cpu", bandwidth=13.6e9, flops=cpu_peak_flops(2, 3.0), bandwidth_measured=True)
    a_true, o_true = 1.25, 7e-3
    runs = {}
    for name, arch, q in (("small", dense("llama", 30, 576, 9, 3, 64, 1536, 49152, True), "Q4_0"),
                          ("mid", dense("llama", 16, 2048, 32, 8, 64, 8192, 128256, True), "Q8_0"),
                          ("big", LLAMA2_7B, "Q4_K_M")):
        est = estimate_speed(predict_tensors(arch, q), arch, cpu=cpu)
        assert est.bound == "memory" and est.regime == "dram"
        runs[name] = (est, 1 / (a_true * est.memory_time_s + o_true))
    cal = calibrate_regimes([(e.memory_time_s, e.compute_time_s, m) for n, (e, m) in runs.items() if n != "big"])
    assert cal.memory_scale == pytest.approx(a_true, rel=1e-6)
    assert cal.token_overhead_s == pytest.approx(o_true, rel=1e-6)
    big, measured = runs["big"]
    arch_tensors = predict_tensors(LLAMA2_7B, "Q4_K_M")
    assert estimate_speed(arch_tensors, LLAMA2_7B, cpu=cpu, calibration=cal).decode_tps == pytest.approx(measured, rel=1e-6)
    # a single factor on the whole roofline, fitted on the small model alone, misses the big one
    small, m_small = runs["small"]
    one = calibrate([(small.decode_tps, m_small)])
    assert abs(estimate_speed(arch_tensors, LLAMA2_7B, cpu=cpu, calibration=one).decode_tps / measured - 1) > 0.1
    # points too alike in size cannot separate overhead from bandwidth: the default overhead stays
    alike = calibrate_regimes([(big.memory_time_s, 0.0, measured), (1.2 * big.memory_time_s, 0.0, measured / 1.2)])
    assert alike.token_overhead_s is None and alike.memory_scale is not None
    # an unphysical (negative) overhead is refitted through the origin
    neg = calibrate_regimes([(0.01, 0.0, 1 / 0.011), (0.1, 0.0, 1 / 0.125)])
    assert neg.token_overhead_s == 0.0 and neg.memory_scale > 0


def test_prefill_calibration_separates_repacked_weights():
    """Repacked weights and the rest prefill at different rates on a CPU build; points mixing
    Q4_K_M (mostly repacked) and Q8_0 (not) runs recover both scales, and apply them apart."""
    pts = []
    for rep, other in ((0.02, 0.01), (0.0, 0.03), (0.05, 0.02), (0.0, 0.08)):
        pts.append((rep, other, 0.0, 1 / (rep / 1.5 + other / 0.6)))
    cal = calibrate_regimes([], pts)
    assert cal.prefill_repacked_scale == pytest.approx(1.5, rel=1e-6)
    assert cal.prefill_scale == pytest.approx(0.6, rel=1e-6)
    from sizeup.estimate.speed import prefill_rate

    assert prefill_rate(0.03, 0.01, 0.0, cal) == pytest.approx(1 / (0.03 / 1.5 + 0.01 / 0.6))
    assert prefill_rate(0.03, 0.01, 1.0, cal) == pytest.approx(1.0)  # the weight-read floor binds
    # only one kind of weight: one scale for both
    same = calibrate_regimes([], [(0.0, 0.02, 0.0, 1 / 0.04), (0.0, 0.05, 0.0, 1 / 0.1)])
    assert same.prefill_repacked_scale is None and same.prefill_scale == pytest.approx(0.5)
    # legacy (uncalibrated tok/s, measured tok/s) pairs still give one scale
    assert calibrate_regimes([], [(100.0, 50.0)]).prefill_scale == pytest.approx(0.5)


def test_measured_bandwidth_reads_at_a_different_efficiency_than_spec():
    """A probed bandwidth is an achieved rate, a spec figure is not: decode reaches ~1.0 of the
    first and ~0.6 of the second, and device_specs marks which one the machine gave."""
    from types import SimpleNamespace

    from sizeup.bench.calibrate import device_specs
    from sizeup.estimate.speed import DECODE_BW_EFFICIENCY_CPU_MEASURED, bw_efficiency

    spec = DeviceSpec("cpu", bandwidth=20e9, flops=1e11)
    probed = dataclasses.replace(spec, bandwidth_measured=True)
    assert bw_efficiency(spec) == DECODE_BW_EFFICIENCY_CPU and bw_efficiency(probed) == DECODE_BW_EFFICIENCY_CPU_MEASURED
    assert bw_efficiency(RTX4090) == DECODE_BW_EFFICIENCY_GPU
    ts = predict_tensors(LLAMA2_7B, "Q8_0")
    a = estimate_speed(ts, LLAMA2_7B, cpu=spec)
    b = estimate_speed(ts, LLAMA2_7B, cpu=probed)
    assert b.memory_time_s == pytest.approx(a.memory_time_s * DECODE_BW_EFFICIENCY_CPU / DECODE_BW_EFFICIENCY_CPU_MEASURED)
    cpu_info = SimpleNamespace(arch="x86_64", features=("avx2",), physical_cores=2, model="x", l3_kb=0, l2_kb=0)
    for source, measured in (("measured", True), ("cached", True), ("override", False), ("spec", False)):
        hw = SimpleNamespace(cpu_bandwidth_gbs=20.0, bandwidth_source=source, cpu=cpu_info, gpus=())
        assert device_specs(hw)[0].bandwidth_measured is measured


def test_prefill_is_build_aware_repacked_weights_run_faster(q4km_7b):
    """On an AVX2 build Q4_K matrices are repacked (fast GEMM) and Q8_0 ones are not: at equal
    FLOPs the Q8_0 model prefills slower; without a known build both are treated alike."""
    from sizeup.estimate.repack import features_from_cpu
    from sizeup.estimate.speed import (CPU_PREFILL_UNREPACKED_FACTOR, CPU_PREFILL_UNREPACKED_FACTOR_AVX2, repacked_share,
                                       unrepacked_factor)

    avx2 = features_from_cpu(["avx", "avx2", "fma", "f16c"])
    q8 = predict_tensors(LLAMA2_7B, "Q8_0")
    assert repacked_share(q8, LLAMA2_7B, avx2) == 0.0
    r = repacked_share(q4km_7b, LLAMA2_7B, avx2)
    assert 0.5 < r < 0.9  # Q4_K_M keeps some matrices at Q6_K, which x86 does not repack
    neon = features_from_cpu(["neon", "dotprod", "i8mm"])
    assert repacked_share(q8, LLAMA2_7B, neon) == pytest.approx(1.0)
    kw = dict(cpu=DDR5, prompt_tokens=512)
    base_q8 = estimate_speed(q8, LLAMA2_7B, **kw).prefill_tps
    base_q4 = estimate_speed(q4km_7b, LLAMA2_7B, **kw).prefill_tps
    assert base_q8 == pytest.approx(base_q4, rel=0.05)
    b_q8 = estimate_speed(q8, LLAMA2_7B, build=avx2, **kw).prefill_tps
    b_q4 = estimate_speed(q4km_7b, LLAMA2_7B, build=avx2, **kw).prefill_tps
    assert b_q8 < b_q4 < base_q4
    assert b_q8 == pytest.approx(base_q8 * unrepacked_factor(avx2), rel=0.15)
    # 256-bit repacked kernels gain less over tinyBLAS than 512-bit ones (see the constants)
    avx512 = features_from_cpu(["avx", "avx2", "fma", "f16c", "avx512f"])
    assert unrepacked_factor(avx2) == CPU_PREFILL_UNREPACKED_FACTOR_AVX2 > unrepacked_factor(avx512)
    assert unrepacked_factor(avx512) == CPU_PREFILL_UNREPACKED_FACTOR
    b512 = estimate_speed(q8, LLAMA2_7B, build=avx512, **kw).prefill_tps
    assert b512 == pytest.approx(base_q8 * CPU_PREFILL_UNREPACKED_FACTOR, rel=0.15)
    # the parts the prefill calibration fits: Q8_0 has no repacked time, Q4_K_M most of it
    p8 = estimate_speed(q8, LLAMA2_7B, build=avx2, **kw)
    p4 = estimate_speed(q4km_7b, LLAMA2_7B, build=avx2, **kw)
    assert p8.prefill_repacked_s == 0 and p4.prefill_repacked_s > p4.prefill_other_s / 2
    assert 1 / max(p4.prefill_repacked_s + p4.prefill_other_s, p4.prefill_memory_s) == pytest.approx(p4.prefill_tps)


def test_prefill_pays_the_output_head_once_per_prompt(q4km_7b):
    """llama.cpp computes logits for a prompt's last token only (a batch without a logits array,
    as llama-bench, llama-server and llama-cpp-python send it), so prefill FLOPs per token carry
    the output head at 1/prompt of its size; decode reads and multiplies all of it."""
    from sizeup.estimate.speed import PREFILL_FLOPS_EFFICIENCY_CPU, active_params, cpu_matmul_efficiency

    ap = active_params(q4km_7b, LLAMA2_7B)
    out = next(t for t in q4km_7b if t.name == "output.weight")
    assert ap["head"] == out.n_elements
    est = estimate_speed(q4km_7b, LLAMA2_7B, cpu=DDR5, prompt_tokens=512)
    assert cpu_matmul_efficiency(512) == PREFILL_FLOPS_EFFICIENCY_CPU
    mm = 2 * (ap["total"] - ap["head"] * (1 - 1 / 512))
    expect = (mm + attention_flops_per_token(LLAMA2_7B, 256)) / (DDR5.flops * PREFILL_FLOPS_EFFICIENCY_CPU)
    assert est.prefill_repacked_s == 0 and est.prefill_other_s == pytest.approx(expect, rel=1e-9)
    # tied embeddings: the table is the head
    gemma = predict_tensors(GEMMA3_270M, "Q8_0")
    embd = next(t for t in gemma if t.name == "token_embd.weight")
    assert active_params(gemma, GEMMA3_270M)["head"] == embd.n_elements


def test_a_512_bit_vnni_build_runs_quantized_matmuls_past_the_fp32_peak():
    """llama.cpp's quantized matmuls are int8 dot products: a build with AVX-512 VNNI gets the
    measured speed-up over the fp32 FMA peak (prefill and the decode compute ceiling); AVX-512
    without VNNI, and AVX2, do not; what the build has wins over what the CPU has."""
    from types import SimpleNamespace

    from sizeup.bench.calibrate import device_specs
    from sizeup.estimate.repack import BuildFeatures
    from sizeup.estimate.speed import CPU_INT8_DOT_SPEEDUP_AVX512_VNNI, int8_dot_speedup

    def flops(features, build=None):
        cpu = SimpleNamespace(arch="x86_64", features=features, physical_cores=2, model="x", l3_kb=0, l2_kb=0)
        hw = SimpleNamespace(cpu_bandwidth_gbs=20.0, bandwidth_source="measured", cpu=cpu, gpus=())
        return device_specs(hw, build=build)[0].flops

    plain = flops(("avx2", "avx512f"))
    vnni = flops(("avx2", "avx512f", "avx512_vnni"))
    assert vnni == pytest.approx(plain * CPU_INT8_DOT_SPEEDUP_AVX512_VNNI) and CPU_INT8_DOT_SPEEDUP_AVX512_VNNI > 1
    assert flops(("avx2", "avx_vnni")) == flops(("avx2",)) and int8_dot_speedup(("avx2",)) == 1.0
    # a generic AVX2 wheel on a VNNI CPU computes 256 bits at a time, without VNNI
    generic = BuildFeatures(frozenset({"avx2", "fma"}), source="llama.cpp")
    assert flops(("avx2", "avx512f", "avx512_vnni"), build=generic) == flops(("avx2",))
    ts = predict_tensors(LLAMA2_7B, "Q4_K_M")
    spec = DeviceSpec("cpu", bandwidth=40e9, flops=plain)
    fast = dataclasses.replace(spec, flops=vnni)
    assert estimate_speed(ts, LLAMA2_7B, cpu=fast, prompt_tokens=512).prefill_tps > \
        2 * estimate_speed(ts, LLAMA2_7B, cpu=spec, prompt_tokens=512).prefill_tps
