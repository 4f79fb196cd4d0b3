"""The GPU spec table: integrity of the data, and name matching on real driver spellings."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from sizeup.errors import NotFound, SizeupError
from sizeup.hardware import specs

GiB = 2**30


def test_table_has_60_plus_gpus_each_with_source_and_sane_numbers():
    rows = specs.all_specs()
    assert len(rows) >= 60
    assert len({r.name for r in rows}) == len(rows)
    for r in rows:
        assert r.vendor in {"nvidia", "amd", "intel", "apple"}, r.name
        assert r.source.strip() and ("http" in r.source or "whitepaper" in r.source or "datasheet" in r.source), r.name
        assert 1 <= r.vram_gib <= 512, r.name
        assert 50 <= r.bandwidth_gbs <= 10_000, r.name
        assert 0.1 <= r.fp16_tflops <= 5_000, r.name
    vendors = {r.vendor for r in rows}
    assert vendors == {"nvidia", "amd", "intel", "apple"}


def test_table_covers_the_families_people_ask_about():
    names = {r.name for r in specs.all_specs()}
    for must in ("RTX 2080 Ti", "RTX 3090", "RTX 4090", "RTX 5090", "RTX A6000", "RTX 6000 Ada", "T4", "V100 SXM2",
                 "A10", "A100 PCIe 40GB", "A100 SXM 80GB", "H100 PCIe", "H100 SXM", "H200", "L4", "L40S", "B200",
                 "GB10", "RX 6800 XT", "RX 7900 XTX", "RX 9070 XT", "Instinct MI210", "Instinct MI250",
                 "Instinct MI300X", "Arc A770", "Arc B580", "M1 (8-core GPU)", "M2 Ultra (76-core GPU)",
                 "M3 Max (40-core GPU)", "M4 Max (40-core GPU)"):
        assert must in names, must


def test_pci_id_table_names_exist():
    data = json.loads(resources.files("sizeup.data").joinpath("gpu_specs.json").read_text())
    for key, names in data["pci_ids"].items():
        if key.startswith("_"):
            continue
        for n in names:
            assert specs.spec_by_name(n) is not None, (key, n)


@pytest.mark.parametrize("driver_name, expected", [
    ("NVIDIA GeForce RTX 4090", "RTX 4090"),
    ("NVIDIA GeForce RTX 4070 Ti SUPER", "RTX 4070 Ti SUPER"),
    ("NVIDIA GeForce RTX 4070", "RTX 4070"),
    ("NVIDIA GeForce RTX 3060", "RTX 3060"),
    ("NVIDIA H100 80GB HBM3", "H100 SXM"),
    ("NVIDIA H100 PCIe", "H100 PCIe"),
    ("NVIDIA H100 NVL", "H100 NVL"),
    ("NVIDIA H200", "H200"),
    ("NVIDIA H200 NVL", "H200 NVL"),
    ("NVIDIA A100-SXM4-80GB", "A100 SXM 80GB"),
    ("NVIDIA A100-PCIE-40GB", "A100 PCIe 40GB"),
    ("NVIDIA A100 80GB PCIe", "A100 PCIe 80GB"),
    ("NVIDIA A10", "A10"),
    ("NVIDIA A10G", "A10"),
    ("Tesla T4", "T4"),
    ("Tesla V100-SXM2-16GB", "V100 SXM2"),
    ("Tesla P40", "Tesla P40"),
    ("NVIDIA RTX A6000", "RTX A6000"),
    ("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada"),
    ("NVIDIA L40S", "L40S"),
    ("NVIDIA GB10", "GB10"),
    ("AMD Instinct MI300X", "Instinct MI300X"),
    ("AMD Radeon RX 7900 XTX", "RX 7900 XTX"),
    ("AMD Radeon RX 7900 XT", "RX 7900 XT"),
    ("Intel(R) Arc(TM) A770 Graphics", "Arc A770"),
    ("Apple M3 Max", "M3 Max (40-core GPU)"),
])
def test_driver_names_match(driver_name, expected):
    s = specs.lookup(driver_name)
    assert s is not None and s.name == expected


def test_shared_names_are_told_apart_by_vram_and_cores():
    navi31 = "Navi 31 [Radeon RX 7900 XT/7900 XTX/7900M]"
    assert specs.lookup(navi31, 24 * GiB).name == "RX 7900 XTX"
    assert specs.lookup(navi31, 20 * GiB).name == "RX 7900 XT"
    assert specs.lookup("Apple M3 Max", gpu_cores=30).name == "M3 Max (30-core GPU)"
    assert specs.lookup("Apple M4 Max", gpu_cores=32).bandwidth_gbs == 410


def test_unknown_names_do_not_match():
    for name in ("", "   ", "Matrox G200eW", "NVIDIA GeForce GT 710", "llvmpipe (LLVM 15.0.7, 256 bits)", "x" * 10_000):
        assert specs.lookup(name) is None, name


def test_user_queries_resolve_or_explain():
    assert specs.find("4090").name == "RTX 4090"
    assert specs.find("rtx 3090").name == "RTX 3090"
    assert specs.find("mi300x").name == "Instinct MI300X"
    assert specs.find("M3 Max").name == "M3 Max (40-core GPU)"
    assert specs.find("H100 SXM").name == "H100 SXM"
    with pytest.raises(NotFound, match="ambiguous: H100 PCIe, H100 SXM, H100 NVL"):
        specs.find("H100")
    with pytest.raises(NotFound, match="did you mean: RTX 4090"):
        specs.find("RTX 4009")
    with pytest.raises(SizeupError, match="unknown GPU 'banana'"):
        specs.find("banana")
