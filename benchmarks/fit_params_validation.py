"""sizeup's ``llama_fit`` next to what llama.cpp's own ``llama-fit-params --fit-print on`` prints, same run.

llama-fit-params is built from the vendored llama.cpp of the installed llama-cpp-python
(``benchmarks/llama_tools.py``), so both sides are the same llama.cpp. For each model and context it
runs ``llama-fit-params -m MODEL -c CTX --fit-print on`` (llama.cpp's defaults otherwise: n_batch 2048,
n_ubatch 512, flash attention auto, n_outputs_max = n_batch, repack on) and parses the per-device
"model context compute" MiB rows; sizeup's figure is ``estimate_memory(...).devices[i].llama_fit`` for
the same parameters. Models: the two real test models (dense; sliding window), synthetic MoE and
hybrid (attention + SSM) models, and real-size zero-weight GGUFs (Llama-3.2-1B, Llama-3.1-8B and
Qwen1.5-MoE-A2.7B tensor inventories, written sparse: no disk, no weight I/O under no_alloc).

Target (issue 10): every figure within 3% or 32 MiB. Usage::

    PYTHONPATH=src python3 benchmarks/fit_params_validation.py [--ctx 4096 32768] [--quick]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sizeup.estimate.config import RunConfig  # noqa: E402
from sizeup.estimate.memory import estimate_memory  # noqa: E402
from sizeup.formats.gguf_model import describe_gguf  # noqa: E402
from sizeup.llamacpp.sysinfo import installed_build_features  # noqa: E402

MIB = 1 << 20
TOL_PCT, TOL_MIB = 3.0, 32.0
_ROW = re.compile(r"^(\S+) (\d+) (\d+) (\d+)\s*$")


def fit_print(exe: Path, model: Path, ctx: int, extra: list[str] = ()) -> dict[str, dict[str, int]]:
    """{device: {model, context, compute}} in MiB as llama-fit-params prints them."""
    r = subprocess.run([str(exe), "-m", str(model), "-c", str(ctx), "--fit-print", "on", *extra],
                       capture_output=True, text=True, timeout=600)
    rows = {}
    for line in r.stdout.splitlines():
        m = _ROW.match(line.strip())
        if m:
            rows[m.group(1)] = {"model": int(m.group(2)), "context": int(m.group(3)), "compute": int(m.group(4))}
    if not rows:
        raise RuntimeError(f"llama-fit-params printed no rows for {model.name}: {r.stderr.strip()[-300:]}")
    return rows


def models(tmp: Path, quick: bool) -> dict[str, Path]:
    from sizeup.testing.sparse_gguf import write_catalog_model
    from sizeup.testing.synthetic_gguf import write_synthetic
    from sizeup.testmodels import fetch

    out = {"SmolLM2-135M Q4_1 (dense)": fetch("smollm2"), "gemma-3-270m Q4_K_M (SWA)": fetch("gemma3"),
           "synthetic qwen3moe Q8_0 (MoE)": write_synthetic(tmp / "moe.gguf", "qwen3moe", dtype="Q8_0", n_ctx=65536),
           "synthetic granitehybrid Q8_0 (hybrid)": write_synthetic(tmp / "hyb.gguf", "granitehybrid", dtype="Q8_0",
                                                                    n_ctx=65536)}
    if not quick:
        for label, mid, q in (("Llama-3.2-1B Q4_K_M (zero)", "meta-llama/Llama-3.2-1B-Instruct", "Q4_K_M"),
                              ("Llama-3.1-8B Q4_K_M (zero)", "meta-llama/Llama-3.1-8B-Instruct", "Q4_K_M"),
                              ("Llama-3.1-8B Q8_0 (zero)", "meta-llama/Llama-3.1-8B-Instruct", "Q8_0"),
                              ("Qwen1.5-MoE-A2.7B Q4_K_M (zero)", "Qwen/Qwen1.5-MoE-A2.7B-Chat", "Q4_K_M")):
            out[label] = write_catalog_model(tmp / f"{mid.split('/')[1]}-{q}.gguf", mid, q)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ctx", type=int, nargs="+", default=[4096, 32768])
    ap.add_argument("--quick", action="store_true", help="only the small real and synthetic models")
    args = ap.parse_args()
    from llama_tools import ensure_tools

    exe = ensure_tools()["llama-fit-params"]
    build = installed_build_features()
    worst = 0.0
    print("| model | ctx | figure | sizeup MiB | llama-fit-params MiB (floored, as it prints) | error |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="fitp-") as d:
        for label, path in models(Path(d), args.quick).items():
            md = describe_gguf(path)
            for ctx in args.ctx:
                est = estimate_memory(md, RunConfig(n_ctx=ctx), build=build)
                theirs = fit_print(exe, path, ctx)
                host = theirs.get("Host")
                ours = est.host.llama_fit
                for k in ("model", "context", "compute"):
                    mine = ours[k] / MIB
                    ref = host[k]
                    diff = mine - ref
                    pct = 100 * diff / ref if ref else 0.0
                    ok = abs(diff) <= max(TOL_MIB, TOL_PCT / 100 * ref)
                    worst = max(worst, abs(pct) if abs(diff) > TOL_MIB else 0.0)
                    print(f"| {label} | {ctx} | {k} | {mine:.1f} | {ref} | {pct:+.1f}% ({diff:+.0f} MiB)"
                          f"{'' if ok else ' MISS'} |", flush=True)
    print(f"\nworst error beyond {TOL_MIB:.0f} MiB: {worst:.1f}% (target {TOL_PCT:.0f}% or {TOL_MIB:.0f} MiB): "
          + ("PASS" if worst <= TOL_PCT else "MISS"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
