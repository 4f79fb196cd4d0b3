"""Which layer lives on which device, as llama.cpp decides it, and which weights go with it.

Source: llama.cpp ``src/llama-model.cpp`` ``load_tensors`` (Oct 2026):

* The input layer (token embeddings) always stays on the CPU ("very little benefit to offloading
  the input layer").
* ``-ngl N`` offloads the *last* N of the ``n_layer + 1`` layers, where layer ``n_layer`` is the
  output layer: ``i_gpu_start = max(n_layer + 1 - N, 0)``. So ``-ngl 1`` offloads only the output
  head, and the first layers are the ones left on the CPU.
* Offloaded layers are spread over GPUs by cumulative split fractions: ``--tensor-split`` if given,
  otherwise each GPU's free memory. Layer ``il`` goes to the first GPU whose cumulative fraction
  exceeds ``(il - i_gpu_start) / n_offloaded``.
* ``--split-mode none`` uses only ``--main-gpu``. ``--split-mode row`` splits each matrix by rows
  across GPUs; we model it as weights spread by the split fractions with KV and compute on the
  main GPU (llama.cpp keeps non-matrix tensors, KV and compute there).
* A tied output head (no ``output.weight``) is a duplicate of ``token_embd`` created on the output
  layer's device, so offloading the output of a tied model costs the embedding again in VRAM.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from ..errors import SizeupError
from ..model import TensorInfo

CPU = -1  # device index of the host in placements

_BLK = re.compile(r"^blk\.(\d+)\.")
# Tensors of the input layer (llama.cpp creates them with the input device: always the CPU).
_INPUT_TENSORS = ("token_embd.", "token_embd_norm.", "position_embd.", "token_types.", "per_layer_token_embd.")


@dataclass(frozen=True)
class Device:
    """A memory pool the estimator can place things on. Sizes in bytes (None = unknown)."""

    name: str  # "CPU", "GPU0"...
    kind: str  # "cpu" | "gpu"
    free: int | None = None
    total: int | None = None
    unified: bool = False  # GPU sharing system RAM (Apple, APUs): counts against RAM too


def devices_from_hardware(hw) -> list[Device]:
    """CPU first, then GPUs, from a :class:`sizeup.hardware.model.Hardware` (duck-typed)."""
    out = [Device("CPU", "cpu", getattr(hw.memory, "available", None), getattr(hw.memory, "total", None))]
    # Numbered by position, not the vendor's index: a mixed NVIDIA + AMD box has two "index 0"s.
    for i, g in enumerate(getattr(hw, "gpus", ()) or ()):
        # Some drivers report only the total (Intel from the spec table, "[Not Supported]" fields).
        free = g.vram_free if g.vram_free is not None else g.vram_total
        out.append(Device(f"GPU{i}", "gpu", free, g.vram_total, bool(getattr(g, "unified", False))))
    return out


@dataclass(frozen=True)
class Placement:
    layer_device: tuple[int, ...]  # per repeating layer: CPU (-1) or GPU index
    output_device: int
    n_gpu: int  # GPUs in use
    row_split: tuple[float, ...] = ()  # fractions per GPU when split_mode == "row"

    @property
    def n_offloaded(self) -> int:
        return sum(1 for d in self.layer_device if d != CPU) + (self.output_device != CPU)


def split_points(fractions: list[float]) -> list[float]:
    total = sum(fractions)
    if total <= 0:
        raise SizeupError("tensor split proportions are all zero")
    acc, out = 0.0, []
    for f in fractions:
        acc += f
        out.append(acc / total)
    return out


def place_layers(n_layer: int, n_gpu_layers: int, gpu_free: list[int | None], tensor_split: tuple[float, ...] = (),
                 split_mode: str = "layer", main_gpu: int = 0) -> Placement:
    """Layer -> device, mirroring llama.cpp's ``get_layer_buft_list``. ``n_gpu_layers`` < 0 = all."""
    n_gpus = len(gpu_free)
    if n_gpus == 0 or n_gpu_layers == 0:
        return Placement((CPU,) * n_layer, CPU, 0)
    if split_mode in ("none", "row") and main_gpu >= n_gpus:
        raise SizeupError(f"--main-gpu {main_gpu} but only {n_gpus} GPU(s)")
    if split_mode == "none":
        gpus = [main_gpu]
        fractions = [1.0]
    else:
        gpus = list(range(n_gpus))
        if tensor_split and any(x > 0 for x in tensor_split):
            fractions = list(tensor_split[:n_gpus]) + [0.0] * (n_gpus - len(tensor_split))
        else:
            fractions = [float(f or 0) for f in gpu_free]
            if not any(fractions):
                fractions = [1.0] * n_gpus
    ngl = n_layer + 1 if n_gpu_layers < 0 else min(n_gpu_layers, n_layer + 1)
    row = ()
    if split_mode == "row":
        row = tuple(x / sum(fractions) for x in fractions)
        gpus, fractions = [main_gpu], [1.0]
    pts = split_points(fractions)
    i_start = max(n_layer + 1 - ngl, 0)

    def dev(il: int) -> int:
        if il < i_start or il - i_start >= ngl:
            return CPU
        k = bisect.bisect_right(pts, (il - i_start) / ngl)
        return gpus[min(k, len(gpus) - 1)]

    return Placement(tuple(dev(i) for i in range(n_layer)), dev(n_layer), n_gpus, row)


def tensor_layer(name: str) -> int | None:
    """Repeating-layer index of a GGUF tensor name, or None for input/output tensors."""
    m = _BLK.match(name)
    return int(m.group(1)) if m else None


def is_input_tensor(name: str) -> bool:
    return name.startswith(_INPUT_TENSORS)


def weights_by_device(tensors: list[TensorInfo], placement: Placement, n_layer: int) -> dict[int, int]:
    """Bytes of weights per device index (CPU = -1), including a tied head's duplicate."""
    out: dict[int, int] = {}
    has_output = any(t.name == "output.weight" for t in tensors)
    embd = 0
    for t in tensors:
        il = tensor_layer(t.name)
        if il is not None and il < n_layer:
            d = placement.layer_device[il]
        elif is_input_tensor(t.name):
            d = CPU
            if t.name == "token_embd.weight":
                embd = t.n_bytes
        else:
            d = placement.output_device  # output, output_norm, rope_freqs, extra layers (MTP)
        if d != CPU and placement.row_split and il is not None:
            for g, f in enumerate(placement.row_split):
                out[g] = out.get(g, 0) + int(t.n_bytes * f)
            continue
        out[d] = out.get(d, 0) + t.n_bytes
    if not has_output and embd and placement.output_device != CPU:
        out[placement.output_device] = out.get(placement.output_device, 0) + embd
    return out
