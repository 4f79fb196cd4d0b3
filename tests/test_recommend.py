"""Recommendations on what-if machines: real catalog entries through the real memory and speed models."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sizeup.catalog import describe_entry, get_entry
from sizeup.estimate.config import RunConfig
from sizeup.estimate.memory import estimate_memory
from sizeup.hardware import probe_hardware
from sizeup.recommend import FIT_CPU, FIT_GPU, FIT_NONE, FIT_PARTIAL, best_choice, collapse_variants, recommend, weights_lower_bound
from sizeup.estimate.placement import devices_from_hardware
from sizeup.speed_adapter import speed_for_choice


def _model(mid: str):
    return describe_entry(get_entry(mid))


@pytest.fixture(scope="module")
def rtx4090_64g():
    hw = probe_hardware(gpu="RTX 4090", ram="64G", bandwidth="off")
    return type(hw)(**{**hw.__dict__, "cpu_bandwidth_gbs": 80.0})  # dual-channel DDR5


def test_8b_runs_fully_on_a_24g_gpu_below_full_precision(rtx4090_64g):
    m = _model("meta-llama/Llama-3.1-8B-Instruct")
    c = best_choice(m, 8192, devices_from_hardware(rtx4090_64g), hardware=rtx4090_64g)
    assert c.where == FIT_GPU and c.fits
    # BF16 (16 GB of weights) fits 24 GiB too, but Q8_0 loses 0.0026 ppl for twice the speed:
    # the score (not a rule) takes an 8-bit-or-smaller type.
    assert c.quant not in ("F16", "BF16")
    full = [p for p in c.considered if p["quant"] == "BF16" and p["where"] == FIT_GPU]
    assert full and full[0]["plan_score"] < max(p["plan_score"] for p in c.considered)
    gpu_total = sum(d.total for d in c.memory.gpus)
    assert gpu_total <= rtx4090_64g.gpus[0].vram_free


def test_without_speeds_the_lossless_type_wins(rtx4090_64g):
    # No bandwidth figures: speed cannot weigh in, so nothing beats the release precision.
    m = _model("meta-llama/Llama-3.1-8B-Instruct")
    c = best_choice(m, 8192, devices_from_hardware(rtx4090_64g))
    assert c.quant == "BF16" and c.decode_tps is None


def test_70b_partially_offloads(rtx4090_64g):
    m = _model("meta-llama/Llama-3.3-70B-Instruct")
    c = best_choice(m, 8192, devices_from_hardware(rtx4090_64g), hardware=rtx4090_64g)
    assert c.where == FIT_PARTIAL
    assert 0 < c.n_gpu_layers < m.arch.n_layer
    # The GPU part fits the card; the rest fits RAM.
    assert all(d.total <= d.free for d in c.memory.devices if d.free is not None)


def test_too_big_reports_the_miss():
    hw = probe_hardware(ram="8G", bandwidth="off")
    m = _model("meta-llama/Llama-3.3-70B-Instruct")
    c = best_choice(m, 8192, devices_from_hardware(hw))
    assert c.where == FIT_NONE and c.miss_bytes > 0
    assert "more than is free" in c.reason
    # The last (smallest) type was evaluated: the miss is what Q2_K needs beyond the budget.
    assert c.quant == "Q2_K"
    assert c.needed == pytest.approx(c.available + c.miss_bytes)


def test_lower_bound_never_exceeds_the_prediction():
    m = _model("Qwen/Qwen2.5-7B-Instruct")
    from sizeup.estimate.weights_predict import predict_tensors

    for q in ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"):
        exact = sum(t.n_bytes for t in predict_tensors(m.arch, q))
        assert weights_lower_bound(m, q) <= exact


def test_cpu_only_machine_and_speed():
    hw = probe_hardware(ram="32G", bandwidth="off")
    hw = type(hw)(**{**hw.__dict__, "cpu_bandwidth_gbs": 50.0})
    m = _model("Qwen/Qwen2.5-Coder-7B-Instruct")
    c = best_choice(m, 8192, devices_from_hardware(hw), speed_fn=lambda ch: speed_for_choice(ch, hw))
    assert c.where == FIT_CPU
    # Decode is memory-bound: tok/s below bandwidth / weight bytes.
    weights = c.summary.total
    assert 0 < c.decode_tps < 50e9 / weights


def test_min_speed_picks_a_smaller_quant_or_refuses():
    hw = probe_hardware(ram="64G", bandwidth="off")
    hw = type(hw)(**{**hw.__dict__, "cpu_bandwidth_gbs": 40.0})
    m = _model("Qwen/Qwen2.5-14B-Instruct")
    fn = lambda ch: speed_for_choice(ch, hw)  # noqa: E731
    free = best_choice(m, 4096, devices_from_hardware(hw), speed_fn=fn)
    fast = best_choice(m, 4096, devices_from_hardware(hw), speed_fn=fn, min_speed=free.decode_tps * 1.3)
    assert free.fits
    if fast.fits:
        assert fast.decode_tps >= free.decode_tps * 1.3 and fast.quant != free.quant
    else:
        assert "below --min-speed" in fast.reason


def test_ranking_task_bonus_and_collapse(rtx4090_64g):
    models = [_model(i) for i in ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-Coder-7B-Instruct", "Qwen/Qwen2.5-7B")]
    choices = recommend(models, rtx4090_64g, ctx=8192, task="coding")
    assert choices[0].model.extra["hf_id"] == "Qwen/Qwen2.5-Coder-7B-Instruct"
    groups = collapse_variants(choices)
    assert sum(1 + len(v) for _, v in groups) == len(choices)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "sizeup", *args], capture_output=True, text=True, timeout=600)


def test_cli_default_command_json_what_if():
    r = _cli("--json", "--gpu", "RTX 4090", "--ram", "64G", "-n", "5")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["hardware"]["what_if"] is True
    recs = d["recommendations"]
    assert 1 <= len(recs) <= 5
    assert all(x["fit"] in ("good", "tight", "partial") for x in recs)
    assert recs == sorted(recs, key=lambda x: -x["score"])


@pytest.mark.parametrize("args,needle", [
    (["fit", "--ctx", "banana"], "not a count"),
    (["fit", "--vram", "lots"], "not a size"),
    (["fit", "-n", "0"], "-n must be positive"),
    (["fit", "--gpu", "Voodoo 5"], "Voodoo"),
    (["fit", "--quant", "Q9_Z"], "not a llama.cpp file type"),
    (["fit", "--cpu-bandwidth", "0"], "--cpu-bandwidth"),
])
def test_cli_bad_input_one_line(args, needle):
    r = _cli(*args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and needle in r.stderr and "Traceback" not in r.stderr


def test_table_matches_the_memory_model():
    from sizeup.practice_table import compute_rows

    rows = compute_rows(4096)
    assert [r.size for r in rows] == ["1B", "3B", "7B", "13B", "30B"]
    seven = rows[2]
    m = _model(seven.model_id)
    # FP16 weights are 2 bytes per parameter (plus a little for F32 norms).
    assert seven.fp16_weights == pytest.approx(2 * m.params.total, rel=0.01)
    # 4-bit weights are 25-35% of FP16 (Q4_K_M mixes in Q6_K), not the guide's "50%".
    assert 0.25 < seven.q4km_weights / seven.fp16_weights < 0.35
    est = estimate_memory(m, RunConfig(n_ctx=4096, n_gpu_layers=0), ftype="F16")
    assert seven.cpu_ram_fp16 == est.rss


def test_cli_leaves_out_models_with_a_shorter_window():
    r = _cli("--json", "--ctx", "128k", "--ram", "512G", "-n", "200", "--all")
    d = json.loads(r.stdout)
    assert d["n_context_too_short"] > 0
    for rec in d["recommendations"]:
        assert get_entry(rec["id"]) and describe_entry(get_entry(rec["id"])).arch.n_ctx_train >= 131072


def test_cli_json_carries_commands_and_forced_quant():
    r = _cli("--json", "--gpu", "RTX 4090", "--ram", "64G", "--cpu-bandwidth", "80", "--task", "coding",
             "--quant", "Q4_K_M", "-n", "6")
    assert r.returncode == 0, r.stderr
    recs = json.loads(r.stdout)["recommendations"]
    assert recs
    for x in recs:
        cmd = x["command"]["llama_cpp_argv"]
        assert cmd[0] == "llama-server" and cmd[cmd.index("-c") + 1] == "8192"
        # forced, except where the release is below it (gpt-oss stays MXFP4)
        assert x["quant"] == "Q4_K_M" or x["release_precision"]["precision"] in ("MXFP4", "INT4")
        assert set(x["components"]) >= {"capability", "quant", "speed", "fit", "headroom", "task", "recency"}
        assert x["capability"]["basis"] in ("evidence", "prior")


def test_cli_ranks_local_ggufs_at_their_real_size(smollm2_path):
    r = _cli("--json", "--ram", "8G", "--local", str(smollm2_path.parent), "-n", "300", "--ctx", "2k")
    assert r.returncode == 0, r.stderr
    recs = [x for x in json.loads(r.stdout)["recommendations"] if x["path"]]
    mine = [x for x in recs if x["path"] == str(smollm2_path)]
    assert mine and mine[0]["quant"] == "Q4_1"
    assert mine[0]["command"]["llama_cpp_argv"][1:3] == ["-m", str(smollm2_path)]
