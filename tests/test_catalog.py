"""The built-in model catalog: its data checked against the architecture code, and its API.

The central check recomputes every entry's parameter count from its stored config subset
(``architecture_from_hf_config`` -> ``layout.predict_tensors``) and compares it with the count the
publisher states. Two independent sources agreeing to within 3% is what makes both trustworthy:
a mistyped config field or a wrong layout rule for a family shows up here.
"""

from __future__ import annotations

import copy
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sizeup import catalog
from sizeup.errors import NotFound, SizeupError
from sizeup.formats.hf_config import architecture_from_hf_config
from sizeup.layout import count_params as layout_count_params
from sizeup.licenses import LICENSES, classify_license
from sizeup.model import UNKNOWN

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = catalog.load_catalog()
RAW = json.loads(catalog.CATALOG_PATH.read_text(encoding="utf-8"))


def _by_id(eid: str) -> catalog.CatalogEntry:
    return catalog.get_entry(eid)


# --- the data -------------------------------------------------------------------------------------


def test_catalog_is_large_and_loads():
    assert len(ENTRIES) >= 250
    assert len(ENTRIES) == len(RAW["models"])
    assert all(isinstance(e, catalog.CatalogEntry) for e in ENTRIES)


def test_ids_and_names_are_unique():
    ids = [e.id.lower() for e in ENTRIES]
    assert len(ids) == len(set(ids))
    names = [k for e in ENTRIES for k in catalog._keys(e)]
    assert len(names) == len(set(names))


def test_coverage_spans_small_to_very_large_dense_and_moe():
    totals = [e.params.total for e in ENTRIES]
    assert min(totals) < 300e6 and max(totals) > 600e9
    assert sum(e.is_moe for e in ENTRIES) >= 20
    families = {e.family for e in ENTRIES}
    for fam in ("llama3.1", "llama3.2", "llama3.3", "llama4", "qwen2.5", "qwen2.5-coder", "qwen3", "qwen3-coder", "gemma2",
                "gemma3", "phi3", "phi3.5", "phi4", "mistral", "mistral-nemo", "mistral-small", "mixtral", "devstral",
                "deepseek-v3", "deepseek-r1-distill", "deepseek-v2", "starcoder2", "olmo2", "smollm2", "smollm3", "gpt-oss",
                "glm4.5", "falcon3", "internlm2.5", "granite3.3", "kimi-k2",
                # 2025-2026 families, hybrid and recurrent ones included
                "qwen3-vl", "qwen3-next", "qwen3.5", "qwen3.6", "minimax-m2", "nemotron-h", "nemotron-3", "lfm2",
                "apertus", "exaone4", "ministral3", "magistral", "jamba", "intellect-3", "rwkv7", "gemma3n"):
        assert fam in families, fam


def test_audited_config_facts():
    """Facts an audit against the published config.json files corrected or added."""
    for size in ("4b", "12b", "27b"):
        for kind in ("it", "pt"):
            # The published text_config leaves vocab_size out, so Gemma3TextConfig's default applies.
            assert _by_id(f"google/gemma-3-{size}-{kind}").config["text_config"]["vocab_size"] == 262208
    assert _by_id("mistralai/Mixtral-8x22B-v0.1").config["vocab_size"] == 32000  # the v3 tokenizer is the Instruct's
    assert _by_id("mistralai/Mixtral-8x22B-Instruct-v0.1").config["vocab_size"] == 32768
    for eid in ("Qwen/Qwen3-30B-A3B", "Qwen/Qwen3-235B-A22B"):
        assert "131072 with YaRN" in _by_id(eid).notes


def test_release_precision_is_kept_as_config_fields():
    assert _by_id("openai/gpt-oss-120b").config["quantization_config"]["quant_method"] == "mxfp4"
    assert _by_id("deepseek-ai/DeepSeek-V3").config["quantization_config"]["quant_method"] == "fp8"
    assert _by_id("Qwen/Qwen3-235B-A22B-FP8").config["quantization_config"]["quant_method"] == "fp8"
    assert _by_id("Qwen/Qwen3-8B").config["torch_dtype"] == "bfloat16"
    k25 = _by_id("moonshotai/Kimi-K2.5").config["text_config"]["quantization_config"]
    assert k25["quant_method"] == "compressed-tensors" and k25["config_groups"]["group_0"]["weights"]["num_bits"] == 4
    # A precision copied from another repository would be a guess: entries whose facts come from
    # a sibling (source_note) carry no dtype or quantization of their own unless their own file was read.
    for e in ENTRIES:
        if e.source_note and "was not read" in e.source_note:
            flat = {**e.config, **(e.config.get("text_config") or {})}
            assert not {"quantization_config", "torch_dtype", "dtype"} & set(flat), e.id


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.id for e in ENTRIES])
def test_parameter_count_recomputed_from_architecture_matches_stated(entry: catalog.CatalogEntry):
    arch = architecture_from_hf_config(entry.hf_config())
    assert "unknown_model_type" not in arch.extra, "catalog configs must use a model_type sizeup knows"
    total = layout_count_params(arch)
    stated = entry.params
    if stated.precision == "exact":
        assert total == pytest.approx(stated.total, rel=0.03), f"{total / 1e9:.3f}B vs stated {stated.total / 1e9:.3f}B"
    else:
        # A size label ("Falcon3-1B") rounds, and some labels name the size without embeddings:
        # either reading must land within 15% of the label.
        md = catalog.describe_entry(entry)
        non_emb = md.params.total - md.params.embedding - md.params.output
        assert min(abs(total / stated.total - 1), abs(non_emb / stated.total - 1)) <= 0.15, (
            f"{total / 1e9:.3f}B ({non_emb / 1e9:.3f}B without embeddings) vs label {stated.label or stated.total}")
    if stated.active is not None:
        md = catalog.describe_entry(entry)
        active = md.params.active - (md.params.embedding if stated.active_excludes_embedding else 0)
        active -= md.params.output if stated.active_excludes_output else 0
        assert arch.is_moe
        # "A3B" in a name is a label like "30B": it rounds, so it gets the label tolerance.
        tol = 0.03 if stated.precision == "exact" else 0.15
        assert active == pytest.approx(stated.active, rel=tol), f"active {active / 1e9:.2f}B vs {stated.active / 1e9:.2f}B"
    else:
        assert not arch.is_moe, "an MoE entry must state its active parameters"


def test_context_length_is_consistent_with_config():
    for e in ENTRIES:
        arch = architecture_from_hf_config(e.hf_config())
        # The stated context may exceed the config (YaRN extension documented in the card), but
        # never by more than the 8x that the rope-scaling factors in these families allow.
        assert arch.n_ctx_train * 8 >= e.context_length, e.id
        assert e.context_length >= 2048, e.id


def test_licences_are_known_and_classified():
    for e in ENTRIES:
        assert e.license in LICENSES, e.id
        lic = classify_license(e.license)
        assert lic.id == e.license
        assert lic.openness != UNKNOWN, f"{e.id}: licence '{e.license}' has no openness class"
    # Spot checks of the classification itself.
    assert _by_id("openai/gpt-oss-20b").openness == "open-source"
    assert classify_license(_by_id("meta-llama/Llama-3.1-8B-Instruct").license).openness == "open-weights"
    assert classify_license(_by_id("google/gemma-3-4b-it").license).openness == "open-weights"


def test_ollama_tags_are_well_formed_and_unique():
    tags = [e.ollama for e in ENTRIES if e.ollama]
    assert len(tags) >= 80
    assert len(tags) == len(set(tags))
    for t in tags:
        name, _, size = t.partition(":")
        assert catalog.OLLAMA_RE.match(t) and name and size, t
        assert t == t.lower() and " " not in t


def test_every_entry_cites_its_sources():
    for e in ENTRIES:
        assert e.source.startswith("https://huggingface.co/") and e.source.endswith("/blob/main/config.json")
        assert e.checked_against and e.params.stated_in
        assert re.fullmatch(r"20(2[2-6]|1\d)-\d\d", e.released), e.id
        # An entry whose facts come from another repo (a fine-tune, a base model) must say so.
        src_repo = e.source.removeprefix("https://huggingface.co/").removesuffix("/blob/main/config.json")
        if src_repo != e.id:
            assert e.source_note and src_repo in e.source_note, e.id


def test_moe_entries_carry_their_expert_facts_in_the_config():
    e = _by_id("deepseek-ai/DeepSeek-V3")
    arch = architecture_from_hf_config(e.hf_config())
    assert (arch.n_expert, arch.n_expert_used, arch.kv_lora_rank, arch.q_lora_rank) == (256, 8, 512, 1536)
    assert sum(arch.moe_layers) == 61 - 3
    scout = architecture_from_hf_config(_by_id("llama4:scout").hf_config())
    maverick = architecture_from_hf_config(_by_id("llama4:maverick").hf_config())
    assert sum(scout.moe_layers) == 48 and sum(maverick.moe_layers) == 24  # interleave step 1 vs 2
    oss = architecture_from_hf_config(_by_id("gpt-oss:20b").hf_config())
    assert oss.swa_window == 128 and sum(oss.swa_layers) == 12


def test_sliding_window_families_keep_their_pattern():
    g3 = architecture_from_hf_config(_by_id("gemma3:27b").hf_config())
    assert g3.swa_window == 1024 and g3.swa_pattern.startswith("5 sliding : 1 global")
    g2 = architecture_from_hf_config(_by_id("gemma2:9b").hf_config())
    assert g2.swa_window == 4096 and sum(g2.swa_layers) == 21


def test_hf_config_returns_a_private_copy():
    e = _by_id("qwen3:8b")
    c = e.hf_config()
    c["num_hidden_layers"] = 1
    assert e.config["num_hidden_layers"] == 36


# --- lookups -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "Qwen/Qwen2.5-Coder-7B-Instruct", "qwen/qwen2.5-coder-7b-instruct", "QWEN2.5-CODER-7B", "qwen2.5-coder:7b",
    "Qwen2.5-Coder-7B-Instruct", "https://huggingface.co/Qwen/Qwen2.5-Coder-7B-Instruct", "hf.co/Qwen/Qwen2.5-Coder-7B-Instruct/",
    "  qwen2.5-coder:7b  ",
])
def test_get_entry_accepts_id_alias_bare_name_and_ollama_tag(name):
    assert catalog.get_entry(name).id == "Qwen/Qwen2.5-Coder-7B-Instruct"


def test_get_entry_latest_tag_is_not_guessed():
    # "qwen3:latest" is whatever Ollama points it at today; sizeup must not pretend to know.
    with pytest.raises(NotFound):
        catalog.get_entry("qwen3:latest")


@pytest.mark.parametrize("typo, expected", [
    ("qwen2.5-coder:8b", "qwen2.5-coder:7b"),
    ("lama3.1:8b", "llama3.1:8b"),
    ("meta-llama/Llama-3.1-8B-Instuct", "meta-llama/Llama-3.1-8B-Instruct"),
    ("gemma3-27", "gemma3-27b"),
])
def test_unknown_name_raises_not_found_with_close_matches(typo, expected):
    with pytest.raises(NotFound) as ei:
        catalog.get_entry(typo)
    msg = str(ei.value)
    assert "did you mean" in msg and expected in msg and "\n" not in msg


def test_hopeless_name_gets_a_pointer_not_a_traceback():
    for bad in ("zzzzzzzzzz", "", "x" * 1000):
        with pytest.raises(NotFound):
            catalog.get_entry(bad)


def test_all_ids_lists_every_entry():
    assert catalog.all_ids() == [e.id for e in ENTRIES]


# --- search -------------------------------------------------------------------------------------


def test_search_filters_combine():
    hits = catalog.search(task="code", max_params="8B", license="open-source")
    assert hits and all("coding" in e.tags and e.params.total <= 8e9 for e in hits)
    assert all(classify_license(e.license).openness == "open-source" for e in hits)
    assert "Qwen/Qwen2.5-Coder-7B-Instruct" in [e.id for e in hits]
    assert "Qwen/Qwen2.5-Coder-3B-Instruct" not in [e.id for e in hits]  # Qwen research licence
    assert [e.params.total for e in hits] == sorted(e.params.total for e in hits)


def test_search_by_licence_id_and_size_number():
    gemma = catalog.search(license="gemma")
    assert gemma and {e.license for e in gemma} == {"gemma"}
    small = catalog.search(max_params=1.5e9, task="edge")
    assert small and all(e.params.total <= 1.5e9 and "small/edge" in e.tags for e in small)
    assert len(catalog.search()) == len(ENTRIES)
    moe = catalog.search(task="moe", license="open-weights")
    assert moe and all(e.is_moe for e in moe)


@pytest.mark.parametrize("kwargs, words", [
    ({"task": "cooking"}, "unknown task"),
    ({"task": "codin"}, "did you mean"),
    ({"license": "wtfpl-9"}, "unknown licence"),
    ({"max_params": "lots"}, "not a size"),
    ({"max_params": -1}, "positive"),
])
def test_search_rejects_bad_filters_with_one_line(kwargs, words):
    with pytest.raises(SizeupError) as ei:
        catalog.search(**kwargs)
    assert words in str(ei.value) and "\n" not in str(ei.value)


# --- describe_entry -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["qwen2.5-coder:7b", "mixtral:8x7b", "deepseek-ai/DeepSeek-V3", "gemma3:4b",
                                  "gpt-oss:20b", "smollm2:135m"])
def test_describe_entry_is_consistent(name):
    e = catalog.get_entry(name)
    md = catalog.describe_entry(e)
    assert md.source == "catalog" and md.path is None and md.files == [] and md.file_size == 0
    assert md.name == e.name and md.quant is None
    assert md.arch is not None and md.params is not None and md.tokenizer is not None
    assert md.params.total == layout_count_params(md.arch)
    assert md.tokenizer.n_vocab == md.arch.n_vocab
    assert md.license == classify_license(e.license)
    assert md.runtimes and "llama.cpp" in md.runtimes
    if e.is_moe:
        assert 0 < md.params.active < md.params.total and md.params.expert > 0
    else:
        assert md.params.active == md.params.total and md.params.expert == 0
    assert md.params.output == (0 if md.arch.tie_embeddings else md.params.embedding)
    x = md.extra
    assert x["hf_id"] == e.id and x["family"] == e.family and x["ollama"] == e.ollama
    assert x["released"] == e.released and x["tags"] == list(e.tags)
    assert x["stated_params"]["total"] == e.params.total
    json.dumps(md.to_dict())  # serializable for --json output


def test_describe_entry_matches_the_real_gguf(smollm2_path, gemma3_path):
    """The catalog's prediction for a model equals the tensor inventory of its real GGUF."""
    from sizeup.formats.gguf_reader import read_gguf
    from sizeup.layout import predict_tensors

    for path, name in ((smollm2_path, "HuggingFaceTB/SmolLM2-135M-Instruct"), (gemma3_path, "google/gemma-3-270m-it")):
        e = catalog.get_entry(name)
        md = catalog.describe_entry(e)
        real = read_gguf(path).tensors
        assert md.params.total == sum(t.n_elements for t in real), name
        assert sorted(predict_tensors(md.arch)) == sorted((t.name, tuple(t.shape)) for t in real), name
        assert md.arch.n_ctx_train == e.config["max_position_embeddings"]


# --- validation of the file ------------------------------------------------------------------------


def _write(tmp_path: Path, models: list[dict], **top) -> Path:
    doc = {"schema": 1, "about": "test", "models": models} | top
    p = tmp_path / "catalog.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    return p


def _one() -> dict:
    return copy.deepcopy(next(m for m in RAW["models"] if m["id"] == "Qwen/Qwen3-8B"))


@pytest.mark.parametrize("mutate, words", [
    (lambda m: m.update(colour="red"), "unknown field(s) colour"),
    (lambda m: m.pop("license"), "missing required field 'license'"),
    (lambda m: m["params"].pop("stated_in"), "missing required field 'stated_in'"),
    (lambda m: m.update(license="totally-free"), "not in sizeup's licence table"),
    (lambda m: m.update(ollama="Qwen 3"), "not of the form name:tag"),
    (lambda m: m.update(released="April 2025"), "YYYY-MM"),
    (lambda m: m.update(tags=["chat", "cooking"]), "unknown tag(s) cooking"),
    (lambda m: m.update(context_length=True), "must be a number, not a boolean"),
    (lambda m: m.update(aliases="qwen3"), "wrong type"),
    (lambda m: m["params"].update(active=9e12), "out of range"),
    (lambda m: m.update(id="not a repo"), "not a Hugging Face repo id"),
    (lambda m: m.update(config={"hidden_size": 1}), "no model_type"),
])
def test_invalid_entries_fail_the_load_naming_the_entry(tmp_path, mutate, words):
    m = _one()
    mutate(m)
    with pytest.raises(SizeupError) as ei:
        catalog.load_catalog(_write(tmp_path, [m]))
    msg = str(ei.value)
    assert words in msg and "\n" not in msg
    assert f"entry '{m.get('id')}'" in msg


def test_duplicate_names_are_rejected(tmp_path):
    a, b = _one(), _one()
    b["id"] = "Qwen/Qwen3-8B-Copy"
    with pytest.raises(SizeupError, match="already used by 'Qwen/Qwen3-8B'"):
        catalog.load_catalog(_write(tmp_path, [a, b]))


@pytest.mark.parametrize("text", ["", "{", "[]", '{"schema": 1}', '{"schema": 2, "models": []}'])
def test_broken_files_fail_with_one_line(tmp_path, text):
    p = tmp_path / "c.json"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(SizeupError) as ei:
        catalog.load_catalog(p)
    assert "\n" not in str(ei.value)


def test_missing_file_fails_with_one_line(tmp_path):
    with pytest.raises(SizeupError, match="cannot read"):
        catalog.load_catalog(tmp_path / "nope.json")


# --- scripts/refresh_catalog.py -------------------------------------------------------------------

SCRIPT = ROOT / "scripts" / "refresh_catalog.py"


def _run_refresh(args: list[str], endpoint: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_ETAG_TIMEOUT="5", HF_HUB_DOWNLOAD_TIMEOUT="5")
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120)


def test_refresh_offline_fails_with_one_clear_line(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = _run_refresh(["--check", "--only", "qwen3-8b"], f"http://127.0.0.1:{port}", tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("refresh_catalog: cannot reach the Hugging Face Hub"), r.stderr
    assert "Traceback" not in r.stdout + r.stderr


class _Hub(http.server.BaseHTTPRequestHandler):
    """Just enough of the Hub's file API for hf_hub_download: HEAD and GET of resolve/<rev>/<file>."""

    files: dict[str, bytes] = {}

    def _serve(self, body: bool) -> None:
        m = re.fullmatch(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>[^?]+)(\?.*)?", self.path)
        data = self.files.get(m["repo"]) if m and m["file"] == "config.json" else None
        if data is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{abs(hash(data)):x}"')
        self.send_header("X-Repo-Commit", "0" * 40)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self):  # noqa: N802
        self._serve(False)

    def do_GET(self):  # noqa: N802
        self._serve(True)

    def log_message(self, *args):  # keep test output clean
        pass


def test_refresh_detects_drift_and_rewrites_against_a_local_hub(tmp_path):
    entry = _one()
    published = copy.deepcopy(entry["config"]) | {"architectures": ["Qwen3ForCausalLM"], "rope_theta": 1000000}
    published["num_hidden_layers"] = 40  # the "hub" changed a fact
    del published["tie_word_embeddings"]  # a key the hub omits is a note, not drift
    cat = _write(tmp_path, [entry])
    _Hub.files = {"Qwen/Qwen3-8B": json.dumps(published).encode()}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        r = _run_refresh(["--check", "--catalog", str(cat)], endpoint, tmp_path)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "num_hidden_layers: catalog 36 != published 40" in r.stdout
        assert "tie_word_embeddings: not in the published file" in r.stdout
        assert json.loads(cat.read_text())["models"][0]["config"]["num_hidden_layers"] == 36  # --check writes nothing

        r = _run_refresh(["--catalog", str(cat)], endpoint, tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        m = json.loads(cat.read_text())["models"][0]
        assert m["config"]["num_hidden_layers"] == 40 and "refreshed" in m["checked_against"]
        catalog.load_catalog(cat)  # the rewritten file still validates

        r = _run_refresh(["--check", "--catalog", str(cat)], endpoint, tmp_path)
        assert r.returncode == 0 and "no drift" in r.stdout, r.stdout + r.stderr
    finally:
        server.shutdown()


def test_pure_recurrent_rwkv7_entries_keep_a_fixed_state():
    from sizeup.estimate.config import RunConfig
    from sizeup.estimate.memory import estimate_memory

    md = catalog.describe_entry(_by_id("fla-hub/rwkv7-2.9B-g1"))
    assert md.arch.name == "rwkv7" and md.arch.n_attention_layers == 0 and md.arch.n_recurrent_layers == 32
    small, big = (estimate_memory(md, RunConfig(n_ctx=n)) for n in (4096, 131072))
    # no KV cache at any context; per layer and sequence an F32 token shift (2 x n_embd) and WKV state
    # (n_embd x head_size), as llama_memory_recurrent allocates them
    assert small.kv == big.kv == 0
    assert small.recurrent == big.recurrent == 32 * (2 * 2560 + 2560 * 64) * 4


def test_gemma3n_entries_count_the_per_layer_embeddings_and_share_the_kv_cache():
    from sizeup.estimate.config import RunConfig
    from sizeup.estimate.memory import estimate_memory

    e2b, e4b = (catalog.describe_entry(_by_id(t)) for t in ("gemma3n:e2b", "gemma3n:e4b"))
    for md, n_layer, ple_rows in ((e2b, 30, 30 * 256), (e4b, 35, 35 * 256)):
        assert md.arch.name == "gemma3n" and md.arch.n_layer == n_layer
        # the text GGUF's tensors: both embedding tables padded to the 262400-token vocabulary
        assert md.params.embedding == 262400 * (2048 + ple_rows)
        est = estimate_memory(md, RunConfig(n_ctx=32768))
        # only the first 20 layers hold K/V: 4 global layers of 32768 cells, 16 of 1024 (window 512)
        assert est.kv == (4 * 32768 + 16 * 1024) * 2 * 512 * 2
    assert e2b.params.total - e2b.params.embedding == pytest.approx(1.9e9, rel=0.01)  # the "E2B" in its name
    assert e4b.params.total - e4b.params.embedding == pytest.approx(4.0e9, rel=0.01)
