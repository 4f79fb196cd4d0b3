"""Serving capacity on vLLM/SGLang-style engines: paged KV blocks, tensor and pipeline parallel.

How these engines use GPU memory (vLLM ``gpu_worker.determine_available_memory`` and
``kv_cache_interface``, SGLang's ``mem_fraction_static`` works the same way):

1. Each GPU may use ``gpu_memory_utilization`` (default 0.9) of its *total* memory.
2. From that come the weights (sharded: 1/TP of every layer of this pipeline stage; the vocab-
   parallel embedding and LM head are sharded too), the peak activation memory measured by a
   profiling forward pass of ``max_num_batched_tokens`` tokens, memory outside PyTorch (CUDA
   context, NCCL buffers), and CUDA-graph capture.
3. Everything left becomes KV cache, in blocks of ``block_size`` (16) tokens. One block holds K
   and V of 16 tokens for every attention layer of the stage, for the KV heads of this rank:
   ``n_kv_heads / TP`` heads, or one replicated head per rank when ``n_kv_heads < TP``. MLA models
   cache the compressed latent (``kv_lora_rank + rope_dim`` per token), replicated on every rank.
4. Concurrency at a context length = blocks / blocks-per-sequence (vLLM prints this as
   "Maximum concurrency for N tokens per request").

Activation and CUDA-graph figures are approximations (documented constants below); weights and
KV are exact given the dtypes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import SizeupError
from ..model import ModelDescription
from .kv_cache import has_kv, has_recurrent_state, k_row, recurrent_rows

GIB = 1024**3
MIB = 1024**2

# Bytes per weight element by serving dtype / quantization (group scales included for int4:
# AWQ/GPTQ with group size 128 store one fp16 scale and a packed zero per group -> ~4.25 bits).
WEIGHT_BYTES = {"bf16": 2.0, "fp16": 2.0, "float16": 2.0, "bfloat16": 2.0, "fp32": 4.0, "float32": 4.0,
                "fp8": 1.0, "int8": 1.0, "awq": 4.25 / 8, "gptq": 4.25 / 8, "int4": 4.25 / 8, "nvfp4": 4.5 / 8,
                "mxfp4": 4.25 / 8}
KV_BYTES = {"auto": 2, "bf16": 2, "fp16": 2, "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1, "fp32": 4}

# Memory outside PyTorch's allocator per GPU: CUDA context + cuBLAS/NCCL workspaces (~0.5-1 GiB;
# vLLM logs it as "non-torch memory"). CUDA graphs: vLLM logs "Graph capturing finished ...
# took ~0.3-1 GiB" for its default capture sizes (up to 512 tokens).
NON_TORCH_BYTES = int(0.75 * GIB)
CUDA_GRAPH_BYTES = int(0.5 * GIB)
DEFAULT_BLOCK = 16
DEFAULT_MAX_BATCHED_TOKENS = 8192
DEFAULT_MAX_SEQS = 256


@dataclass
class ServingEstimate:
    model: str
    n_gpus: int
    tp: int
    pp: int
    gpu_vram: int
    gpu_memory_utilization: float
    weights_per_gpu: int
    activation_per_gpu: int
    cuda_graph_per_gpu: int
    non_torch_per_gpu: int
    kv_budget_per_gpu: int
    kv_bytes_per_token_per_gpu: int  # for full-attention layers of the busiest stage
    block_size: int
    n_blocks: int
    ctx: int
    blocks_per_seq: int
    max_concurrent_seqs: int
    max_tokens_in_cache: int
    fits: bool
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _weight_bytes(model: ModelDescription, dtype: str) -> int:
    if dtype == "auto":
        if model.tensors and model.source in ("safetensors", "pytorch-pickle"):
            return sum(t.n_bytes for t in model.tensors)
        dtype = "bf16"
    key = dtype.lower()
    if key not in WEIGHT_BYTES:
        raise SizeupError(f"unknown serving dtype '{dtype}' (known: auto, {', '.join(sorted(WEIGHT_BYTES))})")
    if model.params is None:
        raise SizeupError(f"{model.name}: parameter count unknown, cannot size weights")
    return int(model.params.total * WEIGHT_BYTES[key])


def _check_parallel(model: ModelDescription, n_gpus: int, tp: int, pp: int) -> None:
    arch = model.arch
    if tp < 1 or pp < 1:
        raise SizeupError("tensor and pipeline parallel sizes must be >= 1")
    if tp * pp > n_gpus:
        raise SizeupError(f"TP {tp} x PP {pp} needs {tp * pp} GPUs, only {n_gpus} given")
    if arch is None:
        return
    nh = arch.n_head_max
    if nh and nh % tp:
        raise SizeupError(f"{nh} attention heads do not split over TP {tp} (vLLM requires heads % TP == 0)")
    nkv = arch.n_head_kv_max
    if nkv and not arch.is_mla and (nkv % tp if nkv >= tp else tp % nkv):
        raise SizeupError(f"{nkv} KV heads do not split over TP {tp} evenly")
    if pp > arch.n_layer:
        raise SizeupError(f"PP {pp} is more than the model's {arch.n_layer} layers")


def kv_bytes_per_token_rank(model: ModelDescription, tp: int, layers: range, kv_dtype: str = "auto") -> tuple[int, int]:
    """(bytes per token of full-attention layers, bytes per token of sliding-window layers) on one rank."""
    arch = model.arch
    if kv_dtype not in KV_BYTES:
        raise SizeupError(f"unknown KV cache dtype '{kv_dtype}' (known: {', '.join(KV_BYTES)})")
    eb = KV_BYTES[kv_dtype]
    full = swa = 0
    for il in layers:
        if not has_kv(arch, il):
            continue
        if arch.is_mla:
            per = k_row(arch, il) * eb
        else:
            per_rank = max(1, arch.n_head_kv[il] // tp)  # replicated when KV heads < TP
            per = per_rank * (arch.head_dim_k + arch.head_dim_v) * eb
        if arch.is_swa(il):
            swa += per
        else:
            full += per
    return full, swa


def serving_capacity(model: ModelDescription, n_gpus: int, gpu_vram: int, tp: int | None = None, pp: int = 1,
                     ctx: int | None = None, dtype: str = "auto", kv_dtype: str = "auto",
                     gpu_memory_utilization: float = 0.9, block_size: int = DEFAULT_BLOCK,
                     max_num_batched_tokens: int = DEFAULT_MAX_BATCHED_TOKENS,
                     max_num_seqs: int = DEFAULT_MAX_SEQS) -> ServingEstimate:
    """KV blocks and concurrent sequences of ``model`` served on ``n_gpus`` GPUs of ``gpu_vram`` bytes."""
    arch = model.arch
    if arch is None:
        raise SizeupError(f"{model.name}: architecture unknown, cannot size serving")
    if n_gpus < 1 or gpu_vram <= 0:
        raise SizeupError("need at least one GPU with a positive memory size")
    if not 0.05 <= gpu_memory_utilization <= 1.0:
        raise SizeupError(f"gpu_memory_utilization must be in (0.05, 1], not {gpu_memory_utilization}")
    if block_size < 1 or block_size > 1024:
        raise SizeupError(f"block size must be 1..1024, not {block_size}")
    tp = tp or n_gpus // pp
    _check_parallel(model, n_gpus, tp, pp)
    ctx = ctx or arch.n_ctx_train
    if ctx <= 0:
        raise SizeupError("context length must be positive")
    notes: list[str] = []

    weights = _weight_bytes(model, dtype)
    emb = out = 0
    if model.params and model.params.total:
        emb = int(weights * model.params.embedding / model.params.total)
        out = int(weights * model.params.output / model.params.total) or (emb if pp > 1 else 0)
    layer_bytes = weights - emb - (out if model.params and model.params.output else 0)
    per_stage_layers = math.ceil(arch.n_layer / pp)
    # busiest stage: its layers plus the embedding (first stage) and/or LM head (last stage);
    # with PP > 1 a tied head is materialized again on the last stage
    stage_w = layer_bytes * per_stage_layers / arch.n_layer + (emb + out if pp == 1 else max(emb, out))
    weights_gpu = int(stage_w / tp)

    # activations of the profiling pass: residual, QKV, MLP intermediate (sharded), in 2-byte dtype,
    # plus the sampler's fp32 logits for max_num_seqs rows (vocab sharded by TP)
    T = max_num_batched_tokens
    n_ff = max(max(arch.n_ff, default=0), arch.n_ff_exp * max(arch.n_expert_used, 1))
    qkv = (arch.n_head_max * arch.head_dim_k + 2 * arch.n_head_kv_max * arch.head_dim_v) // tp
    act = T * (4 * arch.n_embd + qkv + 3 * n_ff // tp) * 2 + max_num_seqs * arch.n_vocab * 4 // tp
    graphs = CUDA_GRAPH_BYTES
    budget = int(gpu_vram * gpu_memory_utilization) - weights_gpu - act - graphs - NON_TORCH_BYTES

    stage = range(0, per_stage_layers)
    full, swa = kv_bytes_per_token_rank(model, tp, stage, kv_dtype)
    n_r, n_s = recurrent_rows(arch)
    rec_per_seq = sum(1 for il in stage if has_recurrent_state(arch, il)) * (n_r + n_s) * 4 // tp
    block_bytes = block_size * (full + swa)
    if block_bytes == 0 and rec_per_seq == 0:
        raise SizeupError(f"{model.name}: no KV cache or state to size")
    fits = budget > 0
    if not fits:
        notes.append(f"weights and runtime reserves exceed {gpu_memory_utilization:.0%} of each GPU; no room for KV cache")
        budget = 0
    blocks_per_seq = math.ceil(ctx / block_size) if full else 0
    swa_blocks = math.ceil(min(ctx, arch.swa_window or ctx) / block_size) if swa else 0
    if block_bytes:
        n_blocks = budget // block_bytes
        # per sequence: full layers need ctx tokens, SWA layers only the window
        per_seq_bytes = blocks_per_seq * block_size * full + swa_blocks * block_size * swa + rec_per_seq
    else:
        n_blocks = 0
        per_seq_bytes = rec_per_seq
    max_seqs = int(budget // per_seq_bytes) if per_seq_bytes else 0
    if max_seqs > max_num_seqs:
        notes.append(f"KV room for {max_seqs} sequences; the scheduler caps running sequences at {max_num_seqs}")
    if fits and max_seqs == 0:
        notes.append(f"not even one {ctx}-token sequence fits in the KV cache; lower the context or add GPUs")
        fits = False
    if arch.n_head_kv_max and not arch.is_mla and arch.n_head_kv_max < tp:
        notes.append(f"{arch.n_head_kv_max} KV heads < TP {tp}: each rank keeps a replicated KV head")
    if swa:
        notes.append("sliding-window layers keep only the window per sequence (hybrid KV cache manager)")
    max_tokens = n_blocks * block_size if full else (budget // swa * 1 if swa else 0)
    return ServingEstimate(
        model=model.name, n_gpus=n_gpus, tp=tp, pp=pp, gpu_vram=gpu_vram,
        gpu_memory_utilization=gpu_memory_utilization, weights_per_gpu=weights_gpu, activation_per_gpu=act,
        cuda_graph_per_gpu=graphs, non_torch_per_gpu=NON_TORCH_BYTES, kv_budget_per_gpu=budget,
        kv_bytes_per_token_per_gpu=full, block_size=block_size, n_blocks=int(n_blocks), ctx=ctx,
        blocks_per_seq=blocks_per_seq, max_concurrent_seqs=max_seqs, max_tokens_in_cache=int(max_tokens),
        fits=fits, notes=notes)
