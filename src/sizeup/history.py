"""The results history: every benchmark (and quality / endpoint run) in one SQLite file.

Why SQLite: one file, no server, atomic transactions, and readable by any tool. The database
is opened in WAL mode and every write is one transaction, so a run killed at any moment (Ctrl-C,
OOM killer, SIGKILL) leaves a valid database: finished runs complete, the run in progress marked
``running`` with whatever it committed before.

Layout (``SCHEMA_VERSION``; ``schema_version`` holds the version, :data:`MIGRATIONS` upgrade old
files in place, a file from a newer sizeup is refused rather than damaged):

* ``runs``: one row per measured configuration - when, what kind (``llama.cpp``, ``endpoint``,
  ``quality``...), sizeup and llama.cpp versions, hardware fingerprint (hash + JSON), model
  identity (path, size, partial sha256, name, quant), the full configuration and the prediction
  made before the run (JSON), status and error.
* ``samples``: every repetition's raw value (``run_id, metric, rep, value, unit``).
* ``summaries``: per metric mean, sample stddev, median, n and unit.
* ``calibration_points``: measured vs model-predicted speed per hardware fingerprint, which
  :mod:`sizeup.bench.calibrate` fits the speed model to.
* ``experiments`` (version 2): one row per ``sizeup try``, its corpus, settings and whole result
  document; its candidates are ``runs`` of kind ``try`` whose ``extra.experiment_id`` points here.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import SizeupError
from .safe_open import open_regular

SCHEMA_VERSION = 2
MAX_SAMPLES_PER_METRIC = 100_000
MAX_JSON_CHARS = 4 * 1024 * 1024
MAX_LIST = 100_000
IDENTITY_HEAD_BYTES = 1 << 20  # model identity: sha256 of the first MiB (GGUF header + start) and the size
STATUSES = ("running", "ok", "failed", "interrupted", "skipped")

MIGRATIONS: tuple[str, ...] = (
    # version 1
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        kind TEXT NOT NULL,
        sizeup_version TEXT,
        llama_version TEXT,
        llama_system_info TEXT,
        hw_fingerprint TEXT,
        hw_json TEXT,
        model_path TEXT,
        model_size INTEGER,
        model_hash TEXT,
        model_name TEXT,
        model_quant TEXT,
        config_json TEXT NOT NULL DEFAULT '{}',
        prediction_json TEXT NOT NULL DEFAULT '{}',
        extra_json TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'running',
        error TEXT
    );
    CREATE INDEX runs_model ON runs(model_name, model_hash);
    CREATE INDEX runs_hw ON runs(hw_fingerprint);
    CREATE TABLE samples (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        metric TEXT NOT NULL,
        rep INTEGER NOT NULL,
        value REAL NOT NULL,
        unit TEXT,
        PRIMARY KEY (run_id, metric, rep)
    );
    CREATE TABLE summaries (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        metric TEXT NOT NULL,
        mean REAL NOT NULL,
        stddev REAL NOT NULL,
        median REAL NOT NULL,
        n INTEGER NOT NULL,
        unit TEXT,
        PRIMARY KEY (run_id, metric)
    );
    CREATE TABLE calibration_points (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        hw_fingerprint TEXT NOT NULL,
        run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,
        metric TEXT NOT NULL,
        predicted REAL,
        measured REAL NOT NULL,
        features_json TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
    );
    CREATE INDEX calib_hw ON calibration_points(hw_fingerprint, metric);
    """,
    # version 2: `sizeup try` experiments (their candidates are runs of kind 'try', linked by
    # extra_json.experiment_id); result_json holds the whole `try --json` document.
    """
    CREATE TABLE experiments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        kind TEXT NOT NULL DEFAULT 'try',
        status TEXT NOT NULL DEFAULT 'running',
        hw_fingerprint TEXT,
        corpus_json TEXT NOT NULL DEFAULT '{}',
        settings_json TEXT NOT NULL DEFAULT '{}',
        result_json TEXT NOT NULL DEFAULT '{}',
        error TEXT
    );
    """,
)


def default_path() -> Path:
    """``$SIZEUP_HISTORY_DB`` or ``user_data_dir("sizeup")/history.db``."""
    env = os.environ.get("SIZEUP_HISTORY_DB")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("sizeup")) / "history.db"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _dump(obj: Any, what: str) -> str:
    s = json.dumps(obj if obj is not None else {}, default=_json_default, sort_keys=True)
    if len(s) > MAX_JSON_CHARS:
        raise SizeupError(f"{what} is too large to record ({len(s)} characters)")
    return s


def _json_default(o: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(o):
        return asdict(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def _load(s: Any) -> dict[str, Any]:
    """A stored JSON object; anything else (bad JSON, a list, a number, huge) is flagged, never raised."""
    if not s:
        return {}
    if not isinstance(s, str):
        return {"unreadable": f"not JSON text ({type(s).__name__})"}
    if len(s) > MAX_JSON_CHARS:
        return {"unreadable": f"{len(s)} characters of JSON (limit {MAX_JSON_CHARS})"}
    try:
        from .bounded_json import bounded_json_loads

        v = bounded_json_loads(s, max_values=MAX_LIST)
    except ValueError:
        return {"unreadable": s[:200]}
    return v if isinstance(v, dict) else {"unreadable": f"JSON {type(v).__name__}, not an object"}


def _text(b: bytes) -> str:
    """SQLite TEXT as str; invalid UTF-8 (a damaged file) is replaced, not an error for the whole query."""
    return b.decode("utf-8", "replace")


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ("" if v is None else str(v))


def _opt_str(v: Any) -> str | None:
    return None if v is None else _str(v)


def _num(v: Any, default: float) -> float:
    return float(v) if isinstance(v, (int, float)) else default


def _unreadable(run_id: int, why: str) -> "RunRecord":
    """A placeholder for a run whose row could not be read, flagged in status and error."""
    return RunRecord(id=run_id, started_at="", finished_at=None, kind="?", status="unreadable", error=why[:500],
                     model={}, hardware={}, hw_fingerprint=None, versions={}, config={}, prediction={}, extra={},
                     summaries={})


# --- identities --------------------------------------------------------------------------------

def model_identity(path: str | os.PathLike[str], name: str | None = None, quant: str | None = None) -> dict[str, Any]:
    """Who a model file is, cheaply: path, size and sha256 of its first MiB plus its size.

    Hashing the whole file would cost seconds to minutes per run; the first MiB holds the GGUF
    header (architecture, tokenizer start, tensor table), so two different models or quants
    practically never share it, and the size is mixed in for the rest.
    """
    p = Path(path)
    try:
        h = hashlib.sha256()
        with open_regular(p) as f:
            size = os.fstat(f.fileno()).st_size
            h.update(f.read(IDENTITY_HEAD_BYTES))
        h.update(str(size).encode())
    except OSError as e:
        raise SizeupError(f"{p}: cannot read model file ({e.strerror})") from None
    return {"path": str(p.resolve()), "size": size, "hash": h.hexdigest()[:32], "name": name or p.name, "quant": quant}


def hardware_fingerprint(hw: Any) -> tuple[str, dict[str, Any]]:
    """A stable id for "this machine" as speed depends on it, and the facts it is made of.

    CPU model and core counts, RAM rounded to GiB (free memory varies, total does not), GPU names
    and VRAM totals rounded to GiB. Not the host name: histories get shared in bug reports.
    """
    if hw is None:
        facts: dict[str, Any] = {"cpu": "unknown"}
    elif isinstance(hw, dict):
        facts = hw
    else:
        facts = {
            "cpu": hw.cpu.model,
            "arch": hw.cpu.arch,
            "physical_cores": hw.cpu.physical_cores,
            "logical_cores": hw.cpu.logical_cores,
            "ram_gib": round(hw.memory.total / 2**30),
            "gpus": [{"name": g.name, "vram_gib": round((g.vram_total or 0) / 2**30)} for g in hw.gpus],
        }
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]
    return digest, facts


# --- the database ------------------------------------------------------------------------------

@dataclass
class RunRecord:
    id: int
    started_at: str
    finished_at: str | None
    kind: str
    status: str
    error: str | None
    model: dict[str, Any]
    hardware: dict[str, Any]
    hw_fingerprint: str | None
    versions: dict[str, Any]
    config: dict[str, Any]
    prediction: dict[str, Any]
    extra: dict[str, Any]
    summaries: dict[str, dict[str, Any]]
    samples: dict[str, list[float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        d = asdict(self)
        if self.samples is None:
            d.pop("samples")
        return d


class HistoryDB:
    """The history file. Use as a context manager or call :meth:`close`.

    Every public write runs in its own transaction (``with self._tx()``): it is all there after a
    crash or not at all.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, timeout: float = 30.0, *,
                 readonly: bool = False) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.readonly = readonly
        if self.path.exists() and not self.path.is_file():
            raise SizeupError(f"{self.path}: history database path is not a file")
        if readonly:
            self._open_readonly(timeout)
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SizeupError(f"{self.path.parent}: cannot create the history directory ({e.strerror})") from None
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
            self.conn.text_factory = _text
            self.conn.execute("PRAGMA foreign_keys = ON")
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if not mode or str(mode[0]).lower() != "wal":  # e.g. a network file system
                self.conn.execute("PRAGMA journal_mode = DELETE")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise SizeupError(f"{self.path}: not a usable sizeup history database ({e})") from None

    @classmethod
    def reader(cls, path: str | os.PathLike[str] | None = None) -> "HistoryDB":
        """The history opened for reading only: never migrates, never writes, works in a read-only
        directory. For ``history``, ``compare`` and exports."""
        return cls(path, readonly=True)

    def _open_readonly(self, timeout: float) -> None:
        if not self.path.is_file():
            raise SizeupError(f"no history at {self.path}")
        from urllib.parse import quote

        base = "file:" + quote(str(self.path.resolve()))
        last: Exception | None = None
        # mode=ro first (sees a live writer's WAL); immutable=1 when the directory is read-only
        # and the WAL index cannot be created there (then nothing may be writing anyway).
        for query in ("?mode=ro", "?mode=ro&immutable=1"):
            try:
                self.conn = sqlite3.connect(base + query, uri=True, timeout=timeout, isolation_level=None)
                self.conn.text_factory = _text
                row = self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
                break
            except sqlite3.DatabaseError as e:
                last = e
                try:
                    self.conn.close()
                except Exception:  # noqa: BLE001
                    pass
        else:
            raise SizeupError(f"{self.path}: not a readable sizeup history database ({last})") from None
        have = int(row[0]) if row and isinstance(row[0], int) else 0
        if have > SCHEMA_VERSION:
            self.conn.close()
            raise SizeupError(f"{self.path}: history written by a newer sizeup (schema {have}, "
                              f"this version reads up to {SCHEMA_VERSION}); upgrade sizeup or use --db")

    # -- plumbing --
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "HistoryDB":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    class _Tx:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def __enter__(self) -> sqlite3.Connection:
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, et, ev, tb) -> None:
            self.conn.execute("COMMIT" if et is None else "ROLLBACK")

    def _tx(self) -> "HistoryDB._Tx":
        return HistoryDB._Tx(self.conn)

    def _migrate(self) -> None:
        with self._tx() as c:
            c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = c.execute("SELECT MAX(version) FROM schema_version").fetchone()
            have = int(row[0]) if row and row[0] is not None else 0
            if have > SCHEMA_VERSION:
                raise SizeupError(f"{self.path}: history written by a newer sizeup (schema {have}, "
                                  f"this version reads up to {SCHEMA_VERSION}); upgrade sizeup or use --db")
            for v in range(have, SCHEMA_VERSION):
                for stmt in MIGRATIONS[v].split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                c.execute("INSERT INTO schema_version (version) VALUES (?)", (v + 1,))

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    # -- writes --
    def start_run(self, kind: str, model: dict[str, Any] | None = None, config: dict[str, Any] | None = None,
                  prediction: dict[str, Any] | None = None, hardware: Any = None,
                  versions: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> int:
        """Record a run about to start (status ``running``); returns its id.

        ``model``: :func:`model_identity` dict (or any dict with path/size/hash/name/quant).
        ``hardware``: a :class:`~sizeup.hardware.Hardware`, or a dict of facts, or None.
        ``versions``: ``{"sizeup": ..., "llama_cpp": ..., "llama_system_info": ...}``; sizeup's own
        version is filled in when missing.
        """
        if not kind or len(kind) > 64:
            raise SizeupError("run kind must be a short name like 'llama.cpp' or 'endpoint'")
        from . import __version__

        m = model or {}
        v = dict(versions or {})
        fp, facts = hardware_fingerprint(hardware)
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO runs (started_at, kind, sizeup_version, llama_version, llama_system_info, hw_fingerprint,"
                " hw_json, model_path, model_size, model_hash, model_name, model_quant, config_json, prediction_json,"
                " extra_json, status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'running')",
                (_now(), kind, v.get("sizeup", __version__), v.get("llama_cpp"), v.get("llama_system_info"), fp,
                 _dump(facts, "hardware"), m.get("path"), m.get("size"), m.get("hash"), m.get("name"), m.get("quant"),
                 _dump(config, "configuration"), _dump(prediction, "prediction"), _dump(extra, "extra")))
            return int(cur.lastrowid)

    def add_samples(self, run_id: int, metric: str, values: Sequence[float], unit: str | None = None) -> None:
        """Store every repetition's raw value of ``metric`` for ``run_id`` (replacing earlier ones)."""
        vals = [float(x) for x in values]
        if len(vals) > MAX_SAMPLES_PER_METRIC:
            raise SizeupError(f"{len(vals)} samples of {metric}; at most {MAX_SAMPLES_PER_METRIC}")
        with self._tx() as c:
            self._check_run(c, run_id)
            c.execute("DELETE FROM samples WHERE run_id = ? AND metric = ?", (run_id, metric))
            c.executemany("INSERT INTO samples (run_id, metric, rep, value, unit) VALUES (?,?,?,?,?)",
                          [(run_id, metric, i, x, unit) for i, x in enumerate(vals)])

    def finish_run(self, run_id: int, summary: dict[str, Any] | None, status: str = "ok", error: str | None = None,
                   samples: dict[str, tuple[Sequence[float], str | None]] | None = None,
                   extra: dict[str, Any] | None = None, versions: dict[str, Any] | None = None) -> None:
        """Close a run: summaries (``{metric: {mean, stddev, median, n, unit}}``), status, error.

        ``samples`` (``{metric: (values, unit)}``) are written in the same transaction, so a run's
        raw values and its summary are both there or both absent. ``versions`` (``llama_cpp``,
        ``llama_system_info``) fills what only the measuring process knew.
        """
        if status not in STATUSES:
            raise SizeupError(f"run status must be one of {', '.join(STATUSES)}, not '{status}'")
        rows = []
        for metric, s in (summary or {}).items():
            try:
                rows.append((run_id, str(metric), float(s["mean"]), float(s.get("stddev") or 0.0),
                             float(s.get("median", s["mean"])), int(s.get("n", 1)), s.get("unit")))
            except (KeyError, TypeError, ValueError):
                raise SizeupError(f"summary of {metric!r} needs a numeric 'mean'") from None
        with self._tx() as c:
            self._check_run(c, run_id)
            for metric, (vals, unit) in (samples or {}).items():
                vals = [float(x) for x in vals][:MAX_SAMPLES_PER_METRIC]
                c.execute("DELETE FROM samples WHERE run_id = ? AND metric = ?", (run_id, metric))
                c.executemany("INSERT INTO samples (run_id, metric, rep, value, unit) VALUES (?,?,?,?,?)",
                              [(run_id, metric, i, x, unit) for i, x in enumerate(vals)])
            c.executemany("INSERT OR REPLACE INTO summaries (run_id, metric, mean, stddev, median, n, unit)"
                          " VALUES (?,?,?,?,?,?,?)", rows)
            if extra:
                old = _load(c.execute("SELECT extra_json FROM runs WHERE id = ?", (run_id,)).fetchone()[0])
                old.update(extra)
                c.execute("UPDATE runs SET extra_json = ? WHERE id = ?", (_dump(old, "extra"), run_id))
            for key, col in (("llama_cpp", "llama_version"), ("llama_system_info", "llama_system_info")):
                if versions and versions.get(key):
                    c.execute(f"UPDATE runs SET {col} = ? WHERE id = ?", (str(versions[key])[:2000], run_id))
            c.execute("UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?",
                      (status, (error or None) and str(error)[:1000], _now(), run_id))

    def record_result(self, kind: str, model_identity: dict[str, Any] | None, config: dict[str, Any] | None,
                      metrics: dict[str, Any], extra: dict[str, Any] | None = None, *, hardware: Any = None,
                      prediction: dict[str, Any] | None = None, versions: dict[str, Any] | None = None,
                      status: str = "ok", error: str | None = None) -> int:
        """One finished result in one call, for commands that measure elsewhere (endpoint bench,
        quality). ``metrics``: ``{name: number}``, ``{name: [samples...]}`` or
        ``{name: {"values": [...], "unit": "tok/s"}}`` / ``{name: {"mean": ..., "unit": ...}}``.
        Returns the run id."""
        from .bench.stats import summarize

        summ: dict[str, Any] = {}
        samples: dict[str, tuple[Sequence[float], str | None]] = {}
        if len(metrics) > MAX_LIST:
            raise SizeupError("too many metrics in one result")
        for name, v in metrics.items():
            unit = None
            if isinstance(v, dict) and "mean" in v and "values" not in v:
                summ[name] = dict(v)
                continue
            if isinstance(v, dict):
                unit = v.get("unit")
                v = v.get("values", [])
            vals = [float(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
            if not vals:
                continue
            s = summarize(vals)
            summ[name] = {"mean": s.mean, "stddev": s.stddev, "median": s.median, "n": s.n, "unit": unit}
            samples[name] = (vals, unit)
        run_id = self.start_run(kind, model_identity, config, prediction, hardware, versions, extra)
        self.finish_run(run_id, summ, status, error, samples=samples)
        return run_id

    def add_calibration_point(self, hw_fingerprint: str, run_id: int | None, metric: str, predicted: float | None,
                              measured: float, features: dict[str, Any] | None = None) -> None:
        with self._tx() as c:
            c.execute("INSERT INTO calibration_points (hw_fingerprint, run_id, metric, predicted, measured,"
                      " features_json, created_at) VALUES (?,?,?,?,?,?,?)",
                      (hw_fingerprint, run_id, metric, predicted, float(measured), _dump(features, "features"), _now()))

    def dead_runs(self) -> list[int]:
        """Ids of runs still ``running`` whose recording process (same host) no longer exists (reads only)."""
        from .hardware.bandwidth import hostname_hash

        host = hostname_hash()
        dead = []
        for rid, extra in self.conn.execute("SELECT id, extra_json FROM runs WHERE status = 'running' LIMIT ?",
                                            (MAX_LIST,)).fetchall():
            e = _load(extra)
            pid = e.get("pid")
            if isinstance(pid, int) and e.get("host") == host and not _pid_alive(pid):
                dead.append(rid)
        return dead

    def mark_dead_runs(self) -> int:
        """Mark ``interrupted`` the runs still ``running`` whose recording process (``extra.pid``,
        same host) no longer exists - a bench killed with SIGKILL or by the OOM killer."""
        dead = self.dead_runs()
        if not dead or self.readonly:
            return 0
        with self._tx() as c:
            c.executemany("UPDATE runs SET status = 'interrupted', error = COALESCE(error, 'the benchmark process "
                          "ended before this run finished') WHERE id = ? AND status = 'running'", [(r,) for r in dead])
        return len(dead)

    @staticmethod
    def _check_run(c: sqlite3.Connection, run_id: int) -> None:
        if c.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise SizeupError(f"no run {run_id} in the history")

    # -- reads --
    def get_run(self, run_id: int, with_samples: bool = False) -> RunRecord:
        try:
            row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (int(run_id),)).fetchone()
            if row is None:
                raise SizeupError(f"no run {run_id} in {self.path}")
            return self._record(row, with_samples)
        except (sqlite3.DatabaseError, ValueError, TypeError, KeyError) as e:
            return _unreadable(int(run_id), f"row unreadable ({type(e).__name__}: {e})")

    def list_runs(self, limit: int | None = 20, model: str | None = None, kind: str | None = None,
                  status: str | None = None, with_samples: bool = False) -> list[RunRecord]:
        """Newest first. ``model`` matches name, path or hash by substring (case-insensitive)."""
        q = "SELECT * FROM runs WHERE 1=1"
        params: list[Any] = []
        if model:
            q += " AND (model_name LIKE ? OR model_path LIKE ? OR model_hash LIKE ?)"
            like = f"%{model}%"
            params += [like, like, like]
        if kind:
            q += " AND kind = ?"
            params.append(kind)
        if status:
            q += " AND status = ?"
            params.append(status)
        q += " ORDER BY id DESC"
        if limit is not None:
            if limit <= 0:
                raise SizeupError(f"--limit must be positive, not {limit}")
            q += " LIMIT ?"
            params.append(min(int(limit), MAX_LIST))
        return self._records(q, params, with_samples)

    def _records(self, q: str, params: list[Any], with_samples: bool) -> list[RunRecord]:
        """Rows of ``q`` as records; a row that cannot be read (corrupt page, bad types) becomes a
        flagged record instead of failing the whole listing."""
        ids: list[int] = []
        cur = self.conn.execute(q.replace("SELECT *", "SELECT id", 1), params)
        while True:
            try:
                row = cur.fetchone()
            except sqlite3.DatabaseError as e:  # the rest of the table is unreadable
                ids.append(-1)
                self._scan_error = str(e)
                break
            if row is None:
                break
            ids.append(row[0])
        out = []
        for rid in ids:
            if rid == -1:
                out.append(_unreadable(-1, f"the rest of the history is unreadable ({self._scan_error})"))
                continue
            try:
                row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (rid,)).fetchone()
                if row is not None:
                    out.append(self._record(row, with_samples))
            except (sqlite3.DatabaseError, ValueError, TypeError, KeyError) as e:
                out.append(_unreadable(rid if isinstance(rid, int) else -1, f"row unreadable ({type(e).__name__}: {e})"))
        return out

    def calibration_points(self, hw_fingerprint: str, metric: str | None = None) -> list[dict[str, Any]]:
        """Measured-vs-predicted points for one machine, oldest first."""
        q = "SELECT run_id, metric, predicted, measured, features_json, created_at FROM calibration_points WHERE hw_fingerprint = ?"
        params: list[Any] = [hw_fingerprint]
        if metric:
            q += " AND metric = ?"
            params.append(metric)
        q += " ORDER BY id LIMIT ?"
        params.append(MAX_LIST)
        return [{"run_id": r[0], "metric": r[1], "predicted": r[2], "measured": r[3], "features": _load(r[4]),
                 "created_at": r[5]} for r in self.conn.execute(q, params).fetchall()]

    # -- experiments (`sizeup try`) --
    def start_experiment(self, corpus: dict[str, Any], settings: dict[str, Any], hardware: Any = None,
                         kind: str = "try") -> int:
        """Record an experiment about to run (status ``running``); returns its id."""
        fp, _ = hardware_fingerprint(hardware)
        with self._tx() as c:
            cur = c.execute("INSERT INTO experiments (started_at, kind, status, hw_fingerprint, corpus_json,"
                            " settings_json) VALUES (?,?,'running',?,?,?)",
                            (_now(), kind, fp, _dump(corpus, "corpus"), _dump(settings, "settings")))
            return int(cur.lastrowid)

    def finish_experiment(self, exp_id: int, result: dict[str, Any], status: str = "ok",
                          error: str | None = None) -> None:
        """Store the experiment's whole result document and close it."""
        if status not in STATUSES:
            raise SizeupError(f"experiment status must be one of {', '.join(STATUSES)}, not '{status}'")
        with self._tx() as c:
            if c.execute("SELECT 1 FROM experiments WHERE id = ?", (exp_id,)).fetchone() is None:
                raise SizeupError(f"no experiment {exp_id} in the history")
            c.execute("UPDATE experiments SET result_json = ?, status = ?, error = ?, finished_at = ? WHERE id = ?",
                      (_dump(result, "experiment result"), status, (error or None) and str(error)[:1000], _now(),
                       exp_id))

    def get_experiment(self, exp_id: int) -> dict[str, Any]:
        row = self.conn.execute("SELECT id, started_at, finished_at, kind, status, hw_fingerprint, corpus_json,"
                                " settings_json, result_json, error FROM experiments WHERE id = ?",
                                (int(exp_id),)).fetchone()
        if row is None:
            raise SizeupError(f"no experiment {exp_id} in {self.path}")
        return self._experiment(row)

    def list_experiments(self, limit: int | None = 20, kind: str | None = None) -> list[dict[str, Any]]:
        """Newest first: dicts with id, started_at, finished_at, kind, status, hw_fingerprint, corpus,
        settings, result (the ``try --json`` document; ``{}`` while running) and error."""
        q = ("SELECT id, started_at, finished_at, kind, status, hw_fingerprint, corpus_json, settings_json,"
             " result_json, error FROM experiments")
        params: list[Any] = []
        if kind:
            q += " WHERE kind = ?"
            params.append(kind)
        q += " ORDER BY id DESC LIMIT ?"
        params.append(min(int(limit), MAX_LIST) if limit is not None else MAX_LIST)
        try:
            rows = self.conn.execute(q, params).fetchall()
        except sqlite3.OperationalError:  # a read-only view of a history from before schema 2
            return []
        return [self._experiment(r) for r in rows]

    def experiment_run_ids(self, exp_id: int) -> list[int]:
        """Ids of the ``try`` runs recorded for experiment ``exp_id``, in candidate order."""
        out = []
        for rid, extra in self.conn.execute("SELECT id, extra_json FROM runs WHERE kind = 'try' ORDER BY id LIMIT ?",
                                            (MAX_LIST,)).fetchall():
            if _load(extra).get("experiment_id") == int(exp_id):
                out.append(int(rid))
        return out

    @staticmethod
    def _experiment(r: tuple) -> dict[str, Any]:
        return {"id": r[0], "started_at": r[1], "finished_at": r[2], "kind": r[3], "status": r[4],
                "hw_fingerprint": r[5], "corpus": _load(r[6]), "settings": _load(r[7]), "result": _load(r[8]),
                "error": r[9]}

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    def _record(self, row: tuple, with_samples: bool) -> RunRecord:
        cols = [d[0] for d in self.conn.execute("SELECT * FROM runs LIMIT 0").description]
        r = dict(zip(cols, row))
        rid = r["id"]
        summ: dict[str, dict[str, Any]] = {}
        for m, mean, sd, med, n, unit in self.conn.execute(
                "SELECT metric, mean, stddev, median, n, unit FROM summaries WHERE run_id = ? ORDER BY metric LIMIT ?",
                (rid, MAX_LIST)):
            if not isinstance(mean, (int, float)):  # a value of the wrong type is skipped, not fatal
                continue
            summ[_str(m)] = {"mean": float(mean), "stddev": _num(sd, 0.0), "median": _num(med, float(mean)),
                             "n": n if isinstance(n, int) else 1, "unit": _opt_str(unit)}
        samples = None
        if with_samples:
            samples = {}
            for m, v in self.conn.execute("SELECT metric, value FROM samples WHERE run_id = ? ORDER BY metric, rep",
                                          (rid,)):
                if isinstance(v, (int, float)):
                    samples.setdefault(_str(m), []).append(float(v))
        return RunRecord(
            id=rid, started_at=_str(r["started_at"]), finished_at=_opt_str(r["finished_at"]), kind=_str(r["kind"]),
            status=_str(r["status"]), error=_opt_str(r["error"]),
            model={"path": _opt_str(r["model_path"]), "size": r["model_size"] if isinstance(r["model_size"], int) else None,
                   "hash": _opt_str(r["model_hash"]), "name": _opt_str(r["model_name"]),
                   "quant": _opt_str(r["model_quant"])},
            hardware=_load(r["hw_json"]), hw_fingerprint=_opt_str(r["hw_fingerprint"]),
            versions={"sizeup": _opt_str(r["sizeup_version"]), "llama_cpp": _opt_str(r["llama_version"]),
                      "llama_system_info": _opt_str(r["llama_system_info"])},
            config=_load(r["config_json"]), prediction=_load(r["prediction_json"]), extra=_load(r["extra_json"]),
            summaries=summ, samples=samples)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def parse_run_ids(items: Iterable[str]) -> list[int]:
    """``["3", "5-7"]`` -> ``[3, 5, 6, 7]``; one clear error for anything else."""
    out: list[int] = []
    for s in items:
        s = str(s).strip().lstrip("#")
        try:
            if "-" in s[1:]:
                a, b = s.split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo or hi - lo > 1000:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(s))
        except ValueError:
            raise SizeupError(f"'{s}' is not a run id (use the numbers `sizeup history` shows)") from None
    if len(out) > MAX_LIST:
        raise SizeupError("too many run ids")
    return out
