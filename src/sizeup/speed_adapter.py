"""Speed estimates for recommendation rows: the speed model fed with this machine's numbers.

Kept apart from :mod:`sizeup.recommend` so the ranking logic stays a pure function of memory and
scores, and from :mod:`sizeup.estimate.speed` so that module stays free of hardware objects.
Decode speed is quoted at an empty KV cache (depth 0), as llama-bench's tg128 does, so the
figure compares with published benchmark tables and with ``sizeup bench``. Rows carry a weight
summary and their placement (``-ngl``, ``--n-cpu-moe``), which :func:`plan_speed` reads.
"""

from __future__ import annotations

from typing import Any

from .bench.calibrate import device_specs
from .estimate.plan_speed import plan_speed
from .estimate.weight_summary import summarize


def speed_for_choice(choice, hw, calibration_info: Any = None) -> None:
    """Fill ``choice.decode_tps`` / ``prefill_tps`` (None when the machine's bandwidth is unknown)."""
    arch = choice.model.arch
    if arch is None:
        return
    ws = choice.summary
    if ws is None and choice.tensors:
        ws = summarize(choice.tensors, arch, choice.quant)
    if ws is None:
        return
    cpu, gpu = device_specs(hw, None, 1)
    if cpu is None:
        return
    on_gpu = choice.where not in ("CPU", "does not fit") and gpu is not None
    ngl = choice.n_gpu_layers if choice.n_gpu_layers >= 0 else arch.n_layer + 1
    cal = calibration_info.calibration if calibration_info is not None else None
    est = plan_speed(ws, arch, cpu, gpu if on_gpu else None, ngl if on_gpu else 0,
                     getattr(choice, "n_cpu_moe", 0), cal)
    choice.decode_tps = est.decode_tps
    choice.prefill_tps = est.prefill_tps
    choice.speed_calibrated = est.calibrated
