"""safetensors header parsing and HF directory description, on real files written in tmp dirs."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from sizeup.errors import BadModelFile, SizeupError
from sizeup.formats.safetensors import (
    describe_hf_dir, describe_safetensors_file, parse_header, read_header, resolve_hf_dir,
)

TINY_CFG = {
    "model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
    "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 100, "max_position_embeddings": 2048,
    "tie_word_embeddings": False, "torch_dtype": "float16",
}


def tiny_llama(dtype=np.float16, n_layer=2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = {"model.embed_tokens.weight": rng.standard_normal((100, 64)).astype(dtype),
         "lm_head.weight": rng.standard_normal((100, 64)).astype(dtype),
         "model.norm.weight": np.ones(64, dtype)}
    for i in range(n_layer):
        p = f"model.layers.{i}."
        t[p + "self_attn.q_proj.weight"] = rng.standard_normal((64, 64)).astype(dtype)
        t[p + "self_attn.k_proj.weight"] = rng.standard_normal((32, 64)).astype(dtype)
        t[p + "self_attn.v_proj.weight"] = rng.standard_normal((32, 64)).astype(dtype)
        t[p + "self_attn.o_proj.weight"] = rng.standard_normal((64, 64)).astype(dtype)
        t[p + "mlp.gate_proj.weight"] = rng.standard_normal((128, 64)).astype(dtype)
        t[p + "mlp.up_proj.weight"] = rng.standard_normal((128, 64)).astype(dtype)
        t[p + "mlp.down_proj.weight"] = rng.standard_normal((64, 128)).astype(dtype)
        t[p + "input_layernorm.weight"] = np.ones(64, dtype)
    return t


def n_params(t: dict[str, np.ndarray]) -> int:
    return sum(int(a.size) for a in t.values())


def test_single_file_dir(tmp_path: Path):
    t = tiny_llama()
    save_file(t, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    (tmp_path / "config.json").write_text(json.dumps(TINY_CFG))
    (tmp_path / "README.md").write_text("---\nlanguage: en\nlicense: apache-2.0\n---\n# tiny\n")
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "byte_fallback": True, "vocab": {"a": 0}}}))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    d = describe_hf_dir(tmp_path)
    assert d.source == "safetensors" and d.arch.name == "llama" and d.arch.n_layer == 2
    assert d.params.total == n_params(t) and d.params.output == 6400 and d.params.embedding == 6400
    assert d.quant.label == "F16" and d.quant.bits_per_weight == pytest.approx(16.0)
    assert d.license.id == "apache-2.0" and d.license.openness == "open-source"
    assert d.tokenizer.model == "llama" and d.tokenizer.has_chat_template and d.tokenizer.n_vocab == 100
    assert d.file_size == (tmp_path / "model.safetensors").stat().st_size
    assert d.extra["safetensors_metadata"] == {"format": "pt"}
    assert "transformers" in d.runtimes


def write_sharded(folder: Path, t: dict[str, np.ndarray]) -> dict[str, str]:
    names = sorted(t)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    wm = {}
    for fname, keys in shards.items():
        save_file({k: t[k] for k in keys}, str(folder / fname))
        wm.update({k: fname for k in keys})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wm}))
    (folder / "config.json").write_text(json.dumps(TINY_CFG))
    return wm


def test_sharded_dir(tmp_path: Path):
    t = tiny_llama(np.float32)
    write_sharded(tmp_path, t)
    d = describe_hf_dir(tmp_path)
    assert len(d.files) == 2 and d.params.total == n_params(t) and d.quant.label == "F32"
    assert d.file_size == sum((tmp_path / f).stat().st_size for f in os.listdir(tmp_path) if f.endswith(".safetensors"))


def test_missing_shard_named(tmp_path: Path):
    write_sharded(tmp_path, tiny_llama())
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(BadModelFile, match="model-00002-of-00002.safetensors.*missing"):
        describe_hf_dir(tmp_path)


def test_index_path_traversal_rejected(tmp_path: Path):
    write_sharded(tmp_path, tiny_llama())
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "../etc/passwd"}}))
    with pytest.raises(BadModelFile, match="invalid shard name"):
        describe_hf_dir(tmp_path)


def test_hf_cache_layout_with_symlinks(tmp_path: Path):
    repo = tmp_path / "hub" / "models--TinyOrg--tiny-llama"
    blobs = repo / "blobs"
    blobs.mkdir(parents=True)
    staging = tmp_path / "staging"
    staging.mkdir()
    t = tiny_llama()
    save_file(t, str(staging / "model.safetensors"))
    (staging / "config.json").write_text(json.dumps(TINY_CFG))
    (staging / "README.md").write_text("---\nlicense: other\nlicense_name: gemma\n---\n")
    rev = "0123456789abcdef0123456789abcdef01234567"
    snap = repo / "snapshots" / rev
    snap.mkdir(parents=True)
    for i, f in enumerate(sorted(staging.iterdir())):
        blob = blobs / f"{i:064x}"
        blob.write_bytes(f.read_bytes())
        (snap / f.name).symlink_to(os.path.relpath(blob, snap))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(rev)
    d = describe_hf_dir(repo)
    assert d.extra["repo_id"] == "TinyOrg/tiny-llama" and d.name == "TinyOrg/tiny-llama"
    assert d.params.total == n_params(t) and d.license.id == "gemma" and d.license.openness == "open-weights"
    assert d.file_size == (snap / "model.safetensors").stat().st_size > 1000
    d2 = describe_hf_dir(snap)  # a snapshot dir alone also knows its repo
    assert d2.extra["repo_id"] == "TinyOrg/tiny-llama"
    (repo / "refs" / "main").write_text("not-a-hash")
    with pytest.raises(BadModelFile, match="not a commit hash"):
        resolve_hf_dir(repo)


def test_gptq_packed_counts_logical_params(tmp_path: Path):
    """GPTQ 4-bit: qweight int32 [in/8, out] holds in*out weights; scales/qzeros/g_idx are overhead."""
    t = tiny_llama()
    rng = np.random.default_rng(1)
    logical = n_params(t)
    for i in range(2):
        for proj, (out_f, in_f) in {"self_attn.q_proj": (64, 64), "mlp.up_proj": (128, 64)}.items():
            p = f"model.layers.{i}.{proj}"
            del t[p + ".weight"]
            t[p + ".qweight"] = rng.integers(0, 2**31, (in_f // 8, out_f), dtype=np.int32)
            t[p + ".qzeros"] = rng.integers(0, 2**31, (in_f // 32, out_f // 8), dtype=np.int32)
            t[p + ".scales"] = np.ones((in_f // 32, out_f), np.float16)
            t[p + ".g_idx"] = np.arange(in_f, dtype=np.int32) // 32
    save_file(t, str(tmp_path / "model.safetensors"))
    cfg = dict(TINY_CFG, quantization_config={"quant_method": "gptq", "bits": 4, "group_size": 32})
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    d = describe_hf_dir(tmp_path)
    assert d.quant.label == "GPTQ 4-bit" and d.quant.method == "gptq" and d.quant.label_source == "quantization_config"
    assert d.params.total == logical
    qw = next(x for x in d.tensors if x.name.endswith("0.self_attn.q_proj.qweight"))
    assert qw.n_elements == 64 * 64 and qw.bits_per_weight == 4.0
    assert 4.0 < d.quant.bits_per_weight < 16.0


def test_awq_and_fp8_labels(tmp_path: Path):
    t = {"model.layers.0.mlp.up_proj.qweight": np.zeros((64, 16), np.int32),
         "model.layers.0.mlp.up_proj.scales": np.ones((2, 128), np.float16),
         "model.embed_tokens.weight": np.zeros((100, 64), np.float16)}
    save_file(t, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(dict(TINY_CFG, num_hidden_layers=1, quantization_config={"quant_method": "awq", "bits": 4})))
    d = describe_hf_dir(tmp_path)
    assert d.quant.label == "AWQ 4-bit" and d.params.total == 64 * 16 * 8 + 6400
    (tmp_path / "config.json").write_text(json.dumps(dict(TINY_CFG, num_hidden_layers=1, quantization_config={"quant_method": "fp8"})))
    assert describe_hf_dir(tmp_path).quant.label == "FP8"


def test_lone_file_guesses_architecture(tmp_path: Path):
    t = tiny_llama(np.float16, n_layer=3)
    t["model.layers.0.self_attn.q_norm.weight"] = np.ones(16, np.float16)
    save_file(t, str(tmp_path / "weights.safetensors"))
    d = describe_safetensors_file(tmp_path / "weights.safetensors")
    assert d.arch.n_layer == 3 and d.arch.n_embd == 64 and d.arch.n_vocab == 100
    assert d.arch.head_dim_k == 16 and d.arch.n_head_max == 4 and d.arch.n_head_kv_max == 2 and d.arch.n_ff[0] == 128
    assert any("guessed" in w for w in d.warnings)
    assert d.name == "weights"


def test_no_weights_hint(tmp_path: Path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(BadModelFile, match="pickle"):
        describe_hf_dir(tmp_path)


# --- malformed headers -----------------------------------------------------------------------
def raw_file(tmp_path: Path, header: bytes | dict, data: bytes = b"", length: int | None = None) -> Path:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    p = tmp_path / "bad.safetensors"
    p.write_bytes(struct.pack("<Q", len(h) if length is None else length) + h + data)
    return p


@pytest.mark.parametrize(
    "header, data, length, msg",
    [
        ({}, b"", 10**6, "past the end"),
        ({}, b"", 2**63, "limit"),
        (b"{not json", b"", None, "not valid JSON"),
        (b"\xff\xfe", b"", None, "not valid JSON"),
        (b"[1,2]", b"", None, "not a JSON object"),
        (b"[" * 100000 + b"]" * 100000, b"", None, "JSON"),
        ({"a": {"dtype": "F17", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, None, "unknown dtype"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}}, b"\0" * 8, None, "outside"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, None, "shape"),
        ({"a": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 4]}}, b"\0" * 4, None, "larger than"),
        ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 12, None, "needs 12 bytes"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12, None, "overlap"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4, None, "outside"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, True]}}, b"\0" * 4, None, "two integers"),
        ({"a": [1, 2]}, b"", None, "not a JSON object"),
        ({"__metadata__": {"k": 1}}, b"", None, "__metadata__"),
        ({"a": {"dtype": "F32", "shape": [1] * 20, "data_offsets": [0, 4]}}, b"\0" * 4, None, "shape"),
    ],
)
def test_malformed(tmp_path: Path, header, data, length, msg):
    p = raw_file(tmp_path, header, data, length)
    with pytest.raises(BadModelFile, match=msg) as e:
        read_header(p)
    assert "\n" not in str(e.value)


def test_tiny_and_empty_files(tmp_path: Path):
    for content in (b"", b"\x01\x02"):
        p = tmp_path / "x.safetensors"
        p.write_bytes(content)
        with pytest.raises(BadModelFile, match="too small"):
            read_header(p)


def test_parse_matches_safetensors_package(tmp_path: Path):
    t = tiny_llama(np.float32)
    save_file(t, str(tmp_path / "m.safetensors"))
    h = read_header(tmp_path / "m.safetensors")
    assert {x.name: x.shape for x in h.tensors} == {k: v.shape for k, v in t.items()}
    raw = (tmp_path / "m.safetensors").read_bytes()
    for x in h.tensors:  # offsets point at the real bytes
        np.testing.assert_array_equal(np.frombuffer(raw[x.offset : x.offset + x.n_bytes], np.float32).reshape(x.shape), t[x.name])
    assert parse_header(raw[: h.data_start], len(raw)).header_len == h.header_len


def test_bad_config_is_one_line(tmp_path: Path):
    save_file(tiny_llama(), str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(dict(TINY_CFG, num_hidden_layers="two")))
    with pytest.raises(SizeupError, match="num_hidden_layers"):
        describe_hf_dir(tmp_path)


def test_bitsandbytes_compressed_tensors_mxfp4(tmp_path: Path):
    one = dict(TINY_CFG, num_hidden_layers=1)
    emb = np.zeros((100, 64), np.float16)
    # bitsandbytes nf4: uint8 [n/2, 1] plus absmax/quant_map/quant_state overhead
    t = {"model.embed_tokens.weight": emb,
         "model.layers.0.mlp.up_proj.weight": np.zeros((128 * 64 // 2, 1), np.uint8),
         "model.layers.0.mlp.up_proj.weight.absmax": np.ones(128, np.float32),
         "model.layers.0.mlp.up_proj.weight.quant_map": np.ones(16, np.float32),
         "model.layers.0.mlp.up_proj.weight.quant_state.bitsandbytes__nf4": np.zeros(40, np.uint8)}
    save_file(t, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(dict(one, quantization_config={
        "quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"})))
    d = describe_hf_dir(tmp_path)
    assert d.quant.label == "bitsandbytes 4-bit (nf4)" and d.params.total == 6400 + 128 * 64
    # compressed-tensors pack-quantized int4: int32 [out, in/8]
    t = {"model.embed_tokens.weight": emb,
         "model.layers.0.mlp.up_proj.weight_packed": np.zeros((128, 8), np.int32),
         "model.layers.0.mlp.up_proj.weight_scale": np.ones((128, 2), np.float16),
         "model.layers.0.mlp.up_proj.weight_shape": np.array([128, 64], np.int64)}
    save_file(t, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(dict(one, quantization_config={
        "quant_method": "compressed-tensors", "format": "pack-quantized",
        "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "int", "group_size": 32}}}})))
    d = describe_hf_dir(tmp_path)
    assert d.quant.label == "compressed-tensors int4" and d.params.total == 6400 + 128 * 64
    # gpt-oss MXFP4: *_blocks uint8 hold two 4-bit values per byte, *_scales are overhead
    t = {"model.embed_tokens.weight": emb,
         "model.layers.0.mlp.experts.gate_up_proj_blocks": np.zeros((4, 128, 2, 16), np.uint8),
         "model.layers.0.mlp.experts.gate_up_proj_scales": np.zeros((4, 128, 2), np.uint8)}
    save_file(t, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(dict(one, quantization_config={"quant_method": "mxfp4"})))
    d = describe_hf_dir(tmp_path)
    assert d.quant.label == "MXFP4" and d.params.expert == 4 * 128 * 64 and d.params.total == 6400 + 4 * 128 * 64
