"""Weight summaries (and the memory model's non-weight buffers) kept on disk between runs.

Predicting llama.cpp's per-tensor types for every (architecture shape, quant) is the slowest part
of ranking a catalog the first time. The results depend only on the shape, the quant and the
rules, so they are stored in the user cache (``~/.cache/sizeup/weight-summaries.json``, or
``$SIZEUP_SUMMARY_CACHE``) under a version made of the rule modules' own source: editing a rule
invalidates every entry. The same file keeps, per (shape, run config, devices), the two
memory-model runs a ranking derives every placement from (:class:`~.plan.Bases`), and per
(shape, run config) the last plan search, used again only on the very machine it was made for
(:func:`get_plans`). A run without a usable file starts from the summaries shipped with the
package (:mod:`.summary_seed`). The file is read once, bounded in size, and a broken or foreign
file is ignored (and replaced on the next save); nothing in it is trusted beyond being numbers.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
from pathlib import Path

from .weight_summary import WeightSummary

MAX_FILE_BYTES = 64 << 20
MAX_ENTRIES = 20_000  # oldest tenth dropped when full
_RULE_MODULES = ("quant_mix.py", "weight_summary.py", "../layout.py", "../data/quant_mix_rules.py",
                 "../data/ggml_types.py",
                 # the memory model's non-weight buffers (plan.Bases) are stored too
                 "plan.py", "memory.py", "buffers.py", "kv_cache.py", "config.py", "placement.py", "repack.py")
# What a stored plan search also depends on (the speed model, the scores, the search itself): an
# edit to any of them only retires the stored plans, not the summaries and bases.
_PLAN_MODULES = ("speed.py", "plan_speed.py", "expert_offload.py", "native.py", "../scoring.py", "../recommend.py",
                 "../advice/plan_codec.py",
                 "../model.py", "../data/quant_quality.py", "../bench/calibrate.py")

# Written by scripts/build_summary_seed.py (see :mod:`.summary_seed`); a seed of another version is ignored.
SEED_PATH = Path(__file__).resolve().parent.parent / "data" / "summary_seed.json"

_state: dict = {"loaded": False, "entries": {}, "dirty": False, "path": None, "version": None, "decoded": {}}


def cache_path() -> Path:
    env = os.environ.get("SIZEUP_SUMMARY_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sizeup")) / "weight-summaries.json"


def _version() -> str:
    return _source_hash(b"rle2+bases1", _RULE_MODULES)


def _source_hash(salt: bytes, modules: tuple[str, ...]) -> str:
    h = hashlib.sha256(salt)
    here = Path(__file__).resolve().parent
    for rel in modules:
        try:
            h.update((here / rel).resolve().read_bytes())
        except OSError:
            h.update(rel.encode())
    return h.hexdigest()[:16]


def plans_version() -> str:
    """The version stored plan searches carry on top of the file's: the source of what a plan
    search runs besides the summaries and bases (read once per process)."""
    v = _state.get("plans_version")
    if v is None:
        v = _state["plans_version"] = _source_hash(b"plans1", _PLAN_MODULES)
    return v


def _rle(v: tuple[int, ...]) -> list[int]:
    """[value, count, value, count...]: per-layer sums repeat for whole runs of identical layers
    (grouped by itertools: a save encodes every new summary's four arrays)."""
    out: list[int] = []
    for x, run in itertools.groupby(v):
        out += [x, len(list(run))]
    return out


def _ints(v, n: int | None = None) -> tuple[int, ...] | None:
    if not isinstance(v, list) or len(v) % 2 or len(v) > 200_000:
        return None
    if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 1 << 62 for x in v):
        return None
    if sum(v[1::2]) != n:
        return None
    out: list[int] = []
    for i in range(0, len(v), 2):
        out += [v[i]] * v[i + 1]
    return tuple(out)


def _decode(d) -> WeightSummary | None:
    try:
        n = d["n_layer"]
        if not isinstance(n, int) or not 0 < n <= 100_000:
            return None
        arrays = [_ints(d[k], n) for k in ("dense", "exps", "dense_el", "exps_el")]
        scalars = [d[k] for k in ("embd", "out", "out_el", "total", "tied_bytes")]
        if any(a is None for a in arrays) or not all(isinstance(x, int) and 0 <= x < 1 << 62 for x in scalars):
            return None
        row = float(d["embd_row"])
        return WeightSummary(str(d["quant"])[:32], n, *arrays, scalars[0], row, scalars[1], scalars[2],
                             bool(d["tied"]), scalars[3], scalars[4])
    except (KeyError, TypeError, ValueError):
        return None


def _load() -> None:
    _state["loaded"] = True
    _state["path"] = cache_path()
    _state["version"] = v = _version()
    entries = _read_entries(_state["path"], v)
    # No usable cache yet (a first run, or rules edited since): start from the summaries of the
    # built-in catalog's shapes that ship with the package, when they were made by these rules.
    _state["entries"] = entries if entries is not None else (_read_entries(SEED_PATH, v) or {})


def _read_entries(p: Path, version: str) -> dict | None:
    """The entries of a cache file of ``version``; None when it is missing, too large, broken or
    of another version."""
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            return None
        doc = json.loads(p.read_bytes())
    except (OSError, ValueError):
        return None
    if isinstance(doc, dict) and doc.get("version") == version and isinstance(doc.get("entries"), dict):
        return dict(list(doc["entries"].items())[:MAX_ENTRIES])
    return None


def key_of(shape_key: tuple, quant: str, shape_repr: str | None = None) -> str:
    """The entry key; ``shape_repr`` is ``repr(shape_key)`` when the caller already has it."""
    r = repr(shape_key) if shape_repr is None else shape_repr
    return hashlib.sha1(f"{r}|{quant}".encode()).hexdigest()


def get(key: str) -> WeightSummary | None:
    if not _state["loaded"]:
        _load()
    raw = _state["entries"].get(key)
    if raw is None or isinstance(raw, WeightSummary):  # put in this process: encoded only when written
        return raw
    memo = _state["decoded"]  # decoded once (models of one shape ask again); the raw entry is what a save writes
    ws = memo.get(key)
    if ws is None:
        ws = _decode(raw)
        if ws is not None:
            memo[key] = ws
    return ws


def _make_room() -> None:
    e = _state["entries"]
    if len(e) >= MAX_ENTRIES:
        for k in list(e)[: MAX_ENTRIES // 10]:
            del e[k]


def put(key: str, ws: WeightSummary) -> None:
    if not _state["loaded"]:
        _load()
    _make_room()
    _state["entries"][key] = ws
    _state["dirty"] = True


def _encode(v):
    """An entry as stored: summaries put in this process are encoded here, when written."""
    if not isinstance(v, WeightSummary):
        return v
    return {"quant": v.quant, "n_layer": v.n_layer, "dense": _rle(v.dense), "exps": _rle(v.exps),
            "dense_el": _rle(v.dense_el), "exps_el": _rle(v.exps_el), "embd": v.embd, "embd_row": v.embd_row,
            "out": v.out, "out_el": v.out_el, "tied": v.tied, "total": v.total, "tied_bytes": v.tied_bytes}


def save() -> None:
    """Write new entries (atomically); a read-only or full disk only costs the next run time."""
    if not _state["dirty"]:
        return
    p: Path = _state["path"]
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".weight-summaries.")
        with os.fdopen(fd, "w") as f:
            # dumps, not dump: only the one-shot encoder is the C one (dump streams through Python)
            entries = {k: _encode(v) for k, v in _state["entries"].items()}
            f.write(json.dumps({"version": _state["version"], "entries": entries}, separators=(",", ":")))
        os.replace(tmp, p)
        _state["dirty"] = False
    except OSError:
        pass


def _nw_encode(nw) -> dict:
    return {"totals": list(nw.totals), "compute": list(nw.compute), "kv": _rle(nw.kv_layer),
            "dev": _rle(tuple(d + 1 for d in nw.layer_device)), "out": nw.output_device}


def _nw_decode(d, n_layer: int):
    from .plan import NonWeight

    try:
        totals, compute = d["totals"], d["compute"]
        if not (isinstance(totals, list) and isinstance(compute, list) and len(totals) == len(compute) <= 65):
            return None
        if not all(isinstance(x, int) and 0 <= x < 1 << 62 for x in totals + compute):
            return None
        kv, dev = _ints(d["kv"], n_layer), _ints(d["dev"], n_layer)
        out = d["out"]
        if kv is None or dev is None or not isinstance(out, int) or not -1 <= out < 64:
            return None
        return NonWeight(tuple(totals), tuple(compute), kv, tuple(x - 1 for x in dev), out)
    except (KeyError, TypeError):
        return None


def get_bases(key: str, n_layer: int):
    """The stored :class:`~.plan.Bases` of a (shape, run config, devices), or None."""
    if not _state["loaded"]:
        _load()
    raw = _state["entries"].get("b:" + key)
    if not isinstance(raw, dict) or not isinstance(raw.get("gpu_free"), list):
        return None
    from .plan import Bases

    cpu = _nw_decode(raw.get("cpu") or {}, n_layer)
    gpu = _nw_decode(raw["gpu"], n_layer) if raw.get("gpu") is not None else None
    if cpu is None or (raw.get("gpu") is not None and gpu is None):
        return None
    free = raw["gpu_free"]
    if len(free) > 64 or not all(isinstance(x, int) and 0 <= x < 1 << 62 for x in free):
        return None
    return Bases(gpu, cpu, tuple(free))


def put_bases(key: str, b) -> None:
    if not _state["loaded"]:
        _load()
    _make_room()
    _state["entries"]["b:" + key] = {"gpu": _nw_encode(b.gpu) if b.gpu is not None else None,
                                     "cpu": _nw_encode(b.cpu), "gpu_free": list(b.gpu_free)}
    _state["dirty"] = True


def get_rows(key: str) -> tuple[int, int] | None | bool:
    """The stored vocabulary row costs of a summary's (shape, quant) (``weight_summary._vocab_rows``:
    token_embd and output bytes per vocabulary row): a pair, None when the shape has no plain
    (n_embd, n_vocab) tables, or False when nothing usable is stored."""
    if not _state["loaded"]:
        _load()
    raw = _state["entries"].get("r:" + key)
    if raw == []:
        return None
    if (isinstance(raw, list) and len(raw) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 1 << 40 for x in raw)):
        return raw[0], raw[1]
    return False


def put_rows(key: str, rows: tuple[int, int] | None) -> None:
    if not _state["loaded"]:
        _load()
    _make_room()
    _state["entries"]["r:" + key] = [] if rows is None else [int(rows[0]), int(rows[1])]
    _state["dirty"] = True


def get_plans(slot: str, fingerprint: str):
    """The plan search stored in ``slot`` when it was made for exactly ``fingerprint`` (the
    machine's budgets included), as the JSON :func:`put_plans` was given; else None. The caller
    validates its contents, as it would a helper process's reply."""
    if not _state["loaded"]:
        _load()
    raw = _state["entries"].get("p:" + slot)
    if not isinstance(raw, dict) or raw.get("fp") != fingerprint:
        return None
    return raw.get("data")


def put_plans(slot: str, fingerprint: str, data) -> None:
    """Keep a plan search (JSON-able) in its slot, replacing the slot's previous one, so a machine
    whose free memory differs on every run holds one search per shape, not one per run.

    A search is written with the next save that happens anyway (new summaries or bases: a first
    ranking, a new context or device set) but never causes one: on a machine probed live, whose
    free memory differs on every run, a search is rarely used again, and rewriting the file for it
    on every run would cost more than it saves."""
    if not _state["loaded"]:
        _load()
    k = "p:" + slot
    e = _state["entries"]
    if k not in e:
        _make_room()
    e[k] = {"fp": fingerprint, "data": data}


def entry_keys() -> set[str]:
    if not _state["loaded"]:
        _load()
    return set(_state["entries"])


def new_entries(before: set[str]) -> dict:
    """The raw entries added since ``before`` (what a helper process hands back, as JSON)."""
    return {k: _encode(v) for k, v in _state["entries"].items() if k not in before}


def merge(entries) -> int:
    """Add raw entries handed back by a helper process (:mod:`.parallel_warm`); each is still
    validated when read, like the file's. Returns how many were taken."""
    if not _state["loaded"]:
        _load()
    if not isinstance(entries, dict):
        return 0
    n = 0
    dirty = False
    for k, v in list(entries.items())[:MAX_ENTRIES]:
        if isinstance(k, str) and len(k) <= 64 and isinstance(v, dict) and k not in _state["entries"]:
            _make_room()
            _state["entries"][k] = v
            n += 1
            dirty = dirty or not k.startswith("p:")  # plan searches never cause a save (see put_plans)
    _state["dirty"] = _state["dirty"] or dirty
    return n


def reset() -> None:
    """Forget what was loaded (tests point SIZEUP_SUMMARY_CACHE elsewhere between runs)."""
    _state.update(loaded=False, entries={}, dirty=False, path=None, version=None, plans_version=None, decoded={})
