"""``sizeup estimate`` end to end: real files, JSON contract, what-if hardware, one-line errors."""

from __future__ import annotations

import json

import pytest

from sizeup.cli.main import main
from sizeup.estimate.config import RunConfig
from sizeup.estimate.memory import estimate_memory
from sizeup.formats.gguf_model import describe_gguf

GIB = 1024**3


def _json(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


def test_json_breakdown_matches_the_library(capsys, gemma3_path):
    d = _json(capsys, ["estimate", str(gemma3_path), "--ctx", "32k", "--kv-type", "q8_0", "--ram", "8G",
                       "--gpus", "0", "--json"])
    est = estimate_memory(describe_gguf(gemma3_path), RunConfig(n_ctx=32768, type_k="q8_0", type_v="q8_0"))
    assert d["totals"]["kv"] == est.kv and d["totals"]["weights"] == est.weights
    assert d["resolved"]["n_ctx"] == 32768 and d["kv_cache"]["cells_swa"] == 1024
    assert d["quant"] == "Q4_K_M" and d["n_layer"] == 18
    assert 32768 <= d["max_context"] and d["max_context"] % 256 == 0
    quants = {r["quant"]: r for r in d["quant_table"]}
    assert quants["Q4_K_M"]["current"] and quants["Q4_K_M"]["weights"] == est.weights
    assert quants["Q8_0"]["weights"] > quants["Q4_K_M"]["weights"] > quants["Q2_K"]["weights"]


def test_what_if_gpu_offloads_and_counts_layers(capsys, smollm2_path):
    d = _json(capsys, ["estimate", str(smollm2_path), "--ctx", "8192", "--gpu", "RTX 4090", "--ram", "16G",
                       "--no-table", "--json"])
    gpu = [x for x in d["devices"] if x["kind"] == "gpu"][0]
    assert gpu["kv"] == d["totals"]["kv"] and gpu["has_output"]
    assert d["max_gpu_layers"] == 31 and d["layers_on_gpu"] == 31
    d2 = _json(capsys, ["estimate", str(smollm2_path), "--ctx", "8192", "--gpu", "RTX 4090", "--ram", "16G",
                        "--ngl", "10", "--no-table", "--json"])
    assert d2["layers_on_gpu"] == 10
    assert [x for x in d2["devices"] if x["kind"] == "gpu"][0]["kv"] < gpu["kv"]


def test_measure_compares_with_llama_cpp(capsys, smollm2_path):
    d = _json(capsys, ["estimate", str(smollm2_path), "--ctx", "4096", "--ram", "8G", "--gpus", "0",
                       "--no-table", "--measure", "--json"])
    m = d["llama_cpp"]
    assert "error" not in m, m
    llama = m["totals"]["total"]
    assert llama == m["model_bytes"] + m["kv_bytes"] + sum(b["output"] + b["compute"] for b in m["buffers"].values())
    assert abs(d["totals"]["llama_reported"] - llama) <= max(0.03 * llama, 32 * 1024 * 1024)


def test_serve_mode_json(capsys):
    d = _json(capsys, ["estimate", "meta-llama/Llama-3.1-8B-Instruct", "--serve", "--gpu", "H100 SXM", "--gpus", "4",
                       "--tp", "4", "--ctx", "32k", "--json"])
    assert d["tp"] == 4 and d["n_gpus"] == 4 and d["fits"]
    assert d["max_concurrent_seqs"] == d["kv_budget_per_gpu"] // (32768 * d["kv_bytes_per_token_per_gpu"])


@pytest.mark.parametrize("extra,msg", [
    (["--quant", "Q9_Z"], "unknown quant type"),
    (["--ngl", "99"], "30 layers + 1 output"),
    (["--kv-type", "q3"], "unknown KV cache type"),
    (["--ctx", "0"], "context length"),
    (["--cache-type-v", "q8_0", "--fa", "off"], "flash attention"),
    (["--kv-type", "q8_0", "--cache-type-k", "f16"], "either --kv-type"),
    (["--tensor-split", "a,b"], "tensor-split"),
    (["--ctx", "16k"], "above"),
])
def test_errors_are_one_line_exit_2(capsys, smollm2_path, extra, msg):
    rc = main(["estimate", str(smollm2_path), "--ram", "8G", "--gpus", "0", "--no-table", *extra])
    _, err = capsys.readouterr()
    assert rc == 2
    assert msg in err and err.count("\n") == 1 and err.startswith("sizeup: error:")


def test_context_beyond_training_needs_force_then_warns(capsys, smollm2_path):
    rc = main(["estimate", str(smollm2_path), "--ctx", "16k", "--ram", "8G", "--gpus", "0", "--no-table", "--force"])
    out, err = capsys.readouterr()
    assert rc == 0 and "beyond the model's trained 8192" in err
    assert "largest context that fits" in out


def test_repack_mmap_flags_and_llama_fit_in_json(capsys, gemma3_path):
    """--repack/--no-repack and --mmap/--no-mmap move peak RSS as llama.cpp would; every device
    carries llama.cpp's own reservation (llama_fit) and the llama-fit-params line to check it."""
    base = ["estimate", str(gemma3_path), "--ctx", "4096", "--ram", "8G", "--gpus", "0", "--no-table", "--json"]
    on = _json(capsys, base)
    host = on["devices"][0]
    fit = host["llama_fit"]
    assert set(fit) == {"model", "context", "compute"}
    assert fit["context"] == host["kv"] + host["recurrent"]
    assert fit["model"] == host["weights"] - host["weights_repacked"]
    assert fit["compute"] >= 512 * 262144 * 4  # logits for a whole micro-batch (n_outputs_max = n_batch)
    assert on["llama_fit_args"].startswith("llama-fit-params --fit-print on -c 4096 -b 2048 -ub 512")
    rep = on["totals"]["repacked"]
    if rep:  # builds with an AVX2 or NEON-dotprod path repack its Q4_K matrices
        assert rep > 0 and on["totals"]["peak_rss"] == on["totals"]["working_set"] + rep
    no_rep = _json(capsys, base + ["--no-repack"])
    assert no_rep["totals"]["repacked"] == 0 and no_rep["totals"]["peak_rss"] == on["totals"]["working_set"]
    assert "--no-repack" in no_rep["llama_fit_args"]
    no_mmap = _json(capsys, base + ["--no-mmap"])
    assert no_mmap["totals"]["peak_rss"] == no_mmap["totals"]["working_set"] == on["totals"]["working_set"]
    assert no_mmap["devices"][0]["weights_mapped"] == 0
    assert _json(capsys, base + ["--mmap"])["totals"] == on["totals"]
