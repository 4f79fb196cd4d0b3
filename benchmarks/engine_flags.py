"""pp512 / tg128 of llama.cpp built with sizeup's CPU flags vs a plain ``GGML_NATIVE=OFF`` build.

Why: ``sizeup engine install`` does not build llama.cpp natively (``-march=native`` compiles the AMX
kernels that crash on AMX Xeons) but names every ISA extension of this CPU explicitly. The plain
``GGML_NATIVE=OFF`` build is what most "fix the crash" advice gives; it assumes AVX2 and leaves
AVX-512/VNNI out. This script measures what that choice is worth, in one run: both llama-bench
binaries come from the same vendored llama.cpp (``llama_tools.ensure_tools``), run on the same
models with the same threads, interleaved.

    python benchmarks/engine_flags.py [--models smollm2,gemma3] [--reps 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import llama_tools  # noqa: E402

PLAIN = "-DGGML_NATIVE=OFF"


def bench(exe: Path, model: Path, threads: int, reps: int) -> dict[str, float]:
    r = subprocess.run([str(exe), "-m", str(model), "-p", "512", "-n", "128", "-t", str(threads), "-r", str(reps),
                        "-o", "json"], capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"{exe.parent.parent.name}: llama-bench failed ({r.returncode}): {r.stderr[-500:]}")
    out = {}
    for row in json.loads(r.stdout):
        key = "pp512" if row["n_prompt"] else "tg128"
        out[key] = float(row["avg_ts"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="smollm2,gemma3")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved A/B rounds")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from sizeup.engine.install import plan_build
    from sizeup.testmodels import fetch

    ours_args = plan_build().cmake_args
    builds = {"sizeup flags": llama_tools.ensure_tools(cmake_args=ours_args)["llama-bench"],
              "GGML_NATIVE=OFF": llama_tools.ensure_tools(cmake_args=PLAIN)["llama-bench"]}
    print(f"sizeup flags: {ours_args}")
    print(f"plain:        {PLAIN}\n")
    print("| model | test | sizeup flags (tok/s) | GGML_NATIVE=OFF (tok/s) | ratio |")
    print("|---|---|---|---|---|")
    for name in args.models.split(","):
        model = fetch(name.strip())
        samples: dict[str, dict[str, list[float]]] = {b: {"pp512": [], "tg128": []} for b in builds}
        for _ in range(args.rounds):
            for b, exe in builds.items():
                for k, v in bench(exe, model, args.threads, args.reps).items():
                    samples[b][k].append(v)
        for test in ("pp512", "tg128"):
            a = statistics.median(samples["sizeup flags"][test])
            p = statistics.median(samples["GGML_NATIVE=OFF"][test])
            print(f"| {model.name} | {test} | {a:.1f} | {p:.1f} | {a / p:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
