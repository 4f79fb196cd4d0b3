"""CPU and memory probing: recorded /proc/cpuinfo and sysctl outputs, recorded sysfs trees, and
the real machine cross-checked against psutil and /proc/cpuinfo."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import psutil
import pytest

from sizeup.hardware.cpu import (
    FEATURE_ORDER,
    cpu_from_sysctl,
    parse_cpu_list,
    parse_proc_cpuinfo,
    parse_sysctl,
    probe_cpu,
    read_cache_sizes,
)
from sizeup.hardware.memory import cgroup_limit, memory_from_values, parse_meminfo, probe_memory
from sizeup.hardware.runner import RecordedRunner

DATA = Path(__file__).parent / "data" / "hw"


def cpuinfo(name: str) -> dict:
    return parse_proc_cpuinfo((DATA / "cpuinfo" / name).read_text())


def test_xeon_sapphire_rapids_avx512_and_amx():
    c = cpuinfo("xeon_8480.txt")
    assert c["model"] == "Intel(R) Xeon(R) Platinum 8480+"
    assert c["vendor"] == "intel" and c["arch_hint"] == "x86_64"
    assert c["logical"] == 4 and c["physical"] == 2  # 2 cores x 2 hyperthreads
    f = set(c["features"])
    assert {"avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
            "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"} <= f
    assert not f & {"neon", "sve", "dotprod"}


def test_ryzen_zen3_avx2_without_avx512():
    c = cpuinfo("ryzen_5950x.txt")
    assert c["model"] == "AMD Ryzen 9 5950X 16-Core Processor" and c["vendor"] == "amd"
    assert c["logical"] == 4 and c["physical"] == 2
    assert {"avx", "avx2", "fma", "f16c", "sse3", "ssse3"} <= set(c["features"])
    assert not any(x.startswith(("avx512", "amx")) or x == "avx_vnni" for x in c["features"])


def test_graviton3_neoverse_v1_sve_i8mm():
    c = cpuinfo("graviton3.txt")
    assert c["model"] == "Neoverse-V1" and c["vendor"] == "arm" and c["arch_hint"] == "aarch64"
    assert c["logical"] == 4 and c["physical"] is None  # ARM cpuinfo has no core ids
    assert set(c["features"]) == {"neon", "fp16", "dotprod", "i8mm", "bf16", "sve"}


def test_graviton4_has_sve2():
    c = cpuinfo("graviton4.txt")
    assert c["model"] == "Neoverse-V2"
    assert {"sve", "sve2", "i8mm", "dotprod"} <= set(c["features"])


def test_ampere_altra_neoverse_n1_dotprod_no_sve():
    c = cpuinfo("ampere_altra.txt")
    assert c["model"] == "Neoverse-N1"
    assert set(c["features"]) == {"neon", "fp16", "dotprod"}


def test_raspberry_pi_4_64bit_board_name_and_plain_neon():
    c = cpuinfo("rpi4.txt")
    assert c["model"] == "Raspberry Pi 4 Model B Rev 1.4 / Cortex-A72"
    assert c["logical"] == 4
    assert c["features"] == ("neon",)


def test_raspberry_pi_4_32bit_kernel():
    c = cpuinfo("rpi4_armv7l.txt")
    assert c["arch_hint"] == "arm"
    assert "Raspberry Pi 4" in c["model"] and "Cortex-A72" in c["model"]
    assert c["features"] == ("neon",)


def test_features_come_out_in_canonical_order():
    for name in ("xeon_8480.txt", "graviton3.txt", "ryzen_5950x.txt"):
        feats = cpuinfo(name)["features"]
        assert list(feats) == sorted(feats, key=FEATURE_ORDER.index)


def test_garbage_cpuinfo_gives_empty_facts_not_an_error():
    c = parse_proc_cpuinfo("\x00\x01 nonsense :: : \n\n\nprocessor: x\n" * 1000)
    assert c["logical"] is None and c["features"] == ()


def test_macos_apple_silicon_sysctl():
    c = cpu_from_sysctl(parse_sysctl((DATA / "macos" / "sysctl_m3max.txt").read_text()))
    assert c["model"] == "Apple M3 Max" and c["vendor"] == "apple" and c["arch_hint"] == "arm64"
    assert (c["physical"], c["logical"], c["performance"]) == (16, 16, 12)
    assert set(c["features"]) == {"neon", "fp16", "dotprod", "i8mm", "bf16"}  # FEAT_SME: 0 is not a feature
    assert c["l2_kb"] == 16384 and c["memsize"] == 128 * 2**30


def test_macos_intel_sysctl():
    c = cpu_from_sysctl(parse_sysctl((DATA / "macos" / "sysctl_intel_mac.txt").read_text()))
    assert c["vendor"] == "intel" and c["arch_hint"] == "x86_64"
    assert (c["physical"], c["logical"]) == (8, 16)
    assert {"avx", "avx2", "fma", "f16c"} <= set(c["features"]) and "avx512f" not in c["features"]
    assert c["l3_kb"] == 16384


def test_probe_cpu_on_macos_runs_sysctl_through_the_runner():
    runner = RecordedRunner({"sysctl": "macos/sysctl_m3max.txt"}, base=DATA)
    info, notes, extras = probe_cpu(root=DATA / "trees" / "empty", runner=runner, system="Darwin", machine="arm64")
    assert info.model == "Apple M3 Max" and info.performance_cores == 12 and info.arch == "arm64"
    assert extras["memsize"] == 128 * 2**30 and notes == []
    assert runner.calls == [("sysctl", "hw", "machdep")]


def test_probe_cpu_macos_without_sysctl_notes_it():
    info, notes, _ = probe_cpu(root=DATA / "trees" / "empty", runner=RecordedRunner({}), system="Darwin", machine="arm64")
    assert notes == ["sysctl: not installed"] and info.logical_cores >= 1


def test_cache_sizes_from_recorded_sysfs():
    # two L3 instances of 32 MiB (two CCDs), L2 512 KiB per core
    assert read_cache_sizes(DATA / "trees" / "amd_dgpu") == (512, 65536)
    assert read_cache_sizes(DATA / "trees" / "intel_arc") == (None, None)


def test_cpu_list_parsing_is_bounded():
    assert parse_cpu_list("0-3,8,10-11\n") == {0, 1, 2, 3, 8, 10, 11}
    assert len(parse_cpu_list("0-999999999")) == 4096
    assert parse_cpu_list("garbage") == set()


def test_probe_cpu_from_recorded_tree():
    info, notes, _ = probe_cpu(root=DATA / "trees" / "amd_dgpu", system="Linux", machine="x86_64")
    assert info.model.startswith("AMD Ryzen 9 5950X") and notes == []
    assert (info.physical_cores, info.logical_cores, info.l2_kb, info.l3_kb) == (2, 4, 512, 65536)


def test_meminfo_and_container_limit(tmp_path):
    info = parse_meminfo((DATA / "trees" / "amd_dgpu" / "proc" / "meminfo").read_text())
    assert info["MemTotal"] == 65_768_000 * 1024 and info["SwapTotal"] == 8_388_604 * 1024
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text((DATA / "trees" / "amd_dgpu" / "proc" / "meminfo").read_text())
    cg = tmp_path / "sys" / "fs" / "cgroup"
    cg.mkdir(parents=True)
    (cg / "memory.max").write_text(f"{8 * 2**30}\n")
    (cg / "memory.current").write_text(f"{2 * 2**30}\n")
    assert cgroup_limit(tmp_path) == (8 * 2**30, 2 * 2**30)
    mem, notes = probe_memory(tmp_path)
    assert mem.limit == 8 * 2**30 and mem.available == 6 * 2**30
    assert mem.total == 65_768_000 * 1024 and "container memory limit" in notes[0]
    (cg / "memory.max").write_text("max\n")
    mem, notes = probe_memory(tmp_path)
    assert mem.limit is None and notes == [] and mem.available == 58_000_000 * 1024


def test_cgroup_limit_above_ram_is_ignored():
    mem, notes = memory_from_values(16 * 2**30, 10 * 2**30, 0, 0, 64 * 2**30, 1)
    assert mem.limit is None and mem.available == 10 * 2**30 and notes == []


def test_missing_meminfo_is_a_note(tmp_path):
    mem, notes = probe_memory(tmp_path)
    assert mem.total == 0 and notes == ["could not read memory size"]


@pytest.mark.skipif(platform.system() != "Linux", reason="cross-checks /proc/cpuinfo")
def test_real_machine_cpu_matches_psutil_and_proc_cpuinfo():
    info, notes, _ = probe_cpu()
    assert info.logical_cores == psutil.cpu_count(logical=True)
    assert info.physical_cores == (psutil.cpu_count(logical=False) or info.logical_cores)
    raw = Path("/proc/cpuinfo").read_text()
    first = next(line for line in raw.splitlines() if line.startswith(("flags", "Features")))
    tokens = set(first.split(":", 1)[1].split())
    # every canonical feature we report is backed by a kernel flag, and avx2 is not missed
    for feat in info.features:
        assert feat in tokens or {"sse3": "pni", "neon": "asimd", "fp16": "asimdhp", "dotprod": "asimddp"}.get(feat) in tokens
    assert ("avx2" in tokens) == ("avx2" in info.features)
    assert info.arch == platform.machine()
    if hasattr(os, "sched_getaffinity"):
        assert info.usable_cores is None or info.usable_cores == len(os.sched_getaffinity(0))


def test_real_machine_memory_matches_psutil():
    mem, _ = probe_memory()
    vm = psutil.virtual_memory()
    assert mem.total == vm.total
    assert 0 < mem.available <= mem.total
    assert abs(mem.available - vm.available) < max(512 * 2**20, vm.total // 20) or mem.limit is not None
