"""``sizeup inspect`` end to end: a real subprocess, real GGUF files, gguf.GGUFReader as the oracle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_describe import gguf_oracle, write_torch_zip, write_toy_gguf

from sizeup.data.ggml_types import LLAMA_FILE_TYPES

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def clean_env(tmp_path_factory):
    """No real model stores: HOME and store variables point into an empty tmp tree."""
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HOME", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "LMSTUDIO_MODELS", "LLAMA_CACHE")}
    env |= {"PYTHONPATH": str(SRC), "HOME": str(home), "HF_HUB_CACHE": str(home / "hf"),
            "OLLAMA_MODELS": str(home / "ollama"), "COLUMNS": "160"}
    env.pop("SIZEUP_DEBUG", None)
    return env


def sizeup(env, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "sizeup", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def inspect_json(env, path, *extra):
    r = sizeup(env, "inspect", path, "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def smollm2(smollm2_path, request):
    return smollm2_path, gguf_oracle(smollm2_path, request.config.cache)


@pytest.fixture(scope="module")
def gemma3(gemma3_path, request):
    return gemma3_path, gguf_oracle(gemma3_path, request.config.cache)


def _check_common(d, path, o):
    assert d["source"] == "gguf"
    assert d["path"] == str(path)
    assert d["file_size"] == o["file_size"]
    a = d["arch"]
    assert a["name"] == o["arch"]
    assert a["n_layer"] == o["n_layer"]
    assert a["n_embd"] == o["n_embd"]
    assert a["n_ctx_train"] == o["n_ctx"]
    assert set(a["n_head"]) == {o["n_head"]}
    assert set(a["n_head_kv"]) == {o["n_head_kv"]}
    assert set(a["n_ff"]) == {o["n_ff"]}
    assert a["n_vocab"] == o["n_vocab"]
    assert d["tokenizer"]["model"] == o["tokenizer_model"]
    assert d["tokenizer"]["has_chat_template"] == o["has_chat_template"]
    assert d["params"]["total"] == o["total_params"]
    assert d["n_tensors"] == len(o["tensors"])
    assert d["quant"]["label"] == LLAMA_FILE_TYPES[o["file_type"]]
    # Per-type breakdown equals the tensor directory grouped by type.
    by_type: dict[str, list[int]] = {}
    for t in o["tensors"]:
        acc = by_type.setdefault(t["type"], [0, 0, 0])
        acc[0] += 1
        acc[1] += t["n_elements"]
        acc[2] += t["n_bytes"]
    assert {s["dtype"]: [s["n_tensors"], s["n_elements"], s["n_bytes"]] for s in d["quant"]["by_type"]} == by_type
    total_bytes = sum(t["n_bytes"] for t in o["tensors"])
    assert d["quant"]["bits_per_weight"] == pytest.approx(8 * total_bytes / o["total_params"], rel=1e-6)
    assert d["license"]["id"] == o["license"]
    assert d["unsafe"] is False


def test_smollm2_json(clean_env, smollm2):
    path, o = smollm2
    d = inspect_json(clean_env, path)
    _check_common(d, path, o)
    assert d["license"]["openness"] == "open-source"
    assert "tensors" not in d


def test_gemma3_json_with_tensors(clean_env, gemma3):
    path, o = gemma3
    d = inspect_json(clean_env, path, "--tensors")
    _check_common(d, path, o)
    a = d["arch"]
    assert a["swa_window"] == o["sliding_window"]
    assert a["head_dim_k"] == o["key_length"]
    assert any(a["swa_layers"]) and not all(a["swa_layers"])
    assert d["license"]["openness"] == "open-weights"
    got = {t["name"]: t for t in d["tensors"]}
    assert len(got) == len(o["tensors"])
    for t in o["tensors"]:
        g = got[t["name"]]
        assert g["dtype"] == t["type"] and g["n_elements"] == t["n_elements"] and g["n_bytes"] == t["n_bytes"]
        assert list(g["shape"]) in (t["ne"], t["ne"][::-1])


def test_human_view_sections(clean_env, gemma3):
    path, o = gemma3
    r = sizeup(clean_env, "inspect", path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for heading in ("Model", "Architecture", "Parameters", "Quantization", "Licence and runtimes"):
        assert heading in out
    assert o["arch"] in out and "Sliding window" in out and f"{o['sliding_window']:,} tokens" in out
    assert "Q4_K_M" in out and "llama.cpp" in out
    assert "(MQA)" in out if o["n_head_kv"] == 1 else "GQA" in out
    assert f"{o['total_params']:,}" in out
    r2 = sizeup(clean_env, "inspect", path, "--tensors")
    assert r2.returncode == 0 and "blk.0.attn_q.weight" in r2.stdout and "token_embd.weight" in r2.stdout


def test_split_gguf_via_cli(clean_env, tmp_path):
    facts = write_toy_gguf(tmp_path / "toy.gguf", n_layer=3, split_max_tensors=10)
    d = inspect_json(clean_env, tmp_path)
    assert d["params"]["total"] == facts["params"] and len(d["files"]) == 3


def test_pickle_report(clean_env, tmp_path):
    p = tmp_path / "pytorch_model.bin"
    write_torch_zip(p)
    d = inspect_json(clean_env, p)
    assert d["unsafe"] is True and d["unsafe_reason"]
    r = sizeup(clean_env, "inspect", p)
    assert r.returncode == 0, r.stderr
    assert "UNSAFE" in r.stdout


def _bad_inputs(tmp: Path, smollm2_path: Path) -> dict[str, Path]:
    empty = tmp / "empty-dir"
    empty.mkdir()
    junk = tmp / "junk-dir"
    junk.mkdir()
    (junk / "a.txt").write_text("hello")
    (junk / "b.json").write_text("{}")
    trunc = tmp / "truncated.gguf"
    with open(smollm2_path, "rb") as f:
        trunc.write_bytes(f.read(2_000_000))
    rnd = tmp / "random.gguf"
    rnd.write_bytes(os.urandom(10_000))
    return {"missing": tmp / "does-not-exist.gguf", "empty": empty, "junk": junk, "truncated": trunc, "random": rnd}


def test_bad_inputs_one_line_exit_2(clean_env, tmp_path, smollm2_path):
    for label, path in _bad_inputs(tmp_path, smollm2_path).items():
        r = sizeup(clean_env, "inspect", path, timeout=60)
        assert r.returncode == 2, (label, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1, (label, r.stderr)
        assert lines[0].startswith("sizeup: error:") and "Traceback" not in r.stderr, (label, r.stderr)
        assert r.stdout == ""


def test_unknown_name_exit_2(clean_env):
    r = sizeup(clean_env, "inspect", "no-such-model-qq7", "--no-catalog", timeout=60)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "no-such-model-qq7" in r.stderr


def test_dangerous_pickle_named_in_json(clean_env, tmp_path):
    """A pickle that imports os.system is flagged by name (the opcode stream is read, never run)."""
    import pickle
    import zipfile

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should-never-run",))

    p = tmp_path / "evil.pt"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
        z.writestr("archive/version", "3\n")
    d = inspect_json(clean_env, p)
    assert d["unsafe"] is True and "DANGEROUS" in d["unsafe_reason"] and "system" in d["unsafe_reason"]


def _render(md) -> str:
    from rich.console import Console

    from sizeup.render.inspect_view import print_description

    con = Console(record=True, width=200)
    print_description(md, con)
    return con.export_text()


def test_render_moe_and_latent_attention_from_catalog():
    from sizeup.catalog import all_ids
    from sizeup.sources.dispatch import describe
    from sizeup.units import fmt_count

    md = next(m for m in map(describe, all_ids()) if m.arch.is_mla and m.arch.is_moe)
    out = _render(md)
    a = md.arch
    assert f"{a.n_expert} routed, {a.n_expert_used} used per token" in out
    assert f"KV LoRA rank {a.kv_lora_rank}" in out
    assert f"Active per token    {fmt_count(md.params.active)} ({md.params.active:,})" in out
    assert "nothing on disk" in out and "Chat template" not in out


def test_render_hybrid_recurrent_layers():
    from sizeup.licenses import classify_license
    from sizeup.model import LAYER_ATTENTION, LAYER_RECURRENT, Architecture, ModelDescription, SSMFacts

    kinds = (LAYER_RECURRENT, LAYER_RECURRENT, LAYER_RECURRENT, LAYER_ATTENTION)
    arch = Architecture(name="granitehybrid", n_layer=4, n_embd=256, n_head=(0, 0, 0, 8), n_head_kv=(0, 0, 0, 2),
                        head_dim_k=32, head_dim_v=32, n_ff=(512,) * 4, n_vocab=1000, n_ctx_train=8192,
                        layer_kinds=kinds, ssm=SSMFacts(kind="mamba2", d_conv=4, d_inner=512, d_state=128, n_group=1,
                                                       n_head=16))
    md = ModelDescription(name="hybrid", source="gguf", path=None, files=[], file_size=0, arch=arch, params=None,
                          quant=None, tokenizer=None, license=classify_license("apache-2.0"), runtimes=[],
                          warnings=["an example warning"])
    out = _render(md)
    assert "4 (1 attention, 3 recurrent)" in out
    assert "8 (1 of 4 layers)" in out and "2 (1 of 4 layers)" in out
    assert "mamba2 (state 128, conv 4, inner 512, heads 16, groups 1)" in out
    assert "! an example warning" in out
