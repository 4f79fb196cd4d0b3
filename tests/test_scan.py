"""scan(): every store laid out for real in a tmp tree, environment pointed there.

One module-scoped machine image holds an HF hub cache (safetensors model + GGUF repo + a dataset
repo), an Ollama store whose blob is the real SmolLM2 GGUF, an LM Studio tree with the real
gemma-3 GGUF symlinked in, a llama.cpp cache, and a plain folder with a 3-part split GGUF, a
corrupt GGUF, non-model files and a symlink loop. Expected values come from what the builders
wrote, gguf.GGUFReader (via test_describe's cached oracle) or the filesystem.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_describe import build_hf_cache, build_ollama_store, gguf_oracle, write_tiny_onnx, write_toy_gguf

from sizeup.errors import SizeupError
from sizeup.sources.local_scan import (
    DIR,
    HF_CACHE,
    LLAMA_CPP_CACHE,
    LMSTUDIO,
    OLLAMA,
    default_locations,
    llama_cpp_cache_dir,
    scan,
)

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def machine(tmp_path_factory, smollm2_path, gemma3_path):
    root = tmp_path_factory.mktemp("machine")
    home = root / "home"
    home.mkdir()
    facts: dict = {"root": root, "home": home}

    # HF hub cache: a transformers checkpoint, a GGUF repo with a toy quant, a dataset repo.
    toy_hf_gguf = root / "blobsrc" / "tiny-F16.gguf"
    toy_hf_gguf.parent.mkdir()
    facts["hf_gguf"] = write_toy_gguf(toy_hf_gguf, n_layer=1, name="Tiny HF GGUF")
    facts["hf"] = build_hf_cache(root / "hf-hub", {"tiny-F16.gguf": toy_hf_gguf})

    # Ollama store whose model blob is the real SmolLM2 file.
    facts["ollama_blob"] = build_ollama_store(root / "ollama", "smollm2", smollm2_path, tag="135m")

    # LM Studio: publisher/repo/file.gguf, the real gemma-3 file linked in.
    lms = home / ".lmstudio" / "models" / "lmstudio-community" / "gemma-3-270m-it-GGUF"
    lms.mkdir(parents=True)
    (lms / gemma3_path.name).symlink_to(gemma3_path)
    facts["lmstudio_file"] = lms / gemma3_path.name

    # llama.cpp cache: files named <org>_<repo>_<file>.gguf plus its etag json.
    lcache = root / "llama-cache"
    lcache.mkdir()
    facts["llamacpp"] = write_toy_gguf(lcache / "org_toy-GGUF_toy-F16.gguf", n_layer=2, name="Toy From Cache")
    (lcache / "org_toy-GGUF_toy-F16.gguf.json").write_text('{"etag": "x"}')

    # A plain folder: split model, corrupt model, non-models, a symlink loop, a nested model.
    plain = root / "plain"
    (plain / "split").mkdir(parents=True)
    facts["split"] = write_toy_gguf(plain / "split" / "toy.gguf", n_layer=3, split_max_tensors=12, name="Toy Split")
    facts["split_parts"] = sorted((plain / "split").glob("toy-*-of-*.gguf"))
    (plain / "broken.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + os.urandom(64))
    (plain / "notes.txt").write_text("not a model")
    (plain / "random.bin").write_bytes(os.urandom(256))
    (plain / "loop").symlink_to(plain)
    (plain / "deep" / "er").mkdir(parents=True)
    facts["nested"] = write_toy_gguf(plain / "deep" / "er" / "nested.gguf", n_layer=1, name="Nested Toy")
    facts["onnx_params"] = write_tiny_onnx(plain / "deep" / "model.onnx")
    facts["plain"] = plain
    return facts


@pytest.fixture
def env(machine, monkeypatch):
    root = machine["root"]
    for var in ("HF_HOME", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "LMSTUDIO_MODELS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(machine["home"]))
    monkeypatch.setenv("HF_HUB_CACHE", str(root / "hf-hub"))
    monkeypatch.setenv("OLLAMA_MODELS", str(root / "ollama"))
    monkeypatch.setenv("LLAMA_CACHE", str(root / "llama-cache"))
    return machine


def _by_kind(entries, kind):
    return [e for e in entries if e.location_kind == kind]


def test_default_locations_follow_env(env):
    locs = dict((k, v) for k, v in default_locations() if k != LMSTUDIO)
    assert locs[HF_CACHE] == env["root"] / "hf-hub"
    assert locs[OLLAMA] == env["root"] / "ollama"
    assert locs[LLAMA_CPP_CACHE] == env["root"] / "llama-cache"
    lms = [v for k, v in default_locations() if k == LMSTUDIO]
    assert env["home"] / ".lmstudio" / "models" in lms
    assert env["home"] / ".cache" / "lm-studio" / "models" in lms


def test_llama_cpp_cache_default(monkeypatch, tmp_path):
    monkeypatch.delenv("LLAMA_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = {"darwin": tmp_path / "Library" / "Caches" / "llama.cpp"}.get(sys.platform, tmp_path / ".cache" / "llama.cpp")
    assert llama_cpp_cache_dir() == expected


def test_scan_finds_every_store(env, smollm2_path, request):
    entries = scan([env["plain"]])
    ok = [e for e in entries if not e.error]

    hf = _by_kind(ok, HF_CACHE)
    st = [e for e in hf if e.format == "safetensors"]
    assert len(st) == 1 and st[0].name == "org/tiny-llama" and st[0].params == env["hf"]["params"]
    hf_gguf = [e for e in hf if e.format == "gguf"]
    assert len(hf_gguf) == 1 and hf_gguf[0].params == env["hf_gguf"]["params"]
    assert not any("some-data" in e.path or "train.safetensors" in e.path for e in entries)  # datasets ignored

    oracle = gguf_oracle(smollm2_path, request.config.cache)
    (ol,) = _by_kind(ok, OLLAMA)
    assert ol.name == "smollm2:135m" and ol.format == "gguf"
    assert ol.params == oracle["total_params"] and ol.context == oracle["n_ctx"] and ol.size == oracle["file_size"]

    (lm,) = _by_kind(ok, LMSTUDIO)
    assert lm.format == "gguf" and lm.size == env["lmstudio_file"].stat().st_size and lm.params

    (lc,) = _by_kind(ok, LLAMA_CPP_CACHE)
    assert lc.params == env["llamacpp"]["params"] and lc.context == env["llamacpp"]["n_ctx"]

    d = _by_kind(entries, DIR)
    split = [e for e in d if e.name == "Toy Split"]
    assert len(split) == 1  # three parts, one model
    assert split[0].params == env["split"]["params"]
    assert split[0].size == sum(p.stat().st_size for p in env["split_parts"])
    assert split[0].path.endswith("toy-00001-of-00003.gguf")
    nested = [e for e in d if e.name == "Nested Toy"]
    assert len(nested) == 1 and nested[0].params == env["nested"]["params"]

    broken = [e for e in d if e.path.endswith("broken.gguf")]
    assert len(broken) == 1 and broken[0].error and "\n" not in broken[0].error and broken[0].format == "gguf"
    assert not any(e.path.endswith(("notes.txt", "random.bin")) for e in entries)
    onnx = [e for e in d if e.format == "onnx"]
    assert len(onnx) == 1 and onnx[0].params == env["onnx_params"]
    assert len(d) == 4  # split, nested, onnx, broken: the symlink loop adds nothing


def test_same_file_listed_once(env, smollm2_path, gemma3_path):
    # The test-models folder holds the real files that the Ollama blob and LM Studio link point
    # to; scanning it too must not list them again.
    entries = scan([smollm2_path.parent, env["home"] / ".lmstudio" / "models"])
    for real in (smollm2_path, gemma3_path):
        hits = [e for e in entries if os.path.realpath(e.path) == os.path.realpath(real)]
        assert len(hits) == 1
    assert [e.location_kind for e in entries if os.path.realpath(e.path) == os.path.realpath(gemma3_path)] == [LMSTUDIO]


def test_no_default_locations(env):
    entries = scan([env["plain"]], include_default_locations=False)
    assert {e.location_kind for e in entries} == {DIR}
    assert len(entries) == 4


def test_missing_store_dirs_are_quietly_empty(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("HF_HOME", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "LMSTUDIO_MODELS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "nope-hf"))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "nope-ollama"))
    monkeypatch.setenv("LLAMA_CACHE", str(tmp_path / "nope-llama"))
    assert scan() == []


def test_given_dir_must_exist(tmp_path):
    with pytest.raises(SizeupError, match="not a directory"):
        scan([tmp_path / "missing"], include_default_locations=False)


def test_hf_cache_found_by_walking_a_dir(env):
    # Pointing scan at a cache as a plain folder still reads repos as units at refs/main.
    entries = scan([env["root"] / "hf-hub"], include_default_locations=False)
    names = sorted(e.name for e in entries if not e.error)
    assert "org/tiny-llama" in names
    assert all(e.location_kind == DIR for e in entries)
    assert not any("/blobs/" in e.path for e in entries)


def test_scan_cli_json(env):
    penv = dict(os.environ, PYTHONPATH=str(SRC))
    r = subprocess.run([sys.executable, "-m", "sizeup", "scan", "--json", str(env["plain"])], capture_output=True,
                       text=True, env=penv, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    kinds = {row["location_kind"] for row in rows}
    assert kinds == {HF_CACHE, OLLAMA, LMSTUDIO, LLAMA_CPP_CACHE, DIR}
    assert set(rows[0]) == {"name", "format", "params", "quant", "size", "context", "path", "location_kind", "error"}
    assert sum(1 for row in rows if row["error"]) == 1


def test_scan_cli_table(env):
    penv = dict(os.environ, PYTHONPATH=str(SRC), COLUMNS="200")
    r = subprocess.run([sys.executable, "-m", "sizeup", "scan", "--no-default", str(env["plain"])],
                       capture_output=True, text=True, env=penv, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Toy Split" in r.stdout and "broken.gguf" in r.stdout
    assert "3 models" in r.stdout and "1 could not be read" in r.stdout


def test_scan_cli_bad_dir(tmp_path):
    penv = dict(os.environ, PYTHONPATH=str(SRC))
    r = subprocess.run([sys.executable, "-m", "sizeup", "scan", "--no-default", str(tmp_path / "nope")],
                       capture_output=True, text=True, env=penv, timeout=60)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("sizeup: error:") and "Traceback" not in r.stderr


def test_walk_limits(env, monkeypatch):
    import sizeup.sources.local_scan as scan_mod

    monkeypatch.setattr(scan_mod, "MAX_DEPTH", 1)  # deep/er/nested.gguf sits at depth 2
    entries = scan([env["plain"]], include_default_locations=False)
    assert not any(e.name == "Nested Toy" for e in entries)
    assert any(e.format == "onnx" for e in entries)  # deep/model.onnx is at depth 1

    monkeypatch.setattr(scan_mod, "MAX_ENTRIES_PER_ROOT", 3)
    entries = scan([env["plain"]], include_default_locations=False)
    assert len(entries) == 1 and "scan stopped after 3" in entries[0].error


def test_progress_reports_growing_counts(env):
    seen: list[tuple[str, int]] = []
    entries = scan([env["plain"]], include_default_locations=False, progress=lambda what, n: seen.append((what, n)))
    counts = [n for _w, n in seen]
    assert seen and counts == sorted(counts) and counts[-1] <= len(entries)
    assert any(what.endswith(".gguf") for what, _n in seen)


def test_corrupt_hf_cache_repo_is_listed(tmp_path, monkeypatch):
    built = build_hf_cache(tmp_path / "hub")
    snap = built["snapshot"]
    (snap / "model-extra.safetensors").symlink_to(tmp_path / "hub" / "missing-blob")  # broken link
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "none"))
    monkeypatch.setenv("LLAMA_CACHE", str(tmp_path / "none"))
    entries = scan()
    assert len(entries) == 1 and entries[0].location_kind == HF_CACHE
    assert entries[0].error and "\n" not in entries[0].error
