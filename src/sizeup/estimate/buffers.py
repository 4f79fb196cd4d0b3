"""llama.cpp's output buffer, compute (scratch) buffers and fixed runtime overhead.

The output buffer is exact (``llama_context::output_reserve``): ``n_vocab * max(n_outputs,
n_seq_max) * 4`` bytes of logits, plus ``n_embd_out`` floats per output when embeddings are on;
at context creation ``n_outputs = n_seq_max``.

The compute buffer is what ggml's graph allocator needs for the worst-case graph that
``llama_context::sched_reserve`` builds: one micro-batch of ``T = min(n_ctx, n_ubatch)`` tokens,
``n_seq_max`` sequences, and logits for ``min(T, n_outputs_max)`` tokens (n_batch by default in
the library, the number of slots in llama-server; see :class:`.config.RunConfig`).
Tensors are freed after their last use, so the buffer is the peak of the live set, which for a
decoder is the largest of three phases:

* attention: the KQ mask input(s) (``n_kv x T``, F16 with flash attention, F32 without) live
  until the last layer; without flash attention one layer's KQ scores ``n_kv x T x n_head`` F32
  (softmax runs in place); plus the Q/K/V/output activations and the residual stream;
* feed-forward: gate and up activations ``2 x n_ff x T`` F32 (MoE: per used expert, plus the
  router's ``n_expert x T`` logits and the per-expert down outputs);
* output: the logits ``n_vocab x T`` F32 plus the final norm's input and output.

The activation multipliers below were fitted to llama.cpp's own reported compute buffers
(``sched_reserve: CPU compute buffer size``, llama.cpp at llama-cpp-python 0.3.36, Oct 2026) for
SmolLM2-135M and gemma-3-270m at n_ctx 512..1M, n_ubatch 128/512, n_seq 1/4, flash attention
on and off; ``benchmarks/memory_validation.py`` re-measures them. The phase terms (KQ, masks,
logits) are exact tensor sizes; only the small activation remainder is fitted.

For offloaded runs the host keeps a small compute buffer (``CUDA_Host``/``Metal`` host buffer)
for the token-embedding lookup and the mask inputs (``n_embd x T`` F32 + the masks). That part is
modelled, not measured here (no GPU build was available when fitting); it agrees with published
llama.cpp logs such as 8B models at n_ctx 4096 without flash attention reporting "CUDA_Host
compute buffer size = 16.01 MiB" (8 MiB embeddings + 8 MiB F32 mask). The estimate's notes say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..layout import altup_dims, is_rwkv7, traits
from ..model import Architecture
from .config import Resolved
from .kv_cache import CacheEstimate, has_kv, has_recurrent_state, indexer_k_row, uses_mla_cache

F32 = 4
F16 = 2
MIB = 1024 * 1024

# Activation remainders in "floats per token" (times T * 4 bytes), fitted as described in the
# module docstring. Attention: ~3-4 residual-sized tensors + Q, current K+V and the attention
# output. Dense FFN: 3 residual-sized tensors + ~3.5 x n_ff (gate, up and their product overlap).
# Recurrent (Mamba) layers: the in-projection, the conv input and output, the scan output.
FA_ACT = {"embd": 4, "q": 1, "kv": 1, "o": 1}
NOFA_ACT = {"embd": 3, "q": 1, "kv": 1, "o": 1}
OUT_ACT_EMBD = 2  # final norm input + output next to the logits
FFN_ACT_EMBD = 3
FFN_ACT_NFF = 3.5
MOE_ACT_EMBD = 2
SSM_ACT_EMBD = 3
# RWKV-7 (src/models/rwkv7-base.cpp): the time mix holds the six token-shifted inputs (built from a
# difference repeated six times), r, w, k, v, a and g, the first layer's values (kept for every
# later layer), the norms and the residual stream: 18.05 floats per token per n_embd, plus the WKV
# state rows (rwkv7_state_bytes). Its channel mix (a squared-ReLU MLP without a gate) keeps one
# n_ff-wide activation live beside ~14 n_embd-wide ones; it is the larger phase only for n_ff above
# ~7 n_embd (released RWKV-7 models use 4). Fitted to llama.cpp's compute buffer for synthetic rwkv7
# files of real widths (n_embd 768 to 2560, the converter's low-rank sizes, n_ubatch 128 and 512):
# within 0.5% there; the tiny test files (n_embd 256, 512) need 5-7% more (allocator fragmentation).
RWKV7_ACT_EMBD = 18.05
RWKV7_FFN_ACT_EMBD = 14
RWKV7_FFN_ACT_NFF = 1
# Kimi-Linear's KDA layers (src/models/kimi-linear.cpp with the fused gated-delta-net op, llama.cpp's
# CPU default): q, k, v projections, their convolution inputs and outputs, the decay gate and the
# op's output keep ~7 floats per token per channel of the n_head x head_size width live beside ~3
# n_embd-wide ones; the delta-rule state is there twice (rows gathered from the cache, the op's new
# state), for one sequence: llama.cpp reserves this architecture's prompt graph with n_seqs = 1
# (llama_context::sched_reserve, TAG_RESERVE_DIAG_DECAY). Fitted to llama.cpp's compute buffer for
# synthetic kimi-linear files (n_embd 256..1024, widths 256..1024, head_size 64 and 128, n_ubatch
# 128 and 512, flash attention on): within 3.5%.
KDA_ACT_EMBD = 3
KDA_ACT_INNER = 7
KDA_STATE_COPIES = 2
# Gemma 3n (src/models/gemma3n.cpp): the per-layer inputs, one per_layer_embd-wide row per layer and
# token (P = per_layer_embd x n_layer floats per token), are projected, normalized, added to the
# per-layer token embeddings and permuted before the first layer: ~4 P-wide tensors live at once,
# and ~2 stay live through the layers (the permuted copy every layer slices). The four AltUp streams
# (predictions, corrections, their permuted copies) keep ~16 n_embd-wide tensors live around the
# attention; the FFN holds ~4 n_ff-wide ones (up, gate, the sparsity top-k temporaries, the product).
# Fitted to llama.cpp's compute buffer for synthetic gemma3n files (n_embd 128..2048, n_ff 256..16384,
# 21..30 layers, n_ubatch 128/512, flash attention on and off): within 3% for n_embd 2048 with n_ff
# 8192/16384 (the released models' widths), within 10% (7 MiB) elsewhere. Much shallower models
# (2-3 layers at n_embd 2048) are overestimated by 10-20%: ggml's allocator places these tensors with
# a fragmentation that depends on depth, which these few constants do not follow.
G3N_PLE_PHASE = {"ple": 4, "embd": 2}
G3N_ALTUP_PHASE = {"ple": 2, "embd": 16.5}
G3N_ATTN_PHASE = {"ple": 2, "embd": 8}  # + the KQ scores without flash attention
G3N_FFN_PHASE = {"nff": 4, "embd": 10}

# Fixed process overhead on the host beyond the buffers llama.cpp reports: shared libraries,
# ggml/llama state and the vocabulary's data structures (token strings, merge maps). Measured
# as peak RSS of a llama-cpp-python worker minus the bare interpreter, minus the buffers, for
# synthetic 512-token models (~30 MiB), SmolLM2 (49k vocab, BPE) and gemma-3 (262k, SentencePiece):
# ~30 MiB + ~250 bytes per vocabulary entry (BPE merges cost more per token than SPM scores).
RUNTIME_BASE_BYTES = 30 * MIB
VOCAB_BYTES_PER_TOKEN = 250
# A CUDA/ROCm context costs VRAM that llama.cpp's buffers do not include (kernels, cuBLAS/cuDNN
# workspaces, driver reserve). llama.cpp's own memory breakdown prints it as "unaccounted":
# e.g. 749 MiB on an RTX PRO 6000 Blackwell (ggml-org/llama.cpp issue #27953, Sep 2026), typically
# 300-600 MiB on Ada/Hopper cards. Not measured here (no GPU build was available).
GPU_CONTEXT_BYTES = 512 * MIB


def output_buffer_bytes(n_vocab: int, n_seq_max: int, n_embd: int = 0, embeddings: bool = False) -> int:
    n_out = max(1, n_seq_max)
    return (n_vocab * n_out + (n_embd * n_out if embeddings else 0)) * F32


@dataclass(frozen=True)
class ComputePhases:
    attention: int
    ffn: int
    output: int
    masks: int  # part of attention/ffn: the mask inputs

    @property
    def peak(self) -> int:
        return max(self.attention, self.ffn, self.output)

    @property
    def dominant(self) -> str:
        return max(("attention", self.attention), ("ffn", self.ffn), ("output", self.output), key=lambda x: x[1])[0]


def mask_bytes(arch: Architecture, cache: CacheEstimate, r: Resolved, n_tokens: int) -> int:
    """KQ mask inputs: one per cache kind (full, SWA), ``n_kv x T`` each, per stream."""
    mb = F16 if r.flash_attn else F32
    total = 0
    if cache.cells_full:
        total += cache.cells_full * n_tokens * mb
        if indexer_k_row(arch):  # DeepSeek sparse attention: the indexer's key cache has its own mask
            total += cache.cells_full * n_tokens * mb
    if cache.cells_swa:
        total += cache.cells_swa * n_tokens * mb
    return total


def compute_phases(arch: Architecture, cache: CacheEstimate, r: Resolved, n_outputs: int | None = None,
                   layers: list[int] | None = None, with_output: bool = True) -> ComputePhases:
    """The three live-set peaks (bytes) for the layers in ``layers`` (default all) on one backend.

    ``n_outputs``: rows of logits in the graph; llama.cpp reserves for ``min(T, n_outputs_max)``;
    pass ``n_seq_max`` for what a prompt decode actually touches (RSS).
    """
    T = min(r.n_ctx, r.n_ubatch)
    n_out = min(T, max(1, r.n_outputs_max)) if n_outputs is None else min(T, max(1, n_outputs), max(1, r.n_outputs_max))
    idx = range(arch.n_layer) if layers is None else layers
    embd = arch.n_embd * T * F32
    masks = mask_bytes(arch, cache, r, T)
    phases = _gemma3n_phases if traits(arch)["altup"] else _layer_phases
    attn, ffn = phases(arch, cache, r, idx, masks, T)
    out = (arch.n_vocab * n_out * F32 + OUT_ACT_EMBD * embd) if with_output else 0
    return ComputePhases(attn, ffn, out, masks)


def _layer_phases(arch: Architecture, cache: CacheEstimate, r: Resolved, idx, masks: int,
                  T: int) -> tuple[int, int]:
    """(attention-side, FFN) peaks over the layers ``idx``, one layer's live set at a time."""
    tok = T * F32
    embd = arch.n_embd * tok
    attn = 0
    ffn = 0
    for il in idx:
        if has_kv(arch, il):
            nh = arch.n_head[il] or arch.n_head_max
            q = nh * arch.head_dim_k * tok
            kv = arch.n_head_kv[il] * (arch.head_dim_k + arch.head_dim_v) * tok
            o = nh * arch.head_dim_v * tok
            if uses_mla_cache(arch):  # absorbed MLA: queries and outputs live in the latent space, then decompress
                kv = (arch.kv_lora_rank + arch.rope_dim) * tok
                q = nh * (arch.kv_lora_rank + arch.rope_dim) * tok
                o = nh * (arch.kv_lora_rank + arch.head_dim_v) * tok
            act = FA_ACT if r.flash_attn else NOFA_ACT
            a = act["embd"] * embd + act["q"] * q + act["kv"] * kv + act["o"] * o
            if indexer_k_row(arch):
                # deepseek32's lightning indexer: an F32 score per cached token and query token
                # (the fused op sums its heads); without flash attention the top-k choice also
                # becomes an F16 mask over the same cells. With the indexer's own mask (mask_bytes)
                # this is 6 bytes per cell x token with FA and 10 without; llama.cpp's compute
                # buffer for synthetic deepseek32 files grows by 6.1-6.3 and 10.5.
                a += cache.layers[il].cells * T * (F32 if r.flash_attn else F32 + F16)
            if not r.flash_attn:
                cells = cache.layers[il].cells
                a += cells * T * nh * F32  # KQ scores, one layer at a time
            attn = max(attn, masks + a)
        if has_recurrent_state(arch, il):
            attn = max(attn, masks + ssm_activation_floats(arch) * tok + rwkv7_state_bytes(arch, r)
                       + kda_state_bytes(arch))
        if arch.is_moe_layer(il) and arch.n_ff_exp:
            moe = (2 * arch.n_expert * tok  # router logits + probabilities
                   + 2 * arch.n_ff_exp * arch.n_expert_used * tok  # gate, up per used expert
                   + arch.n_embd * arch.n_expert_used * tok  # per-expert down outputs
                   + 2 * arch.n_ff_shexp * tok)
            ffn = max(ffn, masks + MOE_ACT_EMBD * embd + moe)
        elif arch.n_ff[il] and is_rwkv7(arch):
            ffn = max(ffn, masks + RWKV7_FFN_ACT_EMBD * embd + int(RWKV7_FFN_ACT_NFF * arch.n_ff[il]) * tok)
        elif arch.n_ff[il]:
            ffn = max(ffn, masks + FFN_ACT_EMBD * embd + int(FFN_ACT_NFF * arch.n_ff[il]) * tok)
    return attn, ffn


def _gemma3n_phases(arch: Architecture, cache: CacheEstimate, r: Resolved, idx, masks: int,
                    T: int) -> tuple[int, int]:
    """(attention-side, FFN) peaks of a Gemma 3n graph, as G3N_* describe: the per-layer-input
    and AltUp phases count as attention-side, so the peak stays the largest of three phases."""
    _, _, ple_embd = altup_dims(arch)
    tok = T * F32
    ple = ple_embd * arch.n_layer
    E = arch.n_embd

    def phase(k: dict, extra_floats: float = 0) -> int:
        return masks + int((k.get("ple", 0) * ple + k.get("embd", 0) * E + extra_floats) * tok)

    attn = max(phase(G3N_PLE_PHASE), phase(G3N_ALTUP_PHASE))
    kq = 0
    if not r.flash_attn:  # KQ scores of one layer at a time, as for every other architecture
        kq = max((cache.layers[il].cells * (arch.n_head[il] or arch.n_head_max)
                  for il in idx if cache.layers[il].cells), default=0)
    attn = max(attn, phase(G3N_ATTN_PHASE, kq))
    ffn = max((phase(G3N_FFN_PHASE, G3N_FFN_PHASE["nff"] * arch.n_ff[il]) for il in idx if arch.n_ff[il]), default=0)
    return attn, ffn


def ssm_activation_floats(arch: Architecture) -> int:
    """Floats per token live in a Mamba/Mamba-2 layer: in-projection (z, x, B, C, dt), conv input
    and output, scan output and gating, plus the residual stream (llama.cpp graph_build_mamba*);
    for an RWKV-7 layer, the fitted time-mix live set (RWKV7_ACT_EMBD)."""
    s = arch.ssm
    if is_rwkv7(arch):
        return int(RWKV7_ACT_EMBD * arch.n_embd)
    if s.kind == "kda":  # Kimi-Linear: see KDA_ACT_*
        return KDA_ACT_EMBD * arch.n_embd + KDA_ACT_INNER * s.n_head * s.head_size
    d_inner = s.d_inner or 2 * arch.n_embd
    bc = 2 * s.n_group * s.d_state if s.n_group else 0
    proj = 2 * d_inner + bc + (s.n_head or 0)
    if not s.n_group:  # Mamba-1: x_db projection (dt_rank + 2 d_state) and dt (d_inner)
        proj += s.dt_rank + 2 * s.d_state + d_inner
    conv = d_inner + bc
    return SSM_ACT_EMBD * arch.n_embd + proj + 2 * conv + int(1.5 * d_inner)


def rwkv7_state_bytes(arch: Architecture, r: Resolved) -> int:
    """An RWKV-7 layer's WKV state in the graph: the rows gathered from the cache and the state part
    of the WKV op's output, ``n_embd x head_size`` F32 per sequence each (llama_hparams::n_embd_s).
    Exact for one sequence and for up to four in a 512-token micro-batch; with more sequences in a
    small micro-batch llama.cpp's allocator reuses part of it (up to ~5% less compute buffer)."""
    if not is_rwkv7(arch):
        return 0
    return 2 * arch.n_embd * arch.ssm.head_size * r.n_seq_max * F32


def kda_state_bytes(arch: Architecture) -> int:
    """A Kimi-Linear KDA layer's delta-rule state in the prompt graph: KDA_STATE_COPIES x
    llama_hparams::n_embd_s (head_size^2 x n_head F32) for the one sequence llama.cpp reserves with."""
    s = arch.ssm
    if s is None or s.kind != "kda":
        return 0
    return KDA_STATE_COPIES * s.head_size * s.head_size * s.n_head * F32


def host_compute_bytes_offloaded(arch: Architecture, cache: CacheEstimate, r: Resolved) -> int:
    """Host-side compute buffer when every layer runs on a GPU: embedding lookup + mask inputs."""
    T = min(r.n_ctx, r.n_ubatch)
    return arch.n_embd * T * F32 + mask_bytes(arch, cache, r, T) + 4 * T * F32


def runtime_overhead_bytes(n_vocab: int) -> int:
    return RUNTIME_BASE_BYTES + VOCAB_BYTES_PER_TOKEN * n_vocab
