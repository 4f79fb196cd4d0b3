"""DeepSeek-V3.2 (HF ``deepseek_v32``, llama.cpp ``deepseek32``): DeepSeek-V3's MLA + MoE blocks
with the lightning indexer of DeepSeek sparse attention (src/models/deepseek32.cpp). The layout
against a file llama.cpp loads is in test_layout / test_synthetic_gguf; here: the config path, the
catalog entry, and the indexer's second KV cache."""

from __future__ import annotations

import pytest

from sizeup.catalog import describe_entry, load_catalog
from sizeup.errors import SizeupError
from sizeup.estimate.kv_cache import kv_bytes_per_token
from sizeup.formats.hf_config import architecture_from_hf_config
from sizeup.layout import predict_tensors


def _v32():
    return next(e for e in load_catalog() if e.id == "deepseek-ai/DeepSeek-V3.2")


def test_catalog_entry_sizes_like_the_model_card():
    d = describe_entry(_v32())
    a = d.arch
    assert a.name == "deepseek32" and a.is_mla
    assert (a.extra["indexer_n_head"], a.extra["indexer_head_dim"], a.extra["indexer_top_k"]) == (64, 128, 2048)
    # 671B stated; the indexer adds about 0.85B over DeepSeek-V3 (61 x 14M), MTP not counted
    assert abs(d.params.total - 671e9) / 671e9 < 0.005
    t = dict(predict_tensors(a))
    assert t["blk.0.indexer.attn_q_b.weight"] == (1536, 64 * 128)
    assert t["blk.60.indexer.proj.weight"] == (7168, 64) and t["blk.60.indexer.k_norm.bias"] == (128,)
    assert "blk.0.attn_kv_b.weight" not in t and t["blk.3.exp_probs_b.bias"] == (256,)
    assert "blk.2.exp_probs_b.bias" not in t  # first_k_dense_replace = 3
    # MLA latent (512 + 64) plus the indexer's single 128-wide key head, F16, 61 layers
    assert kv_bytes_per_token(a) == 61 * (576 + 128) * 2


def test_indexer_keys_are_required():
    cfg = dict(_v32().config)
    arch = architecture_from_hf_config(cfg)
    assert arch.name == "deepseek32"
    for key in ("index_n_heads", "index_head_dim", "index_topk"):
        bad = {k: v for k, v in cfg.items() if k != key}
        with pytest.raises(SizeupError, match=key):
            architecture_from_hf_config(bad)
    with pytest.raises(SizeupError, match="index_head_dim"):
        architecture_from_hf_config({**cfg, "index_head_dim": "128; rm -rf"})
