"""History schema 2: `sizeup try` experiments, and the upgrade of a version-1 file in place."""

from __future__ import annotations

import sqlite3

from sizeup.history import MIGRATIONS, SCHEMA_VERSION, HistoryDB


def test_version_1_file_is_upgraded_and_keeps_its_runs(tmp_path):
    p = tmp_path / "old.db"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    con.executescript(MIGRATIONS[0])
    con.execute("INSERT INTO schema_version VALUES (1)")
    con.execute("INSERT INTO runs (started_at, kind, status) VALUES ('2026-01-01T00:00:00Z', 'llama.cpp', 'ok')")
    con.commit()
    con.close()
    with HistoryDB.reader(p) as db:  # a read-only view of the old file: no experiments table yet
        assert db.list_experiments() == []
    with HistoryDB(p) as db:
        assert db.schema_version == SCHEMA_VERSION >= 2
        assert [r.kind for r in db.list_runs()] == ["llama.cpp"]
        e = db.start_experiment({"kind": "repo", "sha256": "ab"}, {"n_chunks": 2}, None)
        rid = db.start_run("try", {"name": "m"}, {}, {}, None, extra={"experiment_id": e})
        db.start_run("try", {"name": "other"}, {}, {}, None, extra={"experiment_id": e + 1})
        assert db.list_experiments()[0]["status"] == "running"
        db.finish_experiment(e, {"schema": "sizeup.try/1", "candidates": []}, "interrupted")
    with HistoryDB.reader(p) as db:
        x = db.get_experiment(e)
        assert x["status"] == "interrupted" and x["result"]["schema"] == "sizeup.try/1"
        assert x["corpus"]["sha256"] == "ab" and x["settings"]["n_chunks"] == 2
        assert db.experiment_run_ids(e) == [rid]
