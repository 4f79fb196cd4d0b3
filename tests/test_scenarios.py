"""The scenario panel (tests/data/scenarios.json): machine profiles x tasks x contexts through the
real catalog, memory, speed and evidence models, checked against what practitioners publish."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sizeup.catalog import describe_entry, load_catalog
from sizeup.evidence import EvidenceModel
from sizeup.hardware import probe_hardware
from sizeup.recommend import FIT_EXPERTS, FIT_GPU, collapse_variants, recommend

PANEL = json.loads((Path(__file__).parent / "data" / "scenarios.json").read_text())
TOP = 5


def _hardware(p: dict):
    hw = probe_hardware(gpu=p.get("gpu"), ram=p["ram"], n_gpus=p.get("gpus"), bandwidth="off")
    if p.get("gpu") is None:
        hw = replace(hw, gpus=(), unified_memory=False)
    cpu = replace(hw.cpu, physical_cores=p["cores"], logical_cores=p["cores"], features=("avx2", "fma"), arch="x86_64")
    if "cpu_bandwidth_gbs" in p:
        hw = replace(hw, cpu_bandwidth_gbs=float(p["cpu_bandwidth_gbs"]))
    return replace(hw, cpu=cpu)


def _models(task: str, ctx: int, all_models):
    return [m for m in all_models if not (m.arch and 0 < m.arch.n_ctx_train < ctx)
            and (task in m.extra.get("tags", []) or "chat" in m.extra.get("tags", []))]


@pytest.fixture(scope="module")
def panel():
    all_models = [describe_entry(e) for e in load_catalog()]
    ev = EvidenceModel(all_models)
    out = {}
    for name, prof in PANEL["profiles"].items():
        hw = _hardware(prof)
        for task in PANEL["tasks"]:
            for ctx in PANEL["contexts"]:
                choices = recommend(_models(task, ctx, all_models), hw, ctx=ctx, task=task, evidence=ev)
                top = [c for c, _ in collapse_variants([c for c in choices if c.fits])][:TOP]
                out[(name, task, ctx)] = (top, choices)
    return out


def _scenarios(panel, applies: str):
    for (name, task, ctx), v in panel.items():
        prof = PANEL["profiles"][name]
        if applies == "all" or (applies == "consumer_gpu" and prof["consumer_gpu"]) or (
                applies == "gpu" and prof.get("gpu")):
            yield (name, task, ctx), v


def test_every_scenario_has_five_picks(panel):
    for key, (top, _) in panel.items():
        assert len(top) == TOP, key


def test_no_full_precision_3b_plus_on_consumer_gpus(panel):
    for key, (top, _) in _scenarios(panel, "consumer_gpu"):
        bad = [(c.model.name, c.quant) for c in top if c.quant in ("F16", "BF16") and c.model.params.total >= 3e9]
        assert not bad, (key, bad)


def test_moe_with_expert_offload_in_the_4090_coding_top5(panel):
    top, _ = panel[("rtx4090-64g", "coding", 32768)]
    hits = [c for c in top if c.where == FIT_EXPERTS and c.model.arch.n_expert and c.model.params.total >= 20e9]
    assert hits, [(c.model.name, c.quant, c.where) for c in top]
    for c in hits:
        assert c.n_cpu_moe > 0 and "--n-cpu-moe" in c.command.llama_cpp
        # the routed experts of the offloaded layers are in RAM, everything else fits the card
        gpu = c.memory.gpus[0]
        assert gpu.total <= gpu.free


def test_laptop_top_pick_is_usable(panel):
    for task in PANEL["tasks"]:
        for ctx in PANEL["contexts"]:
            top, _ = panel[("laptop-8g-cpu", task, ctx)]
            assert top[0].decode_tps is not None and top[0].decode_tps >= 5.0, (task, ctx, top[0].model.name,
                                                                                 top[0].quant, top[0].decode_tps)


def test_gpt_oss_never_above_mxfp4(panel):
    seen = 0
    for _, (_, choices) in panel.items():
        for c in choices:
            if "gpt-oss" in (c.model.extra.get("hf_id") or ""):
                seen += 1
                assert c.quant == "MXFP4_MOE", (c.model.name, c.quant)
    assert seen


def test_fp8_releases_never_at_16_bits(panel):
    seen = 0
    for _, (_, choices) in panel.items():
        for c in choices:
            hf = c.model.extra.get("hf_id") or ""
            if hf in ("deepseek-ai/DeepSeek-V3", "deepseek-ai/DeepSeek-V3-0324", "deepseek-ai/DeepSeek-R1",
                      "deepseek-ai/DeepSeek-R1-0528", "moonshotai/Kimi-K2-Instruct"):
                seen += 1
                assert c.release.precision == "FP8" and c.quant not in ("F16", "BF16"), (hf, c.quant)
    assert seen


def test_usable_speed_on_gpu_machines(panel):
    for key, (top, _) in _scenarios(panel, "gpu"):
        slow = [(c.model.name, c.quant, c.where, round(c.decode_tps or 0, 1)) for c in top if (c.decode_tps or 0) < 5]
        assert not slow, (key, slow)


def test_mac_runs_in_the_unified_pool(panel):
    for task in PANEL["tasks"]:
        for ctx in PANEL["contexts"]:
            top, _ = panel[("mac-m2-16g", task, ctx)]
            for c in top:
                assert c.where == FIT_GPU and c.needed <= 16 * 2**30, (c.model.name, c.where, c.needed)


def test_h100_top_pick_on_the_gpu(panel):
    for task in PANEL["tasks"]:
        top, _ = panel[("h100-80g", task, 32768)]
        assert top[0].where == FIT_GPU, (task, top[0].model.name, top[0].where)


def test_commands_reproduce_the_plan(panel):
    for (name, task, ctx), (top, _) in panel.items():
        for c in top:
            argv = c.command.llama_cpp
            assert argv[0] == "llama-server" and argv[argv.index("-c") + 1] == str(ctx)
            assert ("--n-cpu-moe" in argv) == (c.n_cpu_moe > 0)
            ngl = argv[argv.index("-ngl") + 1]
            if c.where == "CPU":
                assert ngl == "0"
            elif c.where in (FIT_GPU, FIT_EXPERTS):
                assert int(ngl) >= c.model.arch.n_layer


def test_panel_sources_are_cited():
    srcs = PANEL["sources"]
    for a in PANEL["assertions"]:
        assert a["sources"] and all(s in srcs and srcs[s].startswith("https://") for s in a["sources"]), a["id"]
