"""Speed estimates for recommendation rows: the speed model fed with this machine's numbers.

Kept apart from :mod:`sizeup.recommend` so the ranking logic stays a pure function of memory and
scores, and from :mod:`sizeup.estimate.speed` so that module stays free of hardware objects.
Decode speed is quoted at an empty KV cache (depth 0), as llama-bench's tg128 does, so the
figure compares with published benchmark tables and with ``sizeup bench``.
"""

from __future__ import annotations

from typing import Any

from .bench.calibrate import _KV_BYTES, device_specs
from .estimate.speed import estimate_speed


def speed_for_choice(choice, hw, calibration_info: Any = None) -> None:
    """Fill ``choice.decode_tps`` / ``prefill_tps`` (None when the machine's bandwidth is unknown)."""
    if choice.tensors is None or choice.model.arch is None:
        return
    arch = choice.model.arch
    ngl = choice.n_gpu_layers if choice.n_gpu_layers >= 0 else arch.n_layer + 1
    cpu, gpu = device_specs(hw, None, ngl)
    if cpu is None:
        return
    cfg = choice.memory.config if choice.memory is not None else None
    kb = _KV_BYTES.get(cfg.type_k if cfg else "f16", 2.0)
    vb = _KV_BYTES.get(cfg.type_v if cfg else "f16", 2.0)
    cal = calibration_info.calibration if calibration_info is not None else None
    est = estimate_speed(choice.tensors, arch, cpu=cpu, gpu=gpu, n_gpu_layers=ngl if gpu else 0,
                         depth=0, bytes_k=kb, bytes_v=vb, calibration=cal)
    choice.decode_tps = est.decode_tps
    choice.prefill_tps = est.prefill_tps
    choice.speed_calibrated = est.calibrated
