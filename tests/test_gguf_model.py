"""GGUF metadata -> ModelDescription: real files (checked against gguf-py's reader and llama.cpp),
synthetic files of every family, and hand-made metadata for the rules and the broken cases."""

from __future__ import annotations

import math
from pathlib import Path

import gguf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizeup.data.ggml_types import LLAMA_FILE_TYPES
from sizeup.errors import BadModelFile
from sizeup.formats.gguf_model import (
    architecture_from_gguf,
    describe_gguf,
    license_from_gguf,
    quantization_from_gguf,
    swa_layer_pattern,
)
from sizeup.formats.gguf_reader import GGUFArray, read_gguf
from sizeup.model import LAYER_ATTENTION, LAYER_RECURRENT, TensorInfo
from sizeup.testing.synthetic_gguf import SUPPORTED_ARCHS, synthetic_params, write_synthetic


# --- oracles ----------------------------------------------------------------------------------


def oracle(path: Path) -> tuple[dict, list]:
    """Metadata and tensors as gguf-py's own GGUFReader sees them (independent of sizeup's reader).

    Slow on big vocabularies (it builds a numpy view per token), so only used on SmolLM2.
    """
    r = gguf.GGUFReader(path)
    kv = {}
    for k, f in r.fields.items():
        if k.startswith("GGUF.") or (f.types and f.types[0] == gguf.GGUFValueType.ARRAY and len(f.data) > 64):
            kv[k] = ("array", len(f.data))
            continue
        kv[k] = f.contents()
    return kv, r.tensors


def llama_cpp_view(path: Path) -> dict:
    """What llama.cpp itself reports after loading the model, from a child process (a native crash
    fails the calling test with its cause, not the whole run)."""
    from sizeup.llamacpp.child import call_in_child

    return call_in_child("sizeup.testing.llama_views:model_view", {"path": str(path)}, timeout=300)


@pytest.fixture(scope="module")
def smollm2(smollm2_path):
    return describe_gguf(smollm2_path), *oracle(smollm2_path)


@pytest.fixture(scope="module")
def gemma3(gemma3_path):
    return describe_gguf(gemma3_path), llama_cpp_view(gemma3_path)


# --- real models ------------------------------------------------------------------------------


def test_smollm2_matches_gguf_py(smollm2):
    d, kv, tensors = smollm2
    a = d.arch
    assert a.name == kv["general.architecture"] == "llama"
    assert a.n_layer == kv["llama.block_count"]
    assert a.n_embd == kv["llama.embedding_length"]
    assert a.n_head == (kv["llama.attention.head_count"],) * a.n_layer
    assert a.n_head_kv == (kv["llama.attention.head_count_kv"],) * a.n_layer
    assert a.head_dim_k == a.head_dim_v == kv["llama.embedding_length"] // kv["llama.attention.head_count"]
    assert a.n_ff == (kv["llama.feed_forward_length"],) * a.n_layer
    assert a.n_ctx_train == kv["llama.context_length"]
    assert a.n_vocab == kv["llama.vocab_size"] == kv["tokenizer.ggml.tokens"][1]
    assert a.tie_embeddings == ("output.weight" not in {t.name for t in tensors})
    assert not a.swa_layers and not a.is_moe and not a.layer_kinds
    assert d.quant.label == LLAMA_FILE_TYPES[kv["general.file_type"]] and d.quant.check == ""
    assert d.tokenizer.model == kv["tokenizer.ggml.model"] and d.tokenizer.pre == kv["tokenizer.ggml.pre"]
    assert d.tokenizer.has_chat_template == ("tokenizer.chat_template" in kv)
    assert d.license.id == kv["general.license"] and d.license.openness == "open-source"
    assert d.name == kv["general.name"]
    assert d.extra["size_label"] == kv["general.size_label"]
    assert d.file_size == Path(d.path).stat().st_size


def test_smollm2_params_and_mix_equal_tensor_directory(smollm2):
    d, _, tensors = smollm2
    assert d.params.total == sum(math.prod(int(x) for x in t.shape) for t in tensors)
    emb = next(t for t in tensors if t.name == "token_embd.weight")
    assert d.params.embedding == int(emb.n_elements) and d.params.output == 0
    assert d.params.active == d.params.total
    by_type: dict[str, int] = {}
    for t in tensors:
        by_type[t.tensor_type.name] = by_type.get(t.tensor_type.name, 0) + int(t.n_bytes)
    assert {s.dtype: s.n_bytes for s in d.quant.by_type} == by_type
    total_bytes = sum(int(t.n_bytes) for t in tensors)
    assert d.quant.bits_per_weight == pytest.approx(8 * total_bytes / d.params.total)


def test_gemma3_matches_llama_cpp(gemma3):
    d, ll = gemma3
    meta, a = ll["meta"], d.arch
    assert a.name == meta["general.architecture"] == "gemma3"
    assert (a.n_layer, a.n_embd, a.n_ctx_train) == (ll["n_layer"], ll["n_embd"], ll["n_ctx_train"])
    assert a.n_head == (ll["n_head"],) * a.n_layer and a.n_head_kv == (ll["n_head_kv"],) * a.n_layer
    assert (a.head_dim_k, a.head_dim_v) == (int(meta["gemma3.attention.key_length"]), int(meta["gemma3.attention.value_length"]))
    assert a.n_vocab == ll["n_vocab"] == d.tokenizer.n_vocab
    assert d.params.total == ll["n_params"]
    assert sum(s.n_bytes for s in d.quant.by_type) == ll["size"]
    # llama.cpp's rule for Gemma 3: layer i is global iff (i + 1) % 6 == 0.
    assert a.swa_window == ll["n_swa"] == int(meta["gemma3.attention.sliding_window"])
    assert a.swa_layers == tuple((i + 1) % 6 != 0 for i in range(a.n_layer))
    assert a.swa_pattern == "5 sliding : 1 global (period 6)"
    assert a.tie_embeddings and d.params.output == 0
    # Q4_K_M on 640-wide rows: most matrices fall back to Q5_0, which is not a mismatch.
    assert d.quant.label == LLAMA_FILE_TYPES[int(meta["general.file_type"])] == "Q4_K_M"
    assert d.quant.check == "" and d.warnings == []
    assert d.license.id == meta["general.license"] and d.license.openness == "open-weights"
    assert d.name == meta["general.name"]


def test_smollm2_agrees_with_llama_cpp(smollm2_path):
    d = describe_gguf(smollm2_path)
    ll = llama_cpp_view(smollm2_path)
    assert d.params.total == ll["n_params"] and sum(s.n_bytes for s in d.quant.by_type) == ll["size"]
    assert (d.arch.n_layer, d.arch.n_embd, d.arch.n_ctx_train, d.arch.n_vocab) == (
        ll["n_layer"], ll["n_embd"], ll["n_ctx_train"], ll["n_vocab"])
    assert (d.arch.n_head[0], d.arch.n_head_kv[0], d.arch.swa_window) == (ll["n_head"], ll["n_head_kv"], ll["n_swa"])


# --- synthetic models of every family ----------------------------------------------------------


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    cache: dict[str, Path] = {}

    def get(arch: str, **kw) -> Path:
        key = arch + repr(sorted(kw.items()))
        if key not in cache:
            cache[key] = write_synthetic(root / f"{arch}-{len(cache)}.gguf", arch, **kw)
        return cache[key]

    return get


def _independent_active(path: Path, n_expert: int, n_used: int) -> tuple[int, int]:
    tensors = gguf.GGUFReader(path).tensors
    total = sum(int(t.n_elements) for t in tensors)
    expert = sum(int(t.n_elements) for t in tensors if "_exps." in t.name)
    return total, total - expert + expert * n_used // n_expert


def test_synthetic_llama_dense(synth):
    p = synthetic_params("llama")
    a = describe_gguf(synth("llama")).arch
    assert (a.n_layer, a.n_embd, a.n_vocab) == (p["n_layer"], p["n_embd"], p["n_vocab"])
    assert a.n_head == (p["n_head"],) * p["n_layer"] and a.n_head_kv == (p["n_head_kv"],) * p["n_layer"]
    assert a.head_dim_k == p["n_embd"] // p["n_head"]
    assert not a.tie_embeddings


def test_synthetic_qwen3moe_active_params(synth):
    p = synthetic_params("qwen3moe")
    path = synth("qwen3moe")
    d = describe_gguf(path)
    a = d.arch
    assert (a.n_expert, a.n_expert_used, a.n_ff_exp) == (p["n_expert"], p["n_expert_used"], p["n_ff_exp"])
    assert a.moe_layers == (True,) * p["n_layer"] and a.n_ff == (0,) * p["n_layer"]
    assert a.n_expert_shared == 0 and a.n_ff_shexp == 0
    total, active = _independent_active(path, p["n_expert"], p["n_expert_used"])
    assert d.params.total == total and d.params.active == active < total


def test_synthetic_deepseek2_mla_moe_dense_lead(synth):
    p = synthetic_params("deepseek2")
    path = synth("deepseek2")
    d = describe_gguf(path)
    a = d.arch
    assert a.is_mla and a.kv_lora_rank == p["kv_lora_rank"] and a.q_lora_rank == p["q_lora_rank"]
    assert a.rope_dim == p["qk_rope"]
    assert (a.head_dim_k, a.head_dim_v) == (p["qk_nope"] + p["qk_rope"], p["v_head"])
    assert a.extra["mla_absorbed"] and a.extra["kv_cache_head_dim_k"] == p["kv_lora_rank"] + p["qk_rope"]
    assert a.n_head_kv == (1,) * p["n_layer"]
    lead = p["n_dense_lead"]
    assert a.moe_layers == tuple(i >= lead for i in range(p["n_layer"]))
    assert a.n_ff == tuple(p["n_ff"] if i < lead else 0 for i in range(p["n_layer"]))
    assert a.n_expert_shared == p["n_expert_shared"] and a.n_ff_shexp == p["n_ff_exp"] * p["n_expert_shared"]
    total, active = _independent_active(path, p["n_expert"], p["n_expert_used"])
    assert d.params.total == total and d.params.active == active < total


@pytest.mark.parametrize("arch,period", [("gemma3", 6), ("gemma2", 2)])
def test_synthetic_sliding_window(synth, arch, period):
    p = synthetic_params(arch)
    a = describe_gguf(synth(arch)).arch
    assert a.swa_window == p["sliding_window"]
    assert a.swa_layers == tuple((i + 1) % period != 0 for i in range(p["n_layer"]))
    assert a.extra["swa_type"] == "standard"


def test_synthetic_recurrent_and_hybrid(synth):
    p = synthetic_params("mamba2")
    a = describe_gguf(synth("mamba2")).arch
    assert a.layer_kinds == (LAYER_RECURRENT,) * p["n_layer"] and a.n_attention_layers == 0
    assert a.ssm.kind == "mamba2" and (a.ssm.d_inner, a.ssm.d_state, a.ssm.d_conv, a.ssm.n_group) == (
        p["d_inner"], p["d_state"], p["d_conv"], p["n_group"])
    assert a.ssm.n_head == p["d_inner"] // p["ssm_head_dim"]

    p = synthetic_params("granitehybrid", attn_layers=(1, 4))
    a = describe_gguf(synth("granitehybrid", attn_layers=(1, 4))).arch
    want = tuple(LAYER_ATTENTION if i in (1, 4) else LAYER_RECURRENT for i in range(p["n_layer"]))
    assert a.layer_kinds == want
    assert a.n_head_kv == tuple(p["n_head_kv"] if i in (1, 4) else 0 for i in range(p["n_layer"]))
    assert a.n_head == tuple(p["n_head"] if i in (1, 4) else 0 for i in range(p["n_layer"]))
    assert a.ssm.kind == "mamba2" and a.n_recurrent_layers == p["n_layer"] - 2


def test_synthetic_gpt_oss_and_jamba(synth):
    p = synthetic_params("gpt-oss")
    a = describe_gguf(synth("gpt-oss")).arch
    assert a.swa_window == p["sliding_window"] and a.swa_layers == tuple(i % 2 == 0 for i in range(p["n_layer"]))
    assert a.moe_layers == (True,) * p["n_layer"] and a.head_dim_k == p["head_dim"]

    p = synthetic_params("jamba")
    path = synth("jamba")
    d = describe_gguf(path)
    a = d.arch
    # Which layers route to experts comes from the tensor directory (Jamba has no key for it).
    assert a.moe_layers == tuple(i in p["moe_layers"] for i in range(p["n_layer"]))
    assert a.n_ff == tuple(0 if i in p["moe_layers"] else p["n_ff"] for i in range(p["n_layer"]))
    assert a.n_ff_exp == p["n_ff"]
    assert a.layer_kinds == tuple(LAYER_ATTENTION if i in p["attn_layers"] else LAYER_RECURRENT for i in range(p["n_layer"]))
    assert a.ssm.kind == "mamba" and (a.ssm.d_inner, a.ssm.d_state, a.ssm.dt_rank) == (p["d_inner"], p["d_state"], p["dt_rank"])
    total, active = _independent_active(path, p["n_expert"], p["n_expert_used"])
    assert d.params.active == active < total


@pytest.mark.parametrize("arch", SUPPORTED_ARCHS)
def test_synthetic_agrees_with_llama_cpp(synth, arch):
    path = synth(arch)
    d = describe_gguf(path)
    ll = llama_cpp_view(path)
    assert d.params.total == ll["n_params"]
    assert (d.arch.n_layer, d.arch.n_embd, d.arch.n_ctx_train) == (ll["n_layer"], ll["n_embd"], ll["n_ctx_train"])
    assert d.arch.swa_window == ll["n_swa"]
    assert bool(d.arch.layer_kinds) == bool(ll["recurrent"] or ll["hybrid"])


def test_split_model_reads_as_one(synth):
    whole = describe_gguf(synth("llama"))
    first = synth("llama", split_max_tensors=12)
    parts = sorted(first.parent.glob(first.name.replace("00001", "*")))
    assert len(parts) > 2
    d = describe_gguf(parts[-1])  # any part names the model
    assert d.extra["split_count"] == len(parts) and d.files == [str(p) for p in parts]
    assert d.file_size == sum(p.stat().st_size for p in parts)
    assert d.params == whole.params and d.arch == whole.arch
    assert [t.name for t in d.tensors] == [t.name for t in whole.tensors]


def test_quant_label_inferred_from_mix_when_file_type_missing(synth):
    path = synth("llama", dtype="Q8_0")
    gf = read_gguf(path)
    d = describe_gguf(path)
    assert d.quant.label == "Q8_0" and d.quant.label_source == "general.file_type" and d.quant.check == ""
    kv = dict(gf.kv)
    del kv["general.file_type"]
    q = quantization_from_gguf(kv, gf.tensor_infos())
    assert (q.label, q.label_source) == ("Q8_0", "tensor mix")
    kv["general.file_type"] = 15  # claims Q4_K_M
    q = quantization_from_gguf(kv, gf.tensor_infos())
    assert q.label == "Q4_K_M" and "Q8_0" in q.check


# --- rules on hand-made metadata ---------------------------------------------------------------


def base_kv(arch: str = "llama", n_layer: int = 8, **extra) -> dict:
    kv = {
        "general.architecture": arch,
        f"{arch}.block_count": n_layer,
        f"{arch}.embedding_length": 512,
        f"{arch}.attention.head_count": 8,
        f"{arch}.attention.head_count_kv": 2,
        f"{arch}.feed_forward_length": 1024,
        f"{arch}.context_length": 8192,
        f"{arch}.vocab_size": 1000,
    }
    kv.update({k if k.startswith(("general.", "tokenizer.")) else f"{arch}.{k}": v for k, v in extra.items()})
    return kv


def test_swa_pattern_matches_llama_cpp_set_swa_pattern():
    assert swa_layer_pattern(6, 3) == (True, True, False, True, True, False)
    assert swa_layer_pattern(4, 2, dense_first=True) == (False, True, False, True)
    assert swa_layer_pattern(3, 0) == (True, True, True)
    assert swa_layer_pattern(3, 1) == (False, False, False)


@pytest.mark.parametrize("arch,window,period", [("cohere2", 4096, 4), ("gpt-oss", 128, 2), ("gemma2", 4096, 2)])
def test_swa_arch_defaults(arch, window, period):
    kv = base_kv(arch, 12, **({"attention.sliding_window": window} if arch != "gemma2" else {}))
    if arch == "gpt-oss":
        kv.update({"gpt-oss.expert_count": 32, "gpt-oss.expert_used_count": 4, "gpt-oss.expert_feed_forward_length": 256})
    a = architecture_from_gguf(kv)
    assert a.swa_window == window  # gemma2 defaults to 4096 without the key
    assert a.swa_layers == tuple(i % period < period - 1 for i in range(12))


def test_swa_pattern_key_overrides_default():
    bools = [True, False] * 4
    a = architecture_from_gguf(base_kv("gemma3", **{"attention.sliding_window": 512, "attention.sliding_window_pattern": bools}))
    assert a.swa_layers == tuple(bools)
    a = architecture_from_gguf(base_kv("gemma3", **{"attention.sliding_window": 512, "attention.sliding_window_pattern": 4}))
    assert a.swa_layers == swa_layer_pattern(8, 4)
    with pytest.raises(BadModelFile, match="sliding_window_pattern has 3 entries for 8 layers"):
        architecture_from_gguf(base_kv("gemma3", **{"attention.sliding_window": 512, "attention.sliding_window_pattern": [True] * 3}))


def test_windows_llama_cpp_does_not_apply():
    a = architecture_from_gguf(base_kv("phi3", **{"attention.sliding_window": 2047}))
    assert a.swa_window == 0 and a.extra["sliding_window_ignored"] == 2047
    a = architecture_from_gguf(base_kv("qwen2", **{"attention.sliding_window": 4096}))
    assert a.swa_window == 0 and not a.swa_layers
    a = architecture_from_gguf(base_kv("gemma3", **{"attention.sliding_window": 0}))
    assert a.swa_window == 0


def test_llama4_chunked_attention_and_interleaved_moe():
    kv = base_kv("llama4", 8, expert_count=16, expert_used_count=1, expert_feed_forward_length=256,
                 interleave_moe_layer_step=2, **{"attention.sliding_window": 8192})
    a = architecture_from_gguf(kv)
    assert a.extra["swa_type"] == "chunked" and a.swa_window == 8192
    assert a.swa_layers == swa_layer_pattern(8, 4)
    assert a.extra["no_rope_layers"] == tuple((i + 1) % 4 == 0 for i in range(8))
    assert a.moe_layers == tuple((i + 1) % 2 == 0 for i in range(8))
    assert a.n_ff == tuple(0 if (i + 1) % 2 == 0 else 1024 for i in range(8))
    assert a.n_ff_shexp == 256 and a.n_expert_shared == 1
    kv["llama4.attention.sliding_window"] = 0
    assert architecture_from_gguf(kv).swa_window == 0


def test_deepseek2_legacy_mla_without_mla_keys():
    kv = base_kv("deepseek2", 4, expert_count=8, expert_used_count=2, expert_shared_count=2,
                 expert_feed_forward_length=128, leading_dense_block_count=2,
                 **{"attention.kv_lora_rank": 512, "attention.q_lora_rank": 1536, "attention.key_length": 192,
                    "attention.value_length": 128, "rope.dimension_count": 64, "attention.head_count_kv": 8})
    a = architecture_from_gguf(kv)
    assert (a.head_dim_k, a.head_dim_v, a.rope_dim) == (192, 128, 64)
    assert a.extra["mla_absorbed"] is False
    assert a.moe_layers == (False, False, True, True) and a.n_ff_shexp == 256


def test_hybrid_layer_rules():
    # Jamba: recurrent iff head_count_kv == 0.
    ssm = {"ssm.conv_kernel": 4, "ssm.inner_size": 1024, "ssm.state_size": 16, "ssm.time_step_rank": 32}
    kv = base_kv("jamba", 8, **ssm, **{"attention.head_count_kv": [0, 0, 0, 0, 2, 0, 0, 0]})
    a = architecture_from_gguf(kv)
    assert a.layer_kinds == tuple(LAYER_ATTENTION if i == 4 else LAYER_RECURRENT for i in range(8))
    assert a.n_head == tuple(8 if i == 4 else 0 for i in range(8)) and a.ssm.kind == "mamba"
    # Nemotron-H: kv == 0 and ff == 0 is Mamba; kv == 0 with ff > 0 is an MLP-only layer.
    kv = base_kv("nemotron_h", 4, **ssm, **{"ssm.group_count": 8, "attention.head_count_kv": [0, 0, 2, 0],
                                           "feed_forward_length": [0, 1024, 0, 1024]})
    a = architecture_from_gguf(kv)
    assert a.layer_kinds == (LAYER_RECURRENT, LAYER_ATTENTION, LAYER_ATTENTION, LAYER_ATTENTION)
    assert a.extra["layer_roles"] == ("recurrent", "ffn", "attention", "ffn")
    assert a.n_head_kv == (0, 0, 2, 0)
    # Qwen3-Next: full attention every full_attention_interval layers (default 4).
    kv = base_kv("qwen3next", 8, **ssm, **{"ssm.group_count": 16})
    assert architecture_from_gguf(kv).layer_kinds == tuple(
        LAYER_ATTENTION if (i + 1) % 4 == 0 else LAYER_RECURRENT for i in range(8))
    kv["qwen3next.full_attention_interval"] = 2
    assert architecture_from_gguf(kv).n_attention_layers == 4
    # Falcon-H1: attention and Mamba2 in every layer.
    a = architecture_from_gguf(base_kv("falcon-h1", 4, **ssm, **{"ssm.group_count": 1}))
    assert a.n_attention_layers == 4 and a.ssm.kind == "mamba2" and a.extra["recurrent_state_layers"] == (True,) * 4


def test_mixtral_style_moe_without_tensors():
    a = architecture_from_gguf(base_kv("llama", expert_count=8, expert_used_count=2))
    assert a.moe_layers == (True,) * 8 and a.n_ff == (0,) * 8 and a.n_ff_exp == 1024  # experts use n_ff
    a = architecture_from_gguf(base_kv("qwen2moe", expert_count=60, expert_used_count=4,
                                       expert_shared_feed_forward_length=5632))
    assert a.n_ff_exp == 1024 // 4 and a.n_ff_shexp == 5632 and a.n_expert_shared == 1


def test_olmo2_window_only_when_declared_and_mamba1():
    assert architecture_from_gguf(base_kv("olmo2")).swa_window == 0
    a = architecture_from_gguf(base_kv("olmo2", **{"attention.sliding_window": 4096}))
    assert a.swa_layers == swa_layer_pattern(8, 4)
    ssm = {"ssm.conv_kernel": 4, "ssm.inner_size": 1536, "ssm.state_size": 16, "ssm.time_step_rank": 48,
           "attention.head_count": 0, "attention.head_count_kv": 0}
    a = architecture_from_gguf(base_kv("mamba", 4, **ssm))
    assert a.layer_kinds == (LAYER_RECURRENT,) * 4 and a.ssm.kind == "mamba" and a.ssm.d_inner == 1536
    assert a.head_dim_k == 0 and a.n_head == (0,) * 4
    with pytest.raises(BadModelFile, match="ssm.state_size"):
        architecture_from_gguf(base_kv("mamba", 4, **{k: v for k, v in ssm.items() if k != "ssm.state_size"}))


def test_kimi_linear_kda_layers_and_required_keys():
    # src/models/kimi-linear.cpp: head_count_kv 0 marks the KDA layers; ssm.conv_kernel and
    # kda.head_dim are required keys (load_arch_hparams reads them without a default).
    kv = base_kv("kimi-linear", 4, **{"attention.head_count_kv": [0, 0, 0, 1], "ssm.conv_kernel": 4, "kda.head_dim": 64,
                                      "attention.kv_lora_rank": 64, "attention.key_length": 80, "attention.value_length": 64,
                                      "attention.key_length_mla": 48, "attention.value_length_mla": 32,
                                      "rope.dimension_count": 16})
    a = architecture_from_gguf(kv)
    assert a.layer_kinds == (LAYER_RECURRENT,) * 3 + (LAYER_ATTENTION,) and a.is_mla
    assert (a.ssm.kind, a.ssm.d_conv, a.ssm.n_head, a.ssm.head_size) == ("kda", 4, 8, 64)
    for key in ("kda.head_dim", "ssm.conv_kernel"):
        with pytest.raises(BadModelFile, match=key.replace(".", r"\.")):
            architecture_from_gguf({k: v for k, v in kv.items() if not k.endswith(key)})


def test_pure_recurrent_rwkv():
    lora = {"attention.decay_lora_rank": 64, "attention.iclr_lora_rank": 64,
            "attention.value_residual_mix_lora_rank": 32, "attention.gate_lora_rank": 128}
    kv = base_kv("rwkv7", 4, **{"wkv.head_size": 64, "attention.head_count": 0, "attention.head_count_kv": 0}, **lora)
    a = architecture_from_gguf(kv)
    assert a.layer_kinds == (LAYER_RECURRENT,) * 4 and a.ssm.kind == "rwkv7"
    assert a.ssm.n_head == 512 // 64 and a.ssm.token_shift_count == 2
    assert (a.extra["rwkv_lora_decay"], a.extra["rwkv_lora_iclr"], a.extra["rwkv_lora_value_res_mix"],
            a.extra["rwkv_lora_gate"]) == (64, 64, 32, 128)
    # src/models/rwkv7.cpp reads the decay, ICLR and value-mix ranks as required keys
    with pytest.raises(BadModelFile, match="iclr_lora_rank"):
        architecture_from_gguf({k: v for k, v in kv.items() if not k.endswith("iclr_lora_rank")})
    with pytest.raises(BadModelFile, match="wkv.head_size"):
        architecture_from_gguf(base_kv("rwkv6", 4, **{"attention.head_count": 0}))


def test_vocab_fallbacks_and_tensor_facts():
    kv = base_kv()
    del kv["llama.vocab_size"]
    kv["tokenizer.ggml.tokens"] = GGUFArray(item_type=8, count=32000)
    assert architecture_from_gguf(kv).n_vocab == 32000
    del kv["tokenizer.ggml.tokens"]
    tensors = [TensorInfo("token_embd.weight", (512, 777), "F16", 512 * 777, 2 * 512 * 777),
               TensorInfo("position_embd.weight", (512, 1024), "F32", 512 * 1024, 4 * 512 * 1024)]
    a = architecture_from_gguf(kv, tensors)
    assert a.n_vocab == 777 and a.tie_embeddings and a.n_pos_embd == 1024


@pytest.mark.parametrize("change,message", [
    ({"llama.block_count": None}, "missing llama.block_count"),
    ({"llama.embedding_length": None}, "missing llama.embedding_length"),
    ({"llama.block_count": 0}, "llama.block_count is 0"),
    ({"llama.block_count": "32"}, "llama.block_count is str"),
    ({"llama.attention.head_count": 0}, "head_count is 0"),
    ({"llama.attention.head_count_kv": 3}, "not a multiple of 3 KV heads"),
    ({"llama.attention.head_count_kv": [2] * 7}, "head_count_kv has 7 entries for 8 layers"),
    ({"llama.feed_forward_length": GGUFArray(5, 100000)}, "feed_forward_length has 100000 entries"),
    ({"llama.expert_count": 8, "llama.expert_used_count": 9}, "exceeds expert_count"),
    ({"llama.expert_count": 8}, "expert_used_count is 0"),
    ({"general.architecture": None}, "no general.architecture"),
    ({"general.architecture": 7}, "not a short string"),
])
def test_broken_metadata_is_one_clear_error(change, message):
    kv = base_kv()
    for k, v in change.items():
        if v is None:
            kv.pop(k, None)
        else:
            kv[k] = v
    with pytest.raises(BadModelFile, match=message) as e:
        architecture_from_gguf(kv, path="x.gguf")
    assert "\n" not in str(e.value) and str(e.value).startswith("x.gguf: ")


def test_unknown_architecture_warns_but_describes():
    warnings: list[str] = []
    a = architecture_from_gguf(base_kv("brandnew"), warnings=warnings)
    assert a.n_layer == 8 and a.n_head_kv == (2,) * 8
    assert any("brandnew" in w for w in warnings)


_values = st.one_of(st.none(), st.integers(-5, 2**40), st.text(max_size=5), st.booleans(), st.floats(allow_nan=True),
                    st.lists(st.integers(-2, 70000), max_size=10), st.builds(GGUFArray, st.integers(0, 12), st.integers(0, 10**7)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(base_kv("deepseek2", 4, **{
    "attention.kv_lora_rank": 1, "attention.key_length_mla": 1, "attention.value_length_mla": 1, "expert_count": 1,
    "expert_used_count": 1, "attention.sliding_window": 1, "attention.sliding_window_pattern": 1,
    "rope.dimension_count": 1, "leading_dense_block_count": 1, "expert_shared_count": 1}))), _values, max_size=6),
    st.sampled_from(["deepseek2", "gemma3", "jamba", "llama4", "mamba2"]))
def test_fuzzed_metadata_never_escapes_as_other_exceptions(changes, arch):
    kv = {k.replace("deepseek2", arch): v for k, v in base_kv("deepseek2", 4).items()}
    for k, v in changes.items():
        k = k.replace("deepseek2", arch)
        if v is None:
            kv.pop(k, None)
        else:
            kv[k] = v
    try:
        a = architecture_from_gguf(kv)
    except BadModelFile:
        return
    a.validate()
    assert a.n_layer == len(a.n_head) == len(a.n_ff)


def test_license_fallbacks():
    assert license_from_gguf({"general.license": "other", "general.license.name": "llama3.1"}).id == "llama3.1"
    lic = license_from_gguf({"general.base_model.count": 1, "general.base_model.0.name": "Qwen3 8B",
                             "general.base_model.0.license": "apache-2.0"})
    assert lic.openness == "open-source" and "Qwen3 8B" in lic.reason
    assert license_from_gguf({}).openness == "unknown"


def test_non_llm_gguf_is_described_without_arch(tmp_path):
    w = gguf.GGUFWriter(tmp_path / "mmproj.gguf", "clip")
    w.add_uint32("clip.vision.block_count", 4)
    import numpy as np

    w.add_tensor("v.patch_embd.weight", np.zeros((4, 4), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    d = describe_gguf(tmp_path / "mmproj.gguf")
    assert d.arch is None and d.params.total == 16 and d.warnings
