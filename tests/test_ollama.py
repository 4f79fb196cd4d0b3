"""Ollama store resolution on a real store layout in a tmp dir, with a real GGUF blob."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import gguf
import numpy as np
import pytest

from sizeup.errors import BadModelFile, NotFound, SizeupError
from sizeup.formats.ollama import list_ollama_models, ollama_info, parse_name, resolve_ollama


def write_gguf(path: Path) -> None:
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(1)
    w.add_context_length(128)
    w.add_embedding_length(8)
    w.add_tensor("token_embd.weight", np.zeros((10, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def add_blob(root: Path, data: bytes) -> str:
    h = hashlib.sha256(data).hexdigest()
    (root / "blobs").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / f"sha256-{h}").write_bytes(data)
    return f"sha256:{h}"


def add_model(root: Path, host: str, ns: str, model: str, tag: str, gguf_bytes: bytes, extra_layers=()) -> Path:
    layers = [{"mediaType": "application/vnd.ollama.image.model", "digest": add_blob(root, gguf_bytes), "size": len(gguf_bytes)}]
    for media, content in extra_layers:
        layers.append({"mediaType": f"application/vnd.ollama.image.{media}", "digest": add_blob(root, content), "size": len(content)})
    cfg = b'{"model_format":"gguf"}'
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": add_blob(root, cfg), "size": len(cfg)},
                "layers": layers}
    p = root / "manifests" / host / ns / model / tag
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(manifest))
    return p


@pytest.fixture()
def store(tmp_path: Path) -> tuple[Path, bytes]:
    g = tmp_path / "tiny.gguf"
    write_gguf(g)
    data = g.read_bytes()
    root = tmp_path / "models"
    add_model(root, "registry.ollama.ai", "library", "qwen2.5-coder", "7b", data, [
        ("template", b"{{ .Prompt }}"), ("params", b'{"stop": ["<|im_end|>"], "temperature": 0.7}'),
        ("license", b"Apache License 2.0"), ("system", b"You are helpful.")])
    add_model(root, "registry.ollama.ai", "library", "llama3.2", "latest", data)
    add_model(root, "hf.co", "bartowski", "Llama-3.2-1B-Instruct-GGUF", "Q4_K_M", data)
    return root, data


def test_parse_names():
    assert parse_name("qwen2.5-coder:7b").display == "qwen2.5-coder:7b"
    n = parse_name("library/qwen2.5-coder:7b")
    assert (n.host, n.namespace, n.model, n.tag) == ("registry.ollama.ai", "library", "qwen2.5-coder", "7b")
    n = parse_name("hf.co/user/repo:Q4_K_M")
    assert (n.host, n.namespace, n.model, n.tag) == ("hf.co", "user", "repo", "Q4_K_M")
    assert parse_name("llama3.2").tag == "latest"
    for bad in ("", "../../etc/passwd", "a/b/c/d", "x:../y", "a/../b", "m:" + "t" * 200):
        with pytest.raises(SizeupError):
            parse_name(bad)


def test_resolve_forms(store):
    root, data = store
    blob = resolve_ollama("qwen2.5-coder:7b", root)
    assert blob.read_bytes() == data and blob.name == "sha256-" + hashlib.sha256(data).hexdigest()
    assert resolve_ollama("library/qwen2.5-coder:7b", root) == blob
    assert resolve_ollama("registry.ollama.ai/library/qwen2.5-coder:7b", root) == blob
    assert resolve_ollama("llama3.2", root) == blob  # default tag "latest"
    assert resolve_ollama("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", root) == blob
    assert resolve_ollama("hf.co/bartowski/llama-3.2-1b-instruct-gguf:q4_k_m", root) == blob  # case-insensitive


def test_env_var(store, monkeypatch):
    root, _ = store
    monkeypatch.setenv("OLLAMA_MODELS", str(root))
    assert resolve_ollama("llama3.2:latest").is_file()


def test_extra_layers(store):
    root, _ = store
    info = ollama_info("qwen2.5-coder:7b", root)
    assert info.template == "{{ .Prompt }}" and info.system == "You are helpful."
    assert info.params == {"stop": ["<|im_end|>"], "temperature": 0.7}
    assert info.license == "Apache License 2.0" and info.warnings == []


def test_unknown_name_suggests_close_matches(store):
    root, _ = store
    with pytest.raises(NotFound, match="qwen2.5-coder:7b") as e:
        resolve_ollama("qwen2.5-coder:14b", root)
    assert "\n" not in str(e.value)
    with pytest.raises(NotFound, match="llama3.2:latest"):
        resolve_ollama("llama3.1", root)


def test_list(store):
    root, data = store
    rows = list_ollama_models(root)
    assert sorted(r[0] for r in rows) == ["hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "llama3.2:latest", "qwen2.5-coder:7b"]
    assert all(r[2] == len(data) and r[1].is_file() for r in rows)
    assert list_ollama_models(root.parent / "nowhere") == []


def test_broken_manifests(store):
    root, data = store
    bad_digest = root / "manifests/registry.ollama.ai/library/broken/latest"
    bad_digest.parent.mkdir(parents=True)
    bad_digest.write_text(json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:../../x"}]}))
    with pytest.raises(BadModelFile, match="sha256:<64 hex digits>"):
        resolve_ollama("broken", root)
    missing = root / "manifests/registry.ollama.ai/library/gone/latest"
    missing.parent.mkdir(parents=True)
    missing.write_text(json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "a" * 64}]}))
    with pytest.raises(BadModelFile, match="missing"):
        resolve_ollama("gone", root)
    garbage = root / "manifests/registry.ollama.ai/library/garbage/latest"
    garbage.parent.mkdir(parents=True)
    garbage.write_bytes(b"\x00{{{")
    with pytest.raises(BadModelFile, match="not valid JSON"):
        resolve_ollama("garbage", root)
    short = add_model(root, "registry.ollama.ai", "library", "short", "latest", data)
    m = json.loads(short.read_text())
    m["layers"][0]["size"] = len(data) + 1
    short.write_text(json.dumps(m))
    with pytest.raises(BadModelFile, match="incomplete pull"):
        resolve_ollama("short", root)
    add_model(root, "registry.ollama.ai", "library", "notgguf", "latest", b"PK\x03\x04 not a gguf")
    with pytest.raises(BadModelFile, match="not a GGUF"):
        resolve_ollama("notgguf", root)
    assert len(list_ollama_models(root)) == 5  # broken ones skipped, short/notgguf still list their blob


def test_no_store(tmp_path: Path):
    with pytest.raises(NotFound, match="no Ollama model store"):
        resolve_ollama("x", tmp_path)


def test_resolved_blob_is_a_real_gguf(store):
    root, _ = store
    r = gguf.GGUFReader(str(resolve_ollama("qwen2.5-coder:7b", root)))
    assert [t.name for t in r.tensors] == ["token_embd.weight"]
