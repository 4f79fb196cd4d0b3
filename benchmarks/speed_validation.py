"""Does sizeup's speed model, calibrated on one model, predict another model's decode speed here?

For SmolLM2-135M (Q4_1) and gemma-3-270m (Q4_K_M), on this machine:

1. measure tg (and pp) with sizeup's own benchmark worker (llama.cpp in a child process, llama-bench
   method), alternating the two models over several rounds so load drifts hit both alike;
2. calibrate the speed model (``sizeup.estimate.speed.calibrate``) on the OTHER model's measured
   tg only, and predict this model's tg with it;
3. print measured vs uncalibrated vs cross-calibrated prediction with the error.

Target: cross-calibrated tg within 25% of measured. Usage::

    PYTHONPATH=src python3 benchmarks/speed_validation.py [--threads 1] [--rounds 3] [-n 64] [-r 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sizeup.bench.calibrate import predict_speed  # noqa: E402
from sizeup.bench.config import BenchConfig  # noqa: E402
from sizeup.bench.runner import run_worker, summaries_from_result  # noqa: E402
from sizeup.sources.dispatch import describe  # noqa: E402
from sizeup.estimate.memory import model_tensors  # noqa: E402
from sizeup.estimate.speed import active_params, calibrate  # noqa: E402
from sizeup.hardware import probe_hardware  # noqa: E402
from sizeup.testmodels import fetch  # noqa: E402

TARGET_PCT = 25.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", "-t", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-p", type=int, default=64)
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("-r", type=int, default=3)
    args = ap.parse_args()

    hw = probe_hardware()
    if not hw.cpu_bandwidth_gbs:
        print("no memory bandwidth figure for this machine: cannot predict speed", file=sys.stderr)
        return 2
    models = {k: fetch(k) for k in ("smollm2", "gemma3")}
    descs = {k: describe(p) for k, p in models.items()}
    cfg = BenchConfig(n_prompt=args.p, n_gen=args.n, reps=args.r, n_threads=args.threads, n_ctx=1024,
                      n_gpu_layers=0)
    tg: dict[str, list[float]] = {k: [] for k in models}
    pp: dict[str, list[float]] = {k: [] for k in models}
    for rnd in range(args.rounds):
        for k, p in models.items():
            res = run_worker(p, cfg, timeout=900)
            summ, _ = summaries_from_result(cfg, res)
            tg[k].append(summ["tg"]["mean"])
            pp[k].append(summ["pp"]["mean"])
            print(f"round {rnd + 1}/{args.rounds} {k}: tg {tg[k][-1]:.1f} tok/s, pp {pp[k][-1]:.1f} tok/s",
                  file=sys.stderr, flush=True)
    measured = {k: statistics.median(v) for k, v in tg.items()}
    raw = {k: predict_speed(descs[k], cfg, hw) for k in models}

    print(f"\nmachine: {hw.cpu.model}, {hw.cpu.physical_cores} cores, bandwidth {hw.cpu_bandwidth_gbs:.1f} GB/s "
          f"({hw.bandwidth_source}); threads {args.threads}, tg{args.n} at depth 0, median of {args.rounds} rounds "
          f"x {args.r} reps")
    # A second, diagnostic axis: the same cross-calibration on FLOPs per token (2 x active params)
    # instead of bytes per token - what decode follows when it is compute-bound (few threads).
    flops = {k: 2 * active_params(model_tensors(descs[k]), descs[k].arch)["total"] for k in models}
    hdr = (f"{'model':<10} {'MB/token':>9} {'MFLOP/tok':>10} {'measured':>9} {'uncal.':>8} {'err':>6} "
           f"{'cal.other':>10} {'err':>6} {'eff(other)':>10} {'flops-axis':>10} {'err':>6}")
    print(hdr)
    print("-" * len(hdr))
    worst = 0.0
    for k in models:
        other = next(o for o in models if o != k)
        cal = calibrate([(raw[other]["model_tps"], measured[other])])
        pred = predict_speed(descs[k], cfg, hw, cal)
        e_un = 100 * (raw[k]["tg_tps"] - measured[k]) / measured[k]
        e_cal = 100 * (pred["tg_tps"] - measured[k]) / measured[k]
        by_flops = measured[other] * flops[other] / flops[k]
        e_fl = 100 * (by_flops - measured[k]) / measured[k]
        worst = max(worst, abs(e_cal))
        print(f"{k:<10} {raw[k]['bytes_per_token'] / 1e6:9.1f} {flops[k] / 1e6:10.0f} {measured[k]:9.1f} "
              f"{raw[k]['tg_tps']:8.1f} {e_un:+5.0f}% {pred['tg_tps']:10.1f} {e_cal:+5.0f}% {cal.efficiency:10.3f} "
              f"{by_flops:10.1f} {e_fl:+5.0f}%")
    print("effective decode compute (measured tg x FLOPs/token): "
          + ", ".join(f"{k} {measured[k] * flops[k] / 1e9:.2f} GFLOP/s" for k in models))
    print(f"\nworst cross-calibrated error {worst:.0f}% (target within {TARGET_PCT:.0f}%): "
          + ("PASS" if worst <= TARGET_PCT else "MISS"))
    print("pp (median tok/s): " + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in pp.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
