"""The engine: build flags for every CPU class, crash diagnosis, `sizeup doctor` on the real engine,
and the child-process runner that keeps a native crash from taking sizeup (or pytest) down."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sizeup.cli.main import main
from sizeup.engine import buildflags as bf
from sizeup.engine import diagnose as dg
from sizeup.engine.install import pip_cache_disabled, plan_build
from sizeup.llamacpp.child import ChildFailed, call_in_child

DATA = Path(__file__).parent / "data" / "engine"

SAPPHIRE_RAPIDS = ["sse3", "ssse3", "sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512bw", "avx512vl",
                   "avx512vbmi", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8",
                   "amx_bf16"]
SANDY_BRIDGE = ["sse3", "ssse3", "sse4_2", "avx"]
ZEN2 = ["sse3", "ssse3", "sse4_2", "avx", "avx2", "fma", "f16c", "bmi2"]


# --- build flags (pure) ----------------------------------------------------------------------

def test_amx_cpu_keeps_avx512_and_vnni_but_never_amx():
    o = bf.recommended_options(SAPPHIRE_RAPIDS, "x86_64")
    assert o["GGML_NATIVE"] == "OFF"
    for k in ("GGML_AVX2", "GGML_AVX512", "GGML_AVX512_VNNI", "GGML_AVX512_BF16", "GGML_AVX512_VBMI", "GGML_AVX_VNNI"):
        assert o[k] == "ON", k
    assert o["GGML_AMX_TILE"] == o["GGML_AMX_INT8"] == o["GGML_AMX_BF16"] == "OFF"


def test_old_cpu_gets_no_avx2_even_though_ggml_defaults_it_on():
    o = bf.recommended_options(SANDY_BRIDGE, "x86_64")
    assert o["GGML_AVX"] == "ON"
    assert o["GGML_AVX2"] == o["GGML_FMA"] == o["GGML_F16C"] == o["GGML_BMI2"] == o["GGML_AVX512"] == "OFF"


def test_avx2_cpu_without_avx512():
    o = bf.recommended_options(ZEN2, "amd64")
    assert o["GGML_AVX2"] == "ON" and o["GGML_AVX512"] == "OFF" and o["GGML_AVX_VNNI"] == "OFF"


def test_avx512_needs_its_base_subsets():
    o = bf.recommended_options(ZEN2 + ["avx512f"], "x86_64")  # F without BW/VL: not enough for ggml's AVX-512 path
    assert o["GGML_AVX512"] == "OFF"


def test_arm_keeps_the_native_build():
    assert bf.recommended_options(["neon", "dotprod", "i8mm"], "aarch64") == {}
    assert bf.merge_cmake_args({}, None) == ""


def test_user_cmake_args_win_key_by_key():
    ours = bf.recommended_options(SAPPHIRE_RAPIDS, "x86_64")
    merged = bf.merge_cmake_args(ours, "-DGGML_NATIVE=ON -D GGML_AVX512=OFF -DGGML_CUDA:BOOL=on")
    parsed = bf.parse_cmake_args(merged)
    assert parsed["GGML_NATIVE"] == "ON" and parsed["GGML_AVX512"] == "OFF" and parsed["GGML_CUDA"] == "on"
    assert parsed["GGML_AMX_INT8"] == "OFF" and parsed["GGML_AVX2"] == "ON"  # ours where the user said nothing
    assert merged.count("GGML_NATIVE") == 1 and merged.count("GGML_AVX512=") == 1


def test_parse_cmake_args_tolerates_garbage():
    assert bf.parse_cmake_args('-DA=1 "-DB=two words" -DC -X -D') == {"A": "1", "B": "two words"}
    assert bf.parse_cmake_args('-DA="unterminated') in ({}, {"A": '"unterminated'})


def test_cache_key_changes_with_flags_cpu_and_version():
    base = dict(package_version="0.3.36", cmake_args="-DGGML_NATIVE=OFF", machine="x86_64", features=ZEN2,
                python_tag="cpython311", platform_tag="linux-x86_64")
    k = bf.build_key(**base)
    assert k == bf.build_key(**{**base, "features": list(reversed(ZEN2))})  # order does not matter
    assert k != bf.build_key(**{**base, "cmake_args": "-DGGML_NATIVE=ON"})
    assert k != bf.build_key(**{**base, "features": SAPPHIRE_RAPIDS})
    assert k != bf.build_key(**{**base, "package_version": "0.3.35"})


def test_plan_uses_this_cpu_and_the_user_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SIZEUP_ENGINE_CACHE", str(tmp_path))
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_BLAS=ON")
    plan = plan_build(features=SAPPHIRE_RAPIDS, machine="x86_64")
    assert "-DGGML_AMX_INT8=OFF" in plan.cmake_args and plan.cmake_args.endswith("-DGGML_BLAS=ON")
    assert plan.wheel_dir.parent == tmp_path / "wheels"
    assert plan_build(features=ZEN2, machine="x86_64").key != plan.key


@pytest.mark.parametrize("value,off", [("1", True), ("true", True), ("", False), ("0", False), ("off", False)])
def test_pip_no_cache_dir_turns_our_cache_off(value, off):
    assert pip_cache_disabled({"PIP_NO_CACHE_DIR": value}) is off


# --- diagnosis (pure), on recorded and real outputs --------------------------------------------

NATIVE_AMX_INFO = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
                   "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | "
                   "OPENMP = 1 | REPACK = 1 |")


def test_compiled_features_from_system_info():
    f = dg.compiled_features(NATIVE_AMX_INFO)
    assert f["amx_int8"] and f["avx512f"] and f["avx512_vnni"] and "llamafile" not in f
    assert dg.compiled_features("CPU : NEON = 1 | ARM_FMA = 1 | DOTPROD = 1 | MATMUL_INT8 = 0 |") == \
        {"neon": True, "dotprod": True, "i8mm": False}
    assert dg.compiled_features(None) == {} and dg.compiled_features("garbage") == {}


def test_amx_crash_is_named_with_its_fix():
    d = dg.explain_crash(-11, "llama_context: ... graph_reserve\n", NATIVE_AMX_INFO, SAPPHIRE_RAPIDS, "x86_64")
    assert d.code == "amx_crash" and "AMX" in d.cause and d.fix == "sizeup engine install --rebuild"
    assert "\n" not in d.line()


def test_recorded_amx_crash_output():
    """Output recorded from a real `-march=native` llama-cpp-python 0.3.36 build on this project's AMX Xeon
    (see tests/data/engine/README.md): doctor's probe died in the multi-token batch with this signal."""
    rec = json.loads((DATA / "amx_native_probe.json").read_text())
    assert rec["stages"][-1] == "load"  # loaded fine, died on the first multi-token batch
    d = dg.explain_crash(rec["returncode"], rec["stderr_tail"], rec["system_info"], SAPPHIRE_RAPIDS, "x86_64")
    assert d.code == "amx_crash"


def test_illegal_instruction_and_build_for_another_cpu():
    assert dg.explain_crash(-4, "", None).code == "illegal_instruction"
    assert dg.explain_crash(132, "Illegal instruction (core dumped)").code == "illegal_instruction"
    d = dg.explain_crash(-11, "", NATIVE_AMX_INFO.replace("AMX_INT8 = 1", "AMX_INT8 = 0"), ZEN2, "x86_64")
    assert d.code == "illegal_instruction" and "avx512f" in d.cause
    assert dg.missing_on_cpu(NATIVE_AMX_INFO, ZEN2, "x86_64") == ["amx_int8", "avx512_bf16", "avx512_vnni",
                                                                  "avx512f", "avx512vbmi", "avx_vnni"]
    assert dg.missing_on_cpu(NATIVE_AMX_INFO, SAPPHIRE_RAPIDS, "x86_64") == []


@pytest.mark.parametrize("text,code", [
    ("ModuleNotFoundError: No module named 'llama_cpp'", "not_installed"),
    ("OSError: libggml-base.so: cannot open shared object file: No such file or directory", "missing_library"),
    ("RuntimeError: Failed to load shared library '/x/libllama.so': /x/libllama.so: undefined symbol: ggml_foo",
     "abi_mismatch"),
    ("AttributeError: /venv/lib/libllama.so: undefined symbol: llama_model_n_swa", "abi_mismatch"),
    ("AttributeError: function 'llama_set_adapters_lora' not found", "abi_mismatch"),
    ("ImportError: something else entirely", "import_error"),
])
def test_import_failures_are_classified(text, code):
    d = dg.explain_import_error(text)
    assert d.code == code and d.fix and "\n" not in d.line()


def test_oom_kill_is_not_blamed_on_the_build():
    d = dg.explain_crash(-9, "", NATIVE_AMX_INFO)
    assert d.code == "killed" and "memory" in d.cause and not d.fix


# --- the real engine, always in children ---------------------------------------------------------

def test_doctor_is_green_on_this_machines_engine(capsys):
    assert main(["doctor", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["ok"] and [c["name"] for c in rep["checks"]] == ["engine installed", "build matches CPU", "smoke test"]
    assert rep["engine"]["version"] and "CPU :" in rep["engine"]["system_info"]
    assert "amx_int8" not in rep["engine"]["compiled_features"]


def test_doctor_without_the_engine_is_one_line(tmp_path, capsys):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    assert main(["doctor", "--python", str(venv / "bin" / "python"), "--no-smoke"]) == 2
    cap = capsys.readouterr()
    err = cap.err.strip().splitlines()
    assert len(err) == 1 and "not installed" in err[0] and "sizeup engine install" in err[0]
    assert "FAIL" in cap.out


def test_a_native_crash_costs_one_call_and_names_doctor():
    with pytest.raises(ChildFailed) as e:
        call_in_child("sizeup.testing.llama_views:crash_natively", {}, timeout=120)
    msg = str(e.value)
    assert "SIGSEGV" in msg and "sizeup doctor" in msg and "\n" not in msg
    assert e.value.returncode == -11
    # and the runner still works afterwards
    assert "CPU :" in call_in_child("sizeup.testing.llama_views:system_info", {}, timeout=120)


def test_child_errors_and_targets_are_bounded():
    with pytest.raises(ValueError):
        call_in_child("os:system", {"command": "true"})
    with pytest.raises(ChildFailed, match="TypeError"):
        call_in_child("sizeup.testing.llama_views:system_info", {"unexpected": 1}, timeout=120)
    with pytest.raises(ChildFailed, match="timed out"):
        call_in_child("sizeup.testing.llama_views:sleep", {"seconds": 30}, timeout=2)


def test_engine_flags_command(capsys):
    assert main(["engine", "flags", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["key"] and d["wheel_dir"].endswith(d["key"])
    if any(f.startswith("amx") for f in d["features"]):
        assert "-DGGML_AMX_INT8=OFF" in d["cmake_args"]


def test_pytest_process_never_loads_llama_cpp():
    """conftest's import guard is installed and nothing has loaded the engine here."""
    assert "llama_cpp" not in sys.modules
    assert any(type(f).__name__ == "_NoLlamaInThisProcess" for f in sys.meta_path)
