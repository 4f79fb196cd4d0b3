"""Quantize a GGUF to llama.cpp file types through llama.cpp's own quantizer, safely.

Why this wrapper rather than "just call llama_model_quantize":

* **One child process per output.** llama.cpp's quantizer is native code working on a stranger's
  file; a crash (GGML_ASSERT, OOM kill) then loses one output, not the whole run, and the parent
  can still report which type failed and why. The child is ``python -m sizeup.quantize SPEC``.
* **Atomic outputs.** The child writes to a temporary name in the destination directory; only a
  complete, successful output is renamed into place (``os.replace``), so an interrupted run
  leaves no half-written GGUF that another tool would later try to load.
* **Checks before work.** Unknown types, IQ types that need an importance matrix when none is
  given, and outputs that would not fit on the disk are refused with one line before anything
  is written. Sizes are predicted by :mod:`sizeup.estimate.weights_predict` (the same tensor type
  rules llama-quantize applies), and every output's actual size is reported against it.
* **Progress.** llama.cpp logs ``[  12/ 272] blk.1.attn_q.weight ...`` per tensor
  (``src/llama-quant.cpp``); the parent parses those lines from the child's stderr.

Imatrix files (GGUF ``*.in_sum2``/``*.counts`` tensors or the legacy ``.dat`` layout) are read
here and passed to llama.cpp as ``llama_model_imatrix_data`` entries, normalised exactly as
llama-quantize's ``load_imatrix`` does (``tools/quantize/quantize.cpp``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .data.ggml_types import FILE_TYPE_BASE, GGML_TYPES_BY_NAME, LLAMA_FILE_TYPE_IDS
from .errors import SizeupError

# ggml tensor types llama.cpp refuses to produce without an importance matrix, except for
# token_embd/output (src/llama-quant.cpp tensor_requires_imatrix); Q2_K only inside Q2_K_S.
_IMATRIX_TENSOR_TYPES = {"IQ3_XXS", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ1_M", "IQ1_S"}
# File types whose tensor mix includes those types (used when the estimator cannot predict the mix).
NEEDS_IMATRIX = frozenset({"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "Q2_K_S"})
UNQUANTIZED = frozenset({"F32", "F16", "BF16"})
DISK_MARGIN_BYTES = 64 * 1024 * 1024  # headroom beyond the predicted sizes
MAX_IMATRIX_ENTRIES = 200_000
MAX_IMATRIX_VALUES = 1 << 26  # floats per entry (256 MiB); real entries are n_embd..n_ff x n_expert
MAX_LOG_CHARS = 1 << 20
_RE_PROGRESS = re.compile(r"^\[\s*(\d+)/\s*(\d+)\]")

Progress = Callable[[str, int, int], None]  # (file type, tensors done, tensors total)


def parse_types(spec: str | list[str]) -> list[str]:
    """``"q8_0,Q4_K_M"`` -> ``["Q8_0", "Q4_K_M"]``; unknown names -> one clear error line."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for raw in items:
        name = raw.strip().upper()
        if not name:
            continue
        if name not in LLAMA_FILE_TYPE_IDS:
            valid = ", ".join(sorted(LLAMA_FILE_TYPE_IDS, key=lambda n: LLAMA_FILE_TYPE_IDS[n]))
            raise SizeupError(f"unknown quantization type '{raw.strip()}' (known: {valid})")
        if name not in out:
            out.append(name)
    if not out:
        raise SizeupError("no quantization type given (e.g. --to Q8_0,Q4_K_M)")
    return out


def free_disk_bytes(directory: Path) -> int:
    """Free bytes for a new file in ``directory`` (a seam tests replace to simulate a full disk)."""
    return shutil.disk_usage(directory).free


@dataclass(frozen=True)
class Plan:
    ftype: str
    out_path: Path
    predicted_bytes: int
    prediction: str  # "estimator" | "bpw ratio"
    needs_imatrix: bool


def _predict(desc, ftype: str, has_imatrix: bool) -> tuple[int, str, bool]:
    """Predicted output bytes, how it was predicted, and whether llama.cpp will want an imatrix."""
    from .estimate.weights_predict import GGUF_HEADER_BYTES, gguf_file_size, requantized_tensors, tensor_directory_bytes

    try:
        if desc.arch is None:
            raise SizeupError("no architecture")
        tensors = requantized_tensors(list(desc.tensors), desc.arch, ftype, has_imatrix=has_imatrix)
        data = sum((t.n_bytes + 31) // 32 * 32 for t in desc.tensors)
        meta = max(0, desc.file_size - data - GGUF_HEADER_BYTES - tensor_directory_bytes(list(desc.tensors)))
        size = gguf_file_size(tensors, meta)
        needs = any(t.dtype in _IMATRIX_TENSOR_TYPES and not t.name.startswith(("token_embd", "output."))
                    for t in tensors) or ftype == "Q2_K_S"
        return size, "estimator", needs
    except (SizeupError, ValueError, KeyError):
        base = GGML_TYPES_BY_NAME.get(FILE_TYPE_BASE.get(ftype, ""), None)
        src_bpw = desc.quant.bits_per_weight if desc.quant else 0.0
        if base is None or src_bpw <= 0:
            return desc.file_size, "input size", ftype in NEEDS_IMATRIX
        return int(desc.file_size * base.bits_per_weight / src_bpw), "bpw ratio", ftype in NEEDS_IMATRIX


def plan(in_path: str | os.PathLike[str], types: list[str], out_dir: Path, *, imatrix: str | None = None,
         stem: str | None = None) -> tuple[Any, list[Plan]]:
    """Check everything that can be checked before quantizing; returns (input description, plans)."""
    from .formats.gguf_model import describe_gguf

    desc = describe_gguf(in_path)
    if desc.extra.get("split_count", 1) > 1:
        raise SizeupError(f"{in_path}: split GGUFs are not supported by sizeup quantize; merge them first")
    stem = stem or _stem(Path(in_path))
    plans = []
    for t in types:
        size, how, needs = _predict(desc, t, imatrix is not None)
        if needs and imatrix is None:
            raise SizeupError(f"{t} needs an importance matrix (--imatrix FILE, made with llama-imatrix); "
                              "without one llama.cpp would produce garbage weights")
        plans.append(Plan(t, out_dir / f"{stem}.{t}.gguf", size, how, needs))
    out_dir.mkdir(parents=True, exist_ok=True)
    need = sum(p.predicted_bytes for p in plans) + DISK_MARGIN_BYTES
    free = free_disk_bytes(out_dir)
    if need > free:
        raise SizeupError(f"not enough disk space in {out_dir}: {len(plans)} output(s) need about "
                          f"{need / 2**30:.2f} GiB, {free / 2**30:.2f} GiB free")
    return desc, plans


def _stem(p: Path) -> str:
    """File stem without a trailing quant label: ``SmolLM2-135M.Q4_1`` -> ``SmolLM2-135M``."""
    s = p.name[:-5] if p.name.lower().endswith(".gguf") else p.name
    for label in sorted(LLAMA_FILE_TYPE_IDS, key=len, reverse=True):
        for sep in (".", "-", "_"):
            if s.upper().endswith(sep + label):
                return s[: -len(label) - 1]
    return s


@dataclass
class Output:
    ftype: str
    path: str
    ok: bool
    bytes: int = 0
    predicted_bytes: int = 0
    prediction: str = ""
    bits_per_weight: float = 0.0
    label: str | None = None
    seconds: float = 0.0
    error: str = ""

    @property
    def predicted_error(self) -> float:
        """(actual - predicted) / predicted."""
        return (self.bytes - self.predicted_bytes) / self.predicted_bytes if self.predicted_bytes else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"predicted_error": self.predicted_error}


def quantize_one(in_path: str | os.PathLike[str], p: Plan, *, imatrix: str | None = None, threads: int | None = None,
                 allow_requantize: bool = True, progress: Progress | None = None, timeout_s: float = 3600.0) -> Output:
    """Quantize to one type in a child process; the output appears atomically or not at all."""
    from .formats.gguf_model import describe_gguf

    out_dir = p.out_path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{p.out_path.name}.", suffix=".part", dir=out_dir)
    os.close(fd)
    spec = {"in": str(in_path), "out": tmp, "ftype": LLAMA_FILE_TYPE_IDS[p.ftype], "imatrix": imatrix,
            "threads": int(threads or 0), "allow_requantize": bool(allow_requantize)}
    t0 = time.perf_counter()
    proc = None
    log_tail: list[str] = []
    try:
        proc = subprocess.Popen([sys.executable, "-m", "sizeup.quantize", json.dumps(spec)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env(),
                                text=True, errors="replace")
        size = 0
        assert proc.stderr is not None and proc.stdout is not None
        for line in proc.stderr:
            if size < MAX_LOG_CHARS:
                log_tail.append(line)
                size += len(line)
                if len(log_tail) > 400:
                    del log_tail[:200]
            m = _RE_PROGRESS.match(line)
            if m and progress:
                progress(p.ftype, int(m.group(1)), int(m.group(2)))
            if time.perf_counter() - t0 > timeout_s:
                proc.kill()
                raise SizeupError(f"{p.ftype}: quantization took longer than {timeout_s:.0f} s")
        out = proc.stdout.read(1 << 20)
        rc = proc.wait()
        secs = time.perf_counter() - t0
        res = _last_json(out)
        if rc != 0 or res is None or res.get("error"):
            reason = (res or {}).get("error") or _reason("".join(log_tail)) or f"worker exited with code {rc}"
            if rc is not None and rc < 0 and not (res or {}).get("error"):
                from .engine.doctor import explain_child_crash

                reason = explain_child_crash(rc, "".join(log_tail))
            return Output(p.ftype, str(p.out_path), False, predicted_bytes=p.predicted_bytes, prediction=p.prediction,
                          seconds=secs, error=reason)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; a finished model is an ordinary file
        os.replace(tmp, p.out_path)
        tmp = ""
        d = describe_gguf(p.out_path)
        return Output(p.ftype, str(p.out_path), True, bytes=d.file_size, predicted_bytes=p.predicted_bytes,
                      prediction=p.prediction, bits_per_weight=d.quant.bits_per_weight if d.quant else 0.0,
                      label=d.quant.label if d.quant else None, seconds=secs)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def quantize_many(in_path: str | os.PathLike[str], types: list[str], out_dir: Path, *, imatrix: str | None = None,
                  threads: int | None = None, progress: Progress | None = None,
                  on_start: Callable[[Plan], None] | None = None) -> tuple[Any, list[Output]]:
    """Plan, then quantize each type in turn; a failed type is reported, the others still run."""
    desc, plans = plan(in_path, types, out_dir, imatrix=imatrix)
    outs = []
    for p in plans:
        if on_start:
            on_start(p)
        outs.append(quantize_one(in_path, p, imatrix=imatrix, threads=threads, progress=progress))
    return desc, outs


def is_quantized(desc) -> bool:
    return bool(desc.quant and desc.quant.label and desc.quant.label not in UNQUANTIZED)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    pkg_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        try:
            v = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(v, dict):
            return v
    return None


def _reason(log: str) -> str:
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for key in ("requires an imatrix", "requires an importance matrix", "GGML_ASSERT", "failed to quantize", "error"):
        for ln in reversed(lines):
            if key.lower() in ln.lower() and not ln.startswith("="):
                return ln[:300]
    return lines[-1][:300] if lines else ""


# --- imatrix files ---------------------------------------------------------------------------

def load_imatrix(path: str | os.PathLike[str]) -> dict[str, list[float] | Any]:
    """Tensor name -> importance values, normalised like llama-quantize's ``load_imatrix``.

    GGUF imatrix: per tensor ``NAME.in_sum2`` (F32) and ``NAME.counts`` (F32, one per expert);
    values are sums / count per expert slice (1 where the count is 0). Legacy ``.dat``: int32
    entry count, then per entry int32 name length, name, int32 ncall, int32 nval, float32[nval];
    values are sums / ncall.
    """
    import numpy as np

    p = Path(path)
    try:
        with open(p, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise SizeupError(f"{p}: cannot read imatrix: {e.strerror or e}") from e
    out: dict[str, Any] = {}
    if magic == b"GGUF":
        from gguf import GGUFReader

        try:
            r = GGUFReader(str(p))
        except Exception as e:  # gguf raises ValueError/struct.error on broken files
            raise SizeupError(f"{p}: not a readable GGUF imatrix ({type(e).__name__}: {e})") from e
        sums, counts = {}, {}
        for t in r.tensors:
            if t.name.endswith(".in_sum2"):
                sums[t.name[: -len(".in_sum2")]] = t
            elif t.name.endswith(".counts"):
                counts[t.name[: -len(".counts")]] = t
        if not sums or len(sums) > MAX_IMATRIX_ENTRIES:
            raise SizeupError(f"{p}: GGUF has no (or too many) imatrix entries")
        for name, s in sums.items():
            c = counts.get(name)
            if c is None:
                raise SizeupError(f"{p}: imatrix entry {name} has sums but no counts")
            sv = np.asarray(s.data, dtype=np.float32).reshape(-1)
            cv = np.rint(np.asarray(c.data, dtype=np.float32).reshape(-1))
            if sv.size > MAX_IMATRIX_VALUES or cv.size == 0 or sv.size % cv.size:
                raise SizeupError(f"{p}: imatrix entry {name} has inconsistent sizes")
            sv = sv.reshape(cv.size, -1)
            e = np.where(cv[:, None] > 0, sv / np.where(cv > 0, cv, 1)[:, None], 1.0)
            out[name] = e.reshape(-1).astype(np.float32)
        return out
    size = p.stat().st_size
    with open(p, "rb") as f:
        def read(n: int) -> bytes:
            b = f.read(n)
            if len(b) != n:
                raise SizeupError(f"{p}: truncated imatrix file")
            return b

        (n_entries,) = struct.unpack("<i", read(4))
        if not 1 <= n_entries <= MAX_IMATRIX_ENTRIES:
            raise SizeupError(f"{p}: not an imatrix file (entry count {n_entries})")
        for _ in range(n_entries):
            (ln,) = struct.unpack("<i", read(4))
            if not 1 <= ln <= 4096:
                raise SizeupError(f"{p}: imatrix entry name length {ln} out of range")
            name = read(ln).decode("utf-8", "replace")
            ncall, nval = struct.unpack("<ii", read(8))
            if not 1 <= nval <= MAX_IMATRIX_VALUES or nval * 4 > size:
                raise SizeupError(f"{p}: imatrix entry {name} has {nval} values (out of range)")
            v = np.frombuffer(read(4 * nval), dtype="<f4").astype(np.float32)
            out[name] = v / ncall if ncall > 0 else v
    return out


# --- the child process -----------------------------------------------------------------------

def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    import ctypes

    import llama_cpp as L

    @L.llama_log_callback
    def _log(level, text, user_data):  # noqa: ARG001 - ctypes signature; forward to our stderr for the parent
        if text:
            sys.stderr.write(text.decode("utf-8", "replace"))
            sys.stderr.flush()

    L.llama_log_set(_log, ctypes.c_void_p(0))
    params = L.llama_model_quantize_default_params()
    params.ftype = int(spec["ftype"])
    params.allow_requantize = bool(spec["allow_requantize"])
    params.nthread = int(spec["threads"])
    keep: list[Any] = []
    if spec.get("imatrix"):
        data = load_imatrix(spec["imatrix"])
        arr = (L.llama_model_imatrix_data * (len(data) + 1))()
        for i, (name, vals) in enumerate(data.items()):
            buf = (ctypes.c_float * len(vals)).from_buffer_copy(vals.tobytes())
            nm = name.encode()
            keep.extend([buf, nm])
            arr[i].name = nm
            arr[i].data = ctypes.cast(buf, ctypes.POINTER(ctypes.c_float))
            arr[i].size = len(vals)
        arr[len(data)].name = None  # NULL-terminated list (llama-quant.cpp iterates until name == NULL)
        keep.append(arr)
        params.imatrix = ctypes.cast(arr, ctypes.POINTER(L.llama_model_imatrix_data))
    rc = L.llama_model_quantize(spec["in"].encode(), spec["out"].encode(), ctypes.byref(params))
    if rc != 0:
        return {"error": f"llama_model_quantize returned {rc}"}
    return {"ok": True}


def main(argv: list[str]) -> int:
    from .llamacpp.native import child_main

    return child_main(_worker, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
