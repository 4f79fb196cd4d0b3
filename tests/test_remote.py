"""Remote models: the Hub, http(s) GGUF URLs and the Ollama registry, read header-only.

A real HTTP server on 127.0.0.1 (tests/hub_server.py) speaks the Hub's public endpoints and serves
the real test models; facts must equal local inspection of the same files, the bytes sent must be
a small fraction of each file, nothing may land in the HF cache, and hostile servers must end in
one line within the deadline.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from hub_server import HubServer, Repo
from sizeup.sources.dispatch import describe
from sizeup.errors import NotFound, SizeupError
from sizeup.sources import meta_cache
from sizeup.sources.refs import parse_ref


@pytest.fixture
def hub(tmp_path, monkeypatch):
    for var in ("HF_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "SIZEUP_OLLAMA_REGISTRY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("SIZEUP_CACHE_DIR", str(tmp_path / "sizeup-cache"))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    monkeypatch.setenv("LMSTUDIO_MODELS", str(tmp_path / "lmstudio"))
    monkeypatch.setenv("SIZEUP_USER_CATALOG", str(tmp_path / "user-catalog.json"))
    meta_cache.set_offline(False)
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server
    meta_cache.set_offline(False)
    hf_home = tmp_path / "hf-home"
    # Nothing but metadata may land in the HF cache: sizeup never writes there at all.
    assert not hf_home.exists() or not any(p.is_file() for p in hf_home.rglob("*"))


def _same_facts(remote, local) -> None:
    assert remote.arch == local.arch
    assert remote.params == local.params
    assert remote.quant == local.quant
    assert remote.file_size == local.file_size
    assert [(t.name, t.shape, t.dtype, t.n_bytes, t.offset) for t in remote.tensors] == \
           [(t.name, t.shape, t.dtype, t.n_bytes, t.offset) for t in local.tensors]


# --- references --------------------------------------------------------------------------------

def test_parse_ref_forms():
    r = parse_ref("unsloth/Qwen3-8B-GGUF:Q4_K_M")
    assert (r.kind, r.repo, r.quant, r.explicit) == ("hub", "unsloth/Qwen3-8B-GGUF", "Q4_K_M", True)
    r = parse_ref("Qwen/Qwen3-8B")
    assert (r.kind, r.repo, r.quant, r.explicit) == ("hub", "Qwen/Qwen3-8B", None, False)
    r = parse_ref("Qwen/Qwen3-8B@v1.0")
    assert (r.revision, r.explicit) == ("v1.0", True)
    r = parse_ref("hf.co/bartowski/x-GGUF:IQ4_XS")
    assert (r.kind, r.repo, r.quant) == ("hub", "bartowski/x-GGUF", "IQ4_XS")
    r = parse_ref("https://huggingface.co/org/repo/resolve/main/sub/model-Q8_0.gguf?download=true")
    assert (r.repo, r.revision, r.filename) == ("org/repo", "main", "sub/model-Q8_0.gguf")
    r = parse_ref("https://huggingface.co/org/repo/tree/dev")
    assert (r.repo, r.revision, r.filename) == ("org/repo", "dev", None)
    r = parse_ref("https://example.com/files/model.gguf")
    assert (r.kind, r.url) == ("url", "https://example.com/files/model.gguf")
    r = parse_ref("qwen3:8b")
    assert (r.kind, r.explicit) == ("ollama", True)
    assert parse_ref("two words") is None and parse_ref("") is None


def test_quant_file_choice():
    from sizeup.sources.hub import RepoFile
    from sizeup.sources.resolve import gguf_groups, pick_default, quant_of, select_quant

    files = [RepoFile(n, s) for n, s in [
        ("Qwen3-8B-Q2_K.gguf", 3), ("Qwen3-8B-Q8_0.gguf", 9), ("Qwen3-8B-UD-Q4_K_XL.gguf", 5), ("mmproj-F16.gguf", 1),
        ("BF16/Qwen3-8B-BF16-00001-of-00002.gguf", 10), ("BF16/Qwen3-8B-BF16-00002-of-00002.gguf", 6), ("README.md", 1)]]
    groups = gguf_groups(files)
    assert {g["quant"]: (g["size"], len(g["parts"])) for g in groups} == {
        "Q2_K": (3, 1), "Q8_0": (9, 1), "UD-Q4_K_XL": (5, 1), "BF16": (16, 2)}
    assert pick_default(groups)["quant"] == "UD-Q4_K_XL"  # no Q4_K_M/Q4_0/...: the nearest 4-bit
    assert pick_default([g for g in groups if "Q4" not in g["quant"]])["quant"] == "Q8_0"
    assert select_quant(groups, "bf16", "r")["parts"][1].endswith("00002-of-00002.gguf")
    assert quant_of("Qwen3-8B-Q4_K_M.gguf") == "Q4_K_M" and quant_of("qwen3-8b.gguf") is None
    with pytest.raises(NotFound, match="Q5_K_M.*Q2_K"):
        select_quant(groups, "Q5_K_M", "r")


# --- the Hub -----------------------------------------------------------------------------------

def test_hub_gguf_repo_matches_local_and_reads_a_fraction(hub, gemma3_path, smollm2_path):
    hub.state.repos["google/gemma-3-270m-GGUF"] = Repo({"gemma-3-270m-Q4_K_M.gguf": gemma3_path, "README.md": b"# card"})
    hub.state.repos["HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"] = Repo(
        {"smollm2-135m-instruct-q4_1.gguf": smollm2_path, "smollm2-135m-instruct-q8_0.gguf": smollm2_path})
    local = describe(gemma3_path)
    remote = describe("google/gemma-3-270m-GGUF:Q4_K_M")
    _same_facts(remote, local)
    sent = hub.state.total_bytes("gemma-3-270m-Q4_K_M.gguf")
    size = gemma3_path.stat().st_size
    assert 0 < sent < size * 0.05, (sent, size)  # the 6.5 MB header of a 253 MB file, not the file
    assert remote.extra["remote"]["bytes"] == hub.state.total_bytes()  # API answer + header ranges
    assert remote.extra["remote"]["requests"] == len(hub.state.requests) <= 10
    assert remote.extra["hub_repo"] == "google/gemma-3-270m-GGUF" and remote.extra["hub_revision"] == "a" * 40
    ranges = [r for _m, p, r in hub.state.requests if p.endswith(".gguf")]
    assert ranges and all(r and r.startswith("bytes=") for r in ranges)

    # org/repo alone: picks a default quant (no Q4_K_M here: the nearest 4-bit, Q4_1) and lists the files
    hub.state.reset()
    md = describe("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF")
    assert md.extra["hub_quant"] == "Q4_1" and {q["quant"] for q in md.extra["hub_quants"]} == {"Q4_1", "Q8_0"}
    assert any("2 GGUF quantizations" in w for w in md.warnings)
    _same_facts(md, describe(smollm2_path))

    # https URLs of the Hub and hf.co/ forms name the same file
    url = f"{hub.url}/google/gemma-3-270m-GGUF/resolve/main/gemma-3-270m-Q4_K_M.gguf"
    assert describe(url).params == local.params
    assert describe("hf.co/google/gemma-3-270m-GGUF:q4_k_m").params == local.params

    with pytest.raises(NotFound, match="no GGUF file for quant 'Q5_K_M'"):
        describe("google/gemma-3-270m-GGUF:Q5_K_M")
    with pytest.raises(SizeupError, match="revision not found"):
        describe("google/gemma-3-270m-GGUF@nope:Q4_K_M")


def test_second_query_makes_no_request_and_offline(hub, gemma3_path, monkeypatch):
    hub.state.repos["google/gemma-3-270m-GGUF"] = Repo({"gemma-3-270m-Q4_K_M.gguf": gemma3_path})
    first = describe("google/gemma-3-270m-GGUF:Q4_K_M")
    hub.state.reset()
    second = describe("google/gemma-3-270m-GGUF:Q4_K_M")
    assert hub.state.requests == [] and second.extra["remote"]["cached"] is True
    _same_facts(second, first)
    # a different spelling of the same file re-asks the API but reuses the parsed header (keyed by commit)
    describe("google/gemma-3-270m-GGUF")
    assert [p for _m, p, _r in hub.state.requests] == ["/api/models/google/gemma-3-270m-GGUF?blobs=true"]

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.state.reset()
    assert describe("google/gemma-3-270m-GGUF:Q4_K_M").params == first.params
    with pytest.raises(SizeupError, match="offline .* no cached facts"):
        describe("google/gemma-3-270m-GGUF:Q8_0")
    assert hub.state.requests == []


def test_split_gguf_summed_across_parts(hub, tmp_path):
    from sizeup.testing.synthetic_gguf import write_synthetic

    d = tmp_path / "split"
    d.mkdir()
    first = write_synthetic(d / "tiny-Q8_0.gguf", "llama", split_max_tensors=12, dtype="Q8_0")
    parts = sorted(d.glob("*.gguf"))
    assert len(parts) > 1 and first == parts[0]
    hub.state.repos["org/tiny-GGUF"] = Repo({f"Q8_0/{p.name}": p for p in parts})
    remote = describe("org/tiny-GGUF:Q8_0")
    local = describe(first)
    _same_facts(remote, local)
    assert remote.extra["split_count"] == len(parts) and len(remote.files) == len(parts)
    assert remote.file_size == sum(p.stat().st_size for p in parts)


def _write_toy_safetensors(d: Path) -> dict:
    """A small llama-shaped checkpoint in two shards with an index (written by the safetensors package)."""
    from safetensors.numpy import save_file

    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 256,
           "max_position_embeddings": 2048, "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
    rng = np.random.default_rng(0)
    t = {"model.embed_tokens.weight": (256, 64), "model.norm.weight": (64,), "lm_head.weight": (256, 64)}
    for i in range(2):
        p = f"model.layers.{i}."
        t |= {p + "self_attn.q_proj.weight": (64, 64), p + "self_attn.k_proj.weight": (32, 64),
              p + "self_attn.v_proj.weight": (32, 64), p + "self_attn.o_proj.weight": (64, 64),
              p + "mlp.gate_proj.weight": (128, 64), p + "mlp.up_proj.weight": (128, 64),
              p + "mlp.down_proj.weight": (64, 128), p + "input_layernorm.weight": (64,),
              p + "post_attention_layernorm.weight": (64,)}
    arrays = {k: rng.standard_normal(s).astype(np.float16) for k, s in t.items()}
    names = sorted(arrays)
    shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2], "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    wm = {}
    for fname, keys in shards.items():
        save_file({k: arrays[k] for k in keys}, str(d / fname), metadata={"format": "pt"})
        wm |= {k: fname for k in keys}
    (d / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wm}))
    (d / "config.json").write_text(json.dumps(cfg))
    return cfg


def test_hub_safetensors_repo_matches_local(hub, tmp_path):
    from sizeup.formats.safetensors import describe_hf_dir

    d = tmp_path / "toy"
    d.mkdir()
    _write_toy_safetensors(d)
    hub.state.repos["org/toy-llama"] = Repo({p.name: p for p in d.iterdir()})
    remote = describe("org/toy-llama")  # not a catalog id: looked up on the Hub
    local = describe_hf_dir(d)
    assert remote.source == "safetensors"
    _same_facts(remote, local)
    assert remote.license.id == "apache-2.0"
    shard_reqs = [(p, r) for _m, p, r in hub.state.requests if p.endswith(".safetensors")]
    assert len(shard_reqs) == 2 and all(r.startswith("bytes=0-") for _p, r in shard_reqs)  # one read per shard


def test_catalog_id_needs_no_network(hub):
    from sizeup.catalog import all_ids

    md = describe(all_ids()[0])
    assert md.source == "catalog" and hub.state.requests == []


def test_gated_repo_and_token(hub, gemma3_path, monkeypatch):
    hub.state.repos["google/gated-GGUF"] = Repo({"g-Q4_K_M.gguf": gemma3_path}, gated=True)
    hub.state.token = "hf_test_token"
    with pytest.raises(SizeupError) as ei:
        describe("google/gated-GGUF:Q4_K_M")
    msg = str(ei.value)
    assert "gated" in msg and "HF_TOKEN" in msg and "\n" not in msg
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    hub.state.reset()
    assert describe("google/gated-GGUF:Q4_K_M").params.total > 0
    # the token goes to the Hub's host only: not to the CDN host the file redirects to
    assert hub.state.auth_seen and all(h.startswith("127.0.0.1") for h, _p in hub.state.auth_seen)
    assert any(p.startswith("/cdn/") for _m, p, _r in hub.state.requests)
    assert not any(p.startswith("/cdn/") for _h, p in hub.state.auth_seen)
    # nor to any other URL
    hub.state.auth_seen.clear()
    describe(f"http://localhost:{hub.url.rsplit(':', 1)[1]}/cdn/google/gated-GGUF/g-Q4_K_M.gguf")
    assert hub.state.auth_seen == []


def test_plain_url_and_split_url(hub, smollm2_path, tmp_path):
    hub.state.repos["files/x"] = Repo({"SmolLM2.Q4_1.gguf": smollm2_path})
    md = describe(f"{hub.url}/cdn/files/x/SmolLM2.Q4_1.gguf")
    _same_facts(md, describe(smollm2_path))
    assert md.path.startswith("http://127.0.0.1")


def test_ollama_registry(hub, smollm2_path, monkeypatch):
    monkeypatch.setenv("SIZEUP_OLLAMA_REGISTRY", hub.url)
    digest = "sha256:" + "ab" * 32
    hub.state.ollama["library/tinysmol:135m-q4"] = (digest, smollm2_path)
    md = describe("tinysmol:135m-q4")
    _same_facts(md, describe(smollm2_path))
    assert md.extra["ollama_name"] == "tinysmol:135m-q4"
    assert hub.state.total_bytes("ollama-cdn") < smollm2_path.stat().st_size * 0.05
    with pytest.raises(NotFound, match="not in the Ollama registry"):
        describe("nosuchmodel:1b")


# --- CLI: estimate, search -------------------------------------------------------------------

def test_estimate_and_search_match_local(hub, gemma3_path, capsys):
    from sizeup.cli.main import main

    hub.state.repos["google/gemma-3-270m-GGUF"] = Repo({"gemma-3-270m-Q4_K_M.gguf": gemma3_path, "gemma-3-270m-Q8_0.gguf": gemma3_path})

    def run_json(*argv):
        assert main(list(argv)) == 0
        return json.loads(capsys.readouterr().out)

    common = ["--ctx", "8192", "--ram", "16G", "--no-table", "--json"]
    local = run_json("estimate", str(gemma3_path), *common)
    remote = run_json("estimate", "google/gemma-3-270m-GGUF", "--quant", "Q4_K_M", *common)
    assert remote["totals"] == local["totals"] and remote["max_context"] == local["max_context"]

    out = run_json("search", "gemma-3-270m", "--ctx", "8192", "--ram", "16G", "--json")
    [repo] = out["repos"]
    rows = {f["quant"]: f for f in repo["files"]}
    assert set(rows) == {"Q4_K_M", "Q8_0"}
    assert rows["Q4_K_M"]["size"] == gemma3_path.stat().st_size and rows["Q4_K_M"]["fits"] is True
    assert rows["Q4_K_M"]["memory"] == local["totals"]["total"]
    assert rows["Q8_0"]["basis"] == "requantized header" and rows["Q8_0"]["memory"] > rows["Q4_K_M"]["memory"]
    tiny = run_json("search", "gemma-3-270m", "--ctx", "8192", "--ram", "100M", "--json")
    assert all(f["fits"] is False for f in tiny["repos"][0]["files"])


# --- catalog update ------------------------------------------------------------------------------

def test_catalog_update_overrides_builtin_and_adds_trending(hub, capsys):
    from sizeup.catalog import CATALOG_PATH, get_entry, load_catalog
    from sizeup.cli.main import main

    builtin = load_catalog(CATALOG_PATH)
    e = next(x for x in builtin if x.config.get("num_hidden_layers"))
    published = dict(e.config) | {"num_hidden_layers": e.config["num_hidden_layers"] + 2, "rope_theta": 1.0}
    hub.state.repos[e.id] = Repo({"config.json": json.dumps(published).encode()})
    new_cfg = {"model_type": "qwen3", "hidden_size": 1024, "num_hidden_layers": 28, "num_attention_heads": 16,
               "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 3072, "vocab_size": 151936,
               "max_position_embeddings": 40960, "tie_word_embeddings": True, "id2label": {"0": "x"}}
    hub.state.repos["neworg/Shiny-0.6B-Instruct"] = Repo({"config.json": json.dumps(new_cfg).encode()}, tags=["conversational"])

    assert main(["catalog", "update", "--trending", "5", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["added"] == ["neworg/Shiny-0.6B-Instruct"] and e.id in summary["changed"]
    assert get_entry(e.id).config["num_hidden_layers"] == published["num_hidden_layers"]
    new = get_entry("neworg/Shiny-0.6B-Instruct")
    assert new.tags == ("chat",) and "id2label" not in new.config and new.context_length == 40960
    assert len(load_catalog()) == len(builtin) + 1
    assert main(["catalog", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["user"]["added"] == 1 and info["user"]["age_seconds"] < 60 and info["builtin"]["newest_release"]
    assert describe("neworg/Shiny-0.6B-Instruct").source == "catalog"


# --- failures: one line, within the deadline ---------------------------------------------------

HOSTILE = ["ignore-range", "wrong-length", "short-body", "endless", "stall", "drip", "redirect-loop", "redirect-many",
           "401", "403", "404", "429", "500", "not-gguf-html"]
EXPECT = {"ignore-range": "ignores HTTP Range", "wrong-length": "bad Content-Length", "short-body": "closed after",
          "endless": "more than the", "stall": "timed out", "drip": "deadline", "redirect-loop": "redirect loop",
          "redirect-many": "redirects", "401": "HF_TOKEN", "403": "gated", "404": "HTTP 404", "429": "rate limited",
          "500": "server error", "not-gguf-html": "HTML page"}


@pytest.mark.parametrize("mode", HOSTILE)
def test_hostile_server_one_line_within_deadline(hub, mode, monkeypatch, capsys):
    from sizeup.cli.main import main

    monkeypatch.setenv("SIZEUP_REMOTE_DEADLINE", "3")
    monkeypatch.setenv("SIZEUP_REMOTE_TIMEOUT", "1")
    hub.state.mode = mode
    t0 = time.monotonic()
    rc = main(["inspect", f"{hub.url}/files/x/model-Q4_K_M.gguf", "--json"])
    took = time.monotonic() - t0
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and EXPECT[mode] in err, err
    assert took < 3 + 1.5, took


def test_api_errors_and_no_network(hub, monkeypatch, capsys):
    from sizeup.cli.main import main

    hub.state.mode = "api-429"
    assert main(["inspect", "org/some-GGUF:Q4_K_M"]) == 2
    assert "rate limited" in capsys.readouterr().err
    hub.state.mode = "api-endless"  # the model-info JSON never ends: capped, not read forever
    assert main(["inspect", "org/some-GGUF:Q4_K_M"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "endless body" in err, err
    assert hub.state.total_bytes() < 64 << 20
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert main(["inspect", "org/some-GGUF:Q4_K_M"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "connection refused" in err
    # a bare org/name that is nowhere (and the Hub unreachable) stays a plain not-found with hints
    with pytest.raises(NotFound, match="not looked up on the Hugging Face Hub"):
        describe("org/some-model")


def test_budget_caps_a_huge_header(hub, tmp_path, monkeypatch, gemma3_path):
    hub.state.repos["google/gemma-3-270m-GGUF"] = Repo({"gemma-3-270m-Q4_K_M.gguf": gemma3_path})
    monkeypatch.setenv("SIZEUP_REMOTE_MAX_BYTES", str(2 << 20))
    with pytest.raises(SizeupError, match="budget"):
        describe("google/gemma-3-270m-GGUF:Q4_K_M")
    assert hub.state.total_bytes() <= 2 << 20, (hub.state.bytes_sent, hub.state.requests)


def test_offline_flag_on_cli(hub, capsys):
    from sizeup.cli.main import main

    assert main(["inspect", "org/unseen-GGUF:Q4_K_M", "--offline"]) == 2
    assert "offline" in capsys.readouterr().err and hub.state.requests == []


def test_search_safetensors_repo_and_failing_repo(hub, tmp_path, capsys):
    from sizeup.cli.main import main

    d = tmp_path / "toy"
    d.mkdir()
    _write_toy_safetensors(d)
    hub.state.repos["org/toy-llama"] = Repo({p.name: p for p in d.iterdir()}, tags=["safetensors"])
    hub.state.repos["org/toy-broken-GGUF"] = Repo({"x-Q4_K_M.gguf": b"<html>not a model</html>" * 8}, tags=["gguf"])
    assert main(["estimate", str(d), "--ctx", "2048", "--ram", "16G", "--no-table", "--json"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(["search", "toy", "--ctx", "2048", "--ram", "16G", "--json"]) == 0
    repos = {r["repo"]: r for r in json.loads(capsys.readouterr().out)["repos"]}
    [row] = repos["org/toy-llama"]["files"]
    assert repos["org/toy-llama"]["format"] == "safetensors" and row["n_parts"] == 2
    assert row["memory"] == local["totals"]["total"] and row["size"] == sum(p.stat().st_size for p in d.glob("*.safetensors"))
    assert "HTML page" in repos["org/toy-broken-GGUF"]["error"] and repos["org/toy-broken-GGUF"]["files"] == []
