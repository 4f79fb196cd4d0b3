"""Hugging Face ``config.json`` -> :class:`~sizeup.model.Architecture`.

One pure function, :func:`architecture_from_hf_config`, shared by the safetensors reader and the
built-in catalog. It must be *total* for the common families: every config either becomes a
validated Architecture or raises :class:`~sizeup.errors.SizeupError` with one line naming the bad
key. Configs come from strangers, so every number is type-checked and bounded before use.

Why a family table instead of one generic reader: the same key means different things per family
(``intermediate_size`` is the dense FFN in Llama but one expert's width in Mixtral, gpt-oss and
Granite MoE), some facts are not in the config at all but in the model code (Gemma 2 alternates
sliding and global layers; llama.cpp ignores Mistral's and Phi-3's ``sliding_window``), and
multimodal wrappers nest the text model under ``text_config`` with keys left to class defaults.

Conventions follow llama.cpp because sizeup measures against it: architecture names are
``general.architecture`` values, and sliding-window layers are recorded only where llama.cpp
actually allocates a windowed KV cache (``hparams.set_swa_pattern`` in src/llama-model.cpp:
period ``p`` marks layer ``i`` sliding when ``i % p < p - 1``). A window that the HF config
declares but llama.cpp ignores is kept in ``extra["hf_sliding_window"]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import SizeupError
from ..limits import MAX_DIM_SIZE, MAX_LAYERS
from ..model import LAYER_ATTENTION, LAYER_RECURRENT, Architecture, SSMFacts

MAX_CTX = 1 << 30  # no real model claims a billion positions
MAX_EXPERTS = 1 << 16
MAMBA_CTX = 1 << 20  # convert_hf_to_gguf.py writes 2**20 as context_length for Mamba (no position limit)


@dataclass(frozen=True)
class Family:
    """How one Hugging Face ``model_type`` maps onto llama.cpp, as data.

    ``swa``: ``none`` (no window, or llama.cpp ignores it), ``all`` (every layer windowed),
    ``period:N`` (llama.cpp ``set_swa_pattern(N)``; ``sliding_window_pattern`` overrides N),
    ``layer_types`` (read the per-layer ``layer_types`` list). A ``layer_types`` list in the
    config is always preferred when the family has any window at all.
    ``moe``: which layers route to experts: ``all``, ``qwen`` (``decoder_sparse_step`` and
    ``mlp_only_layers``), ``first_k_dense`` (DeepSeek ``first_k_dense_replace``),
    ``interleave`` (Llama 4 ``interleave_moe_layer_step`` / ``moe_layers``), ``jamba``
    (``expert_layer_period``/``expert_layer_offset``).
    ``ff_is_expert``: ``intermediate_size`` is one routed expert's width (no dense FFN key).
    ``hybrid``: per-layer attention/recurrent layout rule (``jamba``, ``granite``, ``nemotron_h``,
    ``qwen3_next``, ``lfm2``, ``parallel`` = Falcon-H1 attention+SSM in every layer, ``mamba``, ``rwkv7`` =
    every layer recurrent with a channel-mix FFN).
    ``defaults``: the HF config class defaults for keys real configs often omit.
    ``keys``: the config keys this family reads beyond the common ones (documentation).
    """

    arch: str
    swa: str = "none"
    moe: str = ""
    ff_is_expert: bool = False
    hybrid: str = ""
    tie_default: bool = False
    learned_pos: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)
    keys: str = ""
    source: str = ""


_GEMMA3_TEXT_DEFAULTS = {  # transformers Gemma3TextConfig.__init__ defaults (gemma-3-4b omits heads, vocab)
    "vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
    "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "max_position_embeddings": 131072,
    "sliding_window": 4096, "sliding_window_pattern": 6,
}

# transformers Gemma3nTextConfig defaults (an E4B-style text model). The E2B checkpoints were
# written with intermediate_size 8192, 30 layers and num_kv_shared_layers 10 over these
# (transformers models/gemma3n/convert_gemma3n_weights.py, _VARIANTS).
_GEMMA3N_TEXT_DEFAULTS = {
    "vocab_size": 262400, "vocab_size_per_layer_input": 262144, "hidden_size": 2048, "intermediate_size": 16384,
    "num_hidden_layers": 35, "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 256,
    "max_position_embeddings": 32768, "sliding_window": 512, "num_kv_shared_layers": 15,
    "hidden_size_per_layer_input": 256, "altup_num_inputs": 4, "laurel_rank": 64,
}

# model_type -> Family. Sources: the published config.json of each family's models on the HF hub,
# transformers models/<family>/configuration_*.py, llama.cpp convert_hf_to_gguf.py and
# src/llama-model.cpp (load_hparams: swa pattern, MoE layer rules).
FAMILIES: dict[str, Family] = {
    "llama": Family("llama", keys="sliding_window ignored", source="meta-llama/Llama-3.1-8B"),
    "mistral": Family("llama", keys="sliding_window (4096 in v0.1) ignored by llama.cpp", source="mistralai/Mistral-7B-v0.1"),
    "ministral": Family("llama", source="mistralai/Ministral-8B-Instruct-2410"),
    "mixtral": Family("llama", moe="all", ff_is_expert=True, keys="num_local_experts num_experts_per_tok", source="mistralai/Mixtral-8x7B-v0.1"),
    "qwen2": Family("qwen2", keys="use_sliding_window (false in releases) max_window_layers", source="Qwen/Qwen2.5-7B-Instruct"),
    "qwen2_moe": Family("qwen2moe", moe="qwen", keys="num_experts moe_intermediate_size shared_expert_intermediate_size decoder_sparse_step mlp_only_layers", source="Qwen/Qwen1.5-MoE-A2.7B"),
    "qwen3": Family("qwen3", keys="head_dim", source="Qwen/Qwen3-8B"),
    "qwen3_moe": Family("qwen3moe", moe="qwen", keys="num_experts num_experts_per_tok moe_intermediate_size decoder_sparse_step mlp_only_layers", source="Qwen/Qwen3-30B-A3B"),
    "qwen3_next": Family("qwen3next", moe="qwen", hybrid="qwen3_next", keys="full_attention_interval linear_* shared_expert_intermediate_size", source="Qwen/Qwen3-Next-80B-A3B-Instruct"),
    "qwen3_5_text": Family("qwen35", hybrid="qwen3_next", keys="as qwen3_next, dense FFN; wrapper text_config", source="Qwen/Qwen3.5-27B"),
    "qwen3_5": Family("qwen35", hybrid="qwen3_next", source="Qwen/Qwen3.5-27B (wrapper)"),
    "qwen3_5_moe_text": Family("qwen35moe", moe="qwen", hybrid="qwen3_next", keys="as qwen3_next; wrapper text_config", source="Qwen/Qwen3.5-35B-A3B"),
    "qwen3_5_moe": Family("qwen35moe", moe="qwen", hybrid="qwen3_next", source="Qwen/Qwen3.5-35B-A3B (wrapper)"),
    "minimax_m2": Family("minimax-m2", moe="all", ff_is_expert=True, keys="num_local_experts rotary_dim (intermediate_size is one expert's width)", source="MiniMaxAI/MiniMax-M2"),
    "gemma": Family("gemma", tie_default=True, keys="head_dim", source="google/gemma-7b"),
    "gemma2": Family("gemma2", swa="period:2", tie_default=True, keys="sliding_window (4096) on even layers", source="google/gemma-2-9b"),
    "gemma3_text": Family("gemma3", swa="period:6", tie_default=True, defaults=_GEMMA3_TEXT_DEFAULTS, keys="sliding_window sliding_window_pattern layer_types; wrapper text_config", source="google/gemma-3-27b-it, gemma-3-1b-it"),
    "gemma3": Family("gemma3", swa="period:6", tie_default=True, defaults=_GEMMA3_TEXT_DEFAULTS, source="google/gemma-3-4b-it (wrapper)"),
    "gemma3n_text": Family("gemma3n", swa="period:5", tie_default=True, defaults=_GEMMA3N_TEXT_DEFAULTS,
                           keys="intermediate_size (per-layer list) layer_types sliding_window num_kv_shared_layers altup_num_inputs laurel_rank hidden_size_per_layer_input vocab_size_per_layer_input; wrapper text_config",
                           source="google/gemma-3n-E2B-it, gemma-3n-E4B-it (transformers Gemma3nTextConfig, convert_gemma3n_weights.py)"),
    "gemma3n": Family("gemma3n", swa="period:5", tie_default=True, defaults=_GEMMA3N_TEXT_DEFAULTS, source="google/gemma-3n-E4B-it (wrapper)"),
    "phi3": Family("phi3", keys="sliding_window ignored (llama.cpp: 'Phi SWA is currently disabled') partial_rotary_factor", source="microsoft/Phi-3-mini-4k-instruct, Phi-4-mini"),
    "phimoe": Family("phimoe", moe="all", ff_is_expert=True, source="microsoft/Phi-3.5-MoE-instruct"),
    "deepseek_v2": Family("deepseek2", moe="first_k_dense", keys="kv_lora_rank q_lora_rank qk_rope_head_dim qk_nope_head_dim v_head_dim n_routed_experts n_shared_experts first_k_dense_replace", source="deepseek-ai/DeepSeek-V2-Lite"),
    "deepseek_v3": Family("deepseek2", moe="first_k_dense", keys="as deepseek_v2", source="deepseek-ai/DeepSeek-V3"),
    "deepseek_v32": Family("deepseek32", moe="first_k_dense", keys="as deepseek_v3; index_n_heads index_head_dim (lightning indexer) index_topk", source="deepseek-ai/DeepSeek-V3.2"),
    "kimi_k2": Family("deepseek2", moe="first_k_dense", keys="as deepseek_v3", source="moonshotai/Kimi-K2-Instruct"),
    "kimi_linear": Family("kimi-linear", moe="first_k_dense", hybrid="kimi_linear",
                          keys="linear_attn_config (full_attn_layers 1-based: MLA; the rest KDA; head_dim num_heads short_conv_kernel_size) kv_lora_rank qk_*_head_dim v_head_dim num_experts num_experts_per_token num_shared_experts first_k_dense_replace",
                          source="moonshotai/Kimi-Linear-48B-A3B-Instruct (llama.cpp conversion/kimi_linear.py)"),
    "starcoder2": Family("starcoder2", keys="sliding_window ignored by llama.cpp", source="bigcode/starcoder2-15b"),
    "granite": Family("granite", source="ibm-granite/granite-3.3-8b-instruct"),
    "granitemoe": Family("granitemoe", moe="all", ff_is_expert=True, keys="num_local_experts", source="ibm-granite/granite-3.1-3b-a800m-instruct"),
    "granitemoeshared": Family("granitemoe", moe="all", ff_is_expert=True, keys="shared_intermediate_size", source="ibm-research/PowerMoE-3b"),
    "granitemoehybrid": Family("granitehybrid", moe="all", ff_is_expert=True, hybrid="granite", keys="layer_types (mamba|attention) mamba_* shared_intermediate_size num_local_experts", source="ibm-granite/granite-4.0-h-small, -h-tiny, -h-micro"),
    "olmo": Family("olmo", source="allenai/OLMo-7B-hf"),
    "olmo2": Family("olmo2", source="allenai/OLMo-2-1124-7B"),
    "olmo3": Family("olmo2", swa="layer_types", keys="layer_types sliding_window", source="allenai/Olmo-3-7B"),
    "olmoe": Family("olmoe", moe="all", ff_is_expert=True, keys="num_experts", source="allenai/OLMoE-1B-7B-0924"),
    "cohere": Family("command-r", tie_default=True, source="CohereForAI/c4ai-command-r-v01"),
    "cohere2": Family("cohere2", swa="period:4", tie_default=True, keys="sliding_window sliding_window_pattern (4)", source="CohereForAI/c4ai-command-r7b-12-2024"),
    "gpt_oss": Family("gpt-oss", swa="period:2", moe="all", ff_is_expert=True, keys="layer_types sliding_window (128) num_local_experts experts_per_token", source="openai/gpt-oss-20b, gpt-oss-120b"),
    "llama4_text": Family("llama4", swa="chunked", moe="interleave", keys="attention_chunk_size interleave_moe_layer_step moe_layers intermediate_size_mlp", source="meta-llama/Llama-4-Scout-17B-16E-Instruct"),
    "llama4": Family("llama4", swa="chunked", moe="interleave", source="meta-llama/Llama-4-Scout-17B-16E (wrapper)"),
    "smollm3": Family("smollm3", tie_default=True, keys="no_rope_layers", source="HuggingFaceTB/SmolLM3-3B"),
    "mamba": Family("mamba", hybrid="mamba", tie_default=True, keys="state_size conv_kernel expand time_step_rank", source="state-spaces/mamba-2.8b-hf"),
    "falcon_mamba": Family("mamba", hybrid="mamba", keys="as mamba", source="tiiuae/falcon-mamba-7b"),
    "mamba2": Family("mamba2", hybrid="mamba", tie_default=True, keys="state_size conv_kernel expand n_groups num_heads head_dim", source="state-spaces/mamba2-2.7b"),
    "rwkv7": Family("rwkv7", hybrid="rwkv7", keys="head_dim|head_size decay_low_rank_dim|lora_rank_decay a_low_rank_dim|lora_rank_iclr v_low_rank_dim|lora_rank_value_residual_mix gate_low_rank_dim|lora_rank_gate intermediate_size (llama.cpp: 2^20 context, max_position_embeddings ignored)", source="fla-hub/rwkv7-1.5B-world, RWKV/RWKV7-Goose-World3-1.5B-HF"),
    "jamba": Family("jamba", moe="jamba", hybrid="jamba", keys="attn_layer_period attn_layer_offset expert_layer_period expert_layer_offset mamba_d_state mamba_d_conv mamba_expand", source="ai21labs/Jamba-v0.1, AI21-Jamba-Mini-1.5"),
    "falcon_h1": Family("falcon-h1", hybrid="parallel", keys="mamba_d_ssm mamba_n_heads mamba_d_head mamba_d_state mamba_n_groups", source="tiiuae/Falcon-H1-7B-Instruct"),
    "nemotron_h": Family("nemotron_h", moe="nemotron_h", hybrid="nemotron_h", keys="hybrid_override_pattern (M mamba2, * attention, - MLP, E MoE) mamba_* n_routed_experts moe_shared_expert_intermediate_size", source="nvidia/NVIDIA-Nemotron-Nano-9B-v2, NVIDIA-Nemotron-3-Nano-30B-A3B"),
    "glm4": Family("glm4", keys="partial_rotary_factor 0.5", source="THUDM/GLM-4-9B-0414"),
    "glm4_moe": Family("glm4moe", moe="first_k_dense", keys="n_routed_experts n_shared_experts first_k_dense_replace moe_intermediate_size", source="zai-org/GLM-4.5-Air"),
    "exaone": Family("exaone", source="LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct"),
    "exaone4": Family("exaone4", swa="layer_types", keys="layer_types sliding_window", source="LGAI-EXAONE/EXAONE-4.0-32B"),
    "lfm2": Family("lfm2", hybrid="lfm2", tie_default=True, keys="layer_types (conv|full_attention) conv_L_cache block_ff_dim", source="LiquidAI/LFM2-1.2B"),
    "stablelm": Family("stablelm", keys="partial_rotary_factor", source="stabilityai/stablelm-2-1_6b"),
    "phi": Family("phi2", tie_default=False, keys="partial_rotary_factor", source="microsoft/phi-2"),
    "gpt2": Family("gpt2", tie_default=True, learned_pos=True, keys="n_embd n_layer n_head n_positions n_inner", source="openai-community/gpt2"),
    "gpt_bigcode": Family("starcoder", tie_default=True, learned_pos=True, keys="multi_query n_positions", source="bigcode/starcoderbase-1b"),
    "gpt_neox": Family("gptneox", keys="rotary_pct", source="EleutherAI/pythia-1.4b"),
    "falcon": Family("falcon", tie_default=True, keys="multi_query num_kv_heads new_decoder_architecture", source="tiiuae/falcon-7b"),
    "internlm2": Family("internlm2", source="internlm/internlm2_5-7b-chat"),
    "minicpm": Family("minicpm", tie_default=True, source="openbmb/MiniCPM-2B-sft-bf16"),
    "baichuan": Family("baichuan", source="baichuan-inc/Baichuan2-7B-Chat"),
    "ernie4_5": Family("ernie4_5", tie_default=True, source="baidu/ERNIE-4.5-0.3B-PT"),
    "seed_oss": Family("seed_oss", source="ByteDance-Seed/Seed-OSS-36B-Instruct"),
    "hunyuan_v1_dense": Family("hunyuan-dense", source="tencent/Hunyuan-7B-Instruct"),
    "apertus": Family("apertus", source="swiss-ai/Apertus-8B-Instruct-2509"),
    "arcee": Family("arcee", source="arcee-ai/AFM-4.5B"),
    "dots1": Family("dots1", moe="first_k_dense", source="rednote-hilab/dots.llm1.inst"),
    "mistral3": Family("llama", source="mistralai/Mistral-Small-3.1-24B-Instruct-2503 (wrapper)"),
    "ministral3": Family("llama", source="mistralai/Ministral-3-8B-Instruct-2512 (text_config)"),
    "llava": Family("llama", source="llava-hf/llava-1.5-7b-hf (wrapper)"),
    "qwen2_vl": Family("qwen2vl", source="Qwen/Qwen2-VL-7B-Instruct"),
    "qwen2_5_vl": Family("qwen2vl", source="Qwen/Qwen2.5-VL-7B-Instruct"),
    "qwen3_vl_text": Family("qwen3vl", source="Qwen/Qwen3-VL-8B-Instruct (text_config)"),
    "qwen3_vl_moe_text": Family("qwen3vlmoe", moe="qwen", source="Qwen/Qwen3-VL-30B-A3B-Instruct (text_config)"),
    "ernie4_5_moe": Family("ernie4_5-moe", moe="ernie", keys="moe_num_experts moe_k moe_num_shared_experts moe_layer_start_index moe_layer_interval", source="baidu/ERNIE-4.5-21B-A3B-PT"),
    "nemotron": Family("nemotron", keys="partial_rotary_factor", source="nvidia/Minitron-8B-Base"),
    "gptj": Family("gptj", keys="rotary_dim n_embd n_layer n_head n_positions", source="EleutherAI/gpt-j-6b"),
    "bloom": Family("bloom", tie_default=True, keys="n_layer n_head (ALiBi, no positions)", source="bigscience/bloom-560m"),
}

# Wrapper model types whose text model lives under ``text_config``.
_WRAPPERS = ("text_config", "llm_config", "language_config")


def _fail(key: str, problem: str) -> SizeupError:
    return SizeupError(f"config.json: '{key}' {problem}")


class _Cfg:
    """Typed, bounded access to a config dict (text_config merged, family defaults last)."""

    def __init__(self, cfg: dict[str, Any], defaults: dict[str, Any]) -> None:
        self.cfg = cfg
        self.defaults = defaults

    def raw(self, *keys: str) -> tuple[str, Any]:
        for k in keys:
            v = self.cfg.get(k)
            if v is not None:
                return k, v
        for k in keys:
            if self.defaults.get(k) is not None:
                return k, self.defaults[k]
        return keys[0], None

    def int(self, *keys: str, default: int | None = None, lo: int = 0, hi: int = MAX_DIM_SIZE) -> int:
        k, v = self.raw(*keys)
        if v is None:
            if default is None:
                raise _fail(keys[0], "is missing")
            return default
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and (not math.isfinite(v) or v != int(v))):
            raise _fail(k, f"must be an integer, got {str(v)[:40]!r}")
        v = int(v)
        if not lo <= v <= hi:
            raise _fail(k, f"= {v} is outside {lo}..{hi}")
        return v

    def float(self, *keys: str, default: float) -> float:
        k, v = self.raw(*keys)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise _fail(k, f"must be a number, got {str(v)[:40]!r}")
        return float(v)

    def bool(self, key: str, default: bool) -> bool:
        v = self.cfg.get(key, self.defaults.get(key))
        if v is None:
            return default
        if not isinstance(v, bool):
            raise _fail(key, f"must be true or false, got {str(v)[:40]!r}")
        return v

    def list(self, key: str, n: int | None = None) -> list[Any] | None:
        v = self.cfg.get(key)
        if v is None:
            return None
        if not isinstance(v, list) or len(v) > MAX_LAYERS:
            raise _fail(key, f"must be a list of at most {MAX_LAYERS} entries")
        if n is not None and len(v) != n:
            raise _fail(key, f"has {len(v)} entries for {n} layers")
        return v

    def int_list(self, key: str, n_layer: int) -> list[int]:
        v = self.list(key) or []
        out = []
        for x in v:
            if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < n_layer:
                raise _fail(key, f"entries must be layer indices 0..{n_layer - 1}")
            out.append(x)
        return out


def _unwrap(cfg: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The text-model config and its model_type (outer keys fill gaps, inner keys win)."""
    outer_type = cfg.get("model_type")
    for key in _WRAPPERS:
        inner = cfg.get(key)
        if isinstance(inner, dict) and inner:
            merged = {k: v for k, v in cfg.items() if k not in _WRAPPERS and k != "vision_config"}
            merged.update(inner)
            mt = inner.get("model_type") or outer_type
            # Wrappers whose inner type is missing: gemma3 -> gemma3_text, llama4 -> llama4_text.
            if not inner.get("model_type") and isinstance(outer_type, str) and f"{outer_type}_text" in FAMILIES:
                mt = f"{outer_type}_text"
            return merged, mt
    return cfg, outer_type


def _detect_type(cfg: dict[str, Any]) -> str | None:
    """model_type, or a guess for configs that lack it (state-spaces' original Mamba configs)."""
    mt = cfg.get("model_type")
    if isinstance(mt, str) and mt:
        return mt.strip().lower()[:100]
    if "ssm_cfg" in cfg and "d_model" in cfg:
        ssm = cfg.get("ssm_cfg")
        return "mamba2" if isinstance(ssm, dict) and ssm.get("layer") == "Mamba2" else "mamba"
    archs = cfg.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        a = archs[0].lower()
        for known in sorted(FAMILIES, key=len, reverse=True):
            if a.startswith(known.replace("_", "")):
                return known
    return None


def _swa(c: _Cfg, fam: Family, n_layer: int, model_type: str) -> tuple[int, tuple[bool, ...], dict[str, Any]]:
    extra: dict[str, Any] = {}
    window = c.int("sliding_window", default=0, hi=MAX_CTX) if not isinstance(c.cfg.get("sliding_window"), bool) else 0
    layer_types = c.list("layer_types")
    if fam.swa == "chunked":  # Llama 4: chunked attention on 3 of 4 layers (llama.cpp: n_swa 8192, pattern 4)
        chunk = c.int("attention_chunk_size", default=8192, hi=MAX_CTX)
        if chunk == 0:
            return 0, (), extra
        extra["swa_type"] = "chunked"
        return chunk, tuple(i % 4 < 3 for i in range(n_layer)), extra
    if fam.swa == "none":
        if window and (model_type != "qwen2" or c.bool("use_sliding_window", False)):
            extra["hf_sliding_window"] = window
        return 0, (), extra
    if not window:
        return 0, (), extra
    if layer_types is not None and all(isinstance(t, str) for t in layer_types) and len(layer_types) == n_layer and any("attention" in t for t in layer_types):
        flags = tuple(t == "sliding_attention" for t in layer_types)
        return (window, flags, extra) if any(flags) else (0, (), extra)
    if fam.swa == "all":
        return window, (True,) * n_layer, extra
    if fam.swa.startswith("period:"):
        period = int(fam.swa.split(":")[1])
        raw = c.cfg.get("sliding_window_pattern", c.cfg.get("_sliding_window_pattern"))
        if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
            period = min(raw, MAX_LAYERS)
        elif isinstance(raw, str) and raw and set(raw) <= {"L", "G"} and len(raw) <= MAX_LAYERS:  # EXAONE "LLLG"
            return window, tuple(raw[i % len(raw)] == "L" for i in range(n_layer)), extra
        return window, tuple(i % period < period - 1 for i in range(n_layer)), extra
    return 0, (), extra  # "layer_types" family without a usable list: llama.cpp would size it dense


def _moe_layers(c: _Cfg, fam: Family, n_layer: int, n_expert: int) -> tuple[bool, ...]:
    if not n_expert:
        return ()
    if fam.moe == "qwen":
        step = c.int("decoder_sparse_step", default=1, lo=1, hi=MAX_LAYERS)
        dense = set(c.int_list("mlp_only_layers", n_layer))
        return tuple(i not in dense and (i + 1) % step == 0 for i in range(n_layer))
    if fam.moe == "first_k_dense":
        k = c.int("first_k_dense_replace", default=0, hi=MAX_LAYERS)
        freq = c.int("moe_layer_freq", default=1, lo=1, hi=MAX_LAYERS)
        return tuple(i >= k and i % freq == 0 for i in range(n_layer))
    if fam.moe == "interleave":
        explicit = c.cfg.get("moe_layers")
        if explicit is not None:
            idx = set(c.int_list("moe_layers", n_layer))
            return tuple(i in idx for i in range(n_layer))
        step = c.int("interleave_moe_layer_step", default=1, lo=1, hi=MAX_LAYERS)
        return tuple((i + 1) % step == 0 for i in range(n_layer))
    if fam.moe == "ernie":
        start = c.int("moe_layer_start_index", default=0, hi=MAX_LAYERS)
        end = c.int("moe_layer_end_index", default=n_layer - 1, lo=-1, hi=MAX_LAYERS)
        step = c.int("moe_layer_interval", default=1, lo=1, hi=MAX_LAYERS)
        end = n_layer - 1 if end < 0 else end
        return tuple(start <= i <= end and (i - start) % step == 0 for i in range(n_layer))
    if fam.moe == "nemotron_h":  # "E" marks the MoE layers of the hybrid pattern (checked in _layer_kinds)
        pat = c.cfg.get("hybrid_override_pattern")
        return tuple(isinstance(pat, str) and i < len(pat) and pat[i] == "E" for i in range(n_layer))
    if fam.moe == "jamba":
        period = c.int("expert_layer_period", default=2, lo=1, hi=MAX_LAYERS)
        offset = c.int("expert_layer_offset", default=1, hi=MAX_LAYERS)
        return tuple(i % period == offset % period for i in range(n_layer))
    return (True,) * n_layer


def _layer_kinds(c: _Cfg, fam: Family, n_layer: int) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """Per layer attention/recurrent, plus which layers have no mixer with a cache at all."""
    A, R = LAYER_ATTENTION, LAYER_RECURRENT
    no_attn = [False] * n_layer
    if fam.hybrid in ("mamba", "rwkv7"):
        return (R,) * n_layer, tuple(no_attn)
    if fam.hybrid == "jamba":
        blocks = c.list("layers_block_type", n_layer)
        if blocks is not None:
            return tuple(A if b == "attention" else R for b in blocks), tuple(no_attn)
        period = c.int("attn_layer_period", default=8, lo=1, hi=MAX_LAYERS)
        offset = c.int("attn_layer_offset", default=4, hi=MAX_LAYERS)
        return tuple(A if i % period == offset % period else R for i in range(n_layer)), tuple(no_attn)
    if fam.hybrid == "granite":
        blocks = c.list("layer_types", n_layer) or c.list("layers_block_type", n_layer)
        if blocks is None:
            return (A,) * n_layer, tuple(no_attn)
        return tuple(A if b == "attention" else R for b in blocks), tuple(no_attn)
    if fam.hybrid == "lfm2":
        blocks = c.list("layer_types", n_layer)
        if blocks is None:
            idx = set(c.int_list("full_attn_idxs", n_layer))
            return tuple(A if i in idx else R for i in range(n_layer)), tuple(no_attn)
        return tuple(A if b == "full_attention" else R for b in blocks), tuple(no_attn)
    if fam.hybrid == "qwen3_next":
        blocks = c.list("layer_types", n_layer)
        if blocks is not None:
            return tuple(A if b == "full_attention" else R for b in blocks), tuple(no_attn)
        interval = c.int("full_attention_interval", default=4, lo=1, hi=MAX_LAYERS)
        return tuple(A if (i + 1) % interval == 0 else R for i in range(n_layer)), tuple(no_attn)
    if fam.hybrid == "kimi_linear":
        # conversion/kimi_linear.py: a layer is MLA iff its 1-based index is in full_attn_layers.
        full = _kimi_linear_cfg(c).list("full_attn_layers")
        if not full or any(isinstance(x, bool) or not isinstance(x, int) or not 1 <= x <= n_layer for x in full):
            raise _fail("linear_attn_config.full_attn_layers", f"must list 1-based layer numbers in 1..{n_layer}")
        return tuple(A if i + 1 in full else R for i in range(n_layer)), tuple(no_attn)
    if fam.hybrid == "nemotron_h":
        pat = c.cfg.get("hybrid_override_pattern")
        if not isinstance(pat, str) or len(pat) != n_layer or not set(pat) <= {"M", "*", "-", "E"}:
            raise _fail("hybrid_override_pattern", f"must be a string of M/*/-/E with one entry per layer ({n_layer})")
        return tuple(R if ch == "M" else A for ch in pat), tuple(ch in "-E" for ch in pat)
    return (), tuple(no_attn)


def _kimi_linear_cfg(c: _Cfg) -> _Cfg:
    """Kimi-Linear's nested ``linear_attn_config`` (the KDA layers' sizes and the layer pattern)."""
    sub = c.cfg.get("linear_attn_config")
    if not isinstance(sub, dict):
        raise _fail("linear_attn_config", "must be an object (Kimi-Linear's KDA settings)")
    return _Cfg(sub, {})


def _ssm(c: _Cfg, fam: Family, n_embd: int) -> SSMFacts | None:
    h = fam.hybrid
    if h == "kimi_linear":
        # KDA (src/models/kimi-linear.cpp): llama.cpp runs these layers with the attention head
        # count (hparams.n_head()) and kda.head_dim; the converter writes linear_attn_config's
        # head_dim and short_conv_kernel_size, not its num_heads, so the two head counts must agree.
        lac = _kimi_linear_cfg(c)
        n_head = c.int("num_attention_heads", lo=1, hi=1 << 16)
        if lac.int("num_heads", default=n_head, lo=1, hi=1 << 16) != n_head:
            raise _fail("linear_attn_config.num_heads", f"differs from num_attention_heads ({n_head}): llama.cpp's kimi-linear uses one head count")
        return SSMFacts("kda", d_conv=lac.int("short_conv_kernel_size", default=4, lo=1, hi=1024),
                        head_size=lac.int("head_dim", lo=1, hi=1 << 16), n_head=n_head)
    if h == "mamba" and fam.arch == "mamba":
        d_inner = c.int("intermediate_size", "d_inner", default=c.int("expand", default=2, hi=64) * n_embd)
        dt = c.cfg.get("time_step_rank")
        dt_rank = math.ceil(n_embd / 16) if dt in (None, "auto") else c.int("time_step_rank")
        return SSMFacts("mamba", d_conv=c.int("conv_kernel", "d_conv", default=4, hi=1024), d_inner=d_inner,
                        d_state=c.int("state_size", "d_state", default=16, hi=1 << 16), dt_rank=dt_rank)
    if h == "mamba":  # mamba2
        expand = c.int("expand", default=2, hi=64)
        return SSMFacts("mamba2", d_conv=c.int("conv_kernel", default=4, hi=1024), d_inner=expand * n_embd,
                        d_state=c.int("state_size", default=128, hi=1 << 16), n_group=c.int("n_groups", default=1, hi=1 << 16),
                        n_head=c.int("num_heads", default=0, hi=1 << 20), head_size=c.int("head_dim", default=64, hi=1 << 16))
    if h == "jamba":
        dt = c.cfg.get("mamba_dt_rank")
        dt_rank = math.ceil(n_embd / 16) if dt in (None, "auto") else c.int("mamba_dt_rank")
        return SSMFacts("mamba", d_conv=c.int("mamba_d_conv", default=4, hi=1024),
                        d_inner=c.int("mamba_expand", default=2, hi=64) * n_embd,
                        d_state=c.int("mamba_d_state", default=16, hi=1 << 16), dt_rank=dt_rank)
    if h in ("granite", "parallel", "nemotron_h"):
        n_heads = c.int("mamba_n_heads", "mamba_num_heads", default=0, hi=1 << 20)
        d_head = c.int("mamba_d_head", "mamba_head_dim", default=0, hi=1 << 16)
        d_inner = c.int("mamba_d_ssm", default=n_heads * d_head or c.int("mamba_expand", default=2, hi=64) * n_embd)
        return SSMFacts("mamba2", d_conv=c.int("mamba_d_conv", "conv_kernel", default=4, hi=1024), d_inner=d_inner,
                        d_state=c.int("mamba_d_state", "ssm_state_size", default=128, hi=1 << 16),
                        n_group=c.int("mamba_n_groups", "n_groups", default=1, hi=1 << 16), n_head=n_heads, head_size=d_head)
    if h == "qwen3_next":  # gated delta net: state per value head is key_head_dim x value_head_dim
        # d_inner is the value width (llama.cpp's ssm_d_inner), so the generic conv/state row formulas hold.
        n_v, d_v = c.int("linear_num_value_heads", default=32, hi=1 << 16), c.int("linear_value_head_dim", default=128, hi=1 << 16)
        return SSMFacts("gated_deltanet", d_conv=c.int("linear_conv_kernel_dim", default=4, hi=1024), d_inner=n_v * d_v,
                        d_state=c.int("linear_key_head_dim", default=128, hi=1 << 16),
                        n_group=c.int("linear_num_key_heads", default=16, hi=1 << 16),
                        n_head=c.int("linear_num_value_heads", default=32, hi=1 << 16),
                        head_size=c.int("linear_value_head_dim", default=128, hi=1 << 16))
    if h == "rwkv7":  # WKV state: one head_size x head_size matrix per head, i.e. n_embd x head_size
        head = c.int("head_size", "head_dim", default=64, lo=1, hi=1 << 16)
        if n_embd % head:
            raise _fail("head_dim", f"= {head} does not divide hidden_size = {n_embd}")
        return SSMFacts("rwkv7", head_size=head, n_head=n_embd // head, token_shift_count=2)
    if h == "lfm2":  # short gated convolutions: state is (L_cache - 1) x n_embd
        return SSMFacts("lfm2_conv", d_conv=c.int("conv_L_cache", default=3, hi=1024), d_inner=n_embd)
    return None


# RWKV-7 low-rank sizes: (GGUF-side extra key, fla-hub config key, RWKV/ HF config key, exponent,
# multiplier). conversion/rwkv.py Rwkv7Model.set_gguf_parameters reads the lora_rank_* names when
# the config has them, else the *_low_rank_dim names; a null value becomes
# max(1, round(hidden_size ** exponent * multiplier / 32)) * 32.
_RWKV7_LORA = (
    ("rwkv_lora_decay", "lora_rank_decay", "decay_low_rank_dim", 0.5, 1.8),
    ("rwkv_lora_iclr", "lora_rank_iclr", "a_low_rank_dim", 0.5, 1.8),
    ("rwkv_lora_value_res_mix", "lora_rank_value_residual_mix", "v_low_rank_dim", 0.5, 1.3),
    ("rwkv_lora_gate", "lora_rank_gate", "gate_low_rank_dim", 0.8, 0.6),
)


def _rwkv7_lora_ranks(c: _Cfg, n_embd: int) -> dict[str, int]:
    fla_names = all(fla in c.cfg for _, fla, _, _, _ in _RWKV7_LORA)
    out = {}
    for name, fla, hf, exponent, multiplier in _RWKV7_LORA:
        formula = max(1, round(n_embd ** exponent * multiplier / 32)) * 32
        out[name] = c.int(fla if fla_names else hf, default=formula, lo=1, hi=1 << 16)
    return out


def _per_layer_ff(c: _Cfg, n_layer: int) -> tuple[int, ...]:
    """Gemma 3n's FFN widths: ``intermediate_size`` is one width or one per layer (MatFormer
    slices give layers different widths; llama.cpp's converter writes the list as is)."""
    raw = c.cfg.get("intermediate_size")
    if isinstance(raw, list):
        widths = c.list("intermediate_size", n_layer) or []
        if any(isinstance(w, bool) or not isinstance(w, int) or not 0 < w <= 1 << 24 for w in widths):
            raise _fail("intermediate_size", "entries must be positive integers")
        return tuple(widths)
    return (c.int("intermediate_size", lo=1, hi=1 << 24),) * n_layer


def _gemma3n_extra(c: _Cfg, n_layer: int) -> dict[str, Any]:
    """Gemma 3n's AltUp / LAuReL / per-layer-embedding sizes and its KV sharing. llama.cpp fixes
    the first three in code (data/fixed_hparams.py), so a config with other values makes a GGUF
    llama.cpp cannot load; it also fixes the first shared layer at 20, whatever
    ``num_kv_shared_layers`` says (the released models agree)."""
    from ..data.fixed_hparams import GEMMA3N

    out: dict[str, Any] = {}
    for key, hf in (("altup_n", "altup_num_inputs"), ("laurel_rank", "laurel_rank"),
                    ("per_layer_embd", "hidden_size_per_layer_input")):
        v = c.int(hf, lo=1, hi=1 << 16)
        if v != GEMMA3N[key]:
            raise _fail(hf, f"= {v}: llama.cpp's gemma3n loader fixes it at {GEMMA3N[key]} and could not load this model")
        out[key] = v
    shared = c.int("num_kv_shared_layers", default=0, hi=n_layer)
    out["hf_num_kv_shared_layers"] = shared
    if shared and n_layer - shared != GEMMA3N["n_layer_kv_from_start"]:
        out["kv_share_note"] = (f"the config shares the KV cache from layer {n_layer - shared}; llama.cpp "
                                f"shares it from layer {GEMMA3N['n_layer_kv_from_start']} whatever the file says")
    return out


def architecture_from_hf_config(cfg: dict[str, Any]) -> Architecture:
    """The Architecture a Hugging Face ``config.json`` describes, in llama.cpp terms.

    Raises SizeupError (one line, naming the key) for a config that is not a dict, lacks a
    required key, or holds a value of the wrong type or outside sane bounds. Unknown
    ``model_type`` values are read with the generic Llama-like rules and flagged in
    ``extra["unknown_model_type"]`` so callers can warn.
    """
    if not isinstance(cfg, dict):
        raise SizeupError("config.json: top level must be a JSON object")
    flat, _ = _unwrap(cfg)
    model_type = _detect_type(flat) or ""
    fam = FAMILIES.get(model_type)
    extra: dict[str, Any] = {"hf_model_type": model_type}
    if fam is None:
        fam = Family(model_type or "unknown")
        extra["unknown_model_type"] = True
    c = _Cfg(flat, fam.defaults)

    n_layer = c.int("num_hidden_layers", "n_layer", "num_layers", "n_layers", lo=1, hi=MAX_LAYERS)
    n_embd = c.int("hidden_size", "d_model", "n_embd", "model_dim", lo=1, hi=1 << 20)
    kinds, mlp_only = _layer_kinds(c, fam, n_layer)
    all_recurrent = fam.hybrid in ("mamba", "rwkv7")  # no attention layer at all
    ffn_free = fam.hybrid == "mamba"  # Mamba blocks have no FFN; RWKV-7's channel mix is one

    if all_recurrent:
        n_head_scalar = n_kv_scalar = head_dim = 0
    else:
        n_head_scalar = c.int("num_attention_heads", "n_head", "num_heads", "n_heads", lo=1, hi=1 << 16)
        if flat.get("multi_query") is True and fam.arch in ("starcoder", "falcon"):
            default_kv = 1
        else:
            default_kv = n_head_scalar
        n_kv_scalar = c.int("num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num", default=default_kv, lo=1, hi=1 << 16)
        if n_head_scalar % n_kv_scalar:
            raise _fail("num_key_value_heads", f"= {n_kv_scalar} does not divide num_attention_heads = {n_head_scalar}")
        head_dim = c.int("head_dim", "kv_channels", "attention_head_dim", default=n_embd // n_head_scalar, lo=1, hi=1 << 16)

    head_dim_k = head_dim_v = head_dim
    kv_lora = q_lora = rope_dim = 0
    if c.cfg.get("kv_lora_rank") is not None:  # MLA
        kv_lora = c.int("kv_lora_rank", lo=1, hi=1 << 20)
        q_lora = c.int("q_lora_rank", default=0, hi=1 << 20)
        rope_dim = c.int("qk_rope_head_dim", default=64, hi=1 << 16)
        head_dim_k = c.int("qk_nope_head_dim", default=128, hi=1 << 16) + rope_dim
        head_dim_v = c.int("v_head_dim", default=128, hi=1 << 16)
        if fam.arch == "deepseek32":  # DeepSeek sparse attention: the lightning indexer's sizes (no defaults)
            extra["indexer_n_head"] = c.int("index_n_heads", lo=1, hi=1 << 16)
            extra["indexer_head_dim"] = c.int("index_head_dim", lo=1, hi=1 << 16)
            extra["indexer_top_k"] = c.int("index_topk", lo=1, hi=MAX_CTX)
    elif head_dim:
        prf = c.float("partial_rotary_factor", "rotary_pct", default=1.0)
        if c.cfg.get("rotary_dim") is not None:
            rope_dim = c.int("rotary_dim", hi=head_dim)
        elif 0 < prf < 1:
            rope_dim = int(head_dim * prf)

    # Experts.
    n_expert = c.int("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts", default=0, hi=MAX_EXPERTS)
    n_used = c.int("num_experts_per_tok", "experts_per_token", "num_experts_per_token", "moe_topk", "moe_k", default=0, hi=MAX_EXPERTS) if n_expert else 0
    if n_used > n_expert:
        raise _fail("num_experts_per_tok", f"= {n_used} exceeds the number of experts ({n_expert})")
    ff_per_layer = _per_layer_ff(c, n_layer) if fam.arch == "gemma3n" else None  # MatFormer: one width per layer
    dense_ff = max(ff_per_layer) if ff_per_layer else c.int(
        "intermediate_size", "n_inner", "ffn_hidden_size", "ffn_dim", "block_ff_dim",
        default=0 if (fam.moe or ffn_free) else 4 * n_embd, hi=1 << 24)
    n_ff_exp = n_ff_shexp = n_shared = 0
    if n_expert:
        n_ff_exp = c.int("moe_intermediate_size", "expert_ffn_hidden_size", default=dense_ff or None, lo=1, hi=1 << 24)
        if c.cfg.get("moe_shared_expert_intermediate_size"):  # Nemotron 3: the shared expert has its own width
            n_shared = c.int("n_shared_experts", default=1, lo=1, hi=MAX_EXPERTS)
            n_ff_shexp = c.int("moe_shared_expert_intermediate_size", hi=1 << 24)
        elif c.cfg.get("n_shared_experts") or c.cfg.get("moe_num_shared_experts") or c.cfg.get("num_shared_experts"):
            n_shared = c.int("n_shared_experts", "moe_num_shared_experts", "num_shared_experts", hi=MAX_EXPERTS)
            n_ff_shexp = n_shared * n_ff_exp
        elif c.cfg.get("shared_expert_intermediate_size") or c.cfg.get("shared_intermediate_size"):
            n_shared = 1
            n_ff_shexp = c.int("shared_expert_intermediate_size", "shared_intermediate_size", hi=1 << 24)
        elif fam.moe == "interleave":  # Llama 4: one shared expert of intermediate_size
            n_shared, n_ff_shexp = 1, dense_ff
        if fam.moe == "interleave":
            dense_ff = c.int("intermediate_size_mlp", default=dense_ff, hi=1 << 24)
        if fam.ff_is_expert and fam.moe != "jamba":
            dense_ff = 0
    elif fam.hybrid == "granite":  # dense Granite 4 hybrid: the FFN is the "shared" MLP
        dense_ff = c.int("shared_intermediate_size", default=dense_ff, hi=1 << 24)
    if fam.hybrid == "lfm2" and c.bool("block_auto_adjust_ff_dim", False):
        # LFM2 shrinks block_ff_dim like Llama's SwiGLU sizing (transformers Lfm2MLP; llama.cpp's GGUF holds the result).
        ff = int(2 * dense_ff / 3)
        mult = c.float("block_ffn_dim_multiplier", default=1.0)
        if not 0 < mult <= 64:  # negative or zero would give a negative/empty FFN width
            raise _fail("block_ffn_dim_multiplier", f"must be a positive number up to 64, got {mult:g}")
        ff = int(mult * ff)
        mo = c.int("block_multiple_of", default=256, lo=1, hi=1 << 16)
        dense_ff = mo * ((ff + mo - 1) // mo)
    moe_layers = _moe_layers(c, fam, n_layer, n_expert)
    if moe_layers and not any(moe_layers):
        raise SizeupError("config.json: experts are declared but no layer uses them (check the MoE layer keys)")

    if fam.hybrid == "nemotron_h":  # only the "-" layers carry a dense FFN ("E" layers are MoE)
        n_ff = tuple(dense_ff if mlp_only[i] and not (moe_layers and moe_layers[i]) else 0 for i in range(n_layer))
    else:
        n_ff = tuple(0 if (moe_layers and moe_layers[i]) or ffn_free else dense_ff for i in range(n_layer))
    if ff_per_layer:
        n_ff = ff_per_layer
    n_head = tuple(0 if (kinds and kinds[i] == LAYER_RECURRENT) or mlp_only[i] else n_head_scalar for i in range(n_layer))
    n_head_kv = tuple(0 if h == 0 else n_kv_scalar for h in n_head)
    if fam.hybrid == "parallel":
        kinds = ()
        extra["parallel_ssm"] = True  # Falcon-H1: every layer has attention and a Mamba2 mixer side by side

    swa_window, swa_layers, swa_extra = (0, (), {}) if all_recurrent else _swa(c, fam, n_layer, model_type)
    extra.update(swa_extra)
    if fam.arch == "gemma3n":
        extra.update(_gemma3n_extra(c, n_layer))

    vocab = c.int("vocab_size", "padded_vocab_size", "n_vocab", lo=1, hi=1 << 24)
    ctx_default = MAMBA_CTX if all_recurrent else None
    n_ctx = c.int("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx", "model_max_length", default=ctx_default, lo=1, hi=MAX_CTX)
    if c.cfg.get("max_position_embeddings") is None and all_recurrent:
        extra["ctx_note"] = "recurrent model: no trained position limit; 2^20 as in llama.cpp's converter"
    if fam.hybrid == "rwkv7":
        # conversion/rwkv.py writes context_length 1048576 whatever the config says ("RWKV isn't context
        # limited"), and llama.cpp sizes nothing by it: keep the config's figure as a note only.
        if c.cfg.get("max_position_embeddings") is not None:
            extra["hf_max_position_embeddings"] = n_ctx
        n_ctx = MAMBA_CTX
        extra["ctx_note"] = "RWKV-7: no trained position limit; 2^20 as in llama.cpp's converter"
        extra.update(_rwkv7_lora_ranks(c, n_embd))
    tie = c.bool("tie_word_embeddings", fam.tie_default)
    n_pos = c.int("n_positions", "max_position_embeddings", default=n_ctx, lo=1, hi=MAX_CTX) if fam.learned_pos else 0

    arch = Architecture(
        name=fam.arch, n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_head_kv=n_head_kv,
        head_dim_k=head_dim_k, head_dim_v=head_dim_v, n_ff=n_ff, n_vocab=vocab, n_ctx_train=n_ctx,
        swa_window=swa_window, swa_layers=swa_layers, n_expert=n_expert, n_expert_used=n_used,
        n_expert_shared=n_shared, n_ff_exp=n_ff_exp, n_ff_shexp=n_ff_shexp, moe_layers=moe_layers,
        kv_lora_rank=kv_lora, q_lora_rank=q_lora, rope_dim=rope_dim,
        layer_kinds=kinds if any(k == LAYER_RECURRENT for k in kinds) else (),
        ssm=_ssm(c, fam, n_embd), tie_embeddings=tie, n_pos_embd=n_pos, extra=extra,
    )
    try:
        arch.validate()
    except ValueError as e:  # cannot happen with the code above; kept as a guard for future families
        raise SizeupError(f"config.json: inconsistent architecture: {e}") from None
    return arch


def family_table() -> list[tuple[str, str, str, str]]:
    """(model_type, llama.cpp arch, keys used, source) rows for docs and ``sizeup`` help."""
    return [(k, f.arch, f.keys, f.source) for k, f in sorted(FAMILIES.items())]
