"""What does ``sizeup try`` cost on top of the measurements it runs?

Runs one ``try`` experiment on the test model(s) with a small workload and splits its wall time
into the measurement phases (inside the candidate's child: speed, bits-per-byte scoring,
generation; in the sandbox: running the tests) and everything else - corpus sampling, candidate
resolution, estimates, process start-up, interpreter and llama.cpp imports, history writes,
verdict and chart. The peer, measured in the same run on the same model and speed settings, is
``sizeup bench`` (its wall time against the pp/tg phases it times), the command whose worker
``try`` reuses: its overhead is the floor of a process-per-candidate design.

    PYTHONPATH=src python3 benchmarks/try_overhead.py [--model PATH ...] [--chunks 8] [--tasks 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sizeup.bench.config import BenchConfig  # noqa: E402
from sizeup.bench.runner import run_worker  # noqa: E402
from sizeup.experiment.run import Settings, run_try  # noqa: E402
from sizeup.hardware import probe_hardware  # noqa: E402
from sizeup.history import HistoryDB  # noqa: E402
from sizeup.testmodels import fetch  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, action="append", help="GGUF file(s) (default: the SmolLM2 test model)")
    ap.add_argument("--on", default=str(Path(__file__).resolve().parents[1] / "src"), help="corpus repository")
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--tasks", type=int, default=5, help="function-completion tasks (0 = none)")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-p", type=int, default=128)
    ap.add_argument("-n", type=int, default=32)
    ap.add_argument("-r", type=int, default=2)
    args = ap.parse_args()
    models = [str(m) for m in (args.model or [fetch("smollm2")])]
    hw = probe_hardware()
    st = Settings(n_chunks=args.chunks, budget_bytes=64 * 1024, tasks="builtin" if args.tasks else "none",
                  tasks_limit=args.tasks or None, max_new_tokens=96, n_ctx=2048, n_threads=args.threads,
                  pp_tokens=args.p, tg_tokens=args.n, reps=args.r)

    # the peer: sizeup bench's worker on the same model and speed settings
    cfg = BenchConfig(n_prompt=args.p, n_gen=args.n, reps=args.r, n_threads=args.threads, n_ctx=2048)
    t0 = time.perf_counter()
    res = run_worker(models[0], cfg, timeout=1800)
    bench_wall = time.perf_counter() - t0
    s = res["samples"]
    bench_measured = sum(s["pp_s"]) + sum(s["tg_s"])  # the timed repetitions
    bench_inside = bench_measured + res["load_s"] + res["ctx_init_s"]

    with tempfile.TemporaryDirectory() as d:
        with HistoryDB(Path(d) / "h.db") as db:
            t0 = time.perf_counter()
            doc = run_try(models, settings=st, on=args.on, db=db, hw=hw, chart_stem=Path(d) / "chart-{id}")
            wall = time.perf_counter() - t0
    measured = 0.0
    rows = []
    for c in doc["candidates"]:
        if c["status"] != "ok":
            print(f"{c['label']}: {c['status']} ({c['error']})")
            continue
        sec = c["seconds"]
        inside = sum(v for k, v in sec.items() if k.startswith("child_")) + sec["sandbox"]
        load = c["measured"]["load_s"] or 0.0
        measured += inside + load
        rows.append((c["label"], sec["total"], inside + load, sec["total"] - inside - load))
    over = wall - measured
    print(f"try: {len(models)} candidate(s), {st.n_chunks} spans, {st.n_tasks} tasks, pp{args.p}/tg{args.n} x{args.r}")
    for label, total, inside, rest in rows:
        print(f"  {label}: {total:.2f} s for the candidate, {inside:.2f} s measuring, {rest:.2f} s around it")
    print(f"  whole try: {wall:.2f} s wall, {measured:.2f} s measuring -> overhead {over:.2f} s "
          f"({over / wall * 100:.1f}% of the wall time; {over / max(1, len(rows)):.2f} s per candidate)")
    b_over = bench_wall - bench_inside
    print(f"peer, sizeup bench worker (same model, pp{args.p}/tg{args.n} x{args.r}): {bench_wall:.2f} s wall, "
          f"{bench_inside:.2f} s load + timed phases -> overhead {b_over:.2f} s ({b_over / bench_wall * 100:.1f}%)")
    print(f"try's overhead per candidate vs bench's per configuration: {over / max(1, len(rows)) - b_over:+.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
