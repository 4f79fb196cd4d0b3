"""llama.cpp's per-tensor quantization choices: hand-computed rules, then real llama-quantize runs."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from sizeup.data.ggml_types import LLAMA_FILE_TYPE_IDS
from sizeup.errors import SizeupError
from sizeup.estimate.quant_mix import (
    allows_quantization,
    category,
    fallback,
    llama_order,
    n_dims,
    predict_type_map,
    tensor_type,
    use_more_bits,
)
from sizeup.estimate.weights_predict import (
    estimate_metadata_bytes,
    gguf_file_size,
    metadata_bytes_of,
    predict_tensors,
    requantized_tensors,
    tensor_nbytes,
)
from sizeup.formats.gguf_reader import read_gguf
from sizeup.layout import predict_tensors as layout
from sizeup.testing.architectures import dense

SMOLLM2 = dense("llama", 30, 576, 9, 3, 64, 1536, 49152, True)
GEMMA3_270M = dense("gemma3", 18, 640, 4, 1, 256, 2048, 262144, True, swa_window=512)
LLAMA31_8B = dense("llama", 32, 4096, 32, 8, 128, 14336, 128256, False)
MIXTRAL = dense("llama", 32, 4096, 32, 8, 128, 0, 32000, False, n_expert=8, n_expert_used=2, n_ff_exp=14336)
GPT_OSS_20B = dense("gpt-oss", 24, 2880, 64, 8, 64, 0, 201088, False, n_expert=32, n_expert_used=4, n_ff_exp=2880)


# --- the building blocks ---------------------------------------------------------------------

def test_rule_tables_name_real_types():
    from sizeup.data.ggml_types import GGML_TYPES_BY_NAME, LLAMA_FILE_TYPES
    from sizeup.data.quant_mix_rules import COMMON_FTYPES, FALLBACK_TYPE, FTYPE_DEFAULT_TYPE, IMATRIX_FTYPES

    assert set(FTYPE_DEFAULT_TYPE) <= set(LLAMA_FILE_TYPES.values())
    assert set(COMMON_FTYPES) | set(IMATRIX_FTYPES) <= set(FTYPE_DEFAULT_TYPE)
    for a, b in list(FTYPE_DEFAULT_TYPE.items()) + list(FALLBACK_TYPE.items()):
        assert b in GGML_TYPES_BY_NAME, (a, b)
    # A fallback always has a smaller block than the type it replaces.
    assert all(GGML_TYPES_BY_NAME[b].block_size < GGML_TYPES_BY_NAME[a].block_size for a, b in FALLBACK_TYPE.items())


def test_use_more_bits_pattern():
    # 32 layers: first 4, last 4, and every third from layer 6 (= 4 + 2).
    assert [i for i in range(32) if use_more_bits(i, 32)] == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]
    # 30 layers: n/8 = 3, 7n/8 = 26.
    assert [i for i in range(30) if use_more_bits(i, 30)] == [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29]


@pytest.mark.parametrize("ne0,target,expect", [
    (4096, "Q4_K", "Q4_K"), (640, "Q4_K", "Q5_0"), (576, "Q6_K", "Q8_0"), (576, "Q5_K", "Q5_1"),
    (576, "Q2_K", "Q4_0"), (576, "IQ4_XS", "IQ4_NL"), (100, "Q4_K", "F16"), (100, "Q8_0", "F16"),
    (2880, "MXFP4", "MXFP4"), (64, "Q4_0", "Q4_0"),
])
def test_fallback(ne0, target, expect):
    assert fallback(ne0, target) == expect


def test_categories_and_quantizability():
    assert category("output.weight") == "output" and category("token_embd.weight") == "token_embd"
    assert category("blk.3.attn_v.weight") == "attn_v" and category("blk.3.attn_kv_b.weight") == "attn_kv_b"
    assert category("blk.3.attn_k_b.weight") == "other"  # MLA's split halves are not attn_k/attn_v
    assert category("blk.3.ffn_down_exps.weight") == "ffn_down" and category("blk.3.ffn_gate_inp.weight") == "ffn_gate"
    assert n_dims((1, 80)) == 2 and n_dims((576, 1)) == 1 and n_dims((64, 8, 1)) == 2
    assert allows_quantization("blk.0.attn_q.weight", (576, 576))
    for name, shape in [("blk.0.attn_norm.weight", (576,)), ("blk.0.ssm_norm.weight", (128, 8)),
                        ("blk.0.ffn_gate_inp.weight", (2048, 128)), ("blk.0.ssm_conv1d.weight", (4, 5376)),
                        ("blk.0.ssm_a", (1, 80)), ("blk.0.ffn_gate_exps.bias", (2880, 32)),
                        ("position_embd.weight", (768, 1024)), ("blk.0.attn_q.bias", (576,))]:
        assert not allows_quantization(name, shape), name


def test_llama_order_is_llama_cpp_loader_order():
    names = ["blk.10.attn_v.weight", "output.weight", "blk.2.attn_v.weight", "blk.2.attn_k.weight", "token_embd.weight"]
    assert llama_order(names) == ["output.weight", "token_embd.weight", "blk.2.attn_k.weight", "blk.2.attn_v.weight",
                                  "blk.10.attn_v.weight"]


# --- hand-computed mixes from llama-quant.cpp's rules -------------------------------------------

def test_llama_8b_q4_k_m():
    m = predict_type_map(layout(LLAMA31_8B), LLAMA31_8B, "Q4_K_M")
    assert m["output.weight"] == "Q6_K" and m["token_embd.weight"] == "Q4_K"
    more = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}
    for i in range(32):
        want = "Q6_K" if i in more else "Q4_K"
        assert m[f"blk.{i}.attn_v.weight"] == want and m[f"blk.{i}.ffn_down.weight"] == want
        assert m[f"blk.{i}.attn_q.weight"] == m[f"blk.{i}.ffn_up.weight"] == "Q4_K"
        assert m[f"blk.{i}.attn_norm.weight"] == "F32"


def test_llama_8b_q3_k_m_and_q2_k():
    m = predict_type_map(layout(LLAMA31_8B), LLAMA31_8B, "Q3_K_M")
    assert [m[f"blk.{i}.attn_v.weight"] for i in range(4)] == ["Q5_K", "Q5_K", "Q4_K", "Q4_K"]
    assert [m[f"blk.{i}.ffn_down.weight"] for i in range(4)] == ["Q5_K", "Q5_K", "Q4_K", "Q4_K"]
    assert m["blk.5.attn_output.weight"] == "Q4_K" and m["blk.5.attn_q.weight"] == "Q3_K"
    m = predict_type_map(layout(LLAMA31_8B), LLAMA31_8B, "Q2_K")
    assert m["blk.0.attn_v.weight"] == "Q4_K"  # 4 query heads per KV head
    assert m["blk.0.ffn_down.weight"] == "Q3_K" and m["blk.0.attn_output.weight"] == "Q3_K"
    assert m["blk.0.ffn_gate.weight"] == "Q2_K" and m["output.weight"] == "Q6_K"


@pytest.mark.parametrize("ftype", ["Q4_K_M", "Q3_K_M", "Q2_K", "IQ3_XS", "IQ4_XS"])
def test_single_tensor_calls_agree_with_whole_model(ftype):
    # tensor_type() derives llama.cpp's running counters from the layer number.
    for arch in (LLAMA31_8B, MIXTRAL, GEMMA3_270M):
        tensors = layout(arch)
        whole = predict_type_map(tensors, arch, ftype)
        assert {n: tensor_type(n, s, arch, ftype) for n, s in tensors} == whole


def test_70b_gets_more_bits_on_attn_v():
    l70 = dense("llama", 80, 8192, 64, 8, 128, 28672, 128256, False)
    assert tensor_type("blk.40.attn_v.weight", (8192, 1024), l70, "Q3_K_S") == "Q5_K"
    assert tensor_type("blk.40.attn_v.weight", (4096, 1024), LLAMA31_8B, "Q3_K_S") == "Q3_K"


def test_eight_expert_moe_rules():
    m = predict_type_map(layout(MIXTRAL), MIXTRAL, "Q4_K_M")
    assert m["blk.7.attn_v.weight"] == m["blk.7.attn_k.weight"] == "Q8_0"
    assert m["blk.7.attn_output.weight"] == "Q5_K"
    assert m["blk.0.ffn_down_exps.weight"] == "Q6_K" and m["blk.4.ffn_down_exps.weight"] == "Q4_K"
    assert m["blk.0.ffn_gate_inp.weight"] == "F32"


def test_mxfp4_moe():
    m = predict_type_map(layout(GPT_OSS_20B), GPT_OSS_20B, "MXFP4_MOE")
    assert m["blk.0.ffn_gate_exps.weight"] == m["blk.0.ffn_down_exps.weight"] == "MXFP4"
    assert m["blk.0.attn_q.weight"] == m["output.weight"] == m["token_embd.weight"] == "Q8_0"
    assert m["blk.0.attn_sinks.weight"] == m["blk.0.ffn_gate_exps.bias"] == "F32"


def test_f16_and_unknown_types():
    m = predict_type_map(layout(SMOLLM2), SMOLLM2, "F16")
    assert m["token_embd.weight"] == m["blk.0.attn_q.weight"] == "F16" and m["blk.0.ffn_norm.weight"] == "F32"
    with pytest.raises(SizeupError):
        predict_type_map(layout(SMOLLM2), SMOLLM2, "Q4_K_XL")


def test_tensor_bytes():
    assert tensor_nbytes("Q4_K", (4096, 4096)) == 4096 * 16 * 144
    assert tensor_nbytes("Q8_0", (640, 262144)) == 262144 * 20 * 34
    assert tensor_nbytes("F32", (576,)) == 2304
    with pytest.raises(SizeupError):
        tensor_nbytes("Q4_K", (640, 10))


def test_llama_8b_q4_k_m_size_is_plausible():
    # Published Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf files are 4.92 GB.
    size = sum(t.n_bytes for t in predict_tensors(LLAMA31_8B, "Q4_K_M"))
    assert 4.80e9 < size < 4.95e9


# --- against real llama.cpp -----------------------------------------------------------------

# IQ4_XS/IQ4_NL/IQ3_* of these two take minutes to quantize on a small machine (their 576- and
# 640-wide rows fall back to IQ4_NL, a slow search); the synthetic-family test below covers
# IQ4_XS and benchmarks/quant_mix_validation.py runs the full matrix on these two models.
FTYPES = ["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K"]


def _quantize(src: Path, dst: Path, ftype: str) -> None:
    from sizeup.llamacpp.child import call_in_child

    rc = call_in_child("sizeup.testing.llama_views:quantize_with_llama_cpp",
                       {"src": str(src), "dst": str(dst), "ftype_id": LLAMA_FILE_TYPE_IDS[ftype],
                        "allow_requantize": True,  # the test models ship quantized
                        "nthread": os.cpu_count() or 1}, timeout=900)
    assert rc == 0, f"llama_model_quantize {ftype} failed"


@pytest.fixture(scope="session")
def quantized(tmp_path_factory, smollm2_path, gemma3_path):
    """(model, ftype) -> path of the real llama.cpp output, made once per session."""
    out = tmp_path_factory.mktemp("quantized")
    made: dict[tuple[str, str], Path] = {}

    def get(key: str, ftype: str) -> Path:
        if (key, ftype) not in made:
            dst = out / f"{key}.{ftype}.gguf"
            _quantize(smollm2_path if key == "smollm2" else gemma3_path, dst, ftype)
            made[key, ftype] = dst
        return made[key, ftype]

    return get


@pytest.mark.parametrize("key", ["smollm2", "gemma3"])
@pytest.mark.parametrize("ftype", FTYPES)
def test_matches_llama_quantize(key, ftype, quantized, smollm2_path, gemma3_path):
    src_path, arch = (smollm2_path, SMOLLM2) if key == "smollm2" else (gemma3_path, GEMMA3_270M)
    src = read_gguf(src_path)
    real = read_gguf(quantized(key, ftype))
    real_types = {t.name: t.type_name for t in real.tensors}

    # From the existing file: every tensor's new type, and the file size to the byte.
    re_t = requantized_tensors(src.tensor_infos(), arch, ftype)
    assert {t.name: t.dtype for t in re_t} == real_types
    assert {t.name: t.n_bytes for t in re_t} == {t.name: t.n_bytes for t in real.tensors}
    assert gguf_file_size(re_t, metadata_bytes_of(src.data_offset, src.tensor_infos())) == real.file_size

    # From the architecture alone: same types; size within 1% with estimated metadata.
    pr_t = predict_tensors(arch, ftype)
    assert {t.name: t.dtype for t in pr_t} == real_types
    meta = estimate_metadata_bytes(arch.n_vocab, src.get("tokenizer.ggml.model"))
    assert abs(gguf_file_size(pr_t, meta) - real.file_size) / real.file_size < 0.01


def test_requantize_keeps_unquantizable_types():
    infos = [t for t in predict_tensors(dataclasses.replace(SMOLLM2, n_layer=1, n_head=(9,), n_head_kv=(3,),
                                                            n_ff=(1536,)), "Q8_0")]
    # Pretend the norms were stored as F16 in the source: llama.cpp copies them unchanged.
    infos = [dataclasses.replace(t, dtype="F16", n_bytes=t.n_elements * 2) if "norm" in t.name else t for t in infos]
    arch1 = dataclasses.replace(SMOLLM2, n_layer=1, n_head=(9,), n_head_kv=(3,), n_ff=(1536,))
    out = {t.name: t.dtype for t in requantized_tensors(infos, arch1, "Q4_K_M")}
    assert out["blk.0.attn_norm.weight"] == "F16" and out["blk.0.attn_q.weight"] == "Q5_0"


# Tiny files of every family (n_embd 256: no fallbacks hide the k-quant rules; 8-expert MoE
# rules, MLA, recurrent layers, RWKV-7's never-quantized low-rank projections), quantized by real llama.cpp.
SYNTHETIC = ["llama", "qwen3", "qwen3moe", "deepseek2", "kimi-linear", "gemma2", "gemma3", "gpt-oss", "jamba", "mamba2",
             "granitehybrid", "rwkv7", "gemma3n"]  # gemma3n: the per-layer embedding table, AltUp/LAuReL kept as is


@pytest.mark.parametrize("family", SYNTHETIC)
def test_synthetic_families_match_llama_quantize(family, tmp_path):
    from sizeup.formats.gguf_model import architecture_from_gguf
    from sizeup.testing.synthetic_gguf import write_synthetic

    src_path = write_synthetic(tmp_path / f"{family}.gguf", family)
    src = read_gguf(src_path)
    arch = architecture_from_gguf(src.kv, src.tensors)
    ftypes = ["Q4_K_M", "Q3_K_M", "Q2_K", "IQ4_XS"] + (["MXFP4_MOE"] if arch.n_expert else [])
    for ftype in ftypes:
        dst = tmp_path / f"{family}.{ftype}.gguf"
        _quantize(src_path, dst, ftype)
        real = read_gguf(dst)
        re_t = requantized_tensors(src.tensor_infos(), arch, ftype)
        assert {t.name: t.dtype for t in re_t} == {t.name: t.type_name for t in real.tensors}, ftype
        # Data section to the byte (32-byte padded tensors). The metadata of these gguf-py-written
        # files does not round-trip byte for byte through llama.cpp, so it is not compared here.
        assert sum((t.n_bytes + 31) // 32 * 32 for t in re_t) == real.file_size - real.data_offset, ftype
        if family in ("rwkv7", "gemma3n", "kimi-linear"):  # catalog models have no file: the mix from the architecture alone
            pr_t = predict_tensors(arch, ftype)
            assert {t.name: t.dtype for t in pr_t} == {t.name: t.type_name for t in real.tensors}, ftype
