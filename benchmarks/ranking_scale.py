"""Ranking at scale: `sizeup`'s main job over a synthetic 2,000-entry catalog, next to llmfit.

The synthetic catalog is the built-in catalog's entries repeated under new ids until there are
2,000 (fine-tunes and re-uploads share their base model's architecture, which is what a large
model database mostly holds), with one entry in ten given a larger vocabulary so new shapes keep
appearing. It is written to a temporary file and ranked with the real CLI
(the benchmark calls the library the CLI calls: ``sizeup.recommend.recommend`` on
``describe_entry`` of every entry): cold (fresh process, its own new weight-summary cache, which
starts from the built-in shapes' summaries shipped with the package, :mod:`sizeup.estimate.summary_seed`),
a second process (the on-disk cache of :mod:`sizeup.estimate.summary_cache` filled by the cold one:
summaries, memory-model bases and plan searches), and warm (a second pass in the same process).
The cold synthetic ranking runs twice: with ``SIZEUP_WORKERS=1`` (one process) and with the default
(a forked child works out half the new shapes, :mod:`sizeup.estimate.parallel_warm`; its CPU time is
not in "CPU of this process"). Wall and CPU seconds (``time.process_time``) are both printed: this
machine is shared (other builds may be running), wall time includes waiting for a CPU, so judge by
CPU seconds.

Peer: llmfit (PyPI), measured in the same run from its own virtual environment, ranking its
built-in database for the same what-if machine: wall and CPU seconds (user + system of the child
process) of its whole process. Pass its executable with --llmfit (default: ``llmfit`` on PATH);
without it the peer column says so.

Usage: python benchmarks/ranking_scale.py [--n 2000] [--llmfit /tmp/llmfit-venv/bin/llmfit]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time, resource
t0 = time.perf_counter(); c0 = time.process_time()
from sizeup.catalog import describe_entry, load_catalog
from sizeup.hardware import probe_hardware
from sizeup.recommend import recommend
path, ctx = sys.argv[1], int(sys.argv[2])
hw = probe_hardware(gpu="RTX 4090", ram="64G", bandwidth="off")
hw = type(hw)(**{**hw.__dict__, "cpu_bandwidth_gbs": 80.0})
t1 = time.perf_counter(); c1 = time.process_time()
models = [describe_entry(e) for e in load_catalog(path)]
choices = recommend(models, hw, ctx=ctx, task="coding")
t2 = time.perf_counter(); c2 = time.process_time()
choices = recommend(models, hw, ctx=ctx, task="coding")
t3 = time.perf_counter(); c3 = time.process_time()
print(json.dumps({"n": len(models), "fitting": sum(c.fits for c in choices), "import_s": t1 - t0,
                  "cold_wall_s": t2 - t1, "cold_cpu_s": c2 - c1, "warm_wall_s": t3 - t2, "warm_cpu_s": c3 - c2,
                  "top": [c.model.extra["hf_id"] + " " + c.quant for c in choices[:3]]}))
"""


def synthetic_catalog(n: int, out: Path) -> None:
    src = json.loads((Path(__file__).resolve().parent.parent / "src" / "sizeup" / "data" / "catalog.json").read_text())
    base = src["models"]
    models = []
    i = 0
    while len(models) < n:
        e = copy.deepcopy(base[i % len(base)])
        k = i // len(base)
        if k:
            org, name = e["id"].split("/", 1)
            e["id"] = f"synthetic-{k}/{name}"
            e["aliases"] = [f"{a}-syn{k}" for a in e["aliases"]]
            e["ollama"] = None
            if i % 10 == 0 and isinstance(e["config"].get("vocab_size"), int):  # a new shape: a larger vocabulary
                e["config"]["vocab_size"] += 256 * k
        models.append(e)
        i += 1
    src["models"] = models
    out.write_text(json.dumps(src))


def run_llmfit(exe: str | None) -> dict:
    if not exe or not shutil.which(exe):
        return {"error": "llmfit not installed (pip install llmfit in its own venv, pass --llmfit)"}
    cmds = [[exe, "--help"]]
    t = time.perf_counter()
    r = subprocess.run(cmds[0], capture_output=True, text=True, timeout=120)
    help_s = time.perf_counter() - t
    attempts = [[exe, "--json", "--memory", "24G", "--ram", "64G", "--max-context", "32768", "fit"],
                [exe, "--json", "fit"]]
    for argv in attempts:
        t = time.perf_counter()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                           env={**os.environ, "TERM": "dumb"})
        wall = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        if p.returncode == 0 and p.stdout.strip():
            try:
                n = len(json.loads(p.stdout).get("models", []))
            except ValueError:
                n = None
            return {"argv": argv[1:], "wall_s": wall, "cpu_s": cpu, "help_s": help_s, "n_models": n}
    return {"error": f"no llmfit invocation succeeded (help: {r.stdout[:200]!r})"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--ctx", type=int, default=32768)
    ap.add_argument("--llmfit", default="llmfit")
    args = ap.parse_args()
    # As an installed sizeup runs: from compiled bytecode (pip writes it at install time; an
    # editable checkout under PYTHONDONTWRITEBYTECODE would compile every module on every run).
    import compileall
    import sizeup

    compileall.compile_dir(str(Path(sizeup.__file__).parent), quiet=1)
    with tempfile.TemporaryDirectory() as d:
        cat = Path(d) / "catalog.json"
        synthetic_catalog(args.n, cat)
        res = {}
        builtin = str(Path(__file__).resolve().parent.parent / "src" / "sizeup" / "data" / "catalog.json")
        # each catalog starts from its own empty weight-summary cache; the 2nd process reads what
        # the cold one of the same catalog wrote
        runs = [("built-in", builtin, "builtin", "2"), ("built-in, 2nd process", builtin, "builtin", "2"),
                (f"synthetic-{args.n}, 1 process", str(cat), "synthetic-1", "1"),
                (f"synthetic-{args.n}", str(cat), "synthetic", "2"),
                (f"synthetic-{args.n}, 2nd process", str(cat), "synthetic", "2")]
        for label, path, cache, workers in runs:
            env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
                   "SIZEUP_SUMMARY_CACHE": str(Path(d) / f"summaries-{cache}.json"), "SIZEUP_WORKERS": workers}
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-c", CHILD, path, str(args.ctx)], capture_output=True, text=True,
                               timeout=1200, env=env)
            process_s = time.perf_counter() - t
            if p.returncode != 0:
                print(p.stderr[-2000:], file=sys.stderr)
                return 1
            res[label] = {**json.loads(p.stdout), "process_wall_s": process_s}
    peer = run_llmfit(args.llmfit)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times include waiting for the CPU; "
          f"judge by CPU seconds)")
    for label, r in res.items():
        print(f"sizeup {label:>30}: {r['n']} entries, first ranking {r['cold_wall_s']:.2f} s wall / "
              f"{r['cold_cpu_s']:.2f} s CPU of this process, again in-process {r['warm_wall_s']:.2f} s wall; "
              f"imports {r['import_s']:.2f} s; whole process {r['process_wall_s']:.2f} s wall")
    if "error" in peer:
        print(f"llmfit: {peer['error']}")
    else:
        print(f"llmfit {' '.join(peer['argv'])}: {peer['n_models']} models ranked, {peer['wall_s']:.2f} s wall / "
              f"{peer['cpu_s']:.2f} s CPU for its whole process (--help alone {peer['help_s']:.2f} s wall)")
    print(json.dumps({"sizeup": res, "llmfit": peer}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
