"""GPU probes over recorded tool outputs (nvidia-smi, rocm-smi, xpu-smi, system_profiler) and
recorded sysfs trees (AMD dGPU, AMD APU, Intel Arc), plus the real NVML/nvidia-smi paths on this
machine, which must come back empty without crashing when no NVIDIA driver is present."""

from __future__ import annotations

import sys
from pathlib import Path

from sizeup.hardware.gpu_amd import parse_rocm_smi_json, probe_amd, probe_amd_sysfs
from sizeup.hardware.gpu_apple import metal_working_set, parse_system_profiler, probe_apple
from sizeup.hardware.gpu_intel import parse_xpu_smi_json, probe_intel
from sizeup.hardware.gpu_nvidia import parse_nvidia_smi_csv, probe_nvidia, probe_nvml
from sizeup.hardware.runner import CommandResult, RecordedRunner, run_command

DATA = Path(__file__).parent / "data" / "hw"
TREES = DATA / "trees"
GiB = 2**30
MiB = 2**20


def smi(name: str):
    return parse_nvidia_smi_csv((DATA / "nvidia-smi" / name).read_text())


# ---------------------------------------------------------------- NVIDIA

def test_nvidia_smi_one_gpu():
    gpus, notes = smi("one_rtx4090.csv")
    assert notes == [] and len(gpus) == 1
    g = gpus[0]
    assert (g.index, g.name, g.vram_total, g.vram_free) == (0, "NVIDIA GeForce RTX 4090", 24564 * MiB, 23918 * MiB)
    assert (g.driver, g.compute_capability, g.vendor, g.source) == ("550.54.14", "8.9", "nvidia", "nvidia-smi")


def test_nvidia_smi_two_mixed_gpus():
    gpus, _ = smi("two_mixed.csv")
    assert [g.name for g in gpus] == ["NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 3060"]
    assert [g.vram_total // MiB for g in gpus] == [24576, 12288] and gpus[0].vram_free == 1234 * MiB


def test_nvidia_smi_eight_h100():
    gpus, notes = smi("eight_h100.csv")
    assert len(gpus) == 8 and notes == []
    assert [g.index for g in gpus] == list(range(8))
    assert all(g.name == "NVIDIA H100 80GB HBM3" and g.compute_capability == "9.0" for g in gpus)
    assert gpus[7].vram_free == (81004 - 7) * MiB


def test_nvidia_smi_na_fields_become_none():
    (g,), notes = smi("gb10_na.csv")
    assert g.name == "NVIDIA GB10" and g.vram_total is None and g.vram_free is None and g.compute_capability == "12.1"
    (t,), _ = smi("not_supported.csv")
    assert t.vram_total is None and t.driver is None and t.compute_capability == "7.5"


def test_nvidia_smi_driver_error_text_is_not_a_gpu():
    gpus, notes = smi("driver_error.txt")
    assert gpus == [] and notes and "couldn't communicate" in notes[0]


def test_nvidia_smi_empty_output():
    assert smi("empty.txt") == ([], [])


def test_nvidia_smi_name_with_comma_and_gpu_cap():
    gpus, _ = parse_nvidia_smi_csv("0, Weird, Name, 1024, 512, 1.2.3, 8.0\n" * 100)
    assert gpus[0].name == "Weird, Name" and len(gpus) == 64  # MAX_GPUS


def test_nvidia_smi_garbage_numbers_are_unknown_not_negative():
    (g,), _ = parse_nvidia_smi_csv("0, NVIDIA GeForce RTX 4090, -1, 1e300, 550.54.14, 8.9\n")
    assert g.vram_total is None and g.vram_free is None


def test_probe_nvidia_falls_back_to_smi_and_reports_failures():
    ok = RecordedRunner({"nvidia-smi": "nvidia-smi/eight_h100.csv"}, base=DATA)
    gpus, notes = probe_nvidia(ok, use_nvml=False)
    assert len(gpus) == 8 and notes == []
    assert ok.calls[0][0] == "nvidia-smi" and "--format=csv,noheader,nounits" in ok.calls[0]
    err_text = (DATA / "nvidia-smi" / "driver_error.txt").read_text()
    broken = RecordedRunner({"nvidia-smi": CommandResult(False, err_text, "", 9, "exit 9: " + err_text.splitlines()[0])})
    gpus, notes = probe_nvidia(broken, use_nvml=False)
    assert gpus == [] and notes == ["nvidia-smi: exit 9: " + err_text.splitlines()[0]]
    empty = RecordedRunner({"nvidia-smi": "nvidia-smi/empty.txt"}, base=DATA)
    assert probe_nvidia(empty, use_nvml=False) == ([], ["nvidia-smi: no GPUs listed"])
    # no NVIDIA software at all: nothing found and nothing to complain about
    assert probe_nvidia(RecordedRunner({}), use_nvml=False) == ([], [])


def test_real_nvml_without_driver_does_not_crash():
    gpus, notes = probe_nvml()
    # On this machine there is no NVIDIA driver: NVML reports that as a note. On a GPU machine it
    # lists the GPUs instead; either way no exception escapes.
    assert (gpus and notes == []) or (gpus == [] and len(notes) == 1 and notes[0].startswith("NVML: "))


def test_nvml_not_supported_memory_is_none():
    """A GB10-shaped NVML: names and versions work, memory raises NotSupported (as on DGX Spark)."""

    class NVMLError(Exception):
        pass

    class GB10NVML:
        def nvmlInit(self): pass
        def nvmlShutdown(self): pass
        def nvmlSystemGetDriverVersion(self): return "580.95.05"
        def nvmlDeviceGetCount(self): return 1
        def nvmlDeviceGetHandleByIndex(self, i): return i
        def nvmlDeviceGetName(self, h): return b"NVIDIA GB10"
        def nvmlDeviceGetMemoryInfo(self, h): raise NVMLError("Not Supported")
        def nvmlDeviceGetCudaComputeCapability(self, h): return (12, 1)

    (g,), notes = probe_nvml(GB10NVML())
    assert (g.name, g.vram_total, g.driver, g.compute_capability, g.source) == ("NVIDIA GB10", None, "580.95.05", "12.1", "nvml")


def test_run_command_missing_timeout_and_failure():
    assert run_command(["sizeup-no-such-binary-xyz"]).reason == "not installed"
    slow = run_command([sys.executable, "-c", "import time; time.sleep(10)"], timeout=0.5)
    assert not slow.ok and slow.reason.startswith("timed out")
    bad = run_command([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])
    assert not bad.ok and bad.returncode == 3 and bad.reason == "exit 3: boom"
    good = run_command([sys.executable, "-c", "print('x' * 10)"])
    assert good.ok and good.stdout.strip() == "x" * 10


# ---------------------------------------------------------------- AMD

def test_rocm_smi_mi300x():
    gpus, notes = parse_rocm_smi_json((DATA / "rocm-smi" / "mi300x.json").read_text())
    assert notes == [] and list(gpus) == ["card0", "card1"]
    g = gpus["card0"]
    assert g.name == "AMD Instinct MI300X" and g.vram_total == 206141652992
    assert g.vram_free == 206141652992 - 295698432 and g.compute_capability == "gfx942"


def test_rocm_smi_rx7900xtx_lowercase_keys():
    gpus, _ = parse_rocm_smi_json((DATA / "rocm-smi" / "rx7900xtx.json").read_text())
    g = gpus["card0"]
    assert g.name == "Navi 31 [Radeon RX 7900 XT/7900 XTX/7900M]" and g.vram_total == 25753026560


def test_rocm_smi_broken_and_wrong_shapes():
    assert parse_rocm_smi_json((DATA / "rocm-smi" / "broken.json").read_text()) == ({}, ["rocm-smi: output is not JSON"])
    assert parse_rocm_smi_json("[1, 2]") == ({}, ["rocm-smi: unexpected JSON shape"])
    assert parse_rocm_smi_json('{"system": {}}') == ({}, ["rocm-smi: no GPUs in output"])


def test_amd_dgpu_sysfs_tree():
    cards, notes = probe_amd_sysfs(TREES / "amd_dgpu")
    assert list(cards) == ["card0"] and notes == []  # connector, render node and Intel iGPU skipped
    g = cards["card0"]
    # 1002:744c is shared by 7900 XTX/XT/GRE: 24 GiB of VRAM picks the XTX
    assert g.name == "AMD RX 7900 XTX" and not g.unified and g.driver == "amdgpu"
    assert g.vram_total == 25753026560 and g.vram_free == 25753026560 - 1125912576


def test_amd_sysfs_garbage_values(tmp_path):
    dev = tmp_path / "sys" / "class" / "drm" / "card0" / "device"
    dev.mkdir(parents=True)
    (dev / "uevent").write_text("DRIVER=amdgpu\nPCI_ID=1002:744C\n")
    (dev / "mem_info_vram_total").write_text("banana\n")
    (dev / "mem_info_vram_used").write_text("-12\n")
    (dev / "mem_info_gtt_total").write_bytes(b"\xff" * 100_000)
    cards, _ = probe_amd_sysfs(tmp_path)
    g = cards["card0"]
    assert g.vram_total is None and g.vram_free is None and not g.unified
    gpus, _ = parse_rocm_smi_json('{"card0": {"VRAM Total Memory (B)": "-5", "VRAM Total Used Memory (B)": "7"}}')
    assert gpus["card0"].vram_total is None and gpus["card0"].name == "AMD GPU"


def test_amd_dgpu_needs_no_rocm_smi_when_named():
    runner = RecordedRunner({"rocm-smi": "rocm-smi/rx7900xtx.json"}, base=DATA)
    gpus, _ = probe_amd(TREES / "amd_dgpu", runner)
    assert len(gpus) == 1 and runner.calls == []


def test_amd_apu_strix_halo_is_unified():
    cards, notes = probe_amd_sysfs(TREES / "amd_apu")
    g = cards["card0"]
    assert g.unified and g.name == "AMD Radeon 8060S" and notes == []
    assert g.dedicated_vram == 512 * MiB
    assert g.vram_total == 512 * MiB + 67_914_194_944
    assert g.vram_free == (512 - 100) * MiB + 67_914_194_944 - 31_457_280


def test_unknown_amd_apu_found_by_vram_and_gtt_shape():
    cards, notes = probe_amd_sysfs(TREES / "amd_apu_unknown")
    g = cards["card0"]
    assert g.unified and g.name == "AMD GPU [1002:15ff]" and "treated as an APU" in notes[0]


def test_rocm_smi_alone_when_sysfs_is_absent():
    runner = RecordedRunner({"rocm-smi": "rocm-smi/mi300x.json"}, base=DATA)
    gpus, notes = probe_amd(TREES / "empty", runner)
    assert [g.name for g in gpus] == ["AMD Instinct MI300X"] * 2 and notes == []
    broken = RecordedRunner({"rocm-smi": "rocm-smi/broken.json"}, base=DATA)
    assert probe_amd(TREES / "empty", broken) == ([], ["rocm-smi: output is not JSON"])
    failing = RecordedRunner({"rocm-smi": CommandResult(False, "", "", 2, "exit 2: WARNING: No AMD GPUs specified")})
    assert probe_amd(TREES / "empty", failing) == ([], ["rocm-smi: exit 2: WARNING: No AMD GPUs specified"])
    assert probe_amd(TREES / "empty", RecordedRunner({})) == ([], [])


# ---------------------------------------------------------------- Intel

def test_intel_arc_sysfs_without_vram_attribute_uses_spec():
    gpus, notes = probe_intel(TREES / "intel_arc", RecordedRunner({}))
    assert len(gpus) == 1  # the Raptor Lake iGPU is not reported
    g = gpus[0]
    assert g.name == "Intel Arc A770" and g.vram_total == 16 * GiB and g.source == "sysfs+spec"
    assert "spec table" in notes[0]


def test_intel_arc_with_lmem_attribute(tmp_path):
    dev = tmp_path / "sys" / "class" / "drm" / "card0" / "device"
    dev.mkdir(parents=True)
    (dev / "uevent").write_text("DRIVER=xe\nPCI_ID=8086:E20B\n")
    (dev / "lmem_total_bytes").write_text(f"{12 * GiB}\n")
    (g,), notes = probe_intel(tmp_path, RecordedRunner({}))
    assert g.name == "Intel Arc B580" and g.vram_total == 12 * GiB and g.source == "sysfs" and notes == []


def test_xpu_smi_when_sysfs_has_nothing():
    runner = RecordedRunner({"xpu-smi": "xpu-smi/a770.json"}, base=DATA)
    (g,), notes = probe_intel(TREES / "empty", runner)
    assert g.name == "Intel(R) Arc(TM) A770 Graphics" and g.vram_total == 17079205888 and g.source == "xpu-smi"
    assert parse_xpu_smi_json("not json") == ([], ["xpu-smi: unexpected output"])


# ---------------------------------------------------------------- Apple

def test_system_profiler_m3_max():
    (g,), notes = parse_system_profiler((DATA / "macos" / "system_profiler_m3max.json").read_text())
    assert (g.name, g.vendor, g.unified, g.gpu_cores, g.driver) == ("Apple M3 Max", "apple", True, 40, "metal3")
    assert g.vram_total is None and notes == []


def test_system_profiler_intel_mac_reports_only_the_discrete_gpu():
    (g,), _ = parse_system_profiler((DATA / "macos" / "system_profiler_intel_mac.json").read_text())
    assert (g.name, g.vendor, g.vram_total, g.unified) == ("AMD Radeon Pro 5500M", "amd", 8 * GiB, False)


def test_system_profiler_garbage():
    assert parse_system_profiler("<plist>") == ([], ["system_profiler: unexpected output"])
    assert parse_system_profiler('{"SPDisplaysDataType": "x"}') == ([], ["system_profiler: unexpected output"])


def test_probe_apple_reads_wired_limit():
    runner = RecordedRunner({"system_profiler": "macos/system_profiler_m3max.json",
                             "sysctl": CommandResult(True, "98304\n", "", 0)}, base=DATA)
    gpus, notes, limit = probe_apple(runner)
    assert len(gpus) == 1 and limit == 98304
    assert ("sysctl", "-n", "iogpu.wired_limit_mb") in runner.calls


def test_metal_working_set_defaults_and_override():
    assert metal_working_set(32 * GiB) == 32 * GiB * 2 // 3
    assert metal_working_set(128 * GiB) == 96 * GiB
    assert metal_working_set(128 * GiB, 120_000) == 120_000 * MiB
    assert metal_working_set(16 * GiB, 1_000_000) == 16 * GiB  # never above RAM
