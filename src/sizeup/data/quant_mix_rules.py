"""Tables behind llama.cpp's per-tensor quantization choices, as data.

Source: llama.cpp ``src/llama-quant.cpp`` (the version vendored by llama-cpp-python 0.3.36):
``llama_ftype_get_default_type``, ``tensor_allows_quantization``, ``tensor_type_fallback``
and ``tensor_requires_imatrix``; ``src/models/<arch>.cpp`` for which models count as "70B";
``convert_hf_to_gguf.py`` (``prepare_tensors``) for which tensors the converter always writes
as F32. The decision logic itself lives in :mod:`sizeup.estimate.quant_mix`.
"""

from __future__ import annotations

# File type -> the ggml type most tensors get ("default type" in llama-quant.cpp).
FTYPE_DEFAULT_TYPE: dict[str, str] = {
    "F32": "F32", "F16": "F16", "BF16": "BF16",
    "Q4_0": "Q4_0", "Q4_1": "Q4_1", "Q5_0": "Q5_0", "Q5_1": "Q5_1", "Q8_0": "Q8_0",
    "Q1_0": "Q1_0",
    "MXFP4_MOE": "MXFP4",
    "Q2_K": "Q2_K", "Q2_K_S": "Q2_K",
    "Q3_K_S": "Q3_K", "Q3_K_M": "Q3_K", "Q3_K_L": "Q3_K",
    "Q4_K_S": "Q4_K", "Q4_K_M": "Q4_K",
    "Q5_K_S": "Q5_K", "Q5_K_M": "Q5_K",
    "Q6_K": "Q6_K",
    "TQ1_0": "TQ1_0", "TQ2_0": "TQ2_0",
    "IQ2_XXS": "IQ2_XXS", "IQ2_XS": "IQ2_XS", "IQ2_S": "IQ2_XS", "IQ2_M": "IQ2_S",
    "IQ3_XXS": "IQ3_XXS", "IQ3_XS": "IQ3_S", "IQ3_S": "IQ3_S", "IQ3_M": "IQ3_S",
    "IQ1_S": "IQ1_S", "IQ1_M": "IQ1_M",
    "IQ4_NL": "IQ4_NL", "IQ4_XS": "IQ4_XS",
}

# Types that are not block-quantized (ggml_is_quantized is false): a file type whose default
# type is one of these converts every quantizable tensor to it, with no per-tensor mix.
UNQUANTIZED_TYPES = frozenset({"F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64"})

# When a row (ne0) is not a whole number of blocks, llama.cpp substitutes a smaller-block type.
# Target types missing here with a block of 32 or less stay as they are (and become F16 when
# even that does not fit); others have no fallback and llama.cpp refuses the file.
FALLBACK_TYPE: dict[str, str] = {
    "IQ1_S": "IQ4_NL", "IQ1_M": "IQ4_NL", "IQ2_XXS": "IQ4_NL", "IQ2_XS": "IQ4_NL", "IQ2_S": "IQ4_NL",
    "IQ3_XXS": "IQ4_NL", "IQ3_S": "IQ4_NL", "IQ4_XS": "IQ4_NL",
    "Q2_K": "Q4_0", "Q3_K": "Q4_0", "TQ1_0": "Q4_0", "TQ2_0": "Q4_0",
    "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0",
}
FALLBACK_LAST_RESORT = "F16"

# Name substrings of 2-D+ ".weight" tensors that llama-quantize never quantizes (they keep the
# type they had in the input file).
NEVER_QUANTIZE_SUBSTRINGS: tuple[str, ...] = (
    "_norm.weight",  # all norms
    "ffn_gate_inp.weight",  # MoE routers
    "ffn_gate_tid2eid.weight",
    "altup", "laurel",  # Gemma 3n, tiny
    "per_layer_model_proj",
    "ssm_conv1d", "shortconv.conv.weight",
    "indexer.k_proj.weight", "indexer.q_proj.weight",
    "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
    "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
    "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
    "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
    "attn_rel_b.weight",  # T5 relative position bias
    ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger",
    "a.rvq.codebook", "mm.a.code_embd",
)
# Whole names never quantized (learned absolute positions, BERT token types).
NEVER_QUANTIZE_NAMES = frozenset({"position_embd.weight", "token_types.weight"})

# Tensors convert_hf_to_gguf.py always writes as F32 whatever the output type (besides 1-D
# tensors, *_norm.weight, and names not ending in ".weight"): they keep F32 after quantizing.
CONVERTER_F32_SUBSTRINGS: tuple[str, ...] = (
    "ffn_gate_inp.weight", "ffn_gate_inp_shexp.weight", "position_embd.weight", "token_types.weight",
    "ssm_conv1d.weight", "shortconv.conv.weight", "time_mix_first", "time_mix_w1", "time_mix_w2",
    "time_mix_decay_w1", "time_mix_decay_w2", "time_mix_lerp_fused",
    "altup_correct_coef", "altup_predict_coef",  # Gemma 3n's AltUp coefficient matrices
    "ssm_conv1d_q.weight", "ssm_conv1d_k.weight", "ssm_conv1d_v.weight",  # Kimi-Linear's KDA convolutions
)

# llama.cpp gives "70B" models (8 query heads per attn_v head) more bits on attn_v.
# arch -> (block count, require n_head != n_head_kv). Source: src/models/{llama,deci,jais2,
# olmo,qwen2}.cpp load_arch_hparams.
LLM_TYPE_70B: dict[str, tuple[int, bool]] = {
    "llama": (80, True),
    "deci": (80, False),
    "jais2": (68, False),
    "olmo": (80, False),
    "qwen2": (80, False),
}

# File types whose low-bit tensors llama-quantize refuses to produce without an importance
# matrix (tensor_requires_imatrix): IQ1/IQ2 types, IQ3_XXS, and Q2_K inside Q2_K_S.
IMATRIX_REQUIRED_TYPES = frozenset({"IQ3_XXS", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ1_M", "IQ1_S"})

# File types llama-quantize makes from an F16/BF16 model without an importance matrix, largest
# first: the set ``sizeup estimate`` tabulates. All were checked tensor by tensor against real
# llama.cpp output on the test models (benchmarks/quant_mix_validation.py).
COMMON_FTYPES: tuple[str, ...] = (
    "F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_1", "Q4_0",
    "IQ4_XS", "IQ4_NL", "Q3_K_L", "Q3_K_M", "Q3_K_S", "IQ3_M", "IQ3_S", "Q2_K",
)
# File types that need an importance matrix (some of their tensors get IMATRIX_REQUIRED_TYPES,
# or Q2_K inside Q2_K_S); their mixes are predicted all the same.
IMATRIX_FTYPES: tuple[str, ...] = ("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "Q2_K_S")
