"""Ask llama.cpp itself how much memory a model takes, in a child process.

Why a child process: loading a model from a stranger can crash or exhaust memory inside native
code, llama.cpp's logger is process-global, and peak RSS is only meaningful for a process that did
nothing else. The parent never imports llama_cpp.

How: the worker (``python -m sizeup.llamacpp.simulate WORKER_JSON``) loads the model through
llama-cpp-python's low-level API with ``llama_model_params.no_alloc = true`` (llama.cpp then
creates every tensor and plans every buffer but allocates none) or with a real load, captures
llama.cpp's log through ``llama_log_set``, and prints one JSON line. The buffer sizes come from
the log lines llama.cpp prints for exactly this purpose (source: llama.cpp ``src/llama-model.cpp``
"model buffer size", ``src/llama-kv-cache.cpp`` "KV buffer size" and "size = ... K (...): ...
V (...): ...", ``src/llama-memory-recurrent.cpp`` "RS buffer size", ``src/llama-context.cpp``
"output buffer size" and "compute buffer size"). Under ``no_alloc`` the weight and KV buffers
are dummies of size 0, so weights come from ``llama_model_size`` and KV from the "size =" line.

A real load (``mode="load"``) also decodes one micro-batch so weights, KV and compute pages are
touched, then reports the worker's peak RSS (VmHWM on Linux, else ``ru_maxrss``) and the RSS
of the same interpreter before llama_cpp was imported, so callers can subtract Python's share.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import SizeupError

MIB = 1024 * 1024
DEFAULT_TIMEOUT_S = 300.0
MAX_LOG_BYTES = 4 * MIB  # bound what we keep of llama.cpp's log

# ggml_type ids of the KV cache types (ggml/include/ggml.h enum ggml_type)
_SPLIT_MODE_IDS = {"none": 0, "layer": 1, "row": 2}
from .native import LOAD_MODE_MMAP as _LOAD_MODE_MMAP  # noqa: E402
from .native import LOAD_MODE_NONE as _LOAD_MODE_NONE  # noqa: E402
from .native import LOG_INFO, LogCapture, child_main, context_params  # noqa: E402

_RE_MODEL_BUF = re.compile(r"(\S+) model buffer size =\s*([0-9.]+) MiB")
_RE_KV_BUF = re.compile(r"(\S+) KV buffer size =\s*([0-9.]+) MiB")
_RE_RS_BUF = re.compile(r"(\S+) RS buffer size =\s*([0-9.]+) MiB")
_RE_OUT_BUF = re.compile(r"(\S+)\s+output buffer size =\s*([0-9.]+) MiB")
_RE_COMPUTE_BUF = re.compile(r"(\S+) compute buffer size =\s*([0-9.]+) MiB")
_RE_KV_SIZE = re.compile(
    r"llama_kv_cache: size =\s*([0-9.]+) MiB \(\s*(\d+) cells,\s*(\d+) layers,\s*(\d+)/(\d+) seqs\), "
    r"K \((\w+)\):\s*([0-9.]+) MiB, V \((\w+)\):\s*([0-9.]+) MiB"
)
_RE_RS_SIZE = re.compile(r"llama_memory_recurrent: size =\s*([0-9.]+) MiB")
_RE_FA = re.compile(r"Flash Attention (enabled|not supported)")
_RE_NCTX = re.compile(r"llama_context: n_ctx\s+=\s*(\d+)")


def _mib(s: str) -> int:
    return int(round(float(s) * MIB))


def parse_log(text: str) -> dict[str, Any]:
    """Buffer sizes per buffer type from a llama.cpp log (pure; unit-testable on saved logs).

    Values are bytes, rounded from llama.cpp's two-decimal MiB figures (±5 KiB each).
    """
    dev: dict[str, dict[str, int]] = {}

    def add(buf: str, key: str, v: int) -> None:
        d = dev.setdefault(buf, {"model": 0, "kv": 0, "rs": 0, "output": 0, "compute": 0})
        d[key] += v

    for m in _RE_MODEL_BUF.finditer(text):
        add(m.group(1), "model", _mib(m.group(2)))
    for m in _RE_KV_BUF.finditer(text):
        add(m.group(1), "kv", _mib(m.group(2)))
    for m in _RE_RS_BUF.finditer(text):
        add(m.group(1), "rs", _mib(m.group(2)))
    for m in _RE_OUT_BUF.finditer(text):
        add(m.group(1), "output", _mib(m.group(2)))
    for m in _RE_COMPUTE_BUF.finditer(text):
        add(m.group(1), "compute", _mib(m.group(2)))
    kv_caches = []
    for m in _RE_KV_SIZE.finditer(text):
        kv_caches.append({
            "bytes": _mib(m.group(1)), "cells": int(m.group(2)), "layers": int(m.group(3)),
            "seqs": int(m.group(4)), "streams": int(m.group(5)),
            "type_k": m.group(6), "k_bytes": _mib(m.group(7)), "type_v": m.group(8), "v_bytes": _mib(m.group(9)),
        })
    rs = [_mib(m.group(1)) for m in _RE_RS_SIZE.finditer(text)]
    fa = _RE_FA.findall(text)
    nctx = _RE_NCTX.search(text)
    return {
        "buffers": dev,
        "kv_caches": kv_caches,
        "kv_bytes": sum(c["bytes"] for c in kv_caches),
        "rs_bytes": sum(rs),
        "flash_attn": (fa[-1] == "enabled") if fa else None,
        "n_ctx": int(nctx.group(1)) if nctx else None,
    }


def _worker_args(path: str | os.PathLike, cfg, mode: str, decode: bool) -> dict[str, Any]:
    c = asdict(cfg)
    c.pop("extra", None)
    return {"path": str(path), "cfg": c, "mode": mode, "decode": decode}


def simulate_memory(path: str | os.PathLike, cfg, mode: str = "no_alloc", decode: bool = True,
                    timeout: float = DEFAULT_TIMEOUT_S, python: str | None = None) -> dict[str, Any]:
    """llama.cpp's own memory figures for ``path`` run with ``cfg`` (a :class:`RunConfig`).

    ``mode``: ``"no_alloc"`` (plan only; fast, no weight I/O) or ``"load"`` (real load with the
    config's mmap setting, one decoded micro-batch, peak RSS measured). Returns a dict with
    ``buffers`` (per llama.cpp buffer type: model/kv/rs/output/compute bytes), ``kv_bytes``,
    ``rs_bytes``, ``model_bytes`` (llama_model_size), ``totals`` (see :func:`totals`), and for loads
    ``rss_peak`` (VmHWM) and ``rss_base`` (RSS before llama_cpp was imported). Raises SizeupError with one line when llama.cpp fails, times out or is missing.
    """
    if mode not in ("no_alloc", "load"):
        raise SizeupError(f"simulate mode must be no_alloc or load, not '{mode}'")
    p = Path(path)
    if not p.is_file():
        raise SizeupError(f"{p}: no such model file")
    args = json.dumps(_worker_args(p, cfg, mode, decode))
    src_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = src_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        r = subprocess.run([python or sys.executable, "-m", "sizeup.llamacpp.simulate", args],
                           capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise SizeupError(f"llama.cpp did not finish simulating {p.name} within {timeout:.0f} s") from None
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = _stderr_reason(r.stderr) or f"exit code {r.returncode}"
        if r.returncode < 0:
            from ..engine.doctor import explain_child_crash

            tail = explain_child_crash(r.returncode, r.stderr[-8000:], python)
        raise SizeupError(f"llama.cpp simulation of {p.name} failed: {tail}")
    try:
        out = json.loads(lines[-1])
    except json.JSONDecodeError:
        raise SizeupError(f"llama.cpp simulation of {p.name} printed an unreadable result") from None
    if "error" in out:
        raise SizeupError(f"llama.cpp could not load {p.name}: {out['error']}")
    out["totals"] = totals(out)
    return out


def totals(r: dict[str, Any]) -> dict[str, int]:
    """Sum llama.cpp's figures by kind. Under no_alloc the weight and KV buffers are dummies, so
    weights come from llama_model_size and KV from the cache's own "size =" lines."""
    bufs = r.get("buffers", {}).values()
    t = {
        "model": int(r.get("model_bytes", 0)),
        "kv": int(r.get("kv_bytes", 0)),
        "rs": int(r.get("rs_bytes", 0)),
        "output": sum(b["output"] for b in bufs),
        "compute": sum(b["compute"] for b in bufs),
    }
    t["total"] = sum(t.values())
    return t


# --- worker (runs in the child) ----------------------------------------------------------------

from .rss import rss_now as _rss_now  # noqa: E402
from .rss import rss_peak as _rss_peak  # noqa: E402


def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    rss_base = _rss_now()
    import ctypes

    import llama_cpp as L

    log = LogCapture(L, LOG_INFO, MAX_LOG_BYTES)  # INFO: the buffer-size lines are INFO
    L.llama_backend_init()
    cfg = spec["cfg"]
    no_alloc = spec["mode"] == "no_alloc"

    mp = L.llama_model_default_params()
    mp.n_gpu_layers = int(cfg["n_gpu_layers"])
    mp.split_mode = _SPLIT_MODE_IDS[cfg["split_mode"]]
    mp.main_gpu = int(cfg["main_gpu"])
    # llama.cpp's memory-fit pass is no_alloc without mmap (it asserts on no_alloc + mmap).
    mp.load_mode = _LOAD_MODE_MMAP if cfg["use_mmap"] and not no_alloc else _LOAD_MODE_NONE
    mp.no_alloc = no_alloc
    mp.use_extra_bufts = bool(cfg.get("repack", True))  # --repack / --no-repack
    ts = None
    if cfg["tensor_split"]:
        n = L.llama_max_devices()
        ts = (ctypes.c_float * n)(*(list(cfg["tensor_split"]) + [0.0] * n)[:n])
        mp.tensor_split = ts
    model = L.llama_model_load_from_file(spec["path"].encode(), mp)
    if not model:
        return {"error": log.last_error() or "llama_model_load_from_file returned NULL"}

    cp = context_params(L, cfg)
    cp.n_seq_max = int(cfg["n_parallel"])
    cp.offload_kqv = bool(cfg["offload_kqv"])
    cp.swa_full = bool(cfg["swa_full"])
    cp.kv_unified = bool(cfg["kv_unified"])
    if cfg.get("n_outputs_max") is None:  # llama-server's choice: one output row per slot
        cp.n_outputs_max = min(int(cfg["n_batch"]), int(cfg["n_parallel"]))
    else:
        cp.n_outputs_max = int(cfg["n_outputs_max"])
    if cfg.get("n_threads"):
        cp.n_threads = cp.n_threads_batch = int(cfg["n_threads"])
    ctx = L.llama_init_from_model(model, cp)
    if not ctx:
        return {"error": log.last_error() or "llama_init_from_model returned NULL"}

    out: dict[str, Any] = {"model_bytes": int(L.llama_model_size(model)), "n_params": int(L.llama_model_n_params(model)),
                           "n_ctx": int(L.llama_n_ctx(ctx)), "mode": spec["mode"]}
    if not no_alloc and spec.get("decode", True):
        vocab = L.llama_model_get_vocab(model)
        n_vocab = L.llama_vocab_n_tokens(vocab)
        n_tok = max(1, min(int(cfg["n_ubatch"]), int(cfg["n_batch"]), out["n_ctx"]) - 1)
        toks = (L.llama_token * n_tok)(*[(7 + 31 * i) % n_vocab for i in range(n_tok)])
        rc = L.llama_decode(ctx, L.llama_batch_get_one(toks, n_tok))
        out["decode_rc"] = int(rc)
    if not no_alloc:
        out["rss_peak"] = _rss_peak()
        out["rss_now"] = _rss_now()
    out["rss_base"] = rss_base
    log_text = log.text
    out.update(parse_log(log_text))
    L.llama_free(ctx)
    L.llama_model_free(model)
    out["log_tail"] = log_text[-4000:]
    return out


def _stderr_reason(text: str) -> str:
    """The line that says why a crashed worker died (GGML_ASSERT, error, Traceback's last line)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "GGML_ASSERT" in ln or "error:" in ln.lower() or "failed" in ln.lower():
            return ln[:300]
    return lines[-1][:300] if lines else ""


def main(argv: list[str]) -> int:
    return child_main(_worker, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
