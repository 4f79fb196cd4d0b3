"""How a model is run: the llama.cpp context and model parameters that decide its memory.

:class:`RunConfig` mirrors the knobs of ``llama-server`` / ``llama-cli`` (``-c``, ``-b``, ``-ub``,
``-ctk``, ``-ctv``, ``-fa``, ``-np``, ``--kv-unified``, ``-ngl``, ``-sm``, ``-ts``, ``-mg``,
``--no-mmap``, ``-nkvo``, ``--swa-full``, ``-t``) with the same defaults, so an estimate made with
the defaults describes what a user gets when they type ``llama-server -m model.gguf -c N``.

:func:`resolve` turns a config into the numbers llama.cpp itself derives from it (source:
llama.cpp ``src/llama-context.cpp``, constructor of ``llama_context``, Oct 2026):

* ``n_ctx`` is padded up to a multiple of 256 (``GGML_PAD(n_ctx, 256)``);
* without a unified KV buffer every sequence gets its own stream of
  ``n_ctx_seq = PAD(n_ctx / n_seq_max, 256)`` cells, and ``n_ctx`` is rounded to
  ``n_ctx_seq * n_seq_max``; with ``kv_unified`` one stream of ``n_ctx`` cells is shared;
* ``n_batch = min(n_ctx, n_batch)`` for causal models, ``n_ubatch = min(n_batch, n_ubatch)``;
* a quantized V cache needs flash attention (llama.cpp refuses the context otherwise);
* the worst-case graph holds logits for ``min(T, n_outputs_max)`` tokens, and llama-server sets
  n_outputs_max to its number of slots while the library default is n_batch - on a 262k-vocab
  model that is the difference between a 1 MiB and a 512 MiB compute buffer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import SizeupError

# KV cache types llama.cpp accepts for -ctk/-ctv (common/arg.cpp ``kv_cache_types``).
KV_CACHE_TYPES: tuple[str, ...] = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")
QUANTIZED_KV_TYPES = frozenset({"q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1"})
SPLIT_MODES = ("layer", "row", "none")
FLASH_ATTN_VALUES = (True, False, "auto")
CTX_PAD = 256  # llama-context.cpp: cparams.n_ctx = GGML_PAD(cparams.n_ctx, 256)
MAX_CTX = 1 << 26  # 64M tokens: far above any model; bounds arithmetic on absurd input
MAX_PARALLEL = 256  # LLAMA_MAX_SEQ (src/llama-cparams.h)
MAX_BATCH = 1 << 20


def _pad(x: int, n: int) -> int:
    return (x + n - 1) // n * n


def normalize_kv_type(name: str) -> str:
    """"Q8_0" / "q8_0" -> "q8_0"; SizeupError for types llama.cpp does not accept for the cache."""
    t = str(name).strip().lower()
    if t not in KV_CACHE_TYPES:
        raise SizeupError(f"unknown KV cache type '{name}' (llama.cpp accepts: {', '.join(KV_CACHE_TYPES)})")
    return t


def parse_flash_attn(value: str | bool) -> bool | str:
    """"on"/"off"/"auto" (as llama.cpp's -fa takes them) or a bool -> True/False/"auto"."""
    if isinstance(value, bool):
        return value
    v = str(value).strip().lower()
    if v in ("on", "1", "true", "yes", "enabled"):
        return True
    if v in ("off", "0", "false", "no", "disabled"):
        return False
    if v == "auto":
        return "auto"
    raise SizeupError(f"flash attention must be on, off or auto, not '{value}'")


@dataclass(frozen=True)
class RunConfig:
    """The run parameters that decide memory, with llama-server's defaults."""

    n_ctx: int
    n_batch: int = 2048
    n_ubatch: int = 512
    type_k: str = "f16"
    type_v: str = "f16"
    flash_attn: bool | str = "auto"  # llama.cpp default: auto = on where the backend supports it
    n_parallel: int = 1  # n_seq_max (llama-server -np)
    kv_unified: bool = False
    n_gpu_layers: int = -1  # -1 = all layers + output (llama.cpp's default since 2025)
    split_mode: str = "layer"
    tensor_split: tuple[float, ...] = ()
    main_gpu: int = 0
    use_mmap: bool = True
    # --repack / --no-repack: let the CPU backend repack weights into interleaved layouts
    # (llama_model_params.use_extra_bufts, default on); see sizeup.estimate.repack.
    repack: bool = True
    offload_kqv: bool = True
    swa_full: bool = False
    n_threads: int | None = None
    # Rows of logits one micro-batch may produce; sizes the compute buffer's logits tensor.
    # None = llama-server's choice (one per parallel sequence: min(n_batch, n_parallel), tools/
    # server server_n_outputs_max without speculative decoding); 0 = llama.cpp's library default
    # n_batch (llama-cli, llama-bench, llama-cpp-python); N = explicit.
    n_outputs_max: int | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Normalize spellings once so every consumer compares canonical values.
        object.__setattr__(self, "type_k", normalize_kv_type(self.type_k))
        object.__setattr__(self, "type_v", normalize_kv_type(self.type_v))
        object.__setattr__(self, "flash_attn", parse_flash_attn(self.flash_attn))
        object.__setattr__(self, "tensor_split", tuple(float(x) for x in self.tensor_split))
        self._check()

    def _check(self) -> None:
        if not isinstance(self.n_ctx, int) or self.n_ctx <= 0:
            raise SizeupError(f"context length must be a positive number of tokens, not {self.n_ctx}")
        if self.n_ctx > MAX_CTX:
            raise SizeupError(f"context length {self.n_ctx} is beyond any model (limit {MAX_CTX})")
        for name in ("n_batch", "n_ubatch"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0 or v > MAX_BATCH:
                raise SizeupError(f"{name} must be between 1 and {MAX_BATCH}, not {v}")
        if not isinstance(self.n_parallel, int) or not 1 <= self.n_parallel <= MAX_PARALLEL:
            raise SizeupError(f"parallel sequences must be between 1 and {MAX_PARALLEL}, not {self.n_parallel}")
        if not isinstance(self.n_gpu_layers, int) or self.n_gpu_layers < -1:
            raise SizeupError(f"GPU layers must be -1 (all) or a count >= 0, not {self.n_gpu_layers}")
        if self.split_mode not in SPLIT_MODES:
            raise SizeupError(f"split mode must be one of {', '.join(SPLIT_MODES)}, not '{self.split_mode}'")
        if any(x < 0 for x in self.tensor_split):
            raise SizeupError("tensor split proportions must be >= 0")
        if self.main_gpu < 0:
            raise SizeupError(f"main GPU index must be >= 0, not {self.main_gpu}")
        if self.n_outputs_max is not None and not 0 <= self.n_outputs_max <= MAX_BATCH:
            raise SizeupError(f"n_outputs_max must be between 0 and {MAX_BATCH}, not {self.n_outputs_max}")
        if self.n_threads is not None and self.n_threads <= 0:
            raise SizeupError(f"threads must be positive, not {self.n_threads}")
        if self.flash_attn is False and self.type_v in QUANTIZED_KV_TYPES:
            raise SizeupError(
                f"a quantized V cache ({self.type_v}) needs flash attention; llama.cpp refuses it with -fa off"
            )

    def with_(self, **changes) -> "RunConfig":
        return replace(self, **changes)

    def check_for(self, n_layer: int) -> None:
        """Model-dependent checks: -ngl above layers + 1 is almost always a typo here."""
        if self.n_gpu_layers > n_layer + 1:
            raise SizeupError(
                f"--ngl {self.n_gpu_layers} is more than the model has: {n_layer} layers + 1 output layer"
            )


@dataclass(frozen=True)
class Resolved:
    """The sizes llama.cpp derives from a :class:`RunConfig` (see module docstring)."""

    n_ctx: int  # padded, total cells over all streams
    n_ctx_seq: int  # cells per stream
    n_stream: int  # 1 when unified, else n_seq_max
    n_seq_max: int
    n_batch: int
    n_ubatch: int
    flash_attn: bool
    n_gpu_layers: int  # resolved count, 0..n_layer+1
    n_outputs_max: int = 0  # logits rows per micro-batch (see RunConfig.n_outputs_max)


def resolve(cfg: RunConfig, n_layer: int, has_gpu: bool = False, causal: bool = True) -> Resolved:
    """Apply llama.cpp's own padding and clamping rules to ``cfg`` for a model of ``n_layer`` layers.

    ``flash_attn="auto"`` resolves to on: llama.cpp probes the backend, and every backend that
    ships in 2026 (CPU, CUDA, Metal, Vulkan, ROCm) implements FLASH_ATTN_EXT for the common head
    sizes, so the probe succeeds for mainstream models.
    """
    cfg.check_for(n_layer)
    n_seq = cfg.n_parallel
    n_ctx = _pad(cfg.n_ctx, CTX_PAD)
    if cfg.kv_unified:
        n_ctx_seq = n_ctx
        n_stream = 1
    else:
        n_ctx_seq = _pad(n_ctx // n_seq, CTX_PAD)
        if n_ctx_seq == 0:
            raise SizeupError(f"context {cfg.n_ctx} is too small for {n_seq} parallel sequences")
        n_ctx = n_ctx_seq * n_seq
        n_stream = n_seq
    n_batch = min(n_ctx, cfg.n_batch) if causal else cfg.n_batch
    n_ubatch = min(n_batch, cfg.n_ubatch)
    fa = True if cfg.flash_attn == "auto" else bool(cfg.flash_attn)
    ngl = n_layer + 1 if cfg.n_gpu_layers < 0 else cfg.n_gpu_layers
    if not has_gpu:
        ngl = 0
    return Resolved(n_ctx=n_ctx, n_ctx_seq=n_ctx_seq, n_stream=n_stream, n_seq_max=n_seq, n_batch=n_batch,
                    n_ubatch=n_ubatch, flash_attn=fa, n_gpu_layers=min(ngl, n_layer + 1),
                    n_outputs_max=outputs_max(cfg, n_batch))


def outputs_max(cfg: RunConfig, n_batch: int) -> int:
    """llama_context's n_outputs_max for this config (see RunConfig.n_outputs_max)."""
    if cfg.n_outputs_max is None:
        return min(n_batch, cfg.n_parallel)
    return n_batch if cfg.n_outputs_max == 0 else cfg.n_outputs_max
