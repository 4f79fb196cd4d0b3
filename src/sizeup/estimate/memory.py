"""The llama.cpp memory model: how much RAM and VRAM a model needs with a given run config.

``estimate_memory(model, cfg, devices)`` returns per-device weights / KV / recurrent state /
compute / output / overhead, the way llama.cpp allocates them (see :mod:`.placement`,
:mod:`.kv_cache`, :mod:`.buffers` for the rules and their sources). It is a pure function of the
model description, the config and plain device numbers, so it runs in microseconds and is
validated against llama.cpp's own figures (``sizeup.llamacpp.simulate``,
``benchmarks/memory_validation.py``).

Two views of host memory are reported, because they answer different questions:

* ``total`` per device: what llama.cpp reserves (its buffer sizes + fixed overhead). This is the
  figure to compare with free memory before loading.
* ``rss``: what the process is expected to hold resident after processing a prompt: mmap'd
  weights count once touched (all of them, after the first token), compute scratch only as far as
  a prompt with ``n_seq_max`` outputs touches it (the logits rows for every token of a micro-batch
  are reserved but not touched unless every token's logits are requested). ``weights_mapped``
  says how much of the host's weights are file-backed page cache (reclaimable, shared between
  processes that map the same file) rather than anonymous memory.

On the CPU llama.cpp repacks some weights into interleaved copies (:mod:`.repack`). With mmap
their original pages were read through the mapping too, so ``rss`` (the peak, what ``top`` and
the OOM killer see) counts those bytes twice, while ``working_set`` (what must stay resident to
run without re-reading the file) counts them once.

``llama_fit`` per device is llama.cpp's own reservation as ``llama-fit-params --fit-print on``
prints it (``common_fit_print``: ``llama_get_memory_breakdown`` summed per device, host buffer
types into "Host"): ``model`` = weights in that device's buffers (on the host only *host* buffer
types count, so CPU_REPACK weights are left out, as llama.cpp does), ``context`` = KV cache +
recurrent state (the output buffer is not part of the breakdown), ``compute`` = the scheduler's
reserved compute buffer for a worst-case micro-batch whose logits rows are ``n_outputs_max``
(llama.cpp's library default n_batch unless the config says otherwise).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import SizeupError
from ..model import Architecture, ModelDescription, TensorInfo
from . import buffers
from .config import Resolved, RunConfig, outputs_max, resolve
from .kv_cache import CacheEstimate, cache_estimate
from .placement import (CPU, Device, Placement, devices_from_hardware, is_input_tensor, place_layers, tensor_layer,
                        weights_by_device)
from .repack import BuildFeatures, features_from_cpu, host_figures, plan_repack


@dataclass
class DeviceMemory:
    name: str
    kind: str  # cpu | gpu
    weights: int = 0
    weights_mapped: int = 0  # of ``weights``: file-backed (mmap) pages
    weights_repacked: int = 0  # of ``weights``: copied into CPU_REPACK buffers (anonymous memory)
    kv: int = 0
    recurrent: int = 0
    compute: int = 0
    output: int = 0
    overhead: int = 0
    free: int | None = None
    layers: int = 0  # repeating layers placed here (+ output counted separately)
    has_output: bool = False
    llama_fit: dict[str, int] = field(default_factory=dict)  # llama-fit-params' model/context/compute

    @property
    def total(self) -> int:
        return self.weights + self.kv + self.recurrent + self.compute + self.output + self.overhead

    @property
    def fits(self) -> bool | None:
        return None if self.free is None else self.total <= self.free

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["total"] = self.total
        d["fits"] = self.fits
        return d


@dataclass
class MemoryEstimate:
    model: str
    config: RunConfig
    resolved: Resolved
    devices: list[DeviceMemory]
    cache: CacheEstimate
    placement: Placement
    rss: int  # expected peak resident host memory after a prompt (see module docstring)
    compute_dominant: str
    notes: list[str] = field(default_factory=list)
    working_set: int = 0  # host memory that must stay resident (repacked originals not counted)
    build: str = ""  # where the CPU build features came from: "llama.cpp" | "cpu" | ""

    def _sum(self, key: str) -> int:
        return sum(getattr(d, key) for d in self.devices)

    @property
    def weights(self) -> int:
        return self._sum("weights")

    @property
    def kv(self) -> int:
        return self._sum("kv")

    @property
    def recurrent(self) -> int:
        return self._sum("recurrent")

    @property
    def compute(self) -> int:
        return self._sum("compute")

    @property
    def output(self) -> int:
        return self._sum("output")

    @property
    def overhead(self) -> int:
        return self._sum("overhead")

    @property
    def total(self) -> int:
        return sum(d.total for d in self.devices)

    @property
    def llama_total(self) -> int:
        """The part llama.cpp itself reports (buffers only, no process/driver overhead)."""
        return self.total - self.overhead

    @property
    def host(self) -> DeviceMemory:
        return self.devices[0]

    @property
    def gpus(self) -> list[DeviceMemory]:
        return [d for d in self.devices if d.kind == "gpu"]

    @property
    def fits(self) -> bool | None:
        flags = [d.fits for d in self.devices]
        if any(f is False for f in flags):
            return False
        return None if all(f is None for f in flags) else True

    def to_dict(self) -> dict[str, Any]:
        r = self.resolved
        return {
            "model": self.model,
            "config": {k: v for k, v in asdict(self.config).items() if k != "extra"},
            "resolved": asdict(r),
            "devices": [d.to_dict() for d in self.devices],
            "totals": {"weights": self.weights, "kv": self.kv, "recurrent": self.recurrent, "compute": self.compute,
                       "output": self.output, "overhead": self.overhead, "total": self.total,
                       "llama_reported": self.llama_total, "rss": self.rss, "peak_rss": self.rss,
                       "working_set": self.working_set, "repacked": self._sum("weights_repacked")},
            "kv_cache": {"cells_full": self.cache.cells_full, "cells_swa": self.cache.cells_swa,
                         "n_stream": self.cache.n_stream, "k_bytes": self.cache.k_bytes,
                         "v_bytes": self.cache.v_bytes, "recurrent_bytes": self.cache.recurrent_bytes},
            "layers_on_gpu": self.placement.n_offloaded,
            "cpu_build_features": self.build,
            "compute_dominant": self.compute_dominant,
            "fits": self.fits,
            "notes": list(self.notes),
        }


def _holding_data(tensors: list[TensorInfo]) -> list[TensorInfo]:
    """Tensors with at least one element: an empty one holds no memory and costs no compute, and a
    hostile file may list a million of them (every estimate walks the list several times)."""
    return tensors if all(t.n_elements for t in tensors) else [t for t in tensors if t.n_elements]


def model_tensors(model: ModelDescription, ftype: str | None = None) -> list[TensorInfo]:
    """The model's tensors: exact from its file, else predicted from its architecture for ``ftype``."""
    if model.tensors and (ftype is None or (model.quant and model.quant.label == ftype and model.source == "gguf")):
        return _holding_data(model.tensors)
    if model.arch is None:
        raise SizeupError(f"{model.name}: no architecture known, cannot estimate memory")
    try:
        from .weights_predict import predict_tensors, requantized_tensors
    except ImportError:
        raise SizeupError(f"{model.name}: no tensor list and no weight predictor available") from None
    label = ftype or (model.quant.label if model.quant and model.quant.label else "Q4_K_M")
    if model.tensors and model.source == "gguf":
        # the same file re-quantized: keeps its exact tensor set and shapes
        return requantized_tensors(_holding_data(model.tensors), model.arch, label)
    return predict_tensors(model.arch, label)


def _arch(model: ModelDescription) -> Architecture:
    if model.arch is None:
        raise SizeupError(f"{model.name}: architecture unknown (not a transformer sizeup can size)")
    return model.arch


def estimate_memory(model: ModelDescription, cfg: RunConfig, devices: list[Device] | None = None,
                    hardware: Any = None, tensors: list[TensorInfo] | None = None,
                    ftype: str | None = None, n_tokens_used: int | None = None,
                    build: BuildFeatures | None = None, buffers_only: bool = False) -> MemoryEstimate:
    """Per-device memory for running ``model`` in llama.cpp with ``cfg``.

    ``devices``: CPU first, then GPUs (see :class:`~.placement.Device`); default from ``hardware``
    when given, else a CPU-only machine of unknown size. ``tensors`` overrides the model's own
    list (e.g. a predicted quant mix); ``ftype`` asks for the predicted mix of that quant type.
    ``n_tokens_used``: tokens actually in the cache when ``rss`` is taken (default: a full
    context, the worst case); llama.cpp sizes masks and KQ by the used cells rounded up to 256.
    ``build``: the CPU features the llama.cpp build was compiled with (decides which weights are
    repacked); default: a build tuned for ``hardware``'s CPU, else no repack is modelled.
    ``buffers_only``: stop once every device's buffers are known (what a ranking's plan search
    reads, :mod:`.plan`); peak RSS, working set, ``llama_fit`` and notes are then left empty.
    """
    arch = _arch(model)
    if devices is None:
        devices = devices_from_hardware(hardware) if hardware is not None else [Device("CPU", "cpu")]
    if not devices or devices[0].kind != "cpu":
        raise SizeupError("device list must start with the CPU")
    gpus = [d for d in devices[1:] if d.kind == "gpu"]
    r = resolve(cfg, arch.n_layer, has_gpu=bool(gpus))
    if arch.name == "grok" and r.flash_attn:  # llama_init_from_model forces FA off for Grok
        r = replace(r, flash_attn=False)
    ts = tensors if tensors is not None else model_tensors(model, ftype)
    cache = cache_estimate(arch, cfg, r)
    placement = place_layers(arch.n_layer, r.n_gpu_layers, [g.free for g in gpus], cfg.tensor_split,
                             cfg.split_mode, cfg.main_gpu)
    notes: list[str] = []

    mem = [DeviceMemory(d.name, d.kind, free=d.free) for d in [devices[0], *gpus]]

    def slot(dev: int) -> DeviceMemory:
        return mem[0] if dev == CPU else mem[1 + dev]

    # weights
    for dev, b in weights_by_device(ts, placement, arch.n_layer).items():
        slot(dev).weights += b
    if build is None and hardware is not None and getattr(getattr(hardware, "cpu", None), "features", None):
        build = features_from_cpu(hardware.cpu.features)
    # repack: only CPU-placed weights, only in a CPU-only run (a GPU build's pinned host buffer
    # type comes before the CPU extra buffer types, so CPU layers are not repacked there)
    if cfg.repack and build is not None and not (gpus and placement.n_offloaded):
        mem[0].weights_repacked = plan_repack(cpu_tensors(ts, placement, arch.n_layer), build).bytes
    if cfg.use_mmap:
        mem[0].weights_mapped = mem[0].weights - mem[0].weights_repacked
    for il, dev in enumerate(placement.layer_device):
        slot(dev).layers += 1
    slot(placement.output_device).has_output = True

    # KV cache and recurrent state: on the layer's device with offload_kqv, else on the host
    for lc in cache.layers:
        dev = placement.layer_device[lc.il] if cfg.offload_kqv else CPU
        slot(dev).kv += lc.k_bytes + lc.v_bytes
        slot(dev).recurrent += lc.r_bytes + lc.s_bytes

    # output buffer: host memory (pinned host buffer of the output device when offloaded)
    mem[0].output = buffers.output_buffer_bytes(arch.n_vocab, r.n_seq_max)

    # compute buffers, per backend
    dominant = "output"
    by_dev: dict[int, list[int]] = {}
    for il, dev in enumerate(placement.layer_device):
        by_dev.setdefault(dev, []).append(il)
    for dev, layers in by_dev.items():
        ph = buffers.compute_phases(arch, cache, r, layers=layers, with_output=(placement.output_device == dev))
        slot(dev).compute = max(slot(dev).compute, ph.peak)
        if dev == placement.output_device:
            dominant = ph.dominant
    if placement.output_device not in by_dev:
        ph = buffers.compute_phases(arch, cache, r, layers=[])
        slot(placement.output_device).compute = ph.peak
        dominant = ph.dominant
    if gpus and placement.n_offloaded:
        host_extra = buffers.host_compute_bytes_offloaded(arch, cache, r)
        if CPU not in by_dev:
            mem[0].compute = host_extra
        notes.append("GPU compute buffers are modelled from the CPU fit, not measured on a GPU build")
    if gpus and placement.n_offloaded and not cfg.offload_kqv:
        notes.append("--no-kv-offload keeps the KV cache in RAM; attention then runs on the CPU")

    # overhead: process + vocabulary on the host; driver context on each GPU in use
    mem[0].overhead = buffers.runtime_overhead_bytes(arch.n_vocab)
    used = {d for d in placement.layer_device if d != CPU} | ({placement.output_device} - {CPU})
    for g in used:
        slot(g).overhead += buffers.GPU_CONTEXT_BYTES

    if buffers_only:
        return MemoryEstimate(model.name, cfg, r, mem, cache, placement, 0, dominant, notes, working_set=0,
                              build=build.source if build else "")

    # resident host memory: logits rows only for n_seq_max outputs, masks only over used cells
    host_layers = by_dev.get(CPU, [])
    used_cache = cache if n_tokens_used is None else cap_cells(cache, n_tokens_used)
    touched = buffers.compute_phases(arch, used_cache, r, n_outputs=r.n_seq_max, layers=host_layers,
                                     with_output=placement.output_device == CPU).peak
    if gpus and placement.n_offloaded and CPU not in by_dev:
        touched = mem[0].compute
    h = mem[0]
    resident = h.weights + h.kv + h.recurrent + h.output + h.overhead + min(touched, h.compute)
    hf = host_figures(resident, h.weights_repacked, cfg.use_mmap)
    rss = hf.peak_rss
    if hf.mapped_duplicate:
        notes.append(f"llama.cpp repacks {h.weights_repacked / 2**30:.2f} GiB of weights for this CPU; with mmap their "
                     "file pages stay mapped too, so peak RSS exceeds the working set by that much "
                     "(--no-mmap or --no-repack avoid it)")

    # llama.cpp's own reservation (llama-fit-params --fit-print on)
    cfg_fit = cfg if cfg.n_outputs_max is not None else cfg.with_(n_outputs_max=0)
    r_fit = replace(r, n_outputs_max=outputs_max(cfg_fit, r.n_batch))
    fit_compute = {i: 0 for i in range(len(mem))}
    for dev, layers in by_dev.items():
        ph = buffers.compute_phases(arch, cache, r_fit, layers=layers, with_output=(placement.output_device == dev))
        k = 0 if dev == CPU else 1 + dev
        fit_compute[k] = max(fit_compute[k], ph.peak)
    if placement.output_device not in by_dev:
        k = 0 if placement.output_device == CPU else 1 + placement.output_device
        fit_compute[k] = buffers.compute_phases(arch, cache, r_fit, layers=[]).peak
    if gpus and placement.n_offloaded and CPU not in by_dev:
        fit_compute[0] = mem[0].compute
    for i, d in enumerate(mem):
        d.llama_fit = {"model": d.weights - d.weights_repacked, "context": d.kv + d.recurrent,
                       "compute": fit_compute[i]}

    if any(lc.kind == "swa" for lc in cache.layers) and not cfg.swa_full:
        notes.append(f"sliding-window layers keep {cache.cells_swa} cells (window {arch.swa_window}); "
                     "--swa-full would keep the whole context")
    if cfg.n_ctx > arch.n_ctx_train > 0:
        notes.append(f"context {cfg.n_ctx} exceeds the model's trained {arch.n_ctx_train}; quality degrades without RoPE scaling")
    if r.n_ctx != cfg.n_ctx:
        notes.append(f"llama.cpp rounds the context to {r.n_ctx} cells ({r.n_stream} stream(s) of {r.n_ctx_seq})")
    if any(lc.kind.startswith("recurrent") or "recurrent" in lc.kind for lc in cache.layers):
        notes.append("recurrent layers keep a fixed F32 state per sequence, independent of context length")
    for d in mem:
        if d.fits is False:
            notes.append(f"{d.name}: needs {d.total / 2**30:.2f} GiB but only {d.free / 2**30:.2f} GiB is free")
    return MemoryEstimate(model.name, cfg, r, mem, cache, placement, rss, dominant, notes,
                          working_set=hf.working_set, build=build.source if build else "")


def cpu_tensors(tensors: list[TensorInfo], placement: Placement, n_layer: int) -> list[TensorInfo]:
    """The weights llama.cpp places on the CPU (input layer, CPU layers, the output when not offloaded)."""
    out = []
    for t in tensors:
        il = tensor_layer(t.name)
        if il is not None and il < n_layer:
            dev = placement.layer_device[il]
        elif is_input_tensor(t.name):
            dev = CPU
        else:
            dev = placement.output_device
        if dev == CPU:
            out.append(t)
    return out


def cap_cells(cache: CacheEstimate, n_used: int) -> CacheEstimate:
    """The cache as the graph sees it with ``n_used`` tokens stored: llama_kv_cache::get_n_kv pads
    the used cells to 256 and caps them at the cache size."""
    n = max(256, (max(1, n_used) + 255) // 256 * 256)
    layers = tuple(replace(lc, cells=min(lc.cells, n)) if "recurrent" not in lc.kind else lc for lc in cache.layers)
    return replace(cache, layers=layers, cells_full=min(cache.cells_full, n), cells_swa=min(cache.cells_swa, n))


# --- searches --------------------------------------------------------------------------------

def max_context(model: ModelDescription, cfg: RunConfig, budget: int, devices: list[Device] | None = None,
                limit: int | None = None, tensors: list[TensorInfo] | None = None) -> int:
    """Largest context (a multiple of 256, as llama.cpp pads it) whose host+GPU totals fit.

    ``budget`` bounds the host (device 0) when ``devices`` is None; otherwise each device's
    ``free`` bounds it. Returns 0 when not even 256 tokens fit. Binary search: memory grows
    monotonically with context.
    """
    arch = _arch(model)
    ts = tensors if tensors is not None else model_tensors(model)
    hi_cap = limit or max(arch.n_ctx_train, 256)

    def ok(n: int) -> bool:
        est = estimate_memory(model, cfg.with_(n_ctx=n), devices, tensors=ts)
        if devices is None:
            return est.total <= budget
        return all(d.free is None or d.total <= d.free for d in est.devices)

    step = 256
    lo, hi = 0, hi_cap // step
    if not ok(step):
        return 0
    lo = 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid * step):
            lo = mid
        else:
            hi = mid - 1
    return lo * step


def max_gpu_layers(model: ModelDescription, cfg: RunConfig, vram: int | list[int],
                   host_free: int | None = None, tensors: list[TensorInfo] | None = None) -> int:
    """Largest ``-ngl`` (0..n_layer+1) whose per-GPU totals fit in ``vram`` (one int per GPU)."""
    arch = _arch(model)
    ts = tensors if tensors is not None else model_tensors(model)
    vr = [vram] if isinstance(vram, int) else list(vram)
    devs = [Device("CPU", "cpu", host_free)] + [Device(f"GPU{i}", "gpu", v, v) for i, v in enumerate(vr)]

    def ok(n: int) -> bool:
        est = estimate_memory(model, cfg.with_(n_gpu_layers=n), devs, tensors=ts)
        return all(g.total <= g.free for g in est.gpus if g.free is not None)

    best = 0
    lo, hi = 0, arch.n_layer + 1
    while lo <= hi:  # monotone: more layers, more VRAM
        mid = (lo + hi) // 2
        if mid == 0 or ok(mid):
            best = mid
            lo = mid + 1
        else:
            hi = mid - 1
    return best
