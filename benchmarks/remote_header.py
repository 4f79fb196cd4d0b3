"""Bytes fetched and round trips to describe a remote model, vs downloading it whole.

Serves the real test models (SmolLM2-135M Q4_1, gemma-3-270m Q4_K_M), a split synthetic GGUF, a
two-shard safetensors checkpoint with SmolLM2-135M's published shapes (zeros) and a toy one from a local Hub-compatible server (tests/hub_server.py, the same
one the tests use) and, for each, measures in the same run:

* sizeup: ``describe("org/repo:QUANT")`` cold (bytes the server sent, requests, wall time), then
  the second query (answered from the metadata cache: requests must be 0);
* the naive peer: a plain GET of the whole file(s) through the same server (what a tool without
  Range reads, or ``hf_hub_download``, transfers), bytes and wall time.

gguf-parser-go (the remote-header peer) is not installable here (no Go toolchain, no network),
so the comparison is with the full download. Run: ``.venv/bin/python benchmarks/remote_header.py``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))


def _full_download(url: str) -> tuple[int, float]:
    t = time.perf_counter()
    n = 0
    with urllib.request.urlopen(url, timeout=60) as r:
        while True:
            b = r.read(1 << 20)
            if not b:
                break
            n += len(b)
    return n, time.perf_counter() - t


def _write_real_shaped_llama(d: Path, cfg: dict) -> None:
    """A checkpoint with the tensor names and shapes of a published llama config (zeros, F16, 2 shards)."""
    import numpy as np
    from safetensors.numpy import save_file

    E, L, H, KV, F, V = (cfg[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                          "num_key_value_heads", "intermediate_size", "vocab_size"))
    hd = E // H
    shapes = {"model.embed_tokens.weight": (V, E), "model.norm.weight": (E,)}
    if not cfg.get("tie_word_embeddings"):
        shapes["lm_head.weight"] = (V, E)
    for i in range(L):
        p = f"model.layers.{i}."
        shapes |= {p + "self_attn.q_proj.weight": (H * hd, E), p + "self_attn.k_proj.weight": (KV * hd, E),
                   p + "self_attn.v_proj.weight": (KV * hd, E), p + "self_attn.o_proj.weight": (E, H * hd),
                   p + "mlp.gate_proj.weight": (F, E), p + "mlp.up_proj.weight": (F, E), p + "mlp.down_proj.weight": (E, F),
                   p + "input_layernorm.weight": (E,), p + "post_attention_layernorm.weight": (E,)}
    names = sorted(shapes)
    half = len(names) // 2
    wm = {}
    for i, part in enumerate((names[:half], names[half:]), 1):
        fname = f"model-{i:05d}-of-00002.safetensors"
        save_file({n: np.zeros(shapes[n], np.float16) for n in part}, str(d / fname), metadata={"format": "pt"})
        wm |= {n: fname for n in part}
    (d / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wm}))
    (d / "config.json").write_text(json.dumps(cfg))


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="sizeup-bench-remote-"))
    os.environ.update(SIZEUP_CACHE_DIR=str(tmp / "cache"), HF_HOME=str(tmp / "hf"), OLLAMA_MODELS=str(tmp / "ollama"))
    os.environ.pop("HF_HUB_OFFLINE", None)
    from hub_server import HubServer, Repo
    from test_remote import _write_toy_safetensors

    from sizeup.sources.dispatch import describe
    from sizeup.testing.synthetic_gguf import write_synthetic
    from sizeup.testmodels import fetch

    smol, gemma = fetch("smollm2"), fetch("gemma3")
    split_dir = tmp / "split"
    split_dir.mkdir()
    write_synthetic(split_dir / "tiny-Q8_0.gguf", "llama", split_max_tensors=12, dtype="Q8_0", n_vocab=32000)
    st_dir = tmp / "st"
    st_dir.mkdir()
    _write_toy_safetensors(st_dir)

    from sizeup.catalog import get_entry

    real_dir = tmp / "smollm2-st"
    real_dir.mkdir()
    _write_real_shaped_llama(real_dir, get_entry("HuggingFaceTB/SmolLM2-135M").hf_config())

    cases = [
        ("HuggingFaceTB/SmolLM2-135M (safetensors, published config)", None, {p.name: p for p in real_dir.iterdir()}),
        ("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", "q4_1", {"SmolLM2-135M-Instruct-Q4_1.gguf": smol}),
        ("google/gemma-3-270m-GGUF", "Q4_K_M", {"gemma-3-270m-Q4_K_M.gguf": gemma}),
        ("org/tiny-split-GGUF", "Q8_0", {f"Q8_0/{p.name}": p for p in sorted(split_dir.glob("*.gguf"))}),
        ("org/toy-llama-safetensors", None, {p.name: p for p in st_dir.iterdir()}),
    ]
    rows = []
    with HubServer() as hub:
        os.environ["HF_ENDPOINT"] = hub.url
        for label, quant, files in cases:
            repo = label.split(" ")[0]
            hub.state.repos[repo] = Repo(files)
            # "@main" asks for the Hub even where the id is also a catalog entry (which needs no request)
            ref = f"{repo}:{quant}" if quant else f"{repo}@main"
            hub.state.reset()
            t = time.perf_counter()
            md = describe(ref)
            cold = time.perf_counter() - t
            sent, reqs = hub.state.total_bytes(), len(hub.state.requests)
            hub.state.reset()
            t = time.perf_counter()
            describe(ref)
            warm = time.perf_counter() - t
            warm_reqs = len(hub.state.requests)
            weights = [n for n in files if n.endswith((".gguf", ".safetensors"))]
            size = sum(files[n].stat().st_size for n in weights)
            hub.state.reset()
            full_bytes, full_s = 0, 0.0
            for n in weights:
                b, s = _full_download(f"{hub.url}/{repo}/resolve/main/{n}")
                full_bytes, full_s = full_bytes + b, full_s + s
            full_reqs = len(hub.state.requests)
            rows.append({"model": label if not quant else ref, "file_bytes": size, "sizeup_bytes": sent, "sizeup_requests": reqs,
                         "sizeup_s": round(cold, 3), "cached_requests": warm_reqs, "cached_s": round(warm, 4),
                         "full_download_bytes": full_bytes, "full_download_requests": full_reqs,
                         "full_download_s": round(full_s, 3), "fraction": sent / size, "params": md.params.total})
    print(f"{'model':58} {'file':>10} {'sizeup read':>12} {'%':>6} {'reqs':>5} {'time':>7} {'cached':>7}"
          f" | {'full dl':>10} {'reqs':>5} {'time':>7}")
    for r in rows:
        print(f"{r['model']:58} {r['file_bytes'] / 2**20:9.1f}M {r['sizeup_bytes'] / 2**20:11.2f}M {100 * r['fraction']:5.1f}%"
              f" {r['sizeup_requests']:5d} {r['sizeup_s']:6.2f}s {r['cached_requests']:3d} req"
              f" | {r['full_download_bytes'] / 2**20:9.1f}M {r['full_download_requests']:5d} {r['full_download_s']:6.2f}s")
    print("requests include the Hub API call and the CDN redirect; 'cached' = the second query (metadata cache).")
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
