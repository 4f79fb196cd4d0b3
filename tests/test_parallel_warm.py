"""A large catalog's first ranking on two CPUs (sizeup.estimate.parallel_warm): same answer as one
process, and a child that crashes, stalls or answers nonsense costs only time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from sizeup.estimate import parallel_warm, summary_cache

RANK = r"""
import json, sys
from sizeup.catalog import describe_entry, load_catalog
from sizeup.estimate import parallel_warm
from sizeup.hardware import probe_hardware
from sizeup.recommend import recommend
given = []
orig = parallel_warm.warm
parallel_warm.warm = lambda work, fn, accept=None: given.append((len(work), orig(work, fn, accept))) or given[-1][1]
hw = probe_hardware(gpu="RTX 4090", ram="64G", bandwidth="off")
hw = type(hw)(**{**hw.__dict__, "cpu_bandwidth_gbs": 80.0})
models = [describe_entry(e) for e in load_catalog(sys.argv[1])]
rows = [[c.model.extra["hf_id"], c.quant, c.where, c.n_gpu_layers, c.n_cpu_moe, c.needed, c.decode_tps,
         round(c.score, 9) if c.fits else None] for c in recommend(models, hw, ctx=16384, task="coding")]
print(json.dumps({"rows": rows, "warm": given}))
"""


def _catalog(path, n_variants: int = 3) -> None:
    """The built-in catalog plus fine-tunes with resized vocabularies (new shapes, as a large catalog holds)."""
    from importlib.resources import files

    doc = json.loads(files("sizeup.data").joinpath("catalog.json").read_text())
    extra = []
    for k in range(1, n_variants + 1):
        for e in doc["models"][k::7]:
            e = json.loads(json.dumps(e))
            e["id"] = f"variant-{k}/{e['id'].split('/', 1)[1]}"
            e["aliases"] = [f"{a}-v{k}" for a in e["aliases"]]
            e["ollama"] = None
            if isinstance(e["config"].get("vocab_size"), int):
                e["config"]["vocab_size"] += 128 * k
            extra.append(e)
    doc["models"] += extra
    path.write_text(json.dumps(doc))


def _rank(tmp_path, cat, workers: str) -> dict:
    env = {**os.environ, "SIZEUP_WORKERS": workers, "SIZEUP_SUMMARY_CACHE": str(tmp_path / f"cache-{workers}.json")}
    p = subprocess.run([sys.executable, "-c", RANK, str(cat)], capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child is forked on Linux only")
def test_two_processes_rank_exactly_as_one(tmp_path):
    cat = tmp_path / "catalog.json"
    _catalog(cat)
    one = _rank(tmp_path, cat, "1")
    two = _rank(tmp_path, cat, "2")
    assert one["warm"][0][1] == 0  # SIZEUP_WORKERS=1: no child
    n_work, from_child = two["warm"][0]
    assert n_work >= parallel_warm.MIN_ITEMS and from_child > n_work  # the child did half the shapes' summaries
    assert len(one["rows"]) > 300 and two["rows"] == one["rows"]
    # the second process finds every summary, base and plan search on disk: nothing is left for a
    # child, which hands back no new cache entries
    again = _rank(tmp_path, cat, "2")
    assert again["warm"][0][1] == 0 and again["rows"] == one["rows"]


def _work(n: int) -> list[tuple]:
    return [(i,) for i in range(n)]


def test_a_crashing_child_costs_only_its_share(monkeypatch):
    monkeypatch.setenv("SIZEUP_WORKERS", "2")
    parent = os.getpid()
    done = []

    def fn(i):
        if os.getpid() != parent:
            os.kill(os.getpid(), 9)
        done.append(i)

    t = time.monotonic()
    assert parallel_warm.warm(_work(40), fn) == 0
    assert done == list(range(0, 40, 2)) and time.monotonic() - t < 10


def test_a_stalled_child_is_killed_at_the_deadline(monkeypatch):
    monkeypatch.setenv("SIZEUP_WORKERS", "2")
    monkeypatch.setattr(parallel_warm, "DEADLINE_S", 1.0)
    parent = os.getpid()

    def fn(i):
        if os.getpid() != parent:
            time.sleep(60)

    t = time.monotonic()
    assert parallel_warm.warm(_work(40), fn) == 0
    assert time.monotonic() - t < 5


def test_a_child_that_answers_nonsense_adds_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("SIZEUP_WORKERS", "2")
    monkeypatch.setenv("SIZEUP_SUMMARY_CACHE", str(tmp_path / "s.json"))
    summary_cache.reset()
    try:
        monkeypatch.setattr(summary_cache, "new_entries", lambda before: ["not", "a", "dict"])
        assert parallel_warm.warm(_work(40), lambda i: None) == 0
        monkeypatch.setattr(summary_cache, "new_entries", lambda before: {"x" * 100: {}, "k": 3, "ok": {"quant": 1}})
        assert parallel_warm.warm(_work(40), lambda i: None) == 1  # only the well-formed key; read back as a miss
        assert summary_cache.get("ok") is None
    finally:
        summary_cache.reset()


def test_small_work_and_one_cpu_stay_in_process(monkeypatch):
    pids = set()
    monkeypatch.setenv("SIZEUP_WORKERS", "2")
    assert parallel_warm.warm(_work(parallel_warm.MIN_ITEMS - 1), lambda i: pids.add(os.getpid())) == 0
    monkeypatch.setenv("SIZEUP_WORKERS", "1")
    assert parallel_warm.warm(_work(100), lambda i: pids.add(os.getpid())) == 0
    assert pids == set()  # nothing run ahead: the ranking works each shape out as it reaches it
    monkeypatch.setenv("SIZEUP_WORKERS", "lots")
    assert parallel_warm.workers() == 1
