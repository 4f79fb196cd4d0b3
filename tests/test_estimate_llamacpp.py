"""The memory model against llama.cpp itself: its own buffer figures (no_alloc) and real loads (RSS).

Real models: SmolLM2-135M (llama, tied embeddings, 49k vocab) and gemma-3-270m (sliding window
5:1, 262k vocab). Synthetic GGUFs from sizeup.testing.synthetic_gguf cover MoE (qwen3moe), MLA
(deepseek2), MLA + KDA linear attention (kimi-linear), recurrent (mamba2; rwkv7, a time mix and a channel mix per layer, which
rwkv7_wide makes the larger), hybrid attention+SSM (granitehybrid) and Gemma 3n (layers that
reuse an earlier layer's KV cache; AltUp and per-layer inputs in the compute buffer). Targets from the brief:
total within 3% or 32 MiB (whichever larger) of llama.cpp's figure; per component we hold the
model to much tighter bounds (KV, state and weights exact; compute within 3% or 2 MiB); RSS of a
real load within 10%.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sizeup.errors import SizeupError
from sizeup.estimate.config import RunConfig
from sizeup.estimate.memory import estimate_memory
from sizeup.formats.gguf_model import describe_gguf
from sizeup.llamacpp.simulate import parse_log, simulate_memory
from sizeup.testing.synthetic_gguf import write_synthetic

MIB = 1024 * 1024
LOG_ROUNDING = 6 * 1024  # llama.cpp prints MiB with two decimals: +-5.2 KiB per figure


@pytest.fixture(scope="module")
def models(smollm2_path, gemma3_path, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("synthetic")
    out = {"smollm2": Path(smollm2_path), "gemma3": Path(gemma3_path)}
    for arch in ("qwen3moe", "deepseek2", "deepseek32", "kimi-linear", "mamba2", "granitehybrid"):
        out[arch] = write_synthetic(d / f"{arch}.gguf", arch)
    out["rwkv7"] = write_synthetic(d / "rwkv7.gguf", "rwkv7")
    out["rwkv7_wide"] = write_synthetic(d / "rwkv7_wide.gguf", "rwkv7", n_ff=4096)
    # Gemma 3n: 24 layers, of which 20-23 reuse the KV cache of layers 18/19 (none of their own);
    # "wide" makes the FFN and AltUp phases matter beside the per-layer inputs.
    out["gemma3n"] = write_synthetic(d / "gemma3n.gguf", "gemma3n")
    out["gemma3n_wide"] = write_synthetic(d / "gemma3n_wide.gguf", "gemma3n", n_embd=512, n_head=8, n_head_kv=2,
                                          n_ff=2048, n_layer=22, n_vocab=512)
    return out


_desc_cache: dict[Path, object] = {}


def _describe(p: Path):
    if p not in _desc_cache:
        _desc_cache[p] = describe_gguf(p)
    return _desc_cache[p]


def _llama_total(r: dict) -> int:
    return r["model_bytes"] + r["kv_bytes"] + r["rs_bytes"] + sum(b["output"] + b["compute"] for b in r["buffers"].values())


CASES = [
    # model, ctx, kv type, flash attention, parallel (n_outputs_max: llama-server's default)
    ("smollm2", 512, "f16", "auto", 1),
    ("smollm2", 4096, "q8_0", "auto", 1),
    ("smollm2", 32768, "f16", "auto", 1),
    ("smollm2", 32768, "f16", False, 1),  # KQ scores dominate the compute buffer
    ("smollm2", 32768, "q8_0", True, 4),
    ("gemma3", 512, "q8_0", "auto", 1),
    ("gemma3", 4096, "f16", "auto", 1),
    ("gemma3", 32768, "q8_0", "auto", 1),
    ("gemma3", 4096, "f16", False, 4),
    ("qwen3moe", 4096, "f16", "auto", 1),
    ("qwen3moe", 32768, "q8_0", "auto", 2),
    ("deepseek2", 4096, "f16", "auto", 1),
    ("deepseek2", 512, "f16", False, 1),
    ("deepseek32", 8192, "f16", "auto", 1),  # + the lightning indexer's key cache, mask and scores
    ("deepseek32", 4096, "f16", False, 1),
    ("kimi-linear", 4096, "f16", "auto", 1),  # MLA latent cache on 1 layer of 4, KDA state on the rest
    ("kimi-linear", 512, "f16", False, 1),
    ("kimi-linear", 32768, "f16", "auto", 3),  # three KDA states per layer
    ("mamba2", 4096, "f16", "auto", 3),
    ("granitehybrid", 4096, "f16", "auto", 1),
    ("granitehybrid", 32768, "q8_0", "auto", 1),
    ("rwkv7", 4096, "f16", "auto", 1),
    ("rwkv7", 8192, "f16", "auto", 3),  # three sequences: three WKV states
    ("rwkv7_wide", 4096, "f16", "auto", 1),
    ("gemma3n", 4096, "f16", "auto", 1),  # shared-KV layers: 20 of 24 layers hold a cache
    ("gemma3n", 32768, "q8_0", "auto", 1),
    ("gemma3n", 8192, "f16", "auto", 4),
    ("gemma3n", 4096, "f16", False, 1),
    ("gemma3n_wide", 8192, "f16", "auto", 1),
    ("gemma3n_wide", 32768, "q8_0", "auto", 2),
]


@pytest.mark.parametrize("name,ctx,kv,fa,n_par", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}-fa{c[3]}-np{c[4]}" for c in CASES])
def test_prediction_matches_llama_cpp(models, name, ctx, kv, fa, n_par):
    cfg = RunConfig(n_ctx=ctx, type_k=kv, type_v=kv if fa is not False else "f16", flash_attn=fa, n_parallel=n_par)
    r = simulate_memory(models[name], cfg)
    est = estimate_memory(_describe(models[name]), cfg)
    host = est.host
    b = r["buffers"]["CPU"]
    assert r["n_ctx"] == est.resolved.n_ctx
    if fa == "auto" and kv == "f16":  # the probe turns FA on for the CPU backend, as resolve() assumes
        assert r["flash_attn"] is True and est.resolved.flash_attn
    # weights, KV cache and recurrent state: exact
    assert host.weights == r["model_bytes"]
    assert abs(host.kv - r["kv_bytes"]) <= LOG_ROUNDING * len(r["kv_caches"])
    assert abs(host.recurrent - r["rs_bytes"]) <= LOG_ROUNDING
    assert abs(host.output - b["output"]) <= LOG_ROUNDING
    # compute buffer: fitted activations on top of exact mask/KQ/logits sizes
    assert abs(host.compute - b["compute"]) <= max(0.03 * b["compute"], 2 * MIB), (host.compute / MIB, b["compute"] / MIB)
    total = _llama_total(r)
    assert abs(est.llama_total - total) <= max(0.03 * total, 32 * MIB)


@pytest.mark.parametrize("name,ctx,fa", [("smollm2", 4096, "auto"), ("smollm2", 32768, False), ("gemma3", 512, "auto"),
                                         ("qwen3moe", 4096, False)])
def test_library_default_outputs_reserve_logits_for_every_token(models, name, ctx, fa):
    # n_outputs_max = 0: llama.cpp's library default (n_batch), as llama-cli and llama-cpp-python use
    cfg = RunConfig(n_ctx=ctx, flash_attn=fa, n_outputs_max=0)
    r = simulate_memory(models[name], cfg)
    est = estimate_memory(_describe(models[name]), cfg)
    comp = r["totals"]["compute"]
    assert abs(est.compute - comp) <= max(0.03 * comp, 2 * MIB), (est.compute / MIB, comp / MIB)
    server = estimate_memory(_describe(models[name]), cfg.with_(n_outputs_max=None))
    assert server.compute <= est.compute


@pytest.mark.parametrize("name,ctx,kv,mmap", [("smollm2", 4096, "f16", True), ("gemma3", 4096, "q8_0", False),
                                              ("granitehybrid", 32768, "q8_0", True), ("rwkv7", 4096, "f16", True)])
def test_resident_memory_of_a_real_load(models, name, ctx, kv, mmap):
    cfg = RunConfig(n_ctx=ctx, type_k=kv, type_v=kv, use_mmap=mmap)
    r = simulate_memory(models[name], cfg, mode="load")
    assert r["decode_rc"] == 0
    prompt = min(cfg.n_ubatch, ctx) - 1  # the worker decodes one micro-batch minus one token
    est = estimate_memory(_describe(models[name]), cfg, n_tokens_used=prompt)
    measured = r["rss_peak"] - r["rss_base"]  # the interpreter before llama_cpp was imported
    # 10% of measured, the target; a process's RSS also carries ~10 MiB of run-to-run noise
    # (glibc arenas per thread, which mapped pages are resident), which only matters for the tiny
    # synthetic model (~60 MiB), hence the absolute floor.
    assert abs(est.rss - measured) <= max(0.10 * measured, 12 * MIB), (est.rss / MIB, measured / MIB)
    # a real load reports real buffers: the weights llama.cpp allocated or mapped cover the file's tensors
    assert sum(b["model"] for b in r["buffers"].values()) >= r["model_bytes"] - LOG_ROUNDING


def test_mla_needs_equal_k_and_v_types_in_both(models):
    cfg = RunConfig(n_ctx=512, type_k="f16", type_v="bf16")
    with pytest.raises(SizeupError, match="same K and V"):
        estimate_memory(_describe(models["deepseek2"]), cfg)
    with pytest.raises(SizeupError):
        simulate_memory(models["deepseek2"], cfg)


def test_mla_cache_rows_must_be_whole_blocks_in_both(models):
    # deepseek2 synthetic: K row = kv_lora_rank 64 + rope 16 = 80 values, not a multiple of q8_0's 32
    cfg = RunConfig(n_ctx=512, type_k="q8_0", type_v="q8_0")
    with pytest.raises(SizeupError, match="block"):
        estimate_memory(_describe(models["deepseek2"]), cfg)
    with pytest.raises(SizeupError):
        simulate_memory(models["deepseek2"], cfg)


def test_simulate_errors_are_one_line(tmp_path):
    with pytest.raises(SizeupError, match="no such model file"):
        simulate_memory(tmp_path / "missing.gguf", RunConfig(n_ctx=512))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 60)
    with pytest.raises(SizeupError) as e:
        simulate_memory(bad, RunConfig(n_ctx=512))
    assert "\n" not in str(e.value)
    with pytest.raises(SizeupError, match="mode"):
        simulate_memory(bad, RunConfig(n_ctx=512), mode="guess")


def test_simulate_timeout(models):
    with pytest.raises(SizeupError, match="did not finish"):
        simulate_memory(models["gemma3"], RunConfig(n_ctx=512), mode="load", timeout=0.05)


def test_parse_log_reads_llama_cpp_lines():
    log = (
        "load_tensors:   CPU_Mapped model buffer size =    92.10 MiB\n"
        "load_tensors:   CPU_REPACK model buffer size =    12.66 MiB\n"
        "llama_context:        CPU  output buffer size =     0.19 MiB\n"
        "llama_kv_cache:        CPU KV buffer size =    90.00 MiB\n"
        "llama_kv_cache: size =   90.00 MiB (  4096 cells,  30 layers,  1/1 seqs), K (f16):   45.00 MiB, V (f16):   45.00 MiB\n"
        "llama_memory_recurrent:        CPU RS buffer size =     0.53 MiB\n"
        "llama_memory_recurrent: size =    0.53 MiB (     1 cells,   4 layers,  1 seqs  0 rs_seq), R (f32):    0.03 MiB, S (f32):    0.50 MiB, P (f32):    0.00 MiB\n"
        "sched_reserve:        CPU compute buffer size =    98.25 MiB\n"
    )
    p = parse_log(log)
    assert p["buffers"]["CPU_Mapped"]["model"] == round(92.10 * MIB)
    assert p["buffers"]["CPU_REPACK"]["model"] == round(12.66 * MIB)
    assert p["buffers"]["CPU"]["compute"] == round(98.25 * MIB)
    assert p["kv_caches"][0]["cells"] == 4096 and p["kv_caches"][0]["type_k"] == "f16"
    assert p["kv_bytes"] == 90 * MIB and p["rs_bytes"] == round(0.53 * MIB)


def test_missing_llama_cpp_python_is_one_clear_line(models, tmp_path):
    # an interpreter without llama_cpp: a venv without site packages
    import subprocess
    import sys

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    with pytest.raises(SizeupError, match="llama-cpp-python is not installed; fix: sizeup engine install"):
        simulate_memory(models["smollm2"], RunConfig(n_ctx=512), python=str(venv / "bin" / "python"))


def test_rwkv7_compute_at_a_real_width(tmp_path):
    """The RWKV-7 activation constants were fitted at real widths; the tiny fixture files above
    (n_embd 256) only meet the 2 MiB floor. At n_embd 1024 with the converter's low-rank sizes and
    n_ff = 4 n_embd (as released RWKV-7 models have) the compute buffer must agree within 1%."""
    path = write_synthetic(tmp_path / "rwkv7-1024.gguf", "rwkv7", n_embd=1024, n_ff=4096, n_layer=2,
                           lora_decay=64, lora_iclr=64, lora_value_res_mix=32, lora_gate=160)
    for cfg in (RunConfig(n_ctx=8192), RunConfig(n_ctx=8192, n_ubatch=128), RunConfig(n_ctx=8192, n_parallel=4)):
        r = simulate_memory(path, cfg)
        est = estimate_memory(describe_gguf(path), cfg)
        comp = r["buffers"]["CPU"]["compute"]
        assert abs(est.host.compute - comp) <= 0.01 * comp, (est.host.compute / MIB, comp / MIB)
        assert abs(est.host.recurrent - r["rs_bytes"]) <= LOG_ROUNDING


def test_gemma3n_shared_layers_hold_no_kv_cache(tmp_path):
    """llama.cpp allocates K/V for the first 20 layers of a Gemma 3n model only (the rest reuse
    layers 18/19): the cache is that of 20 layers, whatever the depth, and sizeup's figure is exact."""
    from sizeup.estimate.kv_cache import has_kv

    cfg = RunConfig(n_ctx=8192)
    sizes = {}
    for n_layer in (20, 24, 30):
        path = write_synthetic(tmp_path / f"g{n_layer}.gguf", "gemma3n", n_layer=n_layer)
        r = simulate_memory(path, cfg)
        d = describe_gguf(path)
        assert sum(has_kv(d.arch, il) for il in range(n_layer)) == 20
        assert abs(estimate_memory(d, cfg).host.kv - r["kv_bytes"]) <= LOG_ROUNDING * len(r["kv_caches"])
        sizes[n_layer] = r["kv_bytes"]
    assert sizes[20] == sizes[24] == sizes[30]
