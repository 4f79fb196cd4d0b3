"""Predicted GGUF tensor inventories against real files and published parameter counts."""

from __future__ import annotations

import dataclasses

import pytest

from sizeup.errors import SizeupError
from sizeup.formats.gguf_reader import read_gguf
from sizeup.layout import count_params, predict_tensors, traits
from sizeup.model import LAYER_ATTENTION, LAYER_RECURRENT, Architecture, SSMFacts
from sizeup.testing.architectures import dense

P = Architecture.per_layer


# Architecture facts as GGUFReader reports them for the two test models.
SMOLLM2 = dense("llama", 30, 576, 9, 3, 64, 1536, 49152, True)
GEMMA3_270M = dense("gemma3", 18, 640, 4, 1, 256, 2048, 262144, True, swa_window=512)


def real_tensors(path) -> tuple[dict[str, tuple[int, ...]], int]:
    """Name -> shape of every tensor in a real GGUF, and the file's total element count."""
    g = read_gguf(path)
    return {t.name: tuple(t.shape) for t in g.tensors}, sum(t.n_elements for t in g.tensors)


@pytest.mark.parametrize("which", ["smollm2", "gemma3"])
def test_layout_equals_real_file(which, smollm2_path, gemma3_path):
    path, arch = (smollm2_path, SMOLLM2) if which == "smollm2" else (gemma3_path, GEMMA3_270M)
    real, n_elements = real_tensors(path)
    pred = predict_tensors(arch)
    assert len(pred) == len(dict(pred)), "duplicate names"
    assert dict(pred) == real
    assert count_params(arch) == n_elements


# Published parameter counts (model cards / HF safetensors totals) for configs from config.json.
PUBLISHED = [
    ("llama-3.1-8b", dense("llama", 32, 4096, 32, 8, 128, 14336, 128256, False), 8.03e9),
    ("llama-3.2-1b", dense("llama", 16, 2048, 32, 8, 64, 8192, 128256, True), 1.24e9),
    ("qwen2.5-7b", dense("qwen2", 28, 3584, 28, 4, 128, 18944, 152064, False), 7.62e9),
    ("qwen3-8b", dense("qwen3", 36, 4096, 32, 8, 128, 12288, 151936, False), 8.19e9),
    ("qwen3-30b-a3b", dense("qwen3moe", 48, 2048, 32, 4, 128, 0, 151936, False, n_expert=128, n_expert_used=8,
                            n_ff_exp=768), 30.5e9),
    ("gemma-2-9b", dense("gemma2", 42, 3584, 16, 8, 256, 14336, 256000, True), 9.24e9),
    ("phi-3-mini", dense("phi3", 32, 3072, 32, 32, 96, 8192, 32064, False), 3.82e9),
    ("mixtral-8x7b", dense("llama", 32, 4096, 32, 8, 128, 0, 32000, False, n_expert=8, n_expert_used=2,
                           n_ff_exp=14336), 46.7e9),
    ("gpt-oss-20b", dense("gpt-oss", 24, 2880, 64, 8, 64, 0, 201088, False, n_expert=32, n_expert_used=4,
                          n_ff_exp=2880), 20.9e9),
    ("olmo-2-7b", dense("olmo2", 32, 4096, 32, 32, 128, 11008, 100352, False), 7.30e9),
    ("granite-3.1-8b", dense("granite", 40, 4096, 32, 8, 128, 12800, 49155, True), 8.17e9),
    ("qwen2.5-0.5b", dense("qwen2", 24, 896, 14, 2, 64, 4864, 151936, True), 0.494e9),
    ("smollm3-3b", dense("smollm3", 36, 2048, 16, 4, 128, 11008, 128256, True), 3.08e9),
    ("command-r7b", dense("cohere2", 32, 4096, 32, 8, 128, 14336, 256000, True), 8.03e9),
    ("glm-4-9b-0414", dense("glm4", 40, 4096, 32, 2, 128, 13696, 151552, False), 9.40e9),
    ("phi-4", dense("phi3", 40, 5120, 40, 10, 128, 17920, 100352, False), 14.7e9),
    ("deepseek-v3", Architecture(
        name="deepseek2", n_layer=61, n_embd=7168, n_head=P(128, 61), n_head_kv=P(128, 61), head_dim_k=192,
        head_dim_v=128, n_ff=(18432,) * 3 + (0,) * 58, n_vocab=129280, n_ctx_train=163840, n_expert=256,
        n_expert_used=8, n_expert_shared=1, n_ff_exp=2048, n_ff_shexp=2048, moe_layers=(False,) * 3 + (True,) * 58,
        kv_lora_rank=512, q_lora_rank=1536, rope_dim=64, extra={"exp_probs_b": True}), 671e9),
    ("mamba2-2.7b", Architecture(
        name="mamba2", n_layer=64, n_embd=2560, n_head=P(0, 64), n_head_kv=P(0, 64), head_dim_k=0, head_dim_v=0,
        n_ff=P(0, 64), n_vocab=50288, n_ctx_train=1 << 20, layer_kinds=(LAYER_RECURRENT,) * 64,
        ssm=SSMFacts(kind="mamba2", d_conv=4, d_inner=5120, d_state=128, n_group=1, n_head=80),
        tie_embeddings=True), 2.7e9),
]


BY_LABEL = {label: arch for label, arch, _ in PUBLISHED}


@pytest.mark.parametrize("label,arch,published", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_count_params_matches_published(label, arch, published):
    assert abs(count_params(arch) - published) / published < 0.01


def test_llama_31_8b_exact_count():
    # 8,030,261,248 is the sum over Meta-Llama-3.1-8B's safetensors.
    assert count_params(BY_LABEL["llama-3.1-8b"]) == 8_030_261_248


def test_deepseek_mla_shapes():
    arch = BY_LABEL["deepseek-v3"]
    t = dict(predict_tensors(arch))
    assert t["blk.0.attn_q_a.weight"] == (7168, 1536)
    assert t["blk.0.attn_q_b.weight"] == (1536, 128 * 192)
    assert t["blk.0.attn_kv_a_mqa.weight"] == (7168, 512 + 64)
    assert t["blk.0.attn_k_b.weight"] == (128, 512, 128)
    assert t["blk.0.attn_v_b.weight"] == (512, 128, 128)
    assert t["blk.0.ffn_gate.weight"] == (7168, 18432) and "blk.0.ffn_gate_exps.weight" not in t
    assert t["blk.3.ffn_gate_exps.weight"] == (7168, 2048, 256)
    assert t["blk.3.ffn_down_exps.weight"] == (2048, 7168, 256)
    assert t["blk.3.ffn_up_shexp.weight"] == (7168, 2048)
    assert t["blk.3.exp_probs_b.bias"] == (256,)
    legacy = dict(predict_tensors(dataclasses.replace(arch, extra={"mla_kv_b": True})))
    assert legacy["blk.0.attn_kv_b.weight"] == (512, 128 * (128 + 128)) and "blk.0.attn_k_b.weight" not in legacy
    no_qlora = dict(predict_tensors(dataclasses.replace(arch, q_lora_rank=0)))
    assert no_qlora["blk.0.attn_q.weight"] == (7168, 128 * 192) and "blk.0.attn_q_a.weight" not in no_qlora


def test_family_specific_tensors():
    qwen2 = dict(predict_tensors(BY_LABEL["qwen2.5-7b"]))
    assert qwen2["blk.0.attn_q.bias"] == (3584,) and qwen2["blk.0.attn_k.bias"] == (512,)
    assert "blk.0.attn_output.bias" not in qwen2 and "output.weight" in qwen2
    phi3 = dict(predict_tensors(BY_LABEL["phi-3-mini"]))
    assert phi3["blk.0.attn_qkv.weight"] == (3072, 3 * 3072) and phi3["blk.0.ffn_up.weight"] == (3072, 2 * 8192)
    assert "blk.0.ffn_gate.weight" not in phi3
    oss = dict(predict_tensors(BY_LABEL["gpt-oss-20b"]))
    assert oss["blk.0.attn_sinks.weight"] == (64,) and oss["blk.0.ffn_gate_exps.bias"] == (2880, 32)
    assert "blk.0.ffn_norm.weight" not in oss and oss["blk.0.post_attention_norm.weight"] == (2880,)
    olmo = dict(predict_tensors(BY_LABEL["olmo-2-7b"]))
    assert "blk.0.attn_norm.weight" not in olmo and olmo["blk.0.attn_k_norm.weight"] == (4096,)
    assert olmo["blk.0.post_ffw_norm.weight"] == (4096,)
    gemma2 = dict(predict_tensors(dataclasses.replace(BY_LABEL["gemma-2-9b"], tie_embeddings=False)))
    assert "output.weight" not in gemma2  # Gemma 2 never has a separate head
    sc2 = dict(predict_tensors(dense("starcoder2", 2, 256, 4, 2, 64, 1024, 1000, True)))
    assert {"blk.0.ffn_up.bias", "blk.0.attn_norm.bias", "output_norm.bias", "blk.1.attn_output.bias"} <= set(sc2)
    assert "blk.0.ffn_gate.weight" not in sc2


def test_mamba2_and_hybrid_layers():
    m2 = dict(predict_tensors(BY_LABEL["mamba2-2.7b"]))
    assert m2["blk.0.ssm_in.weight"] == (2560, 2 * 5120 + 2 * 128 + 80)
    assert m2["blk.0.ssm_conv1d.weight"] == (4, 5120 + 2 * 128)
    assert m2["blk.0.ssm_a"] == (1, 80) and m2["blk.0.ssm_norm.weight"] == (5120, 1)
    assert not any("ffn" in n or "attn_q" in n for n in m2)
    kinds = tuple(LAYER_ATTENTION if i % 4 == 3 else LAYER_RECURRENT for i in range(8))
    hybrid = Architecture(
        name="granitehybrid", n_layer=8, n_embd=512, n_head=tuple(8 if k == LAYER_ATTENTION else 0 for k in kinds),
        n_head_kv=tuple(2 if k == LAYER_ATTENTION else 0 for k in kinds), head_dim_k=64, head_dim_v=64,
        n_ff=P(1024, 8), n_vocab=1000, n_ctx_train=4096, layer_kinds=kinds, tie_embeddings=True,
        ssm=SSMFacts(kind="mamba2", d_conv=4, d_inner=1024, d_state=64, n_group=1, n_head=16))
    h = dict(predict_tensors(hybrid))
    assert "blk.0.ssm_in.weight" in h and "blk.0.attn_q.weight" not in h
    assert "blk.3.attn_q.weight" in h and "blk.3.ssm_in.weight" not in h
    assert all(f"blk.{i}.ffn_down.weight" in h for i in range(8))


def test_extra_overrides_traits():
    arch = dataclasses.replace(SMOLLM2, extra={"rope_freqs": True, "bias_qkv": True})
    assert traits(arch)["bias_qkv"] is True
    t = dict(predict_tensors(arch))
    assert t["rope_freqs.weight"] == (32,) and t["blk.0.attn_v.bias"] == (192,)


def test_bad_architectures_raise_one_line_errors():
    with pytest.raises(SizeupError):
        predict_tensors(dataclasses.replace(SMOLLM2, n_head=(9,) * 29))  # wrong per-layer length
    with pytest.raises(SizeupError):
        predict_tensors(dataclasses.replace(SMOLLM2, n_embd=-1))
    with pytest.raises(SizeupError):
        predict_tensors(dataclasses.replace(SMOLLM2, n_layer=10**7, n_head=(9,) * 10**7, n_head_kv=(3,) * 10**7,
                                            n_ff=(1,) * 10**7))
    with pytest.raises(SizeupError):  # recurrent layers without SSM facts
        predict_tensors(dataclasses.replace(SMOLLM2, layer_kinds=(LAYER_RECURRENT,) * 30))
    with pytest.raises(SizeupError):  # MoE without an expert width
        predict_tensors(dataclasses.replace(SMOLLM2, n_expert=4, n_expert_used=2, n_ff=(0,) * 30))


# --- every architecture family, against tiny files llama.cpp loads ----------------------------

@pytest.mark.parametrize("family", ["llama", "qwen3", "qwen3moe", "deepseek2", "deepseek32", "kimi-linear", "gemma2", "gemma3", "gpt-oss", "jamba",
                                    "mamba2", "granitehybrid", "rwkv7", "gemma3n"])
def test_layout_equals_synthetic_model(family, tmp_path):
    from sizeup.formats.gguf_model import architecture_from_gguf
    from sizeup.testing.synthetic_gguf import write_synthetic

    g = read_gguf(write_synthetic(tmp_path / f"{family}.gguf", family))
    arch = architecture_from_gguf(g.kv, g.tensors)
    if family == "gpt-oss":
        # Real gpt-oss has q/k/v biases (attention_bias); the tiny file leaves these optional ones out.
        arch = dataclasses.replace(arch, extra={**arch.extra, "bias_qkv": False})
    assert dict(predict_tensors(arch)) == {t.name: tuple(t.shape) for t in g.tensors}


# --- hybrid and MoE families added with the 2025-2026 catalog entries -------------------------
# Configs are the published config.json values (architecture keys only); the totals are the
# publishers' exact parameter counts, so a wrong tensor rule shows up as a count mismatch.

def _from_config(cfg):
    from sizeup.formats.hf_config import architecture_from_hf_config

    return architecture_from_hf_config(cfg)


QWEN3_NEXT = {  # Qwen/Qwen3-Next-80B-A3B (Qwen3-Coder-Next has the same shapes)
    "model_type": "qwen3_next", "hidden_size": 2048, "num_hidden_layers": 48, "num_attention_heads": 16,
    "num_key_value_heads": 2, "head_dim": 256, "intermediate_size": 5120, "moe_intermediate_size": 512,
    "shared_expert_intermediate_size": 512, "num_experts": 512, "num_experts_per_tok": 10, "decoder_sparse_step": 1,
    "mlp_only_layers": [], "full_attention_interval": 4, "linear_conv_kernel_dim": 4, "linear_key_head_dim": 128,
    "linear_num_key_heads": 16, "linear_num_value_heads": 32, "linear_value_head_dim": 128, "partial_rotary_factor": 0.25,
    "vocab_size": 151936, "max_position_embeddings": 262144, "tie_word_embeddings": False,
}


def test_qwen3_next_gated_deltanet_layout():
    arch = _from_config(QWEN3_NEXT)
    t = dict(predict_tensors(arch))
    # Linear-attention layer 0: q, k (16 heads x 128) and v (32 x 128) in one projection, z gate beside it.
    assert t["blk.0.attn_qkv.weight"] == (2048, 2 * 2048 + 4096) and t["blk.0.attn_gate.weight"] == (2048, 4096)
    assert t["blk.0.ssm_conv1d.weight"] == (4, 8192) and t["blk.0.ssm_beta_alpha.weight"] == (2048, 64)
    assert t["blk.0.ssm_out.weight"] == (4096, 2048) and t["blk.0.ssm_norm.weight"] == (128,)
    assert "blk.0.attn_q.weight" not in t
    # Full-attention layer 3: the query projection also carries the output gate.
    assert t["blk.3.attn_q.weight"] == (2048, 2 * 16 * 256) and t["blk.3.attn_output.weight"] == (16 * 256, 2048)
    assert t["blk.3.attn_q_norm.weight"] == (256,) and "blk.3.ssm_in.weight" not in t
    assert t["blk.5.ffn_gate_inp_shexp.weight"] == (2048,) and t["blk.5.ffn_up_exps.weight"] == (2048, 512, 512)
    # Qwen/Qwen3-Coder-Next's safetensors total.
    assert count_params(arch) == 79_674_391_296
    # Per-sequence recurrent state as llama.cpp sizes it: conv rows (d_conv-1) x (value + 2 x key width) and
    # a key_head x value_head matrix per value head.
    from sizeup.estimate.kv_cache import recurrent_rows

    assert recurrent_rows(arch) == (3 * (4096 + 2 * 16 * 128), 128 * 4096)


def test_kimi_linear_kda_and_mla_layout():
    cfg = {  # moonshotai/Kimi-Linear-48B-A3B-Instruct (architecture keys; see the catalog entry's sources)
        "model_type": "kimi_linear", "hidden_size": 2304, "num_hidden_layers": 27, "num_attention_heads": 32,
        "num_key_value_heads": 32, "intermediate_size": 9216, "moe_intermediate_size": 1024, "num_experts": 256,
        "num_experts_per_token": 8, "num_shared_experts": 1, "first_k_dense_replace": 1, "q_lora_rank": None,
        "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "vocab_size": 163840,
        "model_max_length": 1048576, "tie_word_embeddings": False,
        "linear_attn_config": {"full_attn_layers": [4, 8, 12, 16, 20, 24, 27], "head_dim": 128, "num_heads": 32,
                               "short_conv_kernel_size": 4},
    }
    arch = _from_config(cfg)
    t = dict(predict_tensors(arch))
    # KDA layer 0 (src/models/kimi-linear.cpp): 32 heads of 128 for q, k, v; 4-D convolutions as converted.
    assert t["blk.0.ssm_conv1d_q.weight"] == (4, 1, 4096, 1) and t["blk.0.attn_v.weight"] == (2304, 4096)
    assert t["blk.0.ssm_f_a.weight"] == (2304, 128) and t["blk.0.ssm_f_b.weight"] == (128, 4096)
    assert t["blk.0.ssm_beta.weight"] == (2304, 32) and t["blk.0.ssm_a"] == (1, 32, 1, 1)
    assert t["blk.0.ssm_dt.bias"] == (4096,) and t["blk.0.ssm_norm.weight"] == (128,)
    assert t["blk.0.attn_output.weight"] == (4096, 2304) and t["blk.0.ffn_gate.weight"] == (2304, 9216)
    # MLA layer 3 without q LoRA; wkv_a_mqa [2304, 576] as the loader's comment gives it.
    assert t["blk.3.attn_q.weight"] == (2304, 32 * 192) and t["blk.3.attn_kv_a_mqa.weight"] == (2304, 576)
    assert t["blk.3.attn_k_b.weight"] == (128, 512, 32) and t["blk.3.attn_v_b.weight"] == (512, 128, 32)
    assert "blk.3.ssm_conv1d_q.weight" not in t and "blk.0.attn_kv_a_mqa.weight" not in t
    assert t["blk.1.ffn_up_exps.weight"] == (2304, 1024, 256) and t["blk.1.exp_probs_b.bias"] == (256,)
    assert t["blk.1.ffn_down_shexp.weight"] == (1024, 2304)


def test_lfm2_short_convolution_layout():
    cfg = {  # LiquidAI/LFM2-700M
        "model_type": "lfm2", "hidden_size": 1536, "num_hidden_layers": 16, "num_attention_heads": 24,
        "num_key_value_heads": 8, "block_ff_dim": 10240, "block_auto_adjust_ff_dim": True, "block_ffn_dim_multiplier": 1.0,
        "block_multiple_of": 256, "conv_L_cache": 3, "full_attn_idxs": [2, 5, 8, 10, 12, 14], "vocab_size": 65536,
        "max_position_embeddings": 128000,
    }
    arch = _from_config(cfg)
    t = dict(predict_tensors(arch))
    assert t["blk.0.shortconv.in_proj.weight"] == (1536, 3 * 1536) and t["blk.0.shortconv.conv.weight"] == (3, 1536)
    assert t["blk.0.shortconv.out_proj.weight"] == (1536, 1536) and "blk.0.attn_q.weight" not in t
    assert t["blk.2.attn_q_norm.weight"] == (64,) and "blk.2.shortconv.conv.weight" not in t
    assert "output.weight" not in t  # tied
    assert count_params(arch) == 742_489_344  # LFM2-700M model card


def test_nemotron_h_plain_mlp_and_moe_layers():
    cfg = {  # nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16
        "model_type": "nemotron_h", "hidden_size": 2688, "num_hidden_layers": 52, "num_attention_heads": 32,
        "num_key_value_heads": 2, "head_dim": 128, "intermediate_size": 1856, "moe_intermediate_size": 1856,
        "moe_shared_expert_intermediate_size": 3712, "n_routed_experts": 128, "n_shared_experts": 1,
        "num_experts_per_tok": 6, "hybrid_override_pattern": "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME",
        "mamba_num_heads": 64, "mamba_head_dim": 64, "ssm_state_size": 128, "n_groups": 8, "conv_kernel": 4,
        "expand": 2, "vocab_size": 131072, "max_position_embeddings": 262144, "tie_word_embeddings": False,
    }
    arch = _from_config(cfg)
    assert sum(arch.moe_layers) == 23 and arch.n_ff_shexp == 3712 and set(arch.n_ff) == {0}
    t = dict(predict_tensors(arch))
    assert t["blk.1.ffn_up_exps.weight"] == (2688, 1856, 128) and "blk.1.ffn_gate_exps.weight" not in t
    assert t["blk.1.ffn_up_shexp.weight"] == (2688, 3712) and "blk.1.ffn_gate_shexp.weight" not in t
    assert t["blk.1.exp_probs_b.bias"] == (128,) and "blk.1.attn_q.weight" not in t
    assert "blk.0.ssm_in.weight" in t and "blk.5.attn_q.weight" in t
    assert abs(count_params(arch) - 31.6e9) / 31.6e9 < 0.01  # model card: 31.6B total
    dense_h = _from_config({**cfg, "hybrid_override_pattern": "M-*-", "num_hidden_layers": 4,
                            "n_routed_experts": 0})
    d = dict(predict_tensors(dense_h))
    assert "blk.1.ffn_up.weight" in d and "blk.1.ffn_gate.weight" not in d  # ReLU^2 MLP: no gate


def test_minimax_m2_full_width_qk_norm():
    cfg = {  # MiniMaxAI/MiniMax-M2.5
        "model_type": "minimax_m2", "hidden_size": 3072, "num_hidden_layers": 62, "num_attention_heads": 48,
        "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 1536, "num_local_experts": 256,
        "num_experts_per_tok": 8, "rotary_dim": 64, "vocab_size": 200064, "max_position_embeddings": 196608,
        "tie_word_embeddings": False,
    }
    arch = _from_config(cfg)
    t = dict(predict_tensors(arch))
    assert t["blk.0.attn_q_norm.weight"] == (48 * 128,) and t["blk.0.attn_k_norm.weight"] == (8 * 128,)
    assert t["blk.0.exp_probs_b.bias"] == (256,) and t["blk.0.ffn_gate_exps.weight"] == (3072, 1536, 256)
    assert arch.rope_dim == 64
    assert abs(count_params(arch) - 230e9) / 230e9 < 0.01  # MiniMax: 230B total


def test_falcon_h1_layers_hold_attention_and_mamba_side_by_side():
    cfg = {
        "model_type": "falcon_h1", "num_hidden_layers": 2, "hidden_size": 256, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 64, "intermediate_size": 512, "mamba_d_ssm": 384, "mamba_n_heads": 6,
        "mamba_d_head": 64, "mamba_d_state": 16, "mamba_n_groups": 1, "mamba_d_conv": 4, "vocab_size": 1000,
        "max_position_embeddings": 4096,
    }
    t = dict(predict_tensors(_from_config(cfg)))
    for i in range(2):  # src/models/falcon-h1.cpp: every layer has both mixers and a gated FFN
        assert t[f"blk.{i}.ssm_in.weight"] == (256, 384 + (384 + 2 * 16) + 6)
        assert t[f"blk.{i}.attn_q.weight"] == (256, 256) and t[f"blk.{i}.ffn_gate.weight"] == (256, 512)


def test_qwen35_dense_hybrid_gates_the_query():
    cfg = {"model_type": "qwen3_5", "text_config": {  # Qwen/Qwen3.5-27B text_config
        "model_type": "qwen3_5_text", "hidden_size": 5120, "num_hidden_layers": 64, "num_attention_heads": 24,
        "num_key_value_heads": 4, "head_dim": 256, "intermediate_size": 17408, "full_attention_interval": 4,
        "linear_conv_kernel_dim": 4, "linear_key_head_dim": 128, "linear_num_key_heads": 16,
        "linear_num_value_heads": 48, "linear_value_head_dim": 128, "vocab_size": 248320,
        "max_position_embeddings": 262144, "tie_word_embeddings": False}}
    arch = _from_config(cfg)
    assert arch.name == "qwen35" and arch.n_attention_layers == 16 and not arch.is_moe
    t = dict(predict_tensors(arch))
    assert t["blk.3.attn_q.weight"] == (5120, 2 * 24 * 256) and t["blk.0.attn_gate.weight"] == (5120, 48 * 128)
    assert all(f"blk.{i}.ffn_gate.weight" in t for i in (0, 3))


def test_blocks_shared_by_layer_facts_equal_each_block_built_alone():
    """predict_blocks builds one tuple per distinct set of per-layer facts: the facts it keys on
    must be all a block reads, so every layer of every catalog architecture (dense, MoE with dense
    leads, hybrid, MLA, MTP, per-layer heads) equals the block built on its own."""
    from sizeup.layout import _block, predict_blocks, traits
    from sizeup.testing.architectures import catalog_architectures

    archs = catalog_architectures()
    for a in archs:
        head, blocks = predict_blocks(a)
        first_nextn = a.n_layer - int(traits(a)["n_nextn_layers"] or 0)
        assert [i for i, _ in blocks] == list(range(a.n_layer))
        for i, roles in blocks:
            alone = _block(a, traits(a), i, first_nextn)
            assert [(f"blk.{i}.{s}", sh) for s, sh in roles] == alone, (a.name, i)
    assert len(archs) > 100


# --- RWKV-7: a pure recurrent family with its own block layout ----------------------------------

def _rwkv7_config(p):
    """A config.json in the RWKV/ HF repositories' format (fla-hub's key names) with ``p``'s sizes."""
    return {"model_type": "rwkv7", "hidden_size": p["n_embd"], "num_hidden_layers": p["n_layer"],
            "head_dim": p["head_size"], "intermediate_size": p["n_ff"], "decay_low_rank_dim": p["lora_decay"],
            "a_low_rank_dim": p["lora_iclr"], "v_low_rank_dim": p["lora_value_res_mix"],
            "gate_low_rank_dim": p["lora_gate"], "vocab_size": p["n_vocab"], "tie_word_embeddings": False}


def test_rwkv7_config_predicts_the_tensors_llama_cpp_loads(tmp_path):
    """config.json -> Architecture -> tensor inventory equals, name by name and shape by shape, a
    file llama.cpp loads and runs; llama.cpp's own parameter count equals the predicted one."""
    from sizeup.formats.hf_config import architecture_from_hf_config
    from sizeup.llamacpp.child import call_in_child
    from sizeup.testing.synthetic_gguf import synthetic_params, write_synthetic

    p = synthetic_params("rwkv7")
    arch = architecture_from_hf_config(_rwkv7_config(p))
    path = write_synthetic(tmp_path / "rwkv7.gguf", "rwkv7")
    g = read_gguf(path)
    assert dict(predict_tensors(arch)) == {t.name: tuple(t.shape) for t in g.tensors}
    view = call_in_child("sizeup.testing.llama_views:model_view", {"path": str(path)}, timeout=300)
    assert view["recurrent"] and view["n_params"] == count_params(arch)


def test_rwkv7_block_shapes():
    from sizeup.formats.hf_config import architecture_from_hf_config

    cfg = {  # RWKV/RWKV7-Goose-World3-1.5B-HF (the catalog entry's config)
        "model_type": "rwkv7", "hidden_size": 2048, "num_hidden_layers": 24, "head_dim": 64, "intermediate_size": 8192,
        "decay_low_rank_dim": 96, "a_low_rank_dim": 96, "v_low_rank_dim": 64, "gate_low_rank_dim": 256,
        "vocab_size": 65536, "tie_word_embeddings": False,
    }
    arch = _from_config(cfg)
    t = dict(predict_tensors(arch))
    assert t["token_embd_norm.bias"] == (2048,) and t["output_norm.bias"] == (2048,) and t["output.weight"] == (2048, 65536)
    # layer 0's value-mix projections are dummies with the ICLR rank; later layers use their own rank
    assert t["blk.0.time_mix_v1.weight"] == (2048, 96) and t["blk.1.time_mix_v1.weight"] == (2048, 64)
    assert t["blk.1.time_mix_w1.weight"] == (2048, 96) and t["blk.1.time_mix_g2.weight"] == (256, 2048)
    assert t["blk.1.time_mix_lerp_fused.weight"] == (2048, 1, 1, 6)
    assert t["blk.1.channel_mix_key.weight"] == (2048, 8192) and t["blk.1.channel_mix_value.weight"] == (8192, 2048)
    assert not any("attn_q" in n or "ffn_" in n for n in t)
    # 4 E^2 (r, k, v, output) + 2 E n_ff + the low-rank pairs + 19 vectors of E per layer; embeddings and head
    E, L = 2048, 24
    per_layer = 4 * E * E + 2 * E * 8192 + 2 * E * (96 + 96 + 256) + 19 * E
    expected = L * per_layer + 2 * E * 96 + (L - 1) * 2 * E * 64 + 2 * E * 65536 + 4 * E
    assert count_params(arch) == expected
    assert abs(count_params(arch) - 1.5e9) / 1.5e9 < 0.03  # the "1.5B" of its name


# --- Gemma 3n: AltUp, LAuReL and per-layer embeddings beside Gemma 3's block ----------------------

def gemma3n_config(p, intermediate_as_list: bool = True):
    """A config.json in the published Gemma 3n format (wrapper + text_config, intermediate_size
    once per layer) with the sizes of the synthetic-GGUF parameters ``p``."""
    n = p["n_layer"]
    return {"model_type": "gemma3n", "architectures": ["Gemma3nForConditionalGeneration"], "text_config": {
        "model_type": "gemma3n_text", "hidden_size": p["n_embd"], "num_hidden_layers": n,
        "intermediate_size": [p["n_ff"]] * n if intermediate_as_list else p["n_ff"],
        "num_attention_heads": p["n_head"], "num_key_value_heads": p["n_head_kv"], "head_dim": p["head_dim"],
        "vocab_size": p["n_vocab"], "vocab_size_per_layer_input": p["n_vocab"], "hidden_size_per_layer_input": 256,
        "num_kv_shared_layers": n - 20, "laurel_rank": 64, "altup_num_inputs": 4, "sliding_window": p["sliding_window"],
        "layer_types": ["full_attention" if (i + 1) % 5 == 0 else "sliding_attention" for i in range(n)],
        "max_position_embeddings": p["n_ctx"], "tie_word_embeddings": True}}


def test_gemma3n_config_predicts_the_tensors_llama_cpp_loads(tmp_path):
    """config.json -> Architecture -> tensor inventory equals, name by name and shape by shape, a
    file llama.cpp loads and runs; llama.cpp's own parameter count equals the predicted one."""
    from sizeup.llamacpp.child import call_in_child
    from sizeup.testing.synthetic_gguf import synthetic_params, write_synthetic

    p = synthetic_params("gemma3n")
    arch = _from_config(gemma3n_config(p))
    path = write_synthetic(tmp_path / "gemma3n.gguf", "gemma3n")
    assert dict(predict_tensors(arch)) == {t.name: tuple(t.shape) for t in read_gguf(path).tensors}
    view = call_in_child("sizeup.testing.llama_views:model_view", {"path": str(path)}, timeout=300)
    assert view["n_params"] == count_params(arch) and view["n_swa"] == p["sliding_window"]
    assert _from_config(gemma3n_config(p, intermediate_as_list=False)) == arch  # one width or one per layer


def test_gemma3n_released_shapes():
    """google/gemma-3n-E2B-it's text model (the catalog entry's config): every tensor family
    src/models/gemma3n.cpp creates, with llama.cpp's fixed AltUp 4 / LAuReL 64 / 256 per-layer sizes."""
    cfg = {"model_type": "gemma3n", "text_config": {
        "model_type": "gemma3n_text", "hidden_size": 2048, "num_hidden_layers": 30, "intermediate_size": [8192] * 30,
        "num_kv_shared_layers": 10, "vocab_size": 262400}}
    arch = _from_config(cfg)
    t = dict(predict_tensors(arch))
    E, V, L = 2048, 262400, 30
    assert t["per_layer_token_embd.weight"] == (256 * L, V) and t["per_layer_model_proj.weight"] == (E, 256 * L)
    assert t["altup_proj.weight"] == t["altup_unembd_proj.weight"] == (E, E, 3)
    assert t["blk.29.altup_predict_coef.weight"] == (4, 16) and t["blk.29.laurel_l.weight"] == (E, 64)
    assert t["blk.25.attn_k.weight"] == (E, 512)  # KV-shared layers keep their (unused) K/V projections
    assert "output.weight" not in t
    per_layer = (2 * E * 2048 + 2 * E * 512 + 3 * E * 8192  # attention, FFN
                 + 2 * E * 256 + 2 * E * 64 + E * 4 + 16 + 64  # per-layer input gate/proj, LAuReL, AltUp router/coefs
                 + 8 * E + 2 * 256)  # eight norms / scales of E (incl. AltUp's), the q/k norms
    assert count_params(arch) == L * per_layer + E * V + 256 * L * V + E * 256 * L + 2 * 3 * E * E + 256 + E
