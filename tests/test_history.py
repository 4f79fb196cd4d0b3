"""The SQLite results history: schema, transactions, crash safety, and the history/compare CLI.

Everything runs against real SQLite files in tmp dirs and the real CLI in subprocesses.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sizeup.errors import SizeupError
from sizeup.history import SCHEMA_VERSION, HistoryDB, hardware_fingerprint, model_identity, parse_run_ids

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _env() -> dict:
    env = dict(os.environ)
    env["COLUMNS"] = "200"  # rich wraps tables to the terminal width; keep cells whole
    env["PYTHONPATH"] = SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sizeup", *args], capture_output=True, text=True, env=_env(),
                          timeout=timeout)


HW = {"cpu": "Test CPU 9000", "physical_cores": 8, "ram_gib": 32, "gpus": []}


def _populate(db: HistoryDB, smollm2: Path) -> list[int]:
    ident = model_identity(smollm2, "SmolLM2", "Q4_1")
    ids = []
    for fa, tg in ((True, [20.0, 22.0, 21.0]), (False, [15.0, 16.0, 17.0])):
        ids.append(db.record_result("llama.cpp", ident, {"flash_attn": fa, "n_threads": 2, "type_k": "f16"},
                                    {"tg": {"values": tg, "unit": "tok/s"}, "load": {"values": [0.5], "unit": "s"}},
                                    {"note": "test"}, hardware=HW))
    return ids


def test_round_trip_and_summaries(tmp_path, smollm2_path):
    with HistoryDB(tmp_path / "h.db") as db:
        assert db.schema_version == SCHEMA_VERSION
        ident = model_identity(smollm2_path, "SmolLM2", "Q4_1")
        rid = db.start_run("llama.cpp", ident, {"n_prompt": 32}, {"memory": {"rss": 123}}, HW,
                           versions={"llama_cpp": "0.3.36"}, extra={"pid": os.getpid()})
        assert db.get_run(rid).status == "running"
        db.add_samples(rid, "tg", [10.0, 12.0], "tok/s")
        db.finish_run(rid, {"tg": {"mean": 11.0, "stddev": 1.4142, "median": 11.0, "n": 2, "unit": "tok/s"}}, "ok",
                      versions={"llama_system_info": "CPU : AVX2 = 1"})
        r = db.get_run(rid, with_samples=True)
    assert r.status == "ok" and r.finished_at
    assert r.samples == {"tg": [10.0, 12.0]}
    assert r.summaries["tg"]["mean"] == 11.0 and r.summaries["tg"]["unit"] == "tok/s"
    assert r.config == {"n_prompt": 32} and r.prediction == {"memory": {"rss": 123}}
    assert r.model["size"] == smollm2_path.stat().st_size and len(r.model["hash"]) == 32
    assert r.versions["llama_cpp"] == "0.3.36" and "AVX2" in r.versions["llama_system_info"]
    assert r.hw_fingerprint == hardware_fingerprint(HW)[0]


def test_record_result_and_list_filters(tmp_path, smollm2_path):
    with HistoryDB(tmp_path / "h.db") as db:
        ids = _populate(db, smollm2_path)
        db.record_result("endpoint", {"name": "http://127.0.0.1:1/v1", "path": None}, {"concurrency": 1},
                         {"ttft": 0.2, "tg": [30.0, 31.0]})
        assert [r.id for r in db.list_runs()] == [3, *reversed(ids)]
        assert [r.kind for r in db.list_runs(kind="endpoint")] == ["endpoint"]
        assert len(db.list_runs(model="smollm2")) == 2
        assert len(db.list_runs(limit=1)) == 1
        r = db.get_run(ids[0])
        assert r.summaries["tg"]["mean"] == pytest.approx(21.0)
        assert r.summaries["tg"]["stddev"] == pytest.approx(1.0)
        assert r.extra == {"note": "test"}
        with pytest.raises(SizeupError, match="no run 99"):
            db.get_run(99)
        with pytest.raises(SizeupError):
            db.finish_run(ids[0], None, "weird")


def test_newer_schema_and_garbage_files_are_refused(tmp_path):
    p = tmp_path / "new.db"
    HistoryDB(p).close()
    con = sqlite3.connect(p)
    con.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 5,))
    con.commit()
    con.close()
    with pytest.raises(SizeupError, match="newer sizeup"):
        HistoryDB(p)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"GGUF" + os.urandom(4096))
    with pytest.raises(SizeupError, match="not a usable"):
        HistoryDB(junk)
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(SizeupError, match="not a file"):
        HistoryDB(tmp_path / "dir.db")


def test_migrating_an_empty_version_table_creates_the_schema(tmp_path):
    p = tmp_path / "old.db"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    con.commit()
    con.close()
    with HistoryDB(p) as db:
        assert db.schema_version == SCHEMA_VERSION
        assert db.list_runs() == []


def test_failed_transaction_leaves_nothing(tmp_path):
    with HistoryDB(tmp_path / "h.db") as db:
        rid = db.start_run("llama.cpp", None, {}, {}, HW)
        with pytest.raises(SizeupError):  # second metric's summary is malformed -> whole finish rolls back
            db.finish_run(rid, {"tg": {"mean": 1.0}, "pp": {"nomean": 2}}, "ok")
        r = db.get_run(rid)
        assert r.status == "running" and r.summaries == {}


WRITER = textwrap.dedent("""
    import sys, time
    from sizeup.history import HistoryDB
    db = HistoryDB(sys.argv[1])
    i = 0
    while True:
        rid = db.start_run("llama.cpp", {"name": "m"}, {"i": i}, {}, None)
        db.finish_run(rid, {"tg": {"mean": float(i), "stddev": 0, "median": float(i), "n": 1}}, "ok",
                      samples={"tg": ([float(i)] * 200, "tok/s")})
        i += 1
        if i == 3:
            print("ready", flush=True)
""")


def test_sigkill_mid_write_leaves_a_valid_database(tmp_path):
    p = tmp_path / "h.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(p)], stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # writing continuously now
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    with HistoryDB(p) as db:
        assert db.integrity_check() == "ok"
        runs = db.list_runs(limit=None)
        ok = [r for r in runs if r.status == "ok"]
        assert len(ok) >= 3
        for r in ok:  # a finished run has its summary and all of its samples, never a part
            full = db.get_run(r.id, with_samples=True)
            assert full.summaries["tg"]["mean"] == float(r.config["i"])
            assert len(full.samples["tg"]) == 200
        # at most the one run in progress is left without a status change
        assert sum(1 for r in runs if r.status == "running") <= 1


def test_dead_runs_are_marked_interrupted(tmp_path):
    from sizeup.hardware.bandwidth import hostname_hash

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    with HistoryDB(tmp_path / "h.db") as db:
        dead = db.start_run("llama.cpp", None, {}, {}, None, extra={"pid": child.pid, "host": hostname_hash()})
        alive = db.start_run("llama.cpp", None, {}, {}, None, extra={"pid": os.getpid(), "host": hostname_hash()})
        assert db.mark_dead_runs() == 1
        assert db.get_run(dead).status == "interrupted"
        assert db.get_run(alive).status == "running"


def test_calibration_points_round_trip(tmp_path):
    with HistoryDB(tmp_path / "h.db") as db:
        rid = db.start_run("llama.cpp", None, {}, {}, HW)
        fp = hardware_fingerprint(HW)[0]
        db.add_calibration_point(fp, rid, "tg", 100.0, 55.0, {"n_threads": 4, "n_gpu_layers": 0})
        db.add_calibration_point("other", rid, "tg", 1.0, 1.0)
        pts = db.calibration_points(fp)
    assert len(pts) == 1 and pts[0]["predicted"] == 100.0 and pts[0]["measured"] == 55.0
    assert pts[0]["features"]["n_threads"] == 4


def test_load_calibration_from_the_history(tmp_path):
    from sizeup.bench.calibrate import load_calibration, load_calibration_info
    from sizeup.hardware.model import CPUInfo, Hardware, MemoryInfo

    hw = Hardware(cpu=CPUInfo("Test CPU", "intel", "x86_64", 4, 8), memory=MemoryInfo(16 << 30, 8 << 30),
                  cpu_bandwidth_gbs=40.0)
    p = tmp_path / "h.db"
    assert load_calibration(hw, db_path=p) is None  # no history yet: None, no error
    fp = hardware_fingerprint(hw)[0]
    with HistoryDB(p) as db:
        for i, pred in enumerate((100.0, 300.0)):
            rid = db.start_run("llama.cpp", None, {}, {}, hw)
            db.add_calibration_point(fp, rid, "tg", pred, pred * 0.5, {"n_threads": 4, "n_gpu_layers": 0})
    cal = load_calibration(hw, db_path=p)
    assert cal is not None and cal.efficiency == pytest.approx(0.5) and cal.n_points == 2
    assert cal.calibration.efficiency == cal.efficiency and cal.overhead_s == cal.calibration.overhead_s
    assert "calibrated from 2 run(s)" in load_calibration_info(hw, db_path=p).describe()
    # it plugs into the speed model as a Calibration: half the efficiency, half the decode rate
    from sizeup.estimate.speed import Calibration, DeviceSpec, estimate_speed
    from sizeup.formats.gguf_model import describe_gguf
    from sizeup.testmodels import fetch

    m = describe_gguf(fetch("smollm2"))
    cpu = DeviceSpec("cpu", 40e9, 1e13)  # ample compute: decode is memory-bound
    half = estimate_speed(m.tensors, m.arch, cpu=cpu, calibration=cal)
    full = estimate_speed(m.tensors, m.arch, cpu=cpu, calibration=Calibration(1.0, 0.0, 1, 0.0))
    assert half.calibrated and half.bound == "memory"
    assert half.decode_tps == pytest.approx(full.decode_tps / 2, rel=1e-9)


def test_model_identity_distinguishes_files(tmp_path, smollm2_path, gemma3_path):
    a, b = model_identity(smollm2_path), model_identity(gemma3_path)
    assert a["hash"] != b["hash"] and a["size"] == smollm2_path.stat().st_size
    with pytest.raises(SizeupError):
        model_identity(tmp_path / "missing.gguf")


def test_parse_run_ids():
    assert parse_run_ids(["3", "#5", "7-9"]) == [3, 5, 7, 8, 9]
    for bad in ("x", "9-7", "1-5000"):
        with pytest.raises(SizeupError):
            parse_run_ids([bad])


# --- CLI -----------------------------------------------------------------------------------------

@pytest.fixture()
def populated(tmp_path, smollm2_path) -> tuple[Path, list[int]]:
    p = tmp_path / "h.db"
    with HistoryDB(p) as db:
        ids = _populate(db, smollm2_path)
    return p, ids


def test_history_cli_json_and_exports(populated):
    p, ids = populated
    r = cli("history", "--db", str(p), "--json")
    assert r.returncode == 0, r.stderr
    runs = json.loads(r.stdout)["runs"]
    assert [x["id"] for x in runs] == list(reversed(ids))
    assert runs[0]["summaries"]["tg"]["mean"] == pytest.approx(16.0)

    r = cli("history", "--db", str(p), "--export", "--format", "json")
    exported = json.loads(r.stdout)["runs"]
    assert exported[0]["samples"]["tg"] == [15.0, 16.0, 17.0]

    r = cli("history", "--db", str(p), "--export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [int(x["run"]) for x in rows] == list(reversed(ids))
    assert float(rows[1]["tg_mean"]) == pytest.approx(21.0)

    r = cli("history", "--db", str(p), "--export", "--format", "md")
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("| run |") and lines[1].startswith("|---") and len(lines) == 2 + len(ids)

    r = cli("history", "--db", str(p))
    assert r.returncode == 0 and "SmolLM2" in r.stdout


def test_compare_cli_ratios(populated):
    p, ids = populated
    r = cli("compare", *map(str, ids), "--db", str(p), "--format", "json")
    assert r.returncode == 0, r.stderr
    cmp = json.loads(r.stdout)
    assert cmp["differing_settings"] == ["flash_attn"]
    tg = next(m for m in cmp["metrics"] if m["metric"] == "tg")
    assert tg["values"][0]["ratio"] == pytest.approx(1.0)
    assert tg["values"][1]["ratio"] == pytest.approx(16.0 / 21.0)
    r = cli("compare", *map(str, ids), "--db", str(p), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {x["metric"] for x in rows} == {"tg", "load"}
    r = cli("compare", *map(str, ids), "--db", str(p))
    assert r.returncode == 0 and "x)" in r.stdout
    r = cli("compare", *map(str, ids), "--db", str(p), "--format", "md")
    assert r.stdout.startswith("| metric |")


@pytest.mark.parametrize("args,match", [
    (["compare", "1"], "at least two"),
    (["compare", "1", "abc"], "not a run id"),
    (["compare", "1", "99"], "no run 99"),
    (["history", "--limit", "0"], "--limit"),
])
def test_cli_errors_are_one_line_exit_2(populated, args, match):
    p, _ = populated
    r = cli(*args, "--db", str(p))
    assert r.returncode == 2
    assert match in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_history_without_a_database(tmp_path):
    r = cli("history", "--db", str(tmp_path / "none.db"))
    assert r.returncode == 2 and "no history" in r.stderr
    assert not (tmp_path / "none.db").exists()


def test_a_run_on_a_busy_machine_does_not_poison_the_calibration(tmp_path):
    """A point 88x slower than the roofline (a contended run) is left out; sane points still fit."""
    from sizeup.bench.calibrate import MAX_CALIBRATION_RATIO, fit_points

    feats = {"n_threads": 2, "n_gpu_layers": 0}
    sane = [{"run_id": i, "metric": "tg", "predicted": 100.0, "measured": 60.0, "features": feats} for i in (1, 2)]
    busy = [{"run_id": 3, "metric": "tg", "predicted": 149.4, "measured": 149.4 / 88.85, "features": feats}]
    cal = fit_points(sane + busy)
    assert cal is not None and cal.n_points == 2 and cal.efficiency == pytest.approx(0.6)
    assert fit_points(busy) is None  # nothing plausible to calibrate from: estimates stay uncalibrated
    edge = [{"run_id": 4, "metric": "tg", "predicted": 100.0, "measured": 100.0 / MAX_CALIBRATION_RATIO,
             "features": feats}]
    assert fit_points(edge) is not None
