"""The llama-server / Ollama command builder, native release precisions, and the ranking's fast
placement arithmetic checked against the full memory and speed models."""

from __future__ import annotations

import dataclasses

import pytest

from sizeup.advice.run_command import build, gguf_repo_for, gguf_repos
from sizeup.catalog import describe_entry, get_entry
from sizeup.errors import SizeupError
from sizeup.estimate import plan as planmod
from sizeup.estimate.config import RunConfig
from sizeup.estimate.expert_offload import FIT_TARGET_MARGIN, fit_n_cpu_moe
from sizeup.estimate.memory import estimate_memory
from sizeup.estimate.native import release_of
from sizeup.estimate.placement import Device
from sizeup.estimate.plan_speed import plan_speed
from sizeup.estimate.speed import DeviceSpec, estimate_speed
from sizeup.estimate.weight_summary import predicted_summary, summarize
from sizeup.estimate.weights_predict import predict_tensors


def test_full_gpu_command():
    c = build(quant="Q4_K_M", ctx=32768, n_gpu_layers=-1, n_layer=48, hf_id="Qwen/Qwen3-Coder-30B-A3B-Instruct",
              ollama_tag="qwen3-coder:30b")
    assert c.llama_cpp == ["llama-server", "-hf", "unsloth/Qwen3-Coder-30B-A3B-Instruct-GGUF:Q4_K_M", "-c", "32768",
                           "-np", "1", "-ngl", "99", "-fa", "on"]
    assert c.ollama == "ollama run hf.co/unsloth/Qwen3-Coder-30B-A3B-Instruct-GGUF:Q4_K_M"
    assert "num_ctx 32768" in c.ollama_note


def test_expert_offload_and_kv_types():
    c = build(quant="MXFP4_MOE", ctx=8192, n_gpu_layers=-1, n_layer=36, n_cpu_moe=30, hf_id="openai/gpt-oss-120b",
              type_k="q8_0", type_v="q8_0")
    line = c.llama_cpp_line
    assert "-hf ggml-org/gpt-oss-120b-GGUF " in line  # one-file MXFP4 repo: no tag
    assert "--n-cpu-moe 30" in line and "-ctk q8_0 -ctv q8_0" in line and "-ngl 99" in line
    assert "no --n-cpu-moe" in c.ollama_note


def test_partial_cpu_and_unknown_repo():
    c = build(quant="Q5_K_M", ctx=4096, n_gpu_layers=20, n_layer=80, hf_id="someone/Unknown-70B",
              ollama_tag="unknown:70b")
    assert c.llama_cpp[c.llama_cpp.index("-ngl") + 1] == "20"
    assert c.llama_cpp[1:3] == ["-m", "Unknown-70B-Q5_K_M.gguf"] and c.notes
    assert c.ollama == "ollama run unknown:70b" and "not necessarily Q5_K_M" in c.ollama_note
    cpu = build(quant="Q4_K_M", ctx=4096, n_gpu_layers=-1, n_layer=32, gguf_path="/m/x y.gguf", has_gpu=False)
    assert cpu.llama_cpp[cpu.llama_cpp.index("-ngl") + 1] == "0" and "'/m/x y.gguf'" in cpu.llama_cpp_line
    with pytest.raises(SizeupError):
        build(quant="Q4_K_M", ctx=0, n_gpu_layers=0, n_layer=1)


def test_repo_table_is_well_formed():
    repos = gguf_repos()
    assert len(repos) > 50
    assert gguf_repo_for("someone/Model-GGUF") == "someone/Model-GGUF"
    assert gguf_repo_for("openai/GPT-OSS-20B") == "ggml-org/gpt-oss-20b-GGUF"


@pytest.mark.parametrize("cfg,hf,precision,types0", [
    ({"quantization_config": {"quant_method": "mxfp4"}}, "x/y", "MXFP4", "MXFP4_MOE"),
    ({"torch_dtype": "bfloat16", "quantization_config": {"quant_method": "fp8"}}, "x/y", "FP8", "Q8_0"),
    ({"torch_dtype": "bfloat16"}, "deepseek-ai/DeepSeek-V3", "FP8", "Q8_0"),
    ({}, "openai/gpt-oss-20b", "MXFP4", "MXFP4_MOE"),
    ({"torch_dtype": "float16"}, "x/y", "F16", "F16"),
    ({"quantization_config": {"quant_method": "compressed-tensors",
                              "config_groups": {"g": {"weights": {"num_bits": 4, "type": "int"}}}}}, "x/y", "INT4", "Q4_K_M"),
    ({}, "x/y", "BF16", "BF16"),
])
def test_release_precision(cfg, hf, precision, types0):
    r = release_of(cfg, hf)
    assert r.precision == precision and r.types[0] == types0 and r.lossless == types0


@pytest.mark.parametrize("mid,quant", [("Qwen/Qwen3-30B-A3B", "Q4_K_M"), ("google/gemma-3-12b-it", "Q6_K"),
                                       ("openai/gpt-oss-20b", "MXFP4_MOE"), ("microsoft/phi-4", "Q4_K_M")])
def test_summary_equals_the_full_prediction(mid, quant):
    m = describe_entry(get_entry(mid))
    assert predicted_summary(m.arch, quant) == summarize(predict_tensors(m.arch, quant), m.arch, quant)


def _setup(mid: str, quant: str, vram: int, ram: int = 64 << 30, ctx: int = 8192):
    m = describe_entry(get_entry(mid))
    ws = predicted_summary(m.arch, quant)
    cfg = RunConfig(n_ctx=ctx)
    host = Device("CPU", "cpu", ram, ram)
    gpu = Device("GPU0", "gpu", vram, vram)
    return m, ws, cfg, host, gpu, planmod.bases(m, cfg, host, [gpu], False)


@pytest.mark.parametrize("mid,quant", [("Qwen/Qwen2.5-14B-Instruct", "Q4_K_M"), ("Qwen/Qwen3-30B-A3B", "Q6_K"),
                                       ("google/gemma-3-4b-it", "Q8_0"),  # gemma: tied head
                                       ("google/gemma-3n-E2B-it", "Q4_K_M")])  # tied, with a per-layer input table
def test_full_and_cpu_totals_match_the_memory_model(mid, quant):
    m, ws, cfg, host, gpu, b = _setup(mid, quant, 80 << 30)
    ts = predict_tensors(m.arch, quant)
    full = estimate_memory(m, cfg.with_(n_gpu_layers=-1), [host, gpu], tensors=ts)
    assert planmod.gpu_totals(ws, b, m.arch.n_layer + 1) == tuple(d.total for d in full.devices)
    cpu = estimate_memory(m, cfg.with_(n_gpu_layers=0), [host], tensors=ts)
    assert planmod.cpu_totals(ws, b) == (cpu.total,)
    # partial offload: the arithmetic stays within 3% of the memory model on every device
    part = estimate_memory(m, cfg.with_(n_gpu_layers=20), [host, gpu], tensors=ts)
    for fast, exact in zip(planmod.gpu_totals(ws, b, 20), part.devices):
        assert abs(fast - exact.total) <= 0.03 * exact.total


def test_n_cpu_moe_is_the_smallest_that_fits():
    m, ws, cfg, host, gpu, b = _setup("Qwen/Qwen3-30B-A3B", "Q8_0", 24 << 30)
    budgets = (host.free, gpu.free)
    ex = fit_n_cpu_moe(ws, b, budgets)
    assert ex is not None and 0 < ex.n_cpu_moe < m.arch.n_layer
    assert ex.totals[1] <= gpu.free - FIT_TARGET_MARGIN
    one_less = planmod.gpu_totals(ws, b, m.arch.n_layer + 1, ex.n_cpu_moe - 1)
    assert one_less[1] > gpu.free - FIT_TARGET_MARGIN
    # the experts moved to RAM are exactly the first N layers' routed experts
    full = planmod.gpu_totals(ws, b, m.arch.n_layer + 1)
    assert full[1] - ex.totals[1] == sum(ws.exps[:ex.n_cpu_moe]) == ex.cpu_expert_bytes
    # a dense model has nothing to offload this way
    _, wsd, _, _, _, bd = _setup("Qwen/Qwen2.5-14B-Instruct", "Q8_0", 8 << 30)
    assert fit_n_cpu_moe(wsd, bd, budgets) is None


def test_plan_speed_matches_the_speed_model_and_expert_offload_slows_decode():
    m = describe_entry(get_entry("Qwen/Qwen3-30B-A3B"))
    ts = predict_tensors(m.arch, "Q4_K_M")
    ws = summarize(ts, m.arch, "Q4_K_M")
    cpu = DeviceSpec("cpu", 80e9, 1e12)
    gpu = DeviceSpec("gpu", 1008e9, 165e12)
    for ngl, g in ((0, None), (m.arch.n_layer + 1, gpu)):
        ref = estimate_speed(ts, m.arch, cpu=cpu, gpu=g, n_gpu_layers=ngl)
        fast = plan_speed(ws, m.arch, cpu, g, ngl)
        assert fast.decode_tps == pytest.approx(ref.decode_tps, rel=0.02)
    # a regime-aware calibration (memory scale and fitted overhead) moves both paths alike, on a
    # probed (measured) bandwidth as on a spec figure
    from sizeup.estimate.speed import Calibration

    cal = Calibration(1.0, 0.0, 3, 0.0, memory_scale=1.3, token_overhead_s=6e-3, prefill_scale=0.7)
    for c in (cpu, dataclasses.replace(cpu, bandwidth_measured=True)):
        ref = estimate_speed(ts, m.arch, cpu=c, calibration=cal)
        fast = plan_speed(ws, m.arch, c, None, 0, calibration=cal)
        assert fast.decode_tps == pytest.approx(ref.decode_tps, rel=0.02) and fast.calibrated
        assert fast.prefill_tps == pytest.approx(ref.prefill_tps, rel=0.05)
    full = plan_speed(ws, m.arch, cpu, gpu, m.arch.n_layer + 1)
    half = plan_speed(ws, m.arch, cpu, gpu, m.arch.n_layer + 1, n_cpu_moe=24)
    allx = plan_speed(ws, m.arch, cpu, gpu, m.arch.n_layer + 1, n_cpu_moe=m.arch.n_layer)
    assert full.decode_tps > half.decode_tps > allx.decode_tps
    # routed experts of 24 layers read at RAM bandwidth: bytes per token on the CPU grow by their active share
    share = m.arch.n_expert_used / m.arch.n_expert
    assert half.bytes_per_token["cpu"] - full.bytes_per_token.get("cpu", 0) == pytest.approx(sum(ws.exps[:24]) * share)


def test_a_local_gguf_is_ranked_as_the_file_it_is(smollm2_path, gemma3_path):
    from sizeup.sources.dispatch import describe
    from sizeup.estimate.placement import devices_from_hardware
    from sizeup.hardware import probe_hardware
    from sizeup.recommend import FIT_CPU, best_choice, recommend

    hw = probe_hardware(ram="8G", bandwidth="off")
    hw = type(hw)(**{**hw.__dict__, "cpu_bandwidth_gbs": 40.0, "gpus": ()})
    m = describe(str(smollm2_path))
    c = best_choice(m, 4096, devices_from_hardware(hw), hardware=hw)
    # the file's own type and its real tensor bytes, not a predicted mix
    assert c.quant == m.quant.label == "Q4_1" and c.where == FIT_CPU
    assert c.summary.total == sum(t.n_bytes for t in m.tensors)
    assert c.memory.host.weights == c.summary.total
    ranked = recommend([m, describe(str(gemma3_path))], hw, ctx=4096)
    for r in ranked:
        assert r.fits and r.command.llama_cpp[1] == "-m" and r.command.llama_cpp[2] == str(r.model.path)


def test_summary_cache_round_trip(tmp_path, monkeypatch):
    from sizeup.estimate import summary_cache

    monkeypatch.setenv("SIZEUP_SUMMARY_CACHE", str(tmp_path / "s.json"))
    summary_cache.reset()
    try:
        m = describe_entry(get_entry("Qwen/Qwen2.5-0.5B-Instruct"))
        ws = summarize(predict_tensors(m.arch, "Q5_K_M"), m.arch, "Q5_K_M")
        summary_cache.put("k", ws)
        summary_cache.save()
        summary_cache.reset()
        assert summary_cache.get("k") == ws
        (tmp_path / "s.json").write_text('{"version": "x", "entries": {"k": 1}}')  # foreign: ignored
        summary_cache.reset()
        assert summary_cache.get("k") is None
        (tmp_path / "s.json").write_text("not json")
        summary_cache.reset()
        assert summary_cache.get("k") is None
    finally:
        summary_cache.reset()


def test_plan_speed_follows_the_cache_regime():
    m = describe_entry(get_entry("Qwen/Qwen2.5-0.5B-Instruct"))
    ts = predict_tensors(m.arch, "Q4_K_M")
    ws = summarize(ts, m.arch, "Q4_K_M")
    for cache in (0, 2 << 30):
        cpu = DeviceSpec("cpu", 40e9, 2e11, cache_bytes=cache)
        ref = estimate_speed(ts, m.arch, cpu=cpu)
        assert plan_speed(ws, m.arch, cpu, None, 0).decode_tps == pytest.approx(ref.decode_tps, rel=0.02)


def test_one_gpu_running_sums_match_the_layer_by_layer_split():
    for mid, quant in (("Qwen/Qwen3-30B-A3B", "Q4_K_M"), ("google/gemma-3-4b-it", "Q8_0")):
        m, ws, cfg, host, gpu, b = _setup(mid, quant, 12 << 30)
        n = m.arch.n_layer
        for ngl in (0, 1, 2, n // 2, n, n + 1):
            for ncmoe in (0, 3, n):
                assert planmod.gpu_totals(ws, b, ngl, ncmoe, 100) == planmod._general_totals(ws, b, ngl, ncmoe, 100)


@pytest.mark.parametrize("mid", ["Qwen/Qwen3-30B-A3B", "deepseek-ai/DeepSeek-V3", "google/gemma-3-4b-it",
                                 "openai/gpt-oss-20b"])
def test_catalog_param_counts_by_role_equal_count_params(mid):
    from sizeup.catalog import _count_layout
    from sizeup.formats.hf_config import architecture_from_hf_config
    from sizeup.layout import n_elements
    from sizeup.layout import predict_tensors as layout_of
    from sizeup.model import TensorInfo, count_params

    arch = architecture_from_hf_config(get_entry(mid).hf_config())
    lay = layout_of(arch)
    ref = count_params([TensorInfo(n, s, "none", n_elements(s), 0) for n, s in lay], arch)
    assert _count_layout(lay, arch) == ref


def test_bases_round_trip_through_the_disk_cache(tmp_path, monkeypatch):
    from sizeup.estimate import summary_cache

    monkeypatch.setenv("SIZEUP_SUMMARY_CACHE", str(tmp_path / "s.json"))
    summary_cache.reset()
    try:
        m, ws, cfg, host, gpu, b = _setup("google/gemma-3-4b-it", "Q4_K_M", 12 << 30)
        cb = planmod.bases(m, cfg, host, [], False)
        for bb in (b, cb):
            summary_cache.put_bases("k", bb)
            summary_cache.save()
            summary_cache.reset()
            assert summary_cache.get_bases("k", m.arch.n_layer) == bb
            assert summary_cache.get_bases("k", m.arch.n_layer + 1) is None  # wrong shape: refused
    finally:
        summary_cache.reset()


def test_estimate_cli_prints_the_command(smollm2_path):
    import json
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "sizeup", "estimate", str(smollm2_path), "--ctx", "2048", "--no-table",
                        "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    cmd = json.loads(r.stdout)["command"]["llama_cpp_argv"]
    assert cmd[:3] == ["llama-server", "-m", str(smollm2_path)] and cmd[cmd.index("-c") + 1] == "2048"
    r = subprocess.run([sys.executable, "-m", "sizeup", "estimate", "openai/gpt-oss-20b", "--quant", "MXFP4_MOE",
                        "--no-table", "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["command"]["llama_cpp_argv"][1:3] == ["-hf", "ggml-org/gpt-oss-20b-GGUF"]


def test_input_lookup_tables_are_read_a_row_per_token():
    """Gemma 3n's per-layer embedding table (a third of its bytes) is gathered a row per token, as
    token_embd is: both speed paths read and multiply the same, and decode does not stream it."""
    m = describe_entry(get_entry("google/gemma-3n-E4B-it"))
    ts = predict_tensors(m.arch, "Q4_K_M")
    ws = summarize(ts, m.arch, "Q4_K_M")
    table = next(t for t in ts if t.name == "per_layer_token_embd.weight")
    assert table.n_bytes > 0.25 * ws.total
    cpu = DeviceSpec("cpu", 80e9, 1e12)
    ref = estimate_speed(ts, m.arch, cpu=cpu)
    fast = plan_speed(ws, m.arch, cpu, None, 0)
    assert fast.decode_tps == pytest.approx(ref.decode_tps, rel=0.02)
    assert fast.prefill_tps == pytest.approx(ref.prefill_tps, rel=0.05)
    # every other weight once (the tied head: token_embd whole), plus one row of each input table
    assert ref.bytes_per_token["cpu"] == pytest.approx(ws.total - table.n_bytes + table.n_bytes / table.shape[-1]
                                                       + ws.embd_row, rel=1e-9)
