"""describe(): from what the user typed to a ModelDescription, on real files and real layouts.

The layout builders here (toy GGUFs written with gguf.GGUFWriter, an HF cache written with the
safetensors package, an Ollama store) are reused by test_scan.py and test_inspect_cli.py.
Expected facts come from what the builders wrote or from gguf.GGUFReader, never from sizeup.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sizeup.sources.dispatch import dir_candidates, describe, hf_cache_dir, safety, sniff
from sizeup.errors import BadModelFile, NotFound, SizeupError

# --- oracle: gguf.GGUFReader --------------------------------------------------------------------

ORACLE_VERSION = 2  # bump when gguf_oracle() changes, so cached oracles are recomputed


def _gguf_oracle_uncached(path: Path) -> dict:
    import gguf

    r = gguf.GGUFReader(str(path))

    def val(key, default=None):
        f = r.fields.get(key)
        return f.contents() if f is not None else default

    arch = val("general.architecture")
    tensors = [
        {"name": t.name, "type": t.tensor_type.name, "n_elements": int(t.n_elements), "n_bytes": int(t.n_bytes),
         "ne": [int(d) for d in t.shape]}
        for t in r.tensors
    ]
    return {
        "arch": arch,
        "name": val("general.name"),
        "license": val("general.license"),
        "file_type": val("general.file_type"),
        "n_layer": val(f"{arch}.block_count"),
        "n_ctx": val(f"{arch}.context_length"),
        "n_embd": val(f"{arch}.embedding_length"),
        "n_ff": val(f"{arch}.feed_forward_length"),
        "n_head": val(f"{arch}.attention.head_count"),
        "n_head_kv": val(f"{arch}.attention.head_count_kv"),
        "key_length": val(f"{arch}.attention.key_length"),
        "sliding_window": val(f"{arch}.attention.sliding_window"),
        "n_vocab": len(r.fields["tokenizer.ggml.tokens"].data),
        "tokenizer_model": val("tokenizer.ggml.model"),
        "has_chat_template": "tokenizer.chat_template" in r.fields,
        "tensors": tensors,
        "total_params": sum(t["n_elements"] for t in tensors),
        "file_size": path.stat().st_size,
    }


def gguf_oracle(path: Path, cache) -> dict:
    """GGUFReader facts of a pinned test model; cached in pytest's cache by file identity.

    GGUFReader needs 15-50 s for these files on a busy 2-core box, so its answer is kept in
    pytest's cache keyed by the file's pinned sha256 (the .sha256 stamp written by the fetcher),
    size, the gguf package version and ORACLE_VERSION.
    """
    from importlib.metadata import version

    stamp = path.with_name(path.name + ".sha256")
    ident = stamp.read_text().strip() if stamp.exists() else f"{path.stat().st_size}-{path.stat().st_mtime_ns}"
    key = "sizeup/gguf-oracle/" + hashlib.sha256(
        f"{path.name}|{ident}|{version('gguf')}|{ORACLE_VERSION}".encode()).hexdigest()[:32]
    hit = cache.get(key, None)
    if hit is None:
        hit = _gguf_oracle_uncached(path)
        cache.set(key, hit)
    return hit


# --- builders -----------------------------------------------------------------------------------


def write_toy_gguf(path: Path, *, n_layer: int = 2, n_embd: int = 64, n_head: int = 4, n_head_kv: int = 2,
                   n_ff: int = 128, n_vocab: int = 32, ctx: int = 4096, name: str = "Toy Llama",
                   split_max_tensors: int = 0, seed: int = 0) -> dict:
    """A small llama-architecture GGUF (F16 matrices, F32 norms) written by gguf.GGUFWriter.

    Returns what was written (parameter count, tensor count) as the test oracle. With
    ``split_max_tensors`` gguf-py writes ``<stem>-0000i-of-0000n.gguf`` parts like gguf-split.
    """
    import gguf

    rng = np.random.default_rng(seed)
    hd = n_embd // n_head
    w = gguf.GGUFWriter(str(path), "llama", split_max_tensors=split_max_tensors)
    w.add_name(name)
    w.add_license("apache-2.0")
    w.add_block_count(n_layer)
    w.add_context_length(ctx)
    w.add_embedding_length(n_embd)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(1)  # MOSTLY_F16
    w.add_vocab_size(n_vocab)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"tok{i}" for i in range(n_vocab)])
    w.add_token_types([1] * n_vocab)

    shapes: dict[str, tuple[int, ...]] = {"token_embd.weight": (n_vocab, n_embd), "output_norm.weight": (n_embd,),
                                          "output.weight": (n_vocab, n_embd)}
    for i in range(n_layer):
        shapes |= {
            f"blk.{i}.attn_norm.weight": (n_embd,),
            f"blk.{i}.attn_q.weight": (n_embd, n_embd),
            f"blk.{i}.attn_k.weight": (n_head_kv * hd, n_embd),
            f"blk.{i}.attn_v.weight": (n_head_kv * hd, n_embd),
            f"blk.{i}.attn_output.weight": (n_embd, n_embd),
            f"blk.{i}.ffn_norm.weight": (n_embd,),
            f"blk.{i}.ffn_gate.weight": (n_ff, n_embd),
            f"blk.{i}.ffn_up.weight": (n_ff, n_embd),
            f"blk.{i}.ffn_down.weight": (n_embd, n_ff),
        }
    for tname, shape in shapes.items():
        dtype = np.float32 if len(shape) == 1 else np.float16
        w.add_tensor(tname, rng.standard_normal(shape).astype(dtype))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return {"params": sum(int(np.prod(s)) for s in shapes.values()), "n_tensors": len(shapes), "n_layer": n_layer,
            "n_ctx": ctx, "n_vocab": n_vocab, "name": name}


TOY_HF_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256,
    "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "tie_word_embeddings": False, "torch_dtype": "float16",
    "rope_theta": 10000.0, "hidden_act": "silu",
}


def toy_hf_tensors(cfg: dict = TOY_HF_CONFIG) -> dict[str, np.ndarray]:
    e, f, v, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    kv = cfg["num_key_value_heads"] * e // cfg["num_attention_heads"]
    t = {"model.embed_tokens.weight": (v, e), "model.norm.weight": (e,), "lm_head.weight": (v, e)}
    for i in range(L):
        p = f"model.layers.{i}."
        t |= {p + "self_attn.q_proj.weight": (e, e), p + "self_attn.k_proj.weight": (kv, e),
              p + "self_attn.v_proj.weight": (kv, e), p + "self_attn.o_proj.weight": (e, e),
              p + "mlp.gate_proj.weight": (f, e), p + "mlp.up_proj.weight": (f, e), p + "mlp.down_proj.weight": (e, f),
              p + "input_layernorm.weight": (e,), p + "post_attention_layernorm.weight": (e,)}
    return {k: np.zeros(s, dtype=np.float16) for k, s in t.items()}


def _blob(repo: Path, data_path: Path | None = None, data: bytes | None = None) -> Path:
    """Put content into ``repo/blobs/<sha256>`` (a symlink when it is an existing big file)."""
    blobs = repo / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    if data is not None:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return blobs / digest
    digest = hashlib.sha256(str(data_path).encode()).hexdigest()  # a stand-in etag; never checked
    target = blobs / digest
    if not target.exists():
        target.symlink_to(data_path)
    return target


def _link_into_snapshot(repo: Path, rev: str, name: str, blob: Path) -> None:
    snap = repo / "snapshots" / rev
    (snap / name).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(blob, (snap / name).parent), snap / name)


def build_hf_cache(root: Path, gguf_files: dict[str, Path] | None = None) -> dict:
    """An HF hub cache like huggingface_hub writes it: blobs, refs/main, snapshots/<rev> symlinks.

    Holds ``org/tiny-llama`` (config.json + model.safetensors), optionally ``org/tiny-GGUF``
    (the given GGUF files), and a dataset repo that scans must ignore.
    """
    from safetensors.numpy import save as save_bytes

    rev = "0123456789abcdef0123456789abcdef01234567"
    repo = root / "models--org--tiny-llama"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(rev)
    tensors = toy_hf_tensors()
    _link_into_snapshot(repo, rev, "config.json", _blob(repo, data=json.dumps(TOY_HF_CONFIG).encode()))
    _link_into_snapshot(repo, rev, "model.safetensors", _blob(repo, data=save_bytes(tensors, metadata={"format": "pt"})))
    out = {"repo_id": "org/tiny-llama", "repo_dir": repo, "snapshot": repo / "snapshots" / rev,
           "params": sum(int(a.size) for a in tensors.values())}
    if gguf_files:
        grepo = root / "models--org--tiny-GGUF"
        (grepo / "refs").mkdir(parents=True)
        (grepo / "refs" / "main").write_text(rev)
        for name, src in gguf_files.items():
            _link_into_snapshot(grepo, rev, name, _blob(grepo, data_path=src))
        out["gguf_repo_dir"] = grepo
    ds = root / "datasets--org--some-data"
    (ds / "refs").mkdir(parents=True)
    (ds / "refs" / "main").write_text(rev)
    _link_into_snapshot(ds, rev, "train.safetensors", _blob(ds, data=save_bytes({"x": np.zeros(4, np.float32)})))
    return out


def build_ollama_store(root: Path, name: str, model: Path, tag: str = "latest") -> Path:
    """An Ollama store (manifests/registry.ollama.ai/library/<name>/<tag> + blobs/sha256-...).

    The model layer's digest is the file's real sha256 (the fetcher's pinned stamp when present).
    """
    blobs = root / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    stamp = model.with_name(model.name + ".sha256")
    digest = stamp.read_text().split()[0] if stamp.exists() else hashlib.sha256(model.read_bytes()).hexdigest()
    (blobs / f"sha256-{digest}").symlink_to(model)
    cfg = json.dumps({"model_format": "gguf", "model_family": "llama"}).encode()
    cfg_digest = hashlib.sha256(cfg).hexdigest()
    (blobs / f"sha256-{cfg_digest}").write_bytes(cfg)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": f"sha256:{cfg_digest}",
                   "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}",
                    "size": model.stat().st_size}],
    }
    mdir = root / "manifests" / "registry.ollama.ai" / "library" / name
    mdir.mkdir(parents=True, exist_ok=True)
    (mdir / tag).write_text(json.dumps(manifest))
    return blobs / f"sha256-{digest}"


def write_torch_zip(path: Path) -> None:
    """A file laid out like torch.save's zip format (archive/data.pkl + data/0), made without torch."""
    payload = pickle.dumps({"weight": [0.0] * 4}, protocol=2)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/version", "3\n")
        z.writestr("archive/data/0", b"\x00" * 16)


def write_tiny_onnx(path: Path) -> int:
    """A one-MatMul ONNX graph with a 4x3 float initializer; returns its parameter count."""
    from onnx import TensorProto, helper, numpy_helper, save

    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "W")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [w])
    save(helper.make_model(graph), str(path))
    return 12


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """HOME and every model-store variable pointed into an empty tmp tree."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("HF_HOME", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "LMSTUDIO_MODELS", "LLAMA_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-hub"))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # names not found locally must not reach the real Hub
    monkeypatch.setenv("SIZEUP_CACHE_DIR", str(tmp_path / "sizeup-cache"))
    return tmp_path


@pytest.fixture(scope="module")
def smollm2_oracle(smollm2_path, request):
    return gguf_oracle(smollm2_path, request.config.cache)


@pytest.fixture(scope="module")
def toy_split(tmp_path_factory):
    d = tmp_path_factory.mktemp("split")
    facts = write_toy_gguf(d / "toy.gguf", n_layer=3, split_max_tensors=12, name="Toy Split")
    parts = sorted(d.glob("toy-*-of-*.gguf"))
    return d, parts, facts


# --- sniffing -----------------------------------------------------------------------------------


def test_sniff_reads_content_not_extension(tmp_path, smollm2_path):
    renamed = tmp_path / "weights.bin"
    renamed.symlink_to(smollm2_path)
    assert sniff(renamed) == "gguf"

    from safetensors.numpy import save_file

    save_file({"a": np.zeros((2, 2), np.float32)}, str(tmp_path / "x.safetensors"))
    assert sniff(tmp_path / "x.safetensors") == "safetensors"

    write_torch_zip(tmp_path / "model.pt")
    assert sniff(tmp_path / "model.pt") == "pickle"
    (tmp_path / "legacy.bin").write_bytes(pickle.dumps({"a": 1}, protocol=2))
    assert sniff(tmp_path / "legacy.bin") == "pickle"
    # A zip that is not named like a checkpoint is not taken for one.
    write_torch_zip(tmp_path / "archive.zip")
    assert sniff(tmp_path / "archive.zip") is None
    # ONNX: ModelProto starts with field 1 (ir_version, varint) -> 0x08.
    (tmp_path / "m.onnx").write_bytes(b"\x08\x07\x12\x04test")
    assert sniff(tmp_path / "m.onnx") == "onnx"
    (tmp_path / "text.onnx").write_bytes(b"hello world")
    assert sniff(tmp_path / "text.onnx") is None
    # A header length larger than the file is not safetensors.
    (tmp_path / "fake.safetensors").write_bytes((10**6).to_bytes(8, "little") + b"{}")
    assert sniff(tmp_path / "fake.safetensors") is None


# --- files --------------------------------------------------------------------------------------


def test_gguf_file_matches_gguf_reader(smollm2_path, smollm2_oracle):
    md = describe(smollm2_path)
    o = smollm2_oracle
    assert md.source == "gguf"
    assert md.arch.name == o["arch"]
    assert md.arch.n_layer == o["n_layer"]
    assert md.arch.n_embd == o["n_embd"]
    assert md.arch.n_ctx_train == o["n_ctx"]
    assert set(md.arch.n_head) == {o["n_head"]} and set(md.arch.n_head_kv) == {o["n_head_kv"]}
    assert md.arch.n_vocab == o["n_vocab"]
    assert md.params.total == o["total_params"]
    assert len(md.tensors) == len(o["tensors"])
    assert md.file_size == o["file_size"]
    assert md.tokenizer.has_chat_template == o["has_chat_template"]


def test_gguf_renamed_bin_is_still_gguf(tmp_path, smollm2_path, smollm2_oracle):
    renamed = tmp_path / "pytorch_model.bin"
    renamed.symlink_to(smollm2_path)
    md = describe(renamed)
    assert md.source == "gguf" and md.params.total == smollm2_oracle["total_params"]


@pytest.mark.parametrize("content,needle", [
    (b"", "empty"),
    (os.urandom(4096), "GGUF"),
    (b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 16, ""),
])
def test_bad_gguf_files_are_one_line_errors(tmp_path, content, needle):
    p = tmp_path / "broken.gguf"
    p.write_bytes(content)
    with pytest.raises(BadModelFile) as ei:
        describe(p)
    msg = str(ei.value)
    assert "\n" not in msg and str(p) in msg and needle in msg


def test_truncated_gguf(tmp_path, smollm2_path):
    p = tmp_path / "truncated.gguf"
    with open(smollm2_path, "rb") as f:
        p.write_bytes(f.read(100_000))  # cuts through the vocabulary array
    with pytest.raises(BadModelFile) as ei:
        describe(p)
    assert "\n" not in str(ei.value)


def test_unknown_file_kind(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(SizeupError, match="not a model file"):
        describe(p)


def test_onnx_and_lone_safetensors_files(tmp_path):
    from safetensors.numpy import save_file

    n = write_tiny_onnx(tmp_path / "model.onnx")
    md = describe(tmp_path / "model.onnx")
    assert md.source == "onnx" and md.params.total == n
    save_file({"a": np.zeros((3, 5), np.float16)}, str(tmp_path / "adapter.safetensors"))
    md = describe(tmp_path / "adapter.safetensors")
    assert md.source == "safetensors" and md.params.total == 15
    # Two unrelated models in one folder: describe asks which one.
    with pytest.raises(SizeupError, match="2 models"):
        describe(tmp_path)


def test_pickle_is_described_and_unsafe(tmp_path):
    p = tmp_path / "model.pt"
    write_torch_zip(p)
    md = describe(p)
    unsafe, reason = safety(md)
    assert unsafe and reason
    assert md.path == str(p)


# --- directories --------------------------------------------------------------------------------


def test_config_beside_pickle_gives_the_pickle_report(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(TOY_HF_CONFIG))
    write_torch_zip(tmp_path / "pytorch_model.bin")
    md = describe(tmp_path)
    assert safety(md)[0] and md.path == str(tmp_path / "pytorch_model.bin")
    (tmp_path / "pytorch_model.bin").unlink()
    with pytest.raises(SizeupError):  # config alone: the HF reader says the weights are missing
        describe(tmp_path)


def test_split_gguf_dir_is_one_model(toy_split):
    d, parts, facts = toy_split
    assert len(parts) == 3
    cands = dir_candidates(d)
    assert len(cands) == 1 and cands[0].kind == "gguf" and len(cands[0].files) == 3
    assert cands[0].path.name.endswith("-00001-of-00003.gguf")
    md = describe(d)
    assert md.params.total == facts["params"]
    assert len(md.tensors) == facts["n_tensors"]
    assert md.arch.n_layer == facts["n_layer"]
    assert md.file_size == sum(p.stat().st_size for p in parts)
    # Naming any part's directory or the first part gives the same model.
    assert describe(parts[0]).params.total == facts["params"]


def test_split_with_missing_part(tmp_path, toy_split):
    _d, parts, _facts = toy_split
    for p in (parts[0], parts[2]):  # part 2 of 3 left out
        (tmp_path / p.name).symlink_to(p)
    with pytest.raises(BadModelFile, match=r"missing part\(s\) 2 of 3"):
        describe(tmp_path)


def test_dir_with_model_and_projector(tmp_path):
    facts = write_toy_gguf(tmp_path / "model-f16.gguf")
    write_toy_gguf(tmp_path / "mmproj-model-f16.gguf", n_layer=1, name="projector")
    md = describe(tmp_path)
    assert md.params.total == facts["params"] and md.path.endswith("model-f16.gguf")


def test_dir_with_several_models_lists_them(tmp_path):
    write_toy_gguf(tmp_path / "a.gguf")
    write_toy_gguf(tmp_path / "b.gguf", n_layer=1)
    with pytest.raises(SizeupError) as ei:
        describe(tmp_path)
    msg = str(ei.value)
    assert "a.gguf" in msg and "b.gguf" in msg and "sizeup scan" in msg and "\n" not in msg


def test_empty_and_non_model_dirs(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SizeupError, match="no model found"):
        describe(empty)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "readme.md").write_text("# hi")
    (junk / "config.json").write_text('{"theme": "dark"}')  # not a transformers config
    (junk / "data.bin").write_bytes(os.urandom(64))  # not a pickle
    with pytest.raises(SizeupError, match="no model found"):
        describe(junk)


def test_missing_path():
    with pytest.raises(NotFound, match="no such file or directory"):
        describe(Path("/nonexistent/dir/model.gguf"))
    with pytest.raises(NotFound, match="no such file or directory"):
        describe("./nope/model.gguf")


# --- HF cache -----------------------------------------------------------------------------------


def test_hf_cache_dir_follows_env(monkeypatch, tmp_path):
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert hf_cache_dir() == tmp_path / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hf_cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hfhome"))
    assert hf_cache_dir() == tmp_path / "hfhome" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub2"))
    assert hf_cache_dir() == tmp_path / "hub2"


def test_hf_repo_id_from_cache(isolated_env, smollm2_path, smollm2_oracle):
    cache = isolated_env / "hf-hub"
    toy = isolated_env / "toy-f16.gguf"
    toy_facts = write_toy_gguf(toy)
    built = build_hf_cache(cache, {"SmolLM2-135M-Instruct-Q4_1.gguf": smollm2_path, "tiny-F16.gguf": toy})

    md = describe("org/tiny-llama")
    assert md.source == "safetensors"
    assert md.params.total == built["params"]
    assert md.arch.n_layer == TOY_HF_CONFIG["num_hidden_layers"]
    assert md.extra.get("hf_repo") == "org/tiny-llama"
    # The cache repo dir and its snapshot, given as paths, describe the same model.
    assert describe(built["repo_dir"]).params.total == built["params"]
    assert describe(built["snapshot"]).params.total == built["params"]

    # A GGUF repo with two quants needs a tag, like llama.cpp's -hf org/name:QUANT.
    with pytest.raises(SizeupError, match="2 models"):
        describe("org/tiny-GGUF")
    assert describe("org/tiny-GGUF:Q4_1").params.total == smollm2_oracle["total_params"]
    assert describe("hf.co/org/tiny-GGUF:f16").params.total == toy_facts["params"]
    with pytest.raises(NotFound, match="Q8_0"):
        describe("org/tiny-GGUF:Q8_0")


# --- Ollama and not-found -----------------------------------------------------------------------


def test_ollama_name(isolated_env, smollm2_path, smollm2_oracle):
    blob = build_ollama_store(isolated_env / "ollama", "smollm2", smollm2_path, tag="135m")
    md = describe("smollm2:135m")
    assert md.params.total == smollm2_oracle["total_params"]
    assert md.extra["ollama_name"] == "smollm2:135m"
    assert os.path.realpath(md.path) == os.path.realpath(blob)

    with pytest.raises(NotFound) as ei:
        describe("smollm2:135n", allow_catalog=False)
    assert "did you mean" in str(ei.value) and "smollm2:135m" in str(ei.value)


def test_unknown_name_is_not_found(isolated_env):
    with pytest.raises(NotFound) as ei:
        describe("definitely-not-a-model-zz9", allow_catalog=False)
    msg = str(ei.value)
    assert "definitely-not-a-model-zz9" in msg and "\n" not in msg


# --- catalog ------------------------------------------------------------------------------------


def test_catalog_id_and_close_matches(isolated_env):
    from sizeup.catalog import all_ids, get_entry

    some_id = all_ids()[0]
    md = describe(some_id)
    assert md.source == "catalog" and md.params.total > 0
    assert md.name == get_entry(some_id).name
    typo = some_id[:-1] + ("x" if some_id[-1] != "x" else "y")
    with pytest.raises(NotFound) as ei:
        describe(typo)
    assert "did you mean" in str(ei.value) and some_id in str(ei.value)
    with pytest.raises(NotFound):
        describe(some_id, allow_catalog=False)


def test_local_cache_beats_catalog(isolated_env):
    """A catalog id that is also in the local HF cache describes the local files."""
    from sizeup.catalog import all_ids

    repo_id = next(i for i in all_ids() if "/" in i)
    built = build_hf_cache(isolated_env / "hf-hub")
    os.rename(built["repo_dir"], isolated_env / "hf-hub" / ("models--" + repo_id.replace("/", "--")))
    md = describe(repo_id)
    assert md.source == "safetensors" and md.params.total == built["params"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX-only")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.gguf"
    os.mkfifo(fifo)
    with pytest.raises(SizeupError, match="not a regular file"):
        describe(fifo)


def test_lmstudio_publisher_repo(isolated_env, smollm2_path, smollm2_oracle):
    d = isolated_env / "home" / ".lmstudio" / "models" / "bartowski" / "Tiny-GGUF"
    (d / "Q4_1").mkdir(parents=True)
    (d / "Q4_1" / "tiny.gguf").symlink_to(smollm2_path)  # quant named by its folder
    toy = write_toy_gguf(d / "tiny-F16.gguf")
    with pytest.raises(SizeupError, match="2 models"):
        describe("bartowski/Tiny-GGUF")
    md = describe("bartowski/Tiny-GGUF:q4_1")
    assert md.params.total == smollm2_oracle["total_params"] and md.extra["lmstudio_model"] == "bartowski/Tiny-GGUF"
    assert describe("bartowski/Tiny-GGUF:F16").params.total == toy["params"]
