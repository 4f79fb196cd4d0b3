"""KV cache and recurrent-state sizes, layer by layer, exactly as llama.cpp allocates them.

Sources (llama.cpp, Oct 2026):

* ``src/llama-kv-cache.cpp`` (``llama_kv_cache`` constructor): per attention layer one K tensor
  ``[n_embd_k_gqa(il), kv_size, n_stream]`` of ``type_k`` and one V tensor
  ``[n_embd_v_gqa(il), kv_size, n_stream]`` of ``type_v``. Without flash attention V is stored
  transposed and every layer's V row is padded to ``n_embd_v_gqa_max`` when layers differ.
  MLA models (DeepSeek V2/V3, Kimi K2, GLM-4.7-Flash...) store only K, holding the compressed
  latent plus the rope part (``kv_lora_rank + n_rot`` per token, one "head"); V is a view into K.
* ``src/llama-kv-cache-iswa.cpp``: sliding-window layers get their own cache of
  ``PAD(min(n_ctx_seq, n_swa * (unified ? n_seq_max : 1) + n_ubatch), 256)`` cells, or the full
  size with ``--swa-full``.
* ``src/llama-memory-recurrent.cpp`` + ``src/llama-hparams.cpp`` (``n_embd_r``/``n_embd_s``):
  recurrent layers hold F32 conv ("r") and SSM/WKV ("s") states, ``max(1, n_seq_max)`` rows each,
  whatever the context length.
* ``src/llama-hparams.cpp`` (``has_kv``) + ``src/llama-model.cpp`` (``create_memory``, ``reuse``):
  layers at or past ``n_layer_kv_from_start`` (Gemma 3n: 20) allocate nothing; they read the
  cache of the last sliding or global layer before it.

Byte counts use ggml's row size (``type_size * n / block_size``) from ``data/ggml_types.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data.fixed_hparams import GEMMA3N
from ..data.ggml_types import ggml_type
from ..errors import SizeupError
from ..model import LAYER_RECURRENT, Architecture
from .config import Resolved, RunConfig

SWA_PAD = 256  # llama-kv-cache-iswa.cpp: "the SWA cache is always padded to 256 for performance"

# Architectures whose every layer carries both attention and an SSM (llama.cpp filter_attn and
# filter_recr both true, llama-model.cpp create_memory).
PARALLEL_HYBRID_ARCHS = frozenset({"falcon-h1"})

# Architectures whose last layers reuse the KV cache of earlier ones, with llama.cpp's
# n_layer_kv_from_start (see data/fixed_hparams.py for the source lines).
KV_SHARING_ARCHS: dict[str, int] = {"gemma3n": GEMMA3N["n_layer_kv_from_start"]}


def row_bytes(type_name: str, n: int) -> int:
    """ggml_row_size: bytes of one row of ``n`` elements; rows must be whole blocks."""
    t = ggml_type(type_name)
    if n % t.block_size:
        raise SizeupError(
            f"a KV row of {n} values is not a multiple of {t.name}'s block of {t.block_size}; llama.cpp cannot use this cache type here"
        )
    return n // t.block_size * t.type_size


@dataclass(frozen=True)
class LayerCache:
    """Cache memory of one layer. ``kind``: full | swa | recurrent | full+recurrent | none."""

    il: int
    kind: str
    cells: int  # cells per stream (attention), or state rows (recurrent)
    k_bytes: int = 0
    v_bytes: int = 0
    r_bytes: int = 0
    s_bytes: int = 0

    @property
    def total(self) -> int:
        return self.k_bytes + self.v_bytes + self.r_bytes + self.s_bytes


@dataclass(frozen=True)
class CacheEstimate:
    layers: tuple[LayerCache, ...]
    cells_full: int  # cells per stream of full-attention layers (0 if none)
    cells_swa: int  # cells per stream of sliding-window layers (0 if none)
    n_stream: int

    @property
    def k_bytes(self) -> int:
        return sum(x.k_bytes for x in self.layers)

    @property
    def v_bytes(self) -> int:
        return sum(x.v_bytes for x in self.layers)

    @property
    def kv_bytes(self) -> int:
        return self.k_bytes + self.v_bytes

    @property
    def recurrent_bytes(self) -> int:
        return sum(x.r_bytes + x.s_bytes for x in self.layers)

    @property
    def total(self) -> int:
        return self.kv_bytes + self.recurrent_bytes


def kv_from_start(arch: Architecture) -> int:
    """llama_hparams::n_layer_kv_from_start: only the first this-many layers own a KV cache, the
    later ones reuse an earlier layer's (Gemma 3n); -1 when every layer has its own."""
    if arch.name not in KV_SHARING_ARCHS:
        return -1
    v = arch.extra.get("n_layer_kv_from_start", KV_SHARING_ARCHS[arch.name])
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else KV_SHARING_ARCHS[arch.name]


def has_kv(arch: Architecture, il: int) -> bool:
    """Whether layer ``il`` allocates K/V cells of its own (llama_hparams::has_kv, plus the layer kinds)."""
    if arch.name in PARALLEL_HYBRID_ARCHS:
        return True
    start = kv_from_start(arch)
    if start >= 0 and il >= start:
        return False
    return arch.layer_kind(il) != LAYER_RECURRENT and arch.n_head_kv[il] > 0


def has_recurrent_state(arch: Architecture, il: int) -> bool:
    if arch.ssm is None:
        return False
    return arch.name in PARALLEL_HYBRID_ARCHS or arch.layer_kind(il) == LAYER_RECURRENT


def uses_mla_cache(arch: Architecture) -> bool:
    """Whether llama.cpp caches the compressed MLA latent for this model.

    Only GGUFs written by converters that "absorb" MLA (they carry ``key_length_mla`` /
    ``value_length_mla``; llama_hparams::is_mla) get the latent cache. Older DeepSeek-V2/V3 files
    are run as plain multi-head attention and cache full K and V per head - 9x more per token for
    DeepSeek-V2-Lite (16 heads), 71x for V3 (128 heads) - so the GGUF reader marks them ``extra["mla_absorbed"] = False``. Catalog models
    are assumed converted by a current converter.
    """
    return arch.is_mla and arch.extra.get("mla_absorbed", True) is not False


def indexer_k_row(arch: Architecture) -> int:
    """Values per token per layer in DeepSeek sparse attention's second cache (deepseek32): the
    lightning indexer's one key head (src/llama-kv-cache-dsa.cpp builds it as a K-only cache of
    ``indexer_head_size`` per layer, in the K cache type, beside the MLA latent cache)."""
    v = arch.extra.get("indexer_head_dim", 0) if arch.name == "deepseek32" else 0
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0


def k_row(arch: Architecture, il: int) -> int:
    """Values per token per layer in K (llama_hparams::n_embd_k_gqa), plus the lightning
    indexer's key cache where there is one (same type, so its bytes simply add to the row)."""
    if uses_mla_cache(arch):
        return arch.kv_lora_rank + arch.rope_dim + indexer_k_row(arch)
    return arch.head_dim_k * arch.n_head_kv[il]


def v_row(arch: Architecture, il: int) -> int:
    """Values per token per layer in V; 0 for MLA, where V is a view of K's latent part."""
    if uses_mla_cache(arch):
        return 0
    return arch.head_dim_v * arch.n_head_kv[il]


def recurrent_rows(arch: Architecture) -> tuple[int, int]:
    """(n_embd_r, n_embd_s): F32 values per sequence of the conv/shift state and the SSM/WKV state."""
    s = arch.ssm
    if s is None:
        return 0, 0
    kind = s.kind.lower()
    if kind.startswith("rwkv"):
        shift = s.token_shift_count or 2
        head = s.head_size
        return shift * arch.n_embd, arch.n_embd * head
    if kind in ("lfm2", "shortconv"):
        return arch.n_embd * max(s.d_conv - 1, 0), 0
    if kind == "kda":
        # Kimi-Linear (llama_hparams::n_embd_r/n_embd_s, n_embd_head_kda != 0): conv states of q, k
        # and v over n_head x head_size channels ((d_conv - 1) steps, 3 if d_conv is unset), and a
        # head_size x head_size delta-rule state per head.
        d_inner = s.n_head * s.head_size
        return 3 * (s.d_conv - 1 if s.d_conv > 0 else 3) * d_inner, s.head_size * s.head_size * s.n_head
    # Mamba / Mamba-2 (and hybrids built on them): conv over x plus B and C of every group.
    n_conv = max(s.d_conv - 1, 0) * (s.d_inner + 2 * s.n_group * s.d_state)
    return n_conv, s.d_state * s.d_inner


def kv_bytes_per_token(arch: Architecture, type_k: str = "f16", type_v: str = "f16") -> int:
    """K+V bytes one token costs over all full-attention layers (SWA layers are bounded, not per token)."""
    total = 0
    for il in range(arch.n_layer):
        if has_kv(arch, il) and not arch.is_swa(il):
            total += row_bytes(type_k, k_row(arch, il))
            vr = v_row(arch, il)
            if vr:
                total += row_bytes(type_v, vr)
    return total


def swa_cells(arch: Architecture, cfg: RunConfig, r: Resolved) -> int:
    if cfg.swa_full or not arch.swa_window:
        return r.n_ctx_seq
    want = arch.swa_window * (r.n_seq_max if cfg.kv_unified else 1) + r.n_ubatch
    size = min(r.n_ctx_seq, want)
    return (size + SWA_PAD - 1) // SWA_PAD * SWA_PAD


def check_cache_types(arch: Architecture, cfg: RunConfig, flash_attn: bool) -> None:
    """llama.cpp's refusals (llama_init_from_model, llama-context.cpp): MLA needs one type for K
    and V; with flash attention a quantized cache needs whole blocks per head."""
    if arch.is_mla and cfg.type_k != cfg.type_v:
        raise SizeupError(f"MLA models need the same K and V cache type (got {cfg.type_k} and {cfg.type_v})")
    head_k = arch.kv_lora_rank + arch.rope_dim if arch.is_mla else arch.head_dim_k
    head_v = arch.kv_lora_rank if arch.is_mla else arch.head_dim_v
    if not flash_attn:
        return
    for kind, t, head in (("K", cfg.type_k, head_k), ("V", cfg.type_v, head_v)):
        b = ggml_type(t).block_size
        if head and head % b:
            raise SizeupError(f"{kind} cache type {t} (block {b}) does not divide the head size {head}; llama.cpp refuses it")


_MEMO: dict[tuple, CacheEstimate] = {}
_MEMO_SIZE = 4096


def cache_estimate(arch: Architecture, cfg: RunConfig, r: Resolved) -> CacheEstimate:
    """Per-layer cache bytes for ``arch`` run with ``cfg`` (already resolved into ``r``).

    Memoized per shape with the vocabulary left out (the cache never depends on it), so ranking a
    catalog works it out once per family of fine-tunes, not once per model; the result is frozen."""
    from .weight_summary import vocab_family, shape_key

    key = (vocab_family(arch) or shape_key(arch), cfg, r)
    hit = _MEMO.get(key)
    if hit is None:
        hit = _cache_estimate(arch, cfg, r)
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.clear()
        _MEMO[key] = hit
    return hit


def _cache_estimate(arch: Architecture, cfg: RunConfig, r: Resolved) -> CacheEstimate:
    check_cache_types(arch, cfg, r.flash_attn)
    n_swa_cells = swa_cells(arch, cfg, r) if any(arch.swa_layers) else 0
    v_trans = not r.flash_attn
    v_max = max((v_row(arch, il) for il in range(arch.n_layer) if has_kv(arch, il)), default=0)
    n_r, n_s = recurrent_rows(arch)
    rs_rows = max(1, r.n_seq_max)
    layers: list[LayerCache] = []
    any_full = False
    rows: dict[tuple[str, int], int] = {}  # row_bytes per (type, values): layers repeat a few sizes

    def row(t: str, n: int) -> int:
        b = rows.get((t, n))
        if b is None:
            b = rows[(t, n)] = row_bytes(t, n)
        return b

    for il in range(arch.n_layer):
        k = v = rr = ss = 0
        kinds: list[str] = []
        cells = 0
        if has_kv(arch, il):
            swa = arch.is_swa(il)
            cells = n_swa_cells if swa else r.n_ctx_seq
            any_full |= not swa
            kinds.append("swa" if swa else "full")
            k = r.n_stream * cells * row(cfg.type_k, k_row(arch, il))
            vr = v_row(arch, il)
            if vr:
                v = r.n_stream * cells * row(cfg.type_v, v_max if v_trans else vr)
        if has_recurrent_state(arch, il):
            kinds.append("recurrent")
            rr = rs_rows * n_r * 4
            ss = rs_rows * n_s * 4
            cells = cells or rs_rows
        layers.append(LayerCache(il, "+".join(kinds) or "none", cells, k, v, rr, ss))
    return CacheEstimate(tuple(layers), r.n_ctx_seq if any_full else 0, n_swa_cells, r.n_stream)


def kv_cache_bytes(arch: Architecture, n_tokens: int, type_k: str = "f16", type_v: str = "f16",
                   n_parallel: int = 1, swa_full: bool = False) -> int:
    """K+V (+ recurrent state) bytes llama.cpp allocates for a context of ``n_tokens``.

    Uses llama-server's defaults otherwise (flash attention on, n_ubatch 512), including the
    padding of the context to 256 cells; 0 tokens -> 0 bytes.
    """
    from .config import resolve

    if n_tokens <= 0:
        return 0
    cfg = RunConfig(n_ctx=int(n_tokens), type_k=type_k, type_v=type_v, n_parallel=n_parallel, swa_full=swa_full)
    return cache_estimate(arch, cfg, resolve(cfg, arch.n_layer)).total
