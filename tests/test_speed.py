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
    """A small model that fits in the L3 is compute-bound; a calibration fitted on such models
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
    measured = 1 / (3 * s.compute_time_s + 2e-4)
    cal = calibrate_regimes([(s.memory_time_s, s.compute_time_s, measured)], [(s.prefill_model_tps, 0.5 * s.prefill_tps)])
    assert cal.compute_scale == pytest.approx(3, rel=1e-6) and cal.memory_scale is None
    assert cal.prefill_scale == pytest.approx(0.5)
    s_cal = estimate_speed(small, small_arch, cpu=cpu, calibration=cal)
    assert s_cal.decode_tps == pytest.approx(measured, rel=1e-6)
    assert s_cal.prefill_tps == pytest.approx(0.5 * s.prefill_model_tps)
    b_cal = estimate_speed(q4km_7b, LLAMA2_7B, cpu=cpu, calibration=cal)
    # the 7B: max(memory, 3 x compute), each term with its own scale
    expect = 1 / (max(big.memory_time_s, 3 * big.compute_time_s) + 2e-4)
    assert b_cal.decode_tps == pytest.approx(expect, rel=1e-6)
    # memory-bound points fit the memory scale
    m_pts = [(big.memory_time_s, big.compute_time_s, 1 / (1.5 * big.memory_time_s + 2e-4))]
    assert calibrate_regimes(m_pts).memory_scale == pytest.approx(1.5, rel=1e-6)
    # a cache-resident point never calibrates DRAM, even where its cache read time dominates
    cached = calibrate_regimes([(2.0, 1.0, 1 / (3.0 + 2e-4), "cache")])
    assert cached.compute_scale == pytest.approx(3, rel=1e-6) and cached.memory_scale is None
    with pytest.raises(SizeupError):
        calibrate_regimes([])
    with pytest.raises(SizeupError):
        calibrate_regimes([(1.0, 1.0, -1.0)])


def test_prefill_is_build_aware_repacked_weights_run_faster(q4km_7b):
    """On an AVX2 build Q4_K matrices are repacked (fast GEMM) and Q8_0 ones are not: at equal
    FLOPs the Q8_0 model prefills slower; without a known build both are treated alike."""
    from sizeup.estimate.repack import features_from_cpu
    from sizeup.estimate.speed import CPU_PREFILL_UNREPACKED_FACTOR, repacked_share

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
    assert b_q8 == pytest.approx(base_q8 * CPU_PREFILL_UNREPACKED_FACTOR, rel=0.15)
