"""Does sizeup's in-process benchmark measure what llama-bench measures?

Runs pp512 and tg128 on the same model with the same threads both ways - sizeup's worker
(llama-cpp-python, low-level API) and llama.cpp's own llama-bench built from the same llama.cpp
source (benchmarks/llama_tools.py) - A/B interleaved over several rounds so machine load drifts
affect both, and prints the sizeup / llama-bench ratio of the medians. Target: within 5%.

    PYTHONPATH=src python3 benchmarks/llama_bench_overhead.py [--model PATH] [--threads 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from llama_tools import ensure_tools  # noqa: E402

from sizeup.bench.config import BenchConfig  # noqa: E402
from sizeup.bench.runner import run_worker, summaries_from_result  # noqa: E402
from sizeup.testmodels import fetch  # noqa: E402

TARGET_PCT = 5.0


def llama_bench(exe: Path, model: Path, p: int, n: int, reps: int, threads: int) -> dict[str, float]:
    r = subprocess.run([str(exe), "-m", str(model), "-p", str(p), "-n", str(n), "-r", str(reps), "-t", str(threads),
                        "-fa", "auto", "-o", "json"], capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise SystemExit(f"llama-bench failed: {r.stderr.strip().splitlines()[-1:]}")
    out = {}
    for t in json.loads(r.stdout):
        key = "pp" if t["n_prompt"] and not t["n_gen"] else "tg"
        out[key] = float(t["avg_ts"])
    return out


def sizeup_bench(model: Path, p: int, n: int, reps: int, threads: int) -> dict[str, float]:
    # llama-bench's context is exactly the test's tokens; ours must hold prompt + generation + 1.
    cfg = BenchConfig(n_prompt=p, n_gen=n, reps=reps, n_threads=threads, n_ctx=p + n + 256, n_gpu_layers=0)
    summ, _ = summaries_from_result(cfg, run_worker(model, cfg, timeout=1800))
    return {"pp": summ["pp"]["mean"], "tg": summ["tg"]["mean"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="GGUF file (default: the SmolLM2 test model)")
    ap.add_argument("--threads", "-t", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-r", type=int, default=3)
    args = ap.parse_args()
    model = args.model or fetch("smollm2")
    exe = ensure_tools()["llama-bench"]
    res: dict[str, dict[str, list[float]]] = {"sizeup": {"pp": [], "tg": []}, "llama-bench": {"pp": [], "tg": []}}
    for rnd in range(args.rounds):
        order = ("sizeup", "llama-bench") if rnd % 2 == 0 else ("llama-bench", "sizeup")  # A/B, then B/A
        for who in order:
            got = (sizeup_bench(model, args.p, args.n, args.r, args.threads) if who == "sizeup"
                   else llama_bench(exe, model, args.p, args.n, args.r, args.threads))
            for k in ("pp", "tg"):
                res[who][k].append(got[k])
            print(f"round {rnd + 1}/{args.rounds} {who:<11}: pp{args.p} {got['pp']:.1f} tok/s, "
                  f"tg{args.n} {got['tg']:.1f} tok/s", file=sys.stderr, flush=True)
    print(f"\nmodel {model.name}, threads {args.threads}, {args.rounds} interleaved rounds x {args.r} reps")
    print("paired = median over rounds of (sizeup / llama-bench) measured back to back in the same round; it")
    print("cancels the load drift between rounds that the ratio of medians still carries.")
    print(f"{'test':<8} {'sizeup':>10} {'llama-bench':>12} {'ratio of medians':>17} {'paired ratio':>13}")
    worst = 0.0
    for k, name in (("pp", f"pp{args.p}"), ("tg", f"tg{args.n}")):
        a, b = statistics.median(res["sizeup"][k]), statistics.median(res["llama-bench"][k])
        paired = statistics.median(x / y for x, y in zip(res["sizeup"][k], res["llama-bench"][k]))
        worst = max(worst, abs(paired - 1) * 100)
        print(f"{name:<8} {a:10.1f} {b:12.1f} {a / b:17.3f} {paired:13.3f}")
    print(f"worst paired difference {worst:.1f}% (target within {TARGET_PCT:.0f}%): "
          + ("PASS" if worst <= TARGET_PCT else "MISS"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
