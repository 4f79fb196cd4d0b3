"""sizeup quality --ref vs llama-perplexity --kl-divergence: throughput, reference size, agreement.

Both sides run on the same machine, the same llama.cpp source (llama-perplexity is built from the
vendored llama.cpp of the installed llama-cpp-python by ``benchmarks/llama_tools.py``), the same
model pair (an F16 reference made from the SmolLM2 test model, and Q4_0 quantized from it), the
same corpus file, context, chunk count and thread count:

1. reference pass: ``llama-perplexity -m REF --kl-divergence-base FILE`` vs sizeup building its
   compact reference (fresh cache directory);
2. comparison pass: ``llama-perplexity -m Q --kl-divergence-base FILE --kl-divergence`` vs
   ``sizeup quality Q --ref REF`` with the reference cached.

Printed: tokens/s of each pass (evaluated tokens / wall seconds of the whole process, and
llama.cpp's own eval rate from its perf line vs sizeup's model-pass rate), the two reference
files' sizes, and both tools' statistics side by side (PPL, KLD, same top), which checks that
sizeup computes what llama.cpp computes. Target: sizeup >= 80% of llama-perplexity's tokens/s.

Usage: python benchmarks/quality_throughput.py [--ctx 256] [--chunks 4] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{(p.stderr or p.stdout)[-2000:]}")
    return wall, p.stdout + p.stderr


def _grab(text: str, label: str) -> float | None:
    m = re.search(re.escape(label) + r"\s*:\s*([-0-9.]+)", text)
    return float(m.group(1)) if m else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--corpus", default="prose")
    args = ap.parse_args()

    from llama_tools import ensure_tools

    from sizeup import quantize as qz
    from sizeup.quality.corpus import load_corpus
    from sizeup.testmodels import fetch

    tools = ensure_tools()
    ppl_bin = str(tools["llama-perplexity"])
    work = Path(tempfile.mkdtemp(prefix="sizeup-qbench-"))
    src = fetch("smollm2")
    _, outs = qz.quantize_many(src, ["F16"], work)
    ref = outs[0].path
    _, outs = qz.quantize_many(ref, ["Q4_0"], work)
    q = outs[0].path
    corpus = load_corpus(args.corpus)
    corpus_file = work / "corpus.txt"
    corpus_file.write_text(corpus.text, encoding="utf-8")
    n_tok = args.ctx * args.chunks
    common = ["-c", str(args.ctx), "--chunks", str(args.chunks), "-t", str(args.threads), "-f", str(corpus_file)]
    base_file = work / "base.kld"

    env = dict(os.environ, SIZEUP_QUALITY_CACHE=str(work / "cache"), SIZEUP_HISTORY_DB=str(work / "h.db"),
               PYTHONPATH=str(ROOT / "src"))
    sizeup = [sys.executable, "-m", "sizeup", "quality"]
    ours_args = ["--ref", ref, "--corpus", str(corpus_file), "--ctx", str(args.ctx), "--chunks", str(args.chunks),
                 "--threads", str(args.threads), "--json"]

    # 1. reference passes
    w_lref, _ = _run([ppl_bin, "-m", ref, "--kl-divergence-base", str(base_file), *common])
    w_oref, _ = _run([*sizeup, q, *ours_args], env)  # builds and caches the compact reference, then scores q
    # 2. comparison passes (reference cached on our side)
    w_lq, ltext = _run([ppl_bin, "-m", q, "--kl-divergence-base", str(base_file), "--kl-divergence", *common])
    w_oq, out = _run([*sizeup, q, *ours_args], env)
    ours = json.loads(out[out.index("{"):out.rindex("}") + 1])
    assert ours["reference_cached"], "second sizeup run should use the cached reference"

    # llama-perplexity times its first batch of chunks ("N seconds per pass"); a batch holds
    # n_seq = n_batch / n_ctx chunks (n_batch 2048 by default), without the KLD arithmetic.
    m = re.search(r"([0-9.]+) seconds per pass", ltext)
    first_batch_tokens = min(max(1, 2048 // args.ctx), args.chunks) * args.ctx
    l_eval_tps = first_batch_tokens / float(m.group(1)) if m else float("nan")
    o_eval_tps = ours["tokens_per_s"]
    print(f"model pair: {Path(q).name} vs {Path(ref).name}; corpus {args.corpus} ({n_tok} tokens: "
          f"{args.chunks} x {args.ctx}), {args.threads} threads")
    print("\nthroughput of the comparison pass (reference already computed):")
    print(f"  wall clock, whole process : sizeup {n_tok / w_oq:7.1f} tok/s   llama-perplexity {n_tok / w_lq:7.1f} tok/s   "
          f"ratio {w_lq / w_oq * 100:5.1f}%")
    print(f"  evaluation only (*)       : sizeup {o_eval_tps:7.1f} tok/s   llama-perplexity {l_eval_tps:7.1f} tok/s   "
          f"ratio {o_eval_tps / l_eval_tps * 100:5.1f}%")
    print("  (*) sizeup: the model pass incl. its KLD arithmetic; llama-perplexity: decode of its first batch")
    print(f"reference pass, wall clock  : sizeup {w_oref:6.1f} s (reference + one comparison)   "
          f"llama-perplexity {w_lref:6.1f} s (reference only)")
    ours_size = ours["reference_file_bytes"]
    base_size = base_file.stat().st_size
    print(f"\nreference file: sizeup {ours_size / 1024:.1f} KiB   llama.cpp {base_size / 1024:.1f} KiB   "
          f"({base_size / ours_size:.0f}x smaller)")
    kl = ours["kl"]
    rows = [
        ("Mean PPL(Q)", kl["ppl"], _grab(ltext, "Mean PPL(Q)")),
        ("Mean PPL(base)", kl["ppl_base"], _grab(ltext, "Mean PPL(base)")),
        ("Mean ln(PPL(Q)/PPL(base))", kl["ln_ppl_ratio"], _grab(ltext, "Mean ln(PPL(Q)/PPL(base))")),
        ("Mean KLD", kl["kld_mean"], _grab(ltext, "Mean    KLD")),
        ("99.0% KLD", kl["kld_p99"], _grab(ltext, "99.0%   KLD")),
        ("RMS dp (%)", 100 * kl["rms_dp"], _grab(ltext, "RMS Δp")),
        ("Same top p (%)", 100 * kl["same_top"], _grab(ltext, "Same top p")),
    ]
    print("\nstatistic                      sizeup      llama.cpp")
    for name, a, b in rows:
        print(f"  {name:<27} {a:10.5f}  {b if b is not None else float('nan'):10.5f}")
    print(f"\n(work dir {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
