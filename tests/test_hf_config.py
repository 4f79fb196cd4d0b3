"""architecture_from_hf_config on the relevant fields of real published config.json files.

Each dict below copies the architecture fields of the named model's config.json on the Hugging
Face hub (values checked against the published files); expected values are what llama.cpp's
converter/loader derives for the same model.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizeup.errors import SizeupError
from sizeup.formats.hf_config import FAMILIES, architecture_from_hf_config, family_table
from sizeup.model import LAYER_ATTENTION, LAYER_RECURRENT

LLAMA_31_8B = {  # meta-llama/Llama-3.1-8B-Instruct
    "model_type": "llama", "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32,
    "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
    "max_position_embeddings": 131072, "tie_word_embeddings": False,
    "rope_scaling": {"factor": 8.0, "rope_type": "llama3"},
}
MISTRAL_7B_V01 = {  # mistralai/Mistral-7B-v0.1
    "model_type": "mistral", "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32,
    "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000,
    "max_position_embeddings": 32768, "sliding_window": 4096, "tie_word_embeddings": False,
}
MIXTRAL_8X7B = {  # mistralai/Mixtral-8x7B-Instruct-v0.1
    "model_type": "mixtral", "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32,
    "num_key_value_heads": 8, "intermediate_size": 14336, "num_local_experts": 8, "num_experts_per_tok": 2,
    "vocab_size": 32000, "max_position_embeddings": 32768, "sliding_window": None, "tie_word_embeddings": False,
}
QWEN25_7B = {  # Qwen/Qwen2.5-7B-Instruct
    "model_type": "qwen2", "num_hidden_layers": 28, "hidden_size": 3584, "num_attention_heads": 28,
    "num_key_value_heads": 4, "intermediate_size": 18944, "vocab_size": 152064, "max_position_embeddings": 32768,
    "sliding_window": 131072, "use_sliding_window": False, "max_window_layers": 28, "tie_word_embeddings": False,
}
QWEN3_30B_A3B = {  # Qwen/Qwen3-30B-A3B
    "model_type": "qwen3_moe", "num_hidden_layers": 48, "hidden_size": 2048, "num_attention_heads": 32,
    "num_key_value_heads": 4, "head_dim": 128, "intermediate_size": 6144, "moe_intermediate_size": 768,
    "num_experts": 128, "num_experts_per_tok": 8, "decoder_sparse_step": 1, "mlp_only_layers": [],
    "vocab_size": 151936, "max_position_embeddings": 40960, "tie_word_embeddings": False,
    "sliding_window": None, "use_sliding_window": False,
}
DEEPSEEK_V3 = {  # deepseek-ai/DeepSeek-V3
    "model_type": "deepseek_v3", "num_hidden_layers": 61, "hidden_size": 7168, "num_attention_heads": 128,
    "num_key_value_heads": 128, "intermediate_size": 18432, "moe_intermediate_size": 2048,
    "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3,
    "moe_layer_freq": 1, "kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64,
    "qk_nope_head_dim": 128, "v_head_dim": 128, "vocab_size": 129280, "max_position_embeddings": 163840,
    "tie_word_embeddings": False,
}
GEMMA3_27B = {  # google/gemma-3-27b-it (multimodal wrapper; text model under text_config)
    "model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"],
    "text_config": {
        "model_type": "gemma3_text", "hidden_size": 5376, "intermediate_size": 21504, "num_hidden_layers": 62,
        "num_attention_heads": 32, "num_key_value_heads": 16, "head_dim": 128, "sliding_window": 1024,
        "sliding_window_pattern": 6, "max_position_embeddings": 131072, "vocab_size": 262208,
        "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
    },
    "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 1152, "num_hidden_layers": 27},
}
GEMMA3_4B = {  # google/gemma-3-4b-it: text_config leaves heads, head_dim and vocab to class defaults
    "model_type": "gemma3",
    "text_config": {"model_type": "gemma3_text", "hidden_size": 2560, "intermediate_size": 10240,
                    "num_hidden_layers": 34, "sliding_window": 1024, "rope_scaling": {"factor": 8.0, "rope_type": "linear"}},
}
GEMMA2_9B = {  # google/gemma-2-9b-it
    "model_type": "gemma2", "num_hidden_layers": 42, "hidden_size": 3584, "num_attention_heads": 16,
    "num_key_value_heads": 8, "head_dim": 256, "intermediate_size": 14336, "vocab_size": 256000,
    "max_position_embeddings": 8192, "sliding_window": 4096,
}
GPT_OSS_20B = {  # openai/gpt-oss-20b
    "model_type": "gpt_oss", "num_hidden_layers": 24, "hidden_size": 2880, "num_attention_heads": 64,
    "num_key_value_heads": 8, "head_dim": 64, "intermediate_size": 2880, "num_local_experts": 32,
    "num_experts_per_tok": 4, "experts_per_token": 4, "vocab_size": 201088, "max_position_embeddings": 131072,
    "sliding_window": 128, "layer_types": ["sliding_attention", "full_attention"] * 12, "tie_word_embeddings": False,
}
PHI3_MINI = {  # microsoft/Phi-3-mini-4k-instruct
    "model_type": "phi3", "num_hidden_layers": 32, "hidden_size": 3072, "num_attention_heads": 32,
    "num_key_value_heads": 32, "intermediate_size": 8192, "vocab_size": 32064, "max_position_embeddings": 4096,
    "sliding_window": 2047, "tie_word_embeddings": False,
}
LLAMA4_SCOUT = {  # meta-llama/Llama-4-Scout-17B-16E-Instruct
    "model_type": "llama4",
    "text_config": {
        "model_type": "llama4_text", "num_hidden_layers": 48, "hidden_size": 5120, "num_attention_heads": 40,
        "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 8192, "intermediate_size_mlp": 16384,
        "num_local_experts": 16, "num_experts_per_tok": 1, "interleave_moe_layer_step": 1,
        "attention_chunk_size": 8192, "vocab_size": 202048, "max_position_embeddings": 10485760,
    },
}
JAMBA_V01 = {  # ai21labs/Jamba-v0.1
    "model_type": "jamba", "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32,
    "num_key_value_heads": 8, "intermediate_size": 14336, "num_experts": 16, "num_experts_per_tok": 2,
    "attn_layer_period": 8, "attn_layer_offset": 4, "expert_layer_period": 2, "expert_layer_offset": 1,
    "mamba_d_state": 16, "mamba_d_conv": 4, "mamba_expand": 2, "mamba_dt_rank": 256, "vocab_size": 65536,
    "max_position_embeddings": 262144, "tie_word_embeddings": False,
}
MAMBA_28B = {  # state-spaces/mamba-2.8b-hf
    "model_type": "mamba", "num_hidden_layers": 64, "hidden_size": 2560, "intermediate_size": 5120,
    "state_size": 16, "conv_kernel": 4, "expand": 2, "time_step_rank": 160, "vocab_size": 50280,
}
GRANITE4_H_SMALL = {  # ibm-granite/granite-4.0-h-small (4 attention layers of 40; MoE in every layer)
    "model_type": "granitemoehybrid", "num_hidden_layers": 40, "hidden_size": 4096, "num_attention_heads": 32,
    "num_key_value_heads": 8, "num_local_experts": 72, "num_experts_per_tok": 10, "intermediate_size": 768,
    "shared_intermediate_size": 1536, "mamba_d_state": 128, "mamba_d_conv": 4, "mamba_expand": 2,
    "mamba_n_heads": 128, "mamba_d_head": 64, "mamba_n_groups": 1, "vocab_size": 100352,
    "max_position_embeddings": 131072, "tie_word_embeddings": True,
    "layer_types": ["mamba"] * 5 + ["attention"] + ["mamba"] * 9 + ["attention"] + ["mamba"] * 9 + ["attention"]
    + ["mamba"] * 9 + ["attention"] + ["mamba"] * 4,
}
COHERE2_R7B = {  # CohereForAI/c4ai-command-r7b-12-2024
    "model_type": "cohere2", "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32,
    "num_key_value_heads": 8, "intermediate_size": 14336, "sliding_window": 4096, "sliding_window_pattern": 4,
    "vocab_size": 256000, "max_position_embeddings": 8192,
}
QWEN2_MOE = {  # Qwen/Qwen1.5-MoE-A2.7B
    "model_type": "qwen2_moe", "num_hidden_layers": 24, "hidden_size": 2048, "num_attention_heads": 16,
    "num_key_value_heads": 16, "intermediate_size": 5632, "moe_intermediate_size": 1408,
    "shared_expert_intermediate_size": 5632, "num_experts": 60, "num_experts_per_tok": 4,
    "decoder_sparse_step": 1, "vocab_size": 151936, "max_position_embeddings": 8192, "tie_word_embeddings": False,
}


def test_llama31():
    a = architecture_from_hf_config(LLAMA_31_8B)
    assert (a.name, a.n_layer, a.n_embd, a.n_head_max, a.n_head_kv_max) == ("llama", 32, 4096, 32, 8)
    assert (a.head_dim_k, a.head_dim_v, a.n_ff[0], a.n_vocab, a.n_ctx_train) == (128, 128, 14336, 128256, 131072)
    assert not a.is_moe and not a.swa_layers and not a.tie_embeddings


def test_mistral_window_ignored_like_llama_cpp():
    a = architecture_from_hf_config(MISTRAL_7B_V01)
    assert a.name == "llama" and a.swa_window == 0 and a.swa_layers == ()
    assert a.extra["hf_sliding_window"] == 4096


def test_mixtral_experts_use_intermediate_size():
    a = architecture_from_hf_config(MIXTRAL_8X7B)
    assert a.name == "llama" and (a.n_expert, a.n_expert_used, a.n_ff_exp) == (8, 2, 14336)
    assert all(a.moe_layers) and a.n_ff == (0,) * 32


def test_qwen25_unused_window():
    a = architecture_from_hf_config(QWEN25_7B)
    assert (a.name, a.n_head_kv_max, a.n_ff[0], a.n_vocab) == ("qwen2", 4, 18944, 152064)
    assert a.swa_window == 0 and "hf_sliding_window" not in a.extra


def test_qwen3_30b_a3b():
    a = architecture_from_hf_config(QWEN3_30B_A3B)
    assert (a.name, a.n_layer, a.n_expert, a.n_expert_used, a.n_ff_exp) == ("qwen3moe", 48, 128, 8, 768)
    assert a.head_dim_k == 128 and all(a.moe_layers) and a.n_expert_shared == 0


def test_qwen3_sparse_step_and_mlp_only_layers():
    cfg = dict(QWEN3_30B_A3B, decoder_sparse_step=2, mlp_only_layers=[1])
    a = architecture_from_hf_config(cfg)
    assert a.moe_layers[:4] == (False, False, False, True)
    assert a.n_ff[0] == 6144 and a.n_ff[3] == 0


def test_deepseek_v3_mla_and_dense_first_layers():
    a = architecture_from_hf_config(DEEPSEEK_V3)
    assert a.name == "deepseek2" and a.is_mla
    assert (a.kv_lora_rank, a.q_lora_rank, a.rope_dim, a.head_dim_k, a.head_dim_v) == (512, 1536, 64, 192, 128)
    assert a.moe_layers[:4] == (False, False, False, True) and sum(a.moe_layers) == 58
    assert a.n_ff[:4] == (18432, 18432, 18432, 0)
    assert (a.n_expert, a.n_expert_used, a.n_expert_shared, a.n_ff_exp, a.n_ff_shexp) == (256, 8, 1, 2048, 2048)


def test_gemma3_27b_wrapper():
    a = architecture_from_hf_config(GEMMA3_27B)
    assert (a.name, a.n_layer, a.n_embd, a.head_dim_k, a.n_head_max, a.n_head_kv_max) == ("gemma3", 62, 5376, 128, 32, 16)
    assert a.swa_window == 1024 and a.swa_layers[:6] == (True,) * 5 + (False,)
    assert sum(a.swa_layers) == 52 and a.swa_pattern == "5 sliding : 1 global (period 6)"
    assert a.tie_embeddings and a.n_vocab == 262208


def test_gemma3_4b_class_defaults():
    a = architecture_from_hf_config(GEMMA3_4B)
    assert (a.n_layer, a.n_embd, a.n_head_max, a.n_head_kv_max, a.head_dim_k, a.n_vocab) == (34, 2560, 8, 4, 256, 262208)
    assert a.swa_window == 1024 and a.swa_layers[5] is False and a.swa_layers[4] is True


def test_gemma2_alternates():
    a = architecture_from_hf_config(GEMMA2_9B)
    assert a.name == "gemma2" and a.swa_window == 4096
    assert a.swa_layers[:4] == (True, False, True, False) and sum(a.swa_layers) == 21


def test_gpt_oss_20b():
    a = architecture_from_hf_config(GPT_OSS_20B)
    assert (a.name, a.n_layer, a.head_dim_k, a.n_expert, a.n_expert_used, a.n_ff_exp) == ("gpt-oss", 24, 64, 32, 4, 2880)
    assert a.swa_window == 128 and a.swa_layers == (True, False) * 12


def test_phi3_window_disabled_in_llama_cpp():
    a = architecture_from_hf_config(PHI3_MINI)
    assert (a.name, a.n_head_kv_max, a.n_ff[0], a.n_vocab, a.n_ctx_train) == ("phi3", 32, 8192, 32064, 4096)
    assert a.swa_window == 0 and a.extra["hf_sliding_window"] == 2047


def test_llama4_scout_chunked_and_shared_expert():
    a = architecture_from_hf_config(LLAMA4_SCOUT)
    assert (a.name, a.n_layer, a.n_expert, a.n_expert_used, a.n_ff_exp) == ("llama4", 48, 16, 1, 8192)
    assert (a.n_expert_shared, a.n_ff_shexp) == (1, 8192) and all(a.moe_layers)
    assert a.swa_window == 8192 and a.swa_layers[:4] == (True, True, True, False) and a.extra["swa_type"] == "chunked"


def test_llama4_interleave_step_2():
    cfg = {"model_type": "llama4", "text_config": dict(LLAMA4_SCOUT["text_config"], interleave_moe_layer_step=2, num_local_experts=128)}
    a = architecture_from_hf_config(cfg)
    assert a.moe_layers[:4] == (False, True, False, True)
    assert a.n_ff[0] == 16384 and a.n_ff[1] == 0


def test_jamba_layout():
    a = architecture_from_hf_config(JAMBA_V01)
    assert a.name == "jamba" and a.n_attention_layers == 4
    assert [i for i, k in enumerate(a.layer_kinds) if k == LAYER_ATTENTION] == [4, 12, 20, 28]
    assert a.n_head[0] == 0 and a.n_head_kv[4] == 8
    assert a.moe_layers[:2] == (False, True) and a.n_ff[0] == 14336 and a.n_ff[1] == 0 and a.n_ff_exp == 14336
    assert a.ssm.kind == "mamba" and (a.ssm.d_state, a.ssm.d_conv, a.ssm.d_inner, a.ssm.dt_rank) == (16, 4, 8192, 256)


def test_mamba_all_recurrent():
    a = architecture_from_hf_config(MAMBA_28B)
    assert a.name == "mamba" and a.n_recurrent_layers == 64 and a.n_head_max == 0
    assert (a.ssm.d_inner, a.ssm.d_state, a.ssm.d_conv, a.ssm.dt_rank) == (5120, 16, 4, 160)
    assert a.n_ff == (0,) * 64 and a.n_ctx_train == 1 << 20


def test_granite4_hybrid():
    a = architecture_from_hf_config(GRANITE4_H_SMALL)
    assert a.name == "granitehybrid" and a.n_attention_layers == 4 and a.n_recurrent_layers == 36
    assert (a.n_expert, a.n_expert_used, a.n_ff_exp, a.n_ff_shexp) == (72, 10, 768, 1536)
    assert a.ssm.kind == "mamba2" and (a.ssm.d_inner, a.ssm.n_head, a.ssm.d_state) == (8192, 128, 128)
    assert a.tie_embeddings


def test_cohere2_period_4():
    a = architecture_from_hf_config(COHERE2_R7B)
    assert a.name == "cohere2" and a.swa_layers[:4] == (True, True, True, False) and a.swa_window == 4096


def test_qwen2_moe_shared_expert():
    a = architecture_from_hf_config(QWEN2_MOE)
    assert (a.name, a.n_expert, a.n_expert_used, a.n_ff_exp, a.n_expert_shared, a.n_ff_shexp) == ("qwen2moe", 60, 4, 1408, 1, 5632)


def test_falcon_h1_parallel_hybrid():
    cfg = {  # tiiuae/Falcon-H1-1.5B-Instruct
        "model_type": "falcon_h1", "num_hidden_layers": 24, "hidden_size": 2048, "num_attention_heads": 8,
        "num_key_value_heads": 2, "head_dim": 128, "intermediate_size": 8192, "mamba_d_ssm": 3072,
        "mamba_n_heads": 48, "mamba_d_head": 64, "mamba_d_state": 256, "mamba_n_groups": 1, "mamba_d_conv": 4,
        "vocab_size": 65537, "max_position_embeddings": 131072,
    }
    a = architecture_from_hf_config(cfg)
    assert a.name == "falcon-h1" and a.n_attention_layers == 24 and a.extra["parallel_ssm"]
    assert a.ssm.d_inner == 3072 and a.ssm.n_head == 48


def test_lfm2_conv_layers_and_adjusted_ff():
    cfg = {  # LiquidAI/LFM2-1.2B
        "model_type": "lfm2", "num_hidden_layers": 16, "hidden_size": 2048, "num_attention_heads": 32,
        "num_key_value_heads": 8, "block_ff_dim": 12288, "block_auto_adjust_ff_dim": True,
        "block_ffn_dim_multiplier": 1.0, "block_multiple_of": 256, "conv_L_cache": 3, "vocab_size": 65536,
        "max_position_embeddings": 128000,
        "layer_types": ["conv", "conv", "full_attention", "conv", "conv", "full_attention", "conv", "conv",
                        "full_attention", "conv", "full_attention", "conv", "full_attention", "conv", "full_attention", "conv"],
    }
    a = architecture_from_hf_config(cfg)
    assert a.name == "lfm2" and a.n_attention_layers == 6 and a.n_recurrent_layers == 10
    assert a.n_ff[0] == 8192 and a.ssm.kind == "lfm2_conv" and a.ssm.d_conv == 3
    assert a.n_head[0] == 0 and a.n_head_kv[2] == 8


def test_ernie_moe_start_index():
    cfg = {  # baidu/ERNIE-4.5-21B-A3B-PT
        "model_type": "ernie4_5_moe", "num_hidden_layers": 28, "hidden_size": 2560, "num_attention_heads": 20,
        "num_key_value_heads": 4, "intermediate_size": 12288, "moe_intermediate_size": 1536, "moe_num_experts": 64,
        "moe_k": 6, "moe_num_shared_experts": 2, "moe_layer_start_index": 1, "moe_layer_interval": 1,
        "vocab_size": 103424, "max_position_embeddings": 131072, "tie_word_embeddings": True,
    }
    a = architecture_from_hf_config(cfg)
    assert a.name == "ernie4_5-moe" and a.moe_layers[:2] == (False, True) and sum(a.moe_layers) == 27
    assert (a.n_expert, a.n_expert_used, a.n_expert_shared, a.n_ff_shexp) == (64, 6, 2, 3072)


@pytest.mark.parametrize(
    "cfg, word",
    [
        ([], "JSON object"),
        ({"model_type": "llama"}, "num_hidden_layers"),
        (dict(LLAMA_31_8B, num_hidden_layers="32"), "integer"),
        (dict(LLAMA_31_8B, num_hidden_layers=10**9), "outside"),
        (dict(LLAMA_31_8B, num_key_value_heads=7), "does not divide"),
        (dict(LLAMA_31_8B, hidden_size=float("nan")), "integer"),
        (dict(LLAMA_31_8B, tie_word_embeddings="yes"), "true or false"),
        (dict(QWEN3_30B_A3B, num_experts_per_tok=129), "exceeds"),
        (dict(QWEN3_30B_A3B, mlp_only_layers=[99]), "layer indices"),
        (dict(GPT_OSS_20B, layer_types="sliding"), "list"),
        (dict(JAMBA_V01, layers_block_type=["mamba"] * 3), "entries"),
    ],
)
def test_bad_configs_raise_one_line(cfg, word):
    with pytest.raises(SizeupError) as e:
        architecture_from_hf_config(cfg)
    assert word in str(e.value) and "\n" not in str(e.value)


def test_unknown_family_falls_back_and_flags():
    cfg = dict(LLAMA_31_8B, model_type="brand_new_thing")
    a = architecture_from_hf_config(cfg)
    assert a.extra["unknown_model_type"] and a.n_layer == 32 and a.n_head_kv_max == 8


def test_family_table_is_complete():
    rows = family_table()
    assert len(rows) == len(FAMILIES) >= 40
    assert all(r[1] and r[3] for r in rows)
    mapping = {r[0]: r[1] for r in rows}
    assert mapping["mistral"] == "llama" and mapping["deepseek_v3"] == "deepseek2" and mapping["gpt_oss"] == "gpt-oss"
    assert mapping["granitemoehybrid"] == "granitehybrid" and mapping["qwen3_moe"] == "qwen3moe"


def test_recurrent_kinds_constant():
    a = architecture_from_hf_config(JAMBA_V01)
    assert set(a.layer_kinds) == {LAYER_ATTENTION, LAYER_RECURRENT}


_KEYS = sorted({k for cfg in (LLAMA_31_8B, DEEPSEEK_V3, JAMBA_V01, GRANITE4_H_SMALL, GPT_OSS_20B, QWEN3_30B_A3B, MAMBA_28B) for k in cfg}
               | {"sliding_window_pattern", "layers_block_type", "hybrid_override_pattern", "moe_layers", "text_config"})
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 70), st.integers(0, 2**45), st.floats(allow_nan=True),
                    st.text(max_size=5), st.lists(st.one_of(st.integers(-1, 70), st.text(max_size=12)), max_size=70),
                    st.sampled_from(sorted(FAMILIES)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([LLAMA_31_8B, DEEPSEEK_V3, JAMBA_V01, GRANITE4_H_SMALL, GPT_OSS_20B, QWEN3_30B_A3B, MAMBA_28B, GEMMA3_27B]),
       st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=4))
def test_mutated_configs_are_total(base, changes):
    """Any mutation of a real config yields a valid Architecture or one SizeupError line."""
    a = _valid_or_one_line(dict(base, **changes))
    if a is not None:
        assert a.n_layer >= 1 and len(a.n_head) == a.n_layer


def _valid_or_one_line(cfg: dict):
    """The validated Architecture of ``cfg``, or None after checking its refusal is one line."""
    try:
        a = architecture_from_hf_config(cfg)
    except SizeupError as e:
        assert "\n" not in str(e)
        return None
    a.validate()
    return a


# --- cross-check against llama.cpp's own conversion of the same models (the real test GGUFs) ---
SMOLLM2_135M = {  # HuggingFaceTB/SmolLM2-135M-Instruct
    "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 576, "intermediate_size": 1536,
    "max_position_embeddings": 8192, "num_attention_heads": 9, "num_hidden_layers": 30, "num_key_value_heads": 3,
    "tie_word_embeddings": True, "vocab_size": 49152, "rope_theta": 100000,
}
GEMMA3_270M = {  # google/gemma-3-270m
    "model_type": "gemma3_text", "hidden_size": 640, "vocab_size": 262144, "num_hidden_layers": 18,
    "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256, "intermediate_size": 2048,
    "_sliding_window_pattern": 6, "sliding_window": 512, "max_position_embeddings": 32768,
    "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 3,
}


def _comparable(arch):
    from dataclasses import asdict

    d = asdict(arch)
    d.pop("extra")
    d["rope_dim"] = d["rope_dim"] or arch.head_dim_k  # 0 means "all dims" in sizeup's convention
    return d


@pytest.mark.parametrize("cfg, fixture", [(SMOLLM2_135M, "smollm2_path"), (GEMMA3_270M, "gemma3_path")])
def test_matches_llama_cpp_conversion(cfg, fixture, request):
    """The Architecture from config.json equals the one read from llama.cpp's GGUF of the same model."""
    from sizeup.formats.gguf_model import describe_gguf

    from_gguf = describe_gguf(request.getfixturevalue(fixture)).arch
    assert _comparable(architecture_from_hf_config(cfg)) == _comparable(from_gguf)


# --- RWKV-7 (pure recurrent; conversion/rwkv.py Rwkv7Model is the reference) ----------------------
RWKV7_WORLD3_15B = {  # RWKV/RWKV7-Goose-World3-1.5B-HF as a public test fixture quotes it (see the catalog entry)
    "model_type": "rwkv7", "hidden_size": 2048, "num_hidden_layers": 24, "head_dim": 64, "vocab_size": 65536,
    "norm_eps": 1e-5, "intermediate_size": 8192, "hidden_ratio": 4.0, "decay_low_rank_dim": 96,
    "a_low_rank_dim": 96, "v_low_rank_dim": 64, "gate_low_rank_dim": 256, "tie_word_embeddings": False,
}
_RWKV7_RANKS = ("rwkv_lora_decay", "rwkv_lora_iclr", "rwkv_lora_value_res_mix", "rwkv_lora_gate")


def test_rwkv7_all_recurrent_with_a_channel_mix():
    from sizeup.estimate.kv_cache import recurrent_rows

    a = architecture_from_hf_config(RWKV7_WORLD3_15B)
    assert a.name == "rwkv7" and a.n_recurrent_layers == 24 and a.n_head_max == 0 and a.n_head_kv_max == 0
    assert a.n_ff == (8192,) * 24 and not a.tie_embeddings and a.head_dim_k == 0
    assert a.ssm.kind == "rwkv7" and (a.ssm.head_size, a.ssm.n_head, a.ssm.token_shift_count) == (64, 32, 2)
    assert [a.extra[k] for k in _RWKV7_RANKS] == [96, 96, 64, 256]
    assert a.n_ctx_train == 1 << 20  # the converter writes 1048576 whatever the config says
    # llama_hparams::n_embd_r (token shift: 2 x n_embd) and n_embd_s (WKV: n_embd x head_size)
    assert recurrent_rows(a) == (2 * 2048, 2048 * 64)


@pytest.mark.parametrize("hidden,ranks", [
    (768, [64, 64, 32, 128]),  # conversion/rwkv.py calc_lora_rank(h, 0.5, 1.8), (0.5, 1.8), (0.5, 1.3), (0.8, 0.6)
    (2048, [96, 96, 64, 256]),
    (4096, [128, 128, 96, 480]),
])
def test_rwkv7_null_low_rank_sizes_follow_the_converter(hidden, ranks):
    cfg = dict(RWKV7_WORLD3_15B, hidden_size=hidden, intermediate_size=None, max_position_embeddings=4096,
               decay_low_rank_dim=None, a_low_rank_dim=None, v_low_rank_dim=None, gate_low_rank_dim=None)
    a = architecture_from_hf_config(cfg)
    assert [a.extra[k] for k in _RWKV7_RANKS] == ranks
    assert a.n_ff[0] == 4 * hidden  # the converter's default channel-mix width
    assert a.n_ctx_train == 1 << 20 and a.extra["hf_max_position_embeddings"] == 4096


def test_rwkv7_fla_hub_key_names_and_bad_values():
    fla = {k: v for k, v in RWKV7_WORLD3_15B.items() if not k.endswith("low_rank_dim")}
    fla.update(lora_rank_decay=32, lora_rank_iclr=64, lora_rank_value_residual_mix=None, lora_rank_gate=160)
    a = architecture_from_hf_config(fla)
    assert [a.extra[k] for k in _RWKV7_RANKS] == [32, 64, 64, 160]  # a null one: the formula
    for bad, word in ((dict(RWKV7_WORLD3_15B, head_dim=48), "does not divide"),
                      (dict(RWKV7_WORLD3_15B, a_low_rank_dim=0), "outside"),
                      (dict(RWKV7_WORLD3_15B, gate_low_rank_dim="big"), "integer")):
        with pytest.raises(SizeupError) as e:
            architecture_from_hf_config(bad)
        assert word in str(e.value) and "\n" not in str(e.value)


# --- Gemma 3n (conversion/gemma.py Gemma3NModel and src/models/gemma3n.cpp are the reference) ------
GEMMA3N_E2B = {  # google/gemma-3n-E2B-it's text_config as transformers' convert_gemma3n_weights.py builds it
    "model_type": "gemma3n", "architectures": ["Gemma3nForConditionalGeneration"], "text_config": {
        "model_type": "gemma3n_text", "hidden_size": 2048, "num_hidden_layers": 30, "intermediate_size": [8192] * 30,
        "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 256, "vocab_size": 262400,
        "vocab_size_per_layer_input": 262144, "hidden_size_per_layer_input": 256, "num_kv_shared_layers": 10,
        "laurel_rank": 64, "altup_num_inputs": 4, "sliding_window": 512, "max_position_embeddings": 32768,
        "layer_types": ["full_attention" if (i + 1) % 5 == 0 else "sliding_attention" for i in range(30)]}}


def test_gemma3n_matches_llama_cpp_conversion(tmp_path):
    """A Gemma 3n config.json and the GGUF llama.cpp loads for the same sizes give one Architecture."""
    from sizeup.formats.gguf_model import describe_gguf
    from sizeup.testing.synthetic_gguf import synthetic_params, write_synthetic

    p = synthetic_params("gemma3n")
    n = p["n_layer"]
    text = dict(GEMMA3N_E2B["text_config"], hidden_size=p["n_embd"], num_hidden_layers=n, intermediate_size=[p["n_ff"]] * n,
                num_attention_heads=p["n_head"], num_key_value_heads=p["n_head_kv"], head_dim=p["head_dim"],
                vocab_size=p["n_vocab"], num_kv_shared_layers=n - 20, sliding_window=p["sliding_window"],
                max_position_embeddings=p["n_ctx"], layer_types=GEMMA3N_E2B["text_config"]["layer_types"][:n])
    from_gguf = describe_gguf(write_synthetic(tmp_path / "g.gguf", "gemma3n")).arch
    assert _comparable(architecture_from_hf_config(dict(GEMMA3N_E2B, text_config=text))) == _comparable(from_gguf)


def test_gemma3n_kv_sharing_and_sliding_layers():
    from sizeup.estimate.kv_cache import has_kv, kv_cache_bytes

    for n_layer, shared, ff in ((30, 10, 8192), (35, 15, 16384)):  # E2B, E4B
        text = dict(GEMMA3N_E2B["text_config"], num_hidden_layers=n_layer, num_kv_shared_layers=shared,
                    intermediate_size=[ff] * n_layer, layer_types=None)  # null: transformers' default pattern
        a = architecture_from_hf_config(dict(GEMMA3N_E2B, text_config=text))
        assert a.name == "gemma3n" and a.n_ff == (ff,) * n_layer and a.tie_embeddings and a.n_vocab == 262400
        assert a.swa_window == 512 and a.swa_pattern == "4 sliding : 1 global (period 5)"
        # llama.cpp: the first 20 layers own a cache (4 global, 16 sliding); the rest reuse layers 18/19
        assert [il for il in range(n_layer) if has_kv(a, il)] == list(range(20)) and "kv_share_note" not in a.extra
        # 8192 tokens, F16: 4 x 8192 cells + 16 x 1024 cells (512 window + 512 batch), K and V of 2 x 256 each
        assert kv_cache_bytes(a, 8192) == (4 * 8192 + 16 * 1024) * 2 * 512 * 2


def test_gemma3n_values_llama_cpp_cannot_load_are_refused():
    for key, value, word in (("altup_num_inputs", 2, "fixes it at 4"), ("laurel_rank", 32, "fixes it at 64"),
                             ("hidden_size_per_layer_input", 128, "fixes it at 256"),
                             ("intermediate_size", [8192] * 29, "30 layers"), ("intermediate_size", [8192] * 29 + [0], "positive")):
        with pytest.raises(SizeupError) as e:
            architecture_from_hf_config(dict(GEMMA3N_E2B, text_config=dict(GEMMA3N_E2B["text_config"], **{key: value})))
        assert word in str(e.value) and "\n" not in str(e.value)
    # a sharing count other than llama.cpp's fixed first shared layer (20) is noted, and llama.cpp's rule kept
    a = architecture_from_hf_config(dict(GEMMA3N_E2B, text_config=dict(GEMMA3N_E2B["text_config"], num_kv_shared_layers=5)))
    assert "layer 25" in a.extra["kv_share_note"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(GEMMA3N_E2B["text_config"]) + ["sliding_window_pattern"]), _VALUES, max_size=4))
def test_mutated_gemma3n_configs_are_total(changes):
    """Any mutation of the Gemma 3n text_config yields a valid Architecture or one SizeupError line."""
    a = _valid_or_one_line(dict(GEMMA3N_E2B, text_config=dict(GEMMA3N_E2B["text_config"], **changes)))
    if a is not None:
        from sizeup.layout import count_params

        assert count_params(a) > 0


# --- Kimi-Linear (conversion/kimi_linear.py and src/models/kimi-linear.cpp are the reference) ------
KIMI_LINEAR_48B = {  # moonshotai/Kimi-Linear-48B-A3B-Instruct (architecture keys; see the catalog entry's sources)
    "model_type": "kimi_linear", "architectures": ["KimiLinearForCausalLM"], "hidden_size": 2304, "num_hidden_layers": 27,
    "num_attention_heads": 32, "num_key_value_heads": 32, "head_dim": 72, "intermediate_size": 9216,
    "moe_intermediate_size": 1024, "num_experts": 256, "num_experts_per_token": 8, "num_shared_experts": 1,
    "first_k_dense_replace": 1, "moe_layer_freq": 1, "q_lora_rank": None, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64, "v_head_dim": 128, "mla_use_nope": True, "vocab_size": 163840, "model_max_length": 1048576,
    "tie_word_embeddings": False,
    "linear_attn_config": {"full_attn_layers": [4, 8, 12, 16, 20, 24, 27], "head_dim": 128, "num_heads": 32,
                           "short_conv_kernel_size": 4,
                           "kda_layers": [i for i in range(1, 28) if i not in (4, 8, 12, 16, 20, 24, 27)]},
}


def test_kimi_linear_48b_mla_and_kda_layers():
    from sizeup.estimate.kv_cache import has_kv, k_row, recurrent_rows, v_row

    a = architecture_from_hf_config(KIMI_LINEAR_48B)
    assert a.name == "kimi-linear" and a.is_mla and a.n_layer == 27
    mla = [i for i in range(27) if a.layer_kind(i) == LAYER_ATTENTION]
    assert mla == [3, 7, 11, 15, 19, 23, 26] and a.n_recurrent_layers == 20
    assert (a.kv_lora_rank, a.q_lora_rank, a.rope_dim, a.head_dim_k, a.head_dim_v) == (512, 0, 64, 192, 128)
    assert (a.n_expert, a.n_expert_used, a.n_expert_shared, a.n_ff_exp, a.n_ff_shexp) == (256, 8, 1, 1024, 1024)
    assert a.n_ff[0] == 9216 and sum(a.moe_layers) == 26 and a.n_ctx_train == 1 << 20
    # KV cache only on the MLA layers: the latent (512) + the rope part (64), V a view of it
    assert [i for i in range(27) if has_kv(a, i)] == mla and (k_row(a, 3), v_row(a, 3)) == (576, 0)
    # llama_hparams::n_embd_r / n_embd_s for KDA, with the figures its own comments give for this model
    assert recurrent_rows(a) == (3 * 3 * 4096, 128 * 128 * 32) == (36864, 524288)


def test_kimi_linear_matches_llama_cpp_conversion(tmp_path):
    """A Kimi-Linear config.json of the synthetic file's sizes predicts the tensors llama.cpp loads
    from that file (test_synthetic_gguf runs it), and the same KV cache and recurrent state."""
    from sizeup.estimate.kv_cache import kv_bytes_per_token, recurrent_rows
    from sizeup.formats.gguf_model import describe_gguf
    from sizeup.layout import predict_tensors
    from sizeup.testing.synthetic_gguf import synthetic_params, write_synthetic

    p = synthetic_params("kimi-linear")
    n = p["n_layer"]
    cfg = dict(KIMI_LINEAR_48B, hidden_size=p["n_embd"], num_hidden_layers=n, num_attention_heads=p["n_head"],
               num_key_value_heads=p["n_head"], intermediate_size=p["n_ff"], moe_intermediate_size=p["n_ff_exp"],
               num_experts=p["n_expert"], num_experts_per_token=p["n_expert_used"], num_shared_experts=p["n_expert_shared"],
               first_k_dense_replace=p["n_dense_lead"], kv_lora_rank=p["kv_lora_rank"], qk_nope_head_dim=p["qk_nope"],
               qk_rope_head_dim=p["qk_rope"], v_head_dim=p["v_head"], vocab_size=p["n_vocab"], model_max_length=p["n_ctx"],
               linear_attn_config={"full_attn_layers": [i + 1 for i in p["attn_layers"]], "head_dim": p["kda_head_dim"],
                                   "num_heads": p["n_head"], "short_conv_kernel_size": p["d_conv"]})
    from_hf = architecture_from_hf_config(cfg)
    path = write_synthetic(tmp_path / "k.gguf", "kimi-linear")
    d = describe_gguf(path)
    assert dict(predict_tensors(from_hf)) == {t.name: tuple(t.shape) for t in d.tensors}
    assert recurrent_rows(from_hf) == recurrent_rows(d.arch) and from_hf.layer_kinds == d.arch.layer_kinds
    assert kv_bytes_per_token(from_hf) == kv_bytes_per_token(d.arch) > 0


@pytest.mark.parametrize("change, word", [
    ({"linear_attn_config": None}, "linear_attn_config"),
    ({"linear_attn_config": "kda"}, "must be an object"),
    ({"linear_attn_config": dict(KIMI_LINEAR_48B["linear_attn_config"], full_attn_layers=[0, 4])}, "1-based"),
    ({"linear_attn_config": dict(KIMI_LINEAR_48B["linear_attn_config"], full_attn_layers=[28])}, "1..27"),
    ({"linear_attn_config": dict(KIMI_LINEAR_48B["linear_attn_config"], num_heads=16)}, "one head count"),
    ({"linear_attn_config": dict(KIMI_LINEAR_48B["linear_attn_config"], head_dim="128")}, "integer"),
])
def test_kimi_linear_bad_configs_raise_one_line(change, word):
    with pytest.raises(SizeupError) as e:
        architecture_from_hf_config(dict(KIMI_LINEAR_48B, **change))
    assert word in str(e.value) and "\n" not in str(e.value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(KIMI_LINEAR_48B) + ["linear_attn_config.head_dim", "linear_attn_config.num_heads",
                                                                  "linear_attn_config.short_conv_kernel_size",
                                                                  "linear_attn_config.full_attn_layers"]), _VALUES, max_size=4))
def test_mutated_kimi_linear_configs_are_total(changes):
    """Any mutation of the Kimi-Linear config (its nested KDA settings too) yields a valid
    Architecture whose tensors can be listed, or one SizeupError line."""
    cfg = dict(KIMI_LINEAR_48B, linear_attn_config=dict(KIMI_LINEAR_48B["linear_attn_config"]))
    for k, v in changes.items():
        if k.startswith("linear_attn_config.") and isinstance(cfg.get("linear_attn_config"), dict):
            cfg["linear_attn_config"][k.split(".", 1)[1]] = v
        else:
            cfg[k] = v
    a = _valid_or_one_line(cfg)
    if a is not None:
        from sizeup.layout import count_params

        try:
            assert count_params(a) > 0
        except SizeupError as e:
            assert "\n" not in str(e)
