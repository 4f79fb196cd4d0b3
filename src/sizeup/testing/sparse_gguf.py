"""Real-size GGUF models whose weights are all zero and cost no disk: a header, then a hole.

Why: speed and memory at 1B-70B scale depend only on tensor shapes and types (llama.cpp's
kernels do not branch on weight values), so a file with a real model's exact tensor inventory
measures what the real model would, without downloading gigabytes. The tensor list comes from
sizeup's architecture -> llama.cpp quant-mix prediction (:func:`sizeup.estimate.weights_predict.
predict_tensors`, exact on real quantizations per ``benchmarks/quant_mix_validation.py``); the
header is written with gguf-py's writer, and the data region is created by extending the file
with ``truncate`` (a sparse hole reads as zeros: every quant block has scale 0, every weight 0).

Zero weights give zero logits, which is fine for timing and memory; the page cache still fills
when llama.cpp reads the hole, so RSS behaves as with a real file.
"""

from __future__ import annotations

from pathlib import Path

from ..model import Architecture, TensorInfo

GGUF_ALIGNMENT = 32
MAX_VOCAB = 1 << 20


def _pad(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _extra_tensors(arch: Architecture) -> list[TensorInfo]:
    """Small tensors llama.cpp requires that the size predictor leaves out (they are F32 vectors)."""
    out = []
    if arch.name == "qwen2moe":  # the shared expert's sigmoid gate
        for il in range(arch.n_layer):
            out.append(TensorInfo(f"blk.{il}.ffn_gate_inp_shexp.weight", (arch.n_embd,), "F32", arch.n_embd,
                                  4 * arch.n_embd))
    return out


def _metadata(w, arch: Architecture) -> None:
    a = arch.name
    w.add_uint32(f"{a}.context_length", int(arch.n_ctx_train))
    w.add_uint32(f"{a}.embedding_length", int(arch.n_embd))
    w.add_uint32(f"{a}.block_count", int(arch.n_layer))
    w.add_uint32(f"{a}.feed_forward_length", int(max(arch.n_ff) if arch.n_ff else 0))
    w.add_uint32(f"{a}.attention.head_count", int(arch.n_head_max))
    w.add_uint32(f"{a}.attention.head_count_kv", int(arch.n_head_kv_max))
    w.add_uint32(f"{a}.attention.key_length", int(arch.head_dim_k))
    w.add_uint32(f"{a}.attention.value_length", int(arch.head_dim_v))
    w.add_uint32(f"{a}.rope.dimension_count", int(arch.rope_dim or arch.head_dim_k))
    w.add_float32(f"{a}.rope.freq_base", 500000.0 if a == "llama" else 1000000.0)
    w.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_uint32(f"{a}.vocab_size", int(arch.n_vocab))
    if arch.n_expert:
        w.add_uint32(f"{a}.expert_count", int(arch.n_expert))
        w.add_uint32(f"{a}.expert_used_count", int(arch.n_expert_used))
        w.add_uint32(f"{a}.expert_feed_forward_length", int(arch.n_ff_exp))
        if arch.n_ff_shexp:
            w.add_uint32(f"{a}.expert_shared_feed_forward_length", int(arch.n_ff_shexp))
    if arch.swa_window:
        w.add_uint32(f"{a}.attention.sliding_window", int(arch.swa_window))


def write_sparse_gguf(path: str | Path, arch: Architecture, tensors: list[TensorInfo], ftype_id: int,
                      name: str = "sparse") -> Path:
    """Write ``tensors`` (ggml shapes, ne0 first) for ``arch`` as a zero-weight sparse GGUF."""
    import gguf
    import numpy as np

    from .synthetic_gguf import spm_vocab

    if not 0 < arch.n_vocab <= MAX_VOCAB:
        raise ValueError(f"vocabulary of {arch.n_vocab} tokens is out of range")
    path = Path(path)
    tensors = list(tensors) + _extra_tensors(arch)
    w = gguf.GGUFWriter(path, arch.name)
    w.add_string("general.name", name)
    w.add_string("general.type", "model")
    w.add_file_type(int(ftype_id))
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _metadata(w, arch)
    tokens, scores, types = spm_vocab(arch.n_vocab)
    w.add_string("tokenizer.ggml.model", "llama")
    w.add_string("tokenizer.ggml.pre", "default")
    w.add_array("tokenizer.ggml.tokens", tokens)
    w.add_array("tokenizer.ggml.scores", scores)
    w.add_array("tokenizer.ggml.token_type", types)
    w.add_uint32("tokenizer.ggml.bos_token_id", 1)
    w.add_uint32("tokenizer.ggml.eos_token_id", 2)
    w.add_uint32("tokenizer.ggml.unknown_token_id", 0)
    data = 0
    for t in tensors:
        qt = gguf.GGMLQuantizationType[t.dtype.upper()]
        w.add_tensor_info(t.name, tuple(reversed(t.shape)), np.dtype(np.float32), int(t.n_bytes), raw_dtype=qt)
        data += _pad(int(t.n_bytes), GGUF_ALIGNMENT)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    header = path.stat().st_size
    total = _pad(header, GGUF_ALIGNMENT) + data
    with open(path, "r+b") as f:
        f.truncate(total)
    return path


def write_catalog_model(path: str | Path, model_id: str, ftype: str) -> Path:
    """A zero-weight sparse GGUF of catalog model ``model_id`` quantized as ``ftype`` (e.g. Q4_K_M)."""
    from ..data.ggml_types import LLAMA_FILE_TYPE_IDS
    from ..sources.dispatch import describe
    from ..estimate.weights_predict import predict_tensors

    md = describe(model_id)
    if md.arch is None:
        raise ValueError(f"{model_id}: no architecture")
    ts = predict_tensors(md.arch, ftype)
    return write_sparse_gguf(path, md.arch, ts, LLAMA_FILE_TYPE_IDS[ftype.upper()], name=f"{model_id} {ftype} (zero)")
