"""RunConfig validation and llama.cpp's own padding rules (llama-context.cpp, llama-kv-cache-iswa.cpp)."""

from __future__ import annotations

import pytest

from sizeup.errors import SizeupError
from sizeup.estimate.config import RunConfig, normalize_kv_type, parse_flash_attn, resolve


@pytest.mark.parametrize("bad", [0, -1])
def test_context_must_be_positive(bad):
    with pytest.raises(SizeupError, match="context length"):
        RunConfig(n_ctx=bad)


def test_unknown_kv_type_is_one_clear_error():
    with pytest.raises(SizeupError, match="unknown KV cache type 'q3_k'"):
        RunConfig(n_ctx=512, type_k="q3_k")


def test_kv_type_spelling_is_normalized():
    assert RunConfig(n_ctx=512, type_k="Q8_0", type_v="IQ4_NL").type_k == "q8_0"
    assert normalize_kv_type(" BF16 ") == "bf16"


def test_quantized_v_needs_flash_attention():
    with pytest.raises(SizeupError, match="needs flash attention"):
        RunConfig(n_ctx=512, type_v="q8_0", flash_attn=False)
    # a quantized K alone is fine without FA, as in llama.cpp
    RunConfig(n_ctx=512, type_k="q8_0", flash_attn=False)


def test_flash_attn_spellings():
    assert parse_flash_attn("on") is True and parse_flash_attn("off") is False and parse_flash_attn("auto") == "auto"
    with pytest.raises(SizeupError):
        parse_flash_attn("maybe")


def test_ngl_above_layers_plus_output_is_rejected():
    cfg = RunConfig(n_ctx=512, n_gpu_layers=32)
    cfg.check_for(31)  # 31 layers + output = 32: fine
    with pytest.raises(SizeupError, match="31 layers \\+ 1 output"):
        RunConfig(n_ctx=512, n_gpu_layers=33).check_for(31)
    with pytest.raises(SizeupError):
        RunConfig(n_ctx=512, n_gpu_layers=-2)


@pytest.mark.parametrize("kw", [{"n_parallel": 0}, {"n_parallel": 1000}, {"n_ubatch": 0}, {"split_mode": "diag"},
                                {"tensor_split": (1.0, -1.0)}, {"n_threads": 0}])
def test_other_invalid_values(kw):
    with pytest.raises(SizeupError):
        RunConfig(n_ctx=512, **kw)


def test_resolve_pads_context_to_256_like_llama_cpp():
    r = resolve(RunConfig(n_ctx=1000), n_layer=4)
    assert (r.n_ctx, r.n_ctx_seq, r.n_stream) == (1024, 1024, 1)


def test_resolve_splits_context_per_sequence_unless_unified():
    # 512 / 4 = 128 -> padded to 256 per stream -> n_ctx rounded to 1024 (llama.cpp logs the same)
    r = resolve(RunConfig(n_ctx=512, n_parallel=4), n_layer=4)
    assert (r.n_ctx, r.n_ctx_seq, r.n_stream) == (1024, 256, 4)
    u = resolve(RunConfig(n_ctx=512, n_parallel=4, kv_unified=True), n_layer=4)
    assert (u.n_ctx, u.n_ctx_seq, u.n_stream) == (512, 512, 1)


def test_resolve_batches_are_clamped_by_context():
    r = resolve(RunConfig(n_ctx=256, n_batch=2048, n_ubatch=512), n_layer=4)
    assert (r.n_batch, r.n_ubatch) == (256, 256)


def test_resolve_gpu_layers():
    assert resolve(RunConfig(n_ctx=512), n_layer=30, has_gpu=True).n_gpu_layers == 31
    assert resolve(RunConfig(n_ctx=512), n_layer=30, has_gpu=False).n_gpu_layers == 0
    assert resolve(RunConfig(n_ctx=512, n_gpu_layers=5), n_layer=30, has_gpu=True).n_gpu_layers == 5
    assert resolve(RunConfig(n_ctx=512, flash_attn="auto"), n_layer=3).flash_attn is True
