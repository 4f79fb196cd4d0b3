"""vLLM/SGLang-style serving capacity: sharded weights, KV heads per rank, blocks, concurrency."""

from __future__ import annotations

import math

import pytest

from sizeup.sources.dispatch import describe
from sizeup.errors import SizeupError
from sizeup.estimate.serving import kv_bytes_per_token_rank, serving_capacity
from sizeup.formats.gguf_model import describe_gguf
from sizeup.testing.synthetic_gguf import write_synthetic

GIB = 1024**3


@pytest.fixture(scope="module")
def llama8b():
    return describe("meta-llama/Llama-3.1-8B-Instruct")


def test_kv_heads_split_over_tp_and_replicate_below(llama8b):
    a = llama8b.arch  # 32 layers, 8 KV heads of 128
    layers = range(a.n_layer)
    per_head_token = (a.head_dim_k + a.head_dim_v) * 2 * a.n_layer
    assert kv_bytes_per_token_rank(llama8b, 1, layers)[0] == 8 * per_head_token == 131072
    assert kv_bytes_per_token_rank(llama8b, 4, layers)[0] == 2 * per_head_token
    assert kv_bytes_per_token_rank(llama8b, 8, layers)[0] == 1 * per_head_token
    assert kv_bytes_per_token_rank(llama8b, 16, layers)[0] == 1 * per_head_token  # replicated head
    assert kv_bytes_per_token_rank(llama8b, 1, layers, "fp8")[0] == 65536


def test_blocks_and_concurrency_are_consistent(llama8b):
    s = serving_capacity(llama8b, n_gpus=1, gpu_vram=80 * GIB, ctx=8192)
    assert s.fits and s.tp == 1
    assert s.weights_per_gpu == int(llama8b.params.total * 2)  # bf16, one rank
    assert s.blocks_per_seq == 8192 // 16
    assert s.n_blocks == s.kv_budget_per_gpu // (16 * 131072)
    assert s.max_concurrent_seqs == s.kv_budget_per_gpu // (8192 * 131072)
    assert s.max_tokens_in_cache == s.n_blocks * 16
    budget = int(80 * GIB * 0.9) - s.weights_per_gpu - s.activation_per_gpu - s.cuda_graph_per_gpu - s.non_torch_per_gpu
    assert s.kv_budget_per_gpu == budget


def test_more_gpus_and_fp8_kv_raise_capacity(llama8b):
    one = serving_capacity(llama8b, 1, 80 * GIB, ctx=32768)
    four = serving_capacity(llama8b, 4, 80 * GIB, tp=4, ctx=32768)
    fp8 = serving_capacity(llama8b, 1, 80 * GIB, ctx=32768, kv_dtype="fp8")
    assert four.weights_per_gpu < one.weights_per_gpu / 3
    assert four.max_concurrent_seqs > 4 * one.max_concurrent_seqs
    assert fp8.max_concurrent_seqs >= 2 * one.max_concurrent_seqs - 1
    lower = serving_capacity(llama8b, 1, 80 * GIB, ctx=32768, gpu_memory_utilization=0.5)
    assert lower.max_concurrent_seqs < one.max_concurrent_seqs


def test_model_too_big_reports_no_room():
    big = describe("meta-llama/Llama-3.1-405B-Instruct")
    s = serving_capacity(big, 1, 80 * GIB, ctx=4096)
    assert not s.fits and s.max_concurrent_seqs == 0 and s.notes
    s8 = serving_capacity(big, 8, 80 * GIB, tp=8, ctx=4096, dtype="fp8")
    assert s8.fits and s8.max_concurrent_seqs > 0


def test_mla_cache_is_the_latent_on_every_rank(tmp_path):
    m = describe_gguf(write_synthetic(tmp_path / "ds.gguf", "deepseek2"))
    a = m.arch
    per_token = (a.kv_lora_rank + a.rope_dim) * 2 * a.n_layer
    assert kv_bytes_per_token_rank(m, 1, range(a.n_layer))[0] == per_token
    assert kv_bytes_per_token_rank(m, 8, range(a.n_layer))[0] == per_token


@pytest.mark.parametrize("kw,msg", [
    ({"tp": 3}, "heads"),
    ({"tp": 4, "pp": 2}, "GPUs"),
    ({"dtype": "int3"}, "dtype"),
    ({"kv_dtype": "int2"}, "KV cache dtype"),
    ({"gpu_memory_utilization": 1.5}, "gpu_memory_utilization"),
    ({"block_size": 0}, "block size"),
])
def test_invalid_serving_requests(llama8b, kw, msg):
    args = {"n_gpus": 4, "gpu_vram": 80 * GIB, **kw}
    with pytest.raises(SizeupError, match=msg):
        serving_capacity(llama8b, **args)


def test_pipeline_parallel_splits_layers(llama8b):
    tp = serving_capacity(llama8b, 2, 80 * GIB, tp=1, pp=2, ctx=8192)
    assert tp.pp == 2
    one = serving_capacity(llama8b, 1, 80 * GIB, ctx=8192)
    # half the layers per stage: about half the KV bytes per token, and less weight per GPU
    assert tp.kv_bytes_per_token_per_gpu == one.kv_bytes_per_token_per_gpu // 2
    assert tp.weights_per_gpu < 0.6 * one.weights_per_gpu
    assert math.isclose(tp.max_concurrent_seqs / one.max_concurrent_seqs, 2.0, rel_tol=0.5)
