"""The whole probe over recorded machines, what-if overrides, the bandwidth cache, the real
machine, and ``sizeup hw`` end to end in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from sizeup.errors import SizeupError
from sizeup.hardware import Hardware, probe_hardware
from sizeup.hardware import bandwidth as bw
from sizeup.hardware.runner import CommandResult, RecordedRunner

DATA = Path(__file__).parent / "data" / "hw"
TREES = DATA / "trees"
SRC = Path(__file__).resolve().parents[1] / "src"
GiB = 2**30


def linux(tree: str, **answers) -> Hardware:
    return probe_hardware(root=TREES / tree, runner=RecordedRunner(answers, base=DATA), system="Linux", machine="x86_64")


def test_amd_desktop_machine():
    hw = linux("amd_dgpu")
    assert hw.cpu.model.startswith("AMD Ryzen 9 5950X") and "avx2" in hw.cpu.features
    assert hw.memory.total == 65_768_000 * 1024 and hw.memory.swap_total == 8_388_604 * 1024
    (g,) = hw.gpus
    assert (g.spec_name, g.bandwidth_gbs, g.fp16_tflops) == ("RX 7900 XTX", 960, 122.8)
    assert g.spec_source.startswith("https://www.amd.com/")
    assert not hw.unified_memory and not hw.what_if
    assert hw.cpu_bandwidth_gbs is None and hw.bandwidth_source == "none"  # recorded roots never measure


def test_strix_halo_apu_machine_is_unified():
    hw = linux("amd_apu")
    assert hw.unified_memory
    (g,) = hw.gpus
    assert g.unified and g.spec_name == "Radeon 8060S" and g.bandwidth_gbs == 256
    assert {"avx512f", "avx512_vnni", "avx_vnni"} <= set(hw.cpu.features)
    # the GPU pool never claims more free memory than RAM has available plus the carve-out
    assert g.vram_free <= g.dedicated_vram + hw.memory.available


def test_nvidia_machine_from_smi_only():
    hw = linux("amd_dgpu", **{"nvidia-smi": "nvidia-smi/two_mixed.csv"})
    names = [g.spec_name for g in hw.gpus]
    assert names == ["RTX 3090", "RTX 3060", "RX 7900 XTX"]
    assert hw.gpus[0].bandwidth_gbs == 936 and hw.gpus[1].fp16_tflops == 25.6


def test_apu_beside_a_discrete_gpu_is_listed_after_it_and_not_planned_on():
    hw = linux("amd_apu", **{"nvidia-smi": "nvidia-smi/one_rtx4090.csv"})
    assert [g.spec_name for g in hw.gpus] == ["RTX 4090", "Radeon 8060S"]
    assert not hw.unified_memory and any("beside a discrete GPU" in n for n in hw.notes)


def test_gb10_memory_not_reported_becomes_ram_pool():
    hw = probe_hardware(root=TREES / "gb10", runner=RecordedRunner({"nvidia-smi": "nvidia-smi/gb10_na.csv"}, base=DATA),
                        system="Linux", machine="aarch64")
    (gb10,) = hw.gpus
    assert gb10.unified and hw.unified_memory and gb10.spec_name == "GB10" and gb10.bandwidth_gbs == 273
    assert gb10.vram_total == hw.memory.total == 127535736 * 1024 and gb10.vram_free == hw.memory.available
    assert hw.cpu.model == "Cortex-X925 + Cortex-A725" and {"sve2", "i8mm", "dotprod"} <= set(hw.cpu.features)


def mac(wired_limit: str) -> Hardware:
    runner = RecordedRunner({"sysctl hw machdep": "macos/sysctl_m3max.txt",
                             "sysctl -n iogpu.wired_limit_mb": CommandResult(True, wired_limit, "", 0),
                             "system_profiler": "macos/system_profiler_m3max.json"}, base=DATA)
    return probe_hardware(root=TREES / "empty", runner=runner, system="Darwin", machine="arm64")


def test_macos_m3_max_machine():
    hw = mac("0\n")  # 0 = no override: Metal's default working-set limit applies
    assert hw.cpu.model == "Apple M3 Max" and hw.memory.total == 128 * GiB and hw.unified_memory
    (g,) = hw.gpus
    assert g.spec_name == "M3 Max (40-core GPU)" and g.bandwidth_gbs == 400 and g.gpu_cores == 40
    assert g.vram_total == 96 * GiB
    assert any("iogpu.wired_limit_mb" in n for n in hw.notes)


def test_macos_wired_limit_override_raises_the_gpu_pool():
    (g,) = mac("120000\n").gpus
    assert g.vram_total == 120000 * 2**20


def test_what_if_gpu_ram_and_count():
    hw = linux("amd_dgpu")
    w = probe_hardware(gpu="RTX 4090", n_gpus=2, ram="64G", root=TREES / "amd_dgpu", runner=RecordedRunner({}),
                       system="Linux", machine="x86_64")
    assert w.what_if and len(w.gpus) == 2 and not w.unified_memory
    assert all(g.name == "RTX 4090" and g.vram_total == 24 * GiB and g.bandwidth_gbs == 1008 for g in w.gpus)
    assert w.memory.total == w.memory.available == 64 * GiB
    assert w.cpu == hw.cpu  # the CPU stays the probed one


def test_what_if_vram_only_keeps_probed_gpu():
    w = probe_hardware(vram="16G", root=TREES / "amd_dgpu", runner=RecordedRunner({}), system="Linux", machine="x86_64")
    (g,) = w.gpus
    assert g.spec_name == "RX 7900 XTX" and g.vram_total == g.vram_free == 16 * GiB and w.what_if


def test_what_if_unified_gpu_sets_ram_pool():
    w = probe_hardware(gpu="Strix Halo", ram="128G", root=TREES / "amd_dgpu", runner=RecordedRunner({}),
                       system="Linux", machine="x86_64")
    (g,) = w.gpus
    assert w.unified_memory and g.unified and g.vram_total == 128 * GiB
    assert w.cpu_bandwidth_gbs == 256 and w.bandwidth_source == "spec"


def test_what_if_errors_are_one_line_sizeup_errors():
    kw = dict(root=TREES / "amd_dgpu", runner=RecordedRunner({}), system="Linux", machine="x86_64")
    with pytest.raises(SizeupError, match="not a size: 'banana'"):
        probe_hardware(vram="banana", **kw)
    with pytest.raises(SizeupError, match="unknown GPU"):
        probe_hardware(gpu="Voodoo 9000", **kw)
    with pytest.raises(SizeupError, match="--gpus must be between"):
        probe_hardware(gpu="RTX 4090", n_gpus=1000, **kw)
    with pytest.raises(SizeupError, match="--vram needs a GPU"):
        probe_hardware(vram="24G", root=TREES / "empty", runner=RecordedRunner({}), system="Linux", machine="x86_64")


def test_hardware_json_round_trip():
    hw = linux("amd_apu")
    d = json.loads(json.dumps(hw.to_dict()))
    assert Hardware.from_dict(d) == hw


def test_bandwidth_probe_refuses_a_scan_that_skipped_data(monkeypatch):
    """Every worker must read its chunk to the end (where the probe put the maximum): a reduction
    that stops early, as a broken numpy build might, fails loudly rather than report a rate."""
    import numpy as np

    monkeypatch.setattr(np, "max", lambda c: float(c[: len(c) // 2].max()))
    with pytest.raises(RuntimeError, match="wrong maximum"):
        bw.measure_read_bandwidth(array_bytes=8 * 2**20, threads=2, budget_s=0.1)


def test_bandwidth_measure_cache_and_remeasure(tmp_path):
    r = bw.measure_read_bandwidth(array_bytes=32 * 2**20, threads=2, budget_s=0.2)
    assert r.source == "measured" and r.threads == 2 and 3 <= len(r.runs_gbs) <= 5
    assert r.gbs == max(r.runs_gbs) and 0.1 < r.gbs < 10_000
    key = bw.cache_key("CPU X", 64 * GiB)
    assert key == bw.cache_key("CPU X", 64 * GiB + 123) != bw.cache_key("CPU Y", 64 * GiB)
    bw.save_cached(key, r, tmp_path)
    hit = bw.load_cached(key, tmp_path)
    assert hit.source == "cached" and hit.gbs == r.gbs and hit.runs_gbs == r.runs_gbs
    # corrupt or foreign cache files are ignored, never trusted
    (tmp_path / f"bandwidth-{key}.json").write_text('{"key": "other", "gbs": 5}')
    assert bw.load_cached(key, tmp_path) is None
    (tmp_path / f"bandwidth-{key}.json").write_text("\x00garbage")
    assert bw.load_cached(key, tmp_path) is None
    assert bw.cpu_bandwidth("CPU X", 64 * GiB, cache_dir=tmp_path, measure=False) is None


def test_bandwidth_array_sizing_beats_caches_and_spares_small_machines():
    assert bw.array_size() == 256 * 2**20
    assert bw.array_size(l3_bytes=1152 * 2**20) == 2 * GiB  # Genoa-X: 4 x L3, capped
    assert bw.array_size(ram_bytes=1 * GiB) == 128 * 2**20  # RAM / 8
    assert bw.array_size(ram_bytes=256 * 2**20) == 64 * 2**20  # floor


def test_real_machine_probe(tmp_path):
    hw = probe_hardware(cache_dir=tmp_path)
    assert hw.cpu.logical_cores == psutil.cpu_count() and hw.cpu.physical_cores >= 1
    assert hw.memory.total == psutil.virtual_memory().total
    if not Path("/dev/nvidia0").exists() and not Path("/dev/kfd").exists() and sys.platform != "darwin":
        assert hw.gpus == ()  # this CI machine has no GPU; the probe must say so without crashing
    assert hw.bandwidth_source == "measured" and hw.cpu_bandwidth_gbs > 0.5
    again = probe_hardware(cache_dir=tmp_path)
    assert again.bandwidth_source == "cached" and again.cpu_bandwidth_gbs == hw.cpu_bandwidth_gbs
    assert len(hw.hostname_hash) == 12 and os.uname().nodename not in json.dumps(hw.to_dict())


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC), "SIZEUP_CACHE_DIR": str(cache)}
    env.pop("SIZEUP_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "sizeup", "hw", *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_json_and_what_if(tmp_path):
    p = _cli("--json", cache=tmp_path)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["cpu"]["logical_cores"] == psutil.cpu_count() and d["what_if"] is False
    assert d["bandwidth_source"] == "measured" and list(tmp_path.glob("hardware/bandwidth-*.json"))
    assert json.loads(_cli("--json", cache=tmp_path).stdout)["bandwidth_source"] == "cached"
    assert json.loads(_cli("--json", "--remeasure", cache=tmp_path).stdout)["bandwidth_source"] == "measured"
    p = _cli("--json", "--gpu", "RTX 3090", "--gpus", "2", "--ram", "96G", "--no-bandwidth", cache=tmp_path)
    d = json.loads(p.stdout)
    assert d["what_if"] and [g["spec_name"] for g in d["gpus"]] == ["RTX 3090", "RTX 3090"]
    assert d["memory"]["total"] == 96 * GiB and d["bandwidth_source"] == "cached"


def test_cli_table_output(tmp_path):
    p = _cli("--gpu", "MI300X", "--no-bandwidth", cache=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Instinct MI300X" in p.stdout and "what-if" in p.stdout and "5300" in p.stdout


def test_cli_bad_input_is_one_line_exit_2(tmp_path):
    for args, msg in ((("--vram", "banana"), "not a size: 'banana'"), (("--gpu", "Voodoo 9000"), "unknown GPU"),
                      (("--gpu", "H100"), "ambiguous")):
        p = _cli(*args, "--no-bandwidth", cache=tmp_path)
        assert p.returncode == 2 and p.stdout == ""
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sizeup: error: ") and msg in lines[0], p.stderr
        assert "Traceback" not in p.stderr


def test_table_output_keeps_bracketed_driver_names(capsys, monkeypatch):
    """Names from drivers and files print literally: "[dim]" in a GPU name must not become markup."""
    from dataclasses import replace

    from rich.console import Console

    from sizeup.cli import output
    from sizeup.cli.commands import hw as hw_cmd

    monkeypatch.setattr(output, "_console", Console(width=200, highlight=False))  # wide: no folding

    hw = linux("amd_apu_unknown")
    hw = replace(hw, gpus=(replace(hw.gpus[0], name="gpu [dim]x[/dim]"),))
    hw_cmd._print_table(hw)
    out = capsys.readouterr().out
    assert "[1002:15ff]" in out and "treated as an APU" in out and "gpu [dim]x[/dim]" in out
