"""Validate sizeup's llama.cpp memory model against llama.cpp itself; print the whole table.

For every model x context x KV type: sizeup's prediction of llama.cpp's buffers (weights + KV +
recurrent state + output + compute), llama.cpp's own figure from a ``no_alloc`` load (its
buffer-size log lines), and - unless ``--no-rss`` - the peak RSS of a real load that decodes one
micro-batch, next to sizeup's expected resident memory. As a peer, the common rule of thumb
"weights x 1.2" is scored against the same llama.cpp figures.

Models: the two real test models (SmolLM2-135M, gemma-3-270m; fetched like the tests do) and
synthetic GGUFs of every architecture family ``sizeup.testing.synthetic_gguf`` writes (dense,
MoE, MLA, sliding window, Mamba-2, hybrid).

Usage: PYTHONPATH=src python3 benchmarks/memory_validation.py [--no-rss] [--ctx 512,4096,32768]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sizeup.errors import SizeupError  # noqa: E402
from sizeup.estimate.config import RunConfig  # noqa: E402
from sizeup.estimate.memory import estimate_memory  # noqa: E402
from sizeup.formats.gguf_model import describe_gguf  # noqa: E402
from sizeup.llamacpp.simulate import simulate_memory  # noqa: E402
from sizeup.llamacpp.sysinfo import installed_build_features  # noqa: E402
from sizeup.testing.synthetic_gguf import SUPPORTED_ARCHS, write_synthetic  # noqa: E402
from sizeup.testmodels import fetch  # noqa: E402

MIB = 1024 * 1024


def llama_total(r: dict) -> int:
    return r["model_bytes"] + r["kv_bytes"] + r["rs_bytes"] + sum(b["output"] + b["compute"] for b in r["buffers"].values())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ctx", default="512,4096,32768")
    ap.add_argument("--kv", default="f16,q8_0")
    ap.add_argument("--no-rss", action="store_true", help="skip the real loads (RSS)")
    ap.add_argument("--n-outputs-max", type=int, default=None,
                    help="logits rows per micro-batch: default llama-server's (one per slot); 0 = library default n_batch")
    ap.add_argument("--models", default="", help="comma-separated subset (smollm2, gemma3, syn-<arch>)")
    a = ap.parse_args()
    ctxs = [int(x) for x in a.ctx.split(",")]
    kvs = a.kv.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="sizeup-memval-"))
    models = {"smollm2": fetch("smollm2"), "gemma3": fetch("gemma3")}
    for arch in SUPPORTED_ARCHS:
        models[f"syn-{arch}"] = write_synthetic(tmp / f"{arch}.gguf", arch)
    if a.models:
        keep = set(a.models.split(","))
        models = {k: v for k, v in models.items() if k in keep}

    hdr = (f"{'model':18s} {'ctx':>6s} {'kv':5s} {'predicted':>10s} {'llama.cpp':>10s} {'err%':>6s} {'MiB':>6s} {'ok':>3s} "
           f"{'compute p/l':>15s} {'rule1.2 err%':>12s} {'RSS pred':>9s} {'RSS meas':>9s} {'err%':>6s}")
    print(hdr)
    print("-" * len(hdr))
    worst = worst_rss = worst_rule = 0.0
    n = fails = 0
    t0 = time.time()
    build = installed_build_features()  # which weights the installed llama.cpp repacks (peak RSS)
    for name, path in models.items():
        md = describe_gguf(path)
        for ctx in ctxs:
            for kv in kvs:
                cfg = RunConfig(n_ctx=ctx, type_k=kv, type_v=kv, n_outputs_max=a.n_outputs_max)
                try:
                    est = estimate_memory(md, cfg)
                except SizeupError as e:
                    print(f"{name:18s} {ctx:6d} {kv:5s} sizeup refuses: {e}")
                    continue
                try:
                    r = simulate_memory(path, cfg)
                except SizeupError as e:
                    print(f"{name:18s} {ctx:6d} {kv:5s} llama.cpp refuses: {e}")
                    continue
                lt = llama_total(r)
                err = 100 * (est.llama_total - lt) / lt
                ok = abs(est.llama_total - lt) <= max(0.03 * lt, 32 * MIB)
                fails += not ok
                rule = 100 * (1.2 * r["model_bytes"] - lt) / lt
                comp_l = sum(b["compute"] for b in r["buffers"].values())
                rss_txt = ""
                if not a.no_rss:
                    lr = simulate_memory(path, cfg, mode="load")
                    meas = lr["rss_peak"] - lr["rss_base"]
                    pred = estimate_memory(md, cfg, n_tokens_used=min(cfg.n_ubatch, ctx) - 1, build=build).rss
                    rerr = 100 * (pred - meas) / meas
                    worst_rss = max(worst_rss, abs(rerr))
                    rss_txt = f"{pred / MIB:9.1f} {meas / MIB:9.1f} {rerr:6.1f}"
                worst = max(worst, abs(err))
                worst_rule = max(worst_rule, abs(rule))
                n += 1
                print(f"{name:18s} {ctx:6d} {kv:5s} {est.llama_total / MIB:10.2f} {lt / MIB:10.2f} {err:6.2f} "
                      f"{(est.llama_total - lt) / MIB:6.2f} {'yes' if ok else 'NO':>3s} "
                      f"{est.compute / MIB:7.1f}/{comp_l / MIB:7.1f} {rule:12.1f} {rss_txt}", flush=True)
    print("-" * len(hdr))
    print(f"{n} configurations in {time.time() - t0:.0f} s; {n - fails} within 3% or 32 MiB of llama.cpp; "
          f"worst |error| vs llama.cpp buffers: {worst:.2f}% "
          f"(rule of thumb weights x 1.2: {worst_rule:.1f}%)" + ("" if a.no_rss else f"; worst RSS |error|: {worst_rss:.1f}%"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
