"""Benchmark configurations and sweeps, the way llama-bench takes them.

Every option that may vary takes a comma list (``--fa on,off --ngl 0,99``) and the run covers
the cartesian product, one configuration per row, in the order llama-bench uses (later options
vary fastest). Values are checked here, before anything loads, so a typo costs nothing: each
problem is one :class:`~sizeup.errors.SizeupError` line.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ..errors import SizeupError

# Bounds: far above any sensible benchmark, low enough that a typo cannot queue a week of work.
MAX_CONFIGS = 256
MAX_TOKENS = 1 << 20  # -p / -n / -d per configuration
MAX_REPS = 1000
MAX_THREADS = 4096
MAX_LIST_ITEMS = 64
DEFAULT_TIMEOUT_S = 1800.0

FA_VALUES = {"on": True, "off": False, "auto": "auto"}


@dataclass(frozen=True)
class BenchConfig:
    """One row of a sweep: everything the worker needs besides the model path."""

    n_prompt: int = 512
    n_gen: int = 128
    n_depth: int = 0
    reps: int = 5
    n_threads: int = 2
    n_ctx: int = 4096
    n_batch: int = 2048
    n_ubatch: int = 512
    type_k: str = "f16"
    type_v: str = "f16"
    flash_attn: bool | str = "auto"
    n_gpu_layers: int = 0
    use_mmap: bool = True
    cold: bool = False  # drop the file from the page cache before loading (posix_fadvise)
    warmup: bool = True
    seed: int = 42  # token ids are pseudo-random like llama-bench's std::rand(), but reproducible
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BenchConfig":
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        unknown = set(d) - known
        if unknown:
            raise SizeupError(f"unknown benchmark setting(s): {', '.join(sorted(unknown))}")
        c = cls(**{k: d[k] for k in d if k in known})
        c.check()
        return c

    def check(self) -> None:
        for name, lo, hi in (("n_prompt", 0, MAX_TOKENS), ("n_gen", 0, MAX_TOKENS), ("n_depth", 0, MAX_TOKENS),
                             ("reps", 1, MAX_REPS), ("n_threads", 1, MAX_THREADS), ("n_ctx", 1, 1 << 26),
                             ("n_batch", 1, MAX_TOKENS), ("n_ubatch", 1, MAX_TOKENS), ("n_gpu_layers", -1, 100_000)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise SizeupError(f"{_FLAG[name]} must be a whole number from {lo} to {hi}, not {v!r}")
        if self.n_prompt == 0 and self.n_gen == 0:
            raise SizeupError("nothing to measure: -p and -n are both 0")
        if self.n_depth + self.n_prompt + self.n_gen + 1 > self.n_ctx:
            raise SizeupError(
                f"--ctx {self.n_ctx} is too small for depth {self.n_depth} + prompt {self.n_prompt} + "
                f"{self.n_gen} generated tokens")
        if self.n_ubatch > self.n_batch:
            raise SizeupError(f"--ubatch {self.n_ubatch} is larger than --batch {self.n_batch}")
        # KV type and flash-attention rules are llama.cpp's; RunConfig enforces them in one place.
        self.run_config()

    def run_config(self):
        """The memory estimator's view of this configuration."""
        from ..estimate.config import RunConfig

        return RunConfig(n_ctx=self.n_ctx, n_batch=self.n_batch, n_ubatch=self.n_ubatch, type_k=self.type_k,
                         type_v=self.type_v, flash_attn=self.flash_attn, n_gpu_layers=self.n_gpu_layers,
                         use_mmap=self.use_mmap, n_threads=self.n_threads)

    def label(self) -> str:
        """Short row label in llama-bench's spirit: the settings that matter for speed."""
        fa = {True: "on", False: "off"}.get(self.flash_attn, str(self.flash_attn))  # type: ignore[arg-type]
        kv = self.type_k if self.type_k == self.type_v else f"{self.type_k}/{self.type_v}"
        return f"t={self.n_threads} ngl={self.n_gpu_layers} fa={fa} kv={kv} b={self.n_batch}/{self.n_ubatch}"


_SHORT = {"n_threads": "t", "n_gpu_layers": "ngl", "flash_attn": "fa", "type_k": "kv", "n_ctx": "ctx",
          "n_batch": "b", "n_ubatch": "ub", "n_prompt": "p", "n_gen": "n", "n_depth": "d"}


def varying_labels(configs: list[BenchConfig]) -> list[str]:
    """Per configuration, only the settings that differ across the sweep ("fa=on kv=q8_0"),
    so a table shows what changes; the full settings are in JSON and the history."""
    keys = [k for k in _SHORT if len({str(getattr(c, k)) for c in configs}) > 1]
    out = []
    for c in configs:
        parts = []
        for k in keys:
            v = getattr(c, k)
            if k == "flash_attn":
                v = {True: "on", False: "off"}.get(v, v)
            parts.append(f"{_SHORT[k]}={v}")
        out.append(" ".join(parts) or f"t={c.n_threads} ngl={c.n_gpu_layers}")
    return out


_FLAG = {"n_prompt": "-p", "n_gen": "-n", "n_depth": "-d", "reps": "-r", "n_threads": "-t", "n_ctx": "--ctx",
         "n_batch": "--batch", "n_ubatch": "--ubatch", "n_gpu_layers": "--ngl"}


def parse_list(text: str | int | None, conv: Callable[[str], Any], flag: str) -> list[Any]:
    """``"512,1024"`` -> ``[512, 1024]`` with ``conv`` per item; one clear error for bad items."""
    if text is None:
        return []
    if isinstance(text, int):
        return [text]
    items = [s.strip() for s in str(text).split(",")]
    if not items or any(not s for s in items):
        raise SizeupError(f"{flag} takes a comma-separated list without empty items, not '{text}'")
    if len(items) > MAX_LIST_ITEMS:
        raise SizeupError(f"{flag} lists {len(items)} values; at most {MAX_LIST_ITEMS}")
    out = []
    for s in items:
        try:
            out.append(conv(s))
        except SizeupError:
            raise
        except (ValueError, TypeError):
            raise SizeupError(f"{flag}: '{s}' is not a valid value") from None
    return list(dict.fromkeys(out))  # duplicates would only repeat a row


def to_int(s: str) -> int:
    from ..units import parse_count

    try:
        return parse_count(s)
    except SizeupError:
        raise ValueError(s) from None


def to_fa(s: str) -> bool | str:
    v = s.strip().lower()
    if v in ("1", "true", "yes"):
        v = "on"
    if v in ("0", "false", "no"):
        v = "off"
    if v not in FA_VALUES:
        raise ValueError(s)
    return FA_VALUES[v]


def to_kv(s: str) -> str:
    from ..estimate.config import normalize_kv_type

    return normalize_kv_type(s)


# (BenchConfig field, CLI flag, converter). Order = sweep nesting order, last varies fastest.
SWEEP_FIELDS: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("n_gpu_layers", "--ngl", int),
    ("n_threads", "-t", to_int),
    ("type_k", "--kv-type", to_kv),
    ("flash_attn", "--fa", to_fa),
    ("n_ctx", "--ctx", to_int),
    ("n_batch", "--batch", to_int),
    ("n_ubatch", "--ubatch", to_int),
    ("n_prompt", "-p", to_int),
    ("n_gen", "-n", to_int),
    ("n_depth", "-d", to_int),
)


def expand_sweep(lists: dict[str, str | int | None], base: BenchConfig | None = None
                 ) -> tuple[list[BenchConfig], list[tuple[dict[str, Any], str]]]:
    """The cartesian product of the comma lists in ``lists`` (keys: BenchConfig field names).

    A missing or None entry keeps ``base``'s value. ``type_k`` sets both K and V cache types
    (``--kv-type`` like sizeup estimate). Every combination is checked; combinations that break a
    cross-field rule (a q8_0 V cache with ``--fa off``) are returned as ``(settings, reason)`` in
    the second list, so one impossible corner does not cancel a sweep. When no combination is
    valid, the first reason is raised.
    """
    base = base or BenchConfig()
    axes: list[tuple[str, list[Any]]] = []
    for name, flag, conv in SWEEP_FIELDS:
        vals = parse_list(lists.get(name), conv, flag)
        axes.append((name, vals or [getattr(base, name)]))
    n = 1
    for _, vals in axes:
        n *= len(vals)
    if n > MAX_CONFIGS:
        raise SizeupError(f"the sweep has {n} configurations; at most {MAX_CONFIGS} per run")
    out: list[BenchConfig] = []
    skipped: list[tuple[dict[str, Any], str]] = []
    for combo in itertools.product(*(vals for _, vals in axes)):
        d = base.to_dict()
        d.update(dict(zip((name for name, _ in axes), combo)))
        d["type_v"] = d["type_k"]
        try:
            out.append(BenchConfig.from_dict(d))
        except SizeupError as e:
            skipped.append((d, str(e)))
    if not out:
        raise SizeupError(skipped[0][1])
    return out, skipped
