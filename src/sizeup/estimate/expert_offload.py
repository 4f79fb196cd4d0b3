"""MoE expert offload: attention, shared experts and KV on the GPU, routed experts in RAM.

llama.cpp's ``--n-cpu-moe N`` (``-ncmoe``) keeps the routed-expert tensors (``ffn_*_exps``) of the
first N layers in system memory while ``-ngl`` puts everything else on the GPU;
``--cpu-moe`` / ``-ot "\\.ffn_.*_exps\\.=CPU"`` does it for every layer. Each token reads only
``n_expert_used / n_expert`` of the routed experts, so a 30B-A3B model whose experts sit in RAM
reads ~1.5 GB per token from RAM and the rest from VRAM: tens of tokens/s on a 8-24 GB GPU.

Choosing N follows llama.cpp's ``--fit`` (``common/fit.cpp``, ``llama_params_fit_impl``): the
target for each device is its free memory less a margin (``--fit-target``, 1024 MiB by default);
with all dense weights on the GPUs and every routed expert in RAM, layers are then converted to
full layers (experts on the GPU too) until the GPUs are full. For one GPU that is the smallest N
whose GPU total stays within the target; if even N = all layers does not fit, llama.cpp reduces
``-ngl`` as for a dense model, and sizeup calls that a partial offload.
"""

from __future__ import annotations

from dataclasses import dataclass

from .plan import Bases, gpu_totals
from .weight_summary import WeightSummary

FIT_TARGET_MARGIN = 1024 * 2**20  # llama.cpp --fit-target default: MiB left free per device


@dataclass(frozen=True)
class ExpertPlan:
    n_cpu_moe: int  # layers whose routed experts stay in RAM
    totals: tuple[int, ...]  # per device, host first
    cpu_expert_bytes: int  # routed-expert weights in RAM


def fit_n_cpu_moe(ws: WeightSummary, b: Bases, budgets: tuple[int | None, ...], moe_compute: int = 0,
                  margin: int = FIT_TARGET_MARGIN) -> ExpertPlan | None:
    """The smallest ``--n-cpu-moe`` that fits every GPU (with ``-ngl`` all) and the host, or None.

    None when the model has no routed experts, when no GPU is there, when the experts all fit on
    the GPU anyway (N = 0 is plain full offload) or when even N = n_layer overflows a GPU or RAM.
    """
    if b.gpu is None or ws.exps_total == 0:
        return None
    n = ws.n_layer
    full = n + 1

    def gpus_ok(t: tuple[int, ...]) -> bool:
        return all(bb is None or tt <= bb - margin for tt, bb in list(zip(t, budgets))[1:])

    if gpus_ok(gpu_totals(ws, b, full, 0)):
        return None  # no need to offload experts
    worst = gpu_totals(ws, b, full, n, moe_compute)
    if not gpus_ok(worst):
        return None
    lo, hi = 1, n  # gpus_ok(N) is monotone in N: binary search for the smallest that fits
    while lo < hi:
        mid = (lo + hi) // 2
        if gpus_ok(gpu_totals(ws, b, full, mid, moe_compute)):
            hi = mid
        else:
            lo = mid + 1
    t = gpu_totals(ws, b, full, lo, moe_compute)
    if budgets[0] is not None and t[0] > budgets[0]:
        return None  # the experts do not fit in RAM either
    return ExpertPlan(lo, t, sum(ws.exps[:lo]))


def ot_pattern() -> str:
    """The ``-ot`` override that keeps every routed expert in RAM (= ``--cpu-moe``)."""
    return r"\.ffn_.*_exps\.=CPU"
