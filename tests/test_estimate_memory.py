"""Pure parts of the memory model on real model descriptions: placement, offload, searches, KV rules."""

from __future__ import annotations

import re

import pytest

from sizeup.errors import SizeupError
from sizeup.estimate.config import RunConfig, resolve
from sizeup.estimate.kv_cache import cache_estimate, kv_bytes_per_token, kv_cache_bytes
from sizeup.estimate.memory import estimate_memory, max_context, max_gpu_layers
from sizeup.estimate.placement import CPU, Device, place_layers, weights_by_device
from sizeup.formats.gguf_model import describe_gguf

GIB = 1024**3
MIB = 1024**2


@pytest.fixture(scope="module")
def smol(smollm2_path):
    return describe_gguf(smollm2_path)


@pytest.fixture(scope="module")
def gemma(gemma3_path):
    return describe_gguf(gemma3_path)


def test_ngl_offloads_the_last_layers_and_output_first():
    p = place_layers(n_layer=4, n_gpu_layers=1, gpu_free=[8 * GIB])
    assert p.layer_device == (CPU, CPU, CPU, CPU) and p.output_device == 0
    p = place_layers(n_layer=4, n_gpu_layers=3, gpu_free=[8 * GIB])
    assert p.layer_device == (CPU, CPU, 0, 0) and p.output_device == 0
    assert place_layers(4, -1, [8 * GIB]).n_offloaded == 5
    assert place_layers(4, 5, []).n_offloaded == 0  # no GPU: everything on the CPU


def test_layers_split_over_gpus_by_free_memory_or_tensor_split():
    # equal free memory: 10 layers + output = 11 slots split at 0.5 -> 6 on GPU0 (slots 0..5), 5 on GPU1
    p = place_layers(10, -1, [10 * GIB, 10 * GIB])
    assert p.layer_device.count(0) == 6 and p.layer_device.count(1) == 4 and p.output_device == 1
    p = place_layers(10, -1, [10 * GIB, 10 * GIB], tensor_split=(3, 1))
    assert p.layer_device.count(0) == 9 and p.output_device == 1
    p = place_layers(10, -1, [10 * GIB, 10 * GIB], split_mode="none", main_gpu=1)
    assert set(p.layer_device) == {1}
    with pytest.raises(SizeupError):
        place_layers(10, -1, [GIB], split_mode="none", main_gpu=3)


def test_weights_per_device_cover_the_file_exactly(smol):
    p = place_layers(smol.arch.n_layer, 10, [8 * GIB])
    w = weights_by_device(smol.tensors, p, smol.arch.n_layer)
    embd = next(t.n_bytes for t in smol.tensors if t.name == "token_embd.weight")
    # SmolLM2 ties its head to the embedding: offloading the output duplicates token_embd on the GPU
    assert not any(t.name == "output.weight" for t in smol.tensors)
    assert w[CPU] + w[0] == sum(t.n_bytes for t in smol.tensors) + embd
    layer_bytes = [sum(t.n_bytes for t in smol.tensors if t.name.startswith(f"blk.{i}.")) for i in range(30)]
    # -ngl 10 = output + the last 9 layers
    assert w[0] == sum(layer_bytes[21:]) + embd + sum(t.n_bytes for t in smol.tensors if t.name == "output_norm.weight")


def test_full_offload_puts_kv_and_compute_on_the_gpu(smol):
    devs = [Device("CPU", "cpu", 16 * GIB), Device("GPU0", "gpu", 8 * GIB, 8 * GIB)]
    cfg = RunConfig(n_ctx=8192, n_outputs_max=0)  # library default: logits for every token of a micro-batch
    full = estimate_memory(smol, cfg, devs)
    cpu_only = estimate_memory(smol, cfg, devs[:1])
    g = full.gpus[0]
    assert g.kv == cpu_only.host.kv and full.host.kv == 0
    assert g.compute >= 96 * MIB  # the logits of a 512-token micro-batch live with the output layer
    assert full.host.compute < 16 * MIB
    assert g.overhead > 0 and full.fits is True
    nkvo = estimate_memory(smol, cfg.with_(offload_kqv=False), devs)
    assert nkvo.host.kv == cpu_only.host.kv and nkvo.gpus[0].kv == 0


def test_partial_offload_splits_kv_by_layer(gemma):
    devs = [Device("CPU", "cpu", 16 * GIB), Device("GPU0", "gpu", 8 * GIB, 8 * GIB)]
    cfg = RunConfig(n_ctx=32768)
    est = estimate_memory(gemma, cfg.with_(n_gpu_layers=7), devs)  # output + layers 12..17
    per_layer = {lc.il: lc.k_bytes + lc.v_bytes for lc in est.cache.layers}
    assert est.gpus[0].kv == sum(per_layer[i] for i in range(12, 18))
    assert est.host.kv == sum(per_layer[i] for i in range(12))
    assert est.host.layers == 12 and est.gpus[0].layers == 6 and est.gpus[0].has_output


def test_gemma_sliding_window_cache_is_bounded(gemma):
    r4k = cache_estimate(gemma.arch, RunConfig(n_ctx=4096), resolve(RunConfig(n_ctx=4096), gemma.arch.n_layer))
    assert r4k.cells_swa == 1024  # PAD(512 window + 512 ubatch, 256)
    full = cache_estimate(gemma.arch, RunConfig(n_ctx=4096, swa_full=True),
                          resolve(RunConfig(n_ctx=4096, swa_full=True), gemma.arch.n_layer))
    assert full.cells_swa == 4096 and full.kv_bytes > r4k.kv_bytes
    # only the 3 global layers grow with context
    grow = kv_cache_bytes(gemma.arch, 8192) - kv_cache_bytes(gemma.arch, 4096)
    assert grow == 4096 * 3 * 2 * 256 * 2  # tokens x global layers x (K+V) x head dim x f16


def test_cache_estimate_is_shared_by_vocabulary_variants_and_equals_a_fresh_one():
    """The memoized cache estimate (shared by shapes that differ only in n_vocab) equals the
    unmemoized computation for every catalog architecture, at two contexts and KV types."""
    import dataclasses

    from sizeup.estimate import kv_cache
    from sizeup.testing.architectures import catalog_architectures

    archs = catalog_architectures()
    for a in archs:
        for cfg in (RunConfig(n_ctx=4096), RunConfig(n_ctx=32768, type_k="q8_0", type_v="q8_0")):
            r = resolve(cfg, a.n_layer)
            for b in (a, dataclasses.replace(a, n_vocab=a.n_vocab + 384)):
                try:
                    ref = kv_cache._cache_estimate(b, cfg, r)
                except SizeupError as err:
                    with pytest.raises(SizeupError, match=re.escape(str(err))):
                        cache_estimate(b, cfg, r)
                    continue
                assert cache_estimate(b, cfg, r) == ref, (b.name, cfg)
    assert len(archs) > 100


def test_kv_bytes_per_token_and_quantized_types(smol):
    # 30 layers x 3 KV heads x 64 dims x (K+V) x 2 bytes
    assert kv_bytes_per_token(smol.arch) == 30 * 3 * 64 * 2 * 2
    assert kv_bytes_per_token(smol.arch, "q8_0", "q8_0") == 30 * 2 * (192 // 32 * 34)
    assert kv_bytes_per_token(smol.arch, "q4_0", "f16") == 30 * (192 // 32 * 18 + 192 * 2)
    assert kv_cache_bytes(smol.arch, 0) == 0


def test_max_context_is_the_boundary(smol):
    budget = 1 * GIB
    cfg = RunConfig(n_ctx=512)
    n = max_context(smol, cfg, budget, limit=1 << 20)
    assert n > 0 and n % 256 == 0
    assert estimate_memory(smol, cfg.with_(n_ctx=n)).total <= budget
    assert estimate_memory(smol, cfg.with_(n_ctx=n + 256)).total > budget
    q8 = max_context(smol, cfg.with_(type_k="q8_0", type_v="q8_0"), budget, limit=1 << 20)
    assert q8 > n  # a smaller cache fits more context
    assert max_context(smol, cfg, 10 * MIB) == 0


def test_max_gpu_layers_is_the_boundary(gemma):
    cfg = RunConfig(n_ctx=8192, n_outputs_max=0)
    vram = 1250 * MIB  # output layer (tied embedding copy + logits) + some of the 18 layers
    n = max_gpu_layers(gemma, cfg, vram)
    assert 1 < n < gemma.arch.n_layer + 1
    devs = [Device("CPU", "cpu"), Device("GPU0", "gpu", vram, vram)]
    assert estimate_memory(gemma, cfg.with_(n_gpu_layers=n), devs).gpus[0].total <= vram
    if n <= gemma.arch.n_layer:
        assert estimate_memory(gemma, cfg.with_(n_gpu_layers=n + 1), devs).gpus[0].total > vram
    assert max_gpu_layers(gemma, cfg, 64 * GIB) == gemma.arch.n_layer + 1
    assert max_gpu_layers(gemma, cfg, 1100 * MIB) == 0


def test_requantized_file_uses_the_quant_mix(smol):
    q8 = estimate_memory(smol, RunConfig(n_ctx=4096), ftype="Q8_0")
    own = estimate_memory(smol, RunConfig(n_ctx=4096))
    assert q8.weights > own.weights  # Q8_0 (8.5 bpw) vs the file's Q4_1 (5 bpw)
    assert q8.kv == own.kv


def test_impossible_requests_raise(smol):
    with pytest.raises(SizeupError):
        estimate_memory(smol, RunConfig(n_ctx=512, n_gpu_layers=40))
    with pytest.raises(SizeupError):
        estimate_memory(smol, RunConfig(n_ctx=512), devices=[Device("GPU0", "gpu", GIB)])


def test_to_dict_is_json_ready(gemma):
    import json

    d = estimate_memory(gemma, RunConfig(n_ctx=4096)).to_dict()
    s = json.dumps(d)
    assert d["totals"]["total"] == sum(x["total"] for x in d["devices"])
    assert d["kv_cache"]["cells_swa"] == 1024 and "sliding" in s


def test_row_split_spreads_layer_weights_keeps_kv_on_main_gpu(smol):
    devs = [Device("CPU", "cpu"), Device("GPU0", "gpu", 8 * GIB, 8 * GIB), Device("GPU1", "gpu", 8 * GIB, 8 * GIB)]
    est = estimate_memory(smol, RunConfig(n_ctx=4096, split_mode="row", tensor_split=(1, 1), main_gpu=1), devs)
    g0, g1 = est.gpus
    assert g1.kv == est.kv and g0.kv == 0 and g1.has_output
    layer_bytes = sum(t.n_bytes for t in smol.tensors if t.name.startswith("blk."))
    assert abs(g0.weights - layer_bytes / 2) <= len(smol.tensors)  # int truncation per tensor
    with pytest.raises(SizeupError, match="main-gpu"):
        estimate_memory(smol, RunConfig(n_ctx=4096, split_mode="row", main_gpu=2), devs)


def test_non_absorbed_mla_file_caches_full_heads():
    """Older DeepSeek GGUFs (no key_length_mla) run as plain MHA in llama.cpp: full K/V per head."""
    from dataclasses import replace

    from sizeup.catalog import describe_entry, get_entry
    from sizeup.estimate.kv_cache import k_row, uses_mla_cache, v_row

    arch = describe_entry(get_entry("deepseek-ai/DeepSeek-V2-Lite-Chat")).arch
    assert uses_mla_cache(arch)
    assert k_row(arch, 0) == arch.kv_lora_rank + arch.rope_dim and v_row(arch, 0) == 0
    old = replace(arch, extra={**arch.extra, "mla_absorbed": False})
    assert not uses_mla_cache(old)
    assert k_row(old, 0) == arch.head_dim_k * arch.n_head_kv[0]
    assert v_row(old, 0) == arch.head_dim_v * arch.n_head_kv[0]
    assert k_row(old, 0) + v_row(old, 0) == 16 * (192 + 128)  # vs 576 latent values: ~9x


def test_devices_from_hardware_without_free_vram():
    from sizeup.estimate.placement import devices_from_hardware
    from sizeup.hardware.model import CPUInfo, GPUInfo, Hardware, MemoryInfo

    hw = Hardware(cpu=CPUInfo("x", "intel", "x86_64", 4, 8), memory=MemoryInfo(16 << 30, 8 << 30),
                  gpus=(GPUInfo(0, "nvidia", "A", 8 << 30, 6 << 30), GPUInfo(0, "intel", "Arc B580", 12 << 30, None)))
    devs = devices_from_hardware(hw)
    assert [d.name for d in devs] == ["CPU", "GPU0", "GPU1"]
    assert devs[2].free == 12 << 30  # total stands in when the driver gives no free figure
