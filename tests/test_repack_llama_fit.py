"""CPU repack rules and llama.cpp's own reservation (llama_fit) against real llama.cpp in children.

* Repack: the bytes sizeup predicts llama.cpp copies into CPU_REPACK buffers equal the
  "CPU_REPACK model buffer size" llama.cpp prints on a real load, for the build that is installed
  (its compiled features asked of llama.cpp itself), on a real Q4_K_M model and on a zero-weight
  Q4_0 model whose output rows (1004) are not a multiple of the interleave (8) - so it is *not*
  repacked - and it disappears with --no-repack.
* llama_fit: model / context / compute equal llama.cpp's figures for the same config with
  llama-fit-params' defaults (n_outputs_max = n_batch): compute from the no_alloc reservation,
  model from the host (non-repack) weight buffer of a no-mmap load.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sizeup.estimate.config import RunConfig
from sizeup.estimate.memory import estimate_memory
from sizeup.estimate.repack import (BuildFeatures, features_from_cpu, features_from_system_info, host_figures,
                                    plan_repack, repack_layout)
from sizeup.estimate.weights_predict import predict_tensors
from sizeup.formats.gguf_model import describe_gguf
from sizeup.llamacpp.simulate import simulate_memory
from sizeup.llamacpp.sysinfo import installed_build_features
from sizeup.model import TensorInfo
from sizeup.testing.architectures import dense
from sizeup.testing.sparse_gguf import write_sparse_gguf
from sizeup.testing.synthetic_gguf import write_synthetic

MIB = 1024 * 1024
LOG_ROUNDING = 6 * 1024  # llama.cpp prints MiB with two decimals


def _t(name, shape, dtype, nbytes=1000):
    return TensorInfo(name, shape, dtype, 1, nbytes)


X86 = features_from_cpu(["avx", "avx2", "fma", "f16c"])
X86_512 = features_from_cpu(["avx", "avx2", "avx512f"])
ARM_I8MM = features_from_cpu(["neon", "dotprod", "i8mm"])
ARM_DOT = features_from_cpu(["neon", "dotprod"])


def test_rules_by_type_shape_and_isa():
    q4k = _t("blk.0.ffn_up.weight", (4096, 14336), "Q4_K")
    assert repack_layout(q4k, X86) == "q4_K_8x8"
    assert repack_layout(q4k, ARM_I8MM) == "q4_K_8x8"
    assert repack_layout(q4k, ARM_DOT) == "q4_K_8x4"
    assert repack_layout(q4k, features_from_cpu(["sse3"])) is None  # no AVX2 path
    # Q8_0 and Q6_K have no x86 path, ARM ones
    q8 = _t("blk.0.attn_q.weight", (4096, 4096), "Q8_0")
    assert repack_layout(q8, X86_512) is None and repack_layout(q8, ARM_I8MM) == "q8_0_4x8"
    assert repack_layout(_t("blk.0.ffn_down.weight", (14336, 4096), "Q6_K"), X86) is None
    assert repack_layout(_t("blk.0.ffn_down.weight", (14336, 4096), "Q6_K"), ARM_DOT) == "q6_K_8x4"
    # Q2_K needs AVX-512 on x86
    q2 = _t("blk.0.ffn_up.weight", (4096, 14336), "Q2_K")
    assert repack_layout(q2, X86) is None and repack_layout(q2, X86_512) == "q2_K_8x8"
    # interleave rows must divide ne[1]: Q4_0 on AVX2 needs 8, on ARM 4
    odd = _t("output.weight", (256, 1004), "Q4_0")
    assert repack_layout(odd, X86) is None and repack_layout(odd, ARM_DOT) == "q4_0_4x4"
    # GET_ROWS inputs never, expert stacks (MUL_MAT_ID, 3-D) yes, other 3-D weights no, vectors no
    assert repack_layout(_t("token_embd.weight", (4096, 128256), "Q4_K"), X86) is None
    assert repack_layout(_t("blk.0.ffn_up_exps.weight", (2048, 768, 128), "Q4_K"), X86) == "q4_K_8x8"
    assert repack_layout(_t("blk.0.attn_k_b.weight", (128, 512, 16), "Q4_0"), X86) is None
    assert repack_layout(_t("blk.0.attn_norm.weight", (4096,), "Q4_0"), X86) is None
    # a build without the repack buffer repacks nothing
    assert repack_layout(q4k, BuildFeatures(frozenset({"avx2"}), repack_compiled=False)) is None


def test_system_info_parsing():
    b = features_from_system_info("CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | AVX512 = 1 | "
                                  "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")
    assert {"avx2", "avx512f"} <= b.features and b.repack_compiled and b.source == "llama.cpp"
    arm = features_from_system_info("CPU : NEON = 1 | ARM_FMA = 1 | DOTPROD = 1 | MATMUL_INT8 = 1 | SVE = 1 | "
                                    "SVE_CNT = 32 | REPACK = 1 |")
    assert {"neon", "dotprod", "i8mm", "sve", "sve256"} <= arm.features
    assert not features_from_system_info("CPU : AVX2 = 1 | REPACK = 0 |").repack_compiled
    assert features_from_system_info("x" * 100_000).features == frozenset()


def test_host_figures_peak_and_working_set():
    f = host_figures(5 << 30, 3 << 30, use_mmap=True)
    assert f.peak_rss == 8 << 30 and f.working_set == 5 << 30
    f = host_figures(5 << 30, 3 << 30, use_mmap=False)
    assert f.peak_rss == f.working_set == 5 << 30


@pytest.fixture(scope="module")
def build() -> BuildFeatures:
    b = installed_build_features()
    assert b is not None, "llama-cpp-python must be installed for these tests"
    return b


@pytest.fixture(scope="module")
def odd_q4_0(tmp_path_factory) -> Path:
    """A zero-weight llama with every matrix Q4_0 and a 1004-row output head."""
    arch = dense("llama", 2, 256, 4, 2, 64, 512, 1004, False)
    ts = [dataclasses.replace(t, dtype="Q4_0", n_bytes=t.n_elements // 32 * 18) if len(t.shape) == 2 else t
          for t in predict_tensors(arch, "Q8_0")]
    return write_sparse_gguf(tmp_path_factory.mktemp("sparse") / "odd-q4_0.gguf", arch, ts, 2)


def _repack_bytes(sim) -> int:
    return sim["buffers"].get("CPU_REPACK", {}).get("model", 0)


@pytest.mark.parametrize("which", ["gemma3", "odd_q4_0"])
def test_repack_bytes_equal_llama_cpp_load(which, gemma3_path, odd_q4_0, build):
    path = gemma3_path if which == "gemma3" else odd_q4_0
    md = describe_gguf(path)
    cfg = RunConfig(n_ctx=512, use_mmap=False)
    est = estimate_memory(md, cfg, build=build)
    sim = simulate_memory(path, cfg, mode="load", decode=False)
    assert abs(est.host.weights_repacked - _repack_bytes(sim)) <= LOG_ROUNDING
    # the host buffer holds the rest of the weights: llama_fit's "model"
    assert abs(est.host.llama_fit["model"] - sim["buffers"]["CPU"]["model"]) <= LOG_ROUNDING
    if which == "odd_q4_0" and "avx2" in build.features:
        out = next(t for t in md.tensors if t.name == "output.weight")
        assert out.shape[1] % 8 and repack_layout(out, build) is None
        q4 = sum(t.n_bytes for t in md.tensors if t.dtype == "Q4_0" and t.name != "token_embd.weight")
        assert est.host.weights_repacked == q4 - out.n_bytes > 0  # all matrices but the odd head (and lookups)
    if which == "gemma3" and "avx2" in build.features:
        assert est.host.weights_repacked > 10 * MIB  # its Q4_K matrices
    # --no-repack: no CPU_REPACK buffer, nothing predicted
    off = cfg.with_(repack=False)
    sim0 = simulate_memory(path, off, mode="load", decode=False)
    assert _repack_bytes(sim0) == 0 and estimate_memory(md, off, build=build).host.weights_repacked == 0


def test_peak_rss_counts_mapped_originals(gemma3_path, build):
    md = describe_gguf(gemma3_path)
    on = estimate_memory(md, RunConfig(n_ctx=1024), build=build)
    assert on.rss - on.working_set == on.host.weights_repacked
    off = estimate_memory(md, RunConfig(n_ctx=1024, use_mmap=False), build=build)
    assert off.rss == off.working_set == on.working_set
    assert estimate_memory(md, RunConfig(n_ctx=1024, repack=False), build=build).rss == on.working_set


@pytest.fixture(scope="module")
def fit_models(smollm2_path, gemma3_path, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("fit")
    return {
        "smollm2": smollm2_path,  # dense
        "gemma3": gemma3_path,  # SWA
        "qwen3moe": write_synthetic(d / "moe.gguf", "qwen3moe", dtype="Q8_0", n_ctx=65536),
        "granitehybrid": write_synthetic(d / "hybrid.gguf", "granitehybrid", dtype="Q8_0", n_ctx=65536),
        "rwkv7": write_synthetic(d / "rwkv7.gguf", "rwkv7", dtype="Q8_0"),  # pure recurrent
        # MLA latent cache on one layer, KDA delta-rule state on the others
        "kimi-linear": write_synthetic(d / "kimi.gguf", "kimi-linear", dtype="Q8_0", n_ctx=65536),
        # shared-KV layers (20 of 24 hold a cache), per-layer inputs and AltUp in the compute buffer
        "gemma3n": write_synthetic(d / "gemma3n.gguf", "gemma3n", dtype="Q8_0", n_ctx=65536),
    }


@pytest.mark.parametrize("name", ["smollm2", "gemma3", "qwen3moe", "granitehybrid", "rwkv7", "gemma3n", "kimi-linear"])
@pytest.mark.parametrize("ctx", [4096, 32768])
def test_llama_fit_matches_llama_cpp_reservation(name, ctx, fit_models, build):
    path = fit_models[name]
    md = describe_gguf(path)
    cfg = RunConfig(n_ctx=ctx)  # estimate's defaults; llama_fit applies llama-fit-params' n_outputs_max
    fit = estimate_memory(md, cfg, build=build).host.llama_fit
    sim = simulate_memory(path, cfg.with_(n_outputs_max=0), mode="no_alloc")
    t = sim["totals"]
    tol = max(0.03 * t["compute"], 32 * MIB)
    assert abs(fit["compute"] - t["compute"]) <= tol, (fit, t)
    assert abs(fit["context"] - (t["kv"] + t["rs"])) <= LOG_ROUNDING * 4, (fit, t)
    # the reservation holds logits for a whole micro-batch: at least n_ubatch x n_vocab floats
    assert fit["compute"] >= 512 * md.arch.n_vocab * 4
