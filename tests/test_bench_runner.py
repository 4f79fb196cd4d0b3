"""``sizeup bench`` end to end with real llama.cpp on the real SmolLM2 file.

Tiny workloads (-p 32 -n 8 -r 2 -t 1) keep the file fast; the numbers are real measurements.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from sizeup.bench.config import BenchConfig
from sizeup.bench.runner import WorkerFailed, run_bench, run_worker
from sizeup.history import HistoryDB

SRC = str(Path(__file__).resolve().parents[1] / "src")
TINY = ["-p", "32", "-n", "8", "-r", "2", "-t", "1", "--ctx", "512"]


def _env(**extra) -> dict:
    env = dict(os.environ)
    env["COLUMNS"] = "200"
    env["PYTHONPATH"] = SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sizeup", *args], capture_output=True, text=True, env=_env(),
                          timeout=timeout)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, smollm2_path):
    """One real 2-configuration sweep (flash attention on/off), shared by the tests below."""
    db = tmp_path_factory.mktemp("bench") / "history.db"
    r = cli("bench", str(smollm2_path), *TINY, "--fa", "on,off", "--db", str(db), "--json")
    assert r.returncode == 0, r.stderr
    return db, json.loads(r.stdout)


def test_sweep_records_two_sane_rows(sweep, smollm2_path):
    db, out = sweep
    size = smollm2_path.stat().st_size
    assert [row["status"] for row in out["rows"]] == ["ok", "ok"]
    assert [row["config"]["flash_attn"] for row in out["rows"]] == [True, False]
    with HistoryDB(db) as h:
        assert h.integrity_check() == "ok"
        runs = sorted(h.list_runs(limit=None, with_samples=True), key=lambda r: r.id)
        assert len(runs) == 2
        for r in runs:
            assert r.status == "ok" and r.kind == "llama.cpp"
            s = r.summaries
            assert s["tg"]["mean"] > 0 and s["pp"]["mean"] > 0 and s["tg"]["n"] == 2
            assert len(r.samples["tg"]) == 2 and len(r.samples["pp"]) == 2
            assert s["ttft"]["mean"] > 32 / s["pp"]["mean"]  # prompt time + one generated token
            assert s["load"]["mean"] > 0
            assert s["rss_peak"]["mean"] > size and s["rss_model"]["mean"] > size
            assert r.model["size"] == size and r.model["quant"] == "Q4_1"
            assert r.versions["llama_cpp"] and "CPU" in (r.versions["llama_system_info"] or "")
            assert r.config["n_prompt"] == 32 and r.config["n_threads"] == 1
            # the prediction made before the run is stored beside the measurement
            assert r.prediction["memory"]["rss"] > size
            assert r.extra["load_state"].startswith("warm")
        # calibration points for this machine, one tg and one pp per run (when bandwidth is known),
        # the tg points carrying the roofline's parts for the regime-aware fit
        pts = h.calibration_points(runs[0].hw_fingerprint)
        speed = runs[0].prediction.get("speed")
        assert sorted(p["metric"] for p in pts) == (["pp", "pp", "tg", "tg"] if speed else [])
        for p in pts:
            assert p["features"]["compute_time_s"] > 0 and p["features"]["regime"] in ("cache", "dram")


def test_memory_prediction_close_to_measured_rss(sweep):
    _, out = sweep
    for row in out["rows"]:
        err = row["error_pct"]["rss"]
        assert err is not None and abs(err) < 20, row["error_pct"]


def test_history_compare_and_export_on_real_runs(sweep):
    db, out = sweep
    ids = [str(row["run_id"]) for row in out["rows"]]
    r = cli("history", "--db", str(db), "--json")
    assert r.returncode == 0 and [str(x["id"]) for x in json.loads(r.stdout)["runs"]] == ids[::-1]
    r = cli("compare", *ids, "--db", str(db), "--format", "json")
    assert r.returncode == 0, r.stderr
    cmp = json.loads(r.stdout)
    assert "flash_attn" in cmp["differing_settings"] and cmp["same_hardware"] and cmp["same_model"]
    tg = next(m for m in cmp["metrics"] if m["metric"] == "tg")
    assert tg["values"][1]["ratio"] == pytest.approx(tg["values"][1]["mean"] / tg["values"][0]["mean"])
    r = cli("history", "--db", str(db), "--export", "--format", "csv")
    assert r.returncode == 0 and r.stdout.splitlines()[0].startswith("run,")
    r = cli("compare", *ids, "--db", str(db))
    assert r.returncode == 0 and "tg" in r.stdout


def test_crashing_workers_lose_only_their_row(tmp_path, smollm2_path, monkeypatch):
    from sizeup.sources.dispatch import describe
    from sizeup.hardware import probe_hardware

    monkeypatch.setenv("SIZEUP_BENCH_FAULTS", "1")  # lets the worker honour the fault below
    hw = probe_hardware(bandwidth="cached")
    model = describe(smollm2_path)
    cfg = BenchConfig(n_prompt=16, n_gen=4, reps=1, n_threads=1, n_ctx=256)
    # the surviving row also exercises a KV depth and a cold load
    deep = BenchConfig(n_prompt=16, n_gen=4, n_depth=16, reps=1, n_threads=1, n_ctx=256, cold=True)
    with HistoryDB(tmp_path / "h.db") as db:
        rows = run_bench(smollm2_path, [cfg, cfg, deep], db=db, hw=hw, model=model, timeout=120,
                         faults={0: "segv", 1: "exit"})
        assert [r.status for r in rows] == ["failed", "failed", "ok"]
        assert "SIGSEGV" in rows[0].error
        assert "code 7" in rows[1].error
        assert rows[2].mean("tg") > 0 and rows[2].mean("pp") > 0
        assert rows[2].info["load_state"].startswith("cold")
        stored = {r.id: r for r in db.list_runs(limit=None)}
        assert stored[rows[0].run_id].status == "failed" and "SIGSEGV" in stored[rows[0].run_id].error
        assert stored[rows[2].run_id].status == "ok"


def test_worker_timeout_and_non_gguf(tmp_path, smollm2_path, monkeypatch):
    bad = tmp_path / "not-a-model.gguf"
    bad.write_bytes(b"this is not a gguf file\n" * 100)
    cfg = BenchConfig(n_prompt=16, n_gen=4, reps=1, n_threads=1, n_ctx=256)
    with pytest.raises(WorkerFailed) as e:
        run_worker(bad, cfg, timeout=60)
    assert "\n" not in str(e.value) and str(e.value)
    monkeypatch.setenv("SIZEUP_BENCH_FAULTS", "1")
    t0 = time.monotonic()
    with pytest.raises(WorkerFailed, match="timed out"):
        run_worker(smollm2_path, cfg, timeout=3, fault="hang")
    assert time.monotonic() - t0 < 20


def _wait_for_ok_run(db: Path, proc: subprocess.Popen, timeout: float = 180, running: int = 0) -> None:
    """Until at least one run has finished ``ok`` (and ``running`` runs are in progress: a Ctrl-C
    between two rows has no row in progress to mark interrupted)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "bench ended before it could be interrupted"
        if db.exists():
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                n = con.execute("SELECT COUNT(*) FROM runs WHERE status = 'ok'").fetchone()[0]
                r = con.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0]
                con.close()
                if n >= 1 and r >= running:
                    return
            except sqlite3.OperationalError:
                pass  # schema not there yet
        time.sleep(0.2)
    raise AssertionError("no run finished in time")


def test_sigkill_mid_sweep_leaves_valid_db(tmp_path, smollm2_path):
    db = tmp_path / "h.db"
    proc = subprocess.Popen([sys.executable, "-m", "sizeup", "bench", str(smollm2_path), *TINY, "--fa", "on,off,auto",
                             "--db", str(db)], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_ok_run(db, proc)
        workers = psutil.Process(proc.pid).children(recursive=True)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    # the orphaned worker notices its parent is gone and exits
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive
    with HistoryDB(db) as h:
        assert h.integrity_check() == "ok"
        runs = h.list_runs(limit=None)
        ok = [r for r in runs if r.status == "ok"]
        assert ok and all(r.summaries["tg"]["mean"] > 0 for r in ok)
        assert h.mark_dead_runs() == sum(1 for r in runs if r.status == "running")
        assert all(r.status in ("ok", "interrupted") for r in h.list_runs(limit=None))


def test_ctrl_c_saves_finished_rows(tmp_path, smollm2_path):
    db = tmp_path / "h.db"
    proc = subprocess.Popen([sys.executable, "-m", "sizeup", "bench", str(smollm2_path), *TINY, "--fa", "on,off",
                             "-r", "5", "--db", str(db)], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _wait_for_ok_run(db, proc, running=1)  # the second row is in progress
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    with HistoryDB(db) as h:
        statuses = [r.status for r in sorted(h.list_runs(limit=None), key=lambda r: r.id)]
    assert statuses == ["ok", "interrupted"]


def test_refuses_a_config_predicted_not_to_fit(tmp_path, smollm2_path):
    r = cli("bench", str(smollm2_path), *TINY[:-2], "--ctx", "60000000", "--db", str(tmp_path / "h.db"))
    assert r.returncode == 2
    assert "predicted to need" in r.stderr and "--force" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args,match", [
    (["-p", "abc"], "-p"),
    (["-r", "0"], "-r"),
    (["--fa", "maybe"], "--fa"),
    (["--kv-type", "q8_0", "--fa", "off"], "flash attention"),
    (["--timeout", "-1"], "--timeout"),
])
def test_bad_options_exit_2_one_line(tmp_path, smollm2_path, args, match):
    r = cli("bench", str(smollm2_path), *args, "--db", str(tmp_path / "h.db"))
    assert r.returncode == 2 and match in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "h.db").exists()


def test_bad_model_files_exit_2_one_line(tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 64)
    for target in (bad, tmp_path / "missing.gguf"):
        r = cli("bench", str(target), *TINY, "--db", str(tmp_path / "h.db"))
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
