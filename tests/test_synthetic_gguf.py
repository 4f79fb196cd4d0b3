"""Synthetic GGUFs: real llama.cpp loads every architecture and computes finite logits with it."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import gguf
import pytest

from sizeup.formats.gguf_model import describe_gguf
from sizeup.testing.synthetic_gguf import SUPPORTED_ARCHS, spm_vocab, synthetic_params, write_synthetic


def run_in_llama_cpp(path: Path, prompt: str = "hello world") -> tuple[int, list[float]]:
    """Load with llama.cpp (in a child process), evaluate the prompt, return (n_params, last-token logits)."""
    from sizeup.llamacpp.child import call_in_child

    r = call_in_child("sizeup.testing.llama_views:eval_last_logits", {"path": str(path), "prompt": prompt}, timeout=300)
    tokens = r["tokens"]
    assert len(tokens) >= 3 and tokens[0] == 1  # BOS, then pieces/bytes from the tiny SPM vocab
    return r["n_params"], r["logits"]


@pytest.mark.parametrize("arch", SUPPORTED_ARCHS)
def test_every_arch_loads_and_runs_in_llama_cpp(tmp_path, arch):
    path = write_synthetic(tmp_path / f"{arch}.gguf", arch)
    assert path.stat().st_size < 20 * 1024 * 1024
    n_params, logits = run_in_llama_cpp(path)
    p = synthetic_params(arch)
    assert len(logits) == p["n_vocab"]
    assert all(math.isfinite(x) for x in logits) and max(logits) != min(logits)
    # llama.cpp's parameter count is the sum over the tensors it loaded: ours must match.
    assert n_params == describe_gguf(path).params.total


@pytest.mark.parametrize("arch,overrides", [
    ("llama", {"dtype": "Q8_0"}),
    ("llama", {"dtype": "BF16", "tie_embeddings": True}),
    ("llama", {"dtype": "F32", "n_layer": 2, "n_head": 4, "n_head_kv": 4}),
    ("qwen3moe", {"n_expert": 16, "n_expert_used": 4, "n_ff_exp": 64}),
    ("deepseek2", {"q_lora_rank": 0, "n_layer": 26, "n_dense_lead": 3, "n_embd": 128, "n_expert": 4, "n_ff_exp": 64}),  # "lite": no q LoRA
    ("gemma3", {"n_layer": 7, "sliding_window": 32}),
    ("kimi-linear", {"n_layer": 6, "attn_layers": (2, 5), "n_dense_lead": 2, "kda_head_dim": 128, "dtype": "Q8_0"}),
    ("granitehybrid", {"attn_layers": (0,), "n_layer": 3}),
    ("rwkv7", {"dtype": "Q8_0", "n_layer": 2, "n_embd": 512, "head_size": 128}),  # 4 heads of 128
    ("gemma3n", {"n_layer": 12, "sliding_window": 32}),  # fewer layers than llama.cpp's first shared one: no sharing
])
def test_overrides_still_load(tmp_path, arch, overrides):
    path = write_synthetic(tmp_path / "m.gguf", arch, **overrides)
    n_params, logits = run_in_llama_cpp(path)
    assert all(math.isfinite(x) for x in logits)
    d = describe_gguf(path)
    assert n_params == d.params.total
    assert d.arch.n_layer == synthetic_params(arch, **overrides)["n_layer"]
    if "dtype" in overrides:
        assert d.quant.label == overrides["dtype"] and d.quant.check == ""


def test_split_synthetic_loads_from_first_part(tmp_path):
    first = write_synthetic(tmp_path / "s.gguf", "llama", split_max_tensors=10)
    parts = sorted(tmp_path.glob("s-*-of-*.gguf"))
    d = describe_gguf(first)
    assert first == parts[0] and len(parts) == math.ceil(len(d.tensors) / 10) and d.extra["split_count"] == len(parts)
    n_params, logits = run_in_llama_cpp(first)
    assert n_params == d.params.total
    assert all(math.isfinite(x) for x in logits)


def test_deterministic_bytes(tmp_path):
    a = write_synthetic(tmp_path / "a.gguf", "qwen3moe")
    b = write_synthetic(tmp_path / "b.gguf", "qwen3moe", name="synthetic-qwen3moe")
    c = write_synthetic(tmp_path / "c.gguf", "qwen3moe", seed=1)
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(a) == digest(b) != digest(c)


def test_tensor_names_and_shapes_follow_gguf_tables(tmp_path):
    path = write_synthetic(tmp_path / "d.gguf", "deepseek2")
    r = gguf.GGUFReader(path)
    names = {t.name: [int(x) for x in t.shape] for t in r.tensors}
    p = synthetic_params("deepseek2")
    assert names["blk.0.attn_k_b.weight"] == [p["qk_nope"], p["kv_lora_rank"], p["n_head"]]
    assert names["blk.1.ffn_down_exps.weight"] == [p["n_ff_exp"], p["n_embd"], p["n_expert"]]
    assert "blk.0.ffn_down.weight" in names and "blk.0.ffn_down_exps.weight" not in names
    assert names["token_embd.weight"] == [p["n_embd"], p["n_vocab"]]


def test_vocab_and_parameter_validation(tmp_path):
    tokens, scores, types = spm_vocab(400)
    assert len(tokens) == len(set(tokens)) == len(scores) == len(types) == 400
    assert tokens[:3] == ["<unk>", "<s>", "</s>"] and types[3:259] == [6] * 256
    with pytest.raises(ValueError, match="unknown parameter"):
        write_synthetic(tmp_path / "x.gguf", "llama", n_experts=4)
    with pytest.raises(ValueError, match="no synthetic builder"):
        write_synthetic(tmp_path / "x.gguf", "bloom")
    with pytest.raises(ValueError, match="multiple of n_head_kv"):
        write_synthetic(tmp_path / "x.gguf", "llama", n_head_kv=3)
    with pytest.raises(ValueError, match="d_inner == 2"):
        write_synthetic(tmp_path / "x.gguf", "granitehybrid", d_inner=256)
    with pytest.raises(ValueError, match="multiple of head_size"):
        write_synthetic(tmp_path / "x.gguf", "rwkv7", head_size=96)
    assert not (tmp_path / "x.gguf").exists()
